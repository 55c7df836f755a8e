//! The patches kubectl computes, and that they yield what they describe.

use super::*;
use crate::strategic::apply;
use serde_json::json;

fn pod(containers: Value) -> Value {
    json!({
        "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a", "b"]},
        "spec": {"containers": containers, "volumes": [{"name": "scratch", "emptyDir": {}}]}
    })
}

fn nginx(env: Value) -> Value {
    json!({"name": "nginx", "image": "nginx:1.25", "env": env})
}

#[test]
fn rollout_restart_patch_is_just_the_annotation() {
    let before = json!({"spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
        "containers": [{"name": "nginx", "image": "nginx"}]
    }}}});
    let mut after = before.clone();
    after["spec"]["template"]["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"});
    assert_eq!(
        two_way(&before, &after, "apps", "StatefulSet"),
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"}}}}})
    );
}

#[test]
fn edit_patch_names_the_list_order_and_nulls_removed_keys() {
    let before = pod(json!([nginx(json!([{"name": "A", "value": "1"}]))]));
    let mut after = before.clone();
    after["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    after["metadata"]["labels"] = json!({"app": "web"});
    let patch = two_way(&before, &after, "", "Pod");
    assert_eq!(
        patch,
        json!({
            "metadata": {"labels": {"tier": null}},
            "spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"image": "nginx:1.26", "name": "nginx"}]
            }
        })
    );
    assert_eq!(apply(&before, &patch, "", "Pod").unwrap(), after);
}

#[test]
fn removed_env_var_becomes_a_delete_directive() {
    let before = pod(json!([nginx(
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    )]));
    let after = pod(json!([nginx(json!([{"name": "B", "value": "2"}]))]));
    let patch = two_way(&before, &after, "", "Pod");
    assert_eq!(
        patch,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "B"}],
                "env": [{"$patch": "delete", "name": "A"}],
                "name": "nginx"
            }]
        }})
    );
    assert_eq!(apply(&before, &patch, "", "Pod").unwrap(), after);
}

#[test]
fn reordering_a_merged_list_sends_only_the_order() {
    let a = json!({"name": "a", "image": "x"});
    let b = json!({"name": "b", "image": "y"});
    let before = pod(json!([a, b]));
    let after = pod(json!([b, a]));
    let patch = two_way(&before, &after, "", "Pod");
    assert_eq!(
        patch,
        json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}})
    );
    assert_eq!(apply(&before, &patch, "", "Pod").unwrap(), after);
}

#[test]
fn removed_finalizer_uses_the_parallel_deletion_list() {
    let before = pod(json!([]));
    let mut after = before.clone();
    after["metadata"]["finalizers"] = json!(["b", "c"]);
    let patch = two_way(&before, &after, "", "Pod");
    assert_eq!(
        patch,
        json!({"metadata": {
            "$deleteFromPrimitiveList/finalizers": ["a"],
            "$setElementOrder/finalizers": ["b", "c"],
            "finalizers": ["c"]
        }})
    );
    assert_eq!(apply(&before, &patch, "", "Pod").unwrap(), after);
}

#[test]
fn changed_volume_source_carries_retain_keys() {
    let before = pod(json!([]));
    let mut after = before.clone();
    after["spec"]["volumes"] = json!([{"name": "scratch", "configMap": {"name": "cfg"}}]);
    let patch = two_way(&before, &after, "", "Pod");
    assert_eq!(
        patch,
        json!({"spec": {
            "$setElementOrder/volumes": [{"name": "scratch"}],
            "volumes": [{
                "$retainKeys": ["configMap", "name"],
                "configMap": {"name": "cfg"},
                "emptyDir": null,
                "name": "scratch"
            }]
        }})
    );
    assert_eq!(apply(&before, &patch, "", "Pod").unwrap(), after);
}

#[test]
fn unknown_kinds_replace_changed_lists() {
    let before = json!({"items": [1, 2], "same": [3]});
    let after = json!({"items": [2], "same": [3]});
    assert_eq!(
        two_way(&before, &after, "x", "Thing"),
        json!({"items": [2]})
    );
}

/// `kubectl apply` of a manifest that drops env var B and bumps the image,
/// against a live object where a webhook injected env var C and the server
/// filled in defaults and status.
#[test]
fn apply_three_way_keeps_what_the_server_added() {
    let last_applied = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    ]}}}});
    let manifest = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26", "env": [{"name": "A", "value": "1"}]}
    ]}}}});
    let live = json!({
        "metadata": {"name": "web", "uid": "u", "resourceVersion": "7"},
        "spec": {"replicas": 1, "template": {"spec": {
            "containers": [{
                "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "injected"}]
            }],
            "restartPolicy": "Always"
        }}},
        "status": {"replicas": 1}
    });
    let patch = three_way(&last_applied, &manifest, &live, "apps", "StatefulSet").unwrap();
    assert_eq!(
        patch,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}],
                "image": "nginx:1.26",
                "name": "web"
            }]
        }}}})
    );
    let out = apply(&live, &patch, "apps", "StatefulSet").unwrap();
    let mut want = live.clone();
    want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    want["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}, {"name": "C", "value": "injected"}]);
    assert_eq!(out, want);
}

#[test]
fn three_way_deletes_only_what_was_applied_before() {
    let last_applied = json!({"metadata": {"labels": {"app": "web", "old": "x"}}});
    let manifest = json!({"metadata": {"labels": {"app": "web", "new": "y"}}});
    let live = json!({"metadata": {"labels": {"app": "web", "old": "x", "server": "z"}}});
    let patch = three_way(&last_applied, &manifest, &live, "", "ConfigMap").unwrap();
    assert_eq!(
        patch,
        json!({"metadata": {"labels": {"old": null, "new": "y"}}})
    );
    let out = apply(&live, &patch, "", "ConfigMap").unwrap();
    assert_eq!(
        out,
        json!({"metadata": {"labels": {"app": "web", "new": "y", "server": "z"}}})
    );
}

#[test]
fn three_way_adds_and_deletes_list_elements_in_one_patch() {
    let original = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let modified = json!({"spec": {"containers": [{"name": "b"}, {"name": "c"}]}});
    let current =
        json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "x": 1}, {"name": "d"}]}});
    let patch = three_way(&original, &modified, &current, "", "Pod").unwrap();
    assert_eq!(
        patch,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
            "containers": [{"name": "c"}, {"$patch": "delete", "name": "a"}]
        }})
    );
    let out = apply(&current, &patch, "", "Pod").unwrap();
    assert_eq!(
        out,
        json!({"spec": {"containers": [{"name": "b", "x": 1}, {"name": "c"}, {"name": "d"}]}})
    );
}

#[test]
fn three_way_of_nothing_applied_before_only_adds() {
    let manifest = json!({"data": {"k": "v"}});
    let live = json!({"metadata": {"name": "c"}, "data": {"other": "1"}});
    let patch = three_way(&Value::Null, &manifest, &live, "", "ConfigMap").unwrap();
    assert_eq!(patch, json!({"data": {"k": "v"}}));
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::subsequence;

    fn shuffled<T: Clone + std::fmt::Debug + 'static>(
        items: Vec<T>,
        max: usize,
    ) -> impl Strategy<Value = Vec<T>> {
        let n = items.len();
        subsequence(items, 0..=max.min(n)).prop_shuffle()
    }

    fn env() -> impl Strategy<Value = Value> {
        shuffled(vec!["A", "B", "C", "D"], 4)
            .prop_flat_map(|names| {
                let n = names.len();
                (
                    Just(names),
                    prop::collection::vec(prop::sample::select(vec!["1", "2", "x"]), n),
                )
            })
            .prop_map(|(names, values)| {
                Value::Array(
                    names
                        .iter()
                        .zip(values)
                        .map(|(n, v)| json!({"name": n, "value": v}))
                        .collect(),
                )
            })
    }

    fn ports() -> impl Strategy<Value = Value> {
        shuffled(vec![80, 443, 8080], 3).prop_flat_map(|ports| {
            let n = ports.len();
            (
                Just(ports),
                prop::collection::vec(prop::option::of(prop::sample::select(vec!["http", "m"])), n),
            )
                .prop_map(|(ports, names)| {
                    Value::Array(
                        ports
                            .iter()
                            .zip(names)
                            .map(|(p, name)| match name {
                                Some(name) => json!({"containerPort": p, "name": name}),
                                None => json!({"containerPort": p}),
                            })
                            .collect(),
                    )
                })
        })
    }

    fn container(name: &'static str) -> impl Strategy<Value = Value> {
        (
            prop::sample::select(vec!["app:1", "app:2"]),
            prop::option::of(env()),
            prop::option::of(ports()),
        )
            .prop_map(move |(image, env, ports)| {
                let mut c = json!({"name": name, "image": image});
                if let Some(env) = env {
                    c["env"] = env;
                }
                if let Some(ports) = ports {
                    c["ports"] = ports;
                }
                c
            })
    }

    fn containers() -> impl Strategy<Value = Value> {
        (
            container("app"),
            container("sidecar"),
            container("init"),
            shuffled(vec![0usize, 1, 2], 3),
        )
            .prop_map(|(a, b, c, order)| {
                let all = [a, b, c];
                Value::Array(
                    order
                        .into_iter()
                        .filter_map(|i| all.get(i).cloned())
                        .collect(),
                )
            })
    }

    fn volumes() -> impl Strategy<Value = Value> {
        shuffled(vec!["data", "cfg", "tmp"], 3).prop_flat_map(|names| {
            let n = names.len();
            (Just(names), prop::collection::vec(any::<bool>(), n)).prop_map(|(names, kinds)| {
                Value::Array(
                    names
                        .iter()
                        .zip(kinds)
                        .map(|(n, empty)| {
                            if empty {
                                json!({"name": n, "emptyDir": {}})
                            } else {
                                json!({"name": n, "configMap": {"name": format!("{n}-cm")}})
                            }
                        })
                        .collect(),
                )
            })
        })
    }

    fn string_map() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(
            prop::sample::select(vec!["app", "tier", "team", "x.io/y"]),
            prop::sample::select(vec!["a", "b"]),
            0..4,
        )
        .prop_map(|m| {
            Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect(),
            )
        })
    }

    fn pod() -> impl Strategy<Value = Value> {
        (
            string_map(),
            prop::option::of(string_map()),
            prop::option::of(shuffled(vec!["f/a", "f/b", "f/c"], 3)),
            containers(),
            prop::option::of(volumes()),
            prop::option::of(0i64..3),
        )
            .prop_map(|(labels, annotations, finalizers, containers, volumes, grace)| {
                let mut p = json!({"metadata": {"name": "p", "labels": labels}, "spec": {"containers": containers}});
                if let Some(a) = annotations {
                    p["metadata"]["annotations"] = a;
                }
                if let Some(f) = finalizers {
                    p["metadata"]["finalizers"] = json!(f);
                }
                if let Some(v) = volumes {
                    p["spec"]["volumes"] = v;
                }
                if let Some(g) = grace {
                    p["spec"]["terminationGracePeriodSeconds"] = json!(g);
                }
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn two_way_patch_yields_the_modified_pod(a in pod(), b in pod()) {
            let patch = two_way(&a, &b, "", "Pod");
            prop_assert_eq!(apply(&a, &patch, "", "Pod").unwrap(), b.clone());
            // The same spec inside a StatefulSet template.
            let wrap = |p: &Value| json!({"spec": {"template": p.clone()}});
            let patch = two_way(&wrap(&a), &wrap(&b), "apps", "StatefulSet");
            prop_assert_eq!(apply(&wrap(&a), &patch, "apps", "StatefulSet").unwrap(), wrap(&b));
        }

        #[test]
        fn identical_objects_need_no_patch(a in pod()) {
            prop_assert_eq!(two_way(&a, &a, "", "Pod"), json!({}));
        }

        #[test]
        fn three_way_without_server_changes_yields_the_manifest(a in pod(), b in pod()) {
            let patch = three_way(&a, &b, &a, "", "Pod").unwrap();
            prop_assert_eq!(apply(&a, &patch, "", "Pod").unwrap(), b);
        }
    }
}
