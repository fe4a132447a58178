//! The crate's one public error type.
//!
//! Every fallible call in `mlcycle` returns [`Result<T>`]. The variants name *meanings*
//! (what went wrong), not the backend that noticed it; backend errors are mapped into
//! [`Error::Backend`] with the backend's name, so callers can match on meaning and still
//! read the underlying cause.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `mlcycle`.
///
/// Messages say what was wrong and, where possible, what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A named thing (model, version, alias, dataset, column, record) does not exist.
    #[error("{kind} `{name}` not found{}", hint_suffix(.hint))]
    NotFound {
        /// What kind of thing was looked up ("model", "alias", "column", ...).
        kind: &'static str,
        /// The name or reference that was looked up.
        name: String,
        /// A hint on how to fix it (may be empty).
        hint: String,
    },

    /// A thing that must be unique already exists.
    #[error("{kind} `{name}` already exists")]
    AlreadyExists {
        /// What kind of thing it is.
        kind: &'static str,
        /// Its name.
        name: String,
    },

    /// An argument or input value is invalid.
    #[error("invalid {what}: {why}")]
    InvalidInput {
        /// What was invalid (e.g. "model name", "l2 penalty").
        what: String,
        /// Why, and what would be valid.
        why: String,
    },

    /// Data does not match the schema a model or dataset expects.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),

    /// The data is unusable as given (empty, non-finite values, unknown category ...).
    #[error("data error: {0}")]
    Data(String),

    /// A numerical procedure failed (singular system, no convergence ...).
    #[error("numerical error: {0}")]
    Numerical(String),

    /// A stored artifact is missing or does not match its content hash.
    #[error("artifact {sha256} is corrupt or missing: {why}")]
    CorruptArtifact {
        /// The expected sha256 of the artifact.
        sha256: String,
        /// What was found instead.
        why: String,
    },

    /// The audit chain failed verification.
    #[error("audit chain broken at record {seq}: {why}")]
    AuditBroken {
        /// The first record that failed verification.
        seq: u64,
        /// What was wrong with it.
        why: String,
    },

    /// An operation is not allowed in the current state (e.g. deleting an aliased version).
    #[error("conflict: {0}")]
    Conflict(String),

    /// A storage or service backend failed.
    #[error("{backend} backend error: {source}")]
    Backend {
        /// The backend's name ("sqlite", "filesystem", ...).
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// (De)serialisation failed.
    #[error("serialisation error: {0}")]
    Serde(String),

    /// A background task or worker thread stopped before it finished: it panicked, or the
    /// runtime shut down under it. Not a problem with the data or the numbers — a bug in the
    /// code the task ran (mlcycle's, or a component plugged into it).
    #[error(
        "the {task} task did not finish: {why}; if it panicked, the panic message is printed \
         above and is a bug in the code the task ran (please report it); if the runtime was \
         shutting down, retry once it runs"
    )]
    Task {
        /// What the task was doing ("training", "drift detection", "sqlite read" ...).
        task: String,
        /// Why it did not finish (the runtime's join error, or "it panicked").
        why: String,
    },

    /// A lifecycle stage failed; wraps the underlying error with the stage name.
    #[error("stage `{stage}` failed: {source}")]
    Stage {
        /// The stage that failed.
        stage: Stage,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(" ({hint})")
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(what: impl fmt::Display, why: impl fmt::Display) -> Self {
        Error::InvalidInput {
            what: what.to_string(),
            why: why.to_string(),
        }
    }

    /// Shorthand for [`Error::NotFound`] with a hint.
    pub fn not_found(kind: &'static str, name: impl fmt::Display, hint: impl fmt::Display) -> Self {
        Error::NotFound {
            kind,
            name: name.to_string(),
            hint: hint.to_string(),
        }
    }

    /// Shorthand for an [`Error::Task`]: the task doing `task` did not finish, for `why`
    /// (a tokio `JoinError`, or a worker thread's panic).
    pub fn task(task: impl fmt::Display, why: impl fmt::Display) -> Self {
        Error::Task {
            task: task.to_string(),
            why: why.to_string(),
        }
    }

    /// Shorthand for an [`Error::Io`] on `path`. A full disk (`ENOSPC`, a quota exceeded)
    /// is said in words: "the disk holding PATH is full: free space and retry".
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        let path = path.as_ref().display().to_string();
        use std::io::ErrorKind::{QuotaExceeded, StorageFull};
        // ENOSPC and EDQUOT on Linux, should the kind not be mapped.
        let full = matches!(source.kind(), StorageFull | QuotaExceeded)
            || (cfg!(target_os = "linux") && matches!(source.raw_os_error(), Some(28 | 122)));
        let source = if full {
            std::io::Error::new(
                StorageFull,
                format!("the disk holding {path} is full: free space and retry ({source})"),
            )
        } else {
            source
        };
        Error::Io { path, source }
    }

    /// Wrap this error with the lifecycle stage it happened in (idempotent).
    pub fn in_stage(self, stage: Stage) -> Self {
        match self {
            e @ Error::Stage { .. } => e,
            e => Error::Stage {
                stage,
                source: Box::new(e),
            },
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Serde(e.to_string())
    }
}

/// A step of the model lifecycle; the stage an error happened in (see [`Error::Stage`]).
///
/// It lives here, at the bottom of the layer order, because errors name it; the lifecycle
/// re-exports it as `lifecycle::Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Data-quality check of the training data.
    QualityCheck,
    /// Model training.
    Train,
    /// Validation against the current champion.
    Validate,
    /// Registration in the model registry.
    Register,
    /// Approval (automatic or by a human).
    Approve,
    /// Deployment of the approved version.
    Deploy,
    /// Moving the serving alias to the new version.
    Promote,
    /// Monitoring (health and drift) on a window of collected data.
    Monitor,
    /// Deciding what to do about a monitoring result.
    Decide,
}

impl Stage {
    /// The stage's name in snake_case.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::QualityCheck => "quality_check",
            Stage::Train => "train",
            Stage::Validate => "validate",
            Stage::Register => "register",
            Stage::Approve => "approve",
            Stage::Deploy => "deploy",
            Stage::Promote => "promote",
            Stage::Monitor => "monitor",
            Stage::Decide => "decide",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicked_task_is_a_task_error_naming_the_task() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let join = rt.block_on(async {
            tokio::task::spawn_blocking(|| -> u32 { panic!("boom in the fit") }).await
        });
        let err = join.map_err(|e| Error::task("training", e)).unwrap_err();
        match &err {
            Error::Task { task, why } => {
                assert_eq!(task, "training");
                assert!(why.contains("panicked"), "{why}");
            }
            other => panic!("expected Error::Task, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("the training task did not finish"), "{msg}");
        assert!(!matches!(err, Error::Numerical(_)));
    }

    #[test]
    fn stage_names_are_snake_case_and_round_trip() {
        assert_eq!(Stage::QualityCheck.to_string(), "quality_check");
        let json = serde_json::to_string(&Stage::Promote).unwrap();
        assert_eq!(json, "\"promote\"");
        assert_eq!(
            serde_json::from_str::<Stage>(&json).unwrap(),
            Stage::Promote
        );
    }
}
