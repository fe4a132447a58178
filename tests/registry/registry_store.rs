//! The SQLite store on disk: artifact verification, alias time travel, subscriptions that
//! outlive a restart, and the resolution cache.

use crate::registry_support;

use chrono::{Duration, TimeZone, Utc};
use mlcycle::Error;
use mlcycle::clock::{SimulatedClock, SystemClock};
use mlcycle::registry::{
    Change, EventSubscription, Registry, RegistryEventKind, RegistryExt, SqliteRegistry,
};
use registry_support::new_version;
use std::sync::Arc;

fn artifact_path(dir: &std::path::Path, sha: &str) -> std::path::PathBuf {
    dir.join("artifacts").join(&sha[..2]).join(sha)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_or_missing_artifacts_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let v1 = r.register("m", new_version(1, 0.7)).await.unwrap();
    let v2 = r.register("m", new_version(2, 0.7)).await.unwrap();
    r.load_artifact("m", 1).await.unwrap();

    let p1 = artifact_path(dir.path(), &v1.artifact_sha256);
    let mut bytes = std::fs::read(&p1).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&p1, bytes).unwrap();
    match r.load_artifact("m", 1).await {
        Err(Error::CorruptArtifact { sha256, why }) => {
            assert_eq!(sha256, v1.artifact_sha256);
            assert!(why.contains("content hash"), "{why}");
        }
        other => panic!("expected CorruptArtifact, got {other:?}"),
    }
    assert!(matches!(
        r.load_model("m/1").await,
        Err(Error::CorruptArtifact { .. })
    ));

    std::fs::remove_file(artifact_path(dir.path(), &v2.artifact_sha256)).unwrap();
    let err = r.load_artifact("m", 2).await.unwrap_err();
    assert!(matches!(err, Error::CorruptArtifact { .. }), "{err}");
    assert!(err.to_string().contains("corrupt or missing"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_at_answers_what_served_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(SimulatedClock::new(t0));
    let r = SqliteRegistry::open(dir.path(), clock.clone()).unwrap();
    for v in 1..=3 {
        r.register("credit", new_version(v, 0.7)).await.unwrap();
    }
    let day = |d: i64| t0 + Duration::days(d);
    clock.set(day(1));
    r.set_alias("credit", "production", 1, Change::new("ops", "launch"))
        .await
        .unwrap();
    clock.set(day(10));
    r.set_alias("credit", "production", 2, Change::new("ops", "retrained"))
        .await
        .unwrap();
    clock.set(day(20));
    r.set_alias("credit", "production", 3, Change::new("ops", "retrained"))
        .await
        .unwrap();
    clock.set(day(25));
    r.set_alias("credit", "production", 2, Change::new("ops", "rollback"))
        .await
        .unwrap();
    clock.set(day(30));
    r.delete_alias("credit", "production", Change::new("ops", "retired"))
        .await
        .unwrap();
    for (d, expected) in [
        (0, None),
        (1, Some(1)),
        (5, Some(1)),
        (10, Some(2)),
        (19, Some(2)),
        (22, Some(3)),
        (25, Some(2)),
        (29, Some(2)),
        (30, None),
        (40, None),
    ] {
        assert_eq!(
            r.alias_at("credit", "production", day(d)).await.unwrap(),
            expected,
            "day {d}"
        );
    }
    let history = r.alias_history("credit", Some("production")).await.unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[3].change.reason, "rollback");
    assert_eq!(history[3].at, day(25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_restarts_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = Arc::new(SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap());
    // A follower in its own task, handing back each event's seq.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sub = EventSubscription::new(r.clone(), 0);
    let follower = tokio::spawn(async move {
        loop {
            match sub.next().await {
                Ok(e) => {
                    if tx.send(e.seq).is_err() {
                        return;
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    r.register("m", new_version(1, 0.5)).await.unwrap();
    r.set_tag("m", 1, "k", "v").await.unwrap();
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    // The follower "crashes" after handling seq 2 (its stored cursor).
    follower.abort();
    let _ = follower.await;
    drop(rx);
    // Changes happen while it is down, from a different handle (as another process would).
    let other = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    other.register("m", new_version(2, 0.5)).await.unwrap();
    other
        .set_alias("m", "production", 2, Change::new("ops", "go"))
        .await
        .unwrap();
    drop(other);
    // It restarts from its cursor: replay, then live.
    let reopened = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let mut sub = reopened.subscribe(2);
    assert_eq!(sub.next().await.unwrap().seq, 3);
    let e = sub.next().await.unwrap();
    assert_eq!(e.seq, 4);
    assert!(matches!(e.kind, RegistryEventKind::AliasSet { .. }));
    let (e, _) = tokio::join!(
        sub.next(),
        reopened.set_status(
            "m",
            2,
            mlcycle::registry::VersionStatus::Approved,
            Change::new("ops", "ok")
        )
    );
    assert_eq!(e.unwrap().seq, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolution_cache_follows_changes_from_other_handles() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let b = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    for v in 1..=2 {
        a.register("m", new_version(v, 0.5)).await.unwrap();
    }
    a.set_alias("m", "prod", 1, Change::new("t", ""))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(a.resolve("m@prod").await.unwrap().version, 1);
        assert_eq!(b.resolve("m@prod").await.unwrap().version, 1);
    }
    b.set_alias("m", "prod", 2, Change::new("t", ""))
        .await
        .unwrap();
    assert_eq!(a.resolve("m@prod").await.unwrap().version, 2);
    a.set_tag("m", 2, "k", "v").await.unwrap();
    assert_eq!(b.resolve("m@prod").await.unwrap().tags["k"], "v");
    b.register("m", new_version(3, 0.5)).await.unwrap();
    assert_eq!(a.resolve("m@latest").await.unwrap().version, 3);
    a.delete_alias("m", "prod", Change::new("t", ""))
        .await
        .unwrap();
    assert!(matches!(
        b.resolve("m@prod").await,
        Err(Error::NotFound { .. })
    ));
}
