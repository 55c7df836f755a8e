//! The rules both endpoint controllers apply to pods, as upstream's
//! `k8s.io/endpointslice` utilities state them: which pods a Service
//! selects, which of those have an address to publish, whether a pod is
//! ready, which port a Service port reaches on a pod, and when a pod's
//! hostname is published.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::pod::is_terminating;

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed" | "Succeeded")
    )
}

/// The pod's addresses (`status.podIPs`, else `status.podIP`), parsed and
/// printed again as upstream does with irregular forms.
pub fn addresses(pod: &Pod) -> Vec<IpAddr> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    let texts = if listed.is_empty() {
        status.pod_ip.as_deref().into_iter().collect()
    } else {
        listed
    };
    texts.iter().filter_map(|t| t.trim().parse().ok()).collect()
}

/// Upstream's `ShouldPodBeInEndpoints`: not finished, has an address, and
/// — unless terminating pods are wanted — not being deleted.
pub fn belongs_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    !is_terminal(pod) && !addresses(pod).is_empty() && (include_terminating || !is_terminating(pod))
}

/// The Service's selector, when it has one (a Service without selector
/// gets its endpoints from elsewhere).
pub fn selector(service: &Service) -> Option<&std::collections::BTreeMap<String, String>> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// Whether the Service's selector matches these pod labels.
pub fn selects(
    service: &Service,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> bool {
    let Some(selector) = selector(service) else {
        return false;
    };
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether a Service's endpoints are left to others: no selector, or an
/// ExternalName.
pub fn is_managed(service: &Service) -> bool {
    let external = service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName");
    !external && selector(service).is_some()
}

/// `clusterIP: None` (or no cluster IP at all).
pub fn is_headless(service: &Service) -> bool {
    let ip = service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("");
    ip.is_empty() || ip == "None"
}

pub fn publishes_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// Upstream's `FindPort`: a numeric target port as it is; a named one
/// looked up among the pod's container ports (and its sidecars') with
/// the Service port's protocol.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match port.target_port.as_ref() {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// Upstream's `ShouldSetHostname`: the pod names a hostname and this
/// Service as its subdomain.
pub fn hostname<'a>(pod: &'a Pod, service: &Service) -> Option<&'a str> {
    let spec = pod.spec.as_ref()?;
    let host = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same_namespace = pod.metadata.namespace == service.metadata.namespace;
    (spec.subdomain.as_deref() == service.metadata.name.as_deref() && same_namespace)
        .then_some(host)
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Pods and Services as tests write them.

    use k8s_openapi::api::core::v1::{Pod, Service};
    use serde_json::json;

    pub fn service(name: &str, spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": spec,
        }))
        .unwrap()
    }

    /// A pod labelled app=web with an address, ready or not.
    pub fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x",
                "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{pod, service};
    use super::*;
    use serde_json::json;

    #[test]
    fn named_target_ports_resolve_per_pod_and_protocol() {
        let p = pod("a", "10.1.0.2", true);
        let svc = service(
            "web",
            json!({"ports": [
                {"name": "h", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "u", "port": 81, "targetPort": "http", "protocol": "UDP"},
                {"name": "n", "port": 82, "targetPort": 9000},
            ]}),
        );
        let ports = &svc.spec.as_ref().unwrap().ports.as_ref().unwrap();
        assert_eq!(find_port(&p, &ports[0]), Some(8080));
        assert_eq!(find_port(&p, &ports[1]), None);
        assert_eq!(find_port(&p, &ports[2]), Some(9000));
    }

    #[test]
    fn a_pod_counts_once_it_has_an_address_and_until_it_finishes() {
        let mut p = pod("a", "10.1.0.2", false);
        assert!(belongs_in_endpoints(&p, false));
        p.status.as_mut().unwrap().pod_ip = None;
        p.status.as_mut().unwrap().pod_ips = None;
        assert!(!belongs_in_endpoints(&p, true));
        let mut done = pod("b", "10.1.0.3", false);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!belongs_in_endpoints(&done, true));
        let mut going = pod("c", "10.1.0.4", true);
        going.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        assert!(!belongs_in_endpoints(&going, false));
        assert!(belongs_in_endpoints(&going, true));
    }

    #[test]
    fn hostnames_are_published_only_under_their_subdomain() {
        let mut p = pod("web-0", "10.1.0.2", true);
        let svc = service("web", json!({"selector": {"app": "web"}}));
        assert_eq!(hostname(&p, &svc), None);
        let spec = p.spec.as_mut().unwrap();
        spec.hostname = Some("web-0".into());
        spec.subdomain = Some("other".into());
        assert_eq!(hostname(&p, &svc), None);
        p.spec.as_mut().unwrap().subdomain = Some("web".into());
        assert_eq!(hostname(&p, &svc), Some("web-0"));
    }

    #[test]
    fn selectors_match_all_their_labels() {
        let svc = service("web", json!({"selector": {"app": "web"}}));
        let p = pod("a", "10.1.0.2", true);
        assert!(selects(&svc, p.metadata.labels.as_ref()));
        assert!(!selects(&svc, None));
        let none = service("x", json!({}));
        assert!(!selects(&none, p.metadata.labels.as_ref()));
        assert!(!is_managed(&none));
        let ext = service(
            "e",
            json!({"type": "ExternalName", "selector": {"app": "web"}}),
        );
        assert!(!is_managed(&ext));
    }
}
