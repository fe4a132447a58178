//! Metrics addressed by stable snake_case names.

use std::collections::BTreeMap;

use ndarray::{ArrayView1, ArrayView2};

use super::classification::{self as cls, Average};
use super::{input, regression as reg};
use crate::{Error, Result};

/// Names computed by [`classifier_metrics`], in a stable order.
///
/// For a binary classifier (`proba` has 2 columns) `precision`, `recall` and
/// `f1` are those of class 1, `roc_auc` / `average_precision` use column 1 as
/// the score and `brier` is the binary Brier score. For `k ≥ 3` classes
/// `precision`, `recall` and `f1` are macro averages, `roc_auc` and
/// `average_precision` are one-vs-rest macro averages and `brier` is the
/// multiclass Brier score ([`brier_multiclass`](super::brier_multiclass)).
pub const CLASSIFIER_METRICS: [&str; 11] = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "f1_macro",
    "f1_weighted",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
];

/// Names computed by [`regressor_metrics`], in a stable order.
pub const REGRESSOR_METRICS: [&str; 4] = ["rmse", "mae", "r2", "mape"];

fn unknown(name: &str) -> Error {
    Error::not_found(
        "metric",
        name,
        format!(
            "known metrics: {}, {}",
            CLASSIFIER_METRICS.join(", "),
            REGRESSOR_METRICS.join(", ")
        ),
    )
}

/// Whether a larger value of the named metric means a better model.
///
/// `true` for accuracy, balanced_accuracy, precision, recall, f1, f1_macro,
/// f1_weighted, roc_auc, average_precision and r2; `false` for the losses
/// log_loss, brier, rmse, mae and mape. Errors with
/// [`Error::NotFound`](crate::Error::NotFound) for any other name.
pub fn greater_is_better(name: &str) -> Result<bool> {
    match name {
        "accuracy" | "balanced_accuracy" | "precision" | "recall" | "f1" | "f1_macro"
        | "f1_weighted" | "roc_auc" | "average_precision" | "r2" => Ok(true),
        "log_loss" | "brier" | "rmse" | "mae" | "mape" => Ok(false),
        _ => Err(unknown(name)),
    }
}

/// Validates classifier outputs: `y_true`/`y_pred` labels below `k = proba.ncols()`.
fn classifier_inputs(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    proba: ArrayView2<f64>,
) -> Result<()> {
    input::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    input::same_len("y_true", y_true.len(), "proba rows", proba.nrows())?;
    input::probability_matrix("proba", proba)?;
    let k = proba.ncols();
    input::labels_below("y_true", y_true, k)?;
    input::labels_below("y_pred", y_pred, k)?;
    Ok(())
}

/// One classifier metric from [`CLASSIFIER_METRICS`] by name.
///
/// `y_true` and `y_pred` are class labels `0..k`, `proba` the `n × k` class
/// probabilities (`y_pred` need not be the argmax of `proba`, e.g. after
/// choosing a decision threshold). See [`CLASSIFIER_METRICS`] for how each
/// name is defined for binary and multiclass problems.
pub fn classifier_metric(
    name: &str,
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    proba: ArrayView2<f64>,
) -> Result<f64> {
    if !CLASSIFIER_METRICS.contains(&name) {
        return Err(unknown(name));
    }
    classifier_inputs(y_true, y_pred, proba)?;
    compute_classifier(name, y_true, y_pred, proba)
}

/// Computes a classifier metric on already validated inputs.
fn compute_classifier(
    name: &str,
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    proba: ArrayView2<f64>,
) -> Result<f64> {
    let binary = proba.ncols() == 2;
    let headline = if binary {
        Average::Binary { positive: 1 }
    } else {
        Average::Macro
    };
    match name {
        "accuracy" => cls::accuracy(y_true, y_pred),
        "balanced_accuracy" => cls::balanced_accuracy(y_true, y_pred),
        "precision" => cls::precision(y_true, y_pred, headline),
        "recall" => cls::recall(y_true, y_pred, headline),
        "f1" => cls::f1(y_true, y_pred, headline),
        "f1_macro" => cls::f1(y_true, y_pred, Average::Macro),
        "f1_weighted" => cls::f1(y_true, y_pred, Average::Weighted),
        "roc_auc" if binary => cls::roc_auc(y_true, proba.column(1)),
        "roc_auc" => cls::roc_auc_ovr(y_true, proba),
        "average_precision" if binary => cls::average_precision(y_true, proba.column(1)),
        "average_precision" => cls::average_precision_ovr(y_true, proba),
        "log_loss" => cls::log_loss(y_true, proba),
        "brier" if binary => cls::brier(y_true, proba.column(1)),
        "brier" => cls::brier_multiclass(y_true, proba),
        _ => Err(unknown(name)),
    }
}

/// All [`CLASSIFIER_METRICS`] for one classifier, keyed by name.
///
/// Fails as a whole if any metric is undefined for the data (for example a
/// holdout with a single class makes ROC AUC undefined); compute metrics one by
/// one with [`classifier_metric`] to get the defined ones.
pub fn classifier_metrics(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    proba: ArrayView2<f64>,
) -> Result<BTreeMap<String, f64>> {
    classifier_inputs(y_true, y_pred, proba)?;
    CLASSIFIER_METRICS
        .iter()
        .map(|&name| {
            compute_classifier(name, y_true, y_pred, proba)
                .map(|v| (name.to_string(), v))
                .map_err(|e| match e {
                    Error::Data(why) => Error::Data(format!("metric `{name}`: {why}")),
                    other => other,
                })
        })
        .collect()
}

/// One regressor metric from [`REGRESSOR_METRICS`] by name.
pub fn regressor_metric(
    name: &str,
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
) -> Result<f64> {
    match name {
        "rmse" => reg::rmse(y_true, y_pred),
        "mae" => reg::mae(y_true, y_pred),
        "r2" => reg::r2(y_true, y_pred),
        "mape" => reg::mape(y_true, y_pred),
        _ => Err(unknown(name)),
    }
}

/// All [`REGRESSOR_METRICS`] for one regressor, keyed by name.
pub fn regressor_metrics(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
) -> Result<BTreeMap<String, f64>> {
    REGRESSOR_METRICS
        .iter()
        .map(|&name| regressor_metric(name, y_true, y_pred).map(|v| (name.to_string(), v)))
        .collect()
}

/// Whether `name` is one of [`CLASSIFIER_METRICS`].
pub(crate) fn is_classifier_metric(name: &str) -> bool {
    CLASSIFIER_METRICS.contains(&name)
}

/// Whether `name` is one of [`REGRESSOR_METRICS`].
pub(crate) fn is_regressor_metric(name: &str) -> bool {
    REGRESSOR_METRICS.contains(&name)
}
