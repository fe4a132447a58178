//! The drift engine through its public API: method selection, corrections, the dataset
//! rule, thresholds, missing values, the profile path and the JSON contract.

use std::borrow::Cow;

use mlcycle::Error;
use mlcycle::drift::stats::{
    self, Binning, CategoricalSummary, Correction, Method, SortedSample, correct,
};
use mlcycle::drift::{
    ColumnInput, ColumnValues, DatasetProfile, DriftReport, MethodSelection,
    StatisticalDriftConfig, StatisticalDriftDetector,
};
use mlcycle::testing::{CreditDefault, DriftSpec};

/// Deterministic pseudo-normal values (sum of uniforms from a fixed LCG).
fn normal(n: usize, seed: u64, mean: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| mean + (0..12).map(|_| u()).sum::<f64>() - 6.0)
        .collect()
}

fn detector(config: StatisticalDriftConfig) -> StatisticalDriftDetector {
    StatisticalDriftDetector::new(config).unwrap()
}

fn num<'a>(name: &'a str, r: &'a [f64], c: &'a [f64]) -> ColumnInput<'a> {
    ColumnInput {
        name,
        reference: ColumnValues::numeric(r),
        current: ColumnValues::numeric(c),
    }
}

fn cat<'a>(name: &'a str, r: &[&str], c: &[&str]) -> ColumnInput<'a> {
    ColumnInput {
        name,
        reference: ColumnValues::categorical(r.iter().map(|s| Some(*s))),
        current: ColumnValues::categorical(c.iter().map(|s| Some(*s))),
    }
}

fn labels(n: usize, k: usize, offset: usize) -> Vec<&'static str> {
    const L: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    (0..n).map(|i| L[(i * 7 + offset) % k]).collect()
}

#[test]
fn auto_selection_follows_evidently() {
    let d = detector(StatisticalDriftConfig::evidently());
    let small_r = normal(500, 1, 0.0);
    let small_c = normal(500, 2, 0.0);
    let big_r = normal(3_000, 3, 0.0);
    let big_c = normal(3_000, 4, 0.0);
    let few = |n: usize, k: usize| (0..n).map(|i| (i % k) as f64).collect::<Vec<_>>();
    let (f4r, f4c) = (few(500, 4), few(400, 4));
    let (f2r, f2c) = (few(500, 2), few(400, 2));
    let (f4br, f4bc) = (few(3_000, 4), few(2_000, 4));
    let (lr, lc) = (labels(500, 5, 0), labels(300, 5, 1));
    let (l2r, l2c) = (labels(500, 2, 0), labels(300, 2, 1));
    let (lbr, lbc) = (labels(2_000, 5, 0), labels(300, 5, 1));
    let report = d
        .detect_columns(&[
            num("small", &small_r, &small_c),
            num("big", &big_r, &big_c),
            num("few4", &f4r, &f4c),
            num("few2", &f2r, &f2c),
            num("few4_big", &f4br, &f4bc),
            cat("cat", &lr, &lc),
            cat("cat2", &l2r, &l2c),
            cat("cat_big", &lbr, &lbc),
        ])
        .unwrap();
    let method = |n: &str| report.column(n).unwrap().method.clone();
    assert_eq!(method("small"), "ks");
    assert_eq!(method("big"), "wasserstein");
    assert_eq!(method("few4"), "chisquare");
    assert_eq!(method("few2"), "z");
    assert_eq!(method("few4_big"), "jensenshannon");
    assert_eq!(method("cat"), "chisquare");
    assert_eq!(method("cat2"), "z");
    assert_eq!(method("cat_big"), "jensenshannon");
    // thresholds are Evidently's defaults
    assert_eq!(report.column("small").unwrap().threshold, 0.05);
    assert_eq!(report.column("big").unwrap().threshold, 0.1);
    // under `auto` only the deciding method is reported
    assert!(report.columns.iter().all(|c| c.tests.len() == 1));
    assert_eq!(report.drifted_columns, 0);
}

#[test]
fn engine_numbers_equal_the_statistics_module() {
    let r = normal(4_000, 10, 0.0);
    let c = normal(3_000, 11, 0.15);
    let d = detector(StatisticalDriftConfig {
        methods: "ks,wasserstein,psi,jensenshannon,kl_div,hellinger,anderson,ed"
            .parse()
            .unwrap(),
        binning: Binning::Evidently,
        ..StatisticalDriftConfig::default()
    });
    let report = d.detect_columns(&[num("x", &r, &c)]).unwrap();
    let col = &report.columns[0];
    let (rs, cs) = (SortedSample::new(&r), SortedSample::new(&c));
    let ks = stats::ks(&rs, &cs).unwrap();
    assert_eq!(col.method, "ks");
    assert_eq!(col.statistic, ks.statistic);
    assert_eq!(col.p_value, Some(ks.p_value));
    assert_eq!(col.drift, ks.p_value <= 0.05);
    let t = |m: &str| col.tests.get(m).unwrap();
    assert_eq!(t("ks").p_value, Some(ks.p_value));
    let w = stats::wasserstein(&rs, &cs).unwrap();
    assert_eq!(t("wasserstein").raw, Some(w));
    assert_eq!(
        t("wasserstein").statistic,
        stats::wasserstein_normed(&rs, &cs).unwrap()
    );
    let ev = Binning::Evidently;
    assert_eq!(t("psi").statistic, stats::psi(&rs, &cs, ev).unwrap());
    assert_eq!(
        t("jensenshannon").statistic,
        stats::jensenshannon(&rs, &cs, ev).unwrap()
    );
    assert_eq!(t("kl_div").statistic, stats::kl_div(&rs, &cs, ev).unwrap());
    assert_eq!(
        t("hellinger").statistic,
        stats::hellinger(&rs, &cs, ev).unwrap()
    );
    assert_eq!(
        t("anderson").p_value,
        Some(stats::anderson_ksamp(&rs, &cs).unwrap().p_value)
    );
    assert_eq!(
        t("energy_distance").statistic,
        stats::energy_distance(&rs, &cs).unwrap()
    );
    assert_eq!(col.tests.len(), 8);
}

#[test]
fn tests_hold_every_requested_method_of_the_columns_kind() {
    let d = detector(StatisticalDriftConfig {
        methods: "ks,wasserstein,psi,jensenshannon,chisquare"
            .parse()
            .unwrap(),
        ..StatisticalDriftConfig::evidently()
    });
    let r = normal(2_000, 1, 0.0);
    let c = normal(2_000, 2, 0.0);
    let (lr, lc) = (labels(2_000, 4, 0), labels(1_500, 4, 3));
    let report = d
        .detect_columns(&[num("x", &r, &c), cat("k", &lr, &lc)])
        .unwrap();
    let keys = |n: &str| {
        report
            .column(n)
            .unwrap()
            .tests
            .iter()
            .map(|(m, _)| m.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys("x"), ["ks", "wasserstein", "psi", "jensenshannon"]);
    // the first listed method that applies decides: psi for a categorical column
    assert_eq!(report.column("k").unwrap().method, "psi");
    assert_eq!(keys("k"), ["psi", "jensenshannon", "chisquare"]);
    // `auto` first: the automatic selection decides, the list is reported too
    let d = detector(StatisticalDriftConfig {
        methods: "auto,psi".parse().unwrap(),
        ..StatisticalDriftConfig::evidently()
    });
    let report = d
        .detect_columns(&[num("x", &r, &c), cat("k", &lr, &lc)])
        .unwrap();
    assert_eq!(report.columns[0].method, "wasserstein");
    assert_eq!(report.columns[1].method, "jensenshannon");
    assert!(report.columns.iter().all(|c| c.tests.get("psi").is_some()));
    // `all` computes every scalable method of the kind
    let d = detector(StatisticalDriftConfig {
        methods: MethodSelection::All,
        ..StatisticalDriftConfig::evidently()
    });
    let report = d
        .detect_columns(&[num("x", &r[..300], &c[..300]), cat("k", &lr, &lc)])
        .unwrap();
    assert_eq!(report.columns[0].tests.len(), 11);
    assert_eq!(report.columns[1].tests.len(), 9);
    assert!(report.columns[0].tests.get("empirical_mmd").is_none());
    // the contract names of the drift issue, in `all`
    assert!(report.columns[0].tests.get("energy_distance").is_some());
    for m in ["tvd", "chi2_contingency"] {
        assert!(report.columns[1].tests.get(m).is_some(), "{m}");
    }
}

#[test]
fn method_lists_parse_and_reject_unknown_names() {
    let m: MethodSelection = "ks, psi".parse().unwrap();
    assert_eq!(m, MethodSelection::list([Method::Ks, Method::Psi]));
    assert_eq!(m.to_string(), "ks,psi");
    assert_eq!(
        "auto".parse::<MethodSelection>().unwrap(),
        MethodSelection::Auto
    );
    assert_eq!(
        "all".parse::<MethodSelection>().unwrap(),
        MethodSelection::All
    );
    let e = "ks,foo".parse::<MethodSelection>().unwrap_err();
    assert!(e.to_string().contains("unknown method `foo`"), "{e}");
    assert!("".parse::<MethodSelection>().is_err());
}

/// Eight columns with increasing shifts, so p-values spread from ~1 to ~0.
fn spread_columns() -> Vec<(String, Vec<f64>, Vec<f64>)> {
    (0..8)
        .map(|i| {
            (
                format!("x{i}"),
                normal(400, 100 + i, 0.0),
                normal(400, 200 + i, 0.04 * i as f64),
            )
        })
        .collect()
}

fn run_spread(config: StatisticalDriftConfig) -> DriftReport {
    let cols = spread_columns();
    let inputs: Vec<ColumnInput<'_>> = cols.iter().map(|(n, r, c)| num(n, r, c)).collect();
    detector(config).detect_columns(&inputs).unwrap()
}

#[test]
fn bonferroni_and_benjamini_hochberg_follow_alibi_detect() {
    let base = StatisticalDriftConfig {
        methods: "ks".parse().unwrap(),
        ..StatisticalDriftConfig::default()
    };
    let plain = run_spread(base.clone());
    let ps: Vec<f64> = plain.columns.iter().map(|c| c.p_value.unwrap()).collect();
    assert!(
        ps.iter().any(|&p| p < 0.05) && ps.iter().any(|&p| p > 0.5),
        "{ps:?}"
    );

    let bonf = run_spread(StatisticalDriftConfig {
        correction: Correction::Bonferroni,
        ..base.clone()
    });
    for (c, &p) in bonf.columns.iter().zip(&ps) {
        assert_eq!(c.threshold, 0.05 / 8.0);
        assert_eq!(c.drift, p < 0.05 / 8.0);
    }
    let bh = run_spread(StatisticalDriftConfig {
        correction: Correction::BenjaminiHochberg,
        ..base.clone()
    });
    let want = correct(&ps, 0.05, Correction::BenjaminiHochberg).unwrap();
    for (k, c) in bh.columns.iter().enumerate() {
        assert_eq!(c.threshold, want.threshold);
        assert_eq!(c.drift, want.rejected[k]);
    }
    let n = |r: &DriftReport| r.drifted_columns;
    assert!(n(&bonf) <= n(&bh) && n(&bh) <= n(&plain));

    // BH needs one alpha
    let d = detector(StatisticalDriftConfig {
        correction: Correction::BenjaminiHochberg,
        thresholds: [("x1".to_string(), 0.01)].into(),
        ..base
    });
    let cols = spread_columns();
    let inputs: Vec<ColumnInput<'_>> = cols.iter().map(|(n, r, c)| num(n, r, c)).collect();
    let e = d.detect_columns(&inputs).unwrap_err();
    assert!(e.to_string().contains("one p-value threshold"), "{e}");
}

#[test]
fn dataset_drift_when_share_reaches_drift_share() {
    let same_r = normal(500, 1, 0.0);
    let same_c = normal(500, 2, 0.0);
    let moved = normal(500, 3, 3.0);
    let cols = [
        num("a", &same_r, &moved),
        num("b", &same_r, &same_c),
        num("c", &same_r, &same_c),
        num("d", &same_r, &same_c),
    ];
    let run = |share: f64| {
        detector(StatisticalDriftConfig {
            drift_share: share,
            ..StatisticalDriftConfig::default()
        })
        .detect_columns(&cols)
        .unwrap()
    };
    let r = run(0.25);
    assert_eq!(r.drifted_columns, 1);
    assert_eq!(r.share_drifted, 0.25);
    assert!(
        r.dataset_drift,
        "share equal to drift_share counts as drift"
    );
    let r = run(0.5);
    assert!(!r.dataset_drift);
    assert_eq!(r.drift_share, 0.5);
    for bad in [0.0, 1.5, f64::NAN] {
        assert!(
            StatisticalDriftDetector::new(StatisticalDriftConfig {
                drift_share: bad,
                ..StatisticalDriftConfig::default()
            })
            .is_err()
        );
    }
}

#[test]
fn per_column_thresholds_and_methods() {
    let r = normal(3_000, 1, 0.0);
    let c = normal(3_000, 2, 0.05);
    let inputs = [num("x", &r, &c), num("y", &r, &c)];
    let base = StatisticalDriftConfig::evidently();
    let report = detector(base.clone()).detect_columns(&inputs).unwrap();
    let w = report.columns[0].statistic;
    assert!(!report.columns[0].drift && w < 0.1);
    let report = detector(StatisticalDriftConfig {
        thresholds: [("x".to_string(), w / 2.0)].into(),
        column_methods: [("y".to_string(), Method::Ks)].into(),
        ..base.clone()
    })
    .detect_columns(&inputs)
    .unwrap();
    assert!(report.columns[0].drift);
    assert_eq!(report.columns[0].threshold, w / 2.0);
    assert_eq!(report.columns[1].method, "ks");
    // a global distance threshold
    let report = detector(StatisticalDriftConfig {
        distance: Some(w / 2.0),
        ..base.clone()
    })
    .detect_columns(&inputs)
    .unwrap();
    assert_eq!(report.drifted_columns, 2);
    // a method that cannot decide the column's kind is an error naming it
    let (lr, lc) = (labels(100, 3, 0), labels(100, 3, 1));
    let e = detector(StatisticalDriftConfig {
        column_methods: [("k".to_string(), Method::Ks)].into(),
        ..base
    })
    .detect_columns(&[cat("k", &lr, &lc)])
    .unwrap_err();
    assert!(e.to_string().contains("column `k`"), "{e}");
}

#[test]
fn missing_values_are_dropped_and_counted() {
    let mut r = normal(1_000, 1, 0.0);
    let mut c = normal(800, 2, 0.0);
    r[3] = f64::NAN;
    r[7] = f64::INFINITY;
    c[0] = f64::NEG_INFINITY;
    c[1] = f64::NAN;
    c[2] = f64::NAN;
    let rl = [Some("a"), None, Some("b"), Some("a")];
    let cl = [Some("b"), Some("a"), None, None, Some("a")];
    let report = detector(StatisticalDriftConfig::evidently())
        .detect_columns(&[
            num("x", &r, &c),
            ColumnInput {
                name: "k",
                reference: ColumnValues::categorical(rl),
                current: ColumnValues::categorical(cl),
            },
        ])
        .unwrap();
    let x = &report.columns[0];
    assert_eq!((x.n_reference, x.missing_reference), (998, 2));
    assert_eq!((x.n_current, x.missing_current), (797, 3));
    let k = &report.columns[1];
    assert_eq!((k.n_reference, k.missing_reference), (3, 1));
    assert_eq!((k.n_current, k.missing_current), (3, 2));
    let clean_r: Vec<f64> = r.iter().copied().filter(|v| v.is_finite()).collect();
    let clean_c: Vec<f64> = c.iter().copied().filter(|v| v.is_finite()).collect();
    let clean = detector(StatisticalDriftConfig::evidently())
        .detect_columns(&[num("x", &clean_r, &clean_c)])
        .unwrap();
    assert_eq!(clean.columns[0].statistic, x.statistic);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let d = detector(StatisticalDriftConfig::evidently());
    let ok = normal(100, 1, 0.0);
    let nan = vec![f64::NAN; 10];
    let e = d.detect_columns(&[num("x", &ok, &nan)]).unwrap_err();
    assert!(matches!(e, Error::Data(_)));
    assert!(
        e.to_string().contains("column `x`") && e.to_string().contains("current"),
        "{e}"
    );
    let e = d.detect_columns(&[num("x", &[], &ok)]).unwrap_err();
    assert!(e.to_string().contains("reference"), "{e}");
    let e = d
        .detect_columns(&[ColumnInput {
            name: "m",
            reference: ColumnValues::numeric(&ok),
            current: ColumnValues::Categorical(Cow::Owned(CategoricalSummary::default())),
        }])
        .unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch(_)), "{e}");
    let e = d.detect_columns(&[cat("k", &["a"], &[])]).unwrap_err();
    assert!(e.to_string().contains("column `k`"), "{e}");
    assert!(d.detect_columns(&[]).is_err());
    for bad in [Some(0.0), Some(1.0), Some(f64::NAN)] {
        assert!(
            StatisticalDriftDetector::new(StatisticalDriftConfig {
                p_value: bad,
                ..StatisticalDriftConfig::default()
            })
            .is_err()
        );
    }
}

#[test]
fn profile_path_equals_raw_path_for_binned_methods() {
    let g = CreditDefault::new(9);
    let training = g
        .sample(6_000, &DriftSpec::none(), 0)
        .unwrap()
        .without_target();
    let window = g
        .sample(2_000, &DriftSpec::downturn(0.5), 1)
        .unwrap()
        .without_target();
    let config = StatisticalDriftConfig {
        methods: "jensenshannon,psi,kl_div,hellinger,chisquare,z,l_infinity"
            .parse()
            .unwrap(),
        binning: Binning::Reference,
        ..StatisticalDriftConfig::default()
    };
    let d = detector(config);
    let raw = d.detect_sync(&training, &window).unwrap();
    let stored = DatasetProfile::reference(&training).unwrap();
    // the stored profile survives a JSON round trip bit for bit
    let stored: DatasetProfile =
        serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
    let from_profiles = d.detect_against_profile(&stored, &window).unwrap();
    assert_eq!(raw, from_profiles);
    assert!(raw.drifted_columns > 0);

    // windows merge: two halves give the whole
    let half1 = window.select_rows(&(0..1_000).collect::<Vec<_>>()).unwrap();
    let half2 = window
        .select_rows(&(1_000..2_000).collect::<Vec<_>>())
        .unwrap();
    let merged = DatasetProfile::window(&stored, &half1)
        .unwrap()
        .merge(&DatasetProfile::window(&stored, &half2).unwrap())
        .unwrap();
    let from_merged = d.detect_profiles(&stored, &merged).unwrap();
    for (a, b) in from_merged.columns.iter().zip(&raw.columns) {
        assert_eq!(a.tests, b.tests, "column {}", a.name);
    }

    // raw-only methods are refused on profiles, with a reason
    let d = detector(StatisticalDriftConfig {
        methods: "ks".parse().unwrap(),
        ..StatisticalDriftConfig::default()
    });
    let e = d.detect_against_profile(&stored, &window).unwrap_err();
    assert!(e.to_string().contains("needs the raw values"), "{e}");
    // `auto` on profiles decides numeric columns by Jensen–Shannon
    let d = detector(StatisticalDriftConfig {
        methods: MethodSelection::Auto,
        ..StatisticalDriftConfig::default()
    });
    let r = d.detect_against_profile(&stored, &window).unwrap();
    assert_eq!(r.columns[0].method, "jensenshannon");
}

#[test]
fn report_serialises_to_the_json_contract() {
    let r = normal(2_000, 1, 0.0);
    let c = normal(2_000, 2, 0.3);
    let (lr, lc) = (labels(2_000, 3, 0), labels(2_000, 4, 1));
    let d = detector(StatisticalDriftConfig {
        methods: "ks,wasserstein,psi,jensenshannon,chisquare"
            .parse()
            .unwrap(),
        ..StatisticalDriftConfig::evidently()
    });
    let report = d
        .detect_columns(&[num("x", &r, &c), cat("k", &lr, &lc)])
        .unwrap();
    let v: serde_json::Value = serde_json::to_value(&report).unwrap();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "columns",
        "drifted_columns",
        "share_drifted",
        "drift_share",
        "dataset_drift",
    ] {
        assert!(top.contains(&k), "{k}");
    }
    let x = &v["columns"][0];
    for k in [
        "name",
        "kind",
        "n_reference",
        "n_current",
        "missing_reference",
        "missing_current",
        "method",
        "statistic",
        "p_value",
        "threshold",
        "drift",
        "tests",
    ] {
        assert!(x.get(k).is_some(), "{k}");
    }
    assert_eq!(x["kind"], "numeric");
    assert!(x["tests"]["ks"]["p_value"].is_f64());
    assert!(x["tests"]["wasserstein"]["raw"].is_f64());
    assert!(x["tests"]["psi"].get("p_value").is_none());
    let k = &v["columns"][1];
    assert_eq!(k["kind"], "categorical");
    // a category absent from the reference: infinite chi-square, written as null
    assert!(k["tests"]["chisquare"]["statistic"].is_null());
    assert_eq!(k["tests"]["chisquare"]["p_value"], 0.0);
    // serde_json::Value sorts keys; the text form keeps the method order
    let back: DriftReport = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(back.columns[0], report.columns[0]);
    assert!(
        back.columns[1]
            .tests
            .get("chisquare")
            .unwrap()
            .statistic
            .is_nan()
    );
}

/// Assert that the fused KS/W1 merge gives the separate functions' numbers bit for bit;
/// returns `D`.
fn fused_equals_separate(rs: &SortedSample, cs: &SortedSample) -> f64 {
    let (d, w) = stats::ks_statistic_and_wasserstein(rs, cs).unwrap();
    assert_eq!(d.to_bits(), stats::ks_statistic(rs, cs).unwrap().to_bits());
    assert_eq!(w.to_bits(), stats::wasserstein(rs, cs).unwrap().to_bits());
    d
}

#[test]
fn fused_ks_and_wasserstein_equal_the_separate_functions() {
    for (n, m, shift) in [
        (1usize, 1usize, 0.0),
        (5, 3, 0.5),
        (4_000, 2_500, 0.1),
        (300, 300, 0.0),
    ] {
        let mut r = normal(n, 1, 0.0);
        let c = normal(m, 2, shift);
        if n > 4 {
            // ties within and across the samples
            r[0] = c[0];
            r[1] = r[2];
        }
        let (rs, cs) = (SortedSample::new(&r), SortedSample::new(&c));
        let d = fused_equals_separate(&rs, &cs);
        assert_eq!(
            stats::ks_from_statistic(d, n, m),
            stats::ks(&rs, &cs).unwrap()
        );
    }
    // heavy ties (integers), signed zeros, one sample entirely below / above the other,
    // a few ties in continuous data: both merges (per value and per run) agree bit for bit
    let ints = |n: usize, seed: u64, k: f64| -> Vec<f64> {
        normal(n, seed, 0.0)
            .iter()
            .map(|x| (x * k).round() / k)
            .collect()
    };
    let mut zeros = normal(3_000, 7, 0.0);
    for (i, z) in zeros.iter_mut().enumerate().take(40) {
        *z = if i % 2 == 0 { 0.0 } else { -0.0 };
    }
    let mut few_ties = normal(5_000, 8, 0.2);
    for i in (0..5_000).step_by(97) {
        few_ties[i] = (few_ties[i] * 10.0).round() / 10.0;
    }
    let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
        (ints(5_000, 3, 2.0), ints(4_000, 4, 2.0)),
        (ints(5_000, 3, 1e3), ints(7_000, 4, 1e3)),
        (zeros.clone(), normal(2_000, 9, 0.0)),
        (normal(2_000, 9, 0.0), zeros),
        (normal(1_000, 10, 0.0), normal(1_500, 11, 50.0)),
        (normal(1_500, 11, 50.0), normal(1_000, 10, 0.0)),
        (few_ties, normal(6_000, 12, 0.0)),
        (vec![1.0; 500], vec![1.0; 300]),
    ];
    for (r, c) in cases {
        let (rs, cs) = (SortedSample::new(&r), SortedSample::new(&c));
        fused_equals_separate(&rs, &cs);
    }
}

#[tokio::test]
async fn detectors_run_from_a_stored_profile_through_the_trait() {
    use mlcycle::drift::DriftDetector;
    let g = CreditDefault::new(5);
    let training = g
        .sample(5_000, &DriftSpec::none(), 0)
        .unwrap()
        .without_target();
    let window = g
        .sample(2_000, &DriftSpec::downturn(1.0), 1)
        .unwrap()
        .without_target();
    let stored = DatasetProfile::reference(&training).unwrap();

    // The default detector: chi-square on categorical columns, Jensen–Shannon on numeric
    // ones at 0.1, PSI too — even though its raw-data methods start with KS, and even with
    // Evidently binning configured (profiles are reference-binned).
    for config in [
        StatisticalDriftConfig::default(),
        StatisticalDriftConfig {
            binning: Binning::Evidently,
            ..StatisticalDriftConfig::default()
        },
    ] {
        let d = detector(config);
        let r = d.detect_from_profile(&stored, &window).await.unwrap();
        for c in &r.columns {
            let (want, threshold) = match c.kind.as_str() {
                "numeric" => ("jensenshannon", 0.1),
                _ => ("chisquare", 0.05),
            };
            assert_eq!(
                (c.method.as_str(), c.threshold),
                (want, threshold),
                "{}",
                c.name
            );
            assert!(c.tests.get("psi").is_some());
            assert!(c.tests.get("ks").is_none());
        }
        assert!(r.dataset_drift);
        // the same numbers as the raw data under reference binning
        let raw = detector(StatisticalDriftConfig {
            methods: "chisquare,jensenshannon,psi".parse().unwrap(),
            ..StatisticalDriftConfig::default()
        })
        .detect(&training, &window)
        .await
        .unwrap();
        assert_eq!(r, raw);
    }

    // a custom profile method list, and one that cannot run from profiles
    let d = detector(StatisticalDriftConfig {
        profile_methods: "hellinger,kl_div".parse().unwrap(),
        ..StatisticalDriftConfig::default()
    });
    let r = d.detect_from_profile(&stored, &window).await.unwrap();
    assert!(r.columns.iter().all(|c| c.method == "hellinger"));
    let e = StatisticalDriftDetector::new(StatisticalDriftConfig {
        profile_methods: "jensenshannon,ks".parse().unwrap(),
        ..StatisticalDriftConfig::default()
    })
    .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("`ks` needs the raw reference values"),
        "{e}"
    );

    // A detector written before profiles existed compiles and says what it needs.
    #[derive(Debug)]
    struct RawOnly;
    #[async_trait::async_trait]
    impl DriftDetector for RawOnly {
        async fn detect(
            &self,
            reference: &mlcycle::data::Dataset,
            current: &mlcycle::data::Dataset,
        ) -> mlcycle::Result<DriftReport> {
            StatisticalDriftDetector::default().detect_sync(reference, current)
        }
    }
    let e = RawOnly
        .detect_from_profile(&stored, &window)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(
        e.to_string().contains("needs the raw reference data"),
        "{e}"
    );
}

#[test]
fn configs_without_profile_methods_deserialise_with_the_default() {
    let mut v = serde_json::to_value(StatisticalDriftConfig::default()).unwrap();
    v.as_object_mut().unwrap().remove("profile_methods");
    let c: StatisticalDriftConfig = serde_json::from_value(v).unwrap();
    assert_eq!(
        c.profile_methods,
        StatisticalDriftConfig::default_profile_methods()
    );
    assert_eq!(c.profile_methods.to_string(), "chisquare,jensenshannon,psi");
}

/// Large numeric columns whose methods need only D, W1 and Evidently's bins take the
/// engine's bucketed path (no sort); its numbers must be those of the sorted samples.
#[test]
fn bucketed_path_equals_the_sorted_samples_on_large_columns() {
    let base = normal(60_000, 21, 0.0);
    let shapes: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("normal", base[..30_000].to_vec(), normal(25_000, 22, 0.02)),
        (
            "lognormal",
            base[..30_000].iter().map(|x| (0.5 * x).exp()).collect(),
            normal(25_000, 23, 0.3)
                .iter()
                .map(|x| (0.5 * x).exp())
                .collect(),
        ),
        (
            "rounded_ties",
            base[..30_000]
                .iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect(),
            normal(25_000, 24, 0.0)
                .iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect(),
        ),
        (
            "zeros_and_signed_zeros",
            base[..30_000]
                .iter()
                .enumerate()
                .map(|(i, &x)| match i % 5 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => x,
                })
                .collect(),
            normal(25_000, 25, 0.1)
                .iter()
                .enumerate()
                .map(|(i, &x)| if i % 3 == 0 { -0.0 } else { x })
                .collect(),
        ),
        (
            "missing_and_infinite",
            base[30_000..]
                .iter()
                .enumerate()
                .map(|(i, &x)| match i % 97 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    _ => x,
                })
                .collect(),
            normal(20_000, 26, -0.05),
        ),
        (
            "disjoint",
            base[..20_000].to_vec(),
            normal(20_000, 27, 50.0),
        ),
        (
            "identical",
            base[..20_000].to_vec(),
            base[..20_000].to_vec(),
        ),
    ];
    let d = detector(StatisticalDriftConfig {
        methods: "ks,wasserstein,psi,jensenshannon,kl_div".parse().unwrap(),
        binning: Binning::Evidently,
        ..StatisticalDriftConfig::default()
    });
    let inputs: Vec<ColumnInput<'_>> = shapes.iter().map(|(n, r, c)| num(n, r, c)).collect();
    let report = d.detect_columns(&inputs).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300);
    for ((name, r, c), col) in shapes.iter().zip(&report.columns) {
        let (rs, cs) = (SortedSample::new(r), SortedSample::new(c));
        assert_eq!(col.n_reference, rs.len(), "{name}");
        assert_eq!(col.missing_reference as u64, rs.dropped().total(), "{name}");
        let t = |m: &str| col.tests.get(m).unwrap();
        let ks = stats::ks(&rs, &cs).unwrap();
        assert_eq!(t("ks").statistic, ks.statistic, "{name}: D");
        assert_eq!(t("ks").p_value, Some(ks.p_value), "{name}: KS p");
        let w = stats::wasserstein(&rs, &cs).unwrap();
        assert!(close(t("wasserstein").raw.unwrap(), w), "{name}: W1");
        let wn = stats::wasserstein_normed(&rs, &cs).unwrap();
        assert!(close(t("wasserstein").statistic, wn), "{name}: normed W1");
        let ev = Binning::Evidently;
        assert_eq!(
            t("psi").statistic,
            stats::psi(&rs, &cs, ev).unwrap(),
            "{name}"
        );
        assert_eq!(
            t("jensenshannon").statistic,
            stats::jensenshannon(&rs, &cs, ev).unwrap(),
            "{name}"
        );
        assert_eq!(
            t("kl_div").statistic,
            stats::kl_div(&rs, &cs, ev).unwrap(),
            "{name}"
        );
    }
}

/// The engine against scipy / Evidently on the fixture cases large enough for the bucketed
/// path (the statistics module's own fixture test covers the sorted path).
#[test]
fn engine_on_large_fixture_cases_matches_the_reference_tools() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift/numeric.json");
    let fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let num_of = |v: &serde_json::Value| -> f64 {
        v.as_f64()
            .or_else(|| match v.as_str() {
                Some("nan") => Some(f64::NAN),
                Some("inf") => Some(f64::INFINITY),
                Some("-inf") => Some(f64::NEG_INFINITY),
                _ => None,
            })
            .unwrap()
    };
    let close =
        |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a - b).abs() <= 1e-12;
    let d = detector(StatisticalDriftConfig {
        methods: "ks,wasserstein,psi,jensenshannon,kl_div".parse().unwrap(),
        binning: Binning::Evidently,
        ..StatisticalDriftConfig::default()
    });
    let mut checked = 0;
    for case in fx["cases"].as_array().unwrap() {
        let r: Vec<f64> = case["reference"]
            .as_array()
            .unwrap()
            .iter()
            .map(num_of)
            .collect();
        let c: Vec<f64> = case["current"]
            .as_array()
            .unwrap()
            .iter()
            .map(num_of)
            .collect();
        if r.len() + c.len() < 16_384 || r.len() < 1_000 {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let e = &case["expected"];
        let report = d.detect_columns(&[num(name, &r, &c)]).unwrap();
        let col = &report.columns[0];
        let t = |m: &str| col.tests.get(m).unwrap();
        for (got, want, what) in [
            (t("ks").statistic, &e["ks"]["statistic"], "ks"),
            (t("ks").p_value.unwrap(), &e["ks"]["p_value"], "ks p"),
            (t("wasserstein").raw.unwrap(), &e["wasserstein"], "w1"),
            (
                t("wasserstein").statistic,
                &e["wasserstein_normed"],
                "w1 normed",
            ),
            (t("psi").statistic, &e["psi_evidently"], "psi"),
            (
                t("jensenshannon").statistic,
                &e["jensenshannon_evidently"],
                "js",
            ),
            (t("kl_div").statistic, &e["kl_div_evidently"], "kl"),
        ] {
            let want = num_of(want);
            assert!(close(got, want), "{name}/{what}: {got} vs {want}");
        }
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} large fixture cases");
}
