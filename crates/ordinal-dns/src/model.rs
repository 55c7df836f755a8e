//! What the cluster DNS knows: Services and the ready endpoints of their
//! EndpointSlices, kept as an immutable [`Zone`] snapshot that queries
//! read without locking each other or the writers out.
//!
//! Writers (the watch feed) change one Service or one slice at a time;
//! each change recomputes that one Service's view and swaps in a new
//! snapshot. The maps are persistent (`imbl`), so a new snapshot shares
//! everything the change did not touch and costs O(log n), whatever the
//! size of the cluster. A query sees the state of one moment: never half
//! of an update.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label that names a slice's Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A Service by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ServiceKey {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl ServiceKey {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        ServiceKey {
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        }
    }
}

/// A port, for SRV records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The port's name, lowercase; may be empty.
    pub name: String,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The port number the SRV records give.
    pub port: u16,
}

/// What the DNS uses of a Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    /// The addresses the Service's name resolves to; empty for headless
    /// and ExternalName Services.
    pub cluster_ips: Vec<IpAddr>,
    /// `clusterIP: None`: the name resolves to the endpoints.
    pub headless: bool,
    /// An ExternalName Service's target.
    pub external_name: Option<String>,
    /// The Service's ports, for SRV records of a Service with a cluster IP.
    pub ports: Vec<Port>,
}

impl ServiceInfo {
    /// Reads a Service; anything malformed is left out.
    pub(crate) fn from_service(service: &Service) -> ServiceInfo {
        let Some(spec) = service.spec.as_ref() else {
            return ServiceInfo::default();
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            return ServiceInfo {
                external_name: spec
                    .external_name
                    .as_deref()
                    .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                    .filter(|n| !n.is_empty()),
                ..Default::default()
            };
        }
        let ips: Vec<&str> = match spec.cluster_ips.as_deref() {
            Some(ips) if !ips.is_empty() => ips.iter().map(String::as_str).collect(),
            _ => spec.cluster_ip.as_deref().into_iter().collect(),
        };
        let headless = ips.first().is_none_or(|ip| *ip == "None" || ip.is_empty());
        ServiceInfo {
            cluster_ips: ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
            headless,
            external_name: None,
            ports: spec
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some(Port {
                        name: p.name.as_deref().unwrap_or("").to_ascii_lowercase(),
                        protocol: protocol(p.protocol.as_deref()),
                        port: u16::try_from(p.port).ok()?,
                    })
                })
                .collect(),
        }
    }
}

fn protocol(p: Option<&str>) -> String {
    p.unwrap_or("TCP").to_ascii_lowercase()
}

/// One endpoint of a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    /// The endpoint's addresses (a Pod's IPs).
    pub ips: Vec<IpAddr>,
    /// Its name under a headless Service (`web-0`), lowercase; `None`
    /// names it by its dashed address.
    pub hostname: Option<String>,
    /// Whether it is ready: only ready endpoints get records.
    pub ready: bool,
}

/// What the DNS uses of an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceInfo {
    /// The name of the Service the slice belongs to, lowercase.
    pub service: String,
    /// The endpoints' ports, for the SRV records of a headless Service.
    pub ports: Vec<Port>,
    /// Every endpoint, ready or not.
    pub endpoints: Vec<EndpointInfo>,
}

impl SliceInfo {
    /// Reads a slice; `None` when it names no Service.
    pub(crate) fn from_slice(slice: &EndpointSlice) -> Option<SliceInfo> {
        let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
        Some(SliceInfo {
            service: service.to_ascii_lowercase(),
            ports: slice
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some(Port {
                        name: p.name.as_deref().unwrap_or("").to_ascii_lowercase(),
                        protocol: protocol(p.protocol.as_deref()),
                        port: u16::try_from(p.port?).ok()?,
                    })
                })
                .collect(),
            endpoints: slice
                .endpoints
                .iter()
                .map(|e| EndpointInfo {
                    ips: e.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
                    hostname: e
                        .hostname
                        .as_deref()
                        .map(str::to_ascii_lowercase)
                        .filter(|h| !h.is_empty()),
                    // An unknown readiness counts as ready (the API's rule).
                    ready: e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true),
                })
                .collect(),
        })
    }
}

/// A ready endpoint as DNS names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointView {
    pub ip: IpAddr,
    /// Its label under the Service: the hostname, else the address with
    /// dashes (`10-244-0-5`), as CoreDNS names endpoints.
    pub label: String,
    pub ports: Vec<Port>,
}

/// Everything DNS answers about one Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ServiceView {
    pub info: ServiceInfo,
    /// Ready endpoints, in a stable order (by label, then address).
    pub endpoints: Vec<EndpointView>,
}

/// The dashed form of an address: `10-244-0-5`, `fd00--1`.
pub(crate) fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// An immutable snapshot of what the DNS knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Zone {
    pub services: imbl::HashMap<ServiceKey, Arc<ServiceView>>,
    /// How many Services each namespace has (a namespace with none has no
    /// name under `svc`).
    pub namespaces: imbl::HashMap<String, usize>,
    /// Address → the names pointing at it, per Service.
    pub reverse: imbl::HashMap<IpAddr, imbl::OrdMap<(ServiceKey, String), ()>>,
    /// The SOA serial: the second of the last change.
    pub serial: u32,
}

impl Zone {
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Arc<ServiceView>> {
        self.services.get(&ServiceKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// The names (relative labels: `(service key, endpoint label or "")`)
    /// that point at `ip`.
    pub fn names_of(&self, ip: IpAddr) -> Vec<(ServiceKey, String)> {
        self.reverse
            .get(&ip)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn set_view(&mut self, key: &ServiceKey, view: Option<ServiceView>) {
        let old = self.services.get(key).cloned();
        if let Some(old) = &old {
            for (ip, label) in reverse_entries(old) {
                if let Some(names) = self.reverse.get_mut(&ip) {
                    names.remove(&(key.clone(), label));
                    if names.is_empty() {
                        self.reverse.remove(&ip);
                    }
                }
            }
        }
        match (&old, &view) {
            (None, Some(_)) => *self.namespaces.entry(key.namespace.clone()).or_insert(0) += 1,
            (Some(_), None) => {
                let left = self.namespaces.get(&key.namespace).copied().unwrap_or(1) - 1;
                if left == 0 {
                    self.namespaces.remove(&key.namespace);
                } else {
                    self.namespaces.insert(key.namespace.clone(), left);
                }
            }
            _ => {}
        }
        match view {
            Some(view) => {
                for (ip, label) in reverse_entries(&view) {
                    self.reverse
                        .entry(ip)
                        .or_default()
                        .insert((key.clone(), label), ());
                }
                self.services.insert(key.clone(), Arc::new(view));
            }
            None => {
                self.services.remove(key);
            }
        }
    }
}

/// The reverse entries of a Service: its cluster IPs name the Service,
/// its endpoints their own names.
fn reverse_entries(view: &ServiceView) -> Vec<(IpAddr, String)> {
    let mut out: Vec<(IpAddr, String)> = view
        .info
        .cluster_ips
        .iter()
        .map(|ip| (*ip, String::new()))
        .collect();
    out.extend(view.endpoints.iter().map(|e| (e.ip, e.label.clone())));
    out
}

/// The sources the zone is computed from.
#[derive(Default)]
struct Sources {
    services: HashMap<ServiceKey, ServiceInfo>,
    /// (namespace, slice name) → slice.
    slices: HashMap<(String, String), SliceInfo>,
    /// Service → the names of its slices.
    slices_of: HashMap<ServiceKey, BTreeSet<String>>,
}

impl Sources {
    fn view(&self, key: &ServiceKey) -> Option<ServiceView> {
        let info = self.services.get(key)?.clone();
        let mut endpoints: BTreeMap<(String, IpAddr), EndpointView> = BTreeMap::new();
        for slice_name in self.slices_of.get(key).into_iter().flatten() {
            let Some(slice) = self
                .slices
                .get(&(key.namespace.clone(), slice_name.clone()))
            else {
                continue;
            };
            for e in slice.endpoints.iter().filter(|e| e.ready) {
                for ip in &e.ips {
                    let label = e.hostname.clone().unwrap_or_else(|| dashed(*ip));
                    endpoints
                        .entry((label.clone(), *ip))
                        .or_insert_with(|| EndpointView {
                            ip: *ip,
                            label,
                            ports: slice.ports.clone(),
                        });
                }
            }
        }
        Some(ServiceView {
            info,
            endpoints: endpoints.into_values().collect(),
        })
    }
}

/// The DNS model: sources behind a lock for writers, the current zone
/// behind another for readers.
pub struct Model {
    sources: Mutex<Sources>,
    zone: RwLock<Arc<Zone>>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            sources: Mutex::new(Sources::default()),
            zone: RwLock::new(Arc::new(Zone::default())),
        }
    }
}

fn now_serial() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
}

impl Model {
    /// An empty model, shared between the feed that fills it and the
    /// server that answers from it.
    pub fn new() -> Arc<Model> {
        Arc::new(Model::default())
    }

    /// The current snapshot.
    pub(crate) fn zone(&self) -> Arc<Zone> {
        Arc::clone(&self.zone.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn sources(&self) -> MutexGuard<'_, Sources> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Recomputes the views of `keys` and publishes a new snapshot.
    fn publish(&self, sources: &Sources, keys: impl IntoIterator<Item = ServiceKey>) {
        let mut zone = (*self.zone()).clone();
        for key in keys {
            zone.set_view(&key, sources.view(&key));
        }
        zone.serial = now_serial();
        *self.zone.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(zone);
    }

    /// A Service was added or changed.
    pub fn apply_service(&self, namespace: &str, name: &str, info: ServiceInfo) {
        let key = ServiceKey::new(namespace, name);
        let mut sources = self.sources();
        if sources.services.get(&key) == Some(&info) {
            return;
        }
        sources.services.insert(key.clone(), info);
        self.publish(&sources, [key]);
    }

    /// A Service was deleted.
    pub(crate) fn delete_service(&self, namespace: &str, name: &str) {
        let key = ServiceKey::new(namespace, name);
        let mut sources = self.sources();
        if sources.services.remove(&key).is_some() {
            self.publish(&sources, [key]);
        }
    }

    /// A slice was added or changed (`None`: it names no Service, so it
    /// counts as deleted).
    pub fn apply_slice(&self, namespace: &str, name: &str, slice: Option<SliceInfo>) {
        let namespace = namespace.to_ascii_lowercase();
        let id = (namespace.clone(), name.to_string());
        let mut sources = self.sources();
        let mut touched = Vec::new();
        if let Some(old) = sources.slices.get(&id) {
            if Some(old) == slice.as_ref() {
                return;
            }
            touched.push(ServiceKey {
                namespace: namespace.clone(),
                name: old.service.clone(),
            });
        }
        match slice {
            Some(slice) => {
                let key = ServiceKey {
                    namespace: namespace.clone(),
                    name: slice.service.clone(),
                };
                sources.slices.insert(id, slice);
                touched.push(key);
            }
            None => {
                if sources.slices.remove(&id).is_none() {
                    return;
                }
            }
        }
        for key in &touched {
            let present = sources
                .slices
                .contains_key(&(namespace.clone(), name.to_string()))
                && sources.slices[&(namespace.clone(), name.to_string())].service == key.name;
            let names = sources.slices_of.entry(key.clone()).or_default();
            if present {
                names.insert(name.to_string());
            } else {
                names.remove(name);
            }
            if names.is_empty() {
                sources.slices_of.remove(key);
            }
        }
        self.publish(&sources, touched);
    }

    /// A slice was deleted.
    pub(crate) fn delete_slice(&self, namespace: &str, name: &str) {
        self.apply_slice(namespace, name, None);
    }

    /// A full list of Services (after a watch's relist): replaces them all.
    pub(crate) fn reset_services(&self, services: Vec<(String, String, ServiceInfo)>) {
        let mut sources = self.sources();
        let fresh: HashMap<ServiceKey, ServiceInfo> = services
            .into_iter()
            .map(|(ns, name, info)| (ServiceKey::new(&ns, &name), info))
            .collect();
        let mut keys: BTreeSet<ServiceKey> = sources.services.keys().cloned().collect();
        keys.extend(fresh.keys().cloned());
        sources.services = fresh;
        self.publish(&sources, keys);
    }

    /// A full list of slices (after a watch's relist): replaces them all.
    pub(crate) fn reset_slices(&self, slices: Vec<(String, String, Option<SliceInfo>)>) {
        let mut sources = self.sources();
        let mut keys: BTreeSet<ServiceKey> = sources.slices_of.keys().cloned().collect();
        sources.slices.clear();
        sources.slices_of.clear();
        for (ns, name, slice) in slices {
            let Some(slice) = slice else { continue };
            let ns = ns.to_ascii_lowercase();
            let key = ServiceKey {
                namespace: ns.clone(),
                name: slice.service.clone(),
            };
            sources
                .slices_of
                .entry(key.clone())
                .or_default()
                .insert(name.clone());
            sources.slices.insert((ns, name), slice);
            keys.insert(key);
        }
        self.publish(&sources, keys);
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Services and slices as tests write them.

    use super::*;

    pub fn cluster_ip(ip: &str, ports: &[(&str, &str, u16)]) -> ServiceInfo {
        ServiceInfo {
            cluster_ips: vec![ip.parse().unwrap()],
            headless: false,
            external_name: None,
            ports: ports
                .iter()
                .map(|(n, p, port)| Port {
                    name: n.to_string(),
                    protocol: p.to_string(),
                    port: *port,
                })
                .collect(),
        }
    }

    pub fn headless(ports: &[(&str, &str, u16)]) -> ServiceInfo {
        ServiceInfo {
            cluster_ips: Vec::new(),
            headless: true,
            ..cluster_ip("0.0.0.0", ports)
        }
    }

    /// A slice of `service` with endpoints `(ip, hostname, ready)`.
    pub fn slice(
        service: &str,
        ports: &[(&str, &str, u16)],
        endpoints: &[(&str, Option<&str>, bool)],
    ) -> SliceInfo {
        SliceInfo {
            service: service.into(),
            ports: cluster_ip("0.0.0.0", ports).ports,
            endpoints: endpoints
                .iter()
                .map(|(ip, host, ready)| EndpointInfo {
                    ips: vec![ip.parse().unwrap()],
                    hostname: host.map(str::to_string),
                    ready: *ready,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn views_join_services_with_the_ready_endpoints_of_their_slices() {
        let m = Model::new();
        m.apply_service("default", "web", headless(&[("http", "tcp", 80)]));
        m.apply_slice(
            "default",
            "web-abc",
            Some(slice(
                "web",
                &[("http", "tcp", 8080)],
                &[
                    ("10.244.0.5", Some("web-0"), true),
                    ("10.244.0.6", None, true),
                    ("10.244.0.7", Some("web-2"), false),
                ],
            )),
        );
        let zone = m.zone();
        let view = zone.service("default", "web").unwrap();
        let labels: Vec<&str> = view.endpoints.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["10-244-0-6", "web-0"]);
        assert_eq!(view.endpoints[0].ports[0].port, 8080);
        assert_eq!(zone.namespaces.get("default"), Some(&1));
        let names = zone.names_of("10.244.0.5".parse().unwrap());
        assert_eq!(
            names,
            [(ServiceKey::new("default", "web"), "web-0".to_string())]
        );
        assert!(zone.names_of("10.244.0.7".parse().unwrap()).is_empty());
    }

    #[test]
    fn deletes_and_relists_remove_what_is_gone() {
        let m = Model::new();
        m.apply_service("a", "x", cluster_ip("10.96.0.10", &[]));
        m.apply_service("a", "y", cluster_ip("10.96.0.11", &[]));
        m.delete_service("a", "x");
        let zone = m.zone();
        assert!(zone.service("a", "x").is_none());
        assert!(zone.names_of("10.96.0.10".parse().unwrap()).is_empty());
        assert_eq!(zone.namespaces.get("a"), Some(&1));
        m.reset_services(vec![(
            "b".into(),
            "z".into(),
            cluster_ip("10.96.0.12", &[]),
        )]);
        let zone = m.zone();
        assert!(zone.service("a", "y").is_none());
        assert!(zone.namespaces.get("a").is_none());
        assert!(zone.service("b", "z").is_some());
    }

    #[test]
    fn a_slice_moving_to_another_service_leaves_the_first() {
        let m = Model::new();
        m.apply_service("d", "one", headless(&[]));
        m.apply_service("d", "two", headless(&[]));
        m.apply_slice(
            "d",
            "s",
            Some(slice("one", &[], &[("10.1.0.1", None, true)])),
        );
        m.apply_slice(
            "d",
            "s",
            Some(slice("two", &[], &[("10.1.0.1", None, true)])),
        );
        let zone = m.zone();
        assert!(zone.service("d", "one").unwrap().endpoints.is_empty());
        assert_eq!(zone.service("d", "two").unwrap().endpoints.len(), 1);
        m.delete_slice("d", "s");
        assert!(m.zone().service("d", "two").unwrap().endpoints.is_empty());
    }

    #[test]
    fn old_snapshots_stay_whole_while_the_model_changes() {
        let m = Model::new();
        m.apply_service("d", "web", cluster_ip("10.96.0.10", &[]));
        let before = m.zone();
        m.apply_service("d", "web", cluster_ip("10.96.0.20", &[]));
        assert_eq!(
            before.service("d", "web").unwrap().info.cluster_ips,
            ["10.96.0.10".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            m.zone().service("d", "web").unwrap().info.cluster_ips,
            ["10.96.0.20".parse::<IpAddr>().unwrap()]
        );
    }
}
