//! What changed between two versions of an object: the paths added,
//! modified and removed.
//!
//! Leaves (scalars, atomic lists and maps) are compared by value. An object,
//! list or element that appears or disappears is itself added or removed,
//! along with everything below it; that is how an `Update` manager comes to
//! own a map it created (`.` in FieldsV1). Empty and absent containers are
//! compared as leaves, so `labels: {}` replacing nothing is an addition.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::items::name_items;
use crate::path::PathElement;
use crate::scope::Scope;
use crate::{ListType, Schema};

/// The paths that differ between an old and a new object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Paths whose value is new or different.
    pub fn changed(&self) -> FieldSet {
        self.modified.union(&self.added)
    }

    /// The comparison with `keep` applied to each of its sets.
    #[cfg(test)]
    pub fn filtered(&self, keep: impl Fn(&FieldSet) -> FieldSet) -> Comparison {
        Comparison {
            added: keep(&self.added),
            modified: keep(&self.modified),
            removed: keep(&self.removed),
        }
    }
}

/// Compares `old` with `new`.
#[cfg(test)]
pub(crate) fn compare(old: &Value, new: &Value, schema: &dyn Schema) -> Comparison {
    let mut walk = Compare {
        schema,
        scope: None,
        out: Comparison::default(),
    };
    walk.walk(Some(old), Some(new), &mut Vec::new(), &mut Vec::new());
    walk.out
}

/// Compares `old` with `new`, keeping only the paths `scope` tracks: the
/// same as filtering [`compare`]'s sets through [`Scope::trackable`], without
/// walking the subtrees nobody may own (`metadata.managedFields` among
/// them, so neither object needs it stripped first).
pub(crate) fn compare_tracked(
    old: &Value,
    new: &Value,
    schema: &dyn Schema,
    scope: &Scope,
) -> Comparison {
    let mut walk = Compare {
        schema,
        scope: Some(scope),
        out: Comparison::default(),
    };
    walk.walk(Some(old), Some(new), &mut Vec::new(), &mut Vec::new());
    walk.out
}

struct Compare<'s> {
    schema: &'s dyn Schema,
    /// When set, paths it does not track are neither walked nor recorded.
    scope: Option<&'s Scope>,
    out: Comparison,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Shape {
    Absent,
    Object,
    List,
    Scalar,
}

fn shape(value: Option<&Value>) -> Shape {
    match value {
        None => Shape::Absent,
        Some(Value::Object(_)) => Shape::Object,
        Some(Value::Array(_)) => Shape::List,
        Some(_) => Shape::Scalar,
    }
}

fn as_map(value: Option<&Value>) -> Option<&Map<String, Value>> {
    value.and_then(Value::as_object)
}

/// The keys of both maps, in order, each once (serde_json keeps keys
/// sorted).
fn sorted_union<'v>(
    a: Option<&'v Map<String, Value>>,
    b: Option<&'v Map<String, Value>>,
) -> Vec<&'v str> {
    let mut a = a.into_iter().flat_map(Map::keys).peekable();
    let mut b = b.into_iter().flat_map(Map::keys).peekable();
    let mut out = Vec::new();
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(x), Some(y)) if x == y => {
                b.next();
                a.next()
            }
            (Some(x), Some(y)) if x < y => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
        };
        out.extend(next.map(String::as_str));
    }
    out
}

fn as_list(value: Option<&Value>) -> Option<&Vec<Value>> {
    value.and_then(Value::as_array)
}

impl Compare<'_> {
    fn walk<'v>(
        &mut self,
        old: Option<&'v Value>,
        new: Option<&'v Value>,
        schema_path: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) {
        let (o, n) = (shape(old), shape(new));
        // `null` stands for an empty object or list that is there.
        let fits = |v: Option<&Value>, s: Shape| {
            shape(v) == s || shape(v) == Shape::Absent || matches!(v, Some(Value::Null))
        };
        let either_is = |s: Shape| o == s || n == s;
        if o == Shape::Absent && n == Shape::Absent {
        } else if either_is(Shape::Object) && fits(old, Shape::Object) && fits(new, Shape::Object) {
            let atomic = !path.is_empty() && self.schema.is_atomic(schema_path);
            self.walk_object(old, new, atomic, schema_path, path);
        } else if either_is(Shape::List) && fits(old, Shape::List) && fits(new, Shape::List) {
            self.walk_list(old, new, schema_path, path);
        } else if fits(old, Shape::Scalar) && fits(new, Shape::Scalar) {
            self.leaf(old, new, path);
        } else {
            // The value changed shape: the old one went away, a new one came.
            self.walk(old, None, schema_path, path);
            self.walk(None, new, schema_path, path);
        }
    }

    fn tracks(&self, path: &[PathElement]) -> bool {
        self.scope.is_none_or(|scope| scope.tracks(path))
    }

    fn leaf(&mut self, old: Option<&Value>, new: Option<&Value>, path: &[PathElement]) {
        if !self.tracks(path) {
            return;
        }
        match (old, new) {
            (None, Some(_)) => self.out.added.insert(path),
            (Some(_), None) => self.out.removed.insert(path),
            (Some(a), Some(b)) if a != b => self.out.modified.insert(path),
            _ => {}
        }
    }

    /// Marks a container that appeared or disappeared, after its contents.
    fn container(&mut self, old: Option<&Value>, new: Option<&Value>, path: &[PathElement]) {
        if !self.tracks(path) {
            return;
        }
        match (old, new) {
            (None, Some(_)) => self.out.added.insert(path),
            (Some(_), None) => self.out.removed.insert(path),
            _ => {}
        }
    }

    fn walk_object<'v>(
        &mut self,
        old: Option<&'v Value>,
        new: Option<&'v Value>,
        atomic: bool,
        schema_path: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) {
        let (old_map, new_map) = (as_map(old), as_map(new));
        let empty = |m: Option<&Map<String, Value>>| m.is_none_or(Map::is_empty);
        if atomic || (empty(old_map) && empty(new_map)) {
            self.leaf(old, new, path);
            return;
        }
        for name in sorted_union(old_map, new_map) {
            if let Some(scope) = self.scope
                && scope.drops_subtree(path, name)
            {
                continue;
            }
            schema_path.push(name);
            path.push(PathElement::Field(name.to_string()));
            self.walk(
                old_map.and_then(|m| m.get(name)),
                new_map.and_then(|m| m.get(name)),
                schema_path,
                path,
            );
            path.pop();
            schema_path.pop();
        }
        self.container(old, new, path);
    }

    fn walk_list<'v>(
        &mut self,
        old: Option<&'v Value>,
        new: Option<&'v Value>,
        schema_path: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) {
        let (old_items, new_items) = (as_list(old), as_list(new));
        let empty = |l: Option<&Vec<Value>>| l.is_none_or(Vec::is_empty);
        let list_type = self.schema.list_type(schema_path);
        if list_type == ListType::Atomic || (empty(old_items) && empty(new_items)) {
            self.leaf(old, new, path);
            return;
        }
        let mut elements: BTreeMap<PathElement, (Option<&'v Value>, Option<&'v Value>)> =
            BTreeMap::new();
        for (side, items) in [(0, old_items), (1, new_items)] {
            let Some(items) = items else { continue };
            let (steps, _) = name_items(items, &list_type, schema_path, self.schema);
            for (item, step) in items.iter().zip(steps) {
                let Some(step) = step else { continue };
                let slot = elements.entry(step).or_default();
                if side == 0 {
                    slot.0 = Some(item);
                } else {
                    slot.1 = Some(item);
                }
            }
        }
        let atomic_elements = self.schema.is_atomic(schema_path);
        for (step, (old_item, new_item)) in elements {
            path.push(step);
            let objects = matches!(shape(old_item), Shape::Object | Shape::Absent)
                && matches!(shape(new_item), Shape::Object | Shape::Absent);
            if objects {
                self.walk_object(old_item, new_item, atomic_elements, schema_path, path);
            } else {
                self.leaf(old_item, new_item, path);
            }
            path.pop();
        }
        self.container(old, new, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schema::PodSchema;
    use serde_json::json;

    #[test]
    fn reports_added_modified_and_removed_paths() {
        let old = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 1, "containers": [{"name": "c", "image": "v1"}, {"name": "d", "image": "x"}]}
        });
        let new = json!({
            "metadata": {"labels": {"a": "1"}, "annotations": {"n": "x"}},
            "spec": {"replicas": 2, "containers": [{"name": "c", "image": "v2"}, {"name": "e", "image": "y"}]}
        });
        let c = compare(&old, &new, &PodSchema);
        assert_eq!(
            c.modified.to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}, "f:containers": {"k:{\"name\":\"c\"}": {"f:image": {}}}}})
        );
        assert_eq!(
            c.added.to_fields_v1(),
            json!({
                "f:metadata": {"f:annotations": {".": {}, "f:n": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"e\"}": {".": {}, "f:name": {}, "f:image": {}}}}
            })
        );
        assert_eq!(
            c.removed.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:b": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"d\"}": {".": {}, "f:name": {}, "f:image": {}}}}
            })
        );
    }

    #[test]
    fn atomic_values_and_empty_containers_are_leaves() {
        let old = json!({"spec": {"selector": {"matchLabels": {"a": "1"}}, "containers": [{"name": "c", "args": ["a"]}]}});
        let new = json!({"spec": {"selector": {"matchLabels": {"a": "2"}}, "containers": [{"name": "c", "args": ["b"]}]}, "data": {}});
        let c = compare(&old, &new, &PodSchema);
        assert_eq!(
            c.modified.to_fields_v1(),
            json!({"f:spec": {"f:selector": {}, "f:containers": {"k:{\"name\":\"c\"}": {"f:args": {}}}}})
        );
        assert_eq!(c.added.to_fields_v1(), json!({"f:data": {}}));
        assert!(c.removed.is_empty());
        assert_eq!(compare(&new, &new, &PodSchema), Comparison::default());
    }

    #[test]
    fn null_counts_as_an_empty_container_that_is_there() {
        let old = json!({"spec": {"containers": null, "selector": null}});
        let new = json!({"spec": {"containers": [{"name": "c"}], "selector": {"a": "b"}}});
        let c = compare(&old, &new, &PodSchema);
        assert_eq!(
            c.added.to_fields_v1(),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:name": {}}}}})
        );
        assert_eq!(
            c.modified.to_fields_v1(),
            json!({"f:spec": {"f:selector": {}}})
        );
        assert!(c.removed.is_empty());
    }

    #[test]
    fn tracked_comparison_equals_filtering_the_whole_one() {
        let objects = [
            json!({}),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "p", "uid": "u", "labels": {"a": "1"},
                                "managedFields": [{"manager": "m"}]},
                   "spec": {"containers": [{"name": "c", "image": "v1"}]},
                   "status": {"phase": "Running"}}),
            json!({"apiVersion": "v2", "kind": "Pod",
                   "metadata": {"name": "q", "resourceVersion": "9", "labels": {"b": "2"}},
                   "spec": {"containers": [{"name": "c", "image": "v2"}, {"name": "d"}]},
                   "status": {"phase": "Pending", "ready": true}}),
            json!({"metadata": "not an object", "status": [1, 2]}),
            json!({"metadata": null, "spec": null}),
        ];
        for subresource in [None, Some("status"), Some("scale")] {
            let scope = Scope::new(subresource, &PodSchema);
            for old in &objects {
                for new in &objects {
                    assert_eq!(
                        compare_tracked(old, new, &PodSchema, &scope),
                        compare(old, new, &PodSchema).filtered(|set| scope.trackable(set)),
                        "{old} -> {new} ({subresource:?})"
                    );
                }
            }
        }
    }
}
