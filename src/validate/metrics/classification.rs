//! Classification metrics (scikit-learn definitions).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::input;
use crate::{Error, Result};

/// How precision, recall and F1 are reduced to one number.
///
/// Matches scikit-learn's `average=` argument with `zero_division=0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Average {
    /// The score of one class treated as "positive" against all others
    /// (scikit-learn `average="binary", pos_label=positive` for binary labels;
    /// the entry of `average=None` for that class otherwise).
    Binary {
        /// The positive class index (usually `1`).
        positive: usize,
    },
    /// Unweighted mean of the per-class scores over the classes that occur in
    /// `y_true` or `y_pred` (scikit-learn `average="macro"` with default labels).
    Macro,
    /// Mean of the per-class scores weighted by each class's support in
    /// `y_true` (scikit-learn `average="weighted"`).
    Weighted,
}

/// Precision, recall, F1 and support of one class (one-vs-rest).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// `tp / (tp + fp)`, or `0` when the class is never predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`, or `0` when the class never occurs in `y_true`.
    pub recall: f64,
    /// `2·tp / (2·tp + fp + fn)`, or `0` when that denominator is zero.
    pub f1: f64,
    /// Number of samples of this class in `y_true`.
    pub support: u64,
}

/// Per-class true-positive / false-positive / false-negative counts.
struct Counts {
    tp: Vec<u64>,
    fp: Vec<u64>,
    fn_: Vec<u64>,
    /// Class occurs in `y_true` or `y_pred`.
    present: Vec<bool>,
}

impl Counts {
    fn new(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Self {
        let mut c = Counts {
            tp: vec![0; n_classes],
            fp: vec![0; n_classes],
            fn_: vec![0; n_classes],
            present: vec![false; n_classes],
        };
        for (&t, &p) in y_true.iter().zip(y_pred) {
            c.present[t] = true;
            c.present[p] = true;
            if t == p {
                c.tp[t] += 1;
            } else {
                c.fp[p] += 1;
                c.fn_[t] += 1;
            }
        }
        c
    }

    fn scores(&self, class: usize) -> ClassScores {
        let tp = self.tp[class];
        let fp = self.fp[class];
        let fn_ = self.fn_[class];
        ClassScores {
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            support: tp + fn_,
        }
    }
}

/// `num / den`, or `0` when `den == 0` (scikit-learn's `zero_division=0`).
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Validated paired label vectors plus the implied number of classes.
fn paired_labels(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
) -> Result<(Vec<usize>, Vec<usize>, usize)> {
    input::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    let t = input::labels("y_true", y_true)?;
    let p = input::labels("y_pred", y_pred)?;
    let k = t.iter().chain(&p).copied().max().unwrap_or(0) + 1;
    Ok((t, p, k))
}

/// Fraction of samples whose predicted label equals the true label
/// (scikit-learn `accuracy_score`).
pub fn accuracy(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    let (t, p, _) = paired_labels(y_true, y_pred)?;
    let correct = t.iter().zip(&p).filter(|(a, b)| a == b).count();
    Ok(correct as f64 / t.len() as f64)
}

/// Mean per-class recall (scikit-learn `balanced_accuracy_score`, `adjusted=False`).
///
/// The mean runs over the classes that occur in `y_true`; a class that is only
/// predicted (never true) has no recall and is left out, as in scikit-learn.
pub fn balanced_accuracy(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    let (t, p, k) = paired_labels(y_true, y_pred)?;
    let c = Counts::new(&t, &p, k);
    let (mut sum, mut classes) = (0.0, 0usize);
    for j in 0..k {
        let support = c.tp[j] + c.fn_[j];
        if support > 0 {
            sum += c.tp[j] as f64 / support as f64;
            classes += 1;
        }
    }
    // `y_true` is non-empty, so at least one class has support.
    Ok(sum / classes as f64)
}

/// The `n_classes × n_classes` confusion matrix: entry `[i, j]` counts samples
/// of true class `i` predicted as class `j` (scikit-learn `confusion_matrix`
/// with `labels=0..n_classes`).
pub fn confusion_matrix(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    n_classes: usize,
) -> Result<Array2<u64>> {
    if n_classes == 0 || n_classes > input::MAX_CLASSES {
        return Err(Error::invalid(
            "n_classes",
            format!("{n_classes} is out of range (1..={})", input::MAX_CLASSES),
        ));
    }
    input::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    let t = input::labels_below("y_true", y_true, n_classes)?;
    let p = input::labels_below("y_pred", y_pred, n_classes)?;
    let mut m = Array2::zeros((n_classes, n_classes));
    for (&a, &b) in t.iter().zip(&p) {
        m[[a, b]] += 1;
    }
    Ok(m)
}

/// One-vs-rest precision, recall, F1 and support for each class `0..n_classes`
/// (scikit-learn `precision_recall_fscore_support(labels=range(n_classes),
/// average=None, zero_division=0)`).
///
/// Classes absent from both inputs get all-zero scores.
pub fn per_class_scores(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    n_classes: usize,
) -> Result<Vec<ClassScores>> {
    if n_classes == 0 || n_classes > input::MAX_CLASSES {
        return Err(Error::invalid(
            "n_classes",
            format!("{n_classes} is out of range (1..={})", input::MAX_CLASSES),
        ));
    }
    input::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    let t = input::labels_below("y_true", y_true, n_classes)?;
    let p = input::labels_below("y_pred", y_pred, n_classes)?;
    let c = Counts::new(&t, &p, n_classes);
    Ok((0..n_classes).map(|j| c.scores(j)).collect())
}

/// Averaged score `pick` over classes per `average`.
fn averaged(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    average: Average,
    pick: fn(&ClassScores) -> f64,
) -> Result<f64> {
    let (t, p, k) = paired_labels(y_true, y_pred)?;
    match average {
        Average::Binary { positive } => {
            if positive >= input::MAX_CLASSES {
                return Err(Error::invalid(
                    "positive class",
                    format!(
                        "{positive} is not a class index below {}",
                        input::MAX_CLASSES
                    ),
                ));
            }
            // A positive class that never occurs has tp = fp = fn = 0: every score is 0.
            let c = Counts::new(&t, &p, k.max(positive + 1));
            Ok(pick(&c.scores(positive)))
        }
        Average::Macro => {
            let c = Counts::new(&t, &p, k);
            let (mut sum, mut classes) = (0.0, 0usize);
            for j in (0..k).filter(|&j| c.present[j]) {
                sum += pick(&c.scores(j));
                classes += 1;
            }
            Ok(sum / classes as f64)
        }
        Average::Weighted => {
            let c = Counts::new(&t, &p, k);
            let mut sum = 0.0;
            for j in 0..k {
                let s = c.scores(j);
                sum += pick(&s) * s.support as f64;
            }
            Ok(sum / t.len() as f64)
        }
    }
}

/// Precision `tp / (tp + fp)` (scikit-learn `precision_score`, `zero_division=0`:
/// a class that is never predicted scores 0).
pub fn precision(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    average: Average,
) -> Result<f64> {
    averaged(y_true, y_pred, average, |s| s.precision)
}

/// Recall `tp / (tp + fn)` (scikit-learn `recall_score`, `zero_division=0`:
/// a class that never occurs in `y_true` scores 0).
pub fn recall(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>, average: Average) -> Result<f64> {
    averaged(y_true, y_pred, average, |s| s.recall)
}

/// F1 `2·tp / (2·tp + fp + fn)` (scikit-learn `f1_score`, `zero_division=0`:
/// a class with `tp + fp + fn = 0` scores 0).
pub fn f1(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>, average: Average) -> Result<f64> {
    averaged(y_true, y_pred, average, |s| s.f1)
}

/// Predicted labels (`0..k` as `f64`) from an `n × k` probability matrix: the
/// column with the largest probability, the first one on ties (numpy `argmax`).
pub fn argmax_labels(proba: ArrayView2<f64>) -> Result<Array1<f64>> {
    input::probability_matrix("proba", proba)?;
    Ok(proba
        .outer_iter()
        .map(|row| {
            let mut best = 0;
            for (j, &x) in row.iter().enumerate() {
                if x > row[best] {
                    best = j;
                }
            }
            best as f64
        })
        .collect())
}

/// ROC AUC and average precision of one binary ranking (`None` where undefined).
struct Ranking {
    roc_auc: Option<f64>,
    average_precision: Option<f64>,
}

/// Computes [`Ranking`] for binary `truth` vs `score` in one pass over the
/// distinct score thresholds (in decreasing order).
///
/// Tied scores form one threshold (one ROC / PR point), so ROC AUC credits a
/// positive–negative tie with ½ (the curve moves diagonally through the tie)
/// and AP uses scikit-learn's step definition `Σ (Rₙ − Rₙ₋₁) Pₙ`.
fn ranking(truth: &[bool], score: &[f64]) -> Ranking {
    let positives = truth.iter().filter(|&&t| t).count() as u64;
    let negatives = truth.len() as u64 - positives;
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_unstable_by(|&a, &b| score[b].total_cmp(&score[a]));

    let (mut tp, mut fp) = (0u64, 0u64);
    let (mut tp_prev, mut fp_prev) = (0u64, 0u64);
    // Twice the trapezoid area in units of (1 negative) × (1 positive): exact integers.
    let mut area2 = 0.0f64;
    let mut ap = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let s = score[order[i]];
        while i < order.len() && score[order[i]] == s {
            if truth[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        area2 += (fp - fp_prev) as f64 * (tp + tp_prev) as f64;
        if tp > tp_prev {
            ap += ((tp - tp_prev) as f64 / positives as f64) * (tp as f64 / (tp + fp) as f64);
        }
        tp_prev = tp;
        fp_prev = fp;
    }
    Ranking {
        roc_auc: (positives > 0 && negatives > 0)
            .then(|| area2 / (2.0 * positives as f64 * negatives as f64)),
        average_precision: (positives > 0).then_some(ap),
    }
}

/// Validated binary truth and finite scores of the same length.
fn binary_scores(y_true: ArrayView1<f64>, score: ArrayView1<f64>) -> Result<(Vec<bool>, Vec<f64>)> {
    input::same_len("y_true", y_true.len(), "score", score.len())?;
    let t = input::binary_labels("y_true", y_true)?;
    input::finite("score", score)?;
    Ok((t, score.to_vec()))
}

/// Binary ROC AUC (scikit-learn `roc_auc_score` for binary `y_true`).
///
/// `y_true` holds 0/1 labels, `score` any finite scores where larger means
/// "more likely positive". Ties are handled as in scikit-learn (the ROC curve
/// moves diagonally through tied samples). Errors if `y_true` contains only one
/// class, where ROC AUC is undefined.
pub fn roc_auc(y_true: ArrayView1<f64>, score: ArrayView1<f64>) -> Result<f64> {
    let (t, s) = binary_scores(y_true, score)?;
    ranking(&t, &s).roc_auc.ok_or_else(|| {
        Error::Data("ROC AUC is undefined: y_true contains only one class".to_string())
    })
}

/// Binary average precision (scikit-learn `average_precision_score`):
/// `Σₙ (Rₙ − Rₙ₋₁) · Pₙ` over the distinct score thresholds in decreasing
/// order, without interpolation.
///
/// Errors if `y_true` has no positive sample (scikit-learn warns and returns 0
/// there; a precision–recall summary without positives is meaningless).
pub fn average_precision(y_true: ArrayView1<f64>, score: ArrayView1<f64>) -> Result<f64> {
    let (t, s) = binary_scores(y_true, score)?;
    ranking(&t, &s).average_precision.ok_or_else(|| {
        Error::Data("average precision is undefined: y_true has no positive sample".to_string())
    })
}

/// Validated `y_true` labels below the column count of a probability matrix.
fn proba_labels(y_true: ArrayView1<f64>, proba: ArrayView2<f64>) -> Result<Vec<usize>> {
    input::same_len("y_true", y_true.len(), "proba rows", proba.nrows())?;
    input::probability_matrix("proba", proba)?;
    input::labels_below("y_true", y_true, proba.ncols())
}

/// Macro average of a per-class binary ranking score over one-vs-rest splits;
/// every class must occur in `y_true`.
fn ovr_macro(
    y_true: ArrayView1<f64>,
    proba: ArrayView2<f64>,
    metric: &str,
    pick: fn(&Ranking) -> Option<f64>,
) -> Result<f64> {
    let t = proba_labels(y_true, proba)?;
    let k = proba.ncols();
    let mut seen = vec![false; k];
    for &c in &t {
        seen[c] = true;
    }
    if let Some(missing) = seen.iter().position(|&s| !s) {
        return Err(Error::Data(format!(
            "one-vs-rest {metric} is undefined: class {missing} of {k} does not occur in y_true"
        )));
    }
    let mut sum = 0.0;
    for c in 0..k {
        let truth: Vec<bool> = t.iter().map(|&y| y == c).collect();
        let col = proba.column(c).to_vec();
        // Every class occurs and k ≥ 2, so each split has positives and negatives.
        sum += pick(&ranking(&truth, &col)).ok_or_else(|| {
            Error::Data(format!("one-vs-rest {metric} is undefined for class {c}"))
        })?;
    }
    Ok(sum / k as f64)
}

/// Multiclass ROC AUC, one-vs-rest, macro-averaged (scikit-learn
/// `roc_auc_score(multi_class="ovr", average="macro")`).
///
/// `proba` is `n × k`; every class `0..k` must occur in `y_true`. For `k = 2`
/// this is the mean of the two one-vs-rest AUCs; prefer [`roc_auc`] on column 1.
pub fn roc_auc_ovr(y_true: ArrayView1<f64>, proba: ArrayView2<f64>) -> Result<f64> {
    ovr_macro(y_true, proba, "ROC AUC", |r| r.roc_auc)
}

/// Multiclass average precision, one-vs-rest, macro-averaged (scikit-learn
/// `average_precision_score` on multiclass `y_true` with `average="macro"`).
///
/// `proba` is `n × k`; every class `0..k` must occur in `y_true`.
pub fn average_precision_ovr(y_true: ArrayView1<f64>, proba: ArrayView2<f64>) -> Result<f64> {
    ovr_macro(y_true, proba, "average precision", |r| r.average_precision)
}

/// Probabilities are clipped to `[ε, 1 − ε]` with `ε = f64::EPSILON` before
/// taking the logarithm, as current scikit-learn does (it clips with the
/// machine epsilon of the input dtype; the old fixed `eps=1e-15` and the `eps`
/// argument are no longer used — the fixtures come from scikit-learn 1.9.1).
fn clipped_neg_ln(p: f64) -> f64 {
    -p.clamp(f64::EPSILON, 1.0 - f64::EPSILON).ln()
}

/// Multiclass log loss (cross-entropy) from an `n × k` probability matrix
/// (scikit-learn `log_loss(y_true, proba, labels=range(k))`):
/// `−(1/n) Σᵢ ln clip(proba[i, y_i])`, natural logarithm.
///
/// Probabilities are clipped to `[ε, 1 − ε]`, `ε = f64::EPSILON ≈ 2.2e-16`, as
/// scikit-learn does, so a confident wrong answer costs `−ln ε ≈ 36.04`.
pub fn log_loss(y_true: ArrayView1<f64>, proba: ArrayView2<f64>) -> Result<f64> {
    let t = proba_labels(y_true, proba)?;
    let sum: f64 = t
        .iter()
        .enumerate()
        .map(|(i, &c)| clipped_neg_ln(proba[[i, c]]))
        .sum();
    Ok(sum / t.len() as f64)
}

/// Binary log loss from the positive-class probability `p` (scikit-learn
/// `log_loss(y_true, p)` with a 1-D `p`); clipping as in [`log_loss`].
pub fn log_loss_binary(y_true: ArrayView1<f64>, p: ArrayView1<f64>) -> Result<f64> {
    input::same_len("y_true", y_true.len(), "p", p.len())?;
    let t = input::binary_labels("y_true", y_true)?;
    input::probabilities("p", p)?;
    let sum: f64 = t
        .iter()
        .zip(p.iter())
        .map(|(&y, &q)| {
            if y {
                clipped_neg_ln(q)
            } else {
                clipped_neg_ln(1.0 - q)
            }
        })
        .sum();
    Ok(sum / t.len() as f64)
}

/// Binary Brier score `(1/n) Σ (yᵢ − pᵢ)²` from the positive-class probability
/// (scikit-learn `brier_score_loss(y_true, p)`).
pub fn brier(y_true: ArrayView1<f64>, p: ArrayView1<f64>) -> Result<f64> {
    input::same_len("y_true", y_true.len(), "p", p.len())?;
    let t = input::binary_labels("y_true", y_true)?;
    input::probabilities("p", p)?;
    let sum: f64 = t
        .iter()
        .zip(p.iter())
        .map(|(&y, &q)| {
            let d = if y { 1.0 - q } else { q };
            d * d
        })
        .sum();
    Ok(sum / t.len() as f64)
}

/// Brier score from an `n × k` probability matrix (scikit-learn ≥ 1.7
/// `brier_score_loss(y_true, proba, labels=range(k))`): the mean over samples
/// of `Σⱼ (1[yᵢ = j] − proba[i, j])²`, halved when `k = 2` (scikit-learn's
/// `scale_by_half="auto"`, which makes the binary case equal [`brier`]).
pub fn brier_multiclass(y_true: ArrayView1<f64>, proba: ArrayView2<f64>) -> Result<f64> {
    let t = proba_labels(y_true, proba)?;
    let mut sum = 0.0;
    for (row, &c) in proba.outer_iter().zip(&t) {
        for (j, &q) in row.iter().enumerate() {
            let d = if j == c { 1.0 - q } else { q };
            sum += d * d;
        }
    }
    let mean = sum / t.len() as f64;
    Ok(if proba.ncols() == 2 { 0.5 * mean } else { mean })
}
