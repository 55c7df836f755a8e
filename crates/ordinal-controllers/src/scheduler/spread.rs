//! Upstream's PodTopologySpread plugin: `topologySpreadConstraints`.
//!
//! A constraint counts, per domain (value of `topologyKey`), the pods in
//! the incoming pod's namespace that match its `labelSelector` (with
//! `matchLabelKeys` added from the pod's labels) and are not being
//! deleted, on the nodes that count: those with every required key that
//! match the pod's node selector and required node affinity
//! (`nodeAffinityPolicy: Honor`, the default) and, with
//! `nodeTaintsPolicy: Honor` (default `Ignore`), whose taints it
//! tolerates.
//!
//! - `whenUnsatisfiable: DoNotSchedule` filters: placing the pod in the
//!   node's domain must leave `count + self - min <= maxSkew`, where `min`
//!   is the smallest count of any domain (0 while fewer than `minDomains`
//!   domains exist); a node without the key is refused as unresolvable.
//! - `ScheduleAnyway` scores: fewer matching pods in the node's domain
//!   score higher. A pod without constraints gets upstream's system
//!   defaults (hostname, maxSkew 3; zone, maxSkew 5; both ScheduleAnyway)
//!   over the selector of the Services and StatefulSets that select it,
//!   so the pods of one set spread over nodes.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{Node, Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use ordinal_core::labels::Selector;

use super::decide::Cluster;
use super::nodes;

/// Placing the pod on the node would exceed a constraint's maxSkew.
pub const REASON_SKEW: &str = "node(s) didn't match pod topology spread constraints";
/// The node lacks a constraint's topology key.
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

fn node_labels(node: &Node) -> &BTreeMap<String, String> {
    node.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
}

/// One constraint, compiled.
#[derive(Debug, Clone)]
struct Constraint {
    max_skew: i64,
    key: String,
    /// `None`: no selector (matches no pod).
    selector: Option<Selector>,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    fn new(pod: &Pod, c: &TopologySpreadConstraint) -> Constraint {
        let selector = c.label_selector.as_ref().and_then(|s| {
            let mut s = s.clone();
            let labels = pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = labels.get(key) {
                    s.match_expressions
                        .get_or_insert_default()
                        .push(LabelSelectorRequirement {
                            key: key.clone(),
                            operator: "In".into(),
                            values: Some(vec![v.clone()]),
                        });
                }
            }
            Selector::compile(&s).ok()
        });
        Constraint {
            max_skew: c.max_skew.into(),
            key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1).into(),
            honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }

    /// Whether the node's pods count for this constraint.
    fn includes(&self, pod: &Pod, node: &Node) -> bool {
        (!self.honor_affinity || nodes::affinity_fits(pod, node))
            && (!self.honor_taints || nodes::taints_tolerated(pod, node))
    }

    fn matches(&self, pod: &Pod, namespace: &str) -> bool {
        pod.metadata.namespace.as_deref().unwrap_or("") == namespace
            && pod.metadata.deletion_timestamp.is_none()
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(pod.metadata.labels.as_ref()))
    }
}

fn constraints(pod: &Pod, unsatisfiable: &str) -> Vec<Constraint> {
    pod.spec
        .iter()
        .flat_map(|s| s.topology_spread_constraints.iter().flatten())
        .filter(|c| c.when_unsatisfiable == unsatisfiable)
        .map(|c| Constraint::new(pod, c))
        .collect()
}

fn has_keys(node: &Node, constraints: &[Constraint]) -> bool {
    let labels = node_labels(node);
    constraints.iter().all(|c| labels.contains_key(&c.key))
}

/// Matching pods per node name.
fn count_on(cluster: &Cluster<'_>, c: &Constraint, ns: &str) -> HashMap<String, i64> {
    let mut counts: HashMap<String, i64> = HashMap::new();
    for placed in &cluster.pods {
        if c.matches(placed.pod, ns) {
            *counts.entry(placed.node.to_string()).or_default() += 1;
        }
    }
    counts
}

/// The DoNotSchedule constraints with their domain counts (upstream's
/// PreFilter state).
pub struct Filter {
    constraints: Vec<(Constraint, HashMap<String, i64>, i64, i64)>,
}

impl Filter {
    /// Counts the domains of `pod`'s DoNotSchedule constraints over every
    /// node that counts.
    pub fn new(pod: &Pod, cluster: &Cluster<'_>) -> Filter {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let required = constraints(pod, "DoNotSchedule");
        let mut out = Vec::new();
        for c in &required {
            let per_node = count_on(cluster, c, ns);
            let mut domains: HashMap<String, i64> = HashMap::new();
            for node in cluster.nodes.values() {
                if !has_keys(node, &required) || !c.includes(pod, node) {
                    continue;
                }
                let value = node_labels(node)[&c.key].clone();
                let name = node.metadata.name.as_deref().unwrap_or("");
                *domains.entry(value).or_default() += per_node.get(name).copied().unwrap_or(0);
            }
            let min = if (domains.len() as i64) < c.min_domains {
                0
            } else {
                domains.values().copied().min().unwrap_or(i64::MAX / 4)
            };
            let self_match = i64::from(c.matches(pod, ns));
            out.push((c.clone(), domains, min, self_match));
        }
        Filter { constraints: out }
    }

    /// `Err((reason, resolvable))` when the node would break a constraint.
    pub fn check(&self, node: &Node) -> Result<(), (&'static str, bool)> {
        for (c, _, _, _) in &self.constraints {
            if !node_labels(node).contains_key(&c.key) {
                return Err((REASON_MISSING_LABEL, false));
            }
        }
        for (c, domains, min, self_match) in &self.constraints {
            let value = &node_labels(node)[&c.key];
            let count = domains.get(value).copied().unwrap_or(0);
            if count + self_match - min > c.max_skew {
                return Err((REASON_SKEW, true));
            }
        }
        Ok(())
    }
}

/// Upstream's `DefaultSelector`: the requirements of every Service and
/// StatefulSet in the pod's namespace that selects it, together; `None`
/// when nothing selects it.
pub fn default_selector(
    pod: &Pod,
    services: &[&BTreeMap<String, String>],
    sets: &[&LabelSelector],
) -> Option<LabelSelector> {
    let labels = pod.metadata.labels.as_ref();
    let mut merged = LabelSelector::default();
    for s in services {
        if s.is_empty()
            || !s
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            continue;
        }
        merged
            .match_labels
            .get_or_insert_default()
            .extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for s in sets {
        let Ok(sel) = Selector::compile(s) else {
            continue;
        };
        if *s == &LabelSelector::default() || !sel.matches(labels) {
            continue;
        }
        if let Some(ml) = &s.match_labels {
            merged
                .match_labels
                .get_or_insert_default()
                .extend(ml.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(me) = &s.match_expressions {
            merged
                .match_expressions
                .get_or_insert_default()
                .extend(me.iter().cloned());
        }
    }
    (merged != LabelSelector::default()).then_some(merged)
}

/// The ScheduleAnyway score of each candidate node, 0..100, fewer
/// matching pods in its domains scoring higher (upstream's PreScore,
/// Score and NormalizeScore).
pub fn scores(
    pod: &Pod,
    cluster: &Cluster<'_>,
    candidates: &[&Node],
    default: Option<&LabelSelector>,
) -> Vec<i64> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let has_own = pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty());
    let soft: Vec<Constraint> = if has_own {
        constraints(pod, "ScheduleAnyway")
    } else if let Some(sel) = default {
        [(HOSTNAME, 3), (ZONE, 5)]
            .into_iter()
            .map(|(key, skew)| Constraint {
                max_skew: skew,
                key: key.into(),
                selector: Selector::compile(sel).ok(),
                min_domains: 1,
                honor_affinity: true,
                honor_taints: false,
            })
            .collect()
    } else {
        vec![]
    };
    if soft.is_empty() {
        return vec![0; candidates.len()];
    }
    let require_all = has_own;
    let ignored: HashSet<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, n)| require_all && !has_keys(n, &soft))
        .map(|(i, _)| i)
        .collect();
    let per_node: Vec<HashMap<String, i64>> =
        soft.iter().map(|c| count_on(cluster, c, ns)).collect();
    // Domains of the candidates, counted over every node that counts.
    let mut domains: Vec<HashMap<String, i64>> = vec![HashMap::new(); soft.len()];
    for (i, n) in candidates.iter().enumerate() {
        if ignored.contains(&i) {
            continue;
        }
        for (ci, c) in soft.iter().enumerate() {
            if c.key == HOSTNAME {
                continue;
            }
            if let Some(v) = node_labels(n).get(&c.key) {
                domains[ci].entry(v.clone()).or_insert(0);
            }
        }
    }
    let weights: Vec<f64> = soft
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let size = if c.key == HOSTNAME {
                candidates.len() - ignored.len()
            } else {
                domains[ci].len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    for node in cluster.nodes.values() {
        if require_all && !has_keys(node, &soft) {
            continue;
        }
        let name = node.metadata.name.as_deref().unwrap_or("");
        for (ci, c) in soft.iter().enumerate() {
            if c.key == HOSTNAME || !c.includes(pod, node) {
                continue;
            }
            let Some(v) = node_labels(node).get(&c.key) else {
                continue;
            };
            if let Some(total) = domains[ci].get_mut(v) {
                *total += per_node[ci].get(name).copied().unwrap_or(0);
            }
        }
    }
    let raw: Vec<i64> = candidates
        .iter()
        .map(|n| {
            let name = n.metadata.name.as_deref().unwrap_or("");
            let mut score = 0.0;
            for (ci, c) in soft.iter().enumerate() {
                let Some(v) = node_labels(n).get(&c.key) else {
                    continue;
                };
                let count = if c.key == HOSTNAME {
                    per_node[ci].get(name).copied().unwrap_or(0)
                } else {
                    domains[ci].get(v).copied().unwrap_or(0)
                };
                score += count as f64 * weights[ci] + (c.max_skew - 1) as f64;
            }
            score.round() as i64
        })
        .collect();
    let kept = || {
        raw.iter()
            .enumerate()
            .filter(|(i, _)| !ignored.contains(i))
            .map(|(_, s)| *s)
    };
    let (min, max) = (kept().min().unwrap_or(0), kept().max().unwrap_or(0));
    raw.iter()
        .enumerate()
        .map(|(i, s)| {
            if ignored.contains(&i) {
                0
            } else if max == 0 {
                100
            } else {
                100 * (max + min - s) / max
            }
        })
        .collect()
}
