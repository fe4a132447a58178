//! Turning request data into the encoded feature matrix of a model signature: column
//! lookup by name (missing → 400, extra → ignored or 400 in strict mode), per-cell type
//! enforcement and categorical encoding through the signature's levels.

use super::error::ApiError;
use super::state::Served;
use crate::data::{FeatureKind, UnknownLevel, is_missing, truncate_for_message};
use ndarray::Array2;
use serde_json::{Map, Value};

/// How many column names an error message lists at most.
const NAMES_IN_MESSAGE: usize = 10;

/// One input value, before encoding.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    Num(f64),
    Str(&'a str),
    Bool(bool),
    Null,
    /// An array or object where a scalar was expected.
    Nested,
}

impl<'a> Cell<'a> {
    pub fn json(v: &'a Value) -> Cell<'a> {
        match v {
            Value::Number(n) => n.as_f64().map_or(Cell::Nested, Cell::Num),
            Value::String(s) => Cell::Str(s),
            Value::Bool(b) => Cell::Bool(*b),
            Value::Null => Cell::Null,
            Value::Array(_) | Value::Object(_) => Cell::Nested,
        }
    }
}

/// Encoding options taken from the server configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct Encoding {
    pub strict: bool,
    pub unknown: UnknownLevel,
    pub max_rows: usize,
}

/// `names` joined for a message, at most [`NAMES_IN_MESSAGE`] of them.
pub(super) fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    let mut out: Vec<String> = names
        .iter()
        .take(NAMES_IN_MESSAGE)
        .map(|n| truncate_for_message(n.as_ref()))
        .collect();
    if names.len() > NAMES_IN_MESSAGE {
        out.push(format!("… ({} in all)", names.len()));
    }
    out.join(", ")
}

/// Check the row count against the limit (and refuse empty requests).
pub(super) fn check_rows(n: usize, enc: &Encoding) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::bad_request("the request has no rows to score"));
    }
    if n > enc.max_rows {
        return Err(ApiError::bad_request(format!(
            "the request has {n} rows; the limit is {} rows per request (max_rows; \
             `mlcycle serve --max-rows`)",
            enc.max_rows
        )));
    }
    Ok(())
}

/// For each signature feature, the index of the provided column carrying it.
pub(super) fn resolve_columns<S: AsRef<str>>(
    served: &Served,
    provided: &[S],
    enc: &Encoding,
) -> Result<Vec<usize>, ApiError> {
    let features = &served.model.signature().inputs.features;
    let mut at = vec![usize::MAX; features.len()];
    let mut extra = Vec::new();
    for (i, name) in provided.iter().enumerate() {
        match served.columns.get(name.as_ref()) {
            Some(&j) => {
                if at[j] != usize::MAX {
                    return Err(ApiError::bad_request(format!(
                        "input column `{}` is given twice",
                        truncate_for_message(name.as_ref())
                    )));
                }
                at[j] = i;
            }
            None => extra.push(name.as_ref()),
        }
    }
    let missing: Vec<&str> = features
        .iter()
        .zip(&at)
        .filter(|(_, i)| **i == usize::MAX)
        .map(|(f, _)| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "missing input column(s): {}",
            list_names(&missing)
        )));
    }
    if enc.strict && !extra.is_empty() {
        return Err(ApiError::bad_request(format!(
            "input column(s) not in the model signature: {} (strict mode)",
            list_names(&extra)
        )));
    }
    Ok(at)
}

fn expected(kind: &FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Numeric => "a number (numeric feature)",
        FeatureKind::Categorical { .. } => "a string (one of the categorical feature's levels)",
    }
}

fn got(cell: Cell<'_>) -> &'static str {
    match cell {
        Cell::Num(_) => "a number",
        Cell::Str(_) => "a string",
        Cell::Bool(_) => "a boolean",
        Cell::Null => "null",
        Cell::Nested => "an array or object",
    }
}

/// Encode one cell of feature `j`.
pub(super) fn encode_cell(
    served: &Served,
    j: usize,
    cell: Cell<'_>,
    enc: &Encoding,
) -> Result<f64, ApiError> {
    let schema = &served.model.signature().inputs;
    let f = &schema.features[j];
    let wrong = || {
        ApiError::bad_request(format!(
            "column `{}`: expected {}, got {}",
            f.name,
            expected(&f.kind),
            got(cell)
        ))
    };
    match (&f.kind, cell) {
        (_, Cell::Null) => Ok(f64::NAN),
        (FeatureKind::Numeric, Cell::Num(v)) => Ok(v),
        (FeatureKind::Numeric, Cell::Bool(b)) => Ok(f64::from(u8::from(b))),
        (FeatureKind::Numeric, Cell::Str(s)) => {
            if is_missing(s) {
                return Ok(f64::NAN);
            }
            match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(ApiError::bad_request(format!(
                    "column `{}`: expected {}, got the string `{}`",
                    f.name,
                    expected(&f.kind),
                    truncate_for_message(s)
                ))),
            }
        }
        (FeatureKind::Categorical { .. }, Cell::Str(s)) => schema
            .encode_cell(j, s, enc.unknown)
            .map_err(ApiError::from_model),
        (FeatureKind::Categorical { levels }, Cell::Num(v)) => {
            // A number is accepted when it spells one of the levels (e.g. level "3").
            if v.fract() == 0.0 && v.abs() < 1e15 {
                let s = format!("{}", v as i64);
                if let Some(i) = levels.iter().position(|l| *l == s) {
                    return Ok(i as f64);
                }
            }
            Err(wrong())
        }
        _ => Err(wrong()),
    }
}

/// Build the matrix from `nrows` rows, reading feature `j` of row `r` from provided
/// column `cols[j]` through `get(r, provided_col)`.
pub(super) fn build<'a>(
    served: &Served,
    nrows: usize,
    cols: &[usize],
    enc: &Encoding,
    mut get: impl FnMut(usize, usize) -> Result<Cell<'a>, ApiError>,
) -> Result<Array2<f64>, ApiError> {
    check_rows(nrows, enc)?;
    let mut x = Array2::<f64>::zeros((nrows, cols.len()));
    for r in 0..nrows {
        for (j, &c) in cols.iter().enumerate() {
            x[[r, j]] = encode_cell(served, j, get(r, c)?, enc)?;
        }
    }
    Ok(x)
}

/// Rows given as arrays of values, with column names (`None`: the signature's order).
pub(super) fn from_rows(
    served: &Served,
    columns: Option<&[String]>,
    rows: &[Value],
    enc: &Encoding,
) -> Result<Array2<f64>, ApiError> {
    let n_features = served.model.signature().inputs.n_features();
    let (cols, width) = match columns {
        Some(names) => (resolve_columns(served, names, enc)?, names.len()),
        None => ((0..n_features).collect(), n_features),
    };
    check_rows(rows.len(), enc)?;
    let mut arrays = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let a = match row {
            Value::Array(a) => a,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "row {r} is not an array of values"
                )));
            }
        };
        if a.len() != width {
            return Err(ApiError::bad_request(match columns {
                Some(_) => format!("row {r} has {} values for {width} columns", a.len()),
                None => format!(
                    "row {r} has {} values; the model takes {width} columns in this order: {}",
                    a.len(),
                    list_names(&served.model.signature().inputs.feature_names())
                ),
            }));
        }
        arrays.push(a);
    }
    build(served, rows.len(), &cols, enc, |r, c| {
        Ok(Cell::json(&arrays[r][c]))
    })
}

/// Rows given as objects `{column: value}`.
pub(super) fn from_records(
    served: &Served,
    records: &[Value],
    enc: &Encoding,
) -> Result<Array2<f64>, ApiError> {
    check_rows(records.len(), enc)?;
    let mut objects: Vec<&Map<String, Value>> = Vec::with_capacity(records.len());
    for (r, v) in records.iter().enumerate() {
        match v {
            Value::Object(o) => objects.push(o),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "record {r} is not an object of column values"
                )));
            }
        }
    }
    let features = &served.model.signature().inputs.features;
    let missing: Vec<&str> = features
        .iter()
        .filter(|f| !objects.iter().any(|o| o.contains_key(&f.name)))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "missing input column(s): {}",
            list_names(&missing)
        )));
    }
    if enc.strict {
        let mut extra: Vec<&str> = Vec::new();
        for o in &objects {
            for k in o.keys() {
                if !served.columns.contains_key(k) && !extra.contains(&k.as_str()) {
                    extra.push(k);
                }
            }
        }
        if !extra.is_empty() {
            return Err(ApiError::bad_request(format!(
                "input column(s) not in the model signature: {} (strict mode)",
                list_names(&extra)
            )));
        }
    }
    let cols: Vec<usize> = (0..features.len()).collect();
    build(served, objects.len(), &cols, enc, |r, j| {
        Ok(objects[r]
            .get(&features[j].name)
            .map_or(Cell::Null, Cell::json))
    })
}

/// Columns given as `{column: [values]}` (or `{column: value}` for one row).
pub(super) fn from_columns(
    served: &Served,
    columns: &Map<String, Value>,
    enc: &Encoding,
) -> Result<Array2<f64>, ApiError> {
    let names: Vec<&str> = columns.keys().map(String::as_str).collect();
    let cols = resolve_columns(served, &names, enc)?;
    let values: Vec<&Value> = columns.values().collect();
    let len = |v: &Value| match v {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let nrows = cols.first().map_or(0, |&c| len(values[c]));
    for &c in &cols {
        if len(values[c]) != nrows {
            return Err(ApiError::bad_request(format!(
                "columns have different lengths (`{}` has {}, `{}` has {nrows})",
                truncate_for_message(names[c]),
                len(values[c]),
                truncate_for_message(names[cols[0]])
            )));
        }
    }
    build(served, nrows, &cols, enc, |r, c| {
        Ok(match values[c] {
            Value::Array(a) => Cell::json(&a[r]),
            v => Cell::json(v),
        })
    })
}

/// CSV with a header row.
pub(super) fn from_csv(
    served: &Served,
    body: &[u8],
    enc: &Encoding,
) -> Result<Array2<f64>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::bad_request(format!("could not read the CSV header: {e}")))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let cols = resolve_columns(served, &header, enc)?;
    let mut records = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| ApiError::bad_request(format!("CSV line {}: {e}", i + 2)))?;
        if records.len() >= enc.max_rows {
            return Err(ApiError::bad_request(format!(
                "the request has more than {0} rows; the limit is {0} rows per request \
                 (max_rows; `mlcycle serve --max-rows`)",
                enc.max_rows
            )));
        }
        records.push(rec);
    }
    build(served, records.len(), &cols, enc, |r, c| {
        Ok(Cell::Str(records[r].get(c).unwrap_or("")))
    })
}
