//! Events expire: kube-apiserver stores them with a one-hour lease in etcd
//! (`--event-ttl`), so `kubectl get events` shows the last hour. ordinal's
//! store has no leases; instead a sweeper deletes events whose most recent
//! timestamp is older than the TTL. The events of both Event APIs are one
//! resource, stored once, so one sweep covers them.

use std::time::Duration;

use jiff::Timestamp;
use ordinal_store::Store;
use serde_json::Value;
use tokio::sync::watch;

/// Where events are stored: both Event APIs store under the core prefix;
/// the second is where earlier versions kept events.k8s.io Events, swept
/// so that what they left there expires too.
const EVENT_PREFIXES: &[&str] = &["/core/events/", "/events.k8s.io/events/"];

/// Every timestamp an Event may carry, core/v1 and events.k8s.io/v1 names.
const TIME_FIELDS: &[&str] = &[
    "/lastTimestamp",
    "/firstTimestamp",
    "/eventTime",
    "/series/lastObservedTime",
    "/deprecatedLastTimestamp",
    "/deprecatedFirstTimestamp",
    "/metadata/creationTimestamp",
];

/// When an event was last touched: the latest of its timestamps.
pub fn last_seen(event: &Value) -> Option<Timestamp> {
    TIME_FIELDS
        .iter()
        .filter_map(|p| event.pointer(p).and_then(Value::as_str))
        .filter_map(|s| s.parse::<Timestamp>().ok())
        .max()
}

/// Deletes the events last seen more than `ttl` before `now`; returns how
/// many went. A delete that loses a race with a writer leaves the event for
/// the next sweep.
pub async fn sweep(store: &Store, ttl: Duration, now: Timestamp) -> usize {
    let Ok(ttl) = jiff::SignedDuration::try_from(ttl) else {
        return 0;
    };
    let cutoff = now - ttl;
    let snapshot = store.snapshot();
    let mut expired = Vec::new();
    for prefix in EVENT_PREFIXES {
        for object in snapshot.range(prefix, None) {
            let Ok(event) = serde_json::from_slice::<Value>(&object.bytes) else {
                continue;
            };
            if last_seen(&event).is_some_and(|t| t < cutoff) {
                expired.push((object.key.to_string(), object.rev));
            }
        }
    }
    let mut deleted = 0;
    for (key, rev) in expired {
        if store.delete(key, Some(rev)).await.is_ok() {
            deleted += 1;
        }
    }
    deleted
}

/// Sweeps every `ttl / 10` (between 100 ms and a minute) until shutdown.
pub fn spawn(store: Store, ttl: Duration, mut shutdown: watch::Receiver<bool>) {
    let period = (ttl / 10).clamp(Duration::from_millis(100), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            let deleted = sweep(&store, ttl, Timestamp::now()).await;
            if deleted > 0 {
                tracing::debug!(deleted, "expired events");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_seen_takes_the_latest_timestamp() {
        let event = json!({
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T02:00:00Z",
        });
        assert_eq!(
            last_seen(&event),
            Some("2026-01-01T02:00:00Z".parse().unwrap())
        );
        let series = json!({
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T05:00:00.123456Z"},
        });
        assert_eq!(
            last_seen(&series),
            Some("2026-01-01T05:00:00.123456Z".parse().unwrap())
        );
        assert_eq!(last_seen(&json!({"lastTimestamp": 5})), None);
    }

    #[tokio::test]
    async fn sweep_removes_only_old_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::server::open_store(dir.path(), 100).unwrap();
        let old = json!({"metadata": {"name": "old", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
                         "lastTimestamp": "2026-01-01T00:10:00Z"});
        let recent = json!({"metadata": {"name": "recent", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
                            "lastTimestamp": "2026-01-01T00:50:00Z"});
        let new_api = json!({"metadata": {"name": "n", "namespace": "default"},
                             "eventTime": "2026-01-01T00:05:00.000000Z"});
        let not_event = json!({"metadata": {"name": "cm", "namespace": "default", "creationTimestamp": "2020-01-01T00:00:00Z"}});
        store
            .create("/core/events/default/old".into(), old)
            .await
            .unwrap();
        store
            .create("/core/events/default/recent".into(), recent)
            .await
            .unwrap();
        store
            .create("/events.k8s.io/events/default/n".into(), new_api)
            .await
            .unwrap();
        store
            .create("/core/configmaps/default/cm".into(), not_event)
            .await
            .unwrap();
        let now: Timestamp = "2026-01-01T01:15:00Z".parse().unwrap();
        assert_eq!(sweep(&store, Duration::from_secs(3600), now).await, 2);
        assert!(store.get("/core/events/default/old").is_none());
        assert!(store.get("/events.k8s.io/events/default/n").is_none());
        assert!(store.get("/core/events/default/recent").is_some());
        assert!(store.get("/core/configmaps/default/cm").is_some());
    }
}
