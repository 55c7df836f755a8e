//! Watch-fed object caches shared by the scheduler and the volume
//! controllers, in the manner of client-go's shared informers plus the PV
//! controller's own caches:
//!
//! - one list-and-watch per resource feeds a map of the current objects;
//! - handlers registered before the watch starts hear of every change
//!   (old and new object), and map it to work-queue keys;
//! - a controller also stores the object an API write answered with
//!   ([`Informer::store`]), so its next decision does not act on the state
//!   it has just replaced. The newest `resourceVersion` wins, so a late
//!   watch event never rolls a cache back, and an object whose deletion was
//!   seen is not brought back by a late write response.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type ObjectKey = (String, String);

/// Called with the old and the new state of a changed object (`None`
/// before a creation and after a deletion). Runs on the watch task: it
/// must only queue work.
pub type Handler<K> = Box<dyn Fn(Option<&Arc<K>>, Option<&Arc<K>>) + Send + Sync>;

/// How many deletions are remembered to reject late write responses.
const TOMBSTONES: usize = 10_000;

/// An object an informer can cache.
pub trait Cached:
    kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Cached for K where
    K: kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static
{
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

struct State<K> {
    objects: BTreeMap<ObjectKey, Arc<K>>,
    /// Deletions seen, with the version they were seen at.
    tombstones: HashMap<ObjectKey, u64>,
}

/// A cache of one resource.
pub struct Informer<K> {
    state: RwLock<State<K>>,
    handlers: Mutex<Vec<Arc<Handler<K>>>>,
    synced: tokio::sync::watch::Sender<bool>,
    /// Drop `metadata.managedFields` (for caches never written back whole).
    lean: bool,
}

impl<K: Cached> Informer<K> {
    /// A cache that keeps objects whole, for objects the controllers
    /// replace with PUT.
    pub fn new() -> Arc<Self> {
        Self::with(false)
    }

    /// A cache that drops managedFields: smaller, for objects only read or
    /// patched.
    pub fn lean() -> Arc<Self> {
        Self::with(true)
    }

    fn with(lean: bool) -> Arc<Self> {
        Arc::new(Informer {
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                tombstones: HashMap::new(),
            }),
            handlers: Mutex::new(Vec::new()),
            synced: tokio::sync::watch::channel(false).0,
            lean,
        })
    }

    /// Registers a handler for every later change.
    pub fn on_change(&self, handler: Handler<K>) {
        self.lock_handlers().push(Arc::new(handler));
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
    pub fn store(&self, mut obj: K) {
        if self.lean {
            obj.meta_mut().managed_fields = None;
        }
        let key = key_of(&obj);
        let v = version(&obj);
        let (old, new) = {
            let mut s = self.write();
            if let (Some(v), Some(gone)) = (v, s.tombstones.get(&key))
                && v <= *gone
            {
                return;
            }
            let old = s.objects.get(&key).cloned();
            if let (Some(o), Some(v)) = (&old, v)
                && version(o.as_ref()).is_some_and(|ov| ov >= v)
            {
                return;
            }
            let new = Arc::new(obj);
            s.objects.insert(key, Arc::clone(&new));
            (old, new)
        };
        self.notify(old.as_ref(), Some(&new));
    }

    fn apply(&self, obj: K) {
        self.store(obj);
    }

    fn remove(&self, obj: &K) {
        let key = key_of(obj);
        let old = {
            let mut s = self.write();
            if s.tombstones.len() >= TOMBSTONES {
                s.tombstones.clear();
            }
            if let Some(v) = version(obj) {
                s.tombstones.insert(key.clone(), v);
            }
            s.objects.remove(&key)
        };
        if let Some(old) = old {
            self.notify(Some(&old), None);
        }
    }

    /// Replaces the whole content after a (re)list: objects the list did
    /// not return are gone.
    fn replace(&self, listed: Vec<K>) {
        let keys: std::collections::HashSet<ObjectKey> = listed.iter().map(key_of).collect();
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
        for obj in listed {
            self.apply(obj);
        }
    }

    /// Lists and watches `api` into the cache until the task is dropped.
    pub async fn run(self: Arc<Self>, api: Api<K>) {
        let stream = crate::tolerant::watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        let mut listing: Vec<K> = Vec::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(obj)) => self.apply(obj),
                Ok(Event::Delete(obj)) => self.remove(&obj),
                Ok(Event::Init) => listing.clear(),
                Ok(Event::InitApply(obj)) => listing.push(obj),
                Ok(Event::InitDone) => {
                    self.replace(std::mem::take(&mut listing));
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
        c
    }

    #[test]
    fn newest_version_wins_and_deletions_stick() {
        let inf = Informer::<ConfigMap>::new();
        let changes = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&changes);
        inf.on_change(Box::new(move |_, _| {
            c.fetch_add(1, Ordering::Relaxed);
        }));
        inf.store(cm("a", "5"));
        inf.apply(cm("a", "4"));
        assert_eq!(
            inf.get("default", "a")
                .unwrap()
                .metadata
                .resource_version
                .as_deref(),
            Some("5")
        );
        inf.apply(cm("a", "6"));
        inf.remove(&cm("a", "7"));
        inf.store(cm("a", "6"));
        assert!(inf.get("default", "a").is_none());
        assert_eq!(changes.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_relist_drops_what_it_did_not_return() {
        let inf = Informer::<ConfigMap>::new();
        inf.apply(cm("a", "1"));
        inf.apply(cm("b", "2"));
        inf.replace(vec![cm("b", "3"), cm("c", "4")]);
        let names: Vec<_> = inf
            .list_namespace("default")
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["b", "c"]);
        assert!(inf.list_namespace("other").is_empty());
    }
}
