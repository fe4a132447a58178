//! Seasonality: with a season length, a drifted window is compared with the same window
//! one season earlier; a shift that came back with the season is expected (no action),
//! a new one is real drift.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
use mlcycle::data::Dataset;
use mlcycle::drift::StatisticalDriftDetector;
use mlcycle::lifecycle::LifecycleConfig;
use mlcycle::lifecycle::decide::{EpisodeState, Policy, Verdict, WindowSummary, decide};
use mlcycle::monitor::{Monitor, MonitorConfig, MonitorReport};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

/// The rows of `data` logged one per request over the day `day` (days from `t0`).
fn logged(data: &Dataset, day: i64) -> Vec<PredictionRecord> {
    (0..data.n_rows())
        .map(|i| PredictionRecord {
            request_id: format!("d{day}-{i}"),
            at: t0() + Duration::days(day) + Duration::seconds(60 * i as i64),
            model_name: "credit".into(),
            model_version: 1,
            inputs: vec![data.features().row(i).to_vec()],
            outputs: vec![0.0],
            probabilities: vec![],
            latency_us: 5,
            error: None,
            notes: vec![],
        })
        .collect()
}

async fn check(monitor: &Monitor, reference: &Dataset, day: i64) -> MonitorReport {
    monitor
        .check(
            reference,
            t0() + Duration::days(day),
            t0() + Duration::days(day + 1),
        )
        .await
        .unwrap()
}

fn verdict(report: &MonitorReport) -> Verdict {
    let policy = Policy::of(&LifecycleConfig::new("credit"), true);
    decide(
        &WindowSummary::of(report, 1),
        &EpisodeState::default(),
        &policy,
    )
    .0
    .verdict
}

#[tokio::test]
async fn a_shift_that_returns_with_the_season_is_expected_and_a_new_one_is_not() {
    let synth = CreditDefault::new(11);
    let reference = synth.sample(2_000, &DriftSpec::none(), 0).unwrap();
    let season = DriftSpec::downturn(1.0);
    // Week 0: an ordinary day 2, the seasonal peak on day 5. Week 1: the peak again on
    // day 12 (one season of 7 days later), and a shift on day 9 whose day 2 was ordinary.
    let log = Arc::new(InMemoryPredictionLog::default());
    for (day, spec, stream) in [
        (2, DriftSpec::none(), 1),
        (5, season.clone(), 2),
        (9, season.clone(), 3),
        (12, season.clone(), 4),
    ] {
        let data = synth.sample(600, &spec, stream).unwrap();
        log.append(logged(&data, day)).await.unwrap();
    }
    let monitor = |season_length_hours| {
        Monitor::new(
            log.clone(),
            Arc::new(StatisticalDriftDetector::default()),
            MonitorConfig {
                season_length_hours,
                max_volume_drop: None,
                ..MonitorConfig::default()
            },
        )
    };
    let weekly = monitor(Some(168));

    // Day 12 drifts against the training data exactly as day 5 did: expected.
    let peak = check(&weekly, &reference, 12).await;
    assert!(peak.drift.as_ref().unwrap().dataset_drift);
    let s = peak.seasonality.as_ref().unwrap();
    assert_eq!(
        (s.from, s.to),
        (t0() + Duration::days(5), t0() + Duration::days(6))
    );
    assert_eq!(s.rows, 600);
    assert!(s.expected, "{s:?}");
    assert!(s.unexplained_columns.is_empty());
    let drifted: Vec<String> = peak
        .drift
        .as_ref()
        .unwrap()
        .drifted()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(s.seasonal_columns, drifted);
    assert!(s.seasonal_columns.iter().any(|c| c == "income"), "{s:?}");
    match verdict(&peak) {
        Verdict::ExpectedShift { reason } => {
            assert!(
                reason.contains("income") && reason.contains("one season earlier"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Day 9 drifts the same way, but day 2 was ordinary: a new shift, real drift.
    let new = check(&weekly, &reference, 9).await;
    assert!(new.drift.as_ref().unwrap().dataset_drift);
    let s = new.seasonality.as_ref().unwrap();
    assert!(!s.expected && s.seasonal_columns.is_empty(), "{s:?}");
    assert!(!s.unexplained_columns.is_empty());
    assert!(
        matches!(verdict(&new), Verdict::Retrain { .. }),
        "{:?}",
        verdict(&new)
    );

    // Day 5 has no season before it in the log: nothing explains it.
    let first = check(&weekly, &reference, 5).await;
    let s = first.seasonality.as_ref().unwrap();
    assert_eq!(s.rows, 0);
    assert!(!s.expected);
    assert!(matches!(verdict(&first), Verdict::Retrain { .. }));

    // Without a season length, day 12 is real drift; an undrifted window has no check.
    let plain = check(&monitor(None), &reference, 12).await;
    assert!(plain.seasonality.is_none());
    assert!(matches!(verdict(&plain), Verdict::Retrain { .. }));
    let calm = check(&weekly, &reference, 2).await;
    assert!(!calm.drift.as_ref().unwrap().dataset_drift);
    assert!(calm.seasonality.is_none());
    assert_eq!(verdict(&calm), Verdict::NoAction);
    // A season length that is no length is refused, naming it.
    let e = weekly_with(log.clone(), 0)
        .check(
            &reference,
            t0() + Duration::days(12),
            t0() + Duration::days(13),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("season length"), "{e}");
    let e = weekly_with(log.clone(), i64::MAX)
        .check(
            &reference,
            t0() + Duration::days(12),
            t0() + Duration::days(13),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("season length"), "{e}");
}

fn weekly_with(log: Arc<InMemoryPredictionLog>, hours: i64) -> Monitor {
    Monitor::new(
        log,
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig {
            season_length_hours: Some(hours),
            max_volume_drop: None,
            ..MonitorConfig::default()
        },
    )
}
