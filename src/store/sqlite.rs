//! The embedded store's SQLite database: opening a connection, its pragmas (WAL, full sync),
//! and the versioned migrations that create every table — the registry's (`versions`,
//! `aliases`, `alias_history`, `status_history`, `registry_events`, `models`) and the audit
//! trail's (`audit_log`, `audit_head`, `audit_checkpoints`).
//!
//! The registry and the audit log (`registry::SqliteRegistry`, `audit::SqliteAuditLog`) open
//! their connections here; neither creates or changes a table itself.

use crate::{Error, Result};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// The database file name inside a store directory.
pub const DB_FILE: &str = "mlcycle.db";

/// Schema migrations, applied in order; `PRAGMA user_version` is the number applied.
/// Append new ones at the end; never edit one that has shipped.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: registry tables
    "CREATE TABLE versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL,
        status TEXT NOT NULL, flavor TEXT NOT NULL, artifact_sha256 TEXT NOT NULL,
        signature TEXT NOT NULL, lineage TEXT NOT NULL, metrics TEXT NOT NULL,
        tags TEXT NOT NULL, description TEXT NOT NULL,
        PRIMARY KEY (name, version));
     CREATE TABLE aliases (
        name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (name, alias));
     CREATE TABLE alias_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, alias TEXT NOT NULL,
        version INTEGER, previous INTEGER, at TEXT NOT NULL, actor TEXT NOT NULL,
        reason TEXT NOT NULL);
     CREATE TABLE status_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version INTEGER NOT NULL,
        status TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL);
     CREATE TABLE registry_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, event TEXT NOT NULL);",
    // 2: audit trail
    "CREATE TABLE audit_log (
        seq INTEGER NOT NULL UNIQUE, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        subjects TEXT NOT NULL, payload TEXT NOT NULL, trace_id TEXT NOT NULL,
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
    // 3: per-model version counter (numbers are never reused after a deletion), the initial
    //    status of versions registered before status history recorded it, and indexes
    "CREATE TABLE models (
        name TEXT PRIMARY KEY, last_version INTEGER NOT NULL, created_at TEXT NOT NULL);
     INSERT INTO models (name, last_version, created_at)
        SELECT name, MAX(version), MIN(created_at) FROM versions GROUP BY name;
     INSERT INTO status_history (name, version, status, at, actor, reason)
        SELECT v.name, v.version, 'pending_approval', v.created_at,
               COALESCE(json_extract(v.lineage, '$.created_by'), ''), 'registered'
        FROM versions v ORDER BY v.created_at, v.name, v.version;
     CREATE INDEX aliases_by_version ON aliases (name, version);
     CREATE INDEX alias_history_by_name ON alias_history (name, alias);
     CREATE INDEX status_history_by_version ON status_history (name, version);",
    // 4: audit chain head (updated with every append) and signed checkpoints
    "CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
     INSERT INTO audit_head (id, seq, hash)
        SELECT 1, seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;
     CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY, at TEXT NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL,
        prev_signature TEXT NOT NULL, signature TEXT NOT NULL);",
    // 5: alerts and their delivery attempts; the owner of a registered model
    "CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL,
        suppressed INTEGER NOT NULL, body TEXT NOT NULL);
     CREATE INDEX IF NOT EXISTS alerts_by_model ON alerts (model, at);
     CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (at);
     CREATE TABLE IF NOT EXISTS alert_deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, body TEXT NOT NULL);
     CREATE INDEX IF NOT EXISTS alert_deliveries_by_alert ON alert_deliveries (alert_id, seq);
     CREATE TABLE IF NOT EXISTS model_owners (
        name TEXT PRIMARY KEY, owner TEXT NOT NULL);",
    // 6: lifecycle state (drift episode, cooldown, baseline version) and approval requests
    "CREATE TABLE IF NOT EXISTS lifecycle_state (
        model TEXT PRIMARY KEY, episode TEXT NOT NULL, baseline_version INTEGER,
        updated_at TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS approvals (
        model TEXT NOT NULL, version INTEGER NOT NULL, requested_at TEXT NOT NULL,
        trigger TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL,
        decided_by TEXT, decided_at TEXT, reason TEXT, applied_at TEXT,
        PRIMARY KEY (model, version));",
    // 7: the controller's durable state (registry-event cursor, last monitoring window, last
    //    scheduled run, the step in progress), the datasets it trained on, and its lease
    "CREATE TABLE IF NOT EXISTS controller_state (
        model TEXT PRIMARY KEY, registry_cursor INTEGER NOT NULL, last_window_end TEXT,
        last_schedule TEXT, in_progress TEXT, updated_at TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS controller_datasets (
        model TEXT NOT NULL, dataset TEXT NOT NULL, trained_at TEXT NOT NULL,
        version INTEGER, PRIMARY KEY (model, dataset));
     CREATE TABLE IF NOT EXISTS controller_lease (
        model TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL,
        heartbeat TEXT NOT NULL);",
    // 8: ground-truth labels, keyed by `REQUEST_ID` or `REQUEST_ID/ROW`
    "CREATE TABLE IF NOT EXISTS labels (
        key TEXT PRIMARY KEY, label TEXT NOT NULL, observed_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL, revision INTEGER NOT NULL);",
    // 9: the dataset catalog: named, content-hashed dataset versions
    "CREATE TABLE IF NOT EXISTS dataset_versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL,
        file TEXT NOT NULL, source TEXT NOT NULL, rows INTEGER NOT NULL,
        columns INTEGER NOT NULL, bytes INTEGER NOT NULL, added_at TEXT NOT NULL,
        added_by TEXT NOT NULL,
        PRIMARY KEY (name, version), UNIQUE (name, hash));",
    // 10: alert cooldown marks (when each condition was last delivered); `key` is '' for the
    //     whole model, else '=' and the column or version key
    "CREATE TABLE IF NOT EXISTS alert_cooldowns (
        model TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        delivered_at TEXT NOT NULL, PRIMARY KEY (model, kind, key));",
];

pub(crate) fn sql_err(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.code {
            rusqlite::ErrorCode::DiskFull => {
                return backend_msg(format!(
                    "the disk holding the store's database is full ({e}): free space and retry"
                ));
            }
            rusqlite::ErrorCode::SystemIoFailure => {
                return backend_msg(format!(
                    "the store's database could not be read or written ({e}): the disk holding it may be full or failing; free space (or check the disk) and retry"
                ));
            }
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                return backend_msg(format!(
                    "the store's database is corrupt ({e}): restore {DB_FILE} from a backup (with its -wal file, if any)"
                ));
            }
            _ => {}
        }
    }
    Error::Backend {
        backend: "sqlite",
        source: Box::new(e),
    }
}

/// Files under `dir` (recursively), counting up to `cap`.
fn count_files(dir: &Path, cap: usize) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => n += 1,
                _ => {}
            }
            if n >= cap {
                return n;
            }
        }
    }
    n
}

/// Refuse a missing or empty database in a store that holds artifacts or prediction logs:
/// creating a fresh one would silently forget every model, alias and audit record.
fn check_not_lost(dir: &Path, path: &Path, existed: bool) -> Result<()> {
    const CAP: usize = 10_000;
    let artifacts = count_files(&dir.join("artifacts"), CAP);
    let logs = count_files(&dir.join("predictions"), CAP);
    if artifacts + logs == 0 {
        return Ok(());
    }
    let n = |k: usize| {
        if k >= CAP {
            format!("{CAP}+")
        } else {
            k.to_string()
        }
    };
    Err(backend_msg(format!(
        "the database {} is {} but the store holds {} artifact file(s) and {} prediction-log file(s): restore {DB_FILE} from a backup (with its -wal file, if any), or move the store's artifacts/ and predictions/ aside to start an empty store there",
        path.display(),
        if existed {
            "empty (truncated?)"
        } else {
            "missing (deleted?)"
        },
        n(artifacts),
        n(logs),
    )))
}

/// `PRAGMA quick_check` of an existing database, and its audit trail against its stored
/// head: a head naming records with none in the table means the records were deleted.
fn check_integrity(conn: &Connection, path: &Path, version: usize) -> Result<()> {
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)?;
    if problems.first().map(String::as_str) != Some("ok") {
        return Err(backend_msg(format!(
            "the database {} is corrupt (quick_check: {}): restore {DB_FILE} from a backup (with its -wal file, if any)",
            path.display(),
            problems.join("; ")
        )));
    }
    // Migration 4 made the audit head.
    if version >= 4 {
        let head: Option<i64> = conn
            .query_row("SELECT MAX(seq) FROM audit_head", [], |r| r.get(0))
            .map_err(sql_err)?;
        let records: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
            .map_err(sql_err)?;
        if let Some(h) = head.filter(|&h| h > 0)
            && records == 0
        {
            return Err(Error::AuditBroken {
                seq: 1,
                why: format!(
                    "the audit trail of {} is empty but its stored head names record {h}: records 1..={h} are missing (deleted); restore {DB_FILE} from a backup",
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

pub(crate) fn backend_msg(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "sqlite",
        source: msg.into().into(),
    }
}

/// Open a connection to the database file at `path` (no pragmas, no migrations), waiting up to
/// 30 s for other writers.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(sql_err)?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(sql_err)?;
    Ok(conn)
}

/// Open the existing store database in `dir` for reading only (SQLite's read-only mode: no
/// statement on this connection can change the file, no migration is applied), waiting up to
/// 30 s for other writers. Readers of a WAL database never block writers, so this is safe
/// while other processes (`mlcycle run`, `mlcycle serve`) write to the store. The store must
/// exist and have this mlcycle's schema: an older one is refused (any writing `mlcycle`
/// command upgrades it), a newer one too.
pub(crate) fn connect_read_only(dir: &Path) -> Result<Connection> {
    let path = dir.join(DB_FILE);
    if !path.is_file() {
        return Err(Error::not_found(
            "store",
            dir.display(),
            "pass a directory written by mlcycle (it holds mlcycle.db)",
        ));
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(sql_err)?;
    let current: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(sql_err)? as usize;
    if current != MIGRATIONS.len() {
        return Err(Error::Conflict(format!(
            "{} has schema version {current} and this mlcycle reads version {} only; {}",
            path.display(),
            MIGRATIONS.len(),
            if current < MIGRATIONS.len() {
                "upgrade the store by running any mlcycle command that writes to it (e.g. `mlcycle models list`)"
            } else {
                "upgrade mlcycle"
            }
        )));
    }
    Ok(conn)
}

/// Open (creating if needed) the store database and apply pending migrations.
pub(crate) fn open_db(dir: &Path) -> Result<Connection> {
    open_db_upto(dir, MIGRATIONS.len())
}

/// Open the store database, applying migrations up to number `upto` (tests build old
/// stores with it).
pub(crate) fn open_db_upto(dir: &Path, upto: usize) -> Result<Connection> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(DB_FILE);
    let existing = match std::fs::metadata(&path) {
        Ok(m) => Some(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&path, e)),
    };
    if existing.unwrap_or(0) == 0 {
        check_not_lost(dir, &path, existing.is_some())?;
    }
    let mut conn = connect(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_err)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let current: usize = tx
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(sql_err)? as usize;
    if current > MIGRATIONS.len() {
        return Err(Error::Conflict(format!(
            "{} has schema version {current}, newer than this mlcycle ({}); upgrade mlcycle",
            path.display(),
            MIGRATIONS.len()
        )));
    }
    if existing.unwrap_or(0) > 0 {
        check_integrity(&tx, &path, current)?;
    }
    for (i, m) in MIGRATIONS
        .iter()
        .enumerate()
        .take(upto.min(MIGRATIONS.len()))
        .skip(current)
    {
        tx.execute_batch(m).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(sql_err)?;
    }
    tx.commit().map_err(sql_err)?;
    Ok(conn)
}
