//! Container runtimes: how a pod's sandbox and containers come to exist.
//!
//! The pod workers ([`crate::pod`]) decide *what* runs; a `Runtime`
//! makes it so. The implementation is [`process`]: every container is a
//! process started straight from the agent (no shim), inside Linux
//! namespaces when the agent runs as root, with its image as its root
//! filesystem (`rootfs`), its capabilities and user (`security`) and
//! commands run inside it later through [`enter`]. A CRI runtime
//! (containerd) would be a second implementation of the same trait.

pub mod cgroups;
pub(crate) mod direct;
pub mod enter;
mod launch;
pub(crate) mod passwd;
pub mod pause;
pub mod process;
pub(crate) mod rootfs;
pub(crate) mod security;
mod spawner;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

pub(crate) use rootfs::{Bind, Source};
pub(crate) use security::Security;

/// Where a container's files come from.
#[derive(Debug, Clone)]
pub(crate) enum RootSpec {
    /// The host's filesystem (RuntimeClass `host`): `command` is a program
    /// of this machine.
    Host,
    /// An image's layers, lowest first: their short directory names under
    /// `layers_dir` (for the overlay mount) and full paths (for a copy).
    Image {
        layers_dir: PathBuf,
        layers: Vec<String>,
        layer_dirs: Vec<PathBuf>,
    },
}

/// What a pod sandbox is made from.
#[derive(Debug, Clone)]
pub(crate) struct SandboxSpec {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// The hostname inside the pod (spec.hostname or the pod name).
    pub hostname: String,
    pub host_network: bool,
    /// The pod's directory on the node.
    pub dir: PathBuf,
    /// The pod's cgroup limits (the sum of its containers', its pids cap).
    pub limits: cgroups::PodLimits,
}

/// One container instance to start.
#[derive(Debug, Clone)]
pub(crate) struct ContainerSpec {
    pub name: String,
    /// `command` + `args`, variables expanded.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub user: Option<u32>,
    pub group: Option<u32>,
    pub supplemental_groups: Vec<u32>,
    /// Volumes and the pod files (`/etc/hosts`…), in container paths.
    pub binds: Vec<Bind>,
    /// Pod files laid over the root: (container path, host file), e.g.
    /// `/etc/hosts` and the termination-message file.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// The CRI-format log file of this instance.
    pub log: PathBuf,
    pub root: RootSpec,
    pub security: Security,
    /// Which instance of the container this is (its restart count).
    pub instance: u32,
    pub limits: cgroups::ContainerLimits,
    /// `stdin`, `stdinOnce`, `tty` of the container: input kept open for
    /// `kubectl attach`, and a terminal.
    pub stdin: bool,
    pub stdin_once: bool,
    pub tty: bool,
}

/// How a container instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    /// The exit code, or 128 + signal as container runtimes report it.
    pub code: i32,
    pub signal: Option<i32>,
    pub at: jiff::Timestamp,
    /// The kernel killed it (or a process of it) for going over its
    /// memory limit: reason `OOMKilled`.
    pub oom_killed: bool,
}

impl Exit {
    pub fn from_status(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        let signal = status.signal();
        Exit {
            code: status.code().unwrap_or_else(|| 128 + signal.unwrap_or(0)),
            signal,
            at: jiff::Timestamp::now(),
            oom_killed: false,
        }
    }
}

/// A started container instance.
#[derive(Clone)]
pub(crate) struct Process {
    /// Runtime-assigned ID (`containerID` in the pod status).
    pub id: String,
    /// The process ID on the host.
    pub pid: u32,
    pub started_at: jiff::Timestamp,
    /// `None` while it runs; the exit once it has ended (and been reaped).
    pub exit: watch::Receiver<Option<Exit>>,
    signaller: Arc<dyn Fn(i32) + Send + Sync>,
    /// The instance's log (ended once the instance has).
    pub log: crate::logs::ContainerLog,
    /// How to run commands inside it (`None` in host mode, where they are
    /// plain host processes).
    pub enter: Option<Arc<enter::Request>>,
    /// Its standard streams, for `kubectl attach`.
    pub console: Option<crate::console::Console>,
    /// How probes and hooks run commands inside it without a helper
    /// (`None` where there is no pod sandbox to enter).
    pub direct: Option<Arc<direct::DirectExec>>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .finish()
    }
}

impl Process {
    pub fn new(
        id: String,
        pid: u32,
        started_at: jiff::Timestamp,
        exit: watch::Receiver<Option<Exit>>,
        signaller: Arc<dyn Fn(i32) + Send + Sync>,
        log: crate::logs::ContainerLog,
    ) -> Process {
        Process {
            id,
            pid,
            started_at,
            exit,
            signaller,
            log,
            enter: None,
            console: None,
            direct: None,
        }
    }

    /// Sends `signal` to the instance (no-op once it has exited).
    pub fn signal(&self, signal: i32) {
        if self.exit.borrow().is_none() {
            (self.signaller)(signal)
        }
    }

    /// Waits for the instance to end.
    pub async fn wait(&self) -> Exit {
        let mut exit = self.exit.clone();
        loop {
            if let Some(e) = *exit.borrow_and_update() {
                return e;
            }
            if exit.changed().await.is_err() {
                // The waiter is gone; the process was reaped without a
                // recorded status, which only happens on shutdown.
                return Exit {
                    code: 137,
                    signal: Some(libc::SIGKILL),
                    at: jiff::Timestamp::now(),
                    oom_killed: false,
                };
            }
        }
    }
}

/// Why a runtime operation failed; the message is shown to users in
/// events and container statuses.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RuntimeError {
    #[error("{0}")]
    Sandbox(String),
    /// The container could not start (reason `StartError`).
    #[error("{0}")]
    Start(String),
}

/// The runtime interface the pod workers drive.
pub(crate) trait Runtime: Send + Sync + 'static {
    type Sandbox: Send + Sync + 'static;

    /// Creates the pod's sandbox (namespaces, network address, hostname).
    fn create_sandbox(
        &self,
        spec: &SandboxSpec,
    ) -> impl std::future::Future<Output = Result<Self::Sandbox, RuntimeError>> + Send;

    /// The pod's IP address.
    fn sandbox_ip(&self, sandbox: &Self::Sandbox) -> IpAddr;

    /// The sandbox's network namespace, for port forwarding; `None`: the
    /// host's.
    fn sandbox_netns(
        &self,
        _sandbox: &Self::Sandbox,
    ) -> Option<std::sync::Arc<std::os::fd::OwnedFd>> {
        None
    }

    /// Starts a container instance in the sandbox.
    fn start_container(
        &self,
        sandbox: &Self::Sandbox,
        spec: &ContainerSpec,
    ) -> impl std::future::Future<Output = Result<Process, RuntimeError>> + Send;

    /// Tears the sandbox down: every process still in it dies, its address
    /// is released. Removing it again does nothing.
    fn remove_sandbox(
        &self,
        sandbox: &Self::Sandbox,
    ) -> impl std::future::Future<Output = ()> + Send;

    /// A command that runs `argv` inside a running container (for exec
    /// probes, hooks and `kubectl exec`), with the container's environment,
    /// working directory and user. With `tty` the caller makes the command
    /// lead a session on a terminal, and `argv` must end up leading a
    /// session of its own inside the pod's PID namespace, as a runtime's
    /// exec does: shells with job control look up their process group
    /// there.
    fn exec_command(
        &self,
        sandbox: &Self::Sandbox,
        container: &Process,
        spec: &ContainerSpec,
        argv: &[String],
        tty: bool,
    ) -> std::process::Command;
}
