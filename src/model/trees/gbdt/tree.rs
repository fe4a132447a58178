//! The stored parts of a gradient-boosted trees model: its trees and the bin thresholds it
//! was fitted with.

use serde::{Deserialize, Serialize};

use crate::model::trees::common::{exact_f64, exact_f64_vec};

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

impl Node {
    /// A leaf holding `value`.
    pub(crate) fn leaf(value: f64) -> Node {
        Node {
            threshold: 0.0,
            value,
            feature: 0,
            left: 0,
            right: 0,
            bin_threshold: 0,
            missing_left: false,
            is_leaf: true,
        }
    }
}

/// A fitted boosting tree (root at index 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

impl Tree {
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

/// Per-feature bin thresholds the model was fitted with; value `x` maps to bin
/// `#(thresholds < x)`, NaN to the missing bin (see `train::trees`, which fits and applies
/// them). Stored with the model; prediction reads the raw thresholds of the trees instead.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BinMapper {
    pub(crate) features: Vec<FeatureBins>,
}

/// The bin thresholds of one feature.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FeatureBins {
    /// Strictly increasing, finite.
    #[serde(with = "exact_f64_vec")]
    pub(crate) thresholds: Vec<f64>,
}

impl BinMapper {
    /// Number of non-missing bins of feature `f`.
    #[inline]
    pub(crate) fn n_bins_non_missing(&self, f: usize) -> usize {
        self.features[f].thresholds.len() + 1
    }

    /// Raw threshold for "bin ≤ `bin` goes left": values `x <= threshold` go left.
    pub(crate) fn raw_threshold(&self, f: usize, bin: u8) -> f64 {
        self.features[f]
            .thresholds
            .get(bin as usize)
            .copied()
            .unwrap_or(f64::INFINITY)
    }

    /// Number of features.
    pub(crate) fn n_features(&self) -> usize {
        self.features.len()
    }
}
