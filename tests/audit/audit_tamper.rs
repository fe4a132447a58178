//! Tampering with a stored audit log — one byte changed, a record deleted, two swapped, one
//! inserted — fails verification and names the right record, in memory and in SQLite
//! (tampered through a raw connection to the store's database file).

use chrono::{Duration, TimeZone, Utc};
use mlcycle::Error;
use mlcycle::audit::{
    AuditEntry, AuditLog, AuditRecord, CheckpointKey, InMemoryAuditLog, SqliteAuditLog,
    VerifyOptions, next_record, record_hash,
};
use mlcycle::clock::SimulatedClock;
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::Arc;

const N: u64 = 8;

fn clock() -> Arc<SimulatedClock> {
    Arc::new(SimulatedClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
    ))
}

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        actor: format!("actor{i}"),
        action: "test.appended".into(),
        subjects: vec![format!("credit/{i}")],
        payload: serde_json::json!({ "i": i, "note": "abcdef" }),
        trace_id: format!("trace-{}", i / 3),
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

async fn fill(log: &dyn AuditLog, clock: &SimulatedClock) {
    for i in 1..=N {
        log.append(entry(i)).await.unwrap();
        clock.advance(Duration::minutes(1));
    }
    assert_eq!(log.verify().await.unwrap(), N);
}

#[track_caller]
fn assert_names(r: mlcycle::Result<u64>, want: u64, case: &str) {
    match r {
        Err(Error::AuditBroken { seq, why }) => {
            assert_eq!(seq, want, "{case}: named record {seq} ({why})");
        }
        other => panic!("{case}: verification did not fail: {other:?}"),
    }
}

fn memory(clock: &Arc<SimulatedClock>) -> InMemoryAuditLog {
    InMemoryAuditLog::new(clock.clone())
}

// ---------- in memory ----------

#[tokio::test]
async fn memory_one_changed_byte_names_the_record() {
    for k in 1..=N {
        for field in ["actor", "payload", "hash", "prev_hash", "at", "seq"] {
            let c = clock();
            let log = memory(&c);
            fill(&log, &c).await;
            log.tamper_for_tests(|r| {
                let r = &mut r[k as usize - 1];
                match field {
                    "actor" => r.entry.actor.replace_range(0..1, "b"),
                    "payload" => r.entry.payload["note"] = "abcdeg".into(),
                    "hash" => r
                        .hash
                        .replace_range(0..1, if r.hash.starts_with('0') { "1" } else { "0" }),
                    "prev_hash" => r.prev_hash.replace_range(
                        0..1,
                        if r.prev_hash.starts_with('1') {
                            "2"
                        } else {
                            "1"
                        },
                    ),
                    "at" => r.at += Duration::microseconds(1),
                    _ => r.seq += 100,
                }
            });
            assert_names(
                log.verify().await,
                k,
                &format!("{field} of record {k} changed"),
            );
        }
    }
}

#[tokio::test]
async fn memory_altered_and_rehashed_record_is_named_through_its_successor_or_the_head() {
    for k in 1..=N {
        let c = clock();
        let log = memory(&c);
        fill(&log, &c).await;
        log.tamper_for_tests(|r| {
            let r = &mut r[k as usize - 1];
            r.entry.actor = "mallory".into();
            r.hash = record_hash(&r.prev_hash, r.seq, r.at, &r.entry);
        });
        assert_names(log.verify().await, k, &format!("record {k} re-hashed"));
    }
}

#[tokio::test]
async fn memory_deleted_record_is_named_including_the_last() {
    for k in 1..=N {
        let c = clock();
        let log = memory(&c);
        fill(&log, &c).await;
        log.tamper_for_tests(|r| {
            r.remove(k as usize - 1);
        });
        assert_names(log.verify().await, k, &format!("record {k} deleted"));
    }
}

#[tokio::test]
async fn memory_swapped_records_name_the_first_position() {
    for (a, b) in [(1, 2), (3, 4), (N - 1, N), (2, 6)] {
        let c = clock();
        let log = memory(&c);
        fill(&log, &c).await;
        log.tamper_for_tests(|r| r.swap(a as usize - 1, b as usize - 1));
        assert_names(
            log.verify().await,
            a,
            &format!("records {a} and {b} swapped"),
        );
    }
}

#[tokio::test]
async fn memory_inserted_record_is_named_at_its_position() {
    for k in 1..=N + 1 {
        // A well-formed forgery chained to its predecessor, later records left as they were.
        let c = clock();
        let log = memory(&c);
        fill(&log, &c).await;
        log.tamper_for_tests(|r| {
            let prev = if k == 1 {
                None
            } else {
                Some(&r[k as usize - 2])
            };
            let f = next_record(prev, Utc::now(), forged());
            r.insert(k as usize - 1, f);
        });
        assert_names(log.verify().await, k, &format!("forgery inserted at {k}"));

        // The same, with every later record renumbered (and so no longer matching its hash).
        let c = clock();
        let log = memory(&c);
        fill(&log, &c).await;
        log.tamper_for_tests(|r| {
            let prev = if k == 1 {
                None
            } else {
                Some(&r[k as usize - 2])
            };
            let f = next_record(prev, Utc::now(), forged());
            r.insert(k as usize - 1, f);
            for later in r.iter_mut().skip(k as usize) {
                later.seq += 1;
            }
        });
        assert_names(
            log.verify().await,
            k,
            &format!("forgery inserted at {k}, later records renumbered"),
        );
    }
}

#[tokio::test]
async fn memory_truncation_with_a_forged_head_is_caught_by_a_checkpoint() {
    let key = CheckpointKey::new([3u8; 32]).unwrap();
    let c = clock();
    let log = memory(&c);
    fill(&log, &c).await;
    log.checkpoint(&key).await.unwrap();
    // Cut the last two records and move the head back, as someone with write access could.
    log.tamper_all_for_tests(|s| {
        s.records.truncate(N as usize - 2);
        s.head = s.records.last().map(AuditRecord::head);
    });
    assert_names(log.verify().await, N - 1, "truncated with a forged head");

    // A chain rewritten from record 3 on, with a fresh head: only the checkpoint knows.
    let c = clock();
    let log = memory(&c);
    fill(&log, &c).await;
    log.checkpoint(&key).await.unwrap();
    log.tamper_all_for_tests(|s| {
        s.records[2].entry.actor = "mallory".into();
        for i in 2..s.records.len() {
            let prev = if i == 0 {
                None
            } else {
                Some(s.records[i - 1].clone())
            };
            let r = &s.records[i];
            s.records[i] = next_record(prev.as_ref(), r.at, r.entry.clone());
        }
        s.head = s.records.last().map(AuditRecord::head);
    });
    assert_names(log.verify().await, N, "chain rewritten after a checkpoint");
    // ... and re-pointing the checkpoint at the new chain breaks its signature.
    log.tamper_all_for_tests(|s| {
        let h = s.head.clone().unwrap();
        s.checkpoints[0].hash = h.hash;
    });
    assert_eq!(
        log.verify().await.unwrap(),
        N,
        "without the key the forgery passes"
    );
    let opts = VerifyOptions {
        key: Some(key),
        ..Default::default()
    };
    match log.verify_with(&opts).await {
        Err(Error::AuditBroken { seq, why }) => {
            assert_eq!(seq, N);
            assert!(why.contains("signature"), "{why}");
        }
        other => panic!("a re-pointed checkpoint verified: {other:?}"),
    }
}

#[tokio::test]
async fn memory_rollback_of_the_whole_log_is_caught_by_a_trusted_checkpoint() {
    let key = CheckpointKey::new([3u8; 32]).unwrap();
    let c = clock();
    let log = memory(&c);
    fill(&log, &c).await;
    let trusted = log.checkpoint(&key).await.unwrap().unwrap();
    // Everything, checkpoints included, put back to how it was after record 5.
    log.tamper_all_for_tests(|s| {
        s.records.truncate(5);
        s.head = s.records.last().map(AuditRecord::head);
        s.checkpoints.clear();
    });
    assert_eq!(log.verify().await.unwrap(), 5);
    let opts = VerifyOptions {
        key: Some(key),
        expect_every: None,
        trusted: Some(trusted),
    };
    assert_names(
        log.verify_with(&opts).await.map(|v| v.records),
        6,
        "rolled back",
    );
}

// ---------- SQLite, tampered through a raw connection ----------

async fn sqlite_store() -> (tempfile::TempDir, SqliteAuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let log = SqliteAuditLog::open(dir.path(), c.clone()).unwrap();
    fill(&log, &c).await;
    (dir, log)
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join("mlcycle.db")).unwrap()
}

/// Flip one character of a text column of record `seq`.
fn flip_byte(conn: &Connection, seq: u64, column: &str) {
    let v: String = conn
        .query_row(
            &format!("SELECT {column} FROM audit_log WHERE seq = ?1"),
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap();
    let mut b = v.into_bytes();
    // A byte that keeps the value parseable: a hex digit, a letter or a digit.
    let i = b.iter().rposition(|c| c.is_ascii_alphanumeric()).unwrap();
    b[i] = match b[i] {
        b'0' => b'1',
        c if c.is_ascii_digit() => b'0',
        b'a' => b'b',
        _ => b'a',
    };
    conn.execute(
        &format!("UPDATE audit_log SET {column} = ?1 WHERE seq = ?2"),
        params![String::from_utf8(b).unwrap(), seq as i64],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_changed_byte_names_the_record() {
    for k in [1, 4, N] {
        for column in [
            "actor",
            "action",
            "subjects",
            "payload",
            "trace_id",
            "at",
            "prev_hash",
            "hash",
        ] {
            let (dir, log) = sqlite_store().await;
            flip_byte(&raw(dir.path()), k, column);
            assert_names(log.verify().await, k, &format!("{column} of record {k}"));
        }
        let (dir, log) = sqlite_store().await;
        raw(dir.path())
            .execute("UPDATE audit_log SET seq = 100 WHERE seq = ?1", [k as i64])
            .unwrap();
        assert_names(log.verify().await, k, &format!("seq of record {k}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_deleted_record_is_named_including_the_last() {
    for k in [1, 2, 5, N] {
        let (dir, log) = sqlite_store().await;
        raw(dir.path())
            .execute("DELETE FROM audit_log WHERE seq = ?1", [k as i64])
            .unwrap();
        assert_names(log.verify().await, k, &format!("record {k} deleted"));
        // Appending afterwards does not hide it: the new record chains to the stored head.
        let r = log.append(entry(99)).await.unwrap();
        assert_eq!(r.seq, N + 1);
        assert_names(
            log.verify().await,
            k,
            &format!("record {k} deleted, then an append"),
        );
    }
}

/// Rewrite the table in the given order of (seq to store, record).
fn rewrite(conn: &Connection, rows: &[(u64, AuditRecord)]) {
    conn.execute("DELETE FROM audit_log", []).unwrap();
    for (seq, r) in rows {
        conn.execute(
            "INSERT INTO audit_log (seq, at, actor, action, subjects, payload, trace_id, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                *seq as i64,
                r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                r.entry.actor,
                r.entry.action,
                serde_json::to_string(&r.entry.subjects).unwrap(),
                serde_json::to_string(&r.entry.payload).unwrap(),
                r.entry.trace_id,
                r.prev_hash,
                r.hash
            ],
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_swapped_records_name_the_first_position() {
    for (a, b) in [(1, 2), (3, 7), (N - 1, N)] {
        // Swapping the stored rows.
        let (dir, log) = sqlite_store().await;
        let mut recs = log.snapshot().await.unwrap().records;
        recs.swap(a as usize - 1, b as usize - 1);
        let rows: Vec<_> = recs.into_iter().map(|r| (r.seq, r)).collect();
        rewrite(&raw(dir.path()), &rows);
        assert_names(log.verify().await, a, &format!("rows {a} and {b} swapped"));

        // Swapping their sequence numbers in place.
        let (dir, log) = sqlite_store().await;
        raw(dir.path())
            .execute_batch(&format!(
                "UPDATE audit_log SET seq = -1 WHERE seq = {a};
                 UPDATE audit_log SET seq = {a} WHERE seq = {b};
                 UPDATE audit_log SET seq = {b} WHERE seq = -1;"
            ))
            .unwrap();
        assert_names(
            log.verify().await,
            a,
            &format!("numbers {a} and {b} swapped"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_inserted_record_is_named_at_its_position() {
    for k in [1, 3, N] {
        let (dir, log) = sqlite_store().await;
        let recs = log.snapshot().await.unwrap().records;
        let prev = if k == 1 {
            None
        } else {
            Some(&recs[k as usize - 2])
        };
        let f = next_record(prev, Utc::now(), forged());
        let mut rows: Vec<(u64, AuditRecord)> = Vec::new();
        for r in recs.iter().take(k as usize - 1) {
            rows.push((r.seq, r.clone()));
        }
        rows.push((k, f));
        for r in recs.iter().skip(k as usize - 1) {
            rows.push((r.seq + 1, r.clone())); // renumbered to keep numbers unique
        }
        rewrite(&raw(dir.path()), &rows);
        assert_names(log.verify().await, k, &format!("forgery inserted at {k}"));
    }
    // A forged record appended at the end with a correct hash: the stored head names it.
    let (dir, log) = sqlite_store().await;
    let recs = log.snapshot().await.unwrap().records;
    let f = next_record(recs.last(), Utc::now(), forged());
    let mut rows: Vec<_> = recs.into_iter().map(|r| (r.seq, r)).collect();
    rows.push((N + 1, f));
    rewrite(&raw(dir.path()), &rows);
    assert_names(log.verify().await, N + 1, "forgery appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_truncation_with_a_forged_head_is_caught_by_a_checkpoint() {
    let key = CheckpointKey::new([5u8; 32]).unwrap();
    let (dir, log) = sqlite_store().await;
    log.checkpoint(&key).await.unwrap().unwrap();
    let conn = raw(dir.path());
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [N as i64])
        .unwrap();
    conn.execute(
        "UPDATE audit_head SET seq = ?1, hash = (SELECT hash FROM audit_log WHERE seq = ?1)",
        [(N - 1) as i64],
    )
    .unwrap();
    assert_names(
        log.verify().await,
        N,
        "last record deleted, head moved back",
    );
    let opts = VerifyOptions {
        key: Some(key),
        ..Default::default()
    };
    assert_names(
        log.verify_with(&opts).await.map(|v| v.records),
        N,
        "the same, verified with the key",
    );
}
