//! Which pods and revisions belong to the set: label-selector matching, and
//! the adopt/release decisions upstream's ControllerRefManager makes before
//! every sync.
//!
//! A pod is a member when its name is `<set>-<ordinal>`, it matches the
//! selector and the set controls it. Orphans that qualify are adopted (not
//! while the set or the pod is being deleted); pods the set controls that no
//! longer qualify are released. Pods controlled by anything else are never
//! touched.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use ordinal_core::labels::Selector;

use super::Action;
use super::identity::{controller_ref, ordinal_of};
use super::spec::SetSpec;
use crate::runtime::controller;

/// The set's pods after adoption and release, by ordinal.
pub(crate) struct Members<'a> {
    pub pods: Vec<(i64, &'a Pod)>,
}

/// Sorts pods into the set's members, adding adopt and release actions.
pub(crate) fn claim_pods<'a>(
    spec: &SetSpec<'_>,
    selector: &Selector,
    pods: &[&'a Pod],
    actions: &mut Vec<Action>,
) -> Members<'a> {
    let mut members = Vec::new();
    for &pod in pods {
        if pod.metadata.namespace.as_deref().unwrap_or("") != spec.namespace {
            continue;
        }
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        let ordinal = ordinal_of(spec.name, name);
        let qualifies = ordinal.is_some() && selector.matches(pod.metadata.labels.as_ref());
        match controller(&pod.metadata) {
            Some(owner) if owner.uid == spec.uid => match ordinal {
                Some(ordinal) if qualifies => members.push((ordinal, pod)),
                _ if spec.deleting => {}
                _ => actions.push(Action::ReleasePod {
                    name: name.into(),
                    uid: uid.into(),
                }),
            },
            Some(_) => {}
            None => {
                if let Some(ordinal) = ordinal
                    && qualifies
                    && !spec.deleting
                    && pod.metadata.deletion_timestamp.is_none()
                {
                    actions.push(Action::AdoptPod {
                        name: name.into(),
                        uid: uid.into(),
                        owner: controller_ref(spec),
                    });
                    members.push((ordinal, pod));
                }
            }
        }
    }
    members.sort_unstable_by_key(|(ordinal, _)| *ordinal);
    Members { pods: members }
}

/// The set's revision history: revisions matching the selector that the set
/// controls or that nobody controls (orphans are adopted).
pub(crate) fn claim_revisions<'a>(
    spec: &SetSpec<'_>,
    selector: &Selector,
    revisions: &[&'a ControllerRevision],
    actions: &mut Vec<Action>,
) -> Vec<&'a ControllerRevision> {
    let mut owned = Vec::new();
    for &revision in revisions {
        if revision.metadata.namespace.as_deref().unwrap_or("") != spec.namespace
            || !selector.matches(revision.metadata.labels.as_ref())
        {
            continue;
        }
        match controller(&revision.metadata) {
            Some(owner) if owner.uid == spec.uid => owned.push(revision),
            Some(_) => {}
            None => {
                if !spec.deleting {
                    actions.push(Action::AdoptRevision {
                        name: revision.metadata.name.clone().unwrap_or_default(),
                        uid: revision.metadata.uid.clone().unwrap_or_default(),
                        owner: controller_ref(spec),
                    });
                }
                owned.push(revision);
            }
        }
    }
    owned
}
