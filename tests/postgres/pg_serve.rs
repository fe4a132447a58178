//! Stateless serving replicas: three `mlcycle serve` processes on one PostgreSQL database
//! follow the same alias, each writing its own prediction log; an alias move under traffic
//! is picked up by all of them with no failed request.

use crate::pg_support::TestDb;
use mlcycle::clock::SystemClock;
use mlcycle::collect::PredictionLog;
use mlcycle::registry::{Change, PostgresRegistry, Registry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::io::BufRead;
use std::sync::Arc;

/// An MLflow `dataframe_split` body of four credit rows.
fn body() -> String {
    let rows = CreditDefault::new(3)
        .sample(4, &DriftSpec::none(), 9)
        .unwrap();
    mlcycle::testing::mlflow_split(&rows, 4).to_string()
}

struct Replica {
    child: std::process::Child,
    base: String,
    log_dir: tempfile::TempDir,
}

fn replica(url: &str) -> Replica {
    let log_dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["serve", "--store", url, "--log-dir"])
        .arg(log_dir.path())
        .args(["--model", "credit@production", "--addr", "127.0.0.1:0"])
        .args(["--poll-ms", "50"])
        .env_remove("MLCYCLE_HOME")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    // Keep reading stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    Replica {
        child,
        base,
        log_dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_follow_one_alias_with_no_failed_request() {
    let db = TestDb::create().await;
    let r = PostgresRegistry::connect_audited(db.url(), Arc::new(SystemClock), None)
        .await
        .unwrap();
    for v in 1..=2 {
        r.register("credit", crate::pg_processes::new_version(v))
            .await
            .unwrap();
    }
    r.set_alias("credit", "production", 1, Change::new("ann", "first"))
        .await
        .unwrap();
    let replicas: Vec<Replica> = (0..3).map(|_| replica(db.url())).collect();
    let client = reqwest::Client::new();
    let body = body();
    let ask = |base: &str| {
        let request = client
            .post(format!("{base}/invocations"))
            .header("content-type", "application/json")
            .body(body.clone());
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let version = r
                .headers()
                .get("x-model-version")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
                .to_string();
            let text = r.text().await.unwrap_or_default();
            assert_eq!(status, 200, "{text}");
            version
        }
    };
    for rep in &replicas {
        assert_eq!(ask(&rep.base).await, "1");
    }
    // Move the alias while every replica keeps answering: each picks the move up.
    r.set_alias("credit", "production", 2, Change::new("ann", "promote"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut moved = [false; 3];
    while !moved.iter().all(|m| *m) {
        for (i, rep) in replicas.iter().enumerate() {
            if ask(&rep.base).await == "2" {
                moved[i] = true;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every replica picked up the move: {moved:?}"
        );
    }
    // Once moved, a replica stays on the new version.
    for rep in &replicas {
        for _ in 0..20 {
            assert_eq!(ask(&rep.base).await, "2");
        }
    }
    let mut logs = Vec::new();
    for mut rep in replicas {
        // SIGTERM through kill(1): a clean stop flushes the prediction log.
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &rep.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        assert!(rep.child.wait().unwrap().success());
        let records = mlcycle::collect::FilePredictionLog::open(rep.log_dir.path())
            .unwrap()
            .read_window(
                chrono::Utc::now() - chrono::Duration::hours(1),
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .await
            .unwrap();
        logs.push(records.len());
    }
    assert!(
        logs.iter().all(|&n| n >= 22),
        "each replica logs its own requests: {logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_needs_a_log_directory_of_its_own() {
    let db = TestDb::create().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["serve", "--store", db.url(), "--model", "credit@production"])
        .env_remove("MLCYCLE_HOME")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-dir"), "{err}");
}
