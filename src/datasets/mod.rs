//! Training data sources a user can pick: a directory of labelled CSV files whose every new
//! file is a new dataset version ([`DirectoryDataSource`]), and the dataset catalog in the
//! embedded store ([`DatasetCatalog`], `mlcycle datasets add/list`) whose versions of one name
//! a [`CatalogSource`] serves. Each implements
//! [`TrainingDataSource`] (labelled rows by time, for retraining on drift) and
//! [`DatasetFeed`] (the versions published so far, so a controller can train on each new one
//! with [`Trigger::NewDataset`](crate::lifecycle::Trigger::NewDataset)).

use crate::data::{CsvOptions, Dataset, UnknownLevel, read_csv, read_csv_with_schema};
use crate::lifecycle::TrainingDataSource;
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[cfg(feature = "sqlite")]
mod catalog;
#[cfg(feature = "sqlite")]
pub use catalog::{
    Added, CATALOG_DIR, CatalogEntry, CatalogSource, DatasetCatalog, check_dataset_name,
};

/// One published version of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DatasetVersion {
    /// A stable key: the same content under the same name always has the same key.
    pub key: String,
    /// A name a person recognises (e.g. the file name).
    pub name: String,
}

/// Read labelled files that hold versions of one dataset: the first with schema inference,
/// the others against its schema (levels they add are missing values), all with the same
/// timestamp column — the one named in `opts`, else the one inferred in the first file.
pub(crate) fn read_versions(files: &[PathBuf], opts: &CsvOptions) -> Result<Vec<Dataset>> {
    let mut out: Vec<Dataset> = Vec::new();
    let mut timestamp = opts.timestamp.clone();
    for f in files {
        let d = match out.first() {
            None => {
                let d = read_csv(f, opts)?;
                if timestamp.is_none() && d.timestamps().is_some() {
                    timestamp = inferred_timestamp(f, &d)?;
                }
                d
            }
            Some(first) => read_csv_with_schema(
                f,
                first.schema(),
                timestamp.as_deref(),
                UnknownLevel::AsMissing,
            )?,
        };
        out.push(d);
    }
    Ok(out)
}

/// The column of `path` that schema inference took as `d`'s timestamps: the one header that
/// is neither a feature nor the target (`None` when that is ambiguous).
fn inferred_timestamp(path: &Path, d: &Dataset) -> Result<Option<String>> {
    let mut rdr = csv::Reader::from_path(path)
        .map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
    let headers = rdr
        .headers()
        .map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
    let schema = d.schema();
    let target = schema.target.as_ref().map(|t| t.name.as_str());
    let rest: Vec<&str> = headers
        .iter()
        .map(str::trim)
        .filter(|h| Some(*h) != target && !schema.features.iter().any(|f| f.name == *h))
        .collect();
    Ok(match rest.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    })
}

/// A source that publishes dataset versions over time.
///
/// # Contract
/// - `versions()` lists every version published so far, oldest first; a version once listed
///   keeps its key and stays listed (until deleted by its owner).
/// - `load(v)` returns the labelled rows of a listed version; the same key always loads the
///   same rows.
///
/// ```
/// use mlcycle::datasets::{DatasetFeed, DirectoryDataSource};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.csv"), "x,y\n1,0\n2,1\n3,0\n4,1\n").unwrap();
/// let source = DirectoryDataSource::new(dir.path(), "y");
/// let versions = source.versions().await.unwrap();
/// assert_eq!(versions.len(), 1);
/// assert_eq!(source.load(&versions[0]).await.unwrap().n_rows(), 4);
/// # });
/// ```
#[async_trait]
pub trait DatasetFeed: TrainingDataSource {
    /// The versions published so far, oldest first.
    async fn versions(&self) -> Result<Vec<DatasetVersion>>;
    /// The labelled rows of version `v`.
    async fn load(&self, v: &DatasetVersion) -> Result<Dataset>;
}

/// A directory of labelled CSV files (`*.csv`, read in name order): each file is a dataset
/// version (key: file name and BLAKE3 of its content); [`TrainingDataSource::labelled`]
/// returns the rows of every file whose timestamp column (inferred, or set with
/// [`DirectoryDataSource::timestamp`]) lies in the window.
#[derive(Debug, Clone)]
pub struct DirectoryDataSource {
    dir: PathBuf,
    target: String,
    timestamp: Option<String>,
}

impl DirectoryDataSource {
    /// Files in `dir`, labelled by column `target`.
    pub fn new(dir: impl AsRef<Path>, target: impl Into<String>) -> Self {
        DirectoryDataSource {
            dir: dir.as_ref().to_path_buf(),
            target: target.into(),
            timestamp: None,
        }
    }

    /// Name the timestamp column (instead of inferring it).
    pub fn timestamp(mut self, column: impl Into<String>) -> Self {
        self.timestamp = Some(column.into());
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn files(&self) -> Result<Vec<PathBuf>> {
        let rd = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut files = Vec::new();
        for entry in rd {
            let p = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            if p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
                files.push(p);
            }
        }
        files.sort();
        Ok(files)
    }

    fn options(&self) -> CsvOptions {
        CsvOptions {
            timestamp: self.timestamp.clone(),
            ..CsvOptions::with_target(self.target.clone())
        }
    }

    fn read_all(&self) -> Result<Vec<Dataset>> {
        read_versions(&self.files()?, &self.options())
    }
}

#[async_trait]
impl TrainingDataSource for DirectoryDataSource {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset> {
        let parts = self
            .read_all()?
            .iter()
            .map(|d| {
                d.window(from, to).map_err(|e| {
                    Error::invalid(
                        "training data directory",
                        format!(
                            "{}: {e}; every file needs a timestamp column to select rows by time",
                            d.source()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if parts.is_empty() {
            return Err(Error::not_found(
                "labelled data",
                self.dir.display(),
                "put labelled CSV files in the training data directory",
            ));
        }
        Dataset::concat(&parts)
    }
}

#[async_trait]
impl DatasetFeed for DirectoryDataSource {
    async fn versions(&self) -> Result<Vec<DatasetVersion>> {
        self.files()?
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let hash = blake3::hash(&bytes).to_hex();
                Ok(DatasetVersion {
                    key: format!("{name}:{}", &hash[..16]),
                    name,
                })
            })
            .collect()
    }

    async fn load(&self, v: &DatasetVersion) -> Result<Dataset> {
        let path = self.dir.join(&v.name);
        read_csv(&path, &self.options())
    }
}
