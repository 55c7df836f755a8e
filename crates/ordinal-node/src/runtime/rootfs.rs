//! A container's view of the filesystem, built in its own mount namespace.
//!
//! ordinal runs programs from the host filesystem, so a container's root is
//! the host's, with the pod's own things laid over it: a tmpfs root whose
//! top-level directories are bind mounts of the host's (`/usr`, `/etc`,
//! `/home`…), a fresh `/proc` for the pod's PID namespace, a private `/tmp`
//! and `/run`, the pod's `/etc/hosts`, `/etc/resolv.conf` and
//! `/etc/hostname`, and each volume bind-mounted at its `mountPath`. A mount
//! path that does not exist is created in the tmpfs when it is at the top
//! level (`/data`), or else in the host directory that holds it.
//!
//! The plan is built in the agent ([`Plan::build`]), where allocating is
//! fine, and carried out in the child before `exec` ([`Plan::enter`]),
//! where only system calls on prepared strings are allowed: the child
//! shares the agent's memory ([`super::launch`]).

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Where the old root is parked during `pivot_root` (inside the new root).
const PUT_OLD: &str = ".ordinal-old-root";

/// One entry of the host's `/`.
#[derive(Debug, Clone)]
pub enum HostEntry {
    Dir(String),
    Symlink(String, PathBuf),
}

/// The host's top level, read once by the agent.
#[derive(Debug, Clone)]
pub struct HostRoot {
    entries: Vec<HostEntry>,
}

/// Top-level directories a container never shares with the host.
const PRIVATE: &[&str] = &["proc", "sys", "dev", "tmp", "run", "lost+found", PUT_OLD];

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

/// A bind mount into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Host path (file or directory).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub read_only: bool,
}

#[derive(Debug)]
enum Op {
    /// mkdir, EEXIST ignored.
    Mkdir(CString),
    /// Create an empty file to mount a file over, EEXIST ignored.
    Touch(CString),
    Tmpfs(CString),
    Bind {
        source: CString,
        target: CString,
        recursive: bool,
    },
    ReadOnly(CString),
    Symlink {
        target: CString,
        link: CString,
    },
}

/// The prepared mount plan of one container.
#[derive(Debug)]
pub struct Plan {
    root: CString,
    put_old: CString,
    put_old_inside: CString,
    ops: Vec<Op>,
    workdir: CString,
}

/// What a plan needs besides the volume binds.
pub struct Layout<'a> {
    /// An empty directory of the pod's to build the root on.
    pub root: &'a Path,
    /// The pod's private /tmp.
    pub tmp: &'a Path,
    /// Files laid over the host's: (path inside, host file), e.g.
    /// `/etc/hosts`.
    pub files: &'a [(PathBuf, PathBuf)],
    pub working_dir: &'a Path,
}

fn cstr(p: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(p.as_ref().as_bytes()).map_err(|_| io::Error::other("path contains a NUL byte"))
}

/// `root` joined with an absolute container path, refusing `..`.
fn inside(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::other(format!(
                    "mount path {} must not contain '..'",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

impl Plan {
    pub fn build(host: &HostRoot, layout: &Layout<'_>, binds: &[Bind]) -> io::Result<Plan> {
        let root = layout.root;
        let mut ops = vec![Op::Tmpfs(cstr(root)?)];
        for entry in &host.entries {
            match entry {
                HostEntry::Dir(name) => {
                    let target = root.join(name);
                    ops.push(Op::Mkdir(cstr(&target)?));
                    ops.push(Op::Bind {
                        source: cstr(Path::new("/").join(name))?,
                        target: cstr(&target)?,
                        recursive: true,
                    });
                }
                HostEntry::Symlink(name, to) => ops.push(Op::Symlink {
                    target: cstr(to)?,
                    link: cstr(root.join(name))?,
                }),
            }
        }
        for (name, source, recursive) in [
            ("dev", Path::new("/dev"), true),
            ("sys", Path::new("/sys"), true),
            ("tmp", layout.tmp, false),
        ] {
            let target = root.join(name);
            ops.push(Op::Mkdir(cstr(&target)?));
            ops.push(Op::Bind {
                source: cstr(source)?,
                target: cstr(&target)?,
                recursive,
            });
        }
        ops.push(Op::Mkdir(cstr(root.join("run"))?));
        ops.push(Op::Tmpfs(cstr(root.join("run"))?));
        ops.push(Op::Mkdir(cstr(root.join("proc"))?));
        ops.push(Op::Mkdir(cstr(root.join(PUT_OLD))?));

        let mut all: Vec<Bind> = layout
            .files
            .iter()
            .map(|(target, source)| Bind {
                source: source.clone(),
                target: target.clone(),
                read_only: false,
            })
            .collect();
        // Volumes after the pod files, parents before children, so a volume
        // at /etc/config is not hidden by anything mounted later.
        let mut volumes = binds.to_vec();
        volumes.sort_by_key(|b| b.target.components().count());
        all.extend(volumes);
        for bind in &all {
            let target = inside(root, &bind.target)?;
            let is_dir = std::fs::metadata(&bind.source)
                .map(|m| m.is_dir())
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("volume source {}: {e}", bind.source.display()),
                    )
                })?;
            // mkdir -p of the parents, then the target itself.
            let mut prefix = root.to_path_buf();
            let relative = target.strip_prefix(root).unwrap_or(&target);
            let depth = relative.components().count();
            for (i, c) in relative.components().enumerate() {
                prefix.push(c);
                if i + 1 < depth {
                    ops.push(Op::Mkdir(cstr(&prefix)?));
                }
            }
            ops.push(if is_dir {
                Op::Mkdir(cstr(&target)?)
            } else {
                Op::Touch(cstr(&target)?)
            });
            ops.push(Op::Bind {
                source: cstr(&bind.source)?,
                target: cstr(&target)?,
                recursive: true,
            });
            if bind.read_only {
                ops.push(Op::ReadOnly(cstr(&target)?));
            }
        }
        Ok(Plan {
            root: cstr(root)?,
            put_old: cstr(root.join(PUT_OLD))?,
            put_old_inside: cstr(Path::new("/").join(PUT_OLD))?,
            ops,
            workdir: cstr(layout.working_dir)?,
        })
    }

    /// Carries the plan out: a private mount namespace, the root, then
    /// `pivot_root` into it and a `/proc` of the caller's PID namespace.
    ///
    /// # Safety
    ///
    /// Meant for a child before `exec`: it makes only system calls on
    /// prepared strings and does not allocate.
    pub unsafe fn enter(&self) -> io::Result<()> {
        // SAFETY (whole fn): system calls with NUL-terminated strings owned
        // by `self`, which outlives the calls.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            for op in &self.ops {
                match op {
                    Op::Mkdir(p) => {
                        if libc::mkdir(p.as_ptr(), 0o755) != 0 && errno() != libc::EEXIST {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    Op::Touch(p) => {
                        let fd = libc::open(
                            p.as_ptr(),
                            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o644,
                        );
                        if fd < 0 && errno() != libc::EEXIST && errno() != libc::EISDIR {
                            return Err(io::Error::last_os_error());
                        }
                        if fd >= 0 {
                            libc::close(fd);
                        }
                    }
                    Op::Tmpfs(p) => check(libc::mount(
                        c"tmpfs".as_ptr(),
                        p.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        c"mode=755".as_ptr().cast(),
                    ))?,
                    Op::Bind {
                        source,
                        target,
                        recursive,
                    } => {
                        let flags = libc::MS_BIND | if *recursive { libc::MS_REC } else { 0 };
                        check(libc::mount(
                            source.as_ptr(),
                            target.as_ptr(),
                            std::ptr::null(),
                            flags,
                            std::ptr::null(),
                        ))?
                    }
                    Op::ReadOnly(p) => check(libc::mount(
                        std::ptr::null(),
                        p.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                        std::ptr::null(),
                    ))?,
                    Op::Symlink { target, link } => {
                        if libc::symlink(target.as_ptr(), link.as_ptr()) != 0
                            && errno() != libc::EEXIST
                        {
                            return Err(io::Error::last_os_error());
                        }
                    }
                }
            }
            check(libc::syscall(
                libc::SYS_pivot_root,
                self.root.as_ptr(),
                self.put_old.as_ptr(),
            ) as i32)?;
            check(libc::chdir(c"/".as_ptr()))?;
            check(libc::umount2(
                self.put_old_inside.as_ptr(),
                libc::MNT_DETACH,
            ))?;
            libc::rmdir(self.put_old_inside.as_ptr());
            check(libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ))?;
            check(libc::chdir(self.workdir.as_ptr()))
        }
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(r: i32) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostRoot {
        HostRoot {
            entries: vec![
                HostEntry::Dir("etc".into()),
                HostEntry::Dir("usr".into()),
                HostEntry::Symlink("bin".into(), PathBuf::from("usr/bin")),
            ],
        }
    }

    #[test]
    fn mount_paths_with_dotdot_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            root: dir.path(),
            tmp: dir.path(),
            files: &[],
            working_dir: Path::new("/"),
        };
        let bind = Bind {
            source: dir.path().to_path_buf(),
            target: PathBuf::from("/data/../../etc"),
            read_only: false,
        };
        let err = Plan::build(&host(), &layout, &[bind]).unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
    }

    #[test]
    fn volumes_mount_parents_first_and_files_get_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "x").unwrap();
        let root = dir.path().join("root");
        let layout = Layout {
            root: &root,
            tmp: dir.path(),
            files: &[(PathBuf::from("/etc/hosts"), file.clone())],
            working_dir: Path::new("/"),
        };
        let binds = [
            Bind {
                source: dir.path().to_path_buf(),
                target: PathBuf::from("/data/inner"),
                read_only: true,
            },
            Bind {
                source: dir.path().to_path_buf(),
                target: PathBuf::from("/data"),
                read_only: false,
            },
        ];
        let plan = Plan::build(&host(), &layout, &binds).unwrap();
        let text = format!("{:?}", plan.ops);
        let data = text
            .find(&format!("{:?}", root.join("data").to_str().unwrap()))
            .unwrap();
        let inner = text.find("data/inner").unwrap();
        assert!(data < inner, "parent first: {text}");
        assert!(text.contains(&format!(
            "Touch({:?})",
            cstr(root.join("etc/hosts")).unwrap()
        )));
        assert!(text.contains(&format!(
            "ReadOnly({:?})",
            cstr(root.join("data/inner")).unwrap()
        )));
        assert!(text.contains("Symlink"));
    }
}
