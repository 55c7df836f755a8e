//! The pod sandbox process (`ordinal internal-pause`).
//!
//! Each isolated pod has one: it is forked as the init (PID 1) of the pod's
//! new PID namespace, holding the pod's network, UTS and IPC namespaces
//! open for the containers that join them. As init it reaps orphaned
//! processes of the pod. When it dies, the kernel kills every process left
//! in the pod's PID namespace, so killing it is how a pod is torn down; and
//! it dies with the agent (parent-death signal), so nothing outlives
//! `ordinal up`.
//!
//! It is the one process of a pod the pod's containers can see that the
//! agent started, so it must hold nothing of the host: it moves into a
//! mount namespace of its own whose root is an empty read-only tmpfs
//! (`/proc/1/root` inside the pod shows nothing), and its environment and
//! open files are empty or `/dev/null`.

/// Runs the pause loop; never returns. Called by the binary's hidden
/// `internal-pause` subcommand, before any thread is started.
pub fn main() -> ! {
    // SAFETY: plain signal-mask and wait calls on a local set; this
    // process is single-threaded.
    unsafe {
        // Shown by ps inside the pod as its PID 1.
        libc::prctl(libc::PR_SET_NAME, c"pause".as_ptr());
        if empty_root().is_err() {
            // A sandbox that would expose the host does not run: the
            // pod's containers then fail to start in it, with an error.
            libc::_exit(3);
        }
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        loop {
            let signal = libc::sigwaitinfo(&all, std::ptr::null_mut());
            match signal {
                libc::SIGCHLD => {
                    while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
                }
                libc::SIGTERM | libc::SIGINT => libc::_exit(0),
                _ => {}
            }
        }
    }
}

/// Leaves the host's filesystem: a private mount namespace whose root is
/// an empty tmpfs, made read-only.
///
/// # Safety
///
/// Single-threaded process; system calls on static strings.
unsafe fn empty_root() -> Result<(), i32> {
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(1))
        } else {
            Ok(())
        }
    };
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: mount-namespace system calls on static strings.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            null,
            c"/".as_ptr(),
            null,
            libc::MS_REC | libc::MS_PRIVATE,
            null.cast(),
        ))?;
        // Any directory will do as the mount point: the namespace is ours.
        check(libc::mount(
            c"tmpfs".as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            c"size=4k,mode=555".as_ptr().cast(),
        ))?;
        check(libc::chdir(c"/tmp".as_ptr()))?;
        check(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as i32)?;
        check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
        check(libc::chdir(c"/".as_ptr()))?;
        check(libc::mount(
            null,
            c"/".as_ptr(),
            null,
            libc::MS_BIND
                | libc::MS_REMOUNT
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            null.cast(),
        ))
    }
}
