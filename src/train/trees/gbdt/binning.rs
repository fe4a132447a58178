//! Quantile binning of features into at most 255 bins (+ one bin for missing values): fitting
//! the thresholds a [`BinMapper`] stores, and applying them.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::model::trees::gbdt::tree::{BinMapper, FeatureBins, Tree};

/// Bin index reserved for missing values (NaN).
pub(crate) const MISSING_BIN: u8 = 255;
/// Number of histogram slots per feature (255 value bins + the missing bin).
pub(crate) const HIST_BINS: usize = 256;
/// Above this many rows, thresholds are fitted on a random subsample (as scikit-learn does).
const SUBSAMPLE: usize = 200_000;

/// Binned data, column-major: `bins[f * n + i]`.
pub(crate) struct BinnedData {
    pub(crate) n: usize,
    pub(crate) p: usize,
    pub(crate) bins: Vec<u8>,
}

impl BinnedData {
    #[inline]
    pub(crate) fn col(&self, f: usize) -> &[u8] {
        &self.bins[f * self.n..(f + 1) * self.n]
    }
}

/// Fit thresholds on the rows `rows` of `x` and bin those rows. `max_bins` ≤ 255.
pub(crate) fn fit_bins(
    x: ArrayView2<f64>,
    rows: &[usize],
    max_bins: usize,
    seed: u64,
) -> (BinMapper, BinnedData) {
    let n = rows.len();
    let p = x.ncols();
    // Rows used to fit thresholds (positions into `rows`), sorted for locality.
    let fit_pos: Option<Vec<usize>> = (n > SUBSAMPLE).then(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v = rand::seq::index::sample(&mut rng, n, SUBSAMPLE).into_vec();
        v.sort_unstable();
        v
    });
    let mut bins = vec![0u8; n * p];
    let features: Vec<FeatureBins> = bins
        .par_chunks_mut(n.max(1))
        .enumerate()
        .map(|(f, out)| {
            let col = x.column(f);
            let values: Vec<f64> = rows.iter().map(|&r| col[r]).collect();
            let mut sample: Vec<f64> = match &fit_pos {
                Some(pos) => pos
                    .iter()
                    .map(|&i| values[i])
                    .filter(|v| !v.is_nan())
                    .collect(),
                None => values.iter().copied().filter(|v| !v.is_nan()).collect(),
            };
            let fb = FeatureBins {
                thresholds: thresholds(&mut sample, max_bins),
            };
            bin_into(&fb, &values, out);
            fb
        })
        .collect();
    (BinMapper { features }, BinnedData { n, p, bins })
}

/// Bin the rows `rows` of `x` with the fitted thresholds of `mapper`.
pub(crate) fn bin_rows(mapper: &BinMapper, x: ArrayView2<f64>, rows: &[usize]) -> BinnedData {
    let n = rows.len();
    let p = x.ncols();
    let mut bins = vec![0u8; n * p];
    if n > 0 {
        bins.par_chunks_mut(n).enumerate().for_each(|(f, out)| {
            let col = x.column(f);
            let values: Vec<f64> = rows.iter().map(|&r| col[r]).collect();
            bin_into(&mapper.features[f], &values, out);
        });
    }
    BinnedData { n, p, bins }
}

/// Bin `values` into `out` by the thresholds of one feature.
fn bin_into(fb: &FeatureBins, values: &[f64], out: &mut [u8]) {
    let t = &fb.thresholds[..];
    for (o, &v) in out.iter_mut().zip(values) {
        *o = if v.is_nan() {
            MISSING_BIN
        } else {
            // #(thresholds < v); at most 254 so it fits below MISSING_BIN.
            t.partition_point(|&th| th < v) as u8
        };
    }
}

/// Add `tree`'s output for every row of binned `data` to `out`.
pub(crate) fn add_binned(tree: &Tree, data: &BinnedData, out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate().take(data.n) {
        let mut j = 0usize;
        loop {
            let nd = &tree.nodes[j];
            if nd.is_leaf {
                *o += nd.value;
                break;
            }
            let b = data.bins[nd.feature as usize * data.n + i];
            let left = if b == MISSING_BIN {
                nd.missing_left
            } else {
                b <= nd.bin_threshold
            };
            j = if left { nd.left } else { nd.right } as usize;
        }
    }
}

/// Thresholds for one feature from its non-missing values (`values` is reordered).
fn thresholds(values: &mut [f64], max_bins: usize) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    sort_total(values);
    let mut distinct = 1;
    for i in 1..values.len() {
        if values[i] != values[i - 1] {
            distinct += 1;
            if distinct > max_bins {
                break;
            }
        }
    }
    let mut out: Vec<f64> = Vec::with_capacity(max_bins);
    if distinct <= max_bins {
        for i in 1..values.len() {
            if values[i] != values[i - 1] {
                push_strict(&mut out, midpoint(values[i - 1], values[i]));
            }
        }
    } else {
        // Percentiles 100·j/max_bins for j in 1..max_bins, "midpoint" interpolation.
        let m = values.len();
        for j in 1..max_bins {
            let pos = (m - 1) as f64 * j as f64 / max_bins as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            let t = if lo == hi {
                values[lo]
            } else {
                midpoint(values[lo], values[hi])
            };
            push_strict(&mut out, t);
        }
        // A threshold equal to the maximum would leave the last bin empty.
        if out.last() == values.last() {
            out.pop();
        }
    }
    out
}

/// Sort `values` in `f64::total_cmp` order: an LSD radix sort on the order-preserving
/// integer keys `total_cmp` compares (a few linear passes instead of a comparison sort; the
/// same sorted values). Short slices take the comparison sort.
fn sort_total(values: &mut [f64]) {
    if values.len() < 4096 {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    // `total_cmp`'s key, shifted to unsigned: flip every bit of negatives, the sign of the rest.
    let key = |v: f64| {
        let b = v.to_bits();
        b ^ (((b as i64 >> 63) as u64) | (1 << 63))
    };
    let mut keys: Vec<u64> = values.iter().map(|&v| key(v)).collect();
    let mut counts = [[0usize; 256]; 8];
    for &k in &keys {
        for (d, c) in counts.iter_mut().enumerate() {
            c[(k >> (8 * d)) as usize & 0xFF] += 1;
        }
    }
    let mut tmp = vec![0u64; keys.len()];
    for (d, c) in counts.iter().enumerate() {
        // A digit shared by every key does not reorder anything.
        if c.contains(&keys.len()) {
            continue;
        }
        let mut pos = [0usize; 256];
        let mut sum = 0;
        for (p, &n) in pos.iter_mut().zip(c) {
            *p = sum;
            sum += n;
        }
        for &k in &keys {
            let b = (k >> (8 * d)) as usize & 0xFF;
            tmp[pos[b]] = k;
            pos[b] += 1;
        }
        std::mem::swap(&mut keys, &mut tmp);
    }
    for (v, &k) in values.iter_mut().zip(&keys) {
        // The inverse of `key`: keys with the top bit set came from non-negative values.
        let b = if k >> 63 == 1 { k ^ (1 << 63) } else { !k };
        *v = f64::from_bits(b);
    }
}

fn push_strict(out: &mut Vec<f64>, t: f64) {
    if out.last().is_none_or(|&l| t > l) {
        out.push(t);
    }
}

fn midpoint(a: f64, b: f64) -> f64 {
    let t = a / 2.0 + b / 2.0;
    if t >= a && t < b { t } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn radix_sort_matches_total_cmp() {
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        for n in [0, 1, 5, 4095, 4096, 10_000] {
            let mut v: Vec<f64> = (0..n)
                .map(|i| match next() % 9 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f64::INFINITY,
                    3 => f64::NEG_INFINITY,
                    4 => (i % 7) as f64,
                    5 => f64::from_bits(next() >> 2),
                    6 => -f64::from_bits(next() >> 2),
                    _ => (next() % 2000) as f64 / 7.0 - 150.0,
                })
                .collect();
            let mut want = v.clone();
            want.sort_by(f64::total_cmp);
            sort_total(&mut v);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v), bits(&want), "n = {n}");
        }
    }

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let x = Array2::from_shape_vec((6, 1), vec![3.0, 1.0, 2.0, 2.0, f64::NAN, 1.0]).unwrap();
        let rows: Vec<usize> = (0..6).collect();
        let (m, b) = fit_bins(x.view(), &rows, 255, 0);
        assert_eq!(m.n_bins_non_missing(0), 3);
        assert_eq!(b.bins, vec![2, 0, 1, 1, MISSING_BIN, 0]);
        assert_eq!(m.raw_threshold(0, 0), 1.5);
        assert_eq!(m.raw_threshold(0, 2), f64::INFINITY);
    }

    #[test]
    fn many_values_are_quantile_binned() {
        let n = 10_000;
        let x = Array2::from_shape_fn((n, 1), |(i, _)| ((i * 7919) % n) as f64);
        let rows: Vec<usize> = (0..n).collect();
        let (m, b) = fit_bins(x.view(), &rows, 255, 0);
        assert_eq!(m.n_bins_non_missing(0), 255);
        let mut counts = [0usize; 256];
        for &v in &b.bins {
            counts[v as usize] += 1;
        }
        for &c in &counts[..255] {
            assert!((35..=45).contains(&c), "bin count {c}");
        }
        // Consistency of binning with raw thresholds.
        for (i, &bin) in b.bins.iter().enumerate() {
            let v = x[[i, 0]];
            for s in 0..254u8 {
                assert_eq!(bin <= s, v <= m.raw_threshold(0, s));
            }
        }
    }
}
