//! Gradient-boosting prediction (the leaf-bitvector evaluation where the CPU has AVX-512, the
//! branch-free traversal elsewhere) against a plain walk of the serialised trees: the raw
//! scores must be bit-identical, for random models and inputs with missing values,
//! ordinal-coded categoricals and one-hot columns, binary, multiclass and regression, trees
//! of up to 64 leaves and above, in every input layout and batch size.

use mlcycle::train::trees::{EarlyStopping, GbdtModel, GbdtParams, TreeTask, fit_gbdt};
use ndarray::{Array1, Array2, ShapeBuilder, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Columns: 0..3 numeric with missing values, 3 an ordinal code of 5 levels (missing too),
/// 4..7 one-hot of 3 levels, 7 numeric with many ties.
fn data(rng: &mut ChaCha8Rng, n: usize) -> Array2<f64> {
    let mut x = Array2::zeros((n, 8));
    for mut r in x.rows_mut() {
        for j in 0..3 {
            r[j] = if rng.random_bool(0.1) {
                f64::NAN
            } else {
                rng.random_range(-2.0..2.0)
            };
        }
        r[3] = if rng.random_bool(0.05) {
            f64::NAN
        } else {
            rng.random_range(0..5) as f64
        };
        r[4 + rng.random_range(0..3)] = 1.0;
        r[7] = (rng.random_range(0..12) as f64) * 0.5;
    }
    x
}

fn target(x: &Array2<f64>, task: TreeTask, rng: &mut ChaCha8Rng) -> Array1<f64> {
    x.rows()
        .into_iter()
        .map(|r| {
            let a = if r[0].is_nan() { 0.7 } else { r[0] };
            let c = if r[3].is_nan() { 2.0 } else { r[3] };
            let s = a * r[7] - r[1].max(0.0) + c * 0.3 * r[5] + rng.random_range(-0.5..0.5);
            match task {
                TreeTask::Regression => s,
                TreeTask::Classification { n_classes: 2 } => (s > 0.5) as u8 as f64,
                TreeTask::Classification { .. } => {
                    if s < 0.0 {
                        0.0
                    } else if s < 1.2 {
                        1.0
                    } else {
                        2.0
                    }
                }
            }
        })
        .collect()
}

fn float(v: &Value) -> f64 {
    v.as_str()
        .expect("floats are stored as strings")
        .parse()
        .expect("a float")
}

/// Raw scores by walking the serialised trees one row at a time: baseline, then each tree's
/// leaf value in tree order (tree `t` feeds output `t % k`).
fn reference(model: &GbdtModel, x: &Array2<f64>) -> Array2<f64> {
    let v = serde_json::to_value(model).expect("serialisable");
    let baseline: Vec<f64> = v["baseline"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    let k = baseline.len();
    let trees = v["trees"].as_array().unwrap();
    let mut out = Array2::zeros((x.nrows(), k));
    for (i, row) in x.rows().into_iter().enumerate() {
        for j in 0..k {
            out[[i, j]] = baseline[j];
        }
        for (t, tree) in trees.iter().enumerate() {
            let nodes = tree["nodes"].as_array().unwrap();
            let mut n = 0usize;
            while !nodes[n]["is_leaf"].as_bool().unwrap() {
                let nd = &nodes[n];
                let xv = row[nd["feature"].as_u64().unwrap() as usize];
                let left = if xv.is_nan() {
                    nd["missing_left"].as_bool().unwrap()
                } else {
                    xv <= float(&nd["threshold"])
                };
                n = nd[if left { "left" } else { "right" }].as_u64().unwrap() as usize;
            }
            out[[i, t % k]] += float(&nodes[n]["value"]);
        }
    }
    out
}

fn bits(a: &Array2<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn gbdt_scores_equal_a_plain_walk_of_the_trees_bit_for_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let cases = [
        (TreeTask::Classification { n_classes: 2 }, Some(31)),
        (TreeTask::Classification { n_classes: 3 }, Some(15)),
        (TreeTask::Regression, Some(64)),
        // Trees over 64 leaves take the traversal for the whole model.
        (TreeTask::Classification { n_classes: 2 }, Some(90)),
        (TreeTask::Regression, None),
    ];
    for (case, &(task, leaves)) in cases.iter().enumerate() {
        let x = data(&mut rng, 3000);
        let y = target(&x, task, &mut rng);
        let params = GbdtParams::default()
            .max_iter(12)
            .max_leaf_nodes(leaves)
            .min_samples_leaf(3)
            .early_stopping(EarlyStopping::Disabled)
            .check()
            .expect("valid params");
        let model = fit_gbdt(&params, x.view(), y.view(), task, case as u64, None).expect("fit");
        let test = data(&mut rng, 1000);
        let want = reference(&model, &test);
        // Batch sizes around the 16-row groups and 64-row blocks.
        for n in [1, 7, 16, 63, 64, 65, 200, 1000] {
            let part = test.slice(s![..n, ..]).to_owned();
            let got = model.decision_function(part.view()).expect("predict");
            assert_eq!(
                bits(&got),
                bits(&want.slice(s![..n, ..]).to_owned()),
                "case {case}, {n} rows"
            );
        }
        // Column-major and strided inputs take the other block-filling path.
        let mut fortran = Array2::zeros(test.dim().f());
        fortran.assign(&test);
        let got = model.decision_function(fortran.view()).expect("predict");
        assert_eq!(bits(&got), bits(&want), "case {case}, column-major");
        let got = model
            .decision_function(test.slice(s![..;2, ..]))
            .expect("predict");
        assert_eq!(
            bits(&got),
            bits(&want.slice(s![..;2, ..]).to_owned()),
            "case {case}, every other row"
        );
        if let TreeTask::Classification { n_classes } = task {
            let p = model.predict_proba(test.view()).expect("proba");
            assert_eq!(p.ncols(), n_classes);
            for r in p.rows() {
                assert!((r.sum() - 1.0).abs() < 1e-12);
            }
        }
    }
}
