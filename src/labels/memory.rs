//! The in-memory label store.

use super::{LabelRecord, LabelStore, RecordSummary, validate};
use crate::Result;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Labels in memory (tests, embedding without a store).
#[derive(Debug, Default)]
pub struct InMemoryLabelStore {
    labels: Mutex<BTreeMap<String, LabelRecord>>,
}

#[async_trait]
impl LabelStore for InMemoryLabelStore {
    async fn record_labels(&self, labels: Vec<LabelRecord>) -> Result<RecordSummary> {
        validate(&labels)?;
        let mut stored = self.labels.lock().unwrap_or_else(|p| p.into_inner());
        let mut summary = RecordSummary {
            received: labels.len(),
            ..RecordSummary::default()
        };
        for l in labels {
            match stored.get(&l.request_id) {
                None => summary.inserted += 1,
                Some(old) if old.label == l.label => {
                    summary.unchanged += 1;
                    continue;
                }
                Some(_) => summary.corrected.push(l.request_id.clone()),
            }
            stored.insert(l.request_id.clone(), l);
        }
        Ok(summary)
    }

    async fn get(&self, key: &str) -> Result<Option<LabelRecord>> {
        Ok(self
            .labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    async fn all(&self) -> Result<Vec<LabelRecord>> {
        Ok(self
            .labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect())
    }
}
