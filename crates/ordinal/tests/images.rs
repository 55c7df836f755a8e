//! Pods run their images, end to end with the real kubectl: images made
//! here (no network), imported with `ordinal image import` or pulled from a
//! real registry (Debian's docker-registry on loopback, TLS and htpasswd);
//! what the kubelet shows while an image is missing; the container's root
//! as its image and nothing of the host; image config; limits.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Ordinal, apply, eventually, get, node_name};
use ordinal_image::build::{Format, ImageBuilder, Tagged, write};
use ordinal_image::compression::Compression;
use ordinal_image::testing::{Registry, RegistryOptions};

fn waiting_reason(o: &Ordinal, pod: &str) -> String {
    get(
        o,
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].state.waiting.reason}",
    )
}

fn running(o: &Ordinal, pod: &str) -> bool {
    get(o, &format!("pod/{pod}"), "{.status.phase}") == "Running"
}

fn events_of(o: &Ordinal, pod: &str) -> String {
    o.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
        "-o",
        "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
    ])
}

/// A container's log so far; empty while it has none (not started yet).
fn logs(o: &Ordinal, pod: &str) -> String {
    String::from_utf8_lossy(&o.run(&["logs", pod]).stdout).into_owned()
}

fn exec(o: &Ordinal, pod: &str, script: &str) -> String {
    o.ok(&["exec", pod, "--", "sh", "-c", script])
}

/// `ordinal image import` into a running ordinal's store.
fn import(o: &Ordinal, archive: &Path) -> std::process::Output {
    Command::new(common::binary())
        .args(["image", "import", "--data-dir"])
        .arg(&o.dir)
        .arg(archive)
        .output()
        .expect("ordinal image import runs")
}

/// [`import`] that must succeed; its output.
fn import_ok(o: &Ordinal, archive: &Path) -> String {
    let out = import(o, archive);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An application image on top of busybox: two layers (the second
/// deletes a file and replaces a directory), its own user, environment,
/// working directory, entrypoint and command, and a VOLUME with content.
fn app_image() -> ordinal_image::build::BuiltImage {
    ImageBuilder::busybox()
        .expect("busybox image")
        .add_bytes(
            "/etc/os-release",
            b"ID=ordinal-test\nNAME=\"ordinal test image\"\n",
            0o644,
        )
        .add_bytes(
            "/etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
            0o644,
        )
        .add_bytes(
            "/etc/group",
            b"root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
            0o644,
        )
        .mkdir("/home/app", 0o755)
        .mkdir("/run", 0o755)
        .add_symlink("/var/run", "/run")
        .add_bytes("/gone", b"deleted by the next layer\n", 0o644)
        .add_bytes("/replaced/old", b"hidden by an opaque directory\n", 0o644)
        .add_bytes("/cache/seed", b"from the image\n", 0o644)
        .mkdir("/work", 0o777)
        .layer()
        .whiteout("/gone")
        .opaque("/replaced")
        .add_bytes("/replaced/new", b"the top layer's\n", 0o644)
        .entrypoint(["/bin/sh", "-c"])
        .cmd(["echo from-cmd as $(id -u):$(id -g) in $(pwd) with $GREETING; exec sleep 3600"])
        .env("GREETING", "image")
        .env("LANG", "C")
        .workdir("/work")
        .user("app")
        .volume("/cache")
        .build()
}

fn archive(dir: &Path, name: &str, tagged: &[Tagged<'_>]) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.tar"));
    write(&path, Format::DockerOciArchive, Compression::Gzip, tagged).expect("archive");
    path
}

#[test]
fn a_pod_runs_its_image_with_the_images_configuration() {
    let o = Ordinal::start();
    let node = node_name(&o);
    let tmp = tempfile::tempdir().unwrap();
    let image = app_image();
    let said = import_ok(
        &o,
        &archive(tmp.path(), "app", &[Tagged::one(&image, "app:1")]),
    );
    assert!(said.contains("imported docker.io/library/app:1"), "{said}");
    let listing = Command::new(common::binary())
        .args(["image", "ls", "--data-dir"])
        .arg(&o.dir)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.starts_with("IMAGE"), "{listing}");
    assert!(listing.contains("docker.io/library/app"), "{listing}");

    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: app}}
spec:
  nodeName: {node}
  containers:
  - name: app
    image: app:1
    env: [{{name: GREETING, value: pod}}]
    volumeMounts:
    - {{name: run, mountPath: /var/run/x}}
    - {{name: run, mountPath: /not/in/the/image}}
  volumes: [{{name: run, emptyDir: {{}}}}]
"#
        ),
    );
    eventually("the image's pod runs", Duration::from_secs(30), || {
        running(&o, "app")
    });
    eventually("its command has spoken", Duration::from_secs(10), || {
        logs(&o, "app").contains("from-cmd")
    });
    // Entrypoint + Cmd, its user looked up in its own passwd (with the
    // group listing it), its working directory, the pod's env over the
    // image's.
    let said = logs(&o, "app");
    assert!(
        said.contains("from-cmd as 1000:1000 in /work with pod"),
        "{said}"
    );
    assert_eq!(exec(&o, "app", "id -G").trim(), "1000 2000");
    assert_eq!(exec(&o, "app", "echo $LANG $HOME").trim(), "C /home/app");
    // The image's filesystem, not the host's.
    assert!(exec(&o, "app", "cat /etc/os-release").contains("ID=ordinal-test"));
    let root = exec(&o, "app", "ls /");
    assert!(
        !root.contains("home\nlib64") && !root.split_whitespace().any(|e| e == "boot"),
        "{root}"
    );
    // Layers merge: a whiteout deletes, an opaque directory hides below.
    assert_eq!(
        exec(&o, "app", "test -e /gone && echo present || echo absent").trim(),
        "absent"
    );
    assert_eq!(exec(&o, "app", "ls /replaced").trim(), "new");
    // The VOLUME is an anonymous volume holding the image's content.
    assert_eq!(exec(&o, "app", "cat /cache/seed").trim(), "from the image");
    // A volume under /var/run (a link to /run in the image) is there, and
    // a mount path the image lacks was made inside the container only.
    exec(&o, "app", "echo shared > /run/x/f");
    assert_eq!(exec(&o, "app", "cat /not/in/the/image/f").trim(), "shared");
    assert!(!Path::new("/not/in/the/image").exists());
    // The status names the image it runs.
    let image_id = get(&o, "pod/app", "{.status.containerStatuses[0].imageID}");
    assert!(image_id.contains("sha256:"), "{image_id}");
    let events = events_of(&o, "app");
    assert!(
        events.contains("Container image \"app:1\" already present on machine"),
        "{events}"
    );
    // The node lists the image.
    let images = get(&o, &format!("node/{node}"), "{.status.images[*].names}");
    assert!(images.contains("docker.io/library/app:1"), "{images}");
}

/// Exec probes, hooks and `kubectl cp` act inside the image's
/// filesystem: the probe and the hook read the image's own
/// /etc/os-release (the host's says something else), and cp copies into
/// and out of the container's root.
#[test]
fn probes_hooks_and_cp_act_inside_the_image() {
    let o = Ordinal::start();
    let tmp = tempfile::tempdir().unwrap();
    import_ok(
        &o,
        &archive(tmp.path(), "app", &[Tagged::one(&app_image(), "app:1")]),
    );
    apply(
        &o,
        r#"apiVersion: v1
kind: Pod
metadata: {name: inside}
spec:
  containers:
  - name: app
    image: app:1
    readinessProbe:
      exec: {command: [grep, -q, "ID=ordinal-test", /etc/os-release]}
      periodSeconds: 1
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "grep ^ID= /etc/os-release > /work/hooked"]}
"#,
    );
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/inside",
        "--timeout=60s",
    ]);
    assert_eq!(
        exec(&o, "inside", "cat /work/hooked").trim(),
        "ID=ordinal-test"
    );
    // Into the container's root, and out of it.
    let sent = tmp.path().join("sent.txt");
    std::fs::write(&sent, "copied in\n").unwrap();
    o.ok(&["cp", sent.to_str().unwrap(), "inside:/work/sent.txt"]);
    assert_eq!(exec(&o, "inside", "cat /work/sent.txt"), "copied in\n");
    let back = tmp.path().join("os-release");
    o.ok(&["cp", "inside:/etc/os-release", back.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(&back)
            .unwrap()
            .contains("ID=ordinal-test")
    );
    assert!(!Path::new("/work/sent.txt").exists());
}

/// An exec probe runs as a runtime's exec does: in the container's
/// namespaces, cgroup, working directory and user, with its environment;
/// a command the image lacks fails the probe with the runtime's words.
#[test]
fn an_exec_probe_runs_as_the_container_in_its_namespaces_and_cgroup() {
    let o = Ordinal::start();
    let facts = "for ns in pid mnt net uts ipc; do readlink /proc/self/ns/$ns; done; \
        cat /proc/self/cgroup; id -u; pwd; hostname; echo $GREETING";
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: probed}}
spec:
  securityContext: {{runAsUser: 1000}}
  containers:
  - name: main
    image: busybox:1.36
    workingDir: /shared
    env: [{{name: GREETING, value: hello}}]
    command: ["sleep", "3600"]
    readinessProbe:
      exec: {{command: [sh, -c, {probe:?}]}}
      periodSeconds: 1
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  - name: other
    image: busybox:1.36
    command: ["sleep", "3600"]
    readinessProbe:
      exec: {{command: [no-such-command]}}
      periodSeconds: 1
  volumes: [{{name: shared, emptyDir: {{}}}}]
"#,
            probe = format!("({facts}) > /shared/probe.txt")
        ),
    );
    eventually(
        "the probe wrote what it saw",
        Duration::from_secs(60),
        || !exec(&o, "probed", "cat /shared/probe.txt 2>/dev/null || true").is_empty(),
    );
    // `kubectl exec` enters the same container; what it sees is what the
    // probe saw.
    let seen = exec(&o, "probed", "cat /shared/probe.txt");
    let inside = exec(&o, "probed", facts);
    assert_eq!(seen, inside);
    assert!(
        inside.contains("\n1000\n/shared\nprobed\nhello\n"),
        "{inside}"
    );
    let failed =
        "Readiness probe failed: exec: \"no-such-command\": executable file not found in $PATH";
    eventually("the other probe fails", Duration::from_secs(30), || {
        events_of(&o, "probed").contains(failed)
    });
}

#[test]
fn writes_to_the_root_survive_a_restart_and_go_with_the_pod() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: writer}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "if [ -f /marker ]; then echo survived; exec sleep 3600; fi; touch /marker; exit 1"]
---
apiVersion: v1
kind: Pod
metadata: {{name: readonly}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "touch /x 2>/dev/null && echo WRITABLE || echo root-is-read-only; touch /data/ok && echo volume-ok; exec sleep 3600"]
    securityContext: {{readOnlyRootFilesystem: true}}
    volumeMounts: [{{name: d, mountPath: /data}}]
  volumes: [{{name: d, emptyDir: {{}}}}]
"#
        ),
    );
    eventually("the writer restarted once", Duration::from_secs(30), || {
        get(
            &o,
            "pod/writer",
            "{.status.containerStatuses[0].restartCount}",
        ) == "1"
            && running(&o, "writer")
    });
    eventually("it found its write", Duration::from_secs(10), || {
        logs(&o, "writer").contains("survived")
    });
    let uid = get(&o, "pod/writer", "{.metadata.uid}");
    let pod_dir = o.dir.join("node/pods").join(&uid);
    assert!(pod_dir.join("containers/main/upper/marker").exists());
    o.ok(&["delete", "pod", "writer", "--grace-period=1"]);
    eventually("the pod's layer is gone", Duration::from_secs(20), || {
        !pod_dir.exists()
    });

    eventually("the read-only pod runs", Duration::from_secs(30), || {
        logs(&o, "readonly").contains("volume-ok")
    });
    let said = logs(&o, "readonly");
    assert!(said.contains("root-is-read-only"), "{said}");
}

#[test]
fn over_its_memory_limit_a_container_is_oom_killed_and_restarted() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: hungry}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "head -c 200m /dev/zero | tail"]
    resources: {{limits: {{memory: 32Mi}}}}
"#
        ),
    );
    eventually(
        "the container was OOM-killed",
        Duration::from_secs(60),
        || {
            get(
                &o,
                "pod/hungry",
                "{.status.containerStatuses[0].lastState.terminated.reason}",
            ) == "OOMKilled"
        },
    );
    assert_eq!(
        get(
            &o,
            "pod/hungry",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "137"
    );
}

#[test]
fn a_missing_image_waits_with_the_kubelets_reasons_and_starts_when_imported() {
    let o = Ordinal::start();
    let node = node_name(&o);
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: later}}
spec:
  nodeName: {node}
  containers:
  - {{name: main, image: "later:1", imagePullPolicy: Never, command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: invalid}}
spec:
  nodeName: {node}
  containers:
  - {{name: main, image: "Not/Valid:Image", command: [sleep, "3600"]}}
"#
        ),
    );
    eventually("ErrImageNeverPull", Duration::from_secs(20), || {
        waiting_reason(&o, "later") == "ErrImageNeverPull"
    });
    let events = events_of(&o, "later");
    assert!(
        events.contains("Container image \"later:1\" is not present with pull policy of Never"),
        "{events}"
    );
    eventually("InvalidImageName", Duration::from_secs(20), || {
        waiting_reason(&o, "invalid") == "InvalidImageName"
    });
    let message = get(
        &o,
        "pod/invalid",
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert!(
        message.contains("couldn't parse image name \"Not/Valid:Image\""),
        "{message}"
    );
    // Imported while the pod waits: it starts without anything else done.
    let tmp = tempfile::tempdir().unwrap();
    let later = ImageBuilder::busybox().unwrap().label("n", "later").build();
    let out = import(
        &o,
        &archive(tmp.path(), "later", &[Tagged::one(&later, "later:1")]),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the imported image runs", Duration::from_secs(10), || {
        running(&o, "later")
    });
}

/// The registry's users for these tests.
const USER: (&str, &str) = ("puller", "s3cret-pass");

#[test]
fn images_are_pulled_from_a_private_registry_with_pull_secrets() {
    let registry = Registry::start(RegistryOptions {
        tls: true,
        users: vec![(USER.0.into(), USER.1.into())],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("starting the registry: {e}"));
    let host = registry.host();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = app_image();
    let other = ImageBuilder::busybox().unwrap().label("n", "other").build();
    runtime.block_on(async {
        registry
            .push(&app, "team/app", "1")
            .await
            .expect("push app");
        registry
            .push(&other, "team/other", "1")
            .await
            .expect("push other");
    });
    let tmp = tempfile::tempdir().unwrap();
    let registries = tmp.path().join("registries.yaml");
    std::fs::write(&registries, registry.registries_yaml(&host)).unwrap();
    let o = Ordinal::start_with(&["--registries", registries.to_str().unwrap()]);
    let node = node_name(&o);

    // No credentials: the registry says no, and the pod backs off.
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: anonymous}}
spec:
  nodeName: {node}
  containers: [{{name: main, image: "{host}/team/app:1"}}]
"#
        ),
    );
    eventually("ErrImagePull", Duration::from_secs(20), || {
        waiting_reason(&o, "anonymous") == "ErrImagePull"
    });
    eventually("then ImagePullBackOff", Duration::from_secs(20), || {
        waiting_reason(&o, "anonymous") == "ImagePullBackOff"
    });
    let events = events_of(&o, "anonymous");
    for expected in [
        format!("Pulling image \"{host}/team/app:1\""),
        format!("Failed to pull image \"{host}/team/app:1\""),
        "Error: ErrImagePull".to_string(),
        format!("Back-off pulling image \"{host}/team/app:1\""),
        "Error: ImagePullBackOff".to_string(),
    ] {
        assert!(
            events.contains(&expected),
            "{expected} missing in\n{events}"
        );
    }
    assert!(
        events.to_lowercase().contains("unauthorized") || events.contains("401"),
        "{events}"
    );

    // With a pull secret it pulls; a ServiceAccount's secret works too.
    o.ok(&[
        "create",
        "secret",
        "docker-registry",
        "regcred",
        &format!("--docker-server={host}"),
        &format!("--docker-username={}", USER.0),
        &format!("--docker-password={}", USER.1),
    ]);
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: puller}}
imagePullSecrets: [{{name: regcred}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: secret}}
spec:
  nodeName: {node}
  imagePullSecrets: [{{name: regcred}}]
  containers: [{{name: main, image: "{host}/team/app:1"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: account}}
spec:
  nodeName: {node}
  serviceAccountName: puller
  containers: [{{name: main, image: "{host}/team/other:1", command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: missing}}
spec:
  nodeName: {node}
  imagePullSecrets: [{{name: regcred}}]
  containers: [{{name: main, image: "{host}/team/nope:1"}}]
"#
        ),
    );
    eventually(
        "pulled with the pod's secret",
        Duration::from_secs(30),
        || running(&o, "secret"),
    );
    eventually(
        "pulled with the account's secret",
        Duration::from_secs(30),
        || running(&o, "account"),
    );
    let events = events_of(&o, "secret");
    assert!(
        events.contains(&format!(
            "Successfully pulled image \"{host}/team/app:1\" in "
        )) && events.contains("Image size: "),
        "{events}"
    );
    let image_id = get(&o, "pod/secret", "{.status.containerStatuses[0].imageID}");
    assert!(
        image_id.starts_with(&format!("{host}/team/app@sha256:")),
        "{image_id}"
    );
    eventually("a missing image", Duration::from_secs(20), || {
        let reason = waiting_reason(&o, "missing");
        reason == "ErrImagePull" || reason == "ImagePullBackOff"
    });
    let events = events_of(&o, "missing");
    assert!(events.contains("not found"), "{events}");
}

#[test]
fn a_non_privileged_container_cannot_change_the_hosts_sysctls() {
    let o = Ordinal::start();
    let node = node_name(&o);
    let host_before = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
    let domain_before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: sysctls}}
spec:
  nodeName: {node}
  initContainers:
  - name: tune
    image: busybox:1.36
    securityContext: {{privileged: true}}
    command: ["sh", "-c", "sysctl -w net.core.somaxconn=777"]
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "sysctl -w kernel.domainname=pwned 2>&1; cat /proc/sys/net/core/somaxconn; mount -t tmpfs x /mnt 2>&1 || echo mount-refused; exec sleep 3600"]
"#
        ),
    );
    eventually("the pod runs", Duration::from_secs(30), || {
        // Until the init container is done, `main` has no log.
        logs(&o, "sysctls").contains("mount-refused")
    });
    let said = logs(&o, "sysctls");
    // The privileged init container tuned the pod's own network namespace.
    assert!(said.contains("777"), "{said}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap(),
        host_before
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        domain_before
    );
}

#[test]
fn where_overlayfs_cannot_be_used_a_container_runs_on_a_copy_of_its_image() {
    let o = Ordinal::start_with(&["--snapshotter", "copy"]);
    let node = node_name(&o);
    let tmp = tempfile::tempdir().unwrap();
    let image = app_image();
    import_ok(
        &o,
        &archive(tmp.path(), "app", &[Tagged::one(&image, "app:1")]),
    );
    apply(
        &o,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: copied}}
spec:
  nodeName: {node}
  containers:
  - name: app
    image: app:1
    command: ["sh", "-c", "if [ -f /work/marker ]; then echo survived; exec sleep 3600; fi; touch /work/marker; exit 1"]
"#
        ),
    );
    let restarted = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        logs(&o, "copied").starts_with("survived")
    });
    assert!(restarted, "{}", o.ok(&["describe", "pod", "copied"]));
    assert!(exec(&o, "copied", "cat /etc/os-release").contains("ID=ordinal-test"));
    assert_eq!(
        exec(&o, "copied", "test -e /gone && echo present || echo absent").trim(),
        "absent"
    );
    assert_eq!(exec(&o, "copied", "ls /replaced").trim(), "new");
    let uid = get(&o, "pod/copied", "{.metadata.uid}");
    let copy = o
        .dir
        .join("node/pods")
        .join(uid)
        .join("containers/app/copy");
    assert!(
        copy.join("work/marker").exists(),
        "the write is in the copy"
    );
    assert!(!copy.join("gone").exists());
}
