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
    assert_eq!(&row[..2], ["web", "4"], "{scale}");
    // AVAILABLE is the set's status.replicas: as many pods as the
    // StatefulSet controller has created by now.
    assert!(row[2].parse::<u32>().is_ok_and(|n| n <= 4), "{scale}");
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

/// `jsonpath` of the set `web` in the default namespace.
fn field(o: &Ordinal, path: &str) -> String {
    o.ok(&["get", "sts", "web", "-o", &format!("jsonpath={path}")])
}

const TWO_CONTAINERS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  annotations: {team: a, owner: b}
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
        image: nginx:1
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports: [{containerPort: 80}, {containerPort: 443}]
      - name: sidecar
        image: busybox:1
        command: [sleep, "3600"]
      volumes:
      - name: scratch
        emptyDir: {}
"#;

#[test]
fn apply_twice_removes_what_the_manifest_dropped() {
    let o = Ordinal::start();
    let out = o.ok_stdin(&["apply", "-f", "-"], TWO_CONTAINERS);
    assert!(out.contains("statefulset.apps/web created"), "{out}");
    // Someone else adds a label the manifest never had: apply keeps it.
    o.ok(&["label", "sts", "web", "added-by=hand"]);
    let edited = TWO_CONTAINERS
        .replace("annotations: {team: a, owner: b}", "annotations: {team: a}")
        .replace(", {name: B, value: \"2\"}", "")
        .replace(", {containerPort: 443}", "")
        .replace("image: nginx:1", "image: nginx:2")
        .replace(
            "      - name: sidecar\n        image: busybox:1\n        command: [sleep, \"3600\"]\n",
            "",
        )
        .replace(
            "      volumes:\n      - name: scratch\n        emptyDir: {}\n",
            "",
        );
    let out = o.ok_stdin(&["apply", "-f", "-"], &edited);
    assert!(out.contains("statefulset.apps/web configured"), "{out}");
    assert_eq!(field(&o, "{.spec.template.spec.containers[*].name}"), "c");
    assert_eq!(
        field(&o, "{.spec.template.spec.containers[0].image}"),
        "nginx:2"
    );
    assert_eq!(
        field(&o, "{.spec.template.spec.containers[0].env[*].name}"),
        "A"
    );
    assert_eq!(
        field(
            &o,
            "{.spec.template.spec.containers[0].ports[*].containerPort}"
        ),
        "80"
    );
    assert_eq!(field(&o, "{.spec.template.spec.volumes}"), "");
    assert_eq!(field(&o, "{.metadata.annotations.owner}"), "");
    assert_eq!(field(&o, "{.metadata.annotations.team}"), "a");
    assert_eq!(field(&o, "{.metadata.labels.added-by}"), "hand");
    // A third apply of the same manifest changes nothing.
    let out = o.ok_stdin(&["apply", "-f", "-"], &edited);
    assert!(out.contains("statefulset.apps/web unchanged"), "{out}");
}

#[test]
fn server_side_apply_tracks_managers_and_reports_conflicts() {
    let o = Ordinal::start();
    let out = o.ok_stdin(&["apply", "--server-side", "-f", "-"], SET);
    assert!(
        out.contains("statefulset.apps/web serverside-applied"),
        "{out}"
    );
    let appliers = o.ok(&[
        "get",
        "sts",
        "web",
        "--show-managed-fields",
        "-o",
        r#"jsonpath={.metadata.managedFields[?(@.operation=="Apply")].manager}"#,
    ]);
    assert_eq!(appliers, "kubectl");
    // Besides kubectl's apply, only the controller's status writes (as
    // kube-controller-manager's show on a real cluster).
    let updaters = o.ok(&[
        "get",
        "sts",
        "web",
        "--show-managed-fields",
        "-o",
        r#"jsonpath={range .metadata.managedFields[?(@.operation=="Update")]}{.manager}/{.subresource} {end}"#,
    ]);
    assert!(
        updaters
            .split_whitespace()
            .all(|u| u == "ordinal-controller/status"),
        "{updaters}"
    );

    let scale_to_5 =
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: 5\n";
    let conflict = o.run_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=autoscaler",
            "-f",
            "-",
        ],
        scale_to_5,
    );
    assert!(!conflict.status.success());
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{stderr}"
    );
    assert_eq!(field(&o, "{.spec.replicas}"), "2");

    o.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=autoscaler",
            "--force-conflicts",
            "-f",
            "-",
        ],
        scale_to_5,
    );
    assert_eq!(field(&o, "{.spec.replicas}"), "5");
    // The first manager no longer owns replicas: re-applying its manifest
    // without replicas would not reset them; applying with them conflicts.
    let again = o.run_stdin(&["apply", "--server-side", "-f", "-"], SET);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("conflict with \"autoscaler\""));
}

#[test]
fn patch_with_every_type_and_edit() {
    let o = Ordinal::start();
    o.ok_stdin(&["apply", "-f", "-"], TWO_CONTAINERS);
    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ]);
    assert_eq!(field(&o, "{.spec.replicas}"), "3");
    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"front"}}}"#,
    ]);
    assert_eq!(field(&o, "{.metadata.labels.tier}"), "front");
    // Strategic (the default): the container merges by name, the other stays.
    o.ok(&[
        "patch",
        "sts",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}"#,
    ]);
    assert_eq!(
        field(&o, "{.spec.template.spec.containers[*].image}"),
        "nginx:1 busybox:2"
    );
    let bad = o.run(&[
        "patch",
        "sts",
        "web",
        "--type",
        "json",
        "-p",
        "[{\"op\":\"explode\"}]",
    ]);
    assert!(!bad.status.success());

    o.ok(&["rollout", "restart", "sts", "web"]);
    assert!(
        !field(
            &o,
            "{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}"
        )
        .is_empty()
    );

    let edited = o
        .kubectl()
        .args(["edit", "sts", "web"])
        .env("EDITOR", "sed -i -e s/image:\\ nginx:1/image:\\ nginx:3/")
        .output()
        .unwrap();
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    assert_eq!(
        field(&o, "{.spec.template.spec.containers[*].image}"),
        "nginx:3 busybox:2"
    );
}
