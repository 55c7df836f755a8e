//! The owner graph: every watched object by uid, with its owner references,
//! finalizers and deletion state, and for every owner uid the dependents
//! that point at it, whether or not the owner itself has been seen.
//!
//! The graph is pure bookkeeping. Each change answers with the uids that
//! now need the collector's attention; the collector decides what to do by
//! asking [`Graph`] about them and checking owners against the API server.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::served::Served;

pub type Uid = String;

/// The garbage collector's finalizers.
pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// How many uids known to be gone are remembered.
const ABSENT_CAPACITY: usize = 100_000;

/// One owner reference of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: Uid,
    pub block_owner_deletion: bool,
    pub controller: bool,
}

/// What the graph knows of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub uid: Uid,
    pub resource: Arc<Served>,
    pub namespace: Option<String>,
    pub name: String,
    pub resource_version: String,
    pub owners: Vec<OwnerRef>,
    pub finalizers: Vec<String>,
    pub being_deleted: bool,
}

impl Node {
    pub fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Being deleted in the foreground: its dependents go first.
    pub fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.has_finalizer(FOREGROUND)
    }

    /// Being deleted with its dependents orphaned.
    pub fn orphaning(&self) -> bool {
        self.being_deleted && self.has_finalizer(ORPHAN)
    }

    pub fn reference_to(&self, owner: &str) -> Option<&OwnerRef> {
        self.owners.iter().find(|r| r.uid == owner)
    }
}

/// Uids known not to exist (any more), oldest forgotten first.
#[derive(Debug, Default)]
struct Absent {
    set: HashSet<Uid>,
    order: VecDeque<Uid>,
}

impl Absent {
    fn insert(&mut self, uid: Uid) {
        if self.set.insert(uid.clone()) {
            self.order.push_back(uid);
            if self.order.len() > ABSENT_CAPACITY
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<Uid, Node>,
    /// Owner uid → uids of observed objects that reference it.
    dependents: HashMap<Uid, HashSet<Uid>>,
    absent: Absent,
}

impl Graph {
    pub fn new() -> Self {
        Graph::default()
    }

    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The observed objects that reference `owner`.
    pub fn dependents(&self, owner: &str) -> Vec<&Node> {
        self.dependents
            .get(owner)
            .map(|deps| deps.iter().filter_map(|d| self.nodes.get(d)).collect())
            .unwrap_or_default()
    }

    pub fn has_dependents(&self, owner: &str) -> bool {
        self.dependents.get(owner).is_some_and(|d| !d.is_empty())
    }

    /// Whether `uid` is known to be gone (observed deleted, or verified
    /// missing against the API server). Uids are never reused, so this
    /// knowledge does not go stale.
    pub fn is_absent(&self, uid: &str) -> bool {
        self.absent.set.contains(uid)
    }

    /// Records that no object with `uid` is where a reference says it is;
    /// returns the dependents to look at again.
    pub fn mark_absent(&mut self, uid: &str) -> Vec<Uid> {
        self.absent.insert(uid.to_string());
        self.dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// An object was added or changed. Returns the uids to look at.
    pub fn observe(&mut self, node: Node) -> Vec<Uid> {
        let uid = node.uid.clone();
        let mut attention: Vec<Uid> = Vec::new();
        let old = self.nodes.remove(&uid);
        let old_owners: HashSet<&str> = old
            .as_ref()
            .map(|o| o.owners.iter().map(|r| r.uid.as_str()).collect())
            .unwrap_or_default();
        let new_owners: HashSet<&str> = node.owners.iter().map(|r| r.uid.as_str()).collect();
        // References dropped: the owner may no longer be blocked.
        for gone in old_owners.difference(&new_owners) {
            self.unlink(gone, &uid);
            if self.nodes.get(*gone).is_some_and(Node::deleting_dependents) {
                attention.push(gone.to_string());
            }
        }
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
            match self.nodes.get(&owner.uid) {
                // An owner never seen: verify it exists.
                None if !self.is_absent(&owner.uid) => attention.push(owner.uid.clone()),
                // A missing owner, or one waiting for its dependents.
                None => attention.push(uid.clone()),
                Some(o) if o.deleting_dependents() => attention.push(uid.clone()),
                Some(_) => {}
            }
        }
        let was_deleting_dependents = old.as_ref().is_some_and(Node::deleting_dependents);
        if node.deleting_dependents() {
            if !was_deleting_dependents {
                // Foreground deletion starts: every dependent is looked at.
                if let Some(deps) = self.dependents.get(&uid) {
                    attention.extend(deps.iter().cloned());
                }
            }
            attention.push(uid.clone());
        }
        if node.orphaning() {
            attention.push(uid.clone());
        }
        self.nodes.insert(uid, node);
        dedup(attention)
    }

    /// An object was deleted. Returns the uids to look at.
    pub fn forget(&mut self, uid: &str) -> Vec<Uid> {
        let mut attention = Vec::new();
        self.absent.insert(uid.to_string());
        if let Some(node) = self.nodes.remove(uid) {
            for owner in &node.owners {
                self.unlink(&owner.uid, uid);
                if self
                    .nodes
                    .get(&owner.uid)
                    .is_some_and(Node::deleting_dependents)
                {
                    attention.push(owner.uid.clone());
                }
            }
        }
        // Its dependents lost an owner.
        if let Some(deps) = self.dependents.get(uid) {
            attention.extend(deps.iter().cloned());
        }
        dedup(attention)
    }

    /// A fresh list of one resource: objects of it that the list no longer
    /// holds were deleted while nobody watched.
    pub fn resync(&mut self, resource_key: &str, present: &HashSet<Uid>) -> Vec<Uid> {
        let missing: Vec<Uid> = self
            .nodes
            .values()
            .filter(|n| n.resource.key() == resource_key && !present.contains(&n.uid))
            .map(|n| n.uid.clone())
            .collect();
        let mut attention = Vec::new();
        for uid in missing {
            attention.extend(self.forget(&uid));
        }
        dedup(attention)
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(deps) = self.dependents.get_mut(owner) {
            deps.remove(dependent);
            if deps.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }

    /// A coordinate to look an unseen owner up by: one of its dependents'
    /// references, with that dependent's namespace.
    pub fn owner_lookup(&self, owner: &str) -> Option<(OwnerRef, Option<String>)> {
        let deps = self.dependents.get(owner)?;
        deps.iter().filter_map(|d| self.nodes.get(d)).find_map(|d| {
            d.reference_to(owner)
                .map(|r| (r.clone(), d.namespace.clone()))
        })
    }
}

fn dedup(mut uids: Vec<Uid>) -> Vec<Uid> {
    let mut seen = HashSet::new();
    uids.retain(|u| seen.insert(u.clone()));
    uids
}

/// What an owner reference points at, as checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists and is not deleting its dependents.
    Solid,
    /// Gone, or replaced by another object of the same name.
    Dangling,
    /// Exists and is being deleted in the foreground.
    WaitingForDependents,
    /// Exists, is being deleted in the foreground, and deletes this
    /// dependent itself ([`torn_down_by`]): left to it.
    TearingDown,
}

/// The deletion policy the collector uses for a dependent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Background,
    Foreground,
    Orphan,
}

/// What to do with an object whose owners were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Some owner is alive: drop only the references to these owners.
    RemoveReferences(Vec<Uid>),
    Delete(Policy),
}

/// Upstream's attemptToDeleteItem decision, from the classified owner
/// references of an object, whether it has dependents itself, and its
/// finalizers.
pub fn decide(
    owners: &[(Uid, OwnerState)],
    has_dependents: bool,
    finalizers: &[String],
) -> Verdict {
    if owners.is_empty() {
        return Verdict::Keep;
    }
    let solid = owners.iter().any(|(_, s)| *s == OwnerState::Solid);
    let tearing_down = owners.iter().any(|(_, s)| *s == OwnerState::TearingDown);
    let waiting = owners
        .iter()
        .any(|(_, s)| *s == OwnerState::WaitingForDependents);
    if solid {
        let drop: Vec<Uid> = owners
            .iter()
            .filter(|(_, s)| *s != OwnerState::Solid)
            .map(|(u, _)| u.clone())
            .collect();
        return if drop.is_empty() {
            Verdict::Keep
        } else {
            Verdict::RemoveReferences(drop)
        };
    }
    if tearing_down {
        // The owner deletes it itself, in its own order.
        return Verdict::Keep;
    }
    if waiting && has_dependents {
        // An owner waits on us and we have dependents of our own: go in
        // the foreground so ours go first.
        return Verdict::Delete(Policy::Foreground);
    }
    // No owner is alive: collect it, honouring a GC finalizer it carries.
    let first_gc = finalizers
        .iter()
        .find(|f| f.as_str() == ORPHAN || f.as_str() == FOREGROUND);
    Verdict::Delete(match first_gc.map(String::as_str) {
        Some(ORPHAN) => Policy::Orphan,
        Some(FOREGROUND) => Policy::Foreground,
        _ => Policy::Background,
    })
}

/// Whether `owner`, being deleted in the foreground, deletes `dependent`
/// itself rather than leaving it to the collector: a StatefulSet with
/// ordered teardown (`ordered`, from its annotations) removes the pods it
/// controls highest ordinal first (`statefulset::teardown`). Its other
/// dependents, and pods it only owns, are collected as usual.
pub fn torn_down_by(owner: &OwnerRef, dependent: &Node, ordered: bool) -> bool {
    ordered
        && owner.controller
        && owner.api_version == "apps/v1"
        && owner.kind == "StatefulSet"
        && dependent.resource.api.group.is_empty()
        && dependent.resource.api.plural == "pods"
}

/// What to do with an owner being deleted in the foreground: remove its
/// finalizer when nothing blocks it any more, else delete these blocking
/// dependents (those that are not themselves deleting their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForegroundStep {
    RemoveFinalizer,
    Wait { delete: Vec<Uid> },
}

pub fn foreground_step(graph: &Graph, owner: &str) -> ForegroundStep {
    let blocking: Vec<&Node> = graph
        .dependents(owner)
        .into_iter()
        .filter(|d| {
            d.reference_to(owner)
                .is_some_and(|r| r.block_owner_deletion)
        })
        .collect();
    if blocking.is_empty() {
        return ForegroundStep::RemoveFinalizer;
    }
    ForegroundStep::Wait {
        delete: blocking
            .into_iter()
            .filter(|d| !d.deleting_dependents())
            .map(|d| d.uid.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::served::served;

    fn node(uid: &str, owners: &[(&str, bool)]) -> Node {
        Node {
            uid: uid.into(),
            resource: served("", "v1", "ConfigMap", "configmaps", true),
            namespace: Some("default".into()),
            name: format!("n-{uid}"),
            resource_version: "1".into(),
            owners: owners
                .iter()
                .map(|(o, block)| OwnerRef {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: format!("n-{o}"),
                    uid: o.to_string(),
                    block_owner_deletion: *block,
                    controller: false,
                })
                .collect(),
            finalizers: vec![],
            being_deleted: false,
        }
    }

    fn deleting(mut n: Node, finalizer: &str) -> Node {
        n.being_deleted = true;
        n.finalizers = vec![finalizer.into()];
        n
    }

    #[test]
    fn unseen_owners_are_verified_and_seen_ones_are_not() {
        let mut g = Graph::new();
        assert_eq!(g.observe(node("d", &[("o", false)])), vec!["o".to_string()]);
        assert_eq!(g.observe(node("o", &[])), Vec::<Uid>::new());
        // With the owner seen, a new dependent needs nothing.
        assert!(g.observe(node("d2", &[("o", false)])).is_empty());
        let (r, ns) = g.owner_lookup("o").unwrap();
        assert_eq!(r.name, "n-o");
        assert_eq!(ns.as_deref(), Some("default"));
    }

    #[test]
    fn deleting_an_owner_points_at_its_dependents() {
        let mut g = Graph::new();
        g.observe(node("o", &[]));
        g.observe(node("a", &[("o", false)]));
        g.observe(node("b", &[("o", false)]));
        let mut got = g.forget("o");
        got.sort();
        assert_eq!(got, vec!["a".to_string(), "b".to_string()]);
        assert!(g.is_absent("o"));
        // A dependent appearing later for a gone owner is looked at itself.
        assert_eq!(g.observe(node("c", &[("o", false)])), vec!["c".to_string()]);
    }

    #[test]
    fn foreground_owners_wait_for_blocking_dependents_only() {
        let mut g = Graph::new();
        g.observe(node("o", &[]));
        g.observe(node("blocker", &[("o", true)]));
        g.observe(node("free", &[("o", false)]));
        let mut got = g.observe(deleting(node("o", &[]), FOREGROUND));
        got.sort();
        assert_eq!(got, vec!["blocker", "free", "o"]);
        assert_eq!(
            foreground_step(&g, "o"),
            ForegroundStep::Wait {
                delete: vec!["blocker".into()]
            }
        );
        // The blocker going re-points at the owner, which may now finish.
        assert_eq!(g.forget("blocker"), vec!["o".to_string()]);
        assert_eq!(foreground_step(&g, "o"), ForegroundStep::RemoveFinalizer);
    }

    #[test]
    fn dropping_a_reference_unblocks_the_owner() {
        let mut g = Graph::new();
        g.observe(node("b", &[("o", true)]));
        g.observe(deleting(node("o", &[]), FOREGROUND));
        assert_eq!(g.observe(node("b", &[])), vec!["o".to_string()]);
        assert_eq!(foreground_step(&g, "o"), ForegroundStep::RemoveFinalizer);
    }

    #[test]
    fn orphaning_owners_are_looked_at() {
        let mut g = Graph::new();
        g.observe(node("o", &[]));
        g.observe(node("a", &[("o", false)]));
        assert_eq!(g.observe(deleting(node("o", &[]), ORPHAN)), vec!["o"]);
        assert_eq!(g.dependents("o").len(), 1);
    }

    #[test]
    fn resync_forgets_what_a_relist_lost() {
        let mut g = Graph::new();
        g.observe(node("o", &[]));
        g.observe(node("a", &[("o", false)]));
        let present: HashSet<Uid> = ["a".to_string()].into();
        assert_eq!(g.resync("/v1/configmaps", &present), vec!["a".to_string()]);
        assert!(g.node("o").is_none());
        assert!(g.is_absent("o"));
    }

    #[test]
    fn decisions_follow_upstream() {
        use OwnerState::*;
        let none: Vec<String> = vec![];
        let s = |u: &str, st| (u.to_string(), st);
        assert_eq!(decide(&[s("a", Solid)], false, &none), Verdict::Keep);
        assert_eq!(
            decide(&[s("a", Solid), s("b", Dangling)], false, &none),
            Verdict::RemoveReferences(vec!["b".into()])
        );
        assert_eq!(
            decide(&[s("a", Solid), s("c", WaitingForDependents)], true, &none),
            Verdict::RemoveReferences(vec!["c".into()])
        );
        assert_eq!(
            decide(&[s("a", Dangling)], true, &none),
            Verdict::Delete(Policy::Background)
        );
        assert_eq!(
            decide(&[s("a", WaitingForDependents)], true, &none),
            Verdict::Delete(Policy::Foreground)
        );
        assert_eq!(
            decide(&[s("a", WaitingForDependents)], false, &none),
            Verdict::Delete(Policy::Background)
        );
        assert_eq!(
            decide(&[s("a", Dangling)], false, &["orphan".to_string()]),
            Verdict::Delete(Policy::Orphan)
        );
        assert_eq!(decide(&[], false, &none), Verdict::Keep);
    }

    #[test]
    fn an_owner_tearing_down_keeps_its_pods_to_itself() {
        use OwnerState::*;
        let none: Vec<String> = vec![];
        let s = |u: &str, st| (u.to_string(), st);
        assert_eq!(
            decide(&[s("set", TearingDown)], false, &none),
            Verdict::Keep
        );
        // Also when another owner is gone or waiting: the set deletes it.
        assert_eq!(
            decide(&[s("set", TearingDown), s("b", Dangling)], true, &none),
            Verdict::Keep
        );
        assert_eq!(
            decide(
                &[s("set", TearingDown), s("b", WaitingForDependents)],
                true,
                &none
            ),
            Verdict::Keep
        );
        // A live owner keeps it and loses the reference, as for any owner
        // being deleted.
        assert_eq!(
            decide(&[s("a", Solid), s("set", TearingDown)], false, &none),
            Verdict::RemoveReferences(vec!["set".into()])
        );
    }

    #[test]
    fn only_a_statefulsets_controlled_pods_are_torn_down_by_it() {
        let set = |controller| OwnerRef {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "s".into(),
            block_owner_deletion: true,
            controller,
        };
        let mut pod = node("p", &[]);
        pod.resource = served("", "v1", "Pod", "pods", true);
        let claim = Node {
            resource: served(
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            ),
            ..pod.clone()
        };
        let revision = Node {
            resource: served(
                "apps",
                "v1",
                "ControllerRevision",
                "controllerrevisions",
                true,
            ),
            ..pod.clone()
        };
        assert!(torn_down_by(&set(true), &pod, true));
        assert!(!torn_down_by(&set(true), &pod, false), "Unordered");
        assert!(
            !torn_down_by(&set(false), &pod, true),
            "owned, not controlled"
        );
        assert!(!torn_down_by(&set(true), &claim, true));
        assert!(!torn_down_by(&set(true), &revision, true));
        let replica_set = OwnerRef {
            kind: "ReplicaSet".into(),
            ..set(true)
        };
        assert!(!torn_down_by(&replica_set, &pod, true));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::served::served;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Observe {
            uid: u8,
            owners: Vec<(u8, bool)>,
            deleting: Option<bool>,
        },
        Forget(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (
                0u8..8,
                prop::collection::vec((0u8..8, any::<bool>()), 0..3),
                prop::option::of(any::<bool>())
            )
                .prop_map(|(uid, owners, deleting)| Op::Observe {
                    uid,
                    owners,
                    deleting
                }),
            (0u8..8).prop_map(Op::Forget),
        ]
    }

    proptest! {
        /// Whatever order objects come and go in, the dependents index is
        /// exactly the inverse of the observed owner references.
        #[test]
        fn dependents_index_mirrors_owner_references(ops in prop::collection::vec(op(), 0..60)) {
            let mut g = Graph::new();
            for op in ops {
                match op {
                    Op::Observe { uid, owners, deleting } => {
                        let mut seen = HashSet::new();
                        let node = Node {
                            uid: uid.to_string(),
                            resource: served("", "v1", "ConfigMap", "configmaps", true),
                            namespace: None,
                            name: uid.to_string(),
                            resource_version: "1".into(),
                            owners: owners.into_iter().filter(|(o, _)| seen.insert(*o)).map(|(o, b)| OwnerRef {
                                api_version: "v1".into(), kind: "ConfigMap".into(), name: o.to_string(), uid: o.to_string(), block_owner_deletion: b, controller: false,
                            }).collect(),
                            finalizers: match deleting { Some(true) => vec![FOREGROUND.into()], Some(false) => vec![ORPHAN.into()], None => vec![] },
                            being_deleted: deleting.is_some(),
                        };
                        g.observe(node);
                    }
                    Op::Forget(uid) => { g.forget(&uid.to_string()); }
                }
            }
            let mut expected: HashMap<Uid, HashSet<Uid>> = HashMap::new();
            for n in g.nodes.values() {
                for r in &n.owners {
                    expected.entry(r.uid.clone()).or_default().insert(n.uid.clone());
                }
            }
            prop_assert_eq!(&g.dependents, &expected);
        }
    }
}
