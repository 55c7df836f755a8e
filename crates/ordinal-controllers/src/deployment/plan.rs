//! The Deployment controller's decision: from one deployment, the
//! ReplicaSets and pods of its namespace and the time, what to write — a
//! pure function ([`plan`]) that follows upstream's `syncDeployment` step
//! by step (`sync.go`, `rolling.go`, `recreate.go`, `progress.go`), acting
//! on copies of the objects where upstream acts on the API, so each later
//! step sees what the earlier ones wrote.
//!
//! The new ReplicaSet is the oldest one whose template equals the
//! deployment's but for the `pod-template-hash` label; a rollback (a
//! template copied back from an old set, as `kubectl rollout undo` does)
//! finds its old set this way and gives it the next revision. A new set
//! is named `<deployment>-<hash>`, its template and selector carrying the
//! hash as `pod-template-hash`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::go_text::{GoJson, quote};
use ordinal_core::labels::Selector;
use serde_json::Value;

use crate::runtime::{controller, controller_ref};

pub use crate::job::plan::{Event, PodRef};

/// The label (and selector term) that tells a deployment's ReplicaSets
/// apart: the hash of the template each runs.
pub const HASH_LABEL: &str = "pod-template-hash";
/// A ReplicaSet's revision (and the deployment's newest).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The revisions a ReplicaSet had before a rollback gave it a new one.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The deployment's replicas when it last sized a ReplicaSet.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The deployment's replicas plus its surge when it last sized a
/// ReplicaSet (the base of proportional scaling).
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Annotations a deployment does not hand to its ReplicaSets.
const NOT_COPIED: [&str; 5] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
];
/// The longest `revision-history` annotation (upstream's default).
const MAX_HISTORY_CHARS: usize = 2000;

/// Upstream's condition reasons.
pub mod reason {
    /// A new ReplicaSet was created for the template.
    pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
    /// The template's ReplicaSet already existed.
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    /// The rollout made progress.
    pub const RS_UPDATED: &str = "ReplicaSetUpdated";
    /// The rollout is complete.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// No progress within `progressDeadlineSeconds`.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// The deployment was paused.
    pub const PAUSED: &str = "DeploymentPaused";
    /// The deployment was resumed.
    pub const RESUMED: &str = "DeploymentResumed";
    /// Creating the new ReplicaSet failed.
    pub const FAILED_CREATE: &str = "ReplicaSetCreateError";
    /// Enough pods are available.
    pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Too few pods are available.
    pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
}

/// A write the plan makes, in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Make the deployment the controller of an orphan ReplicaSet.
    Adopt(PodRef),
    /// Take the deployment's reference off a set it no longer selects.
    Release(PodRef),
    /// Create the new ReplicaSet (`AlreadyExists` is a hash collision
    /// unless the existing set is the deployment's with the same
    /// template).
    Create {
        /// The set.
        rs: ReplicaSet,
        /// The event recorded once created.
        event: Option<String>,
    },
    /// Replace a ReplicaSet (its size, annotations, `minReadySeconds`),
    /// with its resourceVersion as precondition.
    Update {
        /// The set as it should be.
        rs: ReplicaSet,
        /// The event recorded once written.
        event: Option<String>,
    },
    /// Delete an old ReplicaSet beyond `revisionHistoryLimit`.
    Delete(PodRef),
    /// Set the deployment's revision annotation.
    Revision(String),
}

/// What one sync of a deployment does: the actions in order, the status
/// (when it differs from the stored), events, and when to look again.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The writes, in order; the first failure stops the rest.
    pub actions: Vec<Action>,
    /// The status to write last.
    pub status: Option<DeploymentStatus>,
    /// Events recorded besides the actions'.
    pub events: Vec<Event>,
    /// When to look again though nothing changes (the progress deadline).
    pub requeue_after: Option<Duration>,
}

/// FNV-1a, 32 bit (Go's `hash/fnv.New32a`).
fn fnv1a_32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Kubernetes' alphabet for generated name suffixes (`rand.SafeEncodeString`).
const SAFE_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `pod-template-hash` of a template (upstream's `ComputeHash`):
/// FNV-1a over the template, then the collision count as eight
/// little-endian bytes when there is one, printed in decimal and mapped
/// through the safe alphabet. The template is hashed as Go's JSON of it
/// (upstream hashes a dump of its Go struct, so the values differ from
/// kube-controller-manager's; only their stability matters, since a
/// deployment finds its sets by template).
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let value = serde_json::to_value(template).unwrap_or(Value::Null);
    let data = GoJson::EncodingJson.encode(&value);
    let mut bytes: Vec<u8> = data.into_bytes();
    if let Some(count) = collision_count {
        bytes.extend_from_slice(&(count as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    fnv1a_32(bytes)
        .to_string()
        .bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// A template as JSON without the hash label, nulls and empty lists and
/// label maps, so two templates compare as upstream's semantic equality
/// does (nil and empty alike).
fn comparable(template: Option<&PodTemplateSpec>) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|_, v| {
                    strip(v);
                    !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty()))
                });
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    strip(&mut value);
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
            labels.remove(HASH_LABEL);
        }
        for key in ["labels", "annotations"] {
            if meta
                .get(key)
                .and_then(Value::as_object)
                .is_some_and(|m| m.is_empty())
            {
                meta.remove(key);
            }
        }
    }
    if value
        .get("metadata")
        .and_then(Value::as_object)
        .is_some_and(|m| m.is_empty())
        && let Some(map) = value.as_object_mut()
    {
        map.remove("metadata");
    }
    value
}

/// Upstream's `EqualIgnoreHash`.
pub fn equal_ignore_hash(a: Option<&PodTemplateSpec>, b: Option<&PodTemplateSpec>) -> bool {
    comparable(a) == comparable(b)
}

/// A set's revision annotation as a number (0 when absent or unreadable).
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(&rs.metadata, key)?.parse().ok()
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn set_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_default().replicas = Some(n);
}

fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    rs.status.as_ref().map_or((0, 0, 0), |s| {
        (
            s.replicas,
            s.ready_replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0),
        )
    })
}

fn created(meta: &ObjectMeta) -> Option<Timestamp> {
    meta.creation_timestamp.as_ref().map(|t| t.0)
}

/// Upstream's `ReplicaSetsByCreationTimestamp`: oldest first, then by name.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    created(&a.metadata)
        .cmp(&created(&b.metadata))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// A percentage or a number of `total` (upstream's
/// `GetScaledValueFromIntOrPercent`); an unreadable value counts as 0.
pub fn scaled(value: Option<&IntOrString>, default: &str, total: i32, round_up: bool) -> i32 {
    let owned;
    let value = match value {
        Some(v) => v,
        None => {
            owned = IntOrString::String(default.into());
            &owned
        }
    };
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let Some(percent) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return 0;
            };
            let product = percent * i64::from(total);
            let value = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(value).unwrap_or(i32::MAX)
        }
    }
}

/// The deployment's spec as the controller reads it, defaults filled.
#[derive(Debug, Clone)]
struct Spec {
    replicas: i32,
    recreate: bool,
    max_surge: i32,
    max_unavailable: i32,
    paused: bool,
    min_ready_seconds: i32,
    history_limit: Option<i32>,
    progress_deadline: Option<i32>,
}

impl Spec {
    fn of(d: &Deployment) -> Spec {
        let spec = d.spec.clone().unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1);
        let strategy = spec.strategy.unwrap_or_default();
        let recreate = strategy.type_.as_deref() == Some("Recreate");
        let rolling = strategy.rolling_update.unwrap_or_default();
        // Upstream's ResolveFenceposts.
        let (mut surge, mut unavailable) = if recreate {
            (0, 0)
        } else {
            (
                scaled(rolling.max_surge.as_ref(), "25%", replicas, true),
                scaled(rolling.max_unavailable.as_ref(), "25%", replicas, false),
            )
        };
        if !recreate && surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        if replicas == 0 || recreate {
            unavailable = 0;
        }
        unavailable = unavailable.min(replicas).max(0);
        surge = surge.max(0);
        Spec {
            replicas,
            recreate,
            max_surge: surge,
            max_unavailable: unavailable,
            paused: spec.paused.unwrap_or(false),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            history_limit: spec.revision_history_limit.filter(|l| *l != i32::MAX),
            progress_deadline: spec.progress_deadline_seconds.filter(|s| *s != i32::MAX),
        }
    }
}

/// The condition of `kind` in `status`.
pub fn condition<'a>(status: &'a DeploymentStatus, kind: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == kind)
}

fn new_condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Upstream's `SetDeploymentCondition`: nothing when status and reason
/// are unchanged; the transition time kept when only the reason changes.
fn set_condition(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = condition(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &new.type_);
    status.conditions.get_or_insert_default().push(new);
}

fn remove_condition(status: &mut DeploymentStatus, kind: &str) {
    if let Some(conditions) = &mut status.conditions {
        conditions.retain(|c| c.type_ != kind);
    }
}

/// Whether the rollout is done (upstream's `DeploymentComplete`).
pub fn complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = Spec::of(d).replicas;
    status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// One sync in progress: the deployment and its sets as the writes so far
/// left them.
struct Sync<'a> {
    d: Deployment,
    /// The status as stored, to compare the new one with.
    stored: Option<DeploymentStatus>,
    spec: Spec,
    name: String,
    /// The deployment's sets (after adoption and release).
    sets: Vec<ReplicaSet>,
    /// Pods by the uid of the set controlling them (for Recreate).
    pods: BTreeMap<String, Vec<&'a Pod>>,
    now: Timestamp,
    plan: Plan,
}

/// What one sync of `d` does, given the ReplicaSets and pods of its
/// namespace.
pub fn plan(d: &Deployment, sets: &[&ReplicaSet], pods: &[&Pod], now: Timestamp) -> Plan {
    let spec = Spec::of(d);
    let name = d.metadata.name.clone().unwrap_or_default();
    let mut sync = Sync {
        d: d.clone(),
        stored: d.status.clone(),
        spec,
        name,
        sets: Vec::new(),
        pods: BTreeMap::new(),
        now,
        plan: Plan::default(),
    };
    let selector = d
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    if selector == LabelSelector::default() {
        sync.plan.events.push(Event {
            warning: true,
            reason: "SelectingAll".into(),
            message: "This deployment is selecting all pods. A non-empty selector is required."
                .into(),
        });
        let mut status = d.status.clone().unwrap_or_default();
        if status.observed_generation < d.metadata.generation {
            status.observed_generation = d.metadata.generation;
            sync.plan.status = Some(status);
        }
        return sync.plan;
    }
    let Ok(selector) = Selector::compile(&selector) else {
        return sync.plan;
    };
    sync.claim(&selector, sets, pods);
    if d.metadata.deletion_timestamp.is_some() {
        sync.sync_status_only();
        return sync.plan;
    }
    sync.check_paused_conditions();
    if sync.spec.paused || sync.is_scaling_event() {
        sync.sync_scale();
    } else if sync.spec.recreate {
        sync.rollout_recreate();
    } else {
        sync.rollout_rolling();
    }
    sync.plan
}

impl<'a> Sync<'a> {
    fn status(&self) -> DeploymentStatus {
        self.d.status.clone().unwrap_or_default()
    }

    fn status_mut(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_default()
    }

    /// Upstream's `getReplicaSetsForDeployment` and `getPodMapForDeployment`.
    fn claim(&mut self, selector: &Selector, sets: &[&ReplicaSet], pods: &[&'a Pod]) {
        let uid = self.d.metadata.uid.clone().unwrap_or_default();
        let namespace = self.d.metadata.namespace.clone().unwrap_or_default();
        let deleting = self.d.metadata.deletion_timestamp.is_some();
        let owner = controller_ref(&self.d);
        for &rs in sets {
            if rs.metadata.namespace.as_deref().unwrap_or("") != namespace {
                continue;
            }
            let matches = selector.matches(rs.metadata.labels.as_ref());
            match controller(&rs.metadata) {
                Some(r) if r.uid == uid => {
                    if matches {
                        self.sets.push(rs.clone());
                    } else if !deleting {
                        self.plan.actions.push(Action::Release(PodRef::of(rs)));
                    }
                }
                Some(_) => {}
                None => {
                    if matches && !deleting && rs.metadata.deletion_timestamp.is_none() {
                        self.plan.actions.push(Action::Adopt(PodRef::of(rs)));
                        let mut adopted = rs.clone();
                        adopted
                            .metadata
                            .owner_references
                            .get_or_insert_default()
                            .push(owner.clone());
                        self.sets.push(adopted);
                    }
                }
            }
        }
        self.sets.sort_by(by_creation);
        for &pod in pods {
            if pod.metadata.namespace.as_deref().unwrap_or("") != namespace
                || !selector.matches(pod.metadata.labels.as_ref())
            {
                continue;
            }
            if let Some(r) = controller(&pod.metadata)
                && self
                    .sets
                    .iter()
                    .any(|s| s.metadata.uid.as_ref() == Some(&r.uid))
            {
                self.pods.entry(r.uid.clone()).or_default().push(pod);
            }
        }
    }

    /// The index of the new set: the oldest whose template is the
    /// deployment's (upstream's `FindNewReplicaSet`).
    fn find_new(&self) -> Option<usize> {
        let template = self.d.spec.as_ref().map(|s| &s.template);
        self.sets.iter().position(|rs| {
            equal_ignore_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref()), template)
        })
    }

    fn olds(&self, new: Option<usize>) -> Vec<usize> {
        (0..self.sets.len()).filter(|i| Some(*i) != new).collect()
    }

    fn active(&self, indices: &[usize]) -> Vec<usize> {
        indices
            .iter()
            .copied()
            .filter(|i| replicas(&self.sets[*i]) > 0)
            .collect()
    }

    fn sum(&self, indices: &[usize], f: impl Fn(&ReplicaSet) -> i32) -> i32 {
        indices.iter().map(|i| f(&self.sets[*i])).sum()
    }

    fn annotations_need_update(&self, rs: &ReplicaSet) -> bool {
        let desired = self.spec.replicas;
        let max = desired + self.spec.max_surge;
        annotation(&rs.metadata, DESIRED_REPLICAS) != Some(&desired.to_string())
            || annotation(&rs.metadata, MAX_REPLICAS) != Some(&max.to_string())
    }

    fn set_replicas_annotations(&self, rs: &mut ReplicaSet) -> bool {
        let desired = self.spec.replicas;
        let max = desired + self.spec.max_surge;
        let annotations = rs.metadata.annotations.get_or_insert_default();
        let mut changed = false;
        for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
            let value = value.to_string();
            if annotations.get(key) != Some(&value) {
                annotations.insert(key.into(), value);
                changed = true;
            }
        }
        changed
    }

    /// Upstream's `SetNewReplicaSetAnnotations`: the deployment's own
    /// annotations, the new revision (recording the one it replaces in
    /// the history on a rollback), and for a set about to be created its
    /// replica annotations.
    fn set_new_annotations(&self, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
        let mut changed = false;
        let own: Vec<(String, String)> = self
            .d
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let annotations = rs.metadata.annotations.get_or_insert_default();
        for (k, v) in own {
            if annotations.get(&k) != Some(&v) {
                annotations.insert(k, v);
                changed = true;
            }
        }
        let old = annotations.get(REVISION).cloned();
        let old_number: i64 = old.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0);
        if old_number < new_revision {
            annotations.insert(REVISION.into(), new_revision.to_string());
            changed = true;
            if let Some(old) = old {
                let history = annotations
                    .get(REVISION_HISTORY)
                    .cloned()
                    .unwrap_or_default();
                if history.is_empty() {
                    annotations.insert(REVISION_HISTORY.into(), old);
                } else {
                    let mut revisions: Vec<&str> = history.split(',').collect();
                    let mut total = history.len() + old.len() + 1;
                    let mut start = 0;
                    while total > MAX_HISTORY_CHARS && start < revisions.len() {
                        total -= revisions[start].len() + 1;
                        start += 1;
                    }
                    if total <= MAX_HISTORY_CHARS {
                        revisions = revisions.split_off(start);
                        revisions.push(&old);
                        annotations.insert(REVISION_HISTORY.into(), revisions.join(","));
                    }
                }
            }
        }
        if !exists {
            changed |= self.set_replicas_annotations(rs);
        }
        changed
    }

    /// Upstream's `getAllReplicaSetsAndSyncRevision`: the index of the new
    /// set, created when `create` and there is none.
    fn new_set(&mut self, create: bool) -> Option<usize> {
        let existing = self.find_new();
        let max_old = self
            .olds(existing)
            .iter()
            .map(|i| revision(&self.sets[*i]))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(i) = existing {
            let mut rs = self.sets[i].clone();
            let mut changed = self.set_new_annotations(&mut rs, new_revision, true);
            let spec = rs.spec.get_or_insert_default();
            if spec.min_ready_seconds.unwrap_or(0) != self.spec.min_ready_seconds {
                spec.min_ready_seconds = Some(self.spec.min_ready_seconds);
                changed = true;
            }
            if changed {
                self.plan.actions.push(Action::Update {
                    rs: rs.clone(),
                    event: None,
                });
                self.sets[i] = rs;
            }
            let rs_revision = annotation(&self.sets[i].metadata, REVISION).map(str::to_string);
            self.sync_revision(rs_revision);
            if self.spec.progress_deadline.is_some()
                && condition(&self.status(), "Progressing").is_none()
            {
                let name = self.sets[i].metadata.name.clone().unwrap_or_default();
                let cond = new_condition(
                    "Progressing",
                    "True",
                    reason::FOUND_NEW_RS,
                    format!("Found new replica set {}", quote(&name)),
                    self.now,
                );
                set_condition(self.status_mut(), cond);
            }
            return Some(i);
        }
        if !create {
            return None;
        }
        let mut template = self
            .d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let hash = compute_hash(&template, self.status().collision_count);
        template
            .metadata
            .get_or_insert_default()
            .labels
            .get_or_insert_default()
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_default()
            .insert(HASH_LABEL.into(), hash.clone());
        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", self.name)),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![controller_ref(&self.d)]),
                labels,
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: Some(self.spec.min_ready_seconds),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let all: Vec<usize> = (0..self.sets.len()).collect();
        let count = self.new_rs_new_replicas(&all, None);
        set_replicas(&mut rs, count);
        self.set_new_annotations(&mut rs, new_revision, false);
        let event = (count > 0).then(|| {
            format!(
                "Scaled up replica set {} to {count}",
                rs.metadata.name.as_deref().unwrap_or("")
            )
        });
        self.plan.actions.push(Action::Create {
            rs: rs.clone(),
            event,
        });
        self.sync_revision(Some(new_revision.to_string()));
        if self.spec.progress_deadline.is_none() {
            self.sets.push(rs);
            return Some(self.sets.len() - 1);
        }
        let cond = new_condition(
            "Progressing",
            "True",
            reason::NEW_RS_CREATED,
            format!(
                "Created new replica set {}",
                quote(rs.metadata.name.as_deref().unwrap_or(""))
            ),
            self.now,
        );
        set_condition(self.status_mut(), cond);
        self.sets.push(rs);
        Some(self.sets.len() - 1)
    }

    /// Upstream's `SetDeploymentRevision`, as an action.
    fn sync_revision(&mut self, revision: Option<String>) {
        let Some(revision) = revision else { return };
        if annotation(&self.d.metadata, REVISION) != Some(revision.as_str()) {
            self.d
                .metadata
                .annotations
                .get_or_insert_default()
                .insert(REVISION.into(), revision.clone());
            self.plan.actions.push(Action::Revision(revision));
        }
    }

    /// Upstream's `NewRSNewReplicas`: how big the new set may be now.
    fn new_rs_new_replicas(&self, all: &[usize], new: Option<usize>) -> i32 {
        let new_size = new.map_or(0, |i| replicas(&self.sets[i]));
        if self.spec.recreate {
            return self.spec.replicas;
        }
        let current = self.sum(all, replicas);
        let max_total = self.spec.replicas + self.spec.max_surge;
        if current >= max_total {
            return new_size;
        }
        let up = (max_total - current).min(self.spec.replicas - new_size);
        new_size + up.max(0)
    }

    /// Sizes set `i` as upstream's `scaleReplicaSet`: written when its size
    /// or replica annotations change; an event when its size does.
    fn scale(&mut self, i: usize, size: i32, operation: &str) -> bool {
        let mut rs = self.sets[i].clone();
        let old = replicas(&rs);
        let resize = old != size;
        if !resize && !self.annotations_need_update(&rs) {
            return false;
        }
        set_replicas(&mut rs, size);
        self.set_replicas_annotations(&mut rs);
        let event = resize.then(|| {
            format!(
                "Scaled {operation} replica set {} to {size} from {old}",
                rs.metadata.name.as_deref().unwrap_or("")
            )
        });
        self.plan.actions.push(Action::Update {
            rs: rs.clone(),
            event,
        });
        self.sets[i] = rs;
        resize
    }

    /// Upstream's `scaleReplicaSetAndRecordEvent`.
    fn scale_to(&mut self, i: usize, size: i32) -> bool {
        let old = replicas(&self.sets[i]);
        if old == size {
            return false;
        }
        let operation = if old < size { "up" } else { "down" };
        self.scale(i, size, operation)
    }

    /// Upstream's `isScalingEvent`: an active set's desired-replicas
    /// annotation differs from the deployment's replicas.
    fn is_scaling_event(&mut self) -> bool {
        let new = self.new_set(false);
        let mut all = self.olds(new);
        all.extend(new);
        self.active(&all).into_iter().any(|i| {
            int_annotation(&self.sets[i], DESIRED_REPLICAS).is_some_and(|d| d != self.spec.replicas)
        })
    }

    /// Upstream's `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if self.spec.progress_deadline.is_none() {
            return;
        }
        let status = self.status();
        let cond = condition(&status, "Progressing");
        let reason = cond.and_then(|c| c.reason.as_deref());
        if reason == Some(reason::TIMED_OUT) {
            return;
        }
        let paused_cond = reason == Some(reason::PAUSED);
        let cond = if self.spec.paused && !paused_cond {
            new_condition(
                "Progressing",
                "Unknown",
                reason::PAUSED,
                "Deployment is paused".into(),
                self.now,
            )
        } else if !self.spec.paused && paused_cond {
            new_condition(
                "Progressing",
                "Unknown",
                reason::RESUMED,
                "Deployment is resumed".into(),
                self.now,
            )
        } else {
            return;
        };
        set_condition(self.status_mut(), cond);
    }

    /// Upstream's `sync`: a scaling event or a paused deployment.
    fn sync_scale(&mut self) {
        let new = self.new_set(false);
        let olds = self.olds(new);
        self.scale_all(new, &olds);
        if self.spec.paused {
            self.cleanup(&olds);
        }
        let mut all = olds;
        all.extend(new);
        let status = self.calculate_status(&all, new);
        self.finish(status);
    }

    /// Upstream's `syncStatusOnly` (a deployment being deleted).
    fn sync_status_only(&mut self) {
        let new = self.new_set(false);
        let mut all = self.olds(new);
        all.extend(new);
        let status = self.calculate_status(&all, new);
        self.finish(status);
    }

    /// Upstream's `scale`: the deployment's size spread over its sets.
    fn scale_all(&mut self, new: Option<usize>, olds: &[usize]) {
        let want = self.spec.replicas;
        // One active set (or none: the newest) takes the whole size.
        let mut olds_newest_first = olds.to_vec();
        olds_newest_first.sort_by(|a, b| by_creation(&self.sets[*b], &self.sets[*a]));
        let mut all = olds_newest_first.clone();
        all.extend(new);
        let active = self.active(&all);
        let only = match active.len() {
            0 => new.or_else(|| olds_newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        };
        if let Some(i) = only {
            // Upstream leaves a set already at the size alone, annotations
            // and all; then its desired-replicas annotation makes every
            // later sync a scaling event, and a new set at zero never
            // grows. The annotations are brought up to date here.
            if replicas(&self.sets[i]) == want {
                self.scale(i, want, "");
            } else {
                self.scale_to(i, want);
            }
            return;
        }
        // A saturated new set: the old ones go to zero.
        if let Some(n) = new {
            let rs = &self.sets[n];
            if int_annotation(rs, DESIRED_REPLICAS) == Some(want)
                && replicas(rs) == want
                && status_of(rs).2 == want
            {
                for i in self.active(olds) {
                    self.scale_to(i, 0);
                }
                return;
            }
        }
        if self.spec.recreate {
            return;
        }
        // Proportional scaling of every active set.
        let mut active = active;
        let total = self.sum(&active, replicas);
        let allowed = if want > 0 {
            want + self.spec.max_surge
        } else {
            0
        };
        let to_add = allowed - total;
        let operation = match to_add.cmp(&0) {
            Ordering::Greater => {
                // Bigger first; newer first among equals.
                active.sort_by(|a, b| {
                    let (ra, rb) = (&self.sets[*a], &self.sets[*b]);
                    replicas(rb)
                        .cmp(&replicas(ra))
                        .then_with(|| by_creation(rb, ra))
                });
                "up"
            }
            Ordering::Less => {
                // Bigger first; older first among equals.
                active.sort_by(|a, b| {
                    let (ra, rb) = (&self.sets[*a], &self.sets[*b]);
                    replicas(rb)
                        .cmp(&replicas(ra))
                        .then_with(|| by_creation(ra, rb))
                });
                "down"
            }
            Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(active.len());
        for &i in &active {
            let size = replicas(&self.sets[i]);
            if to_add != 0 {
                let p = self.proportion(i, to_add, added);
                sizes.push(size + p);
                added += p;
            } else {
                sizes.push(size);
            }
        }
        for (k, &i) in active.iter().enumerate() {
            if k == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale(i, sizes[k], operation);
        }
    }

    /// Upstream's `GetReplicaSetProportion`.
    fn proportion(&self, i: usize, to_add: i32, added: i32) -> i32 {
        let rs = &self.sets[i];
        let size = replicas(rs);
        if size == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = if self.spec.replicas == 0 {
            -size
        } else {
            let deployment_replicas = self.spec.replicas + self.spec.max_surge;
            let annotated = int_annotation(rs, MAX_REPLICAS)
                .unwrap_or_else(|| self.status().replicas.unwrap_or(0));
            if annotated == 0 {
                0
            } else {
                let new_size =
                    f64::from(size) * f64::from(deployment_replicas) / f64::from(annotated);
                (new_size.round() as i32) - size
            }
        };
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// Upstream's `rolloutRolling`.
    fn rollout_rolling(&mut self) {
        let Some(new) = self.new_set(true) else {
            return;
        };
        let olds = self.olds(Some(new));
        let mut all = olds.clone();
        all.push(new);
        if self.reconcile_new(&all, new) {
            return self.sync_rollout_status(&all, Some(new));
        }
        if self.reconcile_olds(&all, &self.active(&olds), new) {
            return self.sync_rollout_status(&all, Some(new));
        }
        if complete(&self.d, &self.status()) {
            self.cleanup(&olds);
        }
        self.sync_rollout_status(&all, Some(new));
    }

    /// Upstream's `reconcileNewReplicaSet`.
    fn reconcile_new(&mut self, all: &[usize], new: usize) -> bool {
        let size = replicas(&self.sets[new]);
        let want = self.spec.replicas;
        if size == want {
            return false;
        }
        if size > want {
            return self.scale_to(new, want);
        }
        let count = self.new_rs_new_replicas(all, Some(new));
        self.scale_to(new, count)
    }

    /// Upstream's `reconcileOldReplicaSets`: old sets shrink as far as
    /// availability allows, unhealthy pods first.
    fn reconcile_olds(&mut self, all: &[usize], olds: &[usize], new: usize) -> bool {
        if self.sum(olds, replicas) == 0 {
            return false;
        }
        let all_pods = self.sum(all, replicas);
        let min_available = self.spec.replicas - self.spec.max_unavailable;
        let new_rs = &self.sets[new];
        let new_unavailable = replicas(new_rs) - status_of(new_rs).2;
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let mut olds = olds.to_vec();
        olds.sort_by(|a, b| by_creation(&self.sets[*a], &self.sets[*b]));
        // Unhealthy replicas first.
        let mut cleaned = 0;
        for &i in &olds {
            if cleaned >= max_scaled_down {
                break;
            }
            let (size, available) = (replicas(&self.sets[i]), status_of(&self.sets[i]).2);
            if size == 0 || size <= available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(size - available);
            self.scale_to(i, size - down);
            cleaned += down;
        }
        // Then as far as availability allows (of the active sets).
        let mut counted = olds.clone();
        counted.push(new);
        let available = self.sum(&counted, |rs| status_of(rs).2);
        let mut scaled = 0;
        if available > min_available {
            let allowed = available - min_available;
            for &i in &olds {
                if scaled >= allowed {
                    break;
                }
                let size = replicas(&self.sets[i]);
                if size == 0 {
                    continue;
                }
                let down = size.min(allowed - scaled);
                self.scale_to(i, size - down);
                scaled += down;
            }
        }
        cleaned + scaled > 0
    }

    /// Upstream's `rolloutRecreate`: old sets to zero, wait until their
    /// pods are gone, then the new set at full size.
    fn rollout_recreate(&mut self) {
        let mut new = self.new_set(false);
        let olds = self.olds(new);
        let mut all = olds.clone();
        all.extend(new);
        let mut scaled_down = false;
        for i in self.active(&olds) {
            scaled_down |= self.scale_to(i, 0);
        }
        if scaled_down || self.old_pods_running(new, &olds) {
            return self.sync_rollout_status(&all, new);
        }
        if new.is_none() {
            new = self.new_set(true);
            all = self.olds(new);
            all.extend(new);
        }
        if let Some(n) = new {
            self.scale_to(n, self.spec.replicas);
        }
        if complete(&self.d, &self.status()) {
            self.cleanup(&self.olds(new));
        }
        self.sync_rollout_status(&all, new);
    }

    /// Upstream's `oldPodsRunning`.
    fn old_pods_running(&self, new: Option<usize>, olds: &[usize]) -> bool {
        if self.sum(olds, |rs| status_of(rs).0) > 0 {
            return true;
        }
        let new_uid = new.and_then(|n| self.sets[n].metadata.uid.clone());
        self.pods.iter().any(|(uid, pods)| {
            Some(uid) != new_uid.as_ref()
                && pods
                    .iter()
                    .any(|p| !matches!(ordinal_core::pod::phase(p), "Failed" | "Succeeded"))
        })
    }

    /// Upstream's `cleanupDeployment`: old sets beyond
    /// `revisionHistoryLimit`, lowest revision first, if empty.
    fn cleanup(&mut self, olds: &[usize]) {
        let Some(limit) = self.spec.history_limit else {
            return;
        };
        let mut cleanable: Vec<usize> = olds
            .iter()
            .copied()
            .filter(|i| self.sets[*i].metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| {
            let (ra, rb) = (&self.sets[*a], &self.sets[*b]);
            revision(ra)
                .cmp(&revision(rb))
                .then_with(|| by_creation(ra, rb))
        });
        for &i in cleanable.iter().take(diff as usize) {
            let rs = &self.sets[i];
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation);
            if status_of(rs).0 != 0
                || replicas(rs) != 0
                || rs.metadata.generation > observed
                || rs.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            self.plan.actions.push(Action::Delete(PodRef::of(rs)));
        }
    }

    /// Upstream's `calculateStatus`.
    fn calculate_status(&self, all: &[usize], new: Option<usize>) -> DeploymentStatus {
        let available = self.sum(all, |rs| status_of(rs).2);
        let total = self.sum(all, replicas);
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: Some(self.sum(all, |rs| status_of(rs).0)),
            updated_replicas: Some(new.map_or(0, |n| status_of(&self.sets[n]).0)),
            ready_replicas: Some(self.sum(all, |rs| status_of(rs).1)),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            collision_count: self.status().collision_count,
            conditions: self.status().conditions,
            terminating_replicas: None,
        };
        let cond = if available >= self.spec.replicas - self.spec.max_unavailable {
            new_condition(
                "Available",
                "True",
                reason::MIN_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now,
            )
        } else {
            new_condition(
                "Available",
                "False",
                reason::MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now,
            )
        };
        set_condition(&mut status, cond);
        status
    }

    /// Upstream's `syncRolloutStatus`: the status with the Progressing
    /// condition (and the requeue for the progress deadline).
    fn sync_rollout_status(&mut self, all: &[usize], new: Option<usize>) {
        let mut status = self.calculate_status(all, new);
        let new_name = new.and_then(|n| self.sets[n].metadata.name.clone());
        let subject = |what: &str| match &new_name {
            Some(n) => format!("ReplicaSet {} {what}", quote(n)),
            None => format!("Deployment {} {what}", quote(&self.name)),
        };
        if self.spec.progress_deadline.is_none() {
            remove_condition(&mut status, "Progressing");
        }
        let old = self.status();
        let current = condition(&old, "Progressing").cloned();
        let is_complete = status.replicas == status.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(reason::NEW_RS_AVAILABLE);
        if self.spec.progress_deadline.is_some() && !is_complete {
            if complete(&self.d, &status) {
                let cond = new_condition(
                    "Progressing",
                    "True",
                    reason::NEW_RS_AVAILABLE,
                    subject("has successfully progressed."),
                    self.now,
                );
                set_condition(&mut status, cond);
            } else if progressing(&old, &status) {
                let mut cond = new_condition(
                    "Progressing",
                    "True",
                    reason::RS_UPDATED,
                    subject("is progressing."),
                    self.now,
                );
                if let Some(c) = &current {
                    if c.status == "True" {
                        cond.last_transition_time = c.last_transition_time.clone();
                    }
                    remove_condition(&mut status, "Progressing");
                }
                set_condition(&mut status, cond);
            } else if self.timed_out(&status) {
                let cond = new_condition(
                    "Progressing",
                    "False",
                    reason::TIMED_OUT,
                    subject("has timed out progressing."),
                    self.now,
                );
                set_condition(&mut status, cond);
            }
        }
        // The first ReplicaFailure of the sets, new set first.
        let mut order: Vec<usize> = new.into_iter().collect();
        order.extend(all.iter().copied().filter(|i| Some(*i) != new));
        let failure = order.iter().find_map(|i| {
            self.sets[*i]
                .status
                .as_ref()?
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "ReplicaFailure")
                .cloned()
        });
        match failure {
            Some(f) => set_condition(
                &mut status,
                DeploymentCondition {
                    type_: f.type_,
                    status: f.status,
                    reason: f.reason,
                    message: f.message,
                    last_update_time: f.last_transition_time.clone(),
                    last_transition_time: f.last_transition_time,
                },
            ),
            None => remove_condition(&mut status, "ReplicaFailure"),
        }
        self.plan.requeue_after = self.stuck_requeue(&status);
        self.finish(status);
    }

    /// Upstream's `DeploymentTimedOut`.
    fn timed_out(&self, status: &DeploymentStatus) -> bool {
        let Some(deadline) = self.spec.progress_deadline else {
            return false;
        };
        let Some(cond) = condition(status, "Progressing") else {
            return false;
        };
        match cond.reason.as_deref() {
            Some(reason::NEW_RS_AVAILABLE) => false,
            Some(reason::TIMED_OUT) => true,
            _ => cond.last_update_time.as_ref().is_some_and(|t| {
                t.0.checked_add(SignedDuration::from_secs(i64::from(deadline)))
                    .is_ok_and(|at| at < self.now)
            }),
        }
    }

    /// Upstream's `requeueStuckDeployment`: when the deadline of a
    /// rollout still in progress passes.
    fn stuck_requeue(&self, status: &DeploymentStatus) -> Option<Duration> {
        let deadline = self.spec.progress_deadline?;
        let cond = condition(status, "Progressing")?;
        if complete(&self.d, status) || cond.reason.as_deref() == Some(reason::TIMED_OUT) {
            return None;
        }
        let at = cond
            .last_update_time
            .as_ref()?
            .0
            .checked_add(SignedDuration::from_secs(i64::from(deadline)))
            .ok()?;
        let left = Duration::try_from(at.duration_since(self.now)).unwrap_or(Duration::ZERO);
        Some(if left < Duration::from_secs(1) {
            Duration::ZERO
        } else {
            left + Duration::from_secs(1)
        })
    }

    /// The status to write, when it differs from the stored.
    fn finish(&mut self, status: DeploymentStatus) {
        if !same_status(self.stored.as_ref(), &status) {
            self.plan.status = Some(status);
        }
    }
}

/// Whether two statuses say the same, an absent count being zero (as Go
/// omits zero counts).
pub fn same_status(a: Option<&DeploymentStatus>, b: &DeploymentStatus) -> bool {
    let normal = |s: &DeploymentStatus| {
        let mut s = s.clone();
        for field in [
            &mut s.replicas,
            &mut s.updated_replicas,
            &mut s.ready_replicas,
            &mut s.available_replicas,
            &mut s.unavailable_replicas,
        ] {
            if *field == Some(0) {
                *field = None;
            }
        }
        if s.observed_generation == Some(0) {
            s.observed_generation = None;
        }
        if s.conditions.as_ref().is_some_and(|c| c.is_empty()) {
            s.conditions = None;
        }
        s
    };
    a.map(normal).unwrap_or_default() == normal(b)
}

/// Upstream's `DeploymentProgressing`: more updated, fewer old, more
/// ready or more available pods than before.
fn progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_olds = n(old.replicas) - n(old.updated_replicas);
    let new_olds = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_olds < old_olds
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

#[cfg(test)]
mod tests;
