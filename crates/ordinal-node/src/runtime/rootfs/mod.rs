//! A container's view of the filesystem, built in its own mount namespace.
//!
//! Two kinds of root:
//!
//! - **an image** (every pod without a runtime class): an overlay of the
//!   image's unpacked layers with a writable layer of the container's own,
//!   or a bind mount of a private copy of the image where overlayfs cannot
//!   be used. Inside it: a fresh `/proc` with the paths runc masks or makes
//!   read-only, a minimal `/dev` (device nodes, `pts`, `shm`, `mqueue`), a
//!   read-only `/sys`, the pod's `/etc/hosts`, `/etc/resolv.conf` and
//!   `/etc/hostname`, the termination-message file, and every volume.
//!   Nothing of the host is visible except what a volume grants.
//! - **the host** (RuntimeClass `host`, for programs a developer just
//!   built): a tmpfs whose top-level directories are bind mounts of the
//!   host's, with a private `/tmp`, `/run` and `/proc`.
//!
//! Every path inside the root — mount points, the working directory — is
//! resolved by [`sys::open_in_root`], so symbolic links in the image or in
//! a volume are followed as the container would see them (`/var/run` →
//! `/run`) and never lead onto the host; mount points that do not exist
//! are created inside the root (in the container's writable layer).
//!
//! The plan is built in the agent ([`Plan::image`], [`Plan::host`]), where
//! allocating is fine, and carried out in the child before `exec`
//! ([`Plan::enter`]), where only system calls on prepared strings are
//! allowed: the child shares the agent's memory ([`super::launch`]). When a
//! step fails, the child records which one, so the error the user sees
//! names the mount ([`Plan::describe_failure`]).

pub mod sys;

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sys::{Create, Errno, Fd, check, errno};

/// One entry of the host's `/`.
#[derive(Debug, Clone)]
pub enum HostEntry {
    Dir(String),
    Symlink(String, PathBuf),
}

/// The host's top level, read once by the agent (for host-program pods).
#[derive(Debug, Clone)]
pub struct HostRoot {
    entries: Vec<HostEntry>,
}

/// Top-level directories a host-program container never shares with the
/// host.
const PRIVATE: &[&str] = &["proc", "sys", "dev", "tmp", "run", "lost+found"];

impl HostRoot {
    pub fn scan() -> io::Result<HostRoot> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir("/")? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if PRIVATE.contains(&name.as_str()) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                entries.push(HostEntry::Symlink(name, std::fs::read_link(entry.path())?));
            } else if kind.is_dir() {
                entries.push(HostEntry::Dir(name));
            }
        }
        entries.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        Ok(HostRoot { entries })
    }
}

fn name_of(e: &HostEntry) -> &str {
    match e {
        HostEntry::Dir(n) | HostEntry::Symlink(n, _) => n,
    }
}

/// Where a bind mount's content comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A host path (volumes, pod files).
    Path(PathBuf),
    /// A descriptor the agent resolved safely (a subPath inside its
    /// volume); the child binds `/proc/self/fd/N` (it inherits a copy of
    /// the agent's descriptors at clone).
    Fd(Arc<OwnedFd>),
}

/// A bind mount into the container.
#[derive(Debug, Clone)]
pub struct Bind {
    pub source: Source,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub read_only: bool,
}

impl Bind {
    pub fn path(source: impl Into<PathBuf>, target: impl Into<PathBuf>, read_only: bool) -> Bind {
        Bind {
            source: Source::Path(source.into()),
            target: target.into(),
            read_only,
        }
    }

    fn source_is_dir(&self) -> io::Result<bool> {
        let meta = match &self.source {
            Source::Path(p) => std::fs::metadata(p),
            Source::Fd(fd) => std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        };
        meta.map(|m| m.is_dir())
    }

    fn describe_source(&self) -> String {
        match &self.source {
            Source::Path(p) => p.display().to_string(),
            Source::Fd(fd) => std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "a subPath".into()),
        }
    }
}

/// How the root itself comes to be.
#[derive(Debug)]
enum RootStep {
    /// A tmpfs (host-program containers).
    Tmpfs,
    /// `mount -t overlay` with `data`, from inside `layers` so that the
    /// lower directories are short relative names (the options must fit in
    /// one page).
    Overlay { layers: CString, data: CString },
    /// A bind of a prepared directory (an image copy).
    Bind { source: CString },
}

#[derive(Debug)]
enum Op {
    /// A filesystem mounted at `target` (created as a directory).
    Mount {
        target: CString,
        fstype: &'static CStr,
        source: &'static CStr,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    Bind {
        source: CString,
        target: CString,
        create: Create,
        recursive: bool,
        read_only: bool,
    },
    /// A detached mount (a subPath the agent resolved) attached at
    /// `target`.
    Attach {
        tree: RawFd,
        target: CString,
        create: Create,
        read_only: bool,
    },
    /// A character device node `name` in `dir` (the container's tmpfs
    /// `/dev`). The directory is resolved in the root and the node made
    /// relative to it: never through a path the kernel would walk from
    /// the host's `/`.
    Mknod {
        dir: CString,
        name: CString,
        major: u32,
        minor: u32,
    },
    /// A symbolic link `name` in `dir` pointing at `to`.
    Symlink {
        dir: CString,
        name: CString,
        to: CString,
    },
    /// runc's masked paths: `/dev/null` over a file, an empty read-only
    /// tmpfs over a directory; skipped when the path does not exist.
    Mask(CString),
    /// Made read-only where it is (skipped when it does not exist).
    ReadOnly(CString),
}

/// What each step is, for the error message when it fails.
#[derive(Debug)]
struct StepName(String);

/// The prepared mount plan of one container.
#[derive(Debug)]
pub struct Plan {
    /// Where the root is mounted (an empty directory of the pod's).
    root: CString,
    root_step: RootStep,
    ops: Vec<Op>,
    names: Vec<StepName>,
    workdir: CString,
    read_only_root: bool,
    /// Descriptors the ops use by number; kept open until the child ran.
    _fds: Vec<Arc<OwnedFd>>,
    /// The index of the step that failed (`usize::MAX`: none), written by
    /// the child.
    failed_at: AtomicUsize,
}

/// Which filesystem a container's root comes from.
#[derive(Debug, Clone)]
pub enum Root {
    /// The host's directories (RuntimeClass `host`).
    Host(HostRoot),
    /// An overlay of the image's layers (`layers_dir/<id>`, lowest first)
    /// with the container's writable `upper` and overlay `work` dirs.
    Overlay {
        layers_dir: PathBuf,
        layers: Vec<String>,
        upper: PathBuf,
        work: PathBuf,
    },
    /// A prepared copy of the image (no overlayfs).
    Copy(PathBuf),
}

/// Everything a plan needs besides the volumes.
pub struct Layout<'a> {
    pub root: Root,
    /// An empty directory of the pod's to mount the root on.
    pub mount_point: &'a Path,
    /// The pod's private /tmp (host-program containers only).
    pub tmp: &'a Path,
    /// Files laid over the root: (path inside, host file), e.g.
    /// `/etc/hosts` and the termination-message file.
    pub files: &'a [(PathBuf, PathBuf)],
    pub working_dir: &'a Path,
    /// All capabilities, the host's devices, writable /sys, nothing masked.
    pub privileged: bool,
    pub read_only_root: bool,
}

/// Paths runc (and so containerd and CRI-O) hides from containers that
/// are not privileged.
const MASKED: &[&str] = &[
    "proc/acpi",
    "proc/asound",
    "proc/interrupts",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
    "sys/devices/virtual/powercap",
];

/// Paths runc makes read-only for containers that are not privileged:
/// `/proc/sys` among them, so no sysctl of the host can be changed.
const READ_ONLY: &[&str] = &[
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

/// The device nodes of a container's `/dev`: (name, major, minor).
const DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symbolic links of a container's `/dev`: (name, target).
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

fn cstr(p: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(p.as_ref().as_bytes()).map_err(|_| io::Error::other("path contains a NUL byte"))
}

/// A container path as the relative path the plan resolves in the root.
fn relative(path: &Path) -> io::Result<CString> {
    let text = path.as_os_str().as_bytes();
    let trimmed: &[u8] = {
        let mut t = text;
        while let [b'/', rest @ ..] = t {
            t = rest;
        }
        t
    };
    if trimmed.is_empty() {
        return Err(io::Error::other(format!(
            "{} is the root of the container",
            path.display()
        )));
    }
    CString::new(trimmed).map_err(|_| io::Error::other("path contains a NUL byte"))
}

const NOSUID_NODEV_NOEXEC: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;

impl Plan {
    /// The plan of a container: its root, then the standard filesystems,
    /// the pod's files and the volumes (parents before children, so a
    /// volume at `/etc/config` is not hidden by one mounted later at
    /// `/etc`).
    pub fn build(layout: &Layout<'_>, volumes: &[Bind]) -> io::Result<Plan> {
        let mut plan = Plan {
            root: cstr(layout.mount_point)?,
            root_step: RootStep::Tmpfs,
            ops: Vec::new(),
            names: Vec::new(),
            workdir: cstr(layout.working_dir)?,
            read_only_root: layout.read_only_root,
            _fds: Vec::new(),
            failed_at: AtomicUsize::new(usize::MAX),
        };
        match &layout.root {
            Root::Host(host) => plan.host_root(host, layout.tmp)?,
            Root::Overlay {
                layers_dir,
                layers,
                upper,
                work,
            } => {
                plan.root_step = RootStep::Overlay {
                    layers: cstr(layers_dir)?,
                    data: overlay_options(layers, upper, work)?,
                };
                plan.image_filesystems(layout.privileged)?;
            }
            Root::Copy(dir) => {
                plan.root_step = RootStep::Bind { source: cstr(dir)? };
                plan.image_filesystems(layout.privileged)?;
            }
        }
        for (target, source) in layout.files {
            plan.bind(&Bind::path(source, target, false), Create::File)?;
        }
        let mut volumes = volumes.to_vec();
        volumes.sort_by_key(|b| b.target.components().count());
        for bind in &volumes {
            let create = match bind.source_is_dir() {
                Ok(true) => Create::Dir,
                Ok(false) => Create::File,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("volume source {}: {e}", bind.describe_source()),
                    ));
                }
            };
            plan.bind(bind, create)?;
        }
        Ok(plan)
    }

    fn push(&mut self, op: Op, name: String) {
        self.ops.push(op);
        self.names.push(StepName(name));
    }

    fn bind(&mut self, bind: &Bind, create: Create) -> io::Result<()> {
        let name = format!(
            "mounting {} at {}",
            bind.describe_source(),
            bind.target.display()
        );
        let target = relative(&bind.target)?;
        let op = match &bind.source {
            Source::Path(p) => Op::Bind {
                source: cstr(p)?,
                target,
                create,
                recursive: true,
                read_only: bind.read_only,
            },
            Source::Fd(fd) => {
                // A detached copy made now, in the agent's namespace, that
                // the child attaches in its own.
                let tree = Arc::new(sys::clone_tree(fd.as_raw_fd()).map_err(|e| {
                    io::Error::new(e.kind(), format!("{name}: detaching the subPath: {e}"))
                })?);
                let op = Op::Attach {
                    tree: tree.as_raw_fd(),
                    target,
                    create,
                    read_only: bind.read_only,
                };
                self._fds.push(tree);
                op
            }
        };
        self.push(op, name);
        Ok(())
    }

    /// The host's top level, a private /tmp and /run, the host's /dev and
    /// /sys, a fresh /proc.
    fn host_root(&mut self, host: &HostRoot, tmp: &Path) -> io::Result<()> {
        for entry in &host.entries {
            match entry {
                HostEntry::Dir(name) => self.bind(
                    &Bind::path(Path::new("/").join(name), name, false),
                    Create::Dir,
                )?,
                HostEntry::Symlink(name, to) => self.push(
                    Op::Symlink {
                        dir: cstr(".")?,
                        name: cstr(name)?,
                        to: cstr(to)?,
                    },
                    format!("linking /{name}"),
                ),
            }
        }
        for (source, target) in [
            (Path::new("/dev"), "dev"),
            (Path::new("/sys"), "sys"),
            (tmp, "tmp"),
        ] {
            self.bind(&Bind::path(source, target, false), Create::Dir)?;
        }
        self.mount(
            "run",
            c"tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=755"),
        )?;
        self.mount("proc", c"proc", NOSUID_NODEV_NOEXEC, None)
    }

    fn mount(
        &mut self,
        target: &str,
        fstype: &'static CStr,
        flags: libc::c_ulong,
        data: Option<&str>,
    ) -> io::Result<()> {
        self.push(
            Op::Mount {
                target: cstr(target)?,
                fstype,
                source: fstype,
                flags,
                data: data.map(cstr).transpose()?,
            },
            format!("mounting {} at /{target}", fstype.to_string_lossy()),
        );
        Ok(())
    }

    /// /proc, /dev, /sys of an image container, as runc lays them out.
    fn image_filesystems(&mut self, privileged: bool) -> io::Result<()> {
        self.mount("proc", c"proc", NOSUID_NODEV_NOEXEC, None)?;
        if privileged {
            // The host's devices, but a terminal and shared memory of its
            // own.
            self.bind(&Bind::path("/dev", "/dev", false), Create::Dir)?;
        } else {
            self.mount(
                "dev",
                c"tmpfs",
                libc::MS_NOSUID | libc::MS_STRICTATIME,
                Some("mode=755,size=65536k"),
            )?;
            for (name, major, minor) in DEVICES {
                self.push(
                    Op::Mknod {
                        dir: cstr("dev")?,
                        name: cstr(name)?,
                        major: *major,
                        minor: *minor,
                    },
                    format!("creating /dev/{name}"),
                );
            }
            for (link, to) in DEV_LINKS {
                self.push(
                    Op::Symlink {
                        dir: cstr("dev")?,
                        name: cstr(link)?,
                        to: cstr(to)?,
                    },
                    format!("linking /dev/{link}"),
                );
            }
        }
        self.mount(
            "dev/pts",
            c"devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        )?;
        self.mount(
            "dev/shm",
            c"tmpfs",
            NOSUID_NODEV_NOEXEC,
            Some("mode=1777,size=65536k"),
        )?;
        self.mount("dev/mqueue", c"mqueue", NOSUID_NODEV_NOEXEC, None)?;
        let sys_flags = NOSUID_NODEV_NOEXEC | if privileged { 0 } else { libc::MS_RDONLY };
        self.mount("sys", c"sysfs", sys_flags, None)?;
        if !privileged {
            for path in MASKED {
                self.push(Op::Mask(cstr(path)?), format!("masking /{path}"));
            }
            for path in READ_ONLY {
                self.push(
                    Op::ReadOnly(cstr(path)?),
                    format!("making /{path} read-only"),
                );
            }
        }
        Ok(())
    }

    /// What the child was doing when it failed, for the error message.
    pub fn describe_failure(&self) -> Option<&str> {
        let at = self.failed_at.load(Ordering::SeqCst);
        match at {
            usize::MAX => None,
            n if n == self.ops.len() => Some("entering the container's root"),
            n if n == self.ops.len() + 1 => Some("creating the working directory"),
            n if n == self.ops.len() + 2 => Some("mounting the container's root filesystem"),
            n => self.names.get(n).map(|s| s.0.as_str()),
        }
    }

    fn fail(&self, step: usize, e: Errno) -> io::Error {
        self.failed_at.store(step, Ordering::SeqCst);
        io::Error::from_raw_os_error(e)
    }

    /// Carries the plan out: a private mount namespace, the root and
    /// everything in it, then `pivot_root` into it.
    ///
    /// # Safety
    ///
    /// Meant for a child before `exec`: it makes only system calls on
    /// prepared strings and does not allocate.
    pub unsafe fn enter(&self) -> io::Result<()> {
        let n = self.ops.len();
        // SAFETY: (the whole fn) system calls with NUL-terminated strings owned
        // by `self`, which outlives the calls, and descriptors we open.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS)).map_err(|e| self.fail(n + 2, e))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))
            .map_err(|e| self.fail(n + 2, e))?;
            self.mount_root().map_err(|e| self.fail(n + 2, e))?;
            let root = Fd(libc::open(
                self.root.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            ));
            if root.0 < 0 {
                return Err(self.fail(n + 2, errno()));
            }
            for (i, op) in self.ops.iter().enumerate() {
                run_op(root.0, op).map_err(|e| self.fail(i, e))?;
            }
            let workdir = sys::open_in_root(root.0, self.workdir_rel(), Create::Dir)
                .map_err(|e| self.fail(n + 1, e))?;
            libc::close(workdir);
            self.pivot(root.0).map_err(|e| self.fail(n, e))?;
            if self.read_only_root {
                check(libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                    std::ptr::null(),
                ))
                .map_err(|e| self.fail(n, e))?;
            }
            check(libc::chdir(self.workdir.as_ptr())).map_err(|e| self.fail(n + 1, e))
        }
    }

    /// The working directory without its leading slashes (`/` itself is
    /// the root: `.`).
    fn workdir_rel(&self) -> &CStr {
        let bytes = self.workdir.to_bytes_with_nul();
        let skip = bytes.iter().take_while(|b| **b == b'/').count();
        if bytes[skip] == 0 {
            return c".";
        }
        CStr::from_bytes_with_nul(&bytes[skip..]).unwrap_or(c".")
    }

    unsafe fn mount_root(&self) -> Result<(), Errno> {
        // SAFETY: mount(2) and chdir(2) on prepared strings.
        unsafe {
            match &self.root_step {
                RootStep::Tmpfs => check(libc::mount(
                    c"tmpfs".as_ptr(),
                    self.root.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    c"mode=755".as_ptr().cast(),
                )),
                RootStep::Overlay { layers, data } => {
                    check(libc::chdir(layers.as_ptr()))?;
                    check(libc::mount(
                        c"overlay".as_ptr(),
                        self.root.as_ptr(),
                        c"overlay".as_ptr(),
                        0,
                        data.as_ptr().cast(),
                    ))
                }
                RootStep::Bind { source } => check(libc::mount(
                    source.as_ptr(),
                    self.root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                )),
            }
        }
    }

    /// `pivot_root(".", ".")` as runc does: no directory for the old root
    /// is needed inside the new one; the old root is stacked on top and
    /// detached at once.
    unsafe fn pivot(&self, root: libc::c_int) -> Result<(), Errno> {
        // SAFETY: system calls on descriptors we hold.
        unsafe {
            let old = Fd(libc::open(
                c"/".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            ));
            if old.0 < 0 {
                return Err(errno());
            }
            // O_PATH descriptors do not allow fchdir on every kernel; use
            // the magic link instead.
            let root_path = sys::FdPath::new(root);
            check(libc::chdir(root_path.as_ptr()))?;
            check(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as i32)?;
            check(libc::fchdir(old.0))?;
            check(libc::mount(
                std::ptr::null(),
                c".".as_ptr(),
                std::ptr::null(),
                libc::MS_SLAVE | libc::MS_REC,
                std::ptr::null(),
            ))?;
            check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))
        }
    }
}

/// `lowerdir=<top>:…:<bottom>,upperdir=…,workdir=…` with the layers as
/// names relative to the layers directory (overlayfs lists the top layer
/// first; `layers` is lowest first).
fn overlay_options(layers: &[String], upper: &Path, work: &Path) -> io::Result<CString> {
    if layers.is_empty() {
        return Err(io::Error::other("the image has no layers"));
    }
    let mut data = String::from("lowerdir=");
    for (i, layer) in layers.iter().rev().enumerate() {
        if layer.contains([':', ',', '/']) {
            return Err(io::Error::other(format!(
                "bad layer directory name {layer:?}"
            )));
        }
        if i > 0 {
            data.push(':');
        }
        data.push_str(layer);
    }
    for (key, dir) in [("upperdir", upper), ("workdir", work)] {
        let dir = dir.to_str().filter(|d| !d.contains([':', ',']));
        let Some(dir) = dir else {
            return Err(io::Error::other(format!(
                "the {key} path cannot be given to overlayfs (it contains ':' or ',')"
            )));
        };
        data.push_str(&format!(",{key}={dir}"));
    }
    // The mount options must fit in one page.
    if data.len() >= 4096 {
        return Err(io::Error::other(format!(
            "the image has too many layers ({}) for one overlay mount",
            layers.len()
        )));
    }
    cstr(data)
}

/// One step inside the root.
///
/// # Safety
///
/// For a child before `exec`; see [`Plan::enter`].
unsafe fn run_op(root: libc::c_int, op: &Op) -> Result<(), Errno> {
    // SAFETY: (the whole fn) system calls on prepared strings and descriptors
    // we open and close here.
    unsafe {
        match op {
            Op::Mount {
                target,
                fstype,
                source,
                flags,
                data,
            } => {
                let at = Fd(sys::open_in_root(root, target, Create::Dir)?);
                sys::mount_on(
                    source.as_ptr(),
                    at.0,
                    fstype.as_ptr(),
                    *flags,
                    data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
                )
            }
            Op::Bind {
                source,
                target,
                create,
                recursive,
                read_only,
            } => {
                let at = Fd(sys::open_in_root(root, target, *create)?);
                let flags = libc::MS_BIND | if *recursive { libc::MS_REC } else { 0 };
                sys::mount_on(
                    source.as_ptr(),
                    at.0,
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                )?;
                if *read_only {
                    // The descriptor is of the directory under the mount:
                    // open the mount's root to change its flags.
                    let mounted = Fd(sys::open_in_root(root, target, Create::No)?);
                    sys::remount_read_only(mounted.0, 0)?;
                }
                Ok(())
            }
            Op::Attach {
                tree,
                target,
                create,
                read_only,
            } => {
                let at = Fd(sys::open_in_root(root, target, *create)?);
                sys::attach_tree(*tree, at.0)?;
                if *read_only {
                    let mounted = Fd(sys::open_in_root(root, target, Create::No)?);
                    sys::remount_read_only(mounted.0, 0)?;
                }
                Ok(())
            }
            Op::Mknod {
                dir,
                name,
                major,
                minor,
            } => {
                let at = Fd(sys::open_in_root(root, dir, Create::No)?);
                let dev = libc::makedev(*major, *minor);
                let done = libc::mknodat(at.0, name.as_ptr(), libc::S_IFCHR | 0o666, dev);
                if done != 0 && errno() != libc::EEXIST {
                    return Err(errno());
                }
                // The umask trimmed the mode.
                check(libc::fchmodat(at.0, name.as_ptr(), 0o666, 0))
            }
            Op::Symlink { dir, name, to } => {
                let at = Fd(sys::open_in_root(root, dir, Create::No)?);
                if libc::symlinkat(to.as_ptr(), at.0, name.as_ptr()) != 0 && errno() != libc::EEXIST
                {
                    return Err(errno());
                }
                Ok(())
            }
            Op::Mask(path) => {
                let at = match sys::open_in_root(root, path, Create::No) {
                    Ok(fd) => Fd(fd),
                    Err(libc::ENOENT) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let mut stat: libc::stat = std::mem::zeroed();
                let fd_path = sys::FdPath::new(at.0);
                check(libc::stat(fd_path.as_ptr(), &mut stat))?;
                if stat.st_mode & libc::S_IFMT == libc::S_IFDIR {
                    sys::mount_on(
                        c"tmpfs".as_ptr(),
                        at.0,
                        c"tmpfs".as_ptr(),
                        libc::MS_RDONLY,
                        std::ptr::null(),
                    )
                } else {
                    sys::mount_on(
                        c"/dev/null".as_ptr(),
                        at.0,
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    )
                }
            }
            Op::ReadOnly(path) => {
                let at = match sys::open_in_root(root, path, Create::No) {
                    Ok(fd) => Fd(fd),
                    Err(libc::ENOENT) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let fd_path = sys::FdPath::new(at.0);
                sys::mount_on(
                    fd_path.as_ptr(),
                    at.0,
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                )?;
                let mounted = Fd(sys::open_in_root(root, path, Create::No)?);
                sys::remount_read_only(mounted.0, libc::MS_NOSUID | libc::MS_NODEV)
            }
        }
    }
}

#[cfg(test)]
mod tests;
