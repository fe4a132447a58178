//! The dataset catalog's tables on PostgreSQL: `dataset_versions` (one row per name and
//! version, the content hash unique per name) and `dataset_files` (each file's bytes, keyed
//! by its hash). Numbering runs under a transaction-scoped advisory lock per name, so
//! concurrent writers on any host never share a number.

use super::blocking::BlockingPg;
use super::{execute, in_tx, query, query_opt};
use crate::Result;
use crate::store::datasets::{CatalogRow, Inserted};
use sha2::{Digest, Sha256};

const COLUMNS: &str = "name, version, hash, file, source, rows, columns, bytes, added_at, added_by";

fn name_lock(name: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(b"mlcycle dataset name\0");
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(&d[..8]);
    i64::from_be_bytes(k)
}

fn n64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn row(r: &tokio_postgres::Row) -> CatalogRow {
    let u = |i: usize| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
    CatalogRow {
        name: r.get(0),
        version: u32::try_from(r.get::<_, i64>(1)).unwrap_or(0),
        hash: r.get(2),
        file: r.get(3),
        source: r.get(4),
        rows: u(5),
        columns: u(6),
        bytes: u(7),
        added_at: r.get(8),
        added_by: r.get(9),
    }
}

/// The catalog tables of one PostgreSQL database (synchronous calls, as the catalog's are).
#[derive(Debug, Clone)]
pub(crate) struct PgCatalogTable {
    db: BlockingPg,
}

impl PgCatalogTable {
    /// Connect to the database at `url` (migrating its schema).
    pub(crate) fn connect(url: &str) -> Result<Self> {
        Ok(PgCatalogTable {
            db: BlockingPg::connect(url)?,
        })
    }

    /// Insert `row` (with its file's `content`) as the next version of its name unless the
    /// same hash is already one; the version number in `row` is ignored.
    pub(crate) fn insert(&self, row: CatalogRow, content: Vec<u8>) -> Result<Inserted> {
        self.db.run(async move |pool| {
            in_tx(&pool, async |tx| {
                let c = tx.client();
                execute(
                    c,
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&name_lock(&row.name)],
                )
                .await?;
                let existing = query_opt(
                    c,
                    &format!(
                        "SELECT {COLUMNS} FROM dataset_versions WHERE name = $1 AND hash = $2"
                    ),
                    &[&row.name, &row.hash],
                )
                .await?;
                if let Some(e) = existing {
                    return Ok(Inserted::Existing(self::row(&e)));
                }
                let last: Option<i64> = query_opt(
                    c,
                    "SELECT MAX(version) FROM dataset_versions WHERE name = $1",
                    &[&row.name],
                )
                .await?
                .and_then(|r| r.get(0));
                let version = u32::try_from(last.unwrap_or(0) + 1).unwrap_or(u32::MAX);
                execute(
                    c,
                    "INSERT INTO dataset_files (hash, bytes) VALUES ($1, $2)
                     ON CONFLICT (hash) DO NOTHING",
                    &[&row.hash, &content],
                )
                .await?;
                execute(
                    c,
                    &format!(
                        "INSERT INTO dataset_versions ({COLUMNS})
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ),
                    &[
                        &row.name,
                        &i64::from(version),
                        &row.hash,
                        &row.file,
                        &row.source,
                        &n64(row.rows),
                        &n64(row.columns),
                        &n64(row.bytes),
                        &row.added_at,
                        &row.added_by,
                    ],
                )
                .await?;
                Ok(Inserted::New(CatalogRow { version, ..row }))
            })
            .await
        })
    }

    /// Every version of `name` (all names when `None`), by name then version.
    pub(crate) fn list(&self, name: Option<&str>) -> Result<Vec<CatalogRow>> {
        let name = name.map(str::to_string);
        self.db.run(async move |pool| {
            Ok(query(
                &*pool.get().await?,
                &format!(
                    "SELECT {COLUMNS} FROM dataset_versions WHERE $1::TEXT IS NULL OR name = $1
                     ORDER BY name COLLATE \"C\", version"
                ),
                &[&name],
            )
            .await?
            .iter()
            .map(row)
            .collect())
        })
    }

    /// The bytes of the file with content hash `hash`.
    pub(crate) fn file(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let hash = hash.to_string();
        self.db.run(async move |pool| {
            Ok(query_opt(
                &*pool.get().await?,
                "SELECT bytes FROM dataset_files WHERE hash = $1",
                &[&hash],
            )
            .await?
            .map(|r| r.get(0)))
        })
    }
}
