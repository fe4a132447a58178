//! Data-quality report and cleaning (pure: works on a [`Dataset`] in memory).

use super::dataset::Dataset;
use super::schema::FeatureKind;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Quality figures of one feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnQuality {
    /// Column name.
    pub name: String,
    /// Number of missing (NaN) values.
    pub missing: usize,
    /// `missing / rows`.
    pub missing_fraction: f64,
    /// Number of values outside the IQR fences `[Q1 − 1.5·IQR, Q3 + 1.5·IQR]` (numeric only).
    pub outliers: usize,
    /// Whether the column has at most one distinct non-missing value.
    pub constant: bool,
    /// Number of distinct non-missing values.
    pub distinct: usize,
}

/// A data-quality report over a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Number of rows.
    pub rows: usize,
    /// Number of rows that exactly repeat an earlier row (features and target).
    pub duplicate_rows: usize,
    /// Per-column figures, in schema order.
    pub columns: Vec<ColumnQuality>,
}

impl QualityReport {
    /// Compute the report.
    pub fn of(data: &Dataset) -> QualityReport {
        let x = data.features();
        let n = data.n_rows();
        let columns = data
            .schema()
            .features
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let col = x.column(j);
                let mut present: Vec<f64> = col.iter().copied().filter(|v| !v.is_nan()).collect();
                let missing = n - present.len();
                present.sort_by(f64::total_cmp);
                let distinct = if present.is_empty() {
                    0
                } else {
                    1 + present.windows(2).filter(|w| w[0] != w[1]).count()
                };
                let outliers = match f.kind {
                    FeatureKind::Numeric if present.len() >= 4 => {
                        let q1 = quantile_sorted(&present, 0.25);
                        let q3 = quantile_sorted(&present, 0.75);
                        let iqr = q3 - q1;
                        let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
                        present.iter().filter(|&&v| v < lo || v > hi).count()
                    }
                    _ => 0,
                };
                ColumnQuality {
                    name: f.name.clone(),
                    missing,
                    missing_fraction: if n == 0 {
                        0.0
                    } else {
                        missing as f64 / n as f64
                    },
                    outliers,
                    constant: distinct <= 1,
                    distinct,
                }
            })
            .collect();
        QualityReport {
            rows: n,
            duplicate_rows: duplicate_rows(data).len(),
            columns,
        }
    }

    /// The largest missing fraction over all columns, with the column's name.
    pub fn worst_missing(&self) -> Option<(&str, f64)> {
        self.columns
            .iter()
            .max_by(|a, b| a.missing_fraction.total_cmp(&b.missing_fraction))
            .map(|c| (c.name.as_str(), c.missing_fraction))
    }
}

/// Linear-interpolation quantile of sorted data (numpy's default, "linear").
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn row_key(data: &Dataset, i: usize) -> Vec<u64> {
    let mut k: Vec<u64> = data
        .features()
        .row(i)
        .iter()
        .map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() })
        .collect();
    if let Some(y) = data.target() {
        k.push(y[i].to_bits());
    }
    k
}

/// Indices of rows that repeat an earlier row.
fn duplicate_rows(data: &Dataset) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(data.n_rows());
    (0..data.n_rows())
        .filter(|&i| !seen.insert(row_key(data, i)))
        .collect()
}

/// How to fill missing values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// Numeric: median; categorical: most frequent level.
    Median,
    /// Numeric: mean; categorical: most frequent level.
    Mean,
}

/// Cleaning steps applied by [`clean`], in this order: drop duplicates, impute, clip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleaningOptions {
    /// Drop rows that repeat an earlier row.
    pub drop_duplicates: bool,
    /// Fill missing values.
    pub impute: Option<Impute>,
    /// Clip numeric values to the IQR fences (multiplier, e.g. 1.5).
    pub clip_iqr: Option<f64>,
}

/// What [`clean`] changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleaningSummary {
    /// Rows dropped as duplicates.
    pub dropped_duplicates: usize,
    /// Cells imputed.
    pub imputed_cells: usize,
    /// Cells clipped.
    pub clipped_cells: usize,
}

/// Apply cleaning steps; returns the cleaned dataset (a new id) and a summary.
pub fn clean(data: &Dataset, opts: &CleaningOptions) -> Result<(Dataset, CleaningSummary)> {
    let mut summary = CleaningSummary::default();
    let mut data = data.clone();
    if opts.drop_duplicates {
        let dups: HashSet<usize> = duplicate_rows(&data).into_iter().collect();
        if !dups.is_empty() {
            let keep: Vec<usize> = (0..data.n_rows()).filter(|i| !dups.contains(i)).collect();
            summary.dropped_duplicates = dups.len();
            data = data.select_rows(&keep)?;
        }
    }
    if opts.impute.is_none() && opts.clip_iqr.is_none() {
        return Ok((data, summary));
    }
    if let Some(m) = opts.clip_iqr
        && !(m.is_finite() && m > 0.0)
    {
        return Err(Error::invalid(
            "clip multiplier",
            format!("{m} must be positive"),
        ));
    }
    let mut x = data.features().to_owned();
    for (j, f) in data.schema().features.iter().enumerate() {
        let mut col = x.column_mut(j);
        let mut present: Vec<f64> = col.iter().copied().filter(|v| !v.is_nan()).collect();
        if present.is_empty() {
            continue;
        }
        present.sort_by(f64::total_cmp);
        if let Some(imp) = opts.impute {
            let fill = match (&f.kind, imp) {
                (FeatureKind::Categorical { .. }, _) => mode_sorted(&present),
                (FeatureKind::Numeric, Impute::Median) => quantile_sorted(&present, 0.5),
                (FeatureKind::Numeric, Impute::Mean) => {
                    present.iter().sum::<f64>() / present.len() as f64
                }
            };
            for v in col.iter_mut().filter(|v| v.is_nan()) {
                *v = fill;
                summary.imputed_cells += 1;
            }
        }
        if let (Some(m), FeatureKind::Numeric) = (opts.clip_iqr, &f.kind) {
            let q1 = quantile_sorted(&present, 0.25);
            let q3 = quantile_sorted(&present, 0.75);
            let (lo, hi) = (q1 - m * (q3 - q1), q3 + m * (q3 - q1));
            for v in col.iter_mut().filter(|v| !v.is_nan()) {
                if *v < lo || *v > hi {
                    *v = v.clamp(lo, hi);
                    summary.clipped_cells += 1;
                }
            }
        }
    }
    let cleaned = Dataset::with_schema(
        data.schema_arc().clone(),
        x,
        data.target().cloned(),
        data.timestamps().map(<[_]>::to_vec),
    )?
    .with_source(format!("{} (cleaned)", data.source()));
    Ok((cleaned, summary))
}

fn mode_sorted(sorted: &[f64]) -> f64 {
    let (mut best, mut best_n, mut i) = (sorted[0], 0, 0);
    while i < sorted.len() {
        let j = sorted[i..]
            .iter()
            .position(|&v| v != sorted[i])
            .map_or(sorted.len(), |p| i + p);
        if j - i > best_n {
            best = sorted[i];
            best_n = j - i;
        }
        i = j;
    }
    best
}
