//! Signed checkpoints of the chain (HMAC-SHA256), in the manner of CloudTrail digest files.
//!
//! A plain hash chain proves that records were not changed *relative to each other*, but
//! anyone who can write the store can recompute every hash after an edit, and cutting
//! records off the end leaves a shorter chain that is still valid. A [`Checkpoint`] fixes
//! both: it names the head of the chain at some moment (`seq`, `hash`) and carries an
//! HMAC-SHA256 over that, over its time and over the previous checkpoint's signature, made
//! with a key the store never holds. Without the key nobody can forge or re-sign one, so a
//! rewritten or truncated chain no longer matches its checkpoints.

use crate::{Error, Result};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The head of a chain: its last record's sequence number and hash.
///
/// Backends store it with every append, in the same atomic step, so that removing the
/// last records is detected even without checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The last record's sequence number.
    pub seq: u64,
    /// The last record's hash.
    pub hash: String,
}

/// A signed statement "the chain had `seq` records and record `seq` had hash `hash`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last record covered.
    pub seq: u64,
    /// That record's hash.
    pub hash: String,
    /// When the checkpoint was made (from the log's clock).
    pub at: DateTime<Utc>,
    /// Which key signed it ([`CheckpointKey::id`]).
    pub key_id: String,
    /// The previous checkpoint's signature (empty for the first), chaining checkpoints.
    pub prev_signature: String,
    /// Hex HMAC-SHA256 over the fields above.
    pub signature: String,
}

#[derive(Serialize)]
struct Signed<'a> {
    seq: u64,
    hash: &'a str,
    at: String,
    key_id: &'a str,
    prev_signature: &'a str,
}

/// A secret key for signing checkpoints (at least 16 bytes). Its `Debug` output hides it.
#[derive(Clone)]
pub struct CheckpointKey {
    key: Vec<u8>,
    id: String,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl CheckpointKey {
    /// A key from secret bytes; fewer than 16 bytes is refused.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self> {
        let key = secret.as_ref().to_vec();
        if key.len() < 16 {
            return Err(Error::invalid(
                "checkpoint key",
                format!(
                    "it is {} bytes long; use at least 16 random bytes",
                    key.len()
                ),
            ));
        }
        // The id names the key without revealing it (a hash of a domain-separated key).
        let mut h = Sha256::new();
        h.update(b"mlcycle audit checkpoint key id\0");
        h.update(&key);
        let id = hex::encode(&h.finalize()[..8]);
        Ok(CheckpointKey { key, id })
    }

    /// A short public identifier of the key (16 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, seq: u64, hash: &str, at: DateTime<Utc>, prev_signature: &str) -> Hmac<Sha256> {
        let msg = Signed {
            seq,
            hash,
            at: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            key_id: &self.id,
            prev_signature,
        };
        // Keys of any length are valid for HMAC, so this cannot fail; fall back to an
        // empty-keyed MAC rather than panic, which would simply never verify.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(&serde_json::to_vec(&msg).unwrap_or_default());
        mac
    }

    /// Sign the head `head` at time `at`, after the checkpoint `prev` (if any).
    pub fn sign(
        &self,
        head: &ChainHead,
        at: DateTime<Utc>,
        prev: Option<&Checkpoint>,
    ) -> Checkpoint {
        use chrono::SubsecRound;
        let at = at.trunc_subsecs(6);
        let prev_signature = prev.map(|p| p.signature.clone()).unwrap_or_default();
        let signature = hex::encode(
            self.mac(head.seq, &head.hash, at, &prev_signature)
                .finalize()
                .into_bytes(),
        );
        Checkpoint {
            seq: head.seq,
            hash: head.hash.clone(),
            at,
            key_id: self.id.clone(),
            prev_signature,
            signature,
        }
    }

    /// Whether `cp` was signed by this key and is unaltered (constant-time comparison).
    pub fn verifies(&self, cp: &Checkpoint) -> bool {
        let Ok(sig) = hex::decode(&cp.signature) else {
            return false;
        };
        cp.key_id == self.id
            && self
                .mac(cp.seq, &cp.hash, cp.at, &cp.prev_signature)
                .verify_slice(&sig)
                .is_ok()
    }
}

/// Automatic checkpoints: a log configured with a policy signs a checkpoint in the same
/// atomic step as every `every`-th record.
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    /// The signing key.
    pub key: CheckpointKey,
    /// Sign after every this-many records (at least 1).
    pub every: u64,
}

impl CheckpointPolicy {
    /// A policy signing every `every` records with `key`; `every` must be at least 1.
    pub fn new(key: CheckpointKey, every: u64) -> Result<Self> {
        if every == 0 {
            return Err(Error::invalid("checkpoint interval", "must be at least 1"));
        }
        Ok(CheckpointPolicy { key, every })
    }

    /// Whether the record with sequence number `seq` gets a checkpoint.
    pub fn due(&self, seq: u64) -> bool {
        seq.is_multiple_of(self.every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // Checks the crate wiring of HMAC-SHA256 against the published vector.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_verify_only_with_the_same_key_and_content() {
        let k = CheckpointKey::new([7u8; 32]).unwrap();
        let other = CheckpointKey::new([8u8; 32]).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let head = ChainHead {
            seq: 3,
            hash: "ab".repeat(32),
        };
        let cp = k.sign(&head, at, None);
        assert!(k.verifies(&cp));
        assert!(!other.verifies(&cp));
        let mut bad = cp.clone();
        bad.seq = 2;
        assert!(!k.verifies(&bad));
        let next = k.sign(&ChainHead { seq: 5, ..head }, at, Some(&cp));
        assert_eq!(next.prev_signature, cp.signature);
        assert!(k.verifies(&next));
        assert!(CheckpointKey::new(b"short").is_err());
        assert!(!format!("{k:?}").contains("7, 7"));
        assert!(CheckpointPolicy::new(k, 0).is_err());
    }
}
