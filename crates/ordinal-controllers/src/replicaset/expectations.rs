//! Upstream's ControllerExpectations: the pod creations and deletions a
//! set's sync has issued and the watch has not yet shown. The shared cache
//! holds every created pod (and drops every deleted one) as soon as the
//! answer comes, but a relist whose snapshot predates those writes can
//! briefly undo that; until the watch has shown each write, or five
//! minutes have passed, the set's sync creates and deletes nothing, so it
//! never creates twice.
//!
//! Creations are counted (a name is known only once the answer comes,
//! which may be after the watch showed the pod); deletions are tracked by
//! uid. Both are recorded before the request goes out, and lowered again
//! when it fails.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::informer::ObjectKey;

/// How long writes are waited for before they are assumed lost
/// (upstream's `ExpectationsTimeout`).
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// The unconfirmed pod writes of each set.
#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<ObjectKey, Pending>>,
}

struct Pending {
    /// Creations not yet seen.
    adds: i64,
    /// Uids of deleted pods whose deletion has not been seen.
    deletes: HashSet<String>,
    /// When the last expectation was set.
    since: Instant,
}

impl Expectations {
    /// Expects `n` more pod creations for `set`.
    pub fn expect_creations(&self, set: &ObjectKey, n: usize, now: Instant) {
        let mut all = self.lock();
        let p = all.entry(set.clone()).or_insert_with(|| Pending {
            adds: 0,
            deletes: HashSet::new(),
            since: now,
        });
        p.adds = p.adds.max(0) + i64::try_from(n).unwrap_or(i64::MAX);
        p.since = now;
    }

    /// Expects the deletion of the pod `uid` of `set`.
    pub fn expect_deletion(&self, set: &ObjectKey, uid: &str, now: Instant) {
        let mut all = self.lock();
        let p = all.entry(set.clone()).or_insert_with(|| Pending {
            adds: 0,
            deletes: HashSet::new(),
            since: now,
        });
        p.deletes.insert(uid.to_string());
        p.since = now;
    }

    /// A creation was seen (or failed: it will never be).
    pub fn creation_observed(&self, set: &ObjectKey) {
        if let Some(p) = self.lock().get_mut(set) {
            p.adds -= 1;
        }
    }

    /// The deletion of pod `uid` was seen (or failed).
    pub fn deletion_observed(&self, set: &ObjectKey, uid: &str) {
        if let Some(p) = self.lock().get_mut(set) {
            p.deletes.remove(uid);
        }
    }

    /// Forgets the set (it is gone).
    pub fn forget(&self, set: &ObjectKey) {
        self.lock().remove(set);
    }

    /// `Ok` when every write of `set` was seen or the wait timed out;
    /// otherwise how long until it times out.
    pub fn satisfied(&self, set: &ObjectKey, now: Instant) -> Result<(), Duration> {
        let mut all = self.lock();
        let Some(p) = all.get(set) else {
            return Ok(());
        };
        let waited = now.saturating_duration_since(p.since);
        if (p.adds <= 0 && p.deletes.is_empty()) || waited >= TIMEOUT {
            all.remove(set);
            return Ok(());
        }
        Err(TIMEOUT - waited)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ObjectKey {
        ("ns".to_string(), "web".to_string())
    }

    #[test]
    fn creations_hold_the_set_until_each_is_seen_or_fails() {
        let e = Expectations::default();
        let now = Instant::now();
        assert_eq!(e.satisfied(&key(), now), Ok(()));
        e.expect_creations(&key(), 2, now);
        assert!(e.satisfied(&key(), now).is_err());
        e.creation_observed(&key());
        assert!(e.satisfied(&key(), now).is_err());
        e.creation_observed(&key()); // the second failed
        assert_eq!(e.satisfied(&key(), now), Ok(()));
    }

    #[test]
    fn deletions_are_tracked_by_uid_and_everything_times_out() {
        let e = Expectations::default();
        let now = Instant::now();
        e.expect_deletion(&key(), "a", now);
        e.deletion_observed(&key(), "b");
        assert_eq!(e.satisfied(&key(), now), Err(TIMEOUT));
        e.deletion_observed(&key(), "a");
        assert_eq!(e.satisfied(&key(), now), Ok(()));
        e.expect_creations(&key(), 1, now);
        assert!(e.satisfied(&key(), now + TIMEOUT / 2).is_err());
        assert_eq!(e.satisfied(&key(), now + TIMEOUT), Ok(()));
    }
}
