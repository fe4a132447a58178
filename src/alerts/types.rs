use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// How serious an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information (a release, a version waiting for approval).
    Info,
    /// Worth a look.
    Warning,
    /// Needs action.
    Critical,
}

impl Severity {
    /// The stored name (`info`, `warning`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// Production inputs drifted from the training baseline.
    Drift,
    /// Production inputs have a data-quality fault (e.g. a surge of missing values).
    DataQuality,
    /// The service is unhealthy (errors, latency, no traffic).
    Health,
    /// A candidate version was rejected by validation against the champion.
    ValidationFailed,
    /// A version waits for a human decision.
    ApprovalNeeded,
    /// A version was promoted to the serving alias.
    Released,
    /// A version was rolled back.
    RolledBack,
    /// Realized performance on the labelled share of a window fell below the serving
    /// version's validation metrics by more than the configured limit.
    Performance,
}

impl AlertKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [AlertKind] = &[
        AlertKind::Drift,
        AlertKind::DataQuality,
        AlertKind::Health,
        AlertKind::ValidationFailed,
        AlertKind::ApprovalNeeded,
        AlertKind::Released,
        AlertKind::RolledBack,
        AlertKind::Performance,
    ];

    /// The stored name (`drift`, `data_quality`, `health`, `validation_failed`,
    /// `approval_needed`, `released`, `rolled_back`, `performance`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Drift => "drift",
            AlertKind::DataQuality => "data_quality",
            AlertKind::Health => "health",
            AlertKind::ValidationFailed => "validation_failed",
            AlertKind::ApprovalNeeded => "approval_needed",
            AlertKind::Released => "released",
            AlertKind::RolledBack => "rolled_back",
            AlertKind::Performance => "performance",
        }
    }

    /// The kind named `s` (see [`AlertKind::as_str`]).
    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Kinds that describe a condition of the monitored service (drift, data quality,
    /// health, performance): they persist across monitoring windows, so repeats are suppressed until
    /// the condition clears. The others are events, each delivered.
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            AlertKind::Drift | AlertKind::DataQuality | AlertKind::Health | AlertKind::Performance
        )
    }
}

/// An alert raised by the lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique id.
    #[serde(default = "Uuid::new_v4")]
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Severity.
    pub severity: Severity,
    /// Kind.
    pub kind: AlertKind,
    /// The model concerned.
    pub model_name: String,
    /// The version concerned, if one is.
    #[serde(default)]
    pub version: Option<u32>,
    /// The model's owner (filled in by the [`AlertDispatcher`](super::AlertDispatcher)).
    #[serde(default)]
    pub owner: Option<String>,
    /// What happened, in one sentence a person can act on (the webhook's `summary`).
    pub message: String,
    /// The evidence: drifted columns with statistics, failed checks, health figures.
    #[serde(default)]
    pub details: Value,
    /// The column concerned, if one is (part of the deduplication key).
    #[serde(default)]
    pub column: Option<String>,
    /// The lifecycle run that raised it.
    pub trace_id: String,
}

impl Alert {
    /// A new alert with a fresh id and no version, owner, details or column.
    pub fn new(
        at: DateTime<Utc>,
        severity: Severity,
        kind: AlertKind,
        model_name: impl Into<String>,
        message: impl Into<String>,
        trace_id: impl Into<String>,
    ) -> Alert {
        Alert {
            id: Uuid::new_v4(),
            at,
            severity,
            kind,
            model_name: model_name.into(),
            version: None,
            owner: None,
            message: message.into(),
            details: Value::Null,
            column: None,
            trace_id: trace_id.into(),
        }
    }

    /// The webhook body of this alert.
    pub fn webhook_body(&self) -> WebhookBody {
        WebhookBody {
            id: self.id,
            kind: self.kind,
            severity: self.severity,
            model: self.model_name.clone(),
            version: self.version,
            owner: self.owner.clone(),
            at: self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            summary: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

/// The JSON body a [`WebhookSink`](super::WebhookSink) posts: exactly the keys `id`, `kind`,
/// `severity`, `model`, `version`, `owner`, `at` (RFC 3339), `summary`, `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    /// The alert's id.
    pub id: Uuid,
    /// `drift`, `data_quality`, `health`, `validation_failed`, `approval_needed`,
    /// `released` or `rolled_back`.
    pub kind: AlertKind,
    /// `info`, `warning` or `critical`.
    pub severity: Severity,
    /// The model's name.
    pub model: String,
    /// The version concerned, or null.
    pub version: Option<u32>,
    /// The model's owner, or null when none is set.
    pub owner: Option<String>,
    /// When, RFC 3339.
    pub at: String,
    /// One sentence a person can act on.
    pub summary: String,
    /// The evidence.
    pub details: Value,
}
