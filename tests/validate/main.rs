//! Integration tests: validate (one test binary per area).

mod metrics;
mod validate_champion;
