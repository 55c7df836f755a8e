//! The Job controller's reconcile: per job, gather what the shared caches
//! hold, [`plan`], execute — the record, the finalizers, deletions,
//! creations, the status, the job itself when its time to live is over.
//!
//! Every answer goes back into the caches, so the next plan never repeats
//! a creation. A pod whose job is gone but that still carries the tracking
//! finalizer (its job was deleted while it ran) is let go.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::Resource as _;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use ordinal_core::events::Recorder;
use serde_json::json;

use super::plan::{Plan, PodRef, TRACKING_FINALIZER, has_finalizer, plan};
use crate::informer::{Informer, Informers, ObjectKey, all_synced};
use crate::runtime::{self, Next, Queue, Reconciler, controller_of, error_message, status_code};

/// Jobs synced at the same time (upstream's `--concurrent-job-syncs`).
pub const WORKERS: usize = 5;
/// The component name on the controller's Events.
pub const COMPONENT: &str = "job-controller";

/// `(namespace, name)` of a job.
pub type JobKey = ObjectKey;

/// Runs the Job controller on `informers` until `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let controller = Arc::new(Controller {
        recorder: runtime::recorder(informers.client(), COMPONENT),
        jobs: informers.get(),
        pods: informers.get(),
        informers,
    });
    let queue = Queue::new();
    controller.jobs.queue_keys(&queue);
    controller.pods.queue_controllers::<Job>(&queue);
    let ready = all_synced([controller.jobs.clone(), controller.pods.clone()]);
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    informers: Arc<Informers>,
    recorder: Recorder,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
}

/// The job a pod's controller reference names, if a Job.
fn owner_job(pod: &Pod) -> Option<(&str, &str)> {
    controller_of::<Job>(&pod.metadata).map(|r| (r.name.as_str(), r.uid.as_str()))
}

impl Reconciler for Controller {
    type Key = JobKey;

    async fn reconcile(&self, key: &JobKey) -> Next {
        let (namespace, name) = key;
        let job = self.jobs.get(namespace, name);
        let job_uid = job.as_ref().and_then(|j| j.metadata.uid.clone());
        let mut mine = Vec::new();
        let mut strays = Vec::new();
        for pod in self.pods.list_namespace(namespace) {
            match owner_job(&pod) {
                Some((owner, uid)) if owner == name.as_str() => {
                    if Some(uid) == job_uid.as_deref() {
                        mine.push(pod);
                    } else if has_finalizer(&pod) {
                        strays.push(pod);
                    }
                }
                _ => {}
            }
        }
        let executor = Executor {
            client: self.informers.client(),
            recorder: &self.recorder,
            jobs: &self.jobs,
            pods: &self.pods,
            namespace,
        };
        let mut failed = false;
        for pod in &strays {
            failed |= executor
                .remove_finalizer(&PodRef::of(pod.as_ref()))
                .await
                .is_err();
        }
        let Some(job) = job else {
            return if failed { Next::Retry } else { Next::Done };
        };
        let pods: Vec<&Pod> = mine.iter().map(|p| p.as_ref()).collect();
        let planned = plan(&job, &pods, jiff::Timestamp::now());
        failed |= executor.execute(&job, &planned).await.is_err();
        if failed {
            Next::Retry
        } else if let Some(after) = planned.requeue_after {
            // A little past the moment, as upstream, so the time has come.
            Next::After(after + Duration::from_millis(100))
        } else {
            Next::Done
        }
    }
}

/// Carries out one plan of one job.
struct Executor<'a> {
    client: &'a kube::Client,
    recorder: &'a Recorder,
    jobs: &'a Informer<Job>,
    pods: &'a Informer<Pod>,
    namespace: &'a str,
}

impl Executor<'_> {
    fn pod_api(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    fn job_api(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    /// The plan's steps in order; the first failure stops the rest (the
    /// retry plans them again from what is stored).
    async fn execute(&self, job: &Job, plan: &Plan) -> Result<(), ()> {
        let reference = job.object_ref(&());
        let mut current = job.clone();
        if let Some(record) = &plan.record {
            current = self.write_status(&current, record).await?;
        }
        let mut failed = false;
        for pod in &plan.remove_finalizers {
            failed |= self.remove_finalizer(pod).await.is_err();
        }
        if failed {
            return Err(());
        }
        for pod in &plan.delete {
            failed |= self.delete_pod(&reference, pod).await.is_err();
        }
        for pod in &plan.create {
            failed |= self.create_pod(&reference, pod).await.is_err();
        }
        if failed {
            return Err(());
        }
        if let Some(status) = &plan.status {
            self.write_status(&current, status).await?;
        }
        for e in &plan.events {
            self.recorder
                .event(&reference, e.warning, &e.reason, e.message.clone());
        }
        if plan.delete_job {
            self.delete_job(&current).await?;
        }
        Ok(())
    }

    async fn write_status(&self, job: &Job, status: &JobStatus) -> Result<Job, ()> {
        let mut next = job.clone();
        next.status = Some(status.clone());
        self.jobs
            .replace_status(&self.job_api(), &next)
            .await
            .map_err(|e| {
                tracing::debug!(error = %e, "job status write failed");
            })
    }

    async fn remove_finalizer(&self, pod: &PodRef) -> Result<(), ()> {
        let patch = json!({"metadata": {
            "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
            "uid": pod.uid,
        }});
        match self
            .pod_api()
            .patch(&pod.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(answer) => {
                self.pods.written(answer);
                Ok(())
            }
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => {
                tracing::debug!(pod = %pod.name, error = %e, "finalizer removal failed");
                Err(())
            }
        }
    }

    async fn delete_pod(&self, reference: &ObjectReference, pod: &PodRef) -> Result<(), ()> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(pod.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.pod_api().delete(&pod.name, &params).await {
            Ok(answer) => {
                self.recorder.normal(
                    reference,
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
                self.recorder.warning(
                    reference,
                    "FailedDelete",
                    format!("Error deleting: {}", error_message(&e)),
                );
                Err(())
            }
        }
    }

    async fn create_pod(&self, reference: &ObjectReference, pod: &Pod) -> Result<(), ()> {
        match self.pod_api().create(&PostParams::default(), pod).await {
            Ok(made) => {
                self.recorder.normal(
                    reference,
                    "SuccessfulCreate",
                    format!(
                        "Created pod: {}",
                        made.metadata.name.as_deref().unwrap_or("")
                    ),
                );
                self.pods.store(made);
                Ok(())
            }
            Err(e) => {
                self.recorder.warning(
                    reference,
                    "FailedCreate",
                    format!("Error creating: {}", error_message(&e)),
                );
                Err(())
            }
        }
    }

    /// The TTL-after-finished controller's delete: foreground, so the
    /// job goes after its pods, and only the job that expired.
    async fn delete_job(&self, job: &Job) -> Result<(), ()> {
        let name = job.metadata.name.clone().unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let params = DeleteParams {
            propagation_policy: Some(kube::api::PropagationPolicy::Foreground),
            preconditions: Some(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.job_api().delete(&name, &params).await {
            Ok(answer) => {
                self.jobs
                    .delete_answered(self.namespace, &name, &uid, answer.left());
                Ok(())
            }
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => {
                tracing::debug!(job = %name, error = %e, "ttl deletion failed");
                Err(())
            }
        }
    }
}
