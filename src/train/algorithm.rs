//! Built-in algorithms selectable by name, with parameters given as JSON.

use super::trees::{
    CheckedDecisionTreeParams, CheckedGbdtParams, CheckedRandomForestParams, DecisionTreeParams,
    GbdtParams, RandomForestParams, TrainProgress, TreeTask,
};
use super::{
    CheckedLogisticParams, CheckedRidgeParams, LogisticParams, ProgressFn, RidgeParams,
    TrainContext, TrainedModel, Trainer, fit_logistic, fit_ridge,
};
use crate::data::{Dataset, TargetKind};
use crate::model::{Model, Signature, TreeLearner, TreeModel, TreePreprocessor};
use crate::{Error, Result};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A built-in algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Histogram gradient-boosted trees (classification and regression).
    Gbdt,
    /// Logistic regression (classification).
    Logistic,
    /// Ridge regression (regression).
    Linear,
    /// A CART decision tree (classification and regression).
    Tree,
    /// A random forest (classification and regression).
    Forest,
}

impl Algorithm {
    /// Every algorithm, in the order of their names in [`Algorithm::NAMES`].
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Gbdt,
        Algorithm::Logistic,
        Algorithm::Linear,
        Algorithm::Tree,
        Algorithm::Forest,
    ];
    /// The names accepted by [`Algorithm::from_str`].
    pub const NAMES: [&'static str; 5] = ["gbdt", "logistic", "linear", "tree", "forest"];

    /// The short name (`gbdt`, `logistic`, `linear`, `tree`, `forest`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Gbdt => "gbdt",
            Algorithm::Logistic => "logistic",
            Algorithm::Linear => "linear",
            Algorithm::Tree => "tree",
            Algorithm::Forest => "forest",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "algorithm",
                    format!("`{s}` is not one of {}", Algorithm::NAMES.join(", ")),
                )
            })
    }
}

/// Checked parameters of one algorithm.
#[derive(Debug, Clone)]
pub(crate) enum CheckedAlgorithm {
    Gbdt(CheckedGbdtParams),
    Logistic(CheckedLogisticParams),
    Linear(CheckedRidgeParams),
    Tree(CheckedDecisionTreeParams),
    Forest(CheckedRandomForestParams),
}

/// Overlay `overrides` on the JSON form of `P::default()`; unknown keys are an error.
fn merge_params<P: Serialize + DeserializeOwned + Default>(
    algorithm: Algorithm,
    overrides: &Map<String, Value>,
) -> Result<P> {
    let Value::Object(mut base) = serde_json::to_value(P::default())? else {
        return Err(Error::invalid(
            "parameters",
            "defaults are not a JSON object",
        ));
    };
    for (k, v) in overrides {
        if !base.contains_key(k) {
            return Err(Error::invalid(
                format!("parameter `{k}`"),
                format!(
                    "{algorithm} has no such parameter (known: {})",
                    base.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        base.insert(k.clone(), v.clone());
    }
    serde_json::from_value(Value::Object(base)).map_err(|e| {
        Error::invalid(
            format!("{algorithm} parameters"),
            format!("{e} (in {})", Value::Object(overrides.clone())),
        )
    })
}

impl CheckedAlgorithm {
    pub(crate) fn new(algorithm: Algorithm, overrides: &Map<String, Value>) -> Result<Self> {
        Ok(match algorithm {
            Algorithm::Gbdt => {
                CheckedAlgorithm::Gbdt(merge_params::<GbdtParams>(algorithm, overrides)?.check()?)
            }
            Algorithm::Logistic => CheckedAlgorithm::Logistic(
                merge_params::<LogisticParams>(algorithm, overrides)?.check()?,
            ),
            Algorithm::Linear => CheckedAlgorithm::Linear(
                merge_params::<RidgeParams>(algorithm, overrides)?.check()?,
            ),
            Algorithm::Tree => CheckedAlgorithm::Tree(
                merge_params::<DecisionTreeParams>(algorithm, overrides)?.check()?,
            ),
            Algorithm::Forest => CheckedAlgorithm::Forest(
                merge_params::<RandomForestParams>(algorithm, overrides)?.check()?,
            ),
        })
    }

    /// The full parameters as JSON (what lineage records).
    pub(crate) fn params_json(&self) -> Result<Value> {
        Ok(match self {
            CheckedAlgorithm::Gbdt(p) => serde_json::to_value(p.params())?,
            CheckedAlgorithm::Logistic(p) => serde_json::to_value(p.get())?,
            CheckedAlgorithm::Linear(p) => serde_json::to_value(p.get())?,
            CheckedAlgorithm::Tree(p) => serde_json::to_value(p.params())?,
            CheckedAlgorithm::Forest(p) => serde_json::to_value(p.params())?,
        })
    }

    /// Fit on `data` (sync).
    pub(crate) fn fit(
        &self,
        data: &Dataset,
        seed: u64,
        progress: Option<&ProgressFn>,
    ) -> Result<TrainedModel> {
        let (model, algorithm): (Arc<dyn Model>, &str) = match self {
            CheckedAlgorithm::Logistic(p) => {
                let m = fit_logistic(data, p)?;
                if let Some(f) = progress {
                    f.report("fit", 1, 1);
                }
                (Arc::new(m), "logistic_regression")
            }
            CheckedAlgorithm::Linear(p) => {
                let m = fit_ridge(data, p)?;
                if let Some(f) = progress {
                    f.report("fit", 1, 1);
                }
                (Arc::new(m), "ridge_regression")
            }
            CheckedAlgorithm::Gbdt(p) => (
                fit_tree(data, progress, |x, y, task, hook| {
                    p.fit(x, y, task, seed, hook)
                })?,
                "gbdt",
            ),
            CheckedAlgorithm::Tree(p) => (
                fit_tree(data, progress, |x, y, task, hook| {
                    p.fit(x, y, task, seed, hook)
                })?,
                "decision_tree",
            ),
            CheckedAlgorithm::Forest(p) => (
                fit_tree(data, progress, |x, y, task, hook| {
                    p.fit(x, y, task, seed, hook)
                })?,
                "random_forest",
            ),
        };
        Ok(TrainedModel {
            model,
            algorithm: algorithm.to_string(),
            params: self.params_json()?,
        })
    }
}

type Hook<'a> = Option<&'a mut dyn FnMut(TrainProgress)>;

fn fit_tree<L: TreeLearner>(
    data: &Dataset,
    progress: Option<&ProgressFn>,
    fit: impl FnOnce(
        ndarray::ArrayView2<'_, f64>,
        ndarray::ArrayView1<'_, f64>,
        TreeTask,
        Hook<'_>,
    ) -> Result<L>,
) -> Result<Arc<dyn Model>> {
    let signature = Signature::from_training_schema(data.schema())?;
    let y = data.require_target()?;
    let task = match &signature.target.kind {
        TargetKind::Regression => TreeTask::Regression,
        TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => {
            TreeTask::Classification {
                n_classes: classes.len(),
            }
        }
    };
    if data.is_empty() {
        return Err(Error::Data("the training dataset is empty".into()));
    }
    let pre = TreePreprocessor::fit(data, !L::HANDLES_MISSING)?;
    let z = pre.transform(data.features());
    let mut report = |p: TrainProgress| {
        if let Some(f) = progress {
            f.report("fit", p.done, p.total);
        }
    };
    let learner = fit(z.view(), y.view(), task, Some(&mut report))?;
    Ok(Arc::new(TreeModel::new(signature, pre, learner)?))
}

/// A trainer for one built-in algorithm, chosen by name, with parameters given as JSON.
///
/// Parameters not given keep the algorithm's defaults (scikit-learn's, for the trees);
/// unknown names and invalid values are errors when the trainer is built. Gradient boosting
/// uses early stopping on a seeded 10 % validation split by default when the training set has
/// more than 10,000 rows (`"early_stopping": "Enabled"` turns it on always). Progress (one
/// unit per boosting iteration or tree) goes to the context's progress callback.
///
/// ```
/// use mlcycle::train::{AlgorithmTrainer, Trainer, TrainContext};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = CreditDefault::new(3).sample(1_000, &DriftSpec::none(), 0).unwrap();
/// let trainer = AlgorithmTrainer::from_name("gbdt", &serde_json::json!({"max_iter": 20})).unwrap();
/// let trained = trainer.train(&data, &TrainContext::with_seed(1)).await.unwrap();
/// assert_eq!(trained.algorithm, "gbdt");
/// assert_eq!(trained.model.to_artifact().unwrap().flavor(), "gbdt");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct AlgorithmTrainer {
    algorithm: Algorithm,
    checked: CheckedAlgorithm,
}

impl AlgorithmTrainer {
    /// A trainer for `algorithm` with parameter overrides `params` (a JSON object, or null).
    pub fn new(algorithm: Algorithm, params: &Value) -> Result<Self> {
        let overrides = match params {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                return Err(Error::invalid(
                    "parameters",
                    format!("expected a JSON object of parameter names to values, got {other}"),
                ));
            }
        };
        Ok(AlgorithmTrainer {
            algorithm,
            checked: CheckedAlgorithm::new(algorithm, &overrides)?,
        })
    }

    /// A trainer for the algorithm named `name` (`gbdt`, `logistic`, `linear`, `tree`, `forest`).
    pub fn from_name(name: &str, params: &Value) -> Result<Self> {
        Self::new(name.parse()?, params)
    }

    /// Gradient boosting with the given parameters.
    pub fn gbdt(params: CheckedGbdtParams) -> Self {
        AlgorithmTrainer {
            algorithm: Algorithm::Gbdt,
            checked: CheckedAlgorithm::Gbdt(params),
        }
    }

    /// A decision tree with the given parameters.
    pub fn decision_tree(params: CheckedDecisionTreeParams) -> Self {
        AlgorithmTrainer {
            algorithm: Algorithm::Tree,
            checked: CheckedAlgorithm::Tree(params),
        }
    }

    /// A random forest with the given parameters.
    pub fn random_forest(params: CheckedRandomForestParams) -> Self {
        AlgorithmTrainer {
            algorithm: Algorithm::Forest,
            checked: CheckedAlgorithm::Forest(params),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The full parameters (defaults included) as JSON.
    pub fn params(&self) -> Result<Value> {
        self.checked.params_json()
    }

    pub(crate) fn checked(&self) -> &CheckedAlgorithm {
        &self.checked
    }

    /// Fit synchronously (what [`Trainer::train`] runs on a blocking thread).
    pub fn fit(&self, data: &Dataset, ctx: &TrainContext) -> Result<TrainedModel> {
        self.checked.fit(data, ctx.seed, ctx.progress.as_ref())
    }
}

#[async_trait]
impl Trainer for AlgorithmTrainer {
    fn name(&self) -> &str {
        self.algorithm.name()
    }

    async fn train(&self, data: &Dataset, ctx: &TrainContext) -> Result<TrainedModel> {
        let (this, data, ctx) = (self.clone(), data.clone(), ctx.clone());
        tokio::task::spawn_blocking(move || this.fit(&data, &ctx))
            .await
            .map_err(|e| Error::task("training", e))?
    }
}
