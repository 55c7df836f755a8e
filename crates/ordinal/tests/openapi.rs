//! Real-world manifests and `kubectl explain` with every kubectl from 1.27
//! to 1.33: kubectl 1.27/1.28 validate through `/openapi/v2` (protobuf),
//! newer ones ask `/openapi/v3` whether the server validates fields; all
//! of them build strategic merge patches from the schemas served, and
//! `explain` prints upstream's field docs.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Ordinal;

/// kubectl of each minor version this machine installs beside 1.33.
fn kubectls() -> Vec<(String, PathBuf)> {
    (27..=33)
        .map(|minor| {
            let path = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}"));
            assert!(
                path.exists(),
                "{} is missing: install the Google Cloud SDK's kubectl 1.27-1.33 (package google-cloud-cli-kubectl, or any kubectl 1.{minor} binary at that path)",
                path.display()
            );
            (format!("1.{minor}"), path)
        })
        .collect()
}

fn manifest(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/ecosystem");
    dir.join(name).display().to_string()
}

fn kubectl(o: &Ordinal, path: &PathBuf, args: &[&str]) -> std::process::Output {
    let cache = tempfile::tempdir().expect("tempdir");
    Command::new(path)
        .env("KUBECONFIG", o.kubeconfig())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .arg("--cache-dir")
        .arg(cache.path())
        .args(args)
        .output()
        .expect("kubectl runs")
}

#[test]
fn every_kubectl_applies_the_ecosystems_files_whole() {
    let o = Ordinal::start_with(&["--no-node"]);
    for (version, path) in kubectls() {
        let ns = format!("v{}", version.replace('.', ""));
        o.ok(&["create", "namespace", &ns]);
        for (file, want) in [
            (
                "zookeeper.yaml",
                &[
                    "service/zk-hs created",
                    "poddisruptionbudget.policy/zk-pdb created",
                    "statefulset.apps/zk created",
                ][..],
            ),
            (
                "mysql.yaml",
                &[
                    "configmap/mysql created",
                    "service/mysql-read created",
                    "statefulset.apps/mysql created",
                ][..],
            ),
            (
                "cockroachdb.yaml",
                &[
                    "serviceaccount/cockroachdb created",
                    "role.rbac.authorization.k8s.io/cockroachdb created",
                    "rolebinding.rbac.authorization.k8s.io/cockroachdb created",
                    "poddisruptionbudget.policy/cockroachdb-budget created",
                    "statefulset.apps/cockroachdb created",
                    "job.batch/cluster-init-secure created",
                ][..],
            ),
        ] {
            let out = kubectl(&o, &path, &["apply", "-n", &ns, "-f", &manifest(file)]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "kubectl {version} apply -f {file}:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for line in want {
                assert!(
                    stdout.contains(line),
                    "kubectl {version} apply -f {file}: no {line:?} in\n{stdout}"
                );
            }
            // A second apply computes patches from the served schemas and
            // changes no spec (a set's claim templates, an atomic list, are
            // sent again, as upstream's kubectl does, to no effect).
            let generations = || {
                o.ok(&[
                    "get",
                    "-n",
                    &ns,
                    "statefulsets",
                    "-o",
                    "jsonpath={.items[*].metadata.generation}",
                ])
            };
            let before = generations();
            let again = kubectl(&o, &path, &["apply", "-n", &ns, "-f", &manifest(file)]);
            assert!(
                again.status.success(),
                "kubectl {version} re-apply {file}: {}",
                String::from_utf8_lossy(&again.stderr)
            );
            assert_eq!(
                generations(),
                before,
                "kubectl {version} re-apply {file}: {}",
                String::from_utf8_lossy(&again.stdout)
            );
        }
        // A container added to the template merges by name: the other
        // container keeps its fields (a wrong patch strategy would replace
        // the list).
        let patched = kubectl(
            &o,
            &path,
            &[
                "patch",
                "-n",
                &ns,
                "sts/mysql",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"mysql","image":"mysql:8.0"}]}}}}"#,
            ],
        );
        assert!(
            patched.status.success(),
            "{}",
            String::from_utf8_lossy(&patched.stderr)
        );
        let images = o.ok(&[
            "get",
            "-n",
            &ns,
            "sts/mysql",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ]);
        assert_eq!(
            images, "mysql:8.0 gcr.io/google-samples/xtrabackup:1.0",
            "kubectl {version}"
        );
    }
}

#[test]
fn a_kind_that_is_not_served_fails_for_that_object_alone() {
    let o = Ordinal::start_with(&["--no-node"]);
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(
        file.path(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n",
    )
    .expect("writing the file");
    for (version, path) in kubectls() {
        let out = kubectl(
            &o,
            &path,
            &["apply", "-f", &file.path().display().to_string()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "kubectl {version}");
        assert!(
            stderr.contains("no matches for kind \"Widget\" in version \"example.com/v1\""),
            "kubectl {version}: {stderr}"
        );
        assert!(
            !stderr.contains("error validating"),
            "kubectl {version}: {stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("configmap/before") && stdout.contains("configmap/after"),
            "kubectl {version}: {stdout}"
        );
    }
}

#[test]
fn explain_prints_upstreams_field_docs() {
    let o = Ordinal::start_with(&["--no-node"]);
    for (version, path) in kubectls() {
        let out = kubectl(
            &o,
            &path,
            &["explain", "sts.spec.updateStrategy.rollingUpdate"],
        );
        // kubectl wraps the docs; compare them with the lines joined.
        let text = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            out.status.success(),
            "kubectl {version} explain: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for want in [
            "partition",
            "Partition indicates the ordinal at which the StatefulSet should be partitioned",
            "maxUnavailable",
        ] {
            assert!(
                text.contains(want),
                "kubectl {version} explain: no {want:?} in\n{text}"
            );
        }
        let v2 = kubectl(
            &o,
            &path,
            &[
                "explain",
                "pod.spec.containers.env",
                "--output=plaintext-openapiv2",
            ],
        );
        let text = String::from_utf8_lossy(&v2.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.contains("List of environment variables to set in the container"),
            "kubectl {version} explain (v2): {text}{}",
            String::from_utf8_lossy(&v2.stderr)
        );
    }
    // Every served kind has its schema.
    let resources = o.ok(&["api-resources", "--verbs=list", "-o", "name"]);
    for name in resources.lines() {
        // `events.events.k8s.io`: the plural, then the group (every group
        // this server has is at v1).
        let (resource, api_version) = match name.split_once('.') {
            Some((resource, group)) => (resource, format!("{group}/v1")),
            None => (name, "v1".to_string()),
        };
        let out = o.run(&["explain", resource, "--api-version", &api_version]);
        assert!(
            out.status.success(),
            "explain {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
