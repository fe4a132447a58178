//! Named features and the target: what a dataset holds and what a model expects.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The kind of one feature column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// A real-valued column. Missing values are NaN.
    Numeric,
    /// A categorical column; values are encoded as the index of their level (as `f64`).
    /// Missing values are NaN.
    Categorical {
        /// The known levels, in encoding order.
        levels: Vec<String>,
    },
}

/// One named feature column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    /// Column name.
    pub name: String,
    /// Numeric or categorical (with levels).
    #[serde(flatten)]
    pub kind: FeatureKind,
}

impl Feature {
    /// A numeric feature.
    pub fn numeric(name: impl Into<String>) -> Self {
        Feature {
            name: name.into(),
            kind: FeatureKind::Numeric,
        }
    }

    /// A categorical feature with the given levels.
    pub fn categorical<S: Into<String>>(
        name: impl Into<String>,
        levels: impl IntoIterator<Item = S>,
    ) -> Self {
        Feature {
            name: name.into(),
            kind: FeatureKind::Categorical {
                levels: levels.into_iter().map(Into::into).collect(),
            },
        }
    }

    /// The levels of a categorical feature, `None` for a numeric one.
    pub fn levels(&self) -> Option<&[String]> {
        match &self.kind {
            FeatureKind::Categorical { levels } => Some(levels),
            FeatureKind::Numeric => None,
        }
    }

    /// Whether this feature is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self.kind, FeatureKind::Categorical { .. })
    }
}

/// What kind of prediction the target asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetKind {
    /// Two classes; encoded 0 and 1 in the order given (the second is the "positive" class).
    Binary {
        /// The two class labels.
        classes: Vec<String>,
    },
    /// Three or more classes, encoded by index.
    Multiclass {
        /// The class labels.
        classes: Vec<String>,
    },
    /// A real-valued target.
    Regression,
}

impl TargetKind {
    /// The class labels of a classification target, `None` for regression.
    pub fn classes(&self) -> Option<&[String]> {
        match self {
            TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => Some(classes),
            TargetKind::Regression => None,
        }
    }

    /// A classification target from its class labels (binary for two, multiclass for more).
    pub fn classification<S: Into<String>>(classes: impl IntoIterator<Item = S>) -> Result<Self> {
        let classes: Vec<String> = classes.into_iter().map(Into::into).collect();
        match classes.len() {
            0 | 1 => Err(Error::invalid(
                "target",
                format!(
                    "a classification target needs at least two classes, found {}",
                    classes.len()
                ),
            )),
            2 => Ok(TargetKind::Binary { classes }),
            _ => Ok(TargetKind::Multiclass { classes }),
        }
    }
}

/// The target column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Column name.
    pub name: String,
    /// Classification (with classes) or regression.
    #[serde(flatten)]
    pub kind: TargetKind,
}

/// How to treat a categorical value that is not among the schema's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownLevel {
    /// Refuse it with [`Error::Data`] naming the column and the value (the default).
    #[default]
    Error,
    /// Encode it as missing (NaN); models then treat it like a missing value.
    AsMissing,
}

/// The features (in column order) and, for labelled data, the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Feature columns, in the order of the feature matrix's columns.
    pub features: Vec<Feature>,
    /// The target column, if the data is labelled.
    pub target: Option<Target>,
}

impl Schema {
    /// A schema; checks that names are non-empty and unique and that categorical levels
    /// are unique and non-empty.
    pub fn new(features: Vec<Feature>, target: Option<Target>) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for f in &features {
            if f.name.is_empty() {
                return Err(Error::invalid("schema", "a feature has an empty name"));
            }
            if !seen.insert(f.name.as_str()) {
                return Err(Error::invalid(
                    "schema",
                    format!("feature `{}` appears twice", f.name),
                ));
            }
            if let Some(levels) = f.levels() {
                if levels.is_empty() {
                    return Err(Error::invalid(
                        "schema",
                        format!("categorical feature `{}` has no levels", f.name),
                    ));
                }
                let mut ls = std::collections::HashSet::new();
                for l in levels {
                    if !ls.insert(l) {
                        return Err(Error::invalid(
                            "schema",
                            format!("feature `{}` lists level `{l}` twice", f.name),
                        ));
                    }
                }
            }
        }
        if let Some(t) = &target {
            if seen.contains(t.name.as_str()) {
                return Err(Error::invalid(
                    "schema",
                    format!("`{}` is both a feature and the target", t.name),
                ));
            }
            if let Some(classes) = t.kind.classes() {
                TargetKind::classification(classes.iter().cloned())?;
            }
        }
        Ok(Schema { features, target })
    }

    /// The number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The index of the feature named `name`.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }

    /// The feature names, in column order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    /// This schema without its target (the input side of a model).
    pub fn without_target(&self) -> Schema {
        Schema {
            features: self.features.clone(),
            target: None,
        }
    }

    /// Encode one raw cell of feature `col` (empty or "NA"/"NaN"/"null" is missing).
    pub fn encode_cell(&self, col: usize, raw: &str, unknown: UnknownLevel) -> Result<f64> {
        let f = self.features.get(col).ok_or_else(|| {
            Error::invalid(
                "column index",
                format!("{col} is out of range for {} features", self.features.len()),
            )
        })?;
        encode_feature_cell(f, raw, unknown)
    }

    /// Encode a target cell.
    pub fn encode_target(&self, raw: &str) -> Result<f64> {
        let t = self
            .target
            .as_ref()
            .ok_or_else(|| Error::invalid("schema", "it has no target column"))?;
        let raw = raw.trim();
        match &t.kind {
            TargetKind::Regression => {
                let v: f64 = raw.parse().map_err(|_| {
                    Error::Data(format!(
                        "target `{}`: `{}` is not a number",
                        t.name,
                        truncate(raw)
                    ))
                })?;
                if !v.is_finite() {
                    return Err(Error::Data(format!(
                        "target `{}` has a non-finite value",
                        t.name
                    )));
                }
                Ok(v)
            }
            TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => classes
                .iter()
                .position(|c| c == raw)
                .map(|i| i as f64)
                .ok_or_else(|| {
                    Error::Data(format!(
                        "target `{}`: `{}` is not one of the classes {:?}",
                        t.name,
                        truncate(raw),
                        classes
                    ))
                }),
        }
    }

    /// Decode an encoded feature value back to text (for CSV output and logs).
    pub fn decode_cell(&self, col: usize, v: f64) -> String {
        match self.features.get(col).map(|f| &f.kind) {
            _ if v.is_nan() => String::new(),
            Some(FeatureKind::Categorical { levels }) => levels
                .get(v as usize)
                .cloned()
                .unwrap_or_else(|| format!("{v}")),
            _ => format!("{v}"),
        }
    }
}

/// Whether a raw cell is a missing value.
pub fn is_missing(raw: &str) -> bool {
    matches!(
        raw.trim(),
        "" | "NA" | "NaN" | "nan" | "null" | "NULL" | "None" | "N/A"
    )
}

pub(crate) fn encode_feature_cell(f: &Feature, raw: &str, unknown: UnknownLevel) -> Result<f64> {
    if is_missing(raw) {
        return Ok(f64::NAN);
    }
    let raw = raw.trim();
    match &f.kind {
        FeatureKind::Numeric => {
            let v: f64 = raw.parse().map_err(|_| {
                Error::Data(format!(
                    "column `{}`: `{}` is not a number",
                    f.name,
                    truncate(raw)
                ))
            })?;
            if v.is_infinite() {
                return Err(Error::Data(format!(
                    "column `{}` has an infinite value; use an empty cell for a missing value",
                    f.name
                )));
            }
            Ok(v)
        }
        FeatureKind::Categorical { levels } => match levels.iter().position(|l| l == raw) {
            Some(i) => Ok(i as f64),
            None => match unknown {
                UnknownLevel::AsMissing => Ok(f64::NAN),
                UnknownLevel::Error => Err(Error::Data(format!(
                    "column `{}`: unknown category `{}` (known: {}); {UNKNOWN_CATEGORY_HINT}",
                    f.name,
                    truncate(raw),
                    preview(levels)
                ))),
            },
        },
    }
}

/// What to do about an unknown category, said the same way by every path that refuses one
/// (`mlcycle serve`, `score`, `validate`, and the library's `UnknownLevel::AsMissing`).
pub const UNKNOWN_CATEGORY_HINT: &str = "score it as a missing value with --unknown-as-missing (UnknownLevel::AsMissing in code), or retrain with data that has it";

pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

pub(crate) fn preview(levels: &[String]) -> String {
    let mut out: Vec<&str> = levels.iter().take(8).map(String::as_str).collect();
    if levels.len() > 8 {
        out.push("…");
    }
    out.join(", ")
}
