//! What hostile clients cost `ordinal up` (issue 14's "done means"): its
//! memory while 20 clients that never read hold LISTs of a 100 MB
//! collection, and while 20,000 idle connections are attempted; and how
//! fast `kubectl get ns` (a GET of the namespaces on a fresh connection,
//! and the kubectl process itself) is answered meanwhile.
//!
//! Run as root (the node runs): `cargo bench -p ordinal --bench hostile`.
//! The 20,000 connections come from two helper processes (this benchmark
//! run again with `ORDINAL_BENCH_FLOOD=<addr>,<count>`), so that neither
//! needs more than 10,000 file descriptors; each helper raises its soft
//! limit to the hard one first. Every wait is bounded.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ObjectMeta, PostParams};
use report::Goal;

const OBJECTS: usize = 100;
const OBJECT_BYTES: usize = 1_000_000;
const READERS: usize = 20;
const FLOOD: usize = 20_000;
const FLOOD_HELPERS: usize = 2;

fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The helper's job: open `count` TCP connections to `addr`, say nothing
/// on them, hold them 20 s, print how many connected.
fn flood(spec: &str) {
    raise_open_file_limit();
    let (addr, count) = spec.split_once(',').expect("addr,count");
    let addr: SocketAddr = addr.parse().unwrap();
    let count: usize = count.parse().unwrap();
    let mut held = Vec::with_capacity(count);
    let mut failed = 0;
    for _ in 0..count {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => held.push(s),
            Err(_) => failed += 1,
        }
    }
    println!("connected {} failed {failed}", held.len());
    std::thread::sleep(Duration::from_secs(20));
}

/// How long a GET of the namespaces takes on a fresh client (a new TLS
/// connection, as a fresh kubectl makes).
async fn get_ns(dir: &Path) -> Duration {
    let started = Instant::now();
    let api: Api<Namespace> = Api::all(support::client(dir).await);
    api.list(&Default::default()).await.expect("namespaces");
    started.elapsed()
}

/// The kubectl the tests use, if this machine has it.
fn kubectl() -> Option<std::path::PathBuf> {
    std::env::var_os("KUBECTL")
        .map(Into::into)
        .or_else(|| Some("/usr/lib/google-cloud-sdk/bin/kubectl.1.33".into()))
        .filter(|p: &std::path::PathBuf| p.exists())
}

/// Wall time of `kubectl get ns` (discovery cache warm).
fn kubectl_get_ns(dir: &Path, cache: &Path) -> Option<Duration> {
    let kubectl = kubectl()?;
    let started = Instant::now();
    let ok = Command::new(kubectl)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(cache)
        .args(["get", "ns", "--request-timeout=10s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| started.elapsed())
}

/// Samples the RSS of `pid` and the GET latency for `span`; returns the
/// peak RSS, the slowest GET and the slowest kubectl.
async fn observe(
    pid: u32,
    dir: &Path,
    cache: &Path,
    span: Duration,
) -> (f64, Duration, Option<Duration>) {
    let until = Instant::now() + span;
    let (mut peak, mut slowest, mut kubectl_slowest) = (0.0f64, Duration::ZERO, None::<Duration>);
    while Instant::now() < until {
        peak = peak.max(support::rss_mb(pid).unwrap_or(f64::NAN));
        slowest = slowest.max(get_ns(dir).await);
        let dir = dir.to_path_buf();
        let cache = cache.to_path_buf();
        if let Ok(Some(k)) = tokio::task::spawn_blocking(move || kubectl_get_ns(&dir, &cache)).await
        {
            kubectl_slowest = Some(kubectl_slowest.map_or(k, |s: Duration| s.max(k)));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (peak, slowest, kubectl_slowest)
}

fn report_latencies(id: &str, what: &str, get: Duration, kubectl: Option<Duration>) {
    report::figure(
        &format!("hostile.{id}_get_ns"),
        report::ms(get),
        "ms",
        Goal::AtMost(100.0),
        &format!("slowest GET /api/v1/namespaces on a fresh connection {what}"),
    );
    match kubectl {
        Some(k) => report::figure(
            &format!("hostile.{id}_kubectl"),
            report::ms(k),
            "ms",
            Goal::None,
            &format!("slowest `kubectl get ns` process (warm discovery cache) {what}"),
        ),
        None => report::unmeasured(
            &format!("hostile.{id}_kubectl"),
            "ms",
            Goal::None,
            "kubectl not found (set KUBECTL)",
        ),
    };
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(spec) = std::env::var("ORDINAL_BENCH_FLOOD") {
        flood(&spec);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cache = tmp.path().join("kubectl-cache");
    let (mut child, _) = support::spawn(&dir);
    let pid = child.id();
    let client = support::client(&dir).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let data = "x".repeat(OBJECT_BYTES);
    for i in 0..OBJECTS {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("big-{i:03}")),
                ..Default::default()
            },
            data: Some([("blob".to_string(), data.clone())].into()),
            ..Default::default()
        };
        api.create(&PostParams::default(), &cm)
            .await
            .expect("create");
    }
    let _ = kubectl_get_ns(&dir, &cache); // warms kubectl's discovery cache
    tokio::time::sleep(Duration::from_secs(3)).await;
    let baseline = support::rss_mb(pid).unwrap_or(f64::NAN);
    let (_, quiet_get, quiet_kubectl) = observe(pid, &dir, &cache, Duration::from_secs(2)).await;
    report::figure(
        "hostile.baseline_rss",
        baseline,
        "MB",
        Goal::None,
        "ordinal up RSS holding a 100 MB collection (100 ConfigMaps of 1 MB), no clients",
    );
    report_latencies("quiet", "with no hostile client", quiet_get, quiet_kubectl);

    // 20 clients ask for the whole collection and never read a byte.
    let mut held = Vec::new();
    for _ in 0..READERS {
        let c = support::client(&dir).await;
        let request = http::Request::get("/api/v1/namespaces/default/configmaps")
            .body(Vec::new())
            .unwrap();
        let response = c
            .send(request.map(kube::client::Body::from))
            .await
            .expect("LIST");
        held.push((c, response));
    }
    let (peak, slowest, kubectl_slowest) =
        observe(pid, &dir, &cache, Duration::from_secs(10)).await;
    report::figure(
        "hostile.slow_readers_rss",
        peak,
        "MB",
        Goal::AtMost(150.0),
        "ordinal up peak RSS while 20 clients that never read hold LISTs of the 100 MB collection",
    );
    report_latencies("slow_readers", "meanwhile", slowest, kubectl_slowest);
    drop(held);
    tokio::time::sleep(Duration::from_secs(3)).await;
    report::figure(
        "hostile.after_slow_readers_rss",
        support::rss_mb(pid).unwrap_or(f64::NAN),
        "MB",
        Goal::None,
        "ordinal up RSS 3 s after the 20 clients closed",
    );

    // 20,000 idle connections attempted, from two helper processes.
    let addr = std::fs::read_to_string(dir.join("kubeconfig"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("server: https://")
                .map(str::to_string)
        })
        .expect("server in the kubeconfig");
    let me = std::env::current_exe().unwrap();
    let helpers: Vec<_> = (0..FLOOD_HELPERS)
        .map(|_| {
            Command::new(&me)
                .env(
                    "ORDINAL_BENCH_FLOOD",
                    format!("{addr},{}", FLOOD / FLOOD_HELPERS),
                )
                .stdout(Stdio::piped())
                .spawn()
                .expect("flood helper")
        })
        .collect();
    let (peak, slowest, kubectl_slowest) =
        observe(pid, &dir, &cache, Duration::from_secs(15)).await;
    let mut connected = 0usize;
    for h in helpers {
        let out = h.wait_with_output().expect("helper");
        let text = String::from_utf8_lossy(&out.stdout);
        connected += text
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
    }
    report::figure(
        "hostile.idle_flood_connected",
        connected as f64,
        "connections",
        Goal::None,
        "of 20,000 idle TCP connections attempted, how many connected",
    );
    report::figure(
        "hostile.idle_flood_rss",
        peak,
        "MB",
        Goal::AtMost(150.0),
        "ordinal up peak RSS while 20,000 idle connections are attempted",
    );
    report_latencies("idle_flood", "during the flood", slowest, kubectl_slowest);
    let _ = child.kill();
    let _ = child.wait();
}
