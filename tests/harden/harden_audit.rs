//! Audit records of work that did not complete say so, and tag changes are audited.

use async_trait::async_trait;
use mlcycle::audit::{AuditLog, AuditQuery};
use mlcycle::clock::SystemClock;
use mlcycle::data::Dataset;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, Trigger};
use mlcycle::model::{Model, ModelArtifact, Prediction, Signature};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LinearModelTrainer, TrainContext, TrainedModel, Trainer};
use ndarray::ArrayView2;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A model whose artifact can be made once (validation measures its size) but not a second
/// time (as when the disk fills up while the version is written).
#[derive(Debug)]
struct Unstorable(Arc<dyn Model>, AtomicUsize);

impl Model for Unstorable {
    fn signature(&self) -> &Signature {
        self.0.signature()
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> mlcycle::Result<Prediction> {
        self.0.predict(x)
    }
    fn to_artifact(&self) -> mlcycle::Result<ModelArtifact> {
        if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
            return self.0.to_artifact();
        }
        Err(mlcycle::Error::Data("no space left on device".into()))
    }
}

#[derive(Debug)]
struct UnstorableTrainer;

#[async_trait]
impl Trainer for UnstorableTrainer {
    fn name(&self) -> &str {
        "unstorable"
    }
    async fn train(&self, data: &Dataset, ctx: &TrainContext) -> mlcycle::Result<TrainedModel> {
        let mut t = LinearModelTrainer::default().train(data, ctx).await?;
        t.model = Arc::new(Unstorable(t.model, AtomicUsize::new(0)));
        Ok(t)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_that_fails_after_validation_is_recorded_as_failed() {
    let stack = Stack::in_memory_with(Arc::new(SystemClock), LifecycleConfig::new("credit"), |b| {
        b.trainer(Arc::new(UnstorableTrainer))
    })
    .unwrap();
    let data = CreditDefault::new(1)
        .sample(1_000, &DriftSpec::none(), 0)
        .unwrap();
    let err = stack
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    let records = stack.audit.query(&AuditQuery::default()).await.unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.entry.action.as_str()).collect();
    assert!(actions.contains(&"validation.completed"), "{actions:?}");
    assert!(!actions.contains(&"version.registered"), "{actions:?}");
    // The last record of the run says the registration failed, and why.
    let last = records.last().unwrap();
    assert_eq!(last.entry.action, "stage.failed", "{actions:?}");
    assert_eq!(last.entry.payload["stage"], "register");
    assert!(
        last.entry.payload["error"]
            .as_str()
            .unwrap()
            .contains("no space left on device")
    );
    let trace = &records
        .iter()
        .find(|r| r.entry.action == "validation.completed")
        .unwrap()
        .entry
        .trace_id;
    assert_eq!(
        &last.entry.trace_id, trace,
        "the failure is in the run's trace"
    );
}

#[tokio::test]
async fn a_tag_set_from_the_command_line_is_audited_with_its_previous_value() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("train.csv");
    let data = CreditDefault::new(2)
        .sample(600, &DriftSpec::none(), 0)
        .unwrap();
    mlcycle::data::write_csv(&data, &csv).unwrap();
    let bin = env!("CARGO_BIN_EXE_mlcycle");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .arg("--store")
            .arg(dir.path().join("store"))
            .env("USER", "alice")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "default",
        "--name",
        "credit",
        "--algorithm",
        "logistic",
    ]);
    run(&["models", "tag", "credit/1", "team", "risk"]);
    run(&["models", "tag", "credit/1", "team", "fraud"]);
    let audit =
        mlcycle::audit::SqliteAuditLog::open(dir.path().join("store"), Arc::new(SystemClock))
            .unwrap();
    let tagged = audit
        .query(&AuditQuery {
            action: Some("version.tagged".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tagged.len(), 2);
    assert_eq!(tagged[1].entry.actor, "alice");
    assert_eq!(tagged[1].entry.subjects, ["credit/1"]);
    assert_eq!(tagged[1].entry.payload["value"], "fraud");
    assert_eq!(tagged[1].entry.payload["previous"], "risk");
    assert!(audit.verify().await.is_ok());
}
