//! The validation outputs of a model version: what monitoring compares a window's logged
//! outputs with (prediction drift) and calibrates the estimate of performance without
//! labels on (CBPE).

use super::Model;
use crate::data::Dataset;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The outputs of a model on its validation data, kept with the version (in its artifact,
/// [`ModelArtifact::with_reference_outputs`](super::ModelArtifact::with_reference_outputs))
/// so that monitoring can measure prediction drift and estimate performance from the
/// prediction log alone, without the raw reference data.
///
/// At most [`ReferenceOutputs::MAX_ROWS`] rows are kept (evenly spaced over the
/// validation rows, in order); rows whose outputs are not all finite are left out.
///
/// ```
/// use mlcycle::model::{Model, ReferenceOutputs};
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::train::{LogisticParams, fit_logistic};
/// let data = CreditDefault::new(1).sample(400, &DriftSpec::none(), 0).unwrap();
/// let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
/// let reference = ReferenceOutputs::of(&model, &data).unwrap();
/// assert_eq!(reference.len(), 400);
/// assert_eq!(reference.classes.len(), 2);
/// assert_eq!(reference.probabilities[0].len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceOutputs {
    /// The class names of a classifier, in the order of its probability columns; empty for
    /// a regressor.
    #[serde(default)]
    pub classes: Vec<String>,
    /// The model's output per row: the predicted class index, or the predicted value.
    pub predictions: Vec<f64>,
    /// The class probabilities per row (classifiers); empty for a regressor.
    #[serde(default)]
    pub probabilities: Vec<Vec<f64>>,
    /// The true target per row (class index or value).
    pub labels: Vec<f64>,
}

impl ReferenceOutputs {
    /// The most rows kept.
    pub const MAX_ROWS: usize = 10_000;

    /// The outputs of `model` on the labelled `data` (its validation data).
    pub fn of(model: &dyn Model, data: &Dataset) -> Result<ReferenceOutputs> {
        let y = data.require_target()?;
        let n = data.n_rows();
        if n == 0 {
            return Err(Error::invalid(
                "reference outputs",
                "the validation data has no rows; give the rows the version was validated on",
            ));
        }
        let p = model.predict(data.features())?;
        let classes: Vec<String> = model
            .signature()
            .target
            .kind
            .classes()
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        let proba = if classes.is_empty() {
            None
        } else {
            p.probabilities.as_ref()
        };
        let keep = n.min(Self::MAX_ROWS);
        let mut out = ReferenceOutputs {
            classes,
            predictions: Vec::with_capacity(keep),
            probabilities: Vec::new(),
            labels: Vec::with_capacity(keep),
        };
        for k in 0..keep {
            // Evenly spaced, first row first.
            let i = k * n / keep;
            let row = proba.map(|m| m.row(i).to_vec());
            let finite = p.values[i].is_finite()
                && y[i].is_finite()
                && row.as_ref().is_none_or(|r| r.iter().all(|v| v.is_finite()));
            if !finite {
                continue;
            }
            out.predictions.push(p.values[i]);
            out.labels.push(y[i]);
            if let Some(r) = row {
                out.probabilities.push(r);
            }
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.predictions.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.predictions.is_empty()
    }

    /// Check that the parts agree (one label per prediction; a probability row of one
    /// value per class for each row of a classifier, none for a regressor).
    pub fn check(&self) -> Result<()> {
        let n = self.predictions.len();
        let bad = |why: String| Err(Error::invalid("reference outputs", why));
        if self.labels.len() != n {
            return bad(format!(
                "{} labels for {n} predictions; give one label per row",
                self.labels.len()
            ));
        }
        if self.classes.is_empty() {
            if !self.probabilities.is_empty() {
                return bad("class probabilities without class names".into());
            }
        } else {
            if self.probabilities.len() != n {
                return bad(format!(
                    "{} probability rows for {n} predictions; give one per row",
                    self.probabilities.len()
                ));
            }
            if let Some(r) = self
                .probabilities
                .iter()
                .position(|r| r.len() != self.classes.len())
            {
                return bad(format!(
                    "probability row {r} has {} values for {} classes",
                    self.probabilities[r].len(),
                    self.classes.len()
                ));
            }
        }
        Ok(())
    }
}
