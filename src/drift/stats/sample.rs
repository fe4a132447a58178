//! [`SortedSample`]: a numeric sample cleaned and sorted once, shared by every method.

use serde::{Deserialize, Serialize};

use super::numeric::{accurate_sum, mean_var_pop};
use crate::{Error, Result};

/// How many values were dropped when a [`SortedSample`] was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedCounts {
    /// Number of NaN values dropped.
    pub nan: u64,
    /// Number of `+inf` values dropped.
    pub pos_inf: u64,
    /// Number of `-inf` values dropped.
    pub neg_inf: u64,
}

impl DroppedCounts {
    /// Total number of dropped (non-finite) values.
    pub fn total(&self) -> u64 {
        self.nan + self.pos_inf + self.neg_inf
    }
}

/// The finite values of a numeric sample, sorted ascending, plus the counts of the
/// NaN / ±inf values that were dropped (as Evidently does before every test).
///
/// Build it once per column and pass it to every method: KS, Wasserstein, CvM,
/// Anderson–Darling, Mann–Whitney, energy distance, quantiles and binning all work on
/// the sorted values with linear merges, so nothing is re-sorted or copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortedSample {
    values: Vec<f64>,
    dropped: DroppedCounts,
}

impl SortedSample {
    /// Clean and sort a slice (the slice itself is not modified).
    pub fn new(data: &[f64]) -> Self {
        Self::from_slice(data)
    }

    /// Clean and sort an owned vector, reusing its allocation.
    pub fn from_vec(mut data: Vec<f64>) -> Self {
        let mut dropped = DroppedCounts::default();
        data.retain(|&x| keep_finite(x, &mut dropped));
        // reinterpret the finite values as order-preserving keys, in place
        let keys: Vec<u64> = data.into_iter().map(order_key).collect();
        SortedSample {
            values: sort_keys(keys),
            dropped,
        }
    }

    /// Clean and sort the values of an iterator (e.g. a strided column of a matrix,
    /// `array.column(j).iter().copied()`), without an intermediate copy of the raw data.
    ///
    /// The result is identical to [`SortedSample::new`] on the same values: the values are
    /// sorted as integers after mapping their IEEE-754 bit patterns to an order-preserving
    /// key, which is exactly [`f64::total_cmp`]'s order (so `-0.0` sorts before `0.0`) and
    /// about twice as fast as sorting the floats with `total_cmp`.
    pub fn from_values(values: impl IntoIterator<Item = f64>) -> Self {
        Self::from_keys_iter(values.into_iter())
    }

    /// Like [`SortedSample::new`], with a fast path for slices without non-finite values.
    pub fn from_slice(data: &[f64]) -> Self {
        if data.iter().all(|x| x.is_finite()) {
            let keys: Vec<u64> = data.iter().map(|&x| order_key(x)).collect();
            return SortedSample {
                values: sort_keys(keys),
                dropped: DroppedCounts::default(),
            };
        }
        Self::from_keys_iter(data.iter().copied())
    }

    fn from_keys_iter(values: impl Iterator<Item = f64>) -> Self {
        let it = values.into_iter();
        let mut dropped = DroppedCounts::default();
        let mut keys = Vec::with_capacity(it.size_hint().0);
        for x in it {
            if keep_finite(x, &mut dropped) {
                keys.push(order_key(x));
            }
        }
        SortedSample {
            values: sort_keys(keys),
            dropped,
        }
    }

    /// The sorted finite values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of finite values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if no finite value is left.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Counts of the dropped NaN / ±inf values.
    pub fn dropped(&self) -> DroppedCounts {
        self.dropped
    }

    /// Smallest finite value.
    pub fn min(&self) -> Option<f64> {
        self.values.first().copied()
    }

    /// Largest finite value.
    pub fn max(&self) -> Option<f64> {
        self.values.last().copied()
    }

    /// Number of distinct finite values (`-0.0` and `0.0` count as one).
    pub fn n_unique(&self) -> usize {
        self.distinct().count()
    }

    /// Iterate over `(value, count)` for each distinct value, ascending.
    pub fn distinct(&self) -> Distinct<'_> {
        Distinct {
            v: &self.values,
            i: 0,
        }
    }

    /// Arithmetic mean (compensated summation); `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        if self.is_empty() {
            None
        } else {
            Some(accurate_sum(self.values.iter().copied()) / self.len() as f64)
        }
    }

    /// Population standard deviation (`ddof = 0`, like `np.std`); `None` when empty.
    pub fn std_pop(&self) -> Option<f64> {
        if self.is_empty() {
            None
        } else {
            Some(mean_var_pop(&self.values).1.sqrt())
        }
    }

    /// Quantile with linear interpolation (NumPy's default method); `q` in `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Result<f64> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::invalid("quantile", format!("{q} is not in [0, 1]")));
        }
        let n = self.len();
        if n == 0 {
            return Err(Error::Data("quantile of an empty sample".into()));
        }
        let pos = q * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let frac = pos - lo as f64;
        let (a, b) = (self.values[lo], self.values[hi]);
        Ok(a + (b - a) * frac)
    }

    /// Error unless the sample has at least `min` finite values.
    pub(crate) fn require(&self, min: usize, what: &str) -> Result<()> {
        if self.len() < min {
            if self.is_empty() {
                return Err(Error::Data(format!(
                    "{what}: sample is empty after dropping {} non-finite value(s)",
                    self.dropped.total()
                )));
            }
            return Err(Error::Data(format!(
                "{what}: needs at least {min} finite value(s), got {}",
                self.len()
            )));
        }
        Ok(())
    }
}

/// Iterator over the distinct values of a [`SortedSample`] with their counts.
#[derive(Debug, Clone)]
pub struct Distinct<'a> {
    v: &'a [f64],
    i: usize,
}

impl Iterator for Distinct<'_> {
    type Item = (f64, usize);

    fn next(&mut self) -> Option<(f64, usize)> {
        if self.i >= self.v.len() {
            return None;
        }
        let x = self.v[self.i];
        let start = self.i;
        while self.i < self.v.len() && self.v[self.i] == x {
            self.i += 1;
        }
        Some((x, self.i - start))
    }
}

fn keep_finite(x: f64, dropped: &mut DroppedCounts) -> bool {
    if x.is_finite() {
        true
    } else {
        if x.is_nan() {
            dropped.nan += 1;
        } else if x > 0.0 {
            dropped.pos_inf += 1;
        } else {
            dropped.neg_inf += 1;
        }
        false
    }
}

/// Map a float to an unsigned key whose integer order is [`f64::total_cmp`]'s order: negative
/// numbers have every bit flipped, the others only the sign bit (selected, not branched on).
#[inline(always)]
pub(super) fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    let neg = ((b as i64) >> 63) as u64;
    b ^ (neg | (1 << 63))
}

/// Inverse of [`order_key`].
#[inline(always)]
pub(super) fn key_value(k: u64) -> f64 {
    let neg = ((k >> 63) ^ 1).wrapping_neg();
    f64::from_bits(k ^ (neg | (1 << 63)))
}

/// Sort order keys as integers and turn them back into floats, in place.
fn sort_keys(mut keys: Vec<u64>) -> Vec<f64> {
    keys.sort_unstable();
    keys.into_iter().map(key_value).collect()
}

/// Number of distinct values of the union of two sorted samples, counting stops at `cap`
/// (enough for [`select_method`](super::select_method), which only needs to know whether
/// there are more than 5).
pub fn distinct_union_count(a: &SortedSample, b: &SortedSample, cap: usize) -> usize {
    merge_distinct(a.values(), b.values()).take(cap).count()
}

/// One step of a merge over two sorted samples: a distinct pooled value and how many
/// copies of it each sample holds, plus the counts of values strictly below it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MergeStep {
    pub value: f64,
    /// values of sample 1 strictly below `value`
    pub below1: usize,
    /// values of sample 2 strictly below `value`
    pub below2: usize,
    /// copies of `value` in sample 1
    pub c1: usize,
    /// copies of `value` in sample 2
    pub c2: usize,
}

/// Iterate over the distinct values of the pooled sample in ascending order.
pub(crate) fn merge_distinct<'a>(
    a: &'a [f64],
    b: &'a [f64],
) -> impl Iterator<Item = MergeStep> + 'a {
    let mut i = 0usize;
    let mut j = 0usize;
    std::iter::from_fn(move || {
        let v = match (a.get(i), b.get(j)) {
            (None, None) => return None,
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (Some(&x), Some(&y)) => {
                if x <= y {
                    x
                } else {
                    y
                }
            }
        };
        let (b1, b2) = (i, j);
        while i < a.len() && a[i] == v {
            i += 1;
        }
        while j < b.len() && b[j] == v {
            j += 1;
        }
        Some(MergeStep {
            value: v,
            below1: b1,
            below2: b2,
            c1: i - b1,
            c2: j - b2,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn reference_sort(v: &[f64]) -> (Vec<f64>, DroppedCounts) {
        let mut d = DroppedCounts::default();
        let mut out: Vec<f64> = v
            .iter()
            .copied()
            .filter(|&x| keep_finite(x, &mut d))
            .collect();
        out.sort_unstable_by(f64::total_cmp);
        (out, d)
    }

    #[test]
    fn key_sort_matches_total_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let specials = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            -1.0,
        ];
        for n in [0usize, 1, 100, 2047, 2048, 5000, 50_000] {
            let v: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => specials[rng.random_range(0..specials.len())],
                    1 => (rng.random_range(0..10) as f64) - 5.0,
                    2 => f64::from_bits(rng.next_u64()),
                    _ => rng.random::<f64>() * 1e6 - 5e5,
                })
                .collect();
            let (want, want_d) = reference_sort(&v);
            for got in [
                SortedSample::new(&v),
                SortedSample::from_vec(v.clone()),
                SortedSample::from_values(v.iter().copied()),
            ] {
                assert_eq!(got.dropped(), want_d);
                assert_eq!(got.len(), want.len());
                assert!(
                    got.values()
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn key_sort_handles_many_ties() {
        let v: Vec<f64> = (0..10_000).map(|i| (i % 3) as f64).collect();
        let s = SortedSample::from_vec(v);
        assert_eq!(s.n_unique(), 3);
        assert_eq!(s.values()[0], 0.0);
        assert_eq!(s.values()[9_999], 2.0);
    }
}
