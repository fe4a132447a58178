//! `mlcycle models … --store postgres://…`: the command line on a PostgreSQL registry.

use crate::pg_support::TestDb;
use mlcycle::audit::{AuditQuery, actions};
use mlcycle::clock::SystemClock;
use mlcycle::registry::{Change, PostgresRegistry, Registry, VersionStatus};
use std::process::Command;
use std::sync::Arc;

fn mlcycle(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .env_remove("MLCYCLE_HOME")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_commands_work_on_a_postgres_store() {
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect_audited(db.url(), Arc::new(SystemClock), None)
        .await
        .unwrap();
    r.register("credit", crate::pg_processes::new_version(1))
        .await
        .unwrap();
    r.set_status(
        "credit",
        1,
        VersionStatus::Approved,
        Change::new("ann", "ok"),
    )
    .await
    .unwrap();

    let (ok, out, err) = mlcycle(&["models", "list", "--store", db.url(), "--format", "json"]);
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["name"], "credit");
    assert_eq!(rows[0]["versions"], 1);

    let (ok, _, err) = mlcycle(&[
        "models",
        "alias",
        "set",
        "credit",
        "production",
        "1",
        "--reason",
        "first",
        "--actor",
        "bob",
        "--store",
        db.url(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(r.get_alias("credit", "production").await.unwrap(), Some(1));
    // The move is in the database's audit trail, by the command's actor.
    let moves = r
        .audit_log()
        .unwrap()
        .query(&AuditQuery {
            action: Some(actions::ALIAS_MOVED.to_string()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].entry.actor, "bob");

    // An unknown model is an error naming it, not a crash.
    let (ok, _, err) = mlcycle(&["models", "versions", "nope", "--store", db.url()]);
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");
}
