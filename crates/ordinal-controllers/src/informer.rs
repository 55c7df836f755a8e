//! Shared informers: one list-and-watch and one cache per resource for all
//! the controllers of a process, in the manner of client-go's
//! `SharedInformerFactory`.
//!
//! - [`Informers::get`] hands every controller the same [`Informer`] of a
//!   type, starting its watch the first time it is asked for; the caches
//!   drop `metadata.managedFields` once, as they store (no controller reads
//!   them, and an update without them keeps the stored ones).
//! - Handlers ([`Informer::on_change`]) hear of every change, old and new
//!   object, and map it to work-queue keys. A handler registered after the
//!   cache has filled first hears of every object it holds, as a creation
//!   (client-go's synthetic adds), so the order in which controllers start
//!   does not matter.
//! - Stale caches, one strategy for all controllers: a controller writes
//!   the answer of each of its API writes back into the cache
//!   ([`Informer::store`], [`Informer::written`],
//!   [`Informer::delete_answered`]), as upstream's PV
//!   controller does, so its next decision never acts on the state it has
//!   just replaced. Handlers hear of a change only from the watch, on its
//!   task (as client-go's handlers do), never on the writer's: a write-back
//!   changes the cache quietly, and the watch's event of it (or of a later
//!   state) is announced with the state the handlers heard of last. The
//!   newest `resourceVersion` wins, so a late watch event never rolls a
//!   cache back, and an object whose deletion was seen
//!   (or written) is not brought back by a late event or answer. Changes
//!   made by others may still reach a decision late; the API server's
//!   preconditions (UIDs on deletes, resourceVersions on updates,
//!   AlreadyExists on creates) cover those.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use futures::future::BoxFuture;
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

use crate::queue::Queue;

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type ObjectKey = (String, String);

/// Called with the old and the new state of a changed object (`None`
/// before a creation and after a deletion). Runs on the watch task: it
/// must only queue work and read caches, never write one.
pub type Handler<K> = Box<dyn Fn(Option<&Arc<K>>, Option<&Arc<K>>) + Send + Sync>;

/// How many deletions are remembered to reject late events and answers.
const TOMBSTONES: usize = 10_000;

/// An object an informer can cache.
pub trait Cached:
    kube::Resource<DynamicType = ()>
    + Clone
    + Debug
    + DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + Debug
        + DeserializeOwned
        + serde::Serialize
        + Send
        + Sync
        + 'static
{
}

/// An informer whatever its type, for waiting on several ([`all_synced`]).
pub trait Syncing: Send + Sync {
    /// [`Informer::synced`].
    fn wait_synced(&self) -> BoxFuture<'_, ()>;
}

impl<K: Cached> Syncing for Informer<K> {
    fn wait_synced(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.synced())
    }
}

/// Completes once each of `caches` has listed (its future owns them: the
/// `ready` of [`crate::runtime::drive`] for a controller reading them).
pub async fn all_synced<const N: usize>(caches: [Arc<dyn Syncing>; N]) {
    for cache in &caches {
        cache.wait_synced().await;
    }
}

/// The key of an object.
pub fn key_of<K: kube::Resource>(obj: &K) -> ObjectKey {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn version<K: kube::Resource>(obj: &K) -> Option<u64> {
    obj.meta().resource_version.as_deref()?.parse().ok()
}

/// Whether the object a write was answered with is gone from the server:
/// being deleted, with no finalizer and no grace period left to hold it.
pub fn removed(meta: &kube::api::ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
        && meta.finalizers.as_ref().is_none_or(|f| f.is_empty())
        && meta.deletion_grace_period_seconds.unwrap_or(0) <= 0
}

/// The informers of one process, one per resource type.
pub struct Informers {
    client: kube::Client,
    caches: Mutex<HashMap<TypeId, Arc<dyn Shared>>>,
    watches: Mutex<tokio::task::JoinSet<()>>,
}

impl Informers {
    pub fn new(client: kube::Client) -> Arc<Informers> {
        Arc::new(Informers {
            client,
            caches: Mutex::new(HashMap::new()),
            watches: Mutex::new(tokio::task::JoinSet::new()),
        })
    }

    /// The client the watches use, for the controllers' writes.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The shared informer of `K`, cluster-wide; its watch starts with the
    /// first call (which must be within a Tokio runtime).
    pub fn get<K: Cached>(&self) -> Arc<Informer<K>> {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = caches.get(&TypeId::of::<K>())
            && let Ok(informer) = Arc::clone(found).as_any().downcast::<Informer<K>>()
        {
            return informer;
        }
        let informer = Informer::<K>::new();
        caches.insert(TypeId::of::<K>(), Arc::clone(&informer) as _);
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spawn(Arc::clone(&informer).run(Api::all(self.client.clone())));
        informer
    }

    /// Stops every watch, and lets go of every handler (handlers hold
    /// other informers).
    pub async fn stop(&self) {
        let caches: Vec<_> = self
            .caches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(Arc::clone)
            .collect();
        for informer in caches {
            informer.forget_handlers();
        }
        let mut watches =
            std::mem::take(&mut *self.watches.lock().unwrap_or_else(|p| p.into_inner()));
        watches.abort_all();
        while watches.join_next().await.is_some() {}
    }
}

/// What the factory does with an informer whatever its type.
trait Shared: Send + Sync {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn forget_handlers(&self);
}

impl<K: Cached> Shared for Informer<K> {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn forget_handlers(&self) {
        self.lock_handlers().clear();
    }
}

struct State<K> {
    objects: BTreeMap<ObjectKey, Arc<K>>,
    /// Deletions seen, with the version they were seen at.
    tombstones: HashMap<ObjectKey, u64>,
    /// UIDs a write of ours deleted before the watch said so: events for
    /// them are late and dropped until the watch's deletion (or a relist
    /// without them).
    deleted: HashSet<String>,
    /// Objects a write-back changed (or removed) that the watch has not
    /// shown yet, with the state the handlers heard of last (`None`: no
    /// object).
    unannounced: HashMap<ObjectKey, Option<Arc<K>>>,
}

/// A cache of one resource.
pub struct Informer<K> {
    state: RwLock<State<K>>,
    handlers: Mutex<Vec<Arc<Handler<K>>>>,
    /// Held across each change and its notification, and while a new
    /// handler catches up, so a handler hears every change once, in order.
    dispatch: Mutex<()>,
    synced: tokio::sync::watch::Sender<bool>,
}

impl<K: Cached> Informer<K> {
    /// An informer not yet fed; [`Informers::get`] gives the shared one.
    pub fn new() -> Arc<Self> {
        Arc::new(Informer {
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                tombstones: HashMap::new(),
                deleted: HashSet::new(),
                unannounced: HashMap::new(),
            }),
            handlers: Mutex::new(Vec::new()),
            dispatch: Mutex::new(()),
            synced: tokio::sync::watch::channel(false).0,
        })
    }

    /// Registers a handler for every later change; it first hears of every
    /// object already cached, as a creation.
    pub fn on_change(&self, handler: Handler<K>) {
        let _turn = self.turn();
        for obj in self.list() {
            handler(None, Some(&obj));
        }
        self.lock_handlers().push(Arc::new(handler));
    }

    fn turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.dispatch.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_handlers(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Handler<K>>>> {
        self.handlers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<K>> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<K>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self, old: Option<&Arc<K>>, new: Option<&Arc<K>>) {
        let handlers: Vec<_> = self.lock_handlers().clone();
        for h in handlers {
            h(old, new);
        }
    }

    /// Waits until the first list has been applied.
    pub async fn synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Queues the key ([`key_of`]) of each object a change concerns,
    /// before and after it: how a controller hears of its own resource.
    pub fn queue_keys(&self, queue: &Arc<Queue<ObjectKey>>) {
        let q = Arc::clone(queue);
        self.on_change(Box::new(move |old, new| {
            q.add_all(old.into_iter().chain(new).map(|o| key_of(o.as_ref())));
        }));
    }

    /// Queues the key of the controller of kind `O` (its controller
    /// reference, in its namespace) of each object a change concerns,
    /// before and after it: how a controller hears of what it owns.
    pub fn queue_controllers<O: kube::Resource<DynamicType = ()>>(
        &self,
        queue: &Arc<Queue<ObjectKey>>,
    ) {
        let q = Arc::clone(queue);
        self.on_change(Box::new(move |old, new| {
            for obj in old.into_iter().chain(new) {
                let meta = obj.meta();
                if let Some(owner) = crate::runtime::controller_of::<O>(meta) {
                    q.add((
                        meta.namespace.clone().unwrap_or_default(),
                        owner.name.clone(),
                    ));
                }
            }
        }));
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.read()
            .objects
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Every cached object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().objects.values().cloned().collect()
    }

    /// The cached objects of one namespace.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let start = (namespace.to_string(), String::new());
        self.read()
            .objects
            .range(start..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|(_, o)| Arc::clone(o))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores the object a write of ours was answered with, unless the
    /// cache already holds a newer state (or saw the object deleted).
    /// Handlers hear of it when the watch shows it.
    pub fn store(&self, obj: K) {
        let _turn = self.turn();
        self.put(obj, false);
    }

    /// Applies what the watch showed, and tells the handlers.
    fn seen(&self, obj: K) {
        let _turn = self.turn();
        self.put(obj, true);
    }

    /// Stores `obj` unless the cache holds it or a newer state; `watched`
    /// (it comes from the watch) announces the change, or the write-back
    /// of it that came first.
    fn put(&self, mut obj: K, watched: bool) {
        obj.meta_mut().managed_fields = None;
        let key = key_of(&obj);
        let v = version(&obj);
        let (heard, now) = {
            let mut s = self.write();
            if let (Some(v), Some(gone)) = (v, s.tombstones.get(&key))
                && v <= *gone
            {
                return;
            }
            if let Some(uid) = obj.meta().uid.as_deref()
                && s.deleted.contains(uid)
            {
                return;
            }
            let cached = s.objects.get(&key).cloned();
            if let (Some(o), Some(v)) = (&cached, v)
                && version(o.as_ref()).is_some_and(|ov| ov >= v)
            {
                // Written back already: the watch's word announces it.
                match (watched, s.unannounced.remove(&key)) {
                    (true, Some(heard)) => (heard, cached),
                    (false, Some(heard)) => {
                        s.unannounced.insert(key, heard);
                        return;
                    }
                    (_, None) => return,
                }
            } else {
                let new = Arc::new(obj);
                s.objects.insert(key.clone(), Arc::clone(&new));
                if watched {
                    (s.unannounced.remove(&key).unwrap_or(cached), Some(new))
                } else {
                    s.unannounced.entry(key).or_insert(cached);
                    return;
                }
            }
        };
        self.notify(heard.as_ref(), now.as_ref());
    }

    /// Stores the object a write of ours was answered with; when the
    /// answer shows the write removed it (an update that took the last
    /// finalizer of an object being deleted, a delete with no grace
    /// period), it goes from the cache instead.
    pub fn written(&self, obj: K) {
        let meta = obj.meta();
        if removed(meta) {
            let (ns, name) = key_of(&obj);
            self.deleted(&ns, &name, meta.uid.as_deref().unwrap_or_default());
        } else {
            self.store(obj);
        }
    }

    /// Replaces `obj` (its main resource) through `api` and stores the
    /// answer: a write through the cache.
    pub async fn replace(&self, api: &Api<K>, obj: &K) -> kube::Result<K> {
        let name = obj.meta().name.as_deref().unwrap_or_default();
        let written = api.replace(name, &PostParams::default(), obj).await?;
        self.written(written.clone());
        Ok(written)
    }

    /// Replaces `obj`'s status through `api` and stores the answer.
    pub async fn replace_status(&self, api: &Api<K>, obj: &K) -> kube::Result<K> {
        let name = obj.meta().name.as_deref().unwrap_or_default();
        let written = api
            .replace_status(name, &PostParams::default(), obj)
            .await?;
        self.written(written.clone());
        Ok(written)
    }

    /// Writes back what a delete of ours of `namespace/name` (with `uid`)
    /// was answered with: an object still terminating (a grace period or
    /// finalizers to go) is stored; a removal — a Status, NotFound
    /// (`None`), or the state the object was removed in (no
    /// `deletionTimestamp`: its last stored one) — takes it out.
    pub fn delete_answered(&self, namespace: &str, name: &str, uid: &str, answer: Option<K>) {
        match answer {
            Some(obj) if obj.meta().deletion_timestamp.is_some() => self.written(obj),
            _ => self.deleted(namespace, name, uid),
        }
    }

    /// Records that a write of ours removed the object `namespace/name`
    /// with `uid`; handlers hear of it with the watch's deletion.
    fn deleted(&self, namespace: &str, name: &str, uid: &str) {
        let _turn = self.turn();
        let key = (namespace.to_string(), name.to_string());
        let mut s = self.write();
        if s.deleted.len() >= TOMBSTONES {
            s.deleted.clear();
        }
        s.deleted.insert(uid.to_string());
        if s.objects
            .get(&key)
            .is_some_and(|o| o.meta().uid.as_deref() == Some(uid))
        {
            let removed = s.objects.remove(&key);
            s.unannounced.entry(key).or_insert(removed);
        }
    }

    /// The watch's deletion of `obj` (or a relist without it).
    fn remove(&self, obj: &K) {
        let key = key_of(obj);
        let heard = {
            let mut s = self.write();
            if s.tombstones.len() >= TOMBSTONES {
                s.tombstones.clear();
            }
            if let Some(v) = version(obj) {
                s.tombstones.insert(key.clone(), v);
            }
            if let Some(uid) = obj.meta().uid.as_deref() {
                s.deleted.remove(uid);
            }
            let removed = s.objects.remove(&key);
            s.unannounced.remove(&key).unwrap_or(removed)
        };
        if let Some(heard) = heard {
            self.notify(Some(&heard), None);
        }
    }

    /// Replaces the whole content after a (re)list: objects the list did
    /// not return are gone.
    fn relisted(&self, listed: Vec<K>) {
        let keys: HashSet<ObjectKey> = listed.iter().map(key_of).collect();
        let gone: Vec<Arc<K>> = self
            .read()
            .objects
            .iter()
            .filter(|(k, _)| !keys.contains(*k))
            .map(|(_, o)| Arc::clone(o))
            .collect();
        for obj in gone {
            self.remove(&obj);
        }
        {
            // Deletions of ours the relist confirms are settled.
            let uids: HashSet<&str> = listed
                .iter()
                .filter_map(|o| o.meta().uid.as_deref())
                .collect();
            self.write()
                .deleted
                .retain(|uid| uids.contains(uid.as_str()));
        }
        // What a write-back of ours removed and the list confirms gone.
        let unlisted: Vec<Arc<K>> = self
            .write()
            .unannounced
            .extract_if(|k, _| !keys.contains(k))
            .filter_map(|(_, heard)| heard)
            .collect();
        for heard in unlisted {
            self.notify(Some(&heard), None);
        }
        for obj in listed {
            self.put(obj, true);
        }
    }

    /// Lists and watches `api` into the cache until the task is dropped.
    pub async fn run(self: Arc<Self>, api: Api<K>) {
        let stream = crate::tolerant::watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        let mut listing: Vec<K> = Vec::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(obj)) => self.seen(obj),
                Ok(Event::Delete(obj)) => {
                    let _turn = self.turn();
                    self.remove(&obj)
                }
                Ok(Event::Init) => listing.clear(),
                Ok(Event::InitApply(mut obj)) => {
                    obj.meta_mut().managed_fields = None;
                    listing.push(obj)
                }
                Ok(Event::InitDone) => {
                    {
                        let _turn = self.turn();
                        self.relisted(std::mem::take(&mut listing));
                    }
                    self.synced.send_replace(true);
                }
                Err(e) => {
                    tracing::debug!(error = %e, kind = %K::kind(&()), "informer: watch error")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cm(name: &str, rv: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("default".into());
        c.metadata.resource_version = Some(rv.into());
        c.metadata.uid = Some(format!("uid-{name}"));
        c
    }

    fn cached_version(inf: &Informer<ConfigMap>, name: &str) -> Option<String> {
        inf.get("default", name)?.metadata.resource_version.clone()
    }

    fn names(inf: &Informer<ConfigMap>) -> Vec<String> {
        inf.list()
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn a_late_handler_first_hears_of_what_is_cached() {
        let inf = Informer::<ConfigMap>::new();
        inf.seen(cm("a", "1"));
        inf.seen(cm("b", "2"));
        let heard = listen(&inf);
        inf.seen(cm("a", "3"));
        assert_eq!(*heard.lock().unwrap(), ["-→1", "-→2", "1→3"]);
    }

    #[test]
    fn a_deletion_we_wrote_holds_until_the_watch_confirms_it() {
        let inf = Informer::<ConfigMap>::new();
        inf.store(cm("a", "1"));
        inf.deleted("default", "a", "uid-a");
        assert!(inf.get("default", "a").is_none());
        // A late event of the object before its deletion does not bring it
        // back.
        inf.store(cm("a", "2"));
        assert!(inf.get("default", "a").is_none());
        // The watch's deletion settles it; a new object of the name (a new
        // UID) is cached again.
        inf.remove(&cm("a", "3"));
        let mut again = cm("a", "4");
        again.metadata.uid = Some("uid-a2".into());
        inf.store(again);
        assert_eq!(names(&inf), ["a"]);
        // A deletion that names another UID leaves the cached object be.
        inf.deleted("default", "a", "uid-a");
        assert_eq!(names(&inf), ["a"]);
    }

    #[test]
    fn a_delete_answer_keeps_what_still_terminates_and_drops_what_went() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let inf = Informer::<ConfigMap>::new();
        inf.store(cm("a", "1"));
        inf.store(cm("b", "1"));
        // Held by a finalizer: stored as terminating.
        let mut held = cm("a", "2");
        held.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
        held.metadata.finalizers = Some(vec!["x".into()]);
        inf.delete_answered("default", "a", "uid-a", Some(held));
        assert!(
            inf.get("default", "a")
                .unwrap()
                .metadata
                .deletion_timestamp
                .is_some()
        );
        // Answered with the state it was removed in: gone.
        inf.delete_answered("default", "b", "uid-b", Some(cm("b", "1")));
        assert_eq!(names(&inf), ["a"]);
        // Answered with a Status: gone.
        inf.delete_answered("default", "a", "uid-a", None);
        assert!(inf.is_empty());
    }

    /// What the handlers heard, as `old version → new version`.
    fn listen(inf: &Informer<ConfigMap>) -> Arc<Mutex<Vec<String>>> {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = Arc::clone(&heard);
        let v = |c: Option<&Arc<ConfigMap>>| match c {
            Some(c) => c.metadata.resource_version.clone().unwrap(),
            None => "-".to_string(),
        };
        inf.on_change(Box::new(move |old, new| {
            h.lock().unwrap().push(format!("{}→{}", v(old), v(new)));
        }));
        heard
    }

    #[test]
    fn write_backs_are_announced_once_by_the_watch() {
        let inf = Informer::<ConfigMap>::new();
        let heard = listen(&inf);
        // Our create and two updates: cached at once, heard of nothing.
        inf.store(cm("a", "1"));
        inf.store(cm("a", "2"));
        inf.store(cm("a", "3"));
        assert_eq!(cached_version(&inf, "a").as_deref(), Some("3"));
        assert!(heard.lock().unwrap().is_empty());
        // The watch shows the first state: the handlers hear of the newest,
        // once, from the state they knew (none).
        inf.seen(cm("a", "1"));
        inf.seen(cm("a", "2"));
        inf.seen(cm("a", "3"));
        assert_eq!(*heard.lock().unwrap(), ["-→3"]);
        // The watch shows a change of someone else's: heard as usual.
        inf.seen(cm("a", "4"));
        // Our delete: gone from the cache at once, heard of with the
        // watch's deletion, from the state heard of last.
        inf.deleted("default", "a", "uid-a");
        assert!(inf.get("default", "a").is_none());
        inf.seen(cm("a", "4"));
        inf.remove(&cm("a", "5"));
        assert_eq!(*heard.lock().unwrap(), ["-→3", "3→4", "4→-"]);
    }

    #[test]
    fn a_relist_announces_what_only_our_writes_had_shown() {
        let inf = Informer::<ConfigMap>::new();
        inf.seen(cm("a", "1"));
        inf.seen(cm("b", "1"));
        let heard = listen(&inf);
        heard.lock().unwrap().clear();
        inf.store(cm("a", "2"));
        inf.deleted("default", "b", "uid-b");
        inf.store(cm("c", "3"));
        // The watch broke; the relist shows a at 2, c at 3, b gone.
        inf.relisted(vec![cm("a", "2"), cm("c", "3")]);
        let mut got = heard.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, ["-→3", "1→-", "1→2"]);
        assert_eq!(names(&inf), ["a", "c"]);
    }

    #[test]
    fn managed_fields_are_not_kept() {
        let inf = Informer::<ConfigMap>::new();
        let mut c = cm("a", "1");
        c.metadata.managed_fields = Some(vec![Default::default()]);
        inf.store(c);
        assert!(
            inf.get("default", "a")
                .unwrap()
                .metadata
                .managed_fields
                .is_none()
        );
    }

    #[test]
    fn newest_version_wins_and_deletions_stick() {
        let inf = Informer::<ConfigMap>::new();
        let changes = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&changes);
        inf.on_change(Box::new(move |_, _| {
            c.fetch_add(1, Ordering::Relaxed);
        }));
        inf.seen(cm("a", "5"));
        inf.seen(cm("a", "4"));
        assert_eq!(cached_version(&inf, "a").as_deref(), Some("5"));
        inf.seen(cm("a", "6"));
        inf.remove(&cm("a", "7"));
        inf.seen(cm("a", "6"));
        assert!(inf.get("default", "a").is_none());
        assert_eq!(changes.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_relist_drops_what_it_did_not_return() {
        let inf = Informer::<ConfigMap>::new();
        inf.store(cm("a", "1"));
        inf.store(cm("b", "2"));
        inf.relisted(vec![cm("b", "3"), cm("c", "4")]);
        let names: Vec<_> = inf
            .list_namespace("default")
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["b", "c"]);
        assert!(inf.list_namespace("other").is_empty());
    }
}
