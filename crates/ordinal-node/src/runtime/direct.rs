//! Exec probes and hooks without a helper: the command is started by the
//! spawner straight into a running container, as the container itself
//! was.
//!
//! `kubectl exec` goes through `ordinal internal-exec` ([`super::enter`]),
//! which relays a terminal and forwards signals. A probe needs neither, and
//! starting that helper (the whole `ordinal` binary, then a fork inside the
//! container) cost about 4 ms of CPU a probe: with a hundred pods probed
//! every second, a quarter of a two-core machine. Here the spawner clones the
//! command into the container's PID namespace, and between clone and exec
//! the child joins the container's cgroups, enters its mount, UTS, IPC and
//! network namespaces through the container's pidfd (its root and working
//! directory become the container's; a pidfd never names a recycled
//! process), changes to the container's working directory and takes the
//! container's capabilities, user and seccomp filter — the steps a
//! runtime's exec takes — then execs the command found on the container's
//! `PATH`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::launch::{Launch, Output};
use super::process::check;
use super::security::{Credentials, Security};
use super::spawner::{self, PidNamespace, Spawner};

/// How to run commands inside one running container.
pub(crate) struct DirectExec {
    pub spawner: Spawner,
    /// The container's process (its namespaces are entered through it).
    pub container: Arc<Option<OwnedFd>>,
    /// The container's cgroup join files
    /// ([`super::cgroups::ContainerCgroup::join_files`]).
    pub cgroups: Vec<PathBuf>,
    pub workdir: CString,
    pub env: Vec<(String, String)>,
    pub security: Security,
    pub credentials: Credentials,
    pub last_cap: u32,
}

/// What a finished command left.
#[derive(Debug)]
pub(crate) struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl DirectExec {
    /// Runs `argv` inside the container and waits for it, collecting its
    /// output. Dropping the future kills the command.
    pub async fn run(&self, argv: &[String]) -> io::Result<Finished> {
        let Some(program) = argv.first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command"));
        };
        let Some(container) = self.container.as_ref() else {
            return Err(io::Error::other("the container is not running"));
        };
        let join: Vec<OwnedFd> = self
            .cgroups
            .iter()
            .map(|file| std::fs::OpenOptions::new().write(true).open(file))
            .collect::<io::Result<Vec<_>>>()
            .map(|files| files.into_iter().map(OwnedFd::from).collect())?;
        let namespaces = spawner::dup(container)?;
        let pid_namespace = spawner::dup(container)?;
        let mut command = Launch::new(program);
        command
            .args(&argv[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Output::Pipe)
            .stderr(Output::Pipe)
            .kill_on_drop(true);
        let (workdir, security, credentials, last_cap) = (
            self.workdir.clone(),
            self.security,
            self.credentials,
            self.last_cap,
        );
        // SAFETY: the closure makes only system calls on data prepared
        // above (descriptors, a C string, plain values).
        unsafe {
            command.pre_exec(move || {
                check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                super::process::join_cgroup(&join)?;
                check(libc::setns(
                    namespaces.as_raw_fd(),
                    libc::CLONE_NEWNS
                        | libc::CLONE_NEWUTS
                        | libc::CLONE_NEWIPC
                        | libc::CLONE_NEWNET,
                ))?;
                check(libc::chdir(workdir.as_ptr()))?;
                security.drop_capabilities(last_cap)?;
                credentials.apply()?;
                security.seal()?;
                check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                Ok(())
            });
        }
        let mut child = self
            .spawner
            .spawn(command, PidNamespace::Join(pid_namespace))
            .await?;
        let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(r) = out.as_mut() {
                r.read_to_end(&mut stdout).await?;
            }
            io::Result::Ok(())
        };
        let read_err = async {
            if let Some(r) = err.as_mut() {
                r.read_to_end(&mut stderr).await?;
            }
            io::Result::Ok(())
        };
        let (status, read_out, read_err) = tokio::join!(child.wait(), read_out, read_err);
        read_out?;
        read_err?;
        Ok(Finished {
            status: status?,
            stdout,
            stderr,
        })
    }
}
