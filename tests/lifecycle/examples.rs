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

#[path = "../../examples/operate.rs"]
#[allow(dead_code)]
mod operate;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operate_example_retrains_after_the_shift_and_pages_once_per_condition() {
    let (reports, sent) = operate::run().await.unwrap();
    assert_eq!(
        (reports[0].kind.as_str(), reports[0].decision.as_str()),
        ("train", "promoted")
    );
    let start = reports[0].at;
    let retrained: Vec<_> = reports
        .iter()
        .filter(|r| r.decision == "retrained")
        .collect();
    assert!(!retrained.is_empty(), "{reports:#?}");
    assert!(
        retrained
            .iter()
            .all(|r| (r.at - start).num_days() >= operate::SHIFT_DAY),
        "{retrained:#?}"
    );
    // The pager heard of the release, the drift and the retrained release; each line names
    // the owner; the persisting drift was sent once.
    assert!(
        sent.iter().any(|l| l.starts_with("[released]")),
        "{sent:#?}"
    );
    assert_eq!(
        sent.iter().filter(|l| l.starts_with("[drift]")).count(),
        1,
        "{sent:#?}"
    );
    assert!(
        sent.iter().all(|l| l.contains("risk-models@example.com")),
        "{sent:#?}"
    );
}
