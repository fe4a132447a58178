//! The prediction log: what production scored, with timestamps. Written by `deploy/`
//! through a [`Collector`], read in time windows by `monitor/`; neither knows the other.
//!
//! # On-disk format ([`FilePredictionLog`])
//! Files partitioned by the hour of the record's timestamp (UTC), like Azure ML's data
//! collector: `<dir>/YYYY/MM/DD/HH.predlog` (binary, the default) or `HH.jsonl` (JSON lines,
//! [`LogFormat::JsonLines`]). A log writes one format and reads both, so the format can
//! change without losing history; `mlcycle predictions` prints any window as JSON lines.
//! Inputs are the encoded feature rows in the model signature's column order (categoricals
//! as level indices, missing as NaN).
//!
//! **Binary** (`.predlog`): a sequence of frames, all integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `MLP\x01` |
//! | 4 | payload length `n` (u32) |
//! | 4 | CRC-32 (IEEE, as zlib computes it) of the payload |
//! | n | payload |
//!
//! The payload: `at` seconds since the Unix epoch (i64) and nanoseconds (u32), model
//! version (u32), latency in µs (u64), rows (u32), row width (u32; `0xFFFFFFFF` when rows
//! differ in length), outputs (u32), byte lengths of the request id, model name and error
//! (u32 each; error `0xFFFFFFFF` = no error) — 48 bytes — then those three UTF-8 strings,
//! for rows that differ in length one u32 width per row, the input values row by row and
//! the outputs, each an IEEE-754 binary64 (NaN and infinities kept as they are). A record
//! with class probabilities or notes is written in a frame with magic `MLP\x02` whose payload
//! goes on after the outputs with the number of probability rows and of classes (u32 each),
//! the probabilities row by row (binary64), the number of notes (u32) and each note as its
//! byte length (u32) and UTF-8 text; a record without either in a frame with magic
//! `MLP\x01`, the only kind logs held before probabilities were kept, so those logs read
//! unchanged. A frame cut short by a crash, or one whose checksum fails, is skipped by
//! readers, which resume at the next magic.
//!
//! **JSON lines** (`.jsonl`): one JSON object per line ([`PredictionRecord`]; its
//! `probabilities` and `notes` members only when the record has some, so older lines read as
//! records without them). Numbers are
//! JSON numbers (NaN and infinities as `null`); a reader must compare values, not
//! spellings: where the HTTP server read a request on its fast path, each number that was
//! its own encoding is stored as the client wrote it ([`JsonRows`]: `1.50` stays `1.50`,
//! `4e1` stays `4e1`), every other value as `serde_json` writes an `f64` (`41.0`, `2.0`
//! for a level index).
//!
//! # Collection path
//! Servers hand a [`Collector`] compact [`RequestRecord`]s (the encoded matrix the model
//! scored, shared rather than copied); the collector's writer thread drains them in large
//! batches and stores them through [`PredictionLog::batch_writer`] when the log offers
//! one (the file log serialises every batch into one reusable buffer and writes it with one
//! vectored `write` per partition file: a matrix's values go to the binary file straight
//! from the matrix, received JSON text straight into a JSON-lines file), else through
//! [`PredictionLog::append`].

mod binary;
mod collector;
mod file;
mod jsonl;

pub use collector::{Collector, CollectorLimits, CollectorStats};
pub use file::{FilePredictionLog, LogFormat, Pruned, Retention};
pub use jsonl::JsonRows;
pub(crate) use jsonl::JsonRowsBuilder;

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// One scoring request as served in production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// The request id (returned to the caller; joins the audit trail).
    pub request_id: String,
    /// When the request was served.
    pub at: DateTime<Utc>,
    /// The model name.
    pub model_name: String,
    /// The model version that answered.
    pub model_version: u32,
    /// Encoded input rows (NaN is written as `null`).
    #[serde(with = "nan_rows")]
    pub inputs: Vec<Vec<f64>>,
    /// Predicted values (class index or value), one per row; empty on error. A NaN is
    /// written as `null` and read back as NaN.
    #[serde(deserialize_with = "nan_rows::deserialize_values")]
    pub outputs: Vec<f64>,
    /// Class probabilities of a classifier (one row per input row, one value per class in
    /// the order of the signature's classes); empty for regressors, on error, and in records
    /// logged before probabilities were kept. Written only when not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nan_rows")]
    pub probabilities: Vec<Vec<f64>>,
    /// Scoring latency in microseconds.
    pub latency_us: u64,
    /// The error message, if the request failed.
    pub error: Option<String>,
    /// What the server changed in the input to score it, in words (e.g. an unknown
    /// category scored as missing under `--unknown-category as_missing`); empty for most
    /// records. Written only when not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The input rows of a [`RequestRecord`].
#[derive(Debug, Clone, PartialEq)]
pub enum RecordInputs {
    /// The encoded matrix the model scored (rows × features), shared with the request.
    Matrix(Arc<Array2<f64>>),
    /// Rows given one by one (they may differ in length).
    Rows(Vec<Vec<f64>>),
    /// The rows already written as JSON (e.g. the request's number text as received),
    /// stored verbatim by the JSON-lines format (and parsed back by the binary one).
    Json(Arc<JsonRows>),
}

impl RecordInputs {
    /// Number of input rows.
    pub fn n_rows(&self) -> usize {
        match self {
            RecordInputs::Matrix(m) => m.nrows(),
            RecordInputs::Rows(r) => r.len(),
            RecordInputs::Json(j) => j.n_rows(),
        }
    }

    /// Number of input values.
    pub fn n_values(&self) -> usize {
        match self {
            RecordInputs::Matrix(m) => m.len(),
            RecordInputs::Rows(r) => r.iter().map(Vec::len).sum(),
            RecordInputs::Json(j) => j.n_values(),
        }
    }

    /// The rows as vectors.
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        match self {
            RecordInputs::Matrix(m) => m.outer_iter().map(|r| r.to_vec()).collect(),
            RecordInputs::Rows(r) => r.clone(),
            RecordInputs::Json(j) => j.to_rows(),
        }
    }
}

/// One scoring request in the compact form a [`Collector`] queues: the same content as a
/// [`PredictionRecord`], but the inputs can stay the matrix the model scored (no copy on
/// the request path) and the model name is shared.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The request id.
    pub request_id: String,
    /// When the request was served.
    pub at: DateTime<Utc>,
    /// The model name.
    pub model_name: Arc<str>,
    /// The model version that answered.
    pub model_version: u32,
    /// Encoded input rows (NaN is stored as `null`).
    pub inputs: RecordInputs,
    /// Predicted values (class index or value), one per row; empty on error.
    pub outputs: Vec<f64>,
    /// Class probabilities of a classifier, one row per input row (see
    /// [`PredictionRecord::probabilities`]); empty otherwise.
    pub probabilities: Vec<Vec<f64>>,
    /// Scoring latency in microseconds.
    pub latency_us: u64,
    /// The error message, if the request failed.
    pub error: Option<String>,
    /// What the server changed in the input to score it ([`PredictionRecord::notes`]).
    pub notes: Vec<String>,
}

impl RequestRecord {
    /// The record as a [`PredictionRecord`] (copies the inputs).
    pub fn to_record(&self) -> PredictionRecord {
        PredictionRecord {
            request_id: self.request_id.clone(),
            at: self.at,
            model_name: self.model_name.to_string(),
            model_version: self.model_version,
            inputs: self.inputs.to_rows(),
            outputs: self.outputs.clone(),
            probabilities: self.probabilities.clone(),
            latency_us: self.latency_us,
            error: self.error.clone(),
            notes: self.notes.clone(),
        }
    }

    /// Approximate memory held by the record while it waits in a queue, in bytes.
    pub fn queued_bytes(&self) -> usize {
        let inputs = match &self.inputs {
            RecordInputs::Matrix(m) => 64 + 8 * m.len(),
            RecordInputs::Rows(r) => r.iter().map(|r| 24 + 8 * r.len()).sum(),
            RecordInputs::Json(j) => 64 + j.as_bytes().len(),
        };
        160 + self.request_id.len()
            + inputs
            + 8 * self.outputs.len()
            + self
                .probabilities
                .iter()
                .map(|p| 24 + 8 * p.len())
                .sum::<usize>()
            + self.error.as_ref().map_or(0, String::len)
            + self.notes.iter().map(|n| 24 + n.len()).sum::<usize>()
    }
}

impl From<PredictionRecord> for RequestRecord {
    fn from(r: PredictionRecord) -> Self {
        RequestRecord {
            request_id: r.request_id,
            at: r.at,
            model_name: r.model_name.into(),
            model_version: r.model_version,
            inputs: RecordInputs::Rows(r.inputs),
            outputs: r.outputs,
            probabilities: r.probabilities,
            latency_us: r.latency_us,
            error: r.error,
            notes: r.notes,
        }
    }
}

/// A synchronous writer a [`PredictionLog`] may offer to a [`Collector`]: the collector's
/// writer thread calls it with every batch it drains, so the log can serialise and write
/// a whole batch at once, reusing its buffers from batch to batch.
///
/// # Contract
/// `write` stores the records (each one as [`RequestRecord::to_record`] would give it to
/// [`PredictionLog::append`]) or returns an error; after an error, part of the batch may
/// have been stored.
pub trait BatchWriter: Send {
    /// Store a batch of records.
    fn write(&mut self, records: &[RequestRecord]) -> Result<()>;

    /// Whether the writer stores [`RecordInputs::Json`] text more cheaply than a matrix
    /// (the JSON-lines format does): a server then keeps the request's number text for the
    /// log. The default is `false`: servers hand over the matrix they scored.
    fn wants_json_text(&self) -> bool {
        false
    }
}

mod nan_rows {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(rows: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(rows.len()))?;
        for r in rows {
            let r: Vec<Option<f64>> = r.iter().map(|v| v.is_finite().then_some(*v)).collect();
            seq.serialize_element(&r)?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        let rows: Vec<Vec<Option<f64>>> = Vec::deserialize(d)?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
            .collect())
    }

    pub fn deserialize_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let values: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

/// A record with awkward strings and special output values, for the file formats' tests.
#[cfg(test)]
pub(crate) fn test_record(
    at: DateTime<Utc>,
    id: &str,
    inputs: Vec<Vec<f64>>,
    error: Option<&str>,
) -> PredictionRecord {
    PredictionRecord {
        request_id: id.into(),
        at,
        model_name: "cr\"edit\u{1}é".into(),
        model_version: 7,
        inputs,
        outputs: vec![1.0, f64::NAN, -0.0, 1e300, 3.3e-310],
        probabilities: Vec::new(),
        latency_us: 12_345,
        error: error.map(Into::into),
        notes: Vec::new(),
    }
}

/// Storage of prediction records.
///
/// # Contract
/// - `append` stores all records or returns an error; stored records are never changed.
/// - `read_window(from, to)` returns every stored record with `from <= at < to`, ordered
///   by time (ties in append order).
///
/// ```
/// use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
/// use chrono::{TimeZone, Utc, Duration};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let log = InMemoryPredictionLog::default();
/// let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// log.append(vec![PredictionRecord {
///     request_id: "r1".into(), at: t, model_name: "m".into(), model_version: 1,
///     inputs: vec![vec![1.0, f64::NAN]], outputs: vec![0.0],
///     probabilities: vec![vec![0.8, 0.2]], latency_us: 40, error: None, notes: vec![],
/// }]).await.unwrap();
/// assert_eq!(log.read_window(t, t + Duration::hours(1)).await.unwrap().len(), 1);
/// assert!(log.read_window(t + Duration::hours(1), t + Duration::hours(2)).await.unwrap().is_empty());
/// # });
/// ```
#[async_trait]
pub trait PredictionLog: Send + Sync + Debug {
    /// Store records.
    async fn append(&self, records: Vec<PredictionRecord>) -> Result<()>;
    /// Records with `from <= at < to`, oldest first.
    async fn read_window(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PredictionRecord>>;

    /// The record of the request `request_id` (the most recent one, should an id have been
    /// reused), or `None`. Lineage queries start here.
    ///
    /// Both built-in backends implement it; the default says the backend cannot do it.
    async fn find_request(&self, request_id: &str) -> Result<Option<PredictionRecord>> {
        let _ = request_id;
        Err(crate::Error::invalid(
            "prediction log",
            "this backend cannot look records up by request id (it must implement `PredictionLog::find_request`)",
        ))
    }

    /// A synchronous batch writer for a [`Collector`]'s writer thread, if the backend has
    /// one (the file log does). The default is `None`: the collector then stores
    /// batches through [`PredictionLog::append`].
    fn batch_writer(&self) -> Option<Box<dyn BatchWriter>> {
        None
    }
}

/// A prediction log in memory.
#[derive(Debug, Default)]
pub struct InMemoryPredictionLog {
    records: Mutex<Vec<PredictionRecord>>,
}

#[async_trait]
impl PredictionLog for InMemoryPredictionLog {
    async fn append(&self, records: Vec<PredictionRecord>) -> Result<()> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(records);
        Ok(())
    }

    async fn read_window(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PredictionRecord>> {
        let mut out: Vec<PredictionRecord> = self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| r.at >= from && r.at < to)
            .cloned()
            .collect();
        out.sort_by_key(|r| r.at);
        Ok(out)
    }

    async fn find_request(&self, request_id: &str) -> Result<Option<PredictionRecord>> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .rev()
            .find(|r| r.request_id == request_id)
            .cloned())
    }
}
