//! The `mlcycle` command line: a thin face over the library.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mlcycle::lifecycle::LifecycleConfig;
use mlcycle::testing::scenario::{self, ScenarioConfig};
use std::path::PathBuf;
use std::process::ExitCode;

mod alerts;
mod approvals;
mod audit;
mod datasets;
mod demo_report;
mod drift;
mod explain;
mod import;
mod labels;
mod models;
mod monitor;
mod predictions;
mod report;
mod run;
mod score;
#[cfg(feature = "http")]
mod serve;
mod signals;
mod train;
#[cfg(feature = "http")]
mod ui;
mod validate;

#[derive(Parser)]
#[command(
    name = "mlcycle",
    version,
    about = "The machine-learning model lifecycle, embedded: train, validate, register, deploy, monitor, retrain — with an audit trail."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole lifecycle on synthetic credit-default data: train v1, deploy it,
    /// simulate production traffic with drift appearing midway, detect it, retrain,
    /// validate against v1 and promote.
    Demo {
        /// Store directory to write (kept afterwards for inspection). Default: a temporary
        /// directory removed at the end.
        #[arg(long)]
        store: Option<PathBuf>,
        /// Days of production to simulate.
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// Day on which drift appears.
        #[arg(long, default_value_t = 30)]
        drift_day: u32,
        /// Simulate without drift or data faults (nothing should be flagged).
        #[arg(long)]
        no_drift: bool,
        /// Seed of the synthetic data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Print the full scenario report as JSON instead of the narrative.
        #[arg(long)]
        json: bool,
    },
    /// Score a CSV or Parquet file with a registered model: streaming, parallel, in input order, with
    /// every rejected row written to a rejects file.
    Score(score::ScoreArgs),
    /// Verify, list, checkpoint and export the audit trail of a store.
    Audit(audit::AuditArgs),
    /// List the alerts raised in a store, with their delivery status.
    Alerts(alerts::AlertsArgs),
    /// Trace a prediction, a model version or a dataset through the audit trail.
    Lineage(audit::LineageArgs),
    /// Ground truth: record labels for logged predictions (`labels ingest`).
    Labels(labels::LabelsArgs),
    /// The dataset catalog: add a file as a new version of a named dataset, list versions.
    Datasets(datasets::DatasetsArgs),
    /// Inspect and change the model registry: list, versions, show, alias, tag, status, gc.
    Models(models::ModelsArgs),
    /// Print the prediction log (either format) as JSON lines, or count its records: a
    /// time window, or one request id.
    Predictions(predictions::PredictionsArgs),
    /// Serve a registered model over HTTP (Open Inference Protocol v2 and MLflow's
    /// /invocations), following its alias as it moves.
    #[cfg(feature = "http")]
    Serve(serve::ServeArgs),
    /// Compare two CSV files column by column for data drift (KS, Wasserstein, PSI,
    /// Jensen–Shannon, chi-square, ...), with a per-column and a dataset verdict; with
    /// --fail-on-drift, exit 3 when the dataset drifts.
    Drift(drift::DriftArgs),
    /// Train a model on a CSV file (gbdt, logistic, linear, tree or forest; optional
    /// cross-validation and grid/random search), measure it on a holdout split and register
    /// it with its lineage.
    Train(train::TrainArgs),
    /// Validate a registered candidate against a champion on a labelled holdout file and print
    /// the report; exits with status 2 when the candidate should not be promoted.
    Validate(validate::ValidateArgs),
    /// List the versions waiting for a person's approval, with their validation summary.
    Pending(approvals::PendingArgs),
    /// Approve a pending version (recorded and audited; the running controller releases it).
    Approve(approvals::ApproveArgs),
    /// Reject a pending version (recorded and audited; the running controller applies it).
    Reject(approvals::RejectArgs),
    /// Keep the lifecycle running until SIGINT/SIGTERM: monitoring windows on a cadence,
    /// training on new files of --training-data, releases of versions registered elsewhere,
    /// retraining on drift; one line per cycle.
    Run(run::RunArgs),
    /// One monitoring report of a served model (health, data quality, drift, the decision it
    /// would take) without acting; exit 3 when it would alert.
    Monitor(monitor::MonitorArgs),
    /// Explain a registered model's outputs on a CSV file: per-row feature contributions
    /// (exact for linear models, TreeSHAP for trees) and their mean magnitude.
    Explain(explain::ExplainArgs),
    /// HTML reports built from a store (`report timeline`: one model's lifecycle on a time
    /// axis).
    Report(report::ReportArgs),
    /// The read-only web dashboard over a store: models and versions, aliases and their
    /// history, pending approvals with validation and model card, monitoring windows as
    /// charts, alerts, and the audit trail with its verification.
    #[cfg(feature = "http")]
    Ui(ui::UiArgs),
    /// Register a model trained by LightGBM (`import lightgbm --file model.txt`) or XGBoost
    /// (`import xgboost --file model.json`) as a new version, read into the native GBDT
    /// predictor, with its lineage (the file's hash and origin).
    Import(import::ImportArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    // `train --help` lists every algorithm's parameters with their defaults, read from the
    // library so the list cannot fall behind it.
    let matches = Cli::command()
        .mut_subcommand("train", |c| c.after_help(train::algorithm_help()))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Demo {
            store,
            days,
            drift_day,
            no_drift,
            seed,
            json,
        } => demo(store, days, drift_day, no_drift, seed, json).await,
        Command::Score(args) => match score::run(args).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(2),
            Err(e) => Err(e),
        },
        Command::Audit(args) => audit::run_audit(args).await,
        Command::Alerts(args) => alerts::run(args).await,
        Command::Lineage(args) => audit::run_lineage(args).await,
        Command::Labels(args) => labels::run(args).await,
        Command::Datasets(args) => datasets::run(args).await,
        Command::Models(args) => models::run(args).await,
        Command::Predictions(args) => predictions::run(args).await,
        #[cfg(feature = "http")]
        Command::Serve(args) => serve::run(args).await,
        Command::Drift(args) => match drift::run(args) {
            Ok(false) => Ok(()),
            Ok(true) => return ExitCode::from(3),
            Err(e) => Err(e),
        },
        Command::Explain(args) => explain::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Import(args) => import::run(args).await,
        #[cfg(feature = "http")]
        Command::Ui(args) => ui::run(args).await,
        Command::Train(args) => train::run(args).await,
        Command::Pending(args) => approvals::pending(args).await,
        Command::Approve(args) => approvals::approve(args).await,
        Command::Reject(args) => approvals::reject(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Monitor(args) => match monitor::run(args).await {
            Ok(false) => Ok(()),
            Ok(true) => return ExitCode::from(3),
            Err(e) => Err(e),
        },
        Command::Validate(args) => match validate::run(args).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(2),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
                src = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn demo(
    store: Option<PathBuf>,
    days: u32,
    drift_day: u32,
    no_drift: bool,
    seed: u64,
    json: bool,
) -> mlcycle::Result<()> {
    let temp = match &store {
        Some(_) => None,
        None => {
            Some(tempfile::tempdir().map_err(|e| mlcycle::Error::io("temporary directory", e))?)
        }
    };
    let dir = store
        .clone()
        .or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()))
        .unwrap_or_default();
    let mut config = ScenarioConfig {
        seed,
        days,
        store: Some(dir.clone()),
        ..ScenarioConfig::default()
    };
    if let Some(d) = config.drift.as_mut() {
        d.start_day = drift_day;
    }
    if no_drift {
        config = config.without_drift();
    }
    if !json {
        demo_report::intro(&config, store.is_none());
    }
    let report = scenario::run(
        config,
        LifecycleConfig {
            code_version: Some(format!("mlcycle {} (demo)", env!("CARGO_PKG_VERSION"))),
            ..LifecycleConfig::new("credit-default")
        },
        None,
        |_| {},
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        demo_report::narrate(&report, &dir, store.is_some());
    }
    Ok(())
}
