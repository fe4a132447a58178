//! `mlcycle::validate::metrics` against reference fixtures.
//!
//! Expected values come only from `tests/fixtures/metrics/*.json`, written by
//! `scripts/metrics_fixtures.py` from scikit-learn, statsmodels and Fairlearn.
//! A fixture value of `null` means the reference raises or returns NaN, and the
//! Rust function must return an error. Run with `--nocapture` to see the largest
//! deviation per group of metrics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mlcycle::Error;
use mlcycle::validate::metrics::{self as m, Average, McNemarMethod};
use ndarray::{Array1, Array2, array};
use serde::Deserialize;

const ABS_TOL: f64 = 1e-12;
const REL_TOL: f64 = 1e-9;

// ---------------------------------------------------------------- helpers

fn fixture<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/metrics")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad fixture {}: {e}", path.display()))
}

/// Largest absolute and relative deviation seen, for the report.
#[derive(Default)]
struct Worst {
    abs: f64,
    rel: f64,
    checks: usize,
}

impl Worst {
    fn check(&mut self, what: &str, got: f64, want: f64) {
        let abs = (got - want).abs();
        let rel = if want == 0.0 { abs } else { abs / want.abs() };
        assert!(
            got.is_finite() && (abs <= ABS_TOL || rel <= REL_TOL),
            "{what}: got {got:e}, reference {want:e} (abs err {abs:e}, rel err {rel:e})"
        );
        self.abs = self.abs.max(abs);
        self.rel = self.rel.max(rel);
        self.checks += 1;
    }

    /// `want == None` means the reference has no value: the result must be an error.
    fn check_opt(&mut self, what: &str, got: mlcycle::Result<f64>, want: Option<f64>) {
        match (got, want) {
            (Ok(g), Some(w)) => self.check(what, g, w),
            (Err(_), None) => self.checks += 1,
            (Ok(g), None) => panic!("{what}: expected an error (reference undefined), got {g}"),
            (Err(e), Some(w)) => panic!("{what}: expected {w}, got error: {e}"),
        }
    }

    fn report(&self, group: &str) {
        println!(
            "{group}: {} checks, max abs err {:.3e}, max rel err {:.3e}",
            self.checks, self.abs, self.rel
        );
    }
}

fn labels(v: &[i64]) -> Array1<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let k = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), k), rows.concat()).expect("rectangular fixture matrix")
}

fn is_invalid(r: &mlcycle::Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::InvalidInput { .. }))
}

fn is_data(r: &mlcycle::Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::Data(_)))
}

// ---------------------------------------------------------------- classification

#[derive(Deserialize)]
struct ClsFile {
    cases: Vec<ClsCase>,
}

#[derive(Deserialize)]
struct ClsCase {
    name: String,
    n_classes: usize,
    y_true: Vec<i64>,
    y_pred: Vec<i64>,
    proba: Vec<Vec<f64>>,
    expected: ClsExpected,
}

#[derive(Deserialize)]
struct ClsExpected {
    accuracy: f64,
    balanced_accuracy: f64,
    precision_per_class: Vec<f64>,
    recall_per_class: Vec<f64>,
    f1_per_class: Vec<f64>,
    precision_macro: f64,
    recall_macro: f64,
    f1_macro: f64,
    precision_weighted: f64,
    recall_weighted: f64,
    f1_weighted: f64,
    precision_binary: Option<f64>,
    recall_binary: Option<f64>,
    f1_binary: Option<f64>,
    confusion_matrix: Vec<Vec<u64>>,
    log_loss: f64,
    log_loss_binary: Option<f64>,
    roc_auc: Option<f64>,
    average_precision: Option<f64>,
    brier: f64,
    summary: BTreeMap<String, Option<f64>>,
}

#[test]
fn classification_matches_sklearn() {
    let file: ClsFile = fixture("classification.json");
    assert!(file.cases.len() >= 20);
    let mut w = Worst::default();
    for c in &file.cases {
        let (yt, yp, p) = (labels(&c.y_true), labels(&c.y_pred), matrix(&c.proba));
        let (yt, yp, pv) = (yt.view(), yp.view(), p.view());
        let e = &c.expected;
        let k = c.n_classes;
        let n = &c.name;
        assert_eq!(pv.ncols(), k, "{n}");

        w.check(
            &format!("{n} accuracy"),
            m::accuracy(yt, yp).unwrap(),
            e.accuracy,
        );
        w.check(
            &format!("{n} balanced_accuracy"),
            m::balanced_accuracy(yt, yp).unwrap(),
            e.balanced_accuracy,
        );

        let per_class = m::per_class_scores(yt, yp, k).unwrap();
        assert_eq!(per_class.len(), k);
        for (j, s) in per_class.iter().enumerate() {
            w.check(
                &format!("{n} precision[{j}]"),
                s.precision,
                e.precision_per_class[j],
            );
            w.check(&format!("{n} recall[{j}]"), s.recall, e.recall_per_class[j]);
            w.check(&format!("{n} f1[{j}]"), s.f1, e.f1_per_class[j]);
            // The Binary average of class j is its one-vs-rest score.
            let bin = Average::Binary { positive: j };
            w.check(
                &format!("{n} precision bin {j}"),
                m::precision(yt, yp, bin).unwrap(),
                e.precision_per_class[j],
            );
            w.check(
                &format!("{n} recall bin {j}"),
                m::recall(yt, yp, bin).unwrap(),
                e.recall_per_class[j],
            );
            w.check(
                &format!("{n} f1 bin {j}"),
                m::f1(yt, yp, bin).unwrap(),
                e.f1_per_class[j],
            );
        }
        let support: u64 = per_class.iter().map(|s| s.support).sum();
        assert_eq!(support as usize, c.y_true.len(), "{n} support");

        w.check(
            &format!("{n} precision macro"),
            m::precision(yt, yp, Average::Macro).unwrap(),
            e.precision_macro,
        );
        w.check(
            &format!("{n} recall macro"),
            m::recall(yt, yp, Average::Macro).unwrap(),
            e.recall_macro,
        );
        w.check(
            &format!("{n} f1 macro"),
            m::f1(yt, yp, Average::Macro).unwrap(),
            e.f1_macro,
        );
        w.check(
            &format!("{n} precision weighted"),
            m::precision(yt, yp, Average::Weighted).unwrap(),
            e.precision_weighted,
        );
        w.check(
            &format!("{n} recall weighted"),
            m::recall(yt, yp, Average::Weighted).unwrap(),
            e.recall_weighted,
        );
        w.check(
            &format!("{n} f1 weighted"),
            m::f1(yt, yp, Average::Weighted).unwrap(),
            e.f1_weighted,
        );

        let cm = m::confusion_matrix(yt, yp, k).unwrap();
        let want_cm: Vec<u64> = e.confusion_matrix.concat();
        assert_eq!(
            cm.iter().copied().collect::<Vec<_>>(),
            want_cm,
            "{n} confusion matrix"
        );
        w.checks += 1;

        w.check(
            &format!("{n} log_loss"),
            m::log_loss(yt, pv).unwrap(),
            e.log_loss,
        );
        if k == 2 {
            let bin = Average::Binary { positive: 1 };
            w.check(
                &format!("{n} precision binary"),
                m::precision(yt, yp, bin).unwrap(),
                e.precision_binary.unwrap(),
            );
            w.check(
                &format!("{n} recall binary"),
                m::recall(yt, yp, bin).unwrap(),
                e.recall_binary.unwrap(),
            );
            w.check(
                &format!("{n} f1 binary"),
                m::f1(yt, yp, bin).unwrap(),
                e.f1_binary.unwrap(),
            );
            let p1 = pv.column(1);
            w.check(
                &format!("{n} log_loss_binary"),
                m::log_loss_binary(yt, p1).unwrap(),
                e.log_loss_binary.unwrap(),
            );
            w.check_opt(&format!("{n} roc_auc"), m::roc_auc(yt, p1), e.roc_auc);
            w.check_opt(
                &format!("{n} average_precision"),
                m::average_precision(yt, p1),
                e.average_precision,
            );
            w.check(&format!("{n} brier"), m::brier(yt, p1).unwrap(), e.brier);
            // The matrix form halves the two-column sum, which equals the binary score.
            w.check(
                &format!("{n} brier (matrix)"),
                m::brier_multiclass(yt, pv).unwrap(),
                e.brier,
            );
        } else {
            w.check_opt(
                &format!("{n} roc_auc ovr"),
                m::roc_auc_ovr(yt, pv),
                e.roc_auc,
            );
            w.check_opt(
                &format!("{n} average_precision ovr"),
                m::average_precision_ovr(yt, pv),
                e.average_precision,
            );
            w.check(
                &format!("{n} brier multiclass"),
                m::brier_multiclass(yt, pv).unwrap(),
                e.brier,
            );
        }

        // The named set and the single-name accessor.
        let want_keys: Vec<&str> = e.summary.keys().map(String::as_str).collect();
        let mut known = m::CLASSIFIER_METRICS.to_vec();
        known.sort_unstable();
        assert_eq!(want_keys, known, "{n} summary names");
        for (name, want) in &e.summary {
            w.check_opt(
                &format!("{n} named {name}"),
                m::classifier_metric(name, yt, yp, pv),
                *want,
            );
        }
        let all = m::classifier_metrics(yt, yp, pv);
        if e.summary.values().all(Option::is_some) {
            let all = all.unwrap_or_else(|e| panic!("{n} classifier_metrics: {e}"));
            assert_eq!(all.len(), m::CLASSIFIER_METRICS.len());
            for (name, got) in &all {
                w.check(
                    &format!("{n} summary {name}"),
                    *got,
                    e.summary[name].unwrap(),
                );
            }
        } else {
            assert!(
                is_data(&all),
                "{n}: an undefined metric must fail the whole summary"
            );
        }
    }
    w.report("classification vs scikit-learn");
}

// ---------------------------------------------------------------- ranking

#[derive(Deserialize)]
struct RankFile {
    cases: Vec<RankCase>,
}

#[derive(Deserialize)]
struct RankCase {
    name: String,
    y_true: Vec<i64>,
    score: Vec<f64>,
    roc_auc: Option<f64>,
    average_precision: Option<f64>,
}

#[test]
fn ranking_metrics_on_raw_scores_match_sklearn() {
    let file: RankFile = fixture("ranking.json");
    let mut w = Worst::default();
    for c in &file.cases {
        let yt = labels(&c.y_true);
        let s = Array1::from(c.score.clone());
        w.check_opt(
            &format!("{} roc_auc", c.name),
            m::roc_auc(yt.view(), s.view()),
            c.roc_auc,
        );
        w.check_opt(
            &format!("{} average_precision", c.name),
            m::average_precision(yt.view(), s.view()),
            c.average_precision,
        );
    }
    w.report("ROC AUC / AP on raw scores vs scikit-learn");
}

// ---------------------------------------------------------------- regression

#[derive(Deserialize)]
struct RegFile {
    cases: Vec<RegCase>,
}

#[derive(Deserialize)]
struct RegCase {
    name: String,
    y_true: Vec<f64>,
    y_pred: Vec<f64>,
    expected: RegExpected,
}

#[derive(Deserialize)]
struct RegExpected {
    rmse: f64,
    mse: f64,
    mae: f64,
    r2: Option<f64>,
    mape: f64,
}

#[test]
fn regression_matches_sklearn() {
    let file: RegFile = fixture("regression.json");
    let mut w = Worst::default();
    for c in &file.cases {
        let (yt, yp) = (
            Array1::from(c.y_true.clone()),
            Array1::from(c.y_pred.clone()),
        );
        let (yt, yp) = (yt.view(), yp.view());
        let (e, n) = (&c.expected, &c.name);
        w.check(&format!("{n} rmse"), m::rmse(yt, yp).unwrap(), e.rmse);
        w.check(&format!("{n} mse"), m::mse(yt, yp).unwrap(), e.mse);
        w.check(&format!("{n} mae"), m::mae(yt, yp).unwrap(), e.mae);
        w.check_opt(&format!("{n} r2"), m::r2(yt, yp), e.r2);
        w.check(&format!("{n} mape"), m::mape(yt, yp).unwrap(), e.mape);

        let all = m::regressor_metrics(yt, yp).unwrap();
        assert_eq!(all.keys().map(String::as_str).collect::<Vec<_>>(), {
            let mut k = m::REGRESSOR_METRICS.to_vec();
            k.sort_unstable();
            k
        });
        w.check(&format!("{n} summary rmse"), all["rmse"], e.rmse);
        w.check(&format!("{n} summary mae"), all["mae"], e.mae);
        w.check(&format!("{n} summary r2"), all["r2"], e.r2.unwrap());
        w.check(&format!("{n} summary mape"), all["mape"], e.mape);
    }
    w.report("regression vs scikit-learn");
}

// ---------------------------------------------------------------- McNemar

#[derive(Deserialize)]
struct McFile {
    counts: Vec<McCounts>,
    paired: Vec<McPaired>,
}

#[derive(Deserialize)]
struct McCounts {
    b: u64,
    c: u64,
    exact_statistic: f64,
    exact_pvalue: f64,
    chi2_statistic: Option<f64>,
    chi2_pvalue: Option<f64>,
}

#[derive(Deserialize)]
struct McPaired {
    name: String,
    y_true: Vec<i64>,
    pred_a: Vec<i64>,
    pred_b: Vec<i64>,
    b: u64,
    c: u64,
    exact: bool,
    statistic: f64,
    pvalue: f64,
}

#[test]
fn mcnemar_matches_statsmodels() {
    let file: McFile = fixture("mcnemar.json");
    let mut w = Worst::default();
    for c in &file.counts {
        let what = format!("b={} c={}", c.b, c.c);
        let ex = m::mcnemar_counts(c.b, c.c, McNemarMethod::Exact).unwrap();
        assert!(ex.exact);
        assert_eq!((ex.b, ex.c), (c.b, c.c));
        w.check(
            &format!("{what} exact statistic"),
            ex.statistic,
            c.exact_statistic,
        );
        w.check(&format!("{what} exact p"), ex.p_value, c.exact_pvalue);

        let ch = m::mcnemar_counts(c.b, c.c, McNemarMethod::ChiSquare);
        w.check_opt(
            &format!("{what} chi2 statistic"),
            ch.as_ref()
                .map(|r| r.statistic)
                .map_err(|_| Error::Data(String::new())),
            c.chi2_statistic,
        );
        w.check_opt(
            &format!("{what} chi2 p"),
            ch.map(|r| r.p_value),
            c.chi2_pvalue,
        );

        // Auto: exact below 25 discordant pairs, chi-square from 25 on.
        let auto = m::mcnemar_counts(c.b, c.c, McNemarMethod::Auto).unwrap();
        assert_eq!(
            auto.exact,
            c.b + c.c < m::MCNEMAR_EXACT_BELOW,
            "{what} auto rule"
        );
        let (ws, wp) = if auto.exact {
            (c.exact_statistic, c.exact_pvalue)
        } else {
            (c.chi2_statistic.unwrap(), c.chi2_pvalue.unwrap())
        };
        w.check(&format!("{what} auto statistic"), auto.statistic, ws);
        w.check(&format!("{what} auto p"), auto.p_value, wp);
    }
    for c in &file.paired {
        let (yt, a, b) = (labels(&c.y_true), labels(&c.pred_a), labels(&c.pred_b));
        let r = m::mcnemar(yt.view(), a.view(), b.view(), McNemarMethod::Auto).unwrap();
        assert_eq!((r.b, r.c, r.exact), (c.b, c.c, c.exact), "{}", c.name);
        w.check(&format!("{} statistic", c.name), r.statistic, c.statistic);
        w.check(&format!("{} p", c.name), r.p_value, c.pvalue);
    }
    w.report("McNemar vs statsmodels");
}

// ---------------------------------------------------------------- fairness

#[derive(Deserialize)]
struct FairFile {
    cases: Vec<FairCase>,
}

#[derive(Deserialize)]
struct FairCase {
    name: String,
    y_true: Vec<i64>,
    y_pred: Vec<i64>,
    groups: Vec<String>,
    overall: FairGroup,
    by_group: BTreeMap<String, FairGroup>,
    demographic_parity_difference: Option<f64>,
    equalized_odds_difference: Option<f64>,
    disparate_impact_ratio: Option<f64>,
}

#[derive(Deserialize)]
struct FairGroup {
    count: usize,
    selection_rate: f64,
    accuracy: f64,
    true_positive_rate: f64,
    false_positive_rate: f64,
}

fn check_group(w: &mut Worst, what: &str, got: &m::GroupMetrics, want: &FairGroup) {
    assert_eq!(got.count, want.count, "{what} count");
    w.check(
        &format!("{what} selection_rate"),
        got.selection_rate,
        want.selection_rate,
    );
    w.check(&format!("{what} accuracy"), got.accuracy, want.accuracy);
    w.check(
        &format!("{what} tpr"),
        got.true_positive_rate,
        want.true_positive_rate,
    );
    w.check(
        &format!("{what} fpr"),
        got.false_positive_rate,
        want.false_positive_rate,
    );
}

#[test]
fn fairness_matches_fairlearn() {
    let file: FairFile = fixture("fairness.json");
    let mut w = Worst::default();
    for c in &file.cases {
        let (yt, yp) = (labels(&c.y_true), labels(&c.y_pred));
        let (yt, yp) = (yt.view(), yp.view());
        let n = &c.name;
        let report = m::fairness_report(yt, yp, &c.groups).unwrap();
        check_group(&mut w, &format!("{n} overall"), &report.overall, &c.overall);
        assert_eq!(
            report.by_group.keys().collect::<Vec<_>>(),
            c.by_group.keys().collect::<Vec<_>>(),
            "{n} groups"
        );
        for (g, want) in &c.by_group {
            check_group(&mut w, &format!("{n} group {g}"), &report.by_group[g], want);
        }
        w.check_opt(
            &format!("{n} dpd"),
            m::demographic_parity_difference(yt, yp, &c.groups),
            c.demographic_parity_difference,
        );
        w.check_opt(
            &format!("{n} eod"),
            m::equalized_odds_difference(yt, yp, &c.groups),
            c.equalized_odds_difference,
        );
        w.check_opt(
            &format!("{n} dir"),
            m::disparate_impact_ratio(yt, yp, &c.groups),
            c.disparate_impact_ratio,
        );
        // Group keys of another type give the same numbers.
        let codes: Vec<usize> = c
            .groups
            .iter()
            .map(|g| c.by_group.keys().position(|k| k == g).unwrap())
            .collect();
        let by_code = m::fairness_report(yt, yp, &codes).unwrap();
        assert_eq!(
            by_code.demographic_parity_difference(),
            report.demographic_parity_difference()
        );
    }
    w.report("fairness vs Fairlearn");
}

// ---------------------------------------------------------------- names

#[test]
fn metric_names_and_direction() {
    for name in [
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "f1_macro",
        "f1_weighted",
        "roc_auc",
        "average_precision",
        "r2",
    ] {
        assert!(m::greater_is_better(name).unwrap(), "{name}");
    }
    for name in ["log_loss", "brier", "rmse", "mae", "mape"] {
        assert!(!m::greater_is_better(name).unwrap(), "{name}");
    }
    for name in m::CLASSIFIER_METRICS.iter().chain(&m::REGRESSOR_METRICS) {
        assert!(m::greater_is_better(name).is_ok(), "{name} has a direction");
    }
    assert!(matches!(
        m::greater_is_better("auc"),
        Err(Error::NotFound { .. })
    ));
    let y = array![0.0, 1.0];
    let p = array![[0.6, 0.4], [0.3, 0.7]];
    assert!(matches!(
        m::classifier_metric("rmse", y.view(), y.view(), p.view()),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        m::regressor_metric("accuracy", y.view(), y.view()),
        Err(Error::NotFound { .. })
    ));
}

// ---------------------------------------------------------------- bad inputs

#[test]
fn bad_inputs_give_typed_errors() {
    let y = array![0.0, 1.0, 1.0, 0.0];
    let short = array![0.0, 1.0, 1.0];
    let empty = Array1::<f64>::zeros(0);
    let p = array![[0.8, 0.2], [0.3, 0.7], [0.5, 0.5], [0.9, 0.1]];
    let s = array![0.2, 0.7, 0.5, 0.1];
    let (y, short, empty, p, s) = (y.view(), short.view(), empty.view(), p.view(), s.view());

    // Length mismatch.
    assert!(is_invalid(&m::accuracy(y, short)));
    assert!(is_invalid(&m::roc_auc(y, short)));
    assert!(is_invalid(&m::log_loss(short, p)));
    assert!(is_invalid(&m::rmse(y, short)));
    assert!(is_invalid(&m::classifier_metrics(y, short, p)));
    assert!(is_invalid(&m::fairness_report(y, y, &["a", "b"])));
    assert!(is_invalid(&m::mcnemar(y, y, short, McNemarMethod::Auto)));

    // Empty input.
    assert!(is_data(&m::accuracy(empty, empty)));
    assert!(is_data(&m::mae(empty, empty)));
    assert!(is_data(&m::roc_auc(empty, empty)));
    assert!(is_data(&m::fairness_report::<&str>(empty, empty, &[])));

    // NaN / infinity.
    let nan_s = array![0.2, f64::NAN, 0.5, 0.1];
    assert!(is_data(&m::roc_auc(y, nan_s.view())));
    assert!(is_data(&m::average_precision(y, nan_s.view())));
    assert!(is_data(&m::brier(y, nan_s.view())));
    assert!(is_data(&m::mape(y, nan_s.view())));
    assert!(is_data(&m::r2(nan_s.view(), y)));
    let inf = array![0.0, 1.0, f64::INFINITY, 0.0];
    assert!(is_data(&m::accuracy(y, inf.view())));
    let nan_p = array![[0.8, 0.2], [f64::NAN, 0.7], [0.5, 0.5], [0.9, 0.1]];
    assert!(is_data(&m::log_loss(y, nan_p.view())));

    // Labels that are not class indices.
    let frac = array![0.0, 0.5, 1.0, 0.0];
    assert!(is_invalid(&m::accuracy(y, frac.view())));
    let neg = array![0.0, -1.0, 1.0, 0.0];
    assert!(is_invalid(&m::f1(neg.view(), y, Average::Macro)));
    let huge = array![0.0, 1e12, 1.0, 0.0];
    assert!(is_invalid(&m::precision(y, huge.view(), Average::Weighted)));
    let three = array![0.0, 2.0, 1.0, 0.0];
    assert!(
        is_invalid(&m::roc_auc(three.view(), s)),
        "ROC AUC needs binary 0/1 labels"
    );
    assert!(
        is_invalid(&m::log_loss(three.view(), p)),
        "label 2 with two probability columns"
    );
    assert!(is_invalid(&m::confusion_matrix(three.view(), y, 2)));
    assert!(is_invalid(&m::confusion_matrix(y, y, 0)));
    assert!(is_invalid(&m::fairness_report(
        three.view(),
        y,
        &[1, 1, 2, 2]
    )));
    assert!(is_invalid(&m::classifier_metrics(y, three.view(), p)));

    // Probabilities outside [0, 1], rows not summing to one, one column.
    let over = array![0.2, 1.2, 0.5, 0.1];
    assert!(is_invalid(&m::brier(y, over.view())));
    assert!(is_invalid(&m::log_loss_binary(y, over.view())));
    let bad_p = array![[1.2, -0.2], [0.3, 0.7], [0.5, 0.5], [0.9, 0.1]];
    assert!(is_invalid(&m::log_loss(y, bad_p.view())));
    let unnormalised = array![[0.8, 0.3], [0.3, 0.7], [0.5, 0.5], [0.9, 0.1]];
    assert!(is_invalid(&m::log_loss(y, unnormalised.view())));
    assert!(is_invalid(&m::roc_auc_ovr(y, unnormalised.view())));
    let one_col = array![[1.0], [1.0], [1.0], [1.0]];
    assert!(is_invalid(&m::log_loss(y, one_col.view())));
    // Rounding noise within numpy's allclose tolerance is accepted.
    let noisy = array![[0.8, 0.2 + 1e-9], [0.3, 0.7], [0.5, 0.5], [0.9, 0.1]];
    assert!(m::log_loss(y, noisy.view()).is_ok());

    // Undefined metrics.
    let ones = array![1.0, 1.0, 1.0, 1.0];
    assert!(is_data(&m::roc_auc(ones.view(), s)), "single class");
    let zeros = array![0.0, 0.0, 0.0, 0.0];
    assert!(
        is_data(&m::average_precision(zeros.view(), s)),
        "no positive"
    );
    let one = array![1.0];
    assert!(
        is_data(&m::r2(one.view(), one.view())),
        "R² needs two samples"
    );
    assert!(is_data(&m::mcnemar_counts(0, 0, McNemarMethod::ChiSquare)));
    let p3 = array![
        [0.5, 0.3, 0.2],
        [0.1, 0.8, 0.1],
        [0.2, 0.2, 0.6],
        [0.3, 0.4, 0.3]
    ];
    assert!(
        is_data(&m::roc_auc_ovr(y, p3.view())),
        "class 2 never occurs in y_true"
    );
    assert!(is_data(&m::average_precision_ovr(y, p3.view())));

    // Error messages say what was wrong.
    let msg = m::accuracy(y, short).unwrap_err().to_string();
    assert!(msg.contains("4") && msg.contains("3"), "{msg}");
    let msg = m::roc_auc(ones.view(), s).unwrap_err().to_string();
    assert!(msg.contains("one class"), "{msg}");
}

#[test]
fn log_loss_clips_like_sklearn() {
    // A confident wrong answer costs -ln(eps), a confident right one -ln(1 - eps).
    let y = array![1.0, 0.0];
    let p = array![0.0, 0.0];
    let got = m::log_loss_binary(y.view(), p.view()).unwrap();
    let want = (-(f64::EPSILON.ln()) - (1.0 - f64::EPSILON).ln()) / 2.0;
    assert_eq!(got, want);
}

// ---------------------------------------------------------------- bootstrap

/// A binary holdout with two models of different quality (drawn from the
/// fixture so the data is realistic; B's probabilities are degraded).
/// `(y_true, labels A, proba A, labels B, proba B)`.
type TwoModels = (
    Array1<f64>,
    Array1<f64>,
    Array2<f64>,
    Array1<f64>,
    Array2<f64>,
);

fn bootstrap_data() -> TwoModels {
    let file: ClsFile = fixture("classification.json");
    let c = file
        .cases
        .iter()
        .find(|c| c.name == "binary_balanced_n400")
        .unwrap();
    let yt = labels(&c.y_true);
    let pa = matrix(&c.proba);
    // Model B: shrink A's probabilities towards 0.5 and flip every 7th row.
    let mut pb = pa.mapv(|q| 0.5 + 0.4 * (q - 0.5));
    for i in (0..pb.nrows()).step_by(7) {
        let q = pb[[i, 1]];
        pb[[i, 1]] = 1.0 - q;
        pb[[i, 0]] = q;
    }
    let ya = m::argmax_labels(pa.view()).unwrap();
    let yb = m::argmax_labels(pb.view()).unwrap();
    (yt, ya, pa, yb, pb)
}

#[test]
fn bootstrap_is_reproducible_and_seed_dependent() {
    let (yt, ya, pa, yb, pb) = bootstrap_data();
    let a = m::ModelOutputs::Classifier {
        y_pred: ya.view(),
        proba: pa.view(),
    };
    let b = m::ModelOutputs::Classifier {
        y_pred: yb.view(),
        proba: pb.view(),
    };
    let cfg = m::BootstrapConfig {
        n_resamples: 200,
        confidence: 0.9,
        seed: 7,
    };
    for metric in ["roc_auc", "accuracy", "log_loss", "f1"] {
        let r1 = m::paired_bootstrap_ci(metric, yt.view(), &a, &b, &cfg).unwrap();
        let r2 = m::paired_bootstrap_ci(metric, yt.view(), &a, &b, &cfg).unwrap();
        assert_eq!(r1, r2, "{metric}: same seed, same interval");
        let other = m::BootstrapConfig { seed: 8, ..cfg };
        let r3 = m::paired_bootstrap_ci(metric, yt.view(), &a, &b, &other).unwrap();
        assert!(
            (r1.lower, r1.upper) != (r3.lower, r3.upper),
            "{metric}: another seed should give another interval"
        );
        assert_eq!(
            r1.difference, r3.difference,
            "point estimate does not depend on the seed"
        );
        assert_eq!(r1.n_resamples, 200);
        assert_eq!(r1.n_valid, 200);
    }
}

#[test]
fn bootstrap_pins_the_chacha_stream() {
    // Values produced by this implementation (not a reference library): they
    // pin the resampling stream so that a change of RNG, of index drawing or of
    // the percentile rule is noticed. They must be the same on every platform.
    let y = array![3.1, 0.5, 2.2, 4.8, 1.0, 0.0, 2.5, 3.3, 1.7, 0.9];
    let a = array![2.9, 0.7, 2.0, 5.0, 1.1, 0.2, 2.4, 3.0, 1.5, 1.2];
    let b = array![3.5, 0.0, 2.9, 4.0, 1.6, 0.5, 2.0, 3.9, 1.1, 0.3];
    let ma = m::ModelOutputs::Regressor { y_pred: a.view() };
    let mb = m::ModelOutputs::Regressor { y_pred: b.view() };
    let cfg = m::BootstrapConfig {
        n_resamples: 200,
        confidence: 0.95,
        seed: 42,
    };
    let r = m::paired_bootstrap_ci("mae", y.view(), &ma, &mb, &cfg).unwrap();
    let (lower, upper) = PINNED_MAE_CI;
    assert!((r.lower - lower).abs() <= 1e-12, "lower {:?}", r.lower);
    assert!((r.upper - upper).abs() <= 1e-12, "upper {:?}", r.upper);
}

const PINNED_MAE_CI: (f64, f64) = (-0.4502499999999999, -0.31975);

#[test]
fn bootstrap_interval_is_sensible() {
    let (yt, ya, pa, yb, pb) = bootstrap_data();
    let a = m::ModelOutputs::Classifier {
        y_pred: ya.view(),
        proba: pa.view(),
    };
    let b = m::ModelOutputs::Classifier {
        y_pred: yb.view(),
        proba: pb.view(),
    };
    let cfg = m::BootstrapConfig {
        n_resamples: 400,
        confidence: 0.95,
        seed: 1,
    };

    // A is clearly better: the interval brackets the estimate and excludes 0.
    let r = m::paired_bootstrap_ci("roc_auc", yt.view(), &a, &b, &cfg).unwrap();
    let full_a = m::roc_auc(yt.view(), pa.column(1)).unwrap();
    let full_b = m::roc_auc(yt.view(), pb.column(1)).unwrap();
    assert_eq!(r.metric_a, full_a);
    assert_eq!(r.metric_b, full_b);
    assert_eq!(r.difference, full_a - full_b);
    assert!(r.lower < r.difference && r.difference < r.upper, "{r:?}");
    assert!(r.lower > 0.0, "A is better on ROC AUC: {r:?}");
    assert!(
        r.upper - r.lower < 0.2,
        "interval is not absurdly wide: {r:?}"
    );
    // For a loss the sign flips.
    let r = m::paired_bootstrap_ci("log_loss", yt.view(), &a, &b, &cfg).unwrap();
    assert!(r.upper < 0.0, "A has lower log loss: {r:?}");
    // A wider confidence level gives a wider interval.
    let r90 = m::paired_bootstrap_ci(
        "accuracy",
        yt.view(),
        &a,
        &b,
        &m::BootstrapConfig {
            confidence: 0.9,
            ..cfg
        },
    )
    .unwrap();
    let r99 = m::paired_bootstrap_ci(
        "accuracy",
        yt.view(),
        &a,
        &b,
        &m::BootstrapConfig {
            confidence: 0.99,
            ..cfg
        },
    )
    .unwrap();
    assert!(r99.lower <= r90.lower && r90.upper <= r99.upper);

    // A model compared with itself: every paired difference is exactly 0.
    let r = m::paired_bootstrap_ci("f1_macro", yt.view(), &a, &a, &cfg).unwrap();
    assert_eq!((r.lower, r.difference, r.upper), (0.0, 0.0, 0.0));

    // Regressors.
    let y = Array1::from_iter((0..200).map(|i| (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.01));
    let good = y.mapv(|v| v + 0.1);
    let bad = Array1::from_iter(
        y.iter()
            .enumerate()
            .map(|(i, v)| v + if i % 2 == 0 { 1.0 } else { -0.8 }),
    );
    let ra = m::ModelOutputs::Regressor {
        y_pred: good.view(),
    };
    let rb = m::ModelOutputs::Regressor { y_pred: bad.view() };
    let r = m::paired_bootstrap_ci("rmse", y.view(), &ra, &rb, &cfg).unwrap();
    assert!(
        r.upper < 0.0 && r.lower <= r.difference && r.difference <= r.upper,
        "{r:?}"
    );
    let r = m::paired_bootstrap_ci("r2", y.view(), &ra, &rb, &cfg).unwrap();
    assert!(r.lower > 0.0, "{r:?}");
}

#[test]
fn bootstrap_skips_undefined_resamples_and_rejects_bad_settings() {
    // Four classes in five rows: a resample rarely contains every class, so
    // the one-vs-rest ROC AUC is mostly undefined; fewer than half valid is an error.
    let y4 = array![0.0, 1.0, 2.0, 3.0, 0.0];
    let p4 = array![
        [0.7, 0.1, 0.1, 0.1],
        [0.1, 0.7, 0.1, 0.1],
        [0.1, 0.1, 0.7, 0.1],
        [0.1, 0.1, 0.1, 0.7],
        [0.4, 0.2, 0.2, 0.2]
    ];
    let yp4 = m::argmax_labels(p4.view()).unwrap();
    let a4 = m::ModelOutputs::Classifier {
        y_pred: yp4.view(),
        proba: p4.view(),
    };
    let cfg = m::BootstrapConfig {
        n_resamples: 200,
        confidence: 0.95,
        seed: 3,
    };
    let r = m::paired_bootstrap_ci("roc_auc", y4.view(), &a4, &a4, &cfg);
    assert!(is_data(&r), "{r:?}");
    // Balanced tiny data: some resamples are single-class and are skipped.
    let y = array![0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let p = array![
        [0.9, 0.1],
        [0.2, 0.8],
        [0.6, 0.4],
        [0.3, 0.7],
        [0.55, 0.45],
        [0.4, 0.6]
    ];
    let yp = m::argmax_labels(p.view()).unwrap();
    let a = m::ModelOutputs::Classifier {
        y_pred: yp.view(),
        proba: p.view(),
    };
    let r = m::paired_bootstrap_ci("roc_auc", y.view(), &a, &a, &cfg).unwrap();
    assert!(
        r.n_valid < r.n_resamples && 2 * r.n_valid >= r.n_resamples,
        "{r:?}"
    );

    let reg = array![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let ra = m::ModelOutputs::Regressor { y_pred: reg.view() };
    let bad = |c: m::BootstrapConfig| m::paired_bootstrap_ci("accuracy", y.view(), &a, &a, &c);
    assert!(is_invalid(&bad(m::BootstrapConfig {
        n_resamples: 0,
        ..cfg
    })));
    assert!(is_invalid(&bad(m::BootstrapConfig {
        confidence: 1.0,
        ..cfg
    })));
    assert!(is_invalid(&bad(m::BootstrapConfig {
        confidence: f64::NAN,
        ..cfg
    })));
    assert!(
        is_invalid(&m::paired_bootstrap_ci("accuracy", y.view(), &a, &ra, &cfg)),
        "mixed kinds"
    );
    assert!(
        is_invalid(&m::paired_bootstrap_ci("rmse", y.view(), &a, &a, &cfg)),
        "regressor metric on classifiers"
    );
    assert!(
        is_invalid(&m::paired_bootstrap_ci(
            "accuracy",
            y.view(),
            &ra,
            &ra,
            &cfg
        )),
        "classifier metric on regressors"
    );
    assert!(is_invalid(&m::paired_bootstrap_ci(
        "nonsense",
        y.view(),
        &ra,
        &ra,
        &cfg
    )));
    let short = array![1.0, 2.0];
    let rs = m::ModelOutputs::Regressor {
        y_pred: short.view(),
    };
    assert!(is_invalid(&m::paired_bootstrap_ci(
        "mae",
        reg.view(),
        &ra,
        &rs,
        &cfg
    )));
    let p3 = array![
        [0.5, 0.3, 0.2],
        [0.1, 0.8, 0.1],
        [0.2, 0.2, 0.6],
        [0.3, 0.4, 0.3],
        [0.5, 0.3, 0.2],
        [0.1, 0.8, 0.1]
    ];
    let y3 = m::argmax_labels(p3.view()).unwrap();
    let a3 = m::ModelOutputs::Classifier {
        y_pred: y3.view(),
        proba: p3.view(),
    };
    assert!(
        is_invalid(&m::paired_bootstrap_ci("accuracy", y.view(), &a, &a3, &cfg)),
        "class counts differ"
    );
}

#[test]
fn argmax_labels_takes_first_maximum() {
    let p = array![[0.2, 0.5, 0.3], [0.4, 0.2, 0.4], [0.0, 0.0, 1.0]];
    assert_eq!(m::argmax_labels(p.view()).unwrap(), array![1.0, 0.0, 2.0]);
}
