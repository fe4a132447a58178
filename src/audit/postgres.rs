//! The audit log in a PostgreSQL database (feature `postgres`).

use super::{
    AuditEntry, AuditLog, AuditQuery, AuditRecord, AuditSnapshot, ChainHead, Checkpoint,
    CheckpointKey, CheckpointPolicy, next_after,
};
use crate::clock::Clock;
use crate::store::postgres::audit::{self as sql, CheckpointRow, RecordRow};
use crate::store::postgres::{PgPool, PgTx, in_tx};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The audit log in a PostgreSQL database (tables `audit_log`, `audit_head`,
/// `audit_checkpoints`; the schema is created at connect).
///
/// Each append is one transaction that takes the chain's advisory lock
/// (`pg_advisory_xact_lock`), reads the stored head, writes the record, the new head and
/// (when due) a checkpoint, and commits: appends from any number of handles, processes and
/// hosts form one chain, and a crash leaves the last record complete or absent with the
/// head in step with it. Reads of the whole log ([`AuditLog::snapshot`]) run in one
/// `REPEATABLE READ` transaction.
#[derive(Debug, Clone)]
pub struct PostgresAuditLog {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    policy: Option<CheckpointPolicy>,
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

fn seq_i64(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::AuditBroken {
        seq,
        why: format!("record number {seq} does not fit the database's BIGINT"),
    })
}

fn decode(row: RecordRow) -> Result<AuditRecord> {
    let seq = seq_u64(row.seq);
    Ok(AuditRecord {
        seq,
        at: row.at,
        entry: AuditEntry {
            actor: row.actor,
            action: row.action,
            subjects: serde_json::from_str(&row.subjects).map_err(|e| Error::AuditBroken {
                seq,
                why: format!("record {seq} was altered: unreadable subjects: {e}"),
            })?,
            payload: serde_json::from_str(&row.payload).map_err(|e| Error::AuditBroken {
                seq,
                why: format!("record {seq} was altered: unreadable payload: {e}"),
            })?,
            trace_id: row.trace_id,
        },
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}

fn decode_checkpoint(c: CheckpointRow) -> Checkpoint {
    Checkpoint {
        seq: seq_u64(c.seq),
        at: c.at,
        hash: c.hash,
        key_id: c.key_id,
        prev_signature: c.prev_signature,
        signature: c.signature,
    }
}

/// Sign the stored head (inside `tx`, which holds the chain lock).
async fn sign_head(
    tx: &PgTx,
    key: &CheckpointKey,
    at: DateTime<Utc>,
) -> Result<Option<Checkpoint>> {
    let Some((seq, hash)) = sql::read_head(tx.client()).await? else {
        return Ok(None);
    };
    let head = ChainHead {
        seq: seq_u64(seq),
        hash,
    };
    let prev = sql::read_checkpoints(tx.client(), true)
        .await?
        .pop()
        .map(decode_checkpoint);
    if let Some(p) = &prev
        && p.seq == head.seq
    {
        return Ok(prev);
    }
    let cp = key.sign(&head, at, prev.as_ref());
    sql::insert_checkpoint(
        tx.client(),
        &CheckpointRow {
            seq: seq_i64(cp.seq)?,
            at: cp.at,
            hash: cp.hash.clone(),
            key_id: cp.key_id.clone(),
            prev_signature: cp.prev_signature.clone(),
            signature: cp.signature.clone(),
        },
    )
    .await?;
    Ok(Some(cp))
}

/// Append `entry` (stamped `at`) inside the caller's transaction `tx`, so that the record
/// commits or rolls back with the caller's other changes (a registry change and its
/// record). Takes the chain lock to the end of `tx`.
pub(crate) async fn append_in_transaction(
    tx: &PgTx,
    at: DateTime<Utc>,
    entry: AuditEntry,
    policy: Option<&CheckpointPolicy>,
) -> Result<AuditRecord> {
    sql::lock_chain(tx.client()).await?;
    let head = sql::read_head(tx.client())
        .await?
        .map(|(seq, hash)| ChainHead {
            seq: seq_u64(seq),
            hash,
        });
    let r = next_after(head.as_ref(), at, entry);
    let stored = sql::insert_record(
        tx.client(),
        &RecordRow {
            seq: seq_i64(r.seq)?,
            at: r.at,
            actor: r.entry.actor.clone(),
            action: r.entry.action.clone(),
            subjects: serde_json::to_string(&r.entry.subjects)?,
            payload: serde_json::to_string(&r.entry.payload)?,
            trace_id: r.entry.trace_id.clone(),
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        },
    )
    .await?;
    if !stored {
        return Err(Error::AuditBroken {
            seq: r.seq,
            why: format!(
                "cannot append record {}: a record with that number is already stored beyond the chain's head; run `mlcycle audit verify`",
                r.seq
            ),
        });
    }
    sql::write_head(tx.client(), seq_i64(r.seq)?, &r.hash).await?;
    if let Some(p) = policy
        && p.due(r.seq)
    {
        sign_head(tx, &p.key, r.at).await?;
    }
    Ok(r)
}

impl PostgresAuditLog {
    /// Connect to the PostgreSQL database at `url` (`postgres://USER@HOST:PORT/DB`),
    /// creating or upgrading its schema.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(Self::with_pool(PgPool::connect(url).await?, clock))
    }

    pub(crate) fn with_pool(pool: PgPool, clock: Arc<dyn Clock>) -> Self {
        PostgresAuditLog {
            pool,
            clock,
            policy: None,
        }
    }

    /// Sign a checkpoint automatically with every `policy.every`-th record.
    pub fn with_checkpoints(mut self, policy: CheckpointPolicy) -> Self {
        self.policy = Some(policy);
        self
    }
}

#[async_trait]
impl AuditLog for PostgresAuditLog {
    async fn append(&self, entry: AuditEntry) -> Result<AuditRecord> {
        let at = self.clock.now();
        let policy = self.policy.clone();
        in_tx(&self.pool, async |tx| {
            append_in_transaction(tx, at, entry, policy.as_ref()).await
        })
        .await
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let conn = self.pool.get().await?;
        let rows = sql::read_records(&conn).await?;
        let mut out = Vec::new();
        for row in rows {
            let r = decode(row)?;
            if query.matches(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn snapshot(&self) -> Result<AuditSnapshot> {
        let tx = PgTx::begin_snapshot(&self.pool).await?;
        let records = sql::read_records(tx.client()).await?;
        let head = sql::read_head(tx.client()).await?;
        let checkpoints = sql::read_checkpoints(tx.client(), false).await?;
        tx.commit().await?;
        Ok(AuditSnapshot {
            records: records.into_iter().map(decode).collect::<Result<_>>()?,
            head: head.map(|(seq, hash)| ChainHead {
                seq: seq_u64(seq),
                hash,
            }),
            checkpoints: checkpoints.into_iter().map(decode_checkpoint).collect(),
        })
    }

    async fn checkpoint(&self, key: &CheckpointKey) -> Result<Option<Checkpoint>> {
        let at = self.clock.now();
        in_tx(&self.pool, async |tx| {
            sql::lock_chain(tx.client()).await?;
            sign_head(tx, key, at).await
        })
        .await
    }
}
