//! Monitoring: health and drift of a time window of collected production data, compared
//! with the training baseline. Reads the prediction log; never talks to a deployment.

use crate::collect::{PredictionLog, PredictionRecord};
use crate::data::Dataset;
use crate::drift::{DriftDetector, DriftReport};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Service health over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Requests served.
    pub requests: usize,
    /// Rows scored.
    pub rows: usize,
    /// Requests that failed.
    pub errors: usize,
    /// `errors / requests` (0 with no requests).
    pub error_rate: f64,
    /// Median scoring latency, microseconds.
    pub latency_p50_us: u64,
    /// 99th-percentile scoring latency, microseconds.
    pub latency_p99_us: u64,
    /// Model versions that answered.
    pub versions: Vec<u32>,
}

impl HealthReport {
    /// Health figures of a set of records.
    pub fn of(records: &[PredictionRecord]) -> HealthReport {
        let mut lat: Vec<u64> = records.iter().map(|r| r.latency_us).collect();
        lat.sort_unstable();
        let pct = |q: f64| -> u64 {
            if lat.is_empty() {
                0
            } else {
                lat[((lat.len() - 1) as f64 * q).round() as usize]
            }
        };
        let errors = records.iter().filter(|r| r.error.is_some()).count();
        let mut versions: Vec<u32> = records.iter().map(|r| r.model_version).collect();
        versions.sort_unstable();
        versions.dedup();
        HealthReport {
            requests: records.len(),
            rows: records.iter().map(|r| r.inputs.len()).sum(),
            errors,
            error_rate: if records.is_empty() {
                0.0
            } else {
                errors as f64 / records.len() as f64
            },
            latency_p50_us: pct(0.5),
            latency_p99_us: pct(0.99),
            versions,
        }
    }
}

/// A data-quality problem in the window (a reason not to trust drift as a retrain signal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityFault {
    /// The column.
    pub column: String,
    /// What is wrong, in words.
    pub detail: String,
}

/// The result of one monitoring check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorReport {
    /// Window start (inclusive).
    pub from: DateTime<Utc>,
    /// Window end (exclusive).
    pub to: DateTime<Utc>,
    /// Health of the service in the window.
    pub health: HealthReport,
    /// Drift of the window's inputs against the reference; `None` if too few rows.
    pub drift: Option<DriftReport>,
    /// Data-quality faults found.
    pub quality_faults: Vec<QualityFault>,
    /// Why the drift check was skipped, if it was.
    pub skipped: Option<String>,
}

/// Settings of [`Monitor`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// Fewer scored rows than this in a window: no drift check (too little evidence).
    pub min_rows: usize,
    /// A column whose missing share exceeds the reference's by more than this is a fault.
    pub max_missing_increase: f64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            min_rows: 200,
            max_missing_increase: 0.1,
        }
    }
}

/// Reads windows of the prediction log and checks health, data quality and drift.
#[derive(Debug, Clone)]
pub struct Monitor {
    log: Arc<dyn PredictionLog>,
    detector: Arc<dyn DriftDetector>,
    config: MonitorConfig,
}

impl Monitor {
    /// A monitor over `log` using `detector`.
    pub fn new(
        log: Arc<dyn PredictionLog>,
        detector: Arc<dyn DriftDetector>,
        config: MonitorConfig,
    ) -> Self {
        Monitor {
            log,
            detector,
            config,
        }
    }

    /// Check the window `[from, to)` against `reference` (the training data of the model
    /// in production).
    pub async fn check(
        &self,
        reference: &Dataset,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MonitorReport> {
        if to <= from {
            return Err(Error::invalid(
                "monitoring window",
                format!("it ends ({to}) before it starts ({from})"),
            ));
        }
        let records = self.log.read_window(from, to).await?;
        let health = HealthReport::of(&records);
        let current = window_dataset(reference, &records)?;
        let mut report = MonitorReport {
            from,
            to,
            health,
            drift: None,
            quality_faults: vec![],
            skipped: None,
        };
        let Some(current) = current.filter(|c| c.n_rows() >= self.config.min_rows) else {
            report.skipped = Some(format!(
                "fewer than {} scored rows in the window",
                self.config.min_rows
            ));
            return Ok(report);
        };
        report.quality_faults =
            quality_faults(reference, &current, self.config.max_missing_increase);
        report.drift = Some(self.detector.detect(reference, &current).await?);
        Ok(report)
    }
}

/// The successfully scored rows of `records` as a dataset with `reference`'s features.
fn window_dataset(reference: &Dataset, records: &[PredictionRecord]) -> Result<Option<Dataset>> {
    let width = reference.schema().n_features();
    let rows: Vec<(&Vec<f64>, DateTime<Utc>)> = records
        .iter()
        .filter(|r| r.error.is_none())
        .flat_map(|r| r.inputs.iter().map(move |row| (row, r.at)))
        .filter(|(row, _)| row.len() == width)
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let mut x = Array2::<f64>::zeros((rows.len(), width));
    for (i, (row, _)) in rows.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            x[[i, j]] = *v;
        }
    }
    let ts = rows.iter().map(|(_, t)| *t).collect();
    Ok(Some(
        Dataset::new(reference.schema().without_target(), x, None, Some(ts))?
            .with_source("prediction log window"),
    ))
}

fn quality_faults(reference: &Dataset, current: &Dataset, max_increase: f64) -> Vec<QualityFault> {
    let miss = |d: &Dataset, j: usize| {
        d.features().column(j).iter().filter(|v| v.is_nan()).count() as f64
            / d.n_rows().max(1) as f64
    };
    reference
        .schema()
        .features
        .iter()
        .enumerate()
        .filter_map(|(j, f)| {
            let (r, c) = (miss(reference, j), miss(current, j));
            (c - r > max_increase).then(|| QualityFault {
                column: f.name.clone(),
                detail: format!(
                    "{:.1}% missing in production vs {:.1}% in training",
                    100.0 * c,
                    100.0 * r
                ),
            })
        })
        .collect()
}
