//! For application developers embedding mlcycle: train → serve → monitor in one program,
//! on your own CSV file, with the embedded store (one directory) and default components.
//!
//! Run: `cargo run --example embedding [path/to/churn.csv]` — without a path, a small churn
//! file is written to a temporary directory first. The file has a customer id (ignored), a
//! sign-up time (each row's timestamp, not a feature), two numbers, a plan and the label.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mlcycle::data::{CsvOptions, Dataset, UnknownLevel, read_csv};
use mlcycle::prelude::*;
use mlcycle::registry::RegistryExt;
use std::sync::Arc;

/// A small deterministic churn file: short tenure and high charges churn more often.
fn write_example_csv(path: &std::path::Path) -> std::io::Result<()> {
    let mut text = String::from("customer_id,signed_up,tenure,monthly_charges,plan,churned\n");
    for i in 0..3_000u64 {
        let h = i.wrapping_mul(2_654_435_761) % 10_007;
        let tenure = (h % 72) as f64;
        let charges = 20.0 + (h % 97) as f64;
        let plan = ["basic", "plus", "pro"][(h % 3) as usize];
        let risk = 0.8 - tenure / 60.0 + charges / 150.0 + if plan == "basic" { 0.2 } else { 0.0 };
        let churned = if risk > 0.75 { "yes" } else { "no" };
        text.push_str(&format!(
            "c-{i:05},2026-01-{:02}T{:02}:00:00Z,{tenure},{charges},{plan},{churned}\n",
            1 + i % 28,
            i % 24
        ));
    }
    std::fs::write(path, text)
}

/// Where the lifecycle finds newer labelled rows when drift calls for a retrain: here the
/// same file, cut to the asked window (in production: your warehouse or label store).
#[derive(Debug)]
struct LabelledRows(Dataset);

#[async_trait]
impl TrainingDataSource for LabelledRows {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> mlcycle::Result<Dataset> {
        self.0.window(from, to)
    }
}

#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let dir = tempfile::tempdir().map_err(|e| mlcycle::Error::io("temporary directory", e))?;
    let csv = match std::env::args().nth(1) {
        Some(p) => p.into(),
        None => {
            let p = dir.path().join("churn.csv");
            write_example_csv(&p).map_err(|e| mlcycle::Error::io(&p, e))?;
            p
        }
    };

    // 1. Read your data: name the label, the per-row time and the columns that are not features.
    let data = read_csv(
        &csv,
        &CsvOptions {
            timestamp: Some("signed_up".into()), // inferred when left out
            ignore: vec!["customer_id".into()],  // ids are not features
            ..CsvOptions::with_target("churned")
        },
    )?;
    println!(
        "read {} rows, features {:?}",
        data.n_rows(),
        data.schema().feature_names()
    );

    // 2. Train, validate, register and deploy (the store is a directory; reopening it
    //    later resumes serving `churn@production`).
    let stack = Stack::open_with(
        dir.path().join("store"),
        Arc::new(SystemClock),
        LifecycleConfig::new("churn"),
        |b| b.data_source(Arc::new(LabelledRows(data.clone()))),
    )?;
    let outcome = stack.lifecycle.run_training(&data, Trigger::Manual).await?;
    println!("training: {:?}", outcome.decision);

    // 3. Serve: encode raw rows (e.g. from your API's JSON) with the model's signature.
    let (_, model) = stack.registry.load_model("churn@production").await?;
    let rows = model.signature().encode_json_rows(
        &[
            serde_json::json!({"tenure": 2, "monthly_charges": 110.0, "plan": "basic"}),
            serde_json::json!({"tenure": 60, "monthly_charges": 25.0, "plan": "pro"}),
        ],
        UnknownLevel::Error,
    )?;
    let answer = stack
        .deployer
        .predict(ScoreRequest {
            rows,
            request_id: None,
        })
        .await?;
    println!(
        "version {} predicts {:?}",
        answer.model_version,
        answer.prediction.values.to_vec()
    );

    // ... and a day's batch of production rows (here: the file's first 500)
    let batch = data.features().slice(ndarray::s![0..500, ..]).to_owned();
    stack
        .deployer
        .predict(ScoreRequest {
            rows: batch,
            request_id: None,
        })
        .await?;

    // 4. Monitor: flush the prediction log, then check the last hour against the training data.
    stack.collector.flush().await?;
    let now = chrono::Utc::now();
    let check = stack
        .lifecycle
        .run_monitoring(now - chrono::Duration::hours(1), now)
        .await?;
    println!("monitoring: {:?}", check.decision);
    Ok(())
}
