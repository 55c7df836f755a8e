//! What defaulting stores, written out in full as a v1.33 API server
//! stores it (without the service-account token volume, which ordinal does
//! not inject), and its idempotence.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn defaulted(plural: &str, mut object: Value, ctx: &Context) -> Value {
    let resource = crate::resources::RESOURCES
        .iter()
        .find(|r| r.plural == plural && (r.plural != "events" || r.group.is_empty()))
        .unwrap();
    apply(resource, &mut object, ctx);
    object
}

fn created(plural: &str, object: Value) -> Value {
    defaulted(plural, object, &Context::create(None))
}

const TOLERATIONS: &str = r#"[
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
]"#;

#[test]
fn a_minimal_pod_is_stored_with_every_default() {
    let pod = created(
        "pods",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
    );
    let tolerations: Value = serde_json::from_str(TOLERATIONS).unwrap();
    assert_eq!(
        pod,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx", "imagePullPolicy": "Always",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": true,
                "preemptionPolicy": "PreemptLowerPriority",
                "priority": 0,
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "serviceAccount": "default",
                "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30,
                "tolerations": tolerations
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort"}
        })
    );
}

#[test]
fn pod_containers_probes_and_volumes_get_their_defaults() {
    let pod = created(
        "pods",
        json!({"metadata": {"name": "p"}, "spec": {
            "serviceAccount": "builder",
            "initContainers": [{"name": "init", "image": "busybox:1.36",
                                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
            "containers": [{
                "name": "c", "image": "registry.k8s.io/app:v1",
                "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 2},
                "startupProbe": {"grpc": {"port": 9000}},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
                "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "0.5"}}
            }],
            "volumes": [
                {"name": "scratch"},
                {"name": "host", "hostPath": {"path": "/var/data"}},
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
                {"name": "info", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "all", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
                {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}}
            ]
        }}),
    );
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], "builder");
    assert_eq!(spec["serviceAccount"], "builder");
    let init = &spec["initContainers"][0];
    assert_eq!(init["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        init["resources"],
        json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}})
    );
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        c["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}])
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
               "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["readinessProbe"]["periodSeconds"], 2);
    assert_eq!(
        c["startupProbe"]["grpc"],
        json!({"port": 9000, "service": ""})
    );
    assert_eq!(
        c["lifecycle"]["preStop"]["httpGet"],
        json!({"port": 80, "path": "/stop", "scheme": "HTTP"})
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "0.5", "memory": "64Mi"}),
        "only the missing request is copied from the limit"
    );
    assert_eq!(
        spec["volumes"],
        json!([
            {"name": "scratch", "emptyDir": {}},
            {"name": "host", "hostPath": {"path": "/var/data", "type": ""}},
            {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
            {"name": "info", "downwardAPI": {"defaultMode": 420, "items": [
                {"path": "n", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}]}},
            {"name": "all", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]}},
            {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}}
        ])
    );
    assert_eq!(pod["status"]["qosClass"], "Guaranteed");
}

#[test]
fn qos_class_follows_requests_and_limits() {
    let qos = |containers: Value| {
        created("pods", json!({"spec": {"containers": containers}}))["status"]["qosClass"].clone()
    };
    assert_eq!(qos(json!([{"name": "a", "image": "i"}])), "BestEffort");
    assert_eq!(
        qos(json!([{"name": "a", "image": "i", "resources": {"requests": {"cpu": "100m"}}}])),
        "Burstable"
    );
    assert_eq!(
        qos(
            json!([{"name": "a", "image": "i", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])
        ),
        "Guaranteed"
    );
    assert_eq!(
        qos(json!([{"name": "a", "image": "i", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}])),
        "Burstable"
    );
    assert_eq!(
        qos(json!([
            {"name": "a", "image": "i", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
            {"name": "b", "image": "i", "resources": {"limits": {"cpu": "1"}}}
        ])),
        "Burstable",
        "every container must limit both"
    );
}

#[test]
fn existing_tolerations_for_the_taints_are_kept() {
    let pod = created(
        "pods",
        json!({"spec": {"containers": [], "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
        ]}}),
    );
    let t = pod["spec"]["tolerations"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0]["tolerationSeconds"], 10);
    assert_eq!(t[1]["key"], "node.kubernetes.io/unreachable");
    let tolerate_all = created(
        "pods",
        json!({"spec": {"containers": [], "tolerations": [{"operator": "Exists"}]}}),
    );
    assert_eq!(
        tolerate_all["spec"]["tolerations"],
        json!([{"operator": "Exists"}])
    );
}

#[test]
fn admission_defaults_are_create_only() {
    let old = json!({});
    let pod = defaulted(
        "pods",
        json!({"spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Running"}}),
        &Context::update(&old),
    );
    assert!(pod["spec"].get("serviceAccountName").is_none());
    assert!(pod["spec"].get("priority").is_none());
    assert_eq!(pod["status"], json!({"phase": "Running"}));
    assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst");
}

#[test]
fn a_minimal_statefulset_is_stored_with_every_default() {
    let sts = created(
        "statefulsets",
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.24",
                                                      "ports": [{"containerPort": 80, "name": "web"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
            }
        }),
    );
    assert_eq!(
        sts,
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "podManagementPolicy": "OrderedReady",
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "serviceName": "web",
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "image": "registry.k8s.io/nginx-slim:0.24",
                            "imagePullPolicy": "IfNotPresent",
                            "name": "nginx",
                            "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}],
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File"
                        }],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "Always",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30
                    }
                },
                "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
                "volumeClaimTemplates": [{
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                             "volumeMode": "Filesystem"},
                    "status": {"phase": "Pending"}
                }]
            },
            "status": {"availableReplicas": 0, "replicas": 0}
        })
    );
}

#[test]
fn statefulset_update_strategy_defaults_follow_the_type() {
    let strategy = |s: Value| {
        created("statefulsets", json!({"spec": {"updateStrategy": s}}))["spec"]["updateStrategy"]
            .clone()
    };
    assert_eq!(
        strategy(json!({"type": "OnDelete"})),
        json!({"type": "OnDelete"})
    );
    assert_eq!(
        strategy(json!({"type": "RollingUpdate"})),
        json!({"type": "RollingUpdate"}),
        "an explicit type without rollingUpdate gets no partition"
    );
    assert_eq!(
        strategy(json!({"rollingUpdate": {"maxUnavailable": 2}})),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "partition": 0}})
    );
    assert_eq!(
        strategy(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 3}})),
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 3}})
    );
}

#[test]
fn a_minimal_service_is_stored_with_every_default() {
    let svc = created(
        "services",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    );
    assert_eq!(
        svc,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "selector": {"app": "web"},
                "sessionAffinity": "None",
                "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        })
    );
}

#[test]
fn service_variants_default_as_upstream() {
    let headless = created(
        "services",
        json!({"spec": {"clusterIP": "None", "selector": {"app": "web"},
                        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
    );
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(headless["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(headless["spec"]["ports"][0]["targetPort"], "http");
    let selectorless = created("services", json!({"spec": {"clusterIP": "None"}}));
    assert_eq!(selectorless["spec"]["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(selectorless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    let node_port = created(
        "services",
        json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 53, "protocol": "UDP"}]}}),
    );
    assert_eq!(node_port["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(node_port["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(
        node_port["spec"]["sessionAffinityConfig"],
        json!({"clientIP": {"timeoutSeconds": 10800}})
    );
    let external = created(
        "services",
        json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
    );
    assert_eq!(
        external["spec"],
        json!({"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"})
    );
}

#[test]
fn service_updates_keep_allocated_values_and_drop_stale_ones() {
    let old = created(
        "services",
        json!({"spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                        "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}}),
    );
    // A client that sends neither clusterIP nor nodePort keeps both.
    let kept = defaulted(
        "services",
        json!({"spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}}),
        &Context::update(&old),
    );
    assert_eq!(kept["spec"]["clusterIP"], "10.96.0.10");
    assert_eq!(kept["spec"]["clusterIPs"], json!(["10.96.0.10"]));
    assert_eq!(kept["spec"]["ports"][0]["nodePort"], 30080);
    // Switching to ExternalName drops what only the old type needed.
    let mut switched = old.clone();
    switched["spec"]["type"] = json!("ExternalName");
    switched["spec"]["externalName"] = json!("example.com");
    let switched = defaulted("services", switched, &Context::update(&old));
    for gone in [
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "ipFamilyPolicy",
        "externalTrafficPolicy",
    ] {
        assert!(switched["spec"].get(gone).is_none(), "{gone}: {switched}");
    }
    assert!(switched["spec"]["ports"][0].get("nodePort").is_none());
}

#[test]
fn a_minimal_claim_gets_the_default_class_and_starts_pending() {
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let stored = defaulted(
        "persistentvolumeclaims",
        claim.clone(),
        &Context::create(Some("standard".into())),
    );
    assert_eq!(
        stored,
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}})
    );
    let mut explicit_none = claim.clone();
    explicit_none["spec"]["storageClassName"] = json!("");
    let stored = defaulted(
        "persistentvolumeclaims",
        explicit_none,
        &Context::create(Some("standard".into())),
    );
    assert_eq!(
        stored["spec"]["storageClassName"], "",
        "an explicit \"\" opts out"
    );
    let no_default = created("persistentvolumeclaims", claim);
    assert!(no_default["spec"].get("storageClassName").is_none());
}

#[test]
fn a_minimal_volume_is_stored_with_every_default() {
    let pv = created(
        "persistentvolumes",
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
               "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                        "hostPath": {"path": "/data/pv-1"}}}),
    );
    let since = pv["status"]["lastPhaseTransitionTime"].as_str().unwrap();
    assert!(since.parse::<jiff::Timestamp>().is_ok(), "{since}");
    assert_eq!(
        pv,
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                     "hostPath": {"path": "/data/pv-1", "type": ""},
                     "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
            "status": {"phase": "Pending", "lastPhaseTransitionTime": since}})
    );
}

#[test]
fn a_minimal_storage_class_is_stored_with_every_default() {
    let sc = created(
        "storageclasses",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard"}, "provisioner": "ordinal.dev/hostpath"}),
    );
    assert_eq!(
        sc,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard"}, "provisioner": "ordinal.dev/hostpath",
            "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
    );
}

#[test]
fn endpoint_ports_default_to_tcp() {
    let ep = created(
        "endpoints",
        json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
    );
    assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
    let slice = created(
        "endpointslices",
        json!({"addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}),
    );
    assert_eq!(
        slice["ports"],
        json!([{"name": "", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}])
    );
}

#[test]
fn the_newest_annotated_class_is_the_default() {
    let class = |name: &str, created: &str, annotation: Option<(&str, &str)>| {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
        if let Some((k, v)) = annotation {
            c["metadata"]["annotations"] = json!({k: v});
        }
        c
    };
    let default = ("storageclass.kubernetes.io/is-default-class", "true");
    let beta = ("storageclass.beta.kubernetes.io/is-default-class", "true");
    let classes = [
        class("old", "2024-01-01T00:00:00Z", Some(default)),
        class("newer", "2024-06-01T00:00:00Z", Some(beta)),
        class("newest-but-not-default", "2025-01-01T00:00:00Z", None),
        class(
            "off",
            "2025-01-01T00:00:00Z",
            Some(("storageclass.kubernetes.io/is-default-class", "false")),
        ),
    ];
    assert_eq!(default_storage_class(&classes), Some("newer".into()));
    let tie = [
        class("b", "2024-01-01T00:00:00Z", Some(default)),
        class("a", "2024-01-01T00:00:00Z", Some(default)),
    ];
    assert_eq!(default_storage_class(&tie), Some("a".into()));
    assert_eq!(default_storage_class(&classes[2..]), None);
}

#[test]
fn odd_shapes_are_left_for_validation() {
    let pod = created(
        "pods",
        json!({"spec": {"containers": "nope", "volumes": [3, {"name": "v"}], "restartPolicy": 7,
                        "tolerations": {}}}),
    );
    assert_eq!(pod["spec"]["containers"], "nope");
    assert_eq!(pod["spec"]["restartPolicy"], 7);
    assert_eq!(
        pod["spec"]["volumes"],
        json!([3, {"name": "v", "emptyDir": {}}])
    );
    assert_eq!(pod["spec"]["tolerations"], json!({}));
    let sts = created("statefulsets", json!({"spec": "x"}));
    assert_eq!(sts["spec"], "x");
    for r in crate::resources::RESOURCES {
        for mut v in [
            json!(null),
            json!([1]),
            json!("s"),
            json!({"spec": null, "status": 5}),
        ] {
            apply(r, &mut v, &Context::create(Some("c".into())));
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..100).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "Always",
            "None",
            "ClusterIP",
            "NodePort",
            "LoadBalancer",
            "ExternalName",
            "TCP",
            "RollingUpdate",
            "OnDelete",
            "nginx",
            "nginx:1.0",
            "ClientIP",
            "10.0.0.1",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "spec",
                    "status",
                    "containers",
                    "initContainers",
                    "volumes",
                    "ports",
                    "type",
                    "template",
                    "updateStrategy",
                    "rollingUpdate",
                    "clusterIP",
                    "clusterIPs",
                    "selector",
                    "resources",
                    "limits",
                    "requests",
                    "livenessProbe",
                    "httpGet",
                    "sessionAffinity",
                    "image",
                    "name",
                    "port",
                    "targetPort",
                    "hostPath",
                    "volumeClaimTemplates",
                    "tolerations",
                    "serviceAccount",
                    "hostNetwork",
                    "nodePort",
                    "externalIPs",
                    "ipFamilyPolicy",
                    "ipFamilies",
                    "subsets",
                    "sessionAffinityConfig",
                    "capacity",
                    "storageClassName",
                    "projected",
                    "sources",
                ])
                .prop_map(str::to_string),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn defaulting_is_idempotent(
        body in arb_json(),
        part in arb_json(),
        old in arb_json(),
        create in any::<bool>(),
    ) {
        // Random values both at the top and where the defaulters look.
        let shaped = json!({
            "spec": {
                "containers": [part.clone()], "initContainers": [body.clone()],
                "volumes": [part.clone()], "ports": [part.clone()], "tolerations": [part.clone()],
                "template": {"spec": part.clone(), "metadata": body.clone()},
                "volumeClaimTemplates": [part.clone()], "updateStrategy": part.clone(),
                "type": body.clone(), "clusterIP": body.clone(), "selector": part.clone(),
            },
            "subsets": [{"ports": [part.clone()]}],
            "status": part.clone(),
        });
        let shaped_old = json!({"spec": old.clone(), "status": old.clone()});
        for r in crate::resources::RESOURCES {
            for (new, prev) in [(&body, &old), (&shaped, &shaped_old)] {
                let ctx = if create {
                    Context::create(Some("standard".into()))
                } else {
                    Context::update(prev)
                };
                let mut once = new.clone();
                apply(r, &mut once, &ctx);
                let mut twice = once.clone();
                apply(r, &mut twice, &ctx);
                prop_assert_eq!(&once, &twice, "{}", r.plural);
            }
        }
    }
}
