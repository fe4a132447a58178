use serde::{Deserialize, Serialize};
use std::fmt;

/// A step of the model lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Data-quality check of the training data.
    QualityCheck,
    /// Model training.
    Train,
    /// Validation against the current champion.
    Validate,
    /// Registration in the model registry.
    Register,
    /// Approval (automatic or by a human).
    Approve,
    /// Deployment of the approved version.
    Deploy,
    /// Moving the serving alias to the new version.
    Promote,
    /// Monitoring (health and drift) on a window of collected data.
    Monitor,
    /// Deciding what to do about a monitoring result.
    Decide,
}

impl Stage {
    /// The stage's name in snake_case.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::QualityCheck => "quality_check",
            Stage::Train => "train",
            Stage::Validate => "validate",
            Stage::Register => "register",
            Stage::Approve => "approve",
            Stage::Deploy => "deploy",
            Stage::Promote => "promote",
            Stage::Monitor => "monitor",
            Stage::Decide => "decide",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
