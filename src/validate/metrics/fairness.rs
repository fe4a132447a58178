//! Group fairness metrics (Fairlearn definitions).

use std::collections::BTreeMap;

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use super::input;
use crate::{Error, Result};

/// Metrics of a binary classifier on one group of rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// Number of rows in the group.
    pub count: usize,
    /// Fraction of rows predicted positive (Fairlearn `selection_rate`).
    pub selection_rate: f64,
    /// Fraction of rows predicted correctly.
    pub accuracy: f64,
    /// `tp / (tp + fn)`; `0` when the group has no actual positive (as
    /// Fairlearn's `true_positive_rate`, via scikit-learn's normalised confusion matrix).
    pub true_positive_rate: f64,
    /// `fp / (fp + tn)`; `0` when the group has no actual negative (as
    /// Fairlearn's `false_positive_rate`).
    pub false_positive_rate: f64,
}

impl GroupMetrics {
    fn from_counts(tp: usize, fp: usize, tn: usize, fn_: usize) -> Self {
        let count = tp + fp + tn + fn_;
        let rate = |num: usize, den: usize| {
            if den == 0 {
                0.0
            } else {
                num as f64 / den as f64
            }
        };
        GroupMetrics {
            count,
            selection_rate: rate(tp + fp, count),
            accuracy: rate(tp + tn, count),
            true_positive_rate: rate(tp, tp + fn_),
            false_positive_rate: rate(fp, fp + tn),
        }
    }
}

/// Per-group and overall metrics of a binary classifier (Fairlearn's
/// `MetricFrame` with selection rate, accuracy, TPR, FPR and count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport<G: Ord> {
    /// Metrics on all rows.
    pub overall: GroupMetrics,
    /// Metrics per sensitive group, ordered by group.
    pub by_group: BTreeMap<G, GroupMetrics>,
}

impl<G: Ord> FairnessReport<G> {
    /// Largest minus smallest value of `f` over the groups.
    fn spread(&self, f: impl Fn(&GroupMetrics) -> f64) -> f64 {
        let (lo, hi) = self.extremes(f);
        hi - lo
    }

    fn extremes(&self, f: impl Fn(&GroupMetrics) -> f64) -> (f64, f64) {
        self.by_group
            .values()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            })
    }

    /// Largest difference in selection rate between any two groups (Fairlearn
    /// `demographic_parity_difference`, `method="between_groups"`); `0` is parity.
    pub fn demographic_parity_difference(&self) -> f64 {
        self.spread(|g| g.selection_rate)
    }

    /// The larger of the between-group differences in true-positive rate and
    /// in false-positive rate (Fairlearn `equalized_odds_difference`,
    /// `method="between_groups"`, `agg="worst_case"`).
    pub fn equalized_odds_difference(&self) -> f64 {
        let tpr = self.spread(|g| g.true_positive_rate);
        let fpr = self.spread(|g| g.false_positive_rate);
        tpr.max(fpr)
    }

    /// Smallest selection rate divided by the largest (Fairlearn
    /// `demographic_parity_ratio`, `method="between_groups"`); `1` is parity,
    /// and the "four-fifths rule" flags values below `0.8`.
    ///
    /// Errors when no group has any positive prediction (the ratio is 0/0;
    /// Fairlearn returns NaN).
    pub fn disparate_impact_ratio(&self) -> Result<f64> {
        let (lo, hi) = self.extremes(|g| g.selection_rate);
        if hi == 0.0 {
            return Err(Error::Data(
                "disparate-impact ratio is undefined: no group has any positive prediction"
                    .to_string(),
            ));
        }
        Ok(lo / hi)
    }
}

/// Per-group metrics of a binary classifier.
///
/// `y_true` and `y_pred` are 0/1 labels (1 = positive / selected outcome) and
/// `sensitive[i]` is the group of row `i` (any ordered type: `&str`, `String`,
/// an integer code …). All three must have the same, non-zero length.
pub fn fairness_report<G: Ord + Clone>(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    sensitive: &[G],
) -> Result<FairnessReport<G>> {
    input::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    input::same_len("y_true", y_true.len(), "sensitive", sensitive.len())?;
    let t = input::binary_labels("y_true", y_true)?;
    let p = input::binary_labels("y_pred", y_pred)?;

    // [tp, fp, tn, fn] per group
    let mut counts: BTreeMap<&G, [usize; 4]> = BTreeMap::new();
    let mut overall = [0usize; 4];
    for ((&t, &p), g) in t.iter().zip(&p).zip(sensitive) {
        let slot = match (t, p) {
            (true, true) => 0,
            (false, true) => 1,
            (false, false) => 2,
            (true, false) => 3,
        };
        counts.entry(g).or_default()[slot] += 1;
        overall[slot] += 1;
    }
    let make = |c: [usize; 4]| GroupMetrics::from_counts(c[0], c[1], c[2], c[3]);
    Ok(FairnessReport {
        overall: make(overall),
        by_group: counts
            .into_iter()
            .map(|(g, c)| (g.clone(), make(c)))
            .collect(),
    })
}

/// Fairlearn `demographic_parity_difference` (between groups); see
/// [`FairnessReport::demographic_parity_difference`].
pub fn demographic_parity_difference<G: Ord + Clone>(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    sensitive: &[G],
) -> Result<f64> {
    Ok(fairness_report(y_true, y_pred, sensitive)?.demographic_parity_difference())
}

/// Fairlearn `equalized_odds_difference` (between groups, worst case); see
/// [`FairnessReport::equalized_odds_difference`].
pub fn equalized_odds_difference<G: Ord + Clone>(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    sensitive: &[G],
) -> Result<f64> {
    Ok(fairness_report(y_true, y_pred, sensitive)?.equalized_odds_difference())
}

/// Disparate-impact ratio, min / max group selection rate (Fairlearn
/// `demographic_parity_ratio`); see [`FairnessReport::disparate_impact_ratio`].
pub fn disparate_impact_ratio<G: Ord + Clone>(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    sensitive: &[G],
) -> Result<f64> {
    fairness_report(y_true, y_pred, sensitive)?.disparate_impact_ratio()
}
