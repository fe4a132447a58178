//! The controller's durable state in the store database (migration 7): per managed model,
//! the registry-event cursor, the end of the last finished monitoring window, the last
//! scheduled training, the step in progress, the datasets already trained on, and the lease
//! that keeps a second controller of the same model from running at once.

use super::sqlite::{open_db, sql_err};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use std::path::{Path, PathBuf};

pub(crate) use super::controller_state_rows::{Lease, SavedState};

/// The controller-state tables of the store in one directory.
#[derive(Debug, Clone)]
pub(crate) struct ControllerStore {
    dir: PathBuf,
}

fn ts(t: &Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339())
}

fn parse_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                super::sqlite::backend_msg(format!(
                    "controller_state holds `{s}`, not an RFC 3339 time: {e}"
                ))
            })
    })
    .transpose()
}

impl ControllerStore {
    /// Open (migrating) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        open_db(dir)?;
        Ok(ControllerStore {
            dir: dir.to_path_buf(),
        })
    }

    fn conn(&self) -> Result<rusqlite::Connection> {
        super::sqlite::connect(&self.dir.join(super::sqlite::DB_FILE))
    }

    /// The saved state of `model` (the default when none was saved).
    pub(crate) fn load(&self, model: &str) -> Result<SavedState> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT registry_cursor, last_window_end, last_schedule, in_progress
                 FROM controller_state WHERE model = ?1",
                params![model],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(sql_err)?;
        let Some((cursor, w, s, p)) = row else {
            return Ok(SavedState::default());
        };
        Ok(SavedState {
            registry_cursor: u64::try_from(cursor).unwrap_or(0),
            last_window_end: parse_ts(w)?,
            last_schedule: parse_ts(s)?,
            in_progress: p,
        })
    }

    /// Save the state of `model`.
    pub(crate) fn save(&self, model: &str, state: &SavedState, now: DateTime<Utc>) -> Result<()> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO controller_state
                (model, registry_cursor, last_window_end, last_schedule, in_progress, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (model) DO UPDATE SET registry_cursor = ?2, last_window_end = ?3,
                last_schedule = ?4, in_progress = ?5, updated_at = ?6",
            params![
                model,
                i64::try_from(state.registry_cursor).unwrap_or(i64::MAX),
                ts(&state.last_window_end),
                ts(&state.last_schedule),
                state.in_progress,
                now.to_rfc3339()
            ],
        )
        .map_err(sql_err)?;
        Ok(())
    }

    /// Whether `model` was already trained on `dataset`.
    pub(crate) fn trained(&self, model: &str, dataset: &str) -> Result<bool> {
        let conn = self.conn()?;
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM controller_datasets WHERE model = ?1 AND dataset = ?2",
                params![model, dataset],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        Ok(n > 0)
    }

    /// Record that `model` was trained on `dataset` (producing `version`, if any) and clear
    /// the step in progress, in one transaction.
    pub(crate) fn mark_trained(
        &self,
        model: &str,
        dataset: &str,
        version: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(sql_err)?;
        tx.execute(
            "INSERT OR IGNORE INTO controller_datasets (model, dataset, trained_at, version)
             VALUES (?1, ?2, ?3, ?4)",
            params![model, dataset, now.to_rfc3339(), version.map(i64::from)],
        )
        .map_err(sql_err)?;
        tx.execute(
            "UPDATE controller_state SET in_progress = NULL, updated_at = ?2 WHERE model = ?1",
            params![model, now.to_rfc3339()],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)
    }

    /// Take (or renew) the lease of `model` for `holder` (process `pid`). Refused with a
    /// [`Error::Conflict`] naming the holder when another holder renewed it after
    /// `stale_before` and `alive(pid)` says its process still runs.
    pub(crate) fn acquire_lease(
        &self,
        model: &str,
        holder: &str,
        pid: u32,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        alive: impl Fn(u32) -> bool,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let current = tx
            .query_row(
                "SELECT holder, pid, heartbeat FROM controller_lease WHERE model = ?1",
                params![model],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(sql_err)?;
        if let Some((h, p, beat)) = current
            && h != holder
        {
            let beat = parse_ts(Some(beat))?.unwrap_or(stale_before);
            let p = u32::try_from(p).unwrap_or(0);
            if beat > stale_before && alive(p) {
                return Err(Error::Conflict(format!(
                    "another controller ({h}, process {p}) runs model `{model}` on this store \
                     (last heartbeat {}); stop it first, or wait until its lease expires",
                    beat.to_rfc3339()
                )));
            }
        }
        tx.execute(
            "INSERT INTO controller_lease (model, holder, pid, heartbeat) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (model) DO UPDATE SET holder = ?2, pid = ?3, heartbeat = ?4",
            params![model, holder, i64::from(pid), now.to_rfc3339()],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)
    }

    /// Give the lease of `model` up, if `holder` holds it.
    pub(crate) fn release_lease(&self, model: &str, holder: &str) -> Result<()> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM controller_lease WHERE model = ?1 AND holder = ?2",
            params![model, holder],
        )
        .map_err(sql_err)?;
        Ok(())
    }

    /// The current lease of `model`, if any.
    #[allow(dead_code)]
    pub(crate) fn lease(&self, model: &str) -> Result<Option<Lease>> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT holder, pid, heartbeat FROM controller_lease WHERE model = ?1",
                params![model],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(sql_err)?;
        row.map(|(holder, pid, beat)| {
            Ok(Lease {
                holder,
                pid: u32::try_from(pid).unwrap_or(0),
                heartbeat: parse_ts(Some(beat))?.unwrap_or_default(),
            })
        })
        .transpose()
    }
}
