//! Scenarios: objects as a cluster holds them, and the exact cells upstream's
//! printers give them.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::resources::RESOURCES;

/// A fixed "now" so ages are exact.
fn now() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

/// The RFC 3339 time `d` before [`now`].
fn ago(d: SignedDuration) -> String {
    (now() - d).to_string()
}

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

fn resource(group: &str, plural: &str) -> &'static Resource {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .unwrap_or_else(|| panic!("no resource {group}/{plural}"))
}

fn row(group: &str, plural: &str, object: Value) -> Vec<Value> {
    let resource = resource(group, plural);
    let cells = cells(resource, &object, now());
    assert_eq!(
        cells.len(),
        columns(resource).len(),
        "one cell per column for {plural}"
    );
    cells
}

/// The column names of a resource, `*` marking the wide ones.
fn headers(group: &str, plural: &str) -> Vec<String> {
    columns(resource(group, plural))
        .iter()
        .map(|c| {
            if c.priority > 0 {
                format!("{}*", c.name)
            } else {
                c.name.to_string()
            }
        })
        .collect()
}

// --- ages -------------------------------------------------------------------

#[test]
fn human_duration_boundaries() {
    let cases: &[(i64, &str)] = &[
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (121, "2m1s"),
        (599, "9m59s"),
        (600, "10m"),
        (119 * 60, "119m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (7 * 3600 + 59 * 60 + 59, "7h59m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (2 * 86400, "2d"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (7 * 86400 + 23 * 3600, "7d23h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (800 * 86400, "2y70d"),
        (8 * 365 * 86400, "8y"),
        (20 * 365 * 86400, "20y"),
    ];
    for &(s, want) in cases {
        assert_eq!(human_duration(secs(s)), want, "{s}s");
    }
    // Sub-second parts truncate toward zero, as Go's int(d.Seconds()).
    assert_eq!(human_duration(SignedDuration::from_millis(-1999)), "0s");
    assert_eq!(human_duration(SignedDuration::from_millis(59_999)), "59s");
}

#[test]
fn age_of_timestamps() {
    assert_eq!(age(Some(&ago(secs(59))), now()), "59s");
    assert_eq!(age(Some(&ago(secs(3 * 3600 + 5 * 60))), now()), "3h5m");
    assert_eq!(age(Some("2025-06-01T11:59:30.123456Z"), now()), "29s");
    assert_eq!(age(None, now()), "<unknown>");
    assert_eq!(age(Some(""), now()), "<unknown>");
    assert_eq!(age(Some("yesterday"), now()), "<unknown>");
    assert_eq!(age(Some("0001-01-01T00:00:00Z"), now()), "<unknown>");
}

// --- pods -------------------------------------------------------------------

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": ago(secs(3600))},
        "spec": spec,
        "status": status,
    })
}

fn running(name: &str, restarts: i64, last_finished: Option<String>) -> Value {
    let mut status = json!({
        "name": name, "ready": true, "restartCount": restarts, "started": true,
        "state": {"running": {"startedAt": ago(secs(300))}},
    });
    if let Some(finished) = last_finished {
        status["lastState"] =
            json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}});
    }
    status
}

#[test]
fn pod_columns() {
    assert_eq!(
        headers("", "pods"),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP*",
            "Node*",
            "Nominated Node*",
            "Readiness Gates*"
        ]
    );
    let cols = columns(resource("", "pods"));
    assert_eq!(cols[0].format, "name");
    assert!(cols.iter().all(|c| c.kind == "string"));
}

#[test]
fn pod_running_with_a_restart_five_minutes_ago() {
    let p = pod(
        json!({"nodeName": "node-1", "containers": [{"name": "app"}, {"name": "sidecar"}]}),
        json!({
            "phase": "Running",
            "podIP": "10.0.0.7",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                running("app", 1, Some(ago(secs(300)))),
                running("sidecar", 0, None),
            ],
        }),
    );
    assert_eq!(
        row("", "pods", p),
        [
            "web-0",
            "2/2",
            "Running",
            "1 (5m ago)",
            "60m",
            "10.0.0.7",
            "node-1",
            "<none>",
            "<none>"
        ]
    );
}

#[test]
fn pod_pending_unscheduled() {
    let p = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Pending"}),
    );
    assert_eq!(
        row("", "pods", p),
        [
            "web-0", "0/1", "Pending", "0", "60m", "<none>", "<none>", "<none>", "<none>"
        ]
    );
}

#[test]
fn pod_initializing() {
    let p = pod(
        json!({
            "initContainers": [{"name": "init-a"}, {"name": "init-b"}],
            "containers": [{"name": "app"}],
        }),
        json!({
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "init-a", "ready": false, "restartCount": 0, "state": {"running": {}}},
                {"name": "init-b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
            "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
        }),
    );
    let cells = row("", "pods", p);
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[2], "Init:0/2");
    assert_eq!(cells[3], "0");
}

#[test]
fn pod_second_init_container_running() {
    let p = pod(
        json!({"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]}),
        json!({
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "restartCount": 0, "state": {"running": {}}},
            ],
        }),
    );
    assert_eq!(row("", "pods", p)[2], "Init:1/2");
}

#[test]
fn pod_init_container_crash_looping() {
    let p = pod(
        json!({"initContainers": [{"name": "a"}], "containers": [{"name": "app"}]}),
        json!({
            "phase": "Pending",
            "initContainerStatuses": [{
                "name": "a", "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(secs(40))}},
            }],
        }),
    );
    let cells = row("", "pods", p);
    assert_eq!(cells[2], "Init:CrashLoopBackOff");
    assert_eq!(cells[3], "3 (40s ago)");
}

#[test]
fn pod_init_container_failed_without_reason() {
    let p = pod(
        json!({"initContainers": [{"name": "a"}], "containers": [{"name": "app"}]}),
        json!({
            "phase": "Pending",
            "initContainerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 2}}}],
        }),
    );
    assert_eq!(row("", "pods", p)[2], "Init:ExitCode:2");
}

#[test]
fn pod_crash_loop_back_off() {
    let p = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({
            "phase": "Running",
            "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(secs(125))}},
            }],
        }),
    );
    let cells = row("", "pods", p);
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[2], "CrashLoopBackOff");
    assert_eq!(cells[3], "4 (2m5s ago)");
}

#[test]
fn pod_terminating() {
    let mut p = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Running", "containerStatuses": [running("app", 0, None)]}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(secs(5)));
    let cells = row("", "pods", p);
    assert_eq!(cells[1], "1/1");
    assert_eq!(cells[2], "Terminating");
}

#[test]
fn pod_deleted_on_a_lost_node_is_unknown() {
    let mut p = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Running", "reason": "NodeLost"}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(secs(5)));
    assert_eq!(row("", "pods", p)[2], "Unknown");
}

#[test]
fn pod_completed() {
    let p = pod(
        json!({"containers": [{"name": "job"}]}),
        json!({
            "phase": "Succeeded",
            "containerStatuses": [{
                "name": "job", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }],
        }),
    );
    let cells = row("", "pods", p.clone());
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[2], "Completed");
    // A finished pod being deleted keeps its final status.
    let mut deleting = p;
    deleting["metadata"]["deletionTimestamp"] = json!(ago(secs(1)));
    assert_eq!(row("", "pods", deleting)[2], "Completed");
}

#[test]
fn pod_completed_container_next_to_a_running_one() {
    let p = pod(
        json!({"containers": [{"name": "a"}, {"name": "b"}]}),
        json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                running("b", 0, None),
            ],
        }),
    );
    let cells = row("", "pods", p);
    assert_eq!(cells[1], "1/2");
    assert_eq!(cells[2], "NotReady");
}

#[test]
fn pod_killed_by_signal() {
    let p = pod(
        json!({"containers": [{"name": "a"}]}),
        json!({
            "phase": "Failed",
            "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}],
        }),
    );
    assert_eq!(row("", "pods", p)[2], "Signal:9");
}

#[test]
fn pod_scheduling_gated() {
    let p = pod(
        json!({"containers": [{"name": "a"}], "schedulingGates": [{"name": "example.com/gate"}]}),
        json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        }),
    );
    assert_eq!(row("", "pods", p)[2], "SchedulingGated");
}

#[test]
fn pod_evicted_shows_status_reason() {
    let p = pod(
        json!({"containers": [{"name": "a"}]}),
        json!({"phase": "Failed", "reason": "Evicted"}),
    );
    assert_eq!(row("", "pods", p)[2], "Evicted");
}

#[test]
fn pod_sidecar_counts_as_a_container() {
    let p = pod(
        json!({
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}],
        }),
        json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{
                "name": "proxy", "ready": true, "started": true, "restartCount": 2,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(secs(7200))}},
            }],
            "containerStatuses": [running("app", 0, None)],
        }),
    );
    let cells = row("", "pods", p);
    assert_eq!(cells[1], "2/2");
    assert_eq!(cells[2], "Running");
    assert_eq!(cells[3], "2 (120m ago)");
}

#[test]
fn pod_readiness_gates_and_ips() {
    let p = pod(
        json!({
            "containers": [{"name": "a"}],
            "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
        }),
        json!({
            "phase": "Running",
            "podIPs": [{"ip": "fd00::7"}],
            "nominatedNodeName": "node-2",
            "conditions": [{"type": "example.com/lb", "status": "True"}],
        }),
    );
    let cells = row("", "pods", p);
    assert_eq!(cells[5], "fd00::7");
    assert_eq!(cells[7], "node-2");
    assert_eq!(cells[8], "1/2");
}

#[test]
fn pod_partial_object() {
    let cells = row("", "pods", json!({}));
    assert_eq!(
        cells,
        [
            "",
            "0/0",
            "",
            "0",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ]
    );
}

// --- services, endpoints ------------------------------------------------------

fn service(spec: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "creationTimestamp": ago(secs(2 * 86400 + 3 * 3600))},
        "spec": spec,
    })
}

#[test]
fn service_columns() {
    assert_eq!(
        headers("", "services"),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector*"
        ]
    );
}

#[test]
fn service_node_port() {
    let s = service(json!({
        "type": "NodePort",
        "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
        "ports": [
            {"port": 80, "protocol": "TCP", "nodePort": 30080},
            {"port": 53, "protocol": "UDP"},
        ],
        "selector": {"app": "web", "tier": "front"},
    }));
    assert_eq!(
        row("", "services", s),
        [
            "web",
            "NodePort",
            "10.96.0.20",
            "<none>",
            "80:30080/TCP,53/UDP",
            "2d3h",
            "app=web,tier=front"
        ]
    );
}

#[test]
fn service_headless() {
    let s = service(json!({
        "clusterIP": "None",
        "ports": [{"port": 80, "name": "http"}],
        "selector": {"app": "web"},
    }));
    assert_eq!(
        row("", "services", s),
        [
            "web",
            "ClusterIP",
            "None",
            "<none>",
            "80/TCP",
            "2d3h",
            "app=web"
        ]
    );
}

#[test]
fn service_load_balancer_and_external_name() {
    let pending = service(
        json!({"type": "LoadBalancer", "clusterIP": "10.96.0.9", "ports": [{"port": 443, "nodePort": 31443}]}),
    );
    let cells = row("", "services", pending);
    assert_eq!(cells[3], "<pending>");
    assert_eq!(cells[4], "443:31443/TCP");

    let mut ready = service(json!({"type": "LoadBalancer", "externalIPs": ["192.0.2.1"]}));
    ready["status"] = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}});
    let cells = row("", "services", ready);
    assert_eq!(cells[2], "<none>");
    assert_eq!(cells[3], "203.0.113.9,lb.example.com,192.0.2.1");
    assert_eq!(cells[4], "<none>");
    assert_eq!(cells[6], "<none>");

    let external = service(json!({"type": "ExternalName", "externalName": "db.example.com"}));
    assert_eq!(row("", "services", external)[3], "db.example.com");
}

fn endpoints(subsets: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "web", "creationTimestamp": ago(secs(30))},
        "subsets": subsets,
    })
}

#[test]
fn endpoints_truncated_after_three() {
    let e = endpoints(json!([{
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}, {"ip": "10.0.0.5"}],
        "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
    }]));
    assert_eq!(
        row("", "endpoints", e),
        [
            "web",
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 7 more...",
            "30s"
        ]
    );
}

#[test]
fn endpoints_small_headless_ipv6_and_empty() {
    let e = endpoints(json!([
        {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]},
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]},
    ]));
    assert_eq!(row("", "endpoints", e)[1], "10.0.0.1:80,[fd00::1]:80");

    let headless = endpoints(json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}]));
    assert_eq!(row("", "endpoints", headless)[1], "10.0.0.1,10.0.0.2");

    assert_eq!(row("", "endpoints", endpoints(json!([])))[1], "<none>");
    let not_ready =
        endpoints(json!([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]));
    assert_eq!(row("", "endpoints", not_ready)[1], "");
}

#[test]
fn endpoint_slices() {
    let slice = json!({
        "metadata": {"name": "web-abcde", "creationTimestamp": ago(secs(90))},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}, {"name": "named"}, {}, {"port": 9090}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}],
    });
    assert_eq!(
        headers("discovery.k8s.io", "endpointslices"),
        ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    );
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", slice),
        [
            "web-abcde",
            "IPv4",
            "80,named,* + 1 more...",
            "10.0.0.1,10.0.0.2,10.0.0.3",
            "90s"
        ]
    );
    let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4"});
    let cells = row("discovery.k8s.io", "endpointslices", empty);
    assert_eq!(cells[2], "<unset>");
    assert_eq!(cells[3], "<unset>");
}

// --- storage ----------------------------------------------------------------

#[test]
fn pvc_bound() {
    let pvc = json!({
        "metadata": {"name": "data-web-0", "creationTimestamp": ago(secs(45 * 86400))},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "local-path",
            "volumeName": "pvc-1234",
            "volumeMode": "Filesystem",
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany"],
            "capacity": {"storage": "1Gi"},
        },
    });
    assert_eq!(
        headers("", "persistentvolumeclaims"),
        [
            "Name",
            "Status",
            "Volume",
            "Capacity",
            "Access Modes",
            "StorageClass",
            "VolumeAttributesClass",
            "Age",
            "VolumeMode*"
        ]
    );
    assert_eq!(
        row("", "persistentvolumeclaims", pvc),
        [
            "data-web-0",
            "Bound",
            "pvc-1234",
            "1Gi",
            "RWO,ROX,RWX,RWOP",
            "local-path",
            "<unset>",
            "45d",
            "Filesystem"
        ]
    );
}

#[test]
fn pvc_pending() {
    let pvc = json!({
        "metadata": {
            "name": "data", "creationTimestamp": ago(secs(5)),
            "annotations": {"volume.beta.kubernetes.io/storage-class": "old-style"},
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "ignored"},
        "status": {"phase": "Pending"},
    });
    assert_eq!(
        row("", "persistentvolumeclaims", pvc),
        [
            "data",
            "Pending",
            "",
            "",
            "",
            "old-style",
            "<unset>",
            "5s",
            "<unset>"
        ]
    );
}

#[test]
fn pv_bound_and_terminating() {
    let pv = json!({
        "metadata": {"name": "pvc-1234", "creationTimestamp": ago(secs(600)), "deletionTimestamp": ago(secs(1))},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": "default", "name": "data-web-0"},
            "storageClassName": "local-path",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    });
    assert_eq!(
        headers("", "persistentvolumes"),
        [
            "Name",
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status",
            "Claim",
            "StorageClass",
            "VolumeAttributesClass",
            "Reason",
            "Age",
            "VolumeMode*"
        ]
    );
    assert_eq!(
        row("", "persistentvolumes", pv),
        [
            "pvc-1234",
            "10Gi",
            "RWO",
            "Delete",
            "Terminating",
            "default/data-web-0",
            "local-path",
            "<unset>",
            "",
            "10m",
            "Filesystem"
        ]
    );
}

#[test]
fn storage_class_default_suffix() {
    let default = json!({
        "metadata": {
            "name": "local-path", "creationTimestamp": ago(secs(86400)),
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "ordinal.dev/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    });
    assert_eq!(
        row("storage.k8s.io", "storageclasses", default),
        json!([
            "local-path (default)",
            "ordinal.dev/local-path",
            "Delete",
            "WaitForFirstConsumer",
            false,
            "24h"
        ])
        .as_array()
        .unwrap()
        .as_slice()
    );
    let other = json!({
        "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
        "provisioner": "x", "reclaimPolicy": "Retain", "allowVolumeExpansion": true,
    });
    let cells = row("storage.k8s.io", "storageclasses", other);
    assert_eq!(cells[0], "fast");
    assert_eq!(cells[2], "Retain");
    assert_eq!(cells[3], "Immediate");
    assert_eq!(cells[4], true);
}

#[test]
fn runtime_class_name_handler_age() {
    assert_eq!(
        headers("node.k8s.io", "runtimeclasses"),
        ["Name", "Handler", "Age"]
    );
    let defs = column_definitions(resource("node.k8s.io", "runtimeclasses"));
    assert_eq!(defs[1]["description"], "");
    let class = json!({
        "metadata": {"name": "host", "creationTimestamp": ago(secs(90))},
        "handler": "host",
    });
    assert_eq!(
        row("node.k8s.io", "runtimeclasses", class),
        json!(["host", "host", "90s"])
            .as_array()
            .unwrap()
            .as_slice()
    );
    // A class without a handler (not valid, but stored by someone) prints.
    let odd = json!({"metadata": {"name": "odd"}});
    assert_eq!(
        row("node.k8s.io", "runtimeclasses", odd),
        json!(["odd", "", "<unknown>"])
            .as_array()
            .unwrap()
            .as_slice()
    );
}

// --- nodes, namespaces, events, leases -----------------------------------------

#[test]
fn node_roles_status_and_wide_cells() {
    let node = json!({
        "metadata": {
            "name": "node-1", "creationTimestamp": ago(secs(10 * 86400)),
            "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/worker": "",
                "node-role.kubernetes.io/": "",
                "kubernetes.io/role": "etcd",
                "kubernetes.io/hostname": "node-1",
            },
        },
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0"},
        },
    });
    assert_eq!(
        row("", "nodes", node),
        [
            "node-1",
            "Ready,SchedulingDisabled",
            "control-plane,etcd,worker",
            "10d",
            "v1.33.0",
            "192.168.1.10",
            "<none>",
            "Debian GNU/Linux 12 (bookworm)",
            "6.1.0",
            "<unknown>"
        ]
    );
    let bare = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    let cells = row("", "nodes", bare);
    assert_eq!(cells[1], "NotReady");
    assert_eq!(cells[2], "<none>");
    let no_status = json!({"metadata": {"name": "n"}});
    assert_eq!(row("", "nodes", no_status)[1], "Unknown");
}

#[test]
fn namespaces_configmaps_secrets_serviceaccounts_leases() {
    let t = ago(secs(400 * 86400));
    let ns = json!({"metadata": {"name": "default", "creationTimestamp": t}, "status": {"phase": "Active"}});
    assert_eq!(row("", "namespaces", ns), ["default", "Active", "400d"]);

    let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": t}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(
        row("", "configmaps", cm),
        json!(["cfg", 3, "400d"]).as_array().unwrap().as_slice()
    );

    let secret = json!({"metadata": {"name": "s", "creationTimestamp": t}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        row("", "secrets", secret),
        json!(["s", "kubernetes.io/tls", 2, "400d"])
            .as_array()
            .unwrap()
            .as_slice()
    );
    let opaque =
        json!({"metadata": {"name": "o"}, "data": {"a": ""}, "stringData": {"a": "x", "b": "y"}});
    assert_eq!(
        row("", "secrets", opaque),
        json!(["o", "Opaque", 2, "<unknown>"])
            .as_array()
            .unwrap()
            .as_slice()
    );

    let sa = json!({"metadata": {"name": "default", "creationTimestamp": t}});
    assert_eq!(
        row("", "serviceaccounts", sa),
        json!(["default", 0, "400d"]).as_array().unwrap().as_slice()
    );

    let lease = json!({"metadata": {"name": "ordinal-controller", "creationTimestamp": t}, "spec": {"holderIdentity": "host-1_abc"}});
    assert_eq!(
        row("coordination.k8s.io", "leases", lease),
        ["ordinal-controller", "host-1_abc", "400d"]
    );
}

#[test]
fn event_columns_open_with_last_seen_and_end_with_name() {
    let want = [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject*",
        "Source*",
        "Message",
        "First Seen*",
        "Count*",
        "Name*",
    ];
    assert_eq!(headers("", "events"), want);
    assert_eq!(headers("events.k8s.io", "events"), want);
    let name = columns(resource("", "events")).last().unwrap();
    assert_eq!(name.format, "name");
    assert!(
        columns(resource("", "events"))[..9]
            .iter()
            .all(|c| c.format.is_empty())
    );
}

#[test]
fn core_event() {
    let event = json!({
        "metadata": {"name": "web-0.17f", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled", "type": "Normal",
        "message": "  Container image already present on machine\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(secs(3 * 3600)),
        "lastTimestamp": ago(secs(65)),
        "count": 4,
    });
    assert_eq!(
        row("", "events", event),
        json!([
            "65s",
            "Normal",
            "Pulled",
            "pod/web-0",
            "spec.containers{app}",
            "kubelet, node-1",
            "Container image already present on machine",
            "3h",
            4,
            "web-0.17f"
        ])
        .as_array()
        .unwrap()
        .as_slice()
    );
}

#[test]
fn new_style_events() {
    // Core shape written by an events.k8s.io client: eventTime, series, reportingComponent.
    let series = json!({
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "StatefulSet"},
        "reason": "SuccessfulCreate", "type": "Normal", "message": "create Pod web-1",
        "eventTime": "2025-06-01T11:50:00.000000Z",
        "series": {"count": 7, "lastObservedTime": "2025-06-01T11:59:00.000000Z"},
        "reportingComponent": "statefulset-controller",
        "reportingInstance": "ordinal-1",
    });
    let cells = row("", "events", series);
    assert_eq!(cells[0], "60s");
    assert_eq!(cells[3], "statefulset");
    assert_eq!(cells[5], "statefulset-controller, ordinal-1");
    assert_eq!(cells[7], "10m");
    assert_eq!(cells[8], 7);

    // events.k8s.io/v1 shape.
    let v1 = json!({
        "metadata": {"name": "e2"},
        "regarding": {"kind": "Pod", "name": "web-1"},
        "reason": "Scheduled", "type": "Normal", "note": "assigned",
        "eventTime": "2025-06-01T11:59:50.000000Z",
        "reportingController": "ordinal-scheduler",
    });
    let cells = row("events.k8s.io", "events", v1);
    assert_eq!(
        cells,
        json!([
            "10s",
            "Normal",
            "Scheduled",
            "pod/web-1",
            "",
            "ordinal-scheduler",
            "assigned",
            "10s",
            1,
            "e2"
        ])
        .as_array()
        .unwrap()
        .as_slice()
    );

    // No timestamps at all.
    let bare = json!({"metadata": {"name": "e3"}});
    let cells = row("", "events", bare);
    assert_eq!(cells[0], "<unknown>");
    assert_eq!(cells[7], "<unknown>");
    assert_eq!(cells[8], 1);
}

// --- apps -------------------------------------------------------------------

#[test]
fn statefulset() {
    let set = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(secs(125))},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.27"},
                {"name": "log", "image": "busybox"},
            ]}},
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    });
    assert_eq!(
        headers("apps", "statefulsets"),
        ["Name", "Ready", "Age", "Containers*", "Images*"]
    );
    assert_eq!(
        row("apps", "statefulsets", set),
        ["web", "2/3", "2m5s", "nginx,log", "nginx:1.27,busybox"]
    );
    let defaulted = json!({"metadata": {"name": "db"}, "spec": {}});
    assert_eq!(
        row("apps", "statefulsets", defaulted),
        ["db", "0/1", "<unknown>", "", ""]
    );
}

#[test]
fn deployment() {
    let deployment = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(secs(3 * 3600 + 300))},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}},
        },
        "status": {"replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3},
    });
    assert_eq!(
        headers("apps", "deployments"),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    assert_eq!(
        Value::Array(row("apps", "deployments", deployment)),
        json!([
            "web",
            "3/3",
            2,
            3,
            "3h5m",
            "nginx",
            "nginx:1.27",
            "app=web,tier in (fe)"
        ])
    );
    // Fresh from the server (kubectl create deployment): an empty status.
    let fresh = json!({"metadata": {"name": "api"}, "spec": {"replicas": 1,
        "selector": {"matchLabels": {"app": "api"}}}, "status": {}});
    assert_eq!(
        Value::Array(row("apps", "deployments", fresh)),
        json!(["api", "0/1", 0, 0, "<unknown>", "", "", "app=api"])
    );
    let odd = json!({"metadata": {"name": "x"}, "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}});
    assert_eq!(row("apps", "deployments", odd)[7], "<invalid>");
    let columns = column_definitions(resource("apps", "deployments"));
    assert_eq!(columns[2]["type"], "string");
    assert_eq!(
        columns[3]["description"],
        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."
    );
}

#[test]
fn replica_set() {
    let set = json!({
        "metadata": {"name": "web-5d4f8c7b9", "creationTimestamp": ago(secs(59))},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}},
            "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.27"},
                {"name": "log", "image": "busybox"},
            ]}},
        },
        "status": {"replicas": 2, "readyReplicas": 1},
    });
    assert_eq!(
        headers("apps", "replicasets"),
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    assert_eq!(
        Value::Array(row("apps", "replicasets", set)),
        json!([
            "web-5d4f8c7b9",
            3,
            2,
            1,
            "59s",
            "nginx,log",
            "nginx:1.27,busybox",
            "app=web,pod-template-hash=5d4f8c7b9"
        ])
    );
    let bare = json!({"metadata": {"name": "x"}, "spec": {"replicas": 0}});
    assert_eq!(
        Value::Array(row("apps", "replicasets", bare)),
        json!(["x", 0, 0, 0, "<unknown>", "", "", "<none>"])
    );
    let columns = column_definitions(resource("apps", "replicasets"));
    assert_eq!(
        (columns[1]["type"].as_str(), columns[3]["type"].as_str()),
        (Some("integer"), Some("integer"))
    );
}

#[test]
fn controller_revision() {
    let rev = json!({
        "metadata": {
            "name": "web-7d4b9c", "creationTimestamp": ago(secs(3600)),
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "not-controller"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true},
            ],
        },
        "revision": 2,
    });
    assert_eq!(
        headers("apps", "controllerrevisions"),
        ["Name", "Controller", "Revision", "Age"]
    );
    assert_eq!(
        row("apps", "controllerrevisions", rev),
        json!(["web-7d4b9c", "statefulset.apps/web", 2, "60m"])
            .as_array()
            .unwrap()
            .as_slice()
    );
    let orphan = json!({"metadata": {"name": "r"}, "revision": 1});
    assert_eq!(row("apps", "controllerrevisions", orphan)[1], "<none>");
    let core_owner = json!({"metadata": {"name": "r", "ownerReferences": [
        {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true},
    ]}});
    assert_eq!(row("apps", "controllerrevisions", core_owner)[1], "pod/p");
}

// --- the whole registry ---------------------------------------------------------

#[test]
fn every_resource_has_a_printer_and_definitions() {
    for resource in RESOURCES {
        let cols = columns(resource);
        // Upstream prints roles and CRDs with exactly the default table's
        // columns (NAME, CREATED AT), and has no printer for the create-only
        // reviews (they are never listed); every other resource has its own.
        let default_like = (resource.group == "rbac.authorization.k8s.io"
            && matches!(resource.plural, "roles" | "clusterroles"))
            || resource.plural == "customresourcedefinitions"
            || resource.verbs == ["create"];
        assert_eq!(
            cols == DEFAULT_COLUMNS,
            default_like,
            "{} falls back to the default table",
            resource.qualified_name()
        );
        assert_eq!(
            cols.iter().filter(|c| c.format == "name").count(),
            1,
            "{}: exactly one name column",
            resource.qualified_name()
        );
        // Upstream documents every column but RuntimeClass's Handler.
        assert!(cols.iter().all(|c| !c.description.is_empty()
            || (resource.plural, c.name) == ("runtimeclasses", "Handler")));
        let defs = column_definitions(resource);
        let defs = defs.as_array().unwrap();
        assert_eq!(defs.len(), cols.len());
        // Cells for an empty object still line up with the columns.
        assert_eq!(cells(resource, &json!({}), now()).len(), cols.len());
    }
}

#[test]
fn column_definition_json() {
    let defs = column_definitions(resource("", "pods"));
    assert_eq!(
        defs[0],
        json!({"name": "Name", "type": "string", "format": "name", "description": desc::META_NAME, "priority": 0})
    );
    assert_eq!(defs[5]["name"], "IP");
    assert_eq!(defs[5]["priority"], 1);
    assert_eq!(defs[5]["format"], "");
}

#[test]
fn unknown_resources_get_the_default_table() {
    let unknown = Resource {
        plural: "widgets",
        group: "example.com",
        strategy: &crate::registry::Plain,
        ..*resource("", "configmaps")
    };
    assert_eq!(
        column_definitions(&unknown),
        json!([
            {"name": "Name", "type": "string", "format": "name", "description": desc::META_NAME, "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": desc::META_CREATED, "priority": 0},
        ])
    );
    let widget = json!({"metadata": {"name": "w", "creationTimestamp": "2025-01-02T03:04:05Z"}});
    assert_eq!(
        cells(&unknown, &widget, now()),
        ["w", "2025-01-02T03:04:05Z"]
    );
    assert_eq!(
        cells(&unknown, &json!({}), now()),
        ["", "0001-01-01T00:00:00Z"]
    );
}
