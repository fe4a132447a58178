//! The prediction log: what production scored, with timestamps. Written by `deploy/`
//! through a [`Collector`], read in time windows by `monitor/`; neither knows the other.
//!
//! # On-disk format ([`JsonlPredictionLog`])
//! One JSON object per line ([`PredictionRecord`]), in files partitioned by the hour of
//! the record's timestamp: `<dir>/YYYY/MM/DD/HH.jsonl` (UTC), like Azure ML's data
//! collector. Inputs are the encoded feature rows in the model signature's column order
//! (categoricals as level indices, missing as `null`).

mod collector;
mod jsonl;

pub use collector::{Collector, CollectorStats};
pub use jsonl::JsonlPredictionLog;

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::sync::Mutex;

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
    /// Predicted values (class index or value), one per row; empty on error.
    pub outputs: Vec<f64>,
    /// Scoring latency in microseconds.
    pub latency_us: u64,
    /// The error message, if the request failed.
    pub error: Option<String>,
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
///     inputs: vec![vec![1.0, f64::NAN]], outputs: vec![0.0], latency_us: 40, error: None,
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
