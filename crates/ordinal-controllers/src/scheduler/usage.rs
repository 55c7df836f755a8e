//! What each node's pods take, kept up to date from the pod cache's
//! changes instead of being added up again for every decision (upstream's
//! scheduler cache keeps its `NodeInfo`s the same way).
//!
//! A pod counts on a node while it is bound there and not finished
//! (Succeeded or Failed), whether or not it is being deleted: its
//! containers hold their resources until they stop. A pod the scheduler
//! has placed but whose binding the cache has not shown yet counts as
//! *assumed* on its node, so two decisions in a row do not both take the
//! same room.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use ordinal_core::fit::{Footprint, NodeUsage};

/// One pod's share of a node.
#[derive(Debug, Clone)]
struct Counted {
    node: String,
    footprint: Footprint,
    /// Placed by the scheduler, not yet seen bound.
    assumed: bool,
}

/// Per-node usage, by pod UID.
#[derive(Debug, Default)]
pub struct Ledger {
    pods: HashMap<String, Counted>,
    nodes: HashMap<String, NodeUsage>,
}

fn uid(pod: &Pod) -> Option<&str> {
    pod.metadata.uid.as_deref().filter(|u| !u.is_empty())
}

/// The node a pod holds room on, per the API.
fn bound_node(pod: &Pod) -> Option<&str> {
    let node = pod.spec.as_ref()?.node_name.as_deref()?;
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    (!node.is_empty() && !matches!(phase, Some("Succeeded" | "Failed"))).then_some(node)
}

impl Ledger {
    /// What the pods on `node` take (nothing when none are counted).
    #[cfg(test)]
    pub fn node(&self, node: &str) -> NodeUsage {
        self.nodes.get(node).cloned().unwrap_or_default()
    }

    /// Every node's usage.
    pub fn nodes(&self) -> &HashMap<String, NodeUsage> {
        &self.nodes
    }

    fn count(&mut self, uid: &str, counted: Counted) {
        self.uncount(uid);
        self.nodes
            .entry(counted.node.clone())
            .or_default()
            .add(&counted.footprint);
        self.pods.insert(uid.to_string(), counted);
    }

    /// Stops counting a pod; whether it was counted.
    fn uncount(&mut self, uid: &str) -> bool {
        let Some(old) = self.pods.remove(uid) else {
            return false;
        };
        if let Some(usage) = self.nodes.get_mut(&old.node) {
            usage.remove(&old.footprint);
            if usage.pods == 0 {
                self.nodes.remove(&old.node);
            }
        }
        true
    }

    /// A change the pod cache saw (`None` before a creation and after a
    /// deletion). Returns true when it freed room that was counted before
    /// (a pod left its node or finished), which may let waiting pods in.
    pub fn observe(&mut self, old: Option<&Pod>, new: Option<&Pod>) -> bool {
        let Some(uid) = new.or(old).and_then(uid).map(str::to_string) else {
            return false;
        };
        let Some(pod) = new else {
            return self.uncount(&uid);
        };
        if let Some(node) = bound_node(pod) {
            let footprint = Footprint::of(pod);
            let unchanged = self
                .pods
                .get(&uid)
                .is_some_and(|c| !c.assumed && c.node == node && c.footprint == footprint);
            if !unchanged {
                let counted = Counted {
                    node: node.to_string(),
                    footprint,
                    assumed: false,
                };
                self.count(&uid, counted);
            }
            return false;
        }
        let unbound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty);
        if unbound && self.pods.get(&uid).is_some_and(|c| c.assumed) {
            // An assumption stands until the binding shows.
            return false;
        }
        self.uncount(&uid)
    }

    /// The scheduler placed `pod` on `node`.
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let Some(uid) = uid(pod) else { return };
        if self.pods.get(uid).is_some_and(|c| !c.assumed) {
            return; // already seen bound
        }
        self.count(
            uid,
            Counted {
                node: node.to_string(),
                footprint: Footprint::of(pod),
                assumed: true,
            },
        );
    }

    /// The placement of the pod with this UID was given up; a pod the
    /// cache shows bound stays counted.
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|c| c.assumed) {
            self.uncount(uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn pod(uid: &str, node: Option<&str>, cpu: &str, phase: Option<&str>) -> Pod {
        let mut spec = json!({"containers": [{"name": "c",
            "resources": {"requests": {"cpu": cpu}},
            "ports": [{"containerPort": 80, "hostPort": 8080}]}]});
        if let Some(n) = node {
            spec["nodeName"] = json!(n);
        }
        serde_json::from_value(json!({
            "metadata": {"name": uid, "namespace": "default", "uid": uid},
            "spec": spec,
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    #[test]
    fn bound_pods_count_until_they_finish_or_go() {
        let mut l = Ledger::default();
        let a = pod("a", Some("n1"), "500m", Some("Running"));
        assert!(!l.observe(None, Some(&a)));
        assert_eq!(l.node("n1").requested.milli_cpu, 500);
        assert_eq!(l.node("n1").pods, 1);
        assert_eq!(l.node("n1").ports.len(), 1);
        // A status change is not counted twice.
        l.observe(Some(&a), Some(&a));
        assert_eq!(l.node("n1").pods, 1);
        let done = pod("a", Some("n1"), "500m", Some("Succeeded"));
        assert!(l.observe(Some(&a), Some(&done)));
        assert_eq!(l.node("n1"), NodeUsage::default());
        assert!(!l.observe(Some(&done), None));
        let b = pod("b", Some("n1"), "1", None);
        l.observe(None, Some(&b));
        assert!(l.observe(Some(&b), None));
        assert!(l.nodes().is_empty());
    }

    #[test]
    fn an_assumed_pod_counts_until_bound_or_forgotten() {
        let mut l = Ledger::default();
        let pending = pod("a", None, "1", Some("Pending"));
        l.observe(None, Some(&pending));
        assert!(l.nodes().is_empty());
        l.assume(&pending, "n1");
        assert_eq!(l.node("n1").requested.milli_cpu, 1000);
        // Our own condition write on the pending pod keeps the assumption.
        l.observe(Some(&pending), Some(&pending));
        assert_eq!(l.node("n1").pods, 1);
        // The binding shows: counted for real, and forget leaves it.
        let bound = pod("a", Some("n1"), "1", Some("Pending"));
        l.observe(Some(&pending), Some(&bound));
        l.forget("a");
        assert_eq!(l.node("n1").pods, 1);
        // Another pod, assumed and then given up.
        let other = pod("b", None, "1", None);
        l.assume(&other, "n2");
        l.forget("b");
        assert!(l.node("n2").pods == 0);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Observe {
            uid: u8,
            node: Option<u8>,
            cpu: u8,
            phase: u8,
        },
        Delete {
            uid: u8,
        },
        Assume {
            uid: u8,
            node: u8,
        },
        Forget {
            uid: u8,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..6, proptest::option::of(0u8..3), 0u8..4, 0u8..4).prop_map(
                |(uid, node, cpu, phase)| Step::Observe {
                    uid,
                    node,
                    cpu,
                    phase
                }
            ),
            (0u8..6).prop_map(|uid| Step::Delete { uid }),
            (0u8..6, 0u8..3).prop_map(|(uid, node)| Step::Assume { uid, node }),
            (0u8..6).prop_map(|uid| Step::Forget { uid }),
        ]
    }

    proptest! {
        /// Whatever the order of cache events, assumptions and give-ups,
        /// each node's usage is the sum of the pods counted on it, and a
        /// node without pods has no entry.
        #[test]
        fn usage_is_always_the_sum_of_the_counted_pods(steps in proptest::collection::vec(step(), 0..60)) {
            let mut l = Ledger::default();
            let mut cache: HashMap<String, Pod> = HashMap::new();
            for s in steps {
                match s {
                    Step::Observe { uid, node, cpu, phase } => {
                        let uid = uid.to_string();
                        let node = node.map(|n| format!("n{n}"));
                        let phase = ["Pending", "Running", "Succeeded", "Failed"][phase as usize];
                        let new = pod(&uid, node.as_deref(), &format!("{cpu}00m"), Some(phase));
                        let old = cache.insert(uid, new.clone());
                        l.observe(old.as_ref(), Some(&new));
                    }
                    Step::Delete { uid } => {
                        if let Some(old) = cache.remove(&uid.to_string()) {
                            l.observe(Some(&old), None);
                        }
                    }
                    Step::Assume { uid, node } => {
                        if let Some(p) = cache.get(&uid.to_string()).filter(|p| bound_node(p).is_none()) {
                            l.assume(p, &format!("n{node}"));
                        }
                    }
                    Step::Forget { uid } => l.forget(&uid.to_string()),
                }
                let mut expected: HashMap<String, NodeUsage> = HashMap::new();
                for c in l.pods.values() {
                    expected.entry(c.node.clone()).or_default().add(&c.footprint);
                }
                for (node, usage) in l.nodes() {
                    let want = &expected[node];
                    prop_assert_eq!(usage.pods, want.pods);
                    prop_assert_eq!(&usage.requested, &want.requested);
                    let (mut a, mut b) = (usage.ports.clone(), want.ports.clone());
                    a.sort();
                    b.sort();
                    prop_assert_eq!(a, b);
                }
                prop_assert_eq!(l.nodes().len(), expected.len());
                // Bound, unfinished pods in the cache are always counted
                // where the cache says.
                for (uid, p) in &cache {
                    if let Some(node) = bound_node(p) {
                        prop_assert_eq!(l.pods.get(uid).map(|c| c.node.as_str()), Some(node));
                    }
                }
            }
        }
    }
}
