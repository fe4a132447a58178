//! Two-sample Kolmogorov–Smirnov test (scipy `ks_2samp`, `method="auto"`, two-sided).

use serde::{Deserialize, Serialize};

use super::kolmogorov::{kolmogorov_sf, prob_outside_band, prob_outside_square};
use super::numeric::{gcd, round_half_even};
use super::sample::{SortedSample, merge_distinct};
use crate::Result;

/// Largest sample size for which `method="auto"` uses the exact null distribution.
pub const KS_MAX_EXACT_N: usize = 10_000;

/// Which null distribution produced a KS p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KsMethod {
    /// Exact two-sample law (lattice-path counting).
    Exact,
    /// `kstwo.sf(D, round(n·m/(n+m)))`: chosen for large samples, or a fallback when the
    /// exact computation left `[0, 1]` through rounding.
    Asymptotic,
}

/// Result of [`ks`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsResult {
    /// The statistic `D = sup |F_ref − F_cur|`. On the exact path it is `h / lcm(n1, n2)`
    /// with `h` the rounded lattice distance, exactly as scipy reports it.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The null distribution that was used.
    pub method: KsMethod,
}

/// The KS statistic `D` computed like scipy: the largest of `max(F1 − F2)` and
/// `clip(−min(F1 − F2), 0, 1)` over the pooled values, each ECDF value as `count / n`.
pub fn ks_statistic(reference: &SortedSample, current: &SortedSample) -> Result<f64> {
    reference.require(1, "ks")?;
    current.require(1, "ks")?;
    Ok(d_stat(reference.values(), current.values()))
}

fn d_stat(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut max_d = f64::NEG_INFINITY;
    let mut min_d = f64::INFINITY;
    for s in merge_distinct(a, b) {
        let c1 = (s.below1 + s.c1) as f64 / n1;
        let c2 = (s.below2 + s.c2) as f64 / n2;
        let d = c1 - c2;
        max_d = max_d.max(d);
        min_d = min_d.min(d);
    }
    let min_s = (-min_d).clamp(0.0, 1.0);
    if min_s > max_d { min_s } else { max_d }
}

/// Two-sided two-sample Kolmogorov–Smirnov test, reproducing scipy's
/// `ks_2samp(reference, current)` (`method="auto"`).
///
/// * `max(n1, n2) ≤ 10 000`: exact p-value. `D` is rounded to `h / lcm(n1, n2)`; equal sizes
///   use the alternating binomial series, unequal sizes the lattice-path recursion. If the
///   result is not within `[0, 1]` (possible only through rounding), scipy's fallback to the
///   asymptotic path is taken, with the rounded `D`.
/// * otherwise: `kstwo.sf(D, round(n1·n2/(n1+n2)))`, see [`kolmogorov_sf`].
///
/// Cost: one linear merge of the two sorted samples plus the p-value computation
/// (`O(n·window)` on the exact path for unequal sizes).
pub fn ks(reference: &SortedSample, current: &SortedSample) -> Result<KsResult> {
    reference.require(1, "ks")?;
    current.require(1, "ks")?;
    let d = d_stat(reference.values(), current.values());
    Ok(ks_from_statistic(d, reference.len(), current.len()))
}

/// The KS statistic `D` and the first Wasserstein distance `W1` in one merge of the two
/// sorted samples. Bit for bit the same numbers as [`ks_statistic`] and
/// [`wasserstein`](super::wasserstein) (same operations in the same order), for half the
/// memory traffic. Pass `D` to [`ks_from_statistic`] for the p-value.
pub fn ks_statistic_and_wasserstein(
    reference: &SortedSample,
    current: &SortedSample,
) -> Result<(f64, f64)> {
    reference.require(1, "ks")?;
    current.require(1, "ks")?;
    let (a, b) = (reference.values(), current.values());
    let (na, nb) = (a.len(), b.len());
    let (n1, n2) = (na as f64, nb as f64);
    let mut max_d = f64::NEG_INFINITY;
    let mut min_d = f64::INFINITY;
    // Neumaier sum, branch-free (both candidates computed, one selected: same result)
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    let (mut x0, mut diff) = (0.0f64, 0.0f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut first = true;
    while i < na || j < nb {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < na && a[i] == v {
            i += 1;
        }
        while j < nb && b[j] == v {
            j += 1;
        }
        // the same expressions as `merge_distinct` + `d_stat` / `cdf_integral`
        let c1 = i as f64 / n1;
        let c2 = j as f64 / n2;
        let d = c1 - c2;
        max_d = max_d.max(d);
        min_d = min_d.min(d);
        if !first {
            let x = diff * (v - x0);
            let t = sum + x;
            let big_sum = (sum - t) + x;
            let big_x = (x - t) + sum;
            comp += if sum.abs() >= x.abs() { big_sum } else { big_x };
            sum = t;
        }
        first = false;
        x0 = v;
        diff = d.abs();
    }
    let w1 = sum + comp;
    let min_s = (-min_d).clamp(0.0, 1.0);
    let d = if min_s > max_d { min_s } else { max_d };
    Ok((d, w1))
}

/// The two-sided KS p-value (and the statistic as scipy reports it) from `D` and the two
/// sample sizes (both ≥ 1), with [`ks`]'s choice of null distribution.
pub fn ks_from_statistic(d: f64, n1: usize, n2: usize) -> KsResult {
    let mut d = d;
    let (n1, n2) = (n1 as u64, n2 as u64);
    if (n1.max(n2) as usize) <= KS_MAX_EXACT_N {
        let g = gcd(n1, n2);
        let lcm = ((n1 / g) * n2) as f64;
        let h = round_half_even(d * lcm);
        d = h / lcm;
        if h == 0.0 {
            return KsResult {
                statistic: d,
                p_value: 1.0,
                method: KsMethod::Exact,
            };
        }
        let h = h as u64;
        let prob = if n1 == n2 {
            prob_outside_square(n1, h)
        } else {
            prob_outside_band(n1, n2, g, h)
        };
        if (0.0..=1.0).contains(&prob) {
            return KsResult {
                statistic: d,
                p_value: prob,
                method: KsMethod::Exact,
            };
        }
    }
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    let big_n = round_half_even(en) as u64;
    let p = kolmogorov_sf(big_n, d).clamp(0.0, 1.0);
    KsResult {
        statistic: d,
        p_value: p,
        method: KsMethod::Asymptotic,
    }
}
