//! A multiclass classifier and a regressor through the whole lifecycle, each with a
//! categorical feature and missing values: train → validate against the champion →
//! register → serve over HTTP → score in batch → monitor with labels → retrain when the
//! relation between inputs and outcome changes (concept drift).

use chrono::{Duration, TimeZone, Utc};
use mlcycle::audit::InMemoryAuditLog;
use mlcycle::clock::SimulatedClock;
use mlcycle::collect::{Collector, InMemoryPredictionLog, PredictionLog};
use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::datasets::LabelledDataSource;
use mlcycle::deploy::http::{HttpConfig, HttpDeployer};
use mlcycle::deploy::{BatchJob, BatchOptions, Deployer, score_file};
use mlcycle::embedded::Stack;
use mlcycle::labels::{InMemoryLabelStore, LabelRecord, LabelStore};
use mlcycle::lifecycle::{LifecycleConfig, MonitoringDecision, TrainingDecision, Trigger};
use mlcycle::registry::{InMemoryRegistry, RegistryExt};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Task {
    Multiclass,
    Regression,
}

const CLASSES: [&str; 3] = ["low", "mid", "high"];

fn schema(task: Task) -> Schema {
    Schema::new(
        vec![
            Feature::numeric("x1"),
            Feature::numeric("x2"),
            Feature::categorical("c", ["a", "b", "c"]),
        ],
        Some(Target {
            name: "y".into(),
            kind: match task {
                Task::Multiclass => TargetKind::Multiclass {
                    classes: CLASSES.map(String::from).to_vec(),
                },
                Task::Regression => TargetKind::Regression,
            },
        }),
    )
    .unwrap()
}

/// A uniform number in [0, 1) from `(stream, i, k)` (splitmix64).
fn unit(stream: u64, i: usize, k: u64) -> f64 {
    let mut z = stream
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((i as u64) << 8 | k);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// `n` rows: `x2` missing in one row of ten, `c` in one of twenty. `flipped` changes the
/// outcome for the same inputs (concept drift): the class moves one up, the value by +15.
fn sample(task: Task, n: usize, stream: u64, flipped: bool) -> Dataset {
    let mut x = ndarray::Array2::zeros((n, 3));
    let mut y = ndarray::Array1::zeros(n);
    for i in 0..n {
        let x1 = 10.0 * unit(stream, i, 0);
        let x2 = 2.0 * unit(stream, i, 1) - 1.0;
        let c = (3.0 * unit(stream, i, 2)).floor().min(2.0);
        let noise = unit(stream, i, 3) - 0.5;
        let score = x1 + 3.0 * f64::from(c == 1.0) - 2.0 * f64::from(c == 2.0) + x2 + noise;
        y[i] = match task {
            Task::Multiclass => {
                let class = if score < 3.0 {
                    0.0
                } else if score < 7.0 {
                    1.0
                } else {
                    2.0
                };
                if flipped { (class + 1.0) % 3.0 } else { class }
            }
            Task::Regression => 2.0 * score + if flipped { 15.0 } else { 0.0 },
        };
        x[[i, 0]] = x1;
        x[[i, 1]] = if i % 10 == 3 { f64::NAN } else { x2 };
        x[[i, 2]] = if i % 20 == 7 { f64::NAN } else { c };
    }
    Dataset::new(schema(task), x, Some(y), None).unwrap()
}

/// Row `i` of `data` as an MLflow `dataframe_records` record (missing as `null`).
fn record(data: &Dataset, i: usize) -> Value {
    let x = data.features();
    let num = |v: f64| if v.is_nan() { Value::Null } else { json!(v) };
    let c = x[[i, 2]];
    json!({
        "x1": num(x[[i, 0]]),
        "x2": num(x[[i, 1]]),
        "c": if c.is_nan() { Value::Null } else { json!(["a", "b", "c"][c as usize]) },
    })
}

/// The label of row `i` as the label store takes it.
fn label(task: Task, data: &Dataset, i: usize) -> String {
    let y = data.target().unwrap()[i];
    match task {
        Task::Multiclass => CLASSES[y as usize].to_string(),
        Task::Regression => y.to_string(),
    }
}

struct Served {
    http: Arc<HttpDeployer>,
    url: String,
    client: reqwest::Client,
}

impl Served {
    /// Send `data` in requests of 10 rows with ids `{prefix}-{k}`; the answers.
    async fn send(&self, data: &Dataset, prefix: &str) -> Vec<Value> {
        let mut answers = Vec::new();
        for k in 0..data.n_rows() / 10 {
            let rows: Vec<Value> = (10 * k..10 * k + 10).map(|i| record(data, i)).collect();
            let r = self
                .client
                .post(format!("{}/invocations", self.url))
                .header("content-type", "application/json")
                .header("x-request-id", format!("{prefix}-{k}"))
                .body(json!({ "dataframe_records": rows }).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            answers.extend(v["predictions"].as_array().unwrap().iter().cloned());
        }
        answers
    }
}

/// Labels for every row sent under `prefix`.
fn labels_for(
    task: Task,
    data: &Dataset,
    prefix: &str,
    at: chrono::DateTime<Utc>,
) -> Vec<LabelRecord> {
    (0..data.n_rows())
        .map(|i| {
            (
                format!("{prefix}-{}/{}", i / 10, i % 10),
                label(task, data, i),
                at,
            )
                .into()
        })
        .collect()
}

async fn lifecycle_end_to_end(task: Task) {
    let name = match task {
        Task::Multiclass => "grade",
        Task::Regression => "price",
    };
    let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(SimulatedClock::new(t0));
    let log = Arc::new(InMemoryPredictionLog::default());
    let labels = Arc::new(InMemoryLabelStore::default());
    let collector = Collector::spawn(log.clone(), 100_000).unwrap();
    let http = Arc::new(
        HttpDeployer::start(
            HttpConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..HttpConfig::default()
            },
            clock.clone(),
            Some(collector.clone()),
        )
        .await
        .unwrap(),
    );
    let mut config = LifecycleConfig::new(name);
    config.cooldown_days = 0;
    config.retrain_min_rows = 400;
    config.monitor.min_rows = 100;
    config.monitor.min_labelled = 50;
    let inputs = schema(task).without_target();
    let target = schema(task).target.unwrap();
    let source = Arc::new(LabelledDataSource::new(
        log.clone(),
        labels.clone(),
        name,
        inputs,
        target,
    ));
    let audit = Arc::new(InMemoryAuditLog::new(clock.clone()));
    let stack = Stack::assemble(
        clock.clone(),
        config,
        Arc::new(InMemoryRegistry::new(clock.clone()).with_audit(audit)),
        log.clone(),
        |b| {
            b.deployer(http.clone())
                .collector(collector.clone())
                .labels(labels.clone())
                .data_source(source)
        },
    )
    .unwrap();
    let lc = &stack.lifecycle;

    // Train, register and deploy v1 (no champion yet), then a challenger validated
    // against it.
    let v1 = lc
        .run_training(&sample(task, 1_500, 1, false), Trigger::Manual)
        .await
        .unwrap();
    assert!(
        matches!(v1.decision, TrainingDecision::Promoted { .. }),
        "{:?}",
        v1.decision
    );
    assert_eq!(v1.champion_version, None);
    let v2 = lc
        .run_training(&sample(task, 1_500, 2, false), Trigger::Manual)
        .await
        .unwrap();
    assert_eq!(v2.champion_version, Some(1));
    assert!(!v2.validation.checks.is_empty());
    let serving = http.current().await.unwrap().version;
    assert_eq!(
        serving,
        if matches!(v2.decision, TrainingDecision::Promoted { .. }) {
            2
        } else {
            1
        }
    );
    // The version keeps its validation outputs: one probability per class.
    let artifact = stack.registry.load_artifact(name, serving).await.unwrap();
    let reference = artifact.reference_outputs().unwrap();
    match task {
        Task::Multiclass => {
            assert_eq!(reference.classes, CLASSES);
            assert!(reference.probabilities.iter().all(|p| p.len() == 3));
        }
        Task::Regression => assert!(reference.probabilities.is_empty()),
    }

    // Day 1: served over HTTP, rows with missing values and categories.
    let served = Served {
        url: format!("http://{}", http.local_addr()),
        http: http.clone(),
        client: reqwest::Client::new(),
    };
    let day = |d: i64| t0 + Duration::days(d);
    clock.set(day(1));
    let day1 = sample(task, 600, 3, false);
    let answers = served.send(&day1, "d1").await;
    assert_eq!(answers.len(), 600);
    for a in &answers {
        match task {
            Task::Multiclass => assert!(CLASSES.contains(&a.as_str().unwrap()), "{a}"),
            Task::Regression => assert!(a.as_f64().unwrap().is_finite(), "{a}"),
        }
    }
    collector.flush().await.unwrap();
    let logged = log.read_window(day(1), day(2)).await.unwrap();
    assert_eq!(logged.len(), 60);
    for r in &logged {
        assert_eq!(r.model_version, serving);
        match task {
            Task::Multiclass => assert!(r.probabilities.iter().all(|p| p.len() == 3)),
            Task::Regression => assert!(r.probabilities.is_empty()),
        }
    }

    // Batch scoring of a file with the same kind of rows, with the served model.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    mlcycle::data::write_csv(&sample(task, 300, 4, false).without_target(), &input).unwrap();
    let model = stack
        .registry
        .load_artifact(name, serving)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let summary = score_file(&BatchJob {
        model: model.as_ref(),
        model_name: name,
        model_version: serving,
        input: &input,
        output: &output,
        // The model imputes missing values: rows with empty cells are scored.
        options: &BatchOptions {
            allow_missing: true,
            ..BatchOptions::default()
        },
        clock: clock.as_ref(),
        progress: None,
        collect: None,
    })
    .unwrap();
    assert_eq!((summary.rows_scored, summary.rows_rejected), (300, 0));
    assert_eq!(
        std::fs::read_to_string(&output).unwrap().lines().count(),
        301
    );

    // Labels arrive for day 1: realized performance close to the validation metrics,
    // prediction drift and no action.
    labels
        .record_labels(labels_for(task, &day1, "d1", day(2)))
        .await
        .unwrap();
    clock.set(day(2));
    let m1 = lc.run_monitoring(day(1), day(2)).await.unwrap();
    assert!(
        matches!(m1.decision, MonitoringDecision::NoAction),
        "{:?}",
        m1.decision
    );
    let report = m1.report.unwrap();
    let perf = report.performance.unwrap();
    assert_eq!(perf.labelled, 600);
    assert!(!perf.degraded, "{perf:?}");
    let metrics: Vec<&str> = perf.metrics.keys().map(String::as_str).collect();
    match task {
        Task::Multiclass => {
            for m in [
                "accuracy",
                "log_loss",
                "recall_low",
                "recall_mid",
                "recall_high",
            ] {
                assert!(metrics.contains(&m), "{m} not in {metrics:?}");
            }
            assert!(perf.metrics["accuracy"] > 0.7, "{perf:?}");
        }
        Task::Regression => {
            assert_eq!(metrics, ["mae", "r2", "rmse"]);
            assert!(perf.metrics["r2"] > 0.8, "{perf:?}");
        }
    }
    assert!(report.prediction_drift.is_some());
    assert!(report.estimated_performance.is_none(), "CBPE is for binary");

    // Day 2: the same kind of inputs, but the outcome moved (concept drift): performance
    // degrades with stable inputs, and the lifecycle retrains on the labelled production
    // rows, validates against the champion and deploys the new version.
    let day2 = sample(task, 1_000, 5, true);
    served.send(&day2, "d2").await;
    collector.flush().await.unwrap();
    labels
        .record_labels(labels_for(task, &day2, "d2", day(3)))
        .await
        .unwrap();
    clock.set(day(3));
    let m2 = lc.run_monitoring(day(2), day(3)).await.unwrap();
    let report = m2.report.as_ref().unwrap();
    let perf = report.performance.as_ref().unwrap();
    assert!(perf.degraded, "{perf:?}");
    assert!(
        !report.drift.as_ref().unwrap().dataset_drift,
        "inputs stable"
    );
    let MonitoringDecision::Retrained { outcome } = &m2.decision else {
        panic!("no retrain: {:?}", m2.decision);
    };
    assert_eq!(outcome.trigger, Trigger::DriftAlert);
    assert_eq!(outcome.champion_version, Some(serving));
    assert!(
        matches!(outcome.decision, TrainingDecision::Promoted { .. }),
        "{:?}",
        outcome.decision
    );
    let retrained = outcome.version.version;
    assert_eq!(served.http.current().await.unwrap().version, retrained);
    let mv = stack
        .registry
        .resolve(&format!("{name}@production"))
        .await
        .unwrap();
    assert_eq!(mv.version, retrained);
    // The new version answers the new relation.
    clock.set(day(4));
    let fresh = sample(task, 200, 6, true);
    let answers = served.send(&fresh, "d4").await;
    let good = match task {
        Task::Multiclass => {
            answers
                .iter()
                .enumerate()
                .filter(|(i, a)| a.as_str() == Some(label(task, &fresh, *i).as_str()))
                .count() as f64
                / 200.0
        }
        Task::Regression => {
            let y = fresh.target().unwrap();
            let mae = answers
                .iter()
                .enumerate()
                .map(|(i, a)| (a.as_f64().unwrap() - y[i]).abs())
                .sum::<f64>()
                / 200.0;
            f64::from(mae < 3.0)
        }
    };
    assert!(good > 0.7, "{task:?}: {good}");
    http.undeploy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiclass_model_goes_through_the_lifecycle() {
    lifecycle_end_to_end(Task::Multiclass).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regression_model_goes_through_the_lifecycle() {
    lifecycle_end_to_end(Task::Regression).await;
}
