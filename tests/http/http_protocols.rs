//! The HTTP server over real HTTP on 127.0.0.1: every endpoint of the Open Inference
//! Protocol v2 and the MLflow scoring protocol, the binary tensor extension, error paths,
//! limits, request ids, metrics and data collection.

use crate::http_support;

use chrono::Duration;
use http_support::*;
use mlcycle::collect::PredictionLog;
use mlcycle::data::UnknownLevel;
use mlcycle::deploy::Deployer;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::sync::Arc;

fn assert_json_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    want: u16,
) -> String {
    assert_eq!(status, want, "body: {}", String::from_utf8_lossy(body));
    assert_eq!(header(headers, "content-type"), "application/json");
    let v: Value = serde_json::from_slice(body).unwrap();
    let msg = v["error"].as_str().unwrap().to_string();
    assert!(msg.len() < 400, "error messages stay short: {msg}");
    msg
}

#[tokio::test]
async fn v2_health_and_metadata() {
    let f = start(|_| {}).await;
    let (s, _, b) = f.get("/v2/health/live").await;
    assert_eq!(
        (s, serde_json::from_slice::<Value>(&b).unwrap()),
        (200, json!({"live": true}))
    );
    let (s, _, b) = f.get("/v2/health/ready").await;
    assert_eq!(
        (s, serde_json::from_slice::<Value>(&b).unwrap()),
        (200, json!({"ready": true}))
    );
    let (s, _, b) = f.get("/v2").await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(s, 200);
    assert_eq!(v["name"], "mlcycle");
    assert_eq!(v["extensions"], json!(["binary_tensor_data"]));

    for path in ["/v2/models/credit", "/v2/models/credit/versions/1"] {
        let (s, _, b) = f.get(path).await;
        assert_eq!(s, 200);
        let m: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(m["name"], "credit");
        assert_eq!(m["versions"], json!(["1"]));
        let inputs = m["inputs"].as_array().unwrap();
        assert_eq!(inputs.len(), 13);
        assert_eq!(
            inputs[0],
            json!({"name": "age", "datatype": "FP64", "shape": [-1]})
        );
        assert!(
            inputs
                .iter()
                .any(|i| i["name"] == "region" && i["datatype"] == "BYTES")
        );
        assert_eq!(m["outputs"][0]["name"], "predict");
        assert_eq!(
            m["outputs"][1],
            json!({"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]})
        );
    }
    for path in [
        "/v2/models/credit/ready",
        "/v2/models/credit/versions/1/ready",
    ] {
        let (s, _, b) = f.get(path).await;
        assert_eq!(
            (s, serde_json::from_slice::<Value>(&b).unwrap()),
            (200, json!({"name": "credit", "ready": true}))
        );
    }
    let (s, h, b) = f.get("/v2/models/nope").await;
    assert!(assert_json_error(s, &h, &b, 404).contains("nope"));
    let (s, h, b) = f.get("/v2/models/credit/versions/7/ready").await;
    assert!(assert_json_error(s, &h, &b, 404).contains("version `7`"));
    let (s, h, b) = f.get("/no/such/route").await;
    assert_json_error(s, &h, &b, 404);
    let (s, h, b) = f.get("/v2/models/credit/infer").await;
    assert_json_error(s, &h, &b, 405);
}

#[tokio::test]
async fn not_ready_before_deploy() {
    let server = mlcycle::deploy::http::HttpDeployer::start(
        mlcycle::deploy::http::HttpConfig::with_addr(local()),
        clock(),
        None,
    )
    .await
    .unwrap();
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{}/v2/health/ready", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap(),
        json!({"ready": false})
    );
    let r = c
        .get(format!("{}/v2/health/live", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .get(format!("{}/ping", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = c
        .post(format!("{}/v2/models/credit/infer", server.endpoint()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let r = c
        .post(format!("{}/invocations", server.endpoint()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(server.current().await.is_none());
    server.undeploy().await.unwrap();
}

#[tokio::test]
async fn v2_infer_per_feature_tensors() {
    let f = start(|_| {}).await;
    let (labels, proba) = expected(f.model.as_ref(), &f.data, 4);
    let mut req = v2_columns(&f.data, 4);
    req["id"] = json!("abc-1");
    req["unknown_field"] = json!({"ignored": true});
    let (s, h, b) = f
        .post("/v2/models/credit/infer", None, req.to_string())
        .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(header(&h, "content-type"), "application/json");
    assert_eq!(header(&h, "x-model-version"), "1");
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["id"], "abc-1");
    assert_eq!(v["model_name"], "credit");
    assert_eq!(v["model_version"], "1");
    let outs = v["outputs"].as_array().unwrap();
    assert_eq!(outs[0]["name"], "predict");
    assert_eq!(outs[0]["datatype"], "BYTES");
    assert_eq!(outs[0]["shape"], json!([4]));
    assert_eq!(outs[0]["data"], json!(labels));
    assert_eq!(outs[1]["name"], "predict_proba");
    assert_eq!(outs[1]["shape"], json!([4, 2]));
    assert_eq!(outs[1]["data"], json!(proba));

    // Nested data with shape [n, 1], requested outputs, versioned path.
    let mut req = v2_columns(&f.data, 4);
    for t in req["inputs"].as_array_mut().unwrap() {
        let nested: Vec<Value> = t["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| json!([x]))
            .collect();
        t["data"] = json!(nested);
        t["shape"] = json!([4, 1]);
    }
    req["outputs"] = json!([{"name": "predict_proba"}]);
    let (s, v) = f
        .post_json("/v2/models/credit/versions/1/infer", &req)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(v["outputs"][0]["data"], json!(proba));
    // Without an id, the request id is echoed.
    assert!(v["id"].as_str().unwrap().len() >= 32);
}

#[tokio::test]
async fn v2_infer_single_matrix_tensor() {
    let f = start(|_| {}).await;
    let (labels, _) = expected(f.model.as_ref(), &f.data, 3);
    // Encoded rows (categoricals as level indices), nested and flat.
    let rows: Vec<Vec<f64>> = (0..3).map(|r| f.data.features().row(r).to_vec()).collect();
    let req = json!({"inputs": [{"name": "input-0", "shape": [3, 13], "datatype": "FP64", "data": rows}]});
    let (s, v) = f.post_json("/v2/models/credit/infer", &req).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outputs"][0]["data"], json!(labels));
    let flat: Vec<f64> = rows.concat();
    let req = json!({"inputs": [{"name": "input-0", "shape": [3, 13], "datatype": "FP64", "data": flat}]});
    let (s, v) = f.post_json("/v2/models/credit/infer", &req).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outputs"][0]["data"], json!(labels));
    // BYTES matrix: every cell as text.
    let cells: Vec<Vec<String>> = (0..3)
        .map(|r| {
            (0..13)
                .map(|j| match f.raw_value(r, j) {
                    Value::String(s) => s,
                    v => v.to_string(),
                })
                .collect()
        })
        .collect();
    let req =
        json!({"inputs": [{"name": "x", "shape": [3, 13], "datatype": "BYTES", "data": cells}]});
    let (s, v) = f.post_json("/v2/models/credit/infer", &req).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outputs"][0]["data"], json!(labels));
}

/// Little-endian helpers for building binary bodies byte by byte.
fn le_f64(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[tokio::test]
async fn v2_binary_tensor_extension() {
    let f = start(|_| {}).await;
    let n = 2;
    let (labels, proba) = expected(f.model.as_ref(), &f.data, n);
    // The tritonclient default: one binary FP64 matrix, binary outputs for everything.
    let rows: Vec<f64> = (0..n)
        .flat_map(|r| f.data.features().row(r).to_vec())
        .collect();
    let raw = le_f64(&rows);
    let header_json = json!({
        "inputs": [{"name": "input-0", "shape": [n, 13], "datatype": "FP64", "parameters": {"binary_data_size": raw.len()}}],
        "parameters": {"binary_data_output": true}
    })
    .to_string();
    let mut body = header_json.as_bytes().to_vec();
    body.extend_from_slice(&raw);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .header(
            "Inference-Header-Content-Length",
            header_json.len().to_string(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        header(r.headers(), "content-type"),
        "application/octet-stream"
    );
    let json_len: usize = header(r.headers(), "inference-header-content-length")
        .parse()
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let v: Value = serde_json::from_slice(&bytes[..json_len]).unwrap();
    let mut rest = &bytes[json_len..];
    let outs = v["outputs"].as_array().unwrap();
    // predict: BYTES, each a u32 LE length then the bytes.
    let size = outs[0]["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
    assert!(outs[0].get("data").is_none());
    let (mut pred, tail) = rest.split_at(size);
    rest = tail;
    let mut got = Vec::new();
    while !pred.is_empty() {
        let len = u32::from_le_bytes(pred[..4].try_into().unwrap()) as usize;
        got.push(String::from_utf8(pred[4..4 + len].to_vec()).unwrap());
        pred = &pred[4 + len..];
    }
    assert_eq!(got, labels);
    let size = outs[1]["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
    assert_eq!(size, n * 2 * 8);
    let p: Vec<f64> = rest[..size]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(p, proba);

    // Per-feature binary tensors: numeric as FP32, categoricals as BYTES; JSON outputs
    // except one binary output asked for by name.
    let schema = f.data.schema().clone();
    let mut inputs = Vec::new();
    let mut raw = Vec::new();
    let mut rounded = f.data.features().slice(ndarray::s![0..n, ..]).to_owned();
    for (j, feat) in schema.features.iter().enumerate() {
        let start = raw.len();
        if feat.is_categorical() {
            for r in 0..n {
                let s = schema.decode_cell(j, f.data.features()[[r, j]]);
                raw.extend_from_slice(&(s.len() as u32).to_le_bytes());
                raw.extend_from_slice(s.as_bytes());
            }
        } else {
            for r in 0..n {
                let x = f.data.features()[[r, j]] as f32;
                rounded[[r, j]] = f64::from(x);
                raw.extend_from_slice(&x.to_le_bytes());
            }
        }
        inputs.push(json!({
            "name": feat.name, "shape": [n],
            "datatype": if feat.is_categorical() { "BYTES" } else { "FP32" },
            "parameters": {"binary_data_size": raw.len() - start}
        }));
    }
    let header_json = json!({"id": "bin-2", "inputs": inputs, "outputs": [
        {"name": "predict"}, {"name": "predict_proba", "parameters": {"binary_data": true}}
    ]})
    .to_string();
    let mut body = header_json.as_bytes().to_vec();
    body.extend_from_slice(&raw);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .header(
            "Inference-Header-Content-Length",
            header_json.len().to_string(),
        )
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let json_len: usize = header(r.headers(), "inference-header-content-length")
        .parse()
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let v: Value = serde_json::from_slice(&bytes[..json_len]).unwrap();
    assert_eq!(v["id"], "bin-2");
    let want = mlcycle::model::Model::predict(f.model.as_ref(), rounded.view()).unwrap();
    let want_p: Vec<f64> = want.probabilities.unwrap().iter().copied().collect();
    let got_p: Vec<f64> = bytes[json_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got_p, want_p);
    assert_eq!(v["outputs"][0]["data"].as_array().unwrap().len(), n);

    // Broken binary bodies.
    let (s, h, b) = f.post("/v2/models/credit/infer", None, "{}").await;
    assert_json_error(s, &h, &b, 400);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .header("Inference-Header-Content-Length", "9999")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let header_json = json!({"inputs": [{"name": "input-0", "shape": [1, 13], "datatype": "FP64", "parameters": {"binary_data_size": 104}}]}).to_string();
    let mut body = header_json.as_bytes().to_vec();
    body.extend_from_slice(&[0u8; 50]);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .header(
            "Inference-Header-Content-Length",
            header_json.len().to_string(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("binary_data_size"),
        "{v}"
    );
}

#[tokio::test]
async fn v2_signature_enforcement_errors() {
    let f = start(|_| {}).await;
    let infer = "/v2/models/credit/infer";
    // Missing column: named.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "income" && t["name"] != "region");
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    let msg = assert_json_error(s, &h, &b, 400);
    assert!(
        msg.contains("missing input column(s): income, region"),
        "{msg}"
    );
    // Wrong type: BYTES for a numeric feature, numbers for a categorical one.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"][0] =
        json!({"name": "age", "shape": [2], "datatype": "BYTES", "data": ["x", "y"]});
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    let msg = assert_json_error(s, &h, &b, 400);
    assert!(msg.contains("`age`") && msg.contains("numeric"), "{msg}");
    let mut req = v2_columns(&f.data, 2);
    let k = req["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["name"] == "region")
        .unwrap();
    req["inputs"][k] = json!({"name": "region", "shape": [2], "datatype": "FP64", "data": [1, 2]});
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    let msg = assert_json_error(s, &h, &b, 400);
    assert!(msg.contains("`region`") && msg.contains("BYTES"), "{msg}");
    // Data that does not match the datatype.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"][0]["data"] = json!(["a", "b"]);
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    assert!(assert_json_error(s, &h, &b, 400).contains("`age`"));
    // Unknown categorical level.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"][k]["data"] = json!(["atlantis", "atlantis"]);
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    let msg = assert_json_error(s, &h, &b, 400);
    assert!(
        msg.contains("unknown category `atlantis`") && msg.contains("region"),
        "{msg}"
    );
    // Shape that does not match the data.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"][0]["shape"] = json!([3]);
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    assert!(assert_json_error(s, &h, &b, 400).contains("shape"));
    // Unknown datatype, unknown output, no inputs, not JSON.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"][0]["datatype"] = json!("FP128");
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    assert!(assert_json_error(s, &h, &b, 400).contains("FP128"));
    let mut req = v2_columns(&f.data, 2);
    req["outputs"] = json!([{"name": "logits"}]);
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    assert!(assert_json_error(s, &h, &b, 400).contains("logits"));
    let (s, h, b) = f.post(infer, None, r#"{"inputs": []}"#).await;
    assert_json_error(s, &h, &b, 400);
    let (s, h, b) = f.post(infer, None, "{not json").await;
    assert_json_error(s, &h, &b, 400);
    // Wrong matrix width.
    let req = json!({"inputs": [{"name": "input-0", "shape": [1, 12], "datatype": "FP64", "data": vec![0.0; 12]}]});
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    assert!(assert_json_error(s, &h, &b, 400).contains("[rows, 13]"));
    // Extra columns are ignored by default.
    let mut req = v2_columns(&f.data, 2);
    req["inputs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "extra", "shape": [2], "datatype": "FP64", "data": [1, 2]}));
    let (s, v) = f.post_json(infer, &req).await;
    assert_eq!(s, 200, "{v}");
    // Long payload values are not echoed whole.
    let mut req = v2_columns(&f.data, 1);
    req["inputs"][k]["data"] = json!(["z".repeat(5000)]);
    let (s, h, b) = f.post(infer, None, req.to_string()).await;
    assert_json_error(s, &h, &b, 400);
    let body = json!({"inputs": "z".repeat(5000)});
    let (s, h, b) = f.post(infer, None, body.to_string()).await;
    let msg = assert_json_error(s, &h, &b, 400);
    assert!(msg.contains("invalid type") && msg.len() < 200, "{msg}");
}

#[tokio::test]
async fn strict_mode_and_unknown_levels_as_missing() {
    let f = start(|c| {
        c.strict = true;
        c.unknown_level = UnknownLevel::AsMissing;
    })
    .await;
    let mut req = v2_columns(&f.data, 2);
    req["inputs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "extra", "shape": [2], "datatype": "FP64", "data": [1, 2]}));
    let (s, h, b) = f
        .post("/v2/models/credit/infer", None, req.to_string())
        .await;
    assert!(assert_json_error(s, &h, &b, 400).contains("extra"));
    let body = json!({"dataframe_records": [{"age": 30, "extra": 1}]});
    let (s, _, b) = f
        .post("/invocations", Some("application/json"), body.to_string())
        .await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    let mut req = v2_columns(&f.data, 2);
    let k = req["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["name"] == "region")
        .unwrap();
    req["inputs"][k]["data"] = json!(["atlantis", "atlantis"]);
    let (s, v) = f.post_json("/v2/models/credit/infer", &req).await;
    assert_eq!(s, 200, "{v}");
}

fn records(f: &Fixture, n: usize) -> Vec<Value> {
    let names = f.data.schema().feature_names();
    (0..n)
        .map(|r| {
            let mut o = serde_json::Map::new();
            for (j, name) in names.iter().enumerate() {
                o.insert(name.to_string(), f.raw_value(r, j));
            }
            Value::Object(o)
        })
        .collect()
}

#[tokio::test]
async fn mlflow_invocations_all_formats() {
    let f = start(|_| {}).await;
    let n = 3;
    let (labels, proba) = expected(f.model.as_ref(), &f.data, n);
    let want = json!({ "predictions": labels });
    let names: Vec<&str> = f.data.schema().feature_names();
    let rows: Vec<Vec<Value>> = (0..n)
        .map(|r| (0..13).map(|j| f.raw_value(r, j)).collect())
        .collect();
    let recs = records(&f, n);
    let mut columnar = serde_json::Map::new();
    for (j, name) in names.iter().enumerate() {
        columnar.insert(
            name.to_string(),
            Value::Array((0..n).map(|r| f.raw_value(r, j)).collect()),
        );
    }
    // Columns in another order than the signature, plus an extra column and an index.
    let mut cols: Vec<String> = names.iter().rev().map(|s| s.to_string()).collect();
    cols.push("note".into());
    let rev_rows: Vec<Vec<Value>> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.reverse();
            r.push(json!("x"));
            r
        })
        .collect();
    let bodies = [
        json!({"dataframe_split": {"columns": names, "data": rows}}),
        json!({"dataframe_split": {"index": [0, 1, 2], "columns": cols, "data": rev_rows}}),
        json!({"dataframe_records": recs}),
        json!({"instances": recs}),
        json!({"inputs": recs}),
        json!({"instances": rows}),
        json!({"inputs": Value::Object(columnar)}),
        json!({"dataframe_split": {"columns": names, "data": rows}, "params": {}}),
    ];
    for body in &bodies {
        let (s, h, b) = f
            .post("/invocations", Some("application/json"), body.to_string())
            .await;
        assert_eq!(s, 200, "{body}: {}", String::from_utf8_lossy(&b));
        assert_eq!(header(&h, "content-type"), "application/json");
        assert_eq!(header(&h, "x-model-version"), "1");
        assert_eq!(serde_json::from_slice::<Value>(&b).unwrap(), want, "{body}");
    }
    // charset parameter allowed; no Content-Type means JSON.
    let (s, _, _) = f
        .post(
            "/invocations",
            Some("application/json; charset=utf-8"),
            bodies[0].to_string(),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = f.post("/invocations", None, bodies[0].to_string()).await;
    assert_eq!(s, 200);
    // CSV with a header row.
    let mut csv = names.join(",") + "\n";
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        csv += &(cells.join(",") + "\n");
    }
    let (s, _, b) = f.post("/invocations", Some("text/csv"), csv).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap(), want);
    // Probabilities on request.
    let body = json!({"dataframe_split": {"columns": names, "data": rows}, "params": {"probabilities": true}});
    let (s, _, b) = f
        .post("/invocations", Some("application/json"), body.to_string())
        .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["predictions"][0]["prediction"], json!(labels[0]));
    assert_eq!(
        v["predictions"][0]["probabilities"],
        json!({"no": proba[0], "yes": proba[1]})
    );
}

fn assert_mlflow_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    want: u16,
) -> String {
    assert_eq!(status, want, "{}", String::from_utf8_lossy(body));
    assert_eq!(header(headers, "content-type"), "application/json");
    let v: Value = serde_json::from_slice(body).unwrap();
    assert!(v["error_code"].is_string(), "{v}");
    v["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn mlflow_errors_and_health() {
    let f = start(|_| {}).await;
    for path in ["/ping", "/health"] {
        let (s, h, b) = f.get(path).await;
        assert_eq!((s, b.as_slice()), (200, b"\n".as_slice()));
        assert_eq!(header(&h, "content-type"), "application/json");
    }
    let (s, _, b) = f.get("/version").await;
    assert_eq!(
        (s, String::from_utf8(b).unwrap()),
        (200, env!("CARGO_PKG_VERSION").to_string())
    );

    let mut recs = records(&f, 2);
    for r in &mut recs {
        r.as_object_mut().unwrap().remove("income");
    }
    let (s, h, b) = f
        .post(
            "/invocations",
            Some("application/json"),
            json!({"dataframe_records": recs}).to_string(),
        )
        .await;
    assert!(assert_mlflow_error(s, &h, &b, 400).contains("missing input column(s): income"));
    let mut recs = records(&f, 2);
    recs[1]["age"] = json!("forty");
    let (s, h, b) = f
        .post(
            "/invocations",
            Some("application/json"),
            json!({"dataframe_records": recs}).to_string(),
        )
        .await;
    let msg = assert_mlflow_error(s, &h, &b, 400);
    assert!(msg.contains("column `age`: expected a number"), "{msg}");
    let recs = records(&f, 1);
    let body = json!({"dataframe_records": recs.clone(), "instances": recs});
    let (s, h, b) = f
        .post("/invocations", Some("application/json"), body.to_string())
        .await;
    assert!(assert_mlflow_error(s, &h, &b, 400).contains("exactly one"));
    let (s, h, b) = f
        .post("/invocations", Some("application/json"), "{broken")
        .await;
    assert!(assert_mlflow_error(s, &h, &b, 400).contains("valid JSON"));
    let (s, h, b) = f.post("/invocations", Some("text/plain"), "x").await;
    assert_mlflow_error(s, &h, &b, 415);
    let (s, h, b) = f
        .post(
            "/invocations",
            Some("application/json; format=pandas-split"),
            "{}",
        )
        .await;
    assert!(assert_mlflow_error(s, &h, &b, 415).contains("format"));
    let (s, h, b) = f
        .post("/invocations", Some("text/csv"), "age,income\n1,2\n")
        .await;
    assert!(assert_mlflow_error(s, &h, &b, 400).contains("missing input column(s)"));
    let (s, h, b) = f
        .post(
            "/invocations",
            Some("application/json"),
            json!({"instances": [[1, 2]]}).to_string(),
        )
        .await;
    assert!(assert_mlflow_error(s, &h, &b, 400).contains("13 columns"));
    let (s, h, b) = f
        .post(
            "/invocations",
            Some("application/json"),
            json!({"instances": []}).to_string(),
        )
        .await;
    assert_mlflow_error(s, &h, &b, 400);
}

#[tokio::test]
async fn limits_body_rows_and_time() {
    let f = start(|c| {
        c.limits.max_body_bytes = 4096;
        c.limits.max_rows = 5;
        c.limits.request_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let big = "x".repeat(10_000);
    let (s, h, b) = f.post("/v2/models/credit/infer", None, big.clone()).await;
    assert!(assert_json_error(s, &h, &b, 413).contains("4096"));
    let (s, h, b) = f.post("/invocations", Some("application/json"), big).await;
    assert_mlflow_error(s, &h, &b, 413);
    // A body without a length (chunked) over the limit.
    let chunk = format!("bb8\r\n{}\r\n", " ".repeat(3000));
    let text = raw_exchange(
        f.server.local_addr(),
        &[
            b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
            chunk.as_bytes(),
            chunk.as_bytes(),
            b"0\r\n\r\n",
        ],
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let req = json!({"inputs": [{"name": "input-0", "shape": [6, 13], "datatype": "FP64", "data": vec![0.0; 78]}]});
    let (s, h, b) = f
        .post("/v2/models/credit/infer", None, req.to_string())
        .await;
    assert!(assert_json_error(s, &h, &b, 400).contains("limit is 5 rows"));
    // A request whose body never completes runs into the time limit.
    let text = raw_exchange(
        f.server.local_addr(),
        &[b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"inp"],
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("longer than the limit"), "{text}");
}

/// Send raw bytes and read the response until its JSON error body has arrived.
async fn raw_exchange(addr: std::net::SocketAddr, parts: &[&[u8]]) -> String {
    let parts: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
    tokio::task::spawn_blocking(move || raw_exchange_blocking(addr, &parts))
        .await
        .unwrap()
}

fn raw_exchange_blocking(addr: std::net::SocketAddr, parts: &[Vec<u8>]) -> String {
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    for p in parts {
        sock.write_all(p).unwrap();
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let k = sock.read(&mut chunk).unwrap_or(0);
        if k == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..k]);
        let text = String::from_utf8_lossy(&buf);
        if text.contains("\r\n\r\n{") && text.ends_with('}') {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn request_ids_metrics_and_collection() {
    let f = start(|_| {}).await;
    let req = v2_columns(&f.data, 3);
    let r = f
        .client
        .post(f.url("/v2/models/credit/infer"))
        .header("x-request-id", "req-42")
        .body(req.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "x-request-id"), "req-42");
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["id"], "req-42");
    let (_, h, _) = f.get("/v2/health/live").await;
    assert_eq!(header(&h, "x-request-id").len(), 36, "a UUID is generated");
    let body = json!({"dataframe_records": records(&f, 2)});
    let r = f
        .client
        .post(f.url("/invocations"))
        .header("content-type", "application/json")
        .header("x-request-id", "req-43")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, _, _) = f.post("/invocations", Some("application/json"), "{}").await;
    assert_eq!(s, 400);

    let (s, h, b) = f.get("/metrics").await;
    assert_eq!(s, 200);
    assert!(header(&h, "content-type").starts_with("application/openmetrics-text"));
    let text = String::from_utf8(b).unwrap();
    for needle in [
        r#"mlcycle_http_requests_total{endpoint="v2_infer",model="credit",version="1",status="200"} 1"#,
        r#"mlcycle_http_requests_total{endpoint="invocations",model="credit",version="1",status="200"} 1"#,
        r#"mlcycle_http_requests_total{endpoint="invocations",model="",version="",status="400"} 1"#,
        r#"mlcycle_rows_scored_total{model="credit",version="1"} 5"#,
        r#"mlcycle_http_request_duration_seconds_bucket{le="+Inf",endpoint="v2_infer"} 1"#,
        "mlcycle_prediction_log_dropped_total 0",
        "mlcycle_prediction_log_sampled_out_total 0",
        "mlcycle_model_swaps_total 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(
        f.server
            .metrics_text()
            .contains("mlcycle_model_swaps_total 1")
    );

    // Graceful stop flushes the log; every scored request is there, and the one refused
    // for its input, as an error.
    f.server.undeploy().await.unwrap();
    let t = f.clock.now_for_test();
    let recs = f
        .log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(recs.len(), 3);
    assert!(recs[2].inputs.is_empty() && recs[2].outputs.is_empty());
    assert!(recs[2].error.is_some(), "{:?}", recs[2]);
    assert_eq!(recs[0].request_id, "req-42");
    assert_eq!(recs[0].model_name, "credit");
    assert_eq!(recs[0].model_version, 1);
    assert_eq!(recs[0].at, t);
    assert_eq!(recs[0].inputs.len(), 3);
    assert_eq!(recs[0].inputs[0], f.data.features().row(0).to_vec());
    assert_eq!(recs[0].outputs.len(), 3);
    assert_eq!(recs[1].request_id, "req-43");
    assert!(
        f.client.get(f.url("/v2/health/live")).send().await.is_err(),
        "stopped"
    );
}

trait NowForTest {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NowForTest for mlcycle::clock::SimulatedClock {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc> {
        mlcycle::clock::Clock::now(self)
    }
}

/// The number text of a request as a client may write it (trailing zeros, exponents),
/// cell `(r, j)` of the fixture data; `None` for categoricals and missing values.
fn spelled(data: &mlcycle::data::Dataset, r: usize, j: usize) -> Option<String> {
    let v = data.features()[[r, j]];
    if data.schema().features[j].is_categorical() || v.is_nan() {
        return None;
    }
    Some(if (r + j).is_multiple_of(2) {
        format!("{v:e}")
    } else if format!("{v}").contains('.') {
        format!("{v}0")
    } else {
        format!("{v}.000")
    })
}

/// A server on a free port whose collector writes the hourly JSON-lines log in `dir`.
async fn serve_with_jsonl_log(
    dir: &std::path::Path,
) -> (
    mlcycle::deploy::http::HttpDeployer,
    Arc<mlcycle::collect::FilePredictionLog>,
    Arc<mlcycle::clock::SimulatedClock>,
) {
    use mlcycle::collect::{Collector, FilePredictionLog, LogFormat};
    use mlcycle::deploy::http::{HttpConfig, HttpDeployer};
    let log = Arc::new(FilePredictionLog::open_with_format(dir, LogFormat::JsonLines).unwrap());
    let collector = Collector::spawn(log.clone(), 100).unwrap();
    let clock = clock();
    let server = HttpDeployer::start(
        HttpConfig::with_addr(local()),
        clock.clone(),
        Some(collector),
    )
    .await
    .unwrap();
    (server, log, clock)
}

/// The `inputs` text of the log line of request `id`.
fn logged_inputs<'a>(text: &'a str, id: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.contains(&format!("\"request_id\":\"{id}\"")))
        .unwrap();
    &line[line.find("\"inputs\":").unwrap() + 9..line.find(",\"outputs\"").unwrap()]
}

#[tokio::test]
async fn jsonl_log_keeps_the_number_text_received_and_reads_back_the_scored_values() {
    use mlcycle::deploy::DeployRequest;
    let dir = tempfile::tempdir().unwrap();
    let (server, log, clock) = serve_with_jsonl_log(dir.path()).await;
    let (data, model) = train(1, 0.1);
    server
        .deploy(DeployRequest {
            model_name: "credit".into(),
            version: 1,
            model,
        })
        .await
        .unwrap();
    let n = 6;
    let names = data.schema().feature_names();
    // Columns in reverse order, numbers spelled unusually, categoricals as level names.
    let cell = |r: usize, j: usize| match spelled(&data, r, j) {
        Some(s) => s,
        None => raw_value(&data, r, j).to_string(),
    };
    let columns: Vec<String> = names.iter().rev().map(|s| format!("{s:?}")).collect();
    let rows: Vec<String> = (0..n)
        .map(|r| {
            let cells: Vec<String> = (0..names.len()).rev().map(|j| cell(r, j)).collect();
            format!("[{}]", cells.join(", "))
        })
        .collect();
    let split = format!(
        r#"{{"dataframe_split": {{"columns": [{}], "data": [{}]}}}}"#,
        columns.join(","),
        rows.join(",\n ")
    );
    let instances = format!(
        r#"{{"instances": [{}]}}"#,
        (0..n)
            .map(|r| format!(
                "[{}]",
                (0..names.len())
                    .map(|j| cell(r, j))
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let records = json!({"dataframe_records": (0..n).map(|r| {
        names.iter().enumerate().map(|(j, name)| (name.to_string(), raw_value(&data, r, j)))
            .collect::<serde_json::Map<String, Value>>()
    }).collect::<Vec<_>>()})
    .to_string();
    let client = reqwest::Client::new();
    for (id, body) in [
        ("split", split),
        ("instances", instances),
        ("records", records),
    ] {
        let r = client
            .post(format!("{}/invocations", server.endpoint()))
            .header("content-type", "application/json")
            .header("x-request-id", id)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{id}");
    }
    server.undeploy().await.unwrap();

    // Read back: the values the model scored, whatever the spelling.
    let t = clock.now_for_test();
    let recs = log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(recs.len(), 3);
    for rec in &recs {
        assert_eq!(rec.inputs.len(), n, "{}", rec.request_id);
        for (r, row) in rec.inputs.iter().enumerate() {
            let want = data.features().row(r).to_vec();
            let same = row
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            assert!(
                same && row.len() == want.len(),
                "{}: {row:?} vs {want:?}",
                rec.request_id
            );
        }
    }
    // On disk: the fast-path requests keep the numbers as received, in signature order.
    let text = std::fs::read_to_string(log.partition(t)).unwrap();
    let expected_inputs = format!(
        "[{}]",
        (0..n)
            .map(|r| format!(
                "[{}]",
                (0..names.len())
                    .map(|j| spelled(&data, r, j).unwrap_or_else(|| {
                        let v = data.features()[[r, j]];
                        if v.is_nan() {
                            "null".into()
                        } else {
                            format!("{v:?}")
                        }
                    }))
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    for id in ["split", "instances"] {
        assert_eq!(logged_inputs(&text, id), expected_inputs, "{id}");
    }
}

/// A model whose features are all numeric: rows sent in signature order without spaces
/// are logged as the very text received; rows with spaces, `null`s or other spellings are
/// logged value by value; either way the log reads back the values the model scored, and
/// the predictions equal the model's on the standard parser's values.
#[tokio::test]
async fn numeric_rows_in_signature_order_are_logged_verbatim() {
    use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
    use mlcycle::deploy::DeployRequest;
    use mlcycle::model::Model;
    use mlcycle::train::{LogisticParams, fit_logistic};
    use ndarray::{Array1, Array2};

    let names = ["a", "b", "c", "d"];
    let schema = Schema::new(
        names.map(Feature::numeric).to_vec(),
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Binary {
                classes: vec!["0".into(), "1".into()],
            },
        }),
    )
    .unwrap();
    // Doubles printed with up to 17 significant digits, as clients print them.
    let value = |i: usize, j: usize| -> f64 {
        let k = (i * 7919 + j * 104_729) % 1_000_003;
        (k as f64 / 1_000_003.0 - 0.5) * 4.0 / 3.0
    };
    let n = 300;
    let x = Array2::from_shape_fn((n, 4), |(i, j)| value(i, j));
    let y = Array1::from_shape_fn(n, |i| f64::from(value(i, 0) + value(i, 1) > value(i, 3)));
    let data = Dataset::new(schema, x, Some(y), None).unwrap();
    let model = Arc::new(fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let (server, log, clock) = serve_with_jsonl_log(dir.path()).await;
    server
        .deploy(DeployRequest {
            model_name: "numeric".into(),
            version: 1,
            model: model.clone(),
        })
        .await
        .unwrap();

    // Row texts: compact (copied whole), with spaces, with a null, other spellings.
    let compact = |r: usize| {
        let cells: Vec<String> = (0..4).map(|j| format!("{:?}", value(r, j))).collect();
        format!("[{}]", cells.join(","))
    };
    let rows_sent = [
        compact(0),
        compact(1),
        format!(
            "[ {:?}, {:?},{:?} ,{:?}]",
            value(2, 0),
            value(2, 1),
            value(2, 2),
            value(2, 3)
        ),
        format!(
            "[{:?},null,{:?},{:?}]",
            value(3, 0),
            value(3, 2),
            value(3, 3)
        ),
        "[1,2.50,-3e-2,0.000001234]".to_string(),
        compact(5),
    ];
    // Logged: the same text, except the row with spaces, logged value by value.
    let mut rows_logged = rows_sent.clone();
    rows_logged[2] = compact(2);
    let parsed: Vec<Vec<f64>> = rows_sent
        .iter()
        .map(|r| {
            let inner = r.trim_matches(|c| c == '[' || c == ']');
            inner
                .split(',')
                .map(|t| match t.trim() {
                    "null" => f64::NAN,
                    t => t.parse::<f64>().unwrap(),
                })
                .collect()
        })
        .collect();
    let bodies = [
        (
            "split",
            format!(
                r#"{{"dataframe_split": {{"columns": ["a","b","c","d"], "data": [{}]}}}}"#,
                rows_sent.join(",")
            ),
        ),
        (
            "instances",
            format!(r#"{{"instances": [{}]}}"#, rows_sent.join(", ")),
        ),
    ];
    let xs = Array2::from_shape_fn((parsed.len(), 4), |(r, j)| parsed[r][j]);
    let expected = model.predict(xs.view()).unwrap();
    let client = reqwest::Client::new();
    for (id, body) in &bodies {
        let r = client
            .post(format!("{}/invocations", server.endpoint()))
            .header("x-request-id", *id)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{id}");
        let got: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        let preds = got["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), parsed.len(), "{id}");
        // Class names that are numbers come back as numbers.
        let labels: Vec<String> = preds
            .iter()
            .map(|p| p.to_string().trim_matches('"').to_string())
            .collect();
        let want: Vec<&str> = expected
            .values
            .iter()
            .map(|&v| ["0", "1"][v as usize])
            .collect();
        assert_eq!(labels, want, "{id}");
    }
    server.undeploy().await.unwrap();

    let t = clock.now_for_test();
    let text = std::fs::read_to_string(log.partition(t)).unwrap();
    let expected_inputs = format!("[{}]", rows_logged.join(","));
    for (id, _) in &bodies {
        assert_eq!(logged_inputs(&text, id), expected_inputs, "{id}");
    }
    let recs = log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(recs.len(), 2);
    for rec in &recs {
        for (row, want) in rec.inputs.iter().zip(&parsed) {
            let same = row
                .iter()
                .zip(want)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            assert!(same, "{}: {row:?} vs {want:?}", rec.request_id);
        }
    }
}
