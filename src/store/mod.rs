//! Storage: the only layer that speaks SQL.
//!
//! [`sqlite`] owns the embedded store's database: connections, pragmas, migrations and the
//! schema of every table. The registry and the audit log build on it; nothing above this layer
//! opens a database or creates a table.

#[cfg(feature = "sqlite")]
pub(crate) mod alerts;
pub(crate) mod lifecycle_state;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

#[cfg(feature = "sqlite")]
pub(crate) mod controller_state;
