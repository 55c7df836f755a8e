//! Removing what an applier stopped applying.
//!
//! A field the manager set in its previous apply and leaves out of this one
//! is removed from the object, unless some manager (this one's new
//! configuration included) still owns it or something below it. Objects
//! and lists that the removal leaves empty go too, as upstream's typed
//! objects lose them. The key fields of an element that stays are never
//! removed, so no element loses its name.

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::items::name_items;
use crate::path::PathElement;
use crate::{ListType, Schema};

/// Removes from `object` the paths of `last` that `owned` no longer covers.
pub(crate) fn prune(object: &mut Value, last: &FieldSet, owned: &FieldSet, schema: &dyn Schema) {
    if let Value::Object(fields) = object {
        prune_fields(fields, last, owned, &mut Vec::new(), &[], schema);
    }
}

fn is_container_with_content(value: &Value) -> bool {
    match value {
        Value::Object(m) => !m.is_empty(),
        Value::Array(l) => !l.is_empty(),
        _ => false,
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(l) => l.is_empty(),
        _ => false,
    }
}

fn prune_fields<'l>(
    fields: &mut Map<String, Value>,
    last: &'l FieldSet,
    owned: &FieldSet,
    schema_path: &mut Vec<&'l str>,
    key_fields: &[String],
    schema: &dyn Schema,
) {
    for step in last.steps() {
        let PathElement::Field(name) = step else {
            continue;
        };
        if key_fields.contains(name) {
            continue;
        }
        let still_owned = owned.touches(step);
        if last.has_member(step) && !still_owned {
            fields.remove(name);
            continue;
        }
        let below = last.child(step);
        if below.is_empty() {
            continue;
        }
        let Some(child) = fields.get_mut(name) else {
            continue;
        };
        let had_content = is_container_with_content(child);
        schema_path.push(name);
        prune_value(child, below, owned.child(step), schema_path, schema);
        schema_path.pop();
        if had_content && is_empty_container(child) && !still_owned {
            fields.remove(name);
        }
    }
}

fn prune_value<'l>(
    value: &mut Value,
    last: &'l FieldSet,
    owned: &FieldSet,
    schema_path: &mut Vec<&'l str>,
    schema: &dyn Schema,
) {
    match value {
        Value::Object(fields) => prune_fields(fields, last, owned, schema_path, &[], schema),
        Value::Array(items) => {
            let list_type = schema.list_type(schema_path);
            if list_type == ListType::Atomic {
                return;
            }
            let key_fields: &[String] = match &list_type {
                ListType::Map(keys) => keys,
                _ => &[],
            };
            let (steps, _) = name_items(items, &list_type, schema_path, schema);
            let mut kept = Vec::with_capacity(items.len());
            for (mut item, step) in std::mem::take(items).into_iter().zip(steps) {
                let Some(step) = step else {
                    kept.push(item);
                    continue;
                };
                let still_owned = owned.touches(&step);
                if last.has_member(&step) && !still_owned {
                    continue;
                }
                let below = last.child(&step);
                if let (false, Value::Object(fields)) = (below.is_empty(), &mut item) {
                    prune_fields(
                        fields,
                        below,
                        owned.child(&step),
                        schema_path,
                        key_fields,
                        schema,
                    );
                }
                kept.push(item);
            }
            *items = kept;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::fields_of;
    use crate::test_schema::PodSchema;
    use serde_json::json;

    fn set(v: Value) -> FieldSet {
        fields_of(&v, &PodSchema).expect("valid")
    }

    #[test]
    fn unowned_fields_and_elements_go_owned_ones_stay() {
        let mut object = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 3, "containers": [
                {"name": "x", "image": "x:1", "env": [{"name": "E", "value": "1"}]},
                {"name": "y", "image": "y:1"},
            ]}
        });
        let last = set(json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 3, "containers": [
                {"name": "x", "image": "x:1", "env": [{"name": "E", "value": "1"}]},
                {"name": "y", "image": "y:1"},
            ]}
        }));
        // The applier now only sets label a and container x's image; another
        // manager owns replicas.
        let owned = set(json!({
            "metadata": {"labels": {"a": "1"}},
            "spec": {"replicas": 3, "containers": [{"name": "x", "image": "x:1"}]}
        }));
        prune(&mut object, &last, &owned, &PodSchema);
        assert_eq!(
            object,
            json!({
                "metadata": {"labels": {"a": "1"}},
                "spec": {"replicas": 3, "containers": [{"name": "x", "image": "x:1"}]}
            })
        );
    }

    #[test]
    fn containers_emptied_by_pruning_are_removed() {
        let mut object = json!({"metadata": {"name": "n", "labels": {"a": "1"}}, "spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}});
        let last = set(
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}),
        );
        prune(&mut object, &last, &FieldSet::new(), &PodSchema);
        assert_eq!(object, json!({"metadata": {"name": "n"}}));
    }
}
