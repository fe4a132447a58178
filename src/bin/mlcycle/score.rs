//! `mlcycle score`: batch scoring of a CSV or Parquet file with a registered model.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mlcycle::audit::event::BatchScored;
use mlcycle::audit::{AuditEntry, AuditEvent, AuditLog, SqliteAuditLog};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::collect::{Collector, FilePredictionLog};
use mlcycle::deploy::{
    BatchDeployer, BatchOptions, BatchOutcome, BatchProgress, DeployRequest, Deployer,
};
use mlcycle::registry::{RegistryExt, SqliteRegistry};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `mlcycle score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Store directory.
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// The model: NAME@ALIAS, NAME/VERSION or models:/NAME@ALIAS.
    #[arg(long)]
    model: String,
    /// Input file: CSV with a header row, or Parquet when it ends in `.parquet`.
    #[arg(long)]
    input: PathBuf,
    /// Output file, CSV or Parquet by its extension (written atomically: it appears only
    /// when the job succeeds).
    #[arg(long)]
    output: PathBuf,
    /// Input columns copied to the output (comma-separated).
    #[arg(long, value_delimiter = ',')]
    keep: Vec<String>,
    /// Rejected rows go here, as CSV (default: OUTPUT.rejects.csv).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Fail (non-zero exit, no output) when more than this share of rows is rejected.
    #[arg(long, default_value_t = 0.01, value_parser = parse_fraction)]
    max_reject_fraction: f64,
    /// Worker threads (default: one per core; at most 1024).
    #[arg(long, default_value_t = 0, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    threads: usize,
    /// Score empty feature cells as missing values. This is the default for a model that
    /// handles missing values (as `mlcycle serve` and `mlcycle validate` do); a model that
    /// cannot (a single tree, a forest) has rows with a missing value rejected.
    #[arg(long, conflicts_with = "reject_missing")]
    allow_missing: bool,
    /// Reject rows with an empty feature cell even when the model handles missing values.
    #[arg(long)]
    reject_missing: bool,
    /// What to do with a categorical value the model does not know: `reject` the row (to
    /// the rejects file) or score it `as_missing`.
    #[arg(long, value_enum, default_value = "reject")]
    unknown_category: crate::serve::UnknownCategory,
    /// Same as `--unknown-category as_missing`.
    #[arg(long, conflicts_with = "unknown_category")]
    unknown_as_missing: bool,
    /// Append the scored inputs to the store's prediction log (monitored for drift).
    #[arg(long)]
    collect: bool,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
    /// The longest CSV line (record) accepted, in bytes; a longer one fails the job (1 B to
    /// 1 GiB).
    #[arg(long, default_value_t = mlcycle::deploy::batch::DEFAULT_MAX_LINE_BYTES, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    max_line_bytes: usize,
}

/// A share in [0, 1] (`--max-reject-fraction`).
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

/// Run `mlcycle score`; returns whether the job succeeded.
pub async fn run(args: ScoreArgs) -> mlcycle::Result<bool> {
    let shutdown = crate::signals::Shutdown::install();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if !args.store.join(mlcycle::registry::DB_FILE).exists() {
        return Err(mlcycle::Error::not_found(
            "store",
            args.store.display(),
            "pass --store DIR (or set MLCYCLE_HOME) to a directory written by mlcycle",
        ));
    }
    let registry = SqliteRegistry::open(&args.store, clock.clone())?;
    let (mv, model) = registry.load_model(&args.model).await?;
    // One rule on every path: a missing value the model can handle is scored. The model
    // says so by scoring a row of missing values.
    let handles_missing = {
        let n = model.signature().inputs.n_features();
        model
            .predict(ndarray::Array2::from_elem((1, n), f64::NAN).view())
            .is_ok()
    };
    if args.allow_missing && !handles_missing {
        return Err(mlcycle::Error::invalid(
            "--allow-missing",
            format!(
                "{}/{} cannot score missing values (it was trained by {}); fill them in, or train a model that handles them (gbdt, logistic, linear)",
                mv.name, mv.version, mv.lineage.trainer
            ),
        ));
    }
    let collector = if args.collect {
        let log = Arc::new(FilePredictionLog::open(args.store.join("predictions"))?);
        Some(Collector::spawn(log, 1_024)?)
    } else {
        None
    };
    let options = BatchOptions {
        keep: args.keep.clone(),
        rejects: args.rejects.clone(),
        max_reject_fraction: args.max_reject_fraction,
        threads: args.threads,
        unknown: args.unknown_category.level(args.unknown_as_missing),
        allow_missing: !args.reject_missing && (args.allow_missing || handles_missing),
        max_line_bytes: args.max_line_bytes,
        ..BatchOptions::default()
    };
    let reporter = Reporter::new(args.quiet);
    let deployer = BatchDeployer::new(clock.clone(), collector);
    deployer
        .deploy(DeployRequest {
            model_name: mv.name.clone(),
            version: mv.version,
            model,
        })
        .await?;
    let progress = {
        let reporter = reporter.clone();
        Arc::new(move |p: BatchProgress| reporter.update(p))
    };
    let job = deployer.score_file(&args.input, &args.output, &options, Some(progress));
    let summary = tokio::select! {
        summary = job => summary?,
        signal = shutdown.wait() => {
            reporter.finish();
            // The job's temporaries would outlive the process: remove them now.
            let rejects = args
                .rejects
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.rejects.csv", args.output.display())));
            for file in [&args.output, &rejects] {
                let dir = match file.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let _ = mlcycle::deploy::batch::remove_own_temporaries(&dir);
            }
            return Err(mlcycle::Error::invalid(
                "score job",
                format!("interrupted by {signal}: nothing was published and its temporary files were removed"),
            ));
        }
    };
    reporter.finish();
    let audit = SqliteAuditLog::open(&args.store, clock)?;
    audit
        .append(AuditEntry::from_event(
            std::env::var("USER").unwrap_or_else(|_| "cli".into()),
            vec![
                format!("{}/{}", summary.model_name, summary.model_version),
                summary.input_hash.clone(),
            ],
            &AuditEvent::BatchScored(BatchScored {
                model_name: summary.model_name.clone(),
                model_version: summary.model_version,
                input: summary.input.clone(),
                input_hash: summary.input_hash.clone(),
                output: summary.output.clone(),
                rejects: summary.rejects.clone(),
                rows_read: summary.rows_read,
                rows_scored: summary.rows_scored,
                rows_rejected: summary.rows_rejected,
                started_at: summary.started_at,
                finished_at: summary.finished_at,
                outcome: serde_json::to_value(summary.outcome)?
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            }),
            format!("batch-{}", summary.started_at.format("%Y%m%dT%H%M%S%.6fZ")),
        ))
        .await?;
    let ok = summary.outcome == BatchOutcome::Published;
    if !args.quiet || !ok {
        eprintln!(
            "{}: read {} rows, scored {}, rejected {} with {}/{}{}",
            if ok { "done" } else { "FAILED" },
            summary.rows_read,
            summary.rows_scored,
            summary.rows_rejected,
            summary.model_name,
            summary.model_version,
            if summary.rows_rejected > 0 {
                format!(" (rejects in {})", summary.rejects)
            } else {
                String::new()
            }
        );
        if ok {
            eprintln!("output: {}", summary.output);
        } else {
            eprintln!(
                "more than {:.2}% of rows were rejected: no output was written",
                100.0 * args.max_reject_fraction
            );
        }
    }
    Ok(ok)
}

/// Progress display: a bar on a terminal, a line every few seconds otherwise, or nothing.
#[derive(Clone)]
struct Reporter {
    bar: Option<ProgressBar>,
    plain: Option<Arc<Mutex<(Instant, Instant)>>>,
}

impl Reporter {
    fn new(quiet: bool) -> Self {
        if quiet {
            return Reporter {
                bar: None,
                plain: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Reporter {
                bar: Some(bar),
                plain: None,
            }
        } else {
            let now = Instant::now();
            Reporter {
                bar: None,
                plain: Some(Arc::new(Mutex::new((now, now)))),
            }
        }
    }

    fn update(&self, p: BatchProgress) {
        if let Some(bar) = &self.bar {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_read);
            let secs = bar.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} rows, {:.0} rows/s",
                p.rows,
                p.rows as f64 / secs
            ));
        } else if let Some(plain) = &self.plain {
            let mut t = plain.lock().unwrap_or_else(|e| e.into_inner());
            if t.1.elapsed() >= Duration::from_secs(5) {
                t.1 = Instant::now();
                let secs = t.0.elapsed().as_secs_f64().max(1e-3);
                eprintln!(
                    "progress: {} rows, {:.1}% of input, {:.0} rows/s",
                    p.rows,
                    100.0 * p.bytes_read as f64 / p.bytes_total.max(1) as f64,
                    p.rows as f64 / secs
                );
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
