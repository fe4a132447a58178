//! For teams testing their monitoring and retraining setup before production: a month of
//! simulated days under a `SimulatedClock`, on your own data, with the data shifting on day
//! 15; the run must flag drift and promote a retrained version. The same `run()` is called
//! by the test suite (`tests/lifecycle/examples.rs`), so `cargo test` runs this harness.
//!
//! Run: `cargo run --example test_harness`

use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::lifecycle::{LifecycleConfig, MonitoringDecision};
use mlcycle::testing::scenario::{Scenario, ScenarioConfig, ScenarioData, ScenarioReport};
use ndarray::{Array1, Array2};
use std::sync::Arc;

/// The day the data shifts.
pub const SHIFT_DAY: u32 = 15;

/// Your data (a stand-in here): customers with tenure and monthly charges; from day 15 a
/// new price plan raises charges and changes who churns.
#[derive(Debug)]
pub struct ChurnData;

impl ChurnData {
    fn rows(&self, n: usize, shifted: bool, salt: u64) -> mlcycle::Result<Dataset> {
        let schema = Schema::new(
            vec![
                Feature::numeric("tenure"),
                Feature::numeric("monthly_charges"),
            ],
            Some(Target {
                name: "churned".into(),
                kind: TargetKind::classification(["stay", "churn"])?,
            }),
        )?;
        let mut x = Vec::with_capacity(2 * n);
        let mut y = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let h = (i + salt * 1_000_003).wrapping_mul(2_654_435_761);
            let tenure = (h % 72) as f64;
            let charges = 20.0 + ((h >> 8) % 80) as f64 + if shifted { 40.0 } else { 0.0 };
            let noise = ((h >> 20) % 100) as f64 / 100.0 - 0.5;
            // before: short tenure churns; after: high charges churn
            let risk = if shifted {
                charges / 80.0 - 1.0
            } else {
                0.5 - tenure / 36.0
            };
            x.extend([tenure, charges]);
            y.push(if risk + 0.3 * noise > 0.0 { 1.0 } else { 0.0 });
        }
        let x =
            Array2::from_shape_vec((n, 2), x).map_err(|e| mlcycle::Error::Data(e.to_string()))?;
        Dataset::new(schema, x, Some(Array1::from(y)), None)
    }
}

impl ScenarioData for ChurnData {
    fn history(&self) -> mlcycle::Result<Dataset> {
        self.rows(4_000, false, 0)
    }
    fn day(&self, day: u32) -> mlcycle::Result<Dataset> {
        self.rows(800, day >= SHIFT_DAY, 1 + day as u64)
    }
    fn drift_on(&self, day: u32) -> bool {
        day >= SHIFT_DAY
    }
}

/// Simulate 30 days and check what the lifecycle did.
pub async fn run() -> mlcycle::Result<ScenarioReport> {
    let config = ScenarioConfig {
        days: 30,
        rows_per_request: 50,
        monitor_window_days: 3,
        ..ScenarioConfig::default()
    };
    let lifecycle = LifecycleConfig {
        retrain_min_rows: 1_000,
        ..LifecycleConfig::new("churn")
    };
    let report = Scenario::new(config, Arc::new(ChurnData))
        .run(lifecycle, None, |_| {})
        .await?;

    let drift_days = report.drift_days();
    assert!(
        drift_days.iter().all(|&d| d >= SHIFT_DAY),
        "false alarm on {drift_days:?}"
    );
    assert!(
        drift_days.contains(&SHIFT_DAY),
        "the shift was not flagged on day {SHIFT_DAY}"
    );
    let promoted = report.days.iter().any(|d| match &d.monitoring.decision {
        MonitoringDecision::Retrained { outcome } => {
            matches!(
                outcome.decision,
                mlcycle::lifecycle::TrainingDecision::Promoted { .. }
            )
        }
        _ => false,
    });
    assert!(promoted, "no retrained version was promoted");
    assert!(report.final_version > Some(1));
    Ok(report)
}

#[allow(dead_code)] // the test suite includes this file for `run` only
#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let report = run().await?;
    println!(
        "drift flagged on days {:?}; retrained on days {:?}; version {:?} serves at the end",
        report.drift_days(),
        report.retrains().map(|(d, _)| d).collect::<Vec<_>>(),
        report.final_version
    );
    Ok(())
}
