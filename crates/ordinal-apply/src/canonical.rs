//! Whether a stored `managedFields` list is already exactly what encoding
//! its decoded entries writes back: sorted, one entry per manager, no empty
//! entries, no more `Update` entries than kept, and each `fieldsV1` in the
//! one form the encoder produces. Such a list, or any entry of it whose
//! fields did not change, can be kept as it is instead of being decoded and
//! encoded again.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::go_text;
use crate::managed::MAX_UPDATE_MANAGERS;

/// The parts of a canonical entry that order and identify it.
struct Head<'a> {
    update: bool,
    seconds: i64,
    manager: &'a str,
    api_version: &'a str,
    subresource: &'a str,
}

impl Head<'_> {
    /// The order kube-apiserver writes entries in.
    fn order(&self, other: &Head<'_>) -> Ordering {
        self.update
            .cmp(&other.update)
            .then(self.seconds.cmp(&other.seconds))
            .then_with(|| self.manager.cmp(other.manager))
            .then_with(|| self.api_version.cmp(other.api_version))
            .then_with(|| self.subresource.cmp(other.subresource))
    }

    /// Whether the two entries count as the same manager.
    fn same_manager(&self, other: &Head<'_>) -> bool {
        self.update == other.update
            && self.manager == other.manager
            && self.subresource == other.subresource
            && (!self.update || self.api_version == other.api_version)
    }
}

/// Whether `list` re-encodes to itself.
pub(crate) fn is_canonical_list(list: &[Value]) -> bool {
    let mut heads: Vec<Head<'_>> = Vec::with_capacity(list.len());
    for value in list {
        let Some(head) = canonical_entry(value) else {
            return false;
        };
        if let Some(last) = heads.last()
            && last.order(&head) != Ordering::Less
        {
            return false;
        }
        if heads.iter().any(|h| h.same_manager(&head)) {
            return false;
        }
        heads.push(head);
    }
    !heads.is_empty() && heads.iter().filter(|h| h.update).count() <= MAX_UPDATE_MANAGERS
}

/// Whether one entry re-encodes to itself (`Some` with its head if so).
fn canonical_entry(value: &Value) -> Option<Head<'_>> {
    let map = value.as_object()?;
    let text = |name: &str| match map.get(name) {
        None => Some(None),
        Some(Value::String(s)) if !s.is_empty() => Some(Some(s.as_str())),
        Some(_) => None,
    };
    let manager = text("manager")?.unwrap_or("");
    let update = match text("operation")? {
        Some("Apply") => false,
        Some("Update") => true,
        _ => return None,
    };
    let api_version = text("apiVersion")??;
    let subresource = text("subresource")?.unwrap_or("");
    if text("fieldsType")? != Some("FieldsV1") {
        return None;
    }
    let seconds = match map.get("time") {
        None => 0,
        Some(Value::String(t)) => t.parse::<jiff::Timestamp>().map_or(0, |t| t.as_second()),
        Some(_) => return None,
    };
    let known = [
        "manager",
        "operation",
        "apiVersion",
        "time",
        "fieldsType",
        "fieldsV1",
        "subresource",
    ];
    if !map.keys().all(|k| known.contains(&k.as_str())) {
        return None;
    }
    let fields = map.get("fieldsV1")?.as_object()?;
    if fields.is_empty() || fields.contains_key(".") || !canonical_children(fields) {
        return None;
    }
    Some(Head {
        update,
        seconds,
        manager,
        api_version,
        subresource,
    })
}

/// Whether every step of a non-root node is written the encoder's way and
/// the node is one the encoder writes: `{}`, or steps with an optional
/// `"." : {}`.
fn canonical_node(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    if map.is_empty() {
        return true;
    }
    if let Some(dot) = map.get(".")
        && dot.as_object().is_none_or(|d| !d.is_empty())
    {
        return false;
    }
    map.len() > usize::from(map.contains_key(".")) && canonical_children(map)
}

fn canonical_children(map: &Map<String, Value>) -> bool {
    map.iter()
        .all(|(key, child)| key == "." || (canonical_key(key) && canonical_node(child)))
}

/// Whether `key` names a known kind of step exactly as the encoder names
/// it. Keys holding non-integer numbers are refused: two spellings of one
/// number would name the same step.
fn canonical_key(key: &str) -> bool {
    let Some((kind, rest)) = key.split_at_checked(2) else {
        return false;
    };
    match kind {
        "f:" => true,
        "i:" => rest.parse::<usize>().is_ok_and(|i| i.to_string() == rest),
        "v:" => serde_json::from_str::<Value>(rest).is_ok_and(|v| {
            let mut out = String::new();
            go_text::write_json_value(&mut out, &v);
            integral(&v) && out == rest
        }),
        "k:" => serde_json::from_str::<Value>(rest).is_ok_and(|v| {
            let mut out = String::new();
            go_text::write_json_value(&mut out, &v);
            v.is_object() && integral(&v) && out == rest
        }),
        _ => false,
    }
}

/// Whether every number in `v` is an integer.
fn integral(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(items) => items.iter().all(integral),
        Value::Object(map) => map.values().all(integral),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: &str, time: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": "v1",
               "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    fn labels() -> Value {
        json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
               "f:spec": {"f:ports": {"k:{\"port\":80}": {".": {}, "f:port": {}}}}})
    }

    #[test]
    fn what_the_encoder_writes_is_canonical() {
        let list = [
            entry("a", "Apply", "2024-01-01T00:00:05Z", labels()),
            entry("b", "Update", "2024-01-01T00:00:01Z", json!({"f:x": {}})),
            entry("c", "Update", "2024-01-01T00:00:01Z", json!({"f:y": {}})),
        ];
        assert!(is_canonical_list(&list));
    }

    #[test]
    fn anything_the_encoder_would_rewrite_is_not() {
        let b = entry("b", "Update", "2024-01-01T00:00:01Z", json!({"f:x": {}}));
        let c = entry("c", "Update", "2024-01-01T00:00:01Z", json!({"f:y": {}}));
        let rewritten = [
            vec![c.clone(), b.clone()],
            vec![b.clone(), b.clone()],
            vec![],
            vec![entry("b", "Update", "t", json!({}))],
            vec![entry("b", "Update", "t", json!({"f:x": {".": {}}}))],
            vec![entry(
                "b",
                "Update",
                "t",
                json!({"f:x": {".": {}, "x:y": {}}}),
            )],
            vec![entry("b", "Update", "t", json!({".": {}, "f:x": {}}))],
            vec![entry("b", "Update", "t", json!({"k:{\"a\":1.0}": {}}))],
            vec![entry(
                "b",
                "Update",
                "t",
                json!({"k:{\"b\":1,\"a\":2}": {}}),
            )],
            vec![entry("b", "Update", "t", json!({"i:01": {}}))],
            vec![entry("", "Update", "t", json!({"f:x": {}}))],
            vec![
                json!({"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:x": {}}, "extra": 1}),
            ],
        ];
        for list in rewritten {
            assert!(!is_canonical_list(&list), "{list:?}");
        }
        let many: Vec<Value> = (0..=MAX_UPDATE_MANAGERS)
            .map(|i| entry(&format!("m{i:02}"), "Update", "t", json!({"f:x": {}})))
            .collect();
        assert!(!is_canonical_list(&many));
    }
}
