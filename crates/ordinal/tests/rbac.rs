//! End to end: RBAC objects (rbac.authorization.k8s.io/v1) through the
//! real kubectl — its imperative `create` commands, `get` tables, errors
//! and `apply` — against `ordinal up`. Serving the objects only: nothing
//! here is about who may do what.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{Ordinal, eventually};

/// The header line of a `kubectl get` table, split into column names.
fn header(output: &str) -> Vec<String> {
    output
        .lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The data row of `name` in a `kubectl get` table, split into cells.
fn row(output: &str, name: &str) -> Vec<String> {
    output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{output}"))
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn imperative_commands_tables_and_the_default_policy() {
    let o = Ordinal::start();

    // The default cluster roles and bindings are there from the start.
    let roles = o.ok(&["get", "clusterroles"]);
    assert_eq!(header(&roles), ["NAME", "CREATED AT"]);
    for name in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:node",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:aggregate-to-view",
    ] {
        assert!(
            roles.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{roles}"
        );
    }
    let labelled = o.ok(&[
        "get",
        "clusterroles",
        "-l",
        "kubernetes.io/bootstrapping=rbac-defaults",
        "-o",
        "name",
    ]);
    assert!(labelled.contains("clusterrole.rbac.authorization.k8s.io/cluster-admin"));
    let bindings = o.ok(&["get", "clusterrolebindings", "-o", "wide"]);
    assert_eq!(
        header(&bindings),
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    );
    let admin = row(&bindings, "cluster-admin");
    assert_eq!(admin[1], "ClusterRole/cluster-admin", "{bindings}");
    assert!(admin.contains(&"system:masters".to_string()), "{bindings}");

    // The aggregation controller fills view from system:aggregate-to-view.
    eventually("view aggregated", Duration::from_secs(20), || {
        let resources = o.ok(&[
            "get",
            "clusterrole",
            "view",
            "-o",
            "jsonpath={.rules[*].resources}",
        ]);
        resources.contains("statefulsets") && !resources.contains("\"secrets\"")
    });

    // kubectl's generators, in a namespace of their own.
    o.ok(&["create", "namespace", "team"]);
    let made = o.ok(&[
        "create",
        "role",
        "pod-reader",
        "-n",
        "team",
        "--verb=get,list,watch",
        "--resource=pods,pods/log",
    ]);
    assert_eq!(
        made.trim(),
        "role.rbac.authorization.k8s.io/pod-reader created"
    );
    let made = o.ok(&[
        "create",
        "rolebinding",
        "read-pods",
        "-n",
        "team",
        "--role=pod-reader",
        "--user=jane",
        "--group=devs",
        "--serviceaccount=team:default",
    ]);
    assert_eq!(
        made.trim(),
        "rolebinding.rbac.authorization.k8s.io/read-pods created"
    );
    let made = o.ok(&[
        "create",
        "clusterrole",
        "monitoring",
        "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true",
    ]);
    assert_eq!(
        made.trim(),
        "clusterrole.rbac.authorization.k8s.io/monitoring created"
    );
    // A name with a colon, as the system roles have.
    o.ok(&[
        "create",
        "clusterrole",
        "team:metrics-reader",
        "--verb=get",
        "--non-resource-url=/metrics",
    ]);
    o.ok(&[
        "create",
        "clusterrolebinding",
        "team:metrics",
        "--clusterrole=team:metrics-reader",
        "--serviceaccount=team:default",
    ]);

    let role = o.ok(&["get", "role", "-n", "team"]);
    assert_eq!(header(&role), ["NAME", "CREATED AT"]);
    assert!(role.contains("pod-reader"), "{role}");
    let rb = o.ok(&["get", "rolebinding", "-n", "team"]);
    assert_eq!(header(&rb), ["NAME", "ROLE", "AGE"]);
    assert_eq!(row(&rb, "read-pods")[1], "Role/pod-reader");
    let wide = o.ok(&[
        "get",
        "rolebinding",
        "read-pods",
        "-n",
        "team",
        "-o",
        "wide",
    ]);
    assert_eq!(
        row(&wide, "read-pods")[3..],
        ["jane", "devs", "team/default"],
        "{wide}"
    );
    let rules = o.ok(&[
        "get",
        "role",
        "pod-reader",
        "-n",
        "team",
        "-o",
        "jsonpath={.rules[0].verbs}",
    ]);
    assert_eq!(rules, r#"["get","list","watch"]"#);

    // A role aggregating others fills as roles join it.
    o.ok(&[
        "create",
        "clusterrole",
        "crontab-reader",
        "--verb=get",
        "--resource=configmaps",
    ]);
    o.ok(&[
        "label",
        "clusterrole",
        "crontab-reader",
        "rbac.example.com/aggregate-to-monitoring=true",
    ]);
    eventually("monitoring aggregated", Duration::from_secs(20), || {
        o.ok(&[
            "get",
            "clusterrole",
            "monitoring",
            "-o",
            "jsonpath={.rules[*].resources}",
        ])
        .contains("configmaps")
    });

    // A binding's role cannot change.
    let out = o.run(&[
        "patch",
        "rolebinding",
        "read-pods",
        "-n",
        "team",
        "--type=merge",
        "-p",
        r#"{"roleRef":{"name":"other"}}"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot change roleRef"), "{err}");
}

#[test]
fn an_invalid_role_is_a_422_with_its_field_cause() {
    let o = Ordinal::start();
    // A namespaced rule for a non-resource URL, and a rule without verbs.
    let role = r#"{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "bad", "namespace": "default"},
        "rules": [
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            {"apiGroups": [""], "resources": ["pods"]}
        ]
    }"#;
    let out = o.run_stdin(&["create", "-f", "-", "-v=6"], role);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("422 Unprocessable Entity"), "{err}");
    // kubectl prints the Status's causes, one per field.
    assert!(err.contains(r#"The Role "bad" is invalid"#), "{err}");
    assert!(
        err.contains(
            r#"* rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs"#
        ),
        "{err}"
    );
    assert!(
        err.contains("* rules[1].verbs: Required value: verbs must contain at least one value"),
        "{err}"
    );

    // A cluster binding to a Role, and a service account without a
    // namespace.
    let binding = r#"{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "wrong"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default"}]}"#;
    let out = o.run_stdin(&["create", "-f", "-"], binding);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#),
        "{err}"
    );
    assert!(
        err.contains("subjects[0].namespace: Required value"),
        "{err}"
    );
}

const ROLE_AND_BINDING: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: config-editor
  namespace: default
rules:
- apiGroups: [\"\"]
  resources: [configmaps]
  verbs: [get, list, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: config-editors
  namespace: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: config-editor
subjects:
- kind: User
  name: jane
  apiGroup: rbac.authorization.k8s.io
";

/// A kubectl of another version, for this server, with a fresh cache.
fn kubectl_version(o: &Ordinal, version: &str, cache: &Path, args: &[&str]) -> Output {
    let path = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}");
    assert!(Path::new(&path).exists(), "{path} missing");
    Command::new(path)
        .env("KUBECONFIG", o.kubeconfig())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .arg("--cache-dir")
        .arg(cache)
        .arg("--request-timeout=20s")
        .args(args)
        .output()
        .expect("kubectl runs")
}

#[test]
fn apply_of_a_role_and_binding_with_kubectl_1_33_and_1_27() {
    let o = Ordinal::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rbac.yaml");
    std::fs::write(&file, ROLE_AND_BINDING).unwrap();
    let file = file.to_str().unwrap();

    for (version, verb) in [("1.33", "created"), ("1.27", "unchanged")] {
        let cache = tempfile::tempdir().unwrap();
        let out = kubectl_version(&o, version, cache.path(), &["apply", "-f", file]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kubectl {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "role.rbac.authorization.k8s.io/config-editor {verb}"
            )),
            "kubectl {version}: {stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "rolebinding.rbac.authorization.k8s.io/config-editors {verb}"
            )),
            "kubectl {version}: {stdout}"
        );
    }

    // A changed file applies as a patch (with 1.27's client-side apply),
    // and server-side apply takes it too.
    let changed = ROLE_AND_BINDING.replace("[get, list, update]", "[get, list]");
    std::fs::write(dir.path().join("rbac.yaml"), &changed).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = kubectl_version(&o, "1.27", cache.path(), &["apply", "-f", file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("config-editor configured"));
    let verbs = o.ok(&[
        "get",
        "role",
        "config-editor",
        "-o",
        "jsonpath={.rules[0].verbs}",
    ]);
    assert_eq!(verbs, r#"["get","list"]"#);
    let out = o.ok(&["apply", "--server-side", "--force-conflicts", "-f", file]);
    assert!(out.contains("serverside-applied"), "{out}");

    // Changing the binding's role is refused, as upstream refuses it.
    let retarget =
        ROLE_AND_BINDING.replace("  name: config-editor\nsubjects", "  name: other\nsubjects");
    assert_ne!(retarget, ROLE_AND_BINDING);
    let out = o.run_stdin(&["apply", "-f", "-"], &retarget);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot change roleRef"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
