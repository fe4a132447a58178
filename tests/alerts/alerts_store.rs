//! The alert-store conformance suite against both built-in stores.

use mlcycle::alerts::{
    Alert, AlertKind, AlertQuery, AlertStore, MemoryAlertStore, Severity, SqliteAlertStore,
    alert_store_conformance,
};

#[tokio::test]
async fn memory_alert_store_conforms() {
    alert_store_conformance(&MemoryAlertStore::default()).await;
}

#[tokio::test]
async fn sqlite_alert_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    alert_store_conformance(&SqliteAlertStore::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn sqlite_alert_store_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Alert::new(
        chrono::Utc::now(),
        Severity::Critical,
        AlertKind::Health,
        "credit",
        "error rate 12% over the last hour: check the service logs",
        "t9",
    );
    a.details = serde_json::json!({"error_rate": 0.12, "requests": 1000});
    SqliteAlertStore::open(dir.path())
        .unwrap()
        .insert(&a, false)
        .await
        .unwrap();
    let again = SqliteAlertStore::open(dir.path()).unwrap();
    let all = again.list(&AlertQuery::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].alert, a);
}
