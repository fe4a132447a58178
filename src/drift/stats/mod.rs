//! Two-sample statistical tests and distances used for drift detection (pure functions, no I/O).
//!
//! Every function is synchronous, works on slices / sorted samples, and reproduces the
//! numbers of the reference tools (scipy 1.17, Evidently 0.7, NannyML 0.13) to within
//! `1e-9` relative (`1e-12` absolute near 0). Columns-in-parallel is left to the caller.
//!
//! # Inputs
//! * Numeric data: build a [`SortedSample`] once per column (drops NaN / ±inf and reports
//!   how many, sorts once); every numeric method takes `&SortedSample`.
//! * Categorical data: [`AlignedCounts`] — reference and current counts over the union of
//!   categories, ordered by category key (from label→count maps, integer codes, numeric
//!   values or [`CategoricalSummary`]s).
//! * Stored summaries: [`NumericSummary`] / [`CategoricalSummary`] merge exactly and give
//!   the binned methods (and chi-square) without raw data.
//!
//! # Methods
//! | function | reference |
//! |---|---|
//! | [`ks`] | scipy `ks_2samp(method="auto")` |
//! | [`wasserstein`], [`wasserstein_normed`] | scipy `wasserstein_distance`; Evidently `wasserstein` |
//! | [`energy_distance`] | scipy / Evidently `ed` (method `energy_distance`) |
//! | [`cramer_von_mises`] | scipy `cramervonmises_2samp` (Evidently's copy) |
//! | [`anderson_ksamp`] | scipy `anderson_ksamp` (p capped to [0.001, 0.25]) |
//! | [`mann_whitney_u`] | scipy `mannwhitneyu` (Evidently: `Alternative::Less`) |
//! | [`t_test`] | scipy `ttest_ind(equal_var=True)` |
//! | [`empirical_mmd`] | Evidently `empirical_mmd` (seeded permutations) |
//! | [`chisquare`], [`z_test`] | Evidently `chisquare`, `z` |
//! | [`chi2_contingency`] | scipy `chi2_contingency` on the 2×K table (alibi-detect) |
//! | [`tvd`], [`l_infinity`] | Evidently `TVD` statistic (method `tvd`), NannyML `l_infinity` |
//! | [`psi`], [`kl_div`], [`jensenshannon`], [`hellinger`] | Evidently or NannyML per [`Binning`] |
//! | [`select_method`], [`evaluate`] | Evidently's default method selection and decisions |
//! | [`correct`] | alibi-detect's Bonferroni / FDR corrections |

mod binning;
mod bucketed;
mod categorical;
mod distance;
mod kolmogorov;
mod ks;
mod mmd;
mod numeric;
mod rank;
mod sample;
mod select;
mod summary;

pub use binning::{
    BinnedShares, Binning, hellinger, hellinger_evidently_numeric, jensenshannon, kl_div, psi,
};
pub(crate) use bucketed::{BucketedPair, bucketed_pair};
pub use categorical::{
    AlignedCounts, ContingencyResult, chi2_contingency, chisquare, l_infinity, tvd,
    tvd_permutation, z_test,
};
pub use distance::{energy_distance, wasserstein, wasserstein_normed};
pub use kolmogorov::{kolmogorov_sf, smirnov_sf};
pub use ks::{
    KS_MAX_EXACT_N, KsMethod, KsResult, ks, ks_from_statistic, ks_statistic,
    ks_statistic_and_wasserstein,
};
pub use mmd::{MMD_MAX_POOLED, empirical_mmd, mmd_sigma};
pub use summary::{
    CategoricalSummary, DEFAULT_SKETCH_ALPHA, NumericSummary, QuantileSketch,
    binned_from_categorical_summaries, binned_from_summaries,
};

pub use rank::{
    Alternative, AndersonResult, TestResult, anderson_ksamp, cramer_von_mises, mann_whitney_u,
    t_test,
};
pub use sample::{Distinct, DroppedCounts, SortedSample, distinct_union_count};
pub use select::{
    ColumnKind, ColumnPair, Correction, CorrectionResult, DriftDirection, DriftScore, EvalOptions,
    Method, correct, evaluate, select_method,
};
