//! `mlcycle datasets`: the dataset catalog of a store.

use crate::audit::{Format, StoreArg};
use clap::{Args, Subcommand};
use mlcycle::Result;
use mlcycle::audit::SqliteAuditLog;
use mlcycle::clock::SystemClock;
use mlcycle::datasets::DatasetCatalog;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `mlcycle datasets`.
#[derive(Args, Debug)]
pub struct DatasetsArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(subcommand)]
    command: DatasetsCommand,
}

#[derive(Subcommand, Debug)]
enum DatasetsCommand {
    /// Add a CSV file as the next version of a named dataset (copied into the store,
    /// content-hashed, audited). The same content added again is not a new version.
    /// A running `mlcycle run --dataset NAME` trains on each new version.
    Add {
        /// The CSV file (header row, at least one data row).
        file: PathBuf,
        /// The dataset's name (letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        name: String,
        /// Who adds it [default: $USER, else `cli`].
        #[arg(long)]
        by: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the versions in the catalog, oldest first.
    List {
        /// Only this dataset.
        #[arg(long)]
        name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// Run `mlcycle datasets`.
pub async fn run(args: DatasetsArgs) -> Result<()> {
    match args.command {
        DatasetsCommand::Add {
            file,
            name,
            by,
            format,
        } => {
            let dir = args.store.dir();
            let actor = by
                .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
                .unwrap_or_else(|| "cli".into());
            let catalog = DatasetCatalog::open(&dir)?
                .audit(Arc::new(SqliteAuditLog::open(&dir, Arc::new(SystemClock))?));
            let added = catalog.add(&file, &name, &actor).await?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&added).unwrap_or_default()
                ),
                Format::Text => {
                    let e = &added.entry;
                    if added.new {
                        println!(
                            "added {} ({} rows, {} columns, {}) from {}",
                            e.reference(),
                            e.rows,
                            e.columns,
                            e.hash,
                            e.source
                        );
                    } else {
                        println!(
                            "unchanged: {} already holds this content ({}); no new version",
                            e.reference(),
                            e.hash
                        );
                    }
                }
            }
            Ok(())
        }
        DatasetsCommand::List { name, format } => {
            let dir = args.store.existing()?;
            let entries = DatasetCatalog::open(&dir)?.list(name.as_deref())?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&entries).unwrap_or_default()
                ),
                Format::Text => {
                    if entries.is_empty() {
                        println!(
                            "no datasets{}; add one with `mlcycle datasets add FILE --name NAME`",
                            name.map(|n| format!(" named {n}")).unwrap_or_default()
                        );
                    }
                    for e in &entries {
                        println!(
                            "{:<24} {:>8} rows {:>4} cols  {}  {} by {}  from {}",
                            e.reference(),
                            e.rows,
                            e.columns,
                            &e.hash[..e.hash.len().min(23)],
                            e.added_at.format("%Y-%m-%d %H:%M:%S"),
                            e.added_by,
                            e.source
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
