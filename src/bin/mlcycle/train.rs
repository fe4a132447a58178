//! `mlcycle train`: train a model on a CSV file (optionally with cross-validation and a
//! hyperparameter search), validate it on a holdout split and register it with its lineage.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mlcycle::audit::{AuditEntry, AuditLog, SqliteAuditLog, actions, in_trace};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::data::{CsvOptions, read_csv};
use mlcycle::model::ModelArtifact;
use mlcycle::registry::{Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::train::{
    Algorithm, AlgorithmTrainer, SearchSpace, SearchTrainer, TrainContext, Trainer,
};
use mlcycle::validate::{ChampionChallenger, Validator};
use mlcycle::{Error, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `mlcycle train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Store directory (created if missing).
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// Training CSV (header row required).
    #[arg(long)]
    data: PathBuf,
    /// The target column.
    #[arg(long)]
    target: String,
    /// The registered model's name.
    #[arg(long)]
    name: String,
    /// The algorithm: gbdt, logistic, linear, tree or forest.
    #[arg(long, default_value = "gbdt")]
    algorithm: String,
    /// Parameters of the algorithm as a JSON object, e.g. '{"max_iter": 200}'.
    #[arg(long)]
    params: Option<String>,
    /// A search space file: {"grid": {NAME: [VALUES]}} or
    /// {"random": {"n_trials": N, "space": {NAME: [VALUES] | {"uniform": [LO, HI]} |
    /// {"log_uniform": [LO, HI]} | {"int": [LO, HI]}}}}.
    #[arg(long)]
    search: Option<PathBuf>,
    /// Folds of (stratified, for classes) cross-validation; default 5 with --search.
    #[arg(long)]
    cv: Option<usize>,
    /// The metric a search picks the best trial by (default: roc_auc, log_loss or rmse).
    #[arg(long)]
    metric: Option<String>,
    /// Seed of the holdout split, folds, random search and the algorithm.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of rows held out to measure the registered metrics.
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
    /// Columns to treat as categorical even if they look numeric (comma-separated).
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// Columns to ignore, e.g. ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Who registers the version (default: $USER).
    #[arg(long)]
    actor: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `mlcycle train`.
pub async fn run(args: TrainArgs) -> Result<()> {
    let algorithm: Algorithm = args.algorithm.parse()?;
    let params: Value = match &args.params {
        Some(p) => serde_json::from_str(p)
            .map_err(|e| Error::invalid("--params", format!("not JSON: {e}")))?,
        None => Value::Null,
    };
    let space = match &args.search {
        Some(p) => Some(SearchSpace::from_json(
            &std::fs::read(p).map_err(|e| Error::io(p, e))?,
        )?),
        None => None,
    };
    let trainer: Arc<dyn Trainer> = if space.is_some() || args.cv.is_some() {
        Arc::new(SearchTrainer::new(
            algorithm,
            &params,
            space,
            args.cv.unwrap_or(5),
            args.metric.clone(),
        )?)
    } else {
        if args.metric.is_some() {
            return Err(Error::invalid(
                "--metric",
                "only used with --search or --cv",
            ));
        }
        Arc::new(AlgorithmTrainer::new(algorithm, &params)?)
    };
    let opts = CsvOptions {
        target: Some(args.target.clone()),
        categorical: args.categorical.clone(),
        ignore: args.ignore.clone(),
        ..CsvOptions::default()
    };
    let data = read_csv(&args.data, &opts)?.with_source(args.data.display().to_string());
    let (train, holdout) = data.split(args.holdout, args.seed)?;

    let bar = if std::io::stderr().is_terminal() && !args.json {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>6} {bar:40} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let b = bar.clone();
    let ctx = TrainContext::with_seed(args.seed).with_progress(move |what, done, total| {
        b.set_message(what.to_string());
        b.set_length(total as u64);
        b.set_position(done as u64);
    });
    let trained = trainer.train(&train, &ctx).await?;
    bar.finish_and_clear();
    if trained.algorithm == "logistic_regression"
        && let Ok(ModelArtifact::Logistic(m)) = trained.model.to_artifact()
        && let Some(warning) = m.convergence().and_then(|c| c.warning.as_deref())
    {
        eprintln!("warning: {warning}");
    }

    let report = ChampionChallenger::default()
        .validate_with_training(trained.model.clone(), None, &holdout, &train)
        .await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The registry appends `version.registered` in the registration's own transaction.
    let registry = SqliteRegistry::open_audited(&args.store, clock.clone(), None)?;
    let audit = SqliteAuditLog::open(&args.store, clock)?;
    let actor = args
        .actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "cli".into());
    let trace = format!("train-{}", uuid::Uuid::new_v4());
    let record = |action: &str, subjects: Vec<String>, payload: Value| {
        audit.append(AuditEntry {
            actor: actor.clone(),
            action: action.to_string(),
            subjects,
            payload,
            trace_id: trace.clone(),
        })
    };
    let source = args.data.display().to_string();
    record(
        actions::DATASET_REGISTERED,
        vec![data.id().to_string()],
        json!({"source": source, "hash": data.id(), "rows": data.n_rows(),
               "features": data.schema().n_features(), "model_name": args.name}),
    )
    .await?;
    for (split, role, share) in [
        (&train, "train", 1.0 - args.holdout),
        (&holdout, "holdout", args.holdout),
    ] {
        record(
            actions::DATASET_REGISTERED,
            vec![split.id().to_string()],
            json!({
                "source": format!("{role} split ({:.0}%, seed {}) of {source}", 100.0 * share, args.seed),
                "hash": split.id(), "rows": split.n_rows(), "features": split.schema().n_features(),
                "role": role, "derived_from": data.id(), "model_name": args.name,
            }),
        )
        .await?;
    }
    record(
        actions::TRAINING_FINISHED,
        vec![train.id().to_string()],
        json!({"algorithm": trained.algorithm, "params": trained.params, "seed": args.seed,
               "model_name": args.name}),
    )
    .await?;
    record(
        actions::VALIDATION_COMPLETED,
        vec![holdout.id().to_string()],
        json!({"champion": null, "decision": if report.promote { "pass" } else { "fail" },
               "report": report, "model_name": args.name}),
    )
    .await?;
    let mut tags = BTreeMap::new();
    tags.insert("source".to_string(), source.clone());
    tags.insert("seed".to_string(), args.seed.to_string());
    tags.insert("trace_id".to_string(), trace.clone());
    let mv = in_trace(
        trace.clone(),
        registry.register(
            &args.name,
            NewVersion {
                artifact: trained
                    .model
                    .to_artifact()?
                    .with_reference_profile(mlcycle::drift::DatasetProfile::reference(&train)?),
                lineage: Lineage {
                    training_datasets: vec![data.id().clone(), train.id().clone()],
                    validation_dataset: Some(holdout.id().clone()),
                    parent_version: None,
                    code_version: None,
                    trainer: trained.algorithm.clone(),
                    params: trained.params.clone(),
                    created_by: actor.clone(),
                },
                metrics: report.version_metrics(),
                tags,
                description: format!(
                    "{} trained on {} ({} rows; {} held out)",
                    trained.algorithm,
                    args.data.display(),
                    train.n_rows(),
                    holdout.n_rows()
                ),
            },
        ),
    )
    .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": mv.name, "version": mv.version, "algorithm": trained.algorithm,
                "flavor": mv.flavor, "dataset": data.id(), "train_rows": train.n_rows(),
                "holdout_rows": holdout.n_rows(), "params": trained.params,
                "metrics": report.version_metrics(),
            }))?
        );
        return Ok(());
    }
    println!(
        "registered {}/{} ({}, flavor {}) trained on {} rows of {} (dataset {})",
        mv.name,
        mv.version,
        trained.algorithm,
        mv.flavor,
        train.n_rows(),
        args.data.display(),
        data.id().short()
    );
    if let Some(search) = trained.params.get("search") {
        let trials = search["trials"].as_array().map_or(0, Vec::len);
        let best = &search["trials"][search["best_trial"].as_u64().unwrap_or(0) as usize];
        println!(
            "{} search: {trials} trial(s), {}-fold cross-validation by {}; best {} = {:.4} ± {:.4} with {}",
            search["kind"].as_str().unwrap_or("?"),
            search["cv_folds"],
            search["metric"].as_str().unwrap_or("?"),
            search["metric"].as_str().unwrap_or("?"),
            best["cv"]["mean"].as_f64().unwrap_or(f64::NAN),
            best["cv"]["std"].as_f64().unwrap_or(f64::NAN),
            best["params"]
        );
    }
    println!("holdout ({} rows):", holdout.n_rows());
    for (k, v) in report.version_metrics() {
        println!("  {k:<30} {v:.6}");
    }
    Ok(())
}
