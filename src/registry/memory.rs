use super::artifacts::sha256_hex;
use super::audit_records;
use super::events::LIVE_CHANNEL_CAPACITY;
use super::types::{validate_alias, validate_name};
use super::{
    AliasChange, Change, ModelVersion, NewVersion, Registry, RegistryEvent, RegistryEventKind,
    StatusChange, VersionStatus,
};
use crate::audit::{AuditEntry, AuditLog, InMemoryAuditLog};
use crate::clock::Clock;
use crate::model::ModelArtifact;
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

#[derive(Debug, Default)]
struct ModelEntry {
    /// The highest version number ever given (deleted numbers are not reused).
    last_version: u32,
    versions: BTreeMap<u32, ModelVersion>,
    owner: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    models: BTreeMap<String, ModelEntry>,
    artifacts: HashMap<String, Vec<u8>>,
    aliases: BTreeMap<(String, String), u32>,
    alias_history: Vec<AliasChange>,
    status_history: Vec<StatusChange>,
    events: Vec<RegistryEvent>,
}

/// A registry held in memory (for tests and embedded use without persistence).
///
/// Cloning gives another handle on the same registry.
#[derive(Debug, Clone)]
pub struct InMemoryRegistry {
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<State>>,
    live: broadcast::Sender<RegistryEvent>,
    audit: Option<Arc<InMemoryAuditLog>>,
}

impl InMemoryRegistry {
    /// An empty registry using `clock` for timestamps.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        InMemoryRegistry {
            clock,
            state: Arc::new(Mutex::new(State::default())),
            live: broadcast::channel(LIVE_CHANNEL_CAPACITY).0,
            audit: None,
        }
    }

    /// Record every change in `log` (see [`Registry::audit_log`]): the record is appended
    /// while the change is made, under the same lock, so no reader sees one without the
    /// other. Records carry the trace of the enclosing [`crate::audit::in_trace`].
    pub fn with_audit(mut self, log: Arc<InMemoryAuditLog>) -> Self {
        self.audit = Some(log);
        self
    }

    /// The trace of a change that is starting (empty when the registry does not record
    /// its changes).
    fn trace(&self) -> String {
        match self.audit {
            Some(_) => crate::audit::trace_or_new(),
            None => String::new(),
        }
    }

    /// Append a change's record (when the registry records its changes).
    fn audit(&self, trace: &str, entry: impl FnOnce(String) -> AuditEntry) {
        if let Some(log) = &self.audit {
            log.append_now(entry(trace.to_string()));
        }
    }

    /// Record an alias assignment or removal (already applied to `st.aliases`): its history
    /// entry, its audit record and its event, which is returned for publishing.
    fn record_alias_change(&self, st: &mut State, trace: &str, c: AliasChange) -> RegistryEvent {
        self.audit(trace, |t| audit_records::alias_changed(&c, t));
        let kind = match c.version {
            Some(version) => RegistryEventKind::AliasSet {
                name: c.name.clone(),
                alias: c.alias.clone(),
                version,
                previous: c.previous,
            },
            None => RegistryEventKind::AliasDeleted {
                name: c.name.clone(),
                alias: c.alias.clone(),
                // A removal always has the version it removed.
                previous: c.previous.unwrap_or_default(),
            },
        };
        let at = c.at;
        st.alias_history.push(c);
        st.push_event(at, kind)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Overwrite a stored artifact's bytes (for tests of corruption handling).
    #[doc(hidden)]
    pub fn corrupt_artifact_for_tests(&self, sha: &str, bytes: Vec<u8>) {
        self.lock().artifacts.insert(sha.to_string(), bytes);
    }

    /// Publish the events a change appended (after the change is complete).
    fn publish(&self, events: Vec<RegistryEvent>) {
        for e in events {
            // No receiver is not an error.
            let _ = self.live.send(e);
        }
    }
}

fn model_not_found(name: &str) -> Error {
    Error::not_found("model", name, "list models with `mlcycle models list`")
}

impl State {
    fn model(&self, name: &str) -> Result<&ModelEntry> {
        self.models.get(name).ok_or_else(|| model_not_found(name))
    }

    fn version_mut(&mut self, name: &str, version: u32) -> Result<&mut ModelVersion> {
        self.models
            .get_mut(name)
            .ok_or_else(|| model_not_found(name))?
            .versions
            .get_mut(&version)
            .ok_or_else(|| {
                Error::not_found(
                    "version",
                    format!("{name}/{version}"),
                    format!("list them with `mlcycle models versions {name}`"),
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

    fn push_event(&mut self, at: DateTime<Utc>, kind: RegistryEventKind) -> RegistryEvent {
        let seq = self.events.len() as u64 + 1;
        let e = RegistryEvent { seq, at, kind };
        self.events.push(e.clone());
        e
    }
}

#[async_trait]
impl Registry for InMemoryRegistry {
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion> {
        validate_name(name)?;
        for (k, v) in &new.tags {
            super::types::validate_tag(k, v)?;
        }
        let bytes = new.artifact.to_bytes()?;
        let sha = sha256_hex(&bytes);
        let trace = self.trace();
        let at = self.clock.now();
        let (mv, event) = {
            let mut st = self.lock();
            st.artifacts.insert(sha.clone(), bytes);
            let entry = st.models.entry(name.to_string()).or_default();
            entry.last_version += 1;
            let version = entry.last_version;
            let mv = ModelVersion {
                name: name.to_string(),
                version,
                created_at: at,
                status: VersionStatus::PendingApproval,
                flavor: new.artifact.flavor().to_string(),
                signature: new.artifact.signature().clone(),
                metrics: new.metrics,
                tags: new.tags,
                description: new.description,
                artifact_sha256: sha,
                aliases: vec![],
                lineage: new.lineage,
            };
            entry.versions.insert(version, mv.clone());
            st.status_history.push(StatusChange {
                name: name.into(),
                version,
                status: VersionStatus::PendingApproval,
                at,
                change: Change::new(mv.lineage.created_by.clone(), "registered"),
            });
            let e = st.push_event(
                at,
                RegistryEventKind::VersionCreated {
                    name: name.into(),
                    version,
                },
            );
            self.audit(&trace, |t| audit_records::version_registered(&mv, t));
            (mv, e)
        };
        self.publish(vec![event]);
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
            .model(name)?
            .versions
            .values()
            .map(|v| st.with_aliases(v.clone()))
            .collect())
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        Ok(self.lock().models.keys().cloned().collect())
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
        let trace = self.trace();
        let at = self.clock.now();
        let (c, e) = {
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
            let e = self.record_alias_change(&mut st, &trace, c.clone());
            (c, e)
        };
        self.publish(vec![e]);
        Ok(c)
    }

    async fn set_owner(&self, name: &str, owner: Option<&str>, change: Change) -> Result<()> {
        let trace = self.trace();
        let mut st = self.lock();
        let entry = st
            .models
            .get_mut(name)
            .ok_or_else(|| model_not_found(name))?;
        let previous = std::mem::replace(&mut entry.owner, owner.map(str::to_string));
        self.audit(&trace, |t| {
            audit_records::owner_set(name, owner, previous, &change, t)
        });
        Ok(())
    }

    async fn get_owner(&self, name: &str) -> Result<Option<String>> {
        let st = self.lock();
        st.model(name)?;
        Ok(st.models.get(name).and_then(|m| m.owner.clone()))
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange> {
        let trace = self.trace();
        let at = self.clock.now();
        let (c, e) = {
            let mut st = self.lock();
            st.model(name)?;
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
            let e = self.record_alias_change(&mut st, &trace, c.clone());
            (c, e)
        };
        self.publish(vec![e]);
        Ok(c)
    }

    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        let st = self.lock();
        st.model(name)?;
        Ok(st
            .aliases
            .get(&(name.to_string(), alias.to_string()))
            .copied())
    }

    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>> {
        let st = self.lock();
        st.model(name)?;
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
        let trace = self.trace();
        let at = self.clock.now();
        let (c, e) = {
            let mut st = self.lock();
            st.version_mut(name, version)?.status = status;
            let c = StatusChange {
                name: name.into(),
                version,
                status,
                at,
                change,
            };
            st.status_history.push(c.clone());
            self.audit(&trace, |t| audit_records::status_changed(&c, t));
            let e = st.push_event(
                at,
                RegistryEventKind::StatusChanged {
                    name: name.into(),
                    version,
                    status,
                },
            );
            (c, e)
        };
        self.publish(vec![e]);
        Ok(c)
    }

    async fn status_history(&self, name: &str, version: Option<u32>) -> Result<Vec<StatusChange>> {
        let st = self.lock();
        st.model(name)?;
        Ok(st
            .status_history
            .iter()
            .filter(|c| c.name == name && version.is_none_or(|v| c.version == v))
            .cloned()
            .collect())
    }

    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()> {
        super::types::validate_tag(key, value)?;
        let at = self.clock.now();
        let e = {
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
            )
        };
        self.publish(vec![e]);
        Ok(())
    }

    async fn set_description(&self, name: &str, version: u32, description: &str) -> Result<()> {
        let at = self.clock.now();
        let e = {
            let mut st = self.lock();
            st.version_mut(name, version)?.description = description.to_string();
            st.push_event(
                at,
                RegistryEventKind::DescriptionSet {
                    name: name.into(),
                    version,
                },
            )
        };
        self.publish(vec![e]);
        Ok(())
    }

    async fn delete_version(
        &self,
        name: &str,
        version: u32,
        force: bool,
        change: Change,
    ) -> Result<ModelVersion> {
        let trace = self.trace();
        let at = self.clock.now();
        let (mv, events) = {
            let mut st = self.lock();
            let mv = st.version_mut(name, version)?.clone();
            let mv = st.with_aliases(mv);
            if !mv.aliases.is_empty() && !force {
                return Err(Error::Conflict(format!(
                    "{name}/{version} is the target of alias(es) {}; move or delete them first, \
                     or force the deletion",
                    mv.aliases.join(", ")
                )));
            }
            let mut events = Vec::new();
            for alias in &mv.aliases {
                st.aliases.remove(&(name.to_string(), alias.clone()));
                let c = AliasChange {
                    name: name.into(),
                    alias: alias.clone(),
                    version: None,
                    previous: Some(version),
                    at,
                    change: change.clone(),
                };
                events.push(self.record_alias_change(&mut st, &trace, c));
            }
            if let Some(entry) = st.models.get_mut(name) {
                entry.versions.remove(&version);
            }
            let sha = &mv.artifact_sha256;
            let still_used = st
                .models
                .values()
                .any(|m| m.versions.values().any(|v| &v.artifact_sha256 == sha));
            if !still_used {
                st.artifacts.remove(sha);
            }
            events.push(st.push_event(
                at,
                RegistryEventKind::VersionDeleted {
                    name: name.into(),
                    version,
                },
            ));
            self.audit(&trace, |t| {
                audit_records::version_deleted(&mv, force, &change, t)
            });
            (mv, events)
        };
        self.publish(events);
        Ok(mv)
    }

    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>> {
        let st = self.lock();
        // Sequence numbers are 1-based positions.
        let from = usize::try_from(cursor)
            .unwrap_or(usize::MAX)
            .min(st.events.len());
        Ok(st.events[from..].to_vec())
    }

    fn live_events(&self) -> Option<broadcast::Receiver<RegistryEvent>> {
        Some(self.live.subscribe())
    }

    fn audit_log(&self) -> Option<Arc<dyn AuditLog>> {
        self.audit.clone().map(|l| l as Arc<dyn AuditLog>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        super::super::registry_conformance(&InMemoryRegistry::new(Arc::new(SystemClock))).await;
    }
}
