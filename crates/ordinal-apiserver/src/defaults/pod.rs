//! Pod and pod-spec defaults (`SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! containers, probes, volumes), the service-account field mirroring of the
//! v1 conversion, and what admission and the pod registry add on create.

use serde_json::{Map, Value, json};

use super::Context;
use super::image::default_pull_policy;
use crate::lenient::{
    absent, default_nonzero, default_ptr, default_str, empty_str, ensure_obj, obj_mut, objs_mut,
};
use crate::quantity;

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// DefaultTolerationSeconds' default for both taints.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Every field of a `VolumeSource`: a volume naming none gets an emptyDir.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// A Pod: pod-only defaults, the spec's, then on create the admission
/// plugins and the initial status.
pub(crate) fn pod(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    pod_only(spec);
    pod_spec(spec);
    if ctx.creating() {
        // ServiceAccount admission: every pod runs as some account.
        if empty_str(spec, "serviceAccountName") && empty_str(spec, "serviceAccount") {
            spec.insert("serviceAccountName".into(), json!("default"));
        }
        mirror_service_account(spec);
        priority(spec);
    }
    default_tolerations(spec);
    if ctx.creating() {
        let qos = qos_class(spec);
        if let Some(status) = ensure_obj(root, "status") {
            default_str(status, "phase", "Pending");
            status.insert("qosClass".into(), json!(qos));
        }
    }
}

/// `SetDefaults_Pod`: what only pods (not templates) get. A negative
/// `terminationGracePeriodSeconds` becomes 1, as upstream's pod strategy
/// has done since 1.27 (a negative period used to mean "kill at once"
/// to some kubelets and "wait forever" to others).
fn pod_only(spec: &mut Map<String, Value>) {
    if spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|g| g < 0)
    {
        spec.insert("terminationGracePeriodSeconds".into(), json!(1));
    }
    for key in ["containers", "initContainers"] {
        for c in objs_mut(spec, key) {
            requests_from_limits(c);
        }
    }
    default_ptr(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&json!(true)) {
        for key in ["containers", "initContainers"] {
            for c in objs_mut(spec, key) {
                for port in objs_mut(c, "ports") {
                    if let Some(cp) = port.get("containerPort").cloned()
                        && cp.is_i64()
                    {
                        default_nonzero_value(port, "hostPort", cp);
                    }
                }
            }
        }
    }
}

fn default_nonzero_value(map: &mut Map<String, Value>, key: &str, value: Value) {
    let unset = match map.get(key) {
        None | Some(Value::Null) => true,
        Some(v) => v.as_i64() == Some(0),
    };
    if unset {
        map.insert(key.to_string(), value);
    }
}

/// A container with limits but no request for a resource requests what it
/// is limited to.
fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(limits) = container
        .get("resources")
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    let Some(resources) = obj_mut(container, "resources") else {
        return;
    };
    let Some(requests) = ensure_obj(resources, "requests") else {
        return;
    };
    for (name, value) in limits {
        requests.entry(name).or_insert(value);
    }
}

/// `SetDefaults_PodSpec` and everything nested: the defaults every pod
/// spec gets, in pods and in templates alike.
pub(super) fn pod_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for volume in objs_mut(spec, "volumes") {
        volume_defaults(volume);
    }
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for c in objs_mut(spec, key) {
            container(c);
        }
    }
    mirror_service_account(spec);
}

/// The v1 conversion reads the deprecated `serviceAccount` when
/// `serviceAccountName` is empty, and always writes it back as a copy.
fn mirror_service_account(spec: &mut Map<String, Value>) {
    let name = match (spec.get("serviceAccountName"), spec.get("serviceAccount")) {
        (Some(Value::String(n)), _) if !n.is_empty() => n.clone(),
        (None | Some(Value::Null) | Some(Value::String(_)), Some(Value::String(d)))
            if !d.is_empty() =>
        {
            d.clone()
        }
        _ => return,
    };
    spec.insert("serviceAccountName".into(), json!(name));
    spec.insert("serviceAccount".into(), json!(name));
}

/// The Priority admission plugin, in a cluster with no default
/// PriorityClass: the built-in system classes have their fixed values,
/// everything else without a class gets priority 0.
fn priority(spec: &mut Map<String, Value>) {
    let value = match spec.get("priorityClassName") {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) if s.is_empty() => 0,
        Some(Value::String(s)) if s == "system-node-critical" => 2_000_001_000,
        Some(Value::String(s)) if s == "system-cluster-critical" => 2_000_000_000,
        _ => return,
    };
    default_ptr(spec, "priority", json!(value));
    default_str(spec, "preemptionPolicy", "PreemptLowerPriority");
}

/// The DefaultTolerationSeconds admission plugin: tolerate a not-ready or
/// unreachable node for five minutes unless the pod already says otherwise.
fn default_tolerations(spec: &mut Map<String, Value>) {
    let existing = match spec.get("tolerations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return,
    };
    let tolerates = |taint: &str| {
        existing.iter().any(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let mut added = existing.clone();
    for taint in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        if !tolerates(taint) {
            added.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
    if added.len() != existing.len() {
        spec.insert("tolerations".into(), Value::Array(added));
    }
}

/// The pod's QoS class (`qos.GetPodQOS`): BestEffort without any positive
/// CPU or memory request or limit; Guaranteed when every container limits
/// both and the pod's summed requests equal its summed limits; Burstable
/// otherwise.
pub(super) fn qos_class(spec: &Map<String, Value>) -> &'static str {
    use std::collections::BTreeMap;
    let containers = ["containers", "initContainers"].into_iter().flat_map(|k| {
        spec.get(k)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    });
    let mut requests: BTreeMap<&str, ordinal_core::quantity::Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, ordinal_core::quantity::Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    for c in containers {
        let positive = |kind: &str, name: &str| {
            c.get("resources")
                .and_then(|r| r.get(kind))
                .and_then(|m| m.get(name))
                .and_then(quantity::from_json)
                .filter(|q| q.is_positive())
        };
        let mut limited = 0;
        for name in ["cpu", "memory"] {
            if let Some(q) = positive("requests", name) {
                let sum = requests.entry(name).or_default();
                *sum = sum.plus(q);
            }
            if let Some(q) = positive("limits", name) {
                limited += 1;
                let sum = limits.entry(name).or_default();
                *sum = sum.plus(q);
            }
        }
        guaranteed &= limited == 2;
    }
    if requests.is_empty() && limits.is_empty() {
        "BestEffort"
    } else if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(k, r)| limits.get(k) == Some(r))
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// `SetDefaults_Container` and the defaults of what a container holds.
fn container(c: &mut Map<String, Value>) {
    if empty_str(c, "imagePullPolicy") {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = default_pull_policy(image);
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    // `resources` is a struct, not a pointer: Go always writes it.
    ensure_obj(c, "resources");
    for port in objs_mut(c, "ports") {
        default_str(port, "protocol", "TCP");
    }
    for env in objs_mut(c, "env") {
        if let Some(field_ref) = obj_mut(env, "valueFrom").and_then(|v| obj_mut(v, "fieldRef")) {
            default_str(field_ref, "apiVersion", "v1");
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = obj_mut(c, probe) {
            probe_defaults(p);
        }
    }
    if let Some(lifecycle) = obj_mut(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = obj_mut(lifecycle, hook).and_then(|h| obj_mut(h, "httpGet")) {
                http_get(get);
            }
        }
    }
}

/// `SetDefaults_Probe` with its handler's defaults.
fn probe_defaults(p: &mut Map<String, Value>) {
    default_nonzero(p, "timeoutSeconds", 1);
    default_nonzero(p, "periodSeconds", 10);
    default_nonzero(p, "successThreshold", 1);
    default_nonzero(p, "failureThreshold", 3);
    if let Some(get) = obj_mut(p, "httpGet") {
        http_get(get);
    }
    if let Some(grpc) = obj_mut(p, "grpc") {
        default_ptr(grpc, "service", json!(""));
    }
}

/// `SetDefaults_HTTPGetAction`.
fn http_get(get: &mut Map<String, Value>) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// `SetDefaults_Volume` and the defaults of each volume source.
fn volume_defaults(v: &mut Map<String, Value>) {
    if VOLUME_SOURCES.iter().all(|s| absent(v, s)) {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(host_path) = obj_mut(v, "hostPath") {
        default_ptr(host_path, "type", json!(""));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = obj_mut(v, source) {
            default_ptr(s, "defaultMode", json!(420));
        }
    }
    if let Some(downward) = obj_mut(v, "downwardAPI") {
        downward_items(downward);
    }
    if let Some(projected) = obj_mut(v, "projected") {
        for source in objs_mut(projected, "sources") {
            if let Some(downward) = obj_mut(source, "downwardAPI") {
                downward_items(downward);
            }
            if let Some(token) = obj_mut(source, "serviceAccountToken") {
                default_ptr(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(spec) = obj_mut(v, "ephemeral")
        .and_then(|e| obj_mut(e, "volumeClaimTemplate"))
        .and_then(|t| ensure_obj(t, "spec"))
    {
        super::storage::claim_spec(spec);
    }
}

fn downward_items(downward: &mut Map<String, Value>) {
    for item in objs_mut(downward, "items") {
        if let Some(field_ref) = obj_mut(item, "fieldRef") {
            default_str(field_ref, "apiVersion", "v1");
        }
    }
}
