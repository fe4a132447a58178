//! The lifecycle state's plain rows, shared by the SQLite and PostgreSQL backends.

/// A stored approval request and its decision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApprovalRow {
    pub model: String,
    pub version: u32,
    pub requested_at: String,
    pub trigger: String,
    pub summary: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub reason: Option<String>,
    pub applied_at: Option<String>,
}
