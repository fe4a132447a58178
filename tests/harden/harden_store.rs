//! A store that notices damage: an empty, missing or half-truncated database next to
//! artifacts is refused (never silently re-created), an audit trail emptied under its head
//! fails to open and to verify, and a full disk is said in words.

use mlcycle::audit::SqliteAuditLog;
use mlcycle::clock::SystemClock;
use mlcycle::registry::{DB_FILE, Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

async fn store_with_a_model(dir: &Path) {
    let data = CreditDefault::new(3)
        .sample(300, &DriftSpec::none(), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let reg = SqliteRegistry::open_audited(dir, Arc::new(SystemClock), None).unwrap();
    for _ in 0..3 {
        reg.register(
            "credit",
            NewVersion {
                artifact: mlcycle::model::Model::to_artifact(&model).unwrap(),
                lineage: Lineage::default(),
                metrics: Default::default(),
                tags: Default::default(),
                description: "x".repeat(20_000),
            },
        )
        .await
        .unwrap();
    }
    drop(reg);
    // Everything into the database file itself (the tests damage that file).
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
}

fn mlcycle(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .output()
        .unwrap()
}

#[track_caller]
fn refused(r: mlcycle::Result<impl std::fmt::Debug>, needles: &[&str]) {
    let e = r
        .expect_err("the store should have been refused")
        .to_string();
    for n in needles {
        assert!(e.contains(n), "`{e}` does not say `{n}`");
    }
}

#[tokio::test]
async fn an_empty_or_deleted_database_next_to_artifacts_is_refused_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    store_with_a_model(&store).await;
    let db = store.join(DB_FILE);
    let _ = std::fs::remove_file(store.join(format!("{DB_FILE}-wal")));
    let _ = std::fs::remove_file(store.join(format!("{DB_FILE}-shm")));
    std::fs::File::options()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(0)
        .unwrap();
    let clock = Arc::new(SystemClock);
    refused(
        SqliteRegistry::open(&store, clock.clone()),
        &[
            "is empty",
            "artifact file(s)",
            "restore mlcycle.db from a backup",
        ],
    );
    refused(SqliteAuditLog::open(&store, clock.clone()), &["is empty"]);
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "the database was re-created"
    );
    // The CLI says so too, and `audit verify` does not report an empty, valid log.
    let s = store.to_str().unwrap();
    let out = mlcycle(&["audit", "verify", "--store", s]);
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));

    std::fs::remove_file(&db).unwrap();
    refused(
        SqliteRegistry::open(&store, clock.clone()),
        &["is missing", "artifact file(s)"],
    );
    assert!(!db.exists(), "the database was re-created");
    let out = mlcycle(&[
        "serve",
        "--store",
        s,
        "--model",
        "credit@latest",
        "--addr",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is missing"));
    assert!(!db.exists(), "serve re-created the database");

    // A new store (nothing in it) is still created as before.
    SqliteRegistry::open(dir.path().join("new"), clock).unwrap();
}

#[tokio::test]
async fn a_half_truncated_database_reads_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    store_with_a_model(dir.path()).await;
    let db = dir.path().join(DB_FILE);
    let _ = std::fs::remove_file(dir.path().join(format!("{DB_FILE}-wal")));
    let _ = std::fs::remove_file(dir.path().join(format!("{DB_FILE}-shm")));
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 8_192, "{len}");
    std::fs::File::options()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    refused(
        SqliteRegistry::open(dir.path(), Arc::new(SystemClock)),
        &["corrupt", "restore mlcycle.db from a backup"],
    );
}

#[tokio::test]
async fn an_audit_trail_emptied_under_its_head_fails_to_open_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    store_with_a_model(dir.path()).await;
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let n: i64 = conn
        .query_row("SELECT seq FROM audit_head", [], |r| r.get(0))
        .unwrap();
    assert!(n > 0);
    conn.execute("DELETE FROM audit_log", []).unwrap();
    drop(conn);
    match SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)) {
        Err(mlcycle::Error::AuditBroken { seq, why }) => {
            assert_eq!(seq, 1);
            assert!(
                why.contains(&format!("records 1..={n} are missing")),
                "{why}"
            );
        }
        other => panic!("opened: {:?}", other.map(|_| ())),
    }
    let out = mlcycle(&["audit", "verify", "--store", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("OK"));
}

#[test]
fn a_full_disk_is_said_in_words() {
    for source in [
        std::io::Error::from(std::io::ErrorKind::StorageFull),
        #[cfg(target_os = "linux")]
        std::io::Error::from_raw_os_error(28),
    ] {
        let e = mlcycle::Error::io("/data/out.csv", source).to_string();
        assert!(
            e.contains("the disk holding /data/out.csv is full: free space and retry"),
            "{e}"
        );
    }
    let other = mlcycle::Error::io("/x", std::io::Error::from(std::io::ErrorKind::NotFound));
    assert!(!other.to_string().contains("full"));
}

#[tokio::test]
async fn tag_keys_and_values_are_validated_by_every_registry() {
    let dir = tempfile::tempdir().unwrap();
    store_with_a_model(dir.path()).await;
    let clock = Arc::new(SystemClock);
    let sqlite = SqliteRegistry::open(dir.path(), clock.clone()).unwrap();
    let memory = mlcycle::registry::InMemoryRegistry::new(clock);
    let data = CreditDefault::new(3)
        .sample(200, &DriftSpec::none(), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    use mlcycle::model::Model;
    let new = |k: &str, v: &str| NewVersion {
        artifact: model.to_artifact().unwrap(),
        lineage: Lineage::default(),
        metrics: Default::default(),
        tags: [(k.to_string(), v.to_string())].into(),
        description: String::new(),
    };
    memory
        .register("credit", new("team", "risk"))
        .await
        .unwrap();
    let long_value = "x".repeat(131_072);
    let long_key = "k".repeat(257);
    for reg in [&sqlite as &dyn Registry, &memory] {
        for (k, v, needle) in [
            ("../x", "1", "contains `..`"),
            ("a/b", "1", "'/' is not allowed"),
            ("a\u{1}", "1", "is not allowed in a tag key"),
            ("", "1", "it is empty"),
            (long_key.as_str(), "1", "the limit is 256"),
            ("note", long_value.as_str(), "the limit is 8192"),
            ("note", "a\u{0}b", "is not allowed in a tag value"),
        ] {
            let e = reg
                .set_tag("credit", 1, k, v)
                .await
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{k:?}: {e}");
            let e = reg
                .register("credit", new(k, v))
                .await
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "register {k:?}: {e}");
        }
        reg.set_tag("credit", 1, "owner.team", "risk\tanalytics")
            .await
            .unwrap();
        assert_eq!(
            reg.get_version("credit", 1).await.unwrap().tags["owner.team"],
            "risk\tanalytics"
        );
    }
}
