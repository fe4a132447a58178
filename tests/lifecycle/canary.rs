//! Canary releases in the lifecycle: an approved version first takes a share of the traffic
//! on the `canary` alias; after the canary period it is promoted when its error rate and
//! latency are no worse than the champion's, else rolled back with a `rolled_back` alert —
//! all in the registry and the audit trail, so a server following the model sees it.

use chrono::{DateTime, Duration, Utc};
use mlcycle::audit::AuditQuery;
use mlcycle::clock::{Clock, SimulatedClock};
use mlcycle::collect::PredictionRecord;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{
    CANARY_SHARE_TAG, CanaryOutcome, CanaryPolicy, LifecycleConfig, TrainingDecision, Trigger,
};
use mlcycle::registry::VersionStatus;
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

fn data(n: usize, stream: u64) -> mlcycle::data::Dataset {
    CreditDefault::new(5)
        .sample(n, &DriftSpec::none(), stream)
        .unwrap()
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

fn stack(clock: Arc<SimulatedClock>) -> Stack {
    let mut config = LifecycleConfig::new("credit");
    let mut policy = CanaryPolicy::new(0.2, Duration::hours(1));
    policy.min_requests = 10;
    config.canary = Some(policy);
    Stack::in_memory(clock, config).unwrap()
}

/// `n` scoring calls answered by `version` at `at`, `errors` of them failed, each taking
/// `latency_us`.
async fn traffic(
    s: &Stack,
    version: u32,
    at: DateTime<Utc>,
    n: usize,
    errors: usize,
    latency_us: u64,
) {
    let records = (0..n)
        .map(|i| PredictionRecord {
            request_id: format!("v{version}-{at}-{i}"),
            at,
            model_name: "credit".into(),
            model_version: version,
            inputs: vec![],
            outputs: vec![],
            probabilities: vec![],
            latency_us,
            error: (i < errors).then(|| "scoring failed".to_string()),
            notes: vec![],
        })
        .collect();
    s.prediction_log.append(records).await.unwrap();
}

async fn alias(s: &Stack, alias: &str) -> Option<u32> {
    s.registry.get_alias("credit", alias).await.unwrap()
}

/// v1 (small, so later versions beat it) is promoted at once (no champion yet); a retrain on
/// more data validates and goes to the
/// canary. Returns the canary version.
async fn to_canary(s: &Stack, stream: u64) -> u32 {
    let out = s
        .lifecycle
        .run_training(&data(4_000, stream), Trigger::Manual)
        .await
        .unwrap();
    match &out.decision {
        TrainingDecision::Canary { deployment, .. } => {
            assert_eq!(deployment.deployer, "canary");
            assert!(
                deployment.endpoint.contains("credit@canary"),
                "{deployment:?}"
            );
        }
        other => panic!("expected a canary release, got {other:?}"),
    }
    out.version.version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_as_good_as_the_champion_is_promoted_after_its_period() {
    let clock = Arc::new(SimulatedClock::new(start()));
    let s = stack(clock.clone());
    let first = s
        .lifecycle
        .run_training(&data(300, 0), Trigger::Manual)
        .await
        .unwrap();
    assert!(
        matches!(first.decision, TrainingDecision::Promoted { .. }),
        "{:?}",
        first.decision
    );
    let v = to_canary(&s, 1).await;
    // The canary takes its share: the alias and the tag say so; production is unchanged.
    assert_eq!(alias(&s, "canary").await, Some(v));
    assert_eq!(alias(&s, "production").await, Some(1));
    let mv = s.registry.get_version("credit", v).await.unwrap();
    assert_eq!(
        mv.tags.get(CANARY_SHARE_TAG).map(String::as_str),
        Some("0.2")
    );
    assert_eq!(mv.status, VersionStatus::Approved);

    // Before the period is over nothing is decided.
    clock.advance(Duration::minutes(30));
    traffic(&s, 1, clock.now(), 80, 0, 100).await;
    traffic(&s, v, clock.now(), 20, 0, 105).await;
    match s.lifecycle.settle_canary().await.unwrap() {
        Some(CanaryOutcome::Running { version, until, .. }) => {
            assert_eq!(version, v);
            assert_eq!(until, start() + Duration::hours(1));
        }
        other => panic!("{other:?}"),
    }
    clock.advance(Duration::minutes(31));
    match s.lifecycle.settle_canary().await.unwrap() {
        Some(CanaryOutcome::Promoted {
            version,
            canary,
            champion,
            deployment,
            ..
        }) => {
            assert_eq!(version, v);
            assert_eq!((canary.requests, canary.errors), (20, 0));
            assert_eq!((champion.requests, champion.p99_latency_us), (80, 100));
            assert_eq!(deployment.version, v);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alias(&s, "production").await, Some(v));
    assert_eq!(alias(&s, "canary").await, None);
    // Nothing more to settle.
    assert!(s.lifecycle.settle_canary().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_more_often_than_the_champion_is_rolled_back_and_alerted() {
    let clock = Arc::new(SimulatedClock::new(start()));
    let s = stack(clock.clone());
    s.lifecycle
        .run_training(&data(300, 0), Trigger::Manual)
        .await
        .unwrap();
    let v = to_canary(&s, 1).await;
    clock.advance(Duration::minutes(10));
    traffic(&s, 1, clock.now(), 100, 1, 100).await;
    traffic(&s, v, clock.now(), 30, 6, 100).await;
    clock.advance(Duration::hours(1));
    match s.lifecycle.settle_canary().await.unwrap() {
        Some(CanaryOutcome::RolledBack {
            version,
            reason,
            canary,
            ..
        }) => {
            assert_eq!(version, v);
            assert_eq!(canary.errors, 6);
            assert!(reason.contains("error rate 20.0 %"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alias(&s, "production").await, Some(1));
    assert_eq!(alias(&s, "canary").await, None);
    let mv = s.registry.get_version("credit", v).await.unwrap();
    assert_eq!(mv.status, VersionStatus::Rejected);
    // The rollback is in the audit trail: the alias removal and the alert.
    let records = s.audit.query(&AuditQuery::default()).await.unwrap();
    let rolled_back = records
        .iter()
        .any(|r| r.entry.action == "alert.raised" && r.entry.payload["kind"] == "rolled_back");
    assert!(rolled_back, "no rolled_back alert in the audit trail");
    let removed = records
        .iter()
        .any(|r| r.entry.action == "alias.deleted" && r.entry.payload["alias"] == "canary");
    assert!(removed, "the canary alias removal is not audited");
}

/// A trained champion, a canary whose 30 calls took `canary_us` against the champion's 100
/// calls of `champion_us`, judged an hour later: the stack, the canary's version, the outcome.
async fn judged_on_latency(
    champion_us: u64,
    canary_us: u64,
) -> (Stack, Arc<SimulatedClock>, u32, Option<CanaryOutcome>) {
    let clock = Arc::new(SimulatedClock::new(start()));
    let s = stack(clock.clone());
    s.lifecycle
        .run_training(&data(300, 0), Trigger::Manual)
        .await
        .unwrap();
    let v = to_canary(&s, 1).await;
    clock.advance(Duration::minutes(5));
    traffic(&s, 1, clock.now(), 100, 0, champion_us).await;
    traffic(&s, v, clock.now(), 30, 0, canary_us).await;
    clock.advance(Duration::hours(1));
    let outcome = s.lifecycle.settle_canary().await.unwrap();
    (s, clock, v, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microsecond_latency_difference_is_not_a_reason_to_roll_back() {
    // 4× the champion's p99, but only 300 µs more: within the 2,000 µs slack.
    let (s, _, v, outcome) = judged_on_latency(100, 400).await;
    match outcome {
        Some(CanaryOutcome::Promoted { version, .. }) => assert_eq!(version, v),
        other => panic!("{other:?}"),
    }
    assert_eq!(alias(&s, "production").await, Some(v));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_canary_or_one_nobody_called_is_rolled_back() {
    // Slow: p99 of 4,000 µs against the champion's 1,000 µs (limits 1.5× and 2,000 µs).
    let (s, clock, _, outcome) = judged_on_latency(1_000, 4_000).await;
    match outcome {
        Some(CanaryOutcome::RolledBack { reason, .. }) => {
            assert!(reason.contains("p99 latency 4000"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Unseen: no server routed traffic to it.
    let w = to_canary(&s, 2).await;
    clock.advance(Duration::hours(2));
    match s.lifecycle.settle_canary().await.unwrap() {
        Some(CanaryOutcome::RolledBack {
            version, reason, ..
        }) => {
            assert_eq!(version, w);
            assert!(
                reason.contains("is a server following credit@canary"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alias(&s, "production").await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_settles_a_canary_whose_time_is_up() {
    use mlcycle::controller::{Controller, ControllerConfig};
    let clock = Arc::new(SimulatedClock::new(start()));
    let s = stack(clock.clone());
    s.lifecycle
        .run_training(&data(300, 0), Trigger::Manual)
        .await
        .unwrap();
    let v = to_canary(&s, 1).await;
    let lifecycle = Arc::new(s.lifecycle);
    let controller = Controller::new(
        lifecycle.clone(),
        clock.clone(),
        ControllerConfig::default(),
    )
    .unwrap();
    let before = controller.step().await.unwrap();
    assert!(before.iter().all(|r| r.kind != "canary"), "{before:?}");
    clock.advance(Duration::hours(2));
    let after = controller.step().await.unwrap();
    let r = after
        .iter()
        .find(|r| r.kind == "canary")
        .unwrap_or_else(|| panic!("no canary line in {after:?}"));
    assert_eq!((r.decision.as_str(), r.version), ("rolled_back", Some(v)));
}
