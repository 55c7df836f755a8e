//! A pod's stable identity: its name `<set>-<ordinal>`, the labels the
//! controller adds, hostname and subdomain, and the volumes that bind it to
//! its claims. Builds new pods from a template and repairs existing ones
//! whose identity or storage drifted.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaimVolumeSource, Pod, PodReadinessGate, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use ordinal_core::set_policy::PodUpdatePolicy;

use super::in_place;
use super::spec::SetSpec;

/// Label holding the pod's own name, so a Service can select one pod.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label holding the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Label holding the name of the ControllerRevision a pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// `<set>-<ordinal>`.
pub fn pod_name(set: &str, ordinal: i64) -> String {
    format!("{set}-{ordinal}")
}

/// The ordinal of a pod named `<set>-<ordinal>`, if the name has exactly
/// that form. Upstream also accepts leading zeros (`web-01`), which would let
/// two pods claim one ordinal; such pods are not members here.
pub fn ordinal_of(set: &str, pod_name: &str) -> Option<i64> {
    let digits = pod_name.strip_prefix(set)?.strip_prefix('-')?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    let ordinal: i32 = digits.parse().ok()?;
    Some(i64::from(ordinal))
}

/// `<template>-<set>-<ordinal>`: the claim a pod mounts for one
/// volumeClaimTemplate.
pub fn claim_name(template: &str, set: &str, ordinal: i64) -> String {
    format!("{template}-{set}-{ordinal}")
}

/// The controller reference the set puts on its pods and revisions.
pub fn controller_ref(spec: &SetSpec<'_>) -> OwnerReference {
    crate::runtime::controller_ref_to::<StatefulSet>(spec.name, spec.uid)
}

/// A new pod for `ordinal`, made from `template` (the template of the
/// revision the pod should run) and labelled with `revision`.
pub(crate) fn new_pod(
    spec: &SetSpec<'_>,
    template: &PodTemplateSpec,
    ordinal: i64,
    revision: &str,
) -> Pod {
    let meta = template.metadata.as_ref();
    let name = pod_name(spec.name, ordinal);
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            generate_name: Some(format!("{}-", spec.name)),
            namespace: Some(spec.namespace.into()),
            labels: meta.and_then(|m| m.labels.clone()),
            annotations: meta.and_then(|m| m.annotations.clone()),
            finalizers: meta.and_then(|m| m.finalizers.clone()),
            owner_references: Some(vec![controller_ref(spec)]),
            ..ObjectMeta::default()
        },
        spec: Some(template.spec.clone().unwrap_or_default()),
        status: None,
    };
    set_identity_labels(&mut pod, &name, ordinal);
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION_LABEL.into(), revision.into());
    // Hostname and subdomain are immutable, so they are set at creation only.
    let pod_spec = pod.spec.get_or_insert_with(PodSpec::default);
    pod_spec.hostname = Some(name);
    pod_spec.subdomain = (!spec.service_name.is_empty()).then(|| spec.service_name.into());
    set_claim_volumes(spec, &mut pod, ordinal);
    if spec.pod_update == PodUpdatePolicy::InPlaceIfPossible {
        let gates = pod_spec_mut(&mut pod)
            .readiness_gates
            .get_or_insert_default();
        if !gates.iter().any(|g| g.condition_type == in_place::GATE) {
            gates.push(PodReadinessGate {
                condition_type: in_place::GATE.into(),
            });
        }
    }
    pod
}

fn pod_spec_mut(pod: &mut Pod) -> &mut PodSpec {
    pod.spec.get_or_insert_with(PodSpec::default)
}

fn set_identity_labels(pod: &mut Pod, name: &str, ordinal: i64) {
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.into());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
}

/// Name, namespace and the pod-name label are what upstream checks.
pub(crate) fn identity_matches(spec: &SetSpec<'_>, pod: &Pod, ordinal: i64) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    ordinal_of(spec.name, name) == Some(ordinal)
        && pod.metadata.namespace.as_deref().unwrap_or("") == spec.namespace
        && pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(POD_NAME_LABEL))
            .is_some_and(|v| v == name)
}

/// Every volumeClaimTemplate is mounted as a volume of the same name backed
/// by this pod's claim.
pub(crate) fn storage_matches(spec: &SetSpec<'_>, pod: &Pod, ordinal: i64) -> bool {
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or(&[]);
    spec.claim_templates.iter().all(|template| {
        let template_name = template.metadata.name.as_deref().unwrap_or("");
        volumes.iter().any(|v| {
            v.name == template_name
                && v.persistent_volume_claim.as_ref().is_some_and(|c| {
                    is_claim_name(&c.claim_name, template_name, spec.name, ordinal)
                })
        })
    })
}

/// The pod, a member of the set by its name, lacks the claim volume of a
/// volumeClaimTemplate (one added after the pod was made). A pod's volumes
/// cannot change, so only replacing the pod gives it the volume: the
/// rolling update counts such a pod as outdated.
pub(crate) fn lacks_claim_volumes(spec: &SetSpec<'_>, pod: &Pod) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    ordinal_of(spec.name, name).is_some_and(|ordinal| !storage_matches(spec, pod, ordinal))
}

/// `name == claim_name(template, set, ordinal)`, without building it (this
/// runs for every pod on every sync).
fn is_claim_name(name: &str, template: &str, set: &str, ordinal: i64) -> bool {
    claim_ordinal(name, template, set) == Some(ordinal)
}

/// The ordinal in a claim name `<template>-<set>-<ordinal>`.
pub(crate) fn claim_ordinal(name: &str, template: &str, set: &str) -> Option<i64> {
    ordinal_of(set, name.strip_prefix(template)?.strip_prefix('-')?)
}

/// A copy of `pod` with its identity labels put right. Its claim volumes
/// are left as they are: the API server refuses any change to a pod's
/// volumes (upstream's `updateStorage` would be refused the same way), so
/// a pod lacking one is replaced instead ([`lacks_claim_volumes`]).
pub(crate) fn repaired(spec: &SetSpec<'_>, pod: &Pod, ordinal: i64) -> Pod {
    let mut pod = pod.clone();
    if !identity_matches(spec, &pod, ordinal) {
        let name = pod_name(spec.name, ordinal);
        pod.metadata.namespace = Some(spec.namespace.into());
        set_identity_labels(&mut pod, &name, ordinal);
    }
    pod
}

/// Replaces any volume named after a volumeClaimTemplate with one backed by
/// the pod's claim, keeping the pod's other volumes after them.
fn set_claim_volumes(spec: &SetSpec<'_>, pod: &mut Pod, ordinal: i64) {
    if spec.claim_templates.is_empty() {
        return;
    }
    let pod_spec = pod.spec.get_or_insert_with(PodSpec::default);
    let existing = pod_spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = spec
        .claim_templates
        .iter()
        .map(|template| {
            let template_name = template.metadata.name.clone().unwrap_or_default();
            Volume {
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name(&template_name, spec.name, ordinal),
                    read_only: None,
                }),
                name: template_name,
                ..Volume::default()
            }
        })
        .collect();
    for volume in existing {
        if !volumes.iter().any(|v| v.name == volume.name) {
            volumes.push(volume);
        }
    }
    pod_spec.volumes = Some(volumes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_parse_only_from_canonical_names() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("my-web", "my-web-3"), Some(3));
        assert_eq!(ordinal_of("web", "web-01"), None);
        assert_eq!(ordinal_of("web", "web-"), None);
        assert_eq!(ordinal_of("web", "web-x"), None);
        assert_eq!(ordinal_of("web", "webs-1"), None);
        assert_eq!(ordinal_of("web", "web-1-2"), None);
        assert_eq!(ordinal_of("web", "web-2147483647"), Some(2147483647));
        assert_eq!(ordinal_of("web", "web-2147483648"), None);
        assert_eq!(ordinal_of("web", "web--1"), None);
    }

    #[test]
    fn claim_names_follow_the_template_set_ordinal_pattern() {
        assert_eq!(claim_name("data", "web", 2), "data-web-2");
        assert!(is_claim_name("data-web-2", "data", "web", 2));
        assert!(is_claim_name("data-web-0", "data", "web", 0));
        assert!(!is_claim_name("data-web-02", "data", "web", 2));
        assert!(!is_claim_name("data-web-3", "data", "web", 2));
        assert!(!is_claim_name("data-web-", "data", "web", 2));
        assert!(!is_claim_name("logs-web-2", "data", "web", 2));
        assert!(!is_claim_name("data-webs-2", "data", "web", 2));
    }
}
