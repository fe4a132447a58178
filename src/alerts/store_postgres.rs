//! The alert store in a PostgreSQL database (feature `postgres`).

use super::{Alert, AlertKind, AlertQuery, AlertRecord, AlertStore, CooldownMark, DeliveryAttempt};
use crate::store::postgres::PgPool;
use crate::store::postgres::alerts as sql;
use crate::{Error, Result};
use async_trait::async_trait;
use uuid::Uuid;

/// An [`AlertStore`] in a PostgreSQL database (tables `alerts`, `alert_deliveries`), so every
/// host reads the alerts any controller raised.
#[derive(Debug, Clone)]
pub struct PostgresAlertStore {
    pool: PgPool,
}

impl PostgresAlertStore {
    /// Connect to the PostgreSQL database at `url`, creating or upgrading its schema.
    pub async fn connect(url: &str) -> Result<PostgresAlertStore> {
        Ok(Self::with_pool(PgPool::connect(url).await?))
    }

    pub(crate) fn with_pool(pool: PgPool) -> Self {
        PostgresAlertStore { pool }
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
impl AlertStore for PostgresAlertStore {
    async fn insert(&self, alert: &Alert, suppressed: bool) -> Result<()> {
        let stored = sql::insert(
            &*self.pool.get().await?,
            &alert.id.to_string(),
            &alert.model_name,
            alert.kind.as_str(),
            alert.at,
            &encode(alert)?,
            suppressed,
        )
        .await?;
        match stored {
            true => Ok(()),
            false => Err(Error::AlreadyExists {
                kind: "alert",
                name: alert.id.to_string(),
            }),
        }
    }

    async fn record_attempt(&self, alert_id: Uuid, attempt: &DeliveryAttempt) -> Result<()> {
        let stored = sql::record_attempt(
            &*self.pool.get().await?,
            &alert_id.to_string(),
            &encode(attempt)?,
        )
        .await?;
        match stored {
            true => Ok(()),
            false => Err(Error::not_found(
                "alert",
                alert_id,
                "record an attempt only for a stored alert",
            )),
        }
    }

    async fn list(&self, q: &AlertQuery) -> Result<Vec<AlertRecord>> {
        sql::list(&*self.pool.get().await?, q.model.as_deref(), q.since)
            .await?
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
        sql::save_cooldown(
            &*self.pool.get().await?,
            &mark.model,
            mark.kind.as_str(),
            mark.key.as_deref(),
            mark.delivered_at,
        )
        .await
    }

    async fn clear_cooldowns(&self, model: &str, kind: AlertKind, key: Option<&str>) -> Result<()> {
        sql::clear_cooldowns(&*self.pool.get().await?, model, kind.as_str(), key).await
    }

    async fn cooldowns(&self) -> Result<Vec<CooldownMark>> {
        let rows = sql::cooldowns(&*self.pool.get().await?).await?;
        // A kind this build does not know (written by a newer one) has no cooldown here.
        Ok(rows
            .into_iter()
            .filter_map(|(model, kind, key, delivered_at)| {
                AlertKind::parse(&kind).map(|kind| CooldownMark {
                    model,
                    kind,
                    key,
                    delivered_at,
                })
            })
            .collect())
    }
}
