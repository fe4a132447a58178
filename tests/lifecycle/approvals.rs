//! Durable lifecycle state and approvals from outside the process: a restarted stack keeps
//! its episode, cooldown and pending approvals; `mlcycle pending|approve|reject` in a child
//! process record decisions that `Lifecycle::apply_decisions` releases exactly once; the
//! approval policies.

use mlcycle::audit::{AuditEvent, AuditQuery};
use mlcycle::clock::{Clock, SimulatedClock};
use mlcycle::deploy::Deployer;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::ApprovalDecision;
use mlcycle::lifecycle::{
    ApprovalGate, ApprovalPolicy, ApprovalRequest, ApprovalStatus, EpisodeState,
    InMemoryLifecycleState, LifecycleConfig, LifecycleStateStore, RulesApproval,
    SqliteLifecycleState, TrainingDecision, Trigger, lifecycle_state_conformance,
};
use mlcycle::registry::{RegistryExt, VersionStatus};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::validate::Check;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn data(stream: u64) -> mlcycle::data::Dataset {
    sized(2_000, stream)
}

fn sized(n: usize, stream: u64) -> mlcycle::data::Dataset {
    CreditDefault::new(5)
        .sample(n, &DriftSpec::none(), stream)
        .unwrap()
}

fn manual(dir: &Path, clock: Arc<SimulatedClock>) -> Stack {
    Stack::open_with(dir, clock, LifecycleConfig::new("credit"), |b| {
        b.approval(ApprovalPolicy::Manual.gate())
    })
    .unwrap()
}

fn clock() -> Arc<SimulatedClock> {
    Arc::new(SimulatedClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .to_utc(),
    ))
}

fn mlcycle(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .arg("--store")
        .arg(dir)
        .env_remove("MLCYCLE_HOME")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn both_state_stores_pass_the_conformance_suite() {
    lifecycle_state_conformance(&InMemoryLifecycleState::default());
    let dir = tempfile::tempdir().unwrap();
    lifecycle_state_conformance(&SqliteLifecycleState::open(dir.path()).unwrap());
    // And the SQLite rows are visible from a second handle on the same store.
    let other = SqliteLifecycleState::open(dir.path()).unwrap();
    assert_eq!(other.approvals(None).unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_stack_keeps_its_episode_cooldown_and_pending_approval() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let deployed_at;
    {
        let stack = manual(dir.path(), clock.clone());
        let out = stack
            .lifecycle
            .run_training(&data(0), Trigger::Manual)
            .await
            .unwrap();
        assert!(matches!(out.decision, TrainingDecision::AwaitingApproval));
        stack
            .lifecycle
            .approve(1, "carol", "first model")
            .await
            .unwrap();
        deployed_at = clock.now();
        assert_eq!(stack.lifecycle.episode().last_deploy, Some(deployed_at));
        clock.advance(chrono::Duration::days(2));
        let out = stack
            .lifecycle
            .run_training(&sized(6_000, 1), Trigger::Manual)
            .await
            .unwrap();
        assert!(
            matches!(out.decision, TrainingDecision::AwaitingApproval),
            "{:?}",
            out.decision
        );
        // Dropped mid-episode with version 2 pending.
    }
    clock.advance(chrono::Duration::hours(1));
    let stack = manual(dir.path(), clock.clone());
    assert_eq!(
        stack.lifecycle.episode(),
        EpisodeState {
            last_deploy: Some(deployed_at),
            ..EpisodeState::default()
        },
        "the cooldown survives a restart"
    );
    let stored = stack
        .lifecycle
        .state_store()
        .load("credit")
        .unwrap()
        .unwrap();
    assert_eq!(stored.baseline_version, Some(1));
    let pending = stack.lifecycle.pending_approvals().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].version, 2);
    assert_eq!(pending[0].trigger, "manual");
    assert_eq!(pending[0].summary["primary_metric"], "roc_auc");
    assert!(pending[0].summary["champion"].is_number());
    assert!(!pending[0].summary["checks"].as_array().unwrap().is_empty());

    // `approve` works after the restart; the baseline is the stored reference profile.
    let dep = stack
        .lifecycle
        .approve(2, "dave", "reviewed after restart")
        .await
        .unwrap();
    assert_eq!(dep.version, 2);
    assert_eq!(
        stack
            .registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        2
    );
    assert_eq!(stack.lifecycle.episode().last_deploy, Some(clock.now()));
    let row = stack
        .lifecycle
        .state_store()
        .approval("credit", 2)
        .unwrap()
        .unwrap();
    assert_eq!(row.status, ApprovalStatus::Approved);
    assert_eq!(row.decided_by.as_deref(), Some("dave"));
    assert!(row.applied_at.is_some());
    // Approving again is refused.
    assert!(stack.lifecycle.approve(2, "dave", "again").await.is_err());
    // Monitoring runs against the stored profile (not "no baseline").
    let from = clock.now();
    clock.advance(chrono::Duration::hours(1));
    let m = stack
        .lifecycle
        .run_monitoring(from, clock.now())
        .await
        .unwrap();
    if let mlcycle::lifecycle::MonitoringDecision::Skipped { reason } = &m.decision {
        assert!(!reason.contains("no deployed version"), "{reason}");
    }
    // Reopen once more: the deployment time of version 2 is the cooldown start.
    let last = stack.lifecycle.episode();
    drop(stack);
    let stack = manual(dir.path(), clock.clone());
    assert_eq!(stack.lifecycle.episode(), last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_from_the_cli_is_released_by_apply_decisions_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let stack = manual(dir.path(), clock.clone());
    for stream in 0..2 {
        let out = stack
            .lifecycle
            .run_training(&data(stream), Trigger::Manual)
            .await
            .unwrap();
        assert!(matches!(out.decision, TrainingDecision::AwaitingApproval));
    }
    // `mlcycle pending --model NAME --format json`
    let (ok, out, err) = mlcycle(
        dir.path(),
        &["pending", "--model", "credit", "--format", "json"],
    );
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let versions: Vec<u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(rows[0]["status"], "pending");
    let (ok, out, err) = mlcycle(dir.path(), &["pending", "--format", "text"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("credit/1") && out.contains("credit/2"),
        "{out}"
    );

    // `mlcycle approve REF --by NAME --reason TEXT`
    let (ok, out, err) = mlcycle(
        dir.path(),
        &[
            "approve",
            "credit@1",
            "--by",
            "alice",
            "--reason",
            "looks good",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("running controller"), "{out}");
    assert!(out.contains("apply_decisions"), "{out}");
    // `mlcycle reject REF --by NAME --reason TEXT`
    let (ok, _, err) = mlcycle(
        dir.path(),
        &[
            "reject",
            "credit@2",
            "--by",
            "bob",
            "--reason",
            "unfair to group B",
        ],
    );
    assert!(ok, "{err}");
    // `reject` needs a reason; `approve` works without one.
    let (ok, _, err) = mlcycle(dir.path(), &["reject", "credit@2", "--by", "bob"]);
    assert!(!ok && err.contains("--reason"), "{err}");
    // A second decision on the same version is refused.
    let (ok, _, err) = mlcycle(dir.path(), &["approve", "credit/1", "--by", "eve"]);
    assert!(!ok, "a second decision was accepted");
    assert!(err.contains("already approved"), "{err}");

    // Nothing is released before the lifecycle applies the decisions.
    assert!(
        stack
            .registry
            .get_alias("credit", "production")
            .await
            .unwrap()
            .is_none()
    );
    let applied = stack.lifecycle.apply_decisions().await.unwrap();
    let got: Vec<(u32, bool)> = applied
        .iter()
        .map(|a| (a.record.version, a.deployment.is_some()))
        .collect();
    assert_eq!(got, [(1, true), (2, false)]);
    assert_eq!(
        stack
            .registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        stack
            .registry
            .get_version("credit", 2)
            .await
            .unwrap()
            .status,
        VersionStatus::Rejected
    );
    assert!(stack.lifecycle.apply_decisions().await.unwrap().is_empty());

    // Audited with who and why.
    let recs = stack
        .audit
        .query(&AuditQuery {
            action: Some("approval.decided".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let decided: Vec<(String, String, String)> = recs
        .iter()
        .map(
            |r| match AuditEvent::parse(&r.entry.action, &r.entry.payload).unwrap() {
                AuditEvent::ApprovalDecided(d) => (r.entry.actor.clone(), d.decision, d.reason),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(
        decided,
        [
            ("alice".into(), "approved".into(), "looks good".into()),
            ("bob".into(), "rejected".into(), "unfair to group B".into()),
        ]
    );
    assert!(stack.audit.verify().await.unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_lifecycles_apply_a_decision_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let a = manual(dir.path(), clock.clone());
    let out = a
        .lifecycle
        .run_training(&data(0), Trigger::Manual)
        .await
        .unwrap();
    assert!(matches!(out.decision, TrainingDecision::AwaitingApproval));
    let b = manual(dir.path(), clock.clone());
    let (ok, _, err) = mlcycle(dir.path(), &["approve", "credit@1", "--by", "alice"]);
    assert!(ok, "{err}");
    let (ra, rb) = tokio::join!(a.lifecycle.apply_decisions(), b.lifecycle.apply_decisions());
    let total = ra.unwrap().len() + rb.unwrap().len();
    assert_eq!(total, 1, "the decision was applied {total} times");
    let moves = a
        .registry
        .alias_history("credit", Some("production"))
        .await
        .unwrap();
    assert_eq!(moves.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_can_release_when_no_controller_runs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let stack = manual(dir.path(), clock());
        stack
            .lifecycle
            .run_training(&data(0), Trigger::Manual)
            .await
            .unwrap();
    }
    let (ok, out, err) = mlcycle(
        dir.path(),
        &["approve", "credit@1", "--by", "alice", "--release"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("released"), "{out}");
    let stack = manual(dir.path(), clock());
    assert_eq!(
        stack
            .registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        1
    );
    assert!(stack.lifecycle.apply_decisions().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_rules_policy_approves_only_when_every_check_passes() {
    for (s, p) in [
        ("auto", ApprovalPolicy::Auto),
        ("manual", ApprovalPolicy::Manual),
        ("rules", ApprovalPolicy::Rules),
    ] {
        assert_eq!(s.parse::<ApprovalPolicy>().unwrap(), p);
        assert_eq!(p.to_string(), s);
    }
    assert!("always".parse::<ApprovalPolicy>().is_err());

    // All checks pass: released automatically.
    let stack = Stack::in_memory_with(clock(), LifecycleConfig::new("credit"), |b| {
        b.approval(ApprovalPolicy::Rules.gate())
    })
    .unwrap();
    let out = stack
        .lifecycle
        .run_training(&data(0), Trigger::Manual)
        .await
        .unwrap();
    assert!(
        matches!(&out.decision, TrainingDecision::Promoted { approved_by, .. } if approved_by == "lifecycle/rules"),
        "{:?}",
        out.decision
    );
    // A failed fairness or significance check: a person decides.
    for name in ["fairness:demographic_parity_difference", "significance"] {
        let mut validation = out.validation.clone();
        validation.checks.push(Check {
            name: name.into(),
            passed: false,
            detail: "failed".into(),
            info: false,
        });
        let request = ApprovalRequest {
            version: out.version.clone(),
            validation,
            trigger: Trigger::Manual,
        };
        assert_eq!(
            RulesApproval.review(&request).await.unwrap(),
            ApprovalDecision::Pending,
            "{name}"
        );
    }
    let request = ApprovalRequest {
        version: out.version.clone(),
        validation: out.validation.clone(),
        trigger: Trigger::Manual,
    };
    assert!(matches!(
        RulesApproval.review(&request).await.unwrap(),
        ApprovalDecision::Approved { .. }
    ));
}

async fn start_admin(
    token: Option<&str>,
    approvals: Option<Arc<dyn mlcycle::deploy::http::ApprovalsAdmin>>,
) -> (mlcycle::deploy::http::HttpDeployer, String) {
    let server = mlcycle::deploy::http::HttpDeployer::start(
        mlcycle::deploy::http::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            admin_token: token.map(String::from),
            approvals,
            ..Default::default()
        },
        Arc::new(mlcycle::clock::SystemClock),
        None,
    )
    .await
    .unwrap();
    let url = format!("http://{}", server.local_addr());
    (server, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_admin_api_lists_and_decides_behind_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let stack = manual(dir.path(), clock.clone());
    stack
        .lifecycle
        .run_training(&data(0), Trigger::Manual)
        .await
        .unwrap();
    let admin: Arc<dyn mlcycle::deploy::http::ApprovalsAdmin> =
        Arc::new(mlcycle::lifecycle::StoreApprovals::new(
            Arc::new(SqliteLifecycleState::open(dir.path()).unwrap()),
            stack.audit.clone(),
            clock.clone(),
        ));
    let client = reqwest::Client::new();

    // Without a configured token: 403 saying how to enable the routes.
    let (off, off_url) = start_admin(None, Some(admin.clone())).await;
    let r = client
        .get(format!("{off_url}/admin/pending"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("MLCYCLE_ADMIN_TOKEN"));
    off.undeploy().await.unwrap();

    // With a token but no approvals store: 501.
    let (bare, bare_url) = start_admin(Some("s3cret"), None).await;
    let r = client
        .get(format!("{bare_url}/admin/pending"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    bare.undeploy().await.unwrap();

    let (server, url) = start_admin(Some("s3cret"), Some(admin)).await;
    // Missing or wrong token: 401.
    let r = client
        .get(format!("{url}/admin/pending"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{url}/admin/pending"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(format!("{url}/admin/models/credit/versions/1/approve"))
        .bearer_auth("wrong")
        .body(r#"{"by": "mallory", "reason": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The right token: the pending list, then a decision.
    let r = client
        .get(format!("{url}/admin/pending"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["model"], "credit");
    assert_eq!(list[0]["version"], 1);
    assert_eq!(list[0]["status"], "pending");

    // A rejection without a reason is refused.
    let r = client
        .post(format!("{url}/admin/models/credit/versions/1/reject"))
        .bearer_auth("s3cret")
        .body(r#"{"by": "bob"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .post(format!("{url}/admin/models/credit/versions/1/approve"))
        .bearer_auth("s3cret")
        .header("content-type", "application/json")
        .body(r#"{"by": "alice", "reason": "reviewed the fairness report"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rec: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(rec["status"], "approved");
    assert_eq!(rec["decided_by"], "alice");
    // Deciding again: 409; an unknown version: 404.
    let r = client
        .post(format!("{url}/admin/models/credit/versions/1/reject"))
        .bearer_auth("s3cret")
        .body(r#"{"by": "bob", "reason": "changed my mind"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = client
        .post(format!("{url}/admin/models/credit/versions/7/approve"))
        .bearer_auth("s3cret")
        .body(r#"{"by": "bob"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.undeploy().await.unwrap();

    // The running lifecycle releases it.
    let applied = stack.lifecycle.apply_decisions().await.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(
        stack
            .registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        1
    );
}
