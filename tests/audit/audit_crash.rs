//! A process killed (SIGKILL) while appending leaves a valid chain: the last record is
//! complete or absent, the head and the automatic checkpoints in step with it.
//!
//! The test binary runs itself as the appending child (selected by an environment
//! variable); the parent reads the child's progress lines and kills it after a varying
//! number of appends, while it goes on appending.

use mlcycle::audit::{
    AuditEntry, AuditLog, CheckpointKey, CheckpointPolicy, SqliteAuditLog, VerifyOptions,
};
use mlcycle::clock::SystemClock;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

const CHILD_STORE: &str = "MLCYCLE_TEST_AUDIT_APPENDER_STORE";
const EVERY: u64 = 5;

fn key() -> CheckpointKey {
    CheckpointKey::new(b"crash-test-key-0123456789").unwrap()
}

fn open(dir: &std::path::Path) -> SqliteAuditLog {
    SqliteAuditLog::open(dir, Arc::new(SystemClock))
        .unwrap()
        .with_checkpoints(CheckpointPolicy::new(key(), EVERY).unwrap())
}

/// The child: appends until killed, printing each sequence number. Does nothing when run
/// as an ordinary test.
#[test]
fn appender_child() {
    let Some(dir) = std::env::var_os(CHILD_STORE) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let log = open(std::path::Path::new(&dir));
        let mut out = std::io::stdout();
        for i in 0u64.. {
            let r = log
                .append(AuditEntry {
                    actor: "appender".into(),
                    action: "test.appended".into(),
                    subjects: vec![format!("s{i}")],
                    payload: serde_json::json!({ "i": i, "pad": "x".repeat((i % 7) as usize * 100) }),
                    trace_id: format!("pid-{}", std::process::id()),
                })
                .await
                .unwrap();
            writeln!(out, "appended {}", r.seq).unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn killed_appenders_leave_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = VerifyOptions {
        key: Some(key()),
        expect_every: Some(EVERY),
        trusted: None,
    };
    let mut total = 0;
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "audit_crash::appender_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_STORE, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let want = 1 + (round * 5) % 11;
        let mut last = 0;
        {
            let lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let mut seen = 0;
            for line in lines {
                let line = line.unwrap();
                if let Some(seq) = line.strip_prefix("appended ") {
                    last = seq.trim().parse::<u64>().unwrap();
                    seen += 1;
                    if seen >= want {
                        break;
                    }
                }
            }
        }
        // The child is still appending: kill it mid-flight.
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(last > total, "round {round}: the child appended nothing");

        let log = open(dir.path());
        let v = rt
            .block_on(log.verify_with(&opts))
            .unwrap_or_else(|e| panic!("round {round}: chain broken after a kill: {e}"));
        assert!(
            v.records >= last,
            "round {round}: record {last} was reported appended but is gone ({} stored)",
            v.records
        );
        assert_eq!(v.head.as_ref().map(|h| h.seq), Some(v.records));
        total = v.records;
    }
}

const REGISTRY_CHILD_STORE: &str = "MLCYCLE_TEST_AUDITED_REGISTRY_STORE";

/// The child: registers versions and moves an alias on a registry that records its
/// changes, until killed. Does nothing when run as an ordinary test.
#[test]
fn registry_changer_child() {
    use mlcycle::model::Model;
    use mlcycle::registry::{Change, Lineage, NewVersion, Registry, SqliteRegistry};
    let Some(dir) = std::env::var_os(REGISTRY_CHILD_STORE) else {
        return;
    };
    let data = mlcycle::testing::CreditDefault::new(3)
        .sample(200, &mlcycle::testing::DriftSpec::none(), 0)
        .unwrap();
    let params = mlcycle::train::LogisticParams::default().check().unwrap();
    let artifact = mlcycle::train::fit_logistic(&data, &params)
        .unwrap()
        .to_artifact()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let registry = SqliteRegistry::open_audited(
            std::path::Path::new(&dir),
            Arc::new(SystemClock),
            Some(CheckpointPolicy::new(key(), EVERY).unwrap()),
        )
        .unwrap();
        let mut out = std::io::stdout();
        for i in 0u64.. {
            let mv = mlcycle::audit::in_trace(
                format!("run-{i}"),
                registry.register(
                    "crash",
                    NewVersion {
                        artifact: artifact.clone(),
                        lineage: Lineage {
                            created_by: "changer".into(),
                            ..Lineage::default()
                        },
                        metrics: Default::default(),
                        tags: Default::default(),
                        description: String::new(),
                    },
                ),
            )
            .await
            .unwrap();
            registry
                .set_alias(
                    "crash",
                    "production",
                    mv.version,
                    Change::new("changer", "next"),
                )
                .await
                .unwrap();
            writeln!(out, "changed {}", mv.version).unwrap();
            out.flush().unwrap();
        }
    });
}

/// Killed mid-change, a registry that records its changes leaves every committed change
/// with its record and no record without its change.
#[test]
fn killed_audited_registry_keeps_changes_and_records_together() {
    use mlcycle::registry::{Registry, RegistryExt, SqliteRegistry};
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = VerifyOptions {
        key: Some(key()),
        expect_every: Some(EVERY),
        trusted: None,
    };
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "audit_crash::registry_changer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(REGISTRY_CHILD_STORE, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let want = 1 + (round * 3) % 5;
        let mut last = 0u32;
        {
            let mut seen = 0;
            for line in BufReader::new(child.stdout.take().unwrap()).lines() {
                if let Some(v) = line.unwrap().strip_prefix("changed ") {
                    last = v.trim().parse().unwrap();
                    seen += 1;
                    if seen >= want {
                        break;
                    }
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let registry = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
        let log = open(dir.path());
        rt.block_on(async {
            let v = log
                .verify_with(&opts)
                .await
                .unwrap_or_else(|e| panic!("round {round}: chain broken after a kill: {e}"));
            let records = log
                .query(&mlcycle::audit::AuditQuery::default())
                .await
                .unwrap();
            assert_eq!(records.len() as u64, v.records);
            let versions = registry.list_versions("crash").await.unwrap();
            assert!(
                versions.len() as u32 >= last,
                "round {round}: version {last} was reported but is gone"
            );
            let history = registry.alias_history("crash", None).await.unwrap();
            let count = |action: &str| records.iter().filter(|r| r.entry.action == action).count();
            assert_eq!(
                count("version.registered"),
                versions.len(),
                "round {round}: one record per stored version"
            );
            assert_eq!(
                count("alias.moved"),
                history.len(),
                "round {round}: one record per alias change"
            );
            for mv in &versions {
                let vref = format!("crash/{}", mv.version);
                assert!(
                    records
                        .iter()
                        .any(|r| r.entry.action == "version.registered"
                            && r.entry.subjects[0] == vref
                            && r.entry.payload["artifact_sha256"] == mv.artifact_sha256.as_str()),
                    "round {round}: {vref} has no registration record"
                );
            }
            let serving = registry.resolve("crash@production").await.unwrap();
            let last_move = records
                .iter()
                .rfind(|r| r.entry.action == "alias.moved")
                .unwrap();
            assert_eq!(last_move.entry.payload["to"], serving.version);
        });
    }
}
