//! The nftables ruleset of the service proxy, computed from Services and
//! EndpointSlices: pure, so it is tested as text.
//!
//! What the table does, in kube-proxy's nftables mode's manner:
//!
//! - `nat` prerouting (traffic from pods) and output (traffic from the
//!   host): a packet to `ClusterIP:port` jumps to the Service port's chain,
//!   which picks one ready endpoint at random (`numgen random mod N`) and
//!   DNATs to it.
//! - Masquerade: replies of a pod on the same bridge would go straight
//!   back to the client at layer 2 and never be un-NATed (there is no
//!   br_netfilter), so service traffic that came in on the bridge, or from
//!   outside the pod CIDR (the host), is marked and masqueraded on the way
//!   out; replies then come back through the host.
//! - `filter` prerouting and output, right after DNAT: a Service port
//!   without ready endpoints is rejected at once (connection refused, as
//!   kube-proxy does), and any other traffic to the service CIDR is
//!   rejected too, so it never follows a default route out of the machine.
//!   (Rejecting in prerouting needs Linux 5.x or later.)
//! - Host ports: a packet to `<node address>:<hostPort>` (from a pod, the
//!   host or outside) is DNATed to the pod's port, as the CNI `portmap`
//!   plugin does for the kubelet; masqueraded like service traffic.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The packet mark that asks for masquerading (kube-proxy's bit).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// Where the rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub table: String,
    pub bridge: String,
    pub pod_cidr: Ipv4Net,
    pub service_cidr: Ipv4Net,
}

/// One Service port and where it leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `namespace/name:port`, for the rule comments.
    pub label: String,
    pub cluster_ip: Ipv4Addr,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    pub port: u16,
    /// The node port of a `NodePort` or `LoadBalancer` Service, served on
    /// the node's address.
    pub node_port: Option<u16>,
    /// Whether the port is also served on the node's address itself (a
    /// `LoadBalancer` Service, whose ingress is the node's address).
    pub load_balancer: bool,
    /// Ready endpoints: address and target port.
    pub endpoints: Vec<(Ipv4Addr, u16)>,
}

/// A host port of a pod running on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPortRoute {
    /// `namespace/name:port`, for the rule comments.
    pub label: String,
    /// The address it is served on (the node's, or the pod's `hostIP`).
    pub address: Ipv4Addr,
    pub protocol: String,
    pub host_port: u16,
    pub pod_ip: Ipv4Addr,
    pub container_port: u16,
}

/// The host ports of the running pods of this node, served on `node_ip`
/// (or the port's own `hostIP`). Pods without an address yet, and
/// finished pods, have none.
pub fn host_port_routes<'a>(
    pods: impl IntoIterator<Item = &'a Pod>,
    node_ip: Ipv4Addr,
) -> Vec<HostPortRoute> {
    let mut out = Vec::new();
    for pod in pods {
        let status = pod.status.as_ref();
        if matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ) || pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let Some(pod_ip) = status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        if spec.host_network == Some(true) {
            continue;
        }
        let containers = spec.containers.iter().chain(
            spec.init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always")),
        );
        for port in containers.flat_map(|c| c.ports.iter().flatten()) {
            let (Some(host_port), Some(proto)) = (
                port.host_port
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0),
                protocol(port.protocol.as_deref()),
            ) else {
                continue;
            };
            let Ok(container_port) = u16::try_from(port.container_port) else {
                continue;
            };
            let address = match port.host_ip.as_deref() {
                None | Some("") | Some("0.0.0.0") => node_ip,
                Some(ip) => match ip.parse() {
                    Ok(ip) => ip,
                    Err(_) => continue,
                },
            };
            out.push(HostPortRoute {
                label: format!(
                    "{}/{}:{host_port}",
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.name.as_deref().unwrap_or_default()
                ),
                address,
                protocol: proto,
                host_port,
                pod_ip,
                container_port,
            });
        }
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}

fn protocol(p: Option<&str>) -> Option<String> {
    match p.unwrap_or("TCP") {
        "TCP" => Some("tcp".into()),
        "UDP" => Some("udp".into()),
        "SCTP" => Some("sctp".into()),
        _ => None,
    }
}

/// The routes of the cluster: every port of every Service with an IPv4
/// cluster IP, with the ready endpoints of its slices.
pub fn routes<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> Vec<Route> {
    // (namespace, service) → slices
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(name) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
        else {
            continue;
        };
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        by_service
            .entry((ns, name.clone()))
            .or_default()
            .push(slice);
    }
    let mut out = Vec::new();
    for service in services {
        let Some(spec) = service.spec.as_ref() else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let Some(ip) = spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        else {
            continue; // headless or IPv6
        };
        let ns = service.metadata.namespace.clone().unwrap_or_default();
        let name = service.metadata.name.clone().unwrap_or_default();
        let slices = by_service.get(&(ns.clone(), name.clone()));
        for port in spec.ports.iter().flatten() {
            let Some(proto) = protocol(port.protocol.as_deref()) else {
                continue;
            };
            let Ok(number) = u16::try_from(port.port) else {
                continue;
            };
            let port_name = port.name.clone().unwrap_or_default();
            let mut endpoints = Vec::new();
            for slice in slices.into_iter().flatten() {
                let target = slice.ports.iter().flatten().find(|p| {
                    p.name.as_deref().unwrap_or("") == port_name
                        && protocol(p.protocol.as_deref()).as_deref() == Some(proto.as_str())
                });
                let Some(target) = target
                    .and_then(|p| p.port)
                    .and_then(|p| u16::try_from(p).ok())
                else {
                    continue;
                };
                for e in &slice.endpoints {
                    let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                    if !ready {
                        continue;
                    }
                    if let Some(addr) = e.addresses.first().and_then(|a| a.parse().ok()) {
                        endpoints.push((addr, target));
                    }
                }
            }
            endpoints.sort();
            endpoints.dedup();
            let shown = if port_name.is_empty() {
                number.to_string()
            } else {
                port_name
            };
            let exposed = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
            out.push(Route {
                label: format!("{ns}/{name}:{shown}"),
                cluster_ip: ip,
                protocol: proto,
                port: number,
                node_port: port
                    .node_port
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| exposed && *p > 0),
                load_balancer: spec.type_.as_deref() == Some("LoadBalancer"),
                endpoints,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.cluster_ip, a.port, &a.protocol).cmp(&(b.cluster_ip, b.port, &b.protocol))
    });
    out
}

/// Characters allowed in an nft comment (anything else becomes `_`).
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-./:_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The whole table: one `nft -f` transaction that replaces it atomically
/// (it is created empty first, so deleting it never fails).
/// Node ports and load balancer ports are served on `node_ip` when given.
pub fn ruleset(
    net: &Network,
    routes: &[Route],
    host_ports: &[HostPortRoute],
    node_ip: Option<Ipv4Addr>,
) -> String {
    let t = &net.table;
    let mut s = String::new();
    let _ = writeln!(s, "table ip {t}\ndelete table ip {t}\ntable ip {t} {{");
    // Only this instance's pods: other instances on the machine have
    // their own tables, and the same cluster IPs (`default/kubernetes` is
    // always the first of the range), so an unrestricted rule would send
    // their pods here.
    let _ = writeln!(
        s,
        "  chain prerouting {{\n    type nat hook prerouting priority -100; policy accept;\n    iifname \"{}\" jump services\n  }}",
        net.bridge
    );
    let _ = writeln!(
        s,
        "  chain output {{\n    type nat hook output priority -100; policy accept;\n    jump services\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type nat hook postrouting priority 100; policy accept;\n    meta mark & {MASQUERADE_MARK:#x} == {MASQUERADE_MARK:#x} meta mark set meta mark ^ {MASQUERADE_MARK:#x} masquerade\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain mark-for-masquerade {{\n    meta mark set meta mark | {MASQUERADE_MARK:#x}\n  }}"
    );
    let mut services = String::new();
    let mut rejects = String::new();
    for (i, route) in routes.iter().enumerate() {
        let mut matchers = vec![format!(
            "ip daddr {} {} dport {}",
            route.cluster_ip, route.protocol, route.port
        )];
        if let Some(ip) = node_ip {
            if let Some(node_port) = route.node_port {
                matchers.push(format!(
                    "ip daddr {ip} {} dport {node_port}",
                    route.protocol
                ));
            }
            if route.load_balancer {
                matchers.push(format!(
                    "ip daddr {ip} {} dport {}",
                    route.protocol, route.port
                ));
            }
        }
        let note = comment(&route.label);
        if route.endpoints.is_empty() {
            // Refused at once, as kube-proxy does: a TCP reset, an ICMP
            // port unreachable for the rest.
            let how = if route.protocol == "tcp" {
                " with tcp reset"
            } else {
                ""
            };
            for matcher in &matchers {
                let _ = writeln!(
                    rejects,
                    "    {matcher} reject{how} comment \"{note} has no endpoints\""
                );
            }
            continue;
        }
        for matcher in &matchers {
            let _ = writeln!(services, "    {matcher} goto svc-{i} comment \"{note}\"");
        }
        let _ = writeln!(s, "  chain svc-{i} {{");
        let _ = writeln!(
            s,
            "    ip saddr != {} jump mark-for-masquerade",
            net.pod_cidr
        );
        let _ = writeln!(s, "    iifname \"{}\" jump mark-for-masquerade", net.bridge);
        let targets: Vec<String> = (0..route.endpoints.len())
            .map(|j| format!("{j} : goto ep-{i}-{j}"))
            .collect();
        let _ = writeln!(
            s,
            "    numgen random mod {} vmap {{ {} }}\n  }}",
            route.endpoints.len(),
            targets.join(", ")
        );
        for (j, (addr, port)) in route.endpoints.iter().enumerate() {
            let _ = writeln!(
                s,
                "  chain ep-{i}-{j} {{\n    meta l4proto {} dnat to {addr}:{port}\n  }}",
                route.protocol
            );
        }
    }
    for (k, hp) in host_ports.iter().enumerate() {
        let _ = writeln!(
            services,
            "    ip daddr {} {} dport {} goto hostport-{k} comment \"{}\"",
            hp.address,
            hp.protocol,
            hp.host_port,
            comment(&hp.label)
        );
        let _ = writeln!(
            s,
            "  chain hostport-{k} {{\n    ip saddr != {cidr} jump mark-for-masquerade\n    iifname \"{bridge}\" jump mark-for-masquerade\n    meta l4proto {} dnat to {}:{}\n  }}",
            hp.protocol,
            hp.pod_ip,
            hp.container_port,
            cidr = net.pod_cidr,
            bridge = net.bridge,
        );
    }
    let _ = writeln!(s, "  chain services {{\n{services}  }}");
    // After DNAT (-100), before routing: a packet still addressed to the
    // service CIDR found no endpoint. Rejected here, it never meets a
    // route (or the lack of one) that would send it elsewhere.
    for hook in ["prerouting", "output"] {
        let _ = writeln!(
            s,
            "  chain filter-{hook} {{\n    type filter hook {hook} priority -99; policy accept;\n{rejects}    ip daddr {cidr} meta l4proto tcp reject with tcp reset comment \"not a service port\"\n    ip daddr {cidr} reject comment \"not a service port\"\n  }}",
            cidr = net.service_cidr
        );
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn net() -> Network {
        Network {
            table: "ordinal-test".into(),
            bridge: "ordbr0".into(),
            pod_cidr: "10.244.0.0/24".parse().unwrap(),
            service_cidr: "10.96.0.0/12".parse().unwrap(),
        }
    }

    fn cluster() -> (Vec<Service>, Vec<EndpointSlice>) {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"metadata": {"name": "web", "namespace": "default"},
             "spec": {"clusterIP": "10.96.0.10", "ports": [
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"}]}},
            {"metadata": {"name": "headless", "namespace": "default"},
             "spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
        ]))
        .unwrap();
        let slices: Vec<EndpointSlice> = serde_json::from_value(json!([
            {"metadata": {"name": "web-a", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4",
             "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
             "endpoints": [
                {"addresses": ["10.244.0.5"], "conditions": {"ready": true}},
                {"addresses": ["10.244.0.6"], "conditions": {"ready": false}},
                {"addresses": ["10.244.0.7"]}]},
        ]))
        .unwrap();
        (services, slices)
    }

    #[test]
    fn routes_hold_the_ready_endpoints_of_each_port() {
        let (services, slices) = cluster();
        let routes = routes(&services, &slices);
        assert_eq!(routes.len(), 2, "headless services are not proxied");
        let dns = &routes[0];
        assert_eq!((dns.port, dns.protocol.as_str()), (53, "udp"));
        assert!(dns.endpoints.is_empty());
        let web = &routes[1];
        assert_eq!(web.label, "default/web:http");
        assert_eq!(
            web.endpoints,
            [
                ("10.244.0.5".parse().unwrap(), 8080),
                ("10.244.0.7".parse().unwrap(), 8080)
            ]
        );
    }

    #[test]
    fn node_ports_and_load_balancers_are_served_on_the_node_address() {
        let (mut services, slices) = cluster();
        services[0].spec.as_mut().unwrap().type_ = Some("LoadBalancer".into());
        let ports = services[0].spec.as_mut().unwrap().ports.as_mut().unwrap();
        ports[0].node_port = Some(30080);
        ports[1].node_port = Some(30053);
        let routes = routes(&services, &slices);
        assert_eq!(routes[1].node_port, Some(30080));
        assert!(routes[1].load_balancer);
        let node = Some("10.192.0.1".parse().unwrap());
        let text = ruleset(&net(), &routes, &[], node);
        assert!(
            text.contains("ip daddr 10.192.0.1 tcp dport 30080 goto svc-1"),
            "{text}"
        );
        assert!(
            text.contains("ip daddr 10.192.0.1 tcp dport 80 goto svc-1"),
            "{text}"
        );
        // No endpoints: refused on the node address too.
        assert!(
            text.contains("ip daddr 10.192.0.1 udp dport 30053 reject"),
            "{text}"
        );
        // A ClusterIP Service's node port (left from a type change) is not served.
        services[0].spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
        let text = ruleset(&net(), &super::routes(&services, &slices), &[], node);
        assert!(!text.contains("dport 30080"), "{text}");
        assert!(
            !text.contains("ip daddr 10.192.0.1 tcp dport 80 "),
            "{text}"
        );
    }

    #[test]
    fn the_ruleset_balances_dnats_masquerades_and_rejects() {
        let (services, slices) = cluster();
        let text = ruleset(&net(), &routes(&services, &slices), &[], None);
        assert!(text.starts_with("table ip ordinal-test\ndelete table ip ordinal-test\n"));
        assert!(text.contains("ip daddr 10.96.0.10 tcp dport 80 goto svc-1"));
        assert!(text.contains("numgen random mod 2 vmap { 0 : goto ep-1-0, 1 : goto ep-1-1 }"));
        assert!(text.contains("meta l4proto tcp dnat to 10.244.0.5:8080"));
        assert!(text.contains("iifname \"ordbr0\" jump mark-for-masquerade"));
        assert!(text.contains("ip saddr != 10.244.0.0/24 jump mark-for-masquerade"));
        assert!(text.contains(
            "ip daddr 10.96.0.10 udp dport 53 reject comment \"default/web:dns has no endpoints\""
        ));
        assert!(text.contains("type filter hook prerouting priority -99;"));
        assert!(text.contains("ip daddr 10.96.0.0/12 meta l4proto tcp reject with tcp reset"));
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn host_ports_of_running_pods_are_dnated_from_the_node_address() {
        let pods: Vec<Pod> = serde_json::from_value(json!([
            {"metadata": {"name": "web-0", "namespace": "default"},
             "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "10.0.0.9"},
                {"containerPort": 9090}]}]},
             "status": {"phase": "Running", "podIP": "10.244.0.5"}},
            {"metadata": {"name": "done", "namespace": "default"},
             "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8081}]}]},
             "status": {"phase": "Succeeded", "podIP": "10.244.0.6"}},
            {"metadata": {"name": "new", "namespace": "default"},
             "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8082}]}]}},
        ]))
        .unwrap();
        let node: Ipv4Addr = "10.244.0.1".parse().unwrap();
        let routes = host_port_routes(&pods, node);
        assert_eq!(routes.len(), 2, "{routes:?}");
        let text = ruleset(&net(), &[], &routes, None);
        assert!(
            text.contains("ip daddr 10.244.0.1 tcp dport 8080 goto hostport-"),
            "{text}"
        );
        assert!(
            text.contains("ip daddr 10.0.0.9 udp dport 5353 goto hostport-"),
            "{text}"
        );
        assert!(
            text.contains("meta l4proto tcp dnat to 10.244.0.5:80"),
            "{text}"
        );
        assert!(!text.contains("8081") && !text.contains("8082"), "{text}");
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }
}
