//! Roles: rules within one namespace.

use serde_json::Value;

use crate::names::{FieldError, NameRule};
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::rbac;

#[derive(Debug)]
pub struct RoleStrategy;

impl Strategy for RoleStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        rbac::validate_role(object)
    }

    fn printer(&self) -> &'static Printer {
        &table::rbac::ROLE
    }
}
