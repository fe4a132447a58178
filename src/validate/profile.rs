//! Model profiling: artifact size, single-row latency and batch throughput.
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
pub struct ProfileConfig {
    /// Rows scored one at a time to measure latency (the first rows of the holdout; default 200).
    pub latency_rows: usize,
    /// Largest acceptable 99th-percentile single-row latency, in microseconds.
    pub max_latency_p99_us: Option<f64>,
    /// Largest acceptable serialised artifact, in bytes.
    pub max_artifact_bytes: Option<u64>,
    /// Smallest acceptable batch throughput, in rows per second.
    pub min_throughput_rows_per_s: Option<f64>,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            latency_rows: 200,
            max_latency_p99_us: None,
            max_artifact_bytes: None,
            min_throughput_rows_per_s: None,
        }
    }
}

impl ProfileConfig {
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

/// What profiling measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
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

impl Profile {
    /// The measurements as version metrics (`profile_*`).
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
pub fn profile_model(
    model: &dyn Model,
    holdout: &Dataset,
    config: &ProfileConfig,
) -> Result<Profile> {
    config.check()?;
    if holdout.is_empty() {
        return Err(Error::Data("cannot profile on an empty holdout".into()));
    }
    let artifact_bytes = model.to_artifact()?.to_bytes()?.len() as u64;
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
    Ok(Profile {
        artifact_bytes,
        latency_p50_us: crate::data::quality::quantile_sorted(&lat, 0.5),
        latency_p99_us: crate::data::quality::quantile_sorted(&lat, 0.99),
        latency_samples: rows,
        throughput_rows_per_s: n as f64 / secs,
        batch_rows: n,
    })
}
