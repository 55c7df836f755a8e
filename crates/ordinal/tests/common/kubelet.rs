//! A stand-in for the kubelet until pods really run: it watches pods and
//! marks each new one Running and Ready through the status subresource,
//! as a kubelet would report it. Nothing else in ordinal knows it exists.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher::{self, Event};

/// The status patch of a pod that runs and is ready.
pub fn ready_patch() -> serde_json::Value {
    let now = jiff_now();
    serde_json::json!({"status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
        ],
    }})
}

fn jiff_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn is_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Counters of what the stand-in did.
#[derive(Default)]
pub struct Stats {
    /// Pods marked ready.
    pub marked: AtomicUsize,
    /// Total time from seeing a pod to its status being written, in µs.
    pub latency_us: AtomicU64,
}

/// Runs the stand-in on the current Tokio runtime until `stop` is set.
pub async fn run(client: kube::Client, stop: Arc<AtomicBool>, stats: Arc<Stats>) {
    let all: Api<Pod> = Api::all(client.clone());
    let stream = watcher::watcher(all, watcher::Config::default());
    futures::pin_mut!(stream);
    let mut done: HashSet<String> = HashSet::new();
    let mut inflight = futures::stream::FuturesUnordered::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        tokio::select! {
            event = stream.next() => {
                let pod = match event {
                    Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => pod,
                    Some(_) => continue,
                    None => return,
                };
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if pod.metadata.deletion_timestamp.is_some() || is_ready(&pod) || done.contains(&uid) {
                    continue;
                }
                done.insert(uid);
                let seen = Instant::now();
                let api: Api<Pod> = Api::namespaced(
                    client.clone(),
                    pod.metadata.namespace.as_deref().unwrap_or("default"),
                );
                let name = pod.metadata.name.clone().unwrap_or_default();
                let stats = Arc::clone(&stats);
                inflight.push(async move {
                    let patched = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(ready_patch()))
                        .await;
                    if patched.is_ok() {
                        stats.marked.fetch_add(1, Ordering::Relaxed);
                        stats
                            .latency_us
                            .fetch_add(seen.elapsed().as_micros() as u64, Ordering::Relaxed);
                    }
                });
            }
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
}

/// The stand-in on a thread of its own, for synchronous tests.
pub struct Kubelet {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<Stats>,
}

impl Kubelet {
    pub fn start(kubeconfig: std::path::PathBuf) -> Kubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let thread = {
            let (stop, stats) = (Arc::clone(&stop), Arc::clone(&stats));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let file = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
                    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
                        .await
                        .expect("config");
                    let client = kube::Client::try_from(config).expect("client");
                    run(client, stop, stats).await;
                });
            })
        };
        Kubelet {
            stop,
            thread: Some(thread),
            stats,
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
