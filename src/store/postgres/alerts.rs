//! The `alerts`, `alert_deliveries` and `alert_cooldowns` tables on PostgreSQL
//! (`alerts::PostgresAlertStore` calls these functions).

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

/// `None` is stored as '', `Some(k)` as `=k` (a key may itself be empty).
fn encode_key(key: Option<&str>) -> String {
    key.map_or_else(String::new, |k| format!("={k}"))
}

/// Keep the cooldown mark of (`model`, `kind`, `key`), replacing an earlier one.
pub(crate) async fn save_cooldown(
    c: &Client,
    model: &str,
    kind: &str,
    key: Option<&str>,
    delivered_at: DateTime<Utc>,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO alert_cooldowns (model, kind, key, delivered_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (model, kind, key) DO UPDATE SET delivered_at = EXCLUDED.delivered_at",
        &[&model, &kind, &encode_key(key), &delivered_at],
    )
    .await?;
    Ok(())
}

/// Remove the cooldown marks of `model`'s `kind`: one key, or all when `None`.
pub(crate) async fn clear_cooldowns(
    c: &Client,
    model: &str,
    kind: &str,
    key: Option<&str>,
) -> Result<()> {
    let key = key.map(|k| encode_key(Some(k)));
    execute(
        c,
        "DELETE FROM alert_cooldowns
         WHERE model = $1 AND kind = $2 AND ($3::TEXT IS NULL OR key = $3)",
        &[&model, &kind, &key],
    )
    .await?;
    Ok(())
}

/// Every cooldown mark: (model, kind, key, delivered_at).
pub(crate) async fn cooldowns(
    c: &Client,
) -> Result<Vec<(String, String, Option<String>, DateTime<Utc>)>> {
    Ok(query(
        c,
        "SELECT model, kind, key, delivered_at FROM alert_cooldowns ORDER BY model, kind, key",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        let key: String = r.get(2);
        (
            r.get(0),
            r.get(1),
            key.strip_prefix('=').map(str::to_string),
            r.get(3),
        )
    })
    .collect())
}
