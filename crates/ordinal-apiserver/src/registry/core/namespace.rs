//! Namespaces: upstream's namespace strategy and registry.

use serde_json::{Value, json};

use crate::deletion::Deletion;
use crate::names::NameRule;
use crate::objects::meta_str;
use crate::registry::Strategy;
use crate::selector::{Fields, str_at};
use crate::table::{self, Printer};

#[derive(Debug)]
pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Dns1123Label
    }

    /// A namespace is labelled with its own name.
    fn normalize(&self, object: &mut Value) {
        let name = meta_str(object, "name").unwrap_or("").to_string();
        let meta = &mut object["metadata"];
        if !meta.get("labels").is_some_and(Value::is_object) {
            meta["labels"] = json!({});
        }
        meta["labels"]["kubernetes.io/metadata.name"] = json!(name);
    }

    /// A new namespace is Active and carries the `kubernetes` finalizer.
    fn prepare_for_create(&self, object: &mut Value) {
        if !object.get("spec").is_some_and(Value::is_object) {
            object["spec"] = json!({});
        }
        object["spec"]["finalizers"] = json!(["kubernetes"]);
        object["status"] = json!({"phase": "Active"});
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(&["status.phase", "metadata.name"])
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        out.push((
            "status.phase",
            str_at(object, &["status", "phase"]).to_string(),
        ));
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::NAMESPACE
    }

    fn deletion(&self) -> Deletion {
        Deletion::Namespace
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
