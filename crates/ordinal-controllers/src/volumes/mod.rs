//! Persistent volumes on one machine: the controllers that make a claim's
//! storage real, all through the Kubernetes API.
//!
//! - [`pv_controller`] (with the pure [`binder`] and [`matching`]): binds
//!   claims and volumes as upstream's PersistentVolume controller does —
//!   phases, static volumes matched by class, access modes, capacity,
//!   selector and volume mode, pre-bound objects, the retroactive default
//!   class, hand-over to a class's provisioner, release and reclaim;
//! - [`provisioner`]: the local-path provisioner `ordinal.dev/local-path`,
//!   a directory per volume, and its deleter;
//! - [`protection`]: removes the `kubernetes.io/pvc-protection` and
//!   `kubernetes.io/pv-protection` finalizers (the API server adds them on
//!   create) once nothing uses the object;
//! - [`resizer`]: expansion of bound local-path claims;
//! - [`default_class`]: the StorageClass `local-path`, created at start-up.
//!
//! These belong to the single-machine `ordinal up` ([`crate::run_all`] with a [`crate::LocalConfig`]);
//! a real cluster has its own.

pub(crate) mod binder;
pub(crate) mod default_class;
pub(crate) mod matching;
pub(crate) mod protection;
pub(crate) mod provisioner;
pub(crate) mod pv_controller;
pub(crate) mod resizer;

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::informer::{Informer, Informers};

/// On a claim: the binding completed once (the claim may be Lost later,
/// never Pending).
pub(crate) const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// On a volume or claim: the controller, not the user, made the binding.
pub(crate) const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On a claim: the node the scheduler chose for its first consumer.
pub(crate) const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// On a volume: the provisioner that made it.
pub(crate) const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// On a claim: the provisioner asked to make its volume.
pub(crate) const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub(crate) const ANN_BETA_STORAGE_PROVISIONER: &str =
    "volume.beta.kubernetes.io/storage-provisioner";
/// The class annotation that preceded `storageClassName` (still read first).
pub(crate) const ANN_BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// On a StorageClass: claims without a class get this one.
pub(crate) const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
pub(crate) const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// Keeps a claim while a pod uses it.
pub(crate) const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// Keeps a volume while it is bound.
pub(crate) const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
/// Keeps a provisioned volume until its provisioner deleted the storage
/// (upstream's external-provisioner finalizer, HonorPVReclaimPolicy).
pub(crate) const PROVISIONER_FINALIZER: &str =
    "external-provisioner.volume.kubernetes.io/finalizer";

/// The local-path provisioner's name.
pub(crate) const PROVISIONER: &str = "ordinal.dev/local-path";
/// The StorageClass created at start-up.
pub(crate) const DEFAULT_CLASS: &str = "local-path";

/// Where the local-path provisioner may keep volumes.
#[derive(Debug, Clone)]
pub struct Config {
    /// The default base directory: `<data-dir>/volumes` in `ordinal up`.
    pub volumes_dir: PathBuf,
    /// Directories under which a StorageClass's `basePath` parameter may
    /// point (the data dir, and what `ordinal up --volume-root` adds).
    pub allowed_roots: Vec<PathBuf>,
    /// The node on this machine (the node agent names its Node after the
    /// host): the node affinity of volumes provisioned for Immediate
    /// classes, when that Node exists.
    pub local_node: String,
}

/// A key of the volume controllers' queues.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Claim(String, String),
    Volume(String),
}

impl Key {
    pub(crate) fn claim(claim: &PersistentVolumeClaim) -> Key {
        Key::Claim(
            claim.metadata.namespace.clone().unwrap_or_default(),
            claim.metadata.name.clone().unwrap_or_default(),
        )
    }

    pub(crate) fn volume(volume: &PersistentVolume) -> Key {
        Key::Volume(volume.metadata.name.clone().unwrap_or_default())
    }
}

/// The caches the volume controllers and the scheduler share.
#[derive(Clone)]
pub(crate) struct Caches {
    pub claims: Arc<Informer<PersistentVolumeClaim>>,
    pub volumes: Arc<Informer<PersistentVolume>>,
    pub classes: Arc<Informer<StorageClass>>,
    pub pods: Arc<Informer<Pod>>,
    pub nodes: Arc<Informer<Node>>,
}

impl Caches {
    /// The shared informers these controllers read.
    pub fn new(informers: &Informers) -> Caches {
        Caches {
            claims: informers.get(),
            volumes: informers.get(),
            classes: informers.get(),
            pods: informers.get(),
            nodes: informers.get(),
        }
    }

    /// Completes once every cache has listed (an owned future, for
    /// [`crate::runtime::drive`]).
    pub fn ready(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let caches = self.clone();
        async move { caches.synced().await }
    }

    /// Waits for every first list.
    pub async fn synced(&self) {
        self.claims.synced().await;
        self.volumes.synced().await;
        self.classes.synced().await;
        self.pods.synced().await;
        self.nodes.synced().await;
    }

    /// The default StorageClass: among classes marked default, the newest,
    /// ties broken by name (as the DefaultStorageClass admission plugin).
    pub fn default_class(&self) -> Option<String> {
        let classes = self.classes.list();
        classes
            .iter()
            .filter(|c| is_default_class(&c.metadata))
            .max_by(|a, b| {
                let t = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
                t(a).cmp(&t(b))
                    .then_with(|| b.metadata.name.cmp(&a.metadata.name))
            })
            .and_then(|c| c.metadata.name.clone())
    }
}

fn is_default_class(meta: &ObjectMeta) -> bool {
    meta.annotations.as_ref().is_some_and(|a| {
        a.get(ANN_DEFAULT_CLASS).map(String::as_str) == Some("true")
            || a.get(ANN_BETA_DEFAULT_CLASS).map(String::as_str) == Some("true")
    })
}

pub(crate) fn has_annotation(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(key))
}

pub(crate) fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

pub(crate) fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// A volume's class: the beta annotation first, then
/// `spec.storageClassName`.
pub(crate) fn volume_class(volume: &PersistentVolume) -> &str {
    if let Some(c) = annotation(&volume.metadata, ANN_BETA_CLASS) {
        return c;
    }
    volume
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// A volume's phase, `""` when unset.
pub(crate) fn volume_phase(volume: &PersistentVolume) -> &str {
    volume
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// A claim's phase, `""` when unset.
pub(crate) fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The names of the claims a pod's volumes use.
pub(crate) fn pod_claims(pod: &Pod) -> impl Iterator<Item = String> + '_ {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(move |v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                // A generic ephemeral volume's claim is `<pod>-<volume>`.
                v.ephemeral.as_ref().map(|_| format!("{name}-{}", v.name))
            }
        })
}

/// An ObjectReference for events and claimRefs.
pub(crate) use crate::runtime::reference;

/// Whether an API error is a 409 or 404: another writer got there first;
/// the next sync sees why.
pub(crate) fn is_conflict_or_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 || s.code == 404)
}

#[cfg(test)]
pub(crate) mod tests {
    //! Fixtures for the volume and scheduler tests.

    use k8s_openapi::api::core::v1::{
        HostPathVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
        ObjectReference, PersistentVolumeClaimSpec, PersistentVolumeSpec, PersistentVolumeStatus,
        VolumeNodeAffinity, VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;

    pub fn claim(name: &str, size: &str, class: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some([("storage".to_string(), Quantity(size.into()))].into()),
                    ..Default::default()
                }),
                storage_class_name: Some(class.into()),
                volume_mode: Some("Filesystem".into()),
                ..Default::default()
            }),
            status: Some(Default::default()),
        }
    }

    pub fn volume(name: &str, size: &str, class: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                capacity: Some([("storage".to_string(), Quantity(size.into()))].into()),
                storage_class_name: Some(class.into()),
                host_path: Some(HostPathVolumeSource {
                    path: format!("/srv/{name}"),
                    type_: None,
                }),
                persistent_volume_reclaim_policy: Some("Retain".into()),
                volume_mode: Some("Filesystem".into()),
                ..Default::default()
            }),
            status: Some(PersistentVolumeStatus {
                phase: Some("Available".into()),
                ..Default::default()
            }),
        }
    }

    /// Points the volume's claimRef at `claim` (with a UID or not).
    pub fn prebind(volume: &mut PersistentVolume, claim: &str, uid: Option<&str>) {
        volume.spec.as_mut().unwrap().claim_ref = Some(ObjectReference {
            name: Some(claim.into()),
            namespace: Some("default".into()),
            uid: uid.map(Into::into),
            ..Default::default()
        });
    }

    /// Gives the volume node affinity to `node` (by hostname label).
    pub fn pin(volume: &mut PersistentVolume, node: &str) {
        volume.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "kubernetes.io/hostname".into(),
                        operator: "In".into(),
                        values: Some(vec![node.into()]),
                    }]),
                    match_fields: None,
                }],
            }),
        });
    }

    pub fn class(name: &str, provisioner: &str, mode: &str) -> StorageClass {
        StorageClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            provisioner: provisioner.into(),
            volume_binding_mode: Some(mode.into()),
            reclaim_policy: Some("Delete".into()),
            ..Default::default()
        }
    }

    /// Pod `default/web-0`, on `node` when given, with a volume for each
    /// of `claims`.
    pub fn pod(node: Option<&str>, claims: &[&str]) -> Pod {
        use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, PodSpec, Volume};
        Pod {
            metadata: ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(Into::into),
                volumes: Some(
                    claims
                        .iter()
                        .map(|c| Volume {
                            name: format!("v-{c}"),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: c.to_string(),
                                read_only: None,
                            }),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// A Ready node labelled with its hostname.
    pub fn node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
                ..Default::default()
            },
            spec: Some(Default::default()),
            status: Some(k8s_openapi::api::core::v1::NodeStatus {
                conditions: Some(vec![k8s_openapi::api::core::v1::NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                // Room for a kubelet's default of pods, 4 CPUs, 8 GiB.
                allocatable: Some(
                    [("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                        .collect(),
                ),
                ..Default::default()
            }),
        }
    }
}
