//! The API server's router driven in-process (no TLS, no client retries):
//! resourceVersion edge cases and watch semantics that clients react to.

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;

use common::*;

/// Generated clients (kr8s, the Python client) ask for discovery with a
/// trailing slash; each spelling gets the same document.
#[tokio::test]
async fn discovery_answers_with_and_without_a_trailing_slash() {
    let h = bootstrapped(100).await;
    for path in [
        "/version",
        "/api",
        "/apis",
        "/apis/apps",
        "/api/v1",
        "/apis/apps/v1",
    ] {
        let (code, plain) = h.call("GET", path, None).await;
        assert_eq!(code, StatusCode::OK, "{path}");
        let slashed = format!("{path}/");
        let (code, with_slash) = h.call("GET", &slashed, None).await;
        assert_eq!(code, StatusCode::OK, "{slashed}: {with_slash}");
        assert_eq!(plain, with_slash, "{slashed}");
    }
    let (code, status) = h.call("GET", "/apis/nosuch.example.com/", None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(status["kind"], "Status");
}

#[tokio::test]
async fn list_from_a_future_revision_is_a_504_with_retry_after() {
    let h = bootstrapped(100).await;
    let (code, status) = h
        .call(
            "GET",
            "/api/v1/namespaces/default/configmaps?resourceVersion=999",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
}

#[tokio::test]
async fn exact_list_shows_the_past_and_continue_pins_the_first_page() {
    let h = bootstrapped(100).await;
    let rv1 = h.create_cm("a", json!({})).await;
    h.create_cm("b", json!({})).await;
    let (_, past) = h.call("GET", &format!("/api/v1/namespaces/default/configmaps?resourceVersion={rv1}&resourceVersionMatch=Exact"), None).await;
    let names: Vec<&str> = past["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(past["metadata"]["resourceVersion"], rv1.to_string());

    let (_, page) = h
        .call("GET", "/api/v1/namespaces/default/configmaps?limit=1", None)
        .await;
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    // A write between pages does not show up in the second page.
    h.create_cm("c", json!({})).await;
    let (_, rest) = h
        .call(
            "GET",
            &format!("/api/v1/namespaces/default/configmaps?limit=5&continue={token}"),
            None,
        )
        .await;
    let names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b"]);
    assert!(rest["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn watch_from_a_revision_older_than_history_gets_an_in_stream_410() {
    let h = bootstrapped(3).await;
    let first = h.create_cm("first", json!({})).await;
    for i in 0..10 {
        h.create_cm(&format!("cm-{i}"), json!({})).await;
    }
    let lines = h
        .watch_lines(
            &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={first}"),
            1,
        )
        .await;
    assert_eq!(lines[0]["type"], "ERROR");
    assert_eq!(lines[0]["object"]["code"], 410);
    assert_eq!(lines[0]["object"]["reason"], "Expired");
}

#[tokio::test]
async fn watch_replays_then_streams_and_follows_selectors() {
    let h = bootstrapped(100).await;
    h.create_cm("seen", json!({"app": "web"})).await;
    h.create_cm("hidden", json!({"app": "db"})).await;
    let uri = "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=app%3Dweb";
    let router = h.router.clone();
    let store = h.store.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let h2 = Harness {
            router,
            store,
            _dir: tempfile::tempdir().unwrap(),
            _shutdown: tokio::sync::watch::channel(false).0,
        };
        // "hidden" starts matching: ADDED; "seen" stops matching: DELETED.
        let (code, _) = h2
            .call(
                "PATCH",
                "/api/v1/namespaces/default/configmaps/hidden",
                None,
            )
            .await;
        assert_eq!(
            code,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a PATCH without a patch content type"
        );
        for (name, app) in [("hidden", "web"), ("seen", "db")] {
            let request = Request::builder()
                .method("PATCH")
                .uri(format!("/api/v1/namespaces/default/configmaps/{name}"))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/merge-patch+json")
                .body(Body::from(
                    json!({"metadata": {"labels": {"app": app}}}).to_string(),
                ))
                .unwrap();
            let response = h2.router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    });
    let lines = h.watch_lines(uri, 3).await;
    writer.await.unwrap();
    let summary: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["type"].as_str().unwrap().to_string(),
                l["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ADDED".into(), "seen".into()),
            ("ADDED".into(), "hidden".into()),
            ("DELETED".into(), "seen".into())
        ]
    );
}

#[tokio::test]
async fn send_initial_events_ends_with_the_marked_bookmark() {
    let h = bootstrapped(100).await;
    h.create_cm("one", json!({})).await;
    let lines = h
        .watch_lines("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan", 2)
        .await;
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(lines[1]["type"], "BOOKMARK");
    assert_eq!(
        lines[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(lines[1]["object"]["kind"], "ConfigMap");
}

#[tokio::test]
async fn generation_moves_with_spec_and_status_writes_keep_spec() {
    let h = bootstrapped(100).await;
    let sts = json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    });
    let (code, created) = h
        .call(
            "POST",
            "/apis/apps/v1/namespaces/default/statefulsets",
            Some(sts),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(3);
    scaled["status"] = json!({"replicas": 99});
    let (_, after) = h
        .call(
            "PUT",
            "/apis/apps/v1/namespaces/default/statefulsets/web",
            Some(scaled),
        )
        .await;
    assert_eq!(after["metadata"]["generation"], 2);
    assert_eq!(
        created["status"],
        json!({"replicas": 0, "availableReplicas": 0})
    );
    assert_eq!(
        after["status"], created["status"],
        "main writes do not set status: {after}"
    );
    let mut status = after.clone();
    status["status"] = json!({"replicas": 3, "readyReplicas": 1});
    status["spec"]["replicas"] = json!(7);
    let (code, after) = h
        .call(
            "PUT",
            "/apis/apps/v1/namespaces/default/statefulsets/web/status",
            Some(status),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{after}");
    assert_eq!(after["status"]["readyReplicas"], 1);
    assert_eq!(after["spec"]["replicas"], 3);
    assert_eq!(after["metadata"]["generation"], 2);
}

const WEB: &str = "/apis/apps/v1/namespaces/default/statefulsets/web";

async fn with_web_set() -> Harness {
    let h = bootstrapped(100).await;
    let sts = json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    });
    let (code, body) = h
        .call(
            "POST",
            "/apis/apps/v1/namespaces/default/statefulsets",
            Some(sts),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    h
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    let h = with_web_set().await;
    let (code, scale) = h.call("GET", &format!("{WEB}/scale"), None).await;
    assert_eq!(code, StatusCode::OK, "{scale}");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=web");

    // kubectl scale: a merge patch of the Scale.
    let (code, scale) = h
        .call_as(
            "PATCH",
            &format!("{WEB}/scale"),
            "application/merge-patch+json",
            Some(json!({"spec": {"replicas": 5}})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{scale}");
    assert_eq!(scale["spec"]["replicas"], 5);
    let (_, set) = h.call("GET", WEB, None).await;
    assert_eq!(set["spec"]["replicas"], 5);
    assert_eq!(set["metadata"]["generation"], 2);

    // PUT with a stale resourceVersion is a conflict on the set.
    let mut stale = scale.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    stale["spec"]["replicas"] = json!(1);
    let (code, status) = h.call("PUT", &format!("{WEB}/scale"), Some(stale)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{status}");
    let mut fresh = scale.clone();
    fresh["spec"]["replicas"] = json!(1);
    let (code, scale) = h.call("PUT", &format!("{WEB}/scale"), Some(fresh)).await;
    assert_eq!(code, StatusCode::OK, "{scale}");
    assert_eq!(scale["spec"]["replicas"], 1);

    let (code, status) = h
        .call_as(
            "PATCH",
            &format!("{WEB}/scale"),
            "application/merge-patch+json",
            Some(json!({"spec": {"replicas": -1}})),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.replicas");
    let (code, _) = h
        .call(
            "GET",
            "/apis/apps/v1/namespaces/default/statefulsets/nope/scale",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

async fn create_pod(h: &Harness, name: &str) {
    let pod =
        json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let (code, body) = h
        .call("POST", "/api/v1/namespaces/default/pods", Some(pod))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn binding_assigns_a_node_once() {
    let h = bootstrapped(100).await;
    create_pod(&h, "p").await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "p", "annotations": {"scheduled-by": "test"}},
        "target": {"kind": "Node", "name": "node-1"}});
    let uri = "/api/v1/namespaces/default/pods/p/binding";
    let (code, status) = h.call("POST", uri, Some(binding.clone())).await;
    assert_eq!(code, StatusCode::CREATED, "{status}");
    assert_eq!(status["status"], "Success");
    let (_, pod) = h
        .call("GET", "/api/v1/namespaces/default/pods/p", None)
        .await;
    assert_eq!(pod["spec"]["nodeName"], "node-1");
    assert_eq!(pod["metadata"]["annotations"]["scheduled-by"], "test");
    assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(pod["status"]["conditions"][0]["status"], "True");

    let (code, status) = h.call("POST", uri, Some(binding)).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"node-1\""
    );
    let (code, _) = h
        .call(
            "POST",
            uri,
            Some(json!({"metadata": {"name": "other"}, "target": {"name": "n"}})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    create_pod(&h, "q").await;
    let (code, status) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/pods/q/binding",
            Some(json!({"metadata": {"name": "q"}, "target": {"kind": "Pod"}})),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["details"]["causes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn eviction_deletes_the_pod() {
    let h = bootstrapped(100).await;
    create_pod(&h, "p").await;
    let uri = "/api/v1/namespaces/default/pods/p/eviction";
    let (code, _) = h
        .call(
            "POST",
            uri,
            Some(json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "x"}})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"},
                          "deleteOptions": {"gracePeriodSeconds": 0}});
    let (code, status) = h.call("POST", uri, Some(eviction.clone())).await;
    assert_eq!(code, StatusCode::CREATED, "{status}");
    let (code, _) = h
        .call("GET", "/api/v1/namespaces/default/pods/p", None)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = h.call("POST", uri, Some(eviction)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

impl Harness {
    async fn patch(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call_as("PATCH", uri, "application/merge-patch+json", Some(body))
            .await
    }
}

fn causes(status: &Value) -> Vec<(String, String, String)> {
    status["details"]["causes"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["field"].as_str().unwrap_or("").to_string(),
                        c["reason"].as_str().unwrap_or("").to_string(),
                        c["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn created_objects_are_stored_with_upstream_defaults() {
    let h = bootstrapped(100).await;
    let (code, pod) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            Some(json!({"metadata": {"name": "web-0"},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                 "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}]}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{pod}");
    let (_, stored) = h
        .call("GET", "/api/v1/namespaces/default/pods/web-0", None)
        .await;
    assert_eq!(stored, pod);
    let spec = &stored["spec"];
    for (field, value) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("serviceAccountName", json!("default")),
        ("serviceAccount", json!("default")),
        ("enableServiceLinks", json!(true)),
        ("priority", json!(0)),
    ] {
        assert_eq!(spec[field], value, "{field}");
    }
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        spec["containers"][0]["resources"]["requests"],
        json!({"cpu": "1", "memory": "64Mi"})
    );
    assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
    assert_eq!(
        stored["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );

    // The newest class annotated as default is given to claims without one.
    for (name, default) in [("slow", "true"), ("fast", "true"), ("other", "false")] {
        let (code, class) = h
            .call(
                "POST",
                "/apis/storage.k8s.io/v1/storageclasses",
                Some(json!({"metadata": {"name": name, "annotations": {
                                "storageclass.kubernetes.io/is-default-class": default}},
                            "provisioner": "ordinal.dev/hostpath"})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{class}");
        assert_eq!(class["reclaimPolicy"], "Delete");
        assert_eq!(class["volumeBindingMode"], "Immediate");
        // Creation timestamps have one-second resolution.
        if name == "slow" {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
    let (code, claim) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/persistentvolumeclaims",
            Some(json!({"metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{claim}");
    assert_eq!(claim["spec"]["storageClassName"], "fast");
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
    assert_eq!(claim["status"], json!({"phase": "Pending"}));
}

#[tokio::test]
async fn invalid_objects_are_422_with_field_causes() {
    let h = bootstrapped(100).await;
    let (code, status) = h
        .call(
            "POST",
            "/apis/apps/v1/namespaces/default/statefulsets",
            Some(json!({"metadata": {"name": "web"}, "spec": {
                "replicas": -1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                             "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        "StatefulSet.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, \
         spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`]"
    );
    assert_eq!(
        causes(&status),
        [
            (
                "spec.replicas".to_string(),
                "FieldValueInvalid".to_string(),
                "Invalid value: -1: must be greater than or equal to 0".to_string()
            ),
            (
                "spec.template.metadata.labels".to_string(),
                "FieldValueInvalid".to_string(),
                "Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`".to_string()
            ),
        ]
    );
    let (_, gone) = h
        .call(
            "GET",
            "/apis/apps/v1/namespaces/default/statefulsets/web",
            None,
        )
        .await;
    assert_eq!(gone["reason"], "NotFound", "nothing was stored");

    let (code, status) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/pods?dryRun=All",
            Some(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})),
        )
        .await;
    assert_eq!(
        code,
        StatusCode::UNPROCESSABLE_ENTITY,
        "dry runs are validated too"
    );
    assert_eq!(
        causes(&status),
        [(
            "spec.containers[0].image".to_string(),
            "FieldValueRequired".to_string(),
            "Required value".to_string()
        )]
    );
}

#[tokio::test]
async fn immutable_fields_are_rejected_on_update() {
    let h = bootstrapped(100).await;
    let (code, created) = h
        .call(
            "POST",
            "/apis/apps/v1/namespaces/default/statefulsets",
            Some(json!({"metadata": {"name": "web"}, "spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let sts = "/apis/apps/v1/namespaces/default/statefulsets/web";
    let (code, status) = h
        .patch(sts, json!({"spec": {"serviceName": "other"}}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        causes(&status),
        [(
            "spec".to_string(),
            "FieldValueForbidden".to_string(),
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_string()
        )]
    );
    let (code, scaled) = h.patch(sts, json!({"spec": {"replicas": 3}})).await;
    assert_eq!(code, StatusCode::OK, "{scaled}");
    assert_eq!(scaled["spec"]["replicas"], 3);

    // A PUT that leaves defaulted fields out keeps them.
    let mut replaced = scaled.clone();
    replaced["spec"]
        .as_object_mut()
        .unwrap()
        .remove("podManagementPolicy");
    let (code, kept) = h.call("PUT", sts, Some(replaced)).await;
    assert_eq!(code, StatusCode::OK, "{kept}");
    assert_eq!(kept["spec"]["podManagementPolicy"], "OrderedReady");

    let (code, status) = h
        .call(
            "PUT",
            &format!("{sts}/status"),
            Some(
                json!({"metadata": {"name": "web"}, "status": {"replicas": 1, "readyReplicas": 2}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(causes(&status)[0].0, "status.readyReplicas");

    let (code, pod) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            // Without the token volume, whose mount a merge patch of
            // `containers` would drop (a change upstream refuses too).
            Some(json!({"metadata": {"name": "p"}, "spec": {"automountServiceAccountToken": false, "containers": [{"name": "c", "image": "i:1"}]}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{pod}");
    let pod_uri = "/api/v1/namespaces/default/pods/p";
    let (code, status) = h
        .patch(pod_uri, json!({"spec": {"restartPolicy": "Never"}}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    let (field, reason, message) = &causes(&status)[0];
    assert_eq!(
        (field.as_str(), reason.as_str()),
        ("spec", "FieldValueForbidden")
    );
    assert!(
        message.starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
        ),
        "{message}"
    );
    let (code, updated) = h
        .patch(
            pod_uri,
            json!({"spec": {"containers": [{"name": "c", "image": "i:2"}]}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["spec"]["containers"][0]["image"], "i:2");
}

#[tokio::test]
async fn storage_objects_are_protected_and_claims_grow_only_where_allowed() {
    let h = bootstrapped(100).await;
    for (name, expand) in [("grows", true), ("fixed", false)] {
        let (code, body) = h
            .call(
                "POST",
                "/apis/storage.k8s.io/v1/storageclasses",
                Some(
                    json!({"metadata": {"name": name}, "provisioner": "ordinal.dev/local-path",
                            "allowVolumeExpansion": expand}),
                ),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
    // StorageObjectInUseProtection: the finalizers come with the objects.
    let claims = "/api/v1/namespaces/default/persistentvolumeclaims";
    for (name, class) in [("a", "grows"), ("b", "fixed")] {
        let (code, claim) = h
            .call(
                "POST",
                claims,
                Some(json!({"metadata": {"name": name},
                            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                                     "resources": {"requests": {"storage": "1Gi"}}}})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{claim}");
        assert_eq!(
            claim["metadata"]["finalizers"],
            json!(["kubernetes.io/pvc-protection"])
        );
    }
    let (code, pv) = h
        .call(
            "POST",
            "/api/v1/persistentvolumes",
            Some(json!({"metadata": {"name": "pv1"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                                 "hostPath": {"path": "/srv/pv1"}}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{pv}");
    assert_eq!(
        pv["metadata"]["finalizers"],
        json!(["kubernetes.io/pv-protection"])
    );

    // Paths with backsteps are invalid, for hostPath and local volumes.
    for source in [
        json!({"hostPath": {"path": "/srv/../etc"}}),
        json!({"local": {"path": "/srv/../etc"},
               "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                   {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n"]}]}]}}}),
    ] {
        let kind = if source.get("local").is_some() {
            "local"
        } else {
            "hostPath"
        };
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}});
        for (k, v) in source.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let (code, status) = h
            .call(
                "POST",
                "/api/v1/persistentvolumes",
                Some(json!({"metadata": {"name": "escape"}, "spec": spec})),
            )
            .await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
        assert_eq!(
            causes(&status),
            vec![(
                format!("spec.{kind}.path"),
                "FieldValueInvalid".to_string(),
                "Invalid value: \"/srv/../etc\": must not contain '..'".to_string(),
            )]
        );
    }

    // Bind both claims through their status, as the binder would.
    for name in ["a", "b"] {
        let (code, body) = h
            .patch(
                &format!("{claims}/{name}/status"),
                json!({"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}),
            )
            .await;
        assert!(code.is_success(), "{body}");
    }
    let grow = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}});
    let patch = |name: &str, body: Value| {
        let uri = format!("{claims}/{name}");
        let h = &h;
        async move { h.patch(&uri, body).await }
    };
    let (code, body) = patch("a", grow.clone()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, status) = patch("b", grow.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{status}");
    assert_eq!(
        status["message"],
        "persistentvolumeclaims \"b\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
    );
    // Shrinking below what the claim has is invalid.
    let (code, status) = patch(
        "a",
        json!({"spec": {"resources": {"requests": {"storage": "512Mi"}}}}),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        causes(&status)[0].2,
        "Forbidden: field can not be less than status.capacity"
    );
}

#[tokio::test]
async fn runtime_classes_are_served_and_pods_are_admitted_against_them() {
    let h = bootstrapped(100).await;
    let classes = "/apis/node.k8s.io/v1/runtimeclasses";
    let (code, created) = h
        .call(
            "POST",
            classes,
            Some(
                json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                        "metadata": {"name": "sandboxed"}, "handler": "runsc",
                        "overhead": {"podFixed": {"cpu": "250m", "memory": "64Mi"}},
                        "scheduling": {"nodeSelector": {"sandbox": "yes"},
                                       "tolerations": [{"key": "sandbox", "operator": "Exists",
                                                        "effect": "NoSchedule"}]}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert!(created["metadata"].get("namespace").is_none());
    // The handler may not change; 422 with upstream's cause.
    let (code, status) = h
        .patch(&format!("{classes}/sandboxed"), json!({"handler": "kata"}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        causes(&status),
        vec![(
            "handler".to_string(),
            "FieldValueInvalid".to_string(),
            "Invalid value: \"kata\": field is immutable".to_string()
        )]
    );

    let pods = "/api/v1/namespaces/default/pods";
    let pod = |name: &str, spec: Value| {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
        json!({"metadata": {"name": name}, "spec": spec})
    };
    // An unknown class: 403 in upstream's words.
    let (code, status) = h
        .call(
            "POST",
            pods,
            Some(pod("lost", json!({"runtimeClassName": "x"}))),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{status}");
    assert_eq!(
        status["message"],
        "pods \"lost\" is forbidden: pod rejected: RuntimeClass \"x\" not found"
    );
    assert_eq!(status["reason"], "Forbidden");
    // A known class: its overhead and scheduling land on the pod.
    let (code, admitted) = h
        .call(
            "POST",
            pods,
            Some(pod(
                "boxed",
                json!({"runtimeClassName": "sandboxed",
                                     "nodeSelector": {"disk": "ssd"}}),
            )),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{admitted}");
    assert_eq!(
        admitted["spec"]["overhead"],
        json!({"cpu": "250m", "memory": "64Mi"})
    );
    assert_eq!(
        admitted["spec"]["nodeSelector"],
        json!({"disk": "ssd", "sandbox": "yes"})
    );
    let tolerations = admitted["spec"]["tolerations"].as_array().unwrap();
    assert!(
        tolerations.iter().any(|t| t["key"] == "sandbox"),
        "{tolerations:?}"
    );
    // The pod's own, contradicting choices are refused.
    let (code, status) = h
        .call(
            "POST",
            pods,
            Some(pod(
                "greedy",
                json!({"runtimeClassName": "sandboxed",
                                      "overhead": {"cpu": "1"}}),
            )),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{status}");
    assert_eq!(
        status["message"],
        "pods \"greedy\" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
    );
    let (code, status) = h
        .call(
            "POST",
            pods,
            Some(pod("classless", json!({"overhead": {"cpu": "1"}}))),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{status}");
    assert_eq!(
        status["message"],
        "pods \"classless\" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
    );
    // Deleting a class answers with a Status, as upstream's registry.
    let (code, status) = h
        .call("DELETE", &format!("{classes}/sandboxed"), None)
        .await;
    assert_eq!(code, StatusCode::OK, "{status}");
    assert_eq!(status["kind"], "Status");
}
