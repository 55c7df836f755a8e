//! `status.conditions`, which upstream's StatefulSet controller never sets
//! (kubernetes/kubernetes#79606): `Available` and `Progressing`, read as a
//! Deployment's are, so `kubectl wait --for=condition=Available sts/web`
//! works and a stuck rollout says which pod holds it and why.
//!
//! - `Available` is True when at least `replicas - maxUnavailable` pods
//!   are available. Without `maxUnavailable` in the spec that is every
//!   replica: a database's set is available when all its members are.
//! - `Progressing` is True with reason `RolloutComplete` once every
//!   desired pod exists, runs the update revision and is available; True
//!   with `RolloutInProgress` while that is on its way; False with
//!   `RolloutStuck` when a pod of the set cannot get there by itself: a
//!   container that crash-loops, cannot pull its image or cannot be
//!   created, a pod that cannot be scheduled, or one not Ready for longer
//!   than the progress deadline (upstream's default for Deployments,
//!   600 s). The message names the pod and why, in words that stay the
//!   same while the kubelet retries, so a stuck set is not rewritten at
//!   every back-off step.
//!
//! The transition time changes only when a condition's status does.

use k8s_openapi::api::apps::v1::{StatefulSetCondition, StatefulSetStatus};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use ordinal_core::pod::{condition, is_running_and_ready, is_terminating, phase};

use super::spec::{SetSpec, Strategy};
use super::status::Counts;

/// How long a pod may stay not Ready before the rollout counts as stuck.
pub(crate) const PROGRESS_DEADLINE: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// Waiting reasons of a container whose image cannot be had: the kubelet
/// alternates between them at each attempt, so they read as one.
const IMAGE_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
];

/// Waiting reasons of a container that cannot be created or started until
/// its pod or the node changes.
const START_WAITING: &[&str] = &[
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What the conditions are computed from.
pub(crate) struct Inputs<'s, 'a, 'p> {
    pub spec: &'s SetSpec<'a>,
    /// The set's pods, by ordinal, ascending.
    pub pods: &'s [(i64, &'p Pod)],
    pub counts: Counts,
    pub update_revision: &'s str,
    pub now: jiff::Timestamp,
}

/// Sets `Available` and `Progressing` in `status`, keeping other
/// conditions as they are.
pub(crate) fn set(status: &mut StatefulSetStatus, input: &Inputs<'_, '_, '_>) {
    let available = available(input);
    let progressing = progressing(input);
    for (type_, (ok, reason, message)) in [("Available", available), ("Progressing", progressing)] {
        put(status, type_, ok, reason, message, input.now);
    }
}

type Verdict = (bool, &'static str, String);

fn available(input: &Inputs<'_, '_, '_>) -> Verdict {
    let spec = input.spec;
    let allowed = match spec.strategy {
        Strategy::RollingUpdate {
            rolling: Some(rolling),
        } => rolling
            .max_unavailable
            .and_then(|v| super::sync::resolve(v, spec.replicas).ok())
            .unwrap_or(0)
            .max(0),
        _ => 0,
    };
    let needed = (spec.replicas - allowed).max(0);
    let have = i64::from(input.counts.available);
    if have >= needed {
        (
            true,
            "MinimumReplicasAvailable",
            format!(
                "StatefulSet has minimum availability: {have} of {needed} required pods available."
            ),
        )
    } else {
        (
            false,
            "MinimumReplicasUnavailable",
            format!(
                "StatefulSet does not have minimum availability: {have} of {needed} required pods available."
            ),
        )
    }
}

fn progressing(input: &Inputs<'_, '_, '_>) -> Verdict {
    let spec = input.spec;
    let c = input.counts;
    let desired = spec.replicas;
    if i64::from(c.updated) == desired
        && i64::from(c.replicas) == desired
        && i64::from(c.available) == desired
    {
        return (
            true,
            "RolloutComplete",
            format!(
                "StatefulSet {:?} has successfully rolled out revision {}.",
                spec.name, input.update_revision
            ),
        );
    }
    if let Some((name, why)) = input.pods.iter().find_map(|(_, pod)| stuck(pod, input.now)) {
        return (
            false,
            "RolloutStuck",
            format!("Pod {name} is not progressing: {why}"),
        );
    }
    (
        true,
        "RolloutInProgress",
        format!(
            "StatefulSet {:?} is rolling out revision {}: {} of {desired} pods updated, {} available.",
            spec.name, input.update_revision, c.updated, c.available
        ),
    )
}

/// The pod's name and why it will not become Ready by itself, if so.
fn stuck(pod: &Pod, now: jiff::Timestamp) -> Option<(&str, String)> {
    if is_terminating(pod) || is_running_and_ready(pod) {
        return None;
    }
    let name = pod.metadata.name.as_deref().unwrap_or("");
    if phase(pod) == "Failed" {
        return None; // The controller replaces it.
    }
    if let Some(scheduled) = condition(pod, "PodScheduled")
        && scheduled.status == "False"
        && scheduled.reason.as_deref() == Some("Unschedulable")
    {
        let message = scheduled.message.as_deref().unwrap_or("");
        return Some((name, format!("cannot be scheduled: {message}")));
    }
    let status = pod.status.as_ref();
    let containers = status.into_iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    });
    for container in containers {
        if let Some(why) = container_stuck(container) {
            return Some((name, why));
        }
    }
    // Not Ready for longer than the deadline, counted from when it last
    // stopped being Ready (or was created).
    let since = condition(pod, "Ready")
        .and_then(|c| c.last_transition_time.as_ref())
        .or(pod.metadata.creation_timestamp.as_ref())?;
    let overdue = since
        .0
        .checked_add(PROGRESS_DEADLINE)
        .is_ok_and(|at| at < now);
    overdue.then(|| {
        (
            name,
            format!("not Ready for more than {} s", PROGRESS_DEADLINE.as_secs()),
        )
    })
}

/// Why a container will not become ready by itself, in words that stay
/// the same while the kubelet retries (its messages and the state between
/// two attempts change at every step, and each change would be another
/// status write).
fn container_stuck(container: &ContainerStatus) -> Option<String> {
    let name = &container.name;
    let state = container.state.as_ref();
    let reason = state
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
        .unwrap_or("");
    if IMAGE_WAITING.contains(&reason) {
        return Some(format!(
            "container {name} cannot pull image {}",
            container.image
        ));
    }
    if START_WAITING.contains(&reason) {
        return Some(format!("container {name} cannot be started: {reason}"));
    }
    let crashed_before = container
        .last_state
        .as_ref()
        .is_some_and(|l| l.terminated.is_some());
    (reason == "CrashLoopBackOff"
        || (container.restart_count > 0 && crashed_before && !container.ready))
        .then(|| format!("container {name} is in CrashLoopBackOff"))
}

/// Replaces the condition of `type_`; its transition time moves only when
/// its status changes.
fn put(
    status: &mut StatefulSetStatus,
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    now: jiff::Timestamp,
) {
    let value = if ok { "True" } else { "False" };
    // Whole seconds, as the API stores times.
    let now = jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
    let conditions = status.conditions.get_or_insert_default();
    let since = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == value)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(StatefulSetCondition {
        type_: type_.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(since),
    });
}

/// Whether the conditions differ in anything but their times.
pub(crate) fn differ(
    old: Option<&Vec<StatefulSetCondition>>,
    new: Option<&Vec<StatefulSetCondition>>,
) -> bool {
    let key = |c: &StatefulSetCondition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
        )
    };
    let sorted = |list: Option<&Vec<StatefulSetCondition>>| {
        let mut keys: Vec<_> = list.into_iter().flatten().map(key).collect();
        keys.sort();
        keys
    };
    sorted(old) != sorted(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use ordinal_core::set_policy::Policies;
    use serde_json::json;

    fn set(max_unavailable: Option<serde_json::Value>) -> StatefulSet {
        let mut strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
        if let Some(m) = max_unavailable {
            strategy["rollingUpdate"]["maxUnavailable"] = m;
        }
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u"},
            "spec": {
                "replicas": 4, "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "updateStrategy": strategy,
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
            }
        }))
        .unwrap()
    }

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": status
        }))
        .unwrap()
    }

    fn conditions(
        set: &StatefulSet,
        pods: &[(i64, &Pod)],
        counts: Counts,
        now: &str,
    ) -> StatefulSetStatus {
        let policies = Policies::default();
        let spec = SetSpec::of(set, &policies);
        let mut status = StatefulSetStatus::default();
        super::set(
            &mut status,
            &Inputs {
                spec: &spec,
                pods,
                counts,
                update_revision: "web-2",
                now: now.parse().unwrap(),
            },
        );
        status
    }

    fn find<'a>(status: &'a StatefulSetStatus, type_: &str) -> &'a StatefulSetCondition {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_)
            .unwrap()
    }

    fn counts(replicas: i32, available: i32, updated: i32) -> Counts {
        Counts {
            replicas,
            ready: available,
            available,
            current: replicas - updated,
            updated,
        }
    }

    #[test]
    fn available_needs_every_replica_unless_max_unavailable_allows_fewer() {
        let strict = set(None);
        let s = conditions(&strict, &[], counts(4, 3, 4), "2026-01-01T00:01:00Z");
        assert_eq!(find(&s, "Available").status, "False");
        let s = conditions(&strict, &[], counts(4, 4, 4), "2026-01-01T00:01:00Z");
        assert_eq!(find(&s, "Available").status, "True");
        let lenient = set(Some(json!("50%")));
        let s = conditions(&lenient, &[], counts(4, 2, 4), "2026-01-01T00:01:00Z");
        assert_eq!(find(&s, "Available").status, "True");
        let s = conditions(&lenient, &[], counts(4, 1, 4), "2026-01-01T00:01:00Z");
        assert_eq!(find(&s, "Available").status, "False");
    }

    #[test]
    fn progressing_names_the_pod_that_holds_the_rollout_and_why() {
        let s = set(None);
        let crashing = pod(
            "web-3",
            json!({"phase": "Running", "containerStatuses": [{"name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=app"}}}]}),
        );
        let out = conditions(
            &s,
            &[(3, &crashing)],
            counts(4, 3, 1),
            "2026-01-01T00:01:00Z",
        );
        let p = find(&out, "Progressing");
        assert_eq!(
            (p.status.as_str(), p.reason.as_deref()),
            ("False", Some("RolloutStuck"))
        );
        assert_eq!(
            p.message.as_deref(),
            Some("Pod web-3 is not progressing: container app is in CrashLoopBackOff")
        );
        let pulling = |reason: &str| {
            pod(
                "web-3",
                json!({"phase": "Pending", "containerStatuses": [{"name": "app", "image": "nginx:9", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": "back-off pulling image"}}}]}),
            )
        };
        let (a, b) = (pulling("ErrImagePull"), pulling("ImagePullBackOff"));
        let message = |p: &Pod| {
            let out = conditions(&s, &[(3, p)], counts(4, 3, 1), "2026-01-01T00:01:00Z");
            find(&out, "Progressing").message.clone().unwrap()
        };
        assert_eq!(
            message(&a),
            message(&b),
            "one message while the kubelet retries"
        );
        assert_eq!(
            message(&a),
            "Pod web-3 is not progressing: container app cannot pull image nginx:9"
        );
        let between_attempts = pod(
            "web-3",
            json!({"phase": "Running", "containerStatuses": [{"name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 4,
                "state": {"terminated": {"exitCode": 1}}, "lastState": {"terminated": {"exitCode": 1}}}]}),
        );
        assert_eq!(message(&between_attempts), message(&crashing));
        let unschedulable = pod(
            "web-1",
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"}]}),
        );
        let out = conditions(
            &s,
            &[(1, &unschedulable)],
            counts(2, 1, 1),
            "2026-01-01T00:01:00Z",
        );
        assert!(
            find(&out, "Progressing")
                .message
                .as_deref()
                .unwrap()
                .contains("web-1 is not progressing: cannot be scheduled: 0/1")
        );
        let starting = pod("web-1", json!({"phase": "Pending"}));
        let out = conditions(
            &s,
            &[(1, &starting)],
            counts(4, 3, 4),
            "2026-01-01T00:01:00Z",
        );
        assert_eq!(
            find(&out, "Progressing").reason.as_deref(),
            Some("RolloutInProgress")
        );
        let out = conditions(
            &s,
            &[(1, &starting)],
            counts(4, 3, 4),
            "2026-01-01T00:11:00Z",
        );
        assert_eq!(
            find(&out, "Progressing").reason.as_deref(),
            Some("RolloutStuck")
        );
        let out = conditions(&s, &[], counts(4, 4, 4), "2026-01-01T00:11:00Z");
        assert_eq!(
            find(&out, "Progressing").reason.as_deref(),
            Some("RolloutComplete")
        );
    }

    #[test]
    fn transition_times_move_only_when_the_status_does() {
        let s = set(None);
        let policies = Policies::default();
        let spec = SetSpec::of(&s, &policies);
        let mut status = StatefulSetStatus::default();
        let at = |t: &str| jiff::Timestamp::from_str(t).unwrap();
        use std::str::FromStr;
        let mut run = |c: Counts, now: &str| {
            super::set(
                &mut status,
                &Inputs {
                    spec: &spec,
                    pods: &[],
                    counts: c,
                    update_revision: "web-2",
                    now: at(now),
                },
            );
            find(&status, "Available")
                .last_transition_time
                .clone()
                .unwrap()
                .0
        };
        assert_eq!(
            run(counts(4, 3, 4), "2026-01-01T00:01:00Z"),
            at("2026-01-01T00:01:00Z")
        );
        assert_eq!(
            run(counts(4, 2, 4), "2026-01-01T00:02:00Z"),
            at("2026-01-01T00:01:00Z")
        );
        assert_eq!(
            run(counts(4, 4, 4), "2026-01-01T00:03:00Z"),
            at("2026-01-01T00:03:00Z")
        );
    }
}
