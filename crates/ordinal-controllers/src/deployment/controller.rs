//! The Deployment controller's reconcile: per deployment, gather the
//! ReplicaSets and pods of its namespace from the shared caches, [`plan`],
//! execute the actions in order (each answer written back into the
//! cache), record their events, write the status.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use ordinal_core::events::Recorder;
use ordinal_core::go_text::quote;
use ordinal_core::labels::Selector;
use serde_json::json;

use super::plan::{self, Action, PodRef, plan};
use crate::informer::{Informer, Informers, ObjectKey, all_synced, key_of};
use crate::runtime::{
    self, Next, Queue, Reconciler, controller_of, controller_ref, error_message, status_code,
};

/// Deployments synced at the same time (upstream's
/// `--concurrent-deployment-syncs`).
pub const WORKERS: usize = 5;
/// The component name on the controller's Events.
pub const COMPONENT: &str = "deployment-controller";

/// Runs the Deployment controller on `informers` until `shutdown`
/// completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let controller = Arc::new(Controller {
        recorder: runtime::recorder(informers.client(), COMPONENT),
        deployments: informers.get(),
        sets: informers.get(),
        pods: informers.get(),
        informers,
    });
    let queue = Queue::new();
    controller.deployments.queue_keys(&queue);
    controller.sets.queue_controllers::<Deployment>(&queue);
    // An orphan set may be adopted by every deployment that selects it.
    let (deployments, q) = (Arc::clone(&controller.deployments), Arc::clone(&queue));
    controller.sets.on_change(Box::new(move |old, new| {
        for rs in old.into_iter().chain(new) {
            if runtime::controller(&rs.metadata).is_some() {
                continue;
            }
            let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
            for d in deployments.list_namespace(namespace) {
                let selects = d.spec.as_ref().is_some_and(|s| {
                    Selector::compile(&s.selector)
                        .is_ok_and(|sel| sel.matches(rs.metadata.labels.as_ref()))
                });
                if selects {
                    q.add(key_of(d.as_ref()));
                }
            }
        }
    }));
    // A Recreate rollout waits for the old pods to be gone.
    let (sets, q) = (Arc::clone(&controller.sets), Arc::clone(&queue));
    controller.pods.on_change(Box::new(move |old, new| {
        let (Some(pod), None) = (old, new) else {
            return;
        };
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        if let Some(owner) = controller_of::<ReplicaSet>(&pod.metadata)
            && let Some(rs) = sets.get(namespace, &owner.name)
            && let Some(d) = controller_of::<Deployment>(&rs.metadata)
        {
            q.add((namespace.to_string(), d.name.clone()));
        }
    }));
    let ready = all_synced([
        controller.deployments.clone(),
        controller.sets.clone(),
        controller.pods.clone(),
    ]);
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    informers: Arc<Informers>,
    recorder: Recorder,
    deployments: Arc<Informer<Deployment>>,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
}

impl Reconciler for Controller {
    type Key = ObjectKey;

    async fn reconcile(&self, key: &ObjectKey) -> Next {
        let (namespace, name) = key;
        let Some(d) = self.deployments.get(namespace, name) else {
            return Next::Done;
        };
        let sets = self.sets.list_namespace(namespace);
        let sets: Vec<&ReplicaSet> = sets.iter().map(|s| s.as_ref()).collect();
        let pods = self.pods.list_namespace(namespace);
        let pods: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
        let planned = plan(&d, &sets, &pods, jiff::Timestamp::now());
        let executor = Executor {
            client: self.informers.client(),
            recorder: &self.recorder,
            deployments: &self.deployments,
            sets: &self.sets,
            namespace,
            reference: runtime::reference(d.as_ref()),
        };
        match executor.execute(&d, &planned).await {
            Err(()) => Next::Retry,
            Ok(()) => match planned.requeue_after {
                Some(after) => Next::After(after.max(Duration::from_millis(100))),
                None => Next::Done,
            },
        }
    }
}

/// Carries out one plan of one deployment.
struct Executor<'a> {
    client: &'a kube::Client,
    recorder: &'a Recorder,
    deployments: &'a Informer<Deployment>,
    sets: &'a Informer<ReplicaSet>,
    namespace: &'a str,
    reference: ObjectReference,
}

impl Executor<'_> {
    fn set_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    fn deployment_api(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    /// The actions in order, then the status; the first failure stops
    /// the rest (the retry plans again from what is stored).
    async fn execute(&self, d: &Deployment, plan: &plan::Plan) -> Result<(), ()> {
        let mut current = d.clone();
        // A set written twice in one plan (its revision, then its size)
        // is written the second time over the first answer.
        let mut versions: HashMap<String, Option<String>> = HashMap::new();
        for e in &plan.events {
            self.recorder
                .event(&self.reference, e.warning, &e.reason, e.message.clone());
        }
        for action in &plan.actions {
            match action {
                Action::Adopt(rs) => {
                    let owner = controller_ref(d);
                    let patch = json!({"metadata": {"ownerReferences": [owner], "uid": rs.uid}});
                    if let Some(written) = self.patch_set(rs, patch).await? {
                        versions.insert(rs.name.clone(), written.metadata.resource_version);
                    }
                }
                Action::Release(rs) => {
                    let uid = d.metadata.uid.as_deref().unwrap_or("");
                    let patch = json!({"metadata": {
                        "ownerReferences": [{"$patch": "delete", "uid": uid}],
                        "uid": rs.uid,
                    }});
                    self.patch_set(rs, patch).await?;
                }
                Action::Create { rs, event } => {
                    let made = self.create(&current, rs).await?;
                    versions.insert(
                        made.metadata.name.clone().unwrap_or_default(),
                        made.metadata.resource_version,
                    );
                    if let Some(message) = event {
                        self.recorder
                            .normal(&self.reference, "ScalingReplicaSet", message.clone());
                    }
                }
                Action::Update { rs, event } => {
                    let name = rs.metadata.name.clone().unwrap_or_default();
                    let mut rs = rs.clone();
                    if let Some(version) = versions.get(&name) {
                        rs.metadata.resource_version = version.clone();
                    }
                    match self.sets.replace(&self.set_api(), &rs).await {
                        Ok(written) => {
                            versions.insert(name, written.metadata.resource_version);
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "replicaset update failed");
                            return Err(());
                        }
                    }
                    if let Some(message) = event {
                        self.recorder
                            .normal(&self.reference, "ScalingReplicaSet", message.clone());
                    }
                }
                Action::Delete(rs) => self.delete_set(rs).await?,
                Action::Revision(revision) => {
                    let patch = json!({"metadata": {"annotations": {plan::REVISION: revision}}});
                    let name = d.metadata.name.as_deref().unwrap_or("");
                    match self
                        .deployment_api()
                        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                        .await
                    {
                        Ok(answer) => {
                            current = answer.clone();
                            self.deployments.written(answer);
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "deployment revision write failed");
                            return Err(());
                        }
                    }
                }
            }
        }
        if let Some(status) = &plan.status {
            current.status = Some(status.clone());
            self.write_status(&current).await?;
        }
        Ok(())
    }

    async fn write_status(&self, d: &Deployment) -> Result<(), ()> {
        self.deployments
            .replace_status(&self.deployment_api(), d)
            .await
            .map(|_| ())
            .map_err(|e| tracing::debug!(error = %e, "deployment status write failed"))
    }

    /// An ownership patch of a set; its answer, unless the set is gone
    /// or another's.
    async fn patch_set(
        &self,
        rs: &PodRef,
        patch: serde_json::Value,
    ) -> Result<Option<ReplicaSet>, ()> {
        match self
            .set_api()
            .patch(&rs.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(answer) => {
                self.sets.written(answer.clone());
                Ok(Some(answer))
            }
            Err(e) if matches!(status_code(&e), Some(404 | 422)) => Ok(None),
            Err(e) => {
                tracing::debug!(rs = %rs.name, error = %e, "replicaset ownership patch failed");
                Err(())
            }
        }
    }

    /// Creates the new set. `AlreadyExists` with the deployment's own set
    /// of the same template is the cache running late; with any other,
    /// a hash collision: `collisionCount` goes up, and the retry hashes
    /// anew. Any other failure is the `ReplicaSetCreateError` condition.
    async fn create(&self, d: &Deployment, rs: &ReplicaSet) -> Result<ReplicaSet, ()> {
        let name = rs.metadata.name.clone().unwrap_or_default();
        let error = match self.set_api().create(&PostParams::default(), rs).await {
            Ok(made) => {
                self.sets.store(made.clone());
                return Ok(made);
            }
            Err(e) => e,
        };
        if status_code(&error) == Some(409) {
            if let Ok(existing) = self.set_api().get(&name).await {
                let ours = controller_of::<Deployment>(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                let same = plan::equal_ignore_hash(
                    existing.spec.as_ref().and_then(|s| s.template.as_ref()),
                    d.spec.as_ref().map(|s| &s.template),
                );
                self.sets.store(existing);
                if ours && same {
                    return Err(());
                }
            }
            let mut next = d.clone();
            let status = next.status.get_or_insert_default();
            status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
            let _ = self.write_status(&next).await;
            return Err(());
        }
        let message = format!(
            "Failed to create new replica set {}: {}",
            quote(&name),
            error_message(&error)
        );
        self.recorder
            .warning(&self.reference, "FailedCreate", message.clone());
        let mut next = d.clone();
        let status = next.status.get_or_insert_default();
        let conditions = status.conditions.get_or_insert_default();
        conditions.retain(|c| c.type_ != "Progressing");
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
        conditions.push(k8s_openapi::api::apps::v1::DeploymentCondition {
            type_: "Progressing".into(),
            status: "False".into(),
            reason: Some(plan::reason::FAILED_CREATE.into()),
            message: Some(message),
            last_update_time: Some(now.clone()),
            last_transition_time: Some(now),
        });
        let _ = self.write_status(&next).await;
        Err(())
    }

    async fn delete_set(&self, rs: &PodRef) -> Result<(), ()> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(rs.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.set_api().delete(&rs.name, &params).await {
            Ok(answer) => {
                self.sets
                    .delete_answered(self.namespace, &rs.name, &rs.uid, answer.left());
                Ok(())
            }
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => {
                tracing::debug!(rs = %rs.name, error = %e, "old replicaset deletion failed");
                Err(())
            }
        }
    }
}
