//! The controller's durable state on PostgreSQL, and its lease as a session-level advisory
//! lock: the controller of a model holds `pg_try_advisory_lock(key(model))` on a connection
//! of its own for as long as it runs. A second controller of the same model is refused while
//! the first lives; when the first process dies (even by SIGKILL) its connection closes, the
//! server releases the lock, and the next controller to try takes over. No heartbeat age or
//! process table is needed, so this works across hosts.

use super::blocking::BlockingPg;
use super::{Client, PgPool, backend_msg, execute, pg_err, query_opt};
use crate::store::controller_state_rows::{Lease, SavedState};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The advisory-lock key of model `model`'s controller lease.
fn lease_key(model: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(b"mlcycle controller lease\0");
    h.update(model.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(&d[..8]);
    i64::from_be_bytes(k)
}

/// The controller-state tables of one PostgreSQL database, with the lease connection.
#[derive(Debug, Clone)]
pub(crate) struct PgControllerStore {
    db: BlockingPg,
    /// The connection holding the lease lock (`None` while no lease is held).
    lease: Arc<Mutex<Option<tokio_postgres::Client>>>,
}

async fn load(c: &Client, model: &str) -> Result<SavedState> {
    let Some(r) = query_opt(
        c,
        "SELECT registry_cursor, last_window_end, last_schedule, in_progress
         FROM controller_state WHERE model = $1",
        &[&model],
    )
    .await?
    else {
        return Ok(SavedState::default());
    };
    Ok(SavedState {
        registry_cursor: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        last_window_end: r.get(1),
        last_schedule: r.get(2),
        in_progress: r.get(3),
    })
}

async fn read_lease(c: &Client, model: &str) -> Result<Option<Lease>> {
    Ok(query_opt(
        c,
        "SELECT holder, pid, heartbeat FROM controller_lease WHERE model = $1",
        &[&model],
    )
    .await?
    .map(|r| Lease {
        holder: r.get(0),
        pid: u32::try_from(r.get::<_, i64>(1)).unwrap_or(0),
        heartbeat: r.get(2),
    }))
}

impl PgControllerStore {
    /// Connect to the database at `url` (migrating its schema).
    pub(crate) fn connect(url: &str) -> Result<Self> {
        Ok(PgControllerStore {
            db: BlockingPg::connect(url)?,
            lease: Arc::new(Mutex::new(None)),
        })
    }

    /// The saved state of `model` (the default when none was saved).
    pub(crate) fn load(&self, model: &str) -> Result<SavedState> {
        let model = model.to_string();
        self.db
            .run(async move |pool| load(&*pool.get().await?, &model).await)
    }

    /// Save the state of `model`.
    pub(crate) fn save(&self, model: &str, state: &SavedState, now: DateTime<Utc>) -> Result<()> {
        let (model, state) = (model.to_string(), state.clone());
        self.db.run(async move |pool| {
            execute(
                &*pool.get().await?,
                "INSERT INTO controller_state
                    (model, registry_cursor, last_window_end, last_schedule, in_progress, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (model) DO UPDATE SET registry_cursor = excluded.registry_cursor,
                    last_window_end = excluded.last_window_end,
                    last_schedule = excluded.last_schedule, in_progress = excluded.in_progress,
                    updated_at = excluded.updated_at",
                &[
                    &model,
                    &i64::try_from(state.registry_cursor).unwrap_or(i64::MAX),
                    &state.last_window_end,
                    &state.last_schedule,
                    &state.in_progress,
                    &now,
                ],
            )
            .await?;
            Ok(())
        })
    }

    /// Whether `model` was already trained on `dataset`.
    pub(crate) fn trained(&self, model: &str, dataset: &str) -> Result<bool> {
        let (model, dataset) = (model.to_string(), dataset.to_string());
        self.db.run(async move |pool| {
            Ok(query_opt(
                &*pool.get().await?,
                "SELECT 1 FROM controller_datasets WHERE model = $1 AND dataset = $2",
                &[&model, &dataset],
            )
            .await?
            .is_some())
        })
    }

    /// Record that `model` was trained on `dataset` (producing `version`, if any) and clear
    /// the step in progress, in one transaction.
    pub(crate) fn mark_trained(
        &self,
        model: &str,
        dataset: &str,
        version: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (model, dataset) = (model.to_string(), dataset.to_string());
        self.db.run(async move |pool| {
            super::in_tx(&pool, async |tx| {
                execute(
                    tx.client(),
                    "INSERT INTO controller_datasets (model, dataset, trained_at, version)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (model, dataset) DO NOTHING",
                    &[&model, &dataset, &now, &version.map(i64::from)],
                )
                .await?;
                execute(
                    tx.client(),
                    "UPDATE controller_state SET in_progress = NULL, updated_at = $2
                     WHERE model = $1",
                    &[&model, &now],
                )
                .await?;
                Ok(())
            })
            .await
        })
    }

    /// Take (or keep) the lease of `model` for `holder` (process `pid`): the session advisory
    /// lock on the store's lease connection, and the `controller_lease` row naming the
    /// holder. Refused with [`Error::Conflict`] naming the holder while another controller
    /// holds it. Called again while held, it checks the lease connection is still alive (a
    /// lost connection lost the lock: it is taken again if free).
    pub(crate) fn acquire_lease(
        &self,
        model: &str,
        holder: &str,
        pid: u32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (model, holder) = (model.to_string(), holder.to_string());
        let slot = self.lease.clone();
        self.db.run(async move |pool| {
            let held = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            // A session lock lasts as long as its connection: while that is open, the lease
            // is still held.
            let (client, got) = match held {
                Some(c) if !c.is_closed() => (c, true),
                _ => {
                    let c = connect_lease(&pool).await?;
                    let got: bool = c
                        .query_one("SELECT pg_try_advisory_lock($1)", &[&lease_key(&model)])
                        .await
                        .map_err(pg_err)?
                        .get(0);
                    (c, got)
                }
            };
            let conn = pool.get().await?;
            if !got {
                let who = read_lease(&conn, &model).await?;
                return Err(Error::Conflict(match who {
                    Some(l) => format!(
                        "another controller ({}, process {}) runs model `{model}` on this database (since {}); stop it first, or wait: its lease ends when its process does",
                        l.holder,
                        l.pid,
                        l.heartbeat.to_rfc3339()
                    ),
                    None => format!(
                        "another controller runs model `{model}` on this database; stop it first, or wait: its lease ends when its process does"
                    ),
                }));
            }
            execute(
                &conn,
                "INSERT INTO controller_lease (model, holder, pid, heartbeat) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (model) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
                    heartbeat = excluded.heartbeat",
                &[&model, &holder, &i64::from(pid), &now],
            )
            .await?;
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
            Ok(())
        })
    }

    /// Give the lease of `model` up, if `holder` holds it (closing the lease connection).
    pub(crate) fn release_lease(&self, model: &str, holder: &str) -> Result<()> {
        let (model, holder) = (model.to_string(), holder.to_string());
        let slot = self.lease.clone();
        self.db.run(async move |pool| {
            execute(
                &*pool.get().await?,
                "DELETE FROM controller_lease WHERE model = $1 AND holder = $2",
                &[&model, &holder],
            )
            .await?;
            // Closing the session releases the lock.
            drop(slot.lock().unwrap_or_else(|p| p.into_inner()).take());
            Ok(())
        })
    }
}

/// A connection of its own (outside the pool) to hold the lease lock.
async fn connect_lease(pool: &PgPool) -> Result<tokio_postgres::Client> {
    let (client, connection) = pool
        .config()
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| {
            backend_msg(format!(
                "cannot connect to PostgreSQL at {} to hold the controller lease ({e})",
                pool.target()
            ))
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
