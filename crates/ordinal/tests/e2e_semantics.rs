//! End to end: the API semantics kubectl relies on beyond CRUD — scale,
//! patches of every type, apply (client- and server-side), edit.

mod common;

use common::Ordinal;

const SET: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: registry.k8s.io/nginx-slim:0.24
"#;

#[test]
fn scale_and_the_scale_subresource() {
    let o = Ordinal::start();
    o.ok_stdin(&["apply", "-f", "-"], SET);
    let out = o.ok(&["scale", "sts/web", "--replicas=4"]);
    assert!(out.contains("statefulset.apps/web scaled"), "{out}");
    let scale = o.ok(&["get", "sts", "web", "--subresource=scale"]);
    let mut lines = scale.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["NAME", "DESIRED", "AVAILABLE", "AGE"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["web", "4", "0"], "{scale}");
    let selector = o.ok(&[
        "get",
        "sts",
        "web",
        "--subresource=scale",
        "-o",
        "jsonpath={.status.selector}",
    ]);
    assert_eq!(selector, "app=web");

    // --current-replicas is a precondition kubectl checks against the Scale.
    let wrong = o.run(&["scale", "sts/web", "--replicas=1", "--current-replicas=3"]);
    assert!(!wrong.status.success());
    o.ok(&["scale", "sts/web", "--replicas=1", "--current-replicas=4"]);
    let replicas = o.ok(&["get", "sts", "web", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "1");

    let negative = o.run(&["scale", "sts/web", "--replicas=-1"]);
    assert!(!negative.status.success());
}
