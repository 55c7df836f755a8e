//! Why an apply is refused, with the messages and `Status` bodies
//! kube-apiserver sends for the same cases.
//!
//! | case | code | reason |
//! |---|---|---|
//! | conflicts | 409 | `Conflict`, one `FieldManagerConflict` cause per field |
//! | body not an object | 400 | `BadRequest` |
//! | `metadata.managedFields` set | 400 | `BadRequest` |
//! | `apiVersion` not the endpoint's | 400 | `BadRequest` |
//! | map-list element without key, duplicate keys | 500 | none (upstream reports these as an internal error) |

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

use crate::managed::{self, Operation};

/// One problem found in an applied configuration, at a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The path as kube-apiserver prints it, e.g. `.spec.containers`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found; prints one alone, several as an indented list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub(crate) Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("errors:")?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ValidationErrors {}

/// A field another manager owns and the applier would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub(crate) manager: String,
    pub(crate) operation: Operation,
    /// The API version of the other manager's entry.
    pub(crate) api_version: String,
    pub(crate) subresource: Option<String>,
    /// The field, as kube-apiserver prints it: `.spec.replicas`.
    pub(crate) field: String,
}

impl Conflict {
    /// The manager as the messages name it: `"kubectl"`,
    /// `"kube-controller-manager" using apps/v1`,
    /// `"m" with subresource "status" using v1`.
    pub fn manager_description(&self) -> String {
        managed::describe(
            &self.manager,
            self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    fn identity(&self) -> String {
        managed::identity(
            &self.manager,
            self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    /// The `StatusCause` kube-apiserver reports for this conflict.
    pub fn cause(&self) -> Value {
        json!({
            "reason": "FieldManagerConflict",
            "message": format!("conflict with {}", self.manager_description()),
            "field": self.field,
        })
    }
}

/// Why an apply did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The configuration changes fields other managers own; retry with
    /// `force` to take them over.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The body is a list, string, number or boolean rather than an object.
    #[error(
        "error decoding YAML: json: cannot unmarshal {found} into Go value of type map[string]interface {{}}"
    )]
    NotAnObject {
        /// What the body is instead, as Go names it: `array`, `string`,
        /// `number`, `bool`.
        found: &'static str,
    },
    /// The configuration carries `metadata.managedFields`.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsNotNil,
    /// The configuration's `apiVersion` is not the endpoint's.
    #[error(
        "Incorrect version specified in apply patch. Specified patch version: {specified}, expected: {expected}"
    )]
    WrongVersion {
        /// The configuration's `apiVersion`.
        specified: String,
        /// The endpoint's group/version.
        expected: String,
    },
    /// A map-list element lacks a key field, a key repeats, a set holds an
    /// object…; `object` reads `namespace/name; group/version, Kind=Kind`.
    #[error("failed to create typed patch object ({object}): {errors}")]
    InvalidObject {
        /// The object, as `namespace/name; group/version, Kind=Kind`.
        object: String,
        /// Every problem found, each at its field path.
        errors: ValidationErrors,
    },
}

impl ApplyError {
    /// The HTTP status code kube-apiserver answers with.
    pub fn code(&self) -> u16 {
        match self {
            ApplyError::Conflicts(_) => 409,
            ApplyError::NotAnObject { .. }
            | ApplyError::ManagedFieldsNotNil
            | ApplyError::WrongVersion { .. } => 400,
            ApplyError::InvalidObject { .. } => 500,
        }
    }

    /// The `Status` reason; empty where upstream gives none.
    pub fn reason(&self) -> &'static str {
        match self {
            ApplyError::Conflicts(_) => "Conflict",
            ApplyError::NotAnObject { .. }
            | ApplyError::ManagedFieldsNotNil
            | ApplyError::WrongVersion { .. } => "BadRequest",
            ApplyError::InvalidObject { .. } => "",
        }
    }

    /// The whole `Status` object to send back.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "code": self.code(),
        });
        if !self.reason().is_empty() {
            status["reason"] = Value::from(self.reason());
        }
        if let ApplyError::Conflicts(conflicts) = self {
            let causes: Vec<Value> = conflicts.iter().map(Conflict::cause).collect();
            status["details"] = json!({ "causes": causes });
        }
        status
    }
}

/// `Apply failed with 1 conflict: conflict with "m" using v1: .spec.replicas`,
/// or for several, one block per manager (sorted) listing its fields.
fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager_description(),
            one.field
        );
    }
    let mut by_manager: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
    for c in conflicts {
        by_manager
            .entry(c.identity())
            .or_insert_with(|| (c.manager_description(), Vec::new()))
            .1
            .push(&c.field);
    }
    let mut lines = Vec::new();
    for (description, fields) in by_manager.values() {
        lines.push(format!("conflicts with {description}:"));
        lines.extend(fields.iter().map(|f| format!("- {f}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(manager: &str, operation: Operation, field: &str) -> Conflict {
        Conflict {
            manager: manager.into(),
            operation,
            api_version: "v1".into(),
            subresource: None,
            field: field.into(),
        }
    }

    #[test]
    fn one_conflict_reads_like_kube_apiserver() {
        let e = ApplyError::Conflicts(vec![conflict(
            "kubectl-client-side-apply",
            Operation::Update,
            ".spec.replicas",
        )]);
        assert_eq!(
            e.to_string(),
            r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.replicas"#
        );
        assert_eq!(
            e.to_status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": e.to_string(), "reason": "Conflict", "code": 409,
                "details": {"causes": [{
                    "reason": "FieldManagerConflict",
                    "message": "conflict with \"kubectl-client-side-apply\" using v1",
                    "field": ".spec.replicas",
                }]}
            })
        );
    }

    #[test]
    fn several_conflicts_group_by_sorted_manager() {
        let e = ApplyError::Conflicts(vec![
            conflict("foo", Operation::Update, ".spec.replicas"),
            conflict("bar", Operation::Apply, ".metadata.labels.app"),
            conflict("foo", Operation::Update, ".spec.paused"),
        ]);
        assert_eq!(
            e.to_string(),
            concat!(
                "Apply failed with 3 conflicts: conflicts with \"bar\":\n",
                "- .metadata.labels.app\n",
                "conflicts with \"foo\" using v1:\n",
                "- .spec.replicas\n",
                "- .spec.paused"
            )
        );
    }

    #[test]
    fn bad_requests_carry_upstream_messages() {
        let e = ApplyError::NotAnObject { found: "array" };
        assert_eq!(
            e.to_string(),
            "error decoding YAML: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!((e.code(), e.reason()), (400, "BadRequest"));
        let e = ApplyError::WrongVersion {
            specified: "apps/v1beta1".into(),
            expected: "apps/v1".into(),
        };
        assert_eq!(
            e.to_string(),
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"
        );
        let status = ApplyError::InvalidObject {
            object: "default/web; apps/v1, Kind=StatefulSet".into(),
            errors: ValidationErrors(vec![ValidationError {
                path: ".spec.template.spec.containers".into(),
                message: "duplicate entries for key [name=\"c\"]".into(),
            }]),
        }
        .to_status();
        assert_eq!(status["code"], 500);
        assert!(status.get("reason").is_none());
        assert_eq!(
            status["message"],
            "failed to create typed patch object (default/web; apps/v1, Kind=StatefulSet): .spec.template.spec.containers: duplicate entries for key [name=\"c\"]"
        );
    }
}
