//! The label store conformance suite: every [`LabelStore`] backend must pass it.

use super::{LabelRecord, LabelStore};
use crate::Error;
use chrono::{TimeZone, Utc};

macro_rules! assert_eq {
    ($($t:tt)+) => { crate::conformance_support::suite_assert_eq!("label store", $($t)+) };
}

fn step<T>(property: &str, what: &str, r: crate::Result<T>) -> T {
    crate::conformance_support::step("label store", property, what, r)
}

/// Run the label store contract against `store`, which must be empty.
///
/// Covers insertion, idempotent repeats, corrections (the later label wins and is
/// reported), validation (nothing stored from an invalid batch), `REQUEST_ID/ROW` keys and
/// the ordering of `all`.
///
/// # Panics
/// On the first violation, with a message naming it (it is a test suite).
pub async fn label_store_conformance(store: &dyn LabelStore) {
    let all = step("empty", "all", store.all().await);
    assert!(
        all.is_empty(),
        "label_store_conformance needs an empty label store"
    );
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let t1 = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
    let batch: Vec<LabelRecord> = vec![
        ("req-b", "yes", t0).into(),
        ("req-a/0", "no", t0).into(),
        ("req-a/1", "2.5", t0).into(),
    ];

    let s = step(
        "insert",
        "record_labels",
        store.record_labels(batch.clone()).await,
    );
    assert_eq!(s.received, 3, "insert: received");
    assert_eq!(s.inserted, 3, "insert: inserted");
    assert_eq!(s.unchanged, 0, "insert: unchanged");
    assert!(s.corrected.is_empty(), "insert: nothing corrected");

    let s = step(
        "idempotent",
        "record_labels",
        store.record_labels(batch.clone()).await,
    );
    assert_eq!(
        (s.inserted, s.unchanged, s.corrected.len()),
        (0, 3, 0),
        "a repeated batch changes nothing"
    );
    let all = step("idempotent", "all", store.all().await);
    assert_eq!(all.len(), 3, "a repeated batch adds no label");

    let s = step(
        "correction",
        "record_labels",
        store
            .record_labels(vec![
                ("req-b", "no", t1).into(),
                ("req-c", "yes", t1).into(),
            ])
            .await,
    );
    assert_eq!(s.inserted, 1, "correction: the new key is inserted");
    assert_eq!(
        s.corrected,
        vec!["req-b".to_string()],
        "correction: the corrected key is reported"
    );
    let got = step("correction", "get", store.get("req-b").await);
    assert_eq!(
        got.map(|l| (l.label, l.observed_at)),
        Some(("no".to_string(), t1)),
        "the later label wins"
    );

    let got = step("row keys", "get", store.get("req-a/1").await);
    assert_eq!(
        got.map(|l| l.label),
        Some("2.5".to_string()),
        "a REQUEST_ID/ROW key is stored as given"
    );
    let got = step("row keys", "get", store.get("req-a").await);
    assert_eq!(got, None, "get looks up exactly the key given");

    for (bad, why) in [
        (("", "yes", t0), "an empty key"),
        (("req-z", " ", t0), "an empty label"),
    ] {
        match store
            .record_labels(vec![("req-y", "yes", t0).into(), bad.into()])
            .await
        {
            Err(Error::InvalidInput { .. }) => {}
            other => crate::conformance_support::broken(
                "label store",
                why,
                format!(
                    "expected InvalidInput, got {}",
                    crate::conformance_support::outcome(&other)
                ),
            ),
        }
    }
    let got = step("validation", "get", store.get("req-y").await);
    assert_eq!(got, None, "nothing of an invalid batch is stored");

    let keys: Vec<String> = step("order", "all", store.all().await)
        .into_iter()
        .map(|l| l.request_id)
        .collect();
    assert_eq!(
        keys,
        vec!["req-a/0", "req-a/1", "req-b", "req-c"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
        "all() is ordered by key"
    );
}
