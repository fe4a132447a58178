//! The accept loop: one HTTP/1.1 connection per accepted socket, under a connection cap,
//! a header-read timeout and an idle keep-alive timeout.
//!
//! - **Connection cap** ([`super::Limits::max_connections`]): a connection accepted while
//!   the cap is reached gets an immediate `503 Service Unavailable` with `Retry-After: 1`
//!   and is closed, so a flood of idle sockets cannot exhaust file descriptors.
//! - **Header timeout** ([`super::Limits::header_timeout`]): a new connection must deliver a
//!   complete request header within this time from being accepted, and so must a keep-alive
//!   connection from the first byte of its next request; otherwise it is closed.
//! - **Idle timeout** ([`super::Limits::idle_timeout`]): a keep-alive connection on which no
//!   byte arrives for this long after its last answer is closed.
//!
//! Time spent inside a request (reading its body, scoring) is bounded by the request time
//! limit of the middleware, not here.

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

/// Connection settings taken from the server's limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// The body of the answer to a connection over the cap.
const OVER_CAP_BODY: &str =
    r#"{"error":"the server has reached its connection limit; retry in a second"}"#;

/// The answer to a connection over the cap (written without reading the request).
fn over_cap_response() -> Vec<u8> {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{OVER_CAP_BODY}",
        OVER_CAP_BODY.len()
    )
    .into_bytes()
}

/// How a connection's socket is turned into the stream HTTP is spoken over (plain TCP, or
/// a TLS handshake first).
pub(super) trait Handshake: Send + Sync + 'static {
    /// The stream after the handshake.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Perform the handshake (bounded in time by the caller).
    fn handshake(
        &self,
        tcp: TcpStream,
    ) -> Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send + '_>>;
}

/// Plain TCP.
pub(super) struct Plain;

impl Handshake for Plain {
    type Stream = TcpStream;
    fn handshake(
        &self,
        tcp: TcpStream,
    ) -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + '_>> {
        Box::pin(async move { Ok(tcp) })
    }
}

/// TLS (rustls, `ring` provider) before HTTP.
#[cfg(feature = "tls")]
pub(super) struct Tls(pub tokio_rustls::TlsAcceptor);

#[cfg(feature = "tls")]
impl Handshake for Tls {
    type Stream = tokio_rustls::server::TlsStream<TcpStream>;
    fn handshake(
        &self,
        tcp: TcpStream,
    ) -> Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send + '_>> {
        Box::pin(self.0.accept(tcp))
    }
}

/// The rustls server configuration of a certificate chain and key in PEM files.
#[cfg(feature = "tls")]
pub(super) fn tls_acceptor(tls: &super::TlsConfig) -> crate::Result<Tls> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, why: String| {
        crate::Error::invalid(format!("TLS file {}", path.display()), why)
    };
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            bad(
                &tls.cert,
                format!("could not read a PEM certificate chain from it: {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err(bad(
            &tls.cert,
            "it holds no `BEGIN CERTIFICATE` block: give the server's certificate chain in PEM"
                .into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| {
        bad(
            &tls.key,
            format!("could not read a PEM private key (PKCS#8, PKCS#1 or SEC1) from it: {e}"),
        )
    })?;
    // `ring` rather than the default aws-lc-rs: it builds without cmake or a C++ toolchain.
    // (Deprecated only for lacking the post-quantum key exchange.)
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::invalid("TLS", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            bad(
                &tls.key,
                format!("the key does not fit the certificate or is not usable: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

/// Accept connections until `stop` fires, then let open connections finish their
/// requests (idle ones close at once) and return when all have closed.
pub(super) async fn serve<H: Handshake>(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    handshake: Arc<H>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> io::Result<()> {
    // At most u32::MAX: all permits are taken back at once when stopping.
    let cap = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let permits = Arc::new(Semaphore::new(cap));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let over_cap = over_cap_response();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let (tcp, _peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and similar: back off briefly instead of spinning.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // The socket is fresh, so its send buffer takes the short answer at once.
            let _ = tcp.try_write(&over_cap);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let handshake = handshake.clone();
        let shutdown = shutdown_rx.clone();
        tokio::spawn(async move {
            serve_connection(tcp, app, limits, handshake, shutdown).await;
            drop(permit);
        });
    }
    // Refuse new connections at once rather than leave them in the backlog.
    drop(listener);
    let _ = shutdown_tx.send(true);
    // Every open connection holds a permit: having them all means all have closed.
    let _ = permits.acquire_many(cap as u32).await;
    Ok(())
}

/// Activity of one connection, in milliseconds since it was accepted.
struct Activity {
    start: Instant,
    /// Requests being handled.
    active: AtomicUsize,
    /// Whether a request has been answered on this connection.
    answered: AtomicBool,
    /// When the last request was answered.
    last_done: AtomicU64,
    /// When a byte was last written.
    last_write: AtomicU64,
    /// When the first byte after the last answer arrived (`u64::MAX`: none yet).
    first_read: AtomicU64,
    /// Wakes the watchdog when any of the above changes the deadline.
    changed: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            active: AtomicUsize::new(0),
            answered: AtomicBool::new(false),
            last_done: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            first_read: AtomicU64::new(u64::MAX),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// When the connection is to be closed, if no request is in progress.
    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.answered.load(Ordering::Acquire) {
            return Some(self.start + limits.header_timeout);
        }
        let first = self.first_read.load(Ordering::Acquire);
        if first != u64::MAX {
            return Some(self.at(first) + limits.header_timeout);
        }
        let base = self
            .last_done
            .load(Ordering::Acquire)
            .max(self.last_write.load(Ordering::Acquire));
        Some(self.at(base) + limits.idle_timeout)
    }

    /// Resolves when the connection has been idle or slow past its limit.
    async fn expired(&self, limits: &ConnLimits) {
        loop {
            let wait = match self.deadline(limits) {
                Some(d) if Instant::now() >= d => return,
                Some(d) => d,
                // A request in progress: its own time limit applies; look again later.
                None => Instant::now() + limits.header_timeout.min(limits.idle_timeout),
            };
            // A change of state (a request starting or ending, a first byte) may move the
            // deadline either way: recompute then.
            tokio::select! {
                _ = tokio::time::sleep_until(wait.into()) => {}
                _ = self.changed.notified() => {}
            }
        }
    }
}

/// Marks a request in progress on its connection while alive.
struct InProgress(Arc<Activity>);

impl InProgress {
    fn new(a: Arc<Activity>) -> Self {
        a.active.fetch_add(1, Ordering::AcqRel);
        a.changed.notify_one();
        InProgress(a)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_done.store(a.now_ms(), Ordering::Release);
        a.first_read.store(u64::MAX, Ordering::Release);
        a.answered.store(true, Ordering::Release);
        a.active.fetch_sub(1, Ordering::AcqRel);
        a.changed.notify_one();
    }
}

/// A stream that notes when bytes are read and written.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let a = &self.activity;
            let now = a.now_ms();
            if a.first_read
                .compare_exchange(u64::MAX, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                a.changed.notify_one();
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            let a = &self.activity;
            a.last_write.store(a.now_ms(), Ordering::Release);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            let a = &self.activity;
            a.last_write.store(a.now_ms(), Ordering::Release);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn serve_connection<H: Handshake>(
    tcp: TcpStream,
    app: Router,
    limits: ConnLimits,
    handshake: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    // The handshake counts against the header timeout.
    let stream = match tokio::time::timeout(limits.header_timeout, handshake.handshake(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!("connection handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let per_request = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut app = app.clone();
        let guard = InProgress::new(per_request.clone());
        async move {
            let r = app.call(req.map(Body::new)).await;
            drop(guard);
            r
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *shutdown.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection closed with an error: {e}");
                }
                return;
            }
            _ = activity.expired(&limits) => return,
            changed = shutdown.changed(), if !stopping => {
                if changed.is_err() || *shutdown.borrow() {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
