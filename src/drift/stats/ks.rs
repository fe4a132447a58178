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
///
/// The merge takes one value per step and has no data-dependent branch: the ECDF
/// difference is accumulated only at the end of a run of equal values (selected, not
/// branched on), so the interleaving of the two samples costs no mispredictions.
pub fn ks_statistic_and_wasserstein(
    reference: &SortedSample,
    current: &SortedSample,
) -> Result<(f64, f64)> {
    reference.require(1, "ks")?;
    current.require(1, "ks")?;
    let (a, b) = (reference.values(), current.values());
    let (na, nb) = (a.len(), b.len());
    if many_ties(a) || many_ties(b) {
        return Ok(ks_w1_by_runs(a, b));
    }
    let first = if a[0] <= b[0] { a[0] } else { b[0] };
    let mut m = KsW1Merge::new(na, nb, first);
    let (n1, n2) = (m.n1, m.n2);
    let (mut i, mut j) = (0usize, 0usize);
    while i < na && j < nb {
        let (x, y) = (a[i], b[j]);
        let take_a = x <= y;
        m.step(if take_a { x } else { y });
        i += usize::from(take_a);
        j += usize::from(!take_a);
        // only the side that moved has a new ECDF value: one division per value
        let q = if take_a { i as f64 / n1 } else { j as f64 / n2 };
        m.c1 = if take_a { q } else { m.c1 };
        m.c2 = if take_a { m.c2 } else { q };
    }
    for &x in &a[i..] {
        m.step(x);
        i += 1;
        m.c1 = i as f64 / n1;
    }
    for &y in &b[j..] {
        m.step(y);
        j += 1;
        m.c2 = j as f64 / n2;
    }
    Ok(m.finish())
}

/// Whether a sorted sample has long runs of equal values (checked on 64 evenly spaced
/// neighbour pairs): then a merge that jumps over whole runs is faster than one that takes
/// one value per step. Both give the same numbers.
fn many_ties(v: &[f64]) -> bool {
    let n = v.len();
    if n < 256 {
        return false;
    }
    let ties = (0..64)
        .map(|k| k * (n - 1) / 64)
        .filter(|&p| v[p] == v[p + 1])
        .count();
    ties >= 16
}

/// [`ks_statistic_and_wasserstein`] for samples with many ties: one step per distinct
/// pooled value, the same operations in the same order.
fn ks_w1_by_runs(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (na, nb) = (a.len(), b.len());
    let (n1, n2) = (na as f64, nb as f64);
    let mut max_d = f64::NEG_INFINITY;
    let mut min_d = f64::INFINITY;
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    let (mut x0, mut diff) = (0.0f64, 0.0f64);
    let mut first = true;
    for s in merge_distinct(a, b) {
        let (i, j, v) = (s.below1 + s.c1, s.below2 + s.c2, s.value);
        // the same expressions as `d_stat` / `cdf_integral`
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
    (d, w1)
}

/// State of [`ks_statistic_and_wasserstein`]'s merge. A run of equal pooled values ends
/// when the next value differs; at that point (`i`, `j` values of each sample taken so far)
/// the ECDF difference `d` of the run's value `u_k` is final. With `u_{k-1}` and
/// `|d_{k-1}|` of the previous run, the merge then does exactly what the distinct-value
/// merge of [`ks_statistic`] and [`wasserstein`](super::wasserstein) does at `u_k`:
/// `max/min` of `d`, and the Neumaier sum of `|d_{k-1}| · (u_k − u_{k-1})`. Inside a run
/// the candidate updates are computed and discarded by selection (adding the selected
/// `0.0` leaves the non-negative sum and its compensation unchanged).
struct KsW1Merge {
    n1: f64,
    n2: f64,
    /// ECDF values `i / n1`, `j / n2` of the values taken so far
    c1: f64,
    c2: f64,
    max_d: f64,
    min_d: f64,
    sum: f64,
    comp: f64,
    /// value of the last run completed (`u_{k-1}`) and its `|d|`
    x0: f64,
    diff: f64,
    /// value of the last element taken
    prev: f64,
}

impl KsW1Merge {
    fn new(na: usize, nb: usize, first: f64) -> Self {
        KsW1Merge {
            n1: na as f64,
            n2: nb as f64,
            c1: 0.0,
            c2: 0.0,
            max_d: f64::NEG_INFINITY,
            min_d: f64::INFINITY,
            sum: 0.0,
            comp: 0.0,
            // the first run has no predecessor: `0 · (u_1 − u_1)` adds nothing
            x0: first,
            diff: 0.0,
            prev: first,
        }
    }

    /// Take the next pooled value `v` (`c1`, `c2` still those of the values before it).
    #[inline(always)]
    fn step(&mut self, v: f64) {
        let ends_run = v != self.prev;
        self.end_run(ends_run);
        self.prev = v;
    }

    /// Close the run of `self.prev` if `ends_run` (selection, no branch).
    #[inline(always)]
    fn end_run(&mut self, ends_run: bool) {
        let d = self.c1 - self.c2;
        self.max_d = if ends_run {
            self.max_d.max(d)
        } else {
            self.max_d
        };
        self.min_d = if ends_run {
            self.min_d.min(d)
        } else {
            self.min_d
        };
        let x = if ends_run {
            self.diff * (self.prev - self.x0)
        } else {
            0.0
        };
        let t = self.sum + x;
        let big_sum = (self.sum - t) + x;
        let big_x = (x - t) + self.sum;
        self.comp += if self.sum.abs() >= x.abs() {
            big_sum
        } else {
            big_x
        };
        self.sum = t;
        self.x0 = if ends_run { self.prev } else { self.x0 };
        self.diff = if ends_run { d.abs() } else { self.diff };
    }

    /// Close the last run (every value taken, so `c1 = c2 = 1`) and return `(D, W1)`.
    fn finish(mut self) -> (f64, f64) {
        self.end_run(true);
        let w1 = self.sum + self.comp;
        let min_s = (-self.min_d).clamp(0.0, 1.0);
        let d = if min_s > self.max_d {
            min_s
        } else {
            self.max_d
        };
        (d, w1)
    }
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
