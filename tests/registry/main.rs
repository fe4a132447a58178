//! Integration tests: registry (one test binary per area).

mod registry_cli;
mod registry_conformance;
mod registry_processes;
mod registry_store;
mod registry_store_v1;
mod registry_support;
