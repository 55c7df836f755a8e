//! Merging an applied configuration into the live object.
//!
//! Objects merge field by field; map-lists merge element by element,
//! matched by key; sets gain the configuration's values; scalars, atomic
//! lists and atomic maps take the configuration's value whole. A `null` in
//! the configuration removes the field.
//!
//! Element order follows upstream: elements only the live object has keep
//! their place, and the configuration's elements come in the
//! configuration's order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::items::name_items;
use crate::path::PathElement;
use crate::{ListType, Schema};

/// `config` merged into `live`. Fields for which `skip` answers true (given
/// their path of field names) keep their live value.
pub(crate) fn merge(
    live: &Value,
    config: &Value,
    schema: &dyn Schema,
    skip: &dyn Fn(&[&str]) -> bool,
) -> Value {
    let merger = Merger { schema, skip };
    merger
        .merge_value(Some(live), config, &mut Vec::new(), false)
        .unwrap_or_else(|| Value::Object(Map::new()))
}

struct Merger<'a> {
    schema: &'a dyn Schema,
    skip: &'a dyn Fn(&[&str]) -> bool,
}

impl Merger<'_> {
    /// The merged value, or `None` when the configuration removes it.
    fn merge_value<'v>(
        &self,
        live: Option<&Value>,
        config: &'v Value,
        schema_path: &mut Vec<&'v str>,
        element: bool,
    ) -> Option<Value> {
        match config {
            Value::Null => None,
            Value::Object(fields) => {
                let atomic =
                    (element || !schema_path.is_empty()) && self.schema.is_atomic(schema_path);
                if atomic {
                    return Some(config.clone());
                }
                let live_fields = live.and_then(Value::as_object);
                let mut out = live_fields.cloned().unwrap_or_default();
                for (name, value) in fields {
                    schema_path.push(name);
                    if !(self.skip)(schema_path) {
                        let live_child = live_fields.and_then(|m| m.get(name));
                        match self.merge_value(live_child, value, schema_path, false) {
                            Some(merged) => {
                                out.insert(name.clone(), merged);
                            }
                            None => {
                                out.remove(name);
                            }
                        }
                    }
                    schema_path.pop();
                }
                Some(Value::Object(out))
            }
            Value::Array(items) => {
                let list_type = self.schema.list_type(schema_path);
                if list_type == ListType::Atomic {
                    return Some(config.clone());
                }
                let live_items = live
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                Some(Value::Array(self.merge_list(
                    live_items,
                    items,
                    &list_type,
                    schema_path,
                )))
            }
            scalar => Some(scalar.clone()),
        }
    }

    fn merge_list<'v>(
        &self,
        live: &[Value],
        config: &'v [Value],
        list_type: &ListType,
        schema_path: &mut Vec<&'v str>,
    ) -> Vec<Value> {
        let (live_steps, _) = name_items(live, list_type, schema_path, self.schema);
        let (config_steps, _) = name_items(config, list_type, schema_path, self.schema);
        let lhs: Vec<(Option<PathElement>, &Value)> = live_steps.into_iter().zip(live).collect();
        // The configuration was checked before merging; anything unnamed is dropped.
        let rhs: Vec<(PathElement, &Value)> = config_steps
            .into_iter()
            .zip(config)
            .filter_map(|(step, item)| step.map(|s| (s, item)))
            .collect();
        let lhs_index: BTreeMap<&PathElement, &Value> = lhs
            .iter()
            .filter_map(|(step, item)| step.as_ref().map(|s| (s, *item)))
            .collect();
        let rhs_index: BTreeMap<&PathElement, &Value> = rhs.iter().map(|(s, i)| (s, *i)).collect();
        let shared: Vec<&PathElement> = rhs
            .iter()
            .map(|(s, _)| s)
            .filter(|s| lhs_index.contains_key(s))
            .collect();

        let merge_item =
            |live_item: Option<&Value>, config_item: &'v Value, path: &mut Vec<&'v str>| {
                match list_type {
                    ListType::Map(_) => self
                        .merge_value(live_item, config_item, path, true)
                        .unwrap_or_else(|| config_item.clone()),
                    _ => config_item.clone(),
                }
            };

        let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
        let (mut li, mut ri, mut next_shared) = (0, 0, 0);
        while li < lhs.len() || ri < rhs.len() {
            if let (Some((Some(lstep), litem)), Some((rstep, ritem))) = (lhs.get(li), rhs.get(ri)) {
                if lstep == rstep {
                    out.push(merge_item(Some(litem), ritem, schema_path));
                    li += 1;
                    ri += 1;
                    next_shared += 1;
                    continue;
                }
                let waiting_for_other = shared.get(next_shared).is_some_and(|s| *s != lstep);
                if rhs_index.contains_key(lstep) && waiting_for_other {
                    // Shared, but the configuration places it later.
                    li += 1;
                    continue;
                }
            }
            if let Some((lstep, litem)) = lhs.get(li) {
                let in_config = lstep.as_ref().is_some_and(|s| rhs_index.contains_key(s));
                if !in_config {
                    out.push((*litem).clone());
                    li += 1;
                    continue;
                }
                if ri >= rhs.len() {
                    li += 1;
                    continue;
                }
            }
            if let Some((rstep, ritem)) = rhs.get(ri) {
                out.push(merge_item(
                    lhs_index.get(rstep).copied(),
                    ritem,
                    schema_path,
                ));
                ri += 1;
                if shared.get(next_shared) == Some(&rstep) {
                    next_shared += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_schema::PodSchema;
    use serde_json::json;

    fn merged(live: Value, config: Value) -> Value {
        merge(&live, &config, &PodSchema, &|_| false)
    }

    #[test]
    fn containers_merge_by_name_and_ports_by_port_and_protocol() {
        let live = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]},
            {"name": "sidecar", "image": "s:1"},
        ]}});
        let config = json!({"spec": {"containers": [
            {"name": "a", "image": "a:2", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 80, "protocol": "UDP"},
            ]},
        ]}});
        assert_eq!(
            merged(live, config),
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:2", "ports": [
                    {"containerPort": 80, "protocol": "TCP", "name": "http", "hostPort": 8080},
                    {"containerPort": 80, "protocol": "UDP"},
                ]},
                {"name": "sidecar", "image": "s:1"},
            ]}})
        );
    }

    #[test]
    fn sets_union_atomics_replace_nulls_remove() {
        let live = json!({
            "metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}},
            "spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}, "containers": [{"name": "c", "args": ["1", "2"]}]}
        });
        let config = json!({
            "metadata": {"finalizers": ["c", "a"], "labels": {"y": null}},
            "spec": {"selector": {"matchLabels": {"a": "1"}}, "containers": [{"name": "c", "args": ["3"]}]}
        });
        assert_eq!(
            merged(live, config),
            json!({
                "metadata": {"finalizers": ["c", "a", "b"], "labels": {"x": "1"}},
                "spec": {"selector": {"matchLabels": {"a": "1"}}, "containers": [{"name": "c", "args": ["3"]}]}
            })
        );
    }

    #[test]
    fn configuration_order_wins_for_shared_elements() {
        let live = json!({"spec": {"volumes": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}});
        let config = json!({"spec": {"volumes": [{"name": "b"}, {"name": "new"}, {"name": "a"}]}});
        let names: Vec<Value> = merged(live, config)["spec"]["volumes"]
            .as_array()
            .map(|v| v.iter().map(|e| e["name"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            names,
            vec![json!("x"), json!("b"), json!("new"), json!("a")]
        );
    }

    #[test]
    fn skipped_fields_keep_their_live_value() {
        let live = json!({"metadata": {"uid": "u1"}, "status": {"phase": "Running"}});
        let config = json!({"metadata": {"uid": "u2", "name": "n"}, "status": {"phase": "Failed"}});
        let skip = |p: &[&str]| p == ["metadata", "uid"] || p == ["status"];
        assert_eq!(
            merge(&live, &config, &PodSchema, &skip),
            json!({"metadata": {"uid": "u1", "name": "n"}, "status": {"phase": "Running"}})
        );
    }
}
