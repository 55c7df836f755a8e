//! PersistentVolumes.

use serde_json::Value;

use crate::admission::Plugin;
use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::storage;

#[derive(Debug)]
pub struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::storage::volume(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        storage::validate_volume(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        storage::validate_volume_update(old, new)
    }

    fn admission(&self) -> &'static [Plugin] {
        &[Plugin::StorageProtection("kubernetes.io/pv-protection")]
    }

    fn printer(&self) -> &'static Printer {
        &table::storage::PV
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
