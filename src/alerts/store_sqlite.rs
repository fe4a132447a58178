use super::Alert;
use super::{AlertKind, AlertQuery, AlertRecord, AlertStore, CooldownMark, DeliveryAttempt};
use crate::store::alerts::AlertDb;
use crate::{Error, Result};
use async_trait::async_trait;
use std::path::Path;
use uuid::Uuid;

/// An [`AlertStore`] in the embedded store's SQLite database (the same `mlcycle.db` as the
/// registry and the audit trail), so `mlcycle alerts` can read what a running lifecycle raised.
#[derive(Debug)]
pub struct SqliteAlertStore {
    db: AlertDb,
}

impl SqliteAlertStore {
    /// Open the store in `dir` (created and migrated if needed).
    pub fn open(dir: impl AsRef<Path>) -> Result<SqliteAlertStore> {
        Ok(SqliteAlertStore {
            db: AlertDb::open(dir.as_ref())?,
        })
    }

    /// Open the alerts of the existing store in `dir` for reading only (SQLite's read-only
    /// mode; no migration): `list` works, `insert` and `record_attempt` fail with the
    /// database's read-only error.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<SqliteAlertStore> {
        Ok(SqliteAlertStore {
            db: AlertDb::open_read_only(dir.as_ref())?,
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s)
        .map_err(|e| Error::Serde(format!("a stored {what} does not parse: {e}")))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Serde(e.to_string()))
}

#[async_trait]
impl AlertStore for SqliteAlertStore {
    async fn insert(&self, alert: &Alert, suppressed: bool) -> Result<()> {
        self.db.insert(
            &alert.id.to_string(),
            &alert.model_name,
            alert.kind.as_str(),
            alert.at,
            &encode(alert)?,
            suppressed,
        )
    }

    async fn record_attempt(&self, alert_id: Uuid, attempt: &DeliveryAttempt) -> Result<()> {
        self.db
            .record_attempt(&alert_id.to_string(), &encode(attempt)?)
    }

    async fn list(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>> {
        self.db
            .list(q.model.as_deref(), q.since)?
            .into_iter()
            .map(|row| {
                Ok(AlertRecord {
                    alert: decode("alert", &row.body)?,
                    suppressed: row.suppressed,
                    attempts: row
                        .attempts
                        .iter()
                        .map(|a| decode("delivery attempt", a))
                        .collect::<Result<_>>()?,
                })
            })
            .collect()
    }

    async fn save_cooldown(&self, mark: &CooldownMark) -> Result<()> {
        self.db.save_cooldown(
            &mark.model,
            mark.kind.as_str(),
            mark.key.as_deref(),
            mark.delivered_at,
        )
    }

    async fn clear_cooldowns(&self, model: &str, kind: AlertKind, key: Option<&str>) -> Result<()> {
        self.db.clear_cooldowns(model, kind.as_str(), key)
    }

    async fn cooldowns(&self) -> Result<Vec<CooldownMark>> {
        let mut out = Vec::new();
        for (model, kind, key, delivered_at) in self.db.cooldowns()? {
            // A kind this build does not know (written by a newer one) has no cooldown here.
            if let Some(kind) = AlertKind::parse(&kind) {
                out.push(CooldownMark {
                    model,
                    kind,
                    key,
                    delivered_at,
                });
            }
        }
        Ok(out)
    }
}
