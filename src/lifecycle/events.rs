//! Where a stage's events go: the audit trail and the [`Observer`], from one place.

use super::observer::{Alert, AlertKind, Observer, Severity};
use super::{Stage, decide::AlertSpec};
use crate::Result;
use crate::alerts::AlertDispatcher;
use crate::audit::{AuditEntry, AuditEvent, AuditLog};
use crate::clock::Clock;
use std::future::Future;
use std::sync::Arc;

/// The sink of a run's events: each stage appends its typed [`AuditEvent`]s here and
/// reports its start, end (with a summary) or failure to the observer here.
#[derive(Debug, Clone)]
pub struct StageEvents {
    audit: Arc<dyn AuditLog>,
    registry_audits: bool,
    observer: Arc<dyn Observer>,
    clock: Arc<dyn Clock>,
    actor: String,
    model_name: String,
    alerts: Option<Arc<AlertDispatcher>>,
}

impl StageEvents {
    /// Events appended to `audit` as `actor`, about `model_name`, reported to `observer`.
    /// `registry_audits`: the registry appends the records of its own changes (atomically
    /// with them, see `Registry::audit_log`), so the stages do not append them again.
    pub fn new(
        audit: Arc<dyn AuditLog>,
        registry_audits: bool,
        observer: Arc<dyn Observer>,
        clock: Arc<dyn Clock>,
        actor: impl Into<String>,
        model_name: impl Into<String>,
    ) -> Self {
        StageEvents {
            audit,
            registry_audits,
            observer,
            clock,
            actor: actor.into(),
            model_name: model_name.into(),
            alerts: None,
        }
    }

    /// The same events, with alerts also handed to `alerts` (owner, dedup, sinks).
    pub fn with_alerts(mut self, alerts: Option<Arc<AlertDispatcher>>) -> Self {
        self.alerts = alerts;
        self
    }

    /// Raise an event alert (`validation_failed`, `approval_needed`, `released`,
    /// `rolled_back`) about `version`: shown to the observer, recorded (`alert.raised`) and
    /// handed to the dispatcher.
    pub async fn raise(
        &self,
        trace: &str,
        kind: AlertKind,
        severity: Severity,
        version: u32,
        message: String,
        details: serde_json::Value,
    ) -> Result<Alert> {
        let mut a = Alert::new(
            self.clock.now(),
            severity,
            kind,
            self.model_name.clone(),
            message,
            trace,
        );
        a.version = Some(version);
        a.details = details;
        self.observer.alert(&a);
        self.record_alerts(trace, &self.version_ref(version), std::slice::from_ref(&a))
            .await?;
        Ok(a)
    }

    /// The observer.
    pub fn observer(&self) -> &Arc<dyn Observer> {
        &self.observer
    }

    /// The actor recorded for the stages' own actions.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// `name/version` of this model.
    pub fn version_ref(&self, version: u32) -> String {
        format!("{}/{version}", self.model_name)
    }

    /// Append `event` about `subjects` to the trail, as the stages' actor.
    pub async fn emit(&self, trace: &str, subjects: Vec<String>, event: AuditEvent) -> Result<()> {
        self.emit_as(&self.actor, trace, subjects, event).await
    }

    /// Append `event` as `actor` (a human decision).
    pub async fn emit_as(
        &self,
        actor: &str,
        trace: &str,
        subjects: Vec<String>,
        event: AuditEvent,
    ) -> Result<()> {
        self.audit
            .append(AuditEntry::from_event(actor, subjects, &event, trace))
            .await
            .map(|_| ())
    }

    /// Append a `dataset.registered` record for `dataset`, unless the trail already holds
    /// one: a dataset (a content hash) is registered once and referred to after, however
    /// many runs train on it.
    pub async fn register_dataset(
        &self,
        trace: &str,
        dataset: &crate::data::DatasetId,
        event: AuditEvent,
    ) -> Result<()> {
        let known = self
            .audit
            .query(&crate::audit::AuditQuery {
                action: Some(event.action().to_string()),
                subject: Some(dataset.to_string()),
                ..Default::default()
            })
            .await?;
        if !known.is_empty() {
            return Ok(());
        }
        self.emit(trace, vec![dataset.to_string()], event).await
    }

    /// Append the record of a registry change, unless the registry already appended it.
    pub async fn registry_change(
        &self,
        trace: &str,
        entry: impl FnOnce(String) -> AuditEntry,
    ) -> Result<()> {
        if !self.registry_audits {
            self.audit.append(entry(trace.to_string())).await?;
        }
        Ok(())
    }

    /// Run one stage: report its start, run `work`, then report its end with the summary
    /// `summary` makes of the result, or its failure (the error is tagged with the stage).
    pub async fn stage<T, F>(
        &self,
        stage: Stage,
        trace: &str,
        work: F,
        summary: impl FnOnce(&T) -> String,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let v = self.attempt(stage, trace, work).await?;
        self.observer.stage_finished(stage, trace, &summary(&v));
        Ok(v)
    }

    /// Like [`StageEvents::stage`], leaving the end to the caller (a stage whose summary
    /// depends on what follows).
    pub async fn attempt<T, F>(&self, stage: Stage, trace: &str, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        self.observer.stage_started(stage, trace);
        match work.await {
            Ok(v) => Ok(v),
            Err(e) => {
                let e = e.in_stage(stage);
                self.observer.stage_failed(stage, trace, &e);
                // The run's earlier records describe work that did not complete: say so.
                // Best effort: when the trail itself is what failed, the error says that.
                let failed = AuditEvent::StageFailed(crate::audit::event::StageFailed {
                    stage: stage.to_string(),
                    error: e.to_string(),
                });
                if let Err(audit) = self
                    .emit(trace, vec![self.model_name.clone()], failed)
                    .await
                {
                    tracing::warn!(%stage, error = %e, audit_error = %audit,
                        "a stage failed and its failure could not be recorded in the audit trail");
                }
                Err(e)
            }
        }
    }

    /// Report a stage's end.
    pub fn finished(&self, stage: Stage, trace: &str, summary: &str) {
        self.observer.stage_finished(stage, trace, summary);
    }

    /// Raise an alert: stamped with the time, model and run, and shown to the observer.
    /// It is recorded with [`StageEvents::record_alerts`].
    pub fn alert(&self, trace: &str, spec: AlertSpec) -> Alert {
        let a = Alert::new(
            self.clock.now(),
            spec.severity,
            spec.kind,
            self.model_name.clone(),
            spec.message,
            trace,
        );
        self.observer.alert(&a);
        a
    }

    /// Append an `alert.raised` record of each alert, about `subject`.
    pub async fn record_alerts(&self, trace: &str, subject: &str, alerts: &[Alert]) -> Result<()> {
        for a in alerts {
            let event = AuditEvent::AlertRaised(crate::audit::event::AlertRaised {
                at: a.at,
                severity: a.severity.as_str().into(),
                kind: a.kind.as_str().into(),
                model_name: a.model_name.clone(),
                message: a.message.clone(),
                trace_id: a.trace_id.clone(),
            });
            self.emit(trace, vec![subject.to_string()], event).await?;
            if let Some(d) = &self.alerts {
                d.raise(a.clone()).await?;
            }
        }
        if let Some(d) = &self.alerts {
            // A monitoring cycle that no longer raises a condition has seen it clear:
            // its next occurrence is a new episode, alerted at once.
            for kind in [
                AlertKind::Drift,
                AlertKind::DataQuality,
                AlertKind::Health,
                AlertKind::Performance,
            ] {
                let monitoring = alerts.is_empty() || alerts.iter().any(|a| a.kind.is_condition());
                if monitoring && !alerts.iter().any(|a| a.kind == kind) {
                    d.clear(&self.model_name, kind, None).await?;
                }
            }
        }
        Ok(())
    }
}
