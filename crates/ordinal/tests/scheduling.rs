//! End to end, with the real kubectl: RuntimeClasses (the `host` class
//! `ordinal up` makes, RuntimeClass admission of pods), PriorityClasses
//! and Priority admission, and the scheduler: resource and host-port fit,
//! pod anti-affinity, spreading a set over nodes, preemption. Pods land
//! on stand-in nodes (`common::node`, 4 CPUs each) so nothing runs; the
//! API server, the admission and the scheduler are ordinal's own. Two
//! tests join real `ordinal node` agents instead: one spreads a set over
//! them, one loses a node (upstream's non-graceful node shutdown).
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

/// A StatefulSet `web` of `replicas` pods asking for `cpu` each, with
/// `extra` spliced into the pod spec (indented for it).
fn web_set(replicas: u32, cpu: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:{extra}
      containers:
      - name: c
        image: server
        command: [/bin/sleep, infinity]
        resources: {{requests: {{cpu: "{cpu}"}}}}
"#
    )
}

const ANTI_AFFINITY: &str = r#"
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: web}}
            topologyKey: kubernetes.io/hostname"#;

#[test]
fn a_required_anti_affinity_keeps_the_second_replica_pending_until_a_node_joins() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(&["apply", "-f", "-"], &web_set(2, "100m", ANTI_AFFINITY));
    eventually("web-0 runs", WAIT, || {
        peek(&o, "pod/web-0", "{.status.phase}") == "Running"
    });
    let expected = "FailedScheduling: 0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";
    eventually("web-1 is refused for its anti-affinity", WAIT, || {
        events_of(&o, "web-1").iter().any(|e| e == expected)
    });
    assert_eq!(peek(&o, "pod/web-1", "{.status.phase}"), "Pending");
    assert_eq!(
        peek(
            &o,
            "pod/web-1",
            "{.status.conditions[?(@.type==\"PodScheduled\")].status}"
        ),
        "False"
    );
    let described = o.ok(&["describe", "pod", "web-1"]);
    assert!(
        described.contains("didn't match pod anti-affinity rules"),
        "{described}"
    );

    // A second node joins: web-1 goes there, never next to web-0.
    let _more = common::node::StandInNodes::start(o.kubeconfig(), &["node-2"]);
    eventually("web-1 lands on node-2", WAIT, || {
        peek(&o, "pod/web-1", "{.spec.nodeName}") == "node-2"
    });
    assert_eq!(peek(&o, "pod/web-0", "{.spec.nodeName}"), "node-1");
}

#[test]
fn the_pods_of_a_set_spread_over_the_nodes() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1", "node-2"]);
    o.ok_stdin(&["apply", "-f", "-"], &web_set(4, "0", ""));
    eventually("four replicas run", WAIT, || {
        (0..4).all(|i| peek(&o, &format!("pod/web-{i}"), "{.status.phase}") == "Running")
    });
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..4 {
        *per_node
            .entry(peek(&o, &format!("pod/web-{i}"), "{.spec.nodeName}"))
            .or_default() += 1;
    }
    assert_eq!(
        per_node,
        [("node-1".to_string(), 2), ("node-2".to_string(), 2)].into()
    );
}

#[test]
fn priority_classes_set_pod_priority_and_a_higher_priority_pod_preempts() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);

    // The built-in classes, in upstream's table.
    let rows = table(&o.ok(&["get", "priorityclass"]));
    assert_eq!(
        rows[0],
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["system-cluster-critical", "system-node-critical"]);
    assert_eq!(rows[2][1..3], ["2000001000", "false"]);
    let out = o.run(&["delete", "priorityclass", "system-node-critical"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server (Forbidden): priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
    );

    // Reserved names and user values above one billion are refused.
    let class = |name: &str, value: i64| {
        format!(
            "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: {name}}}\nvalue: {value}\n"
        )
    };
    let out = o.run_stdin(&["apply", "-f", "-"], &class("system-mine", 5));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // kubectl's generator sends protobuf.
    o.ok(&[
        "create",
        "priorityclass",
        "high",
        "--value=1000",
        "--description=urgent work",
    ]);
    assert_eq!(
        peek(&o, "priorityclass/high", "{.preemptionPolicy}"),
        "PreemptLowerPriority"
    );
    let described = o.ok(&["describe", "priorityclass", "high"]);
    for line in ["Value:", "1000", "GlobalDefault:", "false", "urgent work"] {
        assert!(described.contains(line), "{described}");
    }
    let out = o.run(&[
        "create",
        "priorityclass",
        "other",
        "--value=5",
        "--global-default",
    ]);
    assert!(out.status.success());
    let out = o.run(&[
        "create",
        "priorityclass",
        "second",
        "--value=6",
        "--global-default",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: failed to create priorityclass: priorityclasses.scheduling.k8s.io \"second\" is forbidden: PriorityClass other is already marked as default. Only one default can exist"
    );
    o.ok(&["delete", "priorityclass", "other"]);

    // An unknown class refuses the pod, in upstream's words.
    let out = o.run_stdin(
        &["apply", "-f", "-"],
        &pod("lost", "0", None).replace("spec:\n", "spec:\n  priorityClassName: nope\n"),
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"lost\" is forbidden: no PriorityClass with name nope was found"
    );

    // A low-priority pod takes 3 of the node's 4 CPUs.
    o.ok_stdin(&["apply", "-f", "-"], &pod("low", "3", None));
    eventually("the low pod runs", WAIT, || {
        peek(&o, "pod/low", "{.status.phase}") == "Running"
    });
    assert_eq!(peek(&o, "pod/low", "{.spec.priority}"), "0");
    let low_uid = peek(&o, "pod/low", "{.metadata.uid}");

    // The high-priority pod needs 2: the low one is preempted.
    o.ok_stdin(
        &["apply", "-f", "-"],
        &pod("urgent", "2", None).replace("spec:\n", "spec:\n  priorityClassName: high\n"),
    );
    assert_eq!(peek(&o, "pod/urgent", "{.spec.priority}"), "1000");
    let urgent_uid = peek(&o, "pod/urgent", "{.metadata.uid}");
    eventually("the urgent pod lands on node-1", WAIT, || {
        peek(&o, "pod/urgent", "{.spec.nodeName}") == "node-1"
    });
    let gone_or_replaced = peek(&o, "pod/low", "{.metadata.uid}");
    assert_ne!(gone_or_replaced, low_uid);
    eventually("the low pod's Preempted event", WAIT, || {
        events_of(&o, "low")
            .iter()
            .any(|e| e == &format!("Preempted: Preempted by pod {urgent_uid} on node node-1"))
    });
    assert!(
        events_of(&o, "urgent")
            .iter()
            .any(|e| e == "FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu."),
        "{:?}",
        events_of(&o, "urgent")
    );
}

/// Two real node agents join one `ordinal up`: a set with a required
/// anti-affinity runs one replica on each, and a third waits.
#[test]
fn node_agents_join_and_anti_affinity_puts_one_replica_on_each() {
    let o = Ordinal::start_with(&["--no-node"]);
    let tmp = tempfile::tempdir().unwrap();
    let mut agents = Vec::new();
    for name in ["agent-1", "agent-2"] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        agents.push(common::node_agent(&o, name, &dir));
    }
    eventually("both nodes are Ready", WAIT, || {
        o.ok(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
        ])
        .lines()
        .filter(|l| *l == "True")
        .count()
            == 2
    });
    let set = format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:{ANTI_AFFINITY}
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {image}
        command: [sleep, "3600"]
"#,
        image = common::images::BUSYBOX
    );
    o.ok_stdin(&["apply", "-f", "-"], &set);
    eventually("two replicas run", WAIT, || {
        (0..3)
            .filter(|i| peek(&o, &format!("pod/web-{i}"), "{.status.phase}") == "Running")
            .count()
            == 2
    });
    let mut nodes: Vec<String> = (0..3)
        .map(|i| peek(&o, &format!("pod/web-{i}"), "{.spec.nodeName}"))
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["", "agent-1", "agent-2"]);
    let waiting = (0..3)
        .find(|i| peek(&o, &format!("pod/web-{i}"), "{.spec.nodeName}").is_empty())
        .unwrap();
    eventually("the third is refused in upstream's words", WAIT, || {
        events_of(&o, &format!("web-{waiting}")).iter().any(|e| {
            e == "FailedScheduling: 0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        })
    });
    o.ok(&["delete", "statefulset", "web", "--wait=true"]);
    eventually("the pods are gone", WAIT, || {
        o.ok(&["get", "pods", "-o", "name"]).trim().is_empty()
    });
    for mut a in agents {
        // SIGTERM: the agent shuts down as on Ctrl-C.
        let _ = std::process::Command::new("kill")
            .arg(a.id().to_string())
            .status();
        let _ = a.wait();
    }
}

/// A node agent whose process a test freezes, resumes and stops. Dropped,
/// it is resumed and stopped as on Ctrl-C (SIGTERM), so its pods, bridge
/// and rules go with it; SIGKILL only if it does not exit in time.
struct Agent {
    child: std::process::Child,
}

impl Agent {
    fn signal(&self, signal: i32) {
        // SAFETY: a signal to our own child, which we have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Upstream's non-graceful node shutdown with two real agents. A node
/// that stops reporting keeps its pod — the same pod, not Ready, never a
/// second one with its identity — until the user taints it
/// `node.kubernetes.io/out-of-service`; then the pod is force-deleted,
/// and the StatefulSet makes it again on the node that works. No
/// volumes: a local-path volume is pinned to its node, so a pod with one
/// could not move.
#[test]
fn a_lost_node_keeps_its_pod_until_it_is_tainted_out_of_service() {
    // The agents renew their Leases every 10 s: 20 s of grace never fails
    // a working node and notices a silent one within 25 s.
    let o = Ordinal::start_with(&["--no-node", "--node-monitor-grace-period", "20"]);
    let tmp = tempfile::tempdir().unwrap();
    let mut agents = std::collections::BTreeMap::new();
    for name in ["agent-1", "agent-2"] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        agents.insert(
            name.to_string(),
            Agent {
                child: common::node_agent(&o, name, &dir),
            },
        );
    }
    let ready = |node: &str| {
        peek(
            &o,
            &format!("node/{node}"),
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        )
    };
    eventually("both nodes are Ready", WAIT, || {
        ready("agent-1") == "True" && ready("agent-2") == "True"
    });
    // Its containers sleep for a time no other process here names.
    let marker = "7201913";
    let set = format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector: {{matchLabels: {{app: web}}}}
              topologyKey: kubernetes.io/hostname
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {image}
        command: [sleep, "{marker}"]
"#,
        image = common::images::BUSYBOX
    );
    o.ok_stdin(&["apply", "-f", "-"], &set);
    let field = |pod: &str, path: &str| peek(&o, &format!("pod/{pod}"), path);
    eventually("both replicas run", WAIT, || {
        (0..2).all(|i| field(&format!("web-{i}"), "{.status.phase}") == "Running")
    });
    let lost = field("web-1", "{.spec.nodeName}");
    let live = field("web-0", "{.spec.nodeName}");
    assert_ne!(lost, live, "the preferred anti-affinity spreads the set");
    let (uid0, uid1) = (
        field("web-0", "{.metadata.uid}"),
        field("web-1", "{.metadata.uid}"),
    );
    assert_eq!(common::processes_with(marker).len(), 2);

    // The machine is cut off: its agent is frozen (its pods' processes
    // run on, as on a machine that lost its network).
    agents[&lost].signal(libc::SIGSTOP);
    eventually("the lost node is NotReady", Duration::from_secs(90), || {
        ready(&lost) == "Unknown"
    });
    eventually("its pod is not Ready", WAIT, || {
        field("web-1", "{.status.conditions[?(@.type==\"Ready\")].status}") == "False"
    });
    // Kept: the same pod on the same node, and no other.
    for _ in 0..8 {
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(field("web-1", "{.metadata.uid}"), uid1);
        assert_eq!(field("web-1", "{.spec.nodeName}"), lost);
        assert_eq!(field("web-1", "{.metadata.deletionTimestamp}"), "");
        let pods = o.ok(&["get", "pods", "-o", "name"]);
        assert_eq!(pods.lines().count(), 2, "{pods}");
    }

    // The user says the machine is off for good.
    o.ok(&[
        "taint",
        "node",
        &lost,
        "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute",
    ]);
    eventually("web-1 runs again on the live node", WAIT, || {
        let uid = field("web-1", "{.metadata.uid}");
        !uid.is_empty()
            && uid != uid1
            && field("web-1", "{.spec.nodeName}") == live
            && field("web-1", "{.status.phase}") == "Running"
    });
    assert_eq!(field("web-0", "{.metadata.uid}"), uid0);
    eventually("the eviction's event", WAIT, || {
        events_of(&o, "web-1")
            .iter()
            .any(|e| e == "TaintManagerEviction: Marking for deletion Pod default/web-1")
    });
    // The old pod's process still runs on the frozen machine.
    assert_eq!(common::processes_with(marker).len(), 3);
    let new_ip = field("web-1", "{.status.podIP}");
    let new_host = field("web-1", "{.status.hostIP}");
    assert!(!new_ip.is_empty());

    // The machine comes back: its agent stops the pod that was deleted,
    // and writes nothing over the new one.
    agents[&lost].signal(libc::SIGCONT);
    eventually("the lost node's old pod has stopped", WAIT, || {
        common::processes_with(marker).len() == 2
    });
    eventually("the node is Ready again", WAIT, || ready(&lost) == "True");
    assert_eq!(field("web-1", "{.spec.nodeName}"), live);
    assert_eq!(field("web-1", "{.status.podIP}"), new_ip);
    assert_eq!(field("web-1", "{.status.hostIP}"), new_host);
    assert_eq!(field("web-1", "{.status.phase}"), "Running");

    o.ok(&["delete", "statefulset", "web", "--wait=true"]);
    eventually("the pods are gone", WAIT, || {
        o.ok(&["get", "pods", "-o", "name"]).trim().is_empty()
    });
    drop(agents);
    assert!(common::processes_with(marker).is_empty());
}
