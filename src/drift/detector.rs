//! [`StatisticalDriftDetector`]: the crate's default [`DriftDetector`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::DriftDetector;
use super::engine::{
    ColumnEval, ColumnInput, ColumnValues, Prepared, categorical_from_codes, evaluate_column,
    kind_name, prepare, prepare_categorical,
};
use super::profile::{ColumnSummary, DatasetProfile};
use super::report::{ColumnDrift, DriftReport};
use super::stats::{Binning, ColumnKind, Correction, Method, correct};
use crate::data::{Dataset, FeatureKind};
use crate::{Error, Result};

/// Which methods run on each column, and which one decides it.
///
/// Parsed from (and displayed as) the command-line form: `auto`, `all`, or a
/// comma-separated list of Evidently method names, optionally starting with `auto`
/// (`auto,psi,jensenshannon`: decide by the automatic selection, also report PSI and JS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MethodSelection {
    /// Evidently's automatic selection: one method per column (see
    /// [`stats::select_method`](super::stats::select_method)).
    Auto,
    /// Every method that applies to the column's kind, except the permutation-based
    /// `empirical_mmd` (quadratic) and `TVD` (1000 permutations), which must be listed
    /// explicitly; the automatic selection decides.
    All,
    /// The listed methods, each on the columns whose kind it applies to. The first listed
    /// method that applies to a column decides it — or the automatic selection when
    /// `auto` is set or no listed method applies.
    List {
        /// Decide by the automatic selection.
        auto: bool,
        /// The methods to compute, in report order.
        methods: Vec<Method>,
    },
}

impl MethodSelection {
    /// A list of methods, the first applicable one deciding.
    pub fn list(methods: impl IntoIterator<Item = Method>) -> Self {
        MethodSelection::List {
            auto: false,
            methods: methods.into_iter().collect(),
        }
    }
}

impl FromStr for MethodSelection {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        match parts.as_slice() {
            [] => Err(Error::invalid("drift methods", "the method list is empty")),
            ["auto"] => Ok(MethodSelection::Auto),
            ["all"] => Ok(MethodSelection::All),
            _ => {
                let mut auto = false;
                let mut methods = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    if *p == "auto" && i == 0 {
                        auto = true;
                        continue;
                    }
                    let m = Method::from_name(p).map_err(|_| {
                        Error::invalid(
                            "drift method",
                            format!(
                                "unknown method `{p}`; use auto, all or a comma-separated list of {}",
                                Method::ALL.map(Method::name).join(", ")
                            ),
                        )
                    })?;
                    if !methods.contains(&m) {
                        methods.push(m);
                    }
                }
                Ok(MethodSelection::List { auto, methods })
            }
        }
    }
}

impl fmt::Display for MethodSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MethodSelection::Auto => f.write_str("auto"),
            MethodSelection::All => f.write_str("all"),
            MethodSelection::List { auto, methods } => {
                let mut names: Vec<&str> = Vec::new();
                if *auto {
                    names.push("auto");
                }
                names.extend(methods.iter().map(|m| m.name()));
                f.write_str(&names.join(","))
            }
        }
    }
}

impl TryFrom<String> for MethodSelection {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<MethodSelection> for String {
    fn from(m: MethodSelection) -> String {
        m.to_string()
    }
}

/// Settings of [`StatisticalDriftDetector`]. Build with struct update syntax from
/// [`Default`] (the monitoring default) or [`StatisticalDriftConfig::evidently`], and
/// validate with [`StatisticalDriftDetector::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticalDriftConfig {
    /// The methods computed on every column, and which one decides.
    pub methods: MethodSelection,
    /// A deciding method per column name (also computed); overrides `methods`' choice.
    #[serde(default)]
    pub column_methods: BTreeMap<String, Method>,
    /// Binning convention of PSI, KL, Jensen–Shannon and Hellinger.
    pub binning: Binning,
    /// Multiple-testing correction over the columns decided by a p-value.
    pub correction: Correction,
    /// Threshold of every p-value method; `None`: each method's default (0.05 for `ks`,
    /// `chisquare`, `z`, `mannw`, `t_test`; 0.1 for the others, as Evidently).
    pub p_value: Option<f64>,
    /// Threshold of every distance method; `None`: each method's default (0.1).
    pub distance: Option<f64>,
    /// Threshold per column name (for the column's deciding method); overrides the above.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// The dataset drifts when at least this share of columns drift (in `(0, 1]`).
    pub drift_share: f64,
    /// Seed of the permutation-based methods (`empirical_mmd`, `TVD`).
    #[serde(default)]
    pub seed: u64,
    /// The methods of a comparison against a stored reference profile instead of raw
    /// reference data ([`DriftDetector::detect_from_profile`], which the lifecycle uses
    /// after a restart). Only methods that run on counts and reference-fixed histograms
    /// qualify: `psi`, `kl_div`, `jensenshannon`, `hellinger` on any column, `chisquare`,
    /// `z`, `tvd`, `l_infinity` on categorical ones. The default,
    /// [`StatisticalDriftConfig::default_profile_methods`], is `chisquare,jensenshannon,psi`:
    /// categorical columns are decided by the chi-square test exactly as on raw data,
    /// numeric columns by the Jensen–Shannon distance (base 2, reference-fixed bins) at
    /// NannyML's threshold 0.1 — the KS test of the raw path needs the reference values.
    /// The other settings (thresholds, correction, drift share) apply as on raw data; the
    /// binning is always [`Binning::Reference`].
    #[serde(default = "StatisticalDriftConfig::default_profile_methods")]
    pub profile_methods: MethodSelection,
}

impl Default for StatisticalDriftConfig {
    /// The monitoring default: `ks` decides numeric columns and `chisquare` categorical
    /// ones (p < 0.05), `wasserstein`, `psi` and `jensenshannon` are reported too, with
    /// reference-fixed bins; no correction; dataset drift at half the columns. See the
    /// [module docs](super#the-default-for-the-lifecycle) for why not `auto`.
    fn default() -> Self {
        StatisticalDriftConfig {
            methods: MethodSelection::list([
                Method::Ks,
                Method::ChiSquare,
                Method::Wasserstein,
                Method::Psi,
                Method::JensenShannon,
            ]),
            column_methods: BTreeMap::new(),
            binning: Binning::Reference,
            correction: Correction::None,
            p_value: None,
            distance: None,
            thresholds: BTreeMap::new(),
            drift_share: 0.5,
            seed: 0,
            profile_methods: StatisticalDriftConfig::default_profile_methods(),
        }
    }
}

impl StatisticalDriftConfig {
    /// The default [`profile_methods`](Self::profile_methods): `chisquare` decides
    /// categorical columns (p < 0.05), `jensenshannon` numeric ones (distance ≥ 0.1), `psi`
    /// is reported too.
    pub fn default_profile_methods() -> MethodSelection {
        MethodSelection::list([Method::ChiSquare, Method::JensenShannon, Method::Psi])
    }

    /// Evidently's defaults: `auto` selection, Evidently binning, no correction,
    /// `drift_share` 0.5.
    pub fn evidently() -> Self {
        StatisticalDriftConfig {
            methods: MethodSelection::Auto,
            binning: Binning::Evidently,
            ..StatisticalDriftConfig::default()
        }
    }

    /// The threshold applied to `method` on `column` (before any correction).
    pub fn threshold_for(&self, column: &str, method: Method) -> f64 {
        if let Some(&t) = self.thresholds.get(column) {
            return t;
        }
        let global = if method.direction().is_p_value() {
            self.p_value
        } else {
            self.distance
        };
        global.unwrap_or(method.default_threshold())
    }

    fn check(&self) -> Result<()> {
        let p_ok = |t: f64| t > 0.0 && t < 1.0;
        if let Some(p) = self.p_value
            && !p_ok(p)
        {
            return Err(Error::invalid(
                "p-value threshold",
                format!("{p} must be in (0, 1)"),
            ));
        }
        if let Some(d) = self.distance
            && !(d.is_finite() && d >= 0.0)
        {
            return Err(Error::invalid(
                "distance threshold",
                format!("{d} must be finite and non-negative"),
            ));
        }
        for (c, &t) in &self.thresholds {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::invalid(
                    format!("threshold of column `{c}`"),
                    format!("{t} must be finite and non-negative"),
                ));
            }
        }
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            return Err(Error::invalid(
                "drift share",
                format!("{} must be in (0, 1]", self.drift_share),
            ));
        }
        if let MethodSelection::List {
            auto: false,
            methods,
        } = &self.methods
            && methods.is_empty()
        {
            return Err(Error::invalid("drift methods", "the method list is empty"));
        }
        if let MethodSelection::List { auto, methods } = &self.profile_methods {
            if !auto && methods.is_empty() {
                return Err(Error::invalid(
                    "profile drift methods",
                    "the method list is empty",
                ));
            }
            if let Some(m) = methods.iter().find(|m| !runs_on_profiles(**m)) {
                return Err(Error::invalid(
                    "profile drift methods",
                    format!(
                        "`{}` needs the raw reference values; against a stored profile use \
                         psi, kl_div, jensenshannon, hellinger, chisquare, z, tvd or l_infinity",
                        m.name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `method` can run from profiles on every column kind it applies to.
fn runs_on_profiles(method: Method) -> bool {
    !method.supports(ColumnKind::Numerical)
        || matches!(
            method,
            Method::Psi | Method::KlDiv | Method::JensenShannon | Method::Hellinger
        )
}

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
                        Prepared::NumericProfiles {
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
            .map_err(|e| Error::Numerical(format!("drift task failed: {e}")))?
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
            .map_err(|e| Error::Numerical(format!("drift task failed: {e}")))?
    }
}
