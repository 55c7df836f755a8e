//! The user's journey, measured: one real `ordinal up` with everything in
//! it (API server, controllers, scheduler, volumes, the node agent running
//! pods as processes in their own namespaces, cluster DNS, service proxy),
//! driven by the real kubectl 1.33 as a user drives it.
//!
//! Figures:
//!
//! - start-up: to the banner, and to the node Ready;
//! - idle RSS of `ordinal up` with everything running and no pods;
//! - `kubectl apply` of a headless Service and a 3-replica OrderedReady
//!   StatefulSet of busybox httpd (the image imported into the node's
//!   store before `ordinal up` starts) with an httpGet readiness probe → the
//!   set reports 3 ready replicas (median of 5 rounds; each round deletes
//!   the set and waits until its pods are gone);
//! - `kubectl apply` of a 1,000-replica Parallel set of the same server →
//!   all pods created, and the set reporting 1,000 ready replicas;
//! - RSS of `ordinal up` with those 1,000 pods running, and idle again
//!   after `kubectl delete` took them away.
//!
//! Every wait is bounded; a wait that runs out reports its figure as not
//! measured and the benchmark goes on to clean up. Run as root (pods get
//! their own namespaces): `cargo bench -p ordinal --bench journey`.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use report::Goal;

/// Rounds of the 3-replica apply.
const ROUNDS: usize = 5;
const MANY: usize = 1_000;
/// The longest any one wait may take.
const LIMIT: Duration = Duration::from_secs(180);

/// A headless Service and a StatefulSet of a small web server with a
/// readiness probe, as a tutorial writes them.
fn manifest(name: &str, replicas: usize, policy: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  clusterIP: None
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: {name}}}
spec:
  serviceName: {name}
  replicas: {replicas}
  podManagementPolicy: {policy}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: httpd
        image: {image}
        command: [sh, -c, "hostname > /www/index.html; exec busybox httpd -f -p 80 -h /www"]
        ports: [{{name: http, containerPort: 80}}]
        readinessProbe:
          httpGet: {{path: /, port: http}}
        volumeMounts: [{{name: www, mountPath: /www}}]
      volumes:
      - {{name: www, emptyDir: {{}}}}
"#,
        image = support::images::BUSYBOX,
    )
}

/// When the set `name` first reports `n` ready replicas; None if that
/// does not happen within LIMIT.
async fn when_ready(sets: Api<StatefulSet>, name: &'static str, n: usize) -> Option<Instant> {
    (support::ready_replicas(&sets, name, n, LIMIT).await >= n).then(Instant::now)
}

/// Polls until no pod labelled `app=<name>` is left; the time it took, or
/// None after LIMIT.
async fn pods_gone(pods: &Api<Pod>, name: &str) -> Option<Duration> {
    let started = Instant::now();
    let selector = ListParams::default().labels(&format!("app={name}"));
    while started.elapsed() < LIMIT {
        if let Ok(list) = pods.list_metadata(&selector).await
            && list.items.is_empty()
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn write(dir: &Path, file: &str, text: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, text).expect("manifest written");
    path.to_string_lossy().into_owned()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn since(started: Instant, at: Option<Instant>) -> f64 {
    at.map(|at| report::ms(at - started)).unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("journey");
    // The image is on the node before `ordinal up` starts, as after
    // `ordinal image import`.
    support::images::prepare(&dir);
    let spawned = Instant::now();
    let (child, to_banner) = support::spawn(&dir);
    let up = support::Up(child);
    let pid = up.0.id();
    let client = support::client(&dir).await;
    let kubectl = Arc::new(support::Kubectl {
        kubeconfig: dir.join("kubeconfig"),
        cache: tempfile::tempdir().expect("tempdir"),
    });

    // Everything is running once the node is Ready and the controllers
    // have made the default StorageClass.
    let nodes: Api<Node> = Api::all(client.clone());
    let classes: Api<StorageClass> = Api::all(client.clone());
    let node_up = loop {
        let list = nodes.list(&ListParams::default()).await;
        if list.is_ok_and(|l| l.items.iter().any(support::node_ready)) {
            break spawned.elapsed();
        }
        assert!(spawned.elapsed() < LIMIT, "the node never became Ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    while classes.get_opt("local-path").await.ok().flatten().is_none() {
        assert!(spawned.elapsed() < LIMIT, "the controllers never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    report::figure(
        "journey.startup",
        report::ms(to_banner),
        "ms",
        Goal::AtMost(150.0),
        "`ordinal up` with everything (node, DNS, controllers): start-up to ready (banner)",
    );
    report::figure(
        "journey.node_ready",
        report::ms(node_up),
        "ms",
        Goal::None,
        "`ordinal up` with everything: start → node Ready",
    );
    // kubectl as a user has used it before applying: discovery cached.
    kubectl.run(&["get", "nodes,statefulsets,services,pods"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    report::figure(
        "journey.idle_rss",
        support::rss_mb(pid).unwrap_or(f64::NAN),
        "MB",
        Goal::AtMost(40.0),
        "`ordinal up` RSS, idle, everything running (node, DNS, controllers), no pods",
    );

    // kubectl apply → a 3-replica OrderedReady set all Ready.
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let web = write(tmp.path(), "web.yaml", &manifest("web", 3, "OrderedReady"));
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let watching = tokio::spawn(when_ready(sets.clone(), "web", 3));
        let started = Instant::now();
        kubectl.run_async(&["apply", "-f", &web]).await;
        let Some(at) = watching.await.expect("watch task") else {
            eprintln!("journey: round {round}: the 3 replicas were not Ready within {LIMIT:?}");
            break;
        };
        let took = at - started;
        println!(
            "round {round}: kubectl apply → 3 replicas Ready: {:.0} ms",
            report::ms(took)
        );
        rounds.push(took);
        kubectl.run(&["delete", "-f", &web]);
        pods_gone(&pods, "web")
            .await
            .expect("the set's pods go within the limit");
    }
    if rounds.len() == ROUNDS {
        let slowest = *rounds.iter().max().expect("rounds");
        report::figure(
            "journey.apply_3_ordered",
            report::ms(median(rounds)),
            "ms",
            Goal::AtMost(1000.0),
            "`kubectl apply` → all Ready, 3-replica OrderedReady set of busybox httpd, httpGet readiness probe (median of 5)",
        );
        report::figure(
            "journey.apply_3_ordered_max",
            report::ms(slowest),
            "ms",
            Goal::None,
            "`kubectl apply` → all Ready, 3-replica OrderedReady set, slowest of 5",
        );
    } else {
        report::unmeasured(
            "journey.apply_3_ordered",
            "ms",
            Goal::AtMost(1000.0),
            "`kubectl apply` → all Ready, 3-replica OrderedReady set (did not finish)",
        );
    }

    // kubectl apply → 1,000 Parallel replicas, real pods.
    let big = write(tmp.path(), "big.yaml", &manifest("big", MANY, "Parallel"));
    let created = tokio::spawn({
        let pods = pods.clone();
        async move { (support::pods_seen(&pods, "big", MANY, LIMIT).await >= MANY).then(Instant::now) }
    });
    let all_ready = tokio::spawn(when_ready(sets.clone(), "big", MANY));
    let started = Instant::now();
    kubectl.run_async(&["apply", "-f", &big]).await;
    let created = created.await.expect("watch task");
    let all_ready = all_ready.await.expect("watch task");
    report::figure(
        "journey.apply_1000_created",
        since(started, created),
        "ms",
        Goal::AtMost(3000.0),
        "`kubectl apply` → all pods created, 1,000-replica Parallel set, real node",
    );
    report::figure(
        "journey.apply_1000_ready",
        since(started, all_ready) / 1e3,
        "s",
        Goal::AtMost(10.0),
        "`kubectl apply` → all Ready, 1,000-replica Parallel set of busybox httpd, real pods on one node",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    report::figure(
        "journey.loaded_rss",
        support::rss_mb(pid).unwrap_or(f64::NAN),
        "MB",
        Goal::AtMost(350.0),
        "`ordinal up` RSS with the 1,000 pods running (API server + node agent budgets: 200 + 150 MB)",
    );
    let deleting = Instant::now();
    kubectl.run(&["delete", "-f", &big, "--wait=false"]);
    let gone = pods_gone(&pods, "big").await;
    report::figure(
        "journey.delete_1000",
        gone.map(|_| deleting.elapsed().as_secs_f64())
            .unwrap_or(f64::NAN),
        "s",
        Goal::None,
        "`kubectl delete` of the 1,000-replica set → every pod gone (graceful)",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    report::figure(
        "journey.idle_rss_after",
        support::rss_mb(pid).unwrap_or(f64::NAN),
        "MB",
        Goal::None,
        "`ordinal up` RSS, idle again after the 1,000 pods are gone",
    );
    drop(up);
}
