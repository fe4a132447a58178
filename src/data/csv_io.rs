//! CSV in and out, with schema inference.

use super::dataset::Dataset;
use super::schema::{
    Feature, FeatureKind, Schema, Target, TargetKind, UnknownLevel, encode_feature_cell, is_missing,
};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use ndarray::{Array1, Array2};
use std::collections::BTreeSet;
use std::path::Path;

/// How the target column should be interpreted when inferring a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetHint {
    /// Non-numeric or two-valued integer columns are classification, others regression.
    #[default]
    Auto,
    /// Always classification (classes are the distinct values, sorted).
    Classification,
    /// Always regression.
    Regression,
}

/// Options for [`read_csv`].
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// The target column, if the file is labelled.
    pub target: Option<String>,
    /// How to interpret the target.
    pub target_hint: TargetHint,
    /// Columns to treat as categorical even if they look numeric.
    pub categorical: Vec<String>,
    /// The column holding each row's time (RFC 3339 / ISO 8601 date-times, or ISO dates
    /// read as midnight UTC), kept as per-row timestamps, not a feature. When `None`,
    /// [`read_csv`] infers it: the one column whose every value is such a time.
    pub timestamp: Option<String>,
    /// Columns to ignore (ids, free text, other dates and the like).
    pub ignore: Vec<String>,
}

impl CsvOptions {
    /// Options for a labelled file with target column `target`.
    pub fn with_target(target: impl Into<String>) -> Self {
        CsvOptions {
            target: Some(target.into()),
            ..Default::default()
        }
    }
}

struct Raw {
    headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

fn read_raw(path: &Path) -> Result<Raw> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| csv_err(path, e))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_err(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        rows.push(rec.map_err(|e| csv_err(path, e))?);
    }
    if rows.is_empty() {
        return Err(Error::Data(format!(
            "{} has a header but no data rows",
            path.display()
        )));
    }
    Ok(Raw { headers, rows })
}

fn csv_err(path: &Path, e: csv::Error) -> Error {
    if let csv::ErrorKind::Io(_) = e.kind() {
        let csv::ErrorKind::Io(io) = e.into_kind() else {
            unreachable!("checked above")
        };
        return Error::io(path, io);
    }
    Error::Data(format!("{}: {e}", path.display()))
}

fn col_index(headers: &[String], name: &str, path: &Path) -> Result<usize> {
    headers.iter().position(|h| h == name).ok_or_else(|| {
        Error::not_found(
            "column",
            name,
            format!(
                "{} has columns: {}",
                path.display(),
                super::schema::preview(headers)
            ),
        )
    })
}

/// A text column with more distinct values than this (and more than half its rows
/// distinct) is refused as a categorical feature by [`read_csv`] unless listed in
/// [`CsvOptions::categorical`].
pub const MAX_INFERRED_LEVELS: usize = 50;

/// Load a CSV file (header row required), inferring the schema.
///
/// - A column is numeric when every non-missing cell parses as a number and it is not
///   listed in `opts.categorical`.
/// - A column whose every non-missing cell is an RFC 3339 / ISO 8601 date-time or an ISO
///   date (`2026-03-02`, read as midnight UTC) is a time, never a feature: it becomes the
///   per-row timestamps when `opts.timestamp` is unset and it is the only such column.
///   Any other time column must be named in `opts.ignore` (an
///   [`Error::InvalidInput`] says so), since a date as a category would have a level per
///   day and never match production rows.
/// - Other columns are categorical with their sorted distinct values as levels. A text
///   column with more than [`MAX_INFERRED_LEVELS`] distinct values, more than half of its
///   rows distinct, is refused ([`Error::InvalidInput`]): it is an id or free text, not a
///   category. List it in `opts.ignore`, or in `opts.categorical` to keep it anyway.
///
/// Empty cells (and `NA`, `NaN`, `null`) are missing values.
///
/// ```
/// use mlcycle::data::{CsvOptions, read_csv};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("churn.csv");
/// std::fs::write(&path, "customer_id,signed_up,tenure,plan,churned\n\
///     c-001,2026-01-03T09:15:00Z,12,basic,no\n\
///     c-002,2026-01-04T10:00:00Z,3,pro,yes\n\
///     c-003,2026-01-05T11:30:00Z,30,basic,no\n").unwrap();
/// let data = read_csv(&path, &CsvOptions {
///     ignore: vec!["customer_id".into()],
///     ..CsvOptions::with_target("churned")
/// })
/// .unwrap();
/// // `signed_up` became the timestamps (inferred), not a feature
/// assert_eq!(data.schema().feature_names(), ["tenure", "plan"]);
/// assert_eq!(data.timestamps().unwrap().len(), 3);
/// ```
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let raw = read_raw(path)?;
    let target_idx = opts
        .target
        .as_deref()
        .map(|t| col_index(&raw.headers, t, path))
        .transpose()?;
    let candidates: Vec<usize> = (0..raw.headers.len())
        .filter(|&j| {
            Some(j) != target_idx
                && !opts.ignore.contains(&raw.headers[j])
                && !opts.categorical.contains(&raw.headers[j])
                && column_is_time(&raw.rows, j)
        })
        .collect();
    let ts_idx = match opts.timestamp.as_deref() {
        Some(t) => Some(col_index(&raw.headers, t, path)?),
        None if candidates.len() == 1 => Some(candidates[0]),
        None => None,
    };
    let others: Vec<&str> = candidates
        .iter()
        .filter(|&&j| Some(j) != ts_idx)
        .map(|&j| raw.headers[j].as_str())
        .collect();
    if !others.is_empty() {
        let list = others
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::invalid(
            format!("time column(s) {list} in {}", path.display()),
            match ts_idx {
                Some(t) => format!(
                    "`{}` is the timestamp column and these also hold dates or times, which \
                     are not features (a category per date never matches new rows); list \
                     them in `CsvOptions::ignore` (or in `categorical` to keep them anyway)",
                    raw.headers[t]
                ),
                None => "several columns hold dates or times: name the one that is each \
                         row's time with `CsvOptions::timestamp` and list the others in \
                         `CsvOptions::ignore`"
                    .to_string(),
            },
        ));
    }
    let mut features = Vec::new();
    let mut feature_cols = Vec::new();
    for (j, name) in raw.headers.iter().enumerate() {
        if Some(j) == target_idx || Some(j) == ts_idx || opts.ignore.contains(name) {
            continue;
        }
        let listed = opts.categorical.contains(name);
        let numeric = !listed && raw.rows.iter().all(|r| cell_is_numeric(r, j));
        let kind = if numeric {
            FeatureKind::Numeric
        } else {
            let levels = distinct(&raw.rows, j);
            let present = raw
                .rows
                .iter()
                .filter(|r| !is_missing(r.get(j).unwrap_or("")))
                .count();
            if !listed && levels.len() > MAX_INFERRED_LEVELS && levels.len() * 2 > present {
                return Err(Error::invalid(
                    format!("column `{name}` in {}", path.display()),
                    format!(
                        "it has {} distinct text values in {present} rows, so it looks like an \
                         id or free text rather than a category (a model cannot learn from a \
                         level per row, and new rows would all be unknown levels); list it in \
                         `CsvOptions::ignore`, or in `CsvOptions::categorical` to keep it as a \
                         feature anyway",
                        levels.len()
                    ),
                ));
            }
            FeatureKind::Categorical { levels }
        };
        features.push(Feature {
            name: name.clone(),
            kind,
        });
        feature_cols.push(j);
    }
    let target = target_idx
        .map(|j| infer_target(&raw, j, opts.target_hint))
        .transpose()?;
    let schema = Schema::new(features, target)?;
    build(
        &raw,
        &schema,
        &feature_cols,
        target_idx,
        ts_idx,
        UnknownLevel::Error,
        path,
    )
}

/// Load a CSV file against a known schema (columns matched by name, in any order; extra
/// columns ignored). A missing feature column is a [`Error::SchemaMismatch`].
pub fn read_csv_with_schema(
    path: impl AsRef<Path>,
    schema: &Schema,
    timestamp: Option<&str>,
    unknown: UnknownLevel,
) -> Result<Dataset> {
    let path = path.as_ref();
    let raw = read_raw(path)?;
    let missing: Vec<&str> = schema
        .features
        .iter()
        .filter(|f| !raw.headers.contains(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::SchemaMismatch(format!(
            "{} lacks required column(s): {}",
            path.display(),
            missing.join(", ")
        )));
    }
    let feature_cols: Vec<usize> = schema
        .features
        .iter()
        .map(|f| col_index(&raw.headers, &f.name, path))
        .collect::<Result<_>>()?;
    let target_idx = schema
        .target
        .as_ref()
        .map(|t| col_index(&raw.headers, &t.name, path))
        .transpose()?;
    let ts_idx = timestamp
        .map(|t| col_index(&raw.headers, t, path))
        .transpose()?;
    build(
        &raw,
        schema,
        &feature_cols,
        target_idx,
        ts_idx,
        unknown,
        path,
    )
}

fn build(
    raw: &Raw,
    schema: &Schema,
    feature_cols: &[usize],
    target_idx: Option<usize>,
    ts_idx: Option<usize>,
    unknown: UnknownLevel,
    path: &Path,
) -> Result<Dataset> {
    let n = raw.rows.len();
    let mut x = Array2::<f64>::zeros((n, feature_cols.len()));
    let mut y = target_idx.map(|_| Array1::<f64>::zeros(n));
    let mut ts = ts_idx.map(|_| Vec::with_capacity(n));
    for (i, rec) in raw.rows.iter().enumerate() {
        let line = i + 2;
        for (k, &j) in feature_cols.iter().enumerate() {
            let cell = rec.get(j).unwrap_or("");
            x[[i, k]] = encode_feature_cell(&schema.features[k], cell, unknown)
                .map_err(|e| Error::Data(format!("{} line {line}: {e}", path.display())))?;
        }
        if let (Some(j), Some(y)) = (target_idx, y.as_mut()) {
            let cell = rec.get(j).unwrap_or("");
            if is_missing(cell) {
                return Err(Error::Data(format!(
                    "{} line {line}: the target is missing; drop unlabelled rows before training",
                    path.display()
                )));
            }
            y[i] = schema
                .encode_target(cell)
                .map_err(|e| Error::Data(format!("{} line {line}: {e}", path.display())))?;
        }
        if let (Some(j), Some(ts)) = (ts_idx, ts.as_mut()) {
            let cell = rec.get(j).unwrap_or("").trim();
            let t = parse_time(cell).ok_or_else(|| {
                Error::Data(format!(
                    "{} line {line}: timestamp `{}` is not an RFC 3339 / ISO 8601 date-time \
                     (`2026-03-02T09:30:00Z`) or an ISO date (`2026-03-02`)",
                    path.display(),
                    super::schema::truncate(cell)
                ))
            })?;
            ts.push(t);
        }
    }
    Ok(Dataset::new(schema.clone(), x, y, ts)?.with_source(path.display().to_string()))
}

/// A time in one of the forms [`read_csv`] recognises: RFC 3339, ISO 8601 date-time
/// without an offset (UTC; `T` or a space between date and time, optional fraction), or
/// an ISO date (midnight UTC).
fn parse_time(cell: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(cell) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(cell, f) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(cell, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Every non-missing cell is a time, and there is at least one.
fn column_is_time(rows: &[csv::StringRecord], j: usize) -> bool {
    let mut any = false;
    for r in rows {
        let c = r.get(j).unwrap_or("").trim();
        if is_missing(c) {
            continue;
        }
        // cheap reject before parsing: times start with a 4-digit year and a dash
        if c.len() < 10 || c.as_bytes()[4] != b'-' || parse_time(c).is_none() {
            return false;
        }
        any = true;
    }
    any
}

fn cell_is_numeric(r: &csv::StringRecord, j: usize) -> bool {
    let c = r.get(j).unwrap_or("");
    is_missing(c) || c.trim().parse::<f64>().is_ok()
}

fn distinct(rows: &[csv::StringRecord], j: usize) -> Vec<String> {
    let set: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.get(j))
        .filter(|c| !is_missing(c))
        .map(str::trim)
        .collect();
    set.into_iter().map(String::from).collect()
}

fn infer_target(raw: &Raw, j: usize, hint: TargetHint) -> Result<Target> {
    let name = raw.headers[j].clone();
    let numeric = raw.rows.iter().all(|r| cell_is_numeric(r, j));
    let values = distinct(&raw.rows, j);
    let classification = match hint {
        TargetHint::Classification => true,
        TargetHint::Regression => false,
        TargetHint::Auto => {
            !numeric
                || (values.len() <= 2
                    && values
                        .iter()
                        .all(|v| v.parse::<f64>().is_ok_and(|f| f.fract() == 0.0)))
        }
    };
    let kind = if classification {
        let mut classes = values;
        if numeric {
            classes.sort_by(|a, b| {
                let (a, b) = (
                    a.parse::<f64>().unwrap_or(0.0),
                    b.parse::<f64>().unwrap_or(0.0),
                );
                a.total_cmp(&b)
            });
        }
        TargetKind::classification(classes).map_err(|_| {
            Error::Data(format!(
                "target `{name}` has fewer than two distinct values; nothing to learn"
            ))
        })?
    } else {
        if !numeric {
            return Err(Error::Data(format!(
                "target `{name}` is not numeric, so it cannot be a regression target"
            )));
        }
        TargetKind::Regression
    };
    Ok(Target { name, kind })
}

/// Write a dataset as CSV: features (categoricals decoded to their levels), the target
/// (decoded to its class label) and, if present, a `timestamp` column.
pub fn write_csv(data: &Dataset, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut w = csv::Writer::from_path(path).map_err(|e| csv_err(path, e))?;
    let schema = data.schema();
    let mut header: Vec<String> = schema.features.iter().map(|f| f.name.clone()).collect();
    if let Some(t) = &schema.target {
        header.push(t.name.clone());
    }
    if data.timestamps().is_some() {
        header.push("timestamp".into());
    }
    w.write_record(&header).map_err(|e| csv_err(path, e))?;
    let x = data.features();
    let mut rec: Vec<String> = Vec::with_capacity(header.len());
    for i in 0..data.n_rows() {
        rec.clear();
        for j in 0..x.ncols() {
            rec.push(schema.decode_cell(j, x[[i, j]]));
        }
        if let (Some(t), Some(y)) = (&schema.target, data.target()) {
            rec.push(match t.kind.classes() {
                Some(c) => c[y[i] as usize].clone(),
                None => format!("{}", y[i]),
            });
        }
        if let Some(ts) = data.timestamps() {
            rec.push(ts[i].to_rfc3339());
        }
        w.write_record(&rec).map_err(|e| csv_err(path, e))?;
    }
    w.flush().map_err(|e| Error::io(path, e))?;
    Ok(())
}
