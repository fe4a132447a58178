//! The `alerts` and `alert_deliveries` tables on PostgreSQL (`alerts::PostgresAlertStore`
//! calls these functions).

use super::{Client, execute, query, query_opt};
use crate::Result;
use chrono::{DateTime, Utc};

/// One stored alert with its delivery attempts (JSON bodies).
#[derive(Debug, Clone)]
pub(crate) struct AlertRow {
    pub body: String,
    pub suppressed: bool,
    pub attempts: Vec<String>,
}

/// Store an alert; `false` if one with its id is already stored.
pub(crate) async fn insert(
    c: &Client,
    id: &str,
    model: &str,
    kind: &str,
    at: DateTime<Utc>,
    body: &str,
    suppressed: bool,
) -> Result<bool> {
    Ok(query_opt(
        c,
        "INSERT INTO alerts (id, model, kind, at, suppressed, body) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING RETURNING id",
        &[&id, &model, &kind, &at, &suppressed, &body],
    )
    .await?
    .is_some())
}

/// Append a delivery attempt; `false` if no alert has this id.
pub(crate) async fn record_attempt(c: &Client, id: &str, attempt: &str) -> Result<bool> {
    Ok(execute(
        c,
        "INSERT INTO alert_deliveries (alert_id, body)
         SELECT id, $2 FROM alerts WHERE id = $1",
        &[&id, &attempt],
    )
    .await?
        == 1)
}

/// The alerts of `model` (all when `None`) raised at or after `since`, oldest first (then in
/// insertion order), each with its attempts in the order recorded.
pub(crate) async fn list(
    c: &Client,
    model: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<AlertRow>> {
    Ok(query(
        c,
        "SELECT a.suppressed, a.body,
                ARRAY(SELECT d.body FROM alert_deliveries d WHERE d.alert_id = a.id ORDER BY d.seq)
         FROM alerts a
         WHERE ($1::TEXT IS NULL OR a.model = $1) AND ($2::TIMESTAMPTZ IS NULL OR a.at >= $2)
         ORDER BY a.at, a.seq",
        &[&model, &since],
    )
    .await?
    .iter()
    .map(|r| AlertRow {
        suppressed: r.get(0),
        body: r.get(1),
        attempts: r.get(2),
    })
    .collect())
}
