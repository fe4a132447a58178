//! Validation: holdout metrics and the champion/challenger decision.

mod champion;
pub mod metrics;

pub use champion::{ChampionChallenger, ChampionChallengerConfig};

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
}

impl ValidationReport {
    /// The first failed check, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.passed)
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
/// use mlcycle::data::synthetic::{CreditDefault, DriftSpec};
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
}
