//! The HTTP inference server: [`HttpDeployer`] serves the deployed model over HTTP with
//! the **Open Inference Protocol v2** (KServe / Triton REST, including the binary tensor
//! data extension) and the **MLflow scoring protocol** (`POST /invocations`), so clients
//! written for either work unchanged.
//!
//! # Routes
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /v2/health/live` | `{"live": true}` |
//! | `GET /v2/health/ready` | `{"ready": bool}` (503 while no model is deployed) |
//! | `GET /v2` | `{"name", "version", "extensions": ["binary_tensor_data"]}` |
//! | `GET /v2/models/{m}[/versions/{v}]` | model metadata (one input tensor per feature, outputs) |
//! | `GET /v2/models/{m}[/versions/{v}]/ready` | `{"name", "ready"}` |
//! | `POST /v2/models/{m}[/versions/{v}]/infer` | V2 inference (JSON or binary tensors) |
//! | `POST /v2/models/{m}/explain` | per-row contributions and base value of the served version (same inputs as `infer`): `{"id", "model", "version", "output", "method", "class", "base_value", "rows": [{"row", "value", "contributions": {FEATURE: x}}], "importance"}`, `base_value + Σ contributions = value` |
//! | `POST /invocations` | MLflow scoring: `dataframe_split`, `dataframe_records`, `instances`, `inputs`, `text/csv` |
//! | `GET /ping`, `GET /health` | 200 `"\n"` when a model is served (MLflow) |
//! | `GET /version` | the crate version, raw (MLflow) |
//! | `GET /metrics` | Prometheus metrics (OpenMetrics text) |
//! | `POST /labels` | ground-truth labels: a JSON array of `{"request_id", "label", "at"?}` ([`HttpConfig::labels`]; needs the admin token when one is configured) |
//!
//! # Inputs
//! V2 requests send either one tensor per feature (named like the feature, shape `[n]` or
//! `[n, 1]`; numeric features take FP16/FP32/FP64/INT*/UINT*/BOOL, categorical features
//! take BYTES level names), or a single 2-D tensor of shape `[n, features]` whose name is
//! not a feature name (the whole matrix, in the signature's column order; categorical
//! columns as BYTES level names or as level indices). MLflow requests name columns as in
//! the signature. Missing columns, wrong types and unknown categorical levels are refused
//! with 400 and a message naming the column; extra columns are ignored unless
//! [`HttpConfig::strict`] is set.
//!
//! # Outputs
//! `predict`: the class label for classifiers or the value (FP64) for regressors;
//! `predict_proba`: class probabilities (FP64, `[n, classes]`, in the order of the
//! signature's classes) for classifiers. Class labels have one type, the training target's,
//! in every protocol: when every label reads as an integer they are integers (v2: INT64;
//! MLflow: JSON numbers), otherwise strings (v2: BYTES). MLflow answers
//! `{"predictions": [label, ...]}`; with `"params": {"predict_method": "predict_proba"}` (as
//! MLflow's scikit-learn flavour) it answers `{"predictions": [[p, ...], ...]}`, one row of
//! class probabilities per input row; with `"params": {"probabilities": true}` each
//! prediction is `{"prediction": label, "probabilities": {class: p, ...}}`.
//!
//! # Missing values and numbers written as text
//! `/invocations` reads values as MLflow does (through pandas): a numeric column takes a JSON
//! number, `null`, or a string that reads as a number (`"49.0"`) or as missing (`""`,
//! `"NaN"`, `"NA"`, …). The v2 protocol types every tensor, as the Open Inference Protocol
//! says: the data of an FP64/FP32/INT tensor are JSON numbers, with `null` for a missing
//! value, and a string among them (even `"NaN"`) is refused; BYTES tensors carry categories
//! (`null` or `""` is missing). A missing value is scored (the model imputes or routes it); a
//! row with no usable value at all is refused with 400; an unknown category is refused
//! unless [`HttpConfig::unknown_level`] is `AsMissing` (`mlcycle serve --unknown-category
//! as_missing`). A request refused for its input (400) is recorded in the prediction log as an
//! error with its reason and no rows, so monitoring counts it.
//!
//! # Request ids
//! The request id is the `x-request-id` header when the caller gives one, else (v2) the
//! body's `id`, else a fresh UUID. It is returned in the `x-request-id` header and in the v2
//! body's `id`, recorded with the prediction, and found by `mlcycle predictions
//! --request-id` and `mlcycle lineage prediction`. Scoring
//! responses also carry `x-model-name` and `x-model-version` (the one version that
//! answered). V2 errors are `{"error": "..."}`; MLflow errors are
//! `{"error_code", "message", "error"}`; both with `Content-Type: application/json`.
//!
//! # Authentication, TLS and limits
//! With [`HttpConfig::api_token`] set (`mlcycle serve`: the `MLCYCLE_API_TOKEN`
//! environment variable) every route but the health probes (`/v2/health/live`,
//! `/v2/health/ready`, `/ping`, `/health`) needs `Authorization: Bearer <token>` (401
//! otherwise; compared in constant time); the admin and label routes check the admin token
//! instead. [`HttpConfig::tls`] serves HTTPS (rustls, feature `tls`). [`Limits`] bounds
//! bodies, rows, JSON values (counted before parsing), time per request, requests in flight
//! (503 with `Retry-After`), open connections (503 with `Retry-After`, then closed), the time
//! to send a request header and keep-alive silence. A client-chosen `x-request-id` already
//! used by a recorded request of this server is refused with 409. The defaults and the
//! threat model are in `docs/SECURITY.md`.
//!
//! # Data collection
//! Every scored request (inputs as encoded rows, outputs, model name and version, request
//! id, time from the [`Clock`]) goes to the prediction log through the bounded
//! [`Collector`]: the request path only hands over the encoded matrix it scored (shared,
//! not copied or serialised) and never waits; the queue is bounded in records and in
//! bytes ([`crate::collect::CollectorLimits`]), drops are counted and exposed on
//! `/metrics` (`mlcycle_prediction_log_dropped`); where the log would outgrow the disk,
//! `mlcycle serve --collect-sample 0.1` ([`crate::collect::Collector::with_sampling_rate`])
//! records a tenth of the requests, chosen by request id, rather than whatever a full
//! queue lets through. The writer serialises and writes whole batches off the runtime,
//! and the log is flushed on graceful stop.
//! With [`crate::collect::FilePredictionLog`] the records land in hourly files under
//! `<dir>/YYYY/MM/DD/` (UTC; `mlcycle serve` uses `<store>/predictions`), one
//! [`crate::collect::PredictionRecord`] per request, inputs being the encoded rows in the
//! signature's column order (categoricals as level indices, missing as NaN) and outputs
//! the predicted class index or value per row. In the default binary format
//! (`HH.predlog`) the scored matrix's values go to the file as they are, straight from the
//! matrix; with [`crate::collect::LogFormat::JsonLines`] (`HH.jsonl`, `mlcycle serve
//! --log-format jsonl`) MLflow `dataframe_split` and `instances`/`inputs` row lists keep
//! their numbers as the client wrote them (here `41`, `5.2e4` and `0.310`; the categorical
//! level index is written as `2.0`); other requests are written from the encoded values
//! (`41.0`). Readers compare values, not spellings; `mlcycle predictions` prints either
//! format as these lines:
//!
//! ```text
//! {"request_id":"req-42","at":"2026-03-01T12:00:00Z","model_name":"credit","model_version":3,"inputs":[[41,5.2e4,0.310,2.0]],"outputs":[1.0],"latency_us":38,"error":null}
//! ```
//!
//! A shadow challenger's record carries the same request id and the challenger's version.
//! Requests refused before scoring (bad input, limits) are counted on `/metrics` but not
//! recorded, since they have no encoded rows.
//!
//! ```no_run
//! use mlcycle::deploy::{Deployer, DeployRequest};
//! use mlcycle::deploy::http::{HttpConfig, HttpDeployer};
//! use mlcycle::clock::SystemClock;
//! use mlcycle::testing::{CreditDefault, DriftSpec};
//! use mlcycle::train::{fit_logistic, LogisticParams};
//! use std::sync::Arc;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let data = CreditDefault::new(1).sample(300, &DriftSpec::none(), 0).unwrap();
//! let model = Arc::new(fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap());
//! let server = HttpDeployer::start(HttpConfig::default(), Arc::new(SystemClock), None).await.unwrap();
//! server.deploy(DeployRequest { model_name: "credit".into(), version: 1, model }).await.unwrap();
//! println!("serving on {}", server.endpoint());
//! server.undeploy().await.unwrap(); // graceful stop
//! # });
//! ```

mod admin;
mod auth;
mod body;
mod budget;
mod error;
mod explain;
mod fastjson;
mod follow;
mod labels;
mod listener;
mod metrics;
mod mlflow;
mod server;
mod state;
mod tabular;
mod v2;

pub use admin::ApprovalsAdmin;
pub use auth::{ADMIN_TOKEN_ENV, API_TOKEN_ENV};
pub use follow::{AliasFollower, FollowSpec};
pub use labels::LabelSink;

use super::{DeployRequest, Deployer, DeploymentInfo, ScoreRequest, ScoreResponse, ScoringCall};
use crate::clock::Clock;
use crate::collect::{Collector, RecordInputs};
use crate::data::UnknownLevel;
use crate::registry::Registry;
use crate::{Error, Result};
use async_trait::async_trait;
use state::Shared;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Limits applied to every request and connection.
///
/// The defaults: 16 MiB bodies, 100,000 rows per request, 30 s per request, 1,024
/// connections, 10 s to send a complete request header, 60 s idle keep-alive, 512 requests
/// in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Most rows scored in one request (more: 400). A JSON body is counted while it is
    /// read, before it is parsed: MLflow row lists longer than this are refused at the
    /// first row over the limit, and a body holding more than `max_rows × (features + 1)`
    /// JSON values (plus 4,096 for names, shapes and parameters) is refused with 413
    /// before anything is built from it.
    pub max_rows: usize,
    /// Longest time a request may take, reading the body included (longer: 503).
    pub request_timeout: Duration,
    /// Most open connections; one accepted beyond it is answered 503 with `Retry-After`
    /// and closed.
    pub max_connections: usize,
    /// Time a connection has to send a complete request header, from being accepted (or,
    /// on a kept-alive connection, from the first byte of its next request); then it is
    /// closed.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may stay silent after an answer before it is closed.
    pub idle_timeout: Duration,
    /// Most requests handled at once (health probes and `/metrics` excepted); more are
    /// answered 503 with `Retry-After: 1`.
    pub max_in_flight: usize,
}

impl Limits {
    /// Refuse limits that would stop the server from answering anything.
    fn check(&self) -> Result<()> {
        let zero = |what: &str, v: bool| {
            if v {
                Err(Error::invalid(
                    format!("server limit `{what}`"),
                    "it must be above zero",
                ))
            } else {
                Ok(())
            }
        };
        zero("max_body_bytes", self.max_body_bytes == 0)?;
        zero("max_rows", self.max_rows == 0)?;
        zero("request_timeout", self.request_timeout.is_zero())?;
        zero("max_connections", self.max_connections == 0)?;
        zero("header_timeout", self.header_timeout.is_zero())?;
        zero("idle_timeout", self.idle_timeout.is_zero())?;
        zero("max_in_flight", self.max_in_flight == 0)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_rows: 100_000,
            request_timeout: Duration::from_secs(30),
            max_connections: 1_024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_in_flight: 512,
        }
    }
}

/// How a challenger shares traffic with the champion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitMode {
    /// The challenger answers its share of requests (its answers are returned).
    Canary,
    /// The champion answers every request; the challenger scores a copy of its share,
    /// and its answer is only logged.
    Shadow,
}

/// A traffic split between the champion and a challenger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficSplit {
    /// Canary or shadow.
    pub mode: SplitMode,
    /// Share of requests (0–1) routed (canary) or copied (shadow) to the challenger.
    pub weight: f64,
}

impl TrafficSplit {
    /// A canary taking `weight` (0–1) of the traffic.
    pub fn canary(weight: f64) -> Self {
        TrafficSplit {
            mode: SplitMode::Canary,
            weight,
        }
    }

    /// A shadow receiving a copy of `weight` (0–1) of the traffic.
    pub fn shadow(weight: f64) -> Self {
        TrafficSplit {
            mode: SplitMode::Shadow,
            weight,
        }
    }

    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.weight) {
            return Err(Error::invalid(
                "traffic split weight",
                format!("{} is outside 0–1", self.weight),
            ));
        }
        Ok(())
    }
}

/// The certificate and key of an HTTPS server (PEM files). Serving TLS needs the `tls`
/// feature; without it [`HttpDeployer::start`] refuses a configuration that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (`BEGIN CERTIFICATE` blocks).
    pub cert: std::path::PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub key: std::path::PathBuf,
}

/// Server configuration.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on (port 0 picks a free port; see [`HttpDeployer::local_addr`]).
    pub addr: SocketAddr,
    /// Request limits.
    pub limits: Limits,
    /// Serve HTTPS with this certificate and key (feature `tls`); `None`: plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Refuse input columns that are not in the model signature (default: ignore them).
    pub strict: bool,
    /// What to do with a categorical value outside the signature's levels (default: 400).
    pub unknown_level: UnknownLevel,
    /// Header whose value pins a caller to one side of a traffic split (sticky routing).
    pub route_key_header: String,
    /// The bearer token every route but the health probes and the admin routes requires
    /// (`mlcycle serve` reads it from [`API_TOKEN_ENV`]); `None`: those routes are open.
    pub api_token: Option<String>,
    /// The bearer token of the admin routes (`mlcycle serve` reads it from
    /// [`ADMIN_TOKEN_ENV`]); `None` disables them (403).
    pub admin_token: Option<String>,
    /// The approvals behind the admin routes `/admin/pending` and `.../approve|reject`
    /// (`mlcycle serve` sets it from its store); `None` answers them 501.
    pub approvals: Option<Arc<dyn ApprovalsAdmin>>,
    /// Where `POST /labels` stores ground-truth labels (`mlcycle serve` sets the store's);
    /// `None`: the route answers 404.
    pub labels: Option<LabelSink>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            limits: Limits::default(),
            tls: None,
            strict: false,
            unknown_level: UnknownLevel::Error,
            route_key_header: "x-route-key".into(),
            api_token: None,
            admin_token: None,
            approvals: None,
            labels: None,
        }
    }
}

impl HttpConfig {
    /// The default configuration listening on `addr`.
    pub fn with_addr(addr: SocketAddr) -> Self {
        HttpConfig {
            addr,
            ..HttpConfig::default()
        }
    }
}

/// A deployment served over HTTP (see the module docs for routes and formats).
///
/// `deploy` hot-swaps the served model atomically (every request is answered by exactly
/// one version, and none fails because of a swap); `predict` scores in-process through the
/// same slot; `undeploy` stops the server gracefully (stops accepting, finishes in-flight
/// requests, flushes the prediction log).
#[derive(Debug)]
pub struct HttpDeployer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: tokio::sync::Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    followers: Mutex<Vec<JoinHandle<()>>>,
}

impl HttpDeployer {
    /// Bind `config.addr` and start serving (with no model until [`Deployer::deploy`]).
    /// `collector` receives a record of every scored request. Must be called inside a
    /// tokio runtime.
    pub async fn start(
        config: HttpConfig,
        clock: Arc<dyn Clock>,
        collector: Option<Collector>,
    ) -> Result<HttpDeployer> {
        config.limits.check()?;
        #[cfg(feature = "tls")]
        let tls = config
            .tls
            .as_ref()
            .map(listener::tls_acceptor)
            .transpose()?;
        #[cfg(not(feature = "tls"))]
        if config.tls.is_some() {
            return Err(Error::invalid(
                "TLS",
                "this build of mlcycle has no TLS support: build it with the `tls` feature \
                 or terminate TLS in a reverse proxy",
            ));
        }
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::io(config.addr.to_string(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(config.addr.to_string(), e))?;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let shared = Arc::new(Shared::new(
            config,
            clock,
            collector,
            format!("{scheme}://{addr}"),
        ));
        let limits = &shared.config.limits;
        let conn_limits = listener::ConnLimits {
            max_connections: limits.max_connections,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
        };
        let app = server::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        #[cfg(feature = "tls")]
        let server = match tls {
            Some(tls) => tokio::spawn(listener::serve(
                listener,
                app,
                conn_limits,
                Arc::new(tls),
                rx,
            )),
            None => tokio::spawn(listener::serve(
                listener,
                app,
                conn_limits,
                Arc::new(listener::Plain),
                rx,
            )),
        };
        #[cfg(not(feature = "tls"))]
        let server = tokio::spawn(listener::serve(
            listener,
            app,
            conn_limits,
            Arc::new(listener::Plain),
            rx,
        ));
        Ok(HttpDeployer {
            shared,
            addr,
            stop: Mutex::new(Some(tx)),
            server: tokio::sync::Mutex::new(Some(server)),
            followers: Mutex::new(Vec::new()),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:8080` (`https://…` when serving TLS).
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// Serve `request.model` as challenger next to the champion, sharing traffic by `split`.
    /// The model is checked (it must score a probe row) before it receives traffic.
    pub async fn set_challenger(
        &self,
        request: DeployRequest,
        split: TrafficSplit,
    ) -> Result<DeploymentInfo> {
        split.check()?;
        self.shared.install_challenger(request, split)
    }

    /// Stop sending traffic to the challenger.
    pub fn clear_challenger(&self) {
        self.shared.clear_challenger();
    }

    /// The challenger and its split, if any.
    pub fn challenger(&self) -> Option<(DeploymentInfo, TrafficSplit)> {
        self.shared.challenger_info()
    }

    /// Follow registry aliases: serve what `spec.reference` resolves to (and a challenger,
    /// if configured), load and check new versions in the background when the registry
    /// reports a change, and swap them in atomically. Resolves and deploys once before
    /// returning, then polls the registry's events every `spec.poll_interval`.
    pub async fn follow(
        &self,
        registry: Arc<dyn Registry>,
        spec: FollowSpec,
    ) -> Result<Arc<AliasFollower>> {
        let follower = Arc::new(AliasFollower::new(registry, self.shared.clone(), spec)?);
        follower.sync().await?;
        let handle = follower.clone().spawn_polling();
        self.followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
        Ok(follower)
    }

    /// The Prometheus metrics text, as served on `/metrics`.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render()
    }

    /// The collector, if any.
    pub fn collector(&self) -> Option<&Collector> {
        self.shared
            .recorder
            .as_ref()
            .map(super::Recorder::collector)
    }
}

#[async_trait]
impl Deployer for HttpDeployer {
    fn kind(&self) -> &str {
        "http"
    }

    async fn deploy(&self, request: DeployRequest) -> Result<DeploymentInfo> {
        self.shared.install_champion(request)
    }

    async fn current(&self) -> Option<DeploymentInfo> {
        self.shared.champion.load().as_ref().map(|s| s.info.clone())
    }

    async fn predict(&self, request: ScoreRequest) -> Result<ScoreResponse> {
        let served = self.shared.champion.load_full().ok_or_else(|| {
            Error::Conflict("no model is deployed; deploy a version first".into())
        })?;
        let request_id = request
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let at = self.shared.clock.now();
        let started = std::time::Instant::now();
        let result = served.model.predict(request.rows.view());
        let latency_us = started.elapsed().as_micros() as u64;
        if let Some(r) = &self.shared.recorder {
            r.record(ScoringCall {
                request_id: &request_id,
                at,
                model_name: served.name_shared.clone(),
                model_version: served.version,
                inputs: RecordInputs::Matrix(Arc::new(request.rows)),
                result: result.as_ref(),
                latency_us,
                notes: Vec::new(),
            });
        }
        Ok(ScoreResponse {
            request_id,
            model_name: served.name.clone(),
            model_version: served.version,
            prediction: result?,
        })
    }

    async fn undeploy(&self) -> Result<()> {
        for h in self
            .followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            h.abort();
        }
        if let Some(tx) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.lock().await.take() {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Error::io(self.addr.to_string(), e)),
                Err(e) => {
                    return Err(Error::Backend {
                        backend: "http server",
                        source: Box::new(e),
                    });
                }
            }
        }
        self.shared.drain_shadows().await;
        self.shared.champion.store(None);
        self.shared.challenger.store(None);
        if let Some(r) = &self.shared.recorder {
            r.flush().await?;
        }
        Ok(())
    }
}

impl Drop for HttpDeployer {
    fn drop(&mut self) {
        for h in self
            .followers
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            h.abort();
        }
        if let Some(tx) = self
            .stop
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = tx.send(());
        }
    }
}
