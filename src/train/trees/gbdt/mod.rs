//! Fitting histogram-based gradient-boosted trees (like scikit-learn's `HistGradientBoosting*`).

mod binning;
mod grower;
mod loss;

use ndarray::{ArrayView1, ArrayView2};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use self::binning::{add_binned, bin_rows, fit_bins};
use self::grower::{GrowParams, Workspace, grow_tree};
use self::loss::Loss;
use super::common::check_training_data;
use super::{ProgressHook, TrainProgress, TreeTask};
use crate::model::GbdtModel;
use crate::model::trees::common::NanPolicy;
use crate::model::trees::gbdt::tree::Tree;
use crate::{Error, Result};

/// When to use early stopping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EarlyStopping {
    /// On when the training set has more than 10,000 rows (scikit-learn's `'auto'`).
    #[default]
    Auto,
    /// Always on.
    Enabled,
    /// Always off: exactly `max_iter` iterations.
    Disabled,
}

/// Unchecked gradient-boosting hyper-parameters (builder). Call [`GbdtParams::check`].
///
/// Defaults follow scikit-learn's `HistGradientBoosting*`: learning rate 0.1, 100 iterations,
/// 31 leaves, no depth limit, 20 samples per leaf, no L2, 255 bins, early stopping `Auto` on a
/// 10 % (stratified for classification) validation split with patience 10 and tolerance 1e-7.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    learning_rate: f64,
    max_iter: usize,
    max_leaf_nodes: Option<usize>,
    max_depth: Option<usize>,
    min_samples_leaf: usize,
    l2_regularization: f64,
    max_bins: usize,
    early_stopping: EarlyStopping,
    validation_fraction: Option<f64>,
    n_iter_no_change: usize,
    tol: f64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes: Some(31),
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: Some(0.1),
            n_iter_no_change: 10,
            tol: 1e-7,
        }
    }
}

impl GbdtParams {
    /// Shrinkage applied to every leaf value (default 0.1, must be finite and > 0).
    pub fn learning_rate(mut self, v: f64) -> Self {
        self.learning_rate = v;
        self
    }
    /// Maximum number of boosting iterations (default 100, must be ≥ 1). Multiclass
    /// classification grows one tree per class per iteration.
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Maximum leaves per tree (default `Some(31)`, must be ≥ 2; `None` = unlimited).
    pub fn max_leaf_nodes(mut self, v: Option<usize>) -> Self {
        self.max_leaf_nodes = v;
        self
    }
    /// Maximum tree depth (default `None` = unlimited; must be ≥ 1).
    pub fn max_depth(mut self, v: Option<usize>) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum samples per leaf (default 20, must be ≥ 1).
    pub fn min_samples_leaf(mut self, v: usize) -> Self {
        self.min_samples_leaf = v;
        self
    }
    /// L2 penalty on leaf values (default 0, must be finite and ≥ 0).
    pub fn l2_regularization(mut self, v: f64) -> Self {
        self.l2_regularization = v;
        self
    }
    /// Maximum bins per feature for non-missing values (default 255, 2 ..= 255).
    pub fn max_bins(mut self, v: usize) -> Self {
        self.max_bins = v;
        self
    }
    /// Early-stopping mode (default [`EarlyStopping::Auto`]).
    pub fn early_stopping(mut self, v: EarlyStopping) -> Self {
        self.early_stopping = v;
        self
    }
    /// Fraction of rows held out (stratified for classification) to monitor the loss for early
    /// stopping (default `Some(0.1)`, in (0, 1)); `None` monitors the training loss instead.
    pub fn validation_fraction(mut self, v: Option<f64>) -> Self {
        self.validation_fraction = v;
        self
    }
    /// Stop when the monitored loss has not improved by more than `tol` for this many
    /// iterations (default 10, must be ≥ 1).
    pub fn n_iter_no_change(mut self, v: usize) -> Self {
        self.n_iter_no_change = v;
        self
    }
    /// Minimum loss improvement that counts for early stopping (default 1e-7, ≥ 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }

    /// Validate the parameters.
    pub fn check(self) -> Result<CheckedGbdtParams> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid(
                "learning_rate",
                format!("must be finite and > 0, got {}", self.learning_rate),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::invalid("max_iter", "must be at least 1"));
        }
        if let Some(m) = self.max_leaf_nodes
            && m < 2
        {
            return Err(Error::invalid(
                "max_leaf_nodes",
                format!("must be at least 2 (or None for unlimited), got {m}"),
            ));
        }
        if self.max_depth == Some(0) {
            return Err(Error::invalid(
                "max_depth",
                "must be at least 1 (or None for unlimited)",
            ));
        }
        if self.min_samples_leaf == 0 {
            return Err(Error::invalid(
                "min_samples_leaf",
                "must be at least 1, got 0",
            ));
        }
        if !(self.l2_regularization.is_finite() && self.l2_regularization >= 0.0) {
            return Err(Error::invalid(
                "l2_regularization",
                format!("must be finite and ≥ 0, got {}", self.l2_regularization),
            ));
        }
        if !(2..=255).contains(&self.max_bins) {
            return Err(Error::invalid(
                "max_bins",
                format!("must be in 2..=255, got {}", self.max_bins),
            ));
        }
        if let Some(f) = self.validation_fraction
            && !(f > 0.0 && f < 1.0)
        {
            return Err(Error::invalid(
                "validation_fraction",
                format!("must be in (0, 1) (or None to monitor the training loss), got {f}"),
            ));
        }
        if self.n_iter_no_change == 0 {
            return Err(Error::invalid("n_iter_no_change", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::invalid(
                "tol",
                format!("must be finite and ≥ 0, got {}", self.tol),
            ));
        }
        Ok(CheckedGbdtParams(self))
    }
}

/// Validated gradient-boosting parameters; produced by [`GbdtParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckedGbdtParams(GbdtParams);

impl CheckedGbdtParams {
    /// The validated parameters.
    pub fn params(&self) -> &GbdtParams {
        &self.0
    }

    /// Fit a model; see [`fit_gbdt`].
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        task: TreeTask,
        seed: u64,
        progress: ProgressHook<'_>,
    ) -> Result<GbdtModel> {
        fit_gbdt(self, x, y, task, seed, progress)
    }
}

/// Fit histogram gradient-boosted trees.
///
/// `x` is `n × p`; NaN marks a missing value (each split learns where missing values go),
/// infinite values are rejected. `y` holds values (regression) or class indices. The loss is
/// half squared error (regression), binary log loss (2 classes) or multinomial log loss (one
/// tree per class per iteration). `seed` drives the validation split and the binning subsample.
/// `progress` is called after every iteration with the validation loss when early stopping is
/// on.
pub fn fit_gbdt(
    params: &CheckedGbdtParams,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    task: TreeTask,
    seed: u64,
    mut progress: ProgressHook<'_>,
) -> Result<GbdtModel> {
    check_training_data(x, y, task, NanPolicy::AllowNan)?;
    let prm = &params.0;
    let (n, p) = x.dim();
    let loss = match task {
        TreeTask::Regression => Loss::SquaredError,
        TreeTask::Classification { n_classes: 2 } => Loss::Binary,
        TreeTask::Classification { n_classes } => Loss::Multinomial(n_classes),
    };
    let early = match prm.early_stopping {
        EarlyStopping::Auto => n > 10_000,
        EarlyStopping::Enabled => true,
        EarlyStopping::Disabled => false,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (train_rows, val_rows) = match (early, prm.validation_fraction) {
        (true, Some(frac)) => train_val_split(y, task, frac, &mut rng)?,
        _ => ((0..n).collect(), Vec::new()),
    };
    let use_val = !val_rows.is_empty();

    let (mapper, binned) = fit_bins(x, &train_rows, prm.max_bins, rng.next_u64());
    let val_binned = bin_rows(&mapper, x, &val_rows);
    let nbins: Vec<usize> = (0..p).map(|f| mapper.n_bins_non_missing(f)).collect();
    let y_train: Vec<f64> = train_rows.iter().map(|&i| y[i]).collect();
    let y_val: Vec<f64> = val_rows.iter().map(|&i| y[i]).collect();
    let (nt, nv) = (train_rows.len(), val_rows.len());

    let k = loss.n_outputs();
    let baseline = loss.baseline(&y_train);
    let mut raw_train: Vec<f64> = baseline
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, nt))
        .collect();
    let mut raw_val: Vec<f64> = baseline
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, nv))
        .collect();
    let const_h = loss.constant_hessian();
    let mut g = vec![0.0f32; k * nt];
    let mut h = if const_h {
        Vec::new()
    } else {
        vec![0.0f32; k * nt]
    };

    let gp = GrowParams {
        max_leaf_nodes: prm.max_leaf_nodes.unwrap_or(usize::MAX),
        max_depth: prm.max_depth.unwrap_or(usize::MAX),
        min_samples_leaf: prm.min_samples_leaf,
        l2: prm.l2_regularization,
        min_hessian: 1e-3,
        learning_rate: prm.learning_rate,
    };
    let mut ws = Workspace::new(&binned);
    let monitored_loss = |raw_train: &[f64], raw_val: &[f64]| {
        if use_val {
            loss.loss(&y_val, raw_val)
        } else {
            loss.loss(&y_train, raw_train)
        }
    };
    let mut losses = Vec::new();
    if early {
        losses.push(monitored_loss(&raw_train, &raw_val));
    }
    let mut trees: Vec<Tree> = Vec::with_capacity(prm.max_iter * k);
    let mut n_iter = 0;
    for it in 0..prm.max_iter {
        loss.gradients(&y_train, &raw_train, &mut g, &mut h);
        for j in 0..k {
            let hj: &[f32] = if const_h {
                &[]
            } else {
                &h[j * nt..(j + 1) * nt]
            };
            let mut grow = || {
                grow_tree(
                    &mut ws,
                    &binned,
                    &mapper,
                    &nbins,
                    &g[j * nt..(j + 1) * nt],
                    hj,
                    const_h,
                    &gp,
                    &mut raw_train[j * nt..(j + 1) * nt],
                )
            };
            // Grown on a thread of the pool: its parallel sections are then forked from
            // inside the pool instead of each being handed over to it and waited for.
            let tree =
                if rayon::current_thread_index().is_none() && rayon::current_num_threads() > 1 {
                    rayon::join(grow, || ()).0
                } else {
                    grow()
                };
            if use_val {
                add_binned(&tree, &val_binned, &mut raw_val[j * nv..(j + 1) * nv]);
            }
            trees.push(tree);
        }
        n_iter = it + 1;
        let monitored = early.then(|| monitored_loss(&raw_train, &raw_val));
        if let Some(l) = monitored {
            if !l.is_finite() {
                return Err(Error::Numerical(format!(
                    "the monitored loss became {l} at iteration {n_iter}; try a smaller \
                     learning_rate or rescale the target"
                )));
            }
            losses.push(l);
        }
        if let Some(cb) = progress.as_mut() {
            cb(TrainProgress {
                done: n_iter,
                total: prm.max_iter,
                validation_loss: monitored,
            });
        }
        if early && should_stop(&losses, prm.n_iter_no_change, prm.tol) {
            break;
        }
    }
    Ok(GbdtModel::from_parts(
        task, p, n_iter, baseline, trees, losses, mapper,
    ))
}

/// scikit-learn's rule: stop when none of the last `n_iter_no_change` losses beats the loss
/// `n_iter_no_change + 1` iterations ago by more than `tol`.
fn should_stop(losses: &[f64], n_iter_no_change: usize, tol: f64) -> bool {
    let rp = n_iter_no_change + 1;
    if losses.len() < rp {
        return false;
    }
    let reference = losses[losses.len() - rp] - tol;
    !losses[losses.len() - rp + 1..]
        .iter()
        .any(|&l| l < reference)
}

/// Seeded train/validation split, stratified by class for classification. Both parts are
/// returned in ascending row order.
fn train_val_split(
    y: ArrayView1<f64>,
    task: TreeTask,
    frac: f64,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = y.len();
    let mut val: Vec<usize> = Vec::new();
    match task {
        TreeTask::Regression => {
            let mut all: Vec<usize> = (0..n).collect();
            all.shuffle(rng);
            let n_val = ((frac * n as f64).ceil() as usize).min(n);
            val.extend_from_slice(&all[..n_val]);
        }
        TreeTask::Classification { n_classes } => {
            let mut groups: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
            for (i, &v) in y.iter().enumerate() {
                groups[v as usize].push(i);
            }
            for grp in &mut groups {
                grp.shuffle(rng);
                let n_val = ((frac * grp.len() as f64).round() as usize).min(grp.len());
                val.extend_from_slice(&grp[..n_val]);
            }
        }
    }
    if val.is_empty() || val.len() == n {
        return Err(Error::Data(format!(
            "cannot hold out a validation set of fraction {frac} from {n} rows; use more data, \
             change validation_fraction, or disable early stopping"
        )));
    }
    val.sort_unstable();
    let mut is_val = vec![false; n];
    for &i in &val {
        is_val[i] = true;
    }
    let train = (0..n).filter(|&i| !is_val[i]).collect();
    Ok((train, val))
}
