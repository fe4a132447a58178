//! The test-harness example runs as a test: it asserts that drift is flagged on the day the
//! data shifts and that a retrained version is promoted.

#[path = "../../examples/test_harness.rs"]
#[allow(dead_code)]
mod test_harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_harness_example_flags_drift_and_promotes_a_retrained_version() {
    let report = test_harness::run().await.unwrap();
    assert_eq!(report.days.len(), 30);
    assert!(report.retrains().any(|(d, _)| d >= test_harness::SHIFT_DAY));
}
