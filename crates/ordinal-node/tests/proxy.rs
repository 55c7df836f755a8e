//! The service proxy in network namespaces the test makes: a "node"
//! namespace with a bridge, two "pods" attached to it, a TCP server in one
//! and a client in the other that reaches it through a ClusterIP. The
//! Service and its EndpointSlice live in a real API server; the proxy
//! programs the node namespace's nftables. Everything the test made is
//! removed when it ends, even when it fails.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use ordinal_apiserver::server::{self, Config};
use ordinal_node::proxy::{self, ProxyConfig};

/// Network namespaces made by the test, deleted on drop (which removes
/// the bridge, the veths and the proxy's table with them).
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} cannot run ({e}); install iproute2 and nftables",
                args[0]
            )
        });
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn output(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The node, pod A (10.250.0.2) and pod B (10.250.0.3) on bridge
/// `ordbr0` (10.250.0.1) in the node namespace.
fn topology(tag: &str) -> (Namespaces, [String; 3]) {
    let [node, a, b] = ["n", "a", "b"].map(|k| format!("ordp-{k}-{tag}"));
    let guard = Namespaces(vec![node.clone(), a.clone(), b.clone()]);
    for ns in [&node, &a, &b] {
        run(&["ip", "netns", "add", ns]);
        run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    run(&["ip", "-n", &node, "link", "add", "ordbr0", "type", "bridge"]);
    run(&[
        "ip",
        "-n",
        &node,
        "addr",
        "add",
        "10.250.0.1/24",
        "dev",
        "ordbr0",
    ]);
    run(&["ip", "-n", &node, "link", "set", "ordbr0", "up"]);
    for (pod, ip, veth) in [
        (&a, "10.250.0.2/24", "veth-a"),
        (&b, "10.250.0.3/24", "veth-b"),
    ] {
        run(&[
            "ip", "-n", &node, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
            "netns", pod,
        ]);
        run(&[
            "ip", "-n", &node, "link", "set", veth, "master", "ordbr0", "up",
        ]);
        run(&["ip", "-n", pod, "addr", "add", ip, "dev", "eth0"]);
        run(&["ip", "-n", pod, "link", "set", "eth0", "up"]);
        run(&[
            "ip",
            "-n",
            pod,
            "route",
            "add",
            "default",
            "via",
            "10.250.0.1",
        ]);
    }
    run(&[
        "ip",
        "netns",
        "exec",
        &node,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);
    (guard, [node, a, b])
}

/// Runs `f` on a thread inside the network namespace `name`.
fn in_netns<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{name}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("netns");
        // SAFETY: setns on this thread only, with a descriptor we hold.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// A TCP server in pod B answering each connection with a greeting.
fn serve(pod: &str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    in_netns(pod, move || {
        let listener = TcpListener::bind("0.0.0.0:8080").expect("bind in pod B");
        listener.set_nonblocking(true).unwrap();
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut conn, peer)) => {
                    let _ = writeln!(conn, "hello from pod B to {}", peer.ip());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    })
}

/// Connects from pod A to `target`; the greeting or the error.
fn connect(pod: &str, target: SocketAddr) -> Result<String, std::io::ErrorKind> {
    in_netns(pod, move || {
        let mut conn =
            TcpStream::connect_timeout(&target, Duration::from_secs(2)).map_err(|e| e.kind())?;
        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).map_err(|e| e.kind())?;
        Ok(text)
    })
    .join()
    .expect("client thread")
}

fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

async fn client_for(running: &server::Running) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn slice(ready: bool) -> EndpointSlice {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-manual", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.250.0.3"], "conditions": {"ready": ready}}],
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_another_through_a_cluster_ip() {
    let tag = std::process::id().to_string();
    let (_namespaces, [node, a, b]) = topology(&tag);
    let table = format!("ordinal-test-{tag}");
    // A stale table of the same name, as a crashed run would leave.
    run(&[
        "ip", "netns", "exec", &node, "nft", "add", "table", "ip", &table,
    ]);
    run(&[
        "ip", "netns", "exec", &node, "nft", "add", "chain", "ip", &table, "stale",
    ]);

    let dir = tempfile::tempdir().unwrap();
    let running = server::start(Config::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let client = client_for(&running).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }))
    .unwrap();
    let svc = services.create(&PostParams::default(), &svc).await.unwrap();
    let cluster_ip = svc.spec.unwrap().cluster_ip.unwrap();
    let target: SocketAddr = format!("{cluster_ip}:80").parse().unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    slices
        .create(&PostParams::default(), &slice(true))
        .await
        .unwrap();

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = ProxyConfig {
        table: table.clone(),
        bridge: "ordbr0".into(),
        pod_cidr: "10.250.0.0/24".parse().unwrap(),
        service_cidr: "10.96.0.0/12".parse().unwrap(),
        netns: Some(format!("/run/netns/{node}").into()),
        node: None,
    };
    let proxy = tokio::spawn(proxy::run(client.clone(), config, async {
        let _ = stop_rx.await;
    }));

    let stop = Arc::new(AtomicBool::new(false));
    let server = serve(&b, Arc::clone(&stop));
    let (a2, node2) = (a.clone(), node.clone());
    let greeting = tokio::task::spawn_blocking(move || {
        until("pod A to reach pod B through the ClusterIP", || {
            connect(&a2, target).ok()
        })
    })
    .await
    .unwrap();
    // Masqueraded: pod B saw the bridge address, so its reply came back
    // through the node.
    assert_eq!(greeting.trim(), "hello from pod B to 10.250.0.1");
    let listed = output(&[
        "ip", "netns", "exec", &node2, "nft", "list", "table", "ip", &table,
    ]);
    assert!(
        !listed.contains("stale"),
        "the stale table was replaced:\n{listed}"
    );

    // No ready endpoint: refused at once, as kube-proxy rejects.
    slices
        .patch(
            "web-manual",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"endpoints": [{"addresses": ["10.250.0.3"], "conditions": {"ready": false}}]})),
        )
        .await
        .unwrap();
    let a3 = a.clone();
    tokio::task::spawn_blocking(move || {
        until("connections to be refused", || {
            (connect(&a3, target) == Err(std::io::ErrorKind::ConnectionRefused)).then_some(())
        })
    })
    .await
    .unwrap();
    // Another port of the service CIDR leads nowhere either.
    let a4 = a.clone();
    let other: SocketAddr = format!("{cluster_ip}:81").parse().unwrap();
    let refused = tokio::task::spawn_blocking(move || connect(&a4, other))
        .await
        .unwrap();
    assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused));

    // Shutdown removes the table.
    let _ = stop_tx.send(());
    proxy.await.unwrap().unwrap();
    let tables = output(&["ip", "netns", "exec", &node, "nft", "list", "tables"]);
    assert!(!tables.contains(&table), "{tables}");
    stop.store(true, Ordering::Relaxed);
    let _ = server.join();
    running.shutdown().await;
}
