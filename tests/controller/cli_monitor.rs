//! `mlcycle monitor` exit codes: 0 when nothing is wrong, 3 when it would alert; realized
//! performance once labels arrive.

use chrono::TimeZone;
use mlcycle::collect::{FilePredictionLog, PredictionLog};
use mlcycle::registry::{Registry, SqliteRegistry};
use std::process::Command;
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_mlcycle");

#[test]
fn monitor_exits_0_when_nothing_is_wrong_and_3_when_it_would_alert() {
    let store = tempfile::tempdir().unwrap();
    let demo = Command::new(BIN)
        .args(["demo", "--json", "--store"])
        .arg(store.path())
        .output()
        .unwrap();
    assert!(demo.status.success());
    // The demo ends with version 2, trained after the shift (day 30 from 2026-03-02): a
    // pre-shift window differs from its data, a late window does not.
    let monitor = |from: &str, to: &str| {
        Command::new(BIN)
            .args(["monitor", "--store"])
            .arg(store.path())
            .args([
                "--model",
                "credit-default@production",
                "--from",
                from,
                "--to",
                to,
            ])
            .args(["--format", "json"])
            .output()
            .unwrap()
    };
    let early = monitor("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z");
    assert_eq!(early.status.code(), Some(3), "{early:?}");
    let v: serde_json::Value = serde_json::from_slice(&early.stdout).unwrap();
    assert_eq!(v["would_alert"], true);
    assert_eq!(v["version"], 2);
    // Version 1 answered that window: nothing of version 2's to compare.
    assert!(v["prediction_drift"].is_null(), "{v}");
    assert!(v["report"]["seasonality"].is_null(), "no season given");
    // With a season, the drifted window is compared with the same window one season
    // earlier (the report says which, and what it explains).
    let seasonal = Command::new(BIN)
        .args(["monitor", "--store"])
        .arg(store.path())
        .args(["--model", "credit-default@production"])
        .args([
            "--from",
            "2026-03-05T00:00:00Z",
            "--to",
            "2026-03-06T00:00:00Z",
        ])
        .args(["--season", "24h", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        matches!(seasonal.status.code(), Some(0 | 3)),
        "{seasonal:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(&seasonal.stdout).unwrap();
    let s = &v["report"]["seasonality"];
    assert_eq!(s["from"], "2026-03-04T00:00:00Z", "{s}");
    assert_eq!(s["to"], "2026-03-05T00:00:00Z", "{s}");
    assert!(s["rows"].as_u64().unwrap() >= 200, "{s}");
    let explained = s["seasonal_columns"].as_array().unwrap().len()
        + s["unexplained_columns"].as_array().unwrap().len();
    assert_eq!(
        explained as u64,
        v["report"]["drift"]["drifted_columns"].as_u64().unwrap(),
        "{s}"
    );
    let bad = Command::new(BIN)
        .args(["monitor", "--store"])
        .arg(store.path())
        .args(["--model", "credit-default@production", "--season", "90m"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--season"));
    let late = monitor("2026-04-28T00:00:00Z", "2026-04-29T00:00:00Z");
    assert_eq!(late.status.code(), Some(0), "{late:?}");
    let v: serde_json::Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(v["would_alert"], false);
    assert_eq!(v["decision"], "NoAction");
    // No labels yet: the performance object is there, with nothing labelled.
    assert_eq!(v["performance"]["labelled"], 0);
    assert_eq!(v["data_quality"]["faults"], serde_json::json!([]));

    // Before any label: prediction drift and the estimated performance (CBPE) of the
    // window, from the class probabilities in the log against the validation outputs
    // stored with version 2, equal to the library's on the same numbers.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (reference, logged) = rt.block_on(async {
        let registry =
            SqliteRegistry::open(store.path(), Arc::new(mlcycle::clock::SystemClock)).unwrap();
        let artifact = registry.load_artifact("credit-default", 2).await.unwrap();
        let reference = artifact.reference_outputs().unwrap().clone();
        let log = FilePredictionLog::open(store.path().join("predictions")).unwrap();
        let t = |d: u32| chrono::Utc.with_ymd_and_hms(2026, 4, d, 0, 0, 0).unwrap();
        let records = log.read_window(t(28), t(29)).await.unwrap();
        let logged: Vec<f64> = records
            .iter()
            .filter(|r| r.error.is_none() && r.model_version == 2)
            .flat_map(|r| {
                assert_eq!(r.probabilities.len(), r.outputs.len(), "{}", r.request_id);
                r.probabilities.iter().map(|p| p[1])
            })
            .collect();
        (reference, logged)
    });
    assert_eq!(reference.classes.len(), 2);
    assert!(reference.len() >= 100, "{}", reference.len());
    let ref_scores: Vec<f64> = reference.probabilities.iter().map(|p| p[1]).collect();
    let ref_labels: Vec<bool> = reference.labels.iter().map(|y| *y == 1.0).collect();
    let want = mlcycle::monitor::estimate::estimate_performance(&ref_scores, &ref_labels, &logged)
        .unwrap();
    let est = &v["estimated_performance"];
    assert_eq!(est["n"], logged.len(), "{est}");
    for (key, value) in [
        ("accuracy", want.accuracy),
        ("roc_auc", want.roc_auc),
        ("f1", want.f1),
        ("precision", want.precision),
        ("recall", want.recall),
    ] {
        assert_eq!(est[key].as_f64(), Some(value), "{key}: {est}");
    }
    let outputs = |v: &serde_json::Value| -> Vec<(String, bool)> {
        v["prediction_drift"]["columns"]
            .as_array()
            .unwrap_or_else(|| panic!("no prediction drift: {v}"))
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["drift"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    // Late, after the shift version 2 was trained on: its scores look like its validation
    // scores.
    let late_outputs = outputs(&v);
    assert_eq!(late_outputs[0], ("score".to_string(), false));
    assert_eq!(late_outputs[1].0, "class");

    // The same inputs logged again on 10 May with other probabilities (every row 0.98
    // for the second class): the monitor compares the LOGGED outputs, so the scores and
    // the classes drift although the inputs are the same, and CBPE estimates from them.
    let shifted: Vec<mlcycle::collect::PredictionRecord> = rt.block_on(async {
        let log = FilePredictionLog::open(store.path().join("predictions")).unwrap();
        let t = |d: u32| chrono::Utc.with_ymd_and_hms(2026, 4, d, 0, 0, 0).unwrap();
        let mut records = log.read_window(t(28), t(29)).await.unwrap();
        records.retain(|r| r.error.is_none() && r.model_version == 2);
        for r in &mut records {
            r.request_id = format!("shifted-{}", r.request_id);
            r.at += chrono::Duration::days(12);
            r.outputs = vec![1.0; r.inputs.len()];
            r.probabilities = vec![vec![0.02, 0.98]; r.inputs.len()];
        }
        log.append(records.clone()).await.unwrap();
        records
    });
    let rows: usize = shifted.iter().map(|r| r.inputs.len()).sum();
    let out = monitor("2026-05-10T00:00:00Z", "2026-05-11T00:00:00Z");
    assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outputs(&v),
        [("score".to_string(), true), ("class".to_string(), true)]
    );
    let want = mlcycle::monitor::estimate::estimate_performance(
        &ref_scores,
        &ref_labels,
        &vec![0.98; rows],
    )
    .unwrap();
    assert_eq!(v["estimated_performance"]["n"], rows);
    assert_eq!(
        v["estimated_performance"]["accuracy"].as_f64(),
        Some(want.accuracy)
    );

    // Ground truth for two late days of version 2's requests: on 27 April the labels
    // agree with the predictions, on 28 April every label is the other class (the
    // relation between inputs and outcome flipped; the inputs did not move).
    let classes = rt.block_on(async {
        let registry =
            SqliteRegistry::open(store.path(), Arc::new(mlcycle::clock::SystemClock)).unwrap();
        let mv = registry.get_version("credit-default", 2).await.unwrap();
        mv.signature.target.kind.classes().unwrap().to_vec()
    });
    let log = FilePredictionLog::open(store.path().join("predictions")).unwrap();
    let day = |d: u32| chrono::Utc.with_ymd_and_hms(2026, 4, d, 0, 0, 0).unwrap();
    let mut csv = String::from("request_id,label\n");
    let mut counts = [0usize; 2];
    for (k, (d, flip)) in [(27, false), (28, true)].into_iter().enumerate() {
        let records = rt.block_on(log.read_window(day(d), day(d + 1))).unwrap();
        for r in records
            .iter()
            .filter(|r| r.error.is_none() && r.model_version == 2)
        {
            for (row, &out) in r.outputs.iter().enumerate() {
                // Every other scored row gets its label.
                counts[k] += 1;
                if counts[k] % 2 == 0 {
                    continue;
                }
                let c = if flip { 1 - out as usize } else { out as usize };
                let key = if r.inputs.len() == 1 {
                    r.request_id.clone()
                } else {
                    format!("{}/{row}", r.request_id)
                };
                csv.push_str(&format!("{key},{}\n", classes[c]));
            }
        }
    }
    assert!(counts[0] >= 400 && counts[1] >= 400, "{counts:?}");
    let truth = store.path().join("truth.csv");
    std::fs::write(&truth, csv).unwrap();
    let ingest = Command::new(BIN)
        .args(["labels", "ingest", "--input"])
        .arg(&truth)
        .arg("--store")
        .arg(store.path())
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{ingest:?}");

    let agree = monitor("2026-04-27T00:00:00Z", "2026-04-28T00:00:00Z");
    assert_eq!(agree.status.code(), Some(0), "{agree:?}");
    let v: serde_json::Value = serde_json::from_slice(&agree.stdout).unwrap();
    let perf = v["performance"].as_object().unwrap();
    let keys: Vec<&str> = perf.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["baseline", "coverage", "degraded", "labelled", "metrics"]
    );
    let labelled = counts[0].div_ceil(2);
    assert_eq!(v["performance"]["labelled"], labelled);
    let coverage = v["performance"]["coverage"].as_f64().unwrap();
    assert!(
        (coverage - labelled as f64 / counts[0] as f64).abs() < 1e-9,
        "{coverage}"
    );
    assert_eq!(v["performance"]["metrics"]["accuracy"], 1.0);
    assert_eq!(v["performance"]["degraded"], false);
    for name in ["accuracy", "roc_auc", "log_loss", "f1"] {
        assert!(v["performance"]["baseline"][name].is_f64(), "{name}: {v}");
    }
    for class in &classes {
        assert_eq!(v["performance"]["metrics"][format!("recall_{class}")], 1.0);
    }

    let flipped = monitor("2026-04-28T00:00:00Z", "2026-04-29T00:00:00Z");
    assert_eq!(flipped.status.code(), Some(3), "{flipped:?}");
    let v: serde_json::Value = serde_json::from_slice(&flipped.stdout).unwrap();
    assert_eq!(v["performance"]["degraded"], true);
    assert_eq!(v["performance"]["metrics"]["accuracy"], 0.0);
    assert_eq!(v["report"]["drift"]["dataset_drift"], false);
    assert!(
        v["decision"].as_str().unwrap().starts_with("Retrain"),
        "{}",
        v["decision"]
    );
}
