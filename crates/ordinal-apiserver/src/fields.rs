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
    /// A custom resource's structural schema, which its CRD gives.
    custom: Option<&'static crate::custom::schema::Schema>,
}

impl KindSchema {
    pub(crate) fn of(resource: &'static Resource) -> KindSchema {
        KindSchema {
            kind: merge_schema::Kind::of(resource.group, resource.kind),
            has_status: resource.has_status(),
            custom: resource.strategy.custom().map(|c| &c.schema),
        }
    }
}

impl Schema for KindSchema {
    fn list_type(&self, path: &[&str]) -> ListType {
        if let Some(custom) = self.custom {
            // Lists a CRD leaves unmarked are atomic, as upstream.
            let node = custom.node_at(path);
            return match node.and_then(|n| n.list_type.as_deref()) {
                Some("set") => ListType::Set,
                Some("map") => {
                    ListType::Map(node.map(|n| n.list_map_keys.clone()).unwrap_or_default())
                }
                _ => ListType::Atomic,
            };
        }
        match self.kind.field(path).list_type {
            merge_schema::ListType::Atomic => ListType::Atomic,
            merge_schema::ListType::Set => ListType::Set,
            merge_schema::ListType::Map(keys) => {
                ListType::Map(keys.iter().map(|k| k.to_string()).collect())
            }
        }
    }

    fn is_atomic(&self, path: &[&str]) -> bool {
        if let Some(custom) = self.custom {
            return custom.node_at(path).is_some_and(|n| {
                n.atomic_map || n.items.as_deref().is_some_and(|items| items.atomic_map)
            });
        }
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

/// Server-side apply of an autoscaling/v1 Scale (`applied`) over the Scale
/// view of a StatefulSet (`view`, carrying [`scale_entries`] as its
/// managedFields). Conflicts are over `spec.replicas` between the managers
/// of the set.
pub(crate) fn apply_scale(
    target: &Target,
    view: &Value,
    applied: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    ordinal_apply::apply(
        Some(view),
        applied,
        manager,
        force,
        &crate::resources::SCALE.api_version(),
        subresource(target),
        &KindSchema::of(&crate::resources::SCALE),
    )
    .map_err(|e| apply_error(target.resource, target.name.as_deref().unwrap_or(""), &e))
}

/// `spec.replicas` in FieldsV1, in a StatefulSet as in a Scale.
fn replicas_fields() -> Value {
    serde_json::json!({"f:spec": {"f:replicas": {}}})
}

fn owns_replicas(entry: &Value) -> bool {
    entry.pointer("/fieldsV1/f:spec/f:replicas").is_some()
}

/// What makes two managedFields entries the same manager here: its name,
/// operation and subresource (the API version differs between the set and
/// its Scale by construction).
fn manager_identity(entry: &Value) -> (Option<&str>, Option<&str>, Option<&str>) {
    let s = |k: &str| entry.get(k).and_then(Value::as_str);
    (s("manager"), s("operation"), s("subresource"))
}

fn managed_entries(object: &Value) -> &[Value] {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The managedFields of a StatefulSet's Scale: each manager of the set's
/// `spec.replicas` owns the Scale's (upstream's `ScaleHandler.ToSubresource`).
pub(crate) fn scale_entries(set: &Value) -> Vec<Value> {
    let scale_version = crate::resources::SCALE.api_version();
    managed_entries(set)
        .iter()
        .filter(|entry| owns_replicas(entry))
        .map(|entry| {
            let mut out = serde_json::Map::new();
            for key in ["manager", "operation"] {
                if let Some(v) = entry.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            out.insert("apiVersion".into(), Value::from(scale_version.as_str()));
            if let Some(time) = entry.get("time") {
                out.insert("time".into(), time.clone());
            }
            out.insert("fieldsType".into(), Value::from("FieldsV1"));
            out.insert("fieldsV1".into(), replicas_fields());
            if let Some(sub) = entry.get("subresource") {
                out.insert("subresource".into(), sub.clone());
            }
            Value::Object(out)
        })
        .collect()
}

/// The set's managedFields after a write through its Scale left the
/// Scale's as `scale` holds them (upstream's `ScaleHandler.ToParent`): a
/// manager that lost `spec.replicas` in the Scale loses it in the set, one
/// that gained it gains it there (with the Scale entry's time), the rest
/// is untouched.
pub(crate) fn scale_entries_to_set(set: &Value, scale: &Value) -> Vec<Value> {
    let set_version = set
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("apps/v1");
    let scale_owners: Vec<&Value> = managed_entries(scale)
        .iter()
        .filter(|e| owns_replicas(e))
        .collect();
    let owns_in_scale = |entry: &Value| {
        scale_owners
            .iter()
            .any(|s| manager_identity(s) == manager_identity(entry))
    };
    let mut out: Vec<Value> = Vec::new();
    for entry in managed_entries(set) {
        if !owns_replicas(entry) || owns_in_scale(entry) {
            out.push(entry.clone());
            continue;
        }
        let mut entry = entry.clone();
        if let Some(spec) = entry
            .pointer_mut("/fieldsV1/f:spec")
            .and_then(Value::as_object_mut)
        {
            spec.remove("f:replicas");
            if spec.is_empty()
                && let Some(fields) = entry.get_mut("fieldsV1").and_then(Value::as_object_mut)
            {
                fields.remove("f:spec");
            }
        }
        if entry
            .get("fieldsV1")
            .and_then(Value::as_object)
            .is_some_and(|f| !f.is_empty())
        {
            out.push(entry);
        }
    }
    for owner in scale_owners {
        if let Some(entry) = out
            .iter_mut()
            .find(|e| manager_identity(e) == manager_identity(owner))
        {
            if !owns_replicas(entry) {
                if !entry.get("fieldsV1").is_some_and(Value::is_object) {
                    entry["fieldsV1"] = serde_json::json!({});
                }
                let fields = &mut entry["fieldsV1"];
                if !fields.get("f:spec").is_some_and(Value::is_object) {
                    fields["f:spec"] = serde_json::json!({});
                }
                fields["f:spec"]["f:replicas"] = serde_json::json!({});
                if let Some(time) = owner.get("time") {
                    entry["time"] = time.clone();
                }
            }
            continue;
        }
        let mut entry = owner.clone();
        entry["apiVersion"] = Value::from(set_version);
        out.push(entry);
    }
    out
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

#[cfg(test)]
mod scale_tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: &str, sub: Option<&str>, fields: Value) -> Value {
        let mut e = json!({
            "manager": manager, "operation": operation, "apiVersion": "apps/v1",
            "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields
        });
        if let Some(sub) = sub {
            e["subresource"] = json!(sub);
        }
        e
    }

    #[test]
    fn the_scale_sees_the_owners_of_replicas_only() {
        let set = json!({"apiVersion": "apps/v1", "metadata": {"managedFields": [
            entry("kubectl", "Update", None, json!({"f:spec": {"f:replicas": {}, "f:serviceName": {}}})),
            entry("labeler", "Apply", None, json!({"f:metadata": {"f:labels": {}}})),
        ]}});
        let scale = scale_entries(&set);
        assert_eq!(
            scale,
            [json!({
                "manager": "kubectl", "operation": "Update", "apiVersion": "autoscaling/v1",
                "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}
            })]
        );
    }

    #[test]
    fn replicas_move_to_the_scales_new_owner() {
        let set = json!({"apiVersion": "apps/v1", "metadata": {"managedFields": [
            entry("kubectl", "Update", None, json!({"f:spec": {"f:replicas": {}, "f:serviceName": {}}})),
            entry("old-scaler", "Update", Some("scale"), json!({"f:spec": {"f:replicas": {}}})),
        ]}});
        // After a forced apply by "hpa", the Scale's only owner is hpa.
        let scale = json!({"metadata": {"managedFields": [{
            "manager": "hpa", "operation": "Apply", "apiVersion": "autoscaling/v1",
            "time": "2026-02-02T00:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"
        }]}});
        let entries = scale_entries_to_set(&set, &scale);
        assert_eq!(
            entries,
            [
                entry(
                    "kubectl",
                    "Update",
                    None,
                    json!({"f:spec": {"f:serviceName": {}}})
                ),
                json!({
                    "manager": "hpa", "operation": "Apply", "apiVersion": "apps/v1",
                    "time": "2026-02-02T00:00:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"
                }),
            ]
        );
        // Owners that keep replicas in the Scale keep them in the set.
        let kept = json!({"metadata": {"managedFields": scale_entries(&set)}});
        assert_eq!(
            scale_entries_to_set(&set, &kept),
            set["metadata"]["managedFields"].as_array().unwrap().clone()
        );
    }
}
