//! The dispatcher: owner, deduplication and cooldown per (model, kind, column), re-arming
//! when a condition clears, the channel sink.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::alerts::{
    Alert, AlertDispatcher, AlertKind, AlertQuery, AlertStore, ChannelSink, LogSink,
    MemoryAlertStore, Severity, SqliteAlertStore,
};
use std::sync::Arc;

fn drift_at(hours: i64, column: Option<&str>) -> Alert {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap();
    let mut a = Alert::new(
        t0 + Duration::hours(hours),
        Severity::Warning,
        AlertKind::Drift,
        "credit",
        "income drifted: investigate the source or retrain",
        "t",
    );
    a.column = column.map(str::to_string);
    a
}

#[tokio::test]
async fn the_same_condition_within_the_cooldown_is_delivered_once() {
    let store = Arc::new(MemoryAlertStore::default());
    let (sink, mut rx) = ChannelSink::new(32);
    let d = AlertDispatcher::new(store.clone())
        .sink(Arc::new(sink))
        .sink(Arc::new(LogSink))
        .cooldown(Duration::hours(6))
        .default_owner("ann");

    let first = d.raise(drift_at(0, Some("income"))).await.unwrap();
    assert!(!first.suppressed);
    assert_eq!(first.status(), "delivered");
    // Same key one hour later: stored, suppressed, not delivered.
    let second = d.raise(drift_at(1, Some("income"))).await.unwrap();
    assert!(second.suppressed);
    assert_eq!(second.status(), "suppressed");
    assert!(second.attempts.is_empty());
    // Another column is another key.
    assert!(!d.raise(drift_at(1, Some("age"))).await.unwrap().suppressed);
    // After the cooldown: delivered again.
    assert!(
        !d.raise(drift_at(7, Some("income")))
            .await
            .unwrap()
            .suppressed
    );

    let mut got = Vec::new();
    while let Ok(a) = rx.try_recv() {
        got.push((a.column.clone().unwrap(), a.at, a.owner.clone()));
    }
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|g| g.2.as_deref() == Some("ann")));
    assert_eq!(store.list(&AlertQuery::default()).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_cleared_condition_rearms_at_once() {
    let (sink, mut rx) = ChannelSink::new(8);
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default()))
        .sink(Arc::new(sink))
        .cooldown(Duration::days(7));
    d.raise(drift_at(0, None)).await.unwrap();
    assert!(d.raise(drift_at(1, None)).await.unwrap().suppressed);
    d.clear("credit", AlertKind::Drift, None).await.unwrap();
    assert!(!d.raise(drift_at(2, None)).await.unwrap().suppressed);
    assert_eq!(rx.recv().await.unwrap().at, drift_at(0, None).at);
    assert_eq!(rx.recv().await.unwrap().at, drift_at(2, None).at);
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn the_cooldown_and_its_clearing_survive_a_restart_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let dispatcher = |sink: ChannelSink| {
        AlertDispatcher::new(Arc::new(SqliteAlertStore::open(dir.path()).unwrap()))
            .sink(Arc::new(sink))
            .cooldown(Duration::days(7))
    };
    let (sink, mut rx) = ChannelSink::new(8);
    let first = dispatcher(sink);
    assert!(
        !first
            .raise(drift_at(0, Some("income")))
            .await
            .unwrap()
            .suppressed
    );
    drop(first);
    // A new process: the condition delivered an hour ago is still within the cooldown ...
    let (sink, _rx2) = ChannelSink::new(8);
    let second = dispatcher(sink);
    let again = second.raise(drift_at(1, Some("income"))).await.unwrap();
    assert!(again.suppressed, "a restart must not re-deliver: {again:?}");
    // ... another column is not,
    assert!(
        !second
            .raise(drift_at(1, Some("age")))
            .await
            .unwrap()
            .suppressed
    );
    // and a clearing is kept too: the next process delivers the next occurrence at once.
    second
        .clear("credit", AlertKind::Drift, Some("income"))
        .await
        .unwrap();
    drop(second);
    let (sink, mut rx3) = ChannelSink::new(8);
    let third = dispatcher(sink);
    assert!(
        !third
            .raise(drift_at(2, Some("income")))
            .await
            .unwrap()
            .suppressed
    );
    assert!(
        third
            .raise(drift_at(3, Some("age")))
            .await
            .unwrap()
            .suppressed
    );
    assert_eq!(rx.recv().await.unwrap().at, drift_at(0, None).at);
    assert_eq!(rx3.recv().await.unwrap().at, drift_at(2, None).at);
    assert!(rx3.try_recv().is_err());
}

#[tokio::test]
async fn a_dropped_channel_is_a_failed_delivery() {
    let (sink, rx) = ChannelSink::new(1);
    drop(rx);
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default())).sink(Arc::new(sink));
    let r = d.raise(drift_at(0, None)).await.unwrap();
    assert_eq!(r.status(), "failed");
    assert!(r.attempts[0].error.as_deref().unwrap().contains("dropped"));
}

#[test]
fn kinds_have_their_snake_case_names() {
    let names: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "drift",
            "data_quality",
            "health",
            "validation_failed",
            "approval_needed",
            "released",
            "rolled_back",
            "performance"
        ]
    );
    for k in AlertKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        assert_eq!(AlertKind::parse(k.as_str()), Some(*k));
    }
    assert_eq!(serde_json::to_value(Severity::Info).unwrap(), "info");
}
