//! One request id in every place; `predict_method`; one type of class label in every protocol.

use crate::http_support::{Fixture, header, raw_value, start, train, v2_columns};
use chrono::Duration;
use mlcycle::collect::PredictionLog;
use mlcycle::data::{Dataset, Schema, TargetKind};
use mlcycle::deploy::{DeployRequest, Deployer};
use mlcycle::train::{LogisticParams, fit_logistic};
use serde_json::{Value, json};
use std::sync::Arc;

async fn logged_ids(f: &Fixture) -> Vec<String> {
    f.server.undeploy().await.unwrap();
    let t = mlcycle::clock::Clock::now(f.clock.as_ref());
    f.log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect()
}

#[tokio::test]
async fn v2_body_id_is_the_request_id_when_no_header_is_given() {
    let f = start(|_| {}).await;
    let mut req = v2_columns(&f.data, 2);
    req["id"] = json!("body-7");
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .body(req.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(r.headers(), "x-request-id"), "body-7");
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["id"], "body-7");

    // The header wins over the body; the body answers with the same id.
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .header("x-request-id", "hdr-8")
        .body(req.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "x-request-id"), "hdr-8");
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["id"], "hdr-8");

    // Neither: one generated id, the same in the header and the body.
    let req = v2_columns(&f.data, 1);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .body(req.to_string())
        .send()
        .await
        .unwrap();
    let h = header(r.headers(), "x-request-id").to_string();
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(h.len(), 36);
    assert_eq!(v["id"], h.as_str());

    // A refused request answers with the body id too.
    let mut bad = v2_columns(&f.data, 1);
    bad["id"] = json!("body-bad");
    bad["inputs"][0]["datatype"] = json!("BOOL");
    bad["inputs"][0]["data"] = json!(["x"]);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(header(r.headers(), "x-request-id"), "body-bad");

    let ids = logged_ids(&f).await;
    for want in ["body-7", "hdr-8", h.as_str()] {
        assert!(ids.iter().any(|i| i == want), "{want} not logged: {ids:?}");
    }
    assert!(f.log.find_request("body-7").await.unwrap().is_some());
}

fn records(data: &Dataset, n: usize) -> Vec<Value> {
    let names = data.schema().feature_names();
    (0..n)
        .map(|r| {
            let mut o = serde_json::Map::new();
            for (j, name) in names.iter().enumerate() {
                o.insert(name.to_string(), raw_value(data, r, j));
            }
            Value::Object(o)
        })
        .collect()
}

#[tokio::test]
async fn invocations_predict_method_predict_proba() {
    let f = start(|_| {}).await;
    let n = 3;
    let (_, proba) = crate::http_support::expected(f.model.as_ref(), &f.data, n);
    let body = json!({
        "dataframe_records": records(&f.data, n),
        "params": {"predict_method": "predict_proba"},
    });
    let (s, v) = f.post_json("/invocations", &body).await;
    assert_eq!(s, 200, "{v}");
    let rows = v["predictions"].as_array().unwrap();
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        let got: Vec<f64> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(got, proba[i * 2..i * 2 + 2].to_vec());
    }
    let body = json!({
        "dataframe_records": records(&f.data, 1),
        "params": {"predict_method": "decision_function"},
    });
    let (s, v) = f.post_json("/invocations", &body).await;
    assert_eq!(s, 400);
    assert!(
        v["message"].as_str().unwrap().contains("predict_proba"),
        "{v}"
    );
}

/// The credit data with its target relabelled `0`/`1`, as a CSV of 0/1 would read.
fn numeric_label_model() -> (Dataset, Arc<mlcycle::model::LogisticModel>) {
    let (data, _) = train(3, 0.1);
    let mut target = data.schema().target.clone().unwrap();
    target.kind = TargetKind::classification(["0", "1"]).unwrap();
    let schema = Schema::new(data.schema().features.clone(), Some(target)).unwrap();
    let data = Dataset::new(
        schema,
        data.features().to_owned(),
        data.target().cloned(),
        None,
    )
    .unwrap();
    let params = LogisticParams::default().check().unwrap();
    let model = Arc::new(fit_logistic(&data, &params).unwrap());
    (data, model)
}

#[tokio::test]
async fn integer_class_labels_are_integers_in_both_protocols() {
    let f = start(|_| {}).await;
    let (data, model) = numeric_label_model();
    f.server
        .deploy(DeployRequest {
            model_name: "credit".into(),
            version: 2,
            model: model.clone(),
        })
        .await
        .unwrap();
    let (labels, _) = crate::http_support::expected(model.as_ref(), &data, 3);
    let want: Vec<Value> = labels
        .iter()
        .map(|l| json!(l.parse::<i64>().unwrap()))
        .collect();
    let (s, v) = f
        .post_json("/v2/models/credit/infer", &v2_columns(&data, 3))
        .await;
    assert_eq!(s, 200, "{v}");
    let out = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "predict")
        .unwrap();
    assert_eq!(out["datatype"], "INT64");
    assert_eq!(out["data"], json!(want));
    let body = json!({"dataframe_records": records(&data, 3)});
    let (s, v) = f.post_json("/invocations", &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["predictions"], json!(want));
}

#[tokio::test]
async fn a_row_with_no_usable_value_is_refused_with_a_reason() {
    let f = start(|_| {}).await;
    let names = f.data.schema().feature_names();
    let mut empty = serde_json::Map::new();
    for n in &names {
        empty.insert(n.to_string(), Value::Null);
    }
    let mut rows = records(&f.data, 1);
    rows.push(Value::Object(empty));
    let (s, v) = f
        .post_json("/invocations", &json!({ "dataframe_records": rows }))
        .await;
    assert_eq!(s, 400, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("row 1 has no usable value"), "{msg}");
}

#[tokio::test]
async fn a_v2_body_id_already_used_is_refused_and_a_refused_request_keeps_its_id_free() {
    let f = start(|_| {}).await;
    let send = |id: &'static str, body: Value| {
        let mut body = body;
        body["id"] = json!(id);
        f.client
            .post(f.url("/v2/models/credit/infer"))
            .body(body.to_string())
            .send()
    };
    let good = v2_columns(&f.data, 2);
    assert_eq!(
        send("body-1", good.clone())
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let again = send("body-1", good.clone()).await.unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let msg: Value = serde_json::from_slice(&again.bytes().await.unwrap()).unwrap();
    assert!(msg.to_string().contains("already used"), "{msg}");
    // A request refused for its inputs does not use up its id.
    let bad = send("body-2", json!({"inputs": []})).await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(send("body-2", good).await.unwrap().status().as_u16(), 200);
    let ids = logged_ids(&f).await;
    assert_eq!(ids.iter().filter(|i| *i == "body-1").count(), 1, "{ids:?}");
    // The refusal is recorded too (as an error), and the retry after it.
    assert_eq!(ids.iter().filter(|i| *i == "body-2").count(), 2, "{ids:?}");
    let t = mlcycle::clock::Clock::now(f.clock.as_ref());
    let body2: Vec<_> = f
        .log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.request_id == "body-2")
        .collect();
    assert!(body2[0].error.is_some() && body2[0].inputs.is_empty());
    assert!(body2[1].error.is_none() && body2[1].inputs.len() == 2);
}
