//! RuntimeClasses.

use serde_json::Value;

use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::node;

#[derive(Debug)]
pub struct RuntimeClassStrategy;

impl Strategy for RuntimeClassStrategy {
    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        node::validate_runtime_class(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        node::validate_runtime_class_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::RUNTIME_CLASS
    }
}
