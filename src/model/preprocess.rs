use crate::data::{Dataset, FeatureKind, Schema};
use crate::{Error, Result};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

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
        let columns = data
            .schema()
            .features
            .iter()
            .enumerate()
            .map(|(j, f)| match &f.kind {
                FeatureKind::Categorical { levels } => Ok(ColumnTransform::OneHot {
                    n_levels: levels.len(),
                }),
                FeatureKind::Numeric => {
                    let mut present: Vec<f64> = x
                        .column(j)
                        .iter()
                        .copied()
                        .filter(|v| !v.is_nan())
                        .collect();
                    if present.is_empty() {
                        return Err(Error::Data(format!(
                            "column `{}` has no values at all; drop it or fill it before training",
                            f.name
                        )));
                    }
                    present.sort_by(f64::total_cmp);
                    let fill = crate::data::quality::quantile_sorted(&present, 0.5);
                    let n = x.nrows() as f64;
                    let col = x.column(j);
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
