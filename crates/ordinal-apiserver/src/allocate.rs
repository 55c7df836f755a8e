//! ClusterIP and NodePort allocation for Services, as the service
//! registry does it between validation and storage.
//!
//! What is in use is read from the store itself — every stored Service's
//! `spec.clusterIPs`, node ports and health-check node port — plus the
//! values handed out to writes that have not reached the store yet
//! ([`Reservation`]). So an address is free again the moment its Service
//! is gone from the store, whichever path removed it (DELETE, namespace
//! cleanup, the garbage collector, a finalizer's removal), and a restart
//! needs no repair: the store is the allocation table.
//!
//! No two Services ever share an address: a value is picked and reserved
//! under one lock, and stays reserved until the write that carries it has
//! been stored (the store publishes before it answers, so the next pick
//! sees it there) or has failed.
//!
//! Upstream's messages and layout are kept: dynamic picks prefer the upper
//! part of the range (KEP-3070 for addresses, KEP-3668 for node ports), so
//! the lower part stays free for addresses users ask for, such as the
//! first address that `default/kubernetes` takes.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::Ipv4Net;
use ordinal_store::Store;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::lenient::{int, list, string};
use crate::names::{BadValue, FieldError};
use crate::resources::{self, Resource};
use crate::status::{ApiError, ApiResult, Cause};

/// The default service CIDR (kube-apiserver's documented example and
/// kubeadm's default).
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
/// The default node port range (`--service-node-port-range`).
pub const DEFAULT_NODE_PORTS: RangeInclusive<u16> = 30000..=32767;

/// Why a service network cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkError {
    /// The text is not an IPv4 network (IPv6 is not served).
    #[error("invalid service CIDR {0:?}: expected an IPv4 network such as 10.96.0.0/12")]
    Cidr(String),
    /// A prefix shorter than /12: more addresses than the allocator keeps.
    #[error("service CIDR {0} is too large: the prefix must be /12 or longer")]
    TooLarge(Ipv4Net),
    /// A prefix longer than /30: no room for Services.
    #[error("service CIDR {0} is too small: the prefix must be /30 or shorter")]
    TooSmall(Ipv4Net),
    /// The text is not `FROM-TO` (or one port) of ports in order.
    #[error("invalid node port range {0:?}: expected FROM-TO, such as 30000-32767")]
    PortRange(String),
}

/// Where Services get their addresses and node ports from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNetwork {
    /// The range ClusterIPs are allocated from (the node's proxy routes it).
    pub cidr: Ipv4Net,
    /// The ports `NodePort` Services get theirs from, both ends included
    /// ([`DEFAULT_NODE_PORTS`] unless set).
    pub node_ports: RangeInclusive<u16>,
}

impl Default for ServiceNetwork {
    fn default() -> Self {
        ServiceNetwork {
            cidr: DEFAULT_SERVICE_CIDR.parse().expect("valid default"),
            node_ports: DEFAULT_NODE_PORTS,
        }
    }
}

impl ServiceNetwork {
    /// A network from a CIDR (`10.96.0.0/12`) and the default port range.
    /// Host bits are cleared, as upstream does with the flag.
    pub fn parse(cidr: &str) -> Result<Self, NetworkError> {
        let net: Ipv4Net = cidr
            .trim()
            .parse()
            .map_err(|_| NetworkError::Cidr(cidr.to_string()))?;
        let net = net.trunc();
        if net.prefix_len() < 12 {
            return Err(NetworkError::TooLarge(net));
        }
        if net.prefix_len() > 30 {
            return Err(NetworkError::TooSmall(net));
        }
        Ok(ServiceNetwork {
            cidr: net,
            node_ports: DEFAULT_NODE_PORTS,
        })
    }

    /// Parses a node port range `FROM-TO` (or a single port).
    pub fn parse_node_ports(range: &str) -> Result<RangeInclusive<u16>, NetworkError> {
        let bad = || NetworkError::PortRange(range.to_string());
        let (from, to) = match range.trim().split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (range.trim(), range.trim()),
        };
        let from: u16 = from.parse().map_err(|_| bad())?;
        let to: u16 = to.parse().map_err(|_| bad())?;
        if from == 0 || from > to {
            return Err(bad());
        }
        Ok(from..=to)
    }

    /// The first address Services may get (the network address is never
    /// used); `default/kubernetes` takes it.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.cidr.network()) + 1)
    }

    /// The last address Services may get (the broadcast address is never
    /// used).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.cidr.broadcast()) - 1)
    }

    fn size(&self) -> u32 {
        u32::from(self.last()) - u32::from(self.first()) + 1
    }

    /// Upstream's `calculateRangeOffset`: the lower part of the range kept
    /// for addresses users ask for, `min(max(16, size/16), 256)` (none for
    /// ranges of 16 addresses or fewer).
    fn static_band(&self) -> u32 {
        let cidr_size = 1u64 << (32 - u32::from(self.cidr.prefix_len()));
        if cidr_size <= 16 {
            return 0;
        }
        (cidr_size / 16).clamp(16, 256) as u32
    }

    /// `FROM-TO`, as upstream prints a port range.
    pub fn node_port_text(&self) -> String {
        format!("{}-{}", self.node_ports.start(), self.node_ports.end())
    }

    /// The static band of the node port range (KEP-3668):
    /// `min(max(16, size/32), 128)`.
    fn static_ports(&self) -> u32 {
        let size = u32::from(*self.node_ports.end()) - u32::from(*self.node_ports.start()) + 1;
        if size <= 16 {
            return 0;
        }
        (size / 32).clamp(16, 128)
    }
}

/// Addresses and ports handed out to writes still on their way to the
/// store.
#[derive(Default)]
struct InFlight {
    ips: HashSet<Ipv4Addr>,
    ports: HashSet<u16>,
}

/// The allocator of one API server.
pub struct Allocator {
    network: ServiceNetwork,
    in_flight: Mutex<InFlight>,
}

/// Values reserved for one write; released when dropped, after the write
/// has been stored or has failed.
#[must_use = "the reservation must live until the write is stored"]
pub struct Reservation {
    allocator: Arc<Allocator>,
    ips: Vec<Ipv4Addr>,
    ports: Vec<u16>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut in_flight = self.allocator.lock();
        for ip in &self.ips {
            in_flight.ips.remove(ip);
        }
        for port in &self.ports {
            in_flight.ports.remove(port);
        }
    }
}

/// What the stored Services hold.
#[derive(Default, Debug)]
struct Used {
    ips: HashSet<Ipv4Addr>,
    ports: HashSet<u16>,
}

/// The parts of a stored Service allocation reads; serde skips the rest.
#[derive(Deserialize)]
struct StoredService {
    #[serde(default)]
    spec: Option<StoredSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSpec {
    #[serde(default, rename = "clusterIPs")]
    cluster_ips: Option<Vec<String>>,
    #[serde(default)]
    ports: Option<Vec<StoredPort>>,
    #[serde(default)]
    health_check_node_port: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPort {
    #[serde(default)]
    node_port: Option<i64>,
}

fn services() -> &'static Resource {
    &resources::SERVICES
}

/// One write's allocation work: the picks it made and the errors it found.
struct Work<'a> {
    allocator: &'a Allocator,
    in_flight: MutexGuard<'a, InFlight>,
    used: Used,
    ips: Vec<Ipv4Addr>,
    ports: Vec<u16>,
    errs: Vec<FieldError>,
}

impl Allocator {
    /// An allocator handing out addresses and ports of `network`; what
    /// is taken is read from the stored Services at each write.
    pub fn new(network: ServiceNetwork) -> Arc<Self> {
        Arc::new(Allocator {
            network,
            in_flight: Mutex::new(InFlight::default()),
        })
    }

    pub(crate) fn network(&self) -> &ServiceNetwork {
        &self.network
    }

    fn lock(&self) -> MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything the stored Services hold, except the Service at
    /// `except` (an update's own values).
    fn used(store: &Store, except: Option<&str>) -> Used {
        let mut used = Used::default();
        let snapshot = store.snapshot();
        for object in snapshot.range(&services().key_prefix(), None) {
            if Some(&*object.key) == except {
                continue;
            }
            let Ok(StoredService { spec: Some(spec) }) = serde_json::from_slice(&object.bytes)
            else {
                continue;
            };
            for ip in spec.cluster_ips.unwrap_or_default() {
                if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                    used.ips.insert(ip);
                }
            }
            let ports = spec.ports.unwrap_or_default();
            let node_ports = ports.iter().filter_map(|p| p.node_port);
            for port in node_ports.chain(spec.health_check_node_port) {
                if let Ok(port) = u16::try_from(port)
                    && port != 0
                {
                    used.ports.insert(port);
                }
            }
        }
        used
    }

    /// Allocates what a new Service needs: its cluster IP unless it is
    /// headless or an ExternalName, node ports for NodePort and
    /// LoadBalancer types, a health-check node port for a LoadBalancer
    /// with the Local traffic policy. Requested values are checked (in
    /// range, not in use). A dry run checks and picks without reserving.
    pub fn create(
        self: &Arc<Self>,
        store: &Store,
        name: &str,
        service: &mut Value,
        dry_run: bool,
    ) -> ApiResult<Option<Reservation>> {
        self.allocate(store, None, name, None, service, dry_run)
    }

    /// Allocates what an update of `old` into `new` adds: a cluster IP
    /// when an ExternalName becomes another type, node ports for ports
    /// that gained one. Values `old` holds stay its own.
    pub fn update(
        self: &Arc<Self>,
        store: &Store,
        key: &str,
        name: &str,
        old: &Value,
        new: &mut Value,
        dry_run: bool,
    ) -> ApiResult<Option<Reservation>> {
        self.allocate(store, Some(key), name, Some(old), new, dry_run)
    }

    fn allocate(
        self: &Arc<Self>,
        store: &Store,
        key: Option<&str>,
        name: &str,
        old: Option<&Value>,
        service: &mut Value,
        dry_run: bool,
    ) -> ApiResult<Option<Reservation>> {
        let null = Value::Null;
        let old_spec = old.map(|o| o.get("spec").unwrap_or(&null));
        let family_errs = check_families(service.get("spec").unwrap_or(&null));
        if !family_errs.is_empty() {
            return Err(invalid(name, &family_errs));
        }
        let mut work = Work {
            allocator: self,
            in_flight: self.lock(),
            used: Self::used(store, key),
            ips: Vec::new(),
            ports: Vec::new(),
            errs: Vec::new(),
        };
        let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(None);
        };
        let mut spec_value = Value::Object(std::mem::take(spec));
        let result = work
            .cluster_ip(&mut spec_value, old_spec)
            .and_then(|()| work.node_ports(&mut spec_value, old_spec))
            .and_then(|()| work.health_check_node_port(&mut spec_value, old_spec));
        if let (Some(spec), Value::Object(filled)) = (
            service.get_mut("spec").and_then(Value::as_object_mut),
            spec_value,
        ) {
            *spec = filled;
        }
        result?;
        if !work.errs.is_empty() {
            return Err(invalid(name, &work.errs));
        }
        if dry_run || (work.ips.is_empty() && work.ports.is_empty()) {
            return Ok(None);
        }
        for ip in &work.ips {
            work.in_flight.ips.insert(*ip);
        }
        for port in &work.ports {
            work.in_flight.ports.insert(*port);
        }
        Ok(Some(Reservation {
            allocator: Arc::clone(self),
            ips: std::mem::take(&mut work.ips),
            ports: std::mem::take(&mut work.ports),
        }))
    }
}

fn invalid(name: &str, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(services(), name, errs.iter().map(Cause::from).collect())
}

fn needs_cluster_ip(spec: &Value) -> bool {
    string(spec, "type") != "ExternalName"
}

fn is_headless(spec: &Value) -> bool {
    list(spec, "clusterIPs").first().and_then(Value::as_str) == Some("None")
        || string(spec, "clusterIP") == "None"
}

fn has_selector(spec: &Value) -> bool {
    spec.get("selector")
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty())
}

fn cluster_ips(spec: &Value) -> Vec<String> {
    list(spec, "clusterIPs")
        .iter()
        .map(|v| v.as_str().unwrap_or("").to_string())
        .collect()
}

/// The family checks of upstream's `initIPFamilyFields` for a single-stack
/// IPv4 cluster: no IPv6, no required dual stack. A headless Service
/// without selector may name any families.
fn check_families(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !needs_cluster_ip(spec) || (is_headless(spec) && !has_selector(spec)) {
        return errs;
    }
    let policy = string(spec, "ipFamilyPolicy");
    let families = list(spec, "ipFamilies");
    let ips = cluster_ips(spec);
    if policy == "SingleStack" {
        if ips.len() == 2 {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            ));
        }
        if families.len() == 2 {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            ));
        }
    }
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        if i >= families.len() {
            let family = match ip.parse::<IpAddr>() {
                Ok(IpAddr::V6(_)) => "IPv6",
                _ => "IPv4",
            };
            if family != "IPv4" || i > 0 {
                errs.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    BadValue::string_slice(&ips),
                    format!("{family} is not configured on this cluster"),
                ));
            }
        }
    }
    if !errs.is_empty() {
        return errs;
    }
    if policy == "RequireDualStack" {
        errs.push(FieldError::invalid(
            "spec.ipFamilyPolicy",
            policy,
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, family) in families.iter().enumerate() {
        if family.as_str() != Some("IPv4") {
            errs.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                BadValue::from_json(family),
                "not configured on this cluster",
            ));
        }
    }
    errs
}

/// The node ports a spec holds.
fn node_ports_of(spec: &Value) -> Vec<u16> {
    list(spec, "ports")
        .iter()
        .filter_map(|p| int(p, "nodePort"))
        .filter_map(|n| u16::try_from(n).ok())
        .filter(|n| *n != 0)
        .collect()
}

fn wants_node_ports(spec: &Value) -> bool {
    matches!(string(spec, "type"), "NodePort" | "LoadBalancer")
}

/// Whether ports without a node port get one: always for NodePort, for a
/// LoadBalancer unless `allocateLoadBalancerNodePorts` is false.
fn allocates_node_ports(spec: &Value) -> bool {
    match string(spec, "type") {
        "NodePort" => true,
        "LoadBalancer" => spec.get("allocateLoadBalancerNodePorts") != Some(&json!(false)),
        _ => false,
    }
}

fn needs_health_check(spec: &Value) -> bool {
    string(spec, "type") == "LoadBalancer" && string(spec, "externalTrafficPolicy") == "Local"
}

impl Work<'_> {
    fn network(&self) -> &ServiceNetwork {
        &self.allocator.network
    }

    fn ip_taken(&self, ip: Ipv4Addr) -> bool {
        self.used.ips.contains(&ip) || self.in_flight.ips.contains(&ip) || self.ips.contains(&ip)
    }

    fn port_taken(&self, port: u16) -> bool {
        self.used.ports.contains(&port)
            || self.in_flight.ports.contains(&port)
            || self.ports.contains(&port)
    }

    /// The cluster IP: on create, and when an update turns an ExternalName
    /// into a type that has one.
    fn cluster_ip(&mut self, spec: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        if !needs_cluster_ip(spec) || is_headless(spec) {
            return Ok(());
        }
        if old.is_some_and(needs_cluster_ip) {
            // Kept from the old object (immutable; validation checks it).
            return Ok(());
        }
        let ips = cluster_ips(spec);
        let requested = ips
            .first()
            .cloned()
            .filter(|ip| !ip.is_empty())
            .or_else(|| Some(string(spec, "clusterIP").to_string()).filter(|ip| !ip.is_empty()));
        let ip = match requested {
            Some(text) => {
                let Ok(ip) = text.parse::<Ipv4Addr>() else {
                    // Not an IPv4 address: validation and the family checks
                    // have said so already.
                    return Ok(());
                };
                if let Err(reason) = self.check_ip(ip) {
                    let shown = if ips.is_empty() {
                        vec![text.clone()]
                    } else {
                        ips
                    };
                    self.errs.push(FieldError::invalid(
                        "spec.clusterIPs",
                        BadValue::string_slice(&shown),
                        format!("failed to allocate IP {text}: {reason}"),
                    ));
                    return Ok(());
                }
                ip
            }
            None => self.next_ip().ok_or_else(|| {
                ApiError::internal(
                    "Internal error occurred: failed to allocate a serviceIP: range is full",
                )
            })?,
        };
        self.ips.push(ip);
        if let Some(map) = spec.as_object_mut() {
            map.insert("clusterIP".into(), json!(ip.to_string()));
            let mut all = ips;
            match all.first_mut() {
                Some(first) => *first = ip.to_string(),
                None => all.push(ip.to_string()),
            }
            map.insert("clusterIPs".into(), json!(all));
        }
        Ok(())
    }

    /// Upstream's errors for an address that cannot be had.
    fn check_ip(&self, ip: Ipv4Addr) -> Result<(), String> {
        let net = self.network();
        if !net.cidr.contains(&ip) {
            return Err("the provided network does not match the current range".into());
        }
        if ip < net.first() || ip > net.last() {
            return Err(format!("provided IP {ip} is not in the valid range"));
        }
        if self.ip_taken(ip) {
            return Err("provided IP is already allocated".into());
        }
        Ok(())
    }

    /// A free address: from a random point of the upper (dynamic) part of
    /// the range, then of the lower part.
    fn next_ip(&self) -> Option<Ipv4Addr> {
        let net = self.network();
        let first = u32::from(net.first());
        let size = net.size();
        let band = net.static_band().min(size);
        let mut rng = rand::rng();
        let bands = [(first + band, size - band), (first, band)];
        for (start, len) in bands {
            if len == 0 {
                continue;
            }
            let offset = rng.random_range(0..len);
            for i in 0..len {
                let ip = Ipv4Addr::from(start + (offset + i) % len);
                if !self.ip_taken(ip) {
                    return Some(ip);
                }
            }
        }
        None
    }

    fn check_port(&self, port: u16) -> Result<(), String> {
        if !self.network().node_ports.contains(&port) {
            return Err(format!(
                "provided port is not in the valid range. The range of valid ports is {}",
                self.network().node_port_text()
            ));
        }
        if self.port_taken(port) {
            return Err("provided port is already allocated".into());
        }
        Ok(())
    }

    fn next_port(&self) -> Option<u16> {
        let range = &self.network().node_ports;
        let first = u32::from(*range.start());
        let size = u32::from(*range.end()) - first + 1;
        let band = self.network().static_ports().min(size);
        let mut rng = rand::rng();
        for (start, len) in [(first + band, size - band), (first, band)] {
            if len == 0 {
                continue;
            }
            let offset = rng.random_range(0..len);
            for i in 0..len {
                let port = (start + (offset + i) % len) as u16;
                if !self.port_taken(port) {
                    return Some(port);
                }
            }
        }
        None
    }

    fn port_full() -> ApiError {
        ApiError::internal("Internal error occurred: failed to allocate a nodePort: range is full")
    }

    /// Node ports (upstream's `initNodePorts` on create, `updateNodePorts`
    /// on update): requested ones are checked, missing ones picked; ports
    /// of one service with the same number share one node port (TCP and
    /// UDP 53, say).
    fn node_ports(&mut self, spec: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        if !wants_node_ports(spec) {
            return Ok(());
        }
        let allocate_missing = allocates_node_ports(spec);
        let creating = old.is_none();
        let old_ports = old.map(node_ports_of).unwrap_or_default();
        let requested: Vec<(i64, i64)> = list(spec, "ports")
            .iter()
            .filter_map(|p| Some((int(p, "port")?, int(p, "nodePort").filter(|n| *n != 0)?)))
            .collect();
        // On create, ports of one number share one node port.
        let mut by_number: Vec<(i64, u16)> = Vec::new();
        let count = list(spec, "ports").len();
        for i in 0..count {
            let port = &spec["ports"][i];
            let number = int(port, "port").unwrap_or(0);
            let node_port = int(port, "nodePort").unwrap_or(0);
            if node_port == 0 && !allocate_missing {
                continue;
            }
            let shared = by_number
                .iter()
                .find(|(n, _)| creating && *n == number)
                .map(|(_, p)| *p);
            let wanted = match (node_port, shared) {
                (0, Some(np)) => Some(Ok(np)),
                (0, None) if creating => requested
                    .iter()
                    .find(|(n, _)| *n == number)
                    .map(|(_, np)| u16::try_from(*np).map_err(|_| *np)),
                (0, None) => None,
                (np, _) => Some(u16::try_from(np).map_err(|_| np)),
            };
            let chosen = match wanted {
                // Out of u16: validation reports it.
                Some(Err(_)) => continue,
                Some(Ok(np)) => {
                    let mine = shared == Some(np)
                        || (!creating && (old_ports.contains(&np) || self.ports.contains(&np)));
                    if !mine {
                        if let Err(reason) = self.check_port(np) {
                            self.errs.push(FieldError::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                i64::from(np),
                                reason,
                            ));
                            continue;
                        }
                        self.ports.push(np);
                    }
                    np
                }
                None => {
                    let np = self.next_port().ok_or_else(Self::port_full)?;
                    self.ports.push(np);
                    np
                }
            };
            if creating && shared.is_none() {
                by_number.push((number, chosen));
            }
            spec["ports"][i]["nodePort"] = json!(chosen);
        }
        Ok(())
    }

    /// The health-check node port of a LoadBalancer with the Local traffic
    /// policy. Upstream answers a taken or out-of-range request with an
    /// internal error; the fault is the request's, so it is a 422 here.
    fn health_check_node_port(&mut self, spec: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        if !needs_health_check(spec) {
            return Ok(());
        }
        let old_port = old
            .filter(|o| needs_health_check(o))
            .and_then(|o| int(o, "healthCheckNodePort"))
            .unwrap_or(0);
        let requested = int(spec, "healthCheckNodePort").unwrap_or(0);
        if requested != 0 {
            if requested == old_port {
                return Ok(());
            }
            let Ok(port) = u16::try_from(requested) else {
                return Ok(());
            };
            match self.check_port(port) {
                Ok(()) => self.ports.push(port),
                Err(reason) => self.errs.push(FieldError::invalid(
                    "spec.healthCheckNodePort",
                    requested,
                    format!(
                        "failed to allocate requested HealthCheck NodePort {requested}: {reason}"
                    ),
                )),
            }
            return Ok(());
        }
        let port = self.next_port().ok_or_else(Self::port_full)?;
        self.ports.push(port);
        spec["healthCheckNodePort"] = json!(port);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::server::open_store(dir.path(), 100).unwrap();
        (dir, store)
    }

    fn svc(spec: Value) -> Value {
        let mut spec = spec;
        let map = spec.as_object_mut().unwrap();
        map.entry("type").or_insert(json!("ClusterIP"));
        map.entry("ipFamilies").or_insert(json!(["IPv4"]));
        map.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec})
    }

    async fn put(store: &Store, name: &str, object: Value) {
        store
            .create(services().key(Some("default"), name), object)
            .await
            .unwrap();
    }

    fn small() -> Arc<Allocator> {
        Allocator::new(ServiceNetwork::parse("10.0.0.0/29").unwrap())
    }

    #[test]
    fn the_network_has_upstreams_bounds() {
        let net = ServiceNetwork::default();
        assert_eq!(net.first(), Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(net.last(), Ipv4Addr::new(10, 111, 255, 254));
        assert_eq!(net.static_band(), 256);
        assert_eq!(
            ServiceNetwork::parse("10.0.0.0/24").unwrap().static_band(),
            16
        );
        assert_eq!(
            ServiceNetwork::parse("10.0.0.0/28").unwrap().static_band(),
            0
        );
        assert_eq!(
            ServiceNetwork::parse("10.96.1.7/12")
                .unwrap()
                .cidr
                .to_string(),
            "10.96.0.0/12"
        );
        assert!(matches!(
            ServiceNetwork::parse("10.0.0.0/8"),
            Err(NetworkError::TooLarge(_))
        ));
        assert!(matches!(
            ServiceNetwork::parse("fd00::/108"),
            Err(NetworkError::Cidr(_))
        ));
        assert_eq!(
            ServiceNetwork::parse_node_ports("30000-32767").unwrap(),
            30000..=32767
        );
        assert!(ServiceNetwork::parse_node_ports("5-1").is_err());
    }

    #[tokio::test]
    async fn a_new_service_gets_a_free_address_from_the_range() {
        let (_d, store) = store();
        let alloc = Allocator::new(ServiceNetwork::default());
        let mut s = svc(json!({"ports": [{"port": 80}]}));
        let r = alloc.create(&store, "s", &mut s, false).unwrap();
        assert!(r.is_some());
        let ip: Ipv4Addr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(alloc.network().cidr.contains(&ip));
        // Dynamic picks avoid the static band at the bottom of the range.
        assert!(u32::from(ip) >= u32::from(alloc.network().first()) + 256);
        assert_eq!(s["spec"]["clusterIPs"], json!([ip.to_string()]));
    }

    #[tokio::test]
    async fn headless_and_external_name_services_get_no_address() {
        let (_d, store) = store();
        let alloc = Allocator::new(ServiceNetwork::default());
        let mut headless = svc(json!({"clusterIP": "None", "clusterIPs": ["None"],
            "selector": {"app": "web"}}));
        assert!(
            alloc
                .create(&store, "h", &mut headless, false)
                .unwrap()
                .is_none()
        );
        assert_eq!(headless["spec"]["clusterIP"], "None");
        let mut external = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert!(
            alloc
                .create(&store, "e", &mut external, false)
                .unwrap()
                .is_none()
        );
        assert!(external["spec"].get("clusterIP").is_none());
    }

    #[tokio::test]
    async fn a_requested_address_must_be_in_range_and_free() {
        let (_d, store) = store();
        let alloc = small();
        put(
            &store,
            "a",
            svc(json!({"clusterIP": "10.0.0.2", "clusterIPs": ["10.0.0.2"]})),
        )
        .await;
        let message = |ip: &str| {
            let mut s = svc(json!({"clusterIP": ip, "clusterIPs": [ip]}));
            let e = alloc.create(&store, "s", &mut s, false).err().unwrap();
            assert_eq!(e.code, 422);
            e.causes()[0].message.clone()
        };
        assert_eq!(
            message("10.0.0.2"),
            "Invalid value: []string{\"10.0.0.2\"}: failed to allocate IP 10.0.0.2: provided IP is already allocated"
        );
        assert_eq!(
            message("10.1.0.2"),
            "Invalid value: []string{\"10.1.0.2\"}: failed to allocate IP 10.1.0.2: the provided network does not match the current range"
        );
        assert_eq!(
            message("10.0.0.7"),
            "Invalid value: []string{\"10.0.0.7\"}: failed to allocate IP 10.0.0.7: provided IP 10.0.0.7 is not in the valid range"
        );
        let mut ok = svc(json!({"clusterIP": "10.0.0.3", "clusterIPs": ["10.0.0.3"]}));
        assert!(alloc.create(&store, "s", &mut ok, false).is_ok());
    }

    #[tokio::test]
    async fn reservations_keep_concurrent_writes_apart_until_stored() {
        let (_d, store) = store();
        let alloc = small(); // six usable addresses
        let mut held = Vec::new();
        let mut seen = HashSet::new();
        for i in 0..6 {
            let mut s = svc(json!({}));
            held.push(
                alloc
                    .create(&store, &format!("s{i}"), &mut s, false)
                    .unwrap(),
            );
            assert!(seen.insert(s["spec"]["clusterIP"].as_str().unwrap().to_string()));
        }
        let mut s = svc(json!({}));
        let full = alloc.create(&store, "x", &mut s, false).err().unwrap();
        assert_eq!(full.code, 500);
        assert!(full.message.contains("range is full"), "{}", full.message);
        // A write that failed gives its address back.
        held.pop();
        let mut s = svc(json!({}));
        assert!(alloc.create(&store, "x", &mut s, false).is_ok());
    }

    #[tokio::test]
    async fn a_deleted_service_frees_its_address() {
        let (_d, store) = store();
        let alloc = small();
        for i in 2..7 {
            let ip = format!("10.0.0.{i}");
            put(
                &store,
                &format!("s{i}"),
                svc(json!({"clusterIP": ip, "clusterIPs": [ip]})),
            )
            .await;
        }
        let mut s = svc(json!({}));
        let r = alloc.create(&store, "x", &mut s, false).unwrap();
        assert_eq!(s["spec"]["clusterIP"], "10.0.0.1");
        drop(r);
        store
            .delete(services().key(Some("default"), "s4"), None)
            .await
            .unwrap();
        let mut s = svc(json!({}));
        let _r = alloc.create(&store, "y", &mut s, false).unwrap();
        let ip = s["spec"]["clusterIP"].as_str().unwrap();
        assert!(ip == "10.0.0.1" || ip == "10.0.0.4", "{ip}");
    }

    #[tokio::test]
    async fn dual_stack_and_ipv6_are_refused_on_an_ipv4_cluster() {
        let (_d, store) = store();
        let alloc = small();
        let mut s =
            svc(json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}));
        let e = alloc.create(&store, "s", &mut s, false).err().unwrap();
        let messages: Vec<&str> = e.causes().iter().map(|c| c.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services",
                "Invalid value: \"IPv6\": not configured on this cluster"
            ]
        );
        // A headless service without selector may name both families.
        let mut headless = svc(json!({"clusterIP": "None", "clusterIPs": ["None"],
            "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}));
        assert!(alloc.create(&store, "h", &mut headless, false).is_ok());
    }

    #[tokio::test]
    async fn node_ports_are_picked_checked_and_shared_by_port_number() {
        let (_d, store) = store();
        let alloc = Allocator::new(ServiceNetwork::default());
        put(
            &store,
            "a",
            svc(json!({"type": "NodePort", "ports": [{"port": 1, "nodePort": 30001}]})),
        )
        .await;
        let mut s = svc(json!({"type": "NodePort", "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            {"name": "web", "port": 80, "nodePort": 30080},
        ]}));
        let _r = alloc.create(&store, "s", &mut s, false).unwrap();
        let p = |i: usize| s["spec"]["ports"][i]["nodePort"].as_i64().unwrap();
        assert_eq!(p(0), p(1));
        assert!((30000..=32767).contains(&p(0)));
        assert_eq!(p(2), 30080);
        let check = |np: i64| {
            let mut s = svc(json!({"type": "NodePort", "ports": [{"port": 1, "nodePort": np}]}));
            let e = alloc.create(&store, "t", &mut s, false).err().unwrap();
            (e.causes()[0].field.clone(), e.causes()[0].message.clone())
        };
        assert_eq!(
            check(30001),
            (
                "spec.ports[0].nodePort".into(),
                "Invalid value: 30001: provided port is already allocated".into()
            )
        );
        assert_eq!(
            check(30080).1,
            "Invalid value: 30080: provided port is already allocated"
        );
        assert_eq!(
            check(8080).1,
            "Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
    }

    #[tokio::test]
    async fn an_update_keeps_its_own_values_and_allocates_new_ones() {
        let (_d, store) = store();
        let alloc = Allocator::new(ServiceNetwork::default());
        let key = services().key(Some("default"), "s");
        let old = svc(
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
        );
        store.create(key.clone(), old.clone()).await.unwrap();
        let mut new = svc(
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"name": "b", "port": 81}]}),
        );
        let r = alloc
            .update(&store, &key, "s", &old, &mut new, false)
            .unwrap();
        assert!(r.is_some());
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        assert!(new["spec"]["ports"][1]["nodePort"].as_i64().is_some());
        // ExternalName → ClusterIP allocates an address.
        let old = json!({"spec": {"type": "ExternalName", "externalName": "x.example"}});
        let mut new = svc(json!({}));
        let _r = alloc
            .update(&store, &key, "s", &old, &mut new, false)
            .unwrap();
        assert!(
            new["spec"]["clusterIP"]
                .as_str()
                .unwrap()
                .starts_with("10.")
        );
    }

    #[tokio::test]
    async fn a_dry_run_picks_without_reserving() {
        let (_d, store) = store();
        let alloc = small();
        for i in 0..10 {
            let mut s = svc(json!({}));
            assert!(
                alloc
                    .create(&store, &format!("s{i}"), &mut s, true)
                    .unwrap()
                    .is_none()
            );
            assert!(s["spec"]["clusterIP"].is_string());
        }
    }
}
