//! Applying a strategic merge patch to a stored object, as kube-apiserver
//! does for `PATCH` with `application/strategic-merge-patch+json`.
//!
//! Maps merge key by key and `null` deletes a key. Lists whose field is
//! tagged `patchStrategy: merge` merge: lists of objects by merge key
//! (an element of the patch merges into the element with the same key, or
//! is added), lists of scalars as a union; every other list is replaced.
//! Directives:
//!
//! - `{"$patch": "replace"}` in a map: the map becomes the patch's map;
//!   `{"$patch": "delete"}`: the map becomes empty.
//! - In a merged list, an element `{"<key>": v, "$patch": "delete"}`
//!   removes the elements with that key; an element `{"$patch": "replace"}`
//!   makes the list exactly the patch's other elements.
//! - `"$setElementOrder/<field>": [...]` orders the merged list `<field>`.
//! - `"$deleteFromPrimitiveList/<field>": [...]` removes scalars.
//! - `"$retainKeys": [...]` clears the map's keys not listed.
//!
//! Kinds and fields without metadata (see [`crate::schema`]) merge like a
//! JSON merge patch: maps merge, lists are replaced.
//!
//! A patch value for a key the object lacks (or holds a value of another
//! type) is stored without its directives and `null` members, and a
//! `{"$patch": "delete"}` there stores nothing, as upstream does. Deleting
//! scalars from a list the object lacks adds nothing, and
//! `$deleteFromPrimitiveList` works on any list.

mod error;
mod list;

use serde_json::{Map, Value};

pub use error::PatchError;

use crate::directive::{self, DELETE_FROM_PRIMITIVE_LIST, PATCH, RETAIN_KEYS, SET_ELEMENT_ORDER};
use crate::gofmt;
use crate::schema::Node;

/// Applies strategic merge patch `patch` to `original`, an object of kind
/// `kind` in API group `group` (`""` for the core group).
///
/// ```
/// use serde_json::json;
/// use ordinal_merge::strategic::apply;
/// let pod = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [
///     {"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
/// ]}});
/// let patch = json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [
///     {"name": "app", "env": [{"name": "A", "$patch": "delete"}]},
/// ]}});
/// let out = apply(&pod, &patch, "", "Pod").unwrap();
/// assert_eq!(out["metadata"]["finalizers"], json!(["b", "a"]));
/// assert_eq!(out["spec"]["containers"][0]["env"], json!([{"name": "B", "value": "2"}]));
/// ```
pub fn apply(
    original: &Value,
    patch: &Value,
    group: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(p) => p,
        Value::Null => return Ok(original.clone()),
        Value::Array(_) => return Err(PatchError::NotAnObject("array")),
        Value::String(_) => return Err(PatchError::NotAnObject("string")),
        Value::Number(_) => return Err(PatchError::NotAnObject("number")),
        Value::Bool(_) => return Err(PatchError::NotAnObject("bool")),
    };
    let mut out = match original {
        Value::Object(o) => o.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(PatchError::WrongType {
                expected: gofmt::MAP_TYPE,
                actual: gofmt::type_name(other),
            });
        }
    };
    Merger::APPLY.merge_map(&mut out, patch, Node::root(group, kind))?;
    Ok(Value::Object(out))
}

/// What the merge produces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An object: directives are carried out and leave no trace.
    Apply,
    /// A patch combining two patches (kubectl's three-way diff): directives
    /// are kept, `null`s too.
    Combine,
}

/// The merge engine, shared by [`apply`] and the three-way diff.
#[derive(Clone, Copy)]
pub(crate) struct Merger {
    mode: Mode,
}

impl Merger {
    pub(crate) const APPLY: Merger = Merger { mode: Mode::Apply };
    pub(crate) const COMBINE: Merger = Merger {
        mode: Mode::Combine,
    };

    /// Merges `patch` into `orig`, an object at `node` of the type tree.
    pub(crate) fn merge_map(
        &self,
        orig: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        node: Node,
    ) -> Result<(), PatchError> {
        if let Some(d) = patch.get(PATCH) {
            return match d.as_str() {
                Some("replace") => {
                    *orig = self.fresh_entries(patch);
                    Ok(())
                }
                Some("delete") => {
                    orig.clear();
                    Ok(())
                }
                _ => Err(PatchError::UnknownDirective {
                    directive: gofmt::string_verb(d),
                    map: gofmt::value(&Value::Object(patch.clone())),
                }),
            };
        }

        if let Some(keep) = patch.get(RETAIN_KEYS) {
            self.retain_keys(orig, patch, keep)?;
        }

        // Lists with a `$setElementOrder` are merged and ordered first.
        let mut ordered: Vec<&str> = Vec::new();
        for (key, order) in patch {
            if !key.starts_with(SET_ELEMENT_ORDER) {
                continue;
            }
            if self.mode == Mode::Combine {
                match orig.get(key) {
                    Some(o) if o != order => return Err(PatchError::SetElementOrderFormat),
                    Some(_) => {}
                    None => {
                        orig.insert(key.clone(), order.clone());
                    }
                }
            }
            let Value::Array(order) = order else {
                return Err(PatchError::WrongType {
                    expected: gofmt::LIST_TYPE,
                    actual: gofmt::type_name(order),
                });
            };
            let field = directive::field_of(key, SET_ELEMENT_ORDER)
                .ok_or(PatchError::SetElementOrderFormat)?;
            self.merge_ordered_list(orig, patch, field, order, node)?;
            ordered.push(field);
        }

        let mut deletions: Vec<(&str, &Value)> = Vec::new();
        for (key, value) in patch {
            if key == RETAIN_KEYS
                || key.starts_with(SET_ELEMENT_ORDER)
                || ordered.contains(&key.as_str())
            {
                continue;
            }
            if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                match self.mode {
                    Mode::Combine => {
                        orig.insert(key.clone(), value.clone());
                    }
                    Mode::Apply => {
                        let field = directive::field_of(key, DELETE_FROM_PRIMITIVE_LIST)
                            .ok_or(PatchError::PrimitiveListFormat)?;
                        deletions.push((field, value));
                    }
                }
                continue;
            }
            if value.is_null() {
                orig.remove(key);
                if self.mode == Mode::Combine {
                    orig.insert(key.clone(), Value::Null);
                }
                continue;
            }
            let (info, child) = node.child(key);
            match (orig.get_mut(key.as_str()), value) {
                (Some(Value::Object(o)), Value::Object(p)) => self.merge_map(o, p, child)?,
                (Some(Value::Array(o)), Value::Array(p)) => self.merge_list(o, p, info, child)?,
                (Some(_), _) | (None, _) => match self.fresh(value) {
                    Some(v) => {
                        orig.insert(key.clone(), v);
                    }
                    None => {
                        orig.remove(key);
                    }
                },
            }
        }

        for (field, values) in deletions {
            let Value::Array(values) = values else {
                return Err(PatchError::PrimitiveListFormat);
            };
            if let Some(Value::Array(list)) = orig.get_mut(field) {
                list.retain(|v| !values.contains(v));
            }
        }
        Ok(())
    }

    /// `$retainKeys`: clears the keys of `orig` not listed; every key the
    /// patch sets must be listed.
    fn retain_keys(
        &self,
        orig: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        keep: &Value,
    ) -> Result<(), PatchError> {
        if self.mode == Mode::Combine {
            match orig.get(RETAIN_KEYS) {
                Some(o) if o != keep => {
                    return Err(PatchError::RetainKeysDiffer(
                        gofmt::value(o),
                        gofmt::value(keep),
                    ));
                }
                Some(_) => {}
                None => {
                    orig.insert(RETAIN_KEYS.to_string(), keep.clone());
                }
            }
            return Ok(());
        }
        let keep = keep.as_array().ok_or(PatchError::RetainKeysFormat)?;
        let kept = |k: &str| keep.iter().any(|x| x.as_str() == Some(k));
        let sets_unkept = patch.iter().any(|(k, v)| {
            k != RETAIN_KEYS
                && !v.is_null()
                && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                && !k.starts_with(SET_ELEMENT_ORDER)
                && !kept(k)
        });
        if sets_unkept {
            return Err(PatchError::RetainKeysMismatch);
        }
        orig.retain(|k, _| kept(k));
        Ok(())
    }

    /// A patch value stored where the object has nothing to merge it with;
    /// `None` when it is only a `$patch: delete` directive.
    fn fresh(&self, v: &Value) -> Option<Value> {
        match self.mode {
            Mode::Combine => Some(v.clone()),
            Mode::Apply => sanitize(v),
        }
    }

    /// A patch's list stored where the object has nothing to merge it with.
    fn fresh_list(&self, items: &[Value]) -> Vec<Value> {
        match self.mode {
            Mode::Combine => items.to_vec(),
            Mode::Apply => sanitize_list(items),
        }
    }

    /// The entries of a map (without a `$patch` key) stored as they are.
    fn fresh_entries(&self, m: &Map<String, Value>) -> Map<String, Value> {
        match self.mode {
            Mode::Combine => m
                .iter()
                .filter(|(k, _)| *k != PATCH)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Mode::Apply => sanitize_entries(m),
        }
    }
}

/// A patch value as the object keeps it: no directive keys, no `null`
/// members, no `$patch` list elements; nothing at all for a map that is a
/// `$patch: delete` directive.
fn sanitize(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) if m.get(PATCH).is_some_and(|d| d == "delete") => None,
        Value::Object(m) => Some(Value::Object(sanitize_entries(m))),
        Value::Array(items) => Some(Value::Array(sanitize_list(items))),
        other => Some(other.clone()),
    }
}

fn sanitize_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|v| !is_list_directive(v))
        .filter_map(sanitize)
        .collect()
}

/// A `{"$patch": "delete" | "replace", ...}` list element.
fn is_list_directive(v: &Value) -> bool {
    v.as_object()
        .and_then(|m| m.get(PATCH))
        .is_some_and(|d| d == "delete" || d == "replace")
}

fn sanitize_entries(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| {
            !v.is_null()
                && *k != PATCH
                && *k != RETAIN_KEYS
                && !k.starts_with(SET_ELEMENT_ORDER)
                && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        })
        .filter_map(|(k, v)| Some((k.clone(), sanitize(v)?)))
        .collect()
}

#[cfg(test)]
mod tests;
