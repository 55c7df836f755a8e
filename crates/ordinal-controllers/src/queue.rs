//! A work queue in the manner of client-go's: each key is queued at most
//! once, is never handed to two workers at the same time, is queued again
//! if it was added while a worker held it, and is retried with a per-key
//! exponential back-off after failures.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

/// The first retry delay after a failure; it doubles per failure.
const BASE_DELAY: Duration = Duration::from_millis(20);
/// The longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(30);

struct State<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    processing: HashSet<K>,
    /// Added while being processed: queue again when done.
    dirty: HashSet<K>,
    failures: HashMap<K, u32>,
    closed: bool,
}

/// A de-duplicating, rate-limited work queue.
pub struct Queue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

impl<K: Hash + Eq + Clone + Send + 'static> Queue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(Queue {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                queued: HashSet::new(),
                processing: HashSet::new(),
                dirty: HashSet::new(),
                failures: HashMap::new(),
                closed: false,
            }),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `key` unless it is queued already.
    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        if s.processing.contains(&key) {
            s.dirty.insert(key);
            return;
        }
        if s.queued.insert(key.clone()) {
            s.ready.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    pub fn add_all(&self, keys: impl IntoIterator<Item = K>) {
        for key in keys {
            self.add(key);
        }
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// Queues `key` again after its back-off, which grows with each call
    /// until [`Queue::forget`].
    pub fn retry(self: &Arc<Self>, key: K) {
        let failures = {
            let mut s = self.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        self.add_after(key, backoff(failures));
    }

    /// Clears the failure count of `key`.
    pub fn forget(&self, key: &K) {
        self.lock().failures.remove(key);
    }

    /// The next key to work on; `None` once the queue is closed.
    pub async fn next(&self) -> Option<K> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.lock();
                if s.closed {
                    return None;
                }
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.processing.insert(key.clone());
                    if !s.ready.is_empty() {
                        // Wake another worker for the rest.
                        self.notify.notify_one();
                    }
                    return Some(key);
                }
            }
            notified.await;
        }
    }

    /// Marks the work on `key` finished.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.remove(key) && !s.closed && s.queued.insert(key.clone()) {
            s.ready.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Stops handing out work; waiting workers get `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Keys waiting (not counting those being processed).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().ready.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The delay before retry number `failures` (1-based).
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(20);
    BASE_DELAY.saturating_mul(1u32 << shift).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_deduplicated_and_requeued_when_dirty() {
        let q = Queue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.next().await.unwrap();
        assert_eq!(a, "a");
        // Added while processing: not handed out twice, queued again after.
        q.add("a");
        assert_eq!(q.next().await.unwrap(), "b");
        assert!(q.is_empty());
        q.done(&"a");
        assert_eq!(q.next().await.unwrap(), "a");
        q.close();
        assert_eq!(q.next().await, None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), BASE_DELAY);
        assert_eq!(backoff(2), BASE_DELAY * 2);
        assert_eq!(backoff(100), MAX_DELAY);
    }

    #[tokio::test]
    async fn retries_come_back_after_their_delay() {
        let q = Queue::new();
        q.retry("x");
        let got = tokio::time::timeout(Duration::from_secs(2), q.next()).await;
        assert_eq!(got.unwrap(), Some("x"));
    }
}
