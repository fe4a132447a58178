//! Training-input checks shared by the tree learners.

use ndarray::{ArrayView1, ArrayView2};

use super::TreeTask;
use crate::model::trees::common::{NanPolicy, check_features};
use crate::{Error, Result};

/// Validate the task itself.
pub(crate) fn check_task(task: TreeTask) -> Result<()> {
    if let TreeTask::Classification { n_classes } = task {
        if n_classes < 2 {
            return Err(Error::invalid(
                "n_classes",
                format!("classification needs at least 2 classes, got {n_classes}"),
            ));
        }
        if n_classes > u32::MAX as usize {
            return Err(Error::invalid(
                "n_classes",
                format!("{n_classes} is too large"),
            ));
        }
    }
    Ok(())
}

/// Validate training data: shape, finiteness and labels.
pub(crate) fn check_training_data(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    task: TreeTask,
    nan: NanPolicy,
) -> Result<()> {
    check_task(task)?;
    let (n, p) = x.dim();
    if n == 0 {
        return Err(Error::Data("training data is empty (x has 0 rows)".into()));
    }
    if p == 0 {
        return Err(Error::Data(
            "training data has no features (x has 0 columns)".into(),
        ));
    }
    if n > u32::MAX as usize {
        return Err(Error::Data(format!(
            "too many rows ({n}); at most {} are supported",
            u32::MAX
        )));
    }
    if y.len() != n {
        return Err(Error::Data(format!(
            "x has {n} rows but y has {} values; they must match",
            y.len()
        )));
    }
    check_features(x, nan)?;
    match task {
        TreeTask::Regression => {
            if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                return Err(Error::Data(format!(
                    "regression target y[{i}] = {} is not finite",
                    y[i]
                )));
            }
        }
        TreeTask::Classification { n_classes } => {
            for (i, &v) in y.iter().enumerate() {
                if !(v >= 0.0 && v < n_classes as f64 && v.fract() == 0.0) {
                    return Err(Error::Data(format!(
                        "class label y[{i}] = {v} is not a class index in 0..{n_classes}"
                    )));
                }
            }
        }
    }
    Ok(())
}
