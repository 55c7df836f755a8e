//! PodDisruptionBudgets (`pkg/registry/policy/poddisruptionbudget`): the
//! spec is the user's, the status the disruption controller's and the
//! eviction subresource's, written only through `/status`. Generation
//! follows spec changes (the row's `generation`), so the eviction
//! subresource can tell a status computed for an older spec.

use serde_json::{Value, json};

use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::policy;

#[derive(Debug)]
pub struct PodDisruptionBudgetStrategy;

impl Strategy for PodDisruptionBudgetStrategy {
    /// A new budget has no status of its own: the counts start at zero
    /// (they are not omitted when zero) and nothing is observed yet.
    fn prepare_for_create(&self, object: &mut Value) {
        object["status"] = json!({
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        });
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        policy::validate_pdb(object)
    }

    fn validate_status_update(&self, _old: &Value, new: &Value) -> Vec<FieldError> {
        policy::validate_pdb_status(new)
    }

    fn printer(&self) -> &'static Printer {
        &table::policy::PDB
    }
}
