//! Storage: the only layer that speaks SQL.
//!
//! [`sqlite`] owns the embedded store's database: connections, pragmas, migrations and the
//! schema of every table. The registry and the audit log build on it; nothing above this layer
//! opens a database or creates a table. [`postgres`] does the same for a PostgreSQL database
//! (feature `postgres`).

#[cfg(feature = "sqlite")]
pub(crate) mod alerts;
#[cfg(feature = "sqlite")]
pub(crate) mod controller_state;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod controller_state_rows;
#[cfg(feature = "sqlite")]
pub(crate) mod datasets;
#[cfg(feature = "sqlite")]
pub(crate) mod labels;
#[cfg(feature = "sqlite")]
pub(crate) mod lifecycle_state;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod lifecycle_state_rows;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
