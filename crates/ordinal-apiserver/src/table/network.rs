//! Services, Endpoints and EndpointSlices.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::{
    AGE, Column, NAME, Printer, age_of, array_at, at, col, desc, format_labels, int_at,
    list_with_more, name_of, str_at, wide,
};

pub(super) const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", desc::SVC_TYPE),
    col("Cluster-IP", desc::SVC_CLUSTER_IP),
    col("External-IP", desc::SVC_EXTERNAL_IPS),
    col("Port(s)", desc::SVC_PORTS),
    AGE,
    wide("Selector", desc::SVC_SELECTOR),
];

pub(super) fn service_cells(service: &Value, now: Timestamp) -> Vec<Value> {
    // spec.type defaults to ClusterIP.
    let service_type = match str_at(service, "spec.type") {
        "" => "ClusterIP",
        t => t,
    };
    // The internal ServiceSpec takes clusterIP first, clusterIPs[0] otherwise.
    let cluster_ip = match str_at(service, "spec.clusterIP") {
        "" => array_at(service, "spec.clusterIPs")
            .first()
            .and_then(Value::as_str)
            .unwrap_or(""),
        ip => ip,
    };
    let cluster_ip = if cluster_ip.is_empty() {
        "<none>"
    } else {
        cluster_ip
    };
    let ports = port_string(array_at(service, "spec.ports"));
    vec![
        name_of(service),
        Value::String(service_type.to_string()),
        Value::String(cluster_ip.to_string()),
        Value::String(external_ip(service, service_type)),
        Value::String(if ports.is_empty() {
            "<none>".into()
        } else {
            ports
        }),
        age_of(service, now),
        Value::String(format_labels(at(service, "spec.selector"))),
    ]
}

/// The table of Services.
pub(crate) static SERVICE: Printer = Printer {
    columns: SERVICE_COLUMNS,
    cells: service_cells,
};

/// upstream's `getServiceExternalIP`, as the server computes it (wide: load
/// balancer addresses are not clipped).
fn external_ip(service: &Value, service_type: &str) -> String {
    let external_ips: Vec<&str> = array_at(service, "spec.externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match service_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".into()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb: BTreeSet<&str> = array_at(service, "status.loadBalancer.ingress")
                .iter()
                .filter_map(
                    |ingress| match (str_at(ingress, "ip"), str_at(ingress, "hostname")) {
                        ("", "") => None,
                        ("", hostname) => Some(hostname),
                        (ip, _) => Some(ip),
                    },
                )
                .collect();
            let mut all: Vec<&str> = lb.into_iter().collect();
            if all.is_empty() && external_ips.is_empty() {
                return "<pending>".into();
            }
            all.extend(external_ips);
            all.join(",")
        }
        "ExternalName" => str_at(service, "spec.externalName").to_string(),
        _ => "<unknown>".into(),
    }
}

/// upstream's `makePortString`: `80/TCP`, `80:30080/TCP` with a node port.
fn port_string(ports: &[Value]) -> String {
    ports
        .iter()
        .map(|p| {
            let port = int_at(p, "port");
            let protocol = match str_at(p, "protocol") {
                "" => "TCP",
                proto => proto,
            };
            match int_at(p, "nodePort") {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) const ENDPOINTS_COLUMNS: &[Column] = &[NAME, col("Endpoints", desc::EP_SUBSETS), AGE];

pub(super) fn endpoints_cells(endpoints: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(endpoints),
        Value::String(format_endpoints(endpoints)),
        age_of(endpoints, now),
    ]
}

/// The table of Endpoints.
pub(crate) static ENDPOINTS: Printer = Printer {
    columns: ENDPOINTS_COLUMNS,
    cells: endpoints_cells,
};

/// upstream's `formatEndpoints`: ready `ip:port` pairs (bare IPs for subsets
/// without ports), the first three, then ` + N more...`; `<none>` without
/// subsets.
fn format_endpoints(endpoints: &Value) -> String {
    const MAX: usize = 3;
    let subsets = array_at(endpoints, "subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    let mut count = 0usize;
    for subset in subsets {
        let addresses = array_at(subset, "addresses");
        let ports = array_at(subset, "ports");
        if ports.is_empty() {
            count += addresses.len();
            list.extend(
                addresses
                    .iter()
                    .map(|a| str_at(a, "ip").to_string())
                    .take(MAX - list.len()),
            );
            continue;
        }
        for port in ports {
            count += addresses.len();
            let port = int_at(port, "port");
            list.extend(
                addresses
                    .iter()
                    .map(|a| join_host_port(str_at(a, "ip"), port))
                    .take(MAX - list.len()),
            );
        }
    }
    let joined = list.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// Go's `net.JoinHostPort`: IPv6 addresses in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub(super) const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("AddressType", desc::EPS_ADDRESS_TYPE),
    col("Ports", desc::EPS_PORTS),
    col("Endpoints", desc::EPS_ENDPOINTS),
    AGE,
];

pub(super) fn endpoint_slice_cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    let ports = array_at(slice, "ports");
    let port_list: Vec<String> = ports
        .iter()
        .map(
            |p| match (at(p, "port").and_then(Value::as_i64), at(p, "name")) {
                (Some(port), _) => port.to_string(),
                (None, Some(Value::String(name))) => name.clone(),
                _ => "*".into(),
            },
        )
        .collect();
    let addresses: Vec<String> = array_at(slice, "endpoints")
        .iter()
        .flat_map(|e| array_at(e, "addresses"))
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    vec![
        name_of(slice),
        Value::String(str_at(slice, "addressType").to_string()),
        Value::String(list_with_more(&port_list, port_list.len())),
        Value::String(list_with_more(&addresses, addresses.len())),
        age_of(slice, now),
    ]
}

/// The table of EndpointSlices.
pub(crate) static ENDPOINT_SLICE: Printer = Printer {
    columns: ENDPOINT_SLICE_COLUMNS,
    cells: endpoint_slice_cells,
};
