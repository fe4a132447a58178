//! The monitor's data-quality triage: each kind of fault is found, named with its column,
//! and decided as "fix the pipeline, do not retrain".

use chrono::{DateTime, Duration, TimeZone, Utc};
use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
use mlcycle::data::{Dataset, DatasetProfile, Feature, Schema};
use mlcycle::drift::StatisticalDriftDetector;
use mlcycle::lifecycle::LifecycleConfig;
use mlcycle::lifecycle::decide::{EpisodeState, Policy, Verdict, WindowSummary, decide};
use mlcycle::monitor::{FaultKind, Monitor, MonitorConfig, MonitorReport};
use ndarray::Array2;
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

fn schema() -> Schema {
    Schema::new(
        vec![
            Feature::numeric("x"),
            Feature::numeric("temp"),
            Feature::categorical("plan", ["a", "b", "c"]),
        ],
        None,
    )
    .unwrap()
}

/// Row `i` as production usually sends it.
fn row(i: usize) -> Vec<f64> {
    vec![
        ((i * 37) % 100) as f64,
        20.0 + ((i * 13) % 50) as f64 * 0.3,
        (i % 3) as f64,
    ]
}

fn reference() -> Dataset {
    let n = 600;
    let mut x = Array2::zeros((n, 3));
    for i in 0..n {
        for (j, v) in row(i).into_iter().enumerate() {
            x[[i, j]] = v;
        }
    }
    Dataset::new(schema(), x, None, None).unwrap()
}

fn record(hour: i64, i: usize, inputs: Vec<Vec<f64>>, error: Option<&str>) -> PredictionRecord {
    PredictionRecord {
        request_id: format!("h{hour}-{i}"),
        at: t0() + Duration::hours(hour) + Duration::seconds(i as i64),
        model_name: "m".into(),
        model_version: 1,
        outputs: if error.is_some() {
            vec![]
        } else {
            vec![0.0; inputs.len()]
        },
        inputs,
        probabilities: vec![],
        latency_us: 5,
        error: error.map(Into::into),
        notes: vec![],
    }
}

/// `n` usual rows in hour `hour`, each passed through `change`.
fn window(
    hour: i64,
    n: usize,
    change: impl Fn(usize, Vec<f64>) -> Vec<f64>,
) -> Vec<PredictionRecord> {
    (0..n)
        .map(|i| {
            record(
                hour,
                i,
                vec![change(i, row(i + 1000 * hour as usize))],
                None,
            )
        })
        .collect()
}

async fn check(monitor: &Monitor, hour: i64) -> MonitorReport {
    monitor
        .check(
            &reference(),
            t0() + Duration::hours(hour),
            t0() + Duration::hours(hour + 1),
        )
        .await
        .unwrap()
}

fn kinds(report: &MonitorReport) -> Vec<(String, FaultKind)> {
    report
        .quality_faults
        .iter()
        .map(|f| (f.column.clone(), f.kind))
        .collect()
}

#[tokio::test]
async fn each_kind_of_fault_is_found_and_never_retrains() {
    let log = Arc::new(InMemoryPredictionLog::default());
    let mut records = Vec::new();
    // Even hours: the usual traffic (300 rows); odd hours: one fault each.
    for h in (0..14).step_by(2) {
        records.extend(window(h, 300, |_, r| r));
    }
    // 1: half of `x` missing.
    records.extend(window(1, 300, |i, mut r| {
        if i % 2 == 0 {
            r[0] = f64::NAN;
        }
        r
    }));
    // 3: a tenth of `temp` in another unit (×1000).
    records.extend(window(3, 300, |i, mut r| {
        if i % 10 == 0 {
            r[1] *= 1000.0;
        }
        r
    }));
    // 5: `temp` stuck at one value.
    records.extend(window(5, 300, |_, mut r| {
        r[1] = 31.7;
        r
    }));
    // 7: some requests send four inputs (a column was added upstream) and one is refused
    // for a column the model does not have.
    records.extend(window(7, 300, |i, mut r| {
        if i % 5 == 0 {
            r.push(1.0);
        }
        r
    }));
    records.push(record(7, 999, vec![], Some("schema mismatch: row 0: column `zip` is not a feature of the model (its features: x, temp, plan); drop it before encoding")));
    // 9: `plan` codes that are no level, and requests refused for an unknown category.
    records.extend(window(9, 300, |i, mut r| {
        if i % 20 == 0 {
            r[2] = 5.0;
        }
        r
    }));
    for i in 0..3 {
        records.push(record(9, 900 + i, vec![], Some("invalid data: column `plan`: unknown category `gold` (known: a, b, c); retrain with it or encode unknown levels as missing")));
    }
    // 11: a tenth of the usual traffic.
    records.extend(window(11, 30, |_, r| r));
    log.append(records).await.unwrap();

    let monitor = Monitor::new(
        log.clone(),
        Arc::new(StatisticalDriftDetector::default()),
        MonitorConfig::default(),
    );
    let policy = Policy::of(&LifecycleConfig::new("m"), true);
    let expect = [
        (1, "x", FaultKind::MissingSurge),
        (3, "temp", FaultKind::OutOfRange),
        (5, "temp", FaultKind::Constant),
        (7, "*", FaultKind::SchemaChange),
        (9, "plan", FaultKind::UnseenCategory),
        (11, "*", FaultKind::VolumeDrop),
    ];
    for (hour, column, kind) in expect {
        let report = check(&monitor, hour).await;
        let found = kinds(&report);
        assert!(
            found.contains(&(column.to_string(), kind)),
            "hour {hour}: {found:?}"
        );
        assert!(
            found.iter().all(|(_, k)| *k == kind),
            "hour {hour}: {found:?}"
        );
        // The JSON names the kind in snake case.
        let json = serde_json::to_value(&report.quality_faults).unwrap();
        assert_eq!(json[0]["kind"], kind.as_str());
        assert!(json[0]["detail"].as_str().unwrap().len() > 10);
        // Decided as a fault of the pipeline, never a retrain.
        let (d, _) = decide(
            &WindowSummary::of(&report, 1),
            &EpisodeState::default(),
            &policy,
        );
        assert!(
            matches!(&d.verdict, Verdict::DataQualityFault { reason } if reason.contains(kind.as_str())),
            "hour {hour}: {:?}",
            d.verdict
        );
        assert!(d.alerts[0].message.contains("not retraining"));
    }
    // The schema change counted both the wide rows and the refused request.
    let report = check(&monitor, 7).await;
    assert_eq!(
        report.quality_faults.len(),
        2,
        "{:?}",
        report.quality_faults
    );
    // The volume drop is reported though the window is too small for a drift check.
    let report = check(&monitor, 11).await;
    assert!(report.skipped.is_some());
    // The usual traffic has no fault.
    for h in (2..14).step_by(2) {
        let report = check(&monitor, h).await;
        assert!(
            report.quality_faults.is_empty(),
            "hour {h}: {:?}",
            report.quality_faults
        );
    }

    // Against the stored profile instead of the raw data, the column checks agree.
    let profile = DatasetProfile::reference(&reference()).unwrap();
    for (hour, column, kind) in &expect[..3] {
        let report = monitor
            .check_against_profile(
                &profile,
                &schema(),
                t0() + Duration::hours(*hour),
                t0() + Duration::hours(hour + 1),
            )
            .await
            .unwrap();
        assert!(
            kinds(&report).contains(&(column.to_string(), *kind)),
            "hour {hour}: {:?}",
            report.quality_faults
        );
    }
}
