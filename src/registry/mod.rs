//! The model registry: unique names, versions, aliases with history, lineage, approval
//! status and events.
//!
//! Backends implement the primitive [`Registry`] trait; [`RegistryExt`] adds reference
//! resolution and model loading to every backend.

pub mod artifacts;
mod memory;
mod reference;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
mod types;

pub use memory::InMemoryRegistry;
pub use reference::ModelRef;
#[cfg(feature = "sqlite")]
pub use sqlite::{DB_FILE, SqliteRegistry};
pub use types::{
    AliasChange, Change, Lineage, ModelVersion, NewVersion, StatusChange, VersionStatus,
    validate_alias, validate_name,
};

use crate::model::{Model, ModelArtifact};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::sync::Arc;

/// Something that happened in the registry, with its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEvent {
    /// Position in the registry's event stream (1, 2, ...).
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: RegistryEventKind,
}

/// The kinds of registry events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegistryEventKind {
    /// A new version was registered.
    VersionCreated {
        /// Model.
        name: String,
        /// Version.
        version: u32,
    },
    /// An alias was set or moved.
    AliasSet {
        /// Model.
        name: String,
        /// Alias.
        alias: String,
        /// New target version.
        version: u32,
        /// Previous target, if it moved.
        previous: Option<u32>,
    },
    /// An alias was deleted.
    AliasDeleted {
        /// Model.
        name: String,
        /// Alias.
        alias: String,
        /// The version it pointed to.
        previous: u32,
    },
    /// A version's status changed.
    StatusChanged {
        /// Model.
        name: String,
        /// Version.
        version: u32,
        /// New status.
        status: VersionStatus,
    },
    /// A tag was set on a version.
    TagSet {
        /// Model.
        name: String,
        /// Version.
        version: u32,
        /// Tag key.
        key: String,
        /// Tag value.
        value: String,
    },
}

/// A model registry backend.
///
/// # Contract
/// - Names follow [`validate_name`]; aliases follow [`validate_alias`].
/// - Versions are numbered 1, 2, ... per name, never reused; a version's artifact,
///   signature, lineage and metrics never change after `register`.
/// - `load_artifact` returns exactly the bytes registered (verified by hash) or
///   [`Error::CorruptArtifact`].
/// - Every alias assignment and deletion is kept in the alias history; every change
///   appends a [`RegistryEvent`] with the next sequence number.
/// - Unknown names, versions or aliases are [`Error::NotFound`].
///
/// ```
/// use mlcycle::registry::{InMemoryRegistry, Registry, RegistryExt, NewVersion, Lineage, Change};
/// use mlcycle::clock::SystemClock;
/// use mlcycle::data::synthetic::{CreditDefault, DriftSpec};
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
    /// Set a (mutable) tag on a version.
    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()>;
    /// Events with a sequence number greater than `cursor`, oldest first.
    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>>;
}

/// Conveniences available on every [`Registry`].
#[async_trait]
pub trait RegistryExt: Registry {
    /// Resolve a reference (`name@alias`, `name/3`, `models:/name@alias`, `name@latest`).
    async fn resolve(&self, reference: &str) -> Result<ModelVersion> {
        match ModelRef::parse(reference)? {
            ModelRef::Version { name, version } => self.get_version(&name, version).await,
            ModelRef::Latest { name } => self
                .list_versions(&name)
                .await?
                .pop()
                .ok_or_else(|| Error::not_found("model", &name, "register a version first")),
            ModelRef::Alias { name, alias } => match self.get_alias(&name, &alias).await? {
                Some(v) => self.get_version(&name, v).await,
                None => Err(Error::not_found(
                    "alias",
                    format!("{name}@{alias}"),
                    "set it with set_alias, or use NAME/VERSION",
                )),
            },
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
}

impl<R: Registry + ?Sized> RegistryExt for R {}
