//! Fitting exact CART decision trees (also the base learner of the random forest).

use ndarray::{ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::check_training_data;
use super::{ProgressHook, TrainProgress, TreeTask};
use crate::model::DecisionTreeModel;
use crate::model::trees::common::NanPolicy;
use crate::model::trees::decision_tree::{CartNode, CartTree};
use crate::{Error, Result};

/// Impurity criterion for classification trees (regression always uses squared error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Criterion {
    /// Gini impurity.
    #[default]
    Gini,
    /// Shannon entropy (information gain).
    Entropy,
}

/// How many features are considered at each split.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum MaxFeatures {
    /// All features.
    All,
    /// `max(1, floor(sqrt(n_features)))`.
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// `max(1, floor(fraction * n_features))`, fraction in (0, 1].
    Fraction(f64),
    /// A fixed count (1 ..= n_features).
    Count(usize),
}

impl MaxFeatures {
    fn check(&self) -> Result<()> {
        match *self {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => Err(Error::invalid(
                "max_features",
                format!("fraction must be in (0, 1], got {f}"),
            )),
            MaxFeatures::Count(0) => {
                Err(Error::invalid("max_features", "count must be at least 1"))
            }
            _ => Ok(()),
        }
    }

    /// Number of features to consider for `n_features` features.
    pub(crate) fn resolve(&self, n_features: usize) -> Result<usize> {
        let k = match *self {
            MaxFeatures::All => n_features,
            MaxFeatures::Sqrt => (n_features as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (n_features as f64).log2().floor() as usize,
            MaxFeatures::Fraction(f) => (f * n_features as f64).floor() as usize,
            MaxFeatures::Count(c) => {
                if c > n_features {
                    return Err(Error::invalid(
                        "max_features",
                        format!("count {c} exceeds the number of features ({n_features})"),
                    ));
                }
                c
            }
        };
        Ok(k.clamp(1, n_features.max(1)))
    }
}

/// Unchecked decision-tree hyper-parameters (builder). Call [`DecisionTreeParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionTreeParams {
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: MaxFeatures,
    criterion: Criterion,
    min_impurity_decrease: f64,
}

impl Default for DecisionTreeParams {
    fn default() -> Self {
        Self {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            criterion: Criterion::Gini,
            min_impurity_decrease: 0.0,
        }
    }
}

impl DecisionTreeParams {
    /// Maximum depth (`None` = unlimited, the default). Must be ≥ 1.
    pub fn max_depth(mut self, v: Option<usize>) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum number of samples a node needs to be split (default 2, must be ≥ 2).
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.min_samples_split = v;
        self
    }
    /// Minimum number of samples in each leaf (default 1, must be ≥ 1).
    pub fn min_samples_leaf(mut self, v: usize) -> Self {
        self.min_samples_leaf = v;
        self
    }
    /// Features considered per split (default all).
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.max_features = v;
        self
    }
    /// Classification impurity criterion (default Gini).
    pub fn criterion(mut self, v: Criterion) -> Self {
        self.criterion = v;
        self
    }
    /// Minimum weighted impurity decrease for a split (default 0, must be finite and ≥ 0).
    pub fn min_impurity_decrease(mut self, v: f64) -> Self {
        self.min_impurity_decrease = v;
        self
    }

    /// Validate the parameters.
    pub fn check(self) -> Result<CheckedDecisionTreeParams> {
        check_cart_params(
            self.max_depth,
            self.min_samples_split,
            self.min_samples_leaf,
            self.min_impurity_decrease,
        )?;
        self.max_features.check()?;
        Ok(CheckedDecisionTreeParams(self))
    }
}

pub(crate) fn check_cart_params(
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    min_impurity_decrease: f64,
) -> Result<()> {
    if max_depth == Some(0) {
        return Err(Error::invalid(
            "max_depth",
            "must be at least 1 (or None for unlimited)",
        ));
    }
    if min_samples_split < 2 {
        return Err(Error::invalid(
            "min_samples_split",
            format!("must be at least 2, got {min_samples_split}"),
        ));
    }
    if min_samples_leaf < 1 {
        return Err(Error::invalid(
            "min_samples_leaf",
            "must be at least 1, got 0",
        ));
    }
    if !(min_impurity_decrease.is_finite() && min_impurity_decrease >= 0.0) {
        return Err(Error::invalid(
            "min_impurity_decrease",
            format!("must be finite and ≥ 0, got {min_impurity_decrease}"),
        ));
    }
    Ok(())
}

/// Validated decision-tree parameters; produced by [`DecisionTreeParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckedDecisionTreeParams(DecisionTreeParams);

impl CheckedDecisionTreeParams {
    /// The validated parameters.
    pub fn params(&self) -> &DecisionTreeParams {
        &self.0
    }

    /// Fit a tree; see [`fit_decision_tree`].
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        task: TreeTask,
        seed: u64,
        progress: ProgressHook<'_>,
    ) -> Result<DecisionTreeModel> {
        fit_decision_tree(self, x, y, task, seed, progress)
    }
}

/// Fit an exact CART decision tree.
///
/// `x` is `n × p` (finite values only; NaN is rejected with [`Error::Data`]), `y` has `n` values
/// (class indices for classification). `seed` drives the feature subsampling when
/// `max_features` is less than all features. `progress` is called once when the tree is done.
pub fn fit_decision_tree(
    params: &CheckedDecisionTreeParams,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    task: TreeTask,
    seed: u64,
    progress: ProgressHook<'_>,
) -> Result<DecisionTreeModel> {
    check_training_data(x, y, task, NanPolicy::Reject)?;
    let p = &params.0;
    let (n, n_features) = x.dim();
    let cfg = CartConfig {
        max_depth: p.max_depth.unwrap_or(usize::MAX),
        min_samples_split: p.min_samples_split,
        min_samples_leaf: p.min_samples_leaf,
        max_features: p.max_features.resolve(n_features)?,
        criterion: p.criterion,
        min_impurity_decrease: p.min_impurity_decrease,
        n_classes: task.n_classes(),
    };
    let data = ColumnData::new(x, y);
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tree = build_cart(&data, &mut idx, &cfg, &mut rng);
    if let Some(cb) = progress {
        cb(TrainProgress {
            done: 1,
            total: 1,
            validation_loss: None,
        });
    }
    Ok(DecisionTreeModel {
        task,
        n_features,
        tree,
    })
}

// ---------------------------------------------------------------------------------------------
// CART fitting (shared with the random forest)
// ---------------------------------------------------------------------------------------------

/// Column-major copy of the training data plus the target.
pub(crate) struct ColumnData {
    pub(crate) n: usize,
    pub(crate) p: usize,
    /// `cols[f * n + i]` = x[i, f].
    pub(crate) cols: Vec<f64>,
    pub(crate) y: Vec<f64>,
}

impl ColumnData {
    pub(crate) fn new(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Self {
        let (n, p) = x.dim();
        let mut cols = Vec::with_capacity(n * p);
        for c in x.columns() {
            cols.extend(c.iter().copied());
        }
        Self {
            n,
            p,
            cols,
            y: y.to_vec(),
        }
    }
}

/// Resolved CART settings.
pub(crate) struct CartConfig {
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) max_features: usize,
    pub(crate) criterion: Criterion,
    pub(crate) min_impurity_decrease: f64,
    pub(crate) n_classes: Option<usize>,
}

/// Sufficient statistics of a set of samples.
struct NodeStats {
    counts: Vec<u64>,
    sum: f64,
    m: usize,
}

/// Build a CART tree on the samples `idx` (may contain repeats, e.g. a bootstrap sample).
pub(crate) fn build_cart(
    data: &ColumnData,
    idx: &mut [u32],
    cfg: &CartConfig,
    rng: &mut ChaCha8Rng,
) -> CartTree {
    let k = cfg.n_classes.unwrap_or(0);
    let n_outputs = cfg.n_classes.unwrap_or(1);
    let n_total = idx.len() as f64;
    let mut nodes = vec![CartNode::Leaf { offset: 0 }];
    let mut values: Vec<f64> = Vec::new();
    // (node id, start, end, depth)
    let mut stack = vec![(0usize, 0usize, idx.len(), 0usize)];
    let mut feats: Vec<usize> = (0..data.p).collect();
    let mut buf: Vec<(f64, f64)> = Vec::with_capacity(idx.len());
    let mut lc = vec![0u64; k];
    let mut rc = vec![0u64; k];

    while let Some((node, start, end, depth)) = stack.pop() {
        let node_idx = &mut idx[start..end];
        let m = node_idx.len();
        let stats = node_stats(data, node_idx, k);
        let (impurity, parent_proxy) = impurity(&stats, cfg, &data.y, node_idx);

        let mut split = None;
        if m >= cfg.min_samples_split
            && m >= 2 * cfg.min_samples_leaf
            && depth < cfg.max_depth
            && impurity > 1e-12
        {
            split = best_split(
                data, node_idx, cfg, &stats, &mut feats, &mut buf, &mut lc, &mut rc, rng,
            );
        }
        match split {
            Some(s) if (s.proxy - parent_proxy) / n_total + 1e-12 >= cfg.min_impurity_decrease => {
                // Partition node_idx: x <= threshold to the front.
                let col = &data.cols[s.feature * data.n..(s.feature + 1) * data.n];
                let mut l = 0;
                for r in 0..m {
                    if col[node_idx[r] as usize] <= s.threshold {
                        node_idx.swap(l, r);
                        l += 1;
                    }
                }
                debug_assert_eq!(l, s.n_left);
                let left = nodes.len();
                nodes.push(CartNode::Leaf { offset: 0 });
                nodes.push(CartNode::Leaf { offset: 0 });
                nodes[node] = CartNode::Split {
                    feature: s.feature as u32,
                    threshold: s.threshold,
                    left: left as u32,
                    right: left as u32 + 1,
                };
                stack.push((left + 1, start + l, end, depth + 1));
                stack.push((left, start, start + l, depth + 1));
            }
            _ => {
                let offset = values.len() as u32;
                if k > 0 {
                    values.extend(stats.counts.iter().map(|&c| c as f64 / m as f64));
                } else {
                    values.push(stats.sum / m as f64);
                }
                nodes[node] = CartNode::Leaf { offset };
            }
        }
    }
    CartTree {
        nodes,
        values,
        n_outputs,
    }
}

fn node_stats(data: &ColumnData, node_idx: &[u32], k: usize) -> NodeStats {
    let mut counts = vec![0u64; k];
    let mut sum = 0.0;
    if k > 0 {
        for &i in node_idx {
            counts[data.y[i as usize] as usize] += 1;
        }
    } else {
        for &i in node_idx {
            sum += data.y[i as usize];
        }
    }
    NodeStats {
        counts,
        sum,
        m: node_idx.len(),
    }
}

/// Node impurity and the "proxy" of the unsplit node. The proxy is a quantity whose increase
/// divided by the total sample count equals the weighted impurity decrease of a split.
fn impurity(stats: &NodeStats, cfg: &CartConfig, y: &[f64], node_idx: &[u32]) -> (f64, f64) {
    let m = stats.m as f64;
    match cfg.n_classes {
        Some(_) => match cfg.criterion {
            Criterion::Gini => {
                let sq: f64 = stats.counts.iter().map(|&c| (c as f64) * (c as f64)).sum();
                (1.0 - sq / (m * m), sq / m)
            }
            Criterion::Entropy => {
                let h = entropy(&stats.counts, m);
                (h, -m * h)
            }
        },
        None => {
            let mean = stats.sum / m;
            let var = node_idx
                .iter()
                .map(|&i| {
                    let d = y[i as usize] - mean;
                    d * d
                })
                .sum::<f64>()
                / m;
            (var, stats.sum * stats.sum / m)
        }
    }
}

fn entropy(counts: &[u64], m: f64) -> f64 {
    let mut h = 0.0;
    for &c in counts {
        if c > 0 {
            let p = c as f64 / m;
            h -= p * p.ln();
        }
    }
    h
}

struct CartSplit {
    feature: usize,
    threshold: f64,
    proxy: f64,
    n_left: usize,
}

#[allow(clippy::too_many_arguments)]
fn best_split(
    data: &ColumnData,
    node_idx: &[u32],
    cfg: &CartConfig,
    stats: &NodeStats,
    feats: &mut [usize],
    buf: &mut Vec<(f64, f64)>,
    lc: &mut [u64],
    rc: &mut [u64],
    rng: &mut ChaCha8Rng,
) -> Option<CartSplit> {
    let m = node_idx.len();
    let msl = cfg.min_samples_leaf;
    let p = data.p;
    let subsample = cfg.max_features < p;
    if !subsample {
        for (i, f) in feats.iter_mut().enumerate() {
            *f = i;
        }
    }
    let mut best: Option<CartSplit> = None;
    let mut best_proxy = f64::NEG_INFINITY;
    let mut visited = 0;
    let total_sq: f64 = stats.counts.iter().map(|&c| (c as f64) * (c as f64)).sum();
    for fi in 0..p {
        if subsample {
            let j = rng.random_range(fi..p);
            feats.swap(fi, j);
        }
        let f = feats[fi];
        let col = &data.cols[f * data.n..(f + 1) * data.n];
        buf.clear();
        buf.extend(
            node_idx
                .iter()
                .map(|&i| (col[i as usize], data.y[i as usize])),
        );
        buf.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        if buf[0].0 >= buf[m - 1].0 {
            continue; // constant in this node
        }
        visited += 1;

        match cfg.n_classes {
            Some(_) => {
                lc.fill(0);
                rc.copy_from_slice(&stats.counts);
                let mut sq_l = 0.0f64;
                let mut sq_r = total_sq;
                let entropy_crit = cfg.criterion == Criterion::Entropy;
                for i in 1..m {
                    let c = buf[i - 1].1 as usize;
                    sq_r -= 2.0 * rc[c] as f64 - 1.0;
                    rc[c] -= 1;
                    sq_l += 2.0 * lc[c] as f64 + 1.0;
                    lc[c] += 1;
                    if i < msl {
                        continue;
                    }
                    if m - i < msl {
                        break;
                    }
                    if buf[i - 1].0 >= buf[i].0 {
                        continue;
                    }
                    let (nl, nr) = (i as f64, (m - i) as f64);
                    let proxy = if entropy_crit {
                        -(nl * entropy(lc, nl) + nr * entropy(rc, nr))
                    } else {
                        sq_l / nl + sq_r / nr
                    };
                    if proxy > best_proxy {
                        best_proxy = proxy;
                        best = Some(CartSplit {
                            feature: f,
                            threshold: midpoint(buf[i - 1].0, buf[i].0),
                            proxy,
                            n_left: i,
                        });
                    }
                }
            }
            None => {
                let mut sl = 0.0;
                let sum = stats.sum;
                for i in 1..m {
                    sl += buf[i - 1].1;
                    if i < msl {
                        continue;
                    }
                    if m - i < msl {
                        break;
                    }
                    if buf[i - 1].0 >= buf[i].0 {
                        continue;
                    }
                    let sr = sum - sl;
                    let proxy = sl * sl / i as f64 + sr * sr / (m - i) as f64;
                    if proxy > best_proxy {
                        best_proxy = proxy;
                        best = Some(CartSplit {
                            feature: f,
                            threshold: midpoint(buf[i - 1].0, buf[i].0),
                            proxy,
                            n_left: i,
                        });
                    }
                }
            }
        }
        if visited >= cfg.max_features {
            break;
        }
    }
    best
}

/// A threshold `t` with `a <= t < b` (the midpoint when representable).
fn midpoint(a: f64, b: f64) -> f64 {
    let t = a / 2.0 + b / 2.0;
    if t >= a && t < b { t } else { a }
}
