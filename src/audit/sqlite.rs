use super::{AuditEntry, AuditLog, AuditQuery, AuditRecord, next_record, verify_chain};
use crate::clock::Clock;
use crate::registry::sqlite::{open_db, sql_err};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The audit log in the store's SQLite database (table `audit_log`).
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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

fn decode(row: Row) -> Result<AuditRecord> {
    let (seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash) = row;
    Ok(AuditRecord {
        seq,
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|e| Error::AuditBroken {
                seq,
                why: format!("unreadable time `{at}`: {e}"),
            })?
            .with_timezone(&Utc),
        entry: AuditEntry {
            actor,
            action,
            subjects: serde_json::from_str(&subjects).map_err(|e| Error::AuditBroken {
                seq,
                why: format!("unreadable subjects: {e}"),
            })?,
            payload: serde_json::from_str(&payload).map_err(|e| Error::AuditBroken {
                seq,
                why: format!("unreadable payload: {e}"),
            })?,
            trace_id,
        },
        prev_hash,
        hash,
    })
}

const SELECT: &str =
    "SELECT seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash FROM audit_log";

impl SqliteAuditLog {
    /// Open the audit log of the store in `dir`.
    pub fn open(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = open_db(dir.as_ref())?;
        Ok(SqliteAuditLog {
            conn: Arc::new(Mutex::new(conn)),
            clock,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(|e| Error::Backend {
                backend: "sqlite",
                source: Box::new(e),
            })?
    }

    fn read_all(conn: &Connection) -> Result<Vec<AuditRecord>> {
        let mut stmt = conn
            .prepare(&format!("{SELECT} ORDER BY rowid"))
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], row_to_record)
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
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let last = tx
                .query_row(&format!("{SELECT} ORDER BY seq DESC LIMIT 1"), [], row_to_record)
                .optional()
                .map_err(sql_err)?
                .map(decode)
                .transpose()?;
            let r = next_record(last.as_ref(), at, entry);
            tx.execute(
                "INSERT INTO audit_log (seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.seq as i64,
                    r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    r.entry.actor,
                    r.entry.action,
                    serde_json::to_string(&r.entry.subjects)?,
                    serde_json::to_string(&r.entry.payload)?,
                    r.entry.trace_id,
                    r.prev_hash,
                    r.hash,
                ],
            )
            .map_err(sql_err)?;
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

    async fn verify(&self) -> Result<u64> {
        self.run(|conn| verify_chain(&Self::read_all(conn)?)).await
    }
}
