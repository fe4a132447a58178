//! Integration tests: hardening against hostile input and unlucky operators (one test
//! binary per area).

mod harden_audit;
mod harden_cli;
mod harden_reference;
mod harden_store;
