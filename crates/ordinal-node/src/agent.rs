//! The agent: registers the node, watches the pods bound to it and keeps
//! one [`Worker`] per pod, and on shutdown stops the pods in order
//! (highest ordinal of each StatefulSet first).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::pod::{Context, Input, Worker};
use crate::runtime::Runtime;

struct Entry {
    input: watch::Sender<Input>,
    task: JoinHandle<()>,
    pod: Arc<Pod>,
}

/// Watches this node's pods and runs a worker for each until `shutdown`.
pub async fn run<R: Runtime>(ctx: Arc<Context<R>>, shutdown: impl Future<Output = ()>) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.node_name));
    let stream = watcher::watcher(api, config);
    futures::pin_mut!(stream);
    tokio::pin!(shutdown);
    let mut workers: HashMap<String, Entry> = HashMap::new();
    let mut listing: Option<Vec<Pod>> = None;
    let mut cleaned = false;
    loop {
        let event = tokio::select! {
            _ = &mut shutdown => break,
            e = stream.next() => e,
        };
        match event {
            Some(Ok(Event::Apply(pod))) => admit(&ctx, &mut workers, pod),
            Some(Ok(Event::Delete(pod))) => {
                if let Some(uid) = pod.metadata.uid.as_deref()
                    && let Some(entry) = workers.get(uid)
                {
                    let _ = entry.input.send(Input {
                        pod: None,
                        shutdown: false,
                    });
                }
            }
            Some(Ok(Event::Init)) => listing = Some(Vec::new()),
            Some(Ok(Event::InitApply(pod))) => match listing.as_mut() {
                Some(list) => list.push(pod),
                None => admit(&ctx, &mut workers, pod),
            },
            Some(Ok(Event::InitDone)) => {
                // Oldest first, as the kubelet admits the pods it finds,
                // so a later pod is the one refused for a clash.
                let mut listed = listing.take().unwrap_or_default();
                listed.sort_by(|a, b| {
                    let created = |p: &Pod| p.metadata.creation_timestamp.clone().map(|t| t.0);
                    created(a).cmp(&created(b))
                });
                let seen: Vec<String> = listed
                    .iter()
                    .filter_map(|p| p.metadata.uid.clone())
                    .collect();
                for pod in listed {
                    admit(&ctx, &mut workers, pod);
                }
                // Pods deleted while the watch was down.
                for (uid, entry) in &workers {
                    if !seen.contains(uid) {
                        let _ = entry.input.send(Input {
                            pod: None,
                            shutdown: false,
                        });
                    }
                }
                if !cleaned {
                    remove_stale_dirs(&ctx.pods_dir, &seen);
                    cleaned = true;
                }
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "pod watch error; the watcher retries");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            None => break,
        }
        workers.retain(|_, e| !e.task.is_finished());
    }
    stop_in_order(workers).await;
}

fn admit<R: Runtime>(ctx: &Arc<Context<R>>, workers: &mut HashMap<String, Entry>, pod: Pod) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let pod = Arc::new(pod);
    if let Some(entry) = workers.get_mut(&uid) {
        entry.pod = Arc::clone(&pod);
        let _ = entry.input.send(Input {
            pod: Some(pod),
            shutdown: false,
        });
        return;
    }
    // A pod that finished before (this agent or an earlier one) stays as
    // it is, unless it is being deleted, which the worker completes.
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let finished = matches!(phase, Some("Succeeded" | "Failed"));
    if finished && pod.metadata.deletion_timestamp.is_none() {
        return;
    }
    if pod.metadata.deletion_timestamp.is_none()
        && let Some((reason, message)) = refusal(&pod, workers.values().map(|e| &*e.pod))
    {
        reject(ctx, &pod, reason, message);
        return;
    }
    let (input, rx) = watch::channel(Input {
        pod: Some(Arc::clone(&pod)),
        shutdown: false,
    });
    let Some(worker) = Worker::new(Arc::clone(ctx), rx) else {
        return;
    };
    let task = tokio::spawn(worker.run());
    workers.insert(uid, Entry { input, task, pod });
}

/// Why the node cannot run `pod` beside the pods it runs (the kubelet's
/// admission of its general predicates): a host port another pod holds.
fn refusal<'a>(pod: &Pod, running: impl Iterator<Item = &'a Pod>) -> Option<(String, String)> {
    use ordinal_core::fit::{Footprint, NodeUsage, host_ports, ports_fit};
    let wanted = host_ports(pod);
    if wanted.is_empty() {
        return None;
    }
    let mut usage = NodeUsage::default();
    for other in running {
        let phase = other.status.as_ref().and_then(|s| s.phase.as_deref());
        if !matches!(phase, Some("Succeeded" | "Failed")) {
            usage.add(&Footprint::of(other));
        }
    }
    (!ports_fit(&wanted, &usage)).then(|| {
        (
            "NodePorts".to_string(),
            "Predicate NodePorts failed".to_string(),
        )
    })
}

/// Refuses a pod as the kubelet does: a Warning event, and the pod failed
/// with the reason, so its controller replaces it.
fn reject<R: Runtime>(ctx: &Arc<Context<R>>, pod: &Pod, reason: String, message: String) {
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    };
    ctx.recorder.warning(&reference, &reason, message.clone());
    let api: Api<Pod> = Api::namespaced(
        ctx.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = serde_json::json!({"metadata": {"uid": pod.metadata.uid}, "status": {
        "phase": "Failed",
        "reason": reason,
        "message": format!("Pod was rejected: {message}"),
        "startTime": jiff::Timestamp::now().to_string(),
    }});
    tokio::spawn(async move {
        let params = kube::api::PatchParams::default();
        if let Err(e) = api
            .patch_status(&name, &params, &kube::api::Patch::Merge(status))
            .await
        {
            tracing::debug!(pod = %name, error = %e, "reporting a rejected pod failed");
        }
    });
}

/// Removes the directories of pods this node no longer has.
fn remove_stale_dirs(pods_dir: &std::path::Path, live: &[String]) {
    let Ok(entries) = std::fs::read_dir(pods_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !live.contains(&name) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The StatefulSet (by owner UID) and ordinal of a pod, if it has them.
fn ordinal_of(pod: &Pod) -> Option<(String, i64)> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true) && o.kind == "StatefulSet")?;
    let name = pod.metadata.name.as_deref()?;
    let ordinal = name
        .strip_prefix(&format!("{}-", owner.name))?
        .parse()
        .ok()?;
    Some((owner.uid.clone(), ordinal))
}

/// Stops every pod: each StatefulSet's pods one at a time from the
/// highest ordinal down, sets and other pods side by side.
async fn stop_in_order(workers: HashMap<String, Entry>) {
    let mut sets: HashMap<String, Vec<(i64, Entry)>> = HashMap::new();
    let mut others = Vec::new();
    for (_, entry) in workers {
        match ordinal_of(&entry.pod) {
            Some((set, ordinal)) => sets.entry(set).or_default().push((ordinal, entry)),
            None => others.push(entry),
        }
    }
    let mut lanes: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
    for (_, mut pods) in sets {
        pods.sort_by_key(|(ordinal, _)| std::cmp::Reverse(*ordinal));
        lanes.push(Box::pin(async move {
            for (_, entry) in pods {
                stop(entry).await;
            }
        }));
    }
    for entry in others {
        lanes.push(Box::pin(stop(entry)));
    }
    futures::future::join_all(lanes).await;
}

async fn stop(entry: Entry) {
    let _ = entry.input.send(Input {
        pod: Some(entry.pod),
        shutdown: true,
    });
    let _ = entry.task.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_come_from_the_controlling_set() {
        let pod: Pod = serde_yaml::from_str(
            "metadata: {name: web-12, ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: web, uid: s1, controller: true}]}",
        )
        .unwrap();
        assert_eq!(ordinal_of(&pod), Some(("s1".into(), 12)));
        let other: Pod = serde_yaml::from_str("metadata: {name: web-12}").unwrap();
        assert_eq!(ordinal_of(&other), None);
    }

    fn with_port(name: &str, port: i32, phase: Option<&str>) -> Pod {
        let mut pod: Pod = serde_yaml::from_str(&format!(
            "metadata: {{name: {name}}}\nspec:\n  containers:\n  - {{name: c, ports: [{{containerPort: 80, hostPort: {port}}}]}}\n"
        ))
        .unwrap();
        pod.status = phase.map(|p| k8s_openapi::api::core::v1::PodStatus {
            phase: Some(p.into()),
            ..Default::default()
        });
        pod
    }

    #[test]
    fn a_pod_whose_host_port_another_pod_holds_is_refused() {
        let held = with_port("a", 8080, Some("Running"));
        let done = with_port("b", 9090, Some("Succeeded"));
        assert_eq!(
            refusal(&with_port("c", 8080, None), [&held, &done].into_iter()),
            Some((
                "NodePorts".to_string(),
                "Predicate NodePorts failed".to_string()
            ))
        );
        assert_eq!(
            refusal(&with_port("d", 9090, None), [&held, &done].into_iter()),
            None
        );
        let plain: Pod =
            serde_yaml::from_str("metadata: {name: e}\nspec: {containers: [{name: c}]}").unwrap();
        assert_eq!(refusal(&plain, [&held].into_iter()), None);
    }
}
