//! Encoding raw rows — column names with text or number values, as they come from JSON
//! objects, CSV records or a form — into the feature matrix a model scores
//! ([`crate::deploy::ScoreRequest::rows`], [`crate::model::Model::predict`]).

use super::schema::{FeatureKind, Schema, UnknownLevel, encode_feature_cell, preview, truncate};
use crate::{Error, Result};
use ndarray::Array2;

/// One raw cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// Text: a category's level, or a number written out (`"12.5"`); empty, `NA`, `null`
    /// and the like are missing.
    Text(String),
    /// A number (for a categorical column it is looked up as its shortest decimal text:
    /// `3.0` is level `"3"`).
    Number(f64),
    /// A missing value (encoded as NaN; models impute it).
    Missing,
}

impl From<&str> for RawValue {
    fn from(v: &str) -> Self {
        RawValue::Text(v.to_string())
    }
}

impl From<String> for RawValue {
    fn from(v: String) -> Self {
        RawValue::Text(v)
    }
}

impl From<&String> for RawValue {
    fn from(v: &String) -> Self {
        RawValue::Text(v.clone())
    }
}

impl From<f64> for RawValue {
    fn from(v: f64) -> Self {
        RawValue::Number(v)
    }
}

impl From<i64> for RawValue {
    fn from(v: i64) -> Self {
        RawValue::Number(v as f64)
    }
}

impl<T: Into<RawValue>> From<Option<T>> for RawValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(RawValue::Missing, Into::into)
    }
}

impl From<&serde_json::Value> for RawValue {
    /// Strings and numbers as themselves, `null` as missing, booleans as the text
    /// `true` / `false`; arrays and objects as their JSON text (which no schema accepts).
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => RawValue::Missing,
            serde_json::Value::String(s) => RawValue::Text(s.clone()),
            serde_json::Value::Number(n) => n.as_f64().map_or(RawValue::Missing, RawValue::Number),
            serde_json::Value::Bool(b) => RawValue::Text(b.to_string()),
            other => RawValue::Text(other.to_string()),
        }
    }
}

/// Encode raw rows into the feature matrix of `schema`'s features (in the schema's column
/// order, categoricals as level indices, NaN for missing): what a model's
/// [`predict`](crate::model::Model::predict) and a [`ScoreRequest`](crate::deploy::ScoreRequest)
/// take. Each row is a list of `(column name, value)` pairs in any order.
///
/// - A column the schema does not have is a [`Error::SchemaMismatch`] naming it, except
///   the schema's target (a labelled record may carry its label; it is skipped).
/// - A feature missing from a row is a [`Error::SchemaMismatch`]; pass
///   [`RawValue::Missing`] (or JSON `null`) for a value that is known to be missing.
/// - A category the schema does not know is an [`Error::Data`] with the known levels,
///   unless `unknown` is [`UnknownLevel::AsMissing`]. Text that is not a number in a
///   numeric column, or an infinite number, is an [`Error::Data`].
///
/// Errors name the row (0-based) and column. With a model, use
/// [`Signature::encode_rows`](crate::model::Signature::encode_rows).
///
/// ```
/// use mlcycle::data::{Feature, Schema, UnknownLevel, encode_rows};
/// let schema = Schema::new(
///     vec![Feature::numeric("tenure"), Feature::categorical("plan", ["basic", "pro"])],
///     None,
/// ).unwrap();
/// let x = encode_rows(
///     &schema,
///     [
///         vec![("plan", "pro".into()), ("tenure", 12.0.into())],
///         vec![("tenure", "3".into()), ("plan", None::<&str>.into())],
///     ],
///     UnknownLevel::Error,
/// ).unwrap();
/// assert_eq!(x.row(0).to_vec(), [12.0, 1.0]);
/// assert!(x[[1, 1]].is_nan());
/// ```
pub fn encode_rows<I, R, K>(schema: &Schema, rows: I, unknown: UnknownLevel) -> Result<Array2<f64>>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = (K, RawValue)>,
    K: AsRef<str>,
{
    let target = schema.target.as_ref().map(|t| t.name.as_str());
    encode_rows_skipping(schema, target, rows, unknown)
}

/// [`encode_rows`], skipping column `skip` (the target of a model's signature, whose
/// input schema has none).
pub(crate) fn encode_rows_skipping<I, R, K>(
    schema: &Schema,
    target: Option<&str>,
    rows: I,
    unknown: UnknownLevel,
) -> Result<Array2<f64>>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = (K, RawValue)>,
    K: AsRef<str>,
{
    let k = schema.features.len();
    let mut values = Vec::new();
    let mut seen = vec![false; k];
    let mut n = 0usize;
    for (i, row) in rows.into_iter().enumerate() {
        let start = values.len();
        values.resize(start + k, f64::NAN);
        seen.iter_mut().for_each(|s| *s = false);
        for (name, value) in row {
            let name = name.as_ref();
            let Some(j) = schema.feature_index(name) else {
                if Some(name) == target {
                    continue;
                }
                return Err(Error::SchemaMismatch(format!(
                    "row {i}: column `{}` is not a feature of the model (its features: {}); \
                     drop it before encoding",
                    truncate(name),
                    preview(
                        &schema
                            .features
                            .iter()
                            .map(|f| f.name.clone())
                            .collect::<Vec<_>>()
                    )
                )));
            };
            seen[j] = true;
            let f = &schema.features[j];
            let v = match (&value, &f.kind) {
                (RawValue::Missing, _) => f64::NAN,
                (RawValue::Number(v), FeatureKind::Numeric) => {
                    if v.is_infinite() {
                        return Err(Error::Data(format!(
                            "row {i}: column `{}` has an infinite value; use a missing value \
                             instead",
                            f.name
                        )));
                    }
                    *v
                }
                (RawValue::Number(v), FeatureKind::Categorical { .. }) => {
                    let mut b = ryu::Buffer::new();
                    let text = b.format(*v);
                    let text = text.strip_suffix(".0").unwrap_or(text);
                    encode_feature_cell(f, text, unknown)
                        .map_err(|e| Error::Data(format!("row {i}: {}", strip(e))))?
                }
                (RawValue::Text(t), _) => encode_feature_cell(f, t, unknown)
                    .map_err(|e| Error::Data(format!("row {i}: {}", strip(e))))?,
            };
            values[start + j] = v;
        }
        if let Some(j) = seen.iter().position(|s| !s) {
            return Err(Error::SchemaMismatch(format!(
                "row {i} has no value for feature `{}`; give every feature (a missing value \
                 as `RawValue::Missing` or JSON null)",
                schema.features[j].name
            )));
        }
        n += 1;
    }
    Array2::from_shape_vec((n, k), values)
        .map_err(|e| Error::SchemaMismatch(format!("encoded rows: {e}")))
}

/// Encode JSON objects (`{"tenure": 12, "plan": "pro"}`) with [`encode_rows`]; anything
/// other than an object is an [`Error::InvalidInput`].
pub fn encode_json_rows(
    schema: &Schema,
    rows: &[serde_json::Value],
    unknown: UnknownLevel,
) -> Result<Array2<f64>> {
    let target = schema.target.as_ref().map(|t| t.name.as_str());
    encode_json_rows_skipping(schema, target, rows, unknown)
}

pub(crate) fn encode_json_rows_skipping(
    schema: &Schema,
    target: Option<&str>,
    rows: &[serde_json::Value],
    unknown: UnknownLevel,
) -> Result<Array2<f64>> {
    let mut objects = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        objects.push(r.as_object().ok_or_else(|| {
            Error::invalid(
                format!("row {i}"),
                "expected a JSON object of column name → value",
            )
        })?);
    }
    encode_rows_skipping(
        schema,
        target,
        objects
            .into_iter()
            .map(|o| o.iter().map(|(k, v)| (k.as_str(), RawValue::from(v)))),
        unknown,
    )
}

/// The message of an [`Error::Data`] without its "data error: " prefix.
fn strip(e: Error) -> String {
    match e {
        Error::Data(m) => m,
        other => other.to_string(),
    }
}
