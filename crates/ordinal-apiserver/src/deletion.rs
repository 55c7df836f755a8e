//! Deletion semantics, as upstream's generic registry, pod strategy and
//! namespace registry define them.
//!
//! A DELETE request does not always remove an object:
//!
//! - `propagationPolicy` (or the deprecated `orphanDependents`) puts the
//!   garbage collector's `orphan` or `foregroundDeletion` finalizer on it;
//! - an object with finalizers gets a `deletionTimestamp` (grace 0) and stays
//!   until the last finalizer is removed by an update, which then removes it;
//! - a pod bound to a node is deleted gracefully: it gets
//!   `deletionTimestamp = now + grace` and stays for the node to stop it; a
//!   later delete may only shorten the grace period;
//! - a namespace is first marked Terminating; it goes once its
//!   `spec.finalizers` (emptied through `namespaces/{name}/finalize`) and
//!   `metadata.finalizers` are both empty.
//!
//! [`plan`] decides what one delete does to the stored object without
//! touching the store, so every rule is unit-tested; [`delete_object`]
//! carries the plan out with compare-and-swap writes. The request's options
//! are read by [`crate::delete_options`].

use http::StatusCode;
use ordinal_store::StoreError;
use serde_json::{Value, json};

pub use crate::delete_options::{DeleteOptions, Propagation, parse_options};
use crate::objects;
use crate::resources::Resource;
use crate::server::AppState;
use crate::status::{self, ApiError, ApiResult};

/// The garbage collector's finalizer for `propagationPolicy: Orphan`.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The garbage collector's finalizer for `propagationPolicy: Foreground`.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// A pod's grace period when neither the request nor the pod names one
/// (upstream defaults `terminationGracePeriodSeconds` to this at create).
pub const DEFAULT_POD_GRACE_SECONDS: i64 = 30;

/// How often a delete is retried when another writer slips in.
const RETRIES: usize = 32;

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn set_finalizers(object: &mut Value, list: &[String]) -> ApiResult<()> {
    let meta = objects::metadata_mut(object)?;
    if list.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(list));
    }
    Ok(())
}

fn spec_finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn deletion_timestamp(object: &Value) -> Option<jiff::Timestamp> {
    objects::meta_str(object, "deletionTimestamp").and_then(|t| t.parse().ok())
}

fn has_deletion_timestamp(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

fn deletion_grace(object: &Value) -> Option<i64> {
    object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
}

fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a DELETE of a resource does beyond the generic registry; each
/// resource's strategy says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Removed at once, or held by finalizers.
    Immediate,
    /// Upstream's pod strategy: a scheduled pod deletes gracefully.
    Graceful,
    /// Upstream's namespace registry: termination first, `spec.finalizers`
    /// changed only through `finalize`, the system namespaces kept.
    Namespace,
}

fn is_graceful(resource: &Resource) -> bool {
    resource.strategy.deletion() == Deletion::Graceful
}

fn is_namespace(resource: &Resource) -> bool {
    resource.strategy.deletion() == Deletion::Namespace
}

/// Whether a removed object is answered with itself (upstream's
/// `ReturnDeletedObject`) rather than a `Status` of success.
pub fn returns_deleted_object(resource: &Resource) -> bool {
    resource.strategy.returns_deleted_object()
}

/// Which of the garbage collector's finalizers an object should carry after
/// a delete with these options: an explicit option wins, then what the
/// object already carries.
fn gc_finalizers(current: &[String], opts: &DeleteOptions) -> Vec<String> {
    let has = |f: &str| current.iter().any(|c| c == f);
    let orphan = match (opts.orphan_dependents, opts.propagation) {
        (Some(o), _) => o,
        (None, Some(p)) => p == Propagation::Orphan,
        (None, None) => has(ORPHAN_FINALIZER) && !first_gc_is(current, FOREGROUND_FINALIZER),
    };
    let foreground = match (opts.orphan_dependents, opts.propagation) {
        (Some(_), _) => false,
        (None, Some(p)) => p == Propagation::Foreground,
        (None, None) => has(FOREGROUND_FINALIZER) && !first_gc_is(current, ORPHAN_FINALIZER),
    };
    let mut out: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        out.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        out.push(FOREGROUND_FINALIZER.into());
    }
    // Unchanged as a set: keep the stored order.
    let same = out.len() == current.len() && out.iter().all(|f| current.contains(f));
    if same { current.to_vec() } else { out }
}

/// Upstream scans the finalizers in order and the first GC finalizer decides.
fn first_gc_is(current: &[String], which: &str) -> bool {
    current
        .iter()
        .find(|f| *f == ORPHAN_FINALIZER || *f == FOREGROUND_FINALIZER)
        .is_some_and(|f| f == which)
}

/// Namespaces follow their own registry's rule: only explicit options change
/// the GC finalizers, and `orphanDependents: false` asks for foreground.
fn namespace_gc_finalizers(current: &[String], opts: &DeleteOptions) -> Vec<String> {
    let has = |f: &str| current.iter().any(|c| c == f);
    let orphan = match (opts.orphan_dependents, opts.propagation) {
        (Some(o), _) => o,
        (None, Some(p)) => p == Propagation::Orphan,
        (None, None) => has(ORPHAN_FINALIZER),
    };
    let foreground = match (opts.orphan_dependents, opts.propagation) {
        (Some(o), _) => !o,
        (None, Some(p)) => p == Propagation::Foreground,
        (None, None) => has(FOREGROUND_FINALIZER),
    };
    let mut out: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        out.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        out.push(FOREGROUND_FINALIZER.into());
    }
    let same = out.len() == current.len() && out.iter().all(|f| current.contains(f));
    if same { current.to_vec() } else { out }
}

/// What a delete does to the stored object.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing changes (a graceful deletion is already pending, or the
    /// object already carries everything this request asks for): answer
    /// with the object as stored.
    Keep,
    /// Store this version and keep the object: finalizers or a grace period
    /// hold it.
    Update(Value),
    /// Remove the object now.
    Remove,
}

/// The outcome of upstream's BeforeDelete: whether the deletion is
/// graceful, or already pending with a shorter period than asked.
enum Graceful {
    No,
    Yes,
    Pending,
}

/// Upstream's BeforeDelete with the pod strategy's CheckGracefulDelete; only
/// pods delete gracefully. Adjusts `object` and the grace period to use.
fn before_delete(
    resource: &Resource,
    object: &mut Value,
    grace: &mut Option<i64>,
    now: jiff::Timestamp,
) -> ApiResult<Graceful> {
    if !is_graceful(resource) {
        return Ok(Graceful::No);
    }
    if has_deletion_timestamp(object) {
        let current = match deletion_grace(object) {
            None | Some(0) => return Ok(Graceful::No),
            Some(g) => g.max(1),
        };
        let Some(asked) = *grace else {
            return Ok(Graceful::Pending);
        };
        if asked >= current {
            return Ok(Graceful::Pending);
        }
        // Only a shorter grace period: move the deadline closer.
        let deadline = deletion_timestamp(object).unwrap_or(now);
        let moved = add_saturating(deadline, asked.saturating_sub(current));
        let meta = objects::metadata_mut(object)?;
        meta.insert("deletionTimestamp".into(), json!(rfc3339(moved)));
        meta.insert("deletionGracePeriodSeconds".into(), json!(asked));
        return Ok(Graceful::Yes);
    }
    let mut period = grace
        .or_else(|| {
            object
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(DEFAULT_POD_GRACE_SECONDS);
    let scheduled = object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        object.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !scheduled || finished {
        period = 0;
    }
    let period = period.max(0);
    *grace = Some(period);
    let deadline = add_saturating(now, period);
    let meta = objects::metadata_mut(object)?;
    meta.insert("deletionTimestamp".into(), json!(rfc3339(deadline)));
    meta.insert("deletionGracePeriodSeconds".into(), json!(period));
    if let Some(g) = meta.get("generation").and_then(Value::as_i64)
        && g > 0
    {
        meta.insert("generation".into(), json!(g.saturating_add(1)));
    }
    Ok(Graceful::Yes)
}

/// `t` moved by `seconds`, held at the ends of the representable range
/// (jiff's, in the years -9999 and 9999) instead of failing: a grace period of
/// `i64::MAX` seconds is a deletion that never comes due, not an error.
fn add_saturating(t: jiff::Timestamp, seconds: i64) -> jiff::Timestamp {
    t.checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or(if seconds < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
}

/// Marks an object that finalizers hold: deletionTimestamp now (or kept if
/// earlier), grace 0, generation bumped on the first mark.
fn mark_as_deleting(object: &mut Value, now: jiff::Timestamp) -> ApiResult<()> {
    let existing = deletion_timestamp(object);
    let first = !has_deletion_timestamp(object);
    let meta = objects::metadata_mut(object)?;
    if first
        && let Some(g) = meta.get("generation").and_then(Value::as_i64)
        && g > 0
    {
        meta.insert("generation".into(), json!(g.saturating_add(1)));
    }
    if existing.is_none_or(|t| t > now) {
        meta.insert("deletionTimestamp".into(), json!(rfc3339(now)));
    }
    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
    Ok(())
}

/// Checks the request's preconditions against the stored object, with the
/// message upstream gives for the resource.
pub fn check_preconditions(
    resource: &Resource,
    name: &str,
    object: &Value,
    rev: u64,
    opts: &DeleteOptions,
) -> ApiResult<()> {
    let stored_uid = objects::meta_str(object, "uid").unwrap_or("");
    let stored_rv = rev.to_string();
    // The namespace registry checks before the generic path, in its words.
    let namespace = is_namespace(resource);
    let kind_name = if resource.group.is_empty() {
        resource.kind.to_string()
    } else {
        format!("{}.{}", resource.kind, resource.group)
    };
    let conflict = |detail: String| {
        let mut err = ApiError::conflict(resource, name, &detail);
        if !namespace {
            // BeforeDelete names the kind, not the resource.
            err.message =
                format!("Operation cannot be fulfilled on {kind_name} \"{name}\": {detail}");
            err.details.kind = Some(resource.kind.to_string());
        }
        err
    };
    if let Some(uid) = &opts.uid
        && uid != stored_uid
    {
        return Err(conflict(if namespace {
            format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {stored_uid}"
            )
        } else {
            format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({stored_uid}). The object might have been deleted and then recreated"
            )
        }));
    }
    if let Some(rv) = &opts.resource_version
        && rv != &stored_rv
    {
        return Err(conflict(if namespace {
            format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {stored_rv}"
            )
        } else {
            format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({stored_rv}). The object might have been modified"
            )
        }));
    }
    Ok(())
}

/// Decides what a delete with `opts` does to `object` (stored, preconditions
/// already checked), at time `now`.
pub fn plan(
    resource: &Resource,
    object: &Value,
    opts: &DeleteOptions,
    now: jiff::Timestamp,
) -> ApiResult<Plan> {
    let mut next = object.clone();
    if is_namespace(resource) {
        if !has_deletion_timestamp(object) {
            // The first delete starts termination.
            objects::metadata_mut(&mut next)?
                .insert("deletionTimestamp".into(), json!(rfc3339(now)));
            next["status"]["phase"] = json!("Terminating");
            let wanted = namespace_gc_finalizers(&finalizers(object), opts);
            set_finalizers(&mut next, &wanted)?;
            return Ok(Plan::Update(next));
        }
        if !spec_finalizers(object).is_empty() {
            // The namespace controller has not finished yet.
            return Ok(Plan::Keep);
        }
    }
    let mut grace = opts.grace_period_seconds;
    let graceful = before_delete(resource, &mut next, &mut grace, now)?;
    if matches!(graceful, Graceful::Pending) {
        return Ok(Plan::Keep);
    }
    let wanted = gc_finalizers(&finalizers(&next), opts);
    set_finalizers(&mut next, &wanted)?;
    let pending_finalizers = !wanted.is_empty();
    match graceful {
        Graceful::No if pending_finalizers => {
            mark_as_deleting(&mut next, now)?;
            Ok(if objects::same_content(object, &next) {
                Plan::Keep
            } else {
                Plan::Update(next)
            })
        }
        Graceful::No => Ok(Plan::Remove),
        _ if pending_finalizers || grace.unwrap_or(0) > 0 => Ok(Plan::Update(next)),
        _ => Ok(Plan::Remove),
    }
}

/// Whether an update leaves an object that should be removed: it is being
/// deleted, its grace period is over and no finalizer (nor, for a
/// namespace, spec finalizer) holds it any more.
pub fn should_delete_during_update(resource: &Resource, old: &Value, new: &Value) -> bool {
    if !finalizers(new).is_empty() || !has_deletion_timestamp(old) {
        return false;
    }
    if is_namespace(resource) && !spec_finalizers(new).is_empty() {
        return false;
    }
    deletion_grace(old).is_none_or(|g| g == 0)
}

/// Update-time rules of deletion: a namespace's `spec.finalizers` change only
/// through `finalize`, and no finalizer may be added to an object that is
/// being deleted.
pub fn check_update(
    resource: &Resource,
    subresource: Option<&str>,
    old: &Value,
    new: &mut Value,
) -> ApiResult<()> {
    if is_namespace(resource) && subresource != Some("finalize") {
        match old.pointer("/spec/finalizers") {
            Some(f) => {
                if !new.get("spec").is_some_and(Value::is_object) {
                    new["spec"] = json!({});
                }
                new["spec"]["finalizers"] = f.clone();
            }
            None => {
                if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("finalizers");
                }
            }
        }
    }
    if has_deletion_timestamp(old) {
        let before = finalizers(old);
        let added: Vec<String> = finalizers(new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            let name = objects::meta_str(old, "name").unwrap_or("");
            let listed: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
            return Err(ApiError::forbidden(
                resource,
                name,
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    listed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The object a `namespaces/{name}/finalize` PUT leaves: the stored one with
/// the body's `spec.finalizers`.
pub fn finalize_namespace(old: &Value, body: &Value) -> ApiResult<Value> {
    let mut next = old.clone();
    let wanted = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let Some(list) = wanted.as_array() else {
        return Err(ApiError::bad_request("spec.finalizers must be a list"));
    };
    if list.iter().any(|f| !f.is_string()) {
        return Err(ApiError::bad_request(
            "spec.finalizers must be a list of strings",
        ));
    }
    if !next.get("spec").is_some_and(Value::is_object) {
        next["spec"] = json!({});
    }
    if list.is_empty() {
        if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("finalizers");
        }
    } else {
        next["spec"]["finalizers"] = wanted;
    }
    // A resourceVersion in the body is a precondition; carry it.
    if let Some(rv) = objects::meta_str(body, "resourceVersion") {
        objects::metadata_mut(&mut next)?.insert("resourceVersion".into(), json!(rv));
    }
    Ok(next)
}

/// What a delete answers: the object, or a Status for resources that do not
/// return deleted objects.
fn deleted_answer(resource: &Resource, name: &str, object: Value) -> Value {
    if returns_deleted_object(resource) {
        crate::stored::from_storage(resource, object)
    } else {
        status::success(resource, name, objects::meta_str(&object, "uid"))
    }
}

/// Deletes one object as the options ask; returns the status code and body.
pub async fn delete_object(
    state: &AppState,
    resource: &Resource,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<(StatusCode, Value)> {
    if is_namespace(resource) && crate::rest::SYSTEM_NAMESPACES[..3].contains(&name) {
        return Err(ApiError::forbidden(
            resource,
            name,
            "this namespace may not be deleted",
        ));
    }
    if let Some(reason) = resource.strategy.undeletable(name) {
        return Err(ApiError::forbidden(resource, name, reason));
    }
    // 202 when the object stays and the client asked for cascading by the
    // deprecated flag, as upstream.
    let kept_code = if opts.orphan_dependents == Some(false) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    for _ in 0..RETRIES {
        let current = state
            .store
            .get(key)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        let value: Value = serde_json::from_slice(&current.bytes)
            .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
        check_preconditions(resource, name, &value, current.rev, opts)?;
        match plan(resource, &value, opts, jiff::Timestamp::now())? {
            // The object stays as it is (a pending graceful deletion, or a
            // repeat of a delete already in effect): upstream answers with it.
            Plan::Keep => return Ok((kept_code, crate::stored::from_storage(resource, value))),
            Plan::Update(next) => {
                if opts.dry_run {
                    return Ok((kept_code, crate::stored::from_storage(resource, next)));
                }
                match state.store.update(key.to_string(), next, current.rev).await {
                    Ok(stored) => {
                        let value = serde_json::from_slice(&stored.bytes).map_err(|e| {
                            ApiError::internal(format!("decoding stored object: {e}"))
                        })?;
                        return Ok((kept_code, crate::stored::from_storage(resource, value)));
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound) => return Err(ApiError::not_found(resource, name)),
                    Err(other) => return Err(crate::rest::store_failure(other)),
                }
            }
            Plan::Remove => {
                if opts.dry_run {
                    return Ok((StatusCode::OK, deleted_answer(resource, name, value)));
                }
                match state.store.delete(key.to_string(), Some(current.rev)).await {
                    Ok(deleted) => {
                        let value = serde_json::from_slice(&deleted.bytes).map_err(|e| {
                            ApiError::internal(format!("decoding stored object: {e}"))
                        })?;
                        return Ok((StatusCode::OK, deleted_answer(resource, name, value)));
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound) => return Err(ApiError::not_found(resource, name)),
                    Err(other) => return Err(crate::rest::store_failure(other)),
                }
            }
        }
    }
    Err(ApiError::conflict(
        resource,
        name,
        "the object is being modified too often; please try again",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    fn now() -> jiff::Timestamp {
        "2025-01-01T00:00:00Z".parse().unwrap()
    }

    fn cm() -> &'static Resource {
        lookup("", "v1", "configmaps").unwrap()
    }

    fn pods() -> &'static Resource {
        lookup("", "v1", "pods").unwrap()
    }

    fn namespaces() -> &'static Resource {
        lookup("", "v1", "namespaces").unwrap()
    }

    fn with_policy(p: Propagation) -> DeleteOptions {
        DeleteOptions {
            propagation: Some(p),
            ..Default::default()
        }
    }

    fn updated(plan: Plan) -> Value {
        match plan {
            Plan::Update(v) => v,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn plain_objects_go_at_once_and_background_adds_nothing() {
        let obj = json!({"metadata": {"name": "a", "uid": "u"}});
        assert_eq!(
            plan(cm(), &obj, &DeleteOptions::default(), now()).unwrap(),
            Plan::Remove
        );
        assert_eq!(
            plan(cm(), &obj, &with_policy(Propagation::Background), now()).unwrap(),
            Plan::Remove
        );
    }

    #[test]
    fn orphan_and_foreground_add_their_finalizer_and_mark_the_object() {
        let obj = json!({"metadata": {"name": "a", "uid": "u", "finalizers": ["example.com/x"]}});
        let orphan = updated(plan(cm(), &obj, &with_policy(Propagation::Orphan), now()).unwrap());
        assert_eq!(
            orphan["metadata"]["finalizers"],
            json!(["example.com/x", "orphan"])
        );
        assert_eq!(
            orphan["metadata"]["deletionTimestamp"],
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(orphan["metadata"]["deletionGracePeriodSeconds"], 0);
        // A later Foreground switches the GC finalizer and keeps the timestamp.
        let later: jiff::Timestamp = "2025-01-01T00:01:00Z".parse().unwrap();
        let fg =
            updated(plan(cm(), &orphan, &with_policy(Propagation::Foreground), later).unwrap());
        assert_eq!(
            fg["metadata"]["finalizers"],
            json!(["example.com/x", "foregroundDeletion"])
        );
        assert_eq!(fg["metadata"]["deletionTimestamp"], "2025-01-01T00:00:00Z");
        // Repeating the same request changes nothing.
        assert_eq!(
            plan(cm(), &fg, &with_policy(Propagation::Foreground), later).unwrap(),
            Plan::Keep
        );
        // No policy keeps what the object carries.
        assert_eq!(
            plan(cm(), &fg, &DeleteOptions::default(), later).unwrap(),
            Plan::Keep
        );
        // Background drops the GC finalizer; the custom one still holds.
        let bg = updated(plan(cm(), &fg, &with_policy(Propagation::Background), later).unwrap());
        assert_eq!(bg["metadata"]["finalizers"], json!(["example.com/x"]));
    }

    #[test]
    fn orphan_dependents_flag_is_honoured() {
        let obj = json!({"metadata": {"name": "a"}});
        let o = DeleteOptions {
            orphan_dependents: Some(true),
            ..Default::default()
        };
        let v = updated(plan(cm(), &obj, &o, now()).unwrap());
        assert_eq!(v["metadata"]["finalizers"], json!(["orphan"]));
        let o = DeleteOptions {
            orphan_dependents: Some(false),
            ..Default::default()
        };
        assert_eq!(plan(cm(), &obj, &o, now()).unwrap(), Plan::Remove);
    }

    #[test]
    fn scheduled_pods_delete_gracefully_and_only_shorten() {
        let pod = json!({"metadata": {"name": "p", "generation": 1}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let v = updated(plan(pods(), &pod, &DeleteOptions::default(), now()).unwrap());
        assert_eq!(v["metadata"]["deletionTimestamp"], "2025-01-01T00:00:30Z");
        assert_eq!(v["metadata"]["deletionGracePeriodSeconds"], 30);
        assert_eq!(v["metadata"]["generation"], 2);
        // A longer or equal period is a no-op.
        let longer = DeleteOptions {
            grace_period_seconds: Some(60),
            ..Default::default()
        };
        assert_eq!(plan(pods(), &v, &longer, now()).unwrap(), Plan::Keep);
        assert_eq!(
            plan(pods(), &v, &DeleteOptions::default(), now()).unwrap(),
            Plan::Keep
        );
        // A shorter one moves the deadline.
        let shorter = DeleteOptions {
            grace_period_seconds: Some(10),
            ..Default::default()
        };
        let s = updated(plan(pods(), &v, &shorter, now()).unwrap());
        assert_eq!(s["metadata"]["deletionTimestamp"], "2025-01-01T00:00:10Z");
        assert_eq!(s["metadata"]["deletionGracePeriodSeconds"], 10);
        // Force: grace 0 removes it.
        let force = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        assert_eq!(plan(pods(), &s, &force, now()).unwrap(), Plan::Remove);
    }

    #[test]
    fn pod_grace_comes_from_the_spec_and_is_zero_when_unscheduled_or_finished() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 5}});
        let v = updated(plan(pods(), &pod, &DeleteOptions::default(), now()).unwrap());
        assert_eq!(v["metadata"]["deletionGracePeriodSeconds"], 5);
        let unscheduled = json!({"metadata": {"name": "p"}, "spec": {}});
        assert_eq!(
            plan(pods(), &unscheduled, &DeleteOptions::default(), now()).unwrap(),
            Plan::Remove
        );
        let done = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}});
        assert_eq!(
            plan(pods(), &done, &DeleteOptions::default(), now()).unwrap(),
            Plan::Remove
        );
        // Finalizers hold even a pod whose grace is zero.
        let held = json!({"metadata": {"name": "p", "finalizers": ["x/y"]}, "spec": {}});
        let v = updated(plan(pods(), &held, &DeleteOptions::default(), now()).unwrap());
        assert_eq!(v["metadata"]["deletionGracePeriodSeconds"], 0);
    }

    #[test]
    fn namespaces_terminate_then_go_when_finalized() {
        let ns = json!({"metadata": {"name": "shop", "uid": "u"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        let t = updated(
            plan(
                namespaces(),
                &ns,
                &with_policy(Propagation::Background),
                now(),
            )
            .unwrap(),
        );
        assert_eq!(t["status"]["phase"], "Terminating");
        assert!(t["metadata"].get("deletionGracePeriodSeconds").is_none());
        assert!(t["metadata"].get("finalizers").is_none());
        // Deleting again while the controller works changes nothing.
        assert_eq!(
            plan(namespaces(), &t, &DeleteOptions::default(), now()).unwrap(),
            Plan::Keep
        );
        // Finalize empties spec.finalizers; the update removes it.
        let finalized = finalize_namespace(&t, &json!({"spec": {"finalizers": []}})).unwrap();
        assert!(should_delete_during_update(namespaces(), &t, &finalized));
        // A foreground namespace delete is held by the GC finalizer too.
        let fg = updated(
            plan(
                namespaces(),
                &ns,
                &with_policy(Propagation::Foreground),
                now(),
            )
            .unwrap(),
        );
        assert_eq!(fg["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        let finalized = finalize_namespace(&fg, &json!({"spec": {}})).unwrap();
        assert!(!should_delete_during_update(namespaces(), &fg, &finalized));
    }

    #[test]
    fn removing_the_last_finalizer_deletes_only_when_grace_is_over() {
        let held = json!({"metadata": {"name": "a", "finalizers": ["x/y"], "deletionTimestamp": "2025-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
        let released = json!({"metadata": {"name": "a", "deletionTimestamp": "2025-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
        assert!(should_delete_during_update(cm(), &held, &released));
        assert!(!should_delete_during_update(cm(), &held, &held));
        let graceful = json!({"metadata": {"name": "a", "finalizers": ["x/y"], "deletionTimestamp": "2025-01-01T00:00:30Z", "deletionGracePeriodSeconds": 30}});
        assert!(!should_delete_during_update(pods(), &graceful, &released));
        let alive = json!({"metadata": {"name": "a", "finalizers": ["x/y"]}});
        assert!(!should_delete_during_update(cm(), &alive, &released));
    }

    #[test]
    fn no_finalizer_may_be_added_while_deleting_and_spec_finalizers_are_kept() {
        let held = json!({"metadata": {"name": "a", "finalizers": ["x/y"], "deletionTimestamp": "2025-01-01T00:00:00Z"}});
        let mut more = json!({"metadata": {"name": "a", "finalizers": ["x/y", "x/z"]}});
        let err = check_update(cm(), None, &held, &mut more).unwrap_err();
        assert_eq!(err.code, 403);
        assert!(
            err.message
                .contains("found new finalizers []string{\"x/z\"}"),
            "{}",
            err.message
        );
        let ns = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut put = json!({"metadata": {"name": "n"}, "spec": {}});
        check_update(namespaces(), None, &ns, &mut put).unwrap();
        assert_eq!(put["spec"]["finalizers"], json!(["kubernetes"]));
    }

    #[test]
    fn preconditions_use_upstream_messages() {
        let obj = json!({"metadata": {"name": "a", "uid": "real"}});
        let opts = DeleteOptions {
            uid: Some("other".into()),
            ..Default::default()
        };
        let err = check_preconditions(cm(), "a", &obj, 7, &opts).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (other) does not match the UID in record (real). The object might have been deleted and then recreated"
        );
        let opts = DeleteOptions {
            resource_version: Some("6".into()),
            ..Default::default()
        };
        let err = check_preconditions(cm(), "a", &obj, 7, &opts).unwrap_err();
        assert!(err.message.ends_with("the ResourceVersion in the precondition (6) does not match the ResourceVersion in record (7). The object might have been modified"));
        let err = check_preconditions(namespaces(), "a", &obj, 7, &opts).unwrap_err();
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on namespaces \"a\": Precondition failed: ResourceVersion in precondition: 6, ResourceVersion in object meta: 7"
        );
    }
}
