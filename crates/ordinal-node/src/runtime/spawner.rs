//! Starting pod processes from a few dedicated threads.
//!
//! Two kernel rules shape this module:
//!
//! - A process enters a PID namespace only by being forked into it.
//!   `unshare(CLONE_NEWPID)` and `setns(.., CLONE_NEWPID)` change where the
//!   calling *thread's next child* goes, not the caller itself.
//! - The parent-death signal (`PR_SET_PDEATHSIG`) fires when the *thread*
//!   that forked a process exits, not when its process does.
//!
//! So every pod process is started by one of a few long-lived threads (a
//! `clone` that shares the agent's memory, see [`super::launch`]): it
//! points its children's PID namespace at a new or existing pod namespace,
//! starts the child, and points it back at its own. And because those threads live
//! exactly as long as the agent, the kernel kills every pod process when
//! the agent dies, however it dies (a SIGKILLed `ordinal up` leaves no
//! process behind). There are several threads because starting a child
//! blocks its thread until the child has exec'd (its mounts done), and a
//! node starting many pods should not start them one by one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::launch::{self, Child, Launch, Stack};

/// Which PID namespace the child is forked into.
pub enum PidNamespace {
    /// The agent's own (host mode).
    Host,
    /// A new one, whose first process (this child) is its init.
    New,
    /// The PID namespace of the process behind this pidfd (a pod's pause).
    Join(OwnedFd),
}

struct Job {
    launch: Launch,
    namespace: PidNamespace,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// How many threads fork pod processes. A start blocks its thread while
/// the kernel makes namespaces, mounts the container's root and, at exec,
/// closes the agent's descriptors the child inherited; with image roots
/// 4 threads left a core idle a third of the time while 1,000 pods
/// started (14.0–17.2 s over three runs); 12 took 11.5–15.6 s over four;
/// 24 gained nothing more (each start then took twice as long).
const THREADS: usize = 12;

/// Handle to the spawner threads; cheap to clone.
#[derive(Clone)]
pub struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the spawner threads. They are bound to the current Tokio
    /// runtime (children are Tokio children, awaited from any task).
    pub fn start() -> io::Result<Spawner> {
        let handle = tokio::runtime::Handle::current();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for i in 0..THREADS {
            let handle = handle.clone();
            let queue = std::sync::Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("ordinal-spawner-{i}"))
                .spawn(move || {
                    let _runtime = handle.enter();
                    let (own, mut stack) =
                        match open_own_pid_namespace().and_then(|own| Ok((own, Stack::new()?))) {
                            Ok(ready) => ready,
                            Err(e) => {
                                tracing::error!(error = %e, "a spawner thread cannot start");
                                return;
                            }
                        };
                    loop {
                        let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        };
                        let mut launch = job.launch;
                        let result = spawn_in(&mut launch, &job.namespace, &own, &mut stack);
                        let _ = job.reply.send(result);
                    }
                })?;
        }
        Ok(Spawner { jobs })
    }

    /// Starts `launch` in `namespace`. Its `pre_exec` step runs in the
    /// child, already inside that PID namespace.
    pub async fn spawn(&self, launch: Launch, namespace: PidNamespace) -> io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                launch,
                namespace,
                reply,
            })
            .map_err(|_| io::Error::other("the spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the spawner thread has stopped"))?
    }
}

fn spawn_in(
    launch: &mut Launch,
    namespace: &PidNamespace,
    own: &OwnedFd,
    stack: &mut Stack,
) -> io::Result<Child> {
    let moved = match namespace {
        PidNamespace::Host => false,
        PidNamespace::New => {
            // SAFETY: unshare only changes this thread's pid_for_children.
            if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
                return Err(io::Error::last_os_error());
            }
            true
        }
        PidNamespace::Join(pidfd) => {
            // SAFETY: setns with a pidfd we own; affects pid_for_children.
            if unsafe { libc::setns(pidfd.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                return Err(io::Error::last_os_error());
            }
            true
        }
    };
    let result = launch::spawn(launch, stack);
    if moved {
        // SAFETY: back to the namespace this thread started in, which is
        // always allowed (it is the thread's active PID namespace).
        if unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            // Without this, later children of this thread would land in a
            // pod: better stop the agent than run pods in each other.
            let e = io::Error::last_os_error();
            tracing::error!(error = %e, "spawner: cannot return to its own PID namespace");
            std::process::abort();
        }
    }
    result
}

fn open_own_pid_namespace() -> io::Result<OwnedFd> {
    let path = c"/proc/thread-self/ns/pid";
    // SAFETY: plain open of a proc file; the fd is owned below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pidfd for a child of ours (stable: the child cannot be reaped while we
/// hold its `Child`).
pub fn pidfd(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open has no memory arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Duplicates a pidfd (each spawn job consumes one).
pub fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    fd.try_clone()
}
