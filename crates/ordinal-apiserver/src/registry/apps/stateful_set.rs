//! StatefulSets.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::apps;

#[derive(Debug)]
pub struct StatefulSetStrategy;

impl Strategy for StatefulSetStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::apps::stateful_set(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        apps::validate_stateful_set(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_stateful_set_update(old, new)
    }

    fn validate_status_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_stateful_set_status_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::apps::STATEFULSET
    }
}
