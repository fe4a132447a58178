//! The other stores on PostgreSQL: labels, alerts and the lifecycle state pass their
//! conformance suites.

use crate::pg_support::TestDb;
use mlcycle::alerts::{PostgresAlertStore, alert_store_conformance};
use mlcycle::clock::SystemClock;
use mlcycle::labels::{LabelRecord, LabelStore, PostgresLabelStore, label_store_conformance};
use mlcycle::lifecycle::{
    LifecycleState, LifecycleStateStore, PostgresLifecycleState, lifecycle_state_conformance,
};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_label_store_conforms() {
    let db = TestDb::create().await;
    let store = PostgresLabelStore::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    label_store_conformance(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_recorded_by_concurrent_handles_keep_one_row_per_key() {
    let db = TestDb::create().await;
    let t = chrono::Utc::now();
    let mut tasks = Vec::new();
    for h in 0..4 {
        let store = PostgresLabelStore::connect(db.url(), Arc::new(SystemClock))
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let batch: Vec<LabelRecord> = (0..20)
                .map(|k| (format!("r{k}").as_str(), format!("l{h}").as_str(), t).into())
                .collect();
            store.record_labels(batch).await.unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        inserted += task.await.unwrap().inserted;
    }
    // Each key is inserted once, whichever handle got there first.
    assert_eq!(inserted, 20);
    let store = PostgresLabelStore::connect(db.url(), Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(store.all().await.unwrap().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_alert_store_conforms() {
    let db = TestDb::create().await;
    let store = PostgresAlertStore::connect(db.url()).await.unwrap();
    alert_store_conformance(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_cooldown_survives_a_restart_on_postgres() {
    use mlcycle::alerts::{Alert, AlertDispatcher, AlertKind, AlertStore, ChannelSink, Severity};
    let db = TestDb::create().await;
    let at = |h: i64| {
        let mut a = Alert::new(
            chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(h),
            Severity::Warning,
            AlertKind::Drift,
            "credit",
            "income drifted",
            "t",
        );
        a.column = Some("income".into());
        a
    };
    let dispatcher = |store: PostgresAlertStore| {
        let (sink, _rx) = ChannelSink::new(8);
        AlertDispatcher::new(std::sync::Arc::new(store)).sink(std::sync::Arc::new(sink))
    };
    let first = dispatcher(PostgresAlertStore::connect(db.url()).await.unwrap());
    assert!(!first.raise(at(0)).await.unwrap().suppressed);
    drop(first);
    let store = PostgresAlertStore::connect(db.url()).await.unwrap();
    assert_eq!(store.cooldowns().await.unwrap().len(), 1);
    let second = dispatcher(store);
    assert!(second.raise(at(1)).await.unwrap().suppressed);
    second
        .clear("credit", AlertKind::Drift, None)
        .await
        .unwrap();
    drop(second);
    let third = dispatcher(PostgresAlertStore::connect(db.url()).await.unwrap());
    assert!(!third.raise(at(2)).await.unwrap().suppressed);
}

#[test]
fn postgres_lifecycle_state_conforms() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDb::create());
    // The trait is synchronous: called from a plain thread.
    let store = PostgresLifecycleState::connect(db.url()).unwrap();
    lifecycle_state_conformance(&store);
    drop(store);
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_state_is_shared_between_handles_and_works_inside_a_runtime() {
    let db = TestDb::create().await;
    let url = db.url().to_string();
    // Called from inside a runtime's task (as the lifecycle does), on two handles.
    tokio::task::spawn_blocking(move || {
        let a = PostgresLifecycleState::connect(&url).unwrap();
        let b = PostgresLifecycleState::connect(&url).unwrap();
        let state = LifecycleState {
            baseline_version: Some(3),
            ..LifecycleState::default()
        };
        a.save("credit", &state, chrono::Utc::now()).unwrap();
        assert_eq!(b.load("credit").unwrap(), Some(state));
    })
    .await
    .unwrap();
    let store = PostgresLifecycleState::connect(db.url()).unwrap();
    assert_eq!(
        store.load("credit").unwrap().unwrap().baseline_version,
        Some(3)
    );
}

#[test]
fn two_people_deciding_at_once_on_two_hosts_make_one_decision() {
    use mlcycle::Error;
    use mlcycle::lifecycle::{ApprovalRecord, ApprovalStatus};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDb::create());
    let t = chrono::Utc::now();
    let a = PostgresLifecycleState::connect(db.url()).unwrap();
    for version in 1..=10 {
        a.request(&ApprovalRecord {
            model: "credit".into(),
            version,
            requested_at: t,
            trigger: "manual".into(),
            summary: serde_json::json!({}),
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            reason: None,
            applied_at: None,
        })
        .unwrap();
    }
    // Each "host" its own handle (own connections); both decide every version at once.
    let deciders: Vec<_> = ["ann", "bob"]
        .into_iter()
        .map(|who| {
            let store = PostgresLifecycleState::connect(db.url()).unwrap();
            std::thread::spawn(move || {
                (1..=10)
                    .map(|v| match store.decide("credit", v, true, who, "ok", t) {
                        Ok(r) => {
                            assert_eq!(r.decided_by.as_deref(), Some(who));
                            1
                        }
                        Err(Error::Conflict(_)) => 0,
                        Err(e) => panic!("unexpected error: {e}"),
                    })
                    .sum::<u32>()
            })
        })
        .collect();
    let decided: u32 = deciders.into_iter().map(|d| d.join().unwrap()).sum();
    assert_eq!(decided, 10, "every version decided exactly once");
    for v in a.approvals(Some("credit")).unwrap() {
        assert_eq!(v.status, ApprovalStatus::Approved);
    }
    drop(a);
    drop(db);
}
