//! Fitted boosting trees: node layout and traversal (raw and binned).

use serde::{Deserialize, Serialize};

use super::binning::{BinnedData, MISSING_BIN};
use crate::train::trees::common::exact_f64;

/// One node of a boosting tree. Children always have larger indices than their parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Node {
    /// Raw split threshold: `x <= threshold` goes left (may be `+inf`: all non-missing left).
    #[serde(with = "exact_f64")]
    pub(crate) threshold: f64,
    /// Leaf value (already multiplied by the learning rate); 0 for internal nodes.
    #[serde(with = "exact_f64")]
    pub(crate) value: f64,
    pub(crate) feature: u32,
    pub(crate) left: u32,
    pub(crate) right: u32,
    /// Binned threshold: `bin <= bin_threshold` goes left.
    pub(crate) bin_threshold: u8,
    /// Where NaN (the missing bin) goes.
    pub(crate) missing_left: bool,
    pub(crate) is_leaf: bool,
}

/// A fitted boosting tree (root at index 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

impl Tree {
    /// Value of the leaf `row` (a contiguous feature row) falls into.
    #[inline]
    pub(crate) fn predict_row(&self, row: &[f64]) -> f64 {
        let nodes = &self.nodes[..];
        let mut i = 0usize;
        loop {
            let nd = &nodes[i];
            if nd.is_leaf {
                return nd.value;
            }
            let v = row[nd.feature as usize];
            let left = if v.is_nan() {
                nd.missing_left
            } else {
                v <= nd.threshold
            };
            i = if left { nd.left } else { nd.right } as usize;
        }
    }

    /// Add the tree's output for every row of binned `data` to `out`.
    pub(crate) fn add_binned(&self, data: &BinnedData, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate().take(data.n) {
            let mut j = 0usize;
            loop {
                let nd = &self.nodes[j];
                if nd.is_leaf {
                    *o += nd.value;
                    break;
                }
                let b = data.bins[nd.feature as usize * data.n + i];
                let left = if b == MISSING_BIN {
                    nd.missing_left
                } else {
                    b <= nd.bin_threshold
                };
                j = if left { nd.left } else { nd.right } as usize;
            }
        }
    }

    /// Number of leaves.
    pub(crate) fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf).count()
    }

    /// Check structural invariants (after deserialisation): children after parents and in
    /// range, features in range.
    pub(crate) fn validate(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        let len = self.nodes.len();
        for (i, nd) in self.nodes.iter().enumerate() {
            if nd.is_leaf {
                continue;
            }
            let (l, r) = (nd.left as usize, nd.right as usize);
            if l <= i || r <= i || l >= len || r >= len {
                return Err(format!("node {i} has invalid children {l}, {r}"));
            }
            if nd.feature as usize >= n_features {
                return Err(format!(
                    "node {i} splits on feature {} ≥ {n_features}",
                    nd.feature
                ));
            }
        }
        Ok(())
    }
}
