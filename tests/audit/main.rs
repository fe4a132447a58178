//! Integration tests: audit (one test binary per area).

mod audit_conformance;
mod audit_crash;
mod audit_events;
mod audit_lineage;
mod audit_tamper;
mod audit_tamper_explained;
