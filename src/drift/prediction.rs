//! Prediction drift: the distribution of a model's outputs in a window against its
//! outputs on the validation data (the reference), with the same drift engine as the
//! inputs — numeric scores through the numeric methods, predicted classes through the
//! categorical ones.

use super::detector::StatisticalDriftDetector;
use super::engine::{ColumnInput, ColumnValues};
use super::report::{ColumnDrift, DriftReport};
use crate::{Error, Result};

/// One model output to compare, reference (validation outputs) against current (window).
#[derive(Debug, Clone, Copy)]
pub enum PredictionOutput<'a> {
    /// Scores, e.g. the probability of one class or a regression prediction.
    Scores {
        /// Validation outputs.
        reference: &'a [f64],
        /// Window outputs.
        current: &'a [f64],
    },
    /// Predicted class labels.
    Classes {
        /// Validation outputs.
        reference: &'a [&'a str],
        /// Window outputs.
        current: &'a [&'a str],
    },
}

/// Drift of each named model output (e.g. `score`, `proba_1`, `class`), one report column
/// per output, decided as the detector's settings say for a column of that kind.
///
/// ```
/// use mlcycle::drift::prediction::{PredictionOutput, prediction_drift};
/// use mlcycle::drift::{StatisticalDriftConfig, StatisticalDriftDetector};
/// let det = StatisticalDriftDetector::new(StatisticalDriftConfig::evidently()).unwrap();
/// let reference: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
/// let current: Vec<f64> = reference.iter().map(|s| (s + 0.3).min(1.0)).collect();
/// let outputs = [("score", PredictionOutput::Scores { reference: &reference, current: &current })];
/// let report = prediction_drift(&det, &outputs).unwrap();
/// assert!(report.column("score").unwrap().drift);
/// ```
pub fn prediction_drift(
    detector: &StatisticalDriftDetector,
    outputs: &[(&str, PredictionOutput<'_>)],
) -> Result<DriftReport> {
    if outputs.is_empty() {
        return Err(Error::invalid(
            "prediction drift",
            "no model outputs given; pass the scores or the predicted classes",
        ));
    }
    let columns: Vec<ColumnInput<'_>> = outputs
        .iter()
        .map(|(name, out)| match out {
            PredictionOutput::Scores { reference, current } => ColumnInput {
                name,
                reference: ColumnValues::numeric(reference),
                current: ColumnValues::numeric(current),
            },
            PredictionOutput::Classes { reference, current } => ColumnInput {
                name,
                reference: ColumnValues::categorical(reference.iter().map(|s| Some(*s))),
                current: ColumnValues::categorical(current.iter().map(|s| Some(*s))),
            },
        })
        .collect();
    detector.detect_columns(&columns)
}

/// Drift of one score output (column name `score`).
pub fn score_drift(
    detector: &StatisticalDriftDetector,
    reference: &[f64],
    current: &[f64],
) -> Result<ColumnDrift> {
    let report = prediction_drift(
        detector,
        &[("score", PredictionOutput::Scores { reference, current })],
    )?;
    Ok(report
        .columns
        .into_iter()
        .next()
        .expect("one output, one column"))
}

/// Drift of the predicted classes (column name `class`).
pub fn class_drift(
    detector: &StatisticalDriftDetector,
    reference: &[&str],
    current: &[&str],
) -> Result<ColumnDrift> {
    let report = prediction_drift(
        detector,
        &[("class", PredictionOutput::Classes { reference, current })],
    )?;
    Ok(report
        .columns
        .into_iter()
        .next()
        .expect("one output, one column"))
}
