//! Integration tests: validate (one test binary per area).

mod honest_verdicts;
mod metrics;
mod validate_champion;
