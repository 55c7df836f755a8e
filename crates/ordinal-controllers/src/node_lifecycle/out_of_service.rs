//! Non-graceful node shutdown (upstream's KEP-2268): the pods of a node
//! that is not Ready and that the user has tainted
//! `node.kubernetes.io/out-of-service` are force-deleted, so their
//! controllers make them again on a node that works.
//!
//! A node that only stopped reporting keeps its pods: its kubelet may
//! still run them, and a StatefulSet must never run two pods with one
//! identity. The taint is the user saying the machine is really off.
//!
//! Upstream spreads this over two controllers, and so do the reasons we
//! write: the taint eviction controller deletes the pods that do not
//! tolerate a NoExecute taint (the `DisruptionTarget` condition with
//! reason `DeletionByTaintManager`, the `TaintManagerEviction` event), and
//! the pod garbage collector's `gcTerminating` force-deletes pods being
//! deleted on a node that is not Ready and carries the taint with any
//! effect, after setting their phase to Failed. On such a node nothing
//! would ever finish a graceful deletion, so here both happen in one
//! step: [`removals`] decides, [`remove`] writes.
//!
//! Only the out-of-service taint evicts here (ordinal has no general
//! NoExecute taint manager): a pod is evicted when it does not tolerate
//! a NoExecute out-of-service taint, or once its `tolerationSeconds` have
//! run since the taint was added (its `timeAdded`, else when this
//! controller first saw it); a pod tolerating it without a limit stays
//! until it is deleted. With a NoSchedule taint only the pods already
//! being deleted go, as upstream.
//!
//! Volumes: upstream also detaches the pods' volumes at once. A claim
//! stays bound to its volume, so the new pod gets the same claim; but a
//! volume of the `ordinal.dev/local-path` provisioner is a directory of
//! one node, and its node affinity keeps the new pod off every other node
//! (it waits Pending, `node(s) had volume node affinity conflict`), as
//! upstream's local volumes do.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};
use ordinal_core::events::Recorder;

use crate::informer::Informer;
use crate::runtime::{reference, status_code};
use crate::selection;

/// The taint a user puts on a node that is shut down for good.
pub const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// Why a pod on an out-of-service node is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It was being deleted already (upstream's `gcTerminating`).
    Terminating,
    /// It does not tolerate the NoExecute taint (upstream's taint
    /// eviction, finished at once).
    Evicted,
}

fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

/// Upstream's `IsNodeReady`: a Ready condition whose status is True.
fn ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// The node's NoExecute out-of-service taints.
fn evicting(node: &Node) -> impl Iterator<Item = &Taint> {
    taints(node)
        .iter()
        .filter(|t| t.key == OUT_OF_SERVICE && t.effect == "NoExecute")
}

/// Whether the pods of `node` may be force-deleted: it is not Ready and
/// carries the out-of-service taint (any effect).
pub fn out_of_service(node: &Node) -> bool {
    !ready(node) && taints(node).iter().any(|t| t.key == OUT_OF_SERVICE)
}

/// How long `pod` tolerates the node's NoExecute out-of-service taints:
/// `Some(None)` forever, `Some(Some(s))` for s seconds (0: not at all),
/// `None` when one of them is not tolerated. Upstream's
/// `GetMatchingTolerations` (the first toleration of each taint) and
/// `getMinTolerationTime`.
fn tolerated_for(pod: &Pod, node: &Node) -> Option<Option<i64>> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[]);
    let mut shortest: Option<i64> = None;
    for taint in evicting(node) {
        let used = tolerations
            .iter()
            .find(|t| selection::tolerates(t, taint))?;
        if let Some(seconds) = used.toleration_seconds {
            let seconds = seconds.max(0);
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
    }
    Some(shortest)
}

/// What becomes of `pod` on `node` at `now`, the node's NoExecute
/// out-of-service taint having been there `since`: `None` keeps it.
pub fn removal(
    pod: &Pod,
    node: &Node,
    since: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Option<Removal> {
    if !out_of_service(node) {
        return None;
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Some(Removal::Terminating);
    }
    // With no NoExecute taint, only the pods being deleted go.
    evicting(node).next()?;
    match tolerated_for(pod, node) {
        None => Some(Removal::Evicted),
        Some(None) => None,
        Some(Some(seconds)) => {
            let due = since
                .checked_add(jiff::SignedDuration::from_secs(seconds))
                .unwrap_or(jiff::Timestamp::MAX);
            (now >= due).then_some(Removal::Evicted)
        }
    }
}

/// When each node's NoExecute out-of-service taint was first there: the
/// earliest `timeAdded` of those taints, else when [`Noticed::update`]
/// first saw one. A node loses its entry when it loses the taints.
#[derive(Debug, Default)]
pub struct Noticed {
    since: HashMap<String, jiff::Timestamp>,
}

impl Noticed {
    /// Takes in the nodes as they are at `now`.
    pub fn update<'a>(&mut self, nodes: impl IntoIterator<Item = &'a Node>, now: jiff::Timestamp) {
        let mut seen = HashMap::new();
        for node in nodes {
            let Some(name) = node.metadata.name.as_deref() else {
                continue;
            };
            let mut tainted = false;
            let mut added: Option<jiff::Timestamp> = None;
            for t in evicting(node) {
                tainted = true;
                if let Some(at) = &t.time_added {
                    added = Some(added.map_or(at.0, |a| a.min(at.0)));
                }
            }
            if tainted {
                let first = self.since.get(name).copied().unwrap_or(now);
                seen.insert(name.to_string(), added.unwrap_or(first));
            }
        }
        self.since = seen;
    }

    /// When `node`'s NoExecute out-of-service taint was first there (`now`
    /// for a node not noticed yet).
    pub fn since(&self, node: &str, now: jiff::Timestamp) -> jiff::Timestamp {
        self.since.get(node).copied().unwrap_or(now)
    }
}

/// The pods to remove at `now`, each with why: the pods bound to
/// out-of-service nodes, in the order of `pods`.
pub fn removals<'a>(
    nodes: &[Arc<Node>],
    pods: &'a [Arc<Pod>],
    noticed: &Noticed,
    now: jiff::Timestamp,
) -> Vec<(&'a Arc<Pod>, Removal)> {
    let out: HashMap<&str, &Node> = nodes
        .iter()
        .filter(|n| out_of_service(n))
        .filter_map(|n| Some((n.metadata.name.as_deref()?, n.as_ref())))
        .collect();
    if out.is_empty() {
        return Vec::new();
    }
    pods.iter()
        .filter_map(|pod| {
            let name = pod.spec.as_ref()?.node_name.as_deref()?;
            let node = out.get(name)?;
            let why = removal(pod, node, noticed.since(name, now), now)?;
            Some((pod, why))
        })
        .collect()
}

/// The condition upstream's taint eviction gives a pod it deletes.
fn disruption_target(now: &Time) -> PodCondition {
    PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("DeletionByTaintManager".into()),
        message: Some("Taint manager: deleting due to NoExecute taint".into()),
        last_transition_time: Some(now.clone()),
        ..Default::default()
    }
}

/// The status to write before the deletion, if it changes: phase Failed
/// (a finished pod keeps its phase) and, for an eviction, the
/// `DisruptionTarget` condition.
fn final_status(pod: &Pod, why: Removal, now: &Time) -> Option<serde_json::Value> {
    let status = pod.status.clone().unwrap_or_default();
    let mut conditions = status.conditions.unwrap_or_default();
    let mut changed = false;
    if why == Removal::Evicted {
        let wanted = disruption_target(now);
        match conditions.iter_mut().find(|c| c.type_ == wanted.type_) {
            Some(c) if c.status == wanted.status && c.reason == wanted.reason => {}
            Some(c) => {
                *c = wanted;
                changed = true;
            }
            None => {
                conditions.push(wanted);
                changed = true;
            }
        }
    }
    let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
    if !finished {
        changed = true;
    }
    changed.then(|| {
        let mut patch = serde_json::json!({"conditions": conditions});
        if !finished {
            patch["phase"] = "Failed".into();
        }
        patch
    })
}

/// Removes `pod` for `why`: the event of an eviction, the final status
/// (UID and resourceVersion preconditions: a pod changed meanwhile waits
/// for the next pass), then a delete with grace 0 and a UID
/// precondition, written back into `pods`.
pub(crate) async fn remove(
    client: &Client,
    pods: &Informer<Pod>,
    recorder: &Recorder,
    pod: &Pod,
    why: Removal,
) -> kube::Result<()> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let now = Time(jiff::Timestamp::now());
    if why == Removal::Evicted {
        recorder.normal(
            &reference(pod),
            "TaintManagerEviction",
            format!("Marking for deletion Pod {ns}/{name}"),
        );
    }
    if let Some(status) = final_status(pod, why, &now) {
        let patch = serde_json::json!({
            "metadata": {"uid": uid, "resourceVersion": pod.metadata.resource_version},
            "status": status,
        });
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(answer) => pods.written(answer),
            Err(e) if status_code(&e) == Some(404) => {
                pods.delete_answered(&ns, &name, &uid, None);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    tracing::info!(pod = %format!("{ns}/{name}"), node = ?pod.spec.as_ref().and_then(|s| s.node_name.as_deref()), ?why, "force deleting a pod of an out-of-service node");
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(answer) => pods.delete_answered(&ns, &name, &uid, answer.left()),
        Err(e) if matches!(status_code(&e), Some(404 | 409)) => {
            pods.delete_answered(&ns, &name, &uid, None)
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    const T0: &str = "2026-01-01T00:00:00Z";

    /// A node with `ready` as its Ready status (none: no condition) and
    /// out-of-service taints of these effects.
    fn node(ready: Option<&str>, effects: &[&str]) -> Node {
        let taints: Vec<_> = effects
            .iter()
            .map(|e| serde_json::json!({"key": OUT_OF_SERVICE, "value": "nodeshutdown", "effect": e}))
            .collect();
        let conditions: Vec<_> = ready
            .iter()
            .map(|s| serde_json::json!({"type": "Ready", "status": s}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gone"},
            "spec": {"taints": taints},
            "status": {"conditions": conditions},
        }))
        .unwrap()
    }

    fn pod(name: &str, node: &str, extra: serde_json::Value) -> Pod {
        let mut pod = serde_json::json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running"},
        });
        if let serde_json::Value::Object(extra) = extra {
            for (path, v) in extra {
                let (top, field) = path.split_once('.').unwrap();
                pod[top][field] = v;
            }
        }
        serde_json::from_value(pod).unwrap()
    }

    fn plain() -> Pod {
        pod("web-0", "gone", serde_json::json!({}))
    }

    fn terminating() -> Pod {
        pod(
            "web-1",
            "gone",
            serde_json::json!({"metadata.deletionTimestamp": T0}),
        )
    }

    fn tolerating(seconds: Option<i64>) -> Pod {
        let mut t =
            serde_json::json!({"key": OUT_OF_SERVICE, "operator": "Exists", "effect": "NoExecute"});
        if let Some(s) = seconds {
            t["tolerationSeconds"] = s.into();
        }
        pod(
            "tolerant",
            "gone",
            serde_json::json!({"spec.tolerations": [t]}),
        )
    }

    #[test]
    fn a_node_that_only_stopped_reporting_keeps_its_pods() {
        let now = at(T0);
        for ready in [Some("Unknown"), Some("False"), None] {
            let silent = node(ready, &[]);
            assert!(!out_of_service(&silent));
            assert_eq!(removal(&plain(), &silent, now, now), None);
            assert_eq!(removal(&terminating(), &silent, now, now), None);
        }
    }

    #[test]
    fn the_taint_on_a_ready_node_removes_nothing() {
        let now = at(T0);
        let up = node(Some("True"), &["NoExecute"]);
        assert!(!out_of_service(&up));
        assert_eq!(removal(&plain(), &up, now, now), None);
        assert_eq!(removal(&terminating(), &up, now, now), None);
    }

    #[test]
    fn no_execute_on_a_node_that_is_not_ready_evicts_what_does_not_tolerate_it() {
        let now = at(T0);
        for ready in [Some("Unknown"), Some("False"), None] {
            let down = node(ready, &["NoExecute"]);
            assert!(out_of_service(&down));
            assert_eq!(removal(&plain(), &down, now, now), Some(Removal::Evicted));
            assert_eq!(
                removal(&terminating(), &down, now, now),
                Some(Removal::Terminating)
            );
        }
        // Another key's toleration, or another effect's, does not help.
        let down = node(Some("Unknown"), &["NoExecute"]);
        let other = pod(
            "other",
            "gone",
            serde_json::json!({"spec.tolerations": [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": OUT_OF_SERVICE, "operator": "Exists", "effect": "NoSchedule"},
            ]}),
        );
        assert_eq!(removal(&other, &down, now, now), Some(Removal::Evicted));
        // A finished pod goes too.
        let done = pod(
            "done",
            "gone",
            serde_json::json!({"status.phase": "Succeeded"}),
        );
        assert_eq!(removal(&done, &down, now, now), Some(Removal::Evicted));
    }

    #[test]
    fn no_schedule_removes_only_the_pods_being_deleted() {
        let now = at(T0);
        for effect in ["NoSchedule", "PreferNoSchedule"] {
            let down = node(Some("Unknown"), &[effect]);
            assert!(out_of_service(&down));
            assert_eq!(removal(&plain(), &down, now, now), None);
            assert_eq!(
                removal(&terminating(), &down, now, now),
                Some(Removal::Terminating)
            );
        }
    }

    #[test]
    fn a_toleration_keeps_a_pod_for_its_seconds() {
        let since = at(T0);
        let down = node(Some("Unknown"), &["NoExecute"]);
        // Forever.
        let later = at("2026-01-02T00:00:00Z");
        assert_eq!(removal(&tolerating(None), &down, since, later), None);
        // For 30 s from when the taint came.
        let thirty = tolerating(Some(30));
        assert_eq!(
            removal(&thirty, &down, since, at("2026-01-01T00:00:29Z")),
            None
        );
        assert_eq!(
            removal(&thirty, &down, since, at("2026-01-01T00:00:30Z")),
            Some(Removal::Evicted)
        );
        // Zero or less: not at all.
        for s in [0, -5] {
            assert_eq!(
                removal(&tolerating(Some(s)), &down, since, since),
                Some(Removal::Evicted)
            );
        }
        // A tolerating pod being deleted goes all the same.
        let mut leaving = tolerating(None);
        leaving.metadata.deletion_timestamp = Some(Time(since));
        assert_eq!(
            removal(&leaving, &down, since, since),
            Some(Removal::Terminating)
        );
        // Two NoExecute taints: the shortest toleration counts, and each
        // must be tolerated.
        let mut twice = down.clone();
        twice
            .spec
            .as_mut()
            .unwrap()
            .taints
            .as_mut()
            .unwrap()
            .push(Taint {
                key: OUT_OF_SERVICE.into(),
                value: Some("other".into()),
                effect: "NoExecute".into(),
                time_added: None,
            });
        let both = pod(
            "both",
            "gone",
            serde_json::json!({"spec.tolerations": [
                {"key": OUT_OF_SERVICE, "operator": "Equal", "value": "nodeshutdown", "effect": "NoExecute"},
                {"key": OUT_OF_SERVICE, "operator": "Equal", "value": "other", "effect": "NoExecute", "tolerationSeconds": 10},
            ]}),
        );
        assert_eq!(
            removal(&both, &twice, since, at("2026-01-01T00:00:09Z")),
            None
        );
        assert_eq!(
            removal(&both, &twice, since, at("2026-01-01T00:00:10Z")),
            Some(Removal::Evicted)
        );
        let one = pod(
            "one",
            "gone",
            serde_json::json!({"spec.tolerations": [
                {"key": OUT_OF_SERVICE, "operator": "Equal", "value": "nodeshutdown", "effect": "NoExecute"},
            ]}),
        );
        assert_eq!(removal(&one, &twice, since, since), Some(Removal::Evicted));
    }

    #[test]
    fn the_taint_is_dated_by_its_time_added_or_when_first_seen() {
        let mut noticed = Noticed::default();
        let t0 = at(T0);
        let t1 = at("2026-01-01T00:01:00Z");
        let t2 = at("2026-01-01T00:02:00Z");
        let undated = node(Some("Unknown"), &["NoExecute"]);
        noticed.update([&undated], t0);
        noticed.update([&undated], t1);
        assert_eq!(noticed.since("gone", t2), t0);
        // Gone and back: dated afresh.
        noticed.update([&node(Some("Unknown"), &["NoSchedule"])], t1);
        assert_eq!(noticed.since("gone", t2), t2);
        noticed.update([&undated], t2);
        assert_eq!(noticed.since("gone", t2), t2);
        // timeAdded wins.
        let mut dated = undated.clone();
        dated.spec.as_mut().unwrap().taints.as_mut().unwrap()[0].time_added = Some(Time(t1));
        noticed.update([&dated], t2);
        assert_eq!(noticed.since("gone", t2), t1);
    }

    #[test]
    fn removals_are_the_pods_bound_to_out_of_service_nodes() {
        let now = at(T0);
        let mut up = node(Some("True"), &[]);
        up.metadata.name = Some("up".into());
        let nodes = vec![
            Arc::new(node(Some("Unknown"), &["NoExecute"])),
            Arc::new(up),
        ];
        let pods = vec![
            Arc::new(plain()),
            Arc::new(pod("elsewhere", "up", serde_json::json!({}))),
            Arc::new(terminating()),
            Arc::new(pod("pending", "", serde_json::json!({}))),
            Arc::new(tolerating(None)),
        ];
        let got: Vec<(&str, Removal)> = removals(&nodes, &pods, &Noticed::default(), now)
            .into_iter()
            .map(|(p, why)| (p.metadata.name.as_deref().unwrap(), why))
            .collect();
        assert_eq!(
            got,
            [("web-0", Removal::Evicted), ("web-1", Removal::Terminating)]
        );
    }

    #[test]
    fn the_final_status_is_failed_with_the_eviction_condition() {
        let now = Time(at(T0));
        let evicted = final_status(&plain(), Removal::Evicted, &now).unwrap();
        assert_eq!(evicted["phase"], "Failed");
        assert_eq!(evicted["conditions"][0]["type"], "DisruptionTarget");
        assert_eq!(evicted["conditions"][0]["reason"], "DeletionByTaintManager");
        assert_eq!(
            evicted["conditions"][0]["message"],
            "Taint manager: deleting due to NoExecute taint"
        );
        let collected = final_status(&terminating(), Removal::Terminating, &now).unwrap();
        assert_eq!(collected["phase"], "Failed");
        assert_eq!(collected["conditions"], serde_json::json!([]));
        // A finished pod keeps its phase; nothing to write for pod GC.
        let done = pod(
            "done",
            "gone",
            serde_json::json!({"status.phase": "Succeeded"}),
        );
        assert_eq!(final_status(&done, Removal::Terminating, &now), None);
        let evicted = final_status(&done, Removal::Evicted, &now).unwrap();
        assert!(evicted.get("phase").is_none());
    }
}
