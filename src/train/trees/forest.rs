//! Random forest: bootstrap-aggregated CART trees with per-split feature subsampling.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::common::{NanPolicy, argmax, check_features, check_predict_shape, check_training_data};
use super::decision_tree::{
    CartConfig, CartTree, ColumnData, Criterion, MaxFeatures, build_cart, check_cart_params,
};
use super::{ProgressHook, TrainProgress, TreeTask};
use crate::{Error, Result};

/// Unchecked random-forest hyper-parameters (builder). Call [`RandomForestParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomForestParams {
    n_estimators: usize,
    max_depth: Option<usize>,
    min_samples_split: usize,
    min_samples_leaf: usize,
    max_features: Option<MaxFeatures>,
    criterion: Criterion,
    min_impurity_decrease: f64,
    bootstrap: bool,
}

impl Default for RandomForestParams {
    fn default() -> Self {
        Self {
            n_estimators: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
            criterion: Criterion::Gini,
            min_impurity_decrease: 0.0,
            bootstrap: true,
        }
    }
}

impl RandomForestParams {
    /// Number of trees (default 100, must be ≥ 1).
    pub fn n_estimators(mut self, v: usize) -> Self {
        self.n_estimators = v;
        self
    }
    /// Maximum tree depth (`None` = unlimited, the default). Must be ≥ 1.
    pub fn max_depth(mut self, v: Option<usize>) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum samples to split a node (default 2, must be ≥ 2).
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.min_samples_split = v;
        self
    }
    /// Minimum samples per leaf (default 1, must be ≥ 1).
    pub fn min_samples_leaf(mut self, v: usize) -> Self {
        self.min_samples_leaf = v;
        self
    }
    /// Features considered per split; `None` (default) = sqrt(p) for classification, all
    /// features for regression.
    pub fn max_features(mut self, v: Option<MaxFeatures>) -> Self {
        self.max_features = v;
        self
    }
    /// Classification impurity criterion (default Gini).
    pub fn criterion(mut self, v: Criterion) -> Self {
        self.criterion = v;
        self
    }
    /// Minimum weighted impurity decrease for a split (default 0).
    pub fn min_impurity_decrease(mut self, v: f64) -> Self {
        self.min_impurity_decrease = v;
        self
    }
    /// Train each tree on a bootstrap sample (default true); otherwise on all rows.
    pub fn bootstrap(mut self, v: bool) -> Self {
        self.bootstrap = v;
        self
    }

    /// Validate the parameters.
    pub fn check(self) -> Result<CheckedRandomForestParams> {
        if self.n_estimators == 0 {
            return Err(Error::invalid("n_estimators", "must be at least 1"));
        }
        check_cart_params(
            self.max_depth,
            self.min_samples_split,
            self.min_samples_leaf,
            self.min_impurity_decrease,
        )?;
        if let Some(mf) = self.max_features {
            // Reuse the decision-tree check for the value itself.
            super::DecisionTreeParams::default()
                .max_features(mf)
                .check()?;
        }
        Ok(CheckedRandomForestParams(self))
    }
}

/// Validated random-forest parameters; produced by [`RandomForestParams::check`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckedRandomForestParams(RandomForestParams);

impl CheckedRandomForestParams {
    /// The validated parameters.
    pub fn params(&self) -> &RandomForestParams {
        &self.0
    }

    /// Fit a forest; see [`fit_random_forest`].
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        task: TreeTask,
        seed: u64,
        progress: ProgressHook<'_>,
    ) -> Result<RandomForestModel> {
        fit_random_forest(self, x, y, task, seed, progress)
    }
}

/// Fit a random forest. Trees are trained in parallel (rayon); the result depends only on the
/// data, the parameters and `seed`. `progress` is called once per finished tree, on the calling
/// thread.
pub fn fit_random_forest(
    params: &CheckedRandomForestParams,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    task: TreeTask,
    seed: u64,
    progress: ProgressHook<'_>,
) -> Result<RandomForestModel> {
    check_training_data(x, y, task, NanPolicy::Reject)?;
    let p = &params.0;
    let (n, n_features) = x.dim();
    let max_features = match p.max_features {
        Some(mf) => mf,
        None if task.is_classification() => MaxFeatures::Sqrt,
        None => MaxFeatures::All,
    };
    let cfg = CartConfig {
        max_depth: p.max_depth.unwrap_or(usize::MAX),
        min_samples_split: p.min_samples_split,
        min_samples_leaf: p.min_samples_leaf,
        max_features: max_features.resolve(n_features)?,
        criterion: p.criterion,
        min_impurity_decrease: p.min_impurity_decrease,
        n_classes: task.n_classes(),
    };
    let data = ColumnData::new(x, y);
    let mut master = ChaCha8Rng::seed_from_u64(seed);
    let seeds: Vec<u64> = (0..p.n_estimators).map(|_| master.next_u64()).collect();
    let bootstrap = p.bootstrap;
    let total = p.n_estimators;

    let build_one = |s: u64| -> CartTree {
        let mut rng = ChaCha8Rng::seed_from_u64(s);
        let mut idx: Vec<u32> = if bootstrap {
            (0..n).map(|_| rng.random_range(0..n as u32)).collect()
        } else {
            (0..n as u32).collect()
        };
        build_cart(&data, &mut idx, &cfg, &mut rng)
    };

    let trees: Vec<CartTree> = match progress {
        None => seeds.par_iter().map(|&s| build_one(s)).collect(),
        Some(cb) => {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            std::thread::scope(|scope| {
                let handle = scope.spawn(|| {
                    let tx = tx;
                    seeds
                        .par_iter()
                        .map(|&s| {
                            let t = build_one(s);
                            let _ = tx.send(());
                            t
                        })
                        .collect::<Vec<_>>()
                });
                for (i, ()) in rx.into_iter().enumerate() {
                    cb(TrainProgress {
                        done: i + 1,
                        total,
                        validation_loss: None,
                    });
                }
                handle.join()
            })
            .map_err(|_| Error::task("random-forest worker thread", "it panicked"))?
        }
    };
    Ok(RandomForestModel {
        task,
        n_features,
        trees,
    })
}

/// A fitted random forest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RandomForestModelRepr")]
pub struct RandomForestModel {
    task: TreeTask,
    n_features: usize,
    trees: Vec<CartTree>,
}

/// Unvalidated serde form of [`RandomForestModel`].
#[derive(Deserialize)]
struct RandomForestModelRepr {
    task: TreeTask,
    n_features: usize,
    trees: Vec<CartTree>,
}

impl TryFrom<RandomForestModelRepr> for RandomForestModel {
    type Error = String;

    fn try_from(r: RandomForestModelRepr) -> std::result::Result<Self, String> {
        if r.trees.is_empty() {
            return Err("a random forest needs at least one tree".into());
        }
        for t in &r.trees {
            t.validate(r.task, r.n_features)?;
        }
        Ok(Self {
            task: r.task,
            n_features: r.n_features,
            trees: r.trees,
        })
    }
}

impl RandomForestModel {
    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The task the model was trained for.
    pub fn task(&self) -> TreeTask {
        self.task
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Averaged tree outputs: class probabilities (`n × n_classes`) or values (`n × 1`).
    fn averaged(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        check_predict_shape(x, self.n_features)?;
        check_features(x, NanPolicy::Reject)?;
        let k = self.task.n_classes().unwrap_or(1);
        let n = x.nrows();
        let mut out = vec![0.0; n * k];
        let inv = 1.0 / self.trees.len() as f64;
        const CHUNK: usize = 64;
        out.par_chunks_mut(CHUNK * k)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (r, o) in chunk.chunks_mut(k).enumerate() {
                    let row = x.row(c * CHUNK + r);
                    for t in &self.trees {
                        for (a, b) in o.iter_mut().zip(t.leaf(row)) {
                            *a += b;
                        }
                    }
                    for a in o.iter_mut() {
                        *a *= inv;
                    }
                }
            });
        Ok(Array2::from_shape_vec((n, k), out).expect("shape matches the buffer length"))
    }

    /// Predict the class index (majority of averaged probabilities) or the mean value.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        let avg = self.averaged(x)?;
        Ok(if self.task.is_classification() {
            avg.rows()
                .into_iter()
                .map(|r| argmax(r.as_slice().expect("rows of a standard-layout array")) as f64)
                .collect()
        } else {
            avg.column(0).to_owned()
        })
    }

    /// Class probabilities (`n × n_classes`, rows sum to 1); classification only.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if !self.task.is_classification() {
            return Err(Error::invalid(
                "predict_proba",
                "the model was trained for regression",
            ));
        }
        self.averaged(x)
    }
}
