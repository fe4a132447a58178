//! Monitoring right after scoring sees every scored row: the lifecycle flushes the
//! collector that feeds its prediction log before it reads a window.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::clock::SimulatedClock;
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, Trigger};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_read_right_after_scoring_holds_every_row() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(SimulatedClock::new(t0));
    let stack = Stack::in_memory(clock.clone(), LifecycleConfig::new("credit")).unwrap();
    let g = CreditDefault::new(5);
    let history = g.sample(4_000, &DriftSpec::none(), 0).unwrap();
    stack
        .lifecycle
        .run_training(&history, Trigger::Manual)
        .await
        .unwrap();
    clock.set(t0 + Duration::hours(1));
    let live = g
        .sample(1_200, &DriftSpec::none(), 1)
        .unwrap()
        .without_target();
    let x = live.features();
    let mut scored = 0;
    for start in (0..live.n_rows()).step_by(7) {
        let end = (start + 7).min(live.n_rows());
        stack
            .deployer
            .predict(ScoreRequest {
                rows: x.slice(ndarray::s![start..end, ..]).to_owned(),
                request_id: None,
            })
            .await
            .unwrap();
        scored += end - start;
    }
    // No flush here: the monitoring cycle does it.
    let outcome = stack
        .lifecycle
        .run_monitoring(t0, t0 + Duration::hours(2))
        .await
        .unwrap();
    let report = outcome.report.expect("a report");
    assert_eq!(scored, 1_200);
    assert_eq!(report.health.rows, scored);
}
