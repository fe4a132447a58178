//! `mlcycle labels`: ground truth for logged predictions.

use crate::audit::StoreArg;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use mlcycle::audit::SqliteAuditLog;
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::collect::FilePredictionLog;
use mlcycle::data::write_csv;
use mlcycle::labels::{
    LabelRecord, LabelStore, LoggedRequest, SqliteLabelStore, index_labels, labelled_dataset,
    match_labels, parse_key, record_labels_audited,
};
use mlcycle::registry::{RegistryExt, SqliteRegistry};
use mlcycle::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `mlcycle labels`.
#[derive(Args, Debug)]
pub struct LabelsArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(subcommand)]
    command: LabelsCommand,
}

#[derive(Subcommand, Debug)]
enum LabelsCommand {
    /// Record ground-truth labels from a CSV file (idempotent; a later label for the same
    /// request wins and is audited) and say how many match a logged prediction.
    Ingest {
        /// The CSV file (with a header row).
        #[arg(long)]
        input: PathBuf,
        /// The column holding the request id (`REQUEST_ID`, or `REQUEST_ID/ROW` for a row of
        /// a multi-row request).
        #[arg(long, default_value = "request_id")]
        id_column: String,
        /// The column holding the label (a class name, or a number for regression).
        #[arg(long, default_value = "label")]
        label_column: String,
        /// The column holding when the outcome was observed (RFC 3339). Default: now.
        #[arg(long)]
        at_column: Option<String>,
    },
    /// Write the labelled production rows of a model — its logged inputs joined with their
    /// labels, and the request's time — as a training CSV (accepted by `mlcycle train` and
    /// `mlcycle drift --current`).
    Export {
        /// The model: NAME (its latest version's signature names the columns), or a
        /// reference such as NAME@ALIAS or NAME/3.
        #[arg(long)]
        model: String,
        /// Only requests served at or after this time (RFC 3339) [default: the log's start].
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// Only requests served before this time (RFC 3339) [default: the log's end].
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        /// The CSV file to write.
        #[arg(long)]
        output: PathBuf,
    },
}

/// Run `mlcycle labels`.
pub async fn run(args: LabelsArgs) -> Result<()> {
    match args.command {
        LabelsCommand::Ingest {
            input,
            id_column,
            label_column,
            at_column,
        } => {
            ingest(
                &args.store,
                input,
                &id_column,
                &label_column,
                at_column.as_deref(),
            )
            .await
        }
        LabelsCommand::Export {
            model,
            from,
            to,
            output,
        } => export(&args.store, &model, from, to, &output).await,
    }
}

async fn export(
    store: &StoreArg,
    model: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    output: &Path,
) -> Result<()> {
    let dir = store.existing()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = SqliteRegistry::open(&dir, clock.clone())?;
    let reference = if model.contains('@') || model.contains('/') {
        model.to_string()
    } else {
        format!("{model}@latest")
    };
    let mv = registry.resolve(&reference).await?;
    let log = FilePredictionLog::open(dir.join("predictions"))?;
    let hours = log.hours()?;
    let (Some(first), Some(last)) = (hours.first().copied(), hours.last().copied()) else {
        return Err(Error::not_found(
            "prediction log",
            dir.join("predictions").display(),
            "serve or score with the model first: labels are joined with logged predictions",
        ));
    };
    let from = from.unwrap_or(first);
    let to = to.unwrap_or(last + chrono::TimeDelta::hours(1));
    if to <= from {
        return Err(Error::invalid(
            "--to",
            format!("it ({to}) is not after --from ({from})"),
        ));
    }
    let mut records = Vec::new();
    tokio::task::block_in_place(|| {
        log.scan_window(from, to, |r| {
            if r.model_name == mv.name {
                records.push(r);
            }
            Ok(())
        })
    })?;
    let labels = SqliteLabelStore::open(&dir, clock)?;
    let labels = index_labels(labels.all().await?);
    let joined = labelled_dataset(
        &mv.signature.inputs,
        &mv.signature.target,
        &records,
        &labels,
    )?;
    write_csv(&joined.dataset, output)?;
    println!(
        "wrote {} labelled rows of {} ({} requests from {} to {}) to {}",
        joined.dataset.n_rows(),
        mv.name,
        records.len(),
        from.to_rfc3339(),
        to.to_rfc3339(),
        output.display()
    );
    for (reason, n) in &joined.skipped {
        println!("  left out ({}): {n}", reason.as_str());
    }
    Ok(())
}

fn read_labels(
    input: &PathBuf,
    id_column: &str,
    label_column: &str,
    at_column: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<LabelRecord>> {
    let mut reader = csv::Reader::from_path(input)
        .map_err(|e| Error::invalid(input.display(), format!("cannot read the CSV file: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::invalid(input.display(), format!("cannot read the header row: {e}")))?
        .clone();
    let column = |name: &str, flag: &str| -> Result<usize> {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::invalid(
                flag,
                format!(
                    "{} has no column `{name}` (its columns: {}); name the column with {flag}",
                    input.display(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let id = column(id_column, "--id-column")?;
    let label = column(label_column, "--label-column")?;
    let at = at_column.map(|c| column(c, "--at-column")).transpose()?;
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| {
            Error::invalid(format!("{} line {line}", input.display()), e.to_string())
        })?;
        let observed_at = match at {
            None => now,
            Some(c) => {
                let text = row.get(c).unwrap_or("");
                DateTime::parse_from_rfc3339(text.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        Error::invalid(
                            format!("{} line {line}, column `{}`", input.display(), &headers[c]),
                            format!(
                                "`{text}` is not an RFC 3339 time ({e}), e.g. 2026-03-01T12:00:00Z"
                            ),
                        )
                    })?
            }
        };
        out.push(LabelRecord {
            request_id: row.get(id).unwrap_or("").trim().to_string(),
            label: row.get(label).unwrap_or("").trim().to_string(),
            observed_at,
        });
    }
    Ok(out)
}

async fn ingest(
    store: &StoreArg,
    input: PathBuf,
    id_column: &str,
    label_column: &str,
    at_column: Option<&str>,
) -> Result<()> {
    let dir = store.existing()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let labels = read_labels(&input, id_column, label_column, at_column, clock.now())?;
    // The requests the labels name, with their shape, from one scan of the log.
    let wanted: HashSet<String> = labels
        .iter()
        .filter_map(|l| parse_key(&l.request_id).ok())
        .flat_map(|(id, _)| [id.to_string()])
        .chain(labels.iter().map(|l| l.request_id.clone()))
        .collect();
    let log = FilePredictionLog::open(dir.join("predictions"))?;
    let mut logged: HashMap<String, LoggedRequest> = HashMap::new();
    if let (Some(first), Some(last)) = {
        let hours = log.hours()?;
        (hours.first().copied(), hours.last().copied())
    } {
        tokio::task::block_in_place(|| {
            log.scan_window(first, last + chrono::TimeDelta::hours(1), |r| {
                if wanted.contains(&r.request_id) {
                    logged.insert(r.request_id.clone(), LoggedRequest::from(&r));
                }
                Ok(())
            })
        })?;
    }
    let (matched, _) = match_labels(&labels, &logged, |_| true);
    let labels_store = SqliteLabelStore::open(&dir, clock.clone())?;
    let audit = SqliteAuditLog::open(&dir, clock)?;
    let actor = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let summary = record_labels_audited(
        &labels_store,
        &audit,
        labels,
        &actor,
        &input.display().to_string(),
    )
    .await?;
    println!(
        "recorded {} labels: {} new, {} unchanged, {} corrected",
        summary.received,
        summary.inserted,
        summary.unchanged,
        summary.corrected.len()
    );
    println!("matched a logged prediction: {}", matched.matched);
    println!("not matched: {}", matched.unmatched_total());
    for (reason, n) in &matched.unmatched {
        println!("  {}: {n}", reason.as_str());
    }
    Ok(())
}
