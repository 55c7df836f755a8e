//! The StatefulSet controller's planning core: given what the cluster looks
//! like, decide what to do. No I/O, no clock, no client: [`plan`] is a pure
//! function from [`Observed`] (the set, the pods, claims and revisions around
//! it, and the time) to a [`Plan`] (the API calls to make and the status to
//! write). A driver lists the objects, calls [`plan`], executes the plan, and
//! calls [`plan`] again when something changes.
//!
//! ```
//! use k8s_openapi::api::apps::v1::StatefulSet;
//! use ordinal_controllers::statefulset::{plan, Action, Observed};
//!
//! let set: StatefulSet = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
//!     "spec": {
//!         "replicas": 3,
//!         "selector": {"matchLabels": {"app": "web"}},
//!         "serviceName": "web",
//!         "template": {
//!             "metadata": {"labels": {"app": "web"}},
//!             "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}
//!         }
//!     }
//! }))
//! .unwrap();
//! let first = plan(&Observed {
//!     set: &set,
//!     pods: vec![],
//!     claims: vec![],
//!     revisions: vec![],
//!     now: jiff::Timestamp::UNIX_EPOCH,
//! });
//! // The first sync records the template as a revision and, the pod
//! // management policy being OrderedReady, creates web-0 only.
//! assert!(matches!(first.revision, Some(Action::CreateRevision(_))));
//! let created: Vec<_> = first.actions().filter_map(|a| match a {
//!     Action::CreatePod { pod, .. } => pod.metadata.name.as_deref(),
//!     _ => None,
//! }).collect();
//! assert_eq!(created, ["web-0"]);
//! ```
//!
//! The semantics are upstream's (`pkg/controller/statefulset` in
//! kubernetes/kubernetes), as summarised in `shared/reference/statefulset.md`.
//! Read the modules in this order:
//!
//! - `spec`: the set's spec with every absent field read as the API server
//!   would have defaulted it.
//! - `ownership`: which pods and revisions are the set's; adopting orphans,
//!   releasing pods that stopped matching.
//! - `revision`: ControllerRevisions, their names (byte-for-byte upstream's
//!   hash, via `ordinal_core::go_text::GoJson`), rollback and history truncation.
//! - `sync`: the pass over the pods — OrderedReady or Parallel, scale up and
//!   down, replacing failed pods, rolling updates with partition and
//!   maxUnavailable, OnDelete. Start here to see what a sync does.
//! - `identity` and `claims`: what a pod and its claims must look like, and
//!   who owns the claims under each retention policy; `health` reads pods'
//!   readiness and availability.
//! - `claim_updates`: existing claims following their templates' labels,
//!   annotations and grown storage requests, one expansion at a time.
//! - `status`: the status written after the pass.
//! - `teardown`: a set deleted in the foreground deletes its own pods,
//!   highest ordinal first, each once the one before it is gone.
//!
//! # Executing a plan
//!
//! 1. [`Plan::ownership`]: adopt and release. If one fails, drop the plan
//!    (the set may have been deleted meanwhile; re-check that before adopting,
//!    and send every adoption or release with a UID precondition).
//! 2. [`Plan::revision`]: create the update revision or bump an old one. If
//!    the create meets AlreadyExists with different data, write status with
//!    `collisionCount + 1` and plan again; on any other failure stop here
//!    (still run step 6).
//! 3. [`Plan::waves`], in order. Actions within a wave are independent and
//!    may be sent concurrently; after a wave in which anything failed, run no
//!    further waves. Deletes carry the UID to use as precondition (so a stale
//!    cache never deletes a newer pod of the same name); NotFound on a delete
//!    and AlreadyExists on a claim create count as success; AlreadyExists on
//!    a pod create is a failure (the cache is behind).
//! 4. [`Plan::claims`]: claims following their templates, even if a wave
//!    failed. Independent; each a merge patch with the claim's UID as
//!    precondition. NotFound counts as success.
//! 5. [`Plan::status`], when `Some`: write it through the status subresource,
//!    even if a wave failed.
//! 6. [`Plan::history`]: delete old revisions.
//!
//! Then requeue after [`Plan::requeue_after`] if set, or with backoff if
//! anything failed or [`Plan::failures`] is not empty.

mod claim_updates;
mod claims;
mod conditions;
mod controller;
mod execute;
mod health;
mod identity;
mod in_place;
mod mapping;
mod ownership;
mod revision;
mod spec;
mod status;
mod sync;
mod teardown;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use ordinal_core::labels::Selector;
use ordinal_core::set_policy::Policies;

pub use controller::{COMPONENT, WORKERS, run};
pub use identity::{
    POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_LABEL, claim_name, ordinal_of, pod_name,
};
pub use in_place::{GATE as IN_PLACE_GATE, UPDATING as IN_PLACE_UPDATING};
pub use revision::{HASH_LABEL, revision_data, revision_hash, revision_name};
pub use sync::MAX_CREATIONS_PER_SYNC;
pub(crate) use teardown::tears_down_in_order;

/// Everything one sync looks at.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    /// The set, as the cache holds it.
    pub set: &'a StatefulSet,
    /// Pods of the set's namespace: at least those matching the selector and
    /// those the set controls. Others are ignored.
    pub pods: Vec<&'a Pod>,
    /// Claims of the namespace: at least those named
    /// `<template>-<set>-<ordinal>`.
    pub claims: Vec<&'a PersistentVolumeClaim>,
    /// ControllerRevisions of the namespace: at least those matching the
    /// selector. Others only serve to detect revision name collisions.
    pub revisions: Vec<&'a ControllerRevision>,
    /// The time the sync decides at (`minReadySeconds`, availability).
    pub now: jiff::Timestamp,
}

/// What one sync decided. See the module documentation for how to execute it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Adoptions of orphaned pods and revisions, releases of pods.
    pub ownership: Vec<Action>,
    /// Creating the update revision, or bumping an old one (rollback).
    pub revision: Option<Action>,
    /// Pod and claim work, in waves.
    pub waves: Vec<Vec<Action>>,
    /// Existing claims brought in line with their volumeClaimTemplates
    /// (labels, annotations, one expansion at a time): [`Action::UpdateClaim`].
    pub claims: Vec<Action>,
    /// The status to write; `None` when unchanged, or when the sync could
    /// not get far enough to know it.
    pub status: Option<StatefulSetStatus>,
    /// Deleting revisions beyond `revisionHistoryLimit`.
    pub history: Vec<Action>,
    /// Sync again after this long even if nothing changes.
    pub requeue_after: Option<Duration>,
    /// Problems that stopped the sync short; each deserves a Warning event
    /// and a retry with backoff.
    pub failures: Vec<Failure>,
}

impl Plan {
    fn failed(failure: Failure) -> Self {
        Plan {
            failures: vec![failure],
            ..Plan::default()
        }
    }

    /// Every action, in execution order.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.ownership
            .iter()
            .chain(self.revision.iter())
            .chain(self.waves.iter().flatten())
            .chain(self.claims.iter())
            .chain(self.history.iter())
    }

    /// Nothing to do and nothing to write: the set is settled.
    pub fn is_idle(&self) -> bool {
        self.actions().next().is_none() && self.status.is_none() && self.failures.is_empty()
    }
}

/// One API call (or, for pod and claim creation, a short fixed sequence).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Add `owner` as controller of an orphaned pod.
    AdoptPod {
        /// The pod.
        name: String,
        /// Its UID, the patch's precondition.
        uid: String,
        /// The set's controller reference.
        owner: OwnerReference,
    },
    /// Remove the set's owner reference from a pod it no longer selects.
    ReleasePod {
        /// The pod.
        name: String,
        /// Its UID, the patch's precondition.
        uid: String,
    },
    /// Add `owner` as controller of an orphaned revision.
    AdoptRevision {
        /// The revision.
        name: String,
        /// Its UID, the patch's precondition.
        uid: String,
        /// The set's controller reference.
        owner: OwnerReference,
    },
    /// Create the update revision (an AlreadyExists of other data is a
    /// name collision).
    CreateRevision(ControllerRevision),
    /// Set an existing revision's `revision` number (a rollback).
    UpdateRevision {
        /// The revision.
        name: String,
        /// Its UID, the patch's precondition.
        uid: String,
        /// The new `revision` number.
        revision: i64,
    },
    /// Delete a revision beyond `revisionHistoryLimit`.
    DeleteRevision {
        /// The revision.
        name: String,
        /// Its UID, the delete's precondition.
        uid: String,
    },
    /// Create `claims` (AlreadyExists is fine), then, if all exist, the pod.
    CreatePod {
        /// The pod, with its identity and the set's controller reference.
        pod: Pod,
        /// The claims of its volumeClaimTemplates.
        claims: Vec<PersistentVolumeClaim>,
    },
    /// Create missing claims of an existing pod (AlreadyExists is fine).
    CreateClaims {
        /// The pod the claims are for (named in events).
        pod: String,
        /// The claims missing.
        claims: Vec<PersistentVolumeClaim>,
    },
    /// Replace a pod whose identity labels or claim volumes drifted; the
    /// object carries the resourceVersion it was read at.
    UpdatePod(Pod),
    /// Replace a claim with its owner references set for the retention
    /// policy. `conflicting_controller`: another controller owns the claim
    /// (upstream emits a `ConflictingController` Warning event).
    UpdateClaimOwners {
        /// The claim with its new owner references.
        claim: PersistentVolumeClaim,
        /// Another controller owns the claim.
        conflicting_controller: bool,
    },
    /// Merge-patch an existing claim towards its volumeClaimTemplate, with
    /// the claim's UID as precondition: the template's labels and
    /// annotations it lacks or holds other values of (others stay), and,
    /// to expand it, the template's larger storage request.
    UpdateClaim {
        /// The claim.
        name: String,
        /// Its UID, the patch's precondition.
        uid: String,
        /// Labels to set.
        labels: BTreeMap<String, String>,
        /// Annotations to set.
        annotations: BTreeMap<String, String>,
        /// The storage request to grow the claim to (event `SuccessfulExpand`).
        expand_to: Option<Quantity>,
    },
    /// Update a pod in place to the update revision (its images changed,
    /// nothing else): close its readiness gate, then patch its images,
    /// labels and annotations; both with its UID as precondition.
    UpdatePodInPlace {
        /// The pod.
        name: String,
        /// Its UID, the patches' precondition.
        uid: String,
        /// (container, new image) of each container whose image changed.
        images: Vec<(String, String)>,
        /// Labels to set: the template's and the revision label.
        labels: BTreeMap<String, String>,
        /// Annotations to set: the template's.
        annotations: BTreeMap<String, String>,
    },
    /// Open a pod's in-place readiness gate (condition True).
    OpenGate {
        /// The pod.
        name: String,
        /// Its UID, the patch's precondition.
        uid: String,
    },
    /// Delete a pod, with its UID as precondition.
    DeletePod {
        /// The pod.
        name: String,
        /// Its UID, the delete's precondition.
        uid: String,
        /// Why: decides the event and what follows.
        reason: DeleteReason,
    },
}

/// Why a pod is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Phase Failed: recreated once gone (event `RecreatingFailedPod`).
    Failed,
    /// Phase Succeeded: recreated once gone, like a failed pod.
    Succeeded,
    /// Its ordinal is out of range.
    ScaleDown,
    /// It runs an outdated revision; recreated at the update revision.
    Update,
    /// The set is being deleted in the foreground and removes its pods
    /// itself, highest ordinal first (`teardown`).
    Teardown,
    /// Rollout recovery: not Ready at an outdated revision, so the rollout
    /// would wait for it forever; recreated at the update revision.
    Recovery,
}

/// Why a sync stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The set has no spec.
    NoSpec,
    /// The selector cannot be evaluated; nothing is done until it changes.
    InvalidSelector(String),
    /// A revision's data does not hold a template.
    CorruptRevision {
        /// The revision.
        name: String,
        /// What is wrong with its data.
        reason: String,
    },
    /// Too many revisions of other data already hold the names tried.
    RevisionNameCollisions(String),
    /// A claim the pod needs is being deleted; the pod waits for it to go.
    ClaimTerminating {
        /// The pod waiting.
        pod: String,
        /// The claim being deleted.
        claim: String,
    },
    /// `maxUnavailable` is a string but not a percentage.
    InvalidMaxUnavailable(String),
    /// ordinal's annotations on the set do not parse; the set is left as it
    /// is until they are fixed.
    InvalidAnnotations(Vec<ordinal_core::set_policy::Invalid>),
}

impl Failure {
    /// Only a change to the set can clear it: retrying is pointless.
    pub fn waits_for_change(&self) -> bool {
        matches!(self, Failure::InvalidAnnotations(_))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoSpec => write!(f, "statefulset has no spec"),
            Failure::InvalidSelector(why) => write!(f, "invalid selector: {why}"),
            Failure::CorruptRevision { name, reason } => {
                write!(f, "controllerrevision {name} cannot be applied: {reason}")
            }
            Failure::RevisionNameCollisions(name) => {
                write!(
                    f,
                    "gave up resolving controllerrevision name collisions at {name}"
                )
            }
            // Upstream's wording, which ends up in FailedCreate events.
            Failure::ClaimTerminating { claim, .. } => write!(f, "pvc {claim} is being deleted"),
            Failure::InvalidAnnotations(invalid) => {
                let all: Vec<String> = invalid.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the set is left as it is until its annotations are fixed: {}",
                    all.join("; ")
                )
            }
            Failure::InvalidMaxUnavailable(value) => {
                write!(
                    f,
                    "invalid value for IntOrString: invalid type: string is not a percentage: {value:?}"
                )
            }
        }
    }
}

impl std::error::Error for Failure {}

/// Plans one sync of `observed.set`.
pub fn plan(observed: &Observed<'_>) -> Plan {
    let mut plan = plan_sync(observed);
    // A set deleted in the foreground with ordered teardown deletes its
    // pods itself, whatever else stopped the sync short, and records no
    // revision on its way out (the garbage collector deletes them).
    if let Some(waves) = teardown::waves(observed.set, &observed.pods) {
        plan.revision = None;
        plan.waves = waves;
    }
    plan
}

/// The sync proper; a set being deleted only gets its status.
fn plan_sync(observed: &Observed<'_>) -> Plan {
    let set = observed.set;
    if set.spec.is_none() {
        return Plan::failed(Failure::NoSpec);
    }
    let policies = match Policies::parse(set.metadata.annotations.as_ref()) {
        Ok(policies) => policies,
        Err(invalid) => return Plan::failed(Failure::InvalidAnnotations(invalid)),
    };
    let spec = spec::SetSpec::of(set, &policies);
    let selector = match Selector::compile(spec.selector) {
        Ok(selector) => selector,
        Err(invalid) => return Plan::failed(Failure::InvalidSelector(invalid.to_string())),
    };

    let mut plan = Plan::default();
    let mut history =
        ownership::claim_revisions(&spec, &selector, &observed.revisions, &mut plan.ownership);
    revision::sort(&mut history);
    let members = ownership::claim_pods(&spec, &selector, &observed.pods, &mut plan.ownership);

    let chosen = match revision::choose(&spec, set, &history, &observed.revisions) {
        Ok(chosen) => chosen,
        Err(failure) => {
            plan.failures.push(failure);
            return plan;
        }
    };
    plan.revision = chosen.action;

    // Revisions still in use; a handful at most, so a list beats a hash set.
    let mut live: Vec<&str> = vec![&chosen.current_name, &chosen.update_name];
    for (_, pod) in &members.pods {
        let revision = health::revision(pod);
        if !live.contains(&revision) {
            live.push(revision);
        }
    }
    plan.history = revision::truncate(&spec, &history, &live);

    let current_template: PodTemplateSpec;
    let current_template = match chosen.current {
        None => spec.template,
        Some(current) => match revision::template_of(current) {
            Ok(template) => {
                current_template = template;
                &current_template
            }
            Err(failure) => {
                plan.failures.push(failure);
                return plan;
            }
        },
    };

    let claims = claims::ClaimIndex::new(&spec, &observed.claims);

    let outcome = if spec.deleting {
        sync::Outcome::default()
    } else {
        sync::run(
            &sync::Inputs {
                spec: &spec,
                now: observed.now,
                claims: &claims,
                update_revision: &chosen.update_name,
                current_revision: &chosen.current_name,
                current_template,
            },
            &members.pods,
        )
    };
    plan.waves = outcome.waves;
    plan.failures.extend(outcome.failures);
    if !spec.deleting {
        plan.claims = claim_updates::plan(&spec, &claims);
    }

    let mut counts = status::count(
        members.pods.iter().map(|(_, pod)| *pod),
        &spec,
        observed.now,
        &chosen.current_name,
        &chosen.update_name,
    );
    counts.current = (counts.current - outcome.rolling_deletions).max(0);
    // A pod lacking the volume of a template added since it was made is not
    // up to date, whatever its revision label says.
    let lacking = members
        .pods
        .iter()
        .filter(|(_, pod)| {
            !ordinal_core::pod::is_terminating(pod)
                && health::revision(pod) == chosen.update_name
                && identity::lacks_claim_volumes(&spec, pod)
        })
        .count();
    counts.updated = (counts.updated - i32::try_from(lacking).unwrap_or(i32::MAX)).max(0);
    let mut new_status = status::build(
        &spec,
        set,
        counts,
        &chosen.current_name,
        &chosen.update_name,
        chosen.collision_count,
    );
    let in_range: Vec<(i64, &Pod)> = members
        .pods
        .iter()
        .filter(|(ordinal, _)| spec.in_range(*ordinal))
        .copied()
        .collect();
    conditions::set(
        &mut new_status,
        &conditions::Inputs {
            spec: &spec,
            pods: &in_range,
            counts,
            update_revision: &chosen.update_name,
            now: observed.now,
        },
    );
    let resync = status::availability_resync(&spec, &new_status);
    let again = outcome.capped.then_some(Duration::ZERO);
    plan.requeue_after = match (resync, again) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if status::changed(set, &new_status) {
        plan.status = Some(new_status);
    }
    plan
}
