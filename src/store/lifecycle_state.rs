//! The lifecycle's durable state: one row per model with its drift episode and cooldown
//! (`lifecycle_state`), and one row per version that waited for a human decision
//! (`approvals`). Plain rows of text and numbers; the lifecycle maps them to its types.

use super::sqlite::{connect, open_db, sql_err};
use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::Mutex;

pub(crate) use super::lifecycle_state_rows::ApprovalRow;

/// The lifecycle-state tables of one store's database.
#[derive(Debug)]
pub(crate) struct LifecycleStateDb {
    conn: Mutex<Connection>,
}

const COLUMNS: &str = "model, version, requested_at, trigger, summary, status, decided_by, \
                       decided_at, reason, applied_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApprovalRow> {
    Ok(ApprovalRow {
        model: r.get(0)?,
        version: r.get::<_, i64>(1)? as u32,
        requested_at: r.get(2)?,
        trigger: r.get(3)?,
        summary: r.get(4)?,
        status: r.get(5)?,
        decided_by: r.get(6)?,
        decided_at: r.get(7)?,
        reason: r.get(8)?,
        applied_at: r.get(9)?,
    })
}

impl LifecycleStateDb {
    /// Open (migrating if needed) the database of the store directory `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        drop(open_db(dir)?);
        let conn = connect(&dir.join(super::sqlite::DB_FILE))?;
        Ok(LifecycleStateDb {
            conn: Mutex::new(conn),
        })
    }

    /// Open the existing store in `dir` for reading only (see
    /// [`connect_read_only`](super::sqlite::connect_read_only)).
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        Ok(LifecycleStateDb {
            conn: Mutex::new(super::sqlite::connect_read_only(dir)?),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored episode JSON and baseline version of `model`.
    pub fn load_state(&self, model: &str) -> Result<Option<(String, Option<u32>)>> {
        self.conn()
            .query_row(
                "SELECT episode, baseline_version FROM lifecycle_state WHERE model = ?1",
                params![model],
                |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.map(|v| v as u32))),
            )
            .optional()
            .map_err(sql_err)
    }

    /// Store the episode JSON and baseline version of `model` at time `at`.
    pub fn save_state(
        &self,
        model: &str,
        episode: &str,
        baseline: Option<u32>,
        at: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO lifecycle_state (model, episode, baseline_version, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (model) DO UPDATE SET episode = excluded.episode,
                    baseline_version = excluded.baseline_version, updated_at = excluded.updated_at",
                params![model, episode, baseline.map(i64::from), at],
            )
            .map(|_| ())
            .map_err(sql_err)
    }

    /// Insert a pending request (replacing an older row for the same version).
    pub fn insert(&self, r: &ApprovalRow) -> Result<()> {
        self.conn()
            .execute(
                &format!(
                    "INSERT OR REPLACE INTO approvals ({COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    r.model,
                    i64::from(r.version),
                    r.requested_at,
                    r.trigger,
                    r.summary,
                    r.status,
                    r.decided_by,
                    r.decided_at,
                    r.reason,
                    r.applied_at
                ],
            )
            .map(|_| ())
            .map_err(sql_err)
    }

    /// One row.
    pub fn get(&self, model: &str, version: u32) -> Result<Option<ApprovalRow>> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE model = ?1 AND version = ?2"),
                params![model, i64::from(version)],
                row,
            )
            .optional()
            .map_err(sql_err)
    }

    /// Rows, optionally of one model, oldest request first.
    pub fn list(&self, model: Option<&str>) -> Result<Vec<ApprovalRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE ?1 IS NULL OR model = ?1 \
                 ORDER BY requested_at, model, version"
            ))
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(params![model], row)
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        Ok(rows)
    }

    /// Record a decision on a pending row; `Ok(None)` when there is no such row, `Conflict`
    /// when it was decided already.
    pub fn decide(
        &self,
        model: &str,
        version: u32,
        status: &str,
        by: &str,
        reason: &str,
        at: &str,
    ) -> Result<Option<ApprovalRow>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let current = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE model = ?1 AND version = ?2"),
                params![model, i64::from(version)],
                row,
            )
            .optional()
            .map_err(sql_err)?;
        let Some(current) = current else {
            return Ok(None);
        };
        if current.status != "pending" {
            return Err(Error::Conflict(format!(
                "{model}/{version} was already {} by {} ({}); a decision cannot be changed",
                current.status,
                current.decided_by.as_deref().unwrap_or("?"),
                current.reason.as_deref().unwrap_or("")
            )));
        }
        tx.execute(
            "UPDATE approvals SET status = ?3, decided_by = ?4, decided_at = ?5, reason = ?6
             WHERE model = ?1 AND version = ?2 AND status = 'pending'",
            params![model, i64::from(version), status, by, at, reason],
        )
        .map_err(sql_err)?;
        let updated = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE model = ?1 AND version = ?2"),
                params![model, i64::from(version)],
                row,
            )
            .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(Some(updated))
    }

    /// Mark a decided row applied; true only for the one caller that changed it.
    pub fn claim(&self, model: &str, version: u32, at: &str) -> Result<bool> {
        self.conn()
            .execute(
                "UPDATE approvals SET applied_at = ?3
                 WHERE model = ?1 AND version = ?2 AND status <> 'pending' AND applied_at IS NULL",
                params![model, i64::from(version), at],
            )
            .map(|n| n == 1)
            .map_err(sql_err)
    }
}
