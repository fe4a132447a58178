//! For developers writing their own storage backend: a `Registry` that wraps another one
//! (here it counts artifact loads, as a cache or a metrics layer would) and proves it keeps
//! the contract by running the same conformance suites the built-in backends run.
//!
//! Run: `cargo run --example custom_backend --features conformance`

use async_trait::async_trait;
use mlcycle::Result;
use mlcycle::audit::{AuditLog, InMemoryAuditLog, audit_conformance};
use mlcycle::clock::SystemClock;
use mlcycle::model::ModelArtifact;
use mlcycle::registry::{
    AliasChange, Change, InMemoryRegistry, ModelVersion, NewVersion, Registry, RegistryEvent,
    StatusChange, VersionStatus, registry_conformance,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Forwards every call to `inner`, counting artifact loads.
#[derive(Debug)]
struct CountingRegistry<R> {
    inner: R,
    loads: AtomicU64,
}

// Forward every method, the provided ones too, so the wrapper cannot lose a backend's own
// implementation of them.
#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<R: Registry> Registry for CountingRegistry<R> {
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion> {
        self.inner.register(name, new).await
    }
    async fn get_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        self.inner.get_version(name, version).await
    }
    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.inner.list_versions(name).await
    }
    async fn list_models(&self) -> Result<Vec<String>> {
        self.inner.list_models().await
    }
    async fn load_artifact(&self, name: &str, version: u32) -> Result<ModelArtifact> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.inner.load_artifact(name, version).await
    }
    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
        change: Change,
    ) -> Result<AliasChange> {
        self.inner.set_alias(name, alias, version, change).await
    }
    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange> {
        self.inner.delete_alias(name, alias, change).await
    }
    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        self.inner.get_alias(name, alias).await
    }
    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.inner.get_version_by_alias(name, alias).await
    }
    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>> {
        self.inner.alias_history(name, alias).await
    }
    async fn set_status(
        &self,
        name: &str,
        version: u32,
        status: VersionStatus,
        change: Change,
    ) -> Result<StatusChange> {
        self.inner.set_status(name, version, status, change).await
    }
    async fn status_history(&self, name: &str, version: Option<u32>) -> Result<Vec<StatusChange>> {
        self.inner.status_history(name, version).await
    }
    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()> {
        self.inner.set_tag(name, version, key, value).await
    }
    async fn set_description(&self, name: &str, version: u32, description: &str) -> Result<()> {
        self.inner.set_description(name, version, description).await
    }
    async fn delete_version(
        &self,
        name: &str,
        version: u32,
        force: bool,
        change: Change,
    ) -> Result<ModelVersion> {
        self.inner
            .delete_version(name, version, force, change)
            .await
    }
    async fn set_owner(&self, name: &str, owner: Option<&str>, change: Change) -> Result<()> {
        self.inner.set_owner(name, owner, change).await
    }
    async fn get_owner(&self, name: &str) -> Result<Option<String>> {
        self.inner.get_owner(name).await
    }
    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>> {
        self.inner.events_since(cursor).await
    }
    fn live_events(&self) -> Option<broadcast::Receiver<RegistryEvent>> {
        self.inner.live_events()
    }
    fn audit_log(&self) -> Option<Arc<dyn AuditLog>> {
        self.inner.audit_log()
    }
}

#[tokio::main]
async fn main() {
    let clock = Arc::new(SystemClock);
    let audit = Arc::new(InMemoryAuditLog::new(clock.clone()));
    let registry = CountingRegistry {
        inner: InMemoryRegistry::new(clock.clone()).with_audit(audit),
        loads: AtomicU64::new(0),
    };
    // Each suite panics naming the first broken property.
    registry_conformance(&registry).await;
    audit_conformance(&InMemoryAuditLog::new(clock)).await;
    println!(
        "the wrapper keeps the registry contract ({} artifact loads counted)",
        registry.loads.load(Ordering::Relaxed)
    );
}
