//! ConfigMaps.

use serde_json::Value;

use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::config;

#[derive(Debug)]
pub struct ConfigMapStrategy;

impl Strategy for ConfigMapStrategy {
    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        config::validate_config_map(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        config::validate_config_map_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::config::CONFIGMAP
    }
}
