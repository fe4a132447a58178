use super::{Alert, AlertSink, DeliveryAttempt, DeliveryReport};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::Utc;
use hmac::{KeyInit, Mac};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How a [`WebhookSink`] waits between attempts (tokio's sleep by default; tests inject one
/// that records the delays and returns at once).
pub type SleepFn = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Retry policy of a [`WebhookSink`]: at most `attempts` attempts, each limited to
/// `timeout`; before attempt `n + 1` it waits `base · 2^(n-1)` (at most `max`), scaled by a
/// random factor in [0.5, 1] (jitter, so many senders do not retry in step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Time limit of one attempt (connect + answer).
    pub timeout: Duration,
}

impl Default for Backoff {
    /// 5 attempts, waits of 1 s, 2 s, 4 s, 8 s (before jitter), 10 s per attempt.
    fn default() -> Self {
        Backoff {
            attempts: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before attempt `n + 1` after attempt `n` failed, before jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// A sink that POSTs each alert as JSON (see [`WebhookBody`](super::WebhookBody)) to a URL,
/// signed like GitHub's webhooks: header `X-Mlcycle-Signature: sha256=<hex HMAC-SHA256 of
/// the raw body keyed with the shared secret>`, and `X-Mlcycle-Delivery: <uuid>` (the same
/// for every retry of one delivery). Connection failures, timeouts and non-2xx answers are
/// retried with exponential backoff and jitter (see [`Backoff`]).
///
/// `http://` and `https://` URLs. HTTPS uses rustls (the `ring` provider) and verifies the
/// receiver's certificate against the platform's roots; a private CA is added with
/// [`WebhookSink::with_root_certificates`].
///
/// ```
/// use mlcycle::alerts::WebhookSink;
/// let sink = WebhookSink::new("http://127.0.0.1:9/hook", "s3cret").unwrap();
/// assert!(WebhookSink::new("https://hooks.example.com/services/T0/B0", "s3cret").is_ok());
/// assert!(WebhookSink::new("ftp://x", "s").is_err());
/// // The receiver checks the signature of the raw body with the same secret:
/// let sig = WebhookSink::signature("s3cret", br#"{"id":"..."}"#);
/// assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
/// # let _ = sink;
/// ```
#[derive(Clone)]
pub struct WebhookSink {
    url: String,
    name: String,
    secret: String,
    backoff: Backoff,
    /// TLS settings for `https://` URLs (the platform's roots plus any added).
    tls: Arc<rustls::ClientConfig>,
    /// Roots trusted besides the platform's (DER).
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    sleep: SleepFn,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl WebhookSink {
    /// A sink posting to `url` (`http://` or `https://`), signing with `secret`, with the
    /// default [`Backoff`]. An empty secret is refused: receivers could not tell real alerts
    /// from forged ones.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Result<WebhookSink> {
        let url = url.into();
        let secret = secret.into();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                Error::invalid(
                    format!("webhook URL `{url}`"),
                    "must start with http:// or https://",
                )
            })?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err(Error::invalid(
                format!("webhook URL `{url}`"),
                "has no host; write e.g. https://alerts.example/hook",
            ));
        }
        if secret.is_empty() {
            return Err(Error::invalid(
                "webhook secret",
                "is empty; set MLCYCLE_WEBHOOK_SECRET to a shared secret the receiver also knows",
            ));
        }
        Ok(WebhookSink {
            name: format!("webhook:{host}"),
            url,
            secret,
            backoff: Backoff::default(),
            tls: tls_config(&[])?,
            extra_roots: Vec::new(),
            sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
        })
    }

    /// The same sink also trusting the CA certificates in `pem` (one or more PEM
    /// `CERTIFICATE` blocks) for `https://` receivers, besides the platform's roots: for a
    /// receiver behind a private CA.
    pub fn with_root_certificates(mut self, pem: &[u8]) -> Result<WebhookSink> {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::invalid(
                    "webhook CA certificates",
                    format!(
                        "are not PEM certificates ({e}): give a file of BEGIN CERTIFICATE blocks"
                    ),
                )
            })?;
        if certs.is_empty() {
            return Err(Error::invalid(
                "webhook CA certificates",
                "hold no PEM certificate: give a file of BEGIN CERTIFICATE blocks",
            ));
        }
        self.extra_roots.extend(certs);
        self.tls = tls_config(&self.extra_roots)?;
        Ok(self)
    }

    /// The same sink with retry policy `backoff`.
    pub fn with_backoff(mut self, backoff: Backoff) -> WebhookSink {
        self.backoff = Backoff {
            attempts: backoff.attempts.max(1),
            ..backoff
        };
        self
    }

    /// The same sink waiting between attempts with `sleep` instead of tokio's timer.
    pub fn with_sleep(mut self, sleep: SleepFn) -> WebhookSink {
        self.sleep = sleep;
        self
    }

    /// The URL posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `X-Mlcycle-Signature` value of `body` under `secret`: `sha256=` and the hex
    /// HMAC-SHA256.
    pub fn signature(secret: &str, body: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    async fn attempt(
        &self,
        body: &[u8],
        signature: &str,
        delivery: Uuid,
    ) -> (Option<u16>, Option<String>) {
        let sent = tokio::time::timeout(
            self.backoff.timeout,
            self.post(body, signature, &delivery.to_string()),
        )
        .await;
        match sent {
            Ok(Ok(status)) if (200..300).contains(&status) => (Some(status), None),
            Ok(Ok(status)) => (
                Some(status),
                Some(format!("the receiver answered {status}")),
            ),
            Ok(Err(e)) => (None, Some(format!("could not post to {}: {e}", self.url))),
            Err(_) => (
                None,
                Some(format!("no answer within {:?}", self.backoff.timeout)),
            ),
        }
    }

    /// One POST of `body` over HTTP/1.1 (TLS for `https://`); the answer's status.
    async fn post(
        &self,
        body: &[u8],
        signature: &str,
        delivery: &str,
    ) -> std::result::Result<u16, String> {
        let uri: hyper::Uri = self
            .url
            .parse()
            .map_err(|e| format!("the URL does not parse: {e}"))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or("the URL has no host")?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| host.to_string());
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = tokio::net::TcpStream::connect((bare_host, port))
            .await
            .map_err(|e| format!("connecting to {authority}: {e}"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let request = hyper::Request::post(path)
            .header("host", &authority)
            .header("content-type", "application/json")
            .header("user-agent", concat!("mlcycle/", env!("CARGO_PKG_VERSION")))
            .header("x-mlcycle-signature", signature)
            .header("x-mlcycle-delivery", delivery)
            .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
                body,
            )))
            .map_err(|e| format!("the request could not be built: {e}"))?;
        if https {
            let name = rustls::pki_types::ServerName::try_from(bare_host.to_string())
                .map_err(|e| format!("`{bare_host}` is not a valid TLS server name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {authority}: {e}"))?;
            send(tls, request).await
        } else {
            send(tcp, request).await
        }
    }
}

/// Send `request` on a fresh HTTP/1.1 connection over `io`; the answer's status (its body
/// is drained, not read).
async fn send<T>(
    io: T,
    request: hyper::Request<http_body_util::Full<bytes::Bytes>>,
) -> std::result::Result<u16, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use http_body_util::BodyExt;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
    let driver = tokio::spawn(conn);
    let answer = sender.send_request(request).await;
    let result = match answer {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read the (small) answer so the connection ends cleanly.
            let _ = r.into_body().collect().await;
            Ok(status)
        }
        Err(e) => Err(format!("no HTTP answer: {e}")),
    };
    drop(sender);
    driver.abort();
    result
}

/// The TLS settings: rustls with the `ring` provider (passed in, so no process-wide default
/// provider is installed), verifying against the platform's roots plus `extra_roots`.
fn tls_config(
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>> {
    let built = |what: &str, e: String| {
        Error::invalid(
            "webhook TLS settings",
            format!("could not be built ({what}): {e}"),
        )
    };
    // `ring` as for the server (builds without cmake); deprecated only for lacking the
    // post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(
            extra_roots.iter().cloned(),
            provider.clone(),
        )
    }
    .map_err(|e| built("certificate verifier", e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| built("TLS versions", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn jitter(d: Duration) -> Duration {
    // A factor in [0.5, 1]; a fresh v4 uuid is 122 random bits, plenty for this.
    let r = (Uuid::new_v4().as_u128() % 1_000) as f64 / 1_000.0;
    d.mul_f64(0.5 + 0.5 * r)
}

#[async_trait]
impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, alert: &Alert) -> DeliveryReport {
        let body = match serde_json::to_vec(&alert.webhook_body()) {
            Ok(b) => b,
            Err(e) => {
                return DeliveryReport::single(
                    &self.name,
                    false,
                    Some(format!("the alert could not be serialised: {e}")),
                );
            }
        };
        let signature = Self::signature(&self.secret, &body);
        let delivery = Uuid::new_v4();
        let mut report = DeliveryReport::default();
        for n in 1..=self.backoff.attempts.max(1) {
            let at = Utc::now();
            let (status, error) = self.attempt(&body, &signature, delivery).await;
            let ok = error.is_none();
            report.attempts.push(DeliveryAttempt {
                sink: self.name.clone(),
                attempt: n,
                delivery_id: delivery,
                at,
                ok,
                status,
                error,
            });
            if ok {
                break;
            }
            if n < self.backoff.attempts {
                (self.sleep)(jitter(self.backoff.delay(n))).await;
            }
        }
        report
    }
}
