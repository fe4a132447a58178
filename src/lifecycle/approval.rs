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

/// Approves automatically when every check of the validation report passed (metric
/// thresholds, beating the champion, significance, fairness, serving cost), and leaves the
/// candidate pending for a person otherwise.
#[derive(Debug, Default, Clone, Copy)]
pub struct RulesApproval;

#[async_trait]
impl ApprovalGate for RulesApproval {
    async fn review(&self, request: &ApprovalRequest) -> Result<ApprovalDecision> {
        let v = &request.validation;
        let failed: Vec<&str> = v
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        if !v.promote || !failed.is_empty() {
            return Ok(ApprovalDecision::Pending);
        }
        let mut reason = format!("rules: all {} checks passed", v.checks.len());
        if v.significance.is_some() {
            reason.push_str(", significance tested");
        }
        if v.fairness.is_some() {
            reason.push_str(", fairness tested");
        }
        Ok(ApprovalDecision::Approved {
            actor: "lifecycle/rules".into(),
            reason,
        })
    }
}

/// Which approval gate a lifecycle uses, as a setting: `auto` ([`AutoApprove`]), `manual`
/// ([`RequireHumanApproval`]) or `rules` ([`RulesApproval`]).
///
/// ```
/// use mlcycle::lifecycle::ApprovalPolicy;
/// let p: ApprovalPolicy = "rules".parse().unwrap();
/// assert_eq!(p, ApprovalPolicy::Rules);
/// assert_eq!(p.as_str(), "rules");
/// assert!("sometimes".parse::<ApprovalPolicy>().is_err());
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Every validated candidate is deployed.
    #[default]
    Auto,
    /// Every validated candidate waits for a person.
    Manual,
    /// Automatic when every check passed, a person otherwise.
    Rules,
}

impl ApprovalPolicy {
    /// `auto`, `manual` or `rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Auto => "auto",
            ApprovalPolicy::Manual => "manual",
            ApprovalPolicy::Rules => "rules",
        }
    }

    /// The gate implementing the policy.
    pub fn gate(self) -> std::sync::Arc<dyn ApprovalGate> {
        match self {
            ApprovalPolicy::Auto => std::sync::Arc::new(AutoApprove),
            ApprovalPolicy::Manual => std::sync::Arc::new(RequireHumanApproval),
            ApprovalPolicy::Rules => std::sync::Arc::new(RulesApproval),
        }
    }
}

impl std::str::FromStr for ApprovalPolicy {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(ApprovalPolicy::Auto),
            "manual" => Ok(ApprovalPolicy::Manual),
            "rules" => Ok(ApprovalPolicy::Rules),
            other => Err(crate::Error::invalid(
                "approval policy",
                format!("`{other}` is not one of auto, manual, rules"),
            )),
        }
    }
}

impl std::fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
