//! Subresources that are views of, or actions on, their parent object:
//! `scale` (an autoscaling/v1 Scale over `spec.replicas`, for every
//! resource whose row has the subresource: StatefulSets, Deployments,
//! ReplicaSets),
//! `pods/binding` (the scheduler's decision) and `pods/eviction` (a polite
//! delete). `status` is handled with the main resource in [`crate::rest`].

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use ordinal_store::StoreError;
use serde_json::{Value, json};

use crate::delete_options;
use crate::eviction;
use crate::fields;
use crate::negotiate::{self, Output};
use crate::objects;
use crate::patch;
use crate::render;
use crate::request::{Query, Target};
use crate::resources::{BINDING, EVICTION, Resource, SCALE};
use crate::rest;
use crate::selector::LabelSelector;
use crate::server::AppState;
use crate::status::{ApiError, ApiResult, Cause};

/// The Scale view of a replicated object, as upstream's
/// `scaleFromStatefulSet`, `scaleFromDeployment` and `scaleFromReplicaSet`
/// (all alike): `spec.replicas` as the desired count, `status.replicas` as
/// the observed one, and `spec.selector` in its string form as
/// `status.selector`.
pub fn scale_of(set: &Value) -> Value {
    let meta = objects::metadata(set).cloned().unwrap_or_default();
    let mut metadata = serde_json::Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(field) {
            metadata.insert(field.into(), v.clone());
        }
    }
    let desired = set
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let current = set
        .pointer("/status/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // A missing selector selects nothing, which prints as "".
    let selector = set
        .pointer("/spec/selector")
        .and_then(|s| serde_json::from_value::<metav1::LabelSelector>(s.clone()).ok())
        .and_then(|s| LabelSelector::from_label_selector(&s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    // ScaleSpec.replicas is omitted when zero; ScaleStatus.replicas never.
    let spec = if desired == 0 {
        json!({})
    } else {
        json!({ "replicas": desired })
    };
    let mut status = json!({ "replicas": current });
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    })
}

/// A custom resource's scale path (`.spec.replicas`) as a JSON pointer.
fn pointer_of(path: &str) -> String {
    path.replace('.', "/")
}

/// The Scale view of any object with a `scale` subresource: built-in
/// kinds as [`scale_of`], custom resources through their CRD's paths (the
/// selector is the string at `labelSelectorPath`).
fn scale_view(resource: &Resource, object: &Value) -> Value {
    let Some(paths) = resource.strategy.custom().and_then(|c| c.scale.as_ref()) else {
        return scale_of(object);
    };
    let mut view =
        scale_of(&json!({ "metadata": object.get("metadata").cloned().unwrap_or_default() }));
    let desired = object
        .pointer(&pointer_of(&paths.spec_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    view["spec"] = if desired == 0 {
        json!({})
    } else {
        json!({ "replicas": desired })
    };
    view["status"] = json!({
        "replicas": object.pointer(&pointer_of(&paths.status_replicas)).and_then(Value::as_i64).unwrap_or(0)
    });
    if let Some(selector) = paths
        .label_selector
        .as_deref()
        .and_then(|p| object.pointer(&pointer_of(p)))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        view["status"]["selector"] = json!(selector);
    }
    view
}

fn render_scale(resource: &Resource, output: Output, set: &Value) -> ApiResult<Response> {
    render::value_in(&SCALE, output, StatusCode::OK, &scale_view(resource, set))
}

/// GET `<resource>/{name}/scale`.
pub fn get_scale(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let name = target.name.as_deref().unwrap_or("");
    let key = target.key().unwrap_or_default();
    let set = state
        .store
        .get(&key)
        .ok_or_else(|| ApiError::not_found(target.resource, name))?;
    let object = crate::stored::value(target.resource, &set.bytes)?;
    render_scale(target.resource, output, &object)
}

/// Checks a Scale written by a client and returns the replicas it asks for.
fn wanted_replicas(scale: &Value, name: &str) -> ApiResult<i64> {
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!(
                "Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: expected an integer, got {v}"
            ))
        })?,
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            &SCALE,
            name,
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            }],
        ));
    }
    if replicas > i64::from(i32::MAX) {
        return Err(ApiError::bad_request(format!(
            "Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: value {replicas} overflows int32"
        )));
    }
    Ok(replicas)
}

/// Carries a Scale's replicas into the object it views. A resourceVersion
/// in the Scale is a precondition on the object.
fn apply_scale(target: &Target, old_set: &Value, scale: &Value) -> ApiResult<Value> {
    let name = target.name.as_deref().unwrap_or("");
    objects::check_name(scale, name)?;
    let replicas = wanted_replicas(scale, name)?;
    if let Some(rv) = objects::meta_str(scale, "resourceVersion")
        && !rv.is_empty()
        && Some(rv) != objects::meta_str(old_set, "resourceVersion")
    {
        return Err(ApiError::stale(target.resource, name));
    }
    let mut set = old_set.clone();
    if let Some(paths) = target
        .resource
        .strategy
        .custom()
        .and_then(|c| c.scale.as_ref())
    {
        set_path(&mut set, &paths.spec_replicas, json!(replicas));
        return Ok(set);
    }
    if !set.get("spec").is_some_and(Value::is_object) {
        set["spec"] = json!({});
    }
    set["spec"]["replicas"] = json!(replicas);
    Ok(set)
}

/// Sets the value at a simple `.a.b` path, making the objects on the way.
fn set_path(object: &mut Value, path: &str, value: Value) {
    let mut at = object;
    let keys: Vec<&str> = path.split('.').filter(|k| !k.is_empty()).collect();
    for (i, key) in keys.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let map = at.as_object_mut().expect("made an object");
        if i + 1 == keys.len() {
            map.insert((*key).to_string(), value);
            return;
        }
        at = map.entry(*key).or_insert_with(|| json!({}));
    }
}

/// PUT `<resource>/{name}/scale`.
pub async fn update_scale(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let rest::Decoded {
        mut object,
        warnings,
    } = rest::decode_as("autoscaling", "v1", "Scale", query, headers, &bytes)?;
    objects::check_type(&SCALE, "Scale", "autoscaling/v1", &mut object)?;
    let manager = fields::manager(query, headers, fields::Options::Update)?;
    let ownership = rest::Ownership::Update(&manager);
    let updated = rest::update_object(state, target, query, None, ownership, |old| {
        apply_scale(target, old, &object)
    })
    .await?;
    let response = render_scale(target.resource, output, &updated.value()?)?;
    Ok(rest::with_warnings(response, &warnings))
}

/// PATCH `<resource>/{name}/scale`: the patch applies to the Scale view.
pub async fn patch_scale(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let body_type = negotiate::body_type(headers)?;
    if body_type == negotiate::BodyType::ApplyPatch {
        return apply_scale_patch(state, target, query, headers, output, bytes).await;
    }
    let patch = patch::parse(body_type, &SCALE, &bytes)?;
    let manager = fields::manager(query, headers, fields::Options::Patch)?;
    let ownership = rest::Ownership::Update(&manager);
    let updated = rest::update_object(state, target, query, None, ownership, |old| {
        let mut scale = patch.apply(&scale_view(target.resource, old))?;
        objects::check_type(&SCALE, "Scale", "autoscaling/v1", &mut scale)?;
        apply_scale(target, old, &scale)
    })
    .await?;
    render_scale(target.resource, output, &updated.value()?)
}

/// PATCH `<resource>/{name}/scale` with `application/apply-patch+yaml`:
/// server-side apply of a Scale. The Scale's managedFields are the object's
/// owners of `spec.replicas`; the apply's outcome goes back to the object's
/// managedFields (see [`fields::scale_entries_to_set`]).
async fn apply_scale_patch(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    output: Output,
    bytes: Bytes,
) -> ApiResult<Response> {
    let force = fields::check_patch_options(query, true)?;
    let manager = fields::manager(query, headers, fields::Options::Patch)?;
    let rest::Decoded {
        object: mut applied,
        warnings,
    } = rest::decode_apply("autoscaling", "Scale", query, &bytes)?;
    objects::check_type(&SCALE, "Scale", "autoscaling/v1", &mut applied)?;
    let name = target.name.as_deref().unwrap_or("");
    objects::reconcile_name(&mut applied, name)?;
    let updated = rest::update_object(
        state,
        target,
        query,
        None,
        rest::Ownership::Applied,
        |old| {
            if let Some(rv) = objects::meta_str(&applied, "resourceVersion")
                && !rv.is_empty()
                && Some(rv) != objects::meta_str(old, "resourceVersion")
            {
                return Err(ApiError::stale(target.resource, name));
            }
            let mut view = scale_view(target.resource, old);
            let owners = fields::scale_entries(old);
            if !owners.is_empty() {
                view["metadata"]["managedFields"] = Value::Array(owners);
            }
            let scale = fields::apply_scale(target, &view, &applied, &manager, force)?;
            let mut set = apply_scale(target, old, &scale)?;
            let entries = fields::scale_entries_to_set(old, &scale);
            let meta = objects::metadata_mut(&mut set)?;
            if entries.is_empty() {
                meta.remove("managedFields");
            } else {
                meta.insert("managedFields".into(), Value::Array(entries));
            }
            Ok(set)
        },
    )
    .await?;
    let response = render_scale(target.resource, output, &updated.value()?)?;
    Ok(rest::with_warnings(response, &warnings))
}

/// The `Status` a successful binding returns.
fn created_status() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    })
}

/// Decodes the body of an action on a pod (a Binding, an Eviction): of
/// the action's kind, in the pod's namespace, naming the pod (upstream
/// words the mismatch differently for each action).
fn decode_pod_action(
    kind: &Resource,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: &[u8],
    name_mismatch: &str,
) -> ApiResult<rest::Decoded> {
    let mut decoded = rest::decode_as(kind.group, kind.version, kind.kind, query, headers, bytes)?;
    objects::check_type(kind, kind.kind, &kind.api_version(), &mut decoded.object)?;
    objects::check_namespace(kind, target.namespace.as_deref(), &mut decoded.object)?;
    if objects::meta_str(&decoded.object, "name") != target.name.as_deref() {
        return Err(ApiError::bad_request(name_mismatch));
    }
    Ok(decoded)
}

/// POST `pods/{name}/binding`: sets `spec.nodeName` once, merges the
/// binding's annotations and marks the pod scheduled. Like upstream, this
/// writes the pod directly rather than through a pod update, so the
/// immutability of `spec.nodeName` does not apply to it.
pub async fn bind(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let name = target.name.clone().unwrap_or_default();
    let rest::Decoded { object, warnings } = decode_pod_action(
        &BINDING,
        target,
        query,
        headers,
        &bytes,
        "the name of the object does not match the name on the URL",
    )?;
    let node = object
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut causes = Vec::new();
    match object.pointer("/target/kind").and_then(Value::as_str) {
        None | Some("") | Some("Node") => {}
        Some(other) => causes.push(Cause {
            reason: "FieldValueNotSupported".into(),
            message: format!(
                "Unsupported value: \"{other}\": supported values: \"Node\", \"<empty>\""
            ),
            field: "target.kind".into(),
        }),
    }
    if node.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: "target.name".into(),
        });
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(&BINDING, &name, causes));
    }
    let want_uid = objects::meta_str(&object, "uid")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let want_rv = objects::meta_str(&object, "resourceVersion")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let annotations = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let dry = rest::dry_run(query)?;
    let key = target.key().unwrap_or_default();
    let pods = target.resource;
    for _ in 0..rest::UPDATE_RETRIES {
        let current = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(pods, &name))?;
        let mut pod = rest::parse_stored(&current)?;
        if let Some(uid) = &want_uid
            && objects::meta_str(&pod, "uid") != Some(uid.as_str())
        {
            return Err(ApiError::conflict(
                pods,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    objects::meta_str(&pod, "uid").unwrap_or("")
                ),
            ));
        }
        if let Some(rv) = &want_rv
            && rv != &current.rev.to_string()
        {
            return Err(ApiError::stale(pods, &name));
        }
        if pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            return Err(ApiError::conflict(
                &BINDING,
                &name,
                &format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let assigned = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !assigned.is_empty() {
            return Err(ApiError::conflict(
                &BINDING,
                &name,
                &format!("pod {name} is already assigned to node \"{assigned}\""),
            ));
        }
        assign(&mut pod, &node, &annotations);
        if dry {
            break;
        }
        match state.store.update(key.clone(), pod, current.rev).await {
            Ok(_) => break,
            Err(StoreError::Conflict { .. }) if want_rv.is_none() => continue,
            Err(StoreError::Conflict { .. }) => return Err(ApiError::stale(pods, &name)),
            Err(StoreError::NotFound) => return Err(ApiError::not_found(pods, &name)),
            Err(other) => return Err(rest::store_failure(other)),
        }
    }
    let response = render::json_response(StatusCode::CREATED, created_status().to_string());
    Ok(rest::with_warnings(response, &warnings))
}

/// The pod side of a binding: the node, the annotations, and a
/// `PodScheduled=True` condition (replacing any earlier one).
fn assign(pod: &mut Value, node: &str, annotations: &serde_json::Map<String, Value>) {
    if !pod.get("spec").is_some_and(Value::is_object) {
        pod["spec"] = json!({});
    }
    pod["spec"]["nodeName"] = json!(node);
    if !annotations.is_empty()
        && let Ok(meta) = objects::metadata_mut(pod)
    {
        let entry = meta.entry("annotations").or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        if let Some(map) = entry.as_object_mut() {
            for (k, v) in annotations {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let now = objects::now_rfc3339();
    let conditions = pod["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(conditions) = conditions else { return };
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let fresh = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
    {
        Some(existing) => {
            let probe = existing
                .get("lastProbeTime")
                .cloned()
                .unwrap_or(Value::Null);
            *existing = fresh;
            existing["lastProbeTime"] = probe;
        }
        None => list.push(fresh),
    }
}

/// POST `pods/{name}/eviction`: a delete with the eviction's options that
/// PodDisruptionBudgets may refuse ([`crate::eviction`]).
pub async fn evict(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let name = target.name.clone().unwrap_or_default();
    let rest::Decoded { object, warnings } = decode_pod_action(
        &EVICTION,
        target,
        query,
        headers,
        &bytes,
        "name in URL does not match name in Eviction object",
    )?;
    let options = object
        .get("deleteOptions")
        .filter(|v| !v.is_null())
        .map(|v| Bytes::from(v.to_string()))
        .unwrap_or_default();
    // The options travel inside the Eviction, always as JSON; a dry run
    // asked for on the request applies to them too (upstream's
    // `propagateDryRun`).
    let mut opts = delete_options::parse_options(query, &HeaderMap::new(), &options)?;
    opts.dry_run |= rest::dry_run(query)?;
    let key = target.key().unwrap_or_default();
    let response = eviction::evict(state, target.resource, &key, &name, &opts).await?;
    Ok(rest::with_warnings(response, &warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_of_a_set() {
        let set = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"x": "y"}, "generation": 3},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "a"},
                     "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}},
            "status": {"replicas": 2}
        });
        assert_eq!(
            scale_of(&set),
            json!({
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                             "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"replicas": 3},
                "status": {"replicas": 2, "selector": "app=web,env in (dev,prod),tier=a"}
            })
        );
        let zero = json!({"metadata": {"name": "web"}, "spec": {"replicas": 0}});
        assert_eq!(scale_of(&zero)["spec"], json!({}));
        assert_eq!(scale_of(&zero)["status"], json!({"replicas": 0}));
    }

    fn target() -> Target {
        Target {
            resource: crate::resources::lookup("apps", "v1", "statefulsets").unwrap(),
            namespace: Some("default".into()),
            name: Some("web".into()),
            subresource: Some("scale".into()),
        }
    }

    #[test]
    fn scale_writes_replicas_with_preconditions() {
        let set =
            json!({"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"replicas": 1}});
        let out = apply_scale(&target(), &set, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(out["spec"]["replicas"], 5);
        let out = apply_scale(&target(), &set, &json!({"spec": {}})).unwrap();
        assert_eq!(out["spec"]["replicas"], 0, "an absent replicas means 0");
        let err = apply_scale(
            &target(),
            &set,
            &json!({"metadata": {"resourceVersion": "6"}, "spec": {"replicas": 2}}),
        )
        .unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        let err = apply_scale(&target(), &set, &json!({"spec": {"replicas": -1}})).unwrap_err();
        assert_eq!(
            err.message,
            "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let err = apply_scale(
            &target(),
            &set,
            &json!({"metadata": {"name": "db"}, "spec": {"replicas": 2}}),
        )
        .unwrap_err();
        assert_eq!(err.code, 400);
        let err = apply_scale(&target(), &set, &json!({"spec": {"replicas": "x"}})).unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn binding_sets_node_annotations_and_condition() {
        let mut pod = json!({
            "metadata": {"name": "web-0", "annotations": {"a": "1"}},
            "spec": {"containers": []},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "lastProbeTime": null, "reason": "Unschedulable"}
            ]}
        });
        let mut notes = serde_json::Map::new();
        notes.insert("b".into(), json!("2"));
        assign(&mut pod, "node-1", &notes);
        assert_eq!(pod["spec"]["nodeName"], "node-1");
        assert_eq!(pod["metadata"]["annotations"], json!({"a": "1", "b": "2"}));
        let conditions = pod["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0]["status"], "True");
        assert!(conditions[0].get("reason").is_none());
        // Odd shapes do not panic.
        let mut odd = json!({"spec": 3, "status": "x", "metadata": {"annotations": 5}});
        assign(&mut odd, "n", &notes);
        assert_eq!(odd["spec"]["nodeName"], "n");
    }
}
