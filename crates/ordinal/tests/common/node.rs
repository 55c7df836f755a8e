//! A stand-in node agent for the volume and scheduler tests, until the
//! real one runs pods: it registers Nodes (labelled with their hostname,
//! `Ready=True` and [`CAPACITY`] through the status subresource) and
//! plays the kubelet for the pods bound to them — a pod starts (Running
//! and Ready) only once the directory of every claim it mounts exists, as
//! a real mount needs; a pod being deleted is finished at once (grace
//! period 0), as a kubelet does after its containers stopped. Nothing in
//! ordinal knows it exists.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher::{self, Event};

use super::Ordinal;

/// Starts `ordinal up` with stand-in nodes named `nodes` instead of a node
/// agent. The one place tests that play the kubelet start ordinal: when
/// the real node agent runs in `ordinal up`, give it the flag that turns
/// it off here.
pub fn start_with_stand_in_nodes(nodes: &[&str]) -> (Ordinal, StandInNodes) {
    let o = Ordinal::start_with(&["--no-node"]);
    let stand_in = StandInNodes::start(o.kubeconfig(), nodes);
    (o, stand_in)
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The directory a pod's claim mounts, once the claim is bound:
/// `spec.local.path` or `spec.hostPath.path` of its volume.
async fn claim_dir(client: &kube::Client, ns: &str, claim: &str) -> Option<PathBuf> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let volume = claims.get_opt(claim).await.ok()??.spec?.volume_name?;
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let spec = pvs.get_opt(&volume).await.ok()??.spec?;
    spec.local
        .map(|l| l.path)
        .or(spec.host_path.map(|h| h.path))
        .map(PathBuf::from)
}

/// Whether every claim directory the pod mounts exists.
async fn volumes_ready(client: &kube::Client, pod: &Pod) -> bool {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(c) = &v.persistent_volume_claim {
            match claim_dir(client, ns, &c.claim_name).await {
                Some(dir) if dir.is_dir() => {}
                _ => return false,
            }
        }
    }
    true
}

/// What each stand-in node offers pods (capacity and allocatable): the
/// scheduler fits requests and the pod count against it.
pub const CAPACITY: &[(&str, &str)] = &[
    ("cpu", "4"),
    ("memory", "8Gi"),
    ("ephemeral-storage", "100Gi"),
    ("pods", "110"),
];

async fn register(client: &kube::Client, name: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
    }))
    .unwrap();
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node created");
    let capacity: serde_json::Map<String, serde_json::Value> = CAPACITY
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    let status = serde_json::json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "stand-in node agent is ready",
            "lastHeartbeatTime": now(), "lastTransitionTime": now(),
        }],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("node status");
}

async fn run(client: kube::Client, names: Vec<String>, stop: Arc<AtomicBool>) {
    let all: Api<Pod> = Api::all(client.clone());
    let stream = watcher::watcher(all, watcher::Config::default());
    futures::pin_mut!(stream);
    let mut started: HashSet<String> = HashSet::new();
    let mut pending: Vec<Pod> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let event = tokio::select! {
            e = stream.next() => e,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                // Pods whose volumes were not there yet.
                let waiting = std::mem::take(&mut pending);
                for pod in waiting {
                    handle(&client, pod, &mut started, &mut pending).await;
                }
                continue;
            }
        };
        let pod = match event {
            Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => pod,
            Some(_) => continue,
            None => return,
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if names.contains(&node) {
            pending.retain(|p| p.metadata.uid != pod.metadata.uid);
            handle(&client, pod, &mut started, &mut pending).await;
        }
    }
}

async fn handle(
    client: &kube::Client,
    pod: Pod,
    started: &mut HashSet<String>,
    pending: &mut Vec<Pod>,
) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    if pod.metadata.deletion_timestamp.is_some() {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..Default::default()
        };
        let _ = api.delete(&name, &params).await;
        return;
    }
    if started.contains(&uid) {
        return;
    }
    if !volumes_ready(client, &pod).await {
        pending.push(pod);
        return;
    }
    let status = serde_json::json!({"status": {
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now()},
            {"type": "Ready", "status": "True", "lastTransitionTime": now()},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now()},
        ],
    }});
    if api
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(status))
        .await
        .is_ok()
    {
        started.insert(uid);
    } else {
        pending.push(pod);
    }
}

/// The stand-in, on a thread of its own.
pub struct StandInNodes {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandInNodes {
    /// Registers the nodes (before returning) and starts playing their
    /// kubelet.
    pub fn start(kubeconfig: PathBuf, names: &[&str]) -> StandInNodes {
        let stop = Arc::new(AtomicBool::new(false));
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let stop = Arc::clone(&stop);
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
                    for name in &names {
                        register(&client, name).await;
                    }
                    let _ = ready_tx.send(());
                    run(client, names, stop).await;
                });
            })
        };
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("stand-in nodes registered");
        StandInNodes {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StandInNodes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
