//! The controller's saved state and lease as plain values, shared by the SQLite and
//! PostgreSQL backends.

use chrono::{DateTime, Utc};

/// The controller's saved state of one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SavedState {
    pub registry_cursor: u64,
    pub last_window_end: Option<DateTime<Utc>>,
    pub last_schedule: Option<DateTime<Utc>>,
    pub in_progress: Option<String>,
}

/// Who holds a model's controller lease.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lease {
    pub holder: String,
    pub pid: u32,
    pub heartbeat: DateTime<Utc>,
}
