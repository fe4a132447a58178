//! k-fold cross-validation and grid / random hyperparameter search.

use super::algorithm::{Algorithm, AlgorithmTrainer, CheckedAlgorithm};
use super::{ProgressFn, TrainContext, TrainedModel, Trainer};
use crate::data::Dataset;
use crate::validate::metrics::{classifier_metric, greater_is_better, regressor_metric};
use crate::{Error, Result};
use async_trait::async_trait;
use ndarray::ArrayView1;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Most parameter combinations a grid may hold.
pub const MAX_TRIALS: usize = 10_000;

fn check_k(n: usize, k: usize) -> Result<()> {
    if k < 2 {
        return Err(Error::invalid("folds", format!("need at least 2, got {k}")));
    }
    if k > n {
        return Err(Error::Data(format!(
            "{n} rows are too few for {k}-fold cross-validation"
        )));
    }
    Ok(())
}

/// Seeded k-fold split of `n` rows: the test rows of each fold (sorted), fold sizes differing by
/// at most one. The same `n`, `k` and `seed` give the same folds.
pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    check_k(n, k)?;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    Ok(deal(&idx, k))
}

/// Seeded stratified k-fold split for class labels `y` (class indices as `f64`): every class is
/// shuffled, then rows are dealt to the folds in turn, class after class, so each fold holds
/// every class in the same proportion as the whole (to within one row) and fold sizes differ
/// by at most one.
pub fn stratified_kfold(y: ArrayView1<'_, f64>, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    check_k(y.len(), k)?;
    let mut by_class: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, &v) in y.iter().enumerate() {
        if !(v >= 0.0 && v.fract() == 0.0) {
            return Err(Error::Data(format!("row {i}: {v} is not a class index")));
        }
        by_class.entry(v as u64).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order = Vec::with_capacity(y.len());
    for rows in by_class.values_mut() {
        rows.shuffle(&mut rng);
        order.extend_from_slice(rows);
    }
    Ok(deal(&order, k))
}

fn deal(order: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut folds = vec![Vec::with_capacity(order.len() / k + 1); k];
    for (pos, &i) in order.iter().enumerate() {
        folds[pos % k].push(i);
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    folds
}

/// The default metric for a target with `n_classes` classes (0 = regression): `roc_auc` for
/// binary, `log_loss` for multiclass, `rmse` for regression — the same as the validator's.
pub(crate) fn default_metric(n_classes: usize) -> &'static str {
    match n_classes {
        0 => "rmse",
        2 => "roc_auc",
        _ => "log_loss",
    }
}

/// Scores of one cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    /// The metric.
    pub metric: String,
    /// The metric on each fold's held-out rows.
    pub fold_scores: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Population standard deviation over folds.
    pub std: f64,
}

fn n_classes(data: &Dataset) -> Result<usize> {
    let t = data.schema().target.as_ref().ok_or_else(|| {
        Error::SchemaMismatch(
            "training needs labelled data: the dataset has no target column".into(),
        )
    })?;
    Ok(t.kind.classes().map_or(0, <[String]>::len))
}

fn folds_for(data: &Dataset, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let y = data.require_target()?;
    if n_classes(data)? > 0 {
        stratified_kfold(y.view(), k, seed)
    } else {
        kfold(y.len(), k, seed)
    }
}

fn score(metric: &str, model: &TrainedModel, test: &Dataset) -> Result<f64> {
    let y = test.require_target()?;
    let p = model.model.predict(test.features())?;
    match &p.probabilities {
        Some(proba) => classifier_metric(metric, y.view(), p.values.view(), proba.view()),
        None => regressor_metric(metric, y.view(), p.values.view()),
    }
}

fn cv_run(
    checked: &CheckedAlgorithm,
    data: &Dataset,
    folds: &[Vec<usize>],
    metric: &str,
    seed: u64,
    mut on_fold: impl FnMut(),
) -> Result<CvResult> {
    let n = data.n_rows();
    let mut scores = Vec::with_capacity(folds.len());
    let mut in_test = vec![false; n];
    for (f, test_rows) in folds.iter().enumerate() {
        in_test.iter_mut().for_each(|b| *b = false);
        for &i in test_rows {
            in_test[i] = true;
        }
        let train_rows: Vec<usize> = (0..n).filter(|&i| !in_test[i]).collect();
        let train = data.select_rows(&train_rows)?;
        let test = data.select_rows(test_rows)?;
        let model = checked.fit(&train, seed, None)?;
        let s = score(metric, &model, &test)
            .map_err(|e| Error::Data(format!("{metric} is undefined on fold {}: {e}", f + 1)))?;
        scores.push(s);
        on_fold();
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let std =
        (scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / scores.len() as f64).sqrt();
    Ok(CvResult {
        metric: metric.to_string(),
        fold_scores: scores,
        mean,
        std,
    })
}

/// k-fold cross-validation of `trainer` on `data` (stratified for classification), scored
/// with `metric` (default: [`roc_auc` / `log_loss` / `rmse`](crate::validate::metrics)).
/// Folds are seeded by `ctx.seed`; progress goes to `ctx.progress` as `("fold", done, k)`.
pub fn cross_validate(
    trainer: &AlgorithmTrainer,
    data: &Dataset,
    k: usize,
    metric: Option<&str>,
    ctx: &TrainContext,
) -> Result<CvResult> {
    let metric = metric.unwrap_or(default_metric(n_classes(data)?));
    greater_is_better(metric)?;
    let folds = folds_for(data, k, ctx.seed)?;
    let mut done = 0;
    cv_run(trainer.checked(), data, &folds, metric, ctx.seed, || {
        done += 1;
        if let Some(p) = &ctx.progress {
            p.report("fold", done, k);
        }
    })
}

/// How one parameter is drawn in a random search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Distribution {
    /// One of the listed values, uniformly: `[0.05, 0.1, 0.2]` (any JSON values).
    Choice(Vec<Value>),
    /// A real number uniform in `[lo, hi]`: `{"uniform": [lo, hi]}`.
    Uniform {
        /// `[lo, hi]`.
        uniform: [f64; 2],
    },
    /// A real number whose logarithm is uniform in `[ln lo, ln hi]`: `{"log_uniform": [lo, hi]}`
    /// (`lo > 0`).
    LogUniform {
        /// `[lo, hi]`.
        log_uniform: [f64; 2],
    },
    /// An integer uniform in `lo..=hi`: `{"int": [lo, hi]}`.
    Int {
        /// `[lo, hi]`.
        int: [i64; 2],
    },
}

impl Distribution {
    fn check(&self, name: &str) -> Result<()> {
        let bad = |why: String| Err(Error::invalid(format!("search parameter `{name}`"), why));
        match self {
            Distribution::Choice(v) if v.is_empty() => bad("the list of values is empty".into()),
            Distribution::Uniform { uniform: [lo, hi] }
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) =>
            {
                bad(format!("uniform needs finite lo ≤ hi, got [{lo}, {hi}]"))
            }
            Distribution::LogUniform {
                log_uniform: [lo, hi],
            } if !(lo.is_finite() && hi.is_finite() && *lo > 0.0 && lo <= hi) => bad(format!(
                "log_uniform needs finite 0 < lo ≤ hi, got [{lo}, {hi}]"
            )),
            Distribution::Int { int: [lo, hi] } if lo > hi => {
                bad(format!("int needs lo ≤ hi, got [{lo}, {hi}]"))
            }
            _ => Ok(()),
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> Value {
        match self {
            Distribution::Choice(v) => v[rng.random_range(0..v.len())].clone(),
            Distribution::Uniform { uniform: [lo, hi] } => {
                json!(lo + (hi - lo) * rng.random::<f64>())
            }
            Distribution::LogUniform {
                log_uniform: [lo, hi],
            } => {
                let (a, b) = (lo.ln(), hi.ln());
                json!((a + (b - a) * rng.random::<f64>()).exp())
            }
            Distribution::Int { int: [lo, hi] } => json!(rng.random_range(*lo..=*hi)),
        }
    }
}

/// A hyperparameter search space (the `SPACE.json` format of `mlcycle train --search`).
///
/// - Grid: every combination, in lexicographic order of the parameter names:
///   `{"grid": {"learning_rate": [0.05, 0.1], "max_iter": [100, 200]}}`
/// - Random: `n_trials` draws from a seeded generator:
///   `{"random": {"n_trials": 10, "space": {"learning_rate": {"log_uniform": [0.01, 0.3]},
///   "max_leaf_nodes": {"int": [8, 64]}, "l2_regularization": [0.0, 0.1, 1.0]}}}`
///
/// Parameter names are the algorithm's (see [`AlgorithmTrainer`]); values not searched keep
/// the trainer's base parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SearchSpace {
    /// Every combination of the listed values.
    Grid(BTreeMap<String, Vec<Value>>),
    /// Random draws.
    Random {
        /// Number of trials (≥ 1).
        n_trials: usize,
        /// How each parameter is drawn.
        space: BTreeMap<String, Distribution>,
    },
}

impl SearchSpace {
    /// Parse the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let s: SearchSpace = serde_json::from_slice(bytes).map_err(|e| {
            Error::invalid(
                "search space",
                format!(
                    "{e}; expected {{\"grid\": {{NAME: [VALUES]}}}} or \
                     {{\"random\": {{\"n_trials\": N, \"space\": {{NAME: [VALUES] | \
                     {{\"uniform\": [LO, HI]}} | {{\"log_uniform\": [LO, HI]}} | {{\"int\": [LO, HI]}}}}}}}}"
                ),
            )
        })?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<()> {
        match self {
            SearchSpace::Grid(g) => {
                let mut total: usize = 1;
                for (k, v) in g {
                    if v.is_empty() {
                        return Err(Error::invalid(
                            format!("search parameter `{k}`"),
                            "the list of values is empty",
                        ));
                    }
                    total = total.saturating_mul(v.len());
                }
                if total > MAX_TRIALS {
                    return Err(Error::invalid(
                        "search grid",
                        format!("{total} combinations; at most {MAX_TRIALS} are allowed"),
                    ));
                }
            }
            SearchSpace::Random { n_trials, space } => {
                if *n_trials == 0 || *n_trials > MAX_TRIALS {
                    return Err(Error::invalid(
                        "n_trials",
                        format!("must be in 1..={MAX_TRIALS}, got {n_trials}"),
                    ));
                }
                for (k, d) in space {
                    d.check(k)?;
                }
            }
        }
        Ok(())
    }

    /// The kind: `grid` or `random`.
    pub fn kind(&self) -> &'static str {
        match self {
            SearchSpace::Grid(_) => "grid",
            SearchSpace::Random { .. } => "random",
        }
    }

    /// The parameter sets to try (random draws are seeded by `seed`).
    pub fn candidates(&self, seed: u64) -> Result<Vec<Map<String, Value>>> {
        self.check()?;
        Ok(match self {
            SearchSpace::Grid(g) => {
                let mut out = vec![Map::new()];
                for (k, values) in g {
                    out = out
                        .into_iter()
                        .flat_map(|m| {
                            values.iter().map(move |v| {
                                let mut m = m.clone();
                                m.insert(k.clone(), v.clone());
                                m
                            })
                        })
                        .collect();
                }
                out
            }
            SearchSpace::Random { n_trials, space } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                (0..*n_trials)
                    .map(|_| {
                        space
                            .iter()
                            .map(|(k, d)| (k.clone(), d.sample(&mut rng)))
                            .collect()
                    })
                    .collect()
            }
        })
    }
}

/// One trial of a search: its parameters and cross-validated scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Position in the search (0-based).
    pub index: usize,
    /// The searched parameters of this trial (on top of the base parameters).
    pub params: Map<String, Value>,
    /// Cross-validated scores.
    pub cv: CvResult,
}

/// The record of a search: every trial, and which one won.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchOutcome {
    /// `grid`, `random`, or `none` (cross-validation of the base parameters only).
    pub kind: String,
    /// The metric the best trial was chosen by.
    pub metric: String,
    /// Whether higher values of the metric are better.
    pub greater_is_better: bool,
    /// Folds per trial.
    pub cv_folds: usize,
    /// The seed (folds, random draws, fits).
    pub seed: u64,
    /// The index of the best trial (the first one on a tie).
    pub best_trial: usize,
    /// Every trial, in the order run.
    pub trials: Vec<Trial>,
}

/// A trainer that cross-validates every parameter set of a [`SearchSpace`] (or only the base
/// parameters, without a space), picks the best by a named metric, and refits it on all the
/// data.
///
/// The returned [`TrainedModel::params`] are the winner's full parameters plus a `"search"`
/// entry holding the [`SearchOutcome`] (every trial's parameters and fold scores), which the
/// lifecycle stores in the version's lineage. The same data, trainer and seed give the same
/// model bytes. Progress: `("trial", done, n_trials)`, `("fold", done, n_trials × k)`, then the
/// final fit's `("fit", …)`.
///
/// ```
/// use mlcycle::train::{Algorithm, SearchSpace, SearchTrainer, Trainer, TrainContext};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = CreditDefault::new(3).sample(600, &DriftSpec::none(), 0).unwrap();
/// let space = SearchSpace::from_json(br#"{"grid": {"l2": [0.1, 10.0]}}"#).unwrap();
/// let trainer = SearchTrainer::new(Algorithm::Logistic, &serde_json::Value::Null, Some(space), 3, None).unwrap();
/// let trained = trainer.train(&data, &TrainContext::with_seed(1)).await.unwrap();
/// assert_eq!(trained.params["search"]["trials"].as_array().unwrap().len(), 2);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SearchTrainer {
    algorithm: Algorithm,
    base: Map<String, Value>,
    space: Option<SearchSpace>,
    folds: usize,
    metric: Option<String>,
}

impl SearchTrainer {
    /// A search of `space` (or plain cross-validation when `None`) for `algorithm`, on top of
    /// the `base` parameters (a JSON object or null), with `folds`-fold cross-validation, the
    /// best chosen by `metric` (default: `roc_auc` / `log_loss` / `rmse` by target).
    pub fn new(
        algorithm: Algorithm,
        base: &Value,
        space: Option<SearchSpace>,
        folds: usize,
        metric: Option<String>,
    ) -> Result<Self> {
        let base = match base {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                return Err(Error::invalid(
                    "parameters",
                    format!("expected a JSON object, got {other}"),
                ));
            }
        };
        if folds < 2 {
            return Err(Error::invalid(
                "folds",
                format!("need at least 2, got {folds}"),
            ));
        }
        if let Some(m) = &metric {
            greater_is_better(m)?;
        }
        CheckedAlgorithm::new(algorithm, &base)?;
        if let Some(s) = &space {
            s.check()?;
            if let SearchSpace::Grid(_) = s {
                for c in s.candidates(0)? {
                    CheckedAlgorithm::new(algorithm, &merged(&base, &c))?;
                }
            }
        }
        Ok(SearchTrainer {
            algorithm,
            base,
            space,
            folds,
            metric,
        })
    }

    /// Run the search and refit the best parameters on all of `data` (sync).
    pub fn fit(&self, data: &Dataset, ctx: &TrainContext) -> Result<(TrainedModel, SearchOutcome)> {
        let k_classes = n_classes(data)?;
        let metric = self
            .metric
            .clone()
            .unwrap_or_else(|| default_metric(k_classes).to_string());
        let gib = greater_is_better(&metric)?;
        let candidates = match &self.space {
            Some(s) => s.candidates(ctx.seed)?,
            None => vec![Map::new()],
        };
        let checked = candidates
            .iter()
            .map(|c| CheckedAlgorithm::new(self.algorithm, &merged(&self.base, c)))
            .collect::<Result<Vec<_>>>()?;
        let folds = folds_for(data, self.folds, ctx.seed)?;
        let progress: Option<&ProgressFn> = ctx.progress.as_ref();
        let total_folds = candidates.len() * self.folds;
        let mut folds_done = 0;
        let mut trials = Vec::with_capacity(candidates.len());
        for (i, (params, ch)) in candidates.into_iter().zip(&checked).enumerate() {
            let cv = cv_run(ch, data, &folds, &metric, ctx.seed, || {
                folds_done += 1;
                if let Some(p) = progress {
                    p.report("fold", folds_done, total_folds);
                }
            })?;
            trials.push(Trial {
                index: i,
                params,
                cv,
            });
            if let Some(p) = progress {
                p.report("trial", i + 1, checked.len());
            }
        }
        let mut best = 0;
        for t in &trials {
            let (a, b) = (t.cv.mean, trials[best].cv.mean);
            let better = if gib { a > b } else { a < b };
            if better || (b.is_nan() && !a.is_nan()) {
                best = t.index;
            }
        }
        let mut trained = checked[best].fit(data, ctx.seed, progress)?;
        let outcome = SearchOutcome {
            kind: self.space.as_ref().map_or("none", SearchSpace::kind).into(),
            metric,
            greater_is_better: gib,
            cv_folds: self.folds,
            seed: ctx.seed,
            best_trial: best,
            trials,
        };
        if let Value::Object(m) = &mut trained.params {
            m.insert("search".into(), serde_json::to_value(&outcome)?);
        }
        Ok((trained, outcome))
    }
}

fn merged(base: &Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
    let mut m = base.clone();
    for (k, v) in over {
        m.insert(k.clone(), v.clone());
    }
    m
}

#[async_trait]
impl Trainer for SearchTrainer {
    fn name(&self) -> &str {
        self.algorithm.name()
    }

    async fn train(&self, data: &Dataset, ctx: &TrainContext) -> Result<TrainedModel> {
        let (this, data, ctx) = (self.clone(), data.clone(), ctx.clone());
        tokio::task::spawn_blocking(move || this.fit(&data, &ctx).map(|(t, _)| t))
            .await
            .map_err(|e| Error::task("training", e))?
    }
}
