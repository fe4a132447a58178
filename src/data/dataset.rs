//! A labelled or unlabelled table of encoded features with a content-hash identity.

use super::schema::{FeatureKind, Schema};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// The content hash of a dataset (sha256 over schema, features, target and timestamps).
///
/// Two datasets with the same id hold exactly the same data, so lineage records that
/// name a `DatasetId` are exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatasetId(pub String);

impl DatasetId {
    /// The first 12 hex digits, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table of features (categoricals encoded by level index, missing = NaN), an optional
/// target and optional per-row timestamps.
///
/// Build one with [`Dataset::new`] (which checks everything) or by loading a CSV
/// ([`crate::data::read_csv`]).
#[derive(Debug, Clone)]
pub struct Dataset {
    schema: Arc<Schema>,
    features: Array2<f64>,
    target: Option<Array1<f64>>,
    timestamps: Option<Vec<DateTime<Utc>>>,
    id: DatasetId,
    source: String,
}

impl Dataset {
    /// A dataset; checks shapes, that numeric values are finite or NaN, that categorical
    /// codes are valid level indices, that a labelled schema has a target (and vice versa)
    /// and that target values are valid.
    pub fn new(
        schema: Schema,
        features: Array2<f64>,
        target: Option<Array1<f64>>,
        timestamps: Option<Vec<DateTime<Utc>>>,
    ) -> Result<Self> {
        Self::with_schema(Arc::new(schema), features, target, timestamps)
    }

    /// Like [`Dataset::new`] with a shared schema.
    pub fn with_schema(
        schema: Arc<Schema>,
        features: Array2<f64>,
        target: Option<Array1<f64>>,
        timestamps: Option<Vec<DateTime<Utc>>>,
    ) -> Result<Self> {
        validate_features(&schema, features.view())?;
        let n = features.nrows();
        match (&schema.target, &target) {
            (Some(t), None) => {
                return Err(Error::SchemaMismatch(format!(
                    "the schema names target `{}` but no target values were given",
                    t.name
                )));
            }
            (None, Some(_)) => {
                return Err(Error::SchemaMismatch(
                    "target values were given but the schema has no target column".into(),
                ));
            }
            (Some(t), Some(y)) => {
                if y.len() != n {
                    return Err(Error::SchemaMismatch(format!(
                        "{} target values for {n} rows",
                        y.len()
                    )));
                }
                let n_classes = t.kind.classes().map(<[String]>::len);
                for (i, &v) in y.iter().enumerate() {
                    let ok = match n_classes {
                        Some(k) => v >= 0.0 && v.fract() == 0.0 && (v as usize) < k,
                        None => v.is_finite(),
                    };
                    if !ok {
                        return Err(Error::Data(format!(
                            "target `{}` row {i}: {v} is not a valid {}",
                            t.name,
                            if n_classes.is_some() {
                                "class index"
                            } else {
                                "finite value"
                            }
                        )));
                    }
                }
            }
            (None, None) => {}
        }
        if let Some(ts) = &timestamps
            && ts.len() != n
        {
            return Err(Error::SchemaMismatch(format!(
                "{} timestamps for {n} rows",
                ts.len()
            )));
        }
        let id = content_hash(&schema, &features, target.as_ref(), timestamps.as_deref());
        Ok(Dataset {
            schema,
            features,
            target,
            timestamps,
            id,
            source: String::new(),
        })
    }

    /// Attach a human-readable source description (file path, query, generator ...).
    /// The source is metadata: it does not change the id.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The shared schema.
    pub fn schema_arc(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The encoded feature matrix (rows × features).
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.features.view()
    }

    /// The target values (class indices or real values), if labelled.
    pub fn target(&self) -> Option<&Array1<f64>> {
        self.target.as_ref()
    }

    /// The target, or an error saying the dataset is unlabelled.
    pub fn require_target(&self) -> Result<&Array1<f64>> {
        self.target.as_ref().ok_or_else(|| {
            Error::SchemaMismatch(
                "this operation needs labelled data, but the dataset has no target column".into(),
            )
        })
    }

    /// Per-row timestamps, if any.
    pub fn timestamps(&self) -> Option<&[DateTime<Utc>]> {
        self.timestamps.as_deref()
    }

    /// The content hash.
    pub fn id(&self) -> &DatasetId {
        &self.id
    }

    /// Where the data came from (may be empty).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.features.nrows()
    }

    /// Whether the dataset has no rows.
    pub fn is_empty(&self) -> bool {
        self.n_rows() == 0
    }

    /// A new dataset made of the given rows (in the given order).
    pub fn select_rows(&self, rows: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.n_rows()) {
            return Err(Error::invalid(
                "row index",
                format!("{bad} is out of range for {} rows", self.n_rows()),
            ));
        }
        let features = self.features.select(Axis(0), rows);
        let target = self.target.as_ref().map(|y| y.select(Axis(0), rows));
        let timestamps = self
            .timestamps
            .as_ref()
            .map(|ts| rows.iter().map(|&r| ts[r]).collect());
        Ok(
            Dataset::with_schema(self.schema.clone(), features, target, timestamps)?
                .with_source(self.source.clone()),
        )
    }

    /// The rows whose timestamp lies in `[from, to)`. Errors if the dataset has no timestamps.
    pub fn window(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dataset> {
        let ts = self.timestamps.as_ref().ok_or_else(|| {
            Error::invalid("time window", "the dataset has no per-row timestamps")
        })?;
        let rows: Vec<usize> = (0..ts.len())
            .filter(|&i| ts[i] >= from && ts[i] < to)
            .collect();
        self.select_rows(&rows)
    }

    /// Stack datasets with the same schema (timestamps are kept only if all have them).
    pub fn concat(parts: &[Dataset]) -> Result<Dataset> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("concat", "no datasets given"))?;
        for p in parts {
            if p.schema != first.schema && *p.schema != *first.schema {
                return Err(Error::SchemaMismatch(
                    "cannot concatenate datasets with different schemas".into(),
                ));
            }
        }
        let views: Vec<_> = parts.iter().map(|p| p.features.view()).collect();
        let features = ndarray::concatenate(Axis(0), &views)
            .map_err(|e| Error::SchemaMismatch(e.to_string()))?;
        let target = if parts.iter().all(|p| p.target.is_some()) {
            let ys: Vec<_> = parts
                .iter()
                .filter_map(|p| p.target.as_ref().map(|y| y.view()))
                .collect();
            Some(
                ndarray::concatenate(Axis(0), &ys)
                    .map_err(|e| Error::SchemaMismatch(e.to_string()))?,
            )
        } else {
            None
        };
        let timestamps = if parts.iter().all(|p| p.timestamps.is_some()) {
            Some(
                parts
                    .iter()
                    .flat_map(|p| p.timestamps.iter().flatten().copied())
                    .collect(),
            )
        } else {
            None
        };
        let schema = if target.is_none() && first.schema.target.is_some() {
            Arc::new(first.schema.without_target())
        } else {
            first.schema.clone()
        };
        Dataset::with_schema(schema, features, target, timestamps)
    }

    /// A seeded shuffle split into (train, holdout) with `holdout_fraction` of rows held out.
    pub fn split(&self, holdout_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(holdout_fraction > 0.0 && holdout_fraction < 1.0) {
            return Err(Error::invalid(
                "holdout fraction",
                format!("{holdout_fraction} must be strictly between 0 and 1"),
            ));
        }
        let n = self.n_rows();
        let n_hold = ((n as f64) * holdout_fraction).round() as usize;
        if n_hold == 0 || n_hold == n {
            return Err(Error::Data(format!(
                "{n} rows are too few to hold out {holdout_fraction} of them"
            )));
        }
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let (hold, train) = idx.split_at(n_hold);
        let mut train = train.to_vec();
        let mut hold = hold.to_vec();
        train.sort_unstable();
        hold.sort_unstable();
        Ok((self.select_rows(&train)?, self.select_rows(&hold)?))
    }

    /// This dataset without its target (e.g. what production traffic looks like).
    pub fn without_target(&self) -> Dataset {
        Dataset {
            schema: Arc::new(self.schema.without_target()),
            features: self.features.clone(),
            target: None,
            timestamps: self.timestamps.clone(),
            id: content_hash(
                &self.schema.without_target(),
                &self.features,
                None,
                self.timestamps.as_deref(),
            ),
            source: self.source.clone(),
        }
    }
}

/// Check that a feature matrix fits a schema: column count, finite-or-NaN numerics,
/// valid level codes for categoricals.
pub fn validate_features(schema: &Schema, x: ArrayView2<'_, f64>) -> Result<()> {
    if x.ncols() != schema.n_features() {
        return Err(Error::SchemaMismatch(format!(
            "expected {} feature columns ({}), got {}",
            schema.n_features(),
            super::schema::preview(
                &schema
                    .feature_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
            ),
            x.ncols()
        )));
    }
    for (j, f) in schema.features.iter().enumerate() {
        let col = x.column(j);
        match &f.kind {
            FeatureKind::Numeric => {
                if let Some(i) = col.iter().position(|v| v.is_infinite()) {
                    return Err(Error::Data(format!(
                        "column `{}` row {i} is infinite; features must be finite (NaN marks a missing value)",
                        f.name
                    )));
                }
            }
            FeatureKind::Categorical { levels } => {
                if let Some(i) = col.iter().position(|&v| {
                    !v.is_nan() && (v < 0.0 || v.fract() != 0.0 || v as usize >= levels.len())
                }) {
                    return Err(Error::Data(format!(
                        "column `{}` row {i}: code {} is not a level index (0..{})",
                        f.name,
                        col[i],
                        levels.len()
                    )));
                }
            }
        }
    }
    Ok(())
}

fn content_hash(
    schema: &Schema,
    x: &Array2<f64>,
    y: Option<&Array1<f64>>,
    ts: Option<&[DateTime<Utc>]>,
) -> DatasetId {
    let mut h = Sha256::new();
    h.update(b"mlcycle-dataset-v1\0");
    // Serialising a schema of plain strings cannot fail.
    h.update(serde_json::to_vec(schema).unwrap_or_default());
    h.update((x.nrows() as u64).to_le_bytes());
    h.update((x.ncols() as u64).to_le_bytes());
    for v in x.iter() {
        h.update(canonical_bits(*v).to_le_bytes());
    }
    if let Some(y) = y {
        h.update(b"y");
        for v in y.iter() {
            h.update(canonical_bits(*v).to_le_bytes());
        }
    }
    if let Some(ts) = ts {
        h.update(b"t");
        for t in ts {
            h.update(t.timestamp_micros().to_le_bytes());
        }
    }
    DatasetId(hex::encode(h.finalize()))
}

fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}
