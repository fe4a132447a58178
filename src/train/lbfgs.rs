//! Limited-memory BFGS with a strong-Wolfe line search (pure; no I/O).
//!
//! The stopping rules are those of SciPy's L-BFGS-B (which scikit-learn's `lbfgs` solver
//! calls) for an unbounded problem: converged when the largest gradient component is at most
//! `gtol`, or when an iteration reduced the objective by a relative amount of at most `ftol`
//! (`(f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ ftol`); stopped unconverged after `max_iter`
//! iterations or when no step along the search direction (nor, after resetting the memory,
//! along the steepest descent) satisfies the line-search conditions.
//!
//! The search direction comes from the two-loop recursion over the last `memory` pairs
//! `(s, y)` with the initial Hessian scaled by `sᵀy / yᵀy`; pairs with too little curvature
//! (`sᵀy ≤ ε · yᵀy`) are skipped. The step satisfies the strong Wolfe conditions
//! (`c1 = 1e-4`, `c2 = 0.9`), found by bracketing and zooming with safeguarded cubic
//! interpolation (Nocedal & Wright, *Numerical Optimization*, algorithms 3.5 and 3.6).

use crate::{Error, Result};

/// An objective to minimise: `eval` returns `f(x)` and writes `∇f(x)` into `grad`.
pub(crate) trait Objective {
    /// Value at `x`, gradient into `grad` (same length as `x`).
    fn eval(&mut self, x: &[f64], grad: &mut [f64]) -> f64;
}

/// Solver settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbfgsOptions {
    /// Iteration cap.
    pub max_iter: usize,
    /// Converged when `max |∇f| ≤ gtol`.
    pub gtol: f64,
    /// Converged when the relative reduction of `f` in one iteration is `≤ ftol`.
    pub ftol: f64,
    /// Number of correction pairs kept.
    pub memory: usize,
    /// Objective evaluations allowed per line search.
    pub max_line_search: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            max_iter: 100,
            gtol: 1e-5,
            ftol: 64.0 * f64::EPSILON,
            memory: 10,
            max_line_search: 50,
        }
    }
}

/// Why the solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `max |∇f| ≤ gtol`.
    Gradient,
    /// The relative reduction of `f` fell to `ftol`.
    RelativeReduction,
    /// `max_iter` iterations ran.
    MaxIter,
    /// No acceptable step was found (usually rounding near the optimum, or a badly scaled
    /// problem).
    LineSearch,
}

impl Stop {
    /// Whether this counts as convergence.
    pub(crate) fn converged(self) -> bool {
        matches!(self, Stop::Gradient | Stop::RelativeReduction)
    }
}

/// The result of [`minimize`].
#[derive(Debug, Clone)]
pub(crate) struct LbfgsOutcome {
    /// The final point.
    pub x: Vec<f64>,
    /// The objective there.
    pub f: f64,
    /// The largest gradient component there.
    pub max_gradient: f64,
    /// Iterations run.
    pub n_iter: usize,
    /// Why it stopped.
    pub stop: Stop,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// Minimise `obj` from `x0`.
///
/// Errors only when the objective is not finite at `x0` (a non-finite value at a trial point
/// during a line search just shortens the step).
pub(crate) fn minimize(
    obj: &mut dyn Objective,
    x0: Vec<f64>,
    opts: &LbfgsOptions,
) -> Result<LbfgsOutcome> {
    let dim = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; dim];
    let mut f = obj.eval(&x, &mut g);
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(format!(
            "the objective is {f} at the starting point; check the data for extreme values"
        )));
    }
    let m = opts.memory.max(1);
    let mut s_hist = vec![vec![0.0; dim]; m];
    let mut y_hist = vec![vec![0.0; dim]; m];
    let mut rho = vec![0.0; m];
    let mut alpha_buf = vec![0.0; m];
    let (mut n_pairs, mut head) = (0usize, 0usize); // pairs stored; next slot to write
    let mut dir = vec![0.0; dim];
    let mut x_new = vec![0.0; dim];
    let mut g_new = vec![0.0; dim];
    let mut n_iter = 0;
    let outcome = |x: Vec<f64>, f: f64, g: &[f64], n_iter, stop| LbfgsOutcome {
        x,
        f,
        max_gradient: max_abs(g),
        n_iter,
        stop,
    };
    if max_abs(&g) <= opts.gtol {
        return Ok(outcome(x, f, &g, 0, Stop::Gradient));
    }
    loop {
        if n_iter >= opts.max_iter {
            return Ok(outcome(x, f, &g, n_iter, Stop::MaxIter));
        }
        // Two-loop recursion: dir = −H·g.
        dir.iter_mut().zip(&g).for_each(|(d, gi)| *d = -gi);
        for back in 0..n_pairs {
            let i = (head + m - 1 - back) % m;
            let a = rho[i] * dot(&s_hist[i], &dir);
            alpha_buf[i] = a;
            dir.iter_mut()
                .zip(&y_hist[i])
                .for_each(|(d, yv)| *d -= a * yv);
        }
        if n_pairs > 0 {
            let last = (head + m - 1) % m;
            let gamma = 1.0 / (rho[last] * dot(&y_hist[last], &y_hist[last]));
            dir.iter_mut().for_each(|d| *d *= gamma);
        }
        for fwd in 0..n_pairs {
            let i = (head + m - n_pairs + fwd) % m;
            let b = rho[i] * dot(&y_hist[i], &dir);
            let a = alpha_buf[i];
            dir.iter_mut()
                .zip(&s_hist[i])
                .for_each(|(d, sv)| *d += (a - b) * sv);
        }
        let mut dg0 = dot(&g, &dir);
        if dg0.is_nan() || dg0 >= 0.0 {
            // Not a descent direction (lost positive definiteness): restart from −g.
            n_pairs = 0;
            dir.iter_mut().zip(&g).for_each(|(d, gi)| *d = -gi);
            dg0 = dot(&g, &dir);
        }
        // First step of a fresh memory: unit length along the direction (SciPy's choice);
        // afterwards the quasi-Newton step 1.
        let alpha0 = if n_pairs == 0 {
            (1.0 / dot(&dir, &dir).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut ls = {
            let mut phi = |a: f64, xn: &mut [f64], gn: &mut [f64]| {
                for ((xn, xi), di) in xn.iter_mut().zip(&x).zip(&dir) {
                    *xn = xi + a * di;
                }
                let fv = obj.eval(xn, gn);
                (fv, dot(gn, &dir))
            };
            strong_wolfe(
                &mut phi,
                f,
                dg0,
                alpha0,
                opts.max_line_search,
                &mut x_new,
                &mut g_new,
            )
        };
        if ls.alpha.is_none() && n_pairs > 0 {
            // Retry once along the steepest descent with the memory cleared.
            n_pairs = 0;
            dir.iter_mut().zip(&g).for_each(|(d, gi)| *d = -gi);
            let dg0 = dot(&g, &dir);
            let alpha0 = (1.0 / dot(&dir, &dir).sqrt()).min(1.0);
            let mut phi = |a: f64, xn: &mut [f64], gn: &mut [f64]| {
                for ((xn, xi), di) in xn.iter_mut().zip(&x).zip(&dir) {
                    *xn = xi + a * di;
                }
                let fv = obj.eval(xn, gn);
                (fv, dot(gn, &dir))
            };
            ls = strong_wolfe(
                &mut phi,
                f,
                dg0,
                alpha0,
                opts.max_line_search,
                &mut x_new,
                &mut g_new,
            );
        }
        let Some(_) = ls.alpha else {
            return Ok(outcome(x, f, &g, n_iter, Stop::LineSearch));
        };
        let f_new = ls.f;
        n_iter += 1;

        // New correction pair.
        // New correction pair, kept only with enough curvature (the slot written, `head`,
        // holds the oldest pair when the memory is full, so check before writing).
        let (mut sy, mut yy) = (0.0, 0.0);
        for i in 0..dim {
            let (s, yv) = (x_new[i] - x[i], g_new[i] - g[i]);
            sy += s * yv;
            yy += yv * yv;
        }
        if sy > f64::EPSILON * yy && yy > 0.0 {
            let slot = head;
            for i in 0..dim {
                s_hist[slot][i] = x_new[i] - x[i];
                y_hist[slot][i] = g_new[i] - g[i];
            }
            rho[slot] = 1.0 / sy;
            head = (head + 1) % m;
            n_pairs = (n_pairs + 1).min(m);
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let reduction = (f - f_new) / f.abs().max(f_new.abs()).max(1.0);
        f = f_new;
        if max_abs(&g) <= opts.gtol {
            return Ok(outcome(x, f, &g, n_iter, Stop::Gradient));
        }
        if reduction <= opts.ftol {
            return Ok(outcome(x, f, &g, n_iter, Stop::RelativeReduction));
        }
    }
}

/// A point on the search line: step, value, directional derivative.
#[derive(Debug, Clone, Copy)]
struct Point {
    a: f64,
    f: f64,
    d: f64,
}

/// The line-search result: the accepted step (`None`: none found) and the objective there. On success `x_out`/`g_out` hold the accepted point and gradient.
struct LineSearch {
    alpha: Option<f64>,
    f: f64,
}

/// Minimiser of the cubic interpolating `(a, fa, da)` and `(b, fb, db)`, if it exists.
fn cubic_min(p: Point, q: Point) -> Option<f64> {
    let d1 = p.d + q.d - 3.0 * (p.f - q.f) / (p.a - q.a);
    let disc = d1 * d1 - p.d * q.d;
    if disc.is_nan() || disc < 0.0 {
        return None;
    }
    let d2 = (q.a - p.a).signum() * disc.sqrt();
    let t = q.a - (q.a - p.a) * (q.d + d2 - d1) / (q.d - p.d + 2.0 * d2);
    t.is_finite().then_some(t)
}

/// `phi(a, x_out, g_out) = (f(x + a·d), ∇f(x + a·d)·d)`, writing the point and gradient.
type LineFn<'a> = dyn FnMut(f64, &mut [f64], &mut [f64]) -> (f64, f64) + 'a;

/// Strong-Wolfe line search along `phi(a) = (f(x + a·d), ∇f(x + a·d)·d)`.
///
/// `phi` writes the trial point and its gradient into the two buffers it is given; the
/// accepted step is always the last one evaluated, so the buffers hold it on success.
fn strong_wolfe(
    phi: &mut LineFn<'_>,
    f0: f64,
    d0: f64,
    alpha0: f64,
    max_evals: usize,
    x_out: &mut [f64],
    g_out: &mut [f64],
) -> LineSearch {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    const ALPHA_MAX: f64 = 1e10;
    let armijo = |p: &Point| p.f <= f0 + C1 * p.a * d0;
    let curvature = |p: &Point| p.d.abs() <= -C2 * d0;
    let mut evals = 0;
    let mut eval = |a: f64, evals: &mut usize| {
        *evals += 1;
        let (f, d) = phi(a, x_out, g_out);
        Point { a, f, d }
    };
    let fail = || LineSearch { alpha: None, f: f0 };
    let mut prev = Point {
        a: 0.0,
        f: f0,
        d: d0,
    };
    let mut a = alpha0;
    // Bracketing phase.
    let (mut lo, mut hi) = loop {
        if evals >= max_evals {
            return fail();
        }
        let cur = eval(a, &mut evals);
        if !cur.f.is_finite() || !cur.d.is_finite() {
            // Overshot into overflow: shrink towards the last good point.
            a = prev.a + 0.5 * (a - prev.a);
            if a - prev.a <= f64::EPSILON * a.max(1.0) {
                return fail();
            }
            continue;
        }
        if !armijo(&cur) || (prev.a > 0.0 && cur.f >= prev.f) {
            break (prev, cur);
        }
        if curvature(&cur) {
            return LineSearch {
                alpha: Some(cur.a),
                f: cur.f,
            };
        }
        if cur.d >= 0.0 {
            break (cur, prev);
        }
        // Still descending: extrapolate (cubic if it points further out, else double).
        let next = cubic_min(prev, cur)
            .filter(|t| *t > cur.a)
            .unwrap_or(2.0 * cur.a)
            .clamp(1.1 * cur.a, 4.0 * cur.a)
            .min(ALPHA_MAX);
        if next <= cur.a {
            return fail();
        }
        prev = cur;
        a = next;
    };
    // Zoom phase: `lo` satisfies the sufficient decrease and has the lowest value so far;
    // the minimiser lies between `lo` and `hi`.
    loop {
        if evals >= max_evals {
            break;
        }
        let (left, right) = (lo.a.min(hi.a), lo.a.max(hi.a));
        let width = right - left;
        if width <= f64::EPSILON * right.max(1e-300) {
            break;
        }
        let mid = 0.5 * (left + right);
        let t = if hi.f.is_finite() {
            cubic_min(lo, hi)
                .filter(|t| *t > left + 0.1 * width && *t < right - 0.1 * width)
                .unwrap_or(mid)
        } else {
            mid
        };
        let cur = eval(t, &mut evals);
        if !cur.f.is_finite() || !armijo(&cur) || cur.f >= lo.f {
            hi = cur;
        } else {
            if curvature(&cur) {
                return LineSearch {
                    alpha: Some(cur.a),
                    f: cur.f,
                };
            }
            if cur.d * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = cur;
        }
    }
    // No point met both conditions; accept the best point with sufficient decrease, if it
    // improves on the start (re-evaluated so the buffers hold it).
    if lo.a > 0.0 && lo.f < f0 {
        let p = eval(lo.a, &mut evals);
        return LineSearch {
            alpha: Some(p.a),
            f: p.f,
        };
    }
    fail()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rosenbrock;
    impl Objective for Rosenbrock {
        fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        }
    }

    struct Quadratic(Vec<f64>);
    impl Objective for Quadratic {
        fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
            let mut f = 0.0;
            for (i, (xi, ci)) in x.iter().zip(&self.0).enumerate() {
                g[i] = ci * (xi - 1.0);
                f += 0.5 * ci * (xi - 1.0).powi(2);
            }
            f
        }
    }

    #[test]
    fn minimises_rosenbrock() {
        let opts = LbfgsOptions {
            max_iter: 200,
            gtol: 1e-9,
            ftol: 0.0,
            ..LbfgsOptions::default()
        };
        let r = minimize(&mut Rosenbrock, vec![-1.2, 1.0], &opts).unwrap();
        assert_eq!(r.stop, Stop::Gradient, "{r:?}");
        assert!(
            (r.x[0] - 1.0).abs() < 1e-7 && (r.x[1] - 1.0).abs() < 1e-7,
            "{r:?}"
        );
    }

    #[test]
    fn ill_conditioned_quadratic_converges_and_respects_max_iter() {
        // Condition number 100 over 20 dimensions (SciPy's L-BFGS-B needs 85 iterations).
        let c: Vec<f64> = (0..20).map(|i| 10f64.powf(i as f64 / 19.0 * 2.0)).collect();
        let opts = LbfgsOptions {
            max_iter: 500,
            gtol: 1e-8,
            ftol: 0.0,
            ..LbfgsOptions::default()
        };
        let r = minimize(&mut Quadratic(c.clone()), vec![0.0; 20], &opts).unwrap();
        assert!(r.stop.converged() && r.n_iter < 200, "{r:?}");
        assert!(r.x.iter().all(|v| (v - 1.0).abs() < 1e-8));
        let short = LbfgsOptions {
            max_iter: 3,
            ..opts
        };
        let r = minimize(&mut Quadratic(c), vec![0.0; 20], &short).unwrap();
        assert_eq!((r.stop, r.n_iter), (Stop::MaxIter, 3));
        assert!(!r.stop.converged());
    }

    #[test]
    fn non_finite_start_is_an_error() {
        struct Bad;
        impl Objective for Bad {
            fn eval(&mut self, _: &[f64], g: &mut [f64]) -> f64 {
                g.fill(0.0);
                f64::NAN
            }
        }
        assert!(minimize(&mut Bad, vec![0.0], &LbfgsOptions::default()).is_err());
    }
}
