//! `mlcycle serve` as a user runs it: the store from `MLCYCLE_HOME`, deployment records in
//! the audit trail at start and on every swap, and a v2 body id found by the other commands.

use crate::http_support::*;
use mlcycle::audit::{AuditLog, AuditQuery, SqliteAuditLog};
use mlcycle::clock::SystemClock;
use mlcycle::model::Model;
use mlcycle::registry::{Change, Lineage, NewVersion, Registry, SqliteRegistry};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

fn mlcycle(home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .env("MLCYCLE_HOME", home)
        .output()
        .unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn serve_reads_mlcycle_home_and_audits_each_deployment() {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry = SqliteRegistry::open(dir.path(), clock()).unwrap();
        for (seed, l2) in [(1, 0.1), (2, 1.0)] {
            registry
                .register(
                    "credit",
                    NewVersion {
                        artifact: train(seed, l2).1.to_artifact().unwrap(),
                        lineage: Lineage::default(),
                        metrics: BTreeMap::new(),
                        tags: BTreeMap::new(),
                        description: String::new(),
                    },
                )
                .await
                .unwrap();
        }
        registry
            .set_alias("credit", "production", 1, Change::new("test", "first"))
            .await
            .unwrap();
    }
    // No --store: MLCYCLE_HOME names the store.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args([
            "serve",
            "--model",
            "credit@production",
            "--addr",
            "127.0.0.1:0",
        ])
        .args(["--poll-ms", "20"])
        .env("MLCYCLE_HOME", dir.path())
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
    let data = train(1, 0.1).0;
    let mut req = v2_columns(&data, 2);
    req["id"] = json!("oip-body-1");
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/v2/models/credit/infer"))
        .body(req.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(r.headers(), "x-request-id"), "oip-body-1");
    {
        let registry = SqliteRegistry::open(dir.path(), clock()).unwrap();
        registry
            .set_alias("credit", "production", 2, Change::new("test", "promote"))
            .await
            .unwrap();
    }
    let mut tries = 0;
    loop {
        let r = client
            .post(format!("{base}/v2/models/credit/infer"))
            .body(v2_columns(&data, 1).to_string())
            .send()
            .await
            .unwrap();
        if header(r.headers(), "x-model-version") == "2" {
            break;
        }
        tries += 1;
        assert!(tries < 100_000, "the alias move was never picked up");
        tokio::task::yield_now().await;
    }
    // The swap is recorded by the watcher within a poll interval or two; stopping records
    // the last one.
    let audit = SqliteAuditLog::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let deployments = || async {
        audit
            .query(&AuditQuery::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.entry.action.starts_with("deployment."))
            .map(|r| (r.entry.action, r.entry.payload))
            .collect::<Vec<(String, Value)>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while deployments().await.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no swap record: {:?}",
            deployments().await
        );
        tokio::task::yield_now().await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let d = deployments().await;
    let summary: Vec<(&str, &Value, &Value)> = d
        .iter()
        .map(|(a, p)| (a.as_str(), &p["version"], &p["replaces"]))
        .collect();
    assert_eq!(
        summary[..3],
        [
            ("deployment.started", &json!(1), &Value::Null),
            ("deployment.stopped", &json!(1), &Value::Null),
            ("deployment.started", &json!(2), &json!(1)),
        ],
        "{d:?}"
    );
    assert_eq!(d[1].1["replaced_by"], 2);
    assert_eq!(d.last().unwrap().0, "deployment.stopped");
    assert_eq!(d.last().unwrap().1["version"], 2);

    // The body id is the request id every command finds.
    let out = mlcycle(dir.path(), &["predictions", "--request-id", "oip-body-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["request_id"], "oip-body-1");
    let out = mlcycle(
        dir.path(),
        &["lineage", "prediction", "oip-body-1", "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(l.to_string().contains("oip-body-1"), "{l}");
}
