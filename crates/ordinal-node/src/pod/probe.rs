//! Probes and lifecycle handlers: exec, httpGet, tcpSocket, grpc (and
//! sleep for hooks), with upstream's result rules.
//!
//! A container's probes run in one task ([`run`]): the startup probe
//! first; once it passes (or when there is none) liveness and readiness
//! side by side. Results reach the pod worker as [`Signal`]s only when
//! something changes (thresholds crossed), plus `Unhealthy` notices for
//! events.
//!
//! One departure from kubelet, on purpose: until a container's readiness
//! (or startup) probe first succeeds, it is tried at a fast cadence —
//! 50 ms, doubling up to `periodSeconds` — instead of once per period. A
//! pod is then Ready within moments of its server listening, instead of up
//! to ten seconds later; after the first success the probe keeps the
//! spec's period.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::{
    Container, ExecAction, GRPCAction, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::sync::mpsc;

/// The first fast-cadence interval.
pub const FAST_START: Duration = Duration::from_millis(50);
/// At most this much of a failed probe's output goes into an event.
const MAX_OUTPUT: usize = 10 * 1024;

/// Runs a command inside the container; `true` when the command gets a
/// terminal (`kubectl exec -t`), which it should lead as a session of its
/// own inside the container.
pub type ExecFn = Arc<dyn Fn(&[String], bool) -> std::process::Command + Send + Sync>;

/// Where handlers act: the pod's address, the container's ports, and a
/// way to run commands inside it.
#[derive(Clone)]
pub struct Target {
    pub pod_ip: IpAddr,
    pub container: Arc<Container>,
    pub exec: ExecFn,
    /// Where the runtime can start commands straight into the container
    /// (image pods), exec actions run there instead of through `exec`.
    pub direct: Option<Arc<crate::runtime::direct::DirectExec>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure(String),
}

/// What the probe task tells the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The startup probe passed (or there is none).
    Started,
    /// The startup probe failed `failureThreshold` times: restart.
    StartupFailed(String),
    Ready(bool),
    /// The liveness probe failed `failureThreshold` times: restart.
    LivenessFailed(String),
    /// One failed probe, for a `Unhealthy` event ("Readiness probe failed:
    /// …").
    Unhealthy(String),
}

fn port(target: &Target, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => {
            if let Ok(n) = name.parse::<u16>() {
                return Ok(n);
            }
            target
                .container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| {
                    format!(
                        "couldn't find port {name:?} in container {:?}",
                        target.container.name
                    )
                })
        }
    }
}

/// exec: success when the command exits 0 within the timeout.
pub async fn exec(target: &Target, action: &ExecAction, timeout: Duration) -> Outcome {
    let argv = action.command.clone().unwrap_or_default();
    if argv.is_empty() {
        return Outcome::Failure("exec probe has no command".into());
    }
    if let Some(direct) = &target.direct {
        return match tokio::time::timeout(timeout, direct.run(&argv)).await {
            Err(_) => timed_out(&argv, timeout),
            Ok(Err(e)) => {
                Outcome::Failure(crate::runtime::process::start_error(&argv[0], &e, None))
            }
            Ok(Ok(done)) => finished(&argv, done.status, &done.stdout, &done.stderr),
        };
    }
    let mut command = tokio::process::Command::from((target.exec)(&argv, false));
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // Starting the helper blocks until it has exec'd (its clone shares the
    // agent's memory until then), 2.7 ms at the median with 100 pods: a
    // blocking thread waits for that, not an async worker, which serves the
    // API and the other pods meanwhile. 100 pods probed each second held
    // the workers 0.27 s of every second.
    let spawned = tokio::task::spawn_blocking(move || command.spawn()).await;
    let child = match spawned {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Outcome::Failure(format!("failed to exec {argv:?}: {e}")),
        Err(e) => return Outcome::Failure(format!("failed to exec {argv:?}: {e}")),
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => timed_out(&argv, timeout),
        Ok(Err(e)) => Outcome::Failure(e.to_string()),
        Ok(Ok(out)) => finished(&argv, out.status, &out.stdout, &out.stderr),
    }
}

fn timed_out(argv: &[String], timeout: Duration) -> Outcome {
    Outcome::Failure(format!(
        "command {argv:?} timed out after {}s",
        timeout.as_secs_f64()
    ))
}

/// A command's outcome by its exit status; a failure says what it printed
/// (or its exit code when it printed nothing).
fn finished(
    argv: &[String],
    status: std::process::ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
) -> Outcome {
    if status.success() {
        return Outcome::Success;
    }
    let mut text = String::from_utf8_lossy(stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(stderr));
    // Whatever the command printed: cut on a character's boundary.
    let mut cut = text.len().min(MAX_OUTPUT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    if text.trim().is_empty() {
        Outcome::Failure(format!(
            "command {argv:?} exited with {}",
            status.code().unwrap_or(-1)
        ))
    } else {
        Outcome::Failure(text)
    }
}

/// tcpSocket: success when a connection opens within the timeout.
pub async fn tcp(target: &Target, action: &TCPSocketAction, timeout: Duration) -> Outcome {
    let p = match port(target, &action.port) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let host: IpAddr = action
        .host
        .as_deref()
        .and_then(|h| h.parse().ok())
        .unwrap_or(target.pod_ip);
    let addr = SocketAddr::new(host, p);
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Outcome::Success,
        Ok(Err(e)) => Outcome::Failure(format!("dial tcp {addr}: connect: {}", os_message(&e))),
        Err(_) => Outcome::Failure(format!("dial tcp {addr}: i/o timeout")),
    }
}

fn os_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

/// httpGet: success on a status code from 200 to 399.
pub async fn http_get(target: &Target, action: &HTTPGetAction, timeout: Duration) -> Outcome {
    let p = match port(target, &action.port) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let scheme = action.scheme.as_deref().unwrap_or("HTTP");
    let host: IpAddr = action
        .host
        .as_deref()
        .and_then(|h| h.parse().ok())
        .unwrap_or(target.pod_ip);
    let path = action
        .path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let addr = SocketAddr::new(host, p);
    let url = format!("{}://{addr}{path}", scheme.to_lowercase());
    if scheme != "HTTP" {
        return Outcome::Failure(format!(
            "Get {url:?}: {scheme} probes are not supported by ordinal"
        ));
    }
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("Get {url:?}: dial tcp {addr}: connect: {}", os_message(&e)))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| format!("Get {url:?}: {e}"))?;
        tokio::spawn(conn);
        let mut request = http::Request::get(path.as_str())
            .header("user-agent", "kube-probe/1.33")
            .header("accept", "*/*")
            .header("connection", "close");
        let mut has_host = false;
        for h in action.http_headers.iter().flatten() {
            if h.name.eq_ignore_ascii_case("host") {
                has_host = true;
            }
            request = request.header(h.name.as_str(), h.value.as_str());
        }
        if !has_host {
            request = request.header("host", addr.to_string());
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("Get {url:?}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("Get {url:?}: {e}"))?;
        let code = response.status().as_u16();
        let _ = response.into_body().collect().await;
        if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Outcome::Success,
        Ok(Err(e)) => Outcome::Failure(e),
        Err(_) => Outcome::Failure(format!(
            "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// grpc: the standard health check (`grpc.health.v1.Health/Check`) over
/// HTTP/2 without TLS; success when the service answers SERVING.
pub async fn grpc(target: &Target, action: &GRPCAction, timeout: Duration) -> Outcome {
    let Ok(p) = u16::try_from(action.port) else {
        return Outcome::Failure(format!("invalid port {}", action.port));
    };
    let addr = SocketAddr::new(target.pod_ip, p);
    let service = action.service.clone().unwrap_or_default();
    // HealthCheckRequest { string service = 1; } in a gRPC frame.
    let mut message = Vec::new();
    if !service.is_empty() {
        message.push(0x0a);
        push_varint(&mut message, service.len() as u64);
        message.extend_from_slice(service.as_bytes());
    }
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr).await.map_err(|_| {
            format!(
                "timeout: failed to connect service \"{addr}\" within {}s",
                timeout.as_secs()
            )
        })?;
        let (mut sender, conn) = hyper::client::conn::http2::handshake::<_, _, Full<Bytes>>(
            TokioExecutor::new(),
            TokioIo::new(stream),
        )
        .await
        .map_err(|e| format!("failed to connect service \"{addr}\": {e}"))?;
        tokio::spawn(conn);
        let request = http::Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("user-agent", "kube-probe/1.33")
            .body(Full::new(Bytes::from(frame)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("health rpc failed: {e}"))?;
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        let trailer_status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = trailer_status.or(grpc_status).unwrap_or_else(|| "0".into());
        if status != "0" {
            return Err(format!("health rpc did not complete; grpc-status {status}"));
        }
        let body = collected.to_bytes();
        let serving = parse_health_status(&body);
        match serving {
            Some(1) => Ok(()),
            Some(other) => Err(format!(
                "service unhealthy (responded with \"{}\")",
                match other {
                    0 => "UNKNOWN",
                    2 => "NOT_SERVING",
                    3 => "SERVICE_UNKNOWN",
                    _ => "UNRECOGNIZED",
                }
            )),
            None => Err("service unhealthy (responded with \"UNKNOWN\")".into()),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Outcome::Success,
        Ok(Err(e)) => Outcome::Failure(e),
        Err(_) => Outcome::Failure(format!(
            "timeout: health rpc did not complete within {}s",
            timeout.as_secs()
        )),
    }
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The `status` field of a HealthCheckResponse in a gRPC frame.
fn parse_health_status(body: &[u8]) -> Option<u64> {
    let msg = body.get(5..)?;
    let mut i = 0;
    let mut status = Some(0);
    while i < msg.len() {
        let key = msg[i];
        i += 1;
        let (value, used) = read_varint(&msg[i..])?;
        i += used;
        if key == 0x08 {
            status = Some(value);
        } else if key & 0x7 == 2 {
            i += value as usize;
        }
    }
    status
}

fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Runs one probe attempt.
pub async fn attempt(target: &Target, probe: &Probe) -> Outcome {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(a) = &probe.exec {
        exec(target, a, timeout).await
    } else if let Some(a) = &probe.http_get {
        http_get(target, a, timeout).await
    } else if let Some(a) = &probe.tcp_socket {
        tcp(target, a, timeout).await
    } else if let Some(a) = &probe.grpc {
        grpc(target, a, timeout).await
    } else {
        Outcome::Failure("probe has no handler".into())
    }
}

/// Runs a lifecycle hook (postStart, preStop), bounded by `limit`.
pub async fn hook(target: &Target, handler: &LifecycleHandler, limit: Duration) -> Outcome {
    if let Some(a) = &handler.exec {
        exec(target, a, limit).await
    } else if let Some(a) = &handler.http_get {
        http_get(target, a, limit).await
    } else if let Some(a) = &handler.tcp_socket {
        tcp(target, a, limit).await
    } else if let Some(s) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(limit)).await;
        Outcome::Success
    } else {
        Outcome::Failure("lifecycle handler has no action".into())
    }
}

/// The thresholds of one probe.
struct Counter {
    successes: i32,
    failures: i32,
}

fn period(p: &Probe) -> Duration {
    Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64)
}

/// The cadence of a probe before its first success: 50 ms, doubling up to
/// the probe's period. Failures at that cadence count as kubelet's would,
/// at most one per period, so that `failureThreshold × periodSeconds`
/// keeps its meaning (a startup probe's budget, the events' rate).
struct Early {
    next: Duration,
    period: Duration,
    last_counted: Option<tokio::time::Instant>,
}

impl Early {
    fn new(period: Duration) -> Self {
        Early {
            next: FAST_START.min(period),
            period,
            last_counted: None,
        }
    }

    /// How long to wait before the next attempt.
    fn wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.period);
        wait
    }

    /// Whether a failure now counts toward the failure threshold.
    fn counts(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        match self.last_counted {
            Some(at) if now.duration_since(at) < self.period => false,
            _ => {
                self.last_counted = Some(now);
                true
            }
        }
    }
}

fn initial_delay(p: &Probe) -> Duration {
    Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64)
}

/// Runs the container's probes until the channel closes (the instance
/// ended) and reports changes.
pub async fn run(target: Target, tx: mpsc::UnboundedSender<Signal>) {
    let c = Arc::clone(&target.container);
    if let Some(startup) = &c.startup_probe {
        tokio::time::sleep(initial_delay(startup)).await;
        let threshold = startup.failure_threshold.unwrap_or(3).max(1);
        let mut failures = 0;
        let mut early = Early::new(period(startup));
        loop {
            match attempt(&target, startup).await {
                Outcome::Success => break,
                Outcome::Failure(m) if early.counts() => {
                    failures += 1;
                    let _ = tx.send(Signal::Unhealthy(format!("Startup probe failed: {m}")));
                    if failures >= threshold {
                        let _ = tx.send(Signal::StartupFailed(m));
                        return;
                    }
                }
                Outcome::Failure(_) => {}
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(early.wait()).await;
        }
    }
    if tx.send(Signal::Started).is_err() {
        return;
    }
    let readiness = async {
        let Some(probe) = &c.readiness_probe else {
            let _ = tx.send(Signal::Ready(true));
            return;
        };
        tokio::time::sleep(initial_delay(probe)).await;
        let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
        let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
        let mut count = Counter {
            successes: 0,
            failures: 0,
        };
        let mut ready = false;
        let mut ever = false;
        let mut early = Early::new(period(probe));
        while !tx.is_closed() {
            match attempt(&target, probe).await {
                Outcome::Success => {
                    count.failures = 0;
                    count.successes += 1;
                    ever = true;
                    if !ready && count.successes >= success_threshold {
                        ready = true;
                        let _ = tx.send(Signal::Ready(true));
                    }
                }
                Outcome::Failure(_) if !ever && !early.counts() => {}
                Outcome::Failure(m) => {
                    count.successes = 0;
                    count.failures += 1;
                    if ever || count.failures >= failure_threshold {
                        let _ = tx.send(Signal::Unhealthy(format!("Readiness probe failed: {m}")));
                    }
                    if ready && count.failures >= failure_threshold {
                        ready = false;
                        let _ = tx.send(Signal::Ready(false));
                    }
                }
            }
            let wait = if ever { period(probe) } else { early.wait() };
            tokio::time::sleep(wait).await;
        }
    };
    let liveness = async {
        let Some(probe) = &c.liveness_probe else {
            return;
        };
        tokio::time::sleep(initial_delay(probe)).await;
        let threshold = probe.failure_threshold.unwrap_or(3).max(1);
        let mut failures = 0;
        while !tx.is_closed() {
            match attempt(&target, probe).await {
                Outcome::Success => failures = 0,
                Outcome::Failure(m) => {
                    failures += 1;
                    let _ = tx.send(Signal::Unhealthy(format!("Liveness probe failed: {m}")));
                    if failures >= threshold {
                        let _ = tx.send(Signal::LivenessFailed(m));
                        return;
                    }
                }
            }
            tokio::time::sleep(period(probe)).await;
        }
    };
    tokio::join!(readiness, liveness);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn target(container: &str) -> Target {
        Target {
            pod_ip: "127.0.0.1".parse().unwrap(),
            container: Arc::new(serde_yaml::from_str(container).unwrap()),
            exec: Arc::new(|argv: &[String], _tty: bool| {
                let mut c = std::process::Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }),
            direct: None,
        }
    }

    #[test]
    fn a_failed_commands_output_is_cut_on_a_character_boundary() {
        use std::os::unix::process::ExitStatusExt;
        // 'é' is two bytes: the limit falls inside one of them.
        let printed = "é".repeat(MAX_OUTPUT);
        let argv = ["probe".to_string()];
        let Outcome::Failure(text) = finished(
            &argv,
            std::process::ExitStatus::from_raw(1 << 8),
            b"x",
            printed.as_bytes(),
        ) else {
            panic!("a failure");
        };
        assert_eq!(text.len(), MAX_OUTPUT - 1);
        assert!(text.starts_with("xé"));
    }

    async fn http_server(status: u16) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for _ in 0..10 {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(req.contains("kube-probe/1.33"), "{req}");
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        port
    }

    #[tokio::test]
    async fn http_probes_judge_by_status_code() {
        let ok = http_server(204).await;
        let bad = http_server(503).await;
        let t = target(&format!(
            "name: c\nports: [{{name: web, containerPort: {ok}}}]"
        ));
        let by_name = HTTPGetAction {
            port: IntOrString::String("web".into()),
            path: Some("/healthz".into()),
            ..Default::default()
        };
        assert_eq!(
            http_get(&t, &by_name, Duration::from_secs(1)).await,
            Outcome::Success
        );
        let failing = HTTPGetAction {
            port: IntOrString::Int(bad as i32),
            ..Default::default()
        };
        assert_eq!(
            http_get(&t, &failing, Duration::from_secs(1)).await,
            Outcome::Failure("HTTP probe failed with statuscode: 503".into())
        );
        let unknown = HTTPGetAction {
            port: IntOrString::String("nope".into()),
            ..Default::default()
        };
        assert!(
            matches!(http_get(&t, &unknown, Duration::from_secs(1)).await, Outcome::Failure(m) if m.contains("couldn't find port"))
        );
    }

    #[tokio::test]
    async fn tcp_and_exec_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let t = target("name: c");
        let action = |p: u16| TCPSocketAction {
            port: IntOrString::Int(p as i32),
            host: None,
        };
        assert_eq!(
            tcp(&t, &action(open), Duration::from_secs(1)).await,
            Outcome::Success
        );
        assert!(
            matches!(tcp(&t, &action(closed), Duration::from_secs(1)).await, Outcome::Failure(m) if m.contains("connection refused"))
        );
        let ok = ExecAction {
            command: Some(vec!["true".into()]),
        };
        assert_eq!(
            exec(&t, &ok, Duration::from_secs(1)).await,
            Outcome::Success
        );
        let fails = ExecAction {
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo not yet; exit 1".into(),
            ]),
        };
        assert_eq!(
            exec(&t, &fails, Duration::from_secs(1)).await,
            Outcome::Failure("not yet\n".into())
        );
        let slow = ExecAction {
            command: Some(vec!["sleep".into(), "5".into()]),
        };
        assert!(
            matches!(exec(&t, &slow, Duration::from_millis(200)).await, Outcome::Failure(m) if m.contains("timed out"))
        );
    }

    #[test]
    fn health_responses_decode() {
        assert_eq!(parse_health_status(&[0, 0, 0, 0, 2, 0x08, 1]), Some(1));
        assert_eq!(parse_health_status(&[0, 0, 0, 0, 2, 0x08, 2]), Some(2));
        assert_eq!(parse_health_status(&[0, 0, 0, 0, 0]), Some(0));
        assert_eq!(parse_health_status(&[0, 0]), None);
        assert_eq!(parse_health_status(&[0, 0, 0, 0, 1, 0x08]), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_early_cadence_doubles_up_to_the_period_and_never_overflows() {
        let mut early = Early::new(Duration::from_secs(10));
        let waits: Vec<u64> = (0..10).map(|_| early.wait().as_millis() as u64).collect();
        assert_eq!(
            waits,
            [50, 100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        // Days of failures before a first success (it used to overflow
        // after about 69 doublings and kill the probe task).
        for _ in 0..100_000 {
            assert!(early.wait() <= Duration::from_secs(10));
        }
        // A period shorter than the first step is the cadence from the start.
        assert_eq!(
            Early::new(Duration::from_millis(20)).wait(),
            Duration::from_millis(20)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn early_failures_count_once_per_period() {
        let mut early = Early::new(Duration::from_secs(10));
        let mut counted = 0;
        // 40 s of attempts at the early cadence.
        let end = tokio::time::Instant::now() + Duration::from_secs(40);
        while tokio::time::Instant::now() < end {
            if early.counts() {
                counted += 1;
            }
            tokio::time::sleep(early.wait()).await;
        }
        // At 0 s, ~12.75 s, ~22.75 s and ~32.75 s: as a kubelet probing
        // every 10 s would count them, not once per fast attempt.
        assert_eq!(counted, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_startup_probe_fails_after_threshold_times_period_not_sooner() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let t = target(&format!(
            "name: c\nstartupProbe: {{tcpSocket: {{port: {port}}}, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1}}"
        ));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let began = tokio::time::Instant::now();
        let task = tokio::spawn(run(t, tx));
        let mut unhealthy = 0;
        loop {
            match rx.recv().await {
                Some(Signal::Unhealthy(_)) => unhealthy += 1,
                Some(Signal::StartupFailed(_)) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(unhealthy, 3, "one Unhealthy per counted failure");
        assert!(
            began.elapsed() >= Duration::from_secs(20),
            "three failures a period apart take at least two periods: {:?}",
            began.elapsed()
        );
        task.abort();
    }

    #[tokio::test]
    async fn readiness_reports_once_it_passes_at_the_fast_cadence() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let t = target(&format!(
            "name: c\nreadinessProbe: {{tcpSocket: {{port: {port}}}, periodSeconds: 10, failureThreshold: 3, successThreshold: 1, timeoutSeconds: 1}}"
        ));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(t, tx));
        assert_eq!(rx.recv().await, Some(Signal::Started));
        tokio::time::sleep(Duration::from_millis(120)).await;
        let _server = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
            {
                Some(Signal::Ready(true)) => break,
                Some(_) => continue,
                None => panic!("probe task ended"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(rx);
        task.abort();
    }
}
