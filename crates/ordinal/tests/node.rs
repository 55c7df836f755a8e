//! The node agent end to end: pods that really run, as kubectl shows them.
//!
//! These pods name their node (`spec.nodeName`), so they exercise the
//! agent alone; StatefulSet pods reach it through the scheduler in
//! `statefulset.rs` and `volumes.rs`. The servers are busybox's.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Ordinal, apply, eventually, get, node_name};

/// GET / from the host (pods are reachable on their bridge addresses).
fn http_get(ip: &str, port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("{ip}:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A pod serving, with busybox httpd on port 80, a page an init container
/// wrote into an emptyDir (the pod's hostname and its environment).
fn web_pod(name: &str, node: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: web}}}}
spec:
  nodeName: {node}
  subdomain: web
  initContainers:
  - name: page
    image: busybox:1.36
    command: ["sh", "-c", "echo \"I am $(hostname) in $(POD_NAMESPACE) at $(POD_IP)\" > /www/index.html"]
    env:
    - {{name: POD_NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
    - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    volumeMounts: [{{name: www, mountPath: /www}}]
  containers:
  - name: httpd
    image: busybox:1.36
    command: ["busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    ports: [{{name: http, containerPort: 80}}]
    readinessProbe:
      httpGet: {{path: /, port: http}}
      periodSeconds: 5
    volumeMounts: [{{name: www, mountPath: /www, readOnly: true}}]
  volumes:
  - {{name: www, emptyDir: {{}}}}
"#
    )
}

#[test]
fn pods_run_in_their_own_namespaces_and_become_ready() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(&o, &web_pod("web-a", &node));
    apply(&o, &web_pod("web-b", &node));
    // kubectl wait returns once the readiness probe passes.
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/web-a",
        "pod/web-b",
        "--timeout=60s",
    ]);
    let table = o.ok(&["get", "pods"]);
    for pod in ["web-a", "web-b"] {
        let row = table.lines().find(|l| l.starts_with(pod)).expect(pod);
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[1..4], &["1/1", "Running", "0"], "{table}");
    }
    // Both listen on port 80: each pod has its own network namespace and
    // address, and its own hostname.
    let ip_a = get(&o, "pod/web-a", "{.status.podIP}");
    let ip_b = get(&o, "pod/web-b", "{.status.podIP}");
    assert_ne!(ip_a, ip_b);
    let page = http_get(&ip_a, 80).unwrap();
    assert!(
        page.contains(&format!("I am web-a in default at {ip_a}")),
        "{page}"
    );
    let page = http_get(&ip_b, 80).unwrap();
    assert!(page.contains("I am web-b in default"), "{page}");
    // Status as kubelet reports it.
    assert_eq!(
        get(
            &o,
            "pod/web-a",
            "{.status.initContainerStatuses[0].state.terminated.reason}"
        ),
        "Completed"
    );
    assert_eq!(
        get(&o, "pod/web-a", "{.status.hostIP}"),
        get(
            &o,
            &format!("node/{node}"),
            "{.status.addresses[0].address}"
        )
    );
    let conditions = get(
        &o,
        "pod/web-a",
        "{range .status.conditions[*]}{.type}={.status} {end}",
    );
    for c in [
        "PodReadyToStartContainers=True",
        "Initialized=True",
        "Ready=True",
        "ContainersReady=True",
        "PodScheduled=True",
    ] {
        assert!(conditions.contains(c), "{conditions}");
    }
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web-a",
    ]);
    assert!(events.contains("Started container httpd"), "{events}");
    // kubectl exec runs inside the pod: its hostname, its PID namespace
    // (the pause process is PID 1), its files; the exit code comes back.
    assert_eq!(o.ok(&["exec", "web-a", "--", "hostname"]).trim(), "web-a");
    let ps = o.ok(&["exec", "web-a", "-c", "httpd", "--", "ps", "-o", "pid,comm"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "pause"]),
        "{ps}"
    );
    let hosts = o.ok(&["exec", "web-a", "--", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!(
            "{ip_a}\tweb-a.web.default.svc.cluster.local\tweb-a"
        )),
        "{hosts}"
    );
    let out = o.run(&["exec", "web-a", "--", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    // Deleting is graceful and complete: the address answers no more.
    o.ok(&["delete", "pod", "web-a"]);
    assert!(http_get(&ip_a, 80).is_err(), "the pod's server is gone");
    assert!(http_get(&ip_b, 80).is_ok());
}

/// `kubectl exec -it` into a pod with its own PID namespace: the shell
/// leads a session of its own inside the pod, as a runtime's exec does, so
/// an interactive shell with job control hands the terminal back and
/// exits cleanly (it used to inherit a session from outside the pod and
/// end with "Cannot set tty process group", status 2).
#[test]
fn an_interactive_shell_leads_its_own_session_inside_the_pod() {
    use common::terminal::Terminal;
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(
        &o,
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: shell}}\nspec:\n  nodeName: {node}\n  containers:\n  - {{name: app, image: busybox:1.36, command: [sleep, '600']}}\n"
        ),
    );
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/shell",
        "--timeout=60s",
    ]);
    let (terminal, slave) = Terminal::open(30, 100);
    let mut kubectl = o.kubectl();
    kubectl.args(["exec", "-it", "shell", "--", "/bin/sh"]);
    Terminal::attach(&mut kubectl, &slave);
    let mut child = kubectl.spawn().unwrap();
    drop(slave);
    // pid, process group and session of the shell, as the pod sees them.
    terminal.type_text("echo ids $(cut -d' ' -f1,5,6 /proc/$$/stat)\r");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ids: Vec<String> = loop {
        let text = terminal.text();
        let ids: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().trim_start_matches("# ").strip_prefix("ids "))
            .next()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        if ids.len() == 3 {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "no ids; the terminal shows:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        ids[0] != "0" && ids.iter().all(|id| *id == ids[0]),
        "the shell leads its session and group inside the pod: {ids:?}"
    );
    terminal.type_text("exit\r");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "kubectl exec -it did not return");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(200));
    let text = terminal.text();
    assert!(status.success(), "{status}:\n{text}");
    assert!(!text.contains("Cannot set tty process group"), "{text}");
}

#[test]
fn a_crashing_container_backs_off_and_a_failed_liveness_probe_restarts() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: crasher}}
spec:
  nodeName: {node}
  containers:
  - {{name: main, image: busybox:1.36, command: ["sh", "-c", "echo trying; exit 3"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: sickly}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "touch /tmp/healthy; sleep 1; rm /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec: {{command: ["test", "-f", "/tmp/healthy"]}}
      periodSeconds: 1
      failureThreshold: 1
"#
        ),
    );
    eventually("CrashLoopBackOff", Duration::from_secs(30), || {
        o.ok(&["get", "pod", "crasher"])
            .contains("CrashLoopBackOff")
    });
    assert_eq!(
        get(
            &o,
            "pod/crasher",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "3"
    );
    assert_eq!(get(&o, "pod/crasher", "{.status.phase}"), "Running");
    let restarts: i32 = get(
        &o,
        "pod/crasher",
        "{.status.containerStatuses[0].restartCount}",
    )
    .parse()
    .unwrap();
    assert!(restarts >= 1);
    let described = o.ok(&["describe", "pod", "crasher"]);
    assert!(
        described.contains("Back-off restarting failed container main"),
        "{described}"
    );

    eventually(
        "the liveness probe restarts the container",
        Duration::from_secs(30),
        || {
            get(
                &o,
                "pod/sickly",
                "{.status.containerStatuses[0].restartCount}",
            )
            .parse::<i32>()
            .is_ok_and(|n| n >= 1)
        },
    );
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=sickly",
    ]);
    assert!(events.contains("Liveness probe failed"), "{events}");
    assert!(
        events.contains("Container main failed liveness probe, will be restarted"),
        "{events}"
    );
}

#[test]
fn restart_policies_finish_pods_and_missing_commands_are_explained() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: done}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers:
  - {{name: main, image: busybox:1.36, command: ["true"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: failed}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers:
  - {{name: main, image: busybox:1.36, command: ["sh", "-c", "exit 7"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: retried}}
spec:
  nodeName: {node}
  restartPolicy: OnFailure
  containers:
  - {{name: main, image: busybox:1.36, command: ["sh", "-c", "test -f /data/second && exit 0; touch /data/second; exit 1"], volumeMounts: [{{name: d, mountPath: /data}}]}}
  volumes: [{{name: d, emptyDir: {{}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: imageonly}}
spec:
  nodeName: {node}
  runtimeClassName: host
  containers:
  - {{name: nginx, image: nginx}}
---
apiVersion: v1
kind: Pod
metadata: {{name: missing}}
spec:
  nodeName: {node}
  containers:
  - {{name: main, image: busybox:1.36, command: ["/no/such/program"]}}
"#
        ),
    );
    eventually("pods finish", Duration::from_secs(30), || {
        get(&o, "pod/done", "{.status.phase}") == "Succeeded"
            && get(&o, "pod/failed", "{.status.phase}") == "Failed"
            && get(&o, "pod/retried", "{.status.phase}") == "Succeeded"
    });
    let table = o.ok(&["get", "pods"]);
    let status = |pod: &str| {
        table
            .lines()
            .find(|l| l.starts_with(pod))
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(status("done"), "Completed", "{table}");
    assert_eq!(status("failed"), "Error", "{table}");
    assert_eq!(
        get(
            &o,
            "pod/failed",
            "{.status.containerStatuses[0].state.terminated.exitCode}"
        ),
        "7"
    );
    assert_eq!(
        get(
            &o,
            "pod/retried",
            "{.status.containerStatuses[0].restartCount}"
        ),
        "1"
    );

    eventually(
        "a clear reason for a host-program container with no command",
        Duration::from_secs(20),
        || {
            get(
                &o,
                "pod/imageonly",
                "{.status.containerStatuses[0].state.waiting.reason}",
            ) == "CreateContainerError"
        },
    );
    let message = get(
        &o,
        "pod/imageonly",
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert!(message.contains("has no command"), "{message}");
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=imageonly",
    ]);
    assert!(
        events.contains("Warning") && events.contains("has no command"),
        "{events}"
    );

    eventually(
        "a program that does not exist",
        Duration::from_secs(20),
        || {
            get(
                &o,
                "pod/missing",
                "{.status.containerStatuses[0].lastState.terminated.reason}",
            ) == "StartError"
        },
    );
    let message = get(
        &o,
        "pod/missing",
        "{.status.containerStatuses[0].lastState.terminated.message}",
    );
    assert!(message.contains("/no/such/program"), "{message}");
}

#[test]
fn deletion_runs_pre_stop_then_sigterm_then_sigkill_after_the_grace_period() {
    let o = Ordinal::start();
    let node = node_name(&o);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().display();
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: stubborn}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "trap 'echo term >> /out/log' TERM; echo started >> /out/log; while true; do sleep 0.1; done"]
    lifecycle:
      preStop:
        exec: {{command: ["sh", "-c", "echo prestop >> /out/log"]}}
    volumeMounts: [{{name: out, mountPath: /out}}]
  volumes: [{{name: out, hostPath: {{path: "{dir}"}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: polite}}
spec:
  nodeName: {node}
  containers:
  - {{name: main, image: busybox:1.36, command: ["sleep", "3600"]}}
"#
        ),
    );
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/stubborn",
        "pod/polite",
        "--timeout=60s",
    ]);
    let log = out.path().join("log");
    eventually("the container started", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("started"))
    });
    let begun = Instant::now();
    o.ok(&["delete", "pod", "stubborn"]);
    let took = begun.elapsed();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec!["started", "prestop", "term"],
        "{text}"
    );
    // The shell ignores TERM (it traps it), so only SIGKILL at the end of
    // the 3 s grace period stops it.
    assert!(
        took >= Duration::from_millis(2900),
        "deleted after {took:?}"
    );
    // A plain process ends on SIGTERM at once: no wait for the grace.
    let begun = Instant::now();
    o.ok(&["delete", "pod", "polite"]);
    assert!(begun.elapsed() < Duration::from_secs(20));
    assert_eq!(o.ok(&["get", "pods", "-o", "name"]).trim(), "");
}

fn links_with(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// This instance's cgroups in the memory hierarchy (under the cgroup this
/// test runs in, which `ordinal up` inherits): the pod directories, or
/// `None` when the instance's root is gone.
fn pod_cgroups(bridge: &str) -> Option<usize> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = own
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| path.to_string())
        })
        .unwrap_or_default();
    let root = std::path::Path::new("/sys/fs/cgroup/memory")
        .join(path.trim_start_matches('/'))
        .join("ordinal")
        .join(bridge);
    let entries = std::fs::read_dir(&root).ok()?;
    Some(
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("pod"))
            .count(),
    )
}

/// The interface that holds `address`.
fn bridge_with(address: &str) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains(&format!("inet {address}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
}

#[test]
fn nothing_is_left_behind_by_deleted_pods_or_a_stopped_ordinal() {
    let mut o = Ordinal::start();
    let node = node_name(&o);
    let ns = format!("leak-{}", std::process::id());
    o.ok(&["create", "namespace", &ns]);
    let marker = format!("86400.{}", std::process::id());
    let mut manifest = String::new();
    for i in 0..100 {
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: {ns}}}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 5\n  containers:\n  - {{name: main, image: busybox:1.36, command: [sleep, \"{marker}\"]}}\n"
        ));
    }
    apply(&o, &manifest);
    eventually("100 pods running", Duration::from_secs(120), || {
        let phases = o.ok(&[
            "get",
            "pods",
            "-n",
            &ns,
            "-o",
            "jsonpath={.items[*].status.phase}",
        ]);
        phases
            .split_whitespace()
            .filter(|p| *p == "Running")
            .count()
            == 100
    });
    // This instance's bridge is the one holding the node's address; its
    // veths are named after the same slot.
    let address = get(
        &o,
        &format!("node/{node}"),
        "{.status.addresses[0].address}",
    );
    let bridge = bridge_with(&address).expect("the node's bridge");
    let veths = format!("o{}x", bridge.trim_start_matches("ordinal"));
    assert_eq!(common::processes_with(&marker).len(), 100);
    assert_eq!(links_with(&veths).len(), 100);
    assert_eq!(pod_cgroups(&bridge), Some(100), "a cgroup per pod");

    o.ok(&["delete", "pods", "--all", "-n", &ns, "--timeout=120s"]);
    eventually("every pod process is gone", Duration::from_secs(30), || {
        common::processes_with(&marker).is_empty()
    });
    let pauses = common::processes_with(&format!("{ns}/p"));
    assert!(pauses.is_empty(), "pause processes left: {pauses:?}");
    assert_eq!(links_with(&veths), Vec::<String>::new(), "veths left");
    assert_eq!(pod_cgroups(&bridge), Some(0), "pod cgroups left");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(o.dir.to_str().unwrap()),
        "no pod mount shows on the host"
    );

    // And with pods running, stopping ordinal stops them all and removes
    // the bridge and every veth.
    for i in 0..10 {
        o.ok(&[
            "run",
            &format!("last{i}"),
            "-n",
            &ns,
            "--image=busybox:1.36",
            "--restart=Never",
            "--overrides",
            &format!(r#"{{"spec": {{"nodeName": "{node}"}}}}"#),
            "--command",
            "--",
            "sleep",
            &marker,
        ]);
    }
    eventually("10 pods running", Duration::from_secs(60), || {
        common::processes_with(&marker).len() == 10
    });
    assert_eq!(links_with(&veths).len(), 10);
    assert!(o.terminate().success());
    assert!(
        common::processes_with(&marker).is_empty(),
        "containers outlived ordinal"
    );
    assert!(
        common::processes_with(&format!("{ns}/last")).is_empty(),
        "sandboxes outlived ordinal"
    );
    assert_eq!(
        links_with(&veths),
        Vec::<String>::new(),
        "veths outlived ordinal"
    );
    assert_eq!(bridge_with(&address), None, "the bridge outlived ordinal");
    assert_eq!(pod_cgroups(&bridge), None, "cgroups outlived ordinal");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(o.dir.to_str().unwrap()),
        "a mount of ordinal's outlived it"
    );
}

#[test]
fn after_a_crash_of_ordinal_its_pods_come_back_with_a_restart_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Ordinal::start_on(dir.path());
    let node = node_name(&o);
    let marker = format!("86401.{}", std::process::id());
    o.ok(&[
        "run",
        "survivor",
        "--image=busybox:1.36",
        "--overrides",
        &format!(r#"{{"spec": {{"nodeName": "{node}"}}}}"#),
        "--command",
        "--",
        "sh",
        "-c",
        &format!("echo first life; exec sleep {marker}"),
    ]);
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/survivor",
        "--timeout=60s",
    ]);
    let first = get(
        &o,
        "pod/survivor",
        "{.status.containerStatuses[0].containerID}",
    );
    o.kill();
    // SIGKILL: the kernel ends every pod process with the agent.
    eventually(
        "the pod's process dies with ordinal",
        Duration::from_secs(10),
        || common::processes_with(&marker).is_empty(),
    );
    let o = Ordinal::start_on(dir.path());
    eventually("the pod runs again", Duration::from_secs(60), || {
        get(
            &o,
            "pod/survivor",
            "{.status.containerStatuses[0].restartCount}",
        ) == "1"
            && get(&o, "pod/survivor", "{.status.containerStatuses[0].ready}") == "true"
    });
    assert_ne!(
        get(
            &o,
            "pod/survivor",
            "{.status.containerStatuses[0].containerID}"
        ),
        first
    );
    assert_eq!(common::processes_with(&marker).len(), 1);
    assert_eq!(
        get(
            &o,
            "pod/survivor",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "137"
    );
    // The log of the life before the crash is still there.
    assert_eq!(o.ok(&["logs", "survivor", "--previous"]), "first life\n");
}

#[test]
fn a_node_that_stops_reporting_is_marked_unreachable_and_its_pods_unready() {
    // A grace period shorter than a real agent's 10 s renewal would fail
    // healthy nodes too, so this ordinal runs no node of its own.
    let o = Ordinal::start_with(&["--node-monitor-grace-period", "3", "--no-node"]);
    // A node whose agent never renews its lease, with a pod that was
    // ready on it.
    apply(&o, "apiVersion: v1\nkind: Node\nmetadata: {name: ghost}\n");
    o.ok(&[
        "patch", "node", "ghost", "--subresource=status", "--type=merge", "-p",
        r#"{"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}"#,
    ]);
    apply(
        &o,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: stranded}\nspec:\n  nodeName: ghost\n  containers: [{name: c, image: busybox:1.36, command: [sleep, '1']}]\n",
    );
    o.ok(&[
        "patch",
        "pod",
        "stranded",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}"#,
    ]);
    eventually(
        "the ghost is marked unreachable",
        Duration::from_secs(30),
        || {
            let nodes = o.ok(&["get", "nodes"]);
            nodes
                .lines()
                .any(|l| l.starts_with("ghost") && l.contains("NotReady"))
        },
    );
    let taints = get(
        &o,
        "node/ghost",
        "{range .spec.taints[*]}{.key}:{.effect} {end}",
    );
    assert!(
        taints.contains("node.kubernetes.io/unreachable:NoSchedule"),
        "{taints}"
    );
    assert!(
        taints.contains("node.kubernetes.io/unreachable:NoExecute"),
        "{taints}"
    );
    assert_eq!(
        get(&o, "node/ghost", "{.status.conditions[0].reason}"),
        "NodeStatusUnknown"
    );
    eventually("its pod is not ready", Duration::from_secs(10), || {
        get(
            &o,
            "pod/stranded",
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "False"
    });
    // Once its lease is renewed, the taints go.
    apply(
        &o,
        &format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: ghost, namespace: kube-node-lease}}\nspec: {{holderIdentity: ghost, leaseDurationSeconds: 40, renewTime: \"{}\"}}\n",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        ),
    );
    eventually("the taints are removed", Duration::from_secs(15), || {
        get(&o, "node/ghost", "{.spec.taints}").is_empty()
            || get(&o, "node/ghost", "{.spec.taints}") == "[]"
    });
}

#[test]
fn host_ports_are_served_and_a_clash_fails_the_pod_until_its_set_can_run_it() {
    let o = Ordinal::start();
    let node = node_name(&o);
    let address = get(
        &o,
        &format!("node/{node}"),
        "{.status.addresses[0].address}",
    );
    // Upstream's conformance case "should recreate evicted statefulset":
    // a pod holds a host port; a set's pod bound to the same node wants
    // it too.
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: holder}}
spec:
  nodeName: {node}
  containers:
  - name: web
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo held > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: [{{containerPort: 80, hostPort: 21017}}]
"#
        ),
    );
    eventually("the holder runs", Duration::from_secs(30), || {
        get(&o, "pod/holder", "{.status.phase}") == "Running"
    });
    eventually("its host port answers", Duration::from_secs(20), || {
        http_get(&address, 21017).is_ok_and(|page| page.contains("held"))
    });
    apply(
        &o,
        &format!(
            r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: ss}}
spec:
  serviceName: test
  replicas: 1
  selector: {{matchLabels: {{app: ss}}}}
  template:
    metadata: {{labels: {{app: ss}}}}
    spec:
      nodeName: {node}
      containers:
      - name: web
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && echo set > /www/index.html && exec httpd -f -p 80 -h /www"]
        ports: [{{containerPort: 80, hostPort: 21017}}]
"#
        ),
    );
    let mut uids = std::collections::BTreeSet::new();
    eventually(
        "the set's pod is refused, and replaced",
        Duration::from_secs(30),
        || {
            // Between its deletion and its replacement there is no ss-0.
            let out = o.run(&[
                "get",
                "pod/ss-0",
                "-o",
                "jsonpath={.metadata.uid} {.status.reason}",
            ]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some((uid, "NodePorts")) = text.split_once(' ') {
                uids.insert(uid.to_string());
            }
            uids.len() >= 2
        },
    );
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "reason=NodePorts",
        "-o",
        "jsonpath={.items[0].message}",
    ]);
    assert_eq!(events, "Predicate NodePorts failed");
    o.ok(&["delete", "pod", "holder", "--grace-period=1"]);
    eventually(
        "the set's pod runs once the port is free",
        Duration::from_secs(60),
        || get(&o, "pod/ss-0", "{.status.phase}") == "Running",
    );
    eventually(
        "and serves on the host port",
        Duration::from_secs(20),
        || http_get(&address, 21017).is_ok_and(|page| page.contains("set")),
    );
}

#[test]
fn node_ports_and_load_balancers_reach_a_pod_from_the_host() {
    let o = Ordinal::start();
    let node = node_name(&o);
    let address = get(
        &o,
        &format!("node/{node}"),
        "{.status.addresses[0].address}",
    );
    apply(
        &o,
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && echo \"served by $(hostname)\" > /www/index.html && exec httpd -f -p 80 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: db-np}
spec:
  type: NodePort
  selector: {app: db}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: db-lb}
spec:
  type: LoadBalancer
  selector: {app: db}
  ports: [{port: 18081, targetPort: 80}]
"#,
    );
    let node_port: u16 = get(&o, "svc/db-np", "{.spec.ports[0].nodePort}")
        .parse()
        .expect("a node port is allocated");
    eventually(
        "the node port answers from the host",
        Duration::from_secs(60),
        || http_get(&address, node_port).is_ok_and(|page| page.contains("served by db-0")),
    );
    // The load balancer's ingress is the node's address, where its port
    // (and its own node port) answer.
    eventually(
        "the load balancer's ingress",
        Duration::from_secs(30),
        || get(&o, "svc/db-lb", "{.status.loadBalancer.ingress[0].ip}") == address,
    );
    let table = o.ok(&["get", "svc", "db-lb"]);
    assert!(table.contains(&address), "EXTERNAL-IP: {table}");
    eventually(
        "the load balancer's port answers",
        Duration::from_secs(30),
        || http_get(&address, 18081).is_ok_and(|page| page.contains("served by db-0")),
    );
    let lb_node_port: u16 = get(&o, "svc/db-lb", "{.spec.ports[0].nodePort}")
        .parse()
        .unwrap();
    assert!(http_get(&address, lb_node_port).is_ok_and(|page| page.contains("served by db-0")));
    // Back to ClusterIP: the node address no longer serves it, the
    // ingress goes.
    o.ok(&[
        "patch",
        "svc",
        "db-lb",
        "--type=merge",
        "-p",
        r#"{"spec":{"type":"ClusterIP","ports":[{"port":18081,"targetPort":80,"nodePort":null}]}}"#,
    ]);
    eventually("the ingress is withdrawn", Duration::from_secs(30), || {
        get(&o, "svc/db-lb", "{.status.loadBalancer.ingress}").is_empty()
    });
    eventually(
        "the port is no longer served",
        Duration::from_secs(30),
        || http_get(&address, 18081).is_err(),
    );
}
