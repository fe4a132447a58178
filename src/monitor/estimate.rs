//! Performance estimation without labels: NannyML's confidence-based performance
//! estimation (CBPE) for binary classifiers, as pure math (no I/O).
//!
//! [`Cbpe::fit`] calibrates the model's scores on labelled reference data with an
//! isotonic regression (scikit-learn's `IsotonicRegression(out_of_bounds='clip')`), and
//! [`Cbpe::estimate`] turns a window's scores into expected confusion-matrix counts and from
//! them accuracy, ROC AUC, F1, precision and recall, with NannyML 0.13's formulas. The
//! one-call form is [`estimate_performance`].

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Whether the scores are calibrated on the reference before estimating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// NannyML's first two rules: no calibration when the reference labels hold one class
    /// or the raw ROC AUC exceeds 0.999; otherwise isotonic calibration. (NannyML then
    /// also compares the expected calibration error on ten random stratified splits; that
    /// comparison depends on NumPy's generator and is not reproduced: pass `Isotonic` or
    /// `None` to force its outcome.)
    #[default]
    Auto,
    /// Always calibrate with isotonic regression.
    Isotonic,
    /// Use the raw scores.
    None,
}

/// Estimated performance of a binary classifier on a window, from its scores alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EstimatedPerformance {
    /// Rows in the window.
    pub n: usize,
    /// Expected accuracy.
    pub accuracy: f64,
    /// Expected ROC AUC.
    pub roc_auc: f64,
    /// Expected F1 of the positive class.
    pub f1: f64,
    /// Expected precision.
    pub precision: f64,
    /// Expected recall.
    pub recall: f64,
}

/// Isotonic regression `score → P(y = 1)`, as scikit-learn's
/// `IsotonicRegression(increasing=True, out_of_bounds='clip')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicCalibrator {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl IsotonicCalibrator {
    /// Fit on scores and 0/1 labels (equal lengths, at least one row, finite scores).
    pub fn fit(scores: &[f64], labels: &[bool]) -> Result<Self> {
        check_scores(scores, "reference scores")?;
        if scores.len() != labels.len() {
            return Err(Error::invalid(
                "reference labels",
                format!(
                    "{} labels for {} scores; give one label per score",
                    labels.len(),
                    scores.len()
                ),
            ));
        }
        // sort by (score, label) as np.lexsort((y, X)), then merge equal scores
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| {
            scores[a]
                .total_cmp(&scores[b])
                .then(labels[a].cmp(&labels[b]))
        });
        let mut xs: Vec<f64> = Vec::new();
        let mut sums: Vec<f64> = Vec::new();
        let mut weights: Vec<f64> = Vec::new();
        for i in idx {
            let y = if labels[i] { 1.0 } else { 0.0 };
            if xs.last() == Some(&scores[i]) {
                *sums.last_mut().expect("same length as xs") += y;
                *weights.last_mut().expect("same length as xs") += 1.0;
            } else {
                xs.push(scores[i]);
                sums.push(y);
                weights.push(1.0);
            }
        }
        // pool adjacent violators on the weighted means
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(xs.len()); // (mean, weight, len)
        for (s, w) in sums.iter().zip(&weights) {
            let mut cur = (s / w, *w, 1usize);
            while let Some(&(m, pw, pl)) = blocks.last() {
                if m < cur.0 {
                    break;
                }
                blocks.pop();
                let tw = pw + cur.1;
                cur = ((m * pw + cur.0 * cur.1) / tw, tw, pl + cur.2);
            }
            blocks.push(cur);
        }
        let mut y = Vec::with_capacity(xs.len());
        for (m, _, len) in blocks {
            y.extend(std::iter::repeat_n(m, len));
        }
        Ok(IsotonicCalibrator { x: xs, y })
    }

    /// Calibrated probability of a score: linear interpolation between the fitted points
    /// (scipy's `interp1d`), scores outside the fitted range clipped to it.
    pub fn transform(&self, score: f64) -> f64 {
        let n = self.x.len();
        if n == 1 {
            return self.y[0];
        }
        let t = score.clamp(self.x[0], self.x[n - 1]);
        // searchsorted(side='left'), clipped to 1..n-1
        let hi = self.x.partition_point(|&v| v < t).clamp(1, n - 1);
        let lo = hi - 1;
        let slope = (self.y[hi] - self.y[lo]) / (self.x[hi] - self.x[lo]);
        slope * (t - self.x[lo]) + self.y[lo]
    }
}

/// A CBPE estimator fitted on reference data.
///
/// ```
/// use mlcycle::monitor::estimate::{Calibration, Cbpe};
/// let scores = [0.1, 0.3, 0.35, 0.6, 0.8, 0.9];
/// let labels = [false, false, true, false, true, true];
/// let cbpe = Cbpe::fit(&scores, &labels, Calibration::Isotonic, 0.5).unwrap();
/// let est = cbpe.estimate(&[0.2, 0.7, 0.95]).unwrap();
/// assert!(est.accuracy > 0.0 && est.accuracy <= 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cbpe {
    calibrator: Option<IsotonicCalibrator>,
    threshold: f64,
}

impl Cbpe {
    /// Fit on reference scores (probability of the positive class) and labels.
    /// `threshold` turns a score into the predicted class (`score ≥ threshold` → 1), as
    /// the model does.
    pub fn fit(
        scores: &[f64],
        labels: &[bool],
        calibration: Calibration,
        threshold: f64,
    ) -> Result<Self> {
        check_scores(scores, "reference scores")?;
        if !threshold.is_finite() {
            return Err(Error::invalid(
                "decision threshold",
                "must be a finite number",
            ));
        }
        let calibrate = match calibration {
            Calibration::None => false,
            Calibration::Isotonic => true,
            Calibration::Auto => {
                let positives = labels.iter().filter(|&&l| l).count();
                positives > 0 && positives < labels.len() && rank_auc(scores, labels) <= 0.999
            }
        };
        let calibrator = if calibrate {
            Some(IsotonicCalibrator::fit(scores, labels)?)
        } else {
            if scores.len() != labels.len() {
                return Err(Error::invalid(
                    "reference labels",
                    "give one label per reference score",
                ));
            }
            None
        };
        Ok(Cbpe {
            calibrator,
            threshold,
        })
    }

    /// Whether the scores are calibrated.
    pub fn is_calibrated(&self) -> bool {
        self.calibrator.is_some()
    }

    /// Estimate the performance on a window of scores (at least one, all finite).
    pub fn estimate(&self, scores: &[f64]) -> Result<EstimatedPerformance> {
        check_scores(scores, "window scores")?;
        let p: Vec<f64> = match &self.calibrator {
            Some(c) => scores.iter().map(|&s| c.transform(s)).collect(),
            None => scores.to_vec(),
        };
        let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
        for (&s, &q) in scores.iter().zip(&p) {
            if s >= self.threshold {
                tp += q;
                fp += 1.0 - q;
            } else {
                fn_ += q;
                tn += 1.0 - q;
            }
        }
        let ratio = |a: f64, b: f64| if b != 0.0 { a / b } else { 0.0 };
        Ok(EstimatedPerformance {
            n: scores.len(),
            accuracy: (tp + tn) / scores.len() as f64,
            roc_auc: estimated_roc_auc(&p, scores),
            f1: ratio(tp, tp + 0.5 * (fp + fn_)),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
        })
    }
}

/// Estimate a window's performance from reference scores and labels and the window's
/// scores (NannyML CBPE, automatic calibration, decision threshold 0.5).
///
/// ```
/// use mlcycle::monitor::estimate::estimate_performance;
/// let est = estimate_performance(&[0.2, 0.4, 0.6, 0.9], &[false, true, false, true], &[0.1, 0.8])
///     .unwrap();
/// assert_eq!(est.n, 2);
/// ```
pub fn estimate_performance(
    reference_scores: &[f64],
    reference_labels: &[bool],
    window_scores: &[f64],
) -> Result<EstimatedPerformance> {
    Cbpe::fit(reference_scores, reference_labels, Calibration::Auto, 0.5)?.estimate(window_scores)
}

/// NannyML's `estimate_roc_auc`: rows sorted by the raw score (descending), expected true
/// and false positive counts accumulated from the calibrated probabilities, rounded to 5
/// decimals, and the trapezoidal area under the resulting curve.
fn estimated_roc_auc(calibrated: &[f64], raw: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..raw.len()).collect();
    idx.sort_by(|&a, &b| raw[a].total_cmp(&raw[b]));
    idx.reverse();
    let round5 = |x: f64| (x * 1e5).round_ties_even() / 1e5;
    let mut tps = Vec::with_capacity(raw.len() + 1);
    let mut fps = Vec::with_capacity(raw.len() + 1);
    tps.push(0.0);
    fps.push(0.0);
    let mut cum = 0.0;
    for (k, &i) in idx.iter().enumerate() {
        cum += calibrated[i];
        tps.push(cum);
        fps.push((k + 1) as f64 - cum);
    }
    let tps: Vec<f64> = tps.into_iter().map(round5).collect();
    let fps: Vec<f64> = fps.into_iter().map(round5).collect();
    let (tl, fl) = (tps[tps.len() - 1], fps[fps.len() - 1]);
    let mut area = 0.0;
    for k in 1..tps.len() {
        let (x0, x1) = (fps[k - 1] / fl, fps[k] / fl);
        let (y0, y1) = (tps[k - 1] / tl, tps[k] / tl);
        area += (x1 - x0) * (y1 + y0) / 2.0;
    }
    area
}

/// ROC AUC of scores against labels (Mann–Whitney, ties counted half).
fn rank_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn check_scores(scores: &[f64], what: &str) -> Result<()> {
    if scores.is_empty() {
        return Err(Error::invalid(what, "no scores; give at least one"));
    }
    if let Some(s) = scores.iter().find(|s| !s.is_finite()) {
        return Err(Error::invalid(
            what,
            format!("score {s} is not finite; scores are probabilities in [0, 1]"),
        ));
    }
    Ok(())
}
