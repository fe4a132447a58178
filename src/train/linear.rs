//! Logistic and ridge regression: pure fitting routines.
//!
//! Logistic regression is solved by L-BFGS ([`super::lbfgs`]) on scikit-learn's objective,
//! so that `LogisticParams { l2, max_iter, tol }` behaves like
//! `LogisticRegression(C=1/l2, solver="lbfgs", max_iter=max_iter, tol=tol)` on the same
//! (preprocessed) inputs.

use super::lbfgs::{LbfgsOptions, Objective, Stop, minimize};
use super::linalg::cholesky_solve;
use crate::data::{Dataset, TargetKind};
use crate::model::{LinearModel, LogisticConvergence, LogisticModel, Preprocessor, Signature};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Unchecked logistic-regression parameters; call [`LogisticParams::check`] to use them.
///
/// The objective is the summed log loss plus `l2/2 · ‖w‖²` over every class's weights
/// (intercepts unpenalised), i.e. scikit-learn's `LogisticRegression` with `C = 1/l2`: one
/// weight vector for two classes, the full multinomial (softmax) parametrisation for more.
/// It is minimised by L-BFGS with SciPy's stopping rules, as scikit-learn's `lbfgs` solver
/// does, on the loss divided by the row count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty strength `1/C` (≥ 0; 0 is unpenalised, and on separable data then does not
    /// converge).
    pub l2: f64,
    /// Maximum L-BFGS iterations (scikit-learn's `max_iter`).
    pub max_iter: usize,
    /// Convergence tolerance: the fit stops when the largest gradient component of the mean
    /// loss (plus penalty / n) is at most `tol` (scikit-learn's `tol`, SciPy's `gtol`), or when
    /// an iteration lowers the objective by a relative `64 ε` or less.
    pub tol: f64,
}

impl Default for LogisticParams {
    /// scikit-learn's defaults: `l2 = 1` (`C = 1`), `max_iter = 100`, `tol = 1e-4`.
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            max_iter: 100,
            tol: 1e-4,
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
    /// Set the convergence tolerance.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
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
///
/// The inputs are preprocessed first (see [`Preprocessor`]). When the solver stops before
/// converging (`max_iter` reached, or no acceptable step), the model is still returned, with
/// [`LogisticModel::convergence`] saying so and why (scikit-learn warns in that case); errors
/// are kept for unusable data and numerical breakdown.
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
    let classes: Vec<u32> = y.iter().map(|&v| v as u32).collect();
    let (weights, intercepts, convergence) = lbfgs_logistic(z.view(), &classes, k, params.get())?;
    Ok(LogisticModel {
        signature,
        preprocessor,
        weights,
        intercepts,
        convergence: Some(convergence),
    })
}

/// Rows per chunk of the loss/gradient pass. Chunks are evaluated in parallel and their
/// partial sums added in chunk order, so the result does not depend on the thread count.
const CHUNK_ROWS: usize = 2048;

/// The penalised logistic loss, scaled as scikit-learn's `lbfgs` solver scales it:
///
/// `f(θ) = (1/n) Σᵢ loss(yᵢ, ηᵢ) + l2/(2n) · Σ_c ‖w_c‖²`, intercepts unpenalised,
///
/// which is scikit-learn's `C · Σᵢ loss + ½‖w‖²` divided by `C · n` with `C = 1/l2`. Binary
/// targets use one weight vector (`η = b + z·w`, log loss); three or more classes use the
/// full multinomial parametrisation (one weight vector per class, softmax, every class's
/// weights penalised), as scikit-learn does. `θ` holds, per output `c`, the `d` weights then
/// the intercept.
struct LogisticObjective<'a> {
    /// Preprocessed inputs, row-major `n × d`.
    z: &'a [f64],
    /// Class index per row.
    y: &'a [u32],
    n: usize,
    d: usize,
    /// Outputs: 1 (binary) or the class count.
    k: usize,
    l2: f64,
    /// Per chunk: the loss, then the gradient (`k · (d + 1)`), then `k` scratch slots.
    partials: Vec<f64>,
}

impl<'a> LogisticObjective<'a> {
    fn new(z: &'a [f64], y: &'a [u32], d: usize, k: usize, l2: f64) -> Self {
        let n = y.len();
        let n_chunks = n.div_ceil(CHUNK_ROWS);
        LogisticObjective {
            z,
            y,
            n,
            d,
            k,
            l2,
            partials: vec![0.0; n_chunks * Self::stride(d, k)],
        }
    }

    fn stride(d: usize, k: usize) -> usize {
        1 + k * (d + 1) + k
    }
}

/// `Σ a_i b_i` with four independent accumulators (lets the compiler use SIMD lanes; the
/// summation order is fixed, so results are reproducible).
#[inline]
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// `acc += r · x`.
#[inline]
fn axpy(acc: &mut [f64], r: f64, x: &[f64]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a += r * v;
    }
}

/// Loss and gradient (unscaled sums) of one chunk of rows into `out`
/// (`[loss, gradient…, scratch…]`, see [`LogisticObjective::partials`]).
fn chunk_loss_grad(theta: &[f64], z: &[f64], y: &[u32], d: usize, k: usize, out: &mut [f64]) {
    let q = d + 1;
    let (head, scratch) = out.split_at_mut(1 + k * q);
    head.fill(0.0);
    let (loss_slot, grad) = head.split_at_mut(1);
    let mut loss = 0.0;
    if k == 1 {
        let (w, b) = (&theta[..d], theta[d]);
        let (gw, gb) = grad.split_at_mut(d);
        let mut sum_r = 0.0;
        for (i, &yi) in y.iter().enumerate() {
            let x = &z[i * d..(i + 1) * d];
            let eta = b + dot4(x, w);
            let yi = yi as f64;
            // softplus(η) − y·η and σ(η), without overflow.
            let (softplus, p) = if eta > 0.0 {
                let e = (-eta).exp();
                (eta + e.ln_1p(), 1.0 / (1.0 + e))
            } else {
                let e = eta.exp();
                (e.ln_1p(), e / (1.0 + e))
            };
            loss += softplus - yi * eta;
            let r = p - yi;
            axpy(gw, r, x);
            sum_r += r;
        }
        gb[0] = sum_r;
    } else {
        let eta = &mut scratch[..k];
        for (i, &yi) in y.iter().enumerate() {
            let x = &z[i * d..(i + 1) * d];
            let mut mx = f64::NEG_INFINITY;
            for (c, e) in eta.iter_mut().enumerate() {
                let t = &theta[c * q..(c + 1) * q];
                *e = t[d] + dot4(x, &t[..d]);
                mx = mx.max(*e);
            }
            let mut s = 0.0;
            for e in eta.iter() {
                s += (e - mx).exp();
            }
            let lse = mx + s.ln();
            loss += lse - eta[yi as usize];
            for (c, e) in eta.iter().enumerate() {
                let r = (e - lse).exp() - if c == yi as usize { 1.0 } else { 0.0 };
                let g = &mut grad[c * q..(c + 1) * q];
                axpy(&mut g[..d], r, x);
                g[d] += r;
            }
        }
    }
    loss_slot[0] = loss;
}

impl Objective for LogisticObjective<'_> {
    fn eval(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (self.d, self.k);
        let q = d + 1;
        let stride = Self::stride(d, k);
        let (z, y) = (self.z, self.y);
        let rows = CHUNK_ROWS;
        self.partials
            .par_chunks_mut(stride)
            .enumerate()
            .for_each(|(c, out)| {
                let r0 = c * rows;
                let r1 = (r0 + rows).min(y.len());
                chunk_loss_grad(theta, &z[r0 * d..r1 * d], &y[r0..r1], d, k, out);
            });
        // Reduce in chunk order (deterministic).
        let mut loss = 0.0;
        grad.fill(0.0);
        for part in self.partials.chunks_exact(stride) {
            loss += part[0];
            for (g, p) in grad.iter_mut().zip(&part[1..1 + k * q]) {
                *g += p;
            }
        }
        let inv_n = 1.0 / self.n as f64;
        let lam = self.l2 * inv_n;
        let mut penalty = 0.0;
        for (i, g) in grad.iter_mut().enumerate() {
            *g *= inv_n;
            if i % q != d {
                *g += lam * theta[i];
                penalty += theta[i] * theta[i];
            }
        }
        loss * inv_n + 0.5 * lam * penalty
    }
}

/// Minimise [`LogisticObjective`] by L-BFGS; returns the model coefficients in the
/// reference-class form of [`LogisticModel`] and how the solver ended.
fn lbfgs_logistic(
    z: ArrayView2<'_, f64>,
    y: &[u32],
    n_classes: usize,
    p: &LogisticParams,
) -> Result<(Array2<f64>, Array1<f64>, LogisticConvergence)> {
    let d = z.ncols();
    let z = z.as_standard_layout();
    let zs = z.as_slice().expect("a standard-layout array is contiguous");
    let k = if n_classes == 2 { 1 } else { n_classes };
    let q = d + 1;
    let mut obj = LogisticObjective::new(zs, y, d, k, p.l2);
    let opts = LbfgsOptions {
        max_iter: p.max_iter,
        gtol: p.tol,
        ..LbfgsOptions::default()
    };
    let r = minimize(&mut obj, vec![0.0; k * q], &opts)?;
    if !r.f.is_finite() || r.x.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "logistic regression diverged (non-finite coefficients); standardise extreme \
             inputs or increase l2"
                .into(),
        ));
    }
    let m = n_classes - 1;
    let mut w = Array2::<f64>::zeros((d, m));
    let mut b = Array1::<f64>::zeros(m);
    for c in 0..m {
        // Binary: the single vector is class 1's. Multinomial: class c+1 minus class 0
        // (softmax is unchanged by subtracting one class's scores from all).
        let (t, base) = if k == 1 {
            (&r.x[..q], None)
        } else {
            (&r.x[(c + 1) * q..(c + 2) * q], Some(&r.x[..q]))
        };
        for u in 0..=d {
            let v = t[u] - base.map_or(0.0, |b0| b0[u]);
            if u < d {
                w[[u, c]] = v;
            } else {
                b[c] = v;
            }
        }
    }
    let converged = r.stop.converged();
    let warning = (!converged).then(|| match r.stop {
        Stop::MaxIter => format!(
            "logistic regression did not converge in {} iterations (largest gradient component \
             {:.3e} > tol {:.1e}); increase max_iter, increase l2, or loosen tol",
            r.n_iter, r.max_gradient, p.tol
        ),
        _ => format!(
            "logistic regression stopped after {} iterations: no step along the search \
             direction lowered the loss (largest gradient component {:.3e} > tol {:.1e}); the \
             classes may be separable or the inputs badly scaled — increase l2 or loosen tol",
            r.n_iter, r.max_gradient, p.tol
        ),
    });
    Ok((
        w,
        b,
        LogisticConvergence {
            converged,
            n_iter: r.n_iter,
            max_gradient: r.max_gradient,
            warning,
        },
    ))
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
