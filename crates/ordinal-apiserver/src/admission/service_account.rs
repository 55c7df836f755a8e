//! The ServiceAccount admission plugin's token mount: a new pod whose
//! ServiceAccount token is to be mounted (`automountServiceAccountToken`
//! of the pod, else of its ServiceAccount, true by default) gets upstream's
//! `kube-api-access-<suffix>` projected volume — a bound token refreshed by
//! the node, the cluster CA and the namespace — mounted read-only at
//! `/var/run/secrets/kubernetes.io/serviceaccount` in every container that
//! does not mount something there already.
//!
//! Unlike upstream, a pod whose ServiceAccount does not exist yet is
//! admitted: its token mount waits on the node until the account exists
//! (the ServiceAccount controller makes `default` moments after its
//! namespace), where upstream refuses the pod and its controller retries.

use ordinal_store::Store;
use rand::Rng;
use serde_json::{Value, json};

use crate::resources;

/// Where the token, `ca.crt` and `namespace` appear in a container.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The lifetime the volume asks for: upstream's 1 h plus 7 s, a value the
/// node recognises to keep legacy clients that never re-read working.
pub const TOKEN_SECONDS: i64 = 3607;

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Adds the token volume and its mounts to a new pod, when it should have
/// them.
pub fn admit(store: &Store, pod: &mut Value) {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let account = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let automount = match spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
    {
        Some(set) => set,
        None => resources::by_plural("", "serviceaccounts")
            .and_then(|sa| store.get(&sa.key(Some(&namespace), &account)))
            .and_then(|o| serde_json::from_slice::<Value>(&o.bytes).ok())
            .and_then(|sa| {
                sa.get("automountServiceAccountToken")
                    .and_then(Value::as_bool)
            })
            .unwrap_or(true),
    };
    if !automount {
        return;
    }
    let mounted_already = CONTAINER_LISTS.iter().any(|list| {
        spec.get(*list).and_then(Value::as_array).is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("volumeMounts")
                    .and_then(Value::as_array)
                    .is_some_and(|ms| {
                        ms.iter()
                            .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
                    })
            })
        })
    });
    if mounted_already {
        return;
    }
    let name = format!("kube-api-access-{}", suffix());
    let volume = json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                { "serviceAccountToken": { "expirationSeconds": TOKEN_SECONDS, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                { "downwardAPI": { "items": [{ "path": "namespace", "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } }] } },
            ],
        },
    });
    match spec.get_mut("volumes").and_then(Value::as_array_mut) {
        Some(volumes) => volumes.push(volume),
        None => {
            spec.insert("volumes".into(), json!([volume]));
        }
    }
    let mount = json!({ "name": name, "readOnly": true, "mountPath": MOUNT_PATH });
    for list in CONTAINER_LISTS {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            match c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(mounts) => mounts.push(mount.clone()),
                None => {
                    c.insert("volumeMounts".into(), json!([mount.clone()]));
                }
            }
        }
    }
}

/// Five characters of upstream's random-name alphabet (no vowels, no
/// look-alikes).
fn suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(ordinal_store::StoreConfig::new(dir.path().join("s.db"))).unwrap();
        (dir, store)
    }

    fn pod(extra: Value) -> Value {
        let mut p = json!({
            "metadata": { "name": "p", "namespace": "ns" },
            "spec": {
                "serviceAccountName": "default",
                "initContainers": [{ "name": "i", "image": "x" }],
                "containers": [{ "name": "a", "image": "x" }, { "name": "b", "image": "x", "volumeMounts": [{ "name": "d", "mountPath": "/d" }] }],
            },
        });
        if let (Some(spec), Some(extra)) = (p["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        p
    }

    #[tokio::test]
    async fn every_container_gets_the_token_mount() {
        let (_d, s) = store();
        let mut p = pod(json!({}));
        admit(&s, &mut p);
        let volume = &p["spec"]["volumes"][0];
        let name = volume["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-") && name.len() == 21);
        assert_eq!(
            volume["projected"]["sources"][0]["serviceAccountToken"]["path"],
            "token"
        );
        for c in [&p["spec"]["initContainers"][0], &p["spec"]["containers"][0]] {
            assert_eq!(
                c["volumeMounts"][0],
                json!({ "name": name, "readOnly": true, "mountPath": MOUNT_PATH })
            );
        }
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"][1]["mountPath"],
            MOUNT_PATH
        );
    }

    #[tokio::test]
    async fn automount_false_or_an_existing_mount_adds_nothing() {
        let (_d, s) = store();
        let mut p = pod(json!({ "automountServiceAccountToken": false }));
        admit(&s, &mut p);
        assert!(p["spec"].get("volumes").is_none());
        let mut p = pod(json!({ "volumes": [{ "name": "own", "emptyDir": {} }] }));
        p["spec"]["containers"][0]["volumeMounts"] =
            json!([{ "name": "own", "mountPath": MOUNT_PATH }]);
        admit(&s, &mut p);
        assert_eq!(p["spec"]["volumes"].as_array().unwrap().len(), 1);
        // The account's own setting applies when the pod says nothing.
        let key = resources::by_plural("", "serviceaccounts")
            .unwrap()
            .key(Some("ns"), "default");
        s.create(key, json!({ "metadata": { "name": "default", "namespace": "ns" }, "automountServiceAccountToken": false }))
            .await
            .unwrap();
        let mut p = pod(json!({}));
        admit(&s, &mut p);
        assert!(p["spec"].get("volumes").is_none());
    }
}
