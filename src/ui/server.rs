//! The dashboard over HTTP (axum): every GET is answered by [`Dashboard::respond`].

use super::Dashboard;
use crate::{Error, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use std::future::Future;
use std::sync::Arc;

/// The content security policy of every answer: no script, no frame, nothing loaded from
/// anywhere; inline styles only. A string from the store that escaped escaping still could
/// not run.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

async fn handle(State(d): State<Arc<Dashboard>>, req: Request<Body>) -> Response {
    let mut resp = if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = Response::new(Body::from(
            "the dashboard is read-only: only GET and HEAD are answered\n",
        ));
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    } else {
        let target = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let page = d.respond(&target).await;
        let mut r = Response::new(Body::from(page.body));
        *r.status_mut() =
            StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(page.content_type),
        );
        r
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Serve `dashboard` on `listener` until `shutdown` completes (then finish the requests in
/// flight and return). Only GET and HEAD are answered (others: 405); every answer carries a
/// content security policy that allows no script and no external resource.
///
/// ```no_run
/// use mlcycle::ui::{Dashboard, serve};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dashboard = Dashboard::open_read_only("./mlcycle-store").unwrap();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await.unwrap();
/// serve(listener, dashboard, async { let _ = tokio::signal::ctrl_c().await; }).await.unwrap();
/// # });
/// ```
pub async fn serve(
    listener: tokio::net::TcpListener,
    dashboard: Dashboard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "the dashboard's address".into());
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::new(dashboard));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::io(addr, e))
}
