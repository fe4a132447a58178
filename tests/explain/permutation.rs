//! Permutation importance equals scikit-learn's `permutation_importance` given the same
//! permutations: `scripts/explain_fixtures.py` runs scikit-learn on a Python copy of the
//! logistic model and records the permutations its seeded random state used.

use mlcycle::data::{Dataset, Schema};
use mlcycle::explain::{permutation_importance, seeded_permutations};
use mlcycle::model::{Model, ModelArtifact};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use serde_json::{Value, json};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain")
}

/// Run with `cargo test --test explain generate_permutation_fixture_input -- --ignored`.
#[test]
#[ignore = "writes the fixture input"]
fn generate_permutation_fixture_input() {
    let generator = CreditDefault::new(5);
    let train = generator.sample(600, &DriftSpec::none(), 0).unwrap();
    let holdout = generator.sample(150, &DriftSpec::none(), 1).unwrap();
    let model = fit_logistic(&train, &LogisticParams::default().check().unwrap()).unwrap();
    let art = model.to_artifact().unwrap();
    let x: Vec<Vec<f64>> = holdout
        .features()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    let out = json!({
        "artifact": serde_json::from_slice::<Value>(&art.to_bytes().unwrap()).unwrap(),
        "schema": holdout.schema(),
        "x": x,
        "y": holdout.target().unwrap().to_vec(),
        "seed": 42,
        "n_repeats": 4,
        "scoring": "roc_auc",
    });
    std::fs::write(
        dir().join("permutation.input.json"),
        serde_json::to_vec(&out).unwrap(),
    )
    .unwrap();
}

#[test]
fn permutation_importance_equals_scikit_learn_given_the_permutations() {
    let input: Value =
        serde_json::from_slice(&std::fs::read(dir().join("permutation.input.json")).unwrap())
            .unwrap();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir().join("permutation.expected.json")).unwrap())
            .unwrap();
    let art = ModelArtifact::from_bytes(&serde_json::to_vec(&input["artifact"]).unwrap()).unwrap();
    let model = art.into_model().unwrap();
    let schema: Schema = serde_json::from_value(input["schema"].clone()).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_value(input["x"].clone()).unwrap();
    let y: Vec<f64> = serde_json::from_value(input["y"].clone()).unwrap();
    let n = rows.len();
    let x = ndarray::Array2::from_shape_vec((n, rows[0].len()), rows.concat()).unwrap();
    let data = Dataset::new(schema, x, Some(ndarray::Array1::from(y)), None).unwrap();
    let perms: Vec<Vec<usize>> = serde_json::from_value(expected["permutations"].clone()).unwrap();
    let pi = permutation_importance(model.as_ref(), &data, "roc_auc", &perms).unwrap();
    let want: Vec<Vec<f64>> = serde_json::from_value(expected["importances"].clone()).unwrap();
    assert_eq!(pi.importances.len(), want.len());
    for (j, (got, want)) in pi.importances.iter().zip(&want).enumerate() {
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "feature {j}: {a} vs scikit-learn {b}");
        }
    }
    let means: Vec<f64> = serde_json::from_value(expected["importances_mean"].clone()).unwrap();
    let stds: Vec<f64> = serde_json::from_value(expected["importances_std"].clone()).unwrap();
    for j in 0..means.len() {
        assert!((pi.importances_mean[j] - means[j]).abs() < 1e-9);
        assert!((pi.importances_std[j] - stds[j]).abs() < 1e-9);
    }
    assert!(pi.importances_mean.iter().any(|&m| m > 0.0));
    assert_eq!(model.signature().n_classes(), 2);
    // Seeded permutations are reproducible and valid; bad permutations are an error.
    let a = seeded_permutations(n, 3, 9);
    assert_eq!(a, seeded_permutations(n, 3, 9));
    assert!(permutation_importance(model.as_ref(), &data, "roc_auc", &a).is_ok());
    assert!(permutation_importance(model.as_ref(), &data, "roc_auc", &[vec![0; n]]).is_err());
    assert!(permutation_importance(model.as_ref(), &data.without_target(), "roc_auc", &a).is_err());
}
