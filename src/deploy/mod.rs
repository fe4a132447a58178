//! Deployment: the [`Deployer`] trait, the atomic [`ModelSlot`] every built-in deployment
//! serves from (hot swap), the [`Recorded`] wrapper that records every scoring call to the
//! prediction log through a [`Recorder`], and the deployments built from them: in-process,
//! batch scoring of files, and the HTTP server (which holds the same [`Recorder`]).

pub mod batch;
#[cfg(any(test, feature = "conformance"))]
mod conformance;
#[cfg(feature = "http")]
pub mod http;
mod in_process;
mod recorded;
mod slot;

#[allow(deprecated)]
pub use batch::score_csv;
pub use batch::{
    BatchDeployer, BatchJob, BatchOptions, BatchOutcome, BatchProgress, BatchSummary, score_file,
};
#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use conformance::deployer_conformance;
#[cfg(feature = "http")]
pub use http::HttpDeployer;
pub use in_process::InProcessDeployer;
pub use recorded::{Recorded, Recorder, ScoringCall};
pub use slot::ModelSlot;

use crate::Result;
use crate::model::{Model, Prediction};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::sync::Arc;

/// A model version to put into service.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Registered model name.
    pub model_name: String,
    /// Registered version.
    pub version: u32,
    /// The loaded model.
    pub model: Arc<dyn Model>,
}

/// What is being served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentInfo {
    /// The deployer's kind (e.g. `in_process`).
    pub deployer: String,
    /// Where it serves (e.g. an address, or `in-process`).
    pub endpoint: String,
    /// Model name.
    pub model_name: String,
    /// Version served.
    pub version: u32,
    /// When this version started serving.
    pub since: DateTime<Utc>,
}

/// A scoring request.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// Encoded rows in the model signature's column order.
    pub rows: Array2<f64>,
    /// A caller-chosen request id; a fresh UUID is assigned when `None`.
    pub request_id: Option<String>,
}

/// A scoring response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreResponse {
    /// The request id (also in the prediction log and the audit trail).
    pub request_id: String,
    /// Model name.
    pub model_name: String,
    /// The version that answered (a request is never answered by two versions).
    pub model_version: u32,
    /// The prediction.
    pub prediction: Prediction,
}

/// Puts model versions into service and scores through them.
///
/// # Contract
/// - `deploy` replaces the served version atomically: every `predict` is answered
///   entirely by one version, and no request fails because of a swap; `current` names
///   the version served.
/// - `predict` echoes the caller's request id (a fresh one when none is given), passes the
///   model's typed errors through (a wrong number of columns is
///   [`crate::Error::SchemaMismatch`]) and keeps serving after one.
/// - `predict` with nothing deployed (before `deploy`, after `undeploy`) is an
///   [`crate::Error::Conflict`].
/// - Every `predict` call (including failed ones) is recorded to the deployment's
///   prediction log with its inputs, outputs, version, request id and time. A deployer
///   gets this by being wrapped in [`Recorded`] (the built-in ones are, or hold the same
///   [`Recorder`]) rather than by recording itself.
///
/// `deployer_conformance` (feature `conformance`) checks the first three for any
/// deployer; the built-in ones run it in `cargo test`.
///
/// ```
/// use mlcycle::deploy::{Deployer, InProcessDeployer, DeployRequest, ScoreRequest};
/// use mlcycle::clock::SystemClock;
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::train::{fit_logistic, LogisticParams};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = CreditDefault::new(1).sample(300, &DriftSpec::none(), 0).unwrap();
/// let model = Arc::new(fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap());
/// let deployer = InProcessDeployer::new(Arc::new(SystemClock), None);
/// deployer.deploy(DeployRequest { model_name: "credit".into(), version: 1, model }).await.unwrap();
/// let r = deployer.predict(ScoreRequest { rows: data.features().to_owned(), request_id: None }).await.unwrap();
/// assert_eq!(r.model_version, 1);
/// assert_eq!(r.prediction.values.len(), 300);
/// # });
/// ```
#[async_trait]
pub trait Deployer: Send + Sync + Debug {
    /// The deployer's kind.
    fn kind(&self) -> &str;
    /// Serve `request.model` (replacing what is served, atomically).
    async fn deploy(&self, request: DeployRequest) -> Result<DeploymentInfo>;
    /// What is served now, if anything.
    async fn current(&self) -> Option<DeploymentInfo>;
    /// Score rows through the served model.
    async fn predict(&self, request: ScoreRequest) -> Result<ScoreResponse>;
    /// Stop serving (flushing the prediction log).
    async fn undeploy(&self) -> Result<()>;
}
