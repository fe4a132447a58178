//! Verification of a stored log: the chain, its stored head, and its checkpoints.
//!
//! The walk stops at the first position where the chain does not fit and names the record
//! that was tampered with, telling the four cases apart:
//!
//! | what was done | what is named |
//! |---|---|
//! | a record's content, hash, prev_hash or sequence number changed | that record |
//! | a record removed | the missing sequence number (the last one too, through the stored head) |
//! | a record inserted (with or without renumbering the rest) | the position it was put at |
//! | two records swapped | the first position that holds the wrong record |
//!
//! A record that was altered *and* re-hashed is named through the next record, which no
//! longer links to it (or, for the last record, through the stored head). Someone who can
//! rewrite every hash from some record on, and the head too, is caught only by signed
//! [`Checkpoint`]s; the verifier then names the first record whose hash differs from a
//! checkpoint, which bounds the rewrite from above.

use super::checkpoint::{ChainHead, Checkpoint, CheckpointKey};
use super::{AuditRecord, GENESIS_HASH, record_hash};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Everything a log stores, read in one consistent step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditSnapshot {
    /// The records, in stored order.
    pub records: Vec<AuditRecord>,
    /// The stored head (`None` for an empty log).
    pub head: Option<ChainHead>,
    /// The stored checkpoints, oldest first.
    pub checkpoints: Vec<Checkpoint>,
}

/// What to check beyond the chain and its stored head.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Check checkpoint signatures with this key (without it, checkpoints are still
    /// compared with the chain, but their signatures are not checked).
    pub key: Option<CheckpointKey>,
    /// Require a checkpoint at every multiple of this many records (the log's
    /// [`super::CheckpointPolicy::every`]), so that deleting checkpoints is detected.
    pub expect_every: Option<u64>,
    /// A checkpoint kept outside the store (e.g. the last one exported): the log must
    /// still contain the record it names, unchanged. This catches a rollback of the whole
    /// store to an earlier state, which nothing inside the store can.
    pub trusted: Option<Checkpoint>,
}

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Records in the chain.
    pub records: u64,
    /// The stored head.
    pub head: Option<ChainHead>,
    /// Checkpoints found (and matched against the chain).
    pub checkpoints: u64,
    /// The last record covered by a checkpoint.
    pub last_checkpoint: Option<u64>,
    /// Whether checkpoint signatures were checked with a key.
    pub signatures_checked: bool,
}

fn broken(seq: u64, why: impl Into<String>) -> Error {
    Error::AuditBroken {
        seq,
        why: why.into(),
    }
}

fn content_ok(r: &AuditRecord) -> bool {
    record_hash(&r.prev_hash, r.seq, r.at, &r.entry) == r.hash
}

/// The sequence number `r` was hashed with, if it differs from the stored one and lies
/// within `window` of it (a renumbered record).
fn hashed_with_seq(r: &AuditRecord, window: u64) -> Option<u64> {
    let lo = r.seq.saturating_sub(window).max(1);
    (lo..=r.seq.saturating_add(window))
        .filter(|&s| s != r.seq)
        .find(|&s| record_hash(&r.prev_hash, s, r.at, &r.entry) == r.hash)
}

fn range(from: u64, to: u64) -> String {
    if from == to {
        format!("record {from} is")
    } else {
        format!("records {from}..={to} are")
    }
}

/// Why the chain breaks at position `p` (0-based) of `recs`, whose stored head (if known)
/// is `head`.
fn diagnose(recs: &[AuditRecord], p: usize, head: Option<&ChainHead>) -> Error {
    let e = p as u64 + 1;
    let r = &recs[p];
    let expected_prev = if p == 0 {
        GENESIS_HASH
    } else {
        recs[p - 1].hash.as_str()
    };
    let ok = content_ok(r);

    if r.seq != e {
        // Its own sequence number was edited (everything else fits).
        if r.prev_hash == expected_prev && record_hash(&r.prev_hash, e, r.at, &r.entry) == r.hash {
            return broken(
                e,
                format!(
                    "record {e} was altered: its sequence number was changed to {}",
                    r.seq
                ),
            );
        }
        if r.seq > e {
            if let Some(q) = recs[p + 1..].iter().position(|x| x.seq == e) {
                return broken(
                    e,
                    format!(
                        "records were reordered: record {} stands at position {e}, and record {e} at position {}",
                        r.seq,
                        e + 1 + q as u64
                    ),
                );
            }
            return broken(
                e,
                format!(
                    "{} missing: the record after {} is {} (removed)",
                    range(e, r.seq - 1),
                    e - 1,
                    r.seq
                ),
            );
        }
        // r.seq < e: a second record with a number already used.
        if let Some(q) = recs[..p].iter().position(|x| x.seq == r.seq) {
            let first = &recs[q];
            if first.hash == r.hash {
                return broken(
                    e,
                    format!("a copy of record {} was inserted at position {e}", r.seq),
                );
            }
            // A fork: two records claim the same number; the one the chain continues
            // from is genuine, the other was inserted.
            let continued = match recs.get(p + 1) {
                Some(n) => n.prev_hash == r.hash,
                None => head.is_some_and(|h| h.hash == r.hash),
            };
            if continued && r.prev_hash == first.prev_hash && ok {
                return broken(
                    q as u64 + 1,
                    format!(
                        "a record was inserted at position {}: it claims number {}, but the chain continues from the record numbered {} at position {e}",
                        q + 1,
                        first.seq,
                        r.seq
                    ),
                );
            }
            return broken(
                e,
                format!(
                    "a record was inserted at position {e}: it repeats number {} of the record at position {}",
                    r.seq,
                    q + 1
                ),
            );
        }
        return broken(
            e,
            format!(
                "record {e} is out of place: position {e} holds a record numbered {}",
                r.seq
            ),
        );
    }

    if r.prev_hash != expected_prev {
        // It skips the record before it: that one was inserted.
        let before_prev = match p {
            0 => None,
            1 => Some(GENESIS_HASH),
            _ => Some(recs[p - 2].hash.as_str()),
        };
        if before_prev == Some(r.prev_hash.as_str()) {
            return broken(
                e - 1,
                format!(
                    "a record was inserted at position {}: record {e} links to the record before it",
                    e - 1
                ),
            );
        }
        if ok {
            if p == 0 {
                return broken(
                    e,
                    "record 1 does not start the chain (its prev_hash is not the genesis hash): records before it were removed or it was altered",
                );
            }
            // Intact itself, but its predecessor's hash changed: the predecessor was
            // edited and re-hashed.
            return broken(
                e - 1,
                format!(
                    "record {} was altered and re-hashed: record {e} no longer links to it",
                    e - 1
                ),
            );
        }
        if let Some(s) = hashed_with_seq(r, 1_000) {
            return if s > e {
                broken(
                    e,
                    format!(
                        "{} missing: the record numbered {e} is record {s} renumbered (removed)",
                        range(e, s - 1)
                    ),
                )
            } else {
                broken(
                    e,
                    format!(
                        "a record was inserted before position {e}: the record numbered {e} is record {s} renumbered"
                    ),
                )
            };
        }
        return broken(
            e,
            format!(
                "record {e} was altered: neither its prev_hash nor its content matches its hash"
            ),
        );
    }

    if let Some(s) = hashed_with_seq(r, 1_000) {
        return broken(
            e,
            format!("record {e} was altered: it was hashed as record {s}"),
        );
    }
    broken(
        e,
        format!("record {e} was altered: its content does not match its hash"),
    )
}

/// Verify a chain of records (in stored order): each record has the next sequence number,
/// links to the previous record's hash, and its content matches its hash. Returns the
/// number of records, or [`Error::AuditBroken`] naming the first record that does not fit
/// (see the module docs for how each kind of tampering is named).
///
/// This checks the chain alone; a removed *last* record is detected only with the stored
/// head or a checkpoint ([`verify_snapshot`]).
pub fn verify_chain(records: &[AuditRecord]) -> Result<u64> {
    walk(records, None)
}

fn walk(records: &[AuditRecord], head: Option<&ChainHead>) -> Result<u64> {
    let mut prev_hash = GENESIS_HASH;
    for (p, r) in records.iter().enumerate() {
        if r.seq != p as u64 + 1 || r.prev_hash != prev_hash || !content_ok(r) {
            return Err(diagnose(records, p, head));
        }
        prev_hash = &r.hash;
    }
    Ok(records.len() as u64)
}

fn check_head(recs: &[AuditRecord], head: Option<&ChainHead>) -> Result<()> {
    let n = recs.len() as u64;
    match (head, recs.last()) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(broken(
            n,
            "the log's stored head is missing, so its last record cannot be vouched for",
        )),
        (Some(h), _) if h.seq > n => Err(broken(
            n + 1,
            format!(
                "{} missing: the stored head names record {} but the chain ends at {n} (removed)",
                range(n + 1, h.seq),
                h.seq
            ),
        )),
        (Some(h), _) if h.seq < n => Err(broken(
            h.seq + 1,
            format!(
                "{} not covered by the stored head (which ends at {}): appended outside the log",
                range(h.seq + 1, n),
                h.seq
            ),
        )),
        (Some(h), Some(last)) if h.hash != last.hash => Err(broken(
            n,
            format!("record {n} was altered and re-hashed: the stored head holds another hash"),
        )),
        _ => Ok(()),
    }
}

fn check_checkpoint(
    recs: &[AuditRecord],
    cp: &Checkpoint,
    key: Option<&CheckpointKey>,
    what: &str,
) -> Result<()> {
    let n = recs.len() as u64;
    if let Some(k) = key {
        if cp.key_id != k.id() {
            return Err(broken(
                cp.seq,
                format!(
                    "{what} at record {} was signed by key {}, not by the given key {}",
                    cp.seq,
                    cp.key_id,
                    k.id()
                ),
            ));
        }
        if !k.verifies(cp) {
            return Err(broken(
                cp.seq,
                format!(
                    "the signature of the {what} at record {} does not verify: the checkpoint was forged or altered",
                    cp.seq
                ),
            ));
        }
    }
    if cp.seq == 0 || cp.seq > n {
        return Err(broken(
            n + 1,
            format!(
                "{} missing: a {what} covers record {} but the chain ends at {n} (removed)",
                range(n + 1, cp.seq.max(n + 1)),
                cp.seq
            ),
        ));
    }
    if recs[cp.seq as usize - 1].hash != cp.hash {
        return Err(broken(
            cp.seq,
            format!(
                "the chain was rewritten: record {} differs from the {what} signed at {} (the rewrite starts at or before it)",
                cp.seq,
                cp.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    Ok(())
}

/// Verify everything a log stores: the chain ([`verify_chain`]), its stored head (which
/// catches removal of the last records), and its checkpoints (compared with the chain,
/// and, when `options.key` is given, checked for valid, chained signatures).
pub fn verify_snapshot(snap: &AuditSnapshot, options: &VerifyOptions) -> Result<Verification> {
    let recs = &snap.records;
    walk(recs, snap.head.as_ref())?;
    check_head(recs, snap.head.as_ref())?;
    let key = options.key.as_ref();
    let mut prev: Option<&Checkpoint> = None;
    for cp in &snap.checkpoints {
        if let Some(p) = prev
            && cp.seq <= p.seq
        {
            return Err(broken(
                cp.seq,
                format!(
                    "checkpoints out of order: the one at record {} follows the one at record {}",
                    cp.seq, p.seq
                ),
            ));
        }
        check_checkpoint(recs, cp, key, "checkpoint")?;
        if key.is_some() {
            let expected = prev.map(|p| p.signature.as_str()).unwrap_or_default();
            if cp.prev_signature != expected {
                return Err(broken(
                    cp.seq,
                    format!(
                        "the checkpoint at record {} does not follow the previous one: a checkpoint before it was removed or replaced",
                        cp.seq
                    ),
                ));
            }
        }
        prev = Some(cp);
    }
    if let Some(every) = options.expect_every.filter(|&e| e > 0) {
        let n = recs.len() as u64;
        let mut want = every;
        while want <= n {
            if snap.checkpoints.iter().all(|c| c.seq != want) {
                return Err(broken(
                    want,
                    format!("the checkpoint due at record {want} (every {every}) is missing"),
                ));
            }
            want += every;
        }
    }
    if let Some(t) = &options.trusted {
        check_checkpoint(recs, t, key, "trusted checkpoint")?;
    }
    Ok(Verification {
        records: recs.len() as u64,
        head: snap.head.clone(),
        checkpoints: snap.checkpoints.len() as u64,
        last_checkpoint: snap.checkpoints.last().map(|c| c.seq),
        signatures_checked: key.is_some(),
    })
}
