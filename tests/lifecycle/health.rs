//! Health that decides: traffic-volume and p99-latency limits and the active probe raise
//! `health` alerts from a monitoring window.

use chrono::{DateTime, Duration, Utc};
use mlcycle::clock::{Clock, SimulatedClock};
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{AlertKind, HealthLimits, LifecycleConfig, PROBE_REQUEST_PREFIX, Trigger};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_little_traffic_and_a_failing_probe_raise_health_alerts() {
    let clock = Arc::new(SimulatedClock::new(start()));
    let mut config = LifecycleConfig::new("credit");
    config.health = HealthLimits {
        max_p99_latency_ms: None,
        min_requests: Some(50),
        probe: true,
    };
    let s = Stack::in_memory(clock.clone(), config).unwrap();
    let synth = CreditDefault::new(3);
    s.lifecycle
        .run_training(
            &synth.sample(2_000, &DriftSpec::none(), 0).unwrap(),
            Trigger::Manual,
        )
        .await
        .unwrap();
    let traffic = synth.sample(200, &DriftSpec::none(), 1).unwrap();
    // 10 calls of 20 rows: fewer than the 50 expected.
    for i in 0..10 {
        clock.advance(Duration::minutes(1));
        s.deployer
            .predict(ScoreRequest {
                rows: traffic
                    .features()
                    .slice(ndarray::s![i * 20..(i + 1) * 20, ..])
                    .to_owned(),
                request_id: None,
            })
            .await
            .unwrap();
    }
    let from = start();
    let to = clock.now() + Duration::minutes(1);
    let out = s.lifecycle.run_monitoring(from, to).await.unwrap();
    let health: Vec<&str> = out
        .alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Health)
        .map(|a| a.message.as_str())
        .collect();
    assert_eq!(health.len(), 1, "{health:?}");
    assert!(health[0].contains("10 scoring call(s)"), "{health:?}");
    // The probe scored a reference row through the deployed model, as a logged call (its
    // record goes through the collector: flush it before reading the log).
    s.collector.flush().await.unwrap();
    let logged = s
        .prediction_log
        .read_window(from, to + Duration::hours(1))
        .await
        .unwrap();
    let probes: Vec<_> = logged
        .iter()
        .filter(|r| r.request_id.starts_with(PROBE_REQUEST_PREFIX))
        .collect();
    assert_eq!(probes.len(), 1);
    assert!(probes[0].error.is_none());

    // Nothing deployed any more while production names a version: the probe says so.
    s.deployer.undeploy().await.unwrap();
    let later = to + Duration::hours(1);
    let out = s.lifecycle.run_monitoring(to, later).await.unwrap();
    let probe = out
        .alerts
        .iter()
        .find(|a| a.kind == AlertKind::Health && a.message.starts_with("probe:"))
        .unwrap_or_else(|| panic!("{:?}", out.alerts));
    assert!(
        probe.message.contains("nothing is deployed"),
        "{}",
        probe.message
    );
    assert_eq!(probe.severity, mlcycle::lifecycle::Severity::Critical);
}
