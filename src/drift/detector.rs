//! [`StatisticalDriftDetector`]: the crate's default [`DriftDetector`].

use std::borrow::Cow;

use async_trait::async_trait;
use rayon::prelude::*;

use super::DriftDetector;
use super::config::StatisticalDriftConfig;
use super::engine::{
    ColumnEval, ColumnInput, ColumnValues, Prepared, evaluate_column, kind_name, prepare,
    prepare_categorical,
};
use super::report::{ColumnDrift, DriftReport};
use super::stats::{Binning, Correction, correct};
use crate::data::{ColumnSummary, Dataset, DatasetProfile, FeatureKind, categorical_from_codes};
use crate::{Error, Result};

/// The default detector: per-column statistical tests and distances, multiple-testing
/// correction, and Evidently's dataset rule. See the [module docs](super) for the engine
/// and [`StatisticalDriftConfig`] for the settings.
///
/// ```
/// use mlcycle::drift::{ColumnInput, ColumnValues, StatisticalDriftConfig, StatisticalDriftDetector};
/// let reference: Vec<f64> = (0..2_000).map(|i| (i % 100) as f64).collect();
/// let current: Vec<f64> = (0..2_000).map(|i| (i % 100) as f64 + 30.0).collect();
/// let detector = StatisticalDriftDetector::new(StatisticalDriftConfig::evidently()).unwrap();
/// let report = detector
///     .detect_columns(&[ColumnInput {
///         name: "x",
///         reference: ColumnValues::numeric(&reference),
///         current: ColumnValues::numeric(&current),
///     }])
///     .unwrap();
/// assert_eq!(report.columns[0].method, "wasserstein"); // reference > 1000 rows
/// assert!(report.dataset_drift);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StatisticalDriftDetector {
    config: StatisticalDriftConfig,
}

impl StatisticalDriftDetector {
    /// A detector with the given settings (checked).
    pub fn new(config: StatisticalDriftConfig) -> Result<Self> {
        config.check()?;
        Ok(StatisticalDriftDetector { config })
    }

    /// The settings.
    pub fn config(&self) -> &StatisticalDriftConfig {
        &self.config
    }

    /// Compare column pairs (the engine's general entry point; columns run in parallel).
    pub fn detect_columns(&self, columns: &[ColumnInput<'_>]) -> Result<DriftReport> {
        if columns.is_empty() {
            return Err(Error::invalid(
                "drift input",
                "there are no columns to compare",
            ));
        }
        let evals: Vec<ColumnEval> = columns
            .par_iter()
            .map(|c| {
                let prepared = prepare(c, &self.config)?;
                evaluate_column(c.name, &prepared, &self.config)
            })
            .collect::<Result<_>>()?;
        self.finish(evals)
    }

    /// Compare two datasets with the same feature columns (synchronous, pure computation).
    pub fn detect_sync(&self, reference: &Dataset, current: &Dataset) -> Result<DriftReport> {
        let rs = reference.schema();
        if rs.features != current.schema().features {
            return Err(Error::SchemaMismatch(
                "reference and current data have different feature columns".into(),
            ));
        }
        let (r, c) = (reference.features(), current.features());
        let inputs =
            rs.features
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    Ok(match &f.kind {
                        FeatureKind::Numeric => ColumnInput {
                            name: &f.name,
                            reference: ColumnValues::Numeric(r.column(j)),
                            current: ColumnValues::Numeric(c.column(j)),
                        },
                        FeatureKind::Categorical { levels } => {
                            ColumnInput {
                                name: &f.name,
                                reference: ColumnValues::Categorical(Cow::Owned(
                                    categorical_from_codes(&f.name, r.column(j), levels)?,
                                )),
                                current: ColumnValues::Categorical(Cow::Owned(
                                    categorical_from_codes(&f.name, c.column(j), levels)?,
                                )),
                            }
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        self.detect_columns(&inputs)
    }

    /// Compare a current profile with a stored reference profile (same columns, in the
    /// same order; numeric profiles on the same edges, as [`DatasetProfile::window`]
    /// builds them). Runs the binned methods and the categorical tests; numeric columns
    /// under `auto` are decided by `jensenshannon`. Requires [`Binning::Reference`] for
    /// numeric columns. The numbers equal those of the raw-data path.
    pub fn detect_profiles(
        &self,
        reference: &DatasetProfile,
        current: &DatasetProfile,
    ) -> Result<DriftReport> {
        if reference.columns.is_empty() {
            return Err(Error::invalid(
                "drift input",
                "the reference profile has no columns",
            ));
        }
        let names =
            |p: &DatasetProfile| p.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        if names(reference) != names(current) {
            return Err(Error::SchemaMismatch(format!(
                "the profiles have different columns: reference {:?}, current {:?}",
                names(reference),
                names(current)
            )));
        }
        let evals: Vec<ColumnEval> = reference
            .columns
            .par_iter()
            .zip(current.columns.par_iter())
            .map(|(r, c)| {
                let name = r.name.as_str();
                let prepared = match (&r.summary, &c.summary) {
                    (ColumnSummary::Numeric(a), ColumnSummary::Numeric(b)) => {
                        for (p, side) in [(a, "reference"), (b, "current")] {
                            if p.count == 0 {
                                return Err(Error::Data(format!(
                                    "column `{name}` has no finite values in the {side} \
                                     profile; cannot test it for drift"
                                )));
                            }
                        }
                        Prepared::NumericSummarys {
                            reference: a,
                            current: b,
                        }
                    }
                    (ColumnSummary::Categorical(a), ColumnSummary::Categorical(b)) => {
                        prepare_categorical(name, a, b)?
                    }
                    (a, b) => {
                        return Err(Error::SchemaMismatch(format!(
                            "column `{name}` is {} in the reference profile but {} in the \
                             current one",
                            kind_name(a.kind()),
                            kind_name(b.kind())
                        )));
                    }
                };
                evaluate_column(name, &prepared, &self.config)
            })
            .collect::<Result<_>>()?;
        self.finish(evals)
    }

    /// Compare a dataset with a stored reference profile: profiles the dataset on the
    /// reference's edges ([`DatasetProfile::window`]) and calls
    /// [`detect_profiles`](Self::detect_profiles).
    pub fn detect_against_profile(
        &self,
        reference: &DatasetProfile,
        current: &Dataset,
    ) -> Result<DriftReport> {
        let window = DatasetProfile::window(reference, current)?;
        self.detect_profiles(reference, &window)
    }

    /// The detector of comparisons against stored reference profiles: this one with
    /// [`StatisticalDriftConfig::profile_methods`] as its methods and reference binning.
    pub fn for_profiles(&self) -> StatisticalDriftDetector {
        StatisticalDriftDetector {
            config: StatisticalDriftConfig {
                methods: self.config.profile_methods.clone(),
                binning: Binning::Reference,
                ..self.config.clone()
            },
        }
    }

    /// Apply the correction and the dataset rule.
    fn finish(&self, evals: Vec<ColumnEval>) -> Result<DriftReport> {
        let p_cols: Vec<usize> = (0..evals.len())
            .filter(|&i| evals[i].method.direction().is_p_value())
            .collect();
        let mut thresholds: Vec<f64> = evals.iter().map(|e| e.threshold).collect();
        let mut drift: Vec<bool> = evals
            .iter()
            .map(|e| e.method.direction().is_drift(e.score, e.threshold))
            .collect();
        match self.config.correction {
            Correction::None => {}
            Correction::Bonferroni => {
                let f = p_cols.len() as f64;
                for &i in &p_cols {
                    thresholds[i] = evals[i].threshold / f;
                    drift[i] = evals[i].score < thresholds[i];
                }
            }
            Correction::BenjaminiHochberg if !p_cols.is_empty() => {
                let alpha = evals[p_cols[0]].threshold;
                if let Some(&i) = p_cols.iter().find(|&&i| evals[i].threshold != alpha) {
                    return Err(Error::invalid(
                        "Benjamini–Hochberg correction",
                        format!(
                            "it needs one p-value threshold for all columns, but column `{}` \
                             has {} and column `{}` has {alpha}",
                            evals[i].name, evals[i].threshold, evals[p_cols[0]].name
                        ),
                    ));
                }
                // a NaN p-value (e.g. one category) is no evidence of drift
                let ps: Vec<f64> = p_cols
                    .iter()
                    .map(|&i| {
                        let p = evals[i].score;
                        if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) }
                    })
                    .collect();
                let res = correct(&ps, alpha, Correction::BenjaminiHochberg)?;
                for (k, &i) in p_cols.iter().enumerate() {
                    thresholds[i] = res.threshold;
                    drift[i] = res.rejected[k];
                }
            }
            Correction::BenjaminiHochberg => {}
        }
        let n = evals.len();
        let columns: Vec<ColumnDrift> = evals
            .into_iter()
            .zip(thresholds.into_iter().zip(drift))
            .map(|(e, (threshold, drift))| ColumnDrift {
                name: e.name,
                kind: kind_name(e.kind).to_string(),
                n_reference: e.n_reference,
                n_current: e.n_current,
                missing_reference: e.missing_reference,
                missing_current: e.missing_current,
                method: e.method.name().to_string(),
                statistic: e.outcome.statistic,
                p_value: e.outcome.p_value,
                threshold,
                drift,
                tests: e.tests,
            })
            .collect();
        let drifted = columns.iter().filter(|c| c.drift).count();
        let share = drifted as f64 / n as f64;
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
            .map_err(|e| Error::task("drift detection", e))?
    }

    /// Runs [`detect_against_profile`](StatisticalDriftDetector::detect_against_profile)
    /// with the [profile methods](StatisticalDriftConfig::profile_methods)
    /// ([`StatisticalDriftDetector::for_profiles`]).
    async fn detect_from_profile(
        &self,
        reference: &DatasetProfile,
        current: &Dataset,
    ) -> Result<DriftReport> {
        let (this, r, c) = (self.for_profiles(), reference.clone(), current.clone());
        tokio::task::spawn_blocking(move || this.detect_against_profile(&r, &c))
            .await
            .map_err(|e| Error::task("drift detection", e))?
    }
}
