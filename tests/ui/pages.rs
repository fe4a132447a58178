//! The dashboard's pages over a demo store: each renders, shows the store's models and
//! versions, escapes what the store holds, answers 404 for what it does not hold, and never
//! changes the store.

use crate::support::{ALERT_MESSAGE, MODEL, OWNER, demo_store};
use mlcycle::audit::{AuditEntry, AuditLog, SqliteAuditLog};
use mlcycle::clock::SystemClock;
use mlcycle::registry::{Change, Registry, SqliteRegistry};
use mlcycle::ui::{Dashboard, serve};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

const PAGES: &[&str] = &[
    "/",
    "/models/credit-default",
    "/models/credit-default/versions/1",
    "/models/credit-default/versions/2",
    "/models/credit-default/timeline",
    "/approvals",
    "/alerts",
    "/audit",
];

async fn ok(d: &Dashboard, path: &str) -> String {
    let r = d.respond(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_eq!(r.content_type, "text/html; charset=utf-8");
    assert!(r.body.starts_with("<!DOCTYPE html>"), "{path}");
    assert!(r.body.trim_end().ends_with("</html>"), "{path}");
    r.body
}

#[tokio::test]
async fn every_page_renders_with_the_store_s_models_and_versions() {
    let store = demo_store();
    let d = Dashboard::open_read_only(store.path()).unwrap();
    for p in PAGES {
        let html = ok(&d, p).await;
        assert!(html.contains(MODEL), "{p} does not name the model");
        let lower = html.to_ascii_lowercase();
        // (The alert's text holds `src=`, shown as text.)
        for banned in [
            "<script", "<img", "<link", "http://", "https://", "@import", "url(",
        ] {
            assert!(!lower.contains(banned), "{p} contains `{banned}`");
        }
    }
    let overview = ok(&d, "/").await;
    assert!(overview.contains("href=\"/models/credit-default\""));
    assert!(overview.contains("chain verified"), "{overview}");
    // v1 serves, v2 (a retraining) waits for a person.
    assert!(overview.contains("credit-default/2"));
    assert!(overview.contains("pending approvals<b>1</b>"));

    let model = ok(&d, "/models/credit-default").await;
    for v in 1..=2 {
        assert!(
            model.contains(&format!("href=\"/models/credit-default/versions/{v}\"")),
            "version {v} missing"
        );
    }
    assert!(model.contains("pending_approval") && model.contains("approved"));
    assert!(model.contains("production"), "the alias is shown");
    assert!(model.contains("Alias history"));
    // Monitoring charts: drift, rows, error rate, latency.
    assert!(model.matches("<svg").count() >= 4, "charts missing");
    assert!(model.contains("drift per monitoring window of credit-default"));
    assert!(model.contains("DRIFT"), "a drifted window is flagged");

    let card = ok(&d, "/models/credit-default/versions/2").await;
    assert!(card.contains("Model card: credit-default/2"));
    assert!(card.contains("Approval request") && card.contains("pending"));

    let approvals = ok(&d, "/approvals").await;
    assert!(approvals.contains("1 pending"), "{approvals}");
    assert!(approvals.contains("Model card: credit-default/2"));
    assert!(approvals.contains("holdout rows"));

    let timeline = ok(&d, "/models/credit-default/timeline").await;
    assert!(timeline.contains("Lifecycle of credit-default") && timeline.contains("<svg"));

    let audit = ok(&d, "/audit").await;
    assert!(audit.contains("chain verified"));
    assert!(audit.contains("version.registered"));
}

#[tokio::test]
async fn strings_from_the_store_are_escaped() {
    let store = demo_store();
    let d = Dashboard::open_read_only(store.path()).unwrap();
    let escaped_owner = "&lt;script&gt;alert(&#39;owner&#39;)&lt;/script&gt; &amp; risk team";
    for p in [
        "/",
        "/models/credit-default",
        "/models/credit-default/versions/2",
    ] {
        let html = ok(&d, p).await;
        assert!(
            html.contains(escaped_owner),
            "{p} does not show the owner escaped"
        );
        assert!(!html.contains(OWNER), "{p} has the owner unescaped");
    }
    let escaped_alert = "&lt;img src=x onerror=alert(1)&gt; inputs &quot;drifted&quot;";
    for p in ["/", "/alerts", "/models/credit-default"] {
        let html = ok(&d, p).await;
        assert!(
            html.contains(escaped_alert),
            "{p} does not show the alert escaped"
        );
        assert!(!html.contains(ALERT_MESSAGE), "{p} has the alert unescaped");
        assert!(!html.contains("<img"), "{p}");
    }
    // A request path is echoed nowhere unescaped either.
    let r = d.respond("/models/%3Cb%3Ex%3C%2Fb%3E").await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("<b>x</b>") && r.body.contains("&lt;b&gt;x&lt;/b&gt;"));
}

#[tokio::test]
async fn unknown_pages_models_and_versions_answer_404() {
    let store = demo_store();
    let d = Dashboard::open_read_only(store.path()).unwrap();
    for p in [
        "/models/no-such-model",
        "/models/no-such-model/timeline",
        "/models/no-such-model/versions/1",
        "/models/credit-default/versions/99",
        "/models/credit-default/versions/x",
        "/nothing-here",
    ] {
        let r = d.respond(p).await;
        assert_eq!(r.status, 404, "{p}");
        assert!(r.body.contains("404"), "{p}");
    }
    let r = d.respond("/models/no-such-model").await;
    assert!(
        r.body.contains("no-such-model"),
        "the page says what was not found"
    );
}

fn digest(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        // SQLite's shared-memory index is not store content.
        if e.file_type().unwrap().is_file() && !name.ends_with("-shm") {
            let bytes = std::fs::read(e.path()).unwrap();
            out.push((name, hex::encode(Sha256::digest(&bytes))));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_dashboard_never_writes_to_the_store() {
    let store = demo_store();
    let before = digest(store.path());
    let d = Dashboard::open_read_only(store.path()).unwrap();
    for p in PAGES {
        ok(&d, p).await;
    }
    drop(d);
    let after: Vec<(String, String)> = digest(store.path())
        .into_iter()
        // Opening a WAL database may create an empty write-ahead log; it holds nothing.
        .filter(|(n, sha)| {
            let new_empty_wal = n.ends_with("-wal")
                && sha.as_str() == hex::encode(Sha256::digest(b""))
                && !before.iter().any(|(b, _)| b == n);
            !new_empty_wal
        })
        .collect();
    assert_eq!(before, after, "the store's files changed");
    // The read-only handles refuse changes.
    let registry = SqliteRegistry::open_read_only(store.path(), Arc::new(SystemClock)).unwrap();
    assert!(registry.set_tag(MODEL, 1, "k", "v").await.is_err());
    let audit = SqliteAuditLog::open_read_only(store.path(), Arc::new(SystemClock)).unwrap();
    let entry = AuditEntry {
        actor: "t".into(),
        action: "x".into(),
        subjects: vec![],
        payload: serde_json::json!({}),
        trace_id: "t".into(),
    };
    assert!(audit.append(entry).await.is_err());
    // A directory that is not a store is refused, and not created.
    let missing = store.path().join("nothing");
    assert!(Dashboard::open_read_only(&missing).is_err());
    assert!(!missing.exists());
}

#[tokio::test]
async fn pages_answer_while_another_process_writes() {
    let store = demo_store();
    let d = Dashboard::open_read_only(store.path()).unwrap();
    let writer = SqliteRegistry::open_audited(store.path(), Arc::new(SystemClock), None).unwrap();
    let before = ok(&d, "/audit").await;
    let n_before = before.matches("<tr>").count();
    let write = tokio::spawn(async move {
        for i in 0..20 {
            writer
                .set_owner(
                    MODEL,
                    Some(&format!("owner {i}")),
                    Change::new("test", "concurrent write"),
                )
                .await
                .unwrap();
        }
    });
    while !write.is_finished() {
        ok(&d, "/models/credit-default").await;
        ok(&d, "/").await;
    }
    write.await.unwrap();
    // The new records are visible to the open dashboard.
    let after = ok(&d, "/audit").await;
    assert!(after.contains("owner 19"), "the last write is not shown");
    assert!(ok(&d, "/").await.contains("owner 19"));
    assert!(after.matches("<tr>").count() > n_before);
}

#[tokio::test]
async fn over_http_pages_are_html_with_a_strict_policy_and_read_only() {
    let store = demo_store();
    let d = Dashboard::open_read_only(store.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, d, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{addr}/models/credit-default"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<svg"));
    let r = client
        .get(format!("http://{addr}/models/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .post(format!("http://{addr}/approvals"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
