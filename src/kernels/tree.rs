//! Tree kernels: block prediction of gradient-boosted trees (a branch-free traversal and, with
//! AVX2, QuickScorer-style leaf bitvectors) and the prefetch hint of the histogram builder.
//!
//! The kernels work on plain arrays. A caller describes its trees as a [`TraversalNodes`] and,
//! optionally, a [`BitvectorNodes`] (struct-of-arrays, no invariants) and hands both to
//! [`FlatForest::new`], which checks every invariant the unchecked reads rely on and returns an
//! error otherwise. From then on the layout is private and immutable, so the safe
//! [`FlatForest::add_block`] cannot read out of bounds whatever the arrays held.
//!
//! The traversal ([`FlatForest::add_block_traversal`]) is the reference: the bitvector kernel
//! adds the same leaf values in the same order and is tested against it bit for bit (see
//! `model::trees::gbdt`, which builds both layouts from fitted trees).
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use crate::error::{Error, Result};

/// Rows per block of [`FlatForest::add_block`] (a multiple of `LANES` and of `BIT_ROWS`).
pub(crate) const BLOCK: usize = 64;

/// Rows traversed in lock-step through one tree (independent dependency chains).
const LANES: usize = 8;

/// Blocks with fewer rows take the traversal even when bitvectors are available.
const MIN_BIT_ROWS: usize = 8;

/// Rows evaluated together by [`BitForest::add_block_avx2`] (four registers of 4).
const BIT_ROWS: usize = 16;

/// All trees in the traversal layout, as the caller builds them (checked by
/// [`FlatForest::new`]).
///
/// Node `i` sends `x[features[i]] <= thresholds[i]` to `left[i]` and the rest to
/// `left[i] + 1`; NaN goes to `left[i]` when `missing_left[i]`. A leaf points to itself with
/// an `+inf` threshold and `missing_left` set (no value moves past it), so a traversal can run
/// a fixed number of steps; `values[i]` is the leaf's output (0 for internal nodes).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TraversalNodes {
    /// Per node: the split threshold (`+inf` for a leaf).
    pub(crate) thresholds: Vec<f64>,
    /// Per node: the feature it splits on (0 for a leaf).
    pub(crate) features: Vec<u32>,
    /// Per node: the left child (the right child is the next node); a leaf's own index.
    pub(crate) left: Vec<u32>,
    /// Per node: whether NaN goes left (always for a leaf).
    pub(crate) missing_left: Vec<bool>,
    /// Per node: the output of a leaf.
    pub(crate) values: Vec<f64>,
    /// Per tree: root node and the number of steps that reaches every leaf (its depth).
    pub(crate) trees: Vec<(u32, u32)>,
}

/// All trees as leaf bitvectors, as the caller builds them (checked by [`FlatForest::new`]).
///
/// The leaves of a tree are numbered left to right (at most 64, one bit each) and every
/// internal node carries the mask of the leaves in its left subtree. A row starts with all
/// bits set and, for every internal node where it goes right, clears that node's mask; its
/// leaf is then the lowest bit still set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BitvectorNodes {
    /// Per internal node, tree by tree: the threshold (`x <= t` goes left).
    pub(crate) thresholds: Vec<f64>,
    /// Per internal node: the feature it splits on.
    pub(crate) features: Vec<u32>,
    /// Per internal node: the leaves of its left subtree.
    pub(crate) left_leaves: Vec<u64>,
    /// Per internal node: whether NaN goes left.
    pub(crate) missing_left: Vec<bool>,
    /// Per tree: the end of its internal nodes (the start is the previous tree's end).
    pub(crate) node_ends: Vec<u32>,
    /// Per tree: its leaf values, left to right (at most 64).
    pub(crate) leaf_values: Vec<Vec<f64>>,
}

/// Trees in the prediction layout, checked (see the module docs).
#[derive(Debug)]
pub(crate) struct FlatForest {
    /// Per node: threshold.
    thresholds: Vec<f64>,
    /// Per node: `[feature × BLOCK, left child]`. Both arrays have 8-byte entries, so a
    /// traversal step addresses them (and the block) with plain scaled indexing.
    meta: Vec<[u32; 2]>,
    values: Vec<f64>,
    /// Per node: where NaN goes (only read when the rows contain NaN).
    missing_left: Vec<bool>,
    /// Per tree: root index and number of steps.
    trees: Vec<(u32, u32)>,
    n_features: usize,
    /// The same trees as leaf bitvectors, evaluated with AVX2 when the CPU has it (`None`
    /// otherwise, or when not given: the traversal is used).
    bits: Option<BitForest>,
}

impl FlatForest {
    /// Check and take `nodes` (and `bits`, used when the CPU has AVX2) for trees over
    /// `n_features` features.
    ///
    /// Errors ([`Error::InvalidInput`]) when the arrays disagree in length, a feature is
    /// `≥ n_features`, a child is out of range, a leaf does not point to itself with an `+inf`
    /// threshold and NaN going left, a root is out of range, or the bitvector trees have more
    /// than 64 leaves, no leaves, or node ranges out of order.
    pub(crate) fn new(
        nodes: TraversalNodes,
        bits: Option<BitvectorNodes>,
        n_features: usize,
    ) -> Result<Self> {
        let bad = |why: String| Error::invalid("tree prediction layout", why);
        let len = nodes.thresholds.len();
        if [
            nodes.features.len(),
            nodes.left.len(),
            nodes.missing_left.len(),
            nodes.values.len(),
        ]
        .iter()
        .any(|&l| l != len)
        {
            return Err(bad("the per-node arrays differ in length".into()));
        }
        if n_features.saturating_mul(BLOCK) > u32::MAX as usize {
            return Err(bad(format!("{n_features} features are too many")));
        }
        for i in 0..len {
            let l = nodes.left[i] as usize;
            let leaf = l == i && nodes.thresholds[i] == f64::INFINITY && nodes.missing_left[i];
            if (nodes.features[i] as usize) >= n_features || !(leaf || l + 1 < len) {
                return Err(bad(format!(
                    "node {i} has feature {} or left child {l} out of range",
                    nodes.features[i]
                )));
            }
        }
        if let Some(&(root, _)) = nodes.trees.iter().find(|t| t.0 as usize >= len) {
            return Err(bad(format!("root {root} out of range")));
        }
        let bits = match bits {
            Some(b) if BitForest::supported() => Some(BitForest::new(b, n_features)?),
            _ => None,
        };
        Ok(Self {
            meta: nodes
                .features
                .iter()
                .zip(&nodes.left)
                .map(|(&f, &l)| [f * BLOCK as u32, l])
                .collect(),
            thresholds: nodes.thresholds,
            values: nodes.values,
            missing_left: nodes.missing_left,
            trees: nodes.trees,
            n_features,
            bits,
        })
    }

    /// Whether blocks are scored by the AVX2 bitvector evaluation (else by traversal).
    #[cfg(test)]
    pub(crate) fn uses_bitvectors(&self) -> bool {
        self.bits.is_some()
    }

    /// Add every tree's output to `out` (row-major, `k` outputs per row; tree `t` feeds output
    /// `t % k`) for a block of `rows ≤ BLOCK` rows stored feature-major in `cols`
    /// (`cols[f * BLOCK + r]`, `n_features × BLOCK` values). `has_nan` says whether any of
    /// them is NaN.
    ///
    /// Panics when the block has another shape (a caller's bug, not user input).
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
                // SAFETY: `bits` is only `Some` when the CPU has AVX2 (`BitForest::supported`
                // in `new`); `b` was built for `self.n_features` and the block's shape was
                // checked above.
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

    /// [`FlatForest::add_block`] by the bitvectors whatever the number of rows; `false` (and
    /// `out` untouched) when they are not in use.
    #[cfg(test)]
    pub(crate) fn add_block_bitvectors(
        &self,
        cols: &[f64],
        rows: usize,
        has_nan: bool,
        k: usize,
        out: &mut [f64],
    ) -> bool {
        self.check_block(cols, rows, k, out);
        match &self.bits {
            #[cfg(target_arch = "x86_64")]
            Some(b) => {
                // SAFETY: as in `add_block`.
                unsafe {
                    if has_nan {
                        b.add_block_avx2::<true>(cols, rows, k, out)
                    } else {
                        b.add_block_avx2::<false>(cols, rows, k, out)
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// [`FlatForest::add_block`] by the branch-free traversal (the reference evaluation).
    #[cfg(test)]
    pub(crate) fn add_block_traversal(
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

    /// The block's shape: `BLOCK` rows of the model's features, at most `BLOCK` of them used,
    /// room for `k` outputs per row. Panics otherwise (a caller's bug, not user input).
    fn check_block(&self, cols: &[f64], rows: usize, k: usize, out: &[f64]) {
        assert_eq!(
            cols.len(),
            self.n_features * BLOCK,
            "the block must hold BLOCK rows of the model's features"
        );
        assert!(
            rows <= BLOCK && out.len() >= rows * k && k > 0,
            "block too large"
        );
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
                        // SAFETY: `ix` starts at a root and is only ever replaced by `step`'s
                        // result, a node index (checked in `new`); `g0 + l < full ≤ rows ≤
                        // BLOCK` and `cols` holds `n_features × BLOCK` values (`check_block`),
                        // `group` being `cols` from row `g0`.
                        *ix = unsafe { step::<NAN>(thr, meta, ml, *ix, group, l) };
                    }
                }
                for (l, ix) in idx.iter().enumerate() {
                    out[(g0 + l) * k + j] += self.values[*ix as usize];
                }
            }
            for r in full..rows {
                let mut ix = root;
                for _ in 0..depth {
                    // SAFETY: as above, with the group starting at row `r < rows ≤ BLOCK`
                    // and row 0 of it.
                    ix = unsafe { step::<NAN>(thr, meta, ml, ix, &cols[r..], 0) };
                }
                out[r * k + j] += self.values[ix as usize];
            }
        }
    }
}

/// One branch-free traversal step from node `ix` for row `r` of `group`, the tail of a
/// feature-major block starting at the current group's first row. Returns the child the row
/// goes to (the node itself for a leaf).
///
/// The reads are unchecked: with bounds checks, predicting blocks of 4 rows (where the
/// traversal serves single-row requests) took 59 % more instructions for trees of 31 leaves
/// and 78 % more for 128 leaves (callgrind, 100 trees), and the layout is checked once in
/// [`FlatForest::new`] instead.
///
/// # Safety
/// - `thr`, `meta` and `missing_left` have the same length, `ix` is an index into them, and
///   every node's `meta` is `[feature × BLOCK, left]` with `left` (and `left + 1` unless the
///   node is a leaf pointing to itself that no value leaves) an index into them, as
///   [`FlatForest::new`] checks;
/// - `group` is a block of `n_features × BLOCK` values from its row `g0` on, with
///   `g0 + r < BLOCK` and every node's `feature < n_features`, so `feature × BLOCK + r <
///   group.len()`.
#[inline(always)]
unsafe fn step<const NAN: bool>(
    thr: &[f64],
    meta: &[[u32; 2]],
    missing_left: &[bool],
    ix: u32,
    group: &[f64],
    r: usize,
) -> u32 {
    let i = ix as usize;
    debug_assert!(i < meta.len() && i < thr.len() && i < missing_left.len());
    // SAFETY: `ix` is an index of `meta` (the function's contract).
    let [off, left] = unsafe { *meta.get_unchecked(i) };
    let at = off as usize + r;
    debug_assert!(at < group.len());
    // SAFETY: `off = feature × BLOCK` with `feature < n_features`, and `g0 + r < BLOCK`, so
    // `g0 + at < n_features × BLOCK`: inside the block, i.e. `at < group.len()`.
    let v = unsafe { *group.get_unchecked(at) };
    // SAFETY: `thr` has the length of `meta`.
    let t = unsafe { *thr.get_unchecked(i) };
    let right = if NAN {
        // NaN compares false, so it goes right only when missing values go right. (`&`, not
        // `&&`: no branch on the data.)
        // SAFETY: `missing_left` has the length of `meta`.
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
/// cheaper than walking trees as deep as 15 steps when the rows' paths average about 5. The
/// leaf values are added in tree order, as by the traversal, so the sums are bit-identical.
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
    /// Leaf values, tree by tree, each tree's leaves left to right; then 64 zeros, so that
    /// `first leaf + any bit index (≤ 64)` of the last tree is inside too.
    leaf_values: Vec<f64>,
}

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

    /// Check and take `b` (see [`FlatForest::new`]).
    fn new(b: BitvectorNodes, n_features: usize) -> Result<Self> {
        let bad = |why: String| Error::invalid("tree bitvector layout", why);
        let len = b.thresholds.len();
        if [b.features.len(), b.left_leaves.len(), b.missing_left.len()]
            .iter()
            .any(|&l| l != len)
            || b.node_ends.len() != b.leaf_values.len()
        {
            return Err(bad(
                "the per-node or per-tree arrays differ in length".into()
            ));
        }
        if let Some(f) = b.features.iter().find(|&&f| f as usize >= n_features) {
            return Err(bad(format!("feature {f} ≥ {n_features}")));
        }
        if n_features.saturating_mul(BLOCK) > u32::MAX as usize {
            return Err(bad(format!("{n_features} features are too many")));
        }
        let mut start = 0;
        let mut trees = Vec::with_capacity(b.node_ends.len());
        let mut leaf_values = Vec::new();
        for (&end, leaves) in b.node_ends.iter().zip(&b.leaf_values) {
            if leaves.is_empty() || leaves.len() > 64 || (end as usize) < start {
                return Err(bad(format!(
                    "a tree has {} leaves (1 to 64 fit) or its nodes end at {end} before {start}",
                    leaves.len()
                )));
            }
            start = end as usize;
            trees.push((end, leaf_values.len() as u32));
            leaf_values.extend_from_slice(leaves);
        }
        if start != len {
            return Err(bad(format!(
                "the trees' nodes end at {start}, not at {len}"
            )));
        }
        if leaf_values.len() > u32::MAX as usize - 64 {
            return Err(bad("too many leaves".into()));
        }
        // Whatever the masks, a row's lowest set bit is at most 64 past its tree's first
        // leaf, and every such index is inside.
        leaf_values.extend([0.0; 64]);
        Ok(BitForest {
            thr: b.thresholds,
            off: b.features.iter().map(|&f| f * BLOCK as u32).collect(),
            left: b.left_leaves,
            nan_right: b
                .missing_left
                .iter()
                .map(|&l| if l { 0 } else { u64::MAX })
                .collect(),
            trees,
            leaf_values,
        })
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
            let x = cols[g0..].as_ptr();
            let mut start = 0usize;
            for (t, &(end, base)) in self.trees.iter().enumerate() {
                let end = end as usize;
                let mut lv = [_mm256_set1_epi64x(-1); BIT_ROWS / 4];
                for i in start..end {
                    // SAFETY: `i < end ≤` the node count (tree ends ascend to it, checked in
                    // `new`), the length of every per-node array.
                    let (o, t, left, nr) = unsafe {
                        (
                            *self.off.get_unchecked(i) as usize,
                            *self.thr.get_unchecked(i),
                            *self.left.get_unchecked(i),
                            *self.nan_right.get_unchecked(i),
                        )
                    };
                    let t = _mm256_set1_pd(t);
                    let left = _mm256_set1_epi64x(left as i64);
                    let nr = if NAN {
                        _mm256_set1_epi64x(nr as i64)
                    } else {
                        _mm256_setzero_si256()
                    };
                    for (q, lv) in lv.iter_mut().enumerate() {
                        // SAFETY: `o = feature × BLOCK` with `feature < n_features` (checked
                        // in `new`) and `g0` a multiple of 16 below `BLOCK`, so the 4 values
                        // at `g0 + o + 4q` (`q < 4`) lie inside `cols` (`n_features × BLOCK`
                        // values, the function's contract).
                        let v = unsafe { _mm256_loadu_pd(x.add(o + 4 * q)) };
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
                    // SAFETY: `lanes` holds 16 `u64`s; `4q + 4 ≤ 16` of them are written.
                    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().add(4 * q).cast(), *v) };
                }
                // The lowest set bit (never none for consistent masks: the row's own leaf
                // stays set), added in tree order.
                let a = &mut acc[(t % k) * BIT_ROWS..][..BIT_ROWS];
                for (s, &b) in a.iter_mut().zip(&lanes) {
                    let leaf = base as usize + b.trailing_zeros() as usize;
                    debug_assert!(leaf < self.leaf_values.len());
                    // SAFETY: `trailing_zeros ≤ 64` and `leaf_values` holds 64 more values
                    // after the last tree's first leaf (`new`), and more after every other
                    // tree's.
                    *s += unsafe { *self.leaf_values.get_unchecked(leaf) };
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

/// Hint that `v[i]` will be read soon (no effect where there is no prefetch instruction, or
/// when `i` is out of range).
#[inline(always)]
pub(crate) fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if i < v.len() {
        // SAFETY: `i` is in range, so the address is inside `v`; a prefetch never faults and
        // changes no state visible to the program.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(v.as_ptr().add(i).cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, i);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One stump over 2 features: `x1 <= 0.5` left (value 1), else right (value 2); NaN
    /// goes right.
    fn stump() -> (TraversalNodes, BitvectorNodes) {
        let nodes = TraversalNodes {
            thresholds: vec![0.5, f64::INFINITY, f64::INFINITY],
            features: vec![1, 0, 0],
            left: vec![1, 1, 2],
            missing_left: vec![false, true, true],
            values: vec![0.0, 1.0, 2.0],
            trees: vec![(0, 1)],
        };
        let bits = BitvectorNodes {
            thresholds: vec![0.5],
            features: vec![1],
            left_leaves: vec![0b01],
            missing_left: vec![false],
            node_ends: vec![1],
            leaf_values: vec![vec![1.0, 2.0]],
        };
        (nodes, bits)
    }

    fn block(rows: &[[f64; 2]]) -> Vec<f64> {
        let mut cols = vec![0.0; 2 * BLOCK];
        for (r, row) in rows.iter().enumerate() {
            for (f, &v) in row.iter().enumerate() {
                cols[f * BLOCK + r] = v;
            }
        }
        cols
    }

    #[test]
    fn a_stump_sends_rows_by_threshold_and_nan_rule() {
        let (nodes, bits) = stump();
        let rows: Vec<[f64; 2]> = (0..BLOCK)
            .map(|i| match i % 3 {
                0 => [9.0, 0.5],
                1 => [9.0, 0.75],
                _ => [9.0, f64::NAN],
            })
            .collect();
        let cols = block(&rows);
        let want: Vec<f64> = (0..BLOCK)
            .map(|i| 10.0 + if i % 3 == 0 { 1.0 } else { 2.0 })
            .collect();
        for with_bits in [false, true] {
            let f = FlatForest::new(nodes.clone(), with_bits.then(|| bits.clone()), 2).unwrap();
            for n in [1, 7, 8, 33, BLOCK] {
                let mut out = vec![10.0; n];
                f.add_block(&cols, n, true, 1, &mut out);
                assert_eq!(out, want[..n], "bits {with_bits}, {n} rows");
                let mut out = vec![10.0; n];
                f.add_block_traversal(&cols, n, true, 1, &mut out);
                assert_eq!(out, want[..n]);
            }
        }
    }

    #[test]
    fn inconsistent_layouts_are_refused() {
        let (nodes, bits) = stump();
        let with = |f: &dyn Fn(&mut TraversalNodes)| {
            let mut n = nodes.clone();
            f(&mut n);
            FlatForest::new(n, None, 2)
        };
        assert!(with(&|_| ()).is_ok());
        assert!(
            with(&|n| n.features[0] = 2).is_err(),
            "feature out of range"
        );
        assert!(
            with(&|n| n.left[0] = 2).is_err(),
            "right child past the end"
        );
        assert!(
            with(&|n| n.thresholds[2] = 1.0).is_err(),
            "a leaf that can move"
        );
        assert!(with(&|n| n.trees[0].0 = 3).is_err(), "root out of range");
        assert!(
            with(&|n| {
                n.values.pop();
            })
            .is_err(),
            "arrays of different lengths"
        );
        let with_bits = |f: &dyn Fn(&mut BitvectorNodes)| {
            let mut b = bits.clone();
            f(&mut b);
            BitForest::new(b, 2)
        };
        assert!(with_bits(&|_| ()).is_ok());
        assert!(with_bits(&|b| b.features[0] = 2).is_err());
        assert!(with_bits(&|b| b.node_ends[0] = 2).is_err());
        assert!(with_bits(&|b| b.leaf_values[0] = vec![0.0; 65]).is_err());
        assert!(with_bits(&|b| b.leaf_values[0].clear()).is_err());
        assert!(with_bits(&|b| b.left_leaves.push(1)).is_err());
    }

    #[test]
    fn bitvectors_with_inconsistent_masks_stay_in_bounds() {
        // Masks that clear every leaf: the lowest set bit is "64", which lands in the
        // padding (a wrong answer for a wrong layout, never a read outside).
        if !BitForest::supported() {
            return;
        }
        let (nodes, mut bits) = stump();
        bits.left_leaves = vec![u64::MAX];
        let f = FlatForest::new(nodes, Some(bits), 2).unwrap();
        assert!(f.uses_bitvectors());
        let cols = block(&vec![[0.0, 9.0]; BLOCK]);
        let mut out = vec![0.0; BLOCK];
        f.add_block(&cols, BLOCK, false, 1, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn prefetch_out_of_range_is_a_no_op() {
        let v = [1u8, 2, 3];
        prefetch(&v, 0);
        prefetch(&v, 3);
        prefetch(&v, usize::MAX);
        prefetch::<u8>(&[], 0);
    }
}
