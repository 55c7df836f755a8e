//! Replays `examples/replicated-kv/README.md` with the real kubectl and
//! checks what each step shows: the members start in order and clone the
//! one before them, a write to the primary is read from a replica, a
//! replica refuses writes, a deleted member comes back with its own data,
//! and scaling to five clones web-3 then web-4 in order.
//!
//! The README's `kubectl` commands are read from the README itself and
//! each step of this test must be the next of them, so the two cannot
//! drift apart. The setup commands before them (building, `ordinal up`,
//! `KUBECONFIG`) are the harness's: it builds `ordinal-kv` with cargo and
//! starts `ordinal up` on a temporary data dir. The README's `ordinal
//! image pack` line is checked to be the one this test runs, with the
//! test's own `ordinal` and build directory; the pods then run that
//! image (`ordinal-kv:dev`, pull policy Never) and nothing of the host.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Ordinal, eventually, get};

/// The repository root (the README's `$PWD`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Builds `ordinal-kv` beside the `ordinal` binary under test (the
/// README's `cargo build -p ordinal-kv`) and returns its directory, the
/// README's `$PWD/target/debug`.
fn build_ordinal_kv() -> PathBuf {
    let exe = Path::new(common::binary());
    let dir = exe.parent().unwrap().to_path_buf();
    let profile = dir.file_name().unwrap().to_str().unwrap().to_string();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(repo())
        .args(["build", "--quiet", "-p", "ordinal-kv"])
        .arg("--target-dir")
        .arg(dir.parent().unwrap());
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other]);
        }
    }
    let out = cargo.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p ordinal-kv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("ordinal-kv").is_file(), "{}", dir.display());
    dir
}

/// Splits a README command line as a shell would, for the quoting it
/// uses: words, double quotes, and `$PWD`.
fn words(line: &str, pwd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.replace("$PWD", pwd).chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("examples/replicated-kv/README.md")).unwrap()
}

/// The README's kubectl commands, in order, as argument lists.
fn readme_commands() -> Vec<Vec<String>> {
    let pwd = repo().to_string_lossy().into_owned();
    readme()
        .lines()
        .filter_map(|l| l.strip_prefix("$ kubectl "))
        .map(|l| words(l, &pwd))
        .collect()
}

/// The README's `ordinal image pack` command, and the line it shows.
const PACK: &str = "target/debug/ordinal image pack ordinal-kv:dev target/debug/ordinal-kv";

/// Runs the README's `ordinal image pack` (checked to be [`PACK`]) with
/// the `ordinal` under test, the `ordinal-kv` built into `bin_dir`, and
/// the data dir of `o`; returns its output.
fn pack(o: &Ordinal, bin_dir: &Path) -> String {
    let text = readme();
    let mut lines = text.lines();
    let found = lines.by_ref().any(|l| l == format!("$ {PACK}"));
    assert!(found, "the README packs the image with `{PACK}`");
    let shown = lines.next().unwrap_or_default().to_string();
    let out = Command::new(common::binary())
        .args(["image", "pack", "ordinal-kv:dev"])
        .arg(bin_dir.join("ordinal-kv"))
        .env("ORDINAL_DATA_DIR", &o.dir)
        .output()
        .expect("ordinal image pack runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ordinal image pack failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The README's line with this run's id, size and path.
    let shape = |l: &str| -> Option<(String, String)> {
        let (head, rest) = l.split_once(" (")?;
        let (_id_size, from) = rest.split_once(") from ")?;
        Some((head.to_string(), from.rsplit('/').next()?.to_string()))
    };
    assert_eq!(
        shape(stdout.trim()),
        shape(&shown),
        "ordinal image pack shows:\n{stdout}the README shows:\n{shown}"
    );
    assert_eq!(
        shape(&shown).map(|(head, _)| head),
        Some("packed docker.io/library/ordinal-kv:dev".to_string())
    );
    stdout
}

/// The README, step by step: each step must be the README's next kubectl
/// command, so the test and the README cannot drift apart.
struct Replay<'a> {
    o: &'a Ordinal,
    readme: Vec<Vec<String>>,
    next: usize,
}

impl Replay<'_> {
    /// Checks that `args` is the README's next command.
    fn step(&mut self, args: &[&str]) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            self.readme.get(self.next),
            Some(&args),
            "README command {} differs from the test's step",
            self.next + 1
        );
        self.next += 1;
    }

    /// Checks that every README command was replayed.
    fn finish(self) {
        assert_eq!(
            self.next,
            self.readme.len(),
            "README commands not replayed: {:?}",
            &self.readme[self.next..]
        );
    }

    /// kubectl in the repository root, where the README's paths start.
    fn kubectl(&self, args: &[&str]) -> Output {
        self.o
            .kubectl()
            .current_dir(repo())
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    /// Runs a README step.
    fn run(&mut self, args: &[&str]) -> Output {
        self.step(args);
        self.kubectl(args)
    }

    /// Runs a README step that must succeed; returns its output.
    fn ok(&mut self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a README step until it succeeds and its output satisfies
    /// `want` (a replica applies a write asynchronously, a recreated pod
    /// appears a moment after the old one is gone), for up to 60 s.
    fn until(&mut self, args: &[&str], want: impl Fn(&str) -> bool) -> String {
        self.step(args);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.kubectl(args);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && want(&stdout) {
                return stdout;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl {args:?} never showed what the README shows; last: {}{stdout}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The log lines of a container, each with its timestamp.
fn log_lines(out: &str) -> Vec<(jiff::Timestamp, String)> {
    out.lines()
        .map(|l| {
            let (time, rest) = l.split_once(' ').expect("a timestamped line");
            (
                time.parse().unwrap_or_else(|e| panic!("{l}: {e}")),
                rest.trim().to_string(),
            )
        })
        .collect()
}

/// When the line saying `what` was logged.
fn logged_at(out: &str, what: &str) -> jiff::Timestamp {
    log_lines(out)
        .into_iter()
        .find(|(_, l)| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in:\n{out}"))
        .0
}

fn pod_rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn time(o: &Ordinal, what: &str, path: &str) -> jiff::Timestamp {
    get(o, what, path).parse().unwrap()
}

#[test]
fn the_replicated_kv_readme_works_step_by_step() {
    let bin_dir = build_ordinal_kv();
    let o = Ordinal::start();
    let mut r = Replay {
        o: &o,
        readme: readme_commands(),
        next: 0,
    };
    let started = Instant::now();

    // Start: the image of the program just built.
    pack(&o, &bin_dir);

    // Create the StatefulSet.
    let out = r.ok(&["apply", "-f", "examples/replicated-kv/"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "service/web created",
            "service/kv-read created",
            "statefulset.apps/web created"
        ]
    );
    let out = r.ok(&["rollout", "status", "statefulset/web"]);
    assert!(
        out.trim_end()
            .ends_with("partitioned roll out complete: 3 new pods have been updated..."),
        "{out}"
    );
    let rows = pod_rows(&r.ok(&["get", "pods", "-l", "app=kv"]));
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            &row[..4],
            &[
                format!("web-{i}"),
                "1/1".into(),
                "Running".into(),
                "0".into()
            ],
            "{rows:?}"
        );
    }
    // The containers run the packed image, init container included.
    for status in ["initContainerStatuses", "containerStatuses"] {
        let image = get(&o, "pod/web-1", &format!("{{.status.{status}[0].image}}"));
        assert!(image.ends_with("ordinal-kv:dev"), "{status}: {image}");
        let id = get(&o, "pod/web-1", &format!("{{.status.{status}[0].imageID}}"));
        assert!(id.contains("sha256:"), "{status}: {id}");
    }
    let web1_clone = r.ok(&["logs", "web-1", "-c", "clone"]);
    assert!(
        web1_clone.contains("INFO cloned 0 keys at seq 0 from web-0.web:7070"),
        "{web1_clone}"
    );
    let web2_clone = r.ok(&["logs", "web-2", "-c", "clone"]);
    assert!(
        web2_clone.contains("INFO cloned 0 keys at seq 0 from web-1.web:7070"),
        "{web2_clone}"
    );
    // web-2 was created after web-1 was Ready.
    let web1_ready = logged_at(&o.ok(&["logs", "web-1"]), "ready");
    assert!(logged_at(&web2_clone, "cloned") > web1_ready);

    // Write to the primary, read from a replica.
    let out = r.ok(&["exec", "web-0", "--", "ordinal-kv", "put", "color", "blue"]);
    assert_eq!(out.trim(), "color=blue (seq 1)");
    r.until(
        &["exec", "web-2", "--", "ordinal-kv", "get", "color"],
        |out| out.trim() == "blue",
    );
    let out = r.run(&["exec", "web-2", "--", "ordinal-kv", "put", "color", "red"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Error: web-2 is a read-only replica: send writes to the primary, web-0.web:7070"
        ),
        "{err}"
    );
    assert!(err.contains("command terminated with exit code 1"), "{err}");
    r.until(&["exec", "web-1", "--", "ordinal-kv", "status"], |out| {
        out.trim() == "web-1: replica of web-0.web:7070, seq 1, 1 key, ready"
    });
    // The refused write changed nothing.
    assert_eq!(
        o.ok(&["exec", "web-0", "--", "ordinal-kv", "get", "color"])
            .trim(),
        "blue"
    );
    r.until(
        &[
            "exec",
            "web-0",
            "--",
            "ordinal-kv",
            "get",
            "color",
            "--server",
            "kv-read:7070",
        ],
        |out| out.trim() == "blue",
    );

    // Delete a member: it comes back with its data.
    let old_uid = get(&o, "pod/web-1", "{.metadata.uid}");
    let old_claim = get(
        &o,
        "pod/web-1",
        "{.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}",
    );
    assert_eq!(old_claim, "data-web-1");
    let volume = get(&o, "pvc/data-web-1", "{.spec.volumeName}");
    let out = r.ok(&["delete", "pod", "web-1"]);
    assert_eq!(out.trim(), "pod \"web-1\" deleted");
    let out = r.ok(&["exec", "web-0", "--", "ordinal-kv", "put", "size", "large"]);
    assert_eq!(out.trim(), "size=large (seq 2)");
    // The new web-1 may not exist yet when the wait starts.
    r.until(&["wait", "--for=condition=Ready", "pod/web-1"], |out| {
        out.trim() == "pod/web-1 condition met"
    });
    assert_ne!(get(&o, "pod/web-1", "{.metadata.uid}"), old_uid);
    assert_eq!(
        get(&o, "pvc/data-web-1", "{.spec.volumeName}"),
        volume,
        "the same claim and volume"
    );
    let out = r.ok(&["logs", "web-1", "-c", "clone"]);
    assert!(
        out.contains("INFO the claim already holds 1 key at seq 1: keeping it, not cloning"),
        "{out}"
    );
    let out = r.ok(&["logs", "web-1"]);
    let lines: Vec<String> = log_lines(&out).into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines[..2],
        [
            "INFO opened /data: 1 key at seq 1",
            "INFO web-1 is a read-only replica following the primary web-0.web:7070",
        ],
        "its own data, from its claim:\n{out}"
    );
    // At seq 2 when it came back after the write (as the README shows);
    // at seq 1 when it was back before the write, which it then followed.
    assert!(
        lines.len() == 3
            && ["1", "2"].iter().any(|seq| lines[2]
                == format!("INFO caught up with the primary web-0.web:7070 at seq {seq}: ready")),
        "{out}"
    );
    r.until(&["exec", "web-1", "--", "ordinal-kv", "list"], |out| {
        out == "color=blue\nsize=large\n"
    });

    // Scale to five: new members clone in order.
    let out = r.ok(&["scale", "statefulset", "web", "--replicas=5"]);
    assert_eq!(out.trim(), "statefulset.apps/web scaled");
    // Scaling raised the generation: kubectl waits for the controller to
    // observe it, then for five Ready pods.
    let out = r.ok(&["rollout", "status", "statefulset/web"]);
    assert!(
        out.trim_end()
            .ends_with("partitioned roll out complete: 5 new pods have been updated..."),
        "{out}"
    );
    let rows = pod_rows(&r.ok(&["get", "pods", "-l", "app=kv"]));
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["web-0", "web-1", "web-2", "web-3", "web-4"]);
    assert!(
        rows.iter().all(|r| r[1] == "1/1" && r[2] == "Running"),
        "{rows:?}"
    );
    let web3_clone = r.ok(&["logs", "web-3", "-c", "clone"]);
    assert!(
        web3_clone.contains("INFO cloned 2 keys at seq 2 from web-2.web:7070"),
        "{web3_clone}"
    );
    let web3 = r.ok(&["logs", "web-3"]);
    assert!(
        web3.contains("INFO caught up with the primary web-0.web:7070 at seq 2: ready"),
        "{web3}"
    );
    let web4_clone = r.ok(&["logs", "web-4", "-c", "clone"]);
    assert!(
        web4_clone.contains("INFO cloned 2 keys at seq 2 from web-3.web:7070"),
        "{web4_clone}"
    );
    // In order: web-3 cloned, caught up and was Ready before web-4 was
    // created and cloned.
    assert!(logged_at(&web3_clone, "cloned") < logged_at(&web3, "ready"));
    assert!(logged_at(&web3, "ready") < logged_at(&web4_clone, "cloned"));
    let web3_created = time(&o, "pod/web-3", "{.metadata.creationTimestamp}");
    let web3_ready = time(
        &o,
        "pod/web-3",
        "{.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}",
    );
    let web4_created = time(&o, "pod/web-4", "{.metadata.creationTimestamp}");
    assert!(web3_created <= web3_ready && web3_ready <= web4_created);
    let out = r.ok(&["exec", "web-4", "--", "ordinal-kv", "list"]);
    assert_eq!(out, "color=blue\nsize=large\n");
    let claims = pod_rows(&r.ok(&["get", "pvc", "-l", "app=kv"]));
    let claims: Vec<(&str, &str)> = claims
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        claims,
        (0..5)
            .map(|i| (
                [
                    "data-web-0",
                    "data-web-1",
                    "data-web-2",
                    "data-web-3",
                    "data-web-4"
                ][i],
                "Bound"
            ))
            .collect::<Vec<_>>()
    );

    // Clean up.
    let out = r.ok(&["delete", "-f", "examples/replicated-kv/"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "service \"web\" deleted",
            "service \"kv-read\" deleted",
            "statefulset.apps \"web\" deleted"
        ]
    );
    let out = r.ok(&["delete", "pvc", "-l", "app=kv"]);
    assert_eq!(out.lines().count(), 5, "{out}");
    eventually(
        "the pods and the volumes are gone",
        Duration::from_secs(60),
        || o.ok(&["get", "pods,pv", "-o", "name"]).trim().is_empty(),
    );

    r.finish();
    eprintln!("the README replayed in {:?}", started.elapsed());
}

#[test]
fn readme_commands_are_split_as_a_shell_would() {
    assert_eq!(
        words(
            r#"create configmap x --from-literal=bin-dir="$PWD/target/debug""#,
            "/repo"
        ),
        [
            "create",
            "configmap",
            "x",
            "--from-literal=bin-dir=/repo/target/debug"
        ]
    );
    assert_eq!(words("  get  pods ", "/r"), ["get", "pods"]);
    assert_eq!(words(r#"a "" b"#, "/r"), ["a", "", "b"]);
}
