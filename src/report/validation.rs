//! The validation report (champion vs challenger) as one HTML page.

use super::html::{esc, fmt_num, page, pct, table, verdict};
use super::svg::{BLUE, GREEN, ORANGE, Series, unit_lines};
use crate::data::{Dataset, TargetKind};
use crate::model::Model;
use crate::validate::ValidationReport;
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Points kept per curve (evenly spaced along the curve, ends included).
const MAX_CURVE_POINTS: usize = 200;
/// Equal-width probability bins of the calibration curve.
const CALIBRATION_BINS: usize = 10;

/// One model's outputs on the holdout, for the charts of [`validation_html`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScores {
    /// How the page names the model (e.g. `churn/3 (candidate)`).
    pub name: String,
    /// One value per holdout row: the predicted class index, or the predicted value.
    pub predicted: Vec<f64>,
    /// Binary classifiers: the probability of the positive class (index 1) per row.
    pub positive_score: Option<Vec<f64>>,
}

impl ModelScores {
    /// Score `data` with `model` (its features in the model's signature order).
    pub fn predict(name: impl Into<String>, model: &dyn Model, data: &Dataset) -> Result<Self> {
        let p = model.predict(data.features())?;
        let positive_score = match (&model.signature().target.kind, &p.probabilities) {
            (TargetKind::Binary { .. }, Some(proba)) if proba.ncols() == 2 => {
                Some(proba.column(1).to_vec())
            }
            _ => None,
        };
        Ok(ModelScores {
            name: name.into(),
            predicted: p.values.to_vec(),
            positive_score,
        })
    }
}

/// What the validation page says about its inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationReportMeta {
    /// The page title.
    pub title: String,
    /// The candidate (e.g. `churn/3`).
    pub candidate: String,
    /// The champion, if there is one.
    pub champion: Option<String>,
    /// The holdout's name (a file, a dataset id).
    pub holdout: String,
    /// The class labels in encoding order (empty for regression).
    pub classes: Vec<String>,
}

/// The validation report as one self-contained HTML page (inline CSS and SVG, no script, no
/// network): the decision, every check with its verdict and reason, the candidate's and
/// champion's metrics side by side with the difference, the significance tests, and, from
/// the holdout labels `y_true` and each model's [`ModelScores`]: confusion matrices
/// (classifiers), ROC and precision–recall curves and a calibration curve (binary
/// classifiers), then fairness by group and the serving-cost (latency) profile when the
/// report has them. Deterministic: the same input gives the same bytes.
///
/// Errors when a model's scores do not have one value per label.
pub fn validation_html(
    report: &ValidationReport,
    meta: &ValidationReportMeta,
    y_true: &[f64],
    candidate: &ModelScores,
    champion: Option<&ModelScores>,
) -> Result<String> {
    let models: Vec<&ModelScores> = std::iter::once(candidate).chain(champion).collect();
    for m in &models {
        let n_score = m.positive_score.as_ref().map_or(y_true.len(), Vec::len);
        if m.predicted.len() != y_true.len() || n_score != y_true.len() {
            return Err(Error::invalid(
                "validation page scores",
                format!(
                    "{} has {} predictions for {} holdout labels; score the same holdout rows \
                     the report was computed on",
                    m.name,
                    m.predicted.len(),
                    y_true.len()
                ),
            ));
        }
    }
    let mut b = String::new();
    let title = if meta.title.is_empty() {
        "Validation report"
    } else {
        &meta.title
    };
    let _ = write!(
        b,
        "<h1>{}</h1><p class=\"sub\">Candidate <b>{}</b>{} on holdout <b>{}</b> ({} rows, dataset {})</p>",
        esc(title),
        esc(&meta.candidate),
        meta.champion.as_ref().map_or_else(String::new, |c| format!(
            " against champion <b>{}</b>",
            esc(c)
        )),
        esc(&meta.holdout),
        report.holdout_rows,
        esc(&report.holdout.to_string()),
    );
    let passed = report.checks.iter().filter(|c| c.passed && !c.info).count();
    let decided = report.checks.iter().filter(|c| !c.info).count();
    let _ = write!(
        b,
        "<section class=\"card\"><div class=\"kv\"><div>Decision<b>{}</b></div>\
         <div>Checks passed<b>{passed} of {decided}</b></div><div>Primary metric<b>{}</b></div>\
         <div>Candidate<b>{}</b></div><div>Champion<b>{}</b></div></div></section>",
        verdict(report.promote, "PROMOTE", "BLOCK", false),
        esc(&report.primary_metric),
        report
            .candidate
            .get(&report.primary_metric)
            .map_or_else(|| "–".into(), |v| fmt_num(*v)),
        report
            .champion
            .as_ref()
            .and_then(|c| c.get(&report.primary_metric))
            .map_or_else(|| "–".into(), |v| fmt_num(*v)),
    );
    for w in &report.warnings {
        let _ = write!(b, "<p class=\"bad\">Warning: {}</p>", esc(w));
    }
    b.push_str("<h2>Checks</h2>");
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|c| {
            vec![
                esc(&c.name),
                if c.info {
                    "<span>info</span>".to_string()
                } else {
                    verdict(c.passed, "pass", "FAIL", false)
                },
                esc(&c.detail),
            ]
        })
        .collect();
    b.push_str(&table(&["check", "verdict", "why"], &rows));
    b.push_str("<h2>Metrics</h2>");
    let names: BTreeSet<&String> = report
        .candidate
        .keys()
        .chain(report.champion.iter().flat_map(|c| c.keys()))
        .collect();
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|m| {
            let a = report.candidate.get(*m).copied();
            let c = report.champion.as_ref().and_then(|c| c.get(*m).copied());
            let cell = |v: Option<f64>| format!("#{}", v.map_or_else(|| "–".into(), fmt_num));
            vec![
                if **m == report.primary_metric {
                    format!("<b>{}</b> (primary)", esc(m))
                } else {
                    esc(m)
                },
                cell(a),
                cell(c),
                cell(a.zip(c).map(|(a, c)| a - c)),
            ]
        })
        .collect();
    b.push_str(&table(
        &["metric", "candidate", "champion", "candidate − champion"],
        &rows,
    ));
    if let Some(s) = &report.significance {
        b.push_str("<h2>Significance</h2>");
        b.push_str(&json_table(&serde_json::to_value(s).unwrap_or_default()));
    }
    if !meta.classes.is_empty() {
        b.push_str("<h2>Confusion matrices</h2><div class=\"charts\">");
        for m in &models {
            b.push_str(&confusion_table(
                &m.name,
                &meta.classes,
                y_true,
                &m.predicted,
            ));
        }
        b.push_str("</div>");
    }
    let colours = [ORANGE, BLUE];
    let scored: Vec<(&str, &str, &[f64])> = models
        .iter()
        .zip(colours)
        .filter_map(|(m, c)| m.positive_score.as_deref().map(|s| (m.name.as_str(), c, s)))
        .collect();
    if !scored.is_empty() {
        let positive = meta.classes.get(1).map_or("1", String::as_str);
        let _ = write!(
            b,
            "<h2>Curves</h2><p>Scores are the predicted probability of the positive class \
             <b>{}</b>.</p><div class=\"charts\">",
            esc(positive)
        );
        let rocs: Vec<Vec<(f64, f64)>> = scored.iter().map(|(_, _, s)| roc(y_true, s)).collect();
        let prs: Vec<Vec<(f64, f64)>> = scored.iter().map(|(_, _, s)| pr(y_true, s)).collect();
        let cals: Vec<Vec<(f64, f64)>> = scored
            .iter()
            .map(|(_, _, s)| calibration(y_true, s))
            .collect();
        let series = |curves: &[Vec<(f64, f64)>]| -> Vec<(String, &str)> {
            scored
                .iter()
                .zip(curves)
                .map(|((n, c, _), _)| ((*n).to_string(), *c))
                .collect()
        };
        for (title, x, y, curves, diagonal) in [
            (
                "ROC curve",
                "false positive rate",
                "true positive rate",
                &rocs,
                true,
            ),
            ("Precision–recall curve", "recall", "precision", &prs, false),
            (
                "Calibration (10 bins)",
                "mean predicted probability",
                "observed positive rate",
                &cals,
                true,
            ),
        ] {
            let names = series(curves);
            let s: Vec<Series<'_>> = names
                .iter()
                .zip(curves.iter())
                .map(|((n, c), pts)| (n.as_str(), *c, pts.as_slice()))
                .collect();
            b.push_str(&unit_lines(title, x, y, &s, diagonal));
        }
        b.push_str("</div>");
    }
    if let Some(f) = &report.fairness {
        let _ = write!(
            b,
            "<h2>Fairness by group: {}</h2><p>Demographic parity difference {}, equalized odds \
             difference {}, disparate impact ratio {}.</p>",
            esc(&f.sensitive),
            fmt_num(f.demographic_parity_difference),
            fmt_num(f.equalized_odds_difference),
            f.disparate_impact_ratio.map_or_else(|| "–".into(), fmt_num)
        );
        let row = |g: &str, m: &crate::validate::metrics::GroupMetrics| {
            vec![
                esc(g),
                format!("#{}", m.count),
                format!("#{}", pct(m.selection_rate)),
                format!("#{}", pct(m.accuracy)),
                format!("#{}", pct(m.true_positive_rate)),
                format!("#{}", pct(m.false_positive_rate)),
            ]
        };
        let mut rows: Vec<Vec<String>> = f.by_group.iter().map(|(g, m)| row(g, m)).collect();
        rows.push(row("(all rows)", &f.overall));
        b.push_str(&table(
            &[
                "group",
                "rows",
                "selection rate",
                "accuracy",
                "true positive rate",
                "false positive rate",
            ],
            &rows,
        ));
        let max = f
            .by_group
            .values()
            .map(|m| m.selection_rate)
            .fold(0.0, f64::max);
        b.push_str(&group_bars(&f.by_group, max));
    }
    if let Some(c) = &report.serving_cost {
        b.push_str("<h2>Serving cost (candidate)</h2>");
        b.push_str(&table(
            &["measure", "value"],
            &[
                vec![
                    "artifact size".into(),
                    format!("#{} bytes", c.artifact_bytes),
                ],
                vec![
                    "single-row latency, median".into(),
                    format!("#{} µs", fmt_num(c.latency_p50_us)),
                ],
                vec![
                    "single-row latency, 99th percentile".into(),
                    format!("#{} µs", fmt_num(c.latency_p99_us)),
                ],
                vec![
                    "rows timed one at a time".into(),
                    format!("#{}", c.latency_samples),
                ],
                vec![
                    "batch throughput".into(),
                    format!(
                        "#{} rows/s ({} rows)",
                        fmt_num(c.throughput_rows_per_s.round()),
                        c.batch_rows
                    ),
                ],
            ],
        ));
    }
    if let Some(g) = &report.fit {
        let _ = write!(
            b,
            "<h2>Training vs holdout</h2><p>{}: {} on the training data, {} on the holdout \
             (gap {}).</p>",
            esc(&g.metric),
            fmt_num(g.train),
            fmt_num(g.holdout),
            fmt_num(g.gap)
        );
    }
    Ok(page(title, &b))
}

/// Selection rate per group as horizontal bars (percent), a small inline chart.
fn group_bars(
    groups: &std::collections::BTreeMap<String, crate::validate::metrics::GroupMetrics>,
    max: f64,
) -> String {
    let h = 22.0;
    let height = 40.0 + h * groups.len() as f64;
    let mut s = format!(
        "<svg width=\"520\" height=\"{height:.0}\" viewBox=\"0 0 520 {height:.0}\" role=\"img\" \
         aria-label=\"selection rate by group\"><title>selection rate by group</title>\
         <text x=\"4\" y=\"14\" class=\"legend\">selection rate by group (% of the group's rows predicted positive)</text>"
    );
    let scale = if max > 0.0 { 300.0 / max } else { 0.0 };
    for (i, (g, m)) in groups.iter().enumerate() {
        let y = 24.0 + h * i as f64;
        let _ = write!(
            s,
            "<text x=\"124\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>\
             <rect x=\"130\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{GREEN}\" fill-opacity=\"0.75\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
            y + 12.0,
            esc(g),
            m.selection_rate * scale,
            h - 6.0,
            134.0 + m.selection_rate * scale,
            y + 12.0,
            pct(m.selection_rate)
        );
    }
    s.push_str("</svg>");
    s
}

/// A confusion matrix as a table: rows are actual classes, columns predicted ones; each
/// cell has the count and the share of its row.
fn confusion_table(name: &str, classes: &[String], y: &[f64], pred: &[f64]) -> String {
    let k = classes.len();
    let mut m = vec![vec![0u64; k]; k];
    for (a, p) in y.iter().zip(pred) {
        if a.is_finite() && p.is_finite() && *a >= 0.0 && *p >= 0.0 {
            let (a, p) = (*a as usize, *p as usize);
            if a < k && p < k {
                m[a][p] += 1;
            }
        }
    }
    let mut s = format!(
        "<div><h3>{}</h3><table><thead><tr><th>actual \\ predicted</th>",
        esc(name)
    );
    for c in classes {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    for (i, row) in m.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let _ = write!(s, "<tr><th>{}</th>", esc(&classes[i]));
        for (j, v) in row.iter().enumerate() {
            let share = if total > 0 {
                *v as f64 / total as f64
            } else {
                0.0
            };
            let bg = if i == j { "#d3f9d8" } else { "#fff5f5" };
            let _ = write!(
                s,
                "<td class=\"n\" style=\"background:{bg}\">{v}<br><small>{}</small></td>",
                pct(share)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Rows sorted by decreasing score (ties by row index: deterministic).
fn by_score(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).filter(|i| score[*i].is_finite()).collect();
    idx.sort_by(|a, b| score[*b].total_cmp(&score[*a]).then(a.cmp(b)));
    idx
}

fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_CURVE_POINTS {
        return points;
    }
    let last = points.len() - 1;
    (0..MAX_CURVE_POINTS)
        .map(|i| points[i * last / (MAX_CURVE_POINTS - 1)])
        .collect()
}

/// ROC points (false positive rate, true positive rate), one per distinct score threshold.
fn roc(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let idx = by_score(score);
    let pos = idx.iter().filter(|i| y[**i] == 1.0).count() as f64;
    let neg = idx.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return Vec::new();
    }
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut pts = vec![(0.0, 0.0)];
    for (k, i) in idx.iter().enumerate() {
        if y[*i] == 1.0 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if idx.get(k + 1).is_none_or(|n| score[*n] != score[*i]) {
            pts.push((fp / neg, tp / pos));
        }
    }
    thin(pts)
}

/// Precision–recall points (recall, precision), one per distinct score threshold.
fn pr(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let idx = by_score(score);
    let pos = idx.iter().filter(|i| y[**i] == 1.0).count() as f64;
    if pos == 0.0 {
        return Vec::new();
    }
    let mut tp = 0.0;
    let mut pts = vec![(0.0, 1.0)];
    for (k, i) in idx.iter().enumerate() {
        if y[*i] == 1.0 {
            tp += 1.0;
        }
        if idx.get(k + 1).is_none_or(|n| score[*n] != score[*i]) {
            pts.push((tp / pos, tp / (k + 1) as f64));
        }
    }
    thin(pts)
}

/// Reliability curve: per non-empty equal-width probability bin, (mean score, positive rate).
fn calibration(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let mut sum = [0.0; CALIBRATION_BINS];
    let mut hits = [0.0; CALIBRATION_BINS];
    let mut n = [0u64; CALIBRATION_BINS];
    for (a, s) in y.iter().zip(score) {
        if !s.is_finite() {
            continue;
        }
        let b = ((s.clamp(0.0, 1.0) * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        sum[b] += s;
        hits[b] += f64::from(u8::from(*a == 1.0));
        n[b] += 1;
    }
    (0..CALIBRATION_BINS)
        .filter(|b| n[*b] > 0)
        .map(|b| (sum[b] / n[b] as f64, hits[b] / n[b] as f64))
        .collect()
}

/// The scalar fields of a JSON object as a two-column table (nested objects flattened with
/// dotted names).
fn json_table(v: &serde_json::Value) -> String {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<Vec<String>>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, x, out);
                }
            }
            serde_json::Value::Number(n) => out.push(vec![
                esc(prefix),
                format!("#{}", n.as_f64().map_or_else(|| n.to_string(), fmt_num)),
            ]),
            serde_json::Value::Null => {}
            other => out.push(vec![esc(prefix), esc(&other.to_string())]),
        }
    }
    let mut rows = Vec::new();
    walk("", v, &mut rows);
    table(&["field", "value"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_and_pr_of_a_perfect_ranking() {
        let y = [0.0, 0.0, 1.0, 1.0];
        let s = [0.1, 0.2, 0.8, 0.9];
        assert_eq!(
            roc(&y, &s),
            vec![(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        );
        let p = pr(&y, &s);
        assert_eq!(p[2], (1.0, 1.0));
        assert_eq!(p[4], (1.0, 0.5));
    }

    #[test]
    fn tied_scores_make_one_roc_point_and_calibration_bins_average() {
        let y = [0.0, 1.0, 1.0, 0.0];
        let s = [0.5, 0.5, 0.95, 0.05];
        assert_eq!(
            roc(&y, &s),
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        assert_eq!(
            calibration(&y, &s),
            vec![(0.05, 0.0), (0.5, 0.5), (0.95, 1.0)]
        );
    }

    #[test]
    fn long_curves_are_thinned_keeping_both_ends() {
        let pts: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, 0.0)).collect();
        let t = thin(pts);
        assert_eq!(t.len(), MAX_CURVE_POINTS);
        assert_eq!((t[0].0, t[MAX_CURVE_POINTS - 1].0), (0.0, 999.0));
    }
}
