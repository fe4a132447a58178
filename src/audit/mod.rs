//! The audit trail: an append-only, hash-chained log of every lifecycle action.
//!
//! Each record carries `prev_hash` and `hash = sha256(prev_hash ‖ canonical JSON of the
//! record's content)`, so altering, removing, inserting or reordering any record breaks
//! the chain at that record, and [`verify_chain`] names it.

mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::InMemoryAuditLog;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteAuditLog;

use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Debug;

/// The hash that precedes the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to append: everything of a record except its sequence number, time and hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who did it (a user, or a component such as `lifecycle`).
    pub actor: String,
    /// What was done, e.g. `model.trained`, `alias.moved`, `drift.checked`.
    pub action: String,
    /// Ids of what it concerns: dataset ids, `name/version`, request ids.
    pub subjects: Vec<String>,
    /// Details.
    pub payload: serde_json::Value,
    /// Joins all records of one lifecycle run.
    pub trace_id: String,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log (1, 2, ...).
    pub seq: u64,
    /// When (from the lifecycle's clock).
    pub at: DateTime<Utc>,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    at: String,
    actor: &'a str,
    action: &'a str,
    subjects: &'a [String],
    payload: &'a serde_json::Value,
    trace_id: &'a str,
}

/// The hash of a record's content chained to `prev_hash`.
pub fn record_hash(prev_hash: &str, seq: u64, at: DateTime<Utc>, entry: &AuditEntry) -> String {
    let c = Canonical {
        seq,
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: &entry.actor,
        action: &entry.action,
        subjects: &entry.subjects,
        payload: &entry.payload,
        trace_id: &entry.trace_id,
    };
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    // serde_json writes object keys in sorted order (no `preserve_order`): canonical.
    h.update(serde_json::to_vec(&c).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Build the next record after `prev` (None for the first).
pub fn next_record(
    prev: Option<&AuditRecord>,
    at: DateTime<Utc>,
    entry: AuditEntry,
) -> AuditRecord {
    let seq = prev.map_or(1, |p| p.seq + 1);
    let prev_hash = prev.map_or(GENESIS_HASH.to_string(), |p| p.hash.clone());
    let hash = record_hash(&prev_hash, seq, at, &entry);
    AuditRecord {
        seq,
        at,
        entry,
        prev_hash,
        hash,
    }
}

/// Verify a chain of records (in stored order). Returns the number of records, or
/// [`Error::AuditBroken`] naming the first record that does not fit.
pub fn verify_chain(records: &[AuditRecord]) -> Result<u64> {
    let mut prev_hash = GENESIS_HASH.to_string();
    for (i, r) in records.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if r.seq != expected_seq {
            return Err(Error::AuditBroken {
                seq: r.seq,
                why: format!(
                    "found sequence number {} at position {expected_seq}: a record was removed, inserted or reordered",
                    r.seq
                ),
            });
        }
        if r.prev_hash != prev_hash {
            return Err(Error::AuditBroken {
                seq: r.seq,
                why: "its prev_hash does not match the previous record: a record before it was removed, inserted or altered".into(),
            });
        }
        if record_hash(&r.prev_hash, r.seq, r.at, &r.entry) != r.hash {
            return Err(Error::AuditBroken {
                seq: r.seq,
                why: "its content does not match its hash: the record was altered".into(),
            });
        }
        prev_hash = r.hash.clone();
    }
    Ok(records.len() as u64)
}

/// Which records to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only this action.
    pub action: Option<String>,
    /// Only records naming this subject.
    pub subject: Option<String>,
    /// Only this trace.
    pub trace_id: Option<String>,
}

impl AuditQuery {
    /// Whether `r` matches.
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.since.is_none_or(|t| r.at >= t)
            && self.action.as_ref().is_none_or(|a| &r.entry.action == a)
            && self
                .subject
                .as_ref()
                .is_none_or(|s| r.entry.subjects.iter().any(|x| x == s))
            && self
                .trace_id
                .as_ref()
                .is_none_or(|t| &r.entry.trace_id == t)
    }
}

/// An append-only, hash-chained audit log.
///
/// # Contract
/// - `append` assigns the next sequence number and chains the record to the previous
///   one; appends are serialised (concurrent appends never fork the chain).
/// - Stored records are never modified by the log; `verify` detects any change.
///
/// ```
/// use mlcycle::audit::{AuditLog, AuditEntry, InMemoryAuditLog, AuditQuery};
/// use mlcycle::clock::SystemClock;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let log = InMemoryAuditLog::new(Arc::new(SystemClock));
/// log.append(AuditEntry { actor: "alice".into(), action: "model.approved".into(),
///     subjects: vec!["credit/1".into()], payload: serde_json::json!({"why": "ok"}),
///     trace_id: "t1".into() }).await.unwrap();
/// assert_eq!(log.verify().await.unwrap(), 1);
/// assert_eq!(log.query(&AuditQuery::default()).await.unwrap().len(), 1);
/// # });
/// ```
#[async_trait]
pub trait AuditLog: Send + Sync + Debug {
    /// Append an entry; returns the stored record.
    async fn append(&self, entry: AuditEntry) -> Result<AuditRecord>;
    /// Records matching `query`, in sequence order.
    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
    /// Verify the whole chain; returns the number of records.
    async fn verify(&self) -> Result<u64>;
}
