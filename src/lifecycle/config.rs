//! The lifecycle's settings and inputs: why a run starts, the retrain policy, the
//! configuration and where retraining data comes from.

use crate::Result;
use crate::data::Dataset;
use crate::monitor::MonitorConfig;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a lifecycle run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Someone asked for it.
    Manual,
    /// A new dataset version arrived.
    NewDataset,
    /// A schedule fired.
    Schedule,
    /// The monitoring cycle found drift.
    DriftAlert,
    /// A registry event (e.g. a version registered elsewhere).
    RegistryEvent,
}

impl Trigger {
    /// The stored name (`manual`, `new_dataset`, `schedule`, `drift_alert`,
    /// `registry_event`), as in audit records and version tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::NewDataset => "new_dataset",
            Trigger::Schedule => "schedule",
            Trigger::DriftAlert => "drift_alert",
            Trigger::RegistryEvent => "registry_event",
        }
    }
}

/// What to do when monitoring finds real drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrainPolicy {
    /// Retrain at once on newer labelled data (from the [`TrainingDataSource`]).
    Automatic,
    /// Raise the alert and record that a retrain is recommended; a human starts it.
    RequireApproval,
}

/// Settings of a [`Lifecycle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    /// The registered model this lifecycle manages.
    pub model_name: String,
    /// The alias that marks the version in production.
    pub serving_alias: String,
    /// Share of each training dataset held out for validation.
    pub holdout_fraction: f64,
    /// Seed for splits and training.
    pub seed: u64,
    /// The code version recorded in lineage (e.g. a git commit).
    pub code_version: Option<String>,
    /// The quality gate: a training dataset with a column missing more than this share is refused.
    pub max_missing_fraction: f64,
    /// What to do about drift.
    pub retrain_policy: RetrainPolicy,
    /// Monitoring settings.
    pub monitor: MonitorConfig,
    /// At most this many days of labelled data are used to retrain (counted back from the
    /// check that decided it, and never from before the drift began).
    pub retrain_window_days: i64,
    /// Retrain only once at least this many labelled rows from after the drift began are
    /// available; until then the drift alert stands and data is collected.
    pub retrain_min_rows: usize,
    /// No drift-triggered retrain within this many days of the last deployment.
    pub cooldown_days: i64,
    /// The actor recorded for automatic actions.
    pub actor: String,
    /// A health alert is raised when the share of failed scoring calls in a monitoring
    /// window exceeds this (`None`: no health alerts). The alert does not change the
    /// decision.
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    /// Health limits of each monitoring window (p99 latency, traffic volume) and the active
    /// probe; all off by default.
    #[serde(default)]
    pub health: super::health::HealthLimits,
    /// Release approved versions through a canary first (`None`: promote at once).
    #[serde(default)]
    pub canary: Option<super::canary::CanaryPolicy>,
}

impl LifecycleConfig {
    /// Defaults for a model called `model_name`.
    pub fn new(model_name: impl Into<String>) -> Self {
        LifecycleConfig {
            model_name: model_name.into(),
            serving_alias: "production".into(),
            holdout_fraction: 0.25,
            seed: 42,
            code_version: None,
            max_missing_fraction: 0.5,
            retrain_policy: RetrainPolicy::Automatic,
            monitor: MonitorConfig::default(),
            retrain_window_days: 14,
            retrain_min_rows: 2_000,
            cooldown_days: 7,
            actor: "lifecycle".into(),
            max_error_rate: None,
            health: Default::default(),
            canary: None,
        }
    }
}

/// Where the lifecycle gets newer labelled data to retrain on.
#[async_trait]
pub trait TrainingDataSource: Send + Sync + std::fmt::Debug {
    /// Labelled rows observed in `[from, to)`.
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset>;
}
