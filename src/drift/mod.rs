//! Drift detection: statistical tests (pure functions, [`stats`]) and the [`DriftDetector`]
//! trait with its default, per-column [`StatisticalDriftDetector`].
//!
//! # The engine
//! [`StatisticalDriftDetector`] compares a reference sample with a current one column by
//! column, in parallel (rayon), and reports every requested method in one
//! [`DriftReport`]:
//!
//! * **Methods** ([`MethodSelection`]): `auto` is Evidently's default selection
//!   ([`stats::select_method`]: reference ≤ 1000 rows → `ks` / `chisquare` / `z` by column
//!   kind and number of distinct values; larger references → `wasserstein` for numeric
//!   columns with more than 5 distinct values, `jensenshannon` otherwise); or a list of
//!   methods, the first one that applies to a column deciding it; or one method per column
//!   ([`StatisticalDriftConfig::column_methods`]). Every requested method that applies to a
//!   column's kind is computed and reported under [`ColumnDrift::tests`].
//! * **Thresholds**: Evidently's per-method defaults (0.05 for the `ks`, `chisquare`, `z`,
//!   `mannw`, `t_test` p-values, 0.1 for distances and the other p-values), global
//!   overrides for p-value and distance methods, and per-column thresholds.
//! * **Multiple testing** ([`stats::Correction`]): none, Bonferroni or Benjamini–Hochberg
//!   over the columns decided by a p-value, with alibi-detect's semantics (`p < α/F`, or the
//!   BH step-up threshold).
//! * **Dataset drift**: when the share of drifted columns is at least `drift_share`
//!   (Evidently's rule, 0.5 by default).
//! * **Missing values**: NaN and ±inf are dropped per column and counted in the report
//!   (`missing_reference`, `missing_current`); a column left empty on either side is an
//!   error naming it.
//! * **Binning** ([`stats::Binning`]) of PSI / KL / Jensen–Shannon / Hellinger: Evidently's
//!   (edges from reference + current) or reference-fixed edges (NannyML's; the monitoring
//!   default).
//! * **Cost**: a large numeric column (≥ 16,384 pooled values, > 20 distinct reference
//!   values) whose methods are only `ks`, `wasserstein` and the binned divergences under
//!   Evidently's binning — Evidently's `auto` choice among them — is **not sorted**: its
//!   values are counted into fine buckets of the key range, and only the few buckets where
//!   the result depends on the order inside them are sorted (KS near its maximum, where
//!   the ECDF difference may change sign, where a bin edge falls). `D` is bit for bit that
//!   of the sorted path, W1 equal to rounding, bin counts exact. Every other column is
//!   sorted once (as integer keys with the order of [`f64::total_cmp`]) and every numeric
//!   method works on the sorted values by linear merges — the KS statistic and the
//!   Wasserstein distance share one merge; binned shares are built once per column and
//!   shared by PSI, KL, JS and Hellinger.
//!
//! # Profiles: drift without the raw reference
//! A [`DatasetProfile`] summarises each column of a dataset (histogram on fixed edges,
//! moments, quantile sketch; category counts). Profiles of disjoint batches merge exactly,
//! so a reference profile can be stored once with a model version and each monitoring
//! window (or each serving replica) contributes a profile on the same edges.
//! [`StatisticalDriftDetector::detect_profiles`] runs the binned methods (PSI, KL,
//! Jensen–Shannon, Hellinger with reference binning) and the categorical tests from two
//! profiles and gives the same numbers as the raw-data path.
//!
//! The lifecycle stores the reference profile of each version's training data in the
//! version's artifact ([`crate::model::ModelArtifact::with_reference_profile`]) and, when
//! it has no raw baseline in memory (after a restart), monitors with
//! [`DriftDetector::detect_from_profile`]. Tests that need the reference values (KS,
//! Wasserstein, Anderson, …) cannot run that way, so the profile path has its own method
//! list, [`StatisticalDriftConfig::profile_methods`]: by default categorical columns are
//! decided by the chi-square test as on raw data and numeric ones by the Jensen–Shannon
//! distance (base 2, reference-fixed Doane bins) at NannyML's threshold 0.1, with PSI
//! reported too. Each column of the report names the method that decided it.
//!
//! # The default for the lifecycle
//! [`StatisticalDriftConfig::default`] — used by [`StatisticalDriftDetector::default`],
//! and so by the lifecycle's monitoring cycle — decides numeric columns with the
//! two-sample Kolmogorov–Smirnov test and categorical ones with the chi-square test
//! (p < 0.05 as Evidently compares them, no correction, dataset drift when half the columns
//! drift), and also reports the Wasserstein distance, PSI and Jensen–Shannon distance of
//! every column, with reference-fixed bins.
//!
//! It does not use `auto`: with a training reference larger than 1000 rows, `auto` decides
//! by Wasserstein / Jensen–Shannon distances against a fixed 0.1, which ignores how much
//! evidence a window holds. Measured on the credit-default scenario (13 columns, 7-day
//! windows of 2,800 rows against a 15,000-row reference, 30 seeds each): on the first
//! evening after a downturn starts (1/7 of the window drifted) the p-value rule calls
//! dataset drift in 29 of 30 windows, `auto` in none (it needs two drifted days: 29 of 30);
//! without drift the p-value rule flagged at most 3 of 13 columns (mean 1.0), far from the
//! half-of-the-columns rule, and neither raised a dataset alarm. So the p-value rule finds
//! drift a day earlier at no cost in false alarms. `auto` is one constructor away
//! ([`StatisticalDriftConfig::evidently`]) and is what the `mlcycle drift` command uses.

mod config;
#[cfg(any(test, feature = "conformance"))]
mod conformance;
mod detector;
mod engine;
pub mod prediction;
mod report;
pub mod stats;

pub use crate::data::{ColumnProfile, ColumnSummary, DatasetProfile};
pub use config::{MethodSelection, StatisticalDriftConfig};
#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use conformance::drift_conformance;
pub use detector::StatisticalDriftDetector;
pub use engine::{ColumnInput, ColumnValues};
pub use report::{ColumnDrift, ColumnKind, DriftReport, MethodOutcomes, TestOutcome};

use crate::data::Dataset;
use crate::{Error, Result};
use async_trait::async_trait;
use std::fmt::Debug;

/// Compares production data against a reference (usually the training data).
///
/// # Contract
/// - `reference` and `current` must have the same feature columns (names, kinds, levels);
///   otherwise [`crate::Error::SchemaMismatch`].
/// - Only feature columns are compared. The target is not a feature: the reference is
///   usually the labelled training data and the current window the unlabelled served rows,
///   so a target on either side is ignored (label drift is not measured here).
/// - Missing values are dropped per column and counted in the report, never silently.
/// - A column with no values on either side is an error naming the column.
/// - The result is deterministic for the same inputs.
/// - The report has one column per feature, named and ordered as the reference's; the
///   same data shows no drift and a strong shift of one column is drift on that column.
///
/// `drift_conformance` (feature `conformance`) checks this for any detector; every
/// built-in configuration runs it in `cargo test`.
///
/// ```
/// use mlcycle::drift::{DriftDetector, StatisticalDriftDetector};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
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

    /// Compare `current` against a stored reference profile (the [`DatasetProfile::reference`]
    /// of the training data, kept with the model version) instead of the raw reference.
    /// The lifecycle calls this when it has no raw baseline in memory, e.g. after a restart.
    ///
    /// Only methods that work on counts and reference-fixed histograms can run this way;
    /// the report names the method that decided each column. The default implementation
    /// returns [`Error::InvalidInput`] saying that the detector needs the raw reference
    /// data, so detectors written before profiles existed keep compiling.
    async fn detect_from_profile(
        &self,
        reference: &DatasetProfile,
        current: &Dataset,
    ) -> Result<DriftReport> {
        let _ = (reference, current);
        Err(Error::invalid(
            "drift reference",
            "this drift detector needs the raw reference data and cannot compare against a \
             stored reference profile; give it the training data (`Lifecycle::set_reference`) \
             or implement `DriftDetector::detect_from_profile`",
        ))
    }
}
