//! The validation outputs kept with a version (`ReferenceOutputs` in the artifact): what
//! they hold, how they travel, what is refused.

use mlcycle::data::DatasetProfile;
use mlcycle::model::{Model, ModelArtifact, ReferenceOutputs};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};

#[test]
fn outputs_travel_in_the_artifact_and_need_a_profile() {
    let data = CreditDefault::new(3)
        .sample(300, &DriftSpec::none(), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let outputs = ReferenceOutputs::of(&model, &data).unwrap();
    outputs.check().unwrap();
    let p = model.predict(data.features()).unwrap();
    assert_eq!(outputs.predictions, p.values.to_vec());
    assert_eq!(outputs.labels, data.target().unwrap().to_vec());
    assert_eq!(
        outputs.probabilities[7],
        p.probabilities.as_ref().unwrap().row(7).to_vec()
    );
    let plain = model.to_artifact().unwrap();
    let e = plain
        .clone()
        .with_reference_outputs(outputs.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("with_reference_profile"), "{e}");
    let profile = DatasetProfile::reference(&data.without_target()).unwrap();
    let art = plain
        .clone()
        .with_reference_profile(profile.clone())
        .with_reference_outputs(outputs.clone())
        .unwrap();
    let back = ModelArtifact::from_bytes(&art.to_bytes().unwrap()).unwrap();
    assert_eq!(back.reference_outputs(), Some(&outputs));
    assert_eq!(back.reference_profile(), Some(&profile));
    // A new profile keeps the outputs; dropping the profile drops both.
    let again = back.clone().with_reference_profile(profile);
    assert_eq!(again.reference_outputs(), Some(&outputs));
    assert_eq!(back.without_reference_profile(), plain);
    // Artifacts without outputs keep their bytes (no new member).
    let text = String::from_utf8(plain.to_bytes().unwrap()).unwrap();
    assert!(!text.contains("reference_outputs"));
    // Outputs without a profile, or that disagree, are refused on load.
    let mut v: serde_json::Value = serde_json::from_slice(&art.to_bytes().unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("reference_profile");
    let e = ModelArtifact::from_bytes(&serde_json::to_vec(&v).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no reference profile"), "{e}");
    let mut bad = outputs.clone();
    bad.labels.pop();
    assert!(bad.check().unwrap_err().to_string().contains("labels"));
    let mut bad = outputs;
    bad.probabilities[3].push(0.0);
    assert!(bad.check().unwrap_err().to_string().contains("row 3"));
}

#[test]
fn a_regressor_keeps_values_only_and_large_sets_are_thinned_evenly() {
    use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
    use mlcycle::train::{RidgeParams, fit_ridge};
    use ndarray::{Array1, Array2};
    let n = ReferenceOutputs::MAX_ROWS * 2 + 1;
    let x = Array2::from_shape_fn((n, 1), |(i, _)| i as f64);
    let y = Array1::from_shape_fn(n, |i| 2.0 * i as f64 + 1.0);
    let schema = Schema::new(
        vec![Feature::numeric("x")],
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    let data = Dataset::new(schema, x, Some(y), None).unwrap();
    let model = fit_ridge(&data, &RidgeParams::default().check().unwrap()).unwrap();
    let r = ReferenceOutputs::of(&model, &data).unwrap();
    assert_eq!(r.len(), ReferenceOutputs::MAX_ROWS);
    assert!(r.classes.is_empty() && r.probabilities.is_empty());
    assert_eq!(r.labels[0], 1.0);
    // Row k of the kept ones is row k·n/MAX_ROWS of the data.
    assert_eq!(
        r.labels[1],
        2.0 * (n / ReferenceOutputs::MAX_ROWS) as f64 + 1.0
    );
    r.check().unwrap();
}

/// A window logged with probabilities and the same window logged without them (as before
/// probabilities were kept), rescored by the serving model: the same prediction drift
/// and estimate; a shifted window drifts.
#[tokio::test]
async fn monitor_compares_logged_outputs_with_the_stored_validation_outputs() {
    use chrono::{Duration, TimeZone, Utc};
    use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
    use mlcycle::drift::StatisticalDriftDetector;
    use mlcycle::labels::InMemoryLabelStore;
    use mlcycle::monitor::{GroundTruth, Monitor, MonitorConfig};
    use std::sync::Arc;

    let synth = CreditDefault::new(5);
    let train = synth.sample(2_000, &DriftSpec::none(), 0).unwrap();
    let validation = synth.sample(600, &DriftSpec::none(), 1).unwrap();
    let model =
        Arc::new(fit_logistic(&train, &LogisticParams::default().check().unwrap()).unwrap());
    let reference = Arc::new(ReferenceOutputs::of(model.as_ref(), &validation).unwrap());
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let window = |data: &mlcycle::data::Dataset, hour: i64, probabilities: bool| {
        let p = model.predict(data.features()).unwrap();
        let proba = p.probabilities.unwrap();
        (0..data.n_rows())
            .map(|i| PredictionRecord {
                request_id: format!("h{hour}-{i}"),
                at: t + Duration::hours(hour) + Duration::seconds(i as i64),
                model_name: "credit".into(),
                model_version: 4,
                inputs: vec![data.features().row(i).to_vec()],
                outputs: vec![p.values[i]],
                probabilities: if probabilities {
                    vec![proba.row(i).to_vec()]
                } else {
                    vec![]
                },
                latency_us: 10,
                error: None,
                notes: vec![],
            })
            .collect::<Vec<_>>()
    };
    let same = synth.sample(500, &DriftSpec::none(), 2).unwrap();
    let shifted = synth.sample(500, &DriftSpec::downturn(1.0), 3).unwrap();
    let log = Arc::new(InMemoryPredictionLog::default());
    log.append(window(&same, 0, true)).await.unwrap();
    log.append(window(&same, 2, false)).await.unwrap();
    log.append(window(&shifted, 4, true)).await.unwrap();
    let profile = DatasetProfile::reference(&train.without_target()).unwrap();
    let inputs = CreditDefault::schema().without_target();
    let monitor = |ground_truth: bool| {
        let m = Monitor::new(
            log.clone(),
            Arc::new(StatisticalDriftDetector::default()),
            MonitorConfig::default(),
        )
        .with_reference_outputs(4, reference.clone());
        if ground_truth {
            m.with_ground_truth(GroundTruth {
                labels: Arc::new(InMemoryLabelStore::default()),
                version: 4,
                model: model.clone(),
                baseline: Default::default(),
            })
        } else {
            m
        }
    };
    let check = |m: Monitor, hour: i64| {
        let profile = profile.clone();
        let inputs = inputs.clone();
        async move {
            m.check_against_profile(
                &profile,
                &inputs,
                t + Duration::hours(hour),
                t + Duration::hours(hour + 1),
            )
            .await
            .unwrap()
        }
    };
    let logged = check(monitor(false), 0).await;
    let est = logged.estimated_performance.unwrap();
    assert_eq!(est.n, 500);
    let drift = logged.prediction_drift.clone().unwrap();
    let names: Vec<&str> = drift.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["score", "class"]);
    assert!(!drift.column("score").unwrap().drift);
    // Without probabilities in the log and without the model: nothing to compare.
    let old = check(monitor(false), 2).await;
    assert!(old.prediction_drift.is_none() && old.estimated_performance.is_none());
    // With the serving model, the old rows are scored again: the same figures.
    let rescored = check(monitor(true), 2).await;
    assert_eq!(rescored.estimated_performance, Some(est));
    assert_eq!(rescored.prediction_drift, Some(drift));
    // A downturn moves the scores.
    let moved = check(monitor(false), 4).await;
    assert!(
        moved
            .prediction_drift
            .unwrap()
            .column("score")
            .unwrap()
            .drift,
        "scores of a downturn drift"
    );
    // Another version's rows are not compared.
    let other = Monitor::new(
        log.clone(),
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig::default(),
    )
    .with_reference_outputs(5, reference.clone());
    assert!(check(other, 0).await.prediction_drift.is_none());
    // Outputs that disagree with themselves are refused, never a panic.
    let broken = ReferenceOutputs {
        classes: vec!["no".into(), "yes".into()],
        predictions: vec![0.0],
        probabilities: vec![vec![0.5]],
        labels: vec![0.0],
    };
    let e = Monitor::new(
        log.clone(),
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig::default(),
    )
    .with_reference_outputs(4, Arc::new(broken))
    .check_against_profile(&profile, &inputs, t, t + Duration::hours(1))
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("probability row 0"), "{e}");
}
