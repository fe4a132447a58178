//! Both label stores pass the conformance suite; corrections are audited; labels for
//! requests not yet logged are kept and matched when the request appears.

use chrono::{TimeZone, Utc};
use mlcycle::audit::{AuditEvent, AuditLog, AuditQuery, SqliteAuditLog};
use mlcycle::clock::SystemClock;
use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
use mlcycle::labels::{
    InMemoryLabelStore, LabelStore, LoggedRequest, SqliteLabelStore, Unmatched, index_labels,
    join_window, label_store_conformance, match_labels, record_labels_audited,
};
use std::collections::HashMap;
use std::sync::Arc;

#[tokio::test]
async fn the_in_memory_store_conforms() {
    label_store_conformance(&InMemoryLabelStore::default()).await;
}

#[tokio::test]
async fn the_sqlite_store_conforms_and_keeps_labels_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLabelStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
    label_store_conformance(&store).await;
    drop(store);
    let again = SqliteLabelStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
    assert_eq!(again.get("req-b").await.unwrap().unwrap().label, "no");
    assert_eq!(again.all().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_correction_wins_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLabelStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let audit = SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let first = vec![("r1", "yes", t).into(), ("r2", "no", t).into()];
    record_labels_audited(&store, &audit, first, "ops", "day1.csv")
        .await
        .unwrap();
    let s = record_labels_audited(
        &store,
        &audit,
        vec![("r1", "no", t).into(), ("r2", "no", t).into()],
        "ops",
        "day2.csv",
    )
    .await
    .unwrap();
    assert_eq!(
        (s.unchanged, s.corrected.clone()),
        (1, vec!["r1".to_string()])
    );
    assert_eq!(store.get("r1").await.unwrap().unwrap().label, "no");

    let records = audit.query(&AuditQuery::default()).await.unwrap();
    let events: Vec<_> = records
        .iter()
        .map(|r| (r.entry.subjects.clone(), r.entry.event().unwrap()))
        .collect();
    assert_eq!(events.len(), 2);
    match &events[1] {
        (subjects, AuditEvent::LabelsRecorded(p)) => {
            assert_eq!(subjects, &vec!["r1".to_string()]);
            assert_eq!(p.source, "day2.csv");
            assert_eq!((p.received, p.inserted, p.unchanged), (2, 0, 1));
            assert_eq!(p.corrected, vec!["r1".to_string()]);
        }
        other => panic!("expected labels.recorded, got {other:?}"),
    }
    assert_eq!(audit.verify().await.unwrap(), 2);
}

fn record(id: &str, rows: usize, at_hour: u32) -> PredictionRecord {
    PredictionRecord {
        request_id: id.into(),
        at: Utc.with_ymd_and_hms(2026, 3, 1, at_hour, 0, 0).unwrap(),
        model_name: "m".into(),
        model_version: 1,
        inputs: (0..rows).map(|i| vec![i as f64, 1.0]).collect(),
        outputs: (0..rows).map(|i| (i % 2) as f64).collect(),
        probabilities: vec![],
        latency_us: 10,
        error: None,
        notes: vec![],
    }
}

#[tokio::test]
async fn a_label_recorded_before_its_prediction_is_matched_when_it_appears() {
    let labels = InMemoryLabelStore::default();
    let log = InMemoryPredictionLog::default();
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    labels
        .record_labels(vec![("late", "1", t).into()])
        .await
        .unwrap();
    let index = index_labels(labels.all().await.unwrap());
    let window = log
        .read_window(t, t + chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(join_window(&window, &index).is_empty());

    log.append(vec![record("late", 1, 5)]).await.unwrap();
    let window = log
        .read_window(t, t + chrono::Duration::days(1))
        .await
        .unwrap();
    let joined = join_window(&window, &index);
    assert_eq!(joined.len(), 1);
    assert_eq!(
        (joined[0].record.request_id.as_str(), joined[0].row),
        ("late", 0)
    );
    assert_eq!(joined[0].label.label, "1");
}

#[tokio::test]
async fn rows_of_a_multi_row_request_are_addressed_as_request_id_slash_row() {
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let labels: Vec<mlcycle::labels::LabelRecord> = vec![
        ("batch/0", "a", t).into(),
        ("batch/2", "b", t).into(),
        ("batch/3", "a", t).into(),
        ("batch", "a", t).into(),
        ("single", "b", t).into(),
        ("single/0", "b", t).into(),
        ("nobody", "a", t).into(),
        ("single", "zebra", t).into(),
    ];
    let records = vec![record("batch", 3, 1), record("single", 1, 2)];
    let logged: HashMap<String, LoggedRequest> = records
        .iter()
        .map(|r| (r.request_id.clone(), LoggedRequest::from(r)))
        .collect();
    let (summary, reasons) = match_labels(&labels, &logged, |l| l == "a" || l == "b");
    assert_eq!(
        reasons,
        vec![
            None,
            None,
            Some(Unmatched::RowOutOfRange),
            Some(Unmatched::RowNeeded),
            None,
            None,
            Some(Unmatched::UnknownId),
            Some(Unmatched::BadLabel),
        ]
    );
    assert_eq!(summary.matched, 4);
    assert_eq!(summary.unmatched_total(), 4);

    let index = index_labels(labels[..5].to_vec());
    let joined: Vec<(String, usize, String)> = join_window(&records, &index)
        .into_iter()
        .map(|j| (j.record.request_id.clone(), j.row, j.label.label.clone()))
        .collect();
    assert_eq!(
        joined,
        vec![
            ("batch".to_string(), 0, "a".to_string()),
            ("batch".to_string(), 2, "b".to_string()),
            ("single".to_string(), 0, "b".to_string()),
        ]
    );
}
