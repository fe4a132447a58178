use super::metrics::{
    BootstrapCi, BootstrapConfig, CLASSIFIER_METRICS, GroupMetrics, McNemar, McNemarMethod,
    ModelOutputs, REGRESSOR_METRICS, classifier_metric, fairness_report, greater_is_better,
    mcnemar, paired_bootstrap_ci, regressor_metric,
};
use super::{Check, CostBudget, ValidationReport, Validator, measure_serving_cost};
use crate::data::Dataset;
use crate::model::Model;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// MLflow-style rule on one metric (`mlflow.models.MetricThreshold` semantics).
///
/// - `threshold`: the candidate's value must be `>= threshold` (`<=` when lower is better).
///   Checked with or without a champion.
/// - `min_absolute_change`: the candidate must be `>= champion + min_absolute_change`
///   (`<= champion − min_absolute_change` when lower is better).
/// - `min_relative_change` (in `[0, 1]`): the candidate must be `>= champion × (1 + r)`
///   (`<= champion × (1 − r)` when lower is better); when the champion's value is 0 it must be
///   better by at least 1e-10.
/// - The change rules apply only when there is a champion; a metric missing from the
///   candidate's (or, for change rules, the champion's) metrics fails the check.
/// - `greater_is_better` defaults to the metric's known direction; it is required for names
///   the crate does not know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricThreshold {
    /// Absolute floor (ceiling when lower is better).
    pub threshold: Option<f64>,
    /// Minimum improvement over the champion, in the metric's units.
    pub min_absolute_change: Option<f64>,
    /// Minimum improvement over the champion, as a share of the champion's value.
    pub min_relative_change: Option<f64>,
    /// Whether higher is better (default: the metric's known direction).
    pub greater_is_better: Option<bool>,
}

/// Paired significance tests of candidate vs champion on the shared holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignificanceConfig {
    /// Significance level: McNemar's p-value must be below it, and the bootstrap interval is
    /// the two-sided `1 − alpha` interval (default 0.05).
    pub alpha: f64,
    /// Bootstrap resamples (default 1,000).
    pub n_resamples: usize,
    /// Bootstrap seed (default 0).
    pub seed: u64,
    /// When McNemar's test on the paired classification errors blocks a promotion (see
    /// [`McNemarPolicy`]; default `Auto`).
    pub mcnemar: McNemarPolicy,
}

/// When McNemar's test (on paired errors, i.e. predicted labels) blocks a promotion.
///
/// McNemar tests whether the candidate makes fewer *errors*. With a ranking or probability
/// metric as primary (ROC AUC, log loss, Brier, average precision) a challenger can rank far
/// better without changing enough predicted labels for McNemar to notice, so there the
/// bootstrap interval of the primary metric decides and McNemar is only reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McNemarPolicy {
    /// Required when the primary metric is computed from labels (accuracy, balanced
    /// accuracy, precision, recall, F1), reported otherwise.
    #[default]
    Auto,
    /// Always required (classifiers).
    Require,
    /// Reported, never blocks.
    Report,
    /// Not run.
    Off,
}

impl Default for SignificanceConfig {
    fn default() -> Self {
        SignificanceConfig {
            alpha: 0.05,
            n_resamples: 1000,
            seed: 0,
            mcnemar: McNemarPolicy::Auto,
        }
    }
}

/// Group fairness on a sensitive feature of the holdout (binary classifiers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FairnessConfig {
    /// The sensitive feature's column name (categorical levels, or distinct numeric values,
    /// form the groups; missing values form a group of their own).
    pub sensitive: String,
    /// Largest acceptable demographic parity difference (spread of selection rates).
    pub max_demographic_parity_difference: Option<f64>,
    /// Largest acceptable equalized odds difference (larger spread of TPR and FPR).
    pub max_equalized_odds_difference: Option<f64>,
    /// Smallest acceptable disparate-impact ratio (lowest / highest selection rate; the
    /// "four-fifths rule" is 0.8).
    pub min_disparate_impact_ratio: Option<f64>,
}

/// Settings of the default validator.
///
/// The default decides like the original rule: the primary metric must beat the champion's by
/// `min_improvement` (0.002; scale-aware, see [`MarginScale`]). Everything else is opt-in, except profiling, which is measured
/// (without budgets) so the numbers land on the version's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChampionChallengerConfig {
    /// The metric the decision is based on; `None` picks `roc_auc` for binary
    /// classification, `log_loss` for multiclass and `rmse` for regression.
    pub primary_metric: Option<String>,
    /// The candidate must beat the champion's primary metric by at least this much, in its
    /// better direction: in the metric's units or as a fraction of the champion's value, as
    /// `margin_scale` says (by default absolute for 0–1 scores, relative for errors and losses).
    pub min_improvement: f64,
    /// How `min_improvement` scales with the metric (see [`MarginScale`]).
    pub margin_scale: MarginScale,
    /// Absolute floor (or ceiling, for lower-is-better metrics) the candidate must reach,
    /// checked even when there is no champion.
    pub threshold: Option<f64>,
    /// MLflow-style rules, by metric name (holdout metrics, plus `profile_*` metrics when
    /// profiling is on).
    pub metric_thresholds: BTreeMap<String, MetricThreshold>,
    /// Significance tests against the champion (off by default; see [`SignificanceConfig`]).
    pub significance: Option<SignificanceConfig>,
    /// Fairness on a sensitive column (off by default).
    pub fairness: Option<FairnessConfig>,
    /// Measuring the serving cost (artifact size, latency, throughput) and its budgets (on
    /// by default, without budgets). Serialised as `profile`, its name before the rename.
    #[serde(rename = "profile")]
    pub serving_cost: Option<CostBudget>,
    /// Largest acceptable gap between the training and the holdout primary metric (in its
    /// better direction); checked only when the training data is given.
    pub max_train_holdout_gap: Option<f64>,
}

impl Default for ChampionChallengerConfig {
    fn default() -> Self {
        ChampionChallengerConfig {
            primary_metric: None,
            min_improvement: 0.002,
            margin_scale: MarginScale::Auto,
            threshold: None,
            metric_thresholds: BTreeMap::new(),
            significance: None,
            fairness: None,
            serving_cost: Some(CostBudget::default()),
            max_train_holdout_gap: None,
        }
    }
}

/// Paired significance results (candidate is "A", champion is "B").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignificanceSummary {
    /// The significance level used.
    pub alpha: f64,
    /// McNemar's test on the paired errors (classifiers).
    pub mcnemar: Option<McNemar>,
    /// Bootstrap interval of `candidate − champion` on the primary metric.
    pub bootstrap: Option<BootstrapCi>,
}

/// The candidate's group fairness on the holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessSummary {
    /// The sensitive column.
    pub sensitive: String,
    /// Over all rows.
    pub overall: GroupMetrics,
    /// By group.
    pub by_group: BTreeMap<String, GroupMetrics>,
    /// Spread of selection rates.
    pub demographic_parity_difference: f64,
    /// Larger spread of true- and false-positive rates.
    pub equalized_odds_difference: f64,
    /// Lowest / highest selection rate (`None` when no group has a positive prediction).
    pub disparate_impact_ratio: Option<f64>,
}

/// Training vs holdout score of the candidate on the primary metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitGap {
    /// The metric.
    pub metric: String,
    /// On the training data.
    pub train: f64,
    /// On the holdout.
    pub holdout: f64,
    /// How much better the training score is (in the metric's better direction).
    pub gap: f64,
}

/// The default validator: holdout metrics, a champion/challenger rule on the primary metric,
/// MLflow-style metric thresholds, and optional significance, fairness, profiling budgets and
/// an overfitting limit. Every check explains itself in words.
///
/// ```
/// use mlcycle::validate::{
///     ChampionChallenger, ChampionChallengerConfig, FairnessConfig, MetricThreshold,
///     CostBudget, SignificanceConfig,
/// };
/// use mlcycle::train::{AlgorithmTrainer, TrainContext};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use std::collections::BTreeMap;
///
/// let data = CreditDefault::new(3).sample(2_000, &DriftSpec::none(), 0)?;
/// let (train, holdout) = data.split(0.3, 7)?;
/// let fit = |name: &str| -> mlcycle::Result<_> {
///     Ok(AlgorithmTrainer::from_name(name, &serde_json::Value::Null)?
///         .fit(&train, &TrainContext::with_seed(1))?
///         .model)
/// };
/// let (candidate, champion) = (fit("logistic")?, fit("tree")?);
/// let validator = ChampionChallenger::new(ChampionChallengerConfig {
///     metric_thresholds: BTreeMap::from([(
///         "roc_auc".to_string(),
///         MetricThreshold { threshold: Some(0.6), min_absolute_change: Some(0.01), ..Default::default() },
///     )]),
///     significance: Some(SignificanceConfig::default()),
///     fairness: Some(FairnessConfig {
///         sensitive: "region".into(),
///         min_disparate_impact_ratio: Some(0.0),
///         ..Default::default()
///     }),
///     serving_cost: Some(CostBudget { max_artifact_bytes: Some(1 << 20), ..Default::default() }),
///     max_train_holdout_gap: Some(0.5),
///     ..Default::default()
/// })?;
/// let report = validator.validate_sync(candidate, Some(champion), &holdout, Some(&train))?;
/// for check in &report.checks {
///     println!("[{}] {}: {}", if check.passed { "pass" } else { "FAIL" }, check.name, check.detail);
/// }
/// assert!(report.significance.is_some() && report.fairness.is_some() && report.fit.is_some());
/// # Ok::<(), mlcycle::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChampionChallenger {
    config: ChampionChallengerConfig,
}

fn finite_nonneg(name: &str, v: Option<f64>) -> Result<()> {
    match v {
        Some(v) if !(v.is_finite() && v >= 0.0) => Err(Error::invalid(
            name,
            format!("{v} must be a finite number ≥ 0"),
        )),
        _ => Ok(()),
    }
}

impl ChampionChallenger {
    /// A validator with the given settings (checked: bad values are errors).
    pub fn new(config: ChampionChallengerConfig) -> Result<Self> {
        if !config.min_improvement.is_finite() || config.min_improvement < 0.0 {
            return Err(Error::invalid(
                "min_improvement",
                format!("{} must be a finite number ≥ 0", config.min_improvement),
            ));
        }
        if let Some(m) = &config.primary_metric {
            greater_is_better(m)?;
        }
        for (name, t) in &config.metric_thresholds {
            if t.greater_is_better.is_none() && greater_is_better(name).is_err() {
                return Err(Error::invalid(
                    format!("metric threshold `{name}`"),
                    "unknown metric: set greater_is_better",
                ));
            }
            if let Some(v) = t.threshold
                && !v.is_finite()
            {
                return Err(Error::invalid(
                    format!("metric threshold `{name}`"),
                    "threshold must be finite",
                ));
            }
            finite_nonneg(
                &format!("{name}.min_absolute_change"),
                t.min_absolute_change,
            )?;
            if let Some(r) = t.min_relative_change
                && !(0.0..=1.0).contains(&r)
            {
                return Err(Error::invalid(
                    format!("{name}.min_relative_change"),
                    format!("{r} must be in [0, 1]"),
                ));
            }
        }
        if let Some(s) = &config.significance {
            if !(s.alpha > 0.0 && s.alpha < 1.0) {
                return Err(Error::invalid(
                    "significance.alpha",
                    format!("{} must be in (0, 1)", s.alpha),
                ));
            }
            if s.n_resamples == 0 {
                return Err(Error::invalid(
                    "significance.n_resamples",
                    "must be at least 1",
                ));
            }
        }
        if let Some(f) = &config.fairness {
            if f.sensitive.is_empty() {
                return Err(Error::invalid("fairness.sensitive", "name a column"));
            }
            finite_nonneg(
                "fairness.max_demographic_parity_difference",
                f.max_demographic_parity_difference,
            )?;
            finite_nonneg(
                "fairness.max_equalized_odds_difference",
                f.max_equalized_odds_difference,
            )?;
            finite_nonneg(
                "fairness.min_disparate_impact_ratio",
                f.min_disparate_impact_ratio,
            )?;
        }
        if let Some(p) = &config.serving_cost {
            p.check()?;
        }
        finite_nonneg("max_train_holdout_gap", config.max_train_holdout_gap)?;
        Ok(ChampionChallenger { config })
    }

    /// The settings.
    pub fn config(&self) -> &ChampionChallengerConfig {
        &self.config
    }
}

/// Score `model` on `holdout` and compute every metric that is defined on it (e.g. ROC AUC
/// is left out when the holdout holds a single class).
pub(crate) fn holdout_metrics(
    model: &dyn Model,
    holdout: &Dataset,
) -> Result<BTreeMap<String, f64>> {
    let y = holdout.require_target()?;
    model.signature().check_compatible(holdout.schema())?;
    let pred = model.predict(holdout.features())?;
    let mut out = BTreeMap::new();
    let mut keep = |name: &str, v: Result<f64>| match v {
        Ok(v) => {
            out.insert(name.to_string(), v);
            Ok(())
        }
        Err(Error::Data(_)) => Ok(()),
        Err(e) => Err(e),
    };
    match &pred.probabilities {
        Some(proba) => {
            for name in CLASSIFIER_METRICS {
                keep(
                    name,
                    classifier_metric(name, y.view(), pred.values.view(), proba.view()),
                )?;
            }
        }
        None => {
            for name in REGRESSOR_METRICS {
                keep(name, regressor_metric(name, y.view(), pred.values.view()))?;
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl Validator for ChampionChallenger {
    async fn validate(
        &self,
        candidate: Arc<dyn Model>,
        champion: Option<Arc<dyn Model>>,
        holdout: &Dataset,
    ) -> Result<ValidationReport> {
        self.run(candidate, champion, holdout, None).await
    }

    async fn validate_with_training(
        &self,
        candidate: Arc<dyn Model>,
        champion: Option<Arc<dyn Model>>,
        holdout: &Dataset,
        training: &Dataset,
    ) -> Result<ValidationReport> {
        self.run(candidate, champion, holdout, Some(training.clone()))
            .await
    }
}

impl ChampionChallenger {
    async fn run(
        &self,
        candidate: Arc<dyn Model>,
        champion: Option<Arc<dyn Model>>,
        holdout: &Dataset,
        training: Option<Dataset>,
    ) -> Result<ValidationReport> {
        if holdout.is_empty() {
            return Err(Error::Data("the holdout set is empty".into()));
        }
        let holdout_c = holdout.clone();
        let cfg = self.config.clone();
        tokio::task::spawn_blocking(move || {
            decide(&cfg, candidate, champion, &holdout_c, training.as_ref())
        })
        .await
        .map_err(|e| Error::task("validation", e))?
    }

    /// Validate synchronously (what the async methods run on a blocking thread).
    pub fn validate_sync(
        &self,
        candidate: Arc<dyn Model>,
        champion: Option<Arc<dyn Model>>,
        holdout: &Dataset,
        training: Option<&Dataset>,
    ) -> Result<ValidationReport> {
        if holdout.is_empty() {
            return Err(Error::Data("the holdout set is empty".into()));
        }
        decide(&self.config, candidate, champion, holdout, training)
    }
}

fn check(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        passed,
        detail: detail.into(),
        info: false,
    }
}

/// An informational line: it never blocks.
fn info(name: impl Into<String>, detail: impl Into<String>) -> Check {
    Check {
        info: true,
        ..check(name, true, detail)
    }
}

/// Below this many holdout rows the report warns that the decision rests on too little data.
pub const MIN_RELIABLE_HOLDOUT_ROWS: usize = 100;

/// How `min_improvement` is turned into the margin the candidate must beat the champion by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginScale {
    /// Scale-aware (the default): in the metric's units for scores bounded by 0 and 1
    /// (AUC, accuracy, precision, recall, F1, R²…), and as a fraction of the champion's value
    /// for unbounded metrics (RMSE, MAE, MSE, log loss…), so 0.002 is 0.2 % of an RMSE.
    #[default]
    Auto,
    /// Always in the metric's units.
    Absolute,
    /// Always a fraction of the champion's value.
    Relative,
}

/// Whether a metric's values are not bounded by 0 and 1 (errors and losses).
fn unbounded_metric(name: &str) -> bool {
    matches!(
        name,
        "rmse" | "mae" | "mse" | "log_loss" | "mape" | "max_error" | "median_absolute_error"
    ) || name.ends_with("_error")
        || name.ends_with("_loss")
}

/// The margin to beat `champion` by, and how it was worked out, in words.
fn margin_of(cfg: &ChampionChallengerConfig, metric: &str, champion: f64) -> (f64, String) {
    let relative = match cfg.margin_scale {
        MarginScale::Absolute => false,
        MarginScale::Relative => true,
        MarginScale::Auto => unbounded_metric(metric),
    };
    if relative {
        let m = cfg.min_improvement * champion.abs();
        (
            m,
            format!(
                "{m:.4} ({:.2} % of the champion's {champion:.4})",
                100.0 * cfg.min_improvement
            ),
        )
    } else {
        (
            cfg.min_improvement,
            format!("{:.4} (absolute, in {metric} units)", cfg.min_improvement),
        )
    }
}

fn decide(
    cfg: &ChampionChallengerConfig,
    candidate: Arc<dyn Model>,
    champion: Option<Arc<dyn Model>>,
    holdout: &Dataset,
    training: Option<&Dataset>,
) -> Result<ValidationReport> {
    let cand = holdout_metrics(candidate.as_ref(), holdout)?;
    let primary = cfg.primary_metric.clone().unwrap_or_else(|| {
        match candidate.signature().n_classes() {
            0 => "rmse",
            2 => "roc_auc",
            _ => "log_loss",
        }
        .to_string()
    });
    let gib = greater_is_better(&primary)?;
    let better = |a: f64, b: f64| if gib { a - b } else { b - a };
    let dir = if gib { "higher" } else { "lower" };
    let mut checks = Vec::new();
    let mut rep = ValidationReport {
        holdout: holdout.id().clone(),
        holdout_rows: holdout.n_rows(),
        primary_metric: primary.clone(),
        candidate: BTreeMap::new(),
        champion: None,
        checks: Vec::new(),
        promote: false,
        significance: None,
        fairness: None,
        serving_cost: None,
        fit: None,
        warnings: Vec::new(),
    };
    let Some(&cv) = cand.get(&primary) else {
        checks.push(check(
            format!("has_metric:{primary}"),
            false,
            format!(
                "the candidate has no `{primary}` on this holdout (available: {})",
                cand.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
        rep.candidate = cand;
        return Ok(finish(rep, checks));
    };
    if let Some(t) = cfg.threshold {
        let ok = better(cv, t) >= 0.0;
        checks.push(check(
            format!("threshold:{primary}"),
            ok,
            format!(
                "{primary} = {cv:.4} {} the required {t:.4} ({dir} is better)",
                if ok { "meets" } else { "misses" }
            ),
        ));
    }
    let champ_pred;
    let champ = match &champion {
        Some(ch) => {
            let m = holdout_metrics(ch.as_ref(), holdout)?;
            match m.get(&primary) {
                Some(&chv) => {
                    let gain = better(cv, chv);
                    let (margin, margin_words) = margin_of(cfg, &primary, chv);
                    let ok = gain >= margin;
                    checks.push(check(
                        format!("beats_champion:{primary}"),
                        ok,
                        format!(
                            "candidate {primary} {cv:.4} vs champion {chv:.4}: improvement {gain:+.4}, {} the required margin {margin_words}",
                            if ok { "meets" } else { "misses" },
                        ),
                    ));
                }
                None => checks.push(check(
                    format!("beats_champion:{primary}"),
                    true,
                    format!("the champion has no `{primary}` on this holdout; nothing to beat"),
                )),
            }
            champ_pred = Some(ch.predict(holdout.features())?);
            Some(m)
        }
        None => {
            if cfg.threshold.is_none() && cfg.metric_thresholds.is_empty() {
                checks.push(info(
                    "beats_champion",
                    "no champion and no threshold: nothing was required of this first version, so no threshold was checked (set `threshold` or `metric_thresholds` in --config to require one)",
                ));
            } else {
                checks.push(check(
                    "beats_champion",
                    true,
                    "no champion yet: the first version only has to meet its thresholds",
                ));
            }
            champ_pred = None;
            None
        }
    };
    // The serving cost first, so its metrics can be thresholded.
    if let Some(pc) = &cfg.serving_cost {
        let p = measure_serving_cost(candidate.as_ref(), holdout, pc)?;
        if let Some(b) = pc.max_artifact_bytes {
            let ok = p.artifact_bytes <= b;
            checks.push(check(
                "profile:artifact_bytes",
                ok,
                format!(
                    "the artifact is {} bytes, {} the budget of {b} bytes",
                    p.artifact_bytes,
                    if ok { "within" } else { "over" }
                ),
            ));
        }
        if let Some(b) = pc.max_latency_p99_us {
            let ok = p.latency_p99_us <= b;
            checks.push(check(
                "profile:latency_p99_us",
                ok,
                format!(
                    "single-row p99 latency {:.1} µs over {} rows is {} the budget of {b:.1} µs",
                    p.latency_p99_us,
                    p.latency_samples,
                    if ok { "within" } else { "over" }
                ),
            ));
        }
        if let Some(b) = pc.min_throughput_rows_per_s {
            let ok = p.throughput_rows_per_s >= b;
            checks.push(check(
                "profile:throughput_rows_per_s",
                ok,
                format!(
                    "batch throughput {:.0} rows/s over {} rows {} the required {b:.0} rows/s",
                    p.throughput_rows_per_s,
                    p.batch_rows,
                    if ok { "meets" } else { "misses" }
                ),
            ));
        }
        rep.serving_cost = Some(p);
    }
    // MLflow-style metric thresholds.
    let mut all = cand.clone();
    if let Some(p) = &rep.serving_cost {
        all.extend(p.metrics());
    }
    for (name, t) in &cfg.metric_thresholds {
        metric_threshold_checks(name, t, &all, champ.as_ref(), &mut checks)?;
    }
    // Significance.
    if let Some(sc) = &cfg.significance {
        match (&champion, &champ_pred) {
            (Some(_), Some(chp)) => {
                rep.significance = Some(significance_checks(
                    sc,
                    &primary,
                    gib,
                    candidate.as_ref(),
                    chp,
                    holdout,
                    &mut checks,
                )?);
            }
            _ => checks.push(check(
                "significance",
                true,
                "no champion: nothing to test the candidate against",
            )),
        }
    }
    // Fairness.
    if let Some(fc) = &cfg.fairness {
        if candidate.signature().n_classes() == 2 {
            rep.fairness = Some(fairness_checks(
                fc,
                candidate.as_ref(),
                holdout,
                &mut checks,
            )?);
        } else {
            group_error_checks(fc, candidate.as_ref(), holdout, &mut checks)?;
        }
    }
    // Over/underfitting.
    if let Some(train) = training
        && !train.is_empty()
    {
        let tm = holdout_metrics(candidate.as_ref(), train)?;
        if let Some(&tv) = tm.get(&primary) {
            let gap = better(tv, cv);
            let words = format!(
                "{primary} on the training data {tv:.4} vs the holdout {cv:.4}: the training score is better by {gap:+.4}"
            );
            match cfg.max_train_holdout_gap {
                Some(limit) => {
                    let ok = gap <= limit;
                    checks.push(check(
                        format!("fit_gap:{primary}"),
                        ok,
                        format!(
                            "{words}, {} the limit {limit:.4}{}",
                            if ok { "within" } else { "over" },
                            if ok { "" } else { " (overfitting)" }
                        ),
                    ));
                }
                None => checks.push(info(
                    format!("fit_gap:{primary}"),
                    format!("{words} (no limit set; a large gap suggests overfitting, a poor training score underfitting)"),
                )),
            }
            rep.fit = Some(FitGap {
                metric: primary.clone(),
                train: tv,
                holdout: cv,
                gap,
            });
        }
    }
    rep.candidate = cand;
    rep.champion = champ;
    Ok(finish(rep, checks))
}

fn metric_threshold_checks(
    name: &str,
    t: &MetricThreshold,
    cand: &BTreeMap<String, f64>,
    champ: Option<&BTreeMap<String, f64>>,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let gib = match t.greater_is_better {
        Some(g) => g,
        None => greater_is_better(name)?,
    };
    let dir = if gib { "higher" } else { "lower" };
    let Some(&v) = cand.get(name) else {
        checks.push(check(
            format!("has_metric:{name}"),
            false,
            format!("the candidate has no `{name}`, which a threshold requires"),
        ));
        return Ok(());
    };
    if let Some(th) = t.threshold {
        let ok = if gib { v >= th } else { v <= th };
        checks.push(check(
            format!("threshold:{name}"),
            ok,
            format!(
                "{name} = {v:.6} must be {} {th:.6} ({dir} is better): {}",
                if gib { "≥" } else { "≤" },
                if ok { "met" } else { "missed" }
            ),
        ));
    }
    if t.min_absolute_change.is_none() && t.min_relative_change.is_none() {
        return Ok(());
    }
    let Some(champ) = champ else {
        return Ok(()); // no champion: only the absolute threshold applies
    };
    let Some(&b) = champ.get(name) else {
        checks.push(check(
            format!("has_champion_metric:{name}"),
            false,
            format!("the champion has no `{name}`, so the required change cannot be checked"),
        ));
        return Ok(());
    };
    if let Some(d) = t.min_absolute_change {
        let (ok, bound) = if gib {
            (v >= b + d, b + d)
        } else {
            (v <= b - d, b - d)
        };
        checks.push(check(
            format!("min_absolute_change:{name}"),
            ok,
            format!(
                "{name} = {v:.6} vs champion {b:.6}: must be {} {bound:.6} (champion {} {d}): {}",
                if gib { "≥" } else { "≤" },
                if gib { "+" } else { "−" },
                if ok { "met" } else { "missed" }
            ),
        ));
    }
    if let Some(r) = t.min_relative_change {
        let (ok, bound) = if b == 0.0 {
            if gib {
                (v >= 1e-10, 1e-10)
            } else {
                (v <= -1e-10, -1e-10)
            }
        } else if gib {
            (v >= b * (1.0 + r), b * (1.0 + r))
        } else {
            (v <= b * (1.0 - r), b * (1.0 - r))
        };
        checks.push(check(
            format!("min_relative_change:{name}"),
            ok,
            format!(
                "{name} = {v:.6} vs champion {b:.6}: must be {} {bound:.6} ({:.2}% relative change): {}",
                if gib { "≥" } else { "≤" },
                100.0 * r,
                if ok { "met" } else { "missed" }
            ),
        ));
    }
    Ok(())
}

fn significance_checks(
    sc: &SignificanceConfig,
    primary: &str,
    gib: bool,
    candidate: &dyn Model,
    champ_pred: &crate::model::Prediction,
    holdout: &Dataset,
    checks: &mut Vec<Check>,
) -> Result<SignificanceSummary> {
    let y = holdout.require_target()?;
    let cand_pred = candidate.predict(holdout.features())?;
    let mut summary = SignificanceSummary {
        alpha: sc.alpha,
        mcnemar: None,
        bootstrap: None,
    };
    if sc.mcnemar != McNemarPolicy::Off && cand_pred.probabilities.is_some() {
        let m = mcnemar(
            y.view(),
            cand_pred.values.view(),
            champ_pred.values.view(),
            McNemarMethod::Auto,
        )?;
        let significant = m.b > m.c && m.p_value < sc.alpha;
        let label_metric = matches!(
            primary,
            "accuracy"
                | "balanced_accuracy"
                | "precision"
                | "recall"
                | "f1"
                | "f1_macro"
                | "f1_weighted"
        );
        let blocks = match sc.mcnemar {
            McNemarPolicy::Require => true,
            McNemarPolicy::Auto => label_metric,
            McNemarPolicy::Report | McNemarPolicy::Off => false,
        };
        let mut mcnemar = check(
            "significance:mcnemar",
            significant || !blocks,
            format!(
                "McNemar's test on paired errors: candidate right where the champion is wrong on {} rows, the reverse on {} rows, p = {:.4} ({} test); {}{}",
                m.b,
                m.c,
                m.p_value,
                if m.exact { "exact" } else { "chi-square" },
                if significant {
                    format!(
                        "the candidate makes significantly fewer errors (p < {})",
                        sc.alpha
                    )
                } else if m.b <= m.c {
                    "the candidate does not make fewer errors".to_string()
                } else {
                    format!("the difference in errors could be noise (p ≥ {})", sc.alpha)
                },
                if blocks {
                    ""
                } else {
                    " (reported only: the primary metric's bootstrap interval decides)"
                }
            ),
        );
        // Found nothing and decides nothing: a line of information, not a pass.
        mcnemar.info = !significant && !blocks;
        checks.push(mcnemar);
        summary.mcnemar = Some(m);
    }
    let ci = paired_bootstrap_ci(
        primary,
        y.view(),
        &outputs(&cand_pred),
        &outputs(champ_pred),
        &BootstrapConfig {
            n_resamples: sc.n_resamples,
            confidence: 1.0 - sc.alpha,
            seed: sc.seed,
        },
    )?;
    let ok = if gib { ci.lower > 0.0 } else { ci.upper < 0.0 };
    checks.push(check(
        format!("significance:bootstrap:{primary}"),
        ok,
        format!(
            "paired bootstrap ({} resamples, seed {}): candidate − champion {primary} = {:+.4}, {:.0}% interval [{:+.4}, {:+.4}]; {}",
            ci.n_resamples,
            sc.seed,
            ci.difference,
            100.0 * ci.confidence,
            ci.lower,
            ci.upper,
            if ok {
                "the improvement is unlikely to be noise"
            } else {
                "the interval does not exclude no improvement, so it could be noise"
            }
        ),
    ));
    summary.bootstrap = Some(ci);
    Ok(summary)
}

/// The group of every holdout row on the sensitive column (`(missing)` for a missing
/// value); a continuous numeric column is refused.
fn sensitive_groups(fc: &FairnessConfig, holdout: &Dataset) -> Result<Vec<String>> {
    let schema = holdout.schema();
    let col = schema.feature_index(&fc.sensitive).ok_or_else(|| {
        Error::not_found(
            "column",
            &fc.sensitive,
            format!(
                "the sensitive column must be a feature of the holdout ({})",
                schema.feature_names().join(", ")
            ),
        )
    })?;
    if !schema.features[col].is_categorical() {
        let mut distinct: Vec<f64> = holdout
            .features()
            .column(col)
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() > MAX_NUMERIC_GROUPS {
            return Err(Error::invalid(
                "--sensitive",
                format!(
                    "`{}` is a continuous column ({} distinct values in {} rows): groups of a few rows say nothing about fairness; pass a categorical column, or bin this one into a few groups (a new categorical column) first",
                    fc.sensitive,
                    distinct.len(),
                    holdout.n_rows()
                ),
            ));
        }
    }
    let groups: Vec<String> = holdout
        .features()
        .column(col)
        .iter()
        .map(|&v| {
            if v.is_nan() {
                "(missing)".to_string()
            } else {
                schema.decode_cell(col, v)
            }
        })
        .collect();
    Ok(groups)
}

/// Fairness of a multiclass classifier (accuracy and the share predicted as each class, by
/// group; the largest per-class spread of those shares is its demographic parity
/// difference, held to `max_demographic_parity_difference` when set) or of a regressor (RMSE
/// and MAE by group and the RMSE gap between groups, reported as information).
fn group_error_checks(
    fc: &FairnessConfig,
    candidate: &dyn Model,
    holdout: &Dataset,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let groups = sensitive_groups(fc, holdout)?;
    let y = holdout.require_target()?;
    let pred = candidate.predict(holdout.features())?;
    let name = &fc.sensitive;
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        by.entry(g.as_str()).or_default().push(i);
    }
    let sig = candidate.signature();
    let binary_only =
        fc.max_equalized_odds_difference.is_some() || fc.min_disparate_impact_ratio.is_some();
    let Some(classes) = sig.target.kind.classes() else {
        if binary_only || fc.max_demographic_parity_difference.is_some() {
            return Err(Error::invalid(
                "fairness limits",
                "demographic parity, equalized odds and disparate impact are for classifiers; for a regressor the report shows the error by group (drop the limits)",
            ));
        }
        let mut parts = Vec::new();
        let mut rmses = Vec::new();
        for (g, rows) in &by {
            let n = rows.len() as f64;
            let mse = rows
                .iter()
                .map(|&i| (pred.values[i] - y[i]).powi(2))
                .sum::<f64>()
                / n;
            let mae = rows
                .iter()
                .map(|&i| (pred.values[i] - y[i]).abs())
                .sum::<f64>()
                / n;
            rmses.push(mse.sqrt());
            parts.push(format!(
                "{g} rmse {:.4} mae {mae:.4} (n={})",
                mse.sqrt(),
                rows.len()
            ));
        }
        let gap = rmses.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - rmses.iter().copied().fold(f64::INFINITY, f64::min);
        checks.push(info(
            "fairness:error_gap",
            format!(
                "error by `{name}` group: {}; RMSE gap between groups {gap:.4} (no limits for regressors)",
                parts.join(", ")
            ),
        ));
        return Ok(());
    };
    if binary_only {
        return Err(Error::invalid(
            "fairness limits",
            "equalized odds and disparate impact are defined for binary classifiers; for a multiclass model set max_demographic_parity_difference (the largest per-class spread of selection rates)",
        ));
    }
    let k = classes.len();
    let mut lo = vec![f64::INFINITY; k];
    let mut hi = vec![f64::NEG_INFINITY; k];
    let mut parts = Vec::new();
    for (g, rows) in &by {
        let n = rows.len() as f64;
        let right = rows.iter().filter(|&&i| pred.values[i] == y[i]).count() as f64;
        let mut rates = Vec::with_capacity(k);
        for c in 0..k {
            let r = rows
                .iter()
                .filter(|&&i| pred.values[i] as usize == c)
                .count() as f64
                / n;
            lo[c] = lo[c].min(r);
            hi[c] = hi[c].max(r);
            rates.push(format!("{}={r:.3}", classes[c]));
        }
        parts.push(format!(
            "{g} accuracy {:.4} selection {} (n={})",
            right / n,
            rates.join(" "),
            rows.len()
        ));
    }
    let (worst, dpd) = (0..k)
        .map(|c| (c, hi[c] - lo[c]))
        .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
    let words = format!(
        "by `{name}` group: {}; largest per-class demographic parity difference {dpd:.4} (class `{}`)",
        parts.join("; "),
        classes.get(worst).map_or("?", String::as_str)
    );
    match fc.max_demographic_parity_difference {
        Some(m) => {
            let ok = dpd <= m;
            checks.push(check(
                "fairness:demographic_parity_difference",
                ok,
                format!(
                    "{words}, {} the limit {m:.4}",
                    if ok { "within" } else { "over" }
                ),
            ));
        }
        None => checks.push(info("fairness", format!("{words} (no limits set)"))),
    }
    Ok(())
}

/// A numeric sensitive column with more distinct values than this is refused as continuous.
const MAX_NUMERIC_GROUPS: usize = 20;

fn fairness_checks(
    fc: &FairnessConfig,
    candidate: &dyn Model,
    holdout: &Dataset,
    checks: &mut Vec<Check>,
) -> Result<FairnessSummary> {
    let groups = sensitive_groups(fc, holdout)?;
    let y = holdout.require_target()?;
    let pred = candidate.predict(holdout.features())?;
    let r = fairness_report(y.view(), pred.values.view(), &groups)?;
    let dpd = r.demographic_parity_difference();
    let eod = r.equalized_odds_difference();
    let dir = r.disparate_impact_ratio().ok();
    let name = &fc.sensitive;
    let limit = |what: &str, v: f64, max: Option<f64>, checks: &mut Vec<Check>| {
        if let Some(m) = max {
            let ok = v <= m;
            checks.push(check(
                format!("fairness:{what}"),
                ok,
                format!(
                    "{what} across `{name}` groups is {v:.4}, {} the limit {m:.4}",
                    if ok { "within" } else { "over" }
                ),
            ));
        }
    };
    limit(
        "demographic_parity_difference",
        dpd,
        fc.max_demographic_parity_difference,
        checks,
    );
    limit(
        "equalized_odds_difference",
        eod,
        fc.max_equalized_odds_difference,
        checks,
    );
    if let Some(m) = fc.min_disparate_impact_ratio {
        let (ok, words) = match dir {
            Some(v) => (
                v >= m,
                format!(
                    "disparate-impact ratio across `{name}` groups is {v:.4}, {} the minimum {m:.4}",
                    if v >= m { "meets" } else { "below" }
                ),
            ),
            None => (
                false,
                "disparate-impact ratio is undefined: no group has a positive prediction"
                    .to_string(),
            ),
        };
        checks.push(check("fairness:disparate_impact_ratio", ok, words));
    }
    if fc.max_demographic_parity_difference.is_none()
        && fc.max_equalized_odds_difference.is_none()
        && fc.min_disparate_impact_ratio.is_none()
    {
        checks.push(info(
            "fairness",
            format!(
                "across {} `{name}` groups: demographic parity difference {dpd:.4}, equalized odds difference {eod:.4}, disparate-impact ratio {} (no limits set)",
                r.by_group.len(),
                dir.map_or("undefined".to_string(), |v| format!("{v:.4}"))
            ),
        ));
    }
    Ok(FairnessSummary {
        sensitive: fc.sensitive.clone(),
        overall: r.overall,
        by_group: r.by_group,
        demographic_parity_difference: dpd,
        equalized_odds_difference: eod,
        disparate_impact_ratio: dir,
    })
}

fn outputs(p: &crate::model::Prediction) -> ModelOutputs<'_> {
    match &p.probabilities {
        Some(proba) => ModelOutputs::Classifier {
            y_pred: p.values.view(),
            proba: proba.view(),
        },
        None => ModelOutputs::Regressor {
            y_pred: p.values.view(),
        },
    }
}

fn finish(mut rep: ValidationReport, checks: Vec<Check>) -> ValidationReport {
    rep.promote = checks.iter().all(|c| c.passed);
    if rep.holdout_rows < MIN_RELIABLE_HOLDOUT_ROWS {
        rep.warnings.push(format!(
            "the holdout has only {} rows (fewer than {MIN_RELIABLE_HOLDOUT_ROWS}): a difference of a row or two can decide this {}; use a larger holdout",
            rep.holdout_rows,
            if rep.promote { "PROMOTE" } else { "REJECT" }
        ));
    }
    rep.checks = checks;
    rep
}
