//! Tampering is not only located but explained: each kind of change names its record *and*
//! says what was done ("missing", "reordered", "inserted", "re-hashed", "renumbered"), and a
//! validly hashed forgery put after the genuine record it imitates is named, not the genuine
//! one.

use chrono::{Duration, TimeZone, Utc};
use mlcycle::Error;
use mlcycle::audit::{AuditEntry, AuditLog, InMemoryAuditLog, next_record, record_hash};
use mlcycle::clock::SimulatedClock;
use std::sync::Arc;

const N: u64 = 8;

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        actor: format!("actor{i}"),
        action: "test.appended".into(),
        subjects: vec![format!("credit/{i}")],
        payload: serde_json::json!({ "i": i }),
        trace_id: format!("trace-{i}"),
    }
}

fn forged() -> AuditEntry {
    AuditEntry {
        actor: "mallory".into(),
        action: "version.status_changed".into(),
        subjects: vec!["credit/9".into()],
        payload: serde_json::json!({ "status": "approved" }),
        trace_id: "forged".into(),
    }
}

async fn filled() -> InMemoryAuditLog {
    let clock = Arc::new(SimulatedClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
    ));
    let log = InMemoryAuditLog::new(clock.clone());
    for i in 1..=N {
        log.append(entry(i)).await.unwrap();
        clock.advance(Duration::minutes(1));
    }
    log
}

/// The record named and the explanation, which must contain every one of `words`.
#[track_caller]
fn assert_explained(r: mlcycle::Result<u64>, want: u64, words: &[&str], case: &str) {
    match r {
        Err(Error::AuditBroken { seq, why }) => {
            assert_eq!(seq, want, "{case}: named record {seq} ({why})");
            for w in words {
                assert!(why.contains(w), "{case}: `{why}` does not say `{w}`");
            }
        }
        other => panic!("{case}: verification did not fail: {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_record_is_said_to_be_missing() {
    for k in 1..=N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            r.remove(k as usize - 1);
        });
        let n = format!("record {k} is missing");
        assert_explained(
            log.verify().await,
            k,
            &[&n, "removed"],
            &format!("{k} deleted"),
        );
    }
}

#[tokio::test]
async fn a_deleted_record_with_the_rest_renumbered_is_said_to_be_missing_and_renumbered() {
    for k in 1..N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            r.remove(k as usize - 1);
            for later in r.iter_mut().skip(k as usize - 1) {
                later.seq -= 1;
            }
        });
        let words = [format!("record {k} is missing"), "renumbered".into()];
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert_explained(
            log.verify().await,
            k,
            &words,
            &format!("{k} deleted, later renumbered"),
        );
    }
}

#[tokio::test]
async fn swapped_records_are_said_to_be_reordered() {
    for (a, b) in [(1, 2), (3, 4), (N - 1, N), (2, 6)] {
        let log = filled().await;
        log.tamper_for_tests(|r| r.swap(a as usize - 1, b as usize - 1));
        let how = format!("record {b} stands at position {a}, and record {a} at position {b}");
        assert_explained(
            log.verify().await,
            a,
            &["reordered", &how],
            &format!("{a} and {b} swapped"),
        );
    }
}

#[tokio::test]
async fn an_altered_and_rehashed_record_is_said_to_be_rehashed() {
    for k in 1..=N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            let r = &mut r[k as usize - 1];
            r.entry.actor = "mallory".into();
            r.hash = record_hash(&r.prev_hash, r.seq, r.at, &r.entry);
        });
        let n = format!("record {k} was altered and re-hashed");
        assert_explained(log.verify().await, k, &[&n], &format!("{k} re-hashed"));
    }
}

#[tokio::test]
async fn a_changed_sequence_number_is_said_to_be_changed() {
    for k in 1..=N {
        let log = filled().await;
        log.tamper_for_tests(|r| r[k as usize - 1].seq += 100);
        let n = format!(
            "record {k} was altered: its sequence number was changed to {}",
            k + 100
        );
        assert_explained(log.verify().await, k, &[&n], &format!("seq of {k} changed"));
    }
}

#[tokio::test]
async fn a_forgery_inserted_before_the_genuine_record_is_named_and_said_inserted() {
    for k in 1..=N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            let prev = (k > 1).then(|| r[k as usize - 2].clone());
            let f = next_record(prev.as_ref(), Utc::now(), forged());
            r.insert(k as usize - 1, f);
        });
        let n = format!("a record was inserted at position {k}: it claims number {k}");
        assert_explained(log.verify().await, k, &[&n], &format!("forgery before {k}"));
    }
}

#[tokio::test]
async fn a_forgery_inserted_after_the_genuine_record_is_named_not_the_genuine_one() {
    // Validly hashed, numbered like record k and chained to record k - 1, but put *after*
    // record k: the chain goes on from record k, so the forgery (position k + 1) is named.
    for k in 1..=N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            let prev = (k > 1).then(|| r[k as usize - 2].clone());
            let f = next_record(prev.as_ref(), Utc::now(), forged());
            assert_eq!(f.seq, k);
            r.insert(k as usize, f);
        });
        let n = format!(
            "a record was inserted at position {}: it repeats number {k} of the record at position {k}",
            k + 1
        );
        assert_explained(
            log.verify().await,
            k + 1,
            &[&n],
            &format!("forgery after {k}"),
        );
    }
}

#[tokio::test]
async fn a_forgery_inserted_with_the_rest_renumbered_is_said_inserted() {
    for k in 1..N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            let prev = (k > 1).then(|| r[k as usize - 2].clone());
            let f = next_record(prev.as_ref(), Utc::now(), forged());
            r.insert(k as usize - 1, f);
            for later in r.iter_mut().skip(k as usize) {
                later.seq += 1;
            }
        });
        let n = format!(
            "a record was inserted at position {k}: record {} links to the record before it",
            k + 1
        );
        assert_explained(
            log.verify().await,
            k,
            &[&n],
            &format!("forgery at {k}, later renumbered"),
        );
    }
}

#[tokio::test]
async fn a_copy_of_a_record_is_said_to_be_a_copy() {
    for k in 1..N {
        let log = filled().await;
        log.tamper_for_tests(|r| {
            let copy = r[k as usize - 1].clone();
            r.insert(k as usize, copy);
        });
        let n = format!("a copy of record {k} was inserted at position {}", k + 1);
        assert_explained(log.verify().await, k + 1, &[&n], &format!("copy of {k}"));
    }
}
