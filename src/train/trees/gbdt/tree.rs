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

/// Rows traversed in lock-step through one tree (independent dependency chains).
const LANES: usize = 8;

/// Prediction-only node: children of a split are adjacent (`left`, `left + 1`); a leaf points to
/// itself with an `+inf` threshold (and missing values going left), so traversal can run a fixed
/// number of branch-free steps.
#[derive(Clone, Copy, Debug)]
struct FlatNode {
    threshold: f64,
    feature: u32,
    left: u32,
}

/// All trees of a model in the prediction layout: node `i`'s threshold is `thresholds[i]`, its
/// feature's offset in a feature-major block (`feature × BLOCK`) and its left child are
/// `meta[i]`. Both arrays have 8-byte entries, so a traversal step addresses them (and the
/// block) with plain scaled indexing.
#[derive(Debug)]
pub(crate) struct FlatForest {
    thresholds: Vec<f64>,
    meta: Vec<[u32; 2]>,
    values: Vec<f64>,
    /// Per node: where NaN goes (only read when the rows contain NaN).
    missing_left: Vec<bool>,
    /// Per tree: root index and maximum depth.
    trees: Vec<(u32, u32)>,
    n_features: usize,
}

impl FlatForest {
    /// Lay out `trees` (already validated: features < `n_features`, children in range).
    pub(crate) fn new(trees: &[Tree], n_features: usize) -> Self {
        let total: usize = trees.iter().map(|t| t.nodes.len()).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total);
        let mut missing_left = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(trees.len());
        // (source node, destination slot, depth)
        let mut queue = std::collections::VecDeque::new();
        for t in trees {
            let root = nodes.len();
            nodes.push(FlatNode {
                threshold: 0.0,
                feature: 0,
                left: 0,
            });
            values.push(0.0);
            missing_left.push(false);
            queue.push_back((0usize, root, 0u32));
            let mut depth = 0;
            while let Some((src, dst, d)) = queue.pop_front() {
                let nd = &t.nodes[src];
                if nd.is_leaf {
                    nodes[dst] = FlatNode {
                        threshold: f64::INFINITY,
                        feature: 0,
                        left: dst as u32,
                    };
                    missing_left[dst] = true;
                    values[dst] = nd.value;
                    depth = depth.max(d);
                } else {
                    let left = nodes.len();
                    nodes.push(FlatNode {
                        threshold: 0.0,
                        feature: 0,
                        left: 0,
                    });
                    nodes.push(FlatNode {
                        threshold: 0.0,
                        feature: 0,
                        left: 0,
                    });
                    values.extend([0.0, 0.0]);
                    missing_left.extend([false, false]);
                    nodes[dst] = FlatNode {
                        threshold: nd.threshold,
                        feature: nd.feature,
                        left: left as u32,
                    };
                    missing_left[dst] = nd.missing_left;
                    queue.push_back((nd.left as usize, left, d + 1));
                    queue.push_back((nd.right as usize, left + 1, d + 1));
                }
            }
            roots.push((root as u32, depth));
        }
        // The traversal below indexes without bounds checks; these invariants make that sound.
        // (A leaf points to itself and never moves right: `v > +inf` is false for every v.)
        let len = nodes.len();
        assert!(
            nodes.iter().enumerate().all(|(i, n)| {
                let l = n.left as usize;
                (n.feature as usize) < n_features
                    && (l == i && n.threshold == f64::INFINITY && missing_left[i] || l + 1 < len)
            }) && n_features.saturating_mul(BLOCK) <= u32::MAX as usize,
            "flat trees violate their layout invariants"
        );
        Self {
            thresholds: nodes.iter().map(|n| n.threshold).collect(),
            meta: nodes
                .iter()
                .map(|n| [n.feature * BLOCK as u32, n.left])
                .collect(),
            values,
            missing_left,
            trees: roots,
            n_features,
        }
    }

    /// Add every tree's output to `out` (row-major, `k` outputs per row; tree `t` feeds output
    /// `t % k`) for a block of `rows ≤ BLOCK` rows stored feature-major in `cols`
    /// (`cols[f * BLOCK + r]`, `p * BLOCK` values). `has_nan` says whether any of them is NaN.
    pub(crate) fn add_block(
        &self,
        cols: &[f64],
        rows: usize,
        has_nan: bool,
        k: usize,
        out: &mut [f64],
    ) {
        if has_nan {
            self.add_block_with::<true>(cols, rows, k, out);
        } else {
            self.add_block_with::<false>(cols, rows, k, out);
        }
    }

    fn add_block_with<const NAN: bool>(
        &self,
        cols: &[f64],
        rows: usize,
        k: usize,
        out: &mut [f64],
    ) {
        assert_eq!(
            cols.len(),
            self.n_features * BLOCK,
            "the block must hold BLOCK rows of the model's features"
        );
        assert!(rows <= BLOCK && out.len() >= rows * k, "block too large");
        let (thr, meta) = (&self.thresholds[..], &self.meta[..]);
        let ml = &self.missing_left[..];
        for (t, &(root, depth)) in self.trees.iter().enumerate() {
            let j = t % k;
            // Groups of LANES rows in lock-step (independent dependency chains); the rows of
            // a last, partial group one at a time.
            let full = rows / LANES * LANES;
            for g0 in (0..full).step_by(LANES) {
                let mut idx = [root; LANES];
                let group = &cols[g0..];
                for _ in 0..depth {
                    for (l, ix) in idx.iter_mut().enumerate() {
                        *ix = step::<NAN>(thr, meta, ml, *ix, group, l);
                    }
                }
                for (l, ix) in idx.iter().enumerate() {
                    out[(g0 + l) * k + j] += self.values[*ix as usize];
                }
            }
            for r in full..rows {
                let mut ix = root;
                for _ in 0..depth {
                    ix = step::<NAN>(thr, meta, ml, ix, &cols[r..], 0);
                }
                out[r * k + j] += self.values[ix as usize];
            }
        }
    }
}

/// Rows per block of [`FlatForest::add_block`] (a multiple of `LANES`).
pub(crate) const BLOCK: usize = 64;

/// One branch-free traversal step from node `ix` for row `r` of `group`, the tail of a
/// feature-major block starting at the current group's first row.
///
/// Callers guarantee `ix` is a node index (of `thr`, `meta` and `missing_left`, all the same
/// length), that `group` starts at row `g0` of a block of `p * BLOCK` values with
/// `g0 + r < BLOCK`, and that every node's column offset is `feature × BLOCK` with
/// `feature < p` (checked in [`FlatForest::new`] and [`FlatForest::add_block_with`]); children
/// are always in range by construction, so no index can go out of bounds.
#[inline(always)]
fn step<const NAN: bool>(
    thr: &[f64],
    meta: &[[u32; 2]],
    missing_left: &[bool],
    ix: u32,
    group: &[f64],
    r: usize,
) -> u32 {
    let i = ix as usize;
    debug_assert!(i < meta.len() && i < thr.len() && i < missing_left.len());
    // SAFETY: `ix` is the root or a child index, all < the node count (see above).
    let [off, left] = unsafe { *meta.get_unchecked(i) };
    let at = off as usize + r;
    debug_assert!(at < group.len());
    // SAFETY: `off = feature × BLOCK` with `feature < p`, and `g0 + r < BLOCK`, so
    // `g0 + at < p * BLOCK`: inside the block, i.e. `at < group.len()`.
    let v = unsafe { *group.get_unchecked(at) };
    // SAFETY: as for `meta`.
    let t = unsafe { *thr.get_unchecked(i) };
    let right = if NAN {
        // NaN compares false, so it goes right only when missing values go right. (`&`, not
        // `&&`: no branch on the data.)
        // SAFETY: as for `meta`.
        (v > t) | (v.is_nan() & !unsafe { *missing_left.get_unchecked(i) })
    } else {
        v > t
    };
    left + right as u32
}
