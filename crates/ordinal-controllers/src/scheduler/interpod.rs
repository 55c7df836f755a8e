//! Upstream's InterPodAffinity plugin: where a pod may go given the pods
//! already placed, and which nodes it prefers.
//!
//! A term matches a pod when the pod is in one of the term's namespaces
//! (`namespaces`, the namespaces `namespaceSelector` selects, or the
//! term owner's own namespace when neither is given) and its labels match
//! `labelSelector` (none matches nothing), with `matchLabelKeys` and
//! `mismatchLabelKeys` added from the owner's labels as `In` / `NotIn`.
//!
//! Filter, in upstream's order:
//! - the incoming pod's required affinity: for every term, the node's
//!   domain of the term's `topologyKey` holds a pod matching *all* terms —
//!   unless no pod anywhere matches them and the pod matches its own terms
//!   (the first pod of a group that wants to be together);
//! - its required anti-affinity: no domain of the node holds a pod
//!   matching any term;
//! - existing pods' required anti-affinity: no pod in a domain of the
//!   node has a term the incoming pod matches.
//!
//! Score: the preferred terms of both sides (and existing pods' required
//! affinity, at weight 1), summed per topology domain, normalised to
//! 0..100 over the nodes that passed the filters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use ordinal_core::labels::Selector;

use super::decide::Cluster;

/// The incoming pod's required affinity is not met on the node.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// The incoming pod's required anti-affinity is not met on the node.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// A pod in the node's domain has anti-affinity against the incoming pod.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

fn labels(pod: &Pod) -> &BTreeMap<String, String> {
    pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
}

fn node_labels(node: &Node) -> &BTreeMap<String, String> {
    node.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
}

/// One affinity term, compiled against its owner pod.
#[derive(Debug, Clone)]
pub struct Term {
    namespaces: BTreeSet<String>,
    /// `None`: no namespace selector (selects none).
    namespace_selector: Option<Selector>,
    /// `None`: no (or a malformed) label selector: matches no pod.
    selector: Option<Selector>,
    topology_key: String,
    weight: i64,
}

impl Term {
    /// Compiles `term` of the pod `owner`.
    pub fn new(owner: &Pod, term: &PodAffinityTerm, weight: i64) -> Term {
        let own_ns = owner.metadata.namespace.clone().unwrap_or_default();
        let mut namespaces: BTreeSet<String> = term.namespaces.iter().flatten().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(own_ns);
        }
        let namespace_selector = term
            .namespace_selector
            .as_ref()
            .and_then(|s| Selector::compile(s).ok());
        let selector = term.label_selector.as_ref().and_then(|s| {
            let mut s: LabelSelector = s.clone();
            let add = |s: &mut LabelSelector, keys: Option<&Vec<String>>, op: &str| {
                for key in keys.into_iter().flatten() {
                    if let Some(v) = labels(owner).get(key) {
                        s.match_expressions.get_or_insert_default().push(
                            LabelSelectorRequirement {
                                key: key.clone(),
                                operator: op.into(),
                                values: Some(vec![v.clone()]),
                            },
                        );
                    }
                }
            };
            add(&mut s, term.match_label_keys.as_ref(), "In");
            add(&mut s, term.mismatch_label_keys.as_ref(), "NotIn");
            Selector::compile(&s).ok()
        });
        Term {
            namespaces,
            namespace_selector,
            selector,
            topology_key: term.topology_key.clone(),
            weight,
        }
    }

    /// Whether `pod` matches the term (namespace and labels).
    pub fn matches(&self, pod: &Pod, cluster: &Cluster<'_>) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let in_namespace = self.namespaces.contains(ns)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(cluster.namespace_labels.get(ns)));
        in_namespace
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(Some(labels(pod))))
    }

    /// The node's domain for this term: `(key, value)`, if it has the key.
    fn domain<'n>(&'n self, node: &'n Node) -> Option<(&'n str, &'n str)> {
        node_labels(node)
            .get(&self.topology_key)
            .map(|v| (self.topology_key.as_str(), v.as_str()))
    }
}

/// The four lists of a pod's affinity terms.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    /// Required pod affinity.
    pub required_affinity: Vec<Term>,
    /// Required pod anti-affinity.
    pub required_anti: Vec<Term>,
    /// Preferred pod affinity (with weights).
    pub preferred_affinity: Vec<Term>,
    /// Preferred pod anti-affinity (with weights).
    pub preferred_anti: Vec<Term>,
}

impl Terms {
    /// The terms of `pod`'s affinity.
    pub fn of(pod: &Pod) -> Terms {
        let Some(a) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
            return Terms::default();
        };
        let required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<Term> {
            terms
                .into_iter()
                .flatten()
                .map(|t| Term::new(pod, t, 1))
                .collect()
        };
        let aff = a.pod_affinity.as_ref();
        let anti = a.pod_anti_affinity.as_ref();
        Terms {
            required_affinity: required(aff.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti: required(anti.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_affinity: aff
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|w| Term::new(pod, &w.pod_affinity_term, w.weight.into()))
                .collect(),
            preferred_anti: anti
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|w| Term::new(pod, &w.pod_affinity_term, w.weight.into()))
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti.is_empty()
    }
}

type Counts = HashMap<(String, String), i64>;

fn bump(counts: &mut Counts, domain: Option<(&str, &str)>, by: i64) {
    if let Some((k, v)) = domain {
        *counts.entry((k.to_string(), v.to_string())).or_default() += by;
    }
}

/// What the filter needs, computed once per decision (upstream's
/// PreFilter state).
pub struct Filter {
    terms: Terms,
    self_matches_all: bool,
    affinity_counts: Counts,
    anti_counts: Counts,
    existing_anti_counts: Counts,
}

impl Filter {
    /// Counts, over every placed pod, the domains that matter to `pod`.
    pub fn new(pod: &Pod, cluster: &Cluster<'_>) -> Filter {
        let terms = Terms::of(pod);
        let mut affinity_counts = Counts::new();
        let mut anti_counts = Counts::new();
        let mut existing_anti_counts = Counts::new();
        for placed in &cluster.pods {
            let Some(node) = cluster.node(placed.node) else {
                continue;
            };
            if !terms.required_affinity.is_empty()
                && terms
                    .required_affinity
                    .iter()
                    .all(|t| t.matches(placed.pod, cluster))
            {
                for t in &terms.required_affinity {
                    bump(&mut affinity_counts, t.domain(node), 1);
                }
            }
            for t in &terms.required_anti {
                if t.matches(placed.pod, cluster) {
                    bump(&mut anti_counts, t.domain(node), 1);
                }
            }
            for t in &placed.terms.required_anti {
                if t.matches(pod, cluster) {
                    bump(&mut existing_anti_counts, t.domain(node), 1);
                }
            }
        }
        let self_matches_all = terms
            .required_affinity
            .iter()
            .all(|t| t.matches(pod, cluster));
        Filter {
            terms,
            self_matches_all,
            affinity_counts,
            anti_counts,
            existing_anti_counts,
        }
    }

    /// `Err((reason, resolvable))` when the node does not take the pod;
    /// resolvable reasons are those evicting pods could fix.
    pub fn check(&self, node: &Node) -> Result<(), (&'static str, bool)> {
        let mut pods_exist = true;
        for t in &self.terms.required_affinity {
            match t.domain(node) {
                None => return Err((REASON_AFFINITY, false)),
                Some((k, v)) => {
                    if self
                        .affinity_counts
                        .get(&(k.to_string(), v.to_string()))
                        .copied()
                        .unwrap_or(0)
                        <= 0
                    {
                        pods_exist = false;
                    }
                }
            }
        }
        // The first pod of a group that wants to be together: no pod
        // anywhere matches its terms, and it matches them itself.
        let first_of_group = self.affinity_counts.is_empty() && self.self_matches_all;
        if !pods_exist && !first_of_group {
            return Err((REASON_AFFINITY, false));
        }
        for t in &self.terms.required_anti {
            if let Some((k, v)) = t.domain(node)
                && self
                    .anti_counts
                    .get(&(k.to_string(), v.to_string()))
                    .is_some_and(|n| *n > 0)
            {
                return Err((REASON_ANTI_AFFINITY, true));
            }
        }
        for (k, v) in node_labels(node) {
            if self
                .existing_anti_counts
                .get(&(k.clone(), v.clone()))
                .is_some_and(|n| *n > 0)
            {
                return Err((REASON_EXISTING_ANTI_AFFINITY, true));
            }
        }
        Ok(())
    }
}

/// The preferred-affinity score of each candidate node, 0..100 (upstream's
/// Score and NormalizeScore).
pub fn scores(pod: &Pod, cluster: &Cluster<'_>, candidates: &[&Node]) -> Vec<i64> {
    let terms = Terms::of(pod);
    let mut topo = Counts::new();
    for placed in &cluster.pods {
        if terms.preferred_affinity.is_empty()
            && terms.preferred_anti.is_empty()
            && placed.terms.is_empty()
        {
            continue;
        }
        let Some(node) = cluster.node(placed.node) else {
            continue;
        };
        for t in &terms.preferred_affinity {
            if t.matches(placed.pod, cluster) {
                bump(&mut topo, t.domain(node), t.weight);
            }
        }
        for t in &terms.preferred_anti {
            if t.matches(placed.pod, cluster) {
                bump(&mut topo, t.domain(node), -t.weight);
            }
        }
        // Upstream's hardPodAffinityWeight (1).
        for t in &placed.terms.required_affinity {
            if t.matches(pod, cluster) {
                bump(&mut topo, t.domain(node), 1);
            }
        }
        for t in &placed.terms.preferred_affinity {
            if t.matches(pod, cluster) {
                bump(&mut topo, t.domain(node), t.weight);
            }
        }
        for t in &placed.terms.preferred_anti {
            if t.matches(pod, cluster) {
                bump(&mut topo, t.domain(node), -t.weight);
            }
        }
    }
    let raw: Vec<i64> = candidates
        .iter()
        .map(|n| {
            node_labels(n)
                .iter()
                .map(|(k, v)| topo.get(&(k.clone(), v.clone())).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let (min, max) = (
        raw.iter().copied().min().unwrap_or(0),
        raw.iter().copied().max().unwrap_or(0),
    );
    raw.iter()
        .map(|s| {
            if max > min {
                100 * (s - min) / (max - min)
            } else {
                0
            }
        })
        .collect()
}
