//! Upstream's DefaultPreemption, pure: when a pod fits no node, which
//! lower-priority pods to evict from which node so it fits.
//!
//! Only nodes that failed a filter eviction can fix (ports, resources,
//! anti-affinity, topology skew) are tried. On each, every pod of lower
//! priority is taken away; if the pod then fits, the pods are given back
//! one at a time, most important first (higher priority, then started
//! earlier), those whose eviction would break a PodDisruptionBudget
//! before the others, and each that still lets the pod fit stays. Among
//! the nodes with victims, the one with the fewest budget violations
//! wins, then the lowest highest victim priority, the smallest sum of
//! priorities, the fewest victims, and the first in order.
//!
//! A pod with `preemptionPolicy: Never` preempts nothing, nor does a pod
//! whose nominated node still has a lower-priority pod terminating
//! because of an earlier preemption.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use ordinal_core::fit::{Footprint, NodeUsage};
use ordinal_core::labels::Selector;

use super::decide::{Cluster, NO_VICTIMS, NOT_HELPFUL, Placed, Prepared, Unfit, histogram};
use super::volume_binding::Storage;

/// A pod preemption evicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its UID (the delete's precondition).
    pub uid: String,
}

/// A PodDisruptionBudget as preemption reads it.
#[derive(Debug, Clone)]
pub struct Budget {
    namespace: String,
    /// `None`: an empty or malformed selector, which matches no pod.
    selector: Option<Selector>,
    allowed: i64,
    disrupted: HashSet<String>,
}

impl Budget {
    /// The budget's namespace, selector and `status.disruptionsAllowed`.
    pub fn of(pdb: &PodDisruptionBudget) -> Budget {
        let selector = pdb
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .filter(|s| {
                s.match_labels.as_ref().is_some_and(|m| !m.is_empty())
                    || s.match_expressions.as_ref().is_some_and(|m| !m.is_empty())
            })
            .and_then(|s| Selector::compile(s).ok());
        let status = pdb.status.as_ref();
        Budget {
            namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
            selector,
            allowed: status.map_or(0, |s| s.disruptions_allowed.into()),
            disrupted: status
                .and_then(|s| s.disrupted_pods.as_ref())
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// What preemption found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Evict `victims` and nominate the pod to `node`.
    Nominate {
        /// The node.
        node: String,
        /// The pods to evict.
        victims: Vec<Victim>,
    },
    /// Nothing to do; the preemption sentence of the FitError.
    Not(String),
}

/// A pod's priority (`spec.priority`, 0 when unset).
pub fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn never(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never")
}

const NOT_ELIGIBLE_NEVER: &str = "preemption: not eligible due to preemptionPolicy=Never.";
const NOT_ELIGIBLE_TERMINATING: &str =
    "preemption: not eligible due to a terminating pod on the nominated node.";

/// The preemption sentence when no node could be helped by it (a failed
/// PreFilter).
pub(crate) fn not_helpful(pod: &Pod, nodes: usize) -> String {
    if never(pod) {
        return NOT_ELIGIBLE_NEVER.into();
    }
    format!("preemption: 0/{nodes} nodes are available: {nodes} {NOT_HELPFUL}.")
}

/// Deleted by an earlier preemption and not gone yet.
fn terminating_by_preemption(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.type_ == "DisruptionTarget"
                        && c.status == "True"
                        && c.reason.as_deref() == Some("PreemptionByScheduler")
                })
            })
}

fn start_time(pod: &Pod) -> Option<jiff::Timestamp> {
    pod.status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .or(pod.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

struct Candidate {
    node: String,
    victims: Vec<Victim>,
    priorities: Vec<i32>,
    violations: usize,
}

/// Looks for victims on the nodes that failed for reasons eviction could
/// fix (`unfit`: every node and why it failed).
pub(crate) fn find(
    pod: &Pod,
    unfit: &[(&Node, Unfit)],
    prepared: &Prepared<'_>,
    storage: &Storage<'_>,
    usage: &std::collections::HashMap<String, NodeUsage>,
    cluster: &Cluster<'_>,
) -> Outcome {
    if never(pod) {
        return Outcome::Not(NOT_ELIGIBLE_NEVER.into());
    }
    let mine = priority(pod);
    if let Some(nominated) = pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty())
    {
        let resolvable = unfit
            .iter()
            .find(|(n, _)| n.metadata.name.as_deref() == Some(nominated))
            .is_none_or(|(_, u)| u.resolvable);
        if resolvable
            && cluster.pods.iter().any(|p| {
                p.node == nominated && priority(p.pod) < mine && terminating_by_preemption(p.pod)
            })
        {
            return Outcome::Not(NOT_ELIGIBLE_TERMINATING.into());
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut candidates = Vec::new();
    let empty = NodeUsage::default();
    for (node, u) in unfit {
        if !u.resolvable {
            *counts.entry(NOT_HELPFUL.into()).or_default() += 1;
            continue;
        }
        let name = node.metadata.name.as_deref().unwrap_or("");
        let used = usage.get(name).unwrap_or(&empty);
        match victims_on(pod, node, used, prepared, storage, cluster) {
            Some(c) => candidates.push(c),
            None => *counts.entry(NO_VICTIMS.into()).or_default() += 1,
        }
    }
    let best = candidates.into_iter().min_by(|a, b| {
        let key = |c: &Candidate| {
            (
                c.violations,
                c.priorities.iter().copied().max().unwrap_or(i32::MIN),
                c.priorities
                    .iter()
                    .map(|p| i64::from(*p) + i64::from(i32::MAX) + 1)
                    .sum::<i64>(),
                c.victims.len(),
            )
        };
        key(a).cmp(&key(b))
    });
    match best {
        Some(c) => Outcome::Nominate {
            node: c.node,
            victims: c.victims,
        },
        None => Outcome::Not(format!(
            "preemption: 0/{} nodes are available: {}.",
            unfit.len(),
            histogram(&counts)
        )),
    }
}

/// Upstream's `selectVictimsOnNode`.
fn victims_on(
    pod: &Pod,
    node: &Node,
    used: &NodeUsage,
    prepared: &Prepared<'_>,
    storage: &Storage<'_>,
    cluster: &Cluster<'_>,
) -> Option<Candidate> {
    let name = node.metadata.name.as_deref().unwrap_or("");
    let mine = priority(pod);
    let mut potential: Vec<&Placed<'_>> = cluster
        .pods
        .iter()
        .filter(|p| p.node == name && priority(p.pod) < mine)
        .collect();
    if potential.is_empty() {
        return None;
    }
    let fits = |removed: &[&str], usage: &NodeUsage| {
        let view = cluster.without(removed);
        prepared
            .recount(pod, &view)
            .filter(pod, node, usage, storage)
            .is_ok()
    };
    let mut removed: Vec<&str> = potential.iter().map(|p| uid(p.pod)).collect();
    let mut left = used.clone();
    for p in &potential {
        left.remove(&Footprint::of(p.pod));
    }
    if !fits(&removed, &left) {
        return None;
    }
    // Most important first: higher priority, then started earlier.
    potential.sort_by(|a, b| {
        priority(b.pod)
            .cmp(&priority(a.pod))
            .then(start_time(a.pod).cmp(&start_time(b.pod)))
    });
    let (violating, others) = split_by_budget(&potential, &cluster.budgets);
    let mut victims = Vec::new();
    let mut priorities = Vec::new();
    let mut violations = 0;
    for (list, breaks) in [(violating, true), (others, false)] {
        for p in list {
            let id = uid(p.pod);
            removed.retain(|u| *u != id);
            let footprint = Footprint::of(p.pod);
            left.add(&footprint);
            if !fits(&removed, &left) {
                removed.push(id);
                left.remove(&footprint);
                victims.push(Victim {
                    namespace: p.pod.metadata.namespace.clone().unwrap_or_default(),
                    name: p.pod.metadata.name.clone().unwrap_or_default(),
                    uid: id.to_string(),
                });
                priorities.push(priority(p.pod));
                if breaks {
                    violations += 1;
                }
            }
        }
    }
    Some(Candidate {
        node: name.to_string(),
        victims,
        priorities,
        violations,
    })
}

/// Upstream's `filterPodsWithPDBViolation`: the pods whose eviction would
/// take a budget below zero, and the rest, each in the given order.
fn split_by_budget<'p, 'a>(
    pods: &[&'p Placed<'a>],
    budgets: &[Budget],
) -> (Vec<&'p Placed<'a>>, Vec<&'p Placed<'a>>) {
    let mut allowed: Vec<i64> = budgets.iter().map(|b| b.allowed).collect();
    let (mut violating, mut others) = (Vec::new(), Vec::new());
    for p in pods {
        let ns = p.pod.metadata.namespace.as_deref().unwrap_or("");
        let name = p.pod.metadata.name.as_deref().unwrap_or("");
        let labels = p.pod.metadata.labels.as_ref();
        let mut broken = false;
        if labels.is_some_and(|l| !l.is_empty()) {
            for (i, b) in budgets.iter().enumerate() {
                if b.namespace != ns
                    || !b.selector.as_ref().is_some_and(|s| s.matches(labels))
                    || b.disrupted.contains(name)
                {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    broken = true;
                }
            }
        }
        if broken {
            violating.push(*p);
        } else {
            others.push(*p);
        }
    }
    (violating, others)
}
