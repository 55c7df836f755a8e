//! DNS queries per second on loopback, the server on one core.
//!
//! The server runs on a single-threaded Tokio runtime (one core at most)
//! with a model of 1,000 Services (half headless, three ready endpoints
//! each); a client on another thread keeps 64 queries in flight over 64
//! UDP sockets, asking for a mix of Service, endpoint and SRV names, and
//! measures each query's round trip. Bounded: 10 s or 500,000 queries.
//!
//! `cargo bench -p ordinal-dns --bench queries`
//! (`ORDINAL_BENCH_IN_FLIGHT=16` for the latency at a lighter load)

#[path = "../../../benches/report.rs"]
mod report;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordinal_dns::model::{EndpointInfo, Model, Port, ServiceInfo, SliceInfo};
use ordinal_dns::{Config, Dns, RecordType, Upstreams, client};

const SERVICES: usize = 1000;
/// Queries in flight; `ORDINAL_BENCH_IN_FLIGHT` changes it.
const IN_FLIGHT: usize = 64;
const MAX_QUERIES: usize = 500_000;
const MAX_TIME: Duration = Duration::from_secs(10);

fn model() -> Arc<Model> {
    let m = Model::new();
    let http = Port {
        name: "http".into(),
        protocol: "tcp".into(),
        port: 80,
    };
    for i in 0..SERVICES {
        let name = format!("svc-{i}");
        let info = ServiceInfo {
            cluster_ips: if i % 2 == 0 {
                vec![
                    format!("10.96.{}.{}", i / 250, i % 250 + 1)
                        .parse()
                        .unwrap(),
                ]
            } else {
                Vec::new()
            },
            headless: i % 2 == 1,
            external_name: None,
            ports: vec![http.clone()],
        };
        m.apply_service("default", &name, info);
        let endpoints = (0..3)
            .map(|j| EndpointInfo {
                ips: vec![
                    format!("10.244.{}.{}", i / 80, (i % 80) * 3 + j + 1)
                        .parse()
                        .unwrap(),
                ],
                hostname: Some(format!("{name}-{j}")),
                ready: true,
            })
            .collect();
        m.apply_slice(
            "default",
            &format!("{name}-x"),
            Some(SliceInfo {
                service: name,
                ports: vec![http.clone()],
                endpoints,
            }),
        );
    }
    m
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn main() {
    let in_flight: usize = std::env::var("ORDINAL_BENCH_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(IN_FLIGHT);
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let config = Config {
                listen: vec!["127.0.0.1:0".parse().unwrap()],
                upstreams: Upstreams::Servers(Vec::new()),
                ..Default::default()
            };
            let dns = Dns::serve(model(), &config).await.unwrap();
            tx.send(dns.addresses()[0]).unwrap();
            let _ = stop_rx.await;
            dns.shutdown().await;
        });
    });
    let addr = rx.recv().unwrap();
    let names: Vec<(Vec<u8>, u16)> = (0..SERVICES)
        .flat_map(|i| {
            [
                (format!("svc-{i}.default.svc.cluster.local"), RecordType::A),
                (
                    format!("svc-{i}-1.svc-{i}.default.svc.cluster.local"),
                    RecordType::A,
                ),
                (
                    format!("_http._tcp.svc-{i}.default.svc.cluster.local"),
                    RecordType::SRV,
                ),
            ]
        })
        .map(|(n, t)| {
            let m = client::message(&n, t).unwrap();
            (m.to_vec().unwrap(), m.metadata.id)
        })
        .collect();
    let names = Arc::new(names);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let latencies: Vec<Duration> = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..in_flight {
            let names = Arc::clone(&names);
            tasks.push(tokio::spawn(async move {
                let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                socket.connect(addr).await.unwrap();
                let mut buf = vec![0u8; 4096];
                let mut out = Vec::new();
                let mut i = t;
                while out.len() < MAX_QUERIES / in_flight && started.elapsed() < MAX_TIME {
                    let (bytes, id) = &names[i % names.len()];
                    i += in_flight;
                    let sent = Instant::now();
                    socket.send(bytes).await.unwrap();
                    loop {
                        match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf))
                            .await
                        {
                            Ok(Ok(n)) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == *id => {
                                out.push(sent.elapsed());
                                break;
                            }
                            Ok(_) => continue,
                            Err(_) => break, // lost: not counted
                        }
                    }
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let elapsed = started.elapsed();
    let _ = stop_tx.send(());
    server.join().unwrap();
    let mut sorted = latencies;
    sorted.sort();
    let qps = sorted.len() as f64 / elapsed.as_secs_f64();
    report::figure(
        "dns.queries",
        qps,
        "queries/s",
        report::Goal::AtLeast(50_000.0),
        &format!("cluster DNS on one core, 1,000 Services, {in_flight} queries in flight"),
    );
    report::figure(
        "dns.query_p50",
        report::ms(percentile(&sorted, 0.50)),
        "ms",
        report::Goal::None,
        &format!("DNS query round trip, {in_flight} in flight, p50"),
    );
    report::figure(
        "dns.query_p99",
        report::ms(percentile(&sorted, 0.99)),
        "ms",
        report::Goal::AtMost(1.0),
        &format!("DNS query round trip, {in_flight} in flight, p99"),
    );
    println!(
        "dns queries: {} answered in {:.2} s = {:.0} queries/s (server on one core, {} in flight); latency p50 {:?} p99 {:?} max {:?}",
        sorted.len(),
        elapsed.as_secs_f64(),
        qps,
        in_flight,
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.99),
        sorted.last().copied().unwrap_or_default(),
    );
}
