//! `mlcycle report ...`: HTML pages built from a store.

use clap::{Args, Subcommand};
use mlcycle::audit::{AuditLog, AuditQuery, SqliteAuditLog};
use mlcycle::clock::SystemClock;
use mlcycle::registry::{Registry, SqliteRegistry};
use mlcycle::report::timeline_html;
use mlcycle::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `mlcycle report`.
#[derive(Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// One model's lifecycle on a time axis (versions, alias moves, approvals, deployments,
    /// monitoring windows, alerts) as a self-contained HTML page.
    Timeline {
        /// Store directory.
        #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
        store: PathBuf,
        /// The model's name.
        #[arg(long)]
        model: String,
        /// Write the page to this file (default: standard output).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Run `mlcycle report ...`.
pub async fn run(args: ReportArgs) -> Result<()> {
    match args.command {
        ReportCommand::Timeline {
            store,
            model,
            output,
        } => {
            if !SqliteRegistry::is_store(&store) {
                return Err(Error::not_found(
                    "store",
                    store.display(),
                    "pass --store DIR (or set MLCYCLE_HOME) to a directory written by mlcycle",
                ));
            }
            let clock = Arc::new(SystemClock);
            let registry = SqliteRegistry::open(&store, clock.clone())?;
            let versions = registry.list_versions(&model).await?;
            if versions.is_empty() {
                return Err(Error::not_found(
                    "model",
                    &model,
                    "list the store's models with `mlcycle models list`",
                ));
            }
            let aliases = registry.alias_history(&model, None).await?;
            let audit = SqliteAuditLog::open(&store, clock)?
                .query(&AuditQuery::default())
                .await?;
            let html = timeline_html(&model, &versions, &aliases, &audit);
            match output {
                Some(p) => std::fs::write(&p, html).map_err(|e| Error::io(&p, e))?,
                None => print!("{html}"),
            }
            Ok(())
        }
    }
}
