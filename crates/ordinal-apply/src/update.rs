//! Ownership for every write that is not an apply: create, update (PUT),
//! JSON/merge/strategic patch.
//!
//! The writer takes every field it added or changed, away from whoever
//! owned it before (an update never conflicts); a field the write removed
//! leaves every manager's set. The writer's `Update` entry keeps what it
//! owned before and gets a fresh timestamp only when it took something.

use serde_json::{Map, Value};

use crate::Schema;
use crate::canonical::is_canonical_list;
use crate::compare::compare_tracked;
use crate::managed::{self, ManagedFieldsEntry, Operation, decode_managed_fields};
use crate::scope::Scope;

/// Records `manager`'s write of `new` over `old` (`None` for a create) and
/// returns `new` with its `metadata.managedFields` brought up to date.
///
/// Call it with the object about to be stored, after defaulting and after
/// the server has set its own metadata. `manager` is the request's
/// `fieldManager` parameter or, without one, the name upstream derives from
/// the User-Agent: the part before the first `/`, so `kubectl/v1.33.0
/// (linux/amd64) kubernetes/abc` gives `kubectl`; kubectl itself sends
/// `fieldManager=kubectl-client-side-apply` for `kubectl apply`,
/// `kubectl-edit`, `kubectl-create`… for its other commands.
///
/// When `new` carries managedFields they are taken as the starting point
/// (a client may edit them; `[]` or `[{}]` clears them), unless they do not
/// decode or the write is to a subresource, in which case `old`'s are used.
pub fn update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    schema: &dyn Schema,
) -> Value {
    update_at(
        old,
        new,
        manager,
        api_version,
        subresource,
        schema,
        &managed::now(),
    )
}

pub(crate) fn update_at(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    schema: &dyn Schema,
    now: &str,
) -> Value {
    let mut result = new.clone();
    if !result.is_object() {
        return result;
    }
    let scope = Scope::new(subresource, schema);
    let nothing = Value::Object(Map::new());
    let before = match old {
        Some(object @ Value::Object(_)) => object,
        _ => &nothing,
    };
    let comparison = compare_tracked(before, new, schema, &scope);
    let changed = comparison.changed();
    let unchanged = changed.is_empty() && comparison.removed.is_empty();

    let mut entries: Vec<(ManagedFieldsEntry, Option<&Value>)> = Vec::new();
    match kept_list(old, new, subresource) {
        Some((list, from_new)) if unchanged => {
            // Every entry stays as it is, and the list is already written
            // the way it would be written again.
            if !from_new {
                managed::put_list(&mut result, Some(Value::Array(list.clone())));
            }
            return result;
        }
        Some((list, _)) => {
            for (index, value) in list.iter().enumerate() {
                match ManagedFieldsEntry::from_value(value, index) {
                    Ok(entry) => entries.push((entry, Some(value))),
                    Err(_) => break,
                }
            }
            if entries.len() != list.len() {
                entries = unkept(starting_entries(old, new, subresource));
            }
        }
        None => entries = unkept(starting_entries(old, new, subresource)),
    }

    for (entry, original) in &mut entries {
        if entry.fields.intersects(&changed) || entry.fields.intersects(&comparison.removed) {
            entry.fields = entry
                .fields
                .difference(&changed)
                .difference(&comparison.removed);
            *original = None;
        }
    }
    if !changed.is_empty() {
        let me = managed::identity(manager, Operation::Update, api_version, subresource);
        match entries.iter_mut().find(|(e, _)| e.identity() == me) {
            Some((entry, original)) => {
                entry.fields = entry.fields.union(&changed);
                entry.time = Some(now.to_string());
                *original = None;
            }
            None => entries.push((
                ManagedFieldsEntry {
                    manager: manager.to_string(),
                    operation: Operation::Update,
                    api_version: api_version.to_string(),
                    time: Some(now.to_string()),
                    fields: changed,
                    subresource: subresource.filter(|s| !s.is_empty()).map(str::to_string),
                },
                None,
            )),
        }
    }
    managed::store_keeping(&mut result, entries);
    result
}

/// Entries with no JSON of their own to keep.
fn unkept<'a>(entries: Vec<ManagedFieldsEntry>) -> Vec<(ManagedFieldsEntry, Option<&'a Value>)> {
    entries.into_iter().map(|e| (e, None)).collect()
}

/// The `managedFields` list an object carries, if it is a list.
fn managed_list(object: &Value) -> Option<&Vec<Value>> {
    object
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
}

/// The list [`starting_entries`] would decode, when it is one that
/// re-encodes to itself; and whether it is `new`'s own.
fn kept_list<'a>(
    old: Option<&'a Value>,
    new: &'a Value,
    subresource: Option<&str>,
) -> Option<(&'a Vec<Value>, bool)> {
    let stored = || {
        old.and_then(managed_list)
            .filter(|list| is_canonical_list(list))
            .map(|list| (list, false))
    };
    if subresource.is_some_and(|s| !s.is_empty()) {
        return stored();
    }
    match new.get("metadata").and_then(|m| m.get("managedFields")) {
        None | Some(Value::Null) => stored(),
        Some(Value::Array(list)) if is_canonical_list(list) => Some((list, true)),
        Some(_) => None,
    }
}

/// The entries the write starts from: the request's own, when it sends
/// usable ones to the main resource, else the stored object's.
fn starting_entries(
    old: Option<&Value>,
    new: &Value,
    subresource: Option<&str>,
) -> Vec<ManagedFieldsEntry> {
    let stored = || {
        old.and_then(|o| decode_managed_fields(o).ok())
            .unwrap_or_default()
    };
    if subresource.is_some_and(|s| !s.is_empty()) {
        return stored();
    }
    let sent = new.get("metadata").and_then(|m| m.get("managedFields"));
    if let Some(Value::Array(list)) = sent {
        let empty_entry = |e: &Value| e.as_object().is_some_and(Map::is_empty);
        if list.is_empty() || (list.len() == 1 && list.iter().all(empty_entry)) {
            return Vec::new();
        }
    }
    match decode_managed_fields(new) {
        Ok(entries) if !entries.is_empty() => entries,
        _ => stored(),
    }
}
