//! The scheduler's volume binding, pure: upstream's VolumeBinding plugin
//! (`pkg/scheduler/framework/plugins/volumebinding`).
//!
//! - PreFilter, once per pod: every claim the pod uses must exist, not be
//!   Lost nor being deleted; claims are sorted into bound ones, unbound
//!   WaitForFirstConsumer ones (the scheduler binds those), and unbound
//!   "immediate" ones (the binder binds those; until it has, the pod
//!   waits). A claim whose class does not exist counts as immediate, as
//!   upstream.
//! - Filter, per node: a bound claim's volume must exist and allow the
//!   node; an unbound claim needs either an Available static volume that
//!   fits and allows the node (smallest first, each volume used once) or a
//!   class that can provision there. A claim whose provisioning already
//!   started for another node rules this node out.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::volumes::matching::{self, Path};
use crate::volumes::{ANN_BIND_COMPLETED, ANN_SELECTED_NODE, has_annotation};

pub const REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// The class that cannot provision.
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// What the scheduler reads about volumes.
pub struct Storage<'a> {
    /// The claims of the pod's namespace, by name.
    pub claims: HashMap<&'a str, &'a PersistentVolumeClaim>,
    pub volumes: &'a [&'a PersistentVolume],
    pub classes: HashMap<&'a str, &'a StorageClass>,
    /// Volumes other pods' decisions have taken but the caches may not
    /// show yet.
    pub reserved: &'a HashSet<String>,
}

/// A pod's claims, sorted by PreFilter.
#[derive(Debug, Default, Clone)]
pub struct PodClaims<'a> {
    pub bound: Vec<&'a PersistentVolumeClaim>,
    pub delayed: Vec<&'a PersistentVolumeClaim>,
}

/// The claim names a pod's volumes use, and whether each is ephemeral.
fn claim_names(pod: &Pod) -> Vec<(String, bool)> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some((c.claim_name.clone(), false))
            } else {
                v.ephemeral
                    .as_ref()
                    .map(|_| (format!("{name}-{}", v.name), true))
            }
        })
        .collect()
}

/// Fully bound: named volume and the binder's completion mark.
pub fn fully_bound(claim: &PersistentVolumeClaim) -> bool {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_some_and(|v| !v.is_empty())
        && has_annotation(&claim.metadata, ANN_BIND_COMPLETED)
}

/// PreFilter; an error is the pod's unresolvable reason.
pub fn prefilter<'a>(pod: &Pod, storage: &Storage<'a>) -> Result<PodClaims<'a>, String> {
    let mut out = PodClaims::default();
    let mut immediate = false;
    for (name, ephemeral) in claim_names(pod) {
        let Some(&claim) = storage.claims.get(name.as_str()) else {
            return Err(if ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\""
                )
            } else {
                format!("persistentvolumeclaim \"{name}\" not found")
            });
        };
        if crate::volumes::claim_phase(claim) == "Lost" {
            let volume = claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .unwrap_or("");
            return Err(format!(
                "persistentvolumeclaim \"{name}\" bound to non-existent persistentvolume \"{volume}\""
            ));
        }
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        if fully_bound(claim) {
            out.bound.push(claim);
            continue;
        }
        let delayed = storage
            .classes
            .get(matching::claim_class(claim))
            .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        let named = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|v| !v.is_empty());
        if delayed && !named {
            out.delayed.push(claim);
        } else {
            immediate = true;
        }
    }
    if immediate {
        return Err(REASON_UNBOUND_IMMEDIATE.into());
    }
    Ok(out)
}

/// What placing the pod on a node means for its unbound claims.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NodeVolumes {
    /// `(volume, claim)`: static volumes to bind.
    pub bindings: Vec<(String, String)>,
    /// Claims to provision on the node.
    pub provisions: Vec<String>,
}

/// Filter for one node: the volumes' plan, or the reasons it does not fit.
pub fn filter(
    claims: &PodClaims<'_>,
    node: &Node,
    storage: &Storage<'_>,
) -> Result<NodeVolumes, Vec<&'static str>> {
    let mut reasons = Vec::new();
    let mut pv_missing = false;
    for claim in &claims.bound {
        let name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .unwrap_or("");
        match storage
            .volumes
            .iter()
            .find(|v| v.metadata.name.as_deref() == Some(name))
        {
            None => pv_missing = true,
            Some(v) if !matching::node_affinity_fits(v, node) => {
                if !reasons.contains(&REASON_NODE_CONFLICT) {
                    reasons.push(REASON_NODE_CONFLICT);
                }
            }
            Some(_) => {}
        }
    }
    let node_name = node.metadata.name.as_deref().unwrap_or("");
    let mut plan = NodeVolumes::default();
    let mut unbound_ok = true;
    let mut to_match: Vec<&PersistentVolumeClaim> = Vec::new();
    let mut to_provision: Vec<&PersistentVolumeClaim> = Vec::new();
    for claim in &claims.delayed {
        match crate::volumes::annotation(&claim.metadata, ANN_SELECTED_NODE) {
            Some(selected) if selected != node_name => unbound_ok = false,
            Some(_) => to_provision.push(claim),
            None => to_match.push(claim),
        }
    }
    if unbound_ok {
        // The smallest requests choose first.
        to_match.sort_by_key(|c| matching::requested_bytes(c));
        let mut chosen: HashSet<String> = storage.reserved.clone();
        for claim in to_match {
            match matching::find_match(
                claim,
                storage.volumes.iter().copied(),
                Path::Scheduler { node },
                &chosen,
            ) {
                Ok(Some(v)) => {
                    let v = v.metadata.name.clone().unwrap_or_default();
                    chosen.insert(v.clone());
                    plan.bindings
                        .push((v, claim.metadata.name.clone().unwrap_or_default()));
                }
                _ => to_provision.push(claim),
            }
        }
        for claim in to_provision {
            let can = storage
                .classes
                .get(matching::claim_class(claim))
                .is_some_and(|c| can_provision_on(c, node));
            if can {
                plan.provisions
                    .push(claim.metadata.name.clone().unwrap_or_default());
            } else {
                unbound_ok = false;
            }
        }
    }
    if !unbound_ok {
        reasons.push(REASON_BIND_CONFLICT);
    }
    if pv_missing {
        reasons.push(REASON_PV_NOT_EXIST);
    }
    if reasons.is_empty() {
        Ok(plan)
    } else {
        Err(reasons)
    }
}

/// The class has a provisioner and its allowed topologies admit the node.
fn can_provision_on(class: &StorageClass, node: &Node) -> bool {
    if class.provisioner.is_empty() || class.provisioner == NO_PROVISIONER {
        return false;
    }
    let Some(topologies) = class.allowed_topologies.as_ref().filter(|t| !t.is_empty()) else {
        return true;
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    topologies.iter().any(|term| {
        term.match_label_expressions.iter().flatten().all(|e| {
            labels
                .get(&e.key)
                .is_some_and(|v| e.values.iter().any(|x| x == v))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, node, pin, volume};

    fn pod(claims: &[&str]) -> Pod {
        crate::volumes::tests::pod(None, claims)
    }

    fn bind(c: &mut PersistentVolumeClaim, volume: &str) {
        c.spec.as_mut().unwrap().volume_name = Some(volume.into());
        c.metadata
            .annotations
            .get_or_insert_default()
            .insert(ANN_BIND_COMPLETED.into(), "yes".into());
    }

    struct Fixture {
        claims: Vec<PersistentVolumeClaim>,
        volumes: Vec<PersistentVolume>,
        classes: Vec<StorageClass>,
        reserved: HashSet<String>,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                claims: vec![],
                volumes: vec![],
                classes: vec![
                    class(
                        "local-path",
                        crate::volumes::PROVISIONER,
                        "WaitForFirstConsumer",
                    ),
                    class("local", NO_PROVISIONER, "WaitForFirstConsumer"),
                    class("now", crate::volumes::PROVISIONER, "Immediate"),
                ],
                reserved: HashSet::new(),
            }
        }

        fn check<R>(&self, f: impl FnOnce(&Storage<'_>) -> R) -> R {
            let volumes: Vec<&PersistentVolume> = self.volumes.iter().collect();
            let storage = Storage {
                claims: self
                    .claims
                    .iter()
                    .map(|c| (c.metadata.name.as_deref().unwrap(), c))
                    .collect(),
                volumes: &volumes,
                classes: self
                    .classes
                    .iter()
                    .map(|c| (c.metadata.name.as_deref().unwrap(), c))
                    .collect(),
                reserved: &self.reserved,
            };
            f(&storage)
        }
    }

    #[test]
    fn missing_lost_deleted_and_immediate_claims_stop_the_pod() {
        let mut f = Fixture::new();
        let p = pod(&["data"]);
        assert_eq!(
            f.check(|s| prefilter(&p, s).map(|_| ())),
            Err("persistentvolumeclaim \"data\" not found".into())
        );
        f.claims.push(claim("data", "1Gi", "missing-class"));
        assert_eq!(
            f.check(|s| prefilter(&p, s).map(|_| ())),
            Err(REASON_UNBOUND_IMMEDIATE.into())
        );
        f.claims[0] = claim("data", "1Gi", "now");
        assert_eq!(
            f.check(|s| prefilter(&p, s).map(|_| ())),
            Err(REASON_UNBOUND_IMMEDIATE.into())
        );
        f.claims[0] = claim("data", "1Gi", "local-path");
        assert_eq!(
            f.check(|s| prefilter(&p, s).map(|c| c.delayed.len())),
            Ok(1)
        );
        f.claims[0].metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        );
        assert_eq!(
            f.check(|s| prefilter(&p, s).map(|_| ())),
            Err("persistentvolumeclaim \"data\" is being deleted".into())
        );
    }

    #[test]
    fn a_bound_volume_pins_the_pod_to_its_node() {
        let mut f = Fixture::new();
        let mut c = claim("data", "1Gi", "local-path");
        bind(&mut c, "pv1");
        f.claims.push(c);
        let mut v = volume("pv1", "1Gi", "local-path");
        pin(&mut v, "node-b");
        f.volumes.push(v);
        let p = pod(&["data"]);
        let result = |n: &str| {
            f.check(|s| {
                let claims = prefilter(&p, s).unwrap();
                filter(&claims, &node(n), s)
            })
        };
        assert_eq!(result("node-a"), Err(vec![REASON_NODE_CONFLICT]));
        assert_eq!(result("node-b"), Ok(NodeVolumes::default()));
        f.volumes.clear();
        let result = f.check(|s| filter(&prefilter(&p, s).unwrap(), &node("node-a"), s));
        assert_eq!(result, Err(vec![REASON_PV_NOT_EXIST]));
    }

    #[test]
    fn unbound_claims_take_static_volumes_first_then_provision() {
        let mut f = Fixture::new();
        f.claims.push(claim("a", "1Gi", "local-path"));
        f.claims.push(claim("b", "1Gi", "local-path"));
        f.volumes.push(volume("static", "2Gi", "local-path"));
        let p = pod(&["a", "b"]);
        let plan = f
            .check(|s| filter(&prefilter(&p, s).unwrap(), &node("n"), s))
            .unwrap();
        assert_eq!(plan.bindings, vec![("static".to_string(), "a".to_string())]);
        assert_eq!(plan.provisions, vec!["b".to_string()]);
        // A volume another decision reserved is not offered again.
        f.reserved.insert("static".into());
        let plan = f
            .check(|s| filter(&prefilter(&p, s).unwrap(), &node("n"), s))
            .unwrap();
        assert!(plan.bindings.is_empty());
        assert_eq!(plan.provisions.len(), 2);
    }

    #[test]
    fn a_class_without_provisioner_needs_a_static_volume_on_the_node() {
        let mut f = Fixture::new();
        f.claims.push(claim("data", "1Gi", "local"));
        let p = pod(&["data"]);
        let result = f.check(|s| filter(&prefilter(&p, s).unwrap(), &node("n"), s));
        assert_eq!(result, Err(vec![REASON_BIND_CONFLICT]));
        let mut v = volume("disk", "1Gi", "local");
        pin(&mut v, "n");
        f.volumes.push(v);
        let plan = f
            .check(|s| filter(&prefilter(&p, s).unwrap(), &node("n"), s))
            .unwrap();
        assert_eq!(
            plan.bindings,
            vec![("disk".to_string(), "data".to_string())]
        );
        let other = f.check(|s| filter(&prefilter(&p, s).unwrap(), &node("m"), s));
        assert_eq!(other, Err(vec![REASON_BIND_CONFLICT]));
    }

    #[test]
    fn provisioning_for_another_node_rules_this_one_out() {
        let mut f = Fixture::new();
        let mut c = claim("data", "1Gi", "local-path");
        c.metadata
            .annotations
            .get_or_insert_default()
            .insert(ANN_SELECTED_NODE.into(), "node-a".into());
        f.claims.push(c);
        let p = pod(&["data"]);
        let on = |n: &str| f.check(|s| filter(&prefilter(&p, s).unwrap(), &node(n), s));
        assert_eq!(on("node-b"), Err(vec![REASON_BIND_CONFLICT]));
        assert_eq!(on("node-a").unwrap().provisions, vec!["data".to_string()]);
    }
}
