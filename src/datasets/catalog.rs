//! The dataset catalog in the embedded store: named, content-hashed dataset versions that a
//! data engineer publishes (`mlcycle datasets add FILE --name NAME`) and a controller trains on
//! ([`CatalogSource`], a [`DatasetFeed`]).
//!
//! Each version's file is copied into the store (`<store>/datasets/<hash>.csv`, written to a
//! temporary file and renamed, so a crash never leaves half a version), its row in the
//! `dataset_versions` table names it, and a `dataset.published` audit record says who added
//! what. Adding the same content under the same name again is not a new version.

use super::{DatasetFeed, DatasetVersion};
use crate::audit::event::DatasetPublished;
use crate::audit::{AuditEntry, AuditEvent, AuditLog};
use crate::data::{CsvOptions, Dataset, read_csv};
use crate::lifecycle::TrainingDataSource;
use crate::store::datasets::{CatalogRow, CatalogTable, Inserted};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder of the store that holds the catalog's files.
pub const CATALOG_DIR: &str = "datasets";

/// One version in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The dataset's name.
    pub name: String,
    /// Its version under that name: 1, 2, … in the order they were added.
    pub version: u32,
    /// `blake3:<hex>` of the file's bytes.
    pub hash: String,
    /// The file it was added from (as given).
    pub source: String,
    /// Data rows (the header not counted).
    pub rows: u64,
    /// Columns.
    pub columns: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// Who added it.
    pub added_by: String,
    /// The stored copy, relative to the store directory.
    pub file: String,
}

impl CatalogEntry {
    /// `NAME@vVERSION`.
    pub fn reference(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }
}

impl From<CatalogRow> for CatalogEntry {
    fn from(r: CatalogRow) -> Self {
        CatalogEntry {
            name: r.name,
            version: r.version,
            hash: r.hash,
            source: r.source,
            rows: r.rows,
            columns: r.columns,
            bytes: r.bytes,
            added_at: r.added_at,
            added_by: r.added_by,
            file: r.file,
        }
    }
}

/// What [`DatasetCatalog::add`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Added {
    /// The version the file is (new or existing).
    pub entry: CatalogEntry,
    /// `false` when the same content was already a version of this name (nothing changed).
    pub new: bool,
}

/// The dataset catalog of the store in one directory.
///
/// ```
/// use mlcycle::datasets::DatasetCatalog;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = tempfile::tempdir().unwrap();
/// let file = store.path().join("march.csv");
/// std::fs::write(&file, "x,y\n1,0\n2,1\n").unwrap();
/// let catalog = DatasetCatalog::open(store.path()).unwrap();
/// let added = catalog.add(&file, "credit", "alice").await.unwrap();
/// assert_eq!((added.entry.version, added.new), (1, true));
/// // the same content again is the same version
/// assert!(!catalog.add(&file, "credit", "bob").await.unwrap().new);
/// assert_eq!(catalog.list(Some("credit")).unwrap().len(), 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DatasetCatalog {
    dir: PathBuf,
    table: Table,
    audit: Option<Arc<dyn AuditLog>>,
}

/// Where the catalog's rows (and, on PostgreSQL, its files) are kept.
#[derive(Debug, Clone)]
enum Table {
    /// The embedded store's SQLite database; the files in the store directory.
    Sqlite(CatalogTable),
    /// A PostgreSQL database, files included; the directory holds local copies.
    #[cfg(feature = "postgres")]
    Postgres(crate::store::postgres::datasets::PgCatalogTable),
}

/// Check a catalog name: 1–128 characters from `A–Z a–z 0–9 . _ -`, not starting with a dot.
pub fn check_dataset_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "dataset name",
            format!(
                "`{name}` is not a dataset name: use 1-128 letters, digits, `.`, `_` or `-`, not starting with `.`"
            ),
        ))
    }
}

impl DatasetCatalog {
    /// Open (creating and migrating) the catalog of the store in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Ok(DatasetCatalog {
            table: Table::Sqlite(CatalogTable::open(dir)?),
            dir: dir.to_path_buf(),
            audit: None,
        })
    }

    /// The catalog in the PostgreSQL database at `url` (rows and files, shared by every host
    /// that opens it), keeping local copies of the files in `dir` (fetched on first use and
    /// verified against their hash). File bytes are stored in the database for now (a file
    /// must stay under PostgreSQL's 1 GB value limit).
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str, dir: impl AsRef<Path>) -> Result<Self> {
        Ok(DatasetCatalog {
            table: Table::Postgres(crate::store::postgres::datasets::PgCatalogTable::connect(
                url,
            )?),
            dir: dir.as_ref().to_path_buf(),
            audit: None,
        })
    }

    /// Append a `dataset.published` record to `audit` for every new version.
    pub fn audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Add the CSV file at `file` as the next version of `name` (by `actor`). The file must
    /// have a header row, distinct column names and at least one data row. Adding content
    /// that is already a version of `name` changes nothing and says so ([`Added::new`]).
    pub async fn add(&self, file: &Path, name: &str, actor: &str) -> Result<Added> {
        check_dataset_name(name)?;
        let (hash, rows, columns, bytes, stored) = self.copy_in(file)?;
        let row = CatalogRow {
            name: name.to_string(),
            version: 0,
            hash: hash.clone(),
            file: stored,
            source: file.display().to_string(),
            rows,
            columns,
            bytes,
            added_at: Utc::now(),
            added_by: actor.to_string(),
        };
        let inserted = match &self.table {
            Table::Sqlite(t) => t.insert(row)?,
            #[cfg(feature = "postgres")]
            Table::Postgres(t) => {
                let path = self.dir.join(&row.file);
                let content = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                t.insert(row, content)?
            }
        };
        let (entry, new) = match inserted {
            Inserted::New(r) => (CatalogEntry::from(r), true),
            Inserted::Existing(r) => (CatalogEntry::from(r), false),
        };
        if new && let Some(audit) = &self.audit {
            let event = AuditEvent::DatasetPublished(DatasetPublished {
                name: entry.name.clone(),
                version: entry.version,
                hash: entry.hash.clone(),
                source: entry.source.clone(),
                rows: entry.rows,
                columns: entry.columns,
                bytes: entry.bytes,
            });
            audit
                .append(AuditEntry::from_event(
                    actor,
                    vec![entry.reference()],
                    &event,
                    uuid::Uuid::new_v4().to_string(),
                ))
                .await?;
        }
        Ok(Added { entry, new })
    }

    /// Every version of `name` (of every name when `None`), by name then version.
    pub fn list(&self, name: Option<&str>) -> Result<Vec<CatalogEntry>> {
        let rows = match &self.table {
            Table::Sqlite(t) => t.list(name)?,
            #[cfg(feature = "postgres")]
            Table::Postgres(t) => t.list(name)?,
        };
        Ok(rows.into_iter().map(CatalogEntry::from).collect())
    }

    /// Version `version` of `name`.
    pub fn get(&self, name: &str, version: u32) -> Result<CatalogEntry> {
        self.list(Some(name))?
            .into_iter()
            .find(|e| e.version == version)
            .ok_or_else(|| {
                Error::not_found(
                    "dataset version",
                    format!("{name}@v{version}"),
                    "list the versions with `mlcycle datasets list`",
                )
            })
    }

    /// The stored copy of `entry` (for a catalog on PostgreSQL: the local copy, present once
    /// [`local_path`](Self::local_path) fetched it).
    pub fn path_of(&self, entry: &CatalogEntry) -> PathBuf {
        self.dir.join(&entry.file)
    }

    /// The stored copy of `entry`, ready to read: for a catalog on PostgreSQL, fetched from the
    /// database into the local directory first if missing (written to a temporary file,
    /// verified against the entry's hash, then renamed).
    pub fn local_path(&self, entry: &CatalogEntry) -> Result<PathBuf> {
        let path = self.path_of(entry);
        match &self.table {
            Table::Sqlite(_) => Ok(path),
            #[cfg(feature = "postgres")]
            Table::Postgres(t) => {
                if path.is_file() {
                    return Ok(path);
                }
                let bytes = t.file(&entry.hash)?.ok_or_else(|| {
                    Error::not_found(
                        "dataset file",
                        &entry.hash,
                        "the database lost the file of this version; restore it from a backup",
                    )
                })?;
                let got = format!("blake3:{}", blake3::hash(&bytes).to_hex());
                if got != entry.hash {
                    return Err(Error::Data(format!(
                        "the stored file of {} has content hash {got}, not {}: the database was altered; restore it from a backup",
                        entry.reference(),
                        entry.hash
                    )));
                }
                let folder = self.dir.join(CATALOG_DIR);
                std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
                let tmp = folder.join(format!(
                    ".tmp-{}-{}",
                    std::process::id(),
                    uuid::Uuid::new_v4()
                ));
                std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                Ok(path)
            }
        }
    }

    /// Copy `file` into the catalog folder (temporary name, then rename to its hash), counting
    /// rows and columns and checking it is a usable CSV file on the way.
    fn copy_in(&self, file: &Path) -> Result<(String, u64, u64, u64, String)> {
        let folder = self.dir.join(CATALOG_DIR);
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let mut src = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
        if !src.metadata().map_err(|e| Error::io(file, e))?.is_file() {
            return Err(Error::invalid(
                "dataset file",
                format!("{} is not a regular file", file.display()),
            ));
        }
        let tmp = folder.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let result = (|| {
            let mut out = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let mut hasher = blake3::Hasher::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut bytes = 0u64;
            loop {
                let n = src.read(&mut buf).map_err(|e| Error::io(file, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(|e| Error::io(&tmp, e))?;
                bytes += n as u64;
            }
            out.sync_all().map_err(|e| Error::io(&tmp, e))?;
            let (rows, columns) = count_csv(&tmp, file)?;
            Ok::<_, Error>((hasher.finalize().to_hex().to_string(), rows, columns, bytes))
        })();
        let (hex, rows, columns, bytes) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let stored = format!("{CATALOG_DIR}/{hex}.csv");
        let dest = self.dir.join(&stored);
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
        Ok((format!("blake3:{hex}"), rows, columns, bytes, stored))
    }
}

/// Rows and columns of the CSV file at `path` (named `shown` in errors); a header row with
/// distinct names and one data row at least are required.
fn count_csv(path: &Path, shown: &Path) -> Result<(u64, u64)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| Error::Data(format!("{}: {e}", shown.display())))?;
    let headers = rdr
        .headers()
        .map_err(|e| Error::Data(format!("{}: {e}", shown.display())))?
        .clone();
    let mut seen = std::collections::HashSet::new();
    for h in headers.iter() {
        if !seen.insert(h.trim()) {
            return Err(Error::Data(format!(
                "{}: the column `{}` appears twice in the header; rename one",
                shown.display(),
                h.trim()
            )));
        }
    }
    let mut rows = 0u64;
    let mut rec = csv::ByteRecord::new();
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| Error::Data(format!("{}: {e}", shown.display())))?
    {
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::Data(format!(
            "{} has a header but no data rows",
            shown.display()
        )));
    }
    Ok((rows, headers.len() as u64))
}

/// The versions of one catalog name as training data: every version is a
/// [`DatasetVersion`] (key `NAME@vN:<hash prefix>`), so a controller trains on each new one
/// ([`Trigger::NewDataset`](crate::lifecycle::Trigger::NewDataset)); for retraining on drift,
/// [`TrainingDataSource::labelled`] returns the rows of every version whose timestamps lie in
/// the window.
#[derive(Debug, Clone)]
pub struct CatalogSource {
    catalog: Arc<DatasetCatalog>,
    name: String,
    target: String,
    timestamp: Option<String>,
}

impl CatalogSource {
    /// The versions of `name` in `catalog`, labelled by column `target`.
    pub fn new(
        catalog: Arc<DatasetCatalog>,
        name: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        CatalogSource {
            catalog,
            name: name.into(),
            target: target.into(),
            timestamp: None,
        }
    }

    /// Name the timestamp column (instead of inferring it).
    pub fn timestamp(mut self, column: impl Into<String>) -> Self {
        self.timestamp = Some(column.into());
        self
    }

    fn options(&self) -> CsvOptions {
        CsvOptions {
            timestamp: self.timestamp.clone(),
            ..CsvOptions::with_target(self.target.clone())
        }
    }

    fn key(e: &CatalogEntry) -> String {
        let hex = e.hash.trim_start_matches("blake3:");
        format!("{}:{}", e.reference(), &hex[..hex.len().min(16)])
    }
}

#[async_trait]
impl TrainingDataSource for CatalogSource {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset> {
        let entries = self.catalog.list(Some(&self.name))?;
        let files: Vec<PathBuf> = entries
            .iter()
            .map(|e| self.catalog.local_path(e))
            .collect::<Result<_>>()?;
        let parts = super::read_versions(&files, &self.options())?;
        if parts.is_empty() {
            return Err(Error::not_found(
                "dataset",
                &self.name,
                "add a version with `mlcycle datasets add FILE --name NAME`",
            ));
        }
        let windows = parts
            .iter()
            .zip(&entries)
            .map(|(d, e)| {
                d.window(from, to).map_err(|err| {
                    Error::invalid(
                        "dataset catalog",
                        format!(
                            "{}: {err}; every version needs a timestamp column to select rows by time",
                            e.reference()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Dataset::concat(&windows)
    }
}

#[async_trait]
impl DatasetFeed for CatalogSource {
    async fn versions(&self) -> Result<Vec<DatasetVersion>> {
        Ok(self
            .catalog
            .list(Some(&self.name))?
            .iter()
            .map(|e| DatasetVersion {
                key: Self::key(e),
                name: e.reference(),
            })
            .collect())
    }

    async fn load(&self, v: &DatasetVersion) -> Result<Dataset> {
        let e = self
            .catalog
            .list(Some(&self.name))?
            .into_iter()
            .find(|e| Self::key(e) == v.key)
            .ok_or_else(|| {
                Error::not_found(
                    "dataset version",
                    &v.name,
                    "list the versions with `mlcycle datasets list`",
                )
            })?;
        read_csv(self.catalog.local_path(&e)?, &self.options())
    }
}
