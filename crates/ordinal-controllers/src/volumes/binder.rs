//! The binder's decisions, pure: what one sync of a claim or a volume
//! should do, as upstream's PersistentVolume controller decides it
//! (`pkg/controller/volume/persistentvolume/pv_controller.go`). The
//! driver ([`super::pv_controller`]) carries the steps out.
//!
//! The binding is two pointers: the volume's `spec.claimRef` and the
//! claim's `spec.volumeName`, written volume first. A claim is "bound"
//! once it carries `pv.kubernetes.io/bind-completed`; from then on a
//! missing volume or a volume bound elsewhere makes it Lost, never Pending
//! again.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

use super::matching::{self, Path};
use super::{
    ANN_BETA_CLASS, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, has_annotation,
};

/// What the binder knows about a claim's class.
pub enum Class<'a> {
    /// The claim names no class.
    None,
    /// The claim names a class that does not exist.
    Missing(&'a str),
    Found(&'a StorageClass),
}

impl Class<'_> {
    fn delay_binding(&self) -> bool {
        matches!(self, Class::Found(c) if c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }
}

/// What a claim sync should do.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimStep {
    /// Give a claim without a class the default class (the retroactive
    /// default StorageClass assignment).
    AssignDefaultClass(String),
    /// Bind the claim and this volume (each of the four writes only if
    /// needed).
    Bind(String),
    /// Hand the claim to the class's (external) provisioner: annotate it
    /// and say so in an event.
    Provision { provisioner: String },
    /// Keep the claim Pending, with an event when there is one to tell.
    Pending(Option<Note>),
    /// The claim lost its volume: Lost, with a warning the first time.
    Lost(Note),
}

/// An event: type, reason, message.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Note {
    fn normal(reason: &'static str, message: impl Into<String>) -> Note {
        Note {
            warning: false,
            reason,
            message: message.into(),
        }
    }

    fn warning(reason: &'static str, message: impl Into<String>) -> Note {
        Note {
            warning: true,
            reason,
            message: message.into(),
        }
    }
}

/// What the binder sees around a claim.
pub struct ClaimView<'a> {
    pub volumes: &'a [&'a PersistentVolume],
    pub class: Class<'a>,
    /// The default StorageClass, if one is marked.
    pub default_class: Option<&'a str>,
    /// Pods using the claim that no node has been chosen for.
    pub unscheduled_pods: Vec<String>,
}

/// Whether the claim's class was left unset (not `""`), so the default
/// class may still be assigned.
fn class_unset(claim: &PersistentVolumeClaim) -> bool {
    !has_annotation(&claim.metadata, ANN_BETA_CLASS)
        && claim
            .spec
            .as_ref()
            .is_none_or(|s| s.storage_class_name.is_none())
}

fn volume_name(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
}

fn find<'a>(view: &ClaimView<'a>, name: &str) -> Option<&'a PersistentVolume> {
    view.volumes
        .iter()
        .copied()
        .find(|v| v.metadata.name.as_deref() == Some(name))
}

/// One sync of a claim (`syncClaim`).
pub fn sync_claim(
    claim: &PersistentVolumeClaim,
    view: &ClaimView<'_>,
) -> Result<ClaimStep, String> {
    if has_annotation(&claim.metadata, ANN_BIND_COMPLETED) {
        Ok(sync_bound_claim(claim, view))
    } else {
        sync_unbound_claim(claim, view)
    }
}

fn sync_unbound_claim(
    claim: &PersistentVolumeClaim,
    view: &ClaimView<'_>,
) -> Result<ClaimStep, String> {
    let wanted = volume_name(claim);
    if wanted.is_empty() {
        let delay = view.class.delay_binding();
        let found = matching::find_match(
            claim,
            view.volumes.iter().copied(),
            Path::Binder {
                delay_binding: delay && !has_annotation(&claim.metadata, ANN_SELECTED_NODE),
            },
            &HashSet::new(),
        )?;
        if let Some(volume) = found {
            return Ok(ClaimStep::Bind(
                volume.metadata.name.clone().unwrap_or_default(),
            ));
        }
        if class_unset(claim)
            && let Some(default) = view.default_class
        {
            return Ok(ClaimStep::AssignDefaultClass(default.to_string()));
        }
        if delay && !has_annotation(&claim.metadata, ANN_SELECTED_NODE) {
            let note = match view.unscheduled_pods.as_slice() {
                [] => Note::normal(
                    "WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding",
                ),
                [one] => Note::normal(
                    "WaitForPodScheduled",
                    format!("waiting for pod {one} to be scheduled"),
                ),
                many => Note::normal(
                    "WaitForPodScheduled",
                    format!("waiting for pods {} to be scheduled", many.join(",")),
                ),
            };
            return Ok(ClaimStep::Pending(Some(note)));
        }
        return Ok(match &view.class {
            Class::Found(class) => ClaimStep::Provision {
                provisioner: class.provisioner.clone(),
            },
            Class::Missing(name) => ClaimStep::Pending(Some(Note::warning(
                "ProvisioningFailed",
                format!("storageclass.storage.k8s.io \"{name}\" not found"),
            ))),
            Class::None => ClaimStep::Pending(Some(Note::normal(
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            ))),
        });
    }
    // The user asked for a particular volume.
    let Some(volume) = find(view, wanted) else {
        return Ok(ClaimStep::Pending(None));
    };
    let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    if claim_ref.is_none() {
        return Ok(match matching::why_not_satisfied(volume, claim) {
            Some(why) => ClaimStep::Pending(Some(Note::warning(
                "VolumeMismatch",
                format!("Cannot bind to requested volume \"{wanted}\": {why}"),
            ))),
            None => ClaimStep::Bind(wanted.to_string()),
        });
    }
    if matching::is_bound_to(volume, claim) {
        return Ok(ClaimStep::Bind(wanted.to_string()));
    }
    if !has_annotation(&claim.metadata, ANN_BOUND_BY_CONTROLLER) {
        // Pre-bound by the user to a volume someone else holds: wait.
        return Ok(ClaimStep::Pending(None));
    }
    Err(format!(
        "invalid binding of claim to volume \"{wanted}\": volume already claimed by another claim"
    ))
}

fn sync_bound_claim(claim: &PersistentVolumeClaim, view: &ClaimView<'_>) -> ClaimStep {
    let wanted = volume_name(claim);
    if wanted.is_empty() {
        return ClaimStep::Lost(Note::warning(
            "ClaimLost",
            "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
        ));
    }
    let Some(volume) = find(view, wanted) else {
        return ClaimStep::Lost(Note::warning(
            "ClaimLost",
            "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
        ));
    };
    let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    match claim_ref {
        None => ClaimStep::Bind(wanted.to_string()),
        Some(r) if r.uid.as_deref() == claim.metadata.uid.as_deref() => {
            ClaimStep::Bind(wanted.to_string())
        }
        Some(_) => ClaimStep::Lost(Note::warning(
            "ClaimMisbound",
            "Two claims are bound to the same volume, this one is bound incorrectly",
        )),
    }
}

/// What a volume sync should do.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeStep {
    /// Make the phase this (Available, Bound), if it is not already.
    Phase(&'static str),
    /// The claim side is not written yet: sync that claim.
    SyncClaim { namespace: String, name: String },
    /// The claim is gone: Released (if not Released or Failed yet), then
    /// the reclaim policy.
    Release,
    /// Undo a binding the controller made (the claim went to another
    /// volume): drop the claimRef (or only its UID for a user's
    /// pre-binding), Available again.
    Unbind,
    /// The claim and the volume disagree on the volume mode.
    ModeMismatch { claim: String },
}

/// The claim a volume's claimRef finds, as the binder sees it.
pub enum ClaimLookup<'a> {
    Found(&'a PersistentVolumeClaim),
    Missing,
}

/// One sync of a volume (`syncVolume`).
pub fn sync_volume(volume: &PersistentVolume, claim: ClaimLookup<'_>) -> VolumeStep {
    let Some(claim_ref) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return VolumeStep::Phase("Available");
    };
    let ref_uid = claim_ref.uid.as_deref().unwrap_or("");
    if ref_uid.is_empty() {
        // Reserved for a claim that has not bound yet.
        return VolumeStep::Phase("Available");
    }
    let claim = match claim {
        ClaimLookup::Found(c) if c.metadata.uid.as_deref() == Some(ref_uid) => c,
        // Gone, or replaced by a claim of the same name.
        _ => return VolumeStep::Release,
    };
    let name = volume.metadata.name.as_deref().unwrap_or("");
    let wanted = volume_name(claim);
    if wanted.is_empty() {
        if matching::volume_mode_mismatch(claim, volume) {
            return VolumeStep::ModeMismatch {
                claim: claim.metadata.name.clone().unwrap_or_default(),
            };
        }
        return VolumeStep::SyncClaim {
            namespace: claim.metadata.namespace.clone().unwrap_or_default(),
            name: claim.metadata.name.clone().unwrap_or_default(),
        };
    }
    if wanted == name {
        return VolumeStep::Phase("Bound");
    }
    // The claim went to another volume.
    let provisioned = has_annotation(&volume.metadata, super::ANN_PROVISIONED_BY);
    let delete = volume
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        == Some("Delete");
    if provisioned && delete {
        VolumeStep::Release
    } else {
        VolumeStep::Unbind
    }
}

/// What reclaiming a released volume means for its policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Reclaim {
    /// Retain: nothing; the volume stays Released.
    Keep,
    /// Delete of a volume an external provisioner made: that provisioner
    /// deletes it.
    LeaveToProvisioner,
    /// The volume cannot be reclaimed: Failed, with this warning.
    Fail(Note),
}

/// `reclaimVolume` for the policies and plugins ordinal has.
pub fn reclaim(volume: &PersistentVolume) -> Reclaim {
    let name = volume.metadata.name.as_deref().unwrap_or("");
    match volume
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain")
    {
        "Retain" => Reclaim::Keep,
        "Delete" if has_annotation(&volume.metadata, super::ANN_PROVISIONED_BY) => {
            Reclaim::LeaveToProvisioner
        }
        "Delete" => Reclaim::Fail(Note::warning(
            "VolumeFailedDelete",
            format!(
                "error getting deleter volume plugin for volume \"{name}\": no deletable volume plugin matched"
            ),
        )),
        "Recycle" => Reclaim::Fail(Note::warning(
            "VolumeFailedRecycle",
            "No recycler plugin found for the volume!",
        )),
        _ => Reclaim::Fail(Note::warning(
            "VolumeUnknownReclaimPolicy",
            "Volume has unrecognized PersistentVolumeReclaimPolicy",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, prebind, volume};

    fn view<'a>(volumes: &'a [&'a PersistentVolume], class: Class<'a>) -> ClaimView<'a> {
        ClaimView {
            volumes,
            class,
            default_class: None,
            unscheduled_pods: Vec::new(),
        }
    }

    #[test]
    fn an_unbound_claim_binds_to_a_matching_static_volume() {
        let c = claim("data", "1Gi", "manual");
        let v = volume("pv1", "5Gi", "manual");
        let sc = class("manual", "kubernetes.io/no-provisioner", "Immediate");
        assert_eq!(
            sync_claim(&c, &view(&[&v], Class::Found(&sc))),
            Ok(ClaimStep::Bind("pv1".into()))
        );
    }

    #[test]
    fn without_a_match_the_class_decides() {
        let c = claim("data", "1Gi", "fast");
        let sc = class("fast", "ordinal.dev/local-path", "Immediate");
        assert_eq!(
            sync_claim(&c, &view(&[], Class::Found(&sc))),
            Ok(ClaimStep::Provision {
                provisioner: "ordinal.dev/local-path".into()
            })
        );
        let ClaimStep::Pending(Some(note)) =
            sync_claim(&c, &view(&[], Class::Missing("fast"))).unwrap()
        else {
            panic!("pending expected");
        };
        assert!(note.warning);
        assert_eq!(note.reason, "ProvisioningFailed");
        assert_eq!(
            note.message,
            "storageclass.storage.k8s.io \"fast\" not found"
        );
        let mut classless = claim("data", "1Gi", "");
        classless.spec.as_mut().unwrap().storage_class_name = Some(String::new());
        let ClaimStep::Pending(Some(note)) =
            sync_claim(&classless, &view(&[], Class::None)).unwrap()
        else {
            panic!("pending expected");
        };
        assert_eq!(note.reason, "FailedBinding");
    }

    #[test]
    fn wait_for_first_consumer_waits_until_a_node_is_selected() {
        let c = claim("data", "1Gi", "local-path");
        let sc = class(
            "local-path",
            "ordinal.dev/local-path",
            "WaitForFirstConsumer",
        );
        let mut v = view(&[], Class::Found(&sc));
        let ClaimStep::Pending(Some(note)) = sync_claim(&c, &v).unwrap() else {
            panic!("pending expected");
        };
        assert_eq!(note.reason, "WaitForFirstConsumer");
        v.unscheduled_pods = vec!["web-0".into()];
        let ClaimStep::Pending(Some(note)) = sync_claim(&c, &v).unwrap() else {
            panic!("pending expected");
        };
        assert_eq!(note.message, "waiting for pod web-0 to be scheduled");
        let mut selected = c.clone();
        selected
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(ANN_SELECTED_NODE.into(), "node-1".into());
        assert!(matches!(
            sync_claim(&selected, &v),
            Ok(ClaimStep::Provision { .. })
        ));
        // A static volume is not bound by the binder for such a claim.
        let pv = volume("pv1", "1Gi", "local-path");
        let vols = [&pv];
        let v = view(&vols, Class::Found(&sc));
        assert!(matches!(sync_claim(&c, &v), Ok(ClaimStep::Pending(_))));
    }

    #[test]
    fn a_claim_without_class_gets_the_default_one() {
        let mut c = claim("data", "1Gi", "");
        c.spec.as_mut().unwrap().storage_class_name = None;
        let mut v = view(&[], Class::None);
        v.default_class = Some("local-path");
        assert_eq!(
            sync_claim(&c, &v),
            Ok(ClaimStep::AssignDefaultClass("local-path".into()))
        );
        // An explicit "" means no class, never the default.
        c.spec.as_mut().unwrap().storage_class_name = Some(String::new());
        assert!(matches!(sync_claim(&c, &v), Ok(ClaimStep::Pending(_))));
    }

    #[test]
    fn a_claim_naming_its_volume() {
        let mut c = claim("data", "1Gi", "");
        c.spec.as_mut().unwrap().volume_name = Some("pv1".into());
        assert_eq!(
            sync_claim(&c, &view(&[], Class::None)),
            Ok(ClaimStep::Pending(None))
        );
        let small = volume("pv1", "100Mi", "");
        let ClaimStep::Pending(Some(note)) = sync_claim(&c, &view(&[&small], Class::None)).unwrap()
        else {
            panic!("pending expected");
        };
        assert_eq!(note.reason, "VolumeMismatch");
        assert_eq!(
            note.message,
            "Cannot bind to requested volume \"pv1\": requested PV is too small"
        );
        let fits = volume("pv1", "1Gi", "");
        assert_eq!(
            sync_claim(&c, &view(&[&fits], Class::None)),
            Ok(ClaimStep::Bind("pv1".into()))
        );
        let mut taken = fits.clone();
        prebind(&mut taken, "other", Some("uid-other"));
        assert_eq!(
            sync_claim(&c, &view(&[&taken], Class::None)),
            Ok(ClaimStep::Pending(None))
        );
    }

    #[test]
    fn a_bound_claim_whose_volume_is_gone_is_lost() {
        let mut c = claim("data", "1Gi", "");
        c.spec.as_mut().unwrap().volume_name = Some("pv1".into());
        c.metadata
            .annotations
            .get_or_insert_default()
            .insert(ANN_BIND_COMPLETED.into(), "yes".into());
        let ClaimStep::Lost(note) = sync_claim(&c, &view(&[], Class::None)).unwrap() else {
            panic!("lost expected");
        };
        assert_eq!(note.reason, "ClaimLost");
        let mut v = volume("pv1", "1Gi", "");
        prebind(&mut v, "data", Some("uid-data"));
        assert_eq!(
            sync_claim(&c, &view(&[&v], Class::None)),
            Ok(ClaimStep::Bind("pv1".into()))
        );
        prebind(&mut v, "data", Some("another-uid"));
        let ClaimStep::Lost(note) = sync_claim(&c, &view(&[&v], Class::None)).unwrap() else {
            panic!("lost expected");
        };
        assert_eq!(note.reason, "ClaimMisbound");
    }

    #[test]
    fn volume_phases_follow_the_claim() {
        let v = volume("pv1", "1Gi", "");
        assert_eq!(
            sync_volume(&v, ClaimLookup::Missing),
            VolumeStep::Phase("Available")
        );
        let mut reserved = v.clone();
        prebind(&mut reserved, "data", None);
        assert_eq!(
            sync_volume(&reserved, ClaimLookup::Missing),
            VolumeStep::Phase("Available")
        );

        let mut c = claim("data", "1Gi", "");
        let mut bound = v.clone();
        prebind(&mut bound, "data", Some("uid-data"));
        assert_eq!(
            sync_volume(&bound, ClaimLookup::Found(&c)),
            VolumeStep::SyncClaim {
                namespace: "default".into(),
                name: "data".into()
            }
        );
        c.spec.as_mut().unwrap().volume_name = Some("pv1".into());
        assert_eq!(
            sync_volume(&bound, ClaimLookup::Found(&c)),
            VolumeStep::Phase("Bound")
        );
        assert_eq!(
            sync_volume(&bound, ClaimLookup::Missing),
            VolumeStep::Release
        );
        let mut recreated = c.clone();
        recreated.metadata.uid = Some("new-uid".into());
        assert_eq!(
            sync_volume(&bound, ClaimLookup::Found(&recreated)),
            VolumeStep::Release
        );
        c.spec.as_mut().unwrap().volume_name = Some("pv2".into());
        assert_eq!(
            sync_volume(&bound, ClaimLookup::Found(&c)),
            VolumeStep::Unbind
        );
    }

    #[test]
    fn reclaim_policies() {
        let mut v = volume("pv1", "1Gi", "");
        v.spec.as_mut().unwrap().persistent_volume_reclaim_policy = Some("Retain".into());
        assert_eq!(reclaim(&v), Reclaim::Keep);
        v.spec.as_mut().unwrap().persistent_volume_reclaim_policy = Some("Delete".into());
        assert!(matches!(reclaim(&v), Reclaim::Fail(n) if n.reason == "VolumeFailedDelete"));
        v.metadata.annotations.get_or_insert_default().insert(
            super::super::ANN_PROVISIONED_BY.into(),
            "ordinal.dev/local-path".into(),
        );
        assert_eq!(reclaim(&v), Reclaim::LeaveToProvisioner);
        v.spec.as_mut().unwrap().persistent_volume_reclaim_policy = Some("Recycle".into());
        assert!(matches!(reclaim(&v), Reclaim::Fail(n) if n.reason == "VolumeFailedRecycle"));
    }
}
