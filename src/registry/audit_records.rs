//! The audit records of registry changes: one shape whichever component appends them.
//!
//! A registry that records its own changes ([`Registry::audit_log`]) appends these in the
//! same transaction as the change; the lifecycle appends the same records itself when the
//! registry does not. Custom backends that record their changes should build their records
//! with these functions so lineage queries and exports read them alike.
//!
//! [`Registry::audit_log`]: super::Registry::audit_log

use super::{AliasChange, Change, ModelVersion, StatusChange};
use crate::audit::AuditEntry;
use crate::audit::event::{
    AliasDeleted, AliasMoved, AuditEvent, OwnerSet, VersionDeleted, VersionRegistered,
    VersionStatusChanged,
};

fn vref(name: &str, version: u32) -> String {
    format!("{name}/{version}")
}

/// A field's JSON form (`Null` for what has none).
fn json_of<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// `version.registered`: actor the lineage's `created_by`; subjects `name/version`, then
/// the lineage's training and validation dataset ids; payload `artifact_sha256`, `flavor`,
/// `lineage`, `metrics`, `model_name`, `version`.
pub fn version_registered(mv: &ModelVersion, trace_id: String) -> AuditEntry {
    let mut subjects = vec![vref(&mv.name, mv.version)];
    subjects.extend(mv.lineage.training_datasets.iter().map(|d| d.to_string()));
    subjects.extend(mv.lineage.validation_dataset.iter().map(|d| d.to_string()));
    let event = AuditEvent::VersionRegistered(VersionRegistered {
        model_name: mv.name.clone(),
        version: mv.version,
        artifact_sha256: mv.artifact_sha256.clone(),
        flavor: mv.flavor.clone(),
        lineage: json_of(&mv.lineage),
        metrics: json_of(&mv.metrics),
    });
    AuditEntry::from_event(mv.lineage.created_by.clone(), subjects, &event, trace_id)
}

/// `version.status_changed`: actor who decided; subject `name/version`; payload `status`,
/// `reason`, `model_name`, `version`.
pub fn status_changed(c: &StatusChange, trace_id: String) -> AuditEntry {
    let event = AuditEvent::VersionStatusChanged(VersionStatusChanged {
        model_name: c.name.clone(),
        version: c.version,
        status: json_of(&c.status).as_str().unwrap_or_default().to_string(),
        reason: c.change.reason.clone(),
    });
    AuditEntry::from_event(
        c.change.actor.clone(),
        vec![vref(&c.name, c.version)],
        &event,
        trace_id,
    )
}

/// `alias.moved` when the alias now points somewhere (subject: the new target), or
/// `alias.deleted` when it was removed (subject: the version it pointed to); actor who
/// changed it; payload `model_name`, `alias`, `from`, `to` (moves only), `reason`.
pub fn alias_changed(c: &AliasChange, trace_id: String) -> AuditEntry {
    let (subjects, event) = match c.version {
        Some(to) => (
            vec![vref(&c.name, to)],
            AuditEvent::AliasMoved(AliasMoved {
                model_name: c.name.clone(),
                alias: c.alias.clone(),
                from: c.previous,
                to,
                reason: c.change.reason.clone(),
            }),
        ),
        None => (
            c.previous.map(|v| vref(&c.name, v)).into_iter().collect(),
            AuditEvent::AliasDeleted(AliasDeleted {
                model_name: c.name.clone(),
                alias: c.alias.clone(),
                from: c.previous,
                reason: c.change.reason.clone(),
            }),
        ),
    };
    AuditEntry::from_event(c.change.actor.clone(), subjects, &event, trace_id)
}

/// `version.deleted`: actor who deleted it; subject `name/version`; payload `model_name`,
/// `version`, `artifact_sha256`, `forced`, `aliases` (removed with it), `reason`.
pub fn version_deleted(
    mv: &ModelVersion,
    forced: bool,
    change: &Change,
    trace_id: String,
) -> AuditEntry {
    let event = AuditEvent::VersionDeleted(VersionDeleted {
        model_name: mv.name.clone(),
        version: mv.version,
        artifact_sha256: mv.artifact_sha256.clone(),
        forced,
        aliases: mv.aliases.clone(),
        reason: change.reason.clone(),
    });
    AuditEntry::from_event(
        change.actor.clone(),
        vec![vref(&mv.name, mv.version)],
        &event,
        trace_id,
    )
}

/// `model.owner_set`: actor who changed it; subject the model's name; payload `model_name`,
/// `owner`, `previous`, `reason`.
pub fn owner_set(
    name: &str,
    owner: Option<&str>,
    previous: Option<String>,
    change: &Change,
    trace_id: String,
) -> AuditEntry {
    let event = AuditEvent::OwnerSet(OwnerSet {
        model_name: name.to_string(),
        owner: owner.map(str::to_string),
        previous,
        reason: change.reason.clone(),
    });
    AuditEntry::from_event(
        change.actor.clone(),
        vec![name.to_string()],
        &event,
        trace_id,
    )
}
