//! Ownership for every write that is not an apply: create, update (PUT),
//! JSON/merge/strategic patch.
//!
//! The writer takes every field it added or changed, away from whoever
//! owned it before (an update never conflicts); a field the write removed
//! leaves every manager's set. The writer's `Update` entry keeps what it
//! owned before and gets a fresh timestamp only when it took something.

use serde_json::{Map, Value};

use crate::compare::compare;
use crate::managed::{self, ManagedFieldsEntry, Operation, decode_managed_fields};
use crate::scope::Scope;
use crate::{Schema, strip_managed_fields};

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
    let mut entries = starting_entries(old, new, subresource);
    let mut before = match old {
        Some(object @ Value::Object(_)) => object.clone(),
        _ => Value::Object(Map::new()),
    };
    strip_managed_fields(&mut before);
    strip_managed_fields(&mut result);

    let comparison = compare(&before, &result, schema).filtered(|set| scope.trackable(set));
    let changed = comparison.changed();
    for entry in &mut entries {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }
    if !changed.is_empty() {
        let me = managed::identity(manager, Operation::Update, api_version, subresource);
        match entries.iter_mut().find(|e| e.identity() == me) {
            Some(entry) => {
                entry.fields = entry.fields.union(&changed);
                entry.time = Some(now.to_string());
            }
            None => entries.push(ManagedFieldsEntry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                time: Some(now.to_string()),
                fields: changed,
                subresource: subresource.filter(|s| !s.is_empty()).map(str::to_string),
            }),
        }
    }
    managed::store(&mut result, entries);
    result
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
