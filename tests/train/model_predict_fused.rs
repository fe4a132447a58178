//! The fused prediction path of linear models (checks, imputation, standardisation, dot
//! product and link in one pass) against the straightforward one (check, transform into a new
//! matrix, matrix product, softmax) on random models and inputs with missing values, one-hot
//! categoricals, batches larger than one parallel chunk and non-contiguous layouts.

use mlcycle::data::{Feature, Schema, Target, TargetKind, validate_features};
use mlcycle::model::{ColumnTransform, LinearModel, LogisticModel, Model, Preprocessor, Signature};
use ndarray::{Array1, Array2, ArrayView2, Axis, ShapeBuilder, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Column layout: `None` numeric, `Some(levels)` categorical.
fn schema(cols: &[Option<usize>], target: TargetKind) -> Schema {
    let features = cols
        .iter()
        .enumerate()
        .map(|(j, c)| match c {
            None => Feature::numeric(format!("x{j}")),
            Some(l) => Feature::categorical(format!("c{j}"), (0..*l).map(|i| format!("l{i}"))),
        })
        .collect();
    Schema::new(
        features,
        Some(Target {
            name: "y".into(),
            kind: target,
        }),
    )
    .unwrap()
}

fn preprocessor(cols: &[Option<usize>], rng: &mut ChaCha8Rng) -> Preprocessor {
    Preprocessor {
        columns: cols
            .iter()
            .map(|c| match c {
                None => ColumnTransform::Standardize {
                    fill: rng.random_range(-3.0..3.0),
                    // Means far from zero too: the fused path must not lose digits there.
                    mean: rng.random_range(-50.0..50.0),
                    scale: rng.random_range(0.1..20.0),
                },
                Some(l) => ColumnTransform::OneHot { n_levels: *l },
            })
            .collect(),
    }
}

/// Random encoded rows: numerics around their mean with ~10 % missing, categoricals as level
/// codes with ~10 % missing.
fn inputs(
    cols: &[Option<usize>],
    pre: &Preprocessor,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> Array2<f64> {
    Array2::from_shape_fn((n, cols.len()), |(_, j)| {
        if rng.random_bool(0.1) {
            return f64::NAN;
        }
        match (&cols[j], &pre.columns[j]) {
            (Some(l), _) => rng.random_range(0..*l) as f64,
            (None, ColumnTransform::Standardize { mean, scale, .. }) => {
                mean + scale * rng.random_range(-3.0..3.0)
            }
            _ => unreachable!(),
        }
    })
}

/// The straightforward scores: transform, then matrix product plus intercepts.
fn reference_scores(
    pre: &Preprocessor,
    w: &Array2<f64>,
    b: &Array1<f64>,
    x: ArrayView2<'_, f64>,
) -> (Array2<f64>, Array2<f64>) {
    let z = pre.transform(x);
    let eta = z.dot(w) + b;
    // The magnitude the scores are accurate to: Σ |terms| + |intercept|.
    let scale = z.mapv(f64::abs).dot(&w.mapv(f64::abs)) + b.mapv(f64::abs);
    (eta, scale)
}

fn reference_probabilities(eta: &Array2<f64>) -> Array2<f64> {
    let k = eta.ncols() + 1;
    let mut p = Array2::<f64>::zeros((eta.nrows(), k));
    for (i, row) in eta.axis_iter(Axis(0)).enumerate() {
        let m = row.iter().fold(0.0_f64, |a, &b| a.max(b));
        let mut s = (-m).exp();
        p[[i, 0]] = s;
        for (c, &e) in row.iter().enumerate() {
            let v = (e - m).exp();
            p[[i, c + 1]] = v;
            s += v;
        }
        p.row_mut(i).mapv_inplace(|v| v / s);
    }
    p
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

const LAYOUTS: [&[Option<usize>]; 4] = [
    &[None; 30],
    &[None, None, None, None, None, None, None],
    &[
        None,
        Some(3),
        None,
        None,
        Some(5),
        None,
        Some(2),
        None,
        None,
    ],
    &[Some(4), Some(2)],
];

fn layouts_of(x: &Array2<f64>) -> Vec<(&'static str, Array2<f64>)> {
    let mut f = Array2::<f64>::zeros(x.raw_dim().f());
    f.assign(x);
    vec![("row-major", x.clone()), ("column-major", f)]
}

#[test]
fn logistic_fused_path_equals_the_straightforward_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for cols in LAYOUTS {
        for n_classes in [2usize, 3, 5] {
            let classes: Vec<String> = (0..n_classes).map(|c| format!("k{c}")).collect();
            let kind = if n_classes == 2 {
                TargetKind::Binary { classes }
            } else {
                TargetKind::Multiclass { classes }
            };
            let sch = schema(cols, kind);
            let pre = preprocessor(cols, &mut rng);
            let width = pre.output_width();
            let model = LogisticModel {
                signature: Signature::from_training_schema(&sch).unwrap(),
                weights: Array2::from_shape_fn((width, n_classes - 1), |_| {
                    rng.random_range(-0.8..0.8)
                }),
                intercepts: Array1::from_shape_fn(n_classes - 1, |_| rng.random_range(-1.0..1.0)),
                preprocessor: pre,
                convergence: None,
            };
            // More rows than one parallel chunk, a ragged last chunk, and tiny batches.
            for n in [0usize, 1, 9, 5_003] {
                let x = inputs(cols, &model.preprocessor, n, &mut rng);
                let (eta, mag) = reference_scores(
                    &model.preprocessor,
                    &model.weights,
                    &model.intercepts,
                    x.view(),
                );
                let want = reference_probabilities(&eta);
                for (layout, xl) in layouts_of(&x) {
                    let got = model.predict(xl.view()).unwrap();
                    let p = got.probabilities.as_ref().unwrap();
                    assert_eq!(p.dim(), want.dim());
                    assert_eq!(got.values.len(), n);
                    for i in 0..n {
                        for c in 0..n_classes {
                            assert!(
                                close(p[[i, c]], want[[i, c]], 1e-12),
                                "{layout} {cols:?} k={n_classes} row {i} class {c}: {} vs {}",
                                p[[i, c]],
                                want[[i, c]]
                            );
                        }
                        // The predicted class is the most probable (ties aside).
                        let best = got.values[i] as usize;
                        let top = want.row(i).iter().copied().fold(f64::MIN, f64::max);
                        assert!(close(want[[i, best]], top, 1e-12), "row {i}");
                        let _ = mag[[i, 0]];
                    }
                }
                // The same bits whatever the layout (the contiguous path may run wider SIMD).
                let [a, b] = [0, 1].map(|l| model.predict(layouts_of(&x)[l].1.view()).unwrap());
                assert_eq!(a, b, "{cols:?} k={n_classes}: layouts disagree");
                // A strided view (every other row) too.
                if n > 2 {
                    let v = x.slice(s![..;2, ..]);
                    let got = model.predict(v).unwrap();
                    let (eta, _) =
                        reference_scores(&model.preprocessor, &model.weights, &model.intercepts, v);
                    let want = reference_probabilities(&eta);
                    for (a, b) in got.probabilities.unwrap().iter().zip(want.iter()) {
                        assert!(close(*a, *b, 1e-12), "strided: {a} vs {b}");
                    }
                }
            }
        }
    }
}

#[test]
fn linear_fused_path_equals_the_straightforward_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for cols in LAYOUTS {
        let sch = schema(cols, TargetKind::Regression);
        let pre = preprocessor(cols, &mut rng);
        let width = pre.output_width();
        let w = Array1::from_shape_fn(width, |_| rng.random_range(-2.0..2.0));
        let model = LinearModel {
            signature: Signature::from_training_schema(&sch).unwrap(),
            weights: w.clone(),
            intercept: rng.random_range(-5.0..5.0),
            preprocessor: pre,
        };
        for n in [0usize, 1, 5_003] {
            let x = inputs(cols, &model.preprocessor, n, &mut rng);
            let w2 = w.clone().insert_axis(Axis(1));
            let (eta, mag) = reference_scores(
                &model.preprocessor,
                &w2,
                &Array1::from(vec![model.intercept]),
                x.view(),
            );
            for (layout, xl) in layouts_of(&x) {
                let got = model.predict(xl.view()).unwrap();
                assert!(got.probabilities.is_none());
                for i in 0..n {
                    // Accurate relative to the magnitude of the terms (a value near zero is
                    // the difference of larger terms in either path).
                    let (a, b) = (got.values[i], eta[[i, 0]]);
                    assert!(
                        (a - b).abs() <= 1e-12 * mag[[i, 0]],
                        "{layout} {cols:?} row {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn fused_path_reports_bad_inputs_as_the_input_check_does() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let cols: &[Option<usize>] = &[None, Some(3), None, None];
    let classes = vec!["a".to_string(), "b".to_string()];
    let sch = schema(cols, TargetKind::Binary { classes });
    let pre = preprocessor(cols, &mut rng);
    let width = pre.output_width();
    let model = LogisticModel {
        signature: Signature::from_training_schema(&sch).unwrap(),
        // Zero coefficients too: an infinite input must be caught even when it has no weight.
        weights: Array2::zeros((width, 1)),
        intercepts: Array1::zeros(1),
        preprocessor: pre,
        convergence: None,
    };
    let inputs_schema = sch.without_target();
    let base = inputs(cols, &model.preprocessor, 3_000, &mut rng);
    let cases: Vec<Vec<((usize, usize), f64)>> = vec![
        vec![((2_500, 0), f64::INFINITY)],
        vec![((10, 3), f64::NEG_INFINITY)],
        vec![((7, 1), 3.0)],
        vec![((7, 1), 0.5)],
        vec![((7, 1), -1.0)],
        // Several problems: the first column's comes first, whatever the row order.
        vec![
            ((2_900, 0), f64::INFINITY),
            ((1, 3), f64::INFINITY),
            ((0, 1), 9.0),
        ],
    ];
    for bad in cases {
        let mut x = base.clone();
        for &((i, j), v) in &bad {
            x[[i, j]] = v;
        }
        let want = validate_features(&inputs_schema, x.view())
            .unwrap_err()
            .to_string();
        let got = model.predict(x.view()).unwrap_err().to_string();
        assert_eq!(got, want, "{bad:?}");
        let lin = LinearModel {
            signature: Signature::from_training_schema(&schema(cols, TargetKind::Regression))
                .unwrap(),
            preprocessor: model.preprocessor.clone(),
            weights: Array1::zeros(width),
            intercept: 0.0,
        };
        assert_eq!(lin.predict(x.view()).unwrap_err().to_string(), want);
    }
    // The wrong number of columns.
    let x = Array2::<f64>::zeros((4, 3));
    assert_eq!(
        model.predict(x.view()).unwrap_err().to_string(),
        validate_features(&inputs_schema, x.view())
            .unwrap_err()
            .to_string()
    );
}

/// Tree models check their inputs in the input's memory order (gradient boosting while it reads
/// the rows): the same errors as the column-by-column check, and the same predictions as the
/// learner on the preprocessed input.
#[test]
fn tree_models_check_inputs_as_before() {
    use mlcycle::model::ModelArtifact;
    use mlcycle::testing::{CreditDefault, DriftSpec};
    use mlcycle::train::{AlgorithmTrainer, TrainContext};

    let data = CreditDefault::new(5)
        .sample(800, &DriftSpec::none(), 0)
        .unwrap();
    let schema = data.schema().without_target();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut x = data.features().to_owned();
    let numeric: Vec<usize> = (0..schema.n_features())
        .filter(|&j| schema.features[j].levels().is_none())
        .collect();
    let categorical: Vec<usize> = (0..schema.n_features())
        .filter(|&j| schema.features[j].levels().is_some())
        .collect();
    assert!(!numeric.is_empty() && !categorical.is_empty());
    for v in x.iter_mut() {
        if rng.random_bool(0.05) {
            *v = f64::NAN;
        }
    }
    for name in ["gbdt", "tree", "forest"] {
        let trainer = AlgorithmTrainer::from_name(name, &serde_json::Value::Null).unwrap();
        let model = trainer
            .fit(&data, &TrainContext::with_seed(0))
            .unwrap()
            .model;
        let got = model.predict(x.view()).unwrap();
        // The learner alone on the preprocessed input.
        let want = match model.to_artifact().unwrap() {
            ModelArtifact::Gbdt(m) => m
                .learner
                .predict_proba(m.preprocessor.transform(x.view()).view())
                .unwrap(),
            ModelArtifact::DecisionTree(m) => m
                .learner
                .predict_proba(m.preprocessor.transform(x.view()).view())
                .unwrap(),
            ModelArtifact::RandomForest(m) => m
                .learner
                .predict_proba(m.preprocessor.transform(x.view()).view())
                .unwrap(),
            _ => unreachable!(),
        };
        assert_eq!(got.probabilities.as_ref().unwrap(), &want, "{name}");
        let cases: Vec<Vec<((usize, usize), f64)>> = vec![
            vec![((700, numeric[0]), f64::INFINITY)],
            vec![((3, *numeric.last().unwrap()), f64::NEG_INFINITY)],
            vec![((9, categorical[0]), 1e9)],
            vec![((9, categorical[0]), 0.5)],
            vec![((9, categorical[0]), f64::INFINITY)],
            vec![
                ((799, numeric[0]), f64::INFINITY),
                ((0, *numeric.last().unwrap()), f64::INFINITY),
                ((1, categorical[0]), -2.0),
            ],
        ];
        for bad in cases {
            let mut xb = x.clone();
            for &((i, j), v) in &bad {
                xb[[i, j]] = v;
            }
            let want = validate_features(&schema, xb.view())
                .unwrap_err()
                .to_string();
            let got = model.predict(xb.view()).unwrap_err().to_string();
            assert_eq!(got, want, "{name} {bad:?}");
        }
    }
}
