//! Categorical tests on aligned category counts.
//!
//! Categorical inputs are [`AlignedCounts`]: two count vectors over the same categories,
//! ordered by ascending category key (the union of the categories seen on either side; a
//! category absent from both sides is never stored). Build them from label→count maps
//! ([`AlignedCounts::from_maps`]), integer category codes ([`AlignedCounts::from_codes`]),
//! numeric values treated as categories ([`AlignedCounts::from_samples`]) or two
//! [`CategoricalSummary`](super::CategoricalSummary)s.

use std::collections::BTreeMap;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::numeric::{chi2_sf, ndtr, numpy_sum};
use super::rank::TestResult;
use super::sample::{SortedSample, merge_distinct};
use crate::{Error, Result};

/// Reference and current counts over the same ordered categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignedCounts {
    reference: Vec<u64>,
    current: Vec<u64>,
}

impl AlignedCounts {
    /// From two aligned count vectors (index = category, ascending key order).
    /// Categories with zero count on both sides are removed; both totals must be > 0.
    pub fn new(reference: Vec<u64>, current: Vec<u64>) -> Result<Self> {
        if reference.len() != current.len() {
            return Err(Error::invalid(
                "category counts",
                format!(
                    "reference has {} categories but current has {}",
                    reference.len(),
                    current.len()
                ),
            ));
        }
        let (reference, current): (Vec<u64>, Vec<u64>) = reference
            .into_iter()
            .zip(current)
            .filter(|(r, c)| *r > 0 || *c > 0)
            .unzip();
        let out = AlignedCounts { reference, current };
        if out.n_reference() == 0 {
            return Err(Error::Data("reference column is empty".into()));
        }
        if out.n_current() == 0 {
            return Err(Error::Data("current column is empty".into()));
        }
        Ok(out)
    }

    /// From label → count maps; categories are ordered by key.
    pub fn from_maps<K: Ord + Clone>(
        reference: &BTreeMap<K, u64>,
        current: &BTreeMap<K, u64>,
    ) -> Result<(Vec<K>, Self)> {
        let mut keys: Vec<K> = reference.keys().chain(current.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        let r = keys
            .iter()
            .map(|k| reference.get(k).copied().unwrap_or(0))
            .collect();
        let c = keys
            .iter()
            .map(|k| current.get(k).copied().unwrap_or(0))
            .collect();
        let out = Self::new(r, c)?;
        let keys = keys
            .into_iter()
            .filter(|k| {
                reference.get(k).copied().unwrap_or(0) > 0
                    || current.get(k).copied().unwrap_or(0) > 0
            })
            .collect();
        Ok((keys, out))
    }

    /// From integer category codes (any code values; ordered by code).
    pub fn from_codes(reference: &[u32], current: &[u32]) -> Result<Self> {
        let count = |v: &[u32]| {
            let mut m = BTreeMap::new();
            for &c in v {
                *m.entry(c).or_insert(0u64) += 1;
            }
            m
        };
        Ok(Self::from_maps(&count(reference), &count(current))?.1)
    }

    /// Treat the distinct values of two numeric samples as categories (ascending value).
    /// Returns the category values with the counts.
    pub fn from_samples(
        reference: &SortedSample,
        current: &SortedSample,
    ) -> Result<(Vec<f64>, Self)> {
        let mut keys = Vec::new();
        let mut r = Vec::new();
        let mut c = Vec::new();
        for s in merge_distinct(reference.values(), current.values()) {
            keys.push(s.value);
            r.push(s.c1 as u64);
            c.push(s.c2 as u64);
        }
        Ok((keys, Self::new(r, c)?))
    }

    /// Reference counts per category.
    pub fn reference(&self) -> &[u64] {
        &self.reference
    }

    /// Current counts per category.
    pub fn current(&self) -> &[u64] {
        &self.current
    }

    /// Number of categories (the union of both sides).
    pub fn n_categories(&self) -> usize {
        self.reference.len()
    }

    /// Reference total.
    pub fn n_reference(&self) -> u64 {
        self.reference.iter().sum()
    }

    /// Current total.
    pub fn n_current(&self) -> u64 {
        self.current.iter().sum()
    }
}

/// Evidently's chi-square goodness-of-fit test:
/// `scipy.stats.chisquare(cur_counts, ref_counts · n_cur / n_ref)` with `K − 1` degrees of
/// freedom. A category absent from the reference gives an infinite statistic and p = 0.
/// With a single category the p-value is NaN (df = 0), as in scipy.
pub fn chisquare(counts: &AlignedCounts) -> Result<TestResult> {
    let n_ref = counts.n_reference() as f64;
    let n_cur = counts.n_current() as f64;
    let k_norm = n_cur / n_ref;
    let terms: Vec<f64> = counts
        .reference
        .iter()
        .zip(&counts.current)
        .map(|(&r, &c)| {
            let exp = r as f64 * k_norm;
            let d = c as f64 - exp;
            d * d / exp
        })
        .collect();
    let stat = numpy_sum(&terms);
    let df = counts.n_categories() as f64 - 1.0;
    let p = if df > 0.0 {
        chi2_sf(stat, df)
    } else {
        f64::NAN
    };
    Ok(TestResult {
        statistic: stat,
        p_value: p,
    })
}

/// Result of [`chi2_contingency`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContingencyResult {
    /// Pearson's statistic (Yates-corrected when there are 2 categories).
    pub statistic: f64,
    /// p-value.
    pub p_value: f64,
    /// Degrees of freedom `K − 1`.
    pub dof: usize,
}

/// Chi-square test of independence on the 2×K table (reference row, current row), as
/// scipy's `chi2_contingency` (used by alibi-detect's `ChiSquareDrift`): expected counts
/// from the margins, Yates' continuity correction when `K = 2`, and `dof = 0` giving
/// statistic 0 and p = 1.
pub fn chi2_contingency(counts: &AlignedCounts) -> Result<ContingencyResult> {
    let k = counts.n_categories();
    let dof = k.saturating_sub(1);
    if dof == 0 {
        return Ok(ContingencyResult {
            statistic: 0.0,
            p_value: 1.0,
            dof,
        });
    }
    let rows = [&counts.reference, &counts.current];
    let row_sums = [counts.n_reference() as f64, counts.n_current() as f64];
    let total = row_sums[0] + row_sums[1];
    let mut terms = Vec::with_capacity(2 * k);
    for (ri, row) in rows.iter().enumerate() {
        for j in 0..k {
            let col = (counts.reference[j] + counts.current[j]) as f64;
            let exp = row_sums[ri] * col / total;
            let mut obs = row[j] as f64;
            if dof == 1 {
                let diff = exp - obs;
                let mag = diff.abs().min(0.5);
                let dir = if diff > 0.0 {
                    1.0
                } else if diff < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                obs += mag * dir;
            }
            let d = obs - exp;
            terms.push(d * d / exp);
        }
    }
    let stat = numpy_sum(&terms);
    Ok(ContingencyResult {
        statistic: stat,
        p_value: chi2_sf(stat, dof as f64),
        dof,
    })
}

/// Evidently's two-proportion z-test on `1[x ≠ smallest category]` (meant for binary
/// data; with more categories all but the first are pooled, as Evidently does).
///
/// When both samples hold the same single category the p-value is 1. The p-value is
/// `2·(1 − Φ(|z|))`, computed in that form.
pub fn z_test(counts: &AlignedCounts) -> Result<TestResult> {
    let k = counts.n_categories();
    if k == 1 {
        return Ok(TestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let n1 = counts.n_reference();
    let n2 = counts.n_current();
    let p1 = (n1 - counts.reference[0]) as f64 / n1 as f64;
    let p2 = (n2 - counts.current[0]) as f64 / n2 as f64;
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pp = (p1 * n1f + p2 * n2f) / (n1f + n2f);
    let z = (p1 - p2) / (pp * (1.0 - pp) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    let p = 2.0 * (1.0 - ndtr(z.abs()));
    Ok(TestResult {
        statistic: z,
        p_value: p,
    })
}

fn shares(counts: &[u64]) -> Vec<f64> {
    let n: u64 = counts.iter().sum();
    counts.iter().map(|&c| c as f64 / n as f64).collect()
}

/// Total variation distance `½ Σ |r_i − c_i|` between the category shares.
pub fn tvd(counts: &AlignedCounts) -> f64 {
    let r = shares(&counts.reference);
    let c = shares(&counts.current);
    let d: Vec<f64> = r.iter().zip(&c).map(|(a, b)| (a - b).abs()).collect();
    0.5 * numpy_sum(&d)
}

/// Permutation p-value for [`tvd`]: the share of `n_permutations` random relabellings of
/// the pooled sample whose TVD is at least the observed one. Deterministic for a given
/// `seed` (ChaCha8). Evidently's `TVD` uses NumPy's global generator instead, so its
/// p-values are only comparable in distribution, not number for number.
pub fn tvd_permutation(
    counts: &AlignedCounts,
    n_permutations: usize,
    seed: u64,
) -> Result<TestResult> {
    if n_permutations == 0 {
        return Err(Error::invalid("n_permutations", "must be at least 1"));
    }
    let observed = tvd(counts);
    let k = counts.n_categories();
    let mut pooled: Vec<u32> =
        Vec::with_capacity((counts.n_reference() + counts.n_current()) as usize);
    for j in 0..k {
        for _ in 0..(counts.reference[j] + counts.current[j]) {
            pooled.push(j as u32);
        }
    }
    let n_ref = counts.n_reference() as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hits = 0usize;
    let mut r = vec![0u64; k];
    let mut c = vec![0u64; k];
    for _ in 0..n_permutations {
        partial_shuffle(&mut pooled, n_ref, &mut rng);
        r.iter_mut().for_each(|x| *x = 0);
        c.iter_mut().for_each(|x| *x = 0);
        for (i, &cat) in pooled.iter().enumerate() {
            if i < n_ref {
                r[cat as usize] += 1;
            } else {
                c[cat as usize] += 1;
            }
        }
        let perm = AlignedCounts {
            reference: r.clone(),
            current: c.clone(),
        };
        if observed <= tvd(&perm) {
            hits += 1;
        }
    }
    Ok(TestResult {
        statistic: observed,
        p_value: hits as f64 / n_permutations as f64,
    })
}

/// Uniform index in `0..n` (Lemire's nearly-divisionless method), stable across versions.
pub(crate) fn uniform_index(rng: &mut impl RngCore, n: usize) -> usize {
    let n = n as u64;
    loop {
        let x = rng.next_u64();
        let m = (x as u128) * (n as u128);
        let l = m as u64;
        if l < n {
            let t = n.wrapping_neg() % n;
            if l < t {
                continue;
            }
        }
        return (m >> 64) as usize;
    }
}

/// Fisher–Yates: put a uniformly random subset of size `k` in front.
pub(crate) fn partial_shuffle<T>(v: &mut [T], k: usize, rng: &mut impl RngCore) {
    let n = v.len();
    for i in 0..k.min(n.saturating_sub(1)) {
        let j = i + uniform_index(rng, n - i);
        v.swap(i, j);
    }
}

/// L-infinity distance `max_i |r_i − c_i|` between the category shares (NannyML).
pub fn l_infinity(counts: &AlignedCounts) -> f64 {
    let r = shares(&counts.reference);
    let c = shares(&counts.current);
    r.iter()
        .zip(&c)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}
