//! XGBoost's JSON model format (`Booster.save_model("model.json")`).

use super::{NativeFormat, NativeModel, RawNode, assemble, layout_tree};
use crate::model::TreeTask;
use crate::{Error, Result};
use serde_json::Value;

fn bad(why: impl std::fmt::Display) -> Error {
    Error::invalid("XGBoost model file", why)
}

/// The float64 threshold `t` such that, for every float64 `x`, `x <= t` exactly when
/// `(x as f32) < c` — XGBoost's float32 comparison (round to nearest, ties to even).
pub(crate) fn f64_threshold(c: f32) -> f64 {
    if c == f32::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    // The largest float32 below c, and the midpoint between the two (exact in float64).
    let below = f32::from_bits(if c > 0.0 {
        c.to_bits() - 1
    } else if c == 0.0 {
        // -0.0 and 0.0: the largest float32 below zero is the smallest negative subnormal.
        0x8000_0001
    } else {
        c.to_bits() + 1
    });
    let upper = if c == f32::INFINITY {
        2f64.powi(128)
    } else {
        f64::from(c)
    };
    let mid = (f64::from(below) + upper) / 2.0;
    // A value at the midpoint rounds to whichever of the two is even.
    if (mid as f32) == below {
        mid
    } else {
        mid.next_down()
    }
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| bad(format!("it has no `{}`", path.join("."))))?;
    }
    Ok(cur)
}

/// A number stored as a JSON number or as a string (XGBoost writes its parameters as
/// strings, e.g. `"5E-1"`).
fn number(v: &Value, what: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(format!("`{what}` is not a number: {v}")))
}

fn array<'a>(tree: &'a Value, key: &str, i: usize) -> Result<&'a Vec<Value>> {
    tree.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("tree {i} has no `{key}` array")))
}

/// Read an XGBoost JSON model (what `Booster.save_model("model.json")` writes) into the
/// native GBDT predictor. See the [module docs](super) for what is supported and how exact
/// it is.
pub fn read_xgboost(json: &[u8]) -> Result<NativeModel> {
    let doc: Value = serde_json::from_slice(json).map_err(|e| {
        bad(format!(
            "not JSON ({e}); give the file `Booster.save_model(\"model.json\")` writes (not the \
             binary or UBJSON format)"
        ))
    })?;
    let learner = field(&doc, &["learner"])?;
    let params = field(learner, &["learner_model_param"])?;
    let n_features = number(field(params, &["num_feature"])?, "num_feature")? as usize;
    let num_class = number(field(params, &["num_class"])?, "num_class")? as usize;
    if let Some(t) = params.get("num_target")
        && number(t, "num_target")? > 1.0
    {
        return Err(bad("multi-target models are not supported"));
    }
    let objective = field(learner, &["objective", "name"])?
        .as_str()
        .ok_or_else(|| bad("`objective.name` is not a string"))?
        .to_string();
    let task = match objective.as_str() {
        "binary:logistic" => TreeTask::Classification { n_classes: 2 },
        "multi:softprob" | "multi:softmax" => TreeTask::Classification {
            n_classes: num_class,
        },
        "reg:squarederror"
        | "reg:linear"
        | "reg:absoluteerror"
        | "reg:pseudohubererror"
        | "reg:quantileerror" => TreeTask::Regression,
        other => {
            return Err(bad(format!(
                "objective `{other}` is not supported (supported: binary:logistic, \
                 multi:softprob, multi:softmax and regression objectives with the identity link)"
            )));
        }
    };
    let k = match task {
        TreeTask::Classification { n_classes } if n_classes > 2 => n_classes,
        TreeTask::Classification { n_classes: 2 } => 1,
        TreeTask::Classification { n_classes } => {
            return Err(bad(format!("a multiclass model of {n_classes} classes")));
        }
        TreeTask::Regression => 1,
    };
    // base_score: "5E-1" (≤ 3.0) or "[5E-1]" / one per class (3.1+).
    let base_raw = field(params, &["base_score"])?;
    let base: Vec<f64> = match base_raw {
        Value::String(s) if s.trim_start().starts_with('[') => {
            let inner: Vec<Value> = serde_json::from_str(&s.replace('E', "e"))
                .map_err(|e| bad(format!("`base_score` {s} is not a list: {e}")))?;
            inner
                .iter()
                .map(|v| number(v, "base_score"))
                .collect::<Result<_>>()?
        }
        v => vec![number(v, "base_score")?],
    };
    // Stored as float32.
    let base: Vec<f64> = base.into_iter().map(|b| f64::from(b as f32)).collect();
    let base = match base.len() {
        1 => vec![base[0]; k],
        n if n == k => base,
        n => return Err(bad(format!("{n} base scores for {k} outputs"))),
    };
    let baseline: Vec<f64> = if objective == "binary:logistic" {
        base.iter()
            .map(|&p| {
                if p > 0.0 && p < 1.0 {
                    Ok((p / (1.0 - p)).ln())
                } else {
                    Err(bad(format!("base_score {p} is not a probability")))
                }
            })
            .collect::<Result<_>>()?
    } else {
        base
    };
    let booster = field(learner, &["gradient_booster"])?;
    let kind = booster
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("gbtree");
    if kind != "gbtree" {
        return Err(bad(format!(
            "booster `{kind}` is not supported (only `gbtree`; `dart` weights its trees and \
             `gblinear` has none)"
        )));
    }
    let model = field(booster, &["model"])?;
    let trees_json = field(model, &["trees"])?
        .as_array()
        .ok_or_else(|| bad("`trees` is not an array"))?;
    let groups: Vec<usize> = match model.get("tree_info").and_then(Value::as_array) {
        Some(info) => info
            .iter()
            .map(|g| g.as_u64().map(|g| g as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("`tree_info` holds something other than group numbers"))?,
        None => vec![0; trees_json.len()],
    };
    if groups.len() != trees_json.len() {
        return Err(bad(format!(
            "{} entries of `tree_info` for {} trees",
            groups.len(),
            trees_json.len()
        )));
    }
    let feature_names: Option<Vec<String>> = learner
        .get("feature_names")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`feature_names` holds something other than strings"))
        })
        .transpose()?;
    if let Some(n) = &feature_names
        && n.len() != n_features
    {
        return Err(bad(format!(
            "{} feature names for {n_features} features",
            n.len()
        )));
    }
    let trees = trees_json
        .iter()
        .enumerate()
        .map(|(i, t)| read_tree(t, i, n_features, feature_names.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    let learner = assemble(task, n_features, baseline, trees, &groups)?;
    Ok(NativeModel {
        format: NativeFormat::XgBoost,
        objective,
        feature_names,
        learner,
    })
}

fn read_tree(
    t: &Value,
    i: usize,
    n_features: usize,
    names: Option<&[String]>,
) -> Result<crate::model::trees::gbdt::tree::Tree> {
    let ints = |key: &str| -> Result<Vec<i64>> {
        array(t, key, i)?
            .iter()
            .map(|v| match v {
                Value::Bool(b) => Some(i64::from(*b)),
                v => v.as_i64(),
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad(format!(
                    "tree {i}: `{key}` holds something other than integers"
                ))
            })
    };
    let left = ints("left_children")?;
    let right = ints("right_children")?;
    let feature = ints("split_indices")?;
    let default_left = ints("default_left")?;
    let cond: Vec<f64> = array(t, "split_conditions", i)?
        .iter()
        .map(|v| v.as_f64())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad(format!("tree {i}: `split_conditions` holds a non-number")))?;
    let split_type = match t.get("split_type") {
        Some(_) => ints("split_type")?,
        None => vec![0; left.len()],
    };
    let n = left.len();
    if [
        right.len(),
        feature.len(),
        default_left.len(),
        cond.len(),
        split_type.len(),
    ]
    .iter()
    .any(|&m| m != n)
        || n == 0
    {
        return Err(bad(format!(
            "tree {i}: its node arrays do not all have {n} entries"
        )));
    }
    let mut nodes = Vec::with_capacity(n);
    for j in 0..n {
        // Leaves and conditions are float32 in XGBoost.
        let c = cond[j] as f32;
        if left[j] == -1 {
            nodes.push(RawNode::Leaf(f64::from(c)));
            continue;
        }
        let f = usize::try_from(feature[j])
            .ok()
            .filter(|&f| f < n_features)
            .ok_or_else(|| {
                bad(format!(
                    "tree {i}: node {j} splits on feature {} of {n_features}",
                    feature[j]
                ))
            })?;
        if split_type[j] != 0 {
            let name = names
                .and_then(|n| n.get(f))
                .map_or_else(|| format!("feature {f}"), |n| format!("feature `{n}`"));
            return Err(bad(format!(
                "tree {i} has a categorical split on {name}; categorical splits are not \
                 supported by the native predictor — retrain with the column as a numeric \
                 feature (no `enable_categorical`)"
            )));
        }
        let child = |c: i64| {
            usize::try_from(c)
                .ok()
                .filter(|&c| c < n)
                .ok_or_else(|| bad(format!("tree {i}: node {j} has child {c}")))
        };
        if c.is_nan() {
            return Err(bad(format!("tree {i}: node {j} has a NaN condition")));
        }
        nodes.push(RawNode::Split {
            feature: f as u32,
            threshold: f64_threshold(c),
            missing_left: default_left[j] != 0,
            left: child(left[j])?,
            right: child(right[j])?,
        });
    }
    layout_tree(&nodes, 0, "XGBoost model file")
}

#[cfg(test)]
mod tests {
    use super::f64_threshold;

    /// Every float64 near a float32 condition routes as XGBoost's float32 comparison does.
    #[test]
    fn the_f64_threshold_routes_like_a_float32_comparison() {
        let conds = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.087_563_224,
            -0.582_367_3,
            3.5,
            1e-30,
            -1e-30,
            f32::MAX,
            f32::MIN_POSITIVE,
            16_777_216.0,
            16_777_218.0,
        ];
        for c in conds {
            let t = f64_threshold(c);
            // Around the threshold and around c, step by float64 ulps.
            for centre in [t, f64::from(c)] {
                let mut x = centre;
                for _ in 0..8 {
                    x = x.next_down();
                }
                for _ in 0..16 {
                    assert_eq!(x <= t, (x as f32) < c, "c={c:e} x={x:e} t={t:e}");
                    x = x.next_up();
                }
            }
        }
    }
}
