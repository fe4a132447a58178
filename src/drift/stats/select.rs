//! Method catalogue, Evidently's automatic method selection, drift decisions, and
//! multiple-testing corrections.

use serde::{Deserialize, Serialize};

use super::binning::{BinnedShares, Binning, hellinger_evidently_numeric};
use super::categorical::{
    AlignedCounts, chi2_contingency, chisquare, l_infinity, tvd_permutation, z_test,
};
use super::distance::{energy_distance, wasserstein_normed};
use super::ks::ks;
use super::mmd::empirical_mmd;
use super::rank::{Alternative, anderson_ksamp, cramer_von_mises, mann_whitney_u, t_test};
use super::sample::SortedSample;
use crate::{Error, Result};

/// The kind of a column: which drift methods apply, and the `kind` of a
/// [`ColumnDrift`](crate::drift::ColumnDrift) (serialised as `numeric` / `categorical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numeric values.
    #[serde(alias = "Numerical")]
    Numeric,
    /// Category labels / codes.
    #[serde(alias = "Categorical")]
    Categorical,
}

impl ColumnKind {
    /// `numeric` or `categorical`.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        }
    }
}

impl std::fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a method's score is compared with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DriftDirection {
    /// Drift when the p-value is `≤` the threshold.
    PValueAtMost,
    /// Drift when the p-value is `<` the threshold.
    PValueBelow,
    /// Drift when the distance is `≥` the threshold.
    DistanceAtLeast,
    /// Drift when the distance is `>` the threshold.
    DistanceAbove,
}

impl DriftDirection {
    /// Apply the comparison. NaN scores never signal drift.
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        match self {
            DriftDirection::PValueAtMost => score <= threshold,
            DriftDirection::PValueBelow => score < threshold,
            DriftDirection::DistanceAtLeast => score >= threshold,
            DriftDirection::DistanceAbove => score > threshold,
        }
    }

    /// True for p-value based directions.
    pub fn is_p_value(self) -> bool {
        matches!(
            self,
            DriftDirection::PValueAtMost | DriftDirection::PValueBelow
        )
    }
}

/// The drift methods, named and parameterised like Evidently's stat tests (plus NannyML's
/// L-infinity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    /// `ks`: two-sample Kolmogorov–Smirnov p-value.
    Ks,
    /// `chisquare`: Evidently's chi-square goodness-of-fit p-value.
    ChiSquare,
    /// `z`: two-proportion z-test p-value.
    Z,
    /// `wasserstein`: W1 normed by the reference's population std.
    Wasserstein,
    /// `psi`: population stability index.
    Psi,
    /// `kl_div`: Kullback–Leibler divergence.
    KlDiv,
    /// `jensenshannon`: Jensen–Shannon distance.
    JensenShannon,
    /// `hellinger`: Hellinger distance.
    Hellinger,
    /// `anderson`: Anderson–Darling k-sample p-value (capped).
    Anderson,
    /// `cramer_von_mises`: two-sample Cramér–von Mises p-value.
    CramerVonMises,
    /// `mannw`: Mann–Whitney U p-value (`alternative = less`).
    MannWhitney,
    /// `t_test`: Student t-test p-value.
    TTest,
    /// `empirical_mmd`: permutation p-value of the RBF MMD.
    EmpiricalMmd,
    /// `energy_distance` (Evidently alias `ed`): energy distance.
    EnergyDistance,
    /// `tvd` (Evidently alias `TVD`): the total variation distance as the statistic, decided
    /// by its permutation p-value.
    Tvd,
    /// `l_infinity`: NannyML's L-infinity distance of category shares.
    LInfinity,
    /// `chi2_contingency`: scipy's chi-square test of independence on the 2×K table
    /// (reference vs current counts), Yates-corrected exactly when scipy does (K = 2).
    Chi2Contingency,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 17] = [
        Method::Ks,
        Method::ChiSquare,
        Method::Z,
        Method::Wasserstein,
        Method::Psi,
        Method::KlDiv,
        Method::JensenShannon,
        Method::Hellinger,
        Method::Anderson,
        Method::CramerVonMises,
        Method::MannWhitney,
        Method::TTest,
        Method::EmpiricalMmd,
        Method::EnergyDistance,
        Method::Tvd,
        Method::LInfinity,
        Method::Chi2Contingency,
    ];

    /// The method's name (the contract name: the key of its outcome in reports).
    pub fn name(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::ChiSquare => "chisquare",
            Method::Z => "z",
            Method::Wasserstein => "wasserstein",
            Method::Psi => "psi",
            Method::KlDiv => "kl_div",
            Method::JensenShannon => "jensenshannon",
            Method::Hellinger => "hellinger",
            Method::Anderson => "anderson",
            Method::CramerVonMises => "cramer_von_mises",
            Method::MannWhitney => "mannw",
            Method::TTest => "t_test",
            Method::EmpiricalMmd => "empirical_mmd",
            Method::EnergyDistance => "energy_distance",
            Method::Tvd => "tvd",
            Method::LInfinity => "l_infinity",
            Method::Chi2Contingency => "chi2_contingency",
        }
    }

    /// Other accepted spellings of the method's name (Evidently's `ed` and `TVD`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Method::EnergyDistance => &["ed"],
            Method::Tvd => &["TVD"],
            _ => &[],
        }
    }

    /// Look a method up by its name or one of its [`aliases`](Self::aliases).
    pub fn from_name(name: &str) -> Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == name || m.aliases().contains(&name))
            .ok_or_else(|| Error::invalid("drift method", format!("unknown method `{name}`")))
    }

    /// Default threshold (Evidently's; 0.1 for L-infinity, which has none there).
    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Ks
            | Method::ChiSquare
            | Method::Z
            | Method::MannWhitney
            | Method::TTest
            | Method::Chi2Contingency => 0.05,
            _ => 0.1,
        }
    }

    /// How the score is compared with the threshold.
    pub fn direction(self) -> DriftDirection {
        match self {
            Method::Ks | Method::CramerVonMises => DriftDirection::PValueAtMost,
            Method::ChiSquare
            | Method::Z
            | Method::Anderson
            | Method::MannWhitney
            | Method::TTest
            | Method::EmpiricalMmd
            | Method::Tvd
            | Method::Chi2Contingency => DriftDirection::PValueBelow,
            Method::EnergyDistance => DriftDirection::DistanceAbove,
            Method::Wasserstein
            | Method::Psi
            | Method::KlDiv
            | Method::JensenShannon
            | Method::Hellinger
            | Method::LInfinity => DriftDirection::DistanceAtLeast,
        }
    }

    /// Whether the method accepts a column of this kind.
    pub fn supports(self, kind: ColumnKind) -> bool {
        match self {
            Method::Psi | Method::KlDiv | Method::JensenShannon | Method::Hellinger => true,
            Method::ChiSquare
            | Method::Z
            | Method::Tvd
            | Method::LInfinity
            | Method::Chi2Contingency => kind == ColumnKind::Categorical,
            _ => kind == ColumnKind::Numeric,
        }
    }
}

/// Evidently's default method for a column, from the (cleaned) reference size, the column
/// kind and the number of distinct values of ref ∪ cur:
///
/// * reference ≤ 1000 rows — numerical: `ks` if `n_unique > 5`, `chisquare` if 3–5, `z` if
///   ≤ 2; categorical: `chisquare` if `n_unique > 2`, else `z`;
/// * reference > 1000 rows — numerical: `wasserstein` if `n_unique > 5`, else
///   `jensenshannon`; categorical: `jensenshannon`.
pub fn select_method(kind: ColumnKind, reference_len: usize, n_unique: usize) -> Method {
    if reference_len <= 1000 {
        match kind {
            ColumnKind::Numeric if n_unique > 5 => Method::Ks,
            _ if n_unique > 2 => Method::ChiSquare,
            _ => Method::Z,
        }
    } else {
        match kind {
            ColumnKind::Numeric if n_unique > 5 => Method::Wasserstein,
            _ => Method::JensenShannon,
        }
    }
}

/// A reference/current column pair.
#[derive(Debug, Clone, Copy)]
pub enum ColumnPair<'a> {
    /// Two numeric samples.
    Numerical {
        /// Reference sample.
        reference: &'a SortedSample,
        /// Current sample.
        current: &'a SortedSample,
    },
    /// Aligned category counts.
    Categorical(&'a AlignedCounts),
}

impl ColumnPair<'_> {
    /// The column kind.
    pub fn kind(&self) -> ColumnKind {
        match self {
            ColumnPair::Numerical { .. } => ColumnKind::Numeric,
            ColumnPair::Categorical(_) => ColumnKind::Categorical,
        }
    }

    /// Reference size and the number of distinct values of ref ∪ cur.
    pub fn sizes(&self) -> (usize, usize) {
        match self {
            ColumnPair::Numerical { reference, current } => (
                reference.len(),
                super::sample::merge_distinct(reference.values(), current.values()).count(),
            ),
            ColumnPair::Categorical(c) => (c.n_reference() as usize, c.n_categories()),
        }
    }
}

/// Options of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Threshold; the method's default when `None`.
    pub threshold: Option<f64>,
    /// Binning convention for PSI / KL / JS / Hellinger.
    pub binning: Binning,
    /// Seed of permutation-based p-values (MMD, TVD).
    pub seed: u64,
    /// Permutations for MMD (Evidently: 100) and TVD (Evidently: 1000).
    pub n_permutations: Option<usize>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            threshold: None,
            binning: Binning::Evidently,
            seed: 0,
            n_permutations: None,
        }
    }
}

/// The outcome of one method on one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftScore {
    /// The method that ran.
    pub method: Method,
    /// Its score (a p-value or a distance, see [`Method::direction`]).
    pub score: f64,
    /// The threshold applied.
    pub threshold: f64,
    /// Whether drift was detected.
    pub drift: bool,
}

/// Run `method` (or Evidently's default when `None`) on a column pair and decide drift.
///
/// Numeric columns may use categorical methods (`chisquare`, `z`, ...): their distinct
/// values become the categories, as Evidently does for low-cardinality numeric columns.
/// A categorical column with a numeric-only method is an error.
pub fn evaluate(
    method: Option<Method>,
    pair: ColumnPair<'_>,
    opts: &EvalOptions,
) -> Result<DriftScore> {
    let kind = pair.kind();
    let method = match method {
        Some(m) => m,
        None => {
            let (n_ref, n_unique) = pair.sizes();
            select_method(kind, n_ref, n_unique)
        }
    };
    let categorical_ok = matches!(
        method,
        Method::ChiSquare | Method::Z | Method::Tvd | Method::LInfinity | Method::Chi2Contingency
    );
    if !(method.supports(kind) || (kind == ColumnKind::Numeric && categorical_ok)) {
        return Err(Error::invalid(
            "drift method",
            format!("`{}` does not apply to a {kind:?} column", method.name()),
        ));
    }
    let score = match pair {
        ColumnPair::Numerical { reference, current } => {
            if categorical_ok {
                let (_, counts) = AlignedCounts::from_samples(reference, current)?;
                categorical_score(method, &counts, opts)?
            } else {
                numeric_score(method, reference, current, opts)?
            }
        }
        ColumnPair::Categorical(counts) => categorical_score(method, counts, opts)?,
    };
    let threshold = opts.threshold.unwrap_or(method.default_threshold());
    Ok(DriftScore {
        method,
        score,
        threshold,
        drift: method.direction().is_drift(score, threshold),
    })
}

fn numeric_score(
    method: Method,
    r: &SortedSample,
    c: &SortedSample,
    opts: &EvalOptions,
) -> Result<f64> {
    Ok(match method {
        Method::Ks => ks(r, c)?.p_value,
        Method::Wasserstein => wasserstein_normed(r, c)?,
        Method::Psi => BinnedShares::numeric(r, c, opts.binning)?.psi(),
        Method::KlDiv => BinnedShares::numeric(r, c, opts.binning)?.kl_div(),
        Method::JensenShannon => BinnedShares::numeric(r, c, opts.binning)?.jensenshannon(),
        Method::Hellinger => match opts.binning {
            Binning::Evidently => hellinger_evidently_numeric(r, c)?,
            Binning::Reference => BinnedShares::numeric(r, c, opts.binning)?.hellinger(),
        },
        Method::Anderson => anderson_ksamp(r, c)?.p_value,
        Method::CramerVonMises => cramer_von_mises(r, c)?.p_value,
        Method::MannWhitney => mann_whitney_u(r, c, Alternative::Less)?.p_value,
        Method::TTest => t_test(r, c)?.p_value,
        Method::EmpiricalMmd => {
            empirical_mmd(r, c, opts.n_permutations.unwrap_or(100), opts.seed)?.p_value
        }
        Method::EnergyDistance => energy_distance(r, c)?,
        Method::ChiSquare
        | Method::Z
        | Method::Tvd
        | Method::LInfinity
        | Method::Chi2Contingency => {
            return Err(Error::invalid(
                "drift method",
                "categorical method on numeric data",
            ));
        }
    })
}

fn categorical_score(method: Method, counts: &AlignedCounts, opts: &EvalOptions) -> Result<f64> {
    Ok(match method {
        Method::ChiSquare => chisquare(counts)?.p_value,
        Method::Z => z_test(counts)?.p_value,
        Method::Tvd => {
            tvd_permutation(counts, opts.n_permutations.unwrap_or(1000), opts.seed)?.p_value
        }
        Method::LInfinity => l_infinity(counts),
        Method::Chi2Contingency => chi2_contingency(counts)?.p_value,
        Method::Psi => BinnedShares::categorical(counts, opts.binning)?.psi(),
        Method::KlDiv => BinnedShares::categorical(counts, opts.binning)?.kl_div(),
        Method::JensenShannon => BinnedShares::categorical(counts, opts.binning)?.jensenshannon(),
        Method::Hellinger => BinnedShares::categorical(counts, opts.binning)?.hellinger(),
        other => {
            return Err(Error::invalid(
                "drift method",
                format!("`{}` does not apply to a categorical column", other.name()),
            ));
        }
    })
}

/// Multiple-testing correction over per-feature p-values (alibi-detect semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Correction {
    /// Each feature at level `alpha`.
    None,
    /// Bonferroni: level `alpha / F`.
    Bonferroni,
    /// Benjamini–Hochberg false discovery rate (alibi-detect's `fdr`).
    BenjaminiHochberg,
}

/// Result of [`correct`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrectionResult {
    /// Whether the batch as a whole drifted (some p-value below the threshold).
    pub drift: bool,
    /// The threshold p-values are compared against (`p < threshold`).
    pub threshold: f64,
    /// Per-feature rejections (`p < threshold`), in input order.
    pub rejected: Vec<bool>,
}

/// Apply a multiple-testing correction to per-feature p-values.
///
/// * `None`: threshold `alpha`.
/// * `Bonferroni`: threshold `alpha / F`.
/// * `BenjaminiHochberg`: with sorted p-values `p_(i)`, the largest `i` with
///   `p_(i) < alpha·i/F` sets the threshold `alpha·i/F`; if there is none, no drift and the
///   threshold `alpha/F` is reported (as alibi-detect's `fdr`).
///
/// Errors on an empty list, NaN / out-of-range p-values or `alpha ∉ (0, 1]`.
pub fn correct(p_values: &[f64], alpha: f64, correction: Correction) -> Result<CorrectionResult> {
    if p_values.is_empty() {
        return Err(Error::invalid("p-values", "no p-values to correct"));
    }
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(Error::invalid("alpha", format!("{alpha} is not in (0, 1]")));
    }
    if let Some(p) = p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(Error::invalid("p-value", format!("{p} is not in [0, 1]")));
    }
    let f = p_values.len() as f64;
    let threshold = match correction {
        Correction::None => alpha,
        Correction::Bonferroni => alpha / f,
        Correction::BenjaminiHochberg => {
            let mut sorted = p_values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let mut thr = None;
            for (i, p) in sorted.iter().enumerate() {
                let q = alpha * (i + 1) as f64 / f;
                if *p < q {
                    thr = Some(q);
                }
            }
            match thr {
                Some(t) => t,
                None => {
                    return Ok(CorrectionResult {
                        drift: false,
                        threshold: alpha / f,
                        rejected: vec![false; p_values.len()],
                    });
                }
            }
        }
    };
    let rejected: Vec<bool> = p_values.iter().map(|&p| p < threshold).collect();
    Ok(CorrectionResult {
        drift: rejected.iter().any(|&r| r),
        threshold,
        rejected,
    })
}
