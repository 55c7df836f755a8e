//! The server-owned parts of an object's metadata, as upstream's generic
//! registry maintains them: uid, creationTimestamp, generation,
//! generateName, and what an update may and may not change.

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::names;
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult, Cause};

/// Now, as Kubernetes writes timestamps: RFC 3339, seconds, UTC.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The five random characters upstream appends to a generateName.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub(crate) fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)?.get(field)?.as_str()
}

/// The metadata map, created if missing.
pub fn metadata_mut(object: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    let Value::Object(map) = object else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if meta.is_null() {
        *meta = json!({});
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// Checks that a body names the object of the URL (or names nothing).
pub fn check_name(object: &Value, name: &str) -> ApiResult<()> {
    match meta_str(object, "name") {
        None | Some("") => Ok(()),
        Some(n) if n == name => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "the name of the object ({other}) does not match the name on the URL ({name})"
        ))),
    }
}

/// As [`check_name`], then fills in the URL's name when the body has none.
pub fn reconcile_name(object: &mut Value, name: &str) -> ApiResult<()> {
    check_name(object, name)?;
    if meta_str(object, "name").is_none_or(str::is_empty) {
        metadata_mut(object)?.insert("name".into(), json!(name));
    }
    Ok(())
}

/// Checks that `apiVersion` and `kind` in a body match the URL, filling them
/// in when absent, as upstream's decoder does with the URL's defaults.
pub fn check_type(
    resource: &Resource,
    kind: &str,
    api_version: &str,
    object: &mut Value,
) -> ApiResult<()> {
    let Value::Object(map) = object else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    };
    match map.get("apiVersion") {
        None | Some(Value::Null) => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(Value::String(v)) if v == api_version => {}
        Some(Value::String(v)) if v.is_empty() => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({api_version})",
                other.as_str().unwrap_or(&other.to_string())
            )));
        }
    }
    match map.get("kind") {
        None | Some(Value::Null) => {
            map.insert("kind".into(), json!(kind));
        }
        Some(Value::String(k)) if k == kind => {}
        Some(Value::String(k)) if k.is_empty() => {
            map.insert("kind".into(), json!(kind));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({}) does not match the expected kind ({kind}) for {}",
                other.as_str().unwrap_or(&other.to_string()),
                resource.qualified_name()
            )));
        }
    }
    Ok(())
}

/// Reconciles the namespace in the body with the one in the URL.
pub fn check_namespace(
    resource: &Resource,
    url_ns: Option<&str>,
    object: &mut Value,
) -> ApiResult<()> {
    let meta = metadata_mut(object)?;
    if !resource.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let url_ns = url_ns.unwrap_or("");
    match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() && ns != url_ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.insert("namespace".into(), json!(url_ns));
            Ok(())
        }
    }
}

fn field_causes(errors: Vec<names::FieldError>) -> Vec<Cause> {
    errors.iter().map(Cause::from).collect()
}

fn meta_errors(resource: &Resource, meta: &Map<String, Value>) -> Vec<names::FieldError> {
    names::validate_object_meta(
        resource.strategy.name_rule(),
        resource.namespaced,
        &Value::Object(meta.clone()),
    )
}

/// Fills in server-owned metadata for a create and validates the name.
/// Returns the object's final name.
pub fn prepare_create(resource: &Resource, object: &mut Value) -> ApiResult<String> {
    let meta = metadata_mut(object)?;
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = if !name.is_empty() {
        name
    } else if !generate.is_empty() {
        let mut trimmed = generate.clone();
        // Upstream keeps the generated name within 63 characters.
        trimmed.truncate(58);
        format!("{trimmed}{}", random_suffix())
    } else {
        return Err(ApiError::invalid(
            resource,
            "",
            vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value: name or generateName is required".into(),
                field: "metadata.name".into(),
            }],
        ));
    };
    if let Some(rv) = meta.get("resourceVersion").and_then(Value::as_str)
        && !rv.is_empty()
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    meta.insert("name".into(), json!(name));
    let errors = meta_errors(resource, meta);
    if !errors.is_empty() {
        return Err(ApiError::invalid(resource, &name, field_causes(errors)));
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    meta.remove("resourceVersion");
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("selfLink");
    if resource.generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    Ok(name)
}

/// The fields of an object that are neither metadata nor type information
/// nor status: what a change of "spec" means for generation.
fn spec_of(object: &Value) -> Map<String, Value> {
    object
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "kind" | "apiVersion")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A write to the main resource: status is kept when the resource has a
    /// status subresource.
    Main,
    /// A write to `/status`: only status changes.
    Status,
}

/// Carries server-owned metadata over from the stored object into an
/// update, as upstream's BeforeUpdate does, and bumps generation on spec
/// changes.
pub fn prepare_update(
    resource: &Resource,
    old: &Value,
    new: &mut Value,
    scope: Scope,
) -> ApiResult<()> {
    let old_meta = metadata(old).cloned().unwrap_or_default();
    // A UID in the body is a precondition, for status writes too: a
    // kubelet reporting on a pod deleted and made again under its name
    // must not write over the new one.
    if let Some(uid) = meta_str(new, "uid")
        && !uid.is_empty()
        && Some(uid) != old_meta.get("uid").and_then(Value::as_str)
    {
        let name = old_meta.get("name").and_then(Value::as_str).unwrap_or("");
        return Err(ApiError::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                old_meta.get("uid").and_then(Value::as_str).unwrap_or("")
            ),
        ));
    }
    if scope == Scope::Status {
        let status = new.get("status").cloned();
        let mut merged = old.clone();
        match status {
            Some(s) => merged["status"] = s,
            None => {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        // Status writes may still carry a new resourceVersion precondition.
        if let Some(rv) = meta_str(new, "resourceVersion").map(str::to_string) {
            metadata_mut(&mut merged)?.insert("resourceVersion".into(), json!(rv));
        }
        *new = merged;
        return Ok(());
    }
    if resource.has_status() {
        let Value::Object(map) = new else {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        };
        match old.get("status") {
            Some(s) => {
                map.insert("status".into(), s.clone());
            }
            None => {
                map.remove("status");
            }
        }
    }
    let meta = metadata_mut(new)?;
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    meta.remove("selfLink");
    // generateName is only meaningful at create; keep what was stored.
    match old_meta.get("generateName") {
        Some(v) => meta.insert("generateName".into(), v.clone()),
        None => meta.remove("generateName"),
    };
    let errors = meta_errors(resource, meta);
    if !errors.is_empty() {
        let name = old_meta.get("name").and_then(Value::as_str).unwrap_or("");
        return Err(ApiError::invalid(resource, name, field_causes(errors)));
    }
    Ok(())
}

/// Bumps `metadata.generation` when the spec changed (or, for a resource
/// whose strategy says so, the annotations). Runs after defaulting, so a
/// write that only restates defaults the server adds is no change.
pub fn bump_generation(resource: &Resource, old: &Value, new: &mut Value) -> ApiResult<()> {
    let annotations = |v: &Value| {
        metadata(v)
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object)
            .filter(|a| !a.is_empty())
            .cloned()
    };
    let changed = spec_of(old) != spec_of(new)
        || (resource.strategy.generation_follows_annotations()
            && annotations(old) != annotations(new));
    if !resource.generation || !changed {
        return Ok(());
    }
    let generation = metadata(old)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    metadata_mut(new)?.insert("generation".into(), json!(generation.saturating_add(1)));
    Ok(())
}

/// Rewrites that upstream applies on every write (a namespace is labelled
/// with its own name, a secret's `stringData` is folded into `data`): the
/// strategy's.
pub fn normalize(resource: &Resource, object: &mut Value) {
    resource.strategy.normalize(object);
}

/// Whether two versions of an object differ in anything but resourceVersion.
pub fn same_content(a: &Value, b: &Value) -> bool {
    fn strip(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        v
    }
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    #[test]
    fn create_fills_server_fields_and_generates_names() {
        let sts = lookup("apps", "v1", "statefulsets").unwrap();
        let mut obj = json!({"metadata": {"generateName": "web-", "namespace": "default"}, "spec": {"replicas": 1}});
        let name = prepare_create(sts, &mut obj).unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert!(obj["metadata"]["uid"].as_str().unwrap().len() == 36);
        assert!(
            obj["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
    }

    #[test]
    fn create_rejects_bad_names_and_resource_versions() {
        let cm = lookup("", "v1", "configmaps").unwrap();
        let err = prepare_create(cm, &mut json!({"metadata": {"name": "Bad_Name"}})).unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(err.causes()[0].field, "metadata.name");
        let err = prepare_create(cm, &mut json!({"metadata": {}})).unwrap_err();
        assert_eq!(err.causes()[0].reason, "FieldValueRequired");
        let err = prepare_create(
            cm,
            &mut json!({"metadata": {"name": "a", "resourceVersion": "5"}}),
        )
        .unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn generation_moves_only_with_spec() {
        let sts = lookup("apps", "v1", "statefulsets").unwrap();
        let old = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u", "generation": 3}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut relabel =
            json!({"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 1}});
        prepare_update(sts, &old, &mut relabel, Scope::Main).unwrap();
        assert_eq!(relabel["metadata"]["generation"], 3);
        assert_eq!(
            relabel["status"]["replicas"], 1,
            "status is kept on main writes"
        );
        let mut scale = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}, "status": {"replicas": 9}});
        prepare_update(sts, &old, &mut scale, Scope::Main).unwrap();
        bump_generation(sts, &old, &mut scale).unwrap();
        assert_eq!(scale["metadata"]["generation"], 4);
        assert_eq!(scale["status"]["replicas"], 1);
        let mut status = json!({"metadata": {"name": "web"}, "spec": {"replicas": 7}, "status": {"replicas": 2}});
        prepare_update(sts, &old, &mut status, Scope::Status).unwrap();
        assert_eq!(status["spec"]["replicas"], 1, "status writes keep spec");
        assert_eq!(status["status"]["replicas"], 2);
        assert_eq!(status["metadata"]["generation"], 3);
        // A UID in the body must be the stored one, in either scope.
        for scope in [Scope::Main, Scope::Status] {
            let mut other =
                json!({"metadata": {"name": "web", "uid": "v"}, "status": {"replicas": 2}});
            let err = prepare_update(sts, &old, &mut other, scope).unwrap_err();
            assert_eq!(err.code, 409);
            let mut same =
                json!({"metadata": {"name": "web", "uid": "u"}, "status": {"replicas": 2}});
            prepare_update(sts, &old, &mut same, scope).unwrap();
        }
    }

    #[test]
    fn type_mismatch_is_bad_request() {
        let pods = lookup("", "v1", "pods").unwrap();
        let mut obj = json!({"apiVersion": "v1", "kind": "Service"});
        assert_eq!(
            check_type(pods, "Pod", "v1", &mut obj).unwrap_err().code,
            400
        );
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Pod"});
        assert_eq!(
            check_type(pods, "Pod", "v1", &mut obj).unwrap_err().code,
            400
        );
        let mut obj = json!({});
        check_type(pods, "Pod", "v1", &mut obj).unwrap();
        assert_eq!(obj["kind"], "Pod");
    }
}
