//! The controller: keeps the lifecycle running by itself, driven by the [`Clock`].
//!
//! Each [`Controller::step`] runs what is due now and says when the next thing is due:
//! - a step left unfinished by a stopped process is settled first (a training whose
//!   version is already in the registry is not repeated);
//! - every dataset version of the [`DatasetFeed`] not trained yet is trained on
//!   ([`Trigger::NewDataset`]);
//! - a scheduled training ([`Trigger::Schedule`]) when `schedule` has passed since the last;
//! - the release pipeline follows registry events ([`Lifecycle::release_registered`]) from a
//!   durable cursor, when a holdout is configured;
//! - every monitoring window that has ended ([`Lifecycle::run_monitoring`], which decides and
//!   retrains on drift judged real): windows end every `every` and cover the `window` before
//!   their end (tumbling when equal, sliding when `window` is longer).
//!
//! [`Controller::run`] loops over steps until a shutdown future completes; a step is never
//! interrupted, so stopping leaves the state consistent. With a store
//! ([`Controller::with_store`]) the state — registry cursor, last window end, last scheduled
//! run, datasets trained on, the step in progress — lives in the store's database, written
//! as each step finishes, and a lease row keeps a second controller of the same model on
//! the same store from running at once. Under a [`SimulatedClock`](crate::clock::SimulatedClock)
//! waiting jumps the clock, so months run in seconds.

mod duration;

pub use duration::{format_duration, parse_duration};

use crate::clock::Clock;
use crate::data::Dataset;
use crate::datasets::{DatasetFeed, DatasetVersion};
use crate::lifecycle::{CanaryOutcome, Lifecycle, MonitoringDecision, TrainingDecision, Trigger};
use crate::registry::{RegistryExt, VersionQuery};
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The version tag naming the dataset version a controller trained it on.
pub const DATASET_TAG: &str = "dataset_version";

pub use crate::lifecycle::ApprovalPolicy;

/// A canary release: share of traffic and how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryConfig {
    /// Share of traffic in (0, 1).
    pub share: f64,
    /// How long the canary runs before it is judged.
    pub duration: Duration,
}

/// Settings of a [`Controller`].
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Monitoring windows end this often.
    pub every: Duration,
    /// Each window covers this span before its end (≥ `every`; equal: tumbling windows).
    pub window: Duration,
    /// Train on the data source's recent labelled data this often (`None`: never).
    pub schedule: Option<Duration>,
    /// How often dataset versions and registry events are looked at between windows.
    pub poll: Duration,
    /// Labelled recent data to validate versions registered elsewhere on (`None`: such
    /// versions are left alone and the registry cursor does not move).
    pub holdout: Option<Dataset>,
    /// The approval policy (applied by the gate given to the lifecycle).
    pub approval: ApprovalPolicy,
    /// Canary release settings, when given (validated here; the lifecycle releases through a
    /// canary when its [`LifecycleConfig::canary`](crate::lifecycle::LifecycleConfig) is set,
    /// and each step settles a canary whose time is up).
    pub canary: Option<CanaryConfig>,
    /// Webhook URLs that alerts are sent to (handed on to an alert dispatcher).
    pub webhooks: Vec<String>,
    /// The owner named in alerts.
    pub owner: Option<String>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            every: Duration::hours(1),
            window: Duration::hours(1),
            schedule: None,
            poll: Duration::seconds(5),
            holdout: None,
            approval: ApprovalPolicy::Auto,
            canary: None,
            webhooks: Vec::new(),
            owner: None,
        }
    }
}

impl ControllerConfig {
    /// Check the settings; the error says which one is wrong.
    pub fn check(&self) -> Result<()> {
        if self.every <= Duration::zero() {
            return Err(Error::invalid("every", "must be positive"));
        }
        if self.window < self.every {
            return Err(Error::invalid(
                "window",
                format!(
                    "{} is shorter than `every` ({}); windows would leave gaps: make the window \
                     at least as long as the cadence",
                    format_duration(self.window),
                    format_duration(self.every)
                ),
            ));
        }
        if self.poll <= Duration::zero() {
            return Err(Error::invalid("poll", "must be positive"));
        }
        if let Some(s) = self.schedule
            && s <= Duration::zero()
        {
            return Err(Error::invalid("schedule", "must be positive"));
        }
        if let Some(c) = &self.canary {
            if !(c.share > 0.0 && c.share < 1.0) {
                return Err(Error::invalid(
                    "canary share",
                    format!("{} is not in (0, 1), e.g. 0.1 for 10%", c.share),
                ));
            }
            if c.duration <= Duration::zero() {
                return Err(Error::invalid("canary duration", "must be positive"));
            }
        }
        for w in &self.webhooks {
            if !(w.starts_with("http://") || w.starts_with("https://")) {
                return Err(Error::invalid(
                    "webhook",
                    format!("`{w}` is not an http:// or https:// URL"),
                ));
            }
        }
        Ok(())
    }
}

/// What one piece of a step did (one line of `mlcycle run`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleReport {
    /// When it finished (the controller's clock).
    pub at: DateTime<Utc>,
    /// `train`, `schedule`, `release`, `approval`, `canary` or `monitor`.
    pub kind: String,
    /// The trace id of the lifecycle run.
    pub trace_id: Option<String>,
    /// The version concerned, if any.
    pub version: Option<u32>,
    /// The decision in one word (`promoted`, `rejected`, `awaiting_approval`, `no_action`,
    /// `drift_alert`, `data_quality_fault`, `retrained`, `skipped`, `already_trained`,
    /// `canary` (released as a canary), `rolled_back`).
    pub decision: String,
    /// The monitoring window, for `monitor`.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// One sentence.
    pub summary: String,
}

/// The durable state as the controller sees it.
#[derive(Debug, Clone, Default)]
struct State {
    cursor: u64,
    last_window_end: Option<DateTime<Utc>>,
    last_schedule: Option<DateTime<Utc>>,
    in_progress: Option<String>,
    trained: BTreeSet<String>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::store::controller_state_rows::SavedState;

/// Where a controller keeps its state and takes its lease.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug)]
enum Store {
    /// The embedded store's SQLite database (lease: a row with a heartbeat and a pid).
    #[cfg(feature = "sqlite")]
    Sqlite(crate::store::controller_state::ControllerStore),
    /// A PostgreSQL database (lease: a session advisory lock).
    #[cfg(feature = "postgres")]
    Postgres(crate::store::postgres::controller_state::PgControllerStore),
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! on_store {
    ($store:expr, $s:ident => $e:expr) => {
        match $store {
            #[cfg(feature = "sqlite")]
            Store::Sqlite($s) => $e,
            #[cfg(feature = "postgres")]
            Store::Postgres($s) => $e,
        }
    };
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Store {
    fn load(&self, model: &str) -> Result<SavedState> {
        on_store!(self, s => s.load(model))
    }
    fn save(
        &self,
        model: &str,
        state: &SavedState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        on_store!(self, s => s.save(model, state, now))
    }
    fn trained(&self, model: &str, dataset: &str) -> Result<bool> {
        on_store!(self, s => s.trained(model, dataset))
    }
    fn mark_trained(
        &self,
        model: &str,
        dataset: &str,
        version: Option<u32>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        on_store!(self, s => s.mark_trained(model, dataset, version, now))
    }
    fn release_lease(&self, model: &str, holder: &str) -> Result<()> {
        on_store!(self, s => s.release_lease(model, holder))
    }
}

/// Keeps a [`Lifecycle`] running. See the [module documentation](self).
///
/// ```
/// use mlcycle::clock::{Clock, SimulatedClock};
/// use mlcycle::controller::{Controller, ControllerConfig};
/// use mlcycle::embedded::Stack;
/// use mlcycle::lifecycle::LifecycleConfig;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let clock = Arc::new(SimulatedClock::new(chrono::Utc::now()));
/// let stack = Stack::in_memory(clock.clone(), LifecycleConfig::new("credit")).unwrap();
/// let controller = Controller::new(Arc::new(stack.lifecycle), clock.clone(), ControllerConfig::default()).unwrap();
/// let start = clock.now();
/// controller.step().await.unwrap();
/// clock.advance(chrono::Duration::hours(3));
/// let reports = controller.step().await.unwrap();
/// // three hourly windows ended (skipped: nothing is deployed yet)
/// assert_eq!(reports.iter().filter(|r| r.kind == "monitor").count(), 3);
/// assert!(controller.next_due() > start);
/// # });
/// ```
#[derive(Debug)]
pub struct Controller {
    lifecycle: Arc<Lifecycle>,
    clock: Arc<dyn Clock>,
    config: ControllerConfig,
    feed: Option<Arc<dyn DatasetFeed>>,
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    store: Option<Store>,
    holder: String,
    state: Mutex<State>,
    step_lock: tokio::sync::Mutex<()>,
}

impl Controller {
    /// A controller keeping its state in memory.
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        clock: Arc<dyn Clock>,
        config: ControllerConfig,
    ) -> Result<Self> {
        config.check()?;
        Ok(Controller {
            lifecycle,
            clock,
            config,
            feed: None,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            store: None,
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            state: Mutex::new(State::default()),
            step_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Train on every new version of `feed` ([`Trigger::NewDataset`]) and on its recent
    /// labelled data when the schedule fires. (Give the same source to the lifecycle's
    /// builder as its `data_source` so that drift can retrain.)
    pub fn with_feed(mut self, feed: Arc<dyn DatasetFeed>) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Keep the state in the store in `dir` (the same directory as the lifecycle's registry)
    /// and take the model's controller lease there: refused, naming the holder, when another
    /// live controller runs the same model on that store.
    #[cfg(feature = "sqlite")]
    pub fn with_store(self, dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let store = crate::store::controller_state::ControllerStore::open(dir.as_ref())?;
        self.attach(Store::Sqlite(store))
    }

    /// Keep the state in the PostgreSQL database at `url` (the lifecycle's registry's
    /// database) and take the model's controller lease there: a session advisory lock held
    /// on a connection of the controller's own for as long as it runs. Refused, naming the
    /// holder, while another controller of the same model runs on that database (on any
    /// host); when that controller's process ends, however it ends, its connection closes
    /// and the lease is free for the next controller that asks.
    #[cfg(feature = "postgres")]
    pub fn with_postgres_store(self, url: &str) -> Result<Self> {
        let store = crate::store::postgres::controller_state::PgControllerStore::connect(url)?;
        self.attach(Store::Postgres(store))
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn attach(mut self, store: Store) -> Result<Self> {
        let model = &self.lifecycle.config().model_name;
        self.take_lease(&store)?;
        let saved = store.load(model)?;
        {
            let mut st = self.lock();
            st.cursor = saved.registry_cursor;
            st.last_window_end = saved.last_window_end;
            st.last_schedule = saved.last_schedule;
            st.in_progress = saved.in_progress;
        }
        self.store = Some(store);
        Ok(self)
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn take_lease(&self, store: &Store) -> Result<()> {
        let now = self.clock.now();
        let model = &self.lifecycle.config().model_name;
        match store {
            #[cfg(feature = "sqlite")]
            Store::Sqlite(s) => {
                let stale = (self.config.poll * 6).max(Duration::seconds(60));
                s.acquire_lease(
                    model,
                    &self.holder,
                    std::process::id(),
                    now,
                    now - stale,
                    process_alive,
                )
            }
            #[cfg(feature = "postgres")]
            Store::Postgres(p) => p.acquire_lease(model, &self.holder, std::process::id(), now),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// The lifecycle it drives.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn model(&self) -> &str {
        &self.lifecycle.config().model_name
    }

    /// Write the state (when there is a store).
    fn save(&self) -> Result<()> {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(store) = &self.store {
            let st = self.lock().clone();
            store.save(
                self.model(),
                &SavedState {
                    registry_cursor: st.cursor,
                    last_window_end: st.last_window_end,
                    last_schedule: st.last_schedule,
                    in_progress: st.in_progress,
                },
                self.clock.now(),
            )?;
        }
        Ok(())
    }

    fn is_trained(&self, key: &str) -> Result<bool> {
        if self.lock().trained.contains(key) {
            return Ok(true);
        }
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(store) = &self.store
            && store.trained(self.model(), key)?
        {
            self.lock().trained.insert(key.to_string());
            return Ok(true);
        }
        Ok(false)
    }

    fn mark_trained(&self, key: &str, version: Option<u32>) -> Result<()> {
        {
            let mut st = self.lock();
            st.trained.insert(key.to_string());
            st.in_progress = None;
        }
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(store) = &self.store {
            store.mark_trained(self.model(), key, version, self.clock.now())?;
        }
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let _ = version;
        Ok(())
    }

    /// The registered version already trained on dataset version `key`, if any.
    async fn version_trained_on(&self, key: &str) -> Result<Option<u32>> {
        let registry = self.lifecycle.registry();
        if !registry
            .list_models()
            .await?
            .iter()
            .any(|m| m == self.model())
        {
            return Ok(None);
        }
        let found = registry
            .search_versions(&VersionQuery {
                name: Some(self.model().to_string()),
                tags: BTreeMap::from([(DATASET_TAG.to_string(), key.to_string())]),
                ..VersionQuery::default()
            })
            .await?;
        Ok(found.iter().map(|v| v.version).max())
    }

    /// When the next thing is due: the next window end, the next schedule, or the next poll.
    pub fn next_due(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        let st = self.lock();
        let mut next = now + self.config.poll;
        if let Some(end) = st.last_window_end {
            next = next.min(end + self.config.every);
        }
        if let (Some(s), Some(last)) = (self.config.schedule, st.last_schedule) {
            next = next.min(last + s);
        }
        next.max(now)
    }

    /// Run what is due now: settle an unfinished step, release decisions people took, train
    /// on new dataset versions, run a
    /// due scheduled training, follow registry events, run every ended monitoring window.
    /// Returns what was done, in order. Two calls never overlap (the second waits).
    pub async fn step(&self) -> Result<Vec<CycleReport>> {
        let _guard = self.step_lock.lock().await;
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(store) = &self.store {
            self.take_lease(store)?;
        }
        let mut out = Vec::new();
        self.settle_in_progress(&mut out).await?;
        self.apply_decisions(&mut out).await?;
        self.settle_canary(&mut out).await?;
        self.train_new_datasets(&mut out).await?;
        self.scheduled_training(&mut out).await?;
        self.follow_registry(&mut out).await?;
        self.monitoring_windows(&mut out).await?;
        Ok(out)
    }

    /// Loop over [`Controller::step`] until `shutdown` completes, calling `report` with
    /// each report. A step in progress is finished before stopping; waiting between steps
    /// ends at once. The lease is given up on return.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
        mut report: impl FnMut(&CycleReport),
    ) -> Result<()> {
        tokio::pin!(shutdown);
        let result = loop {
            match self.step().await {
                Ok(reports) => reports.iter().for_each(&mut report),
                Err(e) => break Err(e),
            }
            let next = self.next_due();
            tokio::select! {
                biased;
                _ = &mut shutdown => break Ok(()),
                _ = self.clock.sleep_until(next) => {}
            }
        };
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(store) = &self.store {
            store.release_lease(self.model(), &self.holder)?;
        }
        result
    }

    fn report(&self, kind: &str, decision: &str, summary: String) -> CycleReport {
        CycleReport {
            at: self.clock.now(),
            kind: kind.into(),
            trace_id: None,
            version: None,
            decision: decision.into(),
            window: None,
            summary,
        }
    }

    /// Judge a canary whose time is up: promoted or rolled back (see
    /// [`Lifecycle::settle_canary`](crate::lifecycle::Lifecycle::settle_canary)).
    async fn settle_canary(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        let (version, decision, summary) = match self.lifecycle.settle_canary().await? {
            None | Some(CanaryOutcome::Running { .. }) => return Ok(()),
            Some(CanaryOutcome::Promoted {
                version, reason, ..
            }) => (
                version,
                "promoted",
                format!(
                    "canary version {version} promoted, {}@{} moved: {reason}",
                    self.model(),
                    self.lifecycle.config().serving_alias
                ),
            ),
            Some(CanaryOutcome::RolledBack {
                version, reason, ..
            }) => (
                version,
                "rolled_back",
                format!("canary version {version} rolled back: {reason}"),
            ),
        };
        let mut r = self.report("canary", decision, summary);
        r.version = Some(version);
        out.push(r);
        Ok(())
    }

    /// Release the approvals and rejections people recorded since the last poll (from the
    /// CLI, the HTTP admin API or another program): each is applied exactly once.
    async fn apply_decisions(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        for applied in self.lifecycle.apply_decisions().await? {
            let rec = &applied.record;
            let by = rec.decided_by.as_deref().unwrap_or("?");
            let why = rec.reason.as_deref().unwrap_or("");
            let mut r = match &applied.deployment {
                Some(d) if d.deployer == crate::lifecycle::CANARY_DEPLOYER => self.report(
                    "approval",
                    "canary",
                    format!(
                        "version {} approved by {by} ({why}): released as a canary, {}",
                        rec.version, d.endpoint
                    ),
                ),
                Some(d) => self.report(
                    "approval",
                    "promoted",
                    format!(
                        "version {} approved by {by} ({why}): deployed via {}, {}@{} moved",
                        rec.version,
                        d.deployer,
                        self.model(),
                        self.lifecycle.config().serving_alias
                    ),
                ),
                None => self.report(
                    "approval",
                    "rejected",
                    format!("version {} rejected by {by}: {why}", rec.version),
                ),
            };
            r.version = Some(rec.version);
            out.push(r);
        }
        Ok(())
    }

    async fn settle_in_progress(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        let Some(step) = self.lock().in_progress.clone() else {
            return Ok(());
        };
        if let Some(key) = step.strip_prefix("train:")
            && let Some(v) = self.version_trained_on(key).await?
        {
            // Registered before the process stopped: do not train again.
            self.mark_trained(key, Some(v))?;
            let mut r = self.report(
                "train",
                "already_trained",
                format!("dataset version {key} was already trained into version {v}"),
            );
            r.version = Some(v);
            out.push(r);
            return Ok(());
        }
        // Otherwise the step left nothing behind; it is run again below.
        self.lock().in_progress = None;
        self.save()
    }

    async fn train_on(
        &self,
        data: &Dataset,
        trigger: Trigger,
        key: Option<&DatasetVersion>,
    ) -> Result<CycleReport> {
        let mut tags = BTreeMap::new();
        if let Some(v) = key {
            tags.insert(DATASET_TAG.to_string(), v.key.clone());
        }
        let outcome = self
            .lifecycle
            .run_training_tagged(data, trigger, tags)
            .await?;
        let decision = match &outcome.decision {
            TrainingDecision::Promoted { .. } => "promoted",
            TrainingDecision::Canary { .. } => "canary",
            TrainingDecision::Rejected { .. } => "rejected",
            TrainingDecision::AwaitingApproval => "awaiting_approval",
        };
        Ok(CycleReport {
            at: self.clock.now(),
            kind: if trigger == Trigger::Schedule {
                "schedule"
            } else {
                "train"
            }
            .into(),
            trace_id: Some(outcome.trace_id.clone()),
            version: Some(outcome.version.version),
            decision: decision.into(),
            window: None,
            summary: format!(
                "{} rows of {} ({}) trained into version {}: {decision}",
                data.n_rows(),
                key.map_or(data.source(), |k| k.name.as_str()),
                trigger.as_str(),
                outcome.version.version
            ),
        })
    }

    async fn train_new_datasets(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        let Some(feed) = &self.feed else {
            return Ok(());
        };
        for v in feed.versions().await? {
            if self.is_trained(&v.key)? {
                continue;
            }
            if let Some(done) = self.version_trained_on(&v.key).await? {
                self.mark_trained(&v.key, Some(done))?;
                continue;
            }
            let data = feed.load(&v).await?;
            self.lock().in_progress = Some(format!("train:{}", v.key));
            self.save()?;
            let r = self.train_on(&data, Trigger::NewDataset, Some(&v)).await?;
            self.mark_trained(&v.key, r.version)?;
            out.push(r);
        }
        Ok(())
    }

    async fn scheduled_training(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        let (Some(every), Some(feed)) = (self.config.schedule, &self.feed) else {
            return Ok(());
        };
        let now = self.clock.now();
        let last = self.lock().last_schedule;
        let Some(last) = last else {
            self.lock().last_schedule = Some(now);
            return self.save();
        };
        if now < last + every {
            return Ok(());
        }
        let days = self.lifecycle.config().retrain_window_days;
        let data = feed.labelled(now - Duration::days(days), now).await?;
        let r = if data.n_rows() == 0 {
            self.report(
                "schedule",
                "skipped",
                "no labelled rows in the retraining window".into(),
            )
        } else {
            self.train_on(&data, Trigger::Schedule, None).await?
        };
        self.lock().last_schedule = Some(now);
        self.save()?;
        out.push(r);
        Ok(())
    }

    async fn follow_registry(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        let Some(holdout) = &self.config.holdout else {
            return Ok(());
        };
        let cursor = self.lock().cursor;
        let (next, outcomes) = self.lifecycle.release_registered(cursor, holdout).await?;
        for o in outcomes {
            let decision = match &o.decision {
                TrainingDecision::Promoted { .. } => "promoted",
                TrainingDecision::Canary { .. } => "canary",
                TrainingDecision::Rejected { .. } => "rejected",
                TrainingDecision::AwaitingApproval => "awaiting_approval",
            };
            out.push(CycleReport {
                at: self.clock.now(),
                kind: "release".into(),
                trace_id: Some(o.trace_id.clone()),
                version: Some(o.version.version),
                decision: decision.into(),
                window: None,
                summary: format!(
                    "version {} registered elsewhere, validated against {}: {decision}",
                    o.version.version,
                    o.champion_version
                        .map_or("no champion".to_string(), |c| format!("version {c}"))
                ),
            });
        }
        if next != cursor {
            self.lock().cursor = next;
            self.save()?;
        }
        Ok(())
    }

    async fn monitoring_windows(&self, out: &mut Vec<CycleReport>) -> Result<()> {
        let now = self.clock.now();
        let last = self.lock().last_window_end;
        let Some(mut last) = last else {
            // The first window ends one cadence after the controller first starts.
            self.lock().last_window_end = Some(now);
            return self.save();
        };
        while last + self.config.every <= now {
            let end = last + self.config.every;
            let from = end - self.config.window;
            let o = self.lifecycle.run_monitoring(from, end).await?;
            let (decision, summary, version) = match &o.decision {
                MonitoringDecision::NoAction => ("no_action", "no action".to_string(), None),
                MonitoringDecision::Skipped { reason } => ("skipped", reason.clone(), None),
                MonitoringDecision::DataQualityFault { reason } => {
                    ("data_quality_fault", reason.clone(), None)
                }
                MonitoringDecision::DriftAlert { reason } => ("drift_alert", reason.clone(), None),
                MonitoringDecision::ExpectedShift { reason } => {
                    ("expected_shift", reason.clone(), None)
                }
                MonitoringDecision::Retrained { outcome } => (
                    "retrained",
                    format!("retrained into version {}", outcome.version.version),
                    Some(outcome.version.version),
                ),
            };
            let rows = o.report.as_ref().map_or(0, |r| r.health.rows);
            out.push(CycleReport {
                at: self.clock.now(),
                kind: "monitor".into(),
                trace_id: Some(o.trace_id.clone()),
                version,
                decision: decision.into(),
                window: Some((from, end)),
                summary: format!("{rows} rows: {summary}"),
            });
            last = end;
            self.lock().last_window_end = Some(end);
            self.save()?;
        }
        Ok(())
    }
}

/// Whether process `pid` still runs (Linux: `/proc/<pid>` exists; elsewhere assumed alive,
/// so only the heartbeat's age frees a lease).
#[cfg(feature = "sqlite")]
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.is_dir() {
        return true;
    }
    if pid == std::process::id() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}
