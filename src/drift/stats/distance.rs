//! CDF distances: Wasserstein-1 and energy distance (scipy), Evidently's normed W1.

use super::numeric::Neumaier;
use super::sample::{SortedSample, merge_distinct};
use crate::Result;

/// `∫ |F_u − F_v|^p` over the pooled sample, as scipy's `_cdf_distance` (p = 1 or 2),
/// without the final root.
fn cdf_integral(u: &[f64], v: &[f64], p: u8) -> f64 {
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let mut acc = Neumaier::default();
    let mut prev: Option<(f64, f64)> = None; // (value, |ΔF| after it)
    for s in merge_distinct(u, v) {
        if let Some((x0, diff)) = prev {
            let delta = s.value - x0;
            let term = if p == 1 {
                diff * delta
            } else {
                diff * diff * delta
            };
            acc.add(term);
        }
        let fu = (s.below1 + s.c1) as f64 / nu;
        let fv = (s.below2 + s.c2) as f64 / nv;
        prev = Some((s.value, (fu - fv).abs()));
    }
    acc.value()
}

/// First Wasserstein distance between the two empirical distributions
/// (scipy `wasserstein_distance`). Linear merge of the sorted samples.
pub fn wasserstein(reference: &SortedSample, current: &SortedSample) -> Result<f64> {
    reference.require(1, "wasserstein")?;
    current.require(1, "wasserstein")?;
    Ok(cdf_integral(reference.values(), current.values(), 1))
}

/// Evidently's normed Wasserstein distance: `W1 / max(std_pop(reference), 0.001)`.
pub fn wasserstein_normed(reference: &SortedSample, current: &SortedSample) -> Result<f64> {
    let w = wasserstein(reference, current)?;
    let sd = reference.std_pop().unwrap_or(0.0);
    Ok(w / sd.max(0.001))
}

/// Energy distance (scipy `energy_distance`): `√2 · (∫ (F_u − F_v)²)^{1/2}`.
pub fn energy_distance(reference: &SortedSample, current: &SortedSample) -> Result<f64> {
    reference.require(1, "energy_distance")?;
    current.require(1, "energy_distance")?;
    Ok(2f64.sqrt() * cdf_integral(reference.values(), current.values(), 2).sqrt())
}
