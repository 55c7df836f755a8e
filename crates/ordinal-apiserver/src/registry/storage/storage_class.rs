//! StorageClasses.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::storage;

#[derive(Debug)]
pub struct StorageClassStrategy;

impl Strategy for StorageClassStrategy {
    fn default(&self, object: &mut Value, _ctx: &Context) {
        defaults::storage::storage_class(object);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        storage::validate_storage_class(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        storage::validate_storage_class_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::storage::STORAGE_CLASS
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
