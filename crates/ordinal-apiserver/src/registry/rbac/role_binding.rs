//! RoleBindings: who gets a Role's (or a ClusterRole's) rules in one
//! namespace.

use serde_json::Value;

use crate::defaults::Context;
use crate::names::{FieldError, NameRule};
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::rbac::{self, Scope};

#[derive(Debug)]
pub struct RoleBindingStrategy;

impl Strategy for RoleBindingStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn default(&self, object: &mut Value, _ctx: &Context) {
        rbac::default_binding(object);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        rbac::validate_binding(object, Scope::Namespaced)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        rbac::validate_binding_update(old, new, Scope::Namespaced)
    }

    fn printer(&self) -> &'static Printer {
        &table::rbac::BINDING
    }
}
