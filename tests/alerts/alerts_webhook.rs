//! The webhook sink against a real local HTTP receiver: the signature over the raw body,
//! the delivery header, the body's keys; retries with backoff, every attempt audited.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use mlcycle::alerts::{
    Alert, AlertDispatcher, AlertKind, Backoff, MemoryAlertStore, Severity, SleepFn, WebhookSink,
};
use mlcycle::audit::{AuditLog, AuditQuery, InMemoryAuditLog, actions};
use mlcycle::clock::SystemClock;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (headers, raw body) of the requests received.
type Requests = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Receiver {
    /// (headers, raw body) of every request.
    got: Requests,
    /// Answer 500 to this many requests first.
    fail_first: usize,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut got = r.got.lock().unwrap();
    got.push((headers, body.to_vec()));
    if got.len() <= r.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn serve(r: Receiver) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

/// A sleep that records the delay and returns at once.
fn recording_sleep() -> (SleepFn, Arc<Mutex<Vec<Duration>>>) {
    let delays = Arc::new(Mutex::new(Vec::new()));
    let d = delays.clone();
    let f: SleepFn = Arc::new(move |t| {
        d.lock().unwrap().push(t);
        Box::pin(async {})
    });
    (f, delays)
}

fn alert() -> Alert {
    let mut a = Alert::new(
        chrono::Utc::now(),
        Severity::Critical,
        AlertKind::DataQuality,
        "credit",
        "40% of income is missing since 10:00: fix the upstream feed; no retrain was started",
        "trace-1",
    );
    a.version = Some(3);
    a.details = serde_json::json!({"column": "income", "missing_rate": 0.4});
    a
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_reaches_a_real_receiver() {
    let r = Receiver::default();
    let url = serve(r.clone()).await;
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default()))
        .sink(Arc::new(WebhookSink::new(&url, "topsecret").unwrap()))
        .default_owner("ann@example.com");
    let a = alert();
    let rec = d.raise(a.clone()).await.unwrap();
    assert_eq!(rec.status(), "delivered");

    let got = r.got.lock().unwrap();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    let sig = headers["x-mlcycle-signature"].to_str().unwrap();
    assert_eq!(sig, format!("sha256={}", hmac_hex("topsecret", body)));
    assert_ne!(sig, format!("sha256={}", hmac_hex("wrong", body)));
    let delivery = headers["x-mlcycle-delivery"].to_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(delivery).unwrap(),
        rec.attempts[0].delivery_id
    );
    assert_eq!(headers["content-type"], "application/json");

    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "at", "details", "id", "kind", "model", "owner", "severity", "summary", "version"
        ]
    );
    assert_eq!(v["id"], a.id.to_string());
    assert_eq!(v["kind"], "data_quality");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["model"], "credit");
    assert_eq!(v["version"], 3);
    assert_eq!(v["owner"], "ann@example.com");
    assert_eq!(v["summary"], a.message);
    assert_eq!(v["details"]["missing_rate"], 0.4);
    chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_backoff_and_every_attempt_is_audited() {
    let r = Receiver {
        fail_first: 2,
        ..Default::default()
    };
    let url = serve(r.clone()).await;
    let (sleep, delays) = recording_sleep();
    let backoff = Backoff {
        attempts: 5,
        base: Duration::from_millis(400),
        max: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
    };
    let audit = Arc::new(InMemoryAuditLog::new(Arc::new(SystemClock)));
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default()))
        .sink(Arc::new(
            WebhookSink::new(&url, "s")
                .unwrap()
                .with_backoff(backoff)
                .with_sleep(sleep),
        ))
        .audit(audit.clone());
    let rec = d.raise(alert()).await.unwrap();

    let oks: Vec<bool> = rec.attempts.iter().map(|a| a.ok).collect();
    assert_eq!(oks, [false, false, true]);
    assert_eq!(rec.attempts[0].status, Some(500));
    assert_eq!(rec.status(), "delivered");
    assert_eq!(r.got.lock().unwrap().len(), 3);
    // One delivery id for every retry of the delivery.
    let ids: Vec<String> = r
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["x-mlcycle-delivery"].to_str().unwrap().to_string())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]));

    // Exponential backoff with jitter in [0.5, 1] of 400 ms, then of 800 ms.
    let delays = delays.lock().unwrap().clone();
    assert_eq!(delays.len(), 2);
    assert!(delays[0] >= Duration::from_millis(200) && delays[0] <= Duration::from_millis(400));
    assert!(delays[1] >= Duration::from_millis(400) && delays[1] <= Duration::from_millis(800));

    let records = audit
        .query(&AuditQuery {
            action: Some(actions::ALERT_DELIVERY.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let audited: Vec<(u64, bool)> = records
        .iter()
        .map(|r| {
            (
                r.entry.payload["attempt"].as_u64().unwrap(),
                r.entry.payload["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(audited, [(1, false), (2, false), (3, true)]);
    assert_eq!(records[0].entry.subjects, ["credit/3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_2xx_exhausts_the_attempts() {
    let r = Receiver {
        fail_first: usize::MAX,
        ..Default::default()
    };
    let url = serve(r.clone()).await;
    let (sleep, delays) = recording_sleep();
    let sink = WebhookSink::new(&url, "s")
        .unwrap()
        .with_backoff(Backoff {
            attempts: 3,
            ..Backoff::default()
        })
        .with_sleep(sleep);
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default())).sink(Arc::new(sink));
    let rec = d.raise(alert()).await.unwrap();
    assert_eq!(rec.attempts.len(), 3);
    assert_eq!(rec.status(), "failed");
    assert_eq!(delays.lock().unwrap().len(), 2);
}

#[test]
fn bad_urls_and_empty_secrets_are_refused() {
    assert!(WebhookSink::new("localhost:80/x", "s").is_err());
    assert!(WebhookSink::new("http:///x", "s").is_err());
    let e = WebhookSink::new("http://h/x", "").unwrap_err().to_string();
    assert!(e.contains("MLCYCLE_WEBHOOK_SECRET"), "{e}");
}

/// An HTTPS receiver for `localhost` with a self-signed certificate: answers each request
/// 200 and sends (raw request head, body) down the channel. Returns the URL and the
/// certificate's PEM.
async fn serve_https() -> (
    String,
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body_start) = loop {
                    let n = tls.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the client closed before a full request");
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (String::from_utf8_lossy(&buf[..i]).to_lowercase(), i + 4);
                    }
                };
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while buf.len() < body_start + len {
                    let n = tls.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the client closed before the whole body");
                    buf.extend_from_slice(&chunk[..n]);
                }
                tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                tls.shutdown().await.ok();
                let _ = tx.send((head, buf[body_start..body_start + len].to_vec()));
            });
        }
    });
    (format!("https://localhost:{port}/hook"), ck.cert.pem(), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_receiver_gets_the_signed_alert_when_its_ca_is_trusted() {
    let (url, ca, mut rx) = serve_https().await;
    let sink = WebhookSink::new(&url, "topsecret")
        .unwrap()
        .with_root_certificates(ca.as_bytes())
        .unwrap();
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default())).sink(Arc::new(sink));
    let rec = d.raise(alert()).await.unwrap();
    assert_eq!(rec.status(), "delivered", "{:?}", rec.attempts);
    let (head, body) = rx.recv().await.unwrap();
    assert!(head.starts_with("post /hook http/1.1"), "{head}");
    assert!(
        head.contains(&format!(
            "x-mlcycle-signature: sha256={}",
            hmac_hex("topsecret", &body)
        )),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["kind"], "data_quality");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_receiver_with_an_untrusted_certificate_is_a_failed_delivery() {
    let (url, _ca, mut rx) = serve_https().await;
    let sink = WebhookSink::new(&url, "topsecret")
        .unwrap()
        .with_backoff(Backoff {
            attempts: 1,
            base: Duration::from_millis(1),
            max: Duration::from_millis(1),
            timeout: Duration::from_secs(5),
        });
    let d = AlertDispatcher::new(Arc::new(MemoryAlertStore::default())).sink(Arc::new(sink));
    let rec = d.raise(alert()).await.unwrap();
    assert_eq!(rec.status(), "failed");
    let err = rec.attempts[0].error.as_deref().unwrap();
    assert!(err.contains("could not post to https://localhost"), "{err}");
    assert!(
        rx.try_recv().is_err(),
        "nothing may reach an untrusted receiver"
    );
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let e = WebhookSink::new("https://h/x", "s")
        .unwrap()
        .with_root_certificates(b"not a certificate")
        .unwrap_err()
        .to_string();
    assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
}
