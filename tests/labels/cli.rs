//! `mlcycle labels ingest` through the real binary.

use chrono::{TimeZone, Utc};
use mlcycle::clock::SystemClock;
use mlcycle::collect::{FilePredictionLog, PredictionLog, PredictionRecord};
use mlcycle::labels::{LabelStore, SqliteLabelStore};
use std::process::Command;
use std::sync::Arc;

fn record(id: &str, rows: usize) -> PredictionRecord {
    PredictionRecord {
        request_id: id.into(),
        at: Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap(),
        model_name: "m".into(),
        model_version: 1,
        inputs: (0..rows).map(|i| vec![i as f64]).collect(),
        outputs: vec![0.0; rows],
        probabilities: vec![],
        latency_us: 10,
        error: None,
        notes: vec![],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_ingest_reports_matches_and_reasons_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    SqliteLabelStore::open(store, Arc::new(SystemClock)).unwrap();
    let log = FilePredictionLog::open(store.join("predictions")).unwrap();
    log.append(vec![record("a", 1), record("b", 2)])
        .await
        .unwrap();
    let csv = store.join("truth.csv");
    std::fs::write(
        &csv,
        "rid,outcome,seen\na,yes,2026-03-02T00:00:00Z\nb/1,no,2026-03-02T00:00:00Z\nb/5,no,2026-03-02T00:00:00Z\nlater,yes,2026-03-02T00:00:00Z\n",
    )
    .unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .args(["labels", "ingest", "--input"])
            .arg(&csv)
            .args([
                "--id-column",
                "rid",
                "--label-column",
                "outcome",
                "--at-column",
                "seen",
            ])
            .arg("--store")
            .arg(store)
            .output()
            .unwrap()
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("recorded 4 labels: 4 new, 0 unchanged, 0 corrected"),
        "{text}"
    );
    assert!(text.contains("matched a logged prediction: 2"), "{text}");
    assert!(text.contains("not matched: 2"), "{text}");
    assert!(text.contains("unknown_id: 1"), "{text}");
    assert!(text.contains("row_out_of_range: 1"), "{text}");

    let again = run();
    let text = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(
        text.contains("4 labels: 0 new, 4 unchanged, 0 corrected"),
        "{text}"
    );
    let labels = SqliteLabelStore::open(store, Arc::new(SystemClock)).unwrap();
    assert_eq!(labels.get("b/1").await.unwrap().unwrap().label, "no");
    assert_eq!(labels.all().await.unwrap().len(), 4);

    // A missing column is an error that names the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["labels", "ingest", "--input"])
        .arg(&csv)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--id-column"));
}
