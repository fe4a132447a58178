//! The action names the lifecycle and the registry append, and what each record holds.
//! Lineage queries and exports read records by these names; they are part of the stored
//! format. [`AuditEvent`](super::AuditEvent) is their typed form: write and read records
//! through it, so that no action name is spelled outside this module.
//!
//! Subjects are ids: dataset ids (content hashes), `name/version` references, request ids.
//! Every record of one lifecycle run shares its `trace_id`.

/// A dataset entered the lifecycle. Subject: the dataset id. Payload: `source`, `hash`
/// (the content hash, equal to the id), `rows`, `features`, `role` (`source`, `train` or
/// `holdout`), `derived_from` (the dataset a split was taken from), `trigger`.
pub const DATASET_REGISTERED: &str = "dataset.registered";
/// The quality report of a training dataset. Subject: the dataset id. Payload: the report.
pub const DATA_QUALITY_CHECKED: &str = "data.quality_checked";
/// Training began. Subject: the training split's id. Payload: `trainer`, `train_rows`,
/// `datasets` (source and training split), `holdout`, `code_version`, `seed`.
pub const TRAINING_STARTED: &str = "training.started";
/// Training ended. Subject: the training split's id. Payload: `algorithm`, `params`.
pub const TRAINING_FINISHED: &str = "training.finished";
/// Validation against the champion. Subject: the holdout's id. Payload: `champion`,
/// `decision` (`pass` or `fail`), `report` (metrics, checks).
pub const VALIDATION_COMPLETED: &str = "validation.completed";
/// A version was registered. Subjects: `name/version`, then the dataset ids of its
/// lineage. Payload: `artifact_sha256`, `flavor`, `lineage`, `metrics`, `model_name`,
/// `version`.
pub const VERSION_REGISTERED: &str = "version.registered";
/// A version's status changed (approval, rejection). Actor: who decided. Subject:
/// `name/version`. Payload: `status`, `reason`.
pub const VERSION_STATUS_CHANGED: &str = "version.status_changed";
/// A version was deleted. Actor: who deleted it. Subject: `name/version`. Payload:
/// `model_name`, `version`, `artifact_sha256`, `forced`, `aliases` (removed with it),
/// `reason`.
pub const VERSION_DELETED: &str = "version.deleted";
/// A version waits for a human decision. Subject: `name/version`.
pub const APPROVAL_REQUESTED: &str = "approval.requested";
/// A person approved or rejected a pending version (from any process). Actor: who decided.
/// Subject: `name/version`. Payload: `model_name`, `version`, `decision`, `reason`.
pub const APPROVAL_DECIDED: &str = "approval.decided";
/// A version started serving. Subject: `name/version`. Payload: the deployment
/// (`deployer`, `endpoint`, `model_name`, `version`, `since`), `approved_by`, `replaces`.
pub const DEPLOYMENT_STARTED: &str = "deployment.started";
/// A version stopped serving (replaced or undeployed). Subject: `name/version`. Payload:
/// `deployer`, `endpoint`, `model_name`, `version`, `since`, `reason`, `replaced_by`.
pub const DEPLOYMENT_STOPPED: &str = "deployment.stopped";
/// An alias moved. Actor: who approved it. Subject: `name/version` (the new target).
/// Payload: `model_name`, `alias`, `from`, `to`, `reason`.
pub const ALIAS_MOVED: &str = "alias.moved";
/// An alias was removed. Actor: who removed it. Subject: `name/version` it pointed to.
/// Payload: `model_name`, `alias`, `from`, `reason`.
pub const ALIAS_DELETED: &str = "alias.deleted";
/// A batch-scoring job ran. Subjects: `name/version` and `blake3:<input file hash>`.
/// Payload: the job's `BatchSummary` (`model_name`, `model_version`, `input`,
/// `input_hash`, `output`, `rejects`, `rows_read`, `rows_scored`, `rows_rejected`,
/// `started_at`, `finished_at`, `outcome`).
pub const BATCH_SCORED: &str = "batch.scored";
/// A monitoring check ran. Subject: `name/version` of the reference. Payload: `from`,
/// `to` (the window), `health`, `dataset_drift`, `drifted_columns`, `quality_faults`,
/// `skipped`.
pub const DRIFT_CHECKED: &str = "drift.checked";
/// A retrain was decided. Subjects: `name/version` of the reference, the new dataset id.
/// Payload: `reason`, `drifted`, `data_from`, `data_to`, `rows`.
pub const RETRAIN_DECIDED: &str = "retrain.decided";
/// The outcome of a monitoring cycle that did something. Payload: the decision.
pub const MONITORING_DECIDED: &str = "monitoring.decided";
/// An alert was raised. Payload: the alert.
pub const ALERT_RAISED: &str = "alert.raised";
/// One attempt at delivering an alert to a sink. Subject: `name/version` (or the model's
/// name). Payload: `alert_id`, `kind`, `model_name`, `sink`, `attempt`, `delivery_id`,
/// `ok`, `status`, `error`.
pub const ALERT_DELIVERY: &str = "alert.delivery";
/// A model's owner was set or cleared. Actor: who changed it. Subject: the model's name.
/// Payload: `model_name`, `owner`, `previous`, `reason`.
pub const OWNER_SET: &str = "model.owner_set";
/// Ground-truth labels were recorded. Subjects: the corrected keys. Payload: `source`,
/// `received`, `inserted`, `unchanged`, `corrected` (the keys whose label changed).
pub const LABELS_RECORDED: &str = "labels.recorded";
/// A dataset version was added to the store's dataset catalog. Actor: who added it. Subject:
/// `NAME@vVERSION`. Payload: `name`, `version`, `hash`, `source`, `rows`, `columns`, `bytes`.
pub const DATASET_PUBLISHED: &str = "dataset.published";
/// A lifecycle stage failed after it started, so the records of the run before it describe
/// work that did not complete. Subject: the model's name. Payload: `stage`, `error`.
pub const STAGE_FAILED: &str = "stage.failed";
/// A version's tag was set. Actor: who set it. Subject: `name/version`. Payload:
/// `model_name`, `version`, `key`, `value`, `previous`.
pub const VERSION_TAGGED: &str = "version.tagged";
