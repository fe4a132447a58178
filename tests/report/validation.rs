//! The validation page: library snapshot and `mlcycle validate --format html`.

use crate::{assert_self_contained, assert_snapshot};
use mlcycle::data::{DatasetId, write_csv};
use mlcycle::report::{ModelScores, ValidationReportMeta, validation_html};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::validate::metrics::GroupMetrics;
use mlcycle::validate::{Check, FairnessSummary, ServingCost, ValidationReport};
use std::collections::BTreeMap;
use std::process::Command;

fn group(count: usize, sel: f64) -> GroupMetrics {
    GroupMetrics {
        count,
        selection_rate: sel,
        accuracy: 0.8,
        true_positive_rate: 0.7,
        false_positive_rate: 0.1,
    }
}

/// A fixed report and scores: 40 rows, the candidate ranks better than the champion.
fn inputs() -> (ValidationReport, Vec<f64>, ModelScores, ModelScores) {
    let y: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
    let cand: Vec<f64> = (0..40)
        .map(|i| {
            let base = if i % 3 == 0 { 0.7 } else { 0.3 };
            base + ((i * 7) % 10) as f64 / 40.0 - 0.1
        })
        .collect();
    let champ: Vec<f64> = (0..40).map(|i| ((i * 13) % 40) as f64 / 40.0).collect();
    let classes = |s: &[f64]| s.iter().map(|p| f64::from(u8::from(*p >= 0.5))).collect();
    let candidate = ModelScores {
        name: "credit/2 (candidate)".into(),
        predicted: classes(&cand),
        positive_score: Some(cand),
    };
    let champion = ModelScores {
        name: "credit/1 (champion)".into(),
        predicted: classes(&champ),
        positive_score: Some(champ),
    };
    let metrics = |auc: f64, acc: f64| -> BTreeMap<String, f64> {
        [("roc_auc".to_string(), auc), ("accuracy".to_string(), acc)]
            .into_iter()
            .collect()
    };
    let report = ValidationReport {
        holdout: DatasetId("sha256:0123456789abcdef".into()),
        holdout_rows: 40,
        primary_metric: "roc_auc".into(),
        candidate: metrics(0.93, 0.85),
        champion: Some(metrics(0.61, 0.6)),
        checks: vec![
            Check {
                name: "beats_champion:roc_auc".into(),
                passed: true,
                detail: "0.93 > 0.61 + 0.005".into(),
                info: false,
            },
            Check {
                name: "fairness:disparate_impact_ratio".into(),
                passed: false,
                detail: "0.62 < 0.8 between groups <north> and south".into(),
                info: false,
            },
            Check {
                name: "significance:mcnemar".into(),
                passed: true,
                detail: "p = 0.2: could be noise (no limit set)".into(),
                info: true,
            },
        ],
        promote: false,
        significance: None,
        fairness: Some(FairnessSummary {
            sensitive: "region".into(),
            overall: group(40, 0.35),
            by_group: [
                ("<north>".to_string(), group(22, 0.45)),
                ("south".to_string(), group(18, 0.28)),
            ]
            .into_iter()
            .collect(),
            demographic_parity_difference: 0.17,
            equalized_odds_difference: 0.05,
            disparate_impact_ratio: Some(0.62),
        }),
        serving_cost: Some(ServingCost {
            artifact_bytes: 4_096,
            latency_p50_us: 3.5,
            latency_p99_us: 12.25,
            latency_samples: 40,
            throughput_rows_per_s: 1_250_000.4,
            batch_rows: 40,
        }),
        fit: None,
        warnings: vec!["only 40 holdout rows: too few to trust the decision".into()],
    };
    (report, y, candidate, champion)
}

#[test]
fn validation_page_matches_its_snapshot() {
    let (report, y, cand, champ) = inputs();
    let meta = ValidationReportMeta {
        title: "Validation of credit/2".into(),
        candidate: "credit/2".into(),
        champion: Some("credit/1".into()),
        holdout: "holdout.csv".into(),
        classes: vec!["no".into(), "yes".into()],
    };
    let html = validation_html(&report, &meta, &y, &cand, Some(&champ)).unwrap();
    assert_self_contained(&html);
    assert_eq!(
        html,
        validation_html(&report, &meta, &y, &cand, Some(&champ)).unwrap()
    );
    for needle in [
        "BLOCK",
        "beats_champion:roc_auc",
        "FAIL",
        "actual \\ predicted",
        "ROC curve",
        "Precision–recall curve",
        "Calibration",
        "true positive rate",
        "&lt;north&gt;",
        "selection rate by group",
        "µs",
        "candidate − champion",
        ">info<",
        "too few to trust the decision",
    ] {
        assert!(html.contains(needle), "`{needle}` missing");
    }
    // one confusion matrix per model, three charts with both models
    assert_eq!(html.matches("actual \\ predicted").count(), 2);
    assert_eq!(html.matches("<polyline").count(), 6);
    assert_snapshot("validation.html", &html);
    // scores for other rows are refused
    let mut short = cand.clone();
    short.predicted.pop();
    let err = validation_html(&report, &meta, &y, &short, None).unwrap_err();
    assert!(err.to_string().contains("39 predictions for 40"), "{err}");
}

#[test]
fn mlcycle_validate_format_html_writes_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let g = CreditDefault::new(8);
    let train = dir.path().join("train.csv");
    let holdout = dir.path().join("holdout.csv");
    write_csv(&g.sample(1_200, &DriftSpec::none(), 0).unwrap(), &train).unwrap();
    write_csv(&g.sample(500, &DriftSpec::none(), 1).unwrap(), &holdout).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .args(args)
            .env("MLCYCLE_HOME", &store)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for algo in ["logistic", "gbdt"] {
        let (code, err) = run(&[
            "train",
            "--data",
            train.to_str().unwrap(),
            "--target",
            "default",
            "--name",
            "credit",
            "--algorithm",
            algo,
            "--seed",
            "3",
        ]);
        assert_eq!(code, Some(0), "{err}");
    }
    let page = dir.path().join("validation.html");
    let (code, err) = run(&[
        "validate",
        "--candidate",
        "credit/2",
        "--champion",
        "credit/1",
        "--data",
        holdout.to_str().unwrap(),
        "--sensitive",
        "region",
        "--format",
        "html",
        "--output",
        page.to_str().unwrap(),
    ]);
    assert!(matches!(code, Some(0) | Some(2)), "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    for needle in [
        "credit/2 (candidate)",
        "credit/1 (champion)",
        "ROC curve",
        "Fairness by group: region",
        "roc_auc",
    ] {
        assert!(html.contains(needle), "`{needle}` missing");
    }
    assert_eq!(html.matches("actual \\ predicted").count(), 2);
}
