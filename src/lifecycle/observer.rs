use super::Stage;
pub use crate::alerts::{Alert, AlertKind, Severity};
use std::fmt::Debug;

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
