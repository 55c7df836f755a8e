//! The disruption planner, as scenarios a user of PodDisruptionBudgets
//! would recognise, and its invariants as properties.

use super::*;
use proptest::prelude::*;

const NOW: &str = "2026-01-01T00:10:00Z";

fn now() -> jiff::Timestamp {
    NOW.parse().unwrap()
}

fn budget(spec: serde_json::Value) -> PodDisruptionBudget {
    let mut spec = spec;
    spec["selector"] = serde_json::json!({"matchLabels": {"app": "web"}});
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": spec,
    }))
    .unwrap()
}

/// A pod of the StatefulSet `web` (uid `set-uid`).
fn member(name: &str, ready: bool) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                 "uid": "set-uid", "controller": true}]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
    .unwrap()
}

fn scale_of(replicas: i32) -> impl Fn(&OwnerReference) -> Option<i32> {
    move |owner: &OwnerReference| (owner.uid == "set-uid").then_some(replicas)
}

fn status(plan: &Plan) -> &PodDisruptionBudgetStatus {
    plan.status.as_ref().expect("a status to write")
}

fn condition(status: &PodDisruptionBudgetStatus) -> (&str, &str) {
    let c = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == DISRUPTION_ALLOWED)
        .unwrap();
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn three_ready_replicas_with_max_unavailable_one_allow_one_disruption() {
    let pods = [
        member("web-0", true),
        member("web-1", true),
        member("web-2", true),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let pdb = budget(serde_json::json!({"maxUnavailable": 1}));
    let planned = plan(&pdb, &refs, &scale_of(3), now());
    let s = status(&planned);
    assert_eq!(
        (
            s.expected_pods,
            s.desired_healthy,
            s.current_healthy,
            s.disruptions_allowed
        ),
        (3, 2, 3, 1)
    );
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(condition(s), ("True", SUFFICIENT_PODS));
    assert!(planned.notes.is_empty());

    // Written, the same observation writes nothing more.
    let mut written = pdb.clone();
    written.status = planned.status.clone();
    assert_eq!(plan(&written, &refs, &scale_of(3), now()).status, None);
}

#[test]
fn an_evicted_pod_does_not_count_until_its_promise_expires() {
    let pods = [
        member("web-0", true),
        member("web-1", true),
        member("web-2", true),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let mut pdb = budget(serde_json::json!({"maxUnavailable": 1}));
    let evicted_at: jiff::Timestamp = "2026-01-01T00:09:30Z".parse().unwrap();
    pdb.status = Some(PodDisruptionBudgetStatus {
        disruptions_allowed: 0,
        disrupted_pods: Some([("web-1".to_string(), Time(evicted_at))].into()),
        observed_generation: Some(1),
        ..Default::default()
    });
    let planned = plan(&pdb, &refs, &scale_of(3), now());
    let s = status(&planned);
    assert_eq!((s.current_healthy, s.disruptions_allowed), (2, 0));
    assert_eq!(condition(s), ("False", INSUFFICIENT_PODS));
    assert!(s.disrupted_pods.as_ref().unwrap().contains_key("web-1"));
    assert_eq!(
        planned.recheck,
        Some(evicted_at.saturating_add(DELETION_TIMEOUT).unwrap())
    );

    // Two minutes on, the pod was not deleted: it counts again, with an event.
    let later = evicted_at
        .saturating_add(jiff::SignedDuration::from_secs(121))
        .unwrap();
    let planned = plan(&pdb, &refs, &scale_of(3), later);
    let s = status(&planned);
    assert_eq!((s.current_healthy, s.disruptions_allowed), (3, 1));
    assert_eq!(s.disrupted_pods, None);
    assert_eq!(planned.recheck, None);
    assert_eq!(planned.notes[0].reason, "NotDeleted");
    assert_eq!(planned.notes[0].pod.as_deref(), Some("web-1"));

    // Deleted (terminating) pods leave the map and do not count.
    let mut leaving = member("web-1", true);
    leaving.metadata.deletion_timestamp = Some(Time(now()));
    let pods = [member("web-0", true), leaving, member("web-2", true)];
    let refs: Vec<&Pod> = pods.iter().collect();
    let s = plan(&pdb, &refs, &scale_of(3), now()).status.unwrap();
    assert_eq!((s.current_healthy, s.disruptions_allowed), (2, 0));
    assert_eq!(s.disrupted_pods, None);
}

#[test]
fn percentages_count_against_the_statefulset_scale() {
    // Two of four replicas exist and are Ready; 50% must be available.
    let pods = [member("web-0", true), member("web-1", true)];
    let refs: Vec<&Pod> = pods.iter().collect();
    let pdb = budget(serde_json::json!({"minAvailable": "50%"}));
    let s = plan(&pdb, &refs, &scale_of(4), now()).status.unwrap();
    assert_eq!(
        (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
        (4, 2, 0)
    );
    // Rounded up: 30% of 4 is 2.
    let pdb = budget(serde_json::json!({"maxUnavailable": "30%"}));
    let s = plan(&pdb, &refs, &scale_of(4), now()).status.unwrap();
    assert_eq!((s.expected_pods, s.desired_healthy), (4, 2));
    // An integer minAvailable counts the pods there are.
    let pdb = budget(serde_json::json!({"minAvailable": 1}));
    let s = plan(&pdb, &refs, &scale_of(4), now()).status.unwrap();
    assert_eq!(
        (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
        (2, 1, 1)
    );
}

#[test]
fn pods_without_a_known_controller() {
    let mut lone = member("lone", true);
    lone.metadata.owner_references = None;
    let pods = [member("web-0", true), lone];
    let refs: Vec<&Pod> = pods.iter().collect();
    // Unmanaged pods add nothing to the scale, and are reported.
    let pdb = budget(serde_json::json!({"maxUnavailable": 1}));
    let planned = plan(&pdb, &refs, &scale_of(1), now());
    let s = status(&planned);
    assert_eq!(
        (s.expected_pods, s.desired_healthy, s.current_healthy),
        (1, 0, 2)
    );
    assert_eq!(planned.notes[0].reason, "UnmanagedPods");
    assert!(planned.notes[0].message.contains("(selector: app=web)"));

    // A controller that is no StatefulSet we know fails the sync safely.
    let mut foreign = member("web-0", true);
    foreign.metadata.owner_references.as_mut().unwrap()[0].kind = "ReplicaSet".into();
    let refs = vec![&foreign];
    let mut pdb = budget(serde_json::json!({"maxUnavailable": 1}));
    pdb.status = Some(PodDisruptionBudgetStatus {
        disruptions_allowed: 3,
        observed_generation: Some(1),
        ..Default::default()
    });
    let planned = plan(&pdb, &refs, &scale_of(1), now());
    let s = status(&planned);
    assert_eq!(s.disruptions_allowed, 0);
    let c = &s.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", SYNC_FAILED)
    );
    assert_eq!(c.message, "found no controllers for pod \"web-0\"");
    assert_eq!(
        planned.failure.as_deref(),
        Some("found no controllers for pod \"web-0\"")
    );
    assert_eq!(planned.notes[0].reason, "CalculateExpectedPodCountFailed");
    // Said once: the same failure writes nothing more.
    let mut failed = pdb.clone();
    failed.status = planned.status.clone();
    assert_eq!(plan(&failed, &refs, &scale_of(1), now()).status, None);
}

#[test]
fn a_budget_without_pods_allows_nothing() {
    let pdb = budget(serde_json::json!({"minAvailable": 0}));
    let planned = plan(&pdb, &[], &scale_of(3), now());
    let s = status(&planned);
    assert_eq!((s.expected_pods, s.disruptions_allowed), (0, 0));
    assert_eq!(planned.notes[0].reason, "NoPods");
    // No selector selects nothing; an empty one selects every pod.
    let other = {
        let mut p = member("db-0", true);
        p.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
        p
    };
    let mut none = pdb.clone();
    none.spec.as_mut().unwrap().selector = None;
    assert_eq!(selected(&none, &[&other]).unwrap().len(), 0);
    let mut all = pdb.clone();
    all.spec.as_mut().unwrap().selector = Some(Default::default());
    assert_eq!(selected(&all, &[&other]).unwrap().len(), 1);
}

#[test]
fn the_transition_time_moves_only_when_the_condition_flips() {
    let pods = [member("web-0", true), member("web-1", true)];
    let refs: Vec<&Pod> = pods.iter().collect();
    let pdb = budget(serde_json::json!({"maxUnavailable": 1}));
    let first = plan(&pdb, &refs, &scale_of(2), now()).status.unwrap();
    let mut written = pdb.clone();
    written.status = Some(first.clone());
    // web-1 is deleted: a count changes, the condition stays True.
    let later = now()
        .saturating_add(jiff::SignedDuration::from_secs(60))
        .unwrap();
    let pods3 = [
        member("web-0", true),
        member("web-1", true),
        member("web-2", true),
    ];
    let refs3: Vec<&Pod> = pods3.iter().collect();
    let second = plan(&written, &refs3, &scale_of(3), later).status.unwrap();
    assert_eq!(
        second.conditions.as_ref().unwrap()[0].last_transition_time,
        first.conditions.as_ref().unwrap()[0].last_transition_time
    );
    // Flipped to False: the time moves.
    written.status = Some(second);
    let third = plan(&written, &refs3[..1], &scale_of(3), later)
        .status
        .unwrap();
    assert_eq!(
        third.conditions.as_ref().unwrap()[0].last_transition_time,
        Time(later)
    );
}

fn arb_bound() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (0i32..8).prop_map(|n| serde_json::json!({"minAvailable": n})),
        (0i32..8).prop_map(|n| serde_json::json!({"maxUnavailable": n})),
        (0u32..=100).prop_map(|p| serde_json::json!({"minAvailable": format!("{p}%")})),
        (0u32..=100).prop_map(|p| serde_json::json!({"maxUnavailable": format!("{p}%")})),
        Just(serde_json::json!({})),
    ]
}

proptest! {
    /// Whatever the pods, budget and scale: disruptionsAllowed is never
    /// negative, never more than currentHealthy - desiredHealthy, and
    /// zero when no pod is expected; currentHealthy never exceeds the
    /// Ready pods.
    #[test]
    fn disruptions_allowed_stays_within_the_budget(
        bound in arb_bound(),
        readiness in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 0..8),
        replicas in 0i32..10,
        promised_secs_ago in proptest::collection::vec(0i64..300, 0..8),
    ) {
        let pods: Vec<Pod> = readiness.iter().enumerate().map(|(i, (ready, deleting, owned))| {
            let mut p = member(&format!("web-{i}"), *ready);
            if *deleting {
                p.metadata.deletion_timestamp = Some(Time(now()));
            }
            if !*owned {
                p.metadata.owner_references = None;
            }
            p
        }).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let mut pdb = budget(bound);
        let disrupted: BTreeMap<String, Time> = promised_secs_ago.iter().enumerate()
            .map(|(i, ago)| (format!("web-{i}"), Time(now().saturating_sub(jiff::SignedDuration::from_secs(*ago)).unwrap())))
            .collect();
        pdb.status = Some(PodDisruptionBudgetStatus {
            disruptions_allowed: 5,
            disrupted_pods: Some(disrupted),
            ..Default::default()
        });
        let planned = plan(&pdb, &refs, &scale_of(replicas), now());
        let s = planned.status.unwrap_or_else(|| pdb.status.clone().unwrap());
        prop_assert!(s.disruptions_allowed >= 0);
        prop_assert!(s.disruptions_allowed <= (s.current_healthy - s.desired_healthy).max(0));
        if s.expected_pods <= 0 {
            prop_assert_eq!(s.disruptions_allowed, 0);
        }
        let ready = readiness.iter().filter(|(r, d, _)| *r && !*d).count() as i32;
        prop_assert!(s.current_healthy <= ready);
        prop_assert!(s.desired_healthy >= 0);
        // Every kept promise is of an existing pod not being deleted, and
        // within the timeout.
        for (name, at) in s.disrupted_pods.iter().flatten() {
            let pod = pods.iter().find(|p| p.metadata.name.as_deref() == Some(name.as_str()));
            prop_assert!(pod.is_some_and(|p| p.metadata.deletion_timestamp.is_none()));
            prop_assert!(at.0.saturating_add(DELETION_TIMEOUT).unwrap() >= now());
        }
    }
}
