//! Logistic regression (L-BFGS) against scikit-learn's `LogisticRegression(solver="lbfgs")`
//! on committed fixtures (`scripts/logistic_fixtures.py`), plus convergence reporting and
//! reproducibility.

use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::model::{LogisticModel, Model, ModelArtifact};
use mlcycle::train::{LogisticParams, fit_logistic};
use ndarray::{Array1, Array2};
use serde_json::Value;

fn fixtures() -> Value {
    let s = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/train/logistic_sklearn.json"
    ))
    .unwrap();
    serde_json::from_str(&s).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn dataset(case: &Value) -> Dataset {
    let x = matrix(&case["x"]);
    let y: Vec<f64> = serde_json::from_value(case["y"].clone()).unwrap();
    let k = case["n_classes"].as_u64().unwrap() as usize;
    let features = (0..x.ncols())
        .map(|j| Feature::numeric(format!("x{j}")))
        .collect();
    let classes: Vec<String> = (0..k).map(|c| format!("c{c}")).collect();
    let kind = if k == 2 {
        TargetKind::Binary { classes }
    } else {
        TargetKind::Multiclass { classes }
    };
    let schema = Schema::new(
        features,
        Some(Target {
            name: "y".into(),
            kind,
        }),
    )
    .unwrap();
    Dataset::new(schema, x, Some(Array1::from(y)), None).unwrap()
}

fn fit(case: &Value, tol: f64) -> LogisticModel {
    let params = LogisticParams::default()
        .l2(case["l2"].as_f64().unwrap())
        .tol(tol)
        .max_iter(1_000)
        .check()
        .unwrap();
    fit_logistic(&dataset(case), &params).unwrap()
}

/// Our solution against scikit-learn's, to a tolerance that follows from how far each solver
/// stopped from the optimum: on an objective with curvature ≥ μ, a point whose gradient has
/// largest component g is within √dim · g / μ (Euclidean) of the minimiser. Both solutions
/// are, so they are within the sum of their bounds of each other; a reference-form
/// coefficient (class c minus class 0) doubles that for three or more classes.
fn check_against_sklearn(name: &str) {
    let fx = fixtures();
    let case = &fx[name];
    let k = case["n_classes"].as_u64().unwrap() as usize;
    let m = fit(case, 1e-10);
    let conv = m
        .convergence()
        .expect("a fresh fit records its convergence");
    assert!(conv.converged, "{name}: {conv:?}");
    assert!(conv.warning.is_none());
    let d = m.weights.nrows();
    let dim = (d + 1) * if k == 2 { 1 } else { k };
    let mu = case["hessian_min_eig"].as_f64().unwrap();
    let g_sk = case["sk_max_gradient"].as_f64().unwrap();
    let factor = if k == 2 { 1.0 } else { 2.0 };
    let bound = factor * (dim as f64).sqrt() * (conv.max_gradient + g_sk) / mu + 1e-10;
    // The bound must be tight enough to mean something.
    assert!(bound < 1e-4, "{name}: bound {bound:e} ({conv:?})");
    let w = matrix(&case["weights"]);
    let b: Vec<f64> = serde_json::from_value(case["intercepts"].clone()).unwrap();
    assert_eq!(m.weights.dim(), w.dim(), "{name}");
    for ((u, c), &expected) in w.indexed_iter() {
        let got = m.weights[[u, c]];
        assert!(
            (got - expected).abs() <= bound,
            "{name}: weight [{u}, {c}] = {got}, scikit-learn {expected}, allowed ±{bound:e}"
        );
    }
    for (c, &expected) in b.iter().enumerate() {
        let got = m.intercepts[c];
        assert!(
            (got - expected).abs() <= bound,
            "{name}: intercept {c} = {got}, scikit-learn {expected}, allowed ±{bound:e}"
        );
    }
    // Probabilities move at most |Δη| ≤ ‖Δθ‖·‖(z, 1)‖ / 4 per logit; compare loosely.
    let proba = matrix(&case["proba"]);
    let x = matrix(&case["x"]);
    let ours = m
        .predict(x.slice(ndarray::s![..proba.nrows(), ..]))
        .unwrap()
        .probabilities
        .unwrap();
    for ((i, c), &expected) in proba.indexed_iter() {
        assert!(
            (ours[[i, c]] - expected).abs() < 1e-6,
            "{name}: P(row {i} = {c}) = {}, scikit-learn {expected}",
            ours[[i, c]]
        );
    }
}

#[test]
fn binary_matches_sklearn() {
    check_against_sklearn("binary");
}

#[test]
fn binary_with_a_weak_penalty_matches_sklearn() {
    check_against_sklearn("binary_weak_penalty");
}

#[test]
fn multinomial_matches_sklearn() {
    check_against_sklearn("multinomial");
}

#[test]
fn default_tolerance_is_close_to_sklearn_and_converges() {
    // scikit-learn's default tol (1e-4) on the same objective: close, not exact.
    let fx = fixtures();
    let case = &fx["binary"];
    let params = LogisticParams::default()
        .l2(case["l2"].as_f64().unwrap())
        .check()
        .unwrap();
    assert_eq!(params.get().tol, 1e-4);
    let m = fit_logistic(&dataset(case), &params).unwrap();
    let conv = m.convergence().unwrap();
    assert!(conv.converged && conv.max_gradient <= 1e-4, "{conv:?}");
    let w = matrix(&case["weights"]);
    let mu = case["hessian_min_eig"].as_f64().unwrap();
    let bound = (6f64).sqrt() * 1e-4 / mu;
    for ((u, c), &expected) in w.indexed_iter() {
        assert!((m.weights[[u, c]] - expected).abs() <= bound);
    }
}

#[test]
fn not_converging_is_reported_with_a_warning() {
    let fx = fixtures();
    let case = &fx["multinomial"];
    let params = LogisticParams::default()
        .l2(case["l2"].as_f64().unwrap())
        .tol(1e-12)
        .max_iter(2)
        .check()
        .unwrap();
    let m = fit_logistic(&dataset(case), &params).unwrap();
    let conv = m.convergence().unwrap();
    assert!(!conv.converged);
    assert_eq!(conv.n_iter, 2);
    let warning = conv.warning.as_deref().unwrap();
    assert!(
        warning.contains("did not converge in 2 iterations"),
        "{warning}"
    );
    assert!(warning.contains("max_iter"), "{warning}");
    // The record survives the artifact round trip.
    let art = ModelArtifact::Logistic(m.clone());
    let back: ModelArtifact = serde_json::from_slice(&serde_json::to_vec(&art).unwrap()).unwrap();
    match back {
        ModelArtifact::Logistic(b) => assert_eq!(b.convergence(), m.convergence()),
        other => panic!("flavor changed: {}", other.flavor()),
    }
}

#[test]
fn same_model_bytes_whatever_the_thread_count() {
    // Rows are split into fixed chunks reduced in order, so the pool size cannot matter.
    let n = 9_000; // several chunks
    let x = Array2::from_shape_fn((n, 6), |(i, j)| {
        (((i * 31 + j * 17) % 97) as f64 / 9.7 - 5.0) * (1.0 + j as f64)
    });
    let y = Array1::from_shape_fn(n, |i| {
        let s = x[[i, 0]] - 0.3 * x[[i, 1]] + 0.1 * x[[i, 4]] + ((i * 13) % 7) as f64 - 3.0;
        if s > 0.0 { 1.0 } else { 0.0 }
    });
    let features = (0..6).map(|j| Feature::numeric(format!("x{j}"))).collect();
    let schema = Schema::new(
        features,
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Binary {
                classes: vec!["no".into(), "yes".into()],
            },
        }),
    )
    .unwrap();
    let data = Dataset::new(schema, x, Some(y), None).unwrap();
    let params = LogisticParams::default().tol(1e-8).check().unwrap();
    let bytes = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let m = pool.install(|| fit_logistic(&data, &params).unwrap());
        serde_json::to_vec(&ModelArtifact::Logistic(m)).unwrap()
    };
    let one = bytes(1);
    assert_eq!(one, bytes(3));
    assert_eq!(one, bytes(1));
}
