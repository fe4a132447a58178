//! `mlcycle explain`: per-row feature contributions of a registered model on a CSV file.

use clap::{Args, ValueEnum};
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::data::{Schema, UnknownLevel, read_csv_with_schema};
use mlcycle::explain::{
    GainImpurity, explain_rows, gain_importance, mean_abs_contributions, split_importance,
};
use mlcycle::model::ModelArtifact;
use mlcycle::registry::{Registry, RegistryExt, SqliteRegistry};
use mlcycle::{Error, Result};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A readable table: the largest contributions of each row.
    Text,
    /// `{"model", "version", "output", "base_value", "rows", "importance"}`, plus for tree
    /// models `importance_split` (split counts per input column) and, for a decision tree or
    /// random forest when the file has the target column, `importance_gain` (mean decrease
    /// in impurity — the training criterion, Gini or entropy, or squared error — on the
    /// file's rows, normalised to sum 1).
    Json,
    /// One line per input row: row, value, base_value, then one column per feature.
    Csv,
}

/// The most rows used as the background sample of tree explanations.
const BACKGROUND_ROWS: usize = 500;

/// Arguments of `mlcycle explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Store directory.
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// The model: NAME@ALIAS, NAME/VERSION or models:/NAME@ALIAS.
    #[arg(long)]
    model: String,
    /// CSV file with a header row holding the model's input columns (others are ignored).
    #[arg(long)]
    data: PathBuf,
    /// Explain the first N rows (default 20).
    #[arg(long, default_value_t = 20)]
    rows: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Class to explain for classifiers (a label; default: the second class, the positive
    /// class of a binary classifier).
    #[arg(long)]
    class: Option<String>,
}

/// Run `mlcycle explain`.
pub async fn run(args: ExplainArgs) -> Result<()> {
    if !args.store.join(mlcycle::registry::DB_FILE).exists() {
        return Err(Error::not_found(
            "store",
            args.store.display(),
            "pass --store DIR (or set MLCYCLE_HOME) to a directory written by mlcycle",
        ));
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = SqliteRegistry::open(&args.store, clock)?;
    let mv = registry.resolve(&args.model).await?;
    let artifact = registry.load_artifact(&mv.name, mv.version).await?;
    let sig = artifact.signature().clone();
    let schema = Schema {
        features: sig.inputs.features.clone(),
        target: None,
    };
    let data = read_csv_with_schema(&args.data, &schema, None, UnknownLevel::AsMissing)?;
    if data.n_rows() == 0 {
        return Err(Error::invalid("--data", "the file has no data rows"));
    }
    let class = match (&args.class, sig.target.kind.classes()) {
        (None, _) => None,
        (Some(c), Some(classes)) => Some(classes.iter().position(|l| l == c).ok_or_else(|| {
            Error::invalid(
                "--class",
                format!(
                    "`{c}` is not a class of the model (classes: {})",
                    classes.join(", ")
                ),
            )
        })?),
        (Some(_), None) => {
            return Err(Error::invalid(
                "--class",
                "the model is a regressor; drop --class",
            ));
        }
    };
    let x = data.features();
    let n = args.rows.min(x.nrows());
    let step = x.nrows().div_ceil(BACKGROUND_ROWS).max(1);
    let background = x.select(
        ndarray::Axis(0),
        &(0..x.nrows()).step_by(step).collect::<Vec<_>>(),
    );
    let e = explain_rows(
        &artifact,
        x.slice(ndarray::s![..n, ..]),
        background.view(),
        class,
    )?;
    let importance = mean_abs_contributions(&e);
    match args.format {
        Format::Json => {
            let rows: Vec<Value> = e
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let c: Map<String, Value> = e
                        .features
                        .iter()
                        .zip(&r.contributions)
                        .map(|(f, v)| (f.clone(), json!(v)))
                        .collect();
                    json!({"row": i, "value": r.value, "contributions": c})
                })
                .collect();
            let imp: Map<String, Value> = e
                .features
                .iter()
                .zip(&importance)
                .map(|(f, v)| (f.clone(), json!(v)))
                .collect();
            let mut out = json!({
                "model": mv.name,
                "version": mv.version,
                "output": e.output.as_str(),
                "base_value": e.base_value,
                "rows": rows,
                "importance": imp,
            });
            let per_feature = |v: Vec<Value>| -> Value {
                Value::Object(e.features.iter().cloned().zip(v).collect())
            };
            if let Some(split) = tree_split_importance(&artifact)? {
                out["importance_split"] = per_feature(split.into_iter().map(Value::from).collect());
            }
            // The impurity the tree was grown with, from its training parameters.
            let impurity = match mv.lineage.params.get("criterion").and_then(Value::as_str) {
                Some(c) if c.eq_ignore_ascii_case("entropy") => GainImpurity::Entropy,
                _ => GainImpurity::Gini,
            };
            if let Some(gain) = tree_gain_importance(&artifact, &args.data, &sig, impurity)? {
                out["importance_gain"] = per_feature(gain.into_iter().map(Value::from).collect());
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&out)
                    .map_err(|e| Error::Data(format!("writing the output: {e}")))?
            );
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            let mut header = vec!["row".to_string(), "value".into(), "base_value".into()];
            header.extend(e.features.iter().cloned());
            w.write_record(&header)
                .map_err(|e| Error::Data(format!("writing the output: {e}")))?;
            for (i, r) in e.rows.iter().enumerate() {
                let mut rec = vec![i.to_string(), r.value.to_string(), e.base_value.to_string()];
                rec.extend(r.contributions.iter().map(f64::to_string));
                w.write_record(&rec)
                    .map_err(|e| Error::Data(format!("writing the output: {e}")))?;
            }
            w.flush().map_err(|e| Error::io("stdout", e))?;
        }
        Format::Text => {
            println!(
                "{}/{}: {} ({}{}), base value {:.4}",
                mv.name,
                mv.version,
                e.output.as_str(),
                e.method,
                e.class
                    .as_ref()
                    .map(|c| format!(", class {c}"))
                    .unwrap_or_default(),
                e.base_value
            );
            for (i, r) in e.rows.iter().enumerate() {
                let mut order: Vec<usize> = (0..r.contributions.len()).collect();
                order.sort_by(|&a, &b| {
                    r.contributions[b]
                        .abs()
                        .total_cmp(&r.contributions[a].abs())
                });
                println!("row {i}: value {:.4}", r.value);
                for &j in order.iter().take(5) {
                    println!("  {:<24} {:+.4}", e.features[j], r.contributions[j]);
                }
            }
            println!("importance (mean |contribution| over the rows):");
            let mut order: Vec<usize> = (0..importance.len()).collect();
            order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]));
            for j in order {
                println!("  {:<24} {:.4}", e.features[j], importance[j]);
            }
        }
    }
    Ok(())
}

fn is_tree(artifact: &ModelArtifact) -> (bool, bool) {
    let model = match artifact {
        ModelArtifact::Bundle(b) => b.model(),
        other => other,
    };
    match model {
        ModelArtifact::DecisionTree(_) | ModelArtifact::RandomForest(_) => (true, true),
        ModelArtifact::Gbdt(_) => (true, false),
        _ => (false, false),
    }
}

/// Split counts for tree models, `None` for the others.
fn tree_split_importance(artifact: &ModelArtifact) -> Result<Option<Vec<u64>>> {
    if !is_tree(artifact).0 {
        return Ok(None);
    }
    split_importance(artifact).map(Some)
}

/// Gain importance (`impurity` for classifiers) of a decision tree or random forest on the
/// file's rows when the file has the target column; `None` otherwise.
fn tree_gain_importance(
    artifact: &ModelArtifact,
    path: &std::path::Path,
    sig: &mlcycle::model::Signature,
    impurity: GainImpurity,
) -> Result<Option<Vec<f64>>> {
    if !is_tree(artifact).1 {
        return Ok(None);
    }
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::Data(format!("reading {}: {e}", path.display())))?;
    let has_target = reader
        .headers()
        .map_err(|e| Error::Data(format!("reading the header of {}: {e}", path.display())))?
        .iter()
        .any(|h| h.trim() == sig.target.name);
    if !has_target {
        return Ok(None);
    }
    let schema = Schema {
        features: sig.inputs.features.clone(),
        target: Some(sig.target.clone()),
    };
    let data = read_csv_with_schema(path, &schema, None, UnknownLevel::AsMissing)?;
    gain_importance(artifact, &data, impurity).map(Some)
}
