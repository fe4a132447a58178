//! The lifecycle's deploy step can put a model behind the HTTP server: a training cycle
//! promotes v1 and the server answers MLflow-protocol requests with it; a second promoted
//! version is hot-swapped in.

use mlcycle::clock::SystemClock;
use mlcycle::collect::{Collector, InMemoryPredictionLog};
use mlcycle::deploy::Deployer;
use mlcycle::deploy::http::{HttpConfig, HttpDeployer};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDecision, Trigger};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_deploys_through_the_http_server() {
    let clock = Arc::new(SystemClock);
    let log = Arc::new(InMemoryPredictionLog::default());
    let collector = Collector::spawn(log, 1_024).unwrap();
    let http = Arc::new(
        HttpDeployer::start(
            HttpConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..HttpConfig::default()
            },
            clock.clone(),
            Some(collector),
        )
        .await
        .unwrap(),
    );
    let stack = Stack::in_memory_with(clock, LifecycleConfig::new("credit"), |b| {
        b.deployer(http.clone())
    })
    .unwrap();
    let data = CreditDefault::new(4)
        .sample(3_000, &DriftSpec::none(), 0)
        .unwrap();
    let out = stack
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap();
    let TrainingDecision::Promoted { deployment, .. } = out.decision else {
        panic!("v1 was not promoted: {:?}", out.decision);
    };
    assert_eq!(deployment.deployer, "http");
    let url = format!("http://{}", http.local_addr());
    let client = reqwest::Client::new();

    let row = serde_json::json!({
        "dataframe_records": [{
            "age": 40, "income": 52000, "debt_ratio": 0.3, "credit_limit": 12000,
            "utilization": 0.5, "late_payments": 1, "months_employed": 30, "n_accounts": 4,
            "loan_amount": 9000, "interest_rate": 9.5, "home_ownership": "rent",
            "purpose": "car", "region": "north"
        }]
    });
    let r = client
        .post(format!("{url}/invocations"))
        .header("content-type", "application/json")
        .body(row.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-model-version"], "1");
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let pred = body["predictions"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(pred == "yes" || pred == "no", "{body}");

    // A second training cycle: if it beats v1 it is hot-swapped in by the same deploy step.
    let more = CreditDefault::new(4)
        .sample(20_000, &DriftSpec::none(), 1)
        .unwrap();
    let out2 = stack
        .lifecycle
        .run_training(&more, Trigger::Manual)
        .await
        .unwrap();
    let served = http.current().await.unwrap().version;
    match out2.decision {
        TrainingDecision::Promoted { .. } => assert_eq!(served, 2),
        _ => assert_eq!(served, 1),
    }
    let r = client
        .post(format!("{url}/invocations"))
        .header("content-type", "application/json")
        .body(row.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-model-version"], served.to_string().as_str());
    http.undeploy().await.unwrap();
}
