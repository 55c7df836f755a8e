//! `pods/exec`, `pods/log` and `pods/portforward` through the API server:
//! exec round trips (kubectl and kube-rs), log throughput and
//! `kubectl port-forward` throughput, against a real `ordinal up`
//! proxying to a node server in this process with host containers.
//!
//! `cargo bench -p ordinal --bench streams`

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, AttachParams, Patch, PatchParams, PostParams};
use ordinal_node::host::HostRuntime;
use ordinal_node::server::{self, NodeServerConfig};
use serde_json::json;

const NODE: &str = "bench-node";
const EXEC_ROUNDS: usize = 300;
const KUBECTL_ROUNDS: usize = 20;
/// Bytes of log content the container writes.
const LOG_BYTES: u64 = 256 * 1024 * 1024;

fn kubectl() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/lib/google-cloud-sdk/bin/kubectl.1.33".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn register_node(client: &kube::Client, addr: SocketAddr) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": NODE}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    nodes
        .patch_status(
            NODE,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "addresses": [{"type": "InternalIP", "address": addr.ip().to_string()}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": addr.port()}},
            }})),
        )
        .await
        .unwrap();
}

async fn create_pod(client: &kube::Client, runtime: &HostRuntime, name: &str, script: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeName": NODE, "containers": [
            {"name": "app", "image": "host", "command": ["sh", "-c", script]}
        ]},
    }))
    .unwrap();
    let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    runtime.add_pod(&pod);
    runtime.start("default", name, "app").unwrap();
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ordinal, _) = support::spawn_with(dir.path(), &["--no-node"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let runtime = Arc::new(HostRuntime::new(logs.path()));
    let client = rt.block_on(support::client(dir.path()));
    let kubeconfig = kube::config::Kubeconfig::read_from(dir.path().join("kubeconfig")).unwrap();
    let node = rt
        .block_on(server::start(
            NodeServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                client_ca_pem: server::client_ca_from_kubeconfig(&kubeconfig).unwrap(),
                serving: None,
            },
            runtime.clone(),
        ))
        .unwrap();
    rt.block_on(register_node(&client, node.addr()));
    let _enter = rt.enter();
    rt.block_on(create_pod(&client, &runtime, "sleeper", "exec sleep 3600"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // kube-rs: exec `true` over WebSocket, whole round trip.
    let mut times = Vec::with_capacity(EXEC_ROUNDS);
    rt.block_on(async {
        for i in 0..EXEC_ROUNDS + 10 {
            let started = Instant::now();
            let mut attached = pods
                .exec("sleeper", ["true"], &AttachParams::default().stderr(false))
                .await
                .unwrap();
            let status = attached.take_status().unwrap().await.unwrap();
            attached.join().await.unwrap();
            assert_eq!(status.status.as_deref(), Some("Success"));
            if i >= 10 {
                times.push(started.elapsed());
            }
        }
    });
    times.sort();
    report::figure(
        "streams.exec_p50",
        report::ms(percentile(&times, 0.5)),
        "ms",
        report::Goal::None,
        "kube-rs exec of `true` over WebSocket, round trip, p50",
    );
    report::figure(
        "streams.exec_p99",
        report::ms(percentile(&times, 0.99)),
        "ms",
        report::Goal::AtMost(20.0),
        "kube-rs exec of `true` over WebSocket, round trip, p99",
    );
    println!(
        "kube-rs exec `true` ({EXEC_ROUNDS} rounds): p50 {} / p99 {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );

    // kubectl exec `true`: the wall time a user waits.
    let kubeconfig_path = dir.path().join("kubeconfig");
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let started = Instant::now();
        let status = Command::new(kubectl())
            .env("KUBECONFIG", &kubeconfig_path)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "kubectl {args:?}");
        started.elapsed()
    };
    run(&["exec", "sleeper", "--", "true"]);
    let mut times: Vec<Duration> = (0..KUBECTL_ROUNDS)
        .map(|_| run(&["exec", "sleeper", "--", "true"]))
        .collect();
    times.sort();
    let mut versions: Vec<Duration> = (0..KUBECTL_ROUNDS)
        .map(|_| run(&["get", "pod", "sleeper"]))
        .collect();
    versions.sort();
    report::figure(
        "streams.kubectl_exec",
        report::ms(percentile(&times, 0.5)),
        "ms",
        report::Goal::AtMost(100.0),
        "`kubectl exec sleeper -- true` wall time, median of 20",
    );
    report::figure(
        "streams.kubectl_get",
        report::ms(percentile(&versions, 0.5)),
        "ms",
        report::Goal::None,
        "`kubectl get pod sleeper` wall time, median of 20 (kubectl's own cost, for scale)",
    );
    println!(
        "kubectl exec sleeper -- true ({KUBECTL_ROUNDS} runs): median {} (kubectl get pod, for scale: {})",
        ms(percentile(&times, 0.5)),
        ms(percentile(&versions, 0.5))
    );

    // Log throughput: a container writes LOG_BYTES of 100-byte lines.
    let line = "x".repeat(99);
    let started = Instant::now();
    rt.block_on(create_pod(
        &client,
        &runtime,
        "writer",
        &format!("yes {line} | head -c {LOG_BYTES}; exec sleep 3600"),
    ));
    let source = {
        use ordinal_node::streaming::StreamingRuntime;
        runtime
            .container_log("default", "writer", "app", false)
            .unwrap()
    };
    let expected_file =
        LOG_BYTES / 100 * (100 + "2024-01-01T00:00:00.123456789Z stdout F ".len() as u64 - 1);
    loop {
        let len = std::fs::metadata(&source.path)
            .map(|m| m.len())
            .unwrap_or(0);
        if len >= expected_file * 98 / 100 {
            std::thread::sleep(Duration::from_millis(500));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the writer is too slow"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let written = started.elapsed();
    let file_len = std::fs::metadata(&source.path).unwrap().len();
    report::figure(
        "streams.log_writer",
        LOG_BYTES as f64 / 1e6 / written.as_secs_f64(),
        "MB/s",
        report::Goal::AtLeast(100.0),
        "log writer: a container's 256 MiB of stdout into the CRI file",
    );
    println!(
        "log writer: {} MB of content into a {} MB CRI file in {:.2} s ({:.0} MB/s of content)",
        LOG_BYTES / 1_000_000,
        file_len / 1_000_000,
        written.as_secs_f64(),
        LOG_BYTES as f64 / 1e6 / written.as_secs_f64()
    );

    let mut best = Duration::MAX;
    let mut bytes = 0u64;
    for _ in 0..3 {
        let started = Instant::now();
        let out = rt.block_on(async {
            let request = http::Request::get("/api/v1/namespaces/default/pods/writer/log")
                .body(Vec::new())
                .unwrap();
            let mut stream = client.request_stream(request).await.unwrap();
            let mut n = 0u64;
            use futures::AsyncReadExt;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let read = stream.read(&mut buf).await.unwrap();
                if read == 0 {
                    break;
                }
                n += read as u64;
            }
            n
        });
        bytes = out;
        best = best.min(started.elapsed());
    }
    report::figure(
        "streams.pods_log",
        bytes as f64 / 1e6 / best.as_secs_f64(),
        "MB/s",
        report::Goal::AtLeast(100.0),
        "`pods/log` of a 256 MiB log through the API server, read by kube-rs (best of 3)",
    );
    println!(
        "pods/log through the API server, kube-rs reading ({} MB, best of 3): {:.2} s = {:.0} MB/s",
        bytes / 1_000_000,
        best.as_secs_f64(),
        bytes as f64 / 1e6 / best.as_secs_f64()
    );

    let mut best = Duration::MAX;
    for _ in 0..3 {
        best = best.min(run(&["logs", "writer"]));
    }
    report::figure(
        "streams.kubectl_logs",
        bytes as f64 / 1e6 / best.as_secs_f64(),
        "MB/s",
        report::Goal::AtLeast(100.0),
        "`kubectl logs` of the same log to /dev/null (best of 3)",
    );
    println!(
        "kubectl logs writer > /dev/null ({} MB, best of 3): {:.2} s = {:.0} MB/s",
        bytes / 1_000_000,
        best.as_secs_f64(),
        bytes as f64 / 1e6 / best.as_secs_f64()
    );

    port_forward_throughput(&kubeconfig_path);

    rt.block_on(node.shutdown());
    drop(runtime);
    let _ = ordinal.kill();
    let _ = ordinal.wait();
}

/// Bytes one forwarded connection carries.
const FORWARD_BYTES: u64 = 1024 * 1024 * 1024;

/// `kubectl port-forward pod/sleeper` to a server on the host's loopback
/// (host containers share the host's network) that sends
/// [`FORWARD_BYTES`] on each connection: the rate a local client reads
/// them at, through kubectl, the API server and the node's SPDY session.
fn port_forward_throughput(kubeconfig: &std::path::Path) {
    use std::io::{BufRead, BufReader, Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remote = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for socket in server.incoming() {
            let Ok(mut socket) = socket else { continue };
            std::thread::spawn(move || {
                let chunk = vec![7u8; 1 << 20];
                let mut left = FORWARD_BYTES;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if socket.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    let local = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    // kubectl forwards only to a Running pod; the host runtime does not
    // report status, so say so as a kubelet would.
    let patched = Command::new(kubectl())
        .env("KUBECONFIG", kubeconfig)
        .arg("--cache-dir")
        .arg(cache.path())
        .args([
            "patch",
            "pod",
            "sleeper",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ])
        .status()
        .unwrap();
    assert!(patched.success(), "kubectl patch --subresource=status");
    let mut forward = Command::new(kubectl())
        .env("KUBECONFIG", kubeconfig)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["port-forward", "pod/sleeper", &format!("{local}:{remote}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(forward.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("Forwarding from"), "{first}");
    std::thread::spawn(move || for _ in lines {});
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", local)).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        while got < FORWARD_BYTES {
            match socket.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n as u64,
            }
        }
        assert_eq!(got, FORWARD_BYTES, "the whole stream arrives");
        best = best.min(started.elapsed());
    }
    let _ = forward.kill();
    let _ = forward.wait();
    let rate = FORWARD_BYTES as f64 / 1e6 / best.as_secs_f64();
    report::figure(
        "streams.port_forward",
        rate,
        "MB/s",
        report::Goal::AtLeast(200.0),
        "`kubectl port-forward` of 1 GiB from the pod to a local reader (best of 3)",
    );
    println!(
        "kubectl port-forward, 1 GiB pod -> local (best of 3): {:.2} s = {rate:.0} MB/s",
        best.as_secs_f64()
    );
}
