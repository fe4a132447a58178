//! The registry's queries on PostgreSQL, on rows of plain values (`registry::PostgresRegistry`
//! turns them into its types). Lock order and isolation: see the [parent module](super).

use super::{Client, EVENTS_CHANNEL, PgPool, execute, pg_err, query, query_opt};
use crate::Result;
use chrono::{DateTime, Utc};

/// A stored version, its JSON fields as text.
#[derive(Debug, Clone)]
pub(crate) struct VersionRow {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub status: String,
    pub flavor: String,
    pub artifact_sha256: String,
    pub signature: String,
    pub lineage: String,
    pub metrics: String,
    pub tags: String,
    pub description: String,
    /// The aliases pointing to it, sorted.
    pub aliases: Vec<String>,
}

/// One entry of the alias history.
#[derive(Debug, Clone)]
pub(crate) struct AliasHistoryRow {
    pub alias: String,
    pub version: Option<i64>,
    pub previous: Option<i64>,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: String,
}

/// One entry of the status history.
#[derive(Debug, Clone)]
pub(crate) struct StatusRow {
    pub version: i64,
    pub status: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: String,
}

/// Whether model `name` exists.
pub(crate) async fn model_exists(c: &Client, name: &str) -> Result<bool> {
    Ok(
        query_opt(c, "SELECT 1 FROM models WHERE name = $1", &[&name])
            .await?
            .is_some(),
    )
}

/// Lock model `name`'s row to the end of the transaction; `false` if there is no such model.
pub(crate) async fn lock_model(c: &Client, name: &str) -> Result<bool> {
    Ok(query_opt(
        c,
        "SELECT 1 FROM models WHERE name = $1 FOR UPDATE",
        &[&name],
    )
    .await?
    .is_some())
}

/// The next version number of `name` (creating the model), locking its row.
pub(crate) async fn next_version(c: &Client, name: &str, at: DateTime<Utc>) -> Result<i64> {
    let row = query(
        c,
        "INSERT INTO models (name, last_version, created_at) VALUES ($1, 1, $2)
         ON CONFLICT (name) DO UPDATE SET last_version = models.last_version + 1
         RETURNING last_version",
        &[&name, &at],
    )
    .await?;
    Ok(row.first().map(|r| r.get(0)).unwrap_or(1))
}

/// Store artifact bytes under their hash (nothing new if already stored), locking the
/// artifact's row to the end of the transaction so a concurrent `gc` cannot delete it.
pub(crate) async fn put_artifact(
    c: &Client,
    sha256: &str,
    bytes: &[u8],
    at: DateTime<Utc>,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO artifacts (sha256, bytes, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (sha256) DO UPDATE SET sha256 = excluded.sha256",
        &[&sha256, &bytes, &at],
    )
    .await?;
    Ok(())
}

/// The bytes stored under `sha256`.
pub(crate) async fn get_artifact(c: &Client, sha256: &str) -> Result<Option<Vec<u8>>> {
    Ok(query_opt(
        c,
        "SELECT bytes FROM artifacts WHERE sha256 = $1",
        &[&sha256],
    )
    .await?
    .map(|r| r.get(0)))
}

/// Delete artifacts no version refers to; returns their hashes.
pub(crate) async fn delete_unused_artifacts(c: &Client) -> Result<Vec<String>> {
    Ok(query(
        c,
        "DELETE FROM artifacts a
         WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.artifact_sha256 = a.sha256)
         RETURNING sha256",
        &[],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// Insert a new version.
pub(crate) async fn insert_version(c: &Client, name: &str, v: &VersionRow) -> Result<()> {
    execute(
        c,
        "INSERT INTO versions (name, version, created_at, status, flavor, artifact_sha256,
           signature, lineage, metrics, tags, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &name,
            &v.version,
            &v.created_at,
            &v.status,
            &v.flavor,
            &v.artifact_sha256,
            &v.signature,
            &v.lineage,
            &v.metrics,
            &v.tags,
            &v.description,
        ],
    )
    .await?;
    Ok(())
}

const VERSION_SELECT: &str =
    "SELECT v.version, v.created_at, v.status, v.flavor, v.artifact_sha256,
        v.signature, v.lineage, v.metrics, v.tags, v.description,
        ARRAY(SELECT a.alias FROM aliases a
              WHERE a.name = v.name AND a.version = v.version ORDER BY a.alias COLLATE \"C\")
     FROM versions v";

fn version_row(r: &tokio_postgres::Row) -> VersionRow {
    VersionRow {
        version: r.get(0),
        created_at: r.get(1),
        status: r.get(2),
        flavor: r.get(3),
        artifact_sha256: r.get(4),
        signature: r.get(5),
        lineage: r.get(6),
        metrics: r.get(7),
        tags: r.get(8),
        description: r.get(9),
        aliases: r.get(10),
    }
}

/// Versions of `name` (one, or all), oldest first, with their aliases (one statement: one
/// snapshot).
pub(crate) async fn read_versions(
    c: &Client,
    name: &str,
    only: Option<i64>,
) -> Result<Vec<VersionRow>> {
    let sql = format!(
        "{VERSION_SELECT} WHERE v.name = $1 AND ($2::BIGINT IS NULL OR v.version = $2)
         ORDER BY v.version"
    );
    Ok(query(c, &sql, &[&name, &only])
        .await?
        .iter()
        .map(version_row)
        .collect())
}

/// The version `alias` of `name` points to, in one statement (`None` when the alias is not
/// set or the model does not exist).
pub(crate) async fn read_version_by_alias(
    c: &Client,
    name: &str,
    alias: &str,
) -> Result<Option<VersionRow>> {
    let sql = format!(
        "{VERSION_SELECT} WHERE v.name = $1
           AND v.version = (SELECT a.version FROM aliases a WHERE a.name = $1 AND a.alias = $2)"
    );
    Ok(query_opt(c, &sql, &[&name, &alias])
        .await?
        .as_ref()
        .map(version_row))
}

/// All model names, sorted.
pub(crate) async fn list_models(c: &Client) -> Result<Vec<String>> {
    Ok(query(
        c,
        "SELECT name FROM models ORDER BY name COLLATE \"C\"",
        &[],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// The version an alias points to.
pub(crate) async fn read_alias(c: &Client, name: &str, alias: &str) -> Result<Option<i64>> {
    Ok(query_opt(
        c,
        "SELECT version FROM aliases WHERE name = $1 AND alias = $2",
        &[&name, &alias],
    )
    .await?
    .map(|r| r.get(0)))
}

/// Point an alias at a version.
pub(crate) async fn upsert_alias(c: &Client, name: &str, alias: &str, version: i64) -> Result<()> {
    execute(
        c,
        "INSERT INTO aliases (name, alias, version) VALUES ($1, $2, $3)
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        &[&name, &alias, &version],
    )
    .await?;
    Ok(())
}

/// Remove an alias.
pub(crate) async fn delete_alias(c: &Client, name: &str, alias: &str) -> Result<()> {
    execute(
        c,
        "DELETE FROM aliases WHERE name = $1 AND alias = $2",
        &[&name, &alias],
    )
    .await?;
    Ok(())
}

/// Append to the alias history.
pub(crate) async fn insert_alias_history(
    c: &Client,
    name: &str,
    h: &AliasHistoryRow,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO alias_history (name, alias, version, previous, at, actor, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &name,
            &h.alias,
            &h.version,
            &h.previous,
            &h.at,
            &h.actor,
            &h.reason,
        ],
    )
    .await?;
    Ok(())
}

/// The alias history of `name` (one alias or all), oldest first.
pub(crate) async fn alias_history(
    c: &Client,
    name: &str,
    alias: Option<&str>,
) -> Result<Vec<AliasHistoryRow>> {
    Ok(query(
        c,
        "SELECT alias, version, previous, at, actor, reason FROM alias_history
         WHERE name = $1 AND ($2::TEXT IS NULL OR alias = $2) ORDER BY id",
        &[&name, &alias],
    )
    .await?
    .iter()
    .map(|r| AliasHistoryRow {
        alias: r.get(0),
        version: r.get(1),
        previous: r.get(2),
        at: r.get(3),
        actor: r.get(4),
        reason: r.get(5),
    })
    .collect())
}

/// Append to the status history.
pub(crate) async fn insert_status(c: &Client, name: &str, s: &StatusRow) -> Result<()> {
    execute(
        c,
        "INSERT INTO status_history (name, version, status, at, actor, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&name, &s.version, &s.status, &s.at, &s.actor, &s.reason],
    )
    .await?;
    Ok(())
}

/// The status history of `name` (one version or all), oldest first.
pub(crate) async fn status_history(
    c: &Client,
    name: &str,
    version: Option<i64>,
) -> Result<Vec<StatusRow>> {
    Ok(query(
        c,
        "SELECT version, status, at, actor, reason FROM status_history
         WHERE name = $1 AND ($2::BIGINT IS NULL OR version = $2) ORDER BY id",
        &[&name, &version],
    )
    .await?
    .iter()
    .map(|r| StatusRow {
        version: r.get(0),
        status: r.get(1),
        at: r.get(2),
        actor: r.get(3),
        reason: r.get(4),
    })
    .collect())
}

/// Set one text column of a version: `status`, `tags` or `description`.
pub(crate) async fn update_version_field(
    c: &Client,
    name: &str,
    version: i64,
    field: VersionField,
    value: &str,
) -> Result<()> {
    let sql = match field {
        VersionField::Status => "UPDATE versions SET status = $3 WHERE name = $1 AND version = $2",
        VersionField::Tags => "UPDATE versions SET tags = $3 WHERE name = $1 AND version = $2",
        VersionField::Description => {
            "UPDATE versions SET description = $3 WHERE name = $1 AND version = $2"
        }
    };
    execute(c, sql, &[&name, &version, &value]).await?;
    Ok(())
}

/// The mutable text columns of a version.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VersionField {
    Status,
    Tags,
    Description,
}

/// Delete a version row (its aliases must be gone).
pub(crate) async fn delete_version(c: &Client, name: &str, version: i64) -> Result<()> {
    execute(
        c,
        "DELETE FROM versions WHERE name = $1 AND version = $2",
        &[&name, &version],
    )
    .await?;
    Ok(())
}

/// The owner of model `name`.
pub(crate) async fn read_owner(c: &Client, name: &str) -> Result<Option<String>> {
    Ok(query_opt(
        c,
        "SELECT owner FROM model_owners WHERE name = $1",
        &[&name],
    )
    .await?
    .map(|r| r.get(0)))
}

/// Set (or with `None` clear) the owner of model `name`.
pub(crate) async fn write_owner(c: &Client, name: &str, owner: Option<&str>) -> Result<()> {
    match owner {
        Some(o) => {
            execute(
                c,
                "INSERT INTO model_owners (name, owner) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner",
                &[&name, &o],
            )
            .await?
        }
        None => execute(c, "DELETE FROM model_owners WHERE name = $1", &[&name]).await?,
    };
    Ok(())
}

/// Append an event with the next sequence number, locking the events' head row to the end
/// of the transaction (events are numbered in commit order). Returns its number.
pub(crate) async fn push_event(c: &Client, at: DateTime<Utc>, event: &str) -> Result<i64> {
    let seq: i64 = query(
        c,
        "UPDATE registry_event_head SET seq = seq + 1 WHERE id = 1 RETURNING seq",
        &[],
    )
    .await?
    .first()
    .map(|r| r.get(0))
    .ok_or_else(|| super::backend_msg("the registry_event_head row is missing: the database was changed outside mlcycle; restore it from a backup"))?;
    execute(
        c,
        "INSERT INTO registry_events (seq, at, event) VALUES ($1, $2, $3)",
        &[&seq, &at, &event],
    )
    .await?;
    Ok(seq)
}

/// Announce (on commit) that events up to `seq` are stored.
pub(crate) async fn notify_events(c: &Client, seq: i64) -> Result<()> {
    execute(
        c,
        "SELECT pg_notify($1, $2)",
        &[&EVENTS_CHANNEL, &seq.to_string()],
    )
    .await?;
    Ok(())
}

/// Events after `cursor`, oldest first: `(seq, at, event)`.
pub(crate) async fn events_since(
    c: &Client,
    cursor: i64,
) -> Result<Vec<(i64, DateTime<Utc>, String)>> {
    Ok(query(
        c,
        "SELECT seq, at, event FROM registry_events WHERE seq > $1 ORDER BY seq",
        &[&cursor],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

/// The last event's sequence number (0 before the first).
pub(crate) async fn last_event_seq(c: &Client) -> Result<i64> {
    Ok(
        query_opt(c, "SELECT seq FROM registry_event_head WHERE id = 1", &[])
            .await?
            .map(|r| r.get(0))
            .unwrap_or(0),
    )
}

/// A dedicated connection (outside the pool) listening on the events channel: each
/// notification's payload arrives on the returned receiver. The receiver closes when the
/// connection ends; dropping the returned client ends it.
pub(crate) async fn listen_events(
    pool: &PgPool,
) -> Result<(
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<String>,
)> {
    let (client, mut connection) =
        pool.config()
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| {
                super::backend_msg(format!(
                    "cannot connect to PostgreSQL at {} to listen for registry events ({e})",
                    pool.target()
                ))
            })?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let tokio_postgres::AsyncMessage::Notification(n) = msg
                && tx.send(n.payload().to_string()).is_err()
            {
                break;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {EVENTS_CHANNEL}"))
        .await
        .map_err(pg_err)?;
    Ok((client, rx))
}
