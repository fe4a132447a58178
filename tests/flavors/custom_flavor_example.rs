//! The custom-flavor example runs as a test: a hand-written model type, registered as a
//! flavor, is trained, served over HTTP and monitored.

#[path = "../../examples/custom_flavor.rs"]
#[allow(dead_code)]
mod custom_flavor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_custom_flavor_example_trains_serves_over_http_and_monitors() {
    let run = custom_flavor::run().await.unwrap();
    assert_eq!(run.training.version.flavor, custom_flavor::FLAVOR);
    assert_eq!(run.training.algorithm, "nearest_centroid");
    let (status, body) = &run.http;
    assert_eq!(*status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        answer["predictions"].is_array(),
        "an MLflow answer with predictions: {body}"
    );
    let report = run.monitoring.report.expect("a monitoring report");
    // the HTTP request's row and the in-process batch of 500
    assert_eq!(report.health.rows, 501);
    assert!(
        report.drift.is_some(),
        "drift checked: {:?}",
        report.skipped
    );
}
