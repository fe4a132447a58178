use super::{ColumnDrift, DriftDetector, DriftReport, basic};
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
            let mut r: Vec<f64> = reference
                .features()
                .column(j)
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            let mut c: Vec<f64> = current
                .features()
                .column(j)
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            let (missing_reference, missing_current) =
                (reference.n_rows() - r.len(), current.n_rows() - c.len());
            if r.is_empty() || c.is_empty() {
                return Err(Error::Data(format!(
                    "column `{}` has no values in the {} data; cannot test it for drift",
                    f.name,
                    if r.is_empty() { "reference" } else { "current" }
                )));
            }
            let (kind, method, (statistic, p)) = match &f.kind {
                FeatureKind::Numeric => {
                    r.sort_by(f64::total_cmp);
                    c.sort_by(f64::total_cmp);
                    ("numeric", "ks", basic::ks(&r, &c))
                }
                FeatureKind::Categorical { levels } => {
                    let count = |v: &[f64]| {
                        let mut k = vec![0usize; levels.len()];
                        for &x in v {
                            k[x as usize] += 1;
                        }
                        k
                    };
                    (
                        "categorical",
                        "chisquare",
                        basic::chisquare(&count(&r), &count(&c)),
                    )
                }
            };
            columns.push(ColumnDrift {
                name: f.name.clone(),
                kind: kind.into(),
                n_reference: r.len(),
                n_current: c.len(),
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
