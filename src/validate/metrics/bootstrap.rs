//! Seeded paired bootstrap confidence interval for a metric difference.

use ndarray::{ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{input, named};
use crate::{Error, Result};

/// The outputs of one model on the evaluation rows.
#[derive(Debug, Clone, Copy)]
pub enum ModelOutputs<'a> {
    /// A classifier: predicted labels `0..k` (as `f64`) and `n × k` class
    /// probabilities. Used with the names in
    /// [`CLASSIFIER_METRICS`](super::CLASSIFIER_METRICS).
    Classifier {
        /// Predicted class labels.
        y_pred: ArrayView1<'a, f64>,
        /// Predicted class probabilities, one column per class.
        proba: ArrayView2<'a, f64>,
    },
    /// A regressor: predicted values. Used with the names in
    /// [`REGRESSOR_METRICS`](super::REGRESSOR_METRICS).
    Regressor {
        /// Predicted values.
        y_pred: ArrayView1<'a, f64>,
    },
}

impl ModelOutputs<'_> {
    fn metric(&self, name: &str, y_true: ArrayView1<f64>) -> Result<f64> {
        match self {
            ModelOutputs::Classifier { y_pred, proba } => {
                named::classifier_metric(name, y_true, *y_pred, *proba)
            }
            ModelOutputs::Regressor { y_pred } => named::regressor_metric(name, y_true, *y_pred),
        }
    }

    fn metric_on_rows(&self, name: &str, y_true: ArrayView1<f64>, rows: &[usize]) -> Result<f64> {
        match self {
            ModelOutputs::Classifier { y_pred, proba } => {
                let y_pred = y_pred.select(Axis(0), rows);
                let proba = proba.select(Axis(0), rows);
                named::classifier_metric(name, y_true, y_pred.view(), proba.view())
            }
            ModelOutputs::Regressor { y_pred } => {
                let y_pred = y_pred.select(Axis(0), rows);
                named::regressor_metric(name, y_true, y_pred.view())
            }
        }
    }

    fn rows(&self) -> usize {
        match self {
            ModelOutputs::Classifier { y_pred, .. } | ModelOutputs::Regressor { y_pred } => {
                y_pred.len()
            }
        }
    }
}

/// Settings of [`paired_bootstrap_ci`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of bootstrap resamples (at least 1; 1,000–10,000 is typical).
    pub n_resamples: usize,
    /// Two-sided confidence level in `(0, 1)`, e.g. `0.95`.
    pub confidence: f64,
    /// Seed of the ChaCha8 generator; the same seed gives the same interval on
    /// every platform.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    /// 1,000 resamples, 95 % confidence, seed 0.
    fn default() -> Self {
        BootstrapConfig {
            n_resamples: 1000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// A percentile bootstrap confidence interval for `metric(A) − metric(B)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapCi {
    /// The metric name.
    pub metric: String,
    /// The metric of model A on all rows.
    pub metric_a: f64,
    /// The metric of model B on all rows.
    pub metric_b: f64,
    /// `metric_a − metric_b` on all rows (the point estimate).
    pub difference: f64,
    /// Lower bound of the interval.
    pub lower: f64,
    /// Upper bound of the interval.
    pub upper: f64,
    /// The confidence level of the interval.
    pub confidence: f64,
    /// Resamples drawn.
    pub n_resamples: usize,
    /// Resamples on which the metric was defined for both models (the interval
    /// is computed from these; e.g. a resample with one class has no ROC AUC).
    pub n_valid: usize,
}

/// Seeded paired bootstrap confidence interval for the difference of a named
/// metric between two models evaluated on the same rows.
///
/// Each resample draws `n` row indices uniformly with replacement (one index
/// set shared by both models, which keeps the pairing), computes
/// `metric(A) − metric(B)` on those rows, and the interval is the
/// `(1 − confidence)/2` and `(1 + confidence)/2` percentiles of these
/// differences (linear interpolation between order statistics, numpy's default).
///
/// Row indices come from `ChaCha8Rng::seed_from_u64(config.seed)`, drawing
/// each index as a `u64` in `0..n`, so the interval is reproducible for a seed
/// on every platform. Resamples on which the metric is undefined for either
/// model (say, a single class for ROC AUC) are skipped and counted; fewer than
/// half valid resamples is an error.
///
/// Both models must be of the same kind, the metric must belong to that kind
/// (a name from [`CLASSIFIER_METRICS`](super::CLASSIFIER_METRICS) or
/// [`REGRESSOR_METRICS`](super::REGRESSOR_METRICS)), and the metric must be
/// defined on the full data.
pub fn paired_bootstrap_ci(
    metric: &str,
    y_true: ArrayView1<f64>,
    a: &ModelOutputs<'_>,
    b: &ModelOutputs<'_>,
    config: &BootstrapConfig,
) -> Result<BootstrapCi> {
    if config.n_resamples == 0 {
        return Err(Error::invalid("n_resamples", "must be at least 1"));
    }
    if !(config.confidence > 0.0 && config.confidence < 1.0) {
        return Err(Error::invalid(
            "confidence",
            format!("{} is not in the open interval (0, 1)", config.confidence),
        ));
    }
    match (a, b) {
        (
            ModelOutputs::Classifier { proba: pa, .. },
            ModelOutputs::Classifier { proba: pb, .. },
        ) => {
            if !named::is_classifier_metric(metric) {
                return Err(wrong_kind(metric, "classifier"));
            }
            if pa.ncols() != pb.ncols() {
                return Err(Error::invalid(
                    "model outputs",
                    format!(
                        "model A has {} probability columns but model B has {}",
                        pa.ncols(),
                        pb.ncols()
                    ),
                ));
            }
        }
        (ModelOutputs::Regressor { .. }, ModelOutputs::Regressor { .. }) => {
            if !named::is_regressor_metric(metric) {
                return Err(wrong_kind(metric, "regressor"));
            }
        }
        _ => {
            return Err(Error::invalid(
                "model outputs",
                "one model is a classifier and the other a regressor; compare like with like",
            ));
        }
    }
    let n = y_true.len();
    input::non_empty("y_true", n)?;
    input::same_len("y_true", n, "model A outputs", a.rows())?;
    input::same_len("y_true", n, "model B outputs", b.rows())?;

    // Full-data values; this also validates every input once.
    let metric_a = a.metric(metric, y_true)?;
    let metric_b = b.metric(metric, y_true)?;

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut rows = vec![0usize; n];
    let mut diffs = Vec::with_capacity(config.n_resamples);
    for _ in 0..config.n_resamples {
        for r in rows.iter_mut() {
            // Drawn as u64 so the stream does not depend on the width of usize.
            *r = rng.random_range(0..n as u64) as usize;
        }
        let yt = y_true.select(Axis(0), &rows);
        let (Ok(ma), Ok(mb)) = (
            a.metric_on_rows(metric, yt.view(), &rows),
            b.metric_on_rows(metric, yt.view(), &rows),
        ) else {
            continue;
        };
        diffs.push(ma - mb);
    }
    let n_valid = diffs.len();
    if n_valid == 0 || 2 * n_valid < config.n_resamples {
        return Err(Error::Data(format!(
            "metric `{metric}` was defined on only {n_valid} of {} bootstrap resamples; \
             the sample is too small or too unbalanced for a bootstrap interval",
            config.n_resamples
        )));
    }
    diffs.sort_unstable_by(f64::total_cmp);
    let alpha = 1.0 - config.confidence;
    Ok(BootstrapCi {
        metric: metric.to_string(),
        metric_a,
        metric_b,
        difference: metric_a - metric_b,
        lower: quantile(&diffs, alpha / 2.0),
        upper: quantile(&diffs, 1.0 - alpha / 2.0),
        confidence: config.confidence,
        n_resamples: config.n_resamples,
        n_valid,
    })
}

fn wrong_kind(metric: &str, kind: &str) -> Error {
    Error::invalid(
        "metric",
        format!("`{metric}` is not a {kind} metric (see CLASSIFIER_METRICS / REGRESSOR_METRICS)"),
    )
}

/// Quantile `q ∈ [0, 1]` of sorted, non-empty data with linear interpolation
/// between order statistics (numpy `quantile(method="linear")`).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}
