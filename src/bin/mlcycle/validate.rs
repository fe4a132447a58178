//! `mlcycle validate`: compare a candidate version with a champion on a labelled holdout file,
//! and record the outcome in the store's audit trail (`validation.completed`).

use clap::{Args, ValueEnum};
use mlcycle::audit::event::{ValidationCompleted, ValidationVerdict};
use mlcycle::audit::{AuditEntry, AuditEvent, AuditLog, SqliteAuditLog};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::data::{Schema, TargetKind, UnknownLevel, read_csv_with_schema};
use mlcycle::registry::{RegistryExt, SqliteRegistry};
use mlcycle::report::{ModelScores, ValidationReportMeta, validation_html};
use mlcycle::validate::{
    ChampionChallenger, ChampionChallengerConfig, FairnessConfig, SignificanceConfig, Validator,
};
use mlcycle::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Words, one line per check.
    Text,
    /// The full report as JSON.
    Json,
    /// One self-contained HTML page: checks, metrics, confusion matrices, ROC,
    /// precision–recall and calibration curves, fairness, serving cost.
    Html,
}

/// Arguments of `mlcycle validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Store directory.
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// The candidate: NAME/VERSION, NAME@ALIAS or models:/NAME@ALIAS.
    #[arg(long)]
    candidate: String,
    /// The champion to beat (same forms); without it only the thresholds apply.
    #[arg(long)]
    champion: Option<String>,
    /// Labelled holdout CSV with the candidate's feature columns and target.
    #[arg(long)]
    data: PathBuf,
    /// A sensitive feature column: report per-group metrics and fairness differences.
    #[arg(long)]
    sensitive: Option<String>,
    /// With --sensitive: block when the demographic parity difference exceeds this.
    #[arg(long)]
    max_demographic_parity_difference: Option<f64>,
    /// With --sensitive: block when the disparate-impact ratio is below this (e.g. 0.8).
    #[arg(long)]
    min_disparate_impact_ratio: Option<f64>,
    /// Require the improvement to be statistically significant at this level (McNemar's test
    /// and a paired bootstrap interval), e.g. 0.05.
    #[arg(long)]
    significance: Option<f64>,
    /// Validator settings as a JSON file (a ChampionChallengerConfig; the flags above
    /// override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Score unknown categories of the holdout as missing values instead of refusing the
    /// file (as `mlcycle serve` and `mlcycle score` do with the same flag).
    #[arg(long)]
    unknown_as_missing: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Run `mlcycle validate`; returns whether the candidate should be promoted.
///
/// The report is appended to the store's audit log as a `validation.completed` record
/// (subject: the holdout's dataset id; payload: `model_name`, `candidate`, `champion`,
/// `champion_model`, `decision`, `report`, `holdout`) before it is printed, whatever the
/// decision.
pub async fn run(args: ValidateArgs) -> Result<bool> {
    if !SqliteRegistry::is_store(&args.store) {
        return Err(Error::not_found(
            "store",
            args.store.display(),
            "pass --store DIR (or set MLCYCLE_HOME) to a directory written by mlcycle",
        ));
    }
    let mut cfg: ChampionChallengerConfig = match &args.config {
        Some(p) => serde_json::from_slice(&std::fs::read(p).map_err(|e| Error::io(p, e))?)
            .map_err(|e| Error::invalid("--config", format!("not a validator config: {e}")))?,
        None => ChampionChallengerConfig::default(),
    };
    if let Some(col) = &args.sensitive {
        let f = cfg.fairness.get_or_insert_with(FairnessConfig::default);
        f.sensitive = col.clone();
        if args.max_demographic_parity_difference.is_some() {
            f.max_demographic_parity_difference = args.max_demographic_parity_difference;
        }
        if args.min_disparate_impact_ratio.is_some() {
            f.min_disparate_impact_ratio = args.min_disparate_impact_ratio;
        }
    } else if args.max_demographic_parity_difference.is_some()
        || args.min_disparate_impact_ratio.is_some()
    {
        return Err(Error::invalid(
            "fairness limits",
            "need --sensitive COL to say which groups to compare",
        ));
    }
    if let Some(alpha) = args.significance {
        cfg.significance = Some(SignificanceConfig {
            alpha,
            ..cfg.significance.unwrap_or_default()
        });
    }
    let validator = ChampionChallenger::new(cfg)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = SqliteRegistry::open(&args.store, clock.clone())?;
    let (candidate_mv, candidate) = registry.load_model(&args.candidate).await?;
    let (champion_mv, champion) = match &args.champion {
        Some(r) => {
            let (mv, m) = registry.load_model(r).await?;
            (Some(mv), Some(m))
        }
        None => (None, None),
    };
    let sig = candidate.signature().clone();
    let schema = Schema {
        features: sig.inputs.features.clone(),
        target: Some(sig.target.clone()),
    };
    let unknown = if args.unknown_as_missing {
        UnknownLevel::AsMissing
    } else {
        UnknownLevel::Error
    };
    let holdout = read_csv_with_schema(&args.data, &schema, None, unknown)?;
    let scores = match args.format {
        Format::Html => {
            let name = |mv: &mlcycle::registry::ModelVersion, role: &str| {
                format!("{}/{} ({role})", mv.name, mv.version)
            };
            let cand = ModelScores::predict(
                name(&candidate_mv, "candidate"),
                candidate.as_ref(),
                &holdout,
            )?;
            let champ = match (&champion_mv, &champion) {
                (Some(mv), Some(m)) => Some(ModelScores::predict(
                    name(mv, "champion"),
                    m.as_ref(),
                    &holdout,
                )?),
                _ => None,
            };
            Some((cand, champ))
        }
        _ => None,
    };
    let report = validator
        .validate(candidate, champion.clone(), &holdout)
        .await?;
    let audit = SqliteAuditLog::open(&args.store, clock)?;
    audit
        .append(AuditEntry::from_event(
            std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "cli".into()),
            vec![holdout.id().to_string()],
            &AuditEvent::ValidationCompleted(ValidationCompleted {
                model_name: candidate_mv.name.clone(),
                candidate: Some(candidate_mv.version),
                champion: champion_mv.as_ref().map(|c| c.version),
                champion_model: champion_mv.as_ref().map(|c| c.name.clone()),
                decision: ValidationVerdict::of(report.promote),
                report: serde_json::to_value(&report)?,
                holdout: Some(args.data.display().to_string()),
                version: None,
                trigger: None,
            }),
            format!("validate-{}", uuid::Uuid::new_v4()),
        ))
        .await?;
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        Format::Text => report.to_text(),
        Format::Html => {
            let (cand, champ) = scores.ok_or_else(|| {
                Error::invalid("--format html", "the holdout was not scored for the page")
            })?;
            let meta = ValidationReportMeta {
                title: format!(
                    "Validation of {}/{}",
                    candidate_mv.name, candidate_mv.version
                ),
                candidate: format!("{}/{}", candidate_mv.name, candidate_mv.version),
                champion: champion_mv
                    .as_ref()
                    .map(|c| format!("{}/{}", c.name, c.version)),
                holdout: args.data.display().to_string(),
                classes: match &sig.target.kind {
                    TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => {
                        classes.clone()
                    }
                    _ => Vec::new(),
                },
            };
            let y: Vec<f64> = holdout
                .target()
                .map(|t| t.to_vec())
                .ok_or_else(|| Error::invalid("--data", "the holdout has no target column"))?;
            validation_html(&report, &meta, &y, &cand, champ.as_ref())?
        }
    };
    match &args.output {
        Some(p) => std::fs::write(p, text).map_err(|e| Error::io(p, e))?,
        None => print!("{text}"),
    }
    Ok(report.promote)
}
