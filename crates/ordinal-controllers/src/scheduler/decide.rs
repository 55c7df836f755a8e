//! One scheduling decision, pure: a pod and what the caches show →
//! a node (with the volume work it needs) or the reason it fits nowhere,
//! worded as upstream's `FitError` ("0/3 nodes are available: ...").

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};

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

/// The `preemption: ...` sentence the default PostFilter adds: every
/// reason ordinal gives is one preemption cannot fix.
fn preemption(pod: &Pod, nodes: usize) -> String {
    let never = pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never");
    if never {
        "preemption: not eligible due to preemptionPolicy=Never.".into()
    } else {
        format!(
            "preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
        )
    }
}

/// The FitError text for a pod no node fits.
fn fit_error(
    pod: &Pod,
    nodes: usize,
    prefilter: Option<&str>,
    reasons: &BTreeMap<String, usize>,
) -> String {
    let mut msg = format!("0/{nodes} nodes are available:");
    match prefilter {
        Some(p) => msg.push_str(&format!(" {p}.")),
        None => {
            // Sorted as Go sorts the "N reason" strings.
            let mut counted: Vec<String> =
                reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            counted.sort();
            if !counted.is_empty() {
                msg.push_str(&format!(" {}.", counted.join(", ")));
            }
        }
    }
    format!("{msg} {}", preemption(pod, nodes))
}

/// Chooses a node for `pod`. `load` counts the pods on (or headed to) each
/// node; the least loaded fitting node wins, ties by name.
pub fn decide(
    pod: &Pod,
    nodes_list: &[&Node],
    storage: &Storage<'_>,
    load: &HashMap<String, usize>,
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
            ));
        }
    };
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(usize, &str, NodeVolumes)> = None;
    for node in nodes_list {
        let name = node.metadata.name.as_deref().unwrap_or("");
        if let Some(reason) = nodes::unfit_reason(pod, node) {
            *reasons.entry(reason).or_default() += 1;
            continue;
        }
        match volume_binding::filter(&claims, node, storage) {
            Err(rs) => {
                for r in rs {
                    *reasons.entry(r.to_string()).or_default() += 1;
                }
            }
            Ok(plan) => {
                let score = load.get(name).copied().unwrap_or(0);
                if best
                    .as_ref()
                    .is_none_or(|(s, n, _)| (score, name) < (*s, *n))
                {
                    best = Some((score, name, plan));
                }
            }
        }
    }
    match best {
        Some((_, node, volumes)) => Decision::Assign {
            node: node.to_string(),
            volumes,
        },
        None => Decision::Unschedulable(fit_error(pod, nodes_list.len(), None, &reasons)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, node, pin, volume};
    use k8s_openapi::api::core::v1::{
        PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, PodSpec, Taint,
        Volume,
    };
    use k8s_openapi::api::storage::v1::StorageClass;
    use std::collections::HashSet;

    fn pod(claims: &[&str]) -> Pod {
        Pod {
            metadata: kube::api::ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                volumes: Some(
                    claims
                        .iter()
                        .map(|c| Volume {
                            name: "data".into(),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: c.to_string(),
                                read_only: None,
                            }),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn run(
        pod: &Pod,
        nodes: &[Node],
        claims: &[PersistentVolumeClaim],
        volumes: &[PersistentVolume],
        classes: &[StorageClass],
        load: &HashMap<String, usize>,
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
        decide(pod, &nodes, &storage, load)
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
