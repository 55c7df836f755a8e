//! The pod sandbox process (`ordinal internal-pause`).
//!
//! Each isolated pod has one: it is forked as the init (PID 1) of the pod's
//! new PID namespace, holding the pod's network, UTS and IPC namespaces
//! open for the containers that join them. As init it reaps orphaned
//! processes of the pod. When it dies, the kernel kills every process left
//! in the pod's PID namespace, so killing it is how a pod is torn down; and
//! it dies with the agent (parent-death signal), so nothing outlives
//! `ordinal up`.

/// Runs the pause loop; never returns. Called by the binary's hidden
/// `internal-pause` subcommand, before any thread is started.
pub fn main() -> ! {
    // SAFETY: plain signal-mask and wait calls on a local set; this
    // process is single-threaded.
    unsafe {
        // Shown by ps inside the pod as its PID 1.
        libc::prctl(libc::PR_SET_NAME, c"pause".as_ptr());
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
