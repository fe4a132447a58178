//! Integration tests: lifecycle (one test binary per area).

mod approvals;
mod canary;
mod concept_drift;
mod data_quality;
mod examples;
mod health;
mod lifecycle_e2e;
mod lifecycle_flush;
mod lifecycle_http;
mod lifecycle_release;
mod lifecycle_restart;
mod multiclass_regression_e2e;
mod regression_performance;
mod seasonality;
mod stack_reopen;
