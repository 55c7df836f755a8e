//! The dogfood proof that `ordinal controller` runs on any cluster: the
//! shipped manifests (`deploy/ordinal-controller.yaml`: namespace,
//! ServiceAccount, RBAC, a two-replica Deployment) applied to an
//! `ordinal up --no-controllers`, which runs a cluster's own controllers
//! (scheduler, Deployments, ReplicaSets, ...) but no StatefulSet
//! controller. The controller's pods find the API server and their
//! credentials in-cluster, one of them wins the Lease, and it drives a
//! StatefulSet's creation and rolling update.
//!
//! Every wait is a bounded poll.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Ordinal, eventually, images};

/// The set the controller drives; its image is `images::BUSYBOX`.
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
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        imagePullPolicy: Never
        command: [sh, -c, "exec sleep 3600"]
        env: [{name: GENERATION, value: "one"}]
"#;

fn shipped_manifests() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/ordinal-controller.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        text.contains("image: ordinal:latest"),
        "the manifest's image line moved"
    );
    // The image this test built, from the node's store.
    text.replace(
        "image: ordinal:latest",
        "image: ordinal:test\n        imagePullPolicy: Never",
    )
}

/// Waits for the set's rollout; on failure shows what the cluster and the
/// controllers say.
fn rolled_out(o: &Ordinal, controllers: &[String]) {
    let out = o.run(&["rollout", "status", "statefulset/web", "--timeout=120s"]);
    if out.status.success() {
        return;
    }
    let mut report = String::from_utf8_lossy(&out.stderr).into_owned();
    for args in [
        &["get", "pods", "-A", "-o", "wide"][..],
        &["describe", "statefulset", "web"][..],
        &["get", "events", "-A"][..],
    ] {
        report.push_str(&String::from_utf8_lossy(&o.run(args).stdout));
    }
    for pod in controllers {
        report.push_str(&String::from_utf8_lossy(
            &o.run(&["logs", "-n", "ordinal-system", pod]).stdout,
        ));
    }
    panic!("the set did not roll out:\n{report}");
}

#[test]
fn ordinal_controller_runs_as_a_deployment_and_drives_a_rollout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    images::prepare(&dir);
    images::import(
        &dir,
        "ordinal",
        &images::ordinal_archive(std::path::Path::new(common::binary())),
    );
    let o = Ordinal::start_on_with(&dir, &["--no-controllers"]);

    o.ok_stdin(&["apply", "-f", "-"], &shipped_manifests());
    o.ok(&[
        "rollout",
        "status",
        "deployment/ordinal-controller",
        "-n",
        "ordinal-system",
        "--timeout=120s",
    ]);
    let pods = o.ok(&[
        "get",
        "pods",
        "-n",
        "ordinal-system",
        "-l",
        "app.kubernetes.io/name=ordinal-controller",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    let pods: Vec<String> = pods.split_whitespace().map(str::to_string).collect();
    assert_eq!(pods.len(), 2, "{pods:?}");

    // One of the pods holds the Lease.
    let mut holder = String::new();
    eventually(
        "a controller pod wins the Lease",
        Duration::from_secs(60),
        || {
            holder = o
                .run(&[
                    "get",
                    "lease",
                    "ordinal-controller",
                    "-n",
                    "kube-system",
                    "-o",
                    "jsonpath={.spec.holderIdentity}",
                ])
                .stdout
                .iter()
                .map(|&b| b as char)
                .collect();
            pods.iter().any(|p| holder.starts_with(p.as_str()))
        },
    );

    // The elected controller creates the set's pods in order...
    o.ok_stdin(&["apply", "-f", "-"], SET);
    rolled_out(&o, &pods);
    // ... and rolls out a new template.
    o.ok(&["set", "env", "statefulset/web", "GENERATION=two"]);
    rolled_out(&o, &pods);
    let envs = o.ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].spec.containers[0].env[0].value}",
    ]);
    assert_eq!(
        envs.split_whitespace().collect::<Vec<_>>(),
        ["two", "two"],
        "{envs}"
    );
    let logs = o.ok(&[
        "logs",
        "-n",
        "ordinal-system",
        &pods
            .iter()
            .find(|p| holder.starts_with(p.as_str()))
            .cloned()
            .unwrap_or_default(),
    ]);
    assert!(
        logs.contains("campaigning for the lease kube-system/ordinal-controller"),
        "{logs}"
    );
}
