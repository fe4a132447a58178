//! Holdout metrics used by the default validator.

use crate::model::Prediction;
use crate::{Error, Result};
use ndarray::ArrayView1;
use std::collections::BTreeMap;

/// Metrics of a classifier (binary: positive class = index 1) on labelled rows.
pub(crate) fn classification(
    y: ArrayView1<'_, f64>,
    pred: &Prediction,
    n_classes: usize,
) -> Result<BTreeMap<String, f64>> {
    let n = y.len();
    if n == 0 {
        return Err(Error::Data("no rows to compute metrics on".into()));
    }
    let proba = pred.probabilities.as_ref().ok_or_else(|| {
        Error::invalid("prediction", "a classifier must return class probabilities")
    })?;
    let mut m = BTreeMap::new();
    let correct = y.iter().zip(&pred.values).filter(|(a, b)| a == b).count();
    m.insert("accuracy".into(), correct as f64 / n as f64);
    let eps = 1e-15;
    let ll = y
        .iter()
        .enumerate()
        .map(|(i, &c)| -proba[[i, c as usize]].clamp(eps, 1.0 - eps).ln())
        .sum::<f64>()
        / n as f64;
    m.insert("log_loss".into(), ll);
    if n_classes == 2 {
        let (mut tp, mut fp, mut fnn) = (0.0, 0.0, 0.0);
        for (a, b) in y.iter().zip(&pred.values) {
            match (*a == 1.0, *b == 1.0) {
                (true, true) => tp += 1.0,
                (false, true) => fp += 1.0,
                (true, false) => fnn += 1.0,
                _ => {}
            }
        }
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let recall = if tp + fnn > 0.0 { tp / (tp + fnn) } else { 0.0 };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        m.insert("precision".into(), precision);
        m.insert("recall".into(), recall);
        m.insert("f1".into(), f1);
        let scores: Vec<f64> = (0..n).map(|i| proba[[i, 1]]).collect();
        if let Some(auc) = roc_auc(y, &scores) {
            m.insert("roc_auc".into(), auc);
        }
    }
    Ok(m)
}

/// Rank-based ROC AUC (ties get half credit); `None` if only one class is present.
fn roc_auc(y: ArrayView1<'_, f64>, scores: &[f64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    let n_pos = y.iter().filter(|&&v| v == 1.0).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    let sum_pos: f64 = y
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v == 1.0)
        .map(|(_, r)| r)
        .sum();
    Some((sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Metrics of a regressor.
pub(crate) fn regression(
    y: ArrayView1<'_, f64>,
    pred: &Prediction,
) -> Result<BTreeMap<String, f64>> {
    let n = y.len();
    if n == 0 {
        return Err(Error::Data("no rows to compute metrics on".into()));
    }
    let nf = n as f64;
    let mse = y
        .iter()
        .zip(&pred.values)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / nf;
    let mae = y
        .iter()
        .zip(&pred.values)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / nf;
    let mean = y.sum() / nf;
    let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - mse * nf / ss_tot
    } else {
        0.0
    };
    Ok(BTreeMap::from([
        ("rmse".into(), mse.sqrt()),
        ("mae".into(), mae),
        ("r2".into(), r2),
    ]))
}

/// Whether a larger value of `metric` is better.
pub(crate) fn greater_is_better(metric: &str) -> bool {
    !matches!(metric, "log_loss" | "rmse" | "mae" | "mape" | "brier")
}
