//! Serving over time: hot swap under load (no failed or mixed-version request), canary
//! and shadow traffic, following registry aliases (and rolling back), and the
//! `mlcycle serve` command end to end.

use crate::http_support;

use chrono::Duration;
use http_support::*;
use mlcycle::collect::{Collector, InMemoryPredictionLog, PredictionLog};
use mlcycle::deploy::http::{FollowSpec, HttpConfig, HttpDeployer, TrafficSplit};
use mlcycle::deploy::{DeployRequest, Deployer};
use mlcycle::model::{LogisticModel, Model};
use mlcycle::registry::{Change, InMemoryRegistry, Lineage, NewVersion, Registry};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Three versions that give different probabilities on the same rows.
fn versions() -> Vec<Arc<LogisticModel>> {
    vec![train(1, 0.1).1, train(2, 1.0).1, train(3, 10.0).1]
}

async fn registry_with(models: &[Arc<LogisticModel>]) -> Arc<InMemoryRegistry> {
    let registry = Arc::new(InMemoryRegistry::new(clock()));
    for m in models {
        registry
            .register(
                "credit",
                NewVersion {
                    artifact: m.to_artifact().unwrap(),
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
    registry
}

async fn server_with_log() -> (HttpDeployer, Arc<InMemoryPredictionLog>) {
    let log = Arc::new(InMemoryPredictionLog::default());
    let collector = Collector::spawn(log.clone(), 100_000).unwrap();
    let server = HttpDeployer::start(HttpConfig::with_addr(local()), clock(), Some(collector))
        .await
        .unwrap();
    (server, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_load_never_fails_or_mixes_versions() {
    let models = versions();
    let registry = registry_with(&models).await;
    let (server, _log) = server_with_log().await;
    let follower = server
        .follow(
            registry.clone(),
            FollowSpec::new("credit@production")
                .with_poll_interval(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    let data = train(1, 0.1).0;
    let rows = 3;
    let want: Vec<Vec<f64>> = models
        .iter()
        .map(|m| expected(m.as_ref(), &data, rows).1)
        .collect();
    let v2_body = v2_columns(&data, rows).to_string();
    let names = data.schema().feature_names();
    let split_rows: Vec<Vec<Value>> = (0..rows)
        .map(|r| (0..13).map(|j| raw_value(&data, r, j)).collect())
        .collect();
    let mlflow_body = json!({"dataframe_split": {"columns": names, "data": split_rows}, "params": {"probabilities": true}}).to_string();

    let base = server.endpoint();
    let client = reqwest::Client::new();
    let progress = Arc::new(tokio::sync::Notify::new());
    let done = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicUsize::new(0));
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 100;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, base, v2_body, mlflow_body, want) = (
            client.clone(),
            base.clone(),
            v2_body.clone(),
            mlflow_body.clone(),
            want.clone(),
        );
        let (progress, done, finished) = (progress.clone(), done.clone(), finished.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            for i in 0..PER_CLIENT {
                let v2 = (c + i) % 2 == 0;
                let r = if v2 {
                    client
                        .post(format!("{base}/v2/models/credit/infer"))
                        .body(v2_body.clone())
                } else {
                    client
                        .post(format!("{base}/invocations"))
                        .header("content-type", "application/json")
                        .body(mlflow_body.clone())
                }
                .send()
                .await
                .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                let version: usize = header(r.headers(), "x-model-version").parse().unwrap();
                let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                let proba: Vec<f64> = if v2 {
                    assert_eq!(v["model_version"], version.to_string());
                    serde_json::from_value(v["outputs"][1]["data"].clone()).unwrap()
                } else {
                    v["predictions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|p| {
                            [
                                p["probabilities"]["no"].as_f64().unwrap(),
                                p["probabilities"]["yes"].as_f64().unwrap(),
                            ]
                        })
                        .collect()
                };
                // Every number comes from the one version named in the response.
                assert_eq!(proba, want[version - 1], "mixed or wrong version {version}");
                seen.insert(version);
                progress.notify_one();
            }
            if finished.fetch_add(1, Ordering::SeqCst) + 1 == CLIENTS {
                done.store(true, Ordering::SeqCst);
                progress.notify_one();
            }
            seen
        }));
    }
    // Swap on every few responses while requests are in flight: alias moves picked up by
    // the follower (load + check + swap), and direct deploys.
    let mut swaps = 0usize;
    let mut responses = 0usize;
    while !done.load(Ordering::SeqCst) {
        progress.notified().await;
        responses += 1;
        if !responses.is_multiple_of(5) {
            continue;
        }
        let next = (swaps % 3) as u32 + 1;
        if swaps.is_multiple_of(2) {
            registry
                .set_alias("credit", "production", next, Change::new("test", "swap"))
                .await
                .unwrap();
            follower.poll_once().await.unwrap();
        } else {
            server
                .deploy(DeployRequest {
                    model_name: "credit".into(),
                    version: next,
                    model: models[next as usize - 1].clone(),
                })
                .await
                .unwrap();
        }
        swaps += 1;
    }
    let mut seen = BTreeSet::new();
    for t in tasks {
        seen.extend(t.await.unwrap());
    }
    assert!(swaps >= 20, "only {swaps} swaps");
    assert_eq!(
        seen.len(),
        3,
        "every version answered some requests: {seen:?}"
    );
    let text = server.metrics_text();
    assert!(text.contains(r#"status="200"#));
    assert!(!text.contains(r#"status="5"#), "no 5xx: {text}");
    server.undeploy().await.unwrap();
}

async fn post_v2(
    client: &reqwest::Client,
    url: &str,
    body: &str,
    key: Option<&str>,
) -> (u16, u32, String) {
    let mut req = client.post(url).body(body.to_string());
    if let Some(k) = key {
        req = req.header("x-route-key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let version = header(r.headers(), "x-model-version").parse().unwrap_or(0);
    let rid = header(r.headers(), "x-request-id").to_string();
    (status, version, rid)
}

#[tokio::test]
async fn canary_split_sticky_keys_and_explicit_versions() {
    let models = versions();
    let (server, _log) = server_with_log().await;
    server
        .deploy(DeployRequest {
            model_name: "credit".into(),
            version: 1,
            model: models[0].clone(),
        })
        .await
        .unwrap();
    server
        .set_challenger(
            DeployRequest {
                model_name: "credit".into(),
                version: 2,
                model: models[1].clone(),
            },
            TrafficSplit::canary(0.3),
        )
        .await
        .unwrap();
    assert_eq!(server.challenger().unwrap().0.version, 2);
    let data = train(1, 0.1).0;
    let body = v2_columns(&data, 1).to_string();
    let client = reqwest::Client::new();
    let url = format!("{}/v2/models/credit/infer", server.endpoint());
    let mut counts = [0usize; 3];
    for _ in 0..100 {
        let (s, v, _) = post_v2(&client, &url, &body, None).await;
        assert_eq!(s, 200);
        counts[v as usize] += 1;
    }
    assert!((25..=35).contains(&counts[2]), "canary share {counts:?}");
    // Sticky: one key always lands on one side; keys spread over both.
    let mut sides = BTreeSet::new();
    for k in 0..40 {
        let key = format!("customer-{k}");
        let (_, first, _) = post_v2(&client, &url, &body, Some(&key)).await;
        for _ in 0..3 {
            assert_eq!(post_v2(&client, &url, &body, Some(&key)).await.1, first);
        }
        sides.insert(first);
    }
    assert_eq!(sides.len(), 2);
    // An explicit version bypasses the split.
    let url2 = format!("{}/v2/models/credit/versions/2/infer", server.endpoint());
    for _ in 0..5 {
        assert_eq!(post_v2(&client, &url2, &body, None).await.1, 2);
    }
    let meta: Value = serde_json::from_slice(
        &client
            .get(format!("{}/v2/models/credit", server.endpoint()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["versions"], json!(["1", "2"]));
    server.clear_challenger();
    for _ in 0..10 {
        assert_eq!(post_v2(&client, &url, &body, None).await.1, 1);
    }
    assert!(
        server
            .set_challenger(
                DeployRequest {
                    model_name: "credit".into(),
                    version: 2,
                    model: models[1].clone()
                },
                TrafficSplit::canary(1.5),
            )
            .await
            .is_err()
    );
    server.undeploy().await.unwrap();
}

#[tokio::test]
async fn shadow_answers_from_champion_and_logs_the_challenger() {
    let models = versions();
    let (server, log) = server_with_log().await;
    server
        .deploy(DeployRequest {
            model_name: "credit".into(),
            version: 1,
            model: models[0].clone(),
        })
        .await
        .unwrap();
    server
        .set_challenger(
            DeployRequest {
                model_name: "credit".into(),
                version: 2,
                model: models[1].clone(),
            },
            TrafficSplit::shadow(1.0),
        )
        .await
        .unwrap();
    let data = train(1, 0.1).0;
    let body = v2_columns(&data, 2).to_string();
    let client = reqwest::Client::new();
    let url = format!("{}/v2/models/credit/infer", server.endpoint());
    let mut rids = BTreeSet::new();
    for _ in 0..10 {
        let (s, v, rid) = post_v2(&client, &url, &body, None).await;
        assert_eq!((s, v), (200, 1));
        rids.insert(rid);
    }
    assert!(
        server
            .metrics_text()
            .contains("mlcycle_shadow_requests_total 10")
    );
    server.undeploy().await.unwrap();
    let t = mlcycle::clock::Clock::now(clock().as_ref());
    let recs = log
        .read_window(t - Duration::hours(1), t + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(recs.len(), 20);
    for version in [1, 2] {
        let ids: BTreeSet<String> = recs
            .iter()
            .filter(|r| r.model_version == version)
            .map(|r| r.request_id.clone())
            .collect();
        assert_eq!(ids, rids, "version {version}");
    }
    let shadow = recs.iter().find(|r| r.model_version == 2).unwrap();
    let x = data.features().slice(ndarray::s![0..2, ..]).to_owned();
    let p = models[1].predict(x.view()).unwrap();
    assert_eq!(shadow.outputs, p.values.to_vec());
    // The full probability vector of each row is logged with the class.
    let proba: Vec<Vec<f64>> = p
        .probabilities
        .unwrap()
        .outer_iter()
        .map(|r| r.to_vec())
        .collect();
    assert_eq!(shadow.probabilities, proba);
    for r in &recs {
        assert_eq!(r.probabilities.len(), 2, "{}", r.request_id);
        assert!(r.probabilities.iter().all(|p| p.len() == 2));
    }
}

#[tokio::test]
async fn follows_aliases_rolls_back_and_tracks_a_challenger_alias() {
    let models = versions();
    let registry = registry_with(&models).await;
    let (server, _log) = server_with_log().await;
    let follower = server
        .follow(
            registry.clone(),
            FollowSpec::new("credit@production")
                .with_challenger("credit@challenger", TrafficSplit::canary(0.5))
                .with_poll_interval(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert_eq!(server.current().await.unwrap().version, 1);
    assert!(server.challenger().is_none());
    assert!(!follower.poll_once().await.unwrap(), "nothing changed");
    let change = || Change::new("test", "move");
    registry
        .set_alias("credit", "production", 2, change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    assert_eq!(server.current().await.unwrap().version, 2);
    // Rollback = moving the alias back.
    registry
        .set_alias("credit", "production", 1, change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    assert_eq!(server.current().await.unwrap().version, 1);
    registry
        .set_alias("credit", "challenger", 3, change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    let (info, split) = server.challenger().unwrap();
    assert_eq!((info.version, split), (3, TrafficSplit::canary(0.5)));
    registry
        .delete_alias("credit", "challenger", change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    assert!(server.challenger().is_none());
    assert!(follower.cursor().await > 0);
    // A reference that does not resolve is refused up front.
    assert!(
        server
            .follow(registry.clone(), FollowSpec::new("credit@nope"))
            .await
            .is_err()
    );
    assert!(
        server
            .follow(
                registry.clone(),
                FollowSpec::new("credit@production")
                    .with_challenger("other@x", TrafficSplit::canary(0.1))
            )
            .await
            .is_err()
    );
    server.undeploy().await.unwrap();
}

#[tokio::test]
async fn follows_a_lifecycle_canary_alias_with_the_share_in_its_tag() {
    let models = versions();
    let registry = registry_with(&models).await;
    let (server, _log) = server_with_log().await;
    let follower = server
        .follow(
            registry.clone(),
            FollowSpec::new("credit@production")
                .with_canary_alias("canary")
                .with_poll_interval(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert!(server.challenger().is_none(), "no canary alias yet");
    let change = || Change::new("test", "canary");
    registry
        .set_tag("credit", 2, mlcycle::registry::CANARY_SHARE_TAG, "0.25")
        .await
        .unwrap();
    registry
        .set_alias("credit", "canary", 2, change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    let (info, split) = server.challenger().unwrap();
    assert_eq!((info.version, split), (2, TrafficSplit::canary(0.25)));
    // Promoted: production moves to the canary version and the alias goes away.
    registry
        .set_alias("credit", "production", 2, change())
        .await
        .unwrap();
    registry
        .delete_alias("credit", "canary", change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    assert_eq!(server.current().await.unwrap().version, 2);
    assert!(server.challenger().is_none());
    // Without a share tag the canary takes the default 10 %.
    registry
        .set_alias("credit", "canary", 3, change())
        .await
        .unwrap();
    assert!(follower.poll_once().await.unwrap());
    assert_eq!(server.challenger().unwrap().1, TrafficSplit::canary(0.1));
    server.undeploy().await.unwrap();
}

#[tokio::test]
async fn predict_in_process_goes_through_the_same_slot() {
    let models = versions();
    let (server, _log) = server_with_log().await;
    let data = train(1, 0.1).0;
    let req = || mlcycle::deploy::ScoreRequest {
        rows: data.features().to_owned(),
        request_id: Some("in-proc".into()),
    };
    assert!(server.predict(req()).await.is_err(), "nothing deployed");
    let info = server
        .deploy(DeployRequest {
            model_name: "credit".into(),
            version: 3,
            model: models[2].clone(),
        })
        .await
        .unwrap();
    assert_eq!(info.deployer, "http");
    assert_eq!(info.endpoint, server.endpoint());
    let r = server.predict(req()).await.unwrap();
    assert_eq!((r.model_version, r.request_id.as_str()), (3, "in-proc"));
    assert_eq!(r.prediction, models[2].predict(data.features()).unwrap());
    server.undeploy().await.unwrap();
    server.undeploy().await.unwrap(); // idempotent
}

#[cfg(all(unix, feature = "cli"))]
#[tokio::test]
async fn mlcycle_serve_command_follows_the_alias_and_flushes_on_sigterm() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let models = versions();
    {
        let registry = mlcycle::registry::SqliteRegistry::open(dir.path(), clock()).unwrap();
        for m in &models[..2] {
            registry
                .register(
                    "credit",
                    NewVersion {
                        artifact: m.to_artifact().unwrap(),
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
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["serve", "--store"])
        .arg(dir.path())
        .args([
            "--model",
            "credit@production",
            "--addr",
            "127.0.0.1:0",
            "--poll-ms",
            "20",
        ])
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
    let names = data.schema().feature_names();
    let rows: Vec<Vec<Value>> = (0..2)
        .map(|r| (0..13).map(|j| raw_value(&data, r, j)).collect())
        .collect();
    let body = json!({"dataframe_split": {"columns": names, "data": rows}}).to_string();
    let client = reqwest::Client::new();
    let send = |rid: String| {
        client
            .post(format!("{base}/invocations"))
            .header("content-type", "application/json")
            .header("x-request-id", rid)
            .body(body.clone())
            .send()
    };
    let r = send("cli-0".into()).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(r.headers(), "x-model-version"), "1");
    // Move the alias from this process: the server picks it up.
    {
        let registry = mlcycle::registry::SqliteRegistry::open(dir.path(), clock()).unwrap();
        registry
            .set_alias("credit", "production", 2, Change::new("test", "promote"))
            .await
            .unwrap();
    }
    let mut sent = 1;
    loop {
        let r = send(format!("cli-{sent}")).await.unwrap();
        sent += 1;
        assert_eq!(r.status().as_u16(), 200);
        if header(r.headers(), "x-model-version") == "2" {
            break;
        }
        assert!(sent < 100_000, "the alias move was never picked up");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    // The log holds every request, in hourly binary files, printed as JSON lines by
    // `mlcycle predictions`.
    let mut files = Vec::new();
    let mut stack = vec![dir.path().join("predictions")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    assert!(
        !files.is_empty()
            && files
                .iter()
                .all(|p| p.extension().is_some_and(|e| e == "predlog")),
        "{files:?}"
    );
    let predictions = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .arg("predictions")
            .arg("--store")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let lines: Vec<Value> = predictions(&[])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(predictions(&["--count"]).trim(), sent.to_string());
    let one: Value = serde_json::from_str(&predictions(&["--request-id", "cli-0"])).unwrap();
    assert_eq!(
        (&one["request_id"], &one["model_version"]),
        (&json!("cli-0"), &json!(1))
    );
    assert_eq!(one["inputs"].as_array().unwrap().len(), rows.len());
    assert_eq!(lines.len(), sent);
    assert!(
        lines
            .iter()
            .any(|l| l["request_id"] == "cli-0" && l["model_version"] == 1)
    );
    assert!(lines.iter().any(|l| l["model_version"] == 2));
}
