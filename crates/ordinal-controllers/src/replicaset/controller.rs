//! The ReplicaSet controller's reconcile: per set, gather the pods of its
//! namespace from the shared cache, [`plan`], execute — adoptions,
//! releases, deletions, creations in slow-start batches — then write the
//! status the cache adds up to.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use ordinal_core::events::Recorder;
use ordinal_core::labels::Selector;
use serde_json::json;

use super::expectations::Expectations;
use super::plan::{self, PodRef, plan};
use crate::informer::{Informer, Informers, ObjectKey, all_synced, key_of};
use crate::runtime::{
    self, Next, Queue, Reconciler, controller_of, controller_ref, error_message, status_code,
};

/// Sets synced at the same time (upstream's `--concurrent-replicaset-syncs`).
pub const WORKERS: usize = 5;
/// The component name on the controller's Events.
pub const COMPONENT: &str = "replicaset-controller";

/// Runs the ReplicaSet controller on `informers` until `shutdown`
/// completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let controller = Arc::new(Controller {
        recorder: runtime::recorder(informers.client(), COMPONENT),
        sets: informers.get(),
        pods: informers.get(),
        expectations: Expectations::default(),
        informers,
    });
    let queue = Queue::new();
    controller.sets.queue_keys(&queue);
    controller.pods.queue_controllers::<ReplicaSet>(&queue);
    // An orphan may be adopted by every set of its namespace it matches.
    let (sets, q) = (Arc::clone(&controller.sets), Arc::clone(&queue));
    controller.pods.on_change(Box::new(move |old, new| {
        for pod in old.into_iter().chain(new) {
            if !orphan(&pod.metadata) {
                continue;
            }
            let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
            for rs in sets.list_namespace(namespace) {
                let selects = rs.spec.as_ref().is_some_and(|s| {
                    Selector::compile(&s.selector)
                        .is_ok_and(|sel| sel.matches(pod.metadata.labels.as_ref()))
                });
                if selects {
                    q.add(key_of(rs.as_ref()));
                }
            }
        }
    }));
    // The watch confirms the writes a sync expects.
    let c = Arc::clone(&controller);
    controller.pods.on_change(Box::new(move |old, new| {
        let Some(pod) = new.or(old) else { return };
        let Some(owner) = controller_of::<ReplicaSet>(&pod.metadata) else {
            return;
        };
        let key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            owner.name.clone(),
        );
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        match (old, new) {
            (None, Some(_)) => c.expectations.creation_observed(&key),
            (Some(_), None) => c.expectations.deletion_observed(&key, uid),
            (Some(o), Some(n))
                if o.metadata.deletion_timestamp.is_none()
                    && n.metadata.deletion_timestamp.is_some() =>
            {
                c.expectations.deletion_observed(&key, uid)
            }
            _ => {}
        }
    }));
    let ready = all_synced([controller.sets.clone(), controller.pods.clone()]);
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

fn orphan(meta: &kube::api::ObjectMeta) -> bool {
    runtime::controller(meta).is_none()
}

struct Controller {
    informers: Arc<Informers>,
    recorder: Recorder,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    expectations: Expectations,
}

impl Reconciler for Controller {
    type Key = ObjectKey;

    async fn reconcile(&self, key: &ObjectKey) -> Next {
        let (namespace, name) = key;
        let Some(rs) = self.sets.get(namespace, name) else {
            self.expectations.forget(key);
            return Next::Done;
        };
        let pods = self.pods.list_namespace(namespace);
        let refs: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
        let mut planned = plan(&rs, &refs);
        let unconfirmed = self
            .expectations
            .satisfied(key, std::time::Instant::now())
            .err();
        if unconfirmed.is_some() {
            planned.create = 0;
            planned.delete.clear();
        }
        let executor = Executor {
            client: self.informers.client(),
            recorder: &self.recorder,
            pods: &self.pods,
            expectations: &self.expectations,
            key,
            namespace,
            reference: runtime::reference(rs.as_ref()),
        };
        let failure = executor.execute(&rs, &planned).await;
        // The status from the cache the writes updated.
        let pods = self.pods.list_namespace(namespace);
        let refs: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
        let now = jiff::Timestamp::now();
        let failed = failure.is_some();
        let status = plan::status(
            &rs,
            &refs,
            failure.as_ref().map(|(r, m)| (*r, m.as_str())),
            now,
        );
        if rs.metadata.deletion_timestamp.is_none()
            && !plan::same_status(rs.status.as_ref(), &status)
        {
            let mut next = (*rs).clone();
            next.status = Some(status);
            let api: Api<ReplicaSet> = Api::namespaced(self.informers.client().clone(), namespace);
            if let Err(e) = self.sets.replace_status(&api, &next).await {
                tracing::debug!(error = %e, "replicaset status write failed");
                return Next::Retry;
            }
        }
        let after = plan::next_available(&rs, &refs, now)
            .into_iter()
            .chain(unconfirmed)
            .min();
        if failed {
            Next::Retry
        } else if let Some(after) = after {
            Next::After(after)
        } else {
            Next::Done
        }
    }
}

/// Carries out one plan of one set.
struct Executor<'a> {
    client: &'a kube::Client,
    recorder: &'a Recorder,
    pods: &'a Informer<Pod>,
    expectations: &'a Expectations,
    key: &'a ObjectKey,
    namespace: &'a str,
    reference: ObjectReference,
}

impl Executor<'_> {
    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    /// The plan's steps; returns the failure of creations or deletions
    /// (its reason and message) for the `ReplicaFailure` condition.
    async fn execute(&self, rs: &ReplicaSet, plan: &plan::Plan) -> Option<(&'static str, String)> {
        let owner = controller_ref(rs);
        for pod in &plan.adopt {
            let patch = json!({"metadata": {"ownerReferences": [owner], "uid": pod.uid}});
            self.patch(pod, patch).await;
        }
        for pod in &plan.release {
            let patch = json!({"metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": owner.uid}],
                "uid": pod.uid,
            }});
            self.patch(pod, patch).await;
        }
        let mut failure = None;
        for pod in &plan.delete {
            if let Err(message) = self.delete(pod).await {
                failure.get_or_insert(("FailedDelete", message));
            }
        }
        if let Some(template) = &plan.pod
            && let Err(message) = self.create(template, plan.create).await
        {
            failure.get_or_insert(("FailedCreate", message));
        }
        failure
    }

    async fn patch(&self, pod: &PodRef, patch: serde_json::Value) {
        match self
            .api()
            .patch(&pod.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(answer) => self.pods.written(answer),
            Err(e) => tracing::debug!(pod = %pod.name, error = %e, "ownership patch failed"),
        }
    }

    /// Upstream's slow start: batches of 1, 2, 4, … pods, stopping at the
    /// first batch with a failure (the rest would likely fail alike).
    async fn create(&self, template: &Pod, count: usize) -> Result<(), String> {
        let mut left = count;
        let mut batch = 1;
        while left > 0 {
            let size = batch.min(left);
            self.expectations
                .expect_creations(self.key, size, std::time::Instant::now());
            let (api, params) = (self.api(), PostParams::default());
            let answers =
                futures::future::join_all((0..size).map(|_| api.create(&params, template))).await;
            let mut failure = None;
            for answer in answers {
                match answer {
                    Ok(made) => {
                        self.recorder.normal(
                            &self.reference,
                            "SuccessfulCreate",
                            format!(
                                "Created pod: {}",
                                made.metadata.name.as_deref().unwrap_or("")
                            ),
                        );
                        self.pods.store(made);
                    }
                    Err(e) => {
                        self.expectations.creation_observed(self.key);
                        let message = error_message(&e);
                        self.recorder.warning(
                            &self.reference,
                            "FailedCreate",
                            format!("Error creating: {message}"),
                        );
                        failure.get_or_insert(message);
                    }
                }
            }
            if let Some(message) = failure {
                return Err(message);
            }
            left -= size;
            batch *= 2;
        }
        Ok(())
    }

    async fn delete(&self, pod: &PodRef) -> Result<(), String> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(pod.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        self.expectations
            .expect_deletion(self.key, &pod.uid, std::time::Instant::now());
        let answer = self.api().delete(&pod.name, &params).await;
        if answer.is_err() {
            // Gone already, or not deleted: no deletion to wait for.
            self.expectations.deletion_observed(self.key, &pod.uid);
        }
        match answer {
            Ok(answer) => {
                self.recorder.normal(
                    &self.reference,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", pod.name),
                );
                self.pods
                    .delete_answered(self.namespace, &pod.name, &pod.uid, answer.left());
                Ok(())
            }
            Err(e) if status_code(&e) == Some(404) => {
                self.pods
                    .delete_answered(self.namespace, &pod.name, &pod.uid, None);
                Ok(())
            }
            Err(e) => {
                let message = error_message(&e);
                self.recorder.warning(
                    &self.reference,
                    "FailedDelete",
                    format!("Error deleting: {message}"),
                );
                Err(message)
            }
        }
    }
}
