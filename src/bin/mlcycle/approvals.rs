//! `mlcycle pending`, `mlcycle approve`, `mlcycle reject`: the approval requests of a store
//! and people's decisions on them. A decision is recorded (and audited) in the store; the
//! process running the lifecycle releases it (`Lifecycle::apply_decisions`), or `--release`
//! releases it from here.

use clap::{Args, ValueEnum};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{
    ApprovalRecord, ApprovalStatus, Decision, LifecycleConfig, LifecycleStateStore,
    SqliteLifecycleState, record_decision,
};
use mlcycle::registry::{Registry, RegistryExt, SqliteRegistry};
use mlcycle::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Arguments of `mlcycle pending`.
#[derive(Args)]
pub struct PendingArgs {
    /// Store directory [default: $MLCYCLE_HOME, else ./mlcycle-store].
    #[arg(long)]
    store: Option<PathBuf>,
    /// Only this model's requests.
    #[arg(long)]
    model: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also list decided requests (with who decided, when and why).
    #[arg(long)]
    all: bool,
}

/// Arguments of `mlcycle approve`.
#[derive(Args)]
pub struct ApproveArgs {
    /// The version: NAME@VERSION, NAME/VERSION or models:/NAME/VERSION.
    reference: String,
    /// Who approves (recorded and audited).
    #[arg(long)]
    by: String,
    /// Why.
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    common: DecideCommon,
}

/// Arguments of `mlcycle reject`.
#[derive(Args)]
pub struct RejectArgs {
    /// The version: NAME@VERSION, NAME/VERSION or models:/NAME/VERSION.
    reference: String,
    /// Who rejects (recorded and audited).
    #[arg(long)]
    by: String,
    /// Why (required).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    common: DecideCommon,
}

#[derive(Args)]
struct DecideCommon {
    /// Store directory [default: $MLCYCLE_HOME, else ./mlcycle-store].
    #[arg(long)]
    store: Option<PathBuf>,
    /// Release the decision from this process now (deploy the approved version by moving
    /// the serving alias, which `mlcycle serve` follows; or mark it rejected) instead of
    /// leaving it to the running controller. Use only when no controller runs.
    #[arg(long)]
    release: bool,
    /// The serving alias `--release` moves.
    #[arg(long, default_value = "production")]
    alias: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn store_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    let dir = arg
        .or_else(|| std::env::var_os("MLCYCLE_HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("mlcycle-store"));
    if !SqliteRegistry::is_store(&dir) {
        return Err(Error::not_found(
            "store",
            dir.display(),
            "pass --store DIR or set MLCYCLE_HOME",
        ));
    }
    Ok(dir)
}

fn line(r: &ApprovalRecord) -> String {
    let s = &r.summary;
    let metric = s["primary_metric"].as_str().unwrap_or("?");
    let num = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.4}"));
    let failed: Vec<&str> = s["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["passed"] == false)
                .filter_map(|c| c["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let checks = s["checks"].as_array().map_or(0, |a| a.len());
    let mut out = format!(
        "{}/{}  {:<8}  requested {}  trigger {}  {metric} {} vs champion {}  checks {}/{} passed",
        r.model,
        r.version,
        r.status.as_str(),
        r.requested_at.format("%Y-%m-%d %H:%M:%SZ"),
        r.trigger,
        num(&s["candidate"]),
        num(&s["champion"]),
        checks - failed.len(),
        checks
    );
    if !failed.is_empty() {
        out += &format!(" (failed: {})", failed.join(", "));
    }
    if let (Some(by), Some(at)) = (&r.decided_by, &r.decided_at) {
        out += &format!(
            "  decided by {by} at {}: {}",
            at.format("%Y-%m-%d %H:%M:%SZ"),
            r.reason.as_deref().unwrap_or("")
        );
        out += if r.applied_at.is_some() {
            "  (released)"
        } else {
            "  (not yet released)"
        };
    }
    out
}

/// Run `mlcycle pending`.
pub async fn pending(args: PendingArgs) -> Result<()> {
    let dir = store_dir(args.store)?;
    let state = SqliteLifecycleState::open(&dir)?;
    let rows: Vec<ApprovalRecord> = state
        .approvals(args.model.as_deref())?
        .into_iter()
        .filter(|r| args.all || r.status == ApprovalStatus::Pending)
        .collect();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Text if rows.is_empty() => println!("no versions wait for approval"),
        Format::Text => {
            for r in &rows {
                println!("{}", line(r));
            }
        }
    }
    Ok(())
}

/// The model and version a reference names: `NAME@VERSION` (digits), or any reference the
/// registry resolves (`NAME/VERSION`, `models:/NAME/VERSION`, `NAME@ALIAS`).
async fn version_of(registry: &SqliteRegistry, reference: &str) -> Result<(String, u32)> {
    let body = reference.strip_prefix("models:/").unwrap_or(reference);
    if let Some((name, v)) = body.rsplit_once('@')
        && let Ok(version) = v.parse::<u32>()
    {
        return Ok((name.to_string(), version));
    }
    let mv = registry.resolve(reference).await?;
    Ok((mv.name, mv.version))
}

async fn decide(
    reference: String,
    approved: bool,
    by: String,
    reason: String,
    common: DecideCommon,
) -> Result<()> {
    let dir = store_dir(common.store)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (model, version) = {
        let registry = SqliteRegistry::open_audited(&dir, clock.clone(), None)?;
        let (model, version) = version_of(&registry, &reference).await?;
        let audit = registry.audit_log().ok_or_else(|| {
            Error::invalid(
                "store",
                "the registry keeps no audit log; cannot audit the decision",
            )
        })?;
        let state = SqliteLifecycleState::open(&dir)?;
        let decision = Decision {
            model: model.clone(),
            version,
            approved,
            by: by.clone(),
            reason: reason.clone(),
        };
        let rec = record_decision(&state, audit.as_ref(), &decision, clock.now()).await?;
        if common.format == Format::Json && !common.release {
            println!("{}", serde_json::to_string_pretty(&rec)?);
        }
        (model, version)
    };
    let verb = if approved { "approved" } else { "rejected" };
    if !common.release {
        if common.format == Format::Text {
            println!(
                "{model}/{version} {verb} by {by}; recorded in the store and the audit trail."
            );
            println!(
                "The running controller (`mlcycle run`) releases it within one poll. If no \
                 controller runs, release it now with `mlcycle {} {model}@{version} ... \
                 --release` on a new decision, or from a program with \
                 `Lifecycle::apply_decisions()`.",
                if approved { "approve" } else { "reject" }
            );
        }
        return Ok(());
    }
    let mut config = LifecycleConfig::new(model.clone());
    config.serving_alias = common.alias.clone();
    let stack = Stack::open(&dir, clock, config)?;
    let applied = stack.lifecycle.apply_decisions().await?;
    let done = applied.iter().find(|a| a.record.version == version);
    match common.format {
        Format::Json => {
            let rec = stack.lifecycle.state_store().approval(&model, version)?;
            println!("{}", serde_json::to_string_pretty(&rec)?);
        }
        Format::Text => match done {
            Some(_) if approved => println!(
                "{model}/{version} approved by {by} and released: {model}@{} → version {version}",
                common.alias
            ),
            Some(_) => println!("{model}/{version} rejected by {by}; marked rejected"),
            None => println!(
                "{model}/{version} {verb} by {by}; it was released by another process already"
            ),
        },
    }
    Ok(())
}

/// Run `mlcycle approve`.
pub async fn approve(args: ApproveArgs) -> Result<()> {
    decide(args.reference, true, args.by, args.reason, args.common).await
}

/// Run `mlcycle reject`.
pub async fn reject(args: RejectArgs) -> Result<()> {
    if args.reason.trim().is_empty() {
        return Err(Error::invalid(
            "--reason",
            "is empty; say why the version is rejected",
        ));
    }
    decide(args.reference, false, args.by, args.reason, args.common).await
}
