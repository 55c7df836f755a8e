//! Leases.

use serde_json::Value;

use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::config;

#[derive(Debug)]
pub struct LeaseStrategy;

impl Strategy for LeaseStrategy {
    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        config::validate_lease(object)
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::LEASE
    }
}
