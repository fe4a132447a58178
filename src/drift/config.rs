//! The settings of the statistical detector ([`StatisticalDriftConfig`], [`MethodSelection`]),
//! shared by the column engine and the detector (neither imports the other for them).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::stats::{Binning, ColumnKind, Correction, Method};
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
    /// Every method that applies to the column's kind (`energy_distance`, `tvd` and
    /// `chi2_contingency` included), except the permutation-based `empirical_mmd`
    /// (quadratic), which must be listed explicitly; the automatic selection decides.
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

/// Settings of [`StatisticalDriftDetector`](super::StatisticalDriftDetector). Build with struct update syntax from
/// [`Default`] (the monitoring default) or [`StatisticalDriftConfig::evidently`], and
/// validate with [`StatisticalDriftDetector::new`](super::StatisticalDriftDetector::new).
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
    /// Seed of the permutation-based methods (`empirical_mmd`, `tvd`).
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

    pub(crate) fn check(&self) -> Result<()> {
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
pub(crate) fn runs_on_profiles(method: Method) -> bool {
    !method.supports(ColumnKind::Numeric)
        || matches!(
            method,
            Method::Psi | Method::KlDiv | Method::JensenShannon | Method::Hellinger
        )
}
