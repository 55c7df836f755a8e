//! Test harness: a real `ordinal up` process on a temporary data dir and a
//! free loopback port, and the real kubectl 1.33 pointed at it.

#![allow(dead_code)]

pub mod images;
pub mod kubelet;
pub mod network;
pub mod node;
pub mod replay;
pub mod terminal;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The kubectl the tests drive: `$KUBECTL`, or kubectl 1.33 where this
/// machine installs it. A missing kubectl fails the test loudly.
pub fn kubectl_path() -> PathBuf {
    if let Ok(p) = std::env::var("KUBECTL") {
        return PathBuf::from(p);
    }
    let default = PathBuf::from("/usr/lib/google-cloud-sdk/bin/kubectl.1.33");
    assert!(
        default.exists(),
        "kubectl 1.33 not found at {} (set KUBECTL to its path)",
        default.display()
    );
    default
}

/// A running `ordinal up`.
pub struct Ordinal {
    pub dir: PathBuf,
    pub url: String,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
    cache: tempfile::TempDir,
}

impl Ordinal {
    /// Starts ordinal on a fresh temporary data dir.
    pub fn start() -> Ordinal {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut o = Ordinal::start_on(&dir);
        o._tmp = Some(tmp);
        o
    }

    /// Starts ordinal on a fresh temporary data dir with more arguments to
    /// `ordinal up` (e.g. `--no-controllers`).
    pub fn start_with(extra: &[&str]) -> Ordinal {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (child, url) = spawn_with(tmp.path(), extra).expect("ordinal up starts");
        Ordinal {
            dir: tmp.path().to_path_buf(),
            url,
            child: Some(child),
            _tmp: Some(tmp),
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Starts ordinal on a given data dir (which the caller keeps).
    pub fn start_on(dir: &Path) -> Ordinal {
        let (child, url) = spawn(dir).expect("ordinal up starts");
        Ordinal {
            dir: dir.to_path_buf(),
            url,
            child: Some(child),
            _tmp: None,
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Starts ordinal on a given data dir with more arguments to
    /// `ordinal up`.
    pub fn start_on_with(dir: &Path, extra: &[&str]) -> Ordinal {
        let (child, url) = spawn_with(dir, extra).expect("ordinal up starts");
        Ordinal {
            dir: dir.to_path_buf(),
            url,
            child: Some(child),
            _tmp: None,
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// An `ordinal up` started by the caller (through a wrapper, say),
    /// whose data dir this process reaches at `dir`.
    pub fn attach(dir: PathBuf, child: Child, url: String) -> Ordinal {
        Ordinal {
            dir,
            url,
            child: Some(child),
            _tmp: None,
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A kubectl command for this server, with a fresh discovery cache.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(kubectl_path());
        cmd.env("KUBECONFIG", self.kubeconfig())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .arg("--cache-dir")
            .arg(self.cache.path())
            .arg("--request-timeout=20s");
        cmd
    }

    /// kubectl 1.`minor` (installed next to kubectl 1.33, as
    /// `kubectl.1.27` … `kubectl.1.33`) for this server.
    pub fn kubectl_at(&self, minor: u32) -> Command {
        let path = kubectl_path().with_file_name(format!("kubectl.1.{minor}"));
        assert!(path.exists(), "{} is missing", path.display());
        let mut cmd = Command::new(path);
        cmd.env("KUBECONFIG", self.kubeconfig())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .arg("--cache-dir")
            .arg(self.cache.path());
        cmd
    }

    /// Runs kubectl and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.kubectl().args(args).output().expect("kubectl runs")
    }

    /// Runs kubectl, asserts success and returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs kubectl with `stdin` fed to it; returns its output.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl with stdin, asserts success and returns stdout.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A kube-rs client for this server, through its kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: a signal to our own child, which we have not reaped.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ordinal did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ordinal {
    /// Stops ordinal the way a user would (SIGTERM), so its pods, bridge
    /// and rules go with it; SIGKILL if it does not exit in time.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: a signal to our own child, which we have not reaped.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ordinal")
}

/// Spawns `ordinal up` on a free port and waits for it to say it is up.
/// Returns the error output when it exits instead.
pub fn spawn(dir: &Path) -> Result<(Child, String), String> {
    spawn_with(dir, &[])
}

/// [`spawn`] with more arguments to `ordinal up`.
pub fn spawn_with(dir: &Path, extra: &[&str]) -> Result<(Child, String), String> {
    if !extra.contains(&"--no-node") {
        images::prepare(dir);
    }
    let mut command = Command::new(binary());
    command.args(up_args(dir, extra));
    spawn_command(command)
}

/// The arguments of `ordinal up` on `dir` with a free port.
pub fn up_args(dir: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "up",
        "--listen",
        "127.0.0.1:0",
        "--dns-listen",
        "127.0.0.1:0",
        "--data-dir",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(dir.into());
    args.extend(extra.iter().map(Into::into));
    args
}

/// `ordinal node` (the node agent alone) named `name` against `server`, on
/// `dir`, with busybox in its image store; its banner read so it is up.
#[allow(dead_code)]
pub fn node_agent(server: &Ordinal, name: &str, dir: &Path) -> Child {
    images::import_into_node(dir, "busybox", images::busybox_archive());
    let mut child = Command::new(binary())
        .args(["node", "--node-name", name, "--kubeconfig"])
        .arg(server.kubeconfig())
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ordinal node starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    assert!(banner.starts_with("ordinal node:"), "{banner}");
    // Its later lines (the shutdown's) are read, never a broken pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    child
}

/// Spawns a command that runs `ordinal up` (directly, or through a
/// wrapper that execs it) and waits for the banner.
pub fn spawn_command(mut command: Command) -> Result<(Child, String), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ordinal");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line.starts_with("ordinal is up") => {
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("https://"))
                .expect("url in the banner")
                .to_string();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            Ok((child, url))
        }
        _ => {
            let out = child.wait_with_output().unwrap();
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// A field of an object (`kubectl get WHAT -o jsonpath=PATH`); the object
/// must exist.
pub fn get(o: &Ordinal, what: &str, path: &str) -> String {
    o.ok(&["get", what, "-o", &format!("jsonpath={path}")])
}

/// [`get`] for an object that may not exist (yet): empty then.
pub fn peek(o: &Ordinal, what: &str, path: &str) -> String {
    let out = o.run(&["get", what, "-o", &format!("jsonpath={path}")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl apply -f -` of a manifest.
pub fn apply(o: &Ordinal, yaml: &str) {
    o.ok_stdin(&["apply", "-f", "-"], yaml);
}

/// The name of the first node, once one has registered.
pub fn node_name(o: &Ordinal) -> String {
    let mut name = String::new();
    eventually("the node registers", Duration::from_secs(20), || {
        name = peek(o, "nodes", "{.items[0].metadata.name}");
        !name.is_empty()
    });
    name
}

/// Polls `check` until it returns true or the time runs out.
pub fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for: {what}");
}

/// Our processes: those whose command line names `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(pid);
        }
    }
    found
}
