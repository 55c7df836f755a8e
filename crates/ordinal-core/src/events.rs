//! Recording core/v1 Events, the ones `kubectl describe` and
//! `kubectl get events` show.
//!
//! Like client-go's legacy recorder, repeats of the same event (same
//! object, type, reason, message and source) are folded into one Event
//! whose `count` and `lastTimestamp` advance, instead of a new object each
//! time. Recording never blocks the caller: events go through a bounded
//! queue to a background task that writes them, and are dropped (with a
//! debug log) when the queue is full, as client-go does.

use std::collections::{HashMap, VecDeque};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::sync::mpsc;

/// Events queued for writing before new ones are dropped.
const QUEUE: usize = 1000;
/// Distinct events remembered for aggregation (client-go's LRU size).
const REMEMBERED: usize = 4096;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
struct Pending {
    object: ObjectReference,
    kind: EventType,
    reason: String,
    message: String,
    at: jiff::Timestamp,
}

/// What makes two events "the same" for aggregation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    namespace: String,
    kind: String,
    name: String,
    uid: String,
    api_version: String,
    field_path: String,
    event_type: EventType,
    reason: String,
    message: String,
}

impl Key {
    fn of(p: &Pending) -> Key {
        let o = &p.object;
        Key {
            namespace: o.namespace.clone().unwrap_or_default(),
            kind: o.kind.clone().unwrap_or_default(),
            name: o.name.clone().unwrap_or_default(),
            uid: o.uid.clone().unwrap_or_default(),
            api_version: o.api_version.clone().unwrap_or_default(),
            field_path: o.field_path.clone().unwrap_or_default(),
            event_type: p.kind,
            reason: p.reason.clone(),
            message: p.message.clone(),
        }
    }
}

/// An Event already written, for folding repeats into it.
#[derive(Debug, Clone)]
struct Written {
    namespace: String,
    name: String,
    count: i32,
    first: jiff::Timestamp,
}

/// Who reports: `source.component` / `reportingComponent` (e.g.
/// `statefulset-controller`) and `source.host` / `reportingInstance`.
#[derive(Debug, Clone)]
pub struct Source {
    /// The component that reports, as `source.component` and
    /// `reportingComponent`: `statefulset-controller`, `kubelet`.
    pub component: String,
    /// The host or instance it runs as, as `source.host` and
    /// `reportingInstance`; the node's name for the kubelet.
    pub host: String,
}

/// A handle for recording events; cheap to clone.
#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Pending>,
}

impl Recorder {
    /// Starts the writer task on the current Tokio runtime. It ends when
    /// every clone of the recorder is dropped.
    pub fn new(client: Client, source: Source) -> Recorder {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(client, source, rx));
        Recorder { queue }
    }

    /// Records an event about `object`.
    fn record(
        &self,
        object: &ObjectReference,
        kind: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let pending = Pending {
            object: object.clone(),
            kind,
            reason: reason.to_string(),
            message: message.into(),
            at: jiff::Timestamp::now(),
        };
        if let Err(e) = self.queue.try_send(pending) {
            tracing::debug!(error = %e, "event queue full or closed; dropping event");
        }
    }

    /// Records a `Normal` event about `object`; drops it when the queue
    /// is full (never blocks).
    pub fn normal(&self, object: &ObjectReference, reason: &str, message: impl Into<String>) {
        self.record(object, EventType::Normal, reason, message);
    }

    /// Records a `Warning` event about `object`; drops it when the queue
    /// is full (never blocks).
    pub fn warning(&self, object: &ObjectReference, reason: &str, message: impl Into<String>) {
        self.record(object, EventType::Warning, reason, message);
    }

    /// A `Warning` event when `warning`, else a `Normal` one: for the
    /// events a controller's plan lists, each saying which it is.
    pub fn event(
        &self,
        object: &ObjectReference,
        warning: bool,
        reason: &str,
        message: impl Into<String>,
    ) {
        let kind = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        self.record(object, kind, reason, message);
    }
}

/// The name client-go gives an event: the object's name and the time in
/// nanoseconds, hex.
fn event_name(object: &ObjectReference, at: jiff::Timestamp) -> String {
    let name = object.name.as_deref().unwrap_or("unknown");
    format!("{name}.{:x}", at.as_nanosecond())
}

fn time(at: jiff::Timestamp) -> Time {
    Time(at)
}

/// The namespace an event about `object` lives in: the object's, or
/// `default` for cluster-scoped objects.
fn namespace_of(object: &ObjectReference) -> String {
    match object.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        _ => "default".to_string(),
    }
}

fn new_event(p: &Pending, source: &Source, count: i32, first: jiff::Timestamp) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(event_name(&p.object, p.at)),
            namespace: Some(namespace_of(&p.object)),
            ..Default::default()
        },
        involved_object: p.object.clone(),
        reason: Some(p.reason.clone()),
        message: Some(p.message.clone()),
        type_: Some(p.kind.as_str().to_string()),
        source: Some(EventSource {
            component: Some(source.component.clone()),
            host: Some(source.host.clone()),
        }),
        first_timestamp: Some(time(first)),
        last_timestamp: Some(time(p.at)),
        count: Some(count),
        reporting_component: Some(source.component.clone()),
        reporting_instance: Some(source.host.clone()),
        ..Default::default()
    }
}

/// Remembers written events, forgetting the oldest beyond a bound.
#[derive(Default)]
struct Memory {
    entries: HashMap<Key, Written>,
    order: VecDeque<Key>,
}

impl Memory {
    fn get(&self, key: &Key) -> Option<&Written> {
        self.entries.get(key)
    }

    fn put(&mut self, key: Key, written: Written) {
        if self.entries.insert(key.clone(), written).is_none() {
            self.order.push_back(key);
            while self.order.len() > REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
        }
    }
}

async fn write_loop(client: Client, source: Source, mut rx: mpsc::Receiver<Pending>) {
    let mut memory = Memory::default();
    while let Some(p) = rx.recv().await {
        let key = Key::of(&p);
        if let Some(prev) = memory.get(&key).cloned()
            && let Some(count) = bump(&client, &prev, &p).await
        {
            memory.put(
                key,
                Written {
                    count,
                    ..prev.clone()
                },
            );
            continue;
        }
        // A first occurrence, or one whose earlier Event is gone (expired,
        // deleted): write a new Event, keeping the count we know.
        let (count, first) = memory
            .get(&key)
            .map_or((1, p.at), |w| (w.count.saturating_add(1), w.first));
        let event = new_event(&p, &source, count, first);
        let namespace = namespace_of(&p.object);
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => memory.put(
                key,
                Written {
                    namespace,
                    name: created.metadata.name.unwrap_or_default(),
                    count,
                    first,
                },
            ),
            Err(e) => tracing::debug!(error = %e, reason = %p.reason, "writing event failed"),
        }
    }
}

/// Advances an existing Event's count and lastTimestamp; `None` when it
/// could not be patched (then a new Event is written).
async fn bump(client: &Client, prev: &Written, p: &Pending) -> Option<i32> {
    let count = prev.count.saturating_add(1);
    let api: Api<Event> = Api::namespaced(client.clone(), &prev.namespace);
    let patch = serde_json::json!({
        "count": count,
        "lastTimestamp": time(p.at),
        "message": p.message,
    });
    match api
        .patch(&prev.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Some(count),
        Err(e) => {
            tracing::debug!(error = %e, event = %prev.name, "updating event failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("StatefulSet".into()),
            api_version: Some("apps/v1".into()),
            namespace: Some("default".into()),
            name: Some(name.into()),
            uid: Some("u".into()),
            ..Default::default()
        }
    }

    fn pending(name: &str, message: &str) -> Pending {
        Pending {
            object: reference(name),
            kind: EventType::Normal,
            reason: "SuccessfulCreate".into(),
            message: message.into(),
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn same_event_same_key_different_message_different_key() {
        assert_eq!(Key::of(&pending("web", "a")), Key::of(&pending("web", "a")));
        assert_ne!(Key::of(&pending("web", "a")), Key::of(&pending("web", "b")));
        assert_ne!(Key::of(&pending("web", "a")), Key::of(&pending("db", "a")));
    }

    #[test]
    fn events_are_named_after_the_object_and_time() {
        let p = pending("web", "a");
        assert_eq!(event_name(&p.object, p.at), "web.18867251edfa0000");
        let cluster = ObjectReference {
            kind: Some("Node".into()),
            name: Some("n".into()),
            ..Default::default()
        };
        assert_eq!(namespace_of(&cluster), "default");
    }

    #[test]
    fn new_events_carry_source_and_times() {
        let p = pending("web", "create Pod web-0 in StatefulSet web successful");
        let source = Source {
            component: "statefulset-controller".into(),
            host: "h".into(),
        };
        let e = new_event(&p, &source, 1, p.at);
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.count, Some(1));
        assert_eq!(
            e.source.unwrap().component.as_deref(),
            Some("statefulset-controller")
        );
        assert_eq!(e.first_timestamp, e.last_timestamp);
    }

    #[test]
    fn memory_is_bounded() {
        let mut m = Memory::default();
        for i in 0..(REMEMBERED + 10) {
            m.put(
                Key::of(&pending(&format!("o{i}"), "m")),
                Written {
                    namespace: "d".into(),
                    name: "n".into(),
                    count: 1,
                    first: jiff::Timestamp::UNIX_EPOCH,
                },
            );
        }
        assert_eq!(m.entries.len(), REMEMBERED);
        assert!(m.get(&Key::of(&pending("o0", "m"))).is_none());
        assert!(m.get(&Key::of(&pending("o4100", "m"))).is_some());
    }
}
