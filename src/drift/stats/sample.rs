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
        Self::from_vec(data.to_vec())
    }

    /// Clean and sort an owned vector, reusing its allocation.
    pub fn from_vec(mut data: Vec<f64>) -> Self {
        let mut dropped = DroppedCounts::default();
        data.retain(|&x| {
            if x.is_nan() {
                dropped.nan += 1;
                false
            } else if x == f64::INFINITY {
                dropped.pos_inf += 1;
                false
            } else if x == f64::NEG_INFINITY {
                dropped.neg_inf += 1;
                false
            } else {
                true
            }
        });
        data.sort_unstable_by(f64::total_cmp);
        SortedSample {
            values: data,
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
