//! The FieldsV1 encoding of a field set, as stored in
//! `metadata.managedFields[].fieldsV1`.
//!
//! Each step is an object key: `f:<field>`, `k:<key fields as JSON>` for a
//! map-list element, `v:<value as JSON>` for a set element, `i:<index>` for
//! an atomic-list position. A step that is itself in the set and also has
//! paths below it carries a `.` key. `{"f:spec":{"f:replicas":{}}}` is the
//! set holding `.spec.replicas`.
//!
//! [`FieldSet::to_fields_v1`] gives the set as a `serde_json` value; the
//! tests' `FieldSet::to_json_string` writes the exact bytes kube-apiserver
//! writes (children in path order, `.` last, Go's escaping).

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::go_text;
use crate::path::PathElement;

/// A `fieldsV1` document that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldsV1Error(pub String);

impl FieldSet {
    /// The set as the FieldsV1 JSON value.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.object_contents(false))
    }

    /// The set as FieldsV1 JSON text, byte for byte as kube-apiserver
    /// writes it.
    #[cfg(test)]
    pub(crate) fn to_json_string(&self) -> String {
        let mut out = String::from("{");
        self.write_contents(false, &mut out);
        out.push('}');
        out
    }

    /// Reads a FieldsV1 value. Steps of a kind this code does not know are
    /// skipped, as upstream skips them.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, FieldsV1Error> {
        let (children, _) = read_node(value)?;
        Ok(children.unwrap_or_default())
    }

    fn object_contents(&self, include_self: bool) -> Map<String, Value> {
        let mut map = Map::new();
        for step in self.steps() {
            let node = if self.child(step).is_empty() {
                Map::new()
            } else {
                self.child(step).object_contents(self.has_member(step))
            };
            map.insert(step_key(step), Value::Object(node));
        }
        if include_self && !map.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        map
    }

    /// Writes the members and children of this node; `.` goes last, after
    /// the children, when `include_self` and anything else was written.
    #[cfg(test)]
    fn write_contents(&self, include_self: bool, out: &mut String) {
        let mut first = true;
        for step in self.steps() {
            if !first {
                out.push(',');
            }
            first = false;
            go_text::write_json_string(out, &step_key(step));
            out.push_str(":{");
            let child = self.child(step);
            if !child.is_empty() {
                child.write_contents(self.has_member(step), out);
            }
            out.push('}');
        }
        if include_self && !first {
            out.push_str(",\".\":{}");
        }
    }
}

/// The FieldsV1 key of one step.
pub(crate) fn step_key(step: &PathElement) -> String {
    let mut out = String::new();
    match step {
        PathElement::Field(name) => {
            out.push_str("f:");
            out.push_str(name);
        }
        PathElement::Key(fields) => {
            out.push_str("k:{");
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_text::write_json_string(&mut out, name);
                out.push(':');
                go_text::write_json_value(&mut out, value);
            }
            out.push('}');
        }
        PathElement::Value(value) => {
            out.push_str("v:");
            go_text::write_json_value(&mut out, value);
        }
        PathElement::Index(i) => {
            out.push_str("i:");
            out.push_str(&i.to_string());
        }
    }
    out
}

/// Parses one FieldsV1 key; `Ok(None)` for a kind of step not known here.
fn parse_step(key: &str) -> Result<Option<PathElement>, FieldsV1Error> {
    let mut chars = key.chars();
    let (Some(kind), Some(colon)) = (chars.next(), chars.next()) else {
        return Err(FieldsV1Error(format!(
            "parsing key as path element: key must be 2 characters long: {key}"
        )));
    };
    if colon != ':' {
        return Err(FieldsV1Error(format!(
            "parsing key as path element: missing colon: {key}"
        )));
    }
    let rest = chars.as_str();
    let bad = |what: &str| FieldsV1Error(format!("parsing key as path element: {what}: {key}"));
    match kind {
        'f' => Ok(Some(PathElement::Field(rest.to_string()))),
        'v' => {
            let value: Value = serde_json::from_str(rest).map_err(|_| bad("invalid value"))?;
            Ok(Some(PathElement::Value(value)))
        }
        'k' => match serde_json::from_str::<Value>(rest) {
            Ok(Value::Object(fields)) => Ok(Some(PathElement::key(fields.into_iter().collect()))),
            _ => Err(bad("invalid key")),
        },
        'i' => rest
            .parse::<usize>()
            .map(|i| Some(PathElement::Index(i)))
            .map_err(|_| bad("invalid index")),
        _ => Ok(None),
    }
}

/// Reads one node: the set below it, and whether the node is itself a
/// member of its parent (it says `.`, or has nothing below it).
fn read_node(value: &Value) -> Result<(Option<FieldSet>, bool), FieldsV1Error> {
    let Value::Object(map) = value else {
        return Err(FieldsV1Error(format!(
            "expected an object in fieldsV1, found {value}"
        )));
    };
    let mut children: Option<FieldSet> = None;
    let mut is_member = false;
    for (key, child_value) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(step) = parse_step(key)? else {
            continue;
        };
        let (grandchildren, child_is_member) = read_node(child_value)?;
        let node = children.get_or_insert_with(FieldSet::new);
        if child_is_member {
            node.insert_member(step.clone());
        }
        if let Some(grandchildren) = grandchildren {
            let merged = node.child(&step).union(&grandchildren);
            node.set_child(step, merged);
        }
    }
    if children.is_none() {
        is_member = true;
    }
    Ok((children, is_member))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Path;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    #[test]
    fn encodes_members_children_and_self() {
        let container = PathElement::key(vec![("name".into(), json!("nginx"))]);
        let set = FieldSet::from_paths([
            Path(vec![f("metadata"), f("labels"), f("app")]),
            Path(vec![f("spec"), f("containers"), container.clone()]),
            Path(vec![
                f("spec"),
                f("containers"),
                container.clone(),
                f("image"),
            ]),
            Path(vec![
                f("metadata"),
                f("finalizers"),
                PathElement::Value(json!("x")),
            ]),
        ]);
        assert_eq!(
            set.to_json_string(),
            concat!(
                r#"{"f:metadata":{"f:finalizers":{"v:\"x\"":{}},"f:labels":{"f:app":{}}},"#,
                r#""f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{"f:image":{},".":{}}}}}"#
            )
        );
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}}}}
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), Ok(set));
    }

    #[test]
    fn decodes_upstream_documents() {
        let doc = json!({
            "f:spec": {
                "f:ports": {
                    ".": {},
                    "k:{\"protocol\":\"TCP\",\"containerPort\":80}": {".": {}, "f:containerPort": {}},
                },
                "x:unknown": {},
            }
        });
        let set = FieldSet::from_fields_v1(&doc).expect("decodes");
        let port = PathElement::key(vec![
            ("containerPort".into(), json!(80)),
            ("protocol".into(), json!("TCP")),
        ]);
        assert!(set.contains(&[f("spec"), f("ports")]));
        assert!(set.contains(&[f("spec"), f("ports"), port.clone()]));
        assert!(set.contains(&[f("spec"), f("ports"), port, f("containerPort")]));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn rejects_malformed_documents() {
        assert!(FieldSet::from_fields_v1(&json!({"f": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"fx": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:[1]": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }
}
