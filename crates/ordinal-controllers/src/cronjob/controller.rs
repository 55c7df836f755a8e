//! The CronJob controller's reconcile: per CronJob, gather its jobs from
//! the shared caches, [`plan`], execute (deletions, the new job, the
//! status), and come back at the next start time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource as _;
use kube::api::{Api, DeleteParams, PostParams, Preconditions, PropagationPolicy};
use ordinal_core::events::Recorder;

use super::plan::{Plan, plan, reference};
use crate::informer::{Informer, Informers, ObjectKey, all_synced};
use crate::runtime::{self, Next, Queue, Reconciler, controller_of, error_message, status_code};

/// CronJobs synced at the same time (upstream's
/// `--concurrent-cron-job-syncs`).
pub const WORKERS: usize = 5;
/// The component name on the controller's Events.
pub const COMPONENT: &str = "cronjob-controller";

type Key = ObjectKey;

/// Runs the CronJob controller on `informers` until `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let controller = Arc::new(Controller {
        recorder: runtime::recorder(informers.client(), COMPONENT),
        cron_jobs: informers.get(),
        jobs: informers.get(),
        informers,
        local: jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
    });
    let queue = Queue::new();
    controller.cron_jobs.queue_keys(&queue);
    controller.jobs.queue_controllers::<CronJob>(&queue);
    let ready = all_synced([controller.cron_jobs.clone(), controller.jobs.clone()]);
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    informers: Arc<Informers>,
    recorder: Recorder,
    cron_jobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    local: jiff::tz::TimeZone,
}

/// The CronJob a job's controller reference names: name and uid.
fn owner(job: &Job) -> Option<(&str, &str)> {
    controller_of::<CronJob>(&job.metadata).map(|r| (r.name.as_str(), r.uid.as_str()))
}

impl Reconciler for Controller {
    type Key = Key;

    async fn reconcile(&self, key: &Key) -> Next {
        let (namespace, name) = key;
        let Some(cj) = self.cron_jobs.get(namespace, name) else {
            return Next::Done;
        };
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        let jobs: Vec<Arc<Job>> = self
            .jobs
            .list_namespace(namespace)
            .into_iter()
            .filter(|j| owner(j).is_some_and(|(_, u)| u == uid))
            .collect();
        let refs: Vec<&Job> = jobs.iter().map(|j| j.as_ref()).collect();
        let planned = plan(&cj, &refs, &self.local, jiff::Timestamp::now());
        match self.execute(&cj, planned.clone()).await {
            Err(()) => Next::Retry,
            Ok(()) => match planned.requeue_after {
                Some(after) => Next::After(after + Duration::from_millis(100)),
                None => Next::Done,
            },
        }
    }
}

impl Controller {
    async fn execute(&self, cj: &CronJob, plan: Plan) -> Result<(), ()> {
        let namespace = cj.metadata.namespace.clone().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(self.informers.client().clone(), &namespace);
        let reference_of_cj = cj.object_ref(&());
        let event = |warning: bool, reason: &str, text: String| {
            self.recorder.event(&reference_of_cj, warning, reason, text);
        };
        for e in &plan.events {
            event(e.warning, &e.reason, e.message.clone());
        }
        let mut status = plan.status.clone();
        let mut failed = false;
        for job in &plan.delete {
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: Some(Preconditions {
                    uid: Some(job.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match jobs.delete(&job.name, &params).await {
                Ok(answer) => {
                    event(
                        false,
                        "SuccessfulDelete",
                        format!("Deleted job {}", job.name),
                    );
                    self.jobs
                        .delete_answered(&namespace, &job.name, &job.uid, answer.left());
                }
                Err(e) if status_code(&e) == Some(404) => {}
                Err(e) => {
                    event(
                        true,
                        "FailedDelete",
                        format!("Deleted job: {}", error_message(&e)),
                    );
                    failed = true;
                }
            }
        }
        if failed {
            return Err(());
        }
        if let (Some(job), Some(scheduled)) = (&plan.create, plan.scheduled) {
            let made: Option<ObjectReference> = match jobs.create(&PostParams::default(), job).await
            {
                Ok(made) => {
                    event(
                        false,
                        "SuccessfulCreate",
                        format!(
                            "Created job {}",
                            made.metadata.name.as_deref().unwrap_or("")
                        ),
                    );
                    let r = reference(&made);
                    self.jobs.store(made);
                    Some(r)
                }
                Err(e) if status_code(&e) == Some(409) => {
                    // Made before (a sync that did not get to write the
                    // status): adopt it into the active list if ours.
                    let name = job.metadata.name.clone().unwrap_or_default();
                    match jobs.get(&name).await {
                        Ok(existing)
                            if owner(&existing).map(|(_, u)| u) == cj.metadata.uid.as_deref() =>
                        {
                            Some(reference(&existing))
                        }
                        Ok(_) => None,
                        Err(_) => return Err(()),
                    }
                }
                Err(e) => {
                    event(
                        true,
                        "FailedCreate",
                        format!("Error creating job: {}", error_message(&e)),
                    );
                    return Err(());
                }
            };
            if let Some(r) = made {
                let active = status.active.get_or_insert_default();
                if !active.iter().any(|a| a.uid == r.uid) {
                    active.push(r);
                }
                status.last_schedule_time = Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(scheduled),
                );
            }
        }
        if Some(&status) != cj.status.as_ref()
            && !(cj.status.is_none() && status == Default::default())
        {
            let mut next = cj.clone();
            next.status = Some(status);
            let api: Api<CronJob> = Api::namespaced(self.informers.client().clone(), &namespace);
            if let Err(e) = self.cron_jobs.replace_status(&api, &next).await {
                tracing::debug!(error = %e, "cronjob status write failed");
                return Err(());
            }
        }
        Ok(())
    }
}
