//! The reconcile of both endpoint controllers: the shared caches of
//! Services and Pods, a work queue keyed by Service, and per key one sync that brings
//! the Service's Endpoints object and its EndpointSlices up to date.
//!
//! - Every Service change queues that Service; every Pod change queues the
//!   Services of its namespace whose selector matches the pod's labels
//!   before or after the change. Changes to our slices or to Endpoints
//!   made by others (a deleted slice, an edited Endpoints) queue their
//!   Service too, so they are repaired.
//! - A sync reads the Service and Pods from the caches, and the Endpoints
//!   and slices it writes live from the API. Reading its own output live
//!   (one GET, one LIST) is what makes a sync never act on a stale view of
//!   its own earlier writes — no duplicate slice after a quick second
//!   sync — without upstream's expectation trackers; writes carry the
//!   resourceVersion they were computed from.
//! - Nothing is polled: a pod's readiness change is one watch event, one
//!   sync, one slice update and one Endpoints update.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use super::{pods, slices, subsets};
use crate::informer::{Informer, Informers, all_synced};
use crate::runtime::{self, Next, Queue, Reconciler, status_code};

/// Services synced at the same time (upstream's
/// `--concurrent-endpoint-syncs` and `--concurrent-service-endpoint-syncs`).
pub const WORKERS: usize = 5;

/// A Service, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

impl ServiceKey {
    fn of(meta: &kube::api::ObjectMeta) -> ServiceKey {
        ServiceKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

/// Why a sync did not finish; it is retried with back-off.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("{what} {namespace}/{name}: {source}")]
    Api {
        what: &'static str,
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

/// Runs the Endpoints and EndpointSlice controllers on `informers` until
/// `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let controller = Arc::new(Controller {
        client: informers.client().clone(),
        services: informers.get(),
        pods: informers.get(),
    });
    let queue = Queue::new();
    controller.watch(&queue);
    let ready = all_synced([controller.services.clone(), controller.pods.clone()]);
    let outputs = tokio::spawn(Arc::clone(&controller).follow_outputs(Arc::clone(&queue)));
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
    outputs.abort();
}

struct Controller {
    client: Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
}

/// The Services of the pod's namespace that select it.
fn services_of(services: &Informer<Service>, pod: &Pod) -> Vec<ServiceKey> {
    services
        .list_namespace(pod.metadata.namespace.as_deref().unwrap_or(""))
        .iter()
        .filter(|s| pods::selects(s, pod.metadata.labels.as_ref()))
        .map(|s| ServiceKey::of(&s.metadata))
        .collect()
}

impl Controller {
    /// Every Service change queues it; every Pod change queues the
    /// Services that select the pod before or after it.
    fn watch(&self, queue: &Arc<Queue<ServiceKey>>) {
        let q = Arc::clone(queue);
        self.services.on_change(Box::new(move |old, new| {
            q.add_all(
                old.into_iter()
                    .chain(new)
                    .map(|s| ServiceKey::of(&s.metadata)),
            );
        }));
        let (q, services) = (Arc::clone(queue), Arc::downgrade(&self.services));
        self.pods.on_change(Box::new(move |old, new| {
            let Some(services) = services.upgrade() else {
                return;
            };
            for pod in old.into_iter().chain(new) {
                q.add_all(services_of(&services, pod));
            }
        }));
    }

    /// Watches what the controllers write, so that changes by others are
    /// undone.
    async fn follow_outputs(self: Arc<Self>, queue: Arc<Queue<ServiceKey>>) {
        let slices: Api<EndpointSlice> = Api::all(self.client.clone());
        let managed = format!("{}={}", slices::MANAGED_BY_LABEL, slices::CONTROLLER_NAME);
        let slice_events =
            crate::tolerant::watcher(slices, watcher::Config::default().labels(&managed))
                .default_backoff()
                .filter_map(|e| async move {
                    match e {
                        Ok(Event::Apply(s) | Event::Delete(s)) => {
                            let name = s
                                .metadata
                                .labels
                                .as_ref()?
                                .get(slices::SERVICE_NAME_LABEL)?;
                            Some(ServiceKey {
                                namespace: s.metadata.namespace.clone().unwrap_or_default(),
                                name: name.clone(),
                            })
                        }
                        _ => None,
                    }
                });
        let endpoints: Api<Endpoints> = Api::all(self.client.clone());
        let endpoint_events = crate::tolerant::watcher(endpoints, watcher::Config::default())
            .default_backoff()
            .filter_map(|e| async move {
                match e {
                    Ok(Event::Apply(ep) | Event::Delete(ep)) => Some(ServiceKey::of(&ep.metadata)),
                    _ => None,
                }
            });
        let events = futures::stream::select(slice_events, endpoint_events);
        futures::pin_mut!(events);
        while let Some(key) = events.next().await {
            let service = self.services.get(&key.namespace, &key.name);
            if service.is_some_and(|s| pods::is_managed(&s)) {
                queue.add(key);
            }
        }
    }
}

impl Reconciler for Controller {
    type Key = ServiceKey;

    async fn reconcile(&self, key: &ServiceKey) -> Next {
        self.sync(key).await.into()
    }
}

impl Controller {
    /// One sync of one Service: its Endpoints and its slices.
    async fn sync(&self, key: &ServiceKey) -> Result<(), SyncError> {
        let Some(service) = self.services.get(&key.namespace, &key.name) else {
            // Gone: its Endpoints go too; its slices follow through their
            // owner reference (the garbage collector).
            return self.delete_endpoints(key).await;
        };
        if !pods::is_managed(&service) {
            // No selector (or an ExternalName): others provide endpoints.
            // Slices this controller made while it had one are stale.
            return self.sync_slices(key, &service, &[], false).await;
        }
        let in_namespace = self.pods.list_namespace(&key.namespace);
        let pods: Vec<&Pod> = in_namespace.iter().map(|p| p.as_ref()).collect();
        let (endpoints, slices) = tokio::join!(
            self.sync_endpoints(key, &service, &pods),
            self.sync_slices(key, &service, &pods, true),
        );
        endpoints.and(slices)
    }

    fn error(what: &'static str, key: &ServiceKey) -> impl FnOnce(kube::Error) -> SyncError {
        let (namespace, name) = (key.namespace.clone(), key.name.clone());
        move |source| SyncError::Api {
            what,
            namespace,
            name,
            source,
        }
    }

    async fn delete_endpoints(&self, key: &ServiceKey) -> Result<(), SyncError> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &key.namespace);
        match api.delete(&key.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(Self::error("deleting the endpoints", key)(e)),
        }
    }

    async fn sync_endpoints(
        &self,
        key: &ServiceKey,
        service: &Service,
        pods: &[&Pod],
    ) -> Result<(), SyncError> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &key.namespace);
        let desired = subsets::desired(service, pods);
        let current = api
            .get_opt(&key.name)
            .await
            .map_err(Self::error("reading the endpoints", key))?;
        let written = match current {
            None if service.metadata.deletion_timestamp.is_some() => return Ok(()),
            None => api.create(&PostParams::default(), &desired).await,
            Some(current) if subsets::up_to_date(&current, &desired) => return Ok(()),
            Some(current) => {
                let next = subsets::updated(&current, &desired);
                api.replace(&key.name, &PostParams::default(), &next).await
            }
        };
        match written {
            Ok(_) => Ok(()),
            // The namespace is being deleted: nothing to publish.
            Err(e) if terminating_namespace(&e) => Ok(()),
            Err(e) => Err(Self::error("writing the endpoints", key)(e)),
        }
    }

    async fn sync_slices(
        &self,
        key: &ServiceKey,
        service: &Service,
        pods: &[&Pod],
        managed: bool,
    ) -> Result<(), SyncError> {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &key.namespace);
        let selector = format!(
            "{}={},{}={}",
            slices::SERVICE_NAME_LABEL,
            key.name,
            slices::MANAGED_BY_LABEL,
            slices::CONTROLLER_NAME
        );
        let existing = crate::tolerant::list(&api, &ListParams::default().labels(&selector))
            .await
            .map_err(Self::error("listing the endpoint slices", key))?;
        let plan = if managed {
            slices::plan(service, &existing, pods)
        } else {
            slices::Plan {
                delete: existing,
                ..Default::default()
            }
        };
        if plan.is_empty() {
            return Ok(());
        }
        let fail = Self::error("writing the endpoint slices", key);
        for slice in &plan.update {
            let name = slice.metadata.name.clone().unwrap_or_default();
            if let Err(e) = api.replace(&name, &PostParams::default(), slice).await {
                return Err(fail(e));
            }
        }
        if service.metadata.deletion_timestamp.is_none() {
            for slice in &plan.create {
                match api.create(&PostParams::default(), slice).await {
                    Ok(_) => {}
                    Err(e) if terminating_namespace(&e) => return Ok(()),
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        for slice in &plan.delete {
            let name = slice.metadata.name.clone().unwrap_or_default();
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: slice.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(e) if matches!(status_code(&e), Some(404 | 409)) => {}
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(())
    }
}

/// Upstream drops creates refused because the namespace is terminating.
fn terminating_namespace(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => status.code == 403 && status.message.contains("terminat"),
        _ => false,
    }
}
