//! Plug your own `Trainer` into the default lifecycle: here, a trainer that wraps the
//! built-in logistic regression with a stronger penalty and records its own name.

use async_trait::async_trait;
use mlcycle::data::Dataset;
use mlcycle::model::Model;
use mlcycle::prelude::*;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, TrainContext, TrainedModel, fit_logistic};
use std::sync::Arc;

#[derive(Debug)]
struct StrongPenaltyTrainer;

#[async_trait]
impl Trainer for StrongPenaltyTrainer {
    fn name(&self) -> &str {
        "strong_penalty_logistic"
    }

    async fn train(&self, data: &Dataset, _ctx: &TrainContext) -> mlcycle::Result<TrainedModel> {
        let params = LogisticParams::default().l2(50.0).check()?;
        let model = fit_logistic(data, &params)?;
        Ok(TrainedModel {
            model: Arc::new(model) as Arc<dyn Model>,
            algorithm: self.name().to_string(),
            params: serde_json::to_value(params.get())?,
        })
    }
}

#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let stack = Stack::in_memory_with(
        Arc::new(SystemClock),
        LifecycleConfig::new("credit"),
        |builder| builder.trainer(Arc::new(StrongPenaltyTrainer)),
    )?;
    let data = CreditDefault::new(1).sample(5_000, &DriftSpec::none(), 0)?;
    let outcome = stack.lifecycle.run_training(&data, Trigger::Manual).await?;
    println!(
        "registered {}/{} trained by {}: {:?}",
        outcome.version.name,
        outcome.version.version,
        outcome.algorithm,
        outcome.validation.candidate
    );
    Ok(())
}
