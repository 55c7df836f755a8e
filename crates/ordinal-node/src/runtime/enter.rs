//! `ordinal internal-exec`: runs a command inside a running container, as
//! `runc exec` does — for `kubectl exec`, exec probes and lifecycle hooks.
//!
//! The agent starts this small helper (the `ordinal` binary itself) on
//! the host with the container's environment as its own. The helper
//!
//! 1. takes a pidfd on the container's process and checks its start time,
//!    so a recycled PID can never be entered;
//! 2. joins the container's cgroups, so what it runs is limited and
//!    accounted with the container, and killed with it;
//! 3. enters the container's mount, UTS, IPC, network and PID namespaces
//!    in one `setns` on the pidfd — its root and working directory become
//!    the container's, so programs come from the image;
//! 4. forks (a process enters a PID namespace only by being created in
//!    it); the child leads a session on the terminal when there is one,
//!    changes to the container's working directory, drops to the
//!    container's capabilities and user, and execs the command found on
//!    the container's `PATH`;
//! 5. forwards termination signals to the child, waits, and exits as it
//!    did (a signal as 128 + its number), which is what the caller reports.
//!
//! With a terminal, the command gets one of the container's own: a pty
//! from the container's `devpts` (so `tty` and `ttyname` name a device
//! the container has), its line discipline doing the work. The helper
//! relays between the terminal it was given (the node server's, put in
//! raw mode) and that pty, and passes window-size changes on, as a
//! container runtime's exec does with its console.
//!
//! Nothing here depends on programs inside the image (no `setsid`, no
//! `nsenter`), so it works on `FROM scratch` images too.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use super::security::{CapSet, Credentials, Security};

/// What to run, and as whom.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Request {
    pub pid: u32,
    /// The container process's start time (field 22 of `/proc/PID/stat`).
    pub start_time: u64,
    pub user: Option<u32>,
    pub group: Option<u32>,
    pub groups: Vec<u32>,
    /// The capability bounding set; `None`: unchanged (host-program pods).
    pub capabilities: Option<u64>,
    pub no_new_privs: bool,
    /// The files to join first by writing `"0"` to each
    /// ([`super::cgroups::ContainerCgroup::join_files`]).
    pub cgroups: Vec<PathBuf>,
    pub workdir: String,
    pub tty: bool,
    pub argv: Vec<String>,
}

impl Request {
    /// The helper's command line after `internal-exec`.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            format!("--pid={}", self.pid),
            format!("--start-time={}", self.start_time),
            format!("--workdir={}", self.workdir),
        ];
        if let Some(u) = self.user {
            a.push(format!("--uid={u}"));
        }
        if let Some(g) = self.group {
            a.push(format!("--gid={g}"));
        }
        for g in &self.groups {
            a.push(format!("--group={g}"));
        }
        if let Some(c) = self.capabilities {
            a.push(format!("--caps={c:x}"));
        }
        if self.no_new_privs {
            a.push("--no-new-privs".into());
        }
        for c in &self.cgroups {
            a.push(format!("--cgroup={}", c.display()));
        }
        if self.tty {
            a.push("--tty".into());
        }
        a.push("--".into());
        a.extend(self.argv.iter().cloned());
        a
    }

    /// Parses what [`Request::args`] wrote.
    pub fn parse(args: &[String]) -> Result<Request, String> {
        let mut r = Request::default();
        let mut it = args.iter();
        for arg in it.by_ref() {
            if arg == "--" {
                break;
            }
            let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
            let num = |v: &str| v.parse::<u32>().map_err(|_| format!("bad value in {arg}"));
            match key {
                "--pid" => r.pid = num(value)?,
                "--start-time" => {
                    r.start_time = value.parse().map_err(|_| format!("bad value in {arg}"))?
                }
                "--workdir" => r.workdir = value.to_string(),
                "--uid" => r.user = Some(num(value)?),
                "--gid" => r.group = Some(num(value)?),
                "--group" => r.groups.push(num(value)?),
                "--caps" => {
                    r.capabilities = Some(
                        u64::from_str_radix(value, 16)
                            .map_err(|_| format!("bad value in {arg}"))?,
                    )
                }
                "--no-new-privs" => r.no_new_privs = true,
                "--cgroup" => r.cgroups.push(PathBuf::from(value)),
                "--tty" => r.tty = true,
                _ => return Err(format!("unknown argument {arg}")),
            }
        }
        r.argv = it.cloned().collect();
        if r.argv.is_empty() {
            return Err("no command given".into());
        }
        Ok(r)
    }

    /// The command that runs the helper from the agent.
    pub fn command(&self, exe: &Path) -> std::process::Command {
        let mut c = std::process::Command::new(exe);
        c.arg("internal-exec").args(self.args());
        c
    }
}

/// A process's start time in clock ticks since boot (field 22 of its
/// `stat`), which with the PID identifies it for good.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count the
    // fields after its closing one (state is field 3).
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The child's PID, for the signal forwarder.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

fn fail(code: i32, message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(code)
}

/// The helper's main; never returns. `args` are those after
/// `internal-exec`.
pub fn main(args: &[String]) -> ! {
    let request = match Request::parse(args) {
        Ok(r) => r,
        Err(e) => fail(125, &format!("internal-exec: {e}")),
    };
    // SAFETY: pidfd_open has no memory arguments.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, request.pid as libc::pid_t, 0) };
    if pidfd < 0 || start_time(request.pid) != Some(request.start_time) {
        fail(
            126,
            "cannot exec in a stopped container: the container is not running",
        );
    }
    // SAFETY: a fresh descriptor we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // "0": this process, which is single-threaded, so that on v1 it moves
    // without the kernel's global lock (see `ContainerCgroup::join_files`).
    for file in &request.cgroups {
        // Best effort: a container without cgroups still runs commands.
        let _ = std::fs::write(file, "0");
    }
    let flags = libc::CLONE_NEWNS
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWPID;
    // SAFETY: setns on a pidfd we hold; this process is single-threaded.
    if unsafe { libc::setns(pidfd.as_raw_fd(), flags) } != 0 {
        let e = std::io::Error::last_os_error();
        fail(126, &format!("entering the container's namespaces: {e}"));
    }
    drop(pidfd);
    let console = match request.tty {
        true => match Console::open() {
            Ok(console) => Some(console),
            Err(e) => fail(126, &format!("exec failed: allocating a terminal: {e}")),
        },
        false => None,
    };
    // SAFETY: fork in a single-threaded process.
    let child = unsafe { libc::fork() };
    if child < 0 {
        fail(126, &format!("fork: {}", std::io::Error::last_os_error()));
    }
    if child == 0 {
        if let Some(console) = &console {
            console.become_terminal();
        }
        run_child(&request);
    }
    CHILD.store(child, Ordering::SeqCst);
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing a handler that only calls kill.
        unsafe { libc::signal(signal, forward as *const () as libc::sighandler_t) };
    }
    let status = match console {
        Some(console) => console.relay(child),
        None => wait(child),
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    };
    std::process::exit(code)
}

/// Waits for the child; its wait status.
fn wait(child: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our child.
        let done = unsafe { libc::waitpid(child, &mut status, 0) };
        if done == child {
            return status;
        }
        if done < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            fail(126, "waiting for the command failed");
        }
    }
}

/// The window size changed on the outer terminal.
static RESIZED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn resized(_: libc::c_int) {
    RESIZED.store(true, Ordering::SeqCst);
}

/// A pty of the container's own `devpts`, relayed to the terminal the
/// helper was given on its standard input and output.
struct Console {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Console {
    /// Opens a pty in the container's `/dev/pts` (the helper is in the
    /// container's mount namespace by now).
    fn open() -> std::io::Result<Console> {
        let check = |fd: libc::c_int| {
            if fd < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                // SAFETY: a fresh descriptor we own.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        };
        // SAFETY: open and ioctls on descriptors we own.
        unsafe {
            let master = check(libc::open(
                c"/dev/pts/ptmx".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?;
            let unlock: libc::c_int = 0;
            if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let slave = check(libc::ioctl(
                master.as_raw_fd(),
                libc::TIOCGPTPEER,
                libc::O_RDWR | libc::O_NOCTTY,
            ))?;
            copy_window_size(0, master.as_raw_fd());
            Ok(Console { master, slave })
        }
    }

    /// In the child: the pty is its standard streams and, once it leads a
    /// session, its controlling terminal.
    fn become_terminal(&self) {
        let slave = self.slave.as_raw_fd();
        // SAFETY: dup2 onto the standard descriptors; close of the master
        // the child must not hold.
        unsafe {
            for target in 0..3 {
                libc::dup2(slave, target);
            }
            libc::close(self.master.as_raw_fd());
        }
    }

    /// Relays until the child has exited and its output is drained;
    /// returns its wait status.
    fn relay(self, child: libc::pid_t) -> i32 {
        drop(self.slave);
        let master = self.master.as_raw_fd();
        // SAFETY: terminal attributes of our own standard input, a signal
        // handler that only stores a flag, and polls, reads and writes on
        // descriptors we hold.
        unsafe {
            let mut raw: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut raw) == 0 {
                libc::cfmakeraw(&mut raw);
                libc::tcsetattr(0, libc::TCSANOW, &raw);
            }
            libc::signal(libc::SIGWINCH, resized as *const () as libc::sighandler_t);
            let mut buf = [0u8; 16 * 1024];
            let mut input_open = true;
            let mut status = 0;
            let mut exited = false;
            loop {
                if RESIZED.swap(false, Ordering::SeqCst) {
                    copy_window_size(0, master);
                }
                if !exited && libc::waitpid(child, &mut status, libc::WNOHANG) == child {
                    exited = true;
                    // Whatever it wrote last is still to be read.
                    libc::fcntl(master, libc::F_SETFL, libc::O_NONBLOCK);
                }
                let mut fds = [
                    libc::pollfd {
                        fd: master,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: if input_open { 0 } else { -1 },
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                let ready = libc::poll(fds.as_mut_ptr(), 2, if exited { 0 } else { 100 });
                if ready < 0 {
                    continue;
                }
                if fds[0].revents != 0 {
                    let n = libc::read(master, buf.as_mut_ptr().cast(), buf.len());
                    if n > 0 {
                        write_all(1, &buf[..n as usize]);
                        continue;
                    }
                    // EIO: the last holder of the pty's other end is gone,
                    // so the command has ended or is about to.
                    if !exited {
                        status = wait(child);
                        exited = true;
                    }
                    break;
                } else if exited {
                    break;
                }
                if input_open && fds[1].revents != 0 {
                    let n = libc::read(0, buf.as_mut_ptr().cast(), buf.len());
                    if n > 0 {
                        write_all(master, &buf[..n as usize]);
                    } else {
                        input_open = false;
                    }
                }
            }
            if !exited {
                return wait(child);
            }
            status
        }
    }
}

/// The window size of one terminal onto another.
fn copy_window_size(from: libc::c_int, to: libc::c_int) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a winsize.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &size);
        }
    }
}

fn write_all(fd: libc::c_int, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: write from a live slice.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

/// In the container: session, directory, capabilities, user, exec.
fn run_child(request: &Request) -> ! {
    // SAFETY: process attributes of this (single-threaded, forked) child;
    // ioctl on our own stdin.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() == 1 {
            libc::_exit(137);
        }
        if request.tty {
            // Lead a session inside the pod's PID namespace and take the
            // terminal over: shells with job control look up their
            // process group here.
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 1);
        }
    }
    let workdir = CString::new(request.workdir.as_str()).unwrap_or_else(|_| c"/".into());
    // SAFETY: chdir on a NUL-terminated string.
    if unsafe { libc::chdir(workdir.as_ptr()) } != 0 {
        let e = std::io::Error::last_os_error();
        fail(
            126,
            &format!(
                "exec failed: chdir to cwd ({:?}) failed: {}",
                request.workdir,
                lower_first(&e)
            ),
        );
    }
    if let Some(caps) = request.capabilities {
        let security = Security {
            capabilities: CapSet(caps),
            no_new_privs: request.no_new_privs,
            ..Security::default()
        };
        // SAFETY: system calls only.
        if let Err(e) = unsafe { security.drop_capabilities(super::security::last_cap()) } {
            fail(126, &format!("exec failed: dropping capabilities: {e}"));
        }
    }
    let credentials = Credentials::new(request.user, request.group, &request.groups);
    // SAFETY: system calls only.
    if let Err(e) = unsafe { credentials.apply() } {
        fail(
            126,
            &format!("exec failed: changing to the container's user: {e}"),
        );
    }
    if request.no_new_privs {
        // SAFETY: prctl with integers.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    }
    let argv: Vec<CString> = request
        .argv
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_default())
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: execvp with NUL-terminated strings and a null-ended array;
    // the environment is ours (the container's).
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    let e = std::io::Error::last_os_error();
    let program = &request.argv[0];
    match e.kind() {
        std::io::ErrorKind::NotFound => fail(
            127,
            &format!("exec: \"{program}\": executable file not found in $PATH"),
        ),
        std::io::ErrorKind::PermissionDenied => {
            fail(126, &format!("exec: \"{program}\": permission denied"))
        }
        _ => fail(126, &format!("exec: \"{program}\": {}", lower_first(&e))),
    }
}

/// An OS error as Go prints it ("no such file or directory").
fn lower_first(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_its_command_line() {
        let r = Request {
            pid: 42,
            start_time: 123456,
            user: Some(1000),
            group: Some(1000),
            groups: vec![5, 6],
            capabilities: Some(0xa80425fb),
            no_new_privs: true,
            cgroups: vec![PathBuf::from("/sys/fs/cgroup/memory/x/cgroup.procs")],
            workdir: "/var/lib/data".into(),
            tty: true,
            argv: vec!["sh".into(), "-c".into(), "echo --pid=1 -- x".into()],
        };
        assert_eq!(Request::parse(&r.args()).unwrap(), r);
        let minimal = Request {
            pid: 1,
            workdir: "/".into(),
            argv: vec!["true".into()],
            ..Default::default()
        };
        assert_eq!(Request::parse(&minimal.args()).unwrap(), minimal);
        assert!(Request::parse(&["--pid=1".into(), "--".into()]).is_err());
        assert!(Request::parse(&["--bogus".into(), "--".into(), "x".into()]).is_err());
    }

    #[test]
    fn our_own_start_time_is_read_and_stable() {
        let me = std::process::id();
        let t = start_time(me).expect("start time");
        assert_eq!(start_time(me), Some(t));
        assert_eq!(start_time(u32::MAX - 1), None);
    }

    #[test]
    fn errors_read_as_go_prints_them() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(lower_first(&e), "no such file or directory");
    }
}
