//! Lineage on a real store written by the scenario harness: from a prediction request id
//! back to the training data, through the library and through the `mlcycle` command line;
//! exports; a tampered store fails `mlcycle audit verify`.

use chrono::DurationRound;
use mlcycle::audit::openlineage::run_events;
use mlcycle::audit::{AuditLog, AuditQuery, AuditRecord, verify_chain};
use mlcycle::clock::SystemClock;
use mlcycle::collect::{FilePredictionLog, PredictionLog, PredictionRecord};
use mlcycle::lifecycle::LifecycleConfig;
use mlcycle::lineage::LineageQuery;
use mlcycle::prelude::*;
use mlcycle::registry::SqliteRegistry;
use mlcycle::testing::scenario::{self, DriftEvent, ScenarioConfig};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

fn cli(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("MLCYCLE_HOME")
        .env_remove("MLCYCLE_AUDIT_KEY_FILE")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_traces_back_to_its_training_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let config = ScenarioConfig {
        store: Some(store.clone()),
        days: 12,
        drift: Some(DriftEvent {
            start_day: 2,
            spec: DriftSpec::downturn(1.0),
        }),
        fault: None,
        ..ScenarioConfig::default()
    };
    let report = scenario::run(config, LifecycleConfig::new("credit"), None, |_| {})
        .await
        .unwrap();
    assert!(report.retrains().next().is_some(), "the scenario retrained");
    let request_id = report.sample_request_id.clone().unwrap();

    // Through the library, on the store reopened from disk.
    let clock = Arc::new(SystemClock);
    let audit = mlcycle::audit::SqliteAuditLog::open(&store, clock.clone()).unwrap();
    let registry = SqliteRegistry::open(&store, clock).unwrap();
    let predictions = FilePredictionLog::open(store.join("predictions")).unwrap();
    let served = predictions
        .find_request(&request_id)
        .await
        .unwrap()
        .unwrap();
    let q = LineageQuery::new(&audit, &registry, &predictions);
    let l = q.prediction(&request_id).await.unwrap();

    // `mlcycle predictions` prints the records the library reads, for a window and for the
    // whole log.
    let day = served
        .at
        .duration_trunc(chrono::TimeDelta::days(1))
        .unwrap();
    let next = day + chrono::TimeDelta::days(1);
    let window = predictions.read_window(day, next).await.unwrap();
    assert!(!window.is_empty());
    let (from, to) = (day.to_rfc3339(), next.to_rfc3339());
    let printed = ok(&cli(&store, &["predictions", "--from", &from, "--to", &to]));
    let mut ids: Vec<String> = printed
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["request_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut want: Vec<String> = window.iter().map(|r| r.request_id.clone()).collect();
    ids.sort();
    want.sort();
    assert_eq!(ids, want);
    let all = predictions
        .read_window(
            day - chrono::TimeDelta::days(3650),
            next + chrono::TimeDelta::days(3650),
        )
        .await
        .unwrap();
    assert!(all.len() > window.len());
    assert_eq!(
        ok(&cli(&store, &["predictions", "--count"])).trim(),
        all.len().to_string()
    );
    let one = ok(&cli(&store, &["predictions", "--request-id", &request_id]));
    let one: PredictionRecord = serde_json::from_str(&one).unwrap();
    assert_eq!(
        (one.at, one.model_version),
        (served.at, served.model_version)
    );

    // Each registry change of the run was recorded once (by the registry, in the change's
    // transaction, in the run's trace), never twice.
    let records = audit.query(&AuditQuery::default()).await.unwrap();
    for mv in registry.list_versions("credit").await.unwrap() {
        let vref = format!("credit/{}", mv.version);
        let regs: Vec<_> = records
            .iter()
            .filter(|r| r.entry.action == "version.registered" && r.entry.subjects[0] == vref)
            .collect();
        assert_eq!(regs.len(), 1, "{vref} registered once");
        let trace = &regs[0].entry.trace_id;
        assert!(
            records.iter().any(|r| r.entry.action == "training.started"
                && &r.entry.trace_id == trace
                && r.seq < regs[0].seq),
            "{vref}'s registration is in the trace of its training run"
        );
    }
    let moves = records
        .iter()
        .filter(|r| r.entry.action == "alias.moved")
        .count();
    assert_eq!(
        moves,
        registry.alias_history("credit", None).await.unwrap().len(),
        "one record per alias move"
    );

    assert_eq!(l.request_id, request_id);
    assert_eq!(l.version.model_name, served.model_name);
    assert_eq!(l.version.version, served.model_version);
    let registered = registry
        .get_version(&served.model_name, served.model_version)
        .await
        .unwrap();
    let lineage_ids: Vec<&str> = registered
        .lineage
        .training_datasets
        .iter()
        .map(|d| d.0.as_str())
        .collect();
    assert!(!l.version.training_datasets.is_empty());
    for d in &l.version.training_datasets {
        assert!(
            lineage_ids.contains(&d.id.as_str()),
            "{} not in the registry lineage",
            d.id
        );
        assert!(
            d.source.is_some(),
            "dataset {} has no recorded source",
            d.id
        );
        assert!(d.rows.unwrap_or(0) > 0);
        assert_eq!(d.hash, d.id);
    }
    let holdout = l.version.validation_dataset.as_ref().unwrap();
    assert_eq!(
        Some(holdout.id.as_str()),
        registered
            .lineage
            .validation_dataset
            .as_ref()
            .map(|d| d.0.as_str())
    );
    assert_eq!(holdout.role.as_deref(), Some("holdout"));
    let approval = l.version.approval.as_ref().unwrap();
    assert_eq!(approval.status, "approved");
    assert!(!approval.reason.is_empty());
    assert!(l.version.validation.as_ref().unwrap().passed == Some(true));
    assert!(
        l.serving_aliases
            .iter()
            .any(|i| i.alias == "production" && i.contains(served.at)),
        "the production alias pointed at the answering version when it answered"
    );
    assert!(l.deployment.as_ref().is_some_and(|d| d.contains(served.at)));

    // Version 1 served first and was replaced: a closed alias interval and deployment.
    let v1 = q.version("credit/1").await.unwrap();
    assert!(v1.alias_intervals.iter().any(|i| i.to.is_some()));
    assert!(v1.deployments.iter().any(|d| {
        d.stop_reason
            .as_deref()
            .is_some_and(|r| r.contains("replaced"))
    }));
    // The dataset view finds the version through its training data.
    let source_id = &l.version.training_datasets[0].id;
    let ds = q.dataset(&source_id[..10]).await.unwrap();
    assert_eq!(&ds.dataset.id, source_id);
    assert!(
        ds.used_by
            .iter()
            .any(|u| u.version == served.model_version && u.role == "training")
    );
    assert_eq!(ds.derived.len(), 2, "train and holdout splits");

    // Exports.
    let records: Vec<AuditRecord> = audit.query(&AuditQuery::default()).await.unwrap();
    let events = run_events(&records, "mlcycle");
    let model_out = format!("models/credit/{}", served.model_version);
    assert!(events.iter().any(|e| {
        serde_json::to_value(e).unwrap()["eventType"] == "COMPLETE"
            && e.job.name == "credit.train"
            && e.outputs.iter().any(|o| o.name == model_out)
            && e.inputs
                .iter()
                .any(|i| i.name == format!("datasets/{source_id}"))
    }));

    // ----- The command line, on the same store -----
    let out = ok(&cli(
        &store,
        &["lineage", "prediction", &request_id, "--format", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"]["version"], served.model_version);
    assert_eq!(
        v["version"]["training_datasets"][0]["id"],
        source_id.as_str()
    );
    let text = ok(&cli(&store, &["lineage", "prediction", &request_id]));
    assert!(
        text.contains(source_id.as_str()) && text.contains("approved"),
        "{text}"
    );
    let text = ok(&cli(&store, &["lineage", "version", "credit@production"]));
    assert!(
        text.contains(&format!("credit/{}", served.model_version)),
        "{text}"
    );
    let out = ok(&cli(
        &store,
        &["lineage", "dataset", &source_id[..12], "--format", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dataset"]["id"], source_id.as_str());

    let text = ok(&cli(&store, &["audit", "verify"]));
    assert!(text.starts_with("audit chain OK"), "{text}");
    let out = ok(&cli(
        &store,
        &[
            "audit",
            "log",
            "--action",
            "alias.moved",
            "--format",
            "json",
        ],
    ));
    let moved: Vec<AuditRecord> = serde_json::from_str(&out).unwrap();
    assert!(moved.len() >= 2 && moved.iter().all(|r| r.entry.action == "alias.moved"));
    let out = ok(&cli(
        &store,
        &[
            "audit",
            "log",
            "--subject",
            "credit/1",
            "--since",
            "2026-03-01",
        ],
    ));
    assert!(out.lines().count() >= 3 && out.lines().all(|l| l.contains("credit/1")));
    let out = ok(&cli(&store, &["audit", "export", "--format", "jsonl"]));
    let exported: Vec<AuditRecord> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verify_chain(&exported).unwrap(), records.len() as u64);
    let out = ok(&cli(
        &store,
        &["audit", "export", "--format", "openlineage"],
    ));
    for line in out.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in [
            "eventType",
            "eventTime",
            "run",
            "job",
            "inputs",
            "outputs",
            "producer",
            "schemaURL",
        ] {
            assert!(e.get(field).is_some(), "{field} missing in {line}");
        }
        assert!(uuid::Uuid::parse_str(e["run"]["runId"].as_str().unwrap()).is_ok());
        assert!(["START", "COMPLETE"].contains(&e["eventType"].as_str().unwrap()));
    }

    // Checkpoint with a key, then verify with it.
    let key_file = dir.path().join("audit.key");
    std::fs::write(&key_file, "a-key-of-at-least-16-bytes\n").unwrap();
    let key_arg = key_file.to_str().unwrap();
    let out = ok(&cli(
        &store,
        &[
            "audit",
            "checkpoint",
            "--key-file",
            key_arg,
            "--format",
            "json",
        ],
    ));
    let trusted = dir.path().join("trusted.json");
    std::fs::write(&trusted, &out).unwrap();
    let text = ok(&cli(
        &store,
        &[
            "audit",
            "verify",
            "--key-file",
            key_arg,
            "--trusted",
            trusted.to_str().unwrap(),
        ],
    ));
    assert!(text.contains("signatures verified"), "{text}");

    // Errors: one line, non-zero exit.
    let bad = cli(&store, &["lineage", "prediction", "no-such-request"]);
    assert!(!bad.status.success());
    let err = String::from_utf8(bad.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-request"));
    let missing = cli(&dir.path().join("nowhere"), &["audit", "verify"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8(missing.stderr).unwrap().contains("store"));

    // Tamper with one record through the database file: verify fails and names it.
    let raw = rusqlite::Connection::open(store.join("mlcycle.db")).unwrap();
    raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5", [])
        .unwrap();
    let broken = cli(&store, &["audit", "verify", "--format", "json"]);
    assert!(!broken.status.success());
    let v: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["seq"], 5);
    let err = String::from_utf8(cli(&store, &["audit", "verify"]).stderr).unwrap();
    assert!(
        err.starts_with("error: audit chain broken at record 5"),
        "{err}"
    );
}

#[tokio::test]
async fn undeploying_is_recorded_and_closes_the_deployment() {
    let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
    let data = CreditDefault::new(3)
        .sample(1_500, &DriftSpec::none(), 0)
        .unwrap();
    stack
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap();
    let stopped = stack
        .lifecycle
        .undeploy("ann", "end of season")
        .await
        .unwrap();
    assert_eq!(stopped.map(|d| d.version), Some(1));
    let q = LineageQuery::new(
        stack.audit.as_ref(),
        stack.registry.as_ref(),
        stack.prediction_log.as_ref(),
    );
    let v = q.version("credit/1").await.unwrap();
    assert_eq!(v.deployments.len(), 1);
    assert!(v.deployments[0].stopped.is_some());
    assert_eq!(
        v.deployments[0].stop_reason.as_deref(),
        Some("end of season")
    );
    let rec = stack
        .audit
        .query(&AuditQuery {
            action: Some("deployment.stopped".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].entry.actor, "ann");
    assert_eq!(stack.audit.verify().await.unwrap(), rec[0].seq);
}
