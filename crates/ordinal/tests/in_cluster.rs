//! Pods talk to the API: a pod's ServiceAccount token, the cluster CA and
//! its namespace are mounted where in-cluster clients look; the
//! `kubernetes` Service reaches the API server from the pod; and RBAC
//! allows the pod what its ServiceAccount was granted, and refuses the rest.
//! kubectl itself runs inside the pod with its in-cluster configuration.

mod common;

use std::time::Duration;

use common::{Ordinal, eventually, images};
use ordinal_image::build::ImageBuilder;

/// busybox plus this machine's kubectl (a static binary) as `kubectl:test`.
fn kubectl_archive() -> Vec<u8> {
    let kubectl = common::kubectl_path();
    let image = ImageBuilder::busybox()
        .unwrap_or_else(|e| panic!("building the kubectl image: {e}"))
        .layer()
        .add_file(&kubectl, "/usr/local/bin/kubectl")
        .unwrap_or_else(|e| panic!("adding {}: {e}", kubectl.display()))
        .build();
    images::archive(&image, "kubectl:test")
}

/// kubectl with no kubeconfig of its own: the test gives the server and
/// the credential.
fn bare_kubectl() -> std::process::Command {
    let mut cmd = std::process::Command::new(common::kubectl_path());
    cmd.env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBECONFIG");
    cmd
}

/// kubectl against `o` with `token` as its only credential.
fn with_token(o: &Ordinal, token: &str, args: &[&str]) -> std::process::Output {
    bare_kubectl()
        .args([
            "--token",
            token,
            "--kubeconfig",
            "/dev/null",
            "--server",
            o.url.as_str(),
            "--insecure-skip-tls-verify",
        ])
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn pod_phase(o: &Ordinal, name: &str) -> String {
    common::peek(o, &format!("pod/{name}"), "{.status.phase}")
}

#[test]
fn a_pod_runs_kubectl_with_its_service_account_and_rbac_limits_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    images::prepare(&dir);
    images::import(&dir, "kubectl", &kubectl_archive());
    let o = Ordinal::start_on(&dir);

    // A reader bound to `view` in its namespace.
    o.ok(&["create", "serviceaccount", "reader"]);
    o.ok(&[
        "create",
        "rolebinding",
        "reader-view",
        "--clusterrole=view",
        "--serviceaccount=default:reader",
    ]);
    eventually(
        "the default roles are aggregated",
        Duration::from_secs(30),
        || common::peek(&o, "clusterrole/view", "{.rules[*].resources}").contains("pods"),
    );
    // Before any pod exists, the admin's answers.
    assert_eq!(
        o.ok(&[
            "auth",
            "can-i",
            "list",
            "pods",
            "--as=system:serviceaccount:default:reader"
        ])
        .trim(),
        "yes"
    );
    let denied = o.run(&[
        "auth",
        "can-i",
        "get",
        "secrets",
        "--as=system:serviceaccount:default:reader",
    ]);
    assert_eq!(String::from_utf8_lossy(&denied.stdout).trim(), "no");

    let script = "set -x; \
        ls /var/run/secrets/kubernetes.io/serviceaccount; \
        cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; \
        echo HOST=$KUBERNETES_SERVICE_HOST PORT=$KUBERNETES_SERVICE_PORT; \
        kubectl get pods -o name; \
        kubectl auth can-i list pods; \
        kubectl auth can-i get secrets; \
        kubectl get secrets; \
        kubectl auth whoami -o jsonpath='{.status.userInfo.username}'; echo; \
        exit 0";
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: incluster
spec:
  serviceAccountName: reader
  restartPolicy: Never
  containers:
  - name: kubectl
    image: kubectl:test
    imagePullPolicy: Never
    command: ["sh", "-c", {script:?}]
"#
    );
    o.ok_stdin(&["apply", "-f", "-"], &manifest);
    eventually("the pod finishes", Duration::from_secs(120), || {
        matches!(pod_phase(&o, "incluster").as_str(), "Succeeded" | "Failed")
    });
    let log = o.ok(&["logs", "incluster"]);
    for want in [
        "ca.crt",
        "namespace",
        "token",
        "HOST=10.96.0.1 PORT=443",
        "pod/incluster",
        "system:serviceaccount:default:reader",
    ] {
        assert!(
            log.contains(want),
            "missing {want:?} in the pod's output:\n{log}"
        );
    }
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    assert!(lines.contains(&"yes"), "can-i list pods:\n{log}");
    assert!(lines.contains(&"no"), "can-i get secrets:\n{log}");
    assert!(
        log.contains(
            "secrets is forbidden: User \"system:serviceaccount:default:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        ),
        "{log}"
    );

    // The token volume is upstream's, and a pod may opt out of it.
    let volumes = common::get(&o, "pod/incluster", "{.spec.volumes[*].name}");
    assert!(volumes.starts_with("kube-api-access-"), "{volumes}");
    o.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: quiet\nspec:\n  automountServiceAccountToken: false\n  containers:\n  - name: c\n    image: busybox:1.36\n    command: [\"sleep\", \"3600\"]\n",
    );
    assert_eq!(common::get(&o, "pod/quiet", "{.spec.volumes}"), "");
}

#[test]
fn tokens_are_issued_bound_and_checked() {
    let o = Ordinal::start();
    o.ok(&["create", "serviceaccount", "robot"]);
    let token = o.ok(&["create", "token", "robot", "--duration=15m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "{token}");

    // The token authenticates as the account, and RBAC refuses what it was
    // not granted.
    let as_robot = |args: &[&str]| with_token(&o, token, args);
    let who = as_robot(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&who.stdout),
        "system:serviceaccount:default:robot"
    );
    let pods = as_robot(&["get", "pods"]);
    assert!(!pods.status.success());
    assert!(
        String::from_utf8_lossy(&pods.stderr).contains("pods is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource \"pods\""),
        "{}",
        String::from_utf8_lossy(&pods.stderr)
    );

    // Too short a lifetime is refused with upstream's cause.
    let short = o.run(&["create", "token", "robot", "--duration=1m"]);
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr)
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    // A token of a deleted account, or a tampered one, authenticates nobody.
    let mut tampered = token.to_string();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let forged = with_token(&o, &tampered, &["get", "ns"]);
    assert!(
        String::from_utf8_lossy(&forged.stderr).contains("Unauthorized"),
        "{}",
        String::from_utf8_lossy(&forged.stderr)
    );
    o.ok(&["delete", "serviceaccount", "robot"]);
    let gone = as_robot(&["auth", "whoami"]);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("Unauthorized"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );

    // The issuer's discovery documents.
    let jwks = o.ok(&["get", "--raw", "/openid/v1/jwks"]);
    assert!(jwks.contains("\"kty\":\"EC\""), "{jwks}");
}

#[test]
fn impersonation_is_authorized_as_upstream() {
    let o = Ordinal::start();
    o.ok(&["create", "serviceaccount", "robot"]);
    // The admin may impersonate anyone; the impersonated identity gets only
    // its own rights.
    let out = o.run(&["get", "secrets", "--as=jane", "--as-group=devs"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("User \"jane\" cannot list resource \"secrets\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        o.ok(&[
            "auth",
            "whoami",
            "--as=jane",
            "--as-group=devs",
            "-o",
            "jsonpath={.status.userInfo.groups}"
        ]),
        "[\"devs\",\"system:authenticated\"]"
    );
    // A ServiceAccount may not impersonate without the right to.
    let token = o.ok(&["create", "token", "robot"]);
    let out = with_token(
        &o,
        token.trim(),
        &["get", "--raw", "/api/v1/namespaces", "--as=system:admin"],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_role_may_grant_only_what_its_writer_holds() {
    let o = Ordinal::start();
    o.ok(&["create", "serviceaccount", "author"]);
    o.ok(&[
        "create",
        "role",
        "author",
        "--verb=create,get",
        "--resource=roles,pods",
    ]);
    o.ok(&[
        "create",
        "rolebinding",
        "author",
        "--role=author",
        "--serviceaccount=default:author",
    ]);
    let token = o.ok(&["create", "token", "author"]);
    let as_author = |args: &[&str]| with_token(&o, token.trim(), args);
    // What the author holds may be granted...
    let ok = as_author(&[
        "create",
        "role",
        "pod-reader",
        "--verb=get",
        "--resource=pods",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // ...and what it does not hold may not.
    let escalate = as_author(&[
        "create",
        "role",
        "secret-reader",
        "--verb=get",
        "--resource=secrets",
    ]);
    assert!(!escalate.status.success());
    let stderr = String::from_utf8_lossy(&escalate.stderr);
    assert!(
        stderr.contains("is attempting to grant RBAC permissions not currently held")
            && stderr.contains(r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}"#),
        "{stderr}"
    );
    assert!(
        o.run(&["get", "role", "secret-reader"])
            .stderr
            .starts_with(b"Error from server (NotFound)")
    );
}

#[test]
fn each_component_is_itself_with_only_its_rights() {
    let o = Ordinal::start();
    let node = common::node_name(&o);
    let as_component = |file: &str, args: &[&str]| {
        let kubeconfig = o.dir.join("pki").join(format!("{file}.kubeconfig"));
        bare_kubectl()
            .env("KUBECONFIG", &kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs")
    };
    for (file, user) in [
        ("controller", "system:ordinal-controller".to_string()),
        ("node", format!("system:node:{node}")),
        ("dns", "system:ordinal-dns".to_string()),
    ] {
        let who = as_component(
            file,
            &[
                "auth",
                "whoami",
                "-o",
                "jsonpath={.status.userInfo.username}",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&who.stdout),
            user,
            "{}",
            String::from_utf8_lossy(&who.stderr)
        );
    }
    // The node reads what its pods need, and may not delete a namespace;
    // the DNS may not read Secrets.
    let pods = as_component("node", &["get", "pods", "-A"]);
    assert!(
        pods.status.success(),
        "{}",
        String::from_utf8_lossy(&pods.stderr)
    );
    let delete = as_component(
        "node",
        &["delete", "namespace", "default", "--dry-run=server"],
    );
    assert!(
        String::from_utf8_lossy(&delete.stderr).contains("cannot delete resource \"namespaces\""),
        "{}",
        String::from_utf8_lossy(&delete.stderr)
    );
    let secrets = as_component("dns", &["get", "secrets", "-A"]);
    assert!(
        String::from_utf8_lossy(&secrets.stderr)
            .contains("User \"system:ordinal-dns\" cannot list resource \"secrets\""),
        "{}",
        String::from_utf8_lossy(&secrets.stderr)
    );
}

#[test]
fn a_kube_rs_client_in_a_pod_uses_its_service_account() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    images::prepare(&dir);
    images::import(
        &dir,
        "ordinal",
        &images::ordinal_archive(std::path::Path::new(common::binary())),
    );
    let o = Ordinal::start_on(&dir);
    o.ok(&["create", "serviceaccount", "watcher"]);
    o.ok(&[
        "create",
        "rolebinding",
        "watcher-view",
        "--clusterrole=view",
        "--serviceaccount=default:watcher",
    ]);
    // `ordinal controller` finds its in-cluster configuration (kube-rs's
    // `Config::infer`) and campaigns for its Lease in kube-system, which
    // `view` in `default` does not allow.
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"apiVersion: v1
kind: Pod
metadata:
  name: controller
spec:
  serviceAccountName: watcher
  containers:
  - name: controller
    image: ordinal:test
    imagePullPolicy: Never
    command: ["ordinal", "controller"]
    env:
    - {name: ORDINAL_LOG, value: "ordinal_controllers::leader=debug"}
"#,
    );
    let want = "User \"system:serviceaccount:default:watcher\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"kube-system\"";
    let mut log = String::new();
    eventually(
        "the controller in the pod is refused its Lease",
        Duration::from_secs(120),
        || {
            log = String::from_utf8_lossy(&o.run(&["logs", "controller"]).stdout).into_owned();
            log.contains(want)
        },
    );
    assert!(
        log.contains("campaigning for the lease kube-system/ordinal-controller"),
        "{log}"
    );
}

#[test]
fn containers_get_the_variables_of_their_namespaces_services_unless_links_are_off() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    images::prepare(&dir);
    let o = Ordinal::start_on(&dir);
    o.ok(&["create", "namespace", "shop"]);
    o.ok(&[
        "-n",
        "shop",
        "create",
        "service",
        "clusterip",
        "db",
        "--tcp=5432:5432",
    ]);
    let ip = o.ok(&[
        "-n",
        "shop",
        "get",
        "service",
        "db",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    let pod = |name: &str, links: bool| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  enableServiceLinks: {links}\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: busybox:1.36\n    command: [\"sh\", \"-c\", \"echo DB=$DB_SERVICE_HOST:$DB_SERVICE_PORT API=$KUBERNETES_SERVICE_HOST\"]\n"
        )
    };
    o.ok_stdin(&["apply", "-f", "-"], &pod("linked", true));
    o.ok_stdin(&["apply", "-f", "-"], &pod("unlinked", false));
    for name in ["linked", "unlinked"] {
        eventually("the pod finishes", Duration::from_secs(60), || {
            let out = o.run(&[
                "-n",
                "shop",
                "get",
                "pod",
                name,
                "-o",
                "jsonpath={.status.phase}",
            ]);
            String::from_utf8_lossy(&out.stdout) == "Succeeded"
        });
    }
    assert_eq!(
        o.ok(&["-n", "shop", "logs", "linked"]).trim(),
        format!("DB={ip}:5432 API=10.96.0.1")
    );
    // Without links, the API server's Service is still there.
    assert_eq!(
        o.ok(&["-n", "shop", "logs", "unlinked"]).trim(),
        "DB=: API=10.96.0.1"
    );
}
