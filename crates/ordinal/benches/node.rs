//! Node agent benchmark: image pods that really run, against a real API
//! server.
//!
//! `ordinal up --no-node` serves the API and runs the controllers (the
//! StatefulSet controller and the scheduler among them); `ordinal node`
//! runs as a process of its own (so its memory can be measured alone) and
//! registers the node `bench-node`. The busybox image is imported into the
//! node's store before it starts, as `ordinal image import` would. Figures:
//!
//! - server listening → pod Ready with a tcpSocket readiness probe
//!   (periodSeconds 10), over 20 pods (goal ≤ 100 ms): the container waits
//!   for a file the benchmark creates, then starts listening, so the clock
//!   starts before the server listens;
//! - a 1,000-replica Parallel StatefulSet of image pods: create → all
//!   Running (goal ≤ 10 s), and the node agent's RSS with them running
//!   (goal ≤ 150 MB).
//!
//! A single pod's create → Running is the `containers` benchmark's, on an
//! `ordinal up` of its own.
//!
//! Run: `cargo bench -p ordinal --bench node` (as root). Every wait is
//! bounded.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::watcher::{self, Event};

const NODE: &str = "bench-node";
const LIMIT: Duration = Duration::from_secs(120);
/// Replicas of the big set.
const MANY: usize = 1_000;

fn pod(name: &str, command: &[&str], extra: serde_json::Value) -> Pod {
    let mut spec = serde_json::json!({
        "nodeName": NODE,
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": support::images::BUSYBOX, "command": command}],
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(
        serde_json::json!({"metadata": {"name": name, "labels": {"bench": "node"}}, "spec": spec}),
    )
    .unwrap()
}

/// A Parallel set of `replicas` busybox pods that sleep, labelled like
/// the benchmark's other pods so one deletion takes them all.
fn statefulset(name: &str, replicas: usize) -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "bench": "node"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "c", "image": support::images::BUSYBOX, "command": ["sleep", "3600"]}],
                },
            },
        },
    }))
    .unwrap()
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until pod `name` satisfies `check`, as seen through a watch.
async fn wait_for(api: &Api<Pod>, name: &str, check: fn(&Pod) -> bool) -> Instant {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher::watcher(api.clone(), config);
    futures::pin_mut!(stream);
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("bounded wait")
            .expect("watch open");
        if let Ok(Event::Apply(p) | Event::InitApply(p)) = event
            && check(&p)
        {
            return Instant::now();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn start_node(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ordinal"))
        .args(["node", "--node-name", NODE, "--kubeconfig"])
        .arg(dir.join("kubeconfig"))
        .arg("--dir")
        .arg(dir.join("node"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ordinal node")
}

async fn delete_all(api: &Api<Pod>) {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let _ = api
        .delete_collection(&params, &ListParams::default().labels("bench=node"))
        .await;
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let left = api
            .list(&ListParams::default().labels("bench=node"))
            .await
            .map(|l| l.items.len())
            .unwrap_or(1);
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pods were not deleted in time");
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut server, _) = support::spawn_with(tmp.path(), &["--no-node"]);
    support::images::prepare(tmp.path());
    let mut node = start_node(tmp.path());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = support::client(tmp.path()).await;
        let api: Api<Pod> = Api::namespaced(client.clone(), "default");
        // Wait for the node to register and be Ready (the scheduler
        // places the set's pods only on a Ready node).
        let nodes: Api<Node> = Api::all(client.clone());
        let deadline = Instant::now() + LIMIT;
        while !nodes.get_opt(NODE).await.ok().flatten().is_some_and(|n| support::node_ready(&n)) {
            assert!(Instant::now() < deadline, "the node did not become Ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Warm-up: the first pod pays for page-cache misses.
        api.create(&PostParams::default(), &pod("warm", &["sleep", "3600"], serde_json::json!({}))).await.unwrap();
        wait_for(&api, "warm", support::running).await;

        // 1. Server listening → Ready.
        let ctl = tempfile::tempdir().expect("tempdir");
        let mut readiness = Vec::new();
        for i in 0..20 {
            let name = format!("ready-{i}");
            let go = ctl.path().join(&name);
            let script = format!("while [ ! -e /ctl/{name} ]; do sleep 0.005; done; exec busybox httpd -f -p 8080");
            let extra = serde_json::json!({
                "volumes": [{"name": "ctl", "hostPath": {"path": ctl.path()}}],
            });
            let mut p = pod(&name, &["sh", "-c", &script], extra);
            let c = &mut p.spec.as_mut().unwrap().containers[0];
            c.volume_mounts = Some(vec![serde_json::from_value(serde_json::json!({"name": "ctl", "mountPath": "/ctl"})).unwrap()]);
            c.readiness_probe = Some(
                serde_json::from_value(serde_json::json!({"tcpSocket": {"port": 8080}, "periodSeconds": 10})).unwrap(),
            );
            api.create(&PostParams::default(), &p).await.unwrap();
            wait_for(&api, &name, support::running).await;
            // Let the fast cadence grow a little, as a real server's
            // start-up would.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let started = Instant::now();
            std::fs::write(&go, "").unwrap();
            let at = wait_for(&api, &name, ready).await;
            readiness.push(at - started);
        }
        readiness.sort();
        report::figure(
            "node.listening_ready_p50",
            report::ms(percentile(&readiness, 0.5)),
            "ms",
            report::Goal::None,
            "server listening → pod Ready, tcpSocket probe periodSeconds 10 (20 pods), p50",
        );
        report::figure(
            "node.listening_ready_max",
            report::ms(*readiness.last().unwrap()),
            "ms",
            report::Goal::AtMost(100.0),
            "server listening → pod Ready, tcpSocket probe periodSeconds 10 (20 pods), max",
        );
        println!(
            "server listening → pod Ready (tcpSocket probe, periodSeconds 10; 20 pods): p50 {:.1} ms, max {:.1} ms (goal ≤ 100 ms)",
            percentile(&readiness, 0.5).as_secs_f64() * 1e3,
            readiness.last().unwrap().as_secs_f64() * 1e3
        );
        delete_all(&api).await;

        // 2. A 1,000-replica Parallel StatefulSet.
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
        let rss_before = support::rss_mb(node.id()).unwrap_or(0.0);
        let counting = {
            let api = api.clone();
            async move {
                let config = watcher::Config::default().labels("app=many");
                let stream = watcher::watcher(api, config);
                futures::pin_mut!(stream);
                // Per pod: bound to the node, Running. When all exist,
                // all are bound, all run.
                let mut seen: HashMap<String, (bool, bool)> = HashMap::new();
                let (mut created, mut bound) = (None, None);
                let deadline = tokio::time::Instant::now() + LIMIT;
                while seen.values().filter(|(_, r)| *r).count() < MANY {
                    match tokio::time::timeout_at(deadline, stream.next()).await {
                        Ok(Some(Ok(Event::Apply(p) | Event::InitApply(p)))) => {
                            let on_node = p.spec.as_ref().is_some_and(|s| s.node_name.is_some());
                            seen.insert(p.metadata.name.clone().unwrap_or_default(), (on_node, support::running(&p)));
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => return None,
                    }
                    if created.is_none() && seen.len() >= MANY {
                        created = Some(Instant::now());
                    }
                    if bound.is_none() && seen.values().filter(|(b, _)| *b).count() >= MANY {
                        bound = Some(Instant::now());
                    }
                }
                Some((created?, bound?, Instant::now()))
            }
        };
        let counting = tokio::spawn(counting);
        // The watch is open before the set exists.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        sets.create(&PostParams::default(), &statefulset("many", MANY)).await.expect("create the set");
        let phases = counting.await.expect("watch task");
        if let Some((created, bound, _)) = phases {
            report::figure(
                "node.sts_created_1000",
                (created - started).as_secs_f64(),
                "s",
                report::Goal::None,
                "the same set: create → all 1,000 pods exist (the StatefulSet controller's creates)",
            );
            report::figure(
                "node.sts_bound_1000",
                (bound - started).as_secs_f64(),
                "s",
                report::Goal::None,
                "the same set: create → all 1,000 pods bound to the node (the scheduler)",
            );
        }
        let all_running = phases.map(|(_, _, at)| at - started);
        let rss = support::rss_mb(node.id()).unwrap_or(f64::NAN);
        match all_running {
            Some(took) => report::figure(
                "node.sts_running_1000",
                took.as_secs_f64(),
                "s",
                report::Goal::AtMost(10.0),
                "1,000-replica Parallel StatefulSet of image pods: create → all Running (`ordinal node` beside `ordinal up --no-node`)",
            ),
            None => report::unmeasured(
                "node.sts_running_1000",
                "s",
                report::Goal::AtMost(10.0),
                "1,000-replica Parallel StatefulSet of image pods: create → all Running (did not finish)",
            ),
        };
        report::figure(
            "node.agent_rss_idle",
            rss_before,
            "MB",
            report::Goal::None,
            "node agent (`ordinal node`) RSS, no pods",
        );
        report::figure(
            "node.agent_rss_1000",
            rss,
            "MB",
            report::Goal::AtMost(150.0),
            "node agent (`ordinal node`) RSS with the 1,000 image pods running",
        );
        println!(
            "1,000-replica Parallel StatefulSet → all Running: {} (goal ≤ 10 s)",
            all_running.map_or("not within the limit".into(), |d| format!("{:.2} s", d.as_secs_f64()))
        );
        println!("node agent RSS: {rss_before:.1} MB idle, {rss:.1} MB with 1,000 pods running (goal ≤ 150 MB)");
        // The set goes, its pods stay (orphaned), and go all at once.
        let orphan = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..Default::default()
        };
        sets.delete("many", &orphan).await.expect("delete the set");
        let begun = Instant::now();
        delete_all(&api).await;
        println!("1,000 pods deleted (grace 0) → all gone: {:.2} s", begun.elapsed().as_secs_f64());
        report::figure(
            "node.deleted_1000",
            begun.elapsed().as_secs_f64(),
            "s",
            report::Goal::None,
            "1,000 pods deleted (grace 0) → all gone",
        );
    });
    // SAFETY: a signal to our own child, not yet reaped.
    unsafe {
        libc::kill(node.id() as i32, libc::SIGTERM);
    }
    let _ = node.wait();
    let _ = server.kill();
    let _ = server.wait();
}
