//! The champion/challenger validator: MLflow-style thresholds, significance, fairness,
//! profiling budgets and the training/holdout gap.

use mlcycle::data::Dataset;
use mlcycle::model::Model;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{AlgorithmTrainer, TrainContext};
use mlcycle::validate::{
    ChampionChallenger, ChampionChallengerConfig, CostBudget, FairnessConfig, McNemarPolicy,
    MetricThreshold, SignificanceConfig, ValidationReport, Validator,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

struct Fixture {
    train: Dataset,
    holdout: Dataset,
    good: Arc<dyn Model>,
    weak: Arc<dyn Model>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let data = CreditDefault::new(5)
            .sample(3_000, &DriftSpec::none(), 0)
            .unwrap();
        let (train, holdout) = data.split(0.4, 1).unwrap();
        let fit = |name: &str, p: Value| {
            AlgorithmTrainer::from_name(name, &p)
                .unwrap()
                .fit(&train, &TrainContext::with_seed(1))
                .unwrap()
                .model
        };
        let good = fit("logistic", Value::Null);
        // A stump: much weaker.
        let weak = fit("tree", json!({"max_depth": 1}));
        Fixture {
            train,
            holdout,
            good,
            weak,
        }
    })
}

fn run(
    cfg: ChampionChallengerConfig,
    cand: &Arc<dyn Model>,
    champ: Option<&Arc<dyn Model>>,
) -> ValidationReport {
    ChampionChallenger::new(cfg)
        .unwrap()
        .validate_sync(cand.clone(), champ.cloned(), &fixture().holdout, None)
        .unwrap()
}

fn check<'a>(r: &'a ValidationReport, name: &str) -> &'a mlcycle::validate::Check {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {:#?}", r.checks))
}

fn thresholds(name: &str, t: MetricThreshold) -> ChampionChallengerConfig {
    ChampionChallengerConfig {
        metric_thresholds: BTreeMap::from([(name.to_string(), t)]),
        ..Default::default()
    }
}

#[test]
fn default_rule_is_unchanged() {
    let f = fixture();
    let r = run(Default::default(), &f.good, None);
    assert!(r.promote, "{}", r.to_text());
    let r = run(Default::default(), &f.good, Some(&f.weak));
    assert!(r.promote);
    assert!(check(&r, "beats_champion:roc_auc").passed);
    // Identical challenger: no improvement, not promoted.
    let r = run(Default::default(), &f.good, Some(&f.good));
    assert!(!r.promote);
    assert!(!check(&r, "beats_champion:roc_auc").passed);
    // Profiling is on by default and lands on the version metrics.
    let m = r.version_metrics();
    for k in [
        "profile_artifact_bytes",
        "profile_latency_p50_us",
        "profile_latency_p99_us",
        "profile_throughput_rows_per_s",
        "roc_auc",
    ] {
        assert!(m.contains_key(k), "{k}");
    }
    assert!(r.to_text().contains("beats_champion:roc_auc"));
}

#[test]
fn metric_threshold_absolute_rule() {
    let f = fixture();
    let auc = run(Default::default(), &f.good, None).candidate["roc_auc"];
    let t = |th: f64| MetricThreshold {
        threshold: Some(th),
        ..Default::default()
    };
    assert!(run(thresholds("roc_auc", t(auc - 0.01)), &f.good, None).promote);
    assert!(
        run(thresholds("roc_auc", t(auc)), &f.good, None).promote,
        ">= passes on equality"
    );
    let r = run(thresholds("roc_auc", t(auc + 0.01)), &f.good, None);
    assert!(!r.promote);
    assert!(!check(&r, "threshold:roc_auc").passed);
    // Lower is better for log loss: the threshold is a ceiling.
    let ll = run(Default::default(), &f.good, None).candidate["log_loss"];
    assert!(run(thresholds("log_loss", t(ll + 0.01)), &f.good, None).promote);
    assert!(!run(thresholds("log_loss", t(ll - 0.01)), &f.good, None).promote);
    // An explicit direction overrides the known one.
    let flipped = MetricThreshold {
        threshold: Some(ll + 0.01),
        greater_is_better: Some(true),
        ..Default::default()
    };
    assert!(!run(thresholds("log_loss", flipped), &f.good, None).promote);
}

#[test]
fn metric_threshold_change_rules_need_a_champion() {
    let f = fixture();
    let m = |abs: Option<f64>, rel: Option<f64>| MetricThreshold {
        min_absolute_change: abs,
        min_relative_change: rel,
        ..Default::default()
    };
    let base = run(Default::default(), &f.good, Some(&f.weak));
    let (c, b) = (
        base.candidate["accuracy"],
        base.champion.as_ref().unwrap()["accuracy"],
    );
    assert!(c > b);
    let gain = c - b;
    // Absolute change.
    assert!(
        run(
            thresholds("accuracy", m(Some(gain * 0.5), None)),
            &f.good,
            Some(&f.weak)
        )
        .promote
    );
    let r = run(
        thresholds("accuracy", m(Some(gain * 2.0), None)),
        &f.good,
        Some(&f.weak),
    );
    assert!(!check(&r, "min_absolute_change:accuracy").passed);
    // Relative change.
    let rel = gain / b;
    assert!(
        run(
            thresholds("accuracy", m(None, Some(rel * 0.5))),
            &f.good,
            Some(&f.weak)
        )
        .promote
    );
    let r = run(
        thresholds("accuracy", m(None, Some(rel * 2.0))),
        &f.good,
        Some(&f.weak),
    );
    assert!(!check(&r, "min_relative_change:accuracy").passed);
    // Without a champion only the absolute threshold applies: the change rules are skipped.
    let r = run(
        thresholds("accuracy", m(Some(1.0), Some(1.0))),
        &f.good,
        None,
    );
    assert!(r.promote);
    assert!(r.checks.iter().all(|c| !c.name.starts_with("min_")));
}

#[test]
fn metric_threshold_missing_metric_fails_and_bad_config_is_rejected() {
    let f = fixture();
    // `rmse` is a regression metric: a classifier does not have it.
    let r = run(
        thresholds(
            "rmse",
            MetricThreshold {
                threshold: Some(1.0),
                ..Default::default()
            },
        ),
        &f.good,
        None,
    );
    assert!(!r.promote);
    assert!(!check(&r, "has_metric:rmse").passed);
    // Unknown metric without a direction; bad values.
    for bad in [
        thresholds("made_up", MetricThreshold::default()),
        thresholds(
            "accuracy",
            MetricThreshold {
                min_relative_change: Some(1.5),
                ..Default::default()
            },
        ),
        thresholds(
            "accuracy",
            MetricThreshold {
                min_absolute_change: Some(-0.1),
                ..Default::default()
            },
        ),
    ] {
        assert!(ChampionChallenger::new(bad).is_err());
    }
    // Profile metrics can be thresholded too (with an explicit direction).
    let r = run(
        thresholds(
            "profile_artifact_bytes",
            MetricThreshold {
                threshold: Some(1.0),
                greater_is_better: Some(false),
                ..Default::default()
            },
        ),
        &f.good,
        None,
    );
    assert!(!check(&r, "threshold:profile_artifact_bytes").passed);
}

fn significance() -> ChampionChallengerConfig {
    ChampionChallengerConfig {
        significance: Some(SignificanceConfig {
            n_resamples: 300,
            mcnemar: McNemarPolicy::Require,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn significance_promotes_a_clearly_better_challenger_only() {
    let f = fixture();
    let r = run(significance(), &f.good, Some(&f.weak));
    assert!(r.promote, "{}", r.to_text());
    let s = r.significance.as_ref().unwrap();
    let m = s.mcnemar.unwrap();
    assert!(m.b > m.c && m.p_value < 0.05);
    assert!(s.bootstrap.as_ref().unwrap().lower > 0.0);
    assert!(check(&r, "significance:mcnemar").passed);
    assert!(check(&r, "significance:bootstrap:roc_auc").passed);
    // Identical challenger: no discordant pairs, a zero-width interval at 0: noise.
    let r = run(significance(), &f.good, Some(&f.good));
    assert!(!r.promote);
    assert!(!check(&r, "significance:mcnemar").passed);
    assert!(!check(&r, "significance:bootstrap:roc_auc").passed);
    // By default McNemar (a test of errors) only blocks for label metrics; with ROC AUC as
    // primary it is reported and the bootstrap interval decides.
    let mut auto = significance();
    auto.significance.as_mut().unwrap().mcnemar = McNemarPolicy::Auto;
    let r = run(auto.clone(), &f.good, Some(&f.good));
    assert!(!r.promote);
    assert!(check(&r, "significance:mcnemar").passed);
    assert!(
        check(&r, "significance:mcnemar")
            .detail
            .contains("reported only")
    );
    auto.primary_metric = Some("accuracy".into());
    let r = run(auto, &f.good, Some(&f.good));
    assert!(!check(&r, "significance:mcnemar").passed);
    // Seeded: the same report twice (apart from timings).
    let a = run(significance(), &f.good, Some(&f.weak)).significance;
    assert_eq!(a, run(significance(), &f.good, Some(&f.weak)).significance);
    // No champion: nothing to test.
    let r = run(significance(), &f.good, None);
    assert!(r.promote && r.significance.is_none());
    // A worse challenger fails the tests even with no margin required.
    let mut cfg = significance();
    cfg.min_improvement = 0.0;
    let r = run(cfg, &f.weak, Some(&f.good));
    assert!(!r.promote);
    assert!(!check(&r, "significance:bootstrap:roc_auc").passed);
}

#[test]
fn fairness_is_reported_and_a_limit_blocks() {
    let f = fixture();
    let cfg = |max: Option<f64>| ChampionChallengerConfig {
        fairness: Some(FairnessConfig {
            sensitive: "region".into(),
            max_demographic_parity_difference: max,
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = run(cfg(None), &f.good, None);
    assert!(r.promote);
    let fr = r.fairness.as_ref().unwrap();
    assert_eq!(
        fr.by_group.keys().cloned().collect::<Vec<_>>(),
        ["east", "north", "south", "west"]
    );
    assert_eq!(
        fr.by_group.values().map(|g| g.count).sum::<usize>(),
        f.holdout.n_rows()
    );
    assert!(fr.demographic_parity_difference > 0.0);
    assert!(r.to_text().contains("fairness by `region`"));
    // A limit below the measured difference blocks promotion.
    let r = run(
        cfg(Some(fr.demographic_parity_difference / 2.0)),
        &f.good,
        None,
    );
    assert!(!r.promote);
    assert!(!check(&r, "fairness:demographic_parity_difference").passed);
    let r = run(cfg(Some(1.0)), &f.good, None);
    assert!(r.promote);
    // The four-fifths rule with an impossible minimum.
    let di = ChampionChallengerConfig {
        fairness: Some(FairnessConfig {
            sensitive: "region".into(),
            min_disparate_impact_ratio: Some(1.0 + 1e-9),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(!run(di, &f.good, None).promote);
    // An unknown column is an error, not a failed check.
    let bad = ChampionChallengerConfig {
        fairness: Some(FairnessConfig {
            sensitive: "nope".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(
        ChampionChallenger::new(bad)
            .unwrap()
            .validate_sync(f.good.clone(), None, &f.holdout, None)
            .is_err()
    );
}

#[test]
fn profiling_budgets_block() {
    let f = fixture();
    let cfg = |p: CostBudget| ChampionChallengerConfig {
        serving_cost: Some(p),
        ..Default::default()
    };
    let r = run(
        cfg(CostBudget {
            latency_rows: 20,
            max_artifact_bytes: Some(1),
            ..Default::default()
        }),
        &f.good,
        None,
    );
    assert!(!r.promote);
    assert!(!check(&r, "profile:artifact_bytes").passed);
    let p = r.serving_cost.as_ref().unwrap();
    assert_eq!(p.latency_samples, 20);
    assert_eq!(p.batch_rows, f.holdout.n_rows());
    assert!(p.artifact_bytes > 1);
    let r = run(
        cfg(CostBudget {
            latency_rows: 20,
            max_latency_p99_us: Some(0.0),
            ..Default::default()
        }),
        &f.good,
        None,
    );
    assert!(!check(&r, "profile:latency_p99_us").passed);
    let r = run(
        cfg(CostBudget {
            latency_rows: 5,
            min_throughput_rows_per_s: Some(1e300),
            ..Default::default()
        }),
        &f.good,
        None,
    );
    assert!(!check(&r, "profile:throughput_rows_per_s").passed);
    // Generous budgets pass.
    let r = run(
        cfg(CostBudget {
            latency_rows: 5,
            max_artifact_bytes: Some(u64::MAX),
            max_latency_p99_us: Some(1e12),
            min_throughput_rows_per_s: Some(0.0),
        }),
        &f.good,
        None,
    );
    assert!(r.promote);
    // Profiling off: nothing measured.
    let r = run(
        ChampionChallengerConfig {
            serving_cost: None,
            ..Default::default()
        },
        &f.good,
        None,
    );
    assert!(r.serving_cost.is_none());
    assert!(!r.version_metrics().contains_key("profile_latency_p99_us"));
}

#[test]
fn training_holdout_gap_is_reported_and_can_block() {
    let f = fixture();
    // An unpruned tree memorises its training data.
    let deep = AlgorithmTrainer::from_name("tree", &Value::Null)
        .unwrap()
        .fit(&f.train, &TrainContext::with_seed(1))
        .unwrap()
        .model;
    let v = ChampionChallenger::new(ChampionChallengerConfig {
        max_train_holdout_gap: Some(0.05),
        ..Default::default()
    })
    .unwrap();
    let r = v
        .validate_sync(deep, None, &f.holdout, Some(&f.train))
        .unwrap();
    let gap = r.fit.as_ref().unwrap();
    assert!(gap.train > 0.99 && gap.gap > 0.05);
    assert!(!r.promote);
    assert!(check(&r, "fit_gap:roc_auc").detail.contains("overfitting"));
    assert!(r.version_metrics().contains_key("train_roc_auc"));
    let r = v
        .validate_sync(f.good.clone(), None, &f.holdout, Some(&f.train))
        .unwrap();
    assert!(r.promote, "{}", r.to_text());
    // Through the trait (async), with the default method for other validators.
    let r = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(v.validate_with_training(f.good.clone(), None, &f.holdout, &f.train))
        .unwrap();
    assert!(r.fit.is_some());
}

#[test]
fn reports_serialise_and_old_reports_still_load() {
    let f = fixture();
    let r = run(significance(), &f.good, Some(&f.weak));
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["significance"]["bootstrap"]["lower"].is_number());
    let back: ValidationReport = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, r);
    // A report without the new sections (as stored before they existed).
    let mut old = json;
    for k in ["significance", "fairness", "profile", "fit"] {
        old.as_object_mut().unwrap().remove(k);
    }
    let back: ValidationReport = serde_json::from_value(old).unwrap();
    assert!(back.serving_cost.is_none());
    // Configs load from partial JSON.
    let cfg: ChampionChallengerConfig = serde_json::from_value(json!({
        "metric_thresholds": {"roc_auc": {"threshold": 0.7}},
        "significance": {"alpha": 0.01}
    }))
    .unwrap();
    assert_eq!(cfg.min_improvement, 0.002);
    assert_eq!(cfg.significance.unwrap().n_resamples, 1000);
}
