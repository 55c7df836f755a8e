//! An in-memory cluster for driving the planner: it executes plans the way
//! the driver will (waves, stop after a failed wave, claim updates, status,
//! history), plays the API server (UIDs, resourceVersions, preconditions,
//! AlreadyExists), the kubelet (phases, readiness), users (deleting pods,
//! editing the set) and the garbage collector (claims whose owners are
//! gone).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetOrdinals,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStatus, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::{Action, Observed, Plan, plan};

pub(crate) const NS: &str = "default";
pub(crate) const SET_UID: &str = "set-uid";

/// How pods are managed, for tests that run under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    OrderedReady,
    Parallel,
}

pub(crate) const POLICIES: [Policy; 2] = [Policy::OrderedReady, Policy::Parallel];

/// (whenScaled, whenDeleted)
pub(crate) const RETENTIONS: [(&str, &str); 4] = [
    ("Retain", "Retain"),
    ("Retain", "Delete"),
    ("Delete", "Retain"),
    ("Delete", "Delete"),
];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A set named `name` with one container, one volumeClaimTemplate `data`
/// and the given policy.
pub(crate) fn new_set(name: &str, replicas: i32, policy: Policy) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            uid: Some(SET_UID.into()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", name)])),
                ..LabelSelector::default()
            },
            service_name: Some(name.into()),
            pod_management_policy: Some(
                match policy {
                    Policy::OrderedReady => "OrderedReady",
                    Policy::Parallel => "Parallel",
                }
                .into(),
            ),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[("app", name)])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "main".into(),
                        image: Some("nginx:1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    ..PersistentVolumeClaimSpec::default()
                }),
                status: None,
            }]),
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}

/// What went wrong executing a plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// The test chose to fail this call (a conflict, a timeout…).
    Injected,
    AlreadyExists(String),
    NotFound(String),
    Conflict(String),
}

/// The cluster.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub set: StatefulSet,
    pub pods: BTreeMap<String, Pod>,
    pub claims: BTreeMap<String, PersistentVolumeClaim>,
    pub revisions: BTreeMap<String, ControllerRevision>,
    pub now: jiff::Timestamp,
    /// API errors met while executing plans that the test did not inject.
    pub errors: Vec<ApiError>,
    next_uid: u64,
    resource_version: u64,
}

impl World {
    pub(crate) fn new(set: StatefulSet) -> World {
        World {
            set,
            pods: BTreeMap::new(),
            claims: BTreeMap::new(),
            revisions: BTreeMap::new(),
            now: jiff::Timestamp::from_second(1_700_000_000).unwrap_or_default(),
            errors: Vec::new(),
            next_uid: 1,
            resource_version: 1,
        }
    }

    pub(crate) fn name(&self) -> String {
        self.set.metadata.name.clone().unwrap_or_default()
    }

    pub(crate) fn observed(&self) -> Observed<'_> {
        Observed {
            set: &self.set,
            pods: self.pods.values().collect(),
            claims: self.claims.values().collect(),
            revisions: self.revisions.values().collect(),
            now: self.now,
        }
    }

    pub(crate) fn plan(&self) -> Plan {
        plan(&self.observed())
    }

    /// Plans and executes one sync with every call succeeding.
    pub(crate) fn sync(&mut self) -> Plan {
        let plan = self.plan();
        self.apply(&plan, |_| false);
        plan
    }

    fn uid(&mut self, prefix: &str) -> String {
        self.next_uid += 1;
        format!("{prefix}-{}", self.next_uid)
    }

    fn bump(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Executes `plan` as the driver does. `fails` picks calls that fail.
    pub(crate) fn apply(&mut self, plan: &Plan, mut fails: impl FnMut(&Action) -> bool) {
        for action in &plan.ownership {
            if self.call(action, &mut fails).is_err() {
                return;
            }
        }
        if let Some(action) = &plan.revision {
            match self.call(action, &mut fails) {
                Ok(()) => {}
                Err(ApiError::AlreadyExists(_)) => {
                    // A name collision: count it so the next plan picks another name.
                    let status = self.set.status.get_or_insert_with(Default::default);
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.run_history(plan, &mut fails);
                    return;
                }
                Err(_) => {
                    self.run_history(plan, &mut fails);
                    return;
                }
            }
        }
        for wave in &plan.waves {
            let mut failed = false;
            for action in wave {
                failed |= self.call(action, &mut fails).is_err();
            }
            if failed {
                break;
            }
        }
        for action in &plan.claims {
            let _ = self.call(action, &mut fails);
        }
        if let Some(status) = &plan.status {
            self.set.status = Some(status.clone());
        }
        self.run_history(plan, &mut fails);
    }

    fn run_history(&mut self, plan: &Plan, fails: &mut impl FnMut(&Action) -> bool) {
        for action in &plan.history {
            let _ = self.call(action, fails);
        }
    }

    fn call(
        &mut self,
        action: &Action,
        fails: &mut impl FnMut(&Action) -> bool,
    ) -> Result<(), ApiError> {
        if fails(action) {
            return Err(ApiError::Injected);
        }
        let result = self.execute(action);
        if let Err(e) = &result {
            self.errors.push(e.clone());
        }
        result
    }

    fn execute(&mut self, action: &Action) -> Result<(), ApiError> {
        match action {
            Action::AdoptPod { name, uid, owner } => {
                let pod = self.pod_with_uid(name, uid)?;
                pod.metadata
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(owner.clone());
                Ok(())
            }
            Action::ReleasePod { name, uid } => {
                let set_uid = self.set.metadata.uid.clone().unwrap_or_default();
                let pod = self.pod_with_uid(name, uid)?;
                if let Some(refs) = &mut pod.metadata.owner_references {
                    refs.retain(|r| r.uid != set_uid);
                }
                Ok(())
            }
            Action::AdoptRevision { name, owner, .. } => {
                let rev = self
                    .revisions
                    .get_mut(name)
                    .ok_or_else(|| ApiError::NotFound(name.clone()))?;
                rev.metadata
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(owner.clone());
                Ok(())
            }
            Action::CreateRevision(revision) => {
                let name = revision.metadata.name.clone().unwrap_or_default();
                if let Some(existing) = self.revisions.get(&name) {
                    return if existing.data == revision.data {
                        Ok(())
                    } else {
                        Err(ApiError::AlreadyExists(name))
                    };
                }
                let mut revision = revision.clone();
                revision.metadata.uid = Some(self.uid("rev"));
                revision.metadata.creation_timestamp = Some(Time(self.now));
                revision.metadata.resource_version = Some(self.bump());
                self.revisions.insert(name, revision);
                Ok(())
            }
            Action::UpdateRevision { name, revision, .. } => {
                let rev = self
                    .revisions
                    .get_mut(name)
                    .ok_or_else(|| ApiError::NotFound(name.clone()))?;
                rev.revision = *revision;
                Ok(())
            }
            Action::DeleteRevision { name, uid } => match self.revisions.get(name) {
                Some(r) if r.metadata.uid.as_deref() == Some(uid.as_str()) => {
                    self.revisions.remove(name);
                    Ok(())
                }
                Some(_) => Err(ApiError::Conflict(name.clone())),
                None => Ok(()),
            },
            Action::CreatePod { pod, claims } => {
                for claim in claims {
                    self.create_claim(claim);
                }
                let name = pod.metadata.name.clone().unwrap_or_default();
                if self.pods.contains_key(&name) {
                    return Err(ApiError::AlreadyExists(name));
                }
                let mut pod = pod.clone();
                pod.metadata.uid = Some(self.uid("pod"));
                pod.metadata.resource_version = Some(self.bump());
                pod.metadata.creation_timestamp = Some(Time(self.now));
                pod.status = Some(PodStatus {
                    phase: Some("Pending".into()),
                    ..PodStatus::default()
                });
                self.pods.insert(name, pod);
                Ok(())
            }
            Action::CreateClaims { claims, .. } => {
                for claim in claims {
                    self.create_claim(claim);
                }
                Ok(())
            }
            Action::UpdatePod(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let current = self
                    .pods
                    .get(&name)
                    .ok_or_else(|| ApiError::NotFound(name.clone()))?;
                if current.metadata.resource_version != pod.metadata.resource_version {
                    return Err(ApiError::Conflict(name));
                }
                let mut pod = pod.clone();
                pod.metadata.resource_version = Some(self.bump());
                self.pods.insert(name, pod);
                Ok(())
            }
            Action::UpdateClaimOwners { claim, .. } => {
                let name = claim.metadata.name.clone().unwrap_or_default();
                let current = self
                    .claims
                    .get(&name)
                    .ok_or_else(|| ApiError::NotFound(name.clone()))?;
                if current.metadata.resource_version != claim.metadata.resource_version {
                    return Err(ApiError::Conflict(name));
                }
                let mut claim = claim.clone();
                claim.metadata.resource_version = Some(self.bump());
                self.claims.insert(name, claim);
                Ok(())
            }
            Action::UpdateClaim {
                name,
                uid,
                labels,
                annotations,
                expand_to,
            } => {
                let version = self.bump();
                let claim = match self.claims.get_mut(name) {
                    None => return Ok(()),
                    Some(c) if c.metadata.uid.as_deref() != Some(uid.as_str()) => {
                        return Err(ApiError::Conflict(name.clone()));
                    }
                    Some(c) => c,
                };
                let meta = &mut claim.metadata;
                meta.labels.get_or_insert_default().extend(labels.clone());
                if !annotations.is_empty() {
                    meta.annotations
                        .get_or_insert_default()
                        .extend(annotations.clone());
                }
                if let Some(size) = expand_to {
                    claim
                        .spec
                        .get_or_insert_default()
                        .resources
                        .get_or_insert_default()
                        .requests
                        .get_or_insert_default()
                        .insert("storage".into(), size.clone());
                }
                claim.metadata.resource_version = Some(version);
                Ok(())
            }
            Action::UpdatePodInPlace {
                name,
                uid,
                images,
                labels,
                annotations,
            } => {
                self.pod_with_uid(name, uid)?;
                self.set_condition(
                    name,
                    super::super::IN_PLACE_GATE,
                    false,
                    super::super::IN_PLACE_UPDATING,
                );
                let version = self.bump();
                let pod = self.pod_with_uid(name, uid)?;
                pod.metadata
                    .labels
                    .get_or_insert_default()
                    .extend(labels.clone());
                pod.metadata
                    .annotations
                    .get_or_insert_default()
                    .extend(annotations.clone());
                for (container, image) in images {
                    if let Some(c) = pod
                        .spec
                        .iter_mut()
                        .flat_map(|s| s.containers.iter_mut())
                        .find(|c| &c.name == container)
                    {
                        c.image = Some(image.clone());
                    }
                }
                pod.metadata.resource_version = Some(version);
                let name = name.clone();
                self.resync(&name, !images.is_empty());
                Ok(())
            }
            Action::OpenGate { name, uid } => {
                self.pod_with_uid(name, uid)?;
                let name = name.clone();
                self.set_condition(&name, super::super::IN_PLACE_GATE, true, "");
                self.resync(&name, false);
                Ok(())
            }
            Action::DeletePod { name, uid, .. } => match self.pods.get_mut(name) {
                None => Ok(()),
                Some(pod) if pod.metadata.uid.as_deref() != Some(uid.as_str()) => {
                    Err(ApiError::Conflict(name.clone()))
                }
                Some(pod) => {
                    if pod.metadata.deletion_timestamp.is_none() {
                        pod.metadata.deletion_timestamp = Some(Time(self.now));
                    }
                    Ok(())
                }
            },
        }
    }

    fn pod_with_uid(&mut self, name: &str, uid: &str) -> Result<&mut Pod, ApiError> {
        match self.pods.get_mut(name) {
            Some(pod) if pod.metadata.uid.as_deref() == Some(uid) => Ok(pod),
            Some(_) => Err(ApiError::Conflict(name.into())),
            None => Err(ApiError::NotFound(name.into())),
        }
    }

    fn create_claim(&mut self, claim: &PersistentVolumeClaim) {
        let name = claim.metadata.name.clone().unwrap_or_default();
        if self.claims.contains_key(&name) {
            return;
        }
        let mut claim = claim.clone();
        claim.metadata.uid = Some(self.uid("pvc"));
        claim.metadata.resource_version = Some(self.bump());
        self.claims.insert(name, claim);
    }

    // ---- the kubelet --------------------------------------------------

    fn status_of(&mut self, pod: &str) -> Option<&mut PodStatus> {
        let pod = self.pods.get_mut(pod)?;
        Some(pod.status.get_or_insert_with(PodStatus::default))
    }

    /// The kubelet reports `phase`; the containers run the spec's images
    /// and are `ready`; the pod is Ready when they are and its readiness
    /// gates are open.
    fn set_phase(&mut self, pod: &str, phase: &str, ready: bool) {
        let now = self.now;
        let (gates, containers) = match self.pods.get(pod).and_then(|p| p.spec.as_ref()) {
            Some(spec) => (
                spec.readiness_gates.clone().unwrap_or_default(),
                spec.containers.clone(),
            ),
            None => return,
        };
        let Some(status) = self.status_of(pod) else {
            return;
        };
        let others: Vec<PodCondition> = status
            .conditions
            .iter()
            .flatten()
            .filter(|c| c.type_ != "Ready")
            .cloned()
            .collect();
        let gates_open = gates.iter().all(|g| {
            others
                .iter()
                .any(|c| c.type_ == g.condition_type && c.status == "True")
        });
        status.container_statuses = (phase == "Running").then(|| {
            containers
                .iter()
                .map(|c| ContainerStatus {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    ready,
                    state: Some(ContainerState {
                        running: Some(ContainerStateRunning::default()),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                })
                .collect()
        });
        let ready = ready && gates_open;
        let was_ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let since = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.last_transition_time.clone());
        status.phase = Some(phase.into());
        let mut conditions = others;
        conditions.push(PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            last_transition_time: if was_ready == ready {
                since.or(Some(Time(now)))
            } else {
                Some(Time(now))
            },
            ..PodCondition::default()
        });
        status.conditions = Some(conditions);
    }

    /// Sets condition `type_` of a pod the way a status patch would.
    fn set_condition(&mut self, pod: &str, type_: &str, value: bool, reason: &str) {
        let now = self.now;
        let Some(status) = self.status_of(pod) else {
            return;
        };
        let conditions = status.conditions.get_or_insert_default();
        conditions.retain(|c| c.type_ != type_);
        conditions.push(PodCondition {
            type_: type_.into(),
            status: if value { "True" } else { "False" }.into(),
            reason: (!reason.is_empty()).then(|| reason.into()),
            last_transition_time: Some(Time(now)),
            ..PodCondition::default()
        });
    }

    /// What the kubelet reports after a change to the pod: the same phase,
    /// with readiness recomputed (a container whose image changed restarts
    /// and is not ready until the test readies it).
    fn resync(&mut self, pod: &str, restarted: bool) {
        let Some(p) = self.pods.get(pod) else { return };
        let phase = ordinal_core::pod::phase(p).to_string();
        let containers_ready = !restarted
            && p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| cs.iter().all(|c| c.ready));
        if !phase.is_empty() {
            self.set_phase(pod, &phase, containers_ready);
        }
    }

    /// The last status of a kubelet that has not yet seen the pod's
    /// update: Ready True whatever its gates say, its containers running
    /// `image` and ready.
    pub(crate) fn stale_ready(&mut self, pod: &str, image: &str) {
        self.ready(pod);
        if let Some(status) = self.status_of(pod) {
            for c in status.container_statuses.iter_mut().flatten() {
                c.image = image.to_string();
            }
        }
        self.set_condition(pod, "Ready", true, "");
    }

    /// Running, not yet Ready.
    pub(crate) fn run(&mut self, pod: &str) {
        self.set_phase(pod, "Running", false);
    }

    /// Running and Ready (since now, unless it already was).
    pub(crate) fn ready(&mut self, pod: &str) {
        self.set_phase(pod, "Running", true);
    }

    pub(crate) fn unready(&mut self, pod: &str) {
        self.set_phase(pod, "Running", false);
    }

    pub(crate) fn fail(&mut self, pod: &str) {
        self.set_phase(pod, "Failed", false);
    }

    pub(crate) fn succeed(&mut self, pod: &str) {
        self.set_phase(pod, "Succeeded", false);
    }

    /// Every pod that is not terminating becomes Running and Ready.
    pub(crate) fn ready_all(&mut self) {
        let names: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.metadata.deletion_timestamp.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.ready(&name);
        }
    }

    /// Terminating pods finish terminating and disappear.
    pub(crate) fn finish_terminating(&mut self) {
        self.pods
            .retain(|_, p| p.metadata.deletion_timestamp.is_none());
    }

    // ---- users and other controllers -------------------------------------

    /// A user deletes a pod (it terminates until [`World::finish_terminating`]).
    pub(crate) fn delete(&mut self, pod: &str) {
        let now = self.now;
        if let Some(p) = self.pods.get_mut(pod) {
            p.metadata.deletion_timestamp.get_or_insert(Time(now));
        }
    }

    pub(crate) fn advance(&mut self, seconds: i64) {
        self.now = self
            .now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap_or(self.now);
    }

    /// The garbage collector: claims all of whose owners are gone go away.
    pub(crate) fn collect_garbage(&mut self) {
        let alive: Vec<String> = self
            .pods
            .values()
            .filter_map(|p| p.metadata.uid.clone())
            .chain(self.set.metadata.uid.clone())
            .collect();
        self.claims.retain(|_, c| {
            let owners = c.metadata.owner_references.as_deref().unwrap_or(&[]);
            owners.is_empty() || owners.iter().any(|o| alive.contains(&o.uid))
        });
    }

    /// Edits the spec as `kubectl apply` would (the generation moves on).
    pub(crate) fn edit(&mut self, change: impl FnOnce(&mut StatefulSetSpec)) {
        if let Some(spec) = self.set.spec.as_mut() {
            change(spec);
        }
        let generation = self.set.metadata.generation.unwrap_or(0);
        self.set.metadata.generation = Some(generation + 1);
    }

    /// Takes the spec (and generation) of `edited`, the set as an API
    /// server answered an edit of it: the status stays the world's own.
    pub(crate) fn follow(&mut self, edited: &StatefulSet) {
        self.set.spec = edited.spec.clone();
        self.set.metadata.generation = edited.metadata.generation;
    }

    /// Sets (or, with `None`, removes) an annotation of the set.
    pub(crate) fn annotate(&mut self, key: &str, value: Option<&str>) {
        let annotations = self.set.metadata.annotations.get_or_insert_default();
        match value {
            Some(value) => annotations.insert(key.into(), value.into()),
            None => annotations.remove(key),
        };
    }

    pub(crate) fn scale(&mut self, replicas: i32) {
        self.edit(|s| s.replicas = Some(replicas));
    }

    pub(crate) fn set_image(&mut self, image: &str) {
        self.edit(|s| {
            if let Some(c) = s
                .template
                .spec
                .as_mut()
                .and_then(|p| p.containers.first_mut())
            {
                c.image = Some(image.into());
            }
        });
    }

    pub(crate) fn set_partition(&mut self, partition: i32) {
        self.edit(|s| {
            let strategy = s.update_strategy.get_or_insert_with(Default::default);
            strategy
                .rolling_update
                .get_or_insert_with(Default::default)
                .partition = Some(partition);
        });
    }

    pub(crate) fn set_max_unavailable(&mut self, value: IntOrString) {
        self.edit(|s| {
            let strategy = s.update_strategy.get_or_insert_with(Default::default);
            strategy
                .rolling_update
                .get_or_insert_with(Default::default)
                .max_unavailable = Some(value);
        });
    }

    pub(crate) fn set_start(&mut self, start: Option<i32>) {
        self.edit(|s| s.ordinals = start.map(|start| StatefulSetOrdinals { start: Some(start) }));
    }

    pub(crate) fn set_retention(&mut self, when_scaled: &str, when_deleted: &str) {
        self.edit(|s| {
            s.persistent_volume_claim_retention_policy =
                Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_scaled: Some(when_scaled.into()),
                    when_deleted: Some(when_deleted.into()),
                });
        });
    }

    // ---- reading the world --------------------------------------------

    pub(crate) fn pod(&self, name: &str) -> &Pod {
        self.pods
            .get(name)
            .unwrap_or_else(|| panic!("no pod {name}"))
    }

    pub(crate) fn pod_names(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    /// Names of pods that are not terminating, by ordinal.
    pub(crate) fn live_pods(&self) -> Vec<String> {
        let set = self.name();
        let mut live: Vec<(i64, String)> = self
            .pods
            .iter()
            .filter(|(_, p)| p.metadata.deletion_timestamp.is_none())
            .filter_map(|(n, _)| Some((super::super::ordinal_of(&set, n)?, n.clone())))
            .collect();
        live.sort();
        live.into_iter().map(|(_, n)| n).collect()
    }

    pub(crate) fn revision_of(&self, pod: &str) -> String {
        super::super::health::revision(self.pod(pod)).to_string()
    }

    pub(crate) fn status(&self) -> k8s_openapi::api::apps::v1::StatefulSetStatus {
        self.set.status.clone().unwrap_or_default()
    }

    pub(crate) fn update_revision(&self) -> String {
        self.status().update_revision.unwrap_or_default()
    }

    pub(crate) fn current_revision(&self) -> String {
        self.status().current_revision.unwrap_or_default()
    }

    /// Syncs, readies every pod and lets terminating pods go, until the
    /// plan has nothing left to do. False if it did not settle in `rounds`.
    pub(crate) fn settle(&mut self, rounds: usize) -> bool {
        for _ in 0..rounds {
            let plan = self.sync();
            self.finish_terminating();
            self.collect_garbage();
            self.ready_all();
            self.advance(3600);
            if plan.is_idle() && self.plan().is_idle() {
                return true;
            }
        }
        false
    }
}

/// Pod names created by a plan, in order.
pub(crate) fn created(plan: &Plan) -> Vec<String> {
    plan.actions()
        .filter_map(|a| match a {
            Action::CreatePod { pod, .. } => pod.metadata.name.clone(),
            _ => None,
        })
        .collect()
}

/// Pod names a plan deletes, in order.
pub(crate) fn deleted(plan: &Plan) -> Vec<String> {
    plan.actions()
        .filter_map(|a| match a {
            Action::DeletePod { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}
