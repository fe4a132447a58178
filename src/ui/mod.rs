//! The read-only web dashboard over a store (`mlcycle ui`): models and versions with their
//! status and owner, aliases and their history, pending approvals with their validation
//! summary and model card, monitoring windows over time per model (drift share, health,
//! realized performance) as inline SVG charts, alerts, and the audit trail with its
//! verification status.
//!
//! Pages are rendered on the server as HTML with inline CSS and SVG: no script, no external
//! resource, nothing fetched from a network. Every string read from the store is escaped.
//! A [`Dashboard`] only reads: [`Dashboard::open_read_only`] opens each part of the embedded
//! store in SQLite's read-only mode, so the dashboard can run next to `mlcycle run` and
//! `mlcycle serve` writing to the same store, and can never change it.
//!
//! [`Dashboard::respond`] answers a path (routing and rendering, no HTTP), which is what
//! the tests call; [`serve`] (feature `http`) puts it behind an HTTP server.
//!
//! | path | page |
//! |---|---|
//! | `/` | overview: every model, pending approvals, latest alerts, audit status |
//! | `/models/{name}` | one model: monitoring charts, versions, aliases and their history, windows, alerts |
//! | `/models/{name}/versions/{version}` | the model card of a version, and its approval request |
//! | `/models/{name}/timeline` | the model's lifecycle on one time axis |
//! | `/approvals` | pending approval requests with validation summary and model card; decided ones |
//! | `/alerts` | every alert with its delivery status |
//! | `/audit` | the audit trail (`?page=N`, newest first) and its verification |
//!
//! ```
//! use mlcycle::ui::{Dashboard, DashboardSources};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dashboard = Dashboard::new(DashboardSources::in_memory(), "an empty store");
//! let page = dashboard.respond("/").await;
//! assert_eq!(page.status, 200);
//! assert!(page.body.contains("No model is registered"));
//! assert_eq!(dashboard.respond("/models/unknown").await.status, 404);
//! # });
//! ```

mod pages;
#[cfg(feature = "http")]
mod server;

#[cfg(feature = "http")]
pub use server::serve;

use crate::alerts::{AlertStore, MemoryAlertStore};
use crate::audit::{AuditLog, InMemoryAuditLog};
use crate::clock::SystemClock;
use crate::lifecycle::{InMemoryLifecycleState, LifecycleStateStore};
use crate::registry::{InMemoryRegistry, Registry};
use crate::{Error, Result};
use std::sync::Arc;

/// What the dashboard reads: the registry, the audit trail, the alerts and the lifecycle
/// state (approval requests) of one store.
#[derive(Debug, Clone)]
pub struct DashboardSources {
    /// Models, versions, aliases and their history.
    pub registry: Arc<dyn Registry>,
    /// The audit trail (monitoring windows, approvals, deployments are read from it).
    pub audit: Arc<dyn AuditLog>,
    /// Alerts and their delivery attempts.
    pub alerts: Arc<dyn AlertStore>,
    /// Approval requests.
    pub state: Arc<dyn LifecycleStateStore>,
}

impl DashboardSources {
    /// Empty in-memory sources (for examples and tests).
    pub fn in_memory() -> Self {
        let clock = Arc::new(SystemClock);
        DashboardSources {
            registry: Arc::new(InMemoryRegistry::new(clock.clone())),
            audit: Arc::new(InMemoryAuditLog::new(clock)),
            alerts: Arc::new(MemoryAlertStore::default()),
            state: Arc::new(InMemoryLifecycleState::default()),
        }
    }

    /// The parts of the embedded store in `dir`, each opened in SQLite's read-only mode (no
    /// migration, nothing created): reading works while other processes write; any change
    /// through these handles fails. The store must exist and have this mlcycle's schema.
    #[cfg(feature = "sqlite")]
    pub fn open_read_only(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let clock = Arc::new(SystemClock);
        Ok(DashboardSources {
            registry: Arc::new(crate::registry::SqliteRegistry::open_read_only(
                dir,
                clock.clone(),
            )?),
            audit: Arc::new(crate::audit::SqliteAuditLog::open_read_only(dir, clock)?),
            alerts: Arc::new(crate::alerts::SqliteAlertStore::open_read_only(dir)?),
            state: Arc::new(crate::lifecycle::SqliteLifecycleState::open_read_only(dir)?),
        })
    }
}

/// One answer of the dashboard: HTTP status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiResponse {
    /// HTTP status code: 200, 204 (the empty favicon), 404 (unknown page, model or
    /// version) or 500 (the store could not be read).
    pub status: u16,
    /// The body's content type (`text/html; charset=utf-8` for pages).
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

/// The dashboard over one store's sources. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dashboard {
    sources: DashboardSources,
    label: String,
}

/// A page of the dashboard, parsed from a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Overview,
    Model(String),
    Version(String, u32),
    Timeline(String),
    Approvals,
    Alerts,
    Audit { page: usize },
    Favicon,
}

/// `%XX` escapes decoded (invalid ones kept as written).
fn percent_decode(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Route {
    /// The route of a request target (`/path?query`); `None` for an unknown page.
    fn parse(target: &str) -> Option<Route> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let parts: Vec<String> = path
            .split('/')
            .filter(|p| !p.is_empty())
            .map(percent_decode)
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        Some(match parts.as_slice() {
            [] => Route::Overview,
            ["models", name] => Route::Model((*name).to_string()),
            ["models", name, "timeline"] => Route::Timeline((*name).to_string()),
            ["models", name, "versions", v] => Route::Version((*name).to_string(), v.parse().ok()?),
            ["approvals"] => Route::Approvals,
            ["alerts"] => Route::Alerts,
            ["audit"] => Route::Audit {
                page: query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1)
                    .max(1),
            },
            ["favicon.ico"] => Route::Favicon,
            _ => return None,
        })
    }
}

impl Dashboard {
    /// A dashboard over `sources`; `label` names the store in the page header (e.g. its
    /// directory).
    pub fn new(sources: DashboardSources, label: impl Into<String>) -> Self {
        Dashboard {
            sources,
            label: label.into(),
        }
    }

    /// The dashboard over the embedded store in `dir`, opened read-only (see
    /// [`DashboardSources::open_read_only`]).
    #[cfg(feature = "sqlite")]
    pub fn open_read_only(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Ok(Dashboard::new(
            DashboardSources::open_read_only(dir)?,
            dir.display().to_string(),
        ))
    }

    /// The answer to a GET of `target` (a path with an optional `?query`): the page as
    /// HTML with status 200, or an HTML error page with 404 (unknown page, model or
    /// version) or 500 (the store could not be read; the page says why).
    pub async fn respond(&self, target: &str) -> UiResponse {
        let html = |status: u16, body: String| UiResponse {
            status,
            content_type: "text/html; charset=utf-8",
            body,
        };
        let Some(route) = Route::parse(target) else {
            return html(
                404,
                pages::error_page(&self.label, 404, "No such page", "Start from the overview."),
            );
        };
        if route == Route::Favicon {
            return UiResponse {
                status: 204,
                content_type: "image/x-icon",
                body: String::new(),
            };
        }
        match self.render(&route).await {
            Ok(body) => html(200, body),
            Err(e @ Error::NotFound { .. }) => html(
                404,
                pages::error_page(&self.label, 404, "Not found", &e.to_string()),
            ),
            Err(e) => html(
                500,
                pages::error_page(
                    &self.label,
                    500,
                    "The store could not be read",
                    &e.to_string(),
                ),
            ),
        }
    }

    async fn render(&self, route: &Route) -> Result<String> {
        let s = &self.sources;
        let l = &self.label;
        match route {
            Route::Overview => pages::overview(l, s).await,
            Route::Model(name) => pages::model(l, s, name).await,
            Route::Version(name, v) => pages::version(l, s, name, *v).await,
            Route::Timeline(name) => pages::timeline(l, s, name).await,
            Route::Approvals => pages::approvals(l, s).await,
            Route::Alerts => pages::alerts(l, s).await,
            Route::Audit { page } => pages::audit(l, s, *page).await,
            Route::Favicon => Ok(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert_eq!(Route::parse("/"), Some(Route::Overview));
        assert_eq!(
            Route::parse("/models/credit"),
            Some(Route::Model("credit".into()))
        );
        assert_eq!(
            Route::parse("/models/credit/versions/3"),
            Some(Route::Version("credit".into(), 3))
        );
        assert_eq!(Route::parse("/models/credit/versions/x"), None);
        assert_eq!(
            Route::parse("/models/a%2Fb/timeline"),
            Some(Route::Timeline("a/b".into()))
        );
        assert_eq!(
            Route::parse("/audit?page=3"),
            Some(Route::Audit { page: 3 })
        );
        assert_eq!(
            Route::parse("/audit?page=0"),
            Some(Route::Audit { page: 1 })
        );
        assert_eq!(Route::parse("/nope"), None);
        assert_eq!(percent_decode("%3Cb%3E%zz%4"), "<b>%zz%4");
    }
}
