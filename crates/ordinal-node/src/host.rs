//! A [`StreamingRuntime`] whose containers are plain host processes: no
//! namespaces, the container's `command` + `args` run as they are, with its
//! plain `env` values and `workingDir`. It serves tests of the streaming
//! path, and the unprivileged host mode.
//!
//! Each start of a container is a new instance with a log file of its own,
//! `<root>/<namespace>_<pod>_<uid>/<container>/<n>.log` (the kubelet's
//! layout), written by `ContainerLog`; the instance before the current
//! one serves `--previous`. Instances run in a process group of their own,
//! killed whole when the instance is stopped.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::sync::watch;

use crate::logs::{ContainerLog, Follower, Stream};
use crate::streaming::{ContainerError, LogSource, StreamingRuntime};

/// The state of a container, as far as streams care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// Not started (yet), with the waiting reason.
    Waiting(String),
    /// The current instance's process has not exited.
    Running,
    /// The last instance exited.
    Exited(i32),
}

struct Instance {
    log: ContainerLog,
    pid: Option<u32>,
}

struct HostContainer {
    spec: Container,
    state: HostState,
    instances: Vec<Instance>,
    /// Tells waiters about state changes.
    changes: watch::Sender<u64>,
}

struct HostPod {
    uid: String,
    containers: BTreeMap<String, HostContainer>,
}

/// Containers as host processes.
pub struct HostRuntime {
    root: PathBuf,
    pods: Arc<Mutex<HashMap<(String, String), HostPod>>>,
}

fn container_of<'a>(
    pods: &'a mut HashMap<(String, String), HostPod>,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<&'a mut HostContainer, ContainerError> {
    pods.get_mut(&(namespace.to_string(), pod.to_string()))
        .ok_or(ContainerError::PodNotFound)?
        .containers
        .get_mut(container)
        .ok_or(ContainerError::ContainerNotFound)
}

fn exit_code(status: ExitStatus) -> i32 {
    crate::server::exec::exit_code(status)
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: signals a process group this runtime started.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

impl HostRuntime {
    /// A runtime keeping its log files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> HostRuntime {
        HostRuntime {
            root: root.into(),
            pods: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), HostPod>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes on a pod: its init and app containers, all waiting with
    /// reason `ContainerCreating` until started.
    pub fn add_pod(&self, pod: &Pod) {
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut containers = BTreeMap::new();
        if let Some(spec) = &pod.spec {
            let all = spec
                .init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter());
            for c in all {
                containers.insert(
                    c.name.clone(),
                    HostContainer {
                        spec: c.clone(),
                        state: HostState::Waiting("ContainerCreating".into()),
                        instances: Vec::new(),
                        changes: watch::channel(0).0,
                    },
                );
            }
        }
        self.lock()
            .insert((namespace, name), HostPod { uid, containers });
    }

    /// Forgets a pod, killing what of it runs.
    #[cfg(test)]
    pub(crate) fn remove_pod(&self, namespace: &str, pod: &str) {
        if let Some(removed) = self
            .lock()
            .remove(&(namespace.to_string(), pod.to_string()))
        {
            for c in removed.containers.values() {
                if c.state == HostState::Running {
                    c.instances
                        .iter()
                        .filter_map(|i| i.pid)
                        .for_each(kill_group);
                }
            }
        }
    }

    /// The container's state.
    pub(crate) fn state(&self, namespace: &str, pod: &str, container: &str) -> Option<HostState> {
        let mut pods = self.lock();
        container_of(&mut pods, namespace, pod, container)
            .ok()
            .map(|c| c.state.clone())
    }

    /// Starts a new instance of the container (which must not be running):
    /// its command as a host process whose output goes to a new log file.
    /// Must be called within a Tokio runtime.
    pub fn start(&self, namespace: &str, pod: &str, container: &str) -> io::Result<()> {
        let mut pods = self.lock();
        let uid = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .map(|p| p.uid.clone())
            .unwrap_or_default();
        let c = container_of(&mut pods, namespace, pod, container)
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?;
        if c.state == HostState::Running {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("container {container:?} is running"),
            ));
        }
        let argv: Vec<String> = c
            .spec
            .command
            .iter()
            .flatten()
            .chain(c.spec.args.iter().flatten())
            .cloned()
            .collect();
        let Some((program, args)) = argv.split_first() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("container {container:?} has no command"),
            ));
        };
        let path = self
            .root
            .join(format!("{namespace}_{pod}_{uid}"))
            .join(container)
            .join(format!("{}.log", c.instances.len()));
        let log = ContainerLog::create(path)?;
        let mut command = Command::new(program);
        command.args(args);
        apply_spec(&mut command, &c.spec);
        use std::os::unix::process::CommandExt;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = tokio::process::Command::from(command).spawn()?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        c.instances.push(Instance {
            log: log.clone(),
            pid,
        });
        c.state = HostState::Running;
        c.changes.send_modify(|n| *n += 1);
        let pods = Arc::clone(&self.pods);
        let key = (
            namespace.to_string(),
            pod.to_string(),
            container.to_string(),
        );
        tokio::spawn(async move {
            let out = tokio::spawn({
                let log = log.clone();
                async move { log.pump(Stream::Stdout, stdout).await }
            });
            let err = tokio::spawn({
                let log = log.clone();
                async move { log.pump(Stream::Stderr, stderr).await }
            });
            let status = child.wait().await;
            // The container's end is its process's end; output a
            // background child keeps writing is not waited for.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                let _ = out.await;
                let _ = err.await;
            })
            .await;
            log.end();
            let code = status.map(exit_code).unwrap_or(1);
            let mut pods = pods.lock().unwrap_or_else(|p| p.into_inner());
            if let Ok(c) = container_of(&mut pods, &key.0, &key.1, &key.2)
                && c.instances.last().is_some_and(|i| i.pid == pid)
            {
                c.state = HostState::Exited(code);
                c.changes.send_modify(|n| *n += 1);
            }
        });
        Ok(())
    }

    /// Kills the running instance's process group.
    #[cfg(test)]
    pub(crate) fn stop(&self, namespace: &str, pod: &str, container: &str) {
        let mut pods = self.lock();
        if let Ok(c) = container_of(&mut pods, namespace, pod, container)
            && c.state == HostState::Running
            && let Some(pid) = c.instances.last().and_then(|i| i.pid)
        {
            kill_group(pid);
        }
    }

    /// Waits until the container's state satisfies `done`.
    pub async fn wait_for(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        done: impl Fn(&HostState) -> bool,
    ) -> Result<HostState, ContainerError> {
        let mut changes = {
            let mut pods = self.lock();
            container_of(&mut pods, namespace, pod, container)?
                .changes
                .subscribe()
        };
        loop {
            if let Some(state) = self.state(namespace, pod, container)
                && done(&state)
            {
                return Ok(state);
            }
            if changes.changed().await.is_err() {
                return Err(ContainerError::PodNotFound);
            }
        }
    }
}

/// The container's working directory and plain environment values (host
/// mode resolves no `valueFrom`).
fn apply_spec(command: &mut Command, spec: &Container) {
    if let Some(dir) = spec.working_dir.as_deref().filter(|d| !d.is_empty()) {
        command.current_dir(dir);
    }
    for var in spec.env.iter().flatten() {
        if let Some(value) = &var.value {
            command.env(&var.name, value);
        }
    }
}

impl Drop for HostRuntime {
    fn drop(&mut self) {
        let pods = self.lock();
        for pod in pods.values() {
            for c in pod.containers.values() {
                if c.state == HostState::Running
                    && let Some(pid) = c.instances.last().and_then(|i| i.pid)
                {
                    kill_group(pid);
                }
            }
        }
    }
}

impl StreamingRuntime for HostRuntime {
    fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogSource, ContainerError> {
        let mut pods = self.lock();
        let c = container_of(&mut pods, namespace, pod, container)?;
        let count = c.instances.len();
        if previous {
            let instance = count
                .checked_sub(2)
                .map(|i| &c.instances[i])
                .ok_or(ContainerError::NoPrevious)?;
            return Ok(LogSource {
                path: instance.log.path().to_path_buf(),
                follower: Follower::ended(),
            });
        }
        let Some(current) = c.instances.last() else {
            return Err(match &c.state {
                HostState::Waiting(reason) => ContainerError::WaitingToStart(reason.clone()),
                _ => ContainerError::NoLogsYet,
            });
        };
        Ok(LogSource {
            path: current.log.path().to_path_buf(),
            follower: current.log.follower(),
        })
    }

    fn exec_command(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
        _tty: bool,
    ) -> Result<Command, ContainerError> {
        let mut pods = self.lock();
        let c = container_of(&mut pods, namespace, pod, container)?;
        if c.state != HostState::Running {
            return Err(ContainerError::NotRunning);
        }
        let (program, args) = command
            .split_first()
            .ok_or_else(|| ContainerError::Failed("no command".into()))?;
        let mut cmd = Command::new(program);
        cmd.args(args);
        apply_spec(&mut cmd, &c.spec);
        Ok(cmd)
    }

    fn pod_network(
        &self,
        namespace: &str,
        pod: &str,
    ) -> Result<crate::streaming::PodNetwork, ContainerError> {
        let pods = self.lock();
        let found = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .ok_or(ContainerError::PodNotFound)?;
        // Host processes share the host's network.
        Ok(crate::streaming::PodNetwork {
            sandbox: found.uid.clone(),
            netns: None,
        })
    }

    fn attach(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<crate::console::Console, ContainerError> {
        let mut pods = self.lock();
        container_of(&mut pods, namespace, pod, container)?;
        Err(ContainerError::Failed(
            "attach is not supported for host processes".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{LogOptions, reader};
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{
                "name": "app",
                "image": "none",
                "command": ["sh", "-c"],
                "args": ["echo started $GREETING; echo to-stderr >&2; exec sleep 30"],
                "env": [{"name": "GREETING", "value": "hello"}],
            }]},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn instances_logs_and_previous() {
        let dir = tempfile::tempdir().unwrap();
        let rt = HostRuntime::new(dir.path());
        rt.add_pod(&pod());
        assert_eq!(
            rt.container_log("default", "web-0", "app", false)
                .unwrap_err(),
            ContainerError::WaitingToStart("ContainerCreating".into())
        );
        assert_eq!(
            rt.container_log("default", "nope", "app", false)
                .unwrap_err(),
            ContainerError::PodNotFound
        );
        assert_eq!(
            rt.container_log("default", "web-0", "nope", false)
                .unwrap_err(),
            ContainerError::ContainerNotFound
        );
        assert_eq!(
            rt.exec_command("default", "web-0", "app", &["true".into()], false)
                .unwrap_err(),
            ContainerError::NotRunning
        );

        rt.start("default", "web-0", "app").unwrap();
        let source = rt.container_log("default", "web-0", "app", false).unwrap();
        assert!(!source.follower.is_ended());
        assert!(source.path.ends_with("default_web-0_u1/app/0.log"));
        let mut follower = source.follower.clone();
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let text = reader::read_to_vec(&source.path, LogOptions::default())
                    .await
                    .unwrap();
                if String::from_utf8_lossy(&text).contains("to-stderr") {
                    break;
                }
                follower.changed().await;
            }
        })
        .await
        .expect("the container writes its log");
        rt.stop("default", "web-0", "app");
        let state = rt
            .wait_for("default", "web-0", "app", |s| {
                matches!(s, HostState::Exited(_))
            })
            .await
            .unwrap();
        assert_eq!(state, HostState::Exited(137));
        assert!(source.follower.is_ended());
        let text = reader::read_to_vec(&source.path, LogOptions::default())
            .await
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("started hello\n"), "{text}");
        assert!(text.contains("to-stderr\n"), "{text}");

        assert_eq!(
            rt.container_log("default", "web-0", "app", true)
                .unwrap_err(),
            ContainerError::NoPrevious
        );
        rt.start("default", "web-0", "app").unwrap();
        let previous = rt.container_log("default", "web-0", "app", true).unwrap();
        assert_eq!(previous.path, source.path);
        assert!(previous.follower.is_ended());
        let mut exec = rt
            .exec_command(
                "default",
                "web-0",
                "app",
                &["sh".into(), "-c".into(), "echo $GREETING".into()],
                false,
            )
            .unwrap();
        let out = exec.output().unwrap();
        assert_eq!(out.stdout, b"hello\n");
        rt.remove_pod("default", "web-0");
        assert_eq!(rt.state("default", "web-0", "app"), None);
    }
}
