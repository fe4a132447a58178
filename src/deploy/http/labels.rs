//! `POST /labels`: ground-truth labels for served requests.
//!
//! The body is a JSON array of `{"request_id", "label", "at"?}` (`at`: RFC 3339, when the
//! outcome was observed; default: now). When an admin token is configured the request must
//! carry it; without one the route is open. The answer counts what was stored:
//! `{"received", "inserted", "unchanged", "corrected"}`.

use super::auth::require_admin;
use super::error::ApiError;
use super::state::Shared;
use crate::audit::AuditLog;
use crate::labels::{LabelRecord, LabelStore, record_labels_audited};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;

/// Where `POST /labels` stores labels: a label store and, optionally, the audit log that
/// records each batch (`labels.recorded`).
#[derive(Debug, Clone)]
pub struct LabelSink {
    /// The label store.
    pub store: Arc<dyn LabelStore>,
    /// The audit log, if batches are audited.
    pub audit: Option<Arc<dyn AuditLog>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Posted {
    request_id: String,
    label: serde_json::Value,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

pub(super) async fn post_labels(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if shared.config.admin_token.is_some() {
        require_admin(shared.config.admin_token.as_deref(), &headers)?;
    }
    let Some(sink) = shared.config.labels.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "this server has no label store (mlcycle serve sets one; embedders set HttpConfig::labels)",
        ));
    };
    let posted: Vec<Posted> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be a JSON array of {{\"request_id\", \"label\", \"at\"?}}: {e}"
        ))
    })?;
    let now = shared.clock.now();
    let mut labels = Vec::with_capacity(posted.len());
    for (i, p) in posted.into_iter().enumerate() {
        let label = match p.label {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(ApiError::bad_request(format!(
                    "item {i}: `label` must be a string (a class) or a number, not {other}"
                )));
            }
        };
        labels.push(LabelRecord {
            request_id: p.request_id,
            label,
            observed_at: p.at.unwrap_or(now),
        });
    }
    let summary = match &sink.audit {
        Some(audit) => {
            record_labels_audited(&*sink.store, &**audit, labels, "http", "POST /labels").await
        }
        None => sink.store.record_labels(labels).await,
    }
    .map_err(|e| match e {
        crate::Error::InvalidInput { .. } => ApiError::bad_request(e.to_string()),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })?;
    Ok(Json(serde_json::json!({
        "received": summary.received,
        "inserted": summary.inserted,
        "unchanged": summary.unchanged,
        "corrected": summary.corrected,
    }))
    .into_response())
}
