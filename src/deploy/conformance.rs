//! The deployer conformance suite: every [`Deployer`] must pass it (feature `conformance`).

use super::{DeployRequest, Deployer, ScoreRequest, ScoreResponse};
use crate::conformance_support::{check, outcome, quote, step};
use crate::data::{Feature, Schema, Target, TargetKind};
use crate::model::{Model, ModelArtifact, Prediction, Signature};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};
use std::sync::Arc;

const SUITE: &str = "deployer";
const MODEL: &str = "conformance-model";

/// A tiny regressor on two numeric features that answers `value` for every row: which
/// version answered a request can be read from its values.
#[derive(Debug)]
struct ConstantModel {
    signature: Signature,
    value: f64,
}

impl ConstantModel {
    fn new(value: f64) -> Self {
        let schema = Schema::new(
            vec![Feature::numeric("x1"), Feature::numeric("x2")],
            Some(Target {
                name: "y".into(),
                kind: TargetKind::Regression,
            }),
        );
        // Two distinct numeric features and a target: a valid schema by construction.
        let schema = schema.expect("a valid schema");
        ConstantModel {
            signature: Signature {
                inputs: schema.without_target(),
                target: schema.target.clone().expect("a target"),
            },
            value,
        }
    }
}

impl Model for ConstantModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Prediction> {
        let n = self.signature.inputs.n_features();
        if x.ncols() != n {
            return Err(Error::SchemaMismatch(format!(
                "expected {n} feature columns, got {}",
                x.ncols()
            )));
        }
        Ok(Prediction {
            values: Array1::from_elem(x.nrows(), self.value),
            probabilities: None,
        })
    }

    fn to_artifact(&self) -> Result<ModelArtifact> {
        Err(Error::invalid(
            "model",
            "the deployer conformance suite's test model has no artifact",
        ))
    }
}

/// The value version `v`'s test model answers.
fn value_of(version: u32) -> f64 {
    f64::from(version) * 10.0 + 0.5
}

fn request(version: u32) -> DeployRequest {
    DeployRequest {
        model_name: MODEL.into(),
        version,
        model: Arc::new(ConstantModel::new(value_of(version))),
    }
}

fn rows(n: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, cols), |(i, j)| (i * cols + j) as f64 * 0.25)
}

fn score(n: usize, id: Option<&str>) -> ScoreRequest {
    ScoreRequest {
        rows: rows(n, 2),
        request_id: id.map(str::to_string),
    }
}

/// The response answers `n` rows entirely with `version` (name, version and every value).
fn answered_by(property: &str, r: &ScoreResponse, version: u32, n: usize) {
    check(SUITE, property, r.model_name == MODEL, || {
        format!("model name `{}`, expected `{MODEL}`", quote(&r.model_name))
    });
    check(SUITE, property, r.model_version == version, || {
        format!(
            "answered by version {}, expected {version}",
            r.model_version
        )
    });
    check(SUITE, property, r.prediction.values.len() == n, || {
        format!("{} predictions for {n} rows", r.prediction.values.len())
    });
    let value = value_of(r.model_version);
    check(
        SUITE,
        property,
        r.prediction.values.iter().all(|&v| v == value),
        || {
            format!(
                "the response names version {} but its values are not all that version's",
                r.model_version
            )
        },
    );
}

/// Run the deployer contract against `deployer`, which must have nothing deployed.
///
/// Checks, with a small test model of its own (two numeric features, a regression target;
/// version `v` answers `10·v + 0.5` for every row):
/// - nothing deployed: `current` is `None` and `predict` is an [`Error::Conflict`];
/// - `deploy` returns and `current` names the version; `predict` answers every row with it;
/// - request ids: a caller's id is echoed, a missing one is replaced by a fresh id;
/// - shape errors (a wrong number of columns) are [`Error::SchemaMismatch`], not a panic or
///   another kind, and the deployment keeps serving;
/// - `deploy` of another version swaps atomically: calls interleaved with swaps are each
///   answered entirely by one version, and none fails;
/// - `undeploy` stops serving: `current` is `None`, `predict` is an [`Error::Conflict`].
///
/// Recording (every call reaches the prediction log) is the job of the [`super::Recorded`]
/// wrapper and is tested with it.
///
/// # Panics
/// On the first broken property, with a short message naming it and why (it is a test
/// suite).
pub async fn deployer_conformance(deployer: &dyn Deployer) {
    nothing_deployed(deployer, "before deploy").await;
    deploy_and_predict(deployer).await;
    request_ids(deployer).await;
    shape_errors(deployer).await;
    atomic_swap(deployer).await;
    undeploy(deployer).await;
}

async fn nothing_deployed(deployer: &dyn Deployer, when: &str) {
    let property = format!("nothing is served {when}");
    let current = deployer.current().await;
    check(SUITE, &property, current.is_none(), || {
        format!(
            "current() names version {} of `{}`",
            current.as_ref().map_or(0, |c| c.version),
            current.as_ref().map_or("", |c| c.model_name.as_str())
        )
    });
    let property = format!("predict with nothing deployed is a Conflict ({when})");
    let r = deployer.predict(score(3, None)).await;
    check(
        SUITE,
        &property,
        matches!(r, Err(Error::Conflict(_))),
        || format!("got {}", outcome(&r)),
    );
}

async fn deploy_and_predict(deployer: &dyn Deployer) {
    let property = "deploy serves the version and predict answers with it";
    let info = step(
        SUITE,
        property,
        "deploy(version 1)",
        deployer.deploy(request(1)).await,
    );
    check(
        SUITE,
        property,
        info.version == 1 && info.model_name == MODEL,
        || {
            format!(
                "deploy returned `{}` version {}",
                quote(&info.model_name),
                info.version
            )
        },
    );
    check(SUITE, property, info.deployer == deployer.kind(), || {
        format!(
            "deploy returned deployer kind `{}`, kind() is `{}`",
            quote(&info.deployer),
            deployer.kind()
        )
    });
    let current = deployer.current().await;
    check(
        SUITE,
        property,
        current
            .as_ref()
            .is_some_and(|c| c.version == 1 && c.model_name == MODEL),
        || {
            format!(
                "current() after deploy is {}",
                current
                    .as_ref()
                    .map_or("None".into(), |c| format!("version {}", c.version))
            )
        },
    );
    for n in [1, 17] {
        let r = step(
            SUITE,
            property,
            "predict",
            deployer.predict(score(n, None)).await,
        );
        answered_by(property, &r, 1, n);
    }
}

async fn request_ids(deployer: &dyn Deployer) {
    let property = "predict echoes the caller's request id";
    let r = step(
        SUITE,
        property,
        "predict",
        deployer.predict(score(2, Some("conformance-req-1"))).await,
    );
    check(SUITE, property, r.request_id == "conformance-req-1", || {
        format!("answered with id `{}`", quote(&r.request_id))
    });
    let property = "predict assigns a fresh request id when none is given";
    let a = step(
        SUITE,
        property,
        "predict",
        deployer.predict(score(2, None)).await,
    );
    let b = step(
        SUITE,
        property,
        "predict",
        deployer.predict(score(2, None)).await,
    );
    check(
        SUITE,
        property,
        !a.request_id.is_empty(),
        || "the id is empty",
    );
    check(SUITE, property, a.request_id != b.request_id, || {
        format!("two calls both got id `{}`", quote(&a.request_id))
    });
}

async fn shape_errors(deployer: &dyn Deployer) {
    let property = "a wrong number of columns is a SchemaMismatch";
    for cols in [1, 3] {
        let r = deployer
            .predict(ScoreRequest {
                rows: rows(4, cols),
                request_id: None,
            })
            .await;
        check(
            SUITE,
            property,
            matches!(r, Err(Error::SchemaMismatch(_))),
            || format!("{cols} columns for a 2-feature model gave {}", outcome(&r)),
        );
    }
    let property = "a refused request leaves the deployment serving";
    let r = step(
        SUITE,
        property,
        "predict",
        deployer.predict(score(3, None)).await,
    );
    answered_by(property, &r, 1, 3);
}

async fn atomic_swap(deployer: &dyn Deployer) {
    let property = "deploy swaps versions atomically";
    let info = step(
        SUITE,
        property,
        "deploy(version 2)",
        deployer.deploy(request(2)).await,
    );
    check(SUITE, property, info.version == 2, || {
        format!("deploy(version 2) returned version {}", info.version)
    });
    let r = step(
        SUITE,
        property,
        "predict",
        deployer.predict(score(5, None)).await,
    );
    answered_by(property, &r, 2, 5);

    // Calls interleaved with swaps: each is answered by one version, none fails.
    let calls = (0..24).map(|i| async move {
        if i % 6 == 0 {
            let v = 3 + (i / 6) as u32;
            deployer.deploy(request(v)).await.map(|_| None)
        } else {
            deployer.predict(score(64, None)).await.map(Some)
        }
    });
    let property = "calls during a swap are answered by exactly one version";
    for (i, r) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let what = format!("call {i} (interleaved with deploys)");
        if let Some(resp) = step(SUITE, property, &what, r) {
            check(
                SUITE,
                property,
                (2..=6).contains(&resp.model_version),
                || format!("{what} was answered by version {}", resp.model_version),
            );
            answered_by(property, &resp, resp.model_version, 64);
        }
    }
    let last = step(
        SUITE,
        property,
        "deploy(version 7)",
        deployer.deploy(request(7)).await,
    );
    let r = step(
        SUITE,
        property,
        "predict",
        deployer.predict(score(2, None)).await,
    );
    check(SUITE, property, r.model_version == last.version, || {
        format!(
            "after deploying version 7 the answer came from version {}",
            r.model_version
        )
    });
}

async fn undeploy(deployer: &dyn Deployer) {
    let property = "undeploy stops serving";
    let r = deployer.undeploy().await;
    check(SUITE, property, r.is_ok(), || {
        format!("undeploy returned {}", outcome(&r))
    });
    nothing_deployed(deployer, "after undeploy").await;
}
