use super::Stage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// How serious an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Warning,
    /// Needs action.
    Critical,
}

impl Severity {
    /// The stored name (`warning`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Production inputs drifted from the training baseline.
    Drift,
    /// Production inputs have a data-quality fault (e.g. a surge of missing values).
    DataQuality,
    /// The service is unhealthy (errors).
    Health,
}

impl AlertKind {
    /// The stored name (`drift`, `data_quality`, `health`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Drift => "drift",
            AlertKind::DataQuality => "data_quality",
            AlertKind::Health => "health",
        }
    }
}

/// An alert raised by the monitoring cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// When.
    pub at: DateTime<Utc>,
    /// Severity.
    pub severity: Severity,
    /// Kind.
    pub kind: AlertKind,
    /// The model concerned.
    pub model_name: String,
    /// What happened, in words.
    pub message: String,
    /// The lifecycle run that raised it.
    pub trace_id: String,
}

/// Hooks into the lifecycle: progress display, metrics, test recording. Every method has
/// a no-op default, so an observer implements only what it needs.
///
/// ```
/// use mlcycle::lifecycle::{Observer, Stage};
/// use std::sync::Mutex;
/// #[derive(Debug, Default)]
/// struct Recorder(Mutex<Vec<Stage>>);
/// impl Observer for Recorder {
///     fn stage_started(&self, stage: Stage, _trace_id: &str) {
///         self.0.lock().unwrap().push(stage);
///     }
/// }
/// let r = Recorder::default();
/// r.stage_started(Stage::Train, "t1");
/// r.stage_finished(Stage::Train, "t1", "done"); // default: does nothing
/// assert_eq!(*r.0.lock().unwrap(), vec![Stage::Train]);
/// ```
pub trait Observer: Send + Sync + Debug {
    /// A stage began.
    fn stage_started(&self, _stage: Stage, _trace_id: &str) {}
    /// A stage ended; `summary` says what it did or decided.
    fn stage_finished(&self, _stage: Stage, _trace_id: &str, _summary: &str) {}
    /// A stage failed.
    fn stage_failed(&self, _stage: Stage, _trace_id: &str, _error: &crate::Error) {}
    /// An alert was raised.
    fn alert(&self, _alert: &Alert) {}
    /// Progress within a stage: `done` of `total` units of `what` (for training: `"fit"`
    /// iterations or trees, cross-validation `"fold"`s, search `"trial"`s).
    fn progress(&self, _stage: Stage, _trace_id: &str, _what: &str, _done: usize, _total: usize) {}
}

/// An observer that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {}
