//! Models: the [`Model`] trait, [`Signature`]s, the preprocessing that travels with a model,
//! and serialisable [`ModelArtifact`]s tagged by flavor.

mod artifact;
mod flavor;
mod fused;
mod linear;
pub mod native;
mod preprocess;
mod reference;
mod signature;
pub(crate) mod trees;

pub use artifact::{ArtifactBundle, FlavoredArtifact, ModelArtifact};
pub use flavor::{BUILTIN_FLAVORS, FlavorRegistry, ModelFlavor};
pub use linear::{LinearModel, LogisticConvergence, LogisticModel};
pub use preprocess::{ColumnTransform, Preprocessor};
pub use reference::ReferenceOutputs;
pub use signature::{OutputKind, Signature};
pub use trees::{
    DecisionTreeModel, DecisionTreePipeline, GbdtModel, GbdtPipeline, RandomForestModel,
    RandomForestPipeline, TreeColumn, TreeLearner, TreeModel, TreePreprocessor, TreeTask,
};

use crate::Result;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// What a model returns for a batch of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// One value per row: the predicted class index for classifiers, the value for regressors.
    pub values: Array1<f64>,
    /// Class probabilities (rows × classes) for classifiers, `None` for regressors.
    pub probabilities: Option<Array2<f64>>,
}

/// A fitted model that can score rows.
///
/// # Contract
/// - `predict` takes the encoded feature matrix in the column order of
///   `signature().inputs` (categoricals as level indices, NaN for missing) and returns one
///   prediction per row; it checks the input against the signature and returns
///   [`crate::Error::SchemaMismatch`] / [`crate::Error::Data`] instead of panicking.
/// - `predict` is deterministic: the same input gives bit-identical output.
/// - `to_artifact` returns an artifact that loads back ([`ModelArtifact::into_model`]) into
///   a model with bit-identical predictions. Preprocessing is part of the model.
///
/// ```
/// use mlcycle::model::{Model, ModelArtifact};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::train::{LogisticParams, fit_logistic};
///
/// let data = CreditDefault::new(1).sample(500, &DriftSpec::none(), 0).unwrap();
/// let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
/// let p = model.predict(data.features()).unwrap();
/// assert_eq!(p.values.len(), 500);
/// // Stored and loaded back: the same predictions, bit for bit.
/// let json = serde_json::to_vec(&model.to_artifact().unwrap()).unwrap();
/// let back = serde_json::from_slice::<ModelArtifact>(&json).unwrap().into_model().unwrap();
/// assert_eq!(back.predict(data.features()).unwrap(), p);
/// ```
pub trait Model: Send + Sync + Debug {
    /// The input schema and output kind.
    fn signature(&self) -> &Signature;
    /// Score a batch of encoded rows.
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Prediction>;
    /// A serialisable artifact of this model.
    fn to_artifact(&self) -> Result<ModelArtifact>;
}
