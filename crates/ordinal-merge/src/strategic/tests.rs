//! Scenarios: the patches kubectl sends, applied to stored objects, with
//! the objects kube-apiserver would store.

use super::*;
use serde_json::json;

fn web() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": "web", "namespace": "default", "uid": "u-1", "generation": 3,
            "labels": {"app": "web", "tier": "frontend"},
            "annotations": {"team": "a"},
            "finalizers": ["example.com/protect"]
        },
        "spec": {
            "replicas": 3,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:1.25",
                        "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]
                    }],
                    "volumes": [{"name": "scratch", "emptyDir": {}}]
                }
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        },
        "status": {"replicas": 3, "readyReplicas": 3}
    })
}

fn sts(patch: Value) -> Value {
    apply(&web(), &patch, "apps", "StatefulSet").unwrap()
}

fn template_spec(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]
}

fn container(v: &Value) -> &Value {
    &template_spec(v)["containers"][0]
}

/// `kubectl apply` after adding env var C to the manifest.
#[test]
fn apply_adds_an_env_var_in_the_manifests_order() {
    let out = sts(json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                "env": [{"name": "C", "value": "3"}],
                "name": "nginx"
            }]
        }}}
    }));
    assert_eq!(
        container(&out)["env"],
        json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(container(&out)["image"], "nginx:1.25");
    assert_eq!(out["metadata"]["annotations"]["team"], "a");
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{}\n"
    );
    assert_eq!(out["status"], web()["status"]);
}

/// `kubectl apply` after removing env var A from the manifest.
#[test]
fn apply_removes_an_env_var() {
    let out = sts(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{
            "$setElementOrder/env": [{"name": "B"}],
            "env": [{"$patch": "delete", "name": "A"}],
            "name": "nginx"
        }]
    }}}}));
    assert_eq!(container(&out)["env"], json!([{"name": "B", "value": "2"}]));
    assert_eq!(
        container(&out)["ports"],
        web()["spec"]["template"]["spec"]["containers"][0]["ports"]
    );
}

/// `kubectl apply` after adding a sidecar, before or after the app.
#[test]
fn apply_adds_a_container_where_the_manifest_puts_it() {
    let after = sts(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "busybox:1.36", "name": "sidecar", "command": ["sleep", "inf"]}]
    }}}}));
    let names: Vec<&Value> = template_spec(&after)["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("nginx"), &json!("sidecar")]);
    assert_eq!(
        template_spec(&after)["containers"][1]["command"],
        json!(["sleep", "inf"])
    );

    let before = sts(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}],
        "containers": [{"image": "busybox:1.36", "name": "sidecar"}]
    }}}}));
    assert_eq!(template_spec(&before)["containers"][0]["name"], "sidecar");
    assert_eq!(template_spec(&before)["containers"][1]["name"], "nginx");
    assert_eq!(
        template_spec(&before)["containers"][1]["env"][0]["name"],
        "A"
    );
}

/// `kubectl apply` after removing the sidecar again.
#[test]
fn apply_removes_a_container() {
    let two = sts(json!({"spec": {"template": {"spec": {
        "containers": [{"image": "busybox:1.36", "name": "sidecar"}]
    }}}}));
    assert_eq!(
        template_spec(&two)["containers"].as_array().unwrap().len(),
        2
    );
    let one = apply(
        &two,
        &json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"$patch": "delete", "name": "sidecar"}]
        }}}}),
        "apps",
        "StatefulSet",
    )
    .unwrap();
    assert_eq!(one, web());
}

/// `kubectl apply` after adding a volume and mounting it.
#[test]
fn apply_adds_a_volume_and_its_mount() {
    let out = sts(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "$setElementOrder/volumes": [{"name": "scratch"}, {"name": "config"}],
        "containers": [{
            "$setElementOrder/volumeMounts": [{"mountPath": "/data"}, {"mountPath": "/etc/nginx/conf.d"}],
            "name": "nginx",
            "volumeMounts": [{"mountPath": "/etc/nginx/conf.d", "name": "config"}]
        }],
        "volumes": [{"configMap": {"name": "nginx-conf"}, "name": "config"}]
    }}}}));
    assert_eq!(
        template_spec(&out)["volumes"],
        json!([{"name": "scratch", "emptyDir": {}}, {"name": "config", "configMap": {"name": "nginx-conf"}}])
    );
    assert_eq!(
        container(&out)["volumeMounts"],
        json!([{"name": "data", "mountPath": "/data"}, {"name": "config", "mountPath": "/etc/nginx/conf.d"}])
    );
}

/// `kubectl apply` after switching a volume from emptyDir to a configMap:
/// `$retainKeys` clears the old source.
#[test]
fn apply_switches_a_volume_source_with_retain_keys() {
    let out = sts(json!({"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "scratch"}],
        "volumes": [{
            "$retainKeys": ["configMap", "name"],
            "configMap": {"name": "cfg"},
            "emptyDir": null,
            "name": "scratch"
        }]
    }}}}));
    assert_eq!(
        template_spec(&out)["volumes"],
        json!([{"name": "scratch", "configMap": {"name": "cfg"}}])
    );

    // Without the null the stored emptyDir is cleared all the same.
    let out = sts(json!({"spec": {"template": {"spec": {
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "scratch"}]
    }}}}));
    assert_eq!(
        template_spec(&out)["volumes"],
        json!([{"name": "scratch", "configMap": {"name": "cfg"}}])
    );
}

/// `kubectl apply` after adding a metrics port.
#[test]
fn apply_adds_a_port() {
    let out = sts(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{
            "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 9113}],
            "name": "nginx",
            "ports": [{"containerPort": 9113, "name": "metrics"}]
        }]
    }}}}));
    assert_eq!(
        container(&out)["ports"],
        json!([
            {"containerPort": 80, "name": "http", "protocol": "TCP"},
            {"containerPort": 9113, "name": "metrics"}
        ])
    );
}

/// `kubectl apply` after adding one annotation and dropping another.
#[test]
fn apply_changes_annotations() {
    let out = sts(json!({"metadata": {"annotations": {"team": null, "owner": "ops"}}}));
    assert_eq!(out["metadata"]["annotations"], json!({"owner": "ops"}));
    let out = sts(json!({"metadata": {"labels": {"tier": null}}}));
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
}

/// `kubectl rollout restart statefulset/web`.
#[test]
fn rollout_restart_sets_the_template_annotation() {
    let out = sts(json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"
    }}}}}));
    assert_eq!(
        out["spec"]["template"]["metadata"],
        json!({"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"}})
    );
    assert_eq!(template_spec(&out), template_spec(&web()));
}

/// `kubectl rollout undo statefulset/web`: the ControllerRevision's data
/// replaces the whole template.
#[test]
fn rollout_undo_replaces_the_template() {
    let restarted = sts(json!({"spec": {"template": {
        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}
    }}}));
    let revision_data = json!({"spec": {"template": {
        "$patch": "replace",
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24", "ports": [{"containerPort": 80}]}]}
    }}});
    let out = apply(&restarted, &revision_data, "apps", "StatefulSet").unwrap();
    assert_eq!(
        out["spec"]["template"],
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24", "ports": [{"containerPort": 80}]}]}
        })
    );
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(
        out["spec"]["volumeClaimTemplates"],
        web()["spec"]["volumeClaimTemplates"]
    );
    assert_eq!(out["metadata"], web()["metadata"]);
}

/// `kubectl patch sts web -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}'`
#[test]
fn kubectl_patch_changes_one_container_field() {
    let out = sts(
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}}}),
    );
    let mut want = web();
    want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    assert_eq!(out, want);
}

/// A hand-written patch without `$setElementOrder`: new elements go before
/// the server's elements, as upstream orders them.
#[test]
fn kubectl_patch_puts_new_elements_first() {
    let out = sts(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "env": [{"name": "D", "value": "4"}]}
    ]}}}}));
    let names: Vec<&str> = container(&out)["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["D", "A", "B"]);

    // A changed element keeps its place; a new one follows it.
    let out = sts(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "env": [{"name": "A", "value": "one"}, {"name": "Z", "value": "26"}]}
    ]}}}}));
    assert_eq!(
        container(&out)["env"],
        json!([{"name": "A", "value": "one"}, {"name": "Z", "value": "26"}, {"name": "B", "value": "2"}])
    );
}

/// `kubectl edit`: the two-way patch of the edited object.
#[test]
fn kubectl_edit_patch() {
    let out = sts(json!({
        "metadata": {"labels": {"tier": null}},
        "spec": {
            "replicas": 5,
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"image": "nginx:1.26", "name": "nginx"}]
            }}
        }
    }));
    assert_eq!(out["spec"]["replicas"], 5);
    assert_eq!(container(&out)["image"], "nginx:1.26");
    assert_eq!(
        container(&out)["env"],
        web()["spec"]["template"]["spec"]["containers"][0]["env"]
    );
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn claim_templates_are_replaced_not_merged() {
    let out = sts(json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "logs"}}]}}));
    assert_eq!(
        out["spec"]["volumeClaimTemplates"],
        json!([{"metadata": {"name": "logs"}}])
    );
}

#[test]
fn finalizers_are_a_set() {
    let pvc = json!({"metadata": {"name": "data-web-0", "finalizers": ["kubernetes.io/pvc-protection", "a"]}});
    let out = apply(
        &pvc,
        &json!({"metadata": {"finalizers": ["b", "a"]}}),
        "",
        "PersistentVolumeClaim",
    )
    .unwrap();
    // New values go first unless the server listed its own earlier.
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["b", "kubernetes.io/pvc-protection", "a"])
    );

    // `kubectl patch pvc data-web-0 -p '{"metadata":{"finalizers":null}}'`
    let out = apply(
        &pvc,
        &json!({"metadata": {"finalizers": null}}),
        "",
        "PersistentVolumeClaim",
    )
    .unwrap();
    assert_eq!(out["metadata"], json!({"name": "data-web-0"}));

    // What `kubectl apply` sends after a finalizer left the manifest.
    let out = apply(
        &pvc,
        &json!({"metadata": {
            "$setElementOrder/finalizers": ["kubernetes.io/pvc-protection"],
            "$deleteFromPrimitiveList/finalizers": ["a"]
        }}),
        "",
        "PersistentVolumeClaim",
    )
    .unwrap();
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["kubernetes.io/pvc-protection"])
    );

    // Deleting from a list the object lacks adds nothing.
    let bare = json!({"metadata": {"name": "x"}});
    let out = apply(
        &bare,
        &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        "",
        "PersistentVolumeClaim",
    )
    .unwrap();
    assert_eq!(out, bare);
}

#[test]
fn owner_references_merge_by_uid() {
    let pod = json!({"metadata": {"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u-1", "controller": true}
    ]}});
    let out = apply(
        &pod,
        &json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u-2"}]}}),
        "",
        "Pod",
    )
    .unwrap();
    let uids: Vec<&Value> = out["metadata"]["ownerReferences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["uid"])
        .collect();
    assert_eq!(uids, [&json!("u-2"), &json!("u-1")]);
    let out = apply(
        &pod,
        &json!({"metadata": {"ownerReferences": [{"uid": "u-1", "$patch": "delete"}]}}),
        "",
        "Pod",
    )
    .unwrap();
    assert_eq!(out["metadata"]["ownerReferences"], json!([]));
}

#[test]
fn service_ports_and_status_conditions_merge() {
    let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "web", "x": "y"}}});
    let out = apply(
        &svc,
        &json!({"spec": {"ports": [{"port": 80, "name": "http"}], "selector": {"x": null}}}),
        "",
        "Service",
    )
    .unwrap();
    assert_eq!(
        out["spec"],
        json!({"ports": [{"port": 80, "targetPort": 8080, "name": "http"}], "selector": {"app": "web"}})
    );

    let pod = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
    let out = apply(
        &pod,
        &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        "",
        "Pod",
    )
    .unwrap();
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
    );
}

#[test]
fn list_replace_directive_makes_the_list_exactly_the_patch() {
    let out = sts(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "env": [{"$patch": "replace"}, {"name": "ONLY", "value": "x"}]}
    ]}}}}));
    assert_eq!(
        container(&out)["env"],
        json!([{"name": "ONLY", "value": "x"}])
    );
    let out = sts(
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": [{"$patch": "replace"}]}]}}}}),
    );
    assert_eq!(container(&out)["env"], json!([]));
}

#[test]
fn map_directives() {
    let out =
        sts(json!({"spec": {"selector": {"$patch": "replace", "matchLabels": {"app": "other"}}}}));
    assert_eq!(
        out["spec"]["selector"],
        json!({"matchLabels": {"app": "other"}})
    );
    let out = sts(json!({"metadata": {"annotations": {"$patch": "delete"}}}));
    assert_eq!(out["metadata"]["annotations"], json!({}));
    assert_eq!(out["metadata"]["labels"], web()["metadata"]["labels"]);
}

#[test]
fn new_values_are_stored_without_directives_or_nulls() {
    let pod = json!({"metadata": {"name": "p"}});
    let out = apply(
        &pod,
        &json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}, {"name": "Y", "value": null}]}],
            "affinity": {"$patch": "delete"}
        }}),
        "",
        "Pod",
    )
    .unwrap();
    assert_eq!(
        out["spec"],
        json!({"containers": [{"name": "a", "env": [{"name": "Y"}]}]})
    );
}

#[test]
fn unknown_kinds_merge_like_json_merge_patch() {
    let obj = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}], "m": {"x": 1, "y": 2}}});
    let out = apply(
        &obj,
        &json!({"spec": {"containers": [{"name": "a", "image": "2"}], "m": {"x": null}}}),
        "batch",
        "Job",
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"spec": {"containers": [{"name": "a", "image": "2"}], "m": {"y": 2}}})
    );
}

#[test]
fn empty_and_null_patches_change_nothing() {
    assert_eq!(sts(json!({})), web());
    assert_eq!(
        apply(&web(), &Value::Null, "apps", "StatefulSet").unwrap(),
        web()
    );
}

fn err(patch: Value) -> PatchError {
    apply(&web(), &patch, "apps", "StatefulSet").unwrap_err()
}

fn in_container(c: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": [c]}}}})
}

#[test]
fn errors_read_like_kube_apiserver() {
    let e = err(json!({"spec": {"$patch": "merge"}}));
    assert_eq!(
        e.to_string(),
        "unknown patch type: merge in map: map[$patch:merge]"
    );
    assert_eq!(e.status_code(), 500);

    let e = err(json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}));
    assert_eq!(
        e.to_string(),
        "map: map[image:x] does not contain declared merge key: name"
    );

    let e = err(in_container(
        json!({"name": "nginx", "env": [{"$patch": "merge"}]}),
    ));
    assert_eq!(
        e.to_string(),
        "merging lists cannot yet be specified in the patch"
    );

    let e = err(in_container(
        json!({"name": "nginx", "env": [{"$patch": "remove", "name": "A"}]}),
    ));
    assert_eq!(
        e.to_string(),
        "unknown patch type: remove in map: map[$patch:remove name:A]"
    );

    let e = err(in_container(
        json!({"name": "nginx", "env": [{"$patch": "delete"}]}),
    ));
    assert_eq!(
        e.to_string(),
        "map: map[$patch:delete] does not contain declared merge key: name"
    );

    let e = err(json!({"metadata": {"$setElementOrder/finalizers": "a"}}));
    assert_eq!(
        e.to_string(),
        "expected a []interface {}, but received a string"
    );

    let e = err(json!({"metadata": {"$setElementOrderfinalizers": ["a"]}}));
    assert_eq!((e.status_code(), e.reason()), (400, "BadRequest"));
    assert_eq!(
        e.to_string(),
        "invalid patch format of setElementOrder list"
    );

    let e = err(json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}));
    assert_eq!(
        (e.status_code(), e.to_string().as_str()),
        (400, "invalid patch format of primitive list")
    );

    let e = err(json!({"spec": {"$retainKeys": "replicas"}}));
    assert_eq!(
        (e.status_code(), e.to_string().as_str()),
        (400, "invalid patch format of retainKeys")
    );

    let e = err(json!({"spec": {"$retainKeys": ["replicas"], "serviceName": "x"}}));
    assert_eq!((e.status_code(), e.reason()), (422, "Invalid"));
    assert_eq!(e.to_string(), "patch content doesn't match retainKeys list");

    let no_finalizers = json!({"metadata": {"finalizers": []}});
    let e = apply(
        &no_finalizers,
        &json!({"metadata": {"finalizers": [["a"]]}}),
        "",
        "Pod",
    )
    .unwrap_err();
    assert_eq!(
        (e.status_code(), e.to_string().as_str()),
        (422, "lists of lists are not supported")
    );
    let e = err(json!({"metadata": {"finalizers": [["a"]]}}));
    assert_eq!(
        e.to_string(),
        "list element types are not identical: [[example.com/protect] [[a]]]"
    );

    let e = err(json!({"metadata": {"finalizers": [1]}}));
    assert_eq!(
        e.to_string(),
        "list element types are not identical: [[example.com/protect] [1]]"
    );

    let e = err(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"name": "b"}]
    }}}}));
    assert_eq!(
        e.to_string(),
        "The order in patch list:\n[map[name:b]]\n doesn't match $setElementOrder list:\n[map[name:a]]\n"
    );

    let e = apply(&web(), &json!([1]), "apps", "StatefulSet").unwrap_err();
    assert_eq!(
        e.to_string(),
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    assert_eq!(e.status_code(), 400);
}

#[test]
fn retain_keys_ignores_nulls_and_parallel_lists() {
    let out = sts(json!({"spec": {
        "$retainKeys": ["replicas", "selector", "template", "serviceName"],
        "replicas": 1,
        "volumeClaimTemplates": null,
        "$setElementOrder/x": []
    }}));
    assert_eq!(out["spec"]["replicas"], 1);
    assert!(out["spec"].get("volumeClaimTemplates").is_none());
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$setElementOrder/finalizers",
            "$deleteFromPrimitiveList/finalizers",
            "$deleteFromPrimitiveList/env",
            "$setElementOrder/env",
            "$setElementOrder",
            "$deleteFromPrimitiveList",
            "containers",
            "env",
            "name",
            "finalizers",
            "metadata",
            "spec",
            "template",
            "volumes",
            "ports",
            "containerPort",
            "value",
            "emptyDir",
        ])
        .prop_map(str::to_string)
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..4).prop_map(|n| json!(n)),
            Just(json!(1.5)),
            prop::sample::select(vec!["delete", "replace", "merge", "a", "b", "name"])
                .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn on_any_object_and_patch(original in json(), patch in json()) {
            for (group, kind) in [("", "Pod"), ("apps", "StatefulSet"), ("x", "Unknown")] {
                let _ = apply(&original, &patch, group, kind);
                let wrapped = json!({"spec": {"template": {"spec": patch.clone()}}});
                let base = json!({"spec": {"template": {"spec": original.clone()}}});
                let _ = apply(&base, &wrapped, group, kind);
                let _ = crate::diff::two_way(&original, &patch, group, kind);
                let _ = crate::diff::three_way(&original, &patch, &original, group, kind);
            }
        }
    }
}
