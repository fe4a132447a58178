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
    let late = monitor("2026-04-28T00:00:00Z", "2026-04-29T00:00:00Z");
    assert_eq!(late.status.code(), Some(0), "{late:?}");
    let v: serde_json::Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(v["would_alert"], false);
    assert_eq!(v["decision"], "NoAction");
    // No labels yet: the performance object is there, with nothing labelled.
    assert_eq!(v["performance"]["labelled"], 0);
    assert_eq!(v["data_quality"]["faults"], serde_json::json!([]));

    // The demo's upstream bug blanks most `income` values for a few days: a fault of the
    // pipeline, listed as `{column, kind, detail}`.
    let fault = monitor("2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z");
    assert_eq!(fault.status.code(), Some(3), "{fault:?}");
    let v: serde_json::Value = serde_json::from_slice(&fault.stdout).unwrap();
    let faults = v["data_quality"]["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{faults:?}");
    let keys: Vec<&str> = faults[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["column", "detail", "kind"]);
    assert_eq!(faults[0]["column"], "income");
    assert_eq!(faults[0]["kind"], "missing_surge");
    assert!(
        v["decision"]
            .as_str()
            .unwrap()
            .starts_with("DataQualityFault"),
        "{}",
        v["decision"]
    );
    for key in ["estimated_performance", "prediction_drift"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }

    // Ground truth for two late days of version 2's requests: on 27 April the labels
    // agree with the predictions, on 28 April every label is the other class (the
    // relation between inputs and outcome flipped; the inputs did not move).
    let rt = tokio::runtime::Runtime::new().unwrap();
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
