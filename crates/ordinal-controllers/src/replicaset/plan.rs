//! The ReplicaSet controller's decision: from one set, the pods of its
//! namespace and the time, which pods to adopt, release, create and
//! delete ([`plan`]), and the status the set's pods add up to
//! ([`status`]) — pure functions, as upstream's `syncReplicaSet` decides
//! before `manageReplicas` acts.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use ordinal_core::labels::Selector;

use crate::runtime::{controller, controller_ref};

pub use crate::job::plan::PodRef;

/// The most pods one sync creates or deletes (upstream's `BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;

/// The condition a failed creation or deletion sets.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// What one sync of a set does, in this order: adopt, release, delete,
/// create `create` pods like [`Plan::pod`] (in slow-start batches), then
/// write the status ([`status`]) from what the writes left.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Orphans the set becomes the controller of.
    pub adopt: Vec<PodRef>,
    /// Pods the set controls that its selector no longer matches.
    pub release: Vec<PodRef>,
    /// Pods to delete, the first to go first.
    pub delete: Vec<PodRef>,
    /// How many pods to create.
    pub create: usize,
    /// The pod to create (its name generated from `<set>-`).
    pub pod: Option<Pod>,
}

/// Whether a pod counts toward the replicas: not finished, not being
/// deleted (upstream's `FilterActivePods`).
pub fn is_active(pod: &Pod) -> bool {
    !matches!(ordinal_core::pod::phase(pod), "Succeeded" | "Failed")
        && pod.metadata.deletion_timestamp.is_none()
}

/// The pods of `namespace` that belong to `rs` once adoption and release
/// are done, with the actions that make it so (upstream's
/// `ClaimPods`). Pods another controller controls are never touched.
pub fn claim<'a>(rs: &ReplicaSet, selector: &Selector, pods: &[&'a Pod]) -> (Vec<&'a Pod>, Plan) {
    let uid = rs.metadata.uid.as_deref().unwrap_or("");
    let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let mut plan = Plan::default();
    let mut mine = Vec::new();
    for &pod in pods {
        if pod.metadata.namespace.as_deref().unwrap_or("") != namespace {
            continue;
        }
        let matches = selector.matches(pod.metadata.labels.as_ref());
        match controller(&pod.metadata) {
            Some(owner) if owner.uid == uid => {
                if matches {
                    mine.push(pod);
                } else if !deleting {
                    plan.release.push(PodRef::of(pod));
                }
            }
            Some(_) => {}
            None => {
                if matches && !deleting && pod.metadata.deletion_timestamp.is_none() {
                    plan.adopt.push(PodRef::of(pod));
                    mine.push(pod);
                }
            }
        }
    }
    (mine, plan)
}

/// What one sync of `rs` does with the pods of its namespace.
pub fn plan(rs: &ReplicaSet, pods: &[&Pod]) -> Plan {
    let Some(spec) = rs.spec.as_ref() else {
        return Plan::default();
    };
    // An invalid selector was refused on write; matching nothing is safe.
    let Ok(selector) = Selector::compile(&spec.selector) else {
        return Plan::default();
    };
    let (mine, mut plan) = claim(rs, &selector, pods);
    if rs.metadata.deletion_timestamp.is_some() {
        return plan;
    }
    let active: Vec<&Pod> = mine.into_iter().filter(|p| is_active(p)).collect();
    let wanted = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
    match active.len().cmp(&wanted) {
        Ordering::Less => {
            plan.create = (wanted - active.len()).min(BURST_REPLICAS);
            plan.pod = Some(new_pod(rs));
        }
        Ordering::Greater => {
            let surplus = (active.len() - wanted).min(BURST_REPLICAS);
            plan.delete = deletion_order(&active)
                .into_iter()
                .take(surplus)
                .map(PodRef::of)
                .collect();
        }
        Ordering::Equal => {}
    }
    plan
}

/// A pod from the set's template: its labels, annotations and spec, named
/// from `<set>-`, controlled by the set.
pub fn new_pod(rs: &ReplicaSet) -> Pod {
    let template = rs.spec.as_ref().and_then(|s| s.template.clone());
    let template_meta = template
        .as_ref()
        .and_then(|t| t.metadata.clone())
        .unwrap_or_default();
    let name = rs.metadata.name.as_deref().unwrap_or("");
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: rs.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![controller_ref(rs)]),
            ..ObjectMeta::default()
        },
        spec: template.and_then(|t| t.spec),
        status: None,
    }
}

/// The surplus pods in the order upstream deletes them
/// (`ActivePodsWithRanks`): unscheduled before scheduled, pending before
/// unknown before running, not ready before ready, pods sharing a node
/// with more of the set's pods first, ready for less time first, more
/// restarts first, younger first.
pub fn deletion_order<'a>(pods: &[&'a Pod]) -> Vec<&'a Pod> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in pods {
        if let Some(node) = node_of(pod) {
            *on_node.entry(node).or_default() += 1;
        }
    }
    let rank = |pod: &Pod| node_of(pod).map_or(0, |n| on_node.get(n).copied().unwrap_or(0));
    let mut sorted = pods.to_vec();
    sorted.sort_by(|a, b| {
        node_of(a)
            .is_some()
            .cmp(&node_of(b).is_some())
            .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
            .then_with(|| ordinal_core::pod::is_ready(a).cmp(&ordinal_core::pod::is_ready(b)))
            .then_with(|| rank(b).cmp(&rank(a)))
            .then_with(|| {
                if ordinal_core::pod::is_ready(a) && ordinal_core::pod::is_ready(b) {
                    ready_since(b).cmp(&ready_since(a))
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| restarts(b).cmp(&restarts(a)))
            .then_with(|| created(b).cmp(&created(a)))
    });
    sorted
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn phase_rank(pod: &Pod) -> u8 {
    match ordinal_core::pod::phase(pod) {
        "Pending" | "" => 0,
        "Unknown" => 1,
        _ => 2,
    }
}

fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ordinal_core::pod::condition(pod, "Ready")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| {
            cs.iter().map(|c| c.restart_count).max().unwrap_or(0)
        })
}

fn created(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// The status of `rs` given the pods of its namespace, and, when the last
/// sync's creations or deletions failed, the failure (`FailedCreate` or
/// `FailedDelete`, and its message) for the `ReplicaFailure` condition
/// (upstream's `calculateStatus`).
pub fn status(
    rs: &ReplicaSet,
    pods: &[&Pod],
    failure: Option<(&str, &str)>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let spec = rs.spec.clone().unwrap_or_default();
    let selector = Selector::compile(&spec.selector).unwrap_or_default();
    let (mine, _) = claim(rs, &selector, pods);
    let template_labels: BTreeMap<String, String> = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));
    let mut status = rs.status.clone().unwrap_or_default();
    let active: Vec<&Pod> = mine.into_iter().filter(|p| is_active(p)).collect();
    let count = |f: &dyn Fn(&Pod) -> bool| {
        i32::try_from(active.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    status.replicas = count(&|_| true);
    status.fully_labeled_replicas = Some(count(&|p| {
        let labels = p.metadata.labels.as_ref();
        template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }));
    status.ready_replicas = Some(count(&ordinal_core::pod::is_ready));
    status.available_replicas = Some(count(&|p| {
        ordinal_core::pod::is_available(p, min_ready, now)
    }));
    status.observed_generation = rs.metadata.generation;
    let conditions = status.conditions.get_or_insert_default();
    match failure {
        Some((reason, message)) => {
            if !conditions.iter().any(|c| c.type_ == REPLICA_FAILURE) {
                conditions.push(ReplicaSetCondition {
                    type_: REPLICA_FAILURE.into(),
                    status: "True".into(),
                    reason: Some(reason.into()),
                    message: Some(message.into()),
                    last_transition_time: Some(Time(now)),
                });
            }
        }
        None => conditions.retain(|c| c.type_ != REPLICA_FAILURE),
    }
    if conditions.is_empty() {
        status.conditions = None;
    }
    status
}

/// Whether two statuses say the same (the condition times aside, which
/// only move when a condition changes).
pub fn same_status(a: Option<&ReplicaSetStatus>, b: &ReplicaSetStatus) -> bool {
    let zero = |s: &ReplicaSetStatus| {
        let mut s = s.clone();
        for field in [
            &mut s.fully_labeled_replicas,
            &mut s.ready_replicas,
            &mut s.available_replicas,
        ] {
            if *field == Some(0) {
                *field = None;
            }
        }
        if s.conditions.as_ref().is_some_and(|c| c.is_empty()) {
            s.conditions = None;
        }
        s
    };
    a.map(zero).unwrap_or_default() == zero(b)
}

/// When the next ready pod becomes available (after `minReadySeconds`),
/// for a requeue: `None` when none is waiting.
pub fn next_available(rs: &ReplicaSet, pods: &[&Pod], now: Timestamp) -> Option<Duration> {
    let spec = rs.spec.as_ref()?;
    let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));
    if min_ready == 0 {
        return None;
    }
    let selector = Selector::compile(&spec.selector).ok()?;
    let (mine, _) = claim(rs, &selector, pods);
    mine.into_iter()
        .filter(|p| is_active(p) && ordinal_core::pod::is_ready(p))
        .filter(|p| !ordinal_core::pod::is_available(p, min_ready, now))
        .filter_map(ready_since)
        .filter_map(|since| since.checked_add(SignedDuration::from_secs(min_ready)).ok())
        .map(|at| {
            Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
                + Duration::from_secs(1)
        })
        .min()
}

#[cfg(test)]
mod tests;
