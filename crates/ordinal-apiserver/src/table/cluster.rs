//! Namespaces, Nodes, Events, Leases and RuntimeClasses.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::{
    AGE, Column, NAME, Printer, age_of, array_at, at, col, desc, int_at, name_of, since, str_at,
    time_at, wide,
};

pub(super) const NAMESPACE_COLUMNS: &[Column] =
    &[NAME, col("Status", "The status of the namespace"), AGE];

pub(super) fn namespace_cells(namespace: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(namespace),
        Value::String(str_at(namespace, "status.phase").to_string()),
        age_of(namespace, now),
    ]
}

/// The table of Namespaces.
pub(crate) static NAMESPACE: Printer = Printer {
    columns: NAMESPACE_COLUMNS,
    cells: namespace_cells,
};

pub(super) const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "The status of the node"),
    col("Roles", "The roles of the node"),
    AGE,
    col("Version", desc::NODE_KUBELET),
    wide("Internal-IP", desc::NODE_ADDRESSES),
    wide("External-IP", desc::NODE_ADDRESSES),
    wide("OS-Image", desc::NODE_OS_IMAGE),
    wide("Kernel-Version", desc::NODE_KERNEL),
    wide("Container-Runtime", desc::NODE_RUNTIME),
];

const NODE_ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

pub(super) fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    // Only the Ready condition counts; the last one of that type wins.
    let ready = array_at(node, "status.conditions")
        .iter()
        .rfind(|c| str_at(c, "type") == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, "status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if at(node, "spec.unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }

    let roles = node_roles(node);
    let address = |kind: &str| {
        array_at(node, "status.addresses")
            .iter()
            .find(|a| str_at(a, "type") == kind)
            .map_or_else(
                || "<none>".to_string(),
                |a| str_at(a, "address").to_string(),
            )
    };
    let info = |field: &str| match str_at(node, &format!("status.nodeInfo.{field}")) {
        "" => "<unknown>".to_string(),
        v => v.to_string(),
    };
    vec![
        name_of(node),
        Value::String(status.join(",")),
        Value::String(if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        }),
        age_of(node, now),
        Value::String(str_at(node, "status.nodeInfo.kubeletVersion").to_string()),
        Value::String(address("InternalIP")),
        Value::String(address("ExternalIP")),
        Value::String(info("osImage")),
        Value::String(info("kernelVersion")),
        Value::String(info("containerRuntimeVersion")),
    ]
}

/// The table of Nodes.
pub(crate) static NODE: Printer = Printer {
    columns: NODE_COLUMNS,
    cells: node_cells,
};

/// upstream's `findNodeRoles`: `node-role.kubernetes.io/<role>` label keys and
/// the value of a `kubernetes.io/role` label, sorted and deduplicated.
fn node_roles(node: &Value) -> Vec<String> {
    let mut roles = BTreeSet::new();
    if let Some(labels) = at(node, "metadata.labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix(NODE_ROLE_LABEL_PREFIX) {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if key == NODE_ROLE_LABEL
                && let Some(role) = value.as_str().filter(|r| !r.is_empty())
            {
                roles.insert(role.to_string());
            }
        }
    }
    roles.into_iter().collect()
}

/// Events put the name column last and wide, so `kubectl get events` opens
/// with LAST SEEN.
pub(super) const EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", desc::EV_LAST),
    col("Type", desc::EV_TYPE),
    col("Reason", desc::EV_REASON),
    col("Object", desc::EV_INVOLVED),
    wide("Subobject", desc::EV_FIELD_PATH),
    wide("Source", desc::EV_SOURCE),
    col("Message", desc::EV_MESSAGE),
    wide("First Seen", desc::EV_FIRST),
    wide("Count", desc::EV_COUNT),
    Column {
        priority: 1,
        ..NAME
    },
];

/// Reads an Event in either shape: core/v1 field names, or the events.k8s.io/v1
/// ones (which the server converts to the same internal Event).
struct EventFields<'a>(&'a Value);

impl<'a> EventFields<'a> {
    fn first(&self, paths: &[&str]) -> Option<&'a Value> {
        paths
            .iter()
            .find_map(|p| at(self.0, p).filter(|v| !v.is_null()))
    }
    fn str(&self, paths: &[&str]) -> &'a str {
        self.first(paths).and_then(Value::as_str).unwrap_or("")
    }
    fn time(&self, paths: &[&str]) -> Option<Timestamp> {
        paths.iter().find_map(|p| time_at(self.0, p))
    }
}

pub(super) fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let e = EventFields(event);
    let event_time = e.time(&["eventTime"]);
    let first_seen = match e.time(&["firstTimestamp", "deprecatedFirstTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => since(event_time, now),
    };
    let mut last_seen = match e.time(&["lastTimestamp", "deprecatedLastTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = e
        .first(&["count", "deprecatedCount"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(series) = at(event, "series").filter(|s| s.is_object()) {
        last_seen = since(time_at(series, "lastObservedTime"), now);
        count = int_at(series, "count");
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let regarding = e.first(&["involvedObject", "regarding"]);
    let field = |f: &str| regarding.map_or("", |r| str_at(r, f));
    let kind = field("kind").to_lowercase();
    let target = match field("name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };

    let component = first_non_empty(
        e.str(&["source.component", "deprecatedSource.component"]),
        e.str(&["reportingComponent", "reportingController"]),
    );
    let instance = first_non_empty(
        e.str(&["source.host", "deprecatedSource.host"]),
        e.str(&["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };

    vec![
        Value::String(last_seen),
        Value::String(e.str(&["type"]).to_string()),
        Value::String(e.str(&["reason"]).to_string()),
        Value::String(target),
        Value::String(field("fieldPath").to_string()),
        Value::String(source),
        Value::String(e.str(&["message", "note"]).trim().to_string()),
        Value::String(first_seen),
        Value::from(count),
        name_of(event),
    ]
}

/// The table of Events (core and events.k8s.io).
pub(crate) static EVENT: Printer = Printer {
    columns: EVENT_COLUMNS,
    cells: event_cells,
};

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

pub(super) const LEASE_COLUMNS: &[Column] = &[NAME, col("Holder", desc::LEASE_HOLDER), AGE];

pub(super) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(lease),
        Value::String(str_at(lease, "spec.holderIdentity").to_string()),
        age_of(lease, now),
    ]
}

/// The table of Leases.
pub(crate) static LEASE: Printer = Printer {
    columns: LEASE_COLUMNS,
    cells: lease_cells,
};

/// Upstream takes the Handler column's description from ObjectMeta's
/// documentation, which has no `handler` entry: it is empty.
pub(super) const RUNTIME_CLASS_COLUMNS: &[Column] = &[NAME, col("Handler", ""), AGE];

pub(super) fn runtime_class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(class),
        Value::String(str_at(class, "handler").to_string()),
        age_of(class, now),
    ]
}

/// The table of RuntimeClasses.
pub(crate) static RUNTIME_CLASS: Printer = Printer {
    columns: RUNTIME_CLASS_COLUMNS,
    cells: runtime_class_cells,
};

/// Upstream takes these columns' descriptions from the PriorityClass
/// fields' documentation.
pub(super) const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column {
        name: "Value",
        kind: "integer",
        format: "",
        description: "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
        priority: 0,
    },
    Column {
        name: "Global-Default",
        kind: "boolean",
        format: "",
        description: "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
        priority: 0,
    },
    AGE,
    col(
        "PreemptionPolicy",
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
    ),
];

pub(super) fn priority_class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(class),
        Value::from(int_at(class, "value")),
        Value::Bool(
            at(class, "globalDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        age_of(class, now),
        Value::String(str_at(class, "preemptionPolicy").to_string()),
    ]
}

/// The table of PriorityClasses.
pub(crate) static PRIORITY_CLASS: Printer = Printer {
    columns: PRIORITY_CLASS_COLUMNS,
    cells: priority_class_cells,
};
