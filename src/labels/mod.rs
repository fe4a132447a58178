//! Ground truth: labels that arrive after the prediction, keyed by the request id the
//! prediction was logged under, and their join with the prediction log.
//!
//! A label's key is the request id for a single-row request, `REQUEST_ID/ROW` (0-based row
//! index) for one row of a multi-row request. Labels are strings: a class name as the
//! training target's labels spell it, or a number for regression. A label whose request is
//! not (yet) in the prediction log is kept and matched once the request appears.
//!
//! [`LabelStore`] stores them ([`InMemoryLabelStore`], and [`SqliteLabelStore`] in the
//! embedded store); [`record_labels_audited`] records a batch and its audit record;
//! [`match_labels`] tells which labels match a logged prediction and why the others do not;
//! [`join_window`] pairs logged rows with their labels.

#[cfg(any(test, feature = "conformance"))]
mod conformance;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use conformance::label_store_conformance;
pub use memory::InMemoryLabelStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresLabelStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteLabelStore;

use crate::audit::{AuditEntry, AuditEvent, AuditLog, event::LabelsRecorded};
use crate::collect::PredictionRecord;
use crate::data::{Dataset, FeatureKind, Schema, Target};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

/// One ground-truth label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// `REQUEST_ID` (single-row request) or `REQUEST_ID/ROW` (0-based row of a multi-row
    /// request).
    pub request_id: String,
    /// The true outcome: a class name, or a number for regression.
    pub label: String,
    /// When the outcome was observed.
    pub observed_at: DateTime<Utc>,
}

impl<I: Into<String>, L: Into<String>> From<(I, L, DateTime<Utc>)> for LabelRecord {
    fn from((request_id, label, observed_at): (I, L, DateTime<Utc>)) -> Self {
        LabelRecord {
            request_id: request_id.into(),
            label: label.into(),
            observed_at,
        }
    }
}

impl LabelRecord {
    /// The request id and the row index the key addresses (`None`: the whole single-row
    /// request). See [`parse_key`].
    pub fn target(&self) -> Result<(&str, Option<usize>)> {
        parse_key(&self.request_id)
    }
}

/// Split a label key into the request id and the row: `abc/2` → (`abc`, `Some(2)`),
/// `abc` → (`abc`, `None`). A suffix after the last `/` that is not a row number is part of
/// the request id.
pub fn parse_key(key: &str) -> Result<(&str, Option<usize>)> {
    if key.trim().is_empty() {
        return Err(Error::invalid(
            "label request id",
            "it is empty; give the request id the prediction was logged under (REQUEST_ID or REQUEST_ID/ROW)",
        ));
    }
    if let Some((id, row)) = key.rsplit_once('/')
        && !id.is_empty()
        && !row.is_empty()
        && row.bytes().all(|b| b.is_ascii_digit())
    {
        let row = row
            .parse::<usize>()
            .map_err(|e| Error::invalid(format!("label key `{key}`"), format!("row index: {e}")))?;
        return Ok((id, Some(row)));
    }
    Ok((key, None))
}

/// What [`LabelStore::record_labels`] did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSummary {
    /// Labels received.
    pub received: usize,
    /// Keys labelled for the first time.
    pub inserted: usize,
    /// Repeats of the stored label (nothing changed).
    pub unchanged: usize,
    /// Keys whose stored label was replaced by a different one, in input order.
    pub corrected: Vec<String>,
}

/// Storage of ground-truth labels.
///
/// # Contract
/// - `record_labels` validates every label first (a key that is empty or a label that is
///   empty is an [`Error::InvalidInput`] naming it, and nothing is stored), then stores
///   them in order, all or none: a new key is inserted; a repeat of the stored label
///   changes nothing (recording the same batch twice is harmless); a different label for a
///   stored key replaces it — the later one wins — and the key is listed in
///   [`RecordSummary::corrected`].
/// - `get(key)` returns the label stored under exactly that key; `all()` every stored
///   label, ordered by key.
/// - Labels are kept whether or not their request is in the prediction log.
///
/// ```
/// use mlcycle::labels::{InMemoryLabelStore, LabelStore};
/// use chrono::{TimeZone, Utc};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = InMemoryLabelStore::default();
/// let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
/// let s = store.record_labels(vec![("r1", "yes", t).into(), ("r2/0", "no", t).into()]).await.unwrap();
/// assert_eq!(s.inserted, 2);
/// let s = store.record_labels(vec![("r1", "no", t).into()]).await.unwrap();
/// assert_eq!(s.corrected, vec!["r1".to_string()]);
/// assert_eq!(store.get("r1").await.unwrap().unwrap().label, "no");
/// # });
/// ```
#[async_trait]
pub trait LabelStore: Send + Sync + Debug {
    /// Store labels (see the contract).
    async fn record_labels(&self, labels: Vec<LabelRecord>) -> Result<RecordSummary>;
    /// The label stored under `key`.
    async fn get(&self, key: &str) -> Result<Option<LabelRecord>>;
    /// Every stored label, ordered by key.
    async fn all(&self) -> Result<Vec<LabelRecord>>;
}

/// Check a batch before storing it (the contract's validation).
pub(crate) fn validate(labels: &[LabelRecord]) -> Result<()> {
    for l in labels {
        parse_key(&l.request_id)?;
        if l.label.trim().is_empty() {
            return Err(Error::invalid(
                format!("the label of `{}`", l.request_id),
                "it is empty; give the class name or the number observed",
            ));
        }
    }
    Ok(())
}

/// Record `labels` in `store` and append a `labels.recorded` audit record (subjects: the
/// corrected keys) saying where they came from (`source`) and what changed.
pub async fn record_labels_audited(
    store: &dyn LabelStore,
    audit: &dyn AuditLog,
    labels: Vec<LabelRecord>,
    actor: &str,
    source: &str,
) -> Result<RecordSummary> {
    let summary = store.record_labels(labels).await?;
    let event = AuditEvent::LabelsRecorded(LabelsRecorded {
        source: source.to_string(),
        received: summary.received,
        inserted: summary.inserted,
        unchanged: summary.unchanged,
        corrected: summary.corrected.clone(),
    });
    audit
        .append(AuditEntry::from_event(
            actor,
            summary.corrected.clone(),
            &event,
            uuid::Uuid::new_v4().to_string(),
        ))
        .await?;
    Ok(summary)
}

/// Why a label matches no logged prediction (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// No logged request has this id (it may still arrive).
    UnknownId,
    /// `REQUEST_ID/ROW` names a row the request does not have.
    RowOutOfRange,
    /// The request has several rows and the key names none (use `REQUEST_ID/ROW`).
    RowNeeded,
    /// The request failed, so there is no prediction to compare with.
    FailedRequest,
    /// The label is not a class of the model, or not a number for a regression model.
    BadLabel,
}

impl Unmatched {
    /// The reason's name (`unknown_id`, `row_out_of_range`, `row_needed`,
    /// `failed_request`, `bad_label`).
    pub fn as_str(self) -> &'static str {
        match self {
            Unmatched::UnknownId => "unknown_id",
            Unmatched::RowOutOfRange => "row_out_of_range",
            Unmatched::RowNeeded => "row_needed",
            Unmatched::FailedRequest => "failed_request",
            Unmatched::BadLabel => "bad_label",
        }
    }
}

/// How many labels matched a logged prediction, and why the others did not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchSummary {
    /// Labels that address a logged prediction row.
    pub matched: usize,
    /// Labels that do not, counted by reason.
    pub unmatched: std::collections::BTreeMap<Unmatched, usize>,
}

impl MatchSummary {
    /// Labels that matched nothing.
    pub fn unmatched_total(&self) -> usize {
        self.unmatched.values().sum()
    }
}

/// The shape of a logged request, as label matching needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Rows scored.
    pub rows: usize,
    /// Whether the request failed.
    pub failed: bool,
}

impl From<&PredictionRecord> for LoggedRequest {
    fn from(r: &PredictionRecord) -> Self {
        LoggedRequest {
            rows: r.inputs.len(),
            failed: r.error.is_some(),
        }
    }
}

/// Match `labels` against the logged requests (`logged`: request id → shape, e.g. built from
/// a scan of the prediction log); `label_ok` says whether a label is valid for the model
/// (a class it knows, or a number). Returns the summary and, per label, `None` when it
/// matched or the reason it did not.
pub fn match_labels(
    labels: &[LabelRecord],
    logged: &HashMap<String, LoggedRequest>,
    label_ok: impl Fn(&str) -> bool,
) -> (MatchSummary, Vec<Option<Unmatched>>) {
    let mut summary = MatchSummary::default();
    let reasons: Vec<Option<Unmatched>> = labels
        .iter()
        .map(|l| {
            let reason = match parse_key(&l.request_id) {
                Err(_) => Some(Unmatched::UnknownId),
                Ok((id, row)) => match (logged.get(id), row) {
                    // A request id that itself ends in `/N` is looked up whole too.
                    (None, Some(_)) if logged.contains_key(l.request_id.as_str()) => {
                        check_single(&logged[l.request_id.as_str()])
                    }
                    (None, _) => Some(Unmatched::UnknownId),
                    (Some(r), _) if r.failed => Some(Unmatched::FailedRequest),
                    (Some(r), Some(row)) if row >= r.rows => Some(Unmatched::RowOutOfRange),
                    (Some(_), Some(_)) => None,
                    (Some(r), None) => check_single(r),
                },
            };
            let reason = reason.or_else(|| (!label_ok(&l.label)).then_some(Unmatched::BadLabel));
            match reason {
                None => summary.matched += 1,
                Some(r) => *summary.unmatched.entry(r).or_default() += 1,
            }
            reason
        })
        .collect();
    (summary, reasons)
}

fn check_single(r: &LoggedRequest) -> Option<Unmatched> {
    if r.failed {
        Some(Unmatched::FailedRequest)
    } else if r.rows == 1 {
        None
    } else if r.rows == 0 {
        Some(Unmatched::RowOutOfRange)
    } else {
        Some(Unmatched::RowNeeded)
    }
}

/// Labels indexed for joining: by key.
pub fn index_labels(labels: Vec<LabelRecord>) -> HashMap<String, LabelRecord> {
    labels
        .into_iter()
        .map(|l| (l.request_id.clone(), l))
        .collect()
}

/// One logged row with its label.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRow<'a> {
    /// The logged request.
    pub record: &'a PredictionRecord,
    /// The row's index in the request.
    pub row: usize,
    /// Its label.
    pub label: &'a LabelRecord,
}

/// The label of row `row` of `record`: the key `REQUEST_ID/ROW`, or for a single-row
/// request the key `REQUEST_ID` alone.
pub fn label_of<'a>(
    labels: &'a HashMap<String, LabelRecord>,
    record: &PredictionRecord,
    row: usize,
) -> Option<&'a LabelRecord> {
    labels
        .get(&format!("{}/{row}", record.request_id))
        .or_else(|| {
            (record.inputs.len() == 1 && row == 0)
                .then(|| labels.get(&record.request_id))
                .flatten()
        })
}

/// The labelled rows of `records` (failed requests have none), in record and row order.
pub fn join_window<'a>(
    records: &'a [PredictionRecord],
    labels: &'a HashMap<String, LabelRecord>,
) -> Vec<LabelledRow<'a>> {
    let mut out = Vec::new();
    for record in records.iter().filter(|r| r.error.is_none()) {
        for row in 0..record.inputs.len() {
            if let Some(label) = label_of(labels, record, row) {
                out.push(LabelledRow { record, row, label });
            }
        }
    }
    out
}

/// Why a labelled row was left out of a [`labelled_dataset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Skipped {
    /// The label is not a class of the model, or not a number for a regression model.
    BadLabel,
    /// The logged row does not fit the model's inputs (another width, or a value the
    /// input schema does not allow).
    SchemaMismatch,
}

impl Skipped {
    /// The reason's name (`bad_label`, `schema_mismatch`).
    pub fn as_str(self) -> &'static str {
        match self {
            Skipped::BadLabel => "bad_label",
            Skipped::SchemaMismatch => "schema_mismatch",
        }
    }
}

/// Production rows joined with their labels: the training data the prediction log and the
/// label store make together.
#[derive(Debug, Clone)]
pub struct LabelledData {
    /// The labelled rows: inputs as logged, the label as target, the request's time as
    /// timestamp; in record and row order.
    pub dataset: Dataset,
    /// Labelled rows left out, by reason.
    pub skipped: BTreeMap<Skipped, usize>,
}

/// Join the logged rows of `records` (failed requests have none) with their `labels`
/// into a labelled [`Dataset`] with the feature columns of `inputs` and the target
/// `target` (a model signature's): each labelled row keeps its inputs as logged, its label
/// encoded as the target, and the request's time as its timestamp. Rows that do not fit
/// (a label that is not a class of the target or not a number, or inputs of another
/// width or with invalid codes) are left out and counted. With no labelled row the
/// dataset is empty (zero rows).
///
/// ```
/// use mlcycle::collect::PredictionRecord;
/// use mlcycle::data::{Feature, Schema, Target, TargetKind};
/// use mlcycle::labels::{index_labels, labelled_dataset, LabelRecord};
/// use chrono::{TimeZone, Utc};
/// let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
/// let inputs = Schema::new(vec![Feature::numeric("x")], None).unwrap();
/// let target = Target { name: "y".into(), kind: TargetKind::classification(["no", "yes"]).unwrap() };
/// let record = PredictionRecord {
///     request_id: "r1".into(), at: t, model_name: "m".into(), model_version: 1,
///     inputs: vec![vec![1.5], vec![2.5]], outputs: vec![0.0, 1.0], probabilities: vec![], latency_us: 10, error: None, notes: vec![],
/// };
/// let labels = index_labels(vec![LabelRecord { request_id: "r1/1".into(), label: "yes".into(), observed_at: t }]);
/// let joined = labelled_dataset(&inputs, &target, &[record], &labels).unwrap();
/// assert_eq!(joined.dataset.n_rows(), 1);
/// assert_eq!(joined.dataset.features()[[0, 0]], 2.5);
/// assert_eq!(joined.dataset.target().unwrap()[0], 1.0);
/// ```
pub fn labelled_dataset(
    inputs: &Schema,
    target: &Target,
    records: &[PredictionRecord],
    labels: &HashMap<String, LabelRecord>,
) -> Result<LabelledData> {
    let schema = Schema::new(inputs.features.clone(), Some(target.clone()))?;
    let width = schema.n_features();
    let mut skipped: BTreeMap<Skipped, usize> = BTreeMap::new();
    let mut values: Vec<f64> = Vec::new();
    let mut y: Vec<f64> = Vec::new();
    let mut ts: Vec<DateTime<Utc>> = Vec::new();
    for row in join_window(records, labels) {
        let x = &row.record.inputs[row.row];
        if x.len() != width || !row_fits(&schema, x) {
            *skipped.entry(Skipped::SchemaMismatch).or_default() += 1;
            continue;
        }
        let Ok(label) = schema.encode_target(&row.label.label) else {
            *skipped.entry(Skipped::BadLabel).or_default() += 1;
            continue;
        };
        values.extend_from_slice(x);
        y.push(label);
        ts.push(row.record.at);
    }
    let n = y.len();
    let x = Array2::from_shape_vec((n, width), values).map_err(|e| {
        Error::Data(format!(
            "labelled rows do not form a {n} × {width} table: {e}"
        ))
    })?;
    let dataset = Dataset::new(schema, x, Some(Array1::from(y)), Some(ts))?
        .with_source("prediction log joined with labels");
    Ok(LabelledData { dataset, skipped })
}

/// Whether a logged row holds values the input schema allows (finite or NaN numbers,
/// level indices or NaN for categoricals).
fn row_fits(schema: &Schema, x: &[f64]) -> bool {
    schema.features.iter().zip(x).all(|(f, &v)| match &f.kind {
        FeatureKind::Numeric => !v.is_infinite(),
        FeatureKind::Categorical { levels } => {
            v.is_nan() || (v >= 0.0 && v.fract() == 0.0 && (v as usize) < levels.len())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_request_and_row() {
        assert_eq!(parse_key("abc").unwrap(), ("abc", None));
        assert_eq!(parse_key("abc/2").unwrap(), ("abc", Some(2)));
        assert_eq!(parse_key("a/b").unwrap(), ("a/b", None));
        assert_eq!(parse_key("abc/").unwrap(), ("abc/", None));
        assert!(parse_key(" ").is_err());
    }
}
