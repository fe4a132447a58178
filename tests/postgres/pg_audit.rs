//! The audit log on PostgreSQL: the conformance suite, automatic checkpoints, one chain under
//! concurrent appends from several handles, tampering detected.

use crate::pg_support::TestDb;
use mlcycle::Error;
use mlcycle::audit::{
    AuditEntry, AuditLog, CheckpointKey, CheckpointPolicy, PostgresAuditLog, VerifyOptions,
    audit_conformance,
};
use mlcycle::clock::SystemClock;
use std::sync::Arc;

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        actor: "ann".into(),
        action: "test.appended".into(),
        subjects: vec![format!("s{i}")],
        payload: serde_json::json!({ "i": i, "b": [1.5, "x"], "a": null }),
        trace_id: "t".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_log_conforms() {
    let db = TestDb::create().await;
    let log = PostgresAuditLog::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    audit_conformance(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_checkpoints_sign_every_third_record() {
    let db = TestDb::create().await;
    let key = CheckpointKey::new(b"0123456789abcdef-test-key").unwrap();
    let log = PostgresAuditLog::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap()
        .with_checkpoints(CheckpointPolicy::new(key.clone(), 3).unwrap());
    for i in 0..7 {
        log.append(entry(i)).await.unwrap();
    }
    let snap = log.snapshot().await.unwrap();
    let seqs: Vec<u64> = snap.checkpoints.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![3, 6]);
    let opts = VerifyOptions {
        key: Some(key),
        expect_every: Some(3),
        trusted: None,
    };
    assert_eq!(log.verify_with(&opts).await.unwrap().records, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_from_several_handles_form_one_chain() {
    let db = TestDb::create().await;
    let mut tasks = Vec::new();
    for h in 0..4u64 {
        let log = PostgresAuditLog::connect(db.url(), Arc::new(SystemClock))
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                log.append(entry(h * 100 + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = PostgresAuditLog::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(log.verify().await.unwrap(), 100);
    let snap = log.snapshot().await.unwrap();
    let seqs: Vec<u64> = snap.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_record_or_a_deleted_tail_is_found() {
    let db = TestDb::create().await;
    let log = PostgresAuditLog::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    for i in 0..5 {
        log.append(entry(i)).await.unwrap();
    }
    let raw = db.client().await;
    raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", &[])
        .await
        .unwrap();
    match log.verify().await {
        Err(Error::AuditBroken { seq, .. }) => assert_eq!(seq, 3),
        other => panic!("expected AuditBroken at 3, got {other:?}"),
    }
    raw.execute("UPDATE audit_log SET actor = 'ann' WHERE seq = 3", &[])
        .await
        .unwrap();
    assert_eq!(log.verify().await.unwrap(), 5);
    raw.execute("DELETE FROM audit_log WHERE seq >= 4", &[])
        .await
        .unwrap();
    assert!(matches!(log.verify().await, Err(Error::AuditBroken { .. })));
    // A new append chains to the stored head: it cannot hide the truncation.
    assert_eq!(log.append(entry(9)).await.unwrap().seq, 6);
    assert!(matches!(log.verify().await, Err(Error::AuditBroken { .. })));
}
