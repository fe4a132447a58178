//! Mergeable, serialisable column summaries ([`NumericSummary`], [`CategoricalSummary`]).
//!
//! A summary describes one column of one batch. Summaries of disjoint batches merge into
//! the summary of their union, so drift can be computed from stored summaries instead of
//! raw data. (A dataset's reference profile, `data::DatasetProfile`, is one summary per
//! column; validation's latency/size profile is something else again.)
//!
//! * counts, missing counts, min / max, histogram counts and sketch buckets merge
//!   **exactly** (integer addition);
//! * mean and the `M2` variance accumulator merge with Chan et al.'s parallel formula,
//!   exact in real arithmetic and equal to the single-pass values up to floating-point
//!   rounding (≈1e-15 relative);
//! * the quantile sketch is a log-bucket (DDSketch-style) sketch: its buckets are a
//!   deterministic function of each value, so the merged sketch is *identical* to the
//!   sketch of the union; any quantile it returns is within relative error `alpha` of the
//!   exact order statistic of rank `⌊q·(n−1)⌋` (values with `|x| < 1e-300` are kept in an
//!   exact zero bucket).
//!
//! PSI, KL, Jensen–Shannon and Hellinger under [`Binning::Reference`] and Evidently's
//! chi-square can be computed from two profiles and give the same numbers as from the
//! raw data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::binning::{BinnedShares, Binning, check_edges, doane_edges, histogram_sorted};
use super::categorical::AlignedCounts;
use super::sample::SortedSample;
use crate::{Error, Result};

/// Floats in profiles are serialised as strings holding Rust's shortest round-trip
/// representation, so a stored profile reloads bit-for-bit (histogram edges must compare
/// equal for merges) whatever float parser the serde format uses.
mod exact_f64 {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{x:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

mod exact_f64_vec {
    use serde::de::Error as _;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(x.len()))?;
        for v in x {
            seq.serialize_element(&format!("{v:?}"))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| s.parse().map_err(D::Error::custom))
            .collect()
    }
}

/// Default relative accuracy of the quantile sketch.
pub const DEFAULT_SKETCH_ALPHA: f64 = 0.01;

const SKETCH_ZERO: f64 = 1e-300;

/// Mergeable quantile sketch with relative-error guarantee `alpha` (log-spaced buckets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileSketch {
    #[serde(with = "exact_f64")]
    alpha: f64,
    count: u64,
    zero: u64,
    positive: BTreeMap<i32, u64>,
    negative: BTreeMap<i32, u64>,
}

impl QuantileSketch {
    /// An empty sketch with relative accuracy `alpha` in `(0, 1)`.
    pub fn new(alpha: f64) -> Result<Self> {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(Error::invalid(
                "sketch alpha",
                format!("{alpha} is not in (0, 1)"),
            ));
        }
        Ok(QuantileSketch {
            alpha,
            count: 0,
            zero: 0,
            positive: BTreeMap::new(),
            negative: BTreeMap::new(),
        })
    }

    fn ln_gamma(&self) -> f64 {
        ((1.0 + self.alpha) / (1.0 - self.alpha)).ln()
    }

    fn index(&self, x: f64) -> i32 {
        (x.ln() / self.ln_gamma()).ceil() as i32
    }

    fn value(&self, idx: i32) -> f64 {
        let gamma = (1.0 + self.alpha) / (1.0 - self.alpha);
        2.0 * (self.ln_gamma() * idx as f64).exp() / (gamma + 1.0)
    }

    /// The relative accuracy.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Add one finite value (non-finite values are ignored).
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.count += 1;
        if x.abs() < SKETCH_ZERO {
            self.zero += 1;
        } else if x > 0.0 {
            *self.positive.entry(self.index(x)).or_insert(0) += 1;
        } else {
            *self.negative.entry(self.index(-x)).or_insert(0) += 1;
        }
    }

    /// Merge another sketch with the same `alpha` into this one.
    pub fn merge_from(&mut self, other: &QuantileSketch) -> Result<()> {
        if self.alpha != other.alpha {
            return Err(Error::invalid(
                "sketch merge",
                format!("alpha differs ({} vs {})", self.alpha, other.alpha),
            ));
        }
        self.count += other.count;
        self.zero += other.zero;
        for (k, v) in &other.positive {
            *self.positive.entry(*k).or_insert(0) += v;
        }
        for (k, v) in &other.negative {
            *self.negative.entry(*k).or_insert(0) += v;
        }
        Ok(())
    }

    /// Approximate quantile `q ∈ [0, 1]`: within relative error `alpha` of the exact order
    /// statistic of 0-based rank `⌊q·(n − 1)⌋`. `None` when the sketch is empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        for (k, c) in self.negative.iter().rev() {
            seen += c;
            if seen > rank {
                return Some(-self.value(*k));
            }
        }
        seen += self.zero;
        if seen > rank {
            return Some(0.0);
        }
        for (k, c) in &self.positive {
            seen += c;
            if seen > rank {
                return Some(self.value(*k));
            }
        }
        None
    }
}

/// Profile of a numeric column: moments, range, a histogram on fixed edges and a quantile
/// sketch. Serialisable with serde; see the module docs for the merge guarantees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// Number of finite values.
    pub count: u64,
    /// Number of missing (NaN) values.
    pub missing: u64,
    /// Number of ±inf values.
    pub infinite: u64,
    /// Mean of the finite values (NaN when `count == 0`).
    #[serde(with = "exact_f64")]
    pub mean: f64,
    /// Sum of squared deviations from the mean (`M2`); variance = `M2 / count`.
    #[serde(with = "exact_f64")]
    pub m2: f64,
    /// Smallest finite value (`+inf` when empty).
    #[serde(with = "exact_f64")]
    pub min: f64,
    /// Largest finite value (`-inf` when empty).
    #[serde(with = "exact_f64")]
    pub max: f64,
    /// Histogram edges (bins `[e_i, e_{i+1})`, the last one closed).
    #[serde(with = "exact_f64_vec")]
    pub edges: Vec<f64>,
    /// Counts per bin.
    pub counts: Vec<u64>,
    /// Finite values below the first edge.
    pub below: u64,
    /// Finite values above the last edge.
    pub above: u64,
    /// Quantile sketch of the finite values.
    pub sketch: QuantileSketch,
}

impl NumericSummary {
    /// An empty profile on the given edges.
    pub fn empty(edges: Vec<f64>, sketch_alpha: f64) -> Result<Self> {
        check_edges(&edges)?;
        let k = edges.len() - 1;
        Ok(NumericSummary {
            count: 0,
            missing: 0,
            infinite: 0,
            mean: f64::NAN,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            edges,
            counts: vec![0; k],
            below: 0,
            above: 0,
            sketch: QuantileSketch::new(sketch_alpha)?,
        })
    }

    /// The reference profile of a sample: edges are the sample's own Doane edges (the
    /// [`Binning::Reference`] convention). Errors on an empty sample.
    pub fn reference(sample: &SortedSample) -> Result<Self> {
        sample.require(1, "reference profile")?;
        let edges = doane_edges(sample);
        Self::from_sample(sample, edges, DEFAULT_SKETCH_ALPHA)
    }

    /// Profile of a sample on given edges (typically a reference profile's edges).
    pub fn from_sample(sample: &SortedSample, edges: Vec<f64>, sketch_alpha: f64) -> Result<Self> {
        let mut p = Self::empty(edges, sketch_alpha)?;
        let v = sample.values();
        let d = sample.dropped();
        p.missing = d.nan;
        p.infinite = d.pos_inf + d.neg_inf;
        for &x in v {
            p.push_moments(x);
            p.sketch.add(x);
        }
        let (counts, below, above) = histogram_sorted(v, &p.edges);
        p.counts = counts;
        p.below = below;
        p.above = above;
        Ok(p)
    }

    /// Add raw values (NaN counted as missing, ±inf as infinite).
    pub fn extend(&mut self, values: &[f64]) {
        for &x in values {
            self.push(x);
        }
    }

    /// Add one raw value.
    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            self.missing += 1;
            return;
        }
        if x.is_infinite() {
            self.infinite += 1;
            return;
        }
        self.push_moments(x);
        self.sketch.add(x);
        let k = self.counts.len();
        if x < self.edges[0] {
            self.below += 1;
        } else if x > self.edges[k] {
            self.above += 1;
        } else {
            // bin i with e_i <= x < e_{i+1}; the last bin also takes x == e_k
            let i = self.edges.partition_point(|&e| e <= x);
            let bin = i.saturating_sub(1).min(k - 1);
            self.counts[bin] += 1;
        }
    }

    fn push_moments(&mut self, x: f64) {
        self.count += 1;
        if self.count == 1 {
            self.mean = x;
            self.m2 = 0.0;
        } else {
            let delta = x - self.mean;
            self.mean += delta / self.count as f64;
            self.m2 += delta * (x - self.mean);
        }
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Population variance (`M2 / count`), NaN when empty.
    pub fn variance_pop(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.m2 / self.count as f64
        }
    }

    /// Merge two profiles built on the same edges (error otherwise).
    pub fn merge(a: &NumericSummary, b: &NumericSummary) -> Result<NumericSummary> {
        if a.edges != b.edges {
            return Err(Error::invalid(
                "profile merge",
                "the two numeric profiles have different histogram edges",
            ));
        }
        let mut out = a.clone();
        out.missing += b.missing;
        out.infinite += b.infinite;
        if b.count > 0 {
            if a.count == 0 {
                out.mean = b.mean;
                out.m2 = b.m2;
            } else {
                let (na, nb) = (a.count as f64, b.count as f64);
                let n = na + nb;
                let delta = b.mean - a.mean;
                out.mean = a.mean + delta * (nb / n);
                out.m2 = a.m2 + b.m2 + delta * delta * (na * nb / n);
            }
            out.count += b.count;
            out.min = a.min.min(b.min);
            out.max = a.max.max(b.max);
        }
        for (o, c) in out.counts.iter_mut().zip(&b.counts) {
            *o += c;
        }
        out.below += b.below;
        out.above += b.above;
        out.sketch.merge_from(&b.sketch)?;
        Ok(out)
    }

    /// Reference-convention binned shares of `current` against this reference profile.
    /// Both profiles must share edges, and the reference must have no values outside them.
    pub fn binned_against(&self, current: &NumericSummary) -> Result<BinnedShares> {
        if self.edges != current.edges {
            return Err(Error::invalid(
                "profiles",
                "reference and current profiles have different histogram edges",
            ));
        }
        if self.count == 0 {
            return Err(Error::Data("reference profile is empty".into()));
        }
        if current.count == 0 {
            return Err(Error::Data("current profile is empty".into()));
        }
        if self.below + self.above > 0 {
            return Err(Error::invalid(
                "reference profile",
                "has values outside its own edges; build it with NumericSummary::reference",
            ));
        }
        Ok(BinnedShares::reference_from_counts(
            &self.counts,
            self.count,
            &current.counts,
            current.count,
        ))
    }
}

/// Profile of a categorical column: label → count, plus missing values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoricalSummary {
    /// Count per category label.
    pub counts: BTreeMap<String, u64>,
    /// Missing values.
    pub missing: u64,
}

impl CategoricalSummary {
    /// Profile of optional labels (`None` = missing).
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut p = CategoricalSummary::default();
        for l in labels {
            p.push(l);
        }
        p
    }

    /// Add one label (`None` = missing).
    pub fn push(&mut self, label: Option<&str>) {
        match label {
            Some(l) => *self.counts.entry(l.to_string()).or_insert(0) += 1,
            None => self.missing += 1,
        }
    }

    /// Number of non-missing values.
    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Merge two profiles (exact).
    pub fn merge(a: &CategoricalSummary, b: &CategoricalSummary) -> CategoricalSummary {
        let mut out = a.clone();
        for (k, v) in &b.counts {
            *out.counts.entry(k.clone()).or_insert(0) += v;
        }
        out.missing += b.missing;
        out
    }

    /// Aligned counts of a reference and a current profile (categories ordered by label).
    pub fn aligned(
        reference: &CategoricalSummary,
        current: &CategoricalSummary,
    ) -> Result<AlignedCounts> {
        Ok(AlignedCounts::from_maps(&reference.counts, &current.counts)?.1)
    }
}

/// PSI, KL, JS and Hellinger from two numeric profiles ([`Binning::Reference`]).
pub fn binned_from_summaries(
    reference: &NumericSummary,
    current: &NumericSummary,
) -> Result<BinnedShares> {
    reference.binned_against(current)
}

/// Binned shares of two categorical profiles under either convention.
pub fn binned_from_categorical_summaries(
    reference: &CategoricalSummary,
    current: &CategoricalSummary,
    binning: Binning,
) -> Result<BinnedShares> {
    BinnedShares::categorical(&CategoricalSummary::aligned(reference, current)?, binning)
}
