//! Both audit-log backends pass the one conformance suite; automatic checkpoints, the
//! head migration work on the store.

use mlcycle::Error;
use mlcycle::audit::{
    AuditEntry, AuditLog, CheckpointKey, CheckpointPolicy, InMemoryAuditLog, SqliteAuditLog,
    VerifyOptions, audit_conformance,
};
use mlcycle::clock::SystemClock;
use rusqlite::Connection;
use std::sync::Arc;

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        actor: "ann".into(),
        action: "test.appended".into(),
        subjects: vec![format!("s{i}")],
        payload: serde_json::json!({ "i": i }),
        trace_id: "t".into(),
    }
}

fn key() -> CheckpointKey {
    CheckpointKey::new(b"0123456789abcdef-test-key").unwrap()
}

fn broken_at(r: mlcycle::Result<impl std::fmt::Debug>) -> (u64, String) {
    match r {
        Err(Error::AuditBroken { seq, why }) => (seq, why),
        other => panic!("expected AuditBroken, got {other:?}"),
    }
}

#[tokio::test]
async fn in_memory_log_conforms() {
    audit_conformance(&InMemoryAuditLog::new(Arc::new(SystemClock))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_log_conforms() {
    let dir = tempfile::tempdir().unwrap();
    audit_conformance(&SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)).unwrap()).await;
}

async fn automatic_checkpoints(log: &dyn AuditLog) {
    for i in 0..7 {
        log.append(entry(i)).await.unwrap();
    }
    let snap = log.snapshot().await.unwrap();
    let seqs: Vec<u64> = snap.checkpoints.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![3, 6]);
    assert_eq!(
        snap.checkpoints[1].prev_signature,
        snap.checkpoints[0].signature
    );
    let opts = VerifyOptions {
        key: Some(key()),
        expect_every: Some(3),
        trusted: None,
    };
    let v = log.verify_with(&opts).await.unwrap();
    assert_eq!(
        (v.records, v.checkpoints, v.last_checkpoint),
        (7, 2, Some(6))
    );
}

#[tokio::test]
async fn in_memory_log_signs_checkpoints_every_n_records() {
    let log = InMemoryAuditLog::new(Arc::new(SystemClock))
        .with_checkpoints(CheckpointPolicy::new(key(), 3).unwrap());
    automatic_checkpoints(&log).await;
    // A removed checkpoint is noticed when checkpoints are expected every 3 records.
    log.tamper_all_for_tests(|s| {
        s.checkpoints.remove(0);
    });
    let opts = VerifyOptions {
        key: Some(key()),
        expect_every: Some(3),
        trusted: None,
    };
    let (seq, why) = broken_at(log.verify_with(&opts).await);
    assert_eq!(seq, 6, "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_log_signs_checkpoints_every_n_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteAuditLog::open(dir.path(), Arc::new(SystemClock))
        .unwrap()
        .with_checkpoints(CheckpointPolicy::new(key(), 3).unwrap());
    automatic_checkpoints(&log).await;
    let raw = Connection::open(dir.path().join("mlcycle.db")).unwrap();
    raw.execute("DELETE FROM audit_checkpoints WHERE seq = 6", [])
        .unwrap();
    let opts = VerifyOptions {
        key: Some(key()),
        expect_every: Some(3),
        trusted: None,
    };
    let (seq, why) = broken_at(log.verify_with(&opts).await);
    assert_eq!(seq, 6, "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_before_the_head_existed_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)).unwrap();
        for i in 0..3 {
            log.append(entry(i)).await.unwrap();
        }
    }
    // Back to the schema before the audit head migration (no head, no checkpoints).
    let raw = Connection::open(dir.path().join("mlcycle.db")).unwrap();
    raw.execute_batch(
        "DROP TABLE audit_head; DROP TABLE audit_checkpoints; PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(raw);
    let log = SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let snap = log.snapshot().await.unwrap();
    assert_eq!(snap.head.as_ref().map(|h| h.seq), Some(3));
    assert_eq!(log.append(entry(3)).await.unwrap().seq, 4);
    assert_eq!(log.verify().await.unwrap(), 4);
}
