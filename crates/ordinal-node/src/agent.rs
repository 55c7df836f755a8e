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
    let mut listing: Option<Vec<String>> = None;
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
            Some(Ok(Event::InitApply(pod))) => {
                if let (Some(list), Some(uid)) = (listing.as_mut(), pod.metadata.uid.clone()) {
                    list.push(uid);
                }
                admit(&ctx, &mut workers, pod);
            }
            Some(Ok(Event::InitDone)) => {
                let seen = listing.take().unwrap_or_default();
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
}
