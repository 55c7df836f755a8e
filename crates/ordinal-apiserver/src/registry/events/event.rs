//! events.k8s.io/v1 Events: the core Events under their newer field names.
//!
//! Both APIs serve one resource, as upstream's: the objects are stored
//! once, as core/v1 Events (under the core resource's keys), and this API
//! renames their fields on the way in and out ([`to_core`],
//! [`from_core`]), as upstream's conversion does. An event written through
//! either API is listed, watched and selected through both, with one
//! resourceVersion sequence.

use serde_json::{Map, Value};

use crate::registry::Strategy;
use crate::table::{self, Printer};

/// The fields whose names differ: (events.k8s.io/v1, core/v1). Every other
/// field (`metadata`, `eventTime`, `series`, `related`, `action`,
/// `reason`, `reportingInstance`, `type`) has the same name and meaning in
/// both.
const RENAMED: &[(&str, &str)] = &[
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

const API_VERSION: &str = "events.k8s.io/v1";

/// Renames the fields of `event` from one API's names to the other's,
/// keeping their order, and sets its `apiVersion` (when it has one).
fn rename(event: &mut Value, to_core: bool, api_version: &str) {
    let Some(map) = event.as_object_mut() else {
        return;
    };
    let renamed: Map<String, Value> = std::mem::take(map)
        .into_iter()
        .map(|(key, value)| {
            let new = RENAMED.iter().find_map(|(events, core)| {
                let (from, to) = if to_core {
                    (events, core)
                } else {
                    (core, events)
                };
                (key == *from).then_some(*to)
            });
            match new {
                Some(name) => (name.to_string(), value),
                None => (key, value),
            }
        })
        .collect();
    *map = renamed;
    if map.contains_key("apiVersion") {
        map.insert("apiVersion".into(), Value::from(api_version));
    }
}

/// An events.k8s.io/v1 Event as the core/v1 Event it is stored as.
pub(crate) fn to_core(event: &mut Value) {
    rename(event, true, "v1");
}

/// A stored core/v1 Event as an events.k8s.io/v1 Event.
pub(crate) fn from_core(event: &mut Value) {
    rename(event, false, API_VERSION);
}

/// The field labels of events.k8s.io/v1 that keep their name; the others
/// are [`EventStrategy::field_label_alias`]es of the core labels the
/// stored objects are selected by.
const FIELD_LABELS: &[&str] = &["reason", "type", "metadata.namespace", "metadata.name"];

#[derive(Debug)]
pub struct EventStrategy;

impl Strategy for EventStrategy {
    fn storage_prefix(&self) -> Option<&'static str> {
        Some("/core/events/")
    }

    fn stored_form(&self, object: &mut Value) {
        to_core(object);
    }

    fn served_form(&self, object: &mut Value) {
        from_core(object);
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(FIELD_LABELS)
    }

    /// Upstream's `AddFieldLabelConversionsForEvent`: `regarding.*` and
    /// `reportingController` select what the core labels select; the core
    /// spellings themselves are not accepted here.
    fn field_label_alias(&self, label: &str) -> Option<&'static str> {
        Some(match label {
            "regarding.kind" => "involvedObject.kind",
            "regarding.namespace" => "involvedObject.namespace",
            "regarding.name" => "involvedObject.name",
            "regarding.uid" => "involvedObject.uid",
            "regarding.apiVersion" => "involvedObject.apiVersion",
            "regarding.resourceVersion" => "involvedObject.resourceVersion",
            "regarding.fieldPath" => "involvedObject.fieldPath",
            "reportingController" => "reportingComponent",
            _ => return None,
        })
    }

    // The selectable fields are computed from the stored (core) object by
    // the core strategy.

    fn printer(&self) -> &'static Printer {
        &table::cluster::EVENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest};
    use proptest::strategy::Strategy as _;
    use serde_json::json;

    fn events_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web-0.1", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
            "reportingController": "ordinal.dev/statefulset",
            "reportingInstance": "ordinal-1",
            "action": "Create",
            "reason": "SuccessfulCreate",
            "regarding": {"kind": "StatefulSet", "name": "web", "namespace": "default"},
            "related": {"kind": "Pod", "name": "web-0", "namespace": "default"},
            "note": "create Pod web-0 in StatefulSet web successful",
            "type": "Normal",
            "deprecatedSource": {"component": "statefulset-controller", "host": "node-1"},
            "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
            "deprecatedLastTimestamp": "2026-01-01T00:01:00Z",
            "deprecatedCount": 2
        })
    }

    #[test]
    fn an_events_event_is_stored_as_the_core_event_upstream_converts_it_to() {
        let mut event = events_event();
        to_core(&mut event);
        assert_eq!(
            event,
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "web-0.1", "namespace": "default"},
                "eventTime": "2026-01-01T00:00:00.000000Z",
                "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
                "reportingComponent": "ordinal.dev/statefulset",
                "reportingInstance": "ordinal-1",
                "action": "Create",
                "reason": "SuccessfulCreate",
                "involvedObject": {"kind": "StatefulSet", "name": "web", "namespace": "default"},
                "related": {"kind": "Pod", "name": "web-0", "namespace": "default"},
                "message": "create Pod web-0 in StatefulSet web successful",
                "type": "Normal",
                "source": {"component": "statefulset-controller", "host": "node-1"},
                "firstTimestamp": "2026-01-01T00:00:00Z",
                "lastTimestamp": "2026-01-01T00:01:00Z",
                "count": 2
            })
        );
        from_core(&mut event);
        assert_eq!(event, events_event());
    }

    #[test]
    fn a_core_event_reads_as_an_events_event() {
        let mut event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "x", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0"},
            "message": "Started", "reason": "Started", "count": 1,
            "source": {"component": "kubelet", "host": "n1"}
        });
        from_core(&mut event);
        assert_eq!(event["apiVersion"], "events.k8s.io/v1");
        assert_eq!(event["regarding"]["name"], "web-0");
        assert_eq!(event["note"], "Started");
        assert_eq!(event["deprecatedCount"], 1);
        assert_eq!(event["deprecatedSource"]["component"], "kubelet");
        assert!(event.get("message").is_none() && event.get("involvedObject").is_none());
    }

    #[test]
    fn the_field_labels_are_upstreams() {
        let s = EventStrategy;
        assert_eq!(
            s.field_label_alias("regarding.name"),
            Some("involvedObject.name")
        );
        assert_eq!(
            s.field_label_alias("reportingController"),
            Some("reportingComponent")
        );
        assert_eq!(s.field_label_alias("involvedObject.name"), None);
        assert_eq!(s.field_label_alias("source"), None);
    }

    fn field_value() -> impl proptest::strategy::Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z0-9:./ -]{0,12}".prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{0,6}", 0..3).prop_map(|m| json!(m)),
        ]
    }

    /// Field names of either API, and some shared by both.
    fn field_name() -> impl proptest::strategy::Strategy<Value = String> {
        let names: Vec<&'static str> = RENAMED
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .chain([
                "metadata",
                "eventTime",
                "series",
                "related",
                "action",
                "reason",
                "reportingInstance",
                "type",
                "kind",
            ])
            .collect();
        prop::sample::select(names).prop_map(str::to_string)
    }

    proptest! {
        /// What both representations share survives a round trip either
        /// way: an events.k8s.io Event (no core names in it) comes back
        /// from storage as it went in, and so does a core one.
        #[test]
        fn conversion_round_trips(
            fields in prop::collection::btree_map(field_name(), field_value(), 0..12),
            with_version in any::<bool>(),
        ) {
            let mut events = Map::new();
            let mut core = Map::new();
            for (name, value) in &fields {
                let is_core_name = RENAMED.iter().any(|(_, c)| c == name);
                let is_events_name = RENAMED.iter().any(|(e, _)| e == name);
                if !is_core_name {
                    events.insert(name.clone(), value.clone());
                }
                if !is_events_name {
                    core.insert(name.clone(), value.clone());
                }
            }
            if with_version {
                events.insert("apiVersion".into(), json!("events.k8s.io/v1"));
                core.insert("apiVersion".into(), json!("v1"));
            }
            let events = Value::Object(events);
            let core = Value::Object(core);

            let mut stored = events.clone();
            to_core(&mut stored);
            for (e, c) in RENAMED {
                prop_assert!(stored.get(e).is_none());
                prop_assert_eq!(stored.get(c), events.get(e));
            }
            from_core(&mut stored);
            prop_assert_eq!(&stored, &events);

            let mut served = core.clone();
            from_core(&mut served);
            to_core(&mut served);
            prop_assert_eq!(&served, &core);
        }
    }
}
