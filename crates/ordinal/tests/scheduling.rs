//! End to end, with the real kubectl: RuntimeClasses (the `host` class
//! `ordinal up` makes, RuntimeClass admission of pods) and the scheduler's
//! resource and host-port fit. Pods land on stand-in nodes
//! (`common::node`, 4 CPUs each) so nothing runs; the API server, the
//! admission and the scheduler are ordinal's own.
//!
//! Every wait is a bounded poll.

mod common;

use std::time::Duration;

use common::node::start_with_stand_in_nodes;
use common::{Ordinal, eventually, peek};

const WAIT: Duration = Duration::from_secs(60);

/// A jsonpath of one object; empty when it does not exist.
/// `reason: message` of the events about an object.
fn events_of(o: &Ordinal, name: &str) -> Vec<String> {
    let out = o.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    out.lines().map(str::to_string).collect()
}

/// A pod of one container asking for `cpu`, with a host port when given.
fn pod(name: &str, cpu: &str, host_port: Option<u16>) -> String {
    let ports = host_port
        .map(|p| format!("\n    ports: [{{containerPort: 80, hostPort: {p}}}]"))
        .unwrap_or_default();
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: server
    command: [/bin/sleep, infinity]
    resources: {{requests: {{cpu: "{cpu}"}}}}{ports}
"#
    )
}

/// The words of each line of `kubectl get` output (column widths vary).
fn table(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn the_host_runtime_class_is_made_at_start_and_unknown_classes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Ordinal::start_on_with(dir.path(), &["--no-node"]);
    let rows = table(&o.ok(&["get", "runtimeclass"]));
    assert_eq!(rows[0], ["NAME", "HANDLER", "AGE"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][..2], ["host", "host"]);
    assert_eq!(
        peek(
            &o,
            "runtimeclass/host",
            "{.metadata.labels.app\\.kubernetes\\.io/managed-by}"
        ),
        "ordinal"
    );

    // A pod naming a class that does not exist: 403 in upstream's words.
    let manifest = r#"
apiVersion: v1
kind: Pod
metadata: {name: lost}
spec:
  runtimeClassName: nope
  containers: [{name: c, image: server, command: [/bin/sleep, infinity]}]
"#;
    let out = o.run_stdin(&["apply", "-f", "-"], manifest);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"lost\" is forbidden: pod rejected: RuntimeClass \"nope\" not found"
    );
    assert_eq!(peek(&o, "pod/lost", "{.metadata.name}"), "");
    // Naming `host` is fine.
    o.ok_stdin(
        &["apply", "-f", "-"],
        &manifest
            .replace("nope", "host")
            .replace("name: lost", "name: hosted"),
    );
    assert_eq!(peek(&o, "pod/hosted", "{.spec.runtimeClassName}"), "host");

    // Edits survive; a deleted class stays deleted while ordinal runs and
    // is made again by the next start.
    o.ok(&["label", "runtimeclass", "host", "edited=yes"]);
    o.terminate();
    let mut o = Ordinal::start_on_with(dir.path(), &["--no-node"]);
    assert_eq!(
        peek(&o, "runtimeclass/host", "{.metadata.labels.edited}"),
        "yes"
    );
    o.ok(&["delete", "runtimeclass", "host"]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(peek(&o, "runtimeclass/host", "{.metadata.name}"), "");
    o.terminate();
    let o = Ordinal::start_on_with(dir.path(), &["--no-node"]);
    assert_eq!(peek(&o, "runtimeclass/host", "{.handler}"), "host");
    assert_eq!(
        peek(&o, "runtimeclass/host", "{.metadata.labels.edited}"),
        ""
    );
}

#[test]
fn pods_that_do_not_fit_wait_pending_with_upstreams_reasons() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);

    // More CPU than the node has.
    o.ok_stdin(&["apply", "-f", "-"], &pod("hog", "5", None));
    eventually("the hog is refused for its CPU", WAIT, || {
        events_of(&o, "hog").iter().any(|e| {
            e == "FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        })
    });
    assert_eq!(peek(&o, "pod/hog", "{.status.phase}"), "Pending");
    assert_eq!(
        peek(
            &o,
            "pod/hog",
            "{.status.conditions[?(@.type==\"PodScheduled\")].reason}"
        ),
        "Unschedulable"
    );

    // Pods already on the node count: 3 of 4 CPUs taken, 2 do not fit.
    o.ok_stdin(&["apply", "-f", "-"], &pod("first", "3", Some(8080)));
    eventually("the first pod runs", WAIT, || {
        peek(&o, "pod/first", "{.status.phase}") == "Running"
    });
    o.ok_stdin(&["apply", "-f", "-"], &pod("second", "2", None));
    // The same host port, with room to spare.
    o.ok_stdin(&["apply", "-f", "-"], &pod("same-port", "0", Some(8080)));
    eventually("the second pod is refused for its CPU", WAIT, || {
        events_of(&o, "second").iter().any(|e| {
            e.ends_with("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
        })
    });
    eventually("the same host port is refused", WAIT, || {
        events_of(&o, "same-port").iter().any(|e| {
            e == "FailedScheduling: 0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        })
    });
    for name in ["second", "same-port"] {
        assert_eq!(peek(&o, &format!("pod/{name}"), "{.spec.nodeName}"), "");
    }

    // The first pod goes: its CPU and port are free again, and the waiting
    // pods are tried again without anything else changing.
    o.ok(&["delete", "pod", "first", "--wait=true"]);
    for name in ["second", "same-port"] {
        eventually(&format!("{name} lands on node-1"), WAIT, || {
            peek(&o, &format!("pod/{name}"), "{.spec.nodeName}") == "node-1"
        });
    }
    // The hog still does not fit anywhere.
    assert_eq!(peek(&o, "pod/hog", "{.spec.nodeName}"), "");
}
