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
                "appender_child",
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
