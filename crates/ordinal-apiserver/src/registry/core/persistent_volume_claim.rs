//! PersistentVolumeClaims.

use serde_json::Value;

use crate::admission::Plugin;
use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::storage;

#[derive(Debug)]
pub struct PersistentVolumeClaimStrategy;

impl Strategy for PersistentVolumeClaimStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::storage::claim(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        storage::validate_claim(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        storage::validate_claim_update(old, new)
    }

    fn validate_status_update(&self, _old: &Value, new: &Value) -> Vec<FieldError> {
        storage::validate_claim_status(new)
    }

    fn admission(&self) -> &'static [Plugin] {
        &[
            Plugin::DefaultStorageClass,
            Plugin::StorageProtection("kubernetes.io/pvc-protection"),
            Plugin::ClaimResize,
        ]
    }

    fn printer(&self) -> &'static Printer {
        &table::storage::PVC
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
