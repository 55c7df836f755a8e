//! What a pod must not reach, end to end with the real kubectl: the host's
//! files and namespaces through `/proc` (no process of a pod holds a host
//! mount or network namespace), and the host's tree through a subPath that
//! an earlier container turned into a symbolic link out of its volume
//! (the pattern of CVE-2017-1002101).

mod common;

use std::time::Duration;

use common::{Ordinal, apply, eventually, get, peek};

fn exec(o: &Ordinal, pod: &str, script: &str) -> String {
    o.ok(&["exec", pod, "--", "sh", "-c", script])
}

fn host_namespace(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .expect("this process's namespace")
        .display()
        .to_string()
}

#[test]
fn no_process_of_a_pod_reaches_the_host_through_proc() {
    let o = Ordinal::start();
    apply(
        &o,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: curious}}
spec:
  containers:
  - name: app
    image: {image}
    command: [sleep, "3600"]
"#,
            image = common::images::BUSYBOX
        ),
    );
    eventually("the pod runs", Duration::from_secs(30), || {
        peek(&o, "pod/curious", "{.status.phase}") == "Running"
    });
    // Every process the pod can see, PID 1 included, is in the pod's own
    // mount and network namespaces, never the host's.
    let seen = exec(
        &o,
        "curious",
        "for p in /proc/[0-9]*; do echo \"$p $(readlink $p/ns/mnt) $(readlink $p/ns/net)\"; done",
    );
    assert!(seen.contains("/proc/1 "), "PID 1 is visible: {seen}");
    let (host_mnt, host_net) = (host_namespace("mnt"), host_namespace("net"));
    for line in seen.lines() {
        assert!(
            !line.contains(&host_mnt) && !line.contains(&host_net),
            "a process of the pod is in a host namespace ({host_mnt}, {host_net}): {line}"
        );
    }
    // PID 1's root is not the host's: nothing of the data dir through it.
    let data = o.dir.display().to_string();
    let through = o.run(&[
        "exec",
        "curious",
        "--",
        "sh",
        "-c",
        &format!("ls /proc/1/root{data}/pki || ls /proc/1/root/"),
    ]);
    let listed = String::from_utf8_lossy(&through.stdout);
    assert!(
        !listed.contains("ca.key") && !listed.contains("state.db") && !listed.contains("usr"),
        "the host shows through /proc/1/root: {listed}"
    );
}

#[test]
fn a_sub_path_that_leads_out_of_its_volume_is_refused() {
    let o = Ordinal::start();
    let marker = format!(
        "ordinal-escape-{}",
        o.dir.file_name().unwrap().to_string_lossy()
    );
    assert!(!std::path::Path::new("/").join(&marker).exists());
    let pod = |name: &str, sub_path: &str| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  initContainers:
  - name: plant
    image: {image}
    command: [sh, -c, "ln -s / /v/escape; ln -s ../.. /v/up; mkdir -p /v/inside && echo kept > /v/inside/file"]
    volumeMounts: [{{name: v, mountPath: /v}}]
  containers:
  - name: app
    image: {image}
    command: [sleep, "3600"]
    volumeMounts: [{{name: v, mountPath: /mounted, subPath: "{sub_path}"}}]
  volumes:
  - {{name: v, emptyDir: {{}}}}
"#,
            image = common::images::BUSYBOX
        )
    };
    apply(&o, &pod("absolute", "escape"));
    apply(&o, &pod("relative", "up"));
    apply(&o, &pod("creating", &format!("escape/{marker}")));
    apply(&o, &pod("inside", "inside"));
    for name in ["absolute", "relative", "creating"] {
        eventually(
            &format!("{name}: the container is refused its subPath"),
            Duration::from_secs(30),
            || {
                peek(
                    &o,
                    &format!("pod/{name}"),
                    "{.status.containerStatuses[0].state.waiting.reason}",
                ) == "CreateContainerConfigError"
            },
        );
        let message = get(
            &o,
            &format!("pod/{name}"),
            "{.status.containerStatuses[0].state.waiting.message}",
        );
        assert!(
            message.contains("failed to prepare subPath") && message.contains("out of the volume"),
            "{name}: {message}"
        );
    }
    assert!(
        !std::path::Path::new("/").join(&marker).exists(),
        "a subPath created /{marker} on the host"
    );
    // A subPath that stays inside its volume is mounted.
    eventually("inside runs", Duration::from_secs(30), || {
        !peek(
            &o,
            "pod/inside",
            "{.status.containerStatuses[0].state.running.startedAt}",
        )
        .is_empty()
    });
    assert_eq!(exec(&o, "inside", "cat /mounted/file").trim(), "kept");
}
