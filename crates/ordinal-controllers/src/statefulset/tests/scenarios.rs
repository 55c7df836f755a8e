//! Scenarios from upstream's controller tests and the reference, each run
//! against the in-memory cluster under the policies upstream runs them with.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::{Action, DeleteReason, Failure, Observed, Plan, REVISION_LABEL, plan};
use super::sim::{NS, POLICIES, Policy, RETENTIONS, SET_UID, World, created, deleted, new_set};

/// A world whose `replicas` pods all exist and are Running and Ready.
fn running(replicas: i32, policy: Policy) -> World {
    let mut w = World::new(new_set("web", replicas, policy));
    assert!(w.settle(3 * replicas as usize + 10), "did not settle");
    w
}

/// Syncs until the rollout is done, readying pods as they come; returns the
/// pods deleted for the update, in order.
fn roll(w: &mut World) -> Vec<String> {
    let mut order = Vec::new();
    for _ in 0..100 {
        let plan = w.sync();
        order.extend(plan.actions().filter_map(|a| match a {
            Action::DeletePod {
                name,
                reason: DeleteReason::Update,
                ..
            } => Some(name.clone()),
            _ => None,
        }));
        w.finish_terminating();
        w.ready_all();
        if plan.is_idle() && w.plan().is_idle() {
            return order;
        }
    }
    panic!("rollout did not finish");
}

fn owner_uids(w: &World, claim: &str) -> Vec<String> {
    w.claims[claim]
        .metadata
        .owner_references
        .iter()
        .flatten()
        .map(|r| r.uid.clone())
        .collect()
}

#[test]
fn ordered_ready_scale_up_creates_one_pod_at_a_time_after_its_predecessor_is_ready() {
    for (scaled, deleted_) in RETENTIONS {
        let mut w = World::new(new_set("web", 3, Policy::OrderedReady));
        w.set_retention(scaled, deleted_);
        assert_eq!(created(&w.sync()), ["web-0"]);
        assert!(created(&w.sync()).is_empty(), "web-0 is only Pending");
        w.run("web-0");
        assert!(
            created(&w.sync()).is_empty(),
            "web-0 is Running but not Ready"
        );
        w.ready("web-0");
        assert_eq!(created(&w.sync()), ["web-1"]);
        w.ready("web-1");
        assert_eq!(created(&w.sync()), ["web-2"]);
        w.ready("web-2");
        assert!(created(&w.sync()).is_empty());
        let status = w.status();
        assert_eq!((status.replicas, status.ready_replicas), (3, Some(3)));
        for ordinal in 0..3 {
            let claim = format!("data-web-{ordinal}");
            let owners = owner_uids(&w, &claim);
            if deleted_ == "Delete" {
                assert_eq!(owners, [SET_UID], "{claim} under {scaled}/{deleted_}");
            } else {
                assert!(owners.is_empty(), "{claim} under {scaled}/{deleted_}");
            }
        }
    }
}

#[test]
fn new_pods_carry_identity_labels_hostname_and_their_claims() {
    let mut w = World::new(new_set("web", 1, Policy::OrderedReady));
    w.sync();
    let pod = w.pod("web-0");
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-0");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "0");
    assert_eq!(labels["app"], "web");
    assert_eq!(labels[REVISION_LABEL], w.update_revision());
    let spec = pod.spec.clone().unwrap_or_default();
    assert_eq!(spec.hostname.as_deref(), Some("web-0"));
    assert_eq!(spec.subdomain.as_deref(), Some("web"));
    let volume = &spec.volumes.unwrap_or_default()[0];
    assert_eq!(volume.name, "data");
    assert_eq!(
        volume
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("data-web-0")
    );
    let owner = &pod.metadata.owner_references.clone().unwrap_or_default()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("StatefulSet", SET_UID, Some(true))
    );
    let claim = &w.claims["data-web-0"];
    let claim_labels = claim.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        claim_labels["app"], "web",
        "claims carry the selector's labels"
    );
}

#[test]
fn parallel_scale_up_creates_every_pod_in_one_sync() {
    for (scaled, deleted_) in RETENTIONS {
        let mut w = World::new(new_set("web", 5, Policy::Parallel));
        w.set_retention(scaled, deleted_);
        let plan = w.sync();
        assert_eq!(
            created(&plan),
            ["web-0", "web-1", "web-2", "web-3", "web-4"]
        );
        let sizes: Vec<usize> = plan.waves.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 2, 2], "slow-start batches");
        assert!(w.settle(10));
    }
}

#[test]
fn ordered_ready_scale_down_removes_the_highest_pod_first_and_waits_for_it_to_go() {
    for (scaled, deleted_) in RETENTIONS {
        let mut w = running(3, Policy::OrderedReady);
        w.set_retention(scaled, deleted_);
        w.scale(0);
        let mut order = Vec::new();
        for _ in 0..10 {
            let plan = w.sync();
            let gone = deleted(&plan);
            assert!(gone.len() <= 1, "one deletion per sync: {gone:?}");
            order.extend(gone.clone());
            if !gone.is_empty() {
                // The next sync waits while the pod terminates.
                assert!(deleted(&w.sync()).is_empty());
            }
            w.finish_terminating();
            w.collect_garbage();
        }
        assert_eq!(order, ["web-2", "web-1", "web-0"], "{scaled}/{deleted_}");
        for ordinal in 0..3 {
            let claim = format!("data-web-{ordinal}");
            let kept = w.claims.contains_key(&claim);
            // Only whenScaled=Delete lets the collector take the claims.
            assert_eq!(
                kept,
                scaled == "Retain",
                "{claim} under {scaled}/{deleted_}"
            );
        }
    }
}

#[test]
fn condemned_claims_are_handed_to_their_pods_when_scaled_is_delete() {
    for (scaled, deleted_) in RETENTIONS {
        let mut w = running(2, Policy::OrderedReady);
        w.set_retention(scaled, deleted_);
        w.sync();
        w.scale(1);
        w.sync();
        let pod_uid = w.pod("web-1").metadata.uid.clone().unwrap_or_default();
        let owners = owner_uids(&w, "data-web-1");
        let expected: Vec<String> = match (scaled, deleted_) {
            ("Retain", "Retain") => vec![],
            ("Retain", "Delete") => vec![SET_UID.into()],
            _ => vec![pod_uid],
        };
        assert_eq!(owners, expected, "{scaled}/{deleted_}");
        let kept = owner_uids(&w, "data-web-0");
        let expected_kept: Vec<String> = if deleted_ == "Delete" {
            vec![SET_UID.into()]
        } else {
            vec![]
        };
        assert_eq!(kept, expected_kept, "{scaled}/{deleted_}");
    }
}

#[test]
fn ordered_ready_scale_down_halts_while_a_remaining_pod_is_unhealthy() {
    let mut w = running(3, Policy::OrderedReady);
    w.unready("web-0");
    w.scale(1);
    assert!(deleted(&w.sync()).is_empty());
    w.ready("web-0");
    assert_eq!(deleted(&w.sync()), ["web-2"]);
}

#[test]
fn ordered_ready_scale_down_deletes_an_unhealthy_pod_only_if_it_is_the_first_unhealthy_one() {
    let mut w = running(3, Policy::OrderedReady);
    w.unready("web-2");
    w.scale(1);
    assert_eq!(
        deleted(&w.sync()),
        ["web-2"],
        "web-2 is the first unhealthy pod"
    );

    let mut w = running(3, Policy::OrderedReady);
    w.unready("web-1");
    w.unready("web-2");
    w.scale(1);
    assert!(
        deleted(&w.sync()).is_empty(),
        "web-1 is unhealthy and lower"
    );
}

#[test]
fn parallel_scale_down_deletes_every_condemned_pod_in_one_sync() {
    for (scaled, deleted_) in RETENTIONS {
        let mut w = running(4, Policy::Parallel);
        w.set_retention(scaled, deleted_);
        w.unready("web-1");
        w.scale(0);
        let plan = w.sync();
        assert_eq!(deleted(&plan), ["web-3", "web-2", "web-1", "web-0"]);
    }
}

#[test]
fn parallel_scales_0_to_1000_and_501_to_0_within_two_syncs() {
    let mut w = World::new(new_set("web", 1000, Policy::Parallel));
    let plan = w.sync();
    assert_eq!(created(&plan).len(), 1000);
    let sizes: Vec<usize> = plan.waves.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 489]);
    assert_eq!(w.live_pods().len(), 1000);

    let mut w = World::new(new_set("web", 501, Policy::Parallel));
    w.sync();
    w.ready_all();
    w.sync();
    w.scale(0);
    let first = w.sync();
    let second = w.sync();
    assert_eq!(deleted(&first).len() + deleted(&second).len(), 501);
    w.finish_terminating();
    w.sync();
    assert_eq!(w.status().replicas, 0);
}

#[test]
fn deleted_pods_come_back_with_the_same_name_and_claims() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        let claims_before = w.claims.clone();
        w.delete("web-1");
        assert!(created(&w.sync()).is_empty(), "not while web-1 terminates");
        w.finish_terminating();
        let plan = w.sync();
        let recreated: Vec<(String, usize)> = plan
            .actions()
            .filter_map(|a| match a {
                Action::CreatePod { pod, claims } => {
                    Some((pod.metadata.name.clone().unwrap_or_default(), claims.len()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            recreated,
            [("web-1".to_string(), 0)],
            "{policy:?}: the old claim is reused"
        );
        assert_eq!(w.claims, claims_before);
    }
}

#[test]
fn failed_and_succeeded_pods_are_deleted_then_recreated() {
    for policy in POLICIES {
        for terminal in ["Failed", "Succeeded"] {
            let mut w = running(3, policy);
            if terminal == "Failed" {
                w.fail("web-1");
            } else {
                w.succeed("web-1");
            }
            let plan = w.sync();
            let reasons: Vec<_> = plan
                .actions()
                .filter_map(|a| match a {
                    Action::DeletePod { name, reason, .. } => Some((name.clone(), *reason)),
                    _ => None,
                })
                .collect();
            let reason = if terminal == "Failed" {
                DeleteReason::Failed
            } else {
                DeleteReason::Succeeded
            };
            assert_eq!(
                reasons,
                [("web-1".to_string(), reason)],
                "{policy:?} {terminal}"
            );
            assert!(
                created(&plan).is_empty(),
                "recreated only once the old pod is gone"
            );
            assert!(deleted(&w.sync()).is_empty(), "not deleted twice");
            w.finish_terminating();
            assert_eq!(created(&w.sync()), ["web-1"], "{policy:?} {terminal}");
        }
    }
}

#[test]
fn a_failed_create_is_planned_again_by_the_next_sync() {
    for policy in POLICIES {
        let mut w = World::new(new_set("web", 3, policy));
        let plan = w.plan();
        w.apply(&plan, |a| matches!(a, Action::CreatePod { pod, .. } if pod.metadata.name.as_deref() == Some("web-0")));
        assert!(
            w.pods.is_empty(),
            "{policy:?}: a failed batch stops the later ones"
        );
        assert_eq!(w.status().replicas, 0);
        let retry = w.sync();
        assert_eq!(created(&retry)[0], "web-0");
        assert!(w.pods.contains_key("web-0"));
    }
}

#[test]
fn rolling_update_replaces_pods_from_the_highest_ordinal_down() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        let old = w.update_revision();
        w.set_image("nginx:2");
        let order = roll(&mut w);
        assert_eq!(order, ["web-2", "web-1", "web-0"], "{policy:?}");
        let new = w.update_revision();
        assert_ne!(new, old);
        assert_eq!(w.current_revision(), new, "{policy:?}: rollout completed");
        for pod in w.pod_names() {
            assert_eq!(w.revision_of(&pod), new);
        }
        let status = w.status();
        assert_eq!(
            (status.current_replicas, status.updated_replicas),
            (Some(3), Some(3))
        );
    }
}

#[test]
fn rolling_update_waits_for_the_replaced_pod_to_be_ready() {
    let mut w = running(3, Policy::OrderedReady);
    w.set_image("nginx:2");
    assert_eq!(deleted(&w.sync()), ["web-2"]);
    w.finish_terminating();
    assert_eq!(created(&w.sync()), ["web-2"]);
    assert!(deleted(&w.sync()).is_empty(), "web-2 is not ready yet");
    w.ready("web-2");
    assert_eq!(deleted(&w.sync()), ["web-1"]);
}

#[test]
fn rolling_update_with_partition_updates_only_pods_at_or_above_it() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        let old = w.update_revision();
        w.set_partition(2);
        w.set_image("nginx:2");
        let order = roll(&mut w);
        assert_eq!(order, ["web-2"], "{policy:?}");
        let new = w.update_revision();
        assert_eq!(w.revision_of("web-2"), new);
        assert_eq!(
            (w.revision_of("web-0"), w.revision_of("web-1")),
            (old.clone(), old.clone())
        );
        assert_eq!(w.current_revision(), old, "not complete while partitioned");
        assert_eq!(w.status().updated_replicas, Some(1));

        // A pod below the partition comes back at the current revision.
        w.delete("web-0");
        w.finish_terminating();
        assert!(w.settle(10));
        assert_eq!(w.revision_of("web-0"), old);

        w.set_partition(0);
        let order = roll(&mut w);
        assert_eq!(order, ["web-1", "web-0"], "{policy:?}");
        assert_eq!(w.current_revision(), new);
    }
}

#[test]
fn canary_partition_3_2_1_0_moves_one_pod_at_a_time() {
    let mut w = running(3, Policy::OrderedReady);
    w.set_partition(3);
    w.set_image("nginx:2");
    assert!(roll(&mut w).is_empty());
    for (partition, expected) in [(2, "web-2"), (1, "web-1"), (0, "web-0")] {
        w.set_partition(partition);
        assert_eq!(roll(&mut w), [expected]);
    }
    assert_eq!(w.current_revision(), w.update_revision());
}

#[test]
fn on_delete_leaves_pods_alone_until_the_user_deletes_them() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        w.edit(|s| {
            s.update_strategy = Some(k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                rolling_update: None,
            });
        });
        w.sync();
        let old = w.update_revision();
        w.set_image("nginx:2");
        for _ in 0..3 {
            assert!(deleted(&w.sync()).is_empty(), "{policy:?}");
        }
        let new = w.update_revision();
        assert_ne!(new, old);
        w.delete("web-1");
        w.finish_terminating();
        assert!(w.settle(10));
        assert_eq!(w.revision_of("web-1"), new);
        assert_eq!(w.revision_of("web-0"), old);
        assert_eq!(
            w.current_revision(),
            old,
            "OnDelete never completes a rollout"
        );
    }
}

#[test]
fn rollback_reuses_the_earlier_revision_name_with_a_bumped_number() {
    for policy in POLICIES {
        let mut w = running(2, policy);
        let first = w.update_revision();
        w.set_image("nginx:2");
        roll(&mut w);
        w.set_image("nginx:1");
        let plan = w.plan();
        assert_eq!(
            plan.revision,
            Some(Action::UpdateRevision {
                name: first.clone(),
                uid: w.revisions[&first].metadata.uid.clone().unwrap_or_default(),
                revision: 3,
            })
        );
        roll(&mut w);
        assert_eq!(w.update_revision(), first, "{policy:?}");
        assert_eq!(w.current_revision(), first);
        assert_eq!(w.revisions[&first].revision, 3);
    }
}

#[test]
fn history_is_truncated_to_the_limit_keeping_live_revisions() {
    for (limit, expected) in [(Some(0), 1), (Some(5), 6), (Some(-1), 9), (None, 9)] {
        let mut w = running(2, Policy::OrderedReady);
        w.edit(|s| s.revision_history_limit = limit);
        for version in 2..=9 {
            w.set_image(&format!("nginx:{version}"));
            roll(&mut w);
        }
        w.sync();
        assert_eq!(w.revisions.len(), expected, "limit {limit:?}");
        assert!(w.revisions.contains_key(&w.update_revision()));
    }
}

#[test]
fn history_keeps_revisions_pods_still_run() {
    let mut w = running(3, Policy::OrderedReady);
    w.edit(|s| s.revision_history_limit = Some(0));
    let first = w.update_revision();
    w.set_partition(3);
    w.set_image("nginx:2");
    roll(&mut w);
    w.set_image("nginx:3");
    roll(&mut w);
    // Pods run the first revision, the set wants the third: the second goes.
    assert_eq!(w.revisions.len(), 2);
    assert!(w.revisions.contains_key(&first));
}

#[test]
fn start_ordinal_names_pods_from_it_and_moving_it_replaces_pods() {
    for policy in POLICIES {
        let mut w = World::new(new_set("web", 2, policy));
        w.set_start(Some(3));
        assert!(w.settle(10));
        assert_eq!(w.live_pods(), ["web-3", "web-4"]);
        w.set_start(Some(5));
        assert!(w.settle(20));
        assert_eq!(w.live_pods(), ["web-5", "web-6"], "{policy:?}");
        w.set_start(Some(4));
        assert!(w.settle(20));
        assert_eq!(w.live_pods(), ["web-4", "web-5"], "{policy:?}");
        w.set_start(None);
        assert!(w.settle(20));
        assert_eq!(w.live_pods(), ["web-0", "web-1"], "{policy:?}");
    }
}

#[test]
fn start_ordinal_scale_down_removes_the_highest_first() {
    let mut w = World::new(new_set("web", 3, Policy::OrderedReady));
    w.set_start(Some(10));
    assert!(w.settle(15));
    w.scale(1);
    assert_eq!(deleted(&w.sync()), ["web-12"]);
    w.finish_terminating();
    assert_eq!(deleted(&w.sync()), ["web-11"]);
}

#[test]
fn min_ready_seconds_holds_the_next_pod_until_the_previous_is_available() {
    let mut w = World::new(new_set("web", 2, Policy::OrderedReady));
    w.edit(|s| s.min_ready_seconds = Some(30));
    w.sync();
    w.ready("web-0");
    let plan = w.sync();
    assert!(created(&plan).is_empty(), "web-0 ready for 0s");
    assert_eq!(plan.requeue_after, Some(std::time::Duration::from_secs(30)));
    assert_eq!(w.status().available_replicas, Some(0));
    assert_eq!(w.status().ready_replicas, Some(1));
    w.advance(30);
    assert!(
        created(&w.sync()).is_empty(),
        "exactly 30s is not yet available"
    );
    w.advance(1);
    assert_eq!(created(&w.sync()), ["web-1"]);
    assert_eq!(w.status().available_replicas, Some(1));
}

#[test]
fn max_unavailable_2_with_partition_3_on_6_replicas_deletes_5_and_4_first_and_never_0_to_2() {
    for policy in POLICIES {
        let mut w = running(6, policy);
        w.edit(|s| {
            let rolling = s
                .update_strategy
                .as_mut()
                .and_then(|u| u.rolling_update.as_mut())
                .expect("rolling update");
            rolling.partition = Some(3);
            rolling.max_unavailable = Some(IntOrString::Int(2));
        });
        let old = w.update_revision();
        w.set_image("nginx:2");
        let first = w.sync();
        assert_eq!(deleted(&first), ["web-5", "web-4"], "{policy:?}");
        assert!(
            deleted(&w.sync()).is_empty(),
            "{policy:?}: two are already unavailable"
        );
        let order = roll(&mut w);
        assert_eq!(order, ["web-3"], "{policy:?}");
        for pod in ["web-0", "web-1", "web-2"] {
            assert_eq!(
                w.revision_of(pod),
                old,
                "{policy:?}: {pod} below the partition"
            );
        }
        for pod in ["web-3", "web-4", "web-5"] {
            assert_eq!(w.revision_of(pod), w.update_revision());
        }
    }
}

#[test]
fn max_unavailable_percent_rounds_down_and_counts_unavailable_pods() {
    let mut w = running(5, Policy::Parallel);
    w.set_max_unavailable(IntOrString::String("50%".into()));
    w.set_image("nginx:2");
    assert_eq!(deleted(&w.sync()), ["web-4", "web-3"], "50% of 5 is 2");

    let mut w = running(5, Policy::Parallel);
    w.set_max_unavailable(IntOrString::Int(2));
    // A missing pod uses one of the two.
    w.delete("web-0");
    w.finish_terminating();
    w.set_image("nginx:2");
    let plan = w.sync();
    assert_eq!(created(&plan), ["web-0"]);
    assert_eq!(
        deleted(&plan),
        ["web-4"],
        "web-0 already uses one of the two"
    );
}

#[test]
fn under_parallel_an_outdated_pod_already_unavailable_uses_none_of_the_budget() {
    let mut w = running(5, Policy::Parallel);
    // Upstream's behaviour alone: no rollout recovery.
    w.annotate(ordinal_core::set_policy::ROLLOUT_RECOVERY, Some("Manual"));
    w.set_max_unavailable(IntOrString::Int(2));
    w.unready("web-0");
    w.set_image("nginx:2");
    assert_eq!(
        deleted(&w.sync()),
        ["web-4", "web-3"],
        "kubernetes/kubernetes#137409"
    );
}

#[test]
fn orphans_are_adopted_and_pods_that_stop_matching_are_released() {
    let mut w = running(2, Policy::OrderedReady);
    // web-1 loses its owner reference: an orphan that still matches.
    if let Some(p) = w.pods.get_mut("web-1") {
        p.metadata.owner_references = None;
    }
    let plan = w.plan();
    assert!(matches!(&plan.ownership[..], [Action::AdoptPod { name, .. }] if name == "web-1"));
    assert!(created(&plan).is_empty(), "the adopted pod counts as web-1");
    w.apply(&plan, |_| false);
    assert!(w.plan().ownership.is_empty());

    // web-0 is relabelled out of the selector: released, and replaced.
    if let Some(p) = w.pods.get_mut("web-0")
        && let Some(l) = p.metadata.labels.as_mut()
    {
        l.insert("app".into(), "debug".into());
    }
    let plan = w.plan();
    assert!(matches!(&plan.ownership[..], [Action::ReleasePod { name, .. }] if name == "web-0"));
}

#[test]
fn pods_of_other_controllers_and_terminating_orphans_are_left_alone() {
    let mut w = World::new(new_set("web", 1, Policy::OrderedReady));
    let other = Pod {
        metadata: ObjectMeta {
            name: Some("web-0".into()),
            namespace: Some(NS.into()),
            uid: Some("other".into()),
            labels: Some([("app".to_string(), "web".to_string())].into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "rs".into(),
                uid: "rs-uid".into(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..ObjectMeta::default()
        },
        ..Pod::default()
    };
    w.pods.insert("web-0".into(), other);
    let plan = w.plan();
    assert!(plan.ownership.is_empty());
    // Upstream would try to create web-0 and hit AlreadyExists; so do we.
    assert_eq!(created(&plan), ["web-0"]);

    let mut w = World::new(new_set("web", 1, Policy::OrderedReady));
    let mut orphan = Pod {
        metadata: ObjectMeta {
            name: Some("web-0".into()),
            namespace: Some(NS.into()),
            uid: Some("o".into()),
            labels: Some([("app".to_string(), "web".to_string())].into()),
            deletion_timestamp: Some(Time(w.now)),
            ..ObjectMeta::default()
        },
        ..Pod::default()
    };
    w.pods.insert("web-0".into(), orphan.clone());
    assert!(
        w.plan().ownership.is_empty(),
        "terminating orphans are not adopted"
    );
    orphan.metadata.name = Some("web-01".into());
    orphan.metadata.deletion_timestamp = None;
    w.pods.insert("web-01".into(), orphan);
    assert!(
        !w.plan()
            .ownership
            .iter()
            .any(|a| matches!(a, Action::AdoptPod { name, .. } if name == "web-01")),
        "web-01 is not a name the set gives"
    );
}

#[test]
fn a_claim_being_deleted_blocks_the_pod() {
    for policy in POLICIES {
        let mut w = World::new(new_set("web", 1, policy));
        w.sync();
        w.ready_all();
        w.delete("web-0");
        w.finish_terminating();
        let now = w.now;
        if let Some(c) = w.claims.get_mut("data-web-0") {
            c.metadata.deletion_timestamp = Some(Time(now));
        }
        let plan = w.plan();
        assert!(created(&plan).is_empty());
        assert_eq!(
            plan.failures,
            [Failure::ClaimTerminating {
                pod: "web-0".into(),
                claim: "data-web-0".into()
            }]
        );
        assert_eq!(
            plan.failures[0].to_string(),
            "pvc data-web-0 is being deleted"
        );
        w.claims.remove("data-web-0");
        let plan = w.plan();
        assert_eq!(created(&plan), ["web-0"]);
    }
}

#[test]
fn a_claim_still_owned_by_the_previous_pod_blocks_recreation_when_scaled_is_delete() {
    for (scaled, deleted_) in RETENTIONS {
        let mut w = running(2, Policy::OrderedReady);
        w.set_retention(scaled, deleted_);
        w.sync();
        w.scale(1);
        w.sync();
        w.finish_terminating();
        // The collector has not run: data-web-1 may still name the old pod.
        w.scale(2);
        let plan = w.sync();
        let blocked = scaled == "Delete";
        assert_eq!(created(&plan).is_empty(), blocked, "{scaled}/{deleted_}");
        if blocked {
            w.collect_garbage();
            assert_eq!(created(&w.sync()), ["web-1"]);
            assert_eq!(
                owner_uids(&w, "data-web-1"),
                if deleted_ == "Delete" {
                    vec![SET_UID.to_string()]
                } else {
                    vec![]
                }
            );
        }
    }
}

#[test]
fn claims_controlled_by_someone_else_lose_our_references_and_get_none_added() {
    let mut w = running(1, Policy::OrderedReady);
    w.set_retention("Retain", "Delete");
    w.sync();
    if let Some(c) = w.claims.get_mut("data-web-0") {
        c.metadata
            .owner_references
            .get_or_insert_with(Vec::new)
            .insert(
                0,
                OwnerReference {
                    api_version: "example.com/v1".into(),
                    kind: "Database".into(),
                    name: "db".into(),
                    uid: "db-uid".into(),
                    controller: Some(true),
                    block_owner_deletion: None,
                },
            );
    }
    let plan = w.sync();
    let update = plan.actions().find_map(|a| match a {
        Action::UpdateClaimOwners {
            claim,
            conflicting_controller,
        } => Some((claim.clone(), *conflicting_controller)),
        _ => None,
    });
    let (claim, conflicting) = update.expect("claim owners fixed");
    assert!(conflicting);
    let owners: Vec<_> = claim
        .metadata
        .owner_references
        .iter()
        .flatten()
        .map(|r| r.uid.as_str())
        .collect();
    assert_eq!(owners, ["db-uid"]);
    assert!(w.sync().is_idle(), "left alone from then on");
}

#[test]
fn our_non_controller_reference_is_rewritten_as_controller() {
    let mut w = running(1, Policy::OrderedReady);
    w.set_retention("Retain", "Delete");
    w.sync();
    if let Some(r) = w
        .claims
        .get_mut("data-web-0")
        .and_then(|c| c.metadata.owner_references.as_mut())
        .and_then(|r| r.first_mut())
    {
        r.controller = None;
    }
    w.sync();
    let refs = w.claims["data-web-0"]
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].uid.as_str(), refs[0].controller),
        (SET_UID, Some(true))
    );
}

#[test]
fn stale_references_to_an_earlier_set_are_left_alone() {
    let mut w = running(1, Policy::OrderedReady);
    w.set_retention("Retain", "Delete");
    w.sync();
    if let Some(r) = w
        .claims
        .get_mut("data-web-0")
        .and_then(|c| c.metadata.owner_references.as_mut())
        .and_then(|r| r.first_mut())
    {
        r.uid = "old-set".into();
    }
    assert!(
        !w.plan()
            .actions()
            .any(|a| matches!(a, Action::UpdateClaimOwners { .. }))
    );
}

#[test]
fn a_pending_pod_gets_its_missing_claim_recreated() {
    let mut w = World::new(new_set("web", 1, Policy::OrderedReady));
    w.sync();
    w.claims.remove("data-web-0");
    let plan = w.sync();
    assert!(plan.actions().any(
        |a| matches!(a, Action::CreateClaims { pod, claims } if pod == "web-0" && claims.len() == 1)
    ));
    assert!(w.claims.contains_key("data-web-0"));
}

#[test]
fn drifted_identity_is_repaired_in_place() {
    for policy in POLICIES {
        let mut w = running(2, policy);
        if let Some(p) = w.pods.get_mut("web-1")
            && let Some(l) = p.metadata.labels.as_mut()
        {
            l.remove("statefulset.kubernetes.io/pod-name");
        }
        let plan = w.sync();
        let updated: Vec<_> = plan
            .actions()
            .filter_map(|a| match a {
                Action::UpdatePod(pod) => Some(pod.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(updated.len(), 1, "{policy:?}");
        assert_eq!(
            w.pod("web-1")
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("statefulset.kubernetes.io/pod-name"))
                .map(String::as_str),
            Some("web-1")
        );
        assert!(w.sync().is_idle(), "{policy:?}");
    }
}

/// The claim volumes of a pod, by volume name.
fn claim_volumes(w: &World, pod: &str) -> Vec<(String, String)> {
    w.pod(pod)
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let claim = v.persistent_volume_claim.as_ref()?;
            Some((v.name.clone(), claim.claim_name.clone()))
        })
        .collect()
}

#[test]
fn a_pod_lacking_its_claim_volume_is_replaced_not_patched() {
    // A pod's volumes cannot change: the rolling update replaces it.
    for policy in POLICIES {
        let mut w = running(2, policy);
        if let Some(s) = w.pods.get_mut("web-1").and_then(|p| p.spec.as_mut()) {
            s.volumes = None;
        }
        let plan = w.sync();
        assert!(
            !plan.actions().any(|a| matches!(a, Action::UpdatePod(_))),
            "{policy:?}"
        );
        assert_eq!(deleted(&plan), ["web-1"], "{policy:?}");
        assert_eq!(w.status().updated_replicas, Some(1), "{policy:?}");
        assert!(w.settle(10), "{policy:?}");
        assert_eq!(
            claim_volumes(&w, "web-1"),
            [("data".to_string(), "data-web-1".to_string())]
        );
        assert_eq!(w.status().updated_replicas, Some(2), "{policy:?}");
    }
}

#[test]
fn an_added_claim_template_gets_claims_and_reaches_every_pod_by_rolling_update() {
    for policy in POLICIES {
        let mut w = running(3, policy);
        let revision = w.update_revision();
        w.edit(|s| {
            let mut logs = s.volume_claim_templates.as_ref().unwrap()[0].clone();
            logs.metadata.name = Some("logs".into());
            s.volume_claim_templates.as_mut().unwrap().push(logs);
        });
        let plan = w.sync();
        // Every existing pod gets its claim at once; the highest pod goes
        // first, as in any rolling update.
        let made: Vec<String> = plan
            .actions()
            .filter_map(|a| match a {
                Action::CreateClaims { claims, .. } => Some(claims.iter()),
                _ => None,
            })
            .flatten()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        assert_eq!(
            made,
            ["logs-web-0", "logs-web-1", "logs-web-2"],
            "{policy:?}"
        );
        assert_eq!(deleted(&plan), ["web-2"], "{policy:?}");
        assert_eq!(w.status().updated_replicas, Some(0), "{policy:?}");
        let order = roll(&mut w);
        assert_eq!(order, ["web-1", "web-0"], "{policy:?}");
        for (i, pod) in w.live_pods().iter().enumerate() {
            assert_eq!(
                claim_volumes(&w, pod),
                [
                    ("data".to_string(), format!("data-web-{i}")),
                    ("logs".to_string(), format!("logs-web-{i}")),
                ],
                "{policy:?}"
            );
        }
        // The pod template did not change, so neither did the revision.
        assert_eq!(w.update_revision(), revision);
        assert_eq!(w.status().updated_replicas, Some(3), "{policy:?}");
    }
}

#[test]
fn an_added_claim_template_replaces_pods_even_where_updates_go_in_place() {
    let mut set = new_set("web", 2, Policy::OrderedReady);
    set.metadata.annotations = Some(
        [(
            ordinal_core::set_policy::POD_UPDATE_POLICY.to_string(),
            "InPlaceIfPossible".to_string(),
        )]
        .into(),
    );
    let mut w = World::new(set);
    assert!(w.settle(20));
    w.edit(|s| {
        let mut logs = s.volume_claim_templates.as_ref().unwrap()[0].clone();
        logs.metadata.name = Some("logs".into());
        s.volume_claim_templates.as_mut().unwrap().push(logs);
    });
    // An in-place update cannot add a volume: both pods are recreated.
    assert_eq!(roll(&mut w), ["web-1", "web-0"]);
    for (i, pod) in w.live_pods().iter().enumerate() {
        assert_eq!(claim_volumes(&w, pod).len(), 2, "web-{i}");
    }
}

#[test]
fn template_labels_reach_existing_claims() {
    let mut w = running(2, Policy::OrderedReady);
    if let Some(c) = w.claims.get_mut("data-web-1") {
        c.metadata
            .labels
            .get_or_insert_default()
            .insert("owner".into(), "team-a".into());
    }
    w.edit(|s| {
        let template = &mut s.volume_claim_templates.as_mut().unwrap()[0];
        template.metadata.labels = Some([("tier".to_string(), "db".to_string())].into());
        template.metadata.annotations = Some([("note".to_string(), "x".to_string())].into());
    });
    let plan = w.sync();
    let updated: Vec<&str> = plan
        .claims
        .iter()
        .filter_map(|a| match a {
            Action::UpdateClaim { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(updated, ["data-web-0", "data-web-1"]);
    for claim in ["data-web-0", "data-web-1"] {
        let meta = &w.claims[claim].metadata;
        assert_eq!(meta.labels.as_ref().unwrap()["tier"], "db");
        assert_eq!(meta.labels.as_ref().unwrap()["app"], "web");
        assert_eq!(meta.annotations.as_ref().unwrap()["note"], "x");
    }
    assert_eq!(
        w.claims["data-web-1"].metadata.labels.as_ref().unwrap()["owner"],
        "team-a"
    );
    assert!(w.sync().is_idle());
}

#[test]
fn a_set_being_deleted_only_gets_its_status_written() {
    let mut w = running(3, Policy::OrderedReady);
    w.scale(1);
    let now = w.now;
    w.set.metadata.deletion_timestamp = Some(Time(now));
    if let Some(p) = w.pods.get_mut("web-0") {
        p.metadata.owner_references = None;
    }
    let plan = w.plan();
    assert!(plan.waves.is_empty() && plan.ownership.is_empty());
    assert_eq!(plan.status.map(|s| s.observed_generation), Some(Some(2)));
}

#[test]
fn status_counts_pods_and_records_the_generation_it_saw() {
    let mut w = World::new(new_set("web", 3, Policy::Parallel));
    w.sync();
    w.ready("web-0");
    w.run("web-1");
    let plan = w.sync();
    let status = plan.status.expect("status changed");
    assert_eq!(status.replicas, 3);
    assert_eq!(status.ready_replicas, Some(1));
    assert_eq!(status.available_replicas, Some(1));
    assert_eq!(status.updated_replicas, Some(3));
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.collision_count, Some(0));
    assert_eq!(status.current_revision, status.update_revision);
    assert!(
        w.plan().status.is_none(),
        "written only when something changed"
    );
}

#[test]
fn a_name_collision_bumps_collision_count_and_picks_another_name() {
    let mut w = World::new(new_set("web", 1, Policy::OrderedReady));
    let wanted = match w.plan().revision {
        Some(Action::CreateRevision(r)) => r.metadata.name.unwrap_or_default(),
        other => panic!("expected a new revision, got {other:?}"),
    };
    // Someone else's revision already has that name.
    w.revisions.insert(
        wanted.clone(),
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some(wanted.clone()),
                namespace: Some(NS.into()),
                ..ObjectMeta::default()
            },
            data: Some(RawExtension(serde_json::json!({"other": true}))),
            revision: 1,
        },
    );
    let plan = w.sync();
    let name = match &plan.revision {
        Some(Action::CreateRevision(r)) => r.metadata.name.clone().unwrap_or_default(),
        other => panic!("expected a new revision, got {other:?}"),
    };
    assert_ne!(name, wanted);
    assert_eq!(w.status().collision_count, Some(1));
    assert_eq!(w.update_revision(), name);
}

#[test]
fn orphaned_revisions_are_adopted() {
    let mut w = running(1, Policy::OrderedReady);
    let name = w.update_revision();
    if let Some(r) = w.revisions.get_mut(&name) {
        r.metadata.owner_references = None;
    }
    let plan = w.plan();
    assert!(matches!(&plan.ownership[..], [Action::AdoptRevision { name: n, .. }] if *n == name));
    assert!(
        plan.revision.is_none(),
        "the orphan is still the update revision"
    );
}

#[test]
fn absent_optional_fields_read_as_upstream_defaults() {
    let set: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": NS, "uid": SET_UID},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}}
        }
    }))
    .expect("valid set");
    let mut w = World::new(set);
    // A pod with no status and a revision with no data must not upset it.
    w.pods.insert(
        "web-3".into(),
        Pod {
            metadata: ObjectMeta {
                name: Some("web-3".into()),
                namespace: Some(NS.into()),
                uid: Some("p3".into()),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        },
    );
    w.revisions.insert(
        "web-x".into(),
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some("web-x".into()),
                namespace: Some(NS.into()),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..ObjectMeta::default()
            },
            data: None,
            revision: 1,
        },
    );
    let plan = w.sync();
    assert_eq!(created(&plan), ["web-0"], "replicas defaults to 1");
    assert!(w.settle(10));
    assert_eq!(w.live_pods(), ["web-0"]);
    assert_eq!(w.set.status.as_ref().map(|s| s.replicas), Some(1));
}

#[test]
fn an_invalid_selector_stops_everything() {
    let mut set = new_set("web", 1, Policy::OrderedReady);
    if let Some(spec) = set.spec.as_mut() {
        spec.selector.match_expressions = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "app".into(),
                operator: "Resembles".into(),
                values: None,
            },
        ]);
    }
    let plan = plan(&Observed {
        set: &set,
        pods: vec![],
        claims: vec![],
        revisions: vec![],
        now: jiff::Timestamp::UNIX_EPOCH,
    });
    assert!(plan.actions().next().is_none());
    assert!(matches!(plan.failures[..], [Failure::InvalidSelector(_)]));
    let no_spec = k8s_openapi::api::apps::v1::StatefulSet::default();
    let plan: Plan = super::super::plan(&Observed {
        set: &no_spec,
        pods: vec![],
        claims: vec![],
        revisions: vec![],
        now: jiff::Timestamp::UNIX_EPOCH,
    });
    assert_eq!(plan.failures, [Failure::NoSpec]);
}

#[test]
fn huge_parallel_sets_are_created_in_bounded_syncs() {
    let mut w = World::new(new_set("web", i32::MAX, Policy::Parallel));
    let plan = w.plan();
    assert!(created(&plan).len() <= super::super::MAX_CREATIONS_PER_SYNC + 500);
    assert!(created(&plan).len() >= super::super::MAX_CREATIONS_PER_SYNC);
    assert_eq!(plan.requeue_after, Some(std::time::Duration::ZERO));
    w.apply(&plan, |_| false);
}

#[test]
fn a_failed_delete_of_a_failed_pod_is_retried() {
    for policy in POLICIES {
        let mut w = running(2, policy);
        w.fail("web-0");
        let plan = w.plan();
        w.apply(&plan, |a| matches!(a, Action::DeletePod { .. }));
        assert!(w.pods["web-0"].metadata.deletion_timestamp.is_none());
        assert_eq!(deleted(&w.sync()), ["web-0"], "{policy:?}");
        w.finish_terminating();
        assert_eq!(created(&w.sync()), ["web-0"]);
    }
}

#[test]
fn parallel_keeps_creating_past_unhealthy_and_terminating_pods() {
    let mut w = running(2, Policy::Parallel);
    w.unready("web-0");
    w.delete("web-1");
    w.scale(4);
    let plan = w.sync();
    assert_eq!(created(&plan), ["web-2", "web-3"]);

    let mut w = running(2, Policy::OrderedReady);
    w.unready("web-0");
    w.scale(4);
    assert!(
        created(&w.sync()).is_empty(),
        "OrderedReady waits for web-0"
    );
}

#[test]
fn ordered_ready_waits_for_a_terminating_pod_before_going_further() {
    let mut w = running(2, Policy::OrderedReady);
    w.delete("web-0");
    w.scale(3);
    assert!(created(&w.sync()).is_empty());
    w.finish_terminating();
    assert_eq!(created(&w.sync()), ["web-0"]);
}

#[test]
fn scale_down_takes_precedence_over_the_rolling_update() {
    let mut w = running(3, Policy::OrderedReady);
    w.set_image("nginx:2");
    w.scale(2);
    let plan = w.sync();
    let reasons: Vec<_> = plan
        .actions()
        .filter_map(|a| match a {
            Action::DeletePod { name, reason, .. } => Some((name.clone(), *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [("web-2".to_string(), DeleteReason::ScaleDown)]);
}
