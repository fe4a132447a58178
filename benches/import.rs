//! Imported LightGBM / XGBoost models: the native GBDT predictor against each library's own
//! predict, on 10,000 rows, one thread each.
//!
//! 1. `python scripts/bench_import.py` (writes target/bench_import/: the two model files,
//!    rows.csv and peers.json with the libraries' times and probabilities),
//! 2. `cargo bench --bench import` (this file: checks the probabilities, times ours, prints
//!    the ratio). Environment: `BENCH_IMPORT_DIR` (default target/bench_import),
//!    `BENCH_IMPORT_REPEATS` (default 7).

use mlcycle::model::Model;
use mlcycle::model::native::{NativeModel, read_lightgbm, read_xgboost};
use ndarray::Array2;
use std::time::Instant;

fn rows(path: &str) -> Result<Array2<f64>, String> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| format!("{path}: {e}"))?;
    let mut vals = Vec::new();
    let mut p = 0;
    for rec in rd.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        p = rec.len();
        for f in rec.iter() {
            vals.push(if f.is_empty() {
                f64::NAN
            } else {
                f.parse().map_err(|e| format!("{path}: {e}"))?
            });
        }
    }
    Array2::from_shape_vec((vals.len() / p.max(1), p), vals).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let dir = std::env::var("BENCH_IMPORT_DIR").unwrap_or_else(|_| "target/bench_import".into());
    let repeats: usize = std::env::var("BENCH_IMPORT_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let peers: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{dir}/peers.json"))
            .map_err(|e| format!("{dir}/peers.json: {e} (run scripts/bench_import.py first)"))?,
    )
    .map_err(|e| e.to_string())?;
    let x = rows(&format!("{dir}/rows.csv"))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    for (lib, tol) in [("lightgbm", 1e-9), ("xgboost", 1e-6)] {
        let native: NativeModel = if lib == "lightgbm" {
            let text = std::fs::read_to_string(format!("{dir}/lightgbm.txt"))
                .map_err(|e| e.to_string())?;
            read_lightgbm(&text).map_err(|e| e.to_string())?
        } else {
            let bytes = std::fs::read(format!("{dir}/xgboost.json")).map_err(|e| e.to_string())?;
            read_xgboost(&bytes).map_err(|e| e.to_string())?
        };
        let sig = native.signature_from_file("y").map_err(|e| e.to_string())?;
        let model = native.into_pipeline(sig).map_err(|e| e.to_string())?;
        let mut best = f64::INFINITY;
        let mut proba = None;
        for _ in 0..repeats {
            let t = Instant::now();
            let p = pool
                .install(|| model.predict(x.view()))
                .map_err(|e| e.to_string())?;
            best = best.min(t.elapsed().as_secs_f64());
            proba = p.probabilities;
        }
        let proba = proba.ok_or("no probabilities")?;
        let theirs: Vec<f64> = peers[lib]["proba"]
            .as_array()
            .ok_or("peers.json has no probabilities")?
            .iter()
            .filter_map(|v| v.as_f64())
            .collect();
        let diff = proba
            .column(1)
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if theirs.len() != x.nrows() || diff > tol {
            return Err(format!(
                "{lib}: probabilities differ by {diff:e} (tolerance {tol:e})"
            ));
        }
        let peer = peers[lib]["seconds"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{lib} {}: {} rows, 1 thread — {lib} predict {:.2} ms, mlcycle {:.2} ms: {:.2}× \
             (max |Δp| {diff:.1e})",
            peers[lib]["version"].as_str().unwrap_or("?"),
            x.nrows(),
            peer * 1e3,
            best * 1e3,
            peer / best
        );
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench import: {e}");
        std::process::exit(1);
    }
}
