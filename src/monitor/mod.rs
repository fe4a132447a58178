//! Monitoring: health and drift of a time window of collected production data, compared
//! with the training baseline — the raw training data ([`Monitor::check`]) or its stored
//! reference profile ([`Monitor::check_against_profile`]). Reads the prediction log; never
//! talks to a deployment.

pub mod estimate;
pub mod performance;
pub mod quality;

use crate::collect::{PredictionLog, PredictionRecord};
use crate::data::{Dataset, FeatureKind, Schema};
use crate::drift::{DatasetProfile, DriftDetector, DriftReport};
use crate::labels::{LabelStore, index_labels, join_window};
use crate::model::{Model, ReferenceOutputs};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use ndarray::Array2;
use performance::{PerformanceLimit, PerformanceReport, realized_performance};
use quality::{ColumnLimits, RequestEvidence};
pub use quality::{FaultKind, QualityFault};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Service health over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Requests served.
    pub requests: usize,
    /// Rows scored.
    pub rows: usize,
    /// Requests that failed.
    pub errors: usize,
    /// `errors / requests` (0 with no requests).
    pub error_rate: f64,
    /// Median scoring latency, microseconds.
    pub latency_p50_us: u64,
    /// 99th-percentile scoring latency, microseconds.
    pub latency_p99_us: u64,
    /// Model versions that answered.
    pub versions: Vec<u32>,
}

impl HealthReport {
    /// Health figures of a set of records. Requests refused for their input before
    /// anything was scored (an error and no rows) count as requests and errors, not in the
    /// latency percentiles.
    pub fn of(records: &[PredictionRecord]) -> HealthReport {
        let mut lat: Vec<u64> = records
            .iter()
            .filter(|r| r.error.is_none() || !r.inputs.is_empty())
            .map(|r| r.latency_us)
            .collect();
        lat.sort_unstable();
        let pct = |q: f64| -> u64 {
            if lat.is_empty() {
                0
            } else {
                lat[((lat.len() - 1) as f64 * q).round() as usize]
            }
        };
        let errors = records.iter().filter(|r| r.error.is_some()).count();
        let mut versions: Vec<u32> = records.iter().map(|r| r.model_version).collect();
        versions.sort_unstable();
        versions.dedup();
        HealthReport {
            requests: records.len(),
            rows: records.iter().map(|r| r.inputs.len()).sum(),
            errors,
            error_rate: if records.is_empty() {
                0.0
            } else {
                errors as f64 / records.len() as f64
            },
            latency_p50_us: pct(0.5),
            latency_p99_us: pct(0.99),
            versions,
        }
    }
}

/// The result of one monitoring check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorReport {
    /// Window start (inclusive).
    pub from: DateTime<Utc>,
    /// Window end (exclusive).
    pub to: DateTime<Utc>,
    /// Health of the service in the window.
    pub health: HealthReport,
    /// Drift of the window's inputs against the reference; `None` if too few rows.
    pub drift: Option<DriftReport>,
    /// Data-quality faults found.
    pub quality_faults: Vec<QualityFault>,
    /// Why the drift check was skipped, if it was.
    pub skipped: Option<String>,
    /// Realized performance on the labelled share of the window (with a
    /// [`GroundTruth`]; `None` without one).
    #[serde(default)]
    pub performance: Option<PerformanceReport>,
    /// Performance estimated without labels (CBPE) for a binary classifier: calibrated on
    /// the serving model's scores of the labelled reference data, estimated from its scores
    /// of the window. With [`Monitor::with_reference_outputs`], the reference is the
    /// serving version's validation outputs and the window's scores are the logged
    /// probabilities; otherwise it needs a [`GroundTruth`] and the raw labelled reference.
    /// `None` without either, or for other kinds of model.
    #[serde(default)]
    pub estimated_performance: Option<estimate::EstimatedPerformance>,
    /// Drift of the serving model's outputs in the window (`score`: the positive class's
    /// probability, `class`: the predicted class; `prediction` for a regressor) against its
    /// validation outputs ([`Monitor::with_reference_outputs`]; the window's as logged) or,
    /// without them, its outputs on the raw reference data. `None` when neither is
    /// available or the window has no output of the serving version.
    #[serde(default)]
    pub prediction_drift: Option<DriftReport>,
    /// With a season length ([`MonitorConfig::season_length_hours`]) and input drift: the
    /// comparison with the same window one season earlier, which tells a seasonal shift
    /// (expected, no action) from a new one.
    #[serde(default)]
    pub seasonality: Option<SeasonalityCheck>,
}

/// A drifted window compared with the same window one season earlier.
///
/// A drifted column is *seasonal* when the earlier window drifted against the reference in
/// it too and the current window does not differ from the earlier one in it: the shift
/// came back with the season. The window's shift is expected when every drifted column is
/// seasonal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalityCheck {
    /// The earlier window's start (inclusive).
    pub from: DateTime<Utc>,
    /// Its end (exclusive).
    pub to: DateTime<Utc>,
    /// Rows scored in it.
    pub rows: usize,
    /// Drifted columns the season explains.
    pub seasonal_columns: Vec<String>,
    /// Drifted columns it does not (all of them when the earlier window had too few
    /// rows to compare).
    pub unexplained_columns: Vec<String>,
    /// Whether the whole shift is seasonal: expected, no action.
    pub expected: bool,
}

/// Settings of [`Monitor`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// Fewer scored rows than this in a window: no drift check (too little evidence).
    pub min_rows: usize,
    /// A column whose missing share exceeds the reference's by more than this is a fault.
    pub max_missing_increase: f64,
    /// Realized performance counts as degraded when a metric is worse than the serving
    /// version's validation metric by more than this share of it (see
    /// [`PerformanceLimit::max_drop`]); `None`: never.
    #[serde(default = "default_performance_drop")]
    pub performance_drop: Option<f64>,
    /// Fewer labelled rows than this in a window: realized performance is reported but
    /// never counts as degraded.
    #[serde(default = "default_min_labelled")]
    pub min_labelled: usize,
    /// The reference range of a numeric column is widened by this share of its span on
    /// each side before values count as out of range.
    #[serde(default = "default_range_tolerance")]
    pub range_tolerance: f64,
    /// More than this share of a column's values out of range is an `out_of_range` fault.
    #[serde(default = "default_max_out_of_range")]
    pub max_out_of_range: f64,
    /// A window with fewer than `1 − this` times the scored rows of the window before it
    /// (of the same length, with at least `min_rows` rows) is a `volume_drop` fault;
    /// `None`: not checked (the previous window is then not read).
    #[serde(default = "default_max_volume_drop")]
    pub max_volume_drop: Option<f64>,
    /// The length of a season in hours (24 daily, 168 weekly), if the inputs have one: a
    /// drifted window is then compared with the same window one season earlier (see
    /// [`SeasonalityCheck`]). `None`: no seasonality.
    #[serde(default)]
    pub season_length_hours: Option<i64>,
}

fn default_range_tolerance() -> f64 {
    0.5
}

fn default_max_out_of_range() -> f64 {
    0.01
}

fn default_max_volume_drop() -> Option<f64> {
    Some(0.5)
}

fn default_performance_drop() -> Option<f64> {
    Some(0.1)
}

fn default_min_labelled() -> usize {
    100
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            min_rows: 200,
            max_missing_increase: 0.1,
            performance_drop: default_performance_drop(),
            min_labelled: default_min_labelled(),
            range_tolerance: default_range_tolerance(),
            max_out_of_range: default_max_out_of_range(),
            max_volume_drop: default_max_volume_drop(),
            season_length_hours: None,
        }
    }
}

impl MonitorConfig {
    /// The limit realized performance is judged by.
    pub fn performance_limit(&self) -> PerformanceLimit {
        PerformanceLimit {
            max_drop: self.performance_drop,
            min_labelled: self.min_labelled,
        }
    }
}

/// What realized performance needs: the labels, the serving version (its model, to give
/// the logged inputs their class probabilities) and its validation metrics.
#[derive(Debug, Clone)]
pub struct GroundTruth {
    /// The ground-truth labels.
    pub labels: Arc<dyn LabelStore>,
    /// The serving version's number: only the rows it scored are measured.
    pub version: u32,
    /// Its model.
    pub model: Arc<dyn Model>,
    /// Its validation metrics (as registered with the version).
    pub baseline: BTreeMap<String, f64>,
}

/// Reads windows of the prediction log and checks health, data quality and drift.
#[derive(Debug, Clone)]
pub struct Monitor {
    log: Arc<dyn PredictionLog>,
    detector: Arc<dyn DriftDetector>,
    config: MonitorConfig,
    ground_truth: Option<GroundTruth>,
    reference_outputs: Option<(u32, Arc<ReferenceOutputs>)>,
}

impl Monitor {
    /// A monitor over `log` using `detector`.
    pub fn new(
        log: Arc<dyn PredictionLog>,
        detector: Arc<dyn DriftDetector>,
        config: MonitorConfig,
    ) -> Self {
        Monitor {
            log,
            detector,
            config,
            ground_truth: None,
            reference_outputs: None,
        }
    }

    /// Also measure prediction drift and, for a binary classifier, estimate performance
    /// (CBPE) of the rows version `version` scored in each window, from the outputs and
    /// class probabilities in the prediction log, against `outputs`: that version's outputs
    /// on its validation data (kept in its artifact,
    /// [`crate::model::ModelArtifact::reference_outputs`]). Needs no labels and no raw
    /// reference data. Rows logged without probabilities (logs written before they were
    /// kept) are scored again by the [`GroundTruth`] model when it is the same version,
    /// else left out.
    pub fn with_reference_outputs(mut self, version: u32, outputs: Arc<ReferenceOutputs>) -> Self {
        self.reference_outputs = Some((version, outputs));
        self
    }

    /// Also measure realized performance on the labelled share of each window.
    pub fn with_ground_truth(mut self, ground_truth: GroundTruth) -> Self {
        self.ground_truth = Some(ground_truth);
        self
    }

    /// Check the window `[from, to)` against `reference` (the training data of the model
    /// in production).
    pub async fn check(
        &self,
        reference: &Dataset,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MonitorReport> {
        self.check_baseline(Baseline::Data(reference), from, to)
            .await
    }

    /// Check the window `[from, to)` against a stored reference profile of the training
    /// data ([`DatasetProfile::reference`], as kept with a model version) for inputs with
    /// the feature columns of `schema` (the model signature's inputs). Drift is computed by
    /// [`DriftDetector::detect_from_profile`]; the missing-value triage uses the missing
    /// counts of the profile and gives the same faults as the raw training data would.
    pub async fn check_against_profile(
        &self,
        reference: &DatasetProfile,
        schema: &Schema,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MonitorReport> {
        self.check_baseline(Baseline::Profile(reference, schema), from, to)
            .await
    }

    async fn check_baseline(
        &self,
        baseline: Baseline<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MonitorReport> {
        if to <= from {
            return Err(Error::invalid(
                "monitoring window",
                format!("it ends ({to}) before it starts ({from})"),
            ));
        }
        let schema = match baseline {
            Baseline::Data(d) => d.schema(),
            Baseline::Profile(_, s) => s,
        };
        let reference = match baseline {
            Baseline::Data(d) => quality::reference_from_data(d),
            Baseline::Profile(p, _) => quality::reference_from_profile(p, schema)?,
        };
        let records = self.log.read_window(from, to).await?;
        let health = HealthReport::of(&records);
        let (current, evidence) = window_dataset(schema, &records)?;
        let mut faults = quality::request_faults(schema, &evidence);
        if let Some(max_drop) = self.config.max_volume_drop {
            let previous = self.log.read_window(from - (to - from), from).await?;
            if let Some(f) = quality::volume_fault(
                scored_rows(&records),
                scored_rows(&previous),
                max_drop,
                self.config.min_rows,
            ) {
                faults.push(f);
            }
        }
        let mut report = MonitorReport {
            from,
            to,
            health,
            drift: None,
            quality_faults: faults,
            skipped: None,
            performance: None,
            estimated_performance: None,
            prediction_drift: None,
            seasonality: None,
        };
        if let Some((version, outputs)) = &self.reference_outputs {
            outputs.check()?;
            let window = logged_outputs(*version, outputs, &records, self.ground_truth.as_ref());
            let (estimated, drift) = compare_outputs(
                &outputs.classes,
                &OutputSample::of_reference(outputs),
                Some(&outputs.labels),
                &window,
            )?;
            report.estimated_performance = estimated;
            report.prediction_drift = drift;
        }
        if let Some(gt) = &self.ground_truth {
            report.performance = Some(self.performance(gt, &records).await?);
            if let (Baseline::Data(reference), Some(current), None) =
                (baseline, &current, &self.reference_outputs)
            {
                let (estimated, drift) = output_checks(gt, reference, current)?;
                report.estimated_performance = estimated;
                report.prediction_drift = drift;
            }
        }
        let Some(current) = current.filter(|c| c.n_rows() >= self.config.min_rows) else {
            report.skipped = Some(format!(
                "fewer than {} scored rows in the window",
                self.config.min_rows
            ));
            return Ok(report);
        };
        let column_faults = quality::column_faults(
            schema,
            &reference,
            &current,
            ColumnLimits {
                max_missing_increase: self.config.max_missing_increase,
                range_tolerance: self.config.range_tolerance,
                max_out_of_range: self.config.max_out_of_range,
            },
        );
        report.quality_faults.splice(0..0, column_faults);
        let drift = self.drift_against(baseline, &current).await?;
        if let Some(hours) = self.config.season_length_hours
            && drift.dataset_drift
        {
            report.seasonality = Some(
                self.seasonality(baseline, schema, &drift, &current, from, to, hours)
                    .await?,
            );
        }
        report.drift = Some(drift);
        Ok(report)
    }

    async fn drift_against(
        &self,
        baseline: Baseline<'_>,
        current: &Dataset,
    ) -> Result<DriftReport> {
        match baseline {
            Baseline::Data(d) => self.detector.detect(d, current).await,
            Baseline::Profile(p, _) => self.detector.detect_from_profile(p, current).await,
        }
    }

    /// Compare a drifted window with the same window `hours` earlier.
    #[allow(clippy::too_many_arguments)]
    async fn seasonality(
        &self,
        baseline: Baseline<'_>,
        schema: &Schema,
        drift: &DriftReport,
        current: &Dataset,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        hours: i64,
    ) -> Result<SeasonalityCheck> {
        /// Ten years.
        const MAX_HOURS: i64 = 24 * 3_660;
        let earlier = |t: DateTime<Utc>| t.checked_sub_signed(chrono::Duration::hours(hours));
        let bounds = if (1..=MAX_HOURS).contains(&hours) {
            (earlier(from), earlier(to))
        } else {
            (None, None)
        };
        let (Some(e_from), Some(e_to)) = bounds else {
            return Err(Error::invalid(
                "season length",
                format!(
                    "{hours} hours; give a positive number of hours up to {MAX_HOURS} (24 daily, 168 weekly)"
                ),
            ));
        };
        let records = self.log.read_window(e_from, e_to).await?;
        let (earlier, _) = window_dataset(schema, &records)?;
        let drifted: Vec<String> = drift.drifted().map(|c| c.name.clone()).collect();
        let rows = earlier.as_ref().map_or(0, Dataset::n_rows);
        let mut check = SeasonalityCheck {
            from: e_from,
            to: e_to,
            rows,
            seasonal_columns: Vec::new(),
            unexplained_columns: drifted.clone(),
            expected: false,
        };
        let Some(earlier) = earlier.filter(|e| e.n_rows() >= self.config.min_rows) else {
            return Ok(check);
        };
        // The earlier window against the reference, and the current one against it.
        let then = self.drift_against(baseline, &earlier).await?;
        let since = self.detector.detect(&earlier, current).await?;
        let (seasonal, unexplained): (Vec<String>, Vec<String>) =
            drifted.into_iter().partition(|c| {
                then.column(c).is_some_and(|d| d.drift) && since.column(c).is_some_and(|d| !d.drift)
            });
        check.expected = !seasonal.is_empty() && unexplained.is_empty();
        check.seasonal_columns = seasonal;
        check.unexplained_columns = unexplained;
        Ok(check)
    }
}

/// CBPE and prediction drift of the serving model on `current` against `reference` (raw
/// data; CBPE needs its labels and a binary classifier).
fn output_checks(
    gt: &GroundTruth,
    reference: &Dataset,
    current: &Dataset,
) -> Result<(Option<estimate::EstimatedPerformance>, Option<DriftReport>)> {
    if reference.is_empty() || current.is_empty() {
        return Ok((None, None));
    }
    let signature = gt.model.signature();
    if reference.schema().feature_names() != signature.inputs.feature_names() {
        return Ok((None, None));
    }
    let r = gt.model.predict(reference.features())?;
    let c = gt.model.predict(current.features())?;
    let classes = signature.target.kind.classes().unwrap_or_default();
    let labels = reference.target().map(|y| y.to_vec());
    compare_outputs(
        classes,
        &OutputSample::of_prediction(&r, classes),
        labels.as_deref(),
        &OutputSample::of_prediction(&c, classes),
    )
}

/// Outputs of a model on a set of rows: the output per row (class index or value) and, for
/// a binary classifier, the probability of the second class.
#[derive(Debug, Default)]
struct OutputSample {
    values: Vec<f64>,
    scores: Vec<f64>,
}

impl OutputSample {
    fn of_prediction(p: &crate::model::Prediction, classes: &[String]) -> OutputSample {
        let scores = match &p.probabilities {
            Some(m) if classes.len() == 2 && m.ncols() == 2 => m.column(1).to_vec(),
            _ => Vec::new(),
        };
        OutputSample {
            values: p.values.to_vec(),
            scores,
        }
    }

    fn of_reference(r: &ReferenceOutputs) -> OutputSample {
        OutputSample {
            values: r.predictions.clone(),
            scores: if r.classes.len() == 2 {
                r.probabilities.iter().map(|p| p[1]).collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The outputs of the rows `version` scored in `records`, as logged (class probabilities
/// included); rows of a classifier logged without probabilities are scored again by the
/// ground truth's model when it is that version, else left out.
fn logged_outputs(
    version: u32,
    reference: &ReferenceOutputs,
    records: &[PredictionRecord],
    gt: Option<&GroundTruth>,
) -> OutputSample {
    let k = reference.classes.len();
    let binary = k == 2;
    let mut out = OutputSample::default();
    let rescorer = gt.filter(|g| g.version == version).map(|g| &g.model);
    let width = rescorer.map(|m| m.signature().inputs.n_features());
    let mut again: Vec<f64> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.model_version == version && r.error.is_none())
    {
        if k == 0 {
            out.values
                .extend(r.outputs.iter().copied().filter(|v| v.is_finite()));
            continue;
        }
        if r.probabilities.len() == r.outputs.len() {
            for (v, p) in r.outputs.iter().zip(&r.probabilities) {
                if p.len() == k && v.is_finite() && p.iter().all(|x| x.is_finite()) {
                    out.values.push(*v);
                    if binary {
                        out.scores.push(p[1]);
                    }
                }
            }
        } else if let Some(w) = width {
            for row in r.inputs.iter().filter(|row| row.len() == w) {
                again.extend_from_slice(row);
            }
        }
    }
    if let (Some(model), Some(w)) = (rescorer, width)
        && !again.is_empty()
        && let Ok(x) = Array2::from_shape_vec((again.len() / w.max(1), w), again)
        && let Ok(p) = model.predict(x.view())
    {
        let s = OutputSample::of_prediction(&p, &reference.classes);
        out.values.extend(s.values);
        out.scores.extend(s.scores);
    }
    out
}

/// Prediction drift of `current` against `reference` (outputs of a model whose classes are
/// `classes`, empty for a regressor) and, for a binary classifier with the reference's
/// labels, the performance estimated by CBPE. Nothing when either sample is empty.
fn compare_outputs(
    classes: &[String],
    reference: &OutputSample,
    labels: Option<&[f64]>,
    current: &OutputSample,
) -> Result<(Option<estimate::EstimatedPerformance>, Option<DriftReport>)> {
    use crate::drift::prediction::{PredictionOutput, prediction_drift};
    if reference.values.is_empty() || current.values.is_empty() {
        return Ok((None, None));
    }
    let detector = crate::drift::StatisticalDriftDetector::default();
    if classes.is_empty() {
        let outputs = [(
            "prediction",
            PredictionOutput::Scores {
                reference: &reference.values,
                current: &current.values,
            },
        )];
        return Ok((None, Some(prediction_drift(&detector, &outputs)?)));
    }
    let name = |v: &f64| classes.get(*v as usize).map(String::as_str).unwrap_or("?");
    let rc: Vec<&str> = reference.values.iter().map(name).collect();
    let cc: Vec<&str> = current.values.iter().map(name).collect();
    let mut outputs = vec![(
        "class",
        PredictionOutput::Classes {
            reference: &rc,
            current: &cc,
        },
    )];
    let scored = !reference.scores.is_empty() && !current.scores.is_empty();
    if scored {
        outputs.insert(
            0,
            (
                "score",
                PredictionOutput::Scores {
                    reference: &reference.scores,
                    current: &current.scores,
                },
            ),
        );
    }
    let drift = prediction_drift(&detector, &outputs)?;
    let estimated = match labels {
        Some(y) if scored && y.len() == reference.scores.len() => {
            let labels: Vec<bool> = y.iter().map(|v| *v == 1.0).collect();
            estimate::estimate_performance(&reference.scores, &labels, &current.scores).ok()
        }
        _ => None,
    };
    Ok((estimated, Some(drift)))
}

/// Rows scored successfully by `records`.
fn scored_rows(records: &[PredictionRecord]) -> usize {
    records
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.inputs.len())
        .sum()
}

impl Monitor {
    /// Realized performance of the rows `gt.version` scored in `records`.
    async fn performance(
        &self,
        gt: &GroundTruth,
        records: &[PredictionRecord],
    ) -> Result<PerformanceReport> {
        let signature = gt.model.signature();
        let width = signature.inputs.n_features();
        let served: Vec<PredictionRecord> = records
            .iter()
            .filter(|r| r.model_version == gt.version && r.error.is_none())
            .cloned()
            .collect();
        let scored = served
            .iter()
            .flat_map(|r| &r.inputs)
            .filter(|x| x.len() == width)
            .count();
        let labels = index_labels(gt.labels.all().await?);
        let schema = Schema::new(
            signature.inputs.features.clone(),
            Some(signature.target.clone()),
        )?;
        let mut x: Vec<f64> = Vec::new();
        let (mut y_true, mut y_pred) = (Vec::new(), Vec::new());
        for row in join_window(&served, &labels) {
            let inputs = &row.record.inputs[row.row];
            let Some(&pred) = row.record.outputs.get(row.row) else {
                continue;
            };
            if inputs.len() != width {
                continue;
            }
            let Ok(label) = schema.encode_target(&row.label.label) else {
                continue;
            };
            x.extend_from_slice(inputs);
            y_true.push(label);
            y_pred.push(pred);
        }
        let n = y_true.len();
        let proba = if signature.target.kind.classes().is_some() && n > 0 {
            Array2::from_shape_vec((n, width), x)
                .ok()
                .and_then(|x| gt.model.predict(x.view()).ok())
                .and_then(|p| p.probabilities)
        } else {
            None
        };
        realized_performance(
            &signature.target,
            ndarray::ArrayView1::from(&y_true),
            ndarray::ArrayView1::from(&y_pred),
            proba.as_ref().map(|p| p.view()),
            scored,
            &gt.baseline,
            self.config.performance_limit(),
        )
    }
}

/// What a window is compared with.
#[derive(Clone, Copy)]
enum Baseline<'a> {
    /// The raw training data.
    Data(&'a Dataset),
    /// A stored profile of it, and the input schema.
    Profile(&'a DatasetProfile, &'a Schema),
}

/// The successfully scored rows of `records` that fit `schema` as a dataset with its
/// features, and what the other records show (rows of another width, codes that are no
/// level, refused requests).
fn window_dataset(
    schema: &Schema,
    records: &[PredictionRecord],
) -> Result<(Option<Dataset>, RequestEvidence)> {
    let width = schema.n_features();
    let mut evidence = RequestEvidence::default();
    let mut values: Vec<f64> = Vec::new();
    let mut ts: Vec<DateTime<Utc>> = Vec::new();
    for r in records {
        if let Some(e) = &r.error {
            evidence.failed(e);
            continue;
        }
        evidence.scored_with_notes(&r.notes);
        'rows: for row in &r.inputs {
            if row.len() != width {
                evidence.wrong_width += 1;
                if !evidence.widths.contains(&row.len()) {
                    evidence.widths.push(row.len());
                }
                continue;
            }
            for (f, &v) in schema.features.iter().zip(row) {
                let ok = match &f.kind {
                    FeatureKind::Numeric => !v.is_infinite(),
                    FeatureKind::Categorical { levels } => {
                        v.is_nan() || (v >= 0.0 && v.fract() == 0.0 && (v as usize) < levels.len())
                    }
                };
                if !ok {
                    if f.is_categorical() {
                        *evidence.bad_codes.entry(f.name.clone()).or_default() += 1;
                    } else {
                        evidence.wrong_width += 1;
                    }
                    continue 'rows;
                }
            }
            values.extend_from_slice(row);
            ts.push(r.at);
        }
    }
    if ts.is_empty() {
        return Ok((None, evidence));
    }
    let x = Array2::from_shape_vec((ts.len(), width), values)
        .map_err(|e| Error::Data(format!("window rows do not form a table: {e}")))?;
    Ok((
        Some(
            Dataset::new(schema.without_target(), x, None, Some(ts))?
                .with_source("prediction log window"),
        ),
        evidence,
    ))
}
