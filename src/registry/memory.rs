use super::artifacts::sha256_hex;
use super::types::{validate_alias, validate_name};
use super::{
    AliasChange, Change, ModelVersion, NewVersion, Registry, RegistryEvent, RegistryEventKind,
    StatusChange, VersionStatus,
};
use crate::clock::Clock;
use crate::model::ModelArtifact;
use crate::{Error, Result};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct State {
    versions: BTreeMap<String, Vec<ModelVersion>>,
    artifacts: HashMap<String, Vec<u8>>,
    aliases: BTreeMap<(String, String), u32>,
    alias_history: Vec<AliasChange>,
    events: Vec<RegistryEvent>,
}

/// A registry held in memory (for tests and embedded use without persistence).
#[derive(Debug)]
pub struct InMemoryRegistry {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl InMemoryRegistry {
    /// An empty registry using `clock` for timestamps.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        InMemoryRegistry {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Overwrite a stored artifact's bytes (for tests of corruption handling).
    #[doc(hidden)]
    pub fn corrupt_artifact_for_tests(&self, sha: &str, bytes: Vec<u8>) {
        self.lock().artifacts.insert(sha.to_string(), bytes);
    }
}

impl State {
    fn versions_of(&self, name: &str) -> Result<&Vec<ModelVersion>> {
        self.versions.get(name).ok_or_else(|| {
            Error::not_found("model", name, "list models with `mlcycle models list`")
        })
    }

    fn version_mut(&mut self, name: &str, version: u32) -> Result<&mut ModelVersion> {
        let vs = self.versions.get_mut(name).ok_or_else(|| {
            Error::not_found("model", name, "list models with `mlcycle models list`")
        })?;
        let n = vs.len();
        vs.get_mut((version as usize).wrapping_sub(1))
            .ok_or_else(|| {
                Error::not_found(
                    "version",
                    format!("{name}/{version}"),
                    format!("{name} has versions 1..={n}"),
                )
            })
    }

    fn with_aliases(&self, mut mv: ModelVersion) -> ModelVersion {
        mv.aliases = self
            .aliases
            .iter()
            .filter(|((n, _), v)| *n == mv.name && **v == mv.version)
            .map(|((_, a), _)| a.clone())
            .collect();
        mv
    }

    fn push_event(&mut self, at: chrono::DateTime<chrono::Utc>, kind: RegistryEventKind) {
        let seq = self.events.len() as u64 + 1;
        self.events.push(RegistryEvent { seq, at, kind });
    }
}

#[async_trait]
impl Registry for InMemoryRegistry {
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion> {
        validate_name(name)?;
        let bytes = new.artifact.to_bytes()?;
        let sha = sha256_hex(&bytes);
        let at = self.clock.now();
        let mut st = self.lock();
        st.artifacts.insert(sha.clone(), bytes);
        let version = st.versions.get(name).map_or(0, Vec::len) as u32 + 1;
        let mv = ModelVersion {
            name: name.to_string(),
            version,
            created_at: at,
            status: VersionStatus::PendingApproval,
            flavor: new.artifact.flavor().to_string(),
            signature: new.artifact.signature().clone(),
            lineage: new.lineage,
            metrics: new.metrics,
            tags: new.tags,
            description: new.description,
            artifact_sha256: sha,
            aliases: vec![],
        };
        st.versions
            .entry(name.to_string())
            .or_default()
            .push(mv.clone());
        st.push_event(
            at,
            RegistryEventKind::VersionCreated {
                name: name.into(),
                version,
            },
        );
        Ok(mv)
    }

    async fn get_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        let mut st = self.lock();
        let mv = st.version_mut(name, version)?.clone();
        Ok(st.with_aliases(mv))
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let st = self.lock();
        Ok(st
            .versions_of(name)?
            .iter()
            .map(|v| st.with_aliases(v.clone()))
            .collect())
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        Ok(self.lock().versions.keys().cloned().collect())
    }

    async fn load_artifact(&self, name: &str, version: u32) -> Result<ModelArtifact> {
        let mut st = self.lock();
        let sha = st.version_mut(name, version)?.artifact_sha256.clone();
        let bytes = st
            .artifacts
            .get(&sha)
            .ok_or_else(|| Error::CorruptArtifact {
                sha256: sha.clone(),
                why: "missing from the in-memory store".into(),
            })?;
        let got = sha256_hex(bytes);
        if got != sha {
            return Err(Error::CorruptArtifact {
                sha256: sha,
                why: format!("stored bytes hash to {got}"),
            });
        }
        ModelArtifact::from_bytes(bytes)
    }

    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
        change: Change,
    ) -> Result<AliasChange> {
        validate_alias(alias)?;
        let at = self.clock.now();
        let mut st = self.lock();
        st.version_mut(name, version)?;
        let previous = st.aliases.insert((name.into(), alias.into()), version);
        let c = AliasChange {
            name: name.into(),
            alias: alias.into(),
            version: Some(version),
            previous,
            at,
            change,
        };
        st.alias_history.push(c.clone());
        st.push_event(
            at,
            RegistryEventKind::AliasSet {
                name: name.into(),
                alias: alias.into(),
                version,
                previous,
            },
        );
        Ok(c)
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange> {
        let at = self.clock.now();
        let mut st = self.lock();
        st.versions_of(name)?;
        let previous = st
            .aliases
            .remove(&(name.to_string(), alias.to_string()))
            .ok_or_else(|| Error::not_found("alias", format!("{name}@{alias}"), ""))?;
        let c = AliasChange {
            name: name.into(),
            alias: alias.into(),
            version: None,
            previous: Some(previous),
            at,
            change,
        };
        st.alias_history.push(c.clone());
        st.push_event(
            at,
            RegistryEventKind::AliasDeleted {
                name: name.into(),
                alias: alias.into(),
                previous,
            },
        );
        Ok(c)
    }

    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        let st = self.lock();
        st.versions_of(name)?;
        Ok(st
            .aliases
            .get(&(name.to_string(), alias.to_string()))
            .copied())
    }

    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>> {
        let st = self.lock();
        st.versions_of(name)?;
        Ok(st
            .alias_history
            .iter()
            .filter(|c| c.name == name && alias.is_none_or(|a| c.alias == a))
            .cloned()
            .collect())
    }

    async fn set_status(
        &self,
        name: &str,
        version: u32,
        status: VersionStatus,
        change: Change,
    ) -> Result<StatusChange> {
        let at = self.clock.now();
        let mut st = self.lock();
        st.version_mut(name, version)?.status = status;
        st.push_event(
            at,
            RegistryEventKind::StatusChanged {
                name: name.into(),
                version,
                status,
            },
        );
        Ok(StatusChange {
            name: name.into(),
            version,
            status,
            at,
            change,
        })
    }

    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid("tag key", "it is empty"));
        }
        let at = self.clock.now();
        let mut st = self.lock();
        st.version_mut(name, version)?
            .tags
            .insert(key.into(), value.into());
        st.push_event(
            at,
            RegistryEventKind::TagSet {
                name: name.into(),
                version,
                key: key.into(),
                value: value.into(),
            },
        );
        Ok(())
    }

    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|e| e.seq > cursor)
            .cloned()
            .collect())
    }
}
