//! Empirical maximum mean discrepancy with an RBF kernel (Evidently's `empirical_mmd`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::categorical::partial_shuffle;
use super::rank::TestResult;
use super::sample::SortedSample;
use crate::{Error, Result};

/// Largest pooled sample size accepted by [`empirical_mmd`] (the kernel matrix is
/// `O(N²)` memory: 10 000 values need 400 MB).
pub const MMD_MAX_POOLED: usize = 10_000;

/// Squared distance as Evidently computes it: `y² − 2xy + x²`.
#[inline]
fn sq_dist(x: f64, y: f64) -> f64 {
    (y * y - 2.0 * (x * y)) + x * x
}

/// The kernel bandwidth Evidently uses: `σ = sqrt(½ · median_nearest(D))` over the full
/// `n × n` matrix `D` of reference squared distances (diagonal included, NumPy's
/// `percentile(..., 50, method="nearest")`), with σ = √½ when that is 0.
///
/// Computed without materialising `D`: the k-th smallest pairwise |difference| of a sorted
/// sample is found by bisection on the value with a two-pointer count.
pub fn mmd_sigma(reference: &SortedSample) -> Result<f64> {
    reference.require(1, "empirical_mmd")?;
    let v = reference.values();
    let n = v.len();
    let total = (n as u128) * (n as u128);
    // numpy 'nearest': index = round_half_even(0.5 * (total - 1))
    let idx = super::numeric::round_half_even(0.5 * (total as f64 - 1.0)) as u128;
    // the first n entries (sorted) are the diagonal zeros; each off-diagonal pair twice
    let d = if idx < n as u128 {
        0.0
    } else {
        // need the element of rank idx among: n zeros + 2 copies of each pair difference
        // => the pair-difference of rank r = (idx - n) / 2 among the n(n-1)/2 pairs
        let r = ((idx - n as u128) / 2) as u64;
        kth_pair_difference(v, r)
    };
    let med = {
        // Evidently takes the median of the squared distances as computed by its formula;
        // reproduce that value for the pair found above
        let (a, b) = find_pair_with_difference(v, d);
        if d == 0.0 { 0.0 } else { sq_dist(a, b) }
    };
    let sigma = (0.5 * med).sqrt();
    Ok(if sigma == 0.0 { 0.5f64.sqrt() } else { sigma })
}

/// Number of pairs i < j with `v[j] − v[i] <= d` (v sorted).
fn count_pairs_le(v: &[f64], d: f64) -> u64 {
    let mut count = 0u64;
    let mut j = 0usize;
    for i in 0..v.len() {
        if j < i {
            j = i;
        }
        while j + 1 < v.len() && v[j + 1] - v[i] <= d {
            j += 1;
        }
        count += (j - i) as u64;
    }
    count
}

/// The r-th smallest (0-based) difference `v[j] − v[i]`, i < j.
fn kth_pair_difference(v: &[f64], r: u64) -> f64 {
    // bisection over non-negative doubles by their bit patterns (monotone)
    let mut lo = 0u64; // bits of 0.0
    let mut hi = (v[v.len() - 1] - v[0]).to_bits();
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let d = f64::from_bits(mid);
        if count_pairs_le(v, d) > r {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    f64::from_bits(lo)
}

fn find_pair_with_difference(v: &[f64], d: f64) -> (f64, f64) {
    let mut j = 0usize;
    for i in 0..v.len() {
        if j < i {
            j = i;
        }
        while j + 1 < v.len() && v[j + 1] - v[i] <= d {
            j += 1;
        }
        if v[j] - v[i] == d {
            return (v[i], v[j]);
        }
    }
    (v[0], v[0])
}

/// Empirical MMD test as Evidently's `empirical_mmd`: RBF kernel `exp(−D / (2σ²))` with
/// σ from [`mmd_sigma`], statistic
/// `ΣKxx/(n(n−1)) + ΣKyy/(m(m−1)) − 2·mean(Kxy)` with the diagonals zeroed, and the
/// p-value `mean(observed ≤ permuted)` over `n_permutations` random relabellings of the
/// pooled sample (Evidently uses 100). The permutations come from ChaCha8 seeded with
/// `seed`, so the p-value is reproducible (Evidently's own is unseeded).
///
/// Cost `O(N²)` time and memory for the pooled size `N` (at most [`MMD_MAX_POOLED`]).
pub fn empirical_mmd(
    reference: &SortedSample,
    current: &SortedSample,
    n_permutations: usize,
    seed: u64,
) -> Result<TestResult> {
    reference.require(2, "empirical_mmd")?;
    current.require(2, "empirical_mmd")?;
    let (x, y) = (reference.values(), current.values());
    let (n, m) = (x.len(), y.len());
    let big = n + m;
    if big > MMD_MAX_POOLED {
        return Err(Error::invalid(
            "empirical_mmd input",
            format!("pooled size {big} exceeds {MMD_MAX_POOLED}; subsample first"),
        ));
    }
    let sigma = mmd_sigma(reference)?;
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    // kernel matrix, full (row-major), diagonal zeroed
    let mut k = vec![0.0f64; big * big];
    for i in 0..big {
        for j in 0..big {
            if i != j {
                // Evidently's kxy block is rbf(x, y): rows from x, columns from y; the
                // distance formula is not symmetric in rounding, so keep the orientation
                let (a, b) = if i < n || j >= n {
                    (pooled[i], pooled[j])
                } else {
                    (pooled[j], pooled[i])
                };
                k[i * big + j] = (-gamma * sq_dist(a, b)).exp();
            }
        }
    }
    let stat_for = |labels_first: &[usize]| -> f64 {
        // labels_first: a permutation; its first n entries are "x"
        let mut is_x = vec![false; big];
        for &i in &labels_first[..n] {
            is_x[i] = true;
        }
        mmd_stat(&k, big, &is_x, n, m)
    };
    let identity: Vec<usize> = (0..big).collect();
    let observed = stat_for(&identity);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut perm = identity.clone();
    let mut hits = 0usize;
    for _ in 0..n_permutations {
        perm.copy_from_slice(&identity);
        partial_shuffle(&mut perm, n, &mut rng);
        if observed <= stat_for(&perm) {
            hits += 1;
        }
    }
    let p = if n_permutations == 0 {
        f64::NAN
    } else {
        hits as f64 / n_permutations as f64
    };
    Ok(TestResult {
        statistic: observed,
        p_value: p,
    })
}

fn mmd_stat(k: &[f64], big: usize, is_x: &[bool], n: usize, m: usize) -> f64 {
    let mut sxx = super::numeric::Neumaier::default();
    let mut syy = super::numeric::Neumaier::default();
    let mut sxy = super::numeric::Neumaier::default();
    for i in 0..big {
        let row = &k[i * big..(i + 1) * big];
        let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
        for (j, &kv) in row.iter().enumerate() {
            match (is_x[i], is_x[j]) {
                (true, true) => a += kv,
                (false, false) => b += kv,
                (false, true) => c += kv,
                _ => {}
            }
        }
        sxx.add(a);
        syy.add(b);
        sxy.add(c);
    }
    let (nf, mf) = (n as f64, m as f64);
    let a = 1.0 / (nf * (nf - 1.0));
    let b = 1.0 / (mf * (mf - 1.0));
    a * sxx.value() + b * syy.value() - 2.0 * (sxy.value() / (nf * mf))
}
