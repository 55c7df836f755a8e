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

/// Whether the pod is ready (`IsPodReady`), by the rule the kubelet makes
/// its Ready condition with: its containers are ready and so is every
/// readiness gate's condition. See [`ready_since`].
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Phase Running and ready.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// Ready for more than `min_ready_seconds` (upstream's `IsPodAvailable`,
/// which looks at when the pod became ready, not at the phase).
pub fn is_available(pod: &Pod, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
    let Some(since) = ready_since(pod) else {
        return false;
    };
    if min_ready_seconds == 0 {
        return true;
    }
    let Some(since) = since else {
        return false;
    };
    match since.checked_add(jiff::SignedDuration::from_secs(min_ready_seconds)) {
        Ok(available_at) => available_at < now,
        Err(_) => false,
    }
}

/// The kubelet's reason for Ready=False when only readiness gates hold
/// it back.
pub const READINESS_GATES_NOT_READY: &str = "ReadinessGatesNotReady";

/// When the pod became ready — Some(None) when that time is not recorded —
/// or None when it is not ready.
///
/// The Ready condition says so, and every readiness gate's condition must
/// be True too. The kubelet makes Ready by that rule, but only at its next
/// status write after a gate changes: read here, a gate's controller
/// closing it takes the pod out of Ready at once, and opening the last
/// one makes a pod whose Ready is False only for its gates
/// (`ReadinessGatesNotReady`, its containers ready) ready at once, since
/// the later of its containers' and its gates' transitions.
pub fn ready_since(pod: &Pod) -> Option<Option<jiff::Timestamp>> {
    let ready = condition(pod, "Ready")?;
    let time = |c: &PodCondition| c.last_transition_time.as_ref().map(|t| t.0);
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    let mut gates_since = None;
    for gate in gates {
        let open = condition(pod, &gate.condition_type).filter(|c| c.status == "True")?;
        gates_since = gates_since.max(time(open));
    }
    if ready.status == "True" {
        Some(time(ready))
    } else if ready.reason.as_deref() == Some(READINESS_GATES_NOT_READY) && !gates.is_empty() {
        let containers = condition(pod, "ContainersReady").filter(|c| c.status == "True")?;
        Some(time(containers).max(gates_since))
    } else {
        None
    }
}

/// The pod has a deletion timestamp: it is going away.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(gates: &[&str], conditions: serde_json::Value) -> Pod {
        let gates: Vec<_> = gates.iter().map(|g| json!({"conditionType": g})).collect();
        serde_json::from_value(json!({
            "metadata": {"name": "web-0"},
            "spec": {"containers": [], "readinessGates": gates},
            "status": {"phase": "Running", "conditions": conditions}
        }))
        .unwrap()
    }

    fn at(s: &str) -> Option<jiff::Timestamp> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn ready_is_the_ready_condition_without_gates() {
        let ready = pod(
            &[],
            json!([{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]),
        );
        assert_eq!(ready_since(&ready), Some(at("2026-01-01T00:00:00Z")));
        let not = pod(
            &[],
            json!([{"type": "Ready", "status": "False", "reason": READINESS_GATES_NOT_READY},
                   {"type": "ContainersReady", "status": "True"}]),
        );
        assert!(!is_ready(&not), "no gate to open");
        assert!(!is_ready(&pod(&[], json!([]))));
    }

    #[test]
    fn a_closed_gate_makes_a_pod_unready_before_the_kubelet_says_so() {
        let closed = pod(
            &["example.com/gate"],
            json!([{"type": "Ready", "status": "True"},
                   {"type": "example.com/gate", "status": "False"}]),
        );
        assert!(!is_ready(&closed));
        let missing = pod(
            &["example.com/gate"],
            json!([{"type": "Ready", "status": "True"}]),
        );
        assert!(!is_ready(&missing));
    }

    #[test]
    fn opening_the_last_gate_makes_a_pod_ready_before_the_kubelet_says_so() {
        let conditions = |gate: &str, reason: &str, containers: &str| {
            json!([
                {"type": "Ready", "status": "False", "reason": reason},
                {"type": "ContainersReady", "status": containers, "lastTransitionTime": "2026-01-01T00:00:05Z"},
                {"type": "example.com/gate", "status": gate, "lastTransitionTime": "2026-01-01T00:00:07Z"}
            ])
        };
        let opened = pod(
            &["example.com/gate"],
            conditions("True", READINESS_GATES_NOT_READY, "True"),
        );
        assert_eq!(ready_since(&opened), Some(at("2026-01-01T00:00:07Z")));
        let now: jiff::Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        assert!(is_available(&opened, 2, now));
        assert!(
            !is_available(&opened, 3, now),
            "ready only since the gate opened"
        );
        // Not when the containers are not ready, or Ready is False for
        // another reason (the node is lost, say).
        for (reason, containers) in [
            (READINESS_GATES_NOT_READY, "False"),
            ("ContainersNotReady", "True"),
            ("NodeNotReady", "True"),
        ] {
            let p = pod(
                &["example.com/gate"],
                conditions("True", reason, containers),
            );
            assert!(!is_ready(&p), "{reason} {containers}");
        }
        let still_closed = pod(
            &["example.com/gate"],
            conditions("False", READINESS_GATES_NOT_READY, "True"),
        );
        assert!(!is_ready(&still_closed));
    }
}
