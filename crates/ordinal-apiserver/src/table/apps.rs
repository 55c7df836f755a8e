//! apps/v1: StatefulSets, Deployments, ReplicaSets and ControllerRevisions.

use jiff::Timestamp;
use serde_json::Value;

use crate::selector::LabelSelector;

use super::{
    AGE, Column, NAME, Printer, age_of, array_at, at, col, container_cells, desc, int_at, name_of,
    str_at, wide,
};

pub(super) const STATEFULSET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "Number of the pod with ready state"),
    AGE,
    wide("Containers", "Names of each container in the template."),
    wide(
        "Images",
        "Images referenced by each container in the template.",
    ),
];

pub(super) fn statefulset_cells(set: &Value, now: Timestamp) -> Vec<Value> {
    // spec.replicas defaults to 1.
    let desired = at(set, "spec.replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = int_at(set, "status.readyReplicas");
    let (names, images) = container_cells(at(set, "spec.template.spec"));
    vec![
        name_of(set),
        Value::String(format!("{ready}/{desired}")),
        age_of(set, now),
        Value::String(names),
        Value::String(images),
    ]
}

/// The table of StatefulSets.
pub(crate) static STATEFULSET: Printer = Printer {
    columns: STATEFULSET_COLUMNS,
    cells: statefulset_cells,
};

/// The pod-template columns every workload's wide table ends with.
const CONTAINERS: Column = wide("Containers", "Names of each container in the template.");
const IMAGES: Column = wide(
    "Images",
    "Images referenced by each container in the template.",
);

pub(super) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "Number of the pod with ready state"),
    col("Up-to-date", desc::DEPLOY_STATUS_UPDATED),
    col("Available", desc::DEPLOY_STATUS_AVAILABLE),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", desc::DEPLOY_SPEC_SELECTOR),
];

/// upstream's `printDeployment`. Its selector is the parsed selector's
/// `String()`: empty for a missing or empty one, `<invalid>` for one that
/// does not parse.
pub(super) fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    // spec.replicas defaults to 1.
    let desired = at(deployment, "spec.replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = int_at(deployment, "status.readyReplicas");
    let (names, images) = container_cells(at(deployment, "spec.template.spec"));
    let selector = match at(deployment, "spec.selector").filter(|s| !s.is_null()) {
        None => String::new(),
        Some(sel) => serde_json::from_value(sel.clone())
            .ok()
            .and_then(|typed| LabelSelector::from_label_selector(&typed).ok())
            .map_or_else(|| "<invalid>".to_string(), |s| s.to_string()),
    };
    vec![
        name_of(deployment),
        Value::String(format!("{ready}/{desired}")),
        Value::from(int_at(deployment, "status.updatedReplicas")),
        Value::from(int_at(deployment, "status.availableReplicas")),
        age_of(deployment, now),
        Value::String(names),
        Value::String(images),
        Value::String(selector),
    ]
}

/// The table of Deployments.
pub(crate) static DEPLOYMENT: Printer = Printer {
    columns: DEPLOYMENT_COLUMNS,
    cells: deployment_cells,
};

const fn integer(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "integer",
        format: "",
        description,
        priority: 0,
    }
}

pub(super) const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    integer("Desired", desc::RS_SPEC_REPLICAS),
    integer("Current", desc::RS_STATUS_REPLICAS),
    integer("Ready", desc::RS_STATUS_READY),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", desc::RS_SPEC_SELECTOR),
];

/// upstream's `printReplicaSet`.
pub(super) fn replica_set_cells(set: &Value, now: Timestamp) -> Vec<Value> {
    // spec.replicas defaults to 1.
    let desired = at(set, "spec.replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let (names, images) = container_cells(at(set, "spec.template.spec"));
    vec![
        name_of(set),
        Value::from(desired),
        Value::from(int_at(set, "status.replicas")),
        Value::from(int_at(set, "status.readyReplicas")),
        age_of(set, now),
        Value::String(names),
        Value::String(images),
        Value::String(super::batch::format_label_selector(at(
            set,
            "spec.selector",
        ))),
    ]
}

/// The table of ReplicaSets.
pub(crate) static REPLICA_SET: Printer = Printer {
    columns: REPLICA_SET_COLUMNS,
    cells: replica_set_cells,
};

pub(super) const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "Controller of the object"),
    col("Revision", desc::CR_REVISION),
    AGE,
];

pub(super) fn controller_revision_cells(revision: &Value, now: Timestamp) -> Vec<Value> {
    let controller = array_at(revision, "metadata.ownerReferences")
        .iter()
        .find(|r| at(r, "controller").and_then(Value::as_bool) == Some(true))
        .map_or_else(|| "<none>".to_string(), controller_name);
    vec![
        name_of(revision),
        Value::String(controller),
        Value::from(int_at(revision, "revision")),
        age_of(revision, now),
    ]
}

/// The table of ControllerRevisions.
pub(crate) static CONTROLLER_REVISION: Printer = Printer {
    columns: CONTROLLER_REVISION_COLUMNS,
    cells: controller_revision_cells,
};

/// upstream's `formatResourceName` of the controller: `kind.group/name` in
/// lower case (`statefulset.apps/web`), `kind/name` for the core group.
fn controller_name(owner: &Value) -> String {
    let api_version = str_at(owner, "apiVersion");
    // schema.ParseGroupVersion: "v1" is the core group, "apps/v1" is "apps".
    let group = match api_version.split_once('/') {
        Some((group, _)) => group,
        None => "",
    };
    let kind = str_at(owner, "kind");
    let name = str_at(owner, "name");
    if kind.is_empty() && group.is_empty() {
        return name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{name}", group_kind.to_lowercase())
}

/// autoscaling/v1 Scale (`kubectl get sts web --subresource=scale`). Unlike
/// other printers, upstream's name column here carries no `name` format.
pub(super) const SCALE_COLUMNS: &[Column] = &[
    Column {
        name: "Name",
        kind: "string",
        format: "",
        description: desc::META_NAME,
        priority: 0,
    },
    Column {
        name: "Desired",
        kind: "integer",
        format: "",
        description: desc::SCALE_SPEC_REPLICAS,
        priority: 0,
    },
    Column {
        name: "Available",
        kind: "integer",
        format: "",
        description: desc::SCALE_STATUS_REPLICAS,
        priority: 0,
    },
    AGE,
];

pub(super) fn scale_cells(scale: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(scale),
        Value::from(int_at(scale, "spec.replicas")),
        Value::from(int_at(scale, "status.replicas")),
        age_of(scale, now),
    ]
}

/// The table of autoscaling/v1 Scale, the body of every `scale` subresource.
pub(crate) static SCALE: Printer = Printer {
    columns: SCALE_COLUMNS,
    cells: scale_cells,
};
