//! The embedded default registry: one directory with a SQLite database (WAL mode,
//! versioned migrations) and content-addressed artifact files.

use super::artifacts::ArtifactStore;
use super::types::{validate_alias, validate_name};
use super::{
    AliasChange, Change, Lineage, ModelVersion, NewVersion, Registry, RegistryEvent,
    RegistryEventKind, StatusChange, VersionStatus,
};
use crate::clock::Clock;
use crate::model::{ModelArtifact, Signature};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The database file name inside a store directory.
pub const DB_FILE: &str = "mlcycle.db";

const MIGRATIONS: &[&str] = &[
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
    // 3: audit chain head (updated with every append) and signed checkpoints
    "CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
     INSERT INTO audit_head (id, seq, hash)
        SELECT 1, seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;
     CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY, at TEXT NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL,
        prev_signature TEXT NOT NULL, signature TEXT NOT NULL);",
];

pub(crate) fn sql_err(e: rusqlite::Error) -> Error {
    Error::Backend {
        backend: "sqlite",
        source: Box::new(e),
    }
}

/// Open (creating if needed) the store database and apply pending migrations.
pub(crate) fn open_db(dir: &Path) -> Result<Connection> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(DB_FILE);
    let mut conn = Connection::open(&path).map_err(sql_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sql_err)?;
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
    for (i, m) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(m).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(sql_err)?;
    }
    tx.commit().map_err(sql_err)?;
    Ok(conn)
}

/// The SQLite-backed registry (the embedded default).
///
/// Blocking SQLite work runs on tokio's blocking pool, never on the async workers.
#[derive(Debug, Clone)]
pub struct SqliteRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    conn: Mutex<Connection>,
    artifacts: ArtifactStore,
    clock: Arc<dyn Clock>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Serde(format!("bad timestamp `{s}` in the store: {e}")))
}

impl SqliteRegistry {
    /// Open the registry in store directory `dir` (created if missing).
    pub fn open(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let conn = open_db(&dir)?;
        let artifacts = ArtifactStore::open(dir.join("artifacts"))?;
        Ok(SqliteRegistry {
            inner: Arc::new(Inner {
                dir,
                conn: Mutex::new(conn),
                artifacts,
                clock,
            }),
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Remove artifact files no version refers to (left by an interrupted registration).
    /// Returns the removed hashes.
    pub async fn gc(&self) -> Result<Vec<String>> {
        self.run(|inner| {
            let conn = inner.lock();
            let mut stmt = conn
                .prepare("SELECT DISTINCT artifact_sha256 FROM versions")
                .map_err(sql_err)?;
            let used: std::collections::HashSet<String> = stmt
                .query_map([], |r| r.get(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?;
            let mut removed = Vec::new();
            for sha in inner.artifacts.list()? {
                if !used.contains(&sha) {
                    inner.artifacts.remove(&sha)?;
                    removed.push(sha);
                }
            }
            Ok(removed)
        })
        .await
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Error::Backend {
                backend: "sqlite",
                source: Box::new(e),
            })?
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn require_model(conn: &Connection, name: &str) -> Result<()> {
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM versions WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    if n == 0 {
        return Err(Error::not_found(
            "model",
            name,
            "list models with `mlcycle models list`",
        ));
    }
    Ok(())
}

fn read_version(conn: &Connection, name: &str, version: u32) -> Result<ModelVersion> {
    require_model(conn, name)?;
    let row = conn
        .query_row(
            "SELECT created_at, status, flavor, artifact_sha256, signature, lineage, metrics, tags, description
             FROM versions WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            },
        )
        .optional()
        .map_err(sql_err)?
        .ok_or_else(|| {
            Error::not_found(
                "version",
                format!("{name}/{version}"),
                format!("list them with `mlcycle models versions {name}`"),
            )
        })?;
    let mut stmt = conn
        .prepare_cached("SELECT alias FROM aliases WHERE name = ?1 AND version = ?2 ORDER BY alias")
        .map_err(sql_err)?;
    let aliases = stmt
        .query_map(params![name, version], |r| r.get(0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sql_err)?;
    Ok(ModelVersion {
        name: name.into(),
        version,
        created_at: parse_ts(&row.0)?,
        status: row.1.parse()?,
        flavor: row.2,
        artifact_sha256: row.3,
        signature: serde_json::from_str::<Signature>(&row.4)?,
        lineage: serde_json::from_str::<Lineage>(&row.5)?,
        metrics: serde_json::from_str(&row.6)?,
        tags: serde_json::from_str(&row.7)?,
        description: row.8,
        aliases,
    })
}

fn push_event(conn: &Connection, at: DateTime<Utc>, kind: &RegistryEventKind) -> Result<()> {
    conn.execute(
        "INSERT INTO registry_events (at, event) VALUES (?1, ?2)",
        params![ts(at), serde_json::to_string(kind)?],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn version_exists(conn: &Connection, name: &str, version: u32) -> Result<()> {
    read_version(conn, name, version).map(|_| ())
}

#[async_trait]
impl Registry for SqliteRegistry {
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion> {
        validate_name(name)?;
        let name = name.to_string();
        self.run(move |inner| {
            let bytes = new.artifact.to_bytes()?;
            // The artifact is durable before the row that refers to it commits; a crash in
            // between leaves an orphan file that `gc` removes.
            let sha = inner.artifacts.put(&bytes)?;
            let at = inner.clock.now();
            let mut conn = inner.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let version: u32 = tx
                .query_row(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO versions (name, version, created_at, status, flavor, artifact_sha256,
                   signature, lineage, metrics, tags, description)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    name,
                    version,
                    ts(at),
                    VersionStatus::PendingApproval.as_str(),
                    new.artifact.flavor(),
                    sha,
                    serde_json::to_string(new.artifact.signature())?,
                    serde_json::to_string(&new.lineage)?,
                    serde_json::to_string(&new.metrics)?,
                    serde_json::to_string(&new.tags)?,
                    new.description,
                ],
            )
            .map_err(sql_err)?;
            push_event(
                &tx,
                at,
                &RegistryEventKind::VersionCreated {
                    name: name.clone(),
                    version,
                },
            )?;
            let mv = read_version(&tx, &name, version)?;
            tx.commit().map_err(sql_err)?;
            Ok(mv)
        })
        .await
    }

    async fn get_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        let name = name.to_string();
        self.run(move |inner| read_version(&inner.lock(), &name, version))
            .await
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let name = name.to_string();
        self.run(move |inner| {
            let conn = inner.lock();
            require_model(&conn, &name)?;
            let mut stmt = conn
                .prepare("SELECT version FROM versions WHERE name = ?1 ORDER BY version")
                .map_err(sql_err)?;
            let vs = stmt
                .query_map([&name], |r| r.get::<_, u32>(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<u32>>>()
                .map_err(sql_err)?;
            vs.into_iter()
                .map(|v| read_version(&conn, &name, v))
                .collect()
        })
        .await
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        self.run(|inner| {
            let conn = inner.lock();
            let mut stmt = conn
                .prepare("SELECT DISTINCT name FROM versions ORDER BY name")
                .map_err(sql_err)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(sql_err)
        })
        .await
    }

    async fn load_artifact(&self, name: &str, version: u32) -> Result<ModelArtifact> {
        let name = name.to_string();
        self.run(move |inner| {
            let sha = read_version(&inner.lock(), &name, version)?.artifact_sha256;
            let bytes = inner.artifacts.get(&sha)?;
            ModelArtifact::from_bytes(&bytes)
        })
        .await
    }

    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
        change: Change,
    ) -> Result<AliasChange> {
        validate_alias(alias)?;
        let (name, alias) = (name.to_string(), alias.to_string());
        self.run(move |inner| {
            let at = inner.clock.now();
            let mut conn = inner.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            version_exists(&tx, &name, version)?;
            let previous: Option<u32> = tx
                .query_row(
                    "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
                    params![name, alias],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO aliases (name, alias, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                params![name, alias, version],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO alias_history (name, alias, version, previous, at, actor, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    name,
                    alias,
                    version,
                    previous,
                    ts(at),
                    change.actor,
                    change.reason
                ],
            )
            .map_err(sql_err)?;
            push_event(
                &tx,
                at,
                &RegistryEventKind::AliasSet {
                    name: name.clone(),
                    alias: alias.clone(),
                    version,
                    previous,
                },
            )?;
            tx.commit().map_err(sql_err)?;
            Ok(AliasChange {
                name,
                alias,
                version: Some(version),
                previous,
                at,
                change,
            })
        })
        .await
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.run(move |inner| {
            let at = inner.clock.now();
            let mut conn = inner.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            require_model(&tx, &name)?;
            let previous: u32 = tx
                .query_row(
                    "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
                    params![name, alias],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?
                .ok_or_else(|| Error::not_found("alias", format!("{name}@{alias}"), ""))?;
            tx.execute(
                "DELETE FROM aliases WHERE name = ?1 AND alias = ?2",
                params![name, alias],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO alias_history (name, alias, version, previous, at, actor, reason)
                 VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6)",
                params![name, alias, previous, ts(at), change.actor, change.reason],
            )
            .map_err(sql_err)?;
            push_event(
                &tx,
                at,
                &RegistryEventKind::AliasDeleted {
                    name: name.clone(),
                    alias: alias.clone(),
                    previous,
                },
            )?;
            tx.commit().map_err(sql_err)?;
            Ok(AliasChange {
                name,
                alias,
                version: None,
                previous: Some(previous),
                at,
                change,
            })
        })
        .await
    }

    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.run(move |inner| {
            let conn = inner.lock();
            require_model(&conn, &name)?;
            conn.query_row(
                "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
                params![name, alias],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)
        })
        .await
    }

    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>> {
        let (name, alias) = (name.to_string(), alias.map(str::to_string));
        self.run(move |inner| {
            let conn = inner.lock();
            require_model(&conn, &name)?;
            let mut stmt = conn
                .prepare(
                    "SELECT alias, version, previous, at, actor, reason FROM alias_history
                     WHERE name = ?1 AND (?2 IS NULL OR alias = ?2) ORDER BY id",
                )
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![name, alias], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<u32>>(1)?,
                        r.get::<_, Option<u32>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(alias, version, previous, at, actor, reason)| {
                    Ok(AliasChange {
                        name: name.clone(),
                        alias,
                        version,
                        previous,
                        at: parse_ts(&at)?,
                        change: Change { actor, reason },
                    })
                })
                .collect()
        })
        .await
    }

    async fn set_status(
        &self,
        name: &str,
        version: u32,
        status: VersionStatus,
        change: Change,
    ) -> Result<StatusChange> {
        let name = name.to_string();
        self.run(move |inner| {
            let at = inner.clock.now();
            let mut conn = inner.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            version_exists(&tx, &name, version)?;
            tx.execute(
                "UPDATE versions SET status = ?3 WHERE name = ?1 AND version = ?2",
                params![name, version, status.as_str()],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO status_history (name, version, status, at, actor, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    name,
                    version,
                    status.as_str(),
                    ts(at),
                    change.actor,
                    change.reason
                ],
            )
            .map_err(sql_err)?;
            push_event(
                &tx,
                at,
                &RegistryEventKind::StatusChanged {
                    name: name.clone(),
                    version,
                    status,
                },
            )?;
            tx.commit().map_err(sql_err)?;
            Ok(StatusChange {
                name,
                version,
                status,
                at,
                change,
            })
        })
        .await
    }

    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid("tag key", "it is empty"));
        }
        let (name, key, value) = (name.to_string(), key.to_string(), value.to_string());
        self.run(move |inner| {
            let at = inner.clock.now();
            let mut conn = inner.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let mut mv = read_version(&tx, &name, version)?;
            mv.tags.insert(key.clone(), value.clone());
            tx.execute(
                "UPDATE versions SET tags = ?3 WHERE name = ?1 AND version = ?2",
                params![name, version, serde_json::to_string(&mv.tags)?],
            )
            .map_err(sql_err)?;
            push_event(
                &tx,
                at,
                &RegistryEventKind::TagSet {
                    name,
                    version,
                    key,
                    value,
                },
            )?;
            tx.commit().map_err(sql_err)
        })
        .await
    }

    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>> {
        self.run(move |inner| {
            let conn = inner.lock();
            let mut stmt = conn
                .prepare("SELECT seq, at, event FROM registry_events WHERE seq > ?1 ORDER BY seq")
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([cursor as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(seq, at, ev)| {
                    Ok(RegistryEvent {
                        seq: seq as u64,
                        at: parse_ts(&at)?,
                        kind: serde_json::from_str(&ev)?,
                    })
                })
                .collect()
        })
        .await
    }
}
