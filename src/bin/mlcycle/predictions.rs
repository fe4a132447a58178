//! `mlcycle predictions`: the prediction log of a store, readable: JSON lines or CSV, with
//! column names, decoded categories and class labels, in time order.

use crate::audit::StoreArg;
use chrono::{DateTime, TimeDelta, Utc};
use clap::ValueEnum;
use mlcycle::clock::SystemClock;
use mlcycle::collect::{FilePredictionLog, PredictionRecord};
use mlcycle::data::FeatureKind;
use mlcycle::model::Signature;
use mlcycle::registry::{Registry, RegistryExt, SqliteRegistry};
use mlcycle::{Error, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Output format of `mlcycle predictions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per request.
    Json,
    /// One CSV row per scored row: `request_id,at,model_name,model_version`, the feature
    /// columns (categories by name) and `prediction` (the class label or value) — a file
    /// `mlcycle drift --current` reads as it is.
    Csv,
}

/// Arguments of `mlcycle predictions`.
#[derive(clap::Args, Debug)]
pub struct PredictionsArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Start of the window (RFC 3339, e.g. 2026-03-01T12:00:00Z; inclusive). Default: the
    /// first record.
    #[arg(long)]
    from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339; exclusive). Default: after the last record.
    #[arg(long)]
    to: Option<DateTime<Utc>>,
    /// Only the record of this request id (the latest, should an id have been reused).
    #[arg(long)]
    request_id: Option<String>,
    /// Only the records of this model (NAME), or of the version an alias points to now
    /// (NAME@ALIAS), or of one version (NAME/VERSION).
    #[arg(long, value_name = "NAME[@ALIAS]")]
    model: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the number of records instead of the records.
    #[arg(long)]
    count: bool,
}

/// Which records `--model` keeps.
struct ModelFilter {
    name: String,
    version: Option<u32>,
}

impl ModelFilter {
    fn keeps(&self, r: &PredictionRecord) -> bool {
        r.model_name == self.name && self.version.is_none_or(|v| v == r.model_version)
    }
}

/// Signatures of the versions met, read from the registry once each.
struct Decoder {
    registry: Option<SqliteRegistry>,
    signatures: HashMap<(String, u32), Option<Arc<Signature>>>,
}

impl Decoder {
    async fn signature(&mut self, name: &str, version: u32) -> Option<Arc<Signature>> {
        let key = (name.to_string(), version);
        if let Some(s) = self.signatures.get(&key) {
            return s.clone();
        }
        let sig = match &self.registry {
            Some(reg) => reg
                .get_version(name, version)
                .await
                .ok()
                .map(|mv| Arc::new(mv.signature)),
            None => None,
        };
        self.signatures.insert(key, sig.clone());
        sig
    }
}

/// A cell as JSON: categories by name, numbers as numbers, missing as `null`.
fn cell_json(sig: &Signature, col: usize, v: f64) -> Value {
    if v.is_nan() {
        return Value::Null;
    }
    match sig.inputs.features.get(col).map(|f| &f.kind) {
        Some(FeatureKind::Categorical { levels }) => match levels.get(v as usize) {
            Some(l) => Value::from(l.as_str()),
            None => Value::from(v),
        },
        _ => Value::from(v),
    }
}

/// A prediction as JSON: the class label for classifiers, the value otherwise.
fn prediction_json(sig: &Signature, v: f64) -> Value {
    match sig.target.kind.classes() {
        Some(cs) if !v.is_nan() => cs
            .get(v as usize)
            .map_or(Value::from(v), |c| Value::from(c.as_str())),
        _ if v.is_nan() => Value::Null,
        _ => Value::from(v),
    }
}

/// The record as JSON, with `rows` (column name → value, categories by name) and
/// `predictions` (labels) beside the encoded `inputs` and `outputs`.
fn record_json(r: &PredictionRecord, sig: Option<&Signature>) -> Result<Value> {
    let mut v = serde_json::to_value(r)?;
    if let (Some(sig), Some(obj)) = (sig, v.as_object_mut()) {
        let names = &sig.inputs.features;
        let rows: Vec<Value> = r
            .inputs
            .iter()
            .map(|row| {
                let mut o = Map::new();
                for (j, &x) in row.iter().enumerate() {
                    let name = names
                        .get(j)
                        .map_or_else(|| format!("column_{j}"), |f| f.name.clone());
                    o.insert(name, cell_json(sig, j, x));
                }
                Value::Object(o)
            })
            .collect();
        let preds: Vec<Value> = r.outputs.iter().map(|&x| prediction_json(sig, x)).collect();
        obj.insert("rows".into(), Value::Array(rows));
        obj.insert("predictions".into(), Value::Array(preds));
    }
    Ok(v)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => other.to_string(),
    }
}

/// Writes records as CSV rows; the columns are those of the first record's model.
struct CsvWriter {
    columns: Option<Vec<String>>,
}

impl CsvWriter {
    fn write(
        &mut self,
        out: &mut dyn Write,
        r: &PredictionRecord,
        sig: Option<&Signature>,
    ) -> Result<()> {
        let io = |e| Error::io("the CSV output", e);
        let Some(sig) = sig else {
            return Err(Error::not_found(
                "model version",
                format!("{}/{}", r.model_name, r.model_version),
                "CSV output needs the version's signature from the store's registry (use --format json for the encoded records)",
            ));
        };
        if r.error.is_some() {
            return Ok(());
        }
        let names: Vec<String> = sig.inputs.features.iter().map(|f| f.name.clone()).collect();
        match &self.columns {
            None => {
                let mut header = vec![
                    "request_id".to_string(),
                    "at".into(),
                    "model_name".into(),
                    "model_version".into(),
                ];
                header.extend(names.iter().map(|n| csv_field(n)));
                header.push("prediction".into());
                writeln!(out, "{}", header.join(",")).map_err(io)?;
                self.columns = Some(names);
            }
            Some(c) if *c != names => {
                return Err(Error::SchemaMismatch(format!(
                    "{}/{} has other input columns than the records before it; choose one model with --model NAME@ALIAS or NAME/VERSION for CSV output",
                    r.model_name, r.model_version
                )));
            }
            Some(_) => {}
        }
        for (i, row) in r.inputs.iter().enumerate() {
            let mut fields = vec![
                csv_field(&r.request_id),
                r.at.to_rfc3339(),
                csv_field(&r.model_name),
                r.model_version.to_string(),
            ];
            fields.extend(
                row.iter()
                    .enumerate()
                    .map(|(j, &x)| value_text(&cell_json(sig, j, x))),
            );
            fields.push(
                r.outputs
                    .get(i)
                    .map_or(String::new(), |&y| value_text(&prediction_json(sig, y))),
            );
            writeln!(out, "{}", fields.join(",")).map_err(io)?;
        }
        Ok(())
    }
}

/// Print the records (JSON lines or CSV rows, in time order; NaN and infinities as
/// `null`/empty) or their number.
pub async fn run(args: PredictionsArgs) -> Result<()> {
    let (from, to) = (args.from, args.to);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(Error::invalid(
            "--from/--to",
            format!("the window {from} .. {to} is empty; --from must be before --to"),
        ));
    }
    let dir = args.store.existing()?;
    let log = FilePredictionLog::open(dir.join("predictions"))?;
    let registry = SqliteRegistry::open(&dir, Arc::new(SystemClock)).ok();
    let filter = match &args.model {
        None => None,
        Some(m) if !m.contains(['@', '/']) => Some(ModelFilter {
            name: m.trim_start_matches("models:").to_string(),
            version: None,
        }),
        Some(m) => {
            let reg = registry.as_ref().ok_or_else(|| {
                Error::invalid("--model", "the store's registry could not be opened")
            })?;
            let mv = reg.resolve(m).await?;
            Some(ModelFilter {
                name: mv.name,
                version: Some(mv.version),
            })
        }
    };
    let mut decoder = Decoder {
        registry,
        signatures: HashMap::new(),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| Error::io(p, e))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut records = Vec::new();
    if let Some(id) = &args.request_id {
        use mlcycle::collect::PredictionLog;
        let found = log.find_request(id).await;
        crate::audit::warn_skipped(&log);
        let found = found?.filter(|r| filter.as_ref().is_none_or(|f| f.keeps(r)));
        if args.count {
            println!("{}", usize::from(found.is_some()));
            return Ok(());
        }
        match found {
            Some(r) => records.push(r),
            None => {
                return Err(Error::not_found(
                    "prediction",
                    id,
                    "no record in the prediction log has this request id",
                ));
            }
        }
    } else {
        let hours = log.hours()?;
        if let (Some(first), Some(last)) = (hours.first(), hours.last()) {
            // Only the hours that hold records are read.
            let from = from.map_or(*first, |t| t.max(*first));
            let to = to.map_or(*last + TimeDelta::hours(1), |t| {
                t.min(*last + TimeDelta::hours(1))
            });
            let scanned = tokio::task::block_in_place(|| {
                log.scan_window(from, to, |r| {
                    if filter.as_ref().is_none_or(|f| f.keeps(&r)) {
                        records.push(r);
                    }
                    Ok(())
                })
            });
            crate::audit::warn_skipped(&log);
            scanned?;
        }
        if args.count {
            println!("{}", records.len());
            return Ok(());
        }
    }
    // Time order across hours and both file formats (stable: ties keep the written order).
    records.sort_by_key(|r| r.at);
    let mut csv = CsvWriter { columns: None };
    for r in &records {
        let sig = decoder.signature(&r.model_name, r.model_version).await;
        let written = match args.format {
            Format::Json => record_json(r, sig.as_deref()).and_then(|v| {
                let mut line = serde_json::to_vec(&v)?;
                line.push(b'\n');
                out.write_all(&line)
                    .map_err(|e| Error::io("standard output", e))
            }),
            Format::Csv => csv.write(out.as_mut(), r, sig.as_deref()),
        };
        match written {
            // A closed pipe (`| head`) ends the listing quietly.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
                return Ok(());
            }
            r => r?,
        }
    }
    finish(out)
}

fn finish(mut out: impl Write) -> Result<()> {
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("standard output", e))
        }
        _ => Ok(()),
    }
}
