//! The alert tables (migration 5): `alerts` (one row per raised alert, its JSON form) and
//! `alert_deliveries` (one row per delivery attempt), and their queries.

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
}
