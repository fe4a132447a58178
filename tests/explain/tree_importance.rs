//! Split-count and gain importance of trained tree models: a column no split tests has 0,
//! gains sum to 1, split counts and gains agree on which columns are used, and the flavors
//! without them are refused with the reason.

use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::explain::{GainImpurity, gain_importance, split_importance};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{AlgorithmTrainer, TrainContext};
use ndarray::{Array1, Array2};
use serde_json::json;

/// Columns a, b, c drive y; column `constant` never varies, so no split can use it.
fn regression(n: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 4), |(i, j)| {
        if j == 3 {
            1.0
        } else {
            ((i * (7 + 3 * j) + j) % 101) as f64 / 10.0
        }
    });
    let y = Array1::from_shape_fn(n, |i| {
        2.0 * x[[i, 0]] - x[[i, 1]] + x[[i, 0]] * x[[i, 2]] * 0.3
    });
    let schema = Schema::new(
        vec![
            Feature::numeric("a"),
            Feature::numeric("b"),
            Feature::numeric("c"),
            Feature::numeric("constant"),
        ],
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    Dataset::new(schema, x, Some(y), None).unwrap()
}

fn fit(data: &Dataset, algo: &str, params: serde_json::Value) -> mlcycle::model::ModelArtifact {
    AlgorithmTrainer::from_name(algo, &params)
        .unwrap()
        .fit(data, &TrainContext::with_seed(5))
        .unwrap()
        .model
        .to_artifact()
        .unwrap()
}

#[test]
fn tree_models_split_counts_and_gains() {
    let data = regression(300);
    for (algo, params) in [
        ("tree", json!({"max_depth": 5})),
        ("forest", json!({"n_estimators": 6, "max_depth": 5})),
        ("gbdt", json!({"max_iter": 10})),
    ] {
        let art = fit(&data, algo, params);
        let split = split_importance(&art).unwrap();
        assert_eq!(split.len(), 4, "{algo}");
        assert_eq!(split[3], 0, "{algo}: the constant column is never split on");
        assert!(split[0] > 0, "{algo}: {split:?}");
        if algo == "gbdt" {
            let e = gain_importance(&art, &data, GainImpurity::Gini).unwrap_err();
            assert!(e.to_string().contains("split importance"), "{e}");
            continue;
        }
        let gain = gain_importance(&art, &data, GainImpurity::Gini).unwrap();
        assert_eq!(gain.len(), 4);
        assert!(
            (gain.iter().sum::<f64>() - 1.0).abs() < 1e-12,
            "{algo}: {gain:?}"
        );
        assert_eq!(gain[3], 0.0, "{algo}");
        assert!(gain.iter().all(|&g| g >= 0.0), "{algo}: {gain:?}");
        // Column a carries most of the signal.
        assert!(gain[0] > gain[1] && gain[0] > gain[2], "{algo}: {gain:?}");
        for j in 0..4 {
            assert_eq!(split[j] == 0, gain[j] == 0.0, "{algo} column {j}");
        }
        // Without a target there is nothing to measure impurity on.
        let e = gain_importance(&art, &data.without_target(), GainImpurity::Gini).unwrap_err();
        assert!(e.to_string().contains("target"), "{e}");
    }
}

#[test]
fn classification_gain_sums_to_one_for_both_impurities() {
    let data = CreditDefault::new(3)
        .sample(500, &DriftSpec::none(), 0)
        .unwrap();
    let art = fit(&data, "tree", json!({"max_depth": 4}));
    let split = split_importance(&art).unwrap();
    for imp in [GainImpurity::Gini, GainImpurity::Entropy] {
        let gain = gain_importance(&art, &data, imp).unwrap();
        assert!((gain.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{gain:?}");
        for (s, g) in split.iter().zip(&gain) {
            if *s == 0 {
                assert_eq!(*g, 0.0);
            }
        }
    }
}

#[test]
fn linear_models_have_no_tree_importance() {
    let data = CreditDefault::new(3)
        .sample(300, &DriftSpec::none(), 0)
        .unwrap();
    let art = fit(&data, "logistic", json!({}));
    let e = split_importance(&art).unwrap_err();
    assert!(e.to_string().contains("tree model"), "{e}");
    let e = gain_importance(&art, &data, GainImpurity::Gini).unwrap_err();
    assert!(
        e.to_string().contains("decision tree or random forest"),
        "{e}"
    );
}
