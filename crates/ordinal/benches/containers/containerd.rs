//! A containerd of the benchmark's own (Debian's containerd 1.6 with
//! runc): configuration, root, state, socket, runc root, logs and FIFOs
//! all in one temporary directory; the CRI plugin off. It never touches
//! `/var/lib/containerd`, `/etc/containerd` or a system service. Dropping
//! it removes the containers, stops containerd and its shims, unmounts
//! whatever is still mounted under the directory, and removes the cgroups
//! it made.
//!
//! One thing lies outside the directory: containerd 1.6 puts each shim's
//! socket in `/run/containerd/s/<hash of our socket, namespace and id>`
//! whatever its configuration says. The shims remove their sockets when
//! their containers are deleted, and the directories go too when we made
//! them and they are empty.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The containerd namespace the benchmark's containers live in.
const NAMESPACE: &str = "ordinal-bench";
/// How `ctr image import` names the busybox archive's `busybox:1.36`.
pub const IMAGE: &str = "docker.io/library/busybox:1.36";

/// The programs the comparison needs, and their Debian packages.
const NEEDED: [(&str, &str); 4] = [
    ("containerd", "containerd"),
    ("ctr", "containerd"),
    ("containerd-shim-runc-v2", "containerd"),
    ("runc", "runc"),
];

pub struct Containerd {
    dir: PathBuf,
    sock: PathBuf,
    daemon: Option<Child>,
    ids: Vec<String>,
    /// `/run/containerd` and `/run/containerd/s` did not exist before.
    made_run_dirs: (bool, bool),
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(program).is_file())
}

impl Containerd {
    /// Starts containerd in `dir` (made here) and waits until it answers.
    /// Panics at once, naming the packages, when a program is missing.
    pub fn start(dir: &Path) -> Containerd {
        let missing: Vec<String> = NEEDED
            .iter()
            .filter(|(program, _)| !on_path(program))
            .map(|(program, package)| format!("{program} (Debian package {package})"))
            .collect();
        assert!(
            missing.is_empty(),
            "the comparison with containerd needs `apt-get install containerd runc`; missing: {}",
            missing.join(", ")
        );
        for sub in ["root", "state", "opt", "runc", "fifo", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).expect("containerd directories");
        }
        let sock = dir.join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            sock = sock.display(),
            opt = dir.join("opt").display(),
        );
        std::fs::write(dir.join("config.toml"), config).expect("containerd config");
        let run = Path::new("/run/containerd");
        let made_run_dirs = (!run.exists(), !run.join("s").exists());
        let log = std::fs::File::create(dir.join("containerd.log")).expect("containerd log");
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let mut c = Containerd {
            dir: dir.to_path_buf(),
            sock,
            daemon: Some(daemon),
            ids: Vec::new(),
            made_run_dirs,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if c.ctr()
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return c;
            }
            if let Some(Ok(Some(status))) = c.daemon.as_mut().map(Child::try_wait) {
                panic!(
                    "containerd exited ({status}): {}",
                    std::fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `ctr` on our socket and namespace.
    pub fn ctr(&self) -> Command {
        let mut command = Command::new("ctr");
        command
            .arg("--address")
            .arg(&self.sock)
            .args(["--namespace", NAMESPACE])
            .stdin(Stdio::null());
        command
    }

    /// `ctr image import` of a docker-save archive.
    pub fn import(&self, archive: &Path) {
        let out = self
            .ctr()
            .args(["image", "import"])
            .arg(archive)
            .output()
            .expect("ctr image import");
        assert!(
            out.status.success(),
            "ctr image import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Spawns `ctr run -d` of `sh -c SCRIPT` in a container `id` of the
    /// busybox image, with `ctl` bind-mounted at `/ctl` and its output
    /// going to a log file (as ordinal keeps a container's log). The
    /// caller times it; the container is removed on drop.
    pub fn run(&mut self, id: &str, ctl: &Path, script: &str) -> Child {
        self.ids.push(id.to_string());
        self.ctr()
            .args(["run", "--detach"])
            .arg("--runc-root")
            .arg(self.dir.join("runc"))
            .arg("--fifo-dir")
            .arg(self.dir.join("fifo"))
            .arg(format!(
                "--log-uri=file://{}",
                self.dir.join("logs").join(format!("{id}.log")).display()
            ))
            .arg(format!(
                "--mount=type=bind,src={},dst=/ctl,options=rbind:rw",
                ctl.display()
            ))
            .args([IMAGE, id, "sh", "-c", script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctr run")
    }

    /// The shims serving our socket: (pid, PSS in kB).
    pub fn shims(&self) -> Vec<(u32, u64)> {
        let address = self.sock.to_string_lossy().into_owned();
        crate::processes::all()
            .into_iter()
            .filter(|p| {
                p.argv
                    .first()
                    .is_some_and(|a| a.ends_with("containerd-shim-runc-v2"))
                    && p.argv.contains(&address)
            })
            .map(|p| (p.pid, p.pss_kb))
            .collect()
    }

    fn remove_containers(&self) {
        if self.ids.is_empty() {
            return;
        }
        let _ = self
            .ctr()
            .args(["task", "delete", "--force"])
            .args(&self.ids)
            .stderr(Stdio::null())
            .status();
        let _ = self
            .ctr()
            .args(["container", "delete"])
            .args(&self.ids)
            .stderr(Stdio::null())
            .status();
    }

    fn stop_daemon(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        // SAFETY: a signal to the process we started.
        unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = daemon.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
    }

    /// Unmounts what is still mounted under our directory, deepest first.
    fn unmount_leftovers(&self) {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| Path::new(p).starts_with(&self.dir))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let path = std::ffi::CString::new(p).expect("a path without NUL");
            // SAFETY: a NUL-terminated path.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.remove_containers();
        self.stop_daemon();
        // Shims outlive a stopped containerd; ours have no container
        // left, but never leave one running.
        for (pid, _) in self.shims() {
            // SAFETY: a signal to a shim our containerd started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        self.unmount_leftovers();
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(hierarchy.path().join(NAMESPACE));
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(NAMESPACE));
        if self.made_run_dirs.1 {
            let _ = std::fs::remove_dir("/run/containerd/s");
        }
        if self.made_run_dirs.0 {
            let _ = std::fs::remove_dir("/run/containerd");
        }
        let _ = std::io::stderr().flush();
    }
}
