//! A scenario harness: simulate days of production traffic against a deployment under a
//! [`SimulatedClock`], running the lifecycle's monitoring cycle at the end of each simulated
//! day — on your own data ([`Scenario::new`] with a [`ScenarioData`]) or on the built-in
//! synthetic credit-default data with drift and a data fault switched on at chosen days
//! ([`Scenario::credit_default`], what `mlcycle demo` runs; [`run`] is its shorthand).
//!
//! It drives the real components (trainer, validator, registry, in-process deployment,
//! prediction log, drift detector, audit trail); only time and the data are simulated.
//! Labels of served rows "arrive" through a [`TrainingDataSource`]: yours
//! ([`Scenario::with_labels`]), or by default the labels of the very rows that were served
//! (each day's [`ScenarioData::day`] carries them).
//!
//! ```
//! use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
//! use mlcycle::lifecycle::LifecycleConfig;
//! use mlcycle::testing::scenario::{Scenario, ScenarioConfig, ScenarioData};
//! use ndarray::{Array1, Array2};
//! use std::sync::Arc;
//!
//! /// Your own data: one numeric feature, a label that follows it; it shifts on day 3.
//! #[derive(Debug)]
//! struct Mine;
//! impl Mine {
//!     fn rows(&self, n: usize, shift: f64, salt: u64) -> mlcycle::Result<Dataset> {
//!         let schema = Schema::new(
//!             vec![Feature::numeric("tenure")],
//!             Some(Target { name: "churned".into(), kind: TargetKind::classification(["stay", "churn"])? }),
//!         )?;
//!         let x: Vec<f64> = (0..n).map(|i| ((i as u64 * 7919 + salt) % 1000) as f64 / 100.0 + shift).collect();
//!         let y: Vec<f64> = x.iter().map(|&v| if v < 5.0 { 1.0 } else { 0.0 }).collect();
//!         Dataset::new(schema, Array2::from_shape_vec((n, 1), x).unwrap(), Some(Array1::from(y)), None)
//!     }
//! }
//! impl ScenarioData for Mine {
//!     fn history(&self) -> mlcycle::Result<Dataset> { self.rows(2_000, 0.0, 1) }
//!     fn day(&self, day: u32) -> mlcycle::Result<Dataset> {
//!         self.rows(400, if day >= 3 { 4.0 } else { 0.0 }, 100 + day as u64)
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = ScenarioConfig { days: 5, monitor_window_days: 1, ..ScenarioConfig::default() };
//! let report = Scenario::new(config, Arc::new(Mine))
//!     .run(LifecycleConfig::new("churn"), None, |_| {})
//!     .await
//!     .unwrap();
//! assert_eq!(report.days.len(), 5);
//! assert!(report.drift_days().contains(&3));
//! # });
//! ```

use crate::clock::SimulatedClock;
use crate::data::Dataset;
use crate::deploy::{Deployer, ScoreRequest};
use crate::embedded::Stack;
use crate::lifecycle::{
    LifecycleBuilder, LifecycleConfig, MonitoringOutcome, Observer, TrainingDataSource,
    TrainingOutcome, Trigger,
};
use crate::testing::{CreditDefault, DriftSpec};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Drift switched on at a given day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEvent {
    /// First drifted day (0-based).
    pub start_day: u32,
    /// The drift at full intensity (reached at once).
    pub spec: DriftSpec,
}

/// An upstream data fault: a share of a feature's values go missing for some days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// First faulty day.
    pub start_day: u32,
    /// How many days it lasts.
    pub days: u32,
    /// The feature that goes missing.
    pub feature: String,
    /// The share of rows affected.
    pub fraction: f64,
}

/// Scenario settings. `seed`, `initial_training_rows`, `requests_per_day`, `drift` and
/// `fault` shape the built-in synthetic data ([`Scenario::credit_default`]); with your own
/// [`ScenarioData`] the rows of a day come from it and only the timing settings apply
/// (`days`, `start`, `rows_per_request`, `monitor_window_days`, `store`; `seed` prefixes
/// the request ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioConfig {
    /// Seed of all generated data.
    pub seed: u64,
    /// Days of production to simulate.
    pub days: u32,
    /// Midnight UTC of day 0.
    pub start: DateTime<Utc>,
    /// Rows in the initial training set (collected before day 0).
    pub initial_training_rows: usize,
    /// Scoring requests per day.
    pub requests_per_day: usize,
    /// Rows per scoring request.
    pub rows_per_request: usize,
    /// Monitoring looks at the last this-many days each evening.
    pub monitor_window_days: i64,
    /// Drift, if any.
    pub drift: Option<DriftEvent>,
    /// A data fault, if any.
    pub fault: Option<FaultEvent>,
    /// Where to keep the store; in memory when `None`.
    pub store: Option<PathBuf>,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            seed: 2026,
            days: 60,
            start: Utc
                .with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            initial_training_rows: 20_000,
            requests_per_day: 40,
            rows_per_request: 10,
            monitor_window_days: 7,
            drift: Some(DriftEvent {
                start_day: 30,
                spec: DriftSpec::downturn(1.0),
            }),
            fault: Some(FaultEvent {
                start_day: 12,
                days: 2,
                feature: "income".into(),
                fraction: 0.6,
            }),
            store: None,
        }
    }
}

impl ScenarioConfig {
    /// The same scenario without drift or data faults (for false-alarm checks).
    pub fn without_drift(mut self) -> Self {
        self.drift = None;
        self.fault = None;
        self
    }

    fn check_synthetic(&self) -> Result<()> {
        if self.requests_per_day == 0 {
            return Err(Error::invalid(
                "scenario",
                "days, requests_per_day and rows_per_request must be at least 1",
            ));
        }
        if self.initial_training_rows < 100 {
            return Err(Error::invalid(
                "scenario",
                "initial_training_rows must be at least 100",
            ));
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        if self.days == 0 || self.rows_per_request == 0 {
            return Err(Error::invalid(
                "scenario",
                "days, requests_per_day and rows_per_request must be at least 1",
            ));
        }
        if self.monitor_window_days < 1 {
            return Err(Error::invalid(
                "scenario",
                "monitor_window_days must be at least 1",
            ));
        }
        Ok(())
    }

    fn rows_per_day(&self) -> usize {
        self.requests_per_day * self.rows_per_request
    }

    fn day_start(&self, day: i64) -> DateTime<Utc> {
        self.start + Duration::days(day)
    }

    /// The data-generating conditions on `day`.
    pub fn spec_for_day(&self, day: u32) -> DriftSpec {
        let mut spec = match &self.drift {
            Some(d) if day >= d.start_day => d.spec.clone(),
            _ => DriftSpec::none(),
        };
        if let Some(f) = &self.fault
            && day >= f.start_day
            && day < f.start_day + f.days
        {
            spec.missing.push((f.feature.clone(), f.fraction));
        }
        spec
    }

    /// Whether drift (not a fault) is on at `day`.
    pub fn drift_on(&self, day: u32) -> bool {
        self.drift.as_ref().is_some_and(|d| day >= d.start_day)
    }

    /// The labelled rows served on `day` (the same rows every time it is asked).
    pub fn day_data(&self, day: u32) -> Result<Dataset> {
        CreditDefault::new(self.seed).sample_between(
            self.rows_per_day(),
            &self.spec_for_day(day),
            1_000 + day as u64,
            self.day_start(day as i64),
            Duration::days(1),
        )
    }
}

/// Where a scenario's rows come from: your own data, day by day.
///
/// # Contract
/// - `history` is the labelled data of the first training cycle (collected before day 0).
/// - `day(d)` is the labelled rows served on day `d` (0-based), the same rows every time
///   it is asked (the default label source asks again when labels "arrive"). Its
///   timestamps, if it has any, should fall within the day (`start + d` days); rows without
///   timestamps are spread evenly over the day. The features are served (the target is
///   what arrives later as the label).
/// - Every day has the schema of `history` (the same features, levels and target).
pub trait ScenarioData: Send + Sync + std::fmt::Debug {
    /// The labelled rows of the initial training.
    fn history(&self) -> Result<Dataset>;
    /// The labelled rows served on `day`.
    fn day(&self, day: u32) -> Result<Dataset>;
    /// Whether drift is on at `day` (reported in [`DayRecord::drift_on`]; default `false`).
    fn drift_on(&self, _day: u32) -> bool {
        false
    }
    /// Whether a data fault is on at `day` (reported in [`DayRecord::fault_on`]; default
    /// `false`).
    fn fault_on(&self, _day: u32) -> bool {
        false
    }
}

/// The built-in synthetic credit-default data, with the drift and fault of a
/// [`ScenarioConfig`].
#[derive(Debug, Clone)]
struct CreditDefaultData {
    config: ScenarioConfig,
}

impl ScenarioData for CreditDefaultData {
    fn history(&self) -> Result<Dataset> {
        let c = &self.config;
        Ok(CreditDefault::new(c.seed)
            .sample_between(
                c.initial_training_rows,
                &DriftSpec::none(),
                0,
                c.start - Duration::days(90),
                Duration::days(90),
            )?
            .with_source(format!(
                "historical loans {} .. {} (synthetic, seed {})",
                (c.start - Duration::days(90)).format("%Y-%m-%d"),
                c.start.format("%Y-%m-%d"),
                c.seed
            )))
    }

    fn day(&self, day: u32) -> Result<Dataset> {
        self.config.day_data(day)
    }

    fn drift_on(&self, day: u32) -> bool {
        self.config.drift_on(day)
    }

    fn fault_on(&self, day: u32) -> bool {
        !self.config.spec_for_day(day).missing.is_empty()
    }
}

/// The rows served on `day`, with timestamps (spread evenly over the day when it has none).
fn served_rows(data: &dyn ScenarioData, config: &ScenarioConfig, day: u32) -> Result<Dataset> {
    let d = data.day(day)?;
    if d.timestamps().is_some() {
        return Ok(d);
    }
    let n = d.n_rows().max(1) as i64;
    let start = config.day_start(day as i64);
    let ts = (0..d.n_rows() as i64)
        .map(|i| start + Duration::milliseconds(i * 86_400_000 / n))
        .collect();
    let source = d.source().to_string();
    Ok(Dataset::with_schema(
        d.schema_arc().clone(),
        d.features().to_owned(),
        d.target().cloned(),
        Some(ts),
    )?
    .with_source(source))
}

/// Labels of served rows, "arriving" for any window of past days: the labelled rows of
/// each day, again.
#[derive(Debug, Clone)]
struct ServedRowLabels {
    config: ScenarioConfig,
    data: Arc<dyn ScenarioData>,
}

#[async_trait]
impl TrainingDataSource for ServedRowLabels {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset> {
        let c = &self.config;
        let first = ((from - c.start).num_seconds().div_euclid(86_400)).max(0);
        let last = ((to - c.start).num_seconds() - 1)
            .div_euclid(86_400)
            .min(c.days as i64 - 1);
        let mut parts = Vec::new();
        for day in first..=last {
            parts.push(served_rows(self.data.as_ref(), c, day as u32)?.window(from, to)?);
        }
        if parts.is_empty() {
            return Err(Error::Data(format!(
                "no labelled data between {from} and {to}"
            )));
        }
        // Drop the per-day schema extensions (a new category) by requiring equal schemas.
        Ok(Dataset::concat(&parts)?.with_source(format!(
            "labelled production rows {} .. {}",
            from.format("%Y-%m-%d"),
            to.format("%Y-%m-%d")
        )))
    }
}

/// What happened on one simulated day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRecord {
    /// Day number (0-based).
    pub day: u32,
    /// Midnight UTC of the day.
    pub date: DateTime<Utc>,
    /// Whether drift was switched on.
    pub drift_on: bool,
    /// Whether a data fault was on.
    pub fault_on: bool,
    /// Rows scored.
    pub rows_scored: usize,
    /// Versions that answered requests that day.
    pub served_by: Vec<u32>,
    /// The evening's monitoring cycle.
    pub monitoring: MonitoringOutcome,
}

/// The account of a whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The settings.
    pub config: ScenarioConfig,
    /// The initial training cycle.
    pub initial: TrainingOutcome,
    /// Each day.
    pub days: Vec<DayRecord>,
    /// The version serving at the end.
    pub final_version: Option<u32>,
    /// Audit records written, all verified.
    pub audit_records: u64,
    /// A request id served on the last day (for lineage look-ups).
    pub sample_request_id: Option<String>,
    /// The lineage of that request, from the audit trail, registry and prediction log.
    pub sample_lineage: Option<crate::lineage::PredictionLineage>,
}

impl ScenarioReport {
    /// The monitoring outcomes that retrained, with their day.
    pub fn retrains(&self) -> impl Iterator<Item = (u32, &TrainingOutcome)> {
        self.days
            .iter()
            .filter_map(|d| match &d.monitoring.decision {
                crate::lifecycle::MonitoringDecision::Retrained { outcome } => {
                    Some((d.day, outcome.as_ref()))
                }
                _ => None,
            })
    }

    /// Days whose monitoring found dataset drift.
    pub fn drift_days(&self) -> Vec<u32> {
        self.days
            .iter()
            .filter(|d| {
                d.monitoring
                    .report
                    .as_ref()
                    .and_then(|r| r.drift.as_ref())
                    .is_some_and(|r| r.dataset_drift)
            })
            .map(|d| d.day)
            .collect()
    }
}

/// A scenario ready to run: settings, the data of each day, and where labels come from.
#[derive(Debug, Clone)]
pub struct Scenario {
    config: ScenarioConfig,
    data: Arc<dyn ScenarioData>,
    labels: Option<Arc<dyn TrainingDataSource>>,
}

impl Scenario {
    /// A scenario on your own data. Labels arrive from `data`'s days unless
    /// [`Scenario::with_labels`] gives a label source.
    pub fn new(config: ScenarioConfig, data: Arc<dyn ScenarioData>) -> Self {
        Scenario {
            config,
            data,
            labels: None,
        }
    }

    /// The built-in synthetic credit-default scenario (`mlcycle demo`), with the drift and
    /// fault of `config`.
    pub fn credit_default(config: ScenarioConfig) -> Self {
        let data = Arc::new(CreditDefaultData {
            config: config.clone(),
        });
        Scenario::new(config, data)
    }

    /// Take the labels of retraining windows from `labels` (your label store, a delayed
    /// feed, ...) instead of the served days' own labels.
    pub fn with_labels(mut self, labels: Arc<dyn TrainingDataSource>) -> Self {
        self.labels = Some(labels);
        self
    }

    /// Run it. `observer` sees every lifecycle stage; lifecycle settings come from
    /// `lifecycle_config` (the data source is the scenario's label source); `on_day` is
    /// called after each day's monitoring cycle.
    pub async fn run(
        self,
        lifecycle_config: LifecycleConfig,
        observer: Option<Arc<dyn Observer>>,
        on_day: impl FnMut(&DayRecord),
    ) -> Result<ScenarioReport> {
        run_scenario(self, lifecycle_config, observer, on_day).await
    }
}

/// Run the built-in synthetic credit-default scenario: shorthand for
/// `Scenario::credit_default(config).run(lifecycle_config, observer, on_day)`.
pub async fn run(
    config: ScenarioConfig,
    lifecycle_config: LifecycleConfig,
    observer: Option<Arc<dyn Observer>>,
    on_day: impl FnMut(&DayRecord),
) -> Result<ScenarioReport> {
    config.check_synthetic()?;
    Scenario::credit_default(config)
        .run(lifecycle_config, observer, on_day)
        .await
}

async fn run_scenario(
    scenario: Scenario,
    lifecycle_config: LifecycleConfig,
    observer: Option<Arc<dyn Observer>>,
    mut on_day: impl FnMut(&DayRecord),
) -> Result<ScenarioReport> {
    let Scenario {
        config,
        data: source,
        labels,
    } = scenario;
    config.check()?;
    let clock = Arc::new(SimulatedClock::new(config.start - Duration::days(1)));
    let labels = labels.unwrap_or_else(|| {
        Arc::new(ServedRowLabels {
            config: config.clone(),
            data: source.clone(),
        })
    });
    let customize = |b: LifecycleBuilder| {
        let b = b.data_source(labels.clone());
        match &observer {
            Some(o) => b.observer(o.clone()),
            None => b,
        }
    };
    let stack = match &config.store {
        #[cfg(feature = "sqlite")]
        Some(dir) => Stack::open_with(dir, clock.clone(), lifecycle_config, customize)?,
        #[cfg(not(feature = "sqlite"))]
        Some(_) => {
            return Err(Error::invalid(
                "scenario store",
                "a store directory needs the `sqlite` feature",
            ));
        }
        None => Stack::in_memory_with(clock.clone(), lifecycle_config, customize)?,
    };
    let history = source.history()?;
    let initial = stack
        .lifecycle
        .run_training(&history, Trigger::Manual)
        .await?;

    let mut days = Vec::with_capacity(config.days as usize);
    let mut sample_request_id = None;
    for day in 0..config.days {
        let data = served_rows(source.as_ref(), &config, day)?;
        let x = data.features();
        let ts = data.timestamps().unwrap_or_default();
        let mut served_by = Vec::new();
        for (r, start) in (0..data.n_rows())
            .step_by(config.rows_per_request)
            .enumerate()
        {
            let end = (start + config.rows_per_request).min(data.n_rows());
            if let Some(t) = ts.get(start) {
                clock.set(*t);
            }
            let request_id = format!("{}-d{day:03}-r{r:04}", config.seed);
            let resp = stack
                .deployer
                .predict(ScoreRequest {
                    rows: x.slice(ndarray::s![start..end, ..]).to_owned(),
                    request_id: Some(request_id),
                })
                .await?;
            if !served_by.contains(&resp.model_version) {
                served_by.push(resp.model_version);
            }
            sample_request_id = Some(resp.request_id);
        }
        stack.collector.flush().await?;
        let evening = config.day_start(day as i64 + 1);
        clock.set(evening);
        let monitoring = stack
            .lifecycle
            .run_monitoring(
                evening - Duration::days(config.monitor_window_days),
                evening,
            )
            .await?;
        let rec = DayRecord {
            day,
            date: config.day_start(day as i64),
            drift_on: source.drift_on(day),
            fault_on: source.fault_on(day),
            rows_scored: data.n_rows(),
            served_by,
            monitoring,
        };
        on_day(&rec);
        days.push(rec);
    }
    stack
        .lifecycle
        .undeploy("scenario", "end of the simulated period")
        .await?;
    let final_version = stack.lifecycle.champion().await?.map(|v| v.version);
    let audit_records = stack.audit.verify().await?;
    let sample_lineage = match &sample_request_id {
        Some(id) => Some(
            crate::lineage::LineageQuery::new(
                stack.audit.as_ref(),
                stack.registry.as_ref(),
                stack.prediction_log.as_ref(),
            )
            .prediction(id)
            .await?,
        ),
        None => None,
    };
    Ok(ScenarioReport {
        config,
        initial,
        days,
        final_version,
        audit_records,
        sample_request_id,
        sample_lineage,
    })
}
