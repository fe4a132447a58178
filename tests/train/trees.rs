//! Behavioural tests for the tree learners (decision tree, random forest, gradient boosting).

use mlcycle::Error;
use mlcycle::train::trees::{
    Criterion, DecisionTreeParams, EarlyStopping, GbdtModel, GbdtParams, MaxFeatures,
    RandomForestParams, TrainProgress, TreeTask,
};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const BINARY: TreeTask = TreeTask::Classification { n_classes: 2 };

// ---------------------------------------------------------------------------------------------
// data generators and metrics
// ---------------------------------------------------------------------------------------------

fn uniform(n: usize, p: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, p), |_| rng.random::<f64>())
}

/// y = 1 if x0 > 0.6 (about 40 % ones), with 3 noise features.
fn threshold_data(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let x = uniform(n, 4, seed);
    let y = x
        .rows()
        .into_iter()
        .map(|r| (r[0] > 0.6) as u8 as f64)
        .collect();
    (x, y)
}

/// y = (x0 > 0.5) xor (x1 > 0.5): no single feature is informative on its own.
fn xor_data(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let x = uniform(n, 4, seed);
    let y = x
        .rows()
        .into_iter()
        .map(|r| ((r[0] > 0.5) ^ (r[1] > 0.5)) as u8 as f64)
        .collect();
    (x, y)
}

/// y = sin(6 x0) + N(0, 0.1²), x0 in [0, 1], plus 2 noise features.
fn sin_data(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let x = uniform(n, 3, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xABCD);
    let noise = Normal::new(0.0, 0.1).unwrap();
    let y = x
        .rows()
        .into_iter()
        .map(|r| (6.0 * r[0]).sin() + noise.sample(&mut rng))
        .collect();
    (x, y)
}

/// Three classes by region of (x0, x1): x0 < 0.33 → 0, else x1 < 0.5 → 1, else 2.
fn multiclass_data(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let x = uniform(n, 3, seed);
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            if r[0] < 0.33 {
                0.0
            } else if r[1] < 0.5 {
                1.0
            } else {
                2.0
            }
        })
        .collect();
    (x, y)
}

fn accuracy(pred: ArrayView1<f64>, y: ArrayView1<f64>) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

/// Accuracy of always predicting the most frequent class of `y`.
fn majority_accuracy(y: ArrayView1<f64>) -> f64 {
    let mut counts = std::collections::BTreeMap::new();
    for &v in y {
        *counts.entry(v as i64).or_insert(0usize) += 1;
    }
    *counts.values().max().unwrap() as f64 / y.len() as f64
}

fn r2(pred: ArrayView1<f64>, y: ArrayView1<f64>) -> f64 {
    let mean = y.mean().unwrap();
    let ss_res: f64 = pred.iter().zip(y).map(|(p, t)| (t - p).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

fn assert_proba_ok(p: ArrayView2<f64>, k: usize) {
    assert_eq!(p.ncols(), k);
    for row in p.rows() {
        let sum: f64 = row.sum();
        assert!((sum - 1.0).abs() < 1e-9, "row sums to {sum}");
        assert!(row.iter().all(|&v| (0.0..=1.0).contains(&v)), "row {row}");
    }
}

fn bits(a: ArrayView1<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn bits2(a: ArrayView2<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

// ---------------------------------------------------------------------------------------------
// decision tree
// ---------------------------------------------------------------------------------------------

#[test]
fn decision_tree_learns_threshold_and_xor() {
    let params = DecisionTreeParams::default().check().unwrap();
    for (name, make) in [
        ("threshold", threshold_data as fn(usize, u64) -> _),
        ("xor", xor_data),
    ] {
        let (x, y) = make(2000, 1);
        let (xt, yt) = make(1000, 2);
        let m = params.fit(x.view(), y.view(), BINARY, 0, None).unwrap();
        let acc = accuracy(m.predict(xt.view()).unwrap().view(), yt.view());
        let base = majority_accuracy(yt.view());
        assert!(
            acc > 0.95 && acc > base + 0.3,
            "{name}: accuracy {acc}, majority {base}"
        );
        assert_eq!(m.n_features(), 4);
        assert_proba_ok(m.predict_proba(xt.view()).unwrap().view(), 2);
    }
}

#[test]
fn decision_tree_entropy_and_depth_limit() {
    let (x, y) = threshold_data(1000, 3);
    let m = DecisionTreeParams::default()
        .criterion(Criterion::Entropy)
        .max_depth(Some(2))
        .check()
        .unwrap()
        .fit(x.view(), y.view(), BINARY, 0, None)
        .unwrap();
    assert!(m.depth() <= 2);
    assert!(m.n_leaves() <= 4);
    let acc = accuracy(m.predict(x.view()).unwrap().view(), y.view());
    assert!(acc > 0.97, "accuracy {acc}");
}

#[test]
fn decision_tree_regression_sin() {
    let (x, y) = sin_data(2000, 4);
    let (xt, yt) = sin_data(1000, 5);
    let m = DecisionTreeParams::default()
        .min_samples_leaf(10)
        .check()
        .unwrap()
        .fit(x.view(), y.view(), TreeTask::Regression, 0, None)
        .unwrap();
    let score = r2(m.predict(xt.view()).unwrap().view(), yt.view());
    assert!(score > 0.9, "R² {score}");
}

// ---------------------------------------------------------------------------------------------
// random forest
// ---------------------------------------------------------------------------------------------

#[test]
fn random_forest_classification_and_regression() {
    let params = RandomForestParams::default()
        .n_estimators(30)
        .check()
        .unwrap();
    let (x, y) = xor_data(2000, 6);
    let (xt, yt) = xor_data(1000, 7);
    let m = params.fit(x.view(), y.view(), BINARY, 1, None).unwrap();
    let acc = accuracy(m.predict(xt.view()).unwrap().view(), yt.view());
    assert!(acc > 0.93, "xor accuracy {acc}");
    assert_proba_ok(m.predict_proba(xt.view()).unwrap().view(), 2);
    assert_eq!(m.n_trees(), 30);

    let (x, y) = sin_data(2000, 8);
    let (xt, yt) = sin_data(1000, 9);
    let m = RandomForestParams::default()
        .n_estimators(30)
        .min_samples_leaf(3)
        .check()
        .unwrap()
        .fit(x.view(), y.view(), TreeTask::Regression, 1, None)
        .unwrap();
    let score = r2(m.predict(xt.view()).unwrap().view(), yt.view());
    assert!(score > 0.9, "R² {score}");
    assert!(m.predict_proba(xt.view()).is_err());
}

#[test]
fn random_forest_multiclass_probabilities() {
    let (x, y) = multiclass_data(1500, 10);
    let (xt, yt) = multiclass_data(500, 11);
    let task = TreeTask::Classification { n_classes: 3 };
    let m = RandomForestParams::default()
        .n_estimators(20)
        .max_features(Some(MaxFeatures::All))
        .check()
        .unwrap()
        .fit(x.view(), y.view(), task, 2, None)
        .unwrap();
    let proba = m.predict_proba(xt.view()).unwrap();
    assert_proba_ok(proba.view(), 3);
    let acc = accuracy(m.predict(xt.view()).unwrap().view(), yt.view());
    assert!(acc > 0.95, "accuracy {acc}");
}

#[test]
fn random_forest_is_deterministic_and_roundtrips() {
    let (x, y) = xor_data(800, 12);
    let params = RandomForestParams::default()
        .n_estimators(16)
        .check()
        .unwrap();
    let a = params.fit(x.view(), y.view(), BINARY, 42, None).unwrap();
    let b = params.fit(x.view(), y.view(), BINARY, 42, None).unwrap();
    let c = params.fit(x.view(), y.view(), BINARY, 43, None).unwrap();
    let ja = serde_json::to_vec(&a).unwrap();
    assert_eq!(ja, serde_json::to_vec(&b).unwrap());
    assert_ne!(
        ja,
        serde_json::to_vec(&c).unwrap(),
        "a different seed should change the forest"
    );

    let back: mlcycle::train::trees::RandomForestModel = serde_json::from_slice(&ja).unwrap();
    let (xt, _) = xor_data(300, 13);
    assert_eq!(
        bits2(a.predict_proba(xt.view()).unwrap().view()),
        bits2(back.predict_proba(xt.view()).unwrap().view())
    );

    // Progress: once per tree, on the calling thread.
    let mut seen = Vec::new();
    let mut hook = |p: TrainProgress| seen.push((p.done, p.total));
    let d = params
        .fit(x.view(), y.view(), BINARY, 42, Some(&mut hook))
        .unwrap();
    assert_eq!(seen, (1..=16).map(|i| (i, 16)).collect::<Vec<_>>());
    assert_eq!(
        ja,
        serde_json::to_vec(&d).unwrap(),
        "the hook must not change the model"
    );
}

// ---------------------------------------------------------------------------------------------
// gradient boosting
// ---------------------------------------------------------------------------------------------

fn gbdt(params: GbdtParams, x: &Array2<f64>, y: &Array1<f64>, task: TreeTask) -> GbdtModel {
    params
        .check()
        .unwrap()
        .fit(x.view(), y.view(), task, 0, None)
        .unwrap()
}

#[test]
fn gbdt_learns_threshold_and_xor() {
    for (name, make) in [
        ("threshold", threshold_data as fn(usize, u64) -> _),
        ("xor", xor_data),
    ] {
        let (x, y) = make(3000, 20);
        let (xt, yt) = make(1000, 21);
        let m = gbdt(GbdtParams::default(), &x, &y, BINARY);
        let acc = accuracy(m.predict(xt.view()).unwrap().view(), yt.view());
        let base = majority_accuracy(yt.view());
        assert!(
            acc > 0.95 && acc > base + 0.3,
            "{name}: accuracy {acc}, majority {base}"
        );
        assert_proba_ok(m.predict_proba(xt.view()).unwrap().view(), 2);
        assert_eq!(
            m.n_iter(),
            100,
            "no early stopping below 10,000 rows by default"
        );
        assert!(m.validation_losses().is_empty());
    }
}

#[test]
fn gbdt_regression_sin() {
    let (x, y) = sin_data(3000, 22);
    let (xt, yt) = sin_data(1000, 23);
    let m = gbdt(GbdtParams::default(), &x, &y, TreeTask::Regression);
    let score = r2(m.predict(xt.view()).unwrap().view(), yt.view());
    // Noise variance 0.01 against signal variance ~0.5: the best possible R² is about 0.98.
    assert!(score > 0.95, "R² {score}");
    assert!(m.predict_proba(xt.view()).is_err());
}

#[test]
fn gbdt_multiclass_probabilities_sum_to_one() {
    let (x, y) = multiclass_data(3000, 24);
    let (xt, yt) = multiclass_data(1000, 25);
    let task = TreeTask::Classification { n_classes: 3 };
    let m = gbdt(GbdtParams::default().max_iter(50), &x, &y, task);
    assert_eq!(m.n_trees(), 150, "one tree per class per iteration");
    let proba = m.predict_proba(xt.view()).unwrap();
    assert_proba_ok(proba.view(), 3);
    let pred = m.predict(xt.view()).unwrap();
    let acc = accuracy(pred.view(), yt.view());
    assert!(acc > 0.97, "accuracy {acc}");
    // predict is the argmax of predict_proba
    for (row, &p) in proba.rows().into_iter().zip(&pred) {
        let best = row.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(row[p as usize], best);
    }
}

#[test]
fn gbdt_respects_tree_size_limits() {
    let (x, y) = sin_data(2000, 26);
    let m = gbdt(
        GbdtParams::default().max_iter(10).max_leaf_nodes(Some(5)),
        &x,
        &y,
        TreeTask::Regression,
    );
    assert!(m.n_leaves() <= 50 && m.n_leaves() > 10);
    let m = gbdt(
        GbdtParams::default()
            .max_iter(10)
            .max_leaf_nodes(None)
            .max_depth(Some(2)),
        &x,
        &y,
        TreeTask::Regression,
    );
    assert!(m.n_leaves() <= 40 && m.n_leaves() > 10);
}

#[test]
fn gbdt_is_deterministic_and_roundtrips_bit_identically() {
    let (x, y) = multiclass_data(12_000, 27); // > 10,000 rows: early stopping + validation split
    let task = TreeTask::Classification { n_classes: 3 };
    let params = GbdtParams::default().max_iter(30).check().unwrap();
    let a = params.fit(x.view(), y.view(), task, 5, None).unwrap();
    let b = params.fit(x.view(), y.view(), task, 5, None).unwrap();
    let ja = serde_json::to_vec(&a).unwrap();
    assert_eq!(ja, serde_json::to_vec(&b).unwrap());
    let c = params.fit(x.view(), y.view(), task, 6, None).unwrap();
    assert_ne!(
        ja,
        serde_json::to_vec(&c).unwrap(),
        "the seed drives the validation split"
    );

    let back: GbdtModel = serde_json::from_slice(&ja).unwrap();
    let (mut xt, _) = multiclass_data(2000, 28);
    xt[[0, 0]] = f64::NAN; // unseen missing value
    xt[[1, 2]] = 1e300; // beyond the training range
    assert_eq!(
        bits2(a.predict_proba(xt.view()).unwrap().view()),
        bits2(back.predict_proba(xt.view()).unwrap().view())
    );
    assert_eq!(
        bits(a.predict(xt.view()).unwrap().view()),
        bits(back.predict(xt.view()).unwrap().view())
    );
    assert_eq!(ja, serde_json::to_vec(&back).unwrap());

    // Regression too, plus a non-contiguous input view gives the same answer.
    let (x, y) = sin_data(2000, 29);
    let r = gbdt(
        GbdtParams::default().max_iter(20),
        &x,
        &y,
        TreeTask::Regression,
    );
    let back: GbdtModel = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    let xt = sin_data(500, 30).0;
    let xt_f = xt.t().to_owned().reversed_axes(); // column-major copy
    let pa = r.predict(xt.view()).unwrap();
    assert_eq!(
        bits(pa.view()),
        bits(back.predict(xt.view()).unwrap().view())
    );
    assert_eq!(
        bits(pa.view()),
        bits(r.predict(xt_f.view()).unwrap().view())
    );
    let every_other = xt.slice(s![..;2, ..]);
    assert_eq!(
        bits(r.predict(every_other).unwrap().view()),
        bits(pa.slice(s![..;2]))
    );
}

#[test]
fn gbdt_learns_that_missing_is_predictive() {
    // Feature 0 is NaN exactly when y = 1 (30 % of rows); its values are noise otherwise.
    // Feature 1 is pure noise. Only the missing-value routing can separate the classes.
    let make = |n: usize, seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, 2));
        let mut y = Array1::zeros(n);
        for i in 0..n {
            let pos = rng.random::<f64>() < 0.3;
            x[[i, 0]] = if pos { f64::NAN } else { rng.random::<f64>() };
            x[[i, 1]] = rng.random::<f64>();
            y[i] = pos as u8 as f64;
        }
        (x, y)
    };
    let (x, y) = make(3000, 31);
    let (xt, yt) = make(1000, 32);
    let m = gbdt(GbdtParams::default().max_iter(30), &x, &y, BINARY);
    let acc = accuracy(m.predict(xt.view()).unwrap().view(), yt.view());
    assert!(acc > 0.99, "accuracy {acc}");

    // Same with regression, where missing means a large value: NaN must go with the high side
    // of feature 1's split, so the learned direction is not a default.
    let mut rng = ChaCha8Rng::seed_from_u64(33);
    let n = 3000;
    let mut x = Array2::zeros((n, 1));
    let mut y = Array1::zeros(n);
    for i in 0..n {
        let v: f64 = rng.random();
        if rng.random::<f64>() < 0.2 {
            x[[i, 0]] = f64::NAN;
            y[i] = 10.0;
        } else {
            x[[i, 0]] = v;
            y[i] = if v < 0.5 { 0.0 } else { 1.0 };
        }
    }
    let m = gbdt(GbdtParams::default(), &x, &y, TreeTask::Regression);
    let probe = Array2::from_shape_vec((3, 1), vec![f64::NAN, 0.25, 0.75]).unwrap();
    let pred = m.predict(probe.view()).unwrap();
    assert!((pred[0] - 10.0).abs() < 0.1, "NaN → {}", pred[0]);
    assert!(pred[1].abs() < 0.1, "0.25 → {}", pred[1]);
    assert!((pred[2] - 1.0).abs() < 0.1, "0.75 → {}", pred[2]);
}

#[test]
fn gbdt_learns_missing_direction_per_split() {
    // One stump (2 leaves, learning rate 1): the only way to fit exactly is to send NaN to the
    // side whose target it shares, left in the first case and right in the second.
    for nan_with_low in [true, false] {
        let mut rng = ChaCha8Rng::seed_from_u64(34);
        let n = 2000;
        let mut x = Array2::zeros((n, 1));
        let mut y = Array1::zeros(n);
        for i in 0..n {
            // 100 distinct values: every value gets its own bin, so a stump can be exact.
            let v = rng.random_range(0..100) as f64 / 100.0;
            if i % 5 == 0 {
                x[[i, 0]] = f64::NAN;
                y[i] = if nan_with_low { 0.0 } else { 1.0 };
            } else {
                x[[i, 0]] = v;
                y[i] = if v < 0.5 { 0.0 } else { 1.0 };
            }
        }
        let m = gbdt(
            GbdtParams::default()
                .max_iter(1)
                .learning_rate(1.0)
                .max_leaf_nodes(Some(2)),
            &x,
            &y,
            TreeTask::Regression,
        );
        let probe = Array2::from_shape_vec((3, 1), vec![f64::NAN, 0.25, 0.75]).unwrap();
        let pred = m.predict(probe.view()).unwrap();
        let want_nan = if nan_with_low { 0.0 } else { 1.0 };
        assert!(
            (pred[0] - want_nan).abs() < 1e-6,
            "nan_with_low={nan_with_low}: {pred}"
        );
        assert!(
            pred[1].abs() < 1e-6 && (pred[2] - 1.0).abs() < 1e-6,
            "{pred}"
        );
    }
}

#[test]
fn gbdt_early_stopping_stops_on_noise() {
    // Labels independent of the features: validation loss stops improving quickly.
    let n = 12_000;
    let x = uniform(n, 5, 40);
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let y: Array1<f64> = (0..n)
        .map(|_| (rng.random::<f64>() < 0.5) as u8 as f64)
        .collect();
    let mut progress = Vec::new();
    let mut hook = |p: TrainProgress| progress.push(p);
    let m = GbdtParams::default()
        .max_iter(200)
        .check()
        .unwrap()
        .fit(x.view(), y.view(), BINARY, 0, Some(&mut hook))
        .unwrap();
    assert!(
        m.n_iter() < 200,
        "early stopping should stop before max_iter (ran {})",
        m.n_iter()
    );
    assert!(
        m.n_iter() >= 11,
        "needs at least n_iter_no_change + 1 iterations"
    );
    assert_eq!(m.n_trees(), m.n_iter());
    assert_eq!(m.validation_losses().len(), m.n_iter() + 1);
    assert_eq!(progress.len(), m.n_iter());
    for (i, p) in progress.iter().enumerate() {
        assert_eq!((p.done, p.total), (i + 1, 200));
        assert_eq!(p.validation_loss, Some(m.validation_losses()[i + 1]));
    }

    // Switched off, it runs all iterations; switched on for small data, it also stops.
    let small = x.slice(s![..2000, ..]);
    let ys = y.slice(s![..2000]);
    let off = GbdtParams::default()
        .max_iter(40)
        .early_stopping(EarlyStopping::Disabled)
        .check()
        .unwrap()
        .fit(small, ys, BINARY, 0, None)
        .unwrap();
    assert_eq!(off.n_iter(), 40);
    let on = GbdtParams::default()
        .max_iter(200)
        .early_stopping(EarlyStopping::Enabled)
        .check()
        .unwrap()
        .fit(small, ys, BINARY, 0, None)
        .unwrap();
    assert!(on.n_iter() < 200);
    // Monitoring the training loss instead: a learnable problem keeps improving.
    let (xs, ys) = sin_data(2000, 42);
    let train_monitored = GbdtParams::default()
        .max_iter(50)
        .early_stopping(EarlyStopping::Enabled)
        .validation_fraction(None)
        .check()
        .unwrap()
        .fit(xs.view(), ys.view(), TreeTask::Regression, 0, None)
        .unwrap();
    assert_eq!(train_monitored.n_iter(), 50);
}

#[test]
fn gbdt_progress_without_early_stopping() {
    let (x, y) = threshold_data(500, 43);
    let mut calls = Vec::new();
    let mut hook = |p: TrainProgress| calls.push((p.done, p.total, p.validation_loss));
    GbdtParams::default()
        .max_iter(7)
        .check()
        .unwrap()
        .fit(x.view(), y.view(), BINARY, 0, Some(&mut hook))
        .unwrap();
    assert_eq!(calls, (1..=7).map(|i| (i, 7, None)).collect::<Vec<_>>());
}

#[test]
fn gbdt_handles_constant_and_tiny_inputs() {
    // A constant feature and a single class present: still fits, predicts that class.
    let x = Array2::from_elem((50, 2), 1.0);
    let y = Array1::zeros(50);
    let m = gbdt(GbdtParams::default().max_iter(5), &x, &y, BINARY);
    assert!(m.predict(x.view()).unwrap().iter().all(|&v| v == 0.0));
    // One row.
    let x = Array2::from_elem((1, 1), 3.0);
    let y = Array1::from_elem(1, 2.5);
    let m = gbdt(
        GbdtParams::default().max_iter(3),
        &x,
        &y,
        TreeTask::Regression,
    );
    assert_eq!(m.predict(x.view()).unwrap()[0], 2.5);
    // All-NaN feature.
    let x = Array2::from_elem((100, 1), f64::NAN);
    let y: Array1<f64> = (0..100).map(|i| (i % 2) as f64).collect();
    let m = gbdt(GbdtParams::default().max_iter(3), &x, &y, BINARY);
    assert_eq!(m.predict(x.view()).unwrap().len(), 100);
    // Empty prediction input.
    let empty = Array2::<f64>::zeros((0, 1));
    assert_eq!(m.predict(empty.view()).unwrap().len(), 0);
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

fn is_invalid(r: Result<impl std::fmt::Debug, Error>, what: &str) {
    match r {
        Err(Error::InvalidInput { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected InvalidInput({what}), got {other:?}"),
    }
}

fn is_data(r: Result<impl std::fmt::Debug, Error>) {
    match r {
        Err(Error::Data(msg)) => assert!(!msg.is_empty()),
        other => panic!("expected Data error, got {other:?}"),
    }
}

#[test]
fn bad_params_are_rejected() {
    let d = GbdtParams::default;
    is_invalid(d().learning_rate(0.0).check(), "learning_rate");
    is_invalid(d().learning_rate(-0.1).check(), "learning_rate");
    is_invalid(d().learning_rate(f64::NAN).check(), "learning_rate");
    is_invalid(d().max_iter(0).check(), "max_iter");
    is_invalid(d().max_leaf_nodes(Some(1)).check(), "max_leaf_nodes");
    is_invalid(d().max_depth(Some(0)).check(), "max_depth");
    is_invalid(d().min_samples_leaf(0).check(), "min_samples_leaf");
    is_invalid(d().l2_regularization(-1.0).check(), "l2_regularization");
    is_invalid(d().max_bins(1).check(), "max_bins");
    is_invalid(d().max_bins(256).check(), "max_bins");
    is_invalid(
        d().validation_fraction(Some(1.0)).check(),
        "validation_fraction",
    );
    is_invalid(
        d().validation_fraction(Some(0.0)).check(),
        "validation_fraction",
    );
    is_invalid(d().n_iter_no_change(0).check(), "n_iter_no_change");
    is_invalid(d().tol(-1e-3).check(), "tol");
    assert!(d().check().is_ok());

    let t = DecisionTreeParams::default;
    is_invalid(t().max_depth(Some(0)).check(), "max_depth");
    is_invalid(t().min_samples_split(1).check(), "min_samples_split");
    is_invalid(t().min_samples_leaf(0).check(), "min_samples_leaf");
    is_invalid(
        t().max_features(MaxFeatures::Fraction(0.0)).check(),
        "max_features",
    );
    is_invalid(
        t().max_features(MaxFeatures::Count(0)).check(),
        "max_features",
    );
    is_invalid(
        t().min_impurity_decrease(f64::NAN).check(),
        "min_impurity_decrease",
    );

    let f = RandomForestParams::default;
    is_invalid(f().n_estimators(0).check(), "n_estimators");
    is_invalid(f().max_depth(Some(0)).check(), "max_depth");
    is_invalid(
        f().max_features(Some(MaxFeatures::Fraction(1.5))).check(),
        "max_features",
    );

    // max_features larger than the data's feature count is caught at fit time.
    let (x, y) = threshold_data(50, 0);
    let p = t().max_features(MaxFeatures::Count(9)).check().unwrap();
    is_invalid(p.fit(x.view(), y.view(), BINARY, 0, None), "max_features");
}

#[test]
fn bad_data_is_rejected() {
    let gb = GbdtParams::default().max_iter(2).check().unwrap();
    let tr = DecisionTreeParams::default().check().unwrap();
    let rf = RandomForestParams::default()
        .n_estimators(2)
        .check()
        .unwrap();
    let (x, y) = threshold_data(100, 0);

    // Empty data.
    let x0 = Array2::<f64>::zeros((0, 4));
    let y0 = Array1::<f64>::zeros(0);
    is_data(gb.fit(x0.view(), y0.view(), BINARY, 0, None));
    is_data(tr.fit(x0.view(), y0.view(), BINARY, 0, None));
    is_data(rf.fit(x0.view(), y0.view(), BINARY, 0, None));
    let xnc = Array2::<f64>::zeros((10, 0));
    is_data(gb.fit(xnc.view(), Array1::zeros(10).view(), BINARY, 0, None));

    // Mismatched lengths.
    let short = y.slice(s![..99]);
    is_data(gb.fit(x.view(), short, BINARY, 0, None));
    is_data(tr.fit(x.view(), short, BINARY, 0, None));
    is_data(rf.fit(x.view(), short, BINARY, 0, None));

    // Labels out of range / not integers / negative / non-finite targets.
    for bad in [2.0, 0.5, -1.0, f64::NAN] {
        let mut yb = y.clone();
        yb[7] = bad;
        is_data(gb.fit(x.view(), yb.view(), BINARY, 0, None));
        is_data(tr.fit(x.view(), yb.view(), BINARY, 0, None));
        is_data(rf.fit(x.view(), yb.view(), BINARY, 0, None));
    }
    let mut yr = y.clone();
    yr[3] = f64::INFINITY;
    is_data(gb.fit(x.view(), yr.view(), TreeTask::Regression, 0, None));

    // Fewer than two classes.
    let one = TreeTask::Classification { n_classes: 1 };
    is_invalid(gb.fit(x.view(), y.view(), one, 0, None), "n_classes");
    is_invalid(tr.fit(x.view(), y.view(), one, 0, None), "n_classes");

    // NaN: rejected by tree / forest, accepted by GBDT; infinity rejected everywhere.
    let mut xn = x.clone();
    xn[[5, 1]] = f64::NAN;
    is_data(tr.fit(xn.view(), y.view(), BINARY, 0, None));
    is_data(rf.fit(xn.view(), y.view(), BINARY, 0, None));
    assert!(gb.fit(xn.view(), y.view(), BINARY, 0, None).is_ok());
    let mut xi = x.clone();
    xi[[5, 1]] = f64::NEG_INFINITY;
    is_data(gb.fit(xi.view(), y.view(), BINARY, 0, None));

    // Early stopping cannot hold out a validation set from one row.
    let es = GbdtParams::default()
        .early_stopping(EarlyStopping::Enabled)
        .check()
        .unwrap();
    is_data(es.fit(x.slice(s![..1, ..]), y.slice(s![..1]), BINARY, 0, None));

    // Prediction: wrong column count, NaN for tree models, proba on regression.
    let g = gb.fit(x.view(), y.view(), BINARY, 0, None).unwrap();
    let t = tr.fit(x.view(), y.view(), BINARY, 0, None).unwrap();
    let f = rf.fit(x.view(), y.view(), BINARY, 0, None).unwrap();
    let narrow = x.slice(s![.., ..3]);
    assert!(matches!(g.predict(narrow), Err(Error::SchemaMismatch(_))));
    assert!(matches!(
        g.predict_proba(narrow),
        Err(Error::SchemaMismatch(_))
    ));
    assert!(matches!(t.predict(narrow), Err(Error::SchemaMismatch(_))));
    assert!(matches!(
        f.predict_proba(narrow),
        Err(Error::SchemaMismatch(_))
    ));
    is_data(t.predict(xn.view()));
    is_data(f.predict(xn.view()));
    assert!(g.predict(xn.view()).is_ok());
    let reg = GbdtParams::default()
        .max_iter(2)
        .check()
        .unwrap()
        .fit(x.view(), y.view(), TreeTask::Regression, 0, None)
        .unwrap();
    is_invalid(reg.predict_proba(x.view()), "predict_proba");

    // A tampered model is rejected on load instead of looping or panicking later.
    let mut v: serde_json::Value = serde_json::to_value(&g).unwrap();
    if let Some(nodes) = v["trees"][0]["nodes"].as_array_mut()
        && nodes.len() > 1
    {
        nodes[0]["left"] = serde_json::json!(0);
    } else {
        panic!("expected a tree with a split");
    }
    assert!(serde_json::from_value::<GbdtModel>(v).is_err());
    let mut v: serde_json::Value = serde_json::to_value(&t).unwrap();
    v["tree"]["nodes"][0]["Split"]["left"] = serde_json::json!(0);
    assert!(serde_json::from_value::<mlcycle::train::trees::DecisionTreeModel>(v).is_err());
    let mut v: serde_json::Value = serde_json::to_value(&f).unwrap();
    v["n_features"] = serde_json::json!(0);
    assert!(serde_json::from_value::<mlcycle::train::trees::RandomForestModel>(v).is_err());
    // Untampered models load fine.
    let v = serde_json::to_value(&t).unwrap();
    assert!(serde_json::from_value::<mlcycle::train::trees::DecisionTreeModel>(v).is_ok());
}

#[test]
fn gbdt_beats_constant_on_larger_noisy_problem() {
    // 20k rows, 10 features, logistic ground truth: GBDT must approach the Bayes accuracy.
    let n = 20_000;
    let x = uniform(n, 10, 50);
    let mut rng = ChaCha8Rng::seed_from_u64(51);
    let logit =
        |r: ArrayView1<f64>| 6.0 * (r[0] - 0.5) + 4.0 * (r[1] - r[2]) + 3.0 * (r[3] * r[4] - 0.25);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| (rng.random::<f64>() < 1.0 / (1.0 + (-logit(r)).exp())) as u8 as f64)
        .collect();
    let m = gbdt(GbdtParams::default(), &x, &y, BINARY);
    let xt = uniform(5000, 10, 52);
    let bayes: Array1<f64> = xt
        .rows()
        .into_iter()
        .map(|r| (logit(r) > 0.0) as u8 as f64)
        .collect();
    let agree = accuracy(m.predict(xt.view()).unwrap().view(), bayes.view());
    assert!(agree > 0.9, "agreement with the Bayes classifier {agree}");
    let _ = x.index_axis(Axis(0), 0);
}

#[test]
fn models_do_not_depend_on_the_thread_count() {
    let (x, y) = multiclass_data(15_000, 60);
    let task = TreeTask::Classification { n_classes: 3 };
    let gb = GbdtParams::default().max_iter(15).check().unwrap();
    let rf = RandomForestParams::default()
        .n_estimators(6)
        .check()
        .unwrap();
    let fit_all = || {
        (
            serde_json::to_vec(&gb.fit(x.view(), y.view(), task, 9, None).unwrap()).unwrap(),
            serde_json::to_vec(&rf.fit(x.view(), y.view(), task, 9, None).unwrap()).unwrap(),
        )
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(fit_all);
    let three = pool(3).install(fit_all);
    assert!(one == three, "models differ between 1 and 3 threads");
}
