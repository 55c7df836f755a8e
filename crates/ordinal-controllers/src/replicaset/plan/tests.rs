//! The ReplicaSet planner, as scenarios, and its invariants as
//! properties.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn now() -> Timestamp {
    "2026-01-01T00:10:00Z".parse().unwrap()
}

fn set(replicas: i32, min_ready: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": "web-abc12", "namespace": "default", "uid": "rs-uid", "generation": 2},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web", "tier": "front"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }))
    .unwrap()
}

/// A pod of the set (or an orphan, or another's) in a given state.
struct P {
    name: &'static str,
    owner: Option<&'static str>,
    node: Option<&'static str>,
    phase: &'static str,
    ready_since: Option<&'static str>,
    created: &'static str,
    labels: serde_json::Value,
}

impl P {
    fn new(name: &'static str) -> P {
        P {
            name,
            owner: Some("rs-uid"),
            node: Some("n1"),
            phase: "Running",
            ready_since: Some("2026-01-01T00:00:00Z"),
            created: "2026-01-01T00:00:00Z",
            labels: json!({"app": "web", "tier": "front"}),
        }
    }

    fn pod(&self) -> Pod {
        let mut conditions = vec![];
        if let Some(since) = self.ready_since {
            conditions
                .push(json!({"type": "Ready", "status": "True", "lastTransitionTime": since}));
        } else {
            conditions.push(json!({"type": "Ready", "status": "False"}));
        }
        let owners: Vec<serde_json::Value> = self
            .owner
            .iter()
            .map(|uid| {
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc12",
                       "uid": uid, "controller": true})
            })
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": self.name, "namespace": "default", "uid": format!("uid-{}", self.name),
                         "labels": self.labels, "ownerReferences": owners,
                         "creationTimestamp": self.created},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": self.node},
            "status": {"phase": self.phase, "conditions": conditions},
        }))
        .unwrap()
    }
}

fn names(refs: &[PodRef]) -> Vec<&str> {
    refs.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn a_new_set_creates_its_pods_from_the_template() {
    let rs = set(3, 0);
    let planned = plan(&rs, &[]);
    assert_eq!(planned.create, 3);
    let pod = planned.pod.unwrap();
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc12-"));
    assert_eq!(pod.metadata.name, None);
    assert_eq!(pod.metadata.labels.unwrap()["tier"], "front");
    let owner = &pod.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("ReplicaSet", "rs-uid", Some(true))
    );
    assert!(planned.delete.is_empty());
}

#[test]
fn finished_and_terminating_pods_do_not_count() {
    let rs = set(2, 0);
    let mut failed = P::new("a");
    failed.phase = "Failed";
    let mut terminating = P::new("b").pod();
    terminating.metadata.deletion_timestamp = Some(Time(now()));
    let pods = [failed.pod(), terminating, P::new("c").pod()];
    let refs: Vec<&Pod> = pods.iter().collect();
    assert_eq!(plan(&rs, &refs).create, 1);
}

#[test]
fn scale_down_deletes_unscheduled_pending_unready_and_young_pods_first() {
    let rs = set(1, 0);
    let mut unscheduled = P::new("unscheduled");
    unscheduled.node = None;
    unscheduled.phase = "Pending";
    unscheduled.ready_since = None;
    let mut pending = P::new("pending");
    pending.phase = "Pending";
    pending.ready_since = None;
    let mut unready = P::new("unready");
    unready.ready_since = None;
    let mut young = P::new("young");
    young.created = "2026-01-01T00:05:00Z";
    young.ready_since = Some("2026-01-01T00:00:00Z");
    let mut recently_ready = P::new("recently-ready");
    recently_ready.ready_since = Some("2026-01-01T00:08:00Z");
    let old = P::new("old");
    let pods: Vec<Pod> = [old, young, recently_ready, unready, pending, unscheduled]
        .iter()
        .map(P::pod)
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let planned = plan(&rs, &refs);
    assert_eq!(
        names(&planned.delete),
        [
            "unscheduled",
            "pending",
            "unready",
            "recently-ready",
            "young"
        ]
    );
    assert_eq!(planned.create, 0);
}

#[test]
fn orphans_are_adopted_strays_released_and_others_left_alone() {
    let rs = set(2, 0);
    let mut orphan = P::new("orphan");
    orphan.owner = None;
    let mut strayed = P::new("strayed");
    strayed.labels = json!({"app": "other"});
    let mut foreign = P::new("foreign");
    foreign.owner = Some("other-uid");
    let mut unrelated_orphan = P::new("unrelated");
    unrelated_orphan.owner = None;
    unrelated_orphan.labels = json!({"app": "db"});
    let pods: Vec<Pod> = [orphan, strayed, foreign, unrelated_orphan, P::new("mine")]
        .iter()
        .map(P::pod)
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let planned = plan(&rs, &refs);
    assert_eq!(names(&planned.adopt), ["orphan"]);
    assert_eq!(names(&planned.release), ["strayed"]);
    // The adopted orphan counts: two pods, nothing to create.
    assert_eq!(planned.create, 0);
    assert!(planned.delete.is_empty());
}

#[test]
fn status_counts_ready_available_and_fully_labeled_pods() {
    let rs = set(3, 60);
    let mut partly_labeled = P::new("partly");
    partly_labeled.labels = json!({"app": "web"});
    let mut just_ready = P::new("just-ready");
    just_ready.ready_since = Some("2026-01-01T00:09:30Z");
    let mut unready = P::new("unready");
    unready.ready_since = None;
    let pods: Vec<Pod> = [partly_labeled, just_ready, unready]
        .iter()
        .map(P::pod)
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let s = status(&rs, &refs, None, now());
    assert_eq!(s.replicas, 3);
    assert_eq!(s.fully_labeled_replicas, Some(2));
    assert_eq!(s.ready_replicas, Some(2));
    assert_eq!(s.available_replicas, Some(1));
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(s.conditions, None);
    // The pod ready for 30 of 60 seconds is looked at again when its
    // time comes.
    assert_eq!(
        next_available(&rs, &refs, now()),
        Some(Duration::from_secs(31))
    );
}

#[test]
fn a_failed_creation_sets_replica_failure_until_a_sync_succeeds() {
    let rs = set(1, 0);
    let failed = status(&rs, &[], Some(("FailedCreate", "quota exceeded")), now());
    let c = &failed.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (
            c.type_.as_str(),
            c.status.as_str(),
            c.reason.as_deref(),
            c.message.as_deref()
        ),
        (
            "ReplicaFailure",
            "True",
            Some("FailedCreate"),
            Some("quota exceeded")
        )
    );
    let mut written = rs.clone();
    written.status = Some(failed);
    let pods = [P::new("a").pod()];
    let refs: Vec<&Pod> = pods.iter().collect();
    assert_eq!(status(&written, &refs, None, now()).conditions, None);
}

#[test]
fn an_unchanged_status_is_not_written_again() {
    let rs = set(1, 0);
    let pods = [P::new("a").pod()];
    let refs: Vec<&Pod> = pods.iter().collect();
    let mut written = rs.clone();
    written.status = Some(status(&rs, &refs, None, now()));
    assert!(same_status(
        written.status.as_ref(),
        &status(&written, &refs, None, now())
    ));
    assert!(!same_status(
        rs.status.as_ref(),
        &status(&rs, &refs, None, now())
    ));
}

fn arb_pod(i: usize) -> impl Strategy<Value = Pod> {
    (
        proptest::option::of(prop_oneof![Just("n1"), Just("n2")]),
        prop_oneof![
            Just("Pending"),
            Just("Running"),
            Just("Unknown"),
            Just("Succeeded")
        ],
        any::<bool>(),
        0u32..50,
        prop_oneof![Just(Some("rs-uid")), Just(None), Just(Some("other"))],
        any::<bool>(),
    )
        .prop_map(move |(node, phase, ready, minute, owner, matches)| {
            let name: &'static str = Box::leak(format!("p{i}").into_boxed_str());
            let created: &'static str =
                Box::leak(format!("2026-01-01T00:{:02}:00Z", minute % 10).into_boxed_str());
            let mut p = P::new(name);
            p.node = node;
            p.phase = phase;
            p.ready_since = ready.then_some("2026-01-01T00:00:00Z");
            p.created = created;
            p.owner = owner;
            if !matches {
                p.labels = json!({"app": "db"});
            }
            p.pod()
        })
}

fn arb_pods() -> impl Strategy<Value = Vec<Pod>> {
    (0usize..12).prop_flat_map(|n| (0..n).map(arb_pod).collect::<Vec<_>>())
}

proptest! {
    /// After the plan, the set holds exactly `replicas` active pods; it
    /// deletes only its own active pods and touches no one else's.
    #[test]
    fn the_plan_reaches_the_replicas_and_touches_only_its_own(
        pods in arb_pods(),
        replicas in 0i32..8,
    ) {
        let rs = set(replicas, 0);
        let refs: Vec<&Pod> = pods.iter().collect();
        let planned = plan(&rs, &refs);
        let selector = Selector::compile(&rs.spec.as_ref().unwrap().selector).unwrap();
        let (mine, _) = claim(&rs, &selector, &refs);
        let active = mine.iter().filter(|p| is_active(p)).count();
        prop_assert!(planned.create == 0 || planned.delete.is_empty());
        let after = active + planned.create - planned.delete.len();
        prop_assert_eq!(after, replicas as usize);
        for d in &planned.delete {
            let pod = pods.iter().find(|p| p.metadata.name.as_deref() == Some(&d.name)).unwrap();
            prop_assert!(mine.iter().any(|m| m.metadata.uid == pod.metadata.uid));
            prop_assert!(is_active(pod));
        }
        for a in &planned.adopt {
            let pod = pods.iter().find(|p| p.metadata.name.as_deref() == Some(&a.name)).unwrap();
            prop_assert!(crate::runtime::controller(&pod.metadata).is_none());
        }
    }

    /// Deletion order never puts a ready pod before an unready one, nor a
    /// scheduled one before an unscheduled one.
    #[test]
    fn deletion_order_puts_the_least_useful_first(pods in arb_pods()) {
        let refs: Vec<&Pod> = pods.iter().collect();
        let order = deletion_order(&refs);
        for pair in order.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            prop_assert!(!(node_of(a).is_some() && node_of(b).is_none()));
            if node_of(a).is_some() == node_of(b).is_some() && phase_rank(a) == phase_rank(b) {
                // Never a ready pod before an unready one.
                prop_assert!(!ordinal_core::pod::is_ready(a) || ordinal_core::pod::is_ready(b));
            }
        }
    }
}
