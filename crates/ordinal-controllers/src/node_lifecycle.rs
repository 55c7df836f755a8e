//! The node lifecycle controller: notices nodes that stopped reporting.
//!
//! A node agent renews its Lease in `kube-node-lease` every 10 s. When a
//! node's Lease has not been renewed for the grace period (40 s, upstream's
//! `--node-monitor-grace-period`), the controller sets the node's
//! conditions to Unknown (`NodeStatusUnknown`, "Kubelet stopped posting
//! node status."), taints it `node.kubernetes.io/unreachable`
//! (NoSchedule, NoExecute) so nothing new is scheduled there, and marks
//! the pods on it not Ready, so Services and StatefulSets stop counting
//! on them. The pods stay: nothing here deletes a pod because its node is
//! silent. When the Lease is renewed again the taints go; the agent
//! itself reports Ready again.
//!
//! A node that is not Ready and that the user has tainted
//! `node.kubernetes.io/out-of-service` loses its pods at once
//! ([`out_of_service`]: upstream's non-graceful node shutdown), checked
//! every period and on every change of a node carrying that taint.

pub mod out_of_service;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::informer::{Informer, Informers};
use ordinal_core::events::Recorder;

/// The taint key of a node whose Lease stopped being renewed.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The namespace of the nodes' Leases.
const NODE_LEASES: &str = "kube-node-lease";
/// How often nodes are checked (upstream's node monitor period).
const MONITOR_PERIOD: Duration = Duration::from_secs(5);

/// The node lifecycle controller's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a Lease may go unrenewed before the node is unreachable.
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            grace: Duration::from_secs(40),
        }
    }
}

/// What to do about one node, decided from its Lease.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Reporting; remove the unreachable taints if present.
    Healthy {
        /// The node still carries the unreachable taints.
        untaint: bool,
    },
    /// Silent past the grace period and not yet marked.
    Unreachable,
    /// Already marked.
    AlreadyMarked,
}

/// Judges a node by the age of its Lease renewal.
pub fn judge(node: &Node, lease: Option<&Lease>, now: jiff::Timestamp, grace: Duration) -> Verdict {
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let renewed = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0)
        .or(created);
    let silent = match renewed {
        Some(t) => now.duration_since(t).unsigned_abs() > grace && now > t,
        None => false,
    };
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == UNREACHABLE));
    let unknown = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "Unknown");
    match (silent, tainted && unknown) {
        (false, _) => Verdict::Healthy { untaint: tainted },
        (true, true) => Verdict::AlreadyMarked,
        (true, false) => Verdict::Unreachable,
    }
}

/// Runs on `informers` until `shutdown`.
pub async fn run(informers: &Arc<Informers>, config: Config, shutdown: impl Future<Output = ()>) {
    let client = informers.client().clone();
    let recorders = Recorders {
        node: crate::runtime::recorder(&client, "node-controller"),
        eviction: crate::runtime::recorder(&client, "taint-eviction-controller"),
    };
    let monitor = monitor(client, informers, config, recorders);
    tokio::select! {
        _ = shutdown => {}
        _ = monitor => {}
    }
}

/// The components the controller's events come from.
struct Recorders {
    /// `node-controller`: a node's and its pods' readiness.
    node: Recorder,
    /// `taint-eviction-controller`: pods evicted by the out-of-service
    /// taint.
    eviction: Recorder,
}

async fn monitor(client: Client, informers: &Informers, config: Config, recorders: Recorders) {
    let (nodes, leases, pods) = (
        informers.get::<Node>(),
        informers.get::<Lease>(),
        informers.get::<Pod>(),
    );
    // A node gaining the out-of-service taint (or losing its readiness
    // with it) is looked at without waiting for the period.
    let wake = Arc::new(tokio::sync::Notify::new());
    {
        let wake = Arc::clone(&wake);
        nodes.on_change(Box::new(move |_, new| {
            if new.is_some_and(|n| out_of_service::out_of_service(n)) {
                wake.notify_one();
            }
        }));
    }
    let mut noticed = out_of_service::Noticed::default();
    nodes.synced().await;
    leases.synced().await;
    pods.synced().await;
    let node_api: Api<Node> = Api::all(client.clone());
    let mut tick = tokio::time::interval(
        MONITOR_PERIOD
            .min(config.grace / 2)
            .max(Duration::from_millis(100)),
    );
    loop {
        let periodic = tokio::select! {
            _ = tick.tick() => true,
            () = wake.notified() => false,
        };
        let now = jiff::Timestamp::now();
        let all_nodes = nodes.list();
        noticed.update(all_nodes.iter().map(|n| n.as_ref()), now);
        let all_pods = pods.list();
        for (pod, why) in out_of_service::removals(&all_nodes, &all_pods, &noticed, now) {
            if let Err(e) =
                out_of_service::remove(&client, &pods, &recorders.eviction, pod, why).await
            {
                tracing::debug!(pod = ?pod.metadata.name, error = %e, "removing a pod of an out-of-service node failed; retrying next period");
            }
        }
        if !periodic {
            continue;
        }
        let lease_by_name: HashMap<String, Arc<Lease>> = leases
            .list_namespace(NODE_LEASES)
            .into_iter()
            .filter_map(|l| Some((l.metadata.name.clone()?, l)))
            .collect();
        for node in all_nodes {
            let Some(name) = node.metadata.name.clone() else {
                continue;
            };
            let verdict = judge(
                &node,
                lease_by_name.get(&name).map(|l| l.as_ref()),
                now,
                config.grace,
            );
            let result = match verdict {
                Verdict::Healthy { untaint: true } => untaint(&node_api, &node).await,
                Verdict::Unreachable => {
                    mark_unreachable(&client, &node_api, &node, &pods, &recorders.node).await
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::debug!(node = %name, error = %e, "node lifecycle update failed; retrying next period");
            }
        }
    }
}

fn taints_without_unreachable(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key != UNREACHABLE)
        .collect()
}

async fn untaint(api: &Api<Node>, node: &Node) -> kube::Result<()> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": node.metadata.resource_version},
        "spec": {"taints": taints_without_unreachable(node)},
    });
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

async fn mark_unreachable(
    client: &Client,
    api: &Api<Node>,
    node: &Node,
    pods: &Informer<Pod>,
    recorder: &Recorder,
) -> kube::Result<()> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = Time(jiff::Timestamp::now());
    let mut taints = taints_without_unreachable(node);
    for effect in ["NoSchedule", "NoExecute"] {
        taints.push(Taint {
            key: UNREACHABLE.into(),
            effect: effect.into(),
            time_added: (effect == "NoExecute").then(|| now.clone()),
            value: None,
        });
    }
    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": taints},
        })),
    )
    .await?;
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for c in &mut conditions {
        if c.status != "Unknown" {
            c.status = "Unknown".into();
            c.reason = Some("NodeStatusUnknown".into());
            c.message = Some("Kubelet stopped posting node status.".into());
            c.last_transition_time = Some(now.clone());
        }
    }
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {"conditions": conditions}})),
    )
    .await?;
    let node_ref = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(name.clone()),
        uid: node.metadata.uid.clone(),
        ..Default::default()
    };
    recorder.normal(
        &node_ref,
        "NodeNotReady",
        format!("Node {name} status is now: NodeNotReady"),
    );
    // The pods on it are not ready any more.
    let on_node = pods
        .list()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&name));
    for pod in on_node {
        let mut conditions = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let mut changed = false;
        for c in &mut conditions {
            if c.type_ == "Ready" && c.status != "False" {
                c.status = "False".into();
                c.last_transition_time = Some(now.clone());
                changed = true;
            }
        }
        if !changed {
            continue;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": pod.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        match api
            .patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(answer) => {
                pods.written(answer);
                let pod_ref = ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: Some(pod_name),
                    namespace: Some(ns),
                    uid: pod.metadata.uid.clone(),
                    ..Default::default()
                };
                recorder.warning(&pod_ref, "NodeNotReady", "Node is not ready");
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ApiServer, eventually};
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Event;
    use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
    use serde_json::json;

    fn node(taints: bool, ready: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"taints": if taints { serde_json::json!([{"key": UNREACHABLE, "effect": "NoSchedule"}]) } else { serde_json::json!([]) }},
            "status": {"conditions": [{"type": "Ready", "status": ready}]},
        }))
        .unwrap()
    }

    fn lease(renewed: &str) -> Lease {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "spec": {"renewTime": renewed, "leaseDurationSeconds": 40},
        }))
        .unwrap()
    }

    #[test]
    fn judged_by_the_lease() {
        let grace = Duration::from_secs(40);
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let fresh = lease("2026-01-01T00:09:55.000000Z");
        let stale = lease("2026-01-01T00:09:00.000000Z");
        assert_eq!(
            judge(&node(false, "True"), Some(&fresh), now, grace),
            Verdict::Healthy { untaint: false }
        );
        assert_eq!(
            judge(&node(true, "True"), Some(&fresh), now, grace),
            Verdict::Healthy { untaint: true }
        );
        assert_eq!(
            judge(&node(false, "True"), Some(&stale), now, grace),
            Verdict::Unreachable
        );
        assert_eq!(
            judge(&node(true, "Unknown"), Some(&stale), now, grace),
            Verdict::AlreadyMarked
        );
        // No lease yet: judged from creation, so a new node gets its grace.
        assert_eq!(
            judge(&node(false, "True"), None, now, grace),
            Verdict::Unreachable
        );
        let young: jiff::Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        assert_eq!(
            judge(&node(false, "True"), None, young, grace),
            Verdict::Healthy { untaint: false }
        );
    }

    /// Upstream's non-graceful node shutdown on a real API server: on a
    /// node that is not Ready and tainted out of service, the pods being
    /// deleted go (any effect), and with NoExecute the pods that do not
    /// tolerate it, marked as upstream's taint eviction marks them; once
    /// the node is Ready again the taint removes nothing.
    #[tokio::test]
    async fn a_node_tainted_out_of_service_loses_its_pods_only_while_not_ready() {
        // The Lease judgement stays out of the way: readiness is written
        // here.
        let config = Config {
            grace: Duration::from_secs(3600),
        };
        let running = ApiServer::start()
            .await
            .run(move |informers, shutdown| async move { run(&informers, config, shutdown).await });
        let client = running.client.clone();
        let nodes: Api<Node> = Api::all(client.clone());
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        for (name, ready) in [("gone", "Unknown"), ("up", "True")] {
            let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
            nodes.create(&PostParams::default(), &node).await.unwrap();
            let status = json!({"status": {"conditions": [{"type": "Ready", "status": ready}]}});
            nodes
                .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
                .await
                .unwrap();
        }
        let out_of_service = out_of_service::OUT_OF_SERVICE;
        for (name, node, tolerations) in [
            ("plain", "gone", json!([])),
            ("leaving", "gone", json!([])),
            (
                "tolerant",
                "gone",
                json!([{"key": out_of_service, "operator": "Exists", "effect": "NoExecute"}]),
            ),
            ("elsewhere", "up", json!([])),
        ] {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"nodeName": node, "tolerations": tolerations,
                         "containers": [{"name": "c", "image": "busybox"}]},
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.unwrap();
            let status = json!({"status": {"phase": "Running"}});
            pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
                .await
                .unwrap();
        }
        // A graceful deletion on a node whose kubelet is gone never ends.
        pods.delete("leaving", &DeleteParams::default())
            .await
            .unwrap();
        let leaving = pods.get("leaving").await.unwrap();
        assert!(leaving.metadata.deletion_timestamp.is_some());
        let since = pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let mut watch = pods
            .watch(&WatchParams::default(), &since)
            .await
            .unwrap()
            .boxed();

        let taint = |effect: &str| json!({"key": out_of_service, "value": "nodeshutdown", "effect": effect});
        let set_taints = |taints: serde_json::Value| {
            let nodes = nodes.clone();
            async move {
                let patch = json!({"spec": {"taints": taints}});
                nodes
                    .patch("gone", &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .unwrap();
            }
        };
        let names = || async {
            let mut names: Vec<String> = pods
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .collect();
            names.sort();
            names
        };

        // NoSchedule: only the pod being deleted goes, with the phase
        // Failed first (pod GC's `gcTerminating`).
        set_taints(json!([taint("NoSchedule")])).await;
        eventually("the terminating pod is force-deleted", || async {
            (!names().await.contains(&"leaving".to_string())).then_some(())
        })
        .await;
        assert_eq!(names().await, ["elsewhere", "plain", "tolerant"]);

        // NoExecute: what does not tolerate it goes.
        set_taints(json!([taint("NoSchedule"), taint("NoExecute")])).await;
        eventually("the plain pod is evicted", || async {
            (!names().await.contains(&"plain".to_string())).then_some(())
        })
        .await;
        assert_eq!(names().await, ["elsewhere", "tolerant"]);

        // Their last states, from the watch: Failed, and for the evicted
        // one upstream's DisruptionTarget condition.
        let mut last: HashMap<String, Pod> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while last.len() < 2 {
            let event = tokio::time::timeout_at(deadline, watch.next())
                .await
                .expect("both deletions are watched")
                .expect("the watch goes on")
                .unwrap();
            if let WatchEvent::Deleted(pod) = event {
                last.insert(pod.metadata.name.clone().unwrap(), pod);
            }
        }
        let phase = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.clone());
        let target = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget").cloned())
        };
        assert_eq!(phase(&last["leaving"]).as_deref(), Some("Failed"));
        assert_eq!(target(&last["leaving"]), None);
        assert_eq!(phase(&last["plain"]).as_deref(), Some("Failed"));
        let condition = target(&last["plain"]).expect("DisruptionTarget");
        assert_eq!(
            (
                condition.status.as_str(),
                condition.reason.as_deref(),
                condition.message.as_deref()
            ),
            (
                "True",
                Some("DeletionByTaintManager"),
                Some("Taint manager: deleting due to NoExecute taint")
            )
        );
        let events: Api<Event> = Api::namespaced(client.clone(), "default");
        let event = eventually("the eviction's event", || async {
            events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("TaintManagerEviction"))
        })
        .await;
        assert_eq!(event.involved_object.name.as_deref(), Some("plain"));
        assert_eq!(
            event.message.as_deref(),
            Some("Marking for deletion Pod default/plain")
        );
        assert_eq!(
            event.source.and_then(|s| s.component).as_deref(),
            Some("taint-eviction-controller")
        );

        // Ready again (the machine came back): the taint alone removes
        // nothing, not even a pod being deleted.
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        nodes
            .patch_status("gone", &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        pods.delete("tolerant", &DeleteParams::default())
            .await
            .unwrap();
        tokio::time::sleep(MONITOR_PERIOD + Duration::from_secs(1)).await;
        let tolerant = pods.get("tolerant").await.unwrap();
        assert!(tolerant.metadata.deletion_timestamp.is_some());

        running.stop().await;
    }
}
