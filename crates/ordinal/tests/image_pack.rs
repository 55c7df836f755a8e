//! `ordinal image pack`, end to end: programs of this machine (Debian's
//! `cat` and `stat`, dynamically linked) packed into images of the running
//! node's store, and pods that run them with nothing else of the host
//! around them — the way `examples/replicated-kv` runs the `ordinal-kv`
//! a developer just built.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Ordinal, eventually};

/// `ordinal image ARGS` against `o`'s data dir.
fn image(o: &Ordinal, args: &[&str]) -> std::process::Output {
    Command::new(common::binary())
        .arg("image")
        .args(args)
        .env("ORDINAL_DATA_DIR", &o.dir)
        .output()
        .expect("ordinal image runs")
}

fn ok(out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A pod that runs `image` once (its pull policy Never: the image is only
/// in the store), with `args` when given.
fn run_pod(o: &Ordinal, name: &str, image: &str, args: &[&str]) {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("    args: {}\n", serde_json::to_string(args).unwrap())
    };
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {image}
    imagePullPolicy: Never
{args}"
        ),
    );
}

fn phase(o: &Ordinal, pod: &str) -> String {
    o.ok(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
}

/// The pod's output once it has run to completion.
fn finished_logs(o: &Ordinal, pod: &str) -> String {
    eventually(
        &format!("{pod} runs to completion"),
        Duration::from_secs(60),
        || matches!(phase(o, pod).as_str(), "Succeeded" | "Failed"),
    );
    assert_eq!(phase(o, pod), "Succeeded", "{}", o.ok(&["logs", pod]));
    o.ok(&["logs", pod])
}

#[test]
fn a_packed_program_runs_as_a_pod_with_the_images_files_only() {
    let o = Ordinal::start();

    // Pack while the node runs: it sees the image at once.
    let out = ok(image(
        &o,
        &["pack", "cat:host", "/usr/bin/cat", "--cmd", "/etc/passwd"],
    ));
    assert!(
        out.starts_with("packed docker.io/library/cat:host (") && out.contains("from /usr/bin/cat"),
        "{out}"
    );
    let out = ok(image(&o, &["pack", "stat:host", "/usr/bin/stat"]));
    assert!(
        out.starts_with("packed docker.io/library/stat:host ("),
        "{out}"
    );
    let listing = ok(image(&o, &["ls"]));
    for name in ["docker.io/library/cat ", "docker.io/library/stat "] {
        assert!(listing.contains(name), "{listing}");
    }

    // Entrypoint and Cmd: `cat /etc/passwd`, and it is the image's passwd
    // (root and nobody), not this machine's.
    run_pod(&o, "passwd", "cat:host", &[]);
    assert_eq!(
        finished_logs(&o, "passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );

    // A pod's args replace the Cmd; the image carries this machine's
    // os-release.
    run_pod(&o, "release", "cat:host", &["/etc/os-release"]);
    assert_eq!(
        finished_logs(&o, "release"),
        std::fs::read_to_string("/etc/os-release").unwrap()
    );

    // /tmp is sticky and world-writable, the program is root's, and names
    // come from the image's passwd: what a program expects of a system.
    run_pod(
        &o,
        "modes",
        "stat:host",
        &["-c", "%n %a %U:%G", "/tmp", "/usr/local/bin/stat"],
    );
    assert_eq!(
        finished_logs(&o, "modes"),
        "/tmp 1777 root:root\n/usr/local/bin/stat 755 root:root\n"
    );

    // Nothing else of the host: its programs are not there.
    run_pod(&o, "alone", "stat:host", &["/usr/bin/apt-get"]);
    eventually("the pod ends", Duration::from_secs(60), || {
        phase(&o, "alone") == "Failed"
    });
    let logs = o.ok(&["logs", "alone"]);
    assert!(
        logs.contains("cannot statx '/usr/bin/apt-get': No such file or directory"),
        "{logs}"
    );
}

/// The README's way, from a project's directory: `ordinal up` and
/// `ordinal image pack` on their default data dir, `.ordinal`, a path
/// relative to where they run — and a pod of the packed program runs.
#[test]
fn on_the_default_relative_data_dir_a_packed_program_runs() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut up = Command::new(common::binary());
    up.current_dir(project.path())
        .env_remove("ORDINAL_DATA_DIR")
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--dns-listen",
            "127.0.0.1:0",
        ]);
    let (child, url) = common::spawn_command(up).expect("ordinal up starts");
    let o = Ordinal::attach(project.path().join(".ordinal"), child, url);

    let out = Command::new(common::binary())
        .current_dir(project.path())
        .env_remove("ORDINAL_DATA_DIR")
        .args([
            "image",
            "pack",
            "cat:host",
            "/usr/bin/cat",
            "--cmd",
            "/etc/group",
        ])
        .output()
        .expect("ordinal image runs");
    ok(out);
    run_pod(&o, "group", "cat:host", &[]);
    assert_eq!(finished_logs(&o, "group"), "root:x:0:\nnogroup:x:65534:\n");
}

#[test]
fn packing_what_is_not_a_program_fails_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(common::binary())
            .arg("image")
            .args(args)
            .env("ORDINAL_DATA_DIR", dir.path())
            .output()
            .expect("ordinal image runs")
    };
    let script = dir.path().join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho hello\n").unwrap();
    let out = run(&["pack", "hello:1", script.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an ELF program"), "{err}");
    let out = run(&["pack", "hello:1", "/no/such/program"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/no/such/program"), "{err}");
    let listing = String::from_utf8_lossy(&run(&["ls"]).stdout).into_owned();
    assert_eq!(listing.lines().count(), 1, "only the header: {listing}");
}
