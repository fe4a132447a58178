//! The admin API of approvals: `GET /admin/pending`, `POST
//! /admin/models/{name}/versions/{version}/approve` and `.../reject` with the JSON body
//! `{"by": "...", "reason": "..."}`. Every route needs the admin bearer token
//! ([`super::auth`]); the server answers them from the [`ApprovalsAdmin`] handle of its
//! configuration ([`super::HttpConfig::approvals`], set by `mlcycle serve` from its store),
//! and 501 without one.

use super::auth::require_admin;
use super::error::ApiError;
use super::state::Shared;
use crate::{Error, Result};
use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::fmt::Debug;
use std::sync::Arc;

/// What the admin routes of approvals need: the pending requests and a way to record a
/// decision (the lifecycle's state store implements it; see
/// `mlcycle::lifecycle::StoreApprovals`).
///
/// # Contract
/// - `pending` lists the versions waiting for a decision as JSON (an array).
/// - `decide` records a decision durably and audited with who and why, and returns the
///   decided request as JSON; `NotFound` for a version that is not waiting, `Conflict` for
///   one decided already. The process running the lifecycle releases it.
///
/// ```
/// use mlcycle::deploy::http::ApprovalsAdmin;
/// fn takes(_: Option<std::sync::Arc<dyn ApprovalsAdmin>>) {}
/// takes(None);
/// ```
#[async_trait]
pub trait ApprovalsAdmin: Send + Sync + Debug {
    /// The pending approval requests, as a JSON array.
    async fn pending(&self) -> Result<serde_json::Value>;
    /// Record a decision on `model`/`version`.
    async fn decide(
        &self,
        model: &str,
        version: u32,
        approved: bool,
        by: &str,
        reason: &str,
    ) -> Result<serde_json::Value>;
}

/// The body of an approve/reject request.
#[derive(Debug, Deserialize)]
pub(super) struct DecisionBody {
    by: String,
    #[serde(default)]
    reason: String,
}

fn handle(
    shared: &Shared,
    headers: &HeaderMap,
) -> std::result::Result<Arc<dyn ApprovalsAdmin>, ApiError> {
    require_admin(shared.config.admin_token.as_deref(), headers)?;
    shared.config.approvals.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this server has no approvals store: start it with `mlcycle serve --store DIR` \
             (or set `HttpConfig::approvals`) to manage approvals over HTTP",
        )
    })
}

fn api_error(e: Error) -> ApiError {
    match e {
        Error::NotFound { .. } => ApiError::not_found(e.to_string()),
        Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
        e @ Error::InvalidInput { .. } => ApiError::bad_request(e.to_string()),
        e => ApiError::internal(e.to_string()),
    }
}

pub(super) async fn pending(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let admin = handle(&shared, &headers)?;
    admin.pending().await.map(Json).map_err(api_error)
}

async fn decide(
    shared: Arc<Shared>,
    headers: HeaderMap,
    name: String,
    version: u32,
    body: &[u8],
    approved: bool,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let admin = handle(&shared, &headers)?;
    let body: DecisionBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON {{\"by\": \"...\", \"reason\": \"...\"}}: {e}"
        ))
    })?;
    if !approved && body.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "a rejection needs a `reason` saying why",
        ));
    }
    admin
        .decide(&name, version, approved, &body.by, &body.reason)
        .await
        .map(Json)
        .map_err(api_error)
}

pub(super) async fn approve(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, u32)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    decide(shared, headers, name, version, &body, true).await
}

pub(super) async fn reject(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, u32)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    decide(shared, headers, name, version, &body, false).await
}
