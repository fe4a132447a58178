//! Several processes on one store: concurrent registrations, SIGKILL at random moments of a
//! registration, events and cache invalidation across processes.
//!
//! The child processes are this test binary itself, run with `--exact worker` and the
//! `REGISTRY_WORKER_*` environment variables; without them `worker` does nothing.

use crate::registry_support;

use mlcycle::clock::SystemClock;
use mlcycle::registry::{Change, Registry, RegistryEventKind, RegistryExt, SqliteRegistry};
use rand::{Rng, SeedableRng};
use registry_support::new_version;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// The child-process entry point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker() {
    let Ok(store) = std::env::var("REGISTRY_WORKER_STORE") else {
        return;
    };
    let id: u64 = std::env::var("REGISTRY_WORKER_ID")
        .unwrap()
        .parse()
        .unwrap();
    let count: u64 = std::env::var("REGISTRY_WORKER_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let model = std::env::var("REGISTRY_WORKER_MODEL").unwrap();
    let r = SqliteRegistry::open(&store, Arc::new(SystemClock)).unwrap();
    for i in 0..count {
        let mv = r
            .register(&model, new_version(id * 1_000_000 + i, 0.5))
            .await
            .unwrap();
        r.set_tag(&model, mv.version, "iter", &mv.version.to_string())
            .await
            .unwrap();
        r.set_alias(
            &model,
            &format!("w{id}"),
            mv.version,
            Change::new(format!("worker-{id}"), "follow"),
        )
        .await
        .unwrap();
        // A shared version updated by every worker: no update may be lost.
        if model == "shared" {
            r.set_tag("shared", 1, &format!("w{id}-{i}"), "1")
                .await
                .unwrap();
        }
        println!("WORKER registered {}", mv.version);
    }
}

fn spawn_worker(store: &Path, id: u64, count: u64, model: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "registry_processes::worker",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env("REGISTRY_WORKER_STORE", store)
        .env("REGISTRY_WORKER_ID", id.to_string())
        .env("REGISTRY_WORKER_COUNT", count.to_string())
        .env("REGISTRY_WORKER_MODEL", model)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every version has a verified artifact and every event has its change.
async fn check_consistent(r: &SqliteRegistry, model: &str) -> Vec<u32> {
    let versions = r.list_versions(model).await.unwrap();
    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    assert_eq!(
        numbers,
        (1..=numbers.len() as u32).collect::<Vec<_>>(),
        "version numbers are unique and consecutive"
    );
    for v in &versions {
        r.load_artifact(model, v.version)
            .await
            .unwrap_or_else(|e| panic!("{model}/{}: {e}", v.version));
    }
    let events = r.events_since(0).await.unwrap();
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    let mut created = 0;
    let mut alias_sets = 0;
    for e in &events {
        match &e.kind {
            RegistryEventKind::VersionCreated { name, version } if name == model => {
                created += 1;
                assert!(numbers.contains(version), "event without its version");
            }
            RegistryEventKind::TagSet {
                name,
                version,
                key,
                value,
            } if name == model && key == "iter" => {
                let mv = &versions[*version as usize - 1];
                assert_eq!(mv.tags.get(key), Some(value), "event without its tag");
            }
            RegistryEventKind::AliasSet { name, .. } if name == model => alias_sets += 1,
            _ => {}
        }
    }
    assert_eq!(created, versions.len(), "a version without its event");
    assert_eq!(
        alias_sets,
        r.alias_history(model, None).await.unwrap().len(),
        "alias events and alias history agree"
    );
    assert_eq!(
        r.status_history(model, None).await.unwrap().len(),
        versions.len(),
        "each version has its registration status entry"
    );
    numbers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_never_collide_nor_lose_updates() {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    r.register("shared", new_version(0, 0.5)).await.unwrap();
    let (workers, per_worker) = (3u64, 12u64);
    let children: Vec<Child> = (1..=workers)
        .map(|id| spawn_worker(dir.path(), id, per_worker, "shared"))
        .collect();
    // This process registers too, at the same time.
    for i in 0..per_worker {
        r.register("shared", new_version(900_000 + i, 0.5))
            .await
            .unwrap();
    }
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a worker failed");
    }
    let numbers = check_consistent(&r, "shared").await;
    assert_eq!(numbers.len() as u64, 1 + per_worker * (workers + 1));
    let shared = r.get_version("shared", 1).await.unwrap();
    for id in 1..=workers {
        for i in 0..per_worker {
            assert!(
                shared.tags.contains_key(&format!("w{id}-{i}")),
                "lost update w{id}-{i}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_registration_leaves_whole_versions_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20260301);
    let rounds = 16;
    for round in 0..rounds {
        let mut child = spawn_worker(dir.path(), round + 1, 1_000, "crash");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // Let it complete 0–2 registrations, then kill it after a random spin (no sleep),
        // somewhere inside the next one.
        let complete = rng.random_range(0..3);
        let mut line = String::new();
        let mut seen = 0;
        while seen < complete {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if line.starts_with("WORKER registered") {
                seen += 1;
            }
        }
        let spin = rng.random_range(0..3_000_000u64);
        let mut x = 0u64;
        for i in 0..spin {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let numbers = check_consistent(&r, "crash").await;
    // Orphans (artifacts written by a killed registration) are collected; nothing that a
    // version needs is.
    let orphans = r.gc().await.unwrap();
    eprintln!(
        "{rounds} kills: {} versions survived, {} orphan artifacts collected",
        numbers.len(),
        orphans.len()
    );
    assert!(r.gc().await.unwrap().is_empty());
    for v in &numbers {
        r.load_artifact("crash", *v).await.unwrap();
    }
    let artifacts: std::collections::BTreeSet<String> = r
        .list_versions("crash")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.artifact_sha256)
        .collect();
    let files = mlcycle::registry::artifacts::ArtifactStore::open(dir.path().join("artifacts"))
        .unwrap()
        .list()
        .unwrap();
    assert_eq!(
        files.into_iter().collect::<std::collections::BTreeSet<_>>(),
        artifacts
    );
    // The store still takes new versions, numbered after the survivors.
    let next = r.register("crash", new_version(42, 0.5)).await.unwrap();
    assert_eq!(next.version as usize, numbers.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_other_processes_reach_a_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    r.register("other", new_version(0, 0.5)).await.unwrap();
    let mut sub = r
        .subscribe(1)
        .with_poll_interval(std::time::Duration::from_millis(5));
    let mut child = spawn_worker(dir.path(), 7, 2, "other");
    let mut created = vec![];
    while created.len() < 2 {
        let e = sub.next().await.unwrap();
        if let RegistryEventKind::VersionCreated { version, .. } = e.kind {
            created.push(version);
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(created, vec![2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_resolutions_see_changes_made_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    for v in 1..=2 {
        r.register("m", new_version(v, 0.5)).await.unwrap();
    }
    r.set_alias("m", "prod", 1, Change::new("t", ""))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(r.resolve("m@prod").await.unwrap().version, 1);
    }
    let status = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args([
            "models", "alias", "set", "m", "prod", "2", "--force", "--store",
        ])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(r.resolve("m@prod").await.unwrap().version, 2);
}
