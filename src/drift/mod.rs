//! Drift detection: statistical tests (pure functions) and the detector.

pub mod stats;
