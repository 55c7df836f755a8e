//! ClusterRoleBindings: who gets a ClusterRole's rules everywhere.

use serde_json::Value;

use crate::defaults::Context;
use crate::names::{FieldError, NameRule};
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::rbac::{self, Scope};

#[derive(Debug)]
pub struct ClusterRoleBindingStrategy;

impl Strategy for ClusterRoleBindingStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn default(&self, object: &mut Value, _ctx: &Context) {
        rbac::default_binding(object);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        rbac::validate_binding(object, Scope::Cluster)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        rbac::validate_binding_update(old, new, Scope::Cluster)
    }

    fn printer(&self) -> &'static Printer {
        &table::rbac::BINDING
    }
}
