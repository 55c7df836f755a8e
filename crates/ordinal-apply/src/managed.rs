//! `metadata.managedFields`: who owns which fields, read from and written
//! back to an object.
//!
//! There is one entry per manager identity. For `Apply` that is (manager,
//! subresource); for `Update` it is (manager, apiVersion, subresource), as
//! upstream keys update entries by API version too. Entries are written
//! sorted as kube-apiserver sorts them: `Apply` before `Update`, then
//! oldest first, then by manager, API version and subresource. At most
//! [`MAX_UPDATE_MANAGERS`] `Update` entries are kept; older ones are folded
//! into an `ancient-changes` entry per API version.

use std::collections::BTreeMap;
use std::fmt;

use ordinal_core::go_text::quote;
use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::go_text;

/// How many `Update` entries an object keeps before the oldest are merged.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that holds the merged oldest `Update` entries.
pub const ANCIENT_CHANGES_MANAGER: &str = "ancient-changes";

/// The kind of write that gave a manager its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write: create, update (PUT), patch.
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `metadata.managedFields` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedFieldsEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, whole seconds, UTC, as written (`2024-05-01T10:00:00Z`).
    pub time: Option<String>,
    pub fields: FieldSet,
    pub subresource: Option<String>,
}

/// A `managedFields` list that does not decode; messages follow upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManagedFieldsError(pub String);

impl ManagedFieldsEntry {
    /// The key that makes two entries the same manager: upstream's manager
    /// identifier, the entry's JSON without fields or time (and without
    /// apiVersion for `Apply`).
    pub fn identity(&self) -> String {
        identity(
            &self.manager,
            self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    /// How conflict messages name this manager.
    #[cfg(test)]
    pub(crate) fn describe(&self) -> String {
        describe(
            &self.manager,
            self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    /// The entry as the object stores it.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        if !self.manager.is_empty() {
            map.insert("manager".into(), Value::from(self.manager.clone()));
        }
        map.insert("operation".into(), Value::from(self.operation.as_str()));
        if !self.api_version.is_empty() {
            map.insert("apiVersion".into(), Value::from(self.api_version.clone()));
        }
        if let Some(time) = &self.time {
            map.insert("time".into(), Value::from(time.clone()));
        }
        map.insert("fieldsType".into(), Value::from("FieldsV1"));
        map.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(sub) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            map.insert("subresource".into(), Value::from(sub));
        }
        Value::Object(map)
    }

    /// Reads the entry at `index` of a `managedFields` list.
    pub fn from_value(
        value: &Value,
        index: usize,
    ) -> Result<ManagedFieldsEntry, ManagedFieldsError> {
        let err = |m: String| ManagedFieldsError(m);
        let Value::Object(map) = value else {
            return Err(err(format!(
                "managed fields entry {index} is not an object"
            )));
        };
        let text = |name: &str| map.get(name).and_then(Value::as_str).unwrap_or("");
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err(err("operation must be `Apply` or `Update`".into())),
        };
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err(err("apiVersion must not be empty".into()));
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => {
                return Err(err(format!(
                    "missing fieldsType in managed fields entry {index}"
                )));
            }
            other => {
                return Err(err(format!(
                    "invalid fieldsType {} in managed fields entry {index}",
                    quote(other)
                )));
            }
        }
        let fields = match map.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(doc) => FieldSet::from_fields_v1(doc).map_err(|e| {
                err(format!(
                    "error decoding versioned set: error decoding set: {e}"
                ))
            })?,
        };
        let subresource = Some(text("subresource")).filter(|s| !s.is_empty());
        Ok(ManagedFieldsEntry {
            manager: text("manager").to_string(),
            operation,
            api_version: api_version.to_string(),
            time: map.get("time").and_then(Value::as_str).map(str::to_string),
            fields,
            subresource: subresource.map(str::to_string),
        })
    }

    fn seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second())
    }
}

/// The current time as managedFields entries record it: whole seconds, UTC.
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn identity(
    manager: &str,
    operation: Operation,
    api_version: &str,
    subresource: Option<&str>,
) -> String {
    let mut out = String::from("{");
    let mut fields: Vec<(&str, &str)> = Vec::new();
    if !manager.is_empty() {
        fields.push(("manager", manager));
    }
    fields.push(("operation", operation.as_str()));
    if operation == Operation::Update && !api_version.is_empty() {
        fields.push(("apiVersion", api_version));
    }
    if let Some(sub) = subresource.filter(|s| !s.is_empty()) {
        fields.push(("subresource", sub));
    }
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_text::write_json_string(&mut out, name);
        out.push(':');
        go_text::write_json_string(&mut out, value);
    }
    out.push('}');
    out
}

pub(crate) fn describe(
    manager: &str,
    operation: Operation,
    api_version: &str,
    subresource: Option<&str>,
) -> String {
    let mut out = quote(manager);
    if let Some(sub) = subresource.filter(|s| !s.is_empty()) {
        out = format!("{out} with subresource {}", quote(sub));
    }
    match operation {
        Operation::Update => format!("{out} using {api_version}"),
        Operation::Apply => out,
    }
}

/// The entries of `object`'s `metadata.managedFields` (none when absent).
/// When two entries have the same identity, the later one counts.
pub fn decode_managed_fields(
    object: &Value,
) -> Result<Vec<ManagedFieldsEntry>, ManagedFieldsError> {
    let list = match object.get("metadata").and_then(|m| m.get("managedFields")) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ManagedFieldsError("managedFields must be a list".into())),
    };
    let mut by_identity: BTreeMap<String, ManagedFieldsEntry> = BTreeMap::new();
    for (index, value) in list.iter().enumerate() {
        let entry = ManagedFieldsEntry::from_value(value, index)?;
        by_identity.insert(entry.identity(), entry);
    }
    Ok(by_identity.into_values().collect())
}

/// The `managedFields` list for `entries`, sorted as kube-apiserver sorts
/// it; `None` when there is nothing to record.
pub fn encode_managed_fields(entries: &[ManagedFieldsEntry]) -> Option<Value> {
    if entries.is_empty() {
        return None;
    }
    let mut sorted: Vec<&ManagedFieldsEntry> = entries.iter().collect();
    sorted.sort_by(|p, q| write_order(p, q));
    Some(Value::Array(
        sorted
            .into_iter()
            .map(ManagedFieldsEntry::to_value)
            .collect(),
    ))
}

/// The order kube-apiserver writes entries in.
fn write_order(p: &ManagedFieldsEntry, q: &ManagedFieldsEntry) -> std::cmp::Ordering {
    p.operation
        .cmp(&q.operation)
        .then_with(|| p.seconds().cmp(&q.seconds()))
        .then_with(|| p.manager.cmp(&q.manager))
        .then_with(|| p.api_version.cmp(&q.api_version))
        .then_with(|| {
            p.subresource
                .as_deref()
                .unwrap_or("")
                .cmp(q.subresource.as_deref().unwrap_or(""))
        })
}

/// [`store`] for entries some of which are known to encode to the JSON
/// they come with: those are written as that JSON.
pub(crate) fn store_keeping(
    object: &mut Value,
    mut entries: Vec<(ManagedFieldsEntry, Option<&Value>)>,
) {
    entries.retain(|(e, _)| !e.fields.is_empty());
    let updaters = entries
        .iter()
        .filter(|(e, _)| e.operation == Operation::Update)
        .count();
    if updaters > MAX_UPDATE_MANAGERS {
        store(object, entries.into_iter().map(|(e, _)| e).collect());
        return;
    }
    entries.sort_by(|(p, _), (q, _)| write_order(p, q));
    let list = (!entries.is_empty()).then(|| {
        Value::Array(
            entries
                .iter()
                .map(|(e, original)| match original {
                    Some(json) => (*json).clone(),
                    None => e.to_value(),
                })
                .collect(),
        )
    });
    put_list(object, list);
}

/// Writes `entries` into `object` (dropping empty ones and capping the
/// `Update` entries), or removes `managedFields` when none remain.
pub(crate) fn store(object: &mut Value, mut entries: Vec<ManagedFieldsEntry>) {
    entries.retain(|e| !e.fields.is_empty());
    cap_update_managers(&mut entries, MAX_UPDATE_MANAGERS);
    put_list(object, encode_managed_fields(&entries));
}

/// Sets `object`'s `metadata.managedFields` to `list`, or removes it.
pub(crate) fn put_list(object: &mut Value, list: Option<Value>) {
    let Some(metadata) = object.as_object_mut().map(|o| {
        o.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
    }) else {
        return;
    };
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    match list {
        Some(list) => {
            metadata.insert("managedFields".into(), list);
        }
        None => {
            metadata.remove("managedFields");
        }
    }
}

/// Folds the oldest `Update` entries into per-version `ancient-changes`
/// entries until at most `max` `Update` entries remain.
pub(crate) fn cap_update_managers(entries: &mut Vec<ManagedFieldsEntry>, max: usize) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| {
            entries
                .get(i)
                .is_some_and(|e| e.operation == Operation::Update)
        })
        .collect();
    if updaters.len() <= max {
        return;
    }
    updaters.sort_by(|&a, &b| match (entries.get(a), entries.get(b)) {
        (Some(p), Some(q)) => p
            .seconds()
            .cmp(&q.seconds())
            .then_with(|| p.identity().cmp(&q.identity())),
        _ => std::cmp::Ordering::Equal,
    });
    let mut remaining = updaters.len();
    let mut first_of_version: BTreeMap<String, usize> = BTreeMap::new();
    let mut bucket_of_version: BTreeMap<String, usize> = BTreeMap::new();
    let mut drop = vec![false; entries.len()];
    for index in updaters {
        if remaining <= max {
            break;
        }
        let Some(entry) = entries.get(index).cloned() else {
            continue;
        };
        let version = entry.api_version.clone();
        let Some(&first) = first_of_version.get(&version) else {
            first_of_version.insert(version, index);
            continue;
        };
        let bucket = match bucket_of_version.get(&version) {
            Some(&bucket) => bucket,
            None => {
                let existing = entries.iter().position(|e| {
                    e.manager == ANCIENT_CHANGES_MANAGER
                        && e.operation == Operation::Update
                        && e.api_version == version
                        && e.subresource.is_none()
                });
                let bucket = existing.unwrap_or(first);
                bucket_of_version.insert(version.clone(), bucket);
                bucket
            }
        };
        if bucket == index {
            continue;
        }
        if let Some(target) = entries.get_mut(bucket) {
            target.manager = ANCIENT_CHANGES_MANAGER.to_string();
            target.subresource = None;
            target.fields = target.fields.union(&entry.fields);
            target.time = entry.time.clone();
        }
        if let Some(flag) = drop.get_mut(index) {
            *flag = true;
        }
        remaining -= 1;
    }
    let mut index = 0;
    entries.retain(|_| {
        let keep = !drop.get(index).copied().unwrap_or(false);
        index += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: Operation, time: &str) -> ManagedFieldsEntry {
        let fields = FieldSet::from_fields_v1(&json!({"f:spec": {format!("f:{manager}"): {}}}))
            .expect("valid");
        ManagedFieldsEntry {
            manager: manager.into(),
            operation,
            api_version: "apps/v1".into(),
            time: Some(time.into()),
            fields,
            subresource: None,
        }
    }

    #[test]
    fn identities_and_descriptions_follow_upstream() {
        let mut e = entry("kubectl", Operation::Apply, "2024-01-01T00:00:00Z");
        assert_eq!(e.identity(), r#"{"manager":"kubectl","operation":"Apply"}"#);
        assert_eq!(e.describe(), r#""kubectl""#);
        e.operation = Operation::Update;
        e.subresource = Some("status".into());
        assert_eq!(
            e.identity(),
            r#"{"manager":"kubectl","operation":"Update","apiVersion":"apps/v1","subresource":"status"}"#
        );
        assert_eq!(
            e.describe(),
            r#""kubectl" with subresource "status" using apps/v1"#
        );
    }

    #[test]
    fn round_trips_and_sorts_like_kube_apiserver() {
        let entries = vec![
            entry("b", Operation::Update, "2024-01-01T00:00:02Z"),
            entry("a", Operation::Update, "2024-01-01T00:00:02Z"),
            entry("z", Operation::Update, "2024-01-01T00:00:01Z"),
            entry("y", Operation::Apply, "2024-01-01T00:00:09Z"),
        ];
        let encoded = encode_managed_fields(&entries).expect("entries");
        let order: Vec<&str> = encoded
            .as_array()
            .map(|l| l.iter().filter_map(|e| e["manager"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(order, vec!["y", "z", "a", "b"]);
        let object = json!({"metadata": {"managedFields": encoded}});
        let mut decoded = decode_managed_fields(&object).expect("decodes");
        decoded.sort_by_key(|e| e.manager.clone());
        let mut expected = entries;
        expected.sort_by_key(|e| e.manager.clone());
        assert_eq!(decoded, expected);
    }

    #[test]
    fn decoding_errors_use_upstream_wording() {
        let bad = |entry: Value| {
            decode_managed_fields(&json!({"metadata": {"managedFields": [entry]}}))
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            bad(
                json!({"manager": "m", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"})
            ),
            "operation must be `Apply` or `Update`"
        );
        assert_eq!(
            bad(json!({"manager": "m", "operation": "Apply", "fieldsType": "FieldsV1"})),
            "apiVersion must not be empty"
        );
        assert_eq!(
            bad(json!({"manager": "m", "operation": "Apply", "apiVersion": "v1"})),
            "missing fieldsType in managed fields entry 0"
        );
    }

    #[test]
    fn oldest_update_entries_fold_into_ancient_changes() {
        let mut entries: Vec<ManagedFieldsEntry> = (0..12)
            .map(|i| {
                entry(
                    &format!("m{i:02}"),
                    Operation::Update,
                    &format!("2024-01-01T00:00:{i:02}Z"),
                )
            })
            .collect();
        entries.push(entry("applier", Operation::Apply, "2024-01-01T00:00:00Z"));
        cap_update_managers(&mut entries, MAX_UPDATE_MANAGERS);
        let updates: Vec<&ManagedFieldsEntry> = entries
            .iter()
            .filter(|e| e.operation == Operation::Update)
            .collect();
        assert_eq!(updates.len(), MAX_UPDATE_MANAGERS);
        let ancient = updates
            .iter()
            .find(|e| e.manager == ANCIENT_CHANGES_MANAGER)
            .expect("bucket");
        assert_eq!(ancient.fields.len(), 3);
        assert_eq!(ancient.time.as_deref(), Some("2024-01-01T00:00:02Z"));
        assert!(entries.iter().any(|e| e.manager == "applier"));
        assert!(
            !entries
                .iter()
                .any(|e| e.manager == "m00" || e.manager == "m02")
        );
    }
}
