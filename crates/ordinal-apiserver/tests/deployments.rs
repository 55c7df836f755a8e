//! apps/v1 Deployments and ReplicaSets on a real API server (TLS, a
//! loopback port, a kube client with k8s-openapi's types), as kubectl and
//! the Deployment and ReplicaSet controllers use them: upstream's defaults
//! on create, reads and lists, the `scale` subresource, the `status`
//! subresource (generation kept by status writes, status kept by spec
//! writes), the selector immutable, and the patches `kubectl rollout`
//! sends moving the generation the controller watches.
//! Status is written here as the controllers would; no controller runs.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

mod common;

use common::tls::TlsServer as Server;

async fn start() -> Server {
    Server::start().await
}

/// A strategic merge patch of the Deployment `web`, as kubectl sends.
async fn strategic(s: &Server, body: Value) -> (u16, Value) {
    s.call(
        "PATCH",
        &format!("{DEPLOYMENTS}/web"),
        "application/strategic-merge-patch+json",
        "application/json",
        Some(body),
    )
    .await
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const REPLICA_SETS: &str = "/apis/apps/v1/namespaces/default/replicasets";

fn web() -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
            }
        }
    }))
    .unwrap()
}

fn generation(object: &Value) -> i64 {
    object["metadata"]["generation"].as_i64().unwrap()
}

#[tokio::test]
async fn deployments_default_scale_and_keep_spec_and_status_apart() {
    let s = start().await;
    let api: Api<Deployment> = Api::namespaced(s.client.clone(), "default");

    // Create: upstream's apps/v1 defaults, generation 1, an empty status.
    let created = api.create(&PostParams::default(), &web()).await.unwrap();
    let created = serde_json::to_value(&created).unwrap();
    assert_eq!(created["spec"]["replicas"], 1);
    assert_eq!(
        created["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(created["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(created["spec"]["progressDeadlineSeconds"], 600);
    assert_eq!(
        created["spec"]["template"]["spec"]["restartPolicy"],
        "Always"
    );
    assert_eq!(generation(&created), 1);
    assert_eq!(created["status"], json!({}));

    // Read back and listed by label.
    let got = api.get("web").await.unwrap();
    assert_eq!(
        got.metadata.uid.as_deref(),
        created["metadata"]["uid"].as_str()
    );
    let listed = api
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // kubectl scale deploy web --replicas=3: a merge patch of the Scale.
    let scale = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    let scale = api.get_scale("web").await.unwrap();
    let status = scale.status.unwrap();
    assert_eq!(
        (status.replicas, status.selector.as_deref()),
        (0, Some("app=web"))
    );
    let (_, scaled) = s.json("GET", &format!("{DEPLOYMENTS}/web"), None).await;
    assert_eq!(scaled["spec"]["replicas"], 3);
    assert_eq!(generation(&scaled), 2);

    // The controller's status write keeps the spec and the generation ...
    let mut with_status = scaled.clone();
    with_status["spec"]["replicas"] = json!(7);
    with_status["status"] = json!({
        "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
        "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.",
                        "lastUpdateTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}]
    });
    let (code, stored) = s
        .json(
            "PUT",
            &format!("{DEPLOYMENTS}/web/status"),
            Some(with_status),
        )
        .await;
    assert_eq!(code, 200, "{stored}");
    assert_eq!(stored["spec"]["replicas"], 3);
    assert_eq!(stored["status"]["availableReplicas"], 3);
    assert_eq!(generation(&stored), 2);
    // ... and the Scale now reports the observed replicas.
    let status = api.get_scale("web").await.unwrap().status.unwrap();
    assert_eq!(status.replicas, 3);

    // A spec write keeps the status.
    let (code, patched) = s
        .call(
            "PATCH",
            &format!("{DEPLOYMENTS}/web"),
            "application/merge-patch+json",
            "application/json",
            Some(json!({"spec": {"minReadySeconds": 5}, "status": {"replicas": 0}})),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["status"]["replicas"], 3);
    assert_eq!(generation(&patched), 3);

    // A status the controller could not have observed is refused.
    let mut impossible = patched.clone();
    impossible["status"]["availableReplicas"] = json!(4);
    let (code, answer) = s
        .json(
            "PUT",
            &format!("{DEPLOYMENTS}/web/status"),
            Some(impossible),
        )
        .await;
    assert_eq!(code, 422, "{answer}");
    assert_eq!(
        answer["message"],
        "Deployment.apps \"web\" is invalid: [status.availableReplicas: Invalid value: 4: cannot be greater than status.replicas, status.availableReplicas: Invalid value: 4: cannot be greater than readyReplicas]"
    );

    // The selector never changes.
    let (code, answer) = s
        .call(
            "PATCH",
            &format!("{DEPLOYMENTS}/web"),
            "application/strategic-merge-patch+json",
            "application/json",
            Some(json!({"spec": {"selector": {"matchLabels": {"tier": "fe"}},
                                 "template": {"metadata": {"labels": {"tier": "fe"}}}}})),
        )
        .await;
    assert_eq!(code, 422, "{answer}");
    assert_eq!(answer["details"]["causes"][0]["field"], "spec.selector");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .ends_with("field is immutable"),
        "{answer}"
    );
    s.stop().await;
}

#[tokio::test]
async fn rollout_patches_move_the_generation_and_strategy_keeps_its_keys() {
    let s = start().await;
    let api: Api<Deployment> = Api::namespaced(s.client.clone(), "default");
    api.create(&PostParams::default(), &web()).await.unwrap();

    // kubectl rollout pause / resume: spec.paused.
    let (code, paused) = strategic(&s, json!({"spec": {"paused": true}})).await;
    assert_eq!(code, 200, "{paused}");
    assert_eq!(
        (paused["spec"]["paused"].clone(), generation(&paused)),
        (json!(true), 2)
    );

    // kubectl rollout restart: an annotation on the template.
    let (_, restarted) = strategic(
        &s,
        json!({"spec": {"template": {"metadata": {"annotations":
        {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}}),
    )
    .await;
    assert_eq!(generation(&restarted), 3);
    assert_eq!(
        restarted["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );

    // Annotations of the Deployment itself move the generation too (its
    // controller copies them to the ReplicaSets); labels do not.
    let (_, annotated) = strategic(
        &s,
        json!({"metadata": {"annotations": {"team": "storefront"}}}),
    )
    .await;
    assert_eq!(generation(&annotated), 4);
    let (_, labelled) =
        strategic(&s, json!({"metadata": {"labels": {"team": "storefront"}}})).await;
    assert_eq!(generation(&labelled), 4);

    // kubectl rollout undo: the template of an older revision, as a
    // strategic merge patch of the whole template.
    let (code, undone) = strategic(
        &s,
        json!({"spec": {"template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}
        }}}),
    )
    .await;
    assert_eq!(code, 200, "{undone}");
    assert_eq!(
        undone["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );

    // Recreate through kubectl apply's patch: `strategy` retains only the
    // keys the patch names, so rollingUpdate goes.
    let (code, recreate) = strategic(
        &s,
        json!({"spec": {"strategy": {
        "$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .await;
    assert_eq!(code, 200, "{recreate}");
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));

    // `rollingUpdate` with Recreate is refused with upstream's cause.
    let (code, answer) = strategic(
        &s,
        json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}),
    )
    .await;
    assert_eq!(code, 422, "{answer}");
    assert_eq!(
        answer["details"]["causes"][0],
        json!({"reason": "FieldValueForbidden",
               "message": "Forbidden: may not be specified when strategy `type` is 'Recreate'",
               "field": "spec.strategy.rollingUpdate"})
    );

    // kubectl get deploy: the Table's columns.
    let (code, table) = s
        .call(
            "GET",
            DEPLOYMENTS,
            "application/json",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            None,
        )
        .await;
    assert_eq!(code, 200, "{table}");
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "web");
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[7], "app=web");
    s.stop().await;
}

#[tokio::test]
async fn replica_sets_scale_and_report_status() {
    let s = start().await;
    let deployments: Api<Deployment> = Api::namespaced(s.client.clone(), "default");
    let owner = deployments
        .create(&PostParams::default(), &web())
        .await
        .unwrap();
    let api: Api<ReplicaSet> = Api::namespaced(s.client.clone(), "default");
    // A ReplicaSet as the Deployment controller makes it.
    let rs: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d4f8c7b9",
            "labels": {"app": "web", "pod-template-hash": "5d4f8c7b9"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": owner.metadata.uid.clone().unwrap(),
                                 "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}},
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
            }
        }
    }))
    .unwrap();
    let created =
        serde_json::to_value(api.create(&PostParams::default(), &rs).await.unwrap()).unwrap();
    assert_eq!(created["status"], json!({"replicas": 0}));
    assert_eq!(generation(&created), 1);
    assert_eq!(
        created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );

    // What kubectl rollout history reads: the ReplicaSets of the
    // Deployment's selector, with their revision annotation.
    let listed = api
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(
        listed.items[0]
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("1")
    );

    // The Deployment controller scales through a spec update; a Scale
    // PUT does the same.
    let mut scale = api.get_scale("web-5d4f8c7b9").await.unwrap();
    assert_eq!(
        scale.status.as_ref().and_then(|s| s.selector.as_deref()),
        Some("app=web,pod-template-hash=5d4f8c7b9")
    );
    scale.spec.as_mut().unwrap().replicas = Some(4);
    let scale = api
        .replace_scale("web-5d4f8c7b9", &PostParams::default(), &scale)
        .await
        .unwrap();
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(4));

    // Its controller's status write.
    let (_, mut current) = s
        .json("GET", &format!("{REPLICA_SETS}/web-5d4f8c7b9"), None)
        .await;
    assert_eq!(generation(&current), 2);
    current["status"] = json!({"replicas": 4, "fullyLabeledReplicas": 4, "readyReplicas": 2,
                               "availableReplicas": 2, "observedGeneration": 2});
    let (code, stored) = s
        .json(
            "PUT",
            &format!("{REPLICA_SETS}/web-5d4f8c7b9/status"),
            Some(current.clone()),
        )
        .await;
    assert_eq!(code, 200, "{stored}");
    assert_eq!(stored["status"]["readyReplicas"], 2);
    let mut miscounted = stored.clone();
    miscounted["status"]["fullyLabeledReplicas"] = json!(5);
    let (code, answer) = s
        .json(
            "PUT",
            &format!("{REPLICA_SETS}/web-5d4f8c7b9/status"),
            Some(miscounted),
        )
        .await;
    assert_eq!(code, 422, "{answer}");
    assert_eq!(
        answer["details"]["causes"][0]["field"],
        "status.fullyLabeledReplicas"
    );

    // kubectl get rs.
    let (_, table) = s
        .call(
            "GET",
            REPLICA_SETS,
            "application/json",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            None,
        )
        .await;
    assert_eq!(
        table["rows"][0]["cells"],
        json!([
            "web-5d4f8c7b9",
            4,
            4,
            2,
            table["rows"][0]["cells"][4],
            "nginx",
            "nginx:1.27",
            "app=web,pod-template-hash=5d4f8c7b9"
        ])
    );

    // A ReplicaSet without a selector says so.
    let (code, answer) = s
        .json(
            "POST",
            REPLICA_SETS,
            Some(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "bare"},
                "spec": {"template": {"metadata": {"labels": {"app": "x"}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})),
        )
        .await;
    assert_eq!(code, 422, "{answer}");
    assert_eq!(
        answer["details"]["causes"][0],
        json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"})
    );
    s.stop().await;
}
