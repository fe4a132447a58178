use crate::data::{Schema, Target, TargetKind};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a model outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutputKind {
    /// A class index with class probabilities.
    Classes {
        /// Class labels, by index.
        classes: Vec<String>,
    },
    /// A real value.
    Value,
}

/// A model's interface: the features it takes and what it returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The input features (no target).
    pub inputs: Schema,
    /// The target the model was trained on (name and kind).
    pub target: Target,
}

impl Signature {
    /// The signature of a model trained on data with `schema` (which must have a target).
    pub fn from_training_schema(schema: &Schema) -> Result<Self> {
        let target = schema
            .target
            .clone()
            .ok_or_else(|| Error::SchemaMismatch("training data needs a target column".into()))?;
        Ok(Signature {
            inputs: schema.without_target(),
            target,
        })
    }

    /// The output kind.
    pub fn output(&self) -> OutputKind {
        match &self.target.kind {
            TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => {
                OutputKind::Classes {
                    classes: classes.clone(),
                }
            }
            TargetKind::Regression => OutputKind::Value,
        }
    }

    /// The number of classes (0 for regression).
    pub fn n_classes(&self) -> usize {
        self.target.kind.classes().map_or(0, <[String]>::len)
    }

    /// Check that data with `schema` can be scored by this model: same feature names,
    /// kinds and levels, in the same order.
    pub fn check_compatible(&self, schema: &Schema) -> Result<()> {
        if schema.features == self.inputs.features {
            return Ok(());
        }
        let missing: Vec<&str> = self
            .inputs
            .features
            .iter()
            .filter(|f| schema.feature_index(&f.name).is_none())
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::SchemaMismatch(format!(
                "missing feature column(s): {}",
                missing.join(", ")
            )));
        }
        for (i, f) in self.inputs.features.iter().enumerate() {
            let g = &schema.features[schema.feature_index(&f.name).unwrap_or(i)];
            if g.kind != f.kind {
                return Err(Error::SchemaMismatch(format!(
                    "column `{}` differs from the model's signature (expected {})",
                    f.name,
                    match f.levels() {
                        Some(l) => format!("categorical with {} levels", l.len()),
                        None => "numeric".into(),
                    }
                )));
            }
        }
        Err(Error::SchemaMismatch(
            "feature columns are in a different order than the model's signature".into(),
        ))
    }
}
