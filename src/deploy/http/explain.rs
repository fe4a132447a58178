//! `POST /v2/models/{name}/explain`: per-row feature contributions of the served version.
//!
//! The request is a V2 inference request (the same input formats as `infer`). The response
//! is `{"id", "model", "version", "output", "method", "class", "base_value", "rows": [{"row",
//! "value", "contributions": {FEATURE: number}}], "importance": {FEATURE: number}}`, where
//! for every row `base_value + Σ contributions = value` (the margin for linear models and
//! gradient-boosted trees; see [`crate::explain`]). Tree models count their node covers on the
//! request's rows (plus one pseudo-row per leaf), as `mlcycle explain` does on its file.
//! Explanations are not recorded in the prediction log: they are not predictions.

use super::body::read_limited;
use super::error::ApiError;
use super::server::{RequestId, served_response};
use super::state::Shared;
use super::v2::request_matrix;
use crate::explain::{explain_rows, mean_abs_contributions};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The most rows one explain request may carry (TreeSHAP costs far more than scoring).
const MAX_EXPLAIN_ROWS: usize = 10_000;

pub(super) async fn explain(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    rid: axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let served = shared.lookup(&name, None)?;
    let bytes = read_limited(&headers, body, shared.config.limits.max_body_bytes).await?;
    let (id, x) = request_matrix(&served, &shared.encoding(), &headers, &bytes)?;
    if x.nrows() > MAX_EXPLAIN_ROWS {
        return Err(ApiError::bad_request(format!(
            "{} rows in one explain request; at most {MAX_EXPLAIN_ROWS}: split the rows over \
             several requests",
            x.nrows()
        )));
    }
    let model = served.model.clone();
    let e = tokio::task::spawn_blocking(move || {
        let artifact = model.to_artifact()?;
        explain_rows(&artifact, x.view(), x.view(), None)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the explanation task failed: {e}")))?
    .map_err(ApiError::from_model)?;
    let importance = mean_abs_contributions(&e);
    let named = |values: &[f64]| -> Map<String, Value> {
        e.features
            .iter()
            .zip(values)
            .map(|(f, v)| (f.clone(), json!(v)))
            .collect()
    };
    let rows: Vec<Value> = e
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"row": i, "value": r.value, "contributions": named(&r.contributions)}))
        .collect();
    let body = json!({
        "id": id.unwrap_or_else(|| Value::from(rid.0.0.clone())),
        "model": served.name,
        "version": served.version,
        "output": e.output.as_str(),
        "method": e.method,
        "class": e.class,
        "base_value": e.base_value,
        "rows": rows,
        "importance": named(&importance),
    });
    Ok(served_response(Json(body).into_response(), &served))
}
