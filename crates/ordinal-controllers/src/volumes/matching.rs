//! Which PersistentVolume satisfies a claim: upstream's
//! `FindMatchingVolume` (component-helpers), shared by the binder (no
//! node) and the scheduler (with a node).
//!
//! A volume pre-bound to the claim (its `claimRef` names the claim, and the
//! claim's UID if it has one) wins outright when it fits; otherwise the
//! smallest Available volume of the claim's class whose capacity, volume
//! mode, access modes, labels (the claim's selector) and node affinity fit.
//! Volumes being deleted never match. The binder leaves unbound volumes of
//! a WaitForFirstConsumer claim to the scheduler.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use ordinal_core::labels::Selector;
use ordinal_core::quantity;

use super::{ANN_BETA_CLASS, volume_class};
use crate::selection;

/// The class a claim asks for: the beta annotation first, then
/// `spec.storageClassName`; `""` for none.
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(c) = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_BETA_CLASS))
    {
        return c;
    }
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The bytes a claim requests.
pub fn requested_bytes(claim: &PersistentVolumeClaim) -> i128 {
    quantity::bytes_or_zero(
        claim
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage")),
    )
}

/// The bytes a volume offers.
pub fn capacity_bytes(volume: &PersistentVolume) -> i128 {
    quantity::bytes_or_zero(
        volume
            .spec
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage")),
    )
}

/// Upstream's `IsVolumeBoundToClaim`: the claimRef names the claim, and
/// its UID, when set, is the claim's.
pub fn is_bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    if r.name.as_deref() != claim.metadata.name.as_deref()
        || r.namespace.as_deref() != claim.metadata.namespace.as_deref()
    {
        return false;
    }
    match r.uid.as_deref() {
        None | Some("") => true,
        Some(uid) => claim.metadata.uid.as_deref() == Some(uid),
    }
}

/// Filesystem unless said otherwise, on both sides.
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let claim_mode = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem");
    let volume_mode = volume
        .spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem");
    claim_mode != volume_mode
}

/// The volume offers every access mode the claim asks for.
pub fn access_modes_fit(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let offered = volume
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[]);
    claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[])
        .iter()
        .all(|m| offered.contains(m))
}

/// Whether the volume may be used on `node` (no affinity: anywhere).
pub fn node_affinity_fits(volume: &PersistentVolume, node: &Node) -> bool {
    match volume
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    {
        None => true,
        Some(required) => selection::node_selector_matches(required, node),
    }
}

/// Why a claim cannot have the volume it names (`checkVolumeSatisfyClaim`),
/// in upstream's words.
pub fn why_not_satisfied(
    volume: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> Option<&'static str> {
    if volume.metadata.deletion_timestamp.is_some() {
        return Some("the volume is marked for deletion");
    }
    if capacity_bytes(volume) < requested_bytes(claim) {
        return Some("requested PV is too small");
    }
    if volume_class(volume) != claim_class(claim) {
        return Some("storageClassName does not match");
    }
    if volume_mode_mismatch(claim, volume) {
        return Some("incompatible volumeMode");
    }
    if !access_modes_fit(claim, volume) {
        return Some("incompatible accessMode");
    }
    None
}

/// Where a match is being looked for.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    /// The binder; `delay_binding` for a WaitForFirstConsumer claim no
    /// node has been chosen for.
    Binder { delay_binding: bool },
    /// The scheduler, for a candidate node.
    Scheduler { node: &'a Node },
}

/// The best volume for `claim` among `volumes`, skipping `excluded`; an
/// error when the claim's selector is malformed.
pub fn find_match<'v>(
    claim: &PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'v PersistentVolume>,
    path: Path<'_>,
    excluded: &HashSet<String>,
) -> Result<Option<&'v PersistentVolume>, String> {
    let requested = requested_bytes(claim);
    let class = claim_class(claim);
    let selector = claim.spec.as_ref().and_then(|s| s.selector.as_ref());
    let node = match path {
        Path::Scheduler { node } => Some(node),
        Path::Binder { .. } => None,
    };
    let mut best: Option<(&PersistentVolume, i128)> = None;
    for volume in volumes {
        let name = volume.metadata.name.as_deref().unwrap_or("");
        if excluded.contains(name) {
            continue;
        }
        let claimed = volume
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some();
        let bound_here = is_bound_to(volume, claim);
        if claimed && !bound_here {
            continue;
        }
        let size = capacity_bytes(volume);
        if size < requested
            || volume_mode_mismatch(claim, volume)
            || volume.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let affinity_ok = node.is_none_or(|n| node_affinity_fits(volume, n));
        if bound_here {
            // A pre-bound volume is the answer, or there is none.
            return Ok(affinity_ok.then_some(volume));
        }
        if let Path::Binder {
            delay_binding: true,
        } = path
        {
            continue;
        }
        let available =
            volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
        if !available {
            continue;
        }
        if let Some(sel) = selector
            && !Selector::compile_and_match(sel, volume.metadata.labels.as_ref())
                .map_err(|e| format!("error creating internal label selector for claim: {e}"))?
        {
            continue;
        }
        if volume_class(volume) != class || !affinity_ok || !access_modes_fit(claim, volume) {
            continue;
        }
        if best.is_none_or(|(_, s)| s > size) {
            best = Some((volume, size));
        }
    }
    Ok(best.map(|(v, _)| v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, node, volume};

    fn none() -> HashSet<String> {
        HashSet::new()
    }

    const BINDER: Path<'static> = Path::Binder {
        delay_binding: false,
    };

    #[test]
    fn the_smallest_fitting_available_volume_of_the_class_wins() {
        let c = claim("data", "2Gi", "fast");
        let vols = [
            volume("big", "10Gi", "fast"),
            volume("small", "1Gi", "fast"),
            volume("right", "3Gi", "fast"),
            volume("other-class", "2Gi", "slow"),
        ];
        let m = find_match(&c, &vols, BINDER, &none()).unwrap().unwrap();
        assert_eq!(m.metadata.name.as_deref(), Some("right"));
        let mut excluded = none();
        excluded.insert("right".to_string());
        let m = find_match(&c, &vols, BINDER, &excluded).unwrap().unwrap();
        assert_eq!(m.metadata.name.as_deref(), Some("big"));
    }

    #[test]
    fn access_modes_selector_mode_and_phase_filter() {
        let mut c = claim("data", "1Gi", "");
        c.spec.as_mut().unwrap().access_modes = Some(vec!["ReadWriteMany".into()]);
        let rwo = volume("rwo", "1Gi", "");
        let mut rwx = volume("rwx", "1Gi", "");
        rwx.spec.as_mut().unwrap().access_modes =
            Some(vec!["ReadWriteOnce".into(), "ReadWriteMany".into()]);
        assert_eq!(
            find_match(&c, [&rwo, &rwx], BINDER, &none())
                .unwrap()
                .and_then(|v| v.metadata.name.as_deref()),
            Some("rwx")
        );
        let mut released = rwx.clone();
        released.status.as_mut().unwrap().phase = Some("Released".into());
        assert!(
            find_match(&c, [&released], BINDER, &none())
                .unwrap()
                .is_none()
        );
        let mut block = rwx.clone();
        block.spec.as_mut().unwrap().volume_mode = Some("Block".into());
        assert!(find_match(&c, [&block], BINDER, &none()).unwrap().is_none());

        let mut selective = claim("data", "1Gi", "");
        selective.spec.as_mut().unwrap().selector = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some([("disk".to_string(), "ssd".to_string())].into()),
                ..Default::default()
            },
        );
        assert!(
            find_match(&selective, [&rwo], BINDER, &none())
                .unwrap()
                .is_none()
        );
        let mut labelled = rwo.clone();
        labelled.metadata.labels = Some([("disk".to_string(), "ssd".to_string())].into());
        assert!(
            find_match(&selective, [&labelled], BINDER, &none())
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_prebound_volume_wins_even_when_bigger_or_delayed() {
        let c = claim("data", "1Gi", "fast");
        let mut pre = volume("reserved", "5Gi", "fast");
        pre.spec.as_mut().unwrap().claim_ref = Some(k8s_openapi::api::core::v1::ObjectReference {
            name: Some("data".into()),
            namespace: Some("default".into()),
            ..Default::default()
        });
        let small = volume("small", "1Gi", "fast");
        let delayed = Path::Binder {
            delay_binding: true,
        };
        for path in [BINDER, delayed] {
            let m = find_match(&c, [&small, &pre], path, &none())
                .unwrap()
                .unwrap();
            assert_eq!(m.metadata.name.as_deref(), Some("reserved"));
        }
        // A WaitForFirstConsumer claim gets no unbound volume from the binder.
        assert!(
            find_match(&c, [&small], delayed, &none())
                .unwrap()
                .is_none()
        );
        // A volume reserved for another claim UID is not this claim's.
        let mut other = pre.clone();
        other.spec.as_mut().unwrap().claim_ref.as_mut().unwrap().uid = Some("someone-else".into());
        assert!(find_match(&c, [&other], BINDER, &none()).unwrap().is_none());
    }

    #[test]
    fn the_scheduler_checks_node_affinity() {
        let c = claim("data", "1Gi", "local");
        let mut pinned = volume("pinned", "1Gi", "local");
        crate::volumes::tests::pin(&mut pinned, "node-b");
        let a = node("node-a");
        let b = node("node-b");
        assert!(
            find_match(&c, [&pinned], Path::Scheduler { node: &a }, &none())
                .unwrap()
                .is_none()
        );
        assert!(
            find_match(&c, [&pinned], Path::Scheduler { node: &b }, &none())
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn reasons_a_named_volume_does_not_fit() {
        let c = claim("data", "2Gi", "fast");
        assert_eq!(
            why_not_satisfied(&volume("v", "1Gi", "fast"), &c),
            Some("requested PV is too small")
        );
        assert_eq!(
            why_not_satisfied(&volume("v", "2Gi", "slow"), &c),
            Some("storageClassName does not match")
        );
        assert_eq!(why_not_satisfied(&volume("v", "2Gi", "fast"), &c), None);
    }
}
