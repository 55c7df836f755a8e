//! The Endpoints object of a Service (core/v1, upstream's endpoints
//! controller): one address per selected pod that has one, ready or not
//! ready, grouped into subsets by the ports they serve.
//!
//! Pure: `(service, pods) -> Endpoints`; the driver compares and writes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ordinal_core::pod::is_ready;

use super::pods;

/// The label upstream puts on the Endpoints (and slices) of a headless
/// Service.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Set when more addresses were found than an Endpoints object holds.
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// The most addresses an Endpoints object holds (upstream's
/// `maxCapacity`); the rest are left out and the object is annotated.
pub const MAX_ADDRESSES: usize = 1000;

/// One address and whether it is ready, before grouping.
struct Entry {
    ports: Vec<EndpointPort>,
    address: EndpointAddress,
    ip: IpAddr,
    ready: bool,
}

/// The Endpoints `service` should have, given the pods of its namespace.
pub fn desired(service: &Service, pods: &[&Pod]) -> Endpoints {
    let tolerate_unready = pods::publishes_not_ready(service);
    let spec_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or(&[]);
    let mut entries = Vec::new();
    for pod in pods {
        if !pods::selects(service, pod.metadata.labels.as_ref())
            || !pods::belongs_in_endpoints(pod, tolerate_unready)
        {
            continue;
        }
        let Some(ip) = pods::addresses(pod).into_iter().next() else {
            continue;
        };
        let address = EndpointAddress {
            ip: ip.to_string(),
            hostname: pods::hostname(pod, service).map(str::to_string),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: pod.metadata.namespace.clone(),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
        };
        let ready = tolerate_unready || is_ready(pod);
        if spec_ports.is_empty() {
            // Only a headless Service may have no ports; its addresses
            // still count.
            if pods::is_headless(service) {
                entries.push(Entry {
                    ports: Vec::new(),
                    address,
                    ip,
                    ready,
                });
            }
            continue;
        }
        let mut ports: Vec<EndpointPort> = spec_ports
            .iter()
            .filter_map(|sp| {
                Some(EndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port: pods::find_port(pod, sp)?,
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        if ports.is_empty() {
            continue;
        }
        sort_ports(&mut ports);
        entries.push(Entry {
            ports,
            address,
            ip,
            ready,
        });
    }
    let over_capacity = entries.len() > MAX_ADDRESSES;
    if over_capacity {
        // Ready addresses first, then by address, as much as fits.
        entries.sort_by(|a, b| b.ready.cmp(&a.ready).then(a.ip.cmp(&b.ip)));
        entries.truncate(MAX_ADDRESSES);
    }
    let mut annotations = BTreeMap::new();
    if over_capacity {
        annotations.insert(OVER_CAPACITY.to_string(), "truncated".to_string());
    }
    Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels(service)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        subsets: Some(repack(entries)),
    }
}

/// The Service's labels, with the headless label added or removed.
fn labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if pods::is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

fn sort_ports(ports: &mut [EndpointPort]) {
    ports.sort_by(|a, b| {
        (a.name.as_deref(), a.port, a.protocol.as_deref()).cmp(&(
            b.name.as_deref(),
            b.port,
            b.protocol.as_deref(),
        ))
    });
}

/// Upstream's `RepackSubsets`: one subset per distinct port list, its
/// addresses ordered by IP and then pod UID.
fn repack(entries: Vec<Entry>) -> Vec<EndpointSubset> {
    type Key = Vec<(Option<String>, i32, Option<String>, Option<String>)>;
    let mut groups: BTreeMap<Key, (Vec<EndpointPort>, Vec<Entry>)> = BTreeMap::new();
    for entry in entries {
        let key: Key = entry
            .ports
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.port,
                    p.protocol.clone(),
                    p.app_protocol.clone(),
                )
            })
            .collect();
        groups
            .entry(key)
            .or_insert_with(|| (entry.ports.clone(), Vec::new()))
            .1
            .push(entry);
    }
    groups
        .into_values()
        .map(|(ports, mut entries)| {
            entries.sort_by(|a, b| {
                a.ip.cmp(&b.ip).then_with(|| {
                    let uid = |e: &Entry| e.address.target_ref.as_ref().and_then(|r| r.uid.clone());
                    uid(a).cmp(&uid(b))
                })
            });
            let (ready, not_ready): (Vec<Entry>, Vec<Entry>) =
                entries.into_iter().partition(|e| e.ready);
            let list = |v: Vec<Entry>| {
                let v: Vec<EndpointAddress> = v.into_iter().map(|e| e.address).collect();
                (!v.is_empty()).then_some(v)
            };
            EndpointSubset {
                addresses: list(ready),
                not_ready_addresses: list(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// Whether `current` already says what `desired` says: same subsets, same
/// labels, same over-capacity annotation.
pub fn up_to_date(current: &Endpoints, desired: &Endpoints) -> bool {
    let subsets = |e: &Endpoints| e.subsets.clone().unwrap_or_default();
    let annotation = |e: &Endpoints| {
        e.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(OVER_CAPACITY).cloned())
    };
    subsets(current) == subsets(desired)
        && current.metadata.labels.clone().unwrap_or_default()
            == desired.metadata.labels.clone().unwrap_or_default()
        && annotation(current) == annotation(desired)
}

/// `current` changed to say what `desired` says, keeping everything else
/// (its other annotations, its version for the compare-and-swap).
pub fn updated(current: &Endpoints, desired: &Endpoints) -> Endpoints {
    let mut next = current.clone();
    next.subsets = desired.subsets.clone();
    next.metadata.labels = desired.metadata.labels.clone();
    let mut annotations = next.metadata.annotations.take().unwrap_or_default();
    annotations.remove(OVER_CAPACITY);
    if let Some(v) = desired
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(OVER_CAPACITY))
    {
        annotations.insert(OVER_CAPACITY.into(), v.clone());
    }
    next.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    next.metadata.managed_fields = None;
    next
}

#[cfg(test)]
mod tests {
    use super::super::pods::fixtures::{pod, service};
    use super::*;
    use serde_json::json;

    fn web(extra: serde_json::Value) -> Service {
        let mut spec = json!({"selector": {"app": "web"}, "clusterIP": "10.96.0.10",
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        service("web", spec)
    }

    fn ips(addresses: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        addresses.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_and_not_ready_pods_land_in_their_lists_with_resolved_ports() {
        let (a, b, c) = (
            pod("a", "10.1.0.3", true),
            pod("b", "10.1.0.2", false),
            pod("c", "10.1.0.1", true),
        );
        let mut other = pod("x", "10.1.0.9", true);
        other.metadata.labels = Some([("app".into(), "db".into())].into());
        let ep = desired(&web(json!({})), &[&a, &b, &c, &other]);
        let subsets = ep.subsets.unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.1.0.1", "10.1.0.3"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.1.0.2"]);
        let port = &subsets[0].ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
        let target = subsets[0].addresses.as_ref().unwrap()[0]
            .target_ref
            .as_ref()
            .unwrap();
        assert_eq!(target.name.as_deref(), Some("c"));
        assert_eq!(target.kind.as_deref(), Some("Pod"));
        assert_eq!(ep.metadata.name.as_deref(), Some("web"));
    }

    #[test]
    fn publish_not_ready_addresses_makes_every_address_ready() {
        let (a, b) = (pod("a", "10.1.0.1", false), pod("b", "10.1.0.2", true));
        let ep = desired(&web(json!({"publishNotReadyAddresses": true})), &[&a, &b]);
        let subsets = ep.subsets.unwrap();
        assert_eq!(ips(&subsets[0].addresses), ["10.1.0.1", "10.1.0.2"]);
        assert!(subsets[0].not_ready_addresses.is_none());
    }

    #[test]
    fn pods_without_the_named_port_form_no_subset_and_others_group_by_port() {
        let a = pod("a", "10.1.0.1", true);
        let mut b = pod("b", "10.1.0.2", true);
        b.spec.as_mut().unwrap().containers[0]
            .ports
            .as_mut()
            .unwrap()[0]
            .container_port = 9090;
        let mut c = pod("c", "10.1.0.3", true);
        c.spec.as_mut().unwrap().containers[0].ports = None;
        let ep = desired(&web(json!({})), &[&a, &b, &c]);
        let subsets = ep.subsets.unwrap();
        assert_eq!(subsets.len(), 2);
        let ports: Vec<i32> = subsets
            .iter()
            .map(|s| s.ports.as_ref().unwrap()[0].port)
            .collect();
        assert_eq!(ports, [8080, 9090]);
    }

    #[test]
    fn headless_services_are_labelled_and_may_have_no_ports() {
        let mut a = pod("web-0", "10.1.0.1", true);
        a.spec.as_mut().unwrap().hostname = Some("web-0".into());
        a.spec.as_mut().unwrap().subdomain = Some("web".into());
        let svc = service(
            "web",
            json!({"selector": {"app": "web"}, "clusterIP": "None"}),
        );
        let ep = desired(&svc, &[&a]);
        assert_eq!(
            ep.metadata.labels.as_ref().unwrap().get(HEADLESS_LABEL),
            Some(&String::new())
        );
        let subsets = ep.subsets.unwrap();
        assert!(subsets[0].ports.is_none());
        assert_eq!(
            subsets[0].addresses.as_ref().unwrap()[0]
                .hostname
                .as_deref(),
            Some("web-0")
        );
    }

    #[test]
    fn terminating_pods_leave_unless_not_ready_addresses_are_published() {
        let mut a = pod("a", "10.1.0.1", true);
        a.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ));
        assert!(desired(&web(json!({})), &[&a]).subsets.unwrap().is_empty());
        let kept = desired(&web(json!({"publishNotReadyAddresses": true})), &[&a]);
        assert_eq!(kept.subsets.unwrap().len(), 1);
    }

    #[test]
    fn too_many_addresses_are_truncated_and_annotated() {
        let pods: Vec<Pod> = (0..1005)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.1.{}.{}", i / 250, i % 250 + 1),
                    i % 2 == 0,
                )
            })
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let ep = desired(&web(json!({})), &refs);
        let subsets = ep.subsets.as_ref().unwrap();
        let total: usize = subsets
            .iter()
            .map(|s| ips(&s.addresses).len() + ips(&s.not_ready_addresses).len())
            .sum();
        assert_eq!(total, MAX_ADDRESSES);
        assert_eq!(ips(&subsets[0].addresses).len(), 503);
        assert_eq!(
            ep.metadata
                .annotations
                .as_ref()
                .unwrap()
                .get(OVER_CAPACITY)
                .map(String::as_str),
            Some("truncated")
        );
    }

    #[test]
    fn an_unchanged_object_needs_no_write() {
        let a = pod("a", "10.1.0.1", true);
        let want = desired(&web(json!({})), &[&a]);
        let mut current = want.clone();
        current.metadata.resource_version = Some("7".into());
        current.metadata.annotations = Some([("x".into(), "y".into())].into());
        assert!(up_to_date(&current, &want));
        let b = pod("b", "10.1.0.2", true);
        let want2 = desired(&web(json!({})), &[&a, &b]);
        assert!(!up_to_date(&current, &want2));
        let next = updated(&current, &want2);
        assert_eq!(next.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(
            next.metadata
                .annotations
                .unwrap()
                .get("x")
                .map(String::as_str),
            Some("y")
        );
    }
}
