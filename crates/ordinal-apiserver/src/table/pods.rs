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
    let phase = str_at(pod, "status.phase");
    let mut reason = match str_at(pod, "status.reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if array_at(pod, "status.conditions")
        .iter()
        .any(|c| str_at(c, "type") == "PodScheduled" && str_at(c, "reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let init_specs = array_at(pod, "spec.initContainers");
    let init_spec = |name: &str| init_specs.iter().find(|c| str_at(c, "name") == name);
    let mut total_containers = array_at(pod, "spec.containers").len();
    total_containers += init_specs
        .iter()
        .filter(|c| is_restartable_init_container(Some(c)))
        .count();
    let mut ready_containers = 0usize;
    let mut restarts = 0i64;
    let mut restartable_init_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_init_restart: Option<Timestamp> = None;

    let mut initializing = false;
    for (i, status) in array_at(pod, "status.initContainerStatuses")
        .iter()
        .enumerate()
    {
        let restart_count = int_at(status, "restartCount");
        restarts += restart_count;
        note_restart(&mut last_restart, status);
        let sidecar = is_restartable_init_container(init_spec(str_at(status, "name")));
        if sidecar {
            restartable_init_restarts += restart_count;
            note_restart(&mut last_restartable_init_restart, status);
        }
        let terminated = at(status, "state.terminated").filter(|t| t.is_object());
        let waiting_reason = str_at(status, "state.waiting.reason");
        if terminated.is_some_and(|t| int_at(t, "exitCode") == 0) {
            continue;
        }
        if sidecar && at(status, "started").and_then(Value::as_bool) == Some(true) {
            if at(status, "ready").and_then(Value::as_bool) == Some(true) {
                ready_containers += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = match str_at(t, "reason") {
                "" if int_at(t, "signal") != 0 => format!("Init:Signal:{}", int_at(t, "signal")),
                "" => format!("Init:ExitCode:{}", int_at(t, "exitCode")),
                r => format!("Init:{r}"),
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for status in array_at(pod, "status.containerStatuses").iter().rev() {
            restarts += int_at(status, "restartCount");
            note_restart(&mut last_restart, status);
            let waiting_reason = str_at(status, "state.waiting.reason");
            let terminated = at(status, "state.terminated").filter(|t| t.is_object());
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match str_at(t, "reason") {
                    "" if int_at(t, "signal") != 0 => format!("Signal:{}", int_at(t, "signal")),
                    "" => format!("ExitCode:{}", int_at(t, "exitCode")),
                    r => r.to_string(),
                };
            } else if at(status, "ready").and_then(Value::as_bool) == Some(true)
                && at(status, "state.running").is_some_and(Value::is_object)
            {
                has_running = true;
                ready_containers += 1;
            }
        }
        // Back to "Running" while at least one container still runs.
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if has_deletion_timestamp(pod) {
        if str_at(pod, "status.reason") == NODE_UNREACHABLE_POD_REASON {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    // The internal PodStatus takes podIP first, podIPs[0] otherwise.
    let pod_ip = match str_at(pod, "status.podIP") {
        "" => array_at(pod, "status.podIPs")
            .first()
            .map_or("", |ip| str_at(ip, "ip")),
        ip => ip,
    };
    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };

    let gates = array_at(pod, "spec.readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
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
    };

    vec![
        name_of(pod),
        Value::String(format!("{ready_containers}/{total_containers}")),
        Value::String(reason),
        Value::String(restarts_cell),
        age_of(pod, now),
        Value::String(or_none(pod_ip)),
        Value::String(or_none(str_at(pod, "spec.nodeName"))),
        Value::String(or_none(str_at(pod, "status.nominatedNodeName"))),
        Value::String(readiness_gates),
    ]
}

/// The table of Pods.
pub(crate) static POD: Printer = Printer {
    columns: COLUMNS,
    cells,
};
