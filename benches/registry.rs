//! Registry throughput: registrations/s (small artifacts, durable commits) and alias
//! resolutions/s on the SQLite store, and the same through MLflow's model registry on its
//! SQLite backend, in the same run.
//!
//! `cargo bench --bench registry` (set `MLFLOW_PYTHON` to a Python with mlflow installed,
//! e.g. `.venv-registry/bin/python`; without it MLflow is skipped).

use mlcycle::clock::SystemClock;
use mlcycle::model::{Model, ModelArtifact};
use mlcycle::registry::{Change, Lineage, NewVersion, Registry, RegistryExt, SqliteRegistry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::sync::Arc;
use std::time::Instant;

fn artifact(base: &ModelArtifact, i: u64) -> ModelArtifact {
    let mut a = base.clone();
    if let ModelArtifact::Logistic(m) = &mut a {
        m.intercepts[0] += i as f64 * 1e-9;
    }
    a
}

fn new_version(base: &ModelArtifact, i: u64) -> NewVersion {
    NewVersion {
        artifact: artifact(base, i),
        lineage: Lineage {
            trainer: "logistic".into(),
            created_by: "bench".into(),
            ..Lineage::default()
        },
        metrics: Default::default(),
        tags: Default::default(),
        description: String::new(),
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let sequential = env_or("BENCH_SEQUENTIAL", 200);
    let concurrent = env_or("BENCH_CONCURRENT", 4000);
    let in_flight = env_or("BENCH_IN_FLIGHT", 64);
    let resolutions = env_or("BENCH_RESOLUTIONS", 1_000_000);
    let mlflow_registrations = env_or("BENCH_MLFLOW_REGISTRATIONS", 200);
    let mlflow_resolutions = env_or("BENCH_MLFLOW_RESOLUTIONS", 2000);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = CreditDefault::new(1)
        .sample(500, &DriftSpec::none(), 0)
        .unwrap();
    let base = fit_logistic(&data, &LogisticParams::default().check().unwrap())
        .unwrap()
        .to_artifact()
        .unwrap();
    let artifact_bytes = base.to_bytes().unwrap();
    let dir = tempfile::tempdir_in(
        std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into),
    )
    .unwrap();

    let (seq_rate, conc_rate, res_rate, res2_rate) = rt.block_on(async {
        let registry = Arc::new(SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap());
        registry
            .register("bench", new_version(&base, 0))
            .await
            .unwrap();

        // One registration at a time: latency-bound (artifact fsync + commit fsync).
        let t = Instant::now();
        for i in 1..=sequential {
            registry
                .register("bench", new_version(&base, i))
                .await
                .unwrap();
        }
        let seq_rate = sequential as f64 / t.elapsed().as_secs_f64();

        // Many callers at once: artifact fsyncs overlap, commits are grouped.
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let per_task = concurrent / in_flight;
        for k in 0..in_flight {
            let (r, base) = (registry.clone(), base.clone());
            tasks.spawn(async move {
                for j in 0..per_task {
                    let i = 1_000_000 + k * per_task + j;
                    r.register("bench", new_version(&base, i)).await.unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let conc_rate = (per_task * in_flight) as f64 / t.elapsed().as_secs_f64();

        // Alias resolutions (cached; each one checks the store's data version).
        registry
            .set_alias("bench", "production", 1, Change::new("bench", ""))
            .await
            .unwrap();
        registry.resolve("bench@production").await.unwrap();
        let t = Instant::now();
        for _ in 0..resolutions {
            let mv = registry.resolve("bench@production").await.unwrap();
            assert_eq!(mv.version, 1);
        }
        let res_rate = resolutions as f64 / t.elapsed().as_secs_f64();

        // Two tasks resolving at once (2 cores).
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..2 {
            let r = registry.clone();
            tasks.spawn(async move {
                for _ in 0..resolutions / 2 {
                    r.resolve("bench@production").await.unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let res2_rate = (resolutions / 2 * 2) as f64 / t.elapsed().as_secs_f64();
        (seq_rate, conc_rate, res_rate, res2_rate)
    });

    println!("mlcycle SqliteRegistry (WAL, synchronous=FULL, artifact fsync + rename + dir fsync)");
    println!(
        "  artifact size:                         {} bytes",
        artifact_bytes.len()
    );
    println!("  registrations/s, one at a time:        {seq_rate:>12.0}");
    println!("  registrations/s, {in_flight} in flight:          {conc_rate:>12.0}");
    println!("  alias resolutions/s, 1 task:           {res_rate:>12.0}");
    println!("  alias resolutions/s, 2 tasks:          {res2_rate:>12.0}");

    let python = std::env::var("MLFLOW_PYTHON").unwrap_or_default();
    if python.is_empty() {
        println!("MLflow: skipped (set MLFLOW_PYTHON to a Python with mlflow installed)");
        return;
    }
    let art = dir.path().join("artifact.json");
    std::fs::write(&art, &artifact_bytes).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/bench_registry_mlflow.py"
    );
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&art)
        .arg(mlflow_registrations.to_string())
        .arg(mlflow_resolutions.to_string())
        .output()
        .expect("run the MLflow benchmark");
    if !out.status.success() {
        println!(
            "MLflow: failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return;
    }
    let m: serde_json::Value = serde_json::from_slice(
        out.stdout
            .split(|&b| b == b'\n')
            .rfind(|l| l.starts_with(b"{"))
            .unwrap_or(b"{}"),
    )
    .unwrap();
    let (m_reg, m_res) = (
        m["registrations_per_s"].as_f64().unwrap_or(f64::NAN),
        m["resolutions_per_s"].as_f64().unwrap_or(f64::NAN),
    );
    println!(
        "MLflow {} model registry (SQLite backend, MlflowClient in-process)",
        m["mlflow_version"].as_str().unwrap_or("?")
    );
    println!("  registrations/s, one at a time:        {m_reg:>12.0}");
    println!("  alias resolutions/s:                   {m_res:>12.0}");
    println!("Ratios (mlcycle / MLflow)");
    println!(
        "  registrations, one at a time:          {:>12.1}x",
        seq_rate / m_reg
    );
    println!(
        "  registrations, {in_flight} in flight vs MLflow:  {:>12.1}x",
        conc_rate / m_reg
    );
    println!(
        "  alias resolutions, 1 task:             {:>12.0}x",
        res_rate / m_res
    );
}
