//! The alert tables (migration 5): `alerts` (one row per raised alert, its JSON form) and
//! `alert_deliveries` (one row per delivery attempt); the cooldown marks (migration 10:
//! `alert_cooldowns`, one row per model, kind and key); and their queries.

use super::sqlite::{open_db, sql_err};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

/// A stored alert row: its JSON form, whether it was suppressed, and its attempts' JSON
/// forms in the order recorded.
pub(crate) struct AlertRow {
    pub body: String,
    pub suppressed: bool,
    pub attempts: Vec<String>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A connection to the store's alert tables.
#[derive(Debug)]
pub(crate) struct AlertDb {
    conn: Mutex<Connection>,
}

impl AlertDb {
    /// Open (creating and migrating if needed) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<AlertDb> {
        Ok(AlertDb {
            conn: Mutex::new(open_db(dir)?),
        })
    }

    /// Open the existing store in `dir` for reading only (see
    /// [`connect_read_only`](super::sqlite::connect_read_only)).
    pub(crate) fn open_read_only(dir: &Path) -> Result<AlertDb> {
        Ok(AlertDb {
            conn: Mutex::new(super::sqlite::connect_read_only(dir)?),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Insert an alert; `AlreadyExists` when its id is stored.
    pub(crate) fn insert(
        &self,
        id: &str,
        model: &str,
        kind: &str,
        at: DateTime<Utc>,
        body: &str,
        suppressed: bool,
    ) -> Result<()> {
        let conn = self.conn();
        let exists: Option<i64> = conn
            .query_row("SELECT 1 FROM alerts WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_err)?;
        if exists.is_some() {
            return Err(Error::AlreadyExists {
                kind: "alert",
                name: id.to_string(),
            });
        }
        conn.execute(
            "INSERT INTO alerts (id, model, kind, at, suppressed, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, model, kind, ts(at), suppressed as i64, body],
        )
        .map_err(sql_err)?;
        Ok(())
    }

    /// Append an attempt (JSON) to the alert `id`; `NotFound` when it is not stored.
    pub(crate) fn record_attempt(&self, id: &str, attempt: &str) -> Result<()> {
        let conn = self.conn();
        let exists: Option<i64> = conn
            .query_row("SELECT 1 FROM alerts WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_err)?;
        if exists.is_none() {
            return Err(Error::not_found(
                "alert",
                id,
                "record an attempt only for a stored alert",
            ));
        }
        conn.execute(
            "INSERT INTO alert_deliveries (alert_id, body) VALUES (?1, ?2)",
            params![id, attempt],
        )
        .map_err(sql_err)?;
        Ok(())
    }

    /// The alerts of `model` (all when `None`) raised at or after `since`, oldest first.
    pub(crate) fn list(
        &self,
        model: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<AlertRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, suppressed, body FROM alerts
                 WHERE (?1 IS NULL OR model = ?1) AND (?2 IS NULL OR at >= ?2)
                 ORDER BY at, rowid",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(params![model, since.map(ts)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? != 0,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        let mut att = conn
            .prepare("SELECT body FROM alert_deliveries WHERE alert_id = ?1 ORDER BY seq")
            .map_err(sql_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, suppressed, body) in rows {
            let attempts = att
                .query_map(params![id], |r| r.get::<_, String>(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)?;
            out.push(AlertRow {
                body,
                suppressed,
                attempts,
            });
        }
        Ok(out)
    }

    /// Keep the cooldown mark of (`model`, `kind`, `key`), replacing an earlier one.
    pub(crate) fn save_cooldown(
        &self,
        model: &str,
        kind: &str,
        key: Option<&str>,
        delivered_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO alert_cooldowns (model, kind, key, delivered_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (model, kind, key) DO UPDATE SET delivered_at = excluded.delivered_at",
                params![model, kind, encode_key(key), ts(delivered_at)],
            )
            .map_err(sql_err)?;
        Ok(())
    }

    /// Remove the cooldown marks of `model`'s `kind`: one key, or all when `None`.
    pub(crate) fn clear_cooldowns(&self, model: &str, kind: &str, key: Option<&str>) -> Result<()> {
        let conn = self.conn();
        match key {
            Some(k) => conn.execute(
                "DELETE FROM alert_cooldowns WHERE model = ?1 AND kind = ?2 AND key = ?3",
                params![model, kind, encode_key(Some(k))],
            ),
            None => conn.execute(
                "DELETE FROM alert_cooldowns WHERE model = ?1 AND kind = ?2",
                params![model, kind],
            ),
        }
        .map_err(sql_err)?;
        Ok(())
    }

    /// Every cooldown mark: (model, kind, key, delivered_at).
    #[allow(clippy::type_complexity)]
    pub(crate) fn cooldowns(&self) -> Result<Vec<(String, String, Option<String>, DateTime<Utc>)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT model, kind, key, delivered_at FROM alert_cooldowns ORDER BY model, kind, key")
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        rows.into_iter()
            .map(|(model, kind, key, at)| {
                let at = DateTime::parse_from_rfc3339(&at)
                    .map_err(|e| {
                        Error::Serde(format!(
                            "a stored alert cooldown time `{at}` does not parse: {e}"
                        ))
                    })?
                    .with_timezone(&Utc);
                Ok((model, kind, decode_key(&key), at))
            })
            .collect()
    }
}

/// `None` is stored as '', `Some(k)` as `=k` (a key may itself be empty).
fn encode_key(key: Option<&str>) -> String {
    key.map_or_else(String::new, |k| format!("={k}"))
}

fn decode_key(stored: &str) -> Option<String> {
    stored.strip_prefix('=').map(str::to_string)
}
