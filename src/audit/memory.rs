use super::{
    AuditEntry, AuditLog, AuditQuery, AuditRecord, AuditSnapshot, ChainHead, Checkpoint,
    CheckpointKey, CheckpointPolicy, next_after,
};
use crate::Result;
use crate::clock::Clock;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

/// An audit log in memory (tests, simulations).
#[derive(Debug)]
pub struct InMemoryAuditLog {
    clock: Arc<dyn Clock>,
    policy: Option<CheckpointPolicy>,
    state: Mutex<AuditSnapshot>,
}

impl InMemoryAuditLog {
    /// An empty log using `clock` for timestamps.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        InMemoryAuditLog {
            clock,
            policy: None,
            state: Mutex::new(AuditSnapshot::default()),
        }
    }

    /// Sign a checkpoint automatically with every `policy.every`-th record.
    pub fn with_checkpoints(mut self, policy: CheckpointPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuditSnapshot> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Direct access to the stored records, to simulate tampering in tests.
    #[doc(hidden)]
    pub fn tamper_for_tests(&self, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        f(&mut self.lock().records);
    }

    /// Direct access to everything stored (records, head, checkpoints), to simulate
    /// tampering in tests.
    #[doc(hidden)]
    pub fn tamper_all_for_tests(&self, f: impl FnOnce(&mut AuditSnapshot)) {
        f(&mut self.lock());
    }
}

fn sign_head(
    st: &mut AuditSnapshot,
    key: &CheckpointKey,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Checkpoint> {
    let head: ChainHead = st.head.clone()?;
    if let Some(last) = st.checkpoints.last()
        && last.seq == head.seq
    {
        return Some(last.clone());
    }
    let cp = key.sign(&head, at, st.checkpoints.last());
    st.checkpoints.push(cp.clone());
    Some(cp)
}

impl InMemoryAuditLog {
    /// Append without yielding (an in-memory registry appends while it holds its own lock,
    /// so a change and its record are visible together).
    pub(crate) fn append_now(&self, entry: AuditEntry) -> AuditRecord {
        let mut st = self.lock();
        let r = next_after(st.head.as_ref(), self.clock.now(), entry);
        st.records.push(r.clone());
        st.head = Some(r.head());
        if let Some(p) = &self.policy
            && p.due(r.seq)
        {
            sign_head(&mut st, &p.key, r.at);
        }
        r
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn append(&self, entry: AuditEntry) -> Result<AuditRecord> {
        Ok(self.append_now(entry))
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(self
            .lock()
            .records
            .iter()
            .filter(|r| query.matches(r))
            .cloned()
            .collect())
    }

    async fn snapshot(&self) -> Result<AuditSnapshot> {
        Ok(self.lock().clone())
    }

    async fn checkpoint(&self, key: &CheckpointKey) -> Result<Option<Checkpoint>> {
        let at = self.clock.now();
        Ok(sign_head(&mut self.lock(), key, at))
    }
}
