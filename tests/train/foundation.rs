//! Contracts of the foundation types: persistence, bit-identical artifacts, typed errors.

use mlcycle::audit::{AuditEntry, AuditLog, InMemoryAuditLog};
use mlcycle::clock::{SimulatedClock, SystemClock};
use mlcycle::data::{
    CleaningOptions, CsvOptions, Dataset, Feature, Impute, QualityReport, Schema, Target,
    TargetKind, UnknownLevel, clean, read_csv, read_csv_with_schema, write_csv,
};
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::drift::{DriftDetector, StatisticalDriftDetector};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, RequireHumanApproval, Stage, TrainingDecision, Trigger};
use mlcycle::model::{Model, ModelArtifact};
use mlcycle::registry::{
    Change, Lineage, NewVersion, Registry, RegistryExt, SqliteRegistry, VersionStatus,
};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, RidgeParams, TrainContext, Trainer, fit_logistic, fit_ridge};
use mlcycle::validate::Validator;
use mlcycle::{Error, clock::Clock};
use ndarray::{Array1, Array2, array};
use std::sync::Arc;

fn credit(n: usize, stream: u64) -> Dataset {
    CreditDefault::new(11)
        .sample(n, &DriftSpec::none(), stream)
        .unwrap()
}

fn new_version(model: &dyn Model) -> NewVersion {
    NewVersion {
        artifact: model.to_artifact().unwrap(),
        lineage: Lineage::default(),
        metrics: Default::default(),
        tags: Default::default(),
        description: String::new(),
    }
}

/// Every trait is object-safe and `Send + Sync`: the orchestrator holds `Arc<dyn …>`.
#[test]
fn traits_are_object_safe_and_send_sync() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn mlcycle::train::Trainer>();
    assert_send_sync::<dyn mlcycle::validate::Validator>();
    assert_send_sync::<dyn mlcycle::registry::Registry>();
    assert_send_sync::<dyn mlcycle::deploy::Deployer>();
    assert_send_sync::<dyn mlcycle::drift::DriftDetector>();
    assert_send_sync::<dyn mlcycle::model::Model>();
    assert_send_sync::<dyn mlcycle::audit::AuditLog>();
    assert_send_sync::<dyn mlcycle::collect::PredictionLog>();
    assert_send_sync::<dyn mlcycle::clock::Clock>();
    let _: Option<Arc<dyn mlcycle::train::Trainer>> = None;
    let _: Option<Arc<dyn mlcycle::validate::Validator>> = None;
    let _: Option<Arc<dyn mlcycle::registry::Registry>> = None;
    let _: Option<Arc<dyn mlcycle::deploy::Deployer>> = None;
    let _: Option<Arc<dyn mlcycle::drift::DriftDetector>> = None;
}

#[tokio::test]
async fn stored_model_predicts_bit_identically_and_registry_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = credit(2_000, 1);
    let logistic = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let before = logistic.predict(data.features()).unwrap();
    {
        let reg = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
        let v = reg
            .register("credit", new_version(&logistic))
            .await
            .unwrap();
        assert_eq!(v.version, 1);
        reg.set_alias("credit", "production", 1, Change::new("ann", "first"))
            .await
            .unwrap();
        reg.set_status(
            "credit",
            1,
            VersionStatus::Approved,
            Change::new("ann", "ok"),
        )
        .await
        .unwrap();
    }
    let reg = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let (mv, loaded) = reg.load_model("models:/credit@production").await.unwrap();
    assert_eq!(mv.version, 1);
    assert_eq!(mv.status, VersionStatus::Approved);
    assert_eq!(mv.aliases, vec!["production".to_string()]);
    let after = loaded.predict(data.features()).unwrap();
    let bits = |p: &mlcycle::model::Prediction| -> Vec<u64> {
        p.probabilities
            .as_ref()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&before), bits(&after));
    assert_eq!(before.values, after.values);
    assert_eq!(reg.alias_history("credit", None).await.unwrap().len(), 1);
}

#[test]
fn ridge_artifact_round_trips_bit_identically() {
    let schema = Schema::new(
        vec![Feature::numeric("x"), Feature::categorical("c", ["a", "b"])],
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    let x = array![
        [1.0, 0.0],
        [2.0, 1.0],
        [3.0, 0.0],
        [4.0, 1.0],
        [f64::NAN, 0.0]
    ];
    let y = Array1::from(vec![2.1, 5.9, 6.2, 9.8, 4.0]);
    let data = Dataset::new(schema, x, Some(y), None).unwrap();
    let m = fit_ridge(&data, &RidgeParams::default().l2(0.1).check().unwrap()).unwrap();
    let bytes = m.to_artifact().unwrap().to_bytes().unwrap();
    let back = ModelArtifact::from_bytes(&bytes)
        .unwrap()
        .into_model()
        .unwrap();
    let (a, b) = (
        m.predict(data.features()).unwrap(),
        back.predict(data.features()).unwrap(),
    );
    assert!(
        a.values
            .iter()
            .zip(&b.values)
            .all(|(p, q)| p.to_bits() == q.to_bits())
    );
    // A real fit: the slope on x is clearly positive.
    assert!(a.values[3] > a.values[0] + 3.0);
}

#[test]
fn logistic_regression_learns_the_signal() {
    let train = credit(6_000, 2);
    let test = credit(3_000, 3);
    let m = fit_logistic(&train, &LogisticParams::default().check().unwrap()).unwrap();
    let p = m.predict(test.features()).unwrap();
    let auc = mlcycle::validate::metrics::roc_auc(
        test.target().unwrap().view(),
        p.probabilities.as_ref().unwrap().column(1),
    )
    .unwrap();
    assert!(auc > 0.7, "AUC {auc} too low for a real fit");
}

#[tokio::test]
async fn bad_input_gives_typed_errors() {
    let data = credit(500, 4);
    // Empty dataset.
    let empty = data.select_rows(&[]).unwrap();
    let e = mlcycle::train::LinearModelTrainer::default()
        .train(&empty, &TrainContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Data(ref m) if m.contains("empty")),
        "{e}"
    );

    // Schema mismatch at predict time.
    let m = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let e = m.predict(Array2::<f64>::zeros((2, 5)).view()).unwrap_err();
    assert!(
        matches!(e, Error::SchemaMismatch(ref m) if m.contains("expected 13")),
        "{e}"
    );

    // Infinite feature value.
    let mut x = data.features().to_owned();
    x[[0, 1]] = f64::INFINITY;
    let e = m.predict(x.view()).unwrap_err();
    assert!(
        matches!(e, Error::Data(ref m) if m.contains("income") && m.contains("infinite")),
        "{e}"
    );
    // NaN is a missing value: imputed, not an error.
    x[[0, 1]] = f64::NAN;
    assert!(m.predict(x.view()).is_ok());
    // Invalid category code.
    x[[0, 10]] = 7.0;
    let e = m.predict(x.view()).unwrap_err();
    assert!(
        matches!(e, Error::Data(ref m) if m.contains("home_ownership")),
        "{e}"
    );

    // Unknown category in a CSV against the model's schema, and the explicit path for it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.csv");
    write_csv(&data.select_rows(&[0, 1, 2]).unwrap(), &path).unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("mortgage", "houseboat", 1);
    let text = text
        .replacen("own,", "houseboat,", 1)
        .replacen("rent,", "houseboat,", 1);
    std::fs::write(&path, text).unwrap();
    let schema = data.schema().clone();
    let e = read_csv_with_schema(&path, &schema, None, UnknownLevel::Error).unwrap_err();
    assert!(
        matches!(e, Error::Data(ref m) if m.contains("unknown category `houseboat`")),
        "{e}"
    );
    let lenient = read_csv_with_schema(&path, &schema, None, UnknownLevel::AsMissing).unwrap();
    assert!(lenient.features().column(10).iter().any(|v| v.is_nan()));

    // A target column that does not exist.
    let e = read_csv(&path, &CsvOptions::with_target("nope")).unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "column", .. }), "{e}");

    // Unknown model name and alias.
    let reg = mlcycle::registry::InMemoryRegistry::new(Arc::new(SystemClock));
    let e = reg.resolve("ghost@production").await.unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "model", .. }), "{e}");
    reg.register("credit", new_version(&m)).await.unwrap();
    let e = reg.resolve("credit@staging").await.unwrap_err();
    assert!(matches!(e, Error::NotFound { kind: "alias", .. }), "{e}");
    let e = reg.resolve("credit/9").await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotFound {
                kind: "version",
                ..
            }
        ),
        "{e}"
    );
    let e = reg
        .set_alias("credit", "v2", 1, Change::new("a", "b"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    let e = reg
        .register("../escape", new_version(&m))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");

    // A classifier on a single class.
    let one_class = data
        .select_rows(
            &(0..data.n_rows())
                .filter(|&i| data.target().unwrap()[i] == 0.0)
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let e = fit_logistic(&one_class, &LogisticParams::default().check().unwrap()).unwrap_err();
    assert!(
        matches!(e, Error::Data(ref m) if m.contains("single class")),
        "{e}"
    );
    // Bad parameters.
    assert!(LogisticParams::default().l2(-1.0).check().is_err());
    assert!(RidgeParams::default().l2(f64::NAN).check().is_err());
}

#[test]
fn csv_round_trip_keeps_the_dataset_identity() {
    let data = credit(300, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    write_csv(&data, &path).unwrap();
    let back = read_csv(&path, &CsvOptions::with_target("default")).unwrap();
    assert_eq!(back.schema(), data.schema());
    assert_eq!(back.id(), data.id());
}

#[test]
fn quality_report_and_cleaning() {
    let schema = Schema::new(
        vec![
            Feature::numeric("a"),
            Feature::numeric("k"),
            Feature::categorical("c", ["x", "y"]),
        ],
        None,
    )
    .unwrap();
    let x = array![
        [1.0, 5.0, 0.0],
        [2.0, 5.0, 1.0],
        [2.0, 5.0, 1.0],
        [3.0, 5.0, f64::NAN],
        [f64::NAN, 5.0, 0.0],
        [2.5, 5.0, 0.0],
        [100.0, 5.0, 1.0]
    ];
    let d = Dataset::new(schema, x, None, None).unwrap();
    let q = QualityReport::of(&d);
    assert_eq!(q.rows, 7);
    assert_eq!(q.duplicate_rows, 1);
    assert_eq!(q.columns[0].missing, 1);
    assert_eq!(q.columns[0].outliers, 1);
    assert!(q.columns[1].constant);
    assert_eq!(q.columns[2].missing, 1);
    let (c, s) = clean(
        &d,
        &CleaningOptions {
            drop_duplicates: true,
            impute: Some(Impute::Median),
            clip_iqr: Some(1.5),
        },
    )
    .unwrap();
    assert_eq!(s.dropped_duplicates, 1);
    assert_eq!(s.imputed_cells, 2);
    assert_eq!(s.clipped_cells, 1);
    assert_eq!(c.n_rows(), 6);
    assert!(c.features().iter().all(|v| v.is_finite()));
    assert_ne!(c.id(), d.id());
}

#[tokio::test]
async fn default_drift_detector_separates_same_from_shifted() {
    let g = CreditDefault::new(9);
    let r = g.sample(3_000, &DriftSpec::none(), 0).unwrap();
    let same = g.sample(2_000, &DriftSpec::none(), 1).unwrap();
    let shifted = g.sample(2_000, &DriftSpec::downturn(1.0), 2).unwrap();
    let det = StatisticalDriftDetector::default();
    let a = det.detect(&r, &same).await.unwrap();
    let b = det.detect(&r, &shifted).await.unwrap();
    assert!(!a.dataset_drift);
    assert!(b.dataset_drift);
    let drifted: Vec<&str> = b.drifted().map(|c| c.name.as_str()).collect();
    assert!(
        drifted.contains(&"income") && drifted.contains(&"utilization"),
        "{drifted:?}"
    );
    // Missing values are dropped and counted.
    let holes = g
        .sample(2_000, &DriftSpec::missing_surge("income", 0.5), 3)
        .unwrap();
    let c = det.detect(&r, &holes).await.unwrap();
    let inc = c.columns.iter().find(|c| c.name == "income").unwrap();
    assert!(inc.missing_current > 800 && inc.missing_current < 1_200);
    assert_eq!(inc.n_current + inc.missing_current, 2_000);
}

#[tokio::test]
async fn human_approval_gate_holds_deployment_until_approved() {
    let clock = Arc::new(SimulatedClock::new(chrono::DateTime::UNIX_EPOCH));
    let stack = Stack::in_memory_with(clock, LifecycleConfig::new("credit"), |b| {
        b.approval(Arc::new(RequireHumanApproval))
    })
    .unwrap();
    let out = stack
        .lifecycle
        .run_training(&credit(3_000, 6), Trigger::Manual)
        .await
        .unwrap();
    assert!(matches!(out.decision, TrainingDecision::AwaitingApproval));
    assert!(stack.deployer.current().await.is_none());
    let e = stack
        .deployer
        .predict(ScoreRequest {
            rows: credit(2, 7).features().to_owned(),
            request_id: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)));
    let dep = stack
        .lifecycle
        .approve(1, "carol", "reviewed the report")
        .await
        .unwrap();
    assert_eq!(dep.version, 1);
    let mv = stack.registry.resolve("credit@production").await.unwrap();
    assert_eq!(mv.status, VersionStatus::Approved);
    let approvals = stack
        .audit
        .query(&mlcycle::audit::AuditQuery {
            action: Some("version.status_changed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(approvals.last().unwrap().entry.actor, "carol");
    assert!(stack.lifecycle.approve(1, "carol", "again").await.is_err());
}

#[tokio::test]
async fn a_failing_stage_is_named_in_the_error() {
    let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
    let data = credit(500, 8);
    let unlabelled = data.without_target();
    let e = stack
        .lifecycle
        .run_training(&unlabelled, Trigger::Manual)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Stage {
                stage: Stage::QualityCheck,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("quality_check"));
}

#[tokio::test]
async fn validator_rejects_a_worse_challenger() {
    let data = credit(6_000, 9);
    let (train, holdout) = data.split(0.3, 1).unwrap();
    let good = Arc::new(fit_logistic(&train, &LogisticParams::default().check().unwrap()).unwrap());
    // A challenger trained on a tiny sample.
    let tiny = train.select_rows(&(0..60).collect::<Vec<_>>()).unwrap();
    let weak = Arc::new(fit_logistic(&tiny, &LogisticParams::default().check().unwrap()).unwrap());
    let v = mlcycle::validate::ChampionChallenger::default();
    let r = v.validate(weak, Some(good), &holdout).await.unwrap();
    assert!(!r.promote);
    let fail = r.first_failure().unwrap();
    assert!(fail.name.starts_with("beats_champion"), "{}", fail.name);
    assert!(fail.detail.contains("misses"));
}

#[tokio::test]
async fn audit_chain_names_the_altered_record() {
    let clock = Arc::new(SystemClock);
    let log = InMemoryAuditLog::new(clock.clone());
    for i in 0..5 {
        log.append(AuditEntry {
            actor: "t".into(),
            action: "x".into(),
            subjects: vec![format!("s{i}")],
            payload: serde_json::json!({ "i": i }),
            trace_id: "tr".into(),
        })
        .await
        .unwrap();
    }
    assert_eq!(log.verify().await.unwrap(), 5);
    log.tamper_for_tests(|r| r[2].entry.payload = serde_json::json!({ "i": 99 }));
    match log.verify().await.unwrap_err() {
        Error::AuditBroken { seq, .. } => assert_eq!(seq, 3),
        e => panic!("{e}"),
    }
    let _ = clock.now();
}
