//! The Python Kubernetes clients, unchanged, against `ordinal up`: the
//! official client (`kubernetes`), kr8s and lightkube each run a whole
//! StatefulSet workflow from a script in `tests/clients/` — discovery, a
//! headless Service and a two-replica set watched until Ready, every patch
//! type, `/scale`, logs, exec with stdin over the WebSocket, paginated
//! lists, events and a cascading delete.
//!
//! The scripts run with the Python of the virtualenv `.ci/run` makes
//! (`$ORDINAL_TEST_PYTHON`, or `pyenv/bin/python` in the cargo target
//! dir), with the clients pinned in `tests/clients/requirements.txt`.
//! Each script prints `ok STEP: what it saw` or `FAIL STEP` and the
//! exception for every step, bounds every wait, and exits non-zero when a
//! step failed.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Ordinal;

/// The longest a script may run before the test kills it; the scripts
/// bound each of their own waits well below this.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(420);

/// The steps every script reports, in order.
const STEPS: &[&str] = &[
    "discovery",
    "create",
    "ready",
    "patch-strategic",
    "patch-merge",
    "patch-json",
    "apply",
    "scale",
    "scale-apply",
    "logs",
    "exec",
    "paginate",
    "events-core",
    "events-v1",
    "delete",
];

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// The virtualenv's Python: `$ORDINAL_TEST_PYTHON`, or the one `.ci/run`
/// makes in the target dir this test binary was built into. A missing
/// interpreter or client library fails the test at once, naming the fix.
fn python(module: &str) -> PathBuf {
    let how = format!(
        "make the virtualenv as .ci/run does: python3 -m venv \"${{CARGO_TARGET_DIR:-target}}/pyenv\" \
         && \"${{CARGO_TARGET_DIR:-target}}/pyenv/bin/pip\" install -r {} \
         (Debian: apt-get install python3-venv), or set ORDINAL_TEST_PYTHON to a python that has them",
        clients_dir().join("requirements.txt").display()
    );
    let python = match std::env::var_os("ORDINAL_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            // target/debug/deps/clients-HASH → target/pyenv
            let exe = std::env::current_exe().expect("the test binary's path");
            let target = exe
                .ancestors()
                .nth(3)
                .expect("the test binary lives in TARGET/PROFILE/deps");
            target.join("pyenv/bin/python")
        }
    };
    assert!(
        python.exists(),
        "the client tests need Python with the pinned clients, not found at {}: {how}",
        python.display()
    );
    let check = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .unwrap_or_else(|e| panic!("{} does not run ({e}): {how}", python.display()));
    assert!(
        check.status.success(),
        "{} cannot import {module}: {}\n{how}",
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

/// Runs `script` against a fresh `ordinal up` and returns its output once
/// it has succeeded; a failed or overdue script fails the test with all it
/// printed.
fn run_workflow(module: &str, script: &str) -> String {
    let python = python(module);
    let o = Ordinal::start();
    let mut child = Command::new(&python)
        .arg(clients_dir().join(script))
        .arg(o.kubeconfig())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the script starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + SCRIPT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("{script} failed ({s}):\n{out}\n--- stderr ---\n{err}"),
        None => {
            panic!("{script} still ran after {SCRIPT_DEADLINE:?}:\n{out}\n--- stderr ---\n{err}")
        }
    }
    for step in STEPS {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("ok {step}:"))),
            "{script} did not report step {step}:\n{out}"
        );
    }
    out
}

/// The detail a script printed for `step`.
fn detail<'a>(out: &'a str, step: &str) -> &'a str {
    let prefix = format!("ok {step}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no step {step} in:\n{out}"))
}

/// What every workflow must have seen, whatever the library.
fn check_common(out: &str) {
    assert!(detail(out, "ready").contains("web-0 web-1"), "{out}");
    assert!(detail(out, "logs").contains("hello from web-0"), "{out}");
    assert!(detail(out, "exec").contains("got:ping"), "{out}");
    assert!(
        detail(out, "paginate").contains("pages=[10, 10, 5]"),
        "{out}"
    );
    assert!(detail(out, "scale").contains("replicas 2 -> 3"), "{out}");
    assert!(detail(out, "scale-apply").contains("replicas=2"), "{out}");
    assert!(
        detail(out, "events-core").contains("SuccessfulCreate"),
        "{out}"
    );
    assert!(
        detail(out, "events-v1").contains("SuccessfulCreate"),
        "{out}"
    );
    assert!(detail(out, "delete").contains("no pods left"), "{out}");
}

#[test]
fn official_python_client_runs_a_statefulset_workflow() {
    let out = run_workflow("kubernetes", "official.py");
    check_common(&out);
    assert!(detail(&out, "discovery").contains("v1.33"), "{out}");
}

#[test]
fn kr8s_runs_a_statefulset_workflow() {
    let out = run_workflow("kr8s", "kr8s_workflow.py");
    check_common(&out);
    assert!(detail(&out, "discovery").contains("v1.33"), "{out}");
}

#[test]
fn lightkube_runs_a_statefulset_workflow() {
    let out = run_workflow("lightkube", "lightkube_workflow.py");
    check_common(&out);
}
