//! `mlcycle models owner set` and `mlcycle alerts` through the real binary.

use mlcycle::alerts::{Alert, AlertDispatcher, AlertKind, ChannelSink, Severity, SqliteAlertStore};
use mlcycle::clock::SystemClock;
use mlcycle::model::Model;
use mlcycle::registry::{Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn mlcycle(store: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("MLCYCLE_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlcycle {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn store_with_a_model(dir: &Path) {
    let data = CreditDefault::new(3)
        .sample(300, &DriftSpec::none(), 0)
        .unwrap();
    let m = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let r = SqliteRegistry::open_audited(dir, Arc::new(SystemClock), None).unwrap();
    r.register(
        "credit",
        NewVersion {
            artifact: m.to_artifact().unwrap(),
            lineage: Lineage {
                trainer: "logistic".into(),
                created_by: "test".into(),
                ..Default::default()
            },
            metrics: Default::default(),
            tags: Default::default(),
            description: String::new(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_set_and_alerts_json_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    store_with_a_model(dir.path()).await;

    let out = mlcycle(
        dir.path(),
        &["models", "owner", "set", "credit", "ann@example.com"],
    );
    assert!(out.contains("ann@example.com"), "{out}");
    let list: serde_json::Value = serde_json::from_str(&mlcycle(
        dir.path(),
        &["models", "list", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(list[0]["owner"], "ann@example.com");
    let show: serde_json::Value = serde_json::from_str(&mlcycle(
        dir.path(),
        &["models", "show", "credit/1", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(show["owner"], "ann@example.com");
    assert_eq!(show["version"], 1);

    // The owner change is in the audit trail; a lifecycle's dispatcher names the owner.
    let registry =
        Arc::new(SqliteRegistry::open_audited(dir.path(), Arc::new(SystemClock), None).unwrap());
    let audit = registry.audit_log().unwrap();
    let owner_records = audit
        .query(&mlcycle::audit::AuditQuery {
            action: Some(mlcycle::audit::actions::OWNER_SET.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(owner_records.len(), 1);
    let (sink, _rx) = ChannelSink::new(8);
    let d = AlertDispatcher::new(Arc::new(SqliteAlertStore::open(dir.path()).unwrap()))
        .registry(registry.clone())
        .audit(audit)
        .sink(Arc::new(sink));
    let mut a = Alert::new(
        chrono::Utc::now(),
        Severity::Warning,
        AlertKind::Drift,
        "credit",
        "income drifted (PSI 0.31): investigate the source or retrain",
        "t1",
    );
    a.version = Some(1);
    d.raise(a.clone()).await.unwrap();

    let v: serde_json::Value = serde_json::from_str(&mlcycle(
        dir.path(),
        &["alerts", "--model", "credit", "--format", "json"],
    ))
    .unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], a.id.to_string());
    assert_eq!(rows[0]["kind"], "drift");
    assert_eq!(rows[0]["owner"], "ann@example.com");
    assert_eq!(rows[0]["status"], "delivered");
    assert_eq!(rows[0]["attempts"].as_array().unwrap().len(), 1);

    // Filters: another model, or a time after the alert, list nothing.
    let none: serde_json::Value = serde_json::from_str(&mlcycle(
        dir.path(),
        &["alerts", "--model", "fraud", "--format", "json"],
    ))
    .unwrap();
    assert!(none.as_array().unwrap().is_empty());
    let later = (a.at + chrono::Duration::seconds(1)).to_rfc3339();
    let none: serde_json::Value = serde_json::from_str(&mlcycle(
        dir.path(),
        &["alerts", "--since", &later, "--format", "json"],
    ))
    .unwrap();
    assert!(none.as_array().unwrap().is_empty());
    let text = mlcycle(dir.path(), &["alerts"]);
    assert!(
        text.contains("drift") && text.contains("delivered"),
        "{text}"
    );
}
