//! Split-count and gain importance of the tree models (decision tree, random forest,
//! gradient-boosted trees).
//!
//! - **Split count** ([`split_importance`]): how many split nodes test each input column,
//!   summed over every tree of the model (LightGBM's `importance_type="split"`). Read from the
//!   stored artifact alone.
//! - **Gain** ([`gain_importance`], decision tree and random forest): scikit-learn's
//!   `feature_importances_` (mean decrease in impurity). For each split node `t` with
//!   children `l`, `r` the weighted impurity decrease is
//!   `(n_t·i(t) − n_l·i(l) − n_r·i(r)) / n_root`, where `n` counts the rows of `data` that
//!   reach a node and `i` is the node's impurity on those rows (Gini or entropy of the class
//!   proportions for classifiers, the variance of the target — squared error — for
//!   regressors). A tree's gains are summed per input column and normalised to sum 1 (all 0
//!   when nothing decreased). A forest's importance is the mean of its trees' normalised
//!   importances (trees that are a single leaf left out), normalised to sum 1 again.
//!
//!   The fitted trees keep neither node sample counts nor impurities, so they are counted
//!   on the labelled rows passed in. Given the training data, a decision tree's gain equals
//!   scikit-learn's `feature_importances_` for the same tree and criterion (tested to 1e-12
//!   on a fixture of scikit-learn's trees, `scripts/tree_importance_fixtures.py`), and so
//!   does a forest's when its trees saw every row (`bootstrap=False`). A bootstrapped forest
//!   is counted by scikit-learn on each tree's own bootstrap sample, which is not stored:
//!   the gain on the full training data (or a holdout) is the same quantity on other rows.
//!   Gradient-boosted trees store neither split gains nor the gradients and regularisation
//!   needed to recompute them, so only their split counts are available.

use ndarray::ArrayView2;

use crate::data::Dataset;
use crate::model::trees::decision_tree::{CartNode, CartTree};
use crate::model::{ModelArtifact, TreeTask};
use crate::{Error, Result};

/// The impurity measured for the gain of classification trees (regression trees always use
/// the variance, i.e. squared error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GainImpurity {
    /// Gini impurity `1 − Σ p_k²` (the default criterion of the decision tree learner).
    #[default]
    Gini,
    /// Shannon entropy `−Σ p_k log2 p_k`.
    Entropy,
}

fn tree_artifact(artifact: &ModelArtifact) -> &ModelArtifact {
    match artifact {
        ModelArtifact::Bundle(b) => b.model(),
        other => other,
    }
}

/// Per input column (signature order), the number of split nodes that test it, summed over
/// all trees of a decision tree, random forest or gradient-boosted trees model. A column no
/// split tests has 0.
///
/// Errors for any other model flavor.
pub fn split_importance(artifact: &ModelArtifact) -> Result<Vec<u64>> {
    let n = artifact.signature().inputs.features.len();
    let mut out = vec![0u64; n];
    let mut count = |f: u32| -> Result<()> {
        let slot = out.get_mut(f as usize).ok_or_else(|| {
            Error::invalid(
                "model",
                format!("a split tests input {f} but the model has {n} inputs"),
            )
        })?;
        *slot += 1;
        Ok(())
    };
    match tree_artifact(artifact) {
        ModelArtifact::DecisionTree(p) => cart_splits(&p.learner.tree, &mut count)?,
        ModelArtifact::RandomForest(p) => {
            for t in &p.learner.trees {
                cart_splits(t, &mut count)?;
            }
        }
        ModelArtifact::Gbdt(p) => {
            for t in p.learner.trees() {
                for nd in t.nodes.iter().filter(|nd| !nd.is_leaf) {
                    count(nd.feature)?;
                }
            }
        }
        other => {
            return Err(Error::invalid(
                "model",
                format!(
                    "split importance needs a tree model, not the `{}` flavor",
                    other.flavor()
                ),
            ));
        }
    }
    Ok(out)
}

fn cart_splits(t: &CartTree, count: &mut impl FnMut(u32) -> Result<()>) -> Result<()> {
    for nd in &t.nodes {
        if let CartNode::Split { feature, .. } = *nd {
            count(feature)?;
        }
    }
    Ok(())
}

/// Gain importance (mean decrease in impurity, normalised to sum 1; see the module docs for
/// exactly what is computed) of a decision tree or random forest, per input column in
/// signature order, counted on the labelled `data` (the training data reproduces
/// scikit-learn's `feature_importances_` for a decision tree). `impurity` is used for
/// classifiers and ignored for regressors. A column no split tests has 0.
///
/// Errors when `data` has no target or other columns than the model's inputs, a class index
/// is out of range, or the model is not a decision tree or random forest (gradient-boosted
/// trees store no split gains: use [`split_importance`]).
pub fn gain_importance(
    artifact: &ModelArtifact,
    data: &Dataset,
    impurity: GainImpurity,
) -> Result<Vec<f64>> {
    let n_inputs = artifact.signature().inputs.features.len();
    let x = data.features();
    if x.ncols() != n_inputs {
        return Err(Error::SchemaMismatch(format!(
            "the data has {} feature columns but the model takes {n_inputs} inputs",
            x.ncols()
        )));
    }
    let y = data.require_target()?;
    let y = y
        .as_slice()
        .map(<[f64]>::to_vec)
        .unwrap_or_else(|| y.to_vec());
    match tree_artifact(artifact) {
        ModelArtifact::DecisionTree(p) => {
            let z = p.preprocessor.transform(x);
            cart_gain(
                std::slice::from_ref(&p.learner.tree),
                p.learner.task(),
                z.view(),
                &y,
                impurity,
            )
        }
        ModelArtifact::RandomForest(p) => {
            let z = p.preprocessor.transform(x);
            cart_gain(&p.learner.trees, p.learner.task(), z.view(), &y, impurity)
        }
        ModelArtifact::Gbdt(_) => Err(Error::invalid(
            "model",
            "gain importance is not available for gradient-boosted trees: the stored trees keep \
             neither split gains nor the gradients and regularisation to recompute them; use \
             split importance",
        )),
        other => Err(Error::invalid(
            "model",
            format!(
                "gain importance needs a decision tree or random forest, not the `{}` flavor",
                other.flavor()
            ),
        )),
    }
}

/// Mean of the trees' normalised gains (single-leaf trees left out), normalised to sum 1.
pub(crate) fn cart_gain(
    trees: &[CartTree],
    task: TreeTask,
    x: ArrayView2<f64>,
    y: &[f64],
    impurity: GainImpurity,
) -> Result<Vec<f64>> {
    if y.len() != x.nrows() {
        return Err(Error::invalid(
            "data",
            format!("{} target values for {} rows", y.len(), x.nrows()),
        ));
    }
    let k = task.n_classes();
    if let Some(k) = k
        && let Some(bad) = y
            .iter()
            .find(|&&v| !(v >= 0.0 && v < k as f64 && v.fract() == 0.0))
    {
        return Err(Error::invalid(
            "data",
            format!("target value {bad} is not a class index of a {k}-class model"),
        ));
    }
    let mut sum = vec![0.0; x.ncols()];
    let mut used = 0usize;
    for t in trees {
        if t.nodes.len() <= 1 {
            continue;
        }
        let g = normalised(one_tree_gain(t, k, x, y, impurity)?);
        sum.iter_mut().zip(&g).for_each(|(s, v)| *s += v);
        used += 1;
    }
    if used > 0 {
        sum.iter_mut().for_each(|s| *s /= used as f64);
    }
    Ok(normalised(sum))
}

fn normalised(mut v: Vec<f64>) -> Vec<f64> {
    let total: f64 = v.iter().sum();
    if total > 0.0 {
        v.iter_mut().for_each(|a| *a /= total);
    }
    v
}

/// Unnormalised weighted impurity decrease per input of one tree.
fn one_tree_gain(
    t: &CartTree,
    k: Option<usize>,
    x: ArrayView2<f64>,
    y: &[f64],
    impurity: GainImpurity,
) -> Result<Vec<f64>> {
    // Per node: row count, then per-class counts (classification) or Σy, Σy² (regression).
    let width = 1 + k.unwrap_or(2);
    let mut stats = vec![0.0; t.nodes.len() * width];
    for (row, &yi) in x.rows().into_iter().zip(y) {
        let mut i = 0usize;
        loop {
            let s = &mut stats[i * width..(i + 1) * width];
            s[0] += 1.0;
            match k {
                Some(_) => s[1 + yi as usize] += 1.0,
                None => {
                    s[1] += yi;
                    s[2] += yi * yi;
                }
            }
            match t.nodes[i] {
                CartNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if row[feature as usize] <= threshold {
                        left
                    } else {
                        right
                    } as usize;
                }
                CartNode::Leaf { .. } => break,
            }
        }
    }
    let n_root = stats[0];
    let mut out = vec![0.0; x.ncols()];
    if n_root == 0.0 {
        return Ok(out);
    }
    // n_t · i(t)
    let weighted = |i: usize| -> f64 {
        let s = &stats[i * width..(i + 1) * width];
        let n = s[0];
        if n == 0.0 {
            return 0.0;
        }
        let imp = match k {
            Some(_) => match impurity {
                GainImpurity::Gini => 1.0 - s[1..].iter().map(|c| (c / n) * (c / n)).sum::<f64>(),
                GainImpurity::Entropy => -s[1..]
                    .iter()
                    .filter(|&&c| c > 0.0)
                    .map(|c| (c / n) * (c / n).log2())
                    .sum::<f64>(),
            },
            None => {
                let m = s[1] / n;
                (s[2] / n - m * m).max(0.0)
            }
        };
        n * imp
    };
    for (i, nd) in t.nodes.iter().enumerate() {
        if let CartNode::Split {
            feature,
            left,
            right,
            ..
        } = *nd
        {
            let d = weighted(i) - weighted(left as usize) - weighted(right as usize);
            let slot = out.get_mut(feature as usize).ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!("a split tests input {feature} beyond the data's columns"),
                )
            })?;
            *slot += d / n_root;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn split(feature: u32, left: u32, right: u32) -> CartNode {
        CartNode::Split {
            feature,
            threshold: 0.5,
            left,
            right,
        }
    }

    /// Root: x0 ≤ 0.5 → leaf | (x1 ≤ 0.5 → leaf | leaf). Input 2 is never split on.
    fn two_split_tree(n_outputs: usize) -> CartTree {
        CartTree {
            nodes: vec![
                split(0, 1, 2),
                CartNode::Leaf { offset: 0 },
                split(1, 3, 4),
                CartNode::Leaf {
                    offset: n_outputs as u32,
                },
                CartNode::Leaf {
                    offset: 2 * n_outputs as u32,
                },
            ],
            values: vec![0.0; 3 * n_outputs],
            n_outputs,
        }
    }

    /// Rows A (0,0,0), B (0,1,0), C (1,0,0), D (1,1,0).
    fn x() -> ndarray::Array2<f64> {
        array![
            [0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0]
        ]
    }

    const BINARY: TreeTask = TreeTask::Classification { n_classes: 2 };

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} != {b:?}");
        }
    }

    #[test]
    fn gini_gain_of_a_hand_built_tree() {
        // y = 0,0,0,1. Root: 4·gini([3,1]) = 4·0.375 = 1.5; left [2,0]: 0; right [1,1]:
        // 2·0.5 = 1. Root decrease (1.5 − 0 − 1)/4 = 0.125 on x0; right node decrease
        // (1 − 0 − 0)/4 = 0.25 on x1. Normalised: 1/3, 2/3, 0.
        let g = cart_gain(
            &[two_split_tree(2)],
            BINARY,
            x().view(),
            &[0.0, 0.0, 0.0, 1.0],
            GainImpurity::Gini,
        )
        .unwrap();
        close(&g, &[1.0 / 3.0, 2.0 / 3.0, 0.0]);
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn entropy_gain_of_a_hand_built_tree() {
        // Root: 4·H(3/4, 1/4) = 4·0.811278124459133 = 3.245112497836532; right: 2·H(1/2) = 2.
        // Decreases: x0 3.245112497836532 − 2 = 1.245112497836532, x1 2.
        let g = cart_gain(
            &[two_split_tree(2)],
            BINARY,
            x().view(),
            &[0.0, 0.0, 0.0, 1.0],
            GainImpurity::Entropy,
        )
        .unwrap();
        let total = 1.245112497836532 + 2.0;
        close(&g, &[1.245112497836532 / total, 2.0 / total, 0.0]);
    }

    #[test]
    fn squared_error_gain_of_a_hand_built_regression_tree() {
        // y = 0,0,1,3. Root: 4·var = 4·1.5 = 6; left [0,0]: 0; right [1,3]: 2·1 = 2.
        // Decreases: x0 6 − 2 = 4, x1 2 − 0 − 0 = 2. Normalised 2/3, 1/3, 0.
        let g = cart_gain(
            &[two_split_tree(1)],
            TreeTask::Regression,
            x().view(),
            &[0.0, 0.0, 1.0, 3.0],
            GainImpurity::Entropy,
        )
        .unwrap();
        close(&g, &[2.0 / 3.0, 1.0 / 3.0, 0.0]);
    }

    #[test]
    fn forest_gain_averages_normalised_trees_and_skips_single_leaves() {
        // Tree 2 splits only on x1 (all its gain): normalised [0, 1, 0]. The single leaf is
        // left out. Mean of [1/3, 2/3, 0] and [0, 1, 0]: [1/6, 5/6, 0].
        let stump = CartTree {
            nodes: vec![
                split(1, 1, 2),
                CartNode::Leaf { offset: 0 },
                CartNode::Leaf { offset: 2 },
            ],
            values: vec![0.0; 4],
            n_outputs: 2,
        };
        let leaf = CartTree {
            nodes: vec![CartNode::Leaf { offset: 0 }],
            values: vec![0.0; 2],
            n_outputs: 2,
        };
        let g = cart_gain(
            &[two_split_tree(2), stump, leaf],
            BINARY,
            x().view(),
            &[0.0, 0.0, 0.0, 1.0],
            GainImpurity::Gini,
        )
        .unwrap();
        close(&g, &[1.0 / 6.0, 5.0 / 6.0, 0.0]);
    }

    #[test]
    fn no_decrease_gives_all_zero_and_bad_targets_are_refused() {
        // A pure node: no split decreases the impurity.
        let g = cart_gain(
            &[two_split_tree(2)],
            BINARY,
            x().view(),
            &[1.0; 4],
            GainImpurity::Gini,
        )
        .unwrap();
        close(&g, &[0.0, 0.0, 0.0]);
        let e = cart_gain(
            &[two_split_tree(2)],
            BINARY,
            x().view(),
            &[0.0, 2.0, 0.0, 1.0],
            GainImpurity::Gini,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a class index"), "{e}");
        assert!(
            cart_gain(
                &[two_split_tree(2)],
                BINARY,
                x().view(),
                &[0.0],
                GainImpurity::Gini
            )
            .is_err()
        );
    }

    /// scikit-learn's `feature_importances_` on the fixture written by
    /// `scripts/tree_importance_fixtures.py`: its fitted trees rebuilt as CART trees, the gain
    /// counted on its training rows.
    #[test]
    fn gain_equals_scikit_learn_feature_importances() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/explain/tree_importance.json");
        let fx: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let rows: Vec<Vec<f64>> = serde_json::from_value(fx["x"].clone()).unwrap();
        let x = ndarray::Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j]);
        let cases = fx["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let k = case["n_classes"].as_u64().unwrap() as usize;
            let task = if k == 0 {
                TreeTask::Regression
            } else {
                TreeTask::Classification { n_classes: k }
            };
            let impurity = match case["criterion"].as_str().unwrap() {
                "entropy" => GainImpurity::Entropy,
                _ => GainImpurity::Gini,
            };
            let y: Vec<f64> = serde_json::from_value(case["y"].clone()).unwrap();
            let n_outputs = k.max(1);
            let trees: Vec<CartTree> = case["trees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let col =
                        |key: &str| -> Vec<f64> { serde_json::from_value(t[key].clone()).unwrap() };
                    let (feature, threshold, left, right) =
                        (col("feature"), col("threshold"), col("left"), col("right"));
                    let mut leaves = 0u32;
                    let nodes: Vec<CartNode> = (0..feature.len())
                        .map(|i| {
                            if left[i] < 0.0 {
                                leaves += 1;
                                CartNode::Leaf {
                                    offset: (leaves - 1) * n_outputs as u32,
                                }
                            } else {
                                CartNode::Split {
                                    feature: feature[i] as u32,
                                    threshold: threshold[i],
                                    left: left[i] as u32,
                                    right: right[i] as u32,
                                }
                            }
                        })
                        .collect();
                    let tree = CartTree {
                        nodes,
                        values: vec![0.0; leaves as usize * n_outputs],
                        n_outputs,
                    };
                    tree.validate(task, x.ncols()).unwrap();
                    tree
                })
                .collect();
            let want: Vec<f64> =
                serde_json::from_value(case["feature_importances"].clone()).unwrap();
            let got = cart_gain(&trees, task, x.view(), &y, impurity).unwrap();
            assert_eq!(got[3], 0.0, "{name}: the constant column");
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() < 1e-12,
                    "{name} column {j}: {got:?} vs scikit-learn {want:?}"
                );
            }
        }
    }
}
