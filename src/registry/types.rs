use crate::data::DatasetId;
use crate::model::{ModelArtifact, Signature};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Approval status of a model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Registered, waiting for a decision.
    PendingApproval,
    /// Approved for deployment.
    Approved,
    /// Rejected.
    Rejected,
    /// Retired.
    Archived,
}

impl VersionStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::PendingApproval => "pending_approval",
            VersionStatus::Approved => "approved",
            VersionStatus::Rejected => "rejected",
            VersionStatus::Archived => "archived",
        }
    }
}

impl fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VersionStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "pending_approval" => VersionStatus::PendingApproval,
            "approved" => VersionStatus::Approved,
            "rejected" => VersionStatus::Rejected,
            "archived" => VersionStatus::Archived,
            _ => {
                return Err(Error::invalid(
                    "status",
                    format!("`{s}` is not one of pending_approval, approved, rejected, archived"),
                ));
            }
        })
    }
}

/// Where a model version came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// The dataset(s) it was trained on.
    pub training_datasets: Vec<DatasetId>,
    /// The holdout it was validated on.
    pub validation_dataset: Option<DatasetId>,
    /// The champion version it was compared with.
    pub parent_version: Option<u32>,
    /// The code that produced it (e.g. a git commit), as passed in by the caller.
    pub code_version: Option<String>,
    /// The training algorithm.
    pub trainer: String,
    /// The training parameters.
    pub params: serde_json::Value,
    /// Who (or what) created it.
    pub created_by: String,
}

/// What a caller supplies to register a new version.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The model.
    pub artifact: ModelArtifact,
    /// Its lineage.
    pub lineage: Lineage,
    /// Its validation metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Free-form tags.
    pub tags: BTreeMap<String, String>,
    /// A description.
    pub description: String,
}

/// A registered model version (without its artifact bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The model's name.
    pub name: String,
    /// The version number (1, 2, ...).
    pub version: u32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Approval status.
    pub status: VersionStatus,
    /// Where it came from.
    pub lineage: Lineage,
    /// Validation metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// The artifact's flavor.
    pub flavor: String,
    /// sha256 of the stored artifact.
    pub artifact_sha256: String,
    /// The model's signature.
    pub signature: Signature,
    /// Aliases currently pointing at this version.
    pub aliases: Vec<String>,
}

/// Who changed something, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The actor (a user or a component such as `lifecycle`).
    pub actor: String,
    /// Why.
    pub reason: String,
}

impl Change {
    /// A change by `actor` for `reason`.
    pub fn new(actor: impl Into<String>, reason: impl Into<String>) -> Self {
        Change {
            actor: actor.into(),
            reason: reason.into(),
        }
    }
}

/// One assignment or removal of an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasChange {
    /// The model.
    pub name: String,
    /// The alias.
    pub alias: String,
    /// The version it now points to; `None` when it was deleted.
    pub version: Option<u32>,
    /// The version it pointed to before, if any.
    pub previous: Option<u32>,
    /// When.
    pub at: DateTime<Utc>,
    /// Who and why.
    pub change: Change,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The model.
    pub name: String,
    /// The version.
    pub version: u32,
    /// The new status.
    pub status: VersionStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Who and why.
    pub change: Change,
}

/// Check a model name: 1–256 bytes of ASCII letters, digits, `_`, `-`, `.`, not starting
/// with `.` (so it can never name a path outside the store).
pub fn validate_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > 256 {
        Some(format!("it is {} bytes long; the limit is 256", name.len()))
    } else if name.starts_with('.') {
        Some("it must not start with `.`".into())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map(|c| format!("`{c}` is not allowed; use letters, digits, `_`, `-` and `.`"))
    };
    match why {
        Some(why) => Err(Error::invalid(
            format!("model name `{}`", crate::data::truncate_for_message(name)),
            why,
        )),
        None => Ok(()),
    }
}

/// Check an alias name: a valid name that is not reserved (`latest`, `v<digits>`).
pub fn validate_alias(alias: &str) -> Result<()> {
    validate_name(alias).map_err(|_| {
        Error::invalid(
            format!("alias `{}`", crate::data::truncate_for_message(alias)),
            "use 1–256 letters, digits, `_`, `-` or `.`",
        )
    })?;
    let reserved = alias == "latest"
        || (alias.len() > 1
            && alias.starts_with('v')
            && alias[1..].bytes().all(|b| b.is_ascii_digit()));
    if reserved {
        return Err(Error::invalid(
            format!("alias `{alias}`"),
            "`latest` and `v<number>` are reserved for version references",
        ));
    }
    Ok(())
}
