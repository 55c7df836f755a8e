//! The status a sync writes: pod counts, the current and update revisions,
//! collisionCount and observedGeneration; completing a rollout by promoting
//! the update revision to current; and whether anything changed at all.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use ordinal_core::pod::{is_available, is_running_and_ready, is_terminating};

use super::conditions;
use super::health::revision;
use super::spec::SetSpec;

/// Pod counts over the set's pods.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub current: i32,
    pub updated: i32,
}

/// Counts the set's pods: every pod counts as a replica; Running and Ready
/// ones as ready, and as available once ready for minReadySeconds;
/// non-terminating ones as current or updated by their revision label.
pub(crate) fn count<'p>(
    pods: impl IntoIterator<Item = &'p Pod>,
    spec: &SetSpec<'_>,
    now: jiff::Timestamp,
    current_revision: &str,
    update_revision: &str,
) -> Counts {
    let mut c = Counts::default();
    for pod in pods {
        c.replicas += 1;
        if is_running_and_ready(pod) {
            c.ready += 1;
            if is_available(pod, spec.min_ready_seconds, now) {
                c.available += 1;
            }
        }
        if !is_terminating(pod) {
            let rev = revision(pod);
            if rev == current_revision {
                c.current += 1;
            }
            if rev == update_revision {
                c.updated += 1;
            }
        }
    }
    c
}

/// The status to write, with a finished update completed: once every
/// desired pod exists, runs the update revision and is available (ready
/// for `minReadySeconds`, kubernetes/kubernetes#136831), the update
/// revision becomes the current one — under every strategy, `OnDelete`
/// included (kubernetes/kubernetes#73492, where upstream never moves it).
pub(crate) fn build(
    spec: &SetSpec<'_>,
    set: &StatefulSet,
    counts: Counts,
    current_revision: &str,
    update_revision: &str,
    collision_count: i32,
) -> StatefulSetStatus {
    let mut current = counts.current;
    let mut current_revision = current_revision;
    let desired = spec.replicas;
    if i64::from(counts.updated) == desired
        && i64::from(counts.available) == desired
        && i64::from(counts.replicas) == desired
    {
        current = counts.updated;
        current_revision = update_revision;
    }
    StatefulSetStatus {
        observed_generation: Some(spec.generation),
        replicas: counts.replicas,
        ready_replicas: Some(counts.ready),
        available_replicas: Some(counts.available),
        current_replicas: Some(current),
        updated_replicas: Some(counts.updated),
        current_revision: Some(current_revision.into()),
        update_revision: Some(update_revision.into()),
        collision_count: Some(collision_count),
        // `conditions::set` sets ours; others are kept.
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
    }
}

/// Whether `new` differs from the set's status in anything upstream writes
/// for (plus collisionCount, which this planner owns).
pub(crate) fn changed(set: &StatefulSet, new: &StatefulSetStatus) -> bool {
    let default = StatefulSetStatus::default();
    let old = set.status.as_ref().unwrap_or(&default);
    let n = |v: Option<i32>| v.unwrap_or(0);
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    new.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || new.replicas != old.replicas
        || n(new.current_replicas) != n(old.current_replicas)
        || n(new.ready_replicas) != n(old.ready_replicas)
        || n(new.updated_replicas) != n(old.updated_replicas)
        || n(new.available_replicas) != n(old.available_replicas)
        || n(new.collision_count) != n(old.collision_count)
        || s(&new.current_revision) != s(&old.current_revision)
        || s(&new.update_revision) != s(&old.update_revision)
        || conditions::differ(old.conditions.as_ref(), new.conditions.as_ref())
}

/// Upstream resyncs after minReadySeconds while pods are still becoming
/// available, since nothing else would wake it when the time passes.
pub(crate) fn availability_resync(
    spec: &SetSpec<'_>,
    status: &StatefulSetStatus,
) -> Option<Duration> {
    let seconds = u64::try_from(spec.min_ready_seconds)
        .ok()
        .filter(|s| *s > 0)?;
    (i64::from(status.available_replicas.unwrap_or(0)) != spec.replicas)
        .then(|| Duration::from_secs(seconds))
}
