//! The PostgreSQL store: the connection pool, the versioned migrations that create every
//! table, error mapping, and the queries of the registry ([`registry`]) and the audit trail
//! ([`audit`]) on rows of plain values. `registry::PostgresRegistry` and
//! `audit::PostgresAuditLog` build on it; nothing above this layer writes SQL for PostgreSQL.
//!
//! # Concurrency
//! Every transaction runs at PostgreSQL's default isolation, `READ COMMITTED`, and takes the
//! row locks or advisory locks it needs, always in this order (so two writers never wait for
//! each other in a cycle):
//! 1. the model's row in `models` (`SELECT … FOR UPDATE`, or the `INSERT … ON CONFLICT DO
//!    UPDATE` that numbers a new version): changes to one model are serialised, so version
//!    numbers come from the row's counter without gaps or duplicates and an alias move reads
//!    the alias it replaces;
//! 2. the registry events' head row (`registry_event_head`): events get consecutive sequence
//!    numbers *in commit order*, so a follower reading `seq > cursor` never skips an event
//!    that commits later with a smaller number;
//! 3. the audit chain's transaction-scoped advisory lock ([`AUDIT_LOCK`]): appends are
//!    serialised, so the chain never forks.
//!
//! Locks are held to the end of the transaction. Reads run without locks on a consistent
//! snapshot per statement (or per `REPEATABLE READ` transaction where several statements
//! must agree, as the audit snapshot does).
//!
//! # Migrations
//! Applied at connect, in one transaction holding the advisory lock [`MIGRATION_LOCK`]: two
//! processes starting at once on a fresh database apply them once, the second waits and
//! finds them applied. `mlcycle_schema.version` is the number applied.

pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod blocking;
pub(crate) mod controller_state;
#[cfg(feature = "sqlite")]
pub(crate) mod datasets;
pub(crate) mod labels;
pub(crate) mod lifecycle_state;
pub(crate) mod registry;

use crate::{Error, Result};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::str::FromStr;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// A pooled connection.
pub(crate) type Conn = deadpool_postgres::Object;
/// A connection (pooled, or the one a [`PgTx`] runs on), as the query functions take it.
pub(crate) type Client = ClientWrapper;

/// The advisory lock that serialises migrations (`pg_advisory_xact_lock`).
pub(crate) const MIGRATION_LOCK: i64 = 0x6d6c_6379_636c_6501;
/// The advisory lock that serialises audit appends (`pg_advisory_xact_lock`).
pub(crate) const AUDIT_LOCK: i64 = 0x6d6c_6379_636c_6502;
/// The channel on which committed registry events are announced (payload: the last
/// sequence number the transaction wrote).
pub(crate) const EVENTS_CHANNEL: &str = "mlcycle_registry_events";

/// Connections a handle's pool opens at most.
const POOL_SIZE: usize = 16;

/// Schema migrations, applied in order. Append new ones at the end; never edit one that has
/// shipped. JSON values are stored as text, exactly as written (the audit chain hashes
/// them; `jsonb` would reorder keys and renormalise numbers).
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: registry, artifacts, events, audit trail
    "CREATE TABLE models (
        name TEXT PRIMARY KEY, last_version BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL);
     CREATE TABLE artifacts (
        sha256 TEXT PRIMARY KEY, bytes BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL);
     CREATE TABLE versions (
        name TEXT NOT NULL REFERENCES models (name), version BIGINT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL, flavor TEXT NOT NULL,
        artifact_sha256 TEXT NOT NULL REFERENCES artifacts (sha256),
        signature TEXT NOT NULL, lineage TEXT NOT NULL, metrics TEXT NOT NULL,
        tags TEXT NOT NULL, description TEXT NOT NULL,
        PRIMARY KEY (name, version));
     CREATE INDEX versions_by_artifact ON versions (artifact_sha256);
     CREATE TABLE aliases (
        name TEXT NOT NULL, alias TEXT NOT NULL, version BIGINT NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES versions (name, version));
     CREATE INDEX aliases_by_version ON aliases (name, version);
     CREATE TABLE alias_history (
        id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, alias TEXT NOT NULL,
        version BIGINT, previous BIGINT, at TIMESTAMPTZ NOT NULL, actor TEXT NOT NULL,
        reason TEXT NOT NULL);
     CREATE INDEX alias_history_by_name ON alias_history (name, alias);
     CREATE TABLE status_history (
        id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, version BIGINT NOT NULL,
        status TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, actor TEXT NOT NULL,
        reason TEXT NOT NULL);
     CREATE INDEX status_history_by_version ON status_history (name, version);
     CREATE TABLE model_owners (
        name TEXT PRIMARY KEY REFERENCES models (name), owner TEXT NOT NULL);
     CREATE TABLE registry_event_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
     INSERT INTO registry_event_head (id, seq) VALUES (1, 0);
     CREATE TABLE registry_events (
        seq BIGINT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, event TEXT NOT NULL);
     CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, subjects TEXT NOT NULL, payload TEXT NOT NULL,
        trace_id TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
     CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL);
     CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, hash TEXT NOT NULL,
        key_id TEXT NOT NULL, prev_signature TEXT NOT NULL, signature TEXT NOT NULL);",
    // 2: ground-truth labels; alerts and their delivery attempts
    "CREATE TABLE labels (
        key TEXT PRIMARY KEY, label TEXT NOT NULL, observed_at TIMESTAMPTZ NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL, revision BIGINT NOT NULL);
     CREATE TABLE alerts (
        id TEXT PRIMARY KEY, seq BIGSERIAL NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL, suppressed BOOLEAN NOT NULL, body TEXT NOT NULL);
     CREATE INDEX alerts_by_model ON alerts (model, at);
     CREATE INDEX alerts_by_time ON alerts (at);
     CREATE TABLE alert_deliveries (
        seq BIGSERIAL PRIMARY KEY, alert_id TEXT NOT NULL REFERENCES alerts (id),
        body TEXT NOT NULL);
     CREATE INDEX alert_deliveries_by_alert ON alert_deliveries (alert_id, seq);",
    // 3: lifecycle state (drift episode, cooldown, baseline version) and approval requests;
    //    times as RFC 3339 text, as the lifecycle writes them
    "CREATE TABLE lifecycle_state (
        model TEXT PRIMARY KEY, episode TEXT NOT NULL, baseline_version BIGINT,
        updated_at TEXT NOT NULL);
     CREATE TABLE approvals (
        model TEXT NOT NULL, version BIGINT NOT NULL, requested_at TEXT NOT NULL,
        trigger TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL,
        decided_by TEXT, decided_at TEXT, reason TEXT, applied_at TEXT,
        PRIMARY KEY (model, version));",
    // 4: the controller's durable state, the datasets it trained on, and who holds its lease
    //    (the lease itself is a session advisory lock; the row names the holder)
    "CREATE TABLE controller_state (
        model TEXT PRIMARY KEY, registry_cursor BIGINT NOT NULL, last_window_end TIMESTAMPTZ,
        last_schedule TIMESTAMPTZ, in_progress TEXT, updated_at TIMESTAMPTZ NOT NULL);
     CREATE TABLE controller_datasets (
        model TEXT NOT NULL, dataset TEXT NOT NULL, trained_at TIMESTAMPTZ NOT NULL,
        version BIGINT, PRIMARY KEY (model, dataset));
     CREATE TABLE controller_lease (
        model TEXT PRIMARY KEY, holder TEXT NOT NULL, pid BIGINT NOT NULL,
        heartbeat TIMESTAMPTZ NOT NULL);",
    // 5: the dataset catalog: named, content-hashed dataset versions, and their files' bytes
    "CREATE TABLE dataset_files (hash TEXT PRIMARY KEY, bytes BYTEA NOT NULL);
     CREATE TABLE dataset_versions (
        name TEXT NOT NULL, version BIGINT NOT NULL,
        hash TEXT NOT NULL REFERENCES dataset_files (hash), file TEXT NOT NULL,
        source TEXT NOT NULL, rows BIGINT NOT NULL, columns BIGINT NOT NULL,
        bytes BIGINT NOT NULL, added_at TIMESTAMPTZ NOT NULL, added_by TEXT NOT NULL,
        PRIMARY KEY (name, version), UNIQUE (name, hash));",
    // 6: alert cooldown marks (when each condition was last delivered); `key` is '' for the
    //    whole model, else '=' and the column or version key
    "CREATE TABLE alert_cooldowns (
        model TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        delivered_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (model, kind, key));",
];

/// A PostgreSQL error as the crate's error: the server's message with what to do.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> Error {
    if e.is_closed() {
        return backend_msg(format!(
            "the connection to PostgreSQL was closed ({e}): check that the server is running and reachable, then retry"
        ));
    }
    Error::Backend {
        backend: "postgres",
        source: Box::new(e),
    }
}

/// A pool error (no connection could be had) as the crate's error.
pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => backend_msg(format!(
            "cannot get a PostgreSQL connection ({e}): check that the server is running and the URL, user and database are right"
        )),
        other => backend_msg(format!("cannot get a PostgreSQL connection: {other}")),
    }
}

pub(crate) fn backend_msg(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "postgres",
        source: msg.into().into(),
    }
}

/// Whether `e` is a unique-key violation.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// Where a configuration points, without its password: `host:port/db` for messages.
pub(crate) fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// Parse a connection URL (`postgres://user@host:port/db`) or key-value string.
pub(crate) fn parse_url(url: &str) -> Result<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(url).map_err(|e| {
        Error::invalid(
            "PostgreSQL URL",
            format!(
                "cannot parse it ({e}); write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            ),
        )
    })
}

/// A pool of connections to one PostgreSQL database whose schema is migrated.
#[derive(Clone)]
pub(crate) struct PgPool {
    pool: Pool,
    config: tokio_postgres::Config,
    target: String,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PgPool {
    /// Connect to the database at `url` and apply pending migrations.
    pub(crate) async fn connect(url: &str) -> Result<Self> {
        let config = parse_url(url)?;
        let target = describe(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| backend_msg(format!("cannot build the PostgreSQL pool: {e}")))?;
        let pg = PgPool {
            pool,
            config,
            target,
        };
        let mut conn = pg.get().await?;
        migrate(&mut conn, MIGRATIONS.len()).await?;
        Ok(pg)
    }

    /// A connection from the pool.
    pub(crate) async fn get(&self) -> Result<Conn> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => backend_msg(format!(
                "cannot connect to PostgreSQL at {} ({e}): check that the server is running and that the URL, user and database are right",
                self.target
            )),
            other => pool_err(other),
        })
    }

    /// The connection configuration (for connections outside the pool, e.g. `LISTEN`).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// `host:port/db`, for messages.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }
}

/// Statement parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Run a query (its statement prepared once per connection).
pub(crate) async fn query(c: &Client, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.query(&st, params).await.map_err(pg_err)
}

/// Run a query answering at most one row.
pub(crate) async fn query_opt(c: &Client, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.query_opt(&st, params).await.map_err(pg_err)
}

/// Run a statement; the number of rows it changed.
pub(crate) async fn execute(c: &Client, sql: &str, params: Params<'_>) -> Result<u64> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.execute(&st, params).await.map_err(pg_err)
}

/// A transaction on one pooled connection. [`commit`](Self::commit)
/// or [`rollback`](Self::rollback) ends it; dropped without either (the caller's future was
/// cancelled), the connection is taken out of the pool and closed, so the server rolls the
/// transaction back.
pub(crate) struct PgTx {
    conn: Option<Conn>,
}

impl PgTx {
    /// Begin a read-write `READ COMMITTED` transaction on a connection from `pool`.
    pub(crate) async fn begin(pool: &PgPool) -> Result<Self> {
        Self::begin_with(pool, "BEGIN ISOLATION LEVEL READ COMMITTED").await
    }

    /// Begin a read-only `REPEATABLE READ` transaction: one snapshot for several statements.
    pub(crate) async fn begin_snapshot(pool: &PgPool) -> Result<Self> {
        Self::begin_with(pool, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
    }

    async fn begin_with(pool: &PgPool, begin: &str) -> Result<Self> {
        let conn = pool.get().await?;
        conn.batch_execute(begin).await.map_err(pg_err)?;
        Ok(PgTx { conn: Some(conn) })
    }

    /// The connection the transaction runs on.
    pub(crate) fn client(&self) -> &ClientWrapper {
        // Set from `begin` until `commit`/`rollback` consume the value.
        self.conn
            .as_ref()
            .expect("an open transaction has its connection")
    }

    /// Commit.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let conn = self
            .conn
            .take()
            .expect("an open transaction has its connection");
        match conn.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                // The outcome is unknown to this connection's state: do not reuse it.
                let _ = deadpool_postgres::Object::take(conn);
                Err(pg_err(e))
            }
        }
    }

    /// Roll back.
    pub(crate) async fn rollback(mut self) {
        let conn = self
            .conn
            .take()
            .expect("an open transaction has its connection");
        if conn.batch_execute("ROLLBACK").await.is_err() {
            let _ = deadpool_postgres::Object::take(conn);
        }
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the connection rolls the transaction back on the server.
            drop(deadpool_postgres::Object::take(conn));
        }
    }
}

/// Run `f` in a `READ COMMITTED` transaction on a connection from `pool`: committed when it
/// succeeds, rolled back otherwise.
pub(crate) async fn in_tx<T>(pool: &PgPool, f: impl AsyncFnOnce(&PgTx) -> Result<T>) -> Result<T> {
    let tx = PgTx::begin(pool).await?;
    match f(&tx).await {
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

/// Apply migrations up to number `upto` under the migration lock, in one transaction.
pub(crate) async fn migrate(conn: &mut Conn, upto: usize) -> Result<()> {
    let tx = conn.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS mlcycle_schema (
            id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    )
    .await
    .map_err(pg_err)?;
    let current: i32 = tx
        .query_opt("SELECT version FROM mlcycle_schema WHERE id = 1", &[])
        .await
        .map_err(pg_err)?
        .map(|r| r.get(0))
        .unwrap_or(0);
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(Error::Conflict(format!(
            "the PostgreSQL database has mlcycle schema version {current}, newer than this mlcycle ({}); upgrade mlcycle",
            MIGRATIONS.len()
        )));
    }
    let upto = upto.min(MIGRATIONS.len());
    for m in MIGRATIONS.iter().take(upto).skip(current) {
        tx.batch_execute(m).await.map_err(pg_err)?;
    }
    if upto > current {
        let v = i32::try_from(upto).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO mlcycle_schema (id, version) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            &[&v],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}
