use crate::data::{RawValue, Schema, Target, TargetKind, UnknownLevel};
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
    /// Encode raw rows — `(column name, value)` pairs, e.g. a CSV record zipped with its
    /// header, or a form — into the feature matrix this model scores (what
    /// [`ScoreRequest::rows`](crate::deploy::ScoreRequest::rows) must hold). A column
    /// named like the target is skipped; the rules and errors are those of
    /// [`crate::data::encode_rows`]: an unknown column or a missing feature is a
    /// [`Error::SchemaMismatch`], an unknown level an [`Error::Data`] unless `unknown`
    /// is [`UnknownLevel::AsMissing`].
    ///
    /// ```
    /// use mlcycle::data::UnknownLevel;
    /// use mlcycle::model::Model;
    /// use mlcycle::testing::{CreditDefault, DriftSpec};
    /// use mlcycle::train::{LogisticParams, fit_logistic};
    ///
    /// let data = CreditDefault::new(1).sample(500, &DriftSpec::none(), 0).unwrap();
    /// let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    /// // one applicant, as a JSON object (e.g. the body of your own endpoint)
    /// let applicant = serde_json::json!({
    ///     "age": 35, "income": 52000, "debt_ratio": 0.3, "credit_limit": 9000,
    ///     "utilization": 0.5, "late_payments": 0, "months_employed": 40, "n_accounts": 4,
    ///     "loan_amount": 8000, "interest_rate": 7.5,
    ///     "home_ownership": "rent", "purpose": "car", "region": "north",
    /// });
    /// let x = model.signature().encode_json_rows(&[applicant], UnknownLevel::Error).unwrap();
    /// assert_eq!(model.predict(x.view()).unwrap().values.len(), 1);
    /// ```
    pub fn encode_rows<I, R, K>(
        &self,
        rows: I,
        unknown: UnknownLevel,
    ) -> Result<ndarray::Array2<f64>>
    where
        I: IntoIterator<Item = R>,
        R: IntoIterator<Item = (K, RawValue)>,
        K: AsRef<str>,
    {
        crate::data::encode_rows_skipping(&self.inputs, Some(&self.target.name), rows, unknown)
    }

    /// Encode JSON objects (`{"tenure": 12, "plan": "pro"}`) like
    /// [`Signature::encode_rows`]; anything other than an object is an
    /// [`Error::InvalidInput`].
    pub fn encode_json_rows(
        &self,
        rows: &[serde_json::Value],
        unknown: UnknownLevel,
    ) -> Result<ndarray::Array2<f64>> {
        crate::data::encode_json_rows_skipping(&self.inputs, Some(&self.target.name), rows, unknown)
    }

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
