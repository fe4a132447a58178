//! The `labels` table (migration 8): ground truth keyed by request id (`REQUEST_ID` or
//! `REQUEST_ID/ROW`). The label store (`labels::SqliteLabelStore`) calls these typed
//! functions; nothing else touches the table.

use super::sqlite::{open_db, sql_err};
use crate::Result;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;

/// One stored label: key, label, when the outcome was observed, how many times it changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelRow {
    pub key: String,
    pub label: String,
    pub observed_at: DateTime<Utc>,
    pub revision: u32,
}

/// What one [`LabelDb::record`] did to each key, in input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Inserted,
    Unchanged,
    Corrected,
}

/// A connection to the store database, with the queries of the `labels` table.
#[derive(Debug)]
pub(crate) struct LabelDb {
    conn: Connection,
}

fn parse_at(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
}

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<LabelRow> {
    let at: String = r.get(2)?;
    Ok(LabelRow {
        key: r.get(0)?,
        label: r.get(1)?,
        observed_at: parse_at(&at)?,
        revision: r.get::<_, i64>(3)? as u32,
    })
}

impl LabelDb {
    /// Open the store database in `dir` (created and migrated if needed).
    pub fn open(dir: &Path) -> Result<Self> {
        Ok(LabelDb {
            conn: open_db(dir)?,
        })
    }

    /// Store labels in one transaction: a new key is inserted, a repeat with the same label
    /// changes nothing, a different label replaces the stored one (revision + 1).
    pub fn record(
        &mut self,
        labels: &[(String, String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let mut out = Vec::with_capacity(labels.len());
        {
            let mut get = tx
                .prepare_cached("SELECT label FROM labels WHERE key = ?1")
                .map_err(sql_err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO labels (key, label, observed_at, recorded_at, revision)
                     VALUES (?1, ?2, ?3, ?4, 0)",
                )
                .map_err(sql_err)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE labels SET label = ?2, observed_at = ?3, recorded_at = ?4,
                     revision = revision + 1 WHERE key = ?1",
                )
                .map_err(sql_err)?;
            let now = now.to_rfc3339();
            for (key, label, at) in labels {
                let old: Option<String> = get
                    .query_row([key], |r| r.get(0))
                    .optional()
                    .map_err(sql_err)?;
                let at = at.to_rfc3339();
                out.push(match old {
                    None => {
                        insert
                            .execute(params![key, label, at, now])
                            .map_err(sql_err)?;
                        Written::Inserted
                    }
                    Some(old) if &old == label => Written::Unchanged,
                    Some(_) => {
                        update
                            .execute(params![key, label, at, now])
                            .map_err(sql_err)?;
                        Written::Corrected
                    }
                });
            }
        }
        tx.commit().map_err(sql_err)?;
        Ok(out)
    }

    /// The label stored under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<LabelRow>> {
        self.conn
            .prepare_cached("SELECT key, label, observed_at, revision FROM labels WHERE key = ?1")
            .map_err(sql_err)?
            .query_row([key], read)
            .optional()
            .map_err(sql_err)
    }

    /// Every stored label, by key.
    pub fn all(&self) -> Result<Vec<LabelRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, label, observed_at, revision FROM labels ORDER BY key")
            .map_err(sql_err)?;
        let rows = stmt
            .query_map([], read)
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        Ok(rows)
    }
}
