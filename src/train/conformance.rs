//! The trainer conformance suite: every [`Trainer`] must pass it (feature `conformance`).

use super::{TrainContext, TrainedModel, Trainer};
use crate::conformance_support::{check, outcome, step};
use crate::data::{Dataset, Feature, Schema, Target, TargetKind};
use crate::model::Signature;
use crate::{Error, Result};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SUITE: &str = "trainer";
const ROWS: usize = 160;

/// Which kinds of target the suite trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKinds {
    /// Two-class classification only.
    Classification,
    /// Regression only.
    Regression,
    /// Both.
    Both,
}

impl TargetKinds {
    fn classification(self) -> bool {
        self != TargetKinds::Regression
    }

    fn regression(self) -> bool {
        self != TargetKinds::Classification
    }
}

/// `ROWS` rows of two numeric features and a three-level categorical one, reproducible.
fn features(seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((ROWS, 3), |(i, j)| match j {
        2 => (i % 3) as f64,
        _ => rng.random::<f64>() * 4.0 - 2.0,
    })
}

fn schema(target: TargetKind) -> Schema {
    // Distinct names and a target: a valid schema by construction.
    Schema::new(
        vec![
            Feature::numeric("x1"),
            Feature::numeric("x2"),
            Feature::categorical("group", ["a", "b", "c"]),
        ],
        Some(Target {
            name: "y".into(),
            kind: target,
        }),
    )
    .expect("a valid schema")
}

/// A binary target that depends on the features (with some noise), both classes present.
fn binary() -> Dataset {
    let x = features(21);
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| {
            let score = r[0] + 0.5 * r[1] + 0.3 * r[2] - 0.3 + rng.random::<f64>() - 0.5;
            if score > 0.0 { 1.0 } else { 0.0 }
        })
        .collect();
    let kind = TargetKind::Binary {
        classes: vec!["no".into(), "yes".into()],
    };
    Dataset::new(schema(kind), x, Some(y), None).expect("a valid dataset")
}

/// A numeric target that depends on the features (with some noise).
fn regression() -> Dataset {
    let x = features(31);
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| 2.0 * r[0] - r[1] + 0.5 * r[2] + 0.1 * (rng.random::<f64>() - 0.5))
        .collect();
    Dataset::new(schema(TargetKind::Regression), x, Some(y), None).expect("a valid dataset")
}

/// Run the trainer contract against `trainer` on the kinds of target it supports.
///
/// Checks, on small datasets of its own (160 rows; two numeric features and a three-level
/// categorical one; a binary and a numeric target):
/// - `train` returns a model whose signature is the dataset's schema (features and
///   target), which scores the training rows (one finite value per row; class
///   probabilities for classifiers, one column per class) — for each supported kind;
/// - the same data, trainer and seed give the same model (bit-identical predictions, the
///   same algorithm name and parameters);
/// - bad data is an error, not a panic: no rows, no target column, and (when the trainer
///   supports only one kind) the other kind of target.
///
/// # Panics
/// On the first broken property, with a short message naming it and why (it is a test
/// suite).
pub async fn trainer_conformance(trainer: &dyn Trainer, supports: TargetKinds) {
    let mut kinds = Vec::new();
    if supports.classification() {
        kinds.push(("binary classification", binary()));
    }
    if supports.regression() {
        kinds.push(("regression", regression()));
    }
    for (kind, data) in &kinds {
        let model = fits(trainer, kind, data).await;
        deterministic(trainer, kind, data, &model).await;
    }
    bad_data(trainer, supports).await;
}

async fn train(trainer: &dyn Trainer, data: &Dataset, seed: u64) -> Result<TrainedModel> {
    trainer.train(data, &TrainContext::with_seed(seed)).await
}

async fn fits(trainer: &dyn Trainer, kind: &str, data: &Dataset) -> TrainedModel {
    let property = format!("train fits a model of the data's signature ({kind})");
    let trained = step(SUITE, &property, "train", train(trainer, data, 7).await);
    let expected = step(
        SUITE,
        &property,
        "the data's signature",
        Signature::from_training_schema(data.schema()),
    );
    let sig = trained.model.signature();
    check(SUITE, &property, sig.inputs == expected.inputs, || {
        format!(
            "the model's inputs are {:?}, the data's {:?}",
            sig.inputs.feature_names(),
            expected.inputs.feature_names()
        )
    });
    check(SUITE, &property, sig.target == expected.target, || {
        format!(
            "the model's target is `{}` ({:?}), the data's `{}` ({:?})",
            sig.target.name,
            sig.target.kind.classes(),
            expected.target.name,
            expected.target.kind.classes()
        )
    });
    check(
        SUITE,
        &property,
        !trained.algorithm.is_empty(),
        || "the algorithm name is empty",
    );
    let property = format!("the fitted model scores the training rows ({kind})");
    let p = step(
        SUITE,
        &property,
        "predict",
        trained.model.predict(data.features()),
    );
    check(SUITE, &property, p.values.len() == data.n_rows(), || {
        format!("{} predictions for {} rows", p.values.len(), data.n_rows())
    });
    check(
        SUITE,
        &property,
        p.values.iter().all(|v| v.is_finite()),
        || "a prediction is not finite",
    );
    let classes = expected.n_classes();
    let shape = p.probabilities.as_ref().map(|pr| pr.dim());
    let want = (classes > 0).then_some((data.n_rows(), classes));
    check(SUITE, &property, shape == want, || {
        format!("class probabilities of shape {shape:?}, expected {want:?}")
    });
    trained
}

async fn deterministic(trainer: &dyn Trainer, kind: &str, data: &Dataset, first: &TrainedModel) {
    let property = format!("the same data and seed give the same model ({kind})");
    let again = step(SUITE, &property, "train", train(trainer, data, 7).await);
    check(SUITE, &property, again.algorithm == first.algorithm, || {
        format!(
            "algorithm `{}`, then `{}`",
            first.algorithm, again.algorithm
        )
    });
    check(
        SUITE,
        &property,
        again.params == first.params,
        || "different parameters were recorded",
    );
    let a = step(
        SUITE,
        &property,
        "predict",
        first.model.predict(data.features()),
    );
    let b = step(
        SUITE,
        &property,
        "predict",
        again.model.predict(data.features()),
    );
    let same = |x: &Array1<f64>, y: &Array1<f64>| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
    };
    let diff = a
        .values
        .iter()
        .zip(&b.values)
        .position(|(p, q)| p.to_bits() != q.to_bits());
    check(SUITE, &property, same(&a.values, &b.values), || {
        format!("predictions differ first at row {}", diff.unwrap_or(0))
    });
    let probs_same = match (&a.probabilities, &b.probabilities) {
        (Some(p), Some(q)) => {
            p.dim() == q.dim() && p.iter().zip(q).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (None, None) => true,
        _ => false,
    };
    check(
        SUITE,
        &property,
        probs_same,
        || "class probabilities differ",
    );
}

async fn bad_data(trainer: &dyn Trainer, supports: TargetKinds) {
    let data = if supports.classification() {
        binary()
    } else {
        regression()
    };

    let property = "training on no rows is an error";
    // A dataset type that refuses to be empty leaves nothing for the trainer to refuse.
    if let Ok(empty) = data.select_rows(&[]) {
        let r = train(trainer, &empty, 7).await;
        check(SUITE, property, r.is_err(), || {
            format!("0 rows gave {}", outcome(&r))
        });
    }

    let property = "training without a target is an error";
    let unlabelled = data.without_target();
    let r = train(trainer, &unlabelled, 7).await;
    check(SUITE, property, r.is_err(), || {
        format!("data without a target gave {}", outcome(&r))
    });

    let property = "a target of a kind the trainer does not fit is an error";
    let other = match supports {
        TargetKinds::Classification => Some(regression()),
        TargetKinds::Regression => Some(binary()),
        TargetKinds::Both => None,
    };
    if let Some(other) = other {
        let r = train(trainer, &other, 7).await;
        check(SUITE, property, r.is_err(), || {
            format!("an unsupported target gave {}", outcome(&r))
        });
        if let Err(e) = &r {
            check(SUITE, property, !matches!(e, Error::Backend { .. }), || {
                format!("the error is a backend failure: {e}")
            });
        }
    }
}
