//! Monitoring survives a restart: the reference profile stored with the serving version's
//! artifact is the drift baseline of a new process, with no manual step.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mlcycle::audit::AuditQuery;
use mlcycle::clock::SimulatedClock;
use mlcycle::data::Dataset;
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::drift::{DatasetProfile, DriftReport};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, MonitoringDecision, TrainingDecision, Trigger};
use mlcycle::model::{Model, ModelArtifact};
use mlcycle::registry::{Lineage, NewVersion};
use mlcycle::testing::{CreditDefault, DriftSpec};

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::days(d)
}

/// Score `data` through the deployment at time `at`, 100 rows a request.
async fn serve(stack: &Stack, clock: &SimulatedClock, data: &Dataset, at: DateTime<Utc>) {
    clock.set(at);
    let x = data.features();
    for start in (0..data.n_rows()).step_by(100) {
        let end = (start + 100).min(data.n_rows());
        stack
            .deployer
            .predict(ScoreRequest {
                rows: x.slice(ndarray::s![start..end, ..]).to_owned(),
                request_id: None,
            })
            .await
            .unwrap();
    }
    stack.collector.flush().await.unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(1.0)
}

/// The binned methods and the categorical tests give the same numbers from the stored
/// profile as from the raw training data (reference binning).
fn assert_same_binned_numbers(profile: &DriftReport, raw: &DriftReport) {
    assert_eq!(profile.columns.len(), raw.columns.len());
    for (p, r) in profile.columns.iter().zip(&raw.columns) {
        assert_eq!(p.name, r.name);
        assert_eq!(
            (
                p.n_reference,
                p.n_current,
                p.missing_reference,
                p.missing_current
            ),
            (
                r.n_reference,
                r.n_current,
                r.missing_reference,
                r.missing_current
            ),
            "{}",
            p.name
        );
        let mut compared = 0;
        for m in ["psi", "jensenshannon", "chisquare"] {
            let (Some(a), Some(b)) = (p.tests.get(m), r.tests.get(m)) else {
                continue;
            };
            assert!(
                close(a.statistic, b.statistic),
                "{} {m}: profile {} vs raw {}",
                p.name,
                a.statistic,
                b.statistic
            );
            match (a.p_value, b.p_value) {
                (Some(x), Some(y)) => assert!(close(x, y), "{} {m} p: {x} vs {y}", p.name),
                (x, y) => assert_eq!(x, y),
            }
            compared += 1;
        }
        assert!(
            compared >= 2,
            "column {} compared {compared} methods",
            p.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_lifecycle_monitors_from_the_stored_profile() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(day(0)));
    let config = LifecycleConfig::new("credit");
    let g = CreditDefault::new(11);
    let history = g.sample(6_000, &DriftSpec::none(), 0).unwrap();
    let (train, _) = history.split(config.holdout_fraction, config.seed).unwrap();

    // First process: train, deploy, serve a clean day and a drifted day.
    let version = {
        let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
        let outcome = stack
            .lifecycle
            .run_training(&history, Trigger::Manual)
            .await
            .unwrap();
        assert!(matches!(
            outcome.decision,
            TrainingDecision::Promoted { .. }
        ));
        let v = outcome.version.version;
        // the training split the lifecycle used is the one rebuilt here
        assert_eq!(&outcome.version.lineage.training_datasets[1], train.id());
        // the artifact carries the reference profile of that split
        let artifact = stack.registry.load_artifact("credit", v).await.unwrap();
        assert_eq!(
            artifact.reference_profile(),
            Some(&DatasetProfile::reference(&train).unwrap())
        );
        let clean = g
            .sample(3_000, &DriftSpec::none(), 1)
            .unwrap()
            .without_target();
        let drifted = g
            .sample(3_000, &DriftSpec::downturn(1.0), 2)
            .unwrap()
            .without_target();
        serve(&stack, &clock, &clean, day(1) + Duration::hours(12)).await;
        serve(&stack, &clock, &drifted, day(2) + Duration::hours(12)).await;
        let broken = g
            .sample(3_000, &DriftSpec::missing_surge("income", 0.5), 3)
            .unwrap()
            .without_target();
        serve(&stack, &clock, &broken, day(3) + Duration::hours(12)).await;
        v
    }; // the process state is gone

    // Second process on the same store: nothing is set by hand.
    clock.set(day(4));
    let stack = Stack::open(dir.path(), clock.clone(), config).unwrap();
    let lc = &stack.lifecycle;

    let quiet = lc.run_monitoring(day(1), day(2)).await.unwrap();
    assert!(
        matches!(quiet.decision, MonitoringDecision::NoAction),
        "{:?}",
        quiet.decision
    );
    let quiet = quiet.report.unwrap().drift.unwrap();
    assert!(!quiet.dataset_drift, "false alarm: {quiet:?}");
    assert!(quiet.columns.iter().all(|c| c.tests.get("ks").is_none()));

    let loud = lc.run_monitoring(day(2), day(3)).await.unwrap();
    assert!(
        matches!(loud.decision, MonitoringDecision::DriftAlert { .. }),
        "{:?}",
        loud.decision
    );
    assert!(
        loud.alerts
            .iter()
            .any(|a| a.message.contains(&format!("version {version}")))
    );
    let from_profile = loud.report.unwrap().drift.unwrap();
    assert!(from_profile.dataset_drift);
    for c in &from_profile.columns {
        let want = if c.kind == "numeric" {
            "jensenshannon"
        } else {
            "chisquare"
        };
        assert_eq!(c.method, want, "column {}", c.name);
        assert!(c.tests.get("ks").is_none());
    }
    // the missing-value triage works from the profile's missing counts
    let fault = lc.run_monitoring(day(3), day(4)).await.unwrap();
    match &fault.decision {
        MonitoringDecision::DataQualityFault { reason } => {
            assert!(reason.contains("`income`"), "{reason}")
        }
        other => panic!("expected a data-quality fault, got {other:?}"),
    }
    let faults = fault.report.unwrap().quality_faults;
    assert_eq!(faults.len(), 1, "{faults:?}");

    // the audit trail says which baseline was used
    let checked = stack
        .audit
        .query(&AuditQuery {
            action: Some("drift.checked".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(
        checked
            .iter()
            .any(|r| r.entry.payload["baseline"] == "stored reference profile")
    );

    // The raw training data still gives the full method set, and the binned numbers agree.
    lc.set_reference(version, train.clone());
    let raw = lc.run_monitoring(day(2), day(3)).await.unwrap();
    let raw = raw.report.unwrap().drift.unwrap();
    assert_eq!(raw.columns[0].method, "ks");
    assert!(raw.columns[0].tests.get("ks").is_some());
    assert!(raw.dataset_drift);
    assert_same_binned_numbers(&from_profile, &raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_without_a_stored_profile_is_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(day(0)));
    let config = LifecycleConfig::new("credit");
    let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
    let data = CreditDefault::new(3)
        .sample(1_000, &DriftSpec::none(), 0)
        .unwrap();
    let model = mlcycle::train::fit_logistic(
        &data,
        &mlcycle::train::LogisticParams::default().check().unwrap(),
    )
    .unwrap();
    // registered elsewhere, by a tool that stores no profile
    let plain = model.to_artifact().unwrap();
    assert!(plain.reference_profile().is_none());
    let mv = stack
        .registry
        .register(
            "credit",
            NewVersion {
                artifact: plain,
                lineage: Lineage::default(),
                metrics: Default::default(),
                tags: Default::default(),
                description: "no profile".into(),
            },
        )
        .await
        .unwrap();
    stack
        .registry
        .set_alias(
            "credit",
            &config.serving_alias,
            mv.version,
            mlcycle::registry::Change::new("test", "serve it"),
        )
        .await
        .unwrap();
    let out = stack
        .lifecycle
        .run_monitoring(day(1), day(2))
        .await
        .unwrap();
    match out.decision {
        MonitoringDecision::Skipped { reason } => {
            assert!(reason.contains("no stored reference profile"), "{reason}");
            assert!(reason.contains("set_reference"), "{reason}");
        }
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[test]
fn the_profile_round_trips_in_the_artifact_bit_for_bit() {
    let data = CreditDefault::new(4)
        .sample(2_000, &DriftSpec::none(), 0)
        .unwrap();
    let model = mlcycle::train::fit_logistic(
        &data,
        &mlcycle::train::LogisticParams::default().check().unwrap(),
    )
    .unwrap();
    let plain = model.to_artifact().unwrap();
    let plain_bytes = plain.to_bytes().unwrap();
    // the plain form is unchanged: flavor and model only
    assert!(plain_bytes.starts_with(b"{\"flavor\":\"logistic\",\"model\":"));
    let profile = DatasetProfile::reference(&data).unwrap();
    let bundled = plain.clone().with_reference_profile(profile.clone());
    assert_eq!(bundled.flavor(), "logistic");
    assert_eq!(bundled.signature(), plain.signature());
    let bytes = bundled.to_bytes().unwrap();
    let back = ModelArtifact::from_bytes(&bytes).unwrap();
    assert_eq!(back, bundled);
    assert_eq!(back.to_bytes().unwrap(), bytes);
    assert_eq!(back.reference_profile(), Some(&profile));
    // the profile does not change the model
    assert_eq!(back.clone().without_reference_profile(), plain);
    let p = back.into_model().unwrap().predict(data.features()).unwrap();
    assert_eq!(p, model.predict(data.features()).unwrap());
    // an artifact written before profiles existed loads without one
    let old = ModelArtifact::from_bytes(&plain_bytes).unwrap();
    assert_eq!(old, plain);
    // key order does not matter (the model may come before its flavor)
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let reordered = format!(
        "{{\"reference_profile\":{},\"model\":{},\"flavor\":\"logistic\"}}",
        v["reference_profile"], v["model"]
    );
    assert_eq!(
        ModelArtifact::from_bytes(reordered.as_bytes()).unwrap(),
        bundled
    );
    // a damaged profile is an error, not a silently missing baseline
    let mut broken = v.clone();
    broken["reference_profile"]["columns"] = serde_json::json!(7);
    assert!(ModelArtifact::from_bytes(&serde_json::to_vec(&broken).unwrap()).is_err());
    // with_reference_profile replaces, never nests
    let twice = bundled.with_reference_profile(profile.clone());
    assert_eq!(twice.to_bytes().unwrap(), bytes);
}
