//! The KS statistic, the first Wasserstein distance and equal-width histogram counts of two
//! large numeric samples, without sorting them.
//!
//! Every value is mapped to an order-preserving integer key (the order of `f64` numbers,
//! `-0.0` taken as `0.0`) and counted into a *fine bucket* of the key range: the range is
//! cut into at most 4,096 coarse buckets, and each coarse bucket into a power of two of
//! equal fine buckets, so that a fine bucket holds about [`TARGET`] values of the pooled
//! sample — fine where the data is dense, coarse where it is sparse. Each fine bucket
//! keeps, per sample, its count and the sum of `x − start` (exact by Sterbenz's lemma for
//! values of one sign within a factor 2 of the bucket's start).
//!
//! From the counts alone the ECDF difference `d = F_ref − F_cur` is known exactly at every
//! bucket end, and inside a bucket it lies between two bounds. A bucket is **resolved**
//! (its values gathered and sorted, a few dozen at a time) only when the answer depends on
//! the order inside it:
//! * KS: its bound on `|d|` reaches the largest `|d|` found at the bucket ends;
//! * W1 `= ∫ |d(x)| dx`: `d` may change sign inside it (otherwise `∫ d` over the bucket
//!   follows from the counts and sums: `Σ (end − x) = k·width − Σ (x − start)`);
//! * histograms: an edge falls inside it.
//!
//! Under no drift `d` is a random walk bridge with steps of `1/n` and crosses zero
//! `O(√n)` times, so only a small share of the buckets is resolved; with drift, fewer
//! still. The results are the numbers of the sort-and-merge path: `D` bit for bit (the
//! same `c1/n1 − c2/n2` at the same pooled value), W1 to rounding (the same integral
//! summed in a different order), histogram counts exactly.
//!
//! The path applies to samples with more than 20 distinct reference values (found among
//! every eighth reference value); [`bucketed_pair`] returns `None` otherwise, and callers
//! sort instead (cheap for such data).

use super::binning::{EdgeRule, numpy_edges};
use super::numeric::{Neumaier, pairwise_map};
use super::sample::{DroppedCounts, key_value as value, order_key};

/// Pooled values per fine bucket aimed at.
const TARGET: u64 = 64;
/// The search for 21 distinct reference values looks at every `SAMPLE_STEP`-th value.
const SAMPLE_STEP: usize = 8;
/// The coarse counts look at about this many values per side (at least every 64th).
const COARSE_SAMPLE: usize = 16_384;
/// log2 of the largest number of coarse buckets.
const COARSE_BITS: u32 = 12;

/// What [`bucketed_pair`] computes for one column pair.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BucketedPair {
    /// Finite values of the reference sample.
    pub n_reference: usize,
    /// Finite values of the current sample.
    pub n_current: usize,
    /// Non-finite values dropped from the reference sample.
    pub dropped_reference: DroppedCounts,
    /// Non-finite values dropped from the current sample.
    pub dropped_current: DroppedCounts,
    /// The KS statistic `D` as scipy computes it.
    pub ks_d: f64,
    /// The first Wasserstein distance.
    pub w1: f64,
    /// Population standard deviation of the reference sample.
    pub std_reference: f64,
    /// Evidently's numeric bins (Sturges edges on ref ∪ cur): per-bin counts of the
    /// reference and current samples, when asked for.
    pub sturges_counts: Option<(Vec<u64>, Vec<u64>)>,
    /// Share of the pooled values whose buckets had to be sorted (for tests and tuning).
    pub resolved_share: f64,
}

/// The order key of a finite value with `-0.0` taken as `0.0` (so equal numbers share a key
/// and the key order is the numeric order).
#[inline(always)]
fn key(x: f64) -> u64 {
    order_key(x + 0.0)
}

/// One pass over a sample: the range of its finite values and the non-finite counts.
struct Scan {
    /// Number of finite values.
    n: usize,
    dropped: DroppedCounts,
    min: f64,
    max: f64,
    /// Sum of the finite values (four running sums, added at the end).
    sum: f64,
}

/// Scan a sample in four independent lanes of `f64` arithmetic (so the loop vectorises):
/// the smallest and largest values (comparisons skip NaN) and the counts of NaN and ±inf.
/// Infinities are rare; when there are any, a second, plain pass splits them by sign and
/// finds the finite range. Non-finite values stay in place; the later passes skip them.
fn scan(x: &[f64]) -> Scan {
    const L: usize = 4;
    let mut lo = [f64::INFINITY; L];
    let mut hi = [f64::NEG_INFINITY; L];
    let mut nan = [0.0f64; L];
    let mut inf = [0.0f64; L];
    let mut sum = [0.0f64; L];
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for ch in chunks {
        for l in 0..L {
            let v = ch[l];
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
            nan[l] += if v.is_nan() { 1.0 } else { 0.0 };
            inf[l] += if v.abs() == f64::INFINITY { 1.0 } else { 0.0 };
            sum[l] += if v.is_finite() { v } else { 0.0 };
        }
    }
    for &v in rest {
        lo[0] = if v < lo[0] { v } else { lo[0] };
        hi[0] = if v > hi[0] { v } else { hi[0] };
        nan[0] += if v.is_nan() { 1.0 } else { 0.0 };
        inf[0] += if v.abs() == f64::INFINITY { 1.0 } else { 0.0 };
        sum[0] += if v.is_finite() { v } else { 0.0 };
    }
    let nan = nan.iter().sum::<f64>() as u64;
    let inf = inf.iter().sum::<f64>() as u64;
    let mut out = Scan {
        n: x.len() - (nan + inf) as usize,
        dropped: DroppedCounts {
            nan,
            ..DroppedCounts::default()
        },
        min: lo.iter().fold(f64::INFINITY, |a, &b| a.min(b)),
        max: hi.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)),
        sum: (sum[0] + sum[1]) + (sum[2] + sum[3]),
    };
    if inf > 0 {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in x {
            if v.is_finite() {
                min = min.min(v);
                max = max.max(v);
            } else if v == f64::INFINITY {
                out.dropped.pos_inf += 1;
            } else if v == f64::NEG_INFINITY {
                out.dropped.neg_inf += 1;
            }
        }
        out.min = min;
        out.max = max;
    }
    out
}

/// Population variance of the `n` finite values of `x` around their `mean`, as NumPy's
/// `x.var()` computes it (pairwise sum of the squared deviations); non-finite values count
/// as absent.
fn numpy_var(x: &[f64], n: usize, mean: f64) -> f64 {
    let n = n as f64;
    let ss = pairwise_map(x, &|v| {
        if v.is_finite() {
            (v - mean) * (v - mean)
        } else {
            0.0
        }
    });
    ss / n
}

/// The bucket layout: coarse bucket `c` covers keys `kmin + [c << s0, (c + 1) << s0)` and
/// is cut into `2^(s0 − shift)` fine buckets numbered from `base`, where
/// `table[c] = base << 6 | shift` (one load per value).
struct Layout {
    kmin: u64,
    kmax: u64,
    s0: u32,
    mask0: u64,
    table: Vec<u32>,
    n_fine: usize,
}

impl Layout {
    /// Fine bucket of a key and the key where that bucket starts.
    #[inline(always)]
    fn locate(&self, k: u64) -> (usize, u64) {
        let off = k - self.kmin;
        let c = (off >> self.s0) as usize;
        let entry = self.table[c];
        let sh = entry & 63;
        let fine = (entry >> 6) as usize + ((off & self.mask0) >> sh) as usize;
        (fine, self.kmin + ((off >> sh) << sh))
    }

    /// The key where each fine bucket starts, plus one past the end (clamped to `kmax`).
    fn starts(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.n_fine + 1);
        for (c, &entry) in self.table.iter().enumerate() {
            let sh = entry & 63;
            let sub = 1u64 << (self.s0 - sh);
            let first = ((c as u64) << self.s0) as u128;
            for s in 0..sub {
                let off = first + ((s as u128) << sh);
                let k = self.kmin as u128 + off;
                out.push(k.min(self.kmax as u128) as u64);
            }
        }
        out.push(self.kmax);
        out
    }
}

/// The keys of every `step`-th value of `v` that is finite.
fn finite_keys(v: &[f64], step: usize) -> impl Iterator<Item = u64> + '_ {
    v.iter()
        .step_by(step)
        .filter(|x| x.is_finite())
        .map(|&x| key(x))
}

/// Whether the keys hold at least 21 distinct values (stops at the 21st).
fn more_than_20_distinct(keys: impl Iterator<Item = u64>) -> bool {
    let mut seen = [0u64; 21];
    let mut n = 0usize;
    for k in keys {
        if !seen[..n].contains(&k) {
            seen[n] = k;
            n += 1;
            if n == seen.len() {
                return true;
            }
        }
    }
    false
}

/// A fixed-size bit set.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }

    #[inline(always)]
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
}

/// KS statistic, W1, the reference's standard deviation and (when `sturges`) Evidently's
/// Sturges-binned counts of two numeric samples (NaN / ±inf dropped and counted), or `None`
/// when the bucketed path does not apply (fewer than 21 distinct values among every
/// eighth reference value, an empty side, or a range wider than `f64` with bins asked
/// for); see the module documentation.
pub(crate) fn bucketed_pair(
    reference: &[f64],
    current: &[f64],
    sturges: bool,
) -> Option<BucketedPair> {
    let (rv, cv) = (reference, current);
    let (r, c) = rayon::join(|| scan(rv), || scan(cv));
    let (n1, n2) = (r.n, c.n);
    if n1 == 0 || n2 == 0 || n1.max(n2) > u32::MAX as usize {
        return None;
    }
    let (min, max) = (r.min.min(c.min), r.max.max(c.max));
    let (kmin, kmax) = (key(min), key(max));
    let span = kmax - kmin;
    let bits = 64 - span.leading_zeros();
    let s0 = bits.saturating_sub(COARSE_BITS);
    let n_coarse = (span >> s0) as usize + 1;

    // more than 20 distinct reference values (looked for among every `SAMPLE_STEP`-th)
    if !more_than_20_distinct(finite_keys(rv, SAMPLE_STEP)) {
        return None;
    }
    // coarse counts per side, from a sample (they only size the fine buckets), scaled
    let coarse = |v: &[f64], h: &mut [u64]| {
        let step = (v.len() / COARSE_SAMPLE).clamp(1, 64);
        for k in finite_keys(v, step) {
            h[((k - kmin) >> s0) as usize] += step as u64;
        }
    };
    let mut counts = vec![0u64; n_coarse];
    coarse(rv, &mut counts);
    coarse(cv, &mut counts);

    // fine layout
    let mut table = Vec::with_capacity(n_coarse);
    let mut n_fine = 0usize;
    for &t in &counts {
        let want = t.div_ceil(TARGET).max(1);
        let sub_bits = (64 - (want - 1).leading_zeros()).min(s0);
        table.push(((n_fine as u32) << 6) | (s0 - sub_bits));
        n_fine += 1usize << sub_bits;
        if n_fine >= 1 << 26 {
            return None;
        }
    }
    let layout = Layout {
        kmin,
        kmax,
        s0,
        mask0: if s0 == 0 { 0 } else { (1u64 << s0) - 1 },
        table,
        n_fine,
    };

    // counts and sums of `x − start` per fine bucket, per side, and each value's bucket
    // (so the values of the buckets to resolve are picked without locating them again)
    // Non-finite values go to an extra cell past the last bucket, which nothing reads.
    let spill = layout.n_fine;
    let fill = |v: &[f64]| {
        let mut cells = vec![(0u64, 0.0f64); layout.n_fine + 1];
        let mut bucket = vec![0u32; v.len()];
        for (&x, b) in v.iter().zip(bucket.iter_mut()) {
            let finite = x.is_finite();
            let x = if finite { x } else { min };
            let (f, start) = layout.locate(key(x));
            let f = if finite { f } else { spill };
            let cell = &mut cells[f];
            cell.0 += 1;
            cell.1 += x - value(start);
            *b = f as u32;
        }
        cells.truncate(layout.n_fine);
        (cells, bucket)
    };
    let (((cr, br), (cc, bc)), std_reference) = rayon::join(
        || rayon::join(|| fill(rv), || fill(cv)),
        || numpy_var(rv, n1, r.sum / n1 as f64).sqrt(),
    );

    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let ecdf_diff = |a1: u64, a2: u64| a1 as f64 / n1f - a2 as f64 / n2f;

    // |d| at every bucket end: a lower bound of D
    let mut best = 0.0f64;
    {
        let (mut a1, mut a2) = (0u64, 0u64);
        for (x, y) in cr.iter().zip(&cc) {
            if x.0 + y.0 == 0 {
                continue;
            }
            a1 += x.0;
            a2 += y.0;
            best = best.max(ecdf_diff(a1, a2).abs());
        }
    }

    // edges of Evidently's bins, and the bucket of each
    let edges = sturges.then(|| numpy_edges(EdgeRule::Sturges, n1 + n2, min, max, None));
    if edges.iter().flatten().any(|e| !e.is_finite()) {
        // a range wider than f64 (ptp overflows): the sorted path's edge handling applies
        return None;
    }
    let edge_buckets: Vec<usize> = edges
        .iter()
        .flatten()
        .map(|&e| layout.locate(key(e.clamp(min, max))).0)
        .collect();

    // buckets to resolve
    let mut resolve = Bits::new(layout.n_fine + 1);
    let (nn1, nn2) = (n1 as i128, n2 as i128);
    let scale = n1f * n2f;
    let mut resolved_values = 0u64;
    {
        let (mut a1, mut a2) = (0i128, 0i128);
        for (f, (x, y)) in cr.iter().zip(&cc).enumerate() {
            let (k1, k2) = (x.0 as i128, y.0 as i128);
            if k1 + k2 == 0 {
                continue;
            }
            // bounds of (c1·n2 − c2·n1) over the bucket's values and the gap before them
            let hi = (a1 + k1) * nn2 - a2 * nn1;
            let lo = a1 * nn2 - (a2 + k2) * nn1;
            let sign_change = lo < 0 && hi > 0;
            let bound = (hi.max(-lo)) as f64 / scale;
            if sign_change || bound >= best * (1.0 - 1e-9) {
                resolve.set(f);
                resolved_values += (k1 + k2) as u64;
            }
            a1 += k1;
            a2 += k2;
        }
    }
    for &f in &edge_buckets {
        if !resolve.get(f) {
            resolve.set(f);
            resolved_values += cr[f].0 + cc[f].0;
        }
    }

    // the values of the buckets to resolve, placed bucket by bucket (a counting sort by
    // bucket, from each value's recorded bucket), then each bucket's few values sorted
    let gather = |v: &[f64], bucket: Vec<u32>, cells: &[(u64, f64)]| {
        let mut slot = vec![0u32; layout.n_fine];
        let mut total = 0u32;
        for (f, s) in slot.iter_mut().enumerate() {
            if resolve.get(f) {
                *s = total;
                total += cells[f].0 as u32;
            }
        }
        let mut keys = vec![0u64; total as usize];
        for (&x, &f) in v.iter().zip(&bucket) {
            if resolve.get(f as usize) {
                let s = &mut slot[f as usize];
                keys[*s as usize] = key(x);
                *s += 1;
            }
        }
        drop(bucket);
        let mut at = 0usize;
        for (f, cell) in cells.iter().enumerate() {
            if resolve.get(f) {
                let k = cell.0 as usize;
                keys[at..at + k].sort_unstable();
                at += k;
            }
        }
        keys
    };
    let (gr, gc) = rayon::join(|| gather(rv, br, &cr), || gather(cv, bc, &cc));

    // the final walk
    let starts = layout.starts();
    let mut w1 = Neumaier::default();
    let (mut a1, mut a2) = (0u64, 0u64);
    let (mut ir, mut ic) = (0usize, 0usize);
    let mut less_r = Vec::with_capacity(edge_buckets.len());
    let mut less_c = Vec::with_capacity(edge_buckets.len());
    let mut next_edge = 0usize;
    for f in 0..layout.n_fine {
        let (k1, k2) = (cr[f].0, cc[f].0);
        let (t0, t1) = (value(starts[f]), value(starts[f + 1]));
        let width = t1 - t0;
        let d0 = ecdf_diff(a1, a2);
        if !resolve.get(f) {
            if k1 + k2 == 0 {
                w1.add(d0.abs() * width);
            } else {
                let tail1 = k1 as f64 * width - cr[f].1;
                let tail2 = k2 as f64 * width - cc[f].1;
                w1.add((d0 * width + (tail1 / n1f - tail2 / n2f)).abs());
            }
            a1 += k1;
            a2 += k2;
            continue;
        }
        let ref_keys = &gr[ir..ir + k1 as usize];
        let cur_keys = &gc[ic..ic + k2 as usize];
        ir += k1 as usize;
        ic += k2 as usize;
        // edges inside this bucket: values strictly below (the last edge: at most) it
        while next_edge < edge_buckets.len() && edge_buckets[next_edge] == f {
            let e = edges.as_ref().map_or(0.0, |e| e[next_edge]);
            let last = next_edge + 1 == edge_buckets.len();
            let count = |keys: &[u64]| {
                keys.partition_point(|&k| {
                    let v = value(k);
                    if last { v <= e } else { v < e }
                }) as u64
            };
            less_r.push(a1 + count(ref_keys));
            less_c.push(a2 + count(cur_keys));
            next_edge += 1;
        }
        // merge the bucket's distinct values
        let (mut i, mut j) = (0usize, 0usize);
        let (mut prev, mut dprev) = (t0, d0);
        let (mut c1, mut c2) = (a1, a2);
        while i < ref_keys.len() || j < cur_keys.len() {
            let k = match (ref_keys.get(i), cur_keys.get(j)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => break,
            };
            while i < ref_keys.len() && ref_keys[i] == k {
                i += 1;
                c1 += 1;
            }
            while j < cur_keys.len() && cur_keys[j] == k {
                j += 1;
                c2 += 1;
            }
            let u = value(k);
            w1.add(dprev.abs() * (u - prev));
            let d = ecdf_diff(c1, c2);
            best = best.max(d.abs());
            prev = u;
            dprev = d;
        }
        w1.add(dprev.abs() * (t1 - prev));
        a1 = c1;
        a2 = c2;
    }
    let sturges_counts = edges.map(|_| {
        let diff = |v: &[u64]| v.windows(2).map(|w| w[1] - w[0]).collect::<Vec<u64>>();
        (diff(&less_r), diff(&less_c))
    });
    Some(BucketedPair {
        n_reference: n1,
        n_current: n2,
        dropped_reference: r.dropped,
        dropped_current: c.dropped,
        ks_d: best.min(1.0),
        w1: w1.value(),
        std_reference,
        sturges_counts,
        resolved_share: resolved_values as f64 / (n1 + n2) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::stats::{BinnedShares, Binning, SortedSample, ks_statistic_and_wasserstein};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()) || (a - b).abs() <= 1e-15
    }

    fn check(r: &[f64], c: &[f64]) -> BucketedPair {
        check_with(r, c, true)
    }

    /// `with_std: false` for samples whose mean cancels huge values, where the standard
    /// deviation depends on the summation order (the sorted path sums in sorted order).
    fn check_with(r: &[f64], c: &[f64], with_std: bool) -> BucketedPair {
        let got = bucketed_pair(r, c, true).expect("bucketed path applies");
        let (sr, sc) = (SortedSample::new(r), SortedSample::new(c));
        let (d, w1) = ks_statistic_and_wasserstein(&sr, &sc).unwrap();
        assert_eq!(got.ks_d.to_bits(), d.to_bits(), "D {} vs {}", got.ks_d, d);
        assert!(close(got.w1, w1, 1e-11), "W1 {} vs {}", got.w1, w1);
        if with_std {
            assert!(close(got.std_reference, sr.std_pop().unwrap(), 1e-12));
        }
        assert_eq!(got.n_reference, sr.len());
        assert_eq!(got.dropped_current, sc.dropped());
        let want = BinnedShares::numeric(&sr, &sc, Binning::Evidently).unwrap();
        let (rc, cc) = got.sturges_counts.clone().unwrap();
        let share =
            |v: &[u64], n: usize| v.iter().map(|&x| x as f64 / n as f64).collect::<Vec<_>>();
        assert_eq!(share(&rc, sr.len()), want.reference());
        assert_eq!(share(&cc, sc.len()), want.current());
        got
    }

    fn sample(rng: &mut ChaCha8Rng, n: usize, kind: usize, shift: f64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                let v: f64 = rng.random();
                let normal =
                    (-2.0 * u.max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                match kind {
                    0 => normal + shift,
                    1 => (0.5 * normal + shift).exp(),
                    2 => -0.5 * u.max(1e-300).ln() + shift,
                    3 => u * 10.0 - 5.0 + shift,
                    4 => ((normal + shift) * 1e3).round() / 1e3,
                    5 => (normal * 1e6 + shift * 1e6).round(),
                    _ => {
                        if u < 0.3 {
                            0.0
                        } else if u < 0.35 {
                            -0.0
                        } else {
                            normal * 1e-3 + shift
                        }
                    }
                }
            })
            .collect()
    }

    #[test]
    fn equals_the_sorted_path_on_many_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for kind in 0..7 {
            for &(n1, n2, shift) in &[
                (20_000, 20_000, 0.0),
                (30_000, 7_000, 0.02),
                (5_000, 40_000, 0.5),
                (50_000, 50_000, 3.0),
            ] {
                let r = sample(&mut rng, n1, kind, 0.0);
                let c = sample(&mut rng, n2, kind, shift);
                check(&r, &c);
            }
        }
    }

    /// The point of the path: on large samples only a small share of the values sits in
    /// buckets that have to be sorted (no drift is the worst case: `d` stays near zero).
    #[test]
    fn only_a_small_share_of_values_is_sorted() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // (distribution, shift of the current sample, largest share allowed): 5–18 % of the
        // values are sorted without drift, well under 1 % with a small shift
        for (kind, shift, most) in [
            (0, 0.0, 0.25),
            (1, 0.0, 0.25),
            (3, 0.0, 0.25),
            (0, 0.05, 0.02),
        ] {
            let r = sample(&mut rng, 200_000, kind, 0.0);
            let c = sample(&mut rng, 200_000, kind, shift);
            let got = check(&r, &c);
            assert!(
                got.resolved_share < most,
                "kind {kind}: {}",
                got.resolved_share
            );
        }
    }

    #[test]
    fn disjoint_samples_and_non_finite_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let r = sample(&mut rng, 10_000, 0, 0.0);
        let c: Vec<f64> = sample(&mut rng, 9_000, 0, 100.0);
        let got = check(&r, &c);
        assert_eq!(got.ks_d, 1.0);
        let mut r2 = r.clone();
        r2[3] = f64::NAN;
        r2[7] = f64::INFINITY;
        r2[9] = f64::NEG_INFINITY;
        let got = check(&r2, &c);
        assert_eq!(got.dropped_reference.total(), 3);
        // non-finite values on both sides, NaN only on one
        let mut c2 = sample(&mut rng, 12_000, 0, 0.1);
        for i in (0..c2.len()).step_by(101) {
            c2[i] = f64::NAN;
        }
        c2[5] = f64::INFINITY;
        let got = check(&r2, &c2);
        assert_eq!(got.dropped_current.nan, 119);
        assert_eq!(got.dropped_current.pos_inf, 1);
        let mut r3 = r.clone();
        r3[0] = f64::NAN;
        check(&r3, &c2);
    }

    #[test]
    fn wide_and_narrow_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        // far outliers around ordinary data
        let mut r = sample(&mut rng, 20_000, 0, 0.0);
        r.extend([1e300, -1e300, 1e307, -1e307, 5e-324]);
        let mut c = sample(&mut rng, 20_000, 1, 0.0);
        c.extend([1e200, -3.0]);
        check_with(&r, &c, false);
        // a dense cluster next to outliers: one coarse bucket holds nearly every value
        let mut r: Vec<f64> = (0..20_000)
            .map(|_| 1.0 + rng.random::<f64>() * 1e-9)
            .collect();
        r.extend([1e300, -1e300]);
        let c: Vec<f64> = (0..20_000)
            .map(|_| 1.0 + rng.random::<f64>() * 1.1e-9)
            .collect();
        check_with(&r, &c, false);
        // a range wider than f64: the histogram edges overflow, the caller sorts
        let r2: Vec<f64> = sample(&mut rng, 5_000, 0, 0.0)
            .into_iter()
            .chain([f64::MAX, f64::MIN])
            .collect();
        assert!(bucketed_pair(&r2, &r2, true).is_none());
        assert!(bucketed_pair(&r2, &r2, false).is_some());
    }

    #[test]
    fn few_distinct_values_fall_back() {
        let r: Vec<f64> = (0..50_000).map(|i| (i % 7) as f64).collect();
        let c: Vec<f64> = (0..50_000).map(|i| (i % 9) as f64).collect();
        assert!(bucketed_pair(&r, &c, true).is_none());
        assert!(bucketed_pair(&[], &c, true).is_none());
    }

    #[test]
    fn keys_round_trip_and_order() {
        let xs = [-f64::MAX, -1.5, -5e-324, 0.0, 5e-324, 1.0, 2.5, f64::MAX];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]));
        }
        for &x in &xs {
            assert_eq!(value(key(x)).to_bits(), x.to_bits());
        }
        assert_eq!(key(-0.0), key(0.0));
    }
}
