//! The atomic model slot every built-in deployment serves from.

use super::{DeployRequest, Deployer, DeploymentInfo, ScoreRequest, ScoreResponse};
use crate::clock::Clock;
use crate::model::Model;
use crate::{Error, Result};
use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug)]
struct Serving {
    info: DeploymentInfo,
    model: Arc<dyn Model>,
}

/// A [`Deployer`] that serves a model inside the process from an atomic slot: `deploy`
/// swaps the version in one store, and each `predict` loads the slot once, so a request is
/// answered entirely by one version and a swap never fails a request. It records nothing;
/// wrap it in [`super::Recorded`] to feed the prediction log (as
/// [`super::InProcessDeployer`] and [`super::BatchDeployer`] do).
#[derive(Debug)]
pub struct ModelSlot {
    slot: ArcSwapOption<Serving>,
    clock: Arc<dyn Clock>,
    kind: &'static str,
    endpoint: &'static str,
    nothing_deployed: &'static str,
}

impl ModelSlot {
    /// An empty slot of kind `in_process` (endpoint `in-process`).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        ModelSlot {
            slot: ArcSwapOption::empty(),
            clock,
            kind: "in_process",
            endpoint: "in-process",
            nothing_deployed: "no model is deployed; deploy a version first",
        }
    }

    /// The slot of batch scoring (kind and endpoint `batch`).
    pub(crate) fn batch(clock: Arc<dyn Clock>) -> Self {
        ModelSlot {
            kind: "batch",
            endpoint: "batch",
            nothing_deployed: "no model is deployed for batch scoring; deploy a version first",
            ..ModelSlot::new(clock)
        }
    }

    /// What is served and the model serving it, loaded once; a
    /// [`crate::Error::Conflict`] when nothing is deployed.
    pub fn serving(&self) -> Result<(DeploymentInfo, Arc<dyn Model>)> {
        let s = self
            .slot
            .load_full()
            .ok_or_else(|| Error::Conflict(self.nothing_deployed.into()))?;
        Ok((s.info.clone(), s.model.clone()))
    }
}

#[async_trait]
impl Deployer for ModelSlot {
    fn kind(&self) -> &str {
        self.kind
    }

    async fn deploy(&self, request: DeployRequest) -> Result<DeploymentInfo> {
        let info = DeploymentInfo {
            deployer: self.kind.into(),
            endpoint: self.endpoint.into(),
            model_name: request.model_name,
            version: request.version,
            since: self.clock.now(),
        };
        self.slot.store(Some(Arc::new(Serving {
            info: info.clone(),
            model: request.model,
        })));
        Ok(info)
    }

    async fn current(&self) -> Option<DeploymentInfo> {
        self.slot.load().as_ref().map(|s| s.info.clone())
    }

    async fn predict(&self, request: ScoreRequest) -> Result<ScoreResponse> {
        // One load per request: the whole request is answered by this version.
        let serving = self
            .slot
            .load_full()
            .ok_or_else(|| Error::Conflict(self.nothing_deployed.into()))?;
        let request_id = request
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let prediction = serving.model.predict(request.rows.view())?;
        Ok(ScoreResponse {
            request_id,
            model_name: serving.info.model_name.clone(),
            model_version: serving.info.version,
            prediction,
        })
    }

    async fn undeploy(&self) -> Result<()> {
        self.slot.store(None);
        Ok(())
    }
}
