//! `mlcycle audit …` and `mlcycle lineage …`: verify, read and export the audit trail of a
//! store, and answer lineage questions.

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use mlcycle::audit::openlineage::export_openlineage;
use mlcycle::audit::{
    AuditLog, AuditQuery, AuditRecord, Checkpoint, CheckpointKey, SqliteAuditLog, VerifyOptions,
    export_jsonl,
};
use mlcycle::clock::SystemClock;
use mlcycle::collect::FilePredictionLog;
use mlcycle::lineage::{DatasetInfo, LineageQuery};
use mlcycle::registry::SqliteRegistry;
use mlcycle::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the store is: `--store`, else `$MLCYCLE_HOME`, else `./mlcycle-store`.
#[derive(Args, Debug, Clone)]
pub struct StoreArg {
    /// Store directory [default: $MLCYCLE_HOME, else ./mlcycle-store]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
}

impl StoreArg {
    pub fn dir(&self) -> PathBuf {
        self.store
            .clone()
            .or_else(|| std::env::var_os("MLCYCLE_HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("mlcycle-store"))
    }

    /// The store directory, which must hold a store database.
    pub fn existing(&self) -> Result<PathBuf> {
        let dir = self.dir();
        if !dir.join("mlcycle.db").is_file() {
            return Err(Error::not_found(
                "store",
                dir.display(),
                "pass --store DIR or set MLCYCLE_HOME to a directory written by mlcycle (e.g. `mlcycle demo --store DIR`)",
            ));
        }
        Ok(dir)
    }
}

/// Output format of reports.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}

/// Export formats.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One audit record per line, as stored (re-verifiable).
    Jsonl,
    /// OpenLineage RunEvents, one per line.
    Openlineage,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Args, Debug, Clone)]
struct KeyArg {
    /// File holding the checkpoint signing key (its bytes, at least 16; a trailing newline
    /// is ignored). Default: $MLCYCLE_AUDIT_KEY_FILE, if set.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

impl KeyArg {
    fn key(&self) -> Result<Option<CheckpointKey>> {
        let Some(path) = self
            .key_file
            .clone()
            .or_else(|| std::env::var_os("MLCYCLE_AUDIT_KEY_FILE").map(PathBuf::from))
        else {
            return Ok(None);
        };
        let mut bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        CheckpointKey::new(bytes).map(Some)
    }
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Verify the hash chain, its stored head and checkpoints; names the first record that
    /// was altered, removed, inserted or reordered. Exits non-zero when broken.
    Verify {
        #[command(flatten)]
        key: KeyArg,
        /// A checkpoint kept outside the store (JSON, as printed by `audit checkpoint
        /// --format json`): the store must still contain the record it names.
        #[arg(long, value_name = "FILE")]
        trusted: Option<PathBuf>,
        /// Require a checkpoint every N records.
        #[arg(long, value_name = "N")]
        expect_every: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sign the current head of the chain with the key (a CloudTrail-like digest). Keep
    /// the printed checkpoint elsewhere to detect a rollback of the whole store later.
    Checkpoint {
        #[command(flatten)]
        key: KeyArg,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List records, oldest first.
    Log {
        /// Only records at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Only this action (e.g. alias.moved).
        #[arg(long, value_name = "A")]
        action: Option<String>,
        /// Only records naming this subject (a dataset id, NAME/VERSION, ...).
        #[arg(long, value_name = "ID")]
        subject: Option<String>,
        /// Only this lifecycle run.
        #[arg(long, value_name = "ID")]
        trace: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write the whole trail to standard output.
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The OpenLineage namespace of jobs and datasets.
        #[arg(long, default_value = "mlcycle")]
        namespace: String,
    },
}

#[derive(Args, Debug)]
pub struct LineageArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(subcommand)]
    command: LineageCommand,
}

#[derive(Subcommand, Debug)]
enum LineageCommand {
    /// From a prediction request id back to the data, code, approval and deployment.
    Prediction {
        request_id: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// A model version (NAME/VERSION, NAME@ALIAS): its origin and every deployment.
    Version {
        reference: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// A dataset (id or unique prefix): every model version trained on it.
    Dataset {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn open_audit(dir: &Path) -> Result<SqliteAuditLog> {
    SqliteAuditLog::open(dir, Arc::new(SystemClock))
}

fn parse_since(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            Error::invalid(
                format!("--since `{s}`"),
                "use RFC 3339 (2026-03-02T12:00:00Z) or a date (2026-03-02)",
            )
        })
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    emit(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub async fn run_audit(args: AuditArgs) -> Result<()> {
    let dir = args.store.existing()?;
    let log = open_audit(&dir)?;
    match args.command {
        AuditCommand::Verify {
            key,
            trusted,
            expect_every,
            format,
        } => {
            let trusted = match trusted {
                Some(p) => {
                    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
                    Some(serde_json::from_str::<Checkpoint>(&text).map_err(|e| {
                        Error::invalid(format!("trusted checkpoint {}", p.display()), e)
                    })?)
                }
                None => None,
            };
            let options = VerifyOptions {
                key: key.key()?,
                expect_every,
                trusted,
            };
            match log.verify_with(&options).await {
                Ok(v) => {
                    if format == Format::Json {
                        print_json(&serde_json::json!({"ok": true, "verification": v}))?;
                    } else {
                        let mut out = String::new();
                        let _ = writeln!(out,
                            "audit chain OK: {} records{}; {} checkpoint{}{}",
                            v.records,
                            v.head
                                .as_ref()
                                .map(|h| format!(", head {} ({}…)", h.seq, short(&h.hash)))
                                .unwrap_or_default(),
                            v.checkpoints,
                            if v.checkpoints == 1 { "" } else { "s" },
                            match (v.checkpoints, v.signatures_checked) {
                                (0, _) => String::new(),
                                (_, true) => " (signatures verified)".into(),
                                (_, false) =>
                                    " (matched against the chain; pass --key-file to check signatures)"
                                        .into(),
                            }
                        );
                        emit(&out)?;
                    }
                    Ok(())
                }
                Err(e) => {
                    if format == Format::Json
                        && let Error::AuditBroken { seq, why } = &e
                    {
                        print_json(&serde_json::json!({"ok": false, "seq": seq, "why": why}))?;
                    }
                    Err(e)
                }
            }
        }
        AuditCommand::Checkpoint { key, format } => {
            let key = key.key()?.ok_or_else(|| {
                Error::invalid(
                    "checkpoint",
                    "no key: pass --key-file FILE (or set MLCYCLE_AUDIT_KEY_FILE)",
                )
            })?;
            log.verify().await?;
            match log.checkpoint(&key).await? {
                None => Err(Error::Conflict(
                    "the audit log is empty; there is nothing to checkpoint".into(),
                )),
                Some(cp) if format == Format::Json => print_json(&cp),
                Some(cp) => {
                    let mut out = String::new();
                    let _ = writeln!(
                        out,
                        "checkpoint at record {} ({}…) signed by key {} at {}: {}",
                        cp.seq,
                        short(&cp.hash),
                        cp.key_id,
                        time(cp.at),
                        cp.signature
                    );
                    emit(&out)
                }
            }
        }
        AuditCommand::Log {
            since,
            action,
            subject,
            trace,
            format,
        } => {
            let q = AuditQuery {
                since: since.as_deref().map(parse_since).transpose()?,
                action,
                subject,
                trace_id: trace,
            };
            let records = log.query(&q).await?;
            if format == Format::Json {
                return print_json(&records);
            }
            let mut out = String::new();
            for r in &records {
                out.push_str(&record_line(r));
                out.push('\n');
            }
            emit(&out)
        }
        AuditCommand::Export { format, namespace } => {
            let out = std::io::stdout().lock();
            let written = match format {
                ExportFormat::Jsonl => export_jsonl(&log, &AuditQuery::default(), out).await,
                ExportFormat::Openlineage => export_openlineage(&log, &namespace, out).await,
            };
            match written {
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Ok(())
                }
                other => other.map(|_| ()),
            }
        }
    }
}

/// Write `text` to standard output; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("standard output", e))
        }
        _ => Ok(()),
    }
}

fn record_line(r: &AuditRecord) -> String {
    let mut payload = serde_json::to_string(&r.entry.payload).unwrap_or_default();
    if payload.len() > 160 {
        let cut = (0..=157)
            .rev()
            .find(|&i| payload.is_char_boundary(i))
            .unwrap_or(0);
        payload.truncate(cut);
        payload.push('…');
    }
    format!(
        "{:>6}  {}  {:<22} {:<12} {}  [{}]  {}",
        r.seq,
        time(r.at),
        r.entry.action,
        r.entry.actor,
        r.entry
            .subjects
            .iter()
            .map(|s| if s.len() == 64 { short(s) } else { s.as_str() })
            .collect::<Vec<_>>()
            .join(","),
        r.entry.trace_id,
        payload
    )
}

fn dataset_line(d: &DatasetInfo) -> String {
    format!(
        "{} ({}{} rows) — {}",
        d.id,
        d.role
            .as_deref()
            .map(|r| format!("{r}, "))
            .unwrap_or_default(),
        d.rows.map_or_else(|| "?".into(), |r| r.to_string()),
        d.source.as_deref().unwrap_or("source not recorded")
    )
}

fn print_version(v: &mlcycle::lineage::VersionLineage, indent: &str, out: &mut String) {
    let _ = writeln!(
        out,
        "{indent}version     {}/{} ({}), registered {}, artifact sha256 {}…",
        v.model_name,
        v.version,
        v.status,
        time(v.created_at),
        short(&v.artifact_sha256)
    );
    let _ = writeln!(
        out,
        "{indent}trained by  {} with {} {}",
        v.created_by,
        v.trainer,
        serde_json::to_string(&v.params).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "{indent}code        {}",
        v.code_version.as_deref().unwrap_or("not recorded")
    );
    if let Some(t) = &v.trace_id {
        let _ = writeln!(out, "{indent}run         {t}");
    }
    for d in &v.training_datasets {
        let _ = writeln!(out, "{indent}trained on  {}", dataset_line(d));
    }
    if let Some(d) = &v.validation_dataset {
        let _ = writeln!(out, "{indent}validated   {}", dataset_line(d));
    }
    if let Some(val) = &v.validation {
        let _ = writeln!(
            out,
            "{indent}validation  {} at {}{}",
            match val.passed {
                Some(true) => "passed",
                Some(false) => "failed",
                None => "recorded",
            },
            time(val.at),
            val.champion
                .map(|c| format!(" against champion version {c}"))
                .unwrap_or_default()
        );
    }
    let _ = match &v.approval {
        Some(a) => writeln!(
            out,
            "{indent}approved    by {} at {}: {}",
            a.actor,
            time(a.at),
            a.reason
        ),
        None => writeln!(out, "{indent}approved    no approval recorded"),
    };
    for i in &v.alias_intervals {
        let _ = writeln!(
            out,
            "{indent}alias       {}@{} from {} to {} (set by {}: {})",
            i.model_name,
            i.alias,
            time(i.from),
            i.to.map_or_else(|| "now".into(), time),
            i.set_by,
            i.reason
        );
    }
    for d in &v.deployments {
        let _ = writeln!(
            out,
            "{indent}deployed    {} via {} from {} to {}{}",
            d.endpoint,
            d.deployer,
            time(d.started),
            d.stopped.map_or_else(|| "(no stop recorded)".into(), time),
            d.stop_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
}

/// Say on standard error how many damaged prediction-log records a read skipped.
pub fn warn_skipped(log: &FilePredictionLog) {
    let n = log.skipped_records();
    if n > 0 {
        eprintln!("warning: skipped {n} damaged record(s) in the prediction log");
    }
}

pub async fn run_lineage(args: LineageArgs) -> Result<()> {
    let dir = args.store.existing()?;
    let clock = Arc::new(SystemClock);
    let audit = open_audit(&dir)?;
    let registry = SqliteRegistry::open(&dir, clock)?;
    let predictions = FilePredictionLog::open(dir.join("predictions"))?;
    let q = LineageQuery::new(&audit, &registry, &predictions);
    match args.command {
        LineageCommand::Prediction { request_id, format } => {
            let l = q.prediction(&request_id).await;
            warn_skipped(&predictions);
            let l = l?;
            if format == Format::Json {
                return print_json(&l);
            }
            let mut out = String::new();
            let _ = writeln!(
                out,
                "request     {} at {}: {} rows{}",
                l.request_id,
                time(l.at),
                l.rows,
                l.error
                    .as_deref()
                    .map(|e| format!(", failed: {e}"))
                    .unwrap_or_default()
            );
            for i in &l.serving_aliases {
                let _ = writeln!(
                    out,
                    "served as   {}@{} (since {})",
                    i.model_name,
                    i.alias,
                    time(i.from)
                );
            }
            if let Some(d) = &l.deployment {
                let _ = writeln!(
                    out,
                    "served by   {} via {} (deployed {})",
                    d.endpoint,
                    d.deployer,
                    time(d.started)
                );
            }
            print_version(&l.version, "", &mut out);
            emit(&out)
        }
        LineageCommand::Version { reference, format } => {
            let v = q.version(&reference).await?;
            if format == Format::Json {
                return print_json(&v);
            }
            let mut out = String::new();
            print_version(&v, "", &mut out);
            emit(&out)
        }
        LineageCommand::Dataset { id, format } => {
            let d = q.dataset(&id).await?;
            if format == Format::Json {
                return print_json(&d);
            }
            let mut out = String::new();
            let _ = writeln!(out, "dataset     {}", dataset_line(&d.dataset));
            if let Some(from) = &d.dataset.derived_from {
                let _ = writeln!(out, "split from  {from}");
            }
            for x in &d.derived {
                let _ = writeln!(out, "split into  {}", dataset_line(x));
            }
            if d.used_by.is_empty() {
                let _ = writeln!(out, "used by     no model version");
            }
            for u in &d.used_by {
                let _ = writeln!(
                    out,
                    "used by     {}/{} ({}, {}), registered {}",
                    u.model_name,
                    u.version,
                    u.role,
                    u.status,
                    time(u.created_at)
                );
            }
            emit(&out)
        }
    }
}
