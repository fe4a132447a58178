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

/// The longest tag key, in bytes.
pub const MAX_TAG_KEY_BYTES: usize = 256;
/// The longest tag value, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 8 << 10;

/// Check a version tag: a key of 1 to [`MAX_TAG_KEY_BYTES`] bytes without `/`, `\\`, `..`
/// or control characters, and a value of at most [`MAX_TAG_VALUE_BYTES`] bytes without
/// control characters other than tab and line breaks.
///
/// ```
/// use mlcycle::registry::validate_tag;
/// assert!(validate_tag("team", "risk").is_ok());
/// assert!(validate_tag("../x", "1").is_err());
/// assert!(validate_tag("a", &"x".repeat(131_072)).is_err());
/// ```
pub fn validate_tag(key: &str, value: &str) -> Result<()> {
    let key_why = if key.is_empty() {
        Some("it is empty".to_string())
    } else if key.len() > MAX_TAG_KEY_BYTES {
        Some(format!(
            "it is {} bytes long; the limit is {MAX_TAG_KEY_BYTES}",
            key.len()
        ))
    } else if key.contains("..") {
        Some("it contains `..`".into())
    } else {
        key.chars()
            .find(|c| c.is_control() || matches!(c, '/' | '\\'))
            .map(|c| format!("{c:?} is not allowed in a tag key"))
    };
    if let Some(why) = key_why {
        return Err(Error::invalid(
            format!("tag key `{}`", crate::data::truncate_for_message(key)),
            why,
        ));
    }
    let value_why = if value.len() > MAX_TAG_VALUE_BYTES {
        Some(format!(
            "it is {} bytes long; the limit is {MAX_TAG_VALUE_BYTES} (put large content in the description or an artifact)",
            value.len()
        ))
    } else {
        value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            .map(|c| format!("{c:?} is not allowed in a tag value"))
    };
    match value_why {
        Some(why) => Err(Error::invalid(format!("the value of tag `{key}`"), why)),
        None => Ok(()),
    }
}

/// Check an alias name: a valid name that is not reserved (`latest`, `v<digits>`, in any
/// case).
pub fn validate_alias(alias: &str) -> Result<()> {
    validate_name(alias).map_err(|_| {
        Error::invalid(
            format!("alias `{}`", crate::data::truncate_for_message(alias)),
            "use 1–256 letters, digits, `_`, `-` or `.`",
        )
    })?;
    if is_reserved_alias(alias) {
        return Err(Error::invalid(
            format!("alias `{alias}`"),
            "`latest` and `v<number>` (any case) are reserved for version references",
        ));
    }
    Ok(())
}

/// Whether `alias` is reserved for version references: `latest` or `v<digits>`, in any case.
pub fn is_reserved_alias(alias: &str) -> bool {
    alias.eq_ignore_ascii_case("latest")
        || (alias.len() > 1
            && (alias.starts_with('v') || alias.starts_with('V'))
            && alias[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// A comparison in a [`MetricFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl CmpOp {
    /// Whether `lhs op rhs` holds.
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            CmpOp::Lt => lhs < rhs,
            CmpOp::Le => lhs <= rhs,
            CmpOp::Eq => lhs == rhs,
            CmpOp::Ge => lhs >= rhs,
            CmpOp::Gt => lhs > rhs,
        }
    }

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
        }
    }
}

/// A condition on one validation metric of a version, e.g. `auc >= 0.8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFilter {
    /// The metric's name.
    pub metric: String,
    /// The comparison.
    pub op: CmpOp,
    /// The value compared with.
    pub value: f64,
}

impl MetricFilter {
    /// Parse `NAME OP VALUE` with OP one of `<`, `<=`, `=`, `==`, `>=`, `>` (e.g. `auc>=0.8`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(
                format!("metric filter `{}`", crate::data::truncate_for_message(s)),
                format!("{why}; write it as NAME>=VALUE (operators < <= = >= >)"),
            )
        };
        let pos = s.find(['<', '>', '=']).ok_or_else(|| bad("no operator"))?;
        let (metric, rest) = s.split_at(pos);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (CmpOp::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (CmpOp::Ge, v)
        } else if let Some(v) = rest.strip_prefix("==") {
            (CmpOp::Eq, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (CmpOp::Lt, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (CmpOp::Gt, v)
        } else {
            (CmpOp::Eq, &rest[1..])
        };
        let metric = metric.trim();
        if metric.is_empty() {
            return Err(bad("the metric name is empty"));
        }
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| bad("the value is not a number"))?;
        Ok(MetricFilter {
            metric: metric.to_string(),
            op,
            value,
        })
    }

    /// Whether `metrics` satisfies the condition (a missing metric does not).
    pub fn matches(&self, metrics: &BTreeMap<String, f64>) -> bool {
        metrics
            .get(&self.metric)
            .is_some_and(|&v| self.op.holds(v, self.value))
    }
}

/// What [`RegistryExt::search_versions`](super::RegistryExt::search_versions) looks for.
/// Every condition that is set must hold; an empty query matches every version.
///
/// ```
/// use mlcycle::registry::{CmpOp, VersionQuery, VersionStatus};
/// let q = VersionQuery::new()
///     .name("churn")
///     .tag("team", "risk")
///     .status(VersionStatus::Approved)
///     .metric("auc", CmpOp::Ge, 0.8);
/// assert_eq!(q.tags.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionQuery {
    /// Exactly this model name.
    pub name: Option<String>,
    /// Model names containing this substring.
    pub name_contains: Option<String>,
    /// Tags that must be present with these values.
    pub tags: BTreeMap<String, String>,
    /// An alias that must point at the version.
    pub alias: Option<String>,
    /// The version's status.
    pub status: Option<VersionStatus>,
    /// Conditions on the version's metrics.
    pub metrics: Vec<MetricFilter>,
}

impl VersionQuery {
    /// A query matching every version.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only versions of model `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only models whose name contains `part`.
    pub fn name_contains(mut self, part: impl Into<String>) -> Self {
        self.name_contains = Some(part.into());
        self
    }

    /// Only versions tagged `key = value`.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Only the version `alias` points to.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.alias = Some(alias.into());
        self
    }

    /// Only versions with `status`.
    pub fn status(mut self, status: VersionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only versions whose metric `metric` satisfies `op value`.
    pub fn metric(mut self, metric: impl Into<String>, op: CmpOp, value: f64) -> Self {
        self.metrics.push(MetricFilter {
            metric: metric.into(),
            op,
            value,
        });
        self
    }

    /// Whether the model name passes the name conditions.
    pub fn matches_name(&self, name: &str) -> bool {
        self.name.as_deref().is_none_or(|n| n == name)
            && self
                .name_contains
                .as_deref()
                .is_none_or(|p| name.contains(p))
    }

    /// Whether `mv` (with its `aliases` filled in) satisfies every condition.
    pub fn matches(&self, mv: &ModelVersion) -> bool {
        self.matches_name(&mv.name)
            && self.status.is_none_or(|s| s == mv.status)
            && self
                .alias
                .as_deref()
                .is_none_or(|a| mv.aliases.iter().any(|x| x == a))
            && self
                .tags
                .iter()
                .all(|(k, v)| mv.tags.get(k).is_some_and(|x| x == v))
            && self.metrics.iter().all(|m| m.matches(&mv.metrics))
    }
}
