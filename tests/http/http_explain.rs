//! `POST /v2/models/{name}/explain`: contributions of the served version, same inputs as infer.

use crate::http_support::{start, v2_columns};
use mlcycle::explain::explain_rows;
use mlcycle::model::Model;
use serde_json::{Value, json};

#[tokio::test]
async fn explain_returns_contributions_that_sum_to_the_margin() {
    let f = start(|_| {}).await;
    let n = 6;
    let mut req = v2_columns(&f.data, n);
    req["id"] = json!("why-1");
    let (s, v) = f.post_json("/v2/models/credit/explain", &req).await;
    assert_eq!(s, 200, "{v}");
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "base_value",
            "class",
            "id",
            "importance",
            "method",
            "model",
            "output",
            "rows",
            "version"
        ]
    );
    assert_eq!(v["id"], "why-1");
    assert_eq!(v["model"], "credit");
    assert_eq!(v["version"], 1);
    assert_eq!(v["output"], "margin");
    assert_eq!(v["method"], "linear");
    let base = v["base_value"].as_f64().unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), n);
    // the model's own probabilities: value = log-odds of the positive class
    let x = f.data.features().slice(ndarray::s![0..n, ..]).to_owned();
    let p = f.model.predict(x.view()).unwrap().probabilities.unwrap();
    let features = &f.model.signature().inputs.features;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["row"], i);
        let c = r["contributions"].as_object().unwrap();
        assert_eq!(c.len(), features.len());
        let sum: f64 = c.values().map(|x| x.as_f64().unwrap()).sum();
        let value = r["value"].as_f64().unwrap();
        assert!((base + sum - value).abs() < 1e-9, "row {i}");
        let logit = (p[[i, 1]] / p[[i, 0]]).ln();
        assert!((value - logit).abs() < 1e-9, "row {i}: {value} vs {logit}");
    }
    // the same numbers as the library on the same rows
    let e = explain_rows(&f.model.to_artifact().unwrap(), x.view(), x.view(), None).unwrap();
    assert_eq!(base, e.base_value);
    for (j, feat) in e.features.iter().enumerate() {
        assert_eq!(
            rows[2]["contributions"][feat].as_f64().unwrap(),
            e.rows[2].contributions[j]
        );
    }

    // the single-matrix input format of infer works too
    let m: Vec<Vec<f64>> = (0..2).map(|r| f.data.features().row(r).to_vec()).collect();
    let req = json!({"inputs": [{"name": "input-0", "shape": [2, features.len()], "datatype": "FP64", "data": m}]});
    let (s, v2) = f.post_json("/v2/models/credit/explain", &req).await;
    assert_eq!(s, 200, "{v2}");
    assert_eq!(v2["rows"][1]["value"], v["rows"][1]["value"]);
}

#[tokio::test]
async fn explain_refuses_bad_requests_with_reasons() {
    let f = start(|_| {}).await;
    let (s, v) = f
        .post_json("/v2/models/nope/explain", &v2_columns(&f.data, 1))
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, _, b) = f.post("/v2/models/credit/explain", None, "{not json").await;
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&b).contains("not a valid V2 inference request"));
    let (s, v) = f
        .post_json("/v2/models/credit/explain", &json!({"inputs": []}))
        .await;
    assert_eq!(s, 400);
    assert!(v.to_string().contains("no inputs"), "{v}");
    let mut req = v2_columns(&f.data, 2);
    req["inputs"].as_array_mut().unwrap().remove(0);
    let (s, v) = f.post_json("/v2/models/credit/explain", &req).await;
    assert_eq!(s, 400, "{v}");
    let _: Value = v;
}
