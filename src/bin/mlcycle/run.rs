//! `mlcycle run`: the controller on a store, until SIGINT or SIGTERM — monitoring windows on
//! a cadence, training on every new file of `--training-data`, releases of versions
//! registered elsewhere (validated on `--holdout`), retraining on drift judged real. One
//! line per cycle (JSON lines with `--format json`). Settings may come from a TOML file
//! (`--config`); flags win.

use clap::{Args, ValueEnum};
use mlcycle::alerts::{AlertDispatcher, LogSink, SqliteAlertStore, WebhookSink};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::controller::{
    ApprovalPolicy, CanaryConfig, Controller, ControllerConfig, CycleReport, format_duration,
    parse_duration,
};
use mlcycle::data::{CsvOptions, Dataset, Schema, UnknownLevel, read_csv, read_csv_with_schema};
use mlcycle::datasets::{CatalogSource, DatasetCatalog, DatasetFeed, DirectoryDataSource};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{ApprovalGate, LifecycleBuilder, LifecycleConfig, TrainingDataSource};
use mlcycle::registry::{Change, Registry, RegistryExt, SqliteRegistry};
use mlcycle::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One line of words per cycle.
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `mlcycle run`.
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Store directory [default: $MLCYCLE_HOME, else ./mlcycle-store].
    #[arg(long)]
    store: Option<PathBuf>,
    /// The model to keep running.
    #[arg(long)]
    model: Option<String>,
    /// The alias that marks the version in production [default: production].
    #[arg(long)]
    alias: Option<String>,
    /// How often a monitoring window ends (5s, 10m, 1h, 7d) [default: 1h].
    #[arg(long)]
    every: Option<String>,
    /// How much each window covers [default: the same as --every (tumbling windows)].
    #[arg(long)]
    window: Option<String>,
    /// A directory of labelled CSV files: each new file is trained on, and drift retrains on
    /// their rows by timestamp.
    #[arg(long)]
    training_data: Option<PathBuf>,
    /// A dataset of the store's catalog (`mlcycle datasets add FILE --name NAME`): each new
    /// version is trained on, and drift retrains on their rows by timestamp. Not with
    /// --training-data.
    #[arg(long, value_name = "NAME")]
    dataset: Option<String>,
    /// The target column of the training data and holdout [default: the served model's].
    #[arg(long)]
    target: Option<String>,
    /// Labelled recent data to validate versions registered by other processes on; without
    /// it such versions are left alone.
    #[arg(long)]
    holdout: Option<PathBuf>,
    /// Who approves a release: auto, manual or rules [default: auto].
    #[arg(long)]
    approval: Option<String>,
    /// Share of traffic a new version first takes, in (0, 1) (with --canary-for).
    #[arg(long)]
    canary: Option<f64>,
    /// How long the canary runs (with --canary).
    #[arg(long)]
    canary_for: Option<String>,
    /// Send alerts to this URL (repeatable); the signing secret comes from
    /// MLCYCLE_WEBHOOK_SECRET.
    #[arg(long)]
    webhook: Vec<String>,
    /// Also trust the CA certificates in this PEM file for https:// webhooks (a receiver
    /// behind a private CA); the platform's roots are always trusted.
    #[arg(long, value_name = "FILE")]
    webhook_ca: Option<PathBuf>,
    /// The owner named in alerts.
    #[arg(long)]
    owner: Option<String>,
    /// A health alert when a window holds fewer scoring calls than this.
    #[arg(long, value_name = "N")]
    min_requests: Option<usize>,
    /// A health alert when a window's p99 scoring latency exceeds this many milliseconds.
    #[arg(long, value_name = "MS")]
    max_p99_ms: Option<f64>,
    /// A health alert when more than this share of a window's scoring calls failed (0-1).
    #[arg(long, value_name = "SHARE")]
    max_error_rate: Option<f64>,
    /// Score one typical reference row through the deployed model every window.
    #[arg(long)]
    probe: bool,
    /// The inputs' season (24h daily, 7d weekly; whole hours): a drifted window is compared
    /// with the same window one season earlier, and a shift that came back with the season
    /// is expected (no action).
    #[arg(long)]
    season: Option<String>,
    /// Also train on the training data's recent rows this often (e.g. 7d).
    #[arg(long)]
    schedule: Option<String>,
    /// How often new files and registry events are looked for between windows [default: 5s].
    #[arg(long)]
    poll: Option<String>,
    /// Read these settings from a TOML file (keys as the flags, with `_` for `-`); flags win.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format [default: text].
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// The settings of a `--config` file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    store: Option<PathBuf>,
    model: Option<String>,
    alias: Option<String>,
    every: Option<String>,
    window: Option<String>,
    training_data: Option<PathBuf>,
    dataset: Option<String>,
    target: Option<String>,
    holdout: Option<PathBuf>,
    approval: Option<String>,
    canary: Option<f64>,
    canary_for: Option<String>,
    #[serde(default)]
    webhook: Vec<String>,
    webhook_ca: Option<PathBuf>,
    owner: Option<String>,
    min_requests: Option<usize>,
    max_p99_ms: Option<f64>,
    max_error_rate: Option<f64>,
    #[serde(default)]
    probe: bool,
    season: Option<String>,
    schedule: Option<String>,
    poll: Option<String>,
    format: Option<Format>,
}

/// The settings of one `mlcycle run`, flags and file merged and checked.
#[derive(Debug)]
pub struct Settings {
    /// Store directory.
    pub store: PathBuf,
    /// Lifecycle settings (model, alias).
    pub lifecycle: LifecycleConfig,
    /// Controller settings.
    pub controller: ControllerConfig,
    /// Training data directory.
    pub training_data: Option<PathBuf>,
    /// Catalog dataset name.
    pub dataset: Option<String>,
    /// Target column.
    pub target: Option<String>,
    /// Holdout file.
    pub holdout: Option<PathBuf>,
    /// Extra CA certificates (PEM) for https:// webhooks.
    pub webhook_ca: Option<PathBuf>,
    /// Output format.
    pub format: Format,
}

fn dur(what: &str, text: &str) -> Result<chrono::Duration> {
    parse_duration(text).map_err(|e| Error::invalid(format!("--{what}"), e))
}

/// A `--season` (`24h`, `7d`) in whole hours.
pub fn season_hours(text: &str) -> Result<i64> {
    let d = dur("season", text)?;
    if d < chrono::Duration::hours(1) || d != chrono::Duration::hours(d.num_hours()) {
        return Err(Error::invalid(
            "--season",
            format!("`{text}` is not a whole number of hours (24h daily, 7d weekly)"),
        ));
    }
    Ok(d.num_hours())
}

impl RunArgs {
    /// Merge the flags over the `--config` file and check the result.
    pub fn settings(self) -> Result<Settings> {
        let file: RunFile = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                toml::from_str(&text).map_err(|e| {
                    Error::invalid(
                        format!("--config {}", p.display()),
                        format!("not a valid run configuration: {e}"),
                    )
                })?
            }
            None => RunFile::default(),
        };
        let store = self
            .store
            .or(file.store)
            .or_else(|| std::env::var_os("MLCYCLE_HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("mlcycle-store"));
        let model = self.model.or(file.model).ok_or_else(|| {
            Error::invalid(
                "--model",
                "missing: name the model to keep running (flag or `model` in --config)",
            )
        })?;
        let mut lifecycle = LifecycleConfig::new(model);
        if let Some(a) = self.alias.or(file.alias) {
            lifecycle.serving_alias = a;
        }
        lifecycle.actor = "controller".into();
        lifecycle.health.min_requests = self.min_requests.or(file.min_requests);
        lifecycle.health.max_p99_latency_ms = self.max_p99_ms.or(file.max_p99_ms);
        lifecycle.health.probe = self.probe || file.probe;
        lifecycle.max_error_rate = self.max_error_rate.or(file.max_error_rate);
        if let Some(s) = self.season.or(file.season) {
            lifecycle.monitor.season_length_hours = Some(season_hours(&s)?);
        }
        if let Some(ms) = lifecycle.health.max_p99_latency_ms
            && !(ms.is_finite() && ms > 0.0)
        {
            return Err(Error::invalid(
                "--max-p99-ms",
                format!("{ms} is not a positive number of milliseconds"),
            ));
        }
        if let Some(r) = lifecycle.max_error_rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err(Error::invalid(
                "--max-error-rate",
                format!("{r} is not a share in [0, 1]"),
            ));
        }
        let every = dur("every", &self.every.or(file.every).unwrap_or("1h".into()))?;
        let window = match self.window.or(file.window) {
            Some(w) => dur("window", &w)?,
            None => every,
        };
        let schedule = self
            .schedule
            .or(file.schedule)
            .map(|s| dur("schedule", &s))
            .transpose()?;
        let poll = dur("poll", &self.poll.or(file.poll).unwrap_or("5s".into()))?;
        let approval: ApprovalPolicy = self
            .approval
            .or(file.approval)
            .unwrap_or("auto".into())
            .parse()
            .map_err(|e| Error::invalid("--approval", e))?;
        let canary = match (
            self.canary.or(file.canary),
            self.canary_for.or(file.canary_for),
        ) {
            (None, None) => None,
            (Some(share), Some(d)) => Some(CanaryConfig {
                share,
                duration: dur("canary-for", &d)?,
            }),
            _ => {
                return Err(Error::invalid(
                    "--canary",
                    "give both --canary SHARE and --canary-for DURATION, or neither",
                ));
            }
        };
        let webhooks = if self.webhook.is_empty() {
            file.webhook
        } else {
            self.webhook
        };
        let controller = ControllerConfig {
            every,
            window,
            schedule,
            poll,
            holdout: None,
            approval,
            canary,
            webhooks,
            owner: self.owner.or(file.owner),
        };
        controller.check()?;
        if let Some(c) = &controller.canary {
            let policy = mlcycle::lifecycle::CanaryPolicy::new(c.share, c.duration);
            policy.check()?;
            lifecycle.canary = Some(policy);
        }
        Ok(Settings {
            store,
            lifecycle,
            controller,
            training_data: self.training_data.or(file.training_data),
            dataset: self.dataset.or(file.dataset),
            target: self.target.or(file.target),
            holdout: self.holdout.or(file.holdout),
            webhook_ca: self.webhook_ca.or(file.webhook_ca),
            format: self.format.or(file.format).unwrap_or(Format::Text),
        })
    }
}

/// The line printed for one cycle.
pub fn line(format: Format, r: &CycleReport) -> Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string(r)?,
        Format::Text => {
            let mut s = format!("{} {:<8} {:<18}", r.at.to_rfc3339(), r.kind, r.decision);
            if let Some(v) = r.version {
                s.push_str(&format!(" v{v}"));
            }
            if let Some((from, to)) = r.window {
                s.push_str(&format!(" [{} .. {})", from.to_rfc3339(), to.to_rfc3339()));
            }
            s.push(' ');
            s.push_str(&r.summary);
            s
        }
    })
}

/// The target column: the flag, else the serving version's.
async fn target_of(stack: &Stack, given: Option<String>) -> Result<Option<String>> {
    if given.is_some() {
        return Ok(given);
    }
    let cfg = stack.lifecycle.config();
    if !stack
        .registry
        .list_models()
        .await?
        .contains(&cfg.model_name)
    {
        return Ok(None);
    }
    let reference = format!("{}@{}", cfg.model_name, cfg.serving_alias);
    match stack.registry.load_model(&reference).await {
        Ok((_, m)) => Ok(Some(m.signature().target.name.clone())),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_holdout(stack: &Stack, path: &Path, target: Option<&str>) -> Result<Dataset> {
    let cfg = stack.lifecycle.config();
    let reference = format!("{}@{}", cfg.model_name, cfg.serving_alias);
    if stack
        .registry
        .list_models()
        .await?
        .contains(&cfg.model_name)
        && let Ok((_, m)) = stack.registry.load_model(&reference).await
    {
        let sig = m.signature();
        let schema = Schema {
            features: sig.inputs.features.clone(),
            target: Some(sig.target.clone()),
        };
        return read_csv_with_schema(path, &schema, None, UnknownLevel::AsMissing);
    }
    let target = target.ok_or_else(|| {
        Error::invalid(
            "--holdout",
            "nothing is served yet to take the target column from: pass --target NAME",
        )
    })?;
    read_csv(path, &CsvOptions::with_target(target))
}

/// The alert dispatcher of `mlcycle run`: alerts are stored in the store and logged; each
/// `--webhook` URL gets a signed POST (secret from `MLCYCLE_WEBHOOK_SECRET`); `--owner` sets
/// the model's owner in the registry (and names it in alerts before the model exists).
async fn alert_dispatcher(s: &Settings, clock: Arc<dyn Clock>) -> Result<Arc<AlertDispatcher>> {
    let registry = Arc::new(SqliteRegistry::open_audited(&s.store, clock, None)?);
    let mut d = AlertDispatcher::new(Arc::new(SqliteAlertStore::open(&s.store)?))
        .registry(registry.clone())
        .sink(Arc::new(LogSink));
    if let Some(audit) = registry.audit_log() {
        d = d.audit(audit);
    }
    if !s.controller.webhooks.is_empty() {
        let secret = std::env::var(WEBHOOK_SECRET_ENV).unwrap_or_default();
        if secret.is_empty() {
            return Err(Error::invalid(
                "--webhook",
                format!(
                    "webhook deliveries are signed: set the environment variable \
                     {WEBHOOK_SECRET_ENV} to the secret shared with the receiver"
                ),
            ));
        }
        let ca = match &s.webhook_ca {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                Error::invalid(
                    "--webhook-ca",
                    format!("{} could not be read: {e}", path.display()),
                )
            })?),
            None => None,
        };
        for url in &s.controller.webhooks {
            let mut sink = WebhookSink::new(url.clone(), secret.clone())?;
            if let Some(pem) = &ca {
                sink = sink.with_root_certificates(pem)?;
            }
            d = d.sink(Arc::new(sink));
        }
    }
    if let Some(owner) = &s.controller.owner {
        d = d.default_owner(owner.clone());
        let name = &s.lifecycle.model_name;
        if registry.list_models().await?.iter().any(|m| m == name)
            && registry.get_owner(name).await?.as_deref() != Some(owner.as_str())
        {
            registry
                .set_owner(
                    name,
                    Some(owner),
                    Change::new(s.lifecycle.actor.clone(), "mlcycle run --owner"),
                )
                .await?;
        }
    }
    Ok(Arc::new(d))
}

/// The environment variable holding the webhook signing secret.
const WEBHOOK_SECRET_ENV: &str = "MLCYCLE_WEBHOOK_SECRET";

/// Run `mlcycle run` until SIGINT or SIGTERM.
pub async fn run(args: RunArgs) -> Result<()> {
    // Installed before anything runs: a signal during the first step is held, not fatal.
    let shutdown = crate::signals::Shutdown::install();
    let s = args.settings()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if s.training_data.is_some() && s.dataset.is_some() {
        return Err(Error::invalid(
            "--dataset",
            "give --training-data DIR or --dataset NAME, not both",
        ));
    }
    let feed = |target: String| -> Result<Option<Arc<dyn DatasetFeed>>> {
        Ok(match (&s.training_data, &s.dataset) {
            (Some(dir), _) => Some(Arc::new(DirectoryDataSource::new(dir, target))),
            (None, Some(name)) => {
                let catalog = Arc::new(DatasetCatalog::open(&s.store)?);
                Some(Arc::new(CatalogSource::new(catalog, name.clone(), target)))
            }
            (None, None) => None,
        })
    };
    let source = match &s.target {
        Some(t) => feed(t.clone())?,
        None => None, // resolved below, once the store is open
    };
    let gate: Arc<dyn ApprovalGate> = s.controller.approval.gate();
    let alerts = alert_dispatcher(&s, clock.clone()).await?;
    let wire = |b: LifecycleBuilder, src: Option<Arc<dyn DatasetFeed>>| {
        let b = b.approval(gate.clone()).alerts(alerts.clone());
        match src {
            Some(src) => b.data_source(src as Arc<dyn TrainingDataSource>),
            None => b,
        }
    };
    let mut stack = Stack::open_with(&s.store, clock.clone(), s.lifecycle.clone(), |b| {
        wire(b, source.clone())
    })?;
    let mut source = source;
    if source.is_none() && (s.training_data.is_some() || s.dataset.is_some()) {
        let Some(target) = target_of(&stack, None).await? else {
            return Err(Error::invalid(
                if s.dataset.is_some() {
                    "--dataset"
                } else {
                    "--training-data"
                },
                "nothing is served yet to take the target column from: pass --target NAME",
            ));
        };
        let src = feed(target)?;
        drop(stack);
        stack = Stack::open_with(&s.store, clock.clone(), s.lifecycle.clone(), |b| {
            wire(b, src.clone())
        })?;
        source = src;
    }
    let mut cfg = s.controller.clone();
    if let Some(h) = &s.holdout {
        cfg.holdout = Some(read_holdout(&stack, h, s.target.as_deref()).await?);
    }
    let collector = stack.collector.clone();
    let lifecycle = Arc::new(stack.lifecycle);
    let mut controller = Controller::new(lifecycle, clock, cfg)?.with_store(&s.store)?;
    if let Some(src) = source {
        controller = controller.with_feed(src);
    }
    eprintln!(
        "mlcycle run: model `{}@{}` on {}, windows every {} covering {}, approval {:?}; \
         stop with Ctrl-C or SIGTERM",
        s.lifecycle.model_name,
        s.lifecycle.serving_alias,
        s.store.display(),
        format_duration(s.controller.every),
        format_duration(s.controller.window),
        s.controller.approval
    );
    if let Some(c) = &s.lifecycle.canary {
        eprintln!(
            "mlcycle run: new versions go first to {}@{} with {} % of the traffic for {}s \
             (a server following the model routes it there), then are promoted or rolled back",
            s.lifecycle.model_name,
            c.alias,
            c.share * 100.0,
            c.duration_secs
        );
    }
    let format = s.format;
    let mut failed = None;
    controller
        .run(
            async move {
                shutdown.wait().await;
            },
            |r| match line(format, r) {
                Ok(l) => println!("{l}"),
                Err(e) => failed = Some(e),
            },
        )
        .await?;
    collector.flush().await?;
    eprintln!("mlcycle run: stopped");
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> RunArgs {
        RunArgs {
            model: Some("m".into()),
            store: Some("s".into()),
            ..RunArgs::default()
        }
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(
            &p,
            "model = \"from-file\"\nevery = \"10m\"\nwindow = \"1h\"\nalias = \"live\"\n\
             approval = \"manual\"\nwebhook = [\"https://a.example/hook\"]\nformat = \"json\"\n\
             webhook_ca = \"ca.pem\"\n",
        )
        .unwrap();
        let s = RunArgs {
            config: Some(p.clone()),
            model: None,
            every: Some("5m".into()),
            ..args()
        }
        .settings()
        .unwrap();
        assert_eq!(s.lifecycle.model_name, "from-file");
        assert_eq!(s.lifecycle.serving_alias, "live");
        assert_eq!(s.controller.every, chrono::Duration::minutes(5));
        assert_eq!(s.controller.window, chrono::Duration::hours(1));
        assert_eq!(s.controller.approval, ApprovalPolicy::Manual);
        assert_eq!(s.controller.webhooks, vec!["https://a.example/hook"]);
        assert_eq!(s.webhook_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(s.format, Format::Json);
        let s = RunArgs {
            config: Some(p),
            model: Some("flag".into()),
            approval: Some("auto".into()),
            format: Some(Format::Text),
            ..args()
        }
        .settings()
        .unwrap();
        assert_eq!(s.lifecycle.model_name, "flag");
        assert_eq!(s.controller.approval, ApprovalPolicy::Auto);
        assert_eq!(s.format, Format::Text);
    }

    #[test]
    fn health_and_canary_settings_reach_the_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(&p, "min_requests = 100\nprobe = true\n").unwrap();
        let s = RunArgs {
            config: Some(p),
            max_p99_ms: Some(250.0),
            max_error_rate: Some(0.05),
            canary: Some(0.2),
            canary_for: Some("30m".into()),
            ..args()
        }
        .settings()
        .unwrap();
        let h = &s.lifecycle.health;
        assert_eq!(
            (h.min_requests, h.max_p99_latency_ms, h.probe),
            (Some(100), Some(250.0), true)
        );
        assert_eq!(s.lifecycle.max_error_rate, Some(0.05));
        assert_eq!(s.lifecycle.monitor.season_length_hours, None);
        let c = s.lifecycle.canary.unwrap();
        assert_eq!((c.share, c.duration_secs), (0.2, 1800));
        let e = RunArgs {
            max_error_rate: Some(2.0),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--max-error-rate"), "{e}");
    }

    #[test]
    fn a_season_reaches_the_monitor_in_whole_hours() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(&p, "season = \"7d\"\n").unwrap();
        let s = RunArgs {
            config: Some(p.clone()),
            ..args()
        }
        .settings()
        .unwrap();
        assert_eq!(s.lifecycle.monitor.season_length_hours, Some(168));
        let s = RunArgs {
            config: Some(p),
            season: Some("24h".into()),
            ..args()
        }
        .settings()
        .unwrap();
        assert_eq!(s.lifecycle.monitor.season_length_hours, Some(24));
        for bad in ["90m", "30m", "soon"] {
            let e = RunArgs {
                season: Some(bad.into()),
                ..args()
            }
            .settings()
            .unwrap_err()
            .to_string();
            assert!(e.contains("--season"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(&p, "modle = \"typo\"\n").unwrap();
        let e = RunArgs {
            config: Some(p),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("modle"), "{e}");
        let e = RunArgs {
            every: Some("1h".into()),
            window: Some("10m".into()),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("shorter"), "{e}");
        let e = RunArgs {
            canary: Some(0.1),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--canary-for"), "{e}");
        let e = RunArgs {
            canary: Some(1.5),
            canary_for: Some("1h".into()),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("(0, 1)"), "{e}");
        let e = RunArgs {
            approval: Some("sometimes".into()),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("auto, manual, rules"), "{e}");
        let e = RunArgs {
            every: Some("1y".into()),
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--every"), "{e}");
        let e = RunArgs {
            webhook: vec!["ftp://x".into()],
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("ftp://x"), "{e}");
        let e = RunArgs {
            model: None,
            ..args()
        }
        .settings()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--model"), "{e}");
    }
}
