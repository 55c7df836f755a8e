//! Pod validation: the spec (`ValidatePodSpec`: volumes, containers, init
//! containers, policies, tolerations), what may change on update
//! (`ValidatePodUpdate`), and the status checks of `ValidatePodStatusUpdate`.

use std::collections::{BTreeMap, BTreeSet};

use ordinal_core::quantity::{self as grammar, Quantity};
use serde_json::{Value, json};

use super::common::{
    self, NON_NEGATIVE, Path, dns_label, dns_subdomain, labels, non_negative, port_name_errors,
    port_num_errors, port_num_or_name,
};
use super::diff::json_diff;
use crate::lenient::{int, list, str_at, string};
use crate::names::{self, BadValue, FieldError, go_quote};
use crate::quantity;

const MAX_INT32: i64 = 2_147_483_647;
const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const INIT_ONLY_ALWAYS: &str = "may not be set for init containers without restartPolicy=Always";

/// The fields a pod update may change, as upstream lists them.
pub const UPDATABLE_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodCreate` without the metadata.
pub fn validate_pod(pod: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    validate_pod_spec(spec, &path, &mut errs);
    if !list(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !string(spec, "nodeName").is_empty() && !list(spec, "schedulingGates").is_empty() {
        errs.push(FieldError::forbidden(
            path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

/// `ValidatePodSpec`.
pub fn validate_pod_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let volumes = validate_volumes(list(spec, "volumes"), &path.child("volumes"), errs);
    let containers = list(spec, "containers");
    let containers_path = path.child("containers");
    if containers.is_empty() {
        errs.push(FieldError::required(&containers_path, ""));
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = containers_path.index(i);
        validate_container_common(c, &volumes, &p, errs);
        let name = string(c, "name");
        if !names.insert(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        }
        validate_container_probes(c, &p, errs);
        if c.get("restartPolicy").is_some_and(|v| !v.is_null()) {
            errs.push(FieldError::forbidden(
                p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let init_path = path.child("initContainers");
    for (i, c) in list(spec, "initContainers").iter().enumerate() {
        let p = init_path.index(i);
        validate_container_common(c, &volumes, &p, errs);
        let mut restart_always = false;
        if let Some(policy) = c.get("restartPolicy").filter(|v| !v.is_null()) {
            restart_always = policy == "Always";
            if !restart_always {
                errs.push(FieldError::not_supported(
                    p.child("restartPolicy"),
                    BadValue::from_json(policy),
                    &["Always"],
                ));
            }
        }
        let name = string(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        if restart_always {
            validate_container_probes(c, &p, errs);
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if c.get(field).is_some_and(|v| !v.is_null()) {
                    errs.push(FieldError::forbidden(p.child(field), INIT_ONLY_ALWAYS));
                }
            }
        }
    }
    host_port_conflicts(containers, &containers_path, errs);
    enum_field(
        spec,
        "restartPolicy",
        &["Always", "OnFailure", "Never"],
        path,
        errs,
    );
    enum_field(
        spec,
        "dnsPolicy",
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        path,
        errs,
    );
    labels(spec.get("nodeSelector"), &path.child("nodeSelector"), errs);
    if string(spec, "dnsPolicy") == "None" {
        let nameservers = spec
            .get("dnsConfig")
            .map(|c| list(c, "nameservers").len())
            .unwrap_or(0);
        if spec.get("dnsConfig").is_none_or(Value::is_null) {
            errs.push(FieldError::required(
                path.child("dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
        } else if nameservers == 0 {
            errs.push(FieldError::required(
                path.child("dnsConfig").child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
        }
    }
    for (i, gate) in list(spec, "schedulingGates").iter().enumerate() {
        let name = string(gate, "name");
        for m in names::is_qualified_name(name) {
            errs.push(FieldError::invalid(
                path.child("schedulingGates").index(i).child("name"),
                name,
                m,
            ));
        }
    }
    for key in ["serviceAccountName", "nodeName"] {
        let value = string(spec, key);
        if !value.is_empty() {
            dns_subdomain(value, &path.child(key), errs);
        }
    }
    if let Some(v) = spec.get("activeDeadlineSeconds").filter(|v| !v.is_null()) {
        let n = v.as_i64().unwrap_or(0);
        if !(1..=MAX_INT32).contains(&n) {
            errs.push(FieldError::invalid(
                path.child("activeDeadlineSeconds"),
                BadValue::from_json(v),
                format!("must be between 1 and {MAX_INT32}, inclusive"),
            ));
        }
    }
    for key in ["hostname", "subdomain"] {
        let value = string(spec, key);
        if !value.is_empty() {
            dns_label(value, &path.child(key), errs);
        }
    }
    validate_tolerations(list(spec, "tolerations"), &path.child("tolerations"), errs);
    let class = string(spec, "priorityClassName");
    if !class.is_empty() {
        dns_subdomain(class, &path.child("priorityClassName"), errs);
    }
    // `ValidateRuntimeClassName`: set (even empty) means checked.
    if let Some(runtime_class) = spec.get("runtimeClassName").filter(|v| !v.is_null()) {
        let name = runtime_class.as_str().unwrap_or("");
        dns_subdomain(name, &path.child("runtimeClassName"), errs);
    }
    if let Some(policy) = spec.get("preemptionPolicy").filter(|v| !v.is_null())
        && policy != "PreemptLowerPriority"
        && policy != "Never"
    {
        errs.push(FieldError::not_supported(
            path.child("preemptionPolicy"),
            BadValue::from_json(policy),
            &["Never", "PreemptLowerPriority"],
        ));
    }
    super::node::validate_overhead(spec.get("overhead"), &path.child("overhead"), errs);
}

/// A required string field with a closed set of values.
fn enum_field(v: &Value, key: &str, valid: &[&str], path: &Path, errs: &mut Vec<FieldError>) {
    match v.get(key) {
        None | Some(Value::Null) => errs.push(FieldError::required(path.child(key), "")),
        Some(Value::String(s)) if s.is_empty() => {
            errs.push(FieldError::required(path.child(key), ""))
        }
        Some(Value::String(s)) if valid.contains(&s.as_str()) => {}
        Some(other) => errs.push(FieldError::not_supported(
            path.child(key),
            BadValue::from_json(other),
            valid,
        )),
    }
}

/// `ValidateVolumes`: returns the names of the valid volumes.
fn validate_volumes(
    volumes: &[Value],
    path: &Path,
    errs: &mut Vec<FieldError>,
) -> BTreeSet<String> {
    let mut valid = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let mut el = Vec::new();
        validate_volume_source(v, &p, &mut el);
        let name = string(v, "name");
        let name_path = p.child("name");
        if name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            dns_label(name, &name_path, &mut el);
        }
        if seen.contains(name) {
            el.push(FieldError::duplicate(&name_path, name));
        }
        if el.is_empty() {
            seen.insert(name.to_string());
            valid.insert(name.to_string());
        } else {
            errs.extend(el);
        }
    }
    valid
}

/// The volume sources in upstream's checking order.
const SOURCES_IN_ORDER: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

/// `validateVolumeSource`: exactly one source, and its own checks.
fn validate_volume_source(v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let mut count = 0;
    for source in SOURCES_IN_ORDER {
        let Some(s) = v.get(*source).filter(|s| !s.is_null()) else {
            continue;
        };
        let p = path.child(source);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match *source {
            "emptyDir" => {
                if let Some(limit) = s.get("sizeLimit").filter(|l| !l.is_null())
                    && quantity::from_json(limit).is_none_or(Quantity::is_negative)
                {
                    errs.push(FieldError::forbidden(
                        p.child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => host_path(s, &p, errs),
            "secret" => {
                required_str(s, "secretName", &p, errs);
                file_mode(s, "defaultMode", &p, errs);
                key_to_paths(s, &p, errs);
            }
            "configMap" => {
                required_str(s, "name", &p, errs);
                file_mode(s, "defaultMode", &p, errs);
                key_to_paths(s, &p, errs);
            }
            "persistentVolumeClaim" => required_str(s, "claimName", &p, errs),
            "downwardAPI" | "projected" => file_mode(s, "defaultMode", &p, errs),
            "nfs" => {
                required_str(s, "server", &p, errs);
                let nfs_path = string(s, "path");
                if nfs_path.is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                } else if !nfs_path.starts_with('/') {
                    errs.push(FieldError::invalid(
                        p.child("path"),
                        nfs_path,
                        "must be an absolute path",
                    ));
                }
            }
            "csi" => required_str(s, "driver", &p, errs),
            "ephemeral" if s.get("volumeClaimTemplate").is_none_or(Value::is_null) => {
                errs.push(FieldError::required(p.child("volumeClaimTemplate"), ""));
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
}

fn required_str(v: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if string(v, key).is_empty() {
        errs.push(FieldError::required(path.child(key), ""));
    }
}

fn file_mode(v: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(mode) = int(v, key)
        && !(0..=0o777).contains(&mode)
    {
        errs.push(FieldError::invalid(path.child(key), mode, FILE_MODE_ERROR));
    }
}

fn key_to_paths(v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for (i, item) in list(v, "items").iter().enumerate() {
        let p = path.child("items").index(i);
        required_str(item, "key", &p, errs);
        let item_path = string(item, "path");
        if item_path.is_empty() {
            errs.push(FieldError::required(p.child("path"), ""));
        } else {
            local_descending_path(item_path, &p.child("path"), errs);
        }
        file_mode(item, "mode", &p, errs);
    }
}

/// `validateLocalDescendingPath`: relative, without `..`.
fn local_descending_path(p: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    if p.split('/').any(|c| c == "..") {
        errs.push(FieldError::invalid(path, p, "must not contain '..'"));
    }
}

fn host_path(s: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let p = string(s, "path");
    if p.is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
        return;
    }
    if p.split('/').any(|c| c == "..") {
        errs.push(FieldError::invalid(
            path.child("path"),
            p,
            "must not contain '..'",
        ));
    }
    const TYPES: &[&str] = &[
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    if let Some(t) = s.get("type").filter(|t| !t.is_null())
        && !t.as_str().is_some_and(|t| TYPES.contains(&t))
    {
        errs.push(FieldError::not_supported(
            path.child("type"),
            BadValue::from_json(t),
            TYPES,
        ));
    }
}

/// `validateContainerCommon`.
fn validate_container_common(
    c: &Value,
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let name = string(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else {
        dns_label(name, &path.child("name"), errs);
    }
    let image = string(c, "image");
    if image.is_empty() {
        errs.push(FieldError::required(path.child("image"), ""));
    } else if image.trim() != image {
        errs.push(FieldError::invalid(
            path.child("image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    match c.get("terminationMessagePolicy") {
        Some(Value::String(s)) if s == "File" || s == "FallbackToLogsOnError" => {}
        None | Some(Value::Null) => errs.push(FieldError::required(
            path.child("terminationMessagePolicy"),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        Some(Value::String(s)) if s.is_empty() => errs.push(FieldError::required(
            path.child("terminationMessagePolicy"),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        Some(other) => errs.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            BadValue::from_json(other),
            &["File", "FallbackToLogsOnError"],
        )),
    }
    validate_ports(list(c, "ports"), &path.child("ports"), errs);
    validate_env(list(c, "env"), &path.child("env"), errs);
    validate_mounts(
        list(c, "volumeMounts"),
        volumes,
        &path.child("volumeMounts"),
        errs,
    );
    enum_field(
        c,
        "imagePullPolicy",
        &["Always", "IfNotPresent", "Never"],
        path,
        errs,
    );
    validate_resources(c.get("resources"), &path.child("resources"), errs);
}

/// `validateContainerPorts`.
fn validate_ports(ports: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = string(port, "name");
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(FieldError::invalid(p.child("name"), name, m));
                }
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
        }
        match int(port, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(p.child("containerPort"), "")),
            n => {
                if let Some(m) = port_num_errors(n) {
                    errs.push(FieldError::invalid(p.child("containerPort"), n, m));
                }
            }
        }
        if let Some(host) = int(port, "hostPort")
            && host != 0
            && let Some(m) = port_num_errors(host)
        {
            errs.push(FieldError::invalid(p.child("hostPort"), host, m));
        }
        protocol(port, &p, errs);
    }
}

/// A port's protocol: required, TCP, UDP or SCTP.
pub(super) fn protocol(port: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    match port.get("protocol") {
        Some(Value::String(s)) if ["SCTP", "TCP", "UDP"].contains(&s.as_str()) => {}
        None | Some(Value::Null) => errs.push(FieldError::required(path.child("protocol"), "")),
        Some(Value::String(s)) if s.is_empty() => {
            errs.push(FieldError::required(path.child("protocol"), ""))
        }
        Some(other) => errs.push(FieldError::not_supported(
            path.child("protocol"),
            BadValue::from_json(other),
            &["SCTP", "TCP", "UDP"],
        )),
    }
}

/// `checkHostPortConflicts` over the regular containers.
fn host_port_conflicts(containers: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut used = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        for (j, port) in list(c, "ports").iter().enumerate() {
            let host = int(port, "hostPort").unwrap_or(0);
            if host == 0 {
                continue;
            }
            let key = format!(
                "{}/{host}/{}",
                string(port, "hostIP"),
                string(port, "protocol")
            );
            if !used.insert(key) {
                errs.push(FieldError::duplicate(
                    path.index(i).child("ports").index(j),
                    format!("{host}/{}", string(port, "protocol")),
                ));
            }
        }
    }
}

/// Downward API fields a container's environment may read.
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field labels the downward API converts at all.
const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
    "spec.host",
];

/// `ValidateEnv`, with relaxed variable names.
fn validate_env(env: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, var) in env.iter().enumerate() {
        let p = path.index(i);
        let name = string(var, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        } else if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
            errs.push(FieldError::invalid(
                p.child("name"),
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        let Some(from) = var.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let fp = p.child("valueFrom");
        let mut sources = 0;
        if let Some(field_ref) = from.get("fieldRef").filter(|v| !v.is_null()) {
            sources += 1;
            field_selector(field_ref, &fp.child("fieldRef"), errs);
        }
        if from.get("resourceFieldRef").is_some_and(|v| !v.is_null()) {
            sources += 1;
            let r = &from["resourceFieldRef"];
            required_str(r, "resource", &fp.child("resourceFieldRef"), errs);
        }
        for key in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(sel) = from.get(key).filter(|v| !v.is_null()) {
                sources += 1;
                let sp = fp.child(key);
                for m in names::is_dns1123_subdomain(string(sel, "name")) {
                    errs.push(FieldError::invalid(
                        sp.child("name"),
                        string(sel, "name"),
                        m,
                    ));
                }
                let k = string(sel, "key");
                if k.is_empty() {
                    errs.push(FieldError::required(sp.child("key"), ""));
                } else {
                    for m in super::config::config_key_errors(k) {
                        errs.push(FieldError::invalid(sp.child("key"), k, m));
                    }
                }
            }
        }
        if sources == 0 {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !string(var, "value").is_empty() {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// `validateObjectFieldSelector` for environment variables.
fn field_selector(sel: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let api_version = string(sel, "apiVersion");
    let field_path = string(sel, "fieldPath");
    if api_version.is_empty() {
        errs.push(FieldError::required(path.child("apiVersion"), ""));
        return;
    }
    if field_path.is_empty() {
        errs.push(FieldError::required(path.child("fieldPath"), ""));
        return;
    }
    let convert_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else if let Some((base, _)) = split_subscript(field_path) {
        (!matches!(base, "metadata.annotations" | "metadata.labels"))
            .then(|| format!("field label does not support subscript: {field_path}"))
    } else if !CONVERTIBLE_FIELD_PATHS.contains(&field_path) {
        Some(format!("field label not supported: {field_path}"))
    } else {
        None
    };
    if let Some(e) = convert_error {
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            field_path,
            format!("error converting fieldPath: {e}"),
        ));
        return;
    }
    let field_path = if field_path == "spec.host" {
        "spec.nodeName"
    } else {
        field_path
    };
    if let Some((base, key)) = split_subscript(field_path) {
        let key = if base == "metadata.annotations" {
            key.to_lowercase()
        } else {
            key.to_string()
        };
        for m in names::is_qualified_name(&key) {
            errs.push(FieldError::invalid(path, key.as_str(), m));
        }
    } else if !ENV_FIELD_PATHS.contains(&field_path) {
        let mut supported = ENV_FIELD_PATHS.to_vec();
        supported.sort_unstable();
        errs.push(FieldError::not_supported(
            path.child("fieldPath"),
            field_path,
            &supported,
        ));
    }
}

/// `metadata.labels['key']` → `("metadata.labels", "key")`.
fn split_subscript(p: &str) -> Option<(&str, &str)> {
    let (base, rest) = p.split_once("['")?;
    let key = rest.strip_suffix("']")?;
    Some((base, key))
}

/// `ValidateVolumeMounts`.
fn validate_mounts(
    mounts: &[Value],
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut points = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = path.index(i);
        let name = string(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(FieldError::not_found(p.child("name"), name));
        }
        let mount_path = string(m, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(p.child("mountPath"), ""));
        }
        if !points.insert(mount_path) {
            errs.push(FieldError::invalid(
                p.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        let sub = string(m, "subPath");
        if !sub.is_empty() {
            local_descending_path(sub, &path.child("subPath"), errs);
        }
    }
}

fn native_resource(name: &str) -> bool {
    !name.contains('/') || name.starts_with("kubernetes.io/")
}

/// Requests above limits may be granted for everything but hugepages and
/// extended resources.
fn overcommit_allowed(name: &str) -> bool {
    native_resource(name) && !name.starts_with("hugepages-")
}

/// `ValidateContainerResourceRequirements`.
pub(super) fn validate_resources(
    resources: Option<&Value>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let Some(resources) = resources else {
        return;
    };
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let limits = common::obj_or_empty(resources, "limits");
    let requests = common::obj_or_empty(resources, "requests");
    let mut parsed_limits = BTreeMap::new();
    for (name, value) in limits {
        let p = limits_path.key(name);
        resource_name(name, &p, errs);
        if let Some(q) = resource_quantity(value, &p, errs) {
            parsed_limits.insert(name.as_str(), (q, quantity::text(value)));
        }
    }
    for (name, value) in requests {
        let p = requests_path.key(name);
        resource_name(name, &p, errs);
        let Some(q) = resource_quantity(value, &p, errs) else {
            continue;
        };
        match parsed_limits.get(name.as_str()) {
            Some((limit, text)) if q != *limit && !overcommit_allowed(name) => {
                errs.push(FieldError::invalid(
                    &requests_path,
                    quantity::text(value),
                    format!("must be equal to {name} limit of {text}"),
                ))
            }
            Some((limit, text)) if q > *limit => errs.push(FieldError::invalid(
                &requests_path,
                quantity::text(value),
                format!("must be less than or equal to {name} limit of {text}"),
            )),
            None if !overcommit_allowed(name) => errs.push(FieldError::required(
                &limits_path,
                "Limit must be set for non overcommitable resources",
            )),
            _ => {}
        }
    }
}

fn resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    for m in names::is_qualified_name(name) {
        errs.push(FieldError::invalid(path, name, m));
    }
    let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage")
        || name.starts_with("hugepages-")
        || !native_resource(name);
    if !standard {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
}

/// A quantity that parses and is not negative.
pub(super) fn resource_quantity(
    value: &Value,
    path: &Path,
    errs: &mut Vec<FieldError>,
) -> Option<Quantity> {
    let Some(q) = quantity::from_json(value) else {
        errs.push(FieldError::invalid(
            path,
            quantity::text(value),
            grammar::FORMAT_ERROR,
        ));
        return None;
    };
    if q.is_negative() {
        errs.push(FieldError::invalid(
            path,
            quantity::text(value),
            NON_NEGATIVE,
        ));
    }
    Some(q)
}

/// The lifecycle hooks and probes of a container that may have them.
fn validate_container_probes(c: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(lifecycle) = c.get("lifecycle").filter(|v| !v.is_null()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lifecycle.get(hook).filter(|v| !v.is_null()) {
                handler(h, &path.child("lifecycle").child(hook), true, errs);
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(p) = c.get(probe).filter(|v| !v.is_null()) else {
            continue;
        };
        let pp = path.child(probe);
        handler(p, &pp, false, errs);
        for key in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            non_negative(p, key, &pp, errs);
        }
        let grace = p
            .get("terminationGracePeriodSeconds")
            .filter(|v| !v.is_null());
        if let Some(g) = grace.and_then(Value::as_i64)
            && g <= 0
        {
            errs.push(FieldError::invalid(
                pp.child("terminationGracePeriodSeconds"),
                g,
                "must be greater than 0",
            ));
        }
        match probe {
            "readinessProbe" => {
                if let Some(g) = grace {
                    errs.push(FieldError::invalid(
                        pp.child("terminationGracePeriodSeconds"),
                        BadValue::from_json(g),
                        "must not be set for readinessProbes",
                    ));
                }
            }
            _ => {
                let threshold = int(p, "successThreshold").unwrap_or(0);
                if threshold != 1 {
                    errs.push(FieldError::invalid(
                        pp.child("successThreshold"),
                        threshold,
                        "must be 1",
                    ));
                }
            }
        }
    }
}

/// `validateHandler`: exactly one action, and the action's own checks.
fn handler(h: &Value, path: &Path, lifecycle: bool, errs: &mut Vec<FieldError>) {
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut count = 0;
    for kind in kinds {
        let Some(action) = h.get(*kind).filter(|v| !v.is_null()) else {
            continue;
        };
        let p = path.child(kind);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        match *kind {
            "exec" if list(action, "command").is_empty() => {
                errs.push(FieldError::required(p.child("command"), ""));
            }
            "httpGet" => {
                if string(action, "path").is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                }
                port_num_or_name(action.get("port"), &p.child("port"), errs);
                if let Some(scheme) = action.get("scheme").filter(|v| !v.is_null())
                    && scheme != "HTTP"
                    && scheme != "HTTPS"
                {
                    errs.push(FieldError::not_supported(
                        p.child("scheme"),
                        BadValue::from_json(scheme),
                        &["HTTP", "HTTPS"],
                    ));
                }
            }
            "tcpSocket" => port_num_or_name(action.get("port"), &p.child("port"), errs),
            "grpc" => {
                let port = int(action, "port").unwrap_or(0);
                if let Some(m) = port_num_errors(port) {
                    errs.push(FieldError::invalid(p.child("port"), port, m));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
}

/// Go's `%#v` of a `core.Toleration`.
pub(super) fn go_toleration(t: &Value) -> String {
    let seconds = match int(t, "tolerationSeconds") {
        Some(s) => format!("(*int64)({s})"),
        None => "(*int64)(nil)".to_string(),
    };
    format!(
        "core.Toleration{{Key:{}, Operator:{}, Value:{}, Effect:{}, TolerationSeconds:{seconds}}}",
        go_quote(string(t, "key")),
        go_quote(string(t, "operator")),
        go_quote(string(t, "value")),
        go_quote(string(t, "effect")),
    )
}

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = string(t, "key");
        if !key.is_empty() {
            errs.extend(names::validate_label_key(key, p.child("key").as_str()));
        }
        let operator = string(t, "operator");
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                p.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = string(t, "effect");
        if t.get("tolerationSeconds").is_some_and(|v| !v.is_null()) && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = string(t, "value");
        match operator {
            "Equal" | "" => {
                for m in names::is_valid_label_value(value) {
                    errs.push(FieldError::invalid(p.child("operator"), value, m));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        p.child("operator"),
                        BadValue::Raw(go_toleration(t)),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.push(FieldError::not_supported(
                p.child("effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// `ValidatePodUpdate` without the metadata.
pub fn validate_pod_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let new_spec = new.get("spec").unwrap_or(&null);
    let old_spec = old.get("spec").unwrap_or(&null);
    let path = Path::new("spec");
    validate_pod_spec(new_spec, &path, &mut errs);
    for key in ["containers", "initContainers"] {
        let (n, o) = (list(new_spec, key), list(old_spec, key));
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(
                path.child(key),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
    }
    if let Some(v) = new_spec
        .get("activeDeadlineSeconds")
        .filter(|v| !v.is_null())
    {
        let n = v.as_i64().unwrap_or(-1);
        let p = path.child("activeDeadlineSeconds");
        if !(0..=MAX_INT32).contains(&n) {
            errs.push(FieldError::invalid(
                p,
                BadValue::from_json(v),
                format!("must be between 0 and {MAX_INT32}, inclusive"),
            ));
            return errs;
        }
        if let Some(o) = int(old_spec, "activeDeadlineSeconds")
            && o < n
        {
            errs.push(FieldError::invalid(
                p,
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
    } else if int(old_spec, "activeDeadlineSeconds").is_some() {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            BadValue::Null,
            "must not update from a positive integer to nil value",
        ));
    }
    // What may change is copied from the old spec; anything left that
    // differs is a forbidden change.
    let mut munged = new_spec.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(items) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in items.iter_mut().enumerate() {
                    if let (Some(c), Some(image)) = (
                        c.as_object_mut(),
                        old_spec
                            .get(key)
                            .and_then(|o| o.get(i))
                            .and_then(|o| o.get("image")),
                    ) {
                        c.insert("image".into(), image.clone());
                    }
                }
            }
        }
        copy_field(m, old_spec, "activeDeadlineSeconds");
        let old_grace = int(old_spec, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && int(new_spec, "terminationGracePeriodSeconds") == Some(1)
        {
            copy_field(m, old_spec, "terminationGracePeriodSeconds");
        }
        let old_tolerations = list(old_spec, "tolerations");
        let new_tolerations = list(new_spec, "tolerations");
        if only_added_tolerations(new_tolerations, old_tolerations) {
            copy_field(m, old_spec, "tolerations");
        } else {
            errs.push(FieldError::forbidden(
                path.child("tolerations"),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            copy_field(m, old_spec, "tolerations");
        }
        let old_gates = gate_names(old_spec);
        let new_gates = gate_names(new_spec);
        if let Some(added) = new_gates.iter().find(|g| !old_gates.contains(g)) {
            errs.push(FieldError::forbidden(
                path.child("schedulingGates"),
                format!("only deletion is allowed, but found new scheduling gate '{added}'"),
            ));
        }
        copy_field(m, old_spec, "schedulingGates");
        // A node is assigned through the binding subresource only.
    }
    if !common::semantic_eq(&munged, old_spec) {
        errs.push(FieldError::forbidden(
            &path,
            format!(
                "pod updates may not change fields other than {UPDATABLE_FIELDS}\n{}",
                json_diff(old_spec, &munged)
            ),
        ));
    }
    errs
}

fn copy_field(m: &mut serde_json::Map<String, Value>, old: &Value, key: &str) {
    match old.get(key) {
        Some(v) => {
            m.insert(key.into(), v.clone());
        }
        None => {
            m.remove(key);
        }
    }
}

fn gate_names(spec: &Value) -> Vec<String> {
    list(spec, "schedulingGates")
        .iter()
        .map(|g| string(g, "name").to_string())
        .collect()
}

/// Every old toleration is still there (only its `tolerationSeconds` may
/// differ).
fn only_added_tolerations(new: &[Value], old: &[Value]) -> bool {
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(m) = t.as_object_mut() {
            m.remove("tolerationSeconds");
        }
        t
    };
    old.iter().all(|o| {
        let o = strip(o);
        new.iter().any(|n| common::semantic_eq(&strip(n), &o))
    })
}

/// `ValidatePodStatusUpdate` without the metadata.
pub fn validate_pod_status_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let status = Path::new("status");
    let null = Value::Null;
    let new_status = new.get("status").unwrap_or(&null);
    let old_status = old.get("status").unwrap_or(&null);
    let nominated = string(new_status, "nominatedNodeName");
    if !nominated.is_empty() && nominated != string(old_status, "nominatedNodeName") {
        dns_subdomain(nominated, &status.child("nominatedNodeName"), &mut errs);
    }
    let restart = old
        .get("spec")
        .and_then(|s| str_at(s, "restartPolicy"))
        .unwrap_or("Always");
    if restart == "Never" {
        terminated_stay_terminated(
            list(new_status, "containerStatuses"),
            list(old_status, "containerStatuses"),
            &status.child("containerStatuses"),
            &mut errs,
        );
    }
    let ips_path = status.child("podIPs");
    let ips = list(new_status, "podIPs");
    for (i, ip) in ips.iter().enumerate() {
        common::ip(string(ip, "ip"), &ips_path.index(i), &mut errs);
    }
    if ips.len() > 1 {
        let families: BTreeSet<bool> = ips
            .iter()
            .filter_map(|ip| string(ip, "ip").parse::<std::net::IpAddr>().ok())
            .map(|ip| ip.is_ipv4())
            .collect();
        if ips.len() > 2 || families.len() < 2 {
            errs.push(FieldError::invalid(
                &ips_path,
                BadValue::Raw(json!(ips).to_string()),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    let host_ip = string(new_status, "hostIP");
    if !host_ip.is_empty() {
        common::ip(host_ip, &status.child("hostIP"), &mut errs);
    }
    errs
}

/// A container that terminated in a pod that never restarts stays
/// terminated.
fn terminated_stay_terminated(
    new: &[Value],
    old: &[Value],
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    for (i, n) in new.iter().enumerate() {
        let name = string(n, "name");
        let Some(o) = old.iter().find(|o| string(o, "name") == name) else {
            continue;
        };
        let was_terminated = o
            .get("state")
            .and_then(|s| s.get("terminated"))
            .is_some_and(|t| !t.is_null());
        let is_terminated = n
            .get("state")
            .and_then(|s| s.get("terminated"))
            .is_some_and(|t| !t.is_null());
        if was_terminated && !is_terminated {
            errs.push(FieldError::forbidden(
                path.index(i).child("state"),
                "may not be transitioned to non-terminated state",
            ));
        }
    }
}
