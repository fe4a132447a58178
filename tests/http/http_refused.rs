//! Requests refused for bad input are recorded in the prediction log as errors with their
//! reason, and monitoring counts them; the `unknown_category` policy `as_missing` scores
//! an unknown category as a missing value instead.

use crate::http_support::*;
use chrono::Duration;
use mlcycle::collect::PredictionLog;
use mlcycle::data::UnknownLevel;
use mlcycle::deploy::Deployer;
use mlcycle::drift::StatisticalDriftDetector;
use mlcycle::monitor::{FaultKind, Monitor, MonitorConfig};
use serde_json::json;
use std::sync::Arc;

/// A v2 request for the first `n` rows with `region` set to `value`.
fn with_region(f: &Fixture, n: usize, value: &str) -> serde_json::Value {
    let mut req = v2_columns(&f.data, n);
    let k = req["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["name"] == "region")
        .unwrap();
    req["inputs"][k]["data"] = json!(vec![value; n]);
    req
}

async fn post_with_id(f: &Fixture, id: &str, body: String) -> u16 {
    f.client
        .post(f.url("/v2/models/credit/infer"))
        .header("x-request-id", id)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn refused_requests_are_logged_with_their_reason_and_monitoring_counts_them() {
    let f = start(|_| {}).await;
    let good = v2_columns(&f.data, 3).to_string();
    assert_eq!(post_with_id(&f, "good-1", good.clone()).await, 200);
    let atlantis = with_region(&f, 2, "atlantis").to_string();
    assert_eq!(post_with_id(&f, "bad-category", atlantis).await, 400);
    assert_eq!(post_with_id(&f, "bad-json", "{not json".into()).await, 400);
    let mut missing = v2_columns(&f.data, 1);
    missing["inputs"].as_array_mut().unwrap().remove(0);
    assert_eq!(
        post_with_id(&f, "bad-columns", missing.to_string()).await,
        400
    );
    // A request for a model not served is not the input's fault: not recorded.
    let r = f
        .client
        .post(f.url("/v2/models/other/infer"))
        .header("x-request-id", "not-served")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    f.server.collector().unwrap().flush().await.unwrap();
    let t = mlcycle::clock::Clock::now(f.clock.as_ref());
    let (from, to) = (t - Duration::hours(1), t + Duration::hours(1));
    let records = f.log.read_window(from, to).await.unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, ["good-1", "bad-category", "bad-json", "bad-columns"]);
    let refused = &records[1];
    assert_eq!(refused.model_name, "credit");
    assert_eq!(refused.model_version, 1);
    assert!(refused.inputs.is_empty() && refused.outputs.is_empty());
    let reason = refused.error.as_deref().unwrap();
    assert!(
        reason.contains("unknown category `atlantis`") && reason.contains("`region`"),
        "{reason}"
    );
    assert!(
        records[2]
            .error
            .as_deref()
            .unwrap()
            .contains("not a valid V2 inference request"),
        "{:?}",
        records[2].error
    );
    assert!(records[3].error.is_some());
    assert!(records[0].error.is_none());

    // Monitoring sees them: errors in the health figures, an unseen category and a
    // schema change among the data-quality faults.
    let monitor = Monitor::new(
        f.log.clone(),
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig {
            max_volume_drop: None,
            ..MonitorConfig::default()
        },
    );
    let report = monitor.check(&f.data, from, to).await.unwrap();
    assert_eq!(report.health.requests, 4);
    assert_eq!(report.health.errors, 3);
    assert_eq!(report.health.error_rate, 0.75);
    assert_eq!(report.health.rows, 3);
    // Refusals are not in the latency figures: only the scored request is.
    assert_eq!(report.health.latency_p50_us, records[0].latency_us);
    assert_eq!(report.health.latency_p99_us, records[0].latency_us);
    let unseen: Vec<_> = report
        .quality_faults
        .iter()
        .filter(|q| q.kind == FaultKind::UnseenCategory)
        .collect();
    assert_eq!(unseen.len(), 1, "{:?}", report.quality_faults);
    assert_eq!(unseen[0].column, "region");
    assert!(
        unseen[0]
            .detail
            .contains("1 requests refused for an unknown category"),
        "{}",
        unseen[0].detail
    );
    assert!(
        report
            .quality_faults
            .iter()
            .any(|q| q.kind == FaultKind::SchemaChange),
        "{:?}",
        report.quality_faults
    );
    f.server.undeploy().await.unwrap();
}

#[tokio::test]
async fn as_missing_scores_an_unknown_category_as_a_missing_value() {
    let f = start(|c| c.unknown_level = UnknownLevel::AsMissing).await;
    let atlantis = with_region(&f, 2, "atlantis").to_string();
    assert_eq!(post_with_id(&f, "scored", atlantis).await, 200);
    f.server.collector().unwrap().flush().await.unwrap();
    let t = mlcycle::clock::Clock::now(f.clock.as_ref());
    let records = f
        .log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert!(r.error.is_none());
    let region = f.data.schema().feature_index("region").unwrap();
    assert!(r.inputs.iter().all(|row| row[region].is_nan()));
    // Scored as the model scores a missing region.
    let mut x = f.data.features().slice(ndarray::s![0..2, ..]).to_owned();
    x.column_mut(region).fill(f64::NAN);
    let p = mlcycle::model::Model::predict(f.model.as_ref(), x.view()).unwrap();
    assert_eq!(r.outputs, p.values.to_vec());
    // The record says what was changed, and monitoring counts it as an unseen category.
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(
        r.notes[0].contains("unknown category `atlantis`")
            && r.notes[0].contains("`region`")
            && r.notes[0].contains("scored as missing"),
        "{}",
        r.notes[0]
    );
    let good = v2_columns(&f.data, 2).to_string();
    assert_eq!(post_with_id(&f, "known", good).await, 200);
    f.server.collector().unwrap().flush().await.unwrap();
    let (from, to) = (t - Duration::hours(1), t + Duration::hours(1));
    let records = f.log.read_window(from, to).await.unwrap();
    assert!(records[1].notes.is_empty(), "known categories, no note");
    let report = Monitor::new(
        f.log.clone(),
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig {
            max_volume_drop: None,
            ..MonitorConfig::default()
        },
    )
    .check(&f.data, from, to)
    .await
    .unwrap();
    assert_eq!(report.health.errors, 0);
    let unseen: Vec<_> = report
        .quality_faults
        .iter()
        .filter(|q| q.kind == FaultKind::UnseenCategory)
        .collect();
    assert_eq!(unseen.len(), 1, "{:?}", report.quality_faults);
    assert_eq!(unseen[0].column, "region");
    assert_eq!(
        unseen[0].detail,
        "1 requests with an unknown category scored as missing"
    );
    f.server.undeploy().await.unwrap();
}
