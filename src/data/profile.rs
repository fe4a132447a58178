//! [`DatasetProfile`]: per-column mergeable summaries of a dataset, so drift can be
//! computed from a stored reference profile instead of the raw training data.
//!
//! It lives with the data (below `model/`, which stores it in an artifact, and `drift/`, which
//! compares it) and is built from the pure statistics of `drift::stats`; `drift` re-exports it.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Dataset, FeatureKind};
use crate::drift::stats::{
    CategoricalSummary, ColumnKind, DEFAULT_SKETCH_ALPHA, NumericSummary, SortedSample,
};
use crate::{Error, Result};
use ndarray::ArrayView1;

/// The summary of one column (serialised as `{"numeric": {...}}` or
/// `{"categorical": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSummary {
    /// Histogram on fixed edges, moments, range and quantile sketch.
    Numeric(NumericSummary),
    /// Category counts.
    Categorical(CategoricalSummary),
}

impl ColumnSummary {
    /// The column kind.
    pub fn kind(&self) -> ColumnKind {
        match self {
            ColumnSummary::Numeric(_) => ColumnKind::Numeric,
            ColumnSummary::Categorical(_) => ColumnKind::Categorical,
        }
    }
}

/// A named column summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its summary.
    pub summary: ColumnSummary,
}

/// Mergeable summaries of every feature column of a dataset.
///
/// * [`DatasetProfile::reference`] fixes each numeric column's histogram edges from the
///   reference itself (NumPy's Doane rule, the [`Binning::Reference`] convention); store
///   it with the model version (it is serde-serialisable, floats round-trip exactly).
/// * [`DatasetProfile::window`] profiles new data on a reference profile's edges.
/// * [`DatasetProfile::merge`] combines profiles of disjoint batches on the same edges
///   (days into a week, replicas into a fleet) exactly.
///
/// [`Binning::Reference`]: crate::drift::stats::Binning::Reference
///
/// ```
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::drift::{DatasetProfile, StatisticalDriftConfig, StatisticalDriftDetector};
/// use mlcycle::drift::stats::Method;
/// let g = CreditDefault::new(3);
/// let training = g.sample(5_000, &DriftSpec::none(), 0).unwrap();
/// let stored = DatasetProfile::reference(&training).unwrap(); // keep this, drop the data
/// let monday = g.sample(1_000, &DriftSpec::none(), 1).unwrap();
/// let tuesday = g.sample(1_000, &DriftSpec::none(), 2).unwrap();
/// let week = DatasetProfile::window(&stored, &monday).unwrap()
///     .merge(&DatasetProfile::window(&stored, &tuesday).unwrap()).unwrap();
/// let detector = StatisticalDriftDetector::new(StatisticalDriftConfig {
///     methods: "jensenshannon,chisquare,psi".parse().unwrap(),
///     ..StatisticalDriftConfig::default()
/// }).unwrap();
/// let report = detector.detect_profiles(&stored, &week).unwrap();
/// assert!(!report.dataset_drift);
/// assert!(report.columns[0].tests.get("psi").is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetProfile {
    /// One profile per feature column, in schema order.
    pub columns: Vec<ColumnProfile>,
}

impl DatasetProfile {
    /// The reference profile of a dataset: numeric columns binned on their own Doane
    /// edges. Errors on a numeric column without finite values.
    pub fn reference(data: &Dataset) -> Result<Self> {
        Self::build(data, None)
    }

    /// The profile of `data` on the edges of `reference` (same feature names, in order).
    pub fn window(reference: &DatasetProfile, data: &Dataset) -> Result<Self> {
        Self::build(data, Some(reference))
    }

    fn build(data: &Dataset, reference: Option<&DatasetProfile>) -> Result<Self> {
        let features = &data.schema().features;
        if let Some(r) = reference {
            let want: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
            let got: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
            if want != got {
                return Err(Error::SchemaMismatch(format!(
                    "the data has columns {got:?} but the reference profile has {want:?}"
                )));
            }
        }
        let x = data.features();
        let columns = features
            .par_iter()
            .enumerate()
            .map(|(j, f)| {
                let col = x.column(j);
                let summary = match &f.kind {
                    FeatureKind::Categorical { levels } => {
                        ColumnSummary::Categorical(categorical_from_codes(&f.name, col, levels)?)
                    }
                    FeatureKind::Numeric => match reference.map(|r| &r.columns[j].summary) {
                        None => {
                            let s = SortedSample::from_values(col.iter().copied());
                            if s.is_empty() {
                                return Err(Error::Data(format!(
                                    "column `{}` has no finite values; cannot profile it",
                                    f.name
                                )));
                            }
                            ColumnSummary::Numeric(NumericSummary::reference(&s)?)
                        }
                        Some(ColumnSummary::Numeric(r)) => {
                            let mut p = NumericSummary::empty(r.edges.clone(), r.sketch.alpha())?;
                            for &v in col {
                                p.push(v);
                            }
                            ColumnSummary::Numeric(p)
                        }
                        Some(ColumnSummary::Categorical(_)) => {
                            return Err(Error::SchemaMismatch(format!(
                                "column `{}` is numeric in the data but categorical in the \
                                 reference profile",
                                f.name
                            )));
                        }
                    },
                };
                Ok(ColumnProfile {
                    name: f.name.clone(),
                    summary,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DatasetProfile { columns })
    }

    /// Merge the profile of a disjoint batch (same columns; numeric ones on the same edges).
    pub fn merge(&self, other: &DatasetProfile) -> Result<DatasetProfile> {
        if self.columns.len() != other.columns.len() {
            return Err(Error::SchemaMismatch(format!(
                "cannot merge profiles of {} and {} columns",
                self.columns.len(),
                other.columns.len()
            )));
        }
        let columns = self
            .columns
            .iter()
            .zip(&other.columns)
            .map(|(a, b)| {
                if a.name != b.name {
                    return Err(Error::SchemaMismatch(format!(
                        "cannot merge column `{}` with column `{}`",
                        a.name, b.name
                    )));
                }
                let summary = match (&a.summary, &b.summary) {
                    (ColumnSummary::Numeric(x), ColumnSummary::Numeric(y)) => {
                        ColumnSummary::Numeric(NumericSummary::merge(x, y)?)
                    }
                    (ColumnSummary::Categorical(x), ColumnSummary::Categorical(y)) => {
                        ColumnSummary::Categorical(CategoricalSummary::merge(x, y))
                    }
                    _ => {
                        return Err(Error::SchemaMismatch(format!(
                            "column `{}` has different kinds in the two profiles",
                            a.name
                        )));
                    }
                };
                Ok(ColumnProfile {
                    name: a.name.clone(),
                    summary,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DatasetProfile { columns })
    }

    /// The default relative accuracy of the quantile sketches.
    pub const SKETCH_ALPHA: f64 = DEFAULT_SKETCH_ALPHA;
}

/// Category counts of a column of level codes (`NaN` = missing).
pub(crate) fn categorical_from_codes(
    name: &str,
    codes: ArrayView1<'_, f64>,
    levels: &[String],
) -> Result<CategoricalSummary> {
    let mut counts = vec![0u64; levels.len()];
    let mut missing = 0u64;
    for &x in codes {
        if x.is_nan() {
            missing += 1;
            continue;
        }
        if !(x >= 0.0 && x.fract() == 0.0 && (x as usize) < levels.len()) {
            return Err(Error::Data(format!(
                "column `{name}`: {x} is not a valid level code (0..{})",
                levels.len()
            )));
        }
        counts[x as usize] += 1;
    }
    let mut p = CategoricalSummary {
        missing,
        ..CategoricalSummary::default()
    };
    for (l, c) in levels.iter().zip(counts) {
        if c > 0 {
            *p.counts.entry(l.clone()).or_insert(0) += c;
        }
    }
    Ok(p)
}
