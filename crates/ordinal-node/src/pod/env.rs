//! A container's environment, as kubelet builds it: `envFrom` sources
//! first, then `env` in order, each value expanded against the variables
//! defined before it; values from the downward API (`fieldRef`,
//! `resourceFieldRef`), ConfigMaps and Secrets. The objects a container
//! refers to are fetched by the worker and handed in as [`Sources`], so
//! the resolution itself is pure.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use ordinal_core::quantity;

use super::expand::expand;

/// ConfigMaps and Secrets of the pod's namespace, by name (absent: not
/// found).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub config_maps: HashMap<String, ConfigMap>,
    pub secrets: HashMap<String, Secret>,
    /// The Service variables ([`service_env`]) the container sees unless
    /// its own environment sets them.
    pub services: Vec<(String, String)>,
}

/// The Docker-link style variables of Services, as the kubelet makes them
/// (`<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT[_<PORT NAME>]`,
/// `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`), for
/// those with a cluster IP. Later Services of the list win a clash.
pub fn service_env(services: &[k8s_openapi::api::core::v1::Service]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let Some(ip) = spec
            .cluster_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        else {
            continue;
        };
        let name = svc
            .metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .to_uppercase()
            .replace('-', "_");
        let ports = spec.ports.as_deref().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let mut vars = vec![
            (format!("{name}_SERVICE_HOST"), ip.to_string()),
            (format!("{name}_SERVICE_PORT"), first.port.to_string()),
        ];
        for p in ports {
            if let Some(port_name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                vars.push((
                    format!(
                        "{name}_SERVICE_PORT_{}",
                        port_name.to_uppercase().replace('-', "_")
                    ),
                    p.port.to_string(),
                ));
            }
        }
        let proto = |p: &k8s_openapi::api::core::v1::ServicePort| {
            p.protocol.as_deref().unwrap_or("TCP").to_string()
        };
        vars.push((
            format!("{name}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), first.port),
        ));
        for p in ports {
            let upper = proto(p).to_uppercase();
            let prefix = format!("{name}_PORT_{}_{upper}", p.port);
            vars.push((
                prefix.clone(),
                format!("{}://{ip}:{}", upper.to_lowercase(), p.port),
            ));
            vars.push((format!("{prefix}_PROTO"), upper.to_lowercase()));
            vars.push((format!("{prefix}_PORT"), p.port.to_string()));
            vars.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
        for (k, v) in vars {
            match out.iter_mut().find(|(name, _)| *name == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
    }
    out
}

/// What the downward API reads besides the pod object.
#[derive(Debug, Clone, Copy)]
pub struct Runtime {
    pub pod_ip: Option<IpAddr>,
    pub host_ip: IpAddr,
    /// Node allocatable CPU in millicores and memory in bytes, the values
    /// of unset limits.
    pub node_cpu_millis: i64,
    pub node_memory: i64,
}

/// Why a container cannot be configured (waiting reason
/// `CreateContainerConfigError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The ConfigMaps and Secrets a container's environment needs.
pub fn references(c: &Container) -> (Vec<String>, Vec<String>) {
    let (mut cms, mut secrets) = (Vec::new(), Vec::new());
    for from in c.env_from.iter().flatten() {
        if let Some(r) = &from.config_map_ref {
            cms.push(r.name.clone());
        }
        if let Some(r) = &from.secret_ref {
            secrets.push(r.name.clone());
        }
    }
    for var in c.env.iter().flatten() {
        if let Some(from) = &var.value_from {
            if let Some(r) = &from.config_map_key_ref {
                cms.push(r.name.clone());
            }
            if let Some(r) = &from.secret_key_ref {
                secrets.push(r.name.clone());
            }
        }
    }
    cms.sort();
    cms.dedup();
    secrets.sort();
    secrets.dedup();
    (cms, secrets)
}

fn secret_value(s: &Secret, key: &str) -> Option<String> {
    if let Some(v) = s.data.as_ref().and_then(|d| d.get(key)) {
        return Some(String::from_utf8_lossy(&v.0).into_owned());
    }
    s.string_data.as_ref().and_then(|d| d.get(key)).cloned()
}

fn config_map_value(c: &ConfigMap, key: &str) -> Option<String> {
    if let Some(v) = c.data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.clone());
    }
    c.binary_data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

/// Whether `name` may be an environment variable name (upstream's
/// `IsEnvVarName`: printable ASCII without `=`, not starting with a digit).
fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_graphic() && c != '=')
}

/// The value of a downward-API field path.
pub fn field_value(pod: &Pod, path: &str, rt: &Runtime) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let map_key = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("['"))
            .and_then(|rest| rest.strip_suffix("']"))
            .map(str::to_string)
    };
    if let Some(key) = map_key("metadata.labels") {
        return Ok(meta
            .labels
            .as_ref()
            .and_then(|l| l.get(&key))
            .cloned()
            .unwrap_or_default());
    }
    if let Some(key) = map_key("metadata.annotations") {
        return Ok(meta
            .annotations
            .as_ref()
            .and_then(|l| l.get(&key))
            .cloned()
            .unwrap_or_default());
    }
    let spec = pod.spec.as_ref();
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => rt.host_ip.to_string(),
        "status.podIP" | "status.podIPs" => rt.pod_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        other => return Err(ConfigError(format!("unsupported fieldRef path {other:?}"))),
    })
}

/// `key="value"` lines, sorted, as the downward API writes maps.
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of a resourceFieldRef (`limits.cpu`, `requests.memory`…),
/// divided by the divisor and rounded up, as upstream.
pub fn resource_value(
    c: &Container,
    resource: &str,
    divisor: Option<&Quantity>,
    rt: &Runtime,
) -> Result<String, ConfigError> {
    let res = c.resources.as_ref();
    let (kind, name) = resource
        .split_once('.')
        .ok_or_else(|| ConfigError(format!("unsupported resource {resource:?}")))?;
    let map = match kind {
        "limits" => res.and_then(|r| r.limits.as_ref()),
        "requests" => res.and_then(|r| r.requests.as_ref()),
        _ => return Err(ConfigError(format!("unsupported resource {resource:?}"))),
    };
    let set = map.and_then(|m| m.get(name));
    let is_cpu = name == "cpu";
    // Upstream divides CPU in milli-units (`MilliValue()`) and everything
    // else in whole units (`Value()`).
    let amount = |q: &Quantity| -> Result<i128, ConfigError> {
        let parsed = quantity::Quantity::parse(q.0.trim())
            .ok_or_else(|| ConfigError(format!("invalid quantity {:?}", q.0.trim())))?;
        Ok(if is_cpu {
            parsed.milli_value()
        } else {
            parsed.value()
        })
    };
    // Unset limits are the node's allocatable; unset requests are 0
    // (upstream falls back to the limit, then allocatable, for requests
    // too; we follow the simpler common case).
    let value = match set {
        Some(q) => amount(q)?,
        None if kind == "limits" => {
            if is_cpu {
                i128::from(rt.node_cpu_millis)
            } else {
                i128::from(rt.node_memory)
            }
        }
        None => 0,
    };
    let divisor = match divisor {
        Some(d) => amount(d)?,
        None if is_cpu => 1000,
        None => 1,
    };
    if divisor <= 0 {
        return Err(ConfigError("divisor must be positive".into()));
    }
    // Rounded up, as upstream's `math.Ceil`.
    let quotient = value / divisor + i128::from(value % divisor > 0);
    Ok(quotient.to_string())
}

/// The container's environment, in order.
pub fn resolve(
    pod: &Pod,
    c: &Container,
    sources: &Sources,
    rt: &Runtime,
    base: &[(String, String)],
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| {
        if let Some(slot) = env.iter_mut().find(|(name, _)| *name == k) {
            slot.1 = v;
        } else {
            env.push((k, v));
        }
    };
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match sources.config_maps.get(&r.name) {
                Some(cm) => {
                    let keys = cm
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Vec<_>>();
                    for (k, v) in keys {
                        let name = format!("{prefix}{k}");
                        if is_env_var_name(&name) {
                            set(&mut env, name, v);
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError(format!("configmap \"{}\" not found", r.name))),
            }
        }
        if let Some(r) = &from.secret_ref {
            match sources.secrets.get(&r.name) {
                Some(s) => {
                    let keys: Vec<String> =
                        s.data.iter().flatten().map(|(k, _)| k.clone()).collect();
                    for k in keys {
                        let name = format!("{prefix}{k}");
                        if is_env_var_name(&name)
                            && let Some(v) = secret_value(s, &k)
                        {
                            set(&mut env, name, v);
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError(format!("secret \"{}\" not found", r.name))),
            }
        }
    }
    for var in c.env.iter().flatten() {
        let value = match &var.value_from {
            None => {
                let raw = var.value.clone().unwrap_or_default();
                let known: Vec<(String, String)> =
                    base.iter().cloned().chain(env.iter().cloned()).collect();
                expand(&raw, |name| {
                    known
                        .iter()
                        .rev()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                })
            }
            Some(from) => {
                if let Some(f) = &from.field_ref {
                    field_value(pod, &f.field_path, rt)?
                } else if let Some(r) = &from.resource_field_ref {
                    let target = match r.container_name.as_deref().filter(|n| !n.is_empty()) {
                        Some(name) => pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.containers.iter().find(|x| x.name == name))
                            .unwrap_or(c),
                        None => c,
                    };
                    resource_value(target, &r.resource, r.divisor.as_ref(), rt)?
                } else if let Some(r) = &from.config_map_key_ref {
                    match sources.config_maps.get(&r.name) {
                        Some(cm) => match config_map_value(cm, &r.key) {
                            Some(v) => v,
                            None if r.optional == Some(true) => continue,
                            None => {
                                return Err(ConfigError(format!(
                                    "couldn't find key {} in ConfigMap {}/{}",
                                    r.key,
                                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                                    r.name
                                )));
                            }
                        },
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(ConfigError(format!("configmap \"{}\" not found", r.name)));
                        }
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    match sources.secrets.get(&r.name) {
                        Some(s) => match secret_value(s, &r.key) {
                            Some(v) => v,
                            None if r.optional == Some(true) => continue,
                            None => {
                                return Err(ConfigError(format!(
                                    "couldn't find key {} in Secret {}/{}",
                                    r.key,
                                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                                    r.name
                                )));
                            }
                        },
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(ConfigError(format!("secret \"{}\" not found", r.name)));
                        }
                    }
                } else {
                    String::new()
                }
            }
        };
        set(&mut env, var.name.clone(), value);
    }
    // Service variables fill in what the container does not set itself.
    for (k, v) in &sources.services {
        if !env.iter().any(|(name, _)| name == k) {
            env.push((k.clone(), v.clone()));
        }
    }
    // The runtime's own defaults come first and yield to the pod's.
    let mut all: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !env.iter().any(|(name, _)| name == k))
        .cloned()
        .collect();
    all.extend(env);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_yaml::from_str(
            "metadata: {name: web-1, namespace: shop, uid: u-1, labels: {app: web, tier: front}}\n\
             spec:\n  nodeName: n1\n  containers:\n  - name: app\n    resources: {limits: {memory: 64Mi}, requests: {cpu: 250m}}\n",
        )
        .unwrap()
    }

    fn rt() -> Runtime {
        Runtime {
            pod_ip: Some("10.192.0.5".parse().unwrap()),
            host_ip: "10.192.0.1".parse().unwrap(),
            node_cpu_millis: 2000,
            node_memory: 1 << 30,
        }
    }

    fn container(yaml: &str) -> Container {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn values_expand_against_earlier_variables_and_the_downward_api() {
        let c = container(
            "name: app\nresources: {limits: {memory: 64Mi}, requests: {cpu: 250m}}\nenv:\n\
             - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n\
             - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}\n\
             - {name: TIER, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['tier']\"}}}\n\
             - {name: URL, value: 'http://$(POD):$(PORT)/$(IP)'}\n\
             - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}\n\
             - {name: CPU, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}\n\
             - {name: CPULIM, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}\n",
        );
        let env = resolve(
            &pod(),
            &c,
            &Sources::default(),
            &rt(),
            &[("PATH".into(), "/bin".into())],
        )
        .unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some("/bin"));
        assert_eq!(get("POD"), Some("web-1"));
        assert_eq!(get("TIER"), Some("front"));
        assert_eq!(get("URL"), Some("http://web-1:$(PORT)/10.192.0.5"));
        assert_eq!(get("MEM"), Some("64"));
        assert_eq!(get("CPU"), Some("250"));
        assert_eq!(get("CPULIM"), Some("2"));
    }

    #[test]
    fn config_maps_and_secrets_with_optional_and_missing() {
        let mut sources = Sources::default();
        sources.config_maps.insert(
            "settings".into(),
            serde_yaml::from_str(
                "metadata: {name: settings}\ndata: {mode: fast, '1bad': x, level: '3'}",
            )
            .unwrap(),
        );
        sources.secrets.insert(
            "creds".into(),
            serde_json::from_value(serde_json::json!({"metadata": {"name": "creds"}, "data": {"password": "czNjcjN0"}})).unwrap(),
        );
        let c = container(
            "name: app\nenvFrom: [{configMapRef: {name: settings}, prefix: CFG_}, {configMapRef: {name: gone, optional: true}}]\nenv:\n\
             - {name: PW, valueFrom: {secretKeyRef: {name: creds, key: password}}}\n\
             - {name: MAYBE, valueFrom: {configMapKeyRef: {name: settings, key: nope, optional: true}}}\n\
             - {name: CFG_mode, value: overridden}\n",
        );
        let env = resolve(&pod(), &c, &sources, &rt(), &[]).unwrap();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["CFG_1bad", "CFG_level", "CFG_mode", "PW"]);
        assert_eq!(env[2].1, "overridden");
        assert_eq!(env[3].1, "s3cr3t");
        let missing = container(
            "name: app\nenv: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: k}}}]",
        );
        assert_eq!(
            resolve(&pod(), &missing, &sources, &rt(), &[])
                .unwrap_err()
                .0,
            "configmap \"absent\" not found"
        );
        let no_key = container(
            "name: app\nenv: [{name: X, valueFrom: {secretKeyRef: {name: creds, key: user}}}]",
        );
        assert_eq!(
            resolve(&pod(), &no_key, &sources, &rt(), &[])
                .unwrap_err()
                .0,
            "couldn't find key user in Secret shop/creds"
        );
        assert_eq!(
            references(&c),
            (
                vec!["gone".to_string(), "settings".to_string()],
                vec!["creds".to_string()]
            )
        );
    }

    #[test]
    fn services_become_docker_link_variables() {
        let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "my-db" },
            "spec": { "clusterIP": "10.96.0.9", "ports": [
                { "name": "sql", "port": 5432, "protocol": "TCP" },
                { "port": 9187 }
            ] },
        }))
        .unwrap();
        let headless: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "web" }, "spec": { "clusterIP": "None", "ports": [{ "port": 80 }] },
        }))
        .unwrap();
        let env = service_env(&[svc, headless]);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MY_DB_SERVICE_HOST"), Some("10.96.0.9"));
        assert_eq!(get("MY_DB_SERVICE_PORT"), Some("5432"));
        assert_eq!(get("MY_DB_SERVICE_PORT_SQL"), Some("5432"));
        assert_eq!(get("MY_DB_PORT"), Some("tcp://10.96.0.9:5432"));
        assert_eq!(get("MY_DB_PORT_9187_TCP_ADDR"), Some("10.96.0.9"));
        assert_eq!(get("MY_DB_PORT_5432_TCP_PROTO"), Some("tcp"));
        assert!(get("WEB_SERVICE_HOST").is_none());
    }
}
