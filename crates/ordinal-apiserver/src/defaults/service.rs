//! Service, Endpoints and EndpointSlice defaults.
//!
//! Besides `SetDefaults_Service`, a service gets what the service registry
//! decides before allocation: the `clusterIP`/`clusterIPs` pairing, the IP
//! family fields of a single-stack IPv4 cluster, on update the allocated
//! values a client left out, and the type-dependent fields a type change
//! leaves behind. Allocating addresses and node ports is not done here.

use serde_json::{Map, Value, json};

use super::Context;
use crate::lenient::{absent, default_ptr, default_str, ensure_obj, objs_mut};

/// `ServiceAffinityClientIP`'s default timeout (three hours).
const DEFAULT_CLIENT_IP_TIMEOUT: i64 = 10_800;

pub(crate) fn service(object: &mut Value, ctx: &Context) {
    let old_spec = ctx
        .old
        .and_then(|o| o.get("spec"))
        .and_then(Value::as_object)
        .cloned();
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    spec_defaults(spec);
    if let Some(old) = &old_spec {
        drop_type_dependent_fields(spec, old);
        patch_allocated_values(spec, old);
    }
    normalize_cluster_ips(spec, old_spec.as_ref());
    ip_families(spec);
    if ctx.creating() {
        // The registry clears status on create; Go writes the struct.
        root.insert("status".into(), json!({"loadBalancer": {}}));
    }
}

/// `SetDefaults_Service`.
fn spec_defaults(spec: &mut Map<String, Value>) {
    default_str(spec, "sessionAffinity", "None");
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}),
                );
            }
        }
        _ => {}
    }
    default_str(spec, "type", "ClusterIP");
    for port in objs_mut(spec, "ports") {
        default_str(port, "protocol", "TCP");
        let unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(v) => v.as_i64() == Some(0),
        };
        if unset && let Some(p) = port.get("port").filter(|p| p.is_i64()).cloned() {
            port.insert("targetPort".into(), p);
        }
    }
    if externally_accessible(spec) {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    let kind = type_of(spec).to_string();
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_ptr(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default_ptr(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn type_of(spec: &Map<String, Value>) -> &str {
    spec.get("type").and_then(Value::as_str).unwrap_or("")
}

/// Reachable from outside the cluster: a node port, a load balancer or
/// external IPs.
fn externally_accessible(spec: &Map<String, Value>) -> bool {
    match type_of(spec) {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => spec
            .get("externalIPs")
            .and_then(Value::as_array)
            .is_some_and(|ips| !ips.is_empty()),
        _ => false,
    }
}

fn needs_cluster_ip(spec: &Map<String, Value>) -> bool {
    type_of(spec) != "ExternalName"
}

fn needs_node_port(spec: &Map<String, Value>) -> bool {
    match type_of(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.get("allocateLoadBalancerNodePorts") != Some(&json!(false)),
        _ => false,
    }
}

fn needs_health_check_node_port(spec: &Map<String, Value>) -> bool {
    type_of(spec) == "LoadBalancer"
        && spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local")
}

fn same(a: &Map<String, Value>, b: &Map<String, Value>, key: &str) -> bool {
    let norm = |v: Option<&Value>| match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(v) => Some(v.clone()),
    };
    norm(a.get(key)) == norm(b.get(key))
}

fn node_ports(spec: &Map<String, Value>) -> Vec<Value> {
    spec.get("ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .map(|p| p.get("nodePort").cloned().unwrap_or(Value::Null))
                .collect()
        })
        .unwrap_or_default()
}

/// A type change drops what the old type needed and the client did not
/// touch (the registry's `dropTypeDependentFields`).
fn drop_type_dependent_fields(spec: &mut Map<String, Value>, old: &Map<String, Value>) {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if same(spec, old, "clusterIP") && same(spec, old, "clusterIPs") {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        if same(spec, old, "ipFamilies") {
            spec.remove("ipFamilies");
        }
        if same(spec, old, "ipFamilyPolicy") {
            spec.remove("ipFamilyPolicy");
        }
    }
    if needs_node_port(old) && !needs_node_port(spec) && node_ports(spec) == node_ports(old) {
        for port in objs_mut(spec, "ports") {
            port.remove("nodePort");
        }
    }
    if needs_health_check_node_port(old)
        && !needs_health_check_node_port(spec)
        && same(spec, old, "healthCheckNodePort")
    {
        spec.remove("healthCheckNodePort");
    }
    if type_of(old) == "LoadBalancer" && type_of(spec) != "LoadBalancer" {
        if !absent(old, "allocateLoadBalancerNodePorts")
            && same(spec, old, "allocateLoadBalancerNodePorts")
        {
            spec.remove("allocateLoadBalancerNodePorts");
        }
        if !absent(old, "loadBalancerClass") && same(spec, old, "loadBalancerClass") {
            spec.remove("loadBalancerClass");
        }
    }
    if externally_accessible(old)
        && !externally_accessible(spec)
        && same(spec, old, "externalTrafficPolicy")
    {
        spec.remove("externalTrafficPolicy");
    }
}

/// Allocated values a client left out of an update are kept (the
/// registry's `patchAllocatedValues`).
fn patch_allocated_values(spec: &mut Map<String, Value>, old: &Map<String, Value>) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        for key in ["clusterIP", "clusterIPs"] {
            if same(spec, &Map::new(), key)
                && let Some(v) = old.get(key)
            {
                spec.insert(key.into(), v.clone());
            }
        }
    }
    if needs_node_port(old) && needs_node_port(spec) {
        let old_ports: Vec<(String, i64)> = old
            .get("ports")
            .and_then(Value::as_array)
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| {
                        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                        Some((name.to_string(), p.get("nodePort")?.as_i64()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let used: Vec<i64> = node_ports(spec).iter().filter_map(Value::as_i64).collect();
        for port in objs_mut(spec, "ports") {
            let unset = port
                .get("nodePort")
                .is_none_or(|n| n.is_null() || n.as_i64() == Some(0));
            if !unset {
                continue;
            }
            let name = port.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some((_, n)) = old_ports.iter().find(|(on, _)| on == name)
                && !used.contains(n)
            {
                port.insert("nodePort".into(), json!(n));
            }
        }
    }
    if needs_health_check_node_port(old)
        && needs_health_check_node_port(spec)
        && absent(spec, "healthCheckNodePort")
        && let Some(v) = old.get("healthCheckNodePort")
    {
        spec.insert("healthCheckNodePort".into(), v.clone());
    }
}

/// The registry's `normalizeClusterIPs`: an old client that sends only
/// `clusterIP` gets `clusterIPs` to match.
fn normalize_cluster_ips(spec: &mut Map<String, Value>, old: Option<&Map<String, Value>>) {
    let ip = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ips_empty = same(spec, &Map::new(), "clusterIPs");
    let Some(old) = old else {
        if !ip.is_empty() && ips_empty {
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        return;
    };
    let old_ip = old.get("clusterIP").and_then(Value::as_str).unwrap_or("");
    if !same(old, &Map::new(), "clusterIPs")
        && ips_empty
        && old_ip == ip
        && let Some(v) = old.get("clusterIPs")
    {
        spec.insert("clusterIPs".into(), v.clone());
    }
    if old_ip != ip {
        let same_ips = same(spec, old, "clusterIPs");
        if !old_ip.is_empty() && ip.is_empty() && same_ips {
            spec.remove("clusterIPs");
        }
        if !ip.is_empty() && same_ips {
            spec.insert("clusterIPs".into(), json!([ip]));
        }
    }
}

/// The IP family fields of a single-stack IPv4 cluster. A headless service
/// without a selector may use any family and so requires both.
fn ip_families(spec: &mut Map<String, Value>) {
    if !needs_cluster_ip(spec) {
        return;
    }
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    let selectorless = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let families_len = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if headless && selectorless {
        if families_len == 0 && absent(spec, "ipFamilies") {
            spec.insert("ipFamilies".into(), json!(["IPv4"]));
        }
        default_ptr(spec, "ipFamilyPolicy", json!("RequireDualStack"));
        let single = spec.get("ipFamilyPolicy").and_then(Value::as_str) == Some("SingleStack");
        if let Some(Value::Array(families)) = spec.get_mut("ipFamilies")
            && families.len() == 1
            && !single
        {
            let other = if families[0] == json!("IPv6") {
                "IPv4"
            } else {
                "IPv6"
            };
            families.push(json!(other));
        }
        return;
    }
    if absent(spec, "ipFamilyPolicy") {
        let ips = spec
            .get("clusterIPs")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let policy = if ips > 1 || families_len > 1 {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        spec.insert("ipFamilyPolicy".into(), json!(policy));
    }
    if families_len == 0 && absent(spec, "ipFamilies") {
        let family = match spec
            .get("clusterIPs")
            .and_then(|ips| ips.get(0))
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        {
            Some(std::net::IpAddr::V6(_)) => "IPv6",
            _ => "IPv4",
        };
        spec.insert("ipFamilies".into(), json!([family]));
    }
}

/// `SetDefaults_Endpoints`: ports speak TCP unless told otherwise.
pub(crate) fn endpoints(object: &mut Value) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    for subset in objs_mut(root, "subsets") {
        for port in objs_mut(subset, "ports") {
            default_str(port, "protocol", "TCP");
        }
    }
}

/// `SetDefaults_EndpointPort` of discovery/v1: an unnamed TCP port.
pub(crate) fn endpoint_slice(object: &mut Value) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    for port in objs_mut(root, "ports") {
        default_ptr(port, "name", json!(""));
        default_ptr(port, "protocol", json!("TCP"));
    }
}
