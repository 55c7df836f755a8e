//! Naming the elements of map-lists and sets: the step that identifies an
//! element no matter where it sits in the list.
//!
//! An applied configuration must name every element, once (upstream
//! refuses it otherwise). Objects already stored are read leniently: an
//! element that cannot be named, or repeats an earlier key, is carried
//! along untouched but never owned.

use ordinal_core::go_text::quote;
use serde_json::Value;

use crate::path::PathElement;
use crate::{ListType, Schema};

/// The step naming each element of `items` (`None` where it cannot be
/// named or repeats an earlier element), and the problems found, worded as
/// upstream words them.
pub(crate) fn name_items(
    items: &[Value],
    list_type: &ListType,
    list_path: &[&str],
    schema: &dyn Schema,
) -> (Vec<Option<PathElement>>, Vec<String>) {
    let mut steps: Vec<Option<PathElement>> = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        match item_step(item, list_type, list_path, schema) {
            Ok(step) => {
                if seen.contains(&step) {
                    errors.push(format!("duplicate entries for key {step}"));
                    steps.push(None);
                } else {
                    seen.insert(step.clone());
                    steps.push(Some(step));
                }
            }
            Err(message) => {
                errors.push(format!("element {index}: {message}"));
                steps.push(None);
            }
        }
    }
    (steps, errors)
}

fn item_step(
    item: &Value,
    list_type: &ListType,
    list_path: &[&str],
    schema: &dyn Schema,
) -> Result<PathElement, String> {
    match list_type {
        ListType::Map(keys) if !keys.is_empty() => keyed_step(item, keys, list_path, schema),
        _ => set_step(item),
    }
}

fn keyed_step(
    item: &Value,
    keys: &[String],
    list_path: &[&str],
    schema: &dyn Schema,
) -> Result<PathElement, String> {
    let fields = match item {
        Value::Object(fields) => fields,
        Value::Null => {
            return Err("associative list with keys may not have a null element".to_string());
        }
        _ => return Err("associative list with keys may not have non-map elements".to_string()),
    };
    let mut key = Vec::with_capacity(keys.len());
    for name in keys {
        let value = match fields.get(name) {
            Some(value) => value.clone(),
            None => schema.key_default(list_path, name).ok_or_else(|| {
                format!(
                    "associative list with keys has an element that omits key field {} (and doesn't have default value)",
                    quote(name)
                )
            })?,
        };
        key.push((name.clone(), value));
    }
    Ok(PathElement::key(key))
}

fn set_step(item: &Value) -> Result<PathElement, String> {
    match item {
        Value::Object(_) => {
            Err("associative list without keys has an element that's a map type".to_string())
        }
        Value::Array(_) => {
            Err("not supported: associative list with lists as elements".to_string())
        }
        Value::Null => {
            Err("associative list without keys has an element that's an explicit null".to_string())
        }
        scalar => Ok(PathElement::Value(scalar.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schema::PodSchema;
    use serde_json::json;

    #[test]
    fn ports_are_named_by_port_and_defaulted_protocol() {
        let items = vec![
            json!({"containerPort": 80}),
            json!({"containerPort": 53, "protocol": "UDP"}),
        ];
        let ports = ListType::Map(vec!["containerPort".into(), "protocol".into()]);
        let path = ["spec", "containers", "ports"];
        let (steps, errors) = name_items(&items, &ports, &path, &PodSchema);
        assert!(errors.is_empty());
        let printed: Vec<String> = steps.iter().flatten().map(|s| s.to_string()).collect();
        assert_eq!(
            printed,
            vec![
                r#"[containerPort=80,protocol="TCP"]"#,
                r#"[containerPort=53,protocol="UDP"]"#
            ]
        );
    }

    #[test]
    fn problems_are_worded_like_upstream() {
        let names = ListType::Map(vec!["name".into()]);
        let items = vec![
            json!({"name": "a"}),
            json!({"image": "x"}),
            json!({"name": "a"}),
            json!(null),
        ];
        let (steps, errors) = name_items(&items, &names, &["spec", "containers"], &PodSchema);
        assert_eq!(steps.iter().filter(|s| s.is_some()).count(), 1);
        assert_eq!(
            errors,
            vec![
                r#"element 1: associative list with keys has an element that omits key field "name" (and doesn't have default value)"#,
                r#"duplicate entries for key [name="a"]"#,
                "element 3: associative list with keys may not have a null element",
            ]
        );
        let (_, errors) = name_items(&[json!({})], &ListType::Set, &["x"], &PodSchema);
        assert_eq!(
            errors,
            vec!["element 0: associative list without keys has an element that's a map type"]
        );
    }
}
