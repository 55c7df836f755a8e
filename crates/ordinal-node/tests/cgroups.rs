//! Pod cgroups on this machine's real cgroup hierarchy (v1 here and in CI,
//! v2 on most laptops): a memory limit OOM-kills and is reported, a pids
//! limit stops a fork loop, a restarted instance cleans up after a killed
//! one, and nothing of ours is left afterwards.
//!
//! Needs root. Each test uses an instance name of its own, and a guard
//! tears its cgroups down even when the test fails; nothing host-wide is
//! changed (the cgroup2 test mounts only inside a private mount namespace).

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ordinal_node::runtime::cgroups::{
    Cgroups, ContainerCgroup, ContainerLimits, PodLimits, Version,
};

const FS_ROOT: &str = "/sys/fs/cgroup";
const MIB: u64 = 1 << 20;

fn require_root() {
    assert_eq!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() },
        0,
        "these tests need root: they create cgroups under {FS_ROOT}"
    );
}

/// An instance's cgroups and the processes started in them; dropping it
/// kills the processes and tears the cgroups down, pass or fail.
struct Instance {
    cgroups: Cgroups,
    children: Vec<Child>,
}

impl Instance {
    /// An instance named after the test and this process, with every limit
    /// usable, or the test fails at once saying why not.
    fn new(test: &str) -> Instance {
        require_root();
        let cgroups = Cgroups::setup(Path::new(FS_ROOT), &instance_name(test));
        if let Some(why) = cgroups.unavailable() {
            panic!("cgroups are not usable on this host: {why}");
        }
        Instance {
            cgroups,
            children: Vec::new(),
        }
    }

    /// Starts `sh -c script` in `container`: the child joins between fork
    /// and exec through the join descriptors, as the runtime's child does.
    fn start(&mut self, container: &ContainerCgroup, script: &str) -> &mut Child {
        let fds = container.join_fds().expect("opening cgroup.procs");
        assert!(!fds.is_empty());
        let child = spawn_joined(fds, script);
        self.children.push(child);
        self.children.last_mut().unwrap()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.cgroups.teardown();
    }
}

fn instance_name(test: &str) -> String {
    format!("test-{}-{test}", std::process::id())
}

fn spawn_joined(fds: Vec<OwnedFd>, script: &str) -> Child {
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: write(2) on descriptors the parent keeps open until spawn
    // returns; nothing allocates.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &raw {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("starting sh");
    drop(fds);
    child
}

fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the process did not end within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn processes_in(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap()
        .lines()
        .count()
}

fn assert_gone(paths: &[PathBuf]) {
    for p in paths {
        assert!(!p.exists(), "{} is still there", p.display());
    }
}

#[test]
fn a_container_over_its_memory_limit_is_oom_killed_and_reported() {
    let mut instance = Instance::new("oom");
    let pod = instance
        .cgroups
        .pod(
            "oom-pod",
            &PodLimits {
                memory: Some(64 * MIB),
                ..Default::default()
            },
        )
        .unwrap();
    let limits = ContainerLimits {
        memory: Some(32 * MIB),
        ..Default::default()
    };

    let calm = pod.container("calm", 0, &limits).unwrap();
    let status = wait(
        instance.start(&calm, "head -c 1M /dev/zero | tail -c 1 >/dev/null"),
        Duration::from_secs(30),
    );
    assert!(status.success(), "{status:?}");
    assert!(
        !calm.oom_killed(),
        "a container within its limit was not OOM-killed"
    );

    // `tail` keeps everything it reads until it finds a line end: 100 MiB.
    let hog = pod.container("hog", 0, &limits).unwrap();
    let child = instance.start(&hog, "head -c 100M /dev/zero | tail >/dev/null");
    let status = wait(child, Duration::from_secs(60));
    assert_eq!(
        status.code(),
        Some(137),
        "killed by SIGKILL, as the shell reports it"
    );
    assert!(hog.oom_killed(), "the kernel's OOM kill is seen");
    if let Some(peak) = hog.memory_peak() {
        assert!(peak <= 32 * MIB, "peak {peak} over the 32 MiB limit");
    }

    let (pod_paths, hog_paths) = (pod.path().to_vec(), hog.path().to_vec());
    pod.remove().unwrap();
    assert_gone(&hog_paths);
    assert_gone(&pod_paths);
    let roots = instance.cgroups.roots().to_vec();
    drop(instance);
    assert_gone(&roots);
}

#[test]
fn a_joined_process_is_in_the_container_in_every_hierarchy() {
    let mut instance = Instance::new("joined");
    let pod = instance
        .cgroups
        .pod("joined-pod", &PodLimits::default())
        .unwrap();
    let app = pod
        .container("app", 0, &ContainerLimits::default())
        .unwrap();
    let pid = instance.start(&app, "exec sleep 600").id();
    // On v1 the child joins through `tasks`, one thread at a time: the
    // whole process must be there all the same, in each hierarchy.
    for dir in app.path() {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{pid} is not in {}/cgroup.procs: {procs:?}",
            dir.display()
        );
    }
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let inside = own
        .lines()
        .filter(|l| l.ends_with("/podjoined-pod/app-0"))
        .count();
    assert_eq!(inside, app.path().len(), "{own}");
}

#[test]
fn a_pids_limit_stops_a_fork_loop() {
    let mut instance = Instance::new("pids");
    let pod = instance
        .cgroups
        .pod("pids-pod", &PodLimits::default())
        .unwrap();
    let forker = pod
        .container(
            "forker",
            0,
            &ContainerLimits {
                pids: Some(8),
                ..Default::default()
            },
        )
        .unwrap();
    let child = instance.start(
        &forker,
        // The sleeps must not hold the shell's stderr open.
        "i=0; while [ $i -lt 50 ]; do sleep 600 2>/dev/null & i=$((i+1)); done; echo all started >&2",
    );
    let status = wait(child, Duration::from_secs(30));
    let stderr = stderr_of(child);
    assert!(
        !status.success(),
        "the loop cannot have started 50 processes: {stderr}"
    );
    assert!(
        stderr.contains("fork"),
        "the shell could not fork: {stderr}"
    );
    let pids_dir = forker
        .path()
        .iter()
        .find(|p| p.join("pids.max").exists())
        .expect("a pids cgroup");
    let left = processes_in(pids_dir);
    assert!(
        (1..8).contains(&left),
        "{left} sleeps left, fewer than the limit of 8"
    );

    // Removing the container kills the sleeps it holds.
    let paths = forker.path().to_vec();
    forker.remove().unwrap();
    assert_gone(&paths);
    let roots = instance.cgroups.roots().to_vec();
    drop(instance);
    assert_gone(&roots);
}

#[test]
fn a_restarted_instance_kills_and_removes_what_a_killed_one_left() {
    require_root();
    let name = instance_name("restart");
    let first = Cgroups::setup(Path::new(FS_ROOT), &name);
    assert_eq!(first.unavailable(), None);
    let pod = first.pod("left-pod", &PodLimits::default()).unwrap();
    let app = pod
        .container("app", 0, &ContainerLimits::default())
        .unwrap();
    let mut leftover = spawn_joined(app.join_fds().unwrap(), "exec sleep 600");
    // The agent dies without a teardown (SIGKILL); the next start cleans up.
    drop(first);
    let mut second = Instance {
        cgroups: Cgroups::setup(Path::new(FS_ROOT), &name),
        children: Vec::new(),
    };
    let status = wait(&mut leftover, Duration::from_secs(10));
    second.children.push(leftover);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_gone(app.path());
    assert_gone(pod.path());
    assert_eq!(second.cgroups.unavailable(), None);
    assert_eq!(
        second.cgroups.roots(),
        instance_roots(&second.cgroups, &name)
    );
    let roots = second.cgroups.roots().to_vec();
    drop(second);
    assert_gone(&roots);
}

/// The roots end in `ordinal/<name>` and exist.
fn instance_roots(cgroups: &Cgroups, name: &str) -> Vec<PathBuf> {
    let roots = cgroups.roots().to_vec();
    assert!(!roots.is_empty());
    for r in &roots {
        assert!(
            r.ends_with(Path::new("ordinal").join(name)),
            "{}",
            r.display()
        );
        assert!(r.is_dir(), "{}", r.display());
    }
    roots
}

/// A cgroup2 mount of our own, visible only to one thread's private mount
/// namespace. On a v1 host the memory, cpu and pids controllers are bound
/// to v1 hierarchies, so the v2 root offers none of them: setup must say so
/// and make nothing. Where v2 has them, a pod gets its memory limit there.
#[test]
fn a_cgroup2_hierarchy_without_our_controllers_is_reported_unusable() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mount_at = dir.path().to_path_buf();
    let name = instance_name("v2");
    let checked =
        std::thread::spawn(move || in_private_cgroup2(&mount_at, || check_v2(&mount_at, &name)))
            .join()
            .expect("the v2 checks");
    checked.unwrap_or_else(|e| panic!("{e}"));
}

fn check_v2(root: &Path, name: &str) {
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap();
    let has_memory = controllers.split_whitespace().any(|c| c == "memory");
    let cgroups = Cgroups::setup(root, name);
    assert_eq!(cgroups.version(), Version::V2);
    if !has_memory {
        let why = cgroups.unavailable().expect("no controller: unavailable");
        assert!(why.contains("none of memory, cpu, pids"), "{why}");
        assert!(!root.join("ordinal").join(name).exists(), "nothing made");
        let pod = cgroups.pod("u1", &PodLimits::default()).unwrap();
        assert!(pod.path().is_empty());
        return;
    }
    assert!(
        !cgroups
            .unavailable()
            .is_some_and(|w| w.contains("memory (")),
        "{:?}",
        cgroups.unavailable()
    );
    let pod = cgroups
        .pod(
            "u1",
            &PodLimits {
                memory: Some(64 * MIB),
                ..Default::default()
            },
        )
        .unwrap();
    let max = std::fs::read_to_string(pod.path()[0].join("memory.max")).unwrap();
    cgroups.teardown();
    assert_eq!(max.trim(), (64 * MIB).to_string());
    assert_gone(cgroups.roots());
}

/// Runs `f` on this thread with `cgroup2` mounted at `at` in a mount
/// namespace of the thread's own (made private first, so the mount never
/// reaches the host's namespace); the namespace goes with the thread.
fn in_private_cgroup2(at: &Path, f: impl FnOnce()) -> Result<(), String> {
    use std::ffi::CString;
    let path = CString::new(at.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain system calls on this thread's own namespace.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNS): {}",
                std::io::Error::last_os_error()
            ));
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!(
                "making / private: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::mount(
            c"none".as_ptr(),
            path.as_ptr(),
            c"cgroup2".as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!(
                "mounting cgroup2 at {}: {}",
                at.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    // SAFETY: unmounting what we mounted, in our own namespace.
    unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
    result.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}
