//! Data-quality triage of a monitoring window: faults of the pipeline that feeds the model
//! (fix the pipeline, do not retrain), told apart from shifts of the data.
//!
//! Each [`QualityFault`] names a column (`*` for the whole input), a [`FaultKind`] and the
//! evidence in words:
//! - `missing_surge`: a column's missing share exceeds the reference's by more than
//!   [`MonitorConfig::max_missing_increase`](super::MonitorConfig);
//! - `out_of_range`: more than `max_out_of_range` of a numeric column's values lie outside
//!   the reference range widened by `range_tolerance` of its span on each side;
//! - `constant`: a column that varied in the reference holds one value in the whole window,
//!   and the reference makes that improbable (its share of that value, to the power of the
//!   window's rows, is below one in a million) — a stuck sensor;
//! - `schema_change`: logged rows with another number of inputs than the model's, or
//!   requests refused because columns were missing or unknown;
//! - `unseen_category`: categorical codes outside the model's levels, or requests refused
//!   for an unknown category;
//! - `volume_drop`: the window scored fewer than `1 − max_volume_drop` times the rows of
//!   the window before it (of the same length).

use crate::data::{Dataset, FeatureKind, Schema};
use crate::drift::{ColumnSummary, DatasetProfile};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of data-quality fault.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Many more missing values than in the reference.
    #[default]
    MissingSurge,
    /// Values outside the reference range (beyond the tolerance).
    OutOfRange,
    /// A column stuck at one value.
    Constant,
    /// Columns missing, added, or of another type than the model's.
    SchemaChange,
    /// Categories the model does not know.
    UnseenCategory,
    /// Far fewer scored rows than in the previous window.
    VolumeDrop,
}

impl FaultKind {
    /// The kind's name (`missing_surge`, `out_of_range`, `constant`, `schema_change`,
    /// `unseen_category`, `volume_drop`).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::MissingSurge => "missing_surge",
            FaultKind::OutOfRange => "out_of_range",
            FaultKind::Constant => "constant",
            FaultKind::SchemaChange => "schema_change",
            FaultKind::UnseenCategory => "unseen_category",
            FaultKind::VolumeDrop => "volume_drop",
        }
    }
}

/// A data-quality problem in the window (a reason not to trust drift as a retrain signal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityFault {
    /// The column (`*`: the input as a whole).
    pub column: String,
    /// What kind of fault.
    #[serde(default)]
    pub kind: FaultKind,
    /// What is wrong, in words.
    pub detail: String,
}

/// How the values of one reference column are distributed, as far as the triage needs.
#[derive(Debug, Clone)]
enum Shares {
    /// The sorted non-missing values (raw reference data).
    Values(Vec<f64>),
    /// A histogram: `edges` (n + 1), `counts` (n), and the total.
    Histogram {
        edges: Vec<f64>,
        counts: Vec<u64>,
        total: u64,
    },
    /// The share of each level code.
    Levels(Vec<f64>),
}

impl Shares {
    /// The reference's share of value `v` (for a histogram, of its bin: an upper bound).
    fn share_of(&self, v: f64) -> f64 {
        match self {
            Shares::Values(sorted) => {
                if sorted.is_empty() {
                    return 0.0;
                }
                let lo = sorted.partition_point(|x| *x < v);
                let hi = sorted.partition_point(|x| *x <= v);
                (hi - lo) as f64 / sorted.len() as f64
            }
            Shares::Histogram {
                edges,
                counts,
                total,
            } => {
                if *total == 0 || edges.len() < 2 {
                    return 0.0;
                }
                let i = edges.partition_point(|e| *e <= v);
                let bin = i.saturating_sub(1).min(counts.len().saturating_sub(1));
                if v < edges[0] || v > edges[edges.len() - 1] {
                    return 0.0;
                }
                counts.get(bin).copied().unwrap_or(0) as f64 / *total as f64
            }
            Shares::Levels(s) => {
                if v >= 0.0 && v.fract() == 0.0 {
                    s.get(v as usize).copied().unwrap_or(0.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// What the triage knows of one reference column.
#[derive(Debug, Clone)]
pub(crate) struct ColumnReference {
    /// Share of missing values.
    missing: f64,
    /// Smallest and largest finite value of a numeric column.
    range: Option<(f64, f64)>,
    /// Whether the column took at least two values.
    varied: bool,
    shares: Shares,
}

/// The reference columns of raw training data.
pub(crate) fn reference_from_data(d: &Dataset) -> Vec<ColumnReference> {
    let n = d.n_rows().max(1) as f64;
    d.schema()
        .features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let x = d.features();
            let col = x.column(j);
            let missing = col.iter().filter(|v| v.is_nan()).count() as f64 / n;
            let mut values: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
            values.sort_by(f64::total_cmp);
            let range = values.first().zip(values.last()).map(|(a, b)| (*a, *b));
            let varied = range.is_some_and(|(a, b)| a < b);
            match &f.kind {
                FeatureKind::Numeric => ColumnReference {
                    missing,
                    range,
                    varied,
                    shares: Shares::Values(values),
                },
                FeatureKind::Categorical { levels } => {
                    let mut counts = vec![0u64; levels.len()];
                    for v in &values {
                        if let Some(c) = counts.get_mut(*v as usize) {
                            *c += 1;
                        }
                    }
                    let total = values.len().max(1) as f64;
                    ColumnReference {
                        missing,
                        range: None,
                        varied,
                        shares: Shares::Levels(counts.iter().map(|c| *c as f64 / total).collect()),
                    }
                }
            }
        })
        .collect()
}

/// The reference columns of a stored profile (which must describe `schema`'s feature
/// columns, in order).
pub(crate) fn reference_from_profile(
    p: &DatasetProfile,
    schema: &Schema,
) -> Result<Vec<ColumnReference>> {
    let want: Vec<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
    let got: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
    if want != got {
        return Err(Error::SchemaMismatch(format!(
            "the reference profile has columns {got:?} but the model's inputs are {want:?}"
        )));
    }
    Ok(p.columns
        .iter()
        .zip(&schema.features)
        .map(|(c, f)| match &c.summary {
            ColumnSummary::Numeric(n) => {
                let total = n.count + n.missing + n.infinite;
                let range = (n.count > 0).then_some((n.min, n.max));
                ColumnReference {
                    missing: n.missing as f64 / total.max(1) as f64,
                    range,
                    varied: range.is_some_and(|(a, b)| a < b),
                    shares: Shares::Histogram {
                        edges: n.edges.clone(),
                        counts: n.counts.clone(),
                        total: n.count,
                    },
                }
            }
            ColumnSummary::Categorical(k) => {
                let total = k.count();
                let levels = f.levels().unwrap_or(&[]);
                let shares: Vec<f64> = levels
                    .iter()
                    .map(|l| k.counts.get(l).copied().unwrap_or(0) as f64 / total.max(1) as f64)
                    .collect();
                ColumnReference {
                    missing: k.missing as f64 / (total + k.missing).max(1) as f64,
                    range: None,
                    varied: shares.iter().filter(|s| **s > 0.0).count() >= 2,
                    shares: Shares::Levels(shares),
                }
            }
        })
        .collect())
}

/// The limits the column checks use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnLimits {
    pub max_missing_increase: f64,
    pub range_tolerance: f64,
    pub max_out_of_range: f64,
}

/// Missing surges, out-of-range values and stuck columns of the window `current`.
pub(crate) fn column_faults(
    schema: &Schema,
    reference: &[ColumnReference],
    current: &Dataset,
    limits: ColumnLimits,
) -> Vec<QualityFault> {
    let n = current.n_rows();
    let mut out = Vec::new();
    for (j, (f, r)) in schema.features.iter().zip(reference).enumerate() {
        let x = current.features();
        let col = x.column(j);
        let missing = col.iter().filter(|v| v.is_nan()).count();
        let share = missing as f64 / n.max(1) as f64;
        if share - r.missing > limits.max_missing_increase {
            out.push(QualityFault {
                column: f.name.clone(),
                kind: FaultKind::MissingSurge,
                detail: format!(
                    "{:.1}% missing in production vs {:.1}% in training",
                    100.0 * share,
                    100.0 * r.missing
                ),
            });
        }
        if let Some((lo, hi)) = r.range {
            let pad = limits.range_tolerance * (hi - lo).abs();
            let (min, max) = (lo - pad, hi + pad);
            let outside = col
                .iter()
                .filter(|v| v.is_finite() && (**v < min || **v > max))
                .count();
            let present = n - missing;
            if present > 0 && outside as f64 / present as f64 > limits.max_out_of_range {
                out.push(QualityFault {
                    column: f.name.clone(),
                    kind: FaultKind::OutOfRange,
                    detail: format!(
                        "{outside} of {present} values ({:.1}%) outside the training range \
                         [{lo}, {hi}] widened by {:.0}% of its span",
                        100.0 * outside as f64 / present as f64,
                        100.0 * limits.range_tolerance
                    ),
                });
            }
        }
        let mut present = col.iter().filter(|v| !v.is_nan());
        if let Some(&first) = present.next()
            && r.varied
            && n - missing >= 2
            && present.all(|v| *v == first)
        {
            let p = r.shares.share_of(first);
            // The chance of a whole window at this value if rows followed the reference.
            let chance = (n - missing) as f64 * p.max(f64::MIN_POSITIVE).ln();
            if chance < (1e-6f64).ln() {
                out.push(QualityFault {
                    column: f.name.clone(),
                    kind: FaultKind::Constant,
                    detail: format!(
                        "all {} values are {} (stuck?); it took this value in {:.1}% of the \
                         training rows",
                        n - missing,
                        schema.decode_cell(j, first),
                        100.0 * p
                    ),
                });
            }
        }
    }
    out
}

/// What the logged requests of a window show of the pipeline, beyond the scored values.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestEvidence {
    /// Rows with another number of inputs than the model's.
    pub wrong_width: usize,
    /// The widths seen among them.
    pub widths: Vec<usize>,
    /// Per categorical column: logged codes that are no level of it.
    pub bad_codes: BTreeMap<String, usize>,
    /// Per column: requests refused for an unknown category.
    pub refused_unknown: BTreeMap<String, usize>,
    /// Per column: scored requests whose unknown category was scored as missing.
    pub scored_unknown: BTreeMap<String, usize>,
    /// Requests refused for missing or unknown columns.
    pub refused_schema: usize,
    /// One such refusal's message.
    pub schema_example: Option<String>,
}

/// The column an unknown-category message names (`*` when it names none), if it is one.
fn unknown_category_column(message: &str) -> Option<String> {
    let (before, _) = message.split_once("unknown category")?;
    Some(
        before
            .rsplit_once("column `")
            .and_then(|(_, c)| c.split_once('`'))
            .map(|(c, _)| c.to_string())
            .unwrap_or_else(|| "*".into()),
    )
}

impl RequestEvidence {
    /// Learn from the notes of a scored request (an unknown category scored as missing).
    pub(crate) fn scored_with_notes(&mut self, notes: &[String]) {
        for n in notes {
            if let Some(column) = unknown_category_column(n) {
                *self.scored_unknown.entry(column).or_default() += 1;
            }
        }
    }

    /// Learn from a failed request's error message.
    pub(crate) fn failed(&mut self, error: &str) {
        if let Some(column) = unknown_category_column(error) {
            *self.refused_unknown.entry(column).or_default() += 1;
        } else if error.contains("is not a feature of the model")
            || error.contains("has no value for feature")
            || error.contains("feature columns")
            || error.contains("missing input column")
            || error.contains("not in the model signature")
        {
            self.refused_schema += 1;
            self.schema_example.get_or_insert_with(|| error.to_string());
        }
    }
}

/// Schema changes and unseen categories shown by the logged requests.
pub(crate) fn request_faults(schema: &Schema, ev: &RequestEvidence) -> Vec<QualityFault> {
    let mut out = Vec::new();
    if ev.wrong_width > 0 {
        out.push(QualityFault {
            column: "*".into(),
            kind: FaultKind::SchemaChange,
            detail: format!(
                "{} rows had {:?} inputs where the model takes {}",
                ev.wrong_width,
                ev.widths,
                schema.n_features()
            ),
        });
    }
    if ev.refused_schema > 0 {
        out.push(QualityFault {
            column: "*".into(),
            kind: FaultKind::SchemaChange,
            detail: format!(
                "{} requests refused for their columns, e.g. {}",
                ev.refused_schema,
                ev.schema_example.as_deref().unwrap_or("")
            ),
        });
    }
    let mut unseen: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (c, n) in &ev.bad_codes {
        unseen.entry(c).or_default().0 += n;
    }
    for (c, n) in &ev.refused_unknown {
        unseen.entry(c).or_default().1 += n;
    }
    for (c, n) in &ev.scored_unknown {
        unseen.entry(c).or_default().2 += n;
    }
    for (column, (codes, refused, as_missing)) in unseen {
        let mut parts = Vec::new();
        if codes > 0 {
            parts.push(format!(
                "{codes} logged values that are no level of the model"
            ));
        }
        if refused > 0 {
            parts.push(format!(
                "{refused} requests refused for an unknown category"
            ));
        }
        if as_missing > 0 {
            parts.push(format!(
                "{as_missing} requests with an unknown category scored as missing"
            ));
        }
        out.push(QualityFault {
            column: column.to_string(),
            kind: FaultKind::UnseenCategory,
            detail: parts.join(", "),
        });
    }
    out
}

/// A volume drop: `rows` scored against `previous` in the window before, when the
/// previous window had at least `min_rows`.
pub(crate) fn volume_fault(
    rows: usize,
    previous: usize,
    max_drop: f64,
    min_rows: usize,
) -> Option<QualityFault> {
    (previous >= min_rows.max(1) && (rows as f64) < (1.0 - max_drop) * previous as f64).then(|| {
        QualityFault {
            column: "*".into(),
            kind: FaultKind::VolumeDrop,
            detail: format!(
                "{rows} rows scored vs {previous} in the previous window of the same length \
                 ({:.0}% fewer; limit {:.0}%)",
                100.0 * (1.0 - rows as f64 / previous as f64),
                100.0 * max_drop
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_values_histograms_and_levels() {
        let v = Shares::Values(vec![1.0, 2.0, 2.0, 3.0]);
        assert_eq!(v.share_of(2.0), 0.5);
        assert_eq!(v.share_of(5.0), 0.0);
        let h = Shares::Histogram {
            edges: vec![0.0, 1.0, 2.0],
            counts: vec![3, 1],
            total: 4,
        };
        assert_eq!(h.share_of(0.5), 0.75);
        assert_eq!(h.share_of(2.0), 0.25);
        assert_eq!(h.share_of(9.0), 0.0);
        let l = Shares::Levels(vec![0.9, 0.1]);
        assert_eq!(l.share_of(1.0), 0.1);
        assert_eq!(l.share_of(7.0), 0.0);
    }

    #[test]
    fn refusals_are_read_from_error_messages() {
        let mut ev = RequestEvidence::default();
        ev.failed("invalid data: column `plan`: unknown category `gold` (known: a, b); retrain with it or encode unknown levels as missing");
        ev.failed("schema mismatch: row 0: column `zip` is not a feature of the model (its features: a); drop it before encoding");
        ev.failed("model crashed");
        assert_eq!(ev.refused_unknown["plan"], 1);
        assert_eq!(ev.refused_schema, 1);
        let schema = Schema::new(vec![crate::data::Feature::numeric("a")], None).unwrap();
        let kinds: Vec<FaultKind> = request_faults(&schema, &ev)
            .iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![FaultKind::SchemaChange, FaultKind::UnseenCategory]
        );
    }

    #[test]
    fn volume_drops_need_a_full_previous_window() {
        assert!(volume_fault(100, 1_000, 0.5, 200).is_some());
        assert!(volume_fault(600, 1_000, 0.5, 200).is_none());
        assert!(volume_fault(0, 150, 0.5, 200).is_none());
    }
}
