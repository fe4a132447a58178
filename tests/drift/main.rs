//! Integration tests: drift (one test binary per area).

mod drift_cli;
mod drift_detector;
mod drift_stats;
mod monitor_estimate;
mod prediction_drift;
mod reference_outputs;
