//! Scenarios as a kubectl user lives them: `kubectl apply --server-side`,
//! a second field manager, `--force-conflicts`, `kubectl edit` in between.

use serde_json::{Value, json};

use crate::ApplyError;
use crate::apply::{Request, apply_at};
use crate::fieldset::FieldSet;
use crate::managed::{Operation, decode_managed_fields};
use crate::test_schema::PodSchema;
use crate::update::update_at;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T10:05:00Z";
const T3: &str = "2024-05-01T10:10:00Z";

fn apply_as(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let request = Request {
        manager,
        force,
        api_version: "apps/v1",
        subresource: None,
        now,
    };
    apply_at(live, config, &request, &PodSchema)
}

fn update_as(old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
    update_at(old, new, manager, "apps/v1", None, &PodSchema, now)
}

/// The fieldsV1 of `manager`'s entry for `operation`, if it has one.
fn owned(object: &Value, manager: &str, operation: Operation) -> Option<Value> {
    decode_managed_fields(object)
        .expect("managedFields decode")
        .into_iter()
        .find(|e| e.manager == manager && e.operation == operation)
        .map(|e| e.fields.to_fields_v1())
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}
                ]}
            }
        }
    })
}

fn without_managed_fields(mut object: Value) -> Value {
    crate::strip_managed_fields(&mut object);
    object
}

#[test]
fn create_through_apply_records_what_kube_apiserver_records() {
    let created =
        apply_as(None, &deployment(2, "nginx:1.25"), "kubectl", false, T1).expect("applies");
    assert_eq!(
        without_managed_fields(created.clone()),
        deployment(2, "nginx:1.25")
    );
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {},
                                "f:containerPort": {}
                            }}
                        }}}
                    }
                }
            }
        }])
    );
    // The bytes kube-apiserver writes for the same set: path order, `.` last.
    let set = FieldSet::from_fields_v1(&created["metadata"]["managedFields"][0]["fieldsV1"])
        .expect("decodes");
    assert_eq!(
        set.to_json_string(),
        concat!(
            r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"#,
            r#""f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"#,
            r#""k:{\"name\":\"nginx\"}":{"f:image":{},"f:name":{},"f:ports":{"#,
            r#""k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{"f:containerPort":{},".":{}}},".":{}}}}}}}"#
        )
    );
}

#[test]
fn a_statefulset_update_records_new_maps_and_elements_with_a_dot() {
    let old = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
        "spec": {"replicas": 1, "serviceName": "db", "template": {"spec": {"containers": [
            {"name": "pg", "image": "postgres:16"}
        ]}}}
    });
    let mut new = old.clone();
    new["metadata"]["resourceVersion"] = json!("8");
    new["spec"]["replicas"] = json!(3);
    new["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "PGDATA", "value": "/data"}]);
    let stored = update_as(Some(&old), &new, "kubectl-edit", T1);
    let entry = &stored["metadata"]["managedFields"][0];
    assert_eq!(entry["manager"], "kubectl-edit");
    assert_eq!(entry["operation"], "Update");
    assert_eq!(entry["time"], T1);
    let set = FieldSet::from_fields_v1(&entry["fieldsV1"]).expect("decodes");
    assert_eq!(
        set.to_json_string(),
        concat!(
            r#"{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"pg\"}":{"#,
            r#""f:env":{"k:{\"name\":\"PGDATA\"}":{"f:name":{},"f:value":{},".":{}},".":{}}}}}}}}"#
        )
    );
}

#[test]
fn dropping_a_field_from_the_configuration_removes_it() {
    let mut first = deployment(2, "nginx:1.25");
    first["metadata"]["labels"]["tier"] = json!("frontend");
    let live = apply_as(None, &first, "kubectl", false, T1).expect("applies");

    let mut second = deployment(2, "nginx:1.25");
    if let Some(spec) = second["spec"].as_object_mut() {
        spec.remove("replicas");
    }
    let next = apply_as(Some(&live), &second, "kubectl", false, T2).expect("applies");
    assert_eq!(next["metadata"]["labels"], json!({"app": "web"}));
    assert!(next["spec"].get("replicas").is_none());
    let fields = owned(&next, "kubectl", Operation::Apply).expect("entry");
    assert!(fields["f:spec"].get("f:replicas").is_none());
    assert!(fields["f:metadata"]["f:labels"].get("f:tier").is_none());
    assert_eq!(next["metadata"]["managedFields"][0]["time"], T2);
}

#[test]
fn another_applier_changing_a_field_conflicts() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "alice", false, T1).expect("applies");
    let err = apply_as(Some(&live), &deployment(5, "nginx:1.26"), "bob", false, T2)
        .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        concat!(
            "Apply failed with 2 conflicts: conflicts with \"alice\":\n",
            "- .spec.replicas\n",
            "- .spec.template.spec.containers[name=\"nginx\"].image"
        )
    );
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.to_status()["details"]["causes"],
        json!([
            {"reason": "FieldManagerConflict", "message": "conflict with \"alice\"", "field": ".spec.replicas"},
            {"reason": "FieldManagerConflict", "message": "conflict with \"alice\"",
             "field": ".spec.template.spec.containers[name=\"nginx\"].image"},
        ])
    );
}

#[test]
fn a_client_side_apply_manager_conflicts_in_kubectl_words() {
    let created = update_as(
        None,
        &deployment(2, "nginx:1.25"),
        "kubectl-client-side-apply",
        T1,
    );
    let err = apply_as(
        Some(&created),
        &deployment(4, "nginx:1.25"),
        "kubectl",
        false,
        T2,
    )
    .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
    );
    let ApplyError::Conflicts(conflicts) = &err else {
        panic!("expected conflicts, got {err:?}");
    };
    assert_eq!(conflicts[0].manager, "kubectl-client-side-apply");
    assert_eq!(conflicts[0].field, ".spec.replicas");
}

#[test]
fn force_hands_the_field_over() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "alice", false, T1).expect("applies");
    let taken =
        apply_as(Some(&live), &deployment(5, "nginx:1.25"), "bob", true, T2).expect("forced");
    assert_eq!(taken["spec"]["replicas"], 5);
    let alice = owned(&taken, "alice", Operation::Apply).expect("alice keeps the rest");
    assert!(alice["f:spec"].get("f:replicas").is_none());
    assert!(alice["f:spec"].get("f:selector").is_some());
    let bob = owned(&taken, "bob", Operation::Apply).expect("bob");
    assert!(bob["f:spec"].get("f:replicas").is_some());
    // Alice now conflicts with Bob if she insists on her value.
    let err = apply_as(
        Some(&taken),
        &deployment(2, "nginx:1.25"),
        "alice",
        false,
        T3,
    )
    .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "bob": .spec.replicas"#
    );
}

#[test]
fn a_field_two_appliers_set_stays_until_both_drop_it() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "alice", false, T1).expect("applies");
    // Bob sets the same replicas: no conflict, shared ownership.
    let bob_config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 2}});
    let shared = apply_as(Some(&live), &bob_config, "bob", false, T2).expect("no conflict");
    assert!(
        owned(&shared, "alice", Operation::Apply).expect("alice")["f:spec"]["f:replicas"]
            .is_object()
    );
    assert!(
        owned(&shared, "bob", Operation::Apply).expect("bob")["f:spec"]["f:replicas"].is_object()
    );

    let mut alice_config = deployment(2, "nginx:1.25");
    if let Some(spec) = alice_config["spec"].as_object_mut() {
        spec.remove("replicas");
    }
    let after_alice = apply_as(Some(&shared), &alice_config, "alice", false, T3).expect("applies");
    assert_eq!(after_alice["spec"]["replicas"], 2, "bob still owns it");

    let bob_gone = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"owner": "bob"}}});
    let after_bob = apply_as(Some(&after_alice), &bob_gone, "bob", false, T3).expect("applies");
    assert!(
        after_bob["spec"].get("replicas").is_none(),
        "nobody owns it any more"
    );
    assert_eq!(
        after_bob["spec"]["template"]["spec"]["containers"][0]["name"],
        "nginx"
    );
}

#[test]
fn containers_merge_by_name_and_ports_by_port_and_protocol() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "alice", false, T1).expect("applies");
    let bob = json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "ports": [{"containerPort": 80, "protocol": "UDP"}]},
        {"name": "sidecar", "image": "envoy:1"},
    ]}}}});
    let merged = apply_as(Some(&live), &bob, "bob", false, T2).expect("no conflict");
    assert_eq!(
        merged["spec"]["template"]["spec"]["containers"],
        json!([
            {"name": "nginx", "image": "nginx:1.25", "ports": [
                {"containerPort": 80},
                {"containerPort": 80, "protocol": "UDP"},
            ]},
            {"name": "sidecar", "image": "envoy:1"},
        ])
    );
    // Alice drops her port: only hers goes, Bob's UDP port and container stay.
    let mut alice = deployment(2, "nginx:1.25");
    if let Some(c) = alice["spec"]["template"]["spec"]["containers"][0].as_object_mut() {
        c.remove("ports");
    }
    let pruned = apply_as(Some(&merged), &alice, "alice", false, T3).expect("applies");
    assert_eq!(
        pruned["spec"]["template"]["spec"]["containers"],
        json!([
            {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "UDP"}]},
            {"name": "sidecar", "image": "envoy:1"},
        ])
    );
}

#[test]
fn an_edit_after_apply_takes_the_changed_field() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "kubectl", false, T1).expect("applies");
    let mut edited = live.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    let stored = update_as(Some(&live), &edited, "kubectl-edit", T2);

    let edit = owned(&stored, "kubectl-edit", Operation::Update).expect("edit entry");
    assert_eq!(
        edit,
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}})
    );
    let kubectl = owned(&stored, "kubectl", Operation::Apply).expect("apply entry");
    let container =
        &kubectl["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
    assert!(container.get("f:image").is_none());
    assert!(container.get("f:name").is_some());
    assert_eq!(
        stored["metadata"]["managedFields"][0]["time"], T1,
        "apply entry untouched"
    );

    let err = apply_as(
        Some(&stored),
        &deployment(2, "nginx:1.25"),
        "kubectl",
        false,
        T3,
    )
    .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.template.spec.containers[name="nginx"].image"#
    );
}

#[test]
fn an_update_removing_a_field_takes_it_from_everyone_and_unchanged_writes_keep_time() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "kubectl", false, T1).expect("applies");
    let mut new = live.clone();
    if let Some(labels) = new["metadata"].as_object_mut() {
        labels.remove("labels");
    }
    let stored = update_as(Some(&live), &new, "editor", T2);
    let kubectl = owned(&stored, "kubectl", Operation::Apply).expect("apply entry");
    assert!(
        kubectl["f:metadata"].is_null(),
        "label ownership gone: {kubectl}"
    );
    assert!(
        owned(&stored, "editor", Operation::Update).is_none(),
        "a pure removal owns nothing"
    );

    // Writing the same object again changes no ownership and no timestamp.
    let again = update_as(Some(&stored), &stored, "editor", T3);
    assert_eq!(again, stored);
}

#[test]
fn managed_fields_sent_with_an_update_are_used_and_an_empty_list_clears_them() {
    let live = apply_as(None, &deployment(2, "nginx:1.25"), "kubectl", false, T1).expect("applies");
    let mut cleared = live.clone();
    cleared["metadata"]["managedFields"] = json!([]);
    let stored = update_as(Some(&live), &cleared, "kubectl-edit", T2);
    assert!(stored["metadata"].get("managedFields").is_none());

    let mut omitted = live.clone();
    crate::strip_managed_fields(&mut omitted);
    let kept = update_as(Some(&live), &omitted, "kubectl-edit", T2);
    assert_eq!(
        kept, live,
        "without managedFields the stored ones carry over"
    );
}

#[test]
fn applying_the_same_configuration_twice_changes_nothing() {
    let config = deployment(2, "nginx:1.25");
    let once = apply_as(None, &config, "kubectl", false, T1).expect("applies");
    let twice = apply_as(Some(&once), &config, "kubectl", false, T2).expect("applies");
    assert_eq!(once, twice);
}

#[test]
fn status_is_left_to_the_status_subresource() {
    let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "5"},
        "spec": {"replicas": 1}, "status": {"replicas": 1}});
    let mut config = deployment(3, "nginx:1.25");
    config["status"] = json!({"replicas": 99});
    config["metadata"]["uid"] = json!("forged");
    let applied = apply_as(Some(&live), &config, "kubectl", false, T1).expect("applies");
    assert_eq!(applied["status"], json!({"replicas": 1}));
    assert_eq!(applied["metadata"]["uid"], "u1");
    assert_eq!(applied["metadata"]["resourceVersion"], "5");
    assert!(
        owned(&applied, "kubectl", Operation::Apply)
            .expect("entry")
            .get("f:status")
            .is_none()
    );

    let request = Request {
        manager: "controller",
        force: false,
        api_version: "apps/v1",
        subresource: Some("status"),
        now: T2,
    };
    let status_config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 7}, "status": {"replicas": 3}});
    let with_status =
        apply_at(Some(&applied), &status_config, &request, &PodSchema).expect("applies");
    assert_eq!(with_status["status"], json!({"replicas": 3}));
    assert_eq!(
        with_status["spec"]["replicas"], 3,
        "spec is not written through status"
    );
    let entry = decode_managed_fields(&with_status)
        .expect("decodes")
        .into_iter()
        .find(|e| e.manager == "controller")
        .expect("entry");
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(
        entry.fields.to_fields_v1(),
        json!({"f:status": {"f:replicas": {}}})
    );
}

#[test]
fn malformed_configurations_are_refused_with_upstream_messages() {
    let err = apply_as(None, &json!([1]), "kubectl", false, T1).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "error decoding YAML: json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    let mut with_managed = deployment(1, "x");
    with_managed["metadata"]["managedFields"] = json!([]);
    let err = apply_as(None, &with_managed, "kubectl", false, T1).expect_err("refused");
    assert_eq!(
        (err.to_string().as_str(), err.code()),
        ("metadata.managedFields must be nil", 400)
    );

    let mut wrong_version = deployment(1, "x");
    wrong_version["apiVersion"] = json!("apps/v1beta2");
    let err = apply_as(None, &wrong_version, "kubectl", false, T1).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "Incorrect version specified in apply patch. Specified patch version: apps/v1beta2, expected: apps/v1"
    );

    let mut duplicate = deployment(1, "x");
    duplicate["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]);
    let err = apply_as(None, &duplicate, "kubectl", false, T1).expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name="c"]"#
    );

    let mut keyless = deployment(1, "x");
    keyless["spec"]["template"]["spec"]["containers"] = json!([{"image": "a"}]);
    let err = apply_as(None, &keyless, "kubectl", false, T1).expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field "name" (and doesn't have default value)"#
    );
}

#[test]
fn manager_names_come_from_the_user_agent() {
    assert_eq!(
        crate::manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
        "kubectl"
    );
    assert_eq!(
        crate::manager_from_user_agent("Go-http-client/1.1"),
        "Go-http-client"
    );
    assert_eq!(crate::manager_from_user_agent(&"x".repeat(200)).len(), 128);
}

mod properties {
    use super::*;
    use crate::path::{Path, PathElement};
    use proptest::prelude::*;

    fn step() -> impl Strategy<Value = PathElement> {
        prop_oneof![
            "[a-z<>&.\"]{1,6}".prop_map(PathElement::Field),
            ("[a-z]{1,4}", 0i64..100).prop_map(|(name, port)| PathElement::key(vec![
                ("containerPort".into(), json!(port)),
                ("name".into(), json!(name)),
            ])),
            prop_oneof![
                "[a-z/]{0,5}".prop_map(|s| json!(s)),
                (-5i64..5).prop_map(|n| json!(n)),
                any::<bool>().prop_map(|b| json!(b)),
            ]
            .prop_map(PathElement::Value),
            (0usize..5).prop_map(PathElement::Index),
        ]
    }

    fn field_set() -> impl Strategy<Value = FieldSet> {
        prop::collection::vec(prop::collection::vec(step(), 1..5), 0..12)
            .prop_map(|paths| FieldSet::from_paths(paths.into_iter().map(Path)))
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-c]{1,2}"
    }

    /// A Deployment-like configuration with unique container, env and
    /// port keys, as a valid configuration must have.
    fn configuration() -> impl Strategy<Value = Value> {
        let container = (
            prop::option::of("[a-z]{1,3}:[0-9]"),
            prop::collection::btree_map(name(), prop::option::of("[a-z]{0,2}"), 0..3),
            prop::collection::btree_set(70i64..74, 0..3),
            prop::option::of(prop::collection::vec("[a-z]{1,2}", 0..3)),
        );
        (
            prop::collection::btree_map(name(), "[a-z]{0,2}", 0..3),
            prop::option::of(0i64..5),
            prop::collection::btree_map(name(), container, 0..3),
            prop::collection::btree_set("[a-c]", 0..3),
        )
            .prop_map(|(labels, replicas, containers, finalizers)| {
                let containers: Vec<Value> = containers
                    .into_iter()
                    .map(|(name, (image, env, ports, args))| {
                        let mut c = json!({"name": name});
                        if let Some(image) = image {
                            c["image"] = json!(image);
                        }
                        if !env.is_empty() {
                            let env: Vec<Value> = env
                                .into_iter()
                                .map(|(n, v)| match v {
                                    Some(v) => json!({"name": n, "value": v}),
                                    None => json!({"name": n}),
                                })
                                .collect();
                            c["env"] = json!(env);
                        }
                        if !ports.is_empty() {
                            let ports: Vec<Value> = ports
                                .into_iter()
                                .map(|p| json!({"containerPort": p}))
                                .collect();
                            c["ports"] = json!(ports);
                        }
                        if let Some(args) = args {
                            c["args"] = json!(args);
                        }
                        c
                    })
                    .collect();
                let mut config = json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "default", "labels": labels,
                                 "finalizers": finalizers},
                    "spec": {"template": {"spec": {"containers": containers}}}
                });
                if let Some(replicas) = replicas {
                    config["spec"]["replicas"] = json!(replicas);
                }
                config
            })
    }

    proptest! {
        #[test]
        fn field_sets_round_trip_through_fields_v1(set in field_set()) {
            prop_assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), Ok(set.clone()));
            let text: Value = serde_json::from_str(&set.to_json_string()).expect("valid JSON");
            prop_assert_eq!(&text, &set.to_fields_v1());
            prop_assert_eq!(FieldSet::from_fields_v1(&text), Ok(set));
        }

        #[test]
        fn set_algebra_laws_hold(a in field_set(), b in field_set()) {
            let union = a.union(&b);
            prop_assert_eq!(union.difference(&b), a.difference(&b));
            prop_assert!(a.intersection(&b).difference(&a).is_empty());
            prop_assert_eq!(a.difference(&b).union(&a.intersection(&b)), a.clone());
            prop_assert_eq!(union.len(), a.len() + b.len() - a.intersection(&b).len());
        }

        #[test]
        fn applying_a_configuration_again_changes_nothing(
            other in configuration(),
            mine in configuration(),
        ) {
            let start = apply_as(None, &other, "other", false, T1).expect("create");
            let first = apply_as(Some(&start), &mine, "me", true, T2).expect("forced apply");
            let second = apply_as(Some(&first), &mine, "me", false, T3);
            prop_assert_eq!(second, Ok(first));
        }

        #[test]
        fn the_applier_owns_exactly_its_configuration(
            other in configuration(),
            mine in configuration(),
        ) {
            let start = apply_as(None, &other, "other", false, T1).expect("create");
            let result = apply_as(Some(&start), &mine, "me", true, T2).expect("forced apply");
            let expected = crate::scope::Scope::new(None, &PodSchema)
                .trackable(&crate::extract::fields_of(&mine, &PodSchema).expect("valid"));
            let entries = decode_managed_fields(&result).expect("decodes");
            let mine_entry = entries.iter().find(|e| e.manager == "me");
            prop_assert_eq!(mine_entry.map(|e| e.fields.clone()).unwrap_or_default(), expected.clone());
            // Every manager owns only fields the object holds.
            let present = crate::extract::fields_of(&without_managed_fields(result.clone()), &PodSchema)
                .expect("valid");
            for entry in &entries {
                prop_assert!(
                    entry.fields.difference(&present).is_empty(),
                    "{} owns fields the object lacks", entry.manager
                );
            }
        }
    }
}

#[test]
fn a_write_that_changes_nothing_still_tidies_a_managed_fields_list() {
    let created = update_as(None, &deployment(2, "nginx:1.25"), "kubectl-create", T1);
    let mut sent = created.clone();
    let mut entry = sent["metadata"]["managedFields"][0].clone();
    entry["manager"] = json!("zz-other");
    entry["fieldsV1"] = json!({"f:metadata": {"f:labels": {".": {}}}});
    sent["metadata"]["managedFields"]
        .as_array_mut()
        .expect("list")
        .insert(0, entry);
    let updated = update_as(Some(&created), &sent, "kubectl-edit", T2);
    let managers: Vec<&str> = updated["metadata"]["managedFields"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers, vec!["kubectl-create", "zz-other"]);
    assert_eq!(
        updated["metadata"]["managedFields"][1]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {}}})
    );
    assert_eq!(
        update_as(Some(&created), &created, "kubectl-edit", T2),
        created
    );
}
