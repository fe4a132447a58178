//! Gradient-boosted tree models trained elsewhere, read from the files their libraries write:
//! LightGBM's text model ([`read_lightgbm`]) and XGBoost's JSON model ([`read_xgboost`]).
//! They become the native GBDT predictor (flavor `gbdt`), so they are served, scored,
//! explained and validated exactly like a model trained here.
//!
//! # What is read
//!
//! - Numerical splits with their missing-value routing. LightGBM: `x <= threshold` (float64)
//!   goes left; a missing value takes the default child (missing type NaN), is read as 0
//!   (missing type None), or — with `zero_as_missing` (missing type Zero) — takes the
//!   default child with every zero, which is accepted when zero's side of the threshold is
//!   the default side and refused otherwise. XGBoost: `float32(x) < threshold` goes left and
//!   a missing value takes the default child; the float32 comparison is turned into the exact
//!   float64 threshold that routes every float64 input the same way. LightGBM reads inputs
//!   within ±1e-35 as 0; thresholds inside that band are moved to its edge so those inputs
//!   route as 0 does.
//! - Objectives: binary logistic (LightGBM `binary`, any sigmoid; XGBoost `binary:logistic`),
//!   multiclass softmax (LightGBM `multiclass`; XGBoost `multi:softprob`, `multi:softmax`)
//!   and regression with the identity link (LightGBM `regression`, `regression_l1`, `huber`,
//!   `fair`, `quantile`, `mape`; XGBoost `reg:squarederror`, `reg:linear`,
//!   `reg:absoluteerror`, `reg:pseudohubererror`, `reg:quantileerror`).
//! - XGBoost's `base_score` (a scalar or, from 3.1, one value per class): the logit of it for
//!   `binary:logistic`, the value itself otherwise.
//!
//! Refused with an error naming what is unsupported: categorical splits (both libraries),
//! linear trees and random-forest mode (`average_output`) in LightGBM, `dart` boosters,
//! multi-target models and objectives with other links (Poisson, Gamma, Tweedie, ranking,
//! one-vs-all).
//!
//! # Exactness
//!
//! LightGBM sums float64 leaf values, like the native predictor: predictions equal
//! LightGBM's to rounding of the sum order (1e-12 on the fixtures). XGBoost stores float32
//! leaves and sums them in float32; here the same leaves (read exactly) are summed in
//! float64, so predictions differ from XGBoost's float32 outputs by float32 rounding
//! (below 1e-6 on the fixtures) and equal a float64 sum of the leaves XGBoost routes to.

mod lightgbm;
mod xgboost;

pub use lightgbm::read_lightgbm;
pub use xgboost::read_xgboost;

use super::trees::gbdt::tree::{BinMapper, FeatureBins, Node, Tree};
use super::{GbdtModel, GbdtPipeline, Signature, TreeColumn, TreePreprocessor, TreeTask};
use crate::data::{Feature, FeatureKind, Schema, Target, TargetKind};
use crate::{Error, Result};

/// The library a native model file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeFormat {
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    LightGbm,
    /// XGBoost's JSON model (`Booster.save_model("model.json")`).
    XgBoost,
}

impl NativeFormat {
    /// `lightgbm` or `xgboost`.
    pub fn as_str(self) -> &'static str {
        match self {
            NativeFormat::LightGbm => "lightgbm",
            NativeFormat::XgBoost => "xgboost",
        }
    }
}

/// A gradient-boosted model read from a LightGBM or XGBoost file, before it is given a
/// signature ([`NativeModel::into_pipeline`]).
#[derive(Debug, Clone)]
pub struct NativeModel {
    format: NativeFormat,
    objective: String,
    feature_names: Option<Vec<String>>,
    learner: GbdtModel,
}

impl NativeModel {
    /// The library the file came from.
    pub fn format(&self) -> NativeFormat {
        self.format
    }

    /// The objective as the file names it.
    pub fn objective(&self) -> &str {
        &self.objective
    }

    /// The feature names stored in the file, if it has them.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.learner.n_features()
    }

    /// Regression, or classification with its number of classes.
    pub fn task(&self) -> TreeTask {
        self.learner.task()
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.learner.n_trees()
    }

    /// The signature taken from the file alone: every feature numeric, named as in the file
    /// (`f0`, `f1`, … when it has no names); a target named `target` whose classes are the
    /// class indices `0`, `1`, … (classification) or a value (regression).
    pub fn signature_from_file(&self, target: &str) -> Result<Signature> {
        let names: Vec<String> = match &self.feature_names {
            Some(n) => n.clone(),
            None => (0..self.n_features()).map(|i| format!("f{i}")).collect(),
        };
        let kind = match self.task() {
            TreeTask::Regression => TargetKind::Regression,
            TreeTask::Classification { n_classes } => {
                TargetKind::classification((0..n_classes).map(|c| c.to_string()))?
            }
        };
        let schema = Schema::new(
            names.into_iter().map(Feature::numeric).collect(),
            Some(Target {
                name: target.to_string(),
                kind,
            }),
        )?;
        Signature::from_training_schema(&schema)
    }

    /// Check `signature` against the model: as many features as the model takes, every one
    /// numeric, the same names in the same order when the file names its features, and a
    /// target of the model's task (the same number of classes; class `i` of the signature is
    /// the model's class index `i`).
    pub fn check_signature(&self, signature: &Signature) -> Result<()> {
        let features = &signature.inputs.features;
        if features.len() != self.n_features() {
            return Err(Error::SchemaMismatch(format!(
                "the {} model takes {} features but the signature has {} ({})",
                self.format.as_str(),
                self.n_features(),
                features.len(),
                signature.inputs.feature_names().join(", ")
            )));
        }
        if let Some(f) = features
            .iter()
            .find(|f| !matches!(f.kind, FeatureKind::Numeric))
        {
            return Err(Error::SchemaMismatch(format!(
                "column `{}` is categorical, but the imported model splits numbers only; give \
                 the column as the numbers the model was trained on",
                f.name
            )));
        }
        if let Some(names) = &self.feature_names {
            let given = signature.inputs.feature_names();
            if names.iter().map(String::as_str).ne(given.iter().copied()) {
                return Err(Error::SchemaMismatch(format!(
                    "the model's features are [{}] but the signature's are [{}]; give the \
                     columns with the model's names in the model's order",
                    names.join(", "),
                    given.join(", ")
                )));
            }
        }
        let k = signature.n_classes();
        match self.task() {
            TreeTask::Regression if k != 0 => Err(Error::SchemaMismatch(format!(
                "the model is a regression but the signature's target `{}` has {k} classes",
                signature.target.name
            ))),
            TreeTask::Classification { n_classes } if n_classes != k => {
                Err(Error::SchemaMismatch(format!(
                    "the model predicts {n_classes} classes but the signature's target `{}` has \
                     {}",
                    signature.target.name,
                    if k == 0 {
                        "real values".to_string()
                    } else {
                        format!("{k} classes")
                    }
                )))
            }
            _ => Ok(()),
        }
    }

    /// The model with `signature` (checked with [`NativeModel::check_signature`]): a
    /// [`GbdtPipeline`] whose preprocessing passes every value through (missing values stay
    /// NaN for the trees' own routing).
    pub fn into_pipeline(self, signature: Signature) -> Result<GbdtPipeline> {
        self.check_signature(&signature)?;
        let preprocessor = TreePreprocessor {
            columns: vec![TreeColumn::Numeric { fill: None }; self.n_features()],
        };
        GbdtPipeline::new(signature, preprocessor, self.learner)
    }
}

/// One node of a tree as a file describes it, before the layout the predictor wants.
#[derive(Debug, Clone, Copy)]
enum RawNode {
    Split {
        feature: u32,
        /// `x <= threshold` goes left.
        threshold: f64,
        missing_left: bool,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

/// Lay out `nodes` (root `root`) breadth-first so that children follow their parent, as the
/// predictor requires; refuses cycles and out-of-range children.
fn layout_tree(nodes: &[RawNode], root: usize, what: &str) -> Result<Tree> {
    let bad = |why: String| Error::invalid(what, why);
    let mut out: Vec<Node> = Vec::with_capacity(nodes.len());
    let mut queue = std::collections::VecDeque::new();
    let mut seen = vec![false; nodes.len()];
    queue.push_back((root, None::<(usize, bool)>));
    while let Some((src, parent)) = queue.pop_front() {
        let nd = nodes
            .get(src)
            .ok_or_else(|| bad(format!("a child index {src} is out of range")))?;
        if std::mem::replace(&mut seen[src], true) {
            return Err(bad(format!("node {src} is reached twice")));
        }
        let dst = out.len() as u32;
        if let Some((p, is_left)) = parent {
            if is_left {
                out[p].left = dst;
            } else {
                out[p].right = dst;
            }
        }
        match *nd {
            RawNode::Leaf(v) => {
                if !v.is_finite() {
                    return Err(bad(format!("leaf {src} holds {v}")));
                }
                out.push(Node::leaf(v));
            }
            RawNode::Split {
                feature,
                threshold,
                missing_left,
                left,
                right,
            } => {
                if threshold.is_nan() {
                    return Err(bad(format!("node {src} has a NaN threshold")));
                }
                out.push(Node {
                    threshold,
                    value: 0.0,
                    feature,
                    left: 0,
                    right: 0,
                    bin_threshold: 0,
                    missing_left,
                    is_leaf: false,
                });
                let me = out.len() - 1;
                queue.push_back((left, Some((me, true))));
                queue.push_back((right, Some((me, false))));
            }
        }
    }
    Ok(Tree { nodes: out })
}

/// Assemble the native learner: `trees[i]` belongs to output `groups[i]`; the trees are
/// arranged iteration-major (`trees[it * k + g]`), outputs with fewer trees padded with
/// zero-leaf trees.
fn assemble(
    task: TreeTask,
    n_features: usize,
    baseline: Vec<f64>,
    trees: Vec<Tree>,
    groups: &[usize],
) -> Result<GbdtModel> {
    let k = baseline.len();
    let mut per_group: Vec<Vec<Tree>> = vec![Vec::new(); k];
    for (t, &g) in trees.into_iter().zip(groups) {
        per_group
            .get_mut(g)
            .ok_or_else(|| {
                Error::invalid(
                    "model file",
                    format!("a tree belongs to output {g} of a model with {k} outputs"),
                )
            })?
            .push(t);
    }
    let n_iter = per_group.iter().map(Vec::len).max().unwrap_or(0);
    let mut ordered = Vec::with_capacity(n_iter * k);
    let mut iters: Vec<std::vec::IntoIter<Tree>> =
        per_group.into_iter().map(Vec::into_iter).collect();
    for _ in 0..n_iter {
        for it in iters.iter_mut() {
            ordered.push(it.next().unwrap_or_else(|| Tree {
                nodes: vec![Node::leaf(0.0)],
            }));
        }
    }
    for t in &ordered {
        t.validate(n_features)
            .map_err(|e| Error::invalid("model file", e))?;
    }
    let bins = BinMapper {
        features: vec![FeatureBins { thresholds: vec![] }; n_features],
    };
    Ok(GbdtModel::from_parts(
        task,
        n_features,
        n_iter,
        baseline,
        ordered,
        vec![],
        bins,
    ))
}
