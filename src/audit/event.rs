//! The typed audit event: one variant per action, one payload struct per variant.
//!
//! Writers build an [`AuditEvent`] and turn it into an [`AuditEntry`] with
//! [`AuditEntry::from_event`]; readers turn a stored record back into one with
//! [`AuditEntry::event`]. The action names ([`AuditEvent::action`], the constants in
//! [`actions`](super::actions)) and the payload field names are the stored format.
//!
//! # Versions
//! The payloads are read tolerantly: fields a payload does not have are `None` (or
//! empty), fields it has that the struct does not know are ignored, and actions this
//! version does not know read as [`AuditEvent::Other`]. Records written by every earlier
//! version therefore still read; [`SCHEMA_VERSION`] counts incompatible changes (there has
//! been none), and a change that cannot be read tolerantly must raise it and keep a
//! reader for the old shape.

use super::{AuditEntry, actions};
use crate::data::{DatasetId, QualityReport};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the payload shapes below (1: the shapes of the first release).
pub const SCHEMA_VERSION: u32 = 1;

/// The role of a dataset in a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetRole {
    /// The data a run started from.
    Source,
    /// The training split.
    Train,
    /// The holdout split.
    Holdout,
}

/// `dataset.registered`: a dataset entered the lifecycle. Subject: the dataset id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRegistered {
    /// Where it came from (a file, a query, "train split (75%, seed 42) of …").
    pub source: String,
    /// The content hash (equal to the dataset id).
    pub hash: DatasetId,
    /// Rows.
    pub rows: usize,
    /// Feature columns.
    pub features: usize,
    /// Its role in the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<DatasetRole>,
    /// The dataset a split was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<DatasetId>,
    /// Why the run started (`manual`, `drift_alert`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The model the run trains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
}

/// `training.started`. Subject: the training split's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingStarted {
    /// The trainer's name.
    pub trainer: String,
    /// Rows trained on.
    pub train_rows: usize,
    /// The source dataset and the training split.
    pub datasets: Vec<DatasetId>,
    /// The holdout split.
    pub holdout: DatasetId,
    /// The code version (e.g. a git commit).
    #[serde(default)]
    pub code_version: Option<String>,
    /// The seed.
    pub seed: u64,
    /// The model trained.
    pub model_name: String,
}

/// `training.finished`. Subject: the training split's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingFinished {
    /// The algorithm.
    pub algorithm: String,
    /// Its parameters (with the search trials, when there was a search).
    pub params: Value,
    /// The seed (records of the first command-line trainer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The model trained (records of the first command-line trainer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
}

/// Whether a candidate passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationVerdict {
    /// It may be promoted.
    Pass,
    /// It may not.
    Fail,
}

impl ValidationVerdict {
    /// `Pass` when `promote`.
    pub fn of(promote: bool) -> Self {
        if promote { Self::Pass } else { Self::Fail }
    }
}

/// `validation.completed`. Subjects: the holdout's id (after `name/version` when the
/// version was registered before it was validated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationCompleted {
    /// The model.
    pub model_name: String,
    /// The champion's version, if there was one.
    #[serde(default)]
    pub champion: Option<u32>,
    /// The verdict.
    pub decision: ValidationVerdict,
    /// The validation report (metrics, checks, profile).
    pub report: Value,
    /// The candidate's version, when it was registered before validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Why the run started, when it was a release run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The candidate's version (`mlcycle validate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<u32>,
    /// The champion's model name (`mlcycle validate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion_model: Option<String>,
    /// The holdout file (`mlcycle validate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<String>,
}

/// `version.registered`. Subjects: `name/version`, then the dataset ids of its lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRegistered {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// The artifact's SHA-256.
    pub artifact_sha256: String,
    /// The artifact's flavor.
    pub flavor: String,
    /// The version's lineage (datasets, code, trainer, params, creator).
    pub lineage: Value,
    /// The registered metrics.
    #[serde(default)]
    pub metrics: Value,
}

/// `version.status_changed`. Actor: who decided. Subject: `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionStatusChanged {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// The new status (`approved`, `rejected`, …).
    pub status: String,
    /// Why.
    pub reason: String,
}

/// `version.deleted`. Actor: who deleted it. Subject: `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionDeleted {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// Its artifact's SHA-256.
    pub artifact_sha256: String,
    /// Whether it was deleted although aliases named it.
    pub forced: bool,
    /// Aliases removed with it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Why.
    pub reason: String,
}

/// `approval.requested`: a version waits for a human decision. Subject: `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequested {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// Why the run started.
    pub trigger: String,
}

/// `approval.decided`: a person approved or rejected a pending version, from any process
/// (CLI, HTTP admin API, library); the record's actor is who decided. Subject:
/// `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecided {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// `approved` or `rejected`.
    pub decision: String,
    /// Who decided.
    pub decided_by: String,
    /// Why.
    pub reason: String,
}

/// `deployment.started`. Subject: `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentStarted {
    /// The deployer's kind.
    pub deployer: String,
    /// Where it serves.
    pub endpoint: String,
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// When it started serving.
    pub since: DateTime<Utc>,
    /// Who approved it.
    pub approved_by: String,
    /// The version it replaces.
    #[serde(default)]
    pub replaces: Option<u32>,
}

/// `deployment.stopped`: replaced or undeployed. Subject: `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentStopped {
    /// The deployer's kind.
    pub deployer: String,
    /// Where it served.
    pub endpoint: String,
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// When it had started serving.
    pub since: DateTime<Utc>,
    /// Why it stopped.
    pub reason: String,
    /// The version that replaced it, if it was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<u32>,
}

/// `alias.moved`. Actor: who moved it. Subject: `name/version` of the new target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMoved {
    /// The model.
    pub model_name: String,
    /// The alias.
    pub alias: String,
    /// Where it pointed before.
    #[serde(default)]
    pub from: Option<u32>,
    /// Where it points now.
    pub to: u32,
    /// Why.
    pub reason: String,
}

/// `alias.deleted`. Actor: who removed it. Subject: `name/version` it pointed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasDeleted {
    /// The model.
    pub model_name: String,
    /// The alias.
    pub alias: String,
    /// Where it pointed.
    #[serde(default)]
    pub from: Option<u32>,
    /// Why.
    pub reason: String,
}

/// `batch.scored`: a batch-scoring job ran. Subjects: `name/version`, `blake3:<input hash>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchScored {
    /// The model.
    pub model_name: String,
    /// The version.
    pub model_version: u32,
    /// The input file.
    pub input: String,
    /// The input's hash.
    pub input_hash: String,
    /// The output file.
    pub output: String,
    /// The rejects file.
    pub rejects: String,
    /// Rows read.
    pub rows_read: u64,
    /// Rows scored.
    pub rows_scored: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// How it ended (`published`, …).
    pub outcome: String,
}

/// `drift.checked`: a monitoring check ran. Subject: `name/version` of the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftChecked {
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub to: DateTime<Utc>,
    /// What the window was compared with (`training data`, `stored reference profile`).
    pub baseline: String,
    /// The health report.
    pub health: Value,
    /// Whether the dataset drifted (`None` when the check was skipped).
    #[serde(default)]
    pub dataset_drift: Option<bool>,
    /// The drifted columns (`None` when the check was skipped).
    #[serde(default)]
    pub drifted_columns: Option<Vec<String>>,
    /// Data-quality faults found.
    #[serde(default)]
    pub quality_faults: Value,
    /// Why the drift check was skipped.
    #[serde(default)]
    pub skipped: Option<String>,
    /// Realized performance on the labelled share (`labelled`, `coverage`, `metrics`,
    /// `baseline`, `degraded`), when labels were measured; absent in earlier records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<Value>,
}

/// `retrain.decided`. Subjects: `name/version` of the reference, the new dataset id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainDecided {
    /// Why (`dataset drift`).
    pub reason: String,
    /// The drifted columns, comma-separated.
    pub drifted: String,
    /// The retraining data's start.
    pub data_from: DateTime<Utc>,
    /// Its end.
    pub data_to: DateTime<Utc>,
    /// Its rows.
    pub rows: usize,
}

/// `monitoring.decided`: a monitoring cycle that did something. Subject: `name/version`
/// of the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringDecided {
    /// The decision (`data_quality_fault`, `drift_alert`, `expected_shift`, `retrained`).
    pub decision: String,
    /// Why, for decisions that did not retrain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The retraining cycle, for `retrained`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Value>,
}

/// `alert.raised`. Subject: `name/version` of the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRaised {
    /// When.
    pub at: DateTime<Utc>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// `drift`, `data_quality`, `health`, `validation_failed`, `approval_needed`,
    /// `released` or `rolled_back`.
    pub kind: String,
    /// The model concerned.
    pub model_name: String,
    /// What happened.
    pub message: String,
    /// The run that raised it.
    pub trace_id: String,
}

/// Payload of `alert.delivery`: one attempt at delivering an alert to a sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDelivery {
    /// The alert's id.
    pub alert_id: String,
    /// The alert's kind.
    pub kind: String,
    /// The model concerned.
    pub model_name: String,
    /// The sink's name.
    pub sink: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The delivery's id (the webhook's `X-Mlcycle-Delivery`).
    pub delivery_id: String,
    /// Whether the attempt succeeded.
    pub ok: bool,
    /// The HTTP status answered, for a webhook.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
}

/// Payload of `model.owner_set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerSet {
    /// The model.
    pub model_name: String,
    /// The new owner (`None`: cleared).
    pub owner: Option<String>,
    /// The owner before.
    pub previous: Option<String>,
    /// Why.
    pub reason: String,
}

/// `labels.recorded`: a batch of ground-truth labels was stored. Subjects: the corrected
/// keys (`REQUEST_ID` or `REQUEST_ID/ROW`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsRecorded {
    /// Where the labels came from (a file, `POST /labels`, a library call).
    pub source: String,
    /// Labels received.
    pub received: usize,
    /// Keys labelled for the first time.
    pub inserted: usize,
    /// Repeats of a stored label (nothing changed).
    pub unchanged: usize,
    /// Keys whose stored label was replaced by a different one (the later one wins).
    pub corrected: Vec<String>,
}

/// `dataset.published`: a version was added to the dataset catalog. Subject: `NAME@vVERSION`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetPublished {
    /// The catalog name.
    pub name: String,
    /// The version number under that name (1, 2, …).
    pub version: u32,
    /// `blake3:<hex>` of the file's bytes.
    pub hash: String,
    /// The file it was added from.
    pub source: String,
    /// Data rows (without the header).
    pub rows: u64,
    /// Columns.
    pub columns: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// `stage.failed`: a lifecycle stage failed after it started. Subject: the model's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFailed {
    /// The stage (`train`, `validate`, `register`, …).
    pub stage: String,
    /// What went wrong.
    pub error: String,
}

/// `version.tagged`: a tag of a version was set. Subject: `name/version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionTagged {
    /// The model.
    pub model_name: String,
    /// The version.
    pub version: u32,
    /// The tag's key.
    pub key: String,
    /// Its new value.
    pub value: String,
    /// Its value before, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

macro_rules! events {
    ($($variant:ident($payload:ty) = $action:path),* $(,)?) => {
        /// One audit record's action and payload, typed.
        ///
        /// ```
        /// use mlcycle::audit::{AuditEntry, AuditEvent, event::AliasMoved, actions};
        /// let e = AuditEvent::AliasMoved(AliasMoved {
        ///     model_name: "credit".into(), alias: "production".into(), from: None, to: 1,
        ///     reason: "first version".into(),
        /// });
        /// assert_eq!(e.action(), actions::ALIAS_MOVED);
        /// let entry = AuditEntry::from_event("ann", vec!["credit/1".into()], &e, "t1");
        /// assert_eq!(entry.payload["to"], 1);
        /// assert_eq!(entry.event().unwrap(), e);
        /// ```
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum AuditEvent {
            $(
                #[doc = concat!("`", stringify!($action), "`.")]
                $variant($payload),
            )*
            /// An action this version does not know (a user's own records, or a newer
            /// version's); its payload as stored.
            Other {
                /// The action name.
                action: String,
                /// The payload.
                payload: Value,
            },
        }

        impl AuditEvent {
            /// The action name stored with the record.
            pub fn action(&self) -> &str {
                match self {
                    $(AuditEvent::$variant(_) => $action,)*
                    AuditEvent::Other { action, .. } => action,
                }
            }

            /// The payload stored with the record.
            pub fn payload(&self) -> Value {
                match self {
                    $(AuditEvent::$variant(p) => to_object(p),)*
                    AuditEvent::Other { payload, .. } => payload.clone(),
                }
            }

            /// Read a stored action and payload. Unknown actions read as
            /// [`AuditEvent::Other`]; a known action whose payload does not have the
            /// fields it needs is an error naming the action and the field.
            pub fn parse(action: &str, payload: &Value) -> Result<Self> {
                fn typed<T: serde::de::DeserializeOwned>(action: &str, payload: &Value) -> Result<T> {
                    T::deserialize(payload).map_err(|e| {
                        Error::invalid(
                            format!("the payload of an audit record `{action}`"),
                            format!("{e}; the record was not written by mlcycle's lifecycle or registry, or was altered (run `mlcycle audit verify`)"),
                        )
                    })
                }
                Ok(match action {
                    $($action => AuditEvent::$variant(typed(action, payload)?),)*
                    _ => AuditEvent::Other { action: action.to_string(), payload: payload.clone() },
                })
            }

            /// Every action name this version knows, in declaration order.
            pub const ACTIONS: &'static [&'static str] = &[$($action),*];
        }
    };
}

events! {
    DatasetRegistered(DatasetRegistered) = actions::DATASET_REGISTERED,
    DataQualityChecked(QualityReport) = actions::DATA_QUALITY_CHECKED,
    TrainingStarted(TrainingStarted) = actions::TRAINING_STARTED,
    TrainingFinished(TrainingFinished) = actions::TRAINING_FINISHED,
    ValidationCompleted(ValidationCompleted) = actions::VALIDATION_COMPLETED,
    VersionRegistered(VersionRegistered) = actions::VERSION_REGISTERED,
    VersionStatusChanged(VersionStatusChanged) = actions::VERSION_STATUS_CHANGED,
    VersionDeleted(VersionDeleted) = actions::VERSION_DELETED,
    ApprovalRequested(ApprovalRequested) = actions::APPROVAL_REQUESTED,
    ApprovalDecided(ApprovalDecided) = actions::APPROVAL_DECIDED,
    DeploymentStarted(DeploymentStarted) = actions::DEPLOYMENT_STARTED,
    DeploymentStopped(DeploymentStopped) = actions::DEPLOYMENT_STOPPED,
    AliasMoved(AliasMoved) = actions::ALIAS_MOVED,
    AliasDeleted(AliasDeleted) = actions::ALIAS_DELETED,
    BatchScored(BatchScored) = actions::BATCH_SCORED,
    DriftChecked(DriftChecked) = actions::DRIFT_CHECKED,
    RetrainDecided(RetrainDecided) = actions::RETRAIN_DECIDED,
    MonitoringDecided(MonitoringDecided) = actions::MONITORING_DECIDED,
    AlertRaised(AlertRaised) = actions::ALERT_RAISED,
    AlertDelivery(AlertDelivery) = actions::ALERT_DELIVERY,
    OwnerSet(OwnerSet) = actions::OWNER_SET,
    LabelsRecorded(LabelsRecorded) = actions::LABELS_RECORDED,
    DatasetPublished(DatasetPublished) = actions::DATASET_PUBLISHED,
    StageFailed(StageFailed) = actions::STAGE_FAILED,
    VersionTagged(VersionTagged) = actions::VERSION_TAGGED,
}

/// A payload struct as a JSON object. The payload structs have string keys and plain
/// fields only, which serde_json always serialises; should that ever change, the record
/// says so instead of the append failing.
fn to_object<T: Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload)
        .unwrap_or_else(|e| serde_json::json!({ "unserialisable_payload": e.to_string() }))
}

impl AuditEntry {
    /// The entry that records `event`, done by `actor`, concerning `subjects`, in the run
    /// `trace_id`.
    pub fn from_event(
        actor: impl Into<String>,
        subjects: Vec<String>,
        event: &AuditEvent,
        trace_id: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            actor: actor.into(),
            action: event.action().to_string(),
            subjects,
            payload: event.payload(),
            trace_id: trace_id.into(),
        }
    }

    /// The entry's action and payload, typed (see [`AuditEvent::parse`]).
    pub fn event(&self) -> Result<AuditEvent> {
        AuditEvent::parse(&self.action, &self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_known_action_has_a_distinct_name() {
        let mut names = AuditEvent::ACTIONS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditEvent::ACTIONS.len());
        assert_eq!(names.len(), 25);
    }

    #[test]
    fn unknown_actions_read_as_other_and_keep_their_payload() {
        let p = json!({"why": "ok"});
        let e = AuditEvent::parse("model.approved", &p).unwrap();
        assert_eq!(e.action(), "model.approved");
        assert_eq!(e.payload(), p);
    }

    #[test]
    fn a_known_action_with_a_wrong_payload_is_an_error_naming_it() {
        let err = AuditEvent::parse(actions::ALIAS_MOVED, &json!({"alias": 3})).unwrap_err();
        assert!(err.to_string().contains("alias.moved"), "{err}");
    }

    #[test]
    fn optional_fields_are_left_out_or_written_as_null_as_before() {
        let e = AuditEvent::DeploymentStopped(DeploymentStopped {
            deployer: "in_process".into(),
            endpoint: "in-process".into(),
            model_name: "m".into(),
            version: 1,
            since: DateTime::<Utc>::UNIX_EPOCH,
            reason: "undeployed".into(),
            replaced_by: None,
        });
        assert!(e.payload().get("replaced_by").is_none());
        let a = AuditEvent::AliasMoved(AliasMoved {
            model_name: "m".into(),
            alias: "production".into(),
            from: None,
            to: 1,
            reason: "r".into(),
        });
        assert_eq!(a.payload()["from"], Value::Null);
    }
}
