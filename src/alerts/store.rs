use super::{Alert, DeliveryAttempt};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::sync::Mutex;
use uuid::Uuid;

/// A stored alert with its delivery attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The alert.
    pub alert: Alert,
    /// True when it repeated a condition already alerted within the cooldown, so it was
    /// stored but not delivered.
    pub suppressed: bool,
    /// Every delivery attempt, in the order made.
    pub attempts: Vec<DeliveryAttempt>,
}

impl AlertRecord {
    /// `suppressed`, `delivered` (every sink's last attempt succeeded), `failed` (some
    /// sink's last attempt failed) or `pending` (no attempt recorded).
    pub fn status(&self) -> &'static str {
        if self.suppressed {
            return "suppressed";
        }
        if self.attempts.is_empty() {
            return "pending";
        }
        let mut sinks: Vec<&str> = self.attempts.iter().map(|a| a.sink.as_str()).collect();
        sinks.sort_unstable();
        sinks.dedup();
        let all_ok = sinks.iter().all(|s| {
            self.attempts
                .iter()
                .rev()
                .find(|a| a.sink == *s)
                .is_some_and(|a| a.ok)
        });
        if all_ok { "delivered" } else { "failed" }
    }
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertQuery {
    /// Only this model's.
    pub model: Option<String>,
    /// Only those raised at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// Where alerts and their delivery attempts are kept.
///
/// # Contract
/// - [`AlertStore::insert`] stores a new alert; inserting an id already stored is an
///   `AlreadyExists` error.
/// - [`AlertStore::record_attempt`] appends an attempt to a stored alert (`NotFound` for an
///   unknown id); attempts read back in the order recorded.
/// - [`AlertStore::list`] answers the alerts matching the query, oldest first (by `at`, then
///   by insertion), each with its attempts, equal to what was stored.
///
/// ```
/// use mlcycle::alerts::{Alert, AlertKind, AlertQuery, AlertStore, MemoryAlertStore, Severity};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryAlertStore::default();
/// let a = Alert::new(chrono::Utc::now(), Severity::Warning, AlertKind::Drift, "credit",
///                    "inputs drifted", "t1");
/// store.insert(&a, false).await.unwrap();
/// let all = store.list(&AlertQuery::default()).await.unwrap();
/// assert_eq!(all[0].alert, a);
/// assert_eq!(all[0].status(), "pending");
/// # });
/// ```
#[async_trait]
pub trait AlertStore: Send + Sync + Debug {
    /// Store a new alert (`suppressed`: repeated within the cooldown, not delivered).
    async fn insert(&self, alert: &Alert, suppressed: bool) -> Result<()>;
    /// Append a delivery attempt to the alert `alert_id`.
    async fn record_attempt(&self, alert_id: Uuid, attempt: &DeliveryAttempt) -> Result<()>;
    /// The alerts matching `query`, oldest first.
    async fn list(&self, query: &AlertQuery) -> Result<Vec<AlertRecord>>;
}

/// An [`AlertStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryAlertStore {
    records: Mutex<Vec<AlertRecord>>,
}

impl MemoryAlertStore {
    fn records(&self) -> std::sync::MutexGuard<'_, Vec<AlertRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl AlertStore for MemoryAlertStore {
    async fn insert(&self, alert: &Alert, suppressed: bool) -> Result<()> {
        let mut r = self.records();
        if r.iter().any(|x| x.alert.id == alert.id) {
            return Err(Error::AlreadyExists {
                kind: "alert",
                name: alert.id.to_string(),
            });
        }
        r.push(AlertRecord {
            alert: alert.clone(),
            suppressed,
            attempts: Vec::new(),
        });
        Ok(())
    }

    async fn record_attempt(&self, alert_id: Uuid, attempt: &DeliveryAttempt) -> Result<()> {
        let mut r = self.records();
        let rec = r
            .iter_mut()
            .find(|x| x.alert.id == alert_id)
            .ok_or_else(|| {
                Error::not_found(
                    "alert",
                    alert_id,
                    "record an attempt only for a stored alert",
                )
            })?;
        rec.attempts.push(attempt.clone());
        Ok(())
    }

    async fn list(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>> {
        let mut out: Vec<AlertRecord> = self
            .records()
            .iter()
            .filter(|r| q.model.as_ref().is_none_or(|m| &r.alert.model_name == m))
            .filter(|r| q.since.is_none_or(|s| r.alert.at >= s))
            .cloned()
            .collect();
        out.sort_by_key(|r| r.alert.at);
        Ok(out)
    }
}
