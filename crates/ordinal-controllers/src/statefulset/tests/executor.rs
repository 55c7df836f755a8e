//! The executor against a real ordinal API server, fed by the shared
//! informers: each plan's writes land on the server, their answers land in
//! the caches at once (so the next plan, made straight after, never repeats
//! them), and failures come back as retries with upstream's events.
//!
//! And the in-memory simulation (`sim`), which the scenario and property
//! tests run thousands of times, checked against the real thing: random
//! histories of edits, kubelet and user actions, played on both, must give
//! the same plan at every sync and the same status after it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::super::execute::{Executor, Report};
use super::super::{Observed, Plan, plan};
use super::sim::{NS, Policy, World, new_set};
use crate::informer::Informers;
use crate::testing::{ApiServer, eventually};
use ordinal_core::events::{Recorder, Source};

struct Cluster {
    server: ApiServer,
    client: Client,
    informers: Arc<Informers>,
    recorder: Recorder,
}

impl Cluster {
    async fn start() -> Cluster {
        let server = ApiServer::start().await;
        let client = server.client.clone();
        let source = Source {
            component: "statefulset-controller".into(),
            host: "test".into(),
        };
        Cluster {
            informers: Informers::new(client.clone()),
            recorder: Recorder::new(client.clone(), source),
            client,
            server,
        }
    }

    /// Creates the set on the server and waits until every cache has it.
    async fn create_set(&self, replicas: i32, policy: Policy) -> Arc<StatefulSet> {
        let mut set = new_set("web", replicas, policy);
        set.metadata.uid = None;
        set.metadata.generation = None;
        // The server wants a size on each claim template.
        let spec = set.spec.as_mut().unwrap();
        for template in spec.volume_claim_templates.iter_mut().flatten() {
            let requests = [("storage".to_string(), Quantity("1Gi".into()))];
            template.spec.get_or_insert_default().resources = Some(VolumeResourceRequirements {
                requests: Some(requests.into_iter().collect()),
                ..Default::default()
            });
        }
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), NS);
        api.create(&PostParams::default(), &set).await.unwrap();
        let sets = self.informers.get::<StatefulSet>();
        let (pods, claims, revisions) = (
            self.informers.get::<Pod>(),
            self.informers.get::<PersistentVolumeClaim>(),
            self.informers.get::<ControllerRevision>(),
        );
        let listed = async {
            pods.synced().await;
            claims.synced().await;
            revisions.synced().await;
        };
        tokio::time::timeout(Duration::from_secs(10), listed)
            .await
            .expect("caches list");
        eventually("the set in the cache", || async { sets.get(NS, "web") }).await
    }

    /// The set as the cache holds it now.
    fn set(&self) -> Arc<StatefulSet> {
        self.informers.get::<StatefulSet>().get(NS, "web").unwrap()
    }

    /// Plans from what the caches hold right now.
    fn plan(&self, set: &StatefulSet) -> Plan {
        let pods = self.informers.get::<Pod>().list_namespace(NS);
        let claims = self
            .informers
            .get::<PersistentVolumeClaim>()
            .list_namespace(NS);
        let revisions = self
            .informers
            .get::<ControllerRevision>()
            .list_namespace(NS);
        plan(&Observed {
            set,
            pods: pods.iter().map(|p| p.as_ref()).collect(),
            claims: claims.iter().map(|c| c.as_ref()).collect(),
            revisions: revisions.iter().map(|r| r.as_ref()).collect(),
            now: jiff::Timestamp::now(),
        })
    }

    async fn execute(&self, set: &StatefulSet, planned: &Plan) -> Report {
        let executor = Executor {
            client: &self.client,
            recorder: &self.recorder,
            caches: &self.informers,
            set,
        };
        executor.report_failures(&planned.failures);
        executor.execute(planned).await
    }

    async fn pods_on_server(&self) -> Vec<String> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let mut names: Vec<String> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name)
            .collect();
        names.sort();
        names
    }

    /// Stops the watches: from here on the caches change only by what the
    /// executor writes back (and what a test stores itself).
    async fn stop_watches(&self) {
        self.informers.stop().await;
    }

    /// Plays the kubelet: the pod runs and is Ready; the answer goes into
    /// the cache.
    async fn make_ready(&self, pod: &str) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let now = jiff::Timestamp::now().to_string();
        let status = serde_json::json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }});
        let ready = api
            .patch_status(pod, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        self.informers.get::<Pod>().store(ready);
    }

    /// Edits the set on the server with a merge patch; the answer goes
    /// into the cache.
    async fn edit(&self, patch: serde_json::Value) -> StatefulSet {
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), NS);
        let edited = api
            .patch("web", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
        self.informers.get::<StatefulSet>().store(edited.clone());
        edited
    }

    /// The pods the cache holds, by name.
    fn cached_pods(&self) -> Vec<Arc<Pod>> {
        self.informers.get::<Pod>().list_namespace(NS)
    }

    /// Plays the kubelet: every pod not terminating is Running and Ready.
    async fn ready_all(&self) {
        for pod in self.cached_pods() {
            if pod.metadata.deletion_timestamp.is_none() {
                self.make_ready(pod.metadata.name.as_deref().unwrap()).await;
            }
        }
    }

    /// A user deletes a pod, as `kubectl delete pod` does.
    async fn delete_pod(&self, name: &str) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        let uid = self
            .informers
            .get::<Pod>()
            .get(NS, name)
            .unwrap()
            .metadata
            .uid
            .clone();
        let answer = api.delete(name, &Default::default()).await.unwrap();
        self.informers.get::<Pod>().delete_answered(
            NS,
            name,
            uid.as_deref().unwrap_or_default(),
            answer.left(),
        );
    }

    /// Plays the kubelet: terminating pods finish and go.
    async fn finish_terminating(&self) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NS);
        for pod in self.cached_pods() {
            if pod.metadata.deletion_timestamp.is_some() {
                let name = pod.metadata.name.as_deref().unwrap();
                let answer = api
                    .delete(name, &kube::api::DeleteParams::default().grace_period(0))
                    .await;
                let uid = pod.metadata.uid.as_deref().unwrap_or_default();
                let answer = answer.ok().and_then(|a| a.left());
                self.informers
                    .get::<Pod>()
                    .delete_answered(NS, name, uid, answer);
            }
        }
    }

    async fn stop(self) {
        self.informers.stop().await;
        self.server.stop().await;
    }
}

fn created_pods(planned: &Plan) -> Vec<String> {
    planned
        .actions()
        .filter_map(|a| match a {
            super::super::Action::CreatePod { pod, .. } => pod.metadata.name.clone(),
            _ => None,
        })
        .collect()
}

fn opened_gates(planned: &Plan) -> Vec<String> {
    planned
        .actions()
        .filter_map(|a| match a {
            super::super::Action::OpenGate { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_opened_gate_plans_again_at_once_and_leaves_the_status_to_that_plan() {
    let cluster = Cluster::start().await;
    cluster.create_set(1, Policy::OrderedReady).await;
    cluster.stop_watches().await;
    let set = cluster
        .edit(serde_json::json!({"metadata": {"annotations": {
            "ordinal.dev/pod-update-policy": "InPlaceIfPossible"
        }}}))
        .await;
    let created = cluster.plan(&set);
    assert_eq!(created_pods(&created), ["web-0"]);
    let report = cluster.execute(&set, &created).await;
    assert!(!report.failed && !report.again, "{report:?}");
    cluster.make_ready("web-0").await;
    let set = cluster.set();
    let written = set.status.clone().unwrap_or_default();

    // The pod runs; its gate, never set, is opened.
    let opening = cluster.plan(&set);
    assert_eq!(opened_gates(&opening), ["web-0"], "{opening:#?}");
    let report = cluster.execute(&set, &opening).await;
    assert!(!report.failed && report.again, "{report:?}");
    let api: Api<StatefulSet> = Api::namespaced(cluster.client.clone(), NS);
    let on_server = api.get("web").await.unwrap().status.unwrap_or_default();
    assert_eq!(
        on_server, written,
        "the status waits for the plan made at once"
    );

    // That plan sees the open gate in the cache, and writes the status:
    // the pod is ready now.
    let set = cluster.set();
    let next = cluster.plan(&set);
    assert!(opened_gates(&next).is_empty(), "{next:#?}");
    let report = cluster.execute(&set, &next).await;
    assert!(!report.failed && !report.again, "{report:?}");
    let on_server = api.get("web").await.unwrap().status.unwrap_or_default();
    assert_eq!(on_server.ready_replicas, Some(1), "{on_server:?}");
    cluster.stop().await;
}

#[tokio::test]
async fn a_plan_made_right_after_an_execution_sees_its_writes() {
    let cluster = Cluster::start().await;
    let set = cluster.create_set(2, Policy::OrderedReady).await;
    cluster.stop_watches().await;

    let first = cluster.plan(&set);
    assert_eq!(created_pods(&first), ["web-0"]);
    let report = cluster.execute(&set, &first).await;
    assert!(!report.failed && !report.again, "{report:?}");
    assert_eq!(cluster.pods_on_server().await, ["web-0"]);
    // With no watch running, the pod, its claim, the revision and the
    // status are cached all the same: the next plan repeats nothing.
    let set = cluster.set();
    let status = set.status.clone().unwrap_or_default();
    assert_eq!(status.observed_generation, Some(1), "{status:?}");
    assert!(status.update_revision.is_some(), "{status:?}");
    let second = cluster.plan(&set);
    assert!(created_pods(&second).is_empty(), "{second:?}");
    assert!(second.revision.is_none(), "{second:?}");
    assert!(
        second.waves.iter().flatten().next().is_none(),
        "nothing to do while web-0 is not Ready: {second:?}"
    );

    // Once web-0 is Ready (as the cache sees it), web-1 follows.
    cluster.make_ready("web-0").await;
    let set = cluster.set();
    let third = cluster.plan(&set);
    assert_eq!(created_pods(&third), ["web-1"]);
    cluster.execute(&set, &third).await;
    assert_eq!(cluster.pods_on_server().await, ["web-0", "web-1"]);
    cluster.stop().await;
}

#[tokio::test]
async fn a_scale_down_delete_is_not_sent_twice() {
    let cluster = Cluster::start().await;
    let set = cluster.create_set(1, Policy::Parallel).await;
    cluster.stop_watches().await;
    let first = cluster.plan(&set);
    cluster.execute(&set, &first).await;
    cluster.make_ready("web-0").await;

    let api: Api<StatefulSet> = Api::namespaced(cluster.client.clone(), NS);
    let scaled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
    let deleting = cluster.plan(&scaled);
    let deletes = deleting
        .actions()
        .filter(|a| matches!(a, super::super::Action::DeletePod { .. }))
        .count();
    assert_eq!(deletes, 1, "{deleting:?}");
    let report = cluster.execute(&scaled, &deleting).await;
    assert!(!report.failed, "{report:?}");
    // The pod is gone from the cache (or terminating there) at once: the
    // next plan does not delete it again.
    let again = cluster.plan(&scaled);
    assert!(
        !again
            .actions()
            .any(|a| matches!(a, super::super::Action::DeletePod { .. })),
        "{again:?}"
    );
    assert!(cluster.pods_on_server().await.is_empty());
    cluster.stop().await;
}

#[tokio::test]
async fn a_create_the_server_refuses_is_retried_with_the_upstream_event() {
    let cluster = Cluster::start().await;
    let set = cluster.create_set(1, Policy::OrderedReady).await;
    let mut planned = cluster.plan(&set);
    // A pod the server refuses: a container name that is not a DNS label.
    for action in planned.waves.iter_mut().flatten() {
        if let super::super::Action::CreatePod { pod, .. } = action {
            pod.spec.as_mut().unwrap().containers[0].name = "Not A Label".into();
        }
    }
    let report = cluster.execute(&set, &planned).await;
    assert!(report.failed, "{report:?}");
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), NS);
    let message = eventually("a FailedCreate event", || async {
        let list = events.list(&ListParams::default()).await.unwrap().items;
        list.into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedCreate"))
            .and_then(|e| e.message)
    })
    .await;
    assert!(
        message.starts_with("create Pod web-0 in StatefulSet web failed error:"),
        "{message}"
    );
    assert!(cluster.pods_on_server().await.is_empty());
    cluster.stop().await;
}

#[tokio::test]
async fn a_set_with_a_bad_annotation_gets_a_warning_and_is_left_as_it_is() {
    let cluster = Cluster::start().await;
    let stored = cluster.create_set(2, Policy::OrderedReady).await;
    // The set as another cluster's API server, which does not know ordinal's
    // annotations, would hold it (ours refuses the value).
    let mut set = (*stored).clone();
    set.metadata.annotations = Some(
        [(
            ordinal_core::set_policy::RESERVED_ORDINALS.to_string(),
            "x-".to_string(),
        )]
        .into(),
    );
    let planned = cluster.plan(&set);
    assert!(planned.actions().next().is_none() && planned.status.is_none());
    cluster.execute(&set, &planned).await;
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), NS);
    let (kind, message) = eventually("an InvalidAnnotation event", || async {
        let list = events.list(&ListParams::default()).await.unwrap().items;
        list.into_iter()
            .find(|e| e.reason.as_deref() == Some("InvalidAnnotation"))
            .map(|e| (e.type_.unwrap_or_default(), e.message.unwrap_or_default()))
    })
    .await;
    assert_eq!(kind, "Warning");
    assert!(
        message.contains(
            r#"metadata.annotations[ordinal.dev/reserved-ordinals]: Invalid value: "x-""#
        ),
        "{message}"
    );
    assert!(cluster.pods_on_server().await.is_empty(), "left as it is");
    cluster.stop().await;
}

/// One thing that happens to a set, played the same on the server and in
/// the simulation.
#[derive(Debug, Clone)]
enum Step {
    /// The controller plans and executes once; then terminating pods go.
    Sync,
    /// Every pod runs and is Ready.
    ReadyAll,
    Scale(i32),
    /// A new image: a new revision to roll out.
    Image(u8),
    Partition(i32),
    /// A user deletes the nth live pod (if there is one).
    DeletePod(usize),
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        5 => Just(Step::Sync),
        3 => Just(Step::ReadyAll),
        1 => (0..5i32).prop_map(Step::Scale),
        1 => (1..4u8).prop_map(Step::Image),
        1 => (0..4i32).prop_map(Step::Partition),
        1 => (0..4usize).prop_map(Step::DeletePod),
    ];
    proptest::collection::vec(step, 1..24)
}

/// A plan by what it does, leaving out what differs by nature between the
/// two sides (UIDs, resourceVersions, timestamps).
fn shape(plan: &Plan) -> Vec<String> {
    use super::super::Action;
    plan.actions()
        .map(|a| match a {
            Action::AdoptPod { name, .. } => format!("adopt pod {name}"),
            Action::ReleasePod { name, .. } => format!("release pod {name}"),
            Action::AdoptRevision { name, .. } => format!("adopt revision {name}"),
            Action::CreateRevision(r) => format!(
                "create revision {} ({})",
                r.metadata.name.as_deref().unwrap_or_default(),
                r.revision
            ),
            Action::UpdateRevision { name, revision, .. } => {
                format!("renumber revision {name} to {revision}")
            }
            Action::DeleteRevision { name, .. } => format!("delete revision {name}"),
            Action::CreatePod { pod, claims } => format!(
                "create pod {} with {} new claims",
                pod.metadata.name.as_deref().unwrap_or_default(),
                claims.len()
            ),
            Action::CreateClaims { pod, claims } => {
                format!("create {} claims of {pod}", claims.len())
            }
            Action::UpdatePod(p) => {
                format!(
                    "update pod {}",
                    p.metadata.name.as_deref().unwrap_or_default()
                )
            }
            Action::UpdateClaimOwners { claim, .. } => format!(
                "update owners of claim {}",
                claim.metadata.name.as_deref().unwrap_or_default()
            ),
            Action::UpdateClaim {
                name, expand_to, ..
            } => match expand_to {
                Some(size) => format!("expand claim {name} to {}", size.0),
                None => format!("update claim {name}"),
            },
            Action::UpdatePodInPlace { name, images, .. } => {
                format!("update pod {name} in place ({} images)", images.len())
            }
            Action::OpenGate { name, .. } => format!("open the gate of {name}"),
            Action::DeletePod { name, .. } => format!("delete pod {name}"),
        })
        .collect()
}

/// The status fields a user reads.
fn status_shape(set: &StatefulSet) -> String {
    let s = set.status.clone().unwrap_or_default();
    format!(
        "replicas {} ready {:?} current {:?} updated {:?} available {:?} \
         revisions {:?} → {:?} generation {:?}",
        s.replicas,
        s.ready_replicas,
        s.current_replicas,
        s.updated_replicas,
        s.available_replicas,
        s.current_revision,
        s.update_revision,
        s.observed_generation,
    )
}

/// Plays `steps` on a real API server with the real executor and in the
/// simulation; the first difference, if any.
async fn disagreement(policy: Policy, steps: &[Step]) -> Option<String> {
    let cluster = Cluster::start().await;
    let set = cluster.create_set(2, policy).await;
    cluster.stop_watches().await;
    let mut world = World::new((*set).clone());
    let mut found = None;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Sync => {
                let set = cluster.set();
                let (real, model) = (cluster.plan(&set), world.plan());
                if shape(&real) != shape(&model) {
                    found = Some(format!(
                        "step {i}: plans differ\n server: {:?}\n    sim: {:?}",
                        shape(&real),
                        shape(&model)
                    ));
                    break;
                }
                cluster.execute(&set, &real).await;
                world.apply(&model, |_| false);
                cluster.finish_terminating().await;
                world.finish_terminating();
                let (real, model) = (status_shape(&cluster.set()), status_shape(&world.set));
                if real != model {
                    found = Some(format!(
                        "step {i}: status differs\n server: {real}\n    sim: {model}"
                    ));
                    break;
                }
            }
            Step::ReadyAll => {
                cluster.ready_all().await;
                world.ready_all();
            }
            Step::Scale(n) => {
                let edited = cluster
                    .edit(serde_json::json!({"spec": {"replicas": n}}))
                    .await;
                world.follow(&edited);
            }
            Step::Image(n) => {
                let template = serde_json::json!({"spec": {"containers": [
                    {"name": "main", "image": format!("nginx:{n}")}
                ]}});
                let edited = cluster
                    .edit(serde_json::json!({"spec": {"template": template}}))
                    .await;
                world.follow(&edited);
            }
            Step::Partition(p) => {
                let strategy = serde_json::json!({"rollingUpdate": {"partition": p}});
                let edited = cluster
                    .edit(serde_json::json!({"spec": {"updateStrategy": strategy}}))
                    .await;
                world.follow(&edited);
            }
            Step::DeletePod(n) => {
                if let Some(name) = world.live_pods().get(*n).cloned() {
                    cluster.delete_pod(&name).await;
                    world.delete(&name);
                    cluster.finish_terminating().await;
                    world.finish_terminating();
                }
            }
        }
    }
    cluster.stop().await;
    found.map(|d| format!("{d}\nunder {policy:?} after {steps:?}"))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 32,
        max_shrink_iters: 64,
        ..Default::default()
    })]

    /// The simulation executes plans as the real executor and API server
    /// do: the same history gives the same plans and the same status.
    #[test]
    fn the_simulation_agrees_with_the_real_executor(
        parallel in proptest::bool::ANY,
        steps in steps(),
    ) {
        let policy = if parallel { Policy::Parallel } else { Policy::OrderedReady };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        if let Some(difference) = runtime.block_on(disagreement(policy, &steps)) {
            proptest::prop_assert!(false, "{difference}");
        }
    }
}
