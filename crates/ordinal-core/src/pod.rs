//! What a pod's status says, with upstream's definitions
//! (`k8s.io/kubectl`'s and `pkg/api/v1/pod`'s `IsPodReady`,
//! `IsPodAvailable`): the controllers, the node agent and `ordinal up` read
//! readiness the same way.

use k8s_openapi::api::core::v1::{Pod, PodCondition};

/// The pod's phase; `""` before it has one.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The pod's first condition of type `type_` (upstream's
/// `GetPodCondition`).
pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether the Ready condition is True (`IsPodReady`).
pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// Phase Running and condition Ready=True.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// Ready for more than `min_ready_seconds` (upstream's `IsPodAvailable`,
/// which looks at the Ready condition's transition time, not the phase).
pub fn is_available(pod: &Pod, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
    let Some(ready) = condition(pod, "Ready") else {
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

/// The pod has a deletion timestamp: it is going away.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}
