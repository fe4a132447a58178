//! Shared helpers of the HTTP server tests: a served credit-default model and a client.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use mlcycle::clock::SimulatedClock;
use mlcycle::collect::{Collector, InMemoryPredictionLog};
use mlcycle::data::Dataset;
use mlcycle::deploy::http::{HttpConfig, HttpDeployer};
use mlcycle::deploy::{DeployRequest, Deployer};
use mlcycle::model::{LogisticModel, Model};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Fixture {
    pub server: HttpDeployer,
    pub base: String,
    pub client: reqwest::Client,
    pub data: Dataset,
    pub model: Arc<LogisticModel>,
    pub log: Arc<InMemoryPredictionLog>,
    pub clock: Arc<SimulatedClock>,
}

pub fn clock() -> Arc<SimulatedClock> {
    Arc::new(SimulatedClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    ))
}

/// A logistic model on credit-default data; `seed` and `l2` make versions differ.
pub fn train(seed: u64, l2: f64) -> (Dataset, Arc<LogisticModel>) {
    let data = CreditDefault::new(seed)
        .sample(400, &DriftSpec::none(), 0)
        .unwrap();
    let params = LogisticParams::default().l2(l2).check().unwrap();
    let model = Arc::new(fit_logistic(&data, &params).unwrap());
    (data, model)
}

pub fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A server on a free port serving credit v1, recording into an in-memory log.
pub async fn start(tweak: impl FnOnce(&mut HttpConfig)) -> Fixture {
    let mut config = HttpConfig::with_addr(local());
    tweak(&mut config);
    let log = Arc::new(InMemoryPredictionLog::default());
    let collector = Collector::spawn(log.clone(), 10_000).unwrap();
    let clock = clock();
    let server = HttpDeployer::start(config, clock.clone(), Some(collector))
        .await
        .unwrap();
    let (data, model) = train(1, 0.1);
    server
        .deploy(DeployRequest {
            model_name: "credit".into(),
            version: 1,
            model: model.clone(),
        })
        .await
        .unwrap();
    Fixture {
        base: server.endpoint(),
        server,
        client: reqwest::Client::new(),
        data,
        model,
        log,
        clock,
    }
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.bytes().await.unwrap().to_vec())
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.bytes().await.unwrap().to_vec())
    }

    /// POST JSON without a Content-Type (as tritonclient does).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, _, b) = self.post(path, None, body.to_string()).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    /// Rows `0..n` as raw cells (categoricals as level names), feature-major.
    pub fn raw_value(&self, row: usize, col: usize) -> Value {
        raw_value(&self.data, row, col)
    }
}

pub fn raw_value(data: &Dataset, row: usize, col: usize) -> Value {
    let schema = data.schema();
    let v = data.features()[[row, col]];
    if schema.features[col].is_categorical() {
        json!(schema.decode_cell(col, v))
    } else if v.is_nan() {
        Value::Null
    } else {
        json!(v)
    }
}

/// A V2 request with one tensor per feature for rows `0..n`.
pub fn v2_columns(data: &Dataset, n: usize) -> Value {
    let schema = data.schema();
    let inputs: Vec<Value> = schema
        .features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let values: Vec<Value> = (0..n).map(|r| raw_value(data, r, j)).collect();
            json!({
                "name": f.name,
                "shape": [n],
                "datatype": if f.is_categorical() { "BYTES" } else { "FP64" },
                "data": values,
            })
        })
        .collect();
    json!({ "inputs": inputs })
}

/// Expected class labels and probabilities of `model` on rows `0..n` of `data`.
pub fn expected(model: &dyn Model, data: &Dataset, n: usize) -> (Vec<String>, Vec<f64>) {
    let x = data.features().slice(ndarray::s![0..n, ..]).to_owned();
    let p = model.predict(x.view()).unwrap();
    let classes = model.signature().target.kind.classes().unwrap().to_vec();
    let labels = p
        .values
        .iter()
        .map(|&v| classes[v as usize].clone())
        .collect();
    let proba = p.probabilities.unwrap().iter().copied().collect();
    (labels, proba)
}

pub fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}
