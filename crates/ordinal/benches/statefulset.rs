//! StatefulSet controller benchmark against a real `ordinal up` process,
//! with a stand-in kubelet marking every pod Running and Ready as soon as
//! it sees it:
//!
//! - a Parallel set of 1,000 replicas: time from creating the set until
//!   all 1,000 pods exist (goal ≤ 3 s);
//! - an OrderedReady set of 100 replicas: time until all 100 are Ready,
//!   and the controller's share per pod once the stand-in's own time is
//!   taken out (goal ≤ 5 ms per pod).
//!
//! Run: `cargo bench -p ordinal --bench statefulset`. Every wait is bounded.

#[allow(dead_code)]
#[path = "../tests/common/kubelet.rs"]
mod kubelet;

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};

const PARALLEL: usize = 1_000;
const ORDERED: usize = 100;
const PARALLEL_GOAL: Duration = Duration::from_secs(3);
const PER_POD_GOAL: Duration = Duration::from_millis(5);
const LIMIT: Duration = Duration::from_secs(120);

fn set(name: &str, replicas: usize, policy: &str) -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "podManagementPolicy": policy,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
            }
        }
    }))
    .unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sts");
    let (mut child, _) = support::spawn_with(&dir, &["--no-node"]);
    let c = support::client(&dir).await;
    let sets: Api<StatefulSet> = Api::namespaced(c.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(kubelet::Stats::default());
    let stand_in = tokio::spawn(kubelet::run(
        c.clone(),
        Arc::clone(&stop),
        Arc::clone(&stats),
    ));
    // Let the controllers list the (empty) caches first.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // OrderedReady, 100 replicas, until all are Ready.
    let started = Instant::now();
    sets.create(
        &PostParams::default(),
        &set("ordered", ORDERED, "OrderedReady"),
    )
    .await
    .unwrap();
    let got = support::ready_replicas(&sets, "ordered", ORDERED, LIMIT).await;
    let ordered = started.elapsed();
    let marked = stats.marked.load(Ordering::Relaxed).max(1);
    let stand_in_mean =
        Duration::from_micros(stats.latency_us.load(Ordering::Relaxed) / marked as u64);
    let per_pod = ordered / ORDERED as u32;
    let overhead = per_pod.saturating_sub(stand_in_mean);

    // Parallel, 1,000 replicas, until all exist.
    let started = Instant::now();
    sets.create(
        &PostParams::default(),
        &set("parallel", PARALLEL, "Parallel"),
    )
    .await
    .unwrap();
    let created = support::pods_seen(&pods, "parallel", PARALLEL, LIMIT).await;
    let parallel = started.elapsed();
    let all_ready = support::ready_replicas(&sets, "parallel", PARALLEL, LIMIT).await;
    let parallel_ready = started.elapsed();

    stop.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(1), stand_in).await;
    let _ = child.kill();
    let _ = child.wait();

    use report::Goal;
    let measured = |ok: bool, d: Duration| if ok { report::ms(d) } else { f64::NAN };
    report::figure(
        "statefulset.parallel_created",
        measured(created == PARALLEL, parallel),
        "ms",
        Goal::AtMost(report::ms(PARALLEL_GOAL)),
        "Parallel set of 1,000, stand-in kubelet: create → all pods created",
    );
    report::figure(
        "statefulset.parallel_ready",
        measured(all_ready == PARALLEL, parallel_ready),
        "ms",
        Goal::None,
        "Parallel set of 1,000, stand-in kubelet: create → all Ready",
    );
    report::figure(
        "statefulset.ordered_ready",
        measured(got == ORDERED, ordered),
        "ms",
        Goal::None,
        "OrderedReady set of 100, stand-in kubelet: create → all Ready",
    );
    report::figure(
        "statefulset.ordered_overhead",
        measured(got == ORDERED, overhead),
        "ms",
        Goal::AtMost(report::ms(PER_POD_GOAL)),
        "OrderedReady: controller overhead per pod (stand-in kubelet's time taken out)",
    );
    println!();
    println!("| measure | value | goal |");
    println!("|---|---|---|");
    let ok = |b: bool| if b { "ok" } else { "MISSED" };
    println!(
        "| Parallel set of {PARALLEL}: create → all pods created | {}{} | <= {} {} |",
        ms(parallel),
        if created < PARALLEL {
            format!(" ({created} created)")
        } else {
            String::new()
        },
        ms(PARALLEL_GOAL),
        ok(created == PARALLEL && parallel <= PARALLEL_GOAL)
    );
    println!(
        "| Parallel set of {PARALLEL}: create → all Ready | {} ({all_ready} ready) | - |",
        ms(parallel_ready)
    );
    println!(
        "| OrderedReady set of {ORDERED}: create → all Ready | {}{} | - |",
        ms(ordered),
        if got < ORDERED {
            format!(" ({got} ready)")
        } else {
            String::new()
        },
    );
    println!(
        "| OrderedReady: per pod (stand-in kubelet {:.2} ms of it) | {:.2} ms | - |",
        stand_in_mean.as_secs_f64() * 1e3,
        per_pod.as_secs_f64() * 1e3
    );
    println!(
        "| OrderedReady: controller overhead per pod | {:.2} ms | <= {} ms {} |",
        overhead.as_secs_f64() * 1e3,
        PER_POD_GOAL.as_millis(),
        ok(got == ORDERED && overhead <= PER_POD_GOAL)
    );
}
