use super::{
    DeployRequest, Deployer, DeploymentInfo, ModelSlot, Recorded, Recorder, ScoreRequest,
    ScoreResponse,
};
use crate::Result;
use crate::clock::Clock;
use crate::collect::Collector;
use async_trait::async_trait;
use std::sync::Arc;

/// Serves a model inside the process through an atomic slot: a swap never fails or mixes
/// versions within a request. Scoring calls are recorded through a [`Collector`].
///
/// It is a [`ModelSlot`] inside a [`Recorded`] wrapper, named for convenience.
#[derive(Debug)]
pub struct InProcessDeployer {
    inner: Recorded<ModelSlot>,
}

impl InProcessDeployer {
    /// A deployer; `collector` receives a record of every scoring call (none if `None`).
    pub fn new(clock: Arc<dyn Clock>, collector: Option<Collector>) -> Self {
        let recorder = collector.map(|c| Recorder::new(c, clock.clone()));
        InProcessDeployer {
            inner: Recorded::with_optional(ModelSlot::new(clock), recorder),
        }
    }

    /// The collector, if any.
    pub fn collector(&self) -> Option<&Collector> {
        self.inner.recorder().map(Recorder::collector)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Deployer for InProcessDeployer {
    fn kind(&self) -> &str {
        self.inner.kind()
    }

    async fn deploy(&self, request: DeployRequest) -> Result<DeploymentInfo> {
        self.inner.deploy(request).await
    }

    async fn current(&self) -> Option<DeploymentInfo> {
        self.inner.current().await
    }

    async fn predict(&self, request: ScoreRequest) -> Result<ScoreResponse> {
        self.inner.predict(request).await
    }

    async fn undeploy(&self) -> Result<()> {
        self.inner.undeploy().await
    }
}
