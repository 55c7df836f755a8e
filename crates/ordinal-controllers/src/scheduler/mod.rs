//! The scheduler of `ordinal up`: binds pods that have no node to a
//! Ready node through the `pods/binding` subresource, with upstream's
//! default profile — `nodeSelector`, node affinity, taints (NoSchedule,
//! NoExecute) against tolerations, cordons, host ports and resource
//! requests against the node's allocatable (upstream's NodePorts and
//! NodeResourcesFit, with what each node's pods take kept in
//! [`usage::Ledger`]), volumes (upstream's VolumeBinding: claims must
//! exist, a bound claim's volume must allow the node, and a
//! WaitForFirstConsumer claim is given a volume for the chosen node before
//! the pod is bound), topology spread constraints ([`spread`]) and pod
//! affinity and anti-affinity ([`interpod`]); the best-scored node wins,
//! and a pod that fits nowhere may preempt lower-priority pods
//! ([`preempt`]).
//!
//! Pods whose `schedulerName` is not `default-scheduler` are left alone,
//! as are pods that already have a node. Decisions ([`decide`], pure) are
//! made one pod at a time, like upstream's scheduling cycle; the API
//! writes of a decision run beside it:
//!
//! - no volume work: the binding is posted (event `Scheduled`,
//!   `Successfully assigned ns/pod to node`);
//! - volume work: static volumes get their claimRef (reserved meanwhile,
//!   so no other pod takes them) and claims to provision get
//!   `volume.kubernetes.io/selected-node`; the pod waits, assumed on its
//!   node, until every claim is bound (at most ten minutes), then is
//!   bound. A provisioner that gives the claim up (drops the annotation)
//!   sends the pod back to scheduling;
//! - preemption: the pod gets `status.nominatedNodeName`; each victim the
//!   `DisruptionTarget` condition, a `Preempted` event and a graceful
//!   delete; the pod is then reported as not fitting (below) and placed
//!   once the victims are gone, the room it freed kept from pods of lower
//!   priority meanwhile;
//! - no node fits: `PodScheduled=False` with reason `Unschedulable` and a
//!   `FailedScheduling` warning in upstream's words. The pod is tried
//!   again when nodes, claims, volumes or classes change, a pod lands on
//!   a node (pod affinity) or leaves its node (deleted or finished, which
//!   frees ports and resources), no
//!   sooner than its back-off (1 s doubling to 10 s) allows, and every
//!   30 s.

pub mod decide;
pub mod interpod;
pub mod nodes;
pub mod preempt;
pub mod spread;
pub mod usage;
pub mod volume_binding;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    Binding, Namespace, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
    Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};

use crate::informer::{Cached, Informer, Informers};
use crate::runtime::{self, Next, Queue, Reconciler};
use crate::volumes::{
    ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, Caches, is_conflict_or_gone, reference,
};
use decide::{Cluster, Decision};
use ordinal_core::events::Recorder;
use preempt::{Budget, Victim};
use usage::Ledger;
use volume_binding::{NodeVolumes, Storage, fully_bound};

/// The scheduler's name, on pods and events.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";
/// How long a pod waits for its volumes (upstream's bindTimeout).
const BIND_TIMEOUT: Duration = Duration::from_secs(600);
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are tried again at least this often.
const FLUSH: Duration = Duration::from_secs(30);
/// Bindings posted at the same time.
const BINDERS: usize = 16;

type PodKey = (String, String);

fn key_of(pod: &Pod) -> PodKey {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// A pod placed on a node whose binding is not done yet.
struct Assumed {
    uid: String,
    node: String,
    /// Claims that must be bound first, and whether each is provisioned.
    claims: Vec<(String, bool)>,
    /// Static volumes this decision took.
    reserved: Vec<String>,
    since: Instant,
    /// The binding is being posted.
    posting: bool,
}

struct Backoff {
    attempts: u32,
    last: Instant,
}

impl Backoff {
    fn delay(&self) -> Duration {
        let d = INITIAL_BACKOFF.saturating_mul(1 << self.attempts.saturating_sub(1).min(8));
        d.min(MAX_BACKOFF)
    }

    fn remaining(&self) -> Duration {
        (self.last + self.delay()).saturating_duration_since(Instant::now())
    }
}

#[derive(Default)]
struct State {
    assumed: HashMap<PodKey, Assumed>,
    unschedulable: HashMap<PodKey, Backoff>,
    /// What each node's pods (bound or assumed) take.
    ledger: Ledger,
}

impl State {
    /// Gives up a pod's placement: no longer assumed, nor counted on the
    /// node (unless the cache shows it bound there).
    fn drop_assumed(&mut self, key: &PodKey) {
        if let Some(a) = self.assumed.remove(key) {
            self.ledger.forget(&a.uid);
        }
    }
}

/// What the scheduler reads besides the volume controllers' caches.
#[derive(Clone)]
struct More {
    namespaces: Arc<Informer<Namespace>>,
    sets: Arc<Informer<StatefulSet>>,
    services: Arc<Informer<Service>>,
    budgets: Arc<Informer<PodDisruptionBudget>>,
}

struct Scheduler {
    client: Client,
    caches: Caches,
    more: More,
    recorder: Recorder,
    queue: Arc<Queue<PodKey>>,
    state: Mutex<State>,
    posting: Arc<tokio::sync::Semaphore>,
}

/// Whether the scheduler should place this pod.
fn wants_node(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let unassigned = spec
        .and_then(|s| s.node_name.as_deref())
        .is_none_or(str::is_empty);
    let ours = spec
        .and_then(|s| s.scheduler_name.as_deref())
        .is_none_or(|n| n.is_empty() || n == DEFAULT_SCHEDULER);
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    unassigned
        && ours
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// A change of status alone (our own condition writes, say) is no reason to
/// schedule again.
fn only_status_changed(old: &Pod, new: &Pod) -> bool {
    old.spec == new.spec
        && old.metadata.labels == new.metadata.labels
        && old.metadata.annotations == new.metadata.annotations
        && old.metadata.uid == new.metadata.uid
}

/// Runs the scheduler until `shutdown` completes.
pub async fn run(
    client: Client,
    caches: Caches,
    informers: &Informers,
    shutdown: impl Future<Output = ()> + Send,
) {
    let recorder = runtime::recorder(&client, DEFAULT_SCHEDULER);
    let more = More {
        namespaces: informers.get(),
        sets: informers.get(),
        services: informers.get(),
        budgets: informers.get(),
    };
    let s = Arc::new(Scheduler {
        client,
        caches,
        more: more.clone(),
        recorder,
        queue: Queue::new(),
        state: Mutex::new(State::default()),
        posting: Arc::new(tokio::sync::Semaphore::new(BINDERS)),
    });
    s.watch();
    let caches_ready = s.caches.ready();
    let ready = async move {
        caches_ready.await;
        more.namespaces.synced().await;
        more.sets.synced().await;
        more.services.synced().await;
        more.budgets.synced().await;
    };
    let queue = Arc::clone(&s.queue);
    runtime::drive(Arc::new(Placing(s)), queue, 1, ready, shutdown).await;
}

/// The scheduler as the runtime drives it: one pod at a time (its
/// bindings go on in the background).
struct Placing(Arc<Scheduler>);

impl Reconciler for Placing {
    type Key = PodKey;
    const RESYNC: Option<Duration> = Some(FLUSH);

    async fn reconcile(&self, key: &PodKey) -> Next {
        Arc::clone(&self.0).sync(key).await;
        Next::Done
    }

    /// Pods waiting in back-off whose time has come go back to the queue.
    fn resync(&self) {
        self.0.retry_waiting(true);
    }
}

impl Scheduler {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn watch(self: &Arc<Self>) {
        let weak: Weak<Scheduler> = Arc::downgrade(self);
        self.caches.pods.on_change(Box::new(move |old, new| {
            let Some(s) = weak.upgrade() else { return };
            let freed = s
                .lock()
                .ledger
                .observe(old.map(|p| &**p), new.map(|p| &**p));
            match new {
                Some(pod) if !wants_node(pod) => {
                    let mut st = s.lock();
                    st.drop_assumed(&key_of(pod));
                    st.unschedulable.remove(&key_of(pod));
                }
                Some(pod) => {
                    if old.is_none_or(|o| !only_status_changed(o, pod)) {
                        s.queue.add(key_of(pod));
                    }
                }
                None => {
                    if let Some(pod) = old {
                        let mut st = s.lock();
                        st.drop_assumed(&key_of(pod));
                        st.unschedulable.remove(&key_of(pod));
                    }
                }
            }
            // Room on a node came free, or a pod landed (pods with affinity
            // to it may fit now).
            let landed = |p: Option<&Arc<Pod>>| {
                p.and_then(|p| p.spec.as_ref())
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty())
            };
            if freed || (landed(new) && !landed(old)) {
                s.retry_waiting(false);
            }
        }));
        // Any change of a node, claim, volume or class may let a waiting
        // pod fit.
        self.retry_on_change(&self.caches.nodes);
        self.retry_on_change(&self.caches.claims);
        self.retry_on_change(&self.caches.volumes);
        self.retry_on_change(&self.caches.classes);
    }

    fn retry_on_change<K: Cached>(self: &Arc<Self>, informer: &Informer<K>) {
        let weak = Arc::downgrade(self);
        informer.on_change(Box::new(move |_, _| {
            if let Some(s) = weak.upgrade() {
                s.retry_waiting(false);
            }
        }));
    }

    /// Queues pods waiting on volumes, and unschedulable pods once their
    /// back-off allows (all of them when `flush`).
    fn retry_waiting(&self, flush: bool) {
        let st = self.lock();
        for (key, a) in &st.assumed {
            if !a.posting {
                self.queue.add(key.clone());
            }
        }
        for (key, b) in &st.unschedulable {
            let delay = if flush { Duration::ZERO } else { b.remaining() };
            self.queue.add_after(key.clone(), delay);
        }
    }

    async fn sync(self: Arc<Self>, key: &PodKey) {
        let Some(pod) = self.caches.pods.get(&key.0, &key.1) else {
            return;
        };
        if !wants_node(&pod) {
            return;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let waiting = {
            let st = self.lock();
            st.assumed
                .get(key)
                .filter(|a| a.uid == uid)
                .map(|a| (a.posting, a.node.clone(), a.claims.clone(), a.since))
        };
        if let Some((posting, node, claims, since)) = waiting {
            if posting {
                return;
            }
            match self.volume_progress(&key.0, &node, &claims) {
                Progress::Ready => self.post_binding(&pod, &node),
                Progress::Waiting if since.elapsed() < BIND_TIMEOUT => {}
                Progress::Waiting => {
                    self.fail(
                        &pod,
                        "binding volumes: timed out waiting for the condition",
                        "SchedulerError",
                    )
                    .await
                }
                Progress::Failed(why) => self.fail(&pod, &why, "SchedulerError").await,
            }
            return;
        }
        let decision = self.decide(&pod);
        match decision {
            Decision::Unschedulable(message) => self.fail(&pod, &message, "Unschedulable").await,
            Decision::Preempt {
                node,
                victims,
                message,
            } => {
                self.preempt(&pod, &node, &victims).await;
                self.fail(&pod, &message, "Unschedulable").await;
            }
            Decision::Assign { node, volumes } => {
                if volumes == NodeVolumes::default() {
                    {
                        let mut st = self.lock();
                        st.ledger.assume(&pod, &node);
                        st.assumed.insert(
                            key.clone(),
                            Assumed {
                                uid,
                                node: node.clone(),
                                claims: vec![],
                                reserved: vec![],
                                since: Instant::now(),
                                posting: true,
                            },
                        );
                    }
                    self.post_binding(&pod, &node);
                } else {
                    self.start_volume_work(&pod, &node, volumes).await;
                }
            }
        }
    }

    fn decide(&self, pod: &Pod) -> Decision {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let nodes: Vec<Arc<Node>> = self.caches.nodes.list();
        let node_refs: Vec<&Node> = nodes.iter().map(|n| n.as_ref()).collect();
        let claims: Vec<Arc<PersistentVolumeClaim>> = self.caches.claims.list_namespace(ns);
        let volumes: Vec<Arc<PersistentVolume>> = self.caches.volumes.list();
        let volume_refs: Vec<&PersistentVolume> = volumes.iter().map(|v| v.as_ref()).collect();
        let classes: Vec<Arc<StorageClass>> = self.caches.classes.list();
        let (reserved, usage) = {
            let st = self.lock();
            let reserved: HashSet<String> = st
                .assumed
                .values()
                .flat_map(|a| a.reserved.iter().cloned())
                .collect();
            (reserved, st.ledger.nodes().clone())
        };
        let storage = Storage {
            claims: claims
                .iter()
                .map(|c| (c.metadata.name.as_deref().unwrap_or(""), c.as_ref()))
                .collect(),
            volumes: &volume_refs,
            classes: classes
                .iter()
                .map(|c| (c.metadata.name.as_deref().unwrap_or(""), c.as_ref()))
                .collect(),
            reserved: &reserved,
        };
        let pods: Vec<Arc<Pod>> = self.caches.pods.list();
        let placed = self.placed(pod, &pods);
        let usage = with_nominated(pod, &pods, &placed, usage);
        let mut cluster = Cluster::new(
            &node_refs,
            placed.iter().map(|(p, n)| (p.as_ref(), n.as_str())),
        );
        cluster.namespace_labels = self
            .more
            .namespaces
            .list()
            .iter()
            .map(|n| {
                (
                    n.metadata.name.clone().unwrap_or_default(),
                    n.metadata.labels.clone().unwrap_or_default(),
                )
            })
            .collect();
        let services = self.more.services.list_namespace(ns);
        let sets = self.more.sets.list_namespace(ns);
        let service_selectors: Vec<_> = services
            .iter()
            .filter_map(|s| s.spec.as_ref().and_then(|s| s.selector.as_ref()))
            .collect();
        let set_selectors: Vec<_> = sets
            .iter()
            .filter_map(|s| s.spec.as_ref().map(|s| &s.selector))
            .collect();
        cluster.default_spread = spread::default_selector(pod, &service_selectors, &set_selectors);
        cluster.budgets = self
            .more
            .budgets
            .list()
            .iter()
            .map(|b| Budget::of(b))
            .collect();
        decide::decide(pod, &node_refs, &storage, &usage, &cluster)
    }

    /// Every other pod that is bound (and not finished) or assumed on a
    /// node, with its node.
    fn placed(&self, pod: &Pod, pods: &[Arc<Pod>]) -> Vec<(Arc<Pod>, String)> {
        let st = self.lock();
        pods.iter()
            .filter(|p| p.metadata.uid != pod.metadata.uid)
            .filter_map(|p| {
                let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
                if matches!(phase, Some("Succeeded" | "Failed")) {
                    return None;
                }
                let bound = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .filter(|n| !n.is_empty());
                let node = bound.or_else(|| {
                    st.assumed
                        .get(&key_of(p))
                        .filter(|a| Some(&a.uid) == p.metadata.uid.as_ref())
                        .map(|a| a.node.clone())
                })?;
                Some((Arc::clone(p), node))
            })
            .collect()
    }

    /// Carries out a preemption: the pod is nominated to `node`; each
    /// victim gets the DisruptionTarget condition, a `Preempted` event and
    /// a graceful delete.
    async fn preempt(&self, pod: &Pod, node: &str, victims: &[Victim]) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let scheduler = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_SCHEDULER);
        for v in victims {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &v.namespace);
            let condition = serde_json::json!({"status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": format!("{scheduler}: preempting to accommodate a higher priority pod"),
                "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    jiff::Timestamp::now(),
                ),
            }]}});
            if let Err(e) = api
                .patch_status(
                    &v.name,
                    &PatchParams::default(),
                    &Patch::Strategic(condition),
                )
                .await
            {
                tracing::debug!(error = %e, pod = %v.name, "scheduler: marking a victim failed");
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(v.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&v.name, &params).await {
                Ok(_) => {}
                Err(e) if is_conflict_or_gone(&e) => {}
                Err(e) => {
                    tracing::warn!(error = %e, pod = %v.name, "scheduler: preempting a pod failed");
                    continue;
                }
            }
            let victim_ref = ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(v.namespace.clone()),
                name: Some(v.name.clone()),
                uid: Some(v.uid.clone()),
                ..Default::default()
            };
            self.recorder.normal(
                &victim_ref,
                "Preempted",
                format!("Preempted by pod {uid} on node {node}"),
            );
        }
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or(""),
        );
        let patch = serde_json::json!({"status": {"nominatedNodeName": node}});
        if let Err(e) = api
            .patch_status(
                pod.metadata.name.as_deref().unwrap_or(""),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
        {
            tracing::debug!(error = %e, "scheduler: nominating the pod failed");
        }
    }

    /// Writes a decision's volume work and assumes the pod on the node.
    async fn start_volume_work(&self, pod: &Pod, node: &str, volumes: NodeVolumes) {
        let key = key_of(pod);
        let ns = key.0.clone();
        // Reserve first, so no other decision takes these volumes (or
        // this room on the node) while the writes are under way.
        {
            let mut st = self.lock();
            st.ledger.assume(pod, node);
            st.assumed.insert(
                key.clone(),
                Assumed {
                    uid: pod.metadata.uid.clone().unwrap_or_default(),
                    node: node.to_string(),
                    claims: volumes
                        .bindings
                        .iter()
                        .map(|(_, c)| (c.clone(), false))
                        .chain(volumes.provisions.iter().map(|c| (c.clone(), true)))
                        .collect(),
                    reserved: volumes.bindings.iter().map(|(v, _)| v.clone()).collect(),
                    since: Instant::now(),
                    posting: false,
                },
            );
        }
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        for (volume, claim) in &volumes.bindings {
            let (Some(v), Some(c)) = (
                self.caches.volumes.get("", volume),
                self.caches.claims.get(&ns, claim),
            ) else {
                return self
                    .fail(
                        pod,
                        "binding volumes: a volume or claim disappeared",
                        "SchedulerError",
                    )
                    .await;
            };
            let mut v = (*v).clone();
            v.spec.get_or_insert_default().claim_ref = Some(reference(c.as_ref()));
            v.metadata
                .annotations
                .get_or_insert_default()
                .entry(ANN_BOUND_BY_CONTROLLER.into())
                .or_insert_with(|| "yes".into());
            match self.caches.volumes.replace(&pvs, &v).await {
                Ok(_) => {}
                Err(e) => {
                    return self
                        .fail(
                            pod,
                            &format!(
                                "running PreBind plugin \"VolumeBinding\": binding volumes: {e}"
                            ),
                            "SchedulerError",
                        )
                        .await;
                }
            }
        }
        for claim in &volumes.provisions {
            let Some(c) = self.caches.claims.get(&ns, claim) else {
                return self
                    .fail(
                        pod,
                        "binding volumes: a claim disappeared",
                        "SchedulerError",
                    )
                    .await;
            };
            if crate::volumes::annotation(&c.metadata, ANN_SELECTED_NODE) == Some(node) {
                continue;
            }
            let mut c = (*c).clone();
            c.metadata
                .annotations
                .get_or_insert_default()
                .insert(ANN_SELECTED_NODE.into(), node.into());
            match self.caches.claims.replace(&pvcs, &c).await {
                Ok(_) => {}
                Err(e) => {
                    return self
                        .fail(
                            pod,
                            &format!(
                                "running PreBind plugin \"VolumeBinding\": binding volumes: {e}"
                            ),
                            "SchedulerError",
                        )
                        .await;
                }
            }
        }
        self.queue.add(key);
    }

    fn volume_progress(&self, ns: &str, node: &str, claims: &[(String, bool)]) -> Progress {
        let Some(node_obj) = self.caches.nodes.get("", node) else {
            return Progress::Failed(format!("binding volumes: failed to get node \"{node}\""));
        };
        let mut ready = true;
        for (name, provisioned) in claims {
            let Some(claim) = self.caches.claims.get(ns, name) else {
                return Progress::Failed(format!(
                    "binding volumes: failed to check binding: claim \"{ns}/{name}\" not found"
                ));
            };
            if *provisioned
                && crate::volumes::annotation(&claim.metadata, ANN_SELECTED_NODE) != Some(node)
            {
                return Progress::Failed(format!(
                    "running PreBind plugin \"VolumeBinding\": binding volumes: provisioning failed for PVC \"{name}\""
                ));
            }
            if !fully_bound(&claim) {
                ready = false;
                continue;
            }
            let volume = claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .unwrap_or("");
            match self.caches.volumes.get("", volume) {
                None => ready = false,
                Some(v) if !crate::volumes::matching::node_affinity_fits(&v, &node_obj) => {
                    return Progress::Failed(format!(
                        "running PreBind plugin \"VolumeBinding\": binding volumes: pv \"{volume}\" node affinity doesn't match node \"{node}\": no matching NodeSelectorTerms"
                    ));
                }
                Some(_) => {}
            }
        }
        if ready {
            Progress::Ready
        } else {
            Progress::Waiting
        }
    }

    /// Posts the binding beside the scheduling loop.
    fn post_binding(self: &Arc<Self>, pod: &Pod, node: &str) {
        let key = key_of(pod);
        if let Some(a) = self.lock().assumed.get_mut(&key) {
            a.posting = true;
        }
        let s = Arc::clone(self);
        let pod = pod.clone();
        let node = node.to_string();
        tokio::spawn(async move {
            let Ok(_permit) = Arc::clone(&s.posting).acquire_owned().await else {
                return;
            };
            let binding = Binding {
                metadata: ObjectMeta {
                    name: pod.metadata.name.clone(),
                    namespace: pod.metadata.namespace.clone(),
                    uid: pod.metadata.uid.clone(),
                    ..Default::default()
                },
                target: ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Node".into()),
                    name: Some(node.clone()),
                    ..Default::default()
                },
            };
            let api: Api<Pod> = Api::namespaced(s.client.clone(), &key.0);
            let posted: Result<serde_json::Value, _> = api
                .create_subresource("binding", &key.1, &PostParams::default(), &binding)
                .await;
            match posted {
                Ok(_) => {
                    s.lock().unschedulable.remove(&key);
                    s.recorder.normal(
                        &reference(&pod),
                        "Scheduled",
                        format!("Successfully assigned {}/{} to {node}", key.0, key.1),
                    );
                }
                Err(e) if is_conflict_or_gone(&e) => {
                    // Bound elsewhere, deleted, or being deleted.
                    s.lock().drop_assumed(&key);
                }
                Err(e) => {
                    s.fail(&pod, &format!("binding rejected: {e}"), "SchedulerError")
                        .await
                }
            }
        });
    }

    /// Records a failed attempt: the event, the condition, the back-off.
    async fn fail(&self, pod: &Pod, message: &str, reason: &str) {
        let key = key_of(pod);
        let delay = {
            let mut st = self.lock();
            st.drop_assumed(&key);
            let b = st.unschedulable.entry(key.clone()).or_insert(Backoff {
                attempts: 0,
                last: Instant::now(),
            });
            b.attempts = b.attempts.saturating_add(1);
            b.last = Instant::now();
            b.delay()
        };
        self.recorder
            .warning(&reference(pod), "FailedScheduling", message);
        self.set_unscheduled(pod, message, reason).await;
        self.queue.add_after(key, delay);
    }

    /// `PodScheduled=False`, unless the pod already says exactly that.
    async fn set_unscheduled(&self, pod: &Pod, message: &str, reason: &str) {
        let existing = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        if existing.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message)
        }) {
            return;
        }
        let since = match existing {
            Some(c) if c.status == "False" => c.last_transition_time.clone(),
            _ => None,
        }
        .unwrap_or(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        ));
        let patch = serde_json::json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": since,
        }]}});
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or(""),
        );
        if let Err(e) = api
            .patch_status(
                pod.metadata.name.as_deref().unwrap_or(""),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            tracing::debug!(error = %e, "scheduler: writing PodScheduled failed");
        }
    }
}

/// `usage` with the room of the pods nominated to a node by a preemption
/// (and not placed yet) whose priority is at least `pod`'s: upstream keeps
/// what a preemption freed for the pod it was for.
fn with_nominated(
    pod: &Pod,
    pods: &[Arc<Pod>],
    placed: &[(Arc<Pod>, String)],
    mut usage: HashMap<String, ordinal_core::fit::NodeUsage>,
) -> HashMap<String, ordinal_core::fit::NodeUsage> {
    let mine = preempt::priority(pod);
    for p in pods {
        if p.metadata.uid == pod.metadata.uid
            || !wants_node(p)
            || preempt::priority(p) < mine
            || placed.iter().any(|(q, _)| q.metadata.uid == p.metadata.uid)
        {
            continue;
        }
        if let Some(node) = p
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty())
        {
            usage
                .entry(node.to_string())
                .or_default()
                .add(&ordinal_core::fit::Footprint::of(p));
        }
    }
    usage
}

/// How far a pod's volume work has come.
enum Progress {
    Ready,
    Waiting,
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_pods_the_scheduler_places() {
        let mut p = Pod {
            spec: Some(Default::default()),
            ..Default::default()
        };
        assert!(wants_node(&p));
        p.spec.as_mut().unwrap().scheduler_name = Some(DEFAULT_SCHEDULER.into());
        assert!(wants_node(&p));
        p.spec.as_mut().unwrap().scheduler_name = Some("my-scheduler".into());
        assert!(!wants_node(&p));
        p.spec.as_mut().unwrap().scheduler_name = None;
        p.spec.as_mut().unwrap().node_name = Some("n".into());
        assert!(!wants_node(&p));
        p.spec.as_mut().unwrap().node_name = None;
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        assert!(!wants_node(&p));
    }

    #[test]
    fn room_freed_by_a_preemption_is_kept_for_its_pod() {
        let pod = |name: &str, priority: i32, nominated: Option<&str>| -> Arc<Pod> {
            Arc::new(
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name, "namespace": "default", "uid": name},
                    "spec": {"priority": priority, "containers": [{"name": "c",
                        "resources": {"requests": {"cpu": "2"}}}]},
                    "status": {"nominatedNodeName": nominated},
                }))
                .unwrap(),
            )
        };
        let urgent = pod("urgent", 100, Some("a"));
        let pods = vec![Arc::clone(&urgent), pod("plain", 0, None)];
        // A pod of lower priority sees the nominated pod's room taken.
        let usage = with_nominated(&pod("late", 0, None), &pods, &[], HashMap::new());
        assert_eq!(usage["a"].requested.milli_cpu, 2000);
        assert_eq!(usage.len(), 1);
        // One of higher priority does not, nor does the nominated pod.
        assert!(with_nominated(&pod("vip", 1000, None), &pods, &[], HashMap::new()).is_empty());
        assert!(with_nominated(&urgent, &pods, &[], HashMap::new()).is_empty());
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let b = |attempts| Backoff {
            attempts,
            last: Instant::now(),
        };
        assert_eq!(b(1).delay(), Duration::from_secs(1));
        assert_eq!(b(2).delay(), Duration::from_secs(2));
        assert_eq!(b(4).delay(), Duration::from_secs(8));
        assert_eq!(b(5).delay(), Duration::from_secs(10));
        assert_eq!(b(50).delay(), Duration::from_secs(10));
    }
}
