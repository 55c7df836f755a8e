//! RuntimeClass validation (`pkg/apis/node/validation`): the handler is a
//! DNS-1123 label and never changes, the fixed pod overhead holds valid
//! quantities of container resources, and the scheduling constraints are
//! valid labels and unique tolerations.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::common::{Path, dns_label, immutable, labels};
use super::pod::{go_toleration, validate_resources, validate_tolerations};
use crate::lenient::{list, string};
use crate::names::{BadValue, FieldError};

/// `ValidateRuntimeClass` without the metadata.
pub fn validate_runtime_class(rc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    dns_label(string(rc, "handler"), &Path::new("handler"), &mut errs);
    if let Some(overhead) = rc.get("overhead").filter(|v| !v.is_null()) {
        validate_overhead(overhead.get("podFixed"), &Path::new("overhead"), &mut errs);
    }
    if let Some(scheduling) = rc.get("scheduling").filter(|v| !v.is_null()) {
        let path = Path::new("scheduling");
        labels(
            scheduling.get("nodeSelector"),
            &path.child("nodeSelector"),
            &mut errs,
        );
        unique_tolerations(
            list(scheduling, "tolerations"),
            &path.child("tolerations"),
            &mut errs,
        );
    }
    errs
}

/// `ValidateRuntimeClassUpdate` (after the full validation of the new
/// object, as the registry's strategy runs both).
pub fn validate_runtime_class_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_runtime_class(new);
    errs.extend(immutable(
        new.get("handler"),
        old.get("handler"),
        &Path::new("handler"),
    ));
    errs
}

/// A fixed overhead is checked as the limits of a container would be,
/// which is why upstream's errors name `<path>.limits[<resource>]`.
pub fn validate_overhead(pod_fixed: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(pod_fixed) = pod_fixed.filter(|v| !v.is_null()) else {
        return;
    };
    validate_resources(Some(&json!({ "limits": pod_fixed })), path, errs);
}

/// `ValidateTolerations` plus the RuntimeClass's own rule: no two
/// tolerations with the same key, operator, value and effect.
fn unique_tolerations(tolerations: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    validate_tolerations(tolerations, path, errs);
    let mut seen = BTreeSet::new();
    for (i, t) in tolerations.iter().enumerate() {
        let key = (
            string(t, "key"),
            string(t, "operator"),
            string(t, "value"),
            string(t, "effect"),
        );
        if !seen.insert(key) {
            errs.push(FieldError::duplicate(
                path.index(i),
                BadValue::Raw(go_toleration(t)),
            ));
        }
    }
}
