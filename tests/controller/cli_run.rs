//! `mlcycle run` as a real process: a new file in `--training-data` produces a new version;
//! SIGKILL at several moments and a restart neither repeat a training nor skip a file; a
//! second controller on the same store is refused.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::clock::SystemClock;
use mlcycle::data::write_csv;
use mlcycle::registry::{Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

const BIN: &str = env!("CARGO_BIN_EXE_mlcycle");
/// The longest a test waits for one line (a bound on a hang, not a timing assumption).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

pub(crate) fn write_file(dir: &Path, name: &str, stream: u64) {
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::days(stream as i64);
    let d = CreditDefault::new(11)
        .sample_between(1_500, &DriftSpec::none(), stream, start, Duration::days(1))
        .unwrap();
    // Written under another name and renamed, so the controller never reads half a file.
    let tmp = dir.join(format!(".{name}.part"));
    write_csv(&d, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

pub(crate) struct Run {
    child: Child,
    lines: Receiver<serde_json::Value>,
    pub(crate) log: std::path::PathBuf,
}

fn spawn(store: &Path, data: &Path) -> Run {
    spawn_with(store, data, &[])
}

/// `mlcycle run` on `store` training on `data`, hourly windows, polling every second, with
/// `extra` flags; its JSON lines arrive on a channel.
pub(crate) fn spawn_with(store: &Path, data: &Path, extra: &[&str]) -> Run {
    let log = store.join(format!("run-{}.log", uuid::Uuid::new_v4()));
    let mut child = Command::new(BIN)
        .args(["run", "--store"])
        .arg(store)
        .args(["--model", "credit", "--training-data"])
        .arg(data)
        .args([
            "--target", "default", "--every", "1h", "--poll", "1s", "--format", "json",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (tx, rx) = channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line: {line}: {e}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    Run {
        child,
        lines: rx,
        log,
    }
}

impl Run {
    pub(crate) fn next(&self) -> serde_json::Value {
        self.lines.recv_timeout(PATIENCE).unwrap_or_else(|e| {
            panic!(
                "mlcycle run printed no line ({e}); its stderr:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        })
    }

    /// The next line reporting a training.
    pub(crate) fn next_training(&self) -> serde_json::Value {
        loop {
            let v = self.next();
            if v["kind"] == "train" {
                return v;
            }
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap(); // reaped: its lease is free
    }

    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        sigterm(&self.child);
        self.child.wait().unwrap()
    }
}

async fn versions(store: &Path) -> Vec<(u32, String)> {
    let r = SqliteRegistry::open(store, Arc::new(SystemClock)).unwrap();
    r.list_versions("credit")
        .await
        .unwrap()
        .into_iter()
        .map(|v| {
            (
                v.version,
                v.tags.get("dataset_version").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_new_file_in_the_training_data_directory_becomes_a_new_version() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write_file(data.path(), "2026-03-01.csv", 0);
    let run = spawn(store.path(), data.path());
    let first = run.next_training();
    assert_eq!(first["decision"], "promoted", "{first}");
    assert_eq!(first["version"], 1, "{first}");
    write_file(data.path(), "2026-03-02.csv", 1);
    let second = run.next_training();
    assert_eq!(second["version"], 2, "{second}");
    assert!(
        second["summary"]
            .as_str()
            .unwrap()
            .contains("2026-03-02.csv"),
        "{second}"
    );
    // A second controller of the same model on the same store is refused.
    let other = Command::new(BIN)
        .args(["run", "--store"])
        .arg(store.path())
        .args(["--model", "credit", "--every", "1h"])
        .output()
        .unwrap();
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("another controller"), "{err}");
    let status = run.terminate();
    assert!(status.success(), "SIGTERM stops it cleanly: {status}");
    let v = versions(store.path()).await;
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].1.starts_with("2026-03-01.csv:"), "{v:?}");
    assert!(v[1].1.starts_with("2026-03-02.csv:"), "{v:?}");
}

#[tokio::test]
async fn sigkill_and_restart_neither_repeat_nor_skip_a_training() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write_file(data.path(), "a.csv", 0);
    write_file(data.path(), "b.csv", 1);
    // Killed at once (before, during or after its first training) ...
    spawn(store.path(), data.path()).kill();
    // ... then twice right after it reports a training (maybe mid-way through the next);
    // a new file before each start leaves every run something to train.
    for (i, f) in ["c.csv", "d.csv"].iter().enumerate() {
        write_file(data.path(), f, 2 + i as u64);
        let run = spawn(store.path(), data.path());
        run.next_training();
        run.kill();
    }
    // Restarted: it finishes what is left, and trains a file dropped in while it runs.
    let run = spawn(store.path(), data.path());
    let log = run.log.clone();
    let status = {
        write_file(data.path(), "e.csv", 9);
        loop {
            let v = run.next();
            if v["kind"] == "train" && v["summary"].as_str().unwrap().contains("e.csv") {
                break;
            }
        }
        run.terminate()
    };
    assert!(
        status.success(),
        "{status:?}; stderr:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let v = versions(store.path()).await;
    let mut tags: Vec<&str> = v
        .iter()
        .map(|(_, t)| t.split(':').next().unwrap())
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        vec!["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"],
        "each file trained exactly once: {v:?}"
    );
}

/// Send SIGTERM to `child` (a process this test started and has not reaped).
pub(crate) fn sigterm(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0, "SIGTERM to {}", child.id());
}
