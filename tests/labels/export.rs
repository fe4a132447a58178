//! `mlcycle labels export` and `LabelledDataSource`: production rows joined with their
//! labels become training data.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::clock::SystemClock;
use mlcycle::collect::{FilePredictionLog, InMemoryPredictionLog, PredictionLog, PredictionRecord};
use mlcycle::data::{CsvOptions, Feature, Schema, Target, TargetKind, UnknownLevel, read_csv};
use mlcycle::datasets::LabelledDataSource;
use mlcycle::labels::{InMemoryLabelStore, LabelStore, SqliteLabelStore};
use mlcycle::lifecycle::TrainingDataSource;
use mlcycle::registry::{RegistryExt, SqliteRegistry};
use std::process::Command;
use std::sync::Arc;

fn mlcycle(args: &[&str], store: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Row i of a small labelled table: a number, a category (with gaps) and the class.
fn row(i: usize) -> (String, String, &'static str) {
    let x = format!("{:.2}", (i % 17) as f64 * 0.5 + (i % 3) as f64);
    let color = match i % 4 {
        0 => "red",
        1 => "blue",
        2 => "green",
        _ => "",
    };
    let y = if (i % 17) > 8 { "yes" } else { "no" };
    (x, color.to_string(), y)
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_export_writes_a_training_csv_that_train_and_drift_accept() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let train_csv = dir.path().join("train.csv");
    let mut text = String::from("x,color,y\n");
    for i in 0..300 {
        let (x, c, y) = row(i);
        text.push_str(&format!("{x},{c},{y}\n"));
    }
    std::fs::write(&train_csv, text).unwrap();
    let (ok, out) = mlcycle(
        &[
            "train",
            "--data",
            train_csv.to_str().unwrap(),
            "--target",
            "y",
            "--name",
            "churn",
            "--algorithm",
            "logistic",
            "--categorical",
            "color",
        ],
        &store,
    );
    assert!(ok, "{out}");

    // Logged production requests: one single-row and one three-row request per hour.
    let registry = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    let mv = registry.resolve("churn@latest").await.unwrap();
    let sig = mv.signature.clone();
    let encode = |i: usize| -> Vec<f64> {
        let (x, c, _) = row(i);
        let raw = vec![
            ("x".to_string(), mlcycle::data::RawValue::Text(x)),
            ("color".to_string(), mlcycle::data::RawValue::Text(c)),
        ];
        sig.encode_rows([raw], UnknownLevel::Error)
            .unwrap()
            .row(0)
            .to_vec()
    };
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let log = FilePredictionLog::open(store.join("predictions")).unwrap();
    let mut records = Vec::new();
    for h in 0..4 {
        let at = t0 + Duration::hours(h);
        records.push(PredictionRecord {
            request_id: format!("s{h}"),
            at,
            model_name: "churn".into(),
            model_version: mv.version,
            inputs: vec![encode(h as usize)],
            outputs: vec![0.0],
            probabilities: vec![],
            latency_us: 5,
            error: None,
            notes: vec![],
        });
        records.push(PredictionRecord {
            request_id: format!("m{h}"),
            at: at + Duration::minutes(1),
            model_name: "churn".into(),
            model_version: mv.version,
            inputs: (0..3).map(|r| encode(10 + r)).collect(),
            outputs: vec![0.0; 3],
            probabilities: vec![],
            latency_us: 5,
            error: None,
            notes: vec![],
        });
    }
    // Another model's request with a label under the same key shape is not exported.
    records.push(PredictionRecord {
        request_id: "other".into(),
        at: t0,
        model_name: "fraud".into(),
        model_version: 1,
        inputs: vec![vec![1.0, 0.0]],
        outputs: vec![0.0],
        probabilities: vec![],
        latency_us: 5,
        error: None,
        notes: vec![],
    });
    log.append(records).await.unwrap();
    let labels = SqliteLabelStore::open(&store, Arc::new(SystemClock)).unwrap();
    let mut truth = vec![("other".to_string(), "yes".to_string(), t0).into()];
    for h in 0..4 {
        truth.push((format!("s{h}"), "yes".to_string(), t0).into());
        truth.push((format!("m{h}/0"), "no".to_string(), t0).into());
        truth.push((format!("m{h}/2"), "yes".to_string(), t0).into());
    }
    // A label that is not a class of the model is left out.
    truth.push(("m0/1".to_string(), "maybe".to_string(), t0).into());
    labels.record_labels(truth).await.unwrap();

    let out_csv = dir.path().join("labelled.csv");
    let (ok, out) = mlcycle(
        &[
            "labels",
            "export",
            "--model",
            "churn",
            "--from",
            "2026-03-01T11:00:00Z",
            "--to",
            "2026-03-01T13:00:00Z",
            "--output",
            out_csv.to_str().unwrap(),
        ],
        &store,
    );
    assert!(ok, "{out}");
    // Hours 11 and 12: 2 × (1 + 2) labelled rows.
    assert!(out.contains("wrote 6 labelled rows of churn"), "{out}");
    let written = std::fs::read_to_string(&out_csv).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "x,color,y,timestamp");
    assert_eq!(lines.len(), 7, "{written}");
    let (x1, c1, _) = row(1);
    assert_eq!(
        lines[1],
        format!(
            "{},{c1},yes,{}",
            x1.parse::<f64>().unwrap(),
            (t0 + Duration::hours(1)).to_rfc3339()
        )
    );

    // Without --from/--to: the whole log; the bad label is counted.
    let all_csv = dir.path().join("all.csv");
    let (ok, out) = mlcycle(
        &[
            "labels",
            "export",
            "--model",
            "churn",
            "--output",
            all_csv.to_str().unwrap(),
        ],
        &store,
    );
    assert!(ok, "{out}");
    assert!(out.contains("wrote 12 labelled rows of churn"), "{out}");
    assert!(out.contains("left out (bad_label): 1"), "{out}");
    let back = read_csv(&all_csv, &CsvOptions::with_target("y")).unwrap();
    assert_eq!(back.n_rows(), 12);
    assert_eq!(back.timestamps().unwrap()[0], t0);

    // The export is training data for `mlcycle train` …
    let (ok, out) = mlcycle(
        &[
            "train",
            "--data",
            all_csv.to_str().unwrap(),
            "--target",
            "y",
            "--name",
            "churn-retrained",
            "--algorithm",
            "logistic",
            "--categorical",
            "color",
            "--holdout",
            "0.25",
        ],
        &store,
    );
    assert!(ok, "{out}");
    // … and current data for `mlcycle drift --current`.
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["drift", "--reference"])
        .arg(&train_csv)
        .arg("--current")
        .arg(&all_csv)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    let columns = report["columns"].as_array().unwrap();
    let names: Vec<&str> = columns.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(
        names.contains(&"x") && names.contains(&"color"),
        "{names:?}"
    );

    // Bad input: an unknown model, and a window that ends before it starts.
    let (ok, out) = mlcycle(
        &[
            "labels",
            "export",
            "--model",
            "nope",
            "--output",
            "/dev/null",
        ],
        &store,
    );
    assert!(!ok && out.contains("nope"), "{out}");
    let (ok, out) = mlcycle(
        &[
            "labels",
            "export",
            "--model",
            "churn",
            "--from",
            "2026-03-02T00:00:00Z",
            "--to",
            "2026-03-01T00:00:00Z",
            "--output",
            "/dev/null",
        ],
        &store,
    );
    assert!(!ok && out.contains("--to"), "{out}");
}

#[tokio::test]
async fn labelled_data_source_joins_log_and_labels_into_a_dataset() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let inputs = Schema::new(
        vec![Feature::numeric("x"), Feature::categorical("c", ["a", "b"])],
        None,
    )
    .unwrap();
    let target = Target {
        name: "y".into(),
        kind: TargetKind::Regression,
    };
    let log = Arc::new(InMemoryPredictionLog::default());
    let rec = |id: &str, h: i64, inputs: Vec<Vec<f64>>, error: Option<&str>| PredictionRecord {
        request_id: id.into(),
        at: t0 + Duration::hours(h),
        model_name: "price".into(),
        model_version: 2,
        outputs: vec![0.0; inputs.len()],
        probabilities: vec![],
        inputs,
        latency_us: 1,
        error: error.map(Into::into),
        notes: vec![],
    };
    log.append(vec![
        rec("a", 0, vec![vec![1.0, 0.0]], None),
        rec("b", 1, vec![vec![2.0, f64::NAN], vec![3.0, 1.0]], None),
        rec("c", 2, vec![vec![4.0, 1.0]], Some("model failed")),
        rec("d", 3, vec![vec![5.0, 7.0]], None), // code 7 is no level
        rec("e", 4, vec![vec![6.0]], None),      // another width
        rec("f", 30, vec![vec![7.0, 0.0]], None), // outside the window
    ])
    .await
    .unwrap();
    let labels = Arc::new(InMemoryLabelStore::default());
    labels
        .record_labels(vec![
            ("a", "1.5", t0).into(),
            ("b/1", "2.5", t0).into(),
            ("b/0", "not a number", t0).into(),
            ("c", "9", t0).into(),
            ("d", "9", t0).into(),
            ("e", "9", t0).into(),
            ("f", "9", t0).into(),
        ])
        .await
        .unwrap();
    let source = LabelledDataSource::new(log, labels, "price", inputs, target);
    let joined = source.join(t0, t0 + Duration::days(1)).await.unwrap();
    let d = &joined.dataset;
    assert_eq!(d.n_rows(), 2);
    assert_eq!(d.features().row(0).to_vec(), vec![1.0, 0.0]);
    assert_eq!(d.features().row(1).to_vec(), vec![3.0, 1.0]);
    assert_eq!(d.target().unwrap().to_vec(), vec![1.5, 2.5]);
    assert_eq!(
        d.timestamps().unwrap().to_vec(),
        vec![t0, t0 + Duration::hours(1)]
    );
    assert_eq!(joined.skipped[&mlcycle::labels::Skipped::SchemaMismatch], 2);
    assert_eq!(joined.skipped[&mlcycle::labels::Skipped::BadLabel], 1);
    // Through the lifecycle's trait; an empty window is an empty dataset.
    let via_trait = source.labelled(t0, t0 + Duration::days(1)).await.unwrap();
    assert_eq!(via_trait.id(), d.id());
    let empty = source
        .labelled(t0 + Duration::days(5), t0 + Duration::days(6))
        .await
        .unwrap();
    assert_eq!(empty.n_rows(), 0);
    assert!(source.labelled(t0, t0).await.is_err());
}
