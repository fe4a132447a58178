//! The operate loop with real processes: `mlcycle run --approval manual --webhook URL` on a
//! training-data directory. A new file becomes a pending version and an `approval_needed`
//! alert whose signed webhook verifies at a local receiver and names the owner; SIGKILL and a
//! restart neither train again nor lose the pending approval; `mlcycle approve` from another
//! process is released by the running controller (the `production` alias moves) and a
//! `released` alert follows.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use mlcycle::clock::SystemClock;
use mlcycle::data::write_csv;
use mlcycle::registry::{Registry, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_mlcycle");
/// The longest a test waits for one event (a bound on a hang, not a timing assumption).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);
const SECRET: &str = "shared-webhook-secret";

/// (headers, raw body) of each webhook delivery.
type Delivery = (HeaderMap, Vec<u8>);

async fn hook(
    State(tx): State<Arc<Mutex<Sender<Delivery>>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let _ = tx.lock().unwrap().send((headers, body.to_vec()));
    StatusCode::OK
}

async fn receiver() -> (String, Receiver<Delivery>) {
    let (tx, rx) = channel();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(Arc::new(Mutex::new(tx)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// The next delivery of `kind`, its signature checked against the raw body.
fn next_alert(rx: &Receiver<Delivery>, kind: &str) -> serde_json::Value {
    loop {
        let (headers, body) = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no `{kind}` webhook arrived: {e}"));
        let sig = headers["x-mlcycle-signature"].to_str().unwrap();
        assert_eq!(sig, format!("sha256={}", hmac_hex(SECRET, &body)));
        assert_ne!(sig, format!("sha256={}", hmac_hex("another secret", &body)));
        assert!(
            uuid::Uuid::parse_str(headers["x-mlcycle-delivery"].to_str().unwrap()).is_ok(),
            "{headers:?}"
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if v["kind"] == kind {
            return v;
        }
    }
}

fn write_file(dir: &Path, name: &str, stream: u64) {
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::days(stream as i64);
    let d = CreditDefault::new(11)
        .sample_between(1_500, &DriftSpec::none(), stream, start, Duration::days(1))
        .unwrap();
    let tmp = dir.join(format!(".{name}.part"));
    write_csv(&d, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

struct Run {
    child: Child,
    lines: Receiver<serde_json::Value>,
    log: std::path::PathBuf,
}

fn spawn(store: &Path, data: &Path, hook: &str) -> Run {
    let log = store.join(format!("run-{}.log", uuid::Uuid::new_v4()));
    let mut child = Command::new(BIN)
        .args(["run", "--store"])
        .arg(store)
        .args(["--model", "credit", "--training-data"])
        .arg(data)
        .args(["--target", "default", "--every", "1h", "--poll", "1s"])
        .args(["--approval", "manual", "--webhook", hook])
        .args(["--owner", "ann@example.com", "--format", "json"])
        .env("MLCYCLE_WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (tx, rx) = channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("not a JSON line: {line}");
            };
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
    /// The next line of `kind`.
    fn next(&self, kind: &str) -> serde_json::Value {
        loop {
            let v = self.lines.recv_timeout(PATIENCE).unwrap_or_else(|e| {
                panic!(
                    "mlcycle run printed no `{kind}` line ({e}); its stderr:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )
            });
            if v["kind"] == kind {
                return v;
            }
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

fn cli(args: &[&str], store: &Path) -> std::process::Output {
    let out = Command::new(BIN)
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlcycle {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_approval_from_another_process_releases_and_webhooks_are_signed() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (url, hooks) = receiver().await;
    write_file(data.path(), "2026-03-01.csv", 0);

    let run = spawn(store.path(), data.path(), &url);
    let trained = run.next("train");
    assert_eq!(trained["decision"], "awaiting_approval", "{trained}");
    assert_eq!(trained["version"], 1, "{trained}");
    let needed = next_alert(&hooks, "approval_needed");
    assert_eq!(needed["model"], "credit");
    assert_eq!(needed["version"], 1);
    assert_eq!(needed["owner"], "ann@example.com");
    for key in ["id", "severity", "at", "summary", "details"] {
        assert!(needed.get(key).is_some(), "no `{key}` in {needed}");
    }

    // Killed and restarted: the version is neither trained again nor is its approval lost.
    run.kill();
    let run = spawn(store.path(), data.path(), &url);
    let pending = cli(
        &["pending", "--model", "credit", "--format", "json"],
        store.path(),
    );
    let rows: serde_json::Value = serde_json::from_slice(&pending.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["version"], 1);
    let registry = SqliteRegistry::open(store.path(), Arc::new(SystemClock)).unwrap();
    assert_eq!(registry.list_versions("credit").await.unwrap().len(), 1);
    assert_eq!(
        registry.get_alias("credit", "production").await.unwrap(),
        None
    );

    // Approved from another process: the running controller releases it.
    cli(
        &[
            "approve", "credit@1", "--by", "alice", "--reason", "reviewed",
        ],
        store.path(),
    );
    let applied = run.next("approval");
    assert_eq!(applied["decision"], "promoted", "{applied}");
    assert_eq!(applied["version"], 1, "{applied}");
    let released = next_alert(&hooks, "released");
    assert_eq!(released["version"], 1);
    assert_eq!(released["owner"], "ann@example.com");
    let registry = SqliteRegistry::open(store.path(), Arc::new(SystemClock)).unwrap();
    assert_eq!(
        registry.get_alias("credit", "production").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        registry.get_owner("credit").await.unwrap().as_deref(),
        Some("ann@example.com")
    );
    assert!(run.terminate().success());
}
