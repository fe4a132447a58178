//! The conformance suite every [`AuditLog`] backend must pass (feature `conformance`).

use super::{
    AuditEntry, AuditLog, AuditQuery, AuditRecord, CheckpointKey, GENESIS_HASH, VerifyOptions,
    record_hash,
};
use crate::Error;
use serde_json::json;

// A failed check names the broken property with the values cut short, not a Debug dump.
macro_rules! assert_eq {
    ($($t:tt)+) => { crate::conformance_support::suite_assert_eq!("audit log", $($t)+) };
}

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        actor: if i.is_multiple_of(2) {
            "ann"
        } else {
            "lifecycle"
        }
        .into(),
        action: ["dataset.registered", "training.started", "alias.moved"][i % 3].into(),
        subjects: if i % 4 == 3 {
            vec![]
        } else {
            vec![format!("credit/{}", i % 3), format!("d{i}")]
        },
        payload: json!({
            "i": i, "ratio": 0.1 + i as f64 / 3.0, "tiny": 1e-300, "text": "naïve ✓ \"quoted\"\n",
            "nested": {"z": [1, 2, {"b": null, "a": true}], "a": -0.0},
        }),
        trace_id: format!("trace-{}", i / 4),
    }
}

fn expect_broken<T: std::fmt::Debug>(r: crate::Result<T>, what: &str) {
    if !matches!(r, Err(Error::AuditBroken { .. })) {
        crate::conformance_support::broken(
            "audit log",
            what,
            format!(
                "expected AuditBroken, got {}",
                crate::conformance_support::outcome(&r)
            ),
        );
    }
}

/// Run the audit-log conformance suite against `log`, which must be empty. Panics with a
/// message naming the broken rule.
///
/// Checks: sequence numbers and chaining of appended records; records read back exactly
/// as appended (payload JSON included); `query` filters and order; the stored head;
/// concurrent appends never fork the chain; on-demand checkpoints (idempotent when the
/// head has not moved, chained signatures, verification with the right and a wrong key).
pub async fn audit_conformance(log: &dyn AuditLog) {
    // Empty.
    assert_eq!(log.verify().await.expect("empty log verifies"), 0);
    let snap = log.snapshot().await.expect("snapshot");
    assert!(snap.records.is_empty() && snap.head.is_none() && snap.checkpoints.is_empty());
    let key = CheckpointKey::new([42u8; 32]).expect("key");
    assert_eq!(
        log.checkpoint(&key).await.expect("checkpoint of empty log"),
        None
    );

    // Appends chain.
    let mut appended: Vec<AuditRecord> = Vec::new();
    for i in 0..8 {
        let r = log.append(entry(i)).await.expect("append");
        assert_eq!(r.seq, i as u64 + 1, "sequence numbers are 1, 2, ...");
        let prev = appended.last().map_or(GENESIS_HASH, |p| p.hash.as_str());
        assert_eq!(
            r.prev_hash, prev,
            "record {} chains to the previous one",
            r.seq
        );
        assert_eq!(r.hash, record_hash(&r.prev_hash, r.seq, r.at, &r.entry));
        assert_eq!(r.entry, entry(i), "the entry is stored as given");
        appended.push(r);
    }
    let all = log.query(&AuditQuery::default()).await.expect("query");
    assert_eq!(all, appended, "records read back exactly as appended");
    assert_eq!(log.verify().await.expect("verify"), 8);
    let snap = log.snapshot().await.expect("snapshot");
    assert_eq!(snap.records, appended);
    assert_eq!(
        snap.head,
        Some(appended[7].head()),
        "the head is the last record"
    );

    // Queries.
    let queries = [
        AuditQuery {
            action: Some("alias.moved".into()),
            ..Default::default()
        },
        AuditQuery {
            subject: Some("credit/1".into()),
            ..Default::default()
        },
        AuditQuery {
            trace_id: Some("trace-1".into()),
            ..Default::default()
        },
        AuditQuery {
            since: Some(appended[5].at),
            ..Default::default()
        },
        AuditQuery {
            action: Some("no.such.action".into()),
            ..Default::default()
        },
    ];
    for q in &queries {
        let want: Vec<AuditRecord> = appended.iter().filter(|r| q.matches(r)).cloned().collect();
        assert_eq!(log.query(q).await.expect("query"), want, "query {q:?}");
    }

    // Concurrent appends are serialised.
    let (a, b, c, d) = tokio::join!(
        log.append(entry(8)),
        log.append(entry(9)),
        log.append(entry(10)),
        log.append(entry(11))
    );
    let mut seqs: Vec<u64> = [a, b, c, d]
        .into_iter()
        .map(|r| r.expect("concurrent append").seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        vec![9, 10, 11, 12],
        "concurrent appends get distinct numbers"
    );
    assert_eq!(
        log.verify().await.expect("verify after concurrent appends"),
        12
    );

    // Checkpoints.
    let cp = log
        .checkpoint(&key)
        .await
        .expect("checkpoint")
        .expect("a non-empty log gets a checkpoint");
    assert_eq!(cp.seq, 12);
    assert_eq!(cp.prev_signature, "");
    assert!(key.verifies(&cp));
    let again = log
        .checkpoint(&key)
        .await
        .expect("checkpoint")
        .expect("some");
    assert_eq!(
        again, cp,
        "checkpointing an unchanged head returns the same checkpoint"
    );
    log.append(entry(12)).await.expect("append");
    let cp2 = log
        .checkpoint(&key)
        .await
        .expect("checkpoint")
        .expect("some");
    assert_eq!(cp2.seq, 13);
    assert_eq!(cp2.prev_signature, cp.signature, "checkpoints are chained");
    assert_eq!(
        log.snapshot().await.expect("snapshot").checkpoints,
        vec![cp, cp2.clone()]
    );
    let v = log
        .verify_with(&VerifyOptions {
            key: Some(key.clone()),
            expect_every: None,
            trusted: Some(cp2),
        })
        .await
        .expect("verifies with the signing key");
    assert_eq!(v.records, 13);
    assert_eq!(v.checkpoints, 2);
    assert!(v.signatures_checked);
    let wrong = CheckpointKey::new([7u8; 32]).expect("key");
    expect_broken(
        log.verify_with(&VerifyOptions {
            key: Some(wrong),
            ..Default::default()
        })
        .await,
        "verification with another key",
    );
    assert_eq!(
        log.verify().await.expect("still verifies without a key"),
        13
    );
}
