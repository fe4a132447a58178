//! Export of the log as JSON lines: one [`AuditRecord`] per line, exactly as stored
//! (`seq`, `at`, `actor`, `action`, `subjects`, `payload`, `trace_id`, `prev_hash`,
//! `hash`), so an exported file can be re-verified with [`super::verify_chain`].

use super::{AuditLog, AuditQuery, AuditRecord};
use crate::{Error, Result};
use std::io::Write;

/// Write `records` as JSON lines to `out`.
pub fn write_jsonl(records: &[AuditRecord], mut out: impl Write) -> Result<()> {
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n")
            .map_err(|e| Error::io("audit export output", e))?;
    }
    out.flush().map_err(|e| Error::io("audit export output", e))
}

/// Write the records of `log` matching `query` as JSON lines to `out`; returns how many.
///
/// ```
/// use mlcycle::audit::{AuditEntry, AuditLog, AuditQuery, AuditRecord, InMemoryAuditLog, export_jsonl, verify_chain};
/// use mlcycle::clock::SystemClock;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let log = InMemoryAuditLog::new(Arc::new(SystemClock));
/// for i in 0..3 {
///     log.append(AuditEntry { actor: "a".into(), action: "x".into(), subjects: vec![],
///         payload: serde_json::json!({ "i": i }), trace_id: "t".into() }).await.unwrap();
/// }
/// let mut out = Vec::new();
/// assert_eq!(export_jsonl(&log, &AuditQuery::default(), &mut out).await.unwrap(), 3);
/// let back: Vec<AuditRecord> = String::from_utf8(out).unwrap().lines()
///     .map(|l| serde_json::from_str(l).unwrap()).collect();
/// assert_eq!(verify_chain(&back).unwrap(), 3);
/// # });
/// ```
pub async fn export_jsonl(log: &dyn AuditLog, query: &AuditQuery, out: impl Write) -> Result<u64> {
    let records = log.query(query).await?;
    write_jsonl(&records, out)?;
    Ok(records.len() as u64)
}
