//! Integration tests: the PostgreSQL backend (feature `postgres`), against the server named by
//! `MLCYCLE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`). Each test
//! creates its own database `mlcycle_test_<uuid>` and drops it at the end, also when it fails.
//! A server that cannot be reached fails the tests with a message saying so.

mod pg_audit;
mod pg_catalog;
mod pg_cli;
mod pg_controller;
mod pg_processes;
mod pg_registry;
mod pg_serve;
mod pg_stack;
mod pg_stores;
mod pg_support;
