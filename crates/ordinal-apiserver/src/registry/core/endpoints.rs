//! Endpoints.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::network;

#[derive(Debug)]
pub struct EndpointsStrategy;

impl Strategy for EndpointsStrategy {
    fn default(&self, object: &mut Value, _ctx: &Context) {
        defaults::service::endpoints(object);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        network::validate_endpoints(object)
    }

    fn printer(&self) -> &'static Printer {
        &table::network::ENDPOINTS
    }
}
