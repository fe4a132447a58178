//! `mlcycle import lightgbm|xgboost`: register a model trained by LightGBM or XGBoost, read
//! from the file its library writes, as a new version of the native GBDT flavor.

use clap::{Args, Subcommand};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::data::{CsvOptions, read_csv};
use mlcycle::drift::DatasetProfile;
use mlcycle::model::native::{NativeModel, read_lightgbm, read_xgboost};
use mlcycle::model::{ModelArtifact, Signature};
use mlcycle::registry::artifacts::sha256_hex;
use mlcycle::registry::{Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::{Error, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `mlcycle import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    format: ImportFormat,
}

/// The model file's format.
#[derive(Subcommand, Debug)]
enum ImportFormat {
    /// A LightGBM text model (`Booster.save_model("model.txt")`).
    Lightgbm(ImportFileArgs),
    /// An XGBoost JSON model (`Booster.save_model("model.json")`).
    Xgboost(ImportFileArgs),
}

/// Arguments shared by every format.
#[derive(Args, Debug)]
struct ImportFileArgs {
    /// Store directory (created if missing).
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// The model file.
    #[arg(long)]
    file: PathBuf,
    /// The registered model's name.
    #[arg(long)]
    name: String,
    /// A CSV file with the model's input columns (e.g. its training data): the signature's
    /// feature names come from its header, in order, and its rows become the version's drift
    /// baseline. Without it, the feature names stored in the model file are used.
    #[arg(long)]
    signature_from: Option<PathBuf>,
    /// The target column: in --signature-from, its values give the class labels (class i of
    /// the model is the i-th label); without a CSV, only its name (default `target`).
    #[arg(long)]
    target: Option<String>,
    /// Who registers the version (default: $USER).
    #[arg(long)]
    actor: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Run `mlcycle import`.
pub async fn run(args: ImportArgs) -> Result<()> {
    let (format, a) = match args.format {
        ImportFormat::Lightgbm(a) => ("lightgbm", a),
        ImportFormat::Xgboost(a) => ("xgboost", a),
    };
    let bytes = std::fs::read(&a.file).map_err(|e| Error::io(&a.file, e))?;
    let file_sha256 = sha256_hex(&bytes);
    let native: NativeModel = match format {
        "lightgbm" => read_lightgbm(std::str::from_utf8(&bytes).map_err(|_| {
            Error::invalid(
                "LightGBM model file",
                "it is not UTF-8 text; give the text model `Booster.save_model` writes",
            )
        })?)?,
        _ => read_xgboost(&bytes)?,
    };
    let (signature, profile, signature_source) = match &a.signature_from {
        Some(csv) => {
            let data = read_csv(
                csv,
                &CsvOptions {
                    target: a.target.clone(),
                    ..CsvOptions::default()
                },
            )?;
            let signature = match a.target {
                Some(_) => Signature::from_training_schema(data.schema())?,
                None => {
                    // The CSV holds inputs only: the target comes from the model file.
                    let mut s = native.signature_from_file("target")?;
                    s.inputs = data.schema().clone();
                    s
                }
            };
            let profile = DatasetProfile::reference(&data.without_target())?;
            (signature, Some(profile), csv.display().to_string())
        }
        None => (
            native.signature_from_file(a.target.as_deref().unwrap_or("target"))?,
            None,
            if native.feature_names().is_some() {
                "the model file's feature names".to_string()
            } else {
                "the model file (no feature names stored: f0, f1, ...)".to_string()
            },
        ),
    };
    let objective = native.objective().to_string();
    let n_trees = native.n_trees();
    let pipeline = native.into_pipeline(signature)?;
    let mut artifact = ModelArtifact::Gbdt(pipeline);
    if let Some(p) = profile {
        artifact = artifact.with_reference_profile(p);
    }
    let actor = a
        .actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "cli".into());
    let source = a.file.display().to_string();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = SqliteRegistry::open_audited(&a.store, clock, None)?;
    let mut tags = BTreeMap::new();
    tags.insert("origin".to_string(), format.to_string());
    tags.insert("source".to_string(), source.clone());
    tags.insert("file_sha256".to_string(), file_sha256.clone());
    let mv = registry
        .register(
            &a.name,
            NewVersion {
                artifact,
                lineage: Lineage {
                    trainer: format!("{format}_import"),
                    params: json!({
                        "origin": format,
                        "file": source,
                        "file_sha256": file_sha256,
                        "objective": objective,
                        "n_trees": n_trees,
                        "signature_from": signature_source,
                    }),
                    created_by: actor,
                    ..Lineage::default()
                },
                metrics: BTreeMap::new(),
                tags,
                description: format!("imported from the {format} model file {source}"),
            },
        )
        .await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": mv.name, "version": mv.version, "flavor": mv.flavor,
                "origin": format, "file_sha256": file_sha256, "objective": objective,
                "n_trees": n_trees, "features": mv.signature.inputs.feature_names(),
                "signature_from": signature_source,
            }))?
        );
    } else {
        println!(
            "registered {}/{} (flavor {}) from the {format} model {} (sha256 {}, objective {objective}, {n_trees} trees); signature from {signature_source}",
            mv.name,
            mv.version,
            mv.flavor,
            source,
            &file_sha256[..12.min(file_sha256.len())]
        );
    }
    Ok(())
}
