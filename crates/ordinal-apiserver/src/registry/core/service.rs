//! Services: upstream's service strategy and REST storage.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::{FieldError, NameRule};
use crate::registry::Strategy;
use crate::selector::{Fields, str_at};
use crate::table::{self, Printer};
use crate::validation::network;

#[derive(Debug)]
pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Dns1035Label
    }

    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::service::service(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        network::validate_service(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        network::validate_service_update(old, new)
    }

    fn validate_status_update(&self, _old: &Value, new: &Value) -> Vec<FieldError> {
        network::validate_service_status(new)
    }

    fn allocates_service_addresses(&self) -> bool {
        true
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "metadata.namespace",
            "metadata.name",
            "spec.clusterIP",
            "spec.type",
        ])
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        out.push((
            "spec.clusterIP",
            str_at(object, &["spec", "clusterIP"]).to_string(),
        ));
        out.push(("spec.type", str_at(object, &["spec", "type"]).to_string()));
    }

    fn printer(&self) -> &'static Printer {
        &table::network::SERVICE
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
