//! API server benchmarks against a real `ordinal up` process over HTTPS on
//! loopback. Run: `cargo bench -p ordinal --bench apiserver`.
//!
//! Prints one table: each figure beside its goal. Every load loop is bounded
//! in count and time.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use report::Goal;

const PODS: usize = 10_000;
const WRITERS: usize = 32;
const WATCHERS: usize = 100;
const WATCH_WRITES: usize = 200;

struct Row {
    name: &'static str,
    value: String,
    goal: &'static str,
    ok: bool,
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}, "annotations": {"bench": "x".repeat(200)}},
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.k8s.io/nginx-slim:0.24",
                "command": ["/bin/sh", "-c", "sleep infinity"],
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 2}
            }]
        }
    }))
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut rows = Vec::new();
    let tmp = tempfile::tempdir().unwrap();

    // Start-up on an empty data dir: five fresh dirs, the median.
    let mut startups = Vec::new();
    let mut idle_rss = 0.0;
    for i in 0..5 {
        let dir = tmp.path().join(format!("empty-{i}"));
        let (mut child, took) = support::spawn_with(&dir, &["--no-node", "--api-only"]);
        startups.push(took);
        std::thread::sleep(Duration::from_millis(300));
        idle_rss = support::rss_mb(child.id()).unwrap_or(f64::NAN);
        let _ = child.kill();
        let _ = child.wait();
    }
    let startup = median(startups);
    report::figure(
        "apiserver.startup_empty",
        ms(startup),
        "ms",
        Goal::AtMost(150.0),
        "API server start-up to ready, empty data dir (median of 5)",
    );
    report::figure(
        "apiserver.idle_rss_empty",
        idle_rss,
        "MB",
        Goal::AtMost(40.0),
        "API server idle RSS, empty data dir",
    );
    rows.push(Row {
        name: "start-up to ready, empty data dir",
        value: format!("{:.0} ms", ms(startup)),
        goal: "<= 150 ms",
        ok: startup <= Duration::from_millis(150),
    });
    rows.push(Row {
        name: "idle RSS, empty",
        value: format!("{idle_rss:.1} MB"),
        goal: "<= 40 MB",
        ok: idle_rss <= 40.0,
    });

    // Durable pod creates from 32 concurrent HTTPS clients.
    let dir = tmp.path().join("loaded");
    let (mut child, _) = support::spawn_with(&dir, &["--no-node", "--api-only"]);
    let mut clients = Vec::new();
    for _ in 0..WRITERS {
        clients.push(support::client(&dir).await);
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in clients.clone() {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let api: Api<Pod> = Api::namespaced(c, "default");
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= PODS {
                    break;
                }
                let t = Instant::now();
                api.create(&PostParams::default(), &pod(&format!("pod-{i:05}")))
                    .await
                    .expect("create");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let rate = PODS as f64 / elapsed.as_secs_f64();
    let p99 = percentile(&latencies, 0.99);
    report::figure(
        "apiserver.creates",
        rate,
        "creates/s",
        Goal::AtLeast(2000.0),
        "durable pod creates, 32 HTTPS clients (10,000 pods)",
    );
    report::figure(
        "apiserver.create_p50",
        ms(percentile(&latencies, 0.5)),
        "ms",
        Goal::None,
        "pod create latency p50, 32 clients",
    );
    report::figure(
        "apiserver.create_p99",
        ms(p99),
        "ms",
        Goal::AtMost(20.0),
        "pod create latency p99, 32 clients",
    );
    rows.push(Row {
        name: "durable pod creates, 32 HTTPS clients",
        value: format!("{rate:.0}/s"),
        goal: ">= 2000/s",
        ok: rate >= 2000.0,
    });
    rows.push(Row {
        name: "  create latency p50 / p99",
        value: format!("{:.1} / {:.1} ms", ms(percentile(&latencies, 0.5)), ms(p99)),
        goal: "p99 <= 20 ms",
        ok: p99 <= Duration::from_millis(20),
    });

    // LIST of 10,000 pods, full JSON body, median of five.
    let api: Api<Pod> = Api::all(clients[0].clone());
    let mut lists = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let list = api.list(&ListParams::default()).await.unwrap();
        lists.push(t.elapsed());
        assert_eq!(list.items.len(), PODS);
    }
    let list_time = median(lists);
    report::figure(
        "apiserver.list_decoded",
        ms(list_time),
        "ms",
        Goal::AtMost(150.0),
        "LIST of 10,000 pods, kube-rs decode included (median of 5)",
    );
    rows.push(Row {
        name: "LIST 10,000 pods (client-side decode included)",
        value: format!("{:.0} ms", ms(list_time)),
        goal: "<= 150 ms",
        ok: list_time <= Duration::from_millis(150),
    });
    let raw = {
        let mut v = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let req = http::Request::get("/api/v1/pods").body(Vec::new()).unwrap();
            let text = clients[0].request_text(req).await.unwrap();
            v.push(t.elapsed());
            assert!(text.len() > PODS * 100);
        }
        median(v)
    };
    report::figure(
        "apiserver.list_wire",
        ms(raw),
        "ms",
        Goal::AtMost(150.0),
        "LIST of 10,000 pods, bytes on the wire (median of 5)",
    );
    rows.push(Row {
        name: "LIST 10,000 pods (bytes on the wire)",
        value: format!("{:.0} ms", ms(raw)),
        goal: "<= 150 ms",
        ok: raw <= Duration::from_millis(150),
    });
    std::thread::sleep(Duration::from_millis(500));
    let loaded_rss = support::rss_mb(child.id()).unwrap_or(f64::NAN);
    report::figure(
        "apiserver.rss_10k",
        loaded_rss,
        "MB",
        Goal::AtMost(200.0),
        "API server RSS with 10,000 pods (the process that wrote them)",
    );
    rows.push(Row {
        name: "RSS with 10,000 pods",
        value: format!("{loaded_rss:.1} MB"),
        goal: "<= 200 MB",
        ok: loaded_rss <= 200.0,
    });

    // Watch delivery latency to 100 watchers.
    let cms: Api<ConfigMap> = Api::namespaced(clients[0].clone(), "default");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let start_rv = cms
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    for w in 0..WATCHERS {
        let c = clients[w % WRITERS].clone();
        let tx = tx.clone();
        let rv = start_rv.clone();
        tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(c, "default");
            let mut stream = api
                .watch(&WatchParams::default().timeout(120), &rv)
                .await
                .unwrap()
                .boxed();
            while let Some(Ok(event)) = stream.next().await {
                if let WatchEvent::Added(cm) = event {
                    let i: usize = cm
                        .metadata
                        .name
                        .unwrap()
                        .trim_start_matches("w-")
                        .parse()
                        .unwrap();
                    let _ = tx.send((i, Instant::now()));
                }
            }
        });
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut sent = Vec::new();
    for i in 0..WATCH_WRITES {
        let cm: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": format!("w-{i}")}}))
                .unwrap();
        let t = Instant::now();
        cms.create(&PostParams::default(), &cm).await.unwrap();
        sent.push((t, t.elapsed()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut delivery = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivery.len() < WATCHERS * WATCH_WRITES && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some((i, at))) => {
                // From the moment the write was sent: an upper bound that
                // includes the write's own round trip.
                let (t0, _) = sent[i];
                delivery.push(at.duration_since(t0));
            }
            _ => break,
        }
    }
    delivery.sort();
    let complete = delivery.len() == WATCHERS * WATCH_WRITES;
    let p99 = percentile(&delivery, 0.99);
    let watch_p50 = if complete {
        ms(percentile(&delivery, 0.5))
    } else {
        f64::NAN
    };
    report::figure(
        "apiserver.watch_p50",
        watch_p50,
        "ms",
        Goal::None,
        "watch delivery to 100 watchers, from write sent, p50",
    );
    report::figure(
        "apiserver.watch_p99",
        if complete { ms(p99) } else { f64::NAN },
        "ms",
        Goal::AtMost(5.0),
        "watch delivery to 100 watchers, from write sent, p99",
    );
    rows.push(Row {
        name: "watch delivery from write sent, 100 watchers, p50 / p99",
        value: format!(
            "{:.2} / {:.2} ms{}",
            ms(percentile(&delivery, 0.5)),
            ms(p99),
            if complete { "" } else { " (events missing!)" }
        ),
        goal: "p99 <= 5 ms",
        ok: complete && p99 <= Duration::from_millis(5),
    });

    // Restart on the 10,000-pod data dir.
    // SAFETY: a signal to our own child, not yet reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    let mut restarts = Vec::new();
    let mut after_rss = 0.0;
    for _ in 0..3 {
        let (mut child, took) = support::spawn_with(&dir, &["--no-node", "--api-only"]);
        restarts.push(took);
        std::thread::sleep(Duration::from_millis(300));
        after_rss = support::rss_mb(child.id()).unwrap_or(f64::NAN);
        // SAFETY: a signal to our own child, not yet reaped.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let _ = child.wait();
    }
    let restart = median(restarts);
    report::figure(
        "apiserver.startup_10k",
        ms(restart),
        "ms",
        Goal::AtMost(1000.0),
        "API server start-up to ready, 10,000 stored pods (median of 3)",
    );
    report::figure(
        "apiserver.idle_rss_10k",
        after_rss,
        "MB",
        Goal::AtMost(200.0),
        "API server idle RSS after restart, 10,000 pods",
    );
    rows.push(Row {
        name: "start-up to ready, 10,000 stored pods",
        value: format!("{:.0} ms", ms(restart)),
        goal: "<= 1 s",
        ok: restart <= Duration::from_secs(1),
    });
    rows.push(Row {
        name: "idle RSS after restart, 10,000 pods",
        value: format!("{after_rss:.1} MB"),
        goal: "<= 200 MB",
        ok: after_rss <= 200.0,
    });

    println!();
    println!("| benchmark | result | goal | met |");
    println!("|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.name,
            r.value,
            r.goal,
            if r.ok { "yes" } else { "NO" }
        );
    }
}
