//! The system calls a container's mount plan makes between clone and
//! `exec`, where nothing may allocate (the child shares the agent's
//! memory, see [`crate::runtime::launch`]): paths are prepared C strings,
//! scratch space is on the stack, and errors are plain errno values.
//!
//! The one idea here is [`open_in_root`]: every path inside a container's
//! root is resolved with `openat2(RESOLVE_IN_ROOT)`, so a symbolic link in
//! the image (or one a container made in its writable layer, or in a
//! volume) is followed as if the root were `/` and can never lead out of
//! it. Mounts then go onto the resolved directory through
//! `/proc/self/fd/N`, never through a path the kernel would walk again.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// An errno value.
pub type Errno = i32;

pub fn errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

pub fn check(r: libc::c_int) -> Result<(), Errno> {
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `/proc/self/fd/N` as a C string, on the stack.
pub struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    pub fn new(fd: RawFd) -> FdPath {
        const PREFIX: &[u8] = b"/proc/self/fd/";
        let mut buf = [0u8; 32];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let mut digits = [0u8; 12];
        let mut n = fd.max(0) as u32;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[PREFIX.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    pub fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

/// What to make of a path component that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Nothing: a missing path is an error (ENOENT).
    No,
    /// A directory (missing parents are directories too).
    Dir,
    /// An empty file (to mount a file over); parents are directories.
    File,
}

/// `struct open_how` of openat2(2) (libc's is not constructible).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2` with the given flags and resolution, relative to `dirfd`.
///
/// # Safety
///
/// `path` must be a NUL-terminated string.
pub unsafe fn openat2(dirfd: RawFd, path: *const libc::c_char, flags: i32, resolve: u64) -> RawFd {
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: openat2 reads `how` (of the size given) and the string.
    unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path,
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        ) as RawFd
    }
}

/// Symbolic links are followed as if the directory were `/`.
pub const IN_ROOT: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
/// A path (or a link on it) that leads out of the directory is an error
/// (`EXDEV`).
pub const BENEATH: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;

/// The longest path inside a root the plan handles.
const PATH_MAX: usize = 4096;

/// Opens `rel` (a path inside the root; leading slashes are ignored) as an
/// `O_PATH` descriptor, resolving every symbolic link as if `root` were
/// `/`. Missing components are created as `last` says: directories for
/// the parents, then a directory or an empty file. Creation happens with
/// `*at` calls on the already resolved parent, so nothing is ever created
/// outside the root either.
///
/// # Safety
///
/// For a child before `exec`: no allocation happens here; `root` must be an
/// open directory descriptor.
pub unsafe fn open_in_root(root: RawFd, rel: &CStr, last: Create) -> Result<RawFd, Errno> {
    // SAFETY: as the caller promised.
    unsafe { open_in(root, rel, last, IN_ROOT) }
}

/// [`open_in_root`] with the resolution given: [`IN_ROOT`] or
/// [`BENEATH`].
///
/// # Safety
///
/// As [`open_in_root`].
pub unsafe fn open_in(root: RawFd, rel: &CStr, last: Create, resolve: u64) -> Result<RawFd, Errno> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    // SAFETY: (the whole fn) system calls on descriptors we hold and on
    // NUL-terminated strings (the caller's, or our stack buffer).
    unsafe {
        let fd = openat2(root, rel.as_ptr(), flags, resolve);
        if fd >= 0 {
            return Ok(fd);
        }
        let first = errno();
        if first != libc::ENOENT || last == Create::No {
            return Err(first);
        }
        let bytes = rel.to_bytes();
        if bytes.len() >= PATH_MAX {
            return Err(libc::ENAMETOOLONG);
        }
        let mut buf = [0u8; PATH_MAX];
        buf[..bytes.len()].copy_from_slice(bytes);
        let len = bytes.len();
        let mut parent = libc::fcntl(root, libc::F_DUPFD_CLOEXEC, 0);
        if parent < 0 {
            return Err(errno());
        }
        let mut start = 0;
        while start < len {
            if buf[start] == b'/' {
                start += 1;
                continue;
            }
            let mut end = start;
            while end < len && buf[end] != b'/' {
                end += 1;
            }
            let saved = buf[end];
            buf[end] = 0;
            let prefix = buf.as_ptr().cast::<libc::c_char>();
            let mut fd = openat2(root, prefix, flags, resolve);
            if fd < 0 && errno() == libc::ENOENT {
                let name = buf[start..].as_ptr().cast::<libc::c_char>();
                let made = if end == len && last == Create::File {
                    let f = libc::openat(
                        parent,
                        name,
                        libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_WRONLY
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC,
                        0o644,
                    );
                    if f >= 0 {
                        libc::close(f);
                    }
                    f
                } else {
                    libc::mkdirat(parent, name, 0o755)
                };
                if made < 0 && errno() != libc::EEXIST {
                    let e = errno();
                    libc::close(parent);
                    return Err(e);
                }
                // Resolve again from the root: what we made, or what a
                // racing writer made (a dangling link stays ENOENT).
                fd = openat2(root, prefix, flags, resolve);
            }
            buf[end] = saved;
            if fd < 0 {
                let e = errno();
                libc::close(parent);
                return Err(e);
            }
            libc::close(parent);
            parent = fd;
            start = end;
        }
        Ok(parent)
    }
}

/// `mount(2)` onto the directory or file behind `target` (an `O_PATH`
/// descriptor from [`open_in_root`]).
///
/// # Safety
///
/// `source`, `fstype` and `data` are NUL-terminated strings or null.
pub unsafe fn mount_on(
    source: *const libc::c_char,
    target: RawFd,
    fstype: *const libc::c_char,
    flags: libc::c_ulong,
    data: *const libc::c_char,
) -> Result<(), Errno> {
    let path = FdPath::new(target);
    // SAFETY: plain mount(2) on the caller's strings and our stack path.
    check(unsafe { libc::mount(source, path.as_ptr(), fstype, flags, data.cast()) })
}

/// `open_tree(2)` flag: a detached copy of the tree, not the tree itself.
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `move_mount(2)` flags: the source, and the target, are the descriptors
/// themselves.
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// A detached bind mount of what `fd` refers to (recursive), as
/// `open_tree(fd, "", OPEN_TREE_CLONE | AT_RECURSIVE)`. A detached mount
/// belongs to no mount namespace, so a child in a namespace of its own can
/// attach it ([`attach_tree`]); a plain bind of `/proc/self/fd/N` there
/// fails (EINVAL), its source being a mount of the agent's namespace.
pub fn clone_tree(fd: RawFd) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_EMPTY_PATH as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint;
    // SAFETY: open_tree(2) on a descriptor we were given and an empty
    // path; the result is a fresh descriptor we own.
    let tree = unsafe { libc::syscall(libc::SYS_open_tree, fd, c"".as_ptr(), flags) };
    if tree < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(tree as RawFd) })
}

/// Attaches the detached mount `tree` (from [`clone_tree`]) onto the
/// directory or file behind `target`.
///
/// # Safety
///
/// Both are open descriptors.
pub unsafe fn attach_tree(tree: RawFd, target: RawFd) -> Result<(), Errno> {
    let flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: move_mount(2) on the caller's descriptors and empty paths.
    let done = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            target,
            c"".as_ptr(),
            flags,
        )
    };
    if done < 0 { Err(errno()) } else { Ok(()) }
}

/// Makes the mount at `target` read-only (a bind remount: only this
/// mount's flag changes, not the filesystem's).
///
/// # Safety
///
/// `target` must be a descriptor of the mount's root.
pub unsafe fn remount_read_only(target: RawFd, extra: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: as mount_on.
    unsafe {
        mount_on(
            std::ptr::null(),
            target,
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | extra,
            std::ptr::null(),
        )
    }
}

/// Closes on drop (the child's error paths return early).
pub struct Fd(pub RawFd);

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            // SAFETY: closing a descriptor we own.
            unsafe { libc::close(self.0) };
        }
    }
}

#[cfg(test)]
// Tests call the raw functions on descriptors and strings of their own.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;

    use super::*;

    fn root_fd(dir: &std::path::Path) -> std::fs::File {
        std::fs::File::open(dir).unwrap()
    }

    fn resolved(fd: RawFd) -> std::path::PathBuf {
        std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap()
    }

    #[test]
    fn fd_paths_are_proc_self_fd() {
        let p = FdPath::new(1234);
        let s = unsafe { CStr::from_ptr(p.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "/proc/self/fd/1234");
        let p = FdPath::new(0);
        let s = unsafe { CStr::from_ptr(p.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "/proc/self/fd/0");
    }

    #[test]
    fn symlinks_are_followed_inside_the_root_and_never_out_of_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::create_dir_all(root.join("var")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // /var/run -> /run (absolute, as in images), and an escape attempt.
        std::os::unix::fs::symlink("/run", root.join("var/run")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
        let dir = root_fd(&root);

        let rel = CString::new("/var/run/x").unwrap();
        let fd = unsafe { open_in_root(dir.as_raw_fd(), &rel, Create::Dir) }.unwrap();
        assert_eq!(resolved(fd), root.join("run/x"));
        unsafe { libc::close(fd) };

        // The absolute link target is taken inside the root, where it
        // does not exist: refused, and nothing made in `outside`.
        let rel = CString::new("escape/made").unwrap();
        let fd = unsafe { open_in_root(dir.as_raw_fd(), &rel, Create::Dir) };
        assert_eq!(fd, Err(libc::ENOENT));
        assert!(!outside.join("made").exists());
        // Once the same path exists inside the root, the link leads there.
        std::fs::create_dir_all(root.join(outside.strip_prefix("/").unwrap())).unwrap();
        let fd = unsafe { open_in_root(dir.as_raw_fd(), &rel, Create::Dir) }.unwrap();
        assert!(resolved(fd).starts_with(&root), "{:?}", resolved(fd));
        unsafe { libc::close(fd) };
        assert!(!outside.join("made").exists());

        let rel = CString::new("up/etc/hosts").unwrap();
        let fd = unsafe { open_in_root(dir.as_raw_fd(), &rel, Create::File) }.unwrap();
        assert_eq!(resolved(fd), root.join("etc/hosts"));
        assert!(root.join("etc/hosts").is_file());
        unsafe { libc::close(fd) };
    }

    #[test]
    fn missing_paths_are_an_error_without_create_and_dangling_links_stay_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::os::unix::fs::symlink("/nowhere/deep", root.join("dangling")).unwrap();
        let dir = root_fd(root);
        let rel = CString::new("a/b").unwrap();
        assert_eq!(
            unsafe { open_in_root(dir.as_raw_fd(), &rel, Create::No) },
            Err(libc::ENOENT)
        );
        assert!(!root.join("a").exists());
        // Creating through a dangling link makes its target inside the root.
        let rel = CString::new("dangling/x").unwrap();
        let fd = unsafe { open_in_root(dir.as_raw_fd(), &rel, Create::Dir) };
        // "nowhere" does not exist and mkdirat on the link itself is
        // EEXIST, so the walk cannot pass it: refused, nothing outside.
        assert!(fd.is_err(), "{fd:?}");
        assert!(!std::path::Path::new("/nowhere").exists());
    }
}
