use super::{DeployRequest, Deployer, DeploymentInfo, ScoreRequest, ScoreResponse};
use crate::clock::Clock;
use crate::collect::{Collector, PredictionRecord};
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

/// Serves a model inside the process through an atomic slot: a swap never fails or mixes
/// versions within a request. Scoring calls are recorded through a [`Collector`].
#[derive(Debug)]
pub struct InProcessDeployer {
    slot: ArcSwapOption<Serving>,
    clock: Arc<dyn Clock>,
    collector: Option<Collector>,
}

impl InProcessDeployer {
    /// A deployer; `collector` receives a record of every scoring call (none if `None`).
    pub fn new(clock: Arc<dyn Clock>, collector: Option<Collector>) -> Self {
        InProcessDeployer {
            slot: ArcSwapOption::empty(),
            clock,
            collector,
        }
    }

    /// The collector, if any.
    pub fn collector(&self) -> Option<&Collector> {
        self.collector.as_ref()
    }
}

#[async_trait]
impl Deployer for InProcessDeployer {
    fn kind(&self) -> &str {
        "in_process"
    }

    async fn deploy(&self, request: DeployRequest) -> Result<DeploymentInfo> {
        let info = DeploymentInfo {
            deployer: self.kind().into(),
            endpoint: "in-process".into(),
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
        let serving = self.slot.load_full().ok_or_else(|| {
            Error::Conflict("no model is deployed; deploy a version first".into())
        })?;
        let request_id = request
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let at = self.clock.now();
        let started = std::time::Instant::now();
        let result = serving.model.predict(request.rows.view());
        let latency_us = started.elapsed().as_micros() as u64;
        if let Some(c) = &self.collector {
            c.record(PredictionRecord {
                request_id: request_id.clone(),
                at,
                model_name: serving.info.model_name.clone(),
                model_version: serving.info.version,
                inputs: request.rows.outer_iter().map(|r| r.to_vec()).collect(),
                outputs: result
                    .as_ref()
                    .map(|p| p.values.to_vec())
                    .unwrap_or_default(),
                latency_us,
                error: result.as_ref().err().map(ToString::to_string),
            });
        }
        Ok(ScoreResponse {
            request_id,
            model_name: serving.info.model_name.clone(),
            model_version: serving.info.version,
            prediction: result?,
        })
    }

    async fn undeploy(&self) -> Result<()> {
        self.slot.store(None);
        if let Some(c) = &self.collector {
            c.flush().await?;
        }
        Ok(())
    }
}
