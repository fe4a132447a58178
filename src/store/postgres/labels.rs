//! The `labels` table on PostgreSQL (`labels::PostgresLabelStore` calls these functions).

use super::{Client, PgTx, execute, query, query_opt};
use crate::Result;
use chrono::{DateTime, Utc};

/// One stored label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelRow {
    pub key: String,
    pub label: String,
    pub observed_at: DateTime<Utc>,
}

/// What [`record`] did to each key, in input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Inserted,
    Unchanged,
    Corrected,
}

/// Store labels inside `tx`: a new key is inserted, a repeat with the same label changes
/// nothing, a different label replaces the stored one (revision + 1). Each key's row is
/// locked to the end of the transaction, so concurrent writers of one key are serialised
/// (the later one wins) and a new key inserted by two at once is inserted once.
pub(crate) async fn record(
    tx: &PgTx,
    labels: &[(String, String, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<Vec<Written>> {
    let c = tx.client();
    let mut out = Vec::with_capacity(labels.len());
    for (key, label, at) in labels {
        let inserted = query_opt(
            c,
            "INSERT INTO labels (key, label, observed_at, recorded_at, revision)
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (key) DO NOTHING RETURNING key",
            &[key, label, at, &now],
        )
        .await?
        .is_some();
        if inserted {
            out.push(Written::Inserted);
            continue;
        }
        let old: Option<String> = query_opt(
            c,
            "SELECT label FROM labels WHERE key = $1 FOR UPDATE",
            &[key],
        )
        .await?
        .map(|r| r.get(0));
        if old.as_deref() == Some(label.as_str()) {
            out.push(Written::Unchanged);
            continue;
        }
        execute(
            c,
            "UPDATE labels SET label = $2, observed_at = $3, recorded_at = $4,
             revision = revision + 1 WHERE key = $1",
            &[key, label, at, &now],
        )
        .await?;
        out.push(Written::Corrected);
    }
    Ok(out)
}

fn row(r: &tokio_postgres::Row) -> LabelRow {
    LabelRow {
        key: r.get(0),
        label: r.get(1),
        observed_at: r.get(2),
    }
}

/// The label stored under `key`.
pub(crate) async fn get(c: &Client, key: &str) -> Result<Option<LabelRow>> {
    Ok(query_opt(
        c,
        "SELECT key, label, observed_at FROM labels WHERE key = $1",
        &[&key],
    )
    .await?
    .as_ref()
    .map(row))
}

/// Every stored label, by key (bytewise, as on SQLite).
pub(crate) async fn all(c: &Client) -> Result<Vec<LabelRow>> {
    Ok(query(
        c,
        "SELECT key, label, observed_at FROM labels ORDER BY key COLLATE \"C\"",
        &[],
    )
    .await?
    .iter()
    .map(row)
    .collect())
}
