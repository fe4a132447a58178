//! McNemar's test for two classifiers evaluated on the same rows.

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use super::input;
use crate::{Error, Result};

/// [`McNemarMethod::Auto`] uses the exact test when the number of discordant
/// pairs `b + c` is below this, and the chi-square test otherwise.
pub const MCNEMAR_EXACT_BELOW: u64 = 25;

/// Which form of McNemar's test to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum McNemarMethod {
    /// Exact when `b + c <` [`MCNEMAR_EXACT_BELOW`] (25), chi-square otherwise.
    #[default]
    Auto,
    /// Exact binomial test (statsmodels `mcnemar(table, exact=True)`).
    Exact,
    /// Chi-square test with continuity correction (statsmodels
    /// `mcnemar(table, exact=False, correction=True)`).
    ChiSquare,
}

/// Result of McNemar's test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Rows where model A is right and model B is wrong.
    pub b: u64,
    /// Rows where model A is wrong and model B is right.
    pub c: u64,
    /// Test statistic: `min(b, c)` for the exact test, `(|b − c| − 1)² / (b + c)`
    /// for the chi-square test (as statsmodels reports them).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether the exact binomial test was used.
    pub exact: bool,
}

/// McNemar's test from the discordant counts `b` (A right, B wrong) and `c`
/// (A wrong, B right).
///
/// * Exact: `p = min(1, 2 · P[X ≤ min(b, c)])` with `X ~ Binomial(b + c, ½)`;
///   `b = c = 0` gives `p = 1`.
/// * Chi-square: statistic `(|b − c| − 1)² / (b + c)` (statsmodels applies the
///   correction even when `|b − c| < 1`), `p` from the χ² distribution with one
///   degree of freedom. Errors when `b + c = 0` (statsmodels returns NaN).
pub fn mcnemar_counts(b: u64, c: u64, method: McNemarMethod) -> Result<McNemar> {
    let n = b
        .checked_add(c)
        .ok_or_else(|| Error::invalid("McNemar counts", format!("b + c overflows ({b} + {c})")))?;
    let exact = match method {
        McNemarMethod::Auto => n < MCNEMAR_EXACT_BELOW,
        McNemarMethod::Exact => true,
        McNemarMethod::ChiSquare => false,
    };
    if exact {
        let m = b.min(c);
        let p_value = (2.0 * binomial_half_cdf(m, n)).min(1.0);
        Ok(McNemar {
            b,
            c,
            statistic: m as f64,
            p_value,
            exact,
        })
    } else {
        if n == 0 {
            return Err(Error::Data(
                "McNemar chi-square test is undefined: the models never disagree (b + c = 0); \
                 use the exact test"
                    .to_string(),
            ));
        }
        let d = b.abs_diff(c) as f64 - 1.0;
        let statistic = d * d / n as f64;
        // χ²₁ survival function: the regularised upper incomplete gamma Q(½, s/2)
        // (equal to erfc(√(s/2)), but statrs' gamma_ur is the more accurate of the two).
        let p_value = if statistic == 0.0 {
            1.0
        } else {
            statrs::function::gamma::checked_gamma_ur(0.5, statistic / 2.0).map_err(|e| {
                Error::Numerical(format!("chi-square p-value for statistic {statistic}: {e}"))
            })?
        };
        Ok(McNemar {
            b,
            c,
            statistic,
            p_value,
            exact,
        })
    }
}

/// McNemar's test on the paired correctness of two classifiers that predicted
/// the same rows: `pred_a` and `pred_b` are compared with `y_true` (class
/// labels `0..k` as `f64`), then [`mcnemar_counts`] runs on the discordant counts.
pub fn mcnemar(
    y_true: ArrayView1<f64>,
    pred_a: ArrayView1<f64>,
    pred_b: ArrayView1<f64>,
    method: McNemarMethod,
) -> Result<McNemar> {
    input::same_len("y_true", y_true.len(), "pred_a", pred_a.len())?;
    input::same_len("y_true", y_true.len(), "pred_b", pred_b.len())?;
    let t = input::labels("y_true", y_true)?;
    let a = input::labels("pred_a", pred_a)?;
    let bp = input::labels("pred_b", pred_b)?;
    let (mut b, mut c) = (0u64, 0u64);
    for ((t, a), bp) in t.iter().zip(&a).zip(&bp) {
        match (a == t, bp == t) {
            (true, false) => b += 1,
            (false, true) => c += 1,
            _ => {}
        }
    }
    mcnemar_counts(b, c, method)
}

/// `P[X ≤ m]` for `X ~ Binomial(n, ½)` and `m ≤ n / 2`.
///
/// Sums `C(n, i) / C(n, m)` for `i = m, m−1, …, 0` (each term from the previous
/// by the ratio `i / (n − i + 1)`), then multiplies by `C(n, m) · 2⁻ⁿ`, which is
/// built as a product with an explicit power-of-two exponent so that it neither
/// overflows nor underflows before the final scaling. Relative error is a few
/// ulps per factor, far below `1e-12` for the sizes seen in practice.
fn binomial_half_cdf(m: u64, n: u64) -> f64 {
    debug_assert!(2 * m <= n);
    // Σ_{i ≤ m} C(n, i) / C(n, m)
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut i = m;
    while i > 0 {
        term *= i as f64 / (n - i + 1) as f64;
        sum += term;
        if term < sum * 1e-18 {
            break;
        }
        i -= 1;
    }
    // C(n, m) as mantissa · 2^exp.
    const BIG: f64 = f64::from_bits((1023 + 256) << 52); // exactly 2^256
    let mut mant = 1.0f64;
    let mut exp: i64 = 0;
    for j in 1..=m {
        mant *= (n - m + j) as f64 / j as f64;
        if mant > BIG {
            mant /= BIG;
            exp += 256;
        }
    }
    // result = sum · mant · 2^(exp − n), scaled in steps that stay exact.
    let mut result = sum * mant;
    let mut e = exp - n as i64;
    while e < -256 && result != 0.0 {
        result /= BIG;
        e += 256;
    }
    while e > 0 {
        let step = e.min(256);
        result *= 2f64.powi(step as i32);
        e -= step;
    }
    result * 2f64.powi(e as i32)
}
