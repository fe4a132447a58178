//! Training data sources a user can pick: a directory of labelled CSV files whose every new
//! file is a new dataset version ([`DirectoryDataSource`]), and the dataset catalog in the
//! embedded store ([`DatasetCatalog`], `mlcycle datasets add/list`) whose versions of one name
//! a [`CatalogSource`] serves. Each implements
//! [`TrainingDataSource`] (labelled rows by time, for retraining on drift) and
//! [`DatasetFeed`] (the versions published so far, so a controller can train on each new one
//! with [`Trigger::NewDataset`](crate::lifecycle::Trigger::NewDataset)). Production data is a
//! source too: [`LabelledDataSource`] joins the prediction log with the ground-truth labels
//! (a [`TrainingDataSource`]).

use crate::collect::PredictionLog;
use crate::data::{
    CsvOptions, Dataset, Schema, Target, UnknownLevel, read_csv, read_csv_with_schema,
};
use crate::labels::{LabelStore, LabelledData, index_labels, labelled_dataset};
use crate::lifecycle::TrainingDataSource;
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Production data as training data: the rows a model scored (from the prediction log,
/// inputs as logged) joined with their ground-truth labels (from the [`LabelStore`]), with
/// the request's time as timestamp — so the lifecycle can retrain on newer data collected
/// in production. [`TrainingDataSource::labelled`] returns the labelled rows of the
/// model's requests in the window (possibly none: an empty dataset); rows whose label is
/// not a class of the model (or not a number for a regressor) or whose inputs do not fit
/// its signature are left out (see [`labelled_dataset`]).
///
/// ```
/// use mlcycle::collect::{InMemoryPredictionLog, PredictionLog, PredictionRecord};
/// use mlcycle::data::{Feature, Schema, Target, TargetKind};
/// use mlcycle::datasets::LabelledDataSource;
/// use mlcycle::labels::{InMemoryLabelStore, LabelStore};
/// use mlcycle::lifecycle::TrainingDataSource;
/// use chrono::{Duration, TimeZone, Utc};
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
/// let log = Arc::new(InMemoryPredictionLog::default());
/// log.append(vec![PredictionRecord {
///     request_id: "r1".into(), at: t, model_name: "credit".into(), model_version: 1,
///     inputs: vec![vec![0.5]], outputs: vec![1.0], probabilities: vec![], latency_us: 10, error: None, notes: vec![],
/// }]).await.unwrap();
/// let labels = Arc::new(InMemoryLabelStore::default());
/// labels.record_labels(vec![("r1", "yes", t).into()]).await.unwrap();
/// let inputs = Schema::new(vec![Feature::numeric("x")], None).unwrap();
/// let target = Target { name: "y".into(), kind: TargetKind::classification(["no", "yes"]).unwrap() };
/// let source = LabelledDataSource::new(log, labels, "credit", inputs, target);
/// let data = source.labelled(t, t + Duration::hours(1)).await.unwrap();
/// assert_eq!(data.n_rows(), 1);
/// assert_eq!(data.target().unwrap()[0], 1.0);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct LabelledDataSource {
    log: Arc<dyn PredictionLog>,
    labels: Arc<dyn LabelStore>,
    model_name: String,
    inputs: Schema,
    target: Target,
}

impl LabelledDataSource {
    /// The requests of model `model_name` in `log`, labelled from `labels`, as rows with
    /// the feature columns of `inputs` and the target `target` (the model's signature:
    /// [`Signature::inputs`](crate::model::Signature) and its target).
    pub fn new(
        log: Arc<dyn PredictionLog>,
        labels: Arc<dyn LabelStore>,
        model_name: impl Into<String>,
        inputs: Schema,
        target: Target,
    ) -> Self {
        LabelledDataSource {
            log,
            labels,
            model_name: model_name.into(),
            inputs,
            target,
        }
    }

    /// The labelled rows in `[from, to)` and the rows left out, by reason.
    pub async fn join(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<LabelledData> {
        if to <= from {
            return Err(Error::invalid(
                "labelled data window",
                format!("it ends ({to}) before it starts ({from})"),
            ));
        }
        let mut records = self.log.read_window(from, to).await?;
        records.retain(|r| r.model_name == self.model_name);
        let labels = index_labels(self.labels.all().await?);
        labelled_dataset(&self.inputs, &self.target, &records, &labels)
    }
}

#[async_trait]
impl TrainingDataSource for LabelledDataSource {
    async fn labelled(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset> {
        Ok(self.join(from, to).await?.dataset)
    }
}
