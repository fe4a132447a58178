//! The lifecycle orchestrator: a training cycle (quality check → train → validate against
//! the champion → register → approve → deploy → move the alias) and a monitoring cycle
//! (window of the prediction log → health + quality + drift → decide: nothing, alert, or
//! retrain on newer data).
//!
//! The orchestrator sees only the traits ([`Trainer`], [`Validator`], [`Registry`],
//! [`Deployer`], [`DriftDetector`], [`PredictionLog`], [`AuditLog`]); concrete backends
//! are assembled elsewhere (see [`crate::embedded`]).

mod approval;
mod observer;
mod stage;

pub use approval::{
    ApprovalDecision, ApprovalGate, ApprovalRequest, AutoApprove, RequireHumanApproval,
};
pub use observer::{Alert, AlertKind, NoopObserver, Observer, Severity};
pub use stage::Stage;

use crate::audit::{AuditEntry, AuditLog, in_trace};
use crate::clock::Clock;
use crate::collect::PredictionLog;
use crate::data::{Dataset, DatasetId, QualityReport, Schema};
use crate::deploy::{DeployRequest, Deployer, DeploymentInfo};
use crate::drift::{DatasetProfile, DriftDetector};
use crate::monitor::{Monitor, MonitorConfig, MonitorReport};
use crate::registry::{
    Change, Lineage, ModelVersion, NewVersion, Registry, RegistryExt, VersionStatus, audit_records,
};
use crate::train::{TrainContext, Trainer};
use crate::validate::{ValidationReport, Validator};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
        }
    }
}

/// Where the lifecycle gets newer labelled data to retrain on.
#[async_trait]
pub trait TrainingDataSource: Send + Sync + std::fmt::Debug {
    /// Labelled rows observed in `[from, to)`.
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset>;
}

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

#[derive(Debug, Clone)]
struct Candidate {
    training_data: Dataset,
}

/// A serving version's drift baseline as stored in its artifact.
#[derive(Debug)]
struct StoredReference {
    profile: DatasetProfile,
    /// The model's input columns.
    inputs: Schema,
}

/// What the monitoring cycle compares a window with.
enum Baseline {
    /// The raw training data (full method set).
    Data(Dataset),
    /// The reference profile stored with the version (binned methods).
    Profile(Arc<StoredReference>),
}

#[derive(Debug, Default)]
struct State {
    /// The training data of the version in production (the drift baseline).
    reference: Option<(u32, Dataset)>,
    /// The stored reference profile of the serving version, when there is no `reference`
    /// (loaded from its artifact, e.g. after a restart).
    stored_reference: Option<(u32, Arc<StoredReference>)>,
    /// Pending candidates' training data, by version.
    pending: BTreeMap<u32, Candidate>,
    last_deploy: Option<DateTime<Utc>>,
    /// End of the last monitoring window that showed no drift.
    last_clean: Option<DateTime<Utc>>,
    /// Where the current drift episode began (the end of the last clean window).
    drift_since: Option<DateTime<Utc>>,
}

/// The orchestrator. Build it with [`Lifecycle::builder`].
///
/// ```
/// use mlcycle::embedded::Stack;
/// use mlcycle::clock::SystemClock;
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::lifecycle::{LifecycleConfig, Trigger, TrainingDecision};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
/// let data = CreditDefault::new(1).sample(4_000, &DriftSpec::none(), 0).unwrap();
/// let outcome = stack.lifecycle.run_training(&data, Trigger::Manual).await.unwrap();
/// assert!(matches!(outcome.decision, TrainingDecision::Promoted { .. }));
/// assert_eq!(outcome.version.version, 1);
/// # });
/// ```
#[derive(Debug)]
pub struct Lifecycle {
    trainer: Arc<dyn Trainer>,
    validator: Arc<dyn Validator>,
    registry: Arc<dyn Registry>,
    deployer: Arc<dyn Deployer>,
    detector: Arc<dyn DriftDetector>,
    prediction_log: Arc<dyn PredictionLog>,
    audit: Arc<dyn AuditLog>,
    /// Whether the registry appends the records of its own changes (atomically with them).
    registry_audits: bool,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    approval: Arc<dyn ApprovalGate>,
    data_source: Option<Arc<dyn TrainingDataSource>>,
    config: LifecycleConfig,
    state: Mutex<State>,
    runs: AtomicU64,
}

/// Builder of a [`Lifecycle`]; every component is a trait object.
#[derive(Debug, Default)]
pub struct LifecycleBuilder {
    trainer: Option<Arc<dyn Trainer>>,
    validator: Option<Arc<dyn Validator>>,
    registry: Option<Arc<dyn Registry>>,
    deployer: Option<Arc<dyn Deployer>>,
    detector: Option<Arc<dyn DriftDetector>>,
    prediction_log: Option<Arc<dyn PredictionLog>>,
    audit: Option<Arc<dyn AuditLog>>,
    clock: Option<Arc<dyn Clock>>,
    observer: Option<Arc<dyn Observer>>,
    approval: Option<Arc<dyn ApprovalGate>>,
    data_source: Option<Arc<dyn TrainingDataSource>>,
}

macro_rules! setter {
    ($name:ident, $t:ty) => {
        #[doc = concat!("Set the `", stringify!($name), "`.")]
        pub fn $name(mut self, v: Arc<$t>) -> Self {
            self.$name = Some(v);
            self
        }
    };
}

impl LifecycleBuilder {
    setter!(trainer, dyn Trainer);
    setter!(validator, dyn Validator);
    setter!(registry, dyn Registry);
    setter!(deployer, dyn Deployer);
    setter!(detector, dyn DriftDetector);
    setter!(prediction_log, dyn PredictionLog);
    setter!(audit, dyn AuditLog);
    setter!(clock, dyn Clock);
    setter!(observer, dyn Observer);
    setter!(approval, dyn ApprovalGate);
    setter!(data_source, dyn TrainingDataSource);

    /// Build; every component except observer, approval gate and data source is required.
    ///
    /// The audit log may be left out when the registry records its own changes
    /// ([`Registry::audit_log`]): the lifecycle then appends everything else to that same
    /// log, so the whole run is one chain. Giving both is refused, since the lifecycle
    /// cannot tell whether they are the same log.
    pub fn build(self, config: LifecycleConfig) -> Result<Lifecycle> {
        fn need<T: ?Sized>(v: Option<Arc<T>>, what: &str) -> Result<Arc<T>> {
            v.ok_or_else(|| {
                Error::invalid("lifecycle", format!("no {what} was given to the builder"))
            })
        }
        crate::registry::validate_name(&config.model_name)?;
        crate::registry::validate_alias(&config.serving_alias)?;
        if !(config.holdout_fraction > 0.0 && config.holdout_fraction < 1.0) {
            return Err(Error::invalid("holdout_fraction", "must be in (0, 1)"));
        }
        if config.retrain_window_days < 1 {
            return Err(Error::invalid("retrain_window_days", "must be at least 1"));
        }
        let registry = need(self.registry, "registry")?;
        let registry_log = registry.audit_log();
        let registry_audits = registry_log.is_some();
        let audit = match (self.audit, registry_log) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "lifecycle",
                    "the registry records its changes in its own audit log and an audit log \
                     was also given; leave the builder's audit log unset so that every record \
                     of a run goes into the registry's log",
                ));
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => need(None, "audit log")?,
        };
        Ok(Lifecycle {
            trainer: need(self.trainer, "trainer")?,
            validator: need(self.validator, "validator")?,
            registry,
            deployer: need(self.deployer, "deployer")?,
            detector: need(self.detector, "drift detector")?,
            prediction_log: need(self.prediction_log, "prediction log")?,
            audit,
            registry_audits,
            clock: need(self.clock, "clock")?,
            observer: self.observer.unwrap_or_else(|| Arc::new(NoopObserver)),
            approval: self.approval.unwrap_or_else(|| Arc::new(AutoApprove)),
            data_source: self.data_source,
            config,
            state: Mutex::new(State::default()),
            runs: AtomicU64::new(0),
        })
    }
}

impl Lifecycle {
    /// A builder.
    pub fn builder() -> LifecycleBuilder {
        LifecycleBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// The deployer.
    pub fn deployer(&self) -> &Arc<dyn Deployer> {
        &self.deployer
    }

    /// The audit log.
    pub fn audit(&self) -> &Arc<dyn AuditLog> {
        &self.audit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_trace(&self, kind: &str) -> String {
        let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{kind}-{}-{n}", self.clock.now().format("%Y%m%dT%H%M%SZ"))
    }

    async fn record(
        &self,
        trace: &str,
        action: &str,
        subjects: Vec<String>,
        payload: serde_json::Value,
    ) -> Result<()> {
        self.record_as(&self.config.actor, trace, action, subjects, payload)
            .await
    }

    async fn record_as(
        &self,
        actor: &str,
        trace: &str,
        action: &str,
        subjects: Vec<String>,
        payload: serde_json::Value,
    ) -> Result<()> {
        self.audit
            .append(AuditEntry {
                actor: actor.into(),
                action: action.into(),
                subjects,
                payload,
                trace_id: trace.into(),
            })
            .await
            .map(|_| ())
    }

    /// Append the record of a registry change, unless the registry already appended it
    /// (atomically with the change).
    async fn record_change(
        &self,
        entry: impl FnOnce(String) -> AuditEntry,
        trace: &str,
    ) -> Result<()> {
        if !self.registry_audits {
            self.audit.append(entry(trace.to_string())).await?;
        }
        Ok(())
    }

    async fn stage<T, F>(&self, stage: Stage, trace: &str, fut: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        self.observer.stage_started(stage, trace);
        match fut.await {
            Ok(v) => Ok(v),
            Err(e) => {
                let e = e.in_stage(stage);
                self.observer.stage_failed(stage, trace, &e);
                Err(e)
            }
        }
    }

    fn version_ref(&self, v: u32) -> String {
        format!("{}/{v}", self.config.model_name)
    }

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

    /// Set the drift baseline of the serving version to its raw training data (named in the
    /// version's lineage). Without it, the monitoring cycle uses the reference profile
    /// stored in the serving version's artifact, which every version trained by the
    /// lifecycle has; the raw data allows the full method set (e.g. the KS test).
    pub fn set_reference(&self, version: u32, training_data: Dataset) {
        self.lock().reference = Some((version, training_data));
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
                self.version_ref(v)
            )));
        };
        let stored = Arc::new(StoredReference {
            profile: profile.clone(),
            inputs: artifact.signature().inputs.clone(),
        });
        self.lock().stored_reference = Some((v, stored.clone()));
        Ok(Ok((v, stored)))
    }

    /// Run a training cycle on labelled `data`.
    pub async fn run_training(&self, data: &Dataset, trigger: Trigger) -> Result<TrainingOutcome> {
        let trace = self.new_trace("train");
        self.run_training_traced(data, trigger, &trace).await
    }

    async fn run_training_traced(
        &self,
        data: &Dataset,
        trigger: Trigger,
        trace: &str,
    ) -> Result<TrainingOutcome> {
        let cfg = &self.config;
        // 1. Quality check.
        let quality = self
            .stage(Stage::QualityCheck, trace, async {
                if data.is_empty() {
                    return Err(Error::Data("the training dataset is empty".into()));
                }
                data.require_target()?;
                let q = QualityReport::of(data);
                self.record(trace, "dataset.registered", vec![data.id().to_string()], json!({
                    "source": data.source(), "hash": data.id(), "rows": data.n_rows(),
                    "features": data.schema().n_features(), "trigger": trigger,
                    "role": "source", "model_name": cfg.model_name,
                })).await?;
                self.record(trace, "data.quality_checked", vec![data.id().to_string()], serde_json::to_value(&q)?).await?;
                if let Some((col, frac)) = q.worst_missing().filter(|(_, f)| *f > cfg.max_missing_fraction) {
                    return Err(Error::Data(format!(
                        "column `{col}` is {:.0}% missing (limit {:.0}%); fix the data before training",
                        100.0 * frac, 100.0 * cfg.max_missing_fraction
                    )));
                }
                Ok(q)
            })
            .await?;
        self.observer.stage_finished(
            Stage::QualityCheck,
            trace,
            &format!(
                "{} rows, {} duplicate rows, worst missing share {:.1}%",
                quality.rows,
                quality.duplicate_rows,
                100.0 * quality.worst_missing().map_or(0.0, |w| w.1)
            ),
        );

        // 2. Train.
        let (train, holdout) = data
            .split(cfg.holdout_fraction, cfg.seed)
            .map_err(|e| e.in_stage(Stage::Train))?;
        let trained = self
            .stage(Stage::Train, trace, async {
                for (split, role, share) in [
                    (&train, "train", 1.0 - cfg.holdout_fraction),
                    (&holdout, "holdout", cfg.holdout_fraction),
                ] {
                    self.record(trace, "dataset.registered", vec![split.id().to_string()], json!({
                        "source": format!("{role} split ({:.0}%, seed {}) of {}", 100.0 * share, cfg.seed, data.source()),
                        "hash": split.id(), "rows": split.n_rows(),
                        "features": split.schema().n_features(), "trigger": trigger,
                        "role": role, "derived_from": data.id(), "model_name": cfg.model_name,
                    })).await?;
                }
                self.record(
                    trace,
                    "training.started",
                    vec![train.id().to_string()],
                    json!({
                        "trainer": self.trainer.name(), "train_rows": train.n_rows(),
                        "datasets": [data.id(), train.id()],
                        "holdout": holdout.id(), "code_version": cfg.code_version,
                        "seed": cfg.seed, "model_name": cfg.model_name,
                    }),
                )
                .await?;
                let observer = self.observer.clone();
                let progress_trace = trace.to_string();
                let ctx = TrainContext::with_seed(cfg.seed).with_progress(move |what, done, total| {
                    observer.progress(Stage::Train, &progress_trace, what, done, total)
                });
                let t = self.trainer.train(&train, &ctx).await?;
                self.record(
                    trace,
                    "training.finished",
                    vec![train.id().to_string()],
                    json!({
                        "algorithm": t.algorithm, "params": t.params,
                    }),
                )
                .await?;
                Ok(t)
            })
            .await?;
        self.observer.stage_finished(
            Stage::Train,
            trace,
            &format!("{} on {} rows", trained.algorithm, train.n_rows()),
        );

        // 3. Validate against the champion.
        let champion = self
            .champion()
            .await
            .map_err(|e| e.in_stage(Stage::Validate))?;
        let validation = self
            .stage(Stage::Validate, trace, async {
                let champ_model = match &champion {
                    Some(c) => Some(
                        self.registry
                            .load_artifact(&c.name, c.version)
                            .await?
                            .into_model()?,
                    ),
                    None => None,
                };
                let r = self
                    .validator
                    .validate_with_training(trained.model.clone(), champ_model, &holdout, &train)
                    .await?;
                self.record(
                    trace,
                    "validation.completed",
                    vec![holdout.id().to_string()],
                    json!({
                        "champion": champion.as_ref().map(|c| c.version),
                        "decision": if r.promote { "pass" } else { "fail" },
                        "report": r, "model_name": cfg.model_name,
                    }),
                )
                .await?;
                Ok(r)
            })
            .await?;
        self.observer.stage_finished(
            Stage::Validate,
            trace,
            &format!(
                "{}: {}",
                if validation.promote {
                    "passed"
                } else {
                    "failed"
                },
                validation
                    .checks
                    .iter()
                    .map(|c| c.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );

        // 4. Register.
        let version = self
            .stage(Stage::Register, trace, async {
                let mut tags = BTreeMap::new();
                tags.insert(
                    "trigger".to_string(),
                    serde_json::to_value(trigger)?
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
                tags.insert("trace_id".to_string(), trace.to_string());
                let mv = in_trace(
                    trace,
                    self.registry.register(
                        &cfg.model_name,
                        NewVersion {
                            artifact: trained
                                .model
                                .to_artifact()?
                                .with_reference_profile(DatasetProfile::reference(&train)?),
                            lineage: Lineage {
                                training_datasets: vec![data.id().clone(), train.id().clone()],
                                validation_dataset: Some(holdout.id().clone()),
                                parent_version: champion.as_ref().map(|c| c.version),
                                code_version: cfg.code_version.clone(),
                                trainer: trained.algorithm.clone(),
                                params: trained.params.clone(),
                                created_by: cfg.actor.clone(),
                            },
                            metrics: validation.version_metrics(),
                            tags,
                            description: format!(
                                "trained on {} ({} rows)",
                                data.source(),
                                train.n_rows()
                            ),
                        },
                    ),
                )
                .await?;
                self.record_change(|t| audit_records::version_registered(&mv, t), trace)
                    .await?;
                Ok(mv)
            })
            .await?;
        self.observer.stage_finished(
            Stage::Register,
            trace,
            &format!("registered {}", self.version_ref(version.version)),
        );

        let base = |decision| TrainingOutcome {
            trace_id: trace.to_string(),
            trigger,
            dataset: data.id().clone(),
            dataset_source: data.source().to_string(),
            quality: quality.clone(),
            train_rows: train.n_rows(),
            algorithm: trained.algorithm.clone(),
            validation: validation.clone(),
            version: version.clone(),
            champion_version: champion.as_ref().map(|c| c.version),
            decision,
        };

        // 5.–7. Approve, deploy, move the alias.
        let decision = self
            .gate_and_deploy(trace, &version, &validation, trigger, &train)
            .await?;
        Ok(base(decision))
    }

    /// Steps 5–7 for a registered, validated version: reject it if validation failed, else ask
    /// the approval gate and, when approved, deploy it and move the serving alias.
    /// `reference` becomes the drift baseline if it is deployed.
    async fn gate_and_deploy(
        &self,
        trace: &str,
        version: &ModelVersion,
        validation: &ValidationReport,
        trigger: Trigger,
        reference: &Dataset,
    ) -> Result<TrainingDecision> {
        let cfg = &self.config;
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
            self.observer
                .stage_finished(Stage::Approve, trace, &format!("rejected: {reason}"));
            return Ok(TrainingDecision::Rejected { reason });
        }
        let decision = self
            .stage(
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
                self.lock().pending.insert(
                    version.version,
                    Candidate {
                        training_data: reference.clone(),
                    },
                );
                self.record(
                    trace,
                    "approval.requested",
                    vec![self.version_ref(version.version)],
                    json!({"model_name": cfg.model_name, "version": version.version, "trigger": trigger}),
                )
                .await
                .map_err(|e| e.in_stage(Stage::Approve))?;
                self.observer
                    .stage_finished(Stage::Approve, trace, "waiting for a human decision");
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
                self.observer.stage_finished(
                    Stage::Approve,
                    trace,
                    &format!("rejected by {actor}: {reason}"),
                );
                Ok(TrainingDecision::Rejected { reason })
            }
            ApprovalDecision::Approved { actor, reason } => {
                self.observer.stage_finished(
                    Stage::Approve,
                    trace,
                    &format!("approved by {actor}: {reason}"),
                );
                let deployment = self
                    .promote(trace, version.version, &actor, &reason, reference.clone())
                    .await?;
                Ok(TrainingDecision::Promoted {
                    deployment,
                    approved_by: actor,
                    reason,
                })
            }
        }
    }

    async fn set_status(
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
        self.record_change(|t| audit_records::status_changed(&c, t), trace)
            .await
    }

    /// Approve a pending version (a human decision): it is deployed and the serving alias moves.
    pub async fn approve(&self, version: u32, actor: &str, reason: &str) -> Result<DeploymentInfo> {
        let trace = self.new_trace("approve");
        let cand = self.lock().pending.remove(&version).ok_or_else(|| {
            Error::not_found(
                "pending version",
                self.version_ref(version),
                "only versions awaiting approval in this lifecycle can be approved",
            )
        })?;
        self.promote(&trace, version, actor, reason, cand.training_data)
            .await
    }

    /// Reject a pending version (a human decision).
    pub async fn reject(&self, version: u32, actor: &str, reason: &str) -> Result<()> {
        let trace = self.new_trace("reject");
        self.lock().pending.remove(&version).ok_or_else(|| {
            Error::not_found(
                "pending version",
                self.version_ref(version),
                "only versions awaiting approval can be rejected",
            )
        })?;
        self.set_status(&trace, version, VersionStatus::Rejected, actor, reason)
            .await
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
        let mut next = cursor;
        let mut outcomes = Vec::new();
        for event in self.registry.events_since(cursor).await? {
            next = next.max(event.seq);
            let crate::registry::RegistryEventKind::VersionCreated { name, version } = &event.kind
            else {
                continue;
            };
            if *name != cfg.model_name || self.lock().pending.contains_key(version) {
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
            let validation = self
                .stage(Stage::Validate, &trace, async {
                    let candidate = self
                        .registry
                        .load_artifact(name, *version)
                        .await?
                        .into_model()?;
                    let champ_model = match &champion {
                        Some(c) => Some(
                            self.registry
                                .load_artifact(&c.name, c.version)
                                .await?
                                .into_model()?,
                        ),
                        None => None,
                    };
                    let r = self
                        .validator
                        .validate(candidate, champ_model, holdout)
                        .await?;
                    self.record(
                        &trace,
                        "validation.completed",
                        vec![self.version_ref(*version), holdout.id().to_string()],
                        json!({
                            "model_name": cfg.model_name, "version": version,
                            "champion": champion.as_ref().map(|c| c.version),
                            "decision": if r.promote { "pass" } else { "fail" },
                            "trigger": Trigger::RegistryEvent, "report": r,
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

    async fn promote(
        &self,
        trace: &str,
        version: u32,
        actor: &str,
        reason: &str,
        training_data: Dataset,
    ) -> Result<DeploymentInfo> {
        let cfg = &self.config;
        self.set_status(trace, version, VersionStatus::Approved, actor, reason)
            .await
            .map_err(|e| e.in_stage(Stage::Approve))?;
        let deployment = self
            .stage(Stage::Deploy, trace, async {
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
                let mut started = serde_json::to_value(&info)?;
                started["approved_by"] = json!(actor);
                started["replaces"] = json!(previous.as_ref().map(|p| p.version));
                if let Some(p) =
                    previous.filter(|p| p.version != version || p.model_name != cfg.model_name)
                {
                    let mut stopped = serde_json::to_value(&p)?;
                    stopped["reason"] = json!(format!("replaced by version {version}"));
                    stopped["replaced_by"] = json!(version);
                    self.record(
                        trace,
                        "deployment.stopped",
                        vec![format!("{}/{}", p.model_name, p.version)],
                        stopped,
                    )
                    .await?;
                }
                self.record(
                    trace,
                    "deployment.started",
                    vec![self.version_ref(version)],
                    started,
                )
                .await?;
                Ok(info)
            })
            .await?;
        self.observer.stage_finished(
            Stage::Deploy,
            trace,
            &format!(
                "{} serving {} via {}",
                deployment.endpoint,
                self.version_ref(version),
                deployment.deployer
            ),
        );
        self.stage(Stage::Promote, trace, async {
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
            self.record_change(|t| audit_records::alias_changed(&c, t), trace)
                .await
        })
        .await?;
        self.observer.stage_finished(
            Stage::Promote,
            trace,
            &format!(
                "{}@{} → version {version}",
                cfg.model_name, cfg.serving_alias
            ),
        );
        let mut st = self.lock();
        st.reference = Some((version, training_data));
        st.last_deploy = Some(self.clock.now());
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
            let mut stopped = serde_json::to_value(p)?;
            stopped["reason"] = json!(reason);
            self.record_as(
                actor,
                &trace,
                "deployment.stopped",
                vec![format!("{}/{}", p.model_name, p.version)],
                stopped,
            )
            .await
            .map_err(|e| e.in_stage(Stage::Deploy))?;
        }
        Ok(current)
    }

    /// Run a monitoring cycle over the prediction-log window `[from, to)`.
    ///
    /// The drift baseline is the serving version's training data when the lifecycle holds
    /// it (after a promotion in this process, or [`Lifecycle::set_reference`]); otherwise
    /// the reference profile stored in the serving version's artifact (every version this
    /// lifecycle trains has one), so a restarted process resumes monitoring by itself. The
    /// `drift.checked` audit record names the baseline used. With neither, the cycle is
    /// skipped with the reason.
    pub async fn run_monitoring(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MonitoringOutcome> {
        let trace = self.new_trace("monitor");
        let cfg = &self.config;
        let in_memory = self.lock().reference.clone();
        let baseline = match in_memory {
            Some((v, data)) => Ok((v, Baseline::Data(data))),
            None => self
                .stored_reference()
                .await
                .map_err(|e| e.in_stage(Stage::Monitor))?
                .map(|(v, p)| (v, Baseline::Profile(p))),
        };
        let (ref_version, baseline) = match baseline {
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
        let monitor = Monitor::new(
            self.prediction_log.clone(),
            self.detector.clone(),
            cfg.monitor.clone(),
        );
        let report = self
            .stage(Stage::Monitor, &trace, async {
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
        let baseline_name = match baseline {
            Baseline::Data(_) => "training data",
            Baseline::Profile(_) => "stored reference profile",
        };
        self.record(&trace, "drift.checked", vec![self.version_ref(ref_version)], json!({
            "from": from, "to": to, "baseline": baseline_name, "health": report.health,
            "dataset_drift": report.drift.as_ref().map(|d| d.dataset_drift),
            "drifted_columns": report.drift.as_ref().map(|d| d.drifted().map(|c| c.name.clone()).collect::<Vec<_>>()),
            "quality_faults": report.quality_faults, "skipped": report.skipped,
        })).await.map_err(|e| e.in_stage(Stage::Monitor))?;
        self.observer.stage_finished(
            Stage::Monitor,
            &trace,
            &match &report.drift {
                Some(d) => format!(
                    "{} rows, {}/{} columns drifted",
                    report.health.rows,
                    d.drifted_columns,
                    d.columns.len()
                ),
                None => format!("{} rows, drift check skipped", report.health.rows),
            },
        );

        // Decide.
        self.observer.stage_started(Stage::Decide, &trace);
        {
            let drifted = report.drift.as_ref().is_some_and(|d| d.dataset_drift);
            let mut st = self.lock();
            if report.skipped.is_none() && report.quality_faults.is_empty() {
                if drifted {
                    if st.drift_since.is_none() {
                        st.drift_since = Some(st.last_clean.unwrap_or(from).max(from));
                    }
                } else {
                    st.drift_since = None;
                    st.last_clean = Some(to);
                }
            }
        }
        let mut alerts = Vec::new();
        let decision = if let Some(reason) = &report.skipped {
            MonitoringDecision::Skipped {
                reason: reason.clone(),
            }
        } else if !report.quality_faults.is_empty() {
            let reason = report
                .quality_faults
                .iter()
                .map(|f| format!("`{}`: {}", f.column, f.detail))
                .collect::<Vec<_>>()
                .join("; ");
            alerts.push(self.alert(&trace, Severity::Critical, AlertKind::DataQuality, format!(
                "data-quality fault in production inputs ({reason}); not retraining — fix the upstream data"
            )));
            MonitoringDecision::DataQualityFault { reason }
        } else if report.drift.as_ref().is_some_and(|d| d.dataset_drift) {
            let d = report
                .drift
                .as_ref()
                .map(|d| {
                    d.drifted()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            alerts.push(self.alert(
                &trace,
                Severity::Warning,
                AlertKind::Drift,
                format!("input drift against the training data of version {ref_version}: {d}"),
            ));
            let cooling = self
                .lock()
                .last_deploy
                .is_some_and(|t| to - t < chrono::Duration::days(cfg.cooldown_days));
            if cooling {
                MonitoringDecision::DriftAlert {
                    reason: format!(
                        "a version was deployed less than {} days ago; waiting for its window to fill",
                        cfg.cooldown_days
                    ),
                }
            } else if cfg.retrain_policy == RetrainPolicy::RequireApproval {
                MonitoringDecision::DriftAlert {
                    reason: "the retrain policy requires a human to start retraining".into(),
                }
            } else if let Some(src) = &self.data_source {
                let onset = self.lock().drift_since.unwrap_or(from);
                let since = onset.max(to - chrono::Duration::days(cfg.retrain_window_days));
                let data = src
                    .labelled(since, to)
                    .await
                    .map_err(|e| e.in_stage(Stage::Decide))?;
                if data.n_rows() < cfg.retrain_min_rows {
                    MonitoringDecision::DriftAlert {
                        reason: format!(
                            "collecting data from after the drift began ({} of {} labelled rows since {})",
                            data.n_rows(),
                            cfg.retrain_min_rows,
                            since.format("%Y-%m-%d %H:%M")
                        ),
                    }
                } else {
                    self.record(&trace, "retrain.decided", vec![self.version_ref(ref_version), data.id().to_string()], json!({
                        "reason": "dataset drift", "drifted": d, "data_from": since, "data_to": to, "rows": data.n_rows(),
                    })).await.map_err(|e| e.in_stage(Stage::Decide))?;
                    self.observer.stage_finished(
                        Stage::Decide,
                        &trace,
                        &format!(
                            "retrain on {} labelled rows from {} to {}",
                            data.n_rows(),
                            since.format("%Y-%m-%d"),
                            to.format("%Y-%m-%d")
                        ),
                    );
                    let outcome = self
                        .run_training_traced(&data, Trigger::DriftAlert, &trace)
                        .await?;
                    if matches!(outcome.decision, TrainingDecision::Promoted { .. }) {
                        let mut st = self.lock();
                        st.drift_since = None;
                        st.last_clean = Some(to);
                    }
                    for a in &alerts {
                        self.record(
                            &trace,
                            "alert.raised",
                            vec![self.version_ref(ref_version)],
                            serde_json::to_value(a)?,
                        )
                        .await?;
                    }
                    return Ok(MonitoringOutcome {
                        trace_id: trace,
                        report: Some(report),
                        alerts,
                        decision: MonitoringDecision::Retrained {
                            outcome: Box::new(outcome),
                        },
                    });
                }
            } else {
                MonitoringDecision::DriftAlert {
                    reason: "no training data source is configured to retrain from".into(),
                }
            }
        } else {
            MonitoringDecision::NoAction
        };
        let summary = match &decision {
            MonitoringDecision::NoAction => "no action".to_string(),
            MonitoringDecision::Skipped { reason } => format!("skipped: {reason}"),
            MonitoringDecision::DataQualityFault { reason } => {
                format!("data-quality fault, no retrain: {reason}")
            }
            MonitoringDecision::DriftAlert { reason } => {
                format!("drift alert, no retrain: {reason}")
            }
            MonitoringDecision::Retrained { .. } => "retrained".to_string(),
        };
        if !matches!(
            decision,
            MonitoringDecision::NoAction | MonitoringDecision::Skipped { .. }
        ) {
            self.record(
                &trace,
                "monitoring.decided",
                vec![self.version_ref(ref_version)],
                serde_json::to_value(&decision)?,
            )
            .await
            .map_err(|e| e.in_stage(Stage::Decide))?;
        }
        self.observer
            .stage_finished(Stage::Decide, &trace, &summary);
        for a in &alerts {
            self.record(
                &trace,
                "alert.raised",
                vec![self.version_ref(ref_version)],
                serde_json::to_value(a)?,
            )
            .await
            .map_err(|e| e.in_stage(Stage::Decide))?;
        }
        Ok(MonitoringOutcome {
            trace_id: trace,
            report: Some(report),
            alerts,
            decision,
        })
    }

    fn alert(&self, trace: &str, severity: Severity, kind: AlertKind, message: String) -> Alert {
        let a = Alert {
            at: self.clock.now(),
            severity,
            kind,
            model_name: self.config.model_name.clone(),
            message,
            trace_id: trace.into(),
        };
        self.observer.alert(&a);
        a
    }

    /// Look up which version served `alias` at time `t`.
    pub async fn serving_version_at(&self, t: DateTime<Utc>) -> Result<Option<u32>> {
        self.registry
            .alias_at(&self.config.model_name, &self.config.serving_alias, t)
            .await
    }
}
