//! Deletion end to end: cascading deletes through the garbage collector,
//! namespace deletion through the namespace controller, graceful pod
//! deletion and delete preconditions, driven by the real kubectl and a
//! kube-rs client against `ordinal up`.

mod common;

use std::time::Duration;

use common::{Ordinal, eventually};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn get_json(o: &Ordinal, args: &[&str]) -> Option<Value> {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out = o.run(&full);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("NotFound"), "kubectl {full:?}: {err}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("json"))
}

fn exists(o: &Ordinal, args: &[&str]) -> bool {
    get_json(o, args).is_some()
}

fn uid(o: &Ordinal, args: &[&str]) -> String {
    get_json(o, args).expect("exists")["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A ConfigMap owned by `owner` (a ConfigMap with `owner_uid`).
fn owned_configmap(
    name: &str,
    owner: &str,
    owner_uid: &str,
    block: bool,
    finalizer: bool,
) -> String {
    let finalizers = if finalizer {
        "\n  finalizers: [example.com/hold]"
    } else {
        ""
    };
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{finalizers}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {owner_uid}\n    blockOwnerDeletion: {block}\ndata:\n  a: b\n"
    )
}

fn owned_pod(name: &str, owner: &str, owner_uid: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {owner_uid}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
    )
}

fn scheduled_pod(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  nodeName: node-1\n  containers:\n  - name: c\n    image: busybox:1.36\n"
    )
}

#[test]
fn background_cascade_deletes_dependents() {
    let o = Ordinal::start();
    o.ok(&["create", "configmap", "owner", "--from-literal=a=1"]);
    let owner_uid = uid(&o, &["configmap", "owner"]);
    let manifests = [
        owned_configmap("dep-a", "owner", &owner_uid, false, false),
        owned_configmap("dep-b", "owner", &owner_uid, true, false),
        owned_pod("dep-pod", "owner", &owner_uid),
    ]
    .join("---\n");
    o.ok_stdin(&["apply", "-f", "-"], &manifests);
    // Owned objects whose owner is alive stay: once the collector has
    // removed a stray object created after them, it has seen them too.
    o.ok_stdin(
        &["apply", "-f", "-"],
        &owned_configmap(
            "stray",
            "ghost",
            "00000000-0000-0000-0000-000000000000",
            false,
            false,
        ),
    );
    eventually("the collector is at work", WAIT, || {
        !exists(&o, &["configmap", "stray"])
    });
    assert!(exists(&o, &["configmap", "dep-a"]));
    assert!(exists(&o, &["pod", "dep-pod"]));

    let out = o.ok(&["delete", "configmap", "owner", "--cascade=background"]);
    assert!(out.contains("configmap \"owner\" deleted"), "{out}");
    eventually("dependents collected", WAIT, || {
        !exists(&o, &["configmap", "dep-a"])
            && !exists(&o, &["configmap", "dep-b"])
            && !exists(&o, &["pod", "dep-pod"])
    });
}

#[test]
fn dependents_of_an_owner_that_never_existed_are_collected() {
    let o = Ordinal::start();
    o.ok(&["create", "configmap", "keeper", "--from-literal=a=1"]);
    let keeper_uid = uid(&o, &["configmap", "keeper"]);
    // One dependent of a made-up owner, one with a live and a made-up owner.
    o.ok_stdin(
        &["apply", "-f", "-"],
        &owned_configmap(
            "stray",
            "ghost",
            "00000000-0000-0000-0000-000000000000",
            false,
            false,
        ),
    );
    let both = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: ghost, uid: 00000000-0000-0000-0000-000000000000}\n  - {apiVersion: v1, kind: ConfigMap, name: keeper, uid: KEEPER}\n"
        .replace("KEEPER", &keeper_uid);
    o.ok_stdin(&["apply", "-f", "-"], &both);
    eventually("the stray dependent is collected", WAIT, || {
        !exists(&o, &["configmap", "stray"])
    });
    eventually("the dangling reference is dropped", WAIT, || {
        let shared = get_json(&o, &["configmap", "shared"]).expect("shared stays");
        let refs = shared["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        refs.len() == 1 && refs[0]["name"] == "keeper"
    });
}

#[test]
fn orphan_cascade_keeps_dependents_without_the_reference() {
    let o = Ordinal::start();
    o.ok(&["create", "configmap", "owner", "--from-literal=a=1"]);
    let owner_uid = uid(&o, &["configmap", "owner"]);
    let manifests = [
        owned_configmap("dep-a", "owner", &owner_uid, true, false),
        owned_pod("dep-pod", "owner", &owner_uid),
    ]
    .join("---\n");
    o.ok_stdin(&["apply", "-f", "-"], &manifests);

    // kubectl waits until the owner is gone, which needs the GC to orphan.
    let out = o.ok(&[
        "delete",
        "configmap",
        "owner",
        "--cascade=orphan",
        "--timeout=30s",
    ]);
    assert!(out.contains("deleted"), "{out}");
    assert!(!exists(&o, &["configmap", "owner"]));
    for args in [["configmap", "dep-a"], ["pod", "dep-pod"]] {
        let dep = get_json(&o, &args).expect("orphaned dependents stay");
        assert!(
            dep["metadata"].get("ownerReferences").is_none(),
            "{args:?} still owned: {dep}"
        );
    }
}

#[test]
fn foreground_cascade_keeps_the_owner_until_blocking_dependents_are_gone() {
    let o = Ordinal::start();
    o.ok(&["create", "configmap", "owner", "--from-literal=a=1"]);
    let owner_uid = uid(&o, &["configmap", "owner"]);
    let manifests = [
        // Held by a finalizer of its own, and blocking its owner.
        owned_configmap("held", "owner", &owner_uid, true, true),
        owned_configmap("free", "owner", &owner_uid, false, false),
    ]
    .join("---\n");
    o.ok_stdin(&["apply", "-f", "-"], &manifests);

    o.ok(&[
        "delete",
        "configmap",
        "owner",
        "--cascade=foreground",
        "--wait=false",
    ]);
    eventually("the free dependent is deleted", WAIT, || {
        !exists(&o, &["configmap", "free"])
    });
    eventually("the held dependent is being deleted", WAIT, || {
        get_json(&o, &["configmap", "held"])
            .is_some_and(|h| h["metadata"]["deletionTimestamp"].is_string())
    });
    // The owner stays visible, marked, while the blocker is there.
    let owner = get_json(&o, &["configmap", "owner"]).expect("owner still visible");
    assert!(
        owner["metadata"]["deletionTimestamp"].is_string(),
        "{owner}"
    );
    assert_eq!(
        owner["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );

    // Release the blocker: it goes, then the owner.
    o.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        "{\"metadata\":{\"finalizers\":null}}",
    ]);
    eventually("the owner goes after its blocker", WAIT, || {
        !exists(&o, &["configmap", "held"]) && !exists(&o, &["configmap", "owner"])
    });
}

#[test]
fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let o = Ordinal::start();
    o.ok(&["create", "namespace", "shop"]);
    o.ok(&[
        "create",
        "configmap",
        "c1",
        "-n",
        "shop",
        "--from-literal=a=1",
    ]);
    o.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "-n",
        "shop",
        "--from-literal=a=1",
    ]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  namespace: shop\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n",
    );
    // kubectl waits for the namespace to be gone.
    let out = o.ok(&["delete", "namespace", "shop", "--timeout=30s"]);
    assert!(out.contains("namespace \"shop\" deleted"), "{out}");
    assert!(!exists(&o, &["namespace", "shop"]));
    let left = o.ok(&["get", "configmaps,secrets,pods", "-A", "-o", "name"]);
    assert!(
        !left.contains("c1") && !left.contains("s1") && !left.contains("p1"),
        "{left}"
    );
}

#[test]
fn a_namespace_waits_for_graceful_pods_and_reports_why() {
    let o = Ordinal::start();
    o.ok(&["create", "namespace", "slow"]);
    o.ok_stdin(&["apply", "-f", "-"], &scheduled_pod("web", "slow"));
    o.ok(&["delete", "namespace", "slow", "--wait=false"]);
    eventually("the namespace reports the remaining pod", WAIT, || {
        let Some(ns) = get_json(&o, &["namespace", "slow"]) else {
            return false;
        };
        ns["status"]["phase"] == "Terminating"
            && ns["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "NamespaceContentRemaining"
                        && c["status"] == "True"
                        && c["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("pods. has 1 resource instances"))
                })
            })
    });
    let pod = get_json(&o, &["pod", "web", "-n", "slow"]).expect("the pod waits for its node");
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    // New content is refused while terminating.
    let refused = o.run(&["create", "configmap", "late", "-n", "slow"]);
    assert!(!refused.status.success());
    o.ok(&[
        "delete",
        "pod",
        "web",
        "-n",
        "slow",
        "--grace-period=0",
        "--force",
    ]);
    eventually("the namespace goes once the pod is gone", WAIT, || {
        !exists(&o, &["namespace", "slow"])
    });
}

#[test]
fn scheduled_pods_delete_gracefully_and_force_removes_them() {
    let o = Ordinal::start();
    o.ok_stdin(&["apply", "-f", "-"], &scheduled_pod("web", "default"));
    o.ok(&["delete", "pod", "web", "--wait=false"]);
    let pod = get_json(&o, &["pod", "web"]).expect("a scheduled pod stays for its node");
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "{pod}");
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    // A longer grace period does not extend it.
    o.ok(&["delete", "pod", "web", "--grace-period=60", "--wait=false"]);
    let again = get_json(&o, &["pod", "web"]).unwrap();
    assert_eq!(again["metadata"]["deletionGracePeriodSeconds"], 30);
    assert_eq!(
        again["metadata"]["deletionTimestamp"],
        pod["metadata"]["deletionTimestamp"]
    );
    // `get` shows it Terminating.
    let row = o.ok(&["get", "pod", "web"]);
    assert!(row.contains("Terminating"), "{row}");

    let out = o.ok(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert!(out.contains("force deleted"), "{out}");
    assert!(!exists(&o, &["pod", "web"]));

    // An unscheduled pod goes at once (it fits no node, so the scheduler
    // cannot bind it before the delete).
    o.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: idle\nspec:\n  nodeSelector: {nowhere: \"true\"}\n  containers:\n  - name: c\n    image: busybox:1.36\n",
    );
    o.ok(&["delete", "pod", "idle", "--wait=false"]);
    assert!(!exists(&o, &["pod", "idle"]));
}

/// Issue 14, item 9: a grace period of `i64::MAX` seconds once panicked
/// the node's stop task (`overflow when adding duration to instant`) and
/// the pod stayed Terminating for ever; a negative one was stored as is.
/// Now the server stores a negative period as 1 (upstream's pod strategy),
/// the deletion deadline saturates, and the node stops the pod at once
/// with SIGTERM as for any period.
#[test]
fn extreme_grace_periods_neither_panic_nor_hang() {
    let o = Ordinal::start();
    // Polled without failing: until the node registers there is none.
    let node = common::node_name(&o);
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: forever}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 9223372036854775807
  containers:
  - {{name: main, image: busybox:1.36, command: ["sleep", "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: negative}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: -5
  containers:
  - {{name: main, image: busybox:1.36, command: ["sleep", "3600"]}}
"#
        ),
    );
    let negative = get_json(&o, &["pod", "negative"]).unwrap();
    assert_eq!(negative["spec"]["terminationGracePeriodSeconds"], 1);
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/forever",
        "--timeout=60s",
    ]);
    o.ok(&["delete", "pod", "forever", "--wait=false"]);
    // While the node stops it (it may be done already): the deadline is
    // as far as time goes, not an overflow.
    if let Some(pod) = get_json(&o, &["pod", "forever"]) {
        assert_eq!(
            pod["metadata"]["deletionGracePeriodSeconds"],
            9223372036854775807i64
        );
        assert_eq!(pod["metadata"]["deletionTimestamp"], "9999-12-30T22:00:00Z");
    }
    // sleep ends on SIGTERM: the node finishes the pod without waiting.
    eventually(
        "the pod is stopped and removed",
        Duration::from_secs(30),
        || !exists(&o, &["pod", "forever"]),
    );
    // The node still works: the other pod runs and goes when deleted.
    o.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/negative",
        "--timeout=60s",
    ]);
    o.ok(&["delete", "pod", "negative", "--timeout=30s"]);
    assert!(!exists(&o, &["pod", "negative"]));
}

#[tokio::test]
async fn mismatched_preconditions_are_conflicts_with_upstream_messages() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, DeleteParams, PostParams, Preconditions};

    let o = Ordinal::start();
    let client = o.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "guarded"}, "data": {"a": "b"}
    }))
    .unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let real_uid = created.metadata.uid.clone().unwrap();
    let real_rv = created.metadata.resource_version.clone().unwrap();

    let with = |uid: Option<&str>, rv: Option<&str>| DeleteParams {
        preconditions: Some(Preconditions {
            uid: uid.map(str::to_string),
            resource_version: rv.map(str::to_string),
        }),
        ..DeleteParams::default()
    };
    let err = cms
        .delete("guarded", &with(Some("not-the-uid"), None))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        format!(
            "Operation cannot be fulfilled on ConfigMap \"guarded\": the UID in the precondition (not-the-uid) does not match the UID in record ({real_uid}). The object might have been deleted and then recreated"
        )
    );
    let err = cms
        .delete("guarded", &with(None, Some("1")))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 409);
    assert!(
        status.message.ends_with(&format!(
            "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({real_rv}). The object might have been modified"
        )),
        "{}",
        status.message
    );
    // Matching preconditions delete; a ConfigMap answers with a Status.
    let done = cms
        .delete("guarded", &with(Some(&real_uid), Some(&real_rv)))
        .await
        .unwrap();
    let status = done.right().expect("a Status for a deleted ConfigMap");
    assert_eq!(
        status.status,
        Some(kube::core::response::StatusSummary::Success)
    );
}
