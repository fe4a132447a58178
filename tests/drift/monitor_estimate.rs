//! CBPE (confidence-based performance estimation) against NannyML 0.13's numbers
//! (tests/fixtures/monitor/cbpe.json, made by scripts/cbpe_fixtures.py).

use mlcycle::monitor::estimate::{Calibration, Cbpe, IsotonicCalibrator, estimate_performance};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/monitor/cbpe.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn cbpe_equals_nannyml_per_chunk() {
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let mut calibrated_seen = [false, false];
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let rs = floats(&case["reference_scores"]);
        let rl: Vec<bool> = case["reference_labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap() == 1)
            .collect();
        let ana = floats(&case["analysis_scores"]);
        let needs = case["needs_calibration"].as_bool().unwrap();
        calibrated_seen[needs as usize] = true;
        let calibration = if needs {
            Calibration::Isotonic
        } else {
            Calibration::None
        };
        let cbpe = Cbpe::fit(&rs, &rl, calibration, 0.5).unwrap();
        assert_eq!(cbpe.is_calibrated(), needs);
        for chunk in case["chunks"].as_array().unwrap() {
            let (s, e) = (
                chunk["start"].as_u64().unwrap() as usize,
                chunk["end"].as_u64().unwrap() as usize,
            );
            let est = cbpe.estimate(&ana[s..e]).unwrap();
            assert_eq!(est.n, e - s);
            let exp = &chunk["estimates"];
            for (metric, got) in [
                ("accuracy", est.accuracy),
                ("roc_auc", est.roc_auc),
                ("f1", est.f1),
                ("precision", est.precision),
                ("recall", est.recall),
            ] {
                let want = exp[metric].as_f64().unwrap();
                assert!(
                    (got - want).abs() < 1e-9,
                    "{name} [{s}:{e}] {metric}: {got} vs NannyML {want}"
                );
            }
        }
    }
    assert_eq!(calibrated_seen, [true, true], "both branches are covered");
}

#[test]
fn calibration_changes_the_estimate_of_miscalibrated_scores() {
    let f = fixture();
    let case = &f["cases"][0];
    assert!(case["needs_calibration"].as_bool().unwrap());
    let rs = floats(&case["reference_scores"]);
    let rl: Vec<bool> = case["reference_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap() == 1)
        .collect();
    let ana = floats(&case["analysis_scores"]);
    let raw = Cbpe::fit(&rs, &rl, Calibration::None, 0.5).unwrap();
    let cal = Cbpe::fit(&rs, &rl, Calibration::Auto, 0.5).unwrap();
    assert!(cal.is_calibrated());
    let (a, b) = (
        raw.estimate(&ana[..400]).unwrap(),
        cal.estimate(&ana[..400]).unwrap(),
    );
    assert!((a.accuracy - b.accuracy).abs() > 0.01);
    // the one-call form is the automatic calibration at threshold 0.5
    assert_eq!(estimate_performance(&rs, &rl, &ana[..400]).unwrap(), b);
}

#[test]
fn isotonic_calibrator_pools_violators_and_clips() {
    let c = IsotonicCalibrator::fit(&[0.1, 0.2, 0.3, 0.4], &[false, true, false, true]).unwrap();
    // (0, 1, 0, 1) → (0, 0.5, 0.5, 1)
    assert_eq!(c.transform(0.1), 0.0);
    assert_eq!(c.transform(0.25), 0.5);
    assert_eq!(c.transform(0.4), 1.0);
    assert_eq!(c.transform(-3.0), 0.0);
    assert_eq!(c.transform(9.0), 1.0);
    assert!((c.transform(0.35) - 0.75).abs() < 1e-12);
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(Cbpe::fit(&[], &[], Calibration::Auto, 0.5).is_err());
    assert!(Cbpe::fit(&[0.2, 0.4], &[true], Calibration::Isotonic, 0.5).is_err());
    assert!(Cbpe::fit(&[0.2, 0.4], &[true], Calibration::None, 0.5).is_err());
    let cbpe = Cbpe::fit(&[0.2, 0.4], &[false, true], Calibration::Auto, 0.5).unwrap();
    // perfectly separated reference: AUC 1 > 0.999, no calibration
    assert!(!cbpe.is_calibrated());
    let err = cbpe.estimate(&[0.3, f64::NAN]).unwrap_err().to_string();
    assert!(err.contains("not finite"), "{err}");
    assert!(cbpe.estimate(&[]).is_err());
}
