use crate::Result;
use crate::registry::ModelVersion;
use crate::validate::ValidationReport;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// What an approver is asked to decide on.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    /// The registered candidate (status `pending_approval`).
    pub version: ModelVersion,
    /// Its validation (which passed).
    pub validation: ValidationReport,
    /// Why the run started (manual, drift, ...).
    pub trigger: super::Trigger,
}

/// An approver's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ApprovalDecision {
    /// Deploy it.
    Approved {
        /// Who approved.
        actor: String,
        /// Why.
        reason: String,
    },
    /// Do not deploy it.
    Rejected {
        /// Who rejected.
        actor: String,
        /// Why.
        reason: String,
    },
    /// A human will decide later (see `Lifecycle::approve` / `Lifecycle::reject`).
    Pending,
}

/// Decides whether a validated candidate may be deployed.
///
/// ```
/// use mlcycle::lifecycle::{ApprovalGate, AutoApprove, RequireHumanApproval};
/// fn assert_gate<T: ApprovalGate>(_: &T) {}
/// assert_gate(&AutoApprove);
/// assert_gate(&RequireHumanApproval);
/// ```
#[async_trait]
pub trait ApprovalGate: Send + Sync + Debug {
    /// Review a candidate.
    async fn review(&self, request: &ApprovalRequest) -> Result<ApprovalDecision>;
}

/// Approves every candidate that passed validation (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct AutoApprove;

#[async_trait]
impl ApprovalGate for AutoApprove {
    async fn review(&self, request: &ApprovalRequest) -> Result<ApprovalDecision> {
        Ok(ApprovalDecision::Approved {
            actor: "lifecycle/auto-approve".into(),
            reason: format!(
                "all {} validation checks passed ({} = {:.4})",
                request.validation.checks.len(),
                request.validation.primary_metric,
                request
                    .validation
                    .candidate
                    .get(&request.validation.primary_metric)
                    .copied()
                    .unwrap_or(f64::NAN)
            ),
        })
    }
}

/// Leaves every candidate pending until a human calls `Lifecycle::approve` or `reject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequireHumanApproval;

#[async_trait]
impl ApprovalGate for RequireHumanApproval {
    async fn review(&self, _request: &ApprovalRequest) -> Result<ApprovalDecision> {
        Ok(ApprovalDecision::Pending)
    }
}
