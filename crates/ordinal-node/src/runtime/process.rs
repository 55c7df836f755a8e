//! The process runtime: containers are host programs.
//!
//! With [`Isolation::Namespaces`] (the agent runs as root) every pod gets a
//! pause process ([`super::pause`]) that is init of a new PID namespace and
//! holds new network, UTS and IPC namespaces; the pod's address is a veth
//! on the instance's bridge ([`crate::network`]). Each container joins
//! those namespaces, gets a mount namespace of its own with the root
//! described in the `rootfs` module, and runs as a session leader so that
//! whatever it leaves behind can be killed with it.
//!
//! With [`Isolation::Host`] (not root, or asked for) containers are plain
//! host processes: no namespaces, the node's address, identity through
//! environment variables only.
//!
//! Either way every process is started by a `Spawner` thread with a
//! parent-death signal, so none outlives the agent.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncRead;
use tokio::sync::watch;

use super::launch::{Child, Launch, Output};

use super::cgroups::{Cgroups, ContainerCgroup, PodCgroup};
use super::direct::DirectExec;
use super::rootfs::{HostRoot, Layout, Plan, Root};
use super::security::Credentials;
use super::spawner::{self, PidNamespace, Spawner};
use super::{ContainerSpec, Exit, Process, RootSpec, Runtime, RuntimeError, SandboxSpec, enter};
use crate::logs::{ContainerLog, Stream};
use crate::network::Network;

/// How much a pod is separated from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// PID, network, UTS, IPC and mount namespaces per pod (needs root).
    Namespaces,
    /// Plain host processes sharing the host's network.
    Host,
}

/// Copies an image's layers (lowest first) into a directory, applying
/// whiteouts: the root of containers where overlayfs cannot be used.
pub(crate) type CopyImage =
    Arc<dyn Fn(&[PathBuf], &std::path::Path) -> std::io::Result<()> + Send + Sync>;

/// How an image becomes a container's root.
#[derive(Clone)]
pub(crate) enum Snapshotter {
    /// An overlay of the shared layers and a writable layer per container.
    Overlay,
    /// A private copy of the image per container (kept across its
    /// restarts), for data dirs where overlayfs cannot be used.
    Copy(CopyImage),
}

impl std::fmt::Debug for Snapshotter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Snapshotter::Overlay => "overlayfs",
            Snapshotter::Copy(_) => "copy",
        })
    }
}

pub(crate) struct ProcessRuntime {
    isolation: Isolation,
    spawner: Spawner,
    network: Option<Arc<Network>>,
    host_root: Option<HostRoot>,
    /// The `ordinal` binary, run as `internal-pause` for sandboxes and as
    /// `internal-exec` to run commands in containers.
    exe: PathBuf,
    /// The address of pods in host mode (and of host-network pods).
    node_ip: IpAddr,
    snapshotter: Snapshotter,
    /// The highest capability the kernel knows (the bounding set is
    /// dropped up to it).
    last_cap: u32,
    /// Where pods' and containers' cgroups are made.
    cgroups: Arc<Cgroups>,
}

pub(crate) struct Sandbox {
    uid: String,
    ip: IpAddr,
    /// A pidfd on the pause process (isolated pods), for joining its
    /// namespaces.
    pidfd: Option<OwnedFd>,
    /// The pause process, until the sandbox is removed.
    pause: std::sync::Mutex<Option<Child>>,
    pause_pid: Option<u32>,
    dir: PathBuf,
    attached: std::sync::atomic::AtomicBool,
    /// The pod's cgroup (a no-op where cgroups are unavailable).
    cgroup: Option<PodCgroup>,
    /// The pod's own network namespace (not with host networking).
    netns: Option<Arc<OwnedFd>>,
}

impl ProcessRuntime {
    /// `network` is required with namespaces (pods get addresses on it).
    pub fn new(
        isolation: Isolation,
        network: Option<Arc<Network>>,
        exe: PathBuf,
        node_ip: IpAddr,
        snapshotter: Snapshotter,
        cgroups: Arc<Cgroups>,
    ) -> std::io::Result<ProcessRuntime> {
        let host_root = match isolation {
            Isolation::Namespaces => Some(HostRoot::scan()?),
            Isolation::Host => None,
        };
        Ok(ProcessRuntime {
            isolation,
            spawner: Spawner::start()?,
            network,
            host_root,
            exe,
            node_ip,
            snapshotter,
            last_cap: super::security::last_cap(),
            cgroups,
        })
    }

    /// The mount plan of a container: its root (the host's, an overlay of
    /// its image, or a copy of it) under `<pod>/containers/<name>/`, then
    /// the pod's files and the volumes.
    async fn plan(
        &self,
        sandbox: &Sandbox,
        spec: &ContainerSpec,
        host_root: &HostRoot,
        workdir: &str,
    ) -> Result<Plan, RuntimeError> {
        let dir = sandbox.dir.join("containers").join(&spec.name);
        let tmp = sandbox.dir.join("tmp");
        let io = |what: &std::path::Path, e: std::io::Error| {
            RuntimeError::Start(format!("creating {}: {e}", what.display()))
        };
        let (root, mount_point) = match (&spec.root, &self.snapshotter) {
            (RootSpec::Host, _) => (Root::Host(host_root.clone()), dir.join("root")),
            (
                RootSpec::Image {
                    layers_dir, layers, ..
                },
                Snapshotter::Overlay,
            ) => {
                let (upper, work) = (dir.join("upper"), dir.join("work"));
                for d in [&upper, &work] {
                    std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
                }
                let root = Root::Overlay {
                    layers_dir: layers_dir.clone(),
                    layers: layers.clone(),
                    upper,
                    work,
                };
                (root, dir.join("rootfs"))
            }
            (RootSpec::Image { layer_dirs, .. }, Snapshotter::Copy(copy)) => {
                let target = dir.join("copy");
                if !target.exists() {
                    let staging = dir.join("copy.partial");
                    let _ = std::fs::remove_dir_all(&staging);
                    let (copy, layers, from, to) = (
                        Arc::clone(copy),
                        layer_dirs.clone(),
                        staging.clone(),
                        target.clone(),
                    );
                    tokio::task::spawn_blocking(move || {
                        std::fs::create_dir_all(&from)?;
                        copy(&layers, &from)?;
                        std::fs::rename(&from, &to)
                    })
                    .await
                    .map_err(|e| RuntimeError::Start(e.to_string()))?
                    .map_err(|e| {
                        RuntimeError::Start(format!("copying the image for the container: {e}"))
                    })?;
                }
                (Root::Copy(target), dir.join("rootfs"))
            }
        };
        for d in [&mount_point, &tmp] {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        let layout = Layout {
            root,
            mount_point: &mount_point,
            tmp: &tmp,
            files: &spec.files,
            working_dir: std::path::Path::new(workdir),
            privileged: spec.security.privileged,
            read_only_root: spec.security.read_only_root,
        };
        Plan::build(&layout, &spec.binds).map_err(|e| RuntimeError::Start(e.to_string()))
    }

    async fn spawn_pause(
        &self,
        spec: &SandboxSpec,
        cgroup: Vec<OwnedFd>,
    ) -> Result<(Child, OwnedFd), RuntimeError> {
        let mut command = Launch::new(&self.exe);
        command
            .arg0("ordinal-pause")
            .arg("internal-pause")
            .arg(format!("{}/{}", spec.namespace, spec.name))
            .kill_on_drop(true);
        let hostname = std::ffi::CString::new(spec.hostname.clone())
            .map_err(|_| RuntimeError::Sandbox("hostname contains a NUL byte".into()))?;
        let mut flags = libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
        let host_network = spec.host_network;
        if !host_network {
            flags |= libc::CLONE_NEWNET;
        }
        // SAFETY: the closure makes only system calls on prepared data.
        unsafe {
            command.pre_exec(move || {
                check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                join_cgroup(&cgroup)?;
                check(libc::unshare(flags))?;
                if !host_network {
                    no_ipv6_on_new_links();
                }
                check(libc::sethostname(
                    hostname.as_ptr(),
                    hostname.as_bytes().len(),
                ))?;
                Ok(())
            });
        }
        let child = self
            .spawner
            .spawn(command, PidNamespace::New)
            .await
            .map_err(|e| RuntimeError::Sandbox(format!("starting the pod sandbox: {e}")))?;
        let pidfd = spawner::pidfd(child.id())
            .map_err(|e| RuntimeError::Sandbox(format!("pidfd of the sandbox: {e}")))?;
        Ok((child, pidfd))
    }
}

/// In a new network namespace, before the pod's `eth0` exists: links made
/// from now on have no IPv6. Pod addresses are IPv4 and the interface's
/// link-local address would only cost: its duplicate address detection
/// and multicast reports are flooded to every port of the bridge, so a
/// thousand pods starting spent a tenth of the machine's CPU on them. `lo`
/// already exists and keeps `::1`. Best effort (a kernel without IPv6 has
/// no such file); system calls only, for a child before `exec`.
fn no_ipv6_on_new_links() {
    let path = c"/proc/sys/net/ipv6/conf/default/disable_ipv6";
    // SAFETY: open, write and close on a NUL-terminated path and a static
    // buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::write(fd, b"1".as_ptr().cast(), 1);
            libc::close(fd);
        }
    }
}

pub(super) fn check(r: i32) -> std::io::Result<()> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// What the user sees when a container cannot start: the step that
/// failed (a mount, the root) and why, or exec's own errors.
pub(crate) fn start_error(program: &str, e: &std::io::Error, step: Option<&str>) -> String {
    if let Some(step) = step {
        return format!("failed to create the container: {step}: {}", os_text(e));
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("exec: \"{program}\": executable file not found in $PATH")
        }
        std::io::ErrorKind::PermissionDenied => format!("exec: \"{program}\": permission denied"),
        _ => format!("exec: \"{program}\": {}", os_text(e)),
    }
}

/// An OS error without Rust's "(os error N)" suffix.
fn os_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error")
        .next()
        .unwrap_or(&text)
        .to_lowercase()
}

/// Waits for a container's process, then ends what it leaves: its
/// session's processes, everything in its cgroup (commands run in it with
/// `kubectl exec` too, as runc kills them), its log; and reports how it
/// ended (`OOMKilled` when the kernel killed it for its memory limit).
///
/// The exit is reported once what is left has been sent SIGKILL and its
/// output has ended (the pipes close as those processes die), as
/// containerd's shim reports an exit after killing the rest: not after
/// the killed processes have been reaped and the cgroup removed, which
/// happens next and took 2.8 ms at the median of a 100-pod in-place
/// update, a restart's longest wait after the container's own exit. A
/// pod's teardown still waits for its whole cgroup to empty.
async fn reap(
    mut child: Child,
    pidfd: Arc<Option<OwnedFd>>,
    cgroup: Option<ContainerCgroup>,
    pumps: [tokio::task::JoinHandle<()>; 2],
    log: ContainerLog,
    report: watch::Sender<Option<Exit>>,
) {
    let pid = child.id();
    let status = child.wait().await;
    // The session the container led goes with it, as a container's PID
    // namespace would.
    // SAFETY: kill of a process group we created (setsid).
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let oom_killed = match &cgroup {
        Some(cgroup) => {
            let oom = cgroup.oom_killed();
            let rest = cgroup.clone();
            let killed = tokio::task::spawn_blocking(move || rest.kill()).await;
            if let Ok(Err(e)) = killed {
                tracing::debug!(error = %e, "killing what a container left failed");
            }
            oom
        }
        None => false,
    };
    for p in pumps {
        let _ = p.await;
    }
    log.end();
    let exit = match status {
        Ok(s) => Exit {
            oom_killed,
            ..Exit::from_status(s)
        },
        Err(_) => Exit {
            code: 137,
            signal: Some(libc::SIGKILL),
            at: jiff::Timestamp::now(),
            oom_killed: false,
        },
    };
    drop(pidfd);
    let _ = report.send(Some(exit));
    if let Some(cgroup) = cgroup {
        remove_cgroup(cgroup).await;
    }
}

/// Joins the cgroups behind these descriptors ([`ContainerCgroup::join_fds`]): one write
/// each, no allocation (for a child before `exec`).
pub(super) fn join_cgroup(fds: &[OwnedFd]) -> std::io::Result<()> {
    for fd in fds {
        // SAFETY: write of a static byte to a descriptor we hold.
        if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Removes a cgroup (killing what is left in it) off the async workers.
async fn remove_cgroup<C: RemoveCgroup>(cgroup: C) {
    let removed = tokio::task::spawn_blocking(move || cgroup.remove_now()).await;
    if let Ok(Err(e)) = removed {
        tracing::debug!(error = %e, "removing a cgroup failed");
    }
}

/// Pod and container cgroups, removed alike.
trait RemoveCgroup: Send + 'static {
    fn remove_now(&self) -> std::io::Result<()>;
}

impl RemoveCgroup for PodCgroup {
    fn remove_now(&self) -> std::io::Result<()> {
        self.remove()
    }
}

impl RemoveCgroup for ContainerCgroup {
    fn remove_now(&self) -> std::io::Result<()> {
        self.remove()
    }
}

/// A fresh container ID.
fn container_id() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes into the buffer it is given.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        let t = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
        bytes.copy_from_slice(&t);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Runtime for ProcessRuntime {
    type Sandbox = Sandbox;

    async fn create_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, RuntimeError> {
        if self.isolation == Isolation::Host {
            return Ok(Sandbox {
                uid: spec.uid.clone(),
                ip: self.node_ip,
                pidfd: None,
                pause: std::sync::Mutex::new(None),
                pause_pid: None,
                dir: spec.dir.clone(),
                attached: false.into(),
                cgroup: None,
                netns: None,
            });
        }
        let cgroup = self
            .cgroups
            .pod(&spec.uid, &spec.limits)
            .map_err(|e| RuntimeError::Sandbox(format!("creating the pod's cgroup: {e}")))?;
        let joined = cgroup
            .sandbox()
            .and_then(|c| c.join_fds())
            .map_err(|e| RuntimeError::Sandbox(format!("creating the pod's cgroup: {e}")));
        let joined = match joined {
            Ok(fds) => fds,
            Err(e) => {
                remove_cgroup(cgroup).await;
                return Err(e);
            }
        };
        let (child, pidfd) = match self.spawn_pause(spec, joined).await {
            Ok(started) => started,
            Err(e) => {
                remove_cgroup(cgroup).await;
                return Err(e);
            }
        };
        let pid = child.id();
        let mut sandbox = Sandbox {
            uid: spec.uid.clone(),
            ip: self.node_ip,
            pidfd: Some(pidfd),
            pause: std::sync::Mutex::new(Some(child)),
            pause_pid: Some(pid),
            dir: spec.dir.clone(),
            attached: false.into(),
            cgroup: Some(cgroup),
            netns: None,
        };
        if !spec.host_network {
            let network = self
                .network
                .as_ref()
                .ok_or_else(|| RuntimeError::Sandbox("no pod network is configured".into()))?;
            let netns = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(|e| {
                RuntimeError::Sandbox(format!("opening the pod's network namespace: {e}"))
            });
            let attached = match netns {
                Ok(netns) => {
                    let attached = network
                        .attach(&spec.uid, std::os::fd::AsFd::as_fd(&netns))
                        .await
                        .map_err(|e| {
                            RuntimeError::Sandbox(format!("setting up the pod network: {e}"))
                        });
                    sandbox.netns = Some(Arc::new(OwnedFd::from(netns)));
                    attached
                }
                Err(e) => Err(e),
            };
            match attached {
                Ok(ip) => {
                    sandbox.ip = IpAddr::V4(ip);
                    sandbox.attached = true.into();
                }
                Err(e) => {
                    self.remove_sandbox(&sandbox).await;
                    return Err(e);
                }
            }
        }
        Ok(sandbox)
    }

    fn sandbox_ip(&self, sandbox: &Sandbox) -> IpAddr {
        sandbox.ip
    }

    fn sandbox_netns(&self, sandbox: &Sandbox) -> Option<Arc<OwnedFd>> {
        sandbox.netns.clone()
    }

    async fn start_container(
        &self,
        sandbox: &Sandbox,
        spec: &ContainerSpec,
    ) -> Result<Process, RuntimeError> {
        let Some(program) = spec.argv.first() else {
            return Err(RuntimeError::Start("no command to run".into()));
        };
        let mut command = Launch::new(program);
        command
            .args(&spec.argv[1..])
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        // Its standard streams: a terminal (`tty`), or pipes for output
        // and, with `stdin`, one for input the node keeps open.
        let io = StdStreams::for_spec(spec, &mut command)?;
        let tty = spec.tty;
        let workdir = spec.working_dir.clone().unwrap_or_else(|| "/".to_string());
        // Checked before anything is made: the child changes to it (host
        // mode), and so do commands run in the container.
        let workdir_c = std::ffi::CString::new(workdir.as_str())
            .map_err(|_| RuntimeError::Start("workingDir contains a NUL byte".into()))?;
        let creds = Credentials::new(spec.user, spec.group, &spec.supplemental_groups);
        let security = spec.security;
        let last_cap = self.last_cap;
        let mut plan_used = None;
        let cgroup = match &sandbox.cgroup {
            Some(pod) => Some(
                pod.container(&spec.name, spec.instance, &spec.limits)
                    .map_err(|e| {
                        RuntimeError::Start(format!("creating the container's cgroup: {e}"))
                    })?,
            ),
            None => None,
        };
        let cgroup_fds = match &cgroup {
            Some(c) => c
                .join_fds()
                .map_err(|e| RuntimeError::Start(format!("joining the container's cgroup: {e}")))?,
            None => Vec::new(),
        };
        let namespace = match (&sandbox.pidfd, &self.host_root) {
            (Some(pidfd), Some(host_root)) => {
                let plan = Arc::new(self.plan(sandbox, spec, host_root, &workdir).await?);
                plan_used = Some(Arc::clone(&plan));
                let join = spawner::dup(pidfd).map_err(|e| RuntimeError::Start(e.to_string()))?;
                let ns_fd = join
                    .try_clone()
                    .map_err(|e| RuntimeError::Start(e.to_string()))?;
                // SAFETY: the closure makes only system calls on data
                // prepared above (the plan's strings, the pidfd).
                unsafe {
                    command.pre_exec(move || {
                        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                        join_cgroup(&cgroup_fds)?;
                        check(libc::setns(
                            ns_fd.as_raw_fd(),
                            libc::CLONE_NEWNET | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC,
                        ))?;
                        plan.enter()?;
                        check(libc::setsid())?;
                        if tty {
                            check(libc::ioctl(0, libc::TIOCSCTTY as _, 0))?;
                        }
                        security.drop_capabilities(last_cap)?;
                        creds.apply()?;
                        security.seal()?;
                        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                        Ok(())
                    });
                }
                PidNamespace::Join(join)
            }
            _ => {
                let dir = workdir_c.clone();
                // SAFETY: only system calls on prepared data.
                unsafe {
                    command.pre_exec(move || {
                        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                        check(libc::setsid())?;
                        if tty {
                            check(libc::ioctl(0, libc::TIOCSCTTY as _, 0))?;
                        }
                        creds.apply()?;
                        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                        check(libc::chdir(dir.as_ptr()))
                    });
                }
                PidNamespace::Host
            }
        };
        let mut child = match self.spawner.spawn(command, namespace).await {
            Ok(child) => child,
            Err(e) => {
                if let Some(cgroup) = cgroup {
                    remove_cgroup(cgroup).await;
                }
                return Err(RuntimeError::Start(start_error(
                    program,
                    &e,
                    plan_used.as_deref().and_then(Plan::describe_failure),
                )));
            }
        };
        let started_at = jiff::Timestamp::now();
        let pid = child.id();
        let pidfd = Arc::new(spawner::pidfd(pid).ok());
        let (report, exit) = watch::channel(None);
        let log = ContainerLog::create(&spec.log).map_err(|e| {
            RuntimeError::Start(format!("opening the log {}: {e}", spec.log.display()))
        })?;
        let (console, terminal) = io.into_console();
        let pumps = match &terminal {
            Some(master) => [
                pump(
                    Some(console.tee(master.clone(), crate::console::STDOUT)),
                    log.clone(),
                    Stream::Stdout,
                ),
                pump(None::<tokio::io::Empty>, log.clone(), Stream::Stderr),
            ],
            None => [
                pump(
                    child
                        .stdout
                        .take()
                        .map(|r| console.tee(r, crate::console::STDOUT)),
                    log.clone(),
                    Stream::Stdout,
                ),
                pump(
                    child
                        .stderr
                        .take()
                        .map(|r| console.tee(r, crate::console::STDERR)),
                    log.clone(),
                    Stream::Stderr,
                ),
            ],
        };
        tokio::spawn(reap(
            child,
            Arc::clone(&pidfd),
            cgroup.clone(),
            pumps,
            log.clone(),
            report,
        ));
        let container_pidfd = Arc::clone(&pidfd);
        let signaller = Arc::new(move |sig: i32| {
            // Through the pidfd we hold: never to a recycled PID.
            if let Some(fd) = pidfd.as_ref() {
                let _ = super::launch::send_signal(fd, sig);
            }
        });
        let mut process = Process::new(container_id(), pid, started_at, exit, signaller, log);
        process.console = Some(console);
        if sandbox.pause_pid.is_some() {
            let join_files = cgroup
                .as_ref()
                .map(ContainerCgroup::join_files)
                .unwrap_or_default();
            process.direct = Some(Arc::new(DirectExec {
                spawner: self.spawner.clone(),
                container: container_pidfd,
                cgroups: join_files.clone(),
                workdir: workdir_c,
                env: spec.env.clone(),
                security: spec.security,
                credentials: creds,
                last_cap: self.last_cap,
            }));
            process.enter = Some(Arc::new(enter::Request {
                pid,
                start_time: enter::start_time(pid).unwrap_or(0),
                user: spec.user,
                group: creds.group,
                groups: creds.supplemental().to_vec(),
                capabilities: Some(spec.security.capabilities.0),
                no_new_privs: spec.security.no_new_privs,
                cgroups: join_files,
                workdir,
                tty: false,
                argv: Vec::new(),
            }));
        }
        Ok(process)
    }

    async fn remove_sandbox(&self, sandbox: &Sandbox) {
        let pause = sandbox
            .pause
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut child) = pause {
            // The pause process is init of the pod's PID namespace: with it
            // goes every process left in the pod, then the namespaces (and
            // the veth inside the network namespace).
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        if sandbox
            .attached
            .swap(false, std::sync::atomic::Ordering::SeqCst)
            && let Some(network) = &self.network
        {
            network.release(&sandbox.uid).await;
        }
        if let Some(cgroup) = &sandbox.cgroup {
            remove_cgroup(cgroup.clone()).await;
        }
    }

    fn exec_command(
        &self,
        _sandbox: &Sandbox,
        container: &Process,
        spec: &ContainerSpec,
        argv: &[String],
        tty: bool,
    ) -> std::process::Command {
        let mut command = match &container.enter {
            Some(request) => {
                let request = enter::Request {
                    tty,
                    argv: argv.to_vec(),
                    ..(**request).clone()
                };
                request.command(&self.exe)
            }
            None => {
                let workdir = spec.working_dir.clone().unwrap_or_else(|| "/".to_string());
                let mut c =
                    std::process::Command::new(argv.first().map(String::as_str).unwrap_or("true"));
                c.args(argv.iter().skip(1)).current_dir(&workdir);
                use std::os::unix::process::CommandExt;
                if let Some(uid) = spec.user {
                    c.uid(uid);
                }
                if let Some(gid) = spec.group {
                    c.gid(gid);
                }
                c
            }
        };
        command
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        command
    }
}

/// A container's standard streams as the node holds them.
struct StdStreams {
    terminal: Option<crate::server::pty::PtyMaster>,
    stdin: Option<tokio::net::unix::pipe::Sender>,
    stdin_once: bool,
}

impl StdStreams {
    /// Sets up `command`'s streams for `spec`.
    fn for_spec(spec: &ContainerSpec, command: &mut Launch) -> Result<StdStreams, RuntimeError> {
        let failed = |e: std::io::Error| RuntimeError::Start(format!("setting up stdio: {e}"));
        if spec.tty {
            let (master, terminal) = crate::server::pty::open().map_err(failed)?;
            command.terminal(terminal);
            return Ok(StdStreams {
                terminal: Some(master),
                stdin: None,
                stdin_once: spec.stdin_once,
            });
        }
        command.stdout(Output::Pipe).stderr(Output::Pipe);
        let mut stdin = None;
        if spec.stdin {
            let mut fds = [0i32; 2];
            // SAFETY: pipe2 fills the array with two fresh descriptors.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                return Err(failed(std::io::Error::last_os_error()));
            }
            // SAFETY: fresh descriptors owned from here on.
            let (read, write) =
                unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            command.stdin(read);
            stdin = Some(tokio::net::unix::pipe::Sender::from_owned_fd(write).map_err(failed)?);
        }
        Ok(StdStreams {
            terminal: None,
            stdin,
            stdin_once: spec.stdin_once,
        })
    }

    /// The console over these streams (input only with `stdin: true` or
    /// a terminal), and the terminal's master to read output from.
    fn into_console(
        self,
    ) -> (
        crate::console::Console,
        Option<crate::server::pty::PtyMaster>,
    ) {
        let input: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>> =
            match (&self.terminal, self.stdin) {
                (Some(master), _) => Some(Box::new(master.clone())),
                (None, Some(pipe)) => Some(Box::new(pipe)),
                (None, None) => None,
            };
        let console = crate::console::Console::new(input, self.stdin_once, self.terminal.clone());
        (console, self.terminal)
    }
}

/// Copies one output stream of a container into its log.
fn pump(
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
    log: ContainerLog,
    kind: Stream,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Some(stream) = stream
            && let Err(e) = log.pump(kind, stream).await
        {
            tracing::debug!(error = %e, log = %log.path().display(), "writing a container log failed");
        }
    })
}
