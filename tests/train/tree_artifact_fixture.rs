//! Tree artifacts stored by an earlier version still load and predict bit for bit.
//!
//! `tests/fixtures/train/tree_artifacts/` holds one artifact per tree flavor (`gbdt`,
//! `decision_tree`, `random_forest`), written with `ModelArtifact::to_bytes` before the fitted
//! tree types moved from `train/` into `model/`, plus `expected.json`: 40 encoded input rows
//! (credit data with missing incomes) and each model's predictions on them, all as `f64` bit
//! patterns. The stored format (flavor names, field names, float encoding) must not change.

use mlcycle::model::ModelArtifact;
use ndarray::Array2;
use serde_json::Value;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/train/tree_artifacts"
);

fn bits(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("an array of bit patterns")
        .iter()
        .map(|b| b.as_u64().expect("a u64 bit pattern"))
        .collect()
}

fn expected() -> Value {
    let s = std::fs::read_to_string(format!("{DIR}/expected.json")).unwrap();
    serde_json::from_str(&s).unwrap()
}

fn rows(doc: &Value) -> Array2<f64> {
    let rows: Vec<Vec<u64>> = doc["rows"].as_array().unwrap().iter().map(bits).collect();
    let p = rows[0].len();
    let flat: Vec<f64> = rows.iter().flatten().map(|&b| f64::from_bits(b)).collect();
    Array2::from_shape_vec((rows.len(), p), flat).unwrap()
}

#[test]
fn stored_tree_artifacts_load_and_predict_bit_for_bit() {
    let doc = expected();
    let x = rows(&doc);
    assert!(
        x.iter().any(|v| v.is_nan()),
        "the fixture rows include missing values"
    );
    for flavor in ["gbdt", "decision_tree", "random_forest"] {
        let bytes = std::fs::read(format!("{DIR}/{flavor}.json")).unwrap();
        let art = ModelArtifact::from_bytes(&bytes).unwrap();
        assert_eq!(art.flavor(), flavor);
        // Written back unchanged: the stored format is the same.
        assert_eq!(
            art.to_bytes().unwrap(),
            bytes,
            "{flavor}: stored bytes differ"
        );
        let model = art.into_model().unwrap();
        let p = model.predict(x.view()).unwrap();
        let want = &doc["expected"][flavor];
        let values: Vec<u64> = p.values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(values, bits(&want["values"]), "{flavor}: values differ");
        let proba = p.probabilities.expect("classifiers return probabilities");
        let got: Vec<Vec<u64>> = proba
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        let want: Vec<Vec<u64>> = want["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(bits)
            .collect();
        assert_eq!(got, want, "{flavor}: probabilities differ");
    }
}

#[test]
fn a_damaged_stored_tree_artifact_is_an_error() {
    let bytes = std::fs::read(format!("{DIR}/decision_tree.json")).unwrap();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    // A split on a feature the signature does not have.
    let nodes = v["model"]["learner"]["tree"]["nodes"]
        .as_array_mut()
        .unwrap();
    let split = nodes
        .iter_mut()
        .find_map(|n| n.get_mut("Split"))
        .expect("the stored tree has a split");
    split["feature"] = Value::from(999);
    let damaged = serde_json::to_vec(&v).unwrap();
    assert!(ModelArtifact::from_bytes(&damaged).is_err());
}
