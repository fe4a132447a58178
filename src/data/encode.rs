//! Fast encoding of raw text cells into feature values, for streaming paths (batch scoring,
//! request decoding): categorical levels are looked up in a hash map built once.

use super::schema::{FeatureKind, Schema, UnknownLevel, is_missing};
use std::collections::HashMap;
use std::fmt;

/// Why a cell could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellError {
    /// An empty / NA cell where a value is required.
    Missing,
    /// Not a number in a numeric column.
    NotANumber(String),
    /// An infinite number.
    Infinite,
    /// A category the schema does not know.
    UnknownCategory(String),
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellError::Missing => f.write_str("missing value"),
            CellError::NotANumber(v) => write!(f, "`{v}` is not a number"),
            CellError::Infinite => f.write_str("infinite value"),
            CellError::UnknownCategory(v) => {
                write!(
                    f,
                    "unknown category `{v}`; {}",
                    super::schema::UNKNOWN_CATEGORY_HINT
                )
            }
        }
    }
}

#[derive(Debug, Clone)]
enum ColumnEncoder {
    Numeric,
    Categorical(HashMap<String, f64>),
}

/// Encodes raw cells of each feature of a schema.
#[derive(Debug, Clone)]
pub struct CellEncoder {
    columns: Vec<ColumnEncoder>,
    unknown: UnknownLevel,
    allow_missing: bool,
}

impl CellEncoder {
    /// An encoder for `schema`'s features. `allow_missing` lets empty cells through as NaN
    /// (models impute them); otherwise they are [`CellError::Missing`].
    pub fn new(schema: &Schema, unknown: UnknownLevel, allow_missing: bool) -> Self {
        let columns = schema
            .features
            .iter()
            .map(|f| match &f.kind {
                FeatureKind::Numeric => ColumnEncoder::Numeric,
                FeatureKind::Categorical { levels } => ColumnEncoder::Categorical(
                    levels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.clone(), i as f64))
                        .collect(),
                ),
            })
            .collect();
        CellEncoder {
            columns,
            unknown,
            allow_missing,
        }
    }

    /// Encode the raw bytes of feature `col` (numeric cells are parsed without a UTF-8
    /// pass; categorical cells must be UTF-8).
    #[inline]
    pub fn encode_bytes(&self, col: usize, raw: &[u8]) -> Result<f64, CellError> {
        let raw = raw.trim_ascii();
        match &self.columns[col] {
            ColumnEncoder::Numeric if !raw.is_empty() && raw[0] != b'N' && raw[0] != b'n' => {
                match fast_float2::parse::<f64, _>(raw) {
                    Ok(v) if v.is_infinite() => Err(CellError::Infinite),
                    Ok(v) => Ok(v),
                    Err(_) => self.encode(col, &String::from_utf8_lossy(raw)),
                }
            }
            _ => self.encode(col, &String::from_utf8_lossy(raw)),
        }
    }

    /// Encode the raw text of feature `col`.
    #[inline]
    pub fn encode(&self, col: usize, raw: &str) -> Result<f64, CellError> {
        let raw = raw.trim_ascii();
        if is_missing(raw) {
            return if self.allow_missing {
                Ok(f64::NAN)
            } else {
                Err(CellError::Missing)
            };
        }
        match &self.columns[col] {
            ColumnEncoder::Numeric => match fast_float2::parse::<f64, _>(raw) {
                Ok(v) if v.is_infinite() => Err(CellError::Infinite),
                Ok(v) => Ok(v),
                Err(_) => Err(CellError::NotANumber(super::schema::truncate(raw))),
            },
            ColumnEncoder::Categorical(levels) => match levels.get(raw) {
                Some(&v) => Ok(v),
                None if self.unknown == UnknownLevel::AsMissing => Ok(f64::NAN),
                None => Err(CellError::UnknownCategory(super::schema::truncate(raw))),
            },
        }
    }
}
