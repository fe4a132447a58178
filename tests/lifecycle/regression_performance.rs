//! Realized performance of a regressor through the monitor: RMSE, MAE and R² of the
//! labelled share against the version's validation metrics, prediction drift of its
//! outputs, and a shifted outcome (concept drift) flagged as degraded.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::drift::StatisticalDriftDetector;
use mlcycle::labels::{InMemoryLabelStore, LabelRecord, LabelStore};
use mlcycle::model::Model;
use mlcycle::monitor::{GroundTruth, Monitor, MonitorConfig};
use mlcycle::train::{RidgeParams, fit_ridge};
use mlcycle::validate::metrics::regressor_metrics;
use ndarray::{Array1, Array2};
use std::sync::Arc;

/// Row `i`: `x` in [0, 10), `c` in {a, b}, and the outcome `3x + 5·[c = b] + noise`.
fn row(i: usize) -> (f64, f64, f64) {
    let x = ((i * 7919) % 1000) as f64 / 100.0;
    let c = (i % 2) as f64;
    let noise = (((i * 104_729) % 200) as f64 - 100.0) / 100.0;
    (x, c, 3.0 * x + 5.0 * c + noise)
}

fn dataset(range: std::ops::Range<usize>) -> Dataset {
    let schema = Schema::new(
        vec![Feature::numeric("x"), Feature::categorical("c", ["a", "b"])],
        Some(Target {
            name: "price".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    let n = range.len();
    let mut x = Array2::zeros((n, 2));
    let mut y = Array1::zeros(n);
    for (k, i) in range.enumerate() {
        let (a, c, t) = row(i);
        x[[k, 0]] = a;
        x[[k, 1]] = c;
        y[k] = t;
    }
    Dataset::new(schema, x, Some(y), None).unwrap()
}

#[tokio::test]
async fn a_regressor_is_measured_on_its_labels_and_a_shifted_outcome_degrades_it() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let train = dataset(0..2_000);
    let model: Arc<dyn Model> =
        Arc::new(fit_ridge(&train, &RidgeParams::default().check().unwrap()).unwrap());
    let holdout = dataset(2_000..2_500);
    let baseline = regressor_metrics(
        holdout.target().unwrap().view(),
        model.predict(holdout.features()).unwrap().values.view(),
    )
    .unwrap();

    // Two hours of traffic (400 single-row requests each); labels for three rows in four.
    // In the second hour the outcome moved up by 6 for the same inputs.
    let log = Arc::new(InMemoryPredictionLog::default());
    let labels = Arc::new(InMemoryLabelStore::default());
    let mut truth: Vec<LabelRecord> = Vec::new();
    for hour in 0..2 {
        let live = dataset(3_000 + 400 * hour..3_400 + 400 * hour);
        let pred = model.predict(live.features()).unwrap().values;
        let mut records = Vec::new();
        for k in 0..live.n_rows() {
            let id = format!("h{hour}-{k}");
            records.push(PredictionRecord {
                request_id: id.clone(),
                at: t0 + Duration::hours(hour as i64) + Duration::seconds(k as i64),
                model_name: "price".into(),
                model_version: 1,
                inputs: vec![live.features().row(k).to_vec()],
                outputs: vec![pred[k]],
                probabilities: vec![],
                latency_us: 3,
                error: None,
                notes: vec![],
            });
            if k % 4 != 3 {
                let y = live.target().unwrap()[k] + if hour == 1 { 6.0 } else { 0.0 };
                truth.push((id, y.to_string(), t0).into());
            }
        }
        log.append(records).await.unwrap();
    }
    labels.record_labels(truth).await.unwrap();

    let monitor = Monitor::new(
        log,
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig::default(),
    )
    .with_ground_truth(GroundTruth {
        labels,
        version: 1,
        model: model.clone(),
        baseline: baseline.clone(),
    });
    let calm = monitor
        .check(&train, t0, t0 + Duration::hours(1))
        .await
        .unwrap();
    let perf = calm.performance.as_ref().unwrap();
    assert_eq!(perf.labelled, 300);
    assert_eq!(perf.coverage, 0.75);
    let keys: Vec<&str> = perf.metrics.keys().map(String::as_str).collect();
    assert_eq!(keys, ["mae", "r2", "rmse"]);
    assert_eq!(perf.baseline.len(), 3);
    assert!(!perf.degraded, "{perf:?}");
    assert!(perf.metrics["rmse"] < 1.0, "{perf:?}");
    // The regressor's outputs, against its outputs on the reference: no drift.
    let outputs = calm.prediction_drift.as_ref().unwrap();
    assert_eq!(outputs.columns[0].name, "prediction");
    assert!(!outputs.dataset_drift);
    assert!(
        calm.estimated_performance.is_none(),
        "CBPE is for binary classifiers"
    );

    let shifted = monitor
        .check(&train, t0 + Duration::hours(1), t0 + Duration::hours(2))
        .await
        .unwrap();
    let perf = shifted.performance.as_ref().unwrap();
    assert!(perf.degraded, "{perf:?}");
    assert!(perf.metrics["mae"] > 5.0, "{perf:?}");
    assert!(perf.metrics["r2"] < perf.baseline["r2"] - 0.1, "{perf:?}");
    assert!(
        !shifted.drift.as_ref().unwrap().dataset_drift,
        "the inputs did not move"
    );
}
