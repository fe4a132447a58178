//! Ready-made assemblies of the default components: everything in memory (tests,
//! simulations) or the embedded store on disk (one directory: SQLite database for registry
//! and audit trail, content-addressed artifacts, hourly prediction log, binary by default).

use crate::audit::AuditEvent;
use crate::audit::event::DeploymentStarted;
use crate::audit::{AuditLog, InMemoryAuditLog};
use crate::clock::Clock;
use crate::collect::{Collector, FilePredictionLog, InMemoryPredictionLog, PredictionLog};
use crate::deploy::InProcessDeployer;
use crate::deploy::{DeployRequest, DeploymentInfo};
use crate::drift::StatisticalDriftDetector;
use crate::lifecycle::{Lifecycle, LifecycleBuilder, LifecycleConfig};
use crate::registry::{InMemoryRegistry, Registry};
use crate::train::LinearModelTrainer;
use crate::validate::ChampionChallenger;
use crate::{Error, Result};
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
    ///
    /// Besides the registry, audit trail and prediction log, the store keeps the lifecycle's
    /// state (drift episode, cooldown, approval requests), its ground-truth labels (realized
    /// performance per monitoring window) and its alerts (stored and logged
    /// by an [`AlertDispatcher`](crate::alerts::AlertDispatcher); give `customize` your own
    /// dispatcher, e.g. with webhook sinks, to replace it).
    #[cfg(feature = "sqlite")]
    pub fn open_with(
        dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
        customize: impl FnOnce(LifecycleBuilder) -> LifecycleBuilder,
    ) -> Result<Stack> {
        let dir = dir.as_ref();
        let registry = Arc::new(crate::registry::SqliteRegistry::open_audited(
            dir,
            clock.clone(),
            None,
        )?);
        // The lifecycle's episode, cooldown and approval requests live in the same database.
        let state: Arc<dyn crate::lifecycle::LifecycleStateStore> =
            Arc::new(crate::lifecycle::SqliteLifecycleState::open(dir)?);
        // Alerts are kept in the store (`mlcycle alerts`) and logged; `customize` may give a
        // dispatcher with more sinks (webhooks, a channel).
        let mut alerts = crate::alerts::AlertDispatcher::new(Arc::new(
            crate::alerts::SqliteAlertStore::open(dir)?,
        ))
        .registry(registry.clone())
        .sink(Arc::new(crate::alerts::LogSink));
        if let Some(audit) = crate::registry::Registry::audit_log(registry.as_ref()) {
            alerts = alerts.audit(audit);
        }
        let alerts = Arc::new(alerts);
        // Ground truth recorded in the store (`mlcycle labels ingest`, `POST /labels`): each
        // monitoring window measures realized performance against it.
        let labels: Arc<dyn crate::labels::LabelStore> =
            Arc::new(crate::labels::SqliteLabelStore::open(dir, clock.clone())?);
        Self::assemble(
            clock,
            config,
            registry,
            Arc::new(FilePredictionLog::open(dir.join("predictions"))?),
            |b| customize(b.state_store(state).alerts(alerts).labels(labels)),
        )
    }

    /// The stores of record in the PostgreSQL database at `url` — registry (recording its
    /// changes in the database's audit trail, in the same transaction), lifecycle state,
    /// labels and alerts — shared by every process and host that opens the same URL; the
    /// prediction log in directory `dir` (created if missing), local to this process's host.
    /// The schema is created or upgraded at connect (safe when several processes start at
    /// once). See docs/DEPLOYMENT.md.
    #[cfg(feature = "postgres")]
    pub async fn open_postgres(
        url: &str,
        dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
    ) -> Result<Stack> {
        Self::open_postgres_with(url, dir, clock, config, |b| b).await
    }

    /// [`open_postgres`](Self::open_postgres) with a hook to replace or add lifecycle
    /// components, as [`open_with`](Self::open_with) has.
    #[cfg(feature = "postgres")]
    pub async fn open_postgres_with(
        url: &str,
        dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
        customize: impl FnOnce(LifecycleBuilder) -> LifecycleBuilder,
    ) -> Result<Stack> {
        let dir = dir.as_ref();
        let registry = Arc::new(
            crate::registry::PostgresRegistry::connect_audited(url, clock.clone(), None).await?,
        );
        let pool = registry.pool().clone();
        let state: Arc<dyn crate::lifecycle::LifecycleStateStore> = {
            let url = url.to_string();
            Arc::new(
                tokio::task::spawn_blocking(move || {
                    crate::lifecycle::PostgresLifecycleState::connect(&url)
                })
                .await
                .map_err(|e| Error::task("lifecycle state connection", e))??,
            )
        };
        let mut alerts = crate::alerts::AlertDispatcher::new(Arc::new(
            crate::alerts::PostgresAlertStore::with_pool(pool.clone()),
        ))
        .registry(registry.clone())
        .sink(Arc::new(crate::alerts::LogSink));
        if let Some(audit) = crate::registry::Registry::audit_log(registry.as_ref()) {
            alerts = alerts.audit(audit);
        }
        let alerts = Arc::new(alerts);
        let labels: Arc<dyn crate::labels::LabelStore> = Arc::new(
            crate::labels::PostgresLabelStore::with_pool(pool, clock.clone()),
        );
        Self::assemble(
            clock,
            config,
            registry,
            Arc::new(FilePredictionLog::open(dir.join("predictions"))?),
            |b| customize(b.state_store(state).alerts(alerts).labels(labels)),
        )
    }

    /// Wire the default components around a `registry` and a `prediction_log` of your
    /// choice — the same wiring [`Stack::in_memory`] and [`Stack::open`] use — so you can
    /// swap one component and keep the rest.
    ///
    /// The defaults are: [`LinearModelTrainer`], [`ChampionChallenger`],
    /// [`StatisticalDriftDetector`], an [`InProcessDeployer`] recording every scoring call
    /// through a [`Collector`] (capacity [`COLLECTOR_CAPACITY`]) into `prediction_log`,
    /// and `clock`. `customize` receives the builder with all of them set and may replace
    /// any (e.g. `|b| b.trainer(my_trainer).data_source(my_labels)`); the audit log is the
    /// registry's when it records its own changes ([`Registry::audit_log`]), otherwise set
    /// one with `b.audit(..)`.
    ///
    /// If the registry's serving alias ([`LifecycleConfig::serving_alias`], `production`
    /// by default) already names a version of the model, that version is loaded and
    /// deployed, so a reopened store resumes serving where the last process stopped.
    /// Loading it may fail (a damaged artifact, a flavor this build cannot open): the
    /// error says which version and why.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// ```
    /// use mlcycle::prelude::*;
    /// use mlcycle::audit::InMemoryAuditLog;
    /// use mlcycle::collect::InMemoryPredictionLog;
    /// use mlcycle::registry::InMemoryRegistry;
    /// use mlcycle::train::{LinearModelTrainer, LogisticParams, RidgeParams};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    /// let audit = Arc::new(InMemoryAuditLog::new(clock.clone()));
    /// let stack = Stack::assemble(
    ///     clock.clone(),
    ///     LifecycleConfig::new("churn"),
    ///     Arc::new(InMemoryRegistry::new(clock).with_audit(audit)),
    ///     Arc::new(InMemoryPredictionLog::default()),
    ///     // keep everything, but a stronger regularisation
    ///     |b| b.trainer(Arc::new(LinearModelTrainer::new(
    ///         LogisticParams::default().l2(1.0).check().unwrap(),
    ///         RidgeParams::default().check().unwrap(),
    ///     ))),
    /// )
    /// .unwrap();
    /// assert!(stack.deployer.current().await.is_none());
    /// # });
    /// ```
    pub fn assemble(
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
        resume_serving_blocking(&lifecycle)?;
        Ok(Stack {
            registry,
            audit,
            prediction_log,
            collector,
            deployer,
            lifecycle,
        })
    }

    /// Deploy what the lifecycle's serving alias names, if anything (what [`Stack::open`]
    /// and [`Stack::assemble`] do at start). Returns the deployment, or `None` when the
    /// alias is not set. Use it after moving the alias behind the lifecycle's back (e.g.
    /// with another process or `registry.set_alias`).
    pub async fn resume_serving(&self) -> Result<Option<DeploymentInfo>> {
        resume_serving(&self.lifecycle).await
    }
}

/// Load the version the serving alias names and deploy it through the lifecycle's deployer.
async fn resume_serving(lifecycle: &Lifecycle) -> Result<Option<DeploymentInfo>> {
    let cfg = lifecycle.config();
    let registry = lifecycle.registry();
    if !registry.list_models().await?.contains(&cfg.model_name) {
        return Ok(None);
    }
    let Some(version) = registry
        .get_alias(&cfg.model_name, &cfg.serving_alias)
        .await?
    else {
        return Ok(None);
    };
    let cannot = |e: Error| {
        Error::invalid(
            "stored serving alias",
            format!(
                "`{}@{}` names version {version}, which cannot be loaded to resume serving: \
                 {e}; move the alias to a version this program can open (or delete it) \
                 before reopening the store",
                cfg.model_name, cfg.serving_alias
            ),
        )
    };
    let model = registry
        .load_artifact(&cfg.model_name, version)
        .await
        .and_then(|a| a.into_model())
        .map_err(cannot)?;
    let info = lifecycle
        .deployer()
        .deploy(DeployRequest {
            model_name: cfg.model_name.clone(),
            version,
            model,
        })
        .await?;
    // The trail says which version serves from when, also after a restart — once: a
    // reopen that finds the same version recorded as serving here records nothing.
    if serving_here_per_trail(lifecycle, &info).await? == Some(version) {
        return Ok(Some(info));
    }
    let events = lifecycle.events();
    let trace = format!("resume-{}", info.since.format("%Y%m%dT%H%M%SZ"));
    events
        .emit(
            &trace,
            vec![events.version_ref(version)],
            AuditEvent::DeploymentStarted(DeploymentStarted {
                deployer: info.deployer.clone(),
                endpoint: info.endpoint.clone(),
                model_name: info.model_name.clone(),
                version: info.version,
                since: info.since,
                approved_by: format!("{} (resumed from {})", cfg.actor, cfg.serving_alias),
                replaces: None,
            }),
        )
        .await?;
    Ok(Some(info))
}

/// The version the audit trail last records as started (and not stopped since) at the
/// place `info` serves from (its model, deployer and endpoint).
async fn serving_here_per_trail(
    lifecycle: &Lifecycle,
    info: &DeploymentInfo,
) -> Result<Option<u32>> {
    use crate::audit::{AuditQuery, actions};
    let mut records = Vec::new();
    for action in [actions::DEPLOYMENT_STARTED, actions::DEPLOYMENT_STOPPED] {
        records.extend(
            lifecycle
                .audit()
                .query(&AuditQuery {
                    action: Some(action.to_string()),
                    ..Default::default()
                })
                .await?,
        );
    }
    records.sort_by_key(|r| r.seq);
    let mut serving = None;
    for r in &records {
        match AuditEvent::parse(&r.entry.action, &r.entry.payload) {
            Ok(AuditEvent::DeploymentStarted(d))
                if d.model_name == info.model_name
                    && d.deployer == info.deployer
                    && d.endpoint == info.endpoint =>
            {
                serving = Some(d.version)
            }
            Ok(AuditEvent::DeploymentStopped(d))
                if d.model_name == info.model_name
                    && d.deployer == info.deployer
                    && d.endpoint == info.endpoint
                    && serving == Some(d.version) =>
            {
                serving = None
            }
            _ => {}
        }
    }
    Ok(serving)
}

/// [`resume_serving`] from a synchronous constructor that runs inside a tokio runtime of
/// any flavor: the future runs to completion on a runtime of its own, on a helper thread
/// (blocking in place would need a multi-threaded runtime).
fn resume_serving_blocking(lifecycle: &Lifecycle) -> Result<()> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("a runtime to resume serving", e))?;
            rt.block_on(resume_serving(lifecycle)).map(|_| ())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::invalid(
                "stored serving alias",
                "resuming the serving version failed unexpectedly (the loading thread panicked)",
            ))
        })
    })
}
