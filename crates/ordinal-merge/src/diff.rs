//! Computing strategic merge patches the way kubectl does: two-way (for
//! `edit`, `rollout restart`, `label`…) and three-way (for `apply`).
//!
//! A patch holds what was added or changed, `null` for deleted map keys,
//! `{"<key>": v, "$patch": "delete"}` for deleted elements of merged lists
//! of objects, `$deleteFromPrimitiveList/<field>` for deleted scalars of
//! merged lists, and `$setElementOrder/<field>` with the whole new order of
//! a merged list whose content or order changed. Elements of fields with
//! the `retainKeys` strategy (volumes) carry `$retainKeys`.

use serde_json::{Map, Value};

use crate::directive::{DELETE_FROM_PRIMITIVE_LIST, PATCH, RETAIN_KEYS, SET_ELEMENT_ORDER};
use crate::gofmt;
use crate::order::{self, Elements};
use crate::schema::Node;
use crate::strategic::{Merger, PatchError};

#[derive(Clone, Copy, Default)]
struct Options {
    /// Emit `$setElementOrder` lists.
    set_element_order: bool,
    /// Leave out additions and changes (the deletions half of three-way).
    ignore_changes: bool,
    /// Leave out deletions (the changes half of three-way).
    ignore_deletions: bool,
    /// Emit `$retainKeys` in this map (its field has that strategy).
    build_retain_keys: bool,
}

/// The patch that turns `original` into `modified`, as kubectl's
/// `CreateTwoWayMergePatch` computes it: `apply(original, patch) == modified`.
///
/// Both should be objects; otherwise the patch is `modified` itself. Where
/// no strategic patch can express the change (a merged list whose elements
/// lack their merge key), the patch replaces the whole object
/// (`"$patch": "replace"`).
///
/// ```
/// use serde_json::json;
/// use ordinal_merge::diff::two_way;
/// let before = json!({"spec": {"template": {"metadata": {"annotations": {"a": "1"}}}}});
/// let after = json!({"spec": {"template": {"metadata": {"annotations": {"a": "1", "b": "2"}}}}});
/// let patch = two_way(&before, &after, "apps", "StatefulSet");
/// assert_eq!(patch, json!({"spec": {"template": {"metadata": {"annotations": {"b": "2"}}}}}));
/// ```
pub fn two_way(original: &Value, modified: &Value, group: &str, kind: &str) -> Value {
    let (Value::Object(o), Value::Object(m)) = (original, modified) else {
        return modified.clone();
    };
    let opts = Options {
        set_element_order: true,
        ..Options::default()
    };
    match diff_maps(o, m, Node::root(group, kind), opts) {
        Ok(patch) => Value::Object(patch),
        Err(_) => {
            let mut patch = m.clone();
            patch.insert(PATCH.to_string(), Value::String("replace".into()));
            Value::Object(patch)
        }
    }
}

/// The patch `kubectl apply` sends: deletions are what the user removed
/// from their configuration since the last apply (`original`, the
/// `last-applied-configuration`), additions and changes are what differs
/// between the live object (`current`) and the new configuration
/// (`modified`). Fields only the server set are left alone. `original` may
/// be `null` (nothing applied before).
pub fn three_way(
    original: &Value,
    modified: &Value,
    current: &Value,
    group: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let (original, modified, current) = (
        object_or_empty(original, &empty)?,
        object_or_empty(modified, &empty)?,
        object_or_empty(current, &empty)?,
    );
    let root = Node::root(group, kind);
    let delta = diff_maps(
        current,
        modified,
        root,
        Options {
            set_element_order: true,
            ignore_deletions: true,
            ..Options::default()
        },
    )?;
    let mut patch = diff_maps(
        original,
        modified,
        root,
        Options {
            set_element_order: true,
            ignore_changes: true,
            ..Options::default()
        },
    )?;
    Merger::COMBINE.merge_map(&mut patch, &delta, root)?;
    Ok(Value::Object(patch))
}

fn object_or_empty<'a>(
    v: &'a Value,
    empty: &'a Map<String, Value>,
) -> Result<&'a Map<String, Value>, PatchError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(empty),
        other => Err(PatchError::WrongType {
            expected: gofmt::MAP_TYPE,
            actual: gofmt::type_name(other),
        }),
    }
}

fn diff_maps(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    node: Node,
    opts: Options,
) -> Result<Map<String, Value>, PatchError> {
    let mut patch = Map::new();
    let mut retain: Vec<&str> = Vec::new();
    for (key, new) in modified {
        if opts.build_retain_keys && !new.is_null() {
            retain.push(key);
        }
        let Some(old) = original.get(key) else {
            if !opts.ignore_changes {
                patch.insert(key.clone(), new.clone());
            }
            continue;
        };
        if key == PATCH {
            let (Some(o), Some(n)) = (old.as_str(), new.as_str()) else {
                return Err(PatchError::InvalidDirectiveValue);
            };
            if o != n {
                patch.insert(key.clone(), new.clone());
            }
            continue;
        }
        match (old, new) {
            (Value::Object(o), Value::Object(n)) => {
                let (info, child) = node.child(key);
                let sub_opts = Options {
                    build_retain_keys: info.patch_strategy.retains_keys(),
                    ..opts
                };
                let sub = diff_maps(o, n, child, sub_opts)?;
                if !sub.is_empty() {
                    patch.insert(key.clone(), Value::Object(sub));
                }
            }
            (Value::Array(o), Value::Array(n)) => {
                let (info, child) = node.child(key);
                if !info.patch_strategy.merges() {
                    replace_if_changed(&mut patch, key, old, new, opts);
                    continue;
                }
                let list_opts = Options {
                    build_retain_keys: info.patch_strategy.retains_keys(),
                    ..opts
                };
                let merge_key = info.patch_merge_key.unwrap_or("");
                let (changes, deletions, order) = diff_lists(o, n, merge_key, child, list_opts)?;
                if !changes.is_empty() {
                    patch.insert(key.clone(), Value::Array(changes));
                }
                if !deletions.is_empty() {
                    patch.insert(
                        format!("{DELETE_FROM_PRIMITIVE_LIST}/{key}"),
                        Value::Array(deletions),
                    );
                }
                if !order.is_empty() {
                    patch.insert(format!("{SET_ELEMENT_ORDER}/{key}"), Value::Array(order));
                }
            }
            _ => replace_if_changed(&mut patch, key, old, new, opts),
        }
    }

    if !opts.ignore_deletions {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }

    if !retain.is_empty() && (!patch.is_empty() || has_field_to_clear(original, modified)) {
        retain.sort_unstable();
        let keys = retain
            .into_iter()
            .map(|k| Value::String(k.to_string()))
            .collect();
        patch.insert(RETAIN_KEYS.to_string(), Value::Array(keys));
    }
    Ok(patch)
}

fn replace_if_changed(
    patch: &mut Map<String, Value>,
    key: &str,
    old: &Value,
    new: &Value,
    opts: Options,
) {
    if !opts.ignore_changes && old != new {
        patch.insert(key.to_string(), new.clone());
    }
}

/// Whether `original` has a non-null key that `modified` lacks.
fn has_field_to_clear(original: &Map<String, Value>, modified: &Map<String, Value>) -> bool {
    original
        .iter()
        .any(|(k, v)| !v.is_null() && !modified.contains_key(k))
}

type ListDiff = (Vec<Value>, Vec<Value>, Vec<Value>);

/// The diff of a merged list: (changed and added elements plus deletion
/// directives, deleted scalars, the `$setElementOrder` list).
fn diff_lists(
    original: &[Value],
    modified: &[Value],
    key: &str,
    node: Node,
    opts: Options,
) -> Result<ListDiff, PatchError> {
    if original.is_empty() {
        if modified.is_empty() || opts.ignore_changes {
            return Ok((Vec::new(), Vec::new(), Vec::new()));
        }
        return Ok((modified.to_vec(), Vec::new(), Vec::new()));
    }
    match order::element_kind(&[original, modified])? {
        Some(Elements::Maps) => {
            let (mut changes, deletions) = diff_lists_of_maps(original, modified, key, node, opts)?;
            order::require_merge_key(&changes, key)?;
            order::require_merge_key(modified, key)?;
            let new_order = order::identities(modified, key, Elements::Maps);
            order::sort_by(&mut changes, &new_order, key, Elements::Maps);
            let order_same = same_order(original, modified, key)?;
            changes.extend(deletions);
            let emit_order = opts.set_element_order
                && ((!opts.ignore_changes && (!changes.is_empty() || !order_same))
                    || (!opts.ignore_deletions && !changes.is_empty()));
            let set_order = if emit_order {
                new_order
                    .into_iter()
                    .map(|id| {
                        let mut m = Map::new();
                        m.insert(key.to_string(), id);
                        Value::Object(m)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok((changes, Vec::new(), set_order))
        }
        Some(Elements::Scalars) | None => {
            let (mut additions, deletions) = diff_scalars(original, modified, opts);
            order::sort_by(&mut additions, modified, "", Elements::Scalars);
            let emit_order = opts.set_element_order
                && ((!opts.ignore_deletions && !deletions.is_empty())
                    || (!opts.ignore_changes && original != modified));
            let set_order = if emit_order {
                modified.to_vec()
            } else {
                Vec::new()
            };
            Ok((additions, deletions, set_order))
        }
    }
}

/// Whether both lists name the same elements in the same order.
fn same_order(original: &[Value], modified: &[Value], key: &str) -> Result<bool, PatchError> {
    if original.len() != modified.len() {
        return Ok(false);
    }
    for (o, m) in original.iter().zip(modified) {
        if merge_key_value(o, key)? != merge_key_value(m, key)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn merge_key_value<'a>(v: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    let m = v.as_object().ok_or(PatchError::WrongType {
        expected: gofmt::MAP_TYPE,
        actual: gofmt::type_name(v),
    })?;
    m.get(key).ok_or_else(|| PatchError::MissingMergeKey {
        map: gofmt::value(v),
        key: key.to_string(),
    })
}

/// One element of a list of maps, with its merge key as upstream compares
/// it (the key's value printed as Go prints it).
struct Keyed<'a> {
    shown: String,
    id: &'a Value,
    map: &'a Map<String, Value>,
}

fn keyed<'a>(list: &'a [Value], key: &str) -> Result<Vec<Keyed<'a>>, PatchError> {
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        let id = merge_key_value(v, key)?;
        let Value::Object(map) = v else { continue };
        out.push(Keyed {
            shown: gofmt::value(id),
            id,
            map,
        });
    }
    out.sort_by(|a, b| a.shown.cmp(&b.shown));
    Ok(out)
}

/// Walks both lists sorted by merge key: equal keys diff recursively, keys
/// only in `modified` are additions, keys only in `original` deletions.
fn diff_lists_of_maps(
    original: &[Value],
    modified: &[Value],
    key: &str,
    node: Node,
    opts: Options,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let old = keyed(original, key)?;
    let new = keyed(modified, key)?;
    let mut changes = Vec::new();
    let mut deletions = Vec::new();
    let (mut i, mut j) = (0, 0);
    loop {
        let step = match (old.get(i), new.get(j)) {
            (None, None) => break,
            (Some(o), Some(n)) => o.shown.cmp(&n.shown),
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
        };
        match step {
            std::cmp::Ordering::Equal => {
                if let (Some(o), Some(n)) = (old.get(i), new.get(j)) {
                    let mut sub = diff_maps(o.map, n.map, node, opts)?;
                    if !sub.is_empty() {
                        sub.insert(key.to_string(), n.id.clone());
                        changes.push(Value::Object(sub));
                    }
                }
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Greater => {
                if let (false, Some(n)) = (opts.ignore_changes, new.get(j)) {
                    changes.push(Value::Object(n.map.clone()));
                }
                j += 1;
            }
            std::cmp::Ordering::Less => {
                if let (false, Some(o)) = (opts.ignore_deletions, old.get(i)) {
                    let mut d = Map::new();
                    d.insert(key.to_string(), o.id.clone());
                    d.insert(PATCH.to_string(), Value::String("delete".into()));
                    deletions.push(Value::Object(d));
                }
                i += 1;
            }
        }
    }
    Ok((changes, deletions))
}

/// Additions and deletions between two lists of scalars, compared as
/// upstream compares them (by their printed form).
fn diff_scalars(original: &[Value], modified: &[Value], opts: Options) -> (Vec<Value>, Vec<Value>) {
    let (old, new) = (by_printed_form(original), by_printed_form(modified));
    let mut additions = Vec::new();
    let mut deletions: Vec<Value> = Vec::new();
    let (mut i, mut j) = (0, 0);
    loop {
        match (old.get(i), new.get(j)) {
            (None, None) => break,
            (Some(o), Some(n)) if o.0 == n.0 => {
                i += 1;
                j += 1;
            }
            (Some(o), Some(n)) if o.0 < n.0 => {
                if !opts.ignore_deletions && !deletions.contains(o.1) {
                    deletions.push(o.1.clone());
                }
                i += 1;
            }
            (Some(o), None) => {
                if !opts.ignore_deletions && !deletions.contains(o.1) {
                    deletions.push(o.1.clone());
                }
                i += 1;
            }
            (_, Some(n)) => {
                if !opts.ignore_changes {
                    additions.push(n.1.clone());
                }
                j += 1;
            }
        }
    }
    (additions, deletions)
}

fn by_printed_form(list: &[Value]) -> Vec<(String, &Value)> {
    let mut v: Vec<(String, &Value)> = list.iter().map(|x| (gofmt::value(x), x)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[cfg(test)]
mod tests;
