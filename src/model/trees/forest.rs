//! A fitted random forest (bootstrap-aggregated CART trees) and its prediction. Fitting lives
//! in `train::trees`.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::TreeTask;
use super::common::{NanPolicy, argmax, check_features, check_predict_shape};
use super::decision_tree::CartTree;
use crate::{Error, Result};

/// A fitted random forest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RandomForestModelRepr")]
pub struct RandomForestModel {
    pub(crate) task: TreeTask,
    pub(crate) n_features: usize,
    pub(crate) trees: Vec<CartTree>,
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
