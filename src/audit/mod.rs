//! The audit trail: an append-only, hash-chained log of every lifecycle action, with
//! verification, signed checkpoints, lineage queries and exports.
//!
//! # The chain
//! Each [`AuditRecord`] carries `prev_hash` and `hash = sha256(prev_hash ‖ canonical JSON
//! of the record's content)` ([`record_hash`]). Altering, removing, inserting or
//! reordering a record breaks the chain at that record, and verification names it
//! ([`verify_chain`]'s module docs tell how each case is named).
//!
//! # What the chain alone cannot show, and what covers it
//! - **Removing the last records** leaves a shorter valid chain. Every backend therefore
//!   stores the chain's head ([`ChainHead`]) in the same atomic step as each append, and
//!   [`AuditLog::verify`] compares the chain with it. New records are chained to the
//!   stored head, so an append after a truncation does not hide it.
//! - **Rewriting the chain** (editing a record and recomputing every later hash and the
//!   head) needs only SHA-256. Signed [`Checkpoint`]s (HMAC-SHA256 with a key kept outside
//!   the store, like CloudTrail digest files) make that detectable: configure a
//!   [`CheckpointPolicy`] to sign every N records, or call [`AuditLog::checkpoint`], and
//!   verify with [`AuditLog::verify_with`] and the key.
//! - **Rolling the whole store back** to an earlier copy is undetectable from inside the
//!   store; keep the latest checkpoint elsewhere and pass it as
//!   [`VerifyOptions::trusted`].
//!
//! # Atomic with the change it records
//! A registry opened with its audit trail (`SqliteRegistry::open_audited`,
//! `InMemoryRegistry::with_audit`) appends the record of each change in the same
//! transaction as the change (see `Registry::audit_log`), so a change and its record
//! commit or roll back together; [`in_trace`] tells it which lifecycle run the change is
//! part of.
//!
//! # What is recorded
//! Every record is an [`AuditEvent`]: one variant per action (the names in [`actions`]),
//! each with a typed payload. Writers build the event and append
//! [`AuditEntry::from_event`]; readers call [`AuditEntry::event`]. Records written by
//! earlier versions read the same way (see [`event`]'s "Versions").
//!
//! # Reading it
//! [`crate::lineage::LineageQuery`] (a layer above this one) answers "where did this prediction come from" (request → model version
//! → datasets, code, approval, deployment window), "where did this version serve" and
//! "what was trained on this dataset". [`export_jsonl`] and [`openlineage::run_events`]
//! export the log.

pub mod actions;
mod checkpoint;
#[cfg(feature = "conformance")]
mod conformance;
mod context;
pub mod event;
mod export;
mod memory;
pub mod openlineage;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod verify;

pub use checkpoint::{ChainHead, Checkpoint, CheckpointKey, CheckpointPolicy};
#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use conformance::audit_conformance;
pub use context::{current_trace, in_trace, trace_or_new};
pub use event::AuditEvent;
pub use export::{export_jsonl, write_jsonl};
pub use memory::InMemoryAuditLog;
#[cfg(feature = "postgres")]
pub use postgres::PostgresAuditLog;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteAuditLog;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::append_in_transaction;
pub use verify::{AuditSnapshot, Verification, VerifyOptions, verify_chain, verify_snapshot};

use crate::Result;
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

/// `v` with every object's keys in sorted order, whatever serde_json's map type (its
/// `preserve_order` feature, if some other crate turns it on, would keep insertion order).
fn sorted_keys(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&m[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(sorted_keys).collect())
        }
        other => other.clone(),
    }
}

/// The hash of a record's content chained to `prev_hash`.
pub fn record_hash(prev_hash: &str, seq: u64, at: DateTime<Utc>, entry: &AuditEntry) -> String {
    let c = Canonical {
        seq,
        at: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: &entry.actor,
        action: &entry.action,
        subjects: &entry.subjects,
        payload: &sorted_keys(&entry.payload),
        trace_id: &entry.trace_id,
    };
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    // Field order is fixed by `Canonical`, payload keys are sorted: canonical JSON.
    h.update(serde_json::to_vec(&c).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Build the next record after `prev` (None for the first).
pub fn next_record(
    prev: Option<&AuditRecord>,
    at: DateTime<Utc>,
    entry: AuditEntry,
) -> AuditRecord {
    next_after(
        prev.map(|p| ChainHead {
            seq: p.seq,
            hash: p.hash.clone(),
        })
        .as_ref(),
        at,
        entry,
    )
}

/// Build the record that follows the chain head `head` (None for an empty log).
///
/// Backends chain new records to their *stored head* rather than to the last stored row,
/// so that removing the last records cannot be papered over by the next append.
///
/// The time is truncated to microseconds, the precision records are stored and hashed with.
pub fn next_after(head: Option<&ChainHead>, at: DateTime<Utc>, entry: AuditEntry) -> AuditRecord {
    use chrono::SubsecRound;
    let at = at.trunc_subsecs(6);
    let seq = head.map_or(1, |p| p.seq + 1);
    let prev_hash = head.map_or(GENESIS_HASH.to_string(), |p| p.hash.clone());
    let hash = record_hash(&prev_hash, seq, at, &entry);
    AuditRecord {
        seq,
        at,
        entry,
        prev_hash,
        hash,
    }
}

impl AuditRecord {
    /// The chain head this record makes.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
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
/// - `append` assigns the next sequence number and chains the record to the stored head;
///   appends are serialised (concurrent appends never fork the chain) and atomic: after a
///   crash the last record is complete or absent, and the head matches it.
/// - The head ([`ChainHead`]) is stored in the same atomic step as each record.
/// - A log configured with a [`CheckpointPolicy`] signs a checkpoint in the same atomic
///   step as every `every`-th record; `checkpoint` signs the current head on demand.
/// - Stored records and checkpoints are never modified by the log; `verify` detects any
///   change and names the first record concerned.
///
/// `audit_conformance` (feature `conformance`) checks all of this for a backend.
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
    /// Records, head and checkpoints, read in one consistent step.
    async fn snapshot(&self) -> Result<AuditSnapshot>;
    /// Sign the current head with `key` and store the checkpoint; returns it (the existing
    /// one if the head is already checkpointed), or `None` for an empty log.
    async fn checkpoint(&self, key: &CheckpointKey) -> Result<Option<Checkpoint>>;

    /// Verify the chain, its stored head and the checkpoints' agreement with the chain
    /// (signatures are not checked without a key); returns the number of records.
    async fn verify(&self) -> Result<u64> {
        Ok(self.verify_with(&VerifyOptions::default()).await?.records)
    }

    /// Verify with options (a key to check checkpoint signatures, a trusted checkpoint).
    async fn verify_with(&self, options: &VerifyOptions) -> Result<Verification> {
        verify_snapshot(&self.snapshot().await?, options)
    }
}
