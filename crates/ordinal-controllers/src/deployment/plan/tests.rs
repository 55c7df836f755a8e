//! The Deployment planner, as rollouts a user would watch, run against a
//! small simulated cluster (the ReplicaSet planner makes and deletes the
//! pods; the test decides when pods become ready), and its invariants as
//! properties.

use super::*;
use crate::replicaset::plan as rs_plan;
use proptest::prelude::*;
use serde_json::json;

fn start() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn deployment(replicas: i32, strategy: serde_json::Value, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": strategy,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }))
    .unwrap()
}

fn rolling(surge: i32, unavailable: i32) -> serde_json::Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

fn recreate() -> serde_json::Value {
    json!({"type": "Recreate"})
}

/// A cluster of one deployment, its sets and pods. Deleted pods stay
/// terminating for one step.
struct Sim {
    d: Deployment,
    sets: Vec<ReplicaSet>,
    pods: Vec<Pod>,
    now: Timestamp,
    serial: u64,
    events: Vec<String>,
}

impl Sim {
    fn new(d: Deployment) -> Sim {
        Sim {
            d,
            sets: Vec::new(),
            pods: Vec::new(),
            now: start(),
            serial: 0,
            events: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// One sync of the deployment, its writes applied.
    fn sync(&mut self) -> Plan {
        let sets: Vec<&ReplicaSet> = self.sets.iter().collect();
        let pods: Vec<&Pod> = self.pods.iter().collect();
        let planned = plan(&self.d, &sets, &pods, self.now);
        for action in &planned.actions {
            match action {
                Action::Adopt(_) | Action::Release(_) => {}
                Action::Create { rs, event } => {
                    let mut rs = rs.clone();
                    let n = self.next();
                    rs.metadata.uid = Some(format!("rs-{n}"));
                    rs.metadata.generation = Some(1);
                    rs.metadata.creation_timestamp =
                        Some(Time(self.now + SignedDuration::from_secs(n as i64)));
                    assert!(
                        !self
                            .sets
                            .iter()
                            .any(|s| s.metadata.name == rs.metadata.name),
                        "created {:?} twice",
                        rs.metadata.name
                    );
                    self.sets.push(rs);
                    self.events.extend(event.clone());
                }
                Action::Update { rs, event } => {
                    let slot = self
                        .sets
                        .iter_mut()
                        .find(|s| s.metadata.name == rs.metadata.name)
                        .expect("an existing set");
                    *slot = rs.clone();
                    self.events.extend(event.clone());
                }
                Action::Delete(r) => self
                    .sets
                    .retain(|s| s.metadata.uid.as_ref() != Some(&r.uid)),
                Action::Revision(r) => {
                    self.d
                        .metadata
                        .annotations
                        .get_or_insert_default()
                        .insert(REVISION.into(), r.clone());
                }
            }
        }
        if let Some(status) = &planned.status {
            self.d.status = Some(status.clone());
        }
        planned
    }

    /// The ReplicaSet controller's pass over every set: terminating pods
    /// go, then each set's plan is carried out and its status written.
    fn replicasets(&mut self) {
        self.pods
            .retain(|p| p.metadata.deletion_timestamp.is_none());
        for i in 0..self.sets.len() {
            let rs = self.sets[i].clone();
            let refs: Vec<&Pod> = self.pods.iter().collect();
            let planned = rs_plan::plan(&rs, &refs);
            for d in &planned.delete {
                for p in &mut self.pods {
                    if p.metadata.uid.as_ref() == Some(&d.uid) {
                        p.metadata.deletion_timestamp = Some(Time(self.now));
                    }
                }
            }
            if let Some(template) = &planned.pod {
                for _ in 0..planned.create {
                    let n = self.next();
                    let mut pod = template.clone();
                    pod.metadata.name =
                        Some(format!("{}-{n}", rs.metadata.name.as_deref().unwrap()));
                    pod.metadata.uid = Some(format!("pod-{n}"));
                    pod.metadata.creation_timestamp =
                        Some(Time(self.now + SignedDuration::from_secs(n as i64)));
                    pod.spec.get_or_insert_default().node_name = Some("n1".into());
                    pod.status = Some(serde_json::from_value(json!({"phase": "Pending"})).unwrap());
                    self.pods.push(pod);
                }
            }
        }
        self.rs_statuses();
    }

    fn rs_statuses(&mut self) {
        for i in 0..self.sets.len() {
            let refs: Vec<&Pod> = self.pods.iter().collect();
            let mut status = rs_plan::status(&self.sets[i], &refs, None, self.now);
            status.observed_generation = self.sets[i].metadata.generation;
            self.sets[i].status = Some(status);
        }
    }

    /// The kubelet: each pending pod whose turn it is becomes ready.
    fn kubelet(&mut self, ready: impl Fn(usize) -> bool) {
        let now = self.now;
        for (k, pod) in self
            .pods
            .iter_mut()
            .filter(|p| p.metadata.deletion_timestamp.is_none() && !ordinal_core::pod::is_ready(p))
            .enumerate()
        {
            if ready(k) {
                pod.status = Some(
                    serde_json::from_value(json!({"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": Time(now)}]}))
                    .unwrap(),
                );
            }
        }
        self.rs_statuses();
    }

    fn step(&mut self, ready: impl Fn(usize) -> bool) {
        self.sync();
        self.replicasets();
        self.kubelet(ready);
        self.now += SignedDuration::from_secs(1);
    }

    /// Steps with every pod becoming ready at once, until nothing moves.
    fn settle(&mut self) {
        for _ in 0..50 {
            self.step(|_| true);
        }
    }

    fn set_template(&mut self, image: &str) {
        let spec = self.d.spec.as_mut().unwrap();
        spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
        self.bump();
    }

    fn bump(&mut self) {
        self.d.metadata.generation = Some(self.d.metadata.generation.unwrap() + 1);
    }

    fn set_by_image(&self, image: &str) -> &ReplicaSet {
        self.sets
            .iter()
            .find(|s| {
                s.spec
                    .as_ref()
                    .unwrap()
                    .template
                    .as_ref()
                    .unwrap()
                    .spec
                    .as_ref()
                    .unwrap()
                    .containers[0]
                    .image
                    .as_deref()
                    == Some(image)
            })
            .unwrap_or_else(|| panic!("no set runs {image}"))
    }

    fn sizes(&self) -> Vec<(String, i32)> {
        self.sets
            .iter()
            .map(|s| (image_of(s), replicas(s)))
            .collect()
    }

    fn status(&self) -> DeploymentStatus {
        self.d.status.clone().unwrap_or_default()
    }

    fn progressing(&self) -> (String, String) {
        let s = self.status();
        let c = condition(&s, "Progressing").expect("a Progressing condition");
        (c.status.clone(), c.reason.clone().unwrap_or_default())
    }

    fn pods_of(&self, image: &str) -> usize {
        let uid = self.set_by_image(image).metadata.uid.clone();
        self.pods
            .iter()
            .filter(|p| {
                p.metadata.owner_references.as_ref().unwrap()[0].uid == uid.clone().unwrap()
            })
            .count()
    }
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

fn complete_status(sim: &Sim) -> bool {
    let s = sim.status();
    complete(&sim.d, &s)
}

#[test]
fn a_new_deployment_creates_its_replica_set_and_completes() {
    let mut sim = Sim::new(deployment(3, rolling(1, 0), "nginx:1"));
    let first = sim.sync();
    let Action::Create { rs, event } = &first.actions[0] else {
        panic!("{:?}", first.actions);
    };
    let hash = compute_hash(&sim.d.spec.as_ref().unwrap().template, None);
    assert_eq!(
        rs.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    assert_eq!(rs.metadata.labels.as_ref().unwrap()[HASH_LABEL], hash);
    assert_eq!(
        rs.spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .as_ref()
            .unwrap()[HASH_LABEL],
        hash
    );
    assert_eq!(rs.metadata.annotations.as_ref().unwrap()[REVISION], "1");
    assert_eq!(
        rs.metadata.annotations.as_ref().unwrap()[DESIRED_REPLICAS],
        "3"
    );
    assert_eq!(rs.metadata.annotations.as_ref().unwrap()[MAX_REPLICAS], "4");
    assert_eq!(
        event.as_deref(),
        Some(format!("Scaled up replica set web-{hash} to 3").as_str())
    );
    assert!(matches!(&first.actions[1], Action::Revision(r) if r == "1"));
    assert_eq!(
        sim.progressing(),
        ("True".into(), reason::NEW_RS_CREATED.into())
    );
    sim.settle();
    let s = sim.status();
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(
        sim.progressing(),
        ("True".into(), reason::NEW_RS_AVAILABLE.into())
    );
    let available = condition(&s, "Available").unwrap();
    assert_eq!(available.reason.as_deref(), Some(reason::MIN_AVAILABLE));
    // Settled: a sync writes nothing.
    let quiet = sim.sync();
    assert!(
        quiet.actions.is_empty() && quiet.status.is_none(),
        "{quiet:?}"
    );
}

#[test]
fn a_rolling_update_replaces_the_pods_within_surge_and_unavailability() {
    let mut sim = Sim::new(deployment(4, rolling(1, 1), "nginx:1"));
    sim.settle();
    sim.set_template("nginx:2");
    for _ in 0..40 {
        sim.step(|k| k % 2 == 0);
        let total: i32 = sim.sets.iter().map(replicas).sum();
        assert!(total <= 5, "{:?}", sim.sizes());
    }
    sim.settle();
    assert_eq!(sim.sizes(), [("nginx:1".into(), 0), ("nginx:2".into(), 4)]);
    assert_eq!(revision(sim.set_by_image("nginx:2")), 2);
    assert!(complete_status(&sim));
    assert!(
        sim.events
            .iter()
            .any(|e| e.starts_with("Scaled down replica set web-") && e.contains(" to 0 from ")),
        "{:?}",
        sim.events
    );
}

#[test]
fn a_rollback_reuses_the_old_set_with_the_next_revision() {
    let mut sim = Sim::new(deployment(2, rolling(1, 0), "nginx:1"));
    sim.settle();
    let first = sim.set_by_image("nginx:1").metadata.name.clone();
    sim.set_template("nginx:2");
    sim.settle();
    // kubectl rollout undo: the old set's template, back in the deployment.
    sim.set_template("nginx:1");
    sim.settle();
    assert_eq!(sim.sets.len(), 2, "{:?}", sim.sizes());
    let back = sim.set_by_image("nginx:1");
    assert_eq!(back.metadata.name, first);
    assert_eq!(revision(back), 3);
    assert_eq!(
        back.metadata.annotations.as_ref().unwrap()[REVISION_HISTORY],
        "1"
    );
    assert_eq!(replicas(back), 2);
    assert_eq!(replicas(sim.set_by_image("nginx:2")), 0);
    assert_eq!(sim.d.metadata.annotations.as_ref().unwrap()[REVISION], "3");
}

#[test]
fn recreate_scales_the_old_set_down_and_waits_for_its_pods() {
    let mut sim = Sim::new(deployment(3, recreate(), "nginx:1"));
    sim.settle();
    sim.set_template("nginx:2");
    // The old set goes to zero; no new set while its pods remain.
    sim.sync();
    assert_eq!(sim.sizes(), [("nginx:1".into(), 0)]);
    sim.sync();
    assert_eq!(sim.sets.len(), 1, "no new set while old pods run");
    sim.replicasets(); // the old pods terminate
    sim.sync();
    assert_eq!(sim.sets.len(), 1, "terminating pods still hold the rollout");
    sim.replicasets(); // and are gone
    sim.sync();
    assert_eq!(sim.sizes(), [("nginx:1".into(), 0), ("nginx:2".into(), 3)]);
    sim.settle();
    assert!(complete_status(&sim));
}

#[test]
fn scaling_mid_rollout_is_proportional() {
    let mut sim = Sim::new(deployment(10, rolling(3, 2), "nginx:1"));
    sim.settle();
    sim.set_template("nginx:2");
    // New pods never become ready: the rollout is stuck at 13 = 10 + 3
    // (8 old, 5 new).
    for _ in 0..5 {
        sim.step(|_| false);
    }
    assert_eq!(sim.sizes(), [("nginx:1".into(), 8), ("nginx:2".into(), 5)]);
    sim.d.spec.as_mut().unwrap().replicas = Some(15);
    sim.bump();
    sim.sync();
    // A scaling event: 15 + 3 = 18 pods, spread as the sets' 8:5 of 13.
    assert_eq!(sim.sizes(), [("nginx:1".into(), 11), ("nginx:2".into(), 7)]);
    for s in &sim.sets {
        assert_eq!(
            s.metadata.annotations.as_ref().unwrap()[DESIRED_REPLICAS],
            "15"
        );
        assert_eq!(s.metadata.annotations.as_ref().unwrap()[MAX_REPLICAS], "18");
    }
}

#[test]
fn a_paused_deployment_scales_but_does_not_roll_out() {
    let mut sim = Sim::new(deployment(2, rolling(1, 0), "nginx:1"));
    sim.settle();
    sim.d.spec.as_mut().unwrap().paused = Some(true);
    sim.bump();
    sim.sync();
    assert_eq!(sim.progressing(), ("Unknown".into(), reason::PAUSED.into()));
    sim.set_template("nginx:2");
    sim.d.spec.as_mut().unwrap().replicas = Some(4);
    sim.settle();
    assert_eq!(sim.sizes(), [("nginx:1".into(), 4)]);
    sim.d.spec.as_mut().unwrap().paused = Some(false);
    sim.bump();
    sim.sync();
    assert_eq!(
        sim.progressing().1,
        reason::NEW_RS_CREATED,
        "resumed, the rollout starts"
    );
    sim.settle();
    assert_eq!(sim.sizes(), [("nginx:1".into(), 0), ("nginx:2".into(), 4)]);
}

#[test]
fn no_progress_within_the_deadline_times_out_and_asks_to_look_again_before() {
    let mut d = deployment(2, rolling(1, 0), "nginx:1");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(30);
    let mut sim = Sim::new(d);
    sim.settle();
    sim.set_template("broken");
    sim.step(|_| false);
    let planned = sim.sync();
    assert_eq!(sim.progressing().1, reason::RS_UPDATED);
    let wait = planned.requeue_after.expect("a requeue for the deadline");
    assert!(
        wait > Duration::from_secs(20) && wait <= Duration::from_secs(31),
        "{wait:?}"
    );
    for _ in 0..40 {
        sim.step(|_| false);
    }
    let (status, why) = sim.progressing();
    assert_eq!(
        (status.as_str(), why.as_str()),
        ("False", reason::TIMED_OUT)
    );
    let s = sim.status();
    let c = condition(&s, "Progressing").unwrap();
    let new_name = sim.set_by_image("broken").metadata.name.clone().unwrap();
    assert_eq!(
        c.message.as_deref(),
        Some(format!("ReplicaSet \"{new_name}\" has timed out progressing.").as_str())
    );
    // The old pods still serve.
    assert_eq!(s.available_replicas, Some(2));
}

#[test]
fn old_sets_beyond_the_history_limit_are_deleted() {
    let mut d = deployment(1, rolling(1, 0), "v0");
    d.spec.as_mut().unwrap().revision_history_limit = Some(2);
    let mut sim = Sim::new(d);
    sim.settle();
    for v in 1..=4 {
        sim.set_template(&format!("v{v}"));
        sim.settle();
    }
    let mut images: Vec<String> = sim.sets.iter().map(image_of).collect();
    images.sort();
    assert_eq!(images, ["v2", "v3", "v4"]);
}

#[test]
fn an_empty_selector_is_refused_with_an_event() {
    let mut d = deployment(1, rolling(1, 0), "nginx");
    d.spec.as_mut().unwrap().selector = LabelSelector::default();
    let planned = plan(&d, &[], &[], start());
    assert!(planned.actions.is_empty());
    assert_eq!(planned.events[0].reason, "SelectingAll");
    assert_eq!(planned.status.unwrap().observed_generation, Some(1));
}

#[test]
fn orphan_sets_that_match_are_adopted_and_found() {
    let d = deployment(2, rolling(1, 0), "nginx:1");
    let mut template = d.spec.as_ref().unwrap().template.clone();
    template
        .metadata
        .get_or_insert_default()
        .labels
        .get_or_insert_default()
        .insert(HASH_LABEL.into(), "abc".into());
    let orphan: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web-abc", "namespace": "default", "uid": "o-uid",
                     "labels": {"app": "web", HASH_LABEL: "abc"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", HASH_LABEL: "abc"}},
                 "template": template},
    }))
    .unwrap();
    let planned = plan(&d, &[&orphan], &[], start());
    assert!(matches!(&planned.actions[0], Action::Adopt(r) if r.name == "web-abc"));
    assert!(
        !planned
            .actions
            .iter()
            .any(|a| matches!(a, Action::Create { .. })),
        "{:?}",
        planned.actions
    );
}

#[test]
fn the_hash_changes_with_the_template_and_the_collision_count() {
    let d = deployment(1, rolling(1, 0), "nginx:1");
    let t = &d.spec.as_ref().unwrap().template;
    let other = &deployment(1, rolling(1, 0), "nginx:2")
        .spec
        .unwrap()
        .template;
    let h = compute_hash(t, None);
    assert_eq!(h, compute_hash(t, None));
    assert_ne!(h, compute_hash(other, None));
    assert_ne!(h, compute_hash(t, Some(1)));
    assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{h}");
}

#[test]
fn fenceposts_follow_upstream() {
    let total = 10;
    let pct = |s: &str| IntOrString::String(s.into());
    assert_eq!(scaled(Some(&pct("25%")), "", total, true), 3);
    assert_eq!(scaled(Some(&pct("25%")), "", total, false), 2);
    assert_eq!(scaled(None, "25%", 1, true), 1);
    assert_eq!(scaled(None, "25%", 1, false), 0);
    assert_eq!(scaled(Some(&IntOrString::Int(4)), "", total, true), 4);
    // Both zero: one may be unavailable.
    let d = deployment(3, rolling(0, 0), "x");
    let spec = Spec::of(&d);
    assert_eq!((spec.max_surge, spec.max_unavailable), (0, 1));
}

fn arb_strategy() -> impl Strategy<Value = (i32, i32)> {
    (0i32..4, 0i32..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A rolling update never runs more than replicas + maxSurge pods,
    /// never takes availability below replicas - maxUnavailable, and
    /// completes once pods become ready.
    #[test]
    fn rolling_updates_stay_within_their_bounds(
        replicas in 0i32..7,
        (surge, unavailable) in arb_strategy(),
        readiness in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 12), 30),
    ) {
        let mut sim = Sim::new(deployment(replicas, rolling(surge, unavailable), "v1"));
        sim.settle();
        let spec = Spec::of(&sim.d);
        let bound = (replicas + spec.max_surge) as usize;
        let min_available = (replicas - spec.max_unavailable) as usize;
        sim.set_template("v2");
        for ready in &readiness {
            let available_before = available_pods(&sim);
            sim.sync();
            let total: i32 = sim.sets.iter().map(replicas_of).sum();
            prop_assert!(total as usize <= bound, "{:?}", sim.sizes());
            sim.replicasets();
            let pods = sim.pods.len();
            prop_assert!(pods <= bound, "{} pods > {}", pods, bound);
            let available = available_pods(&sim);
            prop_assert!(
                available >= min_available.min(available_before),
                "availability fell to {} (before {}, minimum {})",
                available, available_before, min_available
            );
            sim.kubelet(|k| ready.get(k).copied().unwrap_or(true));
            sim.now += SignedDuration::from_secs(1);
        }
        sim.settle();
        prop_assert!(complete_status(&sim), "{:?} {:?}", sim.sizes(), sim.status());
        prop_assert_eq!(sim.pods_of("v2"), replicas as usize);
        prop_assert_eq!(sim.pods.len(), replicas as usize);
    }

    /// A Recreate rollout never runs a new pod beside an old one, even a
    /// terminating one.
    #[test]
    fn recreate_never_overlaps_old_and_new_pods(
        replicas in 1i32..6,
        readiness in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 8), 20),
    ) {
        let mut sim = Sim::new(deployment(replicas, recreate(), "v1"));
        sim.settle();
        sim.set_template("v2");
        for ready in &readiness {
            sim.sync();
            sim.replicasets();
            let old = sim.pods.iter().filter(|p| owner_image(&sim, p) == "v1").count();
            let new = sim.pods.iter().filter(|p| owner_image(&sim, p) == "v2").count();
            prop_assert!(old == 0 || new == 0, "{} old and {} new pods", old, new);
            sim.kubelet(|k| ready.get(k).copied().unwrap_or(true));
        }
        sim.settle();
        prop_assert!(complete_status(&sim));
    }

    /// Resizing a deployment in the middle of a rollout keeps its sets
    /// within the new replicas + maxSurge and ends at the new size.
    #[test]
    fn resizing_mid_rollout_respects_the_new_bound(
        replicas in 1i32..8,
        resized in 0i32..10,
        (surge, unavailable) in arb_strategy(),
        steps in 0usize..6,
    ) {
        let mut sim = Sim::new(deployment(replicas, rolling(surge, unavailable), "v1"));
        sim.settle();
        sim.set_template("v2");
        for _ in 0..steps {
            sim.step(|k| k % 3 == 0);
        }
        sim.d.spec.as_mut().unwrap().replicas = Some(resized);
        sim.bump();
        let spec = Spec::of(&sim.d);
        sim.sync();
        let total: i32 = sim.sets.iter().map(replicas_of).sum();
        prop_assert!(total <= resized + spec.max_surge, "{:?}", sim.sizes());
        sim.settle();
        prop_assert!(complete_status(&sim), "{:?} {:?}", sim.sizes(), sim.status());
        prop_assert_eq!(sim.pods.len(), resized as usize);
    }
}

fn replicas_of(rs: &ReplicaSet) -> i32 {
    replicas(rs)
}

fn available_pods(sim: &Sim) -> usize {
    sim.pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && ordinal_core::pod::is_ready(p))
        .count()
}

fn owner_image(sim: &Sim, pod: &Pod) -> String {
    let uid = &pod.metadata.owner_references.as_ref().unwrap()[0].uid;
    sim.sets
        .iter()
        .find(|s| s.metadata.uid.as_ref() == Some(uid))
        .map(image_of)
        .unwrap_or_default()
}

#[test]
fn without_a_progress_deadline_there_is_no_progressing_condition() {
    let mut d = deployment(2, rolling(1, 0), "nginx:1");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
    let mut sim = Sim::new(d);
    sim.settle();
    sim.set_template("nginx:2");
    sim.settle();
    let s = sim.status();
    assert!(condition(&s, "Progressing").is_none(), "{s:?}");
    assert!(complete_status(&sim));
    assert_eq!(
        condition(&s, "Available").unwrap().reason.as_deref(),
        Some(reason::MIN_AVAILABLE)
    );
}
