//! The StatefulSet controller: watch caches, a work queue keyed by set,
//! and per key one sync — gather what the caches hold, [`plan`], execute.
//!
//! - Four caches (kube-runtime reflector stores) follow StatefulSets, Pods,
//!   PersistentVolumeClaims and ControllerRevisions cluster-wide. Every
//!   change is mapped to the sets it concerns (`mapping`) and queues them;
//!   a change of an object's owner or labels queues the sets of its old
//!   state too. Each completed (re)list queues every set.
//! - Syncs start once all four caches have listed. Up to [`WORKERS`] sets
//!   sync at once; the queue never hands one set to two workers.
//! - Stale caches: after executing a plan, a set is not planned again until
//!   the caches have seen every write of that execution (`freshness`). So a
//!   plan never repeats a creation it already made, nor deletes a pod again
//!   because the cache still shows it. Changes made by others may still
//!   reach a plan late; the API server's preconditions cover those (a
//!   delete names the pod's UID, so it never removes a newer pod of the same
//!   name; a create of an existing name fails with AlreadyExists).
//! - Requeues: after the plan's `requeue_after`, at once after a revision
//!   name collision, with per-set exponential back-off after any failure.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::Client;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use ordinal_core::events::{Recorder, Source};
use ordinal_core::watch::forget_managed_fields;
use tokio::task::JoinSet;

use super::execute::{Executor, Written};
use super::freshness::{self, Freshness, Resource};
use super::mapping::{SetKey, sets_for, sets_for_claim};
use super::{Observed, plan};
use crate::queue::Queue;

/// Sets synced at the same time (upstream's default
/// `--concurrent-statefulset-syncs`).
pub const WORKERS: usize = 5;
/// The component name on the controller's Events.
pub const COMPONENT: &str = "statefulset-controller";
/// How often expired freshness waits are swept.
const SWEEP: Duration = Duration::from_secs(1);

/// Runs the StatefulSet controller until `shutdown` completes.
pub async fn run(client: Client, shutdown: impl Future<Output = ()> + Send) {
    let recorder = Recorder::new(
        client.clone(),
        Source {
            component: COMPONENT.into(),
            host: crate::hostname(),
        },
    );
    let (sets, sets_writer) = cache::<StatefulSet>();
    let (pods, pods_writer) = cache::<Pod>();
    let (claims, claims_writer) = cache::<PersistentVolumeClaim>();
    let (revisions, revisions_writer) = cache::<ControllerRevision>();
    let controller = Arc::new(Controller {
        client: client.clone(),
        recorder,
        sets,
        pods,
        claims,
        revisions,
        queue: Queue::new(),
        fresh: Freshness::new(),
    });

    let mut tasks = JoinSet::new();
    {
        let c = Arc::clone(&controller);
        tasks.spawn(c.follow(Api::all(client.clone()), sets_writer, Resource::Set));
        let c = Arc::clone(&controller);
        tasks.spawn(c.follow(Api::all(client.clone()), pods_writer, Resource::Pod));
        let c = Arc::clone(&controller);
        tasks.spawn(c.follow(Api::all(client.clone()), claims_writer, Resource::Claim));
        let c = Arc::clone(&controller);
        tasks.spawn(c.follow(Api::all(client), revisions_writer, Resource::Revision));
    }
    {
        let c = Arc::clone(&controller);
        tasks.spawn(async move {
            loop {
                tokio::time::sleep(SWEEP).await;
                c.queue.add_all(c.fresh.expire());
            }
        });
    }
    for _ in 0..WORKERS {
        let c = Arc::clone(&controller);
        tasks.spawn(async move {
            if c.wait_for_caches().await {
                c.work().await;
            }
        });
    }
    shutdown.await;
    controller.queue.close();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

fn cache<K>() -> (Store<K>, Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let writer = Writer::default();
    (writer.as_reader(), writer)
}

struct Controller {
    client: Client,
    recorder: Recorder,
    sets: Store<StatefulSet>,
    pods: Store<Pod>,
    claims: Store<PersistentVolumeClaim>,
    revisions: Store<ControllerRevision>,
    queue: Arc<Queue<SetKey>>,
    fresh: Freshness<SetKey>,
}

/// What a sync asks for next.
#[derive(Debug, PartialEq)]
enum Next {
    /// Nothing until something changes.
    Idle,
    /// Sync again after this long.
    After(Duration),
    /// Sync again after the set's back-off.
    Retry,
    /// Waiting for the caches; woken by them.
    Parked,
}

/// An object the controller caches.
trait Cached:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

impl Controller {
    /// Waits until every cache has listed once; false if a watch ended.
    async fn wait_for_caches(&self) -> bool {
        self.sets.wait_until_ready().await.is_ok()
            && self.pods.wait_until_ready().await.is_ok()
            && self.claims.wait_until_ready().await.is_ok()
            && self.revisions.wait_until_ready().await.is_ok()
    }

    /// Keeps one cache up to date and queues the sets its changes concern.
    async fn follow<K: Cached>(
        self: Arc<Self>,
        api: Api<K>,
        mut writer: Writer<K>,
        kind: Resource,
    ) {
        let reader = writer.as_reader();
        let stream = crate::tolerant::watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        // The highest version of a relist, applied when it completes.
        let mut listed: Option<String> = None;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(mut event) => {
                    forget_managed_fields(&mut event);
                    event
                }
                Err(e) => {
                    tracing::debug!(error = %e, ?kind, "statefulset controller: watch error");
                    continue;
                }
            };
            let mut keys = Vec::new();
            match &event {
                Event::Apply(obj) => {
                    if let Some(old) = reader.get(&ObjectRef::from_obj(obj)) {
                        keys.extend(self.concerned(kind, old.meta()));
                    }
                    writer.apply_watcher_event(&event);
                    keys.extend(self.concerned(kind, obj.meta()));
                    keys.extend(
                        self.fresh
                            .observe(kind, obj.meta().resource_version.as_deref()),
                    );
                }
                Event::Delete(obj) => {
                    writer.apply_watcher_event(&event);
                    keys.extend(self.concerned(kind, obj.meta()));
                    keys.extend(
                        self.fresh
                            .observe(kind, obj.meta().resource_version.as_deref()),
                    );
                    if let Some(uid) = obj.meta().uid.as_deref() {
                        keys.extend(self.fresh.observe_gone(kind, uid));
                    }
                    if kind == Resource::Set {
                        self.fresh.forget(&SetKey::of(obj.meta()));
                    }
                }
                Event::Init => {
                    listed = None;
                    writer.apply_watcher_event(&event);
                }
                Event::InitApply(obj) => {
                    let v = obj.meta().resource_version.clone();
                    if freshness::version(v.as_deref()) > freshness::version(listed.as_deref()) {
                        listed = v;
                    }
                    writer.apply_watcher_event(&event);
                }
                Event::InitDone => {
                    writer.apply_watcher_event(&event);
                    keys.extend(self.fresh.observe(kind, listed.take().as_deref()));
                    // Deletions the relist skipped over were never seen as
                    // events: settle UID waits by what the cache holds now.
                    keys.extend(self.fresh.settle_gone(kind, |uid| self.holds(kind, uid)));
                    // And look at every set again.
                    keys.extend(self.sets.state().iter().map(|s| SetKey::of(&s.metadata)));
                }
            }
            self.queue.add_all(keys);
        }
    }

    /// The sets a change to `meta` (an object of `kind`) concerns.
    fn concerned(&self, kind: Resource, meta: &kube::api::ObjectMeta) -> Vec<SetKey> {
        match kind {
            Resource::Set => vec![SetKey::of(meta)],
            Resource::Pod | Resource::Revision => sets_for(meta, &self.sets_in(meta)),
            Resource::Claim => sets_for_claim(meta, &self.sets_in(meta), |ns, name| {
                self.pods.get(&ObjectRef::new(name).within(ns))
            }),
        }
    }

    fn sets_in(&self, meta: &kube::api::ObjectMeta) -> Vec<Arc<StatefulSet>> {
        let ns = meta.namespace.as_deref();
        self.sets
            .state_filter(|s| s.metadata.namespace.as_deref() == ns)
    }

    async fn work(self: Arc<Self>) {
        while let Some(key) = self.queue.next().await {
            let next = self.sync(&key).await;
            match next {
                Next::Idle => self.queue.forget(&key),
                Next::After(delay) => {
                    self.queue.forget(&key);
                    self.queue.add_after(key.clone(), delay);
                }
                Next::Retry => self.queue.retry(key.clone()),
                Next::Parked => {}
            }
            self.queue.done(&key);
        }
    }

    /// One sync of one set.
    async fn sync(&self, key: &SetKey) -> Next {
        if !self.fresh.ready_or_park(key) {
            return Next::Parked;
        }
        let Some(set) = self
            .sets
            .get(&ObjectRef::new(&key.name).within(&key.namespace))
        else {
            self.fresh.forget(key);
            return Next::Idle;
        };
        let in_namespace = |ns: Option<&str>| ns == Some(key.namespace.as_str());
        let pods = self
            .pods
            .state_filter(|p| in_namespace(p.metadata.namespace.as_deref()));
        let claims = self
            .claims
            .state_filter(|c| in_namespace(c.metadata.namespace.as_deref()));
        let revisions = self
            .revisions
            .state_filter(|r| in_namespace(r.metadata.namespace.as_deref()));
        let planned = plan(&Observed {
            set: &set,
            pods: pods.iter().map(|p| p.as_ref()).collect(),
            claims: claims.iter().map(|c| c.as_ref()).collect(),
            revisions: revisions.iter().map(|r| r.as_ref()).collect(),
            now: jiff::Timestamp::now(),
        });
        let executor = Executor {
            client: &self.client,
            recorder: &self.recorder,
            set: &set,
        };
        executor.report_failures(&planned.failures);
        if planned.is_idle() {
            return match planned.requeue_after {
                Some(after) => Next::After(after),
                None => Next::Idle,
            };
        }
        let report = executor.execute(&planned).await;
        for written in report.writes {
            match written {
                Written::At(resource, version) => {
                    self.fresh.expect(key, resource, version.as_deref())
                }
                Written::Gone(resource, uid) => self
                    .fresh
                    .expect_gone(key, resource, &uid, || self.holds(resource, &uid)),
            }
        }
        if report.again {
            Next::After(Duration::ZERO)
        } else if report.failed || !planned.failures.is_empty() {
            Next::Retry
        } else if let Some(after) = planned.requeue_after {
            Next::After(after)
        } else {
            Next::Idle
        }
    }

    /// Whether the cache of `resource` holds an object with `uid`.
    fn holds(&self, resource: Resource, uid: &str) -> bool {
        let has = |u: Option<&String>| u.map(String::as_str) == Some(uid);
        match resource {
            Resource::Set => self.sets.find(|o| has(o.metadata.uid.as_ref())).is_some(),
            Resource::Pod => self.pods.find(|o| has(o.metadata.uid.as_ref())).is_some(),
            Resource::Claim => self.claims.find(|o| has(o.metadata.uid.as_ref())).is_some(),
            Resource::Revision => self
                .revisions
                .find(|o| has(o.metadata.uid.as_ref()))
                .is_some(),
        }
    }
}
