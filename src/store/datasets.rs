//! The dataset catalog's table (migration 9): one row per (name, version), the content hash
//! unique per name, so the same file added twice is one version.

use super::sqlite::{DB_FILE, backend_msg, connect, open_db, sql_err};
use crate::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};

/// One catalog row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CatalogRow {
    pub name: String,
    pub version: u32,
    pub hash: String,
    pub file: String,
    pub source: String,
    pub rows: u64,
    pub columns: u64,
    pub bytes: u64,
    pub added_at: DateTime<Utc>,
    pub added_by: String,
}

/// What [`CatalogTable::insert`] did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inserted {
    /// A new version.
    New(CatalogRow),
    /// The same content was already a version of this name.
    Existing(CatalogRow),
}

/// The catalog table of the store in one directory.
#[derive(Debug, Clone)]
pub(crate) struct CatalogTable {
    dir: PathBuf,
}

const COLUMNS: &str = "name, version, hash, file, source, rows, columns, bytes, added_at, added_by";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<(CatalogRow, String)> {
    Ok((
        CatalogRow {
            name: r.get(0)?,
            version: r.get::<_, i64>(1)? as u32,
            hash: r.get(2)?,
            file: r.get(3)?,
            source: r.get(4)?,
            rows: r.get::<_, i64>(5)? as u64,
            columns: r.get::<_, i64>(6)? as u64,
            bytes: r.get::<_, i64>(7)? as u64,
            added_at: DateTime::<Utc>::MIN_UTC,
            added_by: r.get(9)?,
        },
        r.get::<_, String>(8)?,
    ))
}

fn finish((mut row, at): (CatalogRow, String)) -> Result<CatalogRow> {
    row.added_at = DateTime::parse_from_rfc3339(&at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            backend_msg(format!(
                "dataset_versions holds `{at}`, not an RFC 3339 time: {e}"
            ))
        })?;
    Ok(row)
}

impl CatalogTable {
    /// Open (migrating) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        open_db(dir)?;
        Ok(CatalogTable {
            dir: dir.to_path_buf(),
        })
    }

    fn conn(&self) -> Result<rusqlite::Connection> {
        connect(&self.dir.join(DB_FILE))
    }

    /// Insert `row` as the next version of its name unless the same hash is already one; the
    /// version number in `row` is ignored. Numbering happens in one immediate transaction, so
    /// concurrent writers never share a number.
    pub(crate) fn insert(&self, row: CatalogRow) -> Result<Inserted> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let existing = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM dataset_versions WHERE name = ?1 AND hash = ?2"),
                params![row.name, row.hash],
                read,
            )
            .optional()
            .map_err(sql_err)?;
        if let Some(e) = existing {
            return Ok(Inserted::Existing(finish(e)?));
        }
        let last: Option<i64> = tx
            .query_row(
                "SELECT MAX(version) FROM dataset_versions WHERE name = ?1",
                params![row.name],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        let version = last.unwrap_or(0) as u32 + 1;
        tx.execute(
            &format!(
                "INSERT INTO dataset_versions ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
            ),
            params![
                row.name,
                version as i64,
                row.hash,
                row.file,
                row.source,
                row.rows as i64,
                row.columns as i64,
                row.bytes as i64,
                row.added_at.to_rfc3339(),
                row.added_by
            ],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(Inserted::New(CatalogRow { version, ..row }))
    }

    /// Every version of `name` (all names when `None`), by name then version.
    pub(crate) fn list(&self, name: Option<&str>) -> Result<Vec<CatalogRow>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM dataset_versions
                 WHERE ?1 IS NULL OR name = ?1 ORDER BY name, version"
            ))
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(params![name], read)
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        rows.into_iter().map(finish).collect()
    }
}
