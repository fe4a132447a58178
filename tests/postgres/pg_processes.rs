//! Concurrent writers from several processes on one PostgreSQL database: N processes × M
//! registrations of one model (each followed by a move of its `production` alias), started at
//! once on a fresh database (so they also race the migrations).
//!
//! The child processes are this test binary itself, run with `--exact pg_processes::worker`
//! and the `PG_WORKER_*` environment variables; without them `worker` does nothing.

use crate::pg_support::TestDb;
use mlcycle::audit::{AuditQuery, actions};
use mlcycle::clock::SystemClock;
use mlcycle::model::{Model, ModelArtifact};
use mlcycle::registry::{
    Change, Lineage, NewVersion, PostgresRegistry, Registry, RegistryEventKind,
};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

/// A small fitted model's artifact (fitted once per process).
fn base_artifact() -> &'static ModelArtifact {
    static BASE: OnceLock<ModelArtifact> = OnceLock::new();
    BASE.get_or_init(|| {
        let data = CreditDefault::new(3)
            .sample(200, &DriftSpec::none(), 0)
            .unwrap();
        fit_logistic(&data, &LogisticParams::default().check().unwrap())
            .unwrap()
            .to_artifact()
            .unwrap()
    })
}

/// A new version whose artifact is distinct per `variant`.
pub fn new_version(variant: u64) -> NewVersion {
    let mut a = base_artifact().clone();
    if let ModelArtifact::Logistic(m) = &mut a {
        m.intercepts[0] += variant as f64 * 1e-6;
    }
    NewVersion {
        artifact: a,
        lineage: Lineage {
            trainer: "logistic".into(),
            created_by: "tests".into(),
            ..Lineage::default()
        },
        metrics: BTreeMap::from([("auc".to_string(), 0.5)]),
        tags: BTreeMap::new(),
        description: format!("variant {variant}"),
    }
}

/// The child-process entry point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker() {
    let Ok(url) = std::env::var("PG_WORKER_URL") else {
        return;
    };
    let id: u64 = std::env::var("PG_WORKER_ID").unwrap().parse().unwrap();
    let count: u64 = std::env::var("PG_WORKER_COUNT").unwrap().parse().unwrap();
    let r = PostgresRegistry::connect_audited(&url, Arc::new(SystemClock), None)
        .await
        .unwrap();
    println!("WORKER ready");
    for i in 0..count {
        let mv = r
            .register("shared", new_version(id * 1_000 + i))
            .await
            .unwrap();
        r.set_alias(
            "shared",
            "production",
            mv.version,
            Change::new(format!("worker-{id}"), "follow"),
        )
        .await
        .unwrap();
        println!("WORKER registered {}", mv.version);
    }
}

#[test]
fn concurrent_writers_in_several_processes_number_versions_without_gaps() {
    const PROCESSES: u64 = 4;
    const EACH: u64 = 15;
    let total = (PROCESSES * EACH) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDb::create());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|id| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "pg_processes::worker",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("PG_WORKER_URL", db.url())
                .env("PG_WORKER_ID", id.to_string())
                .env("PG_WORKER_COUNT", EACH.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut registered = Vec::new();
    for mut child in children {
        let out = child.stdout.take().unwrap();
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("WORKER registered ") {
                registered.push(v.parse::<u32>().unwrap());
            }
        }
        assert!(child.wait().unwrap().success(), "a worker failed");
    }
    // What the workers were told: every number once, 1..=N·M.
    registered.sort_unstable();
    assert_eq!(registered, (1..=total as u32).collect::<Vec<_>>());

    rt.block_on(async {
        let r = PostgresRegistry::connect_audited(db.url(), Arc::new(SystemClock), None)
            .await
            .unwrap();
        // What is stored: the same numbers, no gaps, no duplicates.
        let versions: Vec<u32> = r
            .list_versions("shared")
            .await
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, (1..=total as u32).collect::<Vec<_>>());

        // Alias moves: one per registration, each replacing the version the one before set.
        let history = r.alias_history("shared", Some("production")).await.unwrap();
        assert_eq!(history.len(), total);
        assert_eq!(history[0].previous, None);
        for pair in history.windows(2) {
            assert_eq!(
                pair[1].previous, pair[0].version,
                "an alias move recorded a previous version that was not the alias's"
            );
        }
        assert_eq!(
            r.get_alias("shared", "production").await.unwrap(),
            history.last().unwrap().version
        );

        // Events: numbered 1.. without gaps, one creation per version.
        let events = r.events_since(0).await.unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
        let created: BTreeSet<u32> = events
            .iter()
            .filter_map(|e| match &e.kind {
                RegistryEventKind::VersionCreated { version, .. } => Some(*version),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), total);
        assert_eq!(events.len(), 2 * total);

        // The audit trail: one chain holding every registration and every move.
        let log = r.audit_log().unwrap();
        assert_eq!(log.verify().await.unwrap(), 2 * total as u64);
        let registrations = log
            .query(&AuditQuery {
                action: Some(actions::VERSION_REGISTERED.to_string()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(registrations.len(), total);
        let moves = log
            .query(&AuditQuery {
                action: Some(actions::ALIAS_MOVED.to_string()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(moves.len(), total);
    });
    drop(db);
}
