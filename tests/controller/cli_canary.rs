//! A canary release across real processes: `mlcycle run --canary` sends a new version to the
//! `canary` alias, a separate `mlcycle serve` following the model routes part of the traffic
//! to it, and once the period is over the controller judges it from the served requests and
//! promotes it — the server then answers every request with it. No request fails meanwhile.

use crate::cli_run::{spawn_with, write_file};
use mlcycle::audit::{AuditLog, AuditQuery, SqliteAuditLog};
use mlcycle::clock::SystemClock;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_takes_its_share_across_processes_and_is_promoted() {
    let store = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write_file(data.path(), "a.csv", 0);
    let run = spawn_with(
        store.path(),
        data.path(),
        &["--canary", "0.5", "--canary-for", "3s"],
    );
    let first = tokio::task::block_in_place(|| run.next_training());
    assert_eq!(first["decision"], "promoted", "{first}");

    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["serve", "--store"])
        .arg(store.path())
        .args(["--model", "credit@production", "--addr", "127.0.0.1:0"])
        .args(["--poll-ms", "50"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(serve.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    // Traffic until told to stop: versions that answered, and any failure.
    let answered: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (answered, failures, stop) = (answered.clone(), failures.clone(), stop.clone());
        let url = format!("{base}/invocations");
        let rows = mlcycle::testing::CreditDefault::new(11)
            .sample(4, &mlcycle::testing::DriftSpec::none(), 7)
            .unwrap();
        let body = mlcycle::testing::mlflow_split(&rows, rows.n_rows()).to_string();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        let v = r
                            .headers()
                            .get("x-model-version")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("?")
                            .to_string();
                        *answered.lock().unwrap().entry(v).or_default() += 1;
                    }
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        failures.lock().unwrap().push(format!("{status}: {text}"));
                    }
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
            }
        })
    };

    // A new file: version 2 goes to the canary, then is judged and promoted.
    write_file(data.path(), "b.csv", 1);
    let second = tokio::task::block_in_place(|| run.next_training());
    assert_eq!(second["decision"], "canary", "{second}");
    assert_eq!(second["version"], 2, "{second}");
    let settled = tokio::task::block_in_place(|| {
        loop {
            let v = run.next();
            if v["kind"] == "canary" {
                return v;
            }
        }
    });
    let during = answered.lock().unwrap().clone();
    assert_eq!(
        settled["decision"],
        "promoted",
        "{settled}; answered: {during:?}; failed: {:?}",
        failures.lock().unwrap().first()
    );
    assert!(
        during.get("1").copied().unwrap_or(0) > 0 && during.get("2").copied().unwrap_or(0) > 0,
        "both versions answer while the canary runs: {during:?}"
    );
    // After the promotion the server answers with version 2 only.
    let seen_before = during.values().sum::<usize>();
    let mut last_v1 = answered.lock().unwrap().get("1").copied().unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        tokio::task::yield_now().await;
        let now: BTreeMap<String, usize> = answered.lock().unwrap().clone();
        let v1 = now.get("1").copied().unwrap_or(0);
        if v1 == last_v1 && now.values().sum::<usize>() > seen_before + 200 {
            break; // 200 answers in a row without version 1
        }
        if v1 != last_v1 {
            last_v1 = v1;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "version 1 still answers after the promotion: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    let failed = failures.lock().unwrap().clone();
    assert!(failed.is_empty(), "requests failed: {failed:?}");

    crate::cli_run::sigterm(&serve);
    assert!(serve.wait().unwrap().success());
    assert!(run.terminate().success());
    // The trail: the canary alias set and removed, production moved to 2.
    let audit = SqliteAuditLog::open(store.path(), Arc::new(SystemClock)).unwrap();
    let aliases: Vec<(String, serde_json::Value)> = audit
        .query(&AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action.starts_with("alias."))
        .map(|r| (r.entry.action.clone(), r.entry.payload.clone()))
        .collect();
    let set = |alias: &str, v: u64| {
        aliases
            .iter()
            .any(|(a, p)| a == "alias.moved" && p["alias"] == alias && p["to"] == v)
    };
    assert!(set("canary", 2) && set("production", 2), "{aliases:?}");
    assert!(
        aliases
            .iter()
            .any(|(a, p)| a == "alias.deleted" && p["alias"] == "canary"),
        "{aliases:?}"
    );
}
