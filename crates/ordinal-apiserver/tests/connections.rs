//! The server on a real loopback socket, driven byte by byte: what a
//! connection may cost it (issue 14, items 5 and 6) and which requests it
//! serves by their size (item 10). Timeouts are shortened to a second so
//! the tests are quick; the defaults are upstream's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordinal_apiserver::connections::Limits;
use ordinal_apiserver::server::{self, Config, Running};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

struct Server {
    running: Running,
    _dir: tempfile::TempDir,
}

fn quick_limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_secs(1),
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

async fn start(limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.limits = limits;
    let running = server::start(config).await.expect("server starts");
    Server { running, _dir: dir }
}

impl Server {
    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    fn token(&self) -> &str {
        &self.running.credentials.token
    }

    fn connector(&self, alpn: &[&[u8]]) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut self.running.credentials.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
    }

    /// A TLS connection speaking HTTP/1.1.
    async fn tls(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr()).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        self.connector(&[b"http/1.1"])
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// One HTTP/1.1 request on a fresh connection (closed after it), with
    /// the token; the response's code and body.
    async fn request(&self, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = self.tls().await;
        let request = format!(
            "{head}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            self.token()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        read_response(&mut stream, Duration::from_secs(20)).await
    }
}

/// Reads a response to its end (the server closes, or Content-Length is
/// met); the code and the body.
async fn read_response<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    within: Duration,
) -> (u16, Vec<u8>) {
    let mut raw = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "no complete response in {within:?}: {}",
                String::from_utf8_lossy(&raw)
            ),
        }
        if let Some((code, body)) = complete(&raw) {
            return (code, body);
        }
    }
    complete(&raw)
        .unwrap_or_else(|| panic!("incomplete response: {}", String::from_utf8_lossy(&raw)))
}

/// A whole response in `raw`, if there is one (Content-Length or chunked).
fn complete(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let code: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = &raw[end + 4..];
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return (body.len() >= len).then(|| (code, body[..len].to_vec()));
    }
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = body;
        loop {
            let line = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line]).ok()?.trim(), 16).ok()?;
            if size == 0 {
                return Some((code, out));
            }
            let chunk = rest.get(line + 2..line + 2 + size)?;
            out.extend_from_slice(chunk);
            rest = rest.get(line + 4 + size..)?;
        }
    }
    None
}

fn status(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not a Status: {}", String::from_utf8_lossy(body)))
}

/// Whether the server has closed the connection (within `within`).
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(s: &mut S, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

// Item 5: timeouts and caps.

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_it_arrives() {
    let s = start(quick_limits()).await;
    let begun = Instant::now();
    let (code, body) = s
        .request(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 999999999999",
            b"{",
        )
        .await;
    assert_eq!(code, 413, "{}", String::from_utf8_lossy(&body));
    assert_eq!(status(&body)["reason"], "RequestEntityTooLarge");
    assert!(
        begun.elapsed() < Duration::from_millis(900),
        "{:?}",
        begun.elapsed()
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out_with_a_status() {
    let s = start(quick_limits()).await;
    let begun = Instant::now();
    let (code, body) = s
        .request(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100",
            b"{\"metadata\"",
        )
        .await;
    assert_eq!(code, 504, "{}", String::from_utf8_lossy(&body));
    let status = status(&body);
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(
        status["message"],
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    );
    assert!(begun.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn slow_handshakes_slow_headers_and_idle_connections_are_closed() {
    let s = start(quick_limits()).await;
    // A TCP connection that never starts TLS.
    let mut silent = TcpStream::connect(s.addr()).await.unwrap();
    // Headers a little at a time, never finished.
    let mut slow = s.tls().await;
    slow.write_all(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // A request answered, then nothing.
    let mut idle = s.tls().await;
    let request = format!(
        "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token()
    );
    idle.write_all(request.as_bytes()).await.unwrap();
    let (code, _) = read_response(&mut idle, Duration::from_secs(5)).await;
    assert_eq!(code, 200);
    for (what, closed) in [
        (
            "silent",
            closed_within(&mut silent, Duration::from_secs(4)).await,
        ),
        (
            "slow headers",
            closed_within(&mut slow, Duration::from_secs(4)).await,
        ),
        (
            "idle",
            closed_within(&mut idle, Duration::from_secs(4)).await,
        ),
    ] {
        assert!(closed, "the {what} connection is still open");
    }
}

#[tokio::test]
async fn a_quiet_watch_is_not_idle() {
    let s = start(quick_limits()).await;
    let mut watch = s.tls().await;
    let request = format!(
        "GET /api/v1/namespaces/default/configmaps?watch=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token()
    );
    watch.write_all(request.as_bytes()).await.unwrap();
    // Three idle timeouts without a byte.
    assert!(!closed_within(&mut watch, Duration::from_secs(3)).await);
    let (code, _) = s
        .request(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 26",
            br#"{"metadata":{"name":"hi"}}"#,
        )
        .await;
    assert_eq!(code, 201);
    let mut buf = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), watch.read(&mut buf))
        .await
        .expect("the event arrives")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("ADDED"));
}

#[tokio::test]
async fn a_flood_of_idle_connections_leaves_room_for_the_admin() {
    let limits = Limits {
        max_unauthenticated: 16,
        max_unauthenticated_per_client: 16,
        ..Limits::default()
    };
    let s = start(limits).await;
    // The admin's keep-alive connection, authenticated before the flood.
    let mut admin = s.tls().await;
    let request = format!(
        "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token()
    );
    admin.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(
        read_response(&mut admin, Duration::from_secs(5)).await.0,
        200
    );
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(TcpStream::connect(s.addr()).await.unwrap());
    }
    // New connections of the admin's get in and are answered at once.
    for _ in 0..5 {
        let begun = Instant::now();
        let (code, _) = s.request("GET /api/v1/namespaces HTTP/1.1", b"").await;
        assert_eq!(code, 200);
        assert!(
            begun.elapsed() < Duration::from_secs(2),
            "{:?}",
            begun.elapsed()
        );
    }
    // The one it held is untouched.
    admin.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(
        read_response(&mut admin, Duration::from_secs(5)).await.0,
        200
    );
    // The flood was pushed out down to the cap.
    let mut open = 0;
    for conn in &mut flood {
        if !closed_within(conn, Duration::from_millis(20)).await {
            open += 1;
        }
    }
    assert!(open <= 16, "{open} of the flood still open");
}

// Item 10: requests upstream serves are served; the others get a Status.

#[tokio::test]
async fn long_urls_and_many_or_large_headers_within_upstream_limits_are_served() {
    let s = start(Limits::default()).await;
    let values: Vec<String> = (0..7000).map(|i| format!("v{i}")).collect();
    let selector = format!("app+in+({})", values.join(","));
    assert!(selector.len() > 40_000);
    let (code, body) = s
        .request(
            &format!("GET /api/v1/namespaces/default/configmaps?labelSelector={selector} HTTP/1.1"),
            b"",
        )
        .await;
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let params: String = (0..10_000).map(|_| "&a=1").collect();
    let (code, _) = s
        .request(
            &format!("GET /api/v1/namespaces/default/configmaps?limit=5{params} HTTP/1.1"),
            b"",
        )
        .await;
    assert_eq!(code, 200);
    let many: String = (0..2000)
        .map(|i| format!("\r\nX-Header-{i}: value"))
        .collect();
    let (code, _) = s.request(&format!("GET /api HTTP/1.1{many}"), b"").await;
    assert_eq!(code, 200);
    let large = format!("GET /api HTTP/1.1\r\nX-Large: {}", "x".repeat(900 * 1024));
    let (code, _) = s.request(&large, b"").await;
    assert_eq!(code, 200);
    // Over upstream's 1 MiB: a Status, not an empty answer.
    let over = format!(
        "GET /api HTTP/1.1\r\nX-Large: {}\r\nX-More: {}",
        "x".repeat(900 * 1024),
        "y".repeat(150 * 1024)
    );
    let (code, body) = s.request(&over, b"").await;
    assert_eq!(code, 431);
    let status = status(&body);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 431);
}

/// kubectl speaks HTTP/2: the same sizes are served there.
#[tokio::test]
async fn large_headers_and_queries_are_served_over_http2() {
    use http_body_util::BodyExt;
    let s = start(Limits::default()).await;
    let tcp = TcpStream::connect(s.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = s.connector(&[b"h2"]).connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let params: String = (0..10_000).map(|_| "&a=1").collect();
    for (uri, header) in [
        (
            format!("/api/v1/namespaces/default/configmaps?limit=5{params}"),
            10,
        ),
        ("/api".to_string(), 900 * 1024),
    ] {
        let request = http::Request::get(format!("https://127.0.0.1{uri}"))
            .header("authorization", format!("Bearer {}", s.token()))
            .header("x-large", "x".repeat(header))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let code = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    }
}

#[tokio::test]
async fn errors_outside_the_resource_handlers_are_statuses_too() {
    let s = start(Limits::default()).await;
    for (head, code) in [
        ("POST /version HTTP/1.1\r\nContent-Length: 0", 405),
        ("DELETE /apis HTTP/1.1\r\nContent-Length: 0", 405),
        ("GET /openapi/v3/%FF%FE HTTP/1.1", 400),
        ("GET /apis/%FF HTTP/1.1", 400),
    ] {
        let (got, body) = s.request(head, b"").await;
        assert_eq!(got, code, "{head}: {}", String::from_utf8_lossy(&body));
        assert_eq!(status(&body)["kind"], "Status", "{head}");
    }
}

// Item 6: a client that never reads costs the server little.

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_a_large_list_cost_little() {
    let s = start(Limits::default()).await;
    // 24 objects of about 900 KB: a 21 MB list.
    let data = "x".repeat(900 * 1024);
    for i in 0..24 {
        let body =
            json!({"metadata": {"name": format!("big-{i}")}, "data": {"d": data}}).to_string();
        let (code, _) = s
            .request(
                &format!(
                    "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
                    body.len()
                ),
                body.as_bytes(),
            )
            .await;
        assert_eq!(code, 201);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_bytes();
    let request = format!(
        "GET /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token()
    );
    let mut readers = Vec::new();
    for _ in 0..10 {
        let mut stream = s.tls().await;
        stream.write_all(request.as_bytes()).await.unwrap();
        readers.push(stream);
    }
    // Long enough for the server to have done all it will do.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let grown = rss_bytes().saturating_sub(before);
    // Rendering each list in memory took 10 × 21 MB.
    assert!(
        grown < 60 * 1024 * 1024,
        "the server holds {} MB for 10 clients that do not read",
        grown / (1024 * 1024)
    );
    // A client that reads gets every byte.
    let (code, body) = s
        .request("GET /api/v1/namespaces/default/configmaps HTTP/1.1", b"")
        .await;
    assert_eq!(code, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 24);
    drop(readers);
}
