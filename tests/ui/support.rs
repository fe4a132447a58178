//! A small demo store shared by the dashboard tests: the demo scenario (credit-default,
//! drift midway) over a few days, then a retraining that waits for a person's approval, an
//! owner and an alert whose text is HTML (to check escaping).

use chrono::Duration;
use mlcycle::alerts::{Alert, AlertKind, AlertStore, Severity, SqliteAlertStore};
use mlcycle::clock::SimulatedClock;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, RequireHumanApproval, Trigger};
use mlcycle::registry::Change;
use mlcycle::testing::scenario::{self, ScenarioConfig};
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The model of the demo store.
pub const MODEL: &str = "credit-default";
/// The owner set on it: HTML that must show as text.
pub const OWNER: &str = "<script>alert('owner')</script> & risk team";
/// The message of an extra alert: HTML that must show as text.
pub const ALERT_MESSAGE: &str = "<img src=x onerror=alert(1)> inputs \"drifted\"";

/// A store built for one test (a fresh copy, so a test may compare bytes before and after).
pub fn demo_store() -> tempfile::TempDir {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let src = BUILT.get_or_init(|| {
        // Under target/tmp, rebuilt by each run of the test binary (so nothing accumulates).
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-demo-store");
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(build(&d))
                .unwrap()
        })
        .join()
        .unwrap();
        dir
    });
    let out = tempfile::tempdir().unwrap();
    copy_dir(src, out.path());
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

async fn build(dir: &Path) -> mlcycle::Result<()> {
    let mut config = ScenarioConfig {
        days: 12,
        initial_training_rows: 3_000,
        requests_per_day: 10,
        rows_per_request: 10,
        monitor_window_days: 3,
        store: Some(dir.to_path_buf()),
        ..ScenarioConfig::default()
    };
    config.fault = None;
    if let Some(d) = config.drift.as_mut() {
        d.start_day = 5;
    }
    let end = config.start + Duration::days(i64::from(config.days) + 1);
    scenario::run(config, LifecycleConfig::new(MODEL), None, |_| {}).await?;
    // A retraining whose release waits for a person.
    let clock = Arc::new(SimulatedClock::new(end));
    let stack = Stack::open_with(dir, clock.clone(), LifecycleConfig::new(MODEL), |b| {
        b.approval(Arc::new(RequireHumanApproval))
    })?;
    let data = CreditDefault::new(11).sample(3_000, &DriftSpec::downturn(1.0), 5)?;
    stack.lifecycle.run_training(&data, Trigger::Manual).await?;
    stack
        .registry
        .set_owner(MODEL, Some(OWNER), Change::new("test", "owner with markup"))
        .await?;
    let alerts = SqliteAlertStore::open(dir)?;
    let a = Alert::new(
        end,
        Severity::Critical,
        AlertKind::Drift,
        MODEL,
        ALERT_MESSAGE,
        "t-ui",
    );
    alerts.insert(&a, false).await?;
    Ok(())
}
