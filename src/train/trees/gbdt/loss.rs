//! Losses: half squared error, binary log loss, multinomial log loss.
//!
//! Raw predictions are stored class-major: `raw[k * n + i]` for output `k` of sample `i`.

use rayon::prelude::*;

use crate::model::trees::gbdt::sigmoid;

/// The loss being minimised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loss {
    /// `0.5 (y - f)^2`.
    SquaredError,
    /// Binary cross-entropy on the logit.
    Binary,
    /// Multinomial cross-entropy on `k` logits.
    Multinomial(usize),
}

const PAR_MIN: usize = 8192;

impl Loss {
    /// Number of trees per boosting iteration.
    pub(crate) fn n_outputs(&self) -> usize {
        match self {
            Loss::Multinomial(k) => *k,
            _ => 1,
        }
    }

    /// Whether the hessian is constant (1) so histograms can skip it.
    pub(crate) fn constant_hessian(&self) -> bool {
        matches!(self, Loss::SquaredError)
    }

    /// Baseline raw prediction (one per output), as scikit-learn's intercept-only fit.
    pub(crate) fn baseline(&self, y: &[f64]) -> Vec<f64> {
        let n = y.len() as f64;
        let eps = f64::EPSILON;
        match *self {
            Loss::SquaredError => vec![y.iter().sum::<f64>() / n],
            Loss::Binary => {
                let p = (y.iter().sum::<f64>() / n).clamp(eps, 1.0 - eps);
                vec![(p / (1.0 - p)).ln()]
            }
            Loss::Multinomial(k) => {
                let mut counts = vec![0.0; k];
                for &v in y {
                    counts[v as usize] += 1.0;
                }
                let mut logs: Vec<f64> = counts
                    .iter()
                    .map(|c| (c / n).clamp(eps, 1.0 - eps).ln())
                    .collect();
                let mean = logs.iter().sum::<f64>() / k as f64;
                for l in &mut logs {
                    *l -= mean;
                }
                logs
            }
        }
    }

    /// Gradients and hessians (class-major, like `raw`).
    pub(crate) fn gradients(&self, y: &[f64], raw: &[f64], g: &mut [f32], h: &mut [f32]) {
        let n = y.len();
        match *self {
            Loss::SquaredError => {
                g.par_iter_mut()
                    .with_min_len(PAR_MIN)
                    .zip(raw.par_iter().zip(y.par_iter()))
                    .for_each(|(g, (&f, &y))| *g = (f - y) as f32);
                // Hessians are constant; `h` is not read.
            }
            Loss::Binary => {
                g.par_iter_mut()
                    .with_min_len(PAR_MIN)
                    .zip(h.par_iter_mut())
                    .zip(raw.par_iter().zip(y.par_iter()))
                    .for_each(|((g, h), (&f, &y))| {
                        let p = sigmoid(f);
                        *g = (p - y) as f32;
                        *h = (p * (1.0 - p)) as f32;
                    });
            }
            Loss::Multinomial(k) => {
                // log-sum-exp per sample, then each class-major slice independently.
                let lse: Vec<f64> = (0..n)
                    .into_par_iter()
                    .with_min_len(PAR_MIN)
                    .map(|i| {
                        let mut m = f64::NEG_INFINITY;
                        for j in 0..k {
                            m = m.max(raw[j * n + i]);
                        }
                        let mut s = 0.0;
                        for j in 0..k {
                            s += (raw[j * n + i] - m).exp();
                        }
                        m + s.ln()
                    })
                    .collect();
                for j in 0..k {
                    let rj = &raw[j * n..(j + 1) * n];
                    let target = j as f64;
                    g[j * n..(j + 1) * n]
                        .par_iter_mut()
                        .with_min_len(PAR_MIN)
                        .zip(h[j * n..(j + 1) * n].par_iter_mut())
                        .enumerate()
                        .for_each(|(i, (g, h))| {
                            let p = (rj[i] - lse[i]).exp();
                            let t = if y[i] == target { 1.0 } else { 0.0 };
                            *g = (p - t) as f32;
                            *h = (p * (1.0 - p)) as f32;
                        });
                }
            }
        }
    }

    /// Mean loss of `raw` against `y`.
    pub(crate) fn loss(&self, y: &[f64], raw: &[f64]) -> f64 {
        let n = y.len();
        if n == 0 {
            return 0.0;
        }
        let total: f64 = match *self {
            Loss::SquaredError => y
                .iter()
                .zip(raw)
                .map(|(&y, &f)| 0.5 * (y - f) * (y - f))
                .sum(),
            Loss::Binary => y.iter().zip(raw).map(|(&y, &f)| log1p_exp(f) - y * f).sum(),
            Loss::Multinomial(k) => (0..n)
                .map(|i| {
                    let mut m = f64::NEG_INFINITY;
                    for j in 0..k {
                        m = m.max(raw[j * n + i]);
                    }
                    let mut s = 0.0;
                    for j in 0..k {
                        s += (raw[j * n + i] - m).exp();
                    }
                    m + s.ln() - raw[y[i] as usize * n + i]
                })
                .sum(),
        };
        total / n as f64
    }
}

/// `ln(1 + e^f)`, numerically stable.
#[inline]
fn log1p_exp(f: f64) -> f64 {
    if f > 0.0 {
        f + (-f).exp().ln_1p()
    } else {
        f.exp().ln_1p()
    }
}
