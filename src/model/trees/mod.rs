//! Tree models (gradient boosting, decision tree, random forest): the fitted learners, their
//! prediction, and the [`Model`] they form with a signature and preprocessing.
//!
//! The fitted learner types ([`GbdtModel`], [`DecisionTreeModel`], [`RandomForestModel`])
//! live here with their predictors; `train::trees` fits them. A learner with its signature
//! and input preprocessing is a [`TreeModel`], the artifact of one flavor per learner:
//! [`GbdtPipeline`] (`gbdt`), [`DecisionTreePipeline`] (`decision_tree`) and
//! [`RandomForestPipeline`] (`random_forest`).
//!
//! # Preprocessing
//!
//! Trees need no scaling, so the preprocessing that travels with a tree model
//! ([`TreePreprocessor`]) only decides what a tree sees for each input column:
//!
//! - **Categoricals are encoded ordinally**: the level index of the schema (0, 1, 2, …) is the
//!   split value. One-hot encoding would multiply the width (and the GBDT histograms) for no
//!   gain in accuracy with trees that can split a code range twice; the level order is the
//!   schema's, so it is stable between training and serving.
//! - **Missing values**: gradient boosting learns at every split where missing values go, so
//!   nothing is imputed (`fill: None`, NaN passes through). Decision trees and random forests
//!   cannot take NaN, so missing numerics get the training median and missing categoricals the
//!   most frequent training level (`fill: Some(v)`).

pub(crate) mod common;
pub(crate) mod decision_tree;
pub(crate) mod forest;
pub(crate) mod gbdt;

pub use decision_tree::DecisionTreeModel;
pub use forest::RandomForestModel;
pub use gbdt::GbdtModel;

use super::{Model, ModelArtifact, Prediction, Signature};
use crate::data::{Dataset, FeatureKind, Schema, validate_features};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// What a tree learner predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TreeTask {
    /// Predict a real value (squared-error loss).
    Regression,
    /// Predict one of `n_classes` classes; labels are the class indices `0..n_classes` as `f64`.
    Classification {
        /// Number of classes (at least 2).
        n_classes: usize,
    },
}

impl TreeTask {
    /// Number of classes for classification, `None` for regression.
    pub fn n_classes(&self) -> Option<usize> {
        match self {
            TreeTask::Regression => None,
            TreeTask::Classification { n_classes } => Some(*n_classes),
        }
    }

    /// Whether this is a classification task.
    pub fn is_classification(&self) -> bool {
        matches!(self, TreeTask::Classification { .. })
    }
}

/// What a tree sees for one input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TreeColumn {
    /// A numeric column, passed through; missing → `fill` (or NaN when `fill` is `None`).
    Numeric {
        /// Value used for missing entries (`None`: keep NaN).
        fill: Option<f64>,
    },
    /// A categorical column as its level index; missing → `fill` (or NaN when `None`).
    Ordinal {
        /// Number of levels.
        n_levels: usize,
        /// Level index used for missing entries (`None`: keep NaN).
        fill: Option<f64>,
    },
}

/// The fitted input preprocessing of a tree model (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreePreprocessor {
    /// One entry per input column, in schema order.
    pub columns: Vec<TreeColumn>,
}

impl TreePreprocessor {
    /// Fit on `data`. With `impute` false, missing values stay NaN (for gradient boosting);
    /// with `impute` true, numerics get the training median and categoricals the most frequent
    /// level.
    pub fn fit(data: &Dataset, impute: bool) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::Data(
                "cannot fit preprocessing on an empty dataset".into(),
            ));
        }
        let x = data.features();
        let columns = data
            .schema()
            .features
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let present: Vec<f64> = x
                    .column(j)
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .collect();
                if impute && present.is_empty() {
                    return Err(Error::Data(format!(
                        "column `{}` has no values at all; drop it or fill it before training",
                        f.name
                    )));
                }
                Ok(match &f.kind {
                    FeatureKind::Numeric => TreeColumn::Numeric {
                        fill: impute.then(|| {
                            let mut s = present.clone();
                            s.sort_by(f64::total_cmp);
                            crate::data::quality::quantile_sorted(&s, 0.5)
                        }),
                    },
                    FeatureKind::Categorical { levels } => TreeColumn::Ordinal {
                        n_levels: levels.len(),
                        fill: impute.then(|| {
                            let mut counts = vec![0usize; levels.len().max(1)];
                            for &v in &present {
                                if let Some(c) = counts.get_mut(v as usize) {
                                    *c += 1;
                                }
                            }
                            // Most frequent level; the lowest index wins a tie.
                            let mut best = 0;
                            for (i, &c) in counts.iter().enumerate() {
                                if c > counts[best] {
                                    best = i;
                                }
                            }
                            best as f64
                        }),
                    },
                })
            })
            .collect::<Result<_>>()?;
        Ok(TreePreprocessor { columns })
    }

    /// Whether missing values reach the tree as NaN in some column.
    pub fn keeps_missing(&self) -> bool {
        self.columns.iter().any(|c| match c {
            TreeColumn::Numeric { fill } | TreeColumn::Ordinal { fill, .. } => fill.is_none(),
        })
    }

    /// Whether no column imputes anything (then [`TreePreprocessor::transform`] is the
    /// identity).
    pub fn keeps_missing_everywhere(&self) -> bool {
        self.columns.iter().all(|c| match c {
            TreeColumn::Numeric { fill } | TreeColumn::Ordinal { fill, .. } => fill.is_none(),
        })
    }

    /// Transform encoded rows (already validated against the schema).
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for (j, c) in self.columns.iter().enumerate() {
            let fill = match c {
                TreeColumn::Numeric { fill } | TreeColumn::Ordinal { fill, .. } => *fill,
            };
            if let Some(fill) = fill {
                out.column_mut(j)
                    .mapv_inplace(|v| if v.is_nan() { fill } else { v });
            }
        }
        out
    }

    /// Check that this preprocessor matches `schema` (used when loading an artifact).
    pub fn check_schema(&self, schema: &Schema) -> Result<()> {
        let fill_ok = |f: &Option<f64>| f.is_none_or(|v| v.is_finite());
        let ok = self.columns.len() == schema.n_features()
            && self
                .columns
                .iter()
                .zip(&schema.features)
                .all(|(t, f)| match (t, &f.kind) {
                    (TreeColumn::Numeric { fill }, FeatureKind::Numeric) => fill_ok(fill),
                    (
                        TreeColumn::Ordinal { n_levels, fill },
                        FeatureKind::Categorical { levels },
                    ) => {
                        *n_levels == levels.len()
                            && fill_ok(fill)
                            && fill.is_none_or(|v| v >= 0.0 && (v as usize) < *n_levels)
                    }
                    _ => false,
                });
        if ok {
            Ok(())
        } else {
            Err(Error::SchemaMismatch(
                "the artifact's tree preprocessing does not match its signature".into(),
            ))
        }
    }
}

/// Whether `x` passes [`validate_features`] for `schema`, by one row-major pass (the input's
/// memory order; the full check walks column by column and builds the error message). No
/// value may be infinite; categorical codes must be NaN or level indices. On `false`, run
/// [`validate_features`] for the error to report.
pub(crate) fn inputs_clean(schema: &Schema, x: ArrayView2<'_, f64>) -> bool {
    // An infinite value is bad in any column (a categorical code must be finite too).
    let finite = |v: &[f64]| {
        v.iter().fold(0u64, |a, v| {
            a | (v.to_bits() & !(1 << 63) == f64::INFINITY.to_bits()) as u64
        }) == 0
    };
    x.ncols() == schema.n_features()
        && match x.as_slice() {
            Some(s) => finite(s),
            None => x.rows().into_iter().all(|r| finite(&r.to_vec())),
        }
        && codes_valid(schema, x)
}

/// Whether every categorical column of `x` (with `schema`'s width) holds NaN or level indices;
/// true at once without categoricals.
fn codes_valid(schema: &Schema, x: ArrayView2<'_, f64>) -> bool {
    let cats: Vec<(usize, usize)> = schema
        .features
        .iter()
        .enumerate()
        .filter_map(|(j, f)| f.levels().map(|l| (j, l.len())))
        .collect();
    cats.is_empty()
        || x.rows().into_iter().all(|row| {
            cats.iter().all(|&(j, n)| {
                let v = row[j];
                v.is_nan() || (v >= 0.0 && v.fract() == 0.0 && (v as usize) < n)
            })
        })
}

/// The fitted tree learners that can sit inside a [`TreeModel`].
pub trait TreeLearner:
    Clone + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The artifact flavor name.
    const FLAVOR: &'static str;
    /// Whether the learner accepts NaN inputs.
    const HANDLES_MISSING: bool;
    /// Number of input columns.
    fn n_features(&self) -> usize;
    /// The task it was fitted for.
    fn task(&self) -> TreeTask;
    /// Values (regression).
    fn predict_values(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>>;
    /// Class probabilities (classification).
    fn predict_probabilities(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>>;
    /// Wrap a [`TreeModel`] of this learner in its artifact variant.
    fn artifact(model: TreeModel<Self>) -> ModelArtifact;
    /// Values with the input scan fused into prediction: `Some((values, every input
    /// finite))` from learners that read every input once anyway (gradient boosting); `None`
    /// (the default) from the others, whose inputs are checked before predicting.
    fn predict_values_scanned(
        &self,
        _x: ArrayView2<'_, f64>,
    ) -> Option<Result<(Array1<f64>, bool)>> {
        None
    }
    /// Class probabilities with the input scan fused into prediction (see
    /// [`TreeLearner::predict_values_scanned`]).
    fn predict_probabilities_scanned(
        &self,
        _x: ArrayView2<'_, f64>,
    ) -> Option<Result<(Array2<f64>, bool)>> {
        None
    }
}

macro_rules! learner {
    ($ty:ty, $flavor:literal, $missing:literal, $variant:ident $(, { $($extra:tt)* })?) => {
        impl TreeLearner for $ty {
            const FLAVOR: &'static str = $flavor;
            const HANDLES_MISSING: bool = $missing;
            fn n_features(&self) -> usize {
                <$ty>::n_features(self)
            }
            fn task(&self) -> TreeTask {
                <$ty>::task(self)
            }
            fn predict_values(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
                self.predict(x)
            }
            fn predict_probabilities(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
                self.predict_proba(x)
            }
            fn artifact(model: TreeModel<Self>) -> ModelArtifact {
                ModelArtifact::$variant(model)
            }
            $($($extra)*)?
        }
    };
}

learner!(GbdtModel, "gbdt", true, Gbdt, {
    fn predict_values_scanned(
        &self,
        x: ArrayView2<'_, f64>,
    ) -> Option<Result<(Array1<f64>, bool)>> {
        Some(self.predict_checked(x))
    }
    fn predict_probabilities_scanned(
        &self,
        x: ArrayView2<'_, f64>,
    ) -> Option<Result<(Array2<f64>, bool)>> {
        Some(self.predict_proba_checked(x))
    }
});
learner!(DecisionTreeModel, "decision_tree", false, DecisionTree);
learner!(RandomForestModel, "random_forest", false, RandomForest);

/// A fitted tree learner with its signature and preprocessing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct TreeModel<L: TreeLearner> {
    /// Inputs and target.
    pub signature: Signature,
    /// Fitted preprocessing.
    pub preprocessor: TreePreprocessor,
    /// The fitted learner.
    pub learner: L,
}

/// Gradient-boosted trees with their signature and preprocessing: the model of an artifact of
/// flavor `gbdt`.
pub type GbdtPipeline = TreeModel<GbdtModel>;
/// A decision tree with its signature and preprocessing: the model of an artifact of flavor
/// `decision_tree`.
pub type DecisionTreePipeline = TreeModel<DecisionTreeModel>;
/// A random forest with its signature and preprocessing: the model of an artifact of flavor
/// `random_forest`.
pub type RandomForestPipeline = TreeModel<RandomForestModel>;

impl<L: TreeLearner> PartialEq for TreeModel<L> {
    /// Equal when the serialised forms are equal (the fitted learners compare by their exact
    /// stored representation).
    fn eq(&self, other: &Self) -> bool {
        self.signature == other.signature
            && self.preprocessor == other.preprocessor
            && match (
                serde_json::to_vec(&self.learner),
                serde_json::to_vec(&other.learner),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
    }
}

impl<L: TreeLearner> TreeModel<L> {
    /// Assemble a model; checks that the parts agree (see [`TreeModel::check`]).
    pub fn new(signature: Signature, preprocessor: TreePreprocessor, learner: L) -> Result<Self> {
        let m = TreeModel {
            signature,
            preprocessor,
            learner,
        };
        m.check()?;
        Ok(m)
    }

    /// Check the parts agree: preprocessing vs signature, the learner's width and task vs the
    /// signature, and no NaN reaching a learner that cannot take it.
    pub fn check(&self) -> Result<()> {
        self.preprocessor.check_schema(&self.signature.inputs)?;
        if self.learner.n_features() != self.signature.inputs.n_features() {
            return Err(Error::SchemaMismatch(format!(
                "{} model: the learner takes {} inputs but the signature has {} features",
                L::FLAVOR,
                self.learner.n_features(),
                self.signature.inputs.n_features()
            )));
        }
        let k = self.signature.n_classes();
        let task_ok = match self.learner.task() {
            TreeTask::Regression => k == 0,
            TreeTask::Classification { n_classes } => n_classes == k,
        };
        if !task_ok {
            return Err(Error::SchemaMismatch(format!(
                "{} model: the learner's task does not match the signature's target",
                L::FLAVOR
            )));
        }
        if !L::HANDLES_MISSING && self.preprocessor.keeps_missing() {
            return Err(Error::SchemaMismatch(format!(
                "{} model: the preprocessing must impute missing values for this learner",
                L::FLAVOR
            )));
        }
        Ok(())
    }
}

impl<L: TreeLearner> Model for TreeModel<L> {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Prediction> {
        let schema = &self.signature.inputs;
        // Nothing to impute and a learner that notes infinities while it reads the rows: only
        // the categorical codes need a look beforehand.
        if self.preprocessor.keeps_missing_everywhere()
            && x.ncols() == schema.n_features()
            && codes_valid(schema, x)
        {
            if self.signature.n_classes() == 0 {
                if let Some(r) = self.learner.predict_values_scanned(x) {
                    let (values, finite) = r?;
                    if !finite {
                        validate_features(schema, x)?;
                    }
                    return Ok(Prediction {
                        values,
                        probabilities: None,
                    });
                }
            } else if let Some(r) = self.learner.predict_probabilities_scanned(x) {
                let (p, finite) = r?;
                if !finite {
                    validate_features(schema, x)?;
                }
                return Ok(with_classes(p));
            }
        }
        if !inputs_clean(schema, x) {
            validate_features(schema, x)?;
        }
        // Without anything to impute the preprocessing is the identity: skip the copy.
        let filled;
        let z = if self.preprocessor.keeps_missing_everywhere() {
            x.view()
        } else {
            filled = self.preprocessor.transform(x);
            filled.view()
        };
        if self.signature.n_classes() == 0 {
            return Ok(Prediction {
                values: self.learner.predict_values(z)?,
                probabilities: None,
            });
        }
        Ok(with_classes(self.learner.predict_probabilities(z)?))
    }

    fn to_artifact(&self) -> Result<ModelArtifact> {
        Ok(L::artifact(self.clone()))
    }
}

/// A classifier's prediction from its class probabilities: the most probable class (the first
/// on a tie) per row.
fn with_classes(p: Array2<f64>) -> Prediction {
    let values = p
        .axis_iter(Axis(0))
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0 as f64
        })
        .collect();
    Prediction {
        values,
        probabilities: Some(p),
    }
}
