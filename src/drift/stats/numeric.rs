//! Internal numerical helpers: summation orders and special functions.
//!
//! Everything here is crate-private. The summation helpers exist because some reference
//! numbers (Jensen–Shannon and Hellinger near zero, NannyML's "leftover" bin) are
//! square roots of quantities that are only a few ulps away from zero, so the order in
//! which shares are added decides the result at the 1e-8 level. [`numpy_sum`] reproduces
//! NumPy's pairwise summation order for contiguous `float64` reductions.

use std::f64::consts::PI;

/// Sum in the order NumPy's `np.sum` uses for a contiguous `float64` array.
///
/// Pairwise summation: runs shorter than 8 are added sequentially, blocks of up to 128
/// elements with eight interleaved accumulators, longer runs are split in halves rounded
/// to a multiple of eight (verified bit-for-bit against `np.sum`).
pub(crate) fn numpy_sum(a: &[f64]) -> f64 {
    pairwise_map(a, &|v| v)
}

/// NumPy's pairwise summation of `f(a_i)` (the order of [`numpy_sum`]) without
/// materialising the mapped values.
pub(crate) fn pairwise_map(a: &[f64], f: &impl Fn(f64) -> f64) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += f(x);
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        for (rk, &x) in r.iter_mut().zip(&a[..8]) {
            *rk = f(x);
        }
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += f(a[i + k]);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += f(a[i]);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_map(&a[..n2], f) + pairwise_map(&a[n2..], f)
    }
}

/// Neumaier (improved Kahan) compensated accumulator.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub(crate) fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Compensated sum of an iterator.
pub(crate) fn accurate_sum(it: impl IntoIterator<Item = f64>) -> f64 {
    let mut acc = Neumaier::default();
    for x in it {
        acc.add(x);
    }
    acc.value()
}

/// Mean and population variance (two-pass, compensated sums).
pub(crate) fn mean_var_pop(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = accurate_sum(x.iter().copied()) / n;
    let ss = accurate_sum(x.iter().map(|&v| (v - mean) * (v - mean)));
    (mean, ss / n)
}

/// Round half to even, like `np.round`.
pub(crate) fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// Python's float floor division `a // b` (for finite `b != 0`).
pub(crate) fn py_floordiv(a: f64, b: f64) -> f64 {
    let mut m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && (b < 0.0) != (m < 0.0) {
        m += b;
        div -= 1.0;
    }
    let _ = m;
    if div != 0.0 {
        let fl = div.floor();
        if div - fl > 0.5 { fl + 1.0 } else { fl }
    } else {
        0.0f64.copysign(a / b)
    }
}

// ---------------------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------------------

/// Standard normal CDF, computed like Cephes `ndtr` (erf near 0, erfc in the tails).
pub(crate) fn ndtr(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * statrs::function::erf::erf(x)
    } else {
        let y = 0.5 * statrs::function::erf::erfc(z);
        if x > 0.0 { 1.0 - y } else { y }
    }
}

/// Standard normal survival function.
pub(crate) fn norm_sf(x: f64) -> f64 {
    ndtr(-x)
}

// ---------------------------------------------------------------------------------------
// Log-gamma pieces (Loader's saddle-point forms)
// ---------------------------------------------------------------------------------------

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

pub(crate) fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// `δ(x) = lnΓ(x) − [(x − ½)ln x − x + ½ln 2π]` (Stirling remainder), for x ≥ 10.
fn stirling_delta(x: f64) -> f64 {
    let x2 = x * x;
    (1.0 / 12.0
        - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - (1.0 / 1188.0) / x2) / x2) / x2) / x2)
        / x
}

/// `lnΓ(a) − lnΓ(a + b)` without cancellation for large `a`.
pub(crate) fn ln_gamma_ratio(a: f64, b: f64) -> f64 {
    if a >= 10.0 && a + b >= 10.0 {
        -(a - 0.5) * (b / a).ln_1p() - b * (a + b).ln() + b + stirling_delta(a)
            - stirling_delta(a + b)
    } else {
        ln_gamma(a) - ln_gamma(a + b)
    }
}

/// `ln B(a, b)`, stable when one argument is large.
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, big) = if a < b { (a, b) } else { (b, a) };
    if big >= 10.0 {
        ln_gamma(small) + ln_gamma_ratio(big, small)
    } else {
        ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
    }
}

/// Loader's `stirlerr(n) = ln n! − [(n + ½) ln n − n + ½ ln 2π]`.
pub(crate) fn stirlerr(n: f64) -> f64 {
    if n > 15.0 {
        let nn = n * n;
        (1.0 / 12.0
            - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - (1.0 / 1188.0) / nn) / nn) / nn) / nn)
            / n
    } else {
        ln_gamma(n + 1.0) - (n + 0.5) * n.ln() + n - LN_SQRT_2PI
    }
}

/// Loader's deviance term `bd0(x, np) = x ln(x/np) + np − x`.
pub(crate) fn bd0(x: f64, np: f64) -> f64 {
    if (x - np).abs() < 0.1 * (x + np) {
        let v = (x - np) / (x + np);
        let mut s = (x - np) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        let mut j = 1.0;
        loop {
            ej *= v2;
            let s1 = s + ej / (2.0 * j + 1.0);
            if s1 == s {
                return s1;
            }
            s = s1;
            j += 1.0;
            if j > 1000.0 {
                return s;
            }
        }
    }
    x * (x / np).ln() + np - x
}

/// `x^a e^{-x} / Γ(a + 1)` accurately (Poisson-type density with real `a`).
fn gamma_prefactor(a: f64, x: f64) -> f64 {
    if x == 0.0 {
        return if a == 0.0 { 1.0 } else { 0.0 };
    }
    if a < 10.0 {
        (a * x.ln() - x - ln_gamma(a + 1.0)).exp()
    } else {
        (-stirlerr(a) - bd0(a, x)).exp() / (2.0 * PI * a).sqrt()
    }
}

/// Regularised upper incomplete gamma `Q(a, x)`.
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || a <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    if x < a + 1.0 {
        // series for P, Q = 1 - P
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut n = 1.0;
        loop {
            term *= x / (a + n);
            sum += term;
            if term < sum * 1e-17 || n > 100_000.0 {
                break;
            }
            n += 1.0;
        }
        let p = gamma_prefactor(a, x) * sum;
        (1.0 - p).clamp(0.0, 1.0)
    } else {
        // Lentz continued fraction for Q
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        let mut i = 1.0;
        loop {
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 || i > 100_000.0 {
                break;
            }
            i += 1.0;
        }
        (a * gamma_prefactor(a, x) * h).clamp(0.0, 1.0)
    }
}

/// Chi-square survival function.
pub(crate) fn chi2_sf(x: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    gamma_q(df / 2.0, x / 2.0)
}

/// Continued fraction for the incomplete beta (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    let mut m = 1.0f64;
    loop {
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 || m > 100_000.0 {
            break;
        }
        m += 1.0;
    }
    h
}

/// Regularised incomplete beta `I_x(a, b)` given both `x` and `y = 1 − x` (accurately).
pub(crate) fn beta_reg(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let swap = x > (a + 1.0) / (a + b + 2.0);
    let (a1, b1, x1, y1) = if swap { (b, a, y, x) } else { (a, b, x, y) };
    let ln_front = a1 * x1.ln() + b1 * y1.ln() - ln_beta(a1, b1) - a1.ln();
    let v = ln_front.exp() * beta_cf(a1, b1, x1);
    if swap { 1.0 - v } else { v }
}

/// Student t survival function `P(T > t)` for `df > 0`.
pub(crate) fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == 0.0 {
        return 0.5;
    }
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    let t2 = t * t;
    let x = df / (df + t2);
    let y = t2 / (df + t2);
    let tail = 0.5 * beta_reg(df / 2.0, 0.5, x, y);
    if t > 0.0 { tail } else { 1.0 - tail }
}

// ---------------------------------------------------------------------------------------
// Modified Bessel function of the second kind
// ---------------------------------------------------------------------------------------

/// `e^{q} K_ν(q)` for q > 0, by the trapezoidal rule on `∫₀^∞ e^{-q(cosh t − 1)} cosh(νt) dt`
/// (exponentially convergent for this analytic, rapidly decaying integrand).
pub(crate) fn bessel_k_scaled(nu: f64, q: f64) -> f64 {
    if q.is_nan() || q <= 0.0 {
        return f64::INFINITY;
    }
    let h = 0.1 / q.sqrt().max(1.0);
    let mut sum = 0.5; // t = 0: e^0 * cosh 0, half weight
    let mut k = 1.0;
    loop {
        let t = k * h;
        let e = -q * (t.cosh() - 1.0);
        let f = e.exp() * (nu * t).cosh();
        sum += f;
        if e < -745.0 || (f < sum * 1e-18 && q * (t.cosh() - 1.0) > 40.0) {
            break;
        }
        k += 1.0;
        if k > 1e6 {
            break;
        }
    }
    sum * h
}

/// `K_ν(q)`.
pub(crate) fn bessel_k(nu: f64, q: f64) -> f64 {
    bessel_k_scaled(nu, q) * (-q).exp()
}

/// Binomial coefficient as f64 (exact while it fits, correctly rounded otherwise when
/// computed through u128; falls back to lgamma for huge values).
pub(crate) fn binom_f64(n: u64, k: u64) -> f64 {
    match binom_u128(n, k) {
        Some(v) => v as f64,
        None => {
            let (n, k) = (n as f64, k as f64);
            (ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)).exp()
        }
    }
}

/// Exact binomial coefficient if it fits in u128.
pub(crate) fn binom_u128(n: u64, k: u64) -> Option<u128> {
    if k > n {
        return Some(0);
    }
    let k = k.min(n - k);
    let mut r: u128 = 1;
    for i in 0..k {
        // r * (n - i) / (i + 1) is exact at every step
        let num = (n - i) as u128;
        let g = gcd_u128(r, (i + 1) as u128);
        let r1 = r / g;
        let d = (i + 1) as u128 / g;
        let num1 = num / d; // d divides num * r1 and gcd(r1, d) = 1 so d | num
        r = r1.checked_mul(num1)?;
    }
    Some(r)
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Greatest common divisor.
pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binom_small() {
        assert_eq!(binom_u128(10, 3), Some(120));
        assert_eq!(binom_u128(40, 20), Some(137_846_528_820));
    }

    #[test]
    fn gamma_q_basic() {
        // Q(1, x) = e^{-x}
        for &x in &[0.1, 1.0, 5.0, 30.0] {
            let q = gamma_q(1.0, x);
            assert!((q - (-x).exp()).abs() <= 1e-15 * q.max(1e-300) + 1e-16);
        }
    }

    #[test]
    fn floordiv_matches_python() {
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        assert_eq!(py_floordiv(-7.0, 2.0), -4.0);
        assert_eq!(py_floordiv(-7.5, 2.0), -4.0);
    }
}
