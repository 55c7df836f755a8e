//! Scenarios against a fake cgroupfs: a temporary directory laid out as a
//! v1 or v2 host, whose `mkdir` fills a new cgroup with its control files
//! (plain files) as the kernel would. They check what is written where.
//! The real kernel is exercised by `tests/cgroups.rs` (root).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::tree::Cgroupfs;
use super::*;

/// A fake cgroupfs rooted at a temporary directory.
#[derive(Debug)]
struct Fake {
    dir: tempfile::TempDir,
    v2: bool,
    /// Control files this "kernel" does not have.
    missing: std::sync::Mutex<Vec<&'static str>>,
}

/// The control files a new v1 cgroup gets, by controller.
fn v1_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "memory" => &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
            ("memory.max_usage_in_bytes", "0"),
        ],
        "cpu" => &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
        ],
        "cpuacct" => &[("cpuacct.usage", "0")],
        "pids" => &[("pids.max", "max"), ("pids.current", "0")],
        "cpuset" => &[("cpuset.cpus", ""), ("cpuset.mems", "")],
        _ => &[],
    }
}

const V2_FILES: &[(&str, &str)] = &[
    ("cgroup.subtree_control", ""),
    ("cgroup.kill", ""),
    ("memory.max", "max"),
    ("memory.swap.max", "max"),
    ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
    ("memory.peak", "0"),
    ("cpu.weight", "100"),
    ("cpu.max", "max 100000"),
    ("pids.max", "max"),
];

impl Fake {
    fn new(v2: bool) -> Arc<Fake> {
        Arc::new(Fake {
            dir: tempfile::tempdir().unwrap(),
            v2,
            missing: Default::default(),
        })
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A v1 hierarchy mounted at `<root>/<list>`, with a link per
    /// controller when it holds several (`cpu` → `cpu,cpuacct`).
    fn mount_v1(&self, list: &str) {
        self.mkdir(&self.root().join(list)).unwrap();
        if list.contains(',') {
            for name in list.split(',') {
                std::os::unix::fs::symlink(list, self.root().join(name)).unwrap();
            }
        }
    }

    /// The v2 root with `controllers` available and `enabled` for children.
    fn mount_v2(&self, controllers: &str, enabled: &str) {
        self.put(self.root(), "cgroup.controllers", controllers);
        self.put(self.root(), "cgroup.subtree_control", enabled);
        self.put(self.root(), "cgroup.procs", "1\n");
    }

    fn put(&self, dir: &Path, file: &str, text: &str) {
        fs::write(dir.join(file), text).unwrap();
    }

    /// From now on, new cgroups lack `file`.
    fn without(&self, file: &'static str) {
        self.missing.lock().unwrap().push(file);
    }

    /// A control file of a new cgroup, unless this kernel lacks it.
    fn control(&self, dir: &Path, file: &str, text: &str) {
        if !self.missing.lock().unwrap().contains(&file) {
            self.put(dir, file, text);
        }
    }
}

impl Cgroupfs for Fake {
    fn mkdir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir(dir)?;
        self.put(dir, "cgroup.procs", "");
        if !self.v2 {
            self.put(dir, "tasks", "");
        }
        if self.v2 {
            let parent = fs::read_to_string(dir.parent().unwrap().join("cgroup.subtree_control"))?;
            let controllers = parent.replace('+', "");
            self.put(dir, "cgroup.controllers", controllers.trim());
            for (file, text) in V2_FILES {
                self.control(dir, file, text);
            }
        } else {
            // The hierarchy is the first component below the root.
            let rel = dir.strip_prefix(self.root()).unwrap();
            let list = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap();
            for controller in list.split(',') {
                for (file, text) in v1_files(controller) {
                    self.control(dir, file, text);
                }
            }
        }
        Ok(())
    }

    fn rmdir(&self, dir: &Path) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
        }
        for entry in fs::read_dir(dir)? {
            fs::remove_file(entry?.path())?;
        }
        fs::remove_dir(dir)
    }
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// What /proc/self/cgroup says on a v1 host where the agent runs in
/// `/agent.scope` of the memory hierarchy and at the root of the others.
const OWN_V1: &str = "12:pids:/\n5:memory:/agent.scope\n3:cpu,cpuacct:/\n2:cpuset:/\n0::/\n";

/// A v1 host: memory, cpu+cpuacct together, pids, and cpuset (unused).
fn v1_host() -> Arc<Fake> {
    let fake = Fake::new(false);
    for list in ["memory", "cpu,cpuacct", "pids", "cpuset"] {
        fake.mount_v1(list);
    }
    fake.mkdir(&fake.root().join("memory/agent.scope")).unwrap();
    fake
}

fn setup(fake: &Arc<Fake>, own: &str, swap: bool) -> Cgroups {
    Cgroups::setup_with(fake.clone(), fake.root(), "ordinal7", own, swap)
}

/// Every directory below `dir`, relative to it.
fn dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                out.push(entry.path().strip_prefix(dir).unwrap().to_path_buf());
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

fn pod_limits() -> PodLimits {
    PodLimits {
        memory: Some(64 << 20),
        cpu_quota_millis: Some(1000),
        cpu_request_millis: 500,
        pids: Some(100),
    }
}

#[test]
fn v1_makes_the_instance_root_under_the_agents_own_cgroup_in_each_hierarchy() {
    let fake = v1_host();
    let cgroups = setup(&fake, OWN_V1, false);
    assert_eq!(cgroups.version(), Version::V1);
    assert_eq!(cgroups.unavailable(), None);
    let r = fake.root();
    assert_eq!(
        cgroups.roots(),
        [
            r.join("cpu,cpuacct/ordinal/ordinal7"),
            r.join("memory/agent.scope/ordinal/ordinal7"),
            r.join("pids/ordinal/ordinal7"),
        ],
        "cpu and cpuacct share one hierarchy; cpuset is not used"
    );
    assert!(!r.join("cpuset/ordinal").exists());
}

#[test]
fn v1_pod_and_container_limits_land_in_their_hierarchies() {
    let fake = v1_host();
    let cgroups = setup(&fake, OWN_V1, false);
    let pod = cgroups.pod("0b5e-uid", &pod_limits()).unwrap();
    let r = fake.root();
    let memory = r.join("memory/agent.scope/ordinal/ordinal7/pod0b5e-uid");
    let cpu = r.join("cpu,cpuacct/ordinal/ordinal7/pod0b5e-uid");
    let pids = r.join("pids/ordinal/ordinal7/pod0b5e-uid");
    assert_eq!(pod.path(), [cpu.clone(), memory.clone(), pids.clone()]);
    assert_eq!(read(memory.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(cpu.join("cpu.shares")), "512");
    assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "100000");
    assert_eq!(read(pids.join("pids.max")), "100");
    assert_eq!(
        read(memory.join("memory.memsw.limit_in_bytes")),
        "9223372036854771712",
        "no swap on this host: memsw is left alone"
    );

    let limits = ContainerLimits {
        memory: Some(32 << 20),
        cpu_quota_millis: Some(2000),
        cpu_request_millis: 250,
        pids: None,
    };
    let app = pod.container("app", 3, &limits).unwrap();
    assert_eq!(app.path()[1], memory.join("app-3"));
    assert_eq!(read(memory.join("app-3/memory.limit_in_bytes")), "33554432");
    assert_eq!(read(cpu.join("app-3/cpu.shares")), "256");
    assert_eq!(
        read(cpu.join("app-3/cpu.cfs_quota_us")),
        "100000",
        "v1 refuses a quota above the pod's: the pod's 1 CPU caps it"
    );
    assert_eq!(
        read(pids.join("app-3/pids.max")),
        "max",
        "no container pids limit"
    );
    assert_eq!(app.join_fds().unwrap().len(), 3);
    // A process joins each hierarchy through `tasks`, which moves a
    // single-threaded writer without the kernel's global lock.
    assert!(app.join_files().iter().all(|f| f.ends_with("tasks")));
}

#[test]
fn v1_oom_kills_and_peak_are_read_from_the_memory_hierarchy() {
    let fake = v1_host();
    let cgroups = setup(&fake, OWN_V1, false);
    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    let app = pod
        .container("app", 0, &ContainerLimits::default())
        .unwrap();
    assert!(!app.oom_killed());
    let dir = fake
        .root()
        .join("memory/agent.scope/ordinal/ordinal7/podu1/app-0");
    fake.put(
        &dir,
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    );
    fake.put(&dir, "memory.max_usage_in_bytes", "33550336\n");
    assert!(app.oom_killed());
    assert_eq!(app.memory_peak(), Some(33_550_336));
}

#[test]
fn v1_with_swap_caps_memory_and_swap_at_the_memory_limit() {
    let fake = v1_host();
    let cgroups = setup(&fake, OWN_V1, true);
    cgroups.pod("u1", &pod_limits()).unwrap();
    let dir = fake
        .root()
        .join("memory/agent.scope/ordinal/ordinal7/podu1");
    assert_eq!(read(dir.join("memory.memsw.limit_in_bytes")), "67108864");
}

#[test]
fn v1_without_a_pids_hierarchy_enforces_the_rest_and_says_so() {
    let fake = Fake::new(false);
    fake.mount_v1("memory");
    fake.mount_v1("cpu,cpuacct");
    let cgroups = setup(&fake, "5:memory:/\n3:cpu,cpuacct:/\n", false);
    let why = cgroups.unavailable().expect("pids is missing");
    assert!(why.starts_with("cgroup v1: not enforced: pids"), "{why}");
    assert!(!why.contains("memory") && !why.contains("cpu"), "{why}");
    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    assert_eq!(pod.path().len(), 2);
    let dir = fake.root().join("memory/ordinal/ordinal7/podu1");
    assert_eq!(read(dir.join("memory.limit_in_bytes")), "67108864");
}

#[test]
fn v1_copies_cpuset_into_new_cgroups_when_cpuset_shares_a_hierarchy() {
    let fake = Fake::new(false);
    fake.mount_v1("cpu,cpuset");
    fake.put(&fake.root().join("cpu,cpuset"), "cpuset.cpus", "0-3");
    fake.put(&fake.root().join("cpu,cpuset"), "cpuset.mems", "0");
    let cgroups = setup(&fake, "3:cpu,cpuset:/\n", false);
    let app = cgroups
        .pod("u1", &pod_limits())
        .unwrap()
        .container("app", 0, &ContainerLimits::default())
        .unwrap();
    assert_eq!(read(app.path()[0].join("cpuset.cpus")), "0-3");
    assert_eq!(read(app.path()[0].join("cpuset.mems")), "0");
}

#[test]
fn a_previous_instance_of_the_same_name_is_removed_at_setup() {
    let fake = v1_host();
    let first = setup(&fake, OWN_V1, false);
    let pod = first.pod("old", &pod_limits()).unwrap();
    pod.container("app", 0, &ContainerLimits::default())
        .unwrap();
    // The agent was SIGKILLed: no teardown. The next start cleans up.
    drop(first);
    let second = setup(&fake, OWN_V1, false);
    assert_eq!(second.unavailable(), None);
    for root in second.roots() {
        assert_eq!(
            dirs_below(root),
            Vec::<PathBuf>::new(),
            "{}",
            root.display()
        );
    }
}

#[test]
fn removing_and_teardown_leave_nothing_of_ours() {
    let fake = v1_host();
    let before: Vec<PathBuf> = dirs_below(fake.root());
    let cgroups = setup(&fake, OWN_V1, false);
    let a = cgroups.pod("a", &pod_limits()).unwrap();
    let app = a.container("app", 0, &ContainerLimits::default()).unwrap();
    a.sandbox().unwrap();
    let b = cgroups.pod("b", &pod_limits()).unwrap();
    b.container("db", 1, &ContainerLimits::default()).unwrap();

    app.remove().unwrap();
    assert!(app.path().iter().all(|p| !p.exists()));
    assert!(a.path().iter().all(|p| p.join("pause").exists()));
    a.remove().unwrap();
    assert!(a.path().iter().all(|p| !p.exists()));
    a.remove().unwrap(); // again: nothing to do

    cgroups.teardown();
    assert_eq!(dirs_below(fake.root()), before);
    cgroups.teardown();
}

#[test]
fn a_failed_write_leaves_no_half_made_container() {
    let fake = v1_host();
    let cgroups = setup(&fake, OWN_V1, false);
    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    // A kernel without pids.max: the pids hierarchy comes last (cpu,
    // memory, pids), after the other two cgroups were made and written.
    fake.without("pids.max");
    let limits = ContainerLimits {
        pids: Some(10),
        ..Default::default()
    };
    let err = pod
        .container("app", 0, &limits)
        .expect_err("pids.max is missing");
    assert!(err.to_string().contains("pids.max"), "{err}");
    for dir in pod.path() {
        assert!(!dir.join("app-0").exists(), "{}", dir.display());
    }
}

#[test]
fn names_that_would_leave_the_tree_are_refused() {
    let fake = v1_host();
    let cgroups = setup(&fake, OWN_V1, false);
    for uid in ["", "../x", "a/b", ".hidden"] {
        let e = cgroups.pod(uid, &pod_limits()).expect_err(uid);
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{uid}");
    }
    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    for name in ["", "..", "../../x", "App", "-a", &"a".repeat(64)] {
        let e = pod
            .container(name, 0, &ContainerLimits::default())
            .expect_err(name);
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name}");
    }
    let bad = Cgroups::setup_with(fake.clone(), fake.root(), "../..", OWN_V1, false);
    assert!(bad.unavailable().unwrap().contains("instance"));
    assert!(bad.roots().is_empty());
}

#[test]
fn v2_enables_controllers_down_to_the_instance_and_writes_v2_files() {
    let fake = Fake::new(true);
    fake.mount_v2("cpuset cpu io memory hugetlb pids", "");
    let cgroups = setup(&fake, "0::/user.slice/session-1.scope\n", false);
    assert_eq!(cgroups.version(), Version::V2);
    assert_eq!(cgroups.unavailable(), None);
    let r = fake.root();
    assert_eq!(
        cgroups.roots(),
        [r.join("ordinal/ordinal7")],
        "not under the agent's own"
    );
    for dir in [
        r.to_path_buf(),
        r.join("ordinal"),
        r.join("ordinal/ordinal7"),
    ] {
        assert_eq!(
            read(dir.join("cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
    }

    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    let dir = r.join("ordinal/ordinal7/podu1");
    assert_eq!(read(dir.join("memory.max")), "67108864");
    assert_eq!(read(dir.join("memory.swap.max")), "0");
    assert_eq!(read(dir.join("cpu.weight")), "20");
    assert_eq!(read(dir.join("cpu.max")), "100000 100000");
    assert_eq!(read(dir.join("pids.max")), "100");
    assert_eq!(
        read(dir.join("cgroup.subtree_control")),
        "+cpu +memory +pids"
    );

    let limits = ContainerLimits {
        memory: Some(32 << 20),
        cpu_quota_millis: Some(2000),
        cpu_request_millis: 1000,
        pids: None,
    };
    let app = pod.container("app", 0, &limits).unwrap();
    let c = dir.join("app-0");
    assert_eq!(app.path(), std::slice::from_ref(&c));
    assert_eq!(read(c.join("memory.max")), "33554432");
    assert_eq!(read(c.join("cpu.weight")), "39");
    assert_eq!(
        read(c.join("cpu.max")),
        "200000 100000",
        "v2 caps, it does not refuse"
    );
    assert_eq!(app.join_fds().unwrap().len(), 1);
    assert_eq!(app.join_files(), [c.join("cgroup.procs")]);

    assert!(!app.oom_killed());
    fake.put(
        &c,
        "memory.events",
        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    );
    fake.put(&c, "memory.peak", "33554432\n");
    assert!(app.oom_killed());
    assert_eq!(app.memory_peak(), Some(32 << 20));

    cgroups.teardown();
    assert!(!r.join("ordinal").exists());
}

#[test]
fn v2_writes_nothing_at_the_root_when_the_host_enables_the_controllers_already() {
    let fake = Fake::new(true);
    fake.mount_v2("cpu memory pids", "cpu memory pids");
    let cgroups = setup(&fake, "0::/\n", false);
    assert_eq!(cgroups.unavailable(), None);
    assert_eq!(
        read(fake.root().join("cgroup.subtree_control")),
        "cpu memory pids"
    );
}

#[test]
fn v2_without_controllers_runs_pods_without_limits_and_says_why() {
    let fake = Fake::new(true);
    // A hybrid host: memory, cpu and pids are bound to v1 hierarchies.
    fake.mount_v2("hugetlb", "");
    let cgroups = setup(&fake, "0::/\n", false);
    let why = cgroups.unavailable().expect("nothing is usable");
    assert!(why.contains("none of memory, cpu, pids"), "{why}");
    assert!(why.contains(&fake.root().display().to_string()), "{why}");
    assert_eq!(
        dirs_below(fake.root()),
        Vec::<PathBuf>::new(),
        "nothing made"
    );
    assert_eq!(read(fake.root().join("cgroup.subtree_control")), "");

    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    let app = pod
        .container("app", 0, &ContainerLimits::default())
        .unwrap();
    assert!(pod.path().is_empty() && app.path().is_empty());
    assert!(app.join_fds().unwrap().is_empty());
    assert!(!app.oom_killed());
    app.remove().unwrap();
    pod.remove().unwrap();
    cgroups.teardown();
}

#[test]
fn v2_with_memory_only_limits_memory_and_names_what_is_not_enforced() {
    let fake = Fake::new(true);
    fake.mount_v2("memory io", "");
    let cgroups = setup(&fake, "0::/\n", false);
    let why = cgroups.unavailable().expect("cpu and pids are missing");
    assert!(why.contains("cpu (") && why.contains("pids ("), "{why}");
    assert!(!why.contains("memory ("), "{why}");
    let pod = cgroups.pod("u1", &pod_limits()).unwrap();
    assert_eq!(read(pod.path()[0].join("memory.max")), "67108864");
    assert_eq!(
        read(pod.path()[0].join("cpu.weight")),
        "100",
        "cpu not enabled: untouched"
    );
}

#[test]
fn handles_can_be_shared_across_tasks() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Cgroups>();
    shared::<PodCgroup>();
    shared::<ContainerCgroup>();
}
