//! Logistic and ridge regression: pure fitting routines.

use super::linalg::cholesky_solve;
use crate::data::{Dataset, TargetKind};
use crate::model::{LinearModel, LogisticModel, Preprocessor, Signature};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// Unchecked logistic-regression parameters; call [`LogisticParams::check`] to use them.
///
/// The objective is the summed log loss plus `l2/2 · ‖w‖²` (intercepts unpenalised), i.e.
/// scikit-learn's `C = 1/l2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty strength (≥ 0; 0 is unpenalised and fails on separable data).
    pub l2: f64,
    /// Maximum Newton iterations.
    pub max_iter: usize,
    /// Convergence tolerance on the largest gradient component, relative to the row count.
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            max_iter: 100,
            tol: 1e-8,
        }
    }
}

/// Logistic-regression parameters that passed [`LogisticParams::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedLogisticParams(LogisticParams);

impl CheckedLogisticParams {
    /// The checked values.
    pub fn get(&self) -> &LogisticParams {
        &self.0
    }
}

impl LogisticParams {
    /// Set the L2 penalty.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }
    /// Set the iteration cap.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Validate.
    pub fn check(self) -> Result<CheckedLogisticParams> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::invalid(
                "l2 penalty",
                format!("{} must be a finite number ≥ 0", self.l2),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::invalid("max_iter", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(Error::invalid("tol", format!("{} must be > 0", self.tol)));
        }
        Ok(CheckedLogisticParams(self))
    }
}

/// Unchecked ridge-regression parameters (`l2 = 0` is ordinary least squares).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeParams {
    /// L2 penalty on the coefficients (intercept unpenalised), ≥ 0.
    pub l2: f64,
}

impl Default for RidgeParams {
    fn default() -> Self {
        RidgeParams { l2: 1.0 }
    }
}

/// Ridge parameters that passed [`RidgeParams::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedRidgeParams(RidgeParams);

impl CheckedRidgeParams {
    /// The checked values.
    pub fn get(&self) -> &RidgeParams {
        &self.0
    }
}

impl RidgeParams {
    /// Set the L2 penalty.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }
    /// Validate.
    pub fn check(self) -> Result<CheckedRidgeParams> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::invalid(
                "l2 penalty",
                format!("{} must be a finite number ≥ 0", self.l2),
            ));
        }
        Ok(CheckedRidgeParams(self))
    }
}

fn check_training_data(data: &Dataset) -> Result<(Signature, &Array1<f64>)> {
    if data.is_empty() {
        return Err(Error::Data("cannot train on an empty dataset".into()));
    }
    let sig = Signature::from_training_schema(data.schema())?;
    let y = data.require_target()?;
    Ok((sig, y))
}

/// Fit a logistic regression (binary or multinomial) on labelled data.
pub fn fit_logistic(data: &Dataset, params: &CheckedLogisticParams) -> Result<LogisticModel> {
    let (signature, y) = check_training_data(data)?;
    let k = match &signature.target.kind {
        TargetKind::Binary { classes } | TargetKind::Multiclass { classes } => classes.len(),
        TargetKind::Regression => {
            return Err(Error::invalid(
                "algorithm",
                "logistic regression needs a classification target; use ridge regression for a numeric one",
            ));
        }
    };
    let mut counts = vec![0usize; k];
    for &v in y {
        counts[v as usize] += 1;
    }
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return Err(Error::Data(
            "the training data holds a single class; a classifier needs at least two".into(),
        ));
    }
    let preprocessor = Preprocessor::fit(data)?;
    let z = preprocessor.transform(data.features());
    let (weights, intercepts) = newton_softmax(z.view(), y.view(), k, params.get())?;
    Ok(LogisticModel {
        signature,
        preprocessor,
        weights,
        intercepts,
    })
}

/// Penalised multinomial logistic regression with class 0 as reference, by Newton's
/// method with step halving. Parameters per non-reference class: `d` weights + 1 intercept.
fn newton_softmax(
    z: ArrayView2<'_, f64>,
    y: ArrayView1<'_, f64>,
    k: usize,
    p: &LogisticParams,
) -> Result<(Array2<f64>, Array1<f64>)> {
    let (n, d) = z.dim();
    let m = k - 1;
    let q = d + 1; // per-class block: weights then intercept
    let dim = m * q;
    let mut theta = vec![0.0; dim];
    let objective = |theta: &[f64]| -> f64 {
        let mut loss = 0.0;
        for i in 0..n {
            let row = z.row(i);
            let mut eta = vec![0.0; k];
            for c in 0..m {
                let b = &theta[c * q..(c + 1) * q];
                eta[c + 1] = b[d] + row.iter().zip(b).map(|(x, w)| x * w).sum::<f64>();
            }
            let mx = eta.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let lse = mx + eta.iter().map(|e| (e - mx).exp()).sum::<f64>().ln();
            loss += lse - eta[y[i] as usize];
        }
        let pen: f64 = (0..m)
            .map(|c| theta[c * q..c * q + d].iter().map(|w| w * w).sum::<f64>())
            .sum();
        loss + 0.5 * p.l2 * pen
    };
    let mut f = objective(&theta);
    for _ in 0..p.max_iter {
        let mut grad = vec![0.0; dim];
        let mut hess = vec![0.0; dim * dim];
        let mut xi = vec![0.0; q];
        let mut prob = vec![0.0; k];
        for i in 0..n {
            for (t, v) in xi.iter_mut().zip(z.row(i).iter()) {
                *t = *v;
            }
            xi[d] = 1.0;
            prob[0] = 0.0;
            for c in 0..m {
                let b = &theta[c * q..(c + 1) * q];
                prob[c + 1] = xi.iter().zip(b).map(|(x, w)| x * w).sum::<f64>();
            }
            let mx = prob.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let s: f64 = prob
                .iter_mut()
                .map(|e| {
                    *e = (*e - mx).exp();
                    *e
                })
                .sum();
            prob.iter_mut().for_each(|e| *e /= s);
            let yi = y[i] as usize;
            for a in 0..m {
                let r = prob[a + 1] - if yi == a + 1 { 1.0 } else { 0.0 };
                for (u, x) in xi.iter().enumerate() {
                    grad[a * q + u] += r * x;
                }
                for b in 0..=a {
                    let w = prob[a + 1] * (if a == b { 1.0 } else { 0.0 } - prob[b + 1]);
                    if w == 0.0 {
                        continue;
                    }
                    for u in 0..q {
                        let wu = w * xi[u];
                        let row = (a * q + u) * dim + b * q;
                        for v in 0..q {
                            hess[row + v] += wu * xi[v];
                        }
                    }
                }
            }
        }
        // Symmetrise (only blocks b ≤ a were filled) and add the penalty.
        for a in 0..m {
            for b in 0..a {
                for u in 0..q {
                    for v in 0..q {
                        hess[(b * q + v) * dim + a * q + u] = hess[(a * q + u) * dim + b * q + v];
                    }
                }
            }
            for u in 0..d {
                let idx = a * q + u;
                grad[idx] += p.l2 * theta[idx];
                hess[idx * dim + idx] += p.l2;
            }
        }
        let gmax = grad.iter().fold(0.0_f64, |acc, g| acc.max(g.abs()));
        if gmax <= p.tol * n as f64 {
            return Ok(unpack(&theta, d, m));
        }
        // A tiny ridge keeps the system solvable when l2 = 0 and a column is constant.
        for idx in 0..dim {
            hess[idx * dim + idx] += 1e-10;
        }
        let step = cholesky_solve(&hess, &grad, dim).ok_or_else(|| {
            Error::Numerical(
                "logistic regression: the Hessian is singular; add an L2 penalty (l2 > 0)".into(),
            )
        })?;
        let mut t = 1.0;
        loop {
            let cand: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let fc = objective(&cand);
            if fc.is_finite() && fc <= f + 1e-12 * f.abs().max(1.0) {
                theta = cand;
                f = fc;
                break;
            }
            t *= 0.5;
            if t < 1e-10 {
                return Ok(unpack(&theta, d, m));
            }
        }
    }
    Err(Error::Numerical(format!(
        "logistic regression did not converge in {} iterations; the classes may be separable — increase l2 or max_iter",
        p.max_iter
    )))
}

fn unpack(theta: &[f64], d: usize, m: usize) -> (Array2<f64>, Array1<f64>) {
    let q = d + 1;
    let mut w = Array2::<f64>::zeros((d, m));
    let mut b = Array1::<f64>::zeros(m);
    for c in 0..m {
        for u in 0..d {
            w[[u, c]] = theta[c * q + u];
        }
        b[c] = theta[c * q + d];
    }
    (w, b)
}

/// Fit a ridge (or ordinary least squares) regression on labelled data.
pub fn fit_ridge(data: &Dataset, params: &CheckedRidgeParams) -> Result<LinearModel> {
    let (signature, y) = check_training_data(data)?;
    if signature.n_classes() != 0 {
        return Err(Error::invalid(
            "algorithm",
            "ridge regression needs a numeric target; use logistic regression for classes",
        ));
    }
    let preprocessor = Preprocessor::fit(data)?;
    let z = preprocessor.transform(data.features());
    let (n, d) = z.dim();
    let q = d + 1;
    let mut a = vec![0.0; q * q];
    let mut b = vec![0.0; q];
    let mut xi = vec![0.0; q];
    for i in 0..n {
        for (t, v) in xi.iter_mut().zip(z.row(i).iter()) {
            *t = *v;
        }
        xi[d] = 1.0;
        for u in 0..q {
            b[u] += xi[u] * y[i];
            for v in 0..=u {
                a[u * q + v] += xi[u] * xi[v];
            }
        }
    }
    for u in 0..q {
        for v in 0..u {
            a[v * q + u] = a[u * q + v];
        }
    }
    for u in 0..d {
        a[u * q + u] += params.get().l2;
    }
    let sol = cholesky_solve(&a, &b, q).ok_or_else(|| {
        Error::Numerical(
            "least squares is singular (collinear or constant columns); use l2 > 0".into(),
        )
    })?;
    Ok(LinearModel {
        signature,
        preprocessor,
        weights: Array1::from(sol[..d].to_vec()),
        intercept: sol[d],
    })
}
