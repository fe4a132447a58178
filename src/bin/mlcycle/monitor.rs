//! `mlcycle monitor`: one monitoring report of a served model (health, data quality, drift
//! against the reference profile stored with the version, realized performance on the
//! labelled rows, prediction drift and estimated performance against the validation outputs
//! stored with the version, and the decision the lifecycle would take) without acting. Exit 0 when nothing is wrong, 3 when it would alert.

use clap::{Args, ValueEnum};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::collect::FilePredictionLog;
use mlcycle::controller::parse_duration;
use mlcycle::drift::StatisticalDriftDetector;
use mlcycle::labels::SqliteLabelStore;
use mlcycle::lifecycle::LifecycleConfig;
use mlcycle::lifecycle::decide::{EpisodeState, Policy, Verdict, WindowSummary, decide};
use mlcycle::monitor::{GroundTruth, Monitor};
use mlcycle::registry::{Registry, RegistryExt, SqliteRegistry};
use mlcycle::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Words.
    Text,
    /// JSON.
    Json,
}

/// Arguments of `mlcycle monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Store directory [default: $MLCYCLE_HOME, else ./mlcycle-store].
    #[arg(long)]
    store: Option<PathBuf>,
    /// The served model, NAME@ALIAS.
    #[arg(long)]
    model: String,
    /// Window start (RFC 3339) [default: --last before --to].
    #[arg(long)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Window end (RFC 3339) [default: now].
    #[arg(long, conflicts_with = "last")]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Window length back from now (5s, 10m, 1h, 7d) [default: 1h].
    #[arg(long)]
    last: Option<String>,
    /// The inputs' season (24h daily, 7d weekly): a drifted window is compared with the
    /// same window one season earlier (`report.seasonality`), and a shift that came back
    /// with the season is expected.
    #[arg(long)]
    season: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Run `mlcycle monitor`; returns whether it would alert.
pub async fn run(args: MonitorArgs) -> Result<bool> {
    let dir = args
        .store
        .or_else(|| std::env::var_os("MLCYCLE_HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("mlcycle-store"));
    if !SqliteRegistry::is_store(&dir) {
        return Err(Error::not_found(
            "store",
            dir.display(),
            "pass --store DIR or set MLCYCLE_HOME",
        ));
    }
    let (name, _) = args
        .model
        .split_once('@')
        .ok_or_else(|| Error::invalid("--model", format!("`{}` is not NAME@ALIAS", args.model)))?;
    let clock = SystemClock;
    let to = args.to.unwrap_or_else(|| clock.now());
    let from = match (args.from, &args.last) {
        (Some(f), _) => f,
        (None, Some(l)) => to - parse_duration(l).map_err(|e| Error::invalid("--last", e))?,
        (None, None) => to - chrono::Duration::hours(1),
    };
    let registry = SqliteRegistry::open(&dir, Arc::new(clock))?;
    let mv = registry.resolve(&args.model).await?;
    let artifact = registry.load_artifact(&mv.name, mv.version).await?;
    let profile = artifact.reference_profile().ok_or_else(|| {
        Error::invalid(
            "--model",
            format!(
                "{} has no stored reference profile to compare with",
                args.model
            ),
        )
    })?;
    let mut cfg = LifecycleConfig::new(name);
    if let Some(s) = &args.season {
        cfg.monitor.season_length_hours = Some(crate::run::season_hours(s)?);
    }
    let model = artifact.clone().into_model()?;
    let labels = SqliteLabelStore::open(&dir, Arc::new(clock))?;
    let mut monitor = Monitor::new(
        Arc::new(FilePredictionLog::open(dir.join("predictions"))?),
        Arc::new(StatisticalDriftDetector::default()),
        cfg.monitor.clone(),
    )
    .with_ground_truth(GroundTruth {
        labels: Arc::new(labels),
        version: mv.version,
        model,
        baseline: mv.metrics.clone(),
    });
    // The version's validation outputs: prediction drift and estimated performance.
    if let Some(outputs) = artifact.reference_outputs() {
        monitor = monitor.with_reference_outputs(mv.version, Arc::new(outputs.clone()));
    }
    let report = monitor
        .check_against_profile(profile, &artifact.signature().inputs, from, to)
        .await?;
    let window = WindowSummary {
        from,
        to,
        ..WindowSummary::of(&report, mv.version)
    };
    let (decision, _) = decide(&window, &EpisodeState::default(), &Policy::of(&cfg, true));
    let alerts = !decision.alerts.is_empty()
        || !matches!(
            decision.verdict,
            Verdict::NoAction | Verdict::Skipped { .. } | Verdict::ExpectedShift { .. }
        );
    let verdict = format!("{:?}", decision.verdict);
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model,
                "version": mv.version,
                "from": from,
                "to": to,
                "performance": report.performance,
                "estimated_performance": report.estimated_performance,
                "prediction_drift": report.prediction_drift,
                "data_quality": { "faults": report.quality_faults },
                "report": report,
                "decision": verdict,
                "would_alert": alerts,
            }))?
        ),
        Format::Text => {
            println!(
                "{} (version {}) from {} to {}: {} rows",
                args.model,
                mv.version,
                from.to_rfc3339(),
                to.to_rfc3339(),
                report.health.rows
            );
            if let Some(p) = &report.performance {
                println!(
                    "realized performance on {} labelled rows ({:.1}% coverage){}: {}",
                    p.labelled,
                    100.0 * p.coverage,
                    if p.degraded { ", DEGRADED" } else { "" },
                    p.metrics
                        .iter()
                        .map(|(k, v)| match p.baseline.get(k) {
                            Some(b) => format!("{k} {v:.4} (validation {b:.4})"),
                            None => format!("{k} {v:.4}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for f in &report.quality_faults {
                println!("data-quality fault in `{}`: {}", f.column, f.detail);
            }
            if let Some(s) = &report.seasonality {
                println!(
                    "one season earlier ({} to {}, {} rows): {}",
                    s.from.to_rfc3339(),
                    s.to.to_rfc3339(),
                    s.rows,
                    if s.expected {
                        format!(
                            "the same shift ({}): expected",
                            s.seasonal_columns.join(", ")
                        )
                    } else {
                        format!(
                            "not the same shift ({} unexplained)",
                            s.unexplained_columns.join(", ")
                        )
                    }
                );
            }
            println!("decision it would take: {verdict}");
            println!(
                "{}",
                if alerts {
                    "would alert"
                } else {
                    "nothing is wrong"
                }
            );
        }
    }
    Ok(alerts)
}
