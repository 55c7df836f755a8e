//! Server-side apply (`PATCH` with `application/apply-patch+yaml`).
//!
//! The configuration is merged into the live object; whatever this manager
//! applied last time and leaves out now is removed unless another manager
//! owns it; the manager's `Apply` entry becomes exactly the fields of the
//! configuration. A field the configuration changes that another manager
//! owns is a conflict, refused unless `force`, which hands the field over.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::compare::compare_tracked;
use crate::error::{ApplyError, Conflict, ValidationErrors};
use crate::extract::extract;
use crate::managed::{self, ManagedFieldsEntry, Operation, decode_managed_fields};
use crate::merge::merge;
use crate::prune::prune;
use crate::scope::Scope;
use crate::{Schema, strip_managed_fields};

/// Applies `applied` (the request body, already parsed from YAML or JSON)
/// for `manager` and returns the object to store, `metadata.managedFields`
/// included, or why it cannot be applied.
///
/// `live` is the stored object, `None` to create it. `api_version` is the
/// endpoint's (`apps/v1`); `subresource` is `Some("status")` for
/// `…/status`. Server-owned metadata in the configuration is ignored, and
/// so is `status` on the main resource of a type with a status subresource
/// (see [`Schema::has_status_subresource`]): the result keeps the live
/// values. `metadata.resourceVersion` is not checked here; a caller that
/// honours it as a precondition reads it from `applied`.
///
/// Applying the same configuration twice returns the object unchanged,
/// managedFields and their timestamps included.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    subresource: Option<&str>,
    schema: &dyn Schema,
) -> Result<Value, ApplyError> {
    let request = Request {
        manager,
        force,
        api_version,
        subresource,
        now: &managed::now(),
    };
    apply_at(live, applied, &request, schema)
}

/// Everything about one apply besides the objects.
pub(crate) struct Request<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub api_version: &'a str,
    pub subresource: Option<&'a str>,
    /// The time to record, as managedFields write it.
    pub now: &'a str,
}

pub(crate) fn apply_at(
    live: Option<&Value>,
    applied: &Value,
    request: &Request<'_>,
    schema: &dyn Schema,
) -> Result<Value, ApplyError> {
    let config = checked_config(applied, request.api_version)?;
    let (config_fields, problems) = extract(&config, schema);
    if !problems.is_empty() {
        return Err(ApplyError::InvalidObject {
            object: describe_object(&config),
            errors: ValidationErrors(problems),
        });
    }
    let scope = Scope::new(request.subresource, schema);
    let applied_set = scope.trackable(&config_fields);

    let mut base = match live {
        Some(object @ Value::Object(_)) => object.clone(),
        _ => Value::Object(Map::new()),
    };
    // A stored object whose managedFields do not decode starts over.
    let mut entries = decode_managed_fields(&base).unwrap_or_default();
    strip_managed_fields(&mut base);

    let me = managed::identity(
        request.manager,
        Operation::Apply,
        request.api_version,
        request.subresource,
    );
    let previous = entries
        .iter()
        .position(|e| e.identity() == me)
        .map(|i| entries.remove(i));

    let mut merged = merge(&base, &config, schema, &|path| scope.skips(path));
    if let Some(previous) = &previous {
        let owned = entries
            .iter()
            .fold(applied_set.clone(), |all, e| all.union(&e.fields));
        prune(&mut merged, &previous.fields, &owned, schema);
    }

    let comparison = compare_tracked(&base, &merged, schema, &scope);
    let changed = comparison.changed();
    entries.sort_by_key(ManagedFieldsEntry::identity);
    let conflicts: Vec<Conflict> = entries
        .iter()
        .flat_map(|e| {
            e.fields
                .intersection(&changed)
                .paths()
                .into_iter()
                .map(|path| Conflict {
                    manager: e.manager.clone(),
                    operation: e.operation,
                    api_version: e.api_version.clone(),
                    subresource: e.subresource.clone(),
                    field: path.to_string(),
                })
        })
        .collect();
    if !conflicts.is_empty() && !request.force {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for entry in &mut entries {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }

    let previous_time = previous.and_then(|p| p.time);
    let time = match previous_time {
        Some(time) if merged == base => time,
        _ => request.now.to_string(),
    };
    entries.push(ManagedFieldsEntry {
        manager: request.manager.to_string(),
        operation: Operation::Apply,
        api_version: request.api_version.to_string(),
        time: Some(time),
        fields: applied_set,
        subresource: request
            .subresource
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    });
    managed::store(&mut merged, entries);
    Ok(merged)
}

/// The configuration as an object, after the checks upstream makes before
/// looking at its fields.
fn checked_config<'a>(applied: &'a Value, api_version: &str) -> Result<Cow<'a, Value>, ApplyError> {
    let found = match applied {
        Value::Object(_) => None,
        Value::Null => {
            return checked_config_object(Cow::Owned(Value::Object(Map::new())), api_version);
        }
        Value::Array(_) => Some("array"),
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("bool"),
    };
    if let Some(found) = found {
        return Err(ApplyError::NotAnObject { found });
    }
    checked_config_object(Cow::Borrowed(applied), api_version)
}

fn checked_config_object<'a>(
    config: Cow<'a, Value>,
    api_version: &str,
) -> Result<Cow<'a, Value>, ApplyError> {
    let specified = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if specified != api_version {
        return Err(ApplyError::WrongVersion {
            specified: specified.to_string(),
            expected: api_version.to_string(),
        });
    }
    let managed_fields = config.get("metadata").and_then(|m| m.get("managedFields"));
    if managed_fields.is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::ManagedFieldsNotNil);
    }
    Ok(config)
}

/// `namespace/name; group/version, Kind=Kind`, as upstream names the
/// object in typed-conversion errors.
fn describe_object(config: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let metadata = config.get("metadata");
    let namespace = text(metadata.and_then(|m| m.get("namespace")));
    let name = text(metadata.and_then(|m| m.get("name")));
    let api_version = text(config.get("apiVersion"));
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    let kind = text(config.get("kind"));
    format!("{namespace}/{name}; {group}/{version}, Kind={kind}")
}
