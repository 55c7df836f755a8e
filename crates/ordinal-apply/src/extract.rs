//! The field set of an object: every path a configuration sets.
//!
//! Scalars, atomic lists and atomic maps are owned whole; a map-list or set
//! element is owned as an element (so that dropping it from a later apply
//! removes it) and, for map-lists, field by field inside. Objects are not
//! owned themselves, only their fields, so an empty object sets nothing.

use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::fieldset::FieldSet;
use crate::items::name_items;
use crate::path::{Path, PathElement};
use crate::{ListType, Schema};

/// The set of fields `value` sets, or the reasons it cannot be read as a
/// configuration (a map-list element without its key, duplicate keys…).
#[cfg(test)]
pub(crate) fn fields_of(
    value: &Value,
    schema: &dyn Schema,
) -> Result<FieldSet, crate::error::ValidationErrors> {
    let (set, errors) = extract(value, schema);
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(crate::error::ValidationErrors(errors))
    }
}

/// The field set together with every problem found; elements with problems
/// are left out of the set.
pub(crate) fn extract(value: &Value, schema: &dyn Schema) -> (FieldSet, Vec<ValidationError>) {
    let mut walk = Extract {
        schema,
        errors: Vec::new(),
        out: FieldSet::new(),
    };
    walk.visit(value, &mut Vec::new(), &mut Vec::new());
    (walk.out, walk.errors)
}

struct Extract<'s> {
    schema: &'s dyn Schema,
    errors: Vec<ValidationError>,
    out: FieldSet,
}

impl Extract<'_> {
    fn visit<'v>(
        &mut self,
        value: &'v Value,
        schema_path: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) {
        match value {
            Value::Object(fields) => {
                if !path.is_empty() && self.schema.is_atomic(schema_path) {
                    self.out.insert(path);
                } else {
                    self.visit_fields(fields, schema_path, path);
                }
            }
            Value::Array(items) => {
                let list_type = self.schema.list_type(schema_path);
                if list_type == ListType::Atomic {
                    self.out.insert(path);
                    return;
                }
                let (steps, problems) = name_items(items, &list_type, schema_path, self.schema);
                for message in problems {
                    self.errors.push(ValidationError {
                        path: Path(path.clone()).to_string(),
                        message,
                    });
                }
                let atomic_elements = self.schema.is_atomic(schema_path);
                for (item, step) in items.iter().zip(steps) {
                    let Some(step) = step else { continue };
                    path.push(step);
                    self.out.insert(path);
                    if let (Value::Object(fields), false) = (item, atomic_elements) {
                        self.visit_fields(fields, schema_path, path);
                    }
                    path.pop();
                }
            }
            _ => self.out.insert(path),
        }
    }

    fn visit_fields<'v>(
        &mut self,
        fields: &'v Map<String, Value>,
        schema_path: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) {
        for (name, child) in fields {
            schema_path.push(name);
            path.push(PathElement::Field(name.clone()));
            self.visit(child, schema_path, path);
            path.pop();
            schema_path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schema::PodSchema;
    use serde_json::json;

    #[test]
    fn a_pod_spec_sets_elements_and_their_fields() {
        let pod = json!({
            "metadata": {"labels": {"app": "web"}, "finalizers": ["a"], "annotations": {}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "containers": [{"name": "c", "image": "nginx", "args": ["-v"]}],
            }
        });
        let set = fields_of(&pod, &PodSchema).expect("valid");
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"a\"": {}}},
                "f:spec": {
                    "f:selector": {},
                    "f:containers": {"k:{\"name\":\"c\"}": {
                        ".": {}, "f:name": {}, "f:image": {}, "f:args": {}
                    }}
                }
            })
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let pod = json!({"spec": {"containers": [
            {"name": "c", "env": [{"name": "A"}, {"name": "A"}], "ports": [{"protocol": "TCP"}]},
        ]}});
        let errors = fields_of(&pod, &PodSchema).expect_err("invalid");
        assert_eq!(
            errors.to_string(),
            concat!(
                "errors:\n",
                "  .spec.containers[name=\"c\"].env: duplicate entries for key [name=\"A\"]\n",
                "  .spec.containers[name=\"c\"].ports: element 0: associative list with keys has an element that omits key field \"containerPort\" (and doesn't have default value)"
            )
        );
    }
}
