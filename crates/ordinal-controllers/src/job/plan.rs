//! The Job controller's decision: from one job, the pods it controls and
//! the time, what to write — a pure function ([`plan`]), as upstream's
//! `syncJob` decides before it acts.
//!
//! Counting survives pod deletion the way upstream's does: every pod
//! carries the finalizer [`TRACKING_FINALIZER`]; a pod that finished is
//! first recorded in `status.uncountedTerminatedPods`, then its finalizer
//! comes off, then it moves into `succeeded`/`failed` (and, for Indexed
//! jobs, `completedIndexes`). The plan spells out the three steps
//! ([`Plan::record`], [`Plan::remove_finalizers`], [`Plan::status`]); a
//! sync interrupted between them is finished by the next, since every
//! step is derived again from what is stored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

/// The finalizer that keeps a pod until the job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// The label and annotation holding an Indexed job's pod index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// The environment variable holding the index inside the pod.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// The `spec.managedBy` value that names this controller (and the default).
pub const JOB_CONTROLLER: &str = "kubernetes.io/job-controller";

/// The first delay before a failed pod is replaced; it doubles with each
/// failure since the last success, up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// The longest delay before a failed pod is replaced.
pub const MAX_BACKOFF: Duration = Duration::from_secs(360);
/// The most pods one sync creates (upstream's burst).
const MAX_CREATES: usize = 500;

/// Upstream's condition reasons and messages.
pub mod reason {
    /// Too many failures.
    pub const BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
    /// Past `activeDeadlineSeconds`.
    pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
    /// A `FailJob` rule matched.
    pub const POD_FAILURE_POLICY: &str = "PodFailurePolicy";
    /// Enough pods succeeded.
    pub const COMPLETIONS_REACHED: &str = "CompletionsReached";
    /// The messages of the two limits and of success.
    pub const BACKOFF_MESSAGE: &str = "Job has reached the specified backoff limit";
    /// See [`DEADLINE_EXCEEDED`].
    pub const DEADLINE_MESSAGE: &str = "Job was active longer than specified deadline";
    /// See [`COMPLETIONS_REACHED`].
    pub const COMPLETIONS_MESSAGE: &str = "Reached expected number of succeeded pods";
}

/// A pod the plan acts on (and a job a CronJob's plan deletes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Its name.
    pub name: String,
    /// Its uid, a precondition of every write.
    pub uid: String,
}

impl PodRef {
    /// The name and uid of `obj`.
    pub fn of<K: kube::Resource>(obj: &K) -> PodRef {
        let meta = obj.meta();
        PodRef {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }
}

/// An Event a plan records (on the job, or on the CronJob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Warning rather than Normal.
    pub warning: bool,
    /// Upstream's reason.
    pub reason: String,
    /// Upstream's message.
    pub message: String,
}

/// What one sync of a job does, in this order: write [`Plan::record`]
/// (when set), remove the finalizers, delete, create, write
/// [`Plan::status`] (when set), delete the job (when asked).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The status with newly finished pods recorded as uncounted, written
    /// before their finalizers come off.
    pub record: Option<JobStatus>,
    /// Pods whose tracking finalizer comes off.
    pub remove_finalizers: Vec<PodRef>,
    /// Pods to delete.
    pub delete: Vec<PodRef>,
    /// Pods to create (names are generated).
    pub create: Vec<Pod>,
    /// The status to write at the end, when it differs from the stored.
    pub status: Option<JobStatus>,
    /// The job's time to live is over: delete it.
    pub delete_job: bool,
    /// Events to record.
    pub events: Vec<Event>,
    /// When to look again though nothing changes.
    pub requeue_after: Option<Duration>,
}

fn condition_true(status: &JobStatus, kind: &str) -> bool {
    find_condition(status, kind).is_some_and(|c| c.status == "True")
}

fn find_condition<'a>(status: &'a JobStatus, kind: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == kind)
}

/// Whether the job finished: `Complete` or `Failed` is true.
pub fn is_finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .is_some_and(|s| condition_true(s, "Complete") || condition_true(s, "Failed"))
}

/// Whether the job succeeded.
pub fn is_complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .is_some_and(|s| condition_true(s, "Complete"))
}

/// Sets a condition as upstream's `ensureJobConditionStatus`: unchanged
/// when equal, its transition time moved when its status changes.
fn set_condition(
    status: &mut JobStatus,
    kind: &str,
    value: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_default();
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == kind) {
        if c.status == value
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message)
        {
            return;
        }
        if c.status != value {
            c.last_transition_time = Some(Time(now));
        }
        c.status = value.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(Time(now));
        return;
    }
    conditions.push(JobCondition {
        type_: kind.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    });
}

fn phase(pod: &Pod) -> &str {
    ordinal_core::pod::phase(pod)
}

/// Whether the pod carries [`TRACKING_FINALIZER`].
pub(crate) fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|f| f == TRACKING_FINALIZER)
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

/// An Indexed job's pod's index, from its annotation (or label).
pub fn pod_index(pod: &Pod) -> Option<i32> {
    let meta = &pod.metadata;
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(COMPLETION_INDEX))
        .or_else(|| meta.labels.as_ref().and_then(|l| l.get(COMPLETION_INDEX)))
        .and_then(|v| v.parse().ok())
        .filter(|i: &i32| *i >= 0)
}

/// When a pod finished: its containers' last finish, else its deletion.
fn finish_time(pod: &Pod, now: Timestamp) -> Timestamp {
    let status = pod.status.as_ref();
    status
        .into_iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        })
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(now)
}

/// How a finished pod counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    /// Finished without counting: an `Ignore` rule matched, or the job
    /// was suspended when the pod was deleted.
    Ignored,
}

/// What the pod failure policy says of a failed pod: the action of the
/// first rule that matches, with upstream's message for `FailJob`.
fn failure_policy_action(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Option<(String, String)> {
    let policy = policy?;
    let status = pod.status.as_ref()?;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    for (index, rule) in policy.rules.iter().enumerate() {
        if let Some(req) = &rule.on_exit_codes {
            let statuses = status
                .container_statuses
                .iter()
                .flatten()
                .chain(status.init_container_statuses.iter().flatten());
            for c in statuses {
                let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
                    continue;
                };
                if req.container_name.as_deref().is_some_and(|n| n != c.name) || t.exit_code == 0 {
                    continue;
                }
                let listed = req.values.contains(&t.exit_code);
                let matches = match req.operator.as_str() {
                    "In" => listed,
                    "NotIn" => !listed,
                    _ => false,
                };
                if matches {
                    let message = format!(
                        "Container {} for pod {namespace}/{name} failed with exit code {} matching {} rule at index {index}",
                        c.name, t.exit_code, rule.action
                    );
                    return Some((rule.action.clone(), message));
                }
            }
        }
        for pattern in rule.on_pod_conditions.iter().flatten() {
            let found = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == pattern.type_ && c.status == pattern.status);
            if let Some(c) = found {
                let message = format!(
                    "Pod {namespace}/{name} has condition {} matching {} rule at index {index}",
                    c.type_, rule.action
                );
                return Some((rule.action.clone(), message));
            }
        }
    }
    None
}

/// Parses `completedIndexes` (`"0-2,5"`).
pub fn parse_indexes(text: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b.min(a.saturating_add(1_000_000)));
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
}

/// Formats indexes as upstream: ranges of consecutive ones.
pub fn format_indexes(set: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

fn positive(n: usize) -> Option<i32> {
    (n > 0).then(|| i32::try_from(n).unwrap_or(i32::MAX))
}

/// Decides one sync of `job`, given the pods it controls (its controller
/// reference names the job's uid) and the time.
pub fn plan(job: &Job, pods: &[&Pod], now: Timestamp) -> Plan {
    let mut plan = Plan::default();
    let spec = job.spec.clone().unwrap_or_default();
    let stored = job.status.clone().unwrap_or_default();
    let tracked: Vec<&Pod> = pods.iter().copied().filter(|p| has_finalizer(p)).collect();

    // A job another controller manages is that controller's business.
    if spec
        .managed_by
        .as_deref()
        .is_some_and(|m| m != JOB_CONTROLLER)
    {
        return plan;
    }
    // A job being deleted lets go of its pods.
    if job.metadata.deletion_timestamp.is_some() {
        plan.remove_finalizers = tracked.iter().map(|p| PodRef::of(*p)).collect();
        return plan;
    }
    if is_finished(job) {
        plan.remove_finalizers = tracked.iter().map(|p| PodRef::of(*p)).collect();
        ttl(job, &stored, now, &mut plan);
        return plan;
    }

    let suspended = spec.suspend == Some(true);
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let only_failed_replaced = spec.pod_replacement_policy.as_deref() == Some("Failed");

    // 1. What finished since the last count.
    let uncounted = stored.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut uncounted_succeeded: BTreeSet<String> =
        uncounted.succeeded.iter().flatten().cloned().collect();
    let mut uncounted_failed: BTreeSet<String> =
        uncounted.failed.iter().flatten().cloned().collect();
    let mut fail_job_message = None;
    let mut ignored: BTreeSet<String> = BTreeSet::new();
    for pod in &tracked {
        let outcome = match phase(pod) {
            "Succeeded" => Some(Outcome::Succeeded),
            "Failed" => match failure_policy_action(spec.pod_failure_policy.as_ref(), pod) {
                Some((action, _)) if action == "Ignore" => Some(Outcome::Ignored),
                Some((action, message)) if action == "FailJob" => {
                    fail_job_message.get_or_insert(message);
                    Some(Outcome::Failed)
                }
                _ => Some(Outcome::Failed),
            },
            // A pod deleted before it finished is a failure, unless the job
            // was suspended (the controller deleted it then).
            _ if pod.metadata.deletion_timestamp.is_some() => Some(if suspended {
                Outcome::Ignored
            } else {
                Outcome::Failed
            }),
            _ => None,
        };
        let Some(outcome) = outcome else { continue };
        let id = uid(pod).to_string();
        if outcome == Outcome::Ignored {
            ignored.insert(id.clone());
        }
        let known = uncounted_succeeded.contains(&id) || uncounted_failed.contains(&id);
        if !known {
            match outcome {
                Outcome::Succeeded => {
                    uncounted_succeeded.insert(id);
                }
                Outcome::Failed => {
                    uncounted_failed.insert(id);
                }
                Outcome::Ignored => {}
            }
        }
        plan.remove_finalizers.push(PodRef::of(*pod));
    }

    // 2. The counts once everything uncounted is counted.
    let by_uid: BTreeMap<&str, &Pod> = pods.iter().map(|p| (uid(p), *p)).collect();
    let mut completed = parse_indexes(stored.completed_indexes.as_deref().unwrap_or(""));
    let mut succeeded = stored.succeeded.unwrap_or(0).max(0) as usize;
    if indexed {
        for id in &uncounted_succeeded {
            if let Some(i) = by_uid.get(id.as_str()).and_then(|p| pod_index(p))
                && completions.is_some_and(|c| i < c)
            {
                completed.insert(i);
            }
        }
        succeeded = completed.len();
    } else {
        succeeded += uncounted_succeeded.len();
    }
    let failed = stored.failed.unwrap_or(0).max(0) as usize + uncounted_failed.len();

    // Pods still running (not deleted, not finished), and those going.
    let active: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| {
            !matches!(phase(p), "Succeeded" | "Failed") && p.metadata.deletion_timestamp.is_none()
        })
        .collect();
    let terminating = pods
        .iter()
        .filter(|p| {
            !matches!(phase(p), "Succeeded" | "Failed") && p.metadata.deletion_timestamp.is_some()
        })
        .count();

    let mut status = stored.clone();
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());
    status.succeeded = positive(succeeded);
    status.failed = positive(failed);
    status.completed_indexes =
        (indexed && !completed.is_empty()).then(|| format_indexes(&completed));

    // 3. Suspension.
    let was_suspended = condition_true(&stored, "Suspended");
    let finishing =
        condition_true(&stored, "FailureTarget") || condition_true(&stored, "SuccessCriteriaMet");
    let mut deleting: Vec<&Pod> = Vec::new();
    if suspended && !finishing {
        if !was_suspended {
            set_condition(
                &mut status,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
                now,
            );
            plan.events.push(normal("Suspended", "Job suspended"));
        }
        status.start_time = None;
        deleting.extend(active.iter().copied());
    } else if !suspended && was_suspended {
        set_condition(
            &mut status,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            now,
        );
        plan.events.push(normal("Resumed", "Job resumed"));
        status.start_time = Some(Time(now));
    }
    if !suspended && status.start_time.is_none() {
        status.start_time = Some(Time(now));
    }

    // 4. Failure or success.
    let restarts: i64 = if spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure")
    {
        active
            .iter()
            .filter_map(|p| p.status.as_ref())
            .flat_map(|s| {
                s.container_statuses
                    .iter()
                    .flatten()
                    .chain(s.init_container_statuses.iter().flatten())
            })
            .map(|c| i64::from(c.restart_count))
            .sum()
    } else {
        0
    };
    let past_deadline = !suspended
        && spec.active_deadline_seconds.is_some_and(|secs| {
            status
                .start_time
                .as_ref()
                .is_some_and(|start| now.duration_since(start.0) >= SignedDuration::from_secs(secs))
        });
    let success = match (indexed, completions) {
        (true, Some(c)) => succeeded >= c.max(0) as usize,
        (false, Some(c)) => succeeded >= c.max(0) as usize,
        (_, None) => succeeded > 0 && active.is_empty(),
    };
    if !finishing {
        let failure = if let Some(message) = &fail_job_message {
            Some((reason::POD_FAILURE_POLICY, message.clone()))
        } else if failed > backoff_limit.max(0) as usize
            || (restarts > 0 && restarts >= i64::from(backoff_limit))
        {
            Some((
                reason::BACKOFF_LIMIT_EXCEEDED,
                reason::BACKOFF_MESSAGE.to_string(),
            ))
        } else if past_deadline {
            Some((
                reason::DEADLINE_EXCEEDED,
                reason::DEADLINE_MESSAGE.to_string(),
            ))
        } else {
            None
        };
        if let Some((why, message)) = failure {
            set_condition(&mut status, "FailureTarget", "True", why, &message, now);
        } else if success && !suspended {
            set_condition(
                &mut status,
                "SuccessCriteriaMet",
                "True",
                reason::COMPLETIONS_REACHED,
                reason::COMPLETIONS_MESSAGE,
                now,
            );
        }
    }
    let failing = find_condition(&status, "FailureTarget")
        .filter(|c| c.status == "True")
        .cloned();
    let succeeding = condition_true(&status, "SuccessCriteriaMet");

    if failing.is_some() || succeeding {
        // Finishing: no pod keeps running.
        deleting = active.clone();
    } else if !suspended {
        manage(
            job,
            &spec,
            &active,
            terminating,
            only_failed_replaced,
            parallelism,
            succeeded,
            &completed,
            &pods
                .iter()
                .copied()
                .filter(|p| !ignored.contains(uid(p)))
                .collect::<Vec<_>>(),
            now,
            &mut deleting,
            &mut plan,
        );
    }
    for pod in &deleting {
        plan.delete.push(PodRef::of(*pod));
    }

    let still_active = active.len() - deleting.len().min(active.len());
    let going = terminating + deleting.len();
    status.active = positive(still_active + plan.create.len());
    status.ready = Some(
        i32::try_from(
            active
                .iter()
                .filter(|p| !deleting.iter().any(|d| uid(d) == uid(p)))
                .filter(|p| ordinal_core::pod::is_ready(p))
                .count(),
        )
        .unwrap_or(i32::MAX),
    );
    status.terminating = Some(i32::try_from(going).unwrap_or(i32::MAX));

    // 5. Finished once nothing is left running or uncounted.
    if going == 0 && still_active == 0 {
        if let Some(target) = &failing {
            let why = target.reason.clone().unwrap_or_default();
            let message = target.message.clone().unwrap_or_default();
            set_condition(&mut status, "Failed", "True", &why, &message, now);
            plan.events.push(Event {
                warning: true,
                reason: why,
                message,
            });
        } else if succeeding {
            set_condition(
                &mut status,
                "Complete",
                "True",
                reason::COMPLETIONS_REACHED,
                reason::COMPLETIONS_MESSAGE,
                now,
            );
            status.completion_time = Some(Time(now));
            plan.events.push(normal("Completed", "Job completed"));
        }
    }
    if failing.is_none()
        && !succeeding
        && !suspended
        && let (Some(secs), Some(start)) = (spec.active_deadline_seconds, &status.start_time)
    {
        let left = start.0 + SignedDuration::from_secs(secs.max(0));
        let wait = left.duration_since(now);
        if let Ok(wait) = Duration::try_from(wait) {
            plan.requeue_after = Some(min_duration(plan.requeue_after, wait));
        }
    }

    // The record step: only when finalizers come off.
    if !plan.remove_finalizers.is_empty() {
        let mut record = stored.clone();
        record.uncounted_terminated_pods = Some(UncountedTerminatedPods {
            succeeded: (!uncounted_succeeded.is_empty())
                .then(|| uncounted_succeeded.iter().cloned().collect()),
            failed: (!uncounted_failed.is_empty())
                .then(|| uncounted_failed.iter().cloned().collect()),
        });
        if record != stored {
            plan.record = Some(record);
        }
    }
    if status != stored {
        plan.status = Some(status);
    }
    plan
}

fn min_duration(a: Option<Duration>, b: Duration) -> Duration {
    a.map_or(b, |a| a.min(b))
}

fn normal(reason: &str, message: &str) -> Event {
    Event {
        warning: false,
        reason: reason.into(),
        message: message.into(),
    }
}

/// How long to wait before replacing failed pods: 10 s doubling with each
/// failure since the last success (as the pods still there show), capped
/// at six minutes, from the last failure.
pub fn backoff_remaining(pods: &[&Pod], now: Timestamp) -> Option<Duration> {
    let last_success = pods
        .iter()
        .filter(|p| phase(p) == "Succeeded")
        .map(|p| finish_time(p, now))
        .max();
    let failures: Vec<Timestamp> = pods
        .iter()
        .filter(|p| {
            phase(p) == "Failed"
                || (p.metadata.deletion_timestamp.is_some() && phase(p) != "Succeeded")
        })
        .map(|p| finish_time(p, now))
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    let last = *failures.iter().max()?;
    let exponent = u32::try_from(failures.len() - 1)
        .unwrap_or(u32::MAX)
        .min(16);
    let delay = INITIAL_BACKOFF
        .saturating_mul(1 << exponent)
        .min(MAX_BACKOFF);
    let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
    let left = delay.saturating_sub(elapsed);
    (!left.is_zero()).then_some(left)
}

/// Upstream's `manageJob`: delete what is beyond parallelism, create what
/// is missing, after the failure back-off.
#[allow(clippy::too_many_arguments)]
fn manage<'a>(
    job: &Job,
    spec: &JobSpec,
    active: &[&'a Pod],
    terminating: usize,
    only_failed_replaced: bool,
    parallelism: i32,
    succeeded: usize,
    completed: &BTreeSet<i32>,
    pods: &[&Pod],
    now: Timestamp,
    deleting: &mut Vec<&'a Pod>,
    plan: &mut Plan,
) {
    let parallelism = parallelism as usize;
    // Pods still terminating hold their place unless any terminating pod
    // may be replaced.
    let held = if only_failed_replaced { terminating } else { 0 };
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let mut to_create: Vec<Option<i32>> = Vec::new();
    if indexed {
        let completions = spec.completions.unwrap_or(0).max(0);
        let mut seen = BTreeSet::new();
        let mut keep = Vec::new();
        // Newest first lose: keep the oldest pod of each index.
        let mut sorted: Vec<&Pod> = active.to_vec();
        sorted.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        for pod in sorted {
            match pod_index(pod) {
                Some(i) if i < completions && !completed.contains(&i) && seen.insert(i) => {
                    keep.push(pod)
                }
                _ => deleting.push(pod),
            }
        }
        let room = parallelism.saturating_sub(keep.len() + held);
        if keep.len() + held > parallelism {
            let extra = keep.len() + held - parallelism;
            deleting.extend(pick_to_delete(&keep, extra));
        }
        to_create = (0..completions)
            .filter(|i| !completed.contains(i) && !seen.contains(i))
            .take(room)
            .map(Some)
            .collect();
    } else {
        let want = match spec.completions {
            Some(c) => parallelism.min((c.max(0) as usize).saturating_sub(succeeded)),
            None if succeeded > 0 => 0,
            None => parallelism,
        };
        let have = active.len() + held;
        if have > want {
            deleting.extend(pick_to_delete(active, (have - want).min(active.len())));
        } else {
            to_create = vec![None; want - have];
        }
    }
    if to_create.is_empty() {
        return;
    }
    if let Some(wait) = backoff_remaining(pods, now) {
        plan.requeue_after = Some(min_duration(plan.requeue_after, wait));
        return;
    }
    for index in to_create.into_iter().take(MAX_CREATES) {
        plan.create.push(new_pod(job, &spec.template, index));
    }
}

/// Which active pods go first when there are too many: not yet scheduled,
/// then pending, then not ready, then the newest.
fn pick_to_delete<'a>(active: &[&'a Pod], n: usize) -> Vec<&'a Pod> {
    let mut sorted: Vec<&Pod> = active.to_vec();
    sorted.sort_by_key(|p| {
        let unscheduled = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none();
        let pending = phase(p) == "Pending";
        let ready = ordinal_core::pod::is_ready(p);
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (!unscheduled, !pending, ready, std::cmp::Reverse(created))
    });
    sorted.into_iter().take(n).collect()
}

/// A pod of `job` from its template: owned by the job, tracked by its
/// finalizer, and for an Indexed job carrying its index (annotation,
/// label, environment variable and host name).
pub fn new_pod(job: &Job, template: &PodTemplateSpec, index: Option<i32>) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut labels = template_meta.labels.clone().unwrap_or_default();
    let mut annotations = template_meta.annotations.clone().unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    let generate_name = match index {
        Some(i) => {
            labels.insert(COMPLETION_INDEX.into(), i.to_string());
            annotations.insert(COMPLETION_INDEX.into(), i.to_string());
            if spec.hostname.as_deref().unwrap_or("").is_empty() {
                spec.hostname = Some(format!("{name}-{i}"));
            }
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: Some("v1".into()),
                        field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                    }),
                    ..Default::default()
                }),
            };
            for c in spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten())
            {
                c.env.get_or_insert_default().push(env.clone());
            }
            format!("{name}-{i}-")
        }
        None => format!("{name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(vec![TRACKING_FINALIZER.into()]),
            owner_references: Some(vec![crate::runtime::controller_ref(job)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// `ttlSecondsAfterFinished`: delete the finished job once its time is up.
fn ttl(job: &Job, status: &JobStatus, now: Timestamp, plan: &mut Plan) {
    let Some(secs) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return;
    };
    let finished_at = status
        .completion_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| {
            status
                .conditions
                .iter()
                .flatten()
                .filter(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
                .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
                .max()
        })
        .unwrap_or(now);
    let expires = finished_at + SignedDuration::from_secs(i64::from(secs.max(0)));
    match Duration::try_from(expires.duration_since(now)) {
        Ok(wait) if !wait.is_zero() => plan.requeue_after = Some(wait),
        _ => plan.delete_job = true,
    }
}

#[cfg(test)]
mod tests;
