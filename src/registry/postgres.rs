//! The registry in a PostgreSQL database (feature `postgres`): the same tables and semantics
//! as the embedded SQLite registry, for many processes on many hosts.
//!
//! Concurrency (see `store::postgres` for the lock order): every change is one
//! `READ COMMITTED` transaction that first locks the model's row (`SELECT … FOR UPDATE`; a
//! registration's `INSERT … ON CONFLICT DO UPDATE` on the per-model counter locks it too), so
//! changes to one model are serialised across all writers: version numbers come from the
//! counter without gaps or duplicates and are never reused, and an alias move records the
//! version it really replaced. Events take the next numbers from a locked head row, so they
//! are numbered in commit order; the audit record of a change (registries opened with
//! [`PostgresRegistry::connect_audited`]) is appended in the same transaction under the
//! chain's advisory lock.
//!
//! Artifacts are stored in the database (`artifacts`, keyed by their sha256), verified
//! against the hash on load.
//!
//! Events: the `registry_events` table is the replayable source; each change's transaction
//! also sends `NOTIFY` on commit, and a listening connection per handle turns notifications
//! into live events (read back from the table, in sequence order), so followers on other
//! hosts wake without waiting for their poll interval.

use super::artifacts::sha256_hex;
use super::audit_records;
use super::events::LIVE_CHANNEL_CAPACITY;
use super::types::{validate_alias, validate_name, validate_tag};
use super::{
    AliasChange, Change, ModelVersion, NewVersion, Registry, RegistryEvent, RegistryEventKind,
    StatusChange, VersionStatus,
};
use crate::audit::postgres::append_in_transaction;
use crate::audit::{AuditEntry, AuditLog, CheckpointPolicy, PostgresAuditLog};
use crate::clock::Clock;
use crate::model::ModelArtifact;
use crate::store::postgres::registry::{
    self as sql, AliasHistoryRow, StatusRow, VersionField, VersionRow,
};
use crate::store::postgres::{Client, PgPool, PgTx, backend_msg};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The clock's time at the store's resolution (microseconds), so what a call returns equals
/// what a later read returns.
fn now(clock: &dyn Clock) -> DateTime<Utc> {
    clock.now().trunc_subsecs(6)
}

fn v64(v: u32) -> i64 {
    i64::from(v)
}

fn v32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        backend_msg(format!(
            "version number {v} in the database is out of range: the database was changed outside mlcycle"
        ))
    })
}

fn opt32(v: Option<i64>) -> Result<Option<u32>> {
    v.map(v32).transpose()
}

fn no_model(name: &str) -> Error {
    Error::not_found("model", name, "list models with `mlcycle models list`")
}

fn no_version(name: &str, version: u32) -> Error {
    Error::not_found(
        "version",
        format!("{name}/{version}"),
        format!("list them with `mlcycle models versions {name}`"),
    )
}

fn decode_version(name: &str, row: VersionRow) -> Result<ModelVersion> {
    Ok(ModelVersion {
        name: name.into(),
        version: v32(row.version)?,
        created_at: row.created_at,
        status: row.status.parse()?,
        flavor: row.flavor,
        artifact_sha256: row.artifact_sha256,
        signature: serde_json::from_str(&row.signature)?,
        lineage: serde_json::from_str(&row.lineage)?,
        metrics: serde_json::from_str(&row.metrics)?,
        tags: serde_json::from_str(&row.tags)?,
        description: row.description,
        aliases: row.aliases,
    })
}

fn decode_event((seq, at, event): (i64, DateTime<Utc>, String)) -> Result<RegistryEvent> {
    Ok(RegistryEvent {
        seq: u64::try_from(seq).unwrap_or(0),
        at,
        kind: serde_json::from_str(&event)?,
    })
}

/// Versions of `name` (one or all), `NotFound` for an unknown model.
async fn read_versions(c: &Client, name: &str, only: Option<u32>) -> Result<Vec<ModelVersion>> {
    let rows = sql::read_versions(c, name, only.map(v64)).await?;
    if rows.is_empty() && !sql::model_exists(c, name).await? {
        return Err(no_model(name));
    }
    rows.into_iter().map(|r| decode_version(name, r)).collect()
}

async fn read_version(c: &Client, name: &str, version: u32) -> Result<ModelVersion> {
    read_versions(c, name, Some(version))
        .await?
        .pop()
        .ok_or_else(|| no_version(name, version))
}

/// How a registry that records its own changes appends them.
#[derive(Debug, Clone)]
struct AuditConfig {
    checkpoints: Option<CheckpointPolicy>,
}

/// One change in progress: its transaction, the last event it wrote, where its audit
/// records go.
struct Writer<'a> {
    tx: PgTx,
    last_event: Option<i64>,
    audit: Option<&'a AuditConfig>,
    trace: String,
}

impl Writer<'_> {
    fn c(&self) -> &Client {
        self.tx.client()
    }

    /// Lock model `name`'s row to the end of the change; `NotFound` if there is none.
    async fn lock_model(&self, name: &str) -> Result<()> {
        match sql::lock_model(self.c(), name).await? {
            true => Ok(()),
            false => Err(no_model(name)),
        }
    }

    async fn push_event(&mut self, at: DateTime<Utc>, kind: RegistryEventKind) -> Result<()> {
        let json = serde_json::to_string(&kind)?;
        self.last_event = Some(sql::push_event(self.tx.client(), at, &json).await?);
        Ok(())
    }

    async fn audit(
        &self,
        at: DateTime<Utc>,
        entry: impl FnOnce(String) -> AuditEntry,
    ) -> Result<()> {
        if let Some(cfg) = self.audit {
            append_in_transaction(
                &self.tx,
                at,
                entry(self.trace.clone()),
                cfg.checkpoints.as_ref(),
            )
            .await?;
        }
        Ok(())
    }

    async fn record_alias_change(&mut self, c: &AliasChange) -> Result<()> {
        sql::insert_alias_history(
            self.c(),
            &c.name,
            &AliasHistoryRow {
                alias: c.alias.clone(),
                version: c.version.map(v64),
                previous: c.previous.map(v64),
                at: c.at,
                actor: c.change.actor.clone(),
                reason: c.change.reason.clone(),
            },
        )
        .await?;
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
        self.push_event(c.at, kind).await?;
        self.audit(c.at, |t| audit_records::alias_changed(c, t))
            .await
    }

    async fn record_status_change(&self, c: &StatusChange) -> Result<()> {
        sql::insert_status(
            self.c(),
            &c.name,
            &StatusRow {
                version: v64(c.version),
                status: c.status.as_str().to_string(),
                at: c.at,
                actor: c.change.actor.clone(),
                reason: c.change.reason.clone(),
            },
        )
        .await
    }

    /// Commit when `r` is a success (announcing its events), roll back otherwise.
    async fn finish<T>(self, r: Result<T>) -> Result<T> {
        match r {
            Ok(v) => {
                if let Some(seq) = self.last_event {
                    sql::notify_events(self.tx.client(), seq).await?;
                }
                self.tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                self.tx.rollback().await;
                Err(e)
            }
        }
    }
}

/// Aborts the event listener when the last handle goes.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The PostgreSQL-backed registry (feature `postgres`): for several processes and hosts
/// sharing one registry. See the module docs for its locking and events.
///
/// Cloning gives another handle sharing the connection pool.
#[derive(Debug, Clone)]
pub struct PostgresRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    live: broadcast::Sender<RegistryEvent>,
    audit_cfg: Option<AuditConfig>,
    audit: Option<Arc<PostgresAuditLog>>,
    _listener: AbortOnDrop,
}

/// Wait before reconnecting a lost listening connection (followers poll meanwhile).
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// Deliver the stored events after `cursor` to live subscribers.
async fn deliver(pool: &PgPool, live: &broadcast::Sender<RegistryEvent>, cursor: &mut i64) {
    let Ok(conn) = pool.get().await else { return };
    let Ok(rows) = sql::events_since(&conn, *cursor).await else {
        return;
    };
    for row in rows {
        let seq = row.0;
        match decode_event(row) {
            Ok(e) => {
                // No receiver is not an error.
                let _ = live.send(e);
                *cursor = seq;
            }
            // Subscribers re-read the table and report it themselves.
            Err(_) => return,
        }
    }
}

/// Listen for committed events (from any process) and broadcast them in sequence order.
async fn follow(pool: PgPool, live: broadcast::Sender<RegistryEvent>, mut cursor: i64) {
    loop {
        if let Ok((client, mut notes)) = sql::listen_events(&pool).await {
            // Whatever committed while no connection was listening.
            deliver(&pool, &live, &mut cursor).await;
            while notes.recv().await.is_some() {
                while notes.try_recv().is_ok() {}
                deliver(&pool, &live, &mut cursor).await;
            }
            drop(client);
        }
        tokio::time::sleep(LISTEN_RETRY).await;
    }
}

impl PostgresRegistry {
    /// Connect to the PostgreSQL database at `url` (`postgres://USER@HOST:PORT/DB`),
    /// creating or upgrading its schema (safe when several processes start at once).
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::connect_inner(url, clock, None).await
    }

    /// Connect as [`connect`](Self::connect) does, recording every change in the database's
    /// audit trail (the [`PostgresAuditLog`] of the same database) in the same transaction
    /// as the change: a change and its record commit together or not at all. `checkpoints`
    /// signs a checkpoint with every N-th record; use the same policy for every handle.
    /// [`Registry::audit_log`] returns the log.
    pub async fn connect_audited(
        url: &str,
        clock: Arc<dyn Clock>,
        checkpoints: Option<CheckpointPolicy>,
    ) -> Result<Self> {
        Self::connect_inner(url, clock, Some(AuditConfig { checkpoints })).await
    }

    async fn connect_inner(
        url: &str,
        clock: Arc<dyn Clock>,
        audit_cfg: Option<AuditConfig>,
    ) -> Result<Self> {
        let pool = PgPool::connect(url).await?;
        let cursor = sql::last_event_seq(&*pool.get().await?).await?;
        let live = broadcast::channel(LIVE_CHANNEL_CAPACITY).0;
        let listener = AbortOnDrop(tokio::spawn(follow(pool.clone(), live.clone(), cursor)));
        let audit = audit_cfg.as_ref().map(|cfg| {
            let log = PostgresAuditLog::with_pool(pool.clone(), clock.clone());
            Arc::new(match &cfg.checkpoints {
                Some(p) => log.with_checkpoints(p.clone()),
                None => log,
            })
        });
        Ok(PostgresRegistry {
            inner: Arc::new(Inner {
                pool,
                clock,
                live,
                audit_cfg,
                audit,
                _listener: listener,
            }),
        })
    }

    /// Delete stored artifacts no version refers to (those of deleted versions). Returns
    /// their hashes. Safe while other handles register: a registration locks the artifact
    /// row it refers to until it commits, and a foreign key keeps every referenced artifact,
    /// so a registration racing the collection makes it fail (run it again), never lose bytes
    /// a version needs.
    pub async fn gc(&self) -> Result<Vec<String>> {
        let tx = PgTx::begin(&self.inner.pool).await?;
        let r = sql::delete_unused_artifacts(tx.client()).await;
        match r {
            Ok(v) => {
                tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                tx.rollback().await;
                Err(e)
            }
        }
    }

    /// The connection pool (shared with the other stores of an assembly).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Subscribe to events after `cursor` with a handle that can move into a spawned task.
    pub fn subscribe_owned(&self, cursor: u64) -> super::EventSubscription<Arc<Self>> {
        super::EventSubscription::new(Arc::new(self.clone()), cursor)
    }

    async fn begin(&self) -> Result<Writer<'_>> {
        let trace = match self.inner.audit_cfg {
            Some(_) => crate::audit::trace_or_new(),
            None => String::new(),
        };
        Ok(Writer {
            tx: PgTx::begin(&self.inner.pool).await?,
            last_event: None,
            audit: self.inner.audit_cfg.as_ref(),
            trace,
        })
    }
}

#[async_trait]
impl Registry for PostgresRegistry {
    async fn register(&self, name: &str, new: NewVersion) -> Result<ModelVersion> {
        validate_name(name)?;
        for (k, v) in &new.tags {
            validate_tag(k, v)?;
        }
        let bytes = new.artifact.to_bytes()?;
        let sha = sha256_hex(&bytes);
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<ModelVersion> = async {
            // The artifact row first (locked until commit, so `gc` cannot remove it), then
            // the model's row: the lock order of every change.
            sql::put_artifact(w.c(), &sha, &bytes, now(&*clock)).await?;
            let at = now(&*clock);
            let version = v32(sql::next_version(w.c(), name, at).await?)?;
            let mv = ModelVersion {
                name: name.to_string(),
                version,
                created_at: at,
                status: VersionStatus::PendingApproval,
                flavor: new.artifact.flavor().to_string(),
                artifact_sha256: sha.clone(),
                signature: new.artifact.signature().clone(),
                lineage: new.lineage,
                metrics: new.metrics,
                tags: new.tags,
                description: new.description,
                aliases: vec![],
            };
            sql::insert_version(
                w.c(),
                name,
                &VersionRow {
                    version: v64(version),
                    created_at: at,
                    status: mv.status.as_str().to_string(),
                    flavor: mv.flavor.clone(),
                    artifact_sha256: mv.artifact_sha256.clone(),
                    signature: serde_json::to_string(&mv.signature)?,
                    lineage: serde_json::to_string(&mv.lineage)?,
                    metrics: serde_json::to_string(&mv.metrics)?,
                    tags: serde_json::to_string(&mv.tags)?,
                    description: mv.description.clone(),
                    aliases: vec![],
                },
            )
            .await?;
            w.record_status_change(&StatusChange {
                name: name.to_string(),
                version,
                status: VersionStatus::PendingApproval,
                at,
                change: Change::new(mv.lineage.created_by.clone(), "registered"),
            })
            .await?;
            w.push_event(
                at,
                RegistryEventKind::VersionCreated {
                    name: name.to_string(),
                    version,
                },
            )
            .await?;
            w.audit(at, |t| audit_records::version_registered(&mv, t))
                .await?;
            Ok(mv)
        }
        .await;
        w.finish(r).await
    }

    async fn get_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        let conn = self.inner.pool.get().await?;
        read_version(&conn, name, version).await
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let conn = self.inner.pool.get().await?;
        read_versions(&conn, name, None).await
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        sql::list_models(&*self.inner.pool.get().await?).await
    }

    async fn load_artifact(&self, name: &str, version: u32) -> Result<ModelArtifact> {
        let sha = self.get_version(name, version).await?.artifact_sha256;
        let conn = self.inner.pool.get().await?;
        let bytes = sql::get_artifact(&conn, &sha)
            .await?
            .ok_or_else(|| Error::CorruptArtifact {
                sha256: sha.clone(),
                why: "no artifact with this hash is stored in the database; restore the database from a backup".into(),
            })?;
        drop(conn);
        let got = sha256_hex(&bytes);
        if got != sha {
            return Err(Error::CorruptArtifact {
                sha256: sha,
                why: format!("the stored artifact has content hash {got}"),
            });
        }
        tokio::task::spawn_blocking(move || ModelArtifact::from_bytes(&bytes))
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
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<AliasChange> = async {
            w.lock_model(name).await?;
            read_version(w.c(), name, version).await?;
            let previous = opt32(sql::read_alias(w.c(), name, alias).await?)?;
            sql::upsert_alias(w.c(), name, alias, v64(version)).await?;
            let c = AliasChange {
                name: name.to_string(),
                alias: alias.to_string(),
                version: Some(version),
                previous,
                at: now(&*clock),
                change,
            };
            w.record_alias_change(&c).await?;
            Ok(c)
        }
        .await;
        w.finish(r).await
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: Change) -> Result<AliasChange> {
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<AliasChange> = async {
            w.lock_model(name).await?;
            let previous = opt32(sql::read_alias(w.c(), name, alias).await?)?.ok_or_else(|| {
                Error::not_found(
                    "alias",
                    format!("{name}@{alias}"),
                    format!("see `mlcycle models alias history {name}`"),
                )
            })?;
            sql::delete_alias(w.c(), name, alias).await?;
            let c = AliasChange {
                name: name.to_string(),
                alias: alias.to_string(),
                version: None,
                previous: Some(previous),
                at: now(&*clock),
                change,
            };
            w.record_alias_change(&c).await?;
            Ok(c)
        }
        .await;
        w.finish(r).await
    }

    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        let conn = self.inner.pool.get().await?;
        let v = sql::read_alias(&conn, name, alias).await?;
        if v.is_none() && !sql::model_exists(&conn, name).await? {
            return Err(no_model(name));
        }
        opt32(v)
    }

    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let conn = self.inner.pool.get().await?;
        // One round trip when the alias is set (what resolving `name@alias` hits).
        if let Some(row) = sql::read_version_by_alias(&conn, name, alias).await? {
            return decode_version(name, row);
        }
        if !sql::model_exists(&conn, name).await? {
            return Err(no_model(name));
        }
        Err(Error::not_found(
            "alias",
            format!("{name}@{alias}"),
            format!(
                "point it at a version with `mlcycle models alias set {name} {alias} VERSION`, or use NAME/VERSION"
            ),
        ))
    }

    async fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasChange>> {
        let conn = self.inner.pool.get().await?;
        if !sql::model_exists(&conn, name).await? {
            return Err(no_model(name));
        }
        sql::alias_history(&conn, name, alias)
            .await?
            .into_iter()
            .map(|h| {
                Ok(AliasChange {
                    name: name.to_string(),
                    alias: h.alias,
                    version: opt32(h.version)?,
                    previous: opt32(h.previous)?,
                    at: h.at,
                    change: Change {
                        actor: h.actor,
                        reason: h.reason,
                    },
                })
            })
            .collect()
    }

    async fn set_status(
        &self,
        name: &str,
        version: u32,
        status: VersionStatus,
        change: Change,
    ) -> Result<StatusChange> {
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<StatusChange> = async {
            w.lock_model(name).await?;
            read_version(w.c(), name, version).await?;
            sql::update_version_field(
                w.c(),
                name,
                v64(version),
                VersionField::Status,
                status.as_str(),
            )
            .await?;
            let c = StatusChange {
                name: name.to_string(),
                version,
                status,
                at: now(&*clock),
                change,
            };
            w.record_status_change(&c).await?;
            w.push_event(
                c.at,
                RegistryEventKind::StatusChanged {
                    name: name.to_string(),
                    version,
                    status,
                },
            )
            .await?;
            w.audit(c.at, |t| audit_records::status_changed(&c, t))
                .await?;
            Ok(c)
        }
        .await;
        w.finish(r).await
    }

    async fn status_history(&self, name: &str, version: Option<u32>) -> Result<Vec<StatusChange>> {
        let conn = self.inner.pool.get().await?;
        if !sql::model_exists(&conn, name).await? {
            return Err(no_model(name));
        }
        sql::status_history(&conn, name, version.map(v64))
            .await?
            .into_iter()
            .map(|s| {
                Ok(StatusChange {
                    name: name.to_string(),
                    version: v32(s.version)?,
                    status: s.status.parse()?,
                    at: s.at,
                    change: Change {
                        actor: s.actor,
                        reason: s.reason,
                    },
                })
            })
            .collect()
    }

    async fn set_tag(&self, name: &str, version: u32, key: &str, value: &str) -> Result<()> {
        validate_tag(key, value)?;
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<()> = async {
            // Read-modify-write under the model's lock: no lost update.
            w.lock_model(name).await?;
            let mut mv = read_version(w.c(), name, version).await?;
            mv.tags.insert(key.to_string(), value.to_string());
            sql::update_version_field(
                w.c(),
                name,
                v64(version),
                VersionField::Tags,
                &serde_json::to_string(&mv.tags)?,
            )
            .await?;
            w.push_event(
                now(&*clock),
                RegistryEventKind::TagSet {
                    name: name.to_string(),
                    version,
                    key: key.to_string(),
                    value: value.to_string(),
                },
            )
            .await
        }
        .await;
        w.finish(r).await
    }

    async fn set_description(&self, name: &str, version: u32, description: &str) -> Result<()> {
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<()> = async {
            w.lock_model(name).await?;
            read_version(w.c(), name, version).await?;
            sql::update_version_field(
                w.c(),
                name,
                v64(version),
                VersionField::Description,
                description,
            )
            .await?;
            w.push_event(
                now(&*clock),
                RegistryEventKind::DescriptionSet {
                    name: name.to_string(),
                    version,
                },
            )
            .await
        }
        .await;
        w.finish(r).await
    }

    async fn delete_version(
        &self,
        name: &str,
        version: u32,
        force: bool,
        change: Change,
    ) -> Result<ModelVersion> {
        let clock = self.inner.clock.clone();
        let mut w = self.begin().await?;
        let r: Result<ModelVersion> = async {
            w.lock_model(name).await?;
            let mv = read_version(w.c(), name, version).await?;
            if !mv.aliases.is_empty() && !force {
                return Err(Error::Conflict(format!(
                    "{name}/{version} is the target of alias(es) {}; move or delete them first, \
                     or force the deletion",
                    mv.aliases.join(", ")
                )));
            }
            let at = now(&*clock);
            for alias in &mv.aliases {
                sql::delete_alias(w.c(), name, alias).await?;
                w.record_alias_change(&AliasChange {
                    name: name.to_string(),
                    alias: alias.clone(),
                    version: None,
                    previous: Some(version),
                    at,
                    change: change.clone(),
                })
                .await?;
            }
            sql::delete_version(w.c(), name, v64(version)).await?;
            w.push_event(
                at,
                RegistryEventKind::VersionDeleted {
                    name: name.to_string(),
                    version,
                },
            )
            .await?;
            w.audit(at, |t| {
                audit_records::version_deleted(&mv, force, &change, t)
            })
            .await?;
            Ok(mv)
        }
        .await;
        w.finish(r).await
    }

    async fn set_owner(&self, name: &str, owner: Option<&str>, change: Change) -> Result<()> {
        let clock = self.inner.clock.clone();
        let w = self.begin().await?;
        let r: Result<()> = async {
            w.lock_model(name).await?;
            let previous = sql::read_owner(w.c(), name).await?;
            sql::write_owner(w.c(), name, owner).await?;
            let at = now(&*clock);
            w.audit(at, |t| {
                audit_records::owner_set(name, owner, previous, &change, t)
            })
            .await
        }
        .await;
        w.finish(r).await
    }

    async fn get_owner(&self, name: &str) -> Result<Option<String>> {
        let conn = self.inner.pool.get().await?;
        if !sql::model_exists(&conn, name).await? {
            return Err(no_model(name));
        }
        sql::read_owner(&conn, name).await
    }

    async fn events_since(&self, cursor: u64) -> Result<Vec<RegistryEvent>> {
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        let conn = self.inner.pool.get().await?;
        sql::events_since(&conn, cursor)
            .await?
            .into_iter()
            .map(decode_event)
            .collect()
    }

    fn live_events(&self) -> Option<broadcast::Receiver<RegistryEvent>> {
        Some(self.inner.live.subscribe())
    }

    fn audit_log(&self) -> Option<Arc<dyn AuditLog>> {
        self.inner.audit.clone().map(|l| l as Arc<dyn AuditLog>)
    }
}
