//! The lifecycle orchestrator: a training cycle (quality check → train → validate against
//! the champion → register → approve → deploy → move the alias) and a monitoring cycle
//! (window of the prediction log → health + quality + drift → decide: nothing, alert, or
//! retrain on newer data).
//!
//! The stages live in their own files: [`training`] (quality check, train, validate,
//! register — the same [`TrainingStage`] `mlcycle train` runs), `release` (validation and
//! approval gates, deployment, the serving alias, versions registered elsewhere),
//! `monitoring` (gather a window, decide, act) around the pure [`decide`] function.
//! Each stage reports through [`StageEvents`]: its typed audit events and its observer
//! calls from one place. This file holds the [`Lifecycle`] type and its wiring.
//!
//! The orchestrator sees only the traits ([`Trainer`], [`Validator`], [`Registry`],
//! [`Deployer`], [`DriftDetector`], [`PredictionLog`], [`AuditLog`]); concrete backends
//! are assembled elsewhere (see [`crate::embedded`]).

mod approval;
mod canary;
mod config;
pub mod decide;
mod events;
mod health;
mod monitoring;
mod observer;
mod outcome;
mod release;
mod stage;
#[cfg(any(test, feature = "conformance"))]
mod state_conformance;
mod state_store;
pub mod training;

pub use approval::{
    ApprovalDecision, ApprovalGate, ApprovalPolicy, ApprovalRequest, AutoApprove,
    RequireHumanApproval, RulesApproval,
};
pub use canary::{CANARY_DEPLOYER, CANARY_SHARE_TAG, CanaryOutcome, CanaryPolicy, ServingFigures};
pub use config::{LifecycleConfig, RetrainPolicy, TrainingDataSource, Trigger};
pub use decide::EpisodeState;
pub use events::StageEvents;
pub use health::{HealthLimits, PROBE_REQUEST_PREFIX, health_alerts, typical_row};
pub use observer::{Alert, AlertKind, NoopObserver, Observer, Severity};
pub use outcome::{
    MonitoringDecision, MonitoringOutcome, ReleaseOutcome, TrainingDecision, TrainingOutcome,
};
pub use release::AppliedDecision;
pub use stage::Stage;
#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use state_conformance::lifecycle_state_conformance;
#[cfg(feature = "postgres")]
pub use state_store::PostgresLifecycleState;
#[cfg(feature = "sqlite")]
pub use state_store::SqliteLifecycleState;
#[cfg(feature = "http")]
pub use state_store::StoreApprovals;
pub use state_store::{
    ApprovalRecord, ApprovalStatus, Decision, InMemoryLifecycleState, LifecycleState,
    LifecycleStateStore, record_decision, validation_summary,
};
pub use training::{Registered, TrainingRun, TrainingStage};

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::collect::{Collector, PredictionLog};
use crate::data::Dataset;
use crate::deploy::Deployer;
use crate::drift::DriftDetector;
use crate::labels::LabelStore;
use crate::registry::Registry;
use crate::train::Trainer;
use crate::validate::Validator;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Candidate {
    training_data: Dataset,
}

#[derive(Debug, Default)]
struct State {
    /// The training data of the version in production (the drift baseline).
    reference: Option<(u32, Dataset)>,
    /// The stored reference profile of the serving version, when there is no `reference`
    /// (loaded from its artifact, e.g. after a restart).
    stored_reference: Option<(u32, Arc<monitoring::StoredReference>)>,
    /// Pending candidates' training data, by version.
    pending: BTreeMap<u32, Candidate>,
    /// The drift episode and cooldown.
    episode: EpisodeState,
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
    clock: Arc<dyn Clock>,
    approval: Arc<dyn ApprovalGate>,
    data_source: Option<Arc<dyn TrainingDataSource>>,
    /// Ground-truth labels: with them each monitoring window measures realized performance.
    labels: Option<Arc<dyn LabelStore>>,
    /// Durable episode, cooldown, baseline pointer and approval requests.
    state_store: Arc<dyn LifecycleStateStore>,
    /// The collector feeding the prediction log, flushed before a window is read.
    collector: Option<Collector>,
    config: LifecycleConfig,
    events: StageEvents,
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
    labels: Option<Arc<dyn LabelStore>>,
    state_store: Option<Arc<dyn LifecycleStateStore>>,
    collector: Option<Collector>,
    alerts: Option<Arc<crate::alerts::AlertDispatcher>>,
    flavors: Vec<Arc<dyn crate::model::ModelFlavor>>,
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
    setter!(labels, dyn LabelStore);
    setter!(state_store, dyn LifecycleStateStore);
    setter!(alerts, crate::alerts::AlertDispatcher);

    /// The collector that feeds the prediction log (the one the deployer records into):
    /// the monitoring cycle flushes it before reading a window, so a window read right
    /// after scoring holds every call. Without it, records still queued in a collector
    /// are not seen until it writes them.
    pub fn collector(mut self, collector: Collector) -> Self {
        self.collector = Some(collector);
        self
    }

    /// Register a model flavor of the application's own (a loader of its model type's
    /// artifacts): [`build`](LifecycleBuilder::build) adds it to the process-wide
    /// [`FlavorRegistry`](crate::model::FlavorRegistry::global), where every loading path
    /// (the registry's `load_model`, serving, the lifecycle, `ModelArtifact::into_model`)
    /// finds it. May be called once per flavor.
    pub fn flavor(mut self, flavor: Arc<dyn crate::model::ModelFlavor>) -> Self {
        self.flavors.push(flavor);
        self
    }

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
        for f in &self.flavors {
            crate::model::FlavorRegistry::global().register(f.clone())?;
        }
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
        let clock = need(self.clock, "clock")?;
        let observer = self
            .observer
            .unwrap_or_else(|| Arc::new(NoopObserver) as Arc<dyn Observer>);
        let events = StageEvents::new(
            audit.clone(),
            registry_audits,
            observer.clone(),
            clock.clone(),
            config.actor.clone(),
            config.model_name.clone(),
        )
        .with_alerts(self.alerts);
        let state_store = self
            .state_store
            .unwrap_or_else(|| Arc::new(InMemoryLifecycleState::default()));
        let stored = state_store.load(&config.model_name)?.unwrap_or_default();
        let state = State {
            episode: stored.episode,
            ..State::default()
        };
        Ok(Lifecycle {
            trainer: need(self.trainer, "trainer")?,
            validator: need(self.validator, "validator")?,
            registry,
            deployer: need(self.deployer, "deployer")?,
            detector: need(self.detector, "drift detector")?,
            prediction_log: need(self.prediction_log, "prediction log")?,
            audit,
            clock,
            approval: self.approval.unwrap_or_else(|| Arc::new(AutoApprove)),
            data_source: self.data_source,
            labels: self.labels,
            state_store,
            collector: self.collector,
            config,
            events,
            state: Mutex::new(state),
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

    /// The durable state store (episode, cooldown, approval requests).
    pub fn state_store(&self) -> &Arc<dyn LifecycleStateStore> {
        &self.state_store
    }

    /// Write the episode and baseline pointer to the state store.
    fn persist_state(&self) -> Result<()> {
        let state = {
            let st = self.lock();
            LifecycleState {
                episode: st.episode.clone(),
                baseline_version: st
                    .reference
                    .as_ref()
                    .map(|(v, _)| *v)
                    .or(st.stored_reference.as_ref().map(|(v, _)| *v)),
            }
        };
        self.state_store
            .save(&self.config.model_name, &state, self.clock.now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_trace(&self, kind: &str) -> String {
        let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{kind}-{}-{n}", self.clock.now().format("%Y%m%dT%H%M%SZ"))
    }

    /// Where this lifecycle's stages report: its audit log and observer.
    pub fn events(&self) -> &StageEvents {
        &self.events
    }
}
