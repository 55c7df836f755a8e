//! Starting a pod process without copying the agent.
//!
//! `fork` copies the parent's page tables, and until the child calls
//! `exec` every page the parent writes costs a copy-on-write fault and a
//! TLB shootdown on the other cores. With a thousand pods the agent (in
//! `ordinal up`, the whole control plane) is hundreds of megabytes, and
//! starting them spent about a third of its CPU on exactly that.
//!
//! So a pod process is created as `posix_spawn` creates one: with
//! `clone(CLONE_VM | CLONE_VFORK)` it runs on a stack of its own inside the
//! agent's memory while the spawning thread waits, and nothing is copied.
//! `posix_spawn` itself will not do, because the steps between clone and
//! `exec` are ours: namespaces, the container's mounts, credentials.
//!
//! What runs in the child shares the agent's memory, so it follows stricter
//! rules than a forked child: system calls on data prepared beforehand
//! only; no allocation, no locks, and none of the glibc wrappers that talk
//! to the other threads (`setuid` and friends signal every thread of the
//! process glibc thinks it is in; the raw system calls are used instead).
//! All signals stay blocked from before the clone until just before `exec`,
//! and the child sets every caught signal back to its default first, so
//! none of the agent's handlers can run on the child's stack.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

/// glibc's search path when the environment has no `PATH` (as `execvp`).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Where a child's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Null,
    /// A pipe whose reading end the [`Child`] hands out.
    Pipe,
}

type PreExec = Box<dyn FnMut() -> io::Result<()> + Send>;

/// A process to start: what `exec` gets, where its output goes, and the
/// steps to take in the child before `exec`. Standard input is /dev/null.
pub struct Launch {
    program: Vec<u8>,
    argv: Vec<CString>,
    env: Vec<CString>,
    stdout: Output,
    stderr: Output,
    /// Standard input, when not /dev/null (an attachable container's).
    stdin_fd: Option<OwnedFd>,
    /// A terminal for standard input, output and error (`tty: true`).
    terminal: Option<OwnedFd>,
    pre_exec: Option<PreExec>,
    kill_on_drop: bool,
    /// A NUL byte in any of the strings: refused at spawn time.
    bad_string: bool,
}

impl Launch {
    /// `program` is a path, or a name looked up in the child's `PATH` (in
    /// the container's own filesystem) as `execvp` does.
    pub fn new(program: impl AsRef<OsStr>) -> Launch {
        let program = program.as_ref().as_bytes().to_vec();
        let mut launch = Launch {
            program: program.clone(),
            argv: Vec::new(),
            env: Vec::new(),
            stdout: Output::Null,
            stderr: Output::Null,
            stdin_fd: None,
            terminal: None,
            pre_exec: None,
            kill_on_drop: false,
            bad_string: false,
        };
        launch.push_arg(program);
        launch
    }

    fn push_arg(&mut self, arg: Vec<u8>) {
        match CString::new(arg) {
            Ok(arg) => self.argv.push(arg),
            Err(_) => self.bad_string = true,
        }
    }

    /// What the process sees as its name (`argv[0]`).
    pub fn arg0(&mut self, name: impl AsRef<OsStr>) -> &mut Launch {
        match CString::new(name.as_ref().as_bytes()) {
            Ok(name) => self.argv[0] = name,
            Err(_) => self.bad_string = true,
        }
        self
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Launch {
        self.push_arg(arg.as_ref().as_bytes().to_vec());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// The whole environment (nothing is inherited from the agent). A name
    /// given twice keeps its last value.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Launch
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (name, value) in vars {
            let name = name.as_ref().as_bytes();
            let mut entry = Vec::with_capacity(name.len() + 1 + value.as_ref().len());
            entry.extend_from_slice(name);
            entry.push(b'=');
            entry.extend_from_slice(value.as_ref().as_bytes());
            self.env.retain(|e| {
                !(e.as_bytes().starts_with(name) && e.as_bytes().get(name.len()) == Some(&b'='))
            });
            match CString::new(entry) {
                Ok(entry) => self.env.push(entry),
                Err(_) => self.bad_string = true,
            }
        }
        self
    }

    pub fn stdout(&mut self, output: Output) -> &mut Launch {
        self.stdout = output;
        self
    }

    pub fn stderr(&mut self, output: Output) -> &mut Launch {
        self.stderr = output;
        self
    }

    /// Standard input from `fd` (the reading end of a pipe the caller
    /// keeps writing to).
    pub fn stdin(&mut self, fd: OwnedFd) -> &mut Launch {
        self.stdin_fd = Some(fd);
        self
    }

    /// A terminal (a pty's terminal side) as standard input, output and
    /// error; the output settings are ignored. Making it the controlling
    /// terminal (`TIOCSCTTY` on fd 0 after `setsid`) is the caller's
    /// pre-exec step.
    pub fn terminal(&mut self, fd: OwnedFd) -> &mut Launch {
        self.terminal = Some(fd);
        self
    }

    /// SIGKILL the process when its [`Child`] is dropped before it exited.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Launch {
        self.kill_on_drop = kill;
        self
    }

    /// A step run in the child before `exec`.
    ///
    /// # Safety
    ///
    /// The closure runs in a child that shares the agent's memory: it may
    /// only make system calls on data it owns (see the module's rules).
    pub unsafe fn pre_exec(
        &mut self,
        step: impl FnMut() -> io::Result<()> + Send + 'static,
    ) -> &mut Launch {
        self.pre_exec = Some(Box::new(step));
        self
    }

    /// The files `exec` tries, in order: the program itself when it names
    /// a path, else each directory of the child's `PATH`.
    fn candidates(&self) -> io::Result<Vec<CString>> {
        let nul = || io::Error::new(io::ErrorKind::InvalidInput, "nul byte in a program path");
        if self.program.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        if self.program.contains(&b'/') {
            return Ok(vec![CString::new(self.program.clone()).map_err(|_| nul())?]);
        }
        let path = self
            .env
            .iter()
            .rev()
            .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
            .unwrap_or(DEFAULT_PATH);
        path.split(|b| *b == b':')
            .map(|dir| {
                let mut file = if dir.is_empty() {
                    Vec::new()
                } else {
                    let mut d = dir.to_vec();
                    d.push(b'/');
                    d
                };
                file.extend_from_slice(&self.program);
                CString::new(file).map_err(|_| nul())
            })
            .collect()
    }
}

/// The memory a child runs on before `exec`: one per spawning thread, used
/// by one child at a time (the thread waits until its child has exec'd).
pub struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by the Stack and used by one thread's
// children, one at a time.
unsafe impl Send for Stack {}

/// Enough for the pre-exec steps (the mount plan's loop and error paths).
const STACK_SIZE: usize = 256 * 1024;

impl Stack {
    pub fn new() -> io::Result<Stack> {
        let page = 4096;
        let len = STACK_SIZE + page;
        // SAFETY: a fresh anonymous mapping, owned by the Stack.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // The lowest page is a guard: an overflow faults instead of
        // writing into the agent's memory.
        // SAFETY: the first page of our own mapping.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            let e = io::Error::last_os_error();
            // SAFETY: unmapping what we just mapped.
            unsafe { libc::munmap(base, len) };
            return Err(e);
        }
        Ok(Stack { base, len })
    }

    fn top(&self) -> *mut libc::c_void {
        // The end of the mapping, 16-byte aligned as the ABI wants.
        let end = self.base as usize + self.len;
        (end & !15) as *mut libc::c_void
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: our own mapping; no child runs on it (spawn returns only
        // after its child has exec'd or exited).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// What the child reads (all prepared by the parent) and the one thing it
/// writes: the error that stopped it before `exec`.
struct Shared<'a> {
    candidates: &'a [*const libc::c_char],
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    stdin: i32,
    stdout: i32,
    stderr: i32,
    pre_exec: Option<&'a mut PreExec>,
    error: AtomicI32,
}

/// Starts `launch` on `stack`; returns once the child has called `exec` (or
/// failed before it, which is returned as the error, as std's spawn does).
/// Must be called from a thread inside a Tokio runtime.
pub fn spawn(launch: &mut Launch, stack: &mut Stack) -> io::Result<Child> {
    if launch.bad_string {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in an argument or environment variable",
        ));
    }
    let candidates = launch.candidates()?;
    let candidate_ptrs: Vec<*const libc::c_char> = candidates.iter().map(|c| c.as_ptr()).collect();
    let argv: Vec<*const libc::c_char> = launch
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = launch
        .env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();

    let null = open_dev_null()?;
    let (stdout_read, stdout_write) = output(launch.stdout)?;
    let (stderr_read, stderr_write) = output(launch.stderr)?;
    let fd_or_null = |fd: &Option<OwnedFd>| fd.as_ref().map_or(null.as_raw_fd(), |f| f.as_raw_fd());

    let terminal = launch.terminal.as_ref().map(|t| t.as_raw_fd());
    let mut shared = Shared {
        candidates: &candidate_ptrs,
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        stdin: terminal
            .or(launch.stdin_fd.as_ref().map(|f| f.as_raw_fd()))
            .unwrap_or(null.as_raw_fd()),
        stdout: terminal.unwrap_or(fd_or_null(&stdout_write)),
        stderr: terminal.unwrap_or(fd_or_null(&stderr_write)),
        pre_exec: launch.pre_exec.as_mut(),
        error: AtomicI32::new(0),
    };

    // SAFETY: signal masks of this thread; the full set is restored below.
    let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; both sets live on this stack.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old_mask);
    }
    // SAFETY: the child runs `child_main` on its own stack with a pointer
    // to `shared`, which outlives it: with CLONE_VFORK this call returns
    // only after the child has exec'd or exited.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&mut shared as *mut Shared).cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restoring this thread's own mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
    drop((
        stdout_write,
        stderr_write,
        null,
        launch.terminal.take(),
        launch.stdin_fd.take(),
    ));
    if pid < 0 {
        return Err(clone_error);
    }
    let error = shared.error.load(Ordering::SeqCst);
    if error != 0 {
        // The child has exited already (CLONE_VFORK): reap it.
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Err(io::Error::from_raw_os_error(error));
    }
    // SAFETY: an OwnedFd stays open for as long as the AsyncFd owns it.
    let watch = |fd: OwnedFd| unsafe { AsyncFd::register(fd) }.map_err(io::Error::from);
    let pidfd = match super::spawner::pidfd(pid as u32).and_then(watch) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: our own child, which we cannot watch: stop it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    };
    Ok(Child {
        pid: pid as u32,
        pidfd: Some(pidfd),
        status: None,
        kill_on_drop: launch.kill_on_drop,
        stdout: stdout_read.map(pipe::Receiver::from_owned_fd).transpose()?,
        stderr: stderr_read.map(pipe::Receiver::from_owned_fd).transpose()?,
    })
}

fn open_dev_null() -> io::Result<OwnedFd> {
    // SAFETY: plain open; the fd is owned below.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pipe for an output, as (reading end, writing end); both close on exec.
fn output(output: Output) -> io::Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    if output == Output::Null {
        return Ok((None, None));
    }
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the array with two fresh descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors we own.
    Ok(unsafe {
        (
            Some(OwnedFd::from_raw_fd(fds[0])),
            Some(OwnedFd::from_raw_fd(fds[1])),
        )
    })
}

/// The child, from clone to `exec`. Returns only by `_exit`.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Shared`, alive while we run.
    let shared = unsafe { &mut *arg.cast::<Shared>() };
    // SAFETY: system calls on the prepared data only.
    let errno = unsafe { child_steps(shared) };
    shared.error.store(errno.max(1), Ordering::SeqCst);
    // SAFETY: leaving without running anything of the agent's.
    unsafe { libc::_exit(127) }
}

/// Everything up to `exec`; returns the errno that stopped it.
unsafe fn child_steps(shared: &mut Shared) -> i32 {
    // SAFETY: (the whole fn) system calls on descriptors and strings the
    // parent prepared and keeps alive.
    unsafe {
        // Every caught signal back to its default (exec would do it, but
        // a handler must not run before then); SIGPIPE too, which the Rust
        // runtime ignores and an ignored signal would stay ignored.
        for signal in 1..65 {
            let mut action: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut action) != 0 {
                continue;
            }
            if action.sa_sigaction != libc::SIG_DFL
                && (action.sa_sigaction != libc::SIG_IGN || signal == libc::SIGPIPE)
            {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        for (fd, target) in [(shared.stdin, 0), (shared.stdout, 1), (shared.stderr, 2)] {
            let done = if fd == target {
                // dup2 onto itself would keep close-on-exec.
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, target)
            };
            if done < 0 {
                return errno();
            }
        }
        if let Some(step) = shared.pre_exec.as_mut()
            && let Err(e) = step()
        {
            return e.raw_os_error().unwrap_or(libc::EINVAL);
        }
        let empty: libc::sigset_t = std::mem::zeroed();
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const libc::sigset_t,
            std::ptr::null_mut::<libc::sigset_t>(),
            8usize,
        );
        // As execvp: the first file that runs; EACCES if one existed but
        // could not run and none ran; a hard error at once.
        let mut denied = false;
        let mut last = libc::ENOENT;
        for &file in shared.candidates {
            libc::execve(file, shared.argv, shared.envp);
            last = errno();
            match last {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => return last,
            }
        }
        if denied { libc::EACCES } else { last }
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// A started process: its pid, a pidfd that becomes readable when it
/// exits, and the reading ends of its piped output.
pub struct Child {
    pid: u32,
    pidfd: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
}

impl Child {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Sends SIGKILL (through the pidfd: never to a recycled pid).
    pub fn start_kill(&self) -> io::Result<()> {
        match &self.pidfd {
            Some(fd) if self.status.is_none() => send_signal(fd.get_ref(), libc::SIGKILL),
            _ => Ok(()),
        }
    }

    /// Waits for the process to exit and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let Some(pidfd) = &self.pidfd else {
            return Err(io::Error::other("the process is no longer watched"));
        };
        let status = reap(self.pid, pidfd).await?;
        self.status = Some(status);
        Ok(status)
    }
}

async fn reap(pid: u32, pidfd: &AsyncFd<OwnedFd>) -> io::Result<ExitStatus> {
    loop {
        let mut ready = pidfd.readable().await?;
        let mut status = 0;
        // SAFETY: waitpid on our own child; the pidfd we hold keeps its
        // pid from being reused before this reaps it.
        let reaped = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
        if reaped < 0 {
            return Err(io::Error::last_os_error());
        }
        if reaped > 0 {
            return Ok(ExitStatus::from_raw(status));
        }
        ready.clear_ready();
    }
}

/// Sends `signal` through a pidfd; a process that has exited already (a
/// zombie not yet reaped) is no failure.
pub fn send_signal(pidfd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal on a pidfd we hold.
    let done = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if done != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        if self.kill_on_drop {
            let _ = send_signal(pidfd.get_ref(), libc::SIGKILL);
        }
        // Reaped whenever it exits, so that it does not stay a zombie.
        let pid = self.pid;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = reap(pid, &pidfd).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn run(launch: &mut Launch) -> io::Result<Child> {
        let mut stack = Stack::new()?;
        spawn(launch, &mut stack)
    }

    async fn read_all(pipe: Option<pipe::Receiver>) -> String {
        let mut text = String::new();
        pipe.expect("a piped output")
            .read_to_string(&mut text)
            .await
            .unwrap();
        text
    }

    #[tokio::test]
    async fn runs_a_program_from_path_with_args_env_and_output() {
        let mut launch = Launch::new("sh");
        launch
            .args(["-c", "echo \"$GREETING $0\"; echo oops >&2; exit 3"])
            .envs([("PATH", "/usr/bin:/bin"), ("GREETING", "hello")])
            .stdout(Output::Pipe)
            .stderr(Output::Pipe);
        let mut child = run(&mut launch).await.unwrap();
        let out = read_all(child.stdout.take()).await;
        let err = read_all(child.stderr.take()).await;
        let status = child.wait().await.unwrap();
        assert_eq!(out, "hello sh\n");
        assert_eq!(err, "oops\n");
        assert_eq!(status.code(), Some(3));
    }

    #[tokio::test]
    async fn the_environment_is_only_what_was_given_and_later_values_win() {
        let mut launch = Launch::new("/usr/bin/env");
        launch
            .envs([("A", "1"), ("B", "2")])
            .envs([("A", "3")])
            .stdout(Output::Pipe);
        let mut child = run(&mut launch).await.unwrap();
        let out = read_all(child.stdout.take()).await;
        child.wait().await.unwrap();
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort();
        assert_eq!(lines, ["A=3", "B=2"]);
    }

    #[tokio::test]
    async fn a_missing_program_is_not_found_and_a_directory_is_denied() {
        let mut missing = Launch::new("no-such-program-anywhere");
        missing.envs([("PATH", "/usr/bin:/bin")]);
        let e = run(&mut missing).await.err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);

        let mut directory = Launch::new("/tmp");
        let e = run(&mut directory).await.err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);

        let mut nul = Launch::new("/bin/true");
        nul.arg("a\0b");
        let e = run(&mut nul).await.err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn a_failing_pre_exec_step_is_the_spawn_error() {
        let mut launch = Launch::new("/bin/true");
        // SAFETY: only a system call (on a path that is not there).
        unsafe {
            launch.pre_exec(|| {
                if libc::chdir(c"/no/such/dir".as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let e = run(&mut launch).await.err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[tokio::test]
    async fn sigpipe_is_default_and_kill_reaches_the_child() {
        // A writer into a closed pipe dies of SIGPIPE, as outside ordinal
        // (the agent itself ignores SIGPIPE).
        let mut launch = Launch::new("/bin/sh");
        launch
            .args(["-c", "sleep 0.2; exec yes"])
            .stdout(Output::Pipe);
        let mut child = run(&mut launch).await.unwrap();
        drop(child.stdout.take());
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");

        let mut sleeper = Launch::new("/bin/sleep");
        sleeper.arg("30");
        let mut child = run(&mut sleeper).await.unwrap();
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // Waiting again answers from memory.
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    }

    #[tokio::test]
    async fn a_child_dropped_with_kill_on_drop_dies_and_is_reaped() {
        let mut launch = Launch::new("/bin/sleep");
        launch.arg("30").kill_on_drop(true);
        let child = run(&mut launch).await.unwrap();
        let pid = child.id() as i32;
        drop(child);
        for _ in 0..200 {
            // SAFETY: probing whether the pid still exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the dropped child {pid} is still there (killed and reaped?)");
    }
}
