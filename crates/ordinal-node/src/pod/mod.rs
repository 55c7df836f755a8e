//! Pod workers: one task per pod bound to this node, which makes the pod
//! run and reports its status — kubelet's `syncPod`, one pod at a time.
//!
//! A worker wakes up when the pod object changes, a container exits, a
//! probe result changes, an image pull ends, the node's images change, a
//! back-off ends or a retry is due. It then observes its containers, asks
//! `actions::compute` (pure, the kubelet's `computePodActions`) what to
//! do, and does it:
//!
//! - create the sandbox: volumes, namespaces, address, hostname, the
//!   pod's `/etc` files — retried with an event while it fails;
//! - make each container's image present as its pull policy says
//!   (pulls run in the background and report back);
//! - start containers (their spec from `container::build`), kill the
//!   ones that changed or failed their probes, report back-offs;
//! - finish the pod when its restart policy says it is done.
//!
//! Then it writes the status if it changed. A pod with a
//! deletionTimestamp is terminated: preStop hooks, SIGTERM, SIGKILL after
//! the grace period, sandbox removed, then the pod object is deleted for
//! good. The worker owns the pod's processes; nothing else starts or
//! stops them.

mod actions;
mod backoff;
mod container;
mod env;
mod expand;
pub(crate) mod files;
pub mod images;
mod probe;
pub(crate) mod registry;
mod slot;
mod status;
mod status_writer;
mod volumes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod, PodStatus, Service};
use k8s_openapi::api::node::v1::RuntimeClass;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use ordinal_core::events::Recorder;
use ordinal_core::image_reference::Reference;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::runtime::{Exit, Runtime, RuntimeError, SandboxSpec};
use actions::{Action, ImageState, Kill, RestartPolicy, Which};
use images::{PullPolicy, text};
use slot::{Instance, Slot};
use status::{Termination, View};
use status_writer::StatusWriter;

/// What every worker shares.
pub(crate) struct Context<R: Runtime> {
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
    /// The node's images; `None` where containers can only be host
    /// programs (the agent is not root).
    pub images: Option<Arc<crate::images::Images>>,
    /// The most tasks a pod may have (`None`: unlimited).
    pub pod_pids_limit: Option<u64>,
    /// Every Service, as the node's watch last saw them: the source of
    /// containers' service variables, read from memory as the kubelet's
    /// service lister is, not asked of the API server at each start.
    pub services: Store<Service>,
}

/// How long a container start waits for the node's first list of
/// Services before it fails with `CreateContainerConfigError` (and is
/// tried again).
const SERVICES_LISTED: Duration = Duration::from_secs(10);

/// The worker's input: the latest pod object (None once it is gone from
/// the API), and whether the node is shutting down.
#[derive(Clone)]
pub(crate) struct Input {
    pub pod: Option<Arc<Pod>>,
    pub shutdown: bool,
}

/// Something a task of the worker's tells it.
enum Note {
    Exited {
        which: Which,
        generation: u64,
        exit: Exit,
    },
    Probe {
        which: Which,
        generation: u64,
        signal: probe::Signal,
    },
    Pulled {
        which: Which,
        attempt: u64,
        result: Box<Result<(ordinal_image::Image, Duration), String>>,
        waited: Duration,
    },
}

/// Retry delay for volumes, sandbox and configuration errors.
const RETRY: Duration = Duration::from_secs(2);
/// At most this much grace per pod when the node shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Grace for containers of a pod that vanished from the API.
const VANISHED_GRACE: Duration = Duration::from_secs(2);
/// How long a terminating pod waits for its last status to be written
/// before it is deleted anyway.
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Which runtime a pod's containers get (from its RuntimeClass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    /// Containers run their image (no runtime class, or handler `runc`).
    Image,
    /// Containers run programs of this machine (handler `host`).
    Host,
}

pub(crate) struct Worker<R: Runtime> {
    ctx: Arc<Context<R>>,
    input: watch::Receiver<Input>,
    pod: Arc<Pod>,
    uid: String,
    dir: PathBuf,
    sandbox: Option<Arc<R::Sandbox>>,
    handler: Handler,
    pod_ip: Option<IpAddr>,
    volumes: HashMap<String, volumes::Prepared>,
    init: Vec<Slot>,
    app: Vec<Slot>,
    notes: mpsc::UnboundedReceiver<Note>,
    notes_tx: mpsc::UnboundedSender<Note>,
    /// Fires when the node's images change (an import, a pull, a removal).
    images_changed: Option<watch::Receiver<u64>>,
    start_time: jiff::Timestamp,
    /// The pod finished under its restart policy: nothing starts again.
    terminal: bool,
    /// The next time a sync is due regardless of notes.
    retry_at: Option<Instant>,
    /// The last status handed to the writer (or read, at start).
    reported: Option<PodStatus>,
    /// Writes the pod's status, the newest first.
    status: StatusWriter,
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
        let images_changed = ctx.images.as_ref().map(|i| i.subscribe());
        let status = StatusWriter::spawn(
            Api::namespaced(
                ctx.client.clone(),
                pod.metadata.namespace.as_deref().unwrap_or("default"),
            ),
            pod.metadata.name.clone().unwrap_or_default(),
            uid.clone(),
        );
        Some(Worker {
            reported: pod.status.as_ref().map(status::own_part),
            status,
            ctx,
            input,
            pod,
            uid,
            dir,
            sandbox: None,
            handler: Handler::Image,
            pod_ip: None,
            volumes: HashMap::new(),
            init,
            app,
            notes,
            notes_tx,
            images_changed,
            start_time,
            terminal: false,
            retry_at: None,
            warned: HashMap::new(),
        })
    }

    fn reference(&self, container: Option<Which>) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: self.pod.metadata.name.clone(),
            namespace: self.pod.metadata.namespace.clone(),
            uid: self.pod.metadata.uid.clone(),
            resource_version: self.pod.metadata.resource_version.clone(),
            field_path: container.map(|w| {
                let name = &self.slot(w).spec.name;
                if w.init {
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

    /// Records a warning unless the same one was the last for its reason
    /// (retries and back-off notices repeat on every look).
    fn warn_once(&mut self, container: Option<Which>, reason: &str, message: String) {
        self.record_once(true, container, reason, message);
    }

    /// [`Self::warn_once`] for a normal event.
    fn normal_once(&mut self, container: Option<Which>, reason: &str, message: String) {
        self.record_once(false, container, reason, message);
    }

    fn record_once(
        &mut self,
        warning: bool,
        container: Option<Which>,
        reason: &str,
        message: String,
    ) {
        let key = format!("{warning}/{reason}/{container:?}");
        if self.warned.get(&key) == Some(&message) {
            return;
        }
        self.warned.insert(key, message.clone());
        let reference = self.reference(container);
        if warning {
            self.ctx.recorder.warning(&reference, reason, message);
        } else {
            self.ctx.recorder.normal(&reference, reason, message);
        }
    }

    fn normal(&self, container: Option<Which>, reason: &str, message: String) {
        self.ctx
            .recorder
            .normal(&self.reference(container), reason, message);
    }

    fn api(&self) -> Api<Pod> {
        Api::namespaced(
            self.ctx.client.clone(),
            self.pod.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }

    fn restart_policy(&self) -> RestartPolicy {
        RestartPolicy::parse(
            self.pod
                .spec
                .as_ref()
                .and_then(|s| s.restart_policy.as_deref()),
        )
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
        // Saturating: a huge grace period is "forever", never an overflow
        // of the clock.
        Duration::from_secs(seconds.clamp(0, 10 * 365 * 24 * 3600) as u64)
    }

    fn slot(&self, w: Which) -> &Slot {
        if w.init {
            &self.init[w.index]
        } else {
            &self.app[w.index]
        }
    }

    fn slot_mut(&mut self, w: Which) -> &mut Slot {
        if w.init {
            &mut self.init[w.index]
        } else {
            &mut self.app[w.index]
        }
    }

    /// Runs the pod until it is deleted or the node shuts down.
    pub async fn run(mut self) {
        loop {
            let input = self.input.borrow_and_update().clone();
            match input {
                Input { shutdown: true, .. } => {
                    self.stop_everything(self.grace().min(SHUTDOWN_GRACE)).await;
                    return;
                }
                Input { pod: None, .. } => {
                    self.stop_everything(VANISHED_GRACE).await;
                    self.cleanup();
                    return;
                }
                Input { pod: Some(pod), .. } => {
                    let deleting = pod.metadata.deletion_timestamp.is_some();
                    self.pod = pod;
                    self.refresh_definitions();
                    if deleting {
                        self.terminate().await;
                        return;
                    }
                    self.sync().await;
                }
            }
            self.report();
            let wake = self.next_wake();
            let images_changed = async {
                match self.images_changed.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = self.input.changed() => {
                    if changed.is_err() {
                        self.stop_everything(self.grace()).await;
                        return;
                    }
                }
                Some(note) = self.notes.recv() => self.apply(note),
                true = images_changed => self.images_arrived(),
                _ = sleep_until(wake) => {}
            }
            while let Ok(note) = self.notes.try_recv() {
                self.apply(note);
            }
        }
    }

    /// Takes the containers' definitions from the pod as it is now: a
    /// container whose definition changed (its image: the one field of a
    /// container an update may change) is restarted with the new one.
    fn refresh_definitions(&mut self) {
        let Some(spec) = self.pod.spec.as_ref() else {
            return;
        };
        let fresh = |slots: &mut Vec<Slot>, defs: &[Container]| {
            for slot in slots.iter_mut() {
                if let Some(def) = defs.iter().find(|d| d.name == slot.spec.name)
                    && *def != *slot.spec
                {
                    slot.redefine(def.clone());
                }
            }
        };
        fresh(&mut self.app, &spec.containers);
        fresh(
            &mut self.init,
            spec.init_containers.as_deref().unwrap_or_default(),
        );
    }

    fn observe(&self) -> (Vec<actions::Container>, Vec<actions::Container>) {
        (
            self.init.iter().map(Slot::observed).collect(),
            self.app.iter().map(Slot::observed).collect(),
        )
    }

    fn next_wake(&self) -> Option<Instant> {
        let now = Instant::now();
        let (init, app) = self.observe();
        let o = actions::Observed {
            policy: self.restart_policy(),
            terminal: self.terminal,
            sandbox_ready: self.sandbox.is_some(),
            init: &init,
            app: &app,
            now,
        };
        actions::next_wake(&o)
            .into_iter()
            .chain(self.retry_at)
            .chain(self.volumes.values().filter_map(|v| v.refresh_at))
            .min()
    }

    /// Writes a new ServiceAccount token into each volume whose token is
    /// due; a failure keeps the old token and tries again shortly.
    async fn refresh_tokens(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .volumes
            .iter()
            .filter(|(_, v)| v.refresh_at.is_some_and(|at| at <= now))
            .map(|(name, _)| name.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let rt = self.env_runtime();
        for name in due {
            match volumes::refresh(&self.ctx.client, &self.pod, &self.dir, &rt, &name).await {
                Ok(fresh) => {
                    self.volumes.insert(name, fresh);
                }
                Err(e) => {
                    tracing::warn!(volume = %name, error = %e, "refreshing a ServiceAccount token");
                    if let Some(v) = self.volumes.get_mut(&name) {
                        v.refresh_at = Some(now + Duration::from_secs(10));
                    }
                }
            }
        }
    }

    /// The node's images changed: containers waiting for an image they
    /// may take from the node look again at once.
    fn images_arrived(&mut self) {
        let Some(images) = self.ctx.images.clone() else {
            return;
        };
        for slot in self.init.iter_mut().chain(self.app.iter_mut()) {
            let waiting = matches!(slot.image, ImageState::BackOff { .. })
                || slot.waiting.0 == "ErrImageNeverPull";
            if !waiting || slot.running() {
                continue;
            }
            let Ok(reference) = Reference::parse(slot.spec.image.as_deref().unwrap_or("")) else {
                continue;
            };
            if images::pull_policy(&slot.spec, &reference) != PullPolicy::Always
                && images.lookup(&reference).is_some()
            {
                slot.image = ImageState::Unchecked;
            }
        }
    }

    fn apply(&mut self, note: Note) {
        match note {
            Note::Exited {
                which,
                generation,
                exit,
            } => self.exited(which, generation, exit),
            Note::Probe {
                which,
                generation,
                signal,
            } => {
                let current = self
                    .slot(which)
                    .instance
                    .as_ref()
                    .is_some_and(|i| i.generation == generation);
                if !current {
                    return;
                }
                let name = self.slot(which).spec.name.clone();
                match signal {
                    probe::Signal::Started => {
                        if let Some(i) = self.slot_mut(which).instance.as_mut() {
                            i.started = true;
                        }
                    }
                    probe::Signal::Ready(r) => {
                        if let Some(i) = self.slot_mut(which).instance.as_mut() {
                            i.ready = r;
                        }
                    }
                    probe::Signal::Unhealthy(m) => {
                        let r = self.reference(Some(which));
                        self.ctx.recorder.warning(&r, "Unhealthy", m);
                    }
                    probe::Signal::LivenessFailed(_) | probe::Signal::StartupFailed(_) => {
                        let kind = if matches!(signal, probe::Signal::LivenessFailed(_)) {
                            "liveness"
                        } else {
                            "startup"
                        };
                        if let Some(i) = self.slot_mut(which).instance.as_mut() {
                            i.unhealthy = Some(format!(
                                "Container {name} failed {kind} probe, will be restarted"
                            ));
                        }
                    }
                }
            }
            Note::Pulled {
                which,
                attempt,
                result,
                waited,
            } => self.pulled(which, attempt, *result, waited),
        }
    }

    /// A container instance ended: how, and whether it comes back.
    fn exited(&mut self, which: Which, generation: u64, exit: Exit) {
        let policy = self.restart_policy();
        let terminal = self.terminal;
        let dir = self.dir.clone();
        let key = self.key();
        let slot = self.slot_mut(which);
        let Some(instance) = slot.instance.take_if(|i| i.generation == generation) else {
            return;
        };
        let container = slot.spec.name.clone();
        let ran = (exit.at - instance.process.started_at)
            .try_into()
            .unwrap_or(Duration::ZERO);
        let reason = if exit.oom_killed {
            "OOMKilled"
        } else {
            Termination::reason_for(exit.code)
        };
        slot.last = Some(Termination {
            exit_code: exit.code,
            signal: exit.signal,
            reason: reason.to_string(),
            message: container::termination_message(
                &instance.definition,
                &dir,
                &instance.spec.log,
                exit.code,
            ),
            started_at: Some(instance.process.started_at),
            finished_at: exit.at,
            container_id: Some(format!("ordinal://{}", instance.process.id)),
        });
        let restart = if slot.sidecar {
            true
        } else if which.init {
            exit.code != 0 && policy != RestartPolicy::Never
        } else {
            match policy {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => exit.code != 0,
                RestartPolicy::Never => false,
            }
        };
        if !restart || terminal {
            slot.done = true;
        } else {
            slot.delay = slot.backoff.next(ran);
            slot.not_before = Some(Instant::now() + slot.delay);
        }
        self.ctx.registry.stopped(&key, &container);
    }

    /// A pull ended.
    fn pulled(
        &mut self,
        which: Which,
        attempt: u64,
        result: Result<(ordinal_image::Image, Duration), String>,
        waited: Duration,
    ) {
        if self.slot(which).pull_attempt != attempt {
            return;
        }
        let image_name = self.slot(which).spec.image.clone().unwrap_or_default();
        match result {
            Ok((image, took)) => {
                self.normal(
                    Some(which),
                    "Pulled",
                    text::pulled(&image_name, took, waited, image.size),
                );
                let slot = self.slot_mut(which);
                slot.image = ImageState::Ready;
                slot.pulled = Some(Arc::new(image));
                slot.pull_delay = None;
                slot.pull_error = None;
            }
            Err(message) => {
                let reference = self.reference(Some(which));
                self.ctx.recorder.warning(
                    &reference,
                    "Failed",
                    text::failed(&image_name, &message),
                );
                self.ctx
                    .recorder
                    .warning(&reference, "Failed", "Error: ErrImagePull");
                let slot = self.slot_mut(which);
                let delay = images::next_pull_backoff(slot.pull_delay);
                slot.pull_delay = Some(delay);
                slot.image = ImageState::BackOff {
                    until: Instant::now() + delay,
                };
                slot.waiting = ("ErrImagePull".into(), Some(message.clone()));
                slot.pull_error = Some(message);
                slot.pull_failed_at = Some(Instant::now());
            }
        }
    }

    async fn sync(&mut self) {
        self.retry_at = None;
        self.refresh_tokens().await;
        // A pass can make the next one possible at once (the sandbox is
        // made, an image is already here): go on while it does, so a pod
        // whose image is present starts in one sync.
        for _ in 0..4 {
            let now = Instant::now();
            let (init, app) = self.observe();
            let todo = actions::compute(&actions::Observed {
                policy: self.restart_policy(),
                terminal: self.terminal,
                sandbox_ready: self.sandbox.is_some(),
                init: &init,
                app: &app,
                now,
            });
            let mut progressed = false;
            for action in todo {
                progressed |= self.act(action).await;
            }
            if !progressed {
                return;
            }
        }
    }

    /// Carries out one action; true when it changed what the next
    /// decision sees (so another pass may do more at once).
    async fn act(&mut self, action: Action) -> bool {
        match action {
            Action::CreateSandbox => {
                if self.setup().await {
                    true
                } else {
                    self.retry_at = Some(Instant::now() + RETRY);
                    false
                }
            }
            Action::EnsureImage(w) => self.ensure_image(w).await,
            Action::Start(w) => {
                self.start(w).await;
                // An init container that started may let the next one go
                // once it is done; that comes with its exit.
                false
            }
            Action::RestartBackOff(w) => {
                self.restart_back_off(w);
                false
            }
            Action::ImageBackOff(w) => {
                self.image_back_off(w);
                false
            }
            Action::Kill(w, why) => {
                let name = self.slot(w).spec.name.clone();
                let message = match why {
                    Kill::DefinitionChanged => {
                        format!("Container {name} definition changed, will be restarted")
                    }
                    Kill::Unhealthy => self
                        .slot(w)
                        .instance
                        .as_ref()
                        .and_then(|i| i.unhealthy.clone())
                        .unwrap_or_else(|| format!("Container {name} is unhealthy")),
                };
                self.stop_instance(w, message);
                false
            }
            Action::Finish => {
                self.finish().await;
                false
            }
        }
    }

    fn pod_label(&self) -> String {
        format!(
            "{}_{}({})",
            self.pod.metadata.name.as_deref().unwrap_or(""),
            self.pod.metadata.namespace.as_deref().unwrap_or(""),
            self.uid
        )
    }

    fn restart_back_off(&mut self, w: Which) {
        let slot = self.slot(w);
        let name = slot.spec.name.clone();
        let message = format!(
            "back-off {} restarting failed container={name} pod={}",
            text::go_duration(slot.delay),
            self.pod_label()
        );
        self.slot_mut(w).waiting = ("CrashLoopBackOff".into(), Some(message));
        let warning = format!(
            "Back-off restarting failed container {name} in pod {}",
            self.pod_label()
        );
        self.warn_once(Some(w), "BackOff", warning);
    }

    fn image_back_off(&mut self, w: Which) {
        // The failure itself shows for a moment (ErrImagePull), then the
        // back-off while it lasts, as the kubelet's pod worker shows them.
        if let Some(failed) = self.slot(w).pull_failed_at
            && failed + RETRY > Instant::now()
        {
            let at = failed + RETRY;
            self.retry_at = Some(self.retry_at.map_or(at, |t| t.min(at)));
            return;
        }
        let slot = self.slot(w);
        let image = slot.spec.image.clone().unwrap_or_default();
        let error = slot.pull_error.clone().unwrap_or_default();
        self.slot_mut(w).waiting = (
            "ImagePullBackOff".into(),
            Some(text::back_off_message(&image, &error)),
        );
        self.normal_once(Some(w), "BackOff", text::back_off(&image));
        self.warn_once(Some(w), "Failed", "Error: ImagePullBackOff".into());
    }

    /// Makes the container's image present as its pull policy says: true
    /// when it is ready now; otherwise a pull was started (it reports
    /// back) or the container waits with the reason set.
    async fn ensure_image(&mut self, w: Which) -> bool {
        if self.handler == Handler::Host {
            let slot = self.slot_mut(w);
            slot.image = ImageState::Ready;
            slot.pulled = None;
            return true;
        }
        let image_name = self.slot(w).spec.image.clone().unwrap_or_default();
        let Some(images) = self.ctx.images.clone() else {
            let message = "container images need the node agent to run as root; without it pods \
                           run host programs only (runtimeClassName: host)"
                .to_string();
            self.slot_mut(w).waiting = ("CreateContainerError".into(), Some(message.clone()));
            self.warn_once(Some(w), "Failed", format!("Error: {message}"));
            return false;
        };
        let reference = match Reference::parse(&image_name) {
            Ok(r) => r,
            Err(e) => {
                let message = e.to_string();
                self.slot_mut(w).waiting = ("InvalidImageName".into(), Some(message.clone()));
                self.warn_once(Some(w), "InspectFailed", message);
                self.warn_once(Some(w), "Failed", "Error: InvalidImageName".into());
                return false;
            }
        };
        let policy = images::pull_policy(&self.slot(w).spec, &reference);
        let present = images.lookup(&reference);
        match (policy, present) {
            (PullPolicy::Never | PullPolicy::IfNotPresent, Some(image)) => {
                self.normal(Some(w), "Pulled", text::present(&image_name));
                let slot = self.slot_mut(w);
                slot.image = ImageState::Ready;
                slot.pulled = Some(Arc::new(image));
                true
            }
            (PullPolicy::Never, None) => {
                let message = text::never_pull(&image_name);
                self.slot_mut(w).waiting = ("ErrImageNeverPull".into(), Some(message.clone()));
                self.warn_once(Some(w), "ErrImageNeverPull", message);
                self.warn_once(Some(w), "Failed", "Error: ErrImageNeverPull".into());
                false
            }
            _ => {
                self.normal(Some(w), "Pulling", text::pulling(&image_name));
                let slot = self.slot_mut(w);
                slot.image = ImageState::Pulling;
                slot.pull_attempt += 1;
                let attempt = slot.pull_attempt;
                let (tx, client, pod) = (
                    self.notes_tx.clone(),
                    self.ctx.client.clone(),
                    Arc::clone(&self.pod),
                );
                tokio::spawn(async move {
                    let began = std::time::Instant::now();
                    let credentials =
                        crate::images::pull_credentials(&client, &pod, &reference).await;
                    let pulling = std::time::Instant::now();
                    let result = images
                        .pull(&reference, credentials)
                        .await
                        .map(|image| (image, pulling.elapsed()))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Note::Pulled {
                        which: w,
                        attempt,
                        result: Box::new(result),
                        waited: began.elapsed(),
                    });
                });
                false
            }
        }
    }

    /// Stops a running instance in the background (preStop, SIGTERM,
    /// SIGKILL after the grace period), with a `Killing` event saying why.
    /// Its exit arrives as a note like any other.
    fn stop_instance(&mut self, w: Which, why: String) {
        let grace = self.grace();
        let (process, hook) = {
            let slot = self.slot(w);
            let Some(instance) = slot.instance.as_ref().filter(|i| i.stopping.is_none()) else {
                return;
            };
            let target = slot_target(instance, &self.ctx, self.sandbox.as_ref());
            (
                instance.process.clone(),
                pre_stop(&target, &instance.definition),
            )
        };
        if let Some(i) = self.slot_mut(w).instance.as_mut() {
            i.stopping = Some(why.clone());
        }
        let reference = self.reference(Some(w));
        self.ctx.recorder.normal(&reference, "Killing", why);
        let recorder = self.ctx.recorder.clone();
        tokio::spawn(stop_process(process, hook, grace, recorder, reference));
    }

    /// The pod's runtime, from its RuntimeClass.
    async fn handler(&self) -> Result<Handler, String> {
        let Some(class) = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.runtime_class_name.clone())
        else {
            return Ok(Handler::Image);
        };
        let api: Api<RuntimeClass> = Api::all(self.ctx.client.clone());
        let found = api
            .get_opt(&class)
            .await
            .map_err(|e| format!("looking up RuntimeClass {class:?}: {e}"))?;
        let Some(found) = found else {
            return Err(format!("RuntimeClass {class:?} not found"));
        };
        match found.handler.as_str() {
            "host" => Ok(Handler::Host),
            // containerd's default handler: the image runtime.
            "runc" | "ordinal" => Ok(Handler::Image),
            other => Err(format!(
                "rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for {other:?} is configured"
            )),
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
        match self.handler().await {
            Ok(h) => self.handler = h,
            Err(e) => {
                self.warn_once(
                    None,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {e}"),
                );
                return false;
            }
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
            limits: {
                let mut limits = self
                    .pod
                    .spec
                    .as_ref()
                    .map(crate::runtime::cgroups::pod_limits_of)
                    .unwrap_or_default();
                limits.pids = self.ctx.pod_pids_limit;
                limits
            },
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
        self.ctx.registry.sandbox_ready(
            &self.key(),
            crate::streaming::PodNetwork {
                sandbox: self.uid.clone(),
                netns: self.ctx.runtime.sandbox_netns(&sandbox),
            },
        );
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

    /// The ConfigMaps and Secrets a container's environment refers to.
    async fn env_sources(&self, c: &Container) -> Result<env::Sources, String> {
        let ns = self.pod.metadata.namespace.as_deref().unwrap_or("default");
        let (cms, secrets) = env::references(c);
        let mut sources = env::Sources::default();
        let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.ctx.client.clone(), ns);
        for name in cms {
            if let Some(o) = config_maps
                .get_opt(&name)
                .await
                .map_err(|e| e.to_string())?
            {
                sources.config_maps.insert(name, o);
            }
        }
        let secret_api: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(self.ctx.client.clone(), ns);
        for name in secrets {
            if let Some(o) = secret_api.get_opt(&name).await.map_err(|e| e.to_string())? {
                sources.secrets.insert(name, o);
            }
        }
        sources.services = env::service_env(&self.services(ns).await?);
        Ok(sources)
    }

    /// The Services whose variables a container in `ns` gets: the API
    /// server's always, the namespace's own (by name) unless the pod turns
    /// service links off; the kubelet's order, the namespace's winning over
    /// the master's.
    async fn services(&self, ns: &str) -> Result<Vec<Service>, String> {
        let store = &self.ctx.services;
        if !matches!(
            tokio::time::timeout(SERVICES_LISTED, store.wait_until_ready()).await,
            Ok(Ok(()))
        ) {
            return Err(
                "the node has not listed Services yet, so it cannot make the service variables; \
                 check that it can list and watch services"
                    .into(),
            );
        }
        let master = ObjectRef::new("kubernetes").within("default");
        let mut services: Vec<Service> = store
            .get(&master)
            .map(|s| (*s).clone())
            .into_iter()
            .collect();
        let links = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        if links {
            let mut own: Vec<Service> = store
                .state()
                .iter()
                .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
                .filter(|s| !(ns == "default" && s.metadata.name.as_deref() == Some("kubernetes")))
                .map(|s| (**s).clone())
                .collect();
            own.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            services.extend(own);
        }
        Ok(services)
    }

    /// What the runtime needs to start a container, or why it cannot.
    async fn container_spec(
        &self,
        w: Which,
        restart_count: i32,
    ) -> Result<crate::runtime::ContainerSpec, container::Refusal> {
        let slot = self.slot(w);
        let c = Arc::clone(&slot.spec);
        let sources = self
            .env_sources(&c)
            .await
            .map_err(|e| ("CreateContainerConfigError".to_string(), e))?;
        let image = match (&slot.pulled, &self.ctx.images) {
            (Some(image), Some(images)) => Some((
                Arc::clone(image),
                images
                    .root(image)
                    .map_err(|e| ("CreateContainerError".to_string(), e))?,
            )),
            _ => None,
        };
        let rt = self.env_runtime();
        container::build(&container::Inputs {
            pod: &self.pod,
            container: &c,
            sources: &sources,
            runtime: &rt,
            volumes: &self.volumes,
            pod_dir: &self.dir,
            domain: &self.ctx.dns.domain,
            restart_count,
            image: image.as_ref().map(|(img, root)| container::ImageInput {
                config: &img.config,
                root: root.clone(),
            }),
        })
    }

    /// Starts the container (its back-off is over and its image ready).
    async fn start(&mut self, w: Which) {
        let (name, definition, restart_count) = {
            let slot = self.slot(w);
            let restart_count = if slot.starts > 0 {
                slot.restart_count + 1
            } else {
                slot.restart_count
            };
            (
                slot.spec.name.clone(),
                Arc::clone(&slot.spec),
                restart_count,
            )
        };
        let image_id = match (&self.slot(w).pulled, &self.ctx.images) {
            (Some(image), Some(images)) => {
                images.used_by(&self.uid, image);
                image.repo_digests.first().unwrap_or(&image.id).clone()
            }
            _ => String::new(),
        };
        // Another image (an in-place update) is a new container, whose
        // root starts from the new image alone.
        container::own_root_for(&self.dir, &name, &image_id);
        let spec = match self.container_spec(w, restart_count).await {
            Ok(s) => s,
            Err((reason, message)) => {
                self.warn_once(Some(w), "Failed", format!("Error: {message}"));
                self.slot_mut(w).waiting = (reason, Some(message));
                self.retry_at = Some(Instant::now() + RETRY);
                return;
            }
        };
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        let reference = self.reference(Some(w));
        let policy = self.restart_policy();
        let began = std::time::Instant::now();
        let started = self.ctx.runtime.start_container(&sandbox, &spec).await;
        tracing::debug!(pod = %self.name(), container = %name, took_ms = began.elapsed().as_secs_f64() * 1e3, "container started");
        let slot = self.slot_mut(w);
        slot.restart_count = restart_count;
        slot.starts += 1;
        slot.not_before = None;
        // The next start looks at the image again, as its policy says.
        slot.image = ImageState::Unchecked;
        let generation = slot.starts;
        let process = match started {
            Err(e) => {
                let message = match &e {
                    RuntimeError::Start(m) | RuntimeError::Sandbox(m) => m.clone(),
                };
                slot.last = Some(Termination {
                    exit_code: 128,
                    signal: None,
                    reason: "StartError".into(),
                    message: Some(message.clone()),
                    started_at: None,
                    finished_at: jiff::Timestamp::now(),
                    container_id: None,
                });
                if slot.sidecar || policy != RestartPolicy::Never {
                    slot.delay = slot.backoff.next(Duration::ZERO);
                    slot.not_before = Some(Instant::now() + slot.delay);
                    slot.waiting = ("RunContainerError".into(), Some(message.clone()));
                } else {
                    slot.done = true;
                }
                self.ctx
                    .recorder
                    .warning(&reference, "Failed", format!("Error: {message}"));
                return;
            }
            Ok(process) => process,
        };
        slot.image_id = image_id;
        let instance = Instance {
            process,
            spec,
            definition,
            generation,
            started: false,
            ready: false,
            probes: None,
            stopping: None,
            unhealthy: None,
        };
        self.running(w, instance, sandbox).await;
    }

    /// A container instance runs: its events, the exit watcher, its
    /// postStart hook, its probes.
    async fn running(&mut self, w: Which, mut instance: Instance, sandbox: Arc<R::Sandbox>) {
        let reference = self.reference(Some(w));
        let name = self.slot(w).spec.name.clone();
        let (process, definition, generation) = (
            instance.process.clone(),
            Arc::clone(&instance.definition),
            instance.generation,
        );
        self.ctx
            .recorder
            .normal(&reference, "Created", format!("Created container: {name}"));
        self.ctx
            .recorder
            .normal(&reference, "Started", format!("Started container {name}"));
        // Without startup and readiness probes a container is started and
        // ready once it runs: say so in the same status write instead of
        // waiting for the probe task to tell.
        let unprobed = definition.startup_probe.is_none();
        instance.started = unprobed;
        instance.ready = unprobed && definition.readiness_probe.is_none();
        let target = slot_target(&instance, &self.ctx, Some(&sandbox));
        if let Some(target) = &target {
            self.ctx.registry.started(
                &self.key(),
                &name,
                &format!("ordinal://{}", process.id),
                &process.log,
                Arc::clone(&target.exec),
                process.console.clone(),
            );
        }
        let tx = self.notes_tx.clone();
        tokio::spawn(async move {
            let exit = process.wait().await;
            let _ = tx.send(Note::Exited {
                which: w,
                generation,
                exit,
            });
        });
        // postStart runs before the container counts as started.
        if let (Some(handler), Some(target)) = (
            definition
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
        let probed = definition.startup_probe.is_some()
            || definition.readiness_probe.is_some()
            || definition.liveness_probe.is_some();
        if let Some(target) = target.filter(|_| probed) {
            let (ptx, mut prx) = mpsc::unbounded_channel();
            let tx = self.notes_tx.clone();
            let probes = tokio::spawn(async move {
                let run = probe::run(target, ptx);
                let forward = async {
                    while let Some(signal) = prx.recv().await {
                        let note = Note::Probe {
                            which: w,
                            generation,
                            signal,
                        };
                        if tx.send(note).is_err() {
                            return;
                        }
                    }
                };
                tokio::join!(run, forward);
            });
            instance.probes = Some(probes);
        }
        self.slot_mut(w).instance = Some(instance);
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
        let all = (0..self.init.len())
            .map(Which::init)
            .chain((0..self.app.len()).map(Which::app));
        for w in all {
            let slot = self.slot(w);
            let Some(instance) = &slot.instance else {
                continue;
            };
            let name = slot.spec.name.clone();
            let target = slot_target(instance, &self.ctx, self.sandbox.as_ref());
            let hook = pre_stop(&target, &instance.definition);
            let process = instance.process.clone();
            let reference = self.reference(Some(w));
            self.ctx
                .recorder
                .normal(&reference, "Killing", format!("Stopping container {name}"));
            let recorder = self.ctx.recorder.clone();
            stopping.push(tokio::spawn(stop_process(
                process, hook, grace, recorder, reference,
            )));
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
    async fn stop_everything(&mut self, grace: Duration) {
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
            let stop = self.stop_everything(grace);
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
        // The containers' last states reach the API before the pod goes.
        self.report();
        self.status.flush(FLUSH_LIMIT).await;
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
        if let Some(images) = &self.ctx.images {
            images.released_by(&self.uid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Hands the status to the writer if it changed.
    fn report(&mut self) {
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
        // Only what the node writes counts: a gate that opened or closed
        // changes the Ready it computes, not the status on its own.
        let status = status::pod_status(&view);
        if self.reported.as_ref() == Some(&status) {
            return;
        }
        self.ctx.registry.set_status(&self.key(), status.clone());
        self.status.send(status.clone());
        self.reported = Some(status);
    }
}

fn key_of(pod: &Pod, uid: &str) -> registry::PodKey {
    registry::PodKey {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: uid.to_string(),
    }
}

/// The pre-stop hook of a container, ready to run.
fn pre_stop(
    target: &Option<probe::Target>,
    c: &Container,
) -> Option<(probe::Target, k8s_openapi::api::core::v1::LifecycleHandler)> {
    let handler = c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone())?;
    Some((target.clone()?, handler))
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
        direct: instance.process.direct.clone(),
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
