//! Verdicts that say no more than the evidence: `[info]` for checks that found nothing or had
//! no limit, no threshold checked for a first version, a scale-aware margin, small holdouts.

use mlcycle::data::{Dataset, Schema, Target, TargetKind};
use mlcycle::model::Model;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{AlgorithmTrainer, TrainContext};
use mlcycle::validate::{
    ChampionChallenger, ChampionChallengerConfig, FairnessConfig, MarginScale, McNemarPolicy,
    SignificanceConfig, ValidationReport,
};
use ndarray::Array1;
use serde_json::{Value, json};
use std::sync::Arc;

fn credit(n: usize) -> (Dataset, Dataset) {
    CreditDefault::new(5)
        .sample(n, &DriftSpec::none(), 0)
        .unwrap()
        .split(0.4, 1)
        .unwrap()
}

fn fit(name: &str, p: Value, data: &Dataset) -> Arc<dyn Model> {
    AlgorithmTrainer::from_name(name, &p)
        .unwrap()
        .fit(data, &TrainContext::with_seed(1))
        .unwrap()
        .model
}

fn validate(
    cfg: ChampionChallengerConfig,
    cand: &Arc<dyn Model>,
    champ: Option<&Arc<dyn Model>>,
    holdout: &Dataset,
) -> mlcycle::Result<ValidationReport> {
    ChampionChallenger::new(cfg)
        .unwrap()
        .validate_sync(cand.clone(), champ.cloned(), holdout, None)
}

fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(&format!("] {name}:")))
        .unwrap_or_else(|| panic!("no `{name}` line in\n{text}"))
}

#[test]
fn first_version_without_thresholds_says_nothing_was_checked() {
    let (train, holdout) = credit(2_000);
    let m = fit("logistic", Value::Null, &train);
    let r = validate(ChampionChallengerConfig::default(), &m, None, &holdout).unwrap();
    let text = r.to_text();
    let l = line(&text, "beats_champion");
    assert!(l.starts_with("  [info]"), "{l}");
    assert!(l.contains("no threshold was checked"), "{l}");
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "beats_champion" && c.info)
    );
    // With a threshold, it is the threshold that decides.
    let cfg = ChampionChallengerConfig {
        threshold: Some(0.5),
        ..Default::default()
    };
    let text = validate(cfg, &m, None, &holdout).unwrap().to_text();
    assert!(line(&text, "threshold:roc_auc").starts_with("  [pass]"));
    assert!(line(&text, "beats_champion").contains("only has to meet its thresholds"));
}

#[test]
fn mcnemar_that_decides_nothing_and_fairness_without_limits_are_info() {
    let (train, holdout) = credit(3_000);
    let a = fit("logistic", Value::Null, &train);
    let b = fit("logistic", json!({"l2": 0.5}), &train);
    let cfg = ChampionChallengerConfig {
        min_improvement: 0.0,
        significance: Some(SignificanceConfig {
            mcnemar: McNemarPolicy::Report,
            ..Default::default()
        }),
        fairness: Some(FairnessConfig {
            sensitive: "region".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = validate(cfg, &a, Some(&b), &holdout).unwrap();
    let text = r.to_text();
    let mc = r
        .checks
        .iter()
        .find(|c| c.name == "significance:mcnemar")
        .unwrap();
    let p = r
        .significance
        .as_ref()
        .unwrap()
        .mcnemar
        .as_ref()
        .unwrap()
        .p_value;
    assert!(
        p >= 0.05,
        "two near-identical models differ significantly: {p}"
    );
    assert!(mc.info, "{mc:?}");
    assert!(line(&text, "significance:mcnemar").starts_with("  [info]"));
    let l = line(&text, "fairness");
    assert!(
        l.starts_with("  [info]") && l.contains("no limits set"),
        "{l}"
    );
}

#[test]
fn fairness_on_a_continuous_column_is_refused() {
    let (train, holdout) = credit(1_000);
    let m = fit("logistic", Value::Null, &train);
    let numeric = holdout
        .schema()
        .features
        .iter()
        .find(|f| !f.is_categorical())
        .unwrap()
        .name
        .clone();
    let cfg = ChampionChallengerConfig {
        fairness: Some(FairnessConfig {
            sensitive: numeric.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = validate(cfg, &m, None, &holdout).unwrap_err().to_string();
    assert!(
        e.contains("continuous column") && e.contains(&numeric),
        "{e}"
    );
}

/// The credit features with a regression target in the hundreds (an RMSE far from 1).
fn regression(n: usize) -> (Dataset, Dataset) {
    let data = CreditDefault::new(9)
        .sample(n, &DriftSpec::none(), 0)
        .unwrap();
    let x = data.features().to_owned();
    let y: Array1<f64> = data
        .target()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, &t)| 150.0 + 100.0 * t + (i % 13) as f64 * 7.0)
        .collect();
    let schema = Schema::new(
        data.schema().features.clone(),
        Some(Target {
            name: "progression".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    Dataset::new(schema, x, Some(y), None)
        .unwrap()
        .split(0.3, 2)
        .unwrap()
}

#[test]
fn default_margin_is_relative_for_an_error_metric_and_stated() {
    let (train, holdout) = regression(1_500);
    let a = fit("linear", Value::Null, &train);
    let b = fit("linear", json!({"l2": 100.0}), &train);
    let r = validate(ChampionChallengerConfig::default(), &a, Some(&b), &holdout).unwrap();
    let champion_rmse = r.champion.as_ref().unwrap()["rmse"];
    assert!(champion_rmse > 10.0, "{champion_rmse}");
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "beats_champion:rmse")
        .unwrap();
    let want = format!("{:.4} (0.20 % of the champion's", 0.002 * champion_rmse);
    assert!(c.detail.contains(&want), "{} lacks {want}", c.detail);
    // Absolute on request, and for a 0–1 score by default.
    let cfg = ChampionChallengerConfig {
        margin_scale: MarginScale::Absolute,
        ..Default::default()
    };
    let r = validate(cfg, &a, Some(&b), &holdout).unwrap();
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "beats_champion:rmse")
        .unwrap();
    assert!(
        c.detail.contains("0.0020 (absolute, in rmse units)"),
        "{}",
        c.detail
    );
    let (train, holdout) = credit(1_000);
    let a = fit("logistic", Value::Null, &train);
    let r = validate(ChampionChallengerConfig::default(), &a, Some(&a), &holdout).unwrap();
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "beats_champion:roc_auc")
        .unwrap();
    assert!(
        c.detail.contains("0.0020 (absolute, in roc_auc units)"),
        "{}",
        c.detail
    );
}

#[test]
fn a_small_holdout_is_warned_about() {
    let (train, holdout) = credit(1_000);
    let m = fit("logistic", Value::Null, &train);
    let small = holdout.select_rows(&(0..69).collect::<Vec<_>>()).unwrap();
    let r = validate(ChampionChallengerConfig::default(), &m, Some(&m), &small).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("only 69 rows"), "{:?}", r.warnings);
    assert!(
        r.to_text()
            .contains("warning: the holdout has only 69 rows")
    );
    let r = validate(ChampionChallengerConfig::default(), &m, Some(&m), &holdout).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// The credit features with a three-class target cut from `income` terciles.
fn multiclass(n: usize) -> (Dataset, Dataset) {
    let data = CreditDefault::new(11)
        .sample(n, &DriftSpec::none(), 0)
        .unwrap();
    let col = data.schema().feature_index("income").unwrap();
    let income: Vec<f64> = data.features().column(col).to_vec();
    let mut sorted = income.clone();
    sorted.sort_by(f64::total_cmp);
    let (a, b) = (sorted[n / 3], sorted[2 * n / 3]);
    let y: Array1<f64> = income
        .iter()
        .map(|&v| {
            if v < a {
                0.0
            } else if v < b {
                1.0
            } else {
                2.0
            }
        })
        .collect();
    let schema = Schema::new(
        data.schema().features.clone(),
        Some(Target {
            name: "band".into(),
            kind: TargetKind::classification(["low", "mid", "high"]).unwrap(),
        }),
    )
    .unwrap();
    Dataset::new(schema, data.features().to_owned(), Some(y), None)
        .unwrap()
        .split(0.3, 2)
        .unwrap()
}

#[test]
fn fairness_for_multiclass_and_regression() {
    let fairness = |max_dpd: Option<f64>| ChampionChallengerConfig {
        fairness: Some(FairnessConfig {
            sensitive: "region".into(),
            max_demographic_parity_difference: max_dpd,
            ..Default::default()
        }),
        ..Default::default()
    };
    let (train, holdout) = multiclass(1_500);
    let m = fit("logistic", Value::Null, &train);
    let r = validate(fairness(None), &m, None, &holdout).unwrap();
    let c = r.checks.iter().find(|c| c.name == "fairness").unwrap();
    assert!(c.info, "{c:?}");
    assert!(
        c.detail.contains("selection low=")
            && c.detail
                .contains("largest per-class demographic parity difference"),
        "{}",
        c.detail
    );
    // A limit of 0 cannot be met by groups of different shares: it blocks.
    let r = validate(fairness(Some(0.0)), &m, None, &holdout).unwrap();
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "fairness:demographic_parity_difference")
        .unwrap();
    assert!(!c.passed && !r.promote, "{c:?}");

    let (train, holdout) = regression(1_000);
    let m = fit("linear", Value::Null, &train);
    let r = validate(fairness(None), &m, None, &holdout).unwrap();
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "fairness:error_gap")
        .unwrap();
    assert!(
        c.info && c.detail.contains("RMSE gap between groups"),
        "{c:?}"
    );
    let e = validate(fairness(Some(0.1)), &m, None, &holdout).unwrap_err();
    assert!(e.to_string().contains("for classifiers"), "{e}");
}
