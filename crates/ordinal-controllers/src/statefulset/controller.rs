//! The StatefulSet controller's reconcile: per set, gather what the shared
//! caches hold, [`plan`], execute.
//!
//! - It reads the shared informers of StatefulSets, Pods,
//!   PersistentVolumeClaims and ControllerRevisions. Every change is mapped
//!   to the sets it concerns (`mapping`), before and after the change (a
//!   change of an object's owner or labels queues the sets of its old state
//!   too).
//! - Syncs start once all four caches have listed. Up to [`WORKERS`] sets
//!   sync at once; the queue never hands one set to two workers.
//! - Stale caches: the executor writes every answer back into the caches
//!   (the runtime's one strategy), so a plan never repeats a creation it
//!   already made, nor deletes a pod again because the cache still shows
//!   it. Changes made by others may still reach a plan late; the API
//!   server's preconditions cover those (a delete names the pod's UID, so
//!   it never removes a newer pod of the same name; a create of an
//!   existing name fails with AlreadyExists).
//! - Requeues: after the plan's `requeue_after`, at once after a revision
//!   name collision, with per-set exponential back-off after any failure.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::ObjectMeta;

use super::execute::Executor;
use super::mapping::{SetKey, sets_for, sets_for_claim};
use super::{Failure, Observed, plan};
use crate::informer::{Informer, Informers, all_synced};
use crate::runtime::{self, Next, Queue, Reconciler};
use ordinal_core::events::Recorder;

/// Sets synced at the same time (upstream's default
/// `--concurrent-statefulset-syncs`).
pub const WORKERS: usize = 5;
/// The component name on the controller's Events.
pub const COMPONENT: &str = "statefulset-controller";

/// Runs the StatefulSet controller on `informers` until `shutdown`
/// completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let controller = Arc::new(Controller {
        recorder: runtime::recorder(informers.client(), COMPONENT),
        sets: informers.get(),
        pods: informers.get(),
        claims: informers.get(),
        revisions: informers.get(),
        informers,
    });
    let queue = Queue::new();
    controller.watch(&queue);
    let ready = all_synced([
        controller.sets.clone(),
        controller.pods.clone(),
        controller.claims.clone(),
        controller.revisions.clone(),
    ]);
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    informers: Arc<Informers>,
    recorder: Recorder,
    sets: Arc<Informer<StatefulSet>>,
    pods: Arc<Informer<Pod>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    revisions: Arc<Informer<ControllerRevision>>,
}

/// The sets of `meta`'s namespace.
fn sets_in(sets: &Informer<StatefulSet>, meta: &ObjectMeta) -> Vec<Arc<StatefulSet>> {
    sets.list_namespace(meta.namespace.as_deref().unwrap_or(""))
}

impl Controller {
    /// Queues the sets each change concerns, before and after it.
    fn watch(&self, queue: &Arc<Queue<SetKey>>) {
        let q = Arc::clone(queue);
        self.sets.on_change(Box::new(move |old, new| {
            q.add_all(old.into_iter().chain(new).map(|s| SetKey::of(&s.metadata)));
        }));
        let (q, sets) = (Arc::clone(queue), Arc::downgrade(&self.sets));
        self.pods.on_change(Box::new(move |old, new| {
            let Some(sets) = sets.upgrade() else { return };
            for pod in old.into_iter().chain(new) {
                q.add_all(sets_for(&pod.metadata, &sets_in(&sets, &pod.metadata)));
            }
        }));
        let (q, sets) = (Arc::clone(queue), Arc::downgrade(&self.sets));
        self.revisions.on_change(Box::new(move |old, new| {
            let Some(sets) = sets.upgrade() else { return };
            for r in old.into_iter().chain(new) {
                q.add_all(sets_for(&r.metadata, &sets_in(&sets, &r.metadata)));
            }
        }));
        let q = Arc::clone(queue);
        let (sets, pods): (Weak<_>, Weak<Informer<Pod>>) =
            (Arc::downgrade(&self.sets), Arc::downgrade(&self.pods));
        self.claims.on_change(Box::new(move |old, new| {
            let (Some(sets), Some(pods)) = (sets.upgrade(), pods.upgrade()) else {
                return;
            };
            for claim in old.into_iter().chain(new) {
                let meta = &claim.metadata;
                q.add_all(sets_for_claim(meta, &sets_in(&sets, meta), |ns, name| {
                    pods.get(ns, name)
                }));
            }
        }));
    }
}

impl Reconciler for Controller {
    type Key = SetKey;

    /// One sync of one set.
    async fn reconcile(&self, key: &SetKey) -> Next {
        let Some(set) = self.sets.get(&key.namespace, &key.name) else {
            return Next::Done;
        };
        let pods = self.pods.list_namespace(&key.namespace);
        let claims = self.claims.list_namespace(&key.namespace);
        let revisions = self.revisions.list_namespace(&key.namespace);
        let planned = plan(&Observed {
            set: &set,
            pods: pods.iter().map(|p| p.as_ref()).collect(),
            claims: claims.iter().map(|c| c.as_ref()).collect(),
            revisions: revisions.iter().map(|r| r.as_ref()).collect(),
            now: jiff::Timestamp::now(),
        });
        let executor = Executor {
            client: self.informers.client(),
            recorder: &self.recorder,
            caches: &self.informers,
            set: &set,
        };
        executor.report_failures(&planned.failures);
        if !planned.failures.is_empty()
            && planned.waves.is_empty()
            && planned.failures.iter().all(Failure::waits_for_change)
        {
            // Left as it is; the set's next change queues it again.
            return Next::Done;
        }
        if planned.is_idle() {
            return match planned.requeue_after {
                Some(after) => Next::After(after),
                None => Next::Done,
            };
        }
        let report = executor.execute(&planned).await;
        if report.again {
            Next::After(Duration::ZERO)
        } else if report.failed || !planned.failures.is_empty() {
            Next::Retry
        } else if let Some(after) = planned.requeue_after {
            Next::After(after)
        } else {
            Next::Done
        }
    }
}
