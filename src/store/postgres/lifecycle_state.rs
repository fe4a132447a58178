//! The lifecycle's durable state on PostgreSQL (tables `lifecycle_state`, `approvals`): the
//! same plain rows as on SQLite (times as RFC 3339 text with nanoseconds, as the lifecycle
//! writes them), so both backends answer alike.

use super::{Client, PgTx, execute, query, query_opt};
use crate::{Error, Result};

pub(crate) use crate::store::lifecycle_state_rows::ApprovalRow;

const COLUMNS: &str = "model, version, requested_at, trigger, summary, status, decided_by, \
                       decided_at, reason, applied_at";

fn row(r: &tokio_postgres::Row) -> Result<ApprovalRow> {
    Ok(ApprovalRow {
        model: r.get(0),
        version: u32::try_from(r.get::<_, i64>(1)).map_err(|_| {
            Error::invalid(
                "stored approval version",
                "out of range; the database was altered",
            )
        })?,
        requested_at: r.get(2),
        trigger: r.get(3),
        summary: r.get(4),
        status: r.get(5),
        decided_by: r.get(6),
        decided_at: r.get(7),
        reason: r.get(8),
        applied_at: r.get(9),
    })
}

/// The stored episode JSON and baseline version of `model`.
pub(crate) async fn load_state(c: &Client, model: &str) -> Result<Option<(String, Option<u32>)>> {
    query_opt(
        c,
        "SELECT episode, baseline_version FROM lifecycle_state WHERE model = $1",
        &[&model],
    )
    .await?
    .map(|r| {
        let baseline: Option<i64> = r.get(1);
        Ok((
            r.get(0),
            baseline
                .map(|v| {
                    u32::try_from(v).map_err(|_| {
                        Error::invalid(
                            "stored baseline version",
                            "out of range; the database was altered",
                        )
                    })
                })
                .transpose()?,
        ))
    })
    .transpose()
}

/// Store the episode JSON and baseline version of `model` at time `at`.
pub(crate) async fn save_state(
    c: &Client,
    model: &str,
    episode: &str,
    baseline: Option<u32>,
    at: &str,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO lifecycle_state (model, episode, baseline_version, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (model) DO UPDATE SET episode = excluded.episode,
            baseline_version = excluded.baseline_version, updated_at = excluded.updated_at",
        &[&model, &episode, &baseline.map(i64::from), &at],
    )
    .await?;
    Ok(())
}

/// Insert a pending request (replacing an older row for the same version).
pub(crate) async fn insert(c: &Client, r: &ApprovalRow) -> Result<()> {
    execute(
        c,
        &format!(
            "INSERT INTO approvals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (model, version) DO UPDATE SET requested_at = excluded.requested_at,
               trigger = excluded.trigger, summary = excluded.summary, status = excluded.status,
               decided_by = excluded.decided_by, decided_at = excluded.decided_at,
               reason = excluded.reason, applied_at = excluded.applied_at"
        ),
        &[
            &r.model,
            &i64::from(r.version),
            &r.requested_at,
            &r.trigger,
            &r.summary,
            &r.status,
            &r.decided_by,
            &r.decided_at,
            &r.reason,
            &r.applied_at,
        ],
    )
    .await?;
    Ok(())
}

/// One row (`lock`: locked to the end of the transaction).
pub(crate) async fn get(
    c: &Client,
    model: &str,
    version: u32,
    lock: bool,
) -> Result<Option<ApprovalRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM approvals WHERE model = $1 AND version = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(c, &sql, &[&model, &i64::from(version)])
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// Rows, optionally of one model, oldest request first.
pub(crate) async fn list(c: &Client, model: Option<&str>) -> Result<Vec<ApprovalRow>> {
    query(
        c,
        &format!(
            "SELECT {COLUMNS} FROM approvals WHERE $1::TEXT IS NULL OR model = $1
             ORDER BY requested_at COLLATE \"C\", model COLLATE \"C\", version"
        ),
        &[&model],
    )
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Record a decision on a pending row (locked while it is read and changed); `Ok(None)`
/// when there is no such row, `Conflict` when it was decided already.
pub(crate) async fn decide(
    tx: &PgTx,
    model: &str,
    version: u32,
    status: &str,
    by: &str,
    reason: &str,
    at: &str,
) -> Result<Option<ApprovalRow>> {
    let c = tx.client();
    let Some(current) = get(c, model, version, true).await? else {
        return Ok(None);
    };
    if current.status != "pending" {
        return Err(Error::Conflict(format!(
            "{model}/{version} was already {} by {} ({}); a decision cannot be changed",
            current.status,
            current.decided_by.as_deref().unwrap_or("?"),
            current.reason.as_deref().unwrap_or("")
        )));
    }
    execute(
        c,
        "UPDATE approvals SET status = $3, decided_by = $4, decided_at = $5, reason = $6
         WHERE model = $1 AND version = $2 AND status = 'pending'",
        &[&model, &i64::from(version), &status, &by, &at, &reason],
    )
    .await?;
    get(c, model, version, false).await
}

/// Mark a decided row applied; true only for the one caller that changed it.
pub(crate) async fn claim(c: &Client, model: &str, version: u32, at: &str) -> Result<bool> {
    Ok(execute(
        c,
        "UPDATE approvals SET applied_at = $3
         WHERE model = $1 AND version = $2 AND status <> 'pending' AND applied_at IS NULL",
        &[&model, &i64::from(version), &at],
    )
    .await?
        == 1)
}
