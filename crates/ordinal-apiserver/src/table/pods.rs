//! Pods: upstream's `printPod`, with its full status-reason logic.

use jiff::Timestamp;
use serde_json::Value;

use super::{
    Column, NAME, Printer, age_of, array_at, at, col, desc, has_deletion_timestamp, int_at,
    name_of, since, str_at, time_at, wide,
};

pub(super) const COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    super::AGE,
    wide("IP", desc::POD_STATUS_POD_IP),
    wide("Node", desc::POD_SPEC_NODE_NAME),
    wide("Nominated Node", desc::POD_STATUS_NOMINATED),
    wide("Readiness Gates", desc::POD_SPEC_READINESS_GATES),
];

/// The reason upstream shows for pods being deleted from an unreachable node
/// (`node.NodeUnreachablePodReason`).
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

/// A sidecar: an init container with `restartPolicy: Always`.
fn is_restartable_init_container(container: Option<&Value>) -> bool {
    container.is_some_and(|c| str_at(c, "restartPolicy") == "Always")
}

fn condition_true(pod: &Value, condition_type: &str) -> bool {
    array_at(pod, "status.conditions")
        .iter()
        .any(|c| str_at(c, "type") == condition_type && str_at(c, "status") == "True")
}

/// The later of the current last-restart time and this container's last
/// termination.
fn note_restart(last: &mut Option<Timestamp>, status: &Value) {
    if let Some(finished) = time_at(status, "lastState.terminated.finishedAt")
        && last.is_none_or(|l| l < finished)
    {
        *last = Some(finished);
    }
}

pub(super) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let mut tally = Tally {
        reason: initial_reason(pod),
        ..Tally::default()
    };
    let initializing = tally_init_containers(pod, &mut tally);
    if !initializing || condition_true(pod, "Initialized") {
        tally_containers(pod, &mut tally);
    }
    let reason = terminating_reason(pod, tally.reason);
    let restarts = tally.restarts;
    let restarts_cell = match tally.last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };
    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        name_of(pod),
        Value::String(format!("{}/{}", tally.ready, total_containers(pod))),
        Value::String(reason),
        Value::String(restarts_cell),
        age_of(pod, now),
        Value::String(or_none(pod_ip(pod))),
        Value::String(or_none(str_at(pod, "spec.nodeName"))),
        Value::String(or_none(str_at(pod, "status.nominatedNodeName"))),
        Value::String(readiness_gates(pod)),
    ]
}

/// What printPod counts over a pod's container statuses.
#[derive(Default)]
struct Tally {
    /// The STATUS cell so far.
    reason: String,
    /// Ready containers (and started, ready sidecars).
    ready: usize,
    restarts: i64,
    last_restart: Option<Timestamp>,
    /// Restarts of restartable init containers (sidecars) alone.
    sidecar_restarts: i64,
    last_sidecar_restart: Option<Timestamp>,
}

/// The status before the containers are looked at: the pod's reason, else
/// its phase; `SchedulingGated` while scheduling gates hold it.
fn initial_reason(pod: &Value) -> String {
    let mut reason = match str_at(pod, "status.reason") {
        "" => str_at(pod, "status.phase").to_string(),
        r => r.to_string(),
    };
    if array_at(pod, "status.conditions")
        .iter()
        .any(|c| str_at(c, "type") == "PodScheduled" && str_at(c, "reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    reason
}

/// Containers counted in READY: the app containers and the sidecars.
fn total_containers(pod: &Value) -> usize {
    let sidecars = array_at(pod, "spec.initContainers")
        .iter()
        .filter(|c| is_restartable_init_container(Some(c)))
        .count();
    array_at(pod, "spec.containers").len() + sidecars
}

/// Counts the init containers' statuses into `tally`; true while one of
/// them still holds the pod (`Init:...`).
fn tally_init_containers(pod: &Value, tally: &mut Tally) -> bool {
    let init_specs = array_at(pod, "spec.initContainers");
    let init_spec = |name: &str| init_specs.iter().find(|c| str_at(c, "name") == name);
    for (i, status) in array_at(pod, "status.initContainerStatuses")
        .iter()
        .enumerate()
    {
        let restart_count = int_at(status, "restartCount");
        tally.restarts += restart_count;
        note_restart(&mut tally.last_restart, status);
        let sidecar = is_restartable_init_container(init_spec(str_at(status, "name")));
        if sidecar {
            tally.sidecar_restarts += restart_count;
            note_restart(&mut tally.last_sidecar_restart, status);
        }
        let terminated = at(status, "state.terminated").filter(|t| t.is_object());
        let waiting_reason = str_at(status, "state.waiting.reason");
        if terminated.is_some_and(|t| int_at(t, "exitCode") == 0) {
            continue;
        }
        if sidecar && at(status, "started").and_then(Value::as_bool) == Some(true) {
            if at(status, "ready").and_then(Value::as_bool) == Some(true) {
                tally.ready += 1;
            }
            continue;
        }
        tally.reason = if let Some(t) = terminated {
            match str_at(t, "reason") {
                "" if int_at(t, "signal") != 0 => format!("Init:Signal:{}", int_at(t, "signal")),
                "" => format!("Init:ExitCode:{}", int_at(t, "exitCode")),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        return true;
    }
    false
}

/// Counts the app containers' statuses into `tally` (restarts start over
/// from the sidecars'), last container first, as upstream.
fn tally_containers(pod: &Value, tally: &mut Tally) {
    tally.restarts = tally.sidecar_restarts;
    tally.last_restart = tally.last_sidecar_restart;
    let mut has_running = false;
    for status in array_at(pod, "status.containerStatuses").iter().rev() {
        tally.restarts += int_at(status, "restartCount");
        note_restart(&mut tally.last_restart, status);
        let waiting_reason = str_at(status, "state.waiting.reason");
        let terminated = at(status, "state.terminated").filter(|t| t.is_object());
        if !waiting_reason.is_empty() {
            tally.reason = waiting_reason.to_string();
        } else if let Some(t) = terminated {
            tally.reason = match str_at(t, "reason") {
                "" if int_at(t, "signal") != 0 => format!("Signal:{}", int_at(t, "signal")),
                "" => format!("ExitCode:{}", int_at(t, "exitCode")),
                r => r.to_string(),
            };
        } else if at(status, "ready").and_then(Value::as_bool) == Some(true)
            && at(status, "state.running").is_some_and(Value::is_object)
        {
            has_running = true;
            tally.ready += 1;
        }
    }
    // Back to "Running" while at least one container still runs.
    if tally.reason == "Completed" && has_running {
        tally.reason = if condition_true(pod, "Ready") {
            "Running".into()
        } else {
            "NotReady".into()
        };
    }
}

/// A pod being deleted shows `Terminating` (`Unknown` when its node is
/// lost) unless it has finished.
fn terminating_reason(pod: &Value, reason: String) -> String {
    if !has_deletion_timestamp(pod) {
        return reason;
    }
    let phase = str_at(pod, "status.phase");
    if str_at(pod, "status.reason") == NODE_UNREACHABLE_POD_REASON {
        "Unknown".into()
    } else if phase != "Succeeded" && phase != "Failed" {
        "Terminating".into()
    } else {
        reason
    }
}

/// The internal PodStatus takes podIP first, podIPs[0] otherwise.
fn pod_ip(pod: &Value) -> &str {
    match str_at(pod, "status.podIP") {
        "" => array_at(pod, "status.podIPs")
            .first()
            .map_or("", |ip| str_at(ip, "ip")),
        ip => ip,
    }
}

/// READINESS GATES: how many of the pod's gates are met, or `<none>`.
fn readiness_gates(pod: &Value) -> String {
    let gates = array_at(pod, "spec.readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = array_at(pod, "status.conditions");
    let true_count = gates
        .iter()
        .filter(|gate| {
            let wanted = str_at(gate, "conditionType");
            conditions
                .iter()
                .find(|c| str_at(c, "type") == wanted)
                .is_some_and(|c| str_at(c, "status") == "True")
        })
        .count();
    format!("{true_count}/{}", gates.len())
}

/// The table of Pods.
pub(crate) static POD: Printer = Printer {
    columns: COLUMNS,
    cells,
};
