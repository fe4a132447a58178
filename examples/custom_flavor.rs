//! Bring your own model type: a hand-written nearest-centroid classifier becomes a model
//! flavor of its own, is trained by a custom `Trainer`, registered, served over HTTP and
//! monitored like the built-in algorithms.
//!
//! The three pieces an application writes:
//! 1. the model type, implementing [`Model`] (its `to_artifact` stores the flavor name, the
//!    signature and its own bytes with [`ModelArtifact::flavored`]);
//! 2. a [`ModelFlavor`] that loads those bytes back;
//! 3. a [`Trainer`] that fits the model.
//!
//! The flavor is registered on the lifecycle builder (`b.flavor(...)`), after which every
//! loading path (the registry, the HTTP server following an alias, monitoring) finds it.
//!
//! Run: `cargo run --example custom_flavor` (it trains, serves one request and exits).

use async_trait::async_trait;
use mlcycle::data::Dataset;
use mlcycle::deploy::http::{FollowSpec, HttpConfig, HttpDeployer};
use mlcycle::lifecycle::{MonitoringOutcome, TrainingOutcome};
use mlcycle::model::{Model, ModelArtifact, ModelFlavor, Prediction, Signature};
use mlcycle::prelude::*;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{TrainContext, TrainedModel};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The flavor name written into every artifact of this model type.
pub const FLAVOR: &str = "nearest_centroid";

/// The fitted parameters, stored as JSON in the artifact's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Centroids {
    /// Per input column: mean and standard deviation of the training data (for scaling) —
    /// missing values are replaced by the mean.
    mean: Vec<f64>,
    std: Vec<f64>,
    /// One centroid per class, in scaled units.
    centroids: Vec<Vec<f64>>,
}

/// A nearest-centroid classifier: the class whose (scaled) centroid is closest wins;
/// probabilities are a softmax of the negative squared distances.
#[derive(Debug, Clone)]
pub struct NearestCentroid {
    signature: Signature,
    params: Centroids,
}

impl NearestCentroid {
    /// Fit on a labelled classification dataset.
    fn fit(data: &Dataset) -> mlcycle::Result<Self> {
        let signature = Signature::from_training_schema(data.schema())?;
        let k = signature.n_classes();
        if k < 2 {
            return Err(mlcycle::Error::invalid(
                "target",
                "a nearest-centroid model needs a classification target",
            ));
        }
        let x = data.features();
        let y = data.require_target()?;
        let (n, p) = x.dim();
        let mut mean = vec![0.0; p];
        let mut std = vec![1.0; p];
        for j in 0..p {
            let present: Vec<f64> = x
                .column(j)
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            if present.is_empty() {
                continue;
            }
            let m = present.iter().sum::<f64>() / present.len() as f64;
            let var = present.iter().map(|v| (v - m).powi(2)).sum::<f64>() / present.len() as f64;
            mean[j] = m;
            std[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
        }
        let mut centroids = vec![vec![0.0; p]; k];
        let mut counts = vec![0usize; k];
        for i in 0..n {
            let c = y[i] as usize;
            counts[c] += 1;
            for j in 0..p {
                centroids[c][j] += scaled(x[[i, j]], mean[j], std[j]);
            }
        }
        for (c, count) in centroids.iter_mut().zip(&counts) {
            for v in c.iter_mut() {
                *v /= (*count).max(1) as f64;
            }
        }
        Ok(NearestCentroid {
            signature,
            params: Centroids {
                mean,
                std,
                centroids,
            },
        })
    }
}

fn scaled(v: f64, mean: f64, std: f64) -> f64 {
    if v.is_nan() { 0.0 } else { (v - mean) / std }
}

impl Model for NearestCentroid {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> mlcycle::Result<Prediction> {
        let p = self.params.mean.len();
        if x.ncols() != p {
            return Err(mlcycle::Error::SchemaMismatch(format!(
                "expected {p} columns, got {}",
                x.ncols()
            )));
        }
        let k = self.params.centroids.len();
        let mut probabilities = Array2::zeros((x.nrows(), k));
        let mut values = Array1::zeros(x.nrows());
        for (i, row) in x.rows().into_iter().enumerate() {
            let d: Vec<f64> = self
                .params
                .centroids
                .iter()
                .map(|c| {
                    row.iter()
                        .zip(c)
                        .enumerate()
                        .map(|(j, (&v, &m))| {
                            (scaled(v, self.params.mean[j], self.params.std[j]) - m).powi(2)
                        })
                        .sum::<f64>()
                })
                .collect();
            let best = d.iter().copied().fold(f64::INFINITY, f64::min);
            let w: Vec<f64> = d.iter().map(|v| (best - v).exp()).collect();
            let s: f64 = w.iter().sum();
            for (c, wc) in w.iter().enumerate() {
                probabilities[[i, c]] = wc / s;
            }
            values[i] = d.iter().position(|&v| v == best).unwrap_or(0) as f64;
        }
        Ok(Prediction {
            values,
            probabilities: Some(probabilities),
        })
    }

    fn to_artifact(&self) -> mlcycle::Result<ModelArtifact> {
        ModelArtifact::flavored(
            FLAVOR,
            self.signature.clone(),
            serde_json::to_vec(&self.params)?,
        )
    }
}

/// Loads [`NearestCentroid`] artifacts.
#[derive(Debug)]
pub struct NearestCentroidFlavor;

impl ModelFlavor for NearestCentroidFlavor {
    fn name(&self) -> &str {
        FLAVOR
    }

    fn load(&self, bytes: &[u8], signature: &Signature) -> mlcycle::Result<Arc<dyn Model>> {
        let params: Centroids = serde_json::from_slice(bytes)
            .map_err(|e| mlcycle::Error::Data(format!("not a nearest-centroid model: {e}")))?;
        let p = signature.inputs.n_features();
        if params.mean.len() != p
            || params.std.len() != p
            || params.centroids.len() != signature.n_classes()
            || params.centroids.iter().any(|c| c.len() != p)
        {
            return Err(mlcycle::Error::SchemaMismatch(
                "the stored centroids do not match the signature".into(),
            ));
        }
        Ok(Arc::new(NearestCentroid {
            signature: signature.clone(),
            params,
        }))
    }
}

/// Trains [`NearestCentroid`] models.
#[derive(Debug)]
pub struct NearestCentroidTrainer;

#[async_trait]
impl Trainer for NearestCentroidTrainer {
    fn name(&self) -> &str {
        "nearest_centroid"
    }

    async fn train(&self, data: &Dataset, _ctx: &TrainContext) -> mlcycle::Result<TrainedModel> {
        Ok(TrainedModel {
            model: Arc::new(NearestCentroid::fit(data)?),
            algorithm: self.name().to_string(),
            params: serde_json::json!({}),
        })
    }
}

/// What the example did.
#[derive(Debug)]
pub struct Run {
    /// The training run.
    pub training: TrainingOutcome,
    /// HTTP status and body of the one scoring request.
    pub http: (u16, String),
    /// The monitoring run over the served traffic.
    pub monitoring: MonitoringOutcome,
}

/// Train, register, serve over HTTP (one request) and monitor.
pub async fn run() -> mlcycle::Result<Run> {
    let clock = Arc::new(SystemClock);
    let stack = Stack::in_memory_with(clock.clone(), LifecycleConfig::new("credit"), |b| {
        b.trainer(Arc::new(NearestCentroidTrainer))
            .flavor(Arc::new(NearestCentroidFlavor))
    })?;
    let data = CreditDefault::new(3).sample(2_000, &DriftSpec::none(), 0)?;
    let training = stack.lifecycle.run_training(&data, Trigger::Manual).await?;

    // Serve the production alias over HTTP: the server loads the version from the registry
    // through the registered flavor.
    let server = HttpDeployer::start(
        HttpConfig {
            addr: ([127, 0, 0, 1], 0).into(),
            ..HttpConfig::default()
        },
        clock,
        Some(stack.collector.clone()),
    )
    .await?;
    let _follower = server
        .follow(stack.registry.clone(), FollowSpec::new("credit@production"))
        .await?;
    let row = serde_json::json!({"dataframe_records": [{
        "age": 35, "income": 52000, "debt_ratio": 0.3, "credit_limit": 9000, "utilization": 0.5,
        "late_payments": 0, "months_employed": 40, "n_accounts": 4, "loan_amount": 8000,
        "interest_rate": 7.5, "home_ownership": "rent", "purpose": "car", "region": "north"}]});
    let answer = reqwest::Client::new()
        .post(format!("{}/invocations", server.endpoint()))
        .header("content-type", "application/json")
        .body(row.to_string())
        .send()
        .await
        .map_err(|e| mlcycle::Error::invalid("request", e))?;
    let http = (
        answer.status().as_u16(),
        answer.text().await.unwrap_or_default(),
    );
    server.undeploy().await?; // flushes its records into the prediction log

    // Some in-process traffic too, then a monitoring run over the last hour.
    let batch = CreditDefault::new(3).sample(500, &DriftSpec::none(), 1)?;
    stack
        .deployer
        .predict(ScoreRequest {
            rows: batch.features().to_owned(),
            request_id: None,
        })
        .await?;
    stack.collector.flush().await?;
    let now = chrono::Utc::now();
    let monitoring = stack
        .lifecycle
        .run_monitoring(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::minutes(1),
        )
        .await?;
    Ok(Run {
        training,
        http,
        monitoring,
    })
}

#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let r = run().await?;
    println!(
        "registered {}/{} (flavor {}): {:?}",
        r.training.version.name,
        r.training.version.version,
        r.training.version.flavor,
        r.training.decision
    );
    println!("POST /invocations → {} {}", r.http.0, r.http.1);
    println!(
        "monitoring: {} rows, decision {:?}",
        r.monitoring.report.as_ref().map_or(0, |m| m.health.rows),
        r.monitoring.decision
    );
    Ok(())
}
