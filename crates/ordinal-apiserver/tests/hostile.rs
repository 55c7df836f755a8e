//! What a hostile or careless client sends, through the router in-process:
//! patches that produce objects of the wrong type or grow without bound,
//! names and grace periods upstream refuses, and requests upstream parses
//! in its own particular way. Each case answers as upstream's API server
//! does and leaves the store as it was.

mod common;

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use common::*;

const PODS: &str = "/api/v1/namespaces/default/pods";
const CMS: &str = "/api/v1/namespaces/default/configmaps";
const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const MERGE: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

async fn with_objects() -> Harness {
    let h = bootstrapped(100).await;
    for (uri, body) in [
        (
            PODS,
            json!({"metadata": {"name": "web-1"},
                   "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
        ),
        (
            CMS,
            json!({"metadata": {"name": "cfg"}, "data": {"a": "1"}}),
        ),
        (
            SECRETS,
            json!({"metadata": {"name": "s"}, "data": {"a": "MQ=="}}),
        ),
    ] {
        let (code, body) = h.call("POST", uri, Some(body)).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
    h
}

// Item 1: every patch type's result is decoded against the type.

#[tokio::test]
async fn patches_that_produce_a_value_of_the_wrong_type_are_refused() {
    let h = with_objects().await;
    let pod = format!("{PODS}/web-1");
    let cm = format!("{CMS}/cfg");
    let secret = format!("{SECRETS}/s");
    let cases: Vec<(&str, &str, Value)> = vec![
        (&pod, MERGE, json!({"metadata": {"labels": {"x": 5}}})),
        (&pod, STRATEGIC, json!({"metadata": {"labels": {"x": 5}}})),
        (
            &pod,
            JSON_PATCH,
            json!([{"op": "add", "path": "/metadata/labels", "value": {"x": 5}}]),
        ),
        (
            &pod,
            JSON_PATCH,
            json!([{"op": "replace", "path": "/spec/containers", "value": {"name": "web"}}]),
        ),
        (&cm, MERGE, json!({"data": {"a": 5}})),
        (&secret, MERGE, json!({"data": {"a": "not base64!"}})),
    ];
    for (uri, content_type, patch) in cases {
        let before = h.call("GET", uri, None).await.1;
        let raw = h
            .call_bytes("PATCH", uri, content_type, patch.to_string())
            .await;
        let status = raw.json();
        assert_eq!(
            raw.code,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{patch}: {status}"
        );
        assert_eq!(status["reason"], "Invalid", "{status}");
        assert_eq!(status["details"]["causes"][0]["field"], "patch", "{status}");
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .starts_with(" \"\" is invalid: patch: Invalid value: \"{"),
            "{status}"
        );
        assert_eq!(
            h.call("GET", uri, None).await.1,
            before,
            "{patch} changed the object"
        );
    }
    // The status subresource too.
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{pod}/status"),
            MERGE,
            json!({"status": {"phase": 5}}).to_string(),
        )
        .await;
    assert_eq!(raw.code, StatusCode::UNPROCESSABLE_ENTITY, "{}", raw.json());
    // A well-typed patch still works.
    let raw = h
        .call_bytes(
            "PATCH",
            &pod,
            MERGE,
            json!({"metadata": {"labels": {"x": "5"}}}).to_string(),
        )
        .await;
    assert_eq!(raw.code, StatusCode::OK, "{}", raw.json());
}

#[tokio::test]
async fn wrong_types_are_refused_even_when_field_validation_is_ignore() {
    let h = with_objects().await;
    let raw = h
        .call_bytes(
            "POST",
            &format!("{CMS}?fieldValidation=Ignore"),
            "application/json",
            json!({"metadata": {"name": "typed"}, "data": {"a": 5}}).to_string(),
        )
        .await;
    assert_eq!(raw.code, StatusCode::BAD_REQUEST, "{}", raw.json());
    let raw = h
        .call_bytes(
            "PUT",
            &format!("{CMS}/cfg?fieldValidation=Ignore"),
            "application/json",
            json!({"metadata": {"name": "cfg"}, "data": {"a": 5}}).to_string(),
        )
        .await;
    assert_eq!(raw.code, StatusCode::BAD_REQUEST, "{}", raw.json());
    let (code, _) = h.call("GET", &format!("{CMS}/typed"), None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

// Item 2: JSON patches are bounded in operations and in what they build.

#[tokio::test]
async fn json_patches_over_ten_thousand_operations_are_413() {
    let h = with_objects().await;
    let path = format!("{CMS}/cfg");
    let patch_of = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|_| json!({"op": "test", "path": "/kind", "value": "ConfigMap"}))
            .collect();
        h.call_bytes("PATCH", &path, JSON_PATCH, Value::Array(ops).to_string())
    };
    let raw = patch_of(10_001).await;
    assert_eq!(raw.code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        raw.json()["message"],
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
    // Exactly ten thousand is allowed.
    let raw = patch_of(10_000).await;
    assert_eq!(raw.code, StatusCode::OK, "{}", raw.json());
}

#[tokio::test]
async fn copies_that_would_grow_an_object_past_three_mebibytes_are_refused() {
    let h = with_objects().await;
    // Doubling a growing map: 40 copies would build 2^40 entries.
    let mut patch = vec![
        json!({"op": "add", "path": "/metadata/annotations", "value": {"seed": "x".repeat(1000)}}),
    ];
    for i in 0..40 {
        patch.push(json!({"op": "copy", "from": "/metadata/annotations", "path": format!("/metadata/annotations/k{i}")}));
    }
    let body = Value::Array(patch).to_string();
    assert!(body.len() < 10_000);
    let raw = h
        .call_bytes("PATCH", &format!("{CMS}/cfg"), JSON_PATCH, body)
        .await;
    assert_eq!(raw.code, StatusCode::UNPROCESSABLE_ENTITY, "{}", raw.json());
    let message = raw.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("Unable to complete the copy, the accumulated size increase of copy is")
            && message.contains("exceeding the limit 3145728"),
        "{message}"
    );
    // Nesting: each add puts an 80-deep value inside the previous one.
    let deep = |n: usize| {
        let mut v = json!("leaf");
        for _ in 0..n {
            v = json!({ "d": v });
        }
        v
    };
    let mut patch = vec![json!({"op": "add", "path": "/metadata/annotations", "value": {}})];
    patch.push(json!({"op": "add", "path": "/metadata/annotations/x", "value": deep(80)}));
    let mut path = "/metadata/annotations/x".to_string();
    path.push_str(&"/d".repeat(80));
    patch.push(json!({"op": "replace", "path": path, "value": deep(80)}));
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{CMS}/cfg"),
            JSON_PATCH,
            Value::Array(patch).to_string(),
        )
        .await;
    assert_eq!(raw.code, StatusCode::UNPROCESSABLE_ENTITY, "{}", raw.json());
    assert!(
        raw.json()["message"]
            .as_str()
            .unwrap()
            .contains("levels deep"),
        "{}",
        raw.json()
    );
}

#[tokio::test]
async fn merge_and_strategic_patches_cannot_store_objects_past_the_limit() {
    let h = with_objects().await;
    let events = "/api/v1/namespaces/default/events";
    let (code, body) = h
        .call(
            "POST",
            events,
            Some(json!({"metadata": {"name": "e"},
                        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    // Two patches under the body limit each, whose sum is over the object
    // limit.
    let two_mib = "x".repeat(2 * 1024 * 1024);
    let uri = format!("{events}/e");
    let raw = h
        .call_bytes(
            "PATCH",
            &uri,
            MERGE,
            json!({"message": two_mib}).to_string(),
        )
        .await;
    assert_eq!(raw.code, StatusCode::OK, "{}", raw.json());
    for content_type in [MERGE, STRATEGIC] {
        let raw = h
            .call_bytes(
                "PATCH",
                &uri,
                content_type,
                json!({"reason": two_mib}).to_string(),
            )
            .await;
        assert_eq!(raw.code, StatusCode::PAYLOAD_TOO_LARGE, "{}", raw.json());
        assert_eq!(raw.json()["reason"], "RequestEntityTooLarge");
    }
    let (_, stored) = h.call("GET", &uri, None).await;
    assert!(stored.get("reason").is_none());
}

// Item 8: volume and claim names are DNS subdomains.

#[tokio::test]
async fn volume_and_claim_names_are_dns_subdomains() {
    let h = bootstrapped(100).await;
    let long = "a".repeat(254);
    for name in ["UP", "-a", long.as_str(), "a_b", "a..b"] {
        let (code, status) = h
            .call(
                "POST",
                "/api/v1/namespaces/default/persistentvolumeclaims",
                Some(json!({"metadata": {"name": name},
                            "spec": {"accessModes": ["ReadWriteOnce"],
                                     "resources": {"requests": {"storage": "1Gi"}}}})),
            )
            .await;
        assert_eq!(
            code,
            StatusCode::UNPROCESSABLE_ENTITY,
            "claim {name}: {status}"
        );
        assert_eq!(
            status["details"]["causes"][0]["field"], "metadata.name",
            "{status}"
        );
        let (code, status) = h
            .call(
                "POST",
                "/api/v1/persistentvolumes",
                Some(json!({"metadata": {"name": name},
                            "spec": {"accessModes": ["ReadWriteOnce"],
                                     "capacity": {"storage": "1Gi"},
                                     "hostPath": {"path": "/tmp/x"}}})),
            )
            .await;
        assert_eq!(
            code,
            StatusCode::UNPROCESSABLE_ENTITY,
            "volume {name}: {status}"
        );
    }
    let (code, status) = h
        .call(
            "POST",
            "/api/v1/persistentvolumes",
            Some(json!({"metadata": {"name": "pvc-1.data"},
                        "spec": {"accessModes": ["ReadWriteOnce"],
                                 "capacity": {"storage": "1Gi"},
                                 "hostPath": {"path": "/tmp/x"}}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{status}");
}

// Item 9: grace periods as upstream stores them, and no arithmetic on them
// that can fail.

#[tokio::test]
async fn negative_grace_periods_become_one_and_huge_ones_saturate() {
    let h = bootstrapped(100).await;
    let pod = |name: &str, grace: i64| {
        json!({"metadata": {"name": name},
               "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": grace,
                        "containers": [{"name": "c", "image": "busybox"}]}})
    };
    let (code, created) = h.call("POST", PODS, Some(pod("negative", -5))).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["spec"]["terminationGracePeriodSeconds"], 1);
    let (code, created) = h.call("POST", PODS, Some(pod("forever", i64::MAX))).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let (code, deleting) = h.call("DELETE", &format!("{PODS}/forever"), None).await;
    assert_eq!(code, StatusCode::OK, "{deleting}");
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], i64::MAX);
    assert_eq!(
        deleting["metadata"]["deletionTimestamp"],
        "9999-12-30T22:00:00Z"
    );
    // Shortening it by the most negative period there is: no overflow.
    let (code, status) = h
        .call(
            "DELETE",
            &format!("{PODS}/forever?gracePeriodSeconds={}", i64::MIN),
            None,
        )
        .await;
    assert!(code.is_success(), "{code}: {status}");
    let (code, status) = h
        .call(
            "DELETE",
            &format!("{PODS}/negative?gracePeriodSeconds={}", i64::MAX),
            None,
        )
        .await;
    assert!(code.is_success(), "{code}: {status}");
}

// Item 11: requests parsed as upstream parses them.

#[tokio::test]
async fn bearer_tokens_are_read_as_upstream_reads_them() {
    let h = bootstrapped(100).await;
    for (header, code) in [
        (format!("Bearer {TOKEN}"), 200),
        (format!("bearer {TOKEN}"), 200),
        (format!("BEARER {TOKEN}"), 200),
        (format!("Bearer {TOKEN} and more"), 200),
        (format!("Bearer  {TOKEN}"), 401),
        (format!("Bearer\t{TOKEN}"), 401),
        ("Bearer ".to_string(), 401),
        (TOKEN.to_string(), 401),
        (format!("Basic {TOKEN}"), 401),
        (format!("Bearer {TOKEN}x"), 401),
    ] {
        let request = Request::builder()
            .uri("/api/v1/namespaces")
            .header("authorization", header.as_str())
            .body(Body::empty())
            .unwrap();
        let raw = h.send(request).await;
        assert_eq!(raw.code.as_u16(), code, "{header:?}");
        if code == 401 {
            assert_eq!(raw.json()["reason"], "Unauthorized", "{header:?}");
        }
    }
}

#[tokio::test]
async fn integer_list_options_are_parsed_as_go_parses_them() {
    let h = bootstrapped(100).await;
    for query in [
        "timeoutSeconds=abc",
        "watch=1&timeoutSeconds=abc",
        "limit=abc",
        "timeoutSeconds=1.5",
    ] {
        let (code, status) = h.call("GET", &format!("{CMS}?{query}"), None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{query}: {status}");
        let value = query.rsplit('=').next().unwrap();
        assert_eq!(
            status["message"],
            format!("strconv.ParseInt: parsing \"{value}\": invalid syntax"),
            "{query}"
        );
    }
    let (code, status) = h
        .call(
            "GET",
            &format!("{CMS}?timeoutSeconds=99999999999999999999"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        status["message"],
        "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
    );
    let (code, _) = h
        .call("GET", &format!("{CMS}?timeoutSeconds=5"), None)
        .await;
    assert_eq!(code, StatusCode::OK);
}

/// Two of issue 14's "loose validation" cases are what upstream does: the
/// URL supplies a missing kind and apiVersion (the JSON serializer's
/// `gvkWithDefaults`), and `in ()` is the set holding the empty value (the
/// label parser's `parseValues`). These pin that behaviour.
#[tokio::test]
async fn what_upstream_accepts_is_accepted() {
    let h = bootstrapped(100).await;
    let (code, cm) = h
        .call(
            "POST",
            CMS,
            Some(json!({"metadata": {"name": "bare", "labels": {"a": ""}}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{cm}");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["apiVersion"], "v1");
    h.create_cm("other", json!({"a": "b"})).await;
    let (code, list) = h
        .call("GET", &format!("{CMS}?labelSelector=a%20in%20()"), None)
        .await;
    assert_eq!(code, StatusCode::OK, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bare"]);
}
