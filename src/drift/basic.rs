//! The two tests of the default detector: two-sample KS (numeric) and Evidently's
//! chi-square goodness-of-fit (categorical).

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Two-sample KS statistic of sorted samples and its asymptotic two-sided p-value.
pub(crate) fn ks(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n, m) = (a.len(), b.len());
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0_f64);
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let en = (n as f64 * m as f64 / (n + m) as f64).sqrt();
    (d, kolmogorov_sf((en + 0.12 + 0.11 / en) * d))
}

/// Survival function of the Kolmogorov distribution.
fn kolmogorov_sf(x: f64) -> f64 {
    if x < 0.2 {
        return 1.0;
    }
    let mut s = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let t = 2.0 * (-1.0_f64).powf(k - 1.0) * (-2.0 * k * k * x * x).exp();
        s += t;
        if t.abs() < 1e-16 {
            break;
        }
    }
    s.clamp(0.0, 1.0)
}

/// Chi-square of current counts against reference shares scaled to the current size;
/// returns (statistic, p-value). Categories absent from the reference give p = 0.
pub(crate) fn chisquare(reference: &[usize], current: &[usize]) -> (f64, f64) {
    let nr: usize = reference.iter().sum();
    let nc: usize = current.iter().sum();
    let mut stat = 0.0;
    let mut k = 0;
    for (&r, &c) in reference.iter().zip(current) {
        if r == 0 && c == 0 {
            continue;
        }
        k += 1;
        let e = r as f64 * nc as f64 / nr as f64;
        if e == 0.0 {
            return (f64::INFINITY, 0.0);
        }
        stat += (c as f64 - e).powi(2) / e;
    }
    if k < 2 {
        return (0.0, 1.0);
    }
    let p = ChiSquared::new((k - 1) as f64).map_or(1.0, |d| d.sf(stat));
    (stat, p)
}
