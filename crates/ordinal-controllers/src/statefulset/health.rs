//! What the controller reads from a pod's status: phase, readiness,
//! availability and termination, with upstream's exact definitions.

use k8s_openapi::api::core::v1::Pod;

use super::identity::REVISION_LABEL;

pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub(crate) fn is_failed(pod: &Pod) -> bool {
    phase(pod) == "Failed"
}

pub(crate) fn is_succeeded(pod: &Pod) -> bool {
    phase(pod) == "Succeeded"
}

/// Pending, or no phase yet (an object the API server has accepted but not
/// yet given a status; upstream would wrongly try to create it again).
pub(crate) fn is_pending(pod: &Pod) -> bool {
    matches!(phase(pod), "Pending" | "")
}

/// The pod has a deletion timestamp: it is going away and must not be
/// counted on, nor deleted again.
pub(crate) fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// Phase Running and condition Ready=True.
pub(crate) fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// Ready for more than `min_ready_seconds` (upstream's `IsPodAvailable`,
/// which looks at the Ready condition's transition time, not the phase).
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
    let Some(ready) = ready_condition(pod) else {
        return false;
    };
    if ready.status != "True" {
        return false;
    }
    if min_ready_seconds == 0 {
        return true;
    }
    let Some(since) = &ready.last_transition_time else {
        return false;
    };
    match since
        .0
        .checked_add(jiff::SignedDuration::from_secs(min_ready_seconds))
    {
        Ok(available_at) => available_at < now,
        Err(_) => false,
    }
}

/// Not available, or terminating: what rolling updates and scale-down wait on.
pub(crate) fn is_unavailable(pod: &Pod, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
    !is_available(pod, min_ready_seconds, now) || is_terminating(pod)
}

/// The revision a pod was created from (`controller-revision-hash` label).
pub(crate) fn revision(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map_or("", String::as_str)
}
