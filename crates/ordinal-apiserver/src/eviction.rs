//! `POST pods/{name}/eviction` against PodDisruptionBudgets, as upstream's
//! `pkg/registry/core/pod/storage/eviction.go`: a pod whose going would
//! leave a budget short is refused with 429 (kubectl drain retries);
//! otherwise the budget's `status.disruptionsAllowed` is spent and the pod
//! named in `status.disruptedPods`, in one compare-and-swap write of the
//! budget, before the pod is deleted with the eviction's DeleteOptions.
//!
//! The decisions are pure functions of the pod and the budgets
//! ([`plan`], [`spend`]); [`evict`] reads and writes the store.
//!
//! - A pod that is already gone from the budget's point of view
//!   (Succeeded, Failed, Pending, or being deleted) is deleted without
//!   looking at budgets; a Pending pod is deleted only at the version
//!   read, so that it cannot become Ready in between.
//! - No budget: a plain delete. More than one: 500 with upstream's
//!   message (upstream answers that case with 500 too).
//! - A pod that is not Ready does not count as healthy: it may go without
//!   spending the budget when the budget is met (`IfHealthyBudget`, the
//!   default) or always (`AlwaysAllow`); again only at the version read.
//! - A budget whose status was computed for an older spec
//!   (`observedGeneration < generation`) answers 429 until the disruption
//!   controller catches up.

use axum::response::Response;
use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use ordinal_store::StoreError;
use serde_json::{Value, json};

use crate::delete_options::DeleteOptions;
use crate::deletion;
use crate::objects;
use crate::render;
use crate::resources::{self, Resource};
use crate::rest;
use crate::selector::LabelSelector;
use crate::server::AppState;
use crate::status::{ApiError, ApiResult, Cause};

/// Upstream's `MaxDisruptedPodSize`: evictions the disruption controller
/// has not yet confirmed, beyond which a budget refuses more.
pub const MAX_DISRUPTED_PODS: usize = 2000;
/// Attempts at the compare-and-swap of a budget (upstream's
/// `EvictionsRetry` steps).
const BUDGET_RETRIES: usize = 20;
/// The message of every refusal by a budget.
pub const TOO_MANY: &str = "Cannot evict pod as it would violate the pod's disruption budget.";
/// The cause type of a refusal by a budget.
pub const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";
const MULTIPLE_BUDGETS: &str = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";

/// What an eviction of one pod does, given the budgets of its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Delete it; with `pinned`, only at the version read.
    Delete { pinned: bool },
    /// It is not Ready, and its budget lets an unhealthy pod go without
    /// spending a disruption: delete it at the version read; if it changed
    /// meanwhile, 429 (it may have become Ready).
    DeleteUnhealthy { budget: String },
    /// Spend one disruption of this budget, then delete it.
    Spend { budget: String },
    /// More than one budget selects it.
    MultipleBudgets,
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn terminating(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Upstream's `IsPodReady`: a `Ready` condition with status `True`.
fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True")))
}

fn labels(object: &Value) -> Vec<(String, String)> {
    objects::metadata(object)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `budget` selects `pod`. As upstream's eviction handler, a
/// budget with no selector, an empty one or one that does not parse
/// selects nothing.
pub fn selects(budget: &Value, pod: &Value) -> bool {
    let Some(raw) = budget.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        return false;
    };
    let Ok(typed) = serde_json::from_value::<metav1::LabelSelector>(raw.clone()) else {
        return false;
    };
    match LabelSelector::from_label_selector(&typed) {
        Ok(selector) => !selector.is_empty() && selector.matches(&labels(pod)),
        Err(_) => false,
    }
}

fn status_int(budget: &Value, field: &str) -> i64 {
    budget
        .get("status")
        .and_then(|s| s.get(field))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// What evicting `pod` does, given the budgets of its namespace.
pub fn plan(pod: &Value, budgets: &[Value]) -> Plan {
    // Already no disruption to guard against.
    if matches!(phase(pod), "Succeeded" | "Failed") || terminating(pod) {
        return Plan::Delete { pinned: false };
    }
    if phase(pod) == "Pending" {
        return Plan::Delete { pinned: true };
    }
    let mut covering = budgets.iter().filter(|b| selects(b, pod));
    let (Some(budget), None) = (covering.next(), covering.next()) else {
        return if budgets.iter().any(|b| selects(b, pod)) {
            Plan::MultipleBudgets
        } else {
            Plan::Delete { pinned: false }
        };
    };
    let name = objects::meta_str(budget, "name").unwrap_or("").to_string();
    if !ready(pod) {
        let always = budget
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str)
            == Some("AlwaysAllow");
        let desired = status_int(budget, "desiredHealthy");
        if always || (status_int(budget, "currentHealthy") >= desired && desired > 0) {
            return Plan::DeleteUnhealthy { budget: name };
        }
    }
    Plan::Spend { budget: name }
}

/// Upstream's answer while a budget's status is not yet computed for its
/// spec (or an unhealthy pod changed under the eviction).
pub fn still_processing(budget: &str) -> ApiError {
    let mut err = ApiError::relayed(429, "TooManyRequests", TOO_MANY);
    err.details.causes.push(Cause {
        reason: DISRUPTION_BUDGET_CAUSE.into(),
        message: format!("The disruption budget {budget} is still being processed by the server."),
        field: String::new(),
    });
    err.details.retry_after_seconds = Some(10);
    err
}

/// `poddisruptionbudget.policy "<name>" is forbidden: <why>`, as upstream
/// names the resource in these two refusals.
fn forbidden(budget: &str, why: &str) -> ApiError {
    let mut err = ApiError::relayed(
        403,
        "Forbidden",
        format!("poddisruptionbudget.policy \"{budget}\" is forbidden: {why}"),
    )
    .about_resource("poddisruptionbudget", budget);
    err.details.group = Some("policy".into());
    err
}

/// Upstream's `checkAndDecrement`: the budget with one disruption spent on
/// `pod` at `now` (RFC 3339), or why not. With `dry_run` the pod is not
/// recorded (nothing is written anyway).
pub fn spend(budget: &Value, pod: &str, now: &str, dry_run: bool) -> ApiResult<Value> {
    let name = objects::meta_str(budget, "name").unwrap_or("");
    let generation = objects::metadata(budget)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if status_int(budget, "observedGeneration") < generation {
        return Err(still_processing(name));
    }
    let allowed = status_int(budget, "disruptionsAllowed");
    if allowed < 0 {
        return Err(forbidden(name, "pdb disruptions allowed is negative"));
    }
    let disrupted = budget
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len);
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(forbidden(
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        let mut err = ApiError::relayed(429, "TooManyRequests", TOO_MANY);
        err.details.causes.push(Cause {
            reason: DISRUPTION_BUDGET_CAUSE.into(),
            message: format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status_int(budget, "desiredHealthy"),
                status_int(budget, "currentHealthy"),
            ),
            field: String::new(),
        });
        return Err(err);
    }
    let mut next = budget.clone();
    if !next.get("status").is_some_and(Value::is_object) {
        next["status"] = json!({});
    }
    let status = &mut next["status"];
    status["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        insufficient(status, now);
    }
    if !dry_run {
        if !status.get("disruptedPods").is_some_and(Value::is_object) {
            status["disruptedPods"] = json!({});
        }
        status["disruptedPods"][pod] = json!(now);
    }
    Ok(next)
}

/// Upstream's `UpdateDisruptionAllowedCondition` once no disruption is
/// left: `DisruptionAllowed` False for `InsufficientPods`, its transition
/// time kept unless its status changes.
fn insufficient(status: &mut Value, now: &str) {
    let observed = status
        .get("observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = json!([]);
    }
    let Some(conditions) = status["conditions"].as_array_mut() else {
        return;
    };
    let fresh = json!({
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "observedGeneration": observed,
        "lastTransitionTime": now,
    });
    match conditions
        .iter_mut()
        .find(|c| c.get("type") == Some(&json!("DisruptionAllowed")))
    {
        Some(existing) => {
            let kept = (existing.get("status") == Some(&json!("False")))
                .then(|| existing.get("lastTransitionTime").cloned())
                .flatten();
            *existing = fresh;
            if let Some(time) = kept {
                existing["lastTransitionTime"] = time;
            }
        }
        None => conditions.push(fresh),
    }
}

fn budgets_resource() -> ApiResult<&'static Resource> {
    resources::lookup("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("PodDisruptionBudgets are not served"))
}

/// The budgets of a namespace, as stored.
fn budgets_in(state: &AppState, namespace: &str) -> ApiResult<Vec<Value>> {
    let prefix = budgets_resource()?.namespace_prefix(namespace);
    let snapshot = state.store.snapshot();
    snapshot
        .range(&prefix, None)
        .map(|o| rest::parse_stored(o))
        .collect()
}

/// Spends one disruption of `budget` on `pod` with compare-and-swap,
/// reading the budget again after a conflict.
async fn spend_budget(
    state: &AppState,
    namespace: &str,
    budget: &str,
    pod: &str,
    dry_run: bool,
) -> ApiResult<()> {
    let budgets = budgets_resource()?;
    let key = budgets.key(Some(namespace), budget);
    for _ in 0..BUDGET_RETRIES {
        let current = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(budgets, budget))?;
        let next = spend(
            &rest::parse_stored(&current)?,
            pod,
            &objects::now_rfc3339(),
            dry_run,
        )?;
        if dry_run {
            return Ok(());
        }
        match state.store.update(key.clone(), next, current.rev).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::not_found(budgets, budget)),
            Err(other) => return Err(rest::store_failure(other)),
        }
    }
    let mut err = ApiError::timeout(&format!(
        "couldn't update PodDisruptionBudget \"{budget}\" due to conflicts"
    ));
    err.details.retry_after_seconds = Some(10);
    Err(err)
}

/// The `Status` a successful eviction returns.
fn evicted() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    })
}

/// Evicts the pod at `key` as `opts` (the eviction's DeleteOptions) ask.
pub async fn evict(
    state: &AppState,
    pods: &Resource,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<Response> {
    let namespace = key
        .strip_prefix(&pods.key_prefix())
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_string();
    let user_pinned = opts.resource_version.is_some();
    // A pod the budgets do not guard is deleted at once; a conflict on a
    // version we pinned means it changed: look again.
    let mut attempts = 0;
    let (pod, decision) = loop {
        attempts += 1;
        let current = state
            .store
            .get(key)
            .ok_or_else(|| ApiError::not_found(pods, name))?;
        let pod = rest::parse_stored(&current)?;
        let decision = plan(&pod, &budgets_in(state, &namespace)?);
        let Plan::Delete { pinned: true } = decision else {
            break (current, decision);
        };
        let mut pinned = opts.clone();
        if !user_pinned {
            pinned.resource_version = Some(current.rev.to_string());
        }
        match delete_evicted(state, pods, key, name, &pinned).await {
            Err(e) if e.code == 409 && !user_pinned && attempts < BUDGET_RETRIES => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(done()),
        }
    };
    match decision {
        Plan::MultipleBudgets => {
            let status = json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": MULTIPLE_BUDGETS,
                "code": 500,
            });
            Ok(render::json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                status.to_string(),
            ))
        }
        Plan::Delete { .. } => {
            delete_evicted(state, pods, key, name, opts).await?;
            Ok(done())
        }
        Plan::Spend { budget } => {
            spend_budget(state, &namespace, &budget, name, opts.dry_run).await?;
            delete_evicted(state, pods, key, name, opts).await?;
            Ok(done())
        }
        Plan::DeleteUnhealthy { budget } => {
            let mut pinned = opts.clone();
            if !user_pinned {
                pinned.resource_version = Some(pod.rev.to_string());
            }
            match delete_evicted(state, pods, key, name, &pinned).await {
                Err(e) if e.code == 409 && !user_pinned => Err(still_processing(&budget)),
                Err(e) => Err(e),
                Ok(_) => Ok(done()),
            }
        }
    }
}

/// Upstream's `DisruptionTarget` condition of a pod an eviction deletes
/// (`UpdatePodCondition`: the transition time moves only with the status).
pub fn mark_disruption_target(pod: &mut Value, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    if !pod["status"].get("conditions").is_some_and(Value::is_array) {
        pod["status"]["conditions"] = json!([]);
    }
    let Some(conditions) = pod["status"]["conditions"].as_array_mut() else {
        return;
    };
    let mut fresh = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    match conditions
        .iter_mut()
        .find(|c| c.get("type") == Some(&json!("DisruptionTarget")))
    {
        Some(existing) => {
            if existing.get("status") == Some(&json!("True"))
                && let Some(time) = existing.get("lastTransitionTime")
            {
                fresh["lastTransitionTime"] = time.clone();
            }
            *existing = fresh;
        }
        None => conditions.push(fresh),
    }
}

/// Upstream's `addConditionAndDeletePod`: the pod is marked a disruption
/// target (its preconditions checked against the latest state; a
/// resourceVersion precondition then moves to the marked pod), then
/// deleted with the options. A dry run marks nothing.
async fn delete_evicted(
    state: &AppState,
    pods: &Resource,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<()> {
    let mut opts = opts.clone();
    if !opts.dry_run {
        let mut marked = false;
        for _ in 0..rest::UPDATE_RETRIES {
            let current = state
                .store
                .get(key)
                .ok_or_else(|| ApiError::not_found(pods, name))?;
            let mut pod = rest::parse_stored(&current)?;
            deletion::check_preconditions(pods, name, &pod, current.rev, &opts)?;
            mark_disruption_target(&mut pod, &objects::now_rfc3339());
            match state.store.update(key.to_string(), pod, current.rev).await {
                Ok(stored) => {
                    if opts.resource_version.is_some() {
                        opts.resource_version = Some(stored.rev.to_string());
                    }
                    marked = true;
                    break;
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(pods, name)),
                Err(other) => return Err(rest::store_failure(other)),
            }
        }
        if !marked {
            return Err(ApiError::stale(pods, name));
        }
    }
    deletion::delete_object(state, pods, key, name, &opts).await?;
    Ok(())
}

fn done() -> Response {
    render::json_response(StatusCode::CREATED, evicted().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, ready: bool) -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}
            ]}
        })
    }

    fn budget(name: &str, status: Value) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
            "status": status,
        })
    }

    fn healthy(allowed: i64) -> Value {
        json!({"observedGeneration": 1, "disruptionsAllowed": allowed,
               "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3})
    }

    #[test]
    fn pods_without_disruption_to_guard_go_freely() {
        let budgets = [budget("web", healthy(0))];
        for phase in ["Succeeded", "Failed"] {
            assert_eq!(
                plan(&pod(phase, false), &budgets),
                Plan::Delete { pinned: false }
            );
        }
        assert_eq!(
            plan(&pod("Pending", false), &budgets),
            Plan::Delete { pinned: true }
        );
        let mut leaving = pod("Running", true);
        leaving["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(plan(&leaving, &budgets), Plan::Delete { pinned: false });
    }

    #[test]
    fn budgets_are_found_by_selector_and_only_one_may_cover_a_pod() {
        let running = pod("Running", true);
        assert_eq!(plan(&running, &[]), Plan::Delete { pinned: false });
        let mut other = budget("db", healthy(1));
        other["spec"]["selector"] = json!({"matchLabels": {"app": "db"}});
        let mut empty = budget("all", healthy(1));
        empty["spec"]["selector"] = json!({});
        let mut none = budget("none", healthy(1));
        none["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            plan(&running, &[other.clone(), empty, none]),
            Plan::Delete { pinned: false },
            "an empty or missing selector selects nothing here"
        );
        assert_eq!(
            plan(&running, &[budget("web", healthy(1)), other.clone()]),
            Plan::Spend {
                budget: "web".into()
            }
        );
        assert_eq!(
            plan(
                &running,
                &[budget("a", healthy(1)), budget("b", healthy(1))]
            ),
            Plan::MultipleBudgets
        );
    }

    #[test]
    fn unhealthy_pods_follow_the_eviction_policy() {
        let unready = pod("Running", false);
        // The budget is met: the unhealthy pod goes without spending it.
        assert_eq!(
            plan(&unready, &[budget("web", healthy(0))]),
            Plan::DeleteUnhealthy {
                budget: "web".into()
            }
        );
        // Not met: IfHealthyBudget (the default) makes it wait its turn...
        let short = json!({"observedGeneration": 1, "disruptionsAllowed": 0,
            "currentHealthy": 1, "desiredHealthy": 2, "expectedPods": 3});
        assert_eq!(
            plan(&unready, &[budget("web", short.clone())]),
            Plan::Spend {
                budget: "web".into()
            }
        );
        // ...AlwaysAllow lets it go.
        let mut always = budget("web", short);
        always["spec"]["unhealthyPodEvictionPolicy"] = json!("AlwaysAllow");
        assert_eq!(
            plan(&unready, &[always]),
            Plan::DeleteUnhealthy {
                budget: "web".into()
            }
        );
    }

    #[test]
    fn spending_a_budget_decrements_it_and_records_the_pod() {
        let now = "2026-01-01T00:00:00Z";
        let next = spend(&budget("web", healthy(2)), "web-1", now, false).unwrap();
        assert_eq!(next["status"]["disruptionsAllowed"], 1);
        assert_eq!(next["status"]["disruptedPods"], json!({"web-1": now}));
        assert!(next["status"].get("conditions").is_none());
        let last = spend(&next, "web-2", now, false).unwrap();
        assert_eq!(last["status"]["disruptionsAllowed"], 0);
        assert_eq!(
            last["status"]["disruptedPods"],
            json!({"web-1": now, "web-2": now})
        );
        assert_eq!(
            last["status"]["conditions"],
            json!([{"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                    "message": "", "observedGeneration": 1, "lastTransitionTime": now}])
        );
        let dry = spend(&budget("web", healthy(1)), "web-1", now, true).unwrap();
        assert!(dry["status"].get("disruptedPods").is_none());
    }

    #[test]
    fn an_evicted_pod_is_marked_a_disruption_target_once() {
        let mut p = pod("Running", true);
        mark_disruption_target(&mut p, "2026-01-01T00:00:00Z");
        let conditions = p["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(
            conditions[1],
            json!({"type": "DisruptionTarget", "status": "True", "lastProbeTime": null,
                   "lastTransitionTime": "2026-01-01T00:00:00Z",
                   "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"})
        );
        mark_disruption_target(&mut p, "2026-01-01T00:05:00Z");
        let conditions = p["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(
            conditions[1]["lastTransitionTime"], "2026-01-01T00:00:00Z",
            "the status did not change"
        );
        let mut bare = json!({"metadata": {"name": "x"}, "status": "odd"});
        mark_disruption_target(&mut bare, "2026-01-01T00:00:00Z");
        assert_eq!(bare["status"]["conditions"][0]["type"], "DisruptionTarget");
    }

    #[test]
    fn a_spent_or_stale_budget_refuses_with_429() {
        let now = "2026-01-01T00:00:00Z";
        let err = spend(&budget("web", healthy(0)), "web-1", now, false).unwrap_err();
        assert_eq!((err.code, err.reason), (429, "TooManyRequests"));
        assert_eq!(err.message, TOO_MANY);
        assert_eq!(
            err.details.causes,
            [Cause {
                reason: "DisruptionBudget".into(),
                message: "The disruption budget web needs 2 healthy pods and has 3 currently"
                    .into(),
                field: String::new(),
            }]
        );
        assert_eq!(err.details.retry_after_seconds, None);

        let mut stale = budget("web", healthy(1));
        stale["metadata"]["generation"] = json!(2);
        let err = spend(&stale, "web-1", now, false).unwrap_err();
        assert_eq!(err.code, 429);
        assert_eq!(
            err.details.causes[0].message,
            "The disruption budget web is still being processed by the server."
        );
        assert_eq!(err.details.retry_after_seconds, Some(10));

        let err = spend(&budget("web", healthy(-1)), "web-1", now, false).unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "poddisruptionbudget.policy \"web\" is forbidden: pdb disruptions allowed is negative"
        );
    }
}
