//! The EndpointSlices of a Service (discovery/v1, upstream's
//! EndpointSlice reconciler): one endpoint per selected pod with an
//! address of the slice's type, its `ready`/`serving`/`terminating`
//! conditions, hostname, node and target reference; endpoints grouped by
//! the ports they resolve to, at most [`MAX_ENDPOINTS`] per slice.
//!
//! [`plan`] compares the slices that exist with what should exist and
//! says which to create, update and delete, changing as few as it can: an
//! endpoint stays in the slice that holds it, new endpoints fill slices
//! that change anyway before new slices are made, and a slice about to be
//! deleted is reused instead of creating another. A Service without
//! endpoints keeps one empty placeholder slice, as upstream.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use ordinal_core::pod::{is_ready, is_terminating};

use super::pods;
use super::subsets::HEADLESS_LABEL;

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Upstream's controller name: consumers (kube-proxy, CoreDNS, kubectl)
/// see our slices as the usual ones.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Endpoints per slice (upstream's `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS: usize = 100;

/// What the writes of one reconciliation are.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    /// New slices (named by `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Existing slices, changed; their resourceVersion guards the write.
    pub update: Vec<EndpointSlice>,
    /// Existing slices to remove.
    pub delete: Vec<EndpointSlice>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// The ports of a group of endpoints, as a comparable key.
type PortsKey = Vec<(Option<String>, Option<i32>, Option<String>, Option<String>)>;

fn ports_key(ports: Option<&[EndpointPort]>) -> PortsKey {
    let mut key: PortsKey = ports
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            (
                Some(p.name.clone().unwrap_or_default()),
                p.port,
                Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                p.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

/// The address types a Service's slices have: one per IP family.
fn address_types(service: &Service) -> Vec<&'static str> {
    let spec = service.spec.as_ref();
    let families = spec.and_then(|s| s.ip_families.as_deref()).unwrap_or(&[]);
    let mut types: Vec<&'static str> = families
        .iter()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some("IPv4"),
            "IPv6" => Some("IPv6"),
            _ => None,
        })
        .collect();
    if types.is_empty() {
        let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
        types = match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(_)) => vec!["IPv6"],
            Ok(_) => vec!["IPv4"],
            Err(_) => vec!["IPv4", "IPv6"],
        };
    }
    types.sort();
    types.dedup();
    types
}

/// An endpoint's identity within a slice: its pod, else its addresses.
fn endpoint_key(e: &Endpoint) -> String {
    match e.target_ref.as_ref().and_then(|r| r.uid.as_deref()) {
        Some(uid) => format!("uid:{uid}"),
        None => format!("addr:{}", e.addresses.join(",")),
    }
}

/// Upstream's `podToEndpoint` for one address type; `None` when the pod
/// has no address of that type.
fn endpoint(pod: &Pod, service: &Service, address_type: &str) -> Option<Endpoint> {
    let addresses: Vec<String> = pods::addresses(pod)
        .into_iter()
        .filter(|ip| ip.is_ipv6() == (address_type == "IPv6"))
        .map(|ip| ip.to_string())
        .collect();
    if addresses.is_empty() {
        return None;
    }
    let serving = is_ready(pod);
    let terminating = is_terminating(pod);
    let ready = pods::publishes_not_ready(service) || (serving && !terminating);
    Some(Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: pods::hostname(pod, service).map(str::to_string),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Upstream's `getEndpointPorts`: each Service port resolved on the pod;
/// ports the pod lacks are left out.
fn endpoint_ports(pod: &Pod, service: &Service) -> Vec<EndpointPort> {
    let spec_ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or(&[]);
    spec_ports
        .iter()
        .filter_map(|sp| {
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(pods::find_port(pod, sp)?),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// The labels every slice of the Service carries: the Service's own
/// (except the reserved ones), the headless label, the service name and
/// the managed-by label.
pub fn labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| {
            ![SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if pods::is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(
        SERVICE_NAME_LABEL.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    labels
}

/// Whether the slice belongs to this Service object (not to an earlier
/// Service of the same name).
fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    slice.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "Service"
            && o.api_version == "v1"
            && Some(&o.uid) == service.metadata.uid.as_ref()
    })
}

fn new_slice(service: &Service, address_type: &str, ports: Vec<EndpointPort>) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels(service)),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name,
                uid: service.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: Some(ports),
    }
}

/// What should exist for one address type: endpoints by port list.
struct Desired {
    ports: HashMap<PortsKey, Vec<EndpointPort>>,
    endpoints: BTreeMap<PortsKey, BTreeMap<String, Endpoint>>,
}

fn desired(service: &Service, pods: &[&Pod], address_type: &str) -> Desired {
    let mut out = Desired {
        ports: HashMap::new(),
        endpoints: BTreeMap::new(),
    };
    for pod in pods {
        if !pods::selects(service, pod.metadata.labels.as_ref())
            || !pods::belongs_in_endpoints(pod, true)
        {
            continue;
        }
        let Some(endpoint) = endpoint(pod, service, address_type) else {
            continue;
        };
        let ports = endpoint_ports(pod, service);
        let key = ports_key(Some(&ports));
        out.ports.entry(key.clone()).or_insert(ports);
        out.endpoints
            .entry(key)
            .or_default()
            .insert(endpoint_key(&endpoint), endpoint);
    }
    out
}

/// The writes that bring `existing` (the slices labelled with the
/// Service's name and managed by this controller) to what `service` and
/// the pods of its namespace call for.
pub fn plan(service: &Service, existing: &[EndpointSlice], pods: &[&Pod]) -> Plan {
    let mut plan = Plan::default();
    let types = address_types(service);
    let mut by_type: BTreeMap<&str, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        match types.iter().find(|t| **t == slice.address_type) {
            Some(t) => by_type.entry(t).or_default().push(slice),
            None => plan.delete.push(slice.clone()),
        }
    }
    for address_type in types {
        let slices = by_type.remove(address_type).unwrap_or_default();
        plan_address_type(service, address_type, &slices, pods, &mut plan);
    }
    plan
}

fn plan_address_type(
    service: &Service,
    address_type: &str,
    existing: &[&EndpointSlice],
    pods: &[&Pod],
    plan: &mut Plan,
) {
    let labels = labels(service);
    let mut desired = desired(service, pods, address_type);
    let mut create: Vec<EndpointSlice> = Vec::new();
    let mut update: Vec<EndpointSlice> = Vec::new();
    let mut delete: Vec<EndpointSlice> = Vec::new();
    let mut unchanged: Vec<EndpointSlice> = Vec::new();
    for slice in existing {
        if !owned_by(slice, service) {
            delete.push((*slice).clone());
            continue;
        }
        let key = ports_key(slice.ports.as_deref());
        let Some(wanted) = desired.endpoints.get_mut(&key) else {
            delete.push((*slice).clone());
            continue;
        };
        let mut changed = slice.metadata.labels.as_ref() != Some(&labels);
        let mut kept = Vec::with_capacity(slice.endpoints.len());
        for e in &slice.endpoints {
            match wanted.remove(&endpoint_key(e)) {
                Some(want) => {
                    changed |= &want != e;
                    kept.push(want);
                }
                None => changed = true,
            }
        }
        if kept.is_empty() {
            delete.push((*slice).clone());
            continue;
        }
        let mut next = (*slice).clone();
        next.endpoints = kept;
        next.metadata.labels = Some(labels.clone());
        next.metadata.managed_fields = None;
        if changed {
            update.push(next);
        } else {
            unchanged.push(next);
        }
    }
    // Endpoints not yet placed: into slices that change anyway, then into
    // the unchanged slice closest to full that takes them all, then into
    // new slices.
    for (key, remaining) in std::mem::take(&mut desired.endpoints) {
        let mut remaining: Vec<Endpoint> = remaining.into_values().collect();
        if remaining.is_empty() {
            continue;
        }
        for slice in update
            .iter_mut()
            .filter(|s| ports_key(s.ports.as_deref()) == key)
        {
            let room = MAX_ENDPOINTS.saturating_sub(slice.endpoints.len());
            let n = room.min(remaining.len());
            slice.endpoints.extend(remaining.drain(..n));
        }
        if remaining.is_empty() {
            continue;
        }
        let fits = unchanged
            .iter()
            .enumerate()
            .filter(|(_, s)| ports_key(s.ports.as_deref()) == key)
            .filter(|(_, s)| s.endpoints.len() + remaining.len() <= MAX_ENDPOINTS)
            .max_by_key(|(_, s)| s.endpoints.len())
            .map(|(i, _)| i);
        if let Some(i) = fits
            && remaining.len() <= MAX_ENDPOINTS
        {
            let mut slice = unchanged.remove(i);
            slice.endpoints.append(&mut remaining);
            update.push(slice);
            continue;
        }
        let ports = desired.ports.get(&key).cloned().unwrap_or_default();
        while !remaining.is_empty() {
            let n = remaining.len().min(MAX_ENDPOINTS);
            let mut slice = new_slice(service, address_type, ports.clone());
            slice.endpoints = remaining.drain(..n).collect();
            create.push(slice);
        }
    }
    // No slices would remain: keep (or make) the empty placeholder.
    if update.is_empty() && unchanged.is_empty() && create.is_empty() {
        let placeholder = new_slice(service, address_type, Vec::new());
        let kept = delete
            .iter()
            .position(|s| is_placeholder_of(s, &placeholder));
        match kept {
            Some(i) if delete.len() == 1 => {
                delete.remove(i);
            }
            _ => create.push(placeholder),
        }
    }
    // Reuse slices about to be deleted instead of creating new ones.
    let mut i = 0;
    while i < delete.len() && !create.is_empty() {
        if delete[i].address_type == address_type && owned_by(&delete[i], service) {
            let old = delete.remove(i);
            let mut slice = create.pop().expect("not empty");
            slice.metadata.name = old.metadata.name.clone();
            slice.metadata.generate_name = old.metadata.generate_name.clone();
            slice.metadata.resource_version = old.metadata.resource_version.clone();
            slice.metadata.uid = old.metadata.uid.clone();
            slice.metadata.annotations = old.metadata.annotations.clone();
            update.push(slice);
        } else {
            i += 1;
        }
    }
    plan.create.extend(create);
    plan.update.extend(update);
    plan.delete.extend(delete);
}

/// Upstream's `placeholderSliceCompare`: same namespace, labels, owner,
/// no endpoints, no ports.
fn is_placeholder_of(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.endpoints.is_empty()
        && slice.ports.as_deref().unwrap_or(&[]).is_empty()
        && slice.metadata.namespace == placeholder.metadata.namespace
        && slice.metadata.labels == placeholder.metadata.labels
        && slice.metadata.owner_references == placeholder.metadata.owner_references
}

#[cfg(test)]
mod tests {
    use super::super::pods::fixtures::{pod, service};
    use super::*;
    use serde_json::json;

    fn web() -> Service {
        let mut s = service(
            "web",
            json!({"selector": {"app": "web"}, "clusterIP": "10.96.0.10", "ipFamilies": ["IPv4"],
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}),
        );
        s.metadata.labels = Some([("team".into(), "a".into())].into());
        s
    }

    /// Applies a plan as the API server would, naming new slices.
    fn apply(existing: &mut Vec<EndpointSlice>, plan: Plan) {
        for d in &plan.delete {
            existing.retain(|s| s.metadata.name != d.metadata.name);
        }
        for u in plan.update {
            let slot = existing
                .iter_mut()
                .find(|s| s.metadata.name == u.metadata.name)
                .expect("updated slice exists");
            *slot = u;
        }
        for (i, mut c) in plan.create.into_iter().enumerate() {
            c.metadata.name = Some(format!("web-{}-{i}", existing.len()));
            existing.push(c);
        }
    }

    fn all_ips(slices: &[EndpointSlice]) -> Vec<String> {
        let mut ips: Vec<String> = slices
            .iter()
            .flat_map(|s| s.endpoints.iter().flat_map(|e| e.addresses.clone()))
            .collect();
        ips.sort();
        ips
    }

    #[test]
    fn a_new_service_gets_one_slice_with_conditions_and_labels() {
        let (a, b) = (pod("a", "10.1.0.1", true), pod("b", "10.1.0.2", false));
        let plan = plan(&web(), &[], &[&a, &b]);
        assert_eq!(plan.create.len(), 1);
        let slice = &plan.create[0];
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        let labels = slice.metadata.labels.as_ref().unwrap();
        assert_eq!(labels.get(SERVICE_NAME_LABEL).unwrap(), "web");
        assert_eq!(labels.get(MANAGED_BY_LABEL).unwrap(), CONTROLLER_NAME);
        assert_eq!(labels.get("team").unwrap(), "a");
        let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Service", "uid-web")
        );
        assert_eq!(slice.ports.as_ref().unwrap()[0].port, Some(8080));
        let conditions: Vec<_> = slice
            .endpoints
            .iter()
            .map(|e| e.conditions.clone().unwrap())
            .map(|c| (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap()))
            .collect();
        assert_eq!(conditions, [(true, true, false), (false, false, false)]);
        assert_eq!(
            slice.endpoints[0]
                .target_ref
                .as_ref()
                .unwrap()
                .name
                .as_deref(),
            Some("a")
        );
        assert_eq!(slice.endpoints[0].node_name.as_deref(), Some("node-1"));
    }

    #[test]
    fn a_readiness_change_updates_the_slice_in_place() {
        let mut slices = Vec::new();
        let (a, b) = (pod("a", "10.1.0.1", true), pod("b", "10.1.0.2", false));
        let p = plan(&web(), &slices, &[&a, &b]);
        apply(&mut slices, p);
        assert!(
            plan(&web(), &slices, &[&a, &b]).is_empty(),
            "nothing to do twice"
        );
        let b_ready = pod("b", "10.1.0.2", true);
        let p = plan(&web(), &slices, &[&a, &b_ready]);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].metadata.name, slices[0].metadata.name);
        assert!(
            p.update[0]
                .endpoints
                .iter()
                .all(|e| e.conditions.as_ref().unwrap().ready == Some(true))
        );
    }

    #[test]
    fn terminating_pods_stay_not_ready_and_serving_unless_published() {
        let mut going = pod("a", "10.1.0.1", true);
        going.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        let p = plan(&web(), &[], &[&going]);
        let c = p.create[0].endpoints[0].conditions.clone().unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(true), Some(true))
        );
        let mut published = web();
        published.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let p = plan(&published, &[], &[&going]);
        assert_eq!(
            p.create[0].endpoints[0].conditions.as_ref().unwrap().ready,
            Some(true)
        );
    }

    #[test]
    fn no_endpoints_means_one_placeholder_slice_kept_across_syncs() {
        let mut slices = Vec::new();
        let p = plan(&web(), &slices, &[]);
        assert_eq!(p.create.len(), 1);
        assert!(p.create[0].endpoints.is_empty());
        assert_eq!(p.create[0].ports.as_deref(), Some(&[][..]));
        apply(&mut slices, p);
        assert!(plan(&web(), &slices, &[]).is_empty());
        // The first endpoint reuses the placeholder rather than making a
        // second slice.
        let a = pod("a", "10.1.0.1", true);
        let p = plan(&web(), &slices, &[&a]);
        assert!(p.create.is_empty() && p.delete.is_empty(), "{p:?}");
        assert_eq!(p.update[0].metadata.name, slices[0].metadata.name);
        apply(&mut slices, p);
        // And the last one leaving turns it back into the placeholder.
        let p = plan(&web(), &slices, &[]);
        assert!(p.create.is_empty() && p.delete.is_empty(), "{p:?}");
        assert!(p.update[0].endpoints.is_empty());
    }

    #[test]
    fn slices_hold_at_most_a_hundred_endpoints_and_keep_their_members() {
        let pods: Vec<Pod> = (0..250)
            .map(|i| {
                pod(
                    &format!("p{i:03}"),
                    &format!("10.1.{}.{}", i / 200, i % 200 + 1),
                    true,
                )
            })
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let mut slices = Vec::new();
        let p = plan(&web(), &slices, &refs);
        apply(&mut slices, p);
        assert_eq!(slices.len(), 3);
        assert!(slices.iter().all(|s| s.endpoints.len() <= MAX_ENDPOINTS));
        assert_eq!(all_ips(&slices).len(), 250);
        // One pod leaves and another comes: one slice changes.
        let mut next: Vec<&Pod> = refs[1..].to_vec();
        let newcomer = pod("new", "10.1.9.9", true);
        next.push(&newcomer);
        let p = plan(&web(), &slices, &next);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.update.len(), 1, "{:?}", p.update.len());
        apply(&mut slices, p);
        assert_eq!(all_ips(&slices).len(), 250);
        assert!(all_ips(&slices).contains(&"10.1.9.9".to_string()));
    }

    #[test]
    fn ports_resolving_differently_split_slices_and_stale_ones_go() {
        let a = pod("a", "10.1.0.1", true);
        let mut b = pod("b", "10.1.0.2", true);
        b.spec.as_mut().unwrap().containers[0]
            .ports
            .as_mut()
            .unwrap()[0]
            .container_port = 9090;
        let mut slices = Vec::new();
        let p = plan(&web(), &slices, &[&a, &b]);
        apply(&mut slices, p);
        assert_eq!(slices.len(), 2);
        let p = plan(&web(), &slices, &[&a]);
        assert_eq!(p.delete.len(), 1);
        assert!(p.create.is_empty() && p.update.is_empty());
    }

    #[test]
    fn slices_of_an_earlier_service_with_the_same_name_are_replaced() {
        let a = pod("a", "10.1.0.1", true);
        let mut slices = Vec::new();
        let p = plan(&web(), &slices, &[&a]);
        apply(&mut slices, p);
        let mut again = web();
        again.metadata.uid = Some("uid-web-2".into());
        let p = plan(&again, &slices, &[&a]);
        assert_eq!(p.delete.len(), 1);
        assert_eq!(p.create.len(), 1);
        assert_eq!(
            p.create[0].metadata.owner_references.as_ref().unwrap()[0].uid,
            "uid-web-2"
        );
    }

    #[test]
    fn a_label_change_on_the_service_reaches_its_slices() {
        let a = pod("a", "10.1.0.1", true);
        let mut slices = Vec::new();
        let p = plan(&web(), &slices, &[&a]);
        apply(&mut slices, p);
        let mut relabelled = web();
        relabelled.metadata.labels = Some([("team".into(), "b".into())].into());
        let p = plan(&relabelled, &slices, &[&a]);
        assert_eq!(p.update.len(), 1);
        assert_eq!(
            p.update[0]
                .metadata
                .labels
                .as_ref()
                .unwrap()
                .get("team")
                .unwrap(),
            "b"
        );
    }
}
