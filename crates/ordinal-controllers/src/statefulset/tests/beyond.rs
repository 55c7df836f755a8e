//! Scenarios where ordinal goes beyond upstream, or follows upstream's
//! newer fixes: rollout recovery, reserved ordinals, the `Recreate`
//! strategy, completion under `OnDelete` and after `minReadySeconds`,
//! maxUnavailable under Parallel with a broken first revision, the set's
//! conditions, and in-place updates.

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSetStatus, StatefulSetUpdateStrategy,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::set_policy::{POD_UPDATE_POLICY, RESERVED_ORDINALS, ROLLOUT_RECOVERY};

use super::super::{Action, DeleteReason, Failure, IN_PLACE_GATE, Plan};
use super::sim::{POLICIES, Policy, World, created, deleted, new_set};

fn running(replicas: i32, policy: Policy) -> World {
    let mut w = World::new(new_set("web", replicas, policy));
    assert!(w.settle(3 * replicas as usize + 10), "did not settle");
    w
}

fn recovered(plan: &Plan) -> Vec<String> {
    plan.actions()
        .filter_map(|a| match a {
            Action::DeletePod {
                name,
                reason: DeleteReason::Recovery,
                ..
            } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn condition(status: &StatefulSetStatus, type_: &str) -> (String, String) {
    let c = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"));
    (c.status.clone(), c.reason.clone().unwrap_or_default())
}

/// The set is updated to a broken template: its highest pod comes back
/// at the new revision and never becomes Ready.
fn break_rollout(w: &mut World) {
    w.set_image("broken");
    assert_eq!(deleted(&w.sync()), ["web-2"]);
    w.finish_terminating();
    assert_eq!(created(&w.sync()), ["web-2"]);
    w.run("web-2");
    for _ in 0..3 {
        assert!(deleted(&w.sync()).is_empty(), "the rollout waits at web-2");
    }
}

#[test]
fn a_broken_rollout_recovers_once_the_template_is_fixed() {
    let mut w = running(3, Policy::OrderedReady);
    break_rollout(&mut w);
    // `kubectl rollout undo`: the update revision is the first one again,
    // and web-2, not Ready at the broken one, is replaced at once.
    w.set_image("nginx:1");
    assert_eq!(recovered(&w.sync()), ["web-2"]);
    w.finish_terminating();
    assert_eq!(created(&w.sync()), ["web-2"]);
    w.ready("web-2");
    assert!(w.settle(10));
    assert_eq!(w.current_revision(), w.update_revision());
    for pod in ["web-0", "web-1", "web-2"] {
        assert_eq!(w.revision_of(pod), w.update_revision());
    }
}

#[test]
fn manual_recovery_waits_for_the_stuck_pod_as_upstream_does() {
    let mut w = running(3, Policy::OrderedReady);
    w.annotate(ROLLOUT_RECOVERY, Some("Manual"));
    break_rollout(&mut w);
    w.set_image("nginx:1");
    for _ in 0..5 {
        let plan = w.sync();
        assert!(deleted(&plan).is_empty() && created(&plan).is_empty());
    }
    // Deleting it by hand is what upstream asks for.
    w.delete("web-2");
    w.finish_terminating();
    assert!(w.settle(10));
    assert_eq!(w.current_revision(), w.update_revision());
}

#[test]
fn recovery_never_touches_a_ready_pod_out_of_order() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        w.set_image("broken");
        let mut seen = Vec::new();
        for _ in 0..10 {
            let plan = w.sync();
            seen.extend(recovered(&plan));
            w.finish_terminating();
            w.sync();
            // Nothing at the broken revision ever becomes Ready.
            for pod in w.live_pods() {
                if w.revision_of(&pod) == w.update_revision() {
                    w.run(&pod);
                }
            }
        }
        assert!(seen.is_empty(), "{policy:?}: {seen:?}");
        assert_eq!(w.live_pods(), ["web-0", "web-1", "web-2"]);
        assert_ne!(w.revision_of("web-0"), w.update_revision(), "{policy:?}");
        assert_ne!(w.revision_of("web-1"), w.update_revision(), "{policy:?}");
    }
}

#[test]
fn a_broken_first_revision_is_replaced_under_parallel_with_max_unavailable() {
    let mut set = new_set("web", 3, Policy::Parallel);
    set.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateStatefulSetStrategy {
            partition: Some(0),
            max_unavailable: Some(IntOrString::Int(1)),
        }),
    });
    let mut w = World::new(set);
    // Upstream's behaviour alone (recovery off) must still get out of it.
    w.annotate(ROLLOUT_RECOVERY, Some("Manual"));
    assert_eq!(created(&w.sync()).len(), 3);
    for pod in ["web-0", "web-1", "web-2"] {
        w.run(pod);
    }
    w.set_image("nginx:2");
    assert_eq!(
        deleted(&w.sync()),
        ["web-2"],
        "kubernetes/kubernetes#137409"
    );
    assert!(w.settle(20));
    assert_eq!(w.current_revision(), w.update_revision());
}

#[test]
fn reserved_ordinals_stay_empty_and_scale_up_takes_the_next_free_one() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        w.annotate(RESERVED_ORDINALS, Some("1"));
        assert!(w.settle(20), "{policy:?}");
        assert_eq!(w.live_pods(), ["web-0", "web-2", "web-3"], "{policy:?}");
        assert_eq!(w.status().replicas, 3);
        w.scale(4);
        assert!(w.settle(20));
        assert_eq!(w.live_pods(), ["web-0", "web-2", "web-3", "web-4"]);
        w.scale(2);
        assert!(w.settle(20));
        assert_eq!(w.live_pods(), ["web-0", "web-2"]);
        // Releasing the reservation brings web-1 back in place of web-2.
        w.annotate(RESERVED_ORDINALS, None);
        assert!(w.settle(20));
        assert_eq!(w.live_pods(), ["web-0", "web-1"]);
    }
}

#[test]
fn under_ordered_ready_the_replacement_is_ready_before_the_reserved_pod_goes() {
    let mut w = running(3, Policy::OrderedReady);
    w.annotate(RESERVED_ORDINALS, Some("1"));
    assert_eq!(created(&w.sync()), ["web-3"]);
    assert!(deleted(&w.sync()).is_empty(), "web-3 is not Ready yet");
    w.ready("web-3");
    let plan = w.sync();
    assert_eq!(deleted(&plan), ["web-1"]);
}

#[test]
fn a_bad_annotation_leaves_the_set_as_it_is() {
    let mut w = running(2, Policy::OrderedReady);
    w.annotate(RESERVED_ORDINALS, Some("x-"));
    w.scale(3);
    let plan = w.plan();
    assert!(plan.actions().next().is_none() && plan.status.is_none());
    match plan.failures.as_slice() {
        [Failure::InvalidAnnotations(invalid)] => {
            assert_eq!(invalid[0].key, RESERVED_ORDINALS)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn recreate_takes_every_outdated_pod_down_before_any_comes_back() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        w.edit(|s| {
            s.update_strategy = Some(StatefulSetUpdateStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            });
        });
        w.sync();
        w.set_image("nginx:2");
        let mut all = deleted(&w.sync());
        all.sort();
        assert_eq!(all, ["web-0", "web-1", "web-2"], "{policy:?}");
        assert!(created(&w.sync()).is_empty(), "{policy:?}: old pods remain");
        w.finish_terminating();
        assert!(w.settle(20));
        assert_eq!(w.current_revision(), w.update_revision());
        assert_eq!(w.live_pods(), ["web-0", "web-1", "web-2"]);
    }
}

#[test]
fn on_delete_completes_once_every_pod_runs_the_update_revision() {
    let mut w = running(2, Policy::OrderedReady);
    w.edit(|s| {
        s.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
    });
    w.set_image("nginx:2");
    w.sync();
    for pod in ["web-1", "web-0"] {
        w.delete(pod);
        w.finish_terminating();
        assert!(w.settle(10));
    }
    assert_eq!(
        w.current_revision(),
        w.update_revision(),
        "kubernetes/kubernetes#73492"
    );
}

#[test]
fn completion_waits_for_min_ready_seconds() {
    let mut w = running(1, Policy::OrderedReady);
    w.edit(|s| s.min_ready_seconds = Some(30));
    w.set_image("nginx:2");
    w.sync();
    w.finish_terminating();
    w.sync();
    w.ready("web-0");
    w.sync();
    assert_ne!(
        w.current_revision(),
        w.update_revision(),
        "web-0 is Ready but not yet available (kubernetes/kubernetes#136831)"
    );
    w.advance(31);
    w.sync();
    assert_eq!(w.current_revision(), w.update_revision());
}

#[test]
fn conditions_follow_availability_and_the_rollout() {
    let mut w = running(3, Policy::OrderedReady);
    let status = w.status();
    assert_eq!(
        condition(&status, "Available"),
        ("True".into(), "MinimumReplicasAvailable".into())
    );
    assert_eq!(
        condition(&status, "Progressing"),
        ("True".into(), "RolloutComplete".into())
    );
    w.set_image("nginx:2");
    w.sync();
    assert_eq!(
        condition(&w.status(), "Progressing"),
        ("True".into(), "RolloutInProgress".into())
    );
    w.finish_terminating();
    w.sync();
    assert_eq!(
        condition(&w.status(), "Available"),
        ("False".into(), "MinimumReplicasUnavailable".into()),
        "web-2 is gone"
    );
    assert!(w.settle(10));
    assert_eq!(condition(&w.status(), "Available").0, "True");
    assert_eq!(condition(&w.status(), "Progressing").1, "RolloutComplete");
}

fn uids(w: &World) -> Vec<String> {
    w.live_pods()
        .iter()
        .map(|p| w.pod(p).metadata.uid.clone().unwrap_or_default())
        .collect()
}

fn in_place_updates(plan: &Plan) -> Vec<String> {
    plan.actions()
        .filter_map(|a| match a {
            Action::UpdatePodInPlace { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn image_of(w: &World, pod: &str) -> String {
    w.pod(pod).spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

#[test]
fn an_image_only_revision_updates_each_pod_in_place_highest_first() {
    for policy in POLICIES {
        let mut set = new_set("web", 3, policy);
        set.metadata.annotations = Some(
            [(
                POD_UPDATE_POLICY.to_string(),
                "InPlaceIfPossible".to_string(),
            )]
            .into(),
        );
        let mut w = World::new(set);
        assert!(w.settle(20));
        for pod in w.live_pods() {
            let gates = w.pod(&pod).spec.as_ref().unwrap().readiness_gates.clone();
            assert_eq!(gates.unwrap()[0].condition_type, IN_PLACE_GATE);
        }
        let before = uids(&w);
        let old = image_of(&w, "web-2");
        w.set_image("nginx:2");
        let plan = w.sync();
        assert_eq!(in_place_updates(&plan), ["web-2"], "{policy:?}: {plan:#?}");
        assert!(deleted(&plan).is_empty());
        assert_eq!(image_of(&w, "web-2"), "nginx:2");
        assert!(
            !ordinal_core::pod::is_ready(w.pod("web-2")),
            "the gate holds web-2 out of Ready"
        );
        // Nothing else moves while the kubelet still says web-2 is Ready
        // with its old container, before it has seen the gate close: the
        // closed gate is enough, and stays closed.
        w.stale_ready("web-2", &old);
        assert!(
            ordinal_core::pod::condition(w.pod("web-2"), "Ready")
                .is_some_and(|c| c.status == "True")
        );
        let plan = w.sync();
        assert!(
            !plan
                .actions()
                .any(|a| matches!(a, Action::OpenGate { .. } | Action::UpdatePodInPlace { .. })),
            "{policy:?}: {plan:#?}"
        );
        // The kubelet restarts the container: the gate opens as it runs the
        // new image, and nothing else moves until web-2 is Ready.
        w.run("web-2");
        let plan = w.sync();
        assert!(
            plan.actions()
                .any(|a| matches!(a, Action::OpenGate { name, .. } if name == "web-2")),
            "{policy:?}: {plan:#?}"
        );
        assert!(in_place_updates(&plan).is_empty(), "{policy:?}: {plan:#?}");
        assert!(in_place_updates(&w.sync()).is_empty(), "{policy:?}");
        assert!(!ordinal_core::pod::is_ready(w.pod("web-2")));
        assert!(w.settle(20), "{policy:?}");
        assert_eq!(uids(&w), before, "{policy:?}: same pods");
        for pod in w.live_pods() {
            assert_eq!(image_of(&w, &pod), "nginx:2");
            assert_eq!(w.revision_of(&pod), w.update_revision());
            let gate = ordinal_core::pod::condition(w.pod(&pod), IN_PLACE_GATE);
            assert_eq!(gate.map(|c| c.status.as_str()), Some("True"), "{pod}");
            assert!(ordinal_core::pod::is_ready(w.pod(&pod)));
        }
        assert_eq!(w.current_revision(), w.update_revision());
    }
}

#[test]
fn anything_beyond_images_or_a_pod_without_the_gate_is_recreated() {
    let mut w = running(2, Policy::OrderedReady);
    // Pods created before the policy have no gate.
    w.annotate(POD_UPDATE_POLICY, Some("InPlaceIfPossible"));
    w.set_image("nginx:2");
    let plan = w.sync();
    assert_eq!(deleted(&plan), ["web-1"]);
    assert!(w.settle(20));
    // Now every pod has the gate; a change beyond the image recreates.
    w.edit(|s| {
        s.template
            .spec
            .as_mut()
            .unwrap()
            .termination_grace_period_seconds = Some(5);
    });
    let plan = w.sync();
    assert_eq!(deleted(&plan), ["web-1"]);
    assert!(in_place_updates(&plan).is_empty());
}
