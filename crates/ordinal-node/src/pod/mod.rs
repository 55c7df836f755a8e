//! Pod workers: one task per pod bound to this node, which makes the pod
//! run and reports its status — kubelet's `syncPod`, one pod at a time.
//!
//! A worker wakes up when the pod object changes, a container exits, a
//! probe result changes, a back-off ends or a retry is due, and then does
//! one [`Worker::sync`]:
//!
//! 1. the pod's volumes and sandbox (namespaces, address, hostname,
//!    /etc/hosts and resolv.conf), retried with an event while they fail;
//! 2. init containers, one at a time, each to completion (sidecars — init
//!    containers with restartPolicy Always — to started);
//! 3. the app containers, started in order, restarted after they exit as
//!    the restart policy says, with kubelet's back-off;
//! 4. the status, written only when it changed.
//!
//! A pod with a deletionTimestamp is terminated: preStop hooks, SIGTERM,
//! SIGKILL after the grace period, sandbox removed, then the pod object is
//! deleted for good. The worker owns the pod's processes; nothing else
//! starts or stops them.

pub mod backoff;
pub mod env;
pub mod expand;
pub mod files;
pub mod probe;
pub mod registry;
mod slot;
pub mod status;
pub mod volumes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod, PodStatus};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};
use ordinal_controllers::events::Recorder;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::runtime::{Bind, ContainerSpec, Exit, Runtime, RuntimeError, SandboxSpec};
use slot::{Instance, Slot};
use status::{Termination, View};

/// What every worker shares.
pub struct Context<R: Runtime> {
    pub client: Client,
    pub runtime: Arc<R>,
    pub recorder: Recorder,
    pub node_name: String,
    pub host_ip: IpAddr,
    /// `<data dir>/pods`: one directory per pod UID.
    pub pods_dir: PathBuf,
    pub dns: files::Dns,
    pub node_cpu_millis: i64,
    pub node_memory: i64,
    /// What the node server (logs, exec) sees of the pods.
    pub registry: registry::Registry,
}

/// The worker's input: the latest pod object (None once it is gone from
/// the API), and whether the node is shutting down.
#[derive(Clone)]
pub struct Input {
    pub pod: Option<Arc<Pod>>,
    pub shutdown: bool,
}

/// Something a container task tells its worker.
enum Note {
    Exited {
        init: bool,
        index: usize,
        generation: u64,
        exit: Exit,
    },
    Probe {
        init: bool,
        index: usize,
        generation: u64,
        signal: probe::Signal,
    },
}

/// Retry delay for volumes, sandbox and configuration errors.
const RETRY: Duration = Duration::from_secs(2);
/// At most this much grace per pod when the node shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Grace for containers of a pod that vanished from the API.
const VANISHED_GRACE: Duration = Duration::from_secs(2);

pub struct Worker<R: Runtime> {
    ctx: Arc<Context<R>>,
    input: watch::Receiver<Input>,
    pod: Arc<Pod>,
    uid: String,
    dir: PathBuf,
    sandbox: Option<Arc<R::Sandbox>>,
    pod_ip: Option<IpAddr>,
    volumes: HashMap<String, volumes::Prepared>,
    init: Vec<Slot>,
    app: Vec<Slot>,
    notes: mpsc::UnboundedReceiver<Note>,
    notes_tx: mpsc::UnboundedSender<Note>,
    start_time: jiff::Timestamp,
    /// The pod finished under its restart policy: nothing starts again.
    terminal: bool,
    /// The next time a sync is due regardless of notes.
    retry_at: Option<Instant>,
    /// The last status written (or read, at start).
    reported: Option<PodStatus>,
    /// The last warning per reason, to avoid repeating it every retry.
    warned: HashMap<String, String>,
}

impl<R: Runtime> Worker<R> {
    pub fn new(ctx: Arc<Context<R>>, input: watch::Receiver<Input>) -> Option<Worker<R>> {
        let pod = input.borrow().pod.clone()?;
        let uid = pod.metadata.uid.clone()?;
        let spec = pod.spec.clone().unwrap_or_default();
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let has_init = spec.init_containers.as_ref().is_some_and(|c| !c.is_empty());
        let init = spec
            .init_containers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                let sidecar = c.restart_policy.as_deref() == Some("Always");
                Slot::new(c, sidecar, "PodInitializing")
            })
            .collect();
        let waiting = if has_init {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        let mut app: Vec<Slot> = spec
            .containers
            .iter()
            .cloned()
            .map(|c| Slot::new(c, false, waiting))
            .collect();
        // Restart counts survive an agent restart: the containers the API
        // still shows as ours were killed with the previous agent.
        let previous = pod.status.as_ref();
        for s in &mut app {
            if let Some(old) = previous
                .and_then(|p| p.container_statuses.as_ref())
                .and_then(|l| l.iter().find(|c| c.name == s.spec.name))
            {
                s.restart_count = old.restart_count;
                if old
                    .state
                    .as_ref()
                    .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
                {
                    // The next start counts as a restart.
                    s.starts = 1;
                    s.last = Some(Termination {
                        exit_code: 137,
                        signal: Some(libc::SIGKILL),
                        reason: "Error".into(),
                        message: Some(
                            "the node agent restarted; the container's process did not survive it"
                                .into(),
                        ),
                        started_at: old
                            .state
                            .as_ref()
                            .and_then(|st| st.running.as_ref())
                            .and_then(|r| r.started_at.clone())
                            .map(|t| t.0),
                        finished_at: jiff::Timestamp::now(),
                        container_id: old.container_id.clone(),
                    });
                }
            }
        }
        // Their logs are still on disk, for `kubectl logs --previous`.
        let dir = ctx.pods_dir.join(&uid);
        for s in &app {
            if let Some(id) = s.last.as_ref().and_then(|t| t.container_id.clone()) {
                let path = dir
                    .join("logs")
                    .join(&s.spec.name)
                    .join(format!("{}.log", s.restart_count));
                ctx.registry.earlier_log(&key_of(&pod, &uid), &id, path);
            }
        }
        let start_time = previous
            .and_then(|p| p.start_time.clone())
            .map(|t| t.0)
            .unwrap_or_else(jiff::Timestamp::now);
        let names = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .map(|c| c.name.clone())
            .collect();
        ctx.registry.set_containers(&key_of(&pod, &uid), names);
        Some(Worker {
            reported: pod.status.clone(),
            ctx,
            input,
            pod,
            uid,
            dir,
            sandbox: None,
            pod_ip: None,
            volumes: HashMap::new(),
            init,
            app,
            notes,
            notes_tx,
            start_time,
            terminal: false,
            retry_at: None,
            warned: HashMap::new(),
        })
    }

    fn reference(&self, container: Option<(&str, bool)>) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: self.pod.metadata.name.clone(),
            namespace: self.pod.metadata.namespace.clone(),
            uid: self.pod.metadata.uid.clone(),
            resource_version: self.pod.metadata.resource_version.clone(),
            field_path: container.map(|(name, init)| {
                if init {
                    format!("spec.initContainers{{{name}}}")
                } else {
                    format!("spec.containers{{{name}}}")
                }
            }),
        }
    }

    fn key(&self) -> registry::PodKey {
        key_of(&self.pod, &self.uid)
    }

    fn name(&self) -> String {
        format!(
            "{}/{}",
            self.pod.metadata.namespace.as_deref().unwrap_or(""),
            self.pod.metadata.name.as_deref().unwrap_or("")
        )
    }

    /// Records a warning unless the same one was the last for its reason.
    fn warn_once(&mut self, container: Option<(&str, bool)>, reason: &str, message: String) {
        let key = format!("{reason}/{:?}", container);
        if self.warned.get(&key) == Some(&message) {
            return;
        }
        self.warned.insert(key, message.clone());
        self.ctx
            .recorder
            .warning(&self.reference(container), reason, message);
    }

    fn api(&self) -> Api<Pod> {
        Api::namespaced(
            self.ctx.client.clone(),
            self.pod.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }

    fn restart_policy(&self) -> String {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into())
    }

    fn grace(&self) -> Duration {
        let seconds = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(30);
        Duration::from_secs(seconds.max(0) as u64)
    }

    /// Runs the pod until it is deleted or the node shuts down.
    pub async fn run(mut self) {
        loop {
            let input = self.input.borrow_and_update().clone();
            match input {
                Input { shutdown: true, .. } => {
                    self.stop_everything(self.grace().min(SHUTDOWN_GRACE), false)
                        .await;
                    return;
                }
                Input { pod: None, .. } => {
                    self.stop_everything(VANISHED_GRACE, false).await;
                    self.cleanup();
                    return;
                }
                Input { pod: Some(pod), .. } => {
                    let deleting = pod.metadata.deletion_timestamp.is_some();
                    self.pod = pod;
                    if deleting {
                        self.terminate().await;
                        return;
                    }
                    self.sync().await;
                }
            }
            self.report().await;
            let wake = self.next_wake();
            tokio::select! {
                changed = self.input.changed() => {
                    if changed.is_err() {
                        self.stop_everything(self.grace(), false).await;
                        return;
                    }
                }
                Some(note) = self.notes.recv() => self.apply(note),
                _ = sleep_until(wake) => {}
            }
            while let Ok(note) = self.notes.try_recv() {
                self.apply(note);
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let slots = self.init.iter().chain(self.app.iter());
        let backoffs = slots
            .filter(|s| !s.running() && !s.done)
            .filter_map(|s| s.not_before);
        backoffs.chain(self.retry_at).min()
    }

    fn apply(&mut self, note: Note) {
        match note {
            Note::Exited {
                init,
                index,
                generation,
                exit,
            } => {
                let policy = self.restart_policy();
                let slots = if init { &mut self.init } else { &mut self.app };
                let Some(slot) = slots.get_mut(index) else {
                    return;
                };
                let Some(instance) = slot.instance.take_if(|i| i.generation == generation) else {
                    return;
                };
                let container = slot.spec.name.clone();
                let ran = (exit.at - instance.process.started_at)
                    .try_into()
                    .unwrap_or(Duration::ZERO);
                let reason = Termination::reason_for(exit.code).to_string();
                slot.last = Some(Termination {
                    exit_code: exit.code,
                    signal: exit.signal,
                    reason,
                    message: None,
                    started_at: Some(instance.process.started_at),
                    finished_at: exit.at,
                    container_id: Some(format!("ordinal://{}", instance.process.id)),
                });
                let restart = if slot.sidecar {
                    true
                } else if init {
                    exit.code != 0 && policy != "Never"
                } else {
                    match policy.as_str() {
                        "Always" => true,
                        "OnFailure" => exit.code != 0,
                        _ => false,
                    }
                };
                if !restart || self.terminal {
                    slot.done = true;
                } else {
                    slot.delay = slot.backoff.next(ran);
                    slot.not_before = Some(Instant::now() + slot.delay);
                }
                let key = self.key();
                self.ctx.registry.stopped(&key, &container);
            }
            Note::Probe {
                init,
                index,
                generation,
                signal,
            } => {
                let current = self
                    .slots(init)
                    .get(index)
                    .and_then(|s| s.instance.as_ref())
                    .is_some_and(|i| i.generation == generation);
                if !current {
                    return;
                }
                let name = self.slots(init)[index].spec.name.clone();
                match signal {
                    probe::Signal::Started => {
                        if let Some(i) = self.slots_mut(init)[index].instance.as_mut() {
                            i.started = true;
                        }
                    }
                    probe::Signal::Ready(r) => {
                        if let Some(i) = self.slots_mut(init)[index].instance.as_mut() {
                            i.ready = r;
                        }
                    }
                    probe::Signal::Unhealthy(m) => {
                        let r = self.reference(Some((&name, init)));
                        self.ctx.recorder.warning(&r, "Unhealthy", m);
                    }
                    probe::Signal::LivenessFailed(_) | probe::Signal::StartupFailed(_) => {
                        let kind = if matches!(signal, probe::Signal::LivenessFailed(_)) {
                            "liveness"
                        } else {
                            "startup"
                        };
                        let why =
                            format!("Container {name} failed {kind} probe, will be restarted");
                        self.stop_instance(init, index, why);
                    }
                }
            }
        }
    }

    fn slots(&self, init: bool) -> &Vec<Slot> {
        if init { &self.init } else { &self.app }
    }

    fn slots_mut(&mut self, init: bool) -> &mut Vec<Slot> {
        if init { &mut self.init } else { &mut self.app }
    }

    /// Stops a running instance in the background (preStop, SIGTERM,
    /// SIGKILL after the grace period), with a `Killing` event saying why.
    /// Its exit arrives as a note like any other.
    fn stop_instance(&mut self, init: bool, index: usize, why: String) {
        let grace = self.grace();
        let (process, hook, name) = {
            let slot = &self.slots(init)[index];
            let Some(instance) = slot.instance.as_ref().filter(|i| i.stopping.is_none()) else {
                return;
            };
            let target = slot_target(instance, &self.ctx, self.sandbox.as_ref());
            (
                instance.process.clone(),
                self.pre_stop(&target, &instance.definition),
                slot.spec.name.clone(),
            )
        };
        if let Some(i) = self.slots_mut(init)[index].instance.as_mut() {
            i.stopping = Some(why.clone());
        }
        let reference = self.reference(Some((&name, init)));
        self.ctx.recorder.normal(&reference, "Killing", why);
        let recorder = self.ctx.recorder.clone();
        tokio::spawn(stop_process(process, hook, grace, recorder, reference));
    }

    /// The pre-stop hook of a container, ready to run.
    fn pre_stop(
        &self,
        target: &Option<probe::Target>,
        c: &Container,
    ) -> Option<(probe::Target, k8s_openapi::api::core::v1::LifecycleHandler)> {
        let handler = c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone())?;
        Some((target.clone()?, handler))
    }

    async fn sync(&mut self) {
        self.retry_at = None;
        if self.terminal {
            return;
        }
        if self.sandbox.is_none() && !self.setup().await {
            self.retry_at = Some(Instant::now() + RETRY);
            return;
        }
        // Init containers, in order.
        for i in 0..self.init.len() {
            let slot = &self.init[i];
            if slot.sidecar {
                if slot.instance.as_ref().is_some_and(|x| x.started) {
                    continue;
                }
                if !slot.running() {
                    self.start(true, i).await;
                }
                return;
            }
            if slot.succeeded() {
                continue;
            }
            if slot.running() {
                return;
            }
            if slot.done {
                // Failed under restartPolicy Never: the pod fails.
                self.finish().await;
                return;
            }
            self.start(true, i).await;
            return;
        }
        let policy = self.restart_policy();
        for i in 0..self.app.len() {
            let slot = &self.app[i];
            if let Some(instance) = &slot.instance {
                // A changed definition (e.g. a new image) restarts the
                // container, as kubelet does on a changed hash.
                if instance.stopping.is_none() && *instance.definition != *slot.spec {
                    let why = format!(
                        "Container {} definition changed, will be restarted",
                        slot.spec.name
                    );
                    self.stop_instance(false, i, why);
                }
                continue;
            }
            if slot.done {
                continue;
            }
            self.start(false, i).await;
        }
        // Restart policy Never/OnFailure: when every app container is done
        // for good, so is the pod.
        if policy != "Always" && !self.app.is_empty() && self.app.iter().all(|s| s.done) {
            self.finish().await;
        }
    }

    /// Volumes and sandbox. False (with an event) when not possible yet.
    async fn setup(&mut self) -> bool {
        if let Err(e) = std::fs::create_dir_all(self.dir.join("etc")) {
            self.warn_once(
                None,
                "FailedCreatePodSandBox",
                format!("creating the pod directory: {e}"),
            );
            return false;
        }
        let rt = self.env_runtime();
        match volumes::prepare(&self.ctx.client, &self.pod, &self.dir, &rt).await {
            Ok(v) => self.volumes = v,
            Err(e) => {
                self.warn_once(None, "FailedMount", e.to_string());
                return false;
            }
        }
        let domain = self.ctx.dns.domain.clone();
        let spec = SandboxSpec {
            uid: self.uid.clone(),
            namespace: self.pod.metadata.namespace.clone().unwrap_or_default(),
            name: self.pod.metadata.name.clone().unwrap_or_default(),
            hostname: files::uts_hostname(&self.pod, &domain),
            host_network: self
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.host_network)
                .unwrap_or(false),
            dir: self.dir.clone(),
        };
        let began = std::time::Instant::now();
        let sandbox = match self.ctx.runtime.create_sandbox(&spec).await {
            Ok(s) => {
                tracing::debug!(pod = %self.name(), took_ms = began.elapsed().as_secs_f64() * 1e3, "sandbox created");
                s
            }
            Err(e) => {
                self.warn_once(
                    None,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {e}"),
                );
                return false;
            }
        };
        let ip = self.ctx.runtime.sandbox_ip(&sandbox);
        self.pod_ip = Some(ip);
        let etc = self.dir.join("etc");
        let written = std::fs::write(etc.join("hosts"), files::hosts(&self.pod, ip, &domain))
            .and_then(|_| {
                std::fs::write(
                    etc.join("resolv.conf"),
                    files::resolv_conf(&self.pod, &self.ctx.dns),
                )
            })
            .and_then(|_| std::fs::write(etc.join("hostname"), format!("{}\n", spec.hostname)));
        if let Err(e) = written {
            self.warn_once(
                None,
                "FailedCreatePodSandBox",
                format!("writing the pod's /etc files: {e}"),
            );
            self.ctx.runtime.remove_sandbox(&sandbox).await;
            return false;
        }
        self.sandbox = Some(Arc::new(sandbox));
        true
    }

    fn env_runtime(&self) -> env::Runtime {
        env::Runtime {
            pod_ip: self.pod_ip,
            host_ip: self.ctx.host_ip,
            node_cpu_millis: self.ctx.node_cpu_millis,
            node_memory: self.ctx.node_memory,
        }
    }

    /// Builds what the runtime needs to start container `index`.
    async fn container_spec(
        &self,
        c: &Container,
        restart_count: i32,
    ) -> Result<ContainerSpec, (String, String)> {
        let ns = self.pod.metadata.namespace.as_deref().unwrap_or("default");
        let (cms, secrets) = env::references(c);
        let mut sources = env::Sources::default();
        for name in cms {
            match Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(
                self.ctx.client.clone(),
                ns,
            )
            .get_opt(&name)
            .await
            {
                Ok(Some(o)) => {
                    sources.config_maps.insert(name, o);
                }
                Ok(None) => {}
                Err(e) => return Err(("CreateContainerConfigError".into(), e.to_string())),
            }
        }
        for name in secrets {
            match Api::<k8s_openapi::api::core::v1::Secret>::namespaced(self.ctx.client.clone(), ns)
                .get_opt(&name)
                .await
            {
                Ok(Some(o)) => {
                    sources.secrets.insert(name, o);
                }
                Ok(None) => {}
                Err(e) => return Err(("CreateContainerConfigError".into(), e.to_string())),
            }
        }
        let (hostname, _) = files::names(&self.pod, &self.ctx.dns.domain);
        let is_root = c
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_user)
            .or_else(|| {
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.security_context.as_ref())
                    .and_then(|s| s.run_as_user)
            })
            .is_none_or(|u| u == 0);
        let base = vec![
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
            ("HOSTNAME".to_string(), hostname),
            (
                "HOME".to_string(),
                if is_root {
                    "/root".to_string()
                } else {
                    "/".to_string()
                },
            ),
        ];
        let env = env::resolve(&self.pod, c, &sources, &self.env_runtime(), &base)
            .map_err(|e| ("CreateContainerConfigError".to_string(), e.0))?;
        let lookup = |name: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut argv: Vec<String> = c
            .command
            .iter()
            .flatten()
            .map(|a| expand::expand(a, lookup))
            .collect();
        argv.extend(c.args.iter().flatten().map(|a| expand::expand(a, lookup)));
        if argv.is_empty() {
            return Err((
                "CreateContainerError".into(),
                format!(
                    "container {:?} has no command: ordinal runs containers as programs of this machine and does not pull images, so set command (and args) to a program installed here (image {:?} is not used)",
                    c.name,
                    c.image.clone().unwrap_or_default()
                ),
            ));
        }
        let pod_sc = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref());
        let sc = c.security_context.as_ref();
        let user = sc
            .and_then(|s| s.run_as_user)
            .or(pod_sc.and_then(|s| s.run_as_user));
        let group = sc
            .and_then(|s| s.run_as_group)
            .or(pod_sc.and_then(|s| s.run_as_group));
        let mut supplemental: Vec<u32> = pod_sc
            .and_then(|s| s.supplemental_groups.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|g| u32::try_from(g).ok())
            .collect();
        if let Some(fs) = pod_sc.and_then(|s| s.fs_group) {
            supplemental.extend(u32::try_from(fs).ok());
        }
        let mut binds = Vec::new();
        for m in c.volume_mounts.iter().flatten() {
            let Some(v) = self.volumes.get(&m.name) else {
                return Err((
                    "CreateContainerConfigError".into(),
                    format!("volume {:?} is not prepared", m.name),
                ));
            };
            let mut source = v.path.clone();
            let sub = match (&m.sub_path, &m.sub_path_expr) {
                (Some(s), _) if !s.is_empty() => Some(s.clone()),
                (_, Some(e)) if !e.is_empty() => Some(expand::expand(e, lookup)),
                _ => None,
            };
            if let Some(sub) = sub {
                if Path::new(&sub)
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err((
                        "CreateContainerConfigError".into(),
                        format!("invalid subPath {sub:?}"),
                    ));
                }
                source = source.join(&sub);
                if !source.exists() {
                    let _ = std::fs::create_dir_all(&source);
                }
            }
            binds.push(Bind::path(
                source,
                &m.mount_path,
                m.read_only.unwrap_or(false) || v.read_only,
            ));
        }
        let etc = self.dir.join("etc");
        let mounted = |p: &str| binds.iter().any(|b| b.target == Path::new(p));
        let files = ["hosts", "resolv.conf", "hostname"]
            .iter()
            .filter(|f| !mounted(&format!("/etc/{f}")))
            .map(|f| (PathBuf::from(format!("/etc/{f}")), etc.join(f)))
            .collect();
        Ok(ContainerSpec {
            name: c.name.clone(),
            argv,
            env,
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
            user: user.and_then(|u| u32::try_from(u).ok()),
            group: group.and_then(|g| u32::try_from(g).ok()),
            supplemental_groups: supplemental,
            binds,
            files,
            log: self
                .dir
                .join("logs")
                .join(&c.name)
                .join(format!("{restart_count}.log")),
            root: crate::runtime::RootSpec::Host,
            security: crate::runtime::Security::of(sc)
                .map_err(|e| ("CreateContainerError".to_string(), e))?,
        })
    }

    /// Starts the container in `init`/`app` slot `index`, unless it is
    /// in back-off.
    async fn start(&mut self, init: bool, index: usize) {
        let pod_name = format!(
            "{}_{}({})",
            self.pod.metadata.name.as_deref().unwrap_or(""),
            self.pod.metadata.namespace.as_deref().unwrap_or(""),
            self.uid
        );
        let (name, spec_def, restart_count, not_before, delay) = {
            let slot = if init {
                &self.init[index]
            } else {
                &self.app[index]
            };
            let restart_count = if slot.starts > 0 {
                slot.restart_count + 1
            } else {
                slot.restart_count
            };
            (
                slot.spec.name.clone(),
                Arc::clone(&slot.spec),
                restart_count,
                slot.not_before,
                slot.delay,
            )
        };
        if let Some(t) = not_before
            && t > Instant::now()
        {
            let message = format!(
                "back-off {} restarting failed container={name} pod={pod_name}",
                go_duration(delay)
            );
            let slot = if init {
                &mut self.init[index]
            } else {
                &mut self.app[index]
            };
            slot.waiting = ("CrashLoopBackOff".into(), Some(message));
            self.warn_once(
                Some((&name, init)),
                "BackOff",
                format!("Back-off restarting failed container {name} in pod {pod_name}"),
            );
            return;
        }
        let spec = match self.container_spec(&spec_def, restart_count).await {
            Ok(s) => s,
            Err((reason, message)) => {
                self.warn_once(Some((&name, init)), "Failed", format!("Error: {message}"));
                let slot = if init {
                    &mut self.init[index]
                } else {
                    &mut self.app[index]
                };
                slot.waiting = (reason, Some(message));
                self.retry_at = Some(Instant::now() + RETRY);
                return;
            }
        };
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        let reference = self.reference(Some((&name, init)));
        let policy = self.restart_policy();
        let began = std::time::Instant::now();
        let started = self.ctx.runtime.start_container(&sandbox, &spec).await;
        tracing::debug!(pod = %self.name(), container = %name, took_ms = began.elapsed().as_secs_f64() * 1e3, "container started");
        let slot = if init {
            &mut self.init[index]
        } else {
            &mut self.app[index]
        };
        slot.restart_count = restart_count;
        slot.starts += 1;
        slot.not_before = None;
        let generation = slot.starts;
        match started {
            Err(e) => {
                let message = match &e {
                    RuntimeError::Start(m) | RuntimeError::Sandbox(m) => m.clone(),
                };
                let now = jiff::Timestamp::now();
                slot.last = Some(Termination {
                    exit_code: 128,
                    signal: None,
                    reason: "StartError".into(),
                    message: Some(message.clone()),
                    started_at: None,
                    finished_at: now,
                    container_id: None,
                });
                let restart = slot.sidecar || policy != "Never";
                if restart {
                    slot.delay = slot.backoff.next(Duration::ZERO);
                    slot.not_before = Some(Instant::now() + slot.delay);
                    slot.waiting = ("RunContainerError".into(), Some(message.clone()));
                } else {
                    slot.done = true;
                }
                self.ctx
                    .recorder
                    .warning(&reference, "Failed", format!("Error: {message}"));
            }
            Ok(process) => {
                self.ctx.recorder.normal(
                    &reference,
                    "Created",
                    format!("Created container: {name}"),
                );
                self.ctx.recorder.normal(
                    &reference,
                    "Started",
                    format!("Started container {name}"),
                );
                // Without startup and readiness probes a container is
                // started and ready once it runs: say so in the same status
                // write instead of waiting for the probe task to tell.
                let unprobed = spec_def.startup_probe.is_none();
                let mut instance = Instance {
                    process: process.clone(),
                    spec,
                    definition: Arc::clone(&spec_def),
                    generation,
                    started: unprobed,
                    ready: unprobed && spec_def.readiness_probe.is_none(),
                    probes: None,
                    stopping: None,
                };
                let target = slot_target(&instance, &self.ctx, Some(&sandbox));
                if let Some(target) = &target {
                    let key = self.key();
                    self.ctx.registry.started(
                        &key,
                        &name,
                        &format!("ordinal://{}", process.id),
                        &process.log,
                        Arc::clone(&target.exec),
                    );
                }
                // Exit watcher.
                let tx = self.notes_tx.clone();
                tokio::spawn(async move {
                    let exit = process.wait().await;
                    let _ = tx.send(Note::Exited {
                        init,
                        index,
                        generation,
                        exit,
                    });
                });
                // postStart runs before the container counts as started.
                if let (Some(handler), Some(target)) = (
                    spec_def
                        .lifecycle
                        .as_ref()
                        .and_then(|l| l.post_start.clone()),
                    target.clone(),
                ) && let probe::Outcome::Failure(m) =
                    probe::hook(&target, &handler, self.grace().max(Duration::from_secs(30))).await
                {
                    self.ctx.recorder.warning(
                        &reference,
                        "FailedPostStartHook",
                        format!("PostStartHook failed: {m}"),
                    );
                    instance.stopping = Some("FailedPostStartHook".into());
                    instance.process.signal(libc::SIGKILL);
                }
                let probed = spec_def.startup_probe.is_some()
                    || spec_def.readiness_probe.is_some()
                    || spec_def.liveness_probe.is_some();
                if let Some(target) = target.filter(|_| probed) {
                    let (ptx, mut prx) = mpsc::unbounded_channel();
                    let tx = self.notes_tx.clone();
                    let probes = tokio::spawn(async move {
                        let run = probe::run(target, ptx);
                        let forward = async {
                            while let Some(signal) = prx.recv().await {
                                if tx
                                    .send(Note::Probe {
                                        init,
                                        index,
                                        generation,
                                        signal,
                                    })
                                    .is_err()
                                {
                                    return;
                                }
                            }
                        };
                        tokio::join!(run, forward);
                    });
                    instance.probes = Some(probes);
                }
                let slot = if init {
                    &mut self.init[index]
                } else {
                    &mut self.app[index]
                };
                slot.instance = Some(instance);
            }
        }
    }

    /// The pod is finished under its restart policy: stop what still runs
    /// (sidecars), release the sandbox, report the terminal phase.
    async fn finish(&mut self) {
        self.terminal = true;
        self.stop_containers(self.grace()).await;
        for s in self.init.iter_mut().chain(self.app.iter_mut()) {
            s.done = true;
        }
        if let Some(sandbox) = self.sandbox.take() {
            self.ctx.runtime.remove_sandbox(&sandbox).await;
        }
    }

    /// Stops every running container: preStop, SIGTERM, SIGKILL after
    /// `grace`, all containers at once; waits until they are gone.
    async fn stop_containers(&mut self, grace: Duration) {
        let mut stopping = Vec::new();
        for init in [true, false] {
            let n = if init {
                self.init.len()
            } else {
                self.app.len()
            };
            for i in 0..n {
                let slot = if init { &self.init[i] } else { &self.app[i] };
                let Some(instance) = &slot.instance else {
                    continue;
                };
                let name = slot.spec.name.clone();
                let target = slot_target(instance, &self.ctx, self.sandbox.as_ref());
                let hook = self.pre_stop(&target, &instance.definition);
                let process = instance.process.clone();
                let reference = self.reference(Some((&name, init)));
                self.ctx.recorder.normal(
                    &reference,
                    "Killing",
                    format!("Stopping container {name}"),
                );
                let recorder = self.ctx.recorder.clone();
                stopping.push(tokio::spawn(stop_process(
                    process, hook, grace, recorder, reference,
                )));
            }
        }
        for s in stopping {
            let _ = s.await;
        }
        // Collect the exits so the final status shows them.
        while self.init.iter().chain(self.app.iter()).any(|s| s.running()) {
            match tokio::time::timeout(Duration::from_secs(5), self.notes.recv()).await {
                Ok(Some(note)) => self.apply(note),
                _ => break,
            }
        }
        for s in self.init.iter_mut().chain(self.app.iter_mut()) {
            if s.instance.take().is_some() {
                s.done = true;
            }
        }
    }

    /// Stops everything and removes the sandbox (node shutdown, or the pod
    /// vanished from the API).
    async fn stop_everything(&mut self, grace: Duration, _report: bool) {
        self.terminal = true;
        self.stop_containers(grace).await;
        if let Some(sandbox) = self.sandbox.take() {
            self.ctx.runtime.remove_sandbox(&sandbox).await;
        }
    }

    /// Graceful deletion: stop, report, then delete the pod object.
    async fn terminate(&mut self) {
        let grace = self.grace();
        let name = self.name();
        tracing::debug!(pod = %name, ?grace, "terminating");
        // A later delete may shorten the grace period (or force-remove the
        // pod): stop waiting then.
        let mut input = self.input.clone();
        let processes: Vec<_> = self
            .init
            .iter()
            .chain(self.app.iter())
            .filter_map(|s| s.instance.as_ref().map(|i| i.process.clone()))
            .collect();
        {
            let stop = self.stop_everything(grace, true);
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    changed = input.changed() => {
                        let shorter = match (&input.borrow().pod, changed) {
                            (_, Err(_)) | (None, _) => true,
                            (Some(p), Ok(())) => p.metadata.deletion_grace_period_seconds.is_some_and(|g| Duration::from_secs(g.max(0) as u64) < grace),
                        };
                        if shorter {
                            for p in &processes {
                                p.signal(libc::SIGKILL);
                            }
                        }
                    }
                }
            }
        }
        self.report().await;
        let api = self.api();
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        let name = self.pod.metadata.name.clone().unwrap_or_default();
        for attempt in 0..5 {
            match api.delete(&name, &params).await {
                Ok(_) => break,
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => break,
                Err(e) => {
                    tracing::debug!(pod = %name, error = %e, attempt, "finishing the deletion failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
            }
        }
        self.cleanup();
    }

    /// Removes the pod's directory (emptyDirs, logs, generated files).
    fn cleanup(&self) {
        self.ctx.registry.remove(&self.key());
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Writes the status if it changed.
    async fn report(&mut self) {
        let Some(spec) = self.pod.spec.as_ref() else {
            return;
        };
        let view = View {
            spec,
            previous: self.pod.status.as_ref(),
            init: self.init.iter().map(Slot::view).collect(),
            app: self.app.iter().map(Slot::view).collect(),
            sandbox_ready: self.sandbox.is_some(),
            pod_ip: self.pod_ip.or_else(|| {
                self.pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.as_deref())
                    .and_then(|ip| ip.parse().ok())
            }),
            host_ip: self.ctx.host_ip,
            start_time: self.start_time,
            terminal: self.terminal,
            now: jiff::Timestamp::now(),
        };
        let status = status::pod_status(&view);
        if self.reported.as_ref() == Some(&status) {
            return;
        }
        let key = self.key();
        self.ctx.registry.set_status(&key, status.clone());
        let patch = serde_json::json!({ "status": status });
        match self
            .api()
            .patch_status(
                self.pod.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
        {
            Ok(_) => self.reported = Some(status),
            Err(e) => {
                tracing::debug!(pod = %self.name(), error = %e, "status update failed; will retry");
                self.retry_at = Some(Instant::now() + Duration::from_millis(500));
            }
        }
    }
}

fn key_of(pod: &Pod, uid: &str) -> registry::PodKey {
    registry::PodKey {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: uid.to_string(),
    }
}

/// Where a container's probes and hooks act.
fn slot_target<R: Runtime>(
    instance: &Instance,
    ctx: &Arc<Context<R>>,
    sandbox: Option<&Arc<R::Sandbox>>,
) -> Option<probe::Target> {
    let sandbox = Arc::clone(sandbox?);
    let ip = ctx.runtime.sandbox_ip(&sandbox);
    let runtime = Arc::clone(&ctx.runtime);
    let process = instance.process.clone();
    let spec = instance.spec.clone();
    Some(probe::Target {
        pod_ip: ip,
        container: Arc::clone(&instance.definition),
        exec: Arc::new(move |argv: &[String], tty: bool| {
            runtime.exec_command(&sandbox, &process, &spec, argv, tty)
        }),
    })
}

/// preStop (within the grace period), SIGTERM, then SIGKILL when the
/// grace period is over.
async fn stop_process(
    process: crate::runtime::Process,
    hook: Option<(probe::Target, k8s_openapi::api::core::v1::LifecycleHandler)>,
    grace: Duration,
    recorder: Recorder,
    reference: ObjectReference,
) {
    let deadline = Instant::now() + grace;
    if let Some((target, handler)) = hook {
        let limit = grace.max(Duration::from_secs(2));
        let outcome = tokio::time::timeout(limit, probe::hook(&target, &handler, limit)).await;
        match outcome {
            Ok(probe::Outcome::Failure(m)) => {
                recorder.warning(
                    &reference,
                    "FailedPreStopHook",
                    format!("PreStopHook failed: {m}"),
                );
            }
            Err(_) => recorder.warning(
                &reference,
                "FailedPreStopHook",
                "PreStopHook failed: the grace period ended first",
            ),
            Ok(probe::Outcome::Success) => {}
        }
    }
    process.signal(libc::SIGTERM);
    if tokio::time::timeout_at(deadline, process.wait())
        .await
        .is_err()
    {
        process.signal(libc::SIGKILL);
        process.wait().await;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`).
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}
