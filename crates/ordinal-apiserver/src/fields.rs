//! Field ownership: who set which field (`metadata.managedFields`), and
//! server-side apply on top of it.
//!
//! The engine is [`ordinal_apply`]; this module connects it to the server:
//! the type information comes from [`ordinal_merge::schema`] (the same
//! tables the strategic merge patch uses), the manager's name from
//! `?fieldManager=` or the User-Agent, and the options are checked as
//! upstream checks them.

use http::HeaderMap;
use ordinal_apply::{ListType, Schema};
use ordinal_merge::schema as merge_schema;
use serde_json::Value;

use crate::request::{Query, Target};
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult, Cause};

/// The list and map semantics of one served kind, for the apply engine.
pub(crate) struct KindSchema {
    kind: merge_schema::Kind,
    has_status: bool,
}

impl KindSchema {
    pub(crate) fn of(resource: &Resource) -> KindSchema {
        KindSchema {
            kind: merge_schema::Kind::of(resource.group, resource.kind),
            has_status: resource.has_status(),
        }
    }
}

impl Schema for KindSchema {
    fn list_type(&self, path: &[&str]) -> ListType {
        match self.kind.field(path).list_type {
            merge_schema::ListType::Atomic => ListType::Atomic,
            merge_schema::ListType::Set => ListType::Set,
            merge_schema::ListType::Map(keys) => {
                ListType::Map(keys.iter().map(|k| k.to_string()).collect())
            }
        }
    }

    fn is_atomic(&self, path: &[&str]) -> bool {
        self.kind.field(path).atomic || self.kind.elements_atomic(path)
    }

    fn has_status_subresource(&self) -> bool {
        self.has_status
    }
}

/// Which options object a write's query belongs to, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Options {
    Create,
    Update,
    Patch,
}

impl Options {
    fn kind(self) -> &'static str {
        match self {
            Options::Create => "CreateOptions",
            Options::Update => "UpdateOptions",
            Options::Patch => "PatchOptions",
        }
    }
}

/// `CreateOptions.meta.k8s.io "" is invalid: ...`, as upstream reports bad
/// write options.
fn invalid_options(options: Options, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid_kind("meta.k8s.io", options.kind(), "", causes)
}

/// The field manager of a write: `?fieldManager=` when given (checked as
/// upstream does), else the User-Agent's product name.
pub(crate) fn manager(query: &Query, headers: &HeaderMap, options: Options) -> ApiResult<String> {
    if let Some(name) = query.get("fieldManager") {
        let mut causes = Vec::new();
        if name.len() > 128 {
            causes.push(Cause {
                reason: "FieldValueTooLong".into(),
                message: "Too long: may not be more than 128 bytes".into(),
                field: "fieldManager".into(),
            });
        }
        if name.chars().any(|c| c.is_control()) {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {}: must only contain printable characters",
                    crate::names::go_quote(name)
                ),
                field: "fieldManager".into(),
            });
        }
        if !causes.is_empty() {
            return Err(invalid_options(options, causes));
        }
        if !name.is_empty() {
            return Ok(name.to_string());
        }
    }
    let agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(ordinal_apply::manager_from_user_agent(agent))
}

/// `force` belongs to apply alone; apply needs a named manager.
pub(crate) fn check_patch_options(query: &Query, is_apply: bool) -> ApiResult<bool> {
    let force = query.flag("force")?;
    if !is_apply && force {
        return Err(invalid_options(
            Options::Patch,
            vec![Cause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: may not be specified for non-apply patch".into(),
                field: "force".into(),
            }],
        ));
    }
    if is_apply && query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(invalid_options(
            Options::Patch,
            vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value: is required for apply patch".into(),
                field: "fieldManager".into(),
            }],
        ));
    }
    Ok(force)
}

/// The subresource a write goes through, as managedFields records it.
fn subresource(target: &Target) -> Option<&str> {
    target.subresource.as_deref()
}

/// Records a non-apply write's ownership: what `manager` added or changed
/// becomes theirs.
pub fn track_update(target: &Target, old: Option<&Value>, new: Value, manager: &str) -> Value {
    let resource = target.resource;
    ordinal_apply::update(
        old,
        &new,
        manager,
        &resource.api_version(),
        subresource(target),
        &KindSchema::of(resource),
    )
}

/// Server-side apply of `applied` over `live` (absent: a create).
pub fn apply(
    target: &Target,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    let resource = target.resource;
    ordinal_apply::apply(
        live,
        applied,
        manager,
        force,
        &resource.api_version(),
        subresource(target),
        &KindSchema::of(resource),
    )
    .map_err(|e| apply_error(resource, target.name.as_deref().unwrap_or(""), &e))
}

fn apply_error(resource: &Resource, name: &str, e: &ordinal_apply::ApplyError) -> ApiError {
    let status = e.to_status();
    let message = status
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("apply failed")
        .to_string();
    let causes: Vec<Cause> = status
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .map(|causes| {
            causes
                .iter()
                .map(|c| Cause {
                    reason: c.get("reason").and_then(Value::as_str).unwrap_or("").into(),
                    message: c
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    field: c.get("field").and_then(Value::as_str).unwrap_or("").into(),
                })
                .collect()
        })
        .unwrap_or_default();
    match e.code() {
        409 => {
            let mut err = ApiError::conflict(resource, name, "");
            err.message = message;
            err.details.causes = causes;
            err
        }
        // Upstream answers a config it cannot type (a map-list element
        // without its key, duplicate keys) with 500. The fault is the
        // request's, so we answer 422 with upstream's message.
        500 => ApiError::unprocessable(message),
        _ => ApiError::bad_request(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn manager_comes_from_the_query_or_the_user_agent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
        );
        let q = Query::parse(Some("fieldManager=kubectl-edit"));
        assert_eq!(
            manager(&q, &headers, Options::Update).unwrap(),
            "kubectl-edit"
        );
        let none = Query::parse(None);
        assert_eq!(
            manager(&none, &headers, Options::Update).unwrap(),
            "kubectl"
        );
        let long = Query::parse(Some(&format!("fieldManager={}", "x".repeat(129))));
        let err = manager(&long, &headers, Options::Create).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"
        );
    }

    #[test]
    fn apply_needs_a_manager_and_only_apply_may_force() {
        let err = check_patch_options(&Query::parse(Some("force=true")), false).unwrap_err();
        assert_eq!(
            err.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
        );
        let err = check_patch_options(&Query::parse(None), true).unwrap_err();
        assert_eq!(err.causes()[0].field, "fieldManager");
        assert!(check_patch_options(&Query::parse(Some("fieldManager=k&force=1")), true).unwrap());
    }

    #[test]
    fn the_schema_bridge_knows_containers_and_selectors() {
        let sts = crate::resources::lookup("apps", "v1", "statefulsets").unwrap();
        let s = KindSchema::of(sts);
        assert_eq!(
            s.list_type(&["spec", "template", "spec", "containers"]),
            ListType::Map(vec!["name".into()])
        );
        assert!(s.is_atomic(&["spec", "selector"]));
        assert!(s.has_status_subresource());
        let cm = crate::resources::lookup("", "v1", "configmaps").unwrap();
        assert!(!KindSchema::of(cm).has_status_subresource());
    }
}
