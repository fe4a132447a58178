//! The serving cost of a model: artifact size, single-row latency and batch throughput,
//! measured on the holdout and checked against budgets ("profile" in the drift module
//! means something else: the reference profile of the training data).
//!
//! Timings are measured with a monotonic clock at run time; they depend on the machine and its
//! load, so they are reported and checked against budgets, never compared bit for bit.

use crate::data::Dataset;
use crate::model::Model;
use crate::{Error, Result};
use ndarray::s;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// What to measure, and the budgets that block a promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CostBudget {
    /// Rows scored one at a time to measure latency (the first rows of the holdout; default 200).
    pub latency_rows: usize,
    /// Largest acceptable 99th-percentile single-row latency, in microseconds.
    pub max_latency_p99_us: Option<f64>,
    /// Largest acceptable serialised artifact, in bytes.
    pub max_artifact_bytes: Option<u64>,
    /// Smallest acceptable batch throughput, in rows per second.
    pub min_throughput_rows_per_s: Option<f64>,
}

impl Default for CostBudget {
    fn default() -> Self {
        CostBudget {
            latency_rows: 200,
            max_latency_p99_us: None,
            max_artifact_bytes: None,
            min_throughput_rows_per_s: None,
        }
    }
}

impl CostBudget {
    pub(crate) fn check(&self) -> Result<()> {
        if self.latency_rows == 0 {
            return Err(Error::invalid("latency_rows", "must be at least 1"));
        }
        for (name, v) in [
            ("max_latency_p99_us", self.max_latency_p99_us),
            ("min_throughput_rows_per_s", self.min_throughput_rows_per_s),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(Error::invalid(
                    name,
                    format!("{v} must be a finite number ≥ 0"),
                ));
            }
        }
        Ok(())
    }
}

/// What [`measure_serving_cost`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingCost {
    /// Size of the serialised artifact ([`crate::model::ModelArtifact::to_bytes`]).
    pub artifact_bytes: u64,
    /// Median single-row latency, microseconds.
    pub latency_p50_us: f64,
    /// 99th-percentile single-row latency, microseconds.
    pub latency_p99_us: f64,
    /// Rows scored one at a time.
    pub latency_samples: usize,
    /// Rows per second when the whole holdout is scored as one batch.
    pub throughput_rows_per_s: f64,
    /// Rows in that batch.
    pub batch_rows: usize,
}

impl ServingCost {
    /// The measurements as version metrics (`profile_*`: the names stored with versions
    /// since before the rename, kept so existing registries and thresholds still match).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        [
            ("profile_artifact_bytes", self.artifact_bytes as f64),
            ("profile_latency_p50_us", self.latency_p50_us),
            ("profile_latency_p99_us", self.latency_p99_us),
            ("profile_throughput_rows_per_s", self.throughput_rows_per_s),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Measure `model` on `holdout`: artifact size, latency of `config.latency_rows` single-row
/// predictions (after one warm-up call), and the throughput of one batch prediction of every
/// holdout row.
pub fn measure_serving_cost(
    model: &dyn Model,
    holdout: &Dataset,
    config: &CostBudget,
) -> Result<ServingCost> {
    config.check()?;
    if holdout.is_empty() {
        return Err(Error::Data(
            "cannot measure the serving cost on an empty holdout".into(),
        ));
    }
    let artifact_bytes = model
        .to_artifact()
        .and_then(|a| a.to_bytes())
        .map_err(|e| {
            Error::invalid(
                "model artifact",
                format!(
                    "the candidate model (predicting `{}`) cannot be serialised to an artifact: \
                     {e}; measuring its serving cost needs the artifact size, and registering \
                     it needs the artifact — implement `Model::to_artifact` (see \
                     `ModelArtifact`), or turn the measurement off with \
                     `ChampionChallengerConfig {{ serving_cost: None, .. }}`",
                    model.signature().target.name
                ),
            )
        })?
        .len() as u64;
    let x = holdout.features();
    let n = x.nrows();
    let rows = config.latency_rows.min(n);
    model.predict(x.slice(s![0..1, ..]))?;
    let mut lat = Vec::with_capacity(rows);
    for i in 0..rows {
        let row = x.slice(s![i..i + 1, ..]);
        let t = Instant::now();
        model.predict(row)?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    let t = Instant::now();
    model.predict(x)?;
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    Ok(ServingCost {
        artifact_bytes,
        latency_p50_us: crate::data::quality::quantile_sorted(&lat, 0.5),
        latency_p99_us: crate::data::quality::quantile_sorted(&lat, 0.99),
        latency_samples: rows,
        throughput_rows_per_s: n as f64 / secs,
        batch_rows: n,
    })
}
