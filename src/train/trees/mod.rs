//! Tree-based learners: decision tree, random forest, histogram gradient boosting (pure, no I/O).
//!
//! This module fits; the fitted models it produces, and their prediction, live in
//! [`crate::model`] (re-exported here, as they are what the `fit` functions return).
//!
//! Three learners share one task type ([`TreeTask`]) and one progress hook ([`TrainProgress`]):
//!
//! * [`DecisionTreeParams`] → [`DecisionTreeModel`]: an exact CART tree (Gini / entropy for
//!   classification, squared error for regression).
//! * [`RandomForestParams`] → [`RandomForestModel`]: bootstrap-aggregated CART trees with a random
//!   feature subset per split, trained in parallel and deterministic for a given seed.
//! * [`GbdtParams`] → [`GbdtModel`]: histogram-based gradient-boosted trees in the style of
//!   scikit-learn's `HistGradientBoosting*` (quantile binning to at most 255 bins, leaf-wise growth,
//!   histogram subtraction, native missing-value handling, early stopping).
//!
//! Every learner follows the same pattern: unchecked params (builder) → `check()` → checked
//! params → `fit(...)` → fitted model. Fitted models are `Clone + Debug + Serialize + Deserialize +
//! Send + Sync`; a serde round-trip gives bit-identical predictions, and the same data, params and
//! seed give an identical model.
//!
//! Classification labels are class indices `0..n_classes` stored as `f64`.
//!
//! ```
//! use mlcycle::train::trees::{GbdtParams, TreeTask};
//! use ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
//! let y = Array1::from_shape_fn(200, |i| if x[[i, 0]] > 8.0 { 1.0 } else { 0.0 });
//! let params = GbdtParams::default().max_iter(20).min_samples_leaf(5).check()?;
//! let model = params.fit(x.view(), y.view(), TreeTask::Classification { n_classes: 2 }, 7, None)?;
//! let pred = model.predict(x.view())?;
//! assert_eq!(pred.len(), 200);
//! # Ok::<(), mlcycle::Error>(())
//! ```

mod common;
mod decision_tree;
mod forest;
mod gbdt;

pub use crate::model::{DecisionTreeModel, GbdtModel, RandomForestModel, TreeTask};
pub use decision_tree::{
    CheckedDecisionTreeParams, Criterion, DecisionTreeParams, MaxFeatures, fit_decision_tree,
};
pub use forest::{CheckedRandomForestParams, RandomForestParams, fit_random_forest};
pub use gbdt::{CheckedGbdtParams, EarlyStopping, GbdtParams, fit_gbdt};

/// Progress report passed to the training hook.
///
/// Called once per boosting iteration (GBDT) or once per finished tree (random forest, decision
/// tree).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct TrainProgress {
    /// Units of work done so far (iterations or trees).
    pub done: usize,
    /// Units of work planned in total (training may stop earlier, e.g. by early stopping).
    pub total: usize,
    /// Current validation loss, when the learner tracks one (GBDT with early stopping).
    pub validation_loss: Option<f64>,
}

/// The progress hook type accepted by the `fit` functions.
pub type ProgressHook<'a> = Option<&'a mut dyn FnMut(TrainProgress)>;
