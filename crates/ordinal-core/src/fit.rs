//! Whether a node has room for a pod: upstream's NodeResourcesFit filter
//! (requests against the node's allocatable, and the pod count) and its
//! NodePorts filter (host ports already taken), each with upstream's
//! reason text. Pure: the caller supplies what is already on the node as a
//! [`NodeUsage`] (the scheduler's ledger of bound pods; the node agent's
//! admission, as upstream's kubelet reuses the scheduler's predicates, the
//! pods it runs).
//!
//! A pod's request is upstream's `PodRequests`: the sum of its app
//! containers and restartable init containers (sidecars), or, if larger
//! for a resource, what an init container needs while it runs beside the
//! sidecars started before it; plus `spec.overhead` (which RuntimeClass
//! admission sets).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::{nanos, nanos_to_millis, nanos_to_units};

/// NodePorts' reason.
pub const REASON_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
/// NodeResourcesFit's reason for a node that holds its maximum of pods.
pub const REASON_TOO_MANY_PODS: &str = "Too many pods";

/// Amounts of resources, in upstream's units: milli-CPU, bytes, pods, and
/// whole units of the scalar (extended and huge-page) resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in thousandths of a core.
    pub milli_cpu: i128,
    pub(crate) memory: i128,
    pub(crate) ephemeral_storage: i128,
    /// Only meaningful for allocatable: how many pods the node takes.
    pub pods: i128,
    pub(crate) scalar: BTreeMap<String, i128>,
}

/// Resource names the fit counts besides cpu, memory and storage:
/// huge pages and names with a domain (extended resources), as upstream's
/// `IsScalarResourceName`.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-") || (name.contains('/') && !name.starts_with("requests."))
}

impl Resources {
    /// A resource list (requests, allocatable) in these units; names the
    /// fit does not count and malformed quantities are left out.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let exact: Amounts = list
            .into_iter()
            .flatten()
            .filter_map(|(k, q)| nanos(q).map(|n| (k.clone(), n)))
            .collect();
        Resources::from_nanos(&exact)
    }

    fn from_nanos(amounts: &Amounts) -> Resources {
        let mut r = Resources::default();
        for (name, &n) in amounts {
            match name.as_str() {
                "cpu" => r.milli_cpu = nanos_to_millis(n),
                "memory" => r.memory = nanos_to_units(n),
                "ephemeral-storage" => r.ephemeral_storage = nanos_to_units(n),
                "pods" => r.pods = nanos_to_units(n),
                other if is_scalar(other) => {
                    r.scalar.insert(other.to_string(), nanos_to_units(n));
                }
                _ => {}
            }
        }
        r
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) another amount. Requests
    /// are whatever pods ask for (`1e30` cores saturates to `i128::MAX`
    /// nano-units), so the sums saturate rather than overflow.
    pub fn add(&mut self, other: &Resources, sign: i128) {
        let step = |total: &mut i128, v: i128| {
            *total = total.saturating_add(sign.saturating_mul(v));
        };
        step(&mut self.milli_cpu, other.milli_cpu);
        step(&mut self.memory, other.memory);
        step(&mut self.ephemeral_storage, other.ephemeral_storage);
        step(&mut self.pods, other.pods);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            step(entry, *v);
            if *entry == 0 {
                self.scalar.remove(name);
            }
        }
    }

    /// Memory in bytes.
    pub fn memory(&self) -> i128 {
        self.memory
    }

    fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// Exact amounts by resource name, in nano-units.
type Amounts = BTreeMap<String, i128>;

fn requests_of(c: &Container) -> Amounts {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|(k, q)| nanos(q).map(|n| (k.clone(), n)))
        .collect()
}

fn add_amounts(to: &mut Amounts, more: &Amounts) {
    for (k, v) in more {
        let total = to.entry(k.clone()).or_default();
        *total = total.saturating_add(*v);
    }
}

fn max_amounts(to: &mut Amounts, other: &Amounts) {
    for (k, v) in other {
        let entry = to.entry(k.clone()).or_insert(*v);
        *entry = (*entry).max(*v);
    }
}

/// What the pod asks of a node (upstream's `PodRequests`, overhead
/// included).
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut total = Amounts::new();
    for c in &spec.containers {
        add_amounts(&mut total, &requests_of(c));
    }
    // While init container i runs, the sidecars started before it run too.
    let mut sidecars = Amounts::new();
    let mut init_peak = Amounts::new();
    for c in spec.init_containers.iter().flatten() {
        let own = requests_of(c);
        if c.restart_policy.as_deref() == Some("Always") {
            add_amounts(&mut total, &own);
            add_amounts(&mut sidecars, &own);
            max_amounts(&mut init_peak, &sidecars);
        } else {
            let mut while_running = own;
            add_amounts(&mut while_running, &sidecars);
            max_amounts(&mut init_peak, &while_running);
        }
    }
    max_amounts(&mut total, &init_peak);
    if let Some(overhead) = &spec.overhead {
        let overhead: Amounts = overhead
            .iter()
            .filter_map(|(k, q)| nanos(q).map(|n| (k.clone(), n)))
            .collect();
        add_amounts(&mut total, &overhead);
    }
    Resources::from_nanos(&total)
}

/// What a node offers pods: `status.allocatable` (which defaults to the
/// capacity when the node does not say).
pub fn allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    Resources::from_list(
        status
            .and_then(|s| s.allocatable.as_ref())
            .or_else(|| status.and_then(|s| s.capacity.as_ref())),
    )
}

/// One host port a pod takes: address (`0.0.0.0` when unset), protocol
/// (`TCP` when unset) and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub(crate) ip: String,
    pub(crate) protocol: String,
    pub(crate) port: i32,
}

const ANY_ADDRESS: &str = "0.0.0.0";

impl HostPort {
    /// Whether two pods could not both have these.
    fn clashes(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == ANY_ADDRESS || other.ip == ANY_ADDRESS)
    }
}

/// The host ports of a pod's app containers and sidecars (upstream's
/// `GetHostPorts`): init containers that end do not hold theirs.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    sidecars
        .chain(&spec.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|h| h > 0))
        .map(|p| HostPort {
            ip: match p.host_ip.as_deref() {
                None | Some("") => ANY_ADDRESS.to_string(),
                Some(ip) => ip.to_string(),
            },
            protocol: match p.protocol.as_deref() {
                None | Some("") => "TCP".to_string(),
                Some(proto) => proto.to_string(),
            },
            port: p.host_port.unwrap_or(0),
        })
        .collect()
}

/// What the pods on (or assumed on) a node take from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeUsage {
    /// The sum of the pods' requests.
    pub requested: Resources,
    /// How many pods are counted.
    pub pods: usize,
    /// Host ports in use, one entry per pod that holds each.
    pub ports: Vec<HostPort>,
}

/// What one pod adds to its node's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    pub(crate) requests: Resources,
    pub(crate) ports: Vec<HostPort>,
}

impl Footprint {
    /// What `pod` takes: its requests as [`pod_requests`] counts them and
    /// its [`host_ports`].
    pub fn of(pod: &Pod) -> Footprint {
        Footprint {
            requests: pod_requests(pod),
            ports: host_ports(pod),
        }
    }
}

impl NodeUsage {
    /// Counts one more pod with this footprint.
    pub fn add(&mut self, f: &Footprint) {
        self.requested.add(&f.requests, 1);
        self.pods += 1;
        self.ports.extend(f.ports.iter().cloned());
    }

    /// Takes a counted pod out again: its requests, one pod, and one
    /// holding of each of its host ports.
    pub fn remove(&mut self, f: &Footprint) {
        self.requested.add(&f.requests, -1);
        self.pods = self.pods.saturating_sub(1);
        for p in &f.ports {
            if let Some(i) = self.ports.iter().position(|q| q == p) {
                self.ports.swap_remove(i);
            }
        }
    }
}

/// NodePorts: whether none of the pod's host ports is taken on the node.
pub fn ports_fit(want: &[HostPort], usage: &NodeUsage) -> bool {
    !want
        .iter()
        .any(|w| usage.ports.iter().any(|used| w.clashes(used)))
}

/// NodeResourcesFit: the reasons the node cannot take the pod's request,
/// in upstream's order (pods, cpu, memory, ephemeral storage, scalars);
/// empty when it fits.
pub fn insufficient(
    request: &Resources,
    allocatable: &Resources,
    usage: &NodeUsage,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if (usage.pods as i128).saturating_add(1) > allocatable.pods {
        reasons.push(REASON_TOO_MANY_PODS.to_string());
    }
    if request.is_zero() {
        return reasons;
    }
    let used = &usage.requested;
    let short = |want: i128, has: i128, used: i128| want > 0 && want > has.saturating_sub(used);
    if short(request.milli_cpu, allocatable.milli_cpu, used.milli_cpu) {
        reasons.push("Insufficient cpu".into());
    }
    if short(request.memory, allocatable.memory, used.memory) {
        reasons.push("Insufficient memory".into());
    }
    if short(
        request.ephemeral_storage,
        allocatable.ephemeral_storage,
        used.ephemeral_storage,
    ) {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    for (name, &want) in &request.scalar {
        let has = allocatable.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0);
        if short(want, has, taken) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn c(name: &str, requests: serde_json::Value) -> serde_json::Value {
        json!({"name": name, "resources": {"requests": requests}})
    }

    fn node(allocatable: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n"},
                                      "status": {"allocatable": allocatable}}))
        .unwrap()
    }

    fn res(cpu: i128, memory: i128) -> Resources {
        Resources {
            milli_cpu: cpu,
            memory,
            ..Default::default()
        }
    }

    #[test]
    fn requests_follow_upstreams_pod_requests() {
        struct Case {
            what: &'static str,
            spec: serde_json::Value,
            cpu: i128,
            memory: i128,
        }
        let cases = [
            Case {
                what: "app containers add up",
                spec: json!({"containers": [c("a", json!({"cpu": "250m", "memory": "64Mi"})),
                                            c("b", json!({"cpu": "0.5"}))]}),
                cpu: 750,
                memory: 64 << 20,
            },
            Case {
                what: "a bigger init container sets the floor per resource",
                spec: json!({"initContainers": [c("i", json!({"cpu": "2", "memory": "1Mi"}))],
                             "containers": [c("a", json!({"cpu": "1", "memory": "1Gi"}))]}),
                cpu: 2000,
                memory: 1 << 30,
            },
            Case {
                what: "sidecars run beside later init containers and the app",
                spec: json!({"initContainers": [
                                c("side", json!({"cpu": "1"})),
                                {"name": "s2", "restartPolicy": "Always",
                                 "resources": {"requests": {"cpu": "500m"}}},
                                c("late", json!({"cpu": "2"}))],
                             "containers": [c("a", json!({"cpu": "100m"}))]}),
                // side is a plain init container (runs alone, 1 cpu); s2
                // is a sidecar (500m), so late needs 2.5 cpu while it runs;
                // the app then runs with s2: 600m. The peak wins.
                cpu: 2500,
                memory: 0,
            },
            Case {
                what: "a sidecar only counts with the init containers after it",
                spec: json!({"initContainers": [
                                c("first", json!({"cpu": "3"})),
                                {"name": "side", "restartPolicy": "Always",
                                 "resources": {"requests": {"cpu": "1"}}}],
                             "containers": [c("a", json!({"cpu": "1"}))]}),
                cpu: 3000,
                memory: 0,
            },
            Case {
                what: "the overhead is added on top",
                spec: json!({"containers": [c("a", json!({"cpu": "1"}))],
                             "overhead": {"cpu": "250m", "memory": "120Mi"}}),
                cpu: 1250,
                memory: 120 << 20,
            },
            Case {
                what: "fractions add up before rounding",
                spec: json!({"containers": [c("a", json!({"cpu": "0.0004"})),
                                            c("b", json!({"cpu": "0.0004"}))]}),
                cpu: 1,
                memory: 0,
            },
            Case {
                what: "no requests, no spec",
                spec: json!({"containers": [{"name": "a"}]}),
                cpu: 0,
                memory: 0,
            },
        ];
        for case in cases {
            let r = pod_requests(&pod(case.spec));
            assert_eq!(
                (r.milli_cpu, r.memory),
                (case.cpu, case.memory),
                "{}",
                case.what
            );
        }
    }

    #[test]
    fn scalar_resources_count_and_unknown_names_do_not() {
        let r = pod_requests(&pod(json!({"containers": [c("a", json!({
            "example.com/gpu": "2", "hugepages-2Mi": "4Mi", "foo": "1"}))]})));
        assert_eq!(
            r.scalar,
            BTreeMap::from([
                ("example.com/gpu".to_string(), 2),
                ("hugepages-2Mi".to_string(), 4 << 20)
            ])
        );
    }

    #[test]
    fn the_fit_counts_pods_and_each_short_resource() {
        let alloc = allocatable(&node(json!({"cpu": "2", "memory": "4Gi", "pods": "3",
                                             "ephemeral-storage": "10Gi"})));
        assert_eq!(alloc.milli_cpu, 2000);
        assert_eq!(alloc.pods, 3);
        let mut usage = NodeUsage::default();
        let f = |cpu, mem| Footprint {
            requests: res(cpu, mem),
            ports: vec![],
        };
        usage.add(&f(1500, 1 << 30));
        struct Case {
            what: &'static str,
            request: Resources,
            want: &'static [&'static str],
        }
        let cases = [
            Case {
                what: "what is left fits exactly",
                request: res(500, 3 << 30),
                want: &[],
            },
            Case {
                what: "one milli-CPU too many",
                request: res(501, 0),
                want: &["Insufficient cpu"],
            },
            Case {
                what: "both short, in upstream's order",
                request: res(1000, 4 << 30),
                want: &["Insufficient cpu", "Insufficient memory"],
            },
            Case {
                what: "storage",
                request: Resources {
                    ephemeral_storage: 11 << 30,
                    ..Default::default()
                },
                want: &["Insufficient ephemeral-storage"],
            },
            Case {
                what: "an extended resource the node lacks",
                request: Resources {
                    scalar: BTreeMap::from([("example.com/gpu".into(), 1)]),
                    ..Default::default()
                },
                want: &["Insufficient example.com/gpu"],
            },
            Case {
                what: "no request always fits",
                request: Resources::default(),
                want: &[],
            },
        ];
        for case in cases {
            assert_eq!(
                insufficient(&case.request, &alloc, &usage),
                case.want,
                "{}",
                case.what
            );
        }
        usage.add(&f(0, 0));
        usage.add(&f(0, 0));
        assert_eq!(insufficient(&res(0, 0), &alloc, &usage), ["Too many pods"]);
        assert_eq!(
            insufficient(&res(501, 0), &alloc, &usage),
            ["Too many pods", "Insufficient cpu"]
        );
        // A node that does not say how many pods it takes takes none.
        assert_eq!(
            insufficient(&res(0, 0), &Resources::default(), &NodeUsage::default()),
            ["Too many pods"]
        );
    }

    #[test]
    fn host_ports_clash_on_protocol_port_and_overlapping_addresses() {
        let p = |ports: serde_json::Value| {
            host_ports(&pod(json!({"containers": [{"name": "a", "ports": ports}]})))
        };
        let on_node = |ports: serde_json::Value| {
            let mut u = NodeUsage::default();
            u.add(&Footprint {
                requests: Resources::default(),
                ports: p(ports),
            });
            u
        };
        let any_8080 = on_node(json!([{"containerPort": 80, "hostPort": 8080}]));
        assert_eq!(
            p(json!([{"containerPort": 80, "hostPort": 8080}])),
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        struct Case {
            what: &'static str,
            want: serde_json::Value,
            fits: bool,
        }
        let cases = [
            Case {
                what: "the same port",
                want: json!([{"containerPort": 1, "hostPort": 8080}]),
                fits: false,
            },
            Case {
                what: "a specific address under a wildcard",
                want: json!([{"containerPort": 1, "hostPort": 8080, "hostIP": "127.0.0.1"}]),
                fits: false,
            },
            Case {
                what: "another protocol",
                want: json!([{"containerPort": 1, "hostPort": 8080, "protocol": "UDP"}]),
                fits: true,
            },
            Case {
                what: "another port",
                want: json!([{"containerPort": 1, "hostPort": 8081}]),
                fits: true,
            },
            Case {
                what: "a container port alone takes nothing",
                want: json!([{"containerPort": 8080}]),
                fits: true,
            },
        ];
        for case in cases {
            assert_eq!(
                ports_fit(&p(case.want), &any_8080),
                case.fits,
                "{}",
                case.what
            );
        }
        let one_address =
            on_node(json!([{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}]));
        let other = p(json!([{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.2"}]));
        assert!(ports_fit(&other, &one_address));
        let wildcard = p(json!([{"containerPort": 80, "hostPort": 80}]));
        assert!(!ports_fit(&wildcard, &one_address));
    }

    #[test]
    fn sidecar_ports_are_held_and_init_ports_are_not() {
        let ports = host_ports(&pod(json!({
            "initContainers": [
                {"name": "once", "ports": [{"containerPort": 1, "hostPort": 9001}]},
                {"name": "side", "restartPolicy": "Always",
                 "ports": [{"containerPort": 1, "hostPort": 9002}]}],
            "containers": [{"name": "a", "ports": [{"containerPort": 1, "hostPort": 9003}]}]})));
        let held: Vec<i32> = ports.iter().map(|p| p.port).collect();
        assert_eq!(held, [9002, 9003]);
    }

    #[test]
    fn usage_gives_back_what_a_pod_took() {
        let f = Footprint {
            requests: Resources {
                milli_cpu: 100,
                scalar: BTreeMap::from([("example.com/gpu".into(), 1)]),
                ..Default::default()
            },
            ports: vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 80,
            }],
        };
        let mut u = NodeUsage::default();
        u.add(&f);
        u.add(&f);
        u.remove(&f);
        assert_eq!(u.pods, 1);
        assert_eq!(u.ports.len(), 1);
        u.remove(&f);
        assert_eq!(u, NodeUsage::default());
    }
}
