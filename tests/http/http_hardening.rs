//! The server under hostile clients: the API token, the connection cap, header and idle
//! timeouts, the in-flight limit, bodies counted before they are parsed, request ids that
//! cannot replace another record.

use crate::http_support::{Fixture, header, start};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// The longest any test here waits for the server to act.
const BOUND: Duration = Duration::from_secs(5);

/// An MLflow `dataframe_split` body of the fixture's rows `0..n`.
fn split_rows(f: &Fixture, n: usize) -> Value {
    let schema = f.data.schema();
    let columns: Vec<&str> = schema.features.iter().map(|c| c.name.as_str()).collect();
    let data: Vec<Vec<Value>> = (0..n)
        .map(|r| (0..columns.len()).map(|c| f.raw_value(r, c)).collect())
        .collect();
    json!({ "dataframe_split": { "columns": columns, "data": data } })
}

/// Write all of `bytes` (the socket API without tokio's extension traits).
async fn send_all(s: &TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        s.writable().await.unwrap();
        match s.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

/// One read: `Ok(0)` at the end of the stream.
async fn read_some(s: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            r => return r,
        }
    }
}

async fn connect(f: &Fixture) -> TcpStream {
    TcpStream::connect(f.server.local_addr()).await.unwrap()
}

/// Read until the peer closes (or resets) the connection; what was read. Panics when it
/// stays open longer than `bound`.
async fn read_to_close(s: &TcpStream, bound: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, read_some(s, &mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the connection is still open after {bound:?}; read so far: {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

#[tokio::test]
async fn the_api_token_guards_every_route_but_the_health_probes() {
    let f = start(|c| {
        c.api_token = Some("api-s3cret".into());
        c.admin_token = Some("adm-s3cret".into());
    })
    .await;
    let body = split_rows(&f, 2).to_string();
    for probe in ["/v2/health/live", "/v2/health/ready", "/ping", "/health"] {
        assert_eq!(f.get(probe).await.0, 200, "{probe} is a health probe");
    }
    for path in ["/metrics", "/version", "/v2", "/v2/models/credit"] {
        let (s, _, b) = f.get(path).await;
        assert_eq!(s, 401, "{path}: {}", String::from_utf8_lossy(&b));
    }
    let (s, _, b) = f
        .post("/invocations", Some("application/json"), body.clone())
        .await;
    assert_eq!(s, 401);
    let msg: Value = serde_json::from_slice(&b).unwrap();
    assert!(
        msg["message"]
            .as_str()
            .unwrap()
            .contains("MLCYCLE_API_TOKEN"),
        "{msg}"
    );
    let wrong = f
        .client
        .post(f.url("/invocations"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer api-s3creT")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = f
        .client
        .post(f.url("/invocations"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer api-s3cret")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    let metrics = f
        .client
        .get(f.url("/metrics"))
        .header("authorization", "Bearer api-s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    // Admin routes keep the admin token (no approvals configured here: 501 once admitted).
    let admin = f
        .client
        .get(f.url("/admin/pending"))
        .header("authorization", "Bearer adm-s3cret")
        .send()
        .await
        .unwrap();
    assert_ne!(admin.status().as_u16(), 401);
    let admin_with_api_token = f
        .client
        .get(f.url("/admin/pending"))
        .header("authorization", "Bearer api-s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(admin_with_api_token.status().as_u16(), 401);
    assert_eq!(
        mlcycle::deploy::http::API_TOKEN_ENV,
        "MLCYCLE_API_TOKEN",
        "the environment variable `mlcycle serve` reads"
    );
}

#[tokio::test]
async fn a_connection_sending_half_a_header_is_closed_after_the_header_timeout() {
    let f = start(|c| c.limits.header_timeout = Duration::from_millis(300)).await;
    let half = connect(&f).await;
    send_all(
        &half,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Ty",
    )
    .await;
    let silent = connect(&f).await;
    let started = Instant::now();
    let got = read_to_close(&half, BOUND).await;
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{got:?}");
    read_to_close(&silent, BOUND).await;
    assert!(started.elapsed() < BOUND);
    // The server still answers.
    assert_eq!(f.get("/v2/health/live").await.0, 200);
}

#[tokio::test]
async fn the_default_header_timeout_is_ten_seconds() {
    let l = mlcycle::deploy::http::Limits::default();
    assert_eq!(l.header_timeout, Duration::from_secs(10));
    assert!(l.idle_timeout >= l.header_timeout);
    assert!(l.max_connections > 0 && l.max_in_flight > 0);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let f = start(|c| c.limits.idle_timeout = Duration::from_millis(300)).await;
    let s = connect(&f).await;
    send_all(&s, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // The answer comes, then the connection is closed for silence.
    let got = read_to_close(&s, BOUND).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"live\":true"), "{text}");
}

#[tokio::test]
async fn a_connection_over_the_cap_is_answered_503_and_closed() {
    let f = start(|c| c.limits.max_connections = 1).await;
    let first = connect(&f).await;
    // The answer comes without a request (sending one first could meet a reset instead).
    let second = connect(&f).await;
    let got = read_to_close(&second, BOUND).await;
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(text.contains("connection limit"), "{text}");
    // Once the first connection goes, a new one is served.
    drop(first);
    let deadline = Instant::now() + BOUND;
    loop {
        let s = connect(&f).await;
        send_all(
            &s,
            b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let got = read_to_close(&s, BOUND).await;
        if got.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn requests_over_the_in_flight_limit_get_503_with_retry_after() {
    let f = start(|c| c.limits.max_in_flight = 1).await;
    // A request whose body never completes holds the only slot.
    let held = connect(&f).await;
    send_all(
        &held,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"dataframe_split\":",
    )
    .await;
    let deadline = Instant::now() + BOUND;
    let (status, headers) = loop {
        let (s, h, _) = f.get("/version").await;
        if s == 503 || Instant::now() >= deadline {
            break (s, h);
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(status, 503);
    assert_eq!(header(&headers, "retry-after"), "1");
    // Health probes are not counted against the limit.
    assert_eq!(f.get("/v2/health/live").await.0, 200);
    drop(held);
}

#[tokio::test]
async fn two_million_tiny_records_are_refused_naming_the_row_limit() {
    let f = start(|_| {}).await;
    let mut body = String::with_capacity(16_100_000);
    body.push_str("{\"dataframe_records\":[");
    for i in 0..2_000_000 {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"a\":1}");
    }
    body.push_str("]}");
    let (s, _, b) = f.post("/invocations", Some("application/json"), body).await;
    assert_eq!(s, 400);
    let msg: Value = serde_json::from_slice(&b).unwrap();
    let text = msg["message"].as_str().unwrap();
    assert!(text.contains("max_rows"), "{text}");
    assert!(text.contains("more than 100000 rows"), "{text}");
}

#[tokio::test]
async fn rows_and_values_are_counted_in_every_body_shape() {
    let f = start(|c| c.limits.max_rows = 3).await;
    let ok = split_rows(&f, 3);
    assert_eq!(f.post_json("/invocations", &ok).await.0, 200);
    let over = split_rows(&f, 4);
    let (s, b) = f.post_json("/invocations", &over).await;
    assert_eq!(s, 400);
    assert!(b["message"].as_str().unwrap().contains("max_rows"), "{b}");
    // instances as a list of rows.
    let rows = over["dataframe_split"]["data"].clone();
    let (s, b) = f
        .post_json("/invocations", &json!({ "instances": rows }))
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("max_rows"), "{b}");
    // V2: a tensor of far more values than max_rows × features allows.
    let n = 20_000;
    let data: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let body = json!({"inputs": [{"name": "x", "shape": [n], "datatype": "FP64", "data": data}]});
    let (s, b) = f.post_json("/v2/models/credit/infer", &body).await;
    assert_eq!(s, 413, "{b}");
    assert!(b["error"].as_str().unwrap().contains("max_rows"), "{b}");
}

#[tokio::test]
async fn a_client_chosen_request_id_cannot_be_reused() {
    let f = start(|_| {}).await;
    let body = split_rows(&f, 2).to_string();
    let send = |id: &'static str, body: String| {
        f.client
            .post(f.url("/invocations"))
            .header("content-type", "application/json")
            .header("x-request-id", id)
            .body(body)
            .send()
    };
    assert_eq!(
        send("req-1", body.clone()).await.unwrap().status().as_u16(),
        200
    );
    let again = send("req-1", body.clone()).await.unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let msg: Value = serde_json::from_slice(&again.bytes().await.unwrap()).unwrap();
    assert!(
        msg["message"].as_str().unwrap().contains("already used"),
        "{msg}"
    );
    // A refused request does not use up its id.
    let bad = send("req-2", "{\"nope\":1}".into()).await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(send("req-2", body).await.unwrap().status().as_u16(), 200);
    // The log holds one record per id.
    f.server.collector().unwrap().flush().await.unwrap();
    let t = mlcycle::clock::Clock::now(f.clock.as_ref());
    let records = mlcycle::collect::PredictionLog::read_window(
        f.log.as_ref(),
        t - chrono::Duration::hours(1),
        t + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let req1 = records.iter().filter(|r| r.request_id == "req-1").count();
    assert_eq!(req1, 1);
}

/// Send `request` over TLS to `addr`, trusting only `root`; what came back before the
/// connection closed.
fn https_exchange(
    addr: std::net::SocketAddr,
    root: rustls_der::CertificateDer<'static>,
    request: &str,
) -> String {
    use std::io::{Read, Write};
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(BOUND)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    // The server may close without a TLS close_notify; what was read counts.
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

use tokio_rustls::rustls::pki_types as rustls_der;

/// A self-signed certificate for `localhost` written as PEM files into `dir`.
fn self_signed(
    dir: &std::path::Path,
) -> (
    mlcycle::deploy::http::TlsConfig,
    rustls_der::CertificateDer<'static>,
) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (
        mlcycle::deploy::http::TlsConfig { cert, key },
        ck.cert.der().clone(),
    )
}

#[tokio::test]
async fn tls_serves_https_to_a_client_trusting_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, der) = self_signed(dir.path());
    let f = start(|c| c.tls = Some(tls)).await;
    assert!(f.base.starts_with("https://"), "{}", f.base);
    let addr = f.server.local_addr();
    let body = split_rows(&f, 2).to_string();
    let request = format!(
        "POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let text = tokio::task::spawn_blocking(move || https_exchange(addr, der, &request))
        .await
        .unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"predictions\""), "{text}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = f
        .client
        .get(format!("http://{addr}/v2/health/live"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status().as_u16() != 200);
}

#[tokio::test]
async fn unreadable_tls_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("missing-cert.pem");
    let key = dir.path().join("missing-key.pem");
    let mut config = mlcycle::deploy::http::HttpConfig::with_addr(crate::http_support::local());
    config.tls = Some(mlcycle::deploy::http::TlsConfig { cert, key });
    let clock = crate::http_support::clock();
    let e = mlcycle::deploy::http::HttpDeployer::start(config, clock, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing-cert.pem"), "{e}");
}

/// `mlcycle serve` with the API token from the environment, HTTPS and the connection flags
/// spelled as documented.
#[cfg(all(unix, feature = "cli"))]
#[tokio::test]
async fn mlcycle_serve_reads_the_api_token_and_takes_tls_and_connection_flags() {
    use mlcycle::registry::{Change, Lineage, NewVersion, Registry};
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = crate::http_support::train(1, 0.1);
    {
        let registry =
            mlcycle::registry::SqliteRegistry::open(dir.path(), crate::http_support::clock())
                .unwrap();
        registry
            .register(
                "credit",
                NewVersion {
                    artifact: mlcycle::model::Model::to_artifact(model.as_ref()).unwrap(),
                    lineage: Lineage::default(),
                    metrics: Default::default(),
                    tags: Default::default(),
                    description: String::new(),
                },
            )
            .await
            .unwrap();
        registry
            .set_alias("credit", "production", 1, Change::new("test", "first"))
            .await
            .unwrap();
    }
    let certs = tempfile::tempdir().unwrap();
    let (tls, der) = self_signed(certs.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["serve", "--store"])
        .arg(dir.path())
        .args(["--model", "credit@production", "--addr", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&tls.cert)
        .arg("--tls-key")
        .arg(&tls.key)
        .args([
            "--max-connections",
            "8",
            "--header-timeout-ms",
            "300",
            "--idle-timeout-ms",
            "300",
            "--max-in-flight",
            "8",
            "--log-retention-days",
            "30",
            "--log-max-bytes",
            "100000000",
        ])
        .env("MLCYCLE_API_TOKEN", "cli-t0ken")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("no https address in {line:?}"))
        .parse()
        .unwrap();
    let schema = data.schema();
    let columns: Vec<&str> = schema.features.iter().map(|c| c.name.as_str()).collect();
    let rows: Vec<Vec<Value>> = (0..2)
        .map(|r| {
            (0..columns.len())
                .map(|c| crate::http_support::raw_value(&data, r, c))
                .collect()
        })
        .collect();
    let body = json!({"dataframe_split": {"columns": columns, "data": rows}}).to_string();
    let request = |auth: &str| {
        format!(
            "POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             {auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let (no_token, with_token) = (request(""), request("Authorization: Bearer cli-t0ken\r\n"));
    let d = der.clone();
    let refused = tokio::task::spawn_blocking(move || https_exchange(addr, d, &no_token))
        .await
        .unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let answered = tokio::task::spawn_blocking(move || https_exchange(addr, der, &with_token))
        .await
        .unwrap();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    // --header-timeout-ms: a connection that never completes its handshake is closed.
    let silent = TcpStream::connect(addr).await.unwrap();
    read_to_close(&silent, BOUND).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

/// Read one response whose body length is given by `content-length`.
async fn read_one_response(s: &TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(BOUND, read_some(s, &mut buf))
            .await
            .expect("no answer in time")
            .unwrap();
        assert!(n > 0, "closed before a whole answer");
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_kept_alive_connection_sending_half_its_next_header_is_closed() {
    let f = start(|c| {
        c.limits.header_timeout = Duration::from_millis(300);
        c.limits.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let s = connect(&f).await;
    send_all(&s, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let first = read_one_response(&s).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Well inside the idle timeout, the next request starts but its header never ends.
    send_all(&s, b"GET /v2/health/live HTTP/1.1\r\nHo").await;
    let started = Instant::now();
    let rest = read_to_close(&s, BOUND).await;
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(started.elapsed() < BOUND);
}

#[test]
fn serve_refuses_a_zero_log_retention_or_size_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [("--log-retention-days", "0"), ("--log-max-bytes", "0")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlcycle"))
            .args(["serve", "--store"])
            .arg(dir.path())
            .args(["--model", "credit@production", flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
    }
}
