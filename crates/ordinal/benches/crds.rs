//! CustomResourceDefinitions against a real `ordinal up` process: how soon
//! a new CRD's kind can be written (from the CRD's create being sent to
//! the first object of the kind accepted), how fast 10,000 custom objects
//! are listed (bytes on the wire), and that bad objects — schema
//! violations and failing CEL rules — are all answered 422, never 500.
//! Run: `cargo bench -p ordinal --bench crds`.
//!
//! Every loop is bounded in count and time.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;

const ROUNDS: usize = 9;
const OBJECTS: usize = 10_000;
const WRITERS: usize = 32;
const BAD: usize = 200;
const LIMIT: Duration = Duration::from_secs(5);

fn crd(plural: &str, kind: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.bench.example.com") },
        "spec": {
            "group": "bench.example.com",
            "scope": "Namespaced",
            "names": { "plural": plural, "kind": kind },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "x-kubernetes-validations": [{ "rule": "self.replicas <= self.max", "message": "replicas may not exceed max" }],
                        "properties": {
                            "replicas": { "type": "integer", "minimum": 0 },
                            "max": { "type": "integer", "default": 100 },
                            "engine": { "type": "string", "enum": ["postgres", "mysql"] },
                            "labels": { "type": "object", "additionalProperties": { "type": "string" } }
                        }
                    } }
                } },
                "subresources": { "status": {} },
                "additionalPrinterColumns": [{ "name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas" }]
            }]
        }
    })
}

fn object(kind: &str, name: &str, spec: serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "bench.example.com/v1",
        "kind": kind,
        "metadata": { "name": name, "labels": { "app": "bench" } },
        "spec": spec,
    }))
    .unwrap()
}

fn resource(plural: &str, kind: &str) -> ApiResource {
    ApiResource {
        group: "bench.example.com".into(),
        version: "v1".into(),
        api_version: "bench.example.com/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn post_raw(client: &kube::Client, path: &str, body: serde_json::Value) -> u16 {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .unwrap();
    match client.send(request.map(Into::into)).await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("crds");
    let (mut child, _) = support::spawn_with(&dir, &["--no-node"]);
    let client = support::client(&dir).await;

    // A CRD becomes servable: CRD create sent → first object accepted.
    let mut servable = Vec::new();
    for round in 0..ROUNDS {
        let plural = format!("things{round}");
        let kind = format!("Thing{round}");
        let started = Instant::now();
        let code = post_raw(
            &client,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd(&plural, &kind),
        )
        .await;
        assert_eq!(code, 201, "CRD create");
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), "default", &resource(&plural, &kind));
        let mut accepted = false;
        while started.elapsed() < LIMIT {
            let o = object(&kind, "first", json!({ "replicas": 1 }));
            if api.create(&PostParams::default(), &o).await.is_ok() {
                accepted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(accepted, "the kind never became writable");
        servable.push(started.elapsed());
    }
    let servable = median(servable);

    // 10,000 objects of one kind, listed.
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &resource("things0", "Thing0"));
    let created = Instant::now();
    let results = futures::stream::iter(1..OBJECTS)
        .map(|i| {
            let api = api.clone();
            let o = object(
                "Thing0",
                &format!("t-{i:05}"),
                json!({ "replicas": i % 50, "engine": "postgres", "labels": { "tier": "db", "zone": "a" } }),
            );
            async move { api.create(&PostParams::default(), &o).await }
        })
        .buffer_unordered(WRITERS)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(
        results.iter().filter(|r| r.is_err()).count(),
        0,
        "creates failed"
    );
    let create_time = created.elapsed();
    let mut lists = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let req = http::Request::get("/apis/bench.example.com/v1/namespaces/default/things0")
            .body(Vec::new())
            .unwrap();
        let text = client.request_text(req).await.unwrap();
        lists.push(t.elapsed());
        bytes = text.len();
        assert!(bytes > OBJECTS * 100);
    }
    let list = median(lists);

    // Bad objects: half break the schema, half the CEL rule.
    let path = "/apis/bench.example.com/v1/namespaces/default/things0";
    let mut not_422 = 0;
    let mut server_errors = 0;
    for i in 0..BAD {
        let spec = if i % 2 == 0 {
            json!({ "replicas": "many", "engine": "oracle" })
        } else {
            json!({ "replicas": 500, "max": 10 })
        };
        let body = json!({
            "apiVersion": "bench.example.com/v1", "kind": "Thing0",
            "metadata": { "name": format!("bad-{i}") }, "spec": spec,
        });
        let code = post_raw(&client, path, body).await;
        if code != 422 {
            not_422 += 1;
        }
        if code >= 500 || code == 0 {
            server_errors += 1;
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    report::figure(
        "crds.servable",
        report::ms(servable),
        "ms",
        report::Goal::AtMost(100.0),
        "CRD create sent → first object of its kind accepted (median of 9)",
    );
    report::figure(
        "crds.create_10k",
        report::ms(create_time),
        "ms",
        report::Goal::None,
        "create 10,000 custom objects, 32 clients",
    );
    report::figure(
        "crds.list_wire",
        report::ms(list),
        "ms",
        report::Goal::AtMost(150.0),
        "LIST of 10,000 custom objects, bytes on the wire (median of 5)",
    );
    report::figure(
        "crds.bad_not_422",
        not_422 as f64,
        "requests",
        report::Goal::AtMost(0.0),
        "of 200 bad objects (schema, CEL), answered other than 422",
    );
    println!();
    println!("| measure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| CRD create → first object accepted (median of {ROUNDS}) | {:.1} ms | <= 100 ms |",
        report::ms(servable)
    );
    println!(
        "| create {OBJECTS} custom objects, {WRITERS} clients | {:.0} ms | - |",
        report::ms(create_time)
    );
    println!(
        "| LIST {OBJECTS} custom objects ({:.1} MB on the wire, median of 5) | {:.0} ms | <= 150 ms |",
        bytes as f64 / 1e6,
        report::ms(list)
    );
    println!("| {BAD} bad objects answered other than 422 | {not_422} ({server_errors} 5xx) | 0 |");
}
