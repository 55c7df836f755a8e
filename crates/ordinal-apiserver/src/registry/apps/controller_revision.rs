//! ControllerRevisions.

use serde_json::Value;

use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::apps;

#[derive(Debug)]
pub struct ControllerRevisionStrategy;

impl Strategy for ControllerRevisionStrategy {
    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        apps::validate_revision(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_revision_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::apps::CONTROLLER_REVISION
    }
}
