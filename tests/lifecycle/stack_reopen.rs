//! Reopening the embedded store resumes serving what the serving alias names.

use std::sync::Arc;

use mlcycle::audit::{AuditQuery, actions};
use mlcycle::clock::SimulatedClock;
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDecision, Trigger};
use mlcycle::registry::Change;
use mlcycle::testing::{CreditDefault, DriftSpec};

async fn score(stack: &Stack) -> mlcycle::Result<u32> {
    let rows = CreditDefault::new(5).sample(20, &DriftSpec::none(), 9)?;
    let r = stack
        .deployer
        .predict(ScoreRequest {
            rows: rows.features().to_owned(),
            request_id: None,
        })
        .await?;
    Ok(r.model_version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_store_serves_the_production_alias() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(chrono::DateTime::UNIX_EPOCH));
    let config = LifecycleConfig::new("credit");
    let data = CreditDefault::new(5)
        .sample(2_000, &DriftSpec::none(), 0)
        .unwrap();
    {
        let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
        // a fresh store serves nothing
        assert!(stack.deployer.current().await.is_none());
        let out = stack
            .lifecycle
            .run_training(&data, Trigger::Manual)
            .await
            .unwrap();
        assert!(matches!(out.decision, TrainingDecision::Promoted { .. }));
        assert_eq!(score(&stack).await.unwrap(), 1);
        // a second version, and the alias moved back to the first behind the lifecycle
        let v2 = stack
            .lifecycle
            .run_training(&data, Trigger::Manual)
            .await
            .unwrap();
        stack
            .registry
            .set_alias(
                "credit",
                "production",
                1,
                Change::new("test", "roll back by hand"),
            )
            .await
            .unwrap();
        assert_eq!(v2.version.version, 2);
    }
    // second run on the same store: the alias is served with no manual step
    let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
    let info = stack
        .deployer
        .current()
        .await
        .expect("serving after reopen");
    assert_eq!((info.model_name.as_str(), info.version), ("credit", 1));
    assert_eq!(score(&stack).await.unwrap(), 1);
    let deployments = |stack: &Stack| {
        let audit = stack.audit.clone();
        async move {
            audit
                .query(&AuditQuery {
                    action: Some(actions::DEPLOYMENT_STARTED.into()),
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    // the trail already says version 1 serves in process: the reopen records nothing
    let before = deployments(&stack).await;
    assert_eq!(before.last().unwrap().entry.payload["version"], 1);

    // `resume_serving` follows an alias moved later, and the trail records it
    stack
        .registry
        .set_alias("credit", "production", 2, Change::new("test", "forward"))
        .await
        .unwrap();
    let resumed = stack.resume_serving().await.unwrap().unwrap();
    assert_eq!(resumed.version, 2);
    assert_eq!(score(&stack).await.unwrap(), 2);
    let after = deployments(&stack).await;
    assert_eq!(after.len(), before.len() + 1);
    let last = after.last().unwrap();
    assert_eq!(last.entry.subjects, vec!["credit/2".to_string()]);
    assert!(
        last.entry.payload["approved_by"]
            .as_str()
            .unwrap()
            .contains("resumed from production"),
        "{:?}",
        last.entry.payload
    );
    assert!(stack.audit.verify().await.unwrap() > 0);
    // reopened again with version 2 serving: nothing new to record
    drop(stack);
    let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
    assert_eq!(score(&stack).await.unwrap(), 2);
    assert_eq!(deployments(&stack).await.len(), after.len());
}

#[test]
fn reopening_works_from_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = Arc::new(SimulatedClock::new(chrono::DateTime::UNIX_EPOCH));
        let config = LifecycleConfig {
            serving_alias: "live".into(),
            ..LifecycleConfig::new("credit")
        };
        {
            let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
            let data = CreditDefault::new(6)
                .sample(1_000, &DriftSpec::none(), 0)
                .unwrap();
            stack
                .lifecycle
                .run_training(&data, Trigger::Manual)
                .await
                .unwrap();
        }
        let stack = Stack::open(dir.path(), clock, config).unwrap();
        assert_eq!(score(&stack).await.unwrap(), 1);
    });
}

#[tokio::test]
async fn a_damaged_serving_version_is_named_when_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new(chrono::DateTime::UNIX_EPOCH));
    let config = LifecycleConfig::new("credit");
    {
        let stack = Stack::open(dir.path(), clock.clone(), config.clone()).unwrap();
        let data = CreditDefault::new(7)
            .sample(1_000, &DriftSpec::none(), 0)
            .unwrap();
        stack
            .lifecycle
            .run_training(&data, Trigger::Manual)
            .await
            .unwrap();
    }
    // damage every stored artifact
    let mut damaged = 0;
    for entry in walk(dir.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if name.len() >= 64 && name.chars().take(64).all(|c| c.is_ascii_hexdigit()) {
            std::fs::write(&entry, b"not an artifact").unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0, "no artifact file found in the store");
    let err = Stack::open(dir.path(), clock, config)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`credit@production` names version 1"), "{err}");
    assert!(err.contains("resume serving"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
