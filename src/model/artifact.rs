use super::{
    DecisionTreeTreeModel, GbdtTreeModel, LinearModel, LogisticModel, Model, RandomForestTreeModel,
    Signature,
};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A serialisable model, tagged with its flavor (the algorithm family that can load it).
///
/// The JSON form is `{"flavor": "logistic", "model": {...}}`. Loading checks the artifact's
/// internal consistency, so a damaged artifact is an error, never a wrong model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "flavor", content = "model", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelArtifact {
    /// Logistic regression (binary or multinomial).
    Logistic(LogisticModel),
    /// Linear / ridge regression.
    Linear(LinearModel),
    /// Histogram gradient-boosted trees.
    Gbdt(GbdtTreeModel),
    /// A single decision tree.
    DecisionTree(DecisionTreeTreeModel),
    /// A random forest.
    RandomForest(RandomForestTreeModel),
}

impl ModelArtifact {
    /// The flavor name.
    pub fn flavor(&self) -> &'static str {
        match self {
            ModelArtifact::Logistic(_) => "logistic",
            ModelArtifact::Linear(_) => "linear",
            ModelArtifact::Gbdt(_) => "gbdt",
            ModelArtifact::DecisionTree(_) => "decision_tree",
            ModelArtifact::RandomForest(_) => "random_forest",
        }
    }

    /// The model's signature.
    pub fn signature(&self) -> &Signature {
        match self {
            ModelArtifact::Logistic(m) => &m.signature,
            ModelArtifact::Linear(m) => &m.signature,
            ModelArtifact::Gbdt(m) => &m.signature,
            ModelArtifact::DecisionTree(m) => &m.signature,
            ModelArtifact::RandomForest(m) => &m.signature,
        }
    }

    /// Turn the artifact into a servable model (after checking it).
    pub fn into_model(self) -> Result<Arc<dyn Model>> {
        Ok(match self {
            ModelArtifact::Logistic(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::Linear(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::Gbdt(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::DecisionTree(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::RandomForest(m) => {
                m.check()?;
                Arc::new(m)
            }
        })
    }

    /// Serialise to bytes (JSON; floats round-trip exactly).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Deserialise from bytes written by [`ModelArtifact::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Serde(format!("not a valid model artifact: {e}")))
    }
}
