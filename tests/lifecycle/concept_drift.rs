//! Concept drift: the labels stop following the inputs the way they did in training while
//! the inputs stay the same. Realized performance on the labelled share drops below the
//! serving version's validation metrics, a `performance` alert is raised and the lifecycle
//! retrains on the labelled production rows — though no input column moved.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mlcycle::alerts::AlertKind;
use mlcycle::audit::{AuditQuery, InMemoryAuditLog, actions};
use mlcycle::clock::Clock;
use mlcycle::clock::SimulatedClock;
use mlcycle::collect::{InMemoryPredictionLog, PredictionLog};
use mlcycle::data::Dataset;
use mlcycle::datasets::LabelledDataSource;
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::labels::{InMemoryLabelStore, LabelRecord, LabelStore};
use mlcycle::lifecycle::{LifecycleConfig, MonitoringDecision, Trigger};
use mlcycle::registry::InMemoryRegistry;
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

/// Score every row of `live` as its own request `{prefix}{i}` at the clock's time, and
/// return the labels: the true class, or the other one when `flip`.
async fn serve(
    stack: &Stack,
    live: &Dataset,
    prefix: &str,
    flip: bool,
    at: DateTime<Utc>,
) -> Vec<LabelRecord> {
    let x = live.features();
    let y = live.target().unwrap();
    let classes = live
        .schema()
        .target
        .as_ref()
        .unwrap()
        .kind
        .classes()
        .unwrap()
        .to_vec();
    let mut labels = Vec::new();
    for i in 0..live.n_rows() {
        let id = format!("{prefix}{i}");
        stack
            .deployer
            .predict(ScoreRequest {
                rows: x.slice(ndarray::s![i..i + 1, ..]).to_owned(),
                request_id: Some(id.clone()),
            })
            .await
            .unwrap();
        // Ground truth for two rows in three.
        if i % 3 != 2 {
            let c = y[i] as usize;
            let c = if flip { 1 - c } else { c };
            labels.push((id, classes[c].clone(), at).into());
        }
    }
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_that_flip_their_relation_with_stable_inputs_degrade_performance_and_retrain() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(SimulatedClock::new(t0));
    let g = CreditDefault::new(11);
    let history = g.sample(4_000, &DriftSpec::none(), 0).unwrap();
    let schema = history.schema().clone();
    let log: Arc<dyn PredictionLog> = Arc::new(InMemoryPredictionLog::default());
    let labels = Arc::new(InMemoryLabelStore::default());
    let source = Arc::new(LabelledDataSource::new(
        log.clone(),
        labels.clone(),
        "credit",
        schema.without_target(),
        schema.target.clone().unwrap(),
    ));
    let mut config = LifecycleConfig::new("credit");
    config.cooldown_days = 0;
    config.retrain_min_rows = 500;
    let stack = Stack::assemble(
        clock.clone(),
        config,
        Arc::new(
            InMemoryRegistry::new(clock.clone())
                .with_audit(Arc::new(InMemoryAuditLog::new(clock.clone()))),
        ),
        log,
        |b| b.labels(labels.clone()).data_source(source),
    )
    .unwrap();
    let first = stack
        .lifecycle
        .run_training(&history, Trigger::Manual)
        .await
        .unwrap();
    let v1 = first.version.version;

    // Window 1: the labels follow the inputs as in training — nothing to do.
    clock.set(t0 + Duration::hours(1));
    let live = g.sample(900, &DriftSpec::none(), 1).unwrap();
    let truth = serve(&stack, &live, "a", false, clock.now()).await;
    labels.record_labels(truth).await.unwrap();
    let calm = stack
        .lifecycle
        .run_monitoring(t0 + Duration::hours(1), t0 + Duration::hours(2))
        .await
        .unwrap();
    let report = calm.report.as_ref().unwrap();
    let perf = report.performance.as_ref().expect("realized performance");
    assert_eq!(perf.labelled, 600);
    assert!((perf.coverage - 600.0 / 900.0).abs() < 1e-12);
    assert!(!perf.degraded, "{perf:?}");
    assert!(perf.baseline.contains_key("accuracy"), "{perf:?}");
    assert_eq!(calm.decision, MonitoringDecision::NoAction);
    // Before labels: CBPE from the scores alone, close to the realized accuracy; the
    // outputs did not drift either.
    let est = report.estimated_performance.expect("estimated performance");
    assert_eq!(est.n, 900);
    assert!(
        (est.accuracy - perf.metrics["accuracy"]).abs() < 0.05,
        "{est:?} vs {perf:?}"
    );
    let outputs = report.prediction_drift.as_ref().expect("prediction drift");
    let names: Vec<&str> = outputs.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["score", "class"]);
    assert!(!outputs.dataset_drift);

    // Window 2: the same input distribution, but every label is the other class.
    clock.set(t0 + Duration::hours(3));
    let live = g.sample(900, &DriftSpec::none(), 2).unwrap();
    let truth = serve(&stack, &live, "b", true, clock.now()).await;
    labels.record_labels(truth).await.unwrap();
    let drifted = stack
        .lifecycle
        .run_monitoring(t0 + Duration::hours(3), t0 + Duration::hours(4))
        .await
        .unwrap();
    let report = drifted.report.as_ref().unwrap();
    assert!(
        !report.drift.as_ref().unwrap().dataset_drift,
        "the inputs did not move"
    );
    let perf = report.performance.as_ref().unwrap();
    assert!(perf.degraded);
    assert!(
        perf.metrics["accuracy"] < perf.baseline["accuracy"] - 0.3,
        "{perf:?}"
    );
    // Scores alone cannot see a change of the relation: only the labels do.
    let est = report.estimated_performance.unwrap();
    assert!(est.accuracy > perf.metrics["accuracy"] + 0.3, "{est:?}");
    let kinds: Vec<AlertKind> = drifted.alerts.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, vec![AlertKind::Performance]);
    assert!(drifted.alerts[0].message.contains("concept drift"));
    // The evidence is in the audit trail: the check's record carries the performance.
    let records = stack
        .audit
        .query(&AuditQuery {
            action: Some(actions::DRIFT_CHECKED.into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let checked: Vec<serde_json::Value> = records.iter().map(|r| r.entry.payload.clone()).collect();
    assert_eq!(checked.len(), 2);
    assert_eq!(checked[0]["performance"]["degraded"], false);
    assert_eq!(checked[1]["performance"]["degraded"], true);
    assert_eq!(checked[1]["performance"]["labelled"], 600);
    match &drifted.decision {
        MonitoringDecision::Retrained { outcome } => {
            assert_ne!(outcome.version.version, v1);
        }
        other => panic!("expected a retrain, got {other:?}"),
    }
}
