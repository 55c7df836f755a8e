//! Start-up of the network tests (issue 7): `ordinal up` with its cluster
//! DNS on a loopback address of the test's own and a fake upstream
//! resolver, and pods whose addresses and readiness the test sets through
//! the status subresource, as a node agent would.
//!
//! Every network test starts its cluster through [`start`]: when the real
//! node agent lands, the flags it needs go here, once.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::Ordinal;

/// A cluster for network tests.
pub struct Cluster {
    pub ordinal: Ordinal,
    /// Where its cluster DNS answers.
    pub dns: SocketAddr,
    /// The resolver it forwards other names to.
    pub upstream: FakeUpstream,
}

/// A loopback address no other test of this run uses: 127.77.x.y, from
/// the process id and a counter, so the DNS can have a known port.
fn own_loopback() -> std::net::Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    std::net::Ipv4Addr::new(
        127,
        77 + (pid % 100) as u8,
        (pid / 100 % 250) as u8,
        (n % 250) as u8 + 1,
    )
}

/// Starts `ordinal up` with cluster DNS on an address of the test's own
/// and forwarding to a fake upstream.
pub fn start() -> Cluster {
    let upstream = FakeUpstream::start();
    let dns = SocketAddr::new(own_loopback().into(), 10053);
    let ordinal = Ordinal::start_with(&[
        "--no-node",
        "--dns-listen",
        &dns.to_string(),
        "--dns-upstream",
        &upstream.addr.to_string(),
    ]);
    Cluster {
        ordinal,
        dns,
        upstream,
    }
}

/// A resolver on loopback answering every A question with 192.0.2.53.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub questions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeUpstream {
    pub const ANSWER: &str = "192.0.2.53";

    pub fn start() -> FakeUpstream {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let questions = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&questions), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Some(answer) = answer_a(&buf[..n]) else {
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = socket.send_to(&answer, peer);
            }
        });
        FakeUpstream {
            addr,
            questions,
            stop,
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The wire answer to a one-question query: the question, then one A
/// record (a compression pointer to the question's name) with
/// [`FakeUpstream::ANSWER`]. Written by hand so the fake shares no code
/// with the server it checks.
fn answer_a(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return None;
    }
    let mut end = 12;
    while *query.get(end)? != 0 {
        end += 1 + usize::from(query[end]);
    }
    let question_end = end + 5;
    let mut out = Vec::with_capacity(question_end + 16);
    out.extend_from_slice(&query[..2]);
    out.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    out.extend_from_slice(query.get(12..question_end)?);
    out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53]);
    Some(out)
}

/// A pod the test places: labels, hostname and subdomain, a named port.
pub fn pod(name: &str, labels: &[(&str, &str)], subdomain: Option<&str>) -> Pod {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "hostname": subdomain.map(|_| name),
            "subdomain": subdomain,
            "nodeName": "node-1",
            "containers": [{"name": "app", "image": "busybox",
                "ports": [{"name": "http", "containerPort": 8080}]}],
        },
    }))
    .expect("pod")
}

/// Creates pods in `default`.
pub async fn create_pods(client: &kube::Client, pods: &[Pod]) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for pod in pods {
        api.create(&PostParams::default(), pod)
            .await
            .expect("pod created");
    }
}

/// Sets a pod's address and readiness through the status subresource, as
/// the node agent reports them.
pub async fn set_status(client: &kube::Client, name: &str, ip: &str, ready: bool) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let status = if ready { "True" } else { "False" };
    let patch = serde_json::json!({"status": {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [
            {"type": "Ready", "status": status},
            {"type": "ContainersReady", "status": status},
        ],
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("status patched");
}
