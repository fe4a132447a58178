//! The monitoring stage: gather a window's report against the serving version's baseline,
//! [`decide`](super::decide::decide) what to do, then act (record, alert, retrain).

use super::decide::{EpisodeState, Policy, Verdict, WindowSummary, decide, retrain_data_verdict};
use super::observer::Alert;
use super::outcome::{MonitoringDecision, MonitoringOutcome, TrainingDecision};
use super::{Lifecycle, Stage, Trigger};
use crate::Result;
use crate::audit::AuditEvent;
use crate::audit::event::{DriftChecked, MonitoringDecided, RetrainDecided};
use crate::data::{Dataset, Schema};
use crate::drift::DatasetProfile;
use crate::model::ReferenceOutputs;
use crate::monitor::{GroundTruth, Monitor, MonitorReport};
use crate::registry::RegistryExt;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A serving version's drift baseline as stored in its artifact.
#[derive(Debug)]
pub(super) struct StoredReference {
    pub(super) profile: DatasetProfile,
    /// The model's input columns.
    pub(super) inputs: Schema,
    /// The model's outputs on its validation data, if the artifact keeps them (the
    /// baseline of prediction drift and estimated performance, whatever the inputs'
    /// baseline).
    pub(super) outputs: Option<Arc<ReferenceOutputs>>,
}

/// What the monitoring cycle compares a window with.
enum Baseline {
    /// The raw training data (full method set).
    Data(Dataset),
    /// The reference profile stored with the version (binned methods).
    Profile(Arc<StoredReference>),
}

impl Baseline {
    fn name(&self) -> &'static str {
        match self {
            Baseline::Data(_) => "training data",
            Baseline::Profile(_) => "stored reference profile",
        }
    }
}

fn drift_checked(report: &MonitorReport, baseline: &Baseline) -> Result<AuditEvent> {
    Ok(AuditEvent::DriftChecked(DriftChecked {
        from: report.from,
        to: report.to,
        baseline: baseline.name().into(),
        health: serde_json::to_value(&report.health)?,
        dataset_drift: report.drift.as_ref().map(|d| d.dataset_drift),
        drifted_columns: report
            .drift
            .as_ref()
            .map(|d| d.drifted().map(|c| c.name.clone()).collect()),
        quality_faults: serde_json::to_value(&report.quality_faults)?,
        skipped: report.skipped.clone(),
        performance: report
            .performance
            .as_ref()
            .map(serde_json::to_value)
            .transpose()?,
    }))
}

fn monitor_summary(report: &MonitorReport) -> String {
    match &report.drift {
        Some(d) => format!(
            "{} rows, {}/{} columns drifted",
            report.health.rows,
            d.drifted_columns,
            d.columns.len()
        ),
        None => format!("{} rows, drift check skipped", report.health.rows),
    }
}

impl Lifecycle {
    /// Set the drift baseline of the serving version to its raw training data (named in the
    /// version's lineage). Without it, the monitoring cycle uses the reference profile
    /// stored in the serving version's artifact, which every version trained by the
    /// lifecycle has; the raw data allows the full method set (e.g. the KS test).
    pub fn set_reference(&self, version: u32, training_data: Dataset) {
        self.lock().reference = Some((version, training_data));
    }

    /// The drift-episode and cooldown state the next monitoring window starts from.
    pub fn episode(&self) -> EpisodeState {
        self.lock().episode.clone()
    }

    /// Resume from a saved drift-episode and cooldown state.
    /// (The state store keeps it too; this sets the in-memory copy, written to the store at
    /// the next change.)
    pub fn restore_episode(&self, state: EpisodeState) {
        self.lock().episode = state;
    }

    /// Look up which version served `alias` at time `t`.
    pub async fn serving_version_at(&self, t: DateTime<Utc>) -> Result<Option<u32>> {
        self.registry
            .alias_at(&self.config.model_name, &self.config.serving_alias, t)
            .await
    }

    /// The reference profile stored with the serving version, or why there is none.
    async fn stored_reference(
        &self,
    ) -> Result<std::result::Result<(u32, Arc<StoredReference>), String>> {
        let Some(champion) = self.champion().await? else {
            return Ok(Err("no deployed version with a training baseline".into()));
        };
        let v = champion.version;
        if let Some((cached, r)) = &self.lock().stored_reference
            && *cached == v
        {
            return Ok(Ok((v, r.clone())));
        }
        let artifact = self
            .registry
            .load_artifact(&self.config.model_name, v)
            .await?;
        let Some(profile) = artifact.reference_profile() else {
            return Ok(Err(format!(
                "{} has no stored reference profile; give the lifecycle its training data with \
                 `set_reference`",
                self.events.version_ref(v)
            )));
        };
        let stored = Arc::new(StoredReference {
            profile: profile.clone(),
            inputs: artifact.signature().inputs.clone(),
            outputs: artifact.reference_outputs().cloned().map(Arc::new),
        });
        self.lock().stored_reference = Some((v, stored.clone()));
        Ok(Ok((v, stored)))
    }

    /// The serving version and its baseline, or why there is none.
    async fn baseline(&self) -> Result<std::result::Result<(u32, Baseline), String>> {
        let in_memory = self.lock().reference.clone();
        Ok(match in_memory {
            Some((v, data)) => Ok((v, Baseline::Data(data))),
            None => self
                .stored_reference()
                .await?
                .map(|(v, p)| (v, Baseline::Profile(p))),
        })
    }

    /// Run a monitoring cycle over the prediction-log window `[from, to)`.
    ///
    /// The lifecycle's collector (if it was given one) is flushed first, so the window
    /// holds every call scored before this one. The drift baseline is the serving
    /// version's training data when the lifecycle holds it (after a promotion in this
    /// process, or [`Lifecycle::set_reference`]); otherwise the reference profile stored in
    /// the serving version's artifact (every version this lifecycle trains has one), so a
    /// restarted process resumes monitoring by itself. The `drift.checked` audit record
    /// names the baseline used. With neither, the cycle is skipped with the reason.
    ///
    /// What to do is decided by [`decide`](super::decide::decide) from the window, the
    /// drift episode so far ([`Lifecycle::episode`]) and the settings.
    pub async fn run_monitoring(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MonitoringOutcome> {
        let trace = self.new_trace("monitor");
        let cfg = &self.config;
        let ev = &self.events;
        let (ref_version, baseline) = match self
            .baseline()
            .await
            .map_err(|e| e.in_stage(Stage::Monitor))?
        {
            Ok(b) => b,
            Err(reason) => {
                return Ok(MonitoringOutcome {
                    trace_id: trace,
                    report: None,
                    alerts: vec![],
                    decision: MonitoringDecision::Skipped { reason },
                });
            }
        };
        let subject = ev.version_ref(ref_version);

        // Gather: the window's report (with realized performance when labels arrive).
        let mut monitor = Monitor::new(
            self.prediction_log.clone(),
            self.detector.clone(),
            cfg.monitor.clone(),
        );
        if let Some(labels) = &self.labels {
            let ground_truth = async {
                let mv = self
                    .registry
                    .get_version(&cfg.model_name, ref_version)
                    .await?;
                let model = self
                    .registry
                    .load_artifact(&cfg.model_name, ref_version)
                    .await?
                    .into_model()?;
                Ok::<_, crate::Error>(GroundTruth {
                    labels: labels.clone(),
                    version: ref_version,
                    model,
                    baseline: mv.metrics,
                })
            }
            .await
            .map_err(|e| e.in_stage(Stage::Monitor))?;
            monitor = monitor.with_ground_truth(ground_truth);
        }
        // Prediction drift and estimated performance against the serving version's
        // validation outputs, whichever baseline the inputs are compared with.
        let stored = match &baseline {
            Baseline::Profile(p) => Some(p.clone()),
            Baseline::Data(_) => match self
                .stored_reference()
                .await
                .map_err(|e| e.in_stage(Stage::Monitor))?
            {
                Ok((v, p)) if v == ref_version => Some(p),
                _ => None,
            },
        };
        if let Some(outputs) = stored.as_ref().and_then(|p| p.outputs.clone()) {
            monitor = monitor.with_reference_outputs(ref_version, outputs);
        }
        let report = ev
            .attempt(Stage::Monitor, &trace, async {
                if let Some(c) = &self.collector {
                    c.flush().await?;
                }
                match &baseline {
                    Baseline::Data(d) => monitor.check(d, from, to).await,
                    Baseline::Profile(p) => {
                        monitor
                            .check_against_profile(&p.profile, &p.inputs, from, to)
                            .await
                    }
                }
            })
            .await?;
        ev.emit(
            &trace,
            vec![subject.clone()],
            drift_checked(&report, &baseline)?,
        )
        .await
        .map_err(|e| e.in_stage(Stage::Monitor))?;
        ev.finished(Stage::Monitor, &trace, &monitor_summary(&report));

        // Decide.
        ev.observer().stage_started(Stage::Decide, &trace);
        let policy = Policy::of(cfg, self.data_source.is_some());
        let window = WindowSummary {
            from,
            to,
            ..WindowSummary::of(&report, ref_version)
        };
        let decision = {
            let mut st = self.lock();
            let (decision, next) = decide(&window, &st.episode, &policy);
            st.episode = next;
            decision
        };
        self.persist_state()
            .map_err(|e| e.in_stage(Stage::Decide))?;
        // Health limits and the active probe: alerts, never a change of verdict.
        let mut specs = decision.alerts;
        specs.extend(super::health::health_alerts(&report.health, &cfg.health));
        if cfg.health.probe {
            let source = match &baseline {
                Baseline::Data(d) => super::health::ProbeSource::Data(d),
                Baseline::Profile(p) => super::health::ProbeSource::Profile(p),
            };
            specs.extend(self.probe(source, &trace).await);
        }
        let alerts: Vec<Alert> = specs.into_iter().map(|a| ev.alert(&trace, a)).collect();

        // Act.
        let decision = match decision.verdict {
            Verdict::NoAction => MonitoringDecision::NoAction,
            Verdict::Skipped { reason } => MonitoringDecision::Skipped { reason },
            Verdict::DataQualityFault { reason } => MonitoringDecision::DataQualityFault { reason },
            Verdict::DriftAlert { reason } => MonitoringDecision::DriftAlert { reason },
            Verdict::ExpectedShift { reason } => MonitoringDecision::ExpectedShift { reason },
            Verdict::Retrain {
                data_from,
                data_to,
                drifted,
            } => match &self.data_source {
                None => MonitoringDecision::DriftAlert {
                    reason: "no training data source is configured to retrain from".into(),
                },
                Some(src) => {
                    let data = src
                        .labelled(data_from, data_to)
                        .await
                        .map_err(|e| e.in_stage(Stage::Decide))?;
                    if let Some(reason) = retrain_data_verdict(data.n_rows(), data_from, &policy) {
                        MonitoringDecision::DriftAlert { reason }
                    } else {
                        ev.emit(
                            &trace,
                            vec![subject.clone(), data.id().to_string()],
                            AuditEvent::RetrainDecided(RetrainDecided {
                                reason: match (&window.performance_drop, window.dataset_drift) {
                                    (None, _) => "dataset drift".into(),
                                    (Some(_), true) => "dataset drift and performance drop".into(),
                                    (Some(_), false) => {
                                        "concept drift: performance drop with stable inputs".into()
                                    }
                                },
                                drifted,
                                data_from,
                                data_to,
                                rows: data.n_rows(),
                            }),
                        )
                        .await
                        .map_err(|e| e.in_stage(Stage::Decide))?;
                        ev.finished(
                            Stage::Decide,
                            &trace,
                            &format!(
                                "retrain on {} labelled rows from {} to {}",
                                data.n_rows(),
                                data_from.format("%Y-%m-%d"),
                                data_to.format("%Y-%m-%d")
                            ),
                        );
                        let outcome = self
                            .run_training_traced(&data, Trigger::DriftAlert, &trace)
                            .await?;
                        if matches!(
                            outcome.decision,
                            TrainingDecision::Promoted { .. } | TrainingDecision::Canary { .. }
                        ) {
                            {
                                let mut st = self.lock();
                                st.episode = std::mem::take(&mut st.episode).retrained(to);
                            }
                            self.persist_state()
                                .map_err(|e| e.in_stage(Stage::Decide))?;
                        }
                        ev.record_alerts(&trace, &subject, &alerts).await?;
                        return Ok(MonitoringOutcome {
                            trace_id: trace,
                            report: Some(report),
                            alerts,
                            decision: MonitoringDecision::Retrained {
                                outcome: Box::new(outcome),
                            },
                        });
                    }
                }
            },
        };
        let (summary, recorded) = match &decision {
            MonitoringDecision::NoAction => ("no action".to_string(), None),
            MonitoringDecision::Skipped { reason } => (format!("skipped: {reason}"), None),
            MonitoringDecision::DataQualityFault { reason } => (
                format!("data-quality fault, no retrain: {reason}"),
                Some(("data_quality_fault", reason)),
            ),
            MonitoringDecision::DriftAlert { reason } => (
                format!("drift alert, no retrain: {reason}"),
                Some(("drift_alert", reason)),
            ),
            MonitoringDecision::ExpectedShift { reason } => (
                format!("seasonal shift, expected, no action: {reason}"),
                Some(("expected_shift", reason)),
            ),
            MonitoringDecision::Retrained { .. } => ("retrained".to_string(), None),
        };
        if let Some((name, reason)) = recorded {
            ev.emit(
                &trace,
                vec![subject.clone()],
                AuditEvent::MonitoringDecided(MonitoringDecided {
                    decision: name.into(),
                    reason: Some(reason.clone()),
                    outcome: None,
                }),
            )
            .await
            .map_err(|e| e.in_stage(Stage::Decide))?;
        }
        ev.finished(Stage::Decide, &trace, &summary);
        ev.record_alerts(&trace, &subject, &alerts)
            .await
            .map_err(|e| e.in_stage(Stage::Decide))?;
        Ok(MonitoringOutcome {
            trace_id: trace,
            report: Some(report),
            alerts,
            decision,
        })
    }
}
