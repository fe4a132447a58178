//! The trees of a gradient-boosted model in the prediction layouts of
//! [`crate::kernels::tree`]: breadth-first with adjacent children for the traversal, and leaf
//! bitvectors for the AVX2 evaluation.

use super::tree::Tree;
use crate::Result;
use crate::kernels::tree::{BitvectorNodes, FlatForest, TraversalNodes};

/// The prediction layout of `trees` (validated: features < `n_features`, children after their
/// parent and in range). Bitvectors are added when every tree has at most 64 leaves.
pub(crate) fn flat_forest(trees: &[Tree], n_features: usize) -> Result<FlatForest> {
    FlatForest::new(traversal_nodes(trees), bitvector_nodes(trees), n_features)
}

/// Every tree breadth-first, a split's children adjacent (`left`, `left + 1`), a leaf
/// pointing to itself with an `+inf` threshold and NaN going left.
fn traversal_nodes(trees: &[Tree]) -> TraversalNodes {
    let total: usize = trees.iter().map(|t| t.nodes.len()).sum();
    let mut n = TraversalNodes {
        thresholds: Vec::with_capacity(total),
        features: Vec::with_capacity(total),
        left: Vec::with_capacity(total),
        missing_left: Vec::with_capacity(total),
        values: Vec::with_capacity(total),
        trees: Vec::with_capacity(trees.len()),
    };
    let push = |n: &mut TraversalNodes| {
        n.thresholds.push(0.0);
        n.features.push(0);
        n.left.push(0);
        n.missing_left.push(false);
        n.values.push(0.0);
    };
    // (source node, destination slot, depth)
    let mut queue = std::collections::VecDeque::new();
    for t in trees {
        let root = n.thresholds.len();
        push(&mut n);
        queue.push_back((0usize, root, 0u32));
        let mut depth = 0;
        while let Some((src, dst, d)) = queue.pop_front() {
            let nd = &t.nodes[src];
            if nd.is_leaf {
                n.thresholds[dst] = f64::INFINITY;
                n.left[dst] = dst as u32;
                n.missing_left[dst] = true;
                n.values[dst] = nd.value;
                depth = depth.max(d);
            } else {
                let left = n.thresholds.len();
                push(&mut n);
                push(&mut n);
                n.thresholds[dst] = nd.threshold;
                n.features[dst] = nd.feature;
                n.left[dst] = left as u32;
                n.missing_left[dst] = nd.missing_left;
                queue.push_back((nd.left as usize, left, d + 1));
                queue.push_back((nd.right as usize, left + 1, d + 1));
            }
        }
        n.trees.push((root as u32, depth));
    }
    n
}

/// The bitvector form of `trees`, or `None` when a tree has more than 64 leaves.
///
/// An in-order walk numbers each tree's leaves left to right; every internal node gets the
/// mask of the leaves of its left subtree (those numbered from the count on entry to the
/// count after its left child is done).
fn bitvector_nodes(trees: &[Tree]) -> Option<BitvectorNodes> {
    let mut b = BitvectorNodes::default();
    for t in trees {
        if t.n_leaves() > 64 {
            return None;
        }
        let mut leaves = Vec::new();
        // (node, Some(first leaf of its left subtree) once its left child is done)
        let mut stack: Vec<(usize, Option<usize>)> = vec![(0, None)];
        while let Some((i, seen)) = stack.pop() {
            let nd = &t.nodes[i];
            if nd.is_leaf {
                leaves.push(nd.value);
                continue;
            }
            match seen {
                None => {
                    stack.push((i, Some(leaves.len())));
                    stack.push((nd.left as usize, None));
                }
                Some(first) => {
                    let end = leaves.len();
                    // Bits first..end (end ≤ 64, first < end) cleared.
                    let width = end - first;
                    let left = if width == 64 {
                        u64::MAX
                    } else {
                        ((1u64 << width) - 1) << first
                    };
                    b.thresholds.push(nd.threshold);
                    b.features.push(nd.feature);
                    b.left_leaves.push(left);
                    b.missing_left.push(nd.missing_left);
                    stack.push((nd.right as usize, None));
                }
            }
        }
        b.node_ends.push(b.thresholds.len() as u32);
        b.leaf_values.push(leaves);
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tree::BLOCK;
    use crate::model::trees::gbdt::tree::Node;
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

    /// A row's output by walking the stored tree itself (the plain definition).
    fn walk(t: &Tree, cols: &[f64], r: usize) -> f64 {
        let mut j = 0;
        loop {
            let nd = &t.nodes[j];
            if nd.is_leaf {
                return nd.value;
            }
            let v = cols[nd.feature as usize * BLOCK + r];
            let left = if v.is_nan() {
                nd.missing_left
            } else {
                v <= nd.threshold
            };
            j = if left { nd.left } else { nd.right } as usize;
        }
    }

    #[test]
    fn both_layouts_match_the_stored_trees_bit_for_bit() {
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
            let flat = flat_forest(&trees, p).unwrap();
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
                for (t, tree) in trees.iter().enumerate() {
                    for r in 0..rows {
                        want[r * k + t % k] += walk(tree, &cols, r);
                    }
                }
                let b = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let mut got = base.clone();
                flat.add_block_traversal(&cols, rows, nan, k, &mut got);
                assert_eq!(
                    b(&got),
                    b(&want),
                    "traversal: case {case}, rows {rows}, k {k}"
                );
                // The bitvectors (with AVX2, on any number of rows) agree.
                let mut bits = base.clone();
                if flat.add_block_bitvectors(&cols, rows, nan, k, &mut bits) {
                    assert_eq!(b(&bits), b(&want), "bitvectors: case {case}, rows {rows}");
                }
                // The dispatching entry point agrees too.
                let mut via = base.clone();
                flat.add_block(&cols, rows, nan, k, &mut via);
                assert_eq!(
                    b(&via),
                    b(&want),
                    "case {case}, rows {rows}, k {k}, nan {nan}"
                );
            }
        }
    }

    #[test]
    fn trees_over_64_leaves_fall_back_to_the_traversal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let trees = vec![random_tree(&mut rng, 10, 3), random_tree(&mut rng, 65, 3)];
        assert!(bitvector_nodes(&trees).is_none());
        assert!(!flat_forest(&trees, 3).unwrap().uses_bitvectors());
        let trees = vec![random_tree(&mut rng, 64, 3), random_tree(&mut rng, 1, 3)];
        let b = bitvector_nodes(&trees).expect("64 leaves fit");
        assert_eq!(b.leaf_values.iter().map(Vec::len).sum::<usize>(), 65);
        assert_eq!(b.thresholds.len(), 63);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            flat_forest(&trees, 3).unwrap().uses_bitvectors(),
            std::arch::is_x86_feature_detected!("avx2")
        );
    }
}
