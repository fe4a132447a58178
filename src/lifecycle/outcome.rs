//! What the lifecycle's runs report: training, release and monitoring outcomes.

use super::Trigger;
use super::observer::Alert;
use crate::data::{DatasetId, QualityReport};
use crate::deploy::DeploymentInfo;
use crate::monitor::MonitorReport;
use crate::registry::ModelVersion;
use crate::validate::ValidationReport;
use serde::{Deserialize, Serialize};

/// How a training cycle ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum TrainingDecision {
    /// Approved, deployed and the serving alias moved to it.
    Promoted {
        /// The deployment.
        deployment: DeploymentInfo,
        /// Who approved and why.
        approved_by: String,
        /// Approval reason.
        reason: String,
    },
    /// Approved and released as a canary (a share of the traffic, next to the champion);
    /// [`Lifecycle::settle_canary`](super::Lifecycle::settle_canary) promotes it or rolls it
    /// back once the canary period is over.
    Canary {
        /// The canary deployment (`deployer` = `canary`).
        deployment: DeploymentInfo,
        /// Who approved and why.
        approved_by: String,
        /// Approval reason.
        reason: String,
    },
    /// Registered but not promoted (validation failed or an approver rejected it).
    Rejected {
        /// Why.
        reason: String,
    },
    /// Registered and waiting for a human decision.
    AwaitingApproval,
}

/// The account of one training cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingOutcome {
    /// The run's trace id (joins its audit records).
    pub trace_id: String,
    /// Why it ran.
    pub trigger: Trigger,
    /// The dataset it started from.
    pub dataset: DatasetId,
    /// Where that data came from.
    pub dataset_source: String,
    /// Quality of that data.
    pub quality: QualityReport,
    /// Rows trained on.
    pub train_rows: usize,
    /// The algorithm.
    pub algorithm: String,
    /// The validation report.
    pub validation: ValidationReport,
    /// The registered version.
    pub version: ModelVersion,
    /// The champion it was compared with.
    pub champion_version: Option<u32>,
    /// How it ended.
    pub decision: TrainingDecision,
}

/// What the release pipeline did with one version registered elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseOutcome {
    /// The run's trace id.
    pub trace_id: String,
    /// The version (as it was when the pipeline picked it up).
    pub version: ModelVersion,
    /// The champion it was compared with.
    pub champion_version: Option<u32>,
    /// The validation report.
    pub validation: ValidationReport,
    /// How it ended.
    pub decision: TrainingDecision,
}

/// What the monitoring cycle decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum MonitoringDecision {
    /// Healthy, no drift.
    NoAction,
    /// Not enough data (or nothing deployed) to judge.
    Skipped {
        /// Why.
        reason: String,
    },
    /// A data-quality fault: alert, but do not retrain (retraining on broken data is harmful).
    DataQualityFault {
        /// What is wrong.
        reason: String,
    },
    /// Input drift the season explains (the same shift as one season earlier): expected,
    /// no action (recorded with its evidence).
    ExpectedShift {
        /// The seasonal evidence.
        reason: String,
    },
    /// Real drift, but a retrain is not started (cooldown, or policy requires a human).
    DriftAlert {
        /// Why no retrain now.
        reason: String,
    },
    /// Real drift: a retrain was run.
    Retrained {
        /// The retraining cycle.
        outcome: Box<TrainingOutcome>,
    },
}

/// The account of one monitoring cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringOutcome {
    /// The run's trace id.
    pub trace_id: String,
    /// The monitoring report.
    pub report: Option<MonitorReport>,
    /// Alerts raised.
    pub alerts: Vec<Alert>,
    /// The decision.
    pub decision: MonitoringDecision,
}
