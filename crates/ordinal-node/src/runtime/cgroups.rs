//! Resource limits for pods: a cgroup per pod and per container instance,
//! as a container runtime makes them.
//!
//! Memory and CPU limits come from each container's `resources` (see
//! `limits_of`), the CPU request becomes the cgroup's share of the CPU
//! (shares on v1, weight on v2), and the node may cap a pod's tasks. A
//! container that goes over its memory limit is killed by the kernel's OOM
//! killer; [`ContainerCgroup::oom_killed`] tells the runtime to report it as
//! `OOMKilled` (exit 137).
//!
//! The tree, under the instance's root in each hierarchy:
//!
//! ```text
//! <root>/ordinal/<instance>/pod<uid>/<container>-<instance number>
//!                                   /pause            (the sandbox process)
//! ```
//!
//! On v2 a cgroup that enables controllers for its children may hold no
//! process, so the pod's pause process has a leaf of its own
//! (`PodCgroup::sandbox`) beside its containers; v1 uses the same shape.
//!
//! A process joins a container's cgroup between `clone` and `exec` by
//! writing `"0"` to each descriptor of [`ContainerCgroup::join_fds`] (one
//! per hierarchy), so it is limited before it runs a single instruction of
//! the container's program.
//!
//! On v1 those are the `tasks` files, not `cgroup.procs`. Moving a whole
//! process takes the kernel's global threadgroup lock for writing, which
//! waits out an RCU grace period unless another move happened just before:
//! 7–15 ms on an idle machine, on the critical path of every container
//! start and exec probe. A single-threaded process moving itself (`"0"` to
//! `tasks`) skips that lock, and is the whole process all the same
//! (0.07 ms). v2 has no such file for a process; `CLONE_INTO_CGROUP`
//! would be its way around the lock.
//!
//! Where no controller is usable ([`Cgroups::unavailable`] says why), every
//! cgroup here is a no-op: no descriptors to join, nothing created, and
//! pods run without limits. The caller says so once.
//!
//! ```no_run
//! use ordinal_node::runtime::cgroups::{Cgroups, ContainerLimits, PodLimits};
//! # use std::path::Path;
//! let cgroups = Cgroups::setup(Path::new("/sys/fs/cgroup"), "ordinal0");
//! if let Some(why) = cgroups.unavailable() {
//!     eprintln!("pods run without some limits: {why}");
//! }
//! let pod = cgroups.pod("5b0e…", &PodLimits::default())?;
//! let app = pod.container("app", 0, &ContainerLimits::default())?;
//! let fds = app.join_fds()?; // the child writes "0" to each before exec
//! // … after the container has exited:
//! let reason = if app.oom_killed() { "OOMKilled" } else { "Error" };
//! pod.remove()?;
//! cgroups.teardown();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The operations that kill and remove ([`PodCgroup::remove`],
//! [`ContainerCgroup::remove`], [`Cgroups::teardown`], and `setup` when a
//! previous instance left cgroups behind) block until the killed processes
//! have left, normally milliseconds: call them from a blocking thread.

mod detect;
mod limits;
mod tree;

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use limits::{ContainerLimits, Limits, PodLimits};
pub(crate) use limits::{limits_of, pod_limits_of};
use tree::Cgroupfs;

/// Which cgroup interface the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// A hierarchy per controller (or group of controllers).
    V1,
    /// The unified hierarchy.
    V2,
}

/// The controllers ordinal uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Controller {
    Memory,
    Cpu,
    /// v1 only: CPU accounting, often mounted with cpu as `cpu,cpuacct`.
    Cpuacct,
    Pids,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Pids => "pids",
        }
    }

    fn from_name(name: &str) -> Option<Controller> {
        [
            Controller::Memory,
            Controller::Cpu,
            Controller::Cpuacct,
            Controller::Pids,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

/// One cgroup in one hierarchy, and the controllers that hierarchy has
/// (on v2: those enabled for it).
#[derive(Debug, Clone)]
struct Hierarchy {
    root: PathBuf,
    controllers: Vec<Controller>,
}

/// The same cgroup in every hierarchy in use, and what it takes to make
/// children of it.
#[derive(Debug, Clone)]
struct Group {
    version: Version,
    dirs: Vec<Hierarchy>,
    /// The cgroup's directories, for [`ContainerCgroup::path`].
    paths: Vec<PathBuf>,
    /// v1 on a host with swap: memory+swap is capped as memory is.
    swap: bool,
    fs: Arc<dyn Cgroupfs>,
}

impl Group {
    fn new(version: Version, dirs: Vec<Hierarchy>, swap: bool, fs: Arc<dyn Cgroupfs>) -> Group {
        let paths = dirs.iter().map(|h| h.root.clone()).collect();
        Group {
            version,
            dirs,
            paths,
            swap,
            fs,
        }
    }

    /// Makes the child `name` in every hierarchy with `limits`. With
    /// `fresh`, what is there already under that name (and runs in it) is
    /// removed first; else an existing child is reused. A failure leaves
    /// nothing behind that this call made.
    fn child(&self, name: &str, limits: &Limits, fresh: bool) -> io::Result<Group> {
        let child = self.at(name);
        if fresh {
            tree::destroy(&*self.fs, self.version, &child.paths)?;
        }
        let writes = limits::writes(self.version, limits, self.swap);
        let mut made = Vec::new();
        let result = (|| {
            for h in &child.dirs {
                match self.fs.mkdir(&h.root) {
                    Ok(()) => made.push(h.root.clone()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !fresh => {}
                    Err(e) => {
                        return Err(tree::context(
                            e,
                            format_args!("creating {}", h.root.display()),
                        ));
                    }
                }
                if self.version == Version::V1 {
                    tree::inherit_cpuset(&h.root)?;
                }
                for w in writes
                    .iter()
                    .filter(|w| h.controllers.contains(&w.controller))
                {
                    if w.only_if_present && !h.root.join(w.file).exists() {
                        continue;
                    }
                    tree::write(&h.root, w.file, &w.value)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            for dir in made.iter().rev() {
                let _ = self.fs.rmdir(dir);
            }
            return Err(e);
        }
        Ok(child)
    }

    /// The child `name`, made or not.
    fn at(&self, name: &str) -> Group {
        let dirs = self
            .dirs
            .iter()
            .map(|h| Hierarchy {
                root: h.root.join(name),
                controllers: h.controllers.clone(),
            })
            .collect();
        Group::new(self.version, dirs, self.swap, self.fs.clone())
    }

    /// The directory of the hierarchy that has `c`.
    fn dir_of(&self, c: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|h| h.controllers.contains(&c))
            .map(|h| h.root.as_path())
    }

    fn destroy(&self) -> io::Result<()> {
        tree::destroy(&*self.fs, self.version, &self.paths)
    }
}

/// The instance's cgroups: the layout detected at start and the root
/// `…/ordinal/<instance>` in each hierarchy in use.
#[derive(Debug)]
pub struct Cgroups {
    root: Group,
    unavailable: Option<String>,
}

impl Cgroups {
    /// Detects v1 or v2 under `fs_root` (normally /sys/fs/cgroup) and makes
    /// the instance's root `<parent>/ordinal/<instance>` (`instance` e.g.
    /// "ordinal0", unique among the instances running on the host).
    ///
    /// v1: under the agent's own cgroup in each hierarchy (from
    /// /proc/self/cgroup), so limits that enclose the agent still apply.
    /// v2: `<fs_root>/ordinal/<instance>`, with cpu, memory and pids
    /// enabled for children down the path (the agent's own cgroup holds
    /// processes, so it could not enable them).
    ///
    /// What a previous instance of the same name left (a SIGKILLed agent)
    /// is killed and removed first. Never fails: what cannot be used is
    /// reported by [`Cgroups::unavailable`].
    pub fn setup(fs_root: &Path, instance: &str) -> Cgroups {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let swap = std::fs::read_to_string("/proc/swaps")
            .map(|s| s.lines().count() > 1)
            .unwrap_or(false);
        Cgroups::setup_with(Arc::new(tree::Kernel), fs_root, instance, &own, swap)
    }

    fn setup_with(
        fs: Arc<dyn Cgroupfs>,
        fs_root: &Path,
        instance: &str,
        proc_self_cgroup: &str,
        swap: bool,
    ) -> Cgroups {
        if let Err(e) = check_name(instance, "instance") {
            return Cgroups {
                root: Group::new(Version::V1, Vec::new(), swap, fs),
                unavailable: Some(e.to_string()),
            };
        }
        let layout = detect::layout(&*fs, fs_root, instance, proc_self_cgroup);
        Cgroups {
            root: Group::new(layout.version, layout.hierarchies, swap, fs),
            unavailable: layout.unavailable,
        }
    }

    /// Why some or all limits are not enforced, naming each of memory, cpu
    /// and pids that is not (`None`: all are). What is usable is used.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// Which cgroup interface the host has: v2 when the filesystem root
    /// has `cgroup.controllers`.
    pub fn version(&self) -> Version {
        self.root.version
    }

    /// The instance's root in each hierarchy in use.
    pub fn roots(&self) -> &[PathBuf] {
        &self.root.paths
    }

    /// Makes (or reuses) the pod's cgroup `pod<uid>` with the pod's limits
    /// (see `pod_limits_of`).
    pub fn pod(&self, pod_uid: &str, limits: &PodLimits) -> io::Result<PodCgroup> {
        check_name(pod_uid, "pod UID")?;
        let name = format!("pod{pod_uid}");
        let existed = self.root.at(&name).paths.iter().any(|p| p.exists());
        let group = self.root.child(&name, limits, false)?;
        if group.version == Version::V2 {
            for h in &group.dirs {
                let enabled = tree::enable_for_children(&h.root, &h.controllers);
                if let Err(e) = enabled {
                    if !existed {
                        let _ = group.destroy();
                    }
                    return Err(e);
                }
            }
        }
        Ok(PodCgroup {
            group,
            cpu_quota_millis: limits.cpu_quota_millis,
        })
    }

    /// On shutdown: kills whatever is left in the instance's cgroups and
    /// removes them all, and `ordinal` above them when no other instance
    /// uses it. Failures are logged; calling it again does no harm.
    pub fn teardown(&self) {
        if let Err(e) = self.root.destroy() {
            tracing::warn!("removing the instance's cgroups: {e}");
        }
        for dir in &self.root.paths {
            if let Some(parent) = dir.parent() {
                // Busy or not empty: another instance's.
                let _ = self.root.fs.rmdir(parent);
            }
        }
    }
}

/// A pod's cgroup.
#[derive(Debug, Clone)]
pub struct PodCgroup {
    group: Group,
    cpu_quota_millis: Option<u64>,
}

impl PodCgroup {
    /// Makes the cgroup of one container instance (`instance`: its restart
    /// count), fresh: an older cgroup of the same instance is removed with
    /// whatever runs in it, so the OOM count starts at zero.
    pub fn container(
        &self,
        name: &str,
        instance: u32,
        limits: &ContainerLimits,
    ) -> io::Result<ContainerCgroup> {
        if !is_dns_label(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("container name {name:?} is not a DNS label"),
            ));
        }
        let mut limits = *limits;
        if self.group.version == Version::V1 {
            // v1 refuses a child quota above its parent's (v2 caps it);
            // the pod's quota bounds the container's either way.
            limits.cpu_quota_millis = match (limits.cpu_quota_millis, self.cpu_quota_millis) {
                (Some(c), Some(p)) => Some(c.min(p)),
                (c, _) => c,
            };
        }
        let group = self
            .group
            .child(&format!("{name}-{instance}"), &limits, true)?;
        Ok(ContainerCgroup { group })
    }

    /// The cgroup of the pod's sandbox (pause) process: a leaf of its own,
    /// without limits beyond the pod's. The name cannot be a container's
    /// (those end in `-<number>`).
    pub(crate) fn sandbox(&self) -> io::Result<ContainerCgroup> {
        let group = self.group.child("pause", &Limits::default(), true)?;
        Ok(ContainerCgroup { group })
    }

    /// The pod's directories, one per hierarchy in use.
    pub fn path(&self) -> &[PathBuf] {
        &self.group.paths
    }

    /// Kills whatever is left in the pod (containers, sandbox) and removes
    /// its cgroups; `rmdir` is retried briefly while the kernel calls one
    /// busy. Removing a removed pod does nothing.
    pub fn remove(&self) -> io::Result<()> {
        self.group.destroy()
    }
}

/// A container instance's cgroup.
#[derive(Debug, Clone)]
pub struct ContainerCgroup {
    group: Group,
}

impl ContainerCgroup {
    /// The file in each hierarchy (one on v2; none without cgroups) a
    /// single-threaded process joins by writing `"0"` to it: `tasks` on
    /// v1, which moves the writer without the global lock (see the module
    /// docs), `cgroup.procs` on v2.
    pub fn join_files(&self) -> Vec<PathBuf> {
        let file = match self.group.version {
            Version::V1 => "tasks",
            Version::V2 => "cgroup.procs",
        };
        self.group.paths.iter().map(|dir| dir.join(file)).collect()
    }

    /// Descriptors of [`ContainerCgroup::join_files`], opened
    /// `O_WRONLY | O_CLOEXEC`. A child joins with a plain
    /// `write(fd, "0", 1)` on each between clone and exec: no allocation,
    /// so it is safe in a child that shares the agent's memory.
    pub fn join_fds(&self) -> io::Result<Vec<OwnedFd>> {
        self.join_files()
            .into_iter()
            .map(|path| {
                // std opens with O_CLOEXEC.
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|e| tree::context(e, format_args!("opening {}", path.display())))
            })
            .collect()
    }

    /// Whether the kernel's OOM killer killed a process of this container
    /// (`oom_kill` in `memory.events` on v2, `memory.oom_control` on v1),
    /// because of the container's limit or the pod's.
    pub fn oom_killed(&self) -> bool {
        let (file, dir) = match (self.group.version, self.group.dir_of(Controller::Memory)) {
            (_, None) => return false,
            (Version::V1, Some(dir)) => ("memory.oom_control", dir),
            (Version::V2, Some(dir)) => ("memory.events", dir),
        };
        tree::read(dir, file)
            .ok()
            .and_then(|text| tree::keyed(&text, "oom_kill"))
            .is_some_and(|n| n > 0)
    }

    /// The most memory the container has used, in bytes, where the kernel
    /// keeps it (`memory.peak` on v2 since Linux 5.19,
    /// `memory.max_usage_in_bytes` on v1).
    pub fn memory_peak(&self) -> Option<u64> {
        let dir = self.group.dir_of(Controller::Memory)?;
        let file = match self.group.version {
            Version::V1 => "memory.max_usage_in_bytes",
            Version::V2 => "memory.peak",
        };
        tree::read(dir, file).ok()?.trim().parse().ok()
    }

    /// Kills whatever is left in the container and removes its cgroups.
    pub fn remove(&self) -> io::Result<()> {
        self.group.destroy()
    }

    /// SIGKILLs whatever is left in the container, without waiting for it
    /// to go.
    pub fn kill(&self) -> io::Result<()> {
        tree::signal(self.group.version, &self.group.paths).map(drop)
    }

    /// The container's directories, one per hierarchy in use (none without
    /// cgroups); a process joins through [`ContainerCgroup::join_files`].
    pub fn path(&self) -> &[PathBuf] {
        &self.group.paths
    }
}

/// A name that becomes a path component: letters, digits, `-`, `_` and
/// `.`, not starting with `.`, at most 128 bytes. Pod UIDs and instance
/// names come from outside; none may climb out of the tree.
fn check_name(name: &str, what: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {name:?} cannot name a cgroup"),
        ))
    }
}

/// RFC 1123 label, as container names are validated by the API.
fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests;
