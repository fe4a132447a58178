//! The prediction path of linear models: input checks, imputation, standardisation, the dot
//! product and the link function fused into one row-major pass over the input.
//!
//! The straightforward path ([`super::Preprocessor::transform`] into a new matrix, then a
//! matrix product) reads the input once per column for the checks, writes and re-reads a
//! standardised copy, and allocates the scores. Here every row is read once, in memory order:
//!
//! - **Standardisation folded into the coefficients, not the offsets**: the score term of a
//!   numeric column is `(x − mean) · (w / scale)` instead of `((x − mean) / scale) · w`. Each
//!   term differs from the straightforward one by at most about one rounding (a product instead
//!   of a quotient), so scores agree to ~1e-15 relative to the sum of the terms' magnitudes. The
//!   offset is *not* folded into the intercept (`x · w/σ − Σ w μ/σ`): with means far from zero
//!   that would subtract large numbers and lose digits.
//! - **Checks without a separate pass**: an infinite numeric input makes the row's score
//!   infinite or NaN (`±inf − mean` is infinite, times a coefficient is infinite or NaN, and
//!   sums keep it non-finite), so only a non-finite score sends the batch to
//!   [`crate::data::validate_features`], which reports the first bad value (column by column,
//!   the same typed error and message as before). A finite score proves every numeric input of
//!   the row finite. Categorical codes are checked where they are read.
//! - The link function (sigmoid / softmax) writes straight into the output arrays. Multinomial
//!   models compute the same expressions as the straightforward path (bit for bit, given the
//!   same scores). Binary models score a whole chunk first, then run the sigmoid over it in a
//!   loop without calls (an inlined exponential within a few units in the last place of
//!   `f64::exp`, and one division per row instead of two), which the compiler vectorises;
//!   probabilities agree with the straightforward path's to far better than 1e-12 relative.
//!
//! Large batches are split into row chunks scored in parallel by rayon; one thread runs the
//! same loop over the chunks in turn.

use super::{ColumnTransform, Preprocessor, Signature};
use crate::Result;
use crate::data::validate_features;
use crate::kernels::fused::CenteredDot;
#[cfg(target_arch = "x86_64")]
use crate::kernels::simd;
use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

/// Rows per parallel chunk.
const CHUNK: usize = 2048;

/// How one input column enters the score.
#[derive(Debug, Clone, Copy)]
enum Term {
    /// `(x or fill − mean) · coef[c]` for output `c`; coefficients at `coef[at * k ..]`.
    Numeric { fill: f64, mean: f64, at: usize },
    /// Level `l` adds `coef[(at + l) * k + c]`; NaN adds nothing; other codes are errors.
    OneHot { n_levels: usize, at: usize },
}

/// A linear score `intercepts + Σ terms` over encoded rows, with the preprocessing folded in.
#[derive(Debug)]
pub(crate) struct LinearKernel {
    terms: Vec<Term>,
    /// Outputs per row (scores), `k ≥ 1`.
    k: usize,
    /// Row-major (preprocessed input) × (outputs): numeric rows already divided by the scale.
    coef: Vec<f64>,
    intercepts: Vec<f64>,
    /// Every column numeric and one output: the per-row loop runs over plain slices.
    fast: Option<CenteredDot>,
    /// Present when the CPU has AVX (the all-numeric binary path then runs four lanes at a
    /// time, with the same partial sums).
    #[cfg(target_arch = "x86_64")]
    avx: Option<simd::Avx>,
    /// Present when the CPU has AVX2 (the binary link then runs four rows at a time; same
    /// bits).
    #[cfg(target_arch = "x86_64")]
    avx2: Option<simd::Avx2>,
}

impl LinearKernel {
    /// Fold `pre` into `weights` ((preprocessed inputs) × k, row-major by input as given by
    /// `weight(input, output)`). Shapes are checked by the models' `check`.
    pub(crate) fn new(
        pre: &Preprocessor,
        k: usize,
        weight: impl Fn(usize, usize) -> f64,
        intercepts: Vec<f64>,
    ) -> Self {
        let mut terms = Vec::with_capacity(pre.columns.len());
        let mut coef = Vec::with_capacity(pre.output_width() * k);
        let mut at = 0;
        for t in &pre.columns {
            match *t {
                ColumnTransform::Standardize { fill, mean, scale } => {
                    terms.push(Term::Numeric { fill, mean, at });
                    coef.extend((0..k).map(|c| weight(at, c) / scale));
                    at += 1;
                }
                ColumnTransform::OneHot { n_levels } => {
                    terms.push(Term::OneHot { n_levels, at });
                    for l in 0..n_levels {
                        coef.extend((0..k).map(|c| weight(at + l, c)));
                    }
                    at += n_levels;
                }
            }
        }
        let fast = (k == 1)
            .then(|| {
                let mut f = CenteredDot {
                    fill: Vec::with_capacity(terms.len()),
                    mean: Vec::with_capacity(terms.len()),
                    coef: Vec::with_capacity(terms.len()),
                };
                for t in &terms {
                    match *t {
                        Term::Numeric { fill, mean, at } => {
                            f.fill.push(fill);
                            f.mean.push(mean);
                            f.coef.push(coef[at]);
                        }
                        Term::OneHot { .. } => return None,
                    }
                }
                Some(f)
            })
            .flatten();
        LinearKernel {
            terms,
            k,
            coef,
            intercepts,
            fast,
            #[cfg(target_arch = "x86_64")]
            avx: simd::Avx::detect(),
            #[cfg(target_arch = "x86_64")]
            avx2: simd::Avx2::detect(),
        }
    }

    /// The scores of one row into `eta` (length `k`); `false` when a categorical code is not a
    /// level index. (Non-finite numerics show as non-finite scores.)
    #[inline(always)]
    fn score_row(&self, row: &[f64], eta: &mut [f64]) -> bool {
        let k = self.k;
        eta.fill(0.0);
        let mut ok = true;
        for (t, &x) in self.terms.iter().zip(row) {
            match *t {
                Term::Numeric { fill, mean, at } => {
                    let v = if x.is_nan() { fill } else { x } - mean;
                    for (e, &w) in eta.iter_mut().zip(&self.coef[at * k..(at + 1) * k]) {
                        *e += v * w;
                    }
                }
                Term::OneHot { n_levels, at } => {
                    if x.is_nan() {
                        continue;
                    }
                    if x >= 0.0 && x.fract() == 0.0 && (x as usize) < n_levels {
                        let r = (at + x as usize) * k;
                        for (e, &w) in eta.iter_mut().zip(&self.coef[r..r + k]) {
                            *e += w;
                        }
                    } else {
                        ok = false;
                    }
                }
            }
        }
        for (e, &b) in eta.iter_mut().zip(&self.intercepts) {
            *e += b;
        }
        ok
    }

    /// Score rows `r0..r0 + n` of `x` (columns already checked), handing each row's scores to
    /// `emit(row offset, scores)`. Returns whether every row was clean (finite scores, valid
    /// codes); otherwise the caller runs the full input check.
    fn score_rows(
        &self,
        x: ArrayView2<'_, f64>,
        r0: usize,
        n: usize,
        emit: impl FnMut(usize, &[f64]),
    ) -> bool {
        match &self.fast {
            Some(f) => {
                let b = self.intercepts[0];
                #[cfg(target_arch = "x86_64")]
                if let (Some(avx), Some(s)) = (self.avx, x.as_slice()) {
                    let p = x.ncols();
                    if p > 0 && p == f.coef.len() {
                        return avx.score_rows(f, b, &s[r0 * p..(r0 + n) * p], p, emit);
                    }
                }
                Self::rows_with(
                    x,
                    r0,
                    n,
                    self.k,
                    |row, eta| {
                        eta[0] = f.dot(row) + b;
                        true
                    },
                    emit,
                )
            }
            None => Self::rows_with(x, r0, n, self.k, |row, eta| self.score_row(row, eta), emit),
        }
    }

    /// [`LinearKernel::score_rows`] with the row scorer `score`.
    #[inline(always)]
    fn rows_with(
        x: ArrayView2<'_, f64>,
        r0: usize,
        n: usize,
        k: usize,
        score: impl Fn(&[f64], &mut [f64]) -> bool,
        mut emit: impl FnMut(usize, &[f64]),
    ) -> bool {
        let mut eta = vec![0.0; k];
        let mut clean = true;
        let p = x.ncols();
        let mut buf = Vec::new();
        match x.as_slice() {
            Some(s) if p > 0 => {
                for (i, row) in s[r0 * p..(r0 + n) * p].chunks_exact(p).enumerate() {
                    clean &= score(row, &mut eta) & eta[0].is_finite();
                    emit(i, &eta);
                }
            }
            _ => {
                for i in 0..n {
                    let r = x.row(r0 + i);
                    let row = match r.as_slice() {
                        Some(s) => s,
                        None => {
                            buf.clear();
                            buf.extend(r.iter().copied());
                            &buf[..]
                        }
                    };
                    clean &= score(row, &mut eta) & eta[0].is_finite();
                    emit(i, &eta);
                }
            }
        }
        clean
    }

    /// Run `chunk(r0, rows, out_a, out_b)` over chunks of `n` rows (in parallel when there is
    /// more than one chunk); `wa ≥ 1` and `wb` are the per-row widths of the two outputs. Checks the input when a
    /// chunk reports a problem.
    fn run(
        &self,
        schema_check: impl FnOnce() -> Result<()>,
        n: usize,
        (wa, wb): (usize, usize),
        chunk: impl Fn(usize, usize, &mut [f64], &mut [f64]) -> bool + Sync,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        let mut a = vec![0.0; n * wa];
        let mut b = vec![0.0; n * wb];
        let clean = if n <= CHUNK {
            chunk(0, n, &mut a, &mut b)
        } else if wb == 0 {
            a.par_chunks_mut(CHUNK * wa)
                .enumerate()
                .map(|(c, oa)| chunk(c * CHUNK, oa.len() / wa, oa, &mut []))
                .reduce(|| true, |x, y| x & y)
        } else {
            a.par_chunks_mut(CHUNK * wa)
                .zip(b.par_chunks_mut(CHUNK * wb))
                .enumerate()
                .map(|(c, (oa, ob))| chunk(c * CHUNK, oa.len() / wa, oa, ob))
                .reduce(|| true, |x, y| x & y)
        };
        if !clean {
            // Reports the first bad value exactly as the straightforward path did; when every
            // input is valid (scores overflowed, or the coefficients are not finite) the scores
            // stand as computed.
            schema_check()?;
        }
        Ok((a, b))
    }

    /// Class probabilities and predicted class indices of a logistic model (class 0 the
    /// reference class with score 0).
    pub(crate) fn predict_classes(
        &self,
        signature: &Signature,
        x: ArrayView2<'_, f64>,
    ) -> Result<(Array1<f64>, Array2<f64>)> {
        if x.ncols() != signature.inputs.n_features() {
            validate_features(&signature.inputs, x)?;
        }
        let n = x.nrows();
        let kc = self.k + 1;
        let (p, v) = self.run(
            || validate_features(&signature.inputs, x),
            n,
            (kc, 1),
            |r0, rows, probs, values| {
                if kc == 2 {
                    // Binary: the scores first, then the sigmoid over the whole chunk (a loop
                    // without calls, which the compiler vectorises).
                    let mut eta = vec![0.0; rows];
                    let clean = self.score_rows(x, r0, rows, |i, e| eta[i] = e[0]);
                    #[cfg(target_arch = "x86_64")]
                    if let Some(avx2) = self.avx2 {
                        avx2.run(BinaryLinks {
                            eta: &eta,
                            probs,
                            values,
                        });
                        return clean;
                    }
                    binary_links(&eta, probs, values);
                    return clean;
                }
                self.score_rows(x, r0, rows, |i, eta| {
                    let pr = &mut probs[i * kc..(i + 1) * kc];
                    link(eta, pr);
                    values[i] = argmax(pr);
                })
            },
        )?;
        Ok((
            Array1::from(v),
            Array2::from_shape_vec((n, kc), p).expect("n rows × classes"),
        ))
    }

    /// Values of a linear regression (one output).
    pub(crate) fn predict_values(
        &self,
        signature: &Signature,
        x: ArrayView2<'_, f64>,
    ) -> Result<Array1<f64>> {
        if x.ncols() != signature.inputs.n_features() {
            validate_features(&signature.inputs, x)?;
        }
        let (v, _) = self.run(
            || validate_features(&signature.inputs, x),
            x.nrows(),
            (1, 0),
            |r0, rows, values, _| self.score_rows(x, r0, rows, |i, eta| values[i] = eta[0]),
        )?;
        Ok(Array1::from(v))
    }
}

/// [`binary_links`] as a task, compiled for AVX2 through [`simd::Avx2::run`] (four rows
/// per instruction; same bits).
#[cfg(target_arch = "x86_64")]
struct BinaryLinks<'a> {
    eta: &'a [f64],
    probs: &'a mut [f64],
    values: &'a mut [f64],
}

#[cfg(target_arch = "x86_64")]
impl simd::Task for BinaryLinks<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        binary_links(self.eta, self.probs, self.values);
    }
}

/// Class probabilities from the scores of classes 1.. (class 0 scores 0): the softmax with the
/// largest score (at least 0) subtracted, as the straightforward path computes it.
#[inline]
fn link(eta: &[f64], p: &mut [f64]) {
    if let ([e], [p0, p1]) = (eta, &mut *p) {
        let e = *e;
        if e.is_finite() {
            // m = max(0, e): one of the two exponentials is exp(0) = 1 exactly.
            let t = (-e.abs()).exp();
            let (s0, v) = if e > 0.0 { (t, 1.0) } else { (1.0, t) };
            let s = s0 + v;
            *p0 = s0 / s;
            *p1 = v / s;
            return;
        }
    }
    let m = eta.iter().fold(0.0_f64, |a, &b| a.max(b));
    let mut s = (-m).exp();
    p[0] = s;
    for (q, &e) in p[1..].iter_mut().zip(eta) {
        let v = (e - m).exp();
        *q = v;
        s += v;
    }
    for q in p.iter_mut() {
        *q /= s;
    }
}

/// Scores below `-EXP_MIN` (and non-finite ones) take the general path of [`link`].
const EXP_MIN: f64 = 700.0;

/// `exp(a)` for `-EXP_MIN ≤ a ≤ 0` without a call: `a = n·ln 2 + r` with `|r| ≤ ln 2 / 2`
/// (Cody–Waite: `ln 2` split in two so `n·ln2_hi` is exact), `exp(r)` by its Taylor series to
/// the 13th power (truncation below 2e-17 relative), scaled by `2^n` through the exponent bits.
/// Within a few units in the last place of `f64::exp` (far inside the 1e-12 the fused path
/// promises).
#[inline(always)]
fn exp_nonpositive(a: f64) -> f64 {
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Round-to-nearest of a·log2(e) by the 1.5·2^52 trick (|a·log2 e| < 2^31).
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let z = a * std::f64::consts::LOG2_E + SHIFT;
    let n = z - SHIFT;
    let r = (a - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    // `z`'s low bits hold n (two's complement, |n| ≤ 1010); 2^n as bits is (1023 + n) << 52,
    // a normal number for n ≥ −1022.
    let scale = f64::from_bits(((z.to_bits() as i64).wrapping_add(1023) as u64) << 52);
    p * scale
}

/// Binary class probabilities and classes from the scores `eta` (one per row) into `probs`
/// (two per row) and `values`: the same expressions as [`link`] (with one division, the
/// reciprocal of the sum, instead of two) over all rows, then [`link`] itself for the few
/// rows whose score is non-finite or larger than `EXP_MIN` in magnitude.
///
/// Only IEEE additions, multiplications and one division (no fused multiply-adds), so every
/// vector width the compiler picks gives the same bits.
#[inline(always)]
fn binary_links(eta: &[f64], probs: &mut [f64], values: &mut [f64]) {
    let mut odd = false;
    for ((&e, pr), v) in eta
        .iter()
        .zip(probs.chunks_exact_mut(2))
        .zip(values.iter_mut())
    {
        let a = -e.abs();
        // NaN and large magnitudes are redone below; clamp so the lanes stay harmless.
        let in_range = a >= -EXP_MIN;
        odd |= !in_range;
        let t = exp_nonpositive(a.max(-EXP_MIN));
        let pos = e > 0.0;
        let s0 = if pos { t } else { 1.0 };
        let w = if pos { 1.0 } else { t };
        let inv = 1.0 / (s0 + w);
        let (p0, p1) = (s0 * inv, w * inv);
        pr[0] = p0;
        pr[1] = p1;
        *v = if p1 > p0 { 1.0 } else { 0.0 };
    }
    if odd {
        for ((&e, pr), v) in eta
            .iter()
            .zip(probs.chunks_exact_mut(2))
            .zip(values.iter_mut())
        {
            let in_range = -e.abs() >= -EXP_MIN;
            if !in_range {
                link(&[e], pr);
                *v = argmax(pr);
            }
        }
    }
}

/// The index of the largest probability; the first wins a tie, NaN never wins.
#[inline]
fn argmax(p: &[f64]) -> f64 {
    p.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0 as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_a_few_ulps() {
        let mut a = 0.0;
        while a >= -EXP_MIN {
            let (got, want) = (exp_nonpositive(a), a.exp());
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want,
                "{a}: {got} vs {want}"
            );
            a -= 0.013_7;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn binary_links_give_the_same_bits_with_avx2() {
        let Some(avx2) = simd::Avx2::detect() else {
            return;
        };
        // Scores over the whole range, specials, and lengths that leave ragged tails.
        let mut eta: Vec<f64> = (0..4_000)
            .map(|i| ((i as f64) * 0.618_033_988_7).sin() * 900.0 / (1.0 + (i % 17) as f64))
            .collect();
        eta.extend([
            0.0,
            -0.0,
            1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            700.0,
        ]);
        for n in [0, 1, 3, 5, 7, 4_007] {
            let e = &eta[..n];
            let (mut pa, mut va) = (vec![0.0; 2 * n], vec![0.0; n]);
            let (mut pb, mut vb) = (vec![1.0; 2 * n], vec![1.0; n]);
            binary_links(e, &mut pa, &mut va);
            avx2.run(BinaryLinks {
                eta: e,
                probs: &mut pb,
                values: &mut vb,
            });
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&pa), bits(&pb), "probabilities, {n} scores");
            assert_eq!(bits(&va), bits(&vb), "classes, {n} scores");
        }
    }

    #[test]
    fn binary_links_match_link_including_extreme_scores() {
        let eta = [
            0.0,
            1.5,
            -2.25,
            36.0,
            -699.0,
            -701.0,
            750.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let (mut probs, mut values) = (vec![0.0; 2 * eta.len()], vec![0.0; eta.len()]);
        binary_links(&eta, &mut probs, &mut values);
        for (i, &e) in eta.iter().enumerate() {
            let mut want = [0.0; 2];
            link(&[e], &mut want);
            for c in 0..2 {
                let (g, w) = (probs[2 * i + c], want[c]);
                assert!(
                    g == w || (g - w).abs() <= 1e-12 * w.abs() || (g.is_nan() && w.is_nan()),
                    "score {e}, class {c}: {g} vs {w}"
                );
            }
            assert_eq!(values[i], argmax(&want), "score {e}");
        }
    }
}
