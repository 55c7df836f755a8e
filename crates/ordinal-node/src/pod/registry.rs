//! What the node's streaming server (`kubectl logs`, `kubectl exec`) may
//! know of the pods: for each pod the workers run, its last reported
//! status, the log of every container instance, and how to run a command
//! in each running container. Workers keep it current; the server reads
//! it through [`StreamingRuntime`] without touching the workers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::PodStatus;

use super::probe::ExecFn;
use crate::logs::{ContainerLog, Follower};
use crate::streaming::{ContainerError, LogSource, PodNetwork, StreamingRuntime, container_log_id};

#[derive(Default)]
struct PodRecord {
    uid: String,
    status: Option<PodStatus>,
    /// Container name → exec into its running instance.
    running: HashMap<String, ExecFn>,
    /// Container ID (as in the status) → its instance's log.
    logs: HashMap<String, (PathBuf, Follower)>,
    /// Container names of the spec (init and app).
    containers: Vec<String>,
    /// Container name → the standard streams of its running instance.
    consoles: HashMap<String, crate::console::Console>,
    /// The sandbox's network, once it exists.
    network: Option<PodNetwork>,
}

/// Which pod a record is about: a pod is known to the server by namespace
/// and name, and a new pod of the same name (a new UID) starts afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Shared between the workers and the node server; cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    pods: Arc<Mutex<HashMap<(String, String), PodRecord>>>,
}

impl Registry {
    fn with<T>(&self, key: &PodKey, f: impl FnOnce(&mut PodRecord) -> T) -> T {
        let uid = key.uid.as_str();
        let mut pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        let record = pods
            .entry((key.namespace.clone(), key.name.clone()))
            .or_default();
        if record.uid != uid {
            // A new pod of the same name replaces the old one's record.
            *record = PodRecord {
                uid: uid.to_string(),
                ..Default::default()
            };
        }
        f(record)
    }

    pub fn set_containers(&self, key: &PodKey, names: Vec<String>) {
        self.with(key, |r| r.containers = names);
    }

    pub fn set_status(&self, key: &PodKey, status: PodStatus) {
        self.with(key, |r| r.status = Some(status));
    }

    /// A container instance started: its log, and exec into it.
    pub fn started(
        &self,
        key: &PodKey,
        container: &str,
        id: &str,
        log: &ContainerLog,
        exec: ExecFn,
        console: Option<crate::console::Console>,
    ) {
        self.with(key, |r| {
            r.logs
                .insert(id.to_string(), (log.path().to_path_buf(), log.follower()));
            r.running.insert(container.to_string(), exec);
            match console {
                Some(c) => r.consoles.insert(container.to_string(), c),
                None => r.consoles.remove(container),
            };
        });
    }

    /// The log of an instance from before the agent restarted (ended).
    pub fn earlier_log(&self, key: &PodKey, id: &str, path: PathBuf) {
        self.with(key, |r| {
            r.logs.insert(id.to_string(), (path, Follower::ended()));
        });
    }

    /// The pod's sandbox exists: port forwarding connects into `network`.
    pub fn sandbox_ready(&self, key: &PodKey, network: PodNetwork) {
        self.with(key, |r| r.network = Some(network));
    }

    /// The instance ended: no exec into it any more (its log stays).
    pub fn stopped(&self, key: &PodKey, container: &str) {
        self.with(key, |r| {
            r.running.remove(container);
            r.consoles.remove(container);
        });
    }

    /// The pod left the node.
    pub fn remove(&self, key: &PodKey) {
        let mut pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        let at = (key.namespace.clone(), key.name.clone());
        if pods.get(&at).is_some_and(|r| r.uid == key.uid) {
            pods.remove(&at);
        }
    }
}

impl StreamingRuntime for Registry {
    fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogSource, ContainerError> {
        let pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        let record = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .ok_or(ContainerError::PodNotFound)?;
        if !record.containers.iter().any(|c| c == container) {
            return Err(ContainerError::ContainerNotFound);
        }
        let status = record.status.as_ref().ok_or(ContainerError::NotAvailable)?;
        let id = container_log_id(status, container, previous)?;
        let (path, follower) = record.logs.get(id).ok_or_else(|| {
            ContainerError::Failed(format!(
                "the log of container {id} is no longer on this node"
            ))
        })?;
        Ok(LogSource {
            path: path.clone(),
            follower: follower.clone(),
        })
    }

    fn exec_command(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
        tty: bool,
    ) -> Result<Command, ContainerError> {
        let pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        let record = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .ok_or(ContainerError::PodNotFound)?;
        if !record.containers.iter().any(|c| c == container) {
            return Err(ContainerError::ContainerNotFound);
        }
        let exec = record
            .running
            .get(container)
            .ok_or(ContainerError::NotRunning)?;
        Ok(exec(command, tty))
    }

    fn pod_network(&self, namespace: &str, pod: &str) -> Result<PodNetwork, ContainerError> {
        let pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        let record = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .ok_or(ContainerError::PodNotFound)?;
        record.network.clone().ok_or(ContainerError::NotRunning)
    }

    fn attach(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<crate::console::Console, ContainerError> {
        let pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        let record = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .ok_or(ContainerError::PodNotFound)?;
        if !record.containers.iter().any(|c| c == container) {
            return Err(ContainerError::ContainerNotFound);
        }
        record
            .consoles
            .get(container)
            .cloned()
            .ok_or(ContainerError::NotRunning)
    }
}
