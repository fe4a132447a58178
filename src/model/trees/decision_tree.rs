//! A fitted CART decision tree (also the base learner of the random forest) and its
//! prediction. Fitting lives in `train::trees`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::TreeTask;
use super::common::{
    NanPolicy, argmax, check_features, check_predict_shape, exact_f64, exact_f64_vec,
};
use crate::{Error, Result};

/// A fitted decision tree.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "DecisionTreeModelRepr")]
pub struct DecisionTreeModel {
    pub(crate) task: TreeTask,
    pub(crate) n_features: usize,
    pub(crate) tree: CartTree,
}

/// Unvalidated serde form of [`DecisionTreeModel`].
#[derive(Deserialize)]
struct DecisionTreeModelRepr {
    task: TreeTask,
    n_features: usize,
    tree: CartTree,
}

impl TryFrom<DecisionTreeModelRepr> for DecisionTreeModel {
    type Error = String;

    fn try_from(r: DecisionTreeModelRepr) -> std::result::Result<Self, String> {
        r.tree.validate(r.task, r.n_features)?;
        Ok(Self {
            task: r.task,
            n_features: r.n_features,
            tree: r.tree,
        })
    }
}

impl DecisionTreeModel {
    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The task the model was trained for.
    pub fn task(&self) -> TreeTask {
        self.task
    }

    /// Depth of the tree (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        self.tree.depth()
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.tree.n_leaves()
    }

    /// Predict the class index (classification) or value (regression) for each row of `x`.
    ///
    /// Errors if `x` has a different number of columns than the training data or contains
    /// NaN / infinite values.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        check_predict_shape(x, self.n_features)?;
        check_features(x, NanPolicy::Reject)?;
        let classify = self.task.is_classification();
        Ok(x.rows()
            .into_iter()
            .map(|row| {
                let v = self.tree.leaf(row);
                if classify { argmax(v) as f64 } else { v[0] }
            })
            .collect())
    }

    /// Class probabilities (`n × n_classes`, rows sum to 1); classification only.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let Some(k) = self.task.n_classes() else {
            return Err(Error::invalid(
                "predict_proba",
                "the model was trained for regression",
            ));
        };
        check_predict_shape(x, self.n_features)?;
        check_features(x, NanPolicy::Reject)?;
        let mut out = Array2::zeros((x.nrows(), k));
        for (i, row) in x.rows().into_iter().enumerate() {
            out.row_mut(i)
                .assign(&ArrayView1::from(self.tree.leaf(row)));
        }
        Ok(out)
    }
}

/// A node of a fitted CART tree.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum CartNode {
    /// `x[feature] <= threshold` goes left.
    Split {
        feature: u32,
        #[serde(with = "exact_f64")]
        threshold: f64,
        left: u32,
        right: u32,
    },
    /// Leaf whose outputs start at `values[offset]`.
    Leaf { offset: u32 },
}

/// A fitted CART tree: nodes (root at 0) and leaf outputs (`n_outputs` per leaf: class
/// probabilities or a single mean).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CartTree {
    pub(crate) nodes: Vec<CartNode>,
    #[serde(with = "exact_f64_vec")]
    pub(crate) values: Vec<f64>,
    pub(crate) n_outputs: usize,
}

impl CartTree {
    /// Outputs of the leaf `row` falls into.
    #[inline]
    pub(crate) fn leaf(&self, row: ArrayView1<f64>) -> &[f64] {
        let mut i = 0usize;
        loop {
            match self.nodes[i] {
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
                CartNode::Leaf { offset } => {
                    let o = offset as usize;
                    return &self.values[o..o + self.n_outputs];
                }
            }
        }
    }

    pub(crate) fn n_leaves(&self) -> usize {
        self.values.len() / self.n_outputs.max(1)
    }

    /// Check structural invariants (after deserialisation): children after their parent and in
    /// range, features in range, leaf outputs inside `values`.
    pub(crate) fn validate(&self, task: TreeTask, n_features: usize) -> Result<(), String> {
        let want = task.n_classes().unwrap_or(1);
        if self.n_outputs != want {
            return Err(format!(
                "tree has {} outputs, the task needs {want}",
                self.n_outputs
            ));
        }
        if self.nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        let len = self.nodes.len();
        for (i, nd) in self.nodes.iter().enumerate() {
            match *nd {
                CartNode::Split {
                    feature,
                    left,
                    right,
                    ..
                } => {
                    let (l, r) = (left as usize, right as usize);
                    if l <= i || r <= i || l >= len || r >= len {
                        return Err(format!("node {i} has invalid children {l}, {r}"));
                    }
                    if feature as usize >= n_features {
                        return Err(format!(
                            "node {i} splits on feature {feature} ≥ {n_features}"
                        ));
                    }
                }
                CartNode::Leaf { offset } => {
                    if offset as usize + self.n_outputs > self.values.len() {
                        return Err(format!("leaf {i} points outside the leaf values"));
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, d)) = stack.pop() {
            max = max.max(d);
            if let CartNode::Split { left, right, .. } = self.nodes[i] {
                stack.push((left as usize, d + 1));
                stack.push((right as usize, d + 1));
            }
        }
        max
    }
}
