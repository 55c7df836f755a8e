//! What the node's streaming server needs from the runtime that runs the
//! containers: the log of a container instance, and a way to run a command
//! inside a container. The process runtime implements [`StreamingRuntime`];
//! [`crate::host::HostRuntime`] implements it with plain host processes.
//!
//! The errors are the kubelet's cases, so that `kubectl logs` and
//! `kubectl exec` print the messages users know; [`ContainerError`] turns
//! them into the kubelet's status codes and texts per route.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use http::StatusCode;
use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};

pub use crate::logs::Follower;

/// The log of one container instance.
#[derive(Debug, Clone)]
pub struct LogSource {
    /// The instance's log file, in the CRI format (see the `logs` module).
    pub path: PathBuf,
    /// Whether that instance may still write: `kubectl logs -f` returns
    /// once it has ended and the file is read to its end. A previous or
    /// terminated instance gives [`Follower::ended`]; a running one the
    /// `ContainerLog::follower` of its writer.
    pub follower: Follower,
}

/// Where `kubectl port-forward` connects to: the pod's network namespace.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    /// What the errors call the pod (the kubelet names its sandbox).
    pub sandbox: String,
    /// The pod's network namespace (`/proc/PID/ns/net` of its sandbox),
    /// or `None` for the host's (host-network pods, host processes).
    pub netns: Option<Arc<OwnedFd>>,
}

/// Why the runtime cannot serve a container's log or exec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// The node does not know the pod (not bound here, or already gone).
    #[error("pod does not exist")]
    PodNotFound,
    /// The pod's spec has no container (or init container) of that name.
    #[error("container not found")]
    ContainerNotFound,
    /// The container has no status yet.
    #[error("container is not available")]
    NotAvailable,
    /// `previous` asked, but the container never terminated before.
    #[error("previous terminated container not found")]
    NoPrevious,
    /// The container has not started; the text is what the kubelet says
    /// after "is waiting to start: " (the waiting reason, or a sentence
    /// for image pull failures).
    #[error("waiting to start: {0}")]
    WaitingToStart(String),
    /// The container terminated and left no log to read.
    #[error("terminated")]
    Terminated,
    /// No state the kubelet recognises.
    #[error("no logs yet")]
    NoLogsYet,
    /// exec: the container is not running.
    #[error("container is not running")]
    NotRunning,
    /// Anything else (an I/O error, say), with its message.
    #[error("{0}")]
    Failed(String),
}

impl ContainerError {
    /// The kubelet's answer to `GET /containerLogs/{ns}/{pod}/{container}`
    /// for this error. The API server turns a 400 into the BadRequest that
    /// kubectl prints as `Error from server (BadRequest): <text>`.
    pub fn for_logs(&self, pod: &str, container: &str) -> (StatusCode, String) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            ContainerError::PodNotFound => {
                (StatusCode::NOT_FOUND, format!("pod {pod:?} does not exist"))
            }
            ContainerError::ContainerNotFound => (
                StatusCode::NOT_FOUND,
                format!("container {container:?} not found in pod {pod:?}"),
            ),
            ContainerError::NotAvailable => (
                bad,
                format!("container {container:?} in pod {pod:?} is not available"),
            ),
            ContainerError::NoPrevious => (
                bad,
                format!("previous terminated container {container:?} in pod {pod:?} not found"),
            ),
            ContainerError::WaitingToStart(why) => (
                bad,
                format!("container {container:?} in pod {pod:?} is waiting to start: {why}"),
            ),
            ContainerError::Terminated => (
                bad,
                format!("container {container:?} in pod {pod:?} is terminated"),
            ),
            ContainerError::NoLogsYet | ContainerError::NotRunning => (
                bad,
                format!("container {container:?} in pod {pod:?} is waiting to start - no logs yet"),
            ),
            ContainerError::Failed(message) => (bad, message.clone()),
        }
    }

    /// The kubelet's answer to `/exec/{ns}/{pod}/{container}` for this
    /// error, given before the connection is upgraded. kubectl prints it
    /// as `error: unable to upgrade connection: <text>`.
    pub fn for_exec(&self, container: &str) -> (StatusCode, String) {
        match self {
            ContainerError::PodNotFound => (StatusCode::NOT_FOUND, "pod does not exist".into()),
            // The kubelet looks for the container among the running ones.
            ContainerError::ContainerNotFound
            | ContainerError::NotRunning
            | ContainerError::NotAvailable
            | ContainerError::NoPrevious
            | ContainerError::WaitingToStart(_)
            | ContainerError::Terminated
            | ContainerError::NoLogsYet => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("container not found ({container:?})"),
            ),
            ContainerError::Failed(message) => (StatusCode::INTERNAL_SERVER_ERROR, message.clone()),
        }
    }
}

/// The runtime's side of `pods/log` and `pods/exec`. Methods are called
/// on the server's async tasks: they must answer from memory, quickly.
pub trait StreamingRuntime: Send + Sync + 'static {
    /// The log of container `container` of pod `namespace/pod`: its
    /// current instance (running, or the last one if it terminated), or
    /// with `previous` the instance before that.
    /// [`container_log_id`] decides which instance as the kubelet does,
    /// from the pod's status.
    fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogSource, ContainerError>;

    /// A command that runs `command` (argv, never empty) inside the
    /// running container: its namespaces, environment, working directory
    /// and user. The server sets its stdio (pipes, or a pseudo-terminal
    /// when `tty`), puts it in a process group of its own (a session with
    /// `tty`) and kills that group if the client goes away, so the command
    /// must not leave its process group. Errors: [`ContainerError::PodNotFound`],
    /// [`ContainerError::ContainerNotFound`], [`ContainerError::NotRunning`].
    fn exec_command(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
        tty: bool,
    ) -> Result<Command, ContainerError>;

    /// The network of pod `namespace/pod`, for port forwarding. Errors:
    /// [`ContainerError::PodNotFound`], and [`ContainerError::NotRunning`]
    /// before its sandbox exists.
    fn pod_network(&self, namespace: &str, pod: &str) -> Result<PodNetwork, ContainerError>;

    /// The standard streams of the running container, for `kubectl
    /// attach`. Errors as [`StreamingRuntime::exec_command`]'s.
    fn attach(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<crate::console::Console, ContainerError>;
}

fn status_of<'a>(
    statuses: Option<&'a Vec<ContainerStatus>>,
    name: &str,
) -> Option<&'a ContainerStatus> {
    statuses?.iter().find(|s| s.name == name)
}

/// Which container instance `kubectl logs` reads, decided from the pod's
/// status as the kubelet's `validateContainerLogStatus` decides it: the
/// container ID of the running instance, else of the terminated one, else
/// of the last termination; with `previous`, the last termination's. The
/// errors are the kubelet's for each state.
pub fn container_log_id<'a>(
    status: &'a PodStatus,
    container: &str,
    previous: bool,
) -> Result<&'a str, ContainerError> {
    let found = status_of(status.container_statuses.as_ref(), container)
        .or_else(|| status_of(status.init_container_statuses.as_ref(), container))
        .or_else(|| status_of(status.ephemeral_container_statuses.as_ref(), container))
        .ok_or(ContainerError::NotAvailable)?;
    let non_empty = |id: Option<&'a String>| id.map(String::as_str).filter(|id| !id.is_empty());
    let last = found
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    let last_id = last.and_then(|t| non_empty(t.container_id.as_ref()));
    let state = found.state.as_ref();
    if previous {
        return last_id.ok_or(ContainerError::NoPrevious);
    }
    if state.and_then(|s| s.running.as_ref()).is_some() {
        return non_empty(found.container_id.as_ref()).ok_or(ContainerError::NoLogsYet);
    }
    if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        return non_empty(terminated.container_id.as_ref())
            .or(last_id)
            .ok_or(ContainerError::Terminated);
    }
    if last.is_some() {
        return last_id.ok_or(ContainerError::Terminated);
    }
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.clone().unwrap_or_default();
        let why = match reason.as_str() {
            "ErrImagePull" => "image can't be pulled".to_string(),
            "ImagePullBackOff" => "trying and failing to pull image".to_string(),
            _ => reason,
        };
        return Err(ContainerError::WaitingToStart(why));
    }
    Err(ContainerError::NoLogsYet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: serde_json::Value) -> PodStatus {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_instance_as_the_kubelet_picks_it() {
        let running = status(json!({"containerStatuses": [{
            "name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 1,
            "containerID": "proc://c2",
            "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "proc://c1"}},
        }]}));
        assert_eq!(container_log_id(&running, "app", false), Ok("proc://c2"));
        assert_eq!(container_log_id(&running, "app", true), Ok("proc://c1"));
        assert_eq!(
            container_log_id(&running, "other", false),
            Err(ContainerError::NotAvailable)
        );

        let crashing = status(json!({"containerStatuses": [{
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "proc://c3"}},
        }]}));
        assert_eq!(container_log_id(&crashing, "app", false), Ok("proc://c3"));

        let creating = status(json!({"initContainerStatuses": [{
            "name": "init", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }]}));
        let err = container_log_id(&creating, "init", false).unwrap_err();
        assert_eq!(
            err,
            ContainerError::WaitingToStart("ContainerCreating".into())
        );
        assert_eq!(
            err.for_logs("web-0", "init"),
            (
                StatusCode::BAD_REQUEST,
                "container \"init\" in pod \"web-0\" is waiting to start: ContainerCreating".into()
            )
        );
        assert_eq!(
            container_log_id(&creating, "init", true),
            Err(ContainerError::NoPrevious)
        );
        let pulling = status(json!({"containerStatuses": [{
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}},
        }]}));
        assert_eq!(
            container_log_id(&pulling, "app", false),
            Err(ContainerError::WaitingToStart(
                "trying and failing to pull image".into()
            ))
        );
        let done = status(json!({"containerStatuses": [{
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0}},
        }]}));
        assert_eq!(
            container_log_id(&done, "app", false),
            Err(ContainerError::Terminated)
        );
    }

    #[test]
    fn exec_errors_read_as_the_kubelet_writes_them() {
        assert_eq!(
            ContainerError::PodNotFound.for_exec("app"),
            (StatusCode::NOT_FOUND, "pod does not exist".into())
        );
        assert_eq!(
            ContainerError::NotRunning.for_exec("app"),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "container not found (\"app\")".into()
            )
        );
        assert_eq!(
            ContainerError::ContainerNotFound.for_logs("web-0", "app"),
            (
                StatusCode::NOT_FOUND,
                "container \"app\" not found in pod \"web-0\"".into()
            )
        );
        assert_eq!(
            ContainerError::NoPrevious.for_logs("web-0", "app").1,
            "previous terminated container \"app\" in pod \"web-0\" not found"
        );
    }
}
