//! The embedded default registry: one directory with a SQLite database (WAL mode,
//! versioned migrations) and content-addressed artifact files.
//!
//! Concurrency: every change runs on one writer thread per handle, which commits the
//! changes queued while the previous commit was being made in one transaction (group
//! commit; each change in its own savepoint, so one failing change does not affect the
//! others). Across processes, `BEGIN IMMEDIATE` serialises writers; version numbers come
//! from a per-model counter updated in the same transaction, so they never collide and are
//! never reused. Reads use their own connection on tokio's blocking pool; alias and version
//! reads are cached and the cache is dropped whenever `PRAGMA data_version` says another
//! connection (in this process or another) has committed.
//!
//! Crash safety: an artifact file is durable (temporary file, fsync, rename, directory
//! fsync) before the transaction that refers to it commits, and the transaction holds the
//! version row, its status-history entry and its event together. A process killed at any
//! point leaves the complete version or none of it, plus at most an orphan artifact file
//! that [`SqliteRegistry::gc`] removes.

use super::artifacts::ArtifactStore;
use super::audit_records;
use super::events::LIVE_CHANNEL_CAPACITY;
use super::types::{validate_alias, validate_name};
use super::{
    AliasChange, Change, Lineage, ModelVersion, NewVersion, Registry, RegistryEvent,
    RegistryEventKind, StatusChange, VersionStatus,
};
use crate::audit::{AuditEntry, AuditLog, CheckpointPolicy, SqliteAuditLog, append_in_transaction};
use crate::clock::Clock;
use crate::model::{ModelArtifact, Signature};
use crate::store::sqlite::{backend_msg, connect, connect_read_only, open_db, sql_err};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

/// The database file name inside a store directory.
pub use crate::store::sqlite::DB_FILE;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The clock's time at the store's resolution (microseconds), so what a call returns equals
/// what a later read returns.
fn now(clock: &dyn Clock) -> DateTime<Utc> {
    clock.now().trunc_subsecs(6)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Serde(format!("bad timestamp `{s}` in the store: {e}")))
}

// ---------------------------------------------------------------------------------------
// The writer thread (group commit)

/// How a registry that records its own changes appends them.
#[derive(Debug, Clone)]
struct AuditConfig {
    checkpoints: Option<CheckpointPolicy>,
}

/// What a change sees while it runs: the connection (inside the batch's transaction), the
/// events it appends, and where its audit records go.
struct WriteCtx<'a> {
    conn: &'a Connection,
    events: Vec<RegistryEvent>,
    audit: Option<&'a AuditConfig>,
    /// The trace the change belongs to (set by the change's closure; see `write`).
    trace: String,
}

impl WriteCtx<'_> {
    /// Append the change's audit record in the change's transaction (when the registry
    /// records its changes): the record commits or rolls back with the change.
    fn audit(&self, at: DateTime<Utc>, entry: impl FnOnce(String) -> AuditEntry) -> Result<()> {
        if let Some(cfg) = self.audit {
            append_in_transaction(
                self.conn,
                at,
                entry(self.trace.clone()),
                cfg.checkpoints.as_ref(),
            )?;
        }
        Ok(())
    }

    fn push_event(&mut self, at: DateTime<Utc>, kind: RegistryEventKind) -> Result<()> {
        let json = serde_json::to_string(&kind)?;
        self.conn
            .prepare_cached("INSERT INTO registry_events (at, event) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![ts(at), json]))
            .map_err(sql_err)?;
        let seq = self.conn.last_insert_rowid() as u64;
        self.events.push(RegistryEvent { seq, at, kind });
        Ok(())
    }
}

trait Job: Send {
    /// Run the change; `true` if it succeeded (and must be committed).
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// Report the outcome: `commit` is the batch's commit result.
    fn finish(self: Box<Self>, commit: std::result::Result<(), String>);
}

struct TypedJob<T, F> {
    f: Option<F>,
    out: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool {
        let r = match self.f.take() {
            Some(f) => f(ctx),
            None => Err(backend_msg("a change ran twice")),
        };
        let ok = r.is_ok();
        self.out = Some(r);
        ok
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), String>) {
        let out = match (commit, self.out) {
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(why), Some(Ok(_))) => Err(backend_msg(format!("commit failed: {why}"))),
            (_, None) => Err(backend_msg("the change did not run")),
        };
        // The caller may have gone away; the change is committed regardless.
        let _ = self.reply.send(out);
    }
}

/// Changes committed together at most.
const MAX_BATCH: usize = 512;

fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Box<dyn Job>>,
    live: broadcast::Sender<RegistryEvent>,
    audit: Option<AuditConfig>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch, &live, audit.as_ref());
    }
}

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Box<dyn Job>>,
    live: &broadcast::Sender<RegistryEvent>,
    audit: Option<&AuditConfig>,
) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let why = e.to_string();
        for j in batch {
            j.finish(Err(why.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    for mut job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT change") {
            job.finish(Err(e.to_string()));
            continue;
        }
        let mut ctx = WriteCtx {
            conn,
            events: Vec::new(),
            audit,
            trace: String::new(),
        };
        if job.run(&mut ctx) {
            events.append(&mut ctx.events);
            let _ = conn.execute_batch("RELEASE change");
            done.push(job);
        } else {
            let _ = conn.execute_batch("ROLLBACK TO change; RELEASE change");
            job.finish(Ok(()));
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for e in events {
                // No receiver is not an error.
                let _ = live.send(e);
            }
            for j in done {
                j.finish(Ok(()));
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let why = e.to_string();
            for j in done {
                j.finish(Err(why.clone()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The resolution cache

/// Entries kept at most before the cache is emptied.
const CACHE_LIMIT: usize = 100_000;

#[derive(Debug, Default)]
struct Cache {
    /// `PRAGMA data_version` of the check connection when the entries were valid.
    data_version: Option<i64>,
    aliases: HashMap<String, HashMap<String, Option<u32>>>,
    by_alias: HashMap<String, HashMap<String, ModelVersion>>,
    versions: HashMap<String, HashMap<u32, ModelVersion>>,
    lists: HashMap<String, Vec<ModelVersion>>,
    entries: usize,
}

impl Cache {
    /// Drop everything if the database changed since the entries were read.
    fn sync(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) || self.entries > CACHE_LIMIT {
            self.aliases.clear();
            self.by_alias.clear();
            self.versions.clear();
            self.lists.clear();
            self.entries = 0;
            self.data_version = Some(data_version);
        }
    }

    /// Whether a value read after seeing `data_version` may be stored.
    fn accepts(&mut self, data_version: i64) -> bool {
        self.data_version == Some(data_version)
    }
}

// ---------------------------------------------------------------------------------------
// The registry

/// The SQLite-backed registry (the embedded default).
///
/// Blocking SQLite work runs on tokio's blocking pool or on the handle's writer thread,
/// never on the async workers. Cloning gives another handle sharing the connections.
#[derive(Debug, Clone)]
pub struct SqliteRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    read: Mutex<Connection>,
    check: Mutex<Connection>,
    writer: mpsc::Sender<Box<dyn Job>>,
    artifacts: ArtifactStore,
    clock: Arc<dyn Clock>,
    live: broadcast::Sender<RegistryEvent>,
    cache: Mutex<Cache>,
    /// The audit log the registry records its changes in, if it does.
    audit: Option<Arc<SqliteAuditLog>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Temporary files older than this are left by a killed process; `gc` removes them.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

impl SqliteRegistry {
    /// Open the registry in store directory `dir` (created if missing), upgrading an older
    /// store's schema in place.
    pub fn open(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::open_inner(dir.as_ref(), clock, None)
    }

    /// Open the registry in `dir` as [`open`](Self::open) does, recording every change in
    /// the store's audit trail (the [`SqliteAuditLog`] of the same directory) in the same
    /// transaction as the change: a change and its record commit together or not at all.
    /// `checkpoints` signs a checkpoint with every N-th record, as
    /// [`SqliteAuditLog::with_checkpoints`] does; use the same policy for every handle on
    /// the store. [`Registry::audit_log`] returns the log.
    ///
    /// Records carry the trace of the enclosing [`crate::audit::in_trace`] (a fresh one
    /// outside any); their shapes are those of [`super::audit_records`].
    pub fn open_audited(
        dir: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        checkpoints: Option<CheckpointPolicy>,
    ) -> Result<Self> {
        Self::open_inner(dir.as_ref(), clock, Some(AuditConfig { checkpoints }))
    }

    /// Open the registry of the existing store in `dir` for reading only: every connection
    /// is opened in SQLite's read-only mode, no migration is applied and no directory is
    /// created, so nothing this handle does can change the store; a change method
    /// (`register`, `set_alias`, ...) fails with the database's read-only error. Safe while
    /// other processes write to the store. The store must have this mlcycle's schema (see
    /// [`SqliteRegistry::open`] to upgrade an older one).
    pub fn open_read_only(dir: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::open_inner_mode(dir.as_ref(), clock, None, true)
    }

    fn open_inner(dir: &Path, clock: Arc<dyn Clock>, audit: Option<AuditConfig>) -> Result<Self> {
        Self::open_inner_mode(dir, clock, audit, false)
    }

    fn open_inner_mode(
        dir: &Path,
        clock: Arc<dyn Clock>,
        audit: Option<AuditConfig>,
        read_only: bool,
    ) -> Result<Self> {
        let dir = dir.to_path_buf();
        let path = dir.join(DB_FILE);
        let (write, read, check, artifacts) = if read_only {
            (
                connect_read_only(&dir)?,
                connect_read_only(&dir)?,
                connect_read_only(&dir)?,
                ArtifactStore::at(dir.join("artifacts")),
            )
        } else {
            let write = open_db(&dir)?;
            (
                write,
                connect(&path)?,
                connect(&path)?,
                ArtifactStore::open(dir.join("artifacts"))?,
            )
        };
        let live = broadcast::channel(LIVE_CHANNEL_CAPACITY).0;
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let live_w = live.clone();
        let log = match &audit {
            Some(cfg) => {
                let log = SqliteAuditLog::open(&dir, clock.clone())?;
                Some(Arc::new(match &cfg.checkpoints {
                    Some(p) => log.with_checkpoints(p.clone()),
                    None => log,
                }))
            }
            None => None,
        };
        std::thread::Builder::new()
            .name("mlcycle-registry-writer".into())
            .spawn(move || writer_loop(write, rx, live_w, audit))
            .map_err(|e| Error::io(&dir, e))?;
        Ok(SqliteRegistry {
            inner: Arc::new(Inner {
                dir,
                read: Mutex::new(read),
                check: Mutex::new(check),
                writer: tx,
                artifacts,
                clock,
                live,
                cache: Mutex::new(Cache::default()),
                audit: log,
            }),
        })
    }

    /// Whether `dir` holds a store (its database file exists).
    pub fn is_store(dir: impl AsRef<Path>) -> bool {
        dir.as_ref().join(DB_FILE).is_file()
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Remove artifact files no version refers to (left by an interrupted registration or
    /// by deleted versions) and temporary files older than an hour (left by a killed
    /// process). Returns the removed artifact hashes. Safe while other handles and processes
    /// use the store: it runs under the database's write lock, and a registration re-checks
    /// its artifact under the same lock.
    pub async fn gc(&self) -> Result<Vec<String>> {
        let artifacts = self.inner.artifacts.clone();
        self.write(move |ctx| {
            let mut stmt = ctx
                .conn
                .prepare("SELECT DISTINCT artifact_sha256 FROM versions")
                .map_err(sql_err)?;
            let used: std::collections::HashSet<String> = stmt
                .query_map([], |r| r.get(0))
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?;
            let mut removed = Vec::new();
            for sha in artifacts.list()? {
                if !used.contains(&sha) {
                    artifacts.remove(&sha)?;
                    removed.push(sha);
                }
            }
            artifacts.remove_stale_temp_files(STALE_TEMP_AGE)?;
            Ok(removed)
        })
        .await
    }

    /// Subscribe to events after `cursor` with a handle that can move into a spawned task.
    pub fn subscribe_owned(&self, cursor: u64) -> super::EventSubscription<Arc<Self>> {
        super::EventSubscription::new(Arc::new(self.clone()), cursor)
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&lock(&inner.read)))
            .await
            .map_err(|e| Error::task("registry read", e))?
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        // The trace is read here, in the caller's task, not on the writer thread.
        let trace = match self.inner.audit {
            Some(_) => crate::audit::trace_or_new(),
            None => String::new(),
        };
        let f = move |ctx: &mut WriteCtx<'_>| {
            ctx.trace = trace;
            f(ctx)
        };
        let job: Box<dyn Job> = Box::new(TypedJob {
            f: Some(f),
            out: None,
            reply,
        });
        self.inner
            .writer
            .send(job)
            .map_err(|_| backend_msg("the registry's writer thread has stopped"))?;
        rx.await
            .map_err(|_| backend_msg("the registry's writer thread has stopped"))?
    }

    /// The check connection's `PRAGMA data_version` (changes whenever any other connection
    /// commits). A microsecond-scale read of shared memory; `None` if it failed.
    fn data_version(&self) -> Option<i64> {
        let conn = lock(&self.inner.check);
        conn.prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .ok()
    }

    /// Look up a cached value, or read it and cache it.
    async fn cached<T, L, S, R>(&self, lookup: L, store: S, read: R) -> Result<T>
    where
        T: Clone + Send + 'static,
        L: FnOnce(&Cache) -> Option<T>,
        S: FnOnce(&mut Cache, T),
        R: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let Some(dv) = self.data_version() else {
            return self.run(read).await;
        };
        {
            let mut cache = lock(&self.inner.cache);
            cache.sync(dv);
            if let Some(v) = lookup(&cache) {
                return Ok(v);
            }
        }
        let v = self.run(read).await?;
        let mut cache = lock(&self.inner.cache);
        if cache.accepts(dv) {
            cache.entries += 1;
            store(&mut cache, v.clone());
        }
        Ok(v)
    }
}

fn require_model(conn: &Connection, name: &str) -> Result<()> {
    let found = conn
        .prepare_cached("SELECT 1 FROM models WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |_| Ok(())).optional())
        .map_err(sql_err)?;
    match found {
        Some(()) => Ok(()),
        None => Err(Error::not_found(
            "model",
            name,
            "list models with `mlcycle models list`",
        )),
    }
}

fn read_owner(conn: &Connection, name: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT owner FROM model_owners WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
        .map_err(sql_err)
}

const VERSION_COLUMNS: &str = "version, created_at, status, flavor, artifact_sha256, signature, \
                               lineage, metrics, tags, description";

type VersionRow = (
    u32,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn decode_version(name: &str, row: VersionRow, aliases: Vec<String>) -> Result<ModelVersion> {
    Ok(ModelVersion {
        name: name.into(),
        version: row.0,
        created_at: parse_ts(&row.1)?,
        status: row.2.parse()?,
        flavor: row.3,
        artifact_sha256: row.4,
        signature: serde_json::from_str::<Signature>(&row.5)?,
        lineage: serde_json::from_str::<Lineage>(&row.6)?,
        metrics: serde_json::from_str(&row.7)?,
        tags: serde_json::from_str(&row.8)?,
        description: row.9,
        aliases,
    })
}

/// Versions of `name` (one, or all), oldest first, with their aliases.
fn read_versions(conn: &Connection, name: &str, only: Option<u32>) -> Result<Vec<ModelVersion>> {
    require_model(conn, name)?;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions
             WHERE name = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version"
        ))
        .and_then(|mut st| {
            st.query_map(params![name, only], version_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_err)?;
    let mut aliases: HashMap<u32, Vec<String>> = HashMap::new();
    conn.prepare_cached(
        "SELECT version, alias FROM aliases
         WHERE name = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY alias",
    )
    .and_then(|mut st| {
        for r in st.query_map(params![name, only], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
        })? {
            let (v, a) = r?;
            aliases.entry(v).or_default().push(a);
        }
        Ok(())
    })
    .map_err(sql_err)?;
    rows.into_iter()
        .map(|row| {
            let a = aliases.remove(&row.0).unwrap_or_default();
            decode_version(name, row, a)
        })
        .collect()
}

fn read_version(conn: &Connection, name: &str, version: u32) -> Result<ModelVersion> {
    read_versions(conn, name, Some(version))?
        .pop()
        .ok_or_else(|| {
            Error::not_found(
                "version",
                format!("{name}/{version}"),
                format!("list them with `mlcycle models versions {name}`"),
            )
        })
}

fn read_alias(conn: &Connection, name: &str, alias: &str) -> Result<Option<u32>> {
    conn.prepare_cached("SELECT version FROM aliases WHERE name = ?1 AND alias = ?2")
        .and_then(|mut st| st.query_row(params![name, alias], |r| r.get(0)).optional())
        .map_err(sql_err)
}

fn record_alias_change(ctx: &mut WriteCtx<'_>, c: &AliasChange) -> Result<()> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO alias_history (name, alias, version, previous, at, actor, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut st| {
            st.execute(params![
                c.name,
                c.alias,
                c.version,
                c.previous,
                ts(c.at),
                c.change.actor,
                c.change.reason
            ])
        })
        .map_err(sql_err)?;
    let kind = match (c.version, c.previous) {
        (Some(version), previous) => RegistryEventKind::AliasSet {
            name: c.name.clone(),
            alias: c.alias.clone(),
            version,
            previous,
        },
        (None, Some(previous)) => RegistryEventKind::AliasDeleted {
            name: c.name.clone(),
            alias: c.alias.clone(),
            previous,
        },
        (None, None) => return Ok(()),
    };
    ctx.push_event(c.at, kind)?;
    ctx.audit(c.at, |t| audit_records::alias_changed(c, t))
}

fn record_status_change(conn: &Connection, c: &StatusChange) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO status_history (name, version, status, at, actor, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            c.name,
            c.version,
            c.status.as_str(),
            ts(c.at),
            c.change.actor,
            c.change.reason
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

#[async_trait]
impl Registry for SqliteRegistry {
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion> {
        validate_name(name)?;
        for (k, v) in &new.tags {
            super::types::validate_tag(k, v)?;
        }
        let name = name.to_string();
        // The artifact is made durable first, concurrently with other registrations (their
        // fsyncs overlap); a crash before the row commits leaves an orphan file for `gc`.
        let artifacts = self.inner.artifacts.clone();
        let (bytes, new, sha) = tokio::task::spawn_blocking(move || {
            let bytes = new.artifact.to_bytes()?;
            let sha = artifacts.put(&bytes)?;
            Ok::<_, Error>((bytes, new, sha))
        })
        .await
        .map_err(|e| Error::task("artifact write", e))??;
        let (artifacts, clock) = (self.inner.artifacts.clone(), self.inner.clock.clone());
        self.write(move |ctx| {
            // Under the write lock: `gc` (here or in another process) cannot remove the file
            // between this check and the commit.
            if !artifacts.contains(&sha) {
                artifacts.put(&bytes)?;
            }
            let at = now(&*clock);
            let version: u32 = ctx
                .conn
                .prepare_cached(
                    "INSERT INTO models (name, last_version, created_at) VALUES (?1, 1, ?2)
                     ON CONFLICT (name) DO UPDATE SET last_version = last_version + 1
                     RETURNING last_version",
                )
                .and_then(|mut st| st.query_row(params![name, ts(at)], |r| r.get(0)))
                .map_err(sql_err)?;
            let mv = ModelVersion {
                name: name.clone(),
                version,
                created_at: at,
                status: VersionStatus::PendingApproval,
                flavor: new.artifact.flavor().to_string(),
                artifact_sha256: sha,
                signature: new.artifact.signature().clone(),
                lineage: new.lineage,
                metrics: new.metrics,
                tags: new.tags,
                description: new.description,
                aliases: vec![],
            };
            let (signature, lineage, metrics, tags) = (
                serde_json::to_string(&mv.signature)?,
                serde_json::to_string(&mv.lineage)?,
                serde_json::to_string(&mv.metrics)?,
                serde_json::to_string(&mv.tags)?,
            );
            ctx.conn
                .prepare_cached(
                    "INSERT INTO versions (name, version, created_at, status, flavor,
                       artifact_sha256, signature, lineage, metrics, tags, description)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        mv.name,
                        mv.version,
                        ts(at),
                        mv.status.as_str(),
                        mv.flavor,
                        mv.artifact_sha256,
                        signature,
                        lineage,
                        metrics,
                        tags,
                        mv.description,
                    ])
                })
                .map_err(sql_err)?;
            record_status_change(
                ctx.conn,
                &StatusChange {
                    name: name.clone(),
                    version,
                    status: VersionStatus::PendingApproval,
                    at,
                    change: Change::new(mv.lineage.created_by.clone(), "registered"),
                },
            )?;
            ctx.push_event(
                at,
                RegistryEventKind::VersionCreated {
                    name: name.clone(),
                    version,
                },
            )?;
            ctx.audit(at, |t| audit_records::version_registered(&mv, t))?;
            Ok(mv)
        })
        .await
    }

    async fn get_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        let owned = name.to_string();
        self.cached(
            |c| c.versions.get(name).and_then(|m| m.get(&version)).cloned(),
            |c, v| {
                c.versions
                    .entry(name.to_string())
                    .or_default()
                    .insert(version, v);
            },
            move |conn| read_version(conn, &owned, version),
        )
        .await
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let owned = name.to_string();
        self.cached(
            |c| c.lists.get(name).cloned(),
            |c, v| {
                c.lists.insert(name.to_string(), v);
            },
            move |conn| read_versions(conn, &owned, None),
        )
        .await
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        self.run(|conn| {
            conn.prepare_cached("SELECT name FROM models ORDER BY name")
                .and_then(|mut st| {
                    st.query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()
                })
                .map_err(sql_err)
        })
        .await
    }

    async fn load_artifact(&self, name: &str, version: u32) -> Result<ModelArtifact> {
        let sha = self.get_version(name, version).await?.artifact_sha256;
        let artifacts = self.inner.artifacts.clone();
        tokio::task::spawn_blocking(move || ModelArtifact::from_bytes(&artifacts.get(&sha)?))
            .await
            .map_err(|e| Error::task("artifact read", e))?
    }

    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
        change: Change,
    ) -> Result<AliasChange> {
        validate_alias(alias)?;
        let (name, alias, clock) = (
            name.to_string(),
            alias.to_string(),
            self.inner.clock.clone(),
        );
        self.write(move |ctx| {
            read_version(ctx.conn, &name, version)?;
            let previous = read_alias(ctx.conn, &name, &alias)?;
            ctx.conn
                .prepare_cached(
                    "INSERT INTO aliases (name, alias, version) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                )
                .and_then(|mut st| st.execute(params![name, alias, version]))
                .map_err(sql_err)?;
            let c = AliasChange {
                name,
                alias,
                version: Some(version),
                previous,
                at: now(&*clock),
                change,
            };
            record_alias_change(ctx, &c)?;
            Ok(c)
        })
        .await
    }

    async fn set_owner(&self, name: &str, owner: Option<&str>, change: Change) -> Result<()> {
        let (name, owner, clock) = (
            name.to_string(),
            owner.map(str::to_string),
            self.inner.clock.clone(),
        );
        self.write(move |ctx| {
            require_model(ctx.conn, &name)?;
            let previous = read_owner(ctx.conn, &name)?;
            match &owner {
                Some(o) => ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO model_owners (name, owner) VALUES (?1, ?2)
                         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner",
                    )
                    .and_then(|mut st| st.execute(params![name, o])),
                None => ctx
                    .conn
                    .prepare_cached("DELETE FROM model_owners WHERE name = ?1")
                    .and_then(|mut st| st.execute(params![name])),
            }
            .map_err(sql_err)?;
            let at = now(&*clock);
            ctx.audit(at, |t| {
                audit_records::owner_set(&name, owner.as_deref(), previous, &change, t)
            })
        })
        .await
    }

    async fn get_owner(&self, name: &str) -> Result<Option<String>> {
        let name = name.to_string();
        self.run(move |conn| {
            require_model(conn, &name)?;
            read_owner(conn, &name)
        })
        .await
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange> {
        let (name, alias, clock) = (
            name.to_string(),
            alias.to_string(),
            self.inner.clock.clone(),
        );
        self.write(move |ctx| {
            require_model(ctx.conn, &name)?;
            let previous = read_alias(ctx.conn, &name, &alias)?.ok_or_else(|| {
                Error::not_found(
                    "alias",
                    format!("{name}@{alias}"),
                    format!("see `mlcycle models alias history {name}`"),
                )
            })?;
            ctx.conn
                .execute(
                    "DELETE FROM aliases WHERE name = ?1 AND alias = ?2",
                    params![name, alias],
                )
                .map_err(sql_err)?;
            let c = AliasChange {
                name,
                alias,
                version: None,
                previous: Some(previous),
                at: now(&*clock),
                change,
            };
            record_alias_change(ctx, &c)?;
            Ok(c)
        })
        .await
    }

    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        let (n, a) = (name.to_string(), alias.to_string());
        self.cached(
            |c| c.aliases.get(name).and_then(|m| m.get(alias)).copied(),
            |c, v| {
                c.aliases
                    .entry(name.to_string())
                    .or_default()
                    .insert(alias.to_string(), v);
            },
            move |conn| {
                require_model(conn, &n)?;
                read_alias(conn, &n, &a)
            },
        )
        .await
    }

    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let (n, a) = (name.to_string(), alias.to_string());
        self.cached(
            |c| c.by_alias.get(name).and_then(|m| m.get(alias)).cloned(),
            |c, v| {
                c.by_alias
                    .entry(name.to_string())
                    .or_default()
                    .insert(alias.to_string(), v);
            },
            move |conn| {
                require_model(conn, &n)?;
                match read_alias(conn, &n, &a)? {
                    Some(v) => read_version(conn, &n, v),
                    None => Err(Error::not_found(
                        "alias",
                        format!("{n}@{a}"),
                        format!(
                            "point it at a version with `mlcycle models alias set {n} {a} VERSION`, or use NAME/VERSION"
                        ),
                    )),
                }
            },
        )
        .await
    }

    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>> {
        let (name, alias) = (name.to_string(), alias.map(str::to_string));
        self.run(move |conn| {
            require_model(conn, &name)?;
            let rows = conn
                .prepare_cached(
                    "SELECT alias, version, previous, at, actor, reason FROM alias_history
                     WHERE name = ?1 AND (?2 IS NULL OR alias = ?2) ORDER BY id",
                )
                .and_then(|mut st| {
                    st.query_map(params![name, alias], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, Option<u32>>(1)?,
                            r.get::<_, Option<u32>>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
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
        let (name, clock) = (name.to_string(), self.inner.clock.clone());
        self.write(move |ctx| {
            read_version(ctx.conn, &name, version)?;
            ctx.conn
                .execute(
                    "UPDATE versions SET status = ?3 WHERE name = ?1 AND version = ?2",
                    params![name, version, status.as_str()],
                )
                .map_err(sql_err)?;
            let c = StatusChange {
                name: name.clone(),
                version,
                status,
                at: now(&*clock),
                change,
            };
            record_status_change(ctx.conn, &c)?;
            ctx.push_event(
                c.at,
                RegistryEventKind::StatusChanged {
                    name,
                    version,
                    status,
                },
            )?;
            ctx.audit(c.at, |t| audit_records::status_changed(&c, t))?;
            Ok(c)
        })
        .await
    }

    async fn status_history(&self, name: &str, version: Option<u32>) -> Result<Vec<StatusChange>> {
        let name = name.to_string();
        self.run(move |conn| {
            require_model(conn, &name)?;
            let rows = conn
                .prepare_cached(
                    "SELECT version, status, at, actor, reason FROM status_history
                     WHERE name = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY id",
                )
                .and_then(|mut st| {
                    st.query_map(params![name, version], |r| {
                        Ok((
                            r.get::<_, u32>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(version, status, at, actor, reason)| {
                    Ok(StatusChange {
                        name: name.clone(),
                        version,
                        status: status.parse()?,
                        at: parse_ts(&at)?,
                        change: Change { actor, reason },
                    })
                })
                .collect()
        })
        .await
    }

    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()> {
        super::types::validate_tag(key, value)?;
        let (name, key, value) = (name.to_string(), key.to_string(), value.to_string());
        let clock = self.inner.clock.clone();
        self.write(move |ctx| {
            // Read-modify-write inside the write transaction: no lost update.
            let mut mv = read_version(ctx.conn, &name, version)?;
            mv.tags.insert(key.clone(), value.clone());
            ctx.conn
                .execute(
                    "UPDATE versions SET tags = ?3 WHERE name = ?1 AND version = ?2",
                    params![name, version, serde_json::to_string(&mv.tags)?],
                )
                .map_err(sql_err)?;
            ctx.push_event(
                now(&*clock),
                RegistryEventKind::TagSet {
                    name,
                    version,
                    key,
                    value,
                },
            )
        })
        .await
    }

    async fn set_description(&self, name: &str, version: u32, description: &str) -> Result<()> {
        let (name, description) = (name.to_string(), description.to_string());
        let clock = self.inner.clock.clone();
        self.write(move |ctx| {
            read_version(ctx.conn, &name, version)?;
            ctx.conn
                .execute(
                    "UPDATE versions SET description = ?3 WHERE name = ?1 AND version = ?2",
                    params![name, version, description],
                )
                .map_err(sql_err)?;
            ctx.push_event(
                now(&*clock),
                RegistryEventKind::DescriptionSet { name, version },
            )
        })
        .await
    }

    async fn delete_version(
        &self,
        name: &str,
        version: u32,
        force: bool,
        change: Change,
    ) -> Result<ModelVersion> {
        let (name, clock) = (name.to_string(), self.inner.clock.clone());
        self.write(move |ctx| {
            let mv = read_version(ctx.conn, &name, version)?;
            if !mv.aliases.is_empty() && !force {
                return Err(Error::Conflict(format!(
                    "{name}/{version} is the target of alias(es) {}; move or delete them first, \
                     or force the deletion",
                    mv.aliases.join(", ")
                )));
            }
            let at = now(&*clock);
            for alias in &mv.aliases {
                ctx.conn
                    .execute(
                        "DELETE FROM aliases WHERE name = ?1 AND alias = ?2",
                        params![name, alias],
                    )
                    .map_err(sql_err)?;
                record_alias_change(
                    ctx,
                    &AliasChange {
                        name: name.clone(),
                        alias: alias.clone(),
                        version: None,
                        previous: Some(version),
                        at,
                        change: change.clone(),
                    },
                )?;
            }
            ctx.conn
                .execute(
                    "DELETE FROM versions WHERE name = ?1 AND version = ?2",
                    params![name, version],
                )
                .map_err(sql_err)?;
            ctx.push_event(
                at,
                RegistryEventKind::VersionDeleted {
                    name: name.clone(),
                    version,
                },
            )?;
            ctx.audit(at, |t| {
                audit_records::version_deleted(&mv, force, &change, t)
            })?;
            Ok(mv)
        })
        .await
    }

    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>> {
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT seq, at, event FROM registry_events WHERE seq > ?1 ORDER BY seq",
                )
                .and_then(|mut st| {
                    st.query_map([cursor], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
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

    fn live_events(&self) -> Option<broadcast::Receiver<RegistryEvent>> {
        Some(self.inner.live.subscribe())
    }

    fn audit_log(&self) -> Option<Arc<dyn AuditLog>> {
        self.inner.audit.clone().map(|l| l as Arc<dyn AuditLog>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::sqlite::{MIGRATIONS, open_db_upto};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
        super::super::registry_conformance(&r).await;
        // Everything it wrote is still there after reopening.
        drop(r);
        let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
        assert_eq!(r.list_versions("churn").await.unwrap().len(), 28);
        assert!(
            r.gc().await.unwrap().len() >= 2,
            "deleted versions' artifacts are collected"
        );
        for v in r.list_versions("churn").await.unwrap() {
            r.load_artifact("churn", v.version).await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upgrades_a_store_written_before_the_models_table() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A store at schema version 2, with the rows that version wrote.
            let conn = open_db_upto(dir.path(), 2).unwrap();
            let v: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(v, 2);
            let sig = r#"{"inputs":{"features":[],"target":null},"target":{"name":"y","kind":{"kind":"binary","classes":["0","1"]}}}"#;
            for version in 1..=2 {
                conn.execute(
                    "INSERT INTO versions VALUES ('old', ?1, ?2, 'approved', 'logistic',
                       'abc', ?3, '{\"training_datasets\":[],\"validation_dataset\":null,
                       \"parent_version\":null,\"code_version\":null,\"trainer\":\"t\",
                       \"params\":null,\"created_by\":\"alice\"}', '{}', '{}', '')",
                    params![version, format!("2026-01-0{version}T00:00:00.000000Z"), sig],
                )
                .unwrap();
            }
            conn.execute("INSERT INTO aliases VALUES ('old', 'production', 2)", [])
                .unwrap();
            conn.execute(
                "INSERT INTO registry_events (at, event) VALUES ('2026-01-01T00:00:00.000000Z',
                   '{\"type\":\"version_created\",\"name\":\"old\",\"version\":1}')",
                [],
            )
            .unwrap();
        }
        let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
        let user_version: i64 = lock(&r.inner.read)
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(user_version as usize, MIGRATIONS.len());
        assert_eq!(r.list_models().await.unwrap(), vec!["old".to_string()]);
        let history = r.status_history("old", None).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].change, Change::new("alice", "registered"));
        assert_eq!(history[0].status, VersionStatus::PendingApproval);
        assert_eq!(r.get_alias("old", "production").await.unwrap(), Some(2));
        assert_eq!(r.events_since(0).await.unwrap().len(), 1);
        // Numbering continues after the old versions; events continue after the old ones.
        let mv = r.register("old", version_for_tests()).await.unwrap();
        assert_eq!(mv.version, 3);
        assert_eq!(r.events_since(1).await.unwrap()[0].seq, 2);
        // Opening again applies nothing twice.
        drop(r);
        let r = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
        assert_eq!(r.status_history("old", None).await.unwrap().len(), 3);
    }

    fn version_for_tests() -> NewVersion {
        NewVersion {
            artifact: super::super::conformance::small_artifact(),
            lineage: Lineage::default(),
            metrics: Default::default(),
            tags: Default::default(),
            description: String::new(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_whose_audit_record_cannot_be_appended_is_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let r = SqliteRegistry::open_audited(dir.path(), Arc::new(SystemClock), None).unwrap();
        for _ in 0..2 {
            r.register("m", version_for_tests()).await.unwrap();
        }
        r.set_alias("m", "production", 1, Change::new("ann", "first"))
            .await
            .unwrap();
        let log = r.audit_log().unwrap();
        assert_eq!(log.verify().await.unwrap(), 3);
        let events = r.events_since(0).await.unwrap().len();

        // A stray row where the next record must go: every append now fails.
        let raw = connect(&dir.path().join(DB_FILE)).unwrap();
        raw.execute(
            "INSERT INTO audit_log (seq, at, actor, action, subjects, payload, trace_id,
               prev_hash, hash) VALUES (4, 'x', 'x', 'x', '[]', '{}', 'x', 'x', 'x')",
            [],
        )
        .unwrap();
        let err = r
            .set_alias("m", "production", 2, Change::new("bob", "second"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AuditBroken { seq: 4, .. }), "{err:?}");
        assert!(r.register("m", version_for_tests()).await.is_err());
        assert!(
            r.set_status("m", 2, VersionStatus::Approved, Change::new("bob", "ok"))
                .await
                .is_err()
        );
        // Nothing of the refused changes is stored: not the alias, the version, the status,
        // the histories nor the events.
        assert_eq!(r.get_alias("m", "production").await.unwrap(), Some(1));
        assert_eq!(r.alias_history("m", None).await.unwrap().len(), 1);
        assert_eq!(r.list_versions("m").await.unwrap().len(), 2);
        assert_eq!(r.status_history("m", Some(2)).await.unwrap().len(), 1);
        assert_eq!(r.events_since(0).await.unwrap().len(), events);

        // Once the stray row is gone, changes go through again, numbered as if the refused
        // registration had never happened.
        raw.execute("DELETE FROM audit_log WHERE seq = 4", [])
            .unwrap();
        assert_eq!(
            r.register("m", version_for_tests()).await.unwrap().version,
            3
        );
        assert_eq!(log.verify().await.unwrap(), 4);
    }

    #[test]
    fn refuses_a_store_from_a_newer_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = open_db(dir.path()).unwrap();
            conn.pragma_update(None, "user_version", 999).unwrap();
        }
        match SqliteRegistry::open(dir.path(), Arc::new(SystemClock)) {
            Err(Error::Conflict(m)) => assert!(m.contains("upgrade mlcycle"), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
}
