//! Every built-in trainer passes `trainer_conformance`.

use mlcycle::train::{
    Algorithm, AlgorithmTrainer, LinearModelTrainer, SearchSpace, SearchTrainer, TargetKinds,
    TrainContext, TrainedModel, Trainer, trainer_conformance,
};
use serde_json::json;

#[tokio::test]
async fn the_linear_model_trainer_conforms() {
    trainer_conformance(&LinearModelTrainer::default(), TargetKinds::Both).await;
}

#[tokio::test]
async fn every_algorithm_trainer_conforms() {
    for algorithm in Algorithm::ALL {
        let (params, kinds) = match algorithm {
            Algorithm::Logistic => (json!(null), TargetKinds::Classification),
            Algorithm::Linear => (json!(null), TargetKinds::Regression),
            Algorithm::Gbdt => (json!({ "max_iter": 10 }), TargetKinds::Both),
            Algorithm::Forest => (json!({ "n_estimators": 8 }), TargetKinds::Both),
            Algorithm::Tree => (json!(null), TargetKinds::Both),
        };
        let trainer = AlgorithmTrainer::new(algorithm, &params).unwrap();
        trainer_conformance(&trainer, kinds).await;
    }
}

#[tokio::test]
async fn the_search_trainer_conforms() {
    let space = SearchSpace::from_json(br#"{"grid": {"max_depth": [2, 3]}}"#).unwrap();
    let search = SearchTrainer::new(Algorithm::Tree, &json!(null), Some(space), 3, None).unwrap();
    trainer_conformance(&search, TargetKinds::Both).await;
    let cv = SearchTrainer::new(Algorithm::Logistic, &json!(null), None, 3, None).unwrap();
    trainer_conformance(&cv, TargetKinds::Classification).await;
}

/// A trainer whose model depends on something else than the seed breaks determinism, and
/// the report names the property.
#[tokio::test]
async fn a_nondeterministic_trainer_is_reported_by_property() {
    #[derive(Debug)]
    struct Drifting(std::sync::atomic::AtomicU64);
    #[async_trait::async_trait]
    impl Trainer for Drifting {
        fn name(&self) -> &str {
            "drifting"
        }
        async fn train(
            &self,
            data: &mlcycle::data::Dataset,
            _ctx: &TrainContext,
        ) -> mlcycle::Result<TrainedModel> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            LinearModelTrainer::default()
                .train(data, &TrainContext::with_seed(n))
                .await
                .map(|mut t| {
                    t.params = json!({ "call": n });
                    t
                })
        }
    }
    let panic = tokio::spawn(async {
        trainer_conformance(&Drifting(0.into()), TargetKinds::Both).await;
    })
    .await
    .unwrap_err()
    .into_panic();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(
        msg,
        "trainer conformance: broken property `the same data and seed give the same model \
         (binary classification)`: different parameters were recorded"
    );
}
