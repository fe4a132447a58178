//! `mlcycle models ...` end to end, against a store written by the library.

use crate::registry_support;

use mlcycle::clock::SystemClock;
use mlcycle::registry::{Change, Registry, SqliteRegistry, VersionStatus};
use registry_support::new_version;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

fn mlcycle(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .arg("models")
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("MLCYCLE_HOME")
        .output()
        .unwrap()
}

fn ok(store: &Path, args: &[&str]) -> String {
    let out = mlcycle(store, args);
    assert!(
        out.status.success(),
        "mlcycle models {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(store: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_str(&ok(store, &a)).unwrap()
}

/// Fails with exactly one line on stderr, containing `needle`.
fn fails(store: &Path, args: &[&str], needle: &str) {
    let out = mlcycle(store, args);
    assert!(!out.status.success(), "mlcycle models {args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

async fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    for v in 1..=3 {
        r.register("churn", new_version(v, 0.7 + v as f64 / 100.0))
            .await
            .unwrap();
    }
    r.register("alpha", new_version(10, 0.5)).await.unwrap();
    r.set_alias("churn", "production", 2, Change::new("lib", "launch"))
        .await
        .unwrap();
    r.set_status(
        "churn",
        2,
        VersionStatus::Approved,
        Change::new("lib", "ok"),
    )
    .await
    .unwrap();
    // Leave an orphan artifact, as an interrupted registration would.
    mlcycle::registry::artifacts::ArtifactStore::open(dir.path().join("artifacts"))
        .unwrap()
        .put(b"orphan")
        .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_a_store() {
    let dir = store().await;
    let d = dir.path();
    let list = ok(d, &["list"]);
    assert!(list.contains("churn"), "{list}");
    assert!(list.contains("production->2"), "{list}");
    let l = json(d, &["list"]);
    assert_eq!(l[0]["name"], "alpha");
    assert_eq!(l[1]["versions"], 3);
    assert_eq!(l[1]["latest"], 3);

    let versions = ok(d, &["versions", "churn"]);
    assert_eq!(versions.lines().count(), 4, "{versions}");
    assert!(versions.contains("approved"), "{versions}");
    let v = json(d, &["versions", "churn"]);
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[1]["aliases"][0], "production");

    for r in [
        "churn@production",
        "churn/2",
        "models:/churn@production",
        "models:/churn/2",
    ] {
        let s = json(d, &["show", r]);
        assert_eq!(s["version"], 2, "{r}");
        assert_eq!(s["status"], "approved");
        assert_eq!(s["lineage"]["trainer"], "logistic");
    }
    assert_eq!(json(d, &["show", "churn@latest"])["version"], 3);
    let text = ok(d, &["show", "churn@production"]);
    assert!(text.contains("version:     2"), "{text}");
    assert!(text.contains("aliases:     production"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_a_store() {
    let dir = store().await;
    let d = dir.path();
    let set = ok(
        d,
        &[
            "alias",
            "set",
            "churn",
            "production",
            "3",
            "--reason",
            "better",
            "--actor",
            "ann",
            "--force",
        ],
    );
    assert!(
        set.contains("churn@production  2 -> 3  by ann: better"),
        "{set}"
    );
    ok(d, &["alias", "set", "churn", "staging", "1", "--force"]);
    let del = json(
        d,
        &["alias", "delete", "churn", "staging", "--reason", "done"],
    );
    assert_eq!(del["previous"], 1);
    assert!(del["version"].is_null());
    let h = json(d, &["alias", "history", "churn"]);
    assert_eq!(h.as_array().unwrap().len(), 4);
    let h = json(d, &["alias", "history", "churn", "production"]);
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(h[1]["change"]["actor"], "ann");
    let text = ok(d, &["alias", "history", "churn", "production"]);
    assert_eq!(text.lines().count(), 2, "{text}");

    let t = json(d, &["tag", "churn@production", "reviewed", "yes"]);
    assert_eq!(t["version"], 3);
    assert_eq!(t["tags"]["reviewed"], "yes");
    let s = ok(
        d,
        &[
            "status",
            "churn/3",
            "approved",
            "--reason",
            "metrics ok",
            "--actor",
            "bob",
        ],
    );
    assert_eq!(s.trim(), "churn/3: approved (by bob: metrics ok)");

    let gc = json(d, &["gc"]);
    assert_eq!(gc.as_array().unwrap().len(), 1, "the orphan is collected");
    assert_eq!(
        ok(d, &["gc"]).trim(),
        "removed 0 unreferenced artifact file(s)"
    );

    // The library sees what the command line did.
    let r = SqliteRegistry::open(d, Arc::new(SystemClock)).unwrap();
    assert_eq!(r.get_alias("churn", "production").await.unwrap(), Some(3));
    let mv = r.get_version("churn", 3).await.unwrap();
    assert_eq!(mv.status, VersionStatus::Approved);
    assert_eq!(mv.tags["reviewed"], "yes");
    let sh = r.status_history("churn", Some(3)).await.unwrap();
    assert_eq!(sh.last().unwrap().change, Change::new("bob", "metrics ok"));

    // Every change made on the command line is in the store's audit trail, with its actor.
    let log = mlcycle::audit::SqliteAuditLog::open(d, Arc::new(SystemClock)).unwrap();
    let records = mlcycle::audit::AuditLog::query(&log, &Default::default())
        .await
        .unwrap();
    let seen: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r.entry.action.as_str(),
                r.entry.actor.as_str(),
                r.entry.subjects[0].as_str(),
            )
        })
        .collect();
    assert_eq!(seen[0], ("alias.moved", "ann", "churn/3"));
    assert_eq!(seen[1].0, "alias.moved");
    assert_eq!(seen[2].0, "alias.deleted");
    assert_eq!(seen[3], ("version.tagged", "cli", "churn/3"));
    assert_eq!(records[3].entry.payload["key"], "reviewed");
    assert_eq!(seen[4], ("version.status_changed", "bob", "churn/3"));
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(records[0].entry.payload["from"], 2);
    assert_eq!(mlcycle::audit::AuditLog::verify(&log).await.unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_clear_line() {
    let dir = store().await;
    let d = dir.path();
    fails(d, &["versions", "nope"], "model `nope` not found");
    fails(d, &["show", "nope@production"], "model `nope` not found");
    fails(d, &["show", "churn/9"], "version `churn/9` not found");
    fails(
        d,
        &["show", "churn@canary"],
        "alias `churn@canary` not found",
    );
    fails(d, &["show", "bad name!"], "invalid model name");
    fails(d, &["versions", "../etc"], "not found");
    fails(d, &["alias", "set", "churn", "latest", "1"], "reserved");
    fails(d, &["alias", "set", "churn", "v2", "1"], "reserved");
    fails(d, &["alias", "set", "churn", "prod", "9"], "not found");
    fails(
        d,
        &["alias", "delete", "churn", "nope"],
        "alias `churn@nope` not found",
    );
    fails(
        d,
        &["status", "churn/1", "shipped", "--reason", "x"],
        "not one of pending_approval",
    );
    fails(d, &["tag", "churn/1", "", "v"], "tag key");
    let missing = d.join("no-such-store");
    fails(&missing, &["list"], "store");
    assert!(!missing.exists(), "a read must not create a store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_defaults_to_mlcycle_home() {
    let dir = store().await;
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["models", "list"])
        .env("MLCYCLE_HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("churn"));
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["models", "list"])
        .env_remove("MLCYCLE_HOME")
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("mlcycle-store")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_moves_to_an_unapproved_version_only_with_force() {
    let dir = store().await;
    let d = dir.path();
    // Version 3 is pending_approval: refused, naming the command, the status and --force.
    fails(
        d,
        &["alias", "set", "churn", "production", "3"],
        "mlcycle models alias set",
    );
    let out = mlcycle(d, &["alias", "set", "churn", "production", "3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pending_approval") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(json(d, &["show", "churn@production"])["version"], 2);
    // Rejected and archived versions too.
    for (v, status) in [(1, VersionStatus::Rejected), (3, VersionStatus::Archived)] {
        let r = SqliteRegistry::open(d, Arc::new(SystemClock)).unwrap();
        r.set_status("churn", v, status, Change::new("lib", "no"))
            .await
            .unwrap();
        drop(r);
        let v = v.to_string();
        fails(
            d,
            &["alias", "set", "churn", "production", &v],
            status.as_str(),
        );
    }
    // With --force it moves, and the history and audit trail keep who forced it and why.
    let set = ok(
        d,
        &[
            "alias",
            "set",
            "churn",
            "production",
            "3",
            "--force",
            "--actor",
            "ann",
            "--reason",
            "hotfix",
        ],
    );
    assert!(
        set.contains("by ann: hotfix (forced to a archived version)"),
        "{set}"
    );
    let audit = mlcycle::audit::SqliteAuditLog::open(d, Arc::new(SystemClock)).unwrap();
    let records = mlcycle::audit::AuditLog::query(&audit, &Default::default())
        .await
        .unwrap();
    let moved = records
        .iter()
        .rev()
        .find(|r| r.entry.action == "alias.moved")
        .expect("an alias record");
    assert_eq!(moved.entry.actor, "ann");
    assert!(
        moved.entry.payload.to_string().contains("forced"),
        "{moved:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_alias_names_the_command_that_sets_it() {
    let dir = store().await;
    fails(
        dir.path(),
        &["show", "churn@staging"],
        "mlcycle models alias set churn staging VERSION",
    );
}
