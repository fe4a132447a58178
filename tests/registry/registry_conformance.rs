//! The exported conformance suite (feature `conformance`) against both built-in backends.

use mlcycle::clock::SystemClock;
use mlcycle::registry::{InMemoryRegistry, SqliteRegistry, registry_conformance};
use std::sync::Arc;

#[tokio::test]
async fn in_memory_registry_conforms() {
    registry_conformance(&InMemoryRegistry::new(Arc::new(SystemClock))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_registry_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let registry = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    registry_conformance(&registry).await;
}

#[tokio::test]
async fn sqlite_registry_conforms_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let registry = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    registry_conformance(&registry).await;
}

#[tokio::test]
async fn audited_in_memory_registry_conforms() {
    let clock = Arc::new(SystemClock);
    let log = Arc::new(mlcycle::audit::InMemoryAuditLog::new(clock.clone()));
    registry_conformance(&InMemoryRegistry::new(clock).with_audit(log)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audited_sqlite_registry_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let registry = SqliteRegistry::open_audited(dir.path(), Arc::new(SystemClock), None).unwrap();
    registry_conformance(&registry).await;
}
