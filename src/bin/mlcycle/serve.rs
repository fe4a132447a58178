//! `mlcycle serve`: the HTTP inference server over an embedded store, following an alias.

use mlcycle::audit::event::{DeploymentStarted, DeploymentStopped};
use mlcycle::audit::{AuditEntry, AuditEvent, AuditLog, SqliteAuditLog};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::collect::{Collector, CollectorLimits, FilePredictionLog, LogFormat, Retention};
use mlcycle::data::UnknownLevel;
use mlcycle::deploy::http::{
    FollowSpec, HttpConfig, HttpDeployer, Limits, TlsConfig, TrafficSplit,
};
use mlcycle::deploy::{Deployer, DeploymentInfo};
use mlcycle::registry::{Registry, SqliteRegistry};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `mlcycle serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The embedded store directory (registry database, artifacts, prediction log), or the
    /// URL of a PostgreSQL database (`postgres://USER@HOST:PORT/DB`: registry, audit trail,
    /// approvals and labels there; the prediction log in --log-dir).
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// Where this server writes its prediction log [default: STORE/predictions; required
    /// with a PostgreSQL store — give each replica its own].
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// The model to serve: NAME@ALIAS (followed as it moves), NAME/VERSION or NAME@latest.
    #[arg(long)]
    model: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM; needs --tls-key).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A challenger alias of the same model (e.g. `challenger`) sharing traffic.
    #[arg(long)]
    challenger: Option<String>,
    /// Share of traffic (0–1) the challenger answers (canary) or receives a copy of (shadow).
    #[arg(long, default_value_t = 0.1, value_parser = parse_fraction)]
    challenger_weight: f64,
    /// Shadow mode: the challenger scores copies and is only logged.
    #[arg(long)]
    shadow: bool,
    /// Refuse input columns that are not in the model signature.
    #[arg(long)]
    strict: bool,
    /// What to do with a categorical value the model does not know: `reject` the request
    /// (400, recorded in the prediction log as an error with the reason) or score it
    /// `as_missing`.
    #[arg(long, value_enum, default_value = "reject")]
    unknown_category: UnknownCategory,
    /// Same as `--unknown-category as_missing`.
    #[arg(long, conflicts_with = "unknown_category")]
    unknown_as_missing: bool,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_body_bytes: usize,
    /// Most rows per request.
    #[arg(long, default_value_t = Limits::default().max_rows, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_rows: usize,
    /// Request time limit in milliseconds.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    timeout_ms: u64,
    /// Most open connections; one more is answered 503 (`Retry-After: 1`) and closed.
    #[arg(long, default_value_t = Limits::default().max_connections, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_connections: usize,
    /// Milliseconds a connection has to send a complete request header (from being
    /// accepted, or from the first byte of its next request); then it is closed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    header_timeout_ms: u64,
    /// Milliseconds a kept-alive connection may stay silent after an answer before it is
    /// closed.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    idle_timeout_ms: u64,
    /// Most requests handled at once; more are answered 503 with `Retry-After: 1` (health
    /// probes and `/metrics` are not counted).
    #[arg(long, default_value_t = Limits::default().max_in_flight, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_in_flight: usize,
    /// How often to poll the registry for alias moves, in milliseconds.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    poll_ms: u64,
    /// Do not record requests to the prediction log.
    #[arg(long)]
    no_collect: bool,
    /// Format of the prediction log files this server writes: `binary` (`HH.predlog`, the
    /// values as 8-byte floats) or `jsonl` (`HH.jsonl`, one JSON object per line). Readers
    /// take both; `mlcycle predictions` prints either as JSON lines.
    #[arg(long, default_value_t = LogFormat::Binary)]
    log_format: LogFormat,
    /// Delete prediction-log hours that ended more than this many days ago (checked as
    /// each new hour starts). Default: keep everything.
    #[arg(long, value_name = "DAYS", value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=36_500))]
    log_retention_days: Option<u64>,
    /// Delete the oldest prediction-log hours while the log holds more than this many bytes
    /// (the hour being written is kept). Default: no limit.
    #[arg(long, value_name = "BYTES", value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..))]
    log_max_bytes: Option<u64>,
    /// Share of requests (0–1] recorded to the prediction log, chosen by request id (the
    /// same requests on every run and for champion and shadow alike); the others are
    /// counted on `/metrics` as `mlcycle_prediction_log_sampled_out_total`.
    #[arg(long, default_value_t = 1.0, value_parser = parse_sample)]
    collect_sample: f64,
    /// Requests the prediction-log queue holds before further records are dropped (and
    /// counted).
    #[arg(long, default_value_t = CollectorLimits::default().max_records, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    collect_capacity: usize,
    /// Bytes of requests the prediction-log queue holds before further records are
    /// dropped (and counted): bounds the memory a slow disk can take.
    #[arg(long, default_value_t = CollectorLimits::default().max_bytes, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    collect_max_bytes: usize,
}

/// A share in [0, 1] (`--challenger-weight`).
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

/// A share in (0, 1] (`--collect-sample`).
fn parse_sample(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number above 0 and at most 1 (use --no-collect to record nothing)"
        )),
    }
}

/// Run the server until SIGTERM or Ctrl-C, then stop gracefully.
pub async fn run(args: ServeArgs) -> mlcycle::Result<()> {
    let shutdown = crate::signals::Shutdown::install();
    let started = Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let stores = Stores::open(&args, clock.clone()).await?;
    let registry = stores.registry.clone();
    let collector = if args.no_collect {
        None
    } else {
        let log = FilePredictionLog::open_with_format(&stores.log_dir, args.log_format)?
            .with_retention(Retention {
                max_age: args
                    .log_retention_days
                    .map(|d| chrono::TimeDelta::days(d as i64)),
                max_bytes: args.log_max_bytes,
            });
        Some(
            Collector::spawn_with_limits(
                Arc::new(log),
                CollectorLimits {
                    max_records: args.collect_capacity,
                    max_bytes: args.collect_max_bytes,
                },
            )?
            .with_sampling_rate(args.collect_sample)?,
        )
    };
    let config = HttpConfig {
        addr: args.addr,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_rows: args.max_rows,
            request_timeout: Duration::from_millis(args.timeout_ms),
            max_connections: args.max_connections,
            header_timeout: Duration::from_millis(args.header_timeout_ms),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            max_in_flight: args.max_in_flight,
        },
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        strict: args.strict,
        unknown_level: args.unknown_category.level(args.unknown_as_missing),
        api_token: std::env::var(mlcycle::deploy::http::API_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty()),
        admin_token: std::env::var(mlcycle::deploy::http::ADMIN_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty()),
        approvals: Some(Arc::new(mlcycle::lifecycle::StoreApprovals::new(
            stores.state.clone(),
            stores.audit.clone(),
            clock.clone(),
        ))),
        labels: Some(mlcycle::deploy::http::LabelSink {
            store: stores.labels.clone(),
            audit: Some(stores.audit.clone()),
        }),
        ..HttpConfig::default()
    };
    let audit: Arc<dyn AuditLog> = stores.audit.clone();
    let server = Arc::new(HttpDeployer::start(config, clock, collector).await?);
    let mut spec =
        FollowSpec::new(&args.model).with_poll_interval(Duration::from_millis(args.poll_ms));
    if let Some(alias) = &args.challenger {
        let name = args
            .model
            .split(['@', '/'])
            .next()
            .unwrap_or(&args.model)
            .trim_start_matches("models:");
        let split = if args.shadow {
            TrafficSplit::shadow(args.challenger_weight)
        } else {
            TrafficSplit::canary(args.challenger_weight)
        };
        spec = spec.with_challenger(format!("{name}@{alias}"), split);
    } else {
        // A lifecycle releasing through a canary (`mlcycle run --canary`) points this alias
        // at the new version with its share of traffic in a tag.
        spec = spec.with_canary_alias("canary");
    }
    if let Err(e) = server.follow(registry, spec).await {
        let _ = server.undeploy().await;
        return Err(e);
    }
    let info = server.current().await;
    if let Some(i) = &info {
        record_start(audit.as_ref(), i, None).await?;
    }
    let watcher = tokio::spawn(record_swaps(
        server.clone(),
        audit.clone(),
        info.clone(),
        Duration::from_millis(args.poll_ms),
    ));
    eprintln!(
        "mlcycle serving {} version {} on {} (ready in {} ms); Ctrl-C or SIGTERM stops",
        info.as_ref().map_or("?", |i| i.model_name.as_str()),
        info.as_ref().map_or(0, |i| i.version),
        server.endpoint(),
        started.elapsed().as_millis()
    );
    shutdown.wait().await;
    eprintln!("stopping: finishing in-flight requests and flushing the prediction log");
    watcher.abort();
    let last = server.current().await;
    server.undeploy().await?;
    if let Some(i) = last {
        record_stop(audit.as_ref(), &i, "the server stopped", None).await?;
    }
    if let Some(c) = server.collector() {
        let s = c.stats();
        eprintln!(
            "prediction log: {} records written, {} dropped, {} write errors, {} sampled out",
            s.accepted, s.dropped, s.write_errors, s.sampled_out
        );
    }
    Ok(())
}

/// What a server reads and writes besides its own prediction log.
struct Stores {
    /// The registry it follows.
    registry: Arc<dyn Registry>,
    /// The audit trail (deployments, approvals, labels).
    audit: Arc<dyn AuditLog>,
    /// Approval requests and decisions (the admin API).
    state: Arc<dyn mlcycle::lifecycle::LifecycleStateStore>,
    /// Ground-truth labels (`POST /labels`).
    labels: Arc<dyn mlcycle::labels::LabelStore>,
    /// The prediction log's directory.
    log_dir: PathBuf,
}

impl Stores {
    async fn open(args: &ServeArgs, clock: Arc<dyn Clock>) -> mlcycle::Result<Stores> {
        let text = args.store.to_string_lossy().to_string();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Self::open_postgres(&text, args, clock).await;
        }
        // A directory that is there is opened (and a damaged store refused) by the registry.
        if !args.store.exists() {
            return Err(mlcycle::Error::not_found(
                "store",
                args.store.display(),
                "pass --store DIR (or set MLCYCLE_HOME) to a directory written by mlcycle, or a postgres:// URL",
            ));
        }
        let registry = Arc::new(SqliteRegistry::open(&args.store, clock.clone())?);
        Ok(Stores {
            registry,
            audit: Arc::new(SqliteAuditLog::open(&args.store, clock.clone())?),
            state: Arc::new(mlcycle::lifecycle::SqliteLifecycleState::open(&args.store)?),
            labels: Arc::new(mlcycle::labels::SqliteLabelStore::open(&args.store, clock)?),
            log_dir: args
                .log_dir
                .clone()
                .unwrap_or_else(|| args.store.join("predictions")),
        })
    }

    #[cfg(feature = "postgres")]
    async fn open_postgres(
        url: &str,
        args: &ServeArgs,
        clock: Arc<dyn Clock>,
    ) -> mlcycle::Result<Stores> {
        let log_dir = match (&args.log_dir, args.no_collect) {
            (Some(d), _) => d.clone(),
            // Not written: any path will do.
            (None, true) => PathBuf::from("predictions"),
            (None, false) => {
                return Err(mlcycle::Error::invalid(
                    "--log-dir",
                    "a server on a PostgreSQL store writes its prediction log to a directory of \
                     its own: pass --log-dir DIR (or --no-collect)",
                ));
            }
        };
        Ok(Stores {
            registry: Arc::new(
                mlcycle::registry::PostgresRegistry::connect(url, clock.clone()).await?,
            ),
            audit: Arc::new(mlcycle::audit::PostgresAuditLog::connect(url, clock.clone()).await?),
            state: Arc::new(mlcycle::lifecycle::PostgresLifecycleState::connect(url)?),
            labels: Arc::new(mlcycle::labels::PostgresLabelStore::connect(url, clock).await?),
            log_dir,
        })
    }

    #[cfg(not(feature = "postgres"))]
    async fn open_postgres(
        _url: &str,
        _args: &ServeArgs,
        _clock: Arc<dyn Clock>,
    ) -> mlcycle::Result<Stores> {
        Err(mlcycle::Error::invalid(
            "--store",
            "this mlcycle was built without the `postgres` feature; rebuild with it to use a PostgreSQL database",
        ))
    }
}

/// Who started the server: `$USER`, else `cli`.
fn actor() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "cli".into())
}

/// Append `deployment.started` for the version `info` describes.
async fn record_start(
    audit: &dyn AuditLog,
    info: &DeploymentInfo,
    replaces: Option<u32>,
) -> mlcycle::Result<()> {
    let event = AuditEvent::DeploymentStarted(DeploymentStarted {
        deployer: info.deployer.clone(),
        endpoint: info.endpoint.clone(),
        model_name: info.model_name.clone(),
        version: info.version,
        since: info.since,
        approved_by: actor(),
        replaces,
    });
    append(audit, info, &event).await
}

/// Append `deployment.stopped` for the version `info` describes.
async fn record_stop(
    audit: &dyn AuditLog,
    info: &DeploymentInfo,
    reason: &str,
    replaced_by: Option<u32>,
) -> mlcycle::Result<()> {
    let event = AuditEvent::DeploymentStopped(DeploymentStopped {
        deployer: info.deployer.clone(),
        endpoint: info.endpoint.clone(),
        model_name: info.model_name.clone(),
        version: info.version,
        since: info.since,
        reason: reason.to_string(),
        replaced_by,
    });
    append(audit, info, &event).await
}

async fn append(
    audit: &dyn AuditLog,
    info: &DeploymentInfo,
    event: &AuditEvent,
) -> mlcycle::Result<()> {
    audit
        .append(AuditEntry::from_event(
            actor(),
            vec![format!("{}/{}", info.model_name, info.version)],
            event,
            format!("serve-{}", uuid::Uuid::new_v4()),
        ))
        .await
        .map(|_| ())
}

/// Watch what the server answers with and record every swap (the old version stopped, the
/// new one started) in the audit trail.
async fn record_swaps(
    server: Arc<HttpDeployer>,
    audit: Arc<dyn AuditLog>,
    mut last: Option<DeploymentInfo>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = server.current().await;
        let same = match (&last, &now) {
            (Some(a), Some(b)) => a.model_name == b.model_name && a.version == b.version,
            (None, None) => true,
            _ => false,
        };
        if same {
            continue;
        }
        let result: mlcycle::Result<()> = async {
            if let Some(old) = &last {
                let by = now.as_ref().map(|n| n.version);
                record_stop(audit.as_ref(), old, "replaced", by).await?;
            }
            if let Some(new) = &now {
                record_start(audit.as_ref(), new, last.as_ref().map(|o| o.version)).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            eprintln!("warning: the deployment record of a swap was not written: {e}");
        }
        last = now;
    }
}

/// The `--unknown-category` policy of `mlcycle serve` and `mlcycle score`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UnknownCategory {
    /// Refuse it (the request in `serve`, the row in `score`).
    #[value(name = "reject")]
    Reject,
    /// Score it as a missing value.
    #[value(name = "as_missing")]
    AsMissing,
}

impl UnknownCategory {
    /// The encoding rule, `--unknown-as-missing` (the older spelling) included.
    pub fn level(self, as_missing_flag: bool) -> UnknownLevel {
        if as_missing_flag || self == UnknownCategory::AsMissing {
            UnknownLevel::AsMissing
        } else {
            UnknownLevel::Error
        }
    }
}
