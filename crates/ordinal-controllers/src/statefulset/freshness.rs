//! Waiting for the caches to catch up with the controller's own writes.
//!
//! The driver plans from watch caches, which lag the API server. Planning
//! from a cache that has not yet seen the controller's last writes would
//! repeat them: create a pod that already exists (harmless, the server says
//! AlreadyExists, but noisy), or delete again what is already going. So after
//! every successful write the driver records what the cache of that resource
//! must have seen before the set is planned again, and a set with
//! outstanding writes is parked until its caches have caught up.
//!
//! What "seen" means: a watch of one resource delivers its events in
//! resourceVersion order, so once the cache has applied an event at version
//! `v`, it reflects every write of that resource at or before `v`. Each
//! resource's cache keeps the highest version applied (its *watermark*), and
//! a write answered at version `w` is reflected once the watermark reaches
//! `w`. A delete answered without an object (or NotFound) instead waits until
//! the object's UID has left the cache. This reads resourceVersions as
//! integers, which both ordinal and etcd-backed servers use; a version that
//! is not an integer is not waited for.
//!
//! Waits expire after [`EXPIRY`] (a watch may relist and skip an event the
//! driver waits for), after which the set is planned anyway: the API
//! server's preconditions (UIDs on deletes, AlreadyExists on creates,
//! resourceVersions on updates) keep even a stale plan from doing harm.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a write is waited for before the set is planned regardless.
pub(crate) const EXPIRY: Duration = Duration::from_secs(30);

/// The caches the driver keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Resource {
    Set,
    Pod,
    Claim,
    Revision,
}

impl Resource {
    fn index(self) -> usize {
        match self {
            Resource::Set => 0,
            Resource::Pod => 1,
            Resource::Claim => 2,
            Resource::Revision => 3,
        }
    }
}

/// One thing a set waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wait {
    /// The resource's watermark reaching this version.
    Version(Resource, u64),
    /// This UID leaving the resource's cache.
    Gone(Resource, String),
}

#[derive(Debug)]
struct Inner<K> {
    watermarks: [u64; 4],
    pending: HashMap<K, Vec<(Wait, Instant)>>,
    /// Keys that found their waits outstanding and want a wake-up.
    parked: HashSet<K>,
}

/// Per-key waits on the caches' progress.
#[derive(Debug)]
pub(crate) struct Freshness<K> {
    inner: Mutex<Inner<K>>,
}

/// Parses a resourceVersion; `None` when it is not an integer.
pub(crate) fn version(resource_version: Option<&str>) -> Option<u64> {
    resource_version?.parse().ok()
}

impl<K: Hash + Eq + Clone> Freshness<K> {
    pub(crate) fn new() -> Self {
        Freshness {
            inner: Mutex::new(Inner {
                watermarks: [0; 4],
                pending: HashMap::new(),
                parked: HashSet::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cache of `resource` applied an object at `resource_version`.
    /// Returns the parked keys that have nothing left to wait for.
    pub(crate) fn observe(&self, resource: Resource, resource_version: Option<&str>) -> Vec<K> {
        let Some(v) = version(resource_version) else {
            return Vec::new();
        };
        let mut inner = self.lock();
        let mark = &mut inner.watermarks[resource.index()];
        if v <= *mark {
            return Vec::new();
        }
        *mark = v;
        let marks = inner.watermarks;
        inner.settle(|wait, _| match wait {
            Wait::Version(r, w) => marks[r.index()] >= *w,
            Wait::Gone(..) => false,
        })
    }

    /// The cache of `resource` dropped the object with `uid`. Returns the
    /// parked keys that have nothing left to wait for.
    pub(crate) fn observe_gone(&self, resource: Resource, uid: &str) -> Vec<K> {
        self.lock().settle(|wait, _| match wait {
            Wait::Gone(r, u) => *r == resource && u == uid,
            Wait::Version(..) => false,
        })
    }

    /// After a relist of `resource`'s cache: UID waits whose object the
    /// cache no longer holds (`cached` says) are settled. Returns the parked
    /// keys left with nothing to wait for.
    pub(crate) fn settle_gone(&self, resource: Resource, cached: impl Fn(&str) -> bool) -> Vec<K> {
        self.lock().settle(|wait, _| match wait {
            Wait::Gone(r, uid) => *r == resource && !cached(uid),
            Wait::Version(..) => false,
        })
    }

    /// `key` wrote `resource` and was answered at `resource_version`.
    pub(crate) fn expect(&self, key: &K, resource: Resource, resource_version: Option<&str>) {
        let Some(v) = version(resource_version) else {
            return;
        };
        let mut inner = self.lock();
        if inner.watermarks[resource.index()] >= v {
            return;
        }
        inner
            .pending
            .entry(key.clone())
            .or_default()
            .push((Wait::Version(resource, v), Instant::now()));
    }

    /// `key` deleted the object with `uid` of `resource` and was not told at
    /// which version. `cached` says whether the cache still holds it; it is
    /// asked under the lock that [`Freshness::observe_gone`] takes, so a
    /// removal is never missed between the two.
    pub(crate) fn expect_gone(
        &self,
        key: &K,
        resource: Resource,
        uid: &str,
        cached: impl FnOnce() -> bool,
    ) {
        let mut inner = self.lock();
        if !cached() {
            return;
        }
        inner
            .pending
            .entry(key.clone())
            .or_default()
            .push((Wait::Gone(resource, uid.to_string()), Instant::now()));
    }

    /// Whether `key` may be planned now. When not, the key is parked and
    /// returned by a later `observe*` or [`Freshness::expire`] call.
    pub(crate) fn ready_or_park(&self, key: &K) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        let marks = inner.watermarks;
        let settled = match inner.pending.get_mut(key) {
            None => true,
            Some(waits) => {
                waits.retain(|(wait, since)| {
                    now.duration_since(*since) < EXPIRY
                        && match wait {
                            Wait::Version(r, v) => marks[r.index()] < *v,
                            Wait::Gone(..) => true,
                        }
                });
                waits.is_empty()
            }
        };
        if settled {
            inner.pending.remove(key);
            inner.parked.remove(key);
        } else {
            inner.parked.insert(key.clone());
        }
        settled
    }

    /// Drops waits older than [`EXPIRY`]; returns the parked keys left with
    /// nothing to wait for.
    pub(crate) fn expire(&self) -> Vec<K> {
        let now = Instant::now();
        self.lock()
            .settle(|_, since| now.duration_since(since) >= EXPIRY)
    }

    /// Forgets `key` (its set is gone).
    pub(crate) fn forget(&self, key: &K) {
        let mut inner = self.lock();
        inner.pending.remove(key);
        inner.parked.remove(key);
    }

    /// Whether anything is outstanding for `key`.
    #[cfg(test)]
    pub(crate) fn waiting(&self, key: &K) -> bool {
        self.lock().pending.get(key).is_some_and(|w| !w.is_empty())
    }

    /// The watermark of `resource`.
    #[cfg(test)]
    pub(crate) fn watermark(&self, resource: Resource) -> u64 {
        self.lock().watermarks[resource.index()]
    }
}

impl<K: Hash + Eq + Clone> Inner<K> {
    /// Removes the waits `done` accepts (given the wait and when it
    /// started); returns the parked keys left with none.
    fn settle(&mut self, mut done: impl FnMut(&Wait, Instant) -> bool) -> Vec<K> {
        let mut woken = Vec::new();
        self.pending.retain(|key, waits| {
            waits.retain(|(wait, since)| !done(wait, *since));
            if waits.is_empty() {
                if self.parked.remove(key) {
                    woken.push(key.clone());
                }
                false
            } else {
                true
            }
        });
        woken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_waited_for_until_the_cache_reaches_its_version() {
        let f = Freshness::new();
        f.observe(Resource::Pod, Some("10"));
        f.expect(&"web", Resource::Pod, Some("12"));
        assert!(
            !f.ready_or_park(&"web"),
            "the cache is at 10, the write at 12"
        );
        // Another resource's progress does not count.
        assert!(f.observe(Resource::Claim, Some("20")).is_empty());
        assert!(f.observe(Resource::Pod, Some("11")).is_empty());
        assert_eq!(f.observe(Resource::Pod, Some("12")), vec!["web"]);
        assert!(f.ready_or_park(&"web"));
        // Versions never go back.
        f.observe(Resource::Pod, Some("5"));
        assert_eq!(f.watermark(Resource::Pod), 12);
    }

    #[test]
    fn writes_already_seen_or_without_versions_are_not_waited_for() {
        let f = Freshness::new();
        f.observe(Resource::Set, Some("7"));
        f.expect(&"web", Resource::Set, Some("7"));
        f.expect(&"web", Resource::Pod, Some("opaque"));
        f.expect(&"web", Resource::Pod, None);
        assert!(!f.waiting(&"web"));
        assert!(f.ready_or_park(&"web"));
    }

    #[test]
    fn only_parked_keys_are_woken_and_only_when_everything_arrived() {
        let f = Freshness::new();
        f.expect(&"a", Resource::Pod, Some("3"));
        f.expect(&"a", Resource::Claim, Some("4"));
        f.expect(&"b", Resource::Pod, Some("3"));
        assert!(!f.ready_or_park(&"a"));
        // b never asked: its waits are settled silently.
        assert!(f.observe(Resource::Pod, Some("3")).is_empty());
        assert!(!f.waiting(&"b"));
        assert_eq!(f.observe(Resource::Claim, Some("9")), vec!["a"]);
    }

    #[test]
    fn a_delete_without_a_version_waits_for_the_uid_to_leave_the_cache() {
        let f = Freshness::new();
        f.expect_gone(&"web", Resource::Pod, "u1", || true);
        assert!(!f.ready_or_park(&"web"));
        assert!(f.observe_gone(Resource::Pod, "u2").is_empty());
        assert!(f.observe_gone(Resource::Claim, "u1").is_empty());
        assert_eq!(f.observe_gone(Resource::Pod, "u1"), vec!["web"]);
        // Already gone from the cache: nothing to wait for.
        f.expect_gone(&"web", Resource::Pod, "u3", || false);
        assert!(f.ready_or_park(&"web"));
    }

    #[test]
    fn forgetting_a_key_drops_its_waits() {
        let f = Freshness::new();
        f.expect(&"web", Resource::Revision, Some("100"));
        assert!(!f.ready_or_park(&"web"));
        f.forget(&"web");
        assert!(f.observe(Resource::Revision, Some("100")).is_empty());
        assert!(f.ready_or_park(&"web"));
        assert!(f.expire().is_empty());
    }
}
