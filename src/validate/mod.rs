//! Validation: holdout metrics and the champion/challenger decision.
//!
//! [`ChampionChallenger`] scores the candidate (and the champion) on the same holdout and
//! makes a list of [`Check`]s, each explained in words; the candidate is promoted only if all
//! pass. Configured by [`ChampionChallengerConfig`]:
//!
//! | check | default | blocks when |
//! |---|---|---|
//! | `beats_champion:<primary>` | on | the primary metric does not beat the champion by the margin: `min_improvement` (0.002) in the metric's units for scores bounded by 0 and 1 (AUC, accuracy, F1, …), that fraction of the champion's value (0.2 %) for unbounded ones (RMSE, MAE, log loss, …) — see [`MarginScale`]; the report states the margin used |
//! | `threshold:<m>`, `min_absolute_change:<m>`, `min_relative_change:<m>` | none | an MLflow-style [`MetricThreshold`] is missed (or its metric is missing) |
//! | `significance:bootstrap:<primary>`, `significance:mcnemar` | off | the paired bootstrap interval of the primary-metric difference does not exclude 0 / McNemar's p ≥ alpha (see [`McNemarPolicy`]) |
//! | `fairness:*` | off | a limit on demographic parity, equalized odds or disparate impact across a sensitive column's groups is exceeded (binary classifiers; multiclass: the largest per-class spread of selection rates against `max_demographic_parity_difference`; regressors: the error by group, reported only) |
//! | `profile:*` (serving cost) | measured, no budgets | artifact size, single-row p99 latency or batch throughput misses its budget |
//! | `fit_gap:<primary>` | reported when training data is given | the training score beats the holdout score by more than `max_train_holdout_gap` |
//!
//! A check that found nothing or has no limit to apply is `[info]`, not `[pass]`: McNemar's
//! test when it only reports, fairness without limits, and the first version of a model with
//! neither a champion nor a threshold (the report says that no threshold was checked). A
//! holdout of fewer than [`MIN_RELIABLE_HOLDOUT_ROWS`] rows adds a warning to the report.
//!
//! Significance is opt-in: a default that suddenly required statistical significance would
//! change the decisions of existing setups, and small holdouts (a few hundred rows) often
//! cannot show a real but modest gain to be significant. Turn it on where the holdout is large
//! enough for the test to have power.

mod champion;
pub mod metrics;
mod serving_cost;

pub use champion::{
    ChampionChallenger, ChampionChallengerConfig, FairnessConfig, FairnessSummary, FitGap,
    MIN_RELIABLE_HOLDOUT_ROWS, MarginScale, McNemarPolicy, MetricThreshold, SignificanceConfig,
    SignificanceSummary,
};
pub use serving_cost::{CostBudget, ServingCost, measure_serving_cost};

use crate::Result;
use crate::data::{Dataset, DatasetId};
use crate::model::Model;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

/// One check of a validation, with its outcome in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Short name, e.g. `min_value:roc_auc` or `beats_champion:roc_auc`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was compared and why it passed or failed.
    pub detail: String,
    /// An informational line rather than a verdict: the check found nothing or had no limit
    /// to hold the candidate to (McNemar's "could be noise" when it does not decide, fairness
    /// without limits, no champion and no threshold). It never blocks and prints as `[info]`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub info: bool,
}

/// The result of validating a candidate (and the champion) on a holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// The holdout's dataset id.
    pub holdout: DatasetId,
    /// Holdout rows.
    pub holdout_rows: usize,
    /// The metric the decision is based on.
    pub primary_metric: String,
    /// The candidate's metrics on the holdout.
    pub candidate: BTreeMap<String, f64>,
    /// The champion's metrics on the same holdout, if there is a champion.
    pub champion: Option<BTreeMap<String, f64>>,
    /// Every check made.
    pub checks: Vec<Check>,
    /// Whether the candidate should be promoted (all checks passed).
    pub promote: bool,
    /// Paired significance tests of candidate vs champion, when enabled and there is a champion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significance: Option<SignificanceSummary>,
    /// Group fairness of the candidate, when a sensitive column was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<FairnessSummary>,
    /// Size, latency and throughput of the candidate, when measured (serialised as
    /// `profile`, its name before the rename).
    #[serde(default, rename = "profile", skip_serializing_if = "Option::is_none")]
    pub serving_cost: Option<ServingCost>,
    /// Training vs holdout score of the candidate, when the training data was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitGap>,
    /// What a reader should know before trusting the decision (a holdout too small for it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ValidationReport {
    /// The first failed check, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.passed)
    }

    /// The metrics to record on the registered version: the candidate's holdout metrics plus
    /// `profile_artifact_bytes`, `profile_latency_p50_us`, `profile_latency_p99_us`,
    /// `profile_throughput_rows_per_s` (when the serving cost was measured) and `train_<primary metric>` (when the
    /// training data was given).
    pub fn version_metrics(&self) -> BTreeMap<String, f64> {
        let mut m = self.candidate.clone();
        if let Some(p) = &self.serving_cost {
            m.extend(p.metrics());
        }
        if let Some(f) = &self.fit {
            m.insert(format!("train_{}", f.metric), f.train);
        }
        m
    }

    /// The report in words, one line per check, for people.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on holdout {} ({} rows), primary metric {}",
            if self.promote { "PROMOTE" } else { "REJECT" },
            self.holdout.short(),
            self.holdout_rows,
            self.primary_metric
        );
        let _ = writeln!(
            s,
            "metrics (candidate{}):",
            if self.champion.is_some() {
                " | champion"
            } else {
                ""
            }
        );
        for (k, v) in &self.candidate {
            match self.champion.as_ref().and_then(|c| c.get(k)) {
                Some(c) => {
                    let _ = writeln!(s, "  {k:<20} {v:>12.6} | {c:>12.6}");
                }
                None => {
                    let _ = writeln!(s, "  {k:<20} {v:>12.6}");
                }
            }
        }
        if let Some(f) = &self.fairness {
            let _ = writeln!(
                s,
                "fairness by `{}`: demographic parity difference {:.4}, equalized odds difference {:.4}, disparate-impact ratio {}",
                f.sensitive,
                f.demographic_parity_difference,
                f.equalized_odds_difference,
                f.disparate_impact_ratio
                    .map_or("undefined".to_string(), |v| format!("{v:.4}"))
            );
            for (g, m) in &f.by_group {
                let _ = writeln!(
                    s,
                    "  {g:<16} n={:<6} selection={:.4} accuracy={:.4} tpr={:.4} fpr={:.4}",
                    m.count,
                    m.selection_rate,
                    m.accuracy,
                    m.true_positive_rate,
                    m.false_positive_rate
                );
            }
        }
        if let Some(p) = &self.serving_cost {
            let _ = writeln!(
                s,
                "serving cost: artifact {} bytes, single-row latency p50 {:.1} µs / p99 {:.1} µs ({} rows), batch {:.0} rows/s",
                p.artifact_bytes,
                p.latency_p50_us,
                p.latency_p99_us,
                p.latency_samples,
                p.throughput_rows_per_s
            );
        }
        let _ = writeln!(s, "checks:");
        for c in &self.checks {
            let _ = writeln!(
                s,
                "  [{}] {}: {}",
                match (c.passed, c.info) {
                    (false, _) => "FAIL",
                    (true, true) => "info",
                    (true, false) => "pass",
                },
                c.name,
                c.detail
            );
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}

/// Decides whether a candidate model is good enough, and better than the champion.
///
/// # Contract
/// - Both models are scored on the same `holdout` rows; metrics are computed from the
///   holdout's labels only.
/// - `promote` is true only if every check in the report passed; each check explains
///   itself in `detail`.
/// - A holdout that is unlabelled, empty or does not fit the candidate's signature is an
///   error, not a failed check.
///
/// ```
/// use mlcycle::validate::{Validator, ChampionChallenger};
/// use mlcycle::train::{Trainer, LinearModelTrainer, TrainContext};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = CreditDefault::new(3).sample(4_000, &DriftSpec::none(), 0).unwrap();
/// let (train, holdout) = data.split(0.25, 7).unwrap();
/// let model = LinearModelTrainer::default()
///     .train(&train, &TrainContext::default()).await.unwrap().model;
/// let report = ChampionChallenger::default().validate(model, None, &holdout).await.unwrap();
/// assert_eq!(report.primary_metric, "roc_auc");
/// assert!(report.candidate["roc_auc"] > 0.6);
/// # });
/// ```
#[async_trait]
pub trait Validator: Send + Sync + Debug {
    /// Validate `candidate` against `champion` (if any) on `holdout`.
    async fn validate(
        &self,
        candidate: Arc<dyn Model>,
        champion: Option<Arc<dyn Model>>,
        holdout: &Dataset,
    ) -> Result<ValidationReport>;

    /// Like [`Validator::validate`], also given the candidate's training data so that the
    /// report can compare training and holdout scores (over/underfitting). The default ignores
    /// `training` and calls `validate`.
    async fn validate_with_training(
        &self,
        candidate: Arc<dyn Model>,
        champion: Option<Arc<dyn Model>>,
        holdout: &Dataset,
        training: &Dataset,
    ) -> Result<ValidationReport> {
        let _ = training;
        self.validate(candidate, champion, holdout).await
    }
}
