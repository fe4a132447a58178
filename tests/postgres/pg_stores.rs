//! The other stores on PostgreSQL: labels and alerts pass their conformance suites.

use crate::pg_support::TestDb;
use mlcycle::alerts::{PostgresAlertStore, alert_store_conformance};
use mlcycle::clock::SystemClock;
use mlcycle::labels::{LabelRecord, LabelStore, PostgresLabelStore, label_store_conformance};
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
