//! Prediction drift: model outputs of a window against the validation outputs, through
//! the drift engine.

use mlcycle::drift::prediction::{PredictionOutput, class_drift, prediction_drift, score_drift};
use mlcycle::drift::stats::{self, SortedSample};
use mlcycle::drift::{StatisticalDriftConfig, StatisticalDriftDetector};

/// Deterministic scores in (0, 1): a logistic of a uniform LCG stream, shifted by `shift`
/// on the logit scale.
fn scores(n: usize, shift: f64, seed: u64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let logit = (u / (1.0 - u)).ln() + shift;
            1.0 / (1.0 + (-logit).exp())
        })
        .collect()
}

fn detector() -> StatisticalDriftDetector {
    StatisticalDriftDetector::new(StatisticalDriftConfig::evidently()).unwrap()
}

#[test]
fn shifted_scores_are_flagged_unshifted_are_not() {
    let reference = scores(800, 0.0, 1);
    let same = scores(600, 0.0, 2);
    let shifted = scores(600, 0.8, 3);
    let d = detector();
    let calm = score_drift(&d, &reference, &same).unwrap();
    assert_eq!(calm.name, "score");
    assert_eq!(calm.kind, "numeric");
    assert_eq!(calm.method, "ks");
    assert!(!calm.drift, "p = {:?}", calm.p_value);
    let moved = score_drift(&d, &reference, &shifted).unwrap();
    assert!(moved.drift, "p = {:?}", moved.p_value);
    // the same engine: the KS p-value of the raw samples
    let ks = stats::ks(&SortedSample::new(&reference), &SortedSample::new(&shifted)).unwrap();
    assert_eq!(moved.p_value, Some(ks.p_value));
}

#[test]
fn predicted_classes_use_the_categorical_methods() {
    let reference = scores(800, 0.0, 4);
    let same = scores(600, 0.0, 5);
    let shifted = scores(600, 1.5, 6);
    let classes = |s: &[f64]| -> Vec<&'static str> {
        s.iter()
            .map(|&p| if p >= 0.5 { "yes" } else { "no" })
            .collect()
    };
    let (r, a, b) = (classes(&reference), classes(&same), classes(&shifted));
    let d = detector();
    let calm = class_drift(&d, &r, &a).unwrap();
    assert_eq!(calm.kind, "categorical");
    assert_eq!(calm.method, "z");
    assert!(!calm.drift);
    assert!(class_drift(&d, &r, &b).unwrap().drift);
    // several outputs in one report
    let report = prediction_drift(
        &d,
        &[
            (
                "proba_yes",
                PredictionOutput::Scores {
                    reference: &reference,
                    current: &shifted,
                },
            ),
            (
                "class",
                PredictionOutput::Classes {
                    reference: &r,
                    current: &b,
                },
            ),
        ],
    )
    .unwrap();
    assert_eq!(report.columns.len(), 2);
    assert!(report.column("proba_yes").unwrap().drift);
    assert!(report.column("class").unwrap().drift);
    assert!(prediction_drift(&d, &[]).is_err());
}
