//! One scheduling decision, pure: a pod and what the caches show →
//! a node (with the volume work it needs) or the reason it fits nowhere,
//! worded as upstream's `FitError` ("0/3 nodes are available: ...").
//!
//! Each node goes through the filters in the order of upstream's default
//! profile, and the first that fails is the node's reason: NodeUnschedulable,
//! TaintToleration and NodeAffinity ([`nodes`]), NodePorts and
//! NodeResourcesFit ([`fit`]), then VolumeBinding ([`volume_binding`]).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};
use ordinal_core::fit::{self, NodeUsage};

use super::nodes;
use super::volume_binding::{self, NodeVolumes, Storage};

/// What the scheduler does with a pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No node fits; the message says why.
    Unschedulable(String),
    /// Place the pod on `node`, after this volume work (none: bind at once).
    Assign { node: String, volumes: NodeVolumes },
}

/// Upstream's message when the cluster has no node at all.
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// What preemption says of a node that failed a filter evicting pods
/// could satisfy (ports, resources), and of the others.
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// `N reason` for each reason, sorted as Go sorts those strings.
fn histogram(reasons: &BTreeMap<String, usize>) -> String {
    let mut counted: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    counted.sort();
    counted.join(", ")
}

/// The `preemption: ...` sentence the default PostFilter adds. ordinal
/// does not preempt: a node that only lacked room (ports, resources) is
/// reported as upstream reports a node without lower-priority pods to
/// evict; the other nodes preemption could not help.
fn preemption(pod: &Pod, nodes: usize, room_only: usize) -> String {
    let never = pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never");
    if never {
        return "preemption: not eligible due to preemptionPolicy=Never.".into();
    }
    let mut reasons = BTreeMap::new();
    if room_only > 0 {
        reasons.insert(NO_VICTIMS.to_string(), room_only);
    }
    if nodes > room_only {
        reasons.insert(NOT_HELPFUL.to_string(), nodes - room_only);
    }
    format!(
        "preemption: 0/{nodes} nodes are available: {}.",
        histogram(&reasons)
    )
}

/// The FitError text for a pod no node fits; `room_only` nodes failed
/// only for want of room.
fn fit_error(
    pod: &Pod,
    nodes: usize,
    prefilter: Option<&str>,
    reasons: &BTreeMap<String, usize>,
    room_only: usize,
) -> String {
    let mut msg = format!("0/{nodes} nodes are available:");
    match prefilter {
        Some(p) => msg.push_str(&format!(" {p}.")),
        None if !reasons.is_empty() => msg.push_str(&format!(" {}.", histogram(reasons))),
        None => {}
    }
    format!("{msg} {}", preemption(pod, nodes, room_only))
}

/// Why a node does not take the pod.
enum Unfit {
    /// Reasons preemption could not fix (taints, affinity, volumes...).
    Unresolvable(Vec<String>),
    /// The node lacks room: ports or resources.
    Room(Vec<String>),
}

/// Chooses a node for `pod`. `usage` is what the pods already on (or
/// headed to) each node take; the fitting node with the fewest pods wins,
/// ties by name.
pub fn decide(
    pod: &Pod,
    nodes_list: &[&Node],
    storage: &Storage<'_>,
    usage: &HashMap<String, NodeUsage>,
) -> Decision {
    if nodes_list.is_empty() {
        return Decision::Unschedulable(NO_NODES.into());
    }
    let claims = match volume_binding::prefilter(pod, storage) {
        Ok(c) => c,
        Err(reason) => {
            return Decision::Unschedulable(fit_error(
                pod,
                nodes_list.len(),
                Some(&reason),
                &BTreeMap::new(),
                0,
            ));
        }
    };
    let request = fit::pod_requests(pod);
    let ports = fit::host_ports(pod);
    let empty = NodeUsage::default();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut room_only = 0;
    let mut best: Option<(usize, &str, NodeVolumes)> = None;
    for node in nodes_list {
        let name = node.metadata.name.as_deref().unwrap_or("");
        let used = usage.get(name).unwrap_or(&empty);
        let unfit = if let Some(reason) = nodes::unfit_reason(pod, node) {
            Unfit::Unresolvable(vec![reason])
        } else if !fit::ports_fit(&ports, used) {
            Unfit::Room(vec![fit::REASON_PORTS.to_string()])
        } else {
            let short = fit::insufficient(&request, &fit::allocatable(node), used);
            if !short.is_empty() {
                Unfit::Room(short)
            } else {
                match volume_binding::filter(&claims, node, storage) {
                    Err(rs) => Unfit::Unresolvable(rs.into_iter().map(|r| r.to_string()).collect()),
                    Ok(plan) => {
                        let score = used.pods;
                        if best
                            .as_ref()
                            .is_none_or(|(s, n, _)| (score, name) < (*s, *n))
                        {
                            best = Some((score, name, plan));
                        }
                        continue;
                    }
                }
            }
        };
        let rs = match unfit {
            Unfit::Unresolvable(rs) => rs,
            Unfit::Room(rs) => {
                room_only += 1;
                rs
            }
        };
        for r in rs {
            *reasons.entry(r).or_default() += 1;
        }
    }
    match best {
        Some((_, node, volumes)) => Decision::Assign {
            node: node.to_string(),
            volumes,
        },
        None => {
            Decision::Unschedulable(fit_error(pod, nodes_list.len(), None, &reasons, room_only))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, node, pin, volume};

    fn pod(claims: &[&str]) -> Pod {
        crate::volumes::tests::pod(None, claims)
    }
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Taint};
    use k8s_openapi::api::storage::v1::StorageClass;
    use std::collections::HashSet;

    fn run(
        pod: &Pod,
        nodes: &[Node],
        claims: &[PersistentVolumeClaim],
        volumes: &[PersistentVolume],
        classes: &[StorageClass],
        load: &HashMap<String, usize>,
    ) -> Decision {
        let usage: HashMap<String, NodeUsage> = load
            .iter()
            .map(|(n, pods)| {
                (
                    n.clone(),
                    NodeUsage {
                        pods: *pods,
                        ..Default::default()
                    },
                )
            })
            .collect();
        run_with(pod, nodes, claims, volumes, classes, &usage)
    }

    fn run_with(
        pod: &Pod,
        nodes: &[Node],
        claims: &[PersistentVolumeClaim],
        volumes: &[PersistentVolume],
        classes: &[StorageClass],
        usage: &HashMap<String, NodeUsage>,
    ) -> Decision {
        let reserved = HashSet::new();
        let vols: Vec<&PersistentVolume> = volumes.iter().collect();
        let storage = Storage {
            claims: claims
                .iter()
                .map(|c| (c.metadata.name.as_deref().unwrap(), c))
                .collect(),
            volumes: &vols,
            classes: classes
                .iter()
                .map(|c| (c.metadata.name.as_deref().unwrap(), c))
                .collect(),
            reserved: &reserved,
        };
        let nodes: Vec<&Node> = nodes.iter().collect();
        decide(pod, &nodes, &storage, usage)
    }

    /// A pod of one container with these requests and host port.
    fn sized(cpu: &str, memory: &str, host_port: Option<i32>) -> Pod {
        let mut c = serde_json::json!({"name": "c",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}});
        if let Some(port) = host_port {
            c["ports"] = serde_json::json!([{"containerPort": 80, "hostPort": port}]);
        }
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "big", "namespace": "default"},
            "spec": {"containers": [c]},
        }))
        .unwrap()
    }

    /// A node's usage holding these pods.
    fn holding(pods: &[Pod]) -> NodeUsage {
        let mut u = NodeUsage::default();
        for p in pods {
            u.add(&fit::Footprint::of(p));
        }
        u
    }

    #[test]
    fn a_pod_larger_than_what_is_left_is_unschedulable_in_upstreams_words() {
        // The fixture nodes offer 4 CPUs and 8 GiB.
        let d = run(
            &sized("5", "1Gi", None),
            &[node("a")],
            &[],
            &[],
            &[],
            &HashMap::new(),
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()
            )
        );
        // What the node's pods already take counts.
        let usage = HashMap::from([("a".to_string(), holding(&[sized("3", "7Gi", None)]))]);
        let d = run_with(
            &sized("2", "2Gi", None),
            &[node("a")],
            &[],
            &[],
            &[],
            &usage,
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()
            )
        );
        let d = run_with(
            &sized("1", "1Gi", None),
            &[node("a")],
            &[],
            &[],
            &[],
            &usage,
        );
        assert!(matches!(d, Decision::Assign { .. }), "{d:?}");
    }

    #[test]
    fn a_taken_host_port_sends_the_pod_to_another_node() {
        let usage = HashMap::from([("a".to_string(), holding(&[sized("0", "0", Some(8080))]))]);
        let d = run_with(
            &sized("0", "0", Some(8080)),
            &[node("a"), node("b")],
            &[],
            &[],
            &[],
            &usage,
        );
        assert!(
            matches!(d, Decision::Assign { ref node, .. } if node == "b"),
            "{d:?}"
        );
        let d = run_with(
            &sized("0", "0", Some(8080)),
            &[node("a")],
            &[],
            &[],
            &[],
            &usage,
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()
            )
        );
    }

    /// Every reason of a node counts (the full node lacks both pods and
    /// CPU), sorted as Go sorts the "N reason" strings.
    #[test]
    fn preemption_counts_nodes_short_of_room_apart_from_the_others() {
        let mut tainted = node("b");
        tainted.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        }]);
        let mut full = node("c");
        full.status
            .as_mut()
            .unwrap()
            .allocatable
            .as_mut()
            .unwrap()
            .insert(
                "pods".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("0".into()),
            );
        let d = run(
            &sized("5", "0", None),
            &[node("a"), tainted, full],
            &[],
            &[],
            &[],
            &HashMap::new(),
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/3 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.".into()
            )
        );
    }

    #[test]
    fn no_nodes_at_all() {
        assert_eq!(
            run(&pod(&[]), &[], &[], &[], &[], &HashMap::new()),
            Decision::Unschedulable(NO_NODES.into())
        );
    }

    #[test]
    fn the_least_loaded_fitting_node_wins() {
        let load = HashMap::from([("a".to_string(), 3), ("b".to_string(), 1)]);
        let d = run(
            &pod(&[]),
            &[node("a"), node("b"), node("c")],
            &[],
            &[],
            &[],
            &load,
        );
        assert_eq!(
            d,
            Decision::Assign {
                node: "c".into(),
                volumes: NodeVolumes::default()
            }
        );
    }

    #[test]
    fn reasons_are_counted_per_node_as_upstream_words_them() {
        let mut tainted = node("b");
        tainted.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        }]);
        let mut p = pod(&[]);
        p.spec.as_mut().unwrap().node_selector =
            Some([("disk".to_string(), "ssd".to_string())].into());
        let d = run(
            &p,
            &[node("a"), tainted, node("c")],
            &[],
            &[],
            &[],
            &HashMap::new(),
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.".into()
            )
        );
    }

    #[test]
    fn a_missing_claim_is_a_prefilter_failure() {
        let d = run(
            &pod(&["data"]),
            &[node("a")],
            &[],
            &[],
            &[],
            &HashMap::new(),
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: persistentvolumeclaim \"data\" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()
            )
        );
        let c = claim("data", "1Gi", "nope");
        let d = run(
            &pod(&["data"]),
            &[node("a")],
            &[c],
            &[],
            &[],
            &HashMap::new(),
        );
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()
            )
        );
    }

    #[test]
    fn a_wait_for_first_consumer_claim_is_provisioned_on_the_chosen_node() {
        let c = claim("data", "1Gi", "local-path");
        let sc = class(
            "local-path",
            crate::volumes::PROVISIONER,
            "WaitForFirstConsumer",
        );
        let d = run(
            &pod(&["data"]),
            &[node("a")],
            &[c],
            &[],
            &[sc],
            &HashMap::new(),
        );
        assert_eq!(
            d,
            Decision::Assign {
                node: "a".into(),
                volumes: NodeVolumes {
                    bindings: vec![],
                    provisions: vec!["data".into()]
                }
            }
        );
    }

    #[test]
    fn a_bound_claim_on_a_pinned_volume_decides_the_node() {
        let mut c = claim("data", "1Gi", "local-path");
        c.spec.as_mut().unwrap().volume_name = Some("pv".into());
        c.metadata
            .annotations
            .get_or_insert_default()
            .insert(crate::volumes::ANN_BIND_COMPLETED.into(), "yes".into());
        let mut v = volume("pv", "1Gi", "local-path");
        pin(&mut v, "b");
        let load = HashMap::from([("b".to_string(), 10)]);
        let d = run(
            &pod(&["data"]),
            &[node("a"), node("b")],
            &[c],
            &[v],
            &[],
            &load,
        );
        assert!(matches!(d, Decision::Assign { ref node, .. } if node == "b"));
    }
}
