//! Tree models through the `Model` trait, artifact round trips, the algorithm trainer,
//! cross-validation and hyperparameter search.

use mlcycle::Error;
use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::model::{Model, ModelArtifact};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{
    Algorithm, AlgorithmTrainer, SearchSpace, SearchTrainer, TrainContext, Trainer, cross_validate,
    kfold, stratified_kfold,
};
use ndarray::{Array1, Array2};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

fn credit(n: usize, stream: u64) -> Dataset {
    CreditDefault::new(11)
        .sample(n, &DriftSpec::none(), stream)
        .unwrap()
}

/// Credit data with 20 % of `income` missing.
fn credit_missing(n: usize) -> Dataset {
    CreditDefault::new(11)
        .sample(n, &DriftSpec::missing_surge("income", 0.2), 0)
        .unwrap()
}

/// y = 2 x0 − x1 + a small wiggle; 3 numeric features.
fn regression(n: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (7 + 3 * j) + j) % 101) as f64 / 10.0);
    let y = Array1::from_shape_fn(n, |i| 2.0 * x[[i, 0]] - x[[i, 1]] + (i % 5) as f64 * 0.01);
    let schema = Schema::new(
        vec![
            Feature::numeric("a"),
            Feature::numeric("b"),
            Feature::numeric("c"),
        ],
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    Dataset::new(schema, x, Some(y), None).unwrap()
}

fn rt(rt_body: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(rt_body)
}

fn fit(name: &str, params: Value, data: &Dataset, seed: u64) -> Arc<dyn Model> {
    AlgorithmTrainer::from_name(name, &params)
        .unwrap()
        .fit(data, &TrainContext::with_seed(seed))
        .unwrap()
        .model
}

#[test]
fn tree_flavors_round_trip_bit_identically() {
    let train = credit_missing(800);
    let test = credit_missing(300);
    for (name, flavor, params) in [
        ("gbdt", "gbdt", json!({"max_iter": 15})),
        ("tree", "decision_tree", json!({"max_depth": 5})),
        (
            "forest",
            "random_forest",
            json!({"n_estimators": 8, "max_depth": 6}),
        ),
    ] {
        let model = fit(name, params, &train, 3);
        let art = model.to_artifact().unwrap();
        assert_eq!(art.flavor(), flavor);
        let bytes = art.to_bytes().unwrap();
        let back = ModelArtifact::from_bytes(&bytes).unwrap();
        assert_eq!(back, art);
        assert_eq!(back.to_bytes().unwrap(), bytes, "{flavor}: bytes differ");
        let loaded = back.into_model().unwrap();
        let p = model.predict(test.features()).unwrap();
        let q = loaded.predict(test.features()).unwrap();
        assert_eq!(p, q, "{flavor}: predictions differ after loading");
        let proba = p.probabilities.unwrap();
        assert_eq!(proba.ncols(), 2);
        assert!(proba.iter().all(|v| (0.0..=1.0).contains(v)));
        // Learns something on this data.
        let y = test.target().unwrap();
        let acc = p.values.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / 300.0;
        assert!(acc > 0.6, "{flavor}: accuracy {acc}");
    }
}

#[test]
fn tree_models_handle_missing_values_and_regression() {
    let data = regression(300);
    for name in ["gbdt", "tree", "forest"] {
        let m = fit(name, Value::Null, &data, 1);
        let p = m.predict(data.features()).unwrap();
        assert!(p.probabilities.is_none());
        let y = data.target().unwrap();
        let mse = p
            .values
            .iter()
            .zip(y)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / 300.0;
        assert!(mse < 1.0, "{name}: mse {mse}");
    }
    // NaN in the input: GBDT routes it, the CART models impute it.
    let data = credit_missing(400);
    let mut x = data.features().to_owned();
    x.row_mut(0).fill(f64::NAN);
    for name in ["gbdt", "tree", "forest"] {
        let m = fit(name, json!({}), &data, 1);
        assert_eq!(m.predict(x.view()).unwrap().values.len(), 400);
    }
}

#[test]
fn damaged_tree_artifacts_are_rejected_on_load() {
    let data = credit(300, 0);
    let model = fit("gbdt", json!({"max_iter": 5}), &data, 1);
    let bytes = model.to_artifact().unwrap().to_bytes().unwrap();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    // Drop a feature from the signature: widths disagree.
    v["model"]["signature"]["inputs"]["features"]
        .as_array_mut()
        .unwrap()
        .pop();
    let art = ModelArtifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(matches!(art.into_model(), Err(Error::SchemaMismatch(_))));
    // A forest whose preprocessing would let NaN through.
    let forest = fit("forest", json!({"n_estimators": 2}), &data, 1);
    let mut v: Value =
        serde_json::from_slice(&forest.to_artifact().unwrap().to_bytes().unwrap()).unwrap();
    v["model"]["preprocessor"]["columns"][0]["fill"] = Value::Null;
    let art = ModelArtifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(art.into_model().is_err());
    // Garbage is an error, not a panic.
    assert!(ModelArtifact::from_bytes(b"{\"flavor\":\"gbdt\",\"model\":{}}").is_err());
}

#[test]
fn algorithm_trainer_by_name_and_bad_input() {
    for a in Algorithm::NAMES {
        assert_eq!(a.parse::<Algorithm>().unwrap().name(), a);
    }
    assert!("xgboost".parse::<Algorithm>().is_err());
    assert!(AlgorithmTrainer::from_name("gbdt", &json!({"nope": 1})).is_err());
    assert!(AlgorithmTrainer::from_name("gbdt", &json!({"learning_rate": -1.0})).is_err());
    assert!(AlgorithmTrainer::from_name("gbdt", &json!([1])).is_err());
    // Wrong target kind for the algorithm: an error, not a panic.
    let reg = regression(50);
    let t = AlgorithmTrainer::from_name("logistic", &Value::Null).unwrap();
    assert!(t.fit(&reg, &TrainContext::default()).is_err());
    let t = AlgorithmTrainer::from_name("linear", &Value::Null).unwrap();
    assert!(t.fit(&credit(100, 0), &TrainContext::default()).is_err());
    // Unlabelled data.
    let t = AlgorithmTrainer::from_name("gbdt", &Value::Null).unwrap();
    rt(async {
        assert!(
            t.train(&credit(50, 0).without_target(), &TrainContext::default())
                .await
                .is_err()
        );
    });
}

#[test]
fn gbdt_early_stopping_and_progress() {
    let data = credit(1_500, 0);
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let ctx = TrainContext::with_seed(5).with_progress(move |what, done, total| {
        ev.lock().unwrap().push((what.to_string(), done, total))
    });
    let t = AlgorithmTrainer::from_name(
        "gbdt",
        &json!({"max_iter": 300, "early_stopping": "Enabled", "learning_rate": 0.5}),
    )
    .unwrap();
    let trained = t.fit(&data, &ctx).unwrap();
    let events = events.lock().unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|(w, _, total)| w == "fit" && *total == 300)
    );
    assert!(
        events.len() < 300,
        "early stopping should stop before 300 iterations"
    );
    assert_eq!(trained.params["early_stopping"], "Enabled");
}

#[test]
fn same_data_params_and_seed_give_the_same_model_bytes() {
    let data = credit(500, 0);
    for name in ["gbdt", "forest", "tree", "logistic"] {
        let a = fit(name, Value::Null, &data, 9).to_artifact().unwrap();
        let b = fit(name, Value::Null, &data, 9).to_artifact().unwrap();
        assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap(), "{name}");
    }
}

#[test]
fn kfold_partitions_and_is_seeded() {
    let folds = kfold(103, 5, 1).unwrap();
    let all: BTreeSet<usize> = folds.iter().flatten().copied().collect();
    assert_eq!(all.len(), 103);
    assert_eq!(folds.iter().map(Vec::len).sum::<usize>(), 103);
    assert!(folds.iter().all(|f| f.len() == 20 || f.len() == 21));
    assert_eq!(folds, kfold(103, 5, 1).unwrap());
    assert_ne!(folds, kfold(103, 5, 2).unwrap());
    assert!(kfold(3, 5, 0).is_err());
    assert!(kfold(10, 1, 0).is_err());
}

#[test]
fn stratified_folds_keep_class_proportions() {
    // 90 zeros, 30 ones, 10 twos.
    let y = Array1::from_shape_fn(130, |i| match i % 13 {
        0 => 2.0,
        1..=3 => 1.0,
        _ => 0.0,
    });
    let folds = stratified_kfold(y.view(), 5, 7).unwrap();
    assert_eq!(folds.iter().map(Vec::len).sum::<usize>(), 130);
    for f in &folds {
        assert_eq!(f.len(), 26);
        let count = |c: f64| f.iter().filter(|&&i| y[i] == c).count();
        assert_eq!((count(0.0), count(1.0), count(2.0)), (18, 6, 2));
    }
    assert_eq!(folds, stratified_kfold(y.view(), 5, 7).unwrap());
    assert_ne!(folds, stratified_kfold(y.view(), 5, 8).unwrap());
}

#[test]
fn cross_validate_reports_every_fold() {
    let data = credit(400, 0);
    let t = AlgorithmTrainer::from_name("logistic", &Value::Null).unwrap();
    let n = Arc::new(Mutex::new(0));
    let n2 = n.clone();
    let ctx = TrainContext::with_seed(3).with_progress(move |w, _, _| {
        if w == "fold" {
            *n2.lock().unwrap() += 1
        }
    });
    let cv = cross_validate(&t, &data, 4, None, &ctx).unwrap();
    assert_eq!(cv.metric, "roc_auc");
    assert_eq!(cv.fold_scores.len(), 4);
    assert_eq!(*n.lock().unwrap(), 4);
    assert!(cv.mean > 0.6 && cv.std >= 0.0);
    assert_eq!(cv, cross_validate(&t, &data, 4, None, &ctx).unwrap());
    assert!(cross_validate(&t, &data, 4, Some("bogus"), &ctx).is_err());
}

#[test]
fn grid_search_picks_the_best_by_metric_and_records_every_trial() {
    let data = credit(500, 0);
    // A huge penalty flattens the model: it must lose on log loss.
    let space =
        SearchSpace::from_json(br#"{"grid": {"l2": [1.0, 100000.0], "max_iter": [50]}}"#).unwrap();
    let t = SearchTrainer::new(
        Algorithm::Logistic,
        &Value::Null,
        Some(space.clone()),
        3,
        Some("log_loss".into()),
    )
    .unwrap();
    let (trained, outcome) = t.fit(&data, &TrainContext::with_seed(2)).unwrap();
    assert_eq!(outcome.trials.len(), 2);
    assert_eq!(outcome.kind, "grid");
    assert!(!outcome.greater_is_better);
    assert_eq!(outcome.best_trial, 0);
    assert!(outcome.trials[0].cv.mean < outcome.trials[1].cv.mean);
    assert_eq!(outcome.trials[1].params["l2"], json!(100000.0));
    assert_eq!(trained.params["l2"], json!(1.0));
    let recorded = &trained.params["search"];
    assert_eq!(recorded["trials"].as_array().unwrap().len(), 2);
    assert_eq!(recorded["best_trial"], 0);
    assert_eq!(recorded["metric"], "log_loss");
    // Deterministic: same bytes again.
    let (again, _) = t.fit(&data, &TrainContext::with_seed(2)).unwrap();
    assert_eq!(
        trained.model.to_artifact().unwrap().to_bytes().unwrap(),
        again.model.to_artifact().unwrap().to_bytes().unwrap()
    );
    // By AUC (higher is better) the same winner is chosen.
    let t = SearchTrainer::new(Algorithm::Logistic, &Value::Null, Some(space), 3, None).unwrap();
    let (_, by_auc) = t.fit(&data, &TrainContext::with_seed(2)).unwrap();
    assert!(by_auc.greater_is_better);
    let best = &by_auc.trials[by_auc.best_trial];
    assert!(by_auc.trials.iter().all(|t| t.cv.mean <= best.cv.mean));
}

#[test]
fn random_search_is_seeded_and_validated() {
    let space = SearchSpace::from_json(
        br#"{"random": {"n_trials": 4, "space": {
            "learning_rate": {"log_uniform": [0.05, 0.5]},
            "max_leaf_nodes": {"int": [4, 16]},
            "l2_regularization": [0.0, 1.0]}}}"#,
    )
    .unwrap();
    let a = space.candidates(1).unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(a, space.candidates(1).unwrap());
    assert_ne!(a, space.candidates(2).unwrap());
    for c in &a {
        let lr = c["learning_rate"].as_f64().unwrap();
        assert!((0.05..=0.5).contains(&lr));
        let leaves = c["max_leaf_nodes"].as_i64().unwrap();
        assert!((4..=16).contains(&leaves));
    }
    let data = credit(300, 0);
    let t = SearchTrainer::new(
        Algorithm::Gbdt,
        &json!({"max_iter": 10}),
        Some(space),
        3,
        None,
    )
    .unwrap();
    let trials = Arc::new(Mutex::new(Vec::new()));
    let t2 = trials.clone();
    let ctx = TrainContext::with_seed(1).with_progress(move |w, d, n| {
        if w == "trial" {
            t2.lock().unwrap().push((d, n))
        }
    });
    let (trained, outcome) = t.fit(&data, &ctx).unwrap();
    assert_eq!(
        *trials.lock().unwrap(),
        vec![(1, 4), (2, 4), (3, 4), (4, 4)]
    );
    assert_eq!(outcome.trials.len(), 4);
    assert_eq!(trained.params["max_iter"], 10);
    // Bad spaces.
    for bad in [
        &br#"{"grid": {"l2": []}}"#[..],
        br#"{"random": {"n_trials": 0, "space": {}}}"#,
        br#"{"random": {"n_trials": 2, "space": {"l2": {"log_uniform": [0.0, 1.0]}}}}"#,
        br#"{"sweep": {}}"#,
        b"not json",
    ] {
        assert!(SearchSpace::from_json(bad).is_err());
    }
    // Unknown parameter in the grid: caught when the trainer is built.
    let space = SearchSpace::from_json(br#"{"grid": {"nope": [1]}}"#).unwrap();
    assert!(SearchTrainer::new(Algorithm::Gbdt, &Value::Null, Some(space), 3, None).is_err());
}

#[test]
fn search_on_a_regression_target_uses_rmse_and_plain_folds() {
    let data = regression(240);
    let space = SearchSpace::from_json(br#"{"grid": {"max_depth": [1, 6]}}"#).unwrap();
    let t = SearchTrainer::new(Algorithm::Tree, &Value::Null, Some(space), 4, None).unwrap();
    let (trained, outcome) = t.fit(&data, &TrainContext::with_seed(5)).unwrap();
    assert_eq!(outcome.metric, "rmse");
    assert!(!outcome.greater_is_better);
    // A depth-1 tree cannot fit 2·a − b: the deeper one wins on RMSE.
    assert_eq!(outcome.best_trial, 1);
    assert!(outcome.trials[1].cv.mean < outcome.trials[0].cv.mean);
    assert_eq!(trained.params["max_depth"], 6);
    // Cross-validation alone (no space): one trial of the base parameters.
    let t =
        SearchTrainer::new(Algorithm::Linear, &Value::Null, None, 3, Some("r2".into())).unwrap();
    let (_, outcome) = t.fit(&data, &TrainContext::with_seed(5)).unwrap();
    assert_eq!((outcome.kind.as_str(), outcome.trials.len()), ("none", 1));
    assert!(outcome.trials[0].cv.mean > 0.9);
    assert!(SearchTrainer::new(Algorithm::Linear, &Value::Null, None, 1, None).is_err());
}
