//! The trace a change belongs to, carried with the async task that makes it.
//!
//! A registry that records its own changes ([`Registry::audit_log`]) appends each record in
//! the same transaction as the change, so it must know which lifecycle run the change is
//! part of. The caller says so by running the registry calls inside [`in_trace`]; the
//! registry reads [`current_trace`] when the call starts. Changes made outside any trace
//! (a one-off command, a script) get a fresh trace id of their own ([`trace_or_new`]).
//!
//! [`Registry::audit_log`]: crate::registry::Registry::audit_log

use std::future::Future;

tokio::task_local! {
    static TRACE: String;
}

/// Run `fut` with `trace_id` as the current trace: the audit records that registry calls
/// inside it append carry this trace id.
///
/// ```
/// use mlcycle::audit::{current_trace, in_trace};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(current_trace(), None);
/// let seen = in_trace("train-42", async { current_trace() }).await;
/// assert_eq!(seen.as_deref(), Some("train-42"));
/// # });
/// ```
pub async fn in_trace<F: Future>(trace_id: impl Into<String>, fut: F) -> F::Output {
    TRACE.scope(trace_id.into(), fut).await
}

/// The trace id set by the enclosing [`in_trace`], if any.
pub fn current_trace() -> Option<String> {
    TRACE.try_with(Clone::clone).ok()
}

/// The current trace id, or a new one (`change-<uuid>`) for a change made outside a trace.
pub fn trace_or_new() -> String {
    current_trace().unwrap_or_else(|| format!("change-{}", uuid::Uuid::new_v4()))
}
