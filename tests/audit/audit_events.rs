//! The typed audit event reads what earlier versions wrote: a trail written before
//! `AuditEvent` existed (a lifecycle run with drift and a retrain, then `mlcycle train`,
//! `validate`, `score`, alias and status changes) still verifies, every record reads as
//! its typed variant, and writing the variant back gives the stored payload unchanged.
//! Records the lifecycle writes today have the shapes of those records.

use mlcycle::audit::{AuditEntry, AuditEvent, AuditQuery, AuditRecord, actions, verify_chain};
use mlcycle::clock::SystemClock;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, Trigger};
use mlcycle::testing::{CreditDefault, DriftSpec};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn fixture() -> Vec<AuditRecord> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/audit/records_v1.jsonl"
    ))
    .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn a_trail_written_before_typed_events_still_verifies_and_reads() {
    let records = fixture();
    assert_eq!(records.len(), 99);
    assert_eq!(verify_chain(&records).unwrap(), 99);
    let mut seen = BTreeSet::new();
    for r in &records {
        let event = r
            .entry
            .event()
            .unwrap_or_else(|e| panic!("record {}: {e}", r.seq));
        assert!(
            !matches!(event, AuditEvent::Other { .. }),
            "record {} ({}) read as an unknown action",
            r.seq,
            r.entry.action
        );
        assert_eq!(event.action(), r.entry.action);
        assert_eq!(
            event.payload(),
            r.entry.payload,
            "record {} ({}) does not round-trip",
            r.seq,
            r.entry.action
        );
        // Rebuilt from the event, the entry hashes to the stored hash.
        let entry = AuditEntry::from_event(
            r.entry.actor.clone(),
            r.entry.subjects.clone(),
            &event,
            r.entry.trace_id.clone(),
        );
        assert_eq!(
            mlcycle::audit::record_hash(&r.prev_hash, r.seq, r.at, &entry),
            r.hash
        );
        seen.insert(r.entry.action.clone());
    }
    // The fixture covers 16 of the 18 actions; the other two are read below.
    assert_eq!(seen.len(), 16, "{seen:?}");
    // Typed fields hold what was stored.
    let moved = records
        .iter()
        .find_map(|r| match r.entry.event().unwrap() {
            AuditEvent::AliasMoved(m) => Some(m),
            _ => None,
        })
        .unwrap();
    assert_eq!(moved.alias, "production");
    assert_eq!(moved.from, None);
}

#[test]
fn records_of_the_actions_missing_from_the_fixture_read_too() {
    // As today's lifecycle and registry write them.
    for (action, payload) in [
        (
            actions::APPROVAL_REQUESTED,
            json!({"model_name": "credit", "version": 2, "trigger": "drift_alert"}),
        ),
        (
            actions::VERSION_DELETED,
            json!({"model_name": "credit", "version": 1, "artifact_sha256": "ab",
                   "forced": true, "aliases": ["staging"], "reason": "superseded"}),
        ),
        (
            actions::APPROVAL_DECIDED,
            json!({"model_name": "credit", "version": 2, "decision": "approved",
                   "decided_by": "alice", "reason": "reviewed"}),
        ),
        (
            actions::DEPLOYMENT_STOPPED,
            json!({"deployer": "in_process", "endpoint": "in-process", "model_name": "credit",
                   "version": 1, "since": "2026-03-01T00:00:00Z", "reason": "maintenance"}),
        ),
    ] {
        let e = AuditEvent::parse(action, &payload).unwrap();
        assert!(!matches!(e, AuditEvent::Other { .. }));
        assert_eq!(e.payload(), payload, "{action}");
    }
    assert_eq!(AuditEvent::ACTIONS.len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_writes_the_shapes_earlier_versions_wrote() {
    // Key sets of each action's payloads in the fixture.
    let mut shapes: BTreeMap<String, BTreeSet<BTreeSet<String>>> = BTreeMap::new();
    for r in fixture() {
        shapes
            .entry(r.entry.action.clone())
            .or_default()
            .insert(keys(&r.entry.payload));
    }
    let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
    let data = CreditDefault::new(1)
        .sample(4_000, &DriftSpec::none(), 0)
        .unwrap();
    stack
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap();
    stack
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap();
    stack
        .lifecycle
        .undeploy("ops", "maintenance")
        .await
        .unwrap();
    let written = stack.audit.query(&AuditQuery::default()).await.unwrap();
    assert!(written.len() > 10);
    for r in &written {
        r.entry.event().unwrap();
        if let Some(known) = shapes.get(&r.entry.action) {
            assert!(
                known.contains(&keys(&r.entry.payload)),
                "{} written with fields {:?}; earlier versions wrote {:?}",
                r.entry.action,
                keys(&r.entry.payload),
                known
            );
        }
    }
    assert_eq!(stack.audit.verify().await.unwrap(), written.len() as u64);
}
