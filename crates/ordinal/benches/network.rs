//! Pod readiness change → updated cluster DNS answer, against a real
//! `ordinal up`: a headless Service with three pods; one pod's Ready
//! condition is flipped through the status subresource (as a node agent
//! reports it) and the time until `web.default.svc.cluster.local` answers
//! with (or without) it is measured, polling the DNS every 200 µs.
//! 100 flips, bounded by 60 s.
//!
//! `cargo bench -p ordinal --bench network`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use ordinal_dns::{RecordType, client};

#[path = "../../../benches/report.rs"]
mod report;
mod support;

const FLIPS: usize = 100;

fn status(ip: &str, ready: bool) -> serde_json::Value {
    let s = if ready { "True" } else { "False" };
    serde_json::json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": s}, {"type": "ContainersReady", "status": s}]}})
}

async fn addresses(dns: SocketAddr) -> usize {
    client::query(
        dns,
        "web.default.svc.cluster.local",
        RecordType::A,
        Duration::from_secs(1),
    )
    .await
    .map(|m| m.answers.len())
    .unwrap_or(usize::MAX)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let dns: SocketAddr = format!("127.78.{}.1:10053", std::process::id() % 250)
        .parse()
        .unwrap();
    let (mut child, _) =
        support::spawn_with(dir.path(), &["--no-node", "--dns-listen", &dns.to_string()]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut samples: Vec<Duration> = rt.block_on(async {
        let client = support::client(dir.path()).await;
        let services: Api<Service> = Api::namespaced(client.clone(), "default");
        let svc = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]},
        }))
        .unwrap();
        services.create(&PostParams::default(), &svc).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        for i in 0..3 {
            let pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("web-{i}"), "labels": {"app": "web"}},
                "spec": {"hostname": format!("web-{i}"), "subdomain": "web",
                         "containers": [{"name": "c", "image": "x"}]},
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.unwrap();
            let ip = format!("10.244.0.{}", 10 + i);
            pods.patch_status(
                &format!("web-{i}"),
                &PatchParams::default(),
                &Patch::Merge(status(&ip, true)),
            )
            .await
            .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while addresses(dns).await != 3 {
            assert!(
                Instant::now() < deadline,
                "the DNS never listed the three pods"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut samples = Vec::new();
        let bound = Instant::now() + Duration::from_secs(60);
        for n in 0..FLIPS {
            if Instant::now() > bound {
                break;
            }
            let ready = n % 2 == 1;
            let want = if ready { 3 } else { 2 };
            let started = Instant::now();
            pods.patch_status(
                "web-2",
                &PatchParams::default(),
                &Patch::Merge(status("10.244.0.12", ready)),
            )
            .await
            .unwrap();
            loop {
                if addresses(dns).await == want {
                    samples.push(started.elapsed());
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no change after 10 s"
                );
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
        samples
    });
    let _ = child.kill();
    let _ = child.wait();
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    let what = format!(
        "readiness change → updated DNS answer ({} flips)",
        samples.len()
    );
    report::figure(
        "network.readiness_dns_p50",
        report::ms(p(0.5)),
        "ms",
        report::Goal::None,
        &format!("{what}, p50"),
    );
    report::figure(
        "network.readiness_dns_p99",
        report::ms(p(0.99)),
        "ms",
        report::Goal::AtMost(50.0),
        &format!("{what}, p99"),
    );
    println!(
        "readiness change to DNS answer: {} flips; p50 {:?} p99 {:?} max {:?} (status write included)",
        samples.len(),
        p(0.5),
        p(0.99),
        samples.last().unwrap()
    );
}
