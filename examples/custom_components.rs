//! For developers replacing one component: your own `DriftDetector` (here: a mean shift in
//! standard deviations) and an `Observer` that collects alerts, plugged into the lifecycle
//! builder while every other component stays the default.
//!
//! Run: `cargo run --example custom_components`

use async_trait::async_trait;
use mlcycle::data::{Dataset, FeatureKind};
use mlcycle::drift::{ColumnDrift, ColumnKind, DriftReport};
use mlcycle::lifecycle::{Alert, Observer};
use mlcycle::prelude::*;
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::{Arc, Mutex};

/// Flags a numeric column whose mean moved by more than `max_shift_sd` reference standard
/// deviations; the dataset drifts when a quarter of the columns do.
#[derive(Debug)]
struct MeanShift {
    max_shift_sd: f64,
}

fn mean_sd(v: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let v: Vec<f64> = v.filter(|x| !x.is_nan()).collect();
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
        v.len(),
    )
}

#[async_trait]
impl DriftDetector for MeanShift {
    async fn detect(&self, reference: &Dataset, current: &Dataset) -> mlcycle::Result<DriftReport> {
        let mut columns = Vec::new();
        for (j, f) in current.schema().features.iter().enumerate() {
            if !matches!(f.kind, FeatureKind::Numeric) {
                continue;
            }
            // the reference may be labelled training data: compare features by name
            let r = reference.schema().feature_index(&f.name).ok_or_else(|| {
                mlcycle::Error::SchemaMismatch(format!("reference lacks `{}`", f.name))
            })?;
            let (rm, rsd, rn) = mean_sd(reference.features().column(r).iter().copied());
            let (cm, _, cn) = mean_sd(current.features().column(j).iter().copied());
            let shift = (cm - rm).abs() / rsd.max(1e-9);
            columns.push(
                ColumnDrift::new(
                    &f.name,
                    ColumnKind::Numeric,
                    "mean_shift_sd",
                    shift,
                    None,
                    self.max_shift_sd,
                    shift > self.max_shift_sd,
                )
                .with_counts(
                    rn,
                    cn,
                    reference.n_rows() - rn,
                    current.n_rows() - cn,
                ),
            );
        }
        Ok(DriftReport::from_columns(columns, 0.25))
    }
}

/// Keeps every alert the lifecycle raises (send them to your pager instead).
#[derive(Debug, Default)]
struct AlertInbox(Mutex<Vec<Alert>>);

impl Observer for AlertInbox {
    fn alert(&self, alert: &Alert) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(alert.clone());
    }
}

#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let inbox = Arc::new(AlertInbox::default());
    let config = LifecycleConfig {
        retrain_policy: mlcycle::lifecycle::RetrainPolicy::RequireApproval,
        ..LifecycleConfig::new("credit")
    };
    let stack = Stack::in_memory_with(Arc::new(SystemClock), config, |b| {
        b.detector(Arc::new(MeanShift { max_shift_sd: 0.3 }))
            .observer(inbox.clone())
    })?;
    let g = CreditDefault::new(3);
    stack
        .lifecycle
        .run_training(&g.sample(4_000, &DriftSpec::none(), 0)?, Trigger::Manual)
        .await?;

    // production traffic after a downturn
    let served = g.sample(1_000, &DriftSpec::downturn(1.0), 1)?;
    stack
        .deployer
        .predict(ScoreRequest {
            rows: served.features().to_owned(),
            request_id: None,
        })
        .await?;
    stack.collector.flush().await?;
    let now = chrono::Utc::now();
    let out = stack
        .lifecycle
        .run_monitoring(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::seconds(1),
        )
        .await?;
    println!("decision: {:?}", out.decision);
    let alerts = inbox.0.lock().unwrap_or_else(|p| p.into_inner());
    for a in alerts.iter() {
        println!("alert [{:?}] {}", a.severity, a.message);
    }
    assert!(
        !alerts.is_empty(),
        "the downturn should raise a drift alert"
    );
    Ok(())
}
