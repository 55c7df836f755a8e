//! The PersistentVolume controller's driver: a queue of claims and
//! volumes fed by the shared caches, and per key one sync that asks the
//! [`binder`] what to do and writes it.
//!
//! Writes are those upstream makes, in its order (volume before claim,
//! spec before status), each with the object's resourceVersion, and each
//! answer goes back into the cache at once. Claims sync in parallel; the
//! one step where two claims could race — taking the same unbound static
//! volume — runs under a lock, and the API's version check catches
//! anything the caches had not seen. Every claim and volume is looked at
//! again every [`RESYNC`], as upstream's periodic resync.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::api::Api;

use super::binder::{self, ClaimLookup, ClaimStep, ClaimView, Class, Note, Reclaim, VolumeStep};
use super::matching;
use super::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER,
    ANN_STORAGE_PROVISIONER, Caches, Key, claim_phase, has_annotation, is_conflict_or_gone,
    pod_claims, reference, volume_phase,
};
use crate::runtime::{self, Next, Queue, Reconciler};
use ordinal_core::events::Recorder;

/// The component name on the controller's events.
pub const COMPONENT: &str = "persistentvolume-controller";
/// Syncs at the same time.
const WORKERS: usize = 16;
/// How often every claim and volume is synced again.
const RESYNC: Duration = Duration::from_secs(15);

struct Controller {
    client: Client,
    caches: Caches,
    recorder: Recorder,
    queue: Arc<Queue<Key>>,
    /// Held while an unbound static volume is chosen and claimed.
    taking: tokio::sync::Mutex<()>,
}

/// Runs the controller until `shutdown` completes.
pub async fn run(client: Client, caches: Caches, shutdown: impl Future<Output = ()> + Send) {
    let recorder = runtime::recorder(&client, COMPONENT);
    let c = Arc::new(Controller {
        client,
        caches,
        recorder,
        queue: Queue::new(),
        taking: tokio::sync::Mutex::new(()),
    });
    c.watch();
    let (ready, queue) = (c.caches.ready(), Arc::clone(&c.queue));
    runtime::drive(c, queue, WORKERS, ready, shutdown).await;
}

impl Reconciler for Controller {
    type Key = Key;
    const RESYNC: Option<Duration> = Some(RESYNC);

    async fn reconcile(&self, key: &Key) -> Next {
        match key {
            Key::Claim(ns, name) => self.sync_claim(ns, name).await,
            Key::Volume(name) => self.sync_volume(name).await,
        }
        .into()
    }

    fn resync(&self) {
        for c in self.caches.claims.list() {
            self.queue.add(Key::claim(&c));
        }
        for v in self.caches.volumes.list() {
            self.queue.add(Key::volume(&v));
        }
    }
}

impl Controller {
    fn watch(self: &Arc<Self>) {
        let q = Arc::clone(&self.queue);
        self.caches.claims.on_change(Box::new(move |_, new| {
            if let Some(c) = new {
                q.add(Key::claim(c));
            }
        }));
        // A claim that is gone releases its volume.
        let q = Arc::clone(&self.queue);
        let volumes = Arc::clone(&self.caches.volumes);
        self.caches.claims.on_change(Box::new(move |old, new| {
            if let (Some(c), None) = (old, new)
                && let Some(v) = c.spec.as_ref().and_then(|s| s.volume_name.as_deref())
                && volumes.get("", v).is_some()
            {
                q.add(Key::Volume(v.to_string()));
            }
        }));
        let q = Arc::clone(&self.queue);
        let claims = Arc::clone(&self.caches.claims);
        self.caches.volumes.on_change(Box::new(move |old, new| {
            if let Some(v) = new {
                // A volume that became available may be what a pending
                // claim waits for (upstream waits for the next resync).
                let was_available = old.is_some_and(|o| volume_phase(o) == "Available");
                let free = v.spec.as_ref().is_none_or(|s| s.claim_ref.is_none());
                if free && volume_phase(v) == "Available" && !was_available {
                    for c in claims.list() {
                        if claim_phase(&c) == "Pending" {
                            q.add(Key::claim(&c));
                        }
                    }
                }
                q.add(Key::volume(v));
                if let Some(r) = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
                    q.add(Key::Claim(
                        r.namespace.clone().unwrap_or_default(),
                        r.name.clone().unwrap_or_default(),
                    ));
                }
            }
        }));
        // A class that appears may let pending claims go on.
        let q = Arc::clone(&self.queue);
        let claims = Arc::clone(&self.caches.claims);
        self.caches.classes.on_change(Box::new(move |_, new| {
            if new.is_some() {
                for c in claims.list() {
                    if claim_phase(&c) != "Bound" {
                        q.add(Key::claim(&c));
                    }
                }
            }
        }));
    }

    fn claims_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn claims_api_of(&self, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        self.claims_api(claim.metadata.namespace.as_deref().unwrap_or(""))
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn record(&self, obj: &k8s_openapi::api::core::v1::ObjectReference, note: &Note) {
        self.recorder
            .event(obj, note.warning, note.reason, note.message.clone());
    }

    async fn sync_claim(&self, ns: &str, name: &str) -> Result<(), String> {
        let Some(claim) = self.caches.claims.get(ns, name) else {
            return Ok(());
        };
        let volumes = self.caches.volumes.list();
        let refs: Vec<&PersistentVolume> = volumes.iter().map(|v| v.as_ref()).collect();
        let class_name = matching::claim_class(&claim).to_string();
        let class_obj = (!class_name.is_empty())
            .then(|| self.caches.classes.get("", &class_name))
            .flatten();
        let class = match (&class_obj, class_name.as_str()) {
            (_, "") => Class::None,
            (Some(c), _) => Class::Found(c),
            (None, n) => Class::Missing(n),
        };
        let default_class = self.caches.default_class();
        let unscheduled_pods = self.unscheduled_pods(&claim);
        // Provisioned volumes are pre-bound to their claim and named after
        // its UID: look there first, so binding does not scan every volume.
        let provisioned = claim
            .metadata
            .uid
            .as_deref()
            .and_then(|uid| self.caches.volumes.get("", &format!("pvc-{uid}")));
        let quick = provisioned.as_deref().filter(|v| {
            matching::is_bound_to(v, &claim) && matching::why_not_satisfied(v, &claim).is_none()
        });
        let step = match quick {
            Some(v)
                if !has_annotation(&claim.metadata, ANN_BIND_COMPLETED)
                    && claim
                        .spec
                        .as_ref()
                        .and_then(|s| s.volume_name.as_deref())
                        .unwrap_or("")
                        .is_empty() =>
            {
                ClaimStep::Bind(v.metadata.name.clone().unwrap_or_default())
            }
            _ => binder::sync_claim(
                &claim,
                &ClaimView {
                    volumes: &refs,
                    class,
                    default_class: default_class.as_deref(),
                    unscheduled_pods,
                },
            )?,
        };
        drop(refs);
        match step {
            ClaimStep::Bind(volume) => self.bind(&claim, &volume).await,
            ClaimStep::AssignDefaultClass(class) => {
                let mut c = (*claim).clone();
                c.spec.get_or_insert_default().storage_class_name = Some(class);
                self.replace_claim(c).await
            }
            ClaimStep::Provision { provisioner } => {
                self.hand_to_provisioner(&claim, &provisioner).await
            }
            ClaimStep::Pending(note) => {
                if let Some(note) = &note {
                    self.record(&reference(claim.as_ref()), note);
                }
                self.claim_status(&claim, "Pending", None).await
            }
            ClaimStep::Lost(note) => {
                if claim_phase(&claim) != "Lost" {
                    self.claim_status(&claim, "Lost", None).await?;
                    self.record(&reference(claim.as_ref()), &note);
                }
                Ok(())
            }
        }
    }

    /// Pods of the claim's namespace that use it and have no node yet.
    fn unscheduled_pods(&self, claim: &PersistentVolumeClaim) -> Vec<String> {
        let ns = claim.metadata.namespace.as_deref().unwrap_or("");
        let name = claim.metadata.name.as_deref().unwrap_or("");
        let mut pods: Vec<String> = self
            .caches
            .pods
            .list_namespace(ns)
            .iter()
            .filter(|p| {
                p.spec
                    .as_ref()
                    .is_none_or(|s| s.node_name.as_deref().unwrap_or("").is_empty())
            })
            .filter(|p| pod_claims(p).any(|c| c == name))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        pods.sort();
        pods
    }

    async fn hand_to_provisioner(
        &self,
        claim: &PersistentVolumeClaim,
        provisioner: &str,
    ) -> Result<(), String> {
        let annotations = claim.metadata.annotations.clone().unwrap_or_default();
        let claim = if annotations.get(ANN_STORAGE_PROVISIONER).map(String::as_str)
            != Some(provisioner)
            || annotations
                .get(ANN_BETA_STORAGE_PROVISIONER)
                .map(String::as_str)
                != Some(provisioner)
        {
            let mut c = claim.clone();
            let a = c.metadata.annotations.get_or_insert_default();
            a.insert(ANN_STORAGE_PROVISIONER.into(), provisioner.into());
            a.insert(ANN_BETA_STORAGE_PROVISIONER.into(), provisioner.into());
            match self
                .caches
                .claims
                .replace(&self.claims_api_of(&c), &c)
                .await
            {
                Ok(updated) => updated,
                Err(e) if is_conflict_or_gone(&e) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        } else {
            claim.clone()
        };
        self.recorder.normal(
            &reference(&claim),
            "ExternalProvisioning",
            format!(
                "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
            ),
        );
        Ok(())
    }

    /// `bind`: the volume's claimRef, its phase, the claim's volumeName and
    /// annotations, the claim's status; each written only when it differs.
    async fn bind(&self, claim: &PersistentVolumeClaim, volume_name: &str) -> Result<(), String> {
        let Some(volume) = self.caches.volumes.get("", volume_name) else {
            return Err(format!("volume {volume_name} is not in the cache"));
        };
        let volume = if matching::is_bound_to(&volume, claim) {
            self.bind_volume(&volume, claim).await?
        } else {
            // An unbound static volume: take it under the lock, from the
            // freshest state the cache has.
            let _taking = self.taking.lock().await;
            let Some(fresh) = self.caches.volumes.get("", volume_name) else {
                return Err(format!("volume {volume_name} is gone"));
            };
            if fresh
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .is_some()
                && !matching::is_bound_to(&fresh, claim)
            {
                return Err(format!("volume {volume_name} was taken"));
            }
            self.bind_volume(&fresh, claim).await?
        };
        let volume = self.volume_status(&volume, "Bound", None).await?;
        let claim = self.bind_claim(claim, &volume).await?;
        self.claim_status(&claim, "Bound", Some(&volume)).await
    }

    async fn bind_volume(
        &self,
        volume: &PersistentVolume,
        claim: &PersistentVolumeClaim,
    ) -> Result<PersistentVolume, String> {
        let pre_bound = matching::is_bound_to(volume, claim);
        let mut v = volume.clone();
        let mut dirty = false;
        let current = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let same = current.is_some_and(|r| {
            r.name == claim.metadata.name
                && r.namespace == claim.metadata.namespace
                && r.uid == claim.metadata.uid
        });
        if !same {
            v.spec.get_or_insert_default().claim_ref = Some(reference(claim));
            dirty = true;
        }
        if !pre_bound && !has_annotation(&v.metadata, ANN_BOUND_BY_CONTROLLER) {
            v.metadata
                .annotations
                .get_or_insert_default()
                .insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
            dirty = true;
        }
        if !dirty {
            return Ok(volume.clone());
        }
        self.caches
            .volumes
            .replace(&self.volumes_api(), &v)
            .await
            .map_err(|e| e.to_string())
    }

    async fn bind_claim(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<PersistentVolumeClaim, String> {
        let volume_name = volume.metadata.name.clone().unwrap_or_default();
        let mut c = claim.clone();
        let mut dirty = false;
        let spec = c.spec.get_or_insert_default();
        if spec.volume_name.as_deref() != Some(volume_name.as_str()) {
            spec.volume_name = Some(volume_name);
            c.metadata
                .annotations
                .get_or_insert_default()
                .entry(ANN_BOUND_BY_CONTROLLER.into())
                .or_insert_with(|| "yes".into());
            dirty = true;
        }
        if !has_annotation(&c.metadata, ANN_BIND_COMPLETED) {
            c.metadata
                .annotations
                .get_or_insert_default()
                .insert(ANN_BIND_COMPLETED.into(), "yes".into());
            dirty = true;
        }
        if !dirty {
            return Ok(claim.clone());
        }
        self.caches
            .claims
            .replace(&self.claims_api_of(&c), &c)
            .await
            .map_err(|e| e.to_string())
    }

    async fn replace_claim(&self, c: PersistentVolumeClaim) -> Result<(), String> {
        self.caches
            .claims
            .replace(&self.claims_api_of(&c), &c)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// `updateClaimStatus`: the phase; the volume's access modes; its
    /// capacity when the claim becomes bound (later the resizer owns it).
    async fn claim_status(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<(), String> {
        let mut c = claim.clone();
        let status = c.status.get_or_insert_default();
        let mut dirty = false;
        if status.phase.as_deref() != Some(phase) {
            status.phase = Some(phase.into());
            dirty = true;
        }
        match volume {
            None => {
                if status.access_modes.take().is_some() {
                    dirty = true;
                }
                if status.capacity.take().is_some() {
                    dirty = true;
                }
            }
            Some(v) => {
                let spec = v.spec.clone().unwrap_or_default();
                if status.access_modes != spec.access_modes {
                    status.access_modes = spec.access_modes.clone();
                    dirty = true;
                }
                if claim_phase(claim) != phase {
                    let want = spec.capacity.as_ref().and_then(|c| c.get("storage"));
                    let have = status.capacity.as_ref().and_then(|c| c.get("storage"));
                    if want.is_some() && want != have {
                        status.capacity = spec.capacity.clone();
                        dirty = true;
                    }
                }
            }
        }
        if !dirty {
            return Ok(());
        }
        self.caches
            .claims
            .replace_status(&self.claims_api_of(&c), &c)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// `updateVolumePhase`, recording when the phase changed.
    async fn volume_status(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        message: Option<&str>,
    ) -> Result<PersistentVolume, String> {
        if volume_phase(volume) == phase {
            return Ok(volume.clone());
        }
        let mut v = volume.clone();
        let status = v.status.get_or_insert_default();
        status.phase = Some(phase.into());
        status.message = message.map(Into::into);
        status.last_phase_transition_time = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        );
        self.caches
            .volumes
            .replace_status(&self.volumes_api(), &v)
            .await
            .map_err(|e| e.to_string())
    }

    async fn sync_volume(&self, name: &str) -> Result<(), String> {
        let Some(volume) = self.caches.volumes.get("", name) else {
            return Ok(());
        };
        let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.clone());
        let mut claim = claim_ref.as_ref().and_then(|r| {
            self.caches.claims.get(
                r.namespace.as_deref().unwrap_or(""),
                r.name.as_deref().unwrap_or(""),
            )
        });
        // Before releasing a volume, make sure the claim is really gone:
        // the claim cache may not have seen a claim that was just created.
        if claim.is_none()
            && let Some(r) = &claim_ref
            && r.uid.as_deref().is_some_and(|u| !u.is_empty())
            && !matches!(volume_phase(&volume), "Released" | "Failed")
        {
            let api = self.claims_api(r.namespace.as_deref().unwrap_or(""));
            match api.get_opt(r.name.as_deref().unwrap_or("")).await {
                Ok(Some(c)) => {
                    self.caches.claims.store(c.clone());
                    claim = Some(Arc::new(c));
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let lookup = match &claim {
            Some(c) => ClaimLookup::Found(c),
            None => ClaimLookup::Missing,
        };
        match binder::sync_volume(&volume, lookup) {
            VolumeStep::Phase(phase) => {
                self.volume_status(&volume, phase, None).await?;
            }
            VolumeStep::SyncClaim { namespace, name } => {
                self.queue.add(Key::Claim(namespace, name))
            }
            VolumeStep::Release => {
                let volume = if matches!(volume_phase(&volume), "Released" | "Failed") {
                    (*volume).clone()
                } else {
                    self.volume_status(&volume, "Released", None).await?
                };
                match binder::reclaim(&volume) {
                    Reclaim::Keep | Reclaim::LeaveToProvisioner => {}
                    Reclaim::Fail(note) => {
                        if volume_phase(&volume) != "Failed" {
                            self.volume_status(&volume, "Failed", Some(&note.message))
                                .await?;
                            self.record(&reference(&volume), &note);
                        }
                    }
                }
            }
            VolumeStep::Unbind => {
                let mut v = (*volume).clone();
                if has_annotation(&v.metadata, ANN_BOUND_BY_CONTROLLER) {
                    v.spec.get_or_insert_default().claim_ref = None;
                    if let Some(a) = v.metadata.annotations.as_mut() {
                        a.remove(ANN_BOUND_BY_CONTROLLER);
                    }
                } else if let Some(r) = v.spec.as_mut().and_then(|s| s.claim_ref.as_mut()) {
                    r.uid = None;
                }
                let updated = self
                    .caches
                    .volumes
                    .replace(&self.volumes_api(), &v)
                    .await
                    .map_err(|e| e.to_string())?;
                self.volume_status(&updated, "Available", None).await?;
            }
            VolumeStep::ModeMismatch { claim: claim_name } => {
                self.recorder.warning(
                    &reference(volume.as_ref()),
                    "VolumeMismatch",
                    format!(
                        "Cannot bind PersistentVolume to requested PersistentVolumeClaim \"{claim_name}\" due to incompatible volumeMode."
                    ),
                );
                if let Some(c) = &claim {
                    self.recorder.warning(
                        &reference(c.as_ref()),
                        "VolumeMismatch",
                        format!(
                            "Cannot bind PersistentVolume \"{name}\" to requested PersistentVolumeClaim due to incompatible volumeMode."
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The controller against a real API server: what a user sees of
    //! static binding.

    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    use kube::Api;
    use kube::api::{DeleteParams, PostParams};
    use serde_json::json;

    use crate::informer::Informers;
    use crate::testing::{ApiServer, eventually};
    use crate::volumes::{ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, Caches, has_annotation};

    fn claim(name: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "storageClassName": "",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }))
        .unwrap()
    }

    fn volume(name: &str) -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "storageClassName": "",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "1Gi"},
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": "/srv/static"},
            },
        }))
        .unwrap()
    }

    fn phase_of_claim(c: &PersistentVolumeClaim) -> &str {
        c.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("")
    }

    fn phase_of_volume(v: &PersistentVolume) -> &str {
        v.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn two_claims_race_for_one_volume_and_one_wins() {
        let server = ApiServer::start().await;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(server.client.clone(), "default");
        let volumes: Api<PersistentVolume> = Api::all(server.client.clone());
        volumes
            .create(&PostParams::default(), &volume("pv-1"))
            .await
            .unwrap();
        for name in ["a", "b"] {
            claims
                .create(&PostParams::default(), &claim(name))
                .await
                .unwrap();
        }

        // This controller, and protection (claims carry its finalizer from
        // admission, so a deleted claim waits for it).
        let informers = Informers::new(server.client.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = futures::FutureExt::shared(async move {
            let _ = stopped.await;
        });
        let caches = Caches::new(&informers);
        let client = server.client.clone();
        let controllers = tokio::spawn(async move {
            tokio::join!(
                super::run(client.clone(), caches.clone(), stopped.clone()),
                crate::volumes::protection::run(client, caches, stopped),
            )
        });

        let volume = eventually("pv-1 Bound", || async {
            let v = volumes.get("pv-1").await.unwrap();
            (phase_of_volume(&v) == "Bound").then_some(v)
        })
        .await;
        assert!(has_annotation(&volume.metadata, ANN_BOUND_BY_CONTROLLER));
        let winner = volume
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .and_then(|r| r.name.clone())
            .unwrap();
        let loser = if winner == "a" { "b" } else { "a" };
        let bound = eventually("the winning claim Bound", || async {
            let c = claims.get(&winner).await.unwrap();
            (phase_of_claim(&c) == "Bound").then_some(c)
        })
        .await;
        assert_eq!(
            bound.spec.as_ref().and_then(|s| s.volume_name.as_deref()),
            Some("pv-1")
        );
        assert!(has_annotation(&bound.metadata, ANN_BIND_COMPLETED));
        let other = claims.get(loser).await.unwrap();
        assert_eq!(phase_of_claim(&other), "Pending", "{other:?}");

        // The winner goes: its volume is Released and kept (Retain).
        claims
            .delete(&winner, &DeleteParams::default())
            .await
            .unwrap();
        eventually("pv-1 Released", || async {
            let v = volumes.get("pv-1").await.unwrap();
            (phase_of_volume(&v) == "Released").then_some(())
        })
        .await;
        let other = claims.get(loser).await.unwrap();
        assert_eq!(
            phase_of_claim(&other),
            "Pending",
            "a Released volume is not reused"
        );

        stop.send(()).unwrap();
        controllers.await.unwrap();
        informers.stop().await;
        server.stop().await;
    }
}
