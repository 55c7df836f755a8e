//! Whether a pod may go to a node, before volumes are considered: the
//! filter plugins of upstream's default profile that ordinal has, in their
//! order, each with upstream's reason text.
//!
//! - NodeUnschedulable: `spec.unschedulable` unless the pod tolerates
//!   `node.kubernetes.io/unschedulable:NoSchedule`;
//! - TaintToleration: every NoSchedule and NoExecute taint tolerated. A
//!   node that is not Ready counts as carrying the taint the node
//!   lifecycle controller would give it (`node.kubernetes.io/not-ready`,
//!   or `node.kubernetes.io/unreachable` when its readiness is unknown), so
//!   pods go only to Ready nodes unless they tolerate that;
//! - NodeAffinity: `spec.nodeSelector` and the required node affinity.

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use crate::selection;

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Why a node does not fit.
pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        value: None,
        time_added: None,
    }
}

/// The node's taints, with the readiness taint it implies.
pub fn effective_taints(node: &Node) -> Vec<Taint> {
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let implied = match ready {
        Some("True") => None,
        Some("False") => Some(NOT_READY),
        _ => Some(UNREACHABLE),
    };
    if let Some(key) = implied
        && !taints
            .iter()
            .any(|t| t.key == key && t.effect == "NoSchedule")
    {
        taints.push(taint(key, "NoSchedule"));
    }
    taints
}

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

/// The reason `pod` cannot go to `node`, or `None` when it may.
pub fn unfit_reason(pod: &Pod, node: &Node) -> Option<String> {
    let tolerations = tolerations(pod);
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true)
        && !tolerations
            .iter()
            .any(|t| selection::tolerates(t, &taint(UNSCHEDULABLE, "NoSchedule")))
    {
        return Some(REASON_UNSCHEDULABLE.into());
    }
    for t in effective_taints(node) {
        if !matches!(t.effect.as_str(), "NoSchedule" | "NoExecute") {
            continue;
        }
        if !tolerations.iter().any(|tol| selection::tolerates(tol, &t)) {
            return Some(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ));
        }
    }
    if !affinity_fits(pod, node) {
        return Some(REASON_AFFINITY.into());
    }
    None
}

/// Whether the pod tolerates every NoSchedule and NoExecute taint of the
/// node (its readiness taint included).
pub fn taints_tolerated(pod: &Pod, node: &Node) -> bool {
    let tolerations = tolerations(pod);
    effective_taints(node)
        .iter()
        .filter(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"))
        .all(|t| tolerations.iter().any(|tol| selection::tolerates(tol, t)))
}

/// TaintToleration's score input: how many PreferNoSchedule taints of the
/// node the pod does not tolerate (fewer is better).
pub fn intolerable_preferred_taints(pod: &Pod, node: &Node) -> i64 {
    let tolerations: Vec<&Toleration> = tolerations(pod)
        .iter()
        .filter(|t| {
            t.effect
                .as_deref()
                .is_none_or(|e| e.is_empty() || e == "PreferNoSchedule")
        })
        .collect();
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "PreferNoSchedule")
        .filter(|t| !tolerations.iter().any(|tol| selection::tolerates(tol, t)))
        .count() as i64
}

/// NodeAffinity's score input: the summed weights of the pod's preferred
/// node affinity terms the node matches.
pub fn preferred_affinity_weight(pod: &Pod, node: &Node) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .filter(|t| {
            selection::node_selector_matches(
                &k8s_openapi::api::core::v1::NodeSelector {
                    node_selector_terms: vec![t.preference.clone()],
                },
                node,
            )
        })
        .map(|t| i64::from(t.weight))
        .sum()
}

/// NodeAffinity's filter: `spec.nodeSelector` and the required node
/// affinity.
pub fn affinity_fits(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    if let Some(selector) = &spec.node_selector {
        let labels = node.metadata.labels.as_ref();
        if !selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            return false;
        }
    }
    match spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }) {
        Some(required) => selection::node_selector_matches(required, node),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::node;
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec,
    };

    fn pod() -> Pod {
        Pod {
            spec: Some(PodSpec::default()),
            ..Default::default()
        }
    }

    #[test]
    fn a_ready_node_takes_any_plain_pod() {
        assert_eq!(unfit_reason(&pod(), &node("a")), None);
    }

    #[test]
    fn nodes_that_are_not_ready_repel_pods_that_do_not_tolerate_it() {
        let mut n = node("a");
        n.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
        assert_eq!(
            unfit_reason(&pod(), &n).as_deref(),
            Some("node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
        );
        let mut tolerant = pod();
        tolerant.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
            key: Some(NOT_READY.into()),
            operator: Some("Exists".into()),
            ..Default::default()
        }]);
        assert_eq!(unfit_reason(&tolerant, &n), None);
        n.status = None;
        assert_eq!(
            unfit_reason(&pod(), &n).as_deref(),
            Some("node(s) had untolerated taint {node.kubernetes.io/unreachable: }")
        );
    }

    #[test]
    fn taints_and_cordons() {
        let mut n = node("a");
        n.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        }]);
        assert_eq!(
            unfit_reason(&pod(), &n).as_deref(),
            Some("node(s) had untolerated taint {dedicated: db}")
        );
        let mut p = pod();
        p.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
            key: Some("dedicated".into()),
            value: Some("db".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]);
        assert_eq!(unfit_reason(&p, &n), None);
        // PreferNoSchedule never filters.
        n.spec.as_mut().unwrap().taints.as_mut().unwrap()[0].effect = "PreferNoSchedule".into();
        assert_eq!(unfit_reason(&pod(), &n), None);
        n.spec.as_mut().unwrap().unschedulable = Some(true);
        assert_eq!(
            unfit_reason(&pod(), &n).as_deref(),
            Some(REASON_UNSCHEDULABLE)
        );
    }

    #[test]
    fn node_selector_and_required_affinity() {
        let mut p = pod();
        p.spec.as_mut().unwrap().node_selector =
            Some([("disk".to_string(), "ssd".to_string())].into());
        let mut n = node("a");
        assert_eq!(unfit_reason(&p, &n).as_deref(), Some(REASON_AFFINITY));
        n.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("disk".into(), "ssd".into());
        assert_eq!(unfit_reason(&p, &n), None);
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "NotIn".into(),
                            values: Some(vec!["a".into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(unfit_reason(&p, &n).as_deref(), Some(REASON_AFFINITY));
    }
}
