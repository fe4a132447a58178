//! Validation of metric inputs (shared by every metric module).

use ndarray::{ArrayView1, ArrayView2};

use crate::{Error, Result};

/// Largest number of classes a label vector may imply (labels are `< MAX_CLASSES`).
///
/// Per-class counts are kept in dense vectors indexed by the label, so an
/// absurd label such as `1e12` is rejected instead of allocating memory for it.
pub const MAX_CLASSES: usize = 1 << 16;

/// Relative tolerance for probability rows summing to one (numpy `allclose`).
const ROW_SUM_RTOL: f64 = 1e-5;
/// Absolute tolerance for probability rows summing to one (numpy `allclose`).
const ROW_SUM_ATOL: f64 = 1e-8;

/// Fails unless the input is non-empty.
pub(crate) fn non_empty(what: &str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::Data(format!(
            "{what} is empty; metrics need at least one sample"
        )));
    }
    Ok(())
}

/// Fails unless two paired inputs have the same length.
pub(crate) fn same_len(a_name: &str, a: usize, b_name: &str, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::invalid(
            "input lengths",
            format!("{a_name} has {a} elements but {b_name} has {b}; they must be paired"),
        ));
    }
    Ok(())
}

/// Fails unless every value is finite.
pub(crate) fn finite(what: &str, v: ArrayView1<f64>) -> Result<()> {
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::Data(format!(
            "{what} contains a non-finite value ({x}) at index {i}"
        )));
    }
    Ok(())
}

/// Converts one label value to a class index.
fn label(what: &str, i: usize, x: f64) -> Result<usize> {
    if !x.is_finite() {
        return Err(Error::Data(format!(
            "{what} contains a non-finite label ({x}) at index {i}"
        )));
    }
    if x < 0.0 || x.fract() != 0.0 || x >= MAX_CLASSES as f64 {
        return Err(Error::invalid(
            what,
            format!(
                "value {x} at index {i} is not a class index (expected an integer in 0..{MAX_CLASSES})"
            ),
        ));
    }
    Ok(x as usize)
}

/// Converts a label vector to class indices (non-empty, finite, integral, `< MAX_CLASSES`).
pub(crate) fn labels(what: &str, v: ArrayView1<f64>) -> Result<Vec<usize>> {
    non_empty(what, v.len())?;
    v.iter()
        .enumerate()
        .map(|(i, &x)| label(what, i, x))
        .collect()
}

/// Like [`labels`], and every label must be `< n_classes`.
pub(crate) fn labels_below(what: &str, v: ArrayView1<f64>, n_classes: usize) -> Result<Vec<usize>> {
    let out = labels(what, v)?;
    if let Some((i, &c)) = out.iter().enumerate().find(|&(_, &c)| c >= n_classes) {
        return Err(Error::invalid(
            what,
            format!(
                "label {c} at index {i} is out of range for {n_classes} classes (0..{n_classes})"
            ),
        ));
    }
    Ok(out)
}

/// Converts a binary label vector (values 0 and 1 only) to booleans.
pub(crate) fn binary_labels(what: &str, v: ArrayView1<f64>) -> Result<Vec<bool>> {
    non_empty(what, v.len())?;
    v.iter()
        .enumerate()
        .map(|(i, &x)| match label(what, i, x)? {
            0 => Ok(false),
            1 => Ok(true),
            c => Err(Error::invalid(
                what,
                format!("label {c} at index {i} is not binary (expected 0 or 1)"),
            )),
        })
        .collect()
}

/// Fails unless every value is a probability in `[0, 1]` (and finite).
pub(crate) fn probabilities(what: &str, v: ArrayView1<f64>) -> Result<()> {
    finite(what, v)?;
    if let Some((i, x)) = v
        .iter()
        .enumerate()
        .find(|(_, x)| !(0.0..=1.0).contains(*x))
    {
        return Err(Error::invalid(
            what,
            format!("value {x} at index {i} is not a probability in [0, 1]"),
        ));
    }
    Ok(())
}

/// Validates an `n × k` probability matrix: `k ≥ 2`, entries finite in `[0, 1]`,
/// rows summing to one within numpy's `allclose` tolerance.
pub(crate) fn probability_matrix(what: &str, p: ArrayView2<f64>) -> Result<()> {
    let (n, k) = p.dim();
    non_empty(what, n)?;
    if k < 2 {
        return Err(Error::invalid(
            what,
            format!(
                "has {k} column(s); a probability matrix needs one column per class (at least 2)"
            ),
        ));
    }
    for (i, row) in p.outer_iter().enumerate() {
        let mut sum = 0.0;
        for (j, &x) in row.iter().enumerate() {
            if !x.is_finite() {
                return Err(Error::Data(format!(
                    "{what} contains a non-finite value ({x}) at row {i}, column {j}"
                )));
            }
            if !(0.0..=1.0).contains(&x) {
                return Err(Error::invalid(
                    what,
                    format!("value {x} at row {i}, column {j} is not a probability in [0, 1]"),
                ));
            }
            sum += x;
        }
        if (sum - 1.0).abs() > ROW_SUM_ATOL + ROW_SUM_RTOL * sum.abs() {
            return Err(Error::invalid(
                what,
                format!(
                    "row {i} sums to {sum}, not 1; pass class probabilities (e.g. predict_proba)"
                ),
            ));
        }
    }
    Ok(())
}
