//! Ready-made assemblies of the default components: everything in memory (tests,
//! simulations) or the embedded store on disk (one directory: SQLite database for registry
//! and audit trail, content-addressed artifacts, hourly prediction log, binary by default).

use crate::Result;
use crate::audit::{AuditLog, InMemoryAuditLog};
use crate::clock::Clock;
use crate::collect::{Collector, FilePredictionLog, InMemoryPredictionLog, PredictionLog};
use crate::deploy::InProcessDeployer;
use crate::drift::StatisticalDriftDetector;
use crate::lifecycle::{Lifecycle, LifecycleBuilder, LifecycleConfig};
use crate::registry::{InMemoryRegistry, Registry};
use crate::train::LinearModelTrainer;
use crate::validate::ChampionChallenger;
use std::path::Path;
use std::sync::Arc;

/// Capacity of the prediction-log channel of a [`Stack`].
pub const COLLECTOR_CAPACITY: usize = 65_536;

/// The default components wired together, with handles to each.
#[derive(Debug)]
pub struct Stack {
    /// The registry.
    pub registry: Arc<dyn Registry>,
    /// The audit log (the registry's: each registry change is appended in the same
    /// transaction as the change).
    pub audit: Arc<dyn AuditLog>,
    /// The prediction log (what monitoring reads).
    pub prediction_log: Arc<dyn PredictionLog>,
    /// The non-blocking writer in front of the prediction log.
    pub collector: Collector,
    /// The in-process deployment.
    pub deployer: Arc<InProcessDeployer>,
    /// The orchestrator.
    pub lifecycle: Lifecycle,
}

impl Stack {
    /// Everything in memory. Must be called inside a tokio runtime.
    pub fn in_memory(clock: Arc<dyn Clock>, config: LifecycleConfig) -> Result<Stack> {
        Self::in_memory_with(clock, config, |b| b)
    }

    /// Everything in memory, with a hook to replace or add lifecycle components.
    pub fn in_memory_with(
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
        customize: impl FnOnce(LifecycleBuilder) -> LifecycleBuilder,
    ) -> Result<Stack> {
        let audit = Arc::new(InMemoryAuditLog::new(clock.clone()));
        Self::assemble(
            clock.clone(),
            config,
            Arc::new(InMemoryRegistry::new(clock).with_audit(audit)),
            Arc::new(InMemoryPredictionLog::default()),
            customize,
        )
    }

    /// The embedded store in directory `dir` (created if missing). Must be called inside a
    /// tokio runtime.
    #[cfg(feature = "sqlite")]
    pub fn open(
        dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
    ) -> Result<Stack> {
        Self::open_with(dir, clock, config, |b| b)
    }

    /// The embedded store, with a hook to replace or add lifecycle components.
    #[cfg(feature = "sqlite")]
    pub fn open_with(
        dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
        customize: impl FnOnce(LifecycleBuilder) -> LifecycleBuilder,
    ) -> Result<Stack> {
        let dir = dir.as_ref();
        Self::assemble(
            clock.clone(),
            config,
            Arc::new(crate::registry::SqliteRegistry::open_audited(
                dir, clock, None,
            )?),
            Arc::new(FilePredictionLog::open(dir.join("predictions"))?),
            customize,
        )
    }

    /// Wire the components; `registry` records its own changes, and its audit log is the
    /// lifecycle's.
    fn assemble(
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
        registry: Arc<dyn Registry>,
        prediction_log: Arc<dyn PredictionLog>,
        customize: impl FnOnce(LifecycleBuilder) -> LifecycleBuilder,
    ) -> Result<Stack> {
        let collector = Collector::spawn(prediction_log.clone(), COLLECTOR_CAPACITY)?;
        let deployer = Arc::new(InProcessDeployer::new(
            clock.clone(),
            Some(collector.clone()),
        ));
        let builder = Lifecycle::builder()
            .trainer(Arc::new(LinearModelTrainer::default()))
            .validator(Arc::new(ChampionChallenger::default()))
            .registry(registry.clone())
            .deployer(deployer.clone())
            .detector(Arc::new(StatisticalDriftDetector::default()))
            .prediction_log(prediction_log.clone())
            .collector(collector.clone())
            .clock(clock);
        let lifecycle = customize(builder).build(config)?;
        let audit = lifecycle.audit().clone();
        Ok(Stack {
            registry,
            audit,
            prediction_log,
            collector,
            deployer,
            lifecycle,
        })
    }
}
