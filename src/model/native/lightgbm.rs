//! LightGBM's text model format (`Booster.save_model`, `version=v4`).

use super::{NativeFormat, NativeModel, RawNode, assemble, layout_tree};
use crate::model::TreeTask;
use crate::{Error, Result};
use std::collections::HashMap;

/// LightGBM's `kZeroThreshold`: values within ±1e-35 count as zero.
const ZERO: f64 = 1e-35_f32 as f64;

fn bad(why: impl std::fmt::Display) -> Error {
    Error::invalid("LightGBM model file", why)
}

/// The `key=value` lines of one section.
fn section(lines: &[&str]) -> HashMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn numbers<T: std::str::FromStr>(
    s: &HashMap<String, String>,
    key: &str,
    tree: usize,
) -> Result<Vec<T>> {
    let v = s
        .get(key)
        .ok_or_else(|| bad(format!("tree {tree} has no `{key}` line")))?;
    v.split_whitespace()
        .map(|x| {
            x.parse::<T>()
                .map_err(|_| bad(format!("tree {tree}: `{x}` in `{key}` is not a number")))
        })
        .collect()
}

/// Read a LightGBM text model (what `Booster.save_model("model.txt")` writes) into the native
/// GBDT predictor. See the [module docs](super) for what is supported and how exact it is.
pub fn read_lightgbm(text: &str) -> Result<NativeModel> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    if lines.first() != Some(&"tree") {
        return Err(bad(
            "it does not start with the line `tree`; give the file `Booster.save_model` writes \
             (the text format, not a pickle or JSON dump)",
        ));
    }
    // Header: up to the first `Tree=` line.
    let first_tree = lines
        .iter()
        .position(|l| l.starts_with("Tree="))
        .ok_or_else(|| bad("it holds no trees"))?;
    let header = section(&lines[..first_tree]);
    let get = |k: &str| {
        header
            .get(k)
            .ok_or_else(|| bad(format!("the header has no `{k}` line")))
    };
    if lines[..first_tree].contains(&"average_output") {
        return Err(bad(
            "it is a random-forest model (`average_output`), which the native predictor does \
             not average; retrain with boosting (`boosting=gbdt`)",
        ));
    }
    let n_features: usize = get("max_feature_idx")?
        .parse::<usize>()
        .map_err(|_| bad("`max_feature_idx` is not a number"))?
        + 1;
    let per_iter: usize = get("num_tree_per_iteration")?
        .parse()
        .map_err(|_| bad("`num_tree_per_iteration` is not a number"))?;
    let num_class: usize = get("num_class")?
        .parse()
        .map_err(|_| bad("`num_class` is not a number"))?;
    let objective = get("objective")?.clone();
    let mut parts = objective.split_whitespace();
    let name = parts.next().unwrap_or("");
    let mut scale = 1.0;
    let task = match name {
        "binary" => {
            for p in parts {
                if let Some(s) = p.strip_prefix("sigmoid:") {
                    scale = s
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v > 0.0)
                        .ok_or_else(|| bad(format!("bad sigmoid `{s}` in the objective")))?;
                }
            }
            TreeTask::Classification { n_classes: 2 }
        }
        "multiclass" | "softmax" => TreeTask::Classification {
            n_classes: num_class,
        },
        "regression"
        | "regression_l2"
        | "l2"
        | "mean_squared_error"
        | "mse"
        | "l2_root"
        | "root_mean_squared_error"
        | "rmse"
        | "regression_l1"
        | "l1"
        | "mean_absolute_error"
        | "mae"
        | "huber"
        | "fair"
        | "quantile"
        | "mape"
        | "mean_absolute_percentage_error" => TreeTask::Regression,
        other => {
            return Err(bad(format!(
                "objective `{other}` is not supported (supported: binary, multiclass and \
                 regression objectives with the identity link)"
            )));
        }
    };
    let k = match task {
        TreeTask::Classification { n_classes } if n_classes > 2 => n_classes,
        TreeTask::Classification { .. } if num_class != 1 => {
            return Err(bad(format!("a binary model with num_class={num_class}")));
        }
        TreeTask::Classification { n_classes } if n_classes < 2 => {
            return Err(bad(format!("a multiclass model of {n_classes} classes")));
        }
        _ => 1,
    };
    if per_iter != k {
        return Err(bad(format!(
            "num_tree_per_iteration={per_iter} for a model of {k} output(s)"
        )));
    }
    let feature_names: Option<Vec<String>> = header
        .get("feature_names")
        .map(|s| s.split_whitespace().map(str::to_string).collect());
    if let Some(n) = &feature_names
        && n.len() != n_features
    {
        return Err(bad(format!(
            "{} feature names for {n_features} features",
            n.len()
        )));
    }

    // Trees: `Tree=i` blocks up to `end of trees`.
    let end = lines
        .iter()
        .position(|l| *l == "end of trees")
        .ok_or_else(|| bad("it has no `end of trees` line: the file is truncated"))?;
    let mut trees = Vec::new();
    let mut groups = Vec::new();
    let mut start = first_tree;
    while start < end {
        let stop = lines[start + 1..end]
            .iter()
            .position(|l| l.starts_with("Tree="))
            .map_or(end, |p| start + 1 + p);
        let i = trees.len();
        let s = section(&lines[start + 1..stop]);
        trees.push(read_tree(
            &s,
            i,
            n_features,
            scale,
            feature_names.as_deref(),
        )?);
        groups.push(i % k);
        start = stop;
    }
    let learner = assemble(task, n_features, vec![0.0; k], trees, &groups)?;
    Ok(NativeModel {
        format: NativeFormat::LightGbm,
        objective,
        feature_names,
        learner,
    })
}

/// LightGBM reads every input within ±1e-35 as 0 before comparing: the float64 threshold
/// that routes each such input as 0 is routed by `t`, and every other input as `t` does.
fn zero_band_threshold(t: f64) -> f64 {
    if (0.0..ZERO).contains(&t) {
        ZERO
    } else if (-ZERO..0.0).contains(&t) {
        (-ZERO).next_down()
    } else {
        t
    }
}

fn read_tree(
    s: &HashMap<String, String>,
    i: usize,
    n_features: usize,
    scale: f64,
    names: Option<&[String]>,
) -> Result<crate::model::trees::gbdt::tree::Tree> {
    if s.get("is_linear").is_some_and(|v| v != "0") {
        return Err(bad(format!(
            "tree {i} is a linear tree (`linear_tree=true`), which the native predictor does not \
             evaluate"
        )));
    }
    let n_leaves: usize = numbers::<usize>(s, "num_leaves", i)?
        .first()
        .copied()
        .ok_or_else(|| bad(format!("tree {i}: empty `num_leaves`")))?;
    let leaf_values: Vec<f64> = numbers(s, "leaf_value", i)?;
    if leaf_values.len() != n_leaves || n_leaves == 0 {
        return Err(bad(format!(
            "tree {i}: {} leaf values for {n_leaves} leaves",
            leaf_values.len()
        )));
    }
    let leaf = |l: usize| RawNode::Leaf(leaf_values[l] * scale);
    if n_leaves == 1 {
        return layout_tree(&[leaf(0)], 0, "LightGBM model file");
    }
    let n_splits = n_leaves - 1;
    let features: Vec<u32> = numbers(s, "split_feature", i)?;
    let thresholds: Vec<f64> = numbers(s, "threshold", i)?;
    let decision: Vec<u32> = numbers(s, "decision_type", i)?;
    let left: Vec<i64> = numbers(s, "left_child", i)?;
    let right: Vec<i64> = numbers(s, "right_child", i)?;
    if [
        features.len(),
        thresholds.len(),
        decision.len(),
        left.len(),
        right.len(),
    ]
    .iter()
    .any(|&n| n != n_splits)
    {
        return Err(bad(format!(
            "tree {i}: the split arrays do not all have {n_splits} entries"
        )));
    }
    // Nodes 0..n_splits are splits; n_splits + l is leaf l.
    let child = |c: i64| -> Result<usize> {
        if c >= 0 && (c as usize) < n_splits {
            Ok(c as usize)
        } else if c < 0 && ((-c - 1) as usize) < n_leaves {
            Ok(n_splits + (-c - 1) as usize)
        } else {
            Err(bad(format!("tree {i}: child {c} is out of range")))
        }
    };
    let mut nodes = Vec::with_capacity(n_splits + n_leaves);
    for j in 0..n_splits {
        let f = features[j] as usize;
        if f >= n_features {
            return Err(bad(format!(
                "tree {i}: split on feature {f} of {n_features}"
            )));
        }
        let name = names
            .and_then(|n| n.get(f))
            .map_or_else(|| format!("feature {f}"), |n| format!("feature `{n}`"));
        let d = decision[j];
        if d & 1 == 1 {
            return Err(bad(format!(
                "tree {i} has a categorical split on {name}; categorical splits are not \
                 supported by the native predictor — retrain with the column as a numeric \
                 feature (no `categorical_feature`)"
            )));
        }
        let default_left = d & 2 != 0;
        let t = thresholds[j];
        let missing_left = match (d >> 2) & 3 {
            // None: a missing value is read as 0.
            0 => 0.0 <= t,
            // Zero: zeros and missing values take the default child.
            1 => {
                let zero_left = ZERO <= t;
                let zero_right = t < -ZERO;
                if (default_left && !zero_left) || (!default_left && !zero_right) {
                    return Err(bad(format!(
                        "tree {i} sends zeros of {name} to the default child against its \
                         threshold {t} (`zero_as_missing=true`), which the native predictor \
                         cannot route; retrain with missing values as NaN"
                    )));
                }
                default_left
            }
            // NaN: a missing value takes the default child.
            2 => default_left,
            m => return Err(bad(format!("tree {i}: unknown missing type {m}"))),
        };
        nodes.push(RawNode::Split {
            feature: f as u32,
            threshold: zero_band_threshold(t),
            missing_left,
            left: child(left[j])?,
            right: child(right[j])?,
        });
    }
    nodes.extend((0..n_leaves).map(leaf));
    layout_tree(&nodes, 0, "LightGBM model file")
}
