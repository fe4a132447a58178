//! For applications that keep the lifecycle running themselves: the [`Controller`] inside
//! your own tokio program, with your own [`AlertSink`] (here: a pager that collects what it
//! would send) next to the built-in log sink.
//!
//! It runs 24 simulated days in a second or two: the controller trains on the first published
//! dataset, production traffic flows through the deployed model, the economy turns on day 14,
//! the controller's daily monitoring window sees the drift, retrains, and the pager hears
//! about each step once. In a real program use [`SystemClock`], the embedded store
//! (`Stack::open_with`) and `controller.run(shutdown_signal, |report| …)` instead of the loop
//! of `step()` calls below.
//!
//! Run: `cargo run --example operate`

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use mlcycle::alerts::{
    Alert, AlertDispatcher, AlertSink, DeliveryReport, LogSink, MemoryAlertStore,
};
use mlcycle::clock::{Clock, SimulatedClock};
use mlcycle::controller::{Controller, ControllerConfig, CycleReport};
use mlcycle::data::Dataset;
use mlcycle::datasets::{DatasetFeed, DatasetVersion};
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDataSource};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::{Arc, Mutex};

/// The day the synthetic economy turns.
pub const SHIFT_DAY: i64 = 14;
const DAYS: i64 = 24;
const ROWS_PER_DAY: usize = 400;

/// Your alert channel: anything with a name and a `deliver`. This one keeps one line per
/// alert; a real one would call a paging or chat API and report failures so the dispatcher
/// records them.
#[derive(Debug, Default)]
pub struct Pager {
    /// What was sent.
    pub sent: Mutex<Vec<String>>,
}

#[async_trait]
impl AlertSink for Pager {
    fn name(&self) -> &str {
        "pager"
    }

    async fn deliver(&self, alert: &Alert) -> DeliveryReport {
        let line = format!(
            "[{}] {} → {}: {}",
            alert.kind.as_str(),
            alert.model_name,
            alert.owner.as_deref().unwrap_or("(no owner)"),
            alert.message
        );
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
        DeliveryReport::single(self.name(), true, None)
    }
}

/// Your data: the labelled days served so far (for retraining) and the published dataset
/// versions (trained on as they appear).
#[derive(Debug, Default)]
struct Warehouse {
    served: Mutex<Vec<Dataset>>,
    published: Mutex<Vec<(DatasetVersion, Dataset)>>,
}

#[async_trait]
impl TrainingDataSource for Warehouse {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> mlcycle::Result<Dataset> {
        let served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        let parts = served
            .iter()
            .map(|d| d.window(from, to))
            .collect::<mlcycle::Result<Vec<_>>>()?;
        Dataset::concat(&parts)
    }
}

#[async_trait]
impl DatasetFeed for Warehouse {
    async fn versions(&self) -> mlcycle::Result<Vec<DatasetVersion>> {
        let published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        Ok(published.iter().map(|(v, _)| v.clone()).collect())
    }

    async fn load(&self, v: &DatasetVersion) -> mlcycle::Result<Dataset> {
        let published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        published
            .iter()
            .find(|(p, _)| p == v)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                mlcycle::Error::not_found("dataset version", &v.name, "publish it first")
            })
    }
}

/// Run the example; returns the controller's reports and what the pager sent.
pub async fn run() -> mlcycle::Result<(Vec<CycleReport>, Vec<String>)> {
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let clock = Arc::new(SimulatedClock::new(start));
    let synth = CreditDefault::new(7);
    let warehouse = Arc::new(Warehouse::default());
    warehouse
        .published
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((
            DatasetVersion {
                key: "history:1".into(),
                name: "history".into(),
            },
            synth.sample_between(
                6_000,
                &DriftSpec::none(),
                1_000,
                start - Duration::days(30),
                Duration::days(30),
            )?,
        ));

    // Alerts: stored (here in memory), logged, and sent to the pager, naming the owner.
    let pager = Arc::new(Pager::default());
    let alerts = Arc::new(
        AlertDispatcher::new(Arc::new(MemoryAlertStore::default()))
            .sink(Arc::new(LogSink))
            .sink(pager.clone())
            .default_owner("risk-models@example.com"),
    );
    let stack = Stack::in_memory_with(clock.clone(), LifecycleConfig::new("credit"), |b| {
        b.data_source(warehouse.clone() as Arc<dyn TrainingDataSource>)
            .alerts(alerts.clone())
    })?;
    let deployer = stack.deployer.clone();
    let collector = stack.collector.clone();
    let controller = Controller::new(
        Arc::new(stack.lifecycle),
        clock.clone(),
        ControllerConfig {
            every: Duration::days(1),
            window: Duration::days(1),
            poll: Duration::days(1),
            ..ControllerConfig::default()
        },
    )?
    .with_feed(warehouse.clone());

    let mut reports = controller.step().await?; // trains on the published history
    for day in 0..DAYS {
        let day_start = start + Duration::days(day);
        let spec = if day >= SHIFT_DAY {
            DriftSpec::downturn(1.0)
        } else {
            DriftSpec::none()
        };
        let data = synth.sample_between(
            ROWS_PER_DAY,
            &spec,
            day as u64,
            day_start,
            Duration::days(1),
        )?;
        // The day's traffic, 50 rows per request, at the rows' times.
        let ts = data.timestamps().map(<[_]>::to_vec).unwrap_or_default();
        for chunk in (0..data.n_rows()).step_by(50) {
            if let Some(t) = ts.get(chunk) {
                clock.set(*t);
            }
            let end = (chunk + 50).min(data.n_rows());
            deployer
                .predict(ScoreRequest {
                    rows: data
                        .features()
                        .slice(ndarray::s![chunk..end, ..])
                        .to_owned(),
                    request_id: None,
                })
                .await?;
        }
        collector.flush().await?;
        warehouse
            .served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(data);
        // The evening's monitoring window (with `SystemClock`, `run` waits for it instead).
        clock.sleep_until(day_start + Duration::days(1)).await;
        reports.extend(controller.step().await?);
    }
    let sent = pager.sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok((reports, sent))
}

#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let (reports, sent) = run().await?;
    println!("controller, one line per cycle that did something:");
    for r in reports.iter().filter(|r| r.decision != "no_action") {
        println!(
            "  {} {:<8} {:<18} {}",
            r.at.format("%Y-%m-%d"),
            r.kind,
            r.decision,
            r.summary
        );
    }
    println!("\npager:");
    for line in &sent {
        println!("  {line}");
    }
    Ok(())
}
