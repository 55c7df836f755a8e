//! Nodes.

use serde_json::Value;

use crate::defaults::Context;
use crate::registry::Strategy;
use crate::selector::{Fields, bool_at};
use crate::table::{self, Printer};

#[derive(Debug)]
pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    /// A node's allocatable resources default to its capacity.
    fn default(&self, object: &mut Value, _ctx: &Context) {
        let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) else {
            return;
        };
        if crate::lenient::absent(status, "allocatable")
            && let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned()
        {
            status.insert("allocatable".into(), capacity);
        }
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(&["metadata.name", "spec.unschedulable"])
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        out.push((
            "spec.unschedulable",
            bool_at(object, &["spec", "unschedulable"]).to_string(),
        ));
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::NODE
    }
}
