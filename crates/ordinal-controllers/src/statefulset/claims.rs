//! Each pod's PersistentVolumeClaims: built from the volumeClaimTemplates,
//! and owned according to `persistentVolumeClaimRetentionPolicy` so that the
//! garbage collector deletes exactly the claims the policy says to delete.
//!
//! | whenScaled / whenDeleted | claim of a pod in range | claim of a condemned pod |
//! |---|---|---|
//! | Retain / Retain | no owner refs from us | same |
//! | Retain / Delete | the set | the set |
//! | Delete / Retain | none | the pod |
//! | Delete / Delete | the set | the pod |
//!
//! A claim with a stale reference (our name, another UID) was left by an
//! earlier set or pod of the same name and is not touched. When another
//! controller owns the claim, our references are removed and none added.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::Action;
use super::identity::{claim_name, claim_ordinal, controller_ref};
use super::spec::SetSpec;
use crate::runtime::controller_ref_to;

/// The pod whose claims are looked at. A pod about to be created has an
/// empty UID.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PodRef<'a> {
    pub name: &'a str,
    pub uid: &'a str,
}

/// The observed claims that follow the set's naming, by template and
/// ordinal, so that looking up a pod's claims builds no names.
pub(crate) struct ClaimIndex<'a> {
    /// One list per volumeClaimTemplate, sorted by ordinal.
    by_template: Vec<Vec<(i64, &'a PersistentVolumeClaim)>>,
}

impl<'a> ClaimIndex<'a> {
    pub(crate) fn new(spec: &SetSpec<'_>, claims: &[&'a PersistentVolumeClaim]) -> Self {
        let mut by_template = vec![Vec::new(); spec.claim_templates.len()];
        for &claim in claims {
            if claim.metadata.namespace.as_deref().unwrap_or("") != spec.namespace {
                continue;
            }
            let name = claim.metadata.name.as_deref().unwrap_or("");
            for (list, template) in by_template.iter_mut().zip(spec.claim_templates) {
                let template = template.metadata.name.as_deref().unwrap_or("");
                if let Some(ordinal) = claim_ordinal(name, template, spec.name) {
                    list.push((ordinal, claim));
                }
            }
        }
        for list in &mut by_template {
            list.sort_unstable_by_key(|(ordinal, _)| *ordinal);
        }
        ClaimIndex { by_template }
    }

    /// The claim for template number `template` of the pod at `ordinal`.
    pub(crate) fn get(&self, template: usize, ordinal: i64) -> Option<&'a PersistentVolumeClaim> {
        let list = self.by_template.get(template)?;
        let at = list.binary_search_by_key(&ordinal, |(o, _)| *o).ok()?;
        list.get(at).map(|(_, claim)| *claim)
    }

    /// The existing claims of the pod at `ordinal`.
    pub(crate) fn of(&self, ordinal: i64) -> impl Iterator<Item = &'a PersistentVolumeClaim> + '_ {
        (0..self.by_template.len()).filter_map(move |t| self.get(t, ordinal))
    }

    /// Every claim as `(template number, claim)`, by ordinal, and by
    /// template within an ordinal.
    pub(crate) fn in_order(&self) -> Vec<(usize, &'a PersistentVolumeClaim)> {
        let mut all: Vec<(i64, usize, &'a PersistentVolumeClaim)> = self
            .by_template
            .iter()
            .enumerate()
            .flat_map(|(t, list)| list.iter().map(move |(o, claim)| (*o, t, *claim)))
            .collect();
        all.sort_by_key(|(ordinal, template, _)| (*ordinal, *template));
        all.into_iter().map(|(_, t, claim)| (t, claim)).collect()
    }
}

/// The labels a claim of `template` carries: the template's, plus the
/// selector's matchLabels.
pub(crate) fn claim_labels(
    spec: &SetSpec<'_>,
    template: &PersistentVolumeClaim,
) -> BTreeMap<String, String> {
    let mut labels = template.metadata.labels.clone().unwrap_or_default();
    for (k, v) in spec.selector.match_labels.iter().flatten() {
        labels.insert(k.clone(), v.clone());
    }
    labels
}

/// A new claim for the pod at `ordinal` (in range) from one template: the
/// template's labels plus the selector's matchLabels, owned by the set when
/// `whenDeleted: Delete`.
pub(crate) fn new_claim(
    spec: &SetSpec<'_>,
    template: &PersistentVolumeClaim,
    ordinal: i64,
) -> PersistentVolumeClaim {
    let template_name = template.metadata.name.as_deref().unwrap_or("");
    let labels = claim_labels(spec, template);
    // Upstream creates the claim bare and sets its owners right after the
    // pod; creating it with its final owners saves a write and ends the same.
    let owners = spec
        .retention
        .delete_when_deleted
        .then(|| vec![controller_ref(spec)]);
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(template_name, spec.name, ordinal)),
            namespace: Some(spec.namespace.into()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: template.metadata.annotations.clone(),
            finalizers: template.metadata.finalizers.clone(),
            owner_references: owners,
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// What the pod at `ordinal` needs before it can be created or run: the
/// claims to create, or the first claim that is being deleted.
pub(crate) enum ClaimCheck {
    Ready(Vec<PersistentVolumeClaim>),
    Terminating(String),
}

pub(crate) fn missing_claims(
    spec: &SetSpec<'_>,
    claims: &ClaimIndex<'_>,
    ordinal: i64,
) -> ClaimCheck {
    let mut missing = Vec::new();
    for (i, template) in spec.claim_templates.iter().enumerate() {
        match claims.get(i, ordinal) {
            Some(claim) if claim.metadata.deletion_timestamp.is_some() => {
                return ClaimCheck::Terminating(claim.metadata.name.clone().unwrap_or_default());
            }
            Some(_) => {}
            None => missing.push(new_claim(spec, template, ordinal)),
        }
    }
    ClaimCheck::Ready(missing)
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim.metadata.owner_references.as_deref().unwrap_or(&[])
}

fn is_set_ref(r: &OwnerReference, spec: &SetSpec<'_>) -> bool {
    r.api_version == "apps/v1" && r.kind == "StatefulSet" && r.name == spec.name
}

fn is_pod_ref(r: &OwnerReference, pod: PodRef<'_>) -> bool {
    r.api_version == "v1" && r.kind == "Pod" && r.name == pod.name
}

fn has_owner(claim: &PersistentVolumeClaim, uid: &str) -> bool {
    refs(claim).iter().any(|r| r.uid == uid)
}

/// The first reference naming the pod carries another UID: the claim still
/// belongs to an earlier pod of the same name. With `whenScaled: Delete`
/// the garbage collector is about to delete it, so the new pod must wait.
pub(crate) fn has_stale_pod_ref(claim: &PersistentVolumeClaim, pod: PodRef<'_>) -> bool {
    refs(claim)
        .iter()
        .find(|r| is_pod_ref(r, pod))
        .is_some_and(|r| r.uid != pod.uid)
}

fn has_stale_set_ref(claim: &PersistentVolumeClaim, spec: &SetSpec<'_>) -> bool {
    refs(claim)
        .iter()
        .find(|r| is_set_ref(r, spec))
        .is_some_and(|r| r.uid != spec.uid)
}

/// Someone other than this set and this pod controls the claim (or a
/// reference to us carries a foreign UID). Irrelevant under Retain/Retain.
fn has_unexpected_controller(
    claim: &PersistentVolumeClaim,
    spec: &SetSpec<'_>,
    pod: PodRef<'_>,
) -> bool {
    if spec.retention.retain_all() {
        return false;
    }
    for r in refs(claim) {
        if is_set_ref(r, spec) {
            if r.uid != spec.uid {
                return true;
            }
            continue;
        }
        if is_pod_ref(r, pod) {
            if r.uid != pod.uid {
                return true;
            }
            continue;
        }
        if r.controller == Some(true) {
            return true;
        }
    }
    false
}

/// The set or pod is an owner but not marked as controller.
fn has_non_controller_owner(
    claim: &PersistentVolumeClaim,
    spec: &SetSpec<'_>,
    pod: PodRef<'_>,
) -> bool {
    refs(claim)
        .iter()
        .any(|r| (r.uid == spec.uid || r.uid == pod.uid) && r.controller != Some(true))
}

/// Whether the claim's owners already match the retention policy.
pub(crate) fn owners_up_to_date(
    claim: &PersistentVolumeClaim,
    spec: &SetSpec<'_>,
    pod: PodRef<'_>,
    in_range: bool,
) -> bool {
    if has_stale_set_ref(claim, spec) || has_stale_pod_ref(claim, pod) {
        return true;
    }
    let by_set = has_owner(claim, spec.uid);
    let by_pod = has_owner(claim, pod.uid);
    if has_unexpected_controller(claim, spec, pod) {
        // Our references must go; nothing is added on top of theirs.
        return !(by_set || by_pod);
    }
    if has_non_controller_owner(claim, spec, pod) {
        return false;
    }
    let (want_set, want_pod) = wanted_owners(spec, in_range);
    by_set == want_set && by_pod == want_pod
}

/// (owned by the set, owned by the pod) per the policy table.
fn wanted_owners(spec: &SetSpec<'_>, in_range: bool) -> (bool, bool) {
    let r = spec.retention;
    match (r.delete_when_scaled, r.delete_when_deleted) {
        (false, false) => (false, false),
        (false, true) => (true, false),
        (true, false) => (false, !in_range),
        (true, true) => (in_range, !in_range),
    }
}

/// The claim's owner references rewritten for the policy, and whether
/// another controller was found (the user should hear about that).
pub(crate) fn fixed_owners(
    claim: &PersistentVolumeClaim,
    spec: &SetSpec<'_>,
    pod: PodRef<'_>,
    in_range: bool,
) -> (Vec<OwnerReference>, bool) {
    let conflicting = has_unexpected_controller(claim, spec, pod);
    let mut owners: Vec<OwnerReference> = refs(claim)
        .iter()
        .filter(|r| !is_set_ref(r, spec) && !is_pod_ref(r, pod))
        .cloned()
        .collect();
    if conflicting {
        return (owners, true);
    }
    let (want_set, want_pod) = wanted_owners(spec, in_range);
    if want_set && !owners.iter().any(|r| r.uid == spec.uid) {
        owners.push(controller_ref(spec));
    }
    if want_pod && !owners.iter().any(|r| r.uid == pod.uid) {
        owners.push(controller_ref_to::<Pod>(pod.name, pod.uid));
    }
    (owners, false)
}

/// Owner updates for every existing claim of `pod` whose owners are off.
pub(crate) fn owner_updates(
    spec: &SetSpec<'_>,
    claims: &ClaimIndex<'_>,
    pod: PodRef<'_>,
    ordinal: i64,
) -> Vec<Action> {
    let in_range = spec.in_range(ordinal);
    let mut actions = Vec::new();
    for claim in claims.of(ordinal) {
        if owners_up_to_date(claim, spec, pod, in_range) {
            continue;
        }
        let (owners, conflicting) = fixed_owners(claim, spec, pod, in_range);
        let mut updated = (*claim).clone();
        updated.metadata.owner_references = (!owners.is_empty()).then_some(owners);
        actions.push(Action::UpdateClaimOwners {
            claim: updated,
            conflicting_controller: conflicting,
        });
    }
    actions
}
