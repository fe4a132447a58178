//! Histogram binning conventions and the binned divergences (PSI, KL, Jensen–Shannon,
//! Hellinger).
//!
//! Two conventions are supported (see [`Binning`]); both reproduce their reference tool
//! number for number:
//!
//! * [`Binning::Evidently`] — Evidently 0.7's `get_binned_data`.
//! * [`Binning::Reference`] — bins fixed from the reference alone (NannyML 0.13).

use serde::{Deserialize, Serialize};

use super::categorical::AlignedCounts;
use super::numeric::{Neumaier, numpy_sum};
use super::sample::SortedSample;
use crate::{Error, Result};

/// How values are put into bins before a binned divergence is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Binning {
    /// Evidently 0.7 (`get_binned_data`):
    /// * numeric columns whose reference has more than 20 distinct values: Sturges edges
    ///   computed on the concatenated reference + current data;
    /// * every other column (and all categoricals): one bin per distinct value of ref ∪ cur;
    /// * PSI and KL replace zero shares in each vector by `m/10⁶` if the smallest non-zero
    ///   share `m ≤ 10⁻⁴`, else by `10⁻⁴` (no renormalisation for PSI; KL renormalises, as
    ///   `scipy.stats.entropy` does); Jensen–Shannon uses the raw shares and natural log;
    /// * Hellinger: categorical `sqrt(1 − clip(Σ√(r·c)))`; numeric Evidently's variant with
    ///   Sturges edges built from the *distinct* values and density histograms.
    Evidently,
    /// Reference-fixed bins, the monitoring default (NannyML 0.13):
    /// * numeric: Doane edges from the reference alone (NumPy's `histogram_bin_edges`);
    ///   categorical: the reference's categories;
    /// * current values outside `[min, max]` of the reference (or unseen categories) go to
    ///   one overflow bin with reference share 0, appended when `1 − Σ(in-range shares) > 0`
    ///   (computed in floating point exactly as NannyML does);
    /// * Jensen–Shannon in base 2; Hellinger `sqrt(Σ(√r − √c)²)/√2`;
    /// * PSI and KL (which NannyML does not have) apply Evidently's zero-share fill to these
    ///   bins.
    Reference,
}

/// NumPy `histogram_bin_edges` estimator names used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EdgeRule {
    Sturges,
    Doane,
}

/// Equal-width edges exactly as NumPy computes them for a string `bins` argument, given the
/// data summary. `moments` is `(mean, std_pop, g1)` and is only used by Doane.
pub(crate) fn numpy_edges(
    rule: EdgeRule,
    n: usize,
    min: f64,
    max: f64,
    g1_sigma: Option<f64>,
) -> Vec<f64> {
    let (mut first, mut last) = (min, max);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let ptp = max - min;
    let nf = n as f64;
    let width = match rule {
        EdgeRule::Sturges => ptp / (nf.log2() + 1.0),
        EdgeRule::Doane => match g1_sigma {
            Some(g1) if n > 2 => {
                let sg1 = (6.0 * (nf - 2.0) / ((nf + 1.0) * (nf + 3.0))).sqrt();
                ptp / (1.0 + nf.log2() + (1.0 + g1.abs() / sg1).log2())
            }
            _ => 0.0,
        },
    };
    let k = if width != 0.0 && width.is_finite() {
        ((last - first) / width).ceil().max(1.0) as usize
    } else {
        1
    };
    linspace(first, last, k + 1)
}

fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut y: Vec<f64> = (0..num)
        .map(|i| {
            if step == 0.0 {
                (i as f64 / div) * delta + start
            } else {
                i as f64 * step + start
            }
        })
        .collect();
    if let Some(l) = y.last_mut() {
        *l = stop;
    }
    y
}

/// Doane edges of a sample (NumPy `histogram_bin_edges(x, bins="doane")`).
pub(crate) fn doane_edges(x: &SortedSample) -> Vec<f64> {
    let v = x.values();
    let n = v.len();
    let (min, max) = (v[0], v[n - 1]);
    let g1 = if n > 2 {
        let (mean, var) = super::numeric::mean_var_pop(v);
        let sigma = var.sqrt();
        if sigma > 0.0 {
            let mut acc = Neumaier::default();
            for &xv in v {
                acc.add(((xv - mean) / sigma).powf(3.0));
            }
            Some(acc.value() / n as f64)
        } else {
            None
        }
    } else {
        None
    };
    numpy_edges(EdgeRule::Doane, n, min, max, g1)
}

/// Histogram counts of sorted values on `edges` (bins `[e_i, e_{i+1})`, the last closed),
/// plus the counts below the first and above the last edge.
pub(crate) fn histogram_sorted(values: &[f64], edges: &[f64]) -> (Vec<u64>, u64, u64) {
    let k = edges.len() - 1;
    let mut cum = Vec::with_capacity(k + 1);
    for &e in &edges[..k] {
        cum.push(values.partition_point(|&v| v < e));
    }
    cum.push(values.partition_point(|&v| v <= edges[k]));
    let counts = cum.windows(2).map(|w| (w[1] - w[0]) as u64).collect();
    let below = cum[0] as u64;
    let above = (values.len() - cum[k]) as u64;
    (counts, below, above)
}

/// Shares of each bin for both samples under one [`Binning`] convention; the binned
/// divergences are methods on it. Build once, compute all four.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinnedShares {
    reference: Vec<f64>,
    current: Vec<f64>,
    binning: Binning,
}

impl BinnedShares {
    /// Bin two numeric samples.
    pub fn numeric(
        reference: &SortedSample,
        current: &SortedSample,
        binning: Binning,
    ) -> Result<Self> {
        reference.require(1, "binning")?;
        current.require(1, "binning")?;
        match binning {
            Binning::Evidently => {
                // more than 20 distinct values: stop counting at 21
                if reference.distinct().take(21).count() > 20 {
                    let n = reference.len() + current.len();
                    let min = reference.values()[0].min(current.values()[0]);
                    let max = reference.values()[reference.len() - 1]
                        .max(current.values()[current.len() - 1]);
                    let edges = numpy_edges(EdgeRule::Sturges, n, min, max, None);
                    let (rc, _, _) = histogram_sorted(reference.values(), &edges);
                    let (cc, _, _) = histogram_sorted(current.values(), &edges);
                    let nr = reference.len() as f64;
                    let nc = current.len() as f64;
                    Ok(BinnedShares {
                        reference: rc.iter().map(|&c| c as f64 / nr).collect(),
                        current: cc.iter().map(|&c| c as f64 / nc).collect(),
                        binning,
                    })
                } else {
                    let (_, counts) = AlignedCounts::from_samples(reference, current)?;
                    Self::categorical(&counts, binning)
                }
            }
            Binning::Reference => {
                let edges = doane_edges(reference);
                let (rc, _, _) = histogram_sorted(reference.values(), &edges);
                let (cc, _, _) = histogram_sorted(current.values(), &edges);
                Ok(Self::reference_from_counts(
                    &rc,
                    reference.len() as u64,
                    &cc,
                    current.len() as u64,
                ))
            }
        }
    }

    /// Bin categorical counts: Evidently uses every category of ref ∪ cur; `Reference` uses
    /// the reference's categories plus the overflow bin for categories unseen in it.
    pub fn categorical(counts: &AlignedCounts, binning: Binning) -> Result<Self> {
        let nr = counts.n_reference();
        let nc = counts.n_current();
        match binning {
            Binning::Evidently => Ok(BinnedShares {
                reference: counts
                    .reference()
                    .iter()
                    .map(|&c| c as f64 / nr as f64)
                    .collect(),
                current: counts
                    .current()
                    .iter()
                    .map(|&c| c as f64 / nc as f64)
                    .collect(),
                binning,
            }),
            Binning::Reference => {
                let (rc, cc): (Vec<u64>, Vec<u64>) = counts
                    .reference()
                    .iter()
                    .zip(counts.current())
                    .filter(|(r, _)| **r > 0)
                    .map(|(r, c)| (*r, *c))
                    .unzip();
                Ok(Self::reference_from_counts(&rc, nr, &cc, nc))
            }
        }
    }

    /// Reference-convention shares from in-range counts and totals (NannyML's leftover bin).
    /// Evidently's numeric shares from per-bin counts on its Sturges edges.
    pub(crate) fn evidently_from_counts(rc: &[u64], nr: u64, cc: &[u64], nc: u64) -> Self {
        BinnedShares {
            reference: rc.iter().map(|&c| c as f64 / nr as f64).collect(),
            current: cc.iter().map(|&c| c as f64 / nc as f64).collect(),
            binning: Binning::Evidently,
        }
    }

    pub(crate) fn reference_from_counts(rc: &[u64], nr: u64, cc: &[u64], nc: u64) -> Self {
        let mut reference: Vec<f64> = rc.iter().map(|&c| c as f64 / nr as f64).collect();
        let mut current: Vec<f64> = cc.iter().map(|&c| c as f64 / nc as f64).collect();
        let leftover = 1.0 - numpy_sum(&current);
        if leftover > 0.0 {
            current.push(leftover);
            reference.push(0.0);
        }
        BinnedShares {
            reference,
            current,
            binning: Binning::Reference,
        }
    }

    /// The reference shares per bin (including the overflow bin, if any).
    pub fn reference(&self) -> &[f64] {
        &self.reference
    }

    /// The current shares per bin.
    pub fn current(&self) -> &[f64] {
        &self.current
    }

    /// The convention these shares were built with.
    pub fn binning(&self) -> Binning {
        self.binning
    }

    /// Population stability index `Σ (r − c) · ln(r / c)` on zero-filled shares.
    pub fn psi(&self) -> f64 {
        let r = fill_zeroes(&self.reference);
        let c = fill_zeroes(&self.current);
        let terms: Vec<f64> = r
            .iter()
            .zip(&c)
            .map(|(a, b)| (a - b) * (a / b).ln())
            .collect();
        numpy_sum(&terms)
    }

    /// Kullback–Leibler divergence `KL(ref ‖ cur)` (natural log) on zero-filled shares,
    /// renormalised (as `scipy.stats.entropy`).
    pub fn kl_div(&self) -> f64 {
        let r = normalise(&fill_zeroes(&self.reference));
        let c = normalise(&fill_zeroes(&self.current));
        let terms: Vec<f64> = r.iter().zip(&c).map(|(&a, &b)| rel_entr(a, b)).collect();
        numpy_sum(&terms)
    }

    /// Jensen–Shannon distance (scipy `jensenshannon`): natural log for
    /// [`Binning::Evidently`], base 2 for [`Binning::Reference`].
    pub fn jensenshannon(&self) -> f64 {
        let base = match self.binning {
            Binning::Evidently => None,
            Binning::Reference => Some(2.0),
        };
        js_distance(&self.reference, &self.current, base)
    }

    /// Hellinger distance on these shares: Evidently's `sqrt(1 − clip(Σ√(r·c), 0, 1))` or
    /// NannyML's `sqrt(Σ(√r − √c)²)/√2`.
    ///
    /// For numeric columns under [`Binning::Evidently`] use [`hellinger`] instead, which
    /// applies Evidently's separate numeric binning.
    pub fn hellinger(&self) -> f64 {
        match self.binning {
            Binning::Evidently => {
                let mut bc = 0.0;
                for (a, b) in self.reference.iter().zip(&self.current) {
                    bc += (a * b).sqrt();
                }
                (1.0 - bc.clamp(0.0, 1.0)).sqrt()
            }
            Binning::Reference => {
                let terms: Vec<f64> = self
                    .reference
                    .iter()
                    .zip(&self.current)
                    .map(|(a, b)| {
                        let d = a.sqrt() - b.sqrt();
                        d * d
                    })
                    .collect();
                numpy_sum(&terms).sqrt() / 2f64.sqrt()
            }
        }
    }
}

fn fill_zeroes(v: &[f64]) -> Vec<f64> {
    let m = v
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if m <= 0.0001 { m / 1e6 } else { 0.0001 };
    v.iter().map(|&x| if x == 0.0 { fill } else { x }).collect()
}

fn normalise(v: &[f64]) -> Vec<f64> {
    let s = numpy_sum(v);
    v.iter().map(|&x| x / s).collect()
}

/// `x·ln(x/y)` with scipy's conventions: `log1p` when the ratio is in (½, 2), a split
/// logarithm when it would under/overflow; 0 for `x = 0`.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 || y <= 0.0 {
        return if x == 0.0 && y >= 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let ratio = x / y;
    if 0.5 < ratio && ratio < 2.0 {
        x * ((x - y) / y).ln_1p()
    } else if f64::MIN_POSITIVE < ratio && ratio < f64::INFINITY {
        x * ratio.ln()
    } else {
        x * (x.ln() - y.ln())
    }
}

/// scipy's `jensenshannon(p, q, base)`.
pub(crate) fn js_distance(p: &[f64], q: &[f64], base: Option<f64>) -> f64 {
    let p = normalise(p);
    let q = normalise(q);
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    let left: Vec<f64> = p.iter().zip(&m).map(|(&a, &b)| rel_entr(a, b)).collect();
    let right: Vec<f64> = q.iter().zip(&m).map(|(&a, &b)| rel_entr(a, b)).collect();
    let mut js = numpy_sum(&left) + numpy_sum(&right);
    if let Some(b) = base {
        js /= b.ln();
    }
    (js / 2.0).sqrt()
}

/// Evidently's numeric Hellinger distance: Sturges edges computed on the *distinct* values
/// of ref ∪ cur, density histograms `h = count / width / n`, and
/// `BC = Σ √(h_ref·h_cur) · (range / k)`, distance `sqrt(1 − clip(BC, 0, 1))`.
pub fn hellinger_evidently_numeric(
    reference: &SortedSample,
    current: &SortedSample,
) -> Result<f64> {
    reference.require(1, "hellinger")?;
    current.require(1, "hellinger")?;
    let mut n_distinct = 0usize;
    for _ in super::sample::merge_distinct(reference.values(), current.values()) {
        n_distinct += 1;
    }
    let min = reference.values()[0].min(current.values()[0]);
    let max = reference.values()[reference.len() - 1].max(current.values()[current.len() - 1]);
    let edges = numpy_edges(EdgeRule::Sturges, n_distinct, min, max, None);
    let density = |s: &SortedSample| -> Vec<f64> {
        let (c, _, _) = histogram_sorted(s.values(), &edges);
        let total: u64 = c.iter().sum();
        c.iter()
            .zip(edges.windows(2))
            .map(|(&cnt, w)| cnt as f64 / (w[1] - w[0]) / total as f64)
            .collect()
    };
    let h1 = density(reference);
    let h2 = density(current);
    let k = edges.len() - 1;
    let bin_width = (edges[k] - edges[0]) / k as f64;
    let mut bc = 0.0;
    for (a, b) in h1.iter().zip(&h2) {
        bc += (a * b).sqrt() * bin_width;
    }
    Ok((1.0 - bc.clamp(0.0, 1.0)).sqrt())
}

/// Population stability index of two numeric samples.
pub fn psi(reference: &SortedSample, current: &SortedSample, binning: Binning) -> Result<f64> {
    Ok(BinnedShares::numeric(reference, current, binning)?.psi())
}

/// KL divergence `KL(ref ‖ cur)` of two numeric samples.
pub fn kl_div(reference: &SortedSample, current: &SortedSample, binning: Binning) -> Result<f64> {
    Ok(BinnedShares::numeric(reference, current, binning)?.kl_div())
}

/// Jensen–Shannon distance of two numeric samples.
pub fn jensenshannon(
    reference: &SortedSample,
    current: &SortedSample,
    binning: Binning,
) -> Result<f64> {
    Ok(BinnedShares::numeric(reference, current, binning)?.jensenshannon())
}

/// Hellinger distance of two numeric samples (Evidently's numeric variant or NannyML's).
pub fn hellinger(
    reference: &SortedSample,
    current: &SortedSample,
    binning: Binning,
) -> Result<f64> {
    match binning {
        Binning::Evidently => hellinger_evidently_numeric(reference, current),
        Binning::Reference => Ok(BinnedShares::numeric(reference, current, binning)?.hellinger()),
    }
}

/// Validate a set of histogram edges (finite, strictly increasing, at least two).
pub(crate) fn check_edges(edges: &[f64]) -> Result<()> {
    if edges.len() < 2 {
        return Err(Error::invalid("histogram edges", "need at least two edges"));
    }
    if edges.iter().any(|e| !e.is_finite()) {
        return Err(Error::invalid("histogram edges", "edges must be finite"));
    }
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::invalid(
            "histogram edges",
            "edges must be strictly increasing",
        ));
    }
    Ok(())
}
