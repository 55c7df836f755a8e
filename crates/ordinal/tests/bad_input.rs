//! Untrusted input: every malformed or invalid request gets the Status code
//! and reason the real API server returns, and the server stays up.

mod common;

use common::Ordinal;
use http::Request;
use kube::client::Body;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    accept: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &str,
    body: impl Into<Vec<u8>>,
    code: u16,
    reason: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_string(),
        content_type: "application/json",
        accept: "application/json",
        body: body.into(),
        code,
        reason,
    }
}

async fn send(client: &kube::Client, c: &Case) -> (u16, serde_json::Value) {
    let request = Request::builder()
        .method(c.method)
        .uri(&c.path)
        .header("content-type", c.content_type)
        .header("accept", c.accept)
        .body(Body::from(c.body.clone()))
        .unwrap();
    let response = client.send(request).await.expect("transport ok");
    let code = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let status = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (code, status)
}

#[tokio::test]
async fn malformed_and_invalid_requests_get_their_status() {
    let o = Ordinal::start();
    let client = o.client().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let mut cases = vec![
        case(
            "malformed JSON",
            "POST",
            cms,
            "{\"metadata\": {\"name\": ",
            400,
            "BadRequest",
        ),
        case(
            "binary garbage",
            "POST",
            cms,
            vec![0xff, 0xfe, 0x00, 0x01],
            400,
            "BadRequest",
        ),
        case("not an object", "POST", cms, "[1,2,3]", 400, "BadRequest"),
        case(
            "kind does not match the URL",
            "POST",
            "/api/v1/namespaces/default/pods",
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "apiVersion does not match the URL",
            "POST",
            cms,
            r#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "invalid name",
            "POST",
            cms,
            r#"{"metadata":{"name":"Bad_Name"}}"#,
            422,
            "Invalid",
        ),
        case("no name", "POST", cms, r#"{"metadata":{}}"#, 422, "Invalid"),
        case(
            "unknown field, strict",
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            r#"{"metadata":{"name":"strict"},"datta":{}}"#,
            400,
            "BadRequest",
        ),
        case(
            "duplicate field, strict",
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            r#"{"metadata":{"name":"dup","name":"dup2"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "wrong type, strict",
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            r#"{"metadata":{"name":"typed"},"data":{"a":1}}"#,
            400,
            "BadRequest",
        ),
        case(
            "body over 3 MiB",
            "POST",
            cms,
            vec![b' '; 3 * 1024 * 1024 + 10],
            413,
            "RequestEntityTooLarge",
        ),
        case(
            "unknown resource",
            "GET",
            "/api/v1/namespaces/default/widgets",
            "",
            404,
            "NotFound",
        ),
        case(
            "missing namespace",
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            r#"{"metadata":{"name":"x"}}"#,
            404,
            "NotFound",
        ),
        case(
            "missing object",
            "GET",
            &format!("{cms}/absent"),
            "",
            404,
            "NotFound",
        ),
        case(
            "bad label selector",
            "GET",
            &format!("{cms}?labelSelector=a%20in%20b"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "unsupported field selector",
            "GET",
            &format!("{cms}?fieldSelector=spec.nodeName%3Dx"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "bad resourceVersion",
            "GET",
            &format!("{cms}?resourceVersion=abc"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "bad continue token",
            "GET",
            &format!("{cms}?limit=1&continue=garbage"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "name differs from URL",
            "PUT",
            &format!("{cms}/a"),
            r#"{"metadata":{"name":"b"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "verb not allowed",
            "POST",
            "/api/v1/namespaces/default/configmaps/x",
            "{}",
            405,
            "MethodNotAllowed",
        ),
        case(
            "protected namespace",
            "DELETE",
            "/api/v1/namespaces/default",
            "",
            403,
            "Forbidden",
        ),
        case(
            "bad delete options",
            "DELETE",
            &format!("{cms}/x"),
            "{\"propagationPolicy\":\"Sideways\"}",
            422,
            "Invalid",
        ),
    ];
    cases.push(Case {
        content_type: "text/plain",
        ..case(
            "unsupported media type",
            "POST",
            cms,
            "name: x",
            415,
            "UnsupportedMediaType",
        )
    });
    cases.push(Case {
        content_type: "application/yaml",
        ..case(
            "malformed YAML",
            "POST",
            cms,
            "metadata: [unclosed",
            400,
            "BadRequest",
        )
    });
    cases.push(Case {
        accept: "application/vnd.kubernetes.protobuf",
        ..case("unacceptable accept", "GET", cms, "", 406, "NotAcceptable")
    });

    let mut failures = Vec::new();
    for c in &cases {
        let (code, status) = send(&client, c).await;
        if code != c.code || status["reason"] != c.reason || status["kind"] != "Status" {
            failures.push(format!("{}: got {code} {}", c.what, status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // After all of that the server still answers.
    let healthz = send(&client, &case("health", "GET", "/readyz", "", 200, "")).await;
    assert_eq!(healthz.0, 200);
}

#[tokio::test]
async fn requests_without_the_token_are_unauthorized() {
    let o = Ordinal::start();
    let kubeconfig = kube::config::Kubeconfig::read_from(o.kubeconfig()).unwrap();
    for token in [None, Some("wrong-token")] {
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &Default::default())
                .await
                .unwrap();
        config.auth_info = Default::default();
        config.auth_info.token = token.map(|t| t.to_string().into());
        let client = kube::Client::try_from(config).unwrap();
        let (code, status) = send(
            &client,
            &case(
                "no token",
                "GET",
                "/api/v1/namespaces",
                "",
                401,
                "Unauthorized",
            ),
        )
        .await;
        assert_eq!(code, 401);
        assert_eq!(status["reason"], "Unauthorized");
        // Health endpoints are open.
        let (code, _) = send(&client, &case("health", "GET", "/healthz", "", 200, "")).await;
        assert_eq!(code, 200);
    }
}

/// Sends a JSON body and returns the code and the parsed reply.
async fn call(
    client: &kube::Client,
    method: &'static str,
    path: &str,
    content_type: &'static str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let c = Case {
        content_type,
        ..case("setup", method, path, body.to_string(), 0, "")
    };
    send(client, &c).await
}

/// The API-semantics layer: patches, apply, subresources, preconditions.
#[tokio::test]
async fn patch_apply_and_subresource_errors_get_their_status() {
    use serde_json::json;
    let o = Ordinal::start();
    let client = o.client().await;
    let sets = "/apis/apps/v1/namespaces/default/statefulsets";
    let web = format!("{sets}/web");
    let pods = "/api/v1/namespaces/default/pods";
    let set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    });
    let (code, created) = call(&client, "POST", sets, "application/json", set).await;
    assert_eq!(code, 201, "{created}");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let (code, _) = call(&client, "POST", pods, "application/json", pod).await;
    assert_eq!(code, 201);
    let (code, _) = call(
        &client,
        "POST",
        &format!("{pods}/p/binding"),
        "application/json",
        json!({"metadata": {"name": "p"}, "target": {"name": "node-1"}}),
    )
    .await;
    assert_eq!(code, 201);

    let json_patch = "application/json-patch+json";
    let merge = "application/merge-patch+json";
    let strategic = "application/strategic-merge-patch+json";
    let apply = "application/apply-patch+yaml";
    let c = |what, method, path: &str, content_type, body: serde_json::Value, code, reason| Case {
        content_type,
        ..case(what, method, path, body.to_string(), code, reason)
    };
    let cases = vec![
        c(
            "a failing JSON patch test",
            "PATCH",
            &web,
            json_patch,
            json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
            422,
            "Invalid",
        ),
        c(
            "a JSON patch that is not a list",
            "PATCH",
            &web,
            json_patch,
            json!({"op": "add"}),
            400,
            "BadRequest",
        ),
        c(
            "a merge patch that is not an object",
            "PATCH",
            &web,
            merge,
            json!([1]),
            400,
            "BadRequest",
        ),
        c(
            "a strategic list element without its merge key",
            "PATCH",
            &web,
            strategic,
            json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            422,
            "Invalid",
        ),
        c(
            "a strategic patch with a malformed $deleteFromPrimitiveList",
            "PATCH",
            &web,
            strategic,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": 5}}),
            400,
            "BadRequest",
        ),
        c(
            "a patch as application/json",
            "PATCH",
            &web,
            "application/json",
            json!({"spec": {}}),
            415,
            "UnsupportedMediaType",
        ),
        c(
            "force on a non-apply patch",
            "PATCH",
            &format!("{web}?force=true"),
            merge,
            json!({}),
            422,
            "Invalid",
        ),
        c(
            "apply without a field manager",
            "PATCH",
            &web,
            apply,
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"}}),
            422,
            "Invalid",
        ),
        c(
            "apply naming another object",
            "PATCH",
            &format!("{web}?fieldManager=m"),
            apply,
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}}),
            400,
            "BadRequest",
        ),
        c(
            "apply of another kind",
            "PATCH",
            &format!("{web}?fieldManager=m"),
            apply,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}),
            400,
            "BadRequest",
        ),
        c(
            "a patch setting a stale resourceVersion",
            "PATCH",
            &web,
            merge,
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}),
            409,
            "Conflict",
        ),
        c(
            "negative replicas through scale",
            "PATCH",
            &format!("{web}/scale"),
            merge,
            json!({"spec": {"replicas": -1}}),
            422,
            "Invalid",
        ),
        c(
            "scale of a missing set",
            "GET",
            &format!("{sets}/nope/scale"),
            "application/json",
            json!(null),
            404,
            "NotFound",
        ),
        c(
            "binding a bound pod",
            "POST",
            &format!("{pods}/p/binding"),
            "application/json",
            json!({"metadata": {"name": "p"}, "target": {"name": "node-2"}}),
            409,
            "Conflict",
        ),
        c(
            "binding naming another pod",
            "POST",
            &format!("{pods}/p/binding"),
            "application/json",
            json!({"metadata": {"name": "q"}, "target": {"name": "node-2"}}),
            400,
            "BadRequest",
        ),
        c(
            "evicting a missing pod",
            "POST",
            &format!("{pods}/nope/eviction"),
            "application/json",
            json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "nope"}}),
            404,
            "NotFound",
        ),
        c(
            "a delete whose uid precondition does not match",
            "DELETE",
            &web,
            "application/json",
            json!({"preconditions": {"uid": "not-the-uid"}}),
            409,
            "Conflict",
        ),
        c(
            "a delete whose resourceVersion precondition does not match",
            "DELETE",
            &web,
            "application/json",
            json!({"preconditions": {"resourceVersion": "1"}}),
            409,
            "Conflict",
        ),
        c(
            "an unknown propagation policy",
            "DELETE",
            &web,
            "application/json",
            json!({"propagationPolicy": "Sideways"}),
            422,
            "Invalid",
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let (code, status) = send(&client, c).await;
        if code != c.code || status["reason"] != c.reason || status["kind"] != "Status" {
            failures.push(format!("{}: got {code} {}", c.what, status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Writes that break validation: 422 with upstream's field causes.
    let invalid = [
        (
            "negative replicas",
            "PATCH",
            web.clone(),
            merge,
            json!({"spec": {"replicas": -1}}),
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            "a selector change",
            "PATCH",
            web.clone(),
            merge,
            json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
            "spec",
            "Forbidden: updates to statefulset spec for fields other than",
        ),
        (
            "a restartPolicy other than Always in a set's template",
            "PATCH",
            web.clone(),
            merge,
            json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
            "spec.template.spec.restartPolicy",
            "Unsupported value: \"Never\"",
        ),
        (
            "a pod spec change other than the image",
            "PATCH",
            format!("{pods}/p"),
            merge,
            json!({"spec": {"dnsPolicy": "Default"}}),
            "spec",
            "Forbidden: pod updates may not change fields other than",
        ),
        (
            "a pod whose volume mount names no volume",
            "POST",
            pods.to_string(),
            "application/json",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m"},
                   "spec": {"containers": [{"name": "c", "image": "i",
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}),
            "spec.containers[0].volumeMounts[0].name",
            "Not found: \"data\"",
        ),
    ];
    for (what, method, path, content_type, body, field, message) in invalid {
        let (code, status) = call(&client, method, &path, content_type, body).await;
        let cause = status["details"]["causes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["field"] == field));
        let ok = code == 422
            && status["reason"] == "Invalid"
            && cause.is_some_and(|c| {
                c["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            });
        if !ok {
            failures.push(format!("{what}: got {code} {status}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Two managers applying different values: the second gets the conflict
    // naming the first, with the field as a cause.
    let replicas = |n: i64| {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
               "spec": {"replicas": n}})
    };
    let (code, _) = call(
        &client,
        "PATCH",
        &format!("{web}?fieldManager=one&force=true"),
        apply,
        replicas(3),
    )
    .await;
    assert_eq!(code, 200);
    let (code, status) = call(
        &client,
        "PATCH",
        &format!("{web}?fieldManager=two"),
        apply,
        replicas(4),
    )
    .await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"one\": .spec.replicas"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldManagerConflict"
    );
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");

    // Status written through the main resource is ignored, not an error.
    // (The StatefulSet controller writes the status too, so a PUT may
    // race with it: read again on a conflict, as any client would.)
    let mut attempts = 0;
    let after = loop {
        let (_, mut current) = call(&client, "GET", &web, "application/json", json!(null)).await;
        current["status"] = json!({"replicas": 42});
        let (code, after) = call(&client, "PUT", &web, "application/json", current).await;
        attempts += 1;
        if code == 409 && attempts < 10 {
            continue;
        }
        assert_eq!(code, 200, "{after}");
        break after;
    };
    assert_ne!(after["status"]["replicas"], 42);
}
