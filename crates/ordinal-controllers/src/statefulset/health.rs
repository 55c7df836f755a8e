//! What the controller reads from a pod's status beyond readiness and
//! availability (`ordinal_core::pod`): phase, health and revision, with
//! upstream's exact definitions.

use k8s_openapi::api::core::v1::Pod;
use ordinal_core::pod::{is_available, is_terminating, phase};

use super::identity::REVISION_LABEL;

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
