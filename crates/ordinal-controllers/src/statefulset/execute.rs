//! Carrying out a [`Plan`] through the API, in the order and with the
//! error handling the contract in the module above spells out, recording
//! upstream's Events on the set as it goes.
//!
//! Every successful write's answer goes back into the shared caches
//! ([`crate::informer`]), so the next plan of the set sees it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Resource as _};
use ordinal_core::events::Recorder;
use serde_json::json;

use super::{Action, DeleteReason, Failure, Plan};
use crate::informer::{Cached, Informers};
use crate::runtime::{error_message, status_code};

/// Requests in flight at once within one wave.
const WAVE_CONCURRENCY: usize = 64;

/// How executing a plan went.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Something failed: retry with back-off.
    pub failed: bool,
    /// Plan again at once: the revision name collided, or a readiness gate
    /// was opened (see [`Executor::execute`]).
    pub again: bool,
}

const NOT_FOUND: u16 = 404;
const CONFLICT: u16 = 409;

/// What one sync executes against.
pub(crate) struct Executor<'a> {
    pub client: &'a Client,
    pub recorder: &'a Recorder,
    /// Where the answers of writes go.
    pub caches: &'a Informers,
    /// The set as planned.
    pub set: &'a StatefulSet,
}

impl Executor<'_> {
    fn namespace(&self) -> &str {
        self.set.metadata.namespace.as_deref().unwrap_or("default")
    }

    fn name(&self) -> &str {
        self.set.metadata.name.as_deref().unwrap_or("")
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), self.namespace())
    }

    fn reference(&self) -> ObjectReference {
        let mut r = self.set.object_ref(&());
        r.api_version = Some("apps/v1".into());
        r.kind = Some("StatefulSet".into());
        r
    }

    /// Upstream's pod events: `<verb> Pod <pod> in StatefulSet <set>
    /// successful`, or `… failed error: <err>` as a Warning.
    fn pod_event(&self, verb: &str, pod: &str, error: Option<&str>) {
        let reason_verb = title(verb);
        match error {
            None => self.recorder.normal(
                &self.reference(),
                &format!("Successful{reason_verb}"),
                format!("{verb} Pod {pod} in StatefulSet {} successful", self.name()),
            ),
            Some(err) => self.recorder.warning(
                &self.reference(),
                &format!("Failed{reason_verb}"),
                format!(
                    "{verb} Pod {pod} in StatefulSet {} failed error: {err}",
                    self.name()
                ),
            ),
        }
    }

    /// Upstream's claim events, worded slightly differently from the pod
    /// ones.
    fn claim_event(&self, claim: &str, pod: &str, error: Option<&str>) {
        match error {
            None => self.recorder.normal(
                &self.reference(),
                "SuccessfulCreate",
                format!(
                    "create Claim {claim} Pod {pod} in StatefulSet {} success",
                    self.name()
                ),
            ),
            Some(err) => self.recorder.warning(
                &self.reference(),
                "FailedCreate",
                format!(
                    "create Claim {claim} for Pod {pod} in StatefulSet {} failed error: {err}",
                    self.name()
                ),
            ),
        }
    }

    /// Records the failures the planner reported.
    pub(crate) fn report_failures(&self, failures: &[Failure]) {
        for failure in failures {
            match failure {
                Failure::ClaimTerminating { pod, .. } => {
                    self.pod_event("create", pod, Some(&failure.to_string()))
                }
                Failure::InvalidAnnotations(_) => self.recorder.warning(
                    &self.reference(),
                    "InvalidAnnotation",
                    failure.to_string(),
                ),
                other => tracing::info!(set = %self.name(), namespace = %self.namespace(),
                    "statefulset controller: {other}"),
            }
        }
    }

    /// Executes `plan` as the module contract says.
    pub(crate) async fn execute(&self, plan: &Plan) -> Report {
        let mut report = Report::default();

        if !plan.ownership.is_empty() {
            let adopting = plan
                .ownership
                .iter()
                .any(|a| matches!(a, Action::AdoptPod { .. } | Action::AdoptRevision { .. }));
            if adopting && let Err(why) = self.recheck_set().await {
                tracing::info!(set = %self.name(), "statefulset controller: not adopting: {why}");
                report.failed = true;
                return report;
            }
            if !self.run_all(&plan.ownership).await {
                report.failed = true;
                return report;
            }
        }

        if let Some(action) = &plan.revision {
            match self.run_revision(action).await {
                Ok(()) => {}
                Err(RevisionError::Collision) => {
                    let mut status = self.set.status.clone().unwrap_or_default();
                    status.collision_count =
                        Some(status.collision_count.unwrap_or(0).saturating_add(1));
                    if self.write_status(status).await.is_err() {
                        report.failed = true;
                    }
                    report.again = true;
                    self.run_history(plan, &mut report).await;
                    return report;
                }
                Err(RevisionError::Failed) => {
                    report.failed = true;
                    self.run_history(plan, &mut report).await;
                    return report;
                }
            }
        }

        for wave in &plan.waves {
            if !self.run_all(wave).await {
                report.failed = true;
                break;
            }
        }
        // An opened gate is in the pod cache already (the write's answer is
        // stored), and the next step may wait on nothing else: the next
        // pod of an in-place rollout. Plan again at once rather than on the
        // watch's echo, and leave the status, which the open gate has made
        // stale, to that plan: one set status write a pod fewer.
        let opened = !report.failed
            && plan
                .waves
                .iter()
                .flatten()
                .any(|a| matches!(a, Action::OpenGate { .. }));

        if !self.run_all(&plan.claims).await {
            report.failed = true;
        }
        // A failure keeps its back-off.
        report.again = opened && !report.failed;

        if let Some(status) = plan.status.as_ref().filter(|_| !opened) {
            match self.write_status(status.clone()).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::debug!(set = %self.name(), error = %e, "statefulset controller: status write failed");
                    if status_code(&e) != Some(NOT_FOUND) {
                        report.failed = true;
                    }
                }
            }
        }
        self.run_history(plan, &mut report).await;
        report
    }

    /// Upstream's `RecheckDeletionTimestamp`: before adopting, make sure
    /// with a live read that the set is still this one and not going away.
    async fn recheck_set(&self) -> Result<(), String> {
        let live = self
            .api::<StatefulSet>()
            .get(self.name())
            .await
            .map_err(|e| error_message(&e))?;
        let (ns, name) = (self.namespace(), self.name());
        if live.metadata.uid != self.set.metadata.uid {
            return Err(format!(
                "original StatefulSet {ns}/{name} is gone: got uid {}, wanted {}",
                live.metadata.uid.unwrap_or_default(),
                self.set.metadata.uid.as_deref().unwrap_or("")
            ));
        }
        if let Some(at) = &live.metadata.deletion_timestamp {
            return Err(format!("{ns}/{name} has just been deleted at {}", at.0));
        }
        Ok(())
    }

    /// Runs independent actions concurrently; true when all succeeded.
    async fn run_all(&self, actions: &[Action]) -> bool {
        use futures::StreamExt;
        let mut waiting = actions.iter();
        let mut running = futures::stream::FuturesUnordered::new();
        let mut ok = true;
        loop {
            while running.len() < WAVE_CONCURRENCY {
                match waiting.next() {
                    Some(action) => running.push(self.run(action)),
                    None => break,
                }
            }
            match running.next().await {
                Some(Ok(())) => {}
                Some(Err(())) => ok = false,
                None => return ok,
            }
        }
    }

    async fn run_history(&self, plan: &Plan, report: &mut Report) {
        if !self.run_all(&plan.history).await {
            report.failed = true;
        }
    }

    async fn write_status(&self, status: StatefulSetStatus) -> Result<(), kube::Error> {
        let mut set = self.set.clone();
        set.status = Some(status);
        set.metadata.managed_fields = None;
        let written = self
            .api::<StatefulSet>()
            .replace_status(self.name(), &PostParams::default(), &set)
            .await?;
        self.caches.get::<StatefulSet>().store(written);
        Ok(())
    }

    async fn run_revision(&self, action: &Action) -> Result<(), RevisionError> {
        let api = self.api::<ControllerRevision>();
        match action {
            Action::CreateRevision(revision) => {
                match api.create(&PostParams::default(), revision).await {
                    Ok(r) => {
                        self.caches.get::<ControllerRevision>().store(r);
                        Ok(())
                    }
                    Err(e) if status_code(&e) == Some(CONFLICT) => {
                        // AlreadyExists: the same data is as good as ours.
                        let name = revision.metadata.name.as_deref().unwrap_or("");
                        match api.get_opt(name).await {
                            Ok(Some(existing)) if existing.data == revision.data => Ok(()),
                            Ok(Some(_)) => Err(RevisionError::Collision),
                            _ => Err(RevisionError::Failed),
                        }
                    }
                    Err(e) => {
                        tracing::debug!(set = %self.name(), error = %e, "statefulset controller: creating revision failed");
                        Err(RevisionError::Failed)
                    }
                }
            }
            other => self.run(other).await.map_err(|()| RevisionError::Failed),
        }
    }

    /// One action; `Err(())` when it failed (events and logs are done).
    async fn run(&self, action: &Action) -> Result<(), ()> {
        match action {
            Action::AdoptPod { name, uid, owner } => self.adopt::<Pod>(name, uid, owner).await,
            Action::AdoptRevision { name, uid, owner } => {
                self.adopt::<ControllerRevision>(name, uid, owner).await
            }
            Action::ReleasePod { name, uid } => self.release(name, uid).await,
            Action::CreateRevision(_) => Err(()),
            Action::UpdateRevision {
                name,
                uid,
                revision,
            } => {
                let patch = json!({"metadata": {"uid": uid}, "revision": revision});
                self.patched::<ControllerRevision>(name, &Patch::Merge(patch))
                    .await
            }
            Action::DeleteRevision { name, uid } => {
                self.delete::<ControllerRevision>(name, uid).await
            }
            Action::CreatePod { pod, claims } => self.create_pod(pod, claims).await,
            Action::CreateClaims { pod, claims } => self.create_claims(pod, claims).await,
            Action::UpdatePod(pod) => self.update_pod(pod).await,
            Action::UpdateClaimOwners {
                claim,
                conflicting_controller,
            } => self.update_claim(claim, *conflicting_controller).await,
            Action::UpdateClaim {
                name,
                uid,
                labels,
                annotations,
                expand_to,
            } => {
                let change = ClaimChange {
                    labels,
                    annotations,
                    expand_to: expand_to.as_ref().map(|q| q.0.as_str()),
                };
                self.follow_template(name, uid, &change).await
            }
            Action::UpdatePodInPlace {
                name,
                uid,
                images,
                labels,
                annotations,
            } => {
                self.update_in_place(name, uid, images, labels, annotations)
                    .await
            }
            Action::OpenGate { name, uid } => self.set_gate(name, uid, true).await,
            Action::DeletePod { name, uid, reason } => self.delete_pod(name, uid, *reason).await,
        }
    }

    /// Closes the pod's readiness gate, then patches its images, labels
    /// and annotations; an event says which images changed.
    async fn update_in_place(
        &self,
        name: &str,
        uid: &str,
        images: &[(String, String)],
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<(), ()> {
        self.set_gate(name, uid, false).await?;
        let containers: Vec<serde_json::Value> = images
            .iter()
            .map(|(container, image)| json!({"name": container, "image": image}))
            .collect();
        let patch = json!({
            "metadata": {"uid": uid, "labels": labels, "annotations": annotations},
            "spec": {"containers": containers},
        });
        self.patched::<Pod>(name, &Patch::Strategic(patch)).await?;
        let changed: Vec<String> = images.iter().map(|(c, i)| format!("{c}={i}")).collect();
        self.recorder.normal(
            &self.reference(),
            "SuccessfulUpdateInPlace",
            format!(
                "update Pod {name} in StatefulSet {} in place successful: {}",
                self.name(),
                changed.join(", ")
            ),
        );
        Ok(())
    }

    /// Sets the pod's in-place readiness gate condition, through the
    /// status subresource, with its UID as precondition.
    async fn set_gate(&self, name: &str, uid: &str, open: bool) -> Result<(), ()> {
        let (status, reason) = if open {
            ("True", "InPlaceUpdateReady")
        } else {
            ("False", super::IN_PLACE_UPDATING)
        };
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let patch = json!({
            "metadata": {"uid": uid},
            "status": {"conditions": [{
                "type": super::IN_PLACE_GATE,
                "status": status,
                "reason": reason,
                "lastTransitionTime": now,
            }]},
        });
        match self
            .api::<Pod>()
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(pod) => {
                self.caches.get::<Pod>().store(pod);
                Ok(())
            }
            Err(e) => {
                tracing::debug!(pod = %name, error = %e, "statefulset controller: setting the in-place gate failed");
                Err(())
            }
        }
    }

    /// Makes the set the controller of an orphan, with the orphan's UID as
    /// precondition (a UID in a patch must match the object's).
    async fn adopt<K>(&self, name: &str, uid: &str, owner: &OwnerReference) -> Result<(), ()>
    where
        K: Cached + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        let patch = json!({"metadata": {"ownerReferences": [owner], "uid": uid}});
        self.patched::<K>(name, &Patch::Strategic(patch)).await
    }

    /// Removes the set's reference from a pod it no longer selects.
    async fn release(&self, name: &str, uid: &str) -> Result<(), ()> {
        let set_uid = self.set.metadata.uid.as_deref().unwrap_or("");
        let patch = json!({"metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": set_uid}],
            "uid": uid,
        }});
        match self
            .api::<Pod>()
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(p) => {
                self.caches.get::<Pod>().store(p);
                Ok(())
            }
            // Gone, or replaced by another pod: nothing of ours to release.
            Err(e) if matches!(status_code(&e), Some(NOT_FOUND | 422)) => Ok(()),
            Err(e) => {
                tracing::debug!(pod = %name, error = %e, "statefulset controller: release failed");
                Err(())
            }
        }
    }

    async fn patched<K>(&self, name: &str, patch: &Patch<serde_json::Value>) -> Result<(), ()>
    where
        K: Cached + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match self
            .api::<K>()
            .patch(name, &PatchParams::default(), patch)
            .await
        {
            Ok(obj) => {
                self.caches.get::<K>().store(obj);
                Ok(())
            }
            Err(e) => {
                tracing::debug!(object = %name, error = %e, "statefulset controller: patch failed");
                Err(())
            }
        }
    }

    /// Deletes with the UID as precondition; NotFound is success.
    async fn delete<K>(&self, name: &str, uid: &str) -> Result<(), ()>
    where
        K: Cached + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match self.api::<K>().delete(name, &by_uid(uid)).await {
            Ok(answer) => {
                self.caches
                    .get::<K>()
                    .delete_answered(self.namespace(), name, uid, answer.left());
                Ok(())
            }
            Err(e) if status_code(&e) == Some(NOT_FOUND) => {
                self.caches
                    .get::<K>()
                    .delete_answered(self.namespace(), name, uid, None);
                Ok(())
            }
            Err(e) => {
                tracing::debug!(object = %name, error = %e, "statefulset controller: delete failed");
                Err(())
            }
        }
    }

    /// Creates the claims a pod needs; AlreadyExists counts as created.
    async fn create_claims(&self, pod: &str, claims: &[PersistentVolumeClaim]) -> Result<(), ()> {
        let api = self.api::<PersistentVolumeClaim>();
        let mut errors = Vec::new();
        for claim in claims {
            let name = claim.metadata.name.as_deref().unwrap_or("");
            match api.create(&PostParams::default(), claim).await {
                Ok(c) => {
                    self.claim_event(name, pod, None);
                    self.caches.get::<PersistentVolumeClaim>().store(c);
                }
                Err(e) if status_code(&e) == Some(CONFLICT) => {}
                Err(e) => {
                    let err = error_message(&e);
                    self.claim_event(name, pod, Some(&err));
                    errors.push(format!("failed to create PVC {name}: {err}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            self.pod_event("create", pod, Some(&aggregate(&errors)));
            Err(())
        }
    }

    async fn create_pod(&self, pod: &Pod, claims: &[PersistentVolumeClaim]) -> Result<(), ()> {
        let name = pod.metadata.name.as_deref().unwrap_or("");
        self.create_claims(name, claims).await?;
        match self.api::<Pod>().create(&PostParams::default(), pod).await {
            Ok(p) => {
                self.pod_event("create", name, None);
                self.caches.get::<Pod>().store(p);
                Ok(())
            }
            // The cache is behind; no event, as upstream.
            Err(e) if status_code(&e) == Some(CONFLICT) => {
                tracing::debug!(pod = %name, "statefulset controller: pod exists already");
                Err(())
            }
            Err(e) => {
                self.pod_event("create", name, Some(&error_message(&e)));
                Err(())
            }
        }
    }

    async fn update_pod(&self, pod: &Pod) -> Result<(), ()> {
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let mut pod = pod.clone();
        pod.metadata.managed_fields = None;
        match self
            .api::<Pod>()
            .replace(name, &PostParams::default(), &pod)
            .await
        {
            Ok(p) => {
                self.pod_event("update", name, None);
                self.caches.get::<Pod>().store(p);
                Ok(())
            }
            // Changed meanwhile: planned again once the cache has it.
            Err(e) if status_code(&e) == Some(CONFLICT) => Err(()),
            Err(e) => {
                self.pod_event("update", name, Some(&error_message(&e)));
                Err(())
            }
        }
    }

    async fn update_claim(
        &self,
        claim: &PersistentVolumeClaim,
        conflicting_controller: bool,
    ) -> Result<(), ()> {
        let name = claim.metadata.name.as_deref().unwrap_or("");
        if conflicting_controller {
            // Upstream's text, misspelling included.
            self.recorder.warning(
                &self.reference(),
                "ConflictingController",
                format!(
                    "PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim"
                ),
            );
        }
        let mut claim = claim.clone();
        claim.metadata.managed_fields = None;
        match self
            .api::<PersistentVolumeClaim>()
            .replace(name, &PostParams::default(), &claim)
            .await
        {
            Ok(c) => {
                self.caches.get::<PersistentVolumeClaim>().store(c);
                Ok(())
            }
            Err(e) => {
                tracing::debug!(claim = %name, error = %e,
                    "statefulset controller: could not update claim for the retention policy");
                Err(())
            }
        }
    }

    /// Patches a claim towards its template, with the events of
    /// [`Self::claim_change_event`].
    async fn follow_template(
        &self,
        name: &str,
        uid: &str,
        change: &ClaimChange<'_>,
    ) -> Result<(), ()> {
        let mut metadata = serde_json::Map::new();
        metadata.insert("uid".into(), json!(uid));
        if !change.labels.is_empty() {
            metadata.insert("labels".into(), json!(change.labels));
        }
        if !change.annotations.is_empty() {
            metadata.insert("annotations".into(), json!(change.annotations));
        }
        let mut patch = json!({ "metadata": metadata });
        if let Some(size) = change.expand_to {
            patch["spec"] = json!({"resources": {"requests": {"storage": size}}});
        }
        match self
            .api::<PersistentVolumeClaim>()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(claim) => {
                self.claim_change_event(name, change.expand_to, None);
                self.caches.get::<PersistentVolumeClaim>().store(claim);
                Ok(())
            }
            // Gone: nothing to follow the template.
            Err(e) if status_code(&e) == Some(NOT_FOUND) => Ok(()),
            // Another claim of the name: the cache is behind.
            Err(e) if status_code(&e) == Some(CONFLICT) => Err(()),
            Err(e) => {
                self.claim_change_event(name, change.expand_to, Some(&error_message(&e)));
                Err(())
            }
        }
    }

    /// `expand Claim data-web-0 in StatefulSet web to 2Gi successful`
    /// (`SuccessfulExpand`), or `update Claim data-web-0 in StatefulSet web
    /// successful` (`SuccessfulUpdate`) when only labels or annotations
    /// changed; `… failed error: <err>` as a Warning (`FailedExpand`,
    /// `FailedUpdate`). Worded as the pod events are.
    fn claim_change_event(&self, claim: &str, expand_to: Option<&str>, error: Option<&str>) {
        let (verb, what) = match expand_to {
            Some(size) => (
                "expand",
                format!("Claim {claim} in StatefulSet {} to {size}", self.name()),
            ),
            None => (
                "update",
                format!("Claim {claim} in StatefulSet {}", self.name()),
            ),
        };
        let reason_verb = title(verb);
        match error {
            None => self.recorder.normal(
                &self.reference(),
                &format!("Successful{reason_verb}"),
                format!("{verb} {what} successful"),
            ),
            Some(err) => self.recorder.warning(
                &self.reference(),
                &format!("Failed{reason_verb}"),
                format!("{verb} {what} failed error: {err}"),
            ),
        }
    }

    async fn delete_pod(&self, name: &str, uid: &str, reason: DeleteReason) -> Result<(), ()> {
        let (ns, set) = (self.namespace(), self.name());
        match reason {
            DeleteReason::Failed => self.recorder.warning(
                &self.reference(),
                "RecreatingFailedPod",
                format!("StatefulSet {ns}/{set} is recreating failed Pod {name}"),
            ),
            DeleteReason::Succeeded => self.recorder.normal(
                &self.reference(),
                "RecreatingTerminatedPod",
                format!("StatefulSet {ns}/{set} is recreating terminated Pod {name}"),
            ),
            DeleteReason::Recovery => self.recorder.normal(
                &self.reference(),
                "RecoveringRollout",
                format!(
                    "StatefulSet {ns}/{set} is replacing Pod {name}, not Ready at an outdated revision, with the update revision"
                ),
            ),
            DeleteReason::ScaleDown | DeleteReason::Update | DeleteReason::Teardown => {}
        }
        match self.api::<Pod>().delete(name, &by_uid(uid)).await {
            Ok(answer) => {
                self.pod_event("delete", name, None);
                self.caches.get::<Pod>().delete_answered(
                    self.namespace(),
                    name,
                    uid,
                    answer.left(),
                );
                Ok(())
            }
            Err(e) if status_code(&e) == Some(NOT_FOUND) => {
                self.caches
                    .get::<Pod>()
                    .delete_answered(self.namespace(), name, uid, None);
                Ok(())
            }
            // Another pod holds the name now: the cache is behind.
            Err(e) if status_code(&e) == Some(CONFLICT) => Err(()),
            Err(e) => {
                self.pod_event("delete", name, Some(&error_message(&e)));
                Err(())
            }
        }
    }
}

/// What an [`Action::UpdateClaim`] changes.
struct ClaimChange<'a> {
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    expand_to: Option<&'a str>,
}

enum RevisionError {
    /// A revision of the same name holds other data.
    Collision,
    Failed,
}

fn by_uid(uid: &str) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    }
}

/// `create` → `Create`, as Go's `strings.Title`.
fn title(verb: &str) -> String {
    let mut chars = verb.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Several errors as apimachinery's aggregate prints them.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_errors_read_as_upstream() {
        assert_eq!(title("create"), "Create");
        assert_eq!(title("delete"), "Delete");
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into()]), "[a, b]");
        let e = kube::Error::Api(Box::new(kube::core::Status {
            code: 409,
            message: "pods \"web-0\" already exists".into(),
            ..kube::core::Status::default()
        }));
        assert_eq!(error_message(&e), "pods \"web-0\" already exists");
        assert_eq!(status_code(&e), Some(409));
    }
}
