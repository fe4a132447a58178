//! The model registry: unique names, versions, aliases with history, lineage, approval
//! status and events.
//!
//! Backends implement the primitive [`Registry`] trait; [`RegistryExt`] adds reference
//! resolution and model loading to every backend.

pub mod artifacts;
pub mod audit_records;
#[cfg(any(test, feature = "conformance"))]
mod conformance;
mod events;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod reference;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
mod types;

#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use conformance::registry_conformance;
pub use events::{
    DEFAULT_POLL_INTERVAL, EventSubscription, LIVE_CHANNEL_CAPACITY, RegistryEvent,
    RegistryEventKind,
};
pub use memory::InMemoryRegistry;

/// The tag that holds a canary version's share of the traffic (a number in (0, 1)); set by a
/// lifecycle releasing through a canary, read by servers following the model.
pub const CANARY_SHARE_TAG: &str = "canary_share";
#[cfg(feature = "postgres")]
pub use postgres::PostgresRegistry;
pub use reference::ModelRef;
#[cfg(feature = "sqlite")]
pub use sqlite::{DB_FILE, SqliteRegistry};
pub use types::{
    AliasChange, Change, CmpOp, Lineage, MAX_TAG_KEY_BYTES, MAX_TAG_VALUE_BYTES, MetricFilter,
    ModelVersion, NewVersion, StatusChange, VersionQuery, VersionStatus, is_reserved_alias,
    validate_alias, validate_name, validate_tag,
};

use crate::audit::AuditLog;
use crate::model::{Model, ModelArtifact};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A model registry backend.
///
/// # Contract
/// (checked by `registry_conformance`, exported with the `conformance` feature)
/// - Names follow [`validate_name`]; aliases follow [`validate_alias`] (`latest` and
///   `v<digits>` are reserved). Invalid ones are [`Error::InvalidInput`].
/// - Versions are numbered 1, 2, ... per name, never reused (not even after
///   [`delete_version`](Registry::delete_version)), even with many concurrent writers; a
///   version's artifact, signature, lineage and metrics never change after `register`.
///   Tags, description, status and aliases are mutable.
/// - `load_artifact` returns exactly the artifact registered (verified by hash) or
///   [`Error::CorruptArtifact`].
/// - A new version has status `pending_approval`, recorded as the first entry of its status
///   history (actor: the lineage's `created_by`, reason `registered`); every status change
///   appends to that history with who, when and why.
/// - Every alias assignment and deletion is kept in the alias history; a version that an
///   alias points to is deleted only when forced, and then its aliases are deleted first
///   (each with a history entry and an event).
/// - Every change appends [`RegistryEvent`]s with the next sequence numbers, in the same
///   transaction as the change: an event is never visible without its change, nor a
///   change without its event.
/// - Unknown names, versions or aliases are [`Error::NotFound`]; deleting an aliased
///   version without `force` is [`Error::Conflict`].
/// - A registry that records its changes ([`audit_log`](Registry::audit_log) is `Some`)
///   appends, for every `register`, `set_status`, `set_alias`, `delete_alias` and
///   `delete_version`, the records built by [`audit_records`] (one per alias a forced
///   deletion removes, then one for the version), in the same atomic step as the change:
///   a change that fails appends nothing, and an append that fails fails the change. The
///   records carry the trace of the enclosing [`crate::audit::in_trace`], a fresh trace
///   outside any.
///
/// ```
/// use mlcycle::registry::{InMemoryRegistry, Registry, RegistryExt, NewVersion, Lineage, Change};
/// use mlcycle::clock::SystemClock;
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::train::{fit_logistic, LogisticParams};
/// use mlcycle::model::Model;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = CreditDefault::new(1).sample(300, &DriftSpec::none(), 0).unwrap();
/// let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
/// let registry = InMemoryRegistry::new(Arc::new(SystemClock));
/// let v = registry.register("credit", NewVersion {
///     artifact: model.to_artifact().unwrap(),
///     lineage: Lineage::default(),
///     metrics: Default::default(), tags: Default::default(), description: String::new(),
/// }).await.unwrap();
/// assert_eq!(v.version, 1);
/// registry.set_alias("credit", "production", 1, Change::new("me", "first")).await.unwrap();
/// let (mv, loaded) = registry.load_model("credit@production").await.unwrap();
/// assert_eq!(mv.version, 1);
/// assert_eq!(loaded.predict(data.features()).unwrap(), model.predict(data.features()).unwrap());
/// # });
/// ```
#[async_trait]
pub trait Registry: Send + Sync + Debug {
    /// Register a new version of `name` (creating the model on first use).
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion>;
    /// One version.
    async fn get_version(&self, name: &str, version: u32) -> Result<ModelVersion>;
    /// All versions of a model, oldest first.
    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>>;
    /// All model names, sorted.
    async fn list_models(&self) -> Result<Vec<String>>;
    /// The artifact of a version, verified against its hash.
    async fn load_artifact(&self, name: &str, version: u32) -> Result<ModelArtifact>;
    /// Point `alias` at `version` (moving it if it exists).
    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
        change: Change,
    ) -> Result<AliasChange>;
    /// Remove an alias.
    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange>;
    /// The version an alias points to, `None` if the alias is not set.
    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>>;
    /// The version an alias points to ([`Error::NotFound`] if the alias is not set). The
    /// default reads [`get_alias`](Registry::get_alias) then
    /// [`get_version`](Registry::get_version); backends may answer it in one step (it is
    /// what resolving `name@alias` calls).
    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        match self.get_alias(name, alias).await? {
            Some(v) => self.get_version(name, v).await,
            None => Err(Error::not_found(
                "alias",
                format!("{name}@{alias}"),
                format!(
                    "point it at a version with `mlcycle models alias set {name} {alias} VERSION`, or use NAME/VERSION"
                ),
            )),
        }
    }
    /// Alias assignments and deletions of a model (one alias or all), oldest first.
    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>>;
    /// Change a version's status.
    async fn set_status(
        &self,
        name: &str,
        version: u32,
        status: VersionStatus,
        change: Change,
    ) -> Result<StatusChange>;
    /// Status changes of a model (one version or all), oldest first, starting with each
    /// version's registration.
    async fn status_history(&self, name: &str, version: Option<u32>) -> Result<Vec<StatusChange>>;
    /// Set a (mutable) tag on a version.
    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()>;
    /// Replace a version's (mutable) description.
    async fn set_description(&self, name: &str, version: u32, description: &str) -> Result<()>;
    /// Delete a version. Refused with [`Error::Conflict`] while an alias points to it,
    /// unless `force`, which deletes those aliases first (recorded in the alias history
    /// with `change`). The version number is never reused. Returns the deleted version, with
    /// the aliases it had.
    async fn delete_version(
        &self,
        name: &str,
        version: u32,
        force: bool,
        change: Change,
    ) -> Result<ModelVersion>;
    /// Set the owner of model `name` — the person or team its alerts name — or clear it
    /// with `None`. Recorded like an alias move (`model.owner_set`, actor `change.actor`).
    /// `NotFound` for an unknown model. The default refuses: the backend keeps no owners.
    async fn set_owner(&self, name: &str, owner: Option<&str>, change: Change) -> Result<()> {
        let _ = (owner, change);
        Err(Error::invalid(
            format!("owner of model `{name}`"),
            "this registry backend does not keep model owners; use the embedded store",
        ))
    }
    /// The owner of model `name`, if one is set; `NotFound` for an unknown model. The
    /// default answers `None` (the backend keeps no owners).
    async fn get_owner(&self, name: &str) -> Result<Option<String>> {
        let _ = name;
        Ok(None)
    }
    /// Events with a sequence number greater than `cursor`, oldest first.
    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>>;
    /// A receiver of events as they are committed by this handle (and its clones), if the
    /// backend broadcasts them; `None` (the default) means subscribers rely on polling
    /// [`events_since`](Registry::events_since). See [`EventSubscription`].
    fn live_events(&self) -> Option<broadcast::Receiver<RegistryEvent>> {
        None
    }
    /// The audit log this registry records its own changes in, atomically with each change
    /// (see the contract above); `None` (the default) when it does not, and then whoever
    /// changes the registry (the lifecycle does) appends the records itself.
    fn audit_log(&self) -> Option<Arc<dyn AuditLog>> {
        None
    }
}

/// Conveniences available on every [`Registry`].
#[async_trait]
pub trait RegistryExt: Registry {
    /// Resolve a reference (`name@alias`, `name/3`, `models:/name@alias`, `name@latest`).
    async fn resolve(&self, reference: &str) -> Result<ModelVersion> {
        match ModelRef::parse(reference)? {
            ModelRef::Version { name, version } => self.get_version(&name, version).await,
            ModelRef::Latest { name } => self.list_versions(&name).await?.pop().ok_or_else(|| {
                Error::not_found(
                    "model",
                    &name,
                    format!("register a version first (`mlcycle train --name {name}` does)"),
                )
            }),
            ModelRef::Alias { name, alias } => self.get_version_by_alias(&name, &alias).await,
        }
    }

    /// Resolve a reference and load its model.
    async fn load_model(&self, reference: &str) -> Result<(ModelVersion, Arc<dyn Model>)> {
        let mv = self.resolve(reference).await?;
        let model = self
            .load_artifact(&mv.name, mv.version)
            .await?
            .into_model()?;
        Ok((mv, model))
    }

    /// The version `alias` pointed to at time `t` ("what served as production on 3 March?").
    async fn alias_at(&self, name: &str, alias: &str, t: DateTime<Utc>) -> Result<Option<u32>> {
        Ok(self
            .alias_history(name, Some(alias))
            .await?
            .into_iter()
            .take_while(|c| c.at <= t)
            .last()
            .and_then(|c| c.version))
    }

    /// Versions of every model matching `query`, by name then version, with their aliases.
    async fn search_versions(&self, query: &VersionQuery) -> Result<Vec<ModelVersion>> {
        let names = match &query.name {
            Some(n) => match self.list_models().await?.contains(n) {
                true => vec![n.clone()],
                false => vec![],
            },
            None => self.list_models().await?,
        };
        let mut out = Vec::new();
        for name in names.into_iter().filter(|n| query.matches_name(n)) {
            out.extend(
                self.list_versions(&name)
                    .await?
                    .into_iter()
                    .filter(|mv| query.matches(mv)),
            );
        }
        Ok(out)
    }

    /// Subscribe to events after `cursor` (see [`EventSubscription`]); to move the
    /// subscription into a spawned task, build it from an `Arc` with
    /// [`EventSubscription::new`].
    fn subscribe(&self, cursor: u64) -> EventSubscription<&Self> {
        EventSubscription::new(self, cursor)
    }
}

impl<R: Registry + ?Sized> RegistryExt for R {}
