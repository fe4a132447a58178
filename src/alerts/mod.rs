//! Alerts that reach people: what an alert is ([`Alert`]), where it goes ([`AlertSink`]:
//! [`LogSink`], [`ChannelSink`], [`WebhookSink`]), and the [`AlertDispatcher`] that names the
//! model's owner, suppresses repeats of a persisting condition, stores every alert and every
//! delivery attempt ([`AlertStore`]) and audits each attempt.

mod dispatcher;
mod sinks;
mod store;
#[cfg(feature = "postgres")]
mod store_postgres;
#[cfg(feature = "sqlite")]
mod store_sqlite;
mod types;
#[cfg(feature = "webhook")]
mod webhook;

#[cfg(any(test, feature = "conformance"))]
mod conformance;
#[cfg(any(test, feature = "conformance"))]
pub use conformance::alert_store_conformance;

pub use dispatcher::{AlertDispatcher, DEFAULT_COOLDOWN};
pub use sinks::{AlertSink, ChannelSink, DeliveryAttempt, DeliveryReport, LogSink};
pub use store::{AlertQuery, AlertRecord, AlertStore, CooldownMark, MemoryAlertStore};
#[cfg(feature = "postgres")]
pub use store_postgres::PostgresAlertStore;
#[cfg(feature = "sqlite")]
pub use store_sqlite::SqliteAlertStore;
pub use types::{Alert, AlertKind, Severity, WebhookBody};
#[cfg(feature = "webhook")]
pub use webhook::{Backoff, SleepFn, WebhookSink};
