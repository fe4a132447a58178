//! The audit trail's queries on PostgreSQL, on rows of plain values (`audit::PostgresAuditLog`
//! builds the chain). Appends are serialised by the transaction-scoped advisory lock
//! [`AUDIT_LOCK`](super::AUDIT_LOCK), taken by [`lock_chain`] before the head is read.

use super::{AUDIT_LOCK, is_unique_violation, pg_err};
use crate::Result;
use chrono::{DateTime, Utc};
use deadpool_postgres::ClientWrapper;

/// A stored record, its JSON fields as text.
#[derive(Debug, Clone)]
pub(crate) struct RecordRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subjects: String,
    pub payload: String,
    pub trace_id: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A stored checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub hash: String,
    pub key_id: String,
    pub prev_signature: String,
    pub signature: String,
}

/// Take the chain's append lock to the end of the transaction.
pub(crate) async fn lock_chain(c: &ClientWrapper) -> Result<()> {
    let st = c
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(pg_err)?;
    c.execute(&st, &[&AUDIT_LOCK]).await.map_err(pg_err)?;
    Ok(())
}

/// The stored head `(seq, hash)`; `None` for an empty log.
pub(crate) async fn read_head(c: &ClientWrapper) -> Result<Option<(i64, String)>> {
    let st = c
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")
        .await
        .map_err(pg_err)?;
    Ok(c.query_opt(&st, &[])
        .await
        .map_err(pg_err)?
        .map(|r| (r.get(0), r.get(1))))
}

/// Insert a record. `Ok(false)` if a record with its number is already stored.
pub(crate) async fn insert_record(c: &ClientWrapper, r: &RecordRow) -> Result<bool> {
    let st = c
        .prepare_cached(
            "INSERT INTO audit_log (seq, at, actor, action, subjects, payload, trace_id,
               prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(pg_err)?;
    match c
        .execute(
            &st,
            &[
                &r.seq,
                &r.at,
                &r.actor,
                &r.action,
                &r.subjects,
                &r.payload,
                &r.trace_id,
                &r.prev_hash,
                &r.hash,
            ],
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(pg_err(e)),
    }
}

/// Store the chain head.
pub(crate) async fn write_head(c: &ClientWrapper, seq: i64, hash: &str) -> Result<()> {
    let st = c
        .prepare_cached(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .await
        .map_err(pg_err)?;
    c.execute(&st, &[&seq, &hash]).await.map_err(pg_err)?;
    Ok(())
}

/// All records in sequence order.
pub(crate) async fn read_records(c: &ClientWrapper) -> Result<Vec<RecordRow>> {
    let st = c
        .prepare_cached(
            "SELECT seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash
             FROM audit_log ORDER BY seq",
        )
        .await
        .map_err(pg_err)?;
    Ok(c.query(&st, &[])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| RecordRow {
            seq: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            action: r.get(3),
            subjects: r.get(4),
            payload: r.get(5),
            trace_id: r.get(6),
            prev_hash: r.get(7),
            hash: r.get(8),
        })
        .collect())
}

/// Checkpoints in sequence order (`last_only`: just the last one).
pub(crate) async fn read_checkpoints(
    c: &ClientWrapper,
    last_only: bool,
) -> Result<Vec<CheckpointRow>> {
    let sql = if last_only {
        "SELECT seq, at, hash, key_id, prev_signature, signature FROM audit_checkpoints
         ORDER BY seq DESC LIMIT 1"
    } else {
        "SELECT seq, at, hash, key_id, prev_signature, signature FROM audit_checkpoints
         ORDER BY seq"
    };
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    Ok(c.query(&st, &[])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| CheckpointRow {
            seq: r.get(0),
            at: r.get(1),
            hash: r.get(2),
            key_id: r.get(3),
            prev_signature: r.get(4),
            signature: r.get(5),
        })
        .collect())
}

/// Store a checkpoint.
pub(crate) async fn insert_checkpoint(c: &ClientWrapper, cp: &CheckpointRow) -> Result<()> {
    let st = c
        .prepare_cached(
            "INSERT INTO audit_checkpoints (seq, at, hash, key_id, prev_signature, signature)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(pg_err)?;
    c.execute(
        &st,
        &[
            &cp.seq,
            &cp.at,
            &cp.hash,
            &cp.key_id,
            &cp.prev_signature,
            &cp.signature,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}
