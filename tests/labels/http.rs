//! `POST /labels` on the HTTP server, with and without a configured admin token.

use mlcycle::audit::{AuditEvent, AuditLog, AuditQuery, InMemoryAuditLog};
use mlcycle::clock::SystemClock;
use mlcycle::deploy::http::{HttpConfig, HttpDeployer, LabelSink};
use mlcycle::labels::{InMemoryLabelStore, LabelStore};
use serde_json::{Value, json};
use std::sync::Arc;

async fn server(
    token: Option<&str>,
) -> (HttpDeployer, Arc<InMemoryLabelStore>, Arc<InMemoryAuditLog>) {
    let store = Arc::new(InMemoryLabelStore::default());
    let audit = Arc::new(InMemoryAuditLog::new(Arc::new(SystemClock)));
    let config = HttpConfig {
        admin_token: token.map(String::from),
        labels: Some(LabelSink {
            store: store.clone(),
            audit: Some(audit.clone()),
        }),
        ..HttpConfig::with_addr("127.0.0.1:0".parse().unwrap())
    };
    let server = HttpDeployer::start(config, Arc::new(SystemClock), None)
        .await
        .unwrap();
    (server, store, audit)
}

async fn post(endpoint: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{endpoint}/labels"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn post_labels_without_a_configured_token_is_open() {
    let (server, store, audit) = server(None).await;
    let body = json!([
        {"request_id": "r1", "label": "yes", "at": "2026-03-02T10:00:00Z"},
        {"request_id": "r2/1", "label": 2.5},
    ]);
    let (status, answer) = post(&server.endpoint(), &body, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["inserted"], 2);
    assert_eq!(store.get("r2/1").await.unwrap().unwrap().label, "2.5");
    assert_eq!(
        store
            .get("r1")
            .await
            .unwrap()
            .unwrap()
            .observed_at
            .to_rfc3339(),
        "2026-03-02T10:00:00+00:00"
    );

    let (status, answer) = post(
        &server.endpoint(),
        &json!([{"request_id": "r1", "label": "no"}]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["corrected"], json!(["r1"]));
    let records = audit.query(&AuditQuery::default()).await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(matches!(
        records[1].entry.event().unwrap(),
        AuditEvent::LabelsRecorded(p) if p.corrected == vec!["r1".to_string()]
    ));

    let (status, _) = post(&server.endpoint(), &json!({"request_id": "x"}), None).await;
    assert_eq!(status, 400);
    let (status, _) = post(
        &server.endpoint(),
        &json!([{"request_id": "", "label": "a"}]),
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn post_labels_with_a_configured_token_needs_it() {
    let (server, store, _) = server(Some("s3cret")).await;
    let body = json!([{"request_id": "r1", "label": "yes"}]);
    let (status, _) = post(&server.endpoint(), &body, None).await;
    assert_eq!(status, 401);
    let (status, _) = post(&server.endpoint(), &body, Some("wrong")).await;
    assert_eq!(status, 401);
    assert!(store.all().await.unwrap().is_empty());
    let (status, answer) = post(&server.endpoint(), &body, Some("s3cret")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(store.get("r1").await.unwrap().unwrap().label, "yes");
}
