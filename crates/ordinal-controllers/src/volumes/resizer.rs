//! Expansion of local-path volumes, as the external resizer does it for a
//! driver that needs no node-side step.
//!
//! The API server lets a bound claim's storage request grow only when its
//! class has `allowVolumeExpansion` (the PersistentVolumeClaimResize
//! admission plugin) and never below the size it has (validation). When a
//! claim of one of our classes asks for more than `status.capacity`, the
//! resizer
//!
//! 1. marks the claim: condition `Resizing`, `allocatedResources` the new
//!    size, `allocatedResourceStatuses` `ControllerResizeInProgress`
//!    (event `Resizing`);
//! 2. sets the volume's `spec.capacity`;
//! 3. finishes: `status.capacity` the new size, the resize conditions and
//!    status cleared (event `VolumeResizeSuccessful`).
//!
//! A directory has no size to change, so there is no
//! `FileSystemResizePending` step for the node agent.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimCondition,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use kube::api::Api;

use super::matching::claim_class;
use super::{
    ANN_PROVISIONED_BY, Caches, PROVISIONER, annotation, claim_phase, is_conflict_or_gone,
    reference,
};
use crate::runtime::{self, Next, Queue, Reconciler};
use ordinal_core::events::Recorder;
use ordinal_core::quantity;

const WORKERS: usize = 4;
const RESIZING: &str = "Resizing";
const FS_RESIZE_PENDING: &str = "FileSystemResizePending";

/// The size a claim should be expanded to, if it should: a bound claim of
/// a class of ours, on a volume of ours, requesting more than it has.
pub fn wanted_size(
    claim: &PersistentVolumeClaim,
    class: Option<&StorageClass>,
    volume: Option<&PersistentVolume>,
) -> Option<Quantity> {
    if claim_phase(claim) != "Bound" || class.is_none_or(|c| c.provisioner != PROVISIONER) {
        return None;
    }
    let volume = volume?;
    if annotation(&volume.metadata, ANN_PROVISIONED_BY) != Some(PROVISIONER) {
        return None;
    }
    let requested = claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")?;
    let has = quantity::bytes_or_zero(
        claim
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage")),
    );
    (quantity::bytes(requested)? > has).then(|| requested.clone())
}

struct Resizer {
    client: Client,
    caches: Caches,
    recorder: Recorder,
    queue: Arc<Queue<(String, String)>>,
}

/// Runs the resizer until `shutdown` completes.
pub async fn run(client: Client, caches: Caches, shutdown: impl Future<Output = ()> + Send) {
    let recorder = runtime::recorder(&client, &format!("external-resizer {PROVISIONER}"));
    let r = Arc::new(Resizer {
        client,
        caches,
        recorder,
        queue: Queue::new(),
    });
    let q = Arc::clone(&r.queue);
    r.caches.claims.on_change(Box::new(move |_, new| {
        if let Some(c) = new
            && claim_phase(c) == "Bound"
        {
            q.add((
                c.metadata.namespace.clone().unwrap_or_default(),
                c.metadata.name.clone().unwrap_or_default(),
            ));
        }
    }));
    let (ready, queue) = (r.caches.ready(), Arc::clone(&r.queue));
    runtime::drive(r, queue, WORKERS, ready, shutdown).await;
}

impl Reconciler for Resizer {
    type Key = (String, String);

    async fn reconcile(&self, (ns, name): &(String, String)) -> Next {
        self.sync(ns, name).await.into()
    }
}

fn set_condition(claim: &mut PersistentVolumeClaim, type_: &str) {
    let conditions = claim
        .status
        .get_or_insert_default()
        .conditions
        .get_or_insert_default();
    if conditions.iter().any(|c| c.type_ == type_) {
        return;
    }
    conditions.push(PersistentVolumeClaimCondition {
        type_: type_.into(),
        status: "True".into(),
        last_transition_time: Some(Time(jiff::Timestamp::now())),
        ..Default::default()
    });
}

impl Resizer {
    async fn sync(&self, ns: &str, name: &str) -> Result<(), String> {
        let Some(claim) = self.caches.claims.get(ns, name) else {
            return Ok(());
        };
        let class = self.caches.classes.get("", claim_class(&claim));
        let volume_name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        let volume = self.caches.volumes.get("", &volume_name);
        let Some(size) = wanted_size(&claim, class.as_deref(), volume.as_deref()) else {
            return Ok(());
        };
        let Some(volume) = volume else {
            return Ok(());
        };
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let err = |e: kube::Error| {
            if is_conflict_or_gone(&e) {
                format!("retry: {e}")
            } else {
                e.to_string()
            }
        };

        // 1. In progress.
        let mut c = (*claim).clone();
        set_condition(&mut c, RESIZING);
        let status = c.status.get_or_insert_default();
        status
            .allocated_resources
            .get_or_insert_default()
            .insert("storage".into(), size.clone());
        status
            .allocated_resource_statuses
            .get_or_insert_default()
            .insert("storage".into(), "ControllerResizeInProgress".into());
        let c = self
            .caches
            .claims
            .replace_status(&claims, &c)
            .await
            .map_err(err)?;
        self.recorder.normal(
            &reference(&c),
            "Resizing",
            format!("External resizer is resizing volume {volume_name}"),
        );

        // 2. The volume.
        let mut v = (*volume).clone();
        let capacity = v
            .spec
            .get_or_insert_default()
            .capacity
            .get_or_insert_default();
        if capacity.get("storage") != Some(&size) {
            capacity.insert("storage".into(), size.clone());
            self.caches
                .volumes
                .replace(&volumes, &v)
                .await
                .map_err(err)?;
        }

        // 3. Done.
        let mut c = c;
        let status = c.status.get_or_insert_default();
        status
            .capacity
            .get_or_insert_default()
            .insert("storage".into(), size);
        // Emptied lists and maps are left out, as Go's omitempty does.
        if let Some(conditions) = status.conditions.as_mut() {
            conditions.retain(|x| x.type_ != RESIZING && x.type_ != FS_RESIZE_PENDING);
        }
        if status.conditions.as_ref().is_some_and(Vec::is_empty) {
            status.conditions = None;
        }
        if let Some(statuses) = status.allocated_resource_statuses.as_mut() {
            statuses.remove("storage");
        }
        if status
            .allocated_resource_statuses
            .as_ref()
            .is_some_and(|s| s.is_empty())
        {
            status.allocated_resource_statuses = None;
        }
        let c = self
            .caches
            .claims
            .replace_status(&claims, &c)
            .await
            .map_err(err)?;
        self.recorder.normal(
            &reference(&c),
            "VolumeResizeSuccessful",
            "Resize volume succeeded",
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, volume};

    fn bound(request: &str, capacity: &str) -> PersistentVolumeClaim {
        let mut c = claim("data", request, "local-path");
        c.spec.as_mut().unwrap().volume_name = Some("pvc-1".into());
        let s = c.status.as_mut().unwrap();
        s.phase = Some("Bound".into());
        s.capacity = Some([("storage".to_string(), Quantity(capacity.into()))].into());
        c
    }

    fn ours() -> PersistentVolume {
        let mut v = volume("pvc-1", "1Gi", "local-path");
        v.metadata.annotations =
            Some([(ANN_PROVISIONED_BY.to_string(), PROVISIONER.to_string())].into());
        v
    }

    #[test]
    fn a_bound_claim_asking_for_more_is_expanded() {
        let sc = class("local-path", PROVISIONER, "WaitForFirstConsumer");
        let v = ours();
        assert_eq!(
            wanted_size(&bound("2Gi", "1Gi"), Some(&sc), Some(&v)),
            Some(Quantity("2Gi".into()))
        );
        assert_eq!(
            wanted_size(&bound("1024Mi", "1Gi"), Some(&sc), Some(&v)),
            None
        );
        assert_eq!(wanted_size(&bound("1Gi", "2Gi"), Some(&sc), Some(&v)), None);
        // Not ours: another provisioner's class, or a static volume.
        let nfs = class("local-path", "example.com/nfs", "Immediate");
        assert_eq!(
            wanted_size(&bound("2Gi", "1Gi"), Some(&nfs), Some(&v)),
            None
        );
        let stat = volume("pvc-1", "1Gi", "local-path");
        assert_eq!(
            wanted_size(&bound("2Gi", "1Gi"), Some(&sc), Some(&stat)),
            None
        );
        let mut pending = bound("2Gi", "1Gi");
        pending.status.as_mut().unwrap().phase = Some("Pending".into());
        assert_eq!(wanted_size(&pending, Some(&sc), Some(&v)), None);
    }

    #[test]
    fn conditions_are_added_once() {
        let mut c = bound("2Gi", "1Gi");
        set_condition(&mut c, RESIZING);
        set_condition(&mut c, RESIZING);
        assert_eq!(c.status.unwrap().conditions.unwrap().len(), 1);
    }
}
