use super::{
    AuditEntry, AuditLog, AuditQuery, AuditRecord, AuditSnapshot, ChainHead, Checkpoint,
    CheckpointKey, CheckpointPolicy, next_after,
};
use crate::clock::Clock;
use crate::store::sqlite::{connect_read_only, open_db, sql_err};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The audit log in the store's SQLite database (tables `audit_log`, `audit_head`,
/// `audit_checkpoints`).
///
/// Each append is one SQLite transaction writing the record, the head and (when due) a
/// checkpoint, so a crash leaves the last record complete or absent and the head in step
/// with it. Several processes may append to the same store: SQLite serialises them.
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    policy: Option<CheckpointPolicy>,
}

type Row = (
    u64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get::<_, i64>(0)? as u64,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn parse_time(seq: u64, at: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::AuditBroken {
            seq,
            why: format!("record {seq} was altered: unreadable time `{at}`: {e}"),
        })
}

fn decode(row: Row) -> Result<AuditRecord> {
    let (seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash) = row;
    Ok(AuditRecord {
        seq,
        at: parse_time(seq, &at)?,
        entry: AuditEntry {
            actor,
            action,
            subjects: serde_json::from_str(&subjects).map_err(|e| Error::AuditBroken {
                seq,
                why: format!("record {seq} was altered: unreadable subjects: {e}"),
            })?,
            payload: serde_json::from_str(&payload).map_err(|e| Error::AuditBroken {
                seq,
                why: format!("record {seq} was altered: unreadable payload: {e}"),
            })?,
            trace_id,
        },
        prev_hash,
        hash,
    })
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const SELECT: &str =
    "SELECT seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash FROM audit_log";

fn read_head(conn: &Connection) -> Result<Option<ChainHead>> {
    conn.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
        Ok(ChainHead {
            seq: r.get::<_, i64>(0)? as u64,
            hash: r.get(1)?,
        })
    })
    .optional()
    .map_err(sql_err)
}

fn read_checkpoints(conn: &Connection, order: &str) -> Result<Vec<Checkpoint>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT seq, at, hash, key_id, prev_signature, signature FROM audit_checkpoints {order}"
        ))
        .map_err(sql_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    rows.into_iter()
        .map(|(seq, at, hash, key_id, prev_signature, signature)| {
            Ok(Checkpoint {
                seq,
                at: parse_time(seq, &at)?,
                hash,
                key_id,
                prev_signature,
                signature,
            })
        })
        .collect()
}

fn last_checkpoint(conn: &Connection) -> Result<Option<Checkpoint>> {
    Ok(read_checkpoints(conn, "ORDER BY seq DESC LIMIT 1")?.pop())
}

fn insert_checkpoint(conn: &Connection, cp: &Checkpoint) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_checkpoints (seq, at, hash, key_id, prev_signature, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            cp.seq as i64,
            ts(cp.at),
            cp.hash,
            cp.key_id,
            cp.prev_signature,
            cp.signature
        ],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn sign_head(
    conn: &Connection,
    key: &CheckpointKey,
    at: DateTime<Utc>,
) -> Result<Option<Checkpoint>> {
    let Some(head) = read_head(conn)? else {
        return Ok(None);
    };
    let prev = last_checkpoint(conn)?;
    if let Some(p) = &prev
        && p.seq == head.seq
    {
        return Ok(prev);
    }
    let cp = key.sign(&head, at, prev.as_ref());
    insert_checkpoint(conn, &cp)?;
    Ok(Some(cp))
}

/// Append `entry` (stamped `at`) to the audit log inside the caller's transaction `tx`,
/// so that the record commits or rolls back together with the caller's other changes in
/// the same store database (e.g. a registry operation and the record of it).
///
/// The record is chained to the stored head, the head is updated and, when `policy` says
/// a checkpoint is due, one is signed, all within the transaction open on `tx` (a
/// [`rusqlite::Transaction`] or a connection inside `BEGIN IMMEDIATE`/a savepoint). Begin it with
/// [`TransactionBehavior::Immediate`]: a deferred transaction that read before another
/// connection appended fails with `SQLITE_BUSY` when it writes (nothing is corrupted,
/// but the caller's work is lost).
///
/// Crate-private: the connection type is the SQLite backend's own, which no public
/// signature shows; the registry uses it to record a change in the change's transaction.
pub(crate) fn append_in_transaction(
    tx: &Connection,
    at: DateTime<Utc>,
    entry: AuditEntry,
    policy: Option<&CheckpointPolicy>,
) -> Result<AuditRecord> {
    let mut head = read_head(tx)?;
    if head.is_none() {
        // A log without a stored head is empty (the migration that added the head seeded it
        // from existing records); anything else is left for `verify` to report.
        head = tx
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| {
                    Ok(ChainHead {
                        seq: r.get::<_, i64>(0)? as u64,
                        hash: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(sql_err)?;
    }
    let r = next_after(head.as_ref(), at, entry);
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            r.seq as i64,
            ts(r.at),
            r.entry.actor,
            r.entry.action,
            serde_json::to_string(&r.entry.subjects)?,
            serde_json::to_string(&r.entry.payload)?,
            r.entry.trace_id,
            r.prev_hash,
            r.hash,
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::AuditBroken {
                seq: r.seq,
                why: format!(
                    "cannot append record {}: a record with that number is already stored beyond the chain's head; run `mlcycle audit verify`",
                    r.seq
                ),
            }
        }
        e => sql_err(e),
    })?;
    tx.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![r.seq as i64, r.hash],
    )
    .map_err(sql_err)?;
    if let Some(p) = policy
        && p.due(r.seq)
    {
        sign_head(tx, &p.key, r.at)?;
    }
    Ok(r)
}

impl SqliteAuditLog {
    /// Open the audit log of the store in `dir` (created if missing).
    pub fn open(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = open_db(dir.as_ref())?;
        Ok(SqliteAuditLog {
            conn: Arc::new(Mutex::new(conn)),
            clock,
            policy: None,
        })
    }

    /// Open the audit log of the existing store in `dir` for reading only (SQLite's
    /// read-only mode; no migration, nothing created): `query`, `snapshot` and `verify`
    /// work, `append` fails with the database's read-only error. Safe while other
    /// processes append to the log.
    pub fn open_read_only(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = connect_read_only(dir.as_ref())?;
        Ok(SqliteAuditLog {
            conn: Arc::new(Mutex::new(conn)),
            clock,
            policy: None,
        })
    }

    /// Sign a checkpoint automatically with every `policy.every`-th record.
    pub fn with_checkpoints(mut self, policy: CheckpointPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(|e| Error::task("audit log", e))?
    }

    fn read_all(conn: &Connection) -> Result<Vec<AuditRecord>> {
        let mut stmt = conn
            .prepare(&format!("{SELECT} ORDER BY rowid"))
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], read_row)
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        rows.into_iter().map(decode).collect()
    }
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn append(&self, entry: AuditEntry) -> Result<AuditRecord> {
        let at = self.clock.now();
        let policy = self.policy.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let r = append_in_transaction(&tx, at, entry, policy.as_ref())?;
            tx.commit().map_err(sql_err)?;
            Ok(r)
        })
        .await
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let q = query.clone();
        self.run(move |conn| {
            Ok(Self::read_all(conn)?
                .into_iter()
                .filter(|r| q.matches(r))
                .collect())
        })
        .await
    }

    async fn snapshot(&self) -> Result<AuditSnapshot> {
        self.run(|conn| {
            // One read transaction: records, head and checkpoints from the same state.
            let tx = conn.transaction().map_err(sql_err)?;
            let snap = AuditSnapshot {
                records: Self::read_all(&tx)?,
                head: read_head(&tx)?,
                checkpoints: read_checkpoints(&tx, "ORDER BY seq")?,
            };
            tx.commit().map_err(sql_err)?;
            Ok(snap)
        })
        .await
    }

    async fn checkpoint(&self, key: &CheckpointKey) -> Result<Option<Checkpoint>> {
        let at = self.clock.now();
        let key = key.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let cp = sign_head(&tx, &key, at)?;
            tx.commit().map_err(sql_err)?;
            Ok(cp)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn entry(i: u32) -> AuditEntry {
        AuditEntry {
            actor: "ann".into(),
            action: "alias.moved".into(),
            subjects: vec![format!("credit/{i}")],
            payload: serde_json::json!({ "i": i }),
            trace_id: "t".into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_commits_or_rolls_back_with_the_callers_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)).unwrap();
        log.append(entry(0)).await.unwrap();
        let mut conn = open_db(dir.path()).unwrap();
        conn.execute_batch("CREATE TABLE things (name TEXT NOT NULL)")
            .unwrap();

        // Rolled back: neither the caller's row nor the record stays.
        {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("INSERT INTO things (name) VALUES ('lost')", [])
                .unwrap();
            let r = append_in_transaction(&tx, SystemClock.now(), entry(1), None).unwrap();
            assert_eq!(r.seq, 2);
            tx.rollback().unwrap();
        }
        assert_eq!(log.verify().await.unwrap(), 1);

        // Committed: both stay, and the chain goes on from there.
        {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("INSERT INTO things (name) VALUES ('kept')", [])
                .unwrap();
            append_in_transaction(&tx, SystemClock.now(), entry(2), None).unwrap();
            tx.commit().unwrap();
        }
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(log.append(entry(3)).await.unwrap().seq, 3);
        assert_eq!(log.verify().await.unwrap(), 3);
    }
}
