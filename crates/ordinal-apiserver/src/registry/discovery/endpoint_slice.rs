//! EndpointSlices.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::network;

#[derive(Debug)]
pub struct EndpointSliceStrategy;

impl Strategy for EndpointSliceStrategy {
    fn default(&self, object: &mut Value, _ctx: &Context) {
        defaults::service::endpoint_slice(object);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        network::validate_endpoint_slice(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        network::validate_endpoint_slice_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::network::ENDPOINT_SLICE
    }
}
