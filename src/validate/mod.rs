//! Validation: metrics and the champion/challenger decision.

pub mod metrics;
