//! The drift report as one HTML page.

use super::html::{esc, fmt_num, page, pct, table, verdict};
use super::svg::{BLUE, ORANGE, grouped_bars, overlaid_histogram};
use crate::data::{Dataset, FeatureKind};
use crate::drift::stats::{CategoricalSummary, Correction};
use crate::drift::{ColumnDrift, ColumnInput, ColumnValues, DriftReport, StatisticalDriftConfig};
use crate::{Error, Result};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Bins of a numeric column's histogram.
const NUMERIC_BINS: usize = 24;
/// Categories drawn one by one; the rest are pooled into one bar.
const MAX_CATEGORIES: usize = 12;

/// What the drift page says about how the report was made (shown in its summary).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftReportMeta {
    /// The page title.
    pub title: String,
    /// Where the reference data came from (a file name, a dataset id).
    pub reference: String,
    /// Where the current data came from.
    pub current: String,
    /// The method selection (`auto`, or the list).
    pub methods: String,
    /// The multiple-testing correction (`none`, `bonferroni`, `benjamini-hochberg`).
    pub correction: String,
}

impl DriftReportMeta {
    /// A description naming the two samples, with the methods and correction of `config`.
    pub fn new(
        reference: impl Into<String>,
        current: impl Into<String>,
        config: &StatisticalDriftConfig,
    ) -> Self {
        DriftReportMeta {
            title: "Data drift report".into(),
            reference: reference.into(),
            current: current.into(),
            methods: config.methods.to_string(),
            correction: correction_name(config.correction).into(),
        }
    }
}

/// The name of a correction as the page shows it.
pub fn correction_name(c: Correction) -> &'static str {
    match c {
        Correction::None => "none",
        Correction::Bonferroni => "bonferroni",
        Correction::BenjaminiHochberg => "benjamini-hochberg",
    }
}

/// The distribution of one column on both sides, as drawn.
#[derive(Debug, Clone, PartialEq)]
enum Chart {
    Numeric {
        edges: Vec<f64>,
        reference: Vec<f64>,
        current: Vec<f64>,
    },
    Categorical {
        labels: Vec<String>,
        reference: Vec<f64>,
        current: Vec<f64>,
    },
    None,
}

fn numeric_chart(r: &[f64], c: &[f64]) -> Chart {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in r.iter().chain(c).filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if !lo.is_finite() {
        return Chart::None;
    }
    let bins = if hi > lo { NUMERIC_BINS } else { 1 };
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let width = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    let hist = |xs: &[f64]| {
        let mut counts = vec![0u64; bins];
        let mut n = 0u64;
        for v in xs.iter().filter(|v| v.is_finite()) {
            let i = (((v - lo) / width) as usize).min(bins - 1);
            counts[i] += 1;
            n += 1;
        }
        counts
            .into_iter()
            .map(|k| {
                if n == 0 {
                    0.0
                } else {
                    100.0 * k as f64 / n as f64
                }
            })
            .collect::<Vec<f64>>()
    };
    Chart::Numeric {
        reference: hist(r),
        current: hist(c),
        edges,
    }
}

fn categorical_chart(r: &CategoricalSummary, c: &CategoricalSummary) -> Chart {
    let total = |s: &CategoricalSummary| s.counts.values().sum::<u64>().max(1) as f64;
    let (tr, tc) = (total(r), total(c));
    let mut shares: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (k, v) in &r.counts {
        shares.entry(k).or_default().0 = 100.0 * *v as f64 / tr;
    }
    for (k, v) in &c.counts {
        shares.entry(k).or_default().1 = 100.0 * *v as f64 / tc;
    }
    let mut order: Vec<(&str, (f64, f64))> = shares.into_iter().collect();
    // largest first (sum of both shares), ties by name: deterministic
    order.sort_by(|a, b| {
        (b.1.0 + b.1.1)
            .total_cmp(&(a.1.0 + a.1.1))
            .then_with(|| a.0.cmp(b.0))
    });
    let (mut labels, mut reference, mut current) = (Vec::new(), Vec::new(), Vec::new());
    let rest = order.len().saturating_sub(MAX_CATEGORIES);
    for (k, (a, b)) in order.iter().take(MAX_CATEGORIES) {
        labels.push((*k).to_string());
        reference.push(*a);
        current.push(*b);
    }
    if rest > 0 {
        let (a, b) = order[MAX_CATEGORIES..]
            .iter()
            .fold((0.0, 0.0), |acc, (_, (a, b))| (acc.0 + a, acc.1 + b));
        labels.push(format!("({rest} others)"));
        reference.push(a);
        current.push(b);
    }
    Chart::Categorical {
        labels,
        reference,
        current,
    }
}

fn chart_of(input: &ColumnInput<'_>) -> Chart {
    match (&input.reference, &input.current) {
        (ColumnValues::Numeric(r), ColumnValues::Numeric(c)) => {
            let r: Cow<'_, [f64]> = match r.as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(r.to_vec()),
            };
            let c: Cow<'_, [f64]> = match c.as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(c.to_vec()),
            };
            numeric_chart(&r, &c)
        }
        (ColumnValues::Categorical(r), ColumnValues::Categorical(c)) => categorical_chart(r, c),
        _ => Chart::None,
    }
}

/// The drift report as one self-contained HTML page (inline CSS and SVG, no script, no
/// network): a summary (dataset drift, share of drifted columns against the rule, the
/// correction and methods), a table of every column, then one section per column — drifted
/// columns first — with its method, statistic, p-value, threshold, verdict, missing counts,
/// every other method computed, and the reference and current distributions overlaid
/// (a 24-bin histogram on shared edges for numeric columns, bars per category for
/// categorical ones; heights in percent of each side's non-missing values).
///
/// `columns` are the inputs the report was computed from (for the charts; a column of the
/// report without an input is shown without a chart). Rendering is deterministic: the same
/// input gives the same bytes.
///
/// ```
/// use mlcycle::drift::{ColumnInput, ColumnValues, StatisticalDriftDetector};
/// use mlcycle::report::{DriftReportMeta, drift_html};
/// let r: Vec<f64> = (0..500).map(|i| (i % 50) as f64).collect();
/// let c: Vec<f64> = (0..500).map(|i| (i % 50) as f64 + 20.0).collect();
/// let cols = [ColumnInput { name: "age", reference: ColumnValues::numeric(&r), current: ColumnValues::numeric(&c) }];
/// let detector = StatisticalDriftDetector::default();
/// let report = detector.detect_columns(&cols).unwrap();
/// let html = drift_html(&report, &cols, &DriftReportMeta::new("train.csv", "today.csv", detector.config()));
/// assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
/// ```
pub fn drift_html(
    report: &DriftReport,
    columns: &[ColumnInput<'_>],
    meta: &DriftReportMeta,
) -> String {
    let charts: Vec<(usize, Chart)> = report
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let chart = columns
                .iter()
                .find(|c| c.name == col.name)
                .map_or(Chart::None, chart_of);
            (i, chart)
        })
        .collect();
    render(report, &charts, meta)
}

/// [`drift_html`] for two [`Dataset`]s with the same feature columns (categorical columns
/// are drawn with their level names). Errors when a column of the report is not a feature
/// of both datasets.
pub fn drift_html_datasets(
    report: &DriftReport,
    reference: &Dataset,
    current: &Dataset,
    meta: &DriftReportMeta,
) -> Result<String> {
    let mut charts = Vec::with_capacity(report.columns.len());
    for (i, col) in report.columns.iter().enumerate() {
        let find = |d: &Dataset| {
            d.schema()
                .features
                .iter()
                .position(|f| f.name == col.name)
                .ok_or_else(|| {
                    Error::SchemaMismatch(format!(
                        "the drift report has a column `{}` that is not a feature of both \
                         datasets; render the report with the datasets it was computed from",
                        col.name
                    ))
                })
        };
        let (jr, jc) = (find(reference)?, find(current)?);
        let (xr, xc) = (reference.features(), current.features());
        let chart = match &reference.schema().features[jr].kind {
            FeatureKind::Categorical { levels } => {
                let summarise = |d: &Dataset, j: usize, levels: &[String]| {
                    CategoricalSummary::from_labels(d.features().column(j).iter().map(|v| {
                        if v.is_finite() && *v >= 0.0 {
                            levels.get(*v as usize).map(String::as_str)
                        } else {
                            None
                        }
                    }))
                };
                let cur_levels = current.schema().features[jc]
                    .levels()
                    .unwrap_or(levels.as_slice());
                categorical_chart(
                    &summarise(reference, jr, levels),
                    &summarise(current, jc, cur_levels),
                )
            }
            _ => numeric_chart(&xr.column(jr).to_vec(), &xc.column(jc).to_vec()),
        };
        charts.push((i, chart));
    }
    Ok(render(report, &charts, meta))
}

fn p_value(c: &ColumnDrift) -> String {
    c.p_value.map_or_else(|| "–".into(), fmt_num)
}

fn render(report: &DriftReport, charts: &[(usize, Chart)], meta: &DriftReportMeta) -> String {
    let mut b = String::new();
    let title = if meta.title.is_empty() {
        "Data drift report"
    } else {
        &meta.title
    };
    let _ = write!(
        b,
        "<h1>{}</h1><p class=\"sub\">Current: <b>{}</b> compared with reference: <b>{}</b></p>",
        esc(title),
        esc(&meta.current),
        esc(&meta.reference)
    );
    let n = report.columns.len();
    let _ = write!(
        b,
        "<section class=\"card\" id=\"summary\"><h2 style=\"margin-top:4px\">Summary</h2><div class=\"kv\">\
         <div>Dataset drift<b>{}</b></div><div>Drifted columns<b>{} of {n}</b></div>\
         <div>Share drifted<b>{}</b></div><div>Dataset rule<b>share ≥ {}</b></div>\
         <div>Correction<b>{}</b></div><div>Methods<b>{}</b></div></div></section>",
        verdict(report.dataset_drift, "DRIFT", "no drift", true),
        report.drifted_columns,
        pct(report.share_drifted),
        pct(report.drift_share),
        esc(if meta.correction.is_empty() {
            "none"
        } else {
            &meta.correction
        }),
        esc(if meta.methods.is_empty() {
            "auto"
        } else {
            &meta.methods
        }),
    );
    // drifted columns first, each group in report order
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| !report.columns[*i].drift);
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|i| {
            let c = &report.columns[*i];
            vec![
                format!("<a href=\"#col-{i}\">{}</a>", esc(&c.name)),
                esc(&c.kind),
                esc(&c.method),
                format!("#{}", fmt_num(c.statistic)),
                format!("#{}", p_value(c)),
                format!("#{}", fmt_num(c.threshold)),
                verdict(c.drift, "drift", "no", true),
                format!("#{}", c.missing_reference),
                format!("#{}", c.missing_current),
            ]
        })
        .collect();
    b.push_str("<h2>Columns</h2>");
    b.push_str(&table(
        &[
            "column",
            "kind",
            "method",
            "statistic",
            "p-value",
            "threshold",
            "drift",
            "missing (ref)",
            "missing (cur)",
        ],
        &rows,
    ));
    for i in order {
        let c = &report.columns[i];
        let _ = write!(
            b,
            "<section class=\"card\" id=\"col-{i}\"><h3>{} <small>({})</small> — {}</h3>",
            esc(&c.name),
            esc(&c.kind),
            verdict(c.drift, "drift detected", "no drift", true)
        );
        let _ = write!(
            b,
            "<p>Decided by <b>{}</b>: statistic {}, p-value {}, threshold {} — {}.<br>\
             Values used: {} reference, {} current; missing: {} reference ({}), {} current ({}).</p>",
            esc(&c.method),
            fmt_num(c.statistic),
            p_value(c),
            fmt_num(c.threshold),
            if c.drift {
                "beyond the threshold"
            } else {
                "within the threshold"
            },
            c.n_reference,
            c.n_current,
            c.missing_reference,
            pct(share(c.missing_reference, c.n_reference)),
            c.missing_current,
            pct(share(c.missing_current, c.n_current)),
        );
        if c.tests.len() > 1 {
            let rows: Vec<Vec<String>> = c
                .tests
                .iter()
                .map(|(m, t)| {
                    vec![
                        esc(m),
                        format!("#{}", fmt_num(t.statistic)),
                        format!("#{}", t.p_value.map_or_else(|| "–".into(), fmt_num)),
                    ]
                })
                .collect();
            b.push_str(&table(&["method", "statistic", "p-value"], &rows));
        }
        let chart = charts
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, c)| c)
            .unwrap_or(&Chart::None);
        let title = format!("{}: reference vs current", c.name);
        match chart {
            Chart::Numeric {
                edges,
                reference,
                current,
            } => b.push_str(&overlaid_histogram(
                &title,
                &format!("{} (value, {} equal-width bins)", c.name, reference.len()),
                edges,
                [("reference", BLUE, reference), ("current", ORANGE, current)],
            )),
            Chart::Categorical {
                labels,
                reference,
                current,
            } => b.push_str(&grouped_bars(
                &title,
                &format!("{} (category)", c.name),
                labels,
                [("reference", BLUE, reference), ("current", ORANGE, current)],
            )),
            Chart::None => b.push_str("<p><i>No distribution to draw.</i></p>"),
        }
        b.push_str("</section>");
    }
    page(title, &b)
}

fn share(missing: usize, present: usize) -> f64 {
    let total = missing + present;
    if total == 0 {
        0.0
    } else {
        missing as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_histograms_share_edges_and_sum_to_100() {
        let Chart::Numeric {
            edges,
            reference,
            current,
        } = numeric_chart(&[0.0, 1.0, 2.0, f64::NAN], &[2.0, 3.0])
        else {
            panic!("numeric chart expected");
        };
        assert_eq!(edges.len(), NUMERIC_BINS + 1);
        assert_eq!((edges[0], edges[NUMERIC_BINS]), (0.0, 3.0));
        assert!((reference.iter().sum::<f64>() - 100.0).abs() < 1e-9);
        assert!((current.iter().sum::<f64>() - 100.0).abs() < 1e-9);
        assert_eq!(current[NUMERIC_BINS - 1], 50.0);
    }

    #[test]
    fn a_constant_column_gets_one_bin_and_an_empty_one_no_chart() {
        assert!(
            matches!(numeric_chart(&[1.0, 1.0], &[1.0]), Chart::Numeric { edges, .. } if edges.len() == 2)
        );
        assert_eq!(numeric_chart(&[f64::NAN], &[]), Chart::None);
    }

    #[test]
    fn categories_beyond_the_limit_are_pooled() {
        let r = CategoricalSummary::from_labels((0..20).map(|i| {
            Some(
                [
                    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                ][i % 14],
            )
        }));
        let c = CategoricalSummary::from_labels([Some("a")]);
        let Chart::Categorical {
            labels, current, ..
        } = categorical_chart(&r, &c)
        else {
            panic!("categorical chart expected");
        };
        assert_eq!(labels.len(), MAX_CATEGORIES + 1);
        assert_eq!(labels[0], "a");
        assert_eq!(current[0], 100.0);
        assert_eq!(labels[MAX_CATEGORIES], "(2 others)");
    }
}
