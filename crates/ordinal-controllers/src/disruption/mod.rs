//! The disruption controller, as upstream's (`pkg/controller/disruption`):
//! keeps each PodDisruptionBudget's status — how many of its pods are
//! healthy, how many must be, how many may be disrupted now — which the
//! API server's eviction subresource spends and checks.
//!
//! - [`plan`]: the pure decision, from the budget, its pods and their
//!   StatefulSets' scales to the status (and when to look again, for an
//!   eviction that expires).
//! - This module: the shared informers of budgets, pods and StatefulSets
//!   map changes to budget keys; a reconcile reads the caches, plans and
//!   writes the status through `/status` (a conflict is retried with the
//!   budget read again), and records upstream's events.

pub mod plan;

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use ordinal_core::labels::Selector;

use crate::informer::{Informer, Informers, ObjectKey, all_synced, key_of};
use crate::runtime::{self, Next, Queue, Reconciler, reference};

/// Budgets synced at the same time.
const WORKERS: usize = 2;
const COMPONENT: &str = "controllermanager";

/// Runs the disruption controller on `informers` until `shutdown`
/// completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let client = informers.client().clone();
    let controller = Arc::new(Controller {
        recorder: runtime::recorder(&client, COMPONENT),
        client,
        budgets: informers.get(),
        pods: informers.get(),
        sets: informers.get(),
    });
    let queue = Queue::new();
    controller.watch(&queue);
    let ready = all_synced([
        controller.budgets.clone(),
        controller.pods.clone(),
        controller.sets.clone(),
    ]);
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    client: kube::Client,
    recorder: ordinal_core::events::Recorder,
    budgets: Arc<Informer<PodDisruptionBudget>>,
    pods: Arc<Informer<Pod>>,
    sets: Arc<Informer<StatefulSet>>,
}

/// The budgets of the pod's namespace that select it.
fn budgets_of(budgets: &Informer<PodDisruptionBudget>, pod: &Pod) -> Vec<ObjectKey> {
    budgets
        .list_namespace(pod.metadata.namespace.as_deref().unwrap_or(""))
        .iter()
        .filter(|b| {
            b.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_some_and(|s| {
                    Selector::compile_and_match(s, pod.metadata.labels.as_ref()).unwrap_or(false)
                })
        })
        .map(|b| key_of(b.as_ref()))
        .collect()
}

impl Controller {
    /// A budget's change queues it; a pod's, the budgets that select it
    /// before or after; a StatefulSet's (its scale), the budgets of its
    /// namespace.
    fn watch(&self, queue: &Arc<Queue<ObjectKey>>) {
        self.budgets.queue_keys(queue);
        let (q, budgets) = (Arc::clone(queue), Arc::downgrade(&self.budgets));
        self.pods.on_change(Box::new(move |old, new| {
            let Some(budgets) = budgets.upgrade() else {
                return;
            };
            for pod in old.into_iter().chain(new) {
                q.add_all(budgets_of(&budgets, pod));
            }
        }));
        let (q, budgets) = (Arc::clone(queue), Arc::downgrade(&self.budgets));
        self.sets.on_change(Box::new(move |old, new| {
            let Some(budgets) = budgets.upgrade() else {
                return;
            };
            for set in old.into_iter().chain(new) {
                let namespace = set.metadata.namespace.as_deref().unwrap_or("");
                q.add_all(
                    budgets
                        .list_namespace(namespace)
                        .iter()
                        .map(|b| key_of(b.as_ref())),
                );
            }
        }));
    }

    fn record(&self, budget: &PodDisruptionBudget, notes: &[plan::Note]) {
        for note in notes {
            let object = match &note.pod {
                Some(pod) => match self
                    .pods
                    .get(budget.metadata.namespace.as_deref().unwrap_or(""), pod)
                {
                    Some(pod) => reference(pod.as_ref()),
                    None => continue,
                },
                None => reference(budget),
            };
            self.recorder
                .event(&object, note.warning, note.reason, note.message.clone());
        }
    }
}

impl Reconciler for Controller {
    type Key = ObjectKey;

    async fn reconcile(&self, key: &ObjectKey) -> Next {
        let (namespace, name) = key;
        let Some(budget) = self.budgets.get(namespace, name) else {
            return Next::Done;
        };
        let in_namespace = self.pods.list_namespace(namespace);
        let pods: Vec<&Pod> = in_namespace.iter().map(Arc::as_ref).collect();
        let scale = |owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference| {
            let set = self.sets.get(namespace, &owner.name)?;
            (set.metadata.uid.as_deref() == Some(owner.uid.as_str()))
                .then(|| set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))
        };
        let now = jiff::Timestamp::now();
        let decided = plan::plan(&budget, &pods, &scale, now);
        self.record(&budget, &decided.notes);
        if let Some(failure) = &decided.failure {
            tracing::debug!(%namespace, %name, error = %failure, "PodDisruptionBudget sync failed");
        }
        if let Some(status) = decided.status {
            let mut next = (*budget).clone();
            next.status = Some(status);
            let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), namespace);
            if let Err(e) = self.budgets.replace_status(&api, &next).await {
                tracing::debug!(%namespace, %name, error = %e, "PodDisruptionBudget status write failed");
                return Next::Retry;
            }
        }
        if decided.failure.is_some() {
            return Next::Retry;
        }
        match decided.recheck {
            Some(at) => {
                let wait = now.duration_until(at).max(jiff::SignedDuration::ZERO);
                Next::After(
                    std::time::Duration::try_from(wait).unwrap_or_default()
                        + std::time::Duration::from_millis(100),
                )
            }
            None => Next::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ApiServer, eventually};
    use k8s_openapi::api::core::v1::PodStatus;
    use kube::api::{PatchParams, PostParams};

    fn pod(name: &str, ready: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }))
        .map(|mut p: Pod| {
            p.status = Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            });
            p
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_budget_follows_its_pods_readiness() {
        let running = ApiServer::start().await.run(run);
        let client = running.client.clone();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        for name in ["web-0", "web-1"] {
            let made = pods
                .create(&PostParams::default(), &pod(name, true))
                .await
                .unwrap();
            let mut ready = pod(name, true);
            ready.metadata = made.metadata;
            pods.replace_status(name, &PostParams::default(), &ready)
                .await
                .unwrap();
        }
        let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
        let budget: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        }))
        .unwrap();
        budgets
            .create(&PostParams::default(), &budget)
            .await
            .unwrap();
        let synced = eventually("the budget's first status", || async {
            let b = budgets.get("web").await.unwrap();
            let s = b.status.clone()?;
            (s.observed_generation == Some(1) && s.expected_pods == 2).then_some(s)
        })
        .await;
        assert_eq!((synced.current_healthy, synced.desired_healthy), (2, 1));
        assert_eq!(synced.disruptions_allowed, 1);
        let condition = &synced.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("True", "SufficientPods")
        );

        // A pod stops being Ready: no disruption is allowed any more.
        let mut unready = pods.get("web-1").await.unwrap();
        unready.status = pod("web-1", false).status;
        pods.replace_status("web-1", &PostParams::default(), &unready)
            .await
            .unwrap();
        let short = eventually("no disruption allowed", || async {
            let s = budgets.get("web").await.unwrap().status?;
            (s.current_healthy == 1).then_some(s)
        })
        .await;
        assert_eq!(short.disruptions_allowed, 0);
        let condition = &short.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("False", "InsufficientPods")
        );

        // A spec change is observed.
        let patch = serde_json::json!({"spec": {"minAvailable": 0}});
        budgets
            .patch(
                "web",
                &PatchParams::default(),
                &kube::api::Patch::Merge(patch),
            )
            .await
            .unwrap();
        eventually("the new generation observed", || async {
            let s = budgets.get("web").await.unwrap().status?;
            (s.observed_generation == Some(2) && s.disruptions_allowed == 1).then_some(())
        })
        .await;

        running.stop().await;
    }
}
