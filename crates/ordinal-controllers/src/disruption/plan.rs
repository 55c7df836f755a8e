//! The decision of the disruption controller, with upstream's names
//! (`pkg/controller/disruption/disruption.go`): from a budget, the pods it
//! selects and the scale of their controllers, the status the budget
//! should have. Pure: no clock (the time is an argument), no API.
//!
//! - `expectedPods` is the number of pods the budget should see: the pods
//!   selected for an integer `minAvailable`; otherwise the sum of the
//!   scales of the pods' controllers (each StatefulSet counted once). A
//!   pod without a controller leaves the sum as it is and is reported as
//!   unmanaged; a controller that is not a StatefulSet this cache holds
//!   fails the sync ("found no controllers for pod").
//! - `desiredHealthy` is `minAvailable` (a percentage of `expectedPods`,
//!   rounded up), or `expectedPods - maxUnavailable` (likewise), never
//!   below zero.
//! - `currentHealthy` counts Ready pods, not being deleted, and not in
//!   `disruptedPods` (an eviction has promised their deletion).
//! - `disruptedPods` keeps the entries of pods that still exist, are not
//!   yet being deleted and were evicted less than [`DELETION_TIMEOUT`]
//!   ago; the earliest expiry is when the budget is synced again.
//! - `disruptionsAllowed` is `currentHealthy - desiredHealthy`, and 0
//!   when that is negative or no pod is expected.
//! - The `DisruptionAllowed` condition is True (`SufficientPods`) when a
//!   disruption is allowed, False (`InsufficientPods`) otherwise, and
//!   False (`SyncFailed`, the error as message) when the counts cannot be
//!   computed, which also sets `disruptionsAllowed` to 0 (upstream's
//!   fail-safe).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::labels::Selector;

use crate::runtime::controller;

/// How long an eviction's promise to delete a pod holds (upstream's
/// `DeletionTimeout`): a pod in `disruptedPods` for longer counts again.
pub const DELETION_TIMEOUT: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// The condition type, and its reasons.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
/// The condition's reason when a disruption is allowed.
pub const SUFFICIENT_PODS: &str = "SufficientPods";
/// The condition's reason when none is.
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
/// The condition's reason when the status could not be computed.
pub const SYNC_FAILED: &str = "SyncFailed";

/// An event the sync records, as upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Whether it is a `Warning` (else `Normal`).
    pub warning: bool,
    /// The pod it is about, when not the budget.
    pub pod: Option<String>,
    /// Upstream's reason.
    pub reason: &'static str,
    /// Upstream's message.
    pub message: String,
}

/// What one sync of a budget decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The status to write; `None` when the budget already has it.
    pub status: Option<PodDisruptionBudgetStatus>,
    /// When an entry of `disruptedPods` expires: sync again then.
    pub recheck: Option<jiff::Timestamp>,
    /// Events to record.
    pub notes: Vec<Note>,
    /// Why the counts could not be computed, if they could not.
    pub failure: Option<String>,
}

/// The counts of one budget, before they become a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// `status.expectedPods`.
    pub expected: i32,
    /// `status.desiredHealthy`.
    pub desired: i32,
    /// `status.currentHealthy`.
    pub current: i32,
    /// `status.disruptedPods`, pruned.
    pub disrupted: BTreeMap<String, Time>,
    /// The earliest expiry among `disrupted`.
    pub recheck: Option<jiff::Timestamp>,
    /// Selected pods without a controller (they do not add to a scale).
    pub unmanaged: Vec<String>,
    /// Pods whose eviction expired without their deletion.
    pub not_deleted: Vec<String>,
}

impl Counts {
    /// `disruptionsAllowed`: what the healthy pods exceed the desired by,
    /// and nothing when no pod is expected (a budget whose first pods
    /// appear before its first sync must not allow a disruption).
    pub fn disruptions_allowed(&self) -> i32 {
        let allowed = self.current.saturating_sub(self.desired);
        if self.expected <= 0 || allowed <= 0 {
            0
        } else {
            allowed
        }
    }
}

/// The pods of `namespace_pods` the budget selects: none for a missing
/// selector, all for an empty one (policy/v1), an error for one that does
/// not compile.
pub fn selected<'a>(
    pdb: &PodDisruptionBudget,
    namespace_pods: &[&'a Pod],
) -> Result<Vec<&'a Pod>, String> {
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return Ok(Vec::new());
    };
    let selector = Selector::compile(selector).map_err(|e| e.to_string())?;
    Ok(namespace_pods
        .iter()
        .copied()
        .filter(|p| selector.matches(p.metadata.labels.as_ref()))
        .collect())
}

/// Upstream's `GetScaledValueFromIntOrPercent` rounding up.
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let Some(digits) = s.strip_suffix('%') else {
                return Err(
                    "invalid value for IntOrString: invalid type: string is not a percentage"
                        .into(),
                );
            };
            let percent: i64 = digits.parse().map_err(|_| {
                format!(
                    "invalid value for IntOrString: invalid value \"{s}\": strconv.Atoi: parsing \"{digits}\": invalid syntax"
                )
            })?;
            let total = i64::from(total);
            let up = (percent * total + 99).div_euclid(100);
            Ok(i32::try_from(up).unwrap_or(i32::MAX))
        }
    }
}

/// Upstream's `getExpectedScale`: the sum of the scales of the pods'
/// controllers, each once. `scale` answers for a StatefulSet of the
/// namespace (by owner reference, UID checked).
fn expected_scale(
    pods: &[&Pod],
    scale: &dyn Fn(&OwnerReference) -> Option<i32>,
) -> Result<(i32, Vec<String>), String> {
    let mut unmanaged = Vec::new();
    let mut scales: BTreeMap<&str, i32> = BTreeMap::new();
    for pod in pods {
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let Some(owner) = controller(&pod.metadata) else {
            unmanaged.push(name.to_string());
            continue;
        };
        if scales.contains_key(owner.uid.as_str()) {
            continue;
        }
        let group = owner.api_version.split_once('/').map_or("", |(g, _)| g);
        let found = (owner.kind == "StatefulSet" && group == "apps")
            .then(|| scale(owner))
            .flatten();
        match found {
            Some(n) => {
                scales.insert(owner.uid.as_str(), n);
            }
            None => return Err(format!("found no controllers for pod \"{name}\"")),
        }
    }
    let total = scales.values().map(|n| i64::from(*n)).sum::<i64>();
    Ok((i32::try_from(total).unwrap_or(i32::MAX), unmanaged))
}

/// Upstream's `getExpectedPodCount`: `(expectedPods, desiredHealthy,
/// unmanaged pods)`.
fn expected_and_desired(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scale: &dyn Fn(&OwnerReference) -> Option<i32>,
) -> Result<(i32, i32, Vec<String>), String> {
    let spec = pdb.spec.as_ref();
    if let Some(max) = spec.and_then(|s| s.max_unavailable.as_ref()) {
        let (expected, unmanaged) = expected_scale(pods, scale)?;
        let max = scaled(max, expected)?;
        return Ok((expected, expected.saturating_sub(max).max(0), unmanaged));
    }
    match spec.and_then(|s| s.min_available.as_ref()) {
        Some(IntOrString::Int(n)) => Ok((
            i32::try_from(pods.len()).unwrap_or(i32::MAX),
            *n,
            Vec::new(),
        )),
        Some(percent) => {
            let (expected, unmanaged) = expected_scale(pods, scale)?;
            Ok((expected, scaled(percent, expected)?, unmanaged))
        }
        None => Ok((0, 0, Vec::new())),
    }
}

fn is_ready(pod: &Pod) -> bool {
    ordinal_core::pod::is_ready(pod)
}

fn deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The counts of a budget over the pods it selects.
pub fn counts(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scale: &dyn Fn(&OwnerReference) -> Option<i32>,
    now: jiff::Timestamp,
) -> Result<Counts, String> {
    let (expected, desired, unmanaged) = expected_and_desired(pdb, pods, scale)?;
    // buildDisruptedPodMap
    let promised = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref());
    let mut disrupted = BTreeMap::new();
    let mut recheck: Option<jiff::Timestamp> = None;
    let mut not_deleted = Vec::new();
    for pod in pods.iter().filter(|p| !deleting(p)) {
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let Some(at) = promised.and_then(|m| m.get(name)) else {
            continue;
        };
        let expiry = at.0.saturating_add(DELETION_TIMEOUT).unwrap_or(at.0);
        if expiry < now {
            not_deleted.push(name.to_string());
        } else {
            recheck = Some(recheck.map_or(expiry, |r| r.min(expiry)));
            disrupted.insert(name.to_string(), at.clone());
        }
    }
    // countHealthyPods
    let current = pods
        .iter()
        .filter(|p| !deleting(p))
        .filter(|p| {
            let name = p.metadata.name.as_deref().unwrap_or("");
            disrupted
                .get(name)
                .is_none_or(|at| at.0.saturating_add(DELETION_TIMEOUT).unwrap_or(at.0) <= now)
        })
        .filter(|p| is_ready(p))
        .count();
    Ok(Counts {
        expected,
        desired,
        current: i32::try_from(current).unwrap_or(i32::MAX),
        disrupted,
        recheck,
        unmanaged,
        not_deleted,
    })
}

/// apimachinery's `SetStatusCondition`: replaces the condition of the same
/// type, keeping its transition time unless its status changes.
fn set_condition(conditions: &mut Vec<Condition>, mut fresh: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == fresh.type_) {
        Some(existing) => {
            if existing.status == fresh.status {
                fresh.last_transition_time = existing.last_transition_time.clone();
            }
            *existing = fresh;
        }
        None => conditions.push(fresh),
    }
}

fn condition(
    status: &str,
    reason: &str,
    message: String,
    observed: i64,
    now: jiff::Timestamp,
) -> Condition {
    Condition {
        type_: DISRUPTION_ALLOWED.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: Some(observed),
        last_transition_time: Time(now),
    }
}

/// Whether the budget's condition says what its counts say (upstream's
/// `ConditionsAreUpToDate`).
fn condition_up_to_date(status: &PodDisruptionBudgetStatus, generation: i64) -> bool {
    let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == DISRUPTION_ALLOWED)
    else {
        return false;
    };
    if status.observed_generation.unwrap_or(0) != generation {
        return false;
    }
    if status.disruptions_allowed > 0 {
        c.status == "True" && c.reason == SUFFICIENT_PODS
    } else {
        c.status == "False" && c.reason == INSUFFICIENT_PODS
    }
}

/// The status the counts give the budget; `None` when it has it already
/// (upstream's `updatePdbStatus`).
pub fn status_of(
    pdb: &PodDisruptionBudget,
    counts: &Counts,
    now: jiff::Timestamp,
) -> Option<PodDisruptionBudgetStatus> {
    let generation = pdb.metadata.generation.unwrap_or(0);
    let old = pdb.status.clone().unwrap_or_default();
    let allowed = counts.disruptions_allowed();
    let disrupted_now = old.disrupted_pods.clone().unwrap_or_default();
    if old.current_healthy == counts.current
        && old.desired_healthy == counts.desired
        && old.expected_pods == counts.expected
        && old.disruptions_allowed == allowed
        && disrupted_now == counts.disrupted
        && old.observed_generation.unwrap_or(0) == generation
        && condition_up_to_date(&old, generation)
    {
        return None;
    }
    let mut conditions = old.conditions.unwrap_or_default();
    let fresh = if allowed > 0 {
        condition("True", SUFFICIENT_PODS, String::new(), generation, now)
    } else {
        condition("False", INSUFFICIENT_PODS, String::new(), generation, now)
    };
    set_condition(&mut conditions, fresh);
    Some(PodDisruptionBudgetStatus {
        current_healthy: counts.current,
        desired_healthy: counts.desired,
        expected_pods: counts.expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!counts.disrupted.is_empty()).then(|| counts.disrupted.clone()),
        observed_generation: Some(generation),
        conditions: Some(conditions),
    })
}

/// Upstream's `failSafe`: no disruption allowed, and why, the rest of the
/// status kept. `None` when the budget says so already.
pub fn fail_safe(
    pdb: &PodDisruptionBudget,
    error: &str,
    now: jiff::Timestamp,
) -> Option<PodDisruptionBudgetStatus> {
    let mut status = pdb.status.clone().unwrap_or_default();
    let observed = status.observed_generation.unwrap_or(0);
    let already = status.disruptions_allowed == 0
        && status.conditions.iter().flatten().any(|c| {
            c.type_ == DISRUPTION_ALLOWED
                && c.status == "False"
                && c.reason == SYNC_FAILED
                && c.message == error
                && c.observed_generation == Some(observed)
        });
    if already {
        return None;
    }
    status.disruptions_allowed = 0;
    let mut conditions = status.conditions.take().unwrap_or_default();
    set_condition(
        &mut conditions,
        condition("False", SYNC_FAILED, error.to_string(), observed, now),
    );
    status.conditions = Some(conditions);
    Some(status)
}

/// One sync of a budget: its status from the pods of its namespace and
/// the scales of their StatefulSets, at `now`.
pub fn plan(
    pdb: &PodDisruptionBudget,
    namespace_pods: &[&Pod],
    scale: &dyn Fn(&OwnerReference) -> Option<i32>,
    now: jiff::Timestamp,
) -> Plan {
    let namespace = pdb.metadata.namespace.as_deref().unwrap_or("");
    let mut notes = Vec::new();
    let computed = selected(pdb, namespace_pods).and_then(|pods| {
        if pods.is_empty() {
            notes.push(Note {
                warning: false,
                pod: None,
                reason: "NoPods",
                message: "No matching pods found".into(),
            });
        }
        counts(pdb, &pods, scale, now).inspect_err(|e| {
            notes.push(Note {
                warning: true,
                pod: None,
                reason: "CalculateExpectedPodCountFailed",
                message: format!("Failed to calculate the number of expected pods: {e}"),
            });
        })
    });
    match computed {
        Ok(counts) => {
            if !counts.unmanaged.is_empty() {
                let selector = pdb
                    .spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .and_then(|s| Selector::compile(s).ok())
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                notes.push(Note {
                    warning: true,
                    pod: None,
                    reason: "UnmanagedPods",
                    message: format!(
                        "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
                    ),
                });
            }
            for pod in &counts.not_deleted {
                // Upstream's message names the namespace twice.
                notes.push(Note {
                    warning: true,
                    pod: Some(pod.clone()),
                    reason: "NotDeleted",
                    message: format!(
                        "Pod was expected by PDB {namespace}/{namespace} to be deleted but it wasn't"
                    ),
                });
            }
            Plan {
                status: status_of(pdb, &counts, now),
                recheck: counts.recheck,
                notes,
                failure: None,
            }
        }
        Err(error) => Plan {
            status: fail_safe(pdb, &error, now),
            recheck: None,
            notes,
            failure: Some(error),
        },
    }
}

#[cfg(test)]
mod tests;
