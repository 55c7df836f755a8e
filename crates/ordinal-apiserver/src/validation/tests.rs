//! Each validation rule with its field path, reason and message, checked
//! on defaulted objects as the server validates them.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::defaults::{self, Context};
use crate::resources::{Resource, lookup};

const LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn res(group: &str, plural: &str) -> &'static Resource {
    lookup(group, "v1", plural).unwrap()
}

/// The object as the server would validate it on create.
fn defaulted(r: &Resource, mut v: Value) -> Value {
    defaults::apply(r, &mut v, &Context::create(None));
    v
}

/// `(message, reason)` of each error.
fn rendered(errs: &[FieldError]) -> Vec<(String, &'static str)> {
    errs.iter().map(|e| (e.to_string(), e.reason())).collect()
}

fn expect(errs: Vec<FieldError>, want: &[(&str, &str)]) {
    let got = rendered(&errs);
    let want: Vec<(String, &str)> = want.iter().map(|(m, r)| (m.to_string(), *r)).collect();
    assert_eq!(got, want);
}

fn pod(spec: Value) -> Value {
    defaulted(
        res("", "pods"),
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}),
    )
}

fn pod_errors(spec: Value) -> Vec<FieldError> {
    validate_create(res("", "pods"), &pod(spec))
}

fn web() -> Value {
    json!({"name": "web", "image": "nginx:1.27"})
}

#[test]
fn a_defaulted_pod_is_valid() {
    expect(
        pod_errors(json!({
            "containers": [{"name": "web", "image": "nginx", "ports": [{"name": "http", "containerPort": 80}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "readinessProbe": {"httpGet": {"port": "http"}},
                            "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}}}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}],
            "hostname": "web-0", "subdomain": "web"
        })),
        &[],
    );
}

#[test]
fn containers_are_required_and_named() {
    expect(
        pod_errors(json!({"containers": []})),
        &[("spec.containers: Required value", "FieldValueRequired")],
    );
    expect(
        pod_errors(
            json!({"containers": [{"name": "Web_1", "image": "nginx"}, {"image": "nginx"}]}),
        ),
        &[
            (
                &format!("spec.containers[0].name: Invalid value: \"Web_1\": {LABEL_ERR}"),
                "FieldValueInvalid",
            ),
            (
                "spec.containers[1].name: Required value",
                "FieldValueRequired",
            ),
        ],
    );
    expect(
        pod_errors(json!({"containers": [{"name": "web"}]})),
        &[(
            "spec.containers[0].image: Required value",
            "FieldValueRequired",
        )],
    );
    expect(
        pod_errors(json!({"containers": [{"name": "web", "image": " nginx"}]})),
        &[(
            "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
            "FieldValueInvalid",
        )],
    );
}

#[test]
fn container_names_are_unique_across_init_and_regular_containers() {
    expect(
        pod_errors(json!({"containers": [web(), web()], "initContainers": [web()]})),
        &[
            (
                "spec.containers[1].name: Duplicate value: \"web\"",
                "FieldValueDuplicate",
            ),
            (
                "spec.initContainers[0].name: Duplicate value: \"web\"",
                "FieldValueDuplicate",
            ),
        ],
    );
}

#[test]
fn ports_are_checked() {
    let c = json!({"name": "web", "image": "nginx", "ports": [
        {"name": "HTTP_port", "containerPort": 80},
        {"name": "metrics", "containerPort": 70000, "protocol": "FOO"},
        {"name": "metrics", "containerPort": 9090},
        {"containerPort": 0}
    ]});
    let errs = rendered(&pod_errors(json!({"containers": [c]})));
    let want = [
        (
            "spec.containers[0].ports[0].name: Invalid value: \"HTTP_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "FieldValueInvalid",
        ),
        (
            "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "FieldValueInvalid",
        ),
        (
            "spec.containers[0].ports[1].protocol: Unsupported value: \"FOO\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "FieldValueNotSupported",
        ),
        (
            "spec.containers[0].ports[2].name: Duplicate value: \"metrics\"",
            "FieldValueDuplicate",
        ),
        (
            "spec.containers[0].ports[3].containerPort: Required value",
            "FieldValueRequired",
        ),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(m, r)| (m.to_string(), *r)).collect();
    assert_eq!(errs, want);
}

#[test]
fn host_ports_may_not_collide() {
    let c = |name: &str| json!({"name": name, "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080}]});
    expect(
        pod_errors(json!({"containers": [c("a"), c("b")]})),
        &[(
            "spec.containers[1].ports[0]: Duplicate value: \"8080/TCP\"",
            "FieldValueDuplicate",
        )],
    );
}

#[test]
fn volumes_and_mounts_are_checked() {
    expect(
        pod_errors(json!({
            "containers": [{"name": "web", "image": "nginx", "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {"name": "cache", "mountPath": "/data"},
                {"name": "Bad", "mountPath": "/bad"}
            ]}],
            "volumes": [
                {"name": "cache"}, {"name": "cache"}, {"name": "Bad"},
                {"name": "both", "configMap": {"name": "c"}, "secret": {"secretName": "s", "defaultMode": 1000}},
                {"name": "claim", "persistentVolumeClaim": {}},
                {"name": "host", "hostPath": {"path": "/a/../b", "type": "Pipe"}}
            ]
        })),
        &[
            (
                "spec.volumes[1].name: Duplicate value: \"cache\"",
                "FieldValueDuplicate",
            ),
            (
                &format!("spec.volumes[2].name: Invalid value: \"Bad\": {LABEL_ERR}"),
                "FieldValueInvalid",
            ),
            (
                "spec.volumes[3].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
                "FieldValueInvalid",
            ),
            (
                "spec.volumes[3].configMap: Forbidden: may not specify more than 1 volume type",
                "FieldValueForbidden",
            ),
            (
                "spec.volumes[4].persistentVolumeClaim.claimName: Required value",
                "FieldValueRequired",
            ),
            (
                "spec.volumes[5].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'",
                "FieldValueInvalid",
            ),
            (
                "spec.volumes[5].hostPath.type: Unsupported value: \"Pipe\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
                "FieldValueNotFound",
            ),
            (
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].volumeMounts[2].name: Not found: \"Bad\"",
                "FieldValueNotFound",
            ),
        ],
    );
}

#[test]
fn environment_variables_are_checked() {
    expect(
        pod_errors(
            json!({"containers": [{"name": "web", "image": "nginx", "env": [
                {"name": "A=B", "value": "x"},
                {"name": ""},
                {"name": "FROM", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}},
                {"name": "BAD", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}},
                {"name": "KEY", "valueFrom": {"configMapKeyRef": {"name": "cfg"}}}
            ]}]}),
        ),
        &[
            (
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].env[1].name: Required value",
                "FieldValueRequired",
            ),
            (
                "spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Unsupported value: \"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.containers[0].env[4].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: spec.foo",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].env[5].valueFrom.configMapKeyRef.key: Required value",
                "FieldValueRequired",
            ),
        ],
    );
}

#[test]
fn policies_are_closed_sets() {
    expect(
        pod_errors(
            json!({"containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Sometimes",
                                          "terminationMessagePolicy": "Never"}],
                          "restartPolicy": "Sometimes", "dnsPolicy": "Google"}),
        ),
        &[
            (
                "spec.containers[0].terminationMessagePolicy: Unsupported value: \"Never\": supported values: \"File\", \"FallbackToLogsOnError\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
                "FieldValueNotSupported",
            ),
        ],
    );
    expect(
        pod_errors(
            json!({"containers": [web()], "dnsPolicy": "None", "activeDeadlineSeconds": 0,
                          "hostname": "Web.0", "serviceAccountName": "Bad_SA"}),
        ),
        &[
            (
                "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
                "FieldValueRequired",
            ),
            (
                "spec.serviceAccountName: Invalid value: \"Bad_SA\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "FieldValueInvalid",
            ),
            (
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
                "FieldValueInvalid",
            ),
            (
                &format!("spec.hostname: Invalid value: \"Web.0\": {LABEL_ERR}"),
                "FieldValueInvalid",
            ),
        ],
    );
}

#[test]
fn probes_and_lifecycle_are_checked() {
    expect(
        pod_errors(json!({"containers": [{"name": "web", "image": "nginx",
            "livenessProbe": {"httpGet": {"port": 80}, "successThreshold": 2},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 5},
            "startupProbe": {"initialDelaySeconds": -1}
        }], "initContainers": [{"name": "init", "image": "busybox", "readinessProbe": {"exec": {"command": ["true"]}}}]})),
        &[
            (
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "FieldValueForbidden",
            ),
            (
                "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].startupProbe: Required value: must specify a handler type",
                "FieldValueRequired",
            ),
            (
                "spec.containers[0].startupProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
                "FieldValueForbidden",
            ),
        ],
    );
}

#[test]
fn requests_may_not_exceed_limits() {
    expect(
        pod_errors(
            json!({"containers": [{"name": "web", "image": "nginx", "resources": {
                "limits": {"cpu": "1", "example.com/gpu": "1"},
                "requests": {"cpu": "1500m", "memory": "-1Mi", "example.com/gpu": "2", "foo": "1"}
            }}]}),
        ),
        &[
            (
                "spec.containers[0].resources.requests: Invalid value: \"1500m\": must be less than or equal to cpu limit of 1",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be equal to example.com/gpu limit of 1",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].resources.requests[foo]: Invalid value: \"foo\": must be a standard resource for containers",
                "FieldValueInvalid",
            ),
            (
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
        ],
    );
}

#[test]
fn tolerations_are_checked() {
    expect(
        pod_errors(json!({"containers": [web()], "tolerations": [
            {"operator": "Equal", "value": "x"},
            {"key": "k", "operator": "Exists", "value": "v"},
            {"key": "k", "operator": "Like", "effect": "NoSchedule", "tolerationSeconds": 5},
            {"key": "k", "effect": "Sometimes"}
        ]})),
        &[
            (
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "FieldValueInvalid",
            ),
            (
                "spec.tolerations[1].operator: Invalid value: core.Toleration{Key:\"k\", Operator:\"Exists\", Value:\"v\", Effect:\"\", TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is 'Exists'",
                "FieldValueInvalid",
            ),
            (
                "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                "FieldValueInvalid",
            ),
            (
                "spec.tolerations[2].operator: Unsupported value: \"Like\": supported values: \"Equal\", \"Exists\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.tolerations[3].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "FieldValueNotSupported",
            ),
        ],
    );
}

#[test]
fn ephemeral_containers_and_gated_nodes_are_refused_on_create() {
    expect(
        pod_errors(
            json!({"containers": [web()], "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
                          "nodeName": "n1", "schedulingGates": [{"name": "example.com/wait"}]}),
        ),
        &[
            (
                "spec.ephemeralContainers: Forbidden: cannot be set on create",
                "FieldValueForbidden",
            ),
            (
                "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared",
                "FieldValueForbidden",
            ),
        ],
    );
}

fn pod_update(old: &Value, edit: impl FnOnce(&mut Value)) -> Vec<FieldError> {
    let mut new = old.clone();
    edit(&mut new);
    // As the server does: the update is defaulted before it is validated.
    defaults::apply(res("", "pods"), &mut new, &Context::update(old));
    validate_update(res("", "pods"), old, &new, false)
}

#[test]
fn pod_updates_may_change_only_images_deadlines_and_additions() {
    let old = pod(
        json!({"containers": [web()], "initContainers": [{"name": "init", "image": "busybox"}]}),
    );
    expect(
        pod_update(&old, |p| {
            p["spec"]["containers"][0]["image"] = json!("nginx:1.28");
            p["spec"]["initContainers"][0]["image"] = json!("busybox:2");
            p["spec"]["activeDeadlineSeconds"] = json!(60);
            p["spec"]["tolerations"]
                .as_array_mut()
                .unwrap()
                .push(json!({"key": "k", "operator": "Exists"}));
        }),
        &[],
    );
    let errs = pod_update(&old, |p| p["spec"]["dnsPolicy"] = json!("Default"));
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].field.as_str(), errs[0].reason()),
        ("spec", "FieldValueForbidden")
    );
    let message = errs[0].to_string();
    assert!(
        message.starts_with(&format!(
            "spec: Forbidden: pod updates may not change fields other than {}\n",
            pod::UPDATABLE_FIELDS
        )),
        "{message}"
    );
    assert!(
        message.contains("-   \"dnsPolicy\": \"ClusterFirst\",\n+   \"dnsPolicy\": \"Default\","),
        "{message}"
    );
    expect(
        pod_update(&old, |p| {
            p["spec"]["containers"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "b", "image": "i"}))
        }),
        &[(
            "spec.containers: Forbidden: pod updates may not add or remove containers",
            "FieldValueForbidden",
        )],
    );
    expect(
        pod_update(&old, |p| p["spec"]["containers"][0]["image"] = json!("")),
        &[(
            "spec.containers[0].image: Required value",
            "FieldValueRequired",
        )],
    );
}

#[test]
fn pod_update_rules_for_nodes_tolerations_gates_and_deadlines() {
    let mut old = pod(
        json!({"containers": [web()], "schedulingGates": [{"name": "a"}, {"name": "b"}],
                             "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}]}),
    );
    old["spec"]["activeDeadlineSeconds"] = json!(30);
    let bound = {
        let mut b = old.clone();
        b["spec"]["nodeName"] = json!("node-1");
        b
    };
    let errs = pod_update(&bound, |p| p["spec"]["nodeName"] = json!("node-2"));
    assert_eq!(errs.len(), 1);
    // Even the first assignment goes through pods/binding, not an update.
    let errs = pod_update(&old, |p| p["spec"]["nodeName"] = json!("node-1"));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .contains("pod updates may not change fields")
    );
    expect(
        pod_update(&old, |p| p["spec"]["tolerations"][0]["value"] = json!("w")),
        &[(
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
            "FieldValueForbidden",
        )],
    );
    expect(
        pod_update(&old, |p| {
            p["spec"]["tolerations"][0]["tolerationSeconds"] = json!(10)
        }),
        &[],
    );
    expect(
        pod_update(&old, |p| {
            p["spec"]["schedulingGates"] = json!([{"name": "b"}])
        }),
        &[],
    );
    expect(
        pod_update(&old, |p| {
            p["spec"]["schedulingGates"] = json!([{"name": "c"}])
        }),
        &[(
            "spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate 'c'",
            "FieldValueForbidden",
        )],
    );
    expect(
        pod_update(&old, |p| p["spec"]["activeDeadlineSeconds"] = json!(60)),
        &[(
            "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value",
            "FieldValueInvalid",
        )],
    );
    expect(
        pod_update(&old, |p| {
            p["spec"]
                .as_object_mut()
                .unwrap()
                .remove("activeDeadlineSeconds");
        }),
        &[(
            "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value",
            "FieldValueInvalid",
        )],
    );
}

#[test]
fn pod_status_updates_are_checked_lightly() {
    let mut old = pod(json!({"containers": [web()], "restartPolicy": "Never"}));
    old["status"]["containerStatuses"] =
        json!([{"name": "web", "state": {"terminated": {"exitCode": 0}}}]);
    let mut new = old.clone();
    new["status"]["containerStatuses"][0]["state"] = json!({"running": {}});
    new["status"]["podIPs"] = json!([{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "nope"}]);
    expect(
        validate_update(res("", "pods"), &old, &new, true),
        &[
            (
                "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state",
                "FieldValueForbidden",
            ),
            (
                "status.podIPs[2]: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "FieldValueInvalid",
            ),
            (
                "status.podIPs: Invalid value: [{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"},{\"ip\":\"nope\"}]: may specify no more than one IP for each IP family",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut running = old.clone();
    running["status"] =
        json!({"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}]});
    expect(validate_update(res("", "pods"), &old, &running, true), &[]);
}

fn sts(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [web()]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    });
    edit(&mut v);
    defaulted(res("apps", "statefulsets"), v)
}

fn sts_errors(edit: impl FnOnce(&mut Value)) -> Vec<FieldError> {
    validate_create(res("apps", "statefulsets"), &sts(edit))
}

#[test]
fn a_defaulted_statefulset_is_valid() {
    expect(sts_errors(|_| {}), &[]);
}

#[test]
fn statefulset_counts_are_not_negative() {
    expect(
        sts_errors(|s| {
            s["spec"]["replicas"] = json!(-1);
            s["spec"]["minReadySeconds"] = json!(-5);
            s["spec"]["ordinals"] = json!({"start": -2});
            s["spec"]["updateStrategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": -1}});
        }),
        &[
            (
                "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                "spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                "spec.ordinals.start: Invalid value: -2: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
        ],
    );
}

#[test]
fn statefulset_selector_must_exist_and_match_the_template() {
    expect(
        sts_errors(|s| {
            s["spec"].as_object_mut().unwrap().remove("selector");
        }),
        &[
            ("spec.selector: Required value", "FieldValueRequired"),
            (
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                "FieldValueInvalid",
            ),
        ],
    );
    expect(
        sts_errors(|s| s["spec"]["selector"] = json!({"matchLabels": {}})),
        &[(
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset",
            "FieldValueInvalid",
        )],
    );
    expect(
        sts_errors(|s| {
            s["spec"]["template"]["metadata"]["labels"] = json!({"app": "db", "tier": "x"})
        }),
        &[(
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\", \"tier\":\"x\"}: `selector` does not match template `labels`",
            "FieldValueInvalid",
        )],
    );
    expect(
        sts_errors(|s| {
            s["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]});
        }),
        &[],
    );
    expect(
        sts_errors(|s| {
            s["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In"}]});
        }),
        &[
            (
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "FieldValueRequired",
            ),
            (
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"In\", Values:[]string(nil)}}}",
                "FieldValueInvalid",
            ),
        ],
    );
}

#[test]
fn statefulset_template_restarts_always_and_has_no_deadline() {
    expect(
        sts_errors(|s| {
            s["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
            s["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(10);
        }),
        &[
            (
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
                "FieldValueForbidden",
            ),
        ],
    );
}

#[test]
fn statefulset_policies_are_closed_sets() {
    expect(
        sts_errors(|s| {
            s["spec"]["podManagementPolicy"] = json!("Random");
            s["spec"]["updateStrategy"] = json!({"type": "Sometimes"});
            s["spec"]["persistentVolumeClaimRetentionPolicy"] =
                json!({"whenDeleted": "Keep", "whenScaled": "Delete"});
        }),
        &[
            (
                "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                "FieldValueInvalid",
            ),
            (
                "spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate', 'OnDelete' or 'Recreate'",
                "FieldValueInvalid",
            ),
            (
                "spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
                "FieldValueNotSupported",
            ),
        ],
    );
    expect(
        sts_errors(|s| {
            s["spec"]["updateStrategy"] =
                json!({"type": "OnDelete", "rollingUpdate": {"partition": 1}})
        }),
        &[(
            "spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:1, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'",
            "FieldValueInvalid",
        )],
    );
}

#[test]
fn statefulset_max_unavailable_is_a_positive_int_or_percent() {
    let with = |max: Value| {
        sts_errors(move |s| {
            s["spec"]["updateStrategy"] = json!({"rollingUpdate": {"maxUnavailable": max}})
        })
    };
    expect(with(json!(2)), &[]);
    expect(with(json!("50%")), &[]);
    expect(
        with(json!(0)),
        &[(
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0",
            "FieldValueInvalid",
        )],
    );
    expect(
        with(json!("150%")),
        &[(
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater than 100%",
            "FieldValueInvalid",
        )],
    );
    expect(
        with(json!("half")),
        &[
            (
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: half: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                "FieldValueInvalid",
            ),
            (
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: half: cannot be 0",
                "FieldValueInvalid",
            ),
        ],
    );
    expect(
        with(json!(-1)),
        &[(
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0",
            "FieldValueInvalid",
        )],
    );
}

#[test]
fn statefulset_updates_may_change_only_the_mutable_fields() {
    let r = res("apps", "statefulsets");
    let old = sts(|_| {});
    let mut ok = old.clone();
    ok["spec"]["replicas"] = json!(5);
    ok["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    ok["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    ok["spec"]["minReadySeconds"] = json!(10);
    ok["spec"]["ordinals"] = json!({"start": 3});
    ok["spec"]["revisionHistoryLimit"] = json!(2);
    ok["spec"]["persistentVolumeClaimRetentionPolicy"] =
        json!({"whenDeleted": "Delete", "whenScaled": "Delete"});
    expect(validate_update(r, &old, &ok, false), &[]);
    let forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    for edit in [
        json!({"serviceName": "other"}),
        json!({"podManagementPolicy": "Parallel"}),
    ] {
        let mut new = old.clone();
        for (k, v) in edit.as_object().unwrap() {
            new["spec"][k] = v.clone();
        }
        expect(
            validate_update(r, &old, &new, false),
            &[(forbidden, "FieldValueForbidden")],
        );
    }
    let mut bad = old.clone();
    bad["spec"]["replicas"] = json!(-1);
    expect(
        validate_update(r, &old, &bad, false),
        &[(
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "FieldValueInvalid",
        )],
    );
}

/// The set of [`sts`] with a second template `logs`, as stored.
fn sts_with_logs() -> Value {
    sts(|s| {
        s["spec"]["volumeClaimTemplates"]
            .as_array_mut()
            .unwrap()
            .push(
                json!({"metadata": {"name": "logs", "labels": {"tier": "a"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                    "resources": {"requests": {"storage": "500Mi"}}}}),
            );
    })
}

/// `old` with `edit` applied to a copy, defaulted again as an update is.
fn sts_edited(old: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut new = old.clone();
    edit(&mut new);
    defaulted(res("apps", "statefulsets"), new)
}

const TEMPLATE_RULE: &str = "of an existing volumeClaimTemplate only the storage request may change (grow), and its labels and annotations";

#[test]
fn claim_templates_may_grow_be_relabelled_and_be_added() {
    let r = res("apps", "statefulsets");
    let old = sts_with_logs();
    let new = sts_edited(&old, |s| {
        let templates = &mut s["spec"]["volumeClaimTemplates"];
        templates[0]["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        templates[0]["metadata"]["labels"] = json!({"backup": "daily"});
        templates[0]["metadata"]["annotations"] = json!({"note": "grown"});
        templates[1]["metadata"]["labels"] = json!({"tier": "b"});
        // The same size written another way is no change.
        templates[1]["spec"]["resources"]["requests"]["storage"] = json!("512000Ki");
        templates.as_array_mut().unwrap().push(json!({"metadata": {"name": "cache"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}));
    });
    expect(validate_update(r, &old, &new, false), &[]);
    // Reordering the templates changes nothing either.
    let reordered = sts_edited(&old, |s| {
        s["spec"]["volumeClaimTemplates"]
            .as_array_mut()
            .unwrap()
            .reverse();
    });
    expect(validate_update(r, &old, &reordered, false), &[]);
}

#[test]
fn claim_templates_may_not_shrink_or_change_their_class_modes_or_selector() {
    let r = res("apps", "statefulsets");
    let old = sts_with_logs();
    let new = sts_edited(&old, |s| {
        let templates = &mut s["spec"]["volumeClaimTemplates"];
        templates[1]["spec"]["resources"]["requests"]["storage"] = json!("100Mi");
        templates[1]["spec"]["storageClassName"] = json!("fast");
        templates[1]["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        templates[1]["spec"]["volumeMode"] = json!("Block");
        templates[1]["spec"]["selector"] = json!({"matchLabels": {"disk": "ssd"}});
    });
    let p = "spec.volumeClaimTemplates[1].spec";
    let shrink = format!(
        "{p}.resources.requests.storage: Invalid value: \"100Mi\": may not be less than the previous value 500Mi; {TEMPLATE_RULE}"
    );
    let class = format!(
        "{p}.storageClassName: Invalid value: \"fast\": field is immutable; {TEMPLATE_RULE}"
    );
    let modes = format!(
        "{p}.accessModes: Invalid value: []string{{\"ReadWriteMany\"}}: field is immutable; {TEMPLATE_RULE}"
    );
    let mode =
        format!("{p}.volumeMode: Invalid value: \"Block\": field is immutable; {TEMPLATE_RULE}");
    let selector = format!(
        "{p}.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string{{\"disk\":\"ssd\"}}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: field is immutable; {TEMPLATE_RULE}"
    );
    expect(
        validate_update(r, &old, &new, false),
        &[
            (&shrink, "FieldValueInvalid"),
            (&class, "FieldValueInvalid"),
            (&modes, "FieldValueInvalid"),
            (&mode, "FieldValueInvalid"),
            (&selector, "FieldValueInvalid"),
        ],
    );
    // No class is not the default class.
    let old = sts(|_| {});
    let no_class = sts_edited(&old, |s| {
        s["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = json!("");
    });
    let class = format!(
        "spec.volumeClaimTemplates[0].spec.storageClassName: Invalid value: \"\": field is immutable; {TEMPLATE_RULE}"
    );
    expect(
        validate_update(r, &old, &no_class, false),
        &[(&class, "FieldValueInvalid")],
    );
    // Nor may the request go.
    let gone = sts_edited(&old, |s| {
        s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"] = json!({});
    });
    let required = format!(
        "spec.volumeClaimTemplates[0].spec.resources.requests.storage: Required value: may not be removed; {TEMPLATE_RULE}"
    );
    expect(
        validate_update(r, &old, &gone, false),
        &[(&required, "FieldValueRequired")],
    );
}

#[test]
fn claim_templates_may_not_be_removed_or_renamed() {
    let r = res("apps", "statefulsets");
    let old = sts_with_logs();
    let removed = sts_edited(&old, |s| {
        s["spec"]["volumeClaimTemplates"]
            .as_array_mut()
            .unwrap()
            .remove(1);
    });
    let gone = |name: &str| {
        format!(
            "spec.volumeClaimTemplates: Forbidden: may not remove or rename volumeClaimTemplate \"{name}\": volumeClaimTemplates may be added; {TEMPLATE_RULE}"
        )
    };
    expect(
        validate_update(r, &old, &removed, false),
        &[(&gone("logs"), "FieldValueForbidden")],
    );
    let renamed = sts_edited(&old, |s| {
        s["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = json!("store");
    });
    expect(
        validate_update(r, &old, &renamed, false),
        &[(&gone("data"), "FieldValueForbidden")],
    );
}

#[test]
fn other_claim_template_changes_stay_forbidden_with_upstreams_message() {
    let r = res("apps", "statefulsets");
    let old = sts(|_| {});
    let forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    let edits: [fn(&mut Value); 3] = [
        |s| {
            s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["limits"] =
                json!({"storage": "5Gi"})
        },
        |s| {
            s["spec"]["volumeClaimTemplates"][0]["spec"]["dataSource"] =
                json!({"kind": "PersistentVolumeClaim", "name": "seed"})
        },
        |s| s["spec"]["volumeClaimTemplates"][0]["metadata"]["finalizers"] = json!(["keep"]),
    ];
    for edit in edits {
        let new = sts_edited(&old, edit);
        expect(
            validate_update(r, &old, &new, false),
            &[(forbidden, "FieldValueForbidden")],
        );
    }
    // A growing template does not hide a forbidden change beside it.
    let both = sts_edited(&old, |s| {
        s["spec"]["serviceName"] = json!("other");
        s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
            json!("3Gi");
    });
    expect(
        validate_update(r, &old, &both, false),
        &[(forbidden, "FieldValueForbidden")],
    );
}

#[test]
fn statefulset_status_updates_are_consistent() {
    let r = res("apps", "statefulsets");
    let mut old = sts(|_| {});
    old["status"] = json!({"replicas": 2, "collisionCount": 2});
    let mut new = old.clone();
    new["status"] = json!({"replicas": 2, "readyReplicas": 3, "availableReplicas": 1, "updatedReplicas": -1, "collisionCount": 1});
    expect(
        validate_update(r, &old, &new, true),
        &[
            (
                "status.updatedReplicas: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas",
                "FieldValueInvalid",
            ),
            (
                "status.collisionCount: Invalid value: 1: cannot be decremented",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut available = old.clone();
    available["status"] =
        json!({"replicas": 3, "readyReplicas": 1, "availableReplicas": 2, "collisionCount": 2});
    expect(
        validate_update(r, &old, &available, true),
        &[(
            "status.availableReplicas: Invalid value: 2: cannot be greater than status.readyReplicas",
            "FieldValueInvalid",
        )],
    );
}

fn svc(spec: Value) -> Value {
    defaulted(
        res("", "services"),
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}),
    )
}

#[test]
fn services_are_checked() {
    let r = res("", "services");
    expect(
        validate_create(
            r,
            &svc(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]})),
        ),
        &[],
    );
    expect(
        validate_create(
            r,
            &svc(json!({"clusterIP": "None", "selector": {"app": "web"}})),
        ),
        &[],
    );
    expect(
        validate_create(r, &svc(json!({}))),
        &[("spec.ports: Required value", "FieldValueRequired")],
    );
    expect(
        validate_create(
            r,
            &svc(json!({"type": "Magic", "sessionAffinity": "Sticky",
            "ports": [{"port": 80, "nodePort": 30080}, {"name": "http", "port": 0, "targetPort": "HTTP"}, {"name": "http", "port": 80}]})),
        ),
        &[
            (
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "FieldValueNotSupported",
            ),
            ("spec.ports[0].name: Required value", "FieldValueRequired"),
            (
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "FieldValueInvalid",
            ),
            (
                "spec.ports[1].targetPort: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "FieldValueInvalid",
            ),
            (
                "spec.ports[1].targetPort: Invalid value: \"HTTP\": must contain at least one letter (a-z)",
                "FieldValueInvalid",
            ),
            (
                "spec.ports[2].name: Duplicate value: \"http\"",
                "FieldValueDuplicate",
            ),
            (
                "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                "FieldValueDuplicate",
            ),
            (
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
                "FieldValueNotSupported",
            ),
        ],
    );
    expect(
        validate_create(
            r,
            &svc(
                json!({"ports": [{"port": 80, "nodePort": 30080}], "clusterIP": "10.0.0.300",
                                         "externalTrafficPolicy": "Local"}),
            ),
        ),
        &[
            (
                "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                "FieldValueForbidden",
            ),
            (
                "spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "FieldValueInvalid",
            ),
            (
                "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
                "FieldValueInvalid",
            ),
        ],
    );
    expect(
        validate_create(
            r,
            &svc(json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]})),
        ),
        &[(
            "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
            "FieldValueInvalid",
        )],
    );
    expect(
        validate_create(r, &svc(json!({"type": "ExternalName"}))),
        &[("spec.externalName: Required value", "FieldValueRequired")],
    );
}

#[test]
fn service_cluster_ips_may_not_change_once_set() {
    let r = res("", "services");
    let old = svc(json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}));
    let mut moved = old.clone();
    moved["spec"]["clusterIP"] = json!("10.96.0.11");
    moved["spec"]["clusterIPs"] = json!(["10.96.0.11"]);
    expect(
        validate_update(r, &old, &moved, false),
        &[(
            "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set",
            "FieldValueInvalid",
        )],
    );
    let mut to_node_port = old.clone();
    to_node_port["spec"]["type"] = json!("NodePort");
    to_node_port["spec"]["externalTrafficPolicy"] = json!("Cluster");
    expect(validate_update(r, &old, &to_node_port, false), &[]);
    let mut status = old.clone();
    status["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3"}]}});
    expect(
        validate_update(r, &old, &status, true),
        &[(
            "status.loadBalancer.ingress[0].ip: Invalid value: \"1.2.3\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "FieldValueInvalid",
        )],
    );
}

fn claim(spec: Value) -> Value {
    defaulted(
        res("", "persistentvolumeclaims"),
        json!({"metadata": {"name": "data", "namespace": "default"}, "spec": spec}),
    )
}

#[test]
fn claims_need_access_modes_and_a_size() {
    let r = res("", "persistentvolumeclaims");
    expect(
        validate_create(
            r,
            &claim(
                json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
            ),
        ),
        &[],
    );
    expect(
        validate_create(r, &claim(json!({}))),
        &[
            (
                "spec.accessModes: Required value: at least 1 access mode is required",
                "FieldValueRequired",
            ),
            (
                "spec.resources[storage]: Required value",
                "FieldValueRequired",
            ),
        ],
    );
    expect(
        validate_create(
            r,
            &claim(
                json!({"accessModes": ["ReadWriteSometimes", "ReadWriteOncePod"],
            "resources": {"requests": {"storage": "0"}}, "storageClassName": "Fast_SSD", "volumeMode": "Raw"}),
            ),
        ),
        &[
            (
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
                "FieldValueInvalid",
            ),
            (
                "spec.storageClassName: Invalid value: \"Fast_SSD\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "FieldValueInvalid",
            ),
            (
                "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
                "FieldValueNotSupported",
            ),
        ],
    );
    expect(
        validate_create(
            r,
            &claim(
                json!({"accessModes": ["ReadWriteOnce", "ReadWriteOncePod"], "resources": {"requests": {"storage": "1Gi"}}}),
            ),
        ),
        &[(
            "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
            "FieldValueForbidden",
        )],
    );
}

#[test]
fn claim_specs_are_immutable_except_growth_of_bound_claims() {
    let r = res("", "persistentvolumeclaims");
    let old = claim(
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
    );
    let mut modes = old.clone();
    modes["spec"]["accessModes"] = json!(["ReadWriteMany"]);
    let errs = validate_update(r, &old, &modes, false);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        (errs[0].field.as_str(), errs[0].reason()),
        ("spec", "FieldValueForbidden")
    );
    assert!(errs[0].to_string().starts_with(
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
    ));
    assert!(
        errs[0]
            .detail
            .contains("-     \"ReadWriteOnce\"\n+     \"ReadWriteMany\""),
        "{}",
        errs[0].detail
    );

    let mut pending_grow = old.clone();
    pending_grow["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    assert_eq!(
        validate_update(r, &old, &pending_grow, false).len(),
        1,
        "unbound claims cannot grow"
    );

    let mut bound = old.clone();
    bound["status"] = json!({"phase": "Bound", "capacity": {"storage": "1Gi"}});
    let mut grow = bound.clone();
    grow["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    expect(validate_update(r, &bound, &grow, false), &[]);
    let mut shrink = bound.clone();
    shrink["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
    expect(
        validate_update(r, &bound, &shrink, false),
        &[(
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity",
            "FieldValueForbidden",
        )],
    );
    let mut classed = old.clone();
    classed["spec"]["storageClassName"] = json!("standard");
    expect(validate_update(r, &old, &classed, false), &[]);
    let mut reclassed = classed.clone();
    reclassed["spec"]["storageClassName"] = json!("fast");
    assert_eq!(validate_update(r, &classed, &reclassed, false).len(), 1);
    let mut block = old.clone();
    block["spec"]["volumeMode"] = json!("Block");
    let errs = rendered(&validate_update(r, &old, &block, false));
    assert_eq!(
        errs[1],
        (
            "volumeMode: Invalid value: \"Block\": field is immutable".to_string(),
            "FieldValueInvalid"
        )
    );
}

fn volume(spec: Value) -> Value {
    defaulted(
        res("", "persistentvolumes"),
        json!({"metadata": {"name": "pv-1"}, "spec": spec}),
    )
}

#[test]
fn volumes_need_capacity_modes_and_one_source() {
    let r = res("", "persistentvolumes");
    let good = json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}});
    expect(validate_create(r, &volume(good.clone())), &[]);
    expect(
        validate_create(r, &volume(json!({}))),
        &[
            ("spec.accessModes: Required value", "FieldValueRequired"),
            ("spec.capacity: Required value", "FieldValueRequired"),
            (
                "spec: Required value: must specify a volume type",
                "FieldValueRequired",
            ),
        ],
    );
    expect(
        validate_create(
            r,
            &volume(
                json!({"capacity": {"storage": "-1"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Shred", "hostPath": {"path": "/d"}, "local": {"path": "/d"}}),
            ),
        ),
        &[
            (
                "spec.capacity[storage]: Invalid value: \"-1\": must be greater than zero",
                "FieldValueInvalid",
            ),
            (
                "spec.persistentVolumeReclaimPolicy: Unsupported value: \"Shred\": supported values: \"Delete\", \"Recycle\", \"Retain\"",
                "FieldValueNotSupported",
            ),
            (
                "spec.local: Forbidden: may not specify more than 1 volume type",
                "FieldValueForbidden",
            ),
        ],
    );
    expect(
        validate_create(
            r,
            &volume(
                json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "local": {"path": "/d"}}),
            ),
        ),
        &[(
            "spec.nodeAffinity: Required value: Local volume requires node affinity",
            "FieldValueRequired",
        )],
    );
    let old = volume(good);
    let mut resized = old.clone();
    resized["spec"]["capacity"]["storage"] = json!("2Gi");
    resized["spec"]["persistentVolumeReclaimPolicy"] = json!("Delete");
    expect(validate_update(r, &old, &resized, false), &[]);
    let mut moved = old.clone();
    moved["spec"]["hostPath"]["path"] = json!("/elsewhere");
    let errs = validate_update(r, &old, &moved, false);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].field.as_str(), errs[0].reason()),
        ("spec.persistentvolumesource", "FieldValueForbidden")
    );
    assert!(
        errs[0]
            .detail
            .starts_with("spec.persistentvolumesource is immutable after creation\n")
    );
}

fn class(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = json!({"metadata": {"name": "standard"}, "provisioner": "ordinal.dev/hostpath", "parameters": {"root": "/var/lib"}});
    edit(&mut v);
    defaulted(res("storage.k8s.io", "storageclasses"), v)
}

#[test]
fn storage_classes_are_checked_and_mostly_immutable() {
    let r = res("storage.k8s.io", "storageclasses");
    expect(validate_create(r, &class(|_| {})), &[]);
    expect(
        validate_create(
            r,
            &class(|c| {
                c.as_object_mut().unwrap().remove("provisioner");
                c["reclaimPolicy"] = json!("Recycle");
                c["volumeBindingMode"] = json!("Later");
                c["parameters"] = json!({"": "x"});
            }),
        ),
        &[
            ("provisioner: Required value", "FieldValueRequired"),
            (
                "parameters: Invalid value: \"\": field can not be empty.",
                "FieldValueInvalid",
            ),
            (
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "FieldValueNotSupported",
            ),
            (
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
                "FieldValueNotSupported",
            ),
        ],
    );
    let old = class(|_| {});
    let new = class(|c| {
        c["provisioner"] = json!("example.com/other");
        c["parameters"] = json!({"root": "/srv"});
        c["reclaimPolicy"] = json!("Retain");
        c["volumeBindingMode"] = json!("WaitForFirstConsumer");
        c["allowVolumeExpansion"] = json!(true);
    });
    expect(
        validate_update(r, &old, &new, false),
        &[
            (
                "parameters: Forbidden: updates to parameters are forbidden.",
                "FieldValueForbidden",
            ),
            (
                "provisioner: Forbidden: updates to provisioner are forbidden.",
                "FieldValueForbidden",
            ),
            (
                "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
                "FieldValueForbidden",
            ),
            (
                "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable",
                "FieldValueInvalid",
            ),
        ],
    );
    let expandable = class(|c| c["allowVolumeExpansion"] = json!(true));
    expect(validate_update(r, &old, &expandable, false), &[]);
}

#[test]
fn config_maps_and_secrets_are_checked() {
    let cm = res("", "configmaps");
    expect(
        validate_create(
            cm,
            &json!({"data": {"a b": "1", "..x": "2", "ok": "3"}, "binaryData": {"ok": "AA=="}}),
        ),
        &[
            (
                "data[..x]: Invalid value: \"..x\": must not start with '..'",
                "FieldValueInvalid",
            ),
            (
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "FieldValueInvalid",
            ),
            (
                "data[ok]: Invalid value: \"ok\": duplicate of key present in binaryData",
                "FieldValueInvalid",
            ),
        ],
    );
    let old = json!({"data": {"a": "1"}, "immutable": true});
    expect(
        validate_update(cm, &old, &json!({"data": {"a": "2"}}), false),
        &[
            (
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "FieldValueForbidden",
            ),
            (
                "data: Forbidden: field is immutable when `immutable` is set",
                "FieldValueForbidden",
            ),
        ],
    );
    expect(
        validate_update(
            cm,
            &json!({"data": {"a": "1"}}),
            &json!({"data": {"a": "2"}}),
            false,
        ),
        &[],
    );
    let secrets = res("", "secrets");
    expect(
        validate_create(
            secrets,
            &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "AA=="}}),
        ),
        &[("data[tls.key]: Required value", "FieldValueRequired")],
    );
    expect(
        validate_update(
            secrets,
            &json!({"type": "Opaque"}),
            &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
            false,
        ),
        &[(
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
            "FieldValueInvalid",
        )],
    );
}

#[test]
fn leases_endpoints_slices_and_revisions_are_checked() {
    expect(
        validate_create(
            res("coordination.k8s.io", "leases"),
            &json!({"spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}),
        ),
        &[
            (
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "FieldValueInvalid",
            ),
            (
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
        ],
    );
    let ep = res("", "endpoints");
    expect(
        validate_create(
            ep,
            &defaulted(
                ep,
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
            ),
        ),
        &[],
    );
    expect(
        validate_create(
            ep,
            &defaulted(
                ep,
                json!({"subsets": [{"ports": [{"port": 80}, {"port": 81}]}]}),
            ),
        ),
        &[
            (
                "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
                "FieldValueRequired",
            ),
            (
                "subsets[0].ports[0].name: Required value",
                "FieldValueRequired",
            ),
            (
                "subsets[0].ports[1].name: Required value",
                "FieldValueRequired",
            ),
        ],
    );
    let slices = res("discovery.k8s.io", "endpointslices");
    let slice = defaulted(
        slices,
        json!({"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}),
    );
    expect(validate_create(slices, &slice), &[]);
    expect(
        validate_create(
            slices,
            &json!({"addressType": "IPv5", "endpoints": [{"addresses": []}]}),
        ),
        &[
            (
                "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
                "FieldValueNotSupported",
            ),
            (
                "endpoints[0].addresses: Required value: must contain at least 1 address",
                "FieldValueRequired",
            ),
        ],
    );
    let mut v6 = slice.clone();
    v6["addressType"] = json!("IPv6");
    v6["endpoints"] = json!([{"addresses": ["::1"]}]);
    expect(
        validate_update(slices, &slice, &v6, false),
        &[(
            "addressType: Invalid value: \"IPv6\": field is immutable",
            "FieldValueInvalid",
        )],
    );
    let revisions = res("apps", "controllerrevisions");
    expect(
        validate_create(revisions, &json!({"revision": -1})),
        &[
            (
                "data: Required value: data is mandatory",
                "FieldValueRequired",
            ),
            (
                "revision: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
        ],
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..70000).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "Always",
            "Never",
            "None",
            "ClusterIP",
            "NodePort",
            "ExternalName",
            "TCP",
            "In",
            "RollingUpdate",
            "OnDelete",
            "nginx",
            "1Gi",
            "-1",
            "50%",
            "x=y",
            "10.0.0.1",
            "Bound",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
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
                    "metadata",
                    "labels",
                    "updateStrategy",
                    "rollingUpdate",
                    "maxUnavailable",
                    "clusterIP",
                    "clusterIPs",
                    "selector",
                    "matchLabels",
                    "matchExpressions",
                    "operator",
                    "values",
                    "resources",
                    "limits",
                    "requests",
                    "storage",
                    "livenessProbe",
                    "httpGet",
                    "exec",
                    "image",
                    "name",
                    "port",
                    "targetPort",
                    "nodePort",
                    "hostPath",
                    "path",
                    "env",
                    "valueFrom",
                    "fieldRef",
                    "fieldPath",
                    "tolerations",
                    "key",
                    "effect",
                    "accessModes",
                    "capacity",
                    "data",
                    "addressType",
                    "endpoints",
                    "addresses",
                    "subsets",
                    "phase",
                    "containerStatuses",
                    "state",
                    "terminated",
                    "podIPs",
                    "ip",
                    "replicas",
                ])
                .prop_map(str::to_string),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn validation_never_panics(old in arb_json(), new in arb_json(), spec in arb_json(), status_only in any::<bool>()) {
        let shaped = json!({"metadata": {"name": "x"}, "spec": spec.clone(), "status": spec});
        for r in crate::resources::RESOURCES {
            for v in [&new, &shaped] {
                let mut d = v.clone();
                defaults::apply(r, &mut d, &Context::create(Some("standard".into())));
                let _ = validate_create(r, &d);
                let _ = validate_update(r, &old, &d, status_only);
                let _ = validate_update(r, &d, &old, status_only);
            }
        }
    }
}

#[test]
fn the_binder_may_name_a_claims_volume_once() {
    let r = res("", "persistentvolumeclaims");
    let old = claim(
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
    );
    let mut named = old.clone();
    named["spec"]["volumeName"] = json!("pv-1");
    expect(validate_update(r, &old, &named, false), &[]);
    let mut renamed = named.clone();
    renamed["spec"]["volumeName"] = json!("pv-2");
    assert_eq!(validate_update(r, &named, &renamed, false).len(), 1);
}

#[test]
fn local_volume_paths_must_not_step_back() {
    let r = res("", "persistentvolumes");
    let pv = json!({"metadata": {"name": "pv"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
        "local": {"path": "/mnt/../etc"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n"]}]}]}}}});
    expect(
        validate_create(r, &pv),
        &[(
            "spec.local.path: Invalid value: \"/mnt/../etc\": must not contain '..'",
            "FieldValueInvalid",
        )],
    );
}

fn runtime_class(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                       "metadata": {"name": "host"}, "handler": "host"});
    edit(&mut v);
    defaulted(res("node.k8s.io", "runtimeclasses"), v)
}

#[test]
fn a_runtime_class_handler_is_a_dns_label() {
    let r = res("node.k8s.io", "runtimeclasses");
    expect(validate_create(r, &runtime_class(|_| {})), &[]);
    for bad in ["Host", "", "-x"] {
        expect(
            validate_create(r, &runtime_class(|c| c["handler"] = json!(bad))),
            &[(
                &format!("handler: Invalid value: \"{bad}\": {LABEL_ERR}"),
                "FieldValueInvalid",
            )],
        );
    }
    expect(
        validate_create(r, &runtime_class(|c| c["handler"] = json!("run.c"))),
        &[(
            "handler: Invalid value: \"run.c\": must not contain dots",
            "FieldValueInvalid",
        )],
    );
    // Missing reads as empty, as Go's zero value does.
    expect(
        validate_create(
            r,
            &runtime_class(|c| {
                c.as_object_mut().unwrap().remove("handler");
            }),
        ),
        &[(
            &format!("handler: Invalid value: \"\": {LABEL_ERR}"),
            "FieldValueInvalid",
        )],
    );
}

#[test]
fn a_runtime_class_overhead_is_checked_as_container_limits() {
    let r = res("node.k8s.io", "runtimeclasses");
    expect(
        validate_create(
            r,
            &runtime_class(|c| {
                c["overhead"] = json!({"podFixed": {"cpu": "250m", "memory": "120Mi"}})
            }),
        ),
        &[],
    );
    expect(
        validate_create(
            r,
            &runtime_class(|c| {
                c["overhead"] = json!({"podFixed": {"cpu": "-1", "pods": "1", "memory": "lots"}})
            }),
        ),
        &[
            (
                "overhead.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                "overhead.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                "FieldValueInvalid",
            ),
            (
                "overhead.limits[pods]: Invalid value: \"pods\": must be a standard resource for containers",
                "FieldValueInvalid",
            ),
        ],
    );
}

#[test]
fn a_runtime_class_schedules_with_valid_labels_and_unique_tolerations() {
    let r = res("node.k8s.io", "runtimeclasses");
    let ok = runtime_class(|c| {
        c["scheduling"] = json!({
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [
                {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "sandbox", "operator": "Exists", "effect": "NoExecute"},
            ],
        })
    });
    expect(validate_create(r, &ok), &[]);
    let bad = runtime_class(|c| {
        c["scheduling"] = json!({
            "nodeSelector": {"bad key": "x"},
            "tolerations": [
                {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5},
            ],
        })
    });
    let got = rendered(&validate_create(r, &bad));
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0]
            .0
            .starts_with("scheduling.nodeSelector: Invalid value: \"bad key\": ")
    );
    assert_eq!(
        got[1],
        (
            "scheduling.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set".to_string(),
            "FieldValueInvalid"
        )
    );
    assert_eq!(
        got[2],
        (
            "scheduling.tolerations[1]: Duplicate value: core.Toleration{Key:\"sandbox\", Operator:\"Exists\", Value:\"\", Effect:\"NoSchedule\", TolerationSeconds:(*int64)(5)}".to_string(),
            "FieldValueDuplicate"
        )
    );
}

#[test]
fn a_runtime_class_handler_never_changes() {
    let r = res("node.k8s.io", "runtimeclasses");
    let old = runtime_class(|_| {});
    let relabelled = runtime_class(|c| c["metadata"]["labels"] = json!({"a": "b"}));
    expect(validate_update(r, &old, &relabelled, false), &[]);
    let moved = runtime_class(|c| c["handler"] = json!("runc"));
    expect(
        validate_update(r, &old, &moved, false),
        &[(
            "handler: Invalid value: \"runc\": field is immutable",
            "FieldValueInvalid",
        )],
    );
    // The new object is validated in full too.
    let broken = runtime_class(|c| c["handler"] = json!("Runc"));
    assert_eq!(validate_update(r, &old, &broken, false).len(), 2);
}

#[test]
fn a_pod_names_a_runtime_class_and_its_overhead_validly() {
    let base = || json!({"containers": [web()]});
    let mut spec = base();
    spec["runtimeClassName"] = json!("host");
    spec["overhead"] = json!({"cpu": "100m"});
    expect(pod_errors(spec), &[]);
    let mut spec = base();
    spec["runtimeClassName"] = json!("Not_Valid");
    spec["overhead"] = json!({"memory": "-5"});
    let got = rendered(&pod_errors(spec));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].0.starts_with(
        "spec.runtimeClassName: Invalid value: \"Not_Valid\": a lowercase RFC 1123 subdomain"
    ));
    assert_eq!(
        got[1].0,
        "spec.overhead.limits[memory]: Invalid value: \"-5\": must be greater than or equal to 0"
    );
}
