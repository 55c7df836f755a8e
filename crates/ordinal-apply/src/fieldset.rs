//! Sets of field paths, stored as a tree: what one manager owns, what
//! changed between two objects, what an applied configuration sets.
//!
//! A node of the tree has *members*, the steps whose path is itself in the
//! set, and *children*, the steps under which deeper paths are in the set.
//! A step can be both: a map-list element is owned (`.` in FieldsV1) and so
//! are some of its fields.

use std::collections::{BTreeMap, BTreeSet};

use crate::path::{Path, PathElement};

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    /// Never holds an empty set.
    children: BTreeMap<PathElement, FieldSet>,
}

static EMPTY: FieldSet = FieldSet {
    members: BTreeSet::new(),
    children: BTreeMap::new(),
};

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Builds a set from paths.
    pub fn from_paths<I: IntoIterator<Item = Path>>(paths: I) -> FieldSet {
        let mut set = FieldSet::new();
        for path in paths {
            set.insert(&path.0);
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path; the empty path (the root itself) is never a member.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` itself is in the set.
    #[cfg(test)]
    pub(crate) fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Whether `step` is a member at this level.
    pub(crate) fn has_member(&self, step: &PathElement) -> bool {
        self.members.contains(step)
    }

    /// The paths below `step`, or the empty set.
    pub(crate) fn child(&self, step: &PathElement) -> &FieldSet {
        self.children.get(step).unwrap_or(&EMPTY)
    }

    /// Whether `step` or anything below it is in the set.
    pub(crate) fn touches(&self, step: &PathElement) -> bool {
        self.members.contains(step) || self.children.contains_key(step)
    }

    /// Every step at this level that is a member or has children, in order.
    pub(crate) fn steps(&self) -> Vec<&PathElement> {
        let mut members = self.members.iter().peekable();
        let mut children = self.children.keys().peekable();
        let mut out = Vec::with_capacity(self.members.len() + self.children.len());
        loop {
            let next = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(m), Some(c)) if m == c => {
                    children.next();
                    members.next()
                }
                (Some(m), Some(c)) if m < c => members.next(),
                (Some(_), Some(_)) | (None, Some(_)) => children.next(),
                (Some(_), None) => members.next(),
            };
            out.extend(next);
        }
        out
    }

    pub(crate) fn set_child(&mut self, step: PathElement, child: FieldSet) {
        if child.is_empty() {
            self.children.remove(&step);
        } else {
            self.children.insert(step, child);
        }
    }

    pub(crate) fn insert_member(&mut self, step: PathElement) {
        self.members.insert(step);
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (step, child) in &other.children {
            let merged = out.child(step).union(child);
            out.set_child(step.clone(), merged);
        }
        out
    }

    /// Paths in `self` that are not in `other`. Removing a path leaves the
    /// paths below it alone.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (step, child) in &self.children {
            let rest = match other.children.get(step) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            out.set_child(step.clone(), rest);
        }
        out
    }

    /// Whether some path is in both sets.
    pub(crate) fn intersects(&self, other: &FieldSet) -> bool {
        self.members.iter().any(|m| other.members.contains(m))
            || self.children.iter().any(|(step, child)| {
                other
                    .children
                    .get(step)
                    .is_some_and(|o| child.intersects(o))
            })
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (step, child) in &self.children {
            if let Some(theirs) = other.children.get(step) {
                out.set_child(step.clone(), child.intersection(theirs));
            }
        }
        out
    }

    /// Paths in `self` that neither are in `other` nor lie below a path in
    /// `other`: `other` names whole subtrees to drop.
    pub fn without_subtrees(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (step, child) in &self.children {
            if other.members.contains(step) {
                continue;
            }
            let rest = match other.children.get(step) {
                Some(theirs) => child.without_subtrees(theirs),
                None => child.clone(),
            };
            out.set_child(step.clone(), rest);
        }
        out
    }

    /// The number of paths in the set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }

    /// Every path, in the order kube-apiserver lists them: at each level
    /// the members first, then the paths below each child in turn.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(Path(path));
        }
        for (step, child) in &self.children {
            prefix.push(step.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(names: &[&str]) -> Path {
        Path(
            names
                .iter()
                .map(|n| PathElement::Field((*n).to_string()))
                .collect(),
        )
    }

    #[test]
    fn set_algebra() {
        let a = FieldSet::from_paths([p(&["spec", "replicas"]), p(&["spec", "paused"])]);
        let b = FieldSet::from_paths([p(&["spec", "replicas"]), p(&["metadata", "labels", "x"])]);
        assert_eq!(a.union(&b).len(), 3);
        assert_eq!(
            a.intersection(&b),
            FieldSet::from_paths([p(&["spec", "replicas"])])
        );
        assert_eq!(
            a.difference(&b),
            FieldSet::from_paths([p(&["spec", "paused"])])
        );
        assert!(a.difference(&a).is_empty());
        assert!(a.contains(&p(&["spec", "paused"]).0));
        assert!(!a.contains(&p(&["spec"]).0));
    }

    #[test]
    fn without_subtrees_drops_everything_below() {
        let a = FieldSet::from_paths([
            p(&["status", "replicas"]),
            p(&["spec", "replicas"]),
            p(&["metadata", "name"]),
            p(&["metadata", "labels", "a"]),
        ]);
        let drop = FieldSet::from_paths([p(&["status"]), p(&["metadata", "name"])]);
        assert_eq!(
            a.without_subtrees(&drop),
            FieldSet::from_paths([p(&["spec", "replicas"]), p(&["metadata", "labels", "a"])])
        );
    }

    #[test]
    fn paths_list_members_before_children() {
        let set = FieldSet::from_paths([
            p(&["spec", "template", "x"]),
            p(&["spec", "replicas"]),
            p(&["kind"]),
        ]);
        let printed: Vec<String> = set.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(printed, vec![".kind", ".spec.replicas", ".spec.template.x"]);
    }
}
