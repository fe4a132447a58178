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
    /// The same trees as leaf bitvectors, evaluated with AVX2 when the CPU has it and
    /// every tree has at most 64 leaves (`None` otherwise: the traversal above is used).
    bits: Option<BitForest>,
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
            bits: BitForest::new(trees, n_features).filter(|_| BitForest::supported()),
        }
    }

    /// Whether blocks are scored by the AVX2 bitvector evaluation (else by traversal).
    #[cfg(test)]
    pub(crate) fn uses_bitvectors(&self) -> bool {
        self.bits.is_some()
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
        self.check_block(cols, rows, k, out);
        match &self.bits {
            // A few rows alone (single-row requests) walk their paths faster than every
            // node is evaluated for a group of 16.
            #[cfg(target_arch = "x86_64")]
            Some(b) if rows >= MIN_BIT_ROWS => {
                // SAFETY: `bits` is only `Some` when the CPU has AVX2
                // (`BitForest::supported`); the block's shape was checked above.
                unsafe {
                    if has_nan {
                        b.add_block_avx2::<true>(cols, rows, k, out)
                    } else {
                        b.add_block_avx2::<false>(cols, rows, k, out)
                    }
                }
            }
            _ => {
                if has_nan {
                    self.add_block_with::<true>(cols, rows, k, out);
                } else {
                    self.add_block_with::<false>(cols, rows, k, out);
                }
            }
        }
    }

    /// The block's shape: `BLOCK` rows of the model's features, at most `BLOCK` of them used,
    /// room for `k` outputs per row. Panics otherwise (a caller's bug, not user input).
    fn check_block(&self, cols: &[f64], rows: usize, k: usize, out: &[f64]) {
        assert_eq!(
            cols.len(),
            self.n_features * BLOCK,
            "the block must hold BLOCK rows of the model's features"
        );
        assert!(rows <= BLOCK && out.len() >= rows * k, "block too large");
    }

    fn add_block_with<const NAN: bool>(
        &self,
        cols: &[f64],
        rows: usize,
        k: usize,
        out: &mut [f64],
    ) {
        self.check_block(cols, rows, k, out);
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

/// The trees as leaf bitvectors (QuickScorer's representation), evaluated without a
/// data-dependent branch or step count.
///
/// The leaves of a tree are numbered left to right (at most 64, one bit each). Every internal
/// node carries the mask of the leaves in its left subtree. A row starts with all bits set
/// and, for every internal node where it would go right, clears that node's mask; the row's
/// leaf is then the lowest bit still set. (The leaves left of the row's leaf are each in the
/// left subtree of a node on its path where it went right, so they are cleared; the row's own
/// leaf is never in the left subtree of a node where it went right.) Every internal node is
/// evaluated, but for 16 rows at once in four AVX2 registers, with no dependent loads:
/// cheaper than walking trees as deep as 15 steps when the rows' paths average about 5. The leaf values are added in tree order, as by the
/// traversal, so the sums are bit-identical.
#[derive(Debug)]
struct BitForest {
    /// Per internal node, tree by tree: the threshold (`x <= t` goes left).
    thr: Vec<f64>,
    /// Per internal node: the feature's offset in a feature-major block (`feature × BLOCK`).
    off: Vec<u32>,
    /// Per internal node: the leaves of its left subtree.
    left: Vec<u64>,
    /// Per internal node: all ones when NaN goes right, 0 when it goes left.
    nan_right: Vec<u64>,
    /// Per tree: end of its internal nodes (the start is the previous tree's end) and the
    /// index of its first leaf in `leaf_values`.
    trees: Vec<(u32, u32)>,
    /// Leaf values, tree by tree, each tree's leaves left to right.
    leaf_values: Vec<f64>,
}

/// Blocks with fewer rows take the traversal even when bitvectors are available.
const MIN_BIT_ROWS: usize = 8;

/// Rows evaluated together by [`BitForest::add_block_avx2`] (four registers of 4).
const BIT_ROWS: usize = 16;

impl BitForest {
    /// Whether this CPU runs [`BitForest::add_block_avx2`].
    fn supported() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// The bitvector form of `trees` (validated: children after parents and in range,
    /// features < `n_features`), or `None` when a tree has more than 64 leaves.
    fn new(trees: &[Tree], n_features: usize) -> Option<Self> {
        let mut b = BitForest {
            thr: Vec::new(),
            off: Vec::new(),
            left: Vec::new(),
            nan_right: Vec::new(),
            trees: Vec::with_capacity(trees.len()),
            leaf_values: Vec::new(),
        };
        for t in trees {
            if t.n_leaves() > 64 {
                return None;
            }
            let base = b.leaf_values.len();
            // In-order walk (explicit stack): a node's left subtree holds the leaves numbered
            // from the count on entry to the count after the left child is done.
            // (node, Some(first leaf of its left subtree) once its left child is done)
            let mut stack: Vec<(usize, Option<usize>)> = vec![(0, None)];
            while let Some((i, seen)) = stack.pop() {
                let nd = &t.nodes[i];
                if nd.is_leaf {
                    b.leaf_values.push(nd.value);
                    continue;
                }
                match seen {
                    None => {
                        stack.push((i, Some(b.leaf_values.len() - base)));
                        stack.push((nd.left as usize, None));
                    }
                    Some(first) => {
                        let end = b.leaf_values.len() - base;
                        // Bits first..end (end ≤ 64, first < end) cleared.
                        let width = end - first;
                        let left = if width == 64 {
                            u64::MAX
                        } else {
                            ((1u64 << width) - 1) << first
                        };
                        b.thr.push(nd.threshold);
                        b.off.push(nd.feature * BLOCK as u32);
                        b.left.push(left);
                        b.nan_right.push(if nd.missing_left { 0 } else { u64::MAX });
                        stack.push((nd.right as usize, None));
                    }
                }
            }
            b.trees.push((b.thr.len() as u32, base as u32));
        }
        // The kernel reads without bounds checks; these make that sound: every column offset
        // inside a block (a block of BLOCK rows read BIT_ROWS at a time from a multiple of
        // BIT_ROWS), every tree's leaves in `leaf_values`.
        assert!(
            BLOCK.is_multiple_of(BIT_ROWS)
                && b.off
                    .iter()
                    .all(|&o| (o as usize).is_multiple_of(BLOCK)
                        && (o as usize) < n_features * BLOCK)
                && b.trees
                    .windows(2)
                    .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1)
                && b.trees.last().is_none_or(|t| t.0 as usize == b.thr.len()),
            "bitvector trees violate their layout invariants"
        );
        Some(b)
    }

    /// [`FlatForest::add_block`] by bitvectors, 16 rows at a time (four AVX2 registers of
    /// 4 rows; a row's bits in one 64-bit lane).
    ///
    /// # Safety
    /// The CPU must have AVX2; `cols` must hold `n_features × BLOCK` values (the `n_features`
    /// of [`BitForest::new`]), `rows ≤ BLOCK`, `out.len() ≥ rows × k`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_block_avx2<const NAN: bool>(
        &self,
        cols: &[f64],
        rows: usize,
        k: usize,
        out: &mut [f64],
    ) {
        // SAFETY: see the function's contract and the comments inside.
        unsafe {
            use std::arch::x86_64::*;
            // Per output, the running sums of the 16 rows (starting from `out`, the baseline).
            let mut acc = vec![0.0f64; k * BIT_ROWS];
            let mut lanes = [0u64; BIT_ROWS];
            for g0 in (0..rows).step_by(BIT_ROWS) {
                let n = (rows - g0).min(BIT_ROWS);
                for j in 0..k {
                    for l in 0..n {
                        acc[j * BIT_ROWS + l] = out[(g0 + l) * k + j];
                    }
                }
                // Rows past `rows` in the block hold earlier values; they are evaluated and
                // dropped.
                let x = cols.as_ptr().add(g0);
                let mut start = 0usize;
                for (t, &(end, base)) in self.trees.iter().enumerate() {
                    let end = end as usize;
                    let mut lv = [_mm256_set1_epi64x(-1); BIT_ROWS / 4];
                    for i in start..end {
                        // SAFETY: `i` < the node count (tree ends are ascending and ≤ it);
                        // `off + g0 + 16 ≤ n_features × BLOCK` (checked in `new`, `g0` a
                        // multiple of 16 below BLOCK).
                        let o = *self.off.get_unchecked(i) as usize;
                        let t = _mm256_set1_pd(*self.thr.get_unchecked(i));
                        let left = _mm256_set1_epi64x(*self.left.get_unchecked(i) as i64);
                        let nr = if NAN {
                            _mm256_set1_epi64x(*self.nan_right.get_unchecked(i) as i64)
                        } else {
                            _mm256_setzero_si256()
                        };
                        for (q, lv) in lv.iter_mut().enumerate() {
                            let v = _mm256_loadu_pd(x.add(o + 4 * q));
                            // All ones where the row goes right: `x > t`, or `x` NaN and NaN
                            // going right.
                            let mut right = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_GT_OQ>(v, t));
                            if NAN {
                                let u = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_NLE_UQ>(v, t));
                                right = _mm256_or_si256(right, _mm256_and_si256(u, nr));
                            }
                            // Going right clears the left subtree's leaves.
                            *lv = _mm256_andnot_si256(_mm256_and_si256(right, left), *lv);
                        }
                    }
                    start = end;
                    for (q, v) in lv.iter().enumerate() {
                        _mm256_storeu_si256(lanes.as_mut_ptr().add(4 * q).cast(), *v);
                    }
                    // The lowest set bit (never none: the row's own leaf stays set), added in
                    // tree order.
                    let a = &mut acc[(t % k) * BIT_ROWS..][..BIT_ROWS];
                    for (s, &b) in a.iter_mut().zip(&lanes) {
                        let leaf = base as usize + b.trailing_zeros() as usize;
                        debug_assert!(leaf < self.leaf_values.len());
                        // SAFETY: the lowest set bit of a row is a leaf of tree `t`, inside
                        // `leaf_values` (every row keeps its own leaf's bit).
                        *s += *self.leaf_values.get_unchecked(leaf);
                    }
                }
                for j in 0..k {
                    for l in 0..n {
                        out[(g0 + l) * k + j] = acc[j * BIT_ROWS + l];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A random tree of `leaves` leaves over `p` features: thresholds from a small grid (so
    /// inputs hit them exactly), sometimes `+inf`; NaN going either way.
    fn random_tree(rng: &mut ChaCha8Rng, leaves: usize, p: usize) -> Tree {
        let leaf = |rng: &mut ChaCha8Rng| Node::leaf(rng.random_range(-1.0..1.0));
        let mut nodes = vec![leaf(rng)];
        while nodes.iter().filter(|n| n.is_leaf).count() < leaves {
            let cands: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].is_leaf).collect();
            let i = cands[rng.random_range(0..cands.len())];
            let len = nodes.len() as u32;
            nodes[i] = Node {
                threshold: if rng.random_bool(0.05) {
                    f64::INFINITY
                } else {
                    rng.random_range(-4..4) as f64 * 0.5
                },
                value: 0.0,
                feature: rng.random_range(0..p as u32),
                left: len,
                right: len + 1,
                bin_threshold: 0,
                missing_left: rng.random_bool(0.5),
                is_leaf: false,
            };
            nodes.push(leaf(rng));
            nodes.push(leaf(rng));
        }
        let t = Tree { nodes };
        t.validate(p).expect("valid tree");
        t
    }

    fn random_block(rng: &mut ChaCha8Rng, p: usize, nan: bool) -> Vec<f64> {
        (0..p * BLOCK)
            .map(|_| {
                if nan && rng.random_bool(0.15) {
                    f64::NAN
                } else if rng.random_bool(0.3) {
                    rng.random_range(-5..5) as f64 * 0.5
                } else {
                    rng.random_range(-3.0..3.0)
                }
            })
            .collect()
    }

    #[test]
    fn bitvectors_match_the_traversal_bit_for_bit() {
        if !BitForest::supported() {
            eprintln!("no AVX2 here: only the traversal runs");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for case in 0..60 {
            let p = rng.random_range(1..9);
            let n_trees = rng.random_range(1..25);
            let trees: Vec<Tree> = (0..n_trees)
                .map(|_| {
                    let leaves = if case % 5 == 0 {
                        64
                    } else {
                        rng.random_range(1..40)
                    };
                    random_tree(&mut rng, leaves, p)
                })
                .collect();
            let flat = FlatForest::new(&trees, p);
            let bits = flat.bits.as_ref().expect("≤ 64 leaves per tree");
            for &(rows, k, nan) in &[
                (BLOCK, 1, false),
                (BLOCK, 1, true),
                (37, 3, true),
                (1, 1, true),
                (16, 2, false),
                (50, 1, false),
            ] {
                let cols = random_block(&mut rng, p, nan);
                let base: Vec<f64> = (0..rows * k).map(|i| i as f64 * 0.25 - 3.0).collect();
                let mut want = base.clone();
                if nan {
                    flat.add_block_with::<true>(&cols, rows, k, &mut want);
                } else {
                    flat.add_block_with::<false>(&cols, rows, k, &mut want);
                }
                let mut got = base.clone();
                // SAFETY: AVX2 checked above; the block has p × BLOCK values.
                unsafe {
                    if nan {
                        bits.add_block_avx2::<true>(&cols, rows, k, &mut got);
                    } else {
                        bits.add_block_avx2::<false>(&cols, rows, k, &mut got);
                    }
                }
                let b = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    b(&got),
                    b(&want),
                    "case {case}, rows {rows}, k {k}, nan {nan}"
                );
                // The dispatching entry point agrees too.
                let mut via = base.clone();
                flat.add_block(&cols, rows, nan, k, &mut via);
                assert_eq!(b(&via), b(&want));
            }
        }
    }

    #[test]
    fn trees_over_64_leaves_fall_back_to_the_traversal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let trees = vec![random_tree(&mut rng, 10, 3), random_tree(&mut rng, 65, 3)];
        assert!(BitForest::new(&trees, 3).is_none());
        assert!(!FlatForest::new(&trees, 3).uses_bitvectors());
        let trees = vec![random_tree(&mut rng, 64, 3), random_tree(&mut rng, 1, 3)];
        let b = BitForest::new(&trees, 3).expect("64 leaves fit");
        assert_eq!(b.leaf_values.len(), 65);
        assert_eq!(b.thr.len(), 63);
    }
}
