//! Kolmogorov–Smirnov distributions.
//!
//! * [`kolmogorov_sf`]: survival function of the two-sided one-sample statistic `D_n`
//!   (scipy's `kstwo.sf`), with the regime choices of Simard & L'Ecuyer (2011): the
//!   Ruben–Gambino closed forms at the ends, the Durbin matrix algorithm in the form of
//!   Marsaglia, Tsang & Wang (2003) for small `n·x²`, the Pelz–Good asymptotic series,
//!   and `2·P(D⁺_n ≥ x)` (Smirnov / Birnbaum–Tingey) in the upper tail.
//! * [`smirnov_sf`]: the exact one-sided law `P(D⁺_n ≥ x)` (Birnbaum–Tingey sum, each term
//!   evaluated with Loader's saddle-point binomial so it stays accurate for large `n`).
//! * [`two_sample_two_sided_sf`]: the exact null law of the two-sample statistic by
//!   lattice-path counting (Hodges 1958), using the "1 − p" recursion of Viehmann (2021)
//!   for unequal sizes and the alternating binomial series for equal sizes.

use std::f64::consts::PI;

use super::numeric::{bd0, stirlerr};

/// `exp()` of anything below this underflows (Cephes `MINLOG`).
const MINLOG: f64 = -7.083_964_185_322_641e2;

/// Survival function `P(D_n ≥ x)` of the two-sided one-sample Kolmogorov statistic.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/(2n) <= x <= 1/n
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            let mut p = 1.0;
            let inv = 1.0 / nf;
            let f = 2.0 * t - 1.0;
            for i in 1..=n {
                p *= (i as f64 * inv) * f;
            }
            p
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxsq = t * x;
    if n <= 140 {
        if nxsq <= 4.0 {
            // scipy uses the Durbin matrix (≤ 0.754693) and Pomeranz's recursion (≤ 4);
            // both are exact algorithms, the Durbin matrix is used for both here.
            let cdf = durbin_mtw_cdf(n, x);
            return (1.0 - cdf).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nxsq >= 370.0 {
        return 0.0;
    }
    if nxsq >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_mtw_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// `ln(n!/n^n)` by Stirling's series.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // Stirling coefficients B_2k / (2k(2k-1)), highest order first.
    const C: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let rn = 1.0 / n;
    let y = rn / n;
    let mut poly = 0.0;
    for c in C {
        poly = poly * y + c;
    }
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * poly
}

/// CDF `P(D_n < d)` by the Durbin matrix algorithm (Marsaglia, Tsang & Wang 2003).
pub(crate) fn durbin_mtw_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    // H[i][j] = 1/(i-j+1)! for i-j+1 >= 0; first column and last row corrected.
    let mut inv_fact = vec![1.0f64; m + 1]; // inv_fact[j] = 1/j!
    for j in 1..=m {
        inv_fact[j] = inv_fact[j - 1] / j as f64;
    }
    let mut v = vec![0.0f64; m];
    for (j, vj) in v.iter_mut().enumerate() {
        *vj = (1.0 - h.powf((j + 1) as f64)) * inv_fact[j + 1];
    }
    let tt = (2.0 * h - 1.0).max(0.0).powf(m as f64) - 2.0 * h.powf(m as f64);
    v[m - 1] = (1.0 + tt) * inv_fact[m];
    let mut hm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 1..m {
            if i + 1 >= j {
                hm[i * m + j] = inv_fact[i + 1 - j];
            }
        }
        hm[i * m] = v[i];
    }
    for j in 0..m {
        hm[(m - 1) * m + j] = v[m - 1 - j];
    }
    // Power by repeated squaring with separate binary exponents.
    const E: i32 = 128;
    let big = 2f64.powi(E);
    let mut result = identity(m);
    let mut res_exp: i64 = 0;
    let mut base = hm;
    let mut base_exp: i64 = 0;
    let mut nn = n;
    let mut tmp = vec![0.0f64; m * m];
    while nn > 0 {
        if nn % 2 == 1 {
            matmul(&result, &base, &mut tmp, m);
            std::mem::swap(&mut result, &mut tmp);
            res_exp += base_exp;
        }
        matmul(&base, &base, &mut tmp, m);
        std::mem::swap(&mut base, &mut tmp);
        base_exp *= 2;
        if base[(k - 1) * m + (k - 1)].abs() > big {
            for x in base.iter_mut() {
                *x /= big;
            }
            base_exp += E as i64;
        }
        nn /= 2;
    }
    let mut p = result[(k - 1) * m + (k - 1)];
    let mut expnt = res_exp;
    let small = 2f64.powi(-E);
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < small {
            p *= big;
            expnt -= E as i64;
        }
    }
    let p = ldexp(p, expnt);
    p.clamp(0.0, 1.0)
}

fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

fn identity(m: usize) -> Vec<f64> {
    let mut a = vec![0.0; m * m];
    for i in 0..m {
        a[i * m + i] = 1.0;
    }
    a
}

fn matmul(a: &[f64], b: &[f64], out: &mut [f64], m: usize) {
    out.iter_mut().for_each(|x| *x = 0.0);
    for i in 0..m {
        for l in 0..m {
            let ail = a[i * m + l];
            if ail == 0.0 {
                continue;
            }
            let row_b = &b[l * m..(l + 1) * m];
            let row_o = &mut out[i * m..(i + 1) * m];
            for (o, &bv) in row_o.iter_mut().zip(row_b) {
                *o += ail * bv;
            }
        }
    }
}

/// Pelz–Good (1976) asymptotic approximation of `P(D_n ≤ x)`, in the form given by
/// Simard & L'Ecuyer (2011): Li-Chien/Korolyuk expansion to order `n^{-3/2}`, each term
/// transformed with Jacobi theta identities for small `z = x√n`.
pub(crate) fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let pi2 = PI.powi(2);
    let pi4 = PI.powi(4);
    let pi6 = PI.powi(6);
    let sqrt2pi = (2.0 * PI).sqrt();
    let z = nf.sqrt() * x;
    let z2 = z.powi(2);
    let z3 = z.powi(3);
    let z4 = z.powi(4);
    let z6 = z.powi(6);
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let m2 = m * m;
        let m4 = m2 * m2;
        let m6 = m4 * m2;
        let qp = q.powf((8 * k) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (a, c) in kk.iter_mut().zip(coeffs) {
            *a = *a * qp + c;
        }
    }
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (a, d) in kk.iter_mut().zip(div) {
        *a = *a * q * sqrt2pi / d;
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ksq = kf * kf;
        let qp = q2.powf(ksq);
        k2extra += ksq * qp;
        let kspi = PI * kf;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    kk[2] += k2extra * (pi2 * sqrt2pi / (-36.0 * z3));
    kk[3] += k3extra * (pi2 * sqrt2pi / (216.0 * z6));
    let mut total = 0.0;
    for (i, a) in kk.iter().enumerate() {
        total += a / nf.powf(i as f64 / 2.0);
    }
    total
}

/// Exact one-sided Smirnov survival function `P(D⁺_n ≥ x)`.
///
/// Birnbaum–Tingey: `x Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) (x+v/n)^{v−1} (1−x−v/n)^{n−v}`. Every term
/// is positive; term `v ≥ 1` equals `dbinom(v; n, p_v) / p_v` with `p_v = x + v/n`, which is
/// evaluated with Loader's saddle-point form (relative accuracy ~1e-15 at any `n`).
/// For `n > 10⁶` the approximation `exp(−(6nx+1)²/(18n))` is used, as in Cephes.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() || n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    let nf = n as f64;
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nx = nf * x;
    let nxfl = nx.floor();
    if nxfl == 0.0 || (nxfl == 1.0 && nx == 1.0) {
        // x <= 1/n: cdf = x (1 + x)^(n-1)
        let cdf = x * (1.0 + x).powf(nf - 1.0);
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if -2.0 * nf * x * x < MINLOG {
        return 0.0;
    }
    if nxfl >= nf - 1.0 {
        return (1.0 - x).powf(nf).clamp(0.0, 1.0);
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
    }
    // Lower sum, terms v = 0 ..= floor(n(1-x)) (the last one vanishes when n(1-x) is integral).
    let vmax = (nf - nx).floor() as u64;
    let mut sum = super::numeric::Neumaier::default();
    sum.add((1.0 - x).powf(nf) / x); // v = 0 term: (1-x)^n / x
    let mut peaked = false;
    let mut prev = f64::INFINITY;
    let mut v = 1u64;
    while v <= vmax && v < n {
        let vf = v as f64;
        let np_ = nx + vf; // n * p_v
        let nq = (nf - vf) - nx; // n * (1 - p_v)
        if nq <= 0.0 {
            break;
        }
        let p = np_ / nf;
        let lf = stirlerr(nf) - stirlerr(vf) - stirlerr(nf - vf) - bd0(vf, np_) - bd0(nf - vf, nq);
        let dens = lf.exp() * (nf / (2.0 * PI * vf * (nf - vf))).sqrt();
        let term = dens / p;
        sum.add(term);
        if term < prev {
            peaked = true;
        }
        prev = term;
        if peaked && 4.0 * ((vmax - v) as f64 + 1.0) * term < f64::EPSILON * 1e-3 * sum.value() {
            break;
        }
        v += 1;
    }
    (x * sum.value()).clamp(0.0, 1.0)
}

/// Exact `P(D_{n,n} ≥ h/n)` for two samples of equal size `n` (alternating binomial series
/// evaluated Horner-style, each ratio `C(2n, n−jh)/C(2n, n)` built from `h` simple factors).
pub(crate) fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0f64;
    let mut k = (n / h) as i64;
    let (n, h) = (n as i64, h as i64);
    while k >= 0 {
        let mut p1 = 1.0f64;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Exact `P(D_{m,n} ≥ h/lcm(m,n))` for unequal sizes, by the lattice-path "inside" method
/// of Hodges with the recursion for `1 − p` of Viehmann (2021): for a path ending at
/// `(i, j)`, the probability of having touched the band boundary `|i·n/g − j·m/g| ≥ h` is
/// `(i·q(i−1, j) + j·q(i, j−1)) / (i + j)`, with `q = 1` outside the band.
pub(crate) fn prob_outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let mg = (m / g) as i64;
    let ng = (n / g) as i64;
    let (n, h) = (n as i64, h as i64);
    // column 0: inside for j with mg*j < h
    let mut lo = 0i64;
    let mut hi = ceil_div(h, mg).min(n + 1); // exclusive
    let mut prev: Vec<f64> = vec![0.0; (hi - lo).max(0) as usize];
    let mut cur: Vec<f64> = Vec::with_capacity(prev.len() + 2);
    for i in 1..=(m as i64) {
        let new_lo = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        let new_hi = ceil_div(ng * i + h, mg).min(n + 1);
        if new_hi <= new_lo {
            return 1.0;
        }
        cur.clear();
        let mut val = if new_lo == 0 { 0.0 } else { 1.0 };
        for j in new_lo..new_hi {
            let left = if j >= lo && j < hi {
                prev[(j - lo) as usize]
            } else {
                1.0
            };
            val = (left * i as f64 + val * j as f64) / (i + j) as f64;
            cur.push(val);
        }
        std::mem::swap(&mut prev, &mut cur);
        lo = new_lo;
        hi = new_hi;
    }
    // at i = m the window ends at j = n
    *prev.last().unwrap_or(&1.0)
}

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_equals_square_for_equal_sizes() {
        // prob_outside_band handles m == n too (g = n, mg = ng = 1)
        for n in [3u64, 7, 20] {
            for h in 1..=n {
                let a = prob_outside_square(n, h);
                let b = prob_outside_band(n, n, n, h);
                assert!((a - b).abs() < 1e-12, "n={n} h={h} {a} {b}");
            }
        }
    }

    #[test]
    fn smirnov_n_small_matches_direct_sum() {
        // direct evaluation for n = 5
        let n = 5u64;
        let x = 0.37;
        let nf = n as f64;
        let mut s = 0.0;
        let vmax = (nf * (1.0 - x)).floor() as u64;
        for v in 0..=vmax {
            let vf = v as f64;
            let c = super::super::numeric::binom_f64(n, v);
            s += c * (x + vf / nf).powf(vf - 1.0) * (1.0 - x - vf / nf).powf(nf - vf);
        }
        let direct = x * s;
        assert!((smirnov_sf(n, x) - direct).abs() < 1e-14);
    }
}
