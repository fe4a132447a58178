//! What the server shares between requests: the model slots, configuration, metrics and
//! the collector; model selection (version, canary, shadow) and the scoring core.

use super::error::ApiError;
use super::metrics::{Metrics, RequestLabels};
use super::tabular::Encoding;
use super::{HttpConfig, SplitMode, TrafficSplit};
use crate::clock::Clock;
use crate::collect::{Collector, JsonRows, RecordInputs};
use crate::deploy::{DeployRequest, DeploymentInfo};
use crate::deploy::{Recorder, ScoringCall};
use crate::model::{Model, Prediction};
use crate::{Error, Result};
use arc_swap::ArcSwapOption;
use axum::http::HeaderMap;
use ndarray::Array2;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;

/// Batches at least this large are scored on the blocking pool.
const BLOCKING_ROWS: usize = 2_048;

/// Bodies at least this large are parsed on the blocking pool.
const BLOCKING_BODY_BYTES: usize = 64 * 1024;

/// How many client-chosen request ids the server remembers to refuse a reuse (8 bytes
/// each in a hash set and in arrival order: about 14 MiB at most).
pub(super) const RECENT_IDS: usize = 1 << 19;

/// The most recent request ids chosen by clients, as keyed 64-bit hashes (the key is drawn
/// per process, so ids cannot be crafted to collide), oldest forgotten first.
#[derive(Debug)]
pub(super) struct RecentIds {
    hasher: std::collections::hash_map::RandomState,
    capacity: usize,
    inner: std::sync::Mutex<(
        std::collections::HashSet<u64>,
        std::collections::VecDeque<u64>,
    )>,
}

impl RecentIds {
    fn new(capacity: usize) -> Self {
        RecentIds {
            hasher: std::collections::hash_map::RandomState::new(),
            capacity,
            inner: std::sync::Mutex::new(Default::default()),
        }
    }

    /// Take `id` for a request: `Err` when it is already taken, else the handle that
    /// [`RecentIds::release`] gives back.
    pub fn reserve(&self, id: &str) -> std::result::Result<u64, ()> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(id);
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *g;
        if !set.insert(h) {
            return Err(());
        }
        order.push_back(h);
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        Ok(h)
    }

    /// Give an id back (its request was not recorded).
    pub fn release(&self, h: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *g;
        if set.remove(&h)
            && let Some(i) = order.iter().rposition(|x| *x == h)
        {
            order.remove(i);
        }
    }
}

/// A request's rows as read: the encoded matrix to score and, when the reader kept it,
/// the same rows as JSON text for the prediction log (numbers as received).
pub(super) struct Encoded {
    pub x: Array2<f64>,
    pub logged: Option<JsonRows>,
}

impl From<Array2<f64>> for Encoded {
    fn from(x: Array2<f64>) -> Self {
        Encoded { x, logged: None }
    }
}

/// One model version in service, with what the request path needs precomputed.
#[derive(Debug)]
pub(super) struct Served {
    pub name: String,
    /// The name again, shared with the prediction records.
    pub name_shared: Arc<str>,
    /// The name as an `x-model-name` header value (if it can be one).
    pub name_header: Option<axum::http::HeaderValue>,
    pub version: u32,
    pub version_str: String,
    pub model: Arc<dyn Model>,
    pub info: DeploymentInfo,
    /// Feature name → column index.
    pub columns: HashMap<String, usize>,
    /// Class labels as JSON, for classifiers: integers when every label reads as one (the
    /// training target's type), strings otherwise.
    pub label_json: Option<Vec<serde_json::Value>>,
    /// The same labels serialised as JSON (empty for regressors).
    pub label_text: Vec<String>,
    /// Metric handles of this version, taken from their families on first use.
    rows_counter: OnceLock<Counter>,
    ok_invocations: OnceLock<Counter>,
    ok_v2_infer: OnceLock<Counter>,
}

impl Served {
    fn new(request: DeployRequest, deployer: &str, endpoint: &str, clock: &dyn Clock) -> Self {
        let sig = request.model.signature();
        let columns = sig
            .inputs
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        // One type for every label: integers when all of them read as one, else strings.
        let label_json = sig.target.kind.classes().map(|cs| {
            let ints: Option<Vec<i64>> = cs
                .iter()
                .map(|c| c.parse::<i64>().ok().filter(|i| i.to_string() == *c))
                .collect();
            match ints {
                Some(ints) => ints.into_iter().map(serde_json::Value::from).collect(),
                None => cs
                    .iter()
                    .map(|c| serde_json::Value::from(c.as_str()))
                    .collect(),
            }
        });
        let label_text = label_json
            .iter()
            .flatten()
            .map(|v| serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
            .collect();
        Served {
            rows_counter: OnceLock::new(),
            ok_invocations: OnceLock::new(),
            ok_v2_infer: OnceLock::new(),
            label_text,
            version_str: request.version.to_string(),
            info: DeploymentInfo {
                deployer: deployer.into(),
                endpoint: endpoint.into(),
                model_name: request.model_name.clone(),
                version: request.version,
                since: clock.now(),
            },
            name_shared: request.model_name.as_str().into(),
            name_header: axum::http::HeaderValue::from_str(&request.model_name).ok(),
            name: request.model_name,
            version: request.version,
            model: request.model,
            columns,
            label_json,
        }
    }

    /// The counter of requests to `endpoint` this version answered with 200.
    pub fn ok_requests(&self, metrics: &Metrics, endpoint: &'static str) -> Counter {
        let make = || {
            metrics
                .requests
                .get_or_create(&RequestLabels {
                    endpoint,
                    model: self.name.clone(),
                    version: self.version_str.clone(),
                    status: 200,
                })
                .clone()
        };
        match endpoint {
            "invocations" => self.ok_invocations.get_or_init(make).clone(),
            "v2_infer" => self.ok_v2_infer.get_or_init(make).clone(),
            _ => make(),
        }
    }

    /// Count `n` rows scored by this version.
    pub fn rows_scored(&self, metrics: &Metrics, n: usize) {
        self.rows_counter
            .get_or_init(|| metrics.rows_counter(&self.name, &self.version_str))
            .inc_by(n as u64);
    }

    /// Class labels, for classifiers.
    pub fn classes(&self) -> Option<&[String]> {
        self.model.signature().target.kind.classes()
    }
}

/// Check that a model scores a probe row (zeros, first levels) before it gets traffic.
pub(super) fn verify(model: &dyn Model) -> Result<()> {
    let sig = model.signature();
    let n = sig.inputs.n_features();
    if n == 0 {
        return Err(Error::invalid(
            "model",
            "its signature has no input features",
        ));
    }
    let probe = Array2::<f64>::zeros((1, n));
    let p = model
        .predict(probe.view())
        .map_err(|e| Error::invalid("model", format!("it failed to score a probe row: {e}")))?;
    let ok = p.values.len() == 1
        && p.values.iter().all(|v| v.is_finite())
        && match (&p.probabilities, sig.n_classes()) {
            (Some(pr), k) if k > 0 => pr.dim() == (1, k),
            (None, 0) => true,
            _ => false,
        };
    if !ok {
        return Err(Error::invalid(
            "model",
            "its probe prediction does not match its signature",
        ));
    }
    Ok(())
}

#[derive(Debug)]
pub(super) struct Challenger {
    pub served: Arc<Served>,
    pub split: TrafficSplit,
}

/// Which version answers a request, and which (if any) gets a shadow copy.
pub(super) struct Selection {
    pub answer: Arc<Served>,
    pub shadow: Option<Arc<Served>>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub champion: ArcSwapOption<Served>,
    pub challenger: ArcSwapOption<Challenger>,
    pub config: HttpConfig,
    pub clock: Arc<dyn Clock>,
    /// Records every scored request (the same recording code as [`crate::deploy::Recorded`]).
    pub recorder: Option<Recorder>,
    pub metrics: Metrics,
    pub endpoint: String,
    route_counter: AtomicU64,
    /// Held (read) by every shadow scoring task; taken (write) to wait for all of them.
    shadow_gate: Arc<tokio::sync::RwLock<()>>,
    shadow_closed: tokio::sync::Mutex<Option<tokio::sync::OwnedRwLockWriteGuard<()>>>,
    /// Requests being handled ([`super::Limits::max_in_flight`] permits).
    pub in_flight: Arc<Semaphore>,
    /// Bodies being parsed on the blocking pool (one permit per CPU).
    parse_permits: Arc<Semaphore>,
    /// Request ids chosen by clients and already recorded (or being scored).
    pub request_ids: RecentIds,
}

impl Shared {
    pub fn new(
        config: HttpConfig,
        clock: Arc<dyn Clock>,
        collector: Option<Collector>,
        endpoint: String,
    ) -> Self {
        let config_in_flight = config.limits.max_in_flight;
        Shared {
            champion: ArcSwapOption::empty(),
            challenger: ArcSwapOption::empty(),
            config,
            metrics: Metrics::new(collector.clone()),
            recorder: collector.map(|c| Recorder::new(c, clock.clone())),
            clock,
            endpoint,
            route_counter: AtomicU64::new(0),
            shadow_gate: Arc::new(tokio::sync::RwLock::new(())),
            shadow_closed: tokio::sync::Mutex::new(None),
            in_flight: Arc::new(Semaphore::new(
                config_in_flight.clamp(1, Semaphore::MAX_PERMITS),
            )),
            parse_permits: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            request_ids: RecentIds::new(RECENT_IDS),
        }
    }

    /// Run `f` (parsing a body of `len` bytes) on the blocking pool behind the parse
    /// concurrency limit, or inline when the body is small.
    pub async fn off_runtime<T: Send + 'static>(
        &self,
        len: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<T, ApiError> {
        if len < BLOCKING_BODY_BYTES {
            return Ok(f());
        }
        let _permit = self
            .parse_permits
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("the server is stopping"))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::internal(format!("parsing task failed: {e}")))
    }

    fn served(&self, request: DeployRequest) -> Result<Arc<Served>> {
        verify(request.model.as_ref())?;
        Ok(Arc::new(Served::new(
            request,
            "http",
            &self.endpoint,
            self.clock.as_ref(),
        )))
    }

    pub fn install_champion(&self, request: DeployRequest) -> Result<DeploymentInfo> {
        let served = self.served(request)?;
        let info = served.info.clone();
        self.champion.store(Some(served));
        self.metrics.swaps.inc();
        Ok(info)
    }

    pub fn install_challenger(
        &self,
        request: DeployRequest,
        split: TrafficSplit,
    ) -> Result<DeploymentInfo> {
        let served = self.served(request)?;
        let info = served.info.clone();
        self.challenger
            .store(Some(Arc::new(Challenger { served, split })));
        self.metrics.swaps.inc();
        Ok(info)
    }

    pub fn clear_challenger(&self) {
        if self.challenger.swap(None).is_some() {
            self.metrics.swaps.inc();
        }
    }

    pub fn challenger_info(&self) -> Option<(DeploymentInfo, TrafficSplit)> {
        self.challenger
            .load()
            .as_ref()
            .map(|c| (c.served.info.clone(), c.split))
    }

    /// The champion, or 503 when nothing is deployed.
    pub fn champion_or_503(&self) -> std::result::Result<Arc<Served>, ApiError> {
        self.champion
            .load_full()
            .ok_or_else(|| ApiError::unavailable("no model is deployed yet"))
    }

    /// The served version for a V2 path: `name` must be the served model; `version`, if
    /// given, must be the champion's or the challenger's.
    pub fn lookup(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> std::result::Result<Arc<Served>, ApiError> {
        let champion = self.champion_or_503()?;
        if name != champion.name {
            return Err(ApiError::not_found(format!(
                "model `{}` does not exist on this server",
                crate::data::truncate_for_message(name)
            )));
        }
        match version {
            None => Ok(champion),
            Some(v) if v == champion.version_str => Ok(champion),
            Some(v) => match self.challenger.load_full() {
                Some(c) if c.served.version_str == v => Ok(c.served.clone()),
                _ => Err(ApiError::not_found(format!(
                    "model `{}` version `{}` is not served here (serving version {})",
                    champion.name,
                    crate::data::truncate_for_message(v),
                    champion.version
                ))),
            },
        }
    }

    /// Pick the version that answers (and a shadow) for a request without an explicit
    /// version. `route_key` makes the choice sticky.
    pub fn select(&self, champion: Arc<Served>, route_key: Option<&str>) -> Selection {
        let Some(ch) = self.challenger.load_full() else {
            return Selection {
                answer: champion,
                shadow: None,
            };
        };
        let bucket = match route_key {
            Some(k) => {
                // FNV-1a: stable across processes and releases.
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in k.as_bytes() {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                unit(h)
            }
            None => {
                // A Weyl sequence: exact long-run proportions without a random source.
                let n = self.route_counter.fetch_add(1, Ordering::Relaxed);
                unit(n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            }
        };
        let picked = bucket < ch.split.weight;
        match (ch.split.mode, picked) {
            (SplitMode::Canary, true) => Selection {
                answer: ch.served.clone(),
                shadow: None,
            },
            (SplitMode::Shadow, true) => Selection {
                answer: champion,
                shadow: Some(ch.served.clone()),
            },
            (_, false) => Selection {
                answer: champion,
                shadow: None,
            },
        }
    }

    /// Encoding options from the configuration.
    pub fn encoding(&self) -> Encoding {
        Encoding {
            strict: self.config.strict,
            unknown: self.config.unknown_level,
            max_rows: self.config.limits.max_rows,
        }
    }

    /// Route a request (explicit version, or canary / shadow split sticky by the route-key
    /// header), encode its rows for the answering version and score them.
    pub async fn route_and_score(
        self: &Arc<Self>,
        looked_up: Arc<Served>,
        explicit_version: bool,
        headers: &HeaderMap,
        request_id: &str,
        body_len: usize,
        encode: impl Fn(&Served, &Encoding) -> std::result::Result<Encoded, ApiError> + Send + 'static,
    ) -> std::result::Result<(Arc<Served>, Prediction), ApiError> {
        let selection = if explicit_version {
            Selection {
                answer: looked_up,
                shadow: None,
            }
        } else {
            let key = headers
                .get(self.config.route_key_header.as_str())
                .and_then(|v| v.to_str().ok());
            self.select(looked_up, key)
        };
        let served = selection.answer;
        let enc = self.encoding();
        let for_parse = served.clone();
        let encoded = self
            .off_runtime(body_len, move || {
                encode_noting_unknown(&for_parse, &enc, encode)
            })
            .await?;
        let (Encoded { x, logged }, notes) = match encoded {
            Ok(e) => e,
            Err(e) => {
                self.record_refused(&served, request_id, &e);
                return Err(e);
            }
        };
        if x.ncols() > 0
            && let Some(r) = x
                .outer_iter()
                .position(|row| row.iter().all(|v| v.is_nan()))
        {
            let e = ApiError::bad_request(format!(
                "row {r} has no usable value: every feature is empty or missing, so a prediction would say nothing about it"
            ));
            self.record_refused(&served, request_id, &e);
            return Err(e);
        }
        let x = Arc::new(x);
        let inputs = match logged {
            Some(text) if self.recorder.is_some() => RecordInputs::Json(Arc::new(text)),
            _ => RecordInputs::Matrix(x.clone()),
        };
        // A shadow with another input signature cannot score these encoded rows.
        let same_inputs =
            |s: &Arc<Served>| s.model.signature().inputs == served.model.signature().inputs;
        if let Some(shadow) = selection.shadow.filter(same_inputs) {
            self.shadow(shadow, x.clone(), inputs.clone(), request_id);
        }
        let p = self.score(&served, x, inputs, request_id, notes).await?;
        Ok((served, p))
    }

    /// Score `rows` with `served`, record the request (with `inputs`, the same rows as the
    /// log stores them, and `notes` on what was changed in them), count rows. Errors of the
    /// model (bad codes, non-finite values) become 400.
    pub async fn score(
        self: &Arc<Self>,
        served: &Arc<Served>,
        rows: Arc<Array2<f64>>,
        inputs: RecordInputs,
        request_id: &str,
        notes: Vec<String>,
    ) -> std::result::Result<Prediction, ApiError> {
        let at = self.clock.now();
        let started = std::time::Instant::now();
        let result = if rows.nrows() >= BLOCKING_ROWS {
            let model = served.model.clone();
            let r = rows.clone();
            tokio::task::spawn_blocking(move || model.predict(r.view()))
                .await
                .map_err(|e| ApiError::internal(format!("scoring task failed: {e}")))?
        } else {
            served.model.predict(rows.view())
        };
        let latency_us = started.elapsed().as_micros() as u64;
        self.record(served, inputs, &result, request_id, at, latency_us, notes);
        if result.is_ok() {
            served.rows_scored(&self.metrics, rows.nrows());
        }
        result.map_err(ApiError::from_model)
    }

    /// Score a shadow copy in the background: logged, never returned.
    pub fn shadow(
        self: &Arc<Self>,
        served: Arc<Served>,
        rows: Arc<Array2<f64>>,
        inputs: RecordInputs,
        request_id: &str,
    ) {
        let Ok(guard) = self.shadow_gate.clone().try_read_owned() else {
            return; // shutting down
        };
        let this = self.clone();
        let request_id = request_id.to_string();
        self.metrics.shadow_requests.inc();
        tokio::spawn(async move {
            let _ = this
                .score(&served, rows, inputs, &request_id, Vec::new())
                .await;
            drop(guard);
        });
    }

    /// Wait until every shadow scoring task has finished (and refuse new ones).
    pub async fn drain_shadows(&self) {
        let mut closed = self.shadow_closed.lock().await;
        if closed.is_none() {
            *closed = Some(self.shadow_gate.clone().write_owned().await);
        }
    }

    /// Record a request refused for its input (a 400: unknown category, missing feature,
    /// bad value ...) in the prediction log: no rows, the reason as its error, so monitoring
    /// counts it. Other refusals (overload, unknown model) are not the input's fault and
    /// are not recorded.
    pub fn record_refused(&self, served: &Served, request_id: &str, e: &ApiError) {
        if e.status != axum::http::StatusCode::BAD_REQUEST {
            return;
        }
        if let Some(r) = &self.recorder {
            r.record_refused(
                request_id,
                self.clock.now(),
                served.name_shared.clone(),
                served.version,
                &e.message,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        served: &Served,
        inputs: RecordInputs,
        result: &Result<Prediction>,
        request_id: &str,
        at: chrono::DateTime<chrono::Utc>,
        latency_us: u64,
        notes: Vec<String>,
    ) {
        if let Some(r) = &self.recorder {
            r.record(ScoringCall {
                request_id,
                at,
                model_name: served.name_shared.clone(),
                model_version: served.version,
                inputs,
                result: result.as_ref(),
                latency_us,
                notes,
            });
        }
    }
}

/// Encode a request with `encode`. Under `as_missing`, a request with an unknown category
/// is encoded first as `reject` would, to learn which (the first) and say it in a note for
/// the log, then again with the unknown value as missing: monitoring counts such requests
/// whichever the policy. Only requests with an unknown category are encoded twice.
fn encode_noting_unknown(
    served: &Served,
    enc: &Encoding,
    encode: impl Fn(&Served, &Encoding) -> std::result::Result<Encoded, ApiError>,
) -> std::result::Result<(Encoded, Vec<String>), ApiError> {
    if enc.unknown != crate::data::UnknownLevel::AsMissing {
        return encode(served, enc).map(|e| (e, Vec::new()));
    }
    let strict = Encoding {
        unknown: crate::data::UnknownLevel::Error,
        ..*enc
    };
    match encode(served, &strict) {
        Err(e)
            if e.status == axum::http::StatusCode::BAD_REQUEST
                && e.message.contains("unknown category") =>
        {
            // The refusal names the column and value, then says what to do about it.
            let what = e.message.split("; ").next().unwrap_or(&e.message);
            let note = format!("{what}: scored as missing (unknown_category as_missing)");
            encode(served, enc).map(|x| (x, vec![note]))
        }
        other => other.map(|x| (x, Vec::new())),
    }
}

/// Map a hash to [0, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::RecentIds;

    #[test]
    fn a_reserved_id_is_refused_until_released_or_forgotten() {
        let ids = RecentIds::new(2);
        let a = ids.reserve("a").unwrap();
        assert!(ids.reserve("a").is_err());
        ids.release(a);
        assert!(ids.reserve("a").is_ok());
        assert!(ids.reserve("b").is_ok());
        assert!(ids.reserve("c").is_ok()); // "a" is forgotten, the oldest of three
        assert!(ids.reserve("b").is_err());
        assert!(ids.reserve("a").is_ok());
    }
}
