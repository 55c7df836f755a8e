//! Storage object in-use protection: the controllers behind the
//! `kubernetes.io/pvc-protection` and `kubernetes.io/pv-protection`
//! finalizers (upstream's `pvcprotection` and `pvprotection`).
//!
//! The API server adds the finalizers when a claim or a volume is created
//! (the StorageObjectInUseProtection admission plugin); these controllers
//! add them to objects that predate that, and remove them from objects
//! being deleted once nothing uses them:
//!
//! - a claim is in use while a pod that a node was chosen for names it
//!   (pods not scheduled yet do not count: the node agent never starts a
//!   pod whose claim is being deleted). The cache is asked first; before a
//!   claim is let go, a live list of the namespace's pods confirms it.
//! - a volume is in use while it is Bound.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::Client;
use kube::api::{Api, ListParams};

use super::{
    Caches, Key, PV_PROTECTION, PVC_PROTECTION, has_finalizer, is_conflict_or_gone, pod_claims,
    volume_phase,
};
use crate::runtime::{self, Next, Queue, Reconciler};

const WORKERS: usize = 4;

/// Whether `pod` keeps the claim `claim` (of the pod's namespace).
pub fn pod_uses_claim(pod: &Pod, claim: &str) -> bool {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    scheduled && pod_claims(pod).any(|c| c == claim)
}

/// What the protection controller does with an object's finalizer.
#[derive(Debug, PartialEq, Eq)]
pub enum FinalizerStep {
    Nothing,
    Add,
    /// Remove it, if nothing uses the object.
    RemoveIfUnused,
}

/// `NeedToAddFinalizer` / `IsDeletionCandidate`.
pub fn finalizer_step(meta: &kube::api::ObjectMeta, finalizer: &str) -> FinalizerStep {
    let has = has_finalizer(meta, finalizer);
    match (meta.deletion_timestamp.is_some(), has) {
        (true, true) => FinalizerStep::RemoveIfUnused,
        (false, false) => FinalizerStep::Add,
        _ => FinalizerStep::Nothing,
    }
}

/// A volume is in use while Bound.
pub fn volume_in_use(volume: &PersistentVolume) -> bool {
    volume_phase(volume) == "Bound"
}

struct Protection {
    client: Client,
    caches: Caches,
    queue: Arc<Queue<Key>>,
}

/// Runs both protection controllers until `shutdown` completes.
pub async fn run(client: Client, caches: Caches, shutdown: impl Future<Output = ()> + Send) {
    let p = Arc::new(Protection {
        client,
        caches,
        queue: Queue::new(),
    });
    p.watch();
    let (ready, queue) = (p.caches.ready(), Arc::clone(&p.queue));
    runtime::drive(p, queue, WORKERS, ready, shutdown).await;
}

impl Reconciler for Protection {
    type Key = Key;

    async fn reconcile(&self, key: &Key) -> Next {
        match key {
            Key::Claim(ns, name) => self.sync_claim(ns, name).await,
            Key::Volume(name) => self.sync_volume(name).await,
        }
        .into()
    }
}

impl Protection {
    fn watch(self: &Arc<Self>) {
        let q = Arc::clone(&self.queue);
        self.caches.claims.on_change(Box::new(move |_, new| {
            if let Some(c) = new
                && finalizer_step(&c.metadata, PVC_PROTECTION) != FinalizerStep::Nothing
            {
                q.add(Key::claim(c));
            }
        }));
        let q = Arc::clone(&self.queue);
        self.caches.volumes.on_change(Box::new(move |_, new| {
            if let Some(v) = new
                && finalizer_step(&v.metadata, PV_PROTECTION) != FinalizerStep::Nothing
            {
                q.add(Key::volume(v));
            }
        }));
        // A pod that goes (or changes) may free the claims it used.
        let q = Arc::clone(&self.queue);
        let claims = Arc::clone(&self.caches.claims);
        self.caches.pods.on_change(Box::new(move |old, new| {
            for pod in [old, new].into_iter().flatten() {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                for name in pod_claims(pod) {
                    if claims
                        .get(&ns, &name)
                        .is_some_and(|c| c.metadata.deletion_timestamp.is_some())
                    {
                        q.add(Key::Claim(ns.clone(), name));
                    }
                }
            }
        }));
    }

    async fn claim_in_use(&self, claim: &PersistentVolumeClaim) -> Result<bool, String> {
        let ns = claim.metadata.namespace.as_deref().unwrap_or("");
        let name = claim.metadata.name.as_deref().unwrap_or("");
        if self
            .caches
            .pods
            .list_namespace(ns)
            .iter()
            .any(|p| pod_uses_claim(p, name))
        {
            return Ok(true);
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let live = crate::tolerant::list(&pods, &ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(live.iter().any(|p| pod_uses_claim(p, name)))
    }

    async fn sync_claim(&self, ns: &str, name: &str) -> Result<(), String> {
        let Some(claim) = self.caches.claims.get(ns, name) else {
            return Ok(());
        };
        let mut c = (*claim).clone();
        match finalizer_step(&claim.metadata, PVC_PROTECTION) {
            FinalizerStep::Nothing => return Ok(()),
            FinalizerStep::Add => c
                .metadata
                .finalizers
                .get_or_insert_default()
                .push(PVC_PROTECTION.into()),
            FinalizerStep::RemoveIfUnused => {
                if self.claim_in_use(&claim).await? {
                    tracing::debug!(claim = %name, "keeping a claim a pod uses");
                    return Ok(());
                }
                if let Some(f) = c.metadata.finalizers.as_mut() {
                    f.retain(|x| x != PVC_PROTECTION);
                }
            }
        }
        // The update that drops the last finalizer removes the object and
        // answers with it: the cache lets it go.
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        finish(self.caches.claims.replace(&api, &c).await)
    }

    async fn sync_volume(&self, name: &str) -> Result<(), String> {
        let Some(volume) = self.caches.volumes.get("", name) else {
            return Ok(());
        };
        let mut v = (*volume).clone();
        match finalizer_step(&volume.metadata, PV_PROTECTION) {
            FinalizerStep::Nothing => return Ok(()),
            FinalizerStep::Add => v
                .metadata
                .finalizers
                .get_or_insert_default()
                .push(PV_PROTECTION.into()),
            FinalizerStep::RemoveIfUnused => {
                if volume_in_use(&volume) {
                    return Ok(());
                }
                if let Some(f) = v.metadata.finalizers.as_mut() {
                    f.retain(|x| x != PV_PROTECTION);
                }
            }
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        finish(self.caches.volumes.replace(&api, &v).await)
    }
}

/// A protection write's outcome: a conflict or a vanished object is
/// settled by the next change.
fn finish<K>(written: kube::Result<K>) -> Result<(), String> {
    match written {
        Ok(_) => Ok(()),
        Err(e) if is_conflict_or_gone(&e) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(node: Option<&str>, claim: &str) -> Pod {
        crate::volumes::tests::pod(node, &[claim])
    }

    #[test]
    fn only_scheduled_pods_keep_a_claim() {
        assert!(pod_uses_claim(&pod(Some("n"), "data-web-0"), "data-web-0"));
        assert!(!pod_uses_claim(&pod(None, "data-web-0"), "data-web-0"));
        assert!(!pod_uses_claim(&pod(Some("n"), "data-web-1"), "data-web-0"));
    }

    #[test]
    fn finalizers_are_added_to_live_objects_and_removed_from_dying_ones() {
        let mut meta = kube::api::ObjectMeta::default();
        assert_eq!(finalizer_step(&meta, PVC_PROTECTION), FinalizerStep::Add);
        meta.finalizers = Some(vec![PVC_PROTECTION.into()]);
        assert_eq!(
            finalizer_step(&meta, PVC_PROTECTION),
            FinalizerStep::Nothing
        );
        meta.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
        assert_eq!(
            finalizer_step(&meta, PVC_PROTECTION),
            FinalizerStep::RemoveIfUnused
        );
        meta.finalizers = None;
        assert_eq!(
            finalizer_step(&meta, PVC_PROTECTION),
            FinalizerStep::Nothing
        );
    }

    #[test]
    fn a_bound_volume_is_in_use() {
        let mut v = crate::volumes::tests::volume("pv", "1Gi", "");
        assert!(!volume_in_use(&v));
        v.status.as_mut().unwrap().phase = Some("Bound".into());
        assert!(volume_in_use(&v));
    }
}
