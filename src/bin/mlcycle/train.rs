//! `mlcycle train`: train a model on a CSV file (optionally with cross-validation and a
//! hyperparameter search), validate it on a holdout split and register it with its lineage.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::data::{CsvOptions, UnknownLevel, read_csv};
use mlcycle::lifecycle::{
    LifecycleConfig, Observer, Stage, StageEvents, TrainingRun, TrainingStage, Trigger,
};
use mlcycle::model::ModelArtifact;
use mlcycle::registry::{Registry, SqliteRegistry};
use mlcycle::train::{Algorithm, AlgorithmTrainer, SearchSpace, SearchTrainer, Trainer};
use mlcycle::validate::ChampionChallenger;
use mlcycle::{Error, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Shows the training stage's progress on a progress bar.
#[derive(Debug)]
struct ProgressBarObserver(ProgressBar);

impl Observer for ProgressBarObserver {
    fn progress(&self, stage: Stage, _trace_id: &str, what: &str, done: usize, total: usize) {
        if stage == Stage::Train {
            self.0.set_message(what.to_string());
            self.0.set_length(total as u64);
            self.0.set_position(done as u64);
        }
    }
}

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
    /// The holdout that measures the registered metrics: a share of the rows (e.g. 0.2),
    /// split off with --seed, or a labelled CSV file with the same columns (the model is then
    /// fitted on all of --data).
    #[arg(long, default_value = "0.2", value_name = "SHARE|FILE", value_parser = parse_holdout)]
    holdout: Holdout,
    /// After validating on the holdout, fit again on all rows (training and holdout) and
    /// register that model with the validated fit's metrics; recorded in the lineage (tag
    /// `refit`).
    #[arg(long)]
    refit: bool,
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

/// `--holdout`: a share of the rows or a file.
#[derive(Debug, Clone)]
enum Holdout {
    Share(f64),
    File(PathBuf),
}

fn parse_holdout(s: &str) -> std::result::Result<Holdout, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(Holdout::Share(v)),
        Ok(_) => Err(format!(
            "`{s}` is not a share between 0 and 1 (exclusive), nor a file name"
        )),
        Err(_) => Ok(Holdout::File(PathBuf::from(s))),
    }
}

/// Below this many holdout rows `train` warns that the registered metrics are unreliable.
const MIN_HOLDOUT_ROWS: usize = mlcycle::validate::MIN_RELIABLE_HOLDOUT_ROWS;

/// The algorithms and their parameters with defaults, for `mlcycle train --help`.
pub fn algorithm_help() -> String {
    let mut s = String::from(
        "Algorithms and their parameters (defaults; set any with --params '{\"NAME\": VALUE}'):\n",
    );
    for name in Algorithm::NAMES {
        let params = AlgorithmTrainer::from_name(name, &Value::Null)
            .and_then(|t| t.params())
            .unwrap_or(Value::Null);
        let list = match params.as_object() {
            Some(o) if !o.is_empty() => o
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "(none)".to_string(),
        };
        s.push_str(&format!("  {name:<9} {list}\n"));
    }
    s
}

/// How a classification metric averages over classes, for the text report (the metric
/// names are the registry's keys and stay as they are).
fn averaging_note(metric: &str, classes: Option<&[String]>) -> String {
    match (metric, classes) {
        ("precision" | "recall" | "f1", Some([_, positive])) => {
            format!("  (class `{positive}`)")
        }
        ("roc_auc" | "average_precision", Some([_, positive])) => {
            format!("  (`{positive}` as the positive class)")
        }
        ("precision" | "recall" | "f1", Some(cs)) => {
            format!("  (macro average over {} classes)", cs.len())
        }
        ("roc_auc" | "average_precision", Some(cs)) => {
            format!("  (one-vs-rest macro average over {} classes)", cs.len())
        }
        ("f1_weighted", Some(_)) => "  (average weighted by class frequency)".to_string(),
        ("f1_macro", Some(_)) => "  (unweighted mean over classes)".to_string(),
        _ => String::new(),
    }
}

/// The data-quality report in a few lines: rows, duplicates, and every column with missing
/// values, outliers or a single value.
fn print_quality(q: &mlcycle::data::QualityReport) {
    println!(
        "data quality: {} rows, {} duplicate rows",
        q.rows, q.duplicate_rows
    );
    let mut clean = true;
    for c in &q.columns {
        let mut notes = Vec::new();
        if c.missing > 0 {
            notes.push(format!(
                "{} missing ({:.1}%)",
                c.missing,
                100.0 * c.missing_fraction
            ));
        }
        if c.outliers > 0 {
            notes.push(format!("{} outliers (IQR fences)", c.outliers));
        }
        if c.constant {
            notes.push("constant".to_string());
        }
        if !notes.is_empty() {
            clean = false;
            println!("  {:<20} {}", c.name, notes.join(", "));
        }
    }
    if clean {
        println!("  no missing values, outliers or constant columns");
    }
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
    let holdout_file = match &args.holdout {
        Holdout::Share(_) => None,
        Holdout::File(p) => Some(
            mlcycle::data::read_csv_with_schema(p, data.schema(), None, UnknownLevel::Error)?
                .with_source(p.display().to_string()),
        ),
    };

    let bar = if std::io::stderr().is_terminal() && !args.json {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>6} {bar:40} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The registry appends `version.registered` in the registration's own transaction;
    // the stage appends everything else to the same log.
    let registry = SqliteRegistry::open_audited(&args.store, clock.clone(), None)?;
    let audit = registry.audit_log().ok_or_else(|| {
        Error::invalid("store", "the registry was opened without its audit trail")
    })?;
    let actor = args
        .actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "cli".into());
    let mut config = LifecycleConfig::new(args.name.clone());
    if let Holdout::Share(share) = args.holdout {
        config.holdout_fraction = share;
    }
    config.seed = args.seed;
    config.actor = actor.clone();
    // The command trains on what it is given; the quality report is recorded, not enforced.
    config.max_missing_fraction = 1.0;
    let events = StageEvents::new(
        audit,
        true,
        Arc::new(ProgressBarObserver(bar.clone())),
        clock,
        actor,
        args.name.clone(),
    );
    let trace = format!("train-{}", uuid::Uuid::new_v4());
    let mut tags = BTreeMap::new();
    tags.insert("source".to_string(), args.data.display().to_string());
    tags.insert("seed".to_string(), args.seed.to_string());
    // A version registered here is validated against the champion when it is released
    // (`Lifecycle::release_registered`); here it is measured on its holdout alone.
    let registered = TrainingStage {
        trainer: trainer.as_ref(),
        validator: &ChampionChallenger::default(),
        registry: &registry,
        events: &events,
        config: &config,
    }
    .run(TrainingRun {
        data: &data,
        trigger: Trigger::Manual,
        trace_id: &trace,
        champion: None,
        tags,
        holdout: holdout_file.as_ref(),
        refit: args.refit,
    })
    .await;
    bar.finish_and_clear();
    let registered = registered?;
    let (trained, report, mv) = (
        &registered.trained,
        &registered.validation,
        &registered.version,
    );
    let (train, holdout) = (&registered.train, &registered.holdout);
    if trained.algorithm == "logistic_regression"
        && let Ok(ModelArtifact::Logistic(m)) = trained.model.to_artifact()
        && let Some(warning) = m.convergence().and_then(|c| c.warning.as_deref())
    {
        eprintln!("warning: {warning}");
    }
    let small_holdout = (holdout.n_rows() < MIN_HOLDOUT_ROWS).then(|| {
        format!(
            "the holdout has only {} rows (fewer than {MIN_HOLDOUT_ROWS}): its metrics are unreliable; use more data or a larger --holdout",
            holdout.n_rows()
        )
    });
    if let Some(w) = &small_holdout {
        eprintln!("warning: {w}");
    }
    let (quality_metrics, profile): (BTreeMap<String, f64>, BTreeMap<String, f64>) = report
        .version_metrics()
        .into_iter()
        .partition(|(k, _)| !k.starts_with("profile_"));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": mv.name, "version": mv.version, "algorithm": trained.algorithm,
                "flavor": mv.flavor, "dataset": data.id(), "rows": data.n_rows(),
                "train_rows": train.n_rows(), "holdout_rows": holdout.n_rows(),
                "split": match &args.holdout {
                    Holdout::Share(share) => json!({"holdout_fraction": share, "seed": args.seed,
                        "train": train.id(), "holdout": holdout.id(), "refit": args.refit}),
                    Holdout::File(p) => json!({"holdout_file": p, "train": train.id(),
                        "holdout": holdout.id(), "refit": args.refit}),
                },
                "quality": registered.quality,
                "params": trained.params,
                "metrics": report.version_metrics(),
                "warnings": small_holdout.iter().collect::<Vec<_>>(),
            }))?
        );
        return Ok(());
    }
    print_quality(&registered.quality);
    match &args.holdout {
        Holdout::Share(share) => println!(
            "split: {} rows -> {} for training, {} held out ({:.0}%, seed {}) to measure the registered metrics; {}",
            data.n_rows(),
            data.n_rows() - holdout.n_rows(),
            holdout.n_rows(),
            100.0 * share,
            args.seed,
            if args.refit {
                "then refit on all rows (--refit)"
            } else {
                "the model is fitted on the training rows only (--refit fits again on all)"
            }
        ),
        Holdout::File(p) => println!(
            "split: none; fitted on all {} rows of {}, measured on the {} rows of {}{}",
            data.n_rows(),
            args.data.display(),
            holdout.n_rows(),
            p.display(),
            if args.refit {
                ", then refit on both (--refit)"
            } else {
                ""
            }
        ),
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
    println!("holdout metrics ({} rows):", holdout.n_rows());
    let classes = mv.signature.target.kind.classes();
    for (k, v) in &quality_metrics {
        println!("  {k:<30} {v:.6}{}", averaging_note(k, classes));
    }
    if !profile.is_empty() {
        println!("serving profile (speed and size, not quality):");
        for (k, v) in &profile {
            println!("  {k:<30} {v:.1}");
        }
    }
    Ok(())
}
