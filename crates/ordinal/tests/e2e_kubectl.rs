//! End to end: the real kubectl 1.33 against `ordinal up`, doing what a user
//! does, with no `--validate=false` and a fresh discovery cache.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::Ordinal;

const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/manifests/app.yaml");

/// The header line of a `kubectl get` table, split into column names.
fn header(output: &str) -> Vec<String> {
    let first = output.lines().next().unwrap_or("");
    first
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn apply_then_get_every_kind_with_upstream_columns() {
    let o = Ordinal::start();
    let applied = o.ok(&["apply", "-f", APP]);
    for line in [
        "namespace/shop created",
        "configmap/web-config created",
        "secret/web-secret created",
        "service/web created",
        "statefulset.apps/web created",
    ] {
        assert!(applied.contains(line), "apply said:\n{applied}");
    }

    let sts = o.ok(&["get", "statefulsets", "-n", "shop"]);
    assert_eq!(header(&sts), ["NAME", "READY", "AGE"]);
    assert!(sts.lines().nth(1).unwrap().starts_with("web "), "{sts}");
    assert!(sts.contains("0/3"), "{sts}");

    let wide = o.ok(&["get", "sts", "web", "-n", "shop", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    );
    assert!(wide.contains("registry.k8s.io/nginx-slim:0.24"), "{wide}");

    let svc = o.ok(&["get", "svc", "-n", "shop"]);
    assert_eq!(
        header(&svc),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert!(
        svc.contains("None"),
        "a headless service shows None:\n{svc}"
    );
    assert!(svc.contains("80/TCP"), "{svc}");

    let cm = o.ok(&["get", "configmap", "web-config", "-n", "shop"]);
    assert_eq!(header(&cm), ["NAME", "DATA", "AGE"]);
    assert!(
        cm.lines().nth(1).unwrap().split_whitespace().nth(1) == Some("2"),
        "{cm}"
    );

    let secret = o.ok(&["get", "secret", "-n", "shop"]);
    assert_eq!(header(&secret), ["NAME", "TYPE", "DATA", "AGE"]);
    assert!(secret.contains("Opaque"), "{secret}");

    let ns = o.ok(&["get", "ns"]);
    assert_eq!(header(&ns), ["NAME", "STATUS", "AGE"]);
    for name in [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "shop",
    ] {
        assert!(
            ns.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{ns}"
        );
    }
    assert!(ns.contains("Active"));

    // -o yaml is the stored object, with server-set metadata.
    let yaml = o.ok(&["get", "sts", "web", "-n", "shop", "-o", "yaml"]);
    for needle in [
        "kind: StatefulSet",
        "uid:",
        "resourceVersion:",
        "creationTimestamp:",
        "generation: 1",
        "serviceName: web",
    ] {
        assert!(yaml.contains(needle), "{needle} missing:\n{yaml}");
    }

    // The secret's stringData became base64 data.
    let password = o.ok(&[
        "get",
        "secret",
        "web-secret",
        "-n",
        "shop",
        "-o",
        "jsonpath={.data.password}",
    ]);
    assert_eq!(password, "czNjcmV0");

    // -A adds the NAMESPACE column; --show-labels and -l work on labels.
    let all_ns = o.ok(&["get", "configmaps", "-A"]);
    assert_eq!(header(&all_ns)[0], "NAMESPACE");
    assert!(
        all_ns.contains("shop") && all_ns.contains("web-config"),
        "{all_ns}"
    );
    let labels = o.ok(&["get", "ns", "shop", "--show-labels"]);
    assert!(labels.contains("team=storefront"), "{labels}");
    assert!(
        labels.contains("kubernetes.io/metadata.name=shop"),
        "{labels}"
    );
    let selected = o.ok(&["get", "ns", "-l", "team=storefront", "-o", "name"]);
    assert_eq!(selected.trim(), "namespace/shop");
    let none = o.run(&["get", "ns", "-l", "team in (backend)"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("No resources found"));

    // Applying the same manifests again changes nothing stored. kubectl
    // still says "configured" for the set and the secret, as against a
    // real cluster: the stored claim templates carry server defaults, so
    // kubectl resends that atomic list, and `stringData` never reads back.
    let rv = |o: &Ordinal| {
        o.ok(&[
            "get",
            "sts,secret,svc,cm",
            "-n",
            "shop",
            "-o",
            "jsonpath={.items[*].metadata.resourceVersion}",
        ])
    };
    let before = rv(&o);
    let again = o.ok(&["apply", "-f", APP]);
    assert!(again.contains("service/web unchanged"), "{again}");
    assert!(again.contains("configmap/web-config unchanged"), "{again}");
    assert_eq!(rv(&o), before, "a second apply wrote something:\n{again}");
}

#[test]
fn create_twice_is_already_exists_and_delete_removes() {
    let o = Ordinal::start();
    o.ok(&["create", "configmap", "settings", "--from-literal=a=1"]);
    let second = o.run(&["create", "configmap", "settings", "--from-literal=a=1"]);
    assert!(!second.status.success());
    // kubectl's generators print the server's message in their own frame.
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("failed to create configmap: configmaps \"settings\" already exists"),
        "{err}"
    );
    // `create -f` shows the Status reason.
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-file\ndata:\n  a: b\n";
    o.ok_stdin(&["create", "-f", "-"], manifest);
    let out = o.run_stdin(&["create", "-f", "-"], manifest);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (AlreadyExists)")
            && err.contains("configmaps \"from-file\" already exists"),
        "{err}"
    );
    let deleted = o.ok(&["delete", "configmap", "settings"]);
    assert!(
        deleted.contains("configmap \"settings\" deleted"),
        "{deleted}"
    );
    let gone = o.run(&["get", "configmap", "settings"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("(NotFound)"));
}

#[test]
fn get_watch_prints_changes_made_by_another_kubectl() {
    let o = Ordinal::start();
    o.ok(&["create", "configmap", "watched", "--from-literal=a=1"]);
    let mut watch = o
        .kubectl()
        .args(["get", "configmaps", "-w", "--request-timeout=0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // Every namespace also has the cluster CA's ConfigMap, made
            // by a controller at a moment of its own.
            if line.starts_with("kube-root-ca.crt ") {
                continue;
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line: {what}"))
    };
    assert!(next("header").starts_with("NAME"));
    assert!(next("initial row").starts_with("watched "));
    o.ok(&[
        "create",
        "configmap",
        "newcomer",
        "--from-literal=x=1",
        "--from-literal=y=2",
    ]);
    let line = next("the new configmap");
    assert!(
        line.starts_with("newcomer ") && line.split_whitespace().nth(1) == Some("2"),
        "{line}"
    );
    o.ok(&["label", "configmap", "watched", "touched=yes"]);
    assert!(next("the relabel").starts_with("watched "));
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn discovery_commands_get_all_and_version() {
    let o = Ordinal::start();
    let resources = o.ok(&["api-resources"]);
    for row in [
        ("pods", "po", "v1", "true", "Pod"),
        ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
        ("persistentvolumes", "pv", "v1", "false", "PersistentVolume"),
        (
            "storageclasses",
            "sc",
            "storage.k8s.io/v1",
            "false",
            "StorageClass",
        ),
        ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
        (
            "poddisruptionbudgets",
            "pdb",
            "policy/v1",
            "true",
            "PodDisruptionBudget",
        ),
    ] {
        let found = resources.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let expect: Vec<&str> = [row.0, row.1, row.2, row.3, row.4]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            cols == expect
        });
        assert!(found, "{row:?} missing:\n{resources}");
    }

    o.ok(&["apply", "-f", APP]);
    let all = o.ok(&["get", "all", "-n", "shop"]);
    assert!(all.contains("service/web"), "{all}");
    assert!(all.contains("statefulset.apps/web"), "{all}");

    let version = o.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
    assert!(
        v["serverVersion"]["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.33.")
    );
}

#[test]
fn strict_validation_rejects_unknown_fields() {
    let o = Ordinal::start();
    let manifest =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n  a: b\ndatta:\n  c: d\n";
    let out = o.run_stdin(&["apply", "-f", "-"], manifest);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"datta\""), "{err}");
}

#[test]
fn apply_keeps_working_after_replace_rewrote_the_last_applied_configuration() {
    let o = Ordinal::start_with(&["--no-node"]);
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  a: \"1\"\n";
    o.ok_stdin(&["apply", "-f", "-"], manifest);
    // `replace` with the live object stores a last-applied configuration
    // holding a resourceVersion; the next apply removes it with
    // `"resourceVersion": null`, which is no precondition.
    let live = o.ok(&["get", "cm", "ap", "-o", "yaml"]);
    o.ok_stdin(&["replace", "-f", "-"], &live);
    let applied = o.ok_stdin(&["apply", "-f", "-"], &manifest.replace("\"1\"", "\"2\""));
    assert!(applied.contains("configmap/ap configured"), "{applied}");
    assert_eq!(o.ok(&["get", "cm", "ap", "-o", "jsonpath={.data.a}"]), "2");

    // A resourceVersion the patch does set is still a precondition.
    let stale = o.run(&[
        "patch",
        "cm",
        "ap",
        "-p",
        r#"{"metadata":{"resourceVersion":"1"},"data":{"a":"3"}}"#,
    ]);
    assert!(!stale.status.success());
    let err = String::from_utf8_lossy(&stale.stderr);
    assert!(err.contains("Conflict"), "{err}");
    assert_eq!(o.ok(&["get", "cm", "ap", "-o", "jsonpath={.data.a}"]), "2");
}

#[test]
fn debug_says_ephemeral_containers_are_not_served_instead_of_crashing_kubectl() {
    let o = Ordinal::start_with(&["--no-node"]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    command: [sleep, \"1000\"]\n",
    );
    let out = o.run(&["debug", "p", "--image=busybox:1.36"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("panic"), "kubectl crashed:\n{err}");
    assert!(err.contains("ephemeral containers are disabled"), "{err}");
}

#[test]
fn deployments_and_replica_sets_through_kubectl_without_controllers() {
    // The API side only: no controller acts, so status stays empty.
    let o = Ordinal::start_with(&["--no-node", "--api-only"]);
    // kubectl sends this Deployment as protobuf.
    let created = o.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
    ]);
    assert!(created.contains("deployment.apps/web created"), "{created}");
    assert_eq!(
        o.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.strategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} {.spec.progressDeadlineSeconds}"]),
        "25% 10 600"
    );

    let scaled = o.ok(&["scale", "deploy", "web", "--replicas=3"]);
    assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
    assert_eq!(
        o.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );

    // A ReplicaSet as the Deployment controller would make it.
    let uid = o.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-6f7d\n  labels: {{app: web, pod-template-hash: 6f7d}}\n  annotations: {{deployment.kubernetes.io/revision: \"1\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {uid}, controller: true, blockOwnerDeletion: true}}]\nspec:\n  replicas: 3\n  selector: {{matchLabels: {{app: web, pod-template-hash: 6f7d}}}}\n  template:\n    metadata: {{labels: {{app: web, pod-template-hash: 6f7d}}}}\n    spec:\n      containers: [{{name: nginx, image: \"nginx:1.27\"}}]\n"
        ),
    );

    let both = o.ok(&["get", "deploy,rs"]);
    let mut tables = both.split("\n\n");
    let deployments = tables.next().unwrap();
    assert_eq!(
        header(deployments),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    let row: Vec<&str> = deployments
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..4],
        ["deployment.apps/web", "0/3", "0", "0"],
        "{both}"
    );
    let sets = tables.next().expect("a second table");
    assert_eq!(header(sets), ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    let row: Vec<&str> = sets.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..4],
        ["replicaset.apps/web-6f7d", "3", "0", "0"],
        "{both}"
    );

    let wide = o.ok(&["get", "deploy", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(
        wide.contains("nginx:1.27") && wide.contains("app=web"),
        "{wide}"
    );
    let wide = o.ok(&["get", "rs", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );

    // The patches kubectl rollout sends are taken (what they lead to is the
    // controller's business).
    o.ok(&["rollout", "pause", "deploy/web"]);
    assert_eq!(
        o.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.paused}"]),
        "true"
    );
    o.ok(&["rollout", "resume", "deploy/web"]);
    o.ok(&["rollout", "restart", "deploy/web"]);
    assert!(
        !o.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.metadata.annotations}"
        ])
        .is_empty()
    );
    // History reads the Deployment's ReplicaSets and their revisions.
    let history = o.ok(&["rollout", "history", "deploy/web"]);
    assert!(
        history.contains("REVISION") && history.lines().any(|l| l.starts_with("1 ")),
        "{history}"
    );
    o.ok(&["set", "image", "deploy/web", "nginx=nginx:1.26"]);
    assert_eq!(
        o.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "nginx:1.26"
    );

    // Upstream's refusal of a Recreate strategy with rolling parameters.
    let refused = o.run(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"),
        "{err}"
    );
    assert!(
        o.ok(&["api-resources", "--api-group=apps"])
            .contains("deploy")
    );
}
