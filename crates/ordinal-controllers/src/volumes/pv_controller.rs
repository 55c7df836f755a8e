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
use kube::api::{Api, PostParams};
use ordinal_core::events::{Recorder, Source};
use tokio::task::JoinSet;

use super::binder::{self, ClaimLookup, ClaimStep, ClaimView, Class, Note, Reclaim, VolumeStep};
use super::matching;
use super::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER,
    ANN_STORAGE_PROVISIONER, Caches, claim_phase, has_annotation, is_conflict_or_gone, pod_claims,
    reference, volume_phase,
};
use crate::queue::Queue;

/// The component name on the controller's events.
pub const COMPONENT: &str = "persistentvolume-controller";
/// Syncs at the same time.
const WORKERS: usize = 16;
/// How often every claim and volume is synced again.
const RESYNC: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Claim(String, String),
    Volume(String),
}

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
    let recorder = Recorder::new(
        client.clone(),
        Source {
            component: COMPONENT.into(),
            host: crate::hostname(),
        },
    );
    let c = Arc::new(Controller {
        client,
        caches,
        recorder,
        queue: Queue::new(),
        taking: tokio::sync::Mutex::new(()),
    });
    c.watch();
    let mut tasks = JoinSet::new();
    for _ in 0..WORKERS {
        let c = Arc::clone(&c);
        tasks.spawn(async move {
            c.caches.synced().await;
            c.work().await;
        });
    }
    {
        let c = Arc::clone(&c);
        tasks.spawn(async move {
            c.caches.synced().await;
            loop {
                c.resync();
                tokio::time::sleep(RESYNC).await;
            }
        });
    }
    shutdown.await;
    c.queue.close();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

fn claim_key(claim: &PersistentVolumeClaim) -> Key {
    Key::Claim(
        claim.metadata.namespace.clone().unwrap_or_default(),
        claim.metadata.name.clone().unwrap_or_default(),
    )
}

impl Controller {
    fn watch(self: &Arc<Self>) {
        let q = Arc::clone(&self.queue);
        self.caches.claims.on_change(Box::new(move |_, new| {
            if let Some(c) = new {
                q.add(claim_key(c));
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
                            q.add(claim_key(&c));
                        }
                    }
                }
                q.add(Key::Volume(v.metadata.name.clone().unwrap_or_default()));
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
                        q.add(claim_key(&c));
                    }
                }
            }
        }));
    }

    fn resync(&self) {
        for c in self.caches.claims.list() {
            self.queue.add(claim_key(&c));
        }
        for v in self.caches.volumes.list() {
            self.queue
                .add(Key::Volume(v.metadata.name.clone().unwrap_or_default()));
        }
    }

    async fn work(self: Arc<Self>) {
        while let Some(key) = self.queue.next().await {
            let result = match &key {
                Key::Claim(ns, name) => self.sync_claim(ns, name).await,
                Key::Volume(name) => self.sync_volume(name).await,
            };
            match result {
                Ok(()) => self.queue.forget(&key),
                Err(e) => {
                    tracing::debug!(?key, error = %e, "persistentvolume controller: sync failed");
                    self.queue.retry(key.clone());
                }
            }
            self.queue.done(&key);
        }
    }

    fn claims_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn record(&self, obj: &k8s_openapi::api::core::v1::ObjectReference, note: &Note) {
        if note.warning {
            self.recorder
                .warning(obj, note.reason, note.message.clone());
        } else {
            self.recorder.normal(obj, note.reason, note.message.clone());
        }
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
            let api = self.claims_api(c.metadata.namespace.as_deref().unwrap_or(""));
            match api
                .replace(
                    c.metadata.name.as_deref().unwrap_or(""),
                    &PostParams::default(),
                    &c,
                )
                .await
            {
                Ok(updated) => {
                    self.caches.claims.store(updated.clone());
                    updated
                }
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
        let name = v.metadata.name.clone().unwrap_or_default();
        let updated = self
            .volumes_api()
            .replace(&name, &PostParams::default(), &v)
            .await
            .map_err(|e| e.to_string())?;
        self.caches.volumes.store(updated.clone());
        Ok(updated)
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
        let api = self.claims_api(c.metadata.namespace.as_deref().unwrap_or(""));
        let updated = api
            .replace(
                c.metadata.name.as_deref().unwrap_or(""),
                &PostParams::default(),
                &c,
            )
            .await
            .map_err(|e| e.to_string())?;
        self.caches.claims.store(updated.clone());
        Ok(updated)
    }

    async fn replace_claim(&self, c: PersistentVolumeClaim) -> Result<(), String> {
        let api = self.claims_api(c.metadata.namespace.as_deref().unwrap_or(""));
        match api
            .replace(
                c.metadata.name.as_deref().unwrap_or(""),
                &PostParams::default(),
                &c,
            )
            .await
        {
            Ok(updated) => {
                self.caches.claims.store(updated);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
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
        let api = self.claims_api(c.metadata.namespace.as_deref().unwrap_or(""));
        match api
            .replace_status(
                c.metadata.name.as_deref().unwrap_or(""),
                &PostParams::default(),
                &c,
            )
            .await
        {
            Ok(updated) => {
                self.caches.claims.store(updated);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
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
        let name = v.metadata.name.clone().unwrap_or_default();
        let updated = self
            .volumes_api()
            .replace_status(&name, &PostParams::default(), &v)
            .await
            .map_err(|e| e.to_string())?;
        self.caches.volumes.store(updated.clone());
        Ok(updated)
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
                    .volumes_api()
                    .replace(name, &PostParams::default(), &v)
                    .await
                    .map_err(|e| e.to_string())?;
                self.caches.volumes.store(updated.clone());
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
