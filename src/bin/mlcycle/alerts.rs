//! `mlcycle alerts`: the alerts raised in a store, with their delivery status.

use clap::{Args, ValueEnum};
use mlcycle::alerts::{AlertQuery, AlertStore, SqliteAlertStore};
use mlcycle::registry::SqliteRegistry;
use mlcycle::{Error, Result};
use std::path::PathBuf;

/// Arguments of `mlcycle alerts`.
#[derive(Args)]
pub struct AlertsArgs {
    /// Store directory [default: $MLCYCLE_HOME, else ./mlcycle-store].
    #[arg(long)]
    store: Option<PathBuf>,
    /// Only this model's alerts.
    #[arg(long)]
    model: Option<String>,
    /// Only alerts raised at or after this time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(Error::invalid(
        format!("--since `{s}`"),
        "write an RFC 3339 time (2026-03-01T12:00:00Z) or a date (2026-03-01)",
    ))
}

/// Run `mlcycle alerts`.
pub async fn run(args: AlertsArgs) -> Result<()> {
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
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let store = SqliteAlertStore::open(&dir)?;
    let records = store
        .list(&AlertQuery {
            model: args.model,
            since,
        })
        .await?;
    match args.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = records
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r.alert.webhook_body())
                        .unwrap_or(serde_json::Value::Null);
                    v["column"] = serde_json::json!(r.alert.column);
                    v["trace_id"] = serde_json::json!(r.alert.trace_id);
                    v["status"] = serde_json::json!(r.status());
                    v["attempts"] = serde_json::json!(r.attempts);
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Text => {
            println!(
                "{:<20}  {:<17}  {:<8}  {:<20}  {:<16}  {:<10}  SUMMARY",
                "AT", "KIND", "SEVERITY", "MODEL", "OWNER", "STATUS"
            );
            for r in &records {
                let a = &r.alert;
                let model = match a.version {
                    Some(v) => format!("{}/{v}", a.model_name),
                    None => a.model_name.clone(),
                };
                println!(
                    "{:<20}  {:<17}  {:<8}  {:<20}  {:<16}  {:<10}  {}",
                    a.at.format("%Y-%m-%dT%H:%M:%SZ"),
                    a.kind.as_str(),
                    a.severity.as_str(),
                    model,
                    a.owner.as_deref().unwrap_or("-"),
                    r.status(),
                    a.message
                );
            }
        }
    }
    Ok(())
}
