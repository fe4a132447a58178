use super::{AuditEntry, AuditLog, AuditQuery, AuditRecord, next_record, verify_chain};
use crate::Result;
use crate::clock::Clock;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

/// An audit log in memory (tests, simulations).
#[derive(Debug)]
pub struct InMemoryAuditLog {
    clock: Arc<dyn Clock>,
    records: Mutex<Vec<AuditRecord>>,
}

impl InMemoryAuditLog {
    /// An empty log using `clock` for timestamps.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        InMemoryAuditLog {
            clock,
            records: Mutex::new(Vec::new()),
        }
    }

    /// Direct access to the stored records, to simulate tampering in tests.
    #[doc(hidden)]
    pub fn tamper_for_tests(&self, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        f(&mut self.records.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn append(&self, entry: AuditEntry) -> Result<AuditRecord> {
        let mut recs = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let r = next_record(recs.last(), self.clock.now(), entry);
        recs.push(r.clone());
        Ok(r)
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| query.matches(r))
            .cloned()
            .collect())
    }

    async fn verify(&self) -> Result<u64> {
        verify_chain(&self.records.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
