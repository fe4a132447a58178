//! The registry on PostgreSQL: the conformance suite (plain and audited), migrations racing,
//! artifacts verified on load, live events across handles.

use crate::pg_support::TestDb;
use mlcycle::Error;
use mlcycle::clock::SystemClock;
use mlcycle::registry::{PostgresRegistry, Registry, registry_conformance};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_registry_conforms() {
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    registry_conformance(&r).await;
    // Everything it wrote is there for another handle (another process, in production).
    let other = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    let versions = other.list_versions("churn").await.unwrap();
    assert_eq!(versions.len(), 28);
    for v in versions {
        other.load_artifact("churn", v.version).await.unwrap();
    }
    assert!(
        r.gc().await.unwrap().len() >= 2,
        "deleted versions' artifacts are collected"
    );
    for v in other.list_versions("churn").await.unwrap() {
        other.load_artifact("churn", v.version).await.unwrap();
    }
}

#[tokio::test]
async fn postgres_registry_conforms_on_a_current_thread_runtime() {
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    registry_conformance(&r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audited_postgres_registry_conforms() {
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect_audited(db.url(), Arc::new(SystemClock), None)
        .await
        .unwrap();
    registry_conformance(&r).await;
    let log = r.audit_log().unwrap();
    assert!(log.verify().await.unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_artifact_is_refused_on_load() {
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    let mv = r
        .register("m", crate::pg_processes::new_version(1))
        .await
        .unwrap();
    r.load_artifact("m", 1).await.unwrap();
    db.client()
        .await
        .execute(
            "UPDATE artifacts SET bytes = bytes || '\\x20'::bytea WHERE sha256 = $1",
            &[&mv.artifact_sha256],
        )
        .await
        .unwrap();
    match r.load_artifact("m", 1).await {
        Err(Error::CorruptArtifact { sha256, .. }) => assert_eq!(sha256, mv.artifact_sha256),
        other => panic!("expected CorruptArtifact, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_racing_on_a_fresh_database_migrate_once() {
    let db = TestDb::create().await;
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url().to_string();
            tokio::spawn(async move {
                PostgresRegistry::connect_audited(&url, Arc::new(SystemClock), None).await
            })
        })
        .collect();
    let mut handles = Vec::new();
    for o in opens {
        handles.push(o.await.unwrap().expect("every racing open succeeds"));
    }
    let rows = db
        .client()
        .await
        .query("SELECT version FROM mlcycle_schema", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get::<_, i32>(0) >= 1);
    // All handles work on the one schema.
    for (i, h) in handles.iter().enumerate() {
        let mv = h
            .register("raced", crate::pg_processes::new_version(i as u64))
            .await
            .unwrap();
        assert_eq!(mv.version, i as u32 + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_mlcycle_is_refused() {
    let db = TestDb::create().await;
    drop(
        PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
            .await
            .unwrap(),
    );
    db.client()
        .await
        .execute("UPDATE mlcycle_schema SET version = 999", &[])
        .await
        .unwrap();
    match PostgresRegistry::connect(db.url(), Arc::new(SystemClock)).await {
        Err(Error::Conflict(m)) => assert!(m.contains("upgrade mlcycle"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error() {
    // A port nothing listens on (the test server's port + 1 would be a guess; 1 is reserved).
    match PostgresRegistry::connect("postgres://postgres@127.0.0.1:1/x", Arc::new(SystemClock))
        .await
    {
        Err(e) => {
            let m = e.to_string();
            assert!(m.contains("127.0.0.1:1/x"), "{m}");
            assert!(m.contains("check that the server is running"), "{m}");
        }
        Ok(_) => panic!("connected to a port nothing listens on"),
    }
    match PostgresRegistry::connect("not a url ://", Arc::new(SystemClock)).await {
        Err(Error::InvalidInput { .. }) => {}
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_reach_a_handle_that_did_not_make_them() {
    use mlcycle::registry::RegistryExt;
    let db = TestDb::create().await;
    let writer = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    let follower = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    // The live channel alone (no polling): a NOTIFY from the writer's commit wakes it.
    let mut live = follower.live_events().unwrap();
    writer
        .register("live", crate::pg_processes::new_version(7))
        .await
        .unwrap();
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), live.recv())
        .await
        .expect("a live event within 30 s")
        .unwrap();
    assert_eq!(e.seq, 1);
    // And a subscription replays from the table.
    let mut sub = follower.subscribe(0);
    assert_eq!(sub.next().await.unwrap().seq, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_audit_record_cannot_be_appended_is_not_made() {
    use mlcycle::registry::{Change, VersionStatus};
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect_audited(db.url(), Arc::new(SystemClock), None)
        .await
        .unwrap();
    for i in 0..2 {
        r.register("m", crate::pg_processes::new_version(i))
            .await
            .unwrap();
    }
    r.set_alias("m", "production", 1, Change::new("ann", "first"))
        .await
        .unwrap();
    let log = r.audit_log().unwrap();
    assert_eq!(log.verify().await.unwrap(), 3);
    let events = r.events_since(0).await.unwrap().len();

    // A stray row where the next record must go: every append now fails.
    let raw = db.client().await;
    raw.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subjects, payload, trace_id, prev_hash,
           hash) VALUES (4, now(), 'x', 'x', '[]', '{}', 'x', 'x', 'x')",
        &[],
    )
    .await
    .unwrap();
    let err = r
        .set_alias("m", "production", 2, Change::new("bob", "second"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuditBroken { seq: 4, .. }), "{err:?}");
    assert!(
        r.register("m", crate::pg_processes::new_version(9))
            .await
            .is_err()
    );
    assert!(
        r.set_status("m", 2, VersionStatus::Approved, Change::new("bob", "ok"))
            .await
            .is_err()
    );
    // Nothing of the refused changes is stored: not the alias, the version, the status, the
    // histories nor the events.
    assert_eq!(r.get_alias("m", "production").await.unwrap(), Some(1));
    assert_eq!(r.alias_history("m", None).await.unwrap().len(), 1);
    assert_eq!(r.list_versions("m").await.unwrap().len(), 2);
    assert_eq!(r.status_history("m", Some(2)).await.unwrap().len(), 1);
    assert_eq!(r.events_since(0).await.unwrap().len(), events);

    // Once the stray row is gone, changes go through again, numbered as if the refused
    // registration had never happened.
    raw.execute("DELETE FROM audit_log WHERE seq = 4", &[])
        .await
        .unwrap();
    assert_eq!(
        r.register("m", crate::pg_processes::new_version(10))
            .await
            .unwrap()
            .version,
        3
    );
    assert_eq!(log.verify().await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_sees_every_event_once_in_order_while_writers_race() {
    const WRITERS: u64 = 4;
    const EACH: u64 = 10;
    let db = TestDb::create().await;
    let follower = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    let mut sub = follower.subscribe_owned(0);
    let expected = (WRITERS * EACH) as usize;
    let follow = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < expected {
            seen.push(sub.next().await.unwrap().seq);
        }
        seen
    });
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let r = PostgresRegistry::connect(db.url(), Arc::new(SystemClock))
            .await
            .unwrap();
        writers.push(tokio::spawn(async move {
            // Each writer its own model: the writes overlap (no shared model lock).
            for i in 0..EACH {
                r.register(
                    &format!("m{w}"),
                    crate::pg_processes::new_version(w * 100 + i),
                )
                .await
                .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), follow)
        .await
        .expect("the follower saw every event within 60 s")
        .unwrap();
    assert_eq!(seen, (1..=expected as u64).collect::<Vec<_>>());
}
