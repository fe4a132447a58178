//! Realized performance: the model's outputs on the labelled share of a monitoring window,
//! measured with the validation metrics' own definitions (`validate::metrics`, equal to
//! scikit-learn) and compared with the serving version's validation metrics.
//!
//! [`realized_performance`] is pure math on the labelled rows; the [`Monitor`](super::Monitor)
//! gathers them (the window's logged requests of the serving version joined with their
//! labels, the logged outputs as predictions and — for classifiers — the class
//! probabilities the serving model gives the logged inputs).

use crate::data::{Target, TargetKind};
use crate::validate::metrics::{MAX_CLASSES, regressor_metric};
use crate::validate::metrics::{classifier_metric, greater_is_better, per_class_scores};
use crate::{Error, Result};
use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The headline classifier metrics measured per window (plus `recall_<class>` for each
/// class). `f1` is the positive class's for a binary model and the macro average for more
/// classes, as in validation.
pub const CLASSIFIER_PERFORMANCE: [&str; 4] = ["accuracy", "roc_auc", "log_loss", "f1"];

/// The regressor metrics measured per window.
pub const REGRESSOR_PERFORMANCE: [&str; 3] = ["rmse", "mae", "r2"];

/// Realized performance of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceReport {
    /// Scored rows of the serving version that have a label.
    pub labelled: usize,
    /// `labelled` / scored rows of the serving version in the window (0 with none).
    pub coverage: f64,
    /// The metrics on the labelled rows, by name (a metric undefined on them — e.g. ROC AUC
    /// when every label is the same class — is left out).
    pub metrics: BTreeMap<String, f64>,
    /// The serving version's validation metrics of the same names.
    pub baseline: BTreeMap<String, f64>,
    /// Whether some metric is worse than its baseline by more than the configured limit,
    /// with enough labelled rows to say so.
    pub degraded: bool,
}

/// How much worse a metric may get before the window counts as degraded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerformanceLimit {
    /// The largest relative worsening allowed: `(baseline − value) / |baseline|` for a
    /// metric where larger is better, `(value − baseline) / |baseline|` for a loss (the
    /// plain difference when the baseline is 0). `None`: never degraded.
    pub max_drop: Option<f64>,
    /// Fewer labelled rows than this: not enough evidence, never degraded.
    pub min_labelled: usize,
}

impl PerformanceReport {
    /// The metrics worse than their baseline by more than `max_drop`, each as
    /// `name value (baseline b)`, in name order.
    pub fn worsened(&self, max_drop: f64) -> Vec<String> {
        self.metrics
            .iter()
            .filter_map(|(name, &v)| {
                let b = *self.baseline.get(name)?;
                (worsening(name, v, b)? > max_drop)
                    .then(|| format!("{name} {v:.4} (baseline {b:.4})"))
            })
            .collect()
    }
}

/// How much worse `value` is than `baseline` for metric `name` (relative; see
/// [`PerformanceLimit::max_drop`]), or `None` for a name without a direction.
fn worsening(name: &str, value: f64, baseline: f64) -> Option<f64> {
    let better_up = greater_is_better(name).ok()?;
    let diff = if better_up {
        baseline - value
    } else {
        value - baseline
    };
    Some(if baseline == 0.0 {
        diff
    } else {
        diff / baseline.abs()
    })
}

/// Realized performance of a model with target `target` on `y_true` (labels encoded as
/// the target: class indices or values), `y_pred` (the predictions served: class indices
/// or values) and, for a classifier, `proba` (rows × classes; without it the metrics that
/// need scores — ROC AUC, log loss — are left out). `scored` is the number of rows scored
/// in the window (for the coverage), `baseline` the serving version's validation metrics
/// (those of the measured names are kept).
///
/// ```
/// use mlcycle::data::{Target, TargetKind};
/// use mlcycle::monitor::performance::{realized_performance, PerformanceLimit};
/// use ndarray::array;
/// use std::collections::BTreeMap;
/// let target = Target { name: "y".into(), kind: TargetKind::classification(["no", "yes"]).unwrap() };
/// let y = array![0.0, 1.0, 1.0, 0.0];
/// let pred = array![0.0, 1.0, 0.0, 0.0];
/// let baseline = BTreeMap::from([("accuracy".to_string(), 0.9)]);
/// let limit = PerformanceLimit { max_drop: Some(0.1), min_labelled: 2 };
/// let r = realized_performance(&target, y.view(), pred.view(), None, 8, &baseline, limit).unwrap();
/// assert_eq!(r.metrics["accuracy"], 0.75);
/// assert_eq!(r.coverage, 0.5);
/// assert!(r.degraded); // 0.75 is 17 % below 0.9
/// ```
pub fn realized_performance(
    target: &Target,
    y_true: ArrayView1<'_, f64>,
    y_pred: ArrayView1<'_, f64>,
    proba: Option<ArrayView2<'_, f64>>,
    scored: usize,
    baseline: &BTreeMap<String, f64>,
    limit: PerformanceLimit,
) -> Result<PerformanceReport> {
    if y_true.len() != y_pred.len() {
        return Err(Error::invalid(
            "realized performance",
            format!(
                "{} labels for {} predictions; give one prediction per label",
                y_true.len(),
                y_pred.len()
            ),
        ));
    }
    let labelled = y_true.len();
    let mut metrics = BTreeMap::new();
    if labelled > 0 {
        match &target.kind {
            TargetKind::Regression => {
                for name in REGRESSOR_PERFORMANCE {
                    if let Ok(v) = regressor_metric(name, y_true, y_pred) {
                        metrics.insert(name.to_string(), v);
                    }
                }
            }
            TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => {
                let k = classes.len().min(MAX_CLASSES);
                let proba = proba.filter(|p| p.ncols() == k && p.nrows() == labelled);
                for name in CLASSIFIER_PERFORMANCE {
                    let v = match (name, proba) {
                        ("roc_auc" | "log_loss", None) => continue,
                        (_, Some(p)) => classifier_metric(name, y_true, y_pred, p),
                        (_, None) => {
                            // The label-only metrics need no scores: a one-hot stand-in of
                            // the predictions gives them the shape they check.
                            let mut p = ndarray::Array2::<f64>::zeros((labelled, k));
                            for (i, &c) in y_pred.iter().enumerate() {
                                if c >= 0.0 && c.fract() == 0.0 && (c as usize) < k {
                                    p[[i, c as usize]] = 1.0;
                                }
                            }
                            classifier_metric(name, y_true, y_pred, p.view())
                        }
                    };
                    if let Ok(v) = v {
                        metrics.insert(name.to_string(), v);
                    }
                }
                if let Ok(scores) = per_class_scores(y_true, y_pred, k) {
                    for (class, s) in classes.iter().zip(scores) {
                        metrics.insert(format!("recall_{class}"), s.recall);
                    }
                }
            }
        }
    }
    let baseline: BTreeMap<String, f64> = metrics
        .keys()
        .filter_map(|k| baseline.get(k).map(|v| (k.clone(), *v)))
        .collect();
    let mut report = PerformanceReport {
        labelled,
        coverage: if scored == 0 {
            0.0
        } else {
            labelled as f64 / scored as f64
        },
        metrics,
        baseline,
        degraded: false,
    };
    if let Some(max_drop) = limit.max_drop
        && labelled >= limit.min_labelled.max(1)
    {
        report.degraded = !report.worsened(max_drop).is_empty();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn binary() -> Target {
        Target {
            name: "y".into(),
            kind: TargetKind::classification(["no", "yes"]).unwrap(),
        }
    }

    #[test]
    fn classifier_metrics_are_the_validation_definitions() {
        let y = array![0.0, 1.0, 1.0, 0.0, 1.0];
        let pred = array![0.0, 1.0, 0.0, 0.0, 1.0];
        let p = array![[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1], [0.2, 0.8]];
        let base = BTreeMap::from([
            ("accuracy".to_string(), 0.8),
            ("roc_auc".to_string(), 0.9),
            ("brier".to_string(), 0.1),
        ]);
        let limit = PerformanceLimit {
            max_drop: Some(0.5),
            min_labelled: 1,
        };
        let r = realized_performance(
            &binary(),
            y.view(),
            pred.view(),
            Some(p.view()),
            10,
            &base,
            limit,
        )
        .unwrap();
        for name in CLASSIFIER_PERFORMANCE {
            let want = classifier_metric(name, y.view(), pred.view(), p.view()).unwrap();
            assert_eq!(r.metrics[name], want, "{name}");
        }
        assert_eq!(r.metrics["recall_yes"], 2.0 / 3.0);
        assert_eq!(r.metrics["recall_no"], 1.0);
        assert_eq!(r.labelled, 5);
        assert_eq!(r.coverage, 0.5);
        // Only the baseline metrics that were measured are kept.
        assert_eq!(
            r.baseline.keys().collect::<Vec<_>>(),
            ["accuracy", "roc_auc"]
        );
        assert!(!r.degraded);
    }

    #[test]
    fn multiclass_uses_macro_f1_and_recalls_per_class() {
        let target = Target {
            name: "tier".into(),
            kind: TargetKind::classification(["low", "mid", "high"]).unwrap(),
        };
        let y = array![0.0, 1.0, 2.0, 2.0, 1.0, 0.0];
        let pred = array![0.0, 2.0, 2.0, 1.0, 1.0, 0.0];
        let p = array![
            [0.7, 0.2, 0.1],
            [0.2, 0.3, 0.5],
            [0.1, 0.2, 0.7],
            [0.2, 0.5, 0.3],
            [0.1, 0.8, 0.1],
            [0.6, 0.3, 0.1]
        ];
        let limit = PerformanceLimit {
            max_drop: None,
            min_labelled: 1,
        };
        let r = realized_performance(
            &target,
            y.view(),
            pred.view(),
            Some(p.view()),
            6,
            &BTreeMap::new(),
            limit,
        )
        .unwrap();
        for name in CLASSIFIER_PERFORMANCE {
            let want = classifier_metric(name, y.view(), pred.view(), p.view()).unwrap();
            assert_eq!(r.metrics[name], want, "{name}");
        }
        assert_eq!(r.metrics["recall_low"], 1.0);
        assert_eq!(r.metrics["recall_mid"], 0.5);
        assert_eq!(r.metrics["recall_high"], 0.5);
        // Without scores the label-only metrics remain.
        let r = realized_performance(
            &target,
            y.view(),
            pred.view(),
            None,
            6,
            &BTreeMap::new(),
            limit,
        )
        .unwrap();
        assert!(!r.metrics.contains_key("roc_auc") && !r.metrics.contains_key("log_loss"));
        assert_eq!(r.metrics["accuracy"], 4.0 / 6.0);
    }

    #[test]
    fn a_drop_beyond_the_limit_degrades_with_enough_labels_only() {
        let y = array![1.0, 2.0, 3.0, 4.0];
        let pred = array![1.5, 2.5, 3.5, 4.5];
        let target = Target {
            name: "price".into(),
            kind: TargetKind::Regression,
        };
        let base = BTreeMap::from([("rmse".to_string(), 0.4), ("r2".to_string(), 0.85)]);
        let mut limit = PerformanceLimit {
            max_drop: Some(0.2),
            min_labelled: 4,
        };
        let r =
            realized_performance(&target, y.view(), pred.view(), None, 4, &base, limit).unwrap();
        assert_eq!(r.metrics["rmse"], 0.5);
        assert_eq!(r.metrics["mae"], 0.5);
        assert_eq!(r.metrics["r2"], 0.8);
        // rmse 0.5 vs 0.4 is 25 % worse; r2 0.8 vs 0.85 about 6 %.
        assert!(r.degraded);
        assert_eq!(
            r.worsened(0.2),
            vec!["rmse 0.5000 (baseline 0.4000)".to_string()]
        );
        limit.min_labelled = 5;
        let r =
            realized_performance(&target, y.view(), pred.view(), None, 4, &base, limit).unwrap();
        assert!(!r.degraded, "too few labels to judge");
        limit.max_drop = None;
        limit.min_labelled = 1;
        let r =
            realized_performance(&target, y.view(), pred.view(), None, 4, &base, limit).unwrap();
        assert!(!r.degraded, "no limit configured");
    }

    #[test]
    fn no_labels_and_mismatched_inputs() {
        let limit = PerformanceLimit {
            max_drop: Some(0.1),
            min_labelled: 0,
        };
        let empty = ndarray::Array1::<f64>::zeros(0);
        let r = realized_performance(
            &binary(),
            empty.view(),
            empty.view(),
            None,
            0,
            &BTreeMap::new(),
            limit,
        )
        .unwrap();
        assert_eq!((r.labelled, r.coverage, r.degraded), (0, 0.0, false));
        assert!(r.metrics.is_empty());
        let y = array![1.0];
        assert!(
            realized_performance(
                &binary(),
                y.view(),
                empty.view(),
                None,
                1,
                &BTreeMap::new(),
                limit
            )
            .is_err()
        );
    }
}
