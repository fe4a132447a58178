use super::{Alert, AlertKind, DeliveryAttempt};
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
/// - Cooldown marks: [`AlertStore::save_cooldown`] keeps one mark per (model, kind, key),
///   a later save replacing the earlier; [`AlertStore::clear_cooldowns`] removes the marks of
///   a model's kind (one key, or all keys when `None`); [`AlertStore::cooldowns`] answers the
///   marks kept (times to the microsecond at least). A durable store keeps them across processes, so a restarted
///   [`AlertDispatcher`](super::AlertDispatcher) goes on suppressing repeats; the default
///   methods keep nothing (a dispatcher then starts every process with no cooldown).
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
    /// Keep `mark` (replacing the mark of the same model, kind and key).
    async fn save_cooldown(&self, mark: &CooldownMark) -> Result<()> {
        let _ = mark;
        Ok(())
    }
    /// Remove the marks of `model`'s `kind`: the one of `key`, or every key when `None`.
    async fn clear_cooldowns(&self, model: &str, kind: AlertKind, key: Option<&str>) -> Result<()> {
        let _ = (model, kind, key);
        Ok(())
    }
    /// The marks kept.
    async fn cooldowns(&self) -> Result<Vec<CooldownMark>> {
        Ok(Vec::new())
    }
}

/// When an alert condition was last delivered: what a restarted dispatcher needs to go on
/// suppressing its repeats within the cooldown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CooldownMark {
    /// The model.
    pub model: String,
    /// The alert kind.
    pub kind: AlertKind,
    /// The condition's column, or `vN` for a version's event; `None` for the whole model.
    pub key: Option<String>,
    /// When the alert was delivered.
    pub delivered_at: DateTime<Utc>,
}

/// An [`AlertStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryAlertStore {
    records: Mutex<Vec<AlertRecord>>,
    cooldowns: Mutex<Vec<CooldownMark>>,
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

    async fn save_cooldown(&self, mark: &CooldownMark) -> Result<()> {
        let mut marks = self.cooldowns.lock().unwrap_or_else(|p| p.into_inner());
        marks.retain(|m| (&m.model, m.kind, &m.key) != (&mark.model, mark.kind, &mark.key));
        marks.push(mark.clone());
        Ok(())
    }

    async fn clear_cooldowns(&self, model: &str, kind: AlertKind, key: Option<&str>) -> Result<()> {
        self.cooldowns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|m| {
                !(m.model == model && m.kind == kind && (key.is_none() || m.key.as_deref() == key))
            });
        Ok(())
    }

    async fn cooldowns(&self) -> Result<Vec<CooldownMark>> {
        Ok(self
            .cooldowns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }
}
