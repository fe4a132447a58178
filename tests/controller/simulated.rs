//! 180 simulated days of the controller: stable stretches, a data-quality incident, a new
//! dataset version and a sudden shift, all driven by `Controller::step` on a simulated clock.

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use mlcycle::clock::{Clock, SimulatedClock};
use mlcycle::controller::{Controller, ControllerConfig, CycleReport};
use mlcycle::data::Dataset;
use mlcycle::datasets::{DatasetFeed, DatasetVersion};
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDataSource};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::{Arc, Mutex};

/// Served days (labels known at once) and published dataset versions.
#[derive(Debug, Default)]
struct Feed {
    served: Mutex<Vec<Dataset>>,
    published: Mutex<Vec<(DatasetVersion, Dataset)>>,
}

#[async_trait]
impl TrainingDataSource for Feed {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> mlcycle::Result<Dataset> {
        let parts = self
            .served
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.window(from, to))
            .collect::<mlcycle::Result<Vec<_>>>()?;
        Dataset::concat(&parts)
    }
}

#[async_trait]
impl DatasetFeed for Feed {
    async fn versions(&self) -> mlcycle::Result<Vec<DatasetVersion>> {
        Ok(self
            .published
            .lock()
            .unwrap()
            .iter()
            .map(|(v, _)| v.clone())
            .collect())
    }
    async fn load(&self, v: &DatasetVersion) -> mlcycle::Result<Dataset> {
        let published = self.published.lock().unwrap();
        Ok(published.iter().find(|(p, _)| p == v).unwrap().1.clone())
    }
}

const ROWS_PER_DAY: usize = 400;
const DAYS: i64 = 180;
const INCIDENT_DAY: i64 = 60;
const NEW_DATASET_DAY: i64 = 90;
const SHIFT_DAY: i64 = 130;

fn spec(day: i64) -> DriftSpec {
    if day >= SHIFT_DAY {
        DriftSpec::downturn(1.0)
    } else if day == INCIDENT_DAY {
        DriftSpec::missing_surge("income", 0.6)
    } else {
        DriftSpec::none()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_months_on_a_simulated_clock() {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(SimulatedClock::new(start));
    let synth = CreditDefault::new(7);
    let feed = Arc::new(Feed::default());
    let history = synth
        .sample_between(
            6_000,
            &DriftSpec::none(),
            1_000,
            start - Duration::days(30),
            Duration::days(30),
        )
        .unwrap();
    feed.published.lock().unwrap().push((
        DatasetVersion {
            key: "history:1".into(),
            name: "history".into(),
        },
        history,
    ));
    let stack = Stack::in_memory_with(clock.clone(), LifecycleConfig::new("credit"), |b| {
        b.data_source(feed.clone() as Arc<dyn TrainingDataSource>)
    })
    .unwrap();
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
    )
    .unwrap()
    .with_feed(feed.clone());

    let mut reports: Vec<CycleReport> = controller.step().await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(
        (
            reports[0].kind.as_str(),
            reports[0].decision.as_str(),
            reports[0].version
        ),
        ("train", "promoted", Some(1))
    );
    for day in 0..DAYS {
        let day_start = start + Duration::days(day);
        let data = synth
            .sample_between(
                ROWS_PER_DAY,
                &spec(day),
                day as u64,
                day_start,
                Duration::days(1),
            )
            .unwrap();
        let ts = data.timestamps().unwrap().to_vec();
        for (i, chunk) in (0..data.n_rows()).step_by(50).enumerate() {
            clock.set(ts[chunk]);
            let end = (chunk + 50).min(data.n_rows());
            deployer
                .predict(ScoreRequest {
                    rows: data
                        .features()
                        .slice(ndarray::s![chunk..end, ..])
                        .to_owned(),
                    request_id: Some(format!("d{day}-{i}")),
                })
                .await
                .unwrap();
        }
        collector.flush().await.unwrap();
        feed.served.lock().unwrap().push(data);
        if day == NEW_DATASET_DAY {
            let fresh = synth
                .sample_between(
                    6_000,
                    &DriftSpec::none(),
                    2_000,
                    day_start - Duration::days(30),
                    Duration::days(30),
                )
                .unwrap();
            feed.published.lock().unwrap().push((
                DatasetVersion {
                    key: "history:2".into(),
                    name: "refresh".into(),
                },
                fresh,
            ));
        }
        clock.sleep_until(day_start + Duration::days(1)).await;
        assert_eq!(
            controller.next_due(),
            clock.now(),
            "a window is due each evening"
        );
        reports.extend(controller.step().await.unwrap());
    }

    let monitors: Vec<&CycleReport> = reports.iter().filter(|r| r.kind == "monitor").collect();
    assert_eq!(
        monitors.len(),
        DAYS as usize,
        "one window per day, none repeated"
    );
    let day_of = |r: &CycleReport| (r.window.unwrap().0 - start).num_days();
    for (i, m) in monitors.iter().enumerate() {
        assert_eq!(day_of(m), i as i64, "windows tumble day by day");
    }
    // Stable stretches (before the shift, apart from the incident): no drift alert.
    for m in monitors
        .iter()
        .filter(|m| day_of(m) < SHIFT_DAY && day_of(m) != INCIDENT_DAY)
    {
        assert!(
            !matches!(
                m.decision.as_str(),
                "drift_alert" | "retrained" | "data_quality_fault"
            ),
            "day {}: {m:?}",
            day_of(m)
        );
    }
    // The incident raises a data-quality fault and no retrain.
    let incident = monitors[INCIDENT_DAY as usize];
    assert_eq!(incident.decision, "data_quality_fault", "{incident:?}");
    // The shift is detected within its first window.
    let shift = monitors[SHIFT_DAY as usize];
    assert!(
        matches!(shift.decision.as_str(), "drift_alert" | "retrained"),
        "{shift:?}"
    );
    // ... and retrained once enough labelled rows arrived.
    assert!(
        monitors[SHIFT_DAY as usize..]
            .iter()
            .any(|m| m.decision == "retrained"),
        "{:#?}",
        &monitors[SHIFT_DAY as usize..]
    );
    // The new dataset version was trained on, once, the evening it was published.
    let trained: Vec<&CycleReport> = reports.iter().filter(|r| r.kind == "train").collect();
    assert_eq!(trained.len(), 2, "{trained:#?}");
    assert_eq!(
        trained[1].at,
        start + Duration::days(NEW_DATASET_DAY + 1),
        "{trained:#?}"
    );
}
