//! The pod status the agent reports, as kubelet computes it: the phase
//! from the container states (upstream's `getPhase`), the container
//! statuses, and the kubelet-owned conditions (PodReadyToStartContainers,
//! Initialized, ContainersReady, Ready) with their reasons and messages.
//! Pure: the worker describes what it knows in a [`View`]; this module
//! turns it into the API's `PodStatus`.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, PodCondition, PodIP, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Termination {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: jiff::Timestamp,
    pub container_id: Option<String>,
}

impl Termination {
    /// `Completed` or `Error`, from the exit code.
    pub fn reason_for(code: i32) -> &'static str {
        if code == 0 { "Completed" } else { "Error" }
    }
}

/// Where a container is now.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: jiff::Timestamp,
        container_id: String,
        ready: bool,
        /// Startup probe passed (or none).
        started: bool,
    },
    Terminated(Termination),
}

/// One container as the worker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    /// The image the container was created from (`imageID`): its repo
    /// digest, else its ID; empty before the first start.
    pub image_id: String,
    pub state: State,
    pub last: Option<Termination>,
    pub restart_count: i32,
    /// A sidecar: an init container with restartPolicy Always.
    pub sidecar: bool,
}

/// What the worker knows of its pod.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub spec: &'a PodSpec,
    /// The status currently stored (for transition times and conditions
    /// other components own).
    pub previous: Option<&'a PodStatus>,
    pub init: Vec<ContainerView>,
    pub app: Vec<ContainerView>,
    /// The sandbox exists and has its network.
    pub sandbox_ready: bool,
    pub pod_ip: Option<IpAddr>,
    pub host_ip: IpAddr,
    pub start_time: jiff::Timestamp,
    /// The pod is done for good (deleted, or finished under its restart
    /// policy): no container will start again.
    pub terminal: bool,
    pub now: jiff::Timestamp,
}

/// A time as the API keeps it: RFC 3339 to the second. A status made
/// with finer times would never equal the one read back, and every
/// comparison with it would call for another write (the kubelet
/// normalizes its statuses the same way before comparing).
fn time(t: jiff::Timestamp) -> Time {
    Time(jiff::Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// The container status in the API's form.
pub fn container_status(c: &ContainerView) -> ContainerStatus {
    let terminated = |t: &Termination| ContainerStateTerminated {
        exit_code: t.exit_code,
        signal: t.signal,
        reason: Some(t.reason.clone()),
        message: t.message.clone(),
        started_at: t.started_at.map(time),
        finished_at: Some(time(t.finished_at)),
        container_id: t.container_id.clone(),
    };
    let (state, ready, started, id) = match &c.state {
        State::Waiting { reason, message } => (
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..Default::default()
            },
            false,
            false,
            c.last.as_ref().and_then(|l| l.container_id.clone()),
        ),
        State::Running {
            started_at,
            container_id,
            ready,
            started,
        } => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(time(*started_at)),
                }),
                ..Default::default()
            },
            *ready,
            *started,
            Some(container_id.clone()),
        ),
        State::Terminated(t) => (
            ContainerState {
                terminated: Some(terminated(t)),
                ..Default::default()
            },
            false,
            false,
            t.container_id.clone(),
        ),
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        container_id: id,
        ready,
        started: Some(started),
        restart_count: c.restart_count,
        state: Some(state),
        last_state: Some(match &c.last {
            Some(t) => ContainerState {
                terminated: Some(terminated(t)),
                ..Default::default()
            },
            None => ContainerState::default(),
        }),
        ..Default::default()
    }
}

/// The phase, as upstream's `getPhase` decides it.
pub fn phase(view: &View<'_>) -> &'static str {
    let policy = view.spec.restart_policy.as_deref().unwrap_or("Always");
    let (mut pending_init, mut failed_init) = (0, 0);
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for c in &view.init {
        if c.sidecar {
            match &c.state {
                State::Running { started, .. } => {
                    if !started {
                        pending_init += 1;
                    }
                    running += 1;
                }
                State::Terminated(_) => {}
                State::Waiting { .. } => {
                    if c.last.is_none() {
                        pending_init += 1;
                        waiting += 1;
                    }
                }
            }
            continue;
        }
        match &c.state {
            State::Running { .. } => pending_init += 1,
            State::Terminated(t) => {
                if t.exit_code != 0 {
                    failed_init += 1;
                }
            }
            State::Waiting { .. } => match &c.last {
                Some(l) if l.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            },
        }
    }
    for c in &view.app {
        match &c.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            State::Waiting { .. } => {
                if c.last.is_some() {
                    stopped += 1
                } else {
                    waiting += 1
                }
            }
        }
    }
    if view.app.is_empty() {
        unknown += 1;
    }
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    let any_regular_started = view
        .app
        .iter()
        .any(|c| !matches!(c.state, State::Waiting { .. }) || c.last.is_some());
    if (pending_init > 0 && !any_regular_started) || waiting > 0 {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if view.terminal {
            return if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

/// Whether the node sets conditions of this type; the others (readiness
/// gates', disruption targets…) belong to someone else, and a status write
/// of the node leaves them to the API server's copy.
pub fn is_own(condition_type: &str) -> bool {
    matches!(
        condition_type,
        "PodReadyToStartContainers" | "Initialized" | "Ready" | "ContainersReady" | "PodScheduled"
    )
}

/// The part of a status the node writes (what [`pod_status`] makes):
/// all of it but the conditions other components own.
pub fn own_part(status: &PodStatus) -> PodStatus {
    let mut own = status.clone();
    if let Some(conditions) = own.conditions.as_mut() {
        conditions.retain(|c| is_own(&c.type_));
    }
    own
}

/// The node's status as a strategic merge patch: conditions merge by
/// type, so only the node's own are sent, each whole (a field it no longer
/// has is sent as null), and a condition someone else set since the node
/// last saw the pod — a readiness gate's — is not written back over.
/// `podIPs` and `hostIPs` merge by address too, but they are the node's
/// alone: they replace what is stored (`$patch: replace`), so a pod whose
/// address changed — its node agent restarted on another range — never
/// has both, which the API server refuses.
pub fn as_patch(status: &PodStatus) -> serde_json::Value {
    let mut value = serde_json::to_value(status).unwrap_or_default();
    for key in ["podIPs", "hostIPs"] {
        if let Some(list) = value.get_mut(key).and_then(|l| l.as_array_mut()) {
            list.push(serde_json::json!({"$patch": "replace"}));
        }
    }
    let own: Vec<serde_json::Value> = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| is_own(&c.type_))
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if let Some(fields) = v.as_object_mut() {
                for key in [
                    "reason",
                    "message",
                    "lastProbeTime",
                    "lastTransitionTime",
                    "observedGeneration",
                ] {
                    fields.entry(key).or_insert(serde_json::Value::Null);
                }
            }
            v
        })
        .collect();
    if let Some(fields) = value.as_object_mut() {
        fields.insert("conditions".into(), serde_json::Value::Array(own));
    }
    value
}

/// Makes the pod's conditions, keeping each one's transition time while
/// its status stays.
struct Conditions<'a> {
    previous: &'a [PodCondition],
    now: jiff::Timestamp,
}

impl Conditions<'_> {
    fn make(
        &self,
        kind: &str,
        ok: bool,
        reason: Option<&str>,
        message: Option<String>,
    ) -> PodCondition {
        let status = if ok { "True" } else { "False" };
        let since = self
            .previous
            .iter()
            .find(|c| c.type_ == kind && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| time(self.now));
        PodCondition {
            type_: kind.to_string(),
            status: status.to_string(),
            reason: reason.map(str::to_string),
            message,
            last_transition_time: Some(since),
            last_probe_time: None,
            observed_generation: None,
        }
    }

    /// Whether every readiness gate's condition, set by someone else, is
    /// True.
    fn gates_open(&self, spec: &PodSpec) -> bool {
        spec.readiness_gates.iter().flatten().all(|g| {
            self.previous
                .iter()
                .any(|c| c.type_ == g.condition_type && c.status == "True")
        })
    }

    /// `Initialized`: every init container done (sidecars started).
    fn initialized(&self, view: &View<'_>, phase: &str) -> PodCondition {
        let incomplete: Vec<String> = view
            .init
            .iter()
            .filter(|c| {
                if c.sidecar {
                    !matches!(c.state, State::Running { started: true, .. })
                } else {
                    !matches!(&c.state, State::Terminated(t) if t.exit_code == 0)
                }
            })
            .map(|c| c.name.clone())
            .collect();
        if incomplete.is_empty() || phase == "Succeeded" {
            let completed = phase == "Succeeded" && !incomplete.is_empty();
            self.make(
                "Initialized",
                true,
                completed.then_some("PodCompleted"),
                None,
            )
        } else {
            let message = format!(
                "containers with incomplete status: {}",
                go_list(&incomplete)
            );
            self.make(
                "Initialized",
                false,
                Some("ContainersNotInitialized"),
                Some(message),
            )
        }
    }

    /// `Ready` and `ContainersReady`.
    fn ready(&self, view: &View<'_>, phase: &str, initialized: bool) -> [PodCondition; 2] {
        let unready: Vec<String> = view
            .init
            .iter()
            .filter(|c| c.sidecar)
            .chain(view.app.iter())
            .filter(|c| !matches!(c.state, State::Running { ready: true, .. }))
            .map(|c| c.name.clone())
            .collect();
        let not_ready = || {
            let message = format!("containers with unready status: {}", go_list(&unready));
            (false, Some("ContainersNotReady"), Some(message))
        };
        let (ready, reason, message) = if phase == "Succeeded" {
            (false, Some("PodCompleted"), None)
        } else if !initialized || !unready.is_empty() {
            not_ready()
        } else {
            (true, None, None)
        };
        let pod_ready = if ready && !self.gates_open(view.spec) {
            let message = "the status of pod readiness gate is not \"True\"".to_string();
            self.make(
                "Ready",
                false,
                Some(ordinal_core::pod::READINESS_GATES_NOT_READY),
                Some(message),
            )
        } else {
            self.make("Ready", ready, reason, message.clone())
        };
        [
            pod_ready,
            self.make("ContainersReady", ready, reason, message),
        ]
    }
}

/// The status the agent reports: all of it but the conditions other
/// components own (a readiness gate's), which it only reads.
pub fn pod_status(view: &View<'_>) -> PodStatus {
    let phase = phase(view);
    let finished = phase == "Succeeded" || phase == "Failed";
    let init: Vec<ContainerStatus> = view.init.iter().map(container_status).collect();
    let app: Vec<ContainerStatus> = view.app.iter().map(container_status).collect();

    let previous = view
        .previous
        .and_then(|p| p.conditions.clone())
        .unwrap_or_default();
    let make = Conditions {
        previous: &previous,
        now: view.now,
    };
    let mut conditions = vec![make.make(
        "PodReadyToStartContainers",
        view.sandbox_ready && !finished,
        None,
        None,
    )];
    let initialized = make.initialized(view, phase);
    let is_initialized = initialized.status == "True";
    conditions.push(initialized);
    conditions.extend(make.ready(view, phase, is_initialized));
    conditions.push(
        previous
            .iter()
            .find(|c| c.type_ == "PodScheduled")
            .cloned()
            .unwrap_or_else(|| make.make("PodScheduled", true, None, None)),
    );

    let pod_ip = view.pod_ip.map(|ip| ip.to_string());
    PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions),
        host_ip: Some(view.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: view.host_ip.to_string(),
        }]),
        pod_ip: pod_ip.clone(),
        pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
        start_time: Some(time(view.start_time)),
        init_container_statuses: (!init.is_empty()).then_some(init),
        container_statuses: Some(app),
        qos_class: Some(qos_class(view.spec).to_string()),
        ..Default::default()
    }
}

/// BestEffort, Burstable or Guaranteed, as upstream's `GetPodQOS`.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let r = c.resources.as_ref();
        let requests = r.and_then(|r| r.requests.as_ref());
        let limits = r.and_then(|r| r.limits.as_ref());
        for resource in ["cpu", "memory"] {
            let req = requests.and_then(|m| m.get(resource));
            let lim = limits.and_then(|m| m.get(resource));
            if req.is_some() || lim.is_some() {
                any = true;
            }
            match (req, lim) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q != l => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_patch_carries_only_the_nodes_conditions_each_whole() {
        let status: PodStatus = serde_json::from_value(serde_json::json!({
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "ordinal.dev/InPlaceUpdateReady", "status": "False"}
            ]
        }))
        .unwrap();
        let patch = as_patch(&status);
        assert_eq!(patch["phase"], "Running");
        assert_eq!(
            patch["conditions"],
            serde_json::json!([{
                "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": null, "message": null, "lastProbeTime": null, "observedGeneration": null
            }])
        );
    }

    fn spec(policy: &str) -> PodSpec {
        PodSpec {
            restart_policy: Some(policy.into()),
            ..Default::default()
        }
    }

    fn c(name: &str, state: State) -> ContainerView {
        ContainerView {
            name: name.into(),
            image: "busybox".into(),
            image_id: String::new(),
            state,
            last: None,
            restart_count: 0,
            sidecar: false,
        }
    }

    fn running(ready: bool) -> State {
        State::Running {
            started_at: jiff::Timestamp::UNIX_EPOCH,
            container_id: "ordinal://1".into(),
            ready,
            started: true,
        }
    }

    fn exited(code: i32) -> State {
        State::Terminated(Termination {
            exit_code: code,
            signal: None,
            reason: Termination::reason_for(code).into(),
            message: None,
            started_at: None,
            finished_at: jiff::Timestamp::UNIX_EPOCH,
            container_id: None,
        })
    }

    fn waiting(reason: &str) -> State {
        State::Waiting {
            reason: reason.into(),
            message: None,
        }
    }

    fn view<'a>(spec: &'a PodSpec, init: Vec<ContainerView>, app: Vec<ContainerView>) -> View<'a> {
        View {
            spec,
            previous: None,
            init,
            app,
            sandbox_ready: true,
            pod_ip: Some("10.192.0.2".parse().unwrap()),
            host_ip: "10.192.0.1".parse().unwrap(),
            start_time: jiff::Timestamp::UNIX_EPOCH,
            terminal: false,
            now: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    /// A status read back from the API server (times to the second, other
    /// components' conditions added) and made again a moment later is the
    /// same status: nothing to write. Finer times used to differ at every
    /// comparison, which made half of a busy node's status writes.
    #[test]
    fn a_status_read_back_and_made_again_is_the_same() {
        let always = spec("Always");
        let at = |ms: i64| jiff::Timestamp::from_millisecond(1_796_000_000_000 + ms).unwrap();
        let app = || {
            vec![ContainerView {
                state: State::Running {
                    started_at: at(250),
                    container_id: "ordinal://1".into(),
                    ready: true,
                    started: true,
                },
                ..c("a", running(true))
            }]
        };
        let mut first = view(&always, vec![], app());
        first.now = at(300);
        first.start_time = at(100);
        let made = pod_status(&first);
        let mut stored: PodStatus =
            serde_json::from_value(serde_json::to_value(&made).unwrap()).unwrap();
        stored
            .conditions
            .get_or_insert_default()
            .push(PodCondition {
                type_: "example.com/gate".into(),
                status: "True".into(),
                ..Default::default()
            });
        let mut again = view(&always, vec![], app());
        again.previous = Some(&stored);
        again.now = at(700);
        again.start_time = at(100);
        assert_eq!(pod_status(&again), own_part(&stored));
        assert_eq!(made, own_part(&stored));
    }

    #[test]
    fn phases_follow_upstream() {
        let always = spec("Always");
        let never = spec("Never");
        let on_failure = spec("OnFailure");
        assert_eq!(
            phase(&view(
                &always,
                vec![],
                vec![c("a", waiting("ContainerCreating"))]
            )),
            "Pending"
        );
        assert_eq!(
            phase(&view(&always, vec![], vec![c("a", running(false))])),
            "Running"
        );
        assert_eq!(
            phase(&view(&always, vec![], vec![c("a", exited(1))])),
            "Running"
        );
        assert_eq!(
            phase(&view(&never, vec![], vec![c("a", exited(1))])),
            "Failed"
        );
        assert_eq!(
            phase(&view(&never, vec![], vec![c("a", exited(0))])),
            "Succeeded"
        );
        assert_eq!(
            phase(&view(&on_failure, vec![], vec![c("a", exited(2))])),
            "Running"
        );
        assert_eq!(
            phase(&view(&on_failure, vec![], vec![c("a", exited(0))])),
            "Succeeded"
        );
        // Crash loop: waiting with a last termination counts as stopped.
        let mut crashing = c("a", waiting("CrashLoopBackOff"));
        crashing.last = match exited(1) {
            State::Terminated(t) => Some(t),
            _ => None,
        };
        assert_eq!(phase(&view(&always, vec![], vec![crashing])), "Running");
        // Init containers.
        let init_running = vec![c("init", running(false))];
        assert_eq!(
            phase(&view(
                &always,
                init_running,
                vec![c("a", waiting("PodInitializing"))]
            )),
            "Pending"
        );
        assert_eq!(
            phase(&view(
                &never,
                vec![c("init", exited(1))],
                vec![c("a", waiting("PodInitializing"))]
            )),
            "Failed"
        );
        // Terminal pods: all done.
        let mut v = view(
            &always,
            vec![],
            vec![c("a", exited(0)), c("b", exited(137))],
        );
        v.terminal = true;
        assert_eq!(phase(&v), "Failed");
    }

    #[test]
    fn conditions_name_unready_and_incomplete_containers() {
        let always = spec("Always");
        let v = view(
            &always,
            vec![c("init", running(false))],
            vec![
                c("a", waiting("PodInitializing")),
                c("b", waiting("PodInitializing")),
            ],
        );
        let s = pod_status(&v);
        let cond = |t: &str| {
            s.conditions
                .as_ref()
                .unwrap()
                .iter()
                .find(|c| c.type_ == t)
                .unwrap()
                .clone()
        };
        assert_eq!(cond("Initialized").status, "False");
        assert_eq!(
            cond("Initialized").message.as_deref(),
            Some("containers with incomplete status: [init]")
        );
        assert_eq!(
            cond("Ready").message.as_deref(),
            Some("containers with unready status: [a b]")
        );
        assert_eq!(cond("Ready").reason.as_deref(), Some("ContainersNotReady"));
        let v = view(
            &always,
            vec![c("init", exited(0))],
            vec![c("a", running(true))],
        );
        let s = pod_status(&v);
        let ready = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.192.0.2"));
        assert!(s.container_statuses.as_ref().unwrap()[0].ready);
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn transition_times_are_kept_while_the_status_holds() {
        let always = spec("Always");
        let earlier = jiff::Timestamp::from_second(1_000).unwrap();
        let previous = PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(earlier)),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let mut v = view(&always, vec![], vec![c("a", running(true))]);
        v.previous = Some(&previous);
        v.now = jiff::Timestamp::from_second(2_000).unwrap();
        let s = pod_status(&v);
        let get = |s: &PodStatus, t: &str| {
            s.conditions
                .as_ref()
                .unwrap()
                .iter()
                .find(|c| c.type_ == t)
                .unwrap()
                .last_transition_time
                .clone()
                .unwrap()
                .0
        };
        assert_eq!(get(&s, "Ready"), earlier);
        assert_eq!(get(&s, "ContainersReady"), v.now);
    }
}
