//! Every built-in deployer passes `deployer_conformance`; `Recorded` records every call.

use mlcycle::Error;
use mlcycle::clock::{Clock, SimulatedClock, SystemClock};
use mlcycle::collect::{Collector, InMemoryPredictionLog, PredictionLog, PredictionRecord};
use mlcycle::data::{Feature, Schema, Target, TargetKind};
use mlcycle::deploy::http::{HttpConfig, HttpDeployer};
use mlcycle::deploy::{
    BatchDeployer, DeployRequest, Deployer, InProcessDeployer, ModelSlot, Recorded, Recorder,
    ScoreRequest, deployer_conformance,
};
use mlcycle::model::{Model, ModelArtifact, Prediction, Signature};
use ndarray::{Array1, Array2, ArrayView2};
use std::sync::Arc;

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn collector(log: Arc<InMemoryPredictionLog>) -> Collector {
    Collector::spawn(log, 1_024).unwrap()
}

async fn records(log: &InMemoryPredictionLog) -> Vec<PredictionRecord> {
    log.read_window(
        chrono::DateTime::UNIX_EPOCH,
        chrono::Utc::now() + chrono::Duration::days(3_650),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn model_slot_conforms() {
    deployer_conformance(&ModelSlot::new(clock())).await;
}

#[tokio::test]
async fn recorded_model_slot_conforms() {
    let log = Arc::new(InMemoryPredictionLog::default());
    let recorder = Recorder::new(collector(log.clone()), clock());
    deployer_conformance(&Recorded::new(ModelSlot::new(clock()), recorder)).await;
    assert!(!records(&log).await.is_empty());
}

#[tokio::test]
async fn in_process_deployer_conforms() {
    deployer_conformance(&InProcessDeployer::new(clock(), None)).await;
    let log = Arc::new(InMemoryPredictionLog::default());
    deployer_conformance(&InProcessDeployer::new(clock(), Some(collector(log)))).await;
}

#[tokio::test]
async fn batch_deployer_conforms() {
    deployer_conformance(&BatchDeployer::new(clock(), None)).await;
    let log = Arc::new(InMemoryPredictionLog::default());
    deployer_conformance(&BatchDeployer::new(clock(), Some(collector(log)))).await;
}

#[tokio::test]
async fn http_deployer_conforms() {
    let log = Arc::new(InMemoryPredictionLog::default());
    let config = HttpConfig::with_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = HttpDeployer::start(config, clock(), Some(collector(log)))
        .await
        .unwrap();
    deployer_conformance(&server).await;
}

/// A deployer that answers with the wrong version breaks a named property, and the
/// report says which and why in one short line.
#[tokio::test]
async fn a_broken_deployer_is_reported_by_property() {
    #[derive(Debug)]
    struct WrongVersion(ModelSlot);
    #[async_trait::async_trait]
    impl Deployer for WrongVersion {
        fn kind(&self) -> &str {
            self.0.kind()
        }
        async fn deploy(
            &self,
            r: DeployRequest,
        ) -> mlcycle::Result<mlcycle::deploy::DeploymentInfo> {
            self.0.deploy(r).await
        }
        async fn current(&self) -> Option<mlcycle::deploy::DeploymentInfo> {
            self.0.current().await
        }
        async fn predict(
            &self,
            r: ScoreRequest,
        ) -> mlcycle::Result<mlcycle::deploy::ScoreResponse> {
            let mut answer = self.0.predict(r).await?;
            answer.model_version += 1;
            Ok(answer)
        }
        async fn undeploy(&self) -> mlcycle::Result<()> {
            self.0.undeploy().await
        }
    }
    let handle = tokio::spawn(async {
        deployer_conformance(&WrongVersion(ModelSlot::new(clock()))).await;
    });
    let panic = handle.await.unwrap_err().into_panic();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(
        msg,
        "deployer conformance: broken property `deploy serves the version and predict answers \
         with it`: answered by version 2, expected 1"
    );
}

/// Two numeric features, a regression target; answers `x1 + x2` and refuses NaN.
#[derive(Debug)]
struct Sum(Signature);

impl Sum {
    fn new() -> Self {
        let schema = Schema::new(
            vec![Feature::numeric("a"), Feature::numeric("b")],
            Some(Target {
                name: "y".into(),
                kind: TargetKind::Regression,
            }),
        )
        .unwrap();
        Sum(Signature::from_training_schema(&schema).unwrap())
    }
}

impl Model for Sum {
    fn signature(&self) -> &Signature {
        &self.0
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> mlcycle::Result<Prediction> {
        if x.iter().any(|v| v.is_nan()) {
            return Err(Error::Data("a value is missing".into()));
        }
        Ok(Prediction {
            values: x
                .rows()
                .into_iter()
                .map(|r| r.sum())
                .collect::<Array1<f64>>(),
            probabilities: None,
        })
    }
    fn to_artifact(&self) -> mlcycle::Result<ModelArtifact> {
        Err(Error::invalid("model", "a test model"))
    }
}

/// `Recorded` records every call through the wrapped deployer: inputs, outputs, version,
/// request id, time; a failed call with its error and the version that failed; nothing for
/// a call refused because nothing is deployed. `undeploy` flushes the log.
#[tokio::test]
async fn recorded_records_every_scoring_call() {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .to_utc();
    let clock: Arc<dyn Clock> = Arc::new(SimulatedClock::new(t0));
    let log = Arc::new(InMemoryPredictionLog::default());
    let recorder = Recorder::new(collector(log.clone()), clock.clone());
    let d = Recorded::new(ModelSlot::new(clock.clone()), recorder);
    assert!(matches!(
        d.predict(ScoreRequest {
            rows: Array2::zeros((1, 2)),
            request_id: Some("early".into()),
        })
        .await,
        Err(Error::Conflict(_))
    ));
    d.deploy(DeployRequest {
        model_name: "sum".into(),
        version: 4,
        model: Arc::new(Sum::new()),
    })
    .await
    .unwrap();
    let ok = d
        .predict(ScoreRequest {
            rows: ndarray::array![[1.0, 2.0], [3.0, 4.5]],
            request_id: Some("req-1".into()),
        })
        .await
        .unwrap();
    assert_eq!(ok.prediction.values.to_vec(), vec![3.0, 7.5]);
    let fresh = d
        .predict(ScoreRequest {
            rows: ndarray::array![[0.5, 0.5]],
            request_id: None,
        })
        .await
        .unwrap();
    let failed = d
        .predict(ScoreRequest {
            rows: ndarray::array![[f64::NAN, 1.0]],
            request_id: Some("req-bad".into()),
        })
        .await;
    assert!(matches!(failed, Err(Error::Data(_))));
    d.undeploy().await.unwrap();

    let recs = records(&log).await;
    let ids: Vec<&str> = recs.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, vec!["req-1", fresh.request_id.as_str(), "req-bad"]);
    assert!(
        recs.iter()
            .all(|r| r.model_name == "sum" && r.model_version == 4)
    );
    assert!(recs.iter().all(|r| r.at == t0));
    assert_eq!(recs[0].inputs, vec![vec![1.0, 2.0], vec![3.0, 4.5]]);
    assert_eq!(recs[0].outputs, vec![3.0, 7.5]);
    assert_eq!(recs[0].error, None);
    assert_eq!(recs[1].outputs, vec![1.0]);
    assert!(recs[2].inputs[0][0].is_nan());
    assert!(recs[2].outputs.is_empty());
    assert!(
        recs[2]
            .error
            .as_deref()
            .unwrap()
            .contains("a value is missing")
    );
}

/// Without a recorder the wrapper forwards and records nothing; the in-process and batch
/// deployments record through the same wrapper (same records for the same calls).
#[tokio::test]
async fn in_process_and_batch_record_alike() {
    let mut seen = Vec::new();
    for batch in [false, true] {
        let log = Arc::new(InMemoryPredictionLog::default());
        let c = collector(log.clone());
        let d: Box<dyn Deployer> = if batch {
            Box::new(BatchDeployer::new(clock(), Some(c)))
        } else {
            Box::new(InProcessDeployer::new(clock(), Some(c)))
        };
        d.deploy(DeployRequest {
            model_name: "sum".into(),
            version: 1,
            model: Arc::new(Sum::new()),
        })
        .await
        .unwrap();
        for (i, row) in [[1.0, 1.0], [f64::NAN, 0.0]].iter().enumerate() {
            let _ = d
                .predict(ScoreRequest {
                    rows: Array2::from_shape_vec((1, 2), row.to_vec()).unwrap(),
                    request_id: Some(format!("r{i}")),
                })
                .await;
        }
        d.undeploy().await.unwrap();
        let recs = records(&log).await;
        seen.push(
            recs.iter()
                .map(|r| (r.request_id.clone(), r.outputs.clone(), r.error.is_some()))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seen[0].len(), 2, "a failed call is recorded too");
    assert_eq!(seen[0], seen[1]);

    let plain = Recorded::with_optional(ModelSlot::new(clock()), None);
    assert!(plain.recorder().is_none());
    deployer_conformance(&plain).await;
}
