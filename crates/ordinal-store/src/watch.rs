//! Watch: the event history window and the fan-out to watchers.
//!
//! Every committed write becomes one [`Event`]. The [`Hub`] keeps the most
//! recent events in a bounded [`History`] and pushes each new batch into a
//! bounded channel per [`Watcher`] whose key prefix matches.
//!
//! Guarantees:
//! - A watcher sees every event under its prefix with a revision greater than
//!   the one it started from, in revision order, exactly once: registration
//!   replays the history under the same lock the publisher holds while it
//!   appends a batch and dispatches it, so no batch falls between the replay
//!   and the live channel.
//! - The writer never blocks on a watcher. A watcher whose channel is full is
//!   dropped: it still receives what was queued, then `recv` returns `None`,
//!   and its client re-watches from the last revision it saw.
//! - [`Watcher::bookmark_rev`] is exact: the publisher advances a per-watcher
//!   "dispatched through" revision after each batch, and a bookmark is only
//!   offered when nothing is left to receive.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::{Object, StoreError};

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

/// One committed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The object after the write. For [`EventType::Deleted`]: the last state,
    /// stamped with the revision of the delete.
    pub object: Arc<Object>,
    /// The object before the write (`None` for [`EventType::Added`]). The API
    /// server uses it to turn selector transitions into ADDED/DELETED events.
    pub prev: Option<Arc<Object>>,
}

impl Event {
    /// The revision of the write.
    pub fn rev(&self) -> u64 {
        self.object.rev
    }

    /// The key written.
    pub fn key(&self) -> &str {
        &self.object.key
    }
}

/// The most recent events, oldest first, with consecutive revisions: at
/// most `capacity` of them, and none recorded longer than `max_age` ago
/// (the way etcd's periodic compaction ages revisions out).
pub(crate) struct History {
    /// Each event with the moment it was recorded.
    events: VecDeque<(Instant, Arc<Event>)>,
    capacity: usize,
    max_age: Option<Duration>,
    /// Every event with a revision greater than `floor` is held.
    floor: u64,
}

impl History {
    /// An empty history that can serve watches from `floor` on.
    pub(crate) fn new(capacity: usize, floor: u64) -> Self {
        History {
            events: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
            max_age: None,
            floor,
        }
    }

    /// Bounds how long an event stays (`None`: only the capacity bounds).
    pub(crate) fn set_max_age(&mut self, max_age: Option<Duration>) {
        self.max_age = max_age;
    }

    /// Drops the events recorded longer than the maximum age before `now`,
    /// moving the floor past them.
    pub(crate) fn expire(&mut self, now: Instant) {
        let Some(max_age) = self.max_age else { return };
        while let Some((at, event)) = self.events.front() {
            if now.saturating_duration_since(*at) <= max_age {
                break;
            }
            self.floor = event.rev();
            self.events.pop_front();
        }
    }

    /// The oldest revision a watch or a past snapshot can start from.
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Appends an event, evicting the oldest when full.
    pub(crate) fn push(&mut self, event: Arc<Event>) {
        self.push_at(Instant::now(), event);
    }

    /// [`push`](Self::push), recorded at `now`.
    pub(crate) fn push_at(&mut self, now: Instant, event: Arc<Event>) {
        debug_assert!(
            self.events
                .back()
                .is_none_or(|(_, last)| last.rev() < event.rev())
        );
        if self.capacity == 0 {
            self.floor = event.rev();
            return;
        }
        if self.events.len() == self.capacity
            && let Some((_, evicted)) = self.events.pop_front()
        {
            self.floor = evicted.rev();
        }
        self.events.push_back((now, event));
        self.expire(now);
    }

    /// The events with a revision greater than `rev`, oldest first.
    pub(crate) fn after(&self, rev: u64) -> impl DoubleEndedIterator<Item = &Arc<Event>> {
        let start = self.events.partition_point(|(_, event)| event.rev() <= rev);
        self.events.range(start..).map(|(_, event)| event)
    }
}

/// One registered watcher, as the publisher sees it.
struct Slot {
    prefix: Box<str>,
    after_rev: u64,
    tx: mpsc::Sender<Arc<Event>>,
    /// Every event with a revision up to this one has been pushed into `tx`.
    progress: Arc<AtomicU64>,
}

/// The history plus the registered watchers. Lives behind one mutex.
pub(crate) struct Hub {
    pub(crate) history: History,
    watchers: Vec<Slot>,
    /// The revision of the last published batch.
    rev: u64,
    buffer: usize,
    closed: bool,
}

impl Hub {
    pub(crate) fn new(history: History, rev: u64, buffer: usize) -> Self {
        Hub {
            history,
            watchers: Vec::new(),
            rev,
            buffer: buffer.max(1),
            closed: false,
        }
    }

    pub(crate) fn watcher_count(&self) -> usize {
        self.watchers.len()
    }

    /// Registers a watcher for every event under `prefix` after `after_rev`.
    pub(crate) fn watch(&mut self, prefix: &str, after_rev: u64) -> Result<Watcher, StoreError> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        self.history.expire(Instant::now());
        let oldest = self.history.floor();
        if after_rev < oldest {
            return Err(StoreError::Expired {
                requested: after_rev,
                oldest,
            });
        }
        let replay: VecDeque<Arc<Event>> = self
            .history
            .after(after_rev)
            .filter(|event| event.key().starts_with(prefix))
            .cloned()
            .collect();
        let (tx, rx) = mpsc::channel(self.buffer);
        let progress = Arc::new(AtomicU64::new(self.rev));
        self.watchers.push(Slot {
            prefix: prefix.into(),
            after_rev,
            tx,
            progress: progress.clone(),
        });
        Ok(Watcher {
            replay,
            rx,
            progress,
            after_rev,
        })
    }

    /// Records a committed batch (consecutive revisions, oldest first) and
    /// pushes it to the watchers. Never blocks.
    pub(crate) fn publish(&mut self, events: &[Arc<Event>]) {
        let Some(last) = events.last() else { return };
        let last_rev = last.rev();
        let now = Instant::now();
        for event in events {
            self.history.push_at(now, event.clone());
        }
        self.rev = last_rev;
        self.watchers.retain(|slot| {
            for event in events {
                if event.rev() <= slot.after_rev || !event.key().starts_with(&*slot.prefix) {
                    continue;
                }
                match slot.tx.try_send(event.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::debug!(prefix = %slot.prefix, rev = event.rev(), "dropping a watcher that fell behind");
                        return false;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                }
            }
            slot.progress.store(last_rev, Ordering::Release);
            true
        });
    }

    /// Ends every watcher (they drain what is queued, then see `None`) and
    /// refuses new ones.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.watchers.clear();
    }
}

/// A stream of events under one key prefix: first those replayed from the
/// history, then live ones.
///
/// Dropping it unregisters it (at the next publish).
pub struct Watcher {
    replay: VecDeque<Arc<Event>>,
    rx: mpsc::Receiver<Arc<Event>>,
    progress: Arc<AtomicU64>,
    after_rev: u64,
}

impl Watcher {
    /// The next event; `None` once the watch has ended: the store was closed,
    /// or this watcher fell too far behind and was dropped. Either way the
    /// client resumes by watching again from the last revision it saw.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        if let Some(event) = self.replay.pop_front() {
            return Some(event);
        }
        self.rx.recv().await
    }

    /// The next event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        if let Some(event) = self.replay.pop_front() {
            return Some(event);
        }
        self.rx.try_recv().ok()
    }

    /// A revision safe to report in a BOOKMARK: `Some(r)` only when every
    /// event for this watcher with a revision up to `r` has already been
    /// returned by [`recv`](Self::recv)/[`try_recv`](Self::try_recv) and
    /// none is pending.
    pub fn bookmark_rev(&mut self) -> Option<u64> {
        if !self.replay.is_empty() {
            return None;
        }
        // Load first: everything up to `dispatched` was pushed before the
        // store we observe, so an empty channel now means it was all received.
        let dispatched = self.progress.load(Ordering::Acquire);
        if self.rx.is_empty() {
            Some(dispatched.max(self.after_rev))
        } else {
            None
        }
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("after_rev", &self.after_rev)
            .field("replay", &self.replay.len())
            .field("queued", &self.rx.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attrs;

    fn event(key: &str, rev: u64) -> Arc<Event> {
        Arc::new(Event {
            kind: EventType::Added,
            object: Arc::new(Object {
                key: key.into(),
                rev,
                bytes: bytes::Bytes::from_static(b"{}"),
                attrs: Attrs::default(),
            }),
            prev: None,
        })
    }

    fn revs<'a>(it: impl Iterator<Item = &'a Arc<Event>>) -> Vec<u64> {
        it.map(|e| e.rev()).collect()
    }

    #[test]
    fn history_evicts_oldest_and_moves_floor() {
        let mut h = History::new(3, 0);
        for rev in 1..=5 {
            h.push(event("/a", rev));
        }
        assert_eq!(h.floor(), 2);
        assert_eq!(h.len(), 3);
        assert_eq!(revs(h.after(2)), [3, 4, 5]);
        assert_eq!(revs(h.after(4)), [5]);
        assert_eq!(revs(h.after(9)), Vec::<u64>::new());
    }

    #[test]
    fn events_older_than_the_maximum_age_leave_and_move_the_floor() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut h = History::new(100, 0);
        h.set_max_age(Some(Duration::from_secs(300)));
        h.push_at(start, event("/a", 1));
        h.push_at(start + 100 * second, event("/a", 2));
        h.push_at(start + 200 * second, event("/a", 3));
        assert_eq!(h.floor(), 0);
        h.expire(start + 350 * second);
        assert_eq!(h.floor(), 1, "revision 1 aged out");
        assert_eq!(revs(h.after(0)), [2, 3]);
        // A new event ages out the old ones as it comes.
        h.push_at(start + 1000 * second, event("/a", 4));
        assert_eq!(h.floor(), 3);
        assert_eq!(revs(h.after(3)), [4]);
        // Without a maximum age only the capacity bounds the history.
        let mut h = History::new(100, 0);
        h.push_at(start, event("/a", 1));
        h.expire(start + 100_000 * second);
        assert_eq!(h.floor(), 0);
    }

    #[test]
    fn zero_capacity_history_serves_only_the_present() {
        let mut h = History::new(0, 4);
        h.push(event("/a", 5));
        assert_eq!(h.floor(), 5);
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn registration_replays_then_goes_live_and_bookmarks_are_exact() {
        let mut hub = Hub::new(History::new(10, 0), 0, 8);
        hub.publish(&[event("/p/a", 1), event("/q/a", 2)]);
        let mut w = hub.watch("/p/", 0).unwrap();
        assert_eq!(w.bookmark_rev(), None, "replay pending");
        assert_eq!(w.try_recv().unwrap().rev(), 1);
        assert_eq!(w.bookmark_rev(), Some(2));
        hub.publish(&[event("/p/b", 3)]);
        assert_eq!(w.bookmark_rev(), None, "live event pending");
        assert_eq!(w.try_recv().unwrap().rev(), 3);
        assert_eq!(w.bookmark_rev(), Some(3));
        hub.publish(&[event("/q/b", 4)]);
        assert_eq!(
            w.bookmark_rev(),
            Some(4),
            "other prefixes advance the bookmark"
        );
        assert!(w.try_recv().is_none());
    }

    #[test]
    fn full_watchers_are_dropped_and_drain_what_was_queued() {
        let mut hub = Hub::new(History::new(10, 0), 0, 2);
        let mut w = hub.watch("/", 0).unwrap();
        hub.publish(&[event("/a", 1), event("/b", 2), event("/c", 3)]);
        assert_eq!(hub.watcher_count(), 0);
        assert_eq!(w.try_recv().unwrap().rev(), 1);
        assert_eq!(w.try_recv().unwrap().rev(), 2);
        assert!(w.try_recv().is_none());
        assert_eq!(w.bookmark_rev(), Some(0), "never claims the lost events");
    }

    #[test]
    fn too_old_watches_expire_and_closed_hubs_refuse() {
        let mut hub = Hub::new(History::new(2, 0), 0, 8);
        hub.publish(&[event("/a", 1), event("/a", 2), event("/a", 3)]);
        assert!(matches!(
            hub.watch("/", 0),
            Err(StoreError::Expired {
                requested: 0,
                oldest: 1
            })
        ));
        assert!(hub.watch("/", 1).is_ok());
        hub.close();
        assert!(matches!(hub.watch("/", 3), Err(StoreError::Closed)));
    }
}
