use super::metrics::{
    CLASSIFIER_METRICS, REGRESSOR_METRICS, classifier_metric, greater_is_better, regressor_metric,
};
use super::{Check, ValidationReport, Validator};
use crate::data::Dataset;
use crate::model::Model;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Settings of the default validator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChampionChallengerConfig {
    /// The metric the decision is based on; `None` picks `roc_auc` for binary
    /// classification, `log_loss` for multiclass and `rmse` for regression.
    pub primary_metric: Option<String>,
    /// The candidate must beat the champion's primary metric by at least this much
    /// (in the metric's units, in its better direction).
    pub min_improvement: f64,
    /// Absolute floor (or ceiling, for lower-is-better metrics) the candidate must reach,
    /// checked even when there is no champion.
    pub threshold: Option<f64>,
}

impl Default for ChampionChallengerConfig {
    fn default() -> Self {
        ChampionChallengerConfig {
            primary_metric: None,
            min_improvement: 0.002,
            threshold: None,
        }
    }
}

/// The default validator: holdout metrics plus a champion/challenger rule on one metric.
#[derive(Debug, Clone, Default)]
pub struct ChampionChallenger {
    config: ChampionChallengerConfig,
}

impl ChampionChallenger {
    /// A validator with the given settings.
    pub fn new(config: ChampionChallengerConfig) -> Result<Self> {
        if !config.min_improvement.is_finite() || config.min_improvement < 0.0 {
            return Err(Error::invalid(
                "min_improvement",
                format!("{} must be a finite number ≥ 0", config.min_improvement),
            ));
        }
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
        if holdout.is_empty() {
            return Err(Error::Data("the holdout set is empty".into()));
        }
        let holdout_c = holdout.clone();
        let cfg = self.config.clone();
        tokio::task::spawn_blocking(move || decide(&cfg, candidate, champion, &holdout_c))
            .await
            .map_err(|e| Error::Numerical(format!("validation task failed: {e}")))?
    }
}

fn decide(
    cfg: &ChampionChallengerConfig,
    candidate: Arc<dyn Model>,
    champion: Option<Arc<dyn Model>>,
    holdout: &Dataset,
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
    let Some(&cv) = cand.get(&primary) else {
        checks.push(Check {
            name: format!("has_metric:{primary}"),
            passed: false,
            detail: format!(
                "the candidate has no `{primary}` on this holdout (available: {})",
                cand.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        });
        return Ok(report(holdout, primary, cand, None, checks));
    };
    if let Some(t) = cfg.threshold {
        let ok = better(cv, t) >= 0.0;
        checks.push(Check {
            name: format!("threshold:{primary}"),
            passed: ok,
            detail: format!(
                "{primary} = {cv:.4} {} the required {t:.4} ({dir} is better)",
                if ok { "meets" } else { "misses" }
            ),
        });
    }
    let champ = match champion {
        Some(ch) => {
            let m = holdout_metrics(ch.as_ref(), holdout)?;
            match m.get(&primary) {
                Some(&chv) => {
                    let gain = better(cv, chv);
                    let ok = gain >= cfg.min_improvement;
                    checks.push(Check {
                        name: format!("beats_champion:{primary}"),
                        passed: ok,
                        detail: format!(
                            "candidate {primary} {cv:.4} vs champion {chv:.4}: improvement {gain:+.4}, {} the required margin {:.4}",
                            if ok { "meets" } else { "misses" },
                            cfg.min_improvement
                        ),
                    });
                }
                None => checks.push(Check {
                    name: format!("beats_champion:{primary}"),
                    passed: true,
                    detail: format!(
                        "the champion has no `{primary}` on this holdout; nothing to beat"
                    ),
                }),
            }
            Some(m)
        }
        None => {
            checks.push(Check {
                name: "beats_champion".into(),
                passed: true,
                detail: "no champion yet: the first version only has to meet its thresholds".into(),
            });
            None
        }
    };
    Ok(report(holdout, primary, cand, champ, checks))
}

fn report(
    holdout: &Dataset,
    primary: String,
    candidate: BTreeMap<String, f64>,
    champion: Option<BTreeMap<String, f64>>,
    checks: Vec<Check>,
) -> ValidationReport {
    ValidationReport {
        holdout: holdout.id().clone(),
        holdout_rows: holdout.n_rows(),
        primary_metric: primary,
        promote: checks.iter().all(|c| c.passed),
        candidate,
        champion,
        checks,
    }
}
