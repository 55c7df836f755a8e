//! Ordered teardown: a set deleted in the foreground removes its own pods,
//! highest ordinal first, each once the one before it is gone from the
//! cache (not merely terminating), all at once under `Parallel`; only then
//! does the garbage collector remove the set.
//!
//! The two controllers split the work by one rule, [`tears_down_in_order`]:
//! while it holds for a set being deleted in the foreground, the garbage
//! collector deletes the set's other dependents (claims under `whenDeleted:
//! Delete`, revisions) but leaves the pods whose controller reference names
//! the set to [`waves`], and removes its `foregroundDeletion` finalizer once
//! no blocking dependent is left. `ordinal.dev/teardown: Unordered` turns
//! both sides off: the garbage collector deletes every pod at once, as
//! upstream's does.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use ordinal_core::set_policy::{Policies, Teardown};

use super::identity::ordinal_of;
use super::{Action, DeleteReason};
use crate::gc::graph::FOREGROUND;

/// Whether a set with these annotations removes its own pods, in order,
/// when deleted in the foreground. Annotations that do not parse count as
/// none (the default, `Ordered`): the set's other problems are reported
/// elsewhere, and a teardown must not hang on them.
pub(crate) fn tears_down_in_order(annotations: Option<&BTreeMap<String, String>>) -> bool {
    Policies::parse(annotations).map_or(Teardown::default(), |p| p.teardown) == Teardown::Ordered
}

/// The pod deletions of an ordered teardown, as waves of the plan, or
/// `None` when the set is not in one (not deleted, deleted in the
/// background or orphaning, or `Unordered`). `Some` with no wave: wait
/// for a terminating pod to be gone.
///
/// The pods concerned are exactly those whose controller reference has the
/// set's UID (what the garbage collector leaves alone), whether or not they
/// still match the selector. A pod without an ordinal in its name goes
/// before the numbered ones.
pub(crate) fn waves(set: &StatefulSet, pods: &[&Pod]) -> Option<Vec<Vec<Action>>> {
    let meta = &set.metadata;
    let foreground = meta.deletion_timestamp.is_some()
        && meta.finalizers.iter().flatten().any(|f| f == FOREGROUND);
    if !foreground || !tears_down_in_order(meta.annotations.as_ref()) {
        return None;
    }
    let name = meta.name.as_deref().unwrap_or("");
    let uid = meta.uid.as_deref().unwrap_or("");
    let namespace = meta.namespace.as_deref().unwrap_or("");
    let mut controlled: Vec<(Option<i64>, &Pod)> = pods
        .iter()
        .filter(|pod| {
            pod.metadata.namespace.as_deref().unwrap_or("") == namespace
                && pod
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .map(|pod| {
            (
                ordinal_of(name, pod.metadata.name.as_deref().unwrap_or("")),
                *pod,
            )
        })
        .collect();
    // Unnumbered pods first, then the highest ordinal; by name among the
    // unnumbered, so every sync picks the same pod.
    controlled.sort_by(|(a, p), (b, q)| {
        let key = |o: &Option<i64>| o.unwrap_or(i64::MAX);
        key(b)
            .cmp(&key(a))
            .then_with(|| p.metadata.name.cmp(&q.metadata.name))
    });
    let parallel = set
        .spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        == Some("Parallel");
    let mut live = controlled
        .iter()
        .filter(|(_, pod)| pod.metadata.deletion_timestamp.is_none())
        .map(|(_, pod)| delete(pod));
    let wave: Vec<Action> = if parallel {
        live.collect()
    } else if controlled
        .iter()
        .any(|(_, pod)| pod.metadata.deletion_timestamp.is_some())
    {
        Vec::new()
    } else {
        live.next().into_iter().collect()
    };
    Some(if wave.is_empty() { vec![] } else { vec![wave] })
}

fn delete(pod: &Pod) -> Action {
    Action::DeletePod {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        reason: DeleteReason::Teardown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordinal_core::set_policy::TEARDOWN;
    use serde_json::json;

    pub(super) const SET_UID: &str = "set-uid";

    pub(super) fn set(policy: &str, finalizers: &[&str], annotation: Option<&str>) -> StatefulSet {
        let mut set: StatefulSet = serde_json::from_value(json!({
            "metadata": {
                "name": "web", "namespace": "default", "uid": SET_UID,
                "deletionTimestamp": "2024-01-01T00:00:00Z",
                "finalizers": finalizers,
            },
            "spec": {
                "replicas": 3,
                "podManagementPolicy": policy,
                "selector": {"matchLabels": {"app": "web"}},
                "serviceName": "web",
                "template": {"metadata": {"labels": {"app": "web"}}},
            }
        }))
        .unwrap();
        if let Some(value) = annotation {
            set.metadata.annotations = Some([(TEARDOWN.to_string(), value.to_string())].into());
        }
        set
    }

    /// A pod `name` whose controller has `controller_uid`.
    pub(super) fn pod(name: &str, controller_uid: Option<&str>, terminating: bool) -> Pod {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                         "labels": {"app": "web"}},
        }))
        .unwrap();
        if let Some(uid) = controller_uid {
            pod.metadata.owner_references = Some(vec![
                serde_json::from_value(json!({
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                    "uid": uid, "controller": true, "blockOwnerDeletion": true,
                }))
                .unwrap(),
            ]);
        }
        if terminating {
            terminate(&mut pod);
        }
        pod
    }

    pub(super) fn terminate(pod: &mut Pod) {
        pod.metadata.deletion_timestamp =
            serde_json::from_value(json!("2024-01-01T00:00:00Z")).unwrap();
    }

    /// The names the waves delete, wave by wave.
    pub(super) fn deleted(waves: &[Vec<Action>]) -> Vec<Vec<&str>> {
        waves
            .iter()
            .map(|wave| {
                wave.iter()
                    .map(|a| match a {
                        Action::DeletePod {
                            name,
                            uid,
                            reason: DeleteReason::Teardown,
                        } => {
                            assert_eq!(uid, &format!("uid-{name}"));
                            name.as_str()
                        }
                        other => panic!("not a teardown delete: {other:?}"),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn only_a_foreground_deletion_of_an_ordered_set_tears_down() {
        let pods = [pod("web-0", Some(SET_UID), false)];
        let pods: Vec<&Pod> = pods.iter().collect();
        let mut alive = set("OrderedReady", &[FOREGROUND], None);
        alive.metadata.deletion_timestamp = None;
        assert_eq!(waves(&alive, &pods), None);
        // Background: the garbage collector deletes the pods once the set is gone.
        assert_eq!(waves(&set("OrderedReady", &[], None), &pods), None);
        assert_eq!(waves(&set("OrderedReady", &["orphan"], None), &pods), None);
        assert_eq!(
            waves(
                &set("OrderedReady", &[FOREGROUND], Some("Unordered")),
                &pods
            ),
            None
        );
        for annotation in [None, Some("Ordered"), Some("bogus")] {
            let planned = waves(&set("OrderedReady", &[FOREGROUND], annotation), &pods);
            assert_eq!(deleted(&planned.unwrap()), [["web-0"]], "{annotation:?}");
        }
        assert!(tears_down_in_order(None));
        assert!(!tears_down_in_order(Some(
            &[(TEARDOWN.to_string(), "Unordered".to_string())].into()
        )));
    }

    #[test]
    fn ordered_ready_deletes_the_highest_and_waits_for_it_to_be_gone() {
        let set = set("OrderedReady", &[FOREGROUND], None);
        let mut pods: Vec<Pod> = (0..3)
            .map(|i| pod(&format!("web-{i}"), Some(SET_UID), false))
            .chain([
                pod("web-7", Some("another-set"), false),
                pod("web-8", None, false),
            ])
            .collect();
        let plan = |pods: &[Pod]| {
            let pods: Vec<&Pod> = pods.iter().collect();
            waves(&set, &pods).expect("tearing down")
        };
        let gone = |pods: &mut Vec<Pod>, name: &str| {
            pods.retain(|p| p.metadata.name.as_deref() != Some(name));
        };
        assert_eq!(deleted(&plan(&pods)), [["web-2"]]);
        terminate(&mut pods[2]);
        assert!(plan(&pods).is_empty(), "web-2 is still terminating");
        gone(&mut pods, "web-2");
        assert_eq!(deleted(&plan(&pods)), [["web-1"]]);
        gone(&mut pods, "web-1");
        assert_eq!(deleted(&plan(&pods)), [["web-0"]]);
        gone(&mut pods, "web-0");
        assert!(plan(&pods).is_empty(), "others' pods are never touched");
    }

    #[test]
    fn a_pod_with_no_ordinal_goes_first_and_a_stray_terminating_one_is_waited_for() {
        let set = set("OrderedReady", &[FOREGROUND], None);
        let pods = [
            pod("web-1", Some(SET_UID), false),
            pod("web-x", Some(SET_UID), false),
            pod("web-0", Some(SET_UID), false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(deleted(&waves(&set, &refs).unwrap()), [["web-x"]]);
        // A lower pod someone else is deleting holds the teardown back too.
        let pods = [
            pod("web-1", Some(SET_UID), false),
            pod("web-0", Some(SET_UID), true),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(waves(&set, &refs), Some(vec![]));
    }

    #[test]
    fn parallel_deletes_every_pod_at_once() {
        let set = set("Parallel", &[FOREGROUND], None);
        let pods = [
            pod("web-0", Some(SET_UID), false),
            pod("web-2", Some(SET_UID), true),
            pod("web-1", Some(SET_UID), false),
            pod("web-3", None, false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(deleted(&waves(&set, &refs).unwrap()), [["web-1", "web-0"]]);
    }
}

#[cfg(test)]
mod properties {
    use super::tests::{SET_UID, pod, set, terminate};
    use super::*;
    use proptest::prelude::*;

    fn ours(pod: &Pod) -> bool {
        pod.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == SET_UID)
    }

    fn terminating(pod: &Pod) -> bool {
        pod.metadata.deletion_timestamp.is_some()
    }

    proptest! {
        /// Whatever pods a teardown starts from (the set's and others',
        /// some already terminating) and however many syncs each takes to
        /// terminate: only the set's live pods are deleted, each once;
        /// under OrderedReady one at a time, highest first, and never
        /// while another pod of the set is terminating; under Parallel
        /// all in the first sync. Every pod of the set is gone in the end.
        #[test]
        fn teardown_is_ordered_and_finishes(
            parallel in any::<bool>(),
            start in prop::collection::btree_map(0i64..12, (any::<bool>(), any::<bool>()), 0..8),
            delays in prop::collection::vec(0u8..4, 12),
        ) {
            let set = set(if parallel { "Parallel" } else { "OrderedReady" }, &[FOREGROUND], None);
            // (ordinal, pod, syncs a terminating pod still takes to go)
            let mut pods: Vec<(i64, Pod, u8)> = start
                .iter()
                .map(|(&o, &(mine, dying))| {
                    let owner = if mine { SET_UID } else { "another-set" };
                    (o, pod(&format!("web-{o}"), Some(owner), dying), delays[o as usize])
                })
                .collect();
            let mut order: Vec<i64> = Vec::new();
            for _ in 0..100 {
                let planned = {
                    let refs: Vec<&Pod> = pods.iter().map(|(_, p, _)| p).collect();
                    waves(&set, &refs).expect("tearing down")
                };
                prop_assert!(planned.len() <= 1);
                let names: Vec<String> = planned
                    .iter()
                    .flatten()
                    .map(|a| match a {
                        Action::DeletePod { name, .. } => name.clone(),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                if !parallel {
                    prop_assert!(names.len() <= 1);
                    let waiting = pods.iter().any(|(_, p, _)| ours(p) && terminating(p));
                    prop_assert!(names.is_empty() || !waiting);
                }
                let highest = pods.iter().filter(|(_, p, _)| ours(p)).map(|(o, _, _)| *o).max();
                for name in &names {
                    let entry = pods
                        .iter_mut()
                        .find(|(_, p, _)| p.metadata.name.as_ref() == Some(name))
                        .expect("a pod that exists");
                    prop_assert!(ours(&entry.1) && !terminating(&entry.1), "{}", name);
                    if !parallel {
                        prop_assert_eq!(Some(entry.0), highest);
                    }
                    order.push(entry.0);
                    terminate(&mut entry.1);
                }
                if parallel {
                    prop_assert!(pods.iter().all(|(_, p, _)| !ours(p) || terminating(p)));
                }
                // Terminating pods count down, then are gone.
                pods.retain_mut(|(_, p, left)| {
                    if !terminating(p) {
                        return true;
                    }
                    if *left == 0 {
                        return false;
                    }
                    *left -= 1;
                    true
                });
                if pods.iter().all(|(_, p, _)| !ours(p)) {
                    break;
                }
            }
            prop_assert!(pods.iter().all(|(_, p, _)| !ours(p)), "left: {:?}", pods);
            if !parallel {
                prop_assert!(order.windows(2).all(|w| w[0] > w[1]), "{:?}", order);
            }
            let live_at_start = start.values().filter(|(mine, dying)| *mine && !*dying).count();
            prop_assert_eq!(order.len(), live_at_start);
        }
    }
}
