//! CustomResourceDefinitions on a real API server (TLS, a loopback port, a
//! kube client): a CRD is served the moment its create is answered, in
//! discovery and OpenAPI; its objects are defaulted, pruned and validated
//! by the schema and its CEL rules with upstream's statuses; the status
//! and scale subresources, printer columns, several versions, field
//! selectors, patches and server-side apply work as for built-in kinds;
//! deleting the CRD removes its objects.

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

mod common;

use common::tls::TlsServer as Server;

async fn start() -> Server {
    Server::start().await
}

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"] },
            "versions": [
                {
                    "name": "v1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "x-kubernetes-validations": [
                                    { "rule": "self.size <= self.maxSize", "message": "size may not exceed maxSize" }
                                ],
                                "properties": {
                                    "size": { "type": "integer", "minimum": 1 },
                                    "maxSize": { "type": "integer", "default": 10 },
                                    "color": { "type": "string", "enum": ["red", "blue"] },
                                    "extra": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
                                }
                            },
                            "status": {
                                "type": "object",
                                "properties": { "ready": { "type": "integer" }, "selector": { "type": "string" } }
                            }
                        }
                    } },
                    "subresources": {
                        "status": {},
                        "scale": { "specReplicasPath": ".spec.size", "statusReplicasPath": ".status.ready", "labelSelectorPath": ".status.selector" }
                    },
                    "additionalPrinterColumns": [
                        { "name": "Size", "type": "integer", "jsonPath": ".spec.size" },
                        { "name": "Color", "type": "string", "jsonPath": ".spec.color" },
                        { "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp" }
                    ],
                    "selectableFields": [{ "jsonPath": ".spec.color" }]
                },
                {
                    "name": "v1beta1", "served": true, "storage": false,
                    "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
                }
            ]
        }
    })
}

fn widget(name: &str, spec: Value) -> Value {
    json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": name }, "spec": spec })
}

async fn poll<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_crd_is_served_at_once_and_its_objects_follow_the_schema() {
    let s = start().await;
    s.ok("POST", CRDS, widget_crd()).await;
    // Servable as soon as the create is answered.
    let created = s
        .ok(
            "POST",
            WIDGETS,
            widget("a", json!({ "size": 2, "junk": 1 })),
        )
        .await;
    assert_eq!(
        created["spec"]["maxSize"], 10,
        "the schema's default: {created}"
    );
    assert!(created["spec"].get("junk").is_none(), "pruned: {created}");
    assert_eq!(created["metadata"]["generation"], 1);

    // Discovery, legacy and aggregated.
    let (_, list) = s.json("GET", "/apis/example.com/v1", None).await;
    let names: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["widgets", "widgets/scale", "widgets/status"]);
    let (_, group) = s.json("GET", "/apis/example.com", None).await;
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let (_, groups) = s.json("GET", "/apis", None).await;
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "example.com")
    );

    // The CRD's conditions.
    let crd = poll("Established", async || {
        let (_, crd) = s
            .json("GET", &format!("{CRDS}/widgets.example.com"), None)
            .await;
        let established = crd["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        established.then_some(crd)
    })
    .await;
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));

    // OpenAPI v3 carries the kind.
    let (_, index) = s.json("GET", "/openapi/v3", None).await;
    let url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
        .as_str()
        .expect("the group-version is in the index")
        .to_string();
    let (_, doc) = s.json("GET", &url, None).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(
        schemas.values().any(
            |sc| sc["x-kubernetes-group-version-kind"][0]["kind"] == "Widget"
                && sc["properties"]["spec"]["properties"]["size"]["type"] == "integer"
        ),
        "{}",
        doc["components"]["schemas"]
    );
}

#[tokio::test]
async fn bad_objects_get_422_with_field_causes_never_500() {
    let s = start().await;
    s.ok("POST", CRDS, widget_crd()).await;
    let cases = [
        (
            json!({ "size": "big" }),
            "spec.size",
            r#"spec.size in body must be of type integer: "string""#,
        ),
        (
            json!({ "size": 0 }),
            "spec.size",
            "should be greater than or equal to 1",
        ),
        (
            json!({ "size": 1, "color": "green" }),
            "spec.color",
            r#"supported values: "red", "blue""#,
        ),
        (json!({}), "spec.size", "Required value"),
        (json!({ "size": 20 }), "spec", "size may not exceed maxSize"),
    ];
    for (spec, field, text) in cases {
        let (code, status) = s
            .json("POST", WIDGETS, Some(widget("bad", spec.clone())))
            .await;
        assert_eq!(code, 422, "{spec}: {status}");
        assert_eq!(status["reason"], "Invalid");
        let causes = status["details"]["causes"].as_array().unwrap();
        assert!(
            causes
                .iter()
                .any(|c| c["field"] == field && c["message"].as_str().unwrap().contains(text)),
            "{spec}: {status}"
        );
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .starts_with("Widget.example.com \"bad\" is invalid"),
            "{status}"
        );
    }
    // Unknown fields under fieldValidation=Strict: 400, as upstream.
    let (code, status) = s
        .json(
            "POST",
            &format!("{WIDGETS}?fieldValidation=Strict"),
            Some(widget("strict", json!({ "size": 1, "junk": 1 }))),
        )
        .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains(r#"unknown field "spec.junk""#),
        "{status}"
    );
    // Bodies that are not even objects.
    for body in [json!([1, 2]), json!("x"), json!({ "spec": [1] })] {
        let (code, status) = s.json("POST", WIDGETS, Some(body.clone())).await;
        assert!((400..500).contains(&code), "{body}: {code} {status}");
    }
    // A CRD that is not valid.
    let mut crd = widget_crd();
    crd["metadata"]["name"] = json!("gadgets.example.com");
    crd["spec"]["names"] = json!({ "plural": "gadgets", "kind": "Gadget" });
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] =
        json!([{ "rule": "self.size <=" }]);
    crd["spec"]["conversion"] = json!({ "strategy": "Webhook" });
    let (code, status) = s.json("POST", CRDS, Some(crd)).await;
    assert_eq!(code, 422, "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("compilation failed"), "{message}");
    assert!(
        message.contains("webhook conversion is not supported"),
        "{message}"
    );
}

#[tokio::test]
async fn subresources_tables_versions_selectors_and_patches() {
    let s = start().await;
    s.ok("POST", CRDS, widget_crd()).await;
    let mut a = widget("a", json!({ "size": 2, "color": "red" }));
    a["status"] = json!({ "ready": 7 });
    let a = s.ok("POST", WIDGETS, a).await;
    assert!(
        a.get("status").is_none(),
        "a new object starts without status: {a}"
    );
    s.ok(
        "POST",
        WIDGETS,
        widget("b", json!({ "size": 3, "color": "blue" })),
    )
    .await;

    // A main write keeps the status; a status write keeps the spec.
    let mut a = s.json("GET", &format!("{WIDGETS}/a"), None).await.1;
    a["status"] = json!({ "ready": 2, "selector": "app=a" });
    let a = s.ok("PUT", &format!("{WIDGETS}/a"), a).await;
    assert!(a.get("status").is_none(), "{a}");
    let mut a2 = a.clone();
    a2["status"] = json!({ "ready": 2, "selector": "app=a" });
    a2["spec"]["size"] = json!(9);
    let a2 = s.ok("PUT", &format!("{WIDGETS}/a/status"), a2).await;
    assert_eq!(a2["status"]["ready"], 2);
    assert_eq!(a2["spec"]["size"], 2);
    assert_eq!(a2["metadata"]["generation"], 1);

    // Scale.
    let (_, scale) = s.json("GET", &format!("{WIDGETS}/a/scale"), None).await;
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=a");
    let (code, _) = s
        .call(
            "PATCH",
            &format!("{WIDGETS}/a/scale"),
            "application/merge-patch+json",
            "application/json",
            Some(json!({ "spec": { "replicas": 5 } })),
        )
        .await;
    assert_eq!(code, 200);
    let (_, a) = s.json("GET", &format!("{WIDGETS}/a"), None).await;
    assert_eq!(a["spec"]["size"], 5);
    assert_eq!(a["metadata"]["generation"], 2);

    // Printer columns.
    let (_, table) = s
        .call(
            "GET",
            WIDGETS,
            "application/json",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            None,
        )
        .await;
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Size", "Color", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "a");
    assert_eq!(table["rows"][0]["cells"][1], 5);
    assert_eq!(table["rows"][0]["cells"][2], "red");

    // Another version serves the same objects under its apiVersion.
    let (_, beta) = s
        .json(
            "GET",
            "/apis/example.com/v1beta1/namespaces/default/widgets/a",
            None,
        )
        .await;
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["spec"]["size"], 5);

    // Field selectors: metadata.name and the selectable field.
    let (_, list) = s
        .json(
            "GET",
            &format!("{WIDGETS}?fieldSelector=spec.color%3Dblue"),
            None,
        )
        .await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b"]);
    let (_, list) = s
        .json(
            "GET",
            &format!("{WIDGETS}?fieldSelector=metadata.name%3Da"),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (code, _) = s
        .json(
            "GET",
            &format!("{WIDGETS}?fieldSelector=spec.size%3D1"),
            None,
        )
        .await;
    assert_eq!(code, 400);

    // Strategic merge patch is refused, as upstream; merge and JSON patches work.
    let (code, status) = s
        .call(
            "PATCH",
            &format!("{WIDGETS}/b"),
            "application/strategic-merge-patch+json",
            "application/json",
            Some(json!({ "spec": { "size": 4 } })),
        )
        .await;
    assert_eq!(code, 415, "{status}");
    let (code, b) = s
        .call(
            "PATCH",
            &format!("{WIDGETS}/b"),
            "application/json-patch+json",
            "application/json",
            Some(json!([{ "op": "replace", "path": "/spec/size", "value": 4 }])),
        )
        .await;
    assert_eq!((code, &b["spec"]["size"]), (200, &json!(4)));
    // A patch that breaks the schema is refused with 422.
    let (code, status) = s
        .call(
            "PATCH",
            &format!("{WIDGETS}/b"),
            "application/merge-patch+json",
            "application/json",
            Some(json!({ "spec": { "size": 50 } })),
        )
        .await;
    assert_eq!(code, 422, "{status}");

    // Server-side apply creates and updates, with managed fields.
    let (code, c) = s
        .call(
            "PATCH",
            &format!("{WIDGETS}/c?fieldManager=me"),
            "application/apply-patch+yaml",
            "application/json",
            Some(widget(
                "c",
                json!({ "size": 1, "extra": { "free": { "form": true } } }),
            )),
        )
        .await;
    assert_eq!(code, 201, "{c}");
    assert_eq!(c["spec"]["extra"]["free"]["form"], true);
    assert_eq!(c["metadata"]["managedFields"][0]["manager"], "me");

    // kube-rs' dynamic API lists and watches them.
    let ar = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(s.client.clone(), "default", &ar);
    let all = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 3);
}

#[tokio::test]
async fn cluster_scoped_crds_and_deletion_removes_every_object() {
    let s = start().await;
    let mut crd = widget_crd();
    crd["metadata"]["name"] = json!("clusterwidgets.example.com");
    crd["spec"]["scope"] = json!("Cluster");
    crd["spec"]["names"] = json!({ "plural": "clusterwidgets", "kind": "ClusterWidget" });
    s.ok("POST", CRDS, crd).await;
    let base = "/apis/example.com/v1/clusterwidgets";
    let mut w = widget("one", json!({ "size": 1 }));
    w["kind"] = json!("ClusterWidget");
    s.ok("POST", base, w).await;
    let (code, _) = s
        .json(
            "GET",
            "/apis/example.com/v1/namespaces/default/clusterwidgets",
            None,
        )
        .await;
    assert_eq!(code, 404);

    s.ok("POST", CRDS, widget_crd()).await;
    for name in ["a", "b"] {
        s.ok("POST", WIDGETS, widget(name, json!({ "size": 1 })))
            .await;
    }
    let (code, _) = s
        .json("DELETE", &format!("{CRDS}/widgets.example.com"), None)
        .await;
    assert_eq!(code, 200);
    poll("the CRD and its objects to go", async || {
        let (crd, _) = s
            .json("GET", &format!("{CRDS}/widgets.example.com"), None)
            .await;
        (crd == 404).then_some(())
    })
    .await;
    let (code, _) = s.json("GET", WIDGETS, None).await;
    assert_eq!(code, 404);
    // The other CRD and its object are untouched.
    let (code, _) = s.json("GET", &format!("{base}/one"), None).await;
    assert_eq!(code, 200);
    // Created again, it starts empty.
    s.ok("POST", CRDS, widget_crd()).await;
    let (_, list) = s.json("GET", WIDGETS, None).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn server_side_apply_merges_the_schemas_map_lists() {
    let s = start().await;
    let mut crd = widget_crd();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["ports"] = json!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "port": { "type": "integer" } } }
    });
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["hosts"] = json!({
        "type": "array", "items": { "type": "string" }
    });
    s.ok("POST", CRDS, crd).await;
    let apply = |manager: &'static str, spec: Value| {
        let s = &s;
        async move {
            s.call(
                "PATCH",
                &format!("{WIDGETS}/w?fieldManager={manager}"),
                "application/apply-patch+yaml",
                "application/json",
                Some(widget("w", spec)),
            )
            .await
        }
    };
    let (code, _) = apply(
        "a",
        json!({ "size": 1, "ports": [{ "name": "http", "port": 80 }], "hosts": ["x"] }),
    )
    .await;
    assert_eq!(code, 201);
    let (code, w) = apply(
        "b",
        json!({ "size": 1, "ports": [{ "name": "grpc", "port": 90 }] }),
    )
    .await;
    assert_eq!(code, 200, "{w}");
    let names: Vec<&str> = w["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["http", "grpc"], "a map list merges by key: {w}");
    // An unmarked list is atomic: a second manager setting it conflicts.
    let (code, status) = apply(
        "b",
        json!({ "size": 1, "ports": [{ "name": "grpc", "port": 90 }], "hosts": ["y"] }),
    )
    .await;
    assert_eq!(code, 409, "{status}");
    assert!(
        status["message"].as_str().unwrap().contains(".spec.hosts"),
        "{status}"
    );
}
