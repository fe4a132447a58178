//! Rank and moment based two-sample tests: Cramér–von Mises, Anderson–Darling k-sample
//! (k = 2), Mann–Whitney U and Student's t (pooled variance).

use serde::{Deserialize, Serialize};

use super::numeric::{
    Neumaier, accurate_sum, bessel_k, binom_f64, binom_u128, gcd, norm_sf, numpy_sum, py_floordiv,
    t_sf,
};
use super::sample::{SortedSample, merge_distinct};
use crate::{Error, Result};

/// A test statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The test statistic.
    pub statistic: f64,
    /// The p-value (may be NaN where scipy returns NaN, e.g. a t-test on constant data).
    pub p_value: f64,
}

/// Alternative hypothesis for one-sided capable tests (scipy's naming, `x` = reference,
/// `y` = current).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alternative {
    /// Distributions differ.
    TwoSided,
    /// The reference distribution is stochastically less than the current one
    /// (Evidently's `mannw` uses this).
    Less,
    /// The reference distribution is stochastically greater than the current one.
    Greater,
}

// ---------------------------------------------------------------------------------------
// Cramér–von Mises
// ---------------------------------------------------------------------------------------

/// Two-sample Cramér–von Mises test, as scipy's `cramervonmises_2samp(method="auto")` (and
/// Evidently's copy of it): exact p-value when both samples have at most 20 values,
/// otherwise the limiting distribution (Csörgő & Faraway 1996 series, truncated when a term
/// drops below 1e-7 exactly like the reference). Ties get mid-ranks.
pub fn cramer_von_mises(reference: &SortedSample, current: &SortedSample) -> Result<TestResult> {
    reference.require(2, "cramer_von_mises")?;
    current.require(2, "cramer_von_mises")?;
    let (x, y) = (reference.values(), current.values());
    let (nx, ny) = (x.len(), y.len());
    let mut sx = 0.0f64;
    let mut sy = 0.0f64;
    for s in merge_distinct(x, y) {
        let start = (s.below1 + s.below2 + 1) as f64;
        let avg = start + (s.c1 + s.c2 - 1) as f64 / 2.0;
        for i in (s.below1 + 1)..=(s.below1 + s.c1) {
            let d = avg - i as f64;
            sx += d * d;
        }
        for j in (s.below2 + 1)..=(s.below2 + s.c2) {
            let d = avg - j as f64;
            sy += d * d;
        }
    }
    let mut u = nx as f64 * sx;
    u += ny as f64 * sy;
    let k = (nx * ny) as f64;
    let big_n = (nx + ny) as f64;
    let t = u / (k * big_n) - (4.0 * k - 1.0) / (6.0 * big_n);
    let p = if nx.max(ny) <= 20 {
        cvm_exact_pvalue(u, nx as u64, ny as u64)
    } else {
        let et = (1.0 + 1.0 / big_n) / 6.0;
        let (nxf, nyf) = (nx as f64, ny as f64);
        let mut vt = (big_n + 1.0) * (4.0 * k * big_n - 3.0 * (nxf * nxf + nyf * nyf) - 2.0 * k);
        vt /= 45.0 * big_n * big_n * 4.0 * k;
        let tn = 1.0 / 6.0 + (t - et) / (45.0 * vt).sqrt();
        if tn < 0.003 {
            1.0
        } else {
            (1.0 - cdf_cvm_inf(tn)).max(0.0)
        }
    };
    Ok(TestResult {
        statistic: t,
        p_value: p,
    })
}

/// Limiting CDF of the Cramér–von Mises statistic (Csörgő & Faraway 1996, eq. 1.2).
fn cdf_cvm_inf(x: f64) -> f64 {
    let pi15 = std::f64::consts::PI.powf(1.5);
    let mut total = 0.0;
    // ratio Γ(k + 1/2) / Γ(k + 1), starting at √π
    let mut ratio = std::f64::consts::PI.sqrt();
    let mut k = 0u32;
    loop {
        if k > 0 {
            ratio *= (k as f64 - 0.5) / k as f64;
        }
        let u = ratio / (pi15 * x.sqrt());
        let y = (4 * k + 1) as f64;
        let q = y * y / (16.0 * x);
        let b = bessel_k(0.25, q);
        let z = u * y.sqrt() * (-q).exp() * b;
        total += z;
        if z.is_nan() || z.abs() < 1e-7 || k > 10_000 {
            break;
        }
        k += 1;
    }
    total
}

/// Exact p-value of the two-sample CvM statistic `U` (Anderson 1962; Xiao, Gordon &
/// Yakovlev 2006): the law of `ζ = Σ_k (a·i_k − b·j_k)²` over all lattice paths, `a = lcm/m`,
/// `b = lcm/n`, counted by dynamic programming over the lattice.
fn cvm_exact_pvalue(s: f64, m: u64, n: u64) -> f64 {
    let g = gcd(m, n);
    let lcm = m / g * n;
    let a = lcm / m;
    let b = lcm / n;
    let mn = (m * n) as f64;
    let lfac = (lcm * lcm * (m + n)) as f64;
    let zeta = py_floordiv(lfac * (6.0 * s - mn * (4.0 * mn - 1.0)), 6.0 * mn * mn);
    // row-by-row DP over (i = x count, j = y count); each cell a sorted (ζ, count) list
    let (m, n) = (m as usize, n as usize);
    let mut prev_row: Vec<Vec<(u64, u64)>> = Vec::new();
    for i in 0..=m {
        let mut row: Vec<Vec<(u64, u64)>> = Vec::with_capacity(n + 1);
        for j in 0..=n {
            let mut cell = if i == 0 && j == 0 {
                vec![(0u64, 1u64)]
            } else {
                let up: &[(u64, u64)] = if i > 0 { &prev_row[j] } else { &[] };
                let left: &[(u64, u64)] = if j > 0 { &row[j - 1] } else { &[] };
                merge_counts(up, left)
            };
            let d = (a * i as u64) as i64 - (b * j as u64) as i64;
            let add = (d * d) as u64;
            for e in cell.iter_mut() {
                e.0 += add;
            }
            row.push(cell);
        }
        prev_row = row;
    }
    let last = &prev_row[n];
    let total: u64 = last
        .iter()
        .filter(|e| e.0 as f64 >= zeta)
        .map(|e| e.1)
        .sum();
    let comb = binom_f64((m + n) as u64, m as u64);
    total as f64 / comb
}

fn merge_counts(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i >= a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            out.push((a[i].0, a[i].1 + b[j].1));
            i += 1;
            j += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Anderson–Darling k-sample (k = 2)
// ---------------------------------------------------------------------------------------

/// Result of [`anderson_ksamp`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AndersonResult {
    /// Normalised statistic `(A²akN − (k−1)) / σ` (Scholz & Stephens 1987).
    pub statistic: f64,
    /// Approximate significance level, capped to `[0.001, 0.25]` as scipy does.
    pub p_value: f64,
}

/// Anderson–Darling k-sample test for two samples, as scipy's `anderson_ksamp` with the
/// default mid-rank variant (Scholz & Stephens 1987, eq. 7). The p-value interpolates
/// `log(significance)` quadratically (least squares) over the tabulated critical values and
/// is capped to `[0.001, 0.25]` outside them. Needs at least 4 values in total and two
/// distinct values.
pub fn anderson_ksamp(reference: &SortedSample, current: &SortedSample) -> Result<AndersonResult> {
    reference.require(1, "anderson_ksamp")?;
    current.require(1, "anderson_ksamp")?;
    let (x, y) = (reference.values(), current.values());
    let n = [x.len() as f64, y.len() as f64];
    let big_n = x.len() + y.len();
    if big_n < 4 {
        return Err(Error::Data(format!(
            "anderson_ksamp needs at least 4 values in total, got {big_n}"
        )));
    }
    let nf = big_n as f64;
    let steps: Vec<_> = merge_distinct(x, y).collect();
    if steps.len() < 2 {
        return Err(Error::Data(
            "anderson_ksamp needs more than one distinct observation".into(),
        ));
    }
    let no_ties = steps.len() == big_n;
    let mut inner = vec![0.0f64; steps.len()];
    let mut a2 = 0.0f64;
    for (si, ni) in n.iter().enumerate() {
        for (slot, s) in inner.iter_mut().zip(&steps) {
            let lj = if no_ties { 1.0 } else { (s.c1 + s.c2) as f64 };
            let left = (s.below1 + s.below2) as f64;
            let bj = left + lj / 2.0;
            let (below, cnt) = if si == 0 {
                (s.below1, s.c1)
            } else {
                (s.below2, s.c2)
            };
            let mij = (below + cnt) as f64 - cnt as f64 / 2.0;
            let num = nf * mij - bj * ni;
            *slot = lj / nf * (num * num) / (bj * (nf - bj) - nf * lj / 4.0);
        }
        a2 += numpy_sum(&inner) / ni;
    }
    a2 *= (nf - 1.0) / nf;

    let k = 2.0f64;
    let h_small = 1.0 / n[0] + 1.0 / n[1];
    // hs_cs = cumsum(1 / [N-1, N-2, ..., 2]); h = hs_cs[-1] + 1; g = sum(hs_cs / [2..N-1])
    let mut cum = 0.0f64;
    let mut terms = Vec::with_capacity(big_n.saturating_sub(2));
    for (idx, d) in (2..big_n).rev().enumerate() {
        cum += 1.0 / d as f64;
        terms.push(cum / (idx + 2) as f64);
    }
    let h = cum + 1.0;
    let g = numpy_sum(&terms);
    let a = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * h_small;
    let b = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * h_small - 8.0 * h
        + 4.0 * g
        - 6.0;
    let c = (6.0 * h + 2.0 * g - 2.0) * k * k
        + (4.0 * h - 4.0 * g + 6.0) * k
        + (2.0 * h - 6.0) * h_small
        + 4.0 * h;
    let d = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    let sigmasq =
        (a * nf.powi(3) + b * nf.powi(2) + c * nf + d) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0));
    let stat = (a2 - 1.0) / sigmasq.sqrt();
    Ok(AndersonResult {
        statistic: stat,
        p_value: anderson_pvalue(stat),
    })
}

/// Critical values for k − 1 = 1 and the quadratic fit of `ln(sig)` on them.
fn anderson_pvalue(a2: f64) -> f64 {
    const B0: [f64; 7] = [0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085];
    const B1: [f64; 7] = [-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615];
    const B2: [f64; 7] = [-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154];
    const SIG: [f64; 7] = [0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001];
    let mut crit = [0.0f64; 7];
    for i in 0..7 {
        crit[i] = B0[i] + B1[i] / 1f64.sqrt() + B2[i] / 1.0;
    }
    let cmin = crit.iter().copied().fold(f64::INFINITY, f64::min);
    let cmax = crit.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if a2 < cmin {
        return 0.25;
    }
    if a2 > cmax {
        return 0.001;
    }
    let ys: Vec<f64> = SIG.iter().map(|s| s.ln()).collect();
    let coef = polyfit2(&crit, &ys);
    (((coef[0] * a2) + coef[1]) * a2 + coef[2]).exp()
}

/// Least-squares quadratic fit `y ≈ c0 x² + c1 x + c2` by Householder QR.
#[allow(clippy::needless_range_loop)]
fn polyfit2(x: &[f64], y: &[f64]) -> [f64; 3] {
    let m = x.len();
    // columns scaled by their norms (as numpy.polyfit does) for conditioning
    let mut a: Vec<[f64; 3]> = x.iter().map(|&v| [v * v, v, 1.0]).collect();
    let mut scale = [0.0f64; 3];
    for (c, sc) in scale.iter_mut().enumerate() {
        *sc = a.iter().map(|r| r[c] * r[c]).sum::<f64>().sqrt();
        for r in a.iter_mut() {
            r[c] /= *sc;
        }
    }
    let mut b = y.to_vec();
    for col in 0..3 {
        let norm = (col..m).map(|r| a[r][col] * a[r][col]).sum::<f64>().sqrt();
        let alpha = if a[col][col] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (0..m)
            .map(|r| if r < col { 0.0 } else { a[r][col] })
            .collect();
        v[col] -= alpha;
        let vnorm2: f64 = v.iter().map(|t| t * t).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        for c in col..3 {
            let dot: f64 = (col..m).map(|r| v[r] * a[r][c]).sum();
            let f = 2.0 * dot / vnorm2;
            for r in col..m {
                a[r][c] -= f * v[r];
            }
        }
        let dot: f64 = (col..m).map(|r| v[r] * b[r]).sum();
        let f = 2.0 * dot / vnorm2;
        for r in col..m {
            b[r] -= f * v[r];
        }
    }
    let mut c = [0.0f64; 3];
    for i in (0..3).rev() {
        let mut s = b[i];
        for j in (i + 1)..3 {
            s -= a[i][j] * c[j];
        }
        c[i] = s / a[i][i];
    }
    for i in 0..3 {
        c[i] /= scale[i];
    }
    c
}

// ---------------------------------------------------------------------------------------
// Mann–Whitney U
// ---------------------------------------------------------------------------------------

/// Mann–Whitney U test as scipy's `mannwhitneyu(x=reference, y=current,
/// use_continuity=True, method="auto")`: exact null distribution when there are no ties and
/// `min(n1, n2) ≤ 8`, otherwise the tie-corrected normal approximation with continuity
/// correction. The statistic is `U1` (for the reference sample). Evidently's `mannw`
/// uses `Alternative::Less`.
pub fn mann_whitney_u(
    reference: &SortedSample,
    current: &SortedSample,
    alternative: Alternative,
) -> Result<TestResult> {
    reference.require(1, "mann_whitney_u")?;
    current.require(1, "mann_whitney_u")?;
    let (x, y) = (reference.values(), current.values());
    let (n1, n2) = (x.len() as u64, y.len() as u64);
    // twice the rank sum of x (ranks are half-integers, so 2·R1 is an integer)
    let mut twice_r1: u128 = 0;
    let mut tie_term: f64 = 0.0;
    let mut ties = false;
    for s in merge_distinct(x, y) {
        let t = (s.c1 + s.c2) as u128;
        let start = (s.below1 + s.below2 + 1) as u128;
        // 2·avg = 2·start + t − 1
        twice_r1 += s.c1 as u128 * (2 * start + t - 1);
        if t > 1 {
            ties = true;
            let tf = t as f64;
            tie_term += tf * tf * tf - tf;
        }
    }
    let r1 = twice_r1 as f64 / 2.0;
    let u1 = r1 - (n1 * (n1 + 1)) as f64 / 2.0;
    let nn = (n1 * n2) as f64;
    let u2 = nn - u1;
    let (u, f) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let exact = !(ties || (n1 > 8 && n2 > 8));
    let p = if exact {
        mwu_exact_sf(n1, n2, u as u64)
    } else {
        let mu = nn / 2.0;
        let n = (n1 + n2) as f64;
        let s = (nn / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        let z = (u - mu - 0.5) / s;
        norm_sf(z)
    };
    Ok(TestResult {
        statistic: u1,
        p_value: (p * f).clamp(0.0, 1.0),
    })
}

/// `P(U ≥ k)` under the null, from the exact frequencies (Gaussian binomial coefficients).
fn mwu_exact_sf(n1: u64, n2: u64, k: u64) -> f64 {
    let (m, n) = (n1.min(n2), n1.max(n2));
    let kc = m * n - k.min(m * n);
    let total = binom_f64(m + n, m);
    if k < kc {
        let pmf = mwu_pmf(m, n, k, total);
        let cdf = cumsum_last(&pmf);
        1.0 - cdf + pmf[k as usize]
    } else {
        let pmf = mwu_pmf(m, n, kc, total);
        cumsum_last(&pmf)
    }
}

fn cumsum_last(p: &[f64]) -> f64 {
    let mut c = 0.0;
    for &v in p {
        c += v;
    }
    c
}

/// Probabilities of `U = 0..=maxu` for sample sizes `m ≤ n`: coefficients of the Gaussian
/// binomial `∏_{i=1}^{m} (1 − q^{n+i}) / (1 − q^i)` truncated at degree `maxu`, in exact
/// integer arithmetic while it fits in i128, otherwise in f64.
fn mwu_pmf(m: u64, n: u64, maxu: u64, total: f64) -> Vec<f64> {
    let len = maxu as usize + 1;
    if let Some(c) = gauss_binom_i128(m, n, len) {
        return c.iter().map(|&v| v as f64 / total).collect();
    }
    let mut c = vec![0.0f64; len];
    c[0] = 1.0;
    for i in 1..=m as usize {
        let sh = n as usize + i;
        for k in (sh..len).rev() {
            c[k] -= c[k - sh];
        }
        for k in i..len {
            c[k] += c[k - i];
        }
    }
    c.iter().map(|&v| v / total).collect()
}

fn gauss_binom_i128(m: u64, n: u64, len: usize) -> Option<Vec<i128>> {
    binom_u128(m + n, m)?;
    let mut c = vec![0i128; len];
    c[0] = 1;
    for i in 1..=m as usize {
        let sh = n as usize + i;
        for k in (sh..len).rev() {
            c[k] = c[k].checked_sub(c[k - sh])?;
        }
        for k in i..len {
            c[k] = c[k].checked_add(c[k - i])?;
        }
    }
    Some(c)
}

// ---------------------------------------------------------------------------------------
// Student t (pooled variance)
// ---------------------------------------------------------------------------------------

/// Two-sided Student t-test with pooled variance, as scipy's `ttest_ind(equal_var=True)`.
/// Returns NaN (as scipy does) when the statistic is undefined: one value on each side
/// (no degrees of freedom) or two constant samples with equal means.
pub fn t_test(reference: &SortedSample, current: &SortedSample) -> Result<TestResult> {
    reference.require(1, "t_test")?;
    current.require(1, "t_test")?;
    let (x, y) = (reference.values(), current.values());
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let (m1, ss1) = mean_ss(x);
    let (m2, ss2) = mean_ss(y);
    let df = n1 + n2 - 2.0;
    let svar = (ss1 + ss2) / df;
    let denom = (svar * (1.0 / n1 + 1.0 / n2)).sqrt();
    let t = (m1 - m2) / denom;
    let p = if t.is_nan() || df.is_nan() || df <= 0.0 {
        f64::NAN
    } else {
        (2.0 * t_sf(t.abs(), df)).min(1.0)
    };
    Ok(TestResult {
        statistic: t,
        p_value: p,
    })
}

/// Mean and sum of squared deviations.
fn mean_ss(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = accurate_sum(x.iter().copied()) / n;
    let mut acc = Neumaier::default();
    for &v in x {
        acc.add((v - mean) * (v - mean));
    }
    (mean, acc.value())
}
