//! The one way a controller of this crate runs: shared informers
//! ([`crate::informer`]) map changes to keys on a [`Queue`]; workers take
//! keys and call the controller's [`Reconciler::reconcile`], which reads
//! the caches, decides (a pure function of what it read, in each
//! controller's plan module) and writes; what it returns says when the key
//! comes back.
//!
//! The queue never hands one key to two workers, folds repeated additions
//! of a waiting key into one, and backs a failing key off exponentially.
//! Workers start once the caches the controller reads have listed.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub use crate::queue::Queue;

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until something changes.
    Done,
    /// Reconcile again after this long (at once for zero).
    After(Duration),
    /// It failed: again after the key's back-off.
    Retry,
}

impl<E: std::fmt::Display> From<Result<(), E>> for Next {
    /// `Ok` is done; an error is logged (at debug: the retry is the
    /// remedy, and a persistent one shows in events and status) and
    /// retried.
    fn from(result: Result<(), E>) -> Next {
        match result {
            Ok(()) => Next::Done,
            Err(e) => {
                tracing::debug!(error = %e, "reconcile failed; will retry");
                Next::Retry
            }
        }
    }
}

/// A controller: what it does for one key.
pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// How often [`Reconciler::resync`] runs, once the caches have
    /// listed; never when `None`.
    const RESYNC: Option<Duration> = None;

    fn reconcile(&self, key: &Self::Key) -> impl Future<Output = Next> + Send;

    /// Queues again what a periodic look should cover (upstream's resync
    /// period), for work no change announces.
    fn resync(&self) {}
}

/// Runs `workers` workers over `queue` once `ready` completes (the caches
/// have listed), and the resync, until `shutdown` completes; then closes
/// the queue and returns when the workers have stopped.
pub async fn drive<R: Reconciler>(
    reconciler: Arc<R>,
    queue: Arc<Queue<R::Key>>,
    workers: usize,
    ready: impl Future<Output = ()> + Send + 'static,
    shutdown: impl Future<Output = ()> + Send,
) {
    let ready = futures::FutureExt::shared(Box::pin(ready));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let (reconciler, queue, ready) =
            (Arc::clone(&reconciler), Arc::clone(&queue), ready.clone());
        tasks.spawn(async move {
            ready.await;
            while let Some(key) = queue.next().await {
                // What a reconcile logs (an error `Next::from` turns into a
                // retry, say) names its key.
                let span = tracing::debug_span!("reconcile", key = ?key);
                match tracing::Instrument::instrument(reconciler.reconcile(&key), span).await {
                    Next::Done => queue.forget(&key),
                    Next::After(delay) => {
                        queue.forget(&key);
                        queue.add_after(key.clone(), delay);
                    }
                    Next::Retry => queue.retry(key.clone()),
                }
                queue.done(&key);
            }
        });
    }
    if let Some(period) = R::RESYNC {
        let (reconciler, ready) = (Arc::clone(&reconciler), ready.clone());
        tasks.spawn(async move {
            ready.await;
            every(period, || reconciler.resync()).await;
        });
    }
    shutdown.await;
    queue.close();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// An event recorder for `component`, on this host.
pub(crate) fn recorder(client: &kube::Client, component: &str) -> ordinal_core::events::Recorder {
    ordinal_core::events::Recorder::new(
        client.clone(),
        ordinal_core::events::Source {
            component: component.into(),
            host: crate::hostname(),
        },
    )
}

/// The HTTP status code of an API error (`None` for one that never got an
/// answer).
pub(crate) fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// An error as Go's `err.Error()` prints it, for an Event's message: the
/// Status message.
pub(crate) fn error_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        other => other.to_string(),
    }
}

/// Upstream's `ref.GetReference`: the reference of an object for Events,
/// claimRefs and CronJobs' active lists (its version included).
pub(crate) fn reference<K: kube::Resource<DynamicType = ()>>(
    obj: &K,
) -> k8s_openapi::api::core::v1::ObjectReference {
    let meta = obj.meta();
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

/// The controller reference of `meta` (the owner reference marked
/// `controller`), whatever its kind.
pub(crate) fn controller(meta: &kube::api::ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// The controller reference of `meta` when it names an owner of kind `K`
/// (kind and API version alike): a Job's pod, a CronJob's job.
pub(crate) fn controller_of<K: kube::Resource<DynamicType = ()>>(
    meta: &kube::api::ObjectMeta,
) -> Option<&OwnerReference> {
    controller(meta).filter(|r| r.kind == K::kind(&()) && r.api_version == K::api_version(&()))
}

/// The reference a controller puts on what it makes: `owner` as its
/// controller, blocking the owner's foreground deletion.
pub(crate) fn controller_ref<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    controller_ref_to::<K>(
        meta.name.as_deref().unwrap_or_default(),
        meta.uid.as_deref().unwrap_or_default(),
    )
}

/// [`controller_ref`] to an owner of kind `K` known by its name and UID.
pub(crate) fn controller_ref_to<K: kube::Resource<DynamicType = ()>>(
    name: &str,
    uid: &str,
) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Runs `tick` every `period` until the task is dropped (for a
/// controller's periodic sweeps beside its queue).
pub async fn every(period: Duration, mut tick: impl FnMut() + Send) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fails each key a given number of times, then succeeds; records the
    /// order of calls.
    struct Flaky {
        failures: Mutex<std::collections::HashMap<&'static str, usize>>,
        calls: Mutex<Vec<&'static str>>,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
    }

    impl Reconciler for Flaky {
        type Key = &'static str;

        async fn reconcile(&self, key: &&'static str) -> Next {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.calls.lock().unwrap().push(key);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let mut failures = self.failures.lock().unwrap();
            match failures.get_mut(key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    Next::Retry
                }
                _ => Next::Done,
            }
        }
    }

    #[tokio::test]
    async fn failures_come_back_and_workers_wait_for_the_caches() {
        let flaky = Arc::new(Flaky {
            failures: Mutex::new([("b", 2)].into_iter().collect()),
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let queue = Queue::new();
        queue.add_all(["a", "b", "c", "d"]);
        let (synced, ready) = tokio::sync::oneshot::channel::<()>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let driver = tokio::spawn(drive(
            Arc::clone(&flaky),
            Arc::clone(&queue),
            2,
            async move {
                let _ = ready.await;
            },
            async move {
                let _ = stopped.await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(flaky.calls.lock().unwrap().is_empty(), "ran before ready");
        synced.send(()).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while flaky.calls.lock().unwrap().len() < 6 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(()).unwrap();
        driver.await.unwrap();
        let calls = flaky.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().filter(|k| **k == "b").count(), 3, "{calls:?}");
        assert_eq!(calls.len(), 6, "{calls:?}");
        assert_eq!(flaky.most_in_flight.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn results_map_to_next() {
        assert_eq!(Next::from(Ok::<(), String>(())), Next::Done);
        assert_eq!(Next::from(Err::<(), _>("boom")), Next::Retry);
    }
}
