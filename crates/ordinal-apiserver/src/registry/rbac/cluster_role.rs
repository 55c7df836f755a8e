//! ClusterRoles: rules across the cluster, non-resource URLs included, or
//! the union of the cluster roles an aggregation rule selects (which the
//! aggregation controller writes into `rules`).

use serde_json::Value;

use crate::names::{FieldError, NameRule};
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::rbac;

#[derive(Debug)]
pub struct ClusterRoleStrategy;

impl Strategy for ClusterRoleStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        rbac::validate_cluster_role(object)
    }

    fn printer(&self) -> &'static Printer {
        &table::rbac::ROLE
    }
}
