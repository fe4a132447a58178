//! Regression metrics (scikit-learn definitions).

use ndarray::ArrayView1;

use super::input;
use crate::{Error, Result};

/// Validates a finite, non-empty pair of value vectors of the same length.
fn pair(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<()> {
    input::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    input::non_empty("y_true", y_true.len())?;
    input::finite("y_true", y_true)?;
    input::finite("y_pred", y_pred)
}

fn sum_sq_err(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> f64 {
    y_true
        .iter()
        .zip(y_pred.iter())
        .map(|(a, b)| (a - b) * (a - b))
        .sum()
}

/// Mean squared error `(1/n) Σ (yᵢ − ŷᵢ)²` (scikit-learn `mean_squared_error`).
pub fn mse(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    pair(y_true, y_pred)?;
    Ok(sum_sq_err(y_true, y_pred) / y_true.len() as f64)
}

/// Root mean squared error `√MSE` (scikit-learn `root_mean_squared_error`).
pub fn rmse(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    mse(y_true, y_pred).map(f64::sqrt)
}

/// Mean absolute error `(1/n) Σ |yᵢ − ŷᵢ|` (scikit-learn `mean_absolute_error`).
pub fn mae(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    pair(y_true, y_pred)?;
    let sum: f64 = y_true
        .iter()
        .zip(y_pred.iter())
        .map(|(a, b)| (a - b).abs())
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Coefficient of determination `1 − Σ(yᵢ − ŷᵢ)² / Σ(yᵢ − ȳ)²`
/// (scikit-learn `r2_score` with `force_finite=True`).
///
/// When `y_true` is constant the denominator is zero and, as in scikit-learn,
/// the score is `1.0` for perfect predictions and `0.0` otherwise. "Constant"
/// means all values are exactly equal; then the denominator is taken as
/// exactly zero (scikit-learn computes it from the rounded mean, which for a
/// constant like `0.1` can leave a tiny non-zero residue).
///
/// Errors for fewer than two samples (scikit-learn returns NaN there).
pub fn r2(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    pair(y_true, y_pred)?;
    let n = y_true.len();
    if n < 2 {
        return Err(Error::Data(format!(
            "R² is undefined for {n} sample; it needs at least two"
        )));
    }
    let numerator = sum_sq_err(y_true, y_pred);
    let first = y_true[0];
    let denominator = if y_true.iter().all(|&y| y == first) {
        0.0
    } else {
        let mean = y_true.sum() / n as f64;
        y_true.iter().map(|y| (y - mean) * (y - mean)).sum()
    };
    Ok(if numerator == 0.0 {
        1.0
    } else if denominator == 0.0 {
        0.0
    } else {
        1.0 - numerator / denominator
    })
}

/// Mean absolute percentage error `(1/n) Σ |yᵢ − ŷᵢ| / max(|yᵢ|, ε)` with
/// `ε = f64::EPSILON` (scikit-learn `mean_absolute_percentage_error`).
///
/// The result is a fraction, not a percentage (`0.1` means 10 %). As in
/// scikit-learn, a zero in `y_true` does not fail: it is replaced by `ε`, so
/// any error on such a sample makes MAPE astronomically large (≈ `|ŷᵢ| / 2.2e-16`).
pub fn mape(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    pair(y_true, y_pred)?;
    let sum: f64 = y_true
        .iter()
        .zip(y_pred.iter())
        .map(|(a, b)| (a - b).abs() / a.abs().max(f64::EPSILON))
        .sum();
    Ok(sum / y_true.len() as f64)
}
