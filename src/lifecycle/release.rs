//! The release stage: the validation gate, the approval gate, human approve/reject,
//! deployment and the serving alias; the release of versions registered elsewhere; and
//! undeploying.

use super::approval::{ApprovalDecision, ApprovalRequest};
use super::observer::{AlertKind, Severity};
use super::outcome::{ReleaseOutcome, TrainingDecision};
use super::state_store::{
    ApprovalRecord, ApprovalStatus, Decision, record_decision, validation_summary,
};
use super::training::{load_champion, load_model};
use super::{Candidate, Lifecycle, Stage, Trigger};
use crate::audit::event::{
    ApprovalRequested, DeploymentStarted, DeploymentStopped, ValidationCompleted, ValidationVerdict,
};
use crate::audit::{AuditEvent, in_trace};
use crate::data::Dataset;
use crate::deploy::{DeployRequest, DeploymentInfo};
use crate::registry::{Change, ModelVersion, RegistryEventKind, VersionStatus, audit_records};
use crate::validate::ValidationReport;
use crate::{Error, Result};

/// `deployment.stopped` for `p`.
fn stopped(p: &DeploymentInfo, reason: String, replaced_by: Option<u32>) -> AuditEvent {
    AuditEvent::DeploymentStopped(DeploymentStopped {
        deployer: p.deployer.clone(),
        endpoint: p.endpoint.clone(),
        model_name: p.model_name.clone(),
        version: p.version,
        since: p.since,
        reason,
        replaced_by,
    })
}

impl Lifecycle {
    /// The version the serving alias points to, if any.
    pub async fn champion(&self) -> Result<Option<ModelVersion>> {
        let name = &self.config.model_name;
        if self.registry.list_models().await?.iter().all(|m| m != name) {
            return Ok(None);
        }
        match self
            .registry
            .get_alias(name, &self.config.serving_alias)
            .await?
        {
            Some(v) => Ok(Some(self.registry.get_version(name, v).await?)),
            None => Ok(None),
        }
    }

    /// The gate for a registered, validated version: reject it if validation failed, else
    /// ask the approval gate and, when approved, deploy it and move the serving alias.
    /// `reference` becomes the drift baseline if it is deployed.
    pub(super) async fn gate_and_deploy(
        &self,
        trace: &str,
        version: &ModelVersion,
        validation: &ValidationReport,
        trigger: Trigger,
        reference: &Dataset,
    ) -> Result<TrainingDecision> {
        let cfg = &self.config;
        let ev = &self.events;
        if !validation.promote {
            let reason = validation
                .first_failure()
                .map_or_else(|| "validation failed".to_string(), |c| c.detail.clone());
            self.set_status(
                trace,
                version.version,
                VersionStatus::Rejected,
                &cfg.actor,
                &reason,
            )
            .await
            .map_err(|e| e.in_stage(Stage::Approve))?;
            ev.finished(Stage::Approve, trace, &format!("rejected: {reason}"));
            let failed: Vec<_> = validation.checks.iter().filter(|c| !c.passed).collect();
            let details = serde_json::json!({ "failed_checks": failed, "candidate": validation.candidate, "champion": validation.champion });
            let msg = format!(
                "{} was rejected by validation ({reason}); review the training data or the trainer before retrying",
                ev.version_ref(version.version)
            );
            ev.raise(
                trace,
                AlertKind::ValidationFailed,
                Severity::Warning,
                version.version,
                msg,
                details,
            )
            .await
            .map_err(|e| e.in_stage(Stage::Approve))?;
            return Ok(TrainingDecision::Rejected { reason });
        }
        let decision = ev
            .attempt(
                Stage::Approve,
                trace,
                self.approval.review(&ApprovalRequest {
                    version: version.clone(),
                    validation: validation.clone(),
                    trigger,
                }),
            )
            .await?;
        match decision {
            ApprovalDecision::Pending => {
                self.state_store
                    .request(&ApprovalRecord {
                        model: cfg.model_name.clone(),
                        version: version.version,
                        requested_at: self.clock.now(),
                        trigger: trigger.as_str().into(),
                        summary: validation_summary(validation),
                        status: ApprovalStatus::Pending,
                        decided_by: None,
                        decided_at: None,
                        reason: None,
                        applied_at: None,
                    })
                    .map_err(|e| e.in_stage(Stage::Approve))?;
                self.lock().pending.insert(
                    version.version,
                    Candidate {
                        training_data: reference.clone(),
                    },
                );
                ev.emit(
                    trace,
                    vec![ev.version_ref(version.version)],
                    AuditEvent::ApprovalRequested(ApprovalRequested {
                        model_name: cfg.model_name.clone(),
                        version: version.version,
                        trigger: trigger.as_str().into(),
                    }),
                )
                .await
                .map_err(|e| e.in_stage(Stage::Approve))?;
                ev.finished(Stage::Approve, trace, "waiting for a human decision");
                let msg = format!(
                    "{} passed validation and waits for approval: approve or reject it",
                    ev.version_ref(version.version)
                );
                ev.raise(trace, AlertKind::ApprovalNeeded, Severity::Info, version.version, msg, serde_json::json!({ "candidate": validation.candidate, "champion": validation.champion }))
                    .await
                    .map_err(|e| e.in_stage(Stage::Approve))?;
                Ok(TrainingDecision::AwaitingApproval)
            }
            ApprovalDecision::Rejected { actor, reason } => {
                self.set_status(
                    trace,
                    version.version,
                    VersionStatus::Rejected,
                    &actor,
                    &reason,
                )
                .await
                .map_err(|e| e.in_stage(Stage::Approve))?;
                ev.finished(
                    Stage::Approve,
                    trace,
                    &format!("rejected by {actor}: {reason}"),
                );
                Ok(TrainingDecision::Rejected { reason })
            }
            ApprovalDecision::Approved { actor, reason } => {
                ev.finished(
                    Stage::Approve,
                    trace,
                    &format!("approved by {actor}: {reason}"),
                );
                let deployment = self
                    .promote(
                        trace,
                        version.version,
                        &actor,
                        &reason,
                        Some(reference.clone()),
                    )
                    .await?;
                if deployment.deployer == super::canary::CANARY_DEPLOYER {
                    return Ok(TrainingDecision::Canary {
                        deployment,
                        approved_by: actor,
                        reason,
                    });
                }
                Ok(TrainingDecision::Promoted {
                    deployment,
                    approved_by: actor,
                    reason,
                })
            }
        }
    }

    pub(super) async fn set_status(
        &self,
        trace: &str,
        version: u32,
        status: VersionStatus,
        actor: &str,
        reason: &str,
    ) -> Result<()> {
        let c = in_trace(
            trace,
            self.registry.set_status(
                &self.config.model_name,
                version,
                status,
                Change::new(actor, reason),
            ),
        )
        .await?;
        self.events
            .registry_change(trace, |t| audit_records::status_changed(&c, t))
            .await
    }

    /// Record a human decision on a pending version of this lifecycle's model (durably,
    /// audited as `approval.decided`) and claim it for applying; `Ok(false)` when another
    /// caller applied it first.
    async fn decide_and_claim(
        &self,
        version: u32,
        approved: bool,
        actor: &str,
        reason: &str,
    ) -> Result<bool> {
        let model = &self.config.model_name;
        let now = self.clock.now();
        let known = self.state_store.approval(model, version)?;
        if known.is_none() && !self.lock().pending.contains_key(&version) {
            return Err(Error::not_found(
                "pending version",
                self.events.version_ref(version),
                "only versions awaiting approval can be approved or rejected; list them with \
                 `mlcycle pending`",
            ));
        }
        if known.is_some() {
            let decision = Decision {
                model: model.clone(),
                version,
                approved,
                by: actor.to_string(),
                reason: reason.to_string(),
            };
            record_decision(
                self.state_store.as_ref(),
                self.audit.as_ref(),
                &decision,
                now,
            )
            .await?;
            return self.state_store.claim(model, version, now);
        }
        Ok(true)
    }

    /// Approve a pending version (a human decision): it is deployed and the serving alias
    /// moves. Works after a restart: the request is a row of the state store, and the drift
    /// baseline of a version approved then is the reference profile stored in its artifact.
    pub async fn approve(&self, version: u32, actor: &str, reason: &str) -> Result<DeploymentInfo> {
        let trace = self.new_trace("approve");
        if !self.decide_and_claim(version, true, actor, reason).await? {
            return Err(Error::Conflict(format!(
                "{} was approved and released by another caller",
                self.events.version_ref(version)
            )));
        }
        let cand = self.lock().pending.remove(&version);
        self.promote(
            &trace,
            version,
            actor,
            reason,
            cand.map(|c| c.training_data),
        )
        .await
    }

    /// Reject a pending version (a human decision); works after a restart too.
    pub async fn reject(&self, version: u32, actor: &str, reason: &str) -> Result<()> {
        let trace = self.new_trace("reject");
        if !self.decide_and_claim(version, false, actor, reason).await? {
            return Err(Error::Conflict(format!(
                "{} was rejected by another caller",
                self.events.version_ref(version)
            )));
        }
        self.lock().pending.remove(&version);
        self.set_status(&trace, version, VersionStatus::Rejected, actor, reason)
            .await
    }

    /// Apply the decisions recorded from outside this process ([`record_decision`], i.e.
    /// `mlcycle approve` / `mlcycle reject`, the HTTP admin API, a library call) that no one
    /// has applied yet: an approved version is deployed and the serving alias moves (as
    /// [`Lifecycle::approve`]), a rejected one is marked rejected in the registry. Each
    /// decision is applied exactly once, even when several callers race. A controller calls
    /// this every poll.
    pub async fn apply_decisions(&self) -> Result<Vec<AppliedDecision>> {
        let model = &self.config.model_name;
        let mut applied = Vec::new();
        for rec in self.state_store.approvals(Some(model))? {
            if rec.status == ApprovalStatus::Pending || rec.applied_at.is_some() {
                continue;
            }
            if !self
                .state_store
                .claim(model, rec.version, self.clock.now())?
            {
                continue;
            }
            let actor = rec.decided_by.clone().unwrap_or_default();
            let reason = rec.reason.clone().unwrap_or_default();
            let cand = self.lock().pending.remove(&rec.version);
            let deployment = match rec.status {
                ApprovalStatus::Approved => {
                    let trace = self.new_trace("approve");
                    Some(
                        self.promote(
                            &trace,
                            rec.version,
                            &actor,
                            &reason,
                            cand.map(|c| c.training_data),
                        )
                        .await?,
                    )
                }
                _ => {
                    let trace = self.new_trace("reject");
                    self.set_status(
                        &trace,
                        rec.version,
                        VersionStatus::Rejected,
                        &actor,
                        &reason,
                    )
                    .await?;
                    None
                }
            };
            applied.push(AppliedDecision {
                record: rec,
                deployment,
            });
        }
        Ok(applied)
    }

    /// The approval requests of this lifecycle's model still waiting for a person.
    pub fn pending_approvals(&self) -> Result<Vec<ApprovalRecord>> {
        Ok(self
            .state_store
            .approvals(Some(&self.config.model_name))?
            .into_iter()
            .filter(|r| r.status == ApprovalStatus::Pending)
            .collect())
    }

    /// The release pipeline for versions registered outside this lifecycle (by `mlcycle
    /// train`, another process or another team's trainer): for every `VersionCreated` event
    /// of this lifecycle's model after `cursor` whose version is still `pending_approval`,
    /// validate it against the champion on `holdout`, ask the approval gate, and deploy it
    /// when approved. Returns the cursor to pass next time (events are replayable, so a
    /// restarted pipeline misses nothing) and what happened to each version.
    ///
    /// The lifecycle does not have the training data of such a version, so when it is
    /// deployed `holdout` (recent labelled data) becomes its drift baseline.
    pub async fn release_registered(
        &self,
        cursor: u64,
        holdout: &Dataset,
    ) -> Result<(u64, Vec<ReleaseOutcome>)> {
        let cfg = &self.config;
        let ev = &self.events;
        let mut next = cursor;
        let mut outcomes = Vec::new();
        for event in self.registry.events_since(cursor).await? {
            next = next.max(event.seq);
            let RegistryEventKind::VersionCreated { name, version } = &event.kind else {
                continue;
            };
            if *name != cfg.model_name
                || self.lock().pending.contains_key(version)
                || self.state_store.approval(name, *version)?.is_some()
            {
                continue;
            }
            let mv = match self.registry.get_version(name, *version).await {
                Ok(mv) => mv,
                Err(Error::NotFound { .. }) => continue, // deleted since
                Err(e) => return Err(e),
            };
            if mv.status != VersionStatus::PendingApproval {
                continue;
            }
            let trace = self.new_trace("release");
            let champion = self
                .champion()
                .await
                .map_err(|e| e.in_stage(Stage::Validate))?;
            let validation = ev
                .attempt(Stage::Validate, &trace, async {
                    let candidate = load_model(self.registry.as_ref(), &mv).await?;
                    let champ_model =
                        load_champion(self.registry.as_ref(), champion.as_ref()).await?;
                    let r = self
                        .validator
                        .validate(candidate, champ_model, holdout)
                        .await?;
                    ev.emit(
                        &trace,
                        vec![ev.version_ref(*version), holdout.id().to_string()],
                        AuditEvent::ValidationCompleted(ValidationCompleted {
                            model_name: cfg.model_name.clone(),
                            champion: champion.as_ref().map(|c| c.version),
                            decision: ValidationVerdict::of(r.promote),
                            report: serde_json::to_value(&r)?,
                            version: Some(*version),
                            trigger: Some(Trigger::RegistryEvent.as_str().into()),
                            candidate: None,
                            champion_model: None,
                            holdout: None,
                        }),
                    )
                    .await?;
                    Ok(r)
                })
                .await?;
            let decision = self
                .gate_and_deploy(&trace, &mv, &validation, Trigger::RegistryEvent, holdout)
                .await?;
            outcomes.push(ReleaseOutcome {
                trace_id: trace,
                version: mv,
                champion_version: champion.map(|c| c.version),
                validation,
                decision,
            });
        }
        Ok((next, outcomes))
    }

    /// Release an approved `version`: through a canary when the configuration asks for one
    /// and a champion serves (see [`Lifecycle::settle_canary`]), else at once
    /// ([`Lifecycle::promote_now`]).
    async fn promote(
        &self,
        trace: &str,
        version: u32,
        actor: &str,
        reason: &str,
        training_data: Option<Dataset>,
    ) -> Result<DeploymentInfo> {
        if let Some(policy) = &self.config.canary
            && let Some(champion) = self.champion().await?.map(|c| c.version)
            && champion != version
        {
            self.set_status(trace, version, VersionStatus::Approved, actor, reason)
                .await
                .map_err(|e| e.in_stage(Stage::Approve))?;
            return self
                .start_canary(trace, version, champion, actor, reason, policy)
                .await;
        }
        self.promote_now(trace, version, actor, reason, training_data)
            .await
    }

    /// Approve `version`, deploy it, record the deployment (and the one it replaces) and
    /// move the serving alias; `training_data` becomes the drift baseline (without it, the
    /// reference profile stored in the version's artifact).
    pub(super) async fn promote_now(
        &self,
        trace: &str,
        version: u32,
        actor: &str,
        reason: &str,
        training_data: Option<Dataset>,
    ) -> Result<DeploymentInfo> {
        let cfg = &self.config;
        let ev = &self.events;
        self.set_status(trace, version, VersionStatus::Approved, actor, reason)
            .await
            .map_err(|e| e.in_stage(Stage::Approve))?;
        let deployment = ev
            .stage(
                Stage::Deploy,
                trace,
                async {
                    let previous = self.deployer.current().await;
                    let model = self
                        .registry
                        .load_artifact(&cfg.model_name, version)
                        .await?
                        .into_model()?;
                    let info = self
                        .deployer
                        .deploy(DeployRequest {
                            model_name: cfg.model_name.clone(),
                            version,
                            model,
                        })
                        .await?;
                    let replaces = previous.as_ref().map(|p| p.version);
                    if let Some(p) =
                        previous.filter(|p| p.version != version || p.model_name != cfg.model_name)
                    {
                        ev.emit(
                            trace,
                            vec![format!("{}/{}", p.model_name, p.version)],
                            stopped(&p, format!("replaced by version {version}"), Some(version)),
                        )
                        .await?;
                    }
                    ev.emit(
                        trace,
                        vec![ev.version_ref(version)],
                        AuditEvent::DeploymentStarted(DeploymentStarted {
                            deployer: info.deployer.clone(),
                            endpoint: info.endpoint.clone(),
                            model_name: info.model_name.clone(),
                            version: info.version,
                            since: info.since,
                            approved_by: actor.to_string(),
                            replaces,
                        }),
                    )
                    .await?;
                    Ok(info)
                },
                |d| {
                    format!(
                        "{} serving {} via {}",
                        d.endpoint,
                        ev.version_ref(version),
                        d.deployer
                    )
                },
            )
            .await?;
        ev.stage(
            Stage::Promote,
            trace,
            async {
                let c = in_trace(
                    trace,
                    self.registry.set_alias(
                        &cfg.model_name,
                        &cfg.serving_alias,
                        version,
                        Change::new(actor, reason),
                    ),
                )
                .await?;
                ev.registry_change(trace, |t| audit_records::alias_changed(&c, t))
                    .await
            },
            |_| {
                format!(
                    "{}@{} → version {version}",
                    cfg.model_name, cfg.serving_alias
                )
            },
        )
        .await?;
        let msg = format!(
            "{} is now served as {}@{} (approved by {actor})",
            ev.version_ref(version),
            cfg.model_name,
            cfg.serving_alias
        );
        ev.raise(trace, AlertKind::Released, Severity::Info, version, msg, serde_json::json!({ "alias": cfg.serving_alias, "approved_by": actor, "reason": reason }))
            .await
            .map_err(|e| e.in_stage(Stage::Promote))?;
        let now = self.clock.now();
        {
            let mut st = self.lock();
            st.reference = training_data.map(|d| (version, d));
            st.episode = std::mem::take(&mut st.episode).deployed(now);
        }
        self.persist_state()
            .map_err(|e| e.in_stage(Stage::Promote))?;
        Ok(deployment)
    }

    /// Stop serving (the deployer flushes its prediction log) and record who stopped it
    /// and why. Returns what was serving, if anything.
    pub async fn undeploy(&self, actor: &str, reason: &str) -> Result<Option<DeploymentInfo>> {
        let trace = self.new_trace("undeploy");
        let current = self.deployer.current().await;
        self.deployer
            .undeploy()
            .await
            .map_err(|e| e.in_stage(Stage::Deploy))?;
        if let Some(p) = &current {
            self.events
                .emit_as(
                    actor,
                    &trace,
                    vec![format!("{}/{}", p.model_name, p.version)],
                    stopped(p, reason.to_string(), None),
                )
                .await
                .map_err(|e| e.in_stage(Stage::Deploy))?;
        }
        Ok(current)
    }
}

/// A decision recorded from outside that [`Lifecycle::apply_decisions`] applied.
#[derive(Debug, Clone)]
pub struct AppliedDecision {
    /// The approval row as it was decided.
    pub record: ApprovalRecord,
    /// The deployment, when the version was approved.
    pub deployment: Option<DeploymentInfo>,
}
