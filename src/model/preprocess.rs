use crate::data::{Dataset, FeatureKind, Schema};
use crate::{Error, Result};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The median of non-empty, NaN-free `values` (reordered), interpolated between the two middle
/// values as [`crate::data::quality::quantile_sorted`] does — the same number as sorting, in
/// linear time.
fn median(values: &mut [f64]) -> f64 {
    let pos = 0.5 * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, &mut a, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if pos == lo as f64 {
        return a;
    }
    let b = right.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    a + (b - a) * (pos - lo as f64)
}

/// How one input column becomes model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnTransform {
    /// Missing → `fill`, then `(x − mean) / scale`. One output column.
    Standardize {
        /// Value used for missing entries (the training median).
        fill: f64,
        /// Training mean (after filling).
        mean: f64,
        /// Training standard deviation (1 if it was 0).
        scale: f64,
    },
    /// One output column per level; missing or unknown → all zeros.
    OneHot {
        /// Number of levels.
        n_levels: usize,
    },
}

impl ColumnTransform {
    fn width(&self) -> usize {
        match self {
            ColumnTransform::Standardize { .. } => 1,
            ColumnTransform::OneHot { n_levels } => *n_levels,
        }
    }
}

/// Preprocessing fitted on training data only, stored inside the model artifact so that
/// what was trained is exactly what is served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// One transform per input column, in schema order.
    pub columns: Vec<ColumnTransform>,
}

impl Preprocessor {
    /// Fit: numeric columns get median imputation and standardisation, categoricals one-hot.
    pub fn fit(data: &Dataset) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::Data(
                "cannot fit preprocessing on an empty dataset".into(),
            ));
        }
        let x = data.features();
        let n = x.nrows();
        // One pass over the row-major matrix into contiguous columns, so the statistics below
        // read memory sequentially.
        let mut cols: Vec<Vec<f64>> = data
            .schema()
            .features
            .iter()
            .map(|f| match f.kind {
                FeatureKind::Numeric => Vec::with_capacity(n),
                FeatureKind::Categorical { .. } => Vec::new(),
            })
            .collect();
        for row in x.rows() {
            for (col, &v) in cols.iter_mut().zip(row.iter()) {
                if col.capacity() > 0 {
                    col.push(v);
                }
            }
        }
        let columns = data
            .schema()
            .features
            .par_iter()
            .zip(cols.par_iter())
            .map(|(f, col)| match &f.kind {
                FeatureKind::Categorical { levels } => Ok(ColumnTransform::OneHot {
                    n_levels: levels.len(),
                }),
                FeatureKind::Numeric => {
                    let mut present: Vec<f64> =
                        col.iter().copied().filter(|v| !v.is_nan()).collect();
                    if present.is_empty() {
                        return Err(Error::Data(format!(
                            "column `{}` has no values at all; drop it or fill it before training",
                            f.name
                        )));
                    }
                    let fill = median(&mut present);
                    let n = n as f64;
                    let filled = col.iter().map(|&v| if v.is_nan() { fill } else { v });
                    let mean = filled.clone().sum::<f64>() / n;
                    let var = filled.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                    let sd = var.sqrt();
                    Ok(ColumnTransform::Standardize {
                        fill,
                        mean,
                        scale: if sd > 1e-12 { sd } else { 1.0 },
                    })
                }
            })
            .collect::<Result<_>>()?;
        Ok(Preprocessor { columns })
    }

    /// The number of model inputs after transformation.
    pub fn output_width(&self) -> usize {
        self.columns.iter().map(ColumnTransform::width).sum()
    }

    /// Transform encoded rows (already validated against the schema).
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((x.nrows(), self.output_width()));
        for (i, row) in x.rows().into_iter().enumerate() {
            let mut k = 0;
            for (j, t) in self.columns.iter().enumerate() {
                let v = row[j];
                match t {
                    ColumnTransform::Standardize { fill, mean, scale } => {
                        let v = if v.is_nan() { *fill } else { v };
                        out[[i, k]] = (v - mean) / scale;
                        k += 1;
                    }
                    ColumnTransform::OneHot { n_levels } => {
                        if !v.is_nan() && v >= 0.0 && (v as usize) < *n_levels {
                            out[[i, k + v as usize]] = 1.0;
                        }
                        k += n_levels;
                    }
                }
            }
        }
        out
    }

    /// Check that this preprocessor matches `schema` (used when loading an artifact).
    pub fn check_schema(&self, schema: &Schema) -> Result<()> {
        let ok = self.columns.len() == schema.n_features()
            && self
                .columns
                .iter()
                .zip(&schema.features)
                .all(|(t, f)| match (t, &f.kind) {
                    (ColumnTransform::Standardize { .. }, FeatureKind::Numeric) => true,
                    (ColumnTransform::OneHot { n_levels }, FeatureKind::Categorical { levels }) => {
                        *n_levels == levels.len()
                    }
                    _ => false,
                });
        if ok {
            Ok(())
        } else {
            Err(Error::SchemaMismatch(
                "the artifact's preprocessing does not match its signature".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::median;
    use crate::data::quality::quantile_sorted;

    #[test]
    fn median_equals_the_sorted_quantile() {
        for n in 1..40usize {
            let v: Vec<f64> = (0..n)
                .map(|i| {
                    ((i * 37 + 11) % 17) as f64 * 0.5 - 3.0 + if i % 5 == 0 { -0.0 } else { 0.0 }
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let mut scratch = v.clone();
            assert_eq!(
                median(&mut scratch).to_bits(),
                quantile_sorted(&sorted, 0.5).to_bits(),
                "n = {n}"
            );
        }
    }
}
