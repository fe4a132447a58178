//! The exported conformance suites (feature `conformance`) run on every built-in
//! implementation of `Deployer`, `DriftDetector` and `Trainer`, and the recording wrapper's
//! own tests.

mod deployer;
mod drift;
mod trainer;
