//! Service, Endpoints and EndpointSlice validation
//! (`pkg/apis/core/validation`, `pkg/apis/discovery/validation`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::common::{
    self, Path, dns_label, dns_subdomain, go_string_slice, immutable, labels, port_num_errors,
    port_num_or_name,
};
use super::pod::protocol;
use crate::lenient::{int, list, string};
use crate::names::{BadValue, FieldError, go_quote};

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn is_headless(spec: &Value) -> bool {
    string(spec, "clusterIP") == "None"
}

fn externally_accessible(spec: &Value) -> bool {
    match string(spec, "type") {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => !list(spec, "externalIPs").is_empty(),
        _ => false,
    }
}

/// Go's `%#v` of the `core.ServicePort` key upstream uses to find
/// duplicate ports.
fn go_port_key(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

/// `ValidateService` without the metadata.
pub fn validate_service(svc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = svc.get("spec").unwrap_or(&null);
    let path = Path::new("spec");
    let kind = string(spec, "type");
    let ports = list(spec, "ports");
    let ports_path = path.child("ports");
    if ports.is_empty() && !is_headless(spec) && kind != "ExternalName" {
        errs.push(FieldError::required(&ports_path, ""));
    }
    service_type(spec, kind, &path, &mut errs);
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = ports_path.index(i);
        service_port(port, ports.len(), kind, &p, &mut names, &mut errs);
    }
    ports_unique(ports, &ports_path, &mut errs);
    labels(spec.get("selector"), &path.child("selector"), &mut errs);
    session_affinity(spec, &path, &mut errs);
    cluster_ips(spec, &path, &mut errs);
    traffic_policies(spec, kind, &path, &mut errs);
    ip_families(spec, &path, &mut errs);
    errs
}

/// `spec.type`, and what an ExternalName service may and must set.
fn service_type(spec: &Value, kind: &str, path: &Path, errs: &mut Vec<FieldError>) {
    match kind {
        "" => errs.push(FieldError::required(path.child("type"), "")),
        k if SERVICE_TYPES.contains(&k) => {}
        other => errs.push(FieldError::not_supported(
            path.child("type"),
            other,
            SERVICE_TYPES,
        )),
    }
    if kind == "ExternalName" {
        let name = string(spec, "externalName");
        let clean = name.strip_suffix('.').unwrap_or(name);
        if clean.is_empty() {
            errs.push(FieldError::required(path.child("externalName"), ""));
        } else {
            dns_subdomain(clean, &path.child("externalName"), errs);
        }
        for key in ["clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if !common::is_unset(spec.get(key)) {
                errs.push(FieldError::forbidden(
                    path.child(key),
                    "may not be set for ExternalName services",
                ));
            }
        }
    }
}

/// One of `spec.ports`: name (unique among `names`), port, protocol,
/// target and node port.
fn service_port<'a>(
    port: &'a Value,
    count: usize,
    kind: &str,
    p: &Path,
    names: &mut BTreeSet<&'a str>,
    errs: &mut Vec<FieldError>,
) {
    let name = string(port, "name");
    if count > 1 && name.is_empty() {
        errs.push(FieldError::required(p.child("name"), ""));
    } else if !name.is_empty() {
        dns_label(name, &p.child("name"), errs);
        if !names.insert(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        }
    }
    let number = int(port, "port").unwrap_or(0);
    if let Some(m) = port_num_errors(number) {
        errs.push(FieldError::invalid(p.child("port"), number, m));
    }
    protocol(port, p, errs);
    port_num_or_name(port.get("targetPort"), &p.child("targetPort"), errs);
    let node_port = int(port, "nodePort").unwrap_or(0);
    if node_port != 0 {
        if kind == "ClusterIP" {
            errs.push(FieldError::forbidden(
                p.child("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if let Some(m) = port_num_errors(node_port) {
            errs.push(FieldError::invalid(p.child("nodePort"), node_port, m));
        }
    }
}

/// No two ports share protocol and port, nor protocol and node port.
fn ports_unique(ports: &[Value], ports_path: &Path, errs: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    let mut node_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let proto = string(port, "protocol");
        let number = int(port, "port").unwrap_or(0);
        if !seen.insert((proto.to_string(), number)) {
            errs.push(FieldError::duplicate(
                ports_path.index(i),
                BadValue::Raw(go_port_key(proto, number)),
            ));
        }
        let node_port = int(port, "nodePort").unwrap_or(0);
        if node_port != 0 && !node_ports.insert((proto.to_string(), node_port)) {
            errs.push(FieldError::duplicate(
                ports_path.index(i).child("nodePort"),
                node_port,
            ));
        }
    }
}

/// `spec.sessionAffinity` and its ClientIP timeout.
fn session_affinity(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    match string(spec, "sessionAffinity") {
        "None" => {}
        "ClientIP" => {
            let timeout = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if !(1..=86_400).contains(&timeout) {
                errs.push(FieldError::invalid(
                    path.child("sessionAffinityConfig")
                        .child("clientIP")
                        .child("timeoutSeconds"),
                    timeout,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
        "" => errs.push(FieldError::required(path.child("sessionAffinity"), "")),
        other => errs.push(FieldError::not_supported(
            path.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
}

/// `spec.externalTrafficPolicy` (only, and then required, for externally
/// accessible services) and `spec.internalTrafficPolicy`.
fn traffic_policies(spec: &Value, kind: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let etp = string(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                path.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(
            path.child("externalTrafficPolicy"),
            "",
        ));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            path.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    if matches!(kind, "ClusterIP" | "NodePort" | "LoadBalancer") {
        match spec.get("internalTrafficPolicy") {
            None | Some(Value::Null) => errs.push(FieldError::required(
                path.child("internalTrafficPolicy"),
                "",
            )),
            Some(v) if v == "Cluster" || v == "Local" => {}
            Some(other) => errs.push(FieldError::not_supported(
                path.child("internalTrafficPolicy"),
                BadValue::from_json(other),
                &["Cluster", "Local"],
            )),
        }
    }
}

/// `spec.ipFamilyPolicy` and `spec.ipFamilies`.
fn ip_families(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(policy) = spec.get("ipFamilyPolicy").filter(|p| !p.is_null())
        && !policy
            .as_str()
            .is_some_and(|p| ["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&p))
    {
        errs.push(FieldError::not_supported(
            path.child("ipFamilyPolicy"),
            BadValue::from_json(policy),
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut families = BTreeSet::new();
    for (i, family) in list(spec, "ipFamilies").iter().enumerate() {
        let p = path.child("ipFamilies").index(i);
        match family.as_str() {
            Some(f @ ("IPv4" | "IPv6")) => {
                if !families.insert(f) {
                    errs.push(FieldError::duplicate(p, f));
                }
            }
            _ => errs.push(FieldError::not_supported(
                p,
                BadValue::from_json(family),
                &["IPv4", "IPv6"],
            )),
        }
    }
}

/// The cluster IPs: `None` only first and alone, addresses otherwise.
fn cluster_ips(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let p = path.child("clusterIPs");
    let kind = string(spec, "type");
    for (i, ip) in list(spec, "clusterIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        if ip == "None" {
            if i > 0 {
                errs.push(FieldError::invalid(
                    p.index(i),
                    ip,
                    "may only be set for primary clusterIP",
                ));
            } else if kind == "NodePort" || kind == "LoadBalancer" {
                errs.push(FieldError::invalid(
                    p.index(i),
                    ip,
                    format!("may not be set to 'None' for {kind} services"),
                ));
            }
        } else if !ip.is_empty() {
            common::ip(ip, &p.index(i), errs);
        }
    }
}

/// `ValidateServiceUpdate` without the metadata: the cluster IPs and the
/// primary IP family may not change once set.
pub fn validate_service_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_service(new);
    let null = Value::Null;
    let (n, o) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    if string(n, "type") == "ExternalName" || string(o, "type") == "ExternalName" {
        return errs;
    }
    let path = Path::new("spec").child("clusterIPs");
    let ips = |s: &Value| -> Vec<String> {
        list(s, "clusterIPs")
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect()
    };
    let (new_ips, old_ips) = (ips(n), ips(o));
    let shown = BadValue::Raw(go_string_slice(n.get("clusterIPs")));
    if !(is_headless(o) && is_headless(n)) {
        if new_ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if new_ips.get(i) != Some(ip) {
                    errs.push(FieldError::invalid(
                        path.index(i),
                        shown.clone(),
                        "may not change once set",
                    ));
                }
            }
        } else if old_ips.len() > new_ips.len() {
            if new_ips.is_empty() {
                errs.push(FieldError::invalid(
                    path.index(0),
                    shown.clone(),
                    "primary clusterIP can not be unset",
                ));
            } else if new_ips[0] != old_ips[0] {
                errs.push(FieldError::invalid(
                    path.index(0),
                    shown.clone(),
                    "may not change once set",
                ));
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(FieldError::invalid(
                path.index(0),
                shown.clone(),
                "may not change once set",
            ));
        }
    }
    let first_family = |s: &Value| list(s, "ipFamilies").first().cloned();
    if let (Some(old_f), Some(new_f)) = (first_family(o), first_family(n))
        && old_f != new_f
    {
        errs.push(FieldError::invalid(
            Path::new("spec").child("ipFamilies").index(0),
            BadValue::Raw(go_string_slice(n.get("ipFamilies"))),
            "may not change once set",
        ));
    }
    errs
}

/// A service's status: load balancer addresses are IPs.
pub fn validate_service_status(new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("status").child("loadBalancer").child("ingress");
    let ingress = new
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, entry) in ingress.iter().enumerate() {
        let ip = string(entry, "ip");
        if !ip.is_empty() {
            common::ip(ip, &path.index(i).child("ip"), &mut errs);
        }
        let host = string(entry, "hostname");
        if !host.is_empty() {
            dns_subdomain(host, &path.index(i).child("hostname"), &mut errs);
        }
    }
    errs
}

/// `ValidateEndpoints` without the metadata.
pub fn validate_endpoints(ep: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("subsets");
    for (i, subset) in list(ep, "subsets").iter().enumerate() {
        let sp = path.index(i);
        let ready = list(subset, "addresses");
        let not_ready = list(subset, "notReadyAddresses");
        if ready.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(
                &sp,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (key, addresses) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
            for (j, a) in addresses.iter().enumerate() {
                let ap = sp.child(key).index(j);
                common::ip(string(a, "ip"), &ap.child("ip"), &mut errs);
                let host = string(a, "hostname");
                if !host.is_empty() {
                    dns_label(host, &ap.child("hostname"), &mut errs);
                }
                if let Some(node) = a.get("nodeName").and_then(Value::as_str) {
                    dns_subdomain(node, &ap.child("nodeName"), &mut errs);
                }
            }
        }
        let ports = list(subset, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = sp.child("ports").index(j);
            let name = string(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(pp.child("name"), ""));
            } else if !name.is_empty() {
                dns_label(name, &pp.child("name"), &mut errs);
            }
            let number = int(port, "port").unwrap_or(0);
            if let Some(m) = port_num_errors(number) {
                errs.push(FieldError::invalid(pp.child("port"), number, m));
            }
            protocol(port, &pp, &mut errs);
        }
    }
    errs
}

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];

/// `ValidateEndpointSlice` without the metadata.
pub fn validate_endpoint_slice(slice: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let address_type = string(slice, "addressType");
    match address_type {
        "" => errs.push(FieldError::required("addressType", "")),
        t if ADDRESS_TYPES.contains(&t) => {}
        other => errs.push(FieldError::not_supported(
            "addressType",
            other,
            ADDRESS_TYPES,
        )),
    }
    let endpoints = list(slice, "endpoints");
    let path = Path::new("endpoints");
    if endpoints.len() > 1000 {
        errs.push(FieldError::too_many(&path, endpoints.len(), 1000));
    }
    for (i, e) in endpoints.iter().enumerate() {
        let ep = path.index(i);
        let addresses = list(e, "addresses");
        let ap = ep.child("addresses");
        if addresses.is_empty() {
            errs.push(FieldError::required(&ap, "must contain at least 1 address"));
        } else if addresses.len() > 100 {
            errs.push(FieldError::too_many(&ap, addresses.len(), 100));
        }
        for (j, a) in addresses.iter().enumerate() {
            let a = a.as_str().unwrap_or("");
            let p = ap.index(j);
            match address_type {
                "IPv4" if a.parse::<std::net::Ipv4Addr>().is_err() => {
                    errs.push(FieldError::invalid(p, a, "must be a valid IPv4 address"))
                }
                "IPv6" if a.parse::<std::net::Ipv6Addr>().is_err() => {
                    errs.push(FieldError::invalid(p, a, "must be a valid IPv6 address"))
                }
                "FQDN" => dns_subdomain(a, &p, &mut errs),
                _ => {}
            }
        }
        if let Some(node) = e.get("nodeName").and_then(Value::as_str) {
            dns_subdomain(node, &ep.child("nodeName"), &mut errs);
        }
        if let Some(host) = e.get("hostname").and_then(Value::as_str) {
            dns_label(host, &ep.child("hostname"), &mut errs);
        }
    }
    let ports = list(slice, "ports");
    let path = Path::new("ports");
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = string(port, "name");
        if !name.is_empty() {
            dns_label(name, &p.child("name"), &mut errs);
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        }
        protocol(port, &p, &mut errs);
        if let Some(n) = int(port, "port")
            && let Some(m) = port_num_errors(n)
        {
            errs.push(FieldError::invalid(p.child("port"), n, m));
        }
    }
    errs
}

/// `ValidateEndpointSliceUpdate` without the metadata.
pub fn validate_endpoint_slice_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_endpoint_slice(new);
    errs.extend(immutable(
        new.get("addressType"),
        old.get("addressType"),
        &Path::new("addressType"),
    ));
    errs
}
