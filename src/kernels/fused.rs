//! The inner loop of fused linear prediction: `Σ (x or fill − mean) · coef` over rows of
//! plain `f64` slices, two lanes at a time (SSE2, the x86_64 baseline) or four rows at a
//! time (AVX, detected at run time), with a portable twin the SIMD versions are tested
//! against. The model-facing code (terms, links, chunking) is `model::fused`.

/// Parameters of an all-numeric, single-output linear score, one entry per input column:
/// the value imputed for a missing input, the mean subtracted, the coefficient.
#[derive(Debug)]
pub(crate) struct CenteredDot {
    /// Imputed for a NaN input.
    pub(crate) fill: Vec<f64>,
    /// Subtracted from each input.
    pub(crate) mean: Vec<f64>,
    /// Multiplies each centred input.
    pub(crate) coef: Vec<f64>,
}

impl CenteredDot {
    /// `Σ (x or fill − mean) · coef` over one row: four partial sums (terms `j` with the
    /// same `j % 4`, each in order), added as `(s0 + s1) + (s2 + s3)`, then the tail. The
    /// x86-64 version computes the same partial sums two lanes at a time (SSE2, always
    /// present). Extra values on either side are ignored.
    #[inline(always)]
    pub(crate) fn dot(&self, row: &[f64]) -> f64 {
        let n = row.len().min(self.coef.len());
        let (row, fill, mean, coef) =
            (&row[..n], &self.fill[..n], &self.mean[..n], &self.coef[..n]);
        let split = n / 4 * 4;
        let [s0, s1, s2, s3] = partial_sums(
            &row[..split],
            &fill[..split],
            &mean[..split],
            &coef[..split],
        );
        ((s0 + s1) + (s2 + s3)) + tail(row, fill, mean, coef, split)
    }
}

/// The terms of `row` from `split` on (missing values imputed), summed in order.
#[inline(always)]
fn tail(row: &[f64], fill: &[f64], mean: &[f64], coef: &[f64], split: usize) -> f64 {
    let n = row.len();
    let mut tail = 0.0;
    for (((&x, &fl), &m), &w) in row[split..]
        .iter()
        .zip(&fill[split..n])
        .zip(&mean[split..n])
        .zip(&coef[split..n])
    {
        let v = if x.is_nan() { fl } else { x };
        tail += (v - m) * w;
    }
    tail
}

/// The four partial sums of [`CenteredDot::dot`] over slices of equal length, a multiple
/// of 4 (only the common multiple-of-4 prefix of the four is read otherwise).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn partial_sums(row: &[f64], fill: &[f64], mean: &[f64], coef: &[f64]) -> [f64; 4] {
    use std::arch::x86_64::*;
    let n = row.len().min(fill.len()).min(mean.len()).min(coef.len());
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads `k..k + 2` with
    // `k + 2 <= j + 4 <= n`, inside all four slices (each at least `n` long).
    unsafe {
        let (mut a01, mut a23) = (_mm_setzero_pd(), _mm_setzero_pd());
        let mut j = 0;
        while j + 4 <= n {
            let term = |k: usize| {
                let x = _mm_loadu_pd(row.as_ptr().add(k));
                let nan = _mm_cmpunord_pd(x, x);
                let v = _mm_or_pd(
                    _mm_and_pd(nan, _mm_loadu_pd(fill.as_ptr().add(k))),
                    _mm_andnot_pd(nan, x),
                );
                _mm_mul_pd(
                    _mm_sub_pd(v, _mm_loadu_pd(mean.as_ptr().add(k))),
                    _mm_loadu_pd(coef.as_ptr().add(k)),
                )
            };
            a01 = _mm_add_pd(a01, term(j));
            a23 = _mm_add_pd(a23, term(j + 2));
            j += 4;
        }
        let mut out = [0.0; 4];
        _mm_storeu_pd(out.as_mut_ptr(), a01);
        _mm_storeu_pd(out.as_mut_ptr().add(2), a23);
        out
    }
}

/// The four partial sums of [`CenteredDot::dot`] over slices of equal length, a multiple
/// of 4.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn partial_sums(row: &[f64], fill: &[f64], mean: &[f64], coef: &[f64]) -> [f64; 4] {
    partial_sums_portable(row, fill, mean, coef)
}

/// The portable twin of [`partial_sums`]: the same four lanes, the same order.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn partial_sums_portable(row: &[f64], fill: &[f64], mean: &[f64], coef: &[f64]) -> [f64; 4] {
    let mut acc = [0.0f64; 4];
    for (((x, fl), m), w) in row
        .chunks_exact(4)
        .zip(fill.chunks_exact(4))
        .zip(mean.chunks_exact(4))
        .zip(coef.chunks_exact(4))
    {
        for l in 0..4 {
            let v = if x[l].is_nan() { fl[l] } else { x[l] };
            acc[l] += (v - m[l]) * w[l];
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{CenteredDot, tail};
    use crate::kernels::simd::Avx;
    use std::arch::x86_64::*;

    impl Avx {
        /// Score the contiguous rows `rows` (`p` values each, `p` the width of `f`),
        /// handing each score (intercept `b` included) to `emit`; whether every score was
        /// finite. Four lanes at a time: lane `l` sums the terms `j ≡ l (mod 4)` in order,
        /// exactly as [`CenteredDot::dot`] does, and without fused multiply-adds, so the
        /// scores are bit for bit those of the two-lane path.
        ///
        /// Panics unless `p > 0` and `f` has `p` values of each kind (the caller's
        /// invariant: the kernel was built for this width).
        pub(crate) fn score_rows(
            self,
            f: &CenteredDot,
            b: f64,
            rows: &[f64],
            p: usize,
            emit: impl FnMut(usize, &[f64]),
        ) -> bool {
            assert!(p > 0 && f.coef.len() == p && f.fill.len() == p && f.mean.len() == p);
            // SAFETY: the token proves the processor has AVX; the widths were checked.
            unsafe { score_rows(f, b, rows, p, emit) }
        }
    }

    /// See [`Avx::score_rows`].
    ///
    /// # Safety
    /// The CPU must have AVX, `p > 0`, and `f` must have `p` values of each kind.
    #[target_feature(enable = "avx")]
    unsafe fn score_rows(
        f: &CenteredDot,
        b: f64,
        rows: &[f64],
        p: usize,
        mut emit: impl FnMut(usize, &[f64]),
    ) -> bool {
        let mut clean = true;
        let mut finish = |i: usize, e: f64, row: &[f64]| {
            // Without imputation first: a missing value makes the sum NaN, and the row is
            // summed again with it (rows without missing values give the same numbers either
            // way).
            let e = if e.is_finite() {
                e
            } else {
                // SAFETY: AVX is available (this function's contract); `row` has `p`
                // values, as have `f`'s slices.
                unsafe { sum::<true>(f, row) }
            };
            let eta = e + b;
            clean &= eta.is_finite();
            emit(i, &[eta]);
        };
        // Four rows at a time: four independent sums in flight instead of one chain of
        // additions, and each coefficient and mean loaded once for the four.
        let mut groups = rows.chunks_exact(4 * p);
        for (g, group) in groups.by_ref().enumerate() {
            // SAFETY: AVX is available; `group` holds four rows of `p` values.
            let s = unsafe { sum4(f, group) };
            for (l, (&e, row)) in s.iter().zip(group.chunks_exact(p)).enumerate() {
                finish(4 * g + l, e, row);
            }
        }
        let done = (rows.len() - groups.remainder().len()) / p;
        for (i, row) in groups.remainder().chunks_exact(p).enumerate() {
            // SAFETY: as above; `row` has `p` values.
            let e = unsafe { sum::<false>(f, row) };
            finish(done + i, e, row);
        }
        clean
    }

    /// [`sum`] without imputation over four consecutive rows of the kernel's width: the
    /// same partial sums per row in the same order, so each result is bit for bit the
    /// one-row result.
    ///
    /// # Safety
    /// The CPU must have AVX (the lengths are checked).
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn sum4(f: &CenteredDot, rows: &[f64]) -> [f64; 4] {
        let n = f.coef.len();
        assert!(rows.len() == 4 * n && f.fill.len() == n && f.mean.len() == n);
        let split = n / 4 * 4;
        // SAFETY: AVX is available; every load reads `j..j + 4` with `j + 4 <= split <= n`
        // from `mean`, `coef` (`n` values) and from row `r` at `r * n` (`rows` holds 4 × n).
        let lanes = unsafe {
            let mut acc = [_mm256_setzero_pd(); 4];
            let mut j = 0;
            while j < split {
                let m = _mm256_loadu_pd(f.mean.as_ptr().add(j));
                let w = _mm256_loadu_pd(f.coef.as_ptr().add(j));
                for (r, a) in acc.iter_mut().enumerate() {
                    let x = _mm256_loadu_pd(rows.as_ptr().add(r * n + j));
                    *a = _mm256_add_pd(*a, _mm256_mul_pd(_mm256_sub_pd(x, m), w));
                }
                j += 4;
            }
            let mut lanes = [[0.0; 4]; 4];
            for (l, a) in lanes.iter_mut().zip(acc) {
                _mm256_storeu_pd(l.as_mut_ptr(), a);
            }
            lanes
        };
        let mut out = [0.0; 4];
        for ((o, s), row) in out.iter_mut().zip(lanes).zip(rows.chunks_exact(n)) {
            *o = ((s[0] + s[1]) + (s[2] + s[3])) + tail(row, &f.fill, &f.mean, &f.coef, split);
        }
        out
    }

    /// `Σ (x or fill − mean) · coef` over one row of the kernel's width (`BLEND`: impute
    /// missing values; otherwise NaN propagates).
    ///
    /// # Safety
    /// The CPU must have AVX, and `row`, `f.fill`, `f.mean`, `f.coef` must all have the
    /// same length.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn sum<const BLEND: bool>(f: &CenteredDot, row: &[f64]) -> f64 {
        let n = row.len();
        let split = n / 4 * 4;
        // SAFETY: AVX is available; every load reads `j..j + 4` with `j + 4 <= split <= n`,
        // and `row`, `fill`, `mean`, `coef` all have `n` values (this function's contract).
        let s = unsafe {
            let mut acc = _mm256_setzero_pd();
            let mut j = 0;
            while j < split {
                let x = _mm256_loadu_pd(row.as_ptr().add(j));
                let v = if BLEND {
                    let nan = _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x);
                    _mm256_blendv_pd(x, _mm256_loadu_pd(f.fill.as_ptr().add(j)), nan)
                } else {
                    x
                };
                let d = _mm256_sub_pd(v, _mm256_loadu_pd(f.mean.as_ptr().add(j)));
                acc = _mm256_add_pd(
                    acc,
                    _mm256_mul_pd(d, _mm256_loadu_pd(f.coef.as_ptr().add(j))),
                );
                j += 4;
            }
            let mut s = [0.0; 4];
            _mm256_storeu_pd(s.as_mut_ptr(), acc);
            s
        };
        ((s[0] + s[1]) + (s[2] + s[3])) + tail(row, &f.fill, &f.mean, &f.coef, split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_dot(rng: &mut rand_chacha::ChaCha8Rng, p: usize) -> CenteredDot {
        let mut v =
            |s: f64| -> Vec<f64> { (0..p).map(|_| (rng.random::<f64>() - 0.5) * s).collect() };
        CenteredDot {
            fill: v(2.0),
            mean: v(10.0),
            coef: v(3.0),
        }
    }

    /// The SSE2 partial sums against the portable twin, and the AVX rows against the
    /// one-row dot product, bit for bit, with missing values and non-finite inputs.
    #[test]
    fn simd_sums_match_the_portable_twin() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
        for p in 1..=37usize {
            let f = random_dot(&mut rng, p);
            let n_rows = rng.random_range(0..=11usize);
            let rows: Vec<f64> = (0..n_rows * p)
                .map(|_| match rng.random_range(0..40u32) {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    _ => (rng.random::<f64>() - 0.5) * 20.0,
                })
                .collect();
            for row in rows.chunks_exact(p) {
                let split = p / 4 * 4;
                let (a, b) = (
                    partial_sums(
                        &row[..split],
                        &f.fill[..split],
                        &f.mean[..split],
                        &f.coef[..split],
                    ),
                    partial_sums_portable(
                        &row[..split],
                        &f.fill[..split],
                        &f.mean[..split],
                        &f.coef[..split],
                    ),
                );
                assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "p = {p}");
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(avx) = crate::kernels::simd::Avx::detect() {
                let mut got = vec![f64::NAN; n_rows];
                let clean = avx.score_rows(&f, 0.25, &rows, p, |i, e| got[i] = e[0]);
                let want: Vec<f64> = rows.chunks_exact(p).map(|r| f.dot(r) + 0.25).collect();
                assert_eq!(
                    got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    "p = {p}"
                );
                assert_eq!(clean, want.iter().all(|x| x.is_finite()), "p = {p}");
            }
        }
    }
}
