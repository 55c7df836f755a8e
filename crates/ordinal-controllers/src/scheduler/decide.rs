//! One scheduling decision, pure: a pod and what the caches show →
//! a node (with the volume work it needs), pods to preempt for it, or the
//! reason it fits nowhere, worded as upstream's `FitError` ("0/3 nodes are
//! available: ...").
//!
//! Each node goes through the filters in the order of upstream's default
//! profile, and the first that fails is the node's reason:
//! NodeUnschedulable, TaintToleration and NodeAffinity ([`nodes`]),
//! NodePorts and NodeResourcesFit ([`fit`]), VolumeBinding
//! ([`volume_binding`]), PodTopologySpread ([`spread`]) and
//! InterPodAffinity ([`interpod`]).
//!
//! The nodes that pass are scored as upstream's default score plugins
//! weigh them — TaintToleration (3), NodeAffinity (2), PodTopologySpread
//! (2), InterPodAffinity (2), NodeResourcesFit least-allocated (1) — and
//! the highest total wins; ties go to the node with fewest pods, then the
//! first name (upstream picks among ties at random).
//!
//! When no node passes, [`preempt`] looks for lower-priority pods whose
//! eviction would let the pod in (upstream's DefaultPreemption).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use ordinal_core::fit::{self, NodeUsage};

use super::interpod::{self, Terms};
use super::nodes;
use super::preempt::{self, Budget, Victim};
use super::spread;
use super::volume_binding::{self, NodeVolumes, Storage};

/// What the scheduler does with a pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No node fits; the message says why.
    Unschedulable(String),
    /// Place the pod on `node`, after this volume work (none: bind at once).
    Assign { node: String, volumes: NodeVolumes },
    /// No node fits, but evicting `victims` from `node` makes room: the
    /// pod is nominated there; `message` is the FitError of this attempt.
    Preempt {
        /// The node the pod is nominated to.
        node: String,
        /// The pods to evict, all of lower priority than the pod.
        victims: Vec<Victim>,
        /// Why the pod did not fit this time (no preemption sentence).
        message: String,
    },
}

/// Upstream's message when the cluster has no node at all.
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// A pod already on (or assumed on) a node.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// Its node.
    pub node: &'a str,
    /// Its affinity terms, compiled once.
    pub terms: Terms,
}

/// What a decision sees besides the pod: every node, the pods placed on
/// them, namespaces' labels, the default spreading selector and the
/// disruption budgets.
#[derive(Debug, Clone, Default)]
pub struct Cluster<'a> {
    /// Pods bound or assumed on a node (never the pod being scheduled).
    pub pods: Vec<Placed<'a>>,
    /// Every node, by name.
    pub nodes: HashMap<&'a str, &'a Node>,
    /// Each namespace's labels, for affinity terms' namespaceSelector.
    pub namespace_labels: HashMap<String, BTreeMap<String, String>>,
    /// The Services' and StatefulSets' selector of the pod (upstream's
    /// `DefaultSelector`), for the system default spreading.
    pub default_spread: Option<LabelSelector>,
    /// PodDisruptionBudgets, which preemption respects where it can.
    pub budgets: Vec<Budget>,
}

impl<'a> Cluster<'a> {
    /// A cluster of these nodes and placed pods (`(pod, node)`).
    pub fn new(nodes: &[&'a Node], pods: impl IntoIterator<Item = (&'a Pod, &'a str)>) -> Self {
        Cluster {
            nodes: nodes
                .iter()
                .map(|n| (n.metadata.name.as_deref().unwrap_or(""), *n))
                .collect(),
            pods: pods
                .into_iter()
                .map(|(pod, node)| Placed {
                    pod,
                    node,
                    terms: Terms::of(pod),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&'a Node> {
        self.nodes.get(name).copied()
    }

    /// The same cluster without the pods whose UIDs are given.
    pub fn without(&self, uids: &[&str]) -> Cluster<'a> {
        let mut c = self.clone();
        c.pods
            .retain(|p| !uids.contains(&p.pod.metadata.uid.as_deref().unwrap_or("")));
        c
    }
}

/// What preemption says of a node that failed a filter evicting pods
/// could satisfy (ports, resources, anti-affinity, skew), and of the others.
pub(crate) const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub(crate) const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// `N reason` for each reason, sorted as Go sorts those strings.
pub(crate) fn histogram(reasons: &BTreeMap<String, usize>) -> String {
    let mut counted: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    counted.sort();
    counted.join(", ")
}

/// The FitError text: `0/N nodes are available: <reasons>.` and the
/// preemption sentence when there is one.
fn fit_error(
    nodes: usize,
    prefilter: Option<&str>,
    reasons: &BTreeMap<String, usize>,
    postfilter: Option<&str>,
) -> String {
    let mut msg = format!("0/{nodes} nodes are available:");
    match prefilter {
        Some(p) => msg.push_str(&format!(" {p}.")),
        None if !reasons.is_empty() => msg.push_str(&format!(" {}.", histogram(reasons))),
        None => {}
    }
    if let Some(post) = postfilter {
        msg.push(' ');
        msg.push_str(post);
    }
    msg
}

/// Why a node does not take the pod.
#[derive(Debug, Clone)]
pub(crate) struct Unfit {
    pub reasons: Vec<String>,
    /// Evicting pods could fix it (upstream's `Unschedulable`, as opposed
    /// to `UnschedulableAndUnresolvable`).
    pub resolvable: bool,
}

impl Unfit {
    fn new(reasons: Vec<String>, resolvable: bool) -> Unfit {
        Unfit {
            reasons,
            resolvable,
        }
    }
}

/// Everything about the pod the filters need, computed once.
pub(crate) struct Prepared<'s> {
    request: fit::Resources,
    ports: Vec<fit::HostPort>,
    claims: volume_binding::PodClaims<'s>,
    interpod: interpod::Filter,
    spread: spread::Filter,
}

impl<'s> Prepared<'s> {
    pub(crate) fn new(
        pod: &Pod,
        claims: volume_binding::PodClaims<'s>,
        cluster: &Cluster<'_>,
    ) -> Prepared<'s> {
        Prepared {
            request: fit::pod_requests(pod),
            ports: fit::host_ports(pod),
            claims,
            interpod: interpod::Filter::new(pod, cluster),
            spread: spread::Filter::new(pod, cluster),
        }
    }

    /// The same, against another view of the placed pods (preemption's
    /// "what if these pods were gone").
    pub(crate) fn recount(&self, pod: &Pod, cluster: &Cluster<'_>) -> Prepared<'s> {
        Prepared {
            request: self.request.clone(),
            ports: self.ports.clone(),
            claims: self.claims.clone(),
            interpod: interpod::Filter::new(pod, cluster),
            spread: spread::Filter::new(pod, cluster),
        }
    }

    /// Runs every filter on one node, in upstream's order.
    pub(crate) fn filter(
        &self,
        pod: &Pod,
        node: &Node,
        used: &NodeUsage,
        storage: &Storage<'_>,
    ) -> Result<NodeVolumes, Unfit> {
        if let Some(reason) = nodes::unfit_reason(pod, node) {
            return Err(Unfit::new(vec![reason], false));
        }
        if !fit::ports_fit(&self.ports, used) {
            return Err(Unfit::new(vec![fit::REASON_PORTS.to_string()], true));
        }
        let short = fit::insufficient(&self.request, &fit::allocatable(node), used);
        if !short.is_empty() {
            return Err(Unfit::new(short, true));
        }
        let plan = volume_binding::filter(&self.claims, node, storage)
            .map_err(|rs| Unfit::new(rs.into_iter().map(|r| r.to_string()).collect(), false))?;
        if let Err((reason, resolvable)) = self.spread.check(node) {
            return Err(Unfit::new(vec![reason.to_string()], resolvable));
        }
        if let Err((reason, resolvable)) = self.interpod.check(node) {
            return Err(Unfit::new(vec![reason.to_string()], resolvable));
        }
        Ok(plan)
    }
}

/// Chooses a node for `pod`. `usage` is what the pods already on (or
/// headed to) each node take; `cluster` the pods themselves.
pub fn decide(
    pod: &Pod,
    nodes_list: &[&Node],
    storage: &Storage<'_>,
    usage: &HashMap<String, NodeUsage>,
    cluster: &Cluster<'_>,
) -> Decision {
    if nodes_list.is_empty() {
        return Decision::Unschedulable(NO_NODES.into());
    }
    let claims = match volume_binding::prefilter(pod, storage) {
        Ok(c) => c,
        Err(reason) => {
            let post = preempt::not_helpful(pod, nodes_list.len());
            return Decision::Unschedulable(fit_error(
                nodes_list.len(),
                Some(&reason),
                &BTreeMap::new(),
                Some(&post),
            ));
        }
    };
    let prepared = Prepared::new(pod, claims, cluster);
    let empty = NodeUsage::default();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut fitting: Vec<(&Node, NodeVolumes)> = Vec::new();
    let mut unfit: Vec<(&Node, Unfit)> = Vec::new();
    for node in nodes_list {
        let name = node.metadata.name.as_deref().unwrap_or("");
        let used = usage.get(name).unwrap_or(&empty);
        match prepared.filter(pod, node, used, storage) {
            Ok(plan) => fitting.push((node, plan)),
            Err(u) => {
                for r in &u.reasons {
                    *reasons.entry(r.clone()).or_default() += 1;
                }
                unfit.push((node, u));
            }
        }
    }
    if !fitting.is_empty() {
        let candidates: Vec<&Node> = fitting.iter().map(|(n, _)| *n).collect();
        let totals = score(pod, &candidates, usage, cluster);
        let pods_on = |n: &Node| {
            usage
                .get(n.metadata.name.as_deref().unwrap_or(""))
                .map_or(0, |u| u.pods)
        };
        let best = (0..fitting.len())
            .min_by(|&a, &b| {
                let (na, nb) = (fitting[a].0, fitting[b].0);
                totals[b]
                    .cmp(&totals[a])
                    .then(pods_on(na).cmp(&pods_on(nb)))
                    .then(na.metadata.name.cmp(&nb.metadata.name))
            })
            .unwrap_or(0);
        let (node, volumes) = fitting.swap_remove(best);
        return Decision::Assign {
            node: node.metadata.name.clone().unwrap_or_default(),
            volumes,
        };
    }
    let n = nodes_list.len();
    match preempt::find(pod, &unfit, &prepared, storage, usage, cluster) {
        preempt::Outcome::Nominate { node, victims } => Decision::Preempt {
            node,
            victims,
            message: fit_error(n, None, &reasons, None),
        },
        preempt::Outcome::Not(post) => {
            Decision::Unschedulable(fit_error(n, None, &reasons, Some(&post)))
        }
    }
}

/// Upstream's `DefaultNormalizeScore`: scaled to 0..100 of the largest,
/// or reversed (100 for none).
fn normalize(raw: &[i64], reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| {
            if max == 0 {
                if reverse { 100 } else { 0 }
            } else {
                let v = 100 * s / max;
                if reverse { 100 - v } else { v }
            }
        })
        .collect()
}

/// Upstream's defaults for a container that requests nothing: 100m CPU,
/// 200 MiB.
const NONZERO_CPU: i128 = 100;
const NONZERO_MEMORY: i128 = 200 * 1024 * 1024;

fn nonzero(pod: &Pod) -> (i128, i128) {
    let r = fit::pod_requests(pod);
    (
        if r.milli_cpu == 0 {
            NONZERO_CPU
        } else {
            r.milli_cpu
        },
        if r.memory() == 0 {
            NONZERO_MEMORY
        } else {
            r.memory()
        },
    )
}

/// NodeResourcesFit's LeastAllocated score: the share of CPU and memory
/// left after placing the pod, averaged.
fn least_allocated(pod: &Pod, node: &Node, cluster: &Cluster<'_>) -> i64 {
    let name = node.metadata.name.as_deref().unwrap_or("");
    let (mut cpu, mut mem) = nonzero(pod);
    for p in cluster.pods.iter().filter(|p| p.node == name) {
        let (c, m) = nonzero(p.pod);
        cpu += c;
        mem += m;
    }
    let alloc = fit::allocatable(node);
    let part = |req: i128, cap: i128| -> i128 {
        if cap <= 0 || req > cap {
            0
        } else {
            (cap - req) * 100 / cap
        }
    };
    ((part(cpu, alloc.milli_cpu) + part(mem, alloc.memory())) / 2) as i64
}

/// The weighted total of the default score plugins for each candidate.
fn score(
    pod: &Pod,
    candidates: &[&Node],
    _usage: &HashMap<String, NodeUsage>,
    cluster: &Cluster<'_>,
) -> Vec<i64> {
    let taints: Vec<i64> = candidates
        .iter()
        .map(|n| nodes::intolerable_preferred_taints(pod, n))
        .collect();
    let affinity: Vec<i64> = candidates
        .iter()
        .map(|n| nodes::preferred_affinity_weight(pod, n))
        .collect();
    let taints = normalize(&taints, true);
    let affinity = normalize(&affinity, false);
    let spread = spread::scores(pod, cluster, candidates, cluster.default_spread.as_ref());
    let interpod = interpod::scores(pod, cluster, candidates);
    (0..candidates.len())
        .map(|i| {
            3 * taints[i]
                + 2 * affinity[i]
                + 2 * spread[i]
                + 2 * interpod[i]
                + least_allocated(pod, candidates[i], cluster)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, node, pin, volume};

    fn pod(claims: &[&str]) -> Pod {
        crate::volumes::tests::pod(None, claims)
    }
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Taint};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
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
        decide(pod, &nodes, &storage, usage, &Cluster::new(&nodes, []))
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

    /// A pod from JSON bits: labels, spec extras, and where it runs.
    fn placed_pod(name: &str, labels: serde_json::Value, spec: serde_json::Value) -> Pod {
        let mut spec_v = serde_json::json!({"containers": [{"name": "c"}]});
        if let serde_json::Value::Object(m) = spec {
            for (k, v) in m {
                spec_v[k] = v;
            }
        }
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels},
            "spec": spec_v,
        }))
        .unwrap()
    }

    fn zoned(name: &str, zone: &str) -> Node {
        let mut n = node(name);
        n.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("topology.kubernetes.io/zone".into(), zone.into());
        n
    }

    /// Decides with `placed` pods (`(pod, node)`) on the nodes.
    fn decide_among(pod: &Pod, nodes: &[Node], placed: &[(Pod, &str)]) -> Decision {
        let mut usage: HashMap<String, NodeUsage> = HashMap::new();
        for (p, n) in placed {
            usage
                .entry(n.to_string())
                .or_default()
                .add(&fit::Footprint::of(p));
        }
        decide_with(pod, nodes, placed, &usage, |_| {})
    }

    fn decide_with(
        pod: &Pod,
        nodes: &[Node],
        placed: &[(Pod, &str)],
        usage: &HashMap<String, NodeUsage>,
        tweak: impl FnOnce(&mut Cluster<'_>),
    ) -> Decision {
        let reserved = HashSet::new();
        let storage = Storage {
            claims: HashMap::new(),
            volumes: &[],
            classes: HashMap::new(),
            reserved: &reserved,
        };
        let node_refs: Vec<&Node> = nodes.iter().collect();
        let mut cluster = Cluster::new(&node_refs, placed.iter().map(|(p, n)| (p, *n)));
        tweak(&mut cluster);
        decide(pod, &node_refs, &storage, usage, &cluster)
    }

    fn anti(key: &str, app: &str) -> serde_json::Value {
        serde_json::json!({"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": app}},
                "topologyKey": key}]}}})
    }

    fn assigned(d: &Decision) -> Option<&str> {
        match d {
            Decision::Assign { node, .. } => Some(node),
            _ => None,
        }
    }

    #[test]
    fn required_anti_affinity_keeps_a_set_one_per_node() {
        let web = serde_json::json!({"app": "web"});
        let web0 = placed_pod("web-0", web.clone(), anti("kubernetes.io/hostname", "web"));
        let web1 = placed_pod("web-1", web.clone(), anti("kubernetes.io/hostname", "web"));
        let d = decide_among(&web1, &[node("a")], &[(web0.clone(), "a")]);
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()
            )
        );
        let d = decide_among(&web1, &[node("a"), node("b")], &[(web0.clone(), "a")]);
        assert_eq!(assigned(&d), Some("b"));
        // The existing pod's anti-affinity repels a pod without any rule.
        let plain = placed_pod("other", web, serde_json::json!({}));
        let d = decide_among(&plain, &[node("a")], &[(web0, "a")]);
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()
            )
        );
    }

    #[test]
    fn anti_affinity_by_zone_and_other_namespaces() {
        let web = serde_json::json!({"app": "web"});
        let p = placed_pod(
            "new",
            web.clone(),
            anti("topology.kubernetes.io/zone", "web"),
        );
        let nodes = [zoned("a", "z1"), zoned("b", "z1"), zoned("c", "z2")];
        let d = decide_among(
            &p,
            &nodes,
            &[(placed_pod("old", web.clone(), serde_json::json!({})), "a")],
        );
        assert_eq!(assigned(&d), Some("c"));
        // A matching pod in another namespace does not count by default...
        let mut elsewhere = placed_pod("old", web.clone(), serde_json::json!({}));
        elsewhere.metadata.namespace = Some("other".into());
        let one = [zoned("a", "z1")];
        let d = decide_among(&p, &one, &[(elsewhere.clone(), "a")]);
        assert_eq!(assigned(&d), Some("a"));
        // ...but does when the term's namespaceSelector selects it.
        let mut wide = p.clone();
        wide.spec.as_mut().unwrap().affinity = serde_json::from_value(serde_json::json!({
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "web"}},
                "namespaceSelector": {},
                "topologyKey": "topology.kubernetes.io/zone"}]}}))
        .unwrap();
        let d = decide_among(&wide, &one, &[(elsewhere, "a")]);
        assert!(matches!(d, Decision::Unschedulable(_)), "{d:?}");
    }

    #[test]
    fn required_affinity_follows_its_pods_except_for_the_first() {
        let cache = serde_json::json!({"app": "cache"});
        let with = |app: &str| {
            serde_json::json!({"affinity": {"podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"app": app}},
                    "topologyKey": "kubernetes.io/hostname"}]}}})
        };
        let nodes = [node("a"), node("b"), node("c")];
        // The first of a group that wants to be together goes anywhere.
        let first = placed_pod("c0", cache.clone(), with("cache"));
        assert!(assigned(&decide_among(&first, &nodes, &[])).is_some());
        // The next joins it.
        let second = placed_pod("c1", cache.clone(), with("cache"));
        let d = decide_among(&second, &nodes, &[(first, "b")]);
        assert_eq!(assigned(&d), Some("b"));
        // A pod that wants pods that do not exist (and is not one) waits.
        let lonely = placed_pod("x", serde_json::json!({"app": "x"}), with("db"));
        assert_eq!(
            decide_among(&lonely, &nodes[..1], &[]),
            Decision::Unschedulable(
                "0/1 nodes are available: 1 node(s) didn't match pod affinity rules. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()
            )
        );
    }

    #[test]
    fn preferred_anti_affinity_spreads_but_never_refuses() {
        let web = serde_json::json!({"app": "web"});
        let soft = serde_json::json!({"affinity": {"podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
                "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                    "topologyKey": "kubernetes.io/hostname"}}]}}});
        let p = placed_pod("web-1", web.clone(), soft.clone());
        let old = placed_pod("web-0", web, soft);
        // "a" would win the name tie; the preference sends it to "b".
        let d = decide_among(&p, &[node("a"), node("b")], &[(old.clone(), "a")]);
        assert_eq!(assigned(&d), Some("b"));
        let d = decide_among(&p, &[node("a")], &[(old, "a")]);
        assert_eq!(assigned(&d), Some("a"));
    }

    fn spread_spec(key: &str, skew: i32, when: &str) -> serde_json::Value {
        serde_json::json!({"topologySpreadConstraints": [{
            "maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}}]})
    }

    #[test]
    fn topology_spread_do_not_schedule_bounds_the_skew() {
        let web = serde_json::json!({"app": "web"});
        let spec = spread_spec("topology.kubernetes.io/zone", 1, "DoNotSchedule");
        let nodes = [zoned("a", "z1"), zoned("b", "z2")];
        let on_a = [(placed_pod("w0", web.clone(), serde_json::json!({})), "a")];
        let p = placed_pod("w1", web.clone(), spec.clone());
        assert_eq!(assigned(&decide_among(&p, &nodes, &on_a)), Some("b"));
        assert_eq!(
            decide_among(&p, &nodes[..1], &on_a),
            Decision::Assign {
                node: "a".into(),
                volumes: NodeVolumes::default()
            },
            "one domain: no skew"
        );
        // z2 exists but only "a" can take the pod (b is cordoned).
        let mut cordoned = nodes.clone();
        cordoned[1].spec.as_mut().unwrap().unschedulable = Some(true);
        assert_eq!(
            decide_among(&p, &cordoned, &on_a),
            Decision::Unschedulable(
                "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.".into()
            )
        );
        // A node without the key.
        assert_eq!(
            decide_among(&p, &[node("plain")], &[]),
            Decision::Unschedulable(
                "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()
            )
        );
        // ScheduleAnyway never refuses.
        let soft = placed_pod(
            "w1",
            web,
            spread_spec("topology.kubernetes.io/zone", 1, "ScheduleAnyway"),
        );
        assert_eq!(assigned(&decide_among(&soft, &cordoned, &on_a)), Some("a"));
    }

    #[test]
    fn only_nodes_the_pod_may_go_to_count_as_domains() {
        let web = serde_json::json!({"app": "web"});
        let mut spec = spread_spec("topology.kubernetes.io/zone", 1, "DoNotSchedule");
        spec["nodeSelector"] = serde_json::json!({"pool": "main"});
        let p = placed_pod("w1", web.clone(), spec.clone());
        let mut a = zoned("a", "z1");
        a.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("pool".into(), "main".into());
        let b = zoned("b", "z2");
        let placed = [(placed_pod("w0", web, serde_json::json!({})), "a")];
        // z2's node is not one the pod may use (nodeAffinityPolicy Honor):
        // z1 is the only domain, so a second pod there is no skew.
        assert_eq!(
            assigned(&decide_among(&p, &[a.clone(), b.clone()], &placed)),
            Some("a")
        );
        // With nodeAffinityPolicy Ignore, the empty z2 counts.
        let mut ignore = p.clone();
        ignore
            .spec
            .as_mut()
            .unwrap()
            .topology_spread_constraints
            .as_mut()
            .unwrap()[0]
            .node_affinity_policy = Some("Ignore".into());
        let d = decide_among(&ignore, &[a, b], &placed);
        assert!(
            matches!(d, Decision::Unschedulable(ref m) if m.contains("1 node(s) didn't match pod topology spread constraints.")),
            "{d:?}"
        );
    }

    #[test]
    fn min_domains_counts_missing_domains_as_empty() {
        let web = serde_json::json!({"app": "web"});
        let mut spec = spread_spec("kubernetes.io/hostname", 1, "DoNotSchedule");
        spec["topologySpreadConstraints"][0]["minDomains"] = serde_json::json!(3);
        let p = placed_pod("w2", web.clone(), spec);
        let placed = [
            (placed_pod("w0", web.clone(), serde_json::json!({})), "a"),
            (placed_pod("w1", web, serde_json::json!({})), "b"),
        ];
        // Two domains of one pod each, fewer than 3: the minimum is 0,
        // so no node takes a second pod.
        let d = decide_among(&p, &[node("a"), node("b")], &placed);
        assert!(
            matches!(d, Decision::Unschedulable(ref m) if m.contains("2 node(s) didn't match pod topology spread constraints")),
            "{d:?}"
        );
    }

    #[test]
    fn a_set_spreads_over_nodes_by_default() {
        let web = serde_json::json!({"app": "web"});
        let other = serde_json::json!({"app": "other"});
        let nodes = [node("a"), node("b")];
        // "b" is busier with pods of something else: the least-allocated
        // score and the pod count both favour "a".
        let placed = [
            (placed_pod("web-0", web.clone(), serde_json::json!({})), "a"),
            (placed_pod("x0", other.clone(), serde_json::json!({})), "b"),
            (placed_pod("x1", other.clone(), serde_json::json!({})), "b"),
            (placed_pod("x2", other, serde_json::json!({})), "b"),
        ];
        let p = placed_pod("web-1", web, serde_json::json!({}));
        assert_eq!(assigned(&decide_among(&p, &nodes, &placed)), Some("a"));
        // With the set's selector, the system default spreading wins.
        let sel: LabelSelector =
            serde_json::from_value(serde_json::json!({"matchLabels": {"app": "web"}})).unwrap();
        let mut usage: HashMap<String, NodeUsage> = HashMap::new();
        for (q, n) in &placed {
            usage
                .entry(n.to_string())
                .or_default()
                .add(&fit::Footprint::of(q));
        }
        let d = decide_with(&p, &nodes, &placed, &usage, |c| {
            c.default_spread = Some(sel)
        });
        assert_eq!(assigned(&d), Some("b"));
    }

    #[test]
    fn the_default_selector_joins_services_and_sets_that_select_the_pod() {
        let p = placed_pod(
            "web-0",
            serde_json::json!({"app": "web", "tier": "db"}),
            serde_json::json!({}),
        );
        let svc: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let other: BTreeMap<String, String> = [("app".to_string(), "api".to_string())].into();
        let set: LabelSelector =
            serde_json::from_value(serde_json::json!({"matchLabels": {"tier": "db"}})).unwrap();
        let sel = spread::default_selector(&p, &[&svc, &other], &[&set]).unwrap();
        assert_eq!(
            sel.match_labels.unwrap(),
            BTreeMap::from([("app".into(), "web".into()), ("tier".into(), "db".into())])
        );
        assert_eq!(spread::default_selector(&p, &[&other], &[]), None);
    }

    fn prio(mut p: Pod, priority: i32, cpu: &str) -> Pod {
        let spec = p.spec.as_mut().unwrap();
        spec.priority = Some(priority);
        spec.containers[0].resources =
            Some(serde_json::from_value(serde_json::json!({"requests": {"cpu": cpu}})).unwrap());
        p
    }

    #[test]
    fn preemption_evicts_the_fewest_lowest_priority_pods() {
        let none = serde_json::json!({});
        let low1 = prio(
            placed_pod("low1", serde_json::json!({"app": "l"}), none.clone()),
            0,
            "1",
        );
        let low2 = prio(
            placed_pod("low2", serde_json::json!({"app": "l"}), none.clone()),
            0,
            "2",
        );
        let high = prio(placed_pod("high", none.clone(), none.clone()), 2000, "1");
        let placed = [(low1, "a"), (low2, "a"), (high, "a")];
        // 4 of 4 CPUs taken; the newcomer needs 2: evicting low2 suffices.
        let p = prio(placed_pod("new", none.clone(), none.clone()), 1000, "2");
        let d = decide_among(&p, &[node("a")], &placed);
        assert_eq!(
            d,
            Decision::Preempt {
                node: "a".into(),
                victims: vec![Victim {
                    namespace: "default".into(),
                    name: "low2".into(),
                    uid: "low2".into()
                }],
                message: "0/1 nodes are available: 1 Insufficient cpu.".into(),
            }
        );
        // Equal priority is no victim.
        let p = prio(placed_pod("new", none.clone(), none.clone()), 0, "2");
        assert_eq!(
            decide_among(&p, &[node("a")], &placed),
            Decision::Unschedulable("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into())
        );
        // preemptionPolicy: Never.
        let mut p = prio(placed_pod("new", none.clone(), none), 1000, "2");
        p.spec.as_mut().unwrap().preemption_policy = Some("Never".into());
        assert_eq!(
            decide_among(&p, &[node("a")], &placed),
            Decision::Unschedulable("0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.".into())
        );
    }

    #[test]
    fn preemption_spares_pods_a_budget_protects_when_it_can() {
        let none = serde_json::json!({});
        let guarded = prio(
            placed_pod("guarded", serde_json::json!({"app": "db"}), none.clone()),
            0,
            "2",
        );
        let free = prio(
            placed_pod("free", serde_json::json!({"app": "batch"}), none.clone()),
            0,
            "2",
        );
        let placed = [(guarded, "a"), (free, "b")];
        let p = prio(placed_pod("new", none.clone(), none), 1000, "3");
        let pdb: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1,
                "expectedPods": 1, "observedGeneration": 1}}))
        .unwrap();
        let mut usage: HashMap<String, NodeUsage> = HashMap::new();
        for (pod, n) in &placed {
            usage
                .entry(n.to_string())
                .or_default()
                .add(&fit::Footprint::of(pod));
        }
        // Node "a" comes first, but evicting there breaks the budget.
        let d = decide_with(&p, &[node("a"), node("b")], &placed, &usage, |c| {
            c.budgets = vec![Budget::of(&pdb)]
        });
        assert!(
            matches!(d, Decision::Preempt { ref node, .. } if node == "b"),
            "{d:?}"
        );
        // With only "a", the budget gives way.
        let d = decide_with(&p, &[node("a")], &placed[..1], &usage, |c| {
            c.budgets = vec![Budget::of(&pdb)]
        });
        assert!(
            matches!(d, Decision::Preempt { ref victims, .. } if victims[0].name == "guarded"),
            "{d:?}"
        );
    }

    #[test]
    fn preemption_can_clear_an_anti_affinity_conflict() {
        let web = serde_json::json!({"app": "web"});
        let old = placed_pod("old", web.clone(), serde_json::json!({}));
        let mut p = placed_pod("new", web, anti("kubernetes.io/hostname", "web"));
        p.spec.as_mut().unwrap().priority = Some(10);
        let d = decide_among(&p, &[node("a")], &[(old, "a")]);
        assert!(
            matches!(d, Decision::Preempt { ref victims, .. } if victims[0].name == "old"),
            "{d:?}"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Nodes n0.. in zones, pods with an app label among three, on
        /// random nodes.
        fn world() -> impl Strategy<Value = (Vec<u8>, Vec<(u8, u8)>)> {
            (
                proptest::collection::vec(0u8..3, 1..5),
                proptest::collection::vec((0u8..3, 0u8..5), 0..10),
            )
        }

        fn build(
            zones: &[u8],
            pods: &[(u8, u8)],
            spec: serde_json::Value,
        ) -> (Vec<Node>, Vec<(Pod, String)>) {
            let nodes: Vec<Node> = zones
                .iter()
                .enumerate()
                .map(|(i, z)| zoned(&format!("n{i}"), &format!("z{z}")))
                .collect();
            let pods = pods
                .iter()
                .enumerate()
                .map(|(i, (app, n))| {
                    let node = format!("n{}", *n as usize % zones.len());
                    (
                        placed_pod(
                            &format!("p{i}"),
                            serde_json::json!({"app": format!("a{app}")}),
                            spec.clone(),
                        ),
                        node,
                    )
                })
                .collect();
            (nodes, pods)
        }

        fn key(zone: bool) -> &'static str {
            if zone {
                "topology.kubernetes.io/zone"
            } else {
                "kubernetes.io/hostname"
            }
        }

        proptest! {
            /// A placement never puts a pod in a domain holding a pod its
            /// required anti-affinity names, nor next to a pod whose own
            /// anti-affinity names it.
            #[test]
            fn placements_respect_required_anti_affinity(
                (zones, pods) in world(), app in 0u8..3, zone in any::<bool>(), existing_anti in any::<bool>(),
            ) {
                let k = key(zone);
                let their = if existing_anti { anti(k, "a0") } else { serde_json::json!({}) };
                let (nodes, placed) = build(&zones, &pods, their);
                let placed: Vec<(Pod, &str)> = placed.iter().map(|(p, n)| (p.clone(), n.as_str())).collect();
                let p = placed_pod("new", serde_json::json!({"app": format!("a{app}")}), anti(k, &format!("a{app}")));
                let d = decide_among(&p, &nodes, &placed);
                if let Some(chosen) = assigned(&d) {
                    let domain = |n: &str| nodes.iter().find(|x| x.metadata.name.as_deref() == Some(n)).unwrap().metadata.labels.as_ref().unwrap()[k].clone();
                    let mine = domain(chosen);
                    for (q, n) in &placed {
                        if domain(n) != mine { continue; }
                        let qa = &q.metadata.labels.as_ref().unwrap()["app"];
                        prop_assert_ne!(qa, &format!("a{app}"));
                        if existing_anti {
                            prop_assert_ne!(format!("a{app}"), "a0");
                        }
                    }
                }
            }

            /// Under DoNotSchedule, the chosen domain's count after the
            /// placement exceeds the smallest count by at most maxSkew.
            #[test]
            fn placements_respect_max_skew(
                (zones, pods) in world(), skew in 1i32..3, zone in any::<bool>(),
            ) {
                let k = key(zone);
                let (nodes, placed) = build(&zones, &pods, serde_json::json!({}));
                let placed: Vec<(Pod, &str)> = placed.iter().map(|(p, n)| (p.clone(), n.as_str())).collect();
                let spec = serde_json::json!({"topologySpreadConstraints": [{
                    "maxSkew": skew, "topologyKey": k, "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "a0"}}}]});
                let p = placed_pod("new", serde_json::json!({"app": "a0"}), spec);
                let d = decide_among(&p, &nodes, &placed);
                if let Some(chosen) = assigned(&d) {
                    let domain = |n: &str| nodes.iter().find(|x| x.metadata.name.as_deref() == Some(n)).unwrap().metadata.labels.as_ref().unwrap()[k].clone();
                    let mut counts: HashMap<String, i64> = nodes.iter().map(|n| (domain(n.metadata.name.as_deref().unwrap()), 0)).collect();
                    for (q, n) in &placed {
                        if q.metadata.labels.as_ref().unwrap()["app"] == "a0" {
                            *counts.get_mut(&domain(n)).unwrap() += 1;
                        }
                    }
                    *counts.get_mut(&domain(chosen)).unwrap() += 1;
                    let min = *counts.values().min().unwrap();
                    prop_assert!(counts[&domain(chosen)] - min <= i64::from(skew));
                }
            }

            /// Preemption only names pods of lower priority on its node,
            /// and evicting them lets the pod fit.
            #[test]
            fn preemption_victims_are_lower_priority_and_enough(
                cpus in proptest::collection::vec((0u8..4, 0i32..3), 1..6), want in 1u8..5, mine in 0i32..4,
            ) {
                let none = serde_json::json!({});
                let placed: Vec<(Pod, &str)> = cpus.iter().enumerate().map(|(i, (c, pr))| {
                    (prio(placed_pod(&format!("p{i}"), none.clone(), none.clone()), *pr, &c.to_string()), "a")
                }).collect();
                let p = prio(placed_pod("new", none.clone(), none.clone()), mine, &want.to_string());
                let d = decide_among(&p, &[node("a")], &placed);
                if let Decision::Preempt { victims, .. } = &d {
                    prop_assert!(!victims.is_empty());
                    let rest: Vec<(Pod, &str)> = placed.iter().filter(|(q, _)| {
                        let v = victims.iter().any(|v| Some(&v.name) == q.metadata.name.as_ref());
                        if v { assert!(q.spec.as_ref().unwrap().priority.unwrap() < mine); }
                        !v
                    }).cloned().collect();
                    prop_assert!(assigned(&decide_among(&p, &[node("a")], &rest)).is_some());
                }
            }
        }
    }
}
