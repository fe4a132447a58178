//! The label store in a PostgreSQL database (feature `postgres`).

use super::{LabelRecord, LabelStore, RecordSummary, validate};
use crate::Result;
use crate::clock::Clock;
use crate::store::postgres::labels::{self as sql, LabelRow, Written};
use crate::store::postgres::{PgPool, in_tx};
use async_trait::async_trait;
use std::sync::Arc;

/// Labels in a PostgreSQL database (the `labels` table, beside the registry's tables).
///
/// A batch is one transaction (all or none); each key's row is locked while the batch runs,
/// so writers on several hosts recording the same key are serialised and the later one wins.
#[derive(Debug, Clone)]
pub struct PostgresLabelStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
}

impl PostgresLabelStore {
    /// Connect to the PostgreSQL database at `url`, creating or upgrading its schema;
    /// `clock` stamps when each label was recorded.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(Self::with_pool(PgPool::connect(url).await?, clock))
    }

    pub(crate) fn with_pool(pool: PgPool, clock: Arc<dyn Clock>) -> Self {
        PostgresLabelStore { pool, clock }
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
impl LabelStore for PostgresLabelStore {
    async fn record_labels(&self, labels: Vec<LabelRecord>) -> Result<RecordSummary> {
        validate(&labels)?;
        let now = self.clock.now();
        let rows: Vec<_> = labels
            .into_iter()
            .map(|l| (l.request_id, l.label, l.observed_at))
            .collect();
        let written = in_tx(&self.pool, async |tx| sql::record(tx, &rows, now).await).await?;
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
    }

    async fn get(&self, key: &str) -> Result<Option<LabelRecord>> {
        Ok(sql::get(&*self.pool.get().await?, key).await?.map(record))
    }

    async fn all(&self) -> Result<Vec<LabelRecord>> {
        Ok(sql::all(&*self.pool.get().await?)
            .await?
            .into_iter()
            .map(record)
            .collect())
    }
}
