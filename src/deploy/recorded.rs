//! Recording of scoring calls, said once: a [`Recorder`] turns one scoring call into a
//! prediction-log record and hands it to the [`Collector`]; [`Recorded`] wraps any
//! [`Deployer`] and records every call made through it.
//!
//! The in-process deployment ([`super::InProcessDeployer`]) and batch scoring
//! ([`super::BatchDeployer`]) are a [`ModelSlot`](super::ModelSlot) inside a [`Recorded`].
//! The HTTP server holds the same [`Recorder`] and calls it from its request handlers
//! instead of going through the async trait: there the record carries the encoded matrix the
//! handler scored (shared, not copied) or the request's JSON text, which the trait's
//! [`ScoreRequest`] cannot express.

use super::{DeployRequest, Deployer, DeploymentInfo, ScoreRequest, ScoreResponse};
use crate::clock::Clock;
use crate::collect::{Collector, PredictionRecord, RecordInputs, RequestRecord};
use crate::model::Prediction;
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// One scoring call, as a [`Recorder`] writes it to the prediction log.
#[derive(Debug)]
pub struct ScoringCall<'a> {
    /// The request id (the caller's, or the one assigned to the request).
    pub request_id: &'a str,
    /// When scoring started.
    pub at: DateTime<Utc>,
    /// The model name.
    pub model_name: Arc<str>,
    /// The version that answered.
    pub model_version: u32,
    /// The rows scored, as the log stores them.
    pub inputs: RecordInputs,
    /// The prediction, or why scoring failed.
    pub result: std::result::Result<&'a Prediction, &'a Error>,
    /// Scoring latency in microseconds.
    pub latency_us: u64,
    /// What the server changed in the input to score it
    /// ([`PredictionRecord::notes`](crate::collect::PredictionRecord::notes)).
    pub notes: Vec<String>,
}

/// Records scoring calls to the prediction log through a [`Collector`]; cheap to clone
/// (the collector is a channel handle).
///
/// Every way of serving shares it: [`Recorded`] for any [`Deployer`], and the HTTP
/// server's handlers. Recording never blocks the caller ([`Recorder::record`] drops and
/// counts a record when the collector's queue is full), except for
/// [`Recorder::record_blocking`], meant for batch jobs on their own threads.
#[derive(Debug, Clone)]
pub struct Recorder {
    collector: Collector,
    clock: Arc<dyn Clock>,
}

impl Recorder {
    /// A recorder writing through `collector`, timestamping with `clock`.
    pub fn new(collector: Collector, clock: Arc<dyn Clock>) -> Self {
        Recorder { collector, clock }
    }

    /// The collector records go to.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// The current time on the recorder's clock (the `at` of a call starting now).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Whether the log stores inputs given as JSON text more cheaply than the scored
    /// matrix (see [`Collector::wants_json_text`]).
    pub fn wants_json_text(&self) -> bool {
        self.collector.wants_json_text()
    }

    /// Record one scoring call without waiting (a full queue drops and counts it).
    pub fn record(&self, call: ScoringCall<'_>) {
        self.collector.record_request(RequestRecord {
            request_id: call.request_id.to_string(),
            at: call.at,
            model_name: call.model_name,
            model_version: call.model_version,
            inputs: call.inputs,
            outputs: call.result.map(|p| p.values.to_vec()).unwrap_or_default(),
            probabilities: match call.result {
                Ok(Prediction {
                    probabilities: Some(p),
                    ..
                }) => p.outer_iter().map(|r| r.to_vec()).collect(),
                _ => Vec::new(),
            },
            latency_us: call.latency_us,
            error: call.result.err().map(ToString::to_string),
            notes: call.notes,
        });
    }

    /// Record a request refused for its input before anything was scored: no rows, no
    /// outputs, `reason` as its error (without waiting; a full queue drops and counts it).
    pub fn record_refused(
        &self,
        request_id: &str,
        at: DateTime<Utc>,
        model_name: Arc<str>,
        model_version: u32,
        reason: &str,
    ) {
        self.collector.record_request(RequestRecord {
            request_id: request_id.to_string(),
            at,
            model_name,
            model_version,
            inputs: RecordInputs::Rows(Vec::new()),
            outputs: Vec::new(),
            probabilities: Vec::new(),
            latency_us: 0,
            error: Some(reason.to_string()),
            notes: vec![],
        });
    }

    /// Record a call, waiting for room in the queue (nothing is dropped). For synchronous
    /// producers such as batch-scoring threads; never call it from async code.
    pub fn record_blocking(&self, record: PredictionRecord) -> Result<()> {
        self.collector.record_blocking(record)
    }

    /// Wait until every record handed over so far is written.
    pub async fn flush(&self) -> Result<()> {
        self.collector.flush().await
    }
}

/// A [`Deployer`] whose scoring calls are recorded: forwards every method to the wrapped
/// deployer and records each `predict` (inputs, outputs or error, version, request id,
/// time, latency) through its [`Recorder`], in the spirit of tower's layers. `undeploy`
/// also flushes the recorder.
///
/// A request without an id gets a fresh UUID here, so the record and the response carry
/// the same id. A failed call is recorded with the version served when it failed; a call
/// failing because nothing is deployed is not recorded (no version answered it).
///
/// ```
/// use mlcycle::clock::SystemClock;
/// use mlcycle::collect::{Collector, InMemoryPredictionLog};
/// use mlcycle::deploy::{Deployer, ModelSlot, Recorded, Recorder};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let clock = Arc::new(SystemClock);
/// let log = Arc::new(InMemoryPredictionLog::default());
/// let recorder = Recorder::new(Collector::spawn(log, 1_024).unwrap(), clock.clone());
/// let deployer = Recorded::new(ModelSlot::new(clock), recorder);
/// assert_eq!(deployer.kind(), "in_process");
/// # });
/// ```
#[derive(Debug)]
pub struct Recorded<D> {
    inner: D,
    recorder: Option<Recorder>,
}

impl<D: Deployer> Recorded<D> {
    /// Record the calls made through `inner` with `recorder`.
    pub fn new(inner: D, recorder: Recorder) -> Self {
        Recorded {
            inner,
            recorder: Some(recorder),
        }
    }

    /// Like [`Recorded::new`] when there is a recorder; with `None`, calls are forwarded
    /// and nothing is recorded.
    pub fn with_optional(inner: D, recorder: Option<Recorder>) -> Self {
        Recorded { inner, recorder }
    }

    /// The wrapped deployer.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The recorder, if any.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// The wrapped deployer, unwrapped.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: Deployer> Deployer for Recorded<D> {
    fn kind(&self) -> &str {
        self.inner.kind()
    }

    async fn deploy(&self, request: DeployRequest) -> Result<DeploymentInfo> {
        self.inner.deploy(request).await
    }

    async fn current(&self) -> Option<DeploymentInfo> {
        self.inner.current().await
    }

    async fn predict(&self, mut request: ScoreRequest) -> Result<ScoreResponse> {
        let Some(recorder) = &self.recorder else {
            return self.inner.predict(request).await;
        };
        let request_id = request
            .request_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        // The inner deployer takes the rows; the log gets a copy.
        let rows = Arc::new(request.rows.clone());
        let at = recorder.now();
        let started = std::time::Instant::now();
        let result = self.inner.predict(request).await;
        let latency_us = started.elapsed().as_micros() as u64;
        match &result {
            Ok(r) => recorder.record(ScoringCall {
                request_id: &request_id,
                at,
                model_name: r.model_name.as_str().into(),
                model_version: r.model_version,
                inputs: RecordInputs::Matrix(rows),
                result: Ok(&r.prediction),
                latency_us,
                notes: Vec::new(),
            }),
            Err(e) => {
                if let Some(info) = self.inner.current().await {
                    recorder.record(ScoringCall {
                        request_id: &request_id,
                        at,
                        model_name: info.model_name.as_str().into(),
                        model_version: info.version,
                        inputs: RecordInputs::Matrix(rows),
                        result: Err(e),
                        latency_us,
                        notes: Vec::new(),
                    });
                }
            }
        }
        result
    }

    async fn undeploy(&self) -> Result<()> {
        self.inner.undeploy().await?;
        if let Some(r) = &self.recorder {
            r.flush().await?;
        }
        Ok(())
    }
}
