//! A directory tree that writes can never leave.
//!
//! Every operation names a path inside the tree. The path is cleaned
//! lexically first (`..` cannot climb above the root, absolute paths start
//! at the root), then its parent is resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative to the
//! tree's directory fd — so a symlink made by an earlier entry (`a -> /`)
//! is followed as if the tree were `/`, never out of it — and the last
//! component is created with `*at` calls on that parent fd that do not
//! follow symlinks. Hard links resolve their target the same way.
//!
//! Both unpacking (tar entries) and `materialize` (copying stored layers)
//! write through this type, so they share one confinement.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid, XattrFlags,
};

/// Owner, permissions, times and extended attributes of an entry.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

/// Kinds of special files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
    Fifo,
}

/// The overlayfs xattr marking a directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// A path inside the tree, cleaned: no `.`, `..`, root or empty parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InnerPath(Vec<OsString>);

impl InnerPath {
    /// Cleans `p` lexically as if the tree were `/`.
    pub fn clean(p: &Path) -> InnerPath {
        let mut parts: Vec<OsString> = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => parts.push(n.to_os_string()),
                Component::ParentDir => {
                    parts.pop();
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        InnerPath(parts)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn file_name(&self) -> Option<&OsStr> {
        self.0.last().map(OsString::as_os_str)
    }

    pub fn parent(&self) -> InnerPath {
        let mut p = self.0.clone();
        p.pop();
        InnerPath(p)
    }

    pub fn join(&self, name: &OsStr) -> InnerPath {
        let mut p = self.0.clone();
        p.push(name.to_os_string());
        InnerPath(p)
    }

    /// The path relative to the root, `.` for the root itself.
    pub fn relative(&self) -> PathBuf {
        if self.0.is_empty() {
            PathBuf::from(".")
        } else {
            self.0.iter().collect()
        }
    }
}

impl std::fmt::Display for InnerPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}", self.relative().display())
    }
}

/// The writer. Not `Sync`: one unpack at a time per tree.
pub struct Confined {
    root: OwnedFd,
    /// Directories whose mtime is set at the end (children change it).
    dir_times: Vec<(InnerPath, i64)>,
    /// Bytes of regular file data written.
    pub bytes_written: u64,
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

impl Confined {
    /// Opens an existing directory as the tree's root.
    pub fn open(dir: &Path) -> io::Result<Confined> {
        let root = rustix::fs::open(dir, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
        Ok(Confined {
            root,
            dir_times: Vec::new(),
            bytes_written: 0,
        })
    }

    /// Opens the directory at `p` (following symlinks inside the tree).
    fn open_dir(&self, p: &InnerPath) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat2(
            &self.root,
            p.relative(),
            DIR_FLAGS,
            Mode::empty(),
            RESOLVE,
        )?)
    }

    /// The parent directory of `p`, made (0755, root-owned) where missing.
    fn parent(&self, p: &InnerPath) -> io::Result<OwnedFd> {
        let parent = p.parent();
        match self.open_dir(&parent) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            other => return other,
        }
        let mut fd = self.open_dir(&InnerPath(Vec::new()))?;
        let mut walked = InnerPath(Vec::new());
        for name in &parent.0 {
            walked = walked.join(name);
            match self.open_dir(&walked) {
                Ok(next) => fd = next,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match rustix::fs::mkdirat(&fd, name.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) => {}
                        Err(e) if e == rustix::io::Errno::EXIST => {}
                        Err(e) => return Err(e.into()),
                    }
                    fd = self.open_dir(&walked)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(fd)
    }

    /// Removes whatever is at `name` in `dir`, unless it is a directory
    /// and `keep_dir` is set. Returns whether a directory was kept.
    fn clear(dir: BorrowedFd<'_>, name: &OsStr, keep_dir: bool) -> io::Result<bool> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(e) if e == rustix::io::Errno::NOENT => Ok(false),
            Err(e) => Err(e.into()),
            Ok(st) => {
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    if keep_dir {
                        return Ok(true);
                    }
                    remove_all_at(dir, name)?;
                } else {
                    rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
                }
                Ok(false)
            }
        }
    }

    fn name(p: &InnerPath) -> io::Result<&OsStr> {
        p.file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "entry names the root"))
    }

    /// The directory `p`, made with `mode` where nothing is (anything but
    /// a directory in its place is removed first), opened without
    /// following a link.
    fn existing_dir(&self, p: &InnerPath, mode: u32) -> io::Result<OwnedFd> {
        if !p.is_root() {
            let parent = self.parent(p)?;
            let name = Self::name(p)?;
            if !Self::clear(parent.as_fd(), name, true)? {
                rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(mode))?;
            }
        }
        Ok(rustix::fs::openat2(
            &self.root,
            p.relative(),
            DIR_FLAGS | OFlags::NOFOLLOW,
            Mode::empty(),
            RESOLVE,
        )?)
    }

    /// A directory; an existing one is kept (tar semantics) and gets the
    /// new metadata. The root itself may be named (`./`).
    pub fn dir(&mut self, p: &InnerPath, meta: &Meta) -> io::Result<()> {
        let fd = self.existing_dir(p, 0o700)?;
        apply_fd_meta(&fd, meta)?;
        self.dir_times.push((p.clone(), meta.mtime));
        Ok(())
    }

    /// A regular file with `data` as content.
    pub fn file(&mut self, p: &InnerPath, meta: &Meta, data: &mut dyn Read) -> io::Result<()> {
        let parent = self.parent(p)?;
        let name = Self::name(p)?;
        Self::clear(parent.as_fd(), name, false)?;
        let fd = rustix::fs::openat(
            &parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        let mut file = std::fs::File::from(fd);
        self.bytes_written += copy_large(data, &mut file)?;
        apply_fd_meta(&file, meta)?;
        set_fd_times(&file, meta.mtime)?;
        Ok(())
    }

    /// A symbolic link; `target` is stored as is (it is only ever
    /// followed inside the tree, or inside the container later).
    pub fn symlink(&mut self, p: &InnerPath, target: &Path, meta: &Meta) -> io::Result<()> {
        let parent = self.parent(p)?;
        let name = Self::name(p)?;
        Self::clear(parent.as_fd(), name, false)?;
        rustix::fs::symlinkat(target, &parent, name)?;
        self.apply_path_meta(&parent, name, meta, false)
    }

    /// A hard link at `p` to the entry at `target`, both inside the tree.
    pub fn hardlink(&mut self, p: &InnerPath, target: &InnerPath) -> io::Result<()> {
        let tparent = self.parent_existing(target)?;
        let tname = Self::name(target)?;
        let parent = self.parent(p)?;
        let name = Self::name(p)?;
        if p == target {
            return Ok(());
        }
        Self::clear(parent.as_fd(), name, false)?;
        // Flags 0: a symlink target is linked itself, never followed.
        rustix::fs::linkat(&tparent, tname, &parent, name, AtFlags::empty())?;
        Ok(())
    }

    /// The parent of an existing entry (no directories made).
    fn parent_existing(&self, p: &InnerPath) -> io::Result<OwnedFd> {
        self.open_dir(&p.parent())
    }

    /// A device node or fifo.
    pub fn special(&mut self, p: &InnerPath, kind: Special, meta: &Meta) -> io::Result<()> {
        let parent = self.parent(p)?;
        let name = Self::name(p)?;
        Self::clear(parent.as_fd(), name, false)?;
        let (ft, dev) = match kind {
            Special::Char { major, minor } => {
                (FileType::CharacterDevice, rustix::fs::makedev(major, minor))
            }
            Special::Block { major, minor } => {
                (FileType::BlockDevice, rustix::fs::makedev(major, minor))
            }
            Special::Fifo => (FileType::Fifo, 0),
        };
        rustix::fs::mknodat(&parent, name, ft, Mode::from_raw_mode(0o600), dev)?;
        self.apply_path_meta(&parent, name, meta, true)
    }

    /// An overlayfs whiteout: a character device 0:0 named `p`. An entry
    /// this tree already has at `p` is kept: a whiteout only hides lower
    /// layers' files.
    pub fn whiteout(&mut self, p: &InnerPath) -> io::Result<()> {
        let parent = self.parent(p)?;
        let name = Self::name(p)?;
        match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => return Ok(()),
            Err(e) if e == rustix::io::Errno::NOENT => {}
            Err(e) => return Err(e.into()),
        }
        rustix::fs::mknodat(
            &parent,
            name,
            FileType::CharacterDevice,
            Mode::empty(),
            rustix::fs::makedev(0, 0),
        )?;
        Ok(())
    }

    /// Marks the directory `p` opaque (made if missing).
    pub fn opaque(&mut self, p: &InnerPath) -> io::Result<()> {
        let fd = self.existing_dir(p, 0o755)?;
        rustix::fs::fsetxattr(&fd, OPAQUE_XATTR, b"y", XattrFlags::empty())?;
        Ok(())
    }

    /// Removes whatever is at `p` (nothing if absent).
    pub fn remove(&mut self, p: &InnerPath) -> io::Result<()> {
        let parent = match self.parent_existing(p) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
            Err(e) => return Err(e),
        };
        Self::clear(parent.as_fd(), Self::name(p)?, false)?;
        Ok(())
    }

    /// Empties the directory `p` (for an opaque directory over it).
    pub fn empty_dir(&mut self, p: &InnerPath) -> io::Result<()> {
        let fd = match self.open_dir(p) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        for name in list_dir(fd.as_fd())? {
            Self::clear(fd.as_fd(), &name, false)?;
        }
        Ok(())
    }

    /// Sets directories' mtimes last, since their children changed them.
    pub fn finish(&mut self) -> io::Result<()> {
        for (p, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            match self.open_dir(&p) {
                Ok(fd) => set_fd_times(&fd, mtime)?,
                // Replaced by a later entry: its own times stand.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of an entry that cannot be opened
    /// (symlinks, devices): by name relative to its parent, not followed.
    fn apply_path_meta(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        meta: &Meta,
        chmod: bool,
    ) -> io::Result<()> {
        rustix::fs::chownat(
            parent,
            name,
            Some(Uid::from_raw_unchecked(meta.uid)),
            Some(Gid::from_raw_unchecked(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        if chmod {
            // Only devices and fifos get here: never symlinks, which
            // fchmodat would follow.
            rustix::fs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(meta.mode & 0o7777),
                AtFlags::empty(),
            )?;
        }
        if !meta.xattrs.is_empty() {
            // The parent fd is ours; /proc's link to it is not followed
            // past `name`, which lsetxattr does not follow either.
            let mut path = PathBuf::from(format!("/proc/self/fd/{}", parent.as_raw_fd()));
            path.push(name);
            for (k, v) in &meta.xattrs {
                rustix::fs::lsetxattr(&path, k.as_os_str(), v, XattrFlags::empty())
                    .map_err(|e| xattr_error(k, e))?;
            }
        }
        let t = timestamps(meta.mtime);
        rustix::fs::utimensat(parent, name, &t, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(())
    }
}

/// Owner, then mode (chown clears setuid bits), then xattrs (after the
/// chown, which drops file capabilities).
fn apply_fd_meta<F: AsFd>(fd: &F, meta: &Meta) -> io::Result<()> {
    rustix::fs::fchown(
        fd,
        Some(Uid::from_raw_unchecked(meta.uid)),
        Some(Gid::from_raw_unchecked(meta.gid)),
    )?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode & 0o7777))?;
    for (k, v) in &meta.xattrs {
        rustix::fs::fsetxattr(fd, k.as_os_str(), v, XattrFlags::empty())
            .map_err(|e| xattr_error(k, e))?;
    }
    Ok(())
}

fn xattr_error(name: &OsStr, e: rustix::io::Errno) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(
        e.kind(),
        format!("setting xattr {}: {e}", name.to_string_lossy()),
    )
}

fn timestamps(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn set_fd_times<F: AsFd>(fd: &F, mtime: i64) -> io::Result<()> {
    rustix::fs::futimens(fd, &timestamps(mtime))?;
    Ok(())
}

/// Copies with a large buffer: layer files are often big.
fn copy_large(src: &mut dyn Read, dst: &mut std::fs::File) -> io::Result<u64> {
    let mut buf = vec![0u8; crate::compression::BUFFER];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Names in a directory given by fd (through /proc, whose link to our own
/// fd is safe to follow).
fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        names.push(entry?.file_name());
    }
    Ok(names)
}

/// Removes `name` in `dir` and everything below it, never following
/// symlinks.
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) if e == rustix::io::Errno::NOENT => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
        return Ok(());
    }
    let sub = rustix::fs::openat(dir, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
    for child in list_dir(sub.as_fd())? {
        remove_all_at(sub.as_fd(), &child)?;
    }
    drop(sub);
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

/// Removes a whole tree given by path (our own store directories).
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no parent"));
    };
    let dir = match rustix::fs::open(parent, DIR_FLAGS, Mode::empty()) {
        Ok(d) => d,
        Err(e) if e == rustix::io::Errno::NOENT => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    remove_all_at(dir.as_fd(), name)
}
