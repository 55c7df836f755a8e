//! The garbage collector, as upstream's (pkg/controller/garbagecollector),
//! talking to the API server only through a [`kube::Client`].
//!
//! It discovers every resource that can be listed, watched and deleted,
//! watches their metadata, and keeps an owner [`graph`]. Then:
//!
//! - an object all of whose owners are gone is deleted (in the background,
//!   or in the foreground when an owner waits on it and it has dependents of
//!   its own); one with some owners alive loses the references to the dead
//!   ones. An owner counts as gone only when its deletion was observed or a
//!   live GET by name found nothing or another uid, never because a cache
//!   lacks it;
//! - an owner with the `foregroundDeletion` finalizer has its dependents
//!   deleted, waits until those with `blockOwnerDeletion` are gone, then
//!   loses the finalizer (and the API server removes it). The pods of a
//!   StatefulSet with ordered teardown are the exception: the StatefulSet
//!   controller deletes them, highest ordinal first, and the collector
//!   only waits for them ([`graph::torn_down_by`]);
//! - an owner with the `orphan` finalizer has the references to it removed
//!   from every dependent, then loses the finalizer.
//!
//! Failures are retried with a per-object back-off; writes carry uid and
//! resourceVersion preconditions, and a conflict re-reads.

pub mod graph;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::core::{ObjectMeta, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::runtime::{self, Next, Queue, Reconciler};
use crate::served::{self, Served};
use graph::{
    FOREGROUND, ForegroundStep, Graph, Node, ORPHAN, OwnerRef, OwnerState, Policy, Uid, Verdict,
};

/// Objects worked on at the same time.
const WORKERS: usize = 16;
/// How often discovery runs again to pick up new resources.
const REDISCOVERY: Duration = Duration::from_secs(30);
/// Attempts at a read-modify-write before giving the item back to the queue.
const CONFLICT_RETRIES: usize = 5;

/// Runs the garbage collector until `shutdown` completes.
pub async fn run(client: Client, shutdown: impl Future<Output = ()> + Send) {
    let gc = Arc::new(Collector {
        client,
        graph: Mutex::new(Graph::new()),
        queue: Queue::new(),
        served: RwLock::new(Vec::new()),
    });
    let watches = tokio::spawn(Arc::clone(&gc).discover_and_watch());
    let queue = Arc::clone(&gc.queue);
    runtime::drive(gc, queue, WORKERS, async {}, shutdown).await;
    watches.abort();
    let _ = watches.await;
}

impl Reconciler for Collector {
    type Key = Uid;

    async fn reconcile(&self, uid: &Uid) -> Next {
        self.sync(uid).await.into()
    }
}

struct Collector {
    client: Client,
    graph: Mutex<Graph>,
    queue: Arc<Queue<Uid>>,
    served: RwLock<Vec<Arc<Served>>>,
}

/// Why one attempt failed; the item is retried after its back-off.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("no served resource for {api_version} {kind}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{0} changed while being worked on")]
    Changed(String),
}

fn owner_refs(meta: &ObjectMeta) -> Vec<OwnerRef> {
    meta.owner_references
        .iter()
        .flatten()
        .map(|r| OwnerRef {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            uid: r.uid.clone(),
            block_owner_deletion: r.block_owner_deletion.unwrap_or(false),
            controller: r.controller.unwrap_or(false),
        })
        .collect()
}

fn to_node(resource: &Arc<Served>, meta: &ObjectMeta) -> Option<Node> {
    Some(Node {
        uid: meta.uid.clone()?,
        resource: Arc::clone(resource),
        namespace: meta.namespace.clone(),
        name: meta.name.clone()?,
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        owners: owner_refs(meta),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
        being_deleted: meta.deletion_timestamp.is_some(),
    })
}

fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

impl Collector {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn served(&self) -> Vec<Arc<Served>> {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn api(&self, resource: &Served, namespace: Option<&str>) -> Api<DynamicObject> {
        match (resource.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource.api),
            _ => Api::all_with(self.client.clone(), &resource.api),
        }
    }

    fn node_api(&self, node: &Node) -> Api<DynamicObject> {
        self.api(&node.resource, node.namespace.as_deref())
    }

    /// Discovers resources (retrying until it works) and keeps one watch per
    /// collectable resource, checking again now and then for new ones.
    async fn discover_and_watch(self: Arc<Self>) {
        let mut watched: HashSet<String> = HashSet::new();
        let mut watches = JoinSet::new();
        let mut failures = 0u32;
        loop {
            match served::discover(&self.client).await {
                Ok(found) => {
                    failures = 0;
                    *self.served.write().unwrap_or_else(|p| p.into_inner()) = found.clone();
                    for resource in found.into_iter().filter(|r| served::collectable(r)) {
                        if watched.insert(resource.key()) {
                            let gc = Arc::clone(&self);
                            watches.spawn(async move { gc.watch(resource).await });
                        }
                    }
                    tokio::time::sleep(REDISCOVERY).await;
                }
                Err(e) => {
                    failures += 1;
                    tracing::debug!(error = %e, "garbage collector: discovery failed");
                    tokio::time::sleep(crate::queue::backoff(failures)).await;
                }
            }
        }
    }

    /// Feeds one resource's metadata watch into the graph.
    async fn watch(self: Arc<Self>, resource: Arc<Served>) {
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::all_with(self.client.clone(), &resource.api);
        let stream =
            crate::tolerant::watcher_with(api, resource.api.clone(), watcher::Config::default())
                .default_backoff();
        futures::pin_mut!(stream);
        let mut listing: Option<HashSet<Uid>> = None;
        while let Some(event) = stream.next().await {
            let attention = match event {
                Ok(Event::Init) => {
                    listing = Some(HashSet::new());
                    continue;
                }
                Ok(Event::InitApply(obj) | Event::Apply(obj)) => {
                    let Some(node) = to_node(&resource, &obj.metadata) else {
                        continue;
                    };
                    if let Some(seen) = listing.as_mut() {
                        seen.insert(node.uid.clone());
                    }
                    self.graph().observe(node)
                }
                Ok(Event::Delete(obj)) => match &obj.metadata.uid {
                    Some(uid) => self.graph().forget(uid),
                    None => continue,
                },
                Ok(Event::InitDone) => {
                    let present = listing.take().unwrap_or_default();
                    self.graph().resync(&resource.key(), &present)
                }
                Err(e) => {
                    tracing::debug!(resource = %resource.key(), error = %e, "garbage collector: watch failed");
                    continue;
                }
            };
            self.queue.add_all(attention);
        }
    }

    async fn sync(&self, uid: &str) -> Result<(), SyncError> {
        let node = self.graph().node(uid).cloned();
        let Some(node) = node else {
            return self.verify_unseen_owner(uid).await;
        };
        if node.orphaning() {
            self.orphan_dependents(&node).await?;
            return self.remove_finalizer(&node, ORPHAN).await;
        }
        if node.deleting_dependents() {
            let step = graph::foreground_step(&self.graph(), uid);
            return match step {
                ForegroundStep::RemoveFinalizer => self.remove_finalizer(&node, FOREGROUND).await,
                ForegroundStep::Wait { delete } => {
                    self.queue.add_all(delete);
                    Ok(())
                }
            };
        }
        if node.being_deleted || node.owners.is_empty() {
            return Ok(());
        }
        let mut states = Vec::with_capacity(node.owners.len());
        for owner in &node.owners {
            let state = self.owner_state(owner, &node).await?;
            states.push((owner.uid.clone(), state));
        }
        let has_dependents = self.graph().has_dependents(uid);
        match graph::decide(&states, has_dependents, &node.finalizers) {
            Verdict::Keep => Ok(()),
            Verdict::RemoveReferences(owners) => self.remove_references(&node, &owners).await,
            Verdict::Delete(policy) => self.delete(&node, policy).await,
        }
    }

    /// Classifies one owner reference: the graph answers for owners seen
    /// alive and uids known gone; anything else is checked live.
    async fn owner_state(
        &self,
        owner: &OwnerRef,
        dependent: &Node,
    ) -> Result<OwnerState, SyncError> {
        {
            let g = self.graph();
            if g.is_absent(&owner.uid) {
                return Ok(OwnerState::Dangling);
            }
            if g.node(&owner.uid).is_some_and(|o| !o.deleting_dependents()) {
                return Ok(OwnerState::Solid);
            }
        }
        self.check_owner(owner, dependent.namespace.as_deref(), Some(dependent))
            .await
    }

    /// A live GET of an owner by name: gone or of another uid is dangling.
    /// With the `dependent` at hand, an owner being deleted in the
    /// foreground that deletes it itself is [`OwnerState::TearingDown`].
    async fn check_owner(
        &self,
        owner: &OwnerRef,
        dependent_namespace: Option<&str>,
        dependent: Option<&Node>,
    ) -> Result<OwnerState, SyncError> {
        let served = self.served();
        let Some(resource) = served::resolve(&served, &owner.api_version, &owner.kind) else {
            return Err(SyncError::UnknownKind {
                api_version: owner.api_version.clone(),
                kind: owner.kind.clone(),
            });
        };
        if resource.namespaced && dependent_namespace.is_none() {
            // A cluster-scoped object cannot be owned by a namespaced one.
            return Ok(OwnerState::Dangling);
        }
        let live = self
            .api(resource, dependent_namespace)
            .get_metadata_opt(&owner.name)
            .await?;
        match live {
            Some(live) if live.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
                let foreground = live.metadata.deletion_timestamp.is_some()
                    && live
                        .metadata
                        .finalizers
                        .iter()
                        .flatten()
                        .any(|f| f == FOREGROUND);
                let ordered =
                    || crate::statefulset::tears_down_in_order(live.metadata.annotations.as_ref());
                Ok(if !foreground {
                    OwnerState::Solid
                } else if dependent.is_some_and(|d| graph::torn_down_by(owner, d, ordered())) {
                    OwnerState::TearingDown
                } else {
                    OwnerState::WaitingForDependents
                })
            }
            _ => {
                let dependents = self.graph().mark_absent(&owner.uid);
                self.queue.add_all(dependents);
                Ok(OwnerState::Dangling)
            }
        }
    }

    /// An owner referenced but never seen: look it up once for all its
    /// dependents.
    async fn verify_unseen_owner(&self, uid: &str) -> Result<(), SyncError> {
        let lookup = {
            let g = self.graph();
            if g.is_absent(uid) {
                return Ok(());
            }
            g.owner_lookup(uid)
        };
        let Some((owner, namespace)) = lookup else {
            return Ok(());
        };
        if self.check_owner(&owner, namespace.as_deref(), None).await?
            == OwnerState::WaitingForDependents
        {
            let dependents: Vec<Uid> = self
                .graph()
                .dependents(uid)
                .iter()
                .map(|d| d.uid.clone())
                .collect();
            self.queue.add_all(dependents);
        }
        Ok(())
    }

    async fn delete(&self, node: &Node, policy: Policy) -> Result<(), SyncError> {
        let api = self.node_api(node);
        let mut params = DeleteParams {
            propagation_policy: Some(match policy {
                Policy::Background => PropagationPolicy::Background,
                Policy::Foreground => PropagationPolicy::Foreground,
                Policy::Orphan => PropagationPolicy::Orphan,
            }),
            preconditions: Some(Preconditions {
                uid: Some(node.uid.clone()),
                resource_version: Some(node.resource_version.clone()),
            }),
            ..DeleteParams::default()
        };
        tracing::debug!(name = %node.name, resource = %node.resource.key(), ?policy, "garbage collector: deleting");
        match api.delete(&node.name, &params).await {
            Ok(_) => return Ok(()),
            Err(e) if is_status(&e, 404) => return Ok(()),
            Err(e) if is_status(&e, 409) => {}
            Err(e) => return Err(e.into()),
        }
        // Changed since the graph saw it: only go on if the owners did not.
        let Some(live) = api.get_metadata_opt(&node.name).await? else {
            return Ok(());
        };
        if live.metadata.uid.as_deref() != Some(node.uid.as_str()) {
            return Ok(());
        }
        if owner_refs(&live.metadata) != node.owners {
            return Err(SyncError::Changed(node.name.clone()));
        }
        if let Some(p) = params.preconditions.as_mut() {
            p.resource_version = None;
        }
        match api.delete(&node.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Read-modify-write of one object's metadata with a resourceVersion
    /// precondition; `change` answers the merge patch to send, or `None`
    /// when there is nothing to do.
    async fn rewrite_metadata(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        uid: &str,
        change: impl Fn(&ObjectMeta) -> Option<Value>,
    ) -> Result<(), SyncError> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(live) = api.get_metadata_opt(name).await? else {
                return Ok(());
            };
            if live.metadata.uid.as_deref() != Some(uid) {
                return Ok(());
            }
            let Some(mut patch) = change(&live.metadata) else {
                return Ok(());
            };
            patch["metadata"]["resourceVersion"] = json!(live.metadata.resource_version);
            match api
                .patch_metadata(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_status(&e, 404) => return Ok(()),
                Err(e) if is_status(&e, 409) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(SyncError::Changed(name.to_string()))
    }

    async fn remove_references(&self, node: &Node, owners: &[Uid]) -> Result<(), SyncError> {
        let api = self.node_api(node);
        self.rewrite_metadata(&api, &node.name, &node.uid, |meta| {
            let refs = meta.owner_references.clone().unwrap_or_default();
            let kept: Vec<_> = refs
                .iter()
                .filter(|r| !owners.contains(&r.uid))
                .cloned()
                .collect();
            if kept.len() == refs.len() {
                return None;
            }
            let value = if kept.is_empty() {
                Value::Null
            } else {
                serde_json::to_value(&kept).unwrap_or(Value::Null)
            };
            Some(json!({"metadata": {"ownerReferences": value}}))
        })
        .await
    }

    async fn orphan_dependents(&self, owner: &Node) -> Result<(), SyncError> {
        let dependents: Vec<Node> = self
            .graph()
            .dependents(&owner.uid)
            .into_iter()
            .cloned()
            .collect();
        let owner_uid = [owner.uid.clone()];
        let results = futures::stream::iter(dependents)
            .map(|d| {
                let owner_uid = &owner_uid;
                async move { self.remove_references(&d, owner_uid).await }
            })
            .buffer_unordered(WORKERS)
            .collect::<Vec<_>>()
            .await;
        results.into_iter().collect()
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> Result<(), SyncError> {
        let api = self.node_api(node);
        self.rewrite_metadata(&api, &node.name, &node.uid, |meta| {
            let list = meta.finalizers.clone().unwrap_or_default();
            if !list.iter().any(|f| f == finalizer) {
                return None;
            }
            let kept: Vec<&String> = list.iter().filter(|f| *f != finalizer).collect();
            let value = if kept.is_empty() {
                Value::Null
            } else {
                json!(kept)
            };
            Some(json!({"metadata": {"finalizers": value}}))
        })
        .await
    }
}
