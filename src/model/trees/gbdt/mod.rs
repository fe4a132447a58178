//! A fitted gradient-boosted trees model (histogram GBDT in the style of scikit-learn's
//! `HistGradientBoosting*`) and its block prediction. Fitting lives in `train::trees`.

mod layout;
pub(crate) mod tree;

use std::sync::{Arc, OnceLock};

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::tree::{BinMapper, Tree};
use super::TreeTask;
use super::common::{argmax, check_predict_shape, exact_f64_vec};
use crate::kernels::tree::{BLOCK, FlatForest};
use crate::{Error, Result};

/// A fitted gradient-boosted trees model.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "GbdtModelRepr")]
pub struct GbdtModel {
    task: TreeTask,
    n_features: usize,
    n_iter: usize,
    #[serde(with = "exact_f64_vec")]
    baseline: Vec<f64>,
    /// Iteration-major: `trees[it * n_outputs + k]`.
    trees: Vec<Tree>,
    #[serde(with = "exact_f64_vec")]
    validation_losses: Vec<f64>,
    bin_mapper: BinMapper,
    /// The trees in the prediction layout, built on first use (not serialised).
    #[serde(skip)]
    flat: OnceLock<Arc<FlatForest>>,
}

/// Unvalidated serde form of [`GbdtModel`].
#[derive(Deserialize)]
struct GbdtModelRepr {
    task: TreeTask,
    n_features: usize,
    n_iter: usize,
    #[serde(with = "exact_f64_vec")]
    baseline: Vec<f64>,
    trees: Vec<Tree>,
    #[serde(with = "exact_f64_vec")]
    validation_losses: Vec<f64>,
    bin_mapper: BinMapper,
}

impl TryFrom<GbdtModelRepr> for GbdtModel {
    type Error = String;

    fn try_from(r: GbdtModelRepr) -> std::result::Result<Self, String> {
        let k = match r.task {
            TreeTask::Regression | TreeTask::Classification { n_classes: 2 } => 1,
            TreeTask::Classification { n_classes } if n_classes > 2 => n_classes,
            TreeTask::Classification { n_classes } => {
                return Err(format!("invalid n_classes {n_classes}"));
            }
        };
        if r.baseline.len() != k || r.trees.len() != r.n_iter * k {
            return Err(format!(
                "inconsistent model: {} baseline values and {} trees for {} iterations of {k} \
                 outputs",
                r.baseline.len(),
                r.trees.len(),
                r.n_iter
            ));
        }
        if r.bin_mapper.n_features() != r.n_features {
            return Err("bin mapper and model disagree on the number of features".into());
        }
        for t in &r.trees {
            t.validate(r.n_features)?;
        }
        Ok(GbdtModel {
            task: r.task,
            n_features: r.n_features,
            n_iter: r.n_iter,
            baseline: r.baseline,
            trees: r.trees,
            validation_losses: r.validation_losses,
            bin_mapper: r.bin_mapper,
            flat: OnceLock::new(),
        })
    }
}

impl GbdtModel {
    /// A model from its fitted parts (the trees validated against `n_features`).
    pub(crate) fn from_parts(
        task: TreeTask,
        n_features: usize,
        n_iter: usize,
        baseline: Vec<f64>,
        trees: Vec<Tree>,
        validation_losses: Vec<f64>,
        bin_mapper: BinMapper,
    ) -> Self {
        GbdtModel {
            task,
            n_features,
            n_iter,
            baseline,
            trees,
            validation_losses,
            bin_mapper,
            flat: OnceLock::new(),
        }
    }

    /// The trees in the prediction layout, built on first use.
    fn flat_forest(&self) -> Result<&FlatForest> {
        if let Some(f) = self.flat.get() {
            return Ok(f);
        }
        let f = Arc::new(layout::flat_forest(&self.trees, self.n_features)?);
        Ok(self.flat.get_or_init(|| f))
    }

    /// The fitted trees, iteration-major (`trees[it * n_outputs + k]`).
    pub(crate) fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The baseline margin of each output (added to the trees' sum).
    pub(crate) fn baseline(&self) -> &[f64] {
        &self.baseline
    }

    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The task the model was trained for.
    pub fn task(&self) -> TreeTask {
        self.task
    }

    /// Number of boosting iterations performed (≤ `max_iter`; fewer after early stopping).
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Total number of trees (`n_iter`, times `n_classes` for multiclass).
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Total number of leaves over all trees.
    pub fn n_leaves(&self) -> usize {
        self.trees.iter().map(Tree::n_leaves).sum()
    }

    /// Monitored loss before the first and after each iteration (empty without early stopping).
    pub fn validation_losses(&self) -> &[f64] {
        &self.validation_losses
    }

    /// Raw scores (`n × n_outputs`): values for regression, the logit for binary classification,
    /// one logit per class for multiclass.
    pub fn decision_function(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.scores(x).map(|(raw, _)| raw)
    }

    /// [`GbdtModel::decision_function`], and whether every input was finite (noted while the
    /// rows are read anyway; NaN counts as finite here, it marks a missing value).
    fn scores(&self, x: ArrayView2<f64>) -> Result<(Array2<f64>, bool)> {
        check_predict_shape(x, self.n_features)?;
        let infinite = std::sync::atomic::AtomicBool::new(false);
        let k = self.baseline.len();
        let n = x.nrows();
        let p = self.n_features;
        let mut out = vec![0.0f64; n * k];
        let flat = self.flat_forest()?;
        let contiguous = x.as_slice();
        out.par_chunks_mut(BLOCK * k).enumerate().for_each_init(
            || vec![0.0f64; p * BLOCK],
            |cols, (c, o)| {
                let r0 = c * BLOCK;
                let rows = o.len() / k;
                // The block feature-major (a contiguous column per feature, BLOCK rows long;
                // rows past `rows` are left over from an earlier block and never read);
                // NaN and infinities noted on the way.
                let (mut nan, mut inf) = (false, false);
                match contiguous {
                    Some(s) if p > 0 => {
                        for (r, row) in s[r0 * p..(r0 + rows) * p].chunks_exact(p).enumerate() {
                            for (f, &v) in row.iter().enumerate() {
                                cols[f * BLOCK + r] = v;
                                nan |= v.is_nan();
                                inf |= v.is_infinite();
                            }
                        }
                    }
                    _ => {
                        for r in 0..rows {
                            for (f, &v) in x.row(r0 + r).iter().enumerate() {
                                cols[f * BLOCK + r] = v;
                                nan |= v.is_nan();
                                inf |= v.is_infinite();
                            }
                        }
                    }
                }
                if inf {
                    infinite.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                for r in 0..rows {
                    o[r * k..(r + 1) * k].copy_from_slice(&self.baseline);
                }
                flat.add_block(cols, rows, nan, k, o);
            },
        );
        Ok((
            Array2::from_shape_vec((n, k), out).expect("shape matches the buffer length"),
            !infinite.into_inner(),
        ))
    }

    /// Predict the class index (classification) or value (regression) for each row of `x`
    /// (NaN = missing).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.predict_checked(x).map(|(v, _)| v)
    }

    /// [`GbdtModel::predict`], and whether every input was finite.
    pub(crate) fn predict_checked(&self, x: ArrayView2<f64>) -> Result<(Array1<f64>, bool)> {
        let (raw, finite) = self.scores(x)?;
        let values = match self.task {
            TreeTask::Regression => raw.column(0).to_owned(),
            TreeTask::Classification { n_classes: 2 } => {
                raw.column(0).mapv(|f| if f > 0.0 { 1.0 } else { 0.0 })
            }
            TreeTask::Classification { .. } => raw
                .rows()
                .into_iter()
                .map(|r| argmax(r.as_slice().expect("rows of a standard-layout array")) as f64)
                .collect(),
        };
        Ok((values, finite))
    }

    /// Class probabilities (`n × n_classes`, rows sum to 1); classification only.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.predict_proba_checked(x).map(|(p, _)| p)
    }

    /// [`GbdtModel::predict_proba`], and whether every input was finite.
    pub(crate) fn predict_proba_checked(&self, x: ArrayView2<f64>) -> Result<(Array2<f64>, bool)> {
        let Some(k) = self.task.n_classes() else {
            return Err(Error::invalid(
                "predict_proba",
                "the model was trained for regression",
            ));
        };
        let (mut raw, finite) = self.scores(x)?;
        if k == 2 {
            let n = raw.nrows();
            let mut out = vec![0.0; n * 2];
            for (o, &f) in out.chunks_exact_mut(2).zip(raw.iter()) {
                let p1 = sigmoid(f);
                o[0] = 1.0 - p1;
                o[1] = p1;
            }
            Ok((
                Array2::from_shape_vec((n, 2), out).expect("n rows × 2 classes"),
                finite,
            ))
        } else {
            for mut r in raw.rows_mut() {
                softmax_row(r.as_slice_mut().expect("rows of a standard-layout array"));
            }
            Ok((raw, finite))
        }
    }
}

/// The logistic function, numerically stable.
#[inline]
pub(crate) fn sigmoid(f: f64) -> f64 {
    if f >= 0.0 {
        1.0 / (1.0 + (-f).exp())
    } else {
        let e = f.exp();
        e / (1.0 + e)
    }
}

/// In-place softmax of one row of logits.
pub(crate) fn softmax_row(v: &mut [f64]) {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    for x in v.iter_mut() {
        *x /= s;
    }
}
