//! Incompatibilities third-party clients (the Python client,
//! kubernetes_asyncio, kr8s, lightkube, @kubernetes/client-node, kopf)
//! found, each driven by the raw request that found it.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use common::*;
use http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Every line of a watch, read until the server ends it.
async fn watch_to_end(h: &Harness, uri: &str) -> Vec<(Duration, Value)> {
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let start = Instant::now();
    let response = h.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let mut body = response.into_body();
    let mut buffer = Vec::new();
    let mut lines = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
            .await
            .expect("the watch ends on its own");
        let Some(Ok(frame)) = frame else { break };
        if let Ok(data) = frame.into_data() {
            buffer.extend_from_slice(&data);
            while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=pos).collect();
                lines.push((start.elapsed(), serde_json::from_slice(&line).unwrap()));
            }
        }
    }
    lines
}

#[tokio::test]
async fn a_watch_with_bookmarks_gets_one_just_before_its_timeout() {
    // Periodic bookmarks are far apart here: the one that comes is the
    // one due before the end.
    let h = with_default_namespace(harness_with(100, Duration::from_secs(600), |_| {})).await;
    let rv = h.create_cm("a", json!({})).await;
    h.create_cm("b", json!({})).await;
    let lines = watch_to_end(
        &h,
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion={rv}"
        ),
    )
    .await;
    let kinds: Vec<&str> = lines
        .iter()
        .map(|(_, l)| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ADDED", "BOOKMARK"]);
    let (at, bookmark) = &lines[1];
    assert!(
        *at >= Duration::from_millis(900),
        "not before the last two seconds: {at:?}"
    );
    let current = h.store.revision().to_string();
    assert_eq!(bookmark["object"]["metadata"]["resourceVersion"], current);
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");

    // Without allowWatchBookmarks, none.
    let lines = watch_to_end(
        &h,
        &format!("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=3&resourceVersion={current}"),
    )
    .await;
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test]
async fn a_watch_from_a_revision_older_than_the_compaction_age_is_expired() {
    let h = with_default_namespace(harness_with(10_000, Duration::from_secs(600), |c| {
        c.history_max_age = Some(Duration::from_millis(300));
    }))
    .await;
    let old = h.create_cm("old", json!({})).await;
    // A recent revision resumes.
    let lines = h
        .watch_lines(
            &format!(
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={}",
                old - 1
            ),
            1,
        )
        .await;
    assert_eq!(lines[0]["type"], "ADDED");
    // Once its revision has aged out (the history holds far fewer than
    // 10,000 events: the count is not what expires it), the same request
    // is an in-stream 410, as from a compacted etcd revision.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let newest = h
            .create_cm(&format!("cm-{}", h.store.revision()), json!({}))
            .await;
        let lines = h
            .watch_lines(
                &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={old}"),
                1,
            )
            .await;
        if lines[0]["type"] == "ERROR" {
            let status = &lines[0]["object"];
            assert_eq!(status["code"], 410);
            assert_eq!(status["reason"], "Expired");
            let message = status["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("too old resource version: {old} (")),
                "{message}"
            );
            // A list at the old revision is gone as well.
            let (code, body) = h
                .call(
                    "GET",
                    &format!("/api/v1/namespaces/default/configmaps?resourceVersion={old}&resourceVersionMatch=Exact"),
                    None,
                )
                .await;
            assert_eq!(code, 410, "{body}");
            // The newest revision still resumes.
            let lines = h
                .watch_lines(
                    &format!(
                        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={}",
                        newest - 1
                    ),
                    1,
                )
                .await;
            assert_eq!(lines[0]["type"], "ADDED");
            break;
        }
        assert!(Instant::now() < deadline, "never expired: {lines:?}");
    }
}

const SETS: &str = "/apis/apps/v1/namespaces/default/statefulsets";

fn web_set() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "serviceName": "web",
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    })
}

fn warnings(raw: &Raw) -> Vec<String> {
    raw.headers
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

async fn stored_set(h: &Harness) -> Value {
    let (code, set) = h.call("GET", &format!("{SETS}/web"), None).await;
    assert_eq!(code, 200, "{set}");
    set
}

#[tokio::test]
async fn unknown_fields_are_dropped_with_a_warning_on_every_write() {
    let h = bootstrapped(100).await;
    // Create: dropped, one warning per field.
    let mut body = web_set();
    body["spec"]["foo"] = json!(1);
    body["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("x");
    let raw = h
        .call_bytes("POST", SETS, "application/json", body.to_string())
        .await;
    assert_eq!(raw.code, 201, "{:?}", raw.json());
    assert_eq!(
        warnings(&raw),
        [
            r#"299 - "unknown field \"spec.foo\"""#,
            r#"299 - "unknown field \"spec.template.spec.containers[0].imagee\"""#
        ]
    );
    assert!(
        raw.json()["spec"].get("foo").is_none(),
        "the answer holds it"
    );
    let set = stored_set(&h).await;
    assert!(set["spec"].get("foo").is_none());
    assert!(
        set["spec"]["template"]["spec"]["containers"][0]
            .get("imagee")
            .is_none()
    );
    assert_eq!(set["spec"]["replicas"], 1);

    // Update (PUT), Ignore: dropped without a warning.
    let mut body = stored_set(&h).await;
    body["spec"]["bar"] = json!(true);
    let raw = h
        .call_bytes(
            "PUT",
            &format!("{SETS}/web?fieldValidation=Ignore"),
            "application/json",
            body.to_string(),
        )
        .await;
    assert_eq!(raw.code, 200, "{:?}", raw.json());
    assert!(warnings(&raw).is_empty());
    assert!(stored_set(&h).await["spec"].get("bar").is_none());

    // Strict: refused with upstream's message.
    let mut body = web_set();
    body["metadata"]["name"] = json!("strict");
    body["spec"]["foo"] = json!(1);
    let raw = h
        .call_bytes(
            "POST",
            &format!("{SETS}?fieldValidation=Strict"),
            "application/json",
            body.to_string(),
        )
        .await;
    assert_eq!(raw.code, 400);
    assert_eq!(
        raw.json()["message"],
        r#"StatefulSet in version "v1" cannot be handled as a StatefulSet: strict decoding error: unknown field "spec.foo""#
    );

    // Every patch type: the patched object is pruned.
    for (content_type, patch) in [
        (
            "application/merge-patch+json",
            json!({"spec": {"foo": 1, "replicas": 2}}),
        ),
        (
            "application/strategic-merge-patch+json",
            json!({"spec": {"foo": 1, "replicas": 3}}),
        ),
        (
            "application/json-patch+json",
            json!([{"op": "add", "path": "/spec/foo", "value": 1}, {"op": "replace", "path": "/spec/replicas", "value": 4}]),
        ),
    ] {
        let raw = h
            .call_bytes(
                "PATCH",
                &format!("{SETS}/web"),
                content_type,
                patch.to_string(),
            )
            .await;
        assert_eq!(raw.code, 200, "{content_type}: {:?}", raw.json());
        assert_eq!(
            warnings(&raw),
            [r#"299 - "unknown field \"spec.foo\"""#],
            "{content_type}"
        );
        let set = stored_set(&h).await;
        assert!(set["spec"].get("foo").is_none(), "{content_type}: {set}");
        let raw = h
            .call_bytes(
                "PATCH",
                &format!("{SETS}/web?fieldValidation=Strict"),
                content_type,
                patch.to_string(),
            )
            .await;
        assert_eq!(raw.code, 400, "{content_type}");
        assert_eq!(
            raw.json()["message"],
            r#"strict decoding error: unknown field "spec.foo""#
        );
    }
    assert_eq!(stored_set(&h).await["spec"]["replicas"], 4);

    // Server-side apply.
    let mut applied = web_set();
    applied["spec"]["foo"] = json!(1);
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{SETS}/web?fieldManager=applier&force=true"),
            "application/apply-patch+yaml",
            applied.to_string(),
        )
        .await;
    assert_eq!(raw.code, 200, "{:?}", raw.json());
    assert_eq!(warnings(&raw), [r#"299 - "unknown field \"spec.foo\"""#]);
    let set = stored_set(&h).await;
    assert!(set["spec"].get("foo").is_none());
    assert!(
        !set["metadata"]["managedFields"]
            .to_string()
            .contains("f:foo")
    );

    // The status subresource.
    let mut body = stored_set(&h).await;
    body["status"] = json!({"replicas": 1, "foo": 2});
    let raw = h
        .call_bytes(
            "PUT",
            &format!("{SETS}/web/status"),
            "application/json",
            body.to_string(),
        )
        .await;
    assert_eq!(raw.code, 200, "{:?}", raw.json());
    assert_eq!(warnings(&raw), [r#"299 - "unknown field \"status.foo\"""#]);
    let set = stored_set(&h).await;
    assert_eq!(set["status"]["replicas"], 1);
    assert!(set["status"].get("foo").is_none());
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{SETS}/web/status"),
            "application/merge-patch+json",
            json!({"status": {"bar": 1}}).to_string(),
        )
        .await;
    assert_eq!(raw.code, 200, "{:?}", raw.json());
    assert_eq!(warnings(&raw), [r#"299 - "unknown field \"status.bar\"""#]);
    assert!(stored_set(&h).await["status"].get("bar").is_none());
}

#[tokio::test]
async fn server_side_apply_of_a_scale_moves_replicas_ownership() {
    let h = bootstrapped(100).await;
    let raw = h
        .call_bytes(
            "POST",
            &format!("{SETS}?fieldManager=creator"),
            "application/json",
            web_set().to_string(),
        )
        .await;
    assert_eq!(raw.code, 201, "{:?}", raw.json());
    let scale = json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3}
    });
    let apply = |query: &'static str| {
        let body = scale.to_string();
        let h = &h;
        async move {
            h.call_bytes(
                "PATCH",
                &format!("{SETS}/web/scale?{query}"),
                "application/apply-patch+yaml",
                body,
            )
            .await
        }
    };
    // The creator owns spec.replicas: a conflict, as upstream.
    let raw = apply("fieldManager=scaler").await;
    assert_eq!(raw.code, 409, "{:?}", raw.json());
    assert!(
        raw.json()["message"]
            .as_str()
            .unwrap()
            .contains(".spec.replicas"),
        "{:?}",
        raw.json()
    );
    assert_eq!(stored_set(&h).await["spec"]["replicas"], 1);

    let raw = apply("fieldManager=scaler&force=true").await;
    assert_eq!(raw.code, 200, "{:?}", raw.json());
    let answer = raw.json();
    assert_eq!(answer["kind"], "Scale");
    assert_eq!(answer["spec"]["replicas"], 3);
    let set = stored_set(&h).await;
    assert_eq!(set["spec"]["replicas"], 3);
    let entries = set["metadata"]["managedFields"].as_array().unwrap();
    let scaler = entries
        .iter()
        .find(|e| e["manager"] == "scaler")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(scaler["operation"], "Apply");
    assert_eq!(scaler["apiVersion"], "apps/v1");
    assert_eq!(scaler["subresource"], "scale");
    assert_eq!(scaler["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let creator = entries.iter().find(|e| e["manager"] == "creator").unwrap();
    assert!(
        creator["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "{creator}"
    );
    assert!(creator["fieldsV1"]["f:spec"].get("f:serviceName").is_some());

    // The owner applies again without force; a newcomer conflicts with it.
    let scale5 = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{SETS}/web/scale?fieldManager=scaler"),
            "application/apply-patch+yaml",
            scale5.to_string(),
        )
        .await;
    assert_eq!(raw.code, 200, "{:?}", raw.json());
    assert_eq!(stored_set(&h).await["spec"]["replicas"], 5);
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{SETS}/web/scale?fieldManager=other"),
            "application/apply-patch+yaml",
            scale.to_string(),
        )
        .await;
    assert_eq!(raw.code, 409, "{:?}", raw.json());
    assert!(raw.json()["message"].as_str().unwrap().contains("scaler"));

    // Apply needs a field manager, as on the main resource.
    let raw = h
        .call_bytes(
            "PATCH",
            &format!("{SETS}/web/scale"),
            "application/apply-patch+yaml",
            scale.to_string(),
        )
        .await;
    assert_eq!(raw.code, 422, "{:?}", raw.json());
}

const CORE_EVENTS: &str = "/api/v1/namespaces/default/events";
const NEW_EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn both_event_apis_serve_one_resource() {
    let h = bootstrapped(100).await;
    // A recorder of the new API (kube-rs, client-go's events package).
    let (code, created) = h
        .call(
            "POST",
            NEW_EVENTS,
            Some(json!({
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {"name": "web.new"},
                "eventTime": "2026-01-01T00:00:00.000000Z",
                "reportingController": "ordinal.dev/statefulset",
                "reportingInstance": "ordinal-1",
                "action": "Create",
                "reason": "SuccessfulCreate",
                "regarding": {"kind": "StatefulSet", "name": "web", "namespace": "default", "apiVersion": "apps/v1"},
                "note": "create Pod web-0 in StatefulSet web successful",
                "type": "Normal"
            })),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["apiVersion"], "events.k8s.io/v1");
    assert_eq!(
        created["note"],
        "create Pod web-0 in StatefulSet web successful"
    );
    let new_rv: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A recorder of the core API (kubectl, the kubelet, the Python client).
    let (code, core) = h
        .call(
            "POST",
            CORE_EVENTS,
            Some(json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "web.core"},
                "involvedObject": {"kind": "StatefulSet", "name": "web", "namespace": "default"},
                "reason": "Scaled",
                "message": "scaled up",
                "source": {"component": "tester"},
                "firstTimestamp": "2026-01-01T00:00:00Z",
                "lastTimestamp": "2026-01-01T00:00:00Z",
                "count": 1,
                "type": "Normal"
            })),
        )
        .await;
    assert_eq!(code, 201, "{core}");
    let core_rv: u64 = core["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(core_rv > new_rv, "one resourceVersion sequence");

    // Each is read through the other API in that API's form.
    let (code, as_core) = h.call("GET", &format!("{CORE_EVENTS}/web.new"), None).await;
    assert_eq!(code, 200, "{as_core}");
    assert_eq!(as_core["apiVersion"], "v1");
    assert_eq!(
        as_core["message"],
        "create Pod web-0 in StatefulSet web successful"
    );
    assert_eq!(as_core["involvedObject"]["name"], "web");
    assert_eq!(as_core["reportingComponent"], "ordinal.dev/statefulset");
    assert!(as_core.get("note").is_none() && as_core.get("regarding").is_none());
    let (code, as_new) = h.call("GET", &format!("{NEW_EVENTS}/web.core"), None).await;
    assert_eq!(code, 200, "{as_new}");
    assert_eq!(as_new["apiVersion"], "events.k8s.io/v1");
    assert_eq!(as_new["note"], "scaled up");
    assert_eq!(as_new["regarding"]["name"], "web");
    assert_eq!(as_new["deprecatedSource"]["component"], "tester");
    assert_eq!(as_new["deprecatedCount"], 1);
    assert_eq!(
        as_new["metadata"]["resourceVersion"],
        core["metadata"]["resourceVersion"]
    );

    // Lists and field selectors, each API with its own labels.
    let both = ["web.core".to_string(), "web.new".to_string()];
    let (_, list) = h.call("GET", CORE_EVENTS, None).await;
    assert_eq!(names(&list), both);
    assert_eq!(list["items"][1]["apiVersion"], "v1");
    let (_, list) = h.call("GET", NEW_EVENTS, None).await;
    assert_eq!(names(&list), both);
    assert_eq!(list["items"][0]["apiVersion"], "events.k8s.io/v1");
    let (_, list) = h
        .call("GET", &format!("{CORE_EVENTS}?fieldSelector=involvedObject.name%3Dweb,involvedObject.kind%3DStatefulSet"), None)
        .await;
    assert_eq!(names(&list), both, "what kubectl describe asks");
    let (_, list) = h
        .call(
            "GET",
            &format!("{NEW_EVENTS}?fieldSelector=regarding.name%3Dweb"),
            None,
        )
        .await;
    assert_eq!(names(&list), both);
    let (_, list) = h
        .call(
            "GET",
            &format!("{NEW_EVENTS}?fieldSelector=reportingController%3Dordinal.dev%2Fstatefulset"),
            None,
        )
        .await;
    assert_eq!(names(&list), ["web.new"]);
    let (_, list) = h
        .call(
            "GET",
            &format!("{CORE_EVENTS}?fieldSelector=source%3Dtester"),
            None,
        )
        .await;
    assert_eq!(names(&list), ["web.core"]);
    let (code, status) = h
        .call(
            "GET",
            &format!("{NEW_EVENTS}?fieldSelector=involvedObject.name%3Dweb"),
            None,
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("field label not supported: involvedObject.name"),
        "{status}"
    );
    // The table `kubectl get events` prints, through either API.
    for uri in [CORE_EVENTS, NEW_EVENTS] {
        let request = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
            .body(Body::empty())
            .unwrap();
        let table = h.send(request).await.json();
        let rows = table["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{table}"));
        assert_eq!(rows.len(), 2, "{uri}");
        let cells = rows
            .iter()
            .map(|r| r["cells"].to_string())
            .collect::<String>();
        assert!(
            cells.contains("scaled up") && cells.contains("SuccessfulCreate"),
            "{uri}: {cells}"
        );
    }

    // A watch through either API sees writes through the other.
    let lines = h
        .watch_lines(
            &format!("{CORE_EVENTS}?watch=1&resourceVersion={new_rv}"),
            1,
        )
        .await;
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(lines[0]["object"]["metadata"]["name"], "web.core");
    let lines = h
        .watch_lines(
            &format!("{NEW_EVENTS}?watch=1&resourceVersion={}", new_rv - 1),
            2,
        )
        .await;
    assert_eq!(
        lines[0]["object"]["note"],
        "create Pod web-0 in StatefulSet web successful"
    );
    assert_eq!(lines[1]["object"]["note"], "scaled up");
    assert_eq!(lines[1]["object"]["apiVersion"], "events.k8s.io/v1");

    // Writes: a patch through the new API, seen through the core one.
    let (code, patched) = h
        .call_as(
            "PATCH",
            &format!("{NEW_EVENTS}/web.core"),
            "application/merge-patch+json",
            Some(json!({"note": "scaled up twice", "deprecatedCount": 2})),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["note"], "scaled up twice");
    let (_, as_core) = h
        .call("GET", &format!("{CORE_EVENTS}/web.core"), None)
        .await;
    assert_eq!(as_core["message"], "scaled up twice");
    assert_eq!(as_core["count"], 2);
    assert!(as_core.get("note").is_none());
    // An update through the core API, seen through the new one.
    let mut body = as_core.clone();
    body["message"] = json!("scaled up thrice");
    let (code, _) = h
        .call("PUT", &format!("{CORE_EVENTS}/web.core"), Some(body))
        .await;
    assert_eq!(code, 200);
    let (_, as_new) = h.call("GET", &format!("{NEW_EVENTS}/web.core"), None).await;
    assert_eq!(as_new["note"], "scaled up thrice");
    // One name for both: creating it again through the other API conflicts.
    let (code, _) = h
        .call("POST", NEW_EVENTS, Some(json!({"metadata": {"name": "web.core"}, "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "x", "reportingInstance": "y", "action": "A", "reason": "R", "type": "Normal", "regarding": {"kind": "Pod", "name": "p"}})))
        .await;
    assert_eq!(code, 409);
    // A delete through either API removes it from both.
    let (code, _) = h
        .call("DELETE", &format!("{NEW_EVENTS}/web.core"), None)
        .await;
    assert_eq!(code, 200);
    let (code, _) = h
        .call("GET", &format!("{CORE_EVENTS}/web.core"), None)
        .await;
    assert_eq!(code, 404);
}
