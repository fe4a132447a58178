//! Explanations of a model's predictions, computed from the stored artifact.
//!
//! - **Local** ([`explain_rows`]): per-row feature contributions that add up to the model's
//!   output: `base_value + Σ contributions = value`.
//!   - Linear and logistic models: exact contributions, coefficient × preprocessed value,
//!     with `base_value` = the intercept. The output is the margin: the log-odds of the
//!     explained class against class 0 for logistic models (the log-odds of the positive class
//!     for binary ones), the prediction for linear regression.
//!   - Decision tree, random forest and gradient-boosted trees: **path-dependent TreeSHAP**
//!     (shap's `TreeExplainer` with `feature_perturbation="tree_path_dependent"`, Lundberg et
//!     al. 2018, Algorithm 2): exact Shapley values of the expected output conditioned on the
//!     path. It needs node covers; the fitted trees do not store training covers, so they are
//!     counted on a background sample (the rows passed as `background`, plus one pseudo-row
//!     per leaf so that no node is empty): `base_value` is the cover-weighted mean output.
//!     (shap's interventional variant computes in 32-bit floats, so it cannot serve as a
//!     1e-9 reference; the path-dependent one computes in 64-bit.) The output is the margin of the explained class for
//!     gradient-boosted trees (the log-odds of the positive class for binary classifiers, the
//!     raw score of the class for multiclass, the prediction for regression), and the
//!     predicted probability of the explained class for classification trees and forests
//!     (whose leaves hold probabilities, so no additive margin exists); the prediction for
//!     regression trees and forests.
//! - **Per input column**: one-hot encoded categoricals (linear models) are reported per
//!   input column, as the sum of the contributions of the column's indicator inputs. Tree
//!   models use one input per column (ordinal level codes), so nothing needs summing.
//! - **Global**: [`permutation_importance`] for any model (scikit-learn's algorithm, given the
//!   permutations; [`seeded_permutations`] draws them), [`mean_abs_contributions`], and for
//!   tree models [`split_importance`] (split counts, from the artifact) and
//!   [`gain_importance`] (mean decrease in impurity, scikit-learn's `feature_importances_`,
//!   for the decision tree and random forest; counted on labelled rows).
//!
//! ```
//! use mlcycle::explain::explain_rows;
//! use mlcycle::model::Model;
//! use mlcycle::testing::{CreditDefault, DriftSpec};
//! use mlcycle::train::{LogisticParams, fit_logistic};
//!
//! let data = CreditDefault::new(1).sample(300, &DriftSpec::none(), 0).unwrap();
//! let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
//! let art = model.to_artifact().unwrap();
//! let e = explain_rows(&art, data.features(), data.features(), None).unwrap();
//! for row in &e.rows {
//!     let sum: f64 = row.contributions.iter().sum();
//!     assert!((e.base_value + sum - row.value).abs() < 1e-9);
//! }
//! ```

mod tree_importance;

pub use tree_importance::{GainImpurity, gain_importance, split_importance};

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use crate::data::Dataset;
use crate::model::trees::decision_tree::{CartNode, CartTree};
use crate::model::trees::gbdt::tree::Tree as GbdtTree;
use crate::model::{ColumnTransform, Model, ModelArtifact, Preprocessor, TreeTask};
use crate::validate::metrics::{classifier_metric, greater_is_better, regressor_metric};
use crate::{Error, Result};

/// What the explained value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplainedOutput {
    /// The model's margin: log-odds (binary classifiers), raw class score (multiclass
    /// boosting), log-odds against class 0 (multinomial logistic), or the prediction
    /// (regression).
    Margin,
    /// The predicted probability of the explained class (classification trees and forests).
    Probability,
}

impl ExplainedOutput {
    /// The name used in reports: `margin` or `probability`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExplainedOutput::Margin => "margin",
            ExplainedOutput::Probability => "probability",
        }
    }
}

/// The contributions of one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowExplanation {
    /// The explained model output for the row.
    pub value: f64,
    /// One contribution per input column, in the order of [`Explanation::features`].
    pub contributions: Vec<f64>,
}

/// Local explanations of a batch of rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Input column names, in signature order.
    pub features: Vec<String>,
    /// What `value` is.
    pub output: ExplainedOutput,
    /// The explained class label (classifiers), `None` for regression.
    pub class: Option<String>,
    /// How the contributions were computed: `linear` or `tree_shap_path_dependent`.
    pub method: &'static str,
    /// The expected output: the intercept (linear) or the cover-weighted mean output (trees).
    pub base_value: f64,
    /// One entry per explained row.
    pub rows: Vec<RowExplanation>,
}

/// Explain each row of `x` (encoded inputs in signature order, as in
/// [`Dataset::features`]).
///
/// `background` (same encoding) is the sample the node covers of TreeSHAP are counted on
/// (tree models; ignored for linear ones; a few hundred rows of training-like data is typical). `class` is the index of
/// the explained class for classifiers (default: 1, the positive class of a binary
/// classifier); it must be `None` for regressors.
///
/// Errors when the shapes do not match the model, the background is empty (tree models), or
/// the class is out of range.
pub fn explain_rows(
    artifact: &ModelArtifact,
    x: ArrayView2<f64>,
    background: ArrayView2<f64>,
    class: Option<usize>,
) -> Result<Explanation> {
    let sig = artifact.signature();
    let features: Vec<String> = sig.inputs.features.iter().map(|f| f.name.clone()).collect();
    let check = |m: ArrayView2<f64>, what: &str| -> Result<()> {
        if m.ncols() != features.len() {
            return Err(Error::SchemaMismatch(format!(
                "the {what} has {} columns but the model takes {} inputs",
                m.ncols(),
                features.len()
            )));
        }
        Ok(())
    };
    check(x, "data")?;
    let k = sig.n_classes();
    let class = match (k, class) {
        (0, None) => None,
        (0, Some(_)) => {
            return Err(Error::invalid(
                "class",
                "the model is a regressor; explain it without a class",
            ));
        }
        (k, c) => {
            let c = c.unwrap_or(1);
            if c >= k {
                return Err(Error::invalid(
                    "class",
                    format!("class index {c} is out of range: the model has {k} classes"),
                ));
            }
            Some(c)
        }
    };
    let class_label =
        class.and_then(|c| sig.target.kind.classes().and_then(|cl| cl.get(c).cloned()));
    let model = match artifact {
        ModelArtifact::Bundle(b) => b.model(),
        other => other,
    };
    let (output, method, base_value, rows) = match model {
        ModelArtifact::Logistic(m) => {
            let c = class.unwrap_or(1);
            if c == 0 {
                return Err(Error::invalid(
                    "class",
                    "class 0 is the reference class of a logistic model (its margin is 0); \
                     explain another class",
                ));
            }
            let w: Vec<f64> = m.weights.column(c - 1).to_vec();
            let (b, rows) = linear(&m.preprocessor, &w, m.intercepts[c - 1], x);
            (ExplainedOutput::Margin, "linear", b, rows)
        }
        ModelArtifact::Linear(m) => {
            let (b, rows) = linear(&m.preprocessor, &m.weights.to_vec(), m.intercept, x);
            (ExplainedOutput::Margin, "linear", b, rows)
        }
        ModelArtifact::Gbdt(p) => {
            check(background, "background")?;
            let trees = gbdt_trees(&p.learner, class)?;
            let base = p.learner.baseline()[gbdt_output(p.learner.task(), class)];
            let (b, rows) = tree_shap(
                &trees,
                base,
                p.preprocessor.transform(x),
                p.preprocessor.transform(background),
            )?;
            (ExplainedOutput::Margin, "tree_shap_path_dependent", b, rows)
        }
        ModelArtifact::DecisionTree(p) => {
            check(background, "background")?;
            let trees = vec![cart_tree(&p.learner.tree, class, 1.0)];
            let (b, rows) = tree_shap(
                &trees,
                0.0,
                p.preprocessor.transform(x),
                p.preprocessor.transform(background),
            )?;
            (cart_output(class), "tree_shap_path_dependent", b, rows)
        }
        ModelArtifact::RandomForest(p) => {
            check(background, "background")?;
            let scale = 1.0 / p.learner.trees.len() as f64;
            let trees: Vec<ShapTree> = p
                .learner
                .trees
                .iter()
                .map(|t| cart_tree(t, class, scale))
                .collect();
            let (b, rows) = tree_shap(
                &trees,
                0.0,
                p.preprocessor.transform(x),
                p.preprocessor.transform(background),
            )?;
            (cart_output(class), "tree_shap_path_dependent", b, rows)
        }
        other => {
            return Err(Error::invalid(
                "model",
                format!(
                    "explanations are not available for the `{}` flavor",
                    other.flavor()
                ),
            ));
        }
    };
    Ok(Explanation {
        features,
        output,
        class: class_label,
        method,
        base_value,
        rows,
    })
}

fn cart_output(class: Option<usize>) -> ExplainedOutput {
    if class.is_some() {
        ExplainedOutput::Probability
    } else {
        ExplainedOutput::Margin
    }
}

/// Exact linear contributions, per input column (one-hot parts summed).
fn linear(
    pre: &Preprocessor,
    w: &[f64],
    intercept: f64,
    x: ArrayView2<f64>,
) -> (f64, Vec<RowExplanation>) {
    let z = pre.transform(x);
    let rows = z
        .rows()
        .into_iter()
        .map(|zr| {
            let mut k = 0;
            let contributions: Vec<f64> = pre
                .columns
                .iter()
                .map(|t| {
                    let width = match t {
                        ColumnTransform::Standardize { .. } => 1,
                        ColumnTransform::OneHot { n_levels } => *n_levels,
                    };
                    let c = (k..k + width).map(|i| w[i] * zr[i]).sum::<f64>();
                    k += width;
                    c
                })
                .collect();
            let value = intercept + (0..w.len()).map(|i| w[i] * zr[i]).sum::<f64>();
            RowExplanation {
                value,
                contributions,
            }
        })
        .collect();
    (intercept, rows)
}

/// A tree in the form the explainer walks.
#[derive(Clone, Debug)]
struct ShapNode {
    feature: usize,
    threshold: f64,
    left: usize,
    right: usize,
    missing_left: bool,
    /// `Some(value)` (already scaled) at a leaf.
    leaf: Option<f64>,
}

type ShapTree = Vec<ShapNode>;

fn cart_tree(t: &CartTree, class: Option<usize>, scale: f64) -> ShapTree {
    let c = class.unwrap_or(0);
    t.nodes
        .iter()
        .map(|n| match *n {
            CartNode::Split {
                feature,
                threshold,
                left,
                right,
            } => ShapNode {
                feature: feature as usize,
                threshold,
                left: left as usize,
                right: right as usize,
                missing_left: false,
                leaf: None,
            },
            CartNode::Leaf { offset } => ShapNode {
                feature: 0,
                threshold: 0.0,
                left: 0,
                right: 0,
                missing_left: false,
                leaf: Some(t.values[offset as usize + c] * scale),
            },
        })
        .collect()
}

fn gbdt_output(task: TreeTask, class: Option<usize>) -> usize {
    match task {
        TreeTask::Classification { n_classes } if n_classes > 2 => class.unwrap_or(0),
        _ => 0,
    }
}

fn gbdt_trees(m: &crate::model::GbdtModel, class: Option<usize>) -> Result<Vec<ShapTree>> {
    let k = match m.task() {
        TreeTask::Classification { n_classes } if n_classes > 2 => n_classes,
        _ => 1,
    };
    let out = gbdt_output(m.task(), class);
    Ok(m.trees()
        .iter()
        .skip(out)
        .step_by(k)
        .map(|t: &GbdtTree| {
            t.nodes
                .iter()
                .map(|n| ShapNode {
                    feature: n.feature as usize,
                    threshold: n.threshold,
                    left: n.left as usize,
                    right: n.right as usize,
                    missing_left: n.missing_left,
                    leaf: n.is_leaf.then_some(n.value),
                })
                .collect()
        })
        .collect())
}

#[inline]
fn goes_left(n: &ShapNode, v: f64) -> bool {
    if v.is_nan() {
        n.missing_left
    } else {
        v <= n.threshold
    }
}

fn predict_tree(t: &ShapTree, x: &[f64]) -> f64 {
    let mut i = 0;
    loop {
        let n = &t[i];
        if let Some(v) = n.leaf {
            return v;
        }
        i = if goes_left(n, x[n.feature]) {
            n.left
        } else {
            n.right
        };
    }
}

/// Node covers of `t` counted on `background` (preprocessed rows), plus one pseudo-row per
/// leaf so that no node has zero cover: leaf cover = rows reaching the leaf + 1, internal
/// cover = the sum of its children's.
fn covers(t: &ShapTree, background: ArrayView2<f64>) -> Vec<f64> {
    let mut c: Vec<f64> = t
        .iter()
        .map(|n| if n.leaf.is_some() { 1.0 } else { 0.0 })
        .collect();
    for r in background.rows() {
        let mut i = 0;
        while t[i].leaf.is_none() {
            let n = &t[i];
            i = if goes_left(n, r[n.feature]) {
                n.left
            } else {
                n.right
            };
        }
        c[i] += 1.0;
    }
    // Children come after their parent, so a backward pass sums them up.
    for i in (0..t.len()).rev() {
        if t[i].leaf.is_none() {
            c[i] = c[t[i].left] + c[t[i].right];
        }
    }
    c
}

#[derive(Clone, Copy, Debug)]
struct PathElement {
    feature: isize,
    zero: f64,
    one: f64,
    pweight: f64,
}

fn extend_path(path: &mut [PathElement], ud: usize, zero: f64, one: f64, feature: isize) {
    path[ud] = PathElement {
        feature,
        zero,
        one,
        pweight: if ud == 0 { 1.0 } else { 0.0 },
    };
    for i in (0..ud).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / (ud + 1) as f64;
        path[i].pweight = zero * path[i].pweight * (ud - i) as f64 / (ud + 1) as f64;
    }
}

fn unwind_path(path: &mut [PathElement], ud: usize, pi: usize) {
    let (one, zero) = (path[pi].one, path[pi].zero);
    let mut next = path[ud].pweight;
    for i in (0..ud).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next * (ud + 1) as f64 / ((i + 1) as f64 * one);
            next = tmp - path[i].pweight * zero * (ud - i) as f64 / (ud + 1) as f64;
        } else {
            path[i].pweight = (path[i].pweight * (ud + 1) as f64) / (zero * (ud - i) as f64);
        }
    }
    for i in pi..ud {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_path_sum(path: &[PathElement], ud: usize, pi: usize) -> f64 {
    let (one, zero) = (path[pi].one, path[pi].zero);
    let mut next = path[ud].pweight;
    let mut total = 0.0;
    if one != 0.0 {
        for i in (0..ud).rev() {
            let tmp = next / ((i + 1) as f64 * one);
            total += tmp;
            next = path[i].pweight - tmp * zero * (ud - i) as f64;
        }
    } else {
        for i in (0..ud).rev() {
            total += path[i].pweight / (zero * (ud - i) as f64);
        }
    }
    total * (ud + 1) as f64
}

/// Path-dependent TreeSHAP (Lundberg et al. 2018, Algorithm 2) of one tree for row `x`.
struct PathShap<'a> {
    tree: &'a ShapTree,
    cover: &'a [f64],
    x: &'a [f64],
    phi: &'a mut [f64],
}

impl PathShap<'_> {
    fn recurse(
        &mut self,
        node: usize,
        parent: &[PathElement],
        mut ud: usize,
        zero: f64,
        one: f64,
        feature: isize,
    ) {
        let mut path = Vec::with_capacity(ud + 2);
        path.extend_from_slice(&parent[..ud.min(parent.len())]);
        path.resize(
            ud + 1,
            PathElement {
                feature: -1,
                zero: 0.0,
                one: 0.0,
                pweight: 0.0,
            },
        );
        extend_path(&mut path, ud, zero, one, feature);
        let n = &self.tree[node];
        if let Some(v) = n.leaf {
            for i in 1..=ud {
                let w = unwound_path_sum(&path, ud, i);
                let el = path[i];
                self.phi[el.feature as usize] += w * (el.one - el.zero) * v;
            }
            return;
        }
        let f = n.feature;
        let hot = if goes_left(n, self.x[f]) {
            n.left
        } else {
            n.right
        };
        let cold = if hot == n.left { n.right } else { n.left };
        let w = self.cover[node];
        let (hot_zero, cold_zero) = (self.cover[hot] / w, self.cover[cold] / w);
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        if let Some(pi) = (0..=ud).find(|&k| path[k].feature == f as isize) {
            in_zero = path[pi].zero;
            in_one = path[pi].one;
            unwind_path(&mut path, ud, pi);
            ud -= 1;
        }
        self.recurse(hot, &path, ud + 1, hot_zero * in_zero, in_one, f as isize);
        self.recurse(cold, &path, ud + 1, cold_zero * in_zero, 0.0, f as isize);
    }
}

/// Path-dependent TreeSHAP of the sum of `trees` plus `base` (inputs already preprocessed),
/// with node covers counted on `background` (see [`covers`]).
fn tree_shap(
    trees: &[ShapTree],
    base: f64,
    x: Array2<f64>,
    background: Array2<f64>,
) -> Result<(f64, Vec<RowExplanation>)> {
    if background.nrows() == 0 {
        return Err(Error::invalid(
            "background",
            "tree explanations need at least one background row (pass some rows of the data)",
        ));
    }
    let m = x.ncols();
    let cov: Vec<Vec<f64>> = trees.iter().map(|t| covers(t, background.view())).collect();
    let base_value = base
        + trees
            .iter()
            .zip(&cov)
            .map(|(t, c)| {
                t.iter()
                    .zip(c)
                    .filter_map(|(n, c)| n.leaf.map(|v| v * c))
                    .sum::<f64>()
                    / c[0]
            })
            .sum::<f64>();
    let rows = x
        .rows()
        .into_iter()
        .map(|xr| {
            let xr = xr.to_vec();
            let mut phi = vec![0.0; m];
            for (t, c) in trees.iter().zip(&cov) {
                let mut s = PathShap {
                    tree: t,
                    cover: c,
                    x: &xr,
                    phi: &mut phi,
                };
                s.recurse(0, &[], 0, 1.0, 1.0, -1);
            }
            RowExplanation {
                value: base + trees.iter().map(|t| predict_tree(t, &xr)).sum::<f64>(),
                contributions: phi,
            }
        })
        .collect();
    Ok((base_value, rows))
}

/// The trees of a tree model, in the dictionary form shap's `TreeExplainer` accepts
/// (`{"trees": [{children_left, children_right, children_default, features, thresholds,
/// values, node_sample_weight}], "base_offset"}`), for the same output as [`explain_rows`]
/// with the same `class`; inputs are the tree preprocessing's outputs (one per input column).
/// An infinite threshold is written as `f64::MAX` (the same routing for finite values);
/// `node_sample_weight` counts the `background` rows reaching each node. `None` for linear
/// models.
pub fn shap_tree_dict(
    artifact: &ModelArtifact,
    class: Option<usize>,
    background: ArrayView2<f64>,
) -> Result<Option<serde_json::Value>> {
    let model = match artifact {
        ModelArtifact::Bundle(b) => b.model(),
        other => other,
    };
    let k = artifact.signature().n_classes();
    let class = if k == 0 {
        None
    } else {
        Some(class.unwrap_or(1))
    };
    let (trees, base, bg) = match model {
        ModelArtifact::Gbdt(p) => (
            gbdt_trees(&p.learner, class)?,
            p.learner.baseline()[gbdt_output(p.learner.task(), class)],
            p.preprocessor.transform(background),
        ),
        ModelArtifact::DecisionTree(p) => (
            vec![cart_tree(&p.learner.tree, class, 1.0)],
            0.0,
            p.preprocessor.transform(background),
        ),
        ModelArtifact::RandomForest(p) => {
            let s = 1.0 / p.learner.trees.len() as f64;
            (
                p.learner
                    .trees
                    .iter()
                    .map(|t| cart_tree(t, class, s))
                    .collect(),
                0.0,
                p.preprocessor.transform(background),
            )
        }
        _ => return Ok(None),
    };
    let fin = |v: f64| {
        if v.is_infinite() {
            f64::MAX.copysign(v)
        } else {
            v
        }
    };
    let dicts: Vec<serde_json::Value> = trees
        .iter()
        .map(|t| {
            let weight = covers(t, bg.view());
            let leaf = |n: &ShapNode| n.leaf.is_some();
            serde_json::json!({
                "children_left": t.iter().map(|n| if leaf(n) { -1 } else { n.left as i64 }).collect::<Vec<_>>(),
                "children_right": t.iter().map(|n| if leaf(n) { -1 } else { n.right as i64 }).collect::<Vec<_>>(),
                "children_default": t.iter().map(|n| if leaf(n) { -1 } else if n.missing_left { n.left as i64 } else { n.right as i64 }).collect::<Vec<_>>(),
                "features": t.iter().map(|n| if leaf(n) { -2 } else { n.feature as i64 }).collect::<Vec<_>>(),
                "thresholds": t.iter().map(|n| if leaf(n) { 0.0 } else { fin(n.threshold) }).collect::<Vec<_>>(),
                "values": t.iter().map(|n| vec![n.leaf.unwrap_or(0.0)]).collect::<Vec<_>>(),
                "node_sample_weight": weight,
            })
        })
        .collect();
    Ok(Some(
        serde_json::json!({"trees": dicts, "base_offset": base}),
    ))
}

/// The mean absolute contribution of each input column over the explained rows (a global
/// importance from local explanations).
pub fn mean_abs_contributions(e: &Explanation) -> Vec<f64> {
    let mut out = vec![0.0; e.features.len()];
    for r in &e.rows {
        for (o, c) in out.iter_mut().zip(&r.contributions) {
            *o += c.abs();
        }
    }
    let n = e.rows.len().max(1) as f64;
    out.iter_mut().for_each(|o| *o /= n);
    out
}

/// Permutation importance of each input column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PermutationImportance {
    /// The metric (a validator metric name).
    pub metric: String,
    /// The metric on the unpermuted data.
    pub baseline: f64,
    /// Input column names.
    pub features: Vec<String>,
    /// Per column, the mean importance over the repeats.
    pub importances_mean: Vec<f64>,
    /// Per column, the standard deviation (ddof 0) over the repeats.
    pub importances_std: Vec<f64>,
    /// Per column, one importance per repeat: how much worse the metric got
    /// (`baseline − score` when greater is better, `score − baseline` otherwise).
    pub importances: Vec<Vec<f64>>,
}

/// The validator's default primary metric for a model with `n_classes` classes (0 for
/// regression): `roc_auc` (binary), `log_loss` (multiclass), `rmse` (regression).
pub fn default_metric(n_classes: usize) -> &'static str {
    match n_classes {
        0 => "rmse",
        2 => "roc_auc",
        _ => "log_loss",
    }
}

/// `repeats` seeded permutations of `0..n` (ChaCha8 seeded by `seed`), the same for every
/// column, as scikit-learn uses one random state per column seeded alike.
pub fn seeded_permutations(n: usize, repeats: usize, seed: u64) -> Vec<Vec<usize>> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    (0..repeats)
        .map(|_| {
            idx.shuffle(&mut rng);
            idx.clone()
        })
        .collect()
}

fn score(
    model: &dyn Model,
    metric: &str,
    x: ArrayView2<f64>,
    y: &ndarray::Array1<f64>,
) -> Result<f64> {
    let p = model.predict(x)?;
    match &p.probabilities {
        Some(proba) => classifier_metric(metric, y.view(), p.values.view(), proba.view()),
        None => regressor_metric(metric, y.view(), p.values.view()),
    }
}

/// Permutation importance of every input column of `model` on the labelled `data` (a holdout):
/// for each column and each permutation, the column's values are reordered by the permutation
/// (row `i` gets the value of row `perm[i]`) and the drop of `metric` is recorded — the
/// algorithm of scikit-learn's `permutation_importance` (which shuffles with the same
/// permutations for every column). Draw permutations with [`seeded_permutations`].
///
/// Errors when `data` has no target, a permutation is not one of `0..n_rows`, or the metric
/// is unknown or undefined on the data.
pub fn permutation_importance(
    model: &dyn Model,
    data: &Dataset,
    metric: &str,
    permutations: &[Vec<usize>],
) -> Result<PermutationImportance> {
    let y = data.target().ok_or_else(|| {
        Error::invalid(
            "data",
            "permutation importance needs a labelled dataset (with the target column)",
        )
    })?;
    let n = data.n_rows();
    for p in permutations {
        let mut seen = vec![false; n];
        if p.len() != n
            || p.iter()
                .any(|&i| i >= n || std::mem::replace(&mut seen[i], true))
        {
            return Err(Error::invalid(
                "permutations",
                format!("each permutation must reorder 0..{n} exactly once"),
            ));
        }
    }
    let gib = greater_is_better(metric)?;
    let x = data.features();
    let baseline = score(model, metric, x, y)?;
    let mut importances = Vec::with_capacity(x.ncols());
    let mut work = x.to_owned();
    for j in 0..x.ncols() {
        let col = x.column(j);
        let mut per = Vec::with_capacity(permutations.len());
        for p in permutations {
            for (i, &pi) in p.iter().enumerate() {
                work[[i, j]] = col[pi];
            }
            let s = score(model, metric, work.view(), y)?;
            per.push(if gib { baseline - s } else { s - baseline });
        }
        work.column_mut(j).assign(&col);
        importances.push(per);
    }
    let stats = |v: &Vec<f64>| {
        let n = v.len().max(1) as f64;
        let m = v.iter().sum::<f64>() / n;
        (
            m,
            (v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / n).sqrt(),
        )
    };
    Ok(PermutationImportance {
        metric: metric.to_string(),
        baseline,
        features: data
            .schema()
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect(),
        importances_mean: importances.iter().map(|v| stats(v).0).collect(),
        importances_std: importances.iter().map(|v| stats(v).1).collect(),
        importances,
    })
}

/// The tag under which a version's global importance is stored at registration: a JSON
/// object `{FEATURE: mean |contribution|}` over every input column.
pub const IMPORTANCE_TAG: &str = "importance";
/// The tag naming how [`IMPORTANCE_TAG`] was computed: `mean_abs_contribution:` followed by
/// the explanation method (`linear` or `tree_shap_path_dependent`) and the output explained.
pub const IMPORTANCE_METHOD_TAG: &str = "importance_method";

/// Rows explained for the importance stored at registration (the first rows of the data).
pub const REGISTRATION_IMPORTANCE_ROWS: usize = 200;

/// A cheap global importance for registration: the mean absolute contribution of each input
/// column over the first [`REGISTRATION_IMPORTANCE_ROWS`] rows of `data` (exact linear
/// contributions or path-dependent TreeSHAP, covers counted on up to the same number of
/// `background` rows), as `(method, [(feature, importance)])` in signature order.
///
/// Errors as [`explain_rows`] does, e.g. for a model flavor that has no explanation.
pub fn registration_importance(
    artifact: &ModelArtifact,
    data: ArrayView2<f64>,
    background: ArrayView2<f64>,
) -> Result<(String, Vec<(String, f64)>)> {
    use ndarray::s;
    let n = data.nrows().min(REGISTRATION_IMPORTANCE_ROWS);
    let m = background.nrows().min(REGISTRATION_IMPORTANCE_ROWS);
    let e = explain_rows(
        artifact,
        data.slice(s![..n, ..]),
        background.slice(s![..m, ..]),
        None,
    )?;
    let method = format!("mean_abs_contribution:{}:{}", e.method, e.output.as_str());
    let imp = mean_abs_contributions(&e);
    Ok((method, e.features.into_iter().zip(imp).collect()))
}
