use super::stats::{AlignedCounts, SortedSample, chisquare, ks};
use super::{ColumnDrift, DriftDetector, DriftReport};
use crate::data::{Dataset, FeatureKind};
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Settings of [`StatisticalDriftDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticalDriftConfig {
    /// A column drifts when its p-value is below this.
    pub p_value: f64,
    /// The dataset drifts when at least this share of columns drift.
    pub drift_share: f64,
}

impl Default for StatisticalDriftConfig {
    fn default() -> Self {
        StatisticalDriftConfig {
            p_value: 0.05,
            drift_share: 0.5,
        }
    }
}

/// The default detector: per column, a two-sample Kolmogorov–Smirnov test for numeric
/// features and a chi-square test for categorical ones; the dataset drifts when at least
/// `drift_share` of the columns do.
#[derive(Debug, Clone, Default)]
pub struct StatisticalDriftDetector {
    config: StatisticalDriftConfig,
}

impl StatisticalDriftDetector {
    /// A detector with the given settings.
    pub fn new(config: StatisticalDriftConfig) -> Result<Self> {
        if !(config.p_value > 0.0 && config.p_value < 1.0) {
            return Err(Error::invalid(
                "p-value threshold",
                format!("{} must be in (0, 1)", config.p_value),
            ));
        }
        if !(config.drift_share > 0.0 && config.drift_share <= 1.0) {
            return Err(Error::invalid(
                "drift share",
                format!("{} must be in (0, 1]", config.drift_share),
            ));
        }
        Ok(StatisticalDriftDetector { config })
    }

    /// Run the detector synchronously (pure computation).
    pub fn detect_sync(&self, reference: &Dataset, current: &Dataset) -> Result<DriftReport> {
        let rs = reference.schema();
        let cs = current.schema();
        if rs.features != cs.features {
            return Err(Error::SchemaMismatch(
                "reference and current data have different feature columns".into(),
            ));
        }
        let mut columns = Vec::with_capacity(rs.n_features());
        for (j, f) in rs.features.iter().enumerate() {
            let (r, c) = (reference.features(), current.features());
            let (rcol, ccol) = (r.column(j), c.column(j));
            let present = |v: &f64| !v.is_nan();
            let (n_r, n_c) = (
                rcol.iter().filter(|v| present(v)).count(),
                ccol.iter().filter(|v| present(v)).count(),
            );
            let (missing_reference, missing_current) =
                (reference.n_rows() - n_r, current.n_rows() - n_c);
            if n_r == 0 || n_c == 0 {
                return Err(Error::Data(format!(
                    "column `{}` has no values in the {} data; cannot test it for drift",
                    f.name,
                    if n_r == 0 { "reference" } else { "current" }
                )));
            }
            let (kind, method, statistic, p) = match &f.kind {
                FeatureKind::Numeric => {
                    let rs = SortedSample::from_vec(rcol.iter().copied().filter(present).collect());
                    let cs = SortedSample::from_vec(ccol.iter().copied().filter(present).collect());
                    let t = ks(&rs, &cs).map_err(|e| column_error(&f.name, e))?;
                    ("numeric", "ks", t.statistic, t.p_value)
                }
                FeatureKind::Categorical { levels } => {
                    let count = |v: ndarray::ArrayView1<'_, f64>| {
                        let mut k = vec![0u64; levels.len()];
                        for &x in v.iter().filter(|v| present(v)) {
                            k[x as usize] += 1;
                        }
                        k
                    };
                    let counts = AlignedCounts::new(count(rcol), count(ccol))
                        .map_err(|e| column_error(&f.name, e))?;
                    let t = chisquare(&counts).map_err(|e| column_error(&f.name, e))?;
                    ("categorical", "chisquare", t.statistic, t.p_value)
                }
            };
            let (r, c) = (n_r, n_c);
            columns.push(ColumnDrift {
                name: f.name.clone(),
                kind: kind.into(),
                n_reference: r,
                n_current: c,
                missing_reference,
                missing_current,
                method: method.into(),
                statistic,
                p_value: Some(p),
                threshold: self.config.p_value,
                drift: p < self.config.p_value,
            });
        }
        let drifted = columns.iter().filter(|c| c.drift).count();
        let share = if columns.is_empty() {
            0.0
        } else {
            drifted as f64 / columns.len() as f64
        };
        Ok(DriftReport {
            columns,
            drifted_columns: drifted,
            share_drifted: share,
            drift_share: self.config.drift_share,
            dataset_drift: share >= self.config.drift_share,
        })
    }
}

#[async_trait]
impl DriftDetector for StatisticalDriftDetector {
    async fn detect(&self, reference: &Dataset, current: &Dataset) -> Result<DriftReport> {
        let (this, r, c) = (self.clone(), reference.clone(), current.clone());
        tokio::task::spawn_blocking(move || this.detect_sync(&r, &c))
            .await
            .map_err(|e| Error::Numerical(format!("drift task failed: {e}")))?
    }
}

fn column_error(column: &str, e: Error) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("column `{column}`: {m}")),
        other => other,
    }
}
