//! The router and the layer around every request: request id, time limit, metrics.

use super::error::ApiError;
use super::metrics::RequestLabels;
use super::state::{Served, Shared};
use super::{admin, auth, explain, labels, mlflow, v2};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Instant;

/// The request id of the request being served (the caller's `x-request-id` or a UUID) and
/// whether the caller gave it in the header.
///
/// A handler that settles on another id (the v2 body's `id` when no header was given) puts a
/// `RequestId` into its response's extensions; the layer then returns that one in the header.
#[derive(Debug, Clone)]
pub(super) struct RequestId(pub String, pub bool);

/// Which version answered (a response extension read by the metrics layer).
#[derive(Debug, Clone)]
struct ServedBy(Arc<Served>);

const REQUEST_ID: &str = "x-request-id";

/// Mark a scoring response with the version that answered.
pub(super) fn served_response(mut r: Response, served: &Arc<Served>) -> Response {
    let h = r.headers_mut();
    if let Some(v) = &served.name_header {
        h.insert("x-model-name", v.clone());
    }
    h.insert("x-model-version", HeaderValue::from(served.version));
    r.extensions_mut().insert(ServedBy(served.clone()));
    r
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/health/live", get(v2::live))
        .route("/v2/health/ready", get(v2::ready))
        .route("/v2", get(v2::server_metadata))
        .route("/v2/models/{name}", get(v2::metadata))
        .route("/v2/models/{name}/ready", get(v2::model_ready))
        .route("/v2/models/{name}/infer", post(v2::infer))
        .route("/v2/models/{name}/explain", post(explain::explain))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(v2::metadata_version),
        )
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(v2::model_ready_version),
        )
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(v2::infer_version),
        )
        .route("/invocations", post(mlflow::invocations))
        .route("/ping", get(mlflow::ping))
        .route("/health", get(mlflow::ping))
        .route("/version", get(mlflow::version))
        .route("/metrics", get(metrics))
        .route("/admin/pending", get(admin::pending))
        .route(
            "/admin/models/{name}/versions/{version}/approve",
            post(admin::approve),
        )
        .route(
            "/admin/models/{name}/versions/{version}/reject",
            post(admin::reject),
        )
        .route("/labels", post(labels::post_labels))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), around))
        .with_state(shared)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut r = shared.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        crate::data::truncate_for_message(req.uri().path())
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            req.method(),
            crate::data::truncate_for_message(req.uri().path())
        ),
    )
}

fn endpoint_of(path: &str) -> &'static str {
    if path.starts_with("/v2/models/") {
        if path.ends_with("/infer") {
            "v2_infer"
        } else {
            "v2_model"
        }
    } else if path.starts_with("/v2") {
        "v2_server"
    } else {
        match path {
            "/invocations" => "invocations",
            "/ping" | "/health" | "/version" => "mlflow_health",
            "/metrics" => "metrics",
            _ => "other",
        }
    }
}

/// A fresh request id: a random (version 4) UUID drawn from a per-thread generator seeded
/// from the operating system once, so the request path makes no system call for it.
fn new_request_id() -> String {
    use rand::{RngCore, SeedableRng};
    thread_local! {
        static RNG: std::cell::RefCell<rand_chacha::ChaCha12Rng> = std::cell::RefCell::new({
            let mut seed = [0u8; 32];
            seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            rand_chacha::ChaCha12Rng::from_seed(seed)
        });
    }
    let mut bytes = [0u8; 16];
    RNG.with(|r| r.borrow_mut().fill_bytes(&mut bytes));
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

/// The health probes: answered without the API token and outside the in-flight limit.
fn is_health_probe(path: &str) -> bool {
    matches!(
        path,
        "/v2/health/live" | "/v2/health/ready" | "/ping" | "/health"
    )
}

/// Routes that check the admin token themselves.
fn is_admin_route(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/labels"
}

/// What a request holds while it is handled: its in-flight permit and the reservation of
/// the request id its client chose.
struct Admitted {
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    reserved_id: Option<u64>,
}

/// Check a request against the API token, the in-flight limit and earlier request ids.
fn admit(
    shared: &Shared,
    req: &Request,
    endpoint: &str,
    client_id: Option<&str>,
) -> Result<Admitted, ApiError> {
    let path = req.uri().path();
    if !is_health_probe(path) && !is_admin_route(path) {
        auth::require_api(shared.config.api_token.as_deref(), req.headers())?;
    }
    let permit = if is_health_probe(path) || path == "/metrics" {
        None
    } else {
        match shared.in_flight.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let mut e = ApiError::unavailable(format!(
                    "the server is handling its limit of {} requests at once; retry shortly",
                    shared.config.limits.max_in_flight
                ));
                e.retry_after = Some(1);
                return Err(e);
            }
        }
    };
    let scoring = matches!(endpoint, "v2_infer" | "invocations");
    let reserved_id = match client_id {
        Some(id) if scoring && shared.recorder.is_some() => {
            Some(shared.request_ids.reserve(id).map_err(|()| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "the request id `{}` was already used by a recorded request; send a new \
                         x-request-id (or none, and the server chooses one)",
                        crate::data::truncate_for_message(id)
                    ),
                )
            })?)
        }
        _ => None,
    };
    Ok(Admitted {
        _permit: permit,
        reserved_id,
    })
}

async fn around(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let given = req
        .headers()
        .get(REQUEST_ID)
        .filter(|v| v.to_str().is_ok_and(|s| !s.is_empty() && s.len() <= 256))
        .cloned();
    let client_chose = given.is_some();
    let (rid, mut rid_header, from_header) = match given {
        Some(h) => (h.to_str().unwrap_or_default().to_owned(), Some(h), true),
        None => {
            let id = new_request_id();
            let h = HeaderValue::from_str(&id).ok();
            (id, h, false)
        }
    };
    let endpoint = endpoint_of(req.uri().path());
    let as_response = |e: ApiError| {
        if endpoint == "invocations" {
            e.mlflow().into_response()
        } else {
            e.into_response()
        }
    };
    let admitted = admit(
        &shared,
        &req,
        endpoint,
        client_chose.then_some(rid.as_str()),
    );
    let mut resp = match admitted {
        Err(e) => as_response(e),
        Ok(admitted) => {
            req.extensions_mut().insert(RequestId(rid, from_header));
            let limit = shared.config.limits.request_timeout;
            let resp = match tokio::time::timeout(limit, next.run(req)).await {
                Ok(r) => r,
                Err(_) => as_response(ApiError::unavailable(format!(
                    "the request took longer than the limit of {} ms",
                    limit.as_millis()
                ))),
            };
            // An id whose request was not scored and recorded stays free for a retry.
            if let Some(h) = admitted.reserved_id
                && resp.status() != StatusCode::OK
            {
                shared.request_ids.release(h);
            }
            resp
        }
    };
    let status = resp.status();
    let served = resp.extensions_mut().remove::<ServedBy>();
    if let Some(RequestId(settled, _)) = resp.extensions_mut().remove::<RequestId>() {
        rid_header = HeaderValue::from_str(&settled).ok().or(rid_header);
    }
    if let Some(v) = rid_header {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    match served {
        Some(ServedBy(s)) if status == StatusCode::OK => {
            s.ok_requests(&shared.metrics, endpoint).inc();
        }
        served => {
            let (model, version) = match served {
                Some(ServedBy(s)) => (s.name.clone(), s.version_str.clone()),
                None => (String::new(), String::new()),
            };
            shared
                .metrics
                .requests
                .get_or_create(&RequestLabels {
                    endpoint,
                    model,
                    version,
                    status: status.as_u16(),
                })
                .inc();
        }
    }
    if status != StatusCode::NOT_FOUND || endpoint != "other" {
        shared
            .metrics
            .observe_latency(endpoint, started.elapsed().as_secs_f64());
    }
    resp
}
