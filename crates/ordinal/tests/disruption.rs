//! End to end, with the real kubectl and real pods: `kubectl drain` of the
//! one node of `ordinal up` against a 3-replica StatefulSet guarded by a
//! PodDisruptionBudget of `maxUnavailable: 1`.
//!
//! On one node the drain cordons the only place a replacement pod could
//! run, so — as on a real one-node cluster — it evicts one pod, then keeps
//! retrying the others with the budget's 429 while the replacement stays
//! Pending; after `kubectl uncordon` the replacement runs, the budget
//! allows the next eviction, and the drain finishes. A watch of the pods
//! checks that at no time during the drain were two pods of the set
//! unhealthy (missing, not Ready, or being deleted).
//!
//! Every wait is a bounded poll.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};

use common::{Ordinal, apply, eventually, node_name, peek};

const WAIT: Duration = Duration::from_secs(120);
const PODS: [&str; 3] = ["web-0", "web-1", "web-2"];
const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn manifests() -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {image}
        command: [sleep, "86403"]
        readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web}}
spec:
  maxUnavailable: 1
  selector: {{matchLabels: {{app: web}}}}
"#,
        image = common::images::BUSYBOX
    )
}

/// Healthy as a budget counts it: there, Ready, not being deleted.
fn healthy(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Marked by the eviction API as it deletes the pod.
fn evicted(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| {
            c.type_ == "DisruptionTarget"
                && c.status == "True"
                && c.reason.as_deref() == Some("EvictionByEvictionAPI")
        })
}

#[derive(Default)]
struct Seen {
    /// name → (uid, healthy) of the set's pods, as the watch shows them.
    pods: BTreeMap<String, (String, bool)>,
    /// The most pods of the set unhealthy at once.
    most_unhealthy: usize,
    /// Pods (name and uid) the watch saw deleted.
    deleted: Vec<(String, String)>,
    /// Pods (uid) the watch saw marked a disruption target by an eviction.
    marked: std::collections::BTreeSet<String>,
}

impl Seen {
    fn unhealthy(&self) -> usize {
        PODS.iter()
            .filter(|n| !self.pods.get(**n).is_some_and(|(_, ok)| *ok))
            .count()
    }
}

/// A watch of the set's pods on a thread of its own.
struct PodWatch {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PodWatch {
    fn start(o: &Ordinal) -> PodWatch {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let kubeconfig = o.kubeconfig();
        let (synced_tx, synced_rx) = std::sync::mpsc::channel();
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
                    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
                        .await
                        .unwrap();
                    let client = kube::Client::try_from(config).unwrap();
                    let pods: Api<Pod> = Api::namespaced(client, "default");
                    let events =
                        watcher::watcher(pods, watcher::Config::default().labels("app=web"));
                    futures::pin_mut!(events);
                    let mut relist: Option<BTreeMap<String, (String, bool)>> = None;
                    let mut listed = false;
                    while !stop.load(Ordering::Relaxed) {
                        let next =
                            tokio::time::timeout(Duration::from_millis(200), events.next()).await;
                        let Ok(Some(event)) = next else { continue };
                        let Ok(event) = event else { continue };
                        let mut s = seen.lock().unwrap();
                        let entry = |p: &Pod| {
                            (
                                p.metadata.name.clone().unwrap_or_default(),
                                (p.metadata.uid.clone().unwrap_or_default(), healthy(p)),
                            )
                        };
                        match event {
                            Event::Init => relist = Some(BTreeMap::new()),
                            Event::InitApply(p) => {
                                if let Some(r) = relist.as_mut() {
                                    let (k, v) = entry(&p);
                                    r.insert(k, v);
                                }
                            }
                            Event::InitDone => {
                                s.pods = relist.take().unwrap_or_default();
                                listed = true;
                                let _ = synced_tx.send(());
                            }
                            Event::Apply(p) => {
                                if evicted(&p) {
                                    s.marked.insert(p.metadata.uid.clone().unwrap_or_default());
                                }
                                let (k, v) = entry(&p);
                                s.pods.insert(k, v);
                            }
                            Event::Delete(p) => {
                                let (k, (uid, _)) = entry(&p);
                                s.pods.remove(&k);
                                s.deleted.push((k, uid));
                            }
                        }
                        // Counted once the first list is in (before it,
                        // the watch knows of no pod).
                        if relist.is_none() && listed {
                            let now = s.unhealthy();
                            s.most_unhealthy = s.most_unhealthy.max(now);
                        }
                    }
                });
            })
        };
        synced_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the pod watch lists");
        PodWatch {
            seen,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `kubectl drain` running, its output collected as it comes.
struct Drain {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Drain {
    fn start(o: &Ordinal, node: &str) -> Drain {
        let mut child = o
            .kubectl()
            .args([
                "drain",
                node,
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--timeout=300s",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl drain starts");
        let collect = |mut from: Box<dyn Read + Send>| {
            let into = Arc::new(Mutex::new(String::new()));
            let sink = Arc::clone(&into);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            into
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Drain {
            child,
            stdout,
            stderr,
        }
    }

    fn out(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn err(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn evicted(&self) -> usize {
        self.out()
            .lines()
            .filter(|l| l.starts_with("pod/web-") && l.ends_with(" evicted"))
            .count()
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn drain_evicts_one_pod_at_a_time_within_the_budget() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(&o, &manifests());
    eventually("3 replicas ready", WAIT, || {
        peek(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });
    eventually("the budget allows one disruption", WAIT, || {
        peek(
            &o,
            "pdb/web",
            "{.status.currentHealthy} {.status.desiredHealthy} {.status.disruptionsAllowed}",
        ) == "3 2 1"
    });
    let table = o.ok(&["get", "pdb", "web"]);
    assert!(
        table.starts_with("NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE"),
        "{table}"
    );

    let watch = PodWatch::start(&o);
    let mut drain = Drain::start(&o, &node);

    // One pod goes; its replacement cannot be scheduled on the cordoned
    // node; the budget refuses the others, and the drain keeps trying.
    eventually("the budget refuses an eviction", WAIT, || {
        drain.err().contains(REFUSED)
    });
    eventually("one pod evicted", WAIT, || drain.evicted() == 1);
    eventually("its replacement waits, Pending", WAIT, || {
        let phases = peek(
            &o,
            "pods",
            "{range .items[*]}{.metadata.name}={.status.phase} {end}",
        );
        phases.split_whitespace().any(|p| p.ends_with("=Pending"))
    });
    assert_eq!(
        peek(&o, &format!("node/{node}"), "{.spec.unschedulable}"),
        "true"
    );
    let refusals = drain.err().matches(REFUSED).count();
    eventually("the drain retries", WAIT, || {
        drain.err().matches(REFUSED).count() > refusals
    });
    assert_eq!(drain.evicted(), 1, "{}", drain.out());
    assert!(
        drain.child.try_wait().unwrap().is_none(),
        "the drain gave up: {}\n{}",
        drain.out(),
        drain.err()
    );
    assert_eq!(
        peek(&o, "pdb/web", "{.status.disruptionsAllowed}"),
        "0",
        "no disruption left while a replica is missing"
    );

    // Room again: the drain goes on, one pod at a time, and finishes.
    o.ok(&["uncordon", &node]);
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = drain.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the drain did not finish: {}\n{}",
            drain.out(),
            drain.err()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The readers may still be collecting the last lines.
    eventually("the drain's last words", Duration::from_secs(5), || {
        drain.out().contains("drained")
    });
    assert!(status.success(), "{}\n{}", drain.out(), drain.err());
    assert_eq!(drain.evicted(), 3, "{}", drain.out());
    eventually("3 replicas ready again", WAIT, || {
        peek(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });

    let seen = watch.seen.lock().unwrap();
    assert!(seen.deleted.len() >= 3, "{:?}", seen.deleted);
    assert_eq!(
        seen.marked.len(),
        3,
        "each evicted pod was marked a disruption target: {:?}",
        seen.marked
    );
    assert_eq!(
        seen.most_unhealthy, 1,
        "at most one pod of the set unhealthy at any time during the drain"
    );
}
