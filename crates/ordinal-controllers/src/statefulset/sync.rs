//! One sync of a StatefulSet's pods, in upstream's order:
//!
//! 1. Every ordinal in range, ascending: delete a Failed or Succeeded pod
//!    (it is recreated by a later sync, once gone); create a missing pod with
//!    its claims; give a Pending pod its missing claims. Under OrderedReady
//!    stop there, and also at a pod that is terminating, not Running and
//!    Ready, or not yet available. Otherwise repair identity and claim
//!    owners in place, and create the claims of a template the pod lacks.
//! 2. Condemned pods (ordinals out of range), highest first: set their
//!    claims' owners for the retention policy, then delete them. OrderedReady
//!    deletes one per sync, waits for it to be gone, and will not delete while
//!    another pod is unhealthy unless the one to delete is the first
//!    unhealthy pod.
//! 3. RollingUpdate only: from the highest ordinal down to the partition,
//!    delete the first pod not at the update revision (the next sync
//!    recreates it at the update revision) and stop at the first unavailable
//!    pod; with maxUnavailable, delete as many outdated pods as the budget
//!    of unavailable pods allows.
//!
//! Where ordinal goes beyond upstream (see `ordinal_core::set_policy`):
//!
//! - Reserved ordinals (`ordinal.dev/reserved-ordinals`) are never in
//!   range: the set's pods take the first `replicas` free ordinals, and a
//!   pod at a reserved ordinal is condemned like one beyond the end.
//! - Rollout recovery (`ordinal.dev/rollout-recovery: Automatic`, the
//!   default): in step 1, a pod that is neither at the update revision nor
//!   Running and Ready, and that would be recreated at the update revision,
//!   is deleted at once instead of blocking the rollout forever. Ready pods
//!   are never touched by it.
//! - `updateStrategy.type: Recreate`: before step 1, every outdated pod in
//!   range is deleted at once; no pod is created while an outdated one
//!   remains.
//! - volumeClaimTemplates may be added to a set: a pod lacking a
//!   template's volume counts as outdated in step 3 whatever its revision
//!   (its volumes cannot change in place), so the rolling update replaces
//!   it with one that mounts the claim step 1 created for it.
//! - In-place updates (`ordinal.dev/pod-update-policy: InPlaceIfPossible`):
//!   step 3 updates an outdated pod where it is when only its images
//!   changed (`in_place`); steps 1 and 2 open the pods' readiness gates.
//!
//! And where upstream fixed its own behaviour: under Parallel, outdated
//! pods that are already unavailable do not count against maxUnavailable
//! (kubernetes/kubernetes#137409), so a broken first revision is replaced.
//!
//! OrderedReady works one pod at a time. Parallel works on everything at
//! once, in slow-start batches of 1, 2, 4, … up to 500, and stops after a
//! batch in which something failed. Each batch becomes one wave of actions.

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::pod::{is_available, is_running_and_ready, is_terminating};
use ordinal_core::set_policy::{PodUpdatePolicy, RolloutRecovery};

use super::claims::{self, ClaimCheck, ClaimIndex, PodRef};
use super::health::{is_failed, is_pending, is_succeeded, is_unavailable, revision};
use super::identity::{
    identity_matches, lacks_claim_volumes, new_pod, pod_name, repaired, storage_matches,
};
use super::in_place;
use super::spec::{Rolling, SetSpec, Strategy};
use super::{Action, DeleteReason, Failure};

/// Largest slow-start batch (upstream's `MaxBatchSize`).
const MAX_BATCH: usize = 500;

/// Pods one sync creates at most. Upstream has no limit and would create
/// every missing pod of a huge Parallel set in one sync; past this the
/// sync stops and asks to be run again at once.
pub const MAX_CREATIONS_PER_SYNC: usize = 5000;

/// What the pass needs besides the pods.
pub(crate) struct Inputs<'s, 'a> {
    pub spec: &'s SetSpec<'a>,
    pub now: jiff::Timestamp,
    pub claims: &'s ClaimIndex<'a>,
    pub update_revision: &'s str,
    pub current_revision: &'s str,
    /// Template of the current revision (the set's own when current = update).
    pub current_template: &'s PodTemplateSpec,
}

/// The pass's result.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub waves: Vec<Vec<Action>>,
    pub failures: Vec<Failure>,
    /// Pods deleted by the rolling update (upstream lowers currentReplicas by this).
    pub rolling_deletions: i32,
    /// Stopped at [`MAX_CREATIONS_PER_SYNC`].
    pub capped: bool,
}

/// What looking at one pod produced.
#[derive(Default)]
struct Step {
    actions: Vec<Action>,
    /// Under OrderedReady, go no further this sync.
    block: bool,
    failure: Option<Failure>,
}

impl Step {
    fn block(actions: Vec<Action>) -> Self {
        Step {
            actions,
            block: true,
            failure: None,
        }
    }

    fn fail(actions: Vec<Action>, failure: Failure) -> Self {
        Step {
            actions,
            block: true,
            failure: Some(failure),
        }
    }
}

struct Pass<'i, 's, 'a> {
    input: &'i Inputs<'s, 'a>,
    monotonic: bool,
    /// Recreate: a pod in range is not at the update revision yet.
    outdated_left: bool,
    out: Outcome,
    created: usize,
}

/// The set's pods split by ordinal: `in_range` ascending, `condemned`
/// descending.
struct Split<'p> {
    in_range: Vec<(i64, &'p Pod)>,
    condemned: Vec<(i64, &'p Pod)>,
}

impl<'p> Split<'p> {
    fn get(&self, ordinal: i64) -> Option<&'p Pod> {
        self.in_range
            .binary_search_by_key(&ordinal, |(o, _)| *o)
            .ok()
            .and_then(|i| self.in_range.get(i))
            .map(|(_, pod)| *pod)
    }
}

/// Runs one sync over the set's pods (`members`, sorted by ordinal). The
/// caller handles a set that is being deleted (status only).
pub(crate) fn run(input: &Inputs<'_, '_>, members: &[(i64, &Pod)]) -> Outcome {
    let spec = input.spec;
    let split = Split {
        in_range: members
            .iter()
            .filter(|(o, _)| spec.in_range(*o))
            .copied()
            .collect(),
        condemned: members
            .iter()
            .rev()
            .filter(|(o, _)| !spec.in_range(*o))
            .copied()
            .collect(),
    };
    let mut pass = Pass {
        input,
        monotonic: !spec.parallel,
        outdated_left: false,
        out: Outcome::default(),
        created: 0,
    };
    pass.sync(&split);
    pass.out
}

impl<'s, 'a> Pass<'_, 's, 'a> {
    fn spec(&self) -> &'s SetSpec<'a> {
        self.input.spec
    }

    fn sync(&mut self, pods: &Split<'_>) {
        let spec = *self.spec();
        if matches!(spec.strategy, Strategy::Recreate) && !self.recreate(pods) {
            return;
        }
        let count = usize::try_from(spec.replicas).unwrap_or(usize::MAX);
        if !self.run_for_all(spec.ordinals(), count, |pass, ordinal| {
            pass.replica(ordinal, pods.get(ordinal))
        }) {
            return;
        }
        let condemned = pods.condemned.iter().copied();
        if !self.run_for_all(
            condemned.clone(),
            pods.condemned.len(),
            |pass, (ordinal, pod)| Step {
                actions: pass.claim_owner_fixes(ordinal, pod),
                ..Step::default()
            },
        ) {
            return;
        }
        // By now, under OrderedReady, every pod in range is available, so the
        // first unhealthy pod is the lowest unavailable condemned one.
        let first_unhealthy = pods
            .condemned
            .iter()
            .rev()
            .find(|(_, pod)| is_unavailable(pod, spec.min_ready_seconds, self.input.now))
            .map(|(ordinal, _)| *ordinal);
        if !self.run_for_all(condemned, pods.condemned.len(), |pass, (ordinal, pod)| {
            pass.condemned(ordinal, pod, first_unhealthy)
        }) {
            return;
        }
        match spec.strategy {
            Strategy::OnDelete | Strategy::Recreate => {}
            Strategy::RollingUpdate { rolling } => match rolling {
                Some(Rolling {
                    partition,
                    max_unavailable: Some(budget),
                }) => self.update_within_budget(pods, partition, budget),
                _ => self.update_one(pods, rolling.map_or(0, |r| r.partition)),
            },
        }
    }

    /// Upstream's `runForAll`: one at a time, stopping at a block, under
    /// OrderedReady; slow-start batches under Parallel. False when the sync
    /// must stop here.
    fn run_for_all<T>(
        &mut self,
        mut items: impl Iterator<Item = T>,
        len: usize,
        mut visit: impl FnMut(&mut Self, T) -> Step,
    ) -> bool {
        if self.monotonic {
            for item in items {
                let step = visit(self, item);
                let stop = step.block || step.failure.is_some();
                self.record(step.actions, step.failure);
                if stop {
                    return false;
                }
            }
            return true;
        }
        let mut remaining = len;
        let mut batch = remaining.min(1);
        while batch > 0 {
            let mut wave = Vec::new();
            let mut failed = false;
            for item in items.by_ref().take(batch) {
                let step = visit(self, item);
                wave.extend(step.actions);
                if let Some(failure) = step.failure {
                    self.out.failures.push(failure);
                    failed = true;
                }
            }
            self.record(wave, None);
            if failed {
                return false;
            }
            if self.created >= MAX_CREATIONS_PER_SYNC {
                self.out.capped = true;
                return false;
            }
            remaining -= batch;
            batch = (2 * batch).min(remaining).min(MAX_BATCH);
        }
        true
    }

    fn record(&mut self, actions: Vec<Action>, failure: Option<Failure>) {
        if !actions.is_empty() {
            self.out.waves.push(actions);
        }
        if let Some(failure) = failure {
            self.out.failures.push(failure);
        }
    }

    /// Step 1 for one ordinal in range.
    fn replica(&mut self, ordinal: i64, pod: Option<&Pod>) -> Step {
        match pod {
            None => self.create(ordinal),
            Some(pod) => self.tend(ordinal, pod),
        }
    }

    fn create(&mut self, ordinal: i64) -> Step {
        let spec = *self.spec();
        if self.outdated_left {
            // Recreate: nothing new runs beside an outdated pod.
            return Step::block(Vec::new());
        }
        let name = pod_name(spec.name, ordinal);
        let new = PodRef {
            name: &name,
            uid: "",
        };
        // A claim still owned by the previous pod of this name is about to be
        // garbage collected; the new pod must not mount it.
        if spec.retention.delete_when_scaled
            && self
                .input
                .claims
                .of(ordinal)
                .any(|c| claims::has_stale_pod_ref(c, new))
        {
            return Step::block(Vec::new());
        }
        let missing = match claims::missing_claims(&spec, self.input.claims, ordinal) {
            ClaimCheck::Terminating(claim) => {
                return Step::fail(Vec::new(), Failure::ClaimTerminating { pod: name, claim });
            }
            ClaimCheck::Ready(missing) => missing,
        };
        let (template, revision) = if spec.keeps_current_revision(ordinal) {
            (self.input.current_template, self.input.current_revision)
        } else {
            (spec.template, self.input.update_revision)
        };
        let mut actions = vec![Action::CreatePod {
            pod: new_pod(&spec, template, ordinal, revision),
            claims: missing,
        }];
        actions.extend(claims::owner_updates(
            &spec,
            self.input.claims,
            new,
            ordinal,
        ));
        self.created += 1;
        Step::block(actions)
    }

    fn tend(&mut self, ordinal: i64, pod: &Pod) -> Step {
        let spec = *self.spec();
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        if is_failed(pod) || is_succeeded(pod) {
            let mut actions = Vec::new();
            if !is_terminating(pod) {
                actions.push(Action::DeletePod {
                    name: name.into(),
                    uid: uid.into(),
                    reason: if is_failed(pod) {
                        DeleteReason::Failed
                    } else {
                        DeleteReason::Succeeded
                    },
                });
            }
            return Step::block(actions);
        }
        if self.recovers(ordinal, pod) {
            if revision(pod) == self.input.current_revision {
                self.out.rolling_deletions += 1;
            }
            return Step::block(vec![Action::DeletePod {
                name: name.into(),
                uid: uid.into(),
                reason: DeleteReason::Recovery,
            }]);
        }
        let this = PodRef { name, uid };
        let mut actions: Vec<Action> = in_place::gate_action(pod).into_iter().collect();
        // A Pending pod gets its missing claims and their owners seen to first.
        let mut pending_handled = false;
        if is_pending(pod) {
            if let Err(failure) =
                create_missing_claims(&spec, self.input.claims, ordinal, name, &mut actions)
            {
                return Step::fail(actions, failure);
            }
            actions.extend(claims::owner_updates(
                &spec,
                self.input.claims,
                this,
                ordinal,
            ));
            pending_handled = true;
        }
        if self.monotonic
            && (is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_available(pod, spec.min_ready_seconds, self.input.now))
        {
            return Step::block(actions);
        }
        let owner_fixes = if pending_handled {
            Vec::new()
        } else {
            claims::owner_updates(&spec, self.input.claims, this, ordinal)
        };
        let identity_ok = identity_matches(&spec, pod, ordinal);
        // A pod lacking a template's volume gets the claim now and the
        // volume when the rolling update replaces it (`outdated`); its
        // volumes cannot be changed in place.
        let storage_ok = storage_matches(&spec, pod, ordinal);
        if !storage_ok
            && !pending_handled
            && let Err(failure) =
                create_missing_claims(&spec, self.input.claims, ordinal, name, &mut actions)
        {
            return Step::fail(actions, failure);
        }
        actions.extend(owner_fixes);
        if !identity_ok {
            actions.push(Action::UpdatePod(repaired(&spec, pod, ordinal)));
        }
        Step {
            actions,
            ..Step::default()
        }
    }

    /// Rollout recovery: `pod` is stuck at an outdated revision (not
    /// Running and Ready, not terminating) and would come back at the
    /// update revision, so waiting for it would wait forever.
    fn recovers(&self, ordinal: i64, pod: &Pod) -> bool {
        let spec = self.spec();
        spec.recovery == RolloutRecovery::Automatic
            && matches!(spec.strategy, Strategy::RollingUpdate { .. })
            && self.outdated(pod)
            && !spec.keeps_current_revision(ordinal)
            && !is_running_and_ready(pod)
    }

    /// Recreate, before step 1: delete every outdated pod in range at once.
    /// False when the sync must stop here (something was deleted).
    fn recreate(&mut self, pods: &Split<'_>) -> bool {
        let update = self.input.update_revision;
        self.outdated_left = pods.in_range.iter().any(|(_, pod)| revision(pod) != update);
        let doomed: Vec<Action> = pods
            .in_range
            .iter()
            .filter(|(_, pod)| self.outdated(pod))
            .map(|(_, pod)| Action::DeletePod {
                name: pod.metadata.name.clone().unwrap_or_default(),
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                reason: DeleteReason::Update,
            })
            .collect();
        if doomed.is_empty() {
            return true;
        }
        self.out.rolling_deletions += doomed.len() as i32;
        self.out.waves.push(doomed);
        false
    }

    /// Step 2a: claim owners of a condemned pod, and its readiness gate
    /// (a condemned pod that never became Ready would hold the scale-down).
    fn claim_owner_fixes(&self, ordinal: i64, pod: &Pod) -> Vec<Action> {
        let this = PodRef {
            name: pod.metadata.name.as_deref().unwrap_or(""),
            uid: pod.metadata.uid.as_deref().unwrap_or(""),
        };
        let mut actions = claims::owner_updates(self.spec(), self.input.claims, this, ordinal);
        actions.extend(in_place::gate_action(pod));
        actions
    }

    /// Step 2b: scale-down of one condemned pod.
    fn condemned(&mut self, ordinal: i64, pod: &Pod, first_unhealthy: Option<i64>) -> Step {
        let spec = *self.spec();
        if is_terminating(pod) {
            return Step {
                block: self.monotonic,
                ..Step::default()
            };
        }
        if self.monotonic
            && first_unhealthy != Some(ordinal)
            && (!is_running_and_ready(pod)
                || !is_available(pod, spec.min_ready_seconds, self.input.now))
        {
            return Step::block(Vec::new());
        }
        Step::block(vec![Action::DeletePod {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            reason: DeleteReason::ScaleDown,
        }])
    }

    /// Replaces an outdated pod: in place when the policy allows and only
    /// its images changed (from the current revision), else by deleting it
    /// (the next sync recreates it at the update revision).
    fn delete_for_update(&mut self, pod: &Pod) {
        let spec = self.spec();
        // A pod lacking a claim template's volume needs a new pod.
        let in_place = (spec.pod_update == PodUpdatePolicy::InPlaceIfPossible
            && revision(pod) == self.input.current_revision
            && !lacks_claim_volumes(spec, pod))
        .then(|| {
            in_place::update(
                pod,
                self.input.current_template,
                spec.template,
                self.input.update_revision,
            )
        })
        .flatten();
        self.out
            .waves
            .push(vec![in_place.unwrap_or_else(|| Action::DeletePod {
                name: pod.metadata.name.clone().unwrap_or_default(),
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                reason: DeleteReason::Update,
            })]);
        self.out.rolling_deletions += 1;
    }

    /// Not at the update revision, or lacking the volume of a claim
    /// template added since it was made; not terminating.
    fn outdated(&self, pod: &Pod) -> bool {
        (revision(pod) != self.input.update_revision || lacks_claim_volumes(self.spec(), pod))
            && !is_terminating(pod)
    }

    /// Step 3 without maxUnavailable: one pod per sync, highest first,
    /// waiting at the first unavailable pod.
    fn update_one(&mut self, pods: &Split<'_>, partition: i64) {
        let spec = *self.spec();
        let mut ordinal = spec.end();
        while ordinal >= spec.start + partition {
            if let Some((low, _)) = spec.reserved.range_of(ordinal) {
                ordinal = low - 1;
                continue;
            }
            // Pods created by this very sync are not there yet: unavailable.
            let Some(pod) = pods.get(ordinal) else {
                return;
            };
            if self.outdated(pod) {
                self.delete_for_update(pod);
                return;
            }
            if is_unavailable(pod, spec.min_ready_seconds, self.input.now) {
                return;
            }
            ordinal -= 1;
        }
    }

    /// Step 3 with maxUnavailable: count unavailable pods in range (missing
    /// ones included) and delete outdated pods, highest first, while the
    /// budget allows.
    fn update_within_budget(&mut self, pods: &Split<'_>, partition: i64, budget: &IntOrString) {
        let spec = *self.spec();
        let max = match max_unavailable(budget, spec.replicas) {
            Ok(max) => max,
            Err(failure) => {
                self.out.failures.push(failure);
                return;
            }
        };
        let present = i64::try_from(pods.in_range.len()).unwrap_or(i64::MAX);
        // Under Parallel, an outdated pod that is already unavailable is
        // not counted: replacing it costs nothing, and counting it would
        // keep a broken first revision forever.
        let unavailable = (spec.replicas - present)
            + pods
                .in_range
                .iter()
                .filter(|(_, pod)| {
                    is_unavailable(pod, spec.min_ready_seconds, self.input.now)
                        && !(spec.parallel && self.outdated(pod))
                })
                .count() as i64;
        if unavailable >= max {
            return;
        }
        let mut allowed = max - unavailable;
        for &(ordinal, pod) in pods.in_range.iter().rev() {
            if allowed == 0 || ordinal < spec.start + partition {
                break;
            }
            if self.outdated(pod) {
                self.delete_for_update(pod);
                allowed -= 1;
            }
        }
    }
}

/// maxUnavailable resolved against the replica count: an integer, or a
/// percentage rounded down; at least 1.
fn max_unavailable(value: &IntOrString, replicas: i64) -> Result<i64, Failure> {
    Ok(resolve(value, replicas)?.max(1))
}

/// An integer, or a percentage of `replicas` rounded down.
pub(crate) fn resolve(value: &IntOrString, replicas: i64) -> Result<i64, Failure> {
    Ok(match value {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Failure::InvalidMaxUnavailable(s.clone()))?;
            ((percent as f64) * (replicas as f64) / 100.0).floor() as i64
        }
    })
}

/// Adds the creation of the pod's missing claims to `actions`; a claim of
/// the pod that is being deleted is a failure (the pod must wait for it).
fn create_missing_claims(
    spec: &SetSpec<'_>,
    existing: &ClaimIndex<'_>,
    ordinal: i64,
    pod: &str,
    actions: &mut Vec<Action>,
) -> Result<(), Failure> {
    match claims::missing_claims(spec, existing, ordinal) {
        ClaimCheck::Terminating(claim) => Err(Failure::ClaimTerminating {
            pod: pod.into(),
            claim,
        }),
        ClaimCheck::Ready(missing) => {
            if !missing.is_empty() {
                actions.push(Action::CreateClaims {
                    pod: pod.into(),
                    claims: missing,
                });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_unavailable_resolves_ints_and_percentages() {
        assert_eq!(max_unavailable(&IntOrString::Int(2), 6).unwrap(), 2);
        assert_eq!(max_unavailable(&IntOrString::Int(0), 6).unwrap(), 1);
        assert_eq!(
            max_unavailable(&IntOrString::String("50%".into()), 7).unwrap(),
            3
        );
        assert_eq!(
            max_unavailable(&IntOrString::String("10%".into()), 5).unwrap(),
            1
        );
        assert_eq!(
            max_unavailable(&IntOrString::String("100%".into()), 4).unwrap(),
            4
        );
        assert!(max_unavailable(&IntOrString::String("2".into()), 4).is_err());
        assert!(max_unavailable(&IntOrString::String("x%".into()), 4).is_err());
    }
}
