//! Training: the [`Trainer`] trait and built-in algorithms.
//!
//! The fitting routines are pure functions ([`fit_logistic`], [`fit_ridge`], the
//! [`trees`] learners); the trait implementations wrap them in `spawn_blocking` so an
//! async caller is never stalled by a long fit.
//!
//! - [`LinearModelTrainer`]: logistic regression for classes, ridge regression for values.
//! - [`AlgorithmTrainer`]: one algorithm chosen by name — `gbdt`, `logistic`, `linear`,
//!   `tree`, `forest` — with its parameters as a JSON object (unknown names and bad values
//!   are errors). Tree models are stored as the `gbdt`, `decision_tree` and `random_forest`
//!   artifact flavors (see [`crate::model::TreeModel`] for their preprocessing).
//! - [`SearchTrainer`]: seeded k-fold cross-validation (stratified for classes) of every
//!   parameter set of a [`SearchSpace`], the best picked by a named metric and refitted on
//!   all the data; every trial is returned in the params under `"search"`.
//! - Progress: [`TrainContext::with_progress`] receives `(what, done, total)`; the lifecycle
//!   forwards it to [`crate::lifecycle::Observer::progress`].
//!
//! # Search space format (`SPACE.json`)
//!
//! ```json
//! {"grid": {"learning_rate": [0.05, 0.1], "max_iter": [100, 200]}}
//! ```
//! tries every combination (names in lexicographic order, at most 10,000), and
//! ```json
//! {"random": {"n_trials": 10, "space": {
//!     "learning_rate": {"log_uniform": [0.01, 0.3]},
//!     "max_leaf_nodes": {"int": [8, 64]},
//!     "l2_regularization": {"uniform": [0.0, 1.0]},
//!     "early_stopping": ["Enabled", "Disabled"]}}}
//! ```
//! draws `n_trials` sets from a generator seeded by the training seed (a list means a
//! uniform choice among its values).

mod algorithm;
#[cfg(any(test, feature = "conformance"))]
mod conformance;
mod lbfgs;
mod linalg;
mod linear;
mod search;
pub mod trees;

pub use algorithm::{Algorithm, AlgorithmTrainer};
#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use conformance::{TargetKinds, trainer_conformance};
pub use search::{
    CvResult, Distribution, MAX_TRIALS, SearchOutcome, SearchSpace, SearchTrainer, Trial,
    cross_validate, kfold, stratified_kfold,
};

pub use linear::{
    CheckedLogisticParams, CheckedRidgeParams, LogisticParams, RidgeParams, fit_logistic, fit_ridge,
};

use crate::data::{Dataset, TargetKind};
use crate::model::Model;
use crate::{Error, Result};
use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;

/// Inputs to a training run besides the data.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TrainContext {
    /// Seed for any randomness in the algorithm (splits, bootstraps, ...).
    pub seed: u64,
    /// Where progress goes (`None`: nowhere).
    pub progress: Option<ProgressFn>,
}

impl TrainContext {
    /// A context with the given seed.
    pub fn with_seed(seed: u64) -> Self {
        TrainContext {
            seed,
            progress: None,
        }
    }

    /// This context with a progress callback, called with `(what, done, total)`: `what` is
    /// `"fit"` (boosting iterations or trees of one fit), `"fold"` (cross-validation folds)
    /// or `"trial"` (search trials).
    pub fn with_progress(mut self, f: impl Fn(&str, usize, usize) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(Arc::new(f)));
        self
    }
}

/// A progress callback: `(what, done, total)`. See [`TrainContext::with_progress`].
#[derive(Clone)]
pub struct ProgressFn(Arc<ProgressCallback>);

type ProgressCallback = dyn Fn(&str, usize, usize) + Send + Sync;

impl ProgressFn {
    /// Report that `done` of `total` units of `what` are finished.
    pub fn report(&self, what: &str, done: usize, total: usize) {
        (self.0)(what, done, total)
    }
}

impl Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

/// The outcome of a training run.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The fitted model (preprocessing included).
    pub model: Arc<dyn Model>,
    /// The algorithm's name (e.g. `logistic_regression`).
    pub algorithm: String,
    /// The parameters used, as JSON (recorded in the version's lineage).
    pub params: serde_json::Value,
}

/// Fits a model on a labelled dataset.
///
/// # Contract
/// - `train` never panics on bad data: an empty dataset, a missing target, a target of the
///   wrong kind for the algorithm, or a numerical failure are returned as errors.
/// - The same data, trainer and `ctx.seed` give the same model.
/// - The returned model's signature is the dataset's schema (features + target), and its
///   preprocessing is fitted on `data` only.
/// - Long fits do not block the async runtime.
///
/// `trainer_conformance` (feature `conformance`) checks the first three for any trainer;
/// every built-in trainer runs it in `cargo test`.
///
/// ```
/// use mlcycle::train::{Trainer, LinearModelTrainer, TrainContext};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = CreditDefault::new(3).sample(2_000, &DriftSpec::none(), 0).unwrap();
/// let trainer = LinearModelTrainer::default();
/// let trained = trainer.train(&data, &TrainContext::with_seed(1)).await.unwrap();
/// assert_eq!(trained.algorithm, "logistic_regression");
/// let p = trained.model.predict(data.features()).unwrap();
/// assert!(p.probabilities.is_some());
/// # });
/// ```
#[async_trait]
pub trait Trainer: Send + Sync + Debug {
    /// A short name for logs and lineage.
    fn name(&self) -> &str;
    /// Fit a model on `data`.
    async fn train(&self, data: &Dataset, ctx: &TrainContext) -> Result<TrainedModel>;
}

/// The default trainer: logistic regression for classification targets, ridge regression
/// for numeric targets.
#[derive(Debug, Clone)]
pub struct LinearModelTrainer {
    logistic: CheckedLogisticParams,
    ridge: CheckedRidgeParams,
}

impl Default for LinearModelTrainer {
    fn default() -> Self {
        LinearModelTrainer {
            // The defaults are valid by construction.
            logistic: LogisticParams::default().check().expect("valid defaults"),
            ridge: RidgeParams::default().check().expect("valid defaults"),
        }
    }
}

impl LinearModelTrainer {
    /// A trainer with the given (checked) parameters.
    pub fn new(logistic: CheckedLogisticParams, ridge: CheckedRidgeParams) -> Self {
        LinearModelTrainer { logistic, ridge }
    }
}

#[async_trait]
impl Trainer for LinearModelTrainer {
    fn name(&self) -> &str {
        "linear_model"
    }

    async fn train(&self, data: &Dataset, _ctx: &TrainContext) -> Result<TrainedModel> {
        let target = data
            .schema()
            .target
            .as_ref()
            .ok_or_else(|| {
                Error::SchemaMismatch(
                    "training needs labelled data: the dataset has no target column".into(),
                )
            })?
            .kind
            .clone();
        let data = data.clone();
        let this = self.clone();
        tokio::task::spawn_blocking(move || match target {
            TargetKind::Regression => Ok(TrainedModel {
                model: Arc::new(fit_ridge(&data, &this.ridge)?) as Arc<dyn Model>,
                algorithm: "ridge_regression".into(),
                params: serde_json::to_value(this.ridge.get())?,
            }),
            _ => Ok(TrainedModel {
                model: Arc::new(fit_logistic(&data, &this.logistic)?) as Arc<dyn Model>,
                algorithm: "logistic_regression".into(),
                params: serde_json::to_value(this.logistic.get())?,
            }),
        })
        .await
        .map_err(|e| Error::task("training", e))?
    }
}
