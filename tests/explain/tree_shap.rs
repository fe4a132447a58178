//! Path-dependent TreeSHAP equals shap's `TreeExplainer(feature_perturbation=
//! "tree_path_dependent")` to 1e-9 on the committed fixtures (made by
//! `scripts/explain_fixtures.py` from the inputs `generate_tree_fixture_inputs` writes), and
//! `base_value + Σ contributions` equals the model's output for every row.

use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::explain::{explain_rows, shap_tree_dict};
use mlcycle::model::ModelArtifact;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{AlgorithmTrainer, TrainContext};
use ndarray::{Array1, Array2};
use serde_json::{Value, json};
use std::path::PathBuf;

const CASES: &[&str] = &[
    "gbdt_binary_missing",
    "gbdt_regression",
    "forest_binary",
    "tree_regression",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain")
}

fn regression(n: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (7 + 3 * j) + j) % 101) as f64 / 10.0);
    let y = Array1::from_shape_fn(n, |i| {
        2.0 * x[[i, 0]] - x[[i, 1]] + x[[i, 0]] * x[[i, 2]] * 0.3 + (i % 5) as f64 * 0.01
    });
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

fn case_data(case: &str) -> (Dataset, &'static str, Value) {
    match case {
        "gbdt_binary_missing" => (
            CreditDefault::new(11)
                .sample(600, &DriftSpec::missing_surge("income", 0.2), 0)
                .unwrap(),
            "gbdt",
            json!({"max_iter": 30}),
        ),
        "gbdt_regression" => (regression(400), "gbdt", json!({"max_iter": 25})),
        "forest_binary" => (
            CreditDefault::new(11)
                .sample(500, &DriftSpec::none(), 1)
                .unwrap(),
            "forest",
            json!({"n_estimators": 8, "max_depth": 6}),
        ),
        "tree_regression" => (regression(300), "tree", json!({"max_depth": 5})),
        other => panic!("unknown case {other}"),
    }
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let (n, m) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, m), rows.concat()).unwrap()
}

fn to_json(m: ndarray::ArrayView2<f64>) -> Value {
    json!(
        m.rows()
            .into_iter()
            .map(|r| r
                .iter()
                .map(|&v| if v.is_nan() { Value::Null } else { json!(v) })
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

/// Writes the fixture inputs (model, rows, background, shap's tree dictionary). Run with
/// `cargo test --test explain generate_tree_fixture_inputs -- --ignored`, then
/// `scripts/explain_fixtures.py`.
#[test]
#[ignore = "writes the fixture inputs"]
fn generate_tree_fixture_inputs() {
    for case in CASES {
        let (data, algo, params) = case_data(case);
        let trained = AlgorithmTrainer::from_name(algo, &params)
            .unwrap()
            .fit(&data, &TrainContext::with_seed(7))
            .unwrap();
        let art = trained.model.to_artifact().unwrap();
        let x = data.features().slice(ndarray::s![..40, ..]).to_owned();
        let bg = data.features().slice(ndarray::s![100.., ..]).to_owned();
        let pre = |m: &Array2<f64>| match &art {
            ModelArtifact::Gbdt(p) => p.preprocessor.transform(m.view()),
            ModelArtifact::DecisionTree(p) => p.preprocessor.transform(m.view()),
            ModelArtifact::RandomForest(p) => p.preprocessor.transform(m.view()),
            _ => unreachable!(),
        };
        let class = if data
            .schema()
            .target
            .as_ref()
            .unwrap()
            .kind
            .classes()
            .is_some()
        {
            json!(1)
        } else {
            Value::Null
        };
        let dict = shap_tree_dict(&art, class.as_u64().map(|c| c as usize), bg.view())
            .unwrap()
            .unwrap();
        let out = json!({
            "artifact": serde_json::from_slice::<Value>(&art.to_bytes().unwrap()).unwrap(),
            "class": class,
            "x": to_json(x.view()),
            "background": to_json(bg.view()),
            "x_preprocessed": to_json(pre(&x).view()),
            "shap_model": dict,
        });
        std::fs::write(
            dir().join(format!("{case}.input.json")),
            serde_json::to_vec(&out).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn tree_shap_equals_shap_tree_explainer_and_sums_to_the_output() {
    for case in CASES {
        let input: Value = serde_json::from_slice(
            &std::fs::read(dir().join(format!("{case}.input.json"))).unwrap(),
        )
        .unwrap();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir().join(format!("{case}.expected.json"))).unwrap(),
        )
        .unwrap();
        let art =
            ModelArtifact::from_bytes(&serde_json::to_vec(&input["artifact"]).unwrap()).unwrap();
        let x = matrix(&input["x"]);
        let bg = matrix(&input["background"]);
        let class = input["class"].as_u64().map(|c| c as usize);
        let e = explain_rows(&art, x.view(), bg.view(), class).unwrap();
        assert_eq!(e.method, "tree_shap_path_dependent");
        let ev = expected["expected_value"].as_f64().unwrap();
        assert!(
            (e.base_value - ev).abs() < 1e-9,
            "{case}: base value {} vs shap {ev}",
            e.base_value
        );
        let phi = matrix(&expected["phi"]);
        let margin = expected["margin"].as_array().unwrap();
        assert_eq!(e.rows.len(), phi.nrows(), "{case}");
        // The model's own output for these rows.
        let model = art.clone().into_model().unwrap();
        let pred = model.predict(x.view()).unwrap();
        for (i, row) in e.rows.iter().enumerate() {
            for (j, c) in row.contributions.iter().enumerate() {
                assert!(
                    (c - phi[[i, j]]).abs() < 1e-9,
                    "{case} row {i} feature {j}: {c} vs shap {}",
                    phi[[i, j]]
                );
            }
            let m = margin[i].as_f64().unwrap();
            assert!((row.value - m).abs() < 1e-9, "{case} row {i}");
            let sum: f64 = row.contributions.iter().sum();
            assert!(
                (e.base_value + sum - row.value).abs() < 1e-9,
                "{case} row {i}: {} + {sum} != {}",
                e.base_value,
                row.value
            );
            // The explained value is the model's margin / probability / prediction.
            let own = match (&pred.probabilities, case.starts_with("gbdt")) {
                (Some(p), true) => (p[[i, 1]] / p[[i, 0]]).ln(),
                (Some(p), false) => p[[i, 1]],
                (None, _) => pred.values[i],
            };
            assert!(
                (row.value - own).abs() < 1e-9,
                "{case} row {i}: explained {} vs model {own}",
                row.value
            );
        }
    }
}

/// Multiclass GBDT: each class is explained on its own raw score, so the difference of two
/// classes' explained values is the log-ratio of their probabilities (softmax), and each
/// class's contributions add up to its value.
#[test]
fn multiclass_gbdt_explains_each_class_raw_score() {
    let n = 300;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (7 + 3 * j) + j) % 101) as f64 / 10.0);
    let y = Array1::from_shape_fn(n, |i| {
        ((x[[i, 0]] + x[[i, 1]] * 0.5) / 5.0).floor().min(2.0)
    });
    let schema = Schema::new(
        vec![
            Feature::numeric("a"),
            Feature::numeric("b"),
            Feature::numeric("c"),
        ],
        Some(Target {
            name: "y".into(),
            kind: TargetKind::classification(["low", "mid", "high"]).unwrap(),
        }),
    )
    .unwrap();
    let data = Dataset::new(schema, x, Some(y), None).unwrap();
    let trained = AlgorithmTrainer::from_name("gbdt", &json!({"max_iter": 10}))
        .unwrap()
        .fit(&data, &TrainContext::with_seed(1))
        .unwrap();
    let art = trained.model.to_artifact().unwrap();
    let rows = data.features().slice(ndarray::s![..20, ..]).to_owned();
    let p = trained
        .model
        .predict(rows.view())
        .unwrap()
        .probabilities
        .unwrap();
    let per_class: Vec<_> = (0..3)
        .map(|k| explain_rows(&art, rows.view(), data.features(), Some(k)).unwrap())
        .collect();
    for (k, e) in per_class.iter().enumerate() {
        assert_eq!(e.class.as_deref(), Some(["low", "mid", "high"][k]));
        for r in &e.rows {
            let sum: f64 = r.contributions.iter().sum();
            assert!((e.base_value + sum - r.value).abs() < 1e-9);
        }
    }
    for i in 0..20 {
        for k in 1..3 {
            let diff = per_class[k].rows[i].value - per_class[0].rows[i].value;
            assert!(
                (diff - (p[[i, k]] / p[[i, 0]]).ln()).abs() < 1e-9,
                "row {i} class {k}"
            );
        }
    }
    assert!(explain_rows(&art, rows.view(), data.features(), Some(3)).is_err());
}
