//! Drift detection: statistical tests (pure functions) and the [`DriftDetector`] trait with
//! its default, per-feature [`StatisticalDriftDetector`].

mod detector;
pub mod stats;

pub use detector::{StatisticalDriftConfig, StatisticalDriftDetector};

use crate::Result;
use crate::data::Dataset;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// The drift result of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// Non-missing reference values used.
    pub n_reference: usize,
    /// Non-missing current values used.
    pub n_current: usize,
    /// Missing (NaN) reference values dropped.
    pub missing_reference: usize,
    /// Missing (NaN) current values dropped: a surge is a data-quality signal.
    pub missing_current: usize,
    /// The test used.
    pub method: String,
    /// The test statistic.
    pub statistic: f64,
    /// The p-value, for tests that have one.
    pub p_value: Option<f64>,
    /// The threshold the decision used.
    pub threshold: f64,
    /// Whether the column drifted.
    pub drift: bool,
}

/// The drift result of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Per-column results, in schema order.
    pub columns: Vec<ColumnDrift>,
    /// Number of drifted columns.
    pub drifted_columns: usize,
    /// `drifted_columns / columns`.
    pub share_drifted: f64,
    /// The share of drifted columns at which the dataset counts as drifted.
    pub drift_share: f64,
    /// Whether the dataset drifted.
    pub dataset_drift: bool,
}

impl DriftReport {
    /// The drifted columns.
    pub fn drifted(&self) -> impl Iterator<Item = &ColumnDrift> {
        self.columns.iter().filter(|c| c.drift)
    }
}

/// Compares production data against a reference (usually the training data).
///
/// # Contract
/// - `reference` and `current` must have the same feature columns (names, kinds, levels);
///   otherwise [`crate::Error::SchemaMismatch`].
/// - Missing values are dropped per column and counted in the report, never silently.
/// - A column with no values on either side is an error naming the column.
/// - The result is deterministic for the same inputs.
///
/// ```
/// use mlcycle::drift::{DriftDetector, StatisticalDriftDetector};
/// use mlcycle::data::synthetic::{CreditDefault, DriftSpec};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let g = CreditDefault::new(5);
/// let reference = g.sample(3_000, &DriftSpec::none(), 0).unwrap();
/// let same = g.sample(3_000, &DriftSpec::none(), 1).unwrap();
/// let shifted = g.sample(3_000, &DriftSpec::downturn(1.0), 2).unwrap();
/// let d = StatisticalDriftDetector::default();
/// assert!(!d.detect(&reference, &same).await.unwrap().dataset_drift);
/// assert!(d.detect(&reference, &shifted).await.unwrap().dataset_drift);
/// # });
/// ```
#[async_trait]
pub trait DriftDetector: Send + Sync + Debug {
    /// Compare `current` against `reference`.
    async fn detect(&self, reference: &Dataset, current: &Dataset) -> Result<DriftReport>;
}
