//! The audit records of registry changes: one shape whichever component appends them.
//!
//! A registry that records its own changes ([`Registry::audit_log`]) appends these in the
//! same transaction as the change; the lifecycle appends the same records itself when the
//! registry does not. Custom backends that record their changes should build their records
//! with these functions so lineage queries and exports read them alike.
//!
//! [`Registry::audit_log`]: super::Registry::audit_log

use super::{AliasChange, Change, ModelVersion, StatusChange};
use crate::audit::{AuditEntry, actions};
use serde_json::json;

fn vref(name: &str, version: u32) -> String {
    format!("{name}/{version}")
}

/// `version.registered`: actor the lineage's `created_by`; subjects `name/version`, then
/// the lineage's training and validation dataset ids; payload `artifact_sha256`, `flavor`,
/// `lineage`, `metrics`, `model_name`, `version`.
pub fn version_registered(mv: &ModelVersion, trace_id: String) -> AuditEntry {
    let mut subjects = vec![vref(&mv.name, mv.version)];
    subjects.extend(mv.lineage.training_datasets.iter().map(|d| d.to_string()));
    subjects.extend(mv.lineage.validation_dataset.iter().map(|d| d.to_string()));
    AuditEntry {
        actor: mv.lineage.created_by.clone(),
        action: actions::VERSION_REGISTERED.into(),
        subjects,
        payload: json!({
            "artifact_sha256": mv.artifact_sha256, "flavor": mv.flavor, "lineage": mv.lineage,
            "metrics": mv.metrics, "model_name": mv.name, "version": mv.version,
        }),
        trace_id,
    }
}

/// `version.status_changed`: actor who decided; subject `name/version`; payload `status`,
/// `reason`, `model_name`, `version`.
pub fn status_changed(c: &StatusChange, trace_id: String) -> AuditEntry {
    AuditEntry {
        actor: c.change.actor.clone(),
        action: actions::VERSION_STATUS_CHANGED.into(),
        subjects: vec![vref(&c.name, c.version)],
        payload: json!({
            "status": c.status, "reason": c.change.reason,
            "model_name": c.name, "version": c.version,
        }),
        trace_id,
    }
}

/// `alias.moved` when the alias now points somewhere (subject: the new target), or
/// `alias.deleted` when it was removed (subject: the version it pointed to); actor who
/// changed it; payload `model_name`, `alias`, `from`, `to` (moves only), `reason`.
pub fn alias_changed(c: &AliasChange, trace_id: String) -> AuditEntry {
    let (action, subjects, payload) = match c.version {
        Some(to) => (
            actions::ALIAS_MOVED,
            vec![vref(&c.name, to)],
            json!({
                "model_name": c.name, "alias": c.alias, "from": c.previous, "to": to,
                "reason": c.change.reason,
            }),
        ),
        None => (
            actions::ALIAS_DELETED,
            c.previous.map(|v| vref(&c.name, v)).into_iter().collect(),
            json!({
                "model_name": c.name, "alias": c.alias, "from": c.previous,
                "reason": c.change.reason,
            }),
        ),
    };
    AuditEntry {
        actor: c.change.actor.clone(),
        action: action.into(),
        subjects,
        payload,
        trace_id,
    }
}

/// `version.deleted`: actor who deleted it; subject `name/version`; payload `model_name`,
/// `version`, `artifact_sha256`, `forced`, `aliases` (removed with it), `reason`.
pub fn version_deleted(
    mv: &ModelVersion,
    forced: bool,
    change: &Change,
    trace_id: String,
) -> AuditEntry {
    AuditEntry {
        actor: change.actor.clone(),
        action: actions::VERSION_DELETED.into(),
        subjects: vec![vref(&mv.name, mv.version)],
        payload: json!({
            "model_name": mv.name, "version": mv.version, "artifact_sha256": mv.artifact_sha256,
            "forced": forced, "aliases": mv.aliases, "reason": change.reason,
        }),
        trace_id,
    }
}
