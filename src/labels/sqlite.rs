//! The label store of the embedded store (the `labels` table).

use super::{LabelRecord, LabelStore, RecordSummary, validate};
use crate::clock::Clock;
use crate::store::labels::{LabelDb, LabelRow, Written};
use crate::{Error, Result};
use async_trait::async_trait;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Labels in the store database of a directory (the same `mlcycle.db` as the registry and
/// the audit trail).
#[derive(Debug, Clone)]
pub struct SqliteLabelStore {
    db: Arc<Mutex<LabelDb>>,
    clock: Arc<dyn Clock>,
}

impl SqliteLabelStore {
    /// Open the label store of the store in `dir` (created if missing); `clock` stamps
    /// when each label was recorded.
    pub fn open(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(SqliteLabelStore {
            db: Arc::new(Mutex::new(LabelDb::open(dir.as_ref())?)),
            clock,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LabelDb) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&mut db.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(|e| Error::task("label store", e))?
    }
}

fn record(r: LabelRow) -> LabelRecord {
    LabelRecord {
        request_id: r.key,
        label: r.label,
        observed_at: r.observed_at,
    }
}

#[async_trait]
impl LabelStore for SqliteLabelStore {
    async fn record_labels(&self, labels: Vec<LabelRecord>) -> Result<RecordSummary> {
        validate(&labels)?;
        let now = self.clock.now();
        let rows: Vec<_> = labels
            .into_iter()
            .map(|l| (l.request_id, l.label, l.observed_at))
            .collect();
        self.run(move |db| {
            let written = db.record(&rows, now)?;
            let mut summary = RecordSummary {
                received: rows.len(),
                ..RecordSummary::default()
            };
            for ((key, _, _), w) in rows.iter().zip(written) {
                match w {
                    Written::Inserted => summary.inserted += 1,
                    Written::Unchanged => summary.unchanged += 1,
                    Written::Corrected => summary.corrected.push(key.clone()),
                }
            }
            Ok(summary)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<LabelRecord>> {
        let key = key.to_string();
        self.run(move |db| Ok(db.get(&key)?.map(record))).await
    }

    async fn all(&self) -> Result<Vec<LabelRecord>> {
        self.run(|db| Ok(db.all()?.into_iter().map(record).collect()))
            .await
    }
}
