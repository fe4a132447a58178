//! Fitting random forests: bootstrap-aggregated CART trees with per-split feature subsampling.

use ndarray::{ArrayView1, ArrayView2};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::common::check_training_data;
use super::decision_tree::{
    CartConfig, ColumnData, Criterion, MaxFeatures, build_cart, check_cart_params,
};
use super::{ProgressHook, TrainProgress, TreeTask};
use crate::model::RandomForestModel;
use crate::model::trees::common::NanPolicy;
use crate::model::trees::decision_tree::CartTree;
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
