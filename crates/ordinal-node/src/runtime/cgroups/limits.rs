//! What `resources` mean for a cgroup: the kubelet's conversions from
//! millicores to CPU shares, weight and CFS quota, a pod's limits from its
//! containers', and the control files each limit becomes on v1 and v2.
//!
//! Everything here is pure; [`super`] writes the files.

use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use ordinal_core::quantity;

use super::{Controller, Version};

/// The limits of one cgroup (a pod's or a container's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of memory; over it the kernel reclaims, then OOM-kills.
    /// `None`: unlimited.
    pub memory: Option<u64>,
    /// The CPU limit in thousandths of a core, enforced as a CFS quota per
    /// 100 ms period. `None`: unlimited.
    pub cpu_quota_millis: Option<u64>,
    /// The CPU request in thousandths of a core: the cgroup's share of the
    /// CPU when cgroups compete for it (shares on v1, weight on v2).
    pub cpu_request_millis: u64,
    /// The most tasks (processes and threads) at once. `None`: unlimited.
    pub pids: Option<u64>,
}

/// A pod's limits (see `pod_limits_of`).
pub type PodLimits = Limits;
/// A container's limits (see `limits_of`).
pub type ContainerLimits = Limits;

/// The kernel's smallest `cpu.shares`, which the kubelet gives a cgroup
/// that requests no CPU.
pub const MIN_SHARES: u64 = 2;
/// The kernel's largest `cpu.shares`.
pub const MAX_SHARES: u64 = 262_144;
const SHARES_PER_CPU: u64 = 1024;
/// The CFS period every quota is written for (100 ms, the kubelet's).
pub const QUOTA_PERIOD_US: u64 = 100_000;
/// The smallest quota the kubelet writes (1 ms per period).
pub const MIN_QUOTA_US: u64 = 1000;
/// The largest quota the kernel accepts (`MAX_BW`: 2^44 - 1 µs); a limit
/// beyond it is no limit on any machine, so it is left unlimited.
pub const MAX_QUOTA_US: u64 = (1 << 44) - 1;
/// The largest `pids.max` the kernel accepts (`PID_MAX_LIMIT`); above it,
/// "max".
pub const MAX_PIDS: u64 = 4_194_304;

/// `cpu.shares` for a CPU request (the kubelet's `MilliCPUToShares`):
/// 1024 per core, at least 2, at most 262144.
pub fn cpu_shares(request_millis: u64) -> u64 {
    (request_millis.saturating_mul(SHARES_PER_CPU) / 1000).clamp(MIN_SHARES, MAX_SHARES)
}

/// `cpu.weight` (1..=10000) for the shares v1 would get: the linear map of
/// [2, 262144] onto [1, 10000] that the kubelet and runc use, so a pod gets
/// the same share of CPU on either version.
pub fn cpu_weight(shares: u64) -> u64 {
    let shares = shares.clamp(MIN_SHARES, MAX_SHARES);
    1 + ((shares - 2) * 9999) / (MAX_SHARES - 2)
}

/// The CFS quota in µs per [`QUOTA_PERIOD_US`] for a CPU limit (the
/// kubelet's `MilliCPUToQuota`): none for 0, at least [`MIN_QUOTA_US`],
/// none beyond what the kernel accepts.
pub fn cpu_quota_us(limit_millis: u64) -> Option<u64> {
    if limit_millis == 0 {
        return None;
    }
    let quota = (limit_millis.saturating_mul(QUOTA_PERIOD_US) / 1000).max(MIN_QUOTA_US);
    (quota <= MAX_QUOTA_US).then_some(quota)
}

/// A container's limits from its `resources`: the memory limit, the CPU
/// limit, and the CPU request (the limit when only a limit is given, as the
/// API server's defaulting makes it). Zero, negative and malformed
/// quantities count as absent: a zero limit means "none" to the kubelet.
/// There is no per-container pids limit in the API.
pub fn limits_of(resources: Option<&ResourceRequirements>) -> ContainerLimits {
    let get = |map: Option<&std::collections::BTreeMap<String, Quantity>>,
               name: &str,
               value: fn(&Quantity) -> Option<i128>| {
        map.and_then(|m| m.get(name))
            .and_then(value)
            .filter(|v| *v > 0)
            .map(|v| u64::try_from(v).unwrap_or(u64::MAX))
    };
    let limits = resources.and_then(|r| r.limits.as_ref());
    let requests = resources.and_then(|r| r.requests.as_ref());
    let cpu_limit = get(limits, "cpu", quantity::millis);
    Limits {
        memory: get(limits, "memory", quantity::bytes),
        cpu_quota_millis: cpu_limit,
        cpu_request_millis: get(requests, "cpu", quantity::millis)
            .or(cpu_limit)
            .unwrap_or(0),
        pids: None,
    }
}

/// A pod's limits, as the kubelet sizes a pod's cgroup: the CPU request is
/// the pod's effective request (the sum of its containers', or the largest
/// init container's if more, restartable init containers counting with the
/// containers), plus `spec.overhead`; a memory or CPU limit exists only when
/// every container, init containers included, declares one, and then it is
/// the effective limit computed the same way, plus the overhead. The pids
/// limit is the node's to choose (the kubelet's `podPidsLimit`).
pub fn pod_limits_of(spec: &PodSpec) -> PodLimits {
    let all: Vec<Limits> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| limits_of(c.resources.as_ref()))
        .collect();
    let overhead = limits_of(Some(&ResourceRequirements {
        limits: spec.overhead.clone(),
        requests: spec.overhead.clone(),
        ..Default::default()
    }));
    let declared = |f: fn(&Limits) -> Option<u64>| all.iter().all(|l| f(l).is_some());
    let memory = declared(|l| l.memory).then(|| {
        effective(spec, |l| l.memory.unwrap_or(0)).saturating_add(overhead.memory.unwrap_or(0))
    });
    let cpu_quota_millis = declared(|l| l.cpu_quota_millis).then(|| {
        effective(spec, |l| l.cpu_quota_millis.unwrap_or(0))
            .saturating_add(overhead.cpu_quota_millis.unwrap_or(0))
    });
    Limits {
        memory,
        cpu_quota_millis,
        cpu_request_millis: effective(spec, |l| l.cpu_request_millis)
            .saturating_add(overhead.cpu_request_millis),
        pids: None,
    }
}

/// One resource's effective amount for a pod: app containers and
/// restartable init containers (sidecars) run together and add up; each
/// other init container runs alone beside the sidecars started before it;
/// the pod needs the largest of these moments.
fn effective(spec: &PodSpec, amount: impl Fn(&Limits) -> u64) -> u64 {
    let of = |c: &Container| amount(&limits_of(c.resources.as_ref()));
    let mut running: u64 = spec.containers.iter().map(of).fold(0, u64::saturating_add);
    let mut sidecars: u64 = 0;
    let mut init_peak: u64 = 0;
    for c in spec.init_containers.iter().flatten() {
        let moment = if c.restart_policy.as_deref() == Some("Always") {
            running = running.saturating_add(of(c));
            sidecars = sidecars.saturating_add(of(c));
            sidecars
        } else {
            sidecars.saturating_add(of(c))
        };
        init_peak = init_peak.max(moment);
    }
    running.max(init_peak)
}

/// One control file to write when a cgroup is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Write {
    /// The controller that owns the file (on v1, the hierarchy it is in).
    pub controller: Controller,
    pub file: &'static str,
    pub value: String,
    /// Written only where the kernel has the file (swap accounting may be
    /// compiled out or off).
    pub only_if_present: bool,
}

/// The files that give a fresh cgroup `limits`, in the order they must be
/// written. Unlimited is the kernel's default for a new cgroup, so absent
/// limits write nothing; the CPU share is always written (2 shares, weight
/// 1, for a cgroup that requests nothing, as the kubelet does). `swap`: the
/// host has swap, so v1 must cap memory+swap at the memory limit too.
pub(super) fn writes(version: Version, limits: &Limits, swap: bool) -> Vec<Write> {
    let w = |controller, file, value: String, only_if_present| Write {
        controller,
        file,
        value,
        only_if_present,
    };
    let shares = cpu_shares(limits.cpu_request_millis);
    let quota = limits.cpu_quota_millis.and_then(cpu_quota_us);
    // The kernel takes a memory limit as a signed 64-bit number.
    let memory = limits.memory.filter(|m| *m <= i64::MAX as u64);
    let pids = limits.pids.map(|p| {
        if p > MAX_PIDS {
            "max".to_string()
        } else {
            p.to_string()
        }
    });
    let mut out = Vec::new();
    match version {
        Version::V1 => {
            if let Some(m) = memory {
                out.push(w(
                    Controller::Memory,
                    "memory.limit_in_bytes",
                    m.to_string(),
                    false,
                ));
                if swap {
                    // After the memory limit: memsw may never be below it.
                    out.push(w(
                        Controller::Memory,
                        "memory.memsw.limit_in_bytes",
                        m.to_string(),
                        true,
                    ));
                }
            }
            out.push(w(Controller::Cpu, "cpu.shares", shares.to_string(), false));
            if let Some(q) = quota {
                out.push(w(
                    Controller::Cpu,
                    "cpu.cfs_period_us",
                    QUOTA_PERIOD_US.to_string(),
                    false,
                ));
                out.push(w(Controller::Cpu, "cpu.cfs_quota_us", q.to_string(), false));
            }
            if let Some(p) = pids {
                out.push(w(Controller::Pids, "pids.max", p, false));
            }
        }
        Version::V2 => {
            if let Some(m) = memory {
                out.push(w(Controller::Memory, "memory.max", m.to_string(), false));
                out.push(w(Controller::Memory, "memory.swap.max", "0".into(), true));
            }
            out.push(w(
                Controller::Cpu,
                "cpu.weight",
                cpu_weight(shares).to_string(),
                false,
            ));
            if let Some(q) = quota {
                out.push(w(
                    Controller::Cpu,
                    "cpu.max",
                    format!("{q} {QUOTA_PERIOD_US}"),
                    false,
                ));
            }
            if let Some(p) = pids {
                out.push(w(Controller::Pids, "pids.max", p, false));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> ResourceRequirements {
        let map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ResourceRequirements {
            limits: map(limits),
            requests: map(requests),
            ..Default::default()
        }
    }

    fn container(name: &str, r: ResourceRequirements, sidecar: bool) -> Container {
        Container {
            name: name.into(),
            resources: Some(r),
            restart_policy: sidecar.then(|| "Always".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn shares_follow_the_kubelet() {
        // (millicores, shares) as MilliCPUToShares gives them.
        for (millis, shares) in [
            (0, 2),
            (1, 2),
            (2, 2),
            (3, 3),
            (10, 10),
            (100, 102),
            (250, 256),
            (500, 512),
            (1000, 1024),
            (2000, 2048),
            (256_000, 262_144),
            (300_000, 262_144),
            (u64::MAX, 262_144),
        ] {
            assert_eq!(cpu_shares(millis), shares, "{millis}m");
        }
    }

    #[test]
    fn weight_maps_shares_onto_one_to_ten_thousand() {
        for (shares, weight) in [
            (0, 1),
            (2, 1),
            (102, 4),
            (512, 20),
            (1024, 39),
            (2048, 79),
            (262_144, 10_000),
            (u64::MAX, 10_000),
        ] {
            assert_eq!(cpu_weight(shares), weight, "{shares} shares");
        }
    }

    #[test]
    fn quota_follows_the_kubelet() {
        for (millis, quota) in [
            (0, None),
            (1, Some(1000)),
            (10, Some(1000)),
            (11, Some(1100)),
            (100, Some(10_000)),
            (250, Some(25_000)),
            (1000, Some(100_000)),
            (1500, Some(150_000)),
            (64_000, Some(6_400_000)),
            (u64::MAX, None),
        ] {
            assert_eq!(cpu_quota_us(millis), quota, "{millis}m");
        }
    }

    #[test]
    fn a_container_without_a_cpu_request_is_given_its_limit() {
        let l = limits_of(Some(&resources(
            &[("cpu", "500m"), ("memory", "64Mi")],
            &[],
        )));
        assert_eq!(
            l,
            Limits {
                memory: Some(64 << 20),
                cpu_quota_millis: Some(500),
                cpu_request_millis: 500,
                pids: None
            }
        );
        let l = limits_of(Some(&resources(&[("cpu", "2")], &[("cpu", "100m")])));
        assert_eq!(
            (l.cpu_quota_millis, l.cpu_request_millis),
            (Some(2000), 100)
        );
    }

    #[test]
    fn zero_malformed_and_absent_quantities_are_no_limit() {
        assert_eq!(limits_of(None), Limits::default());
        let l = limits_of(Some(&resources(
            &[("cpu", "0"), ("memory", "lots")],
            &[("cpu", "-1")],
        )));
        assert_eq!(l, Limits::default());
    }

    #[test]
    fn pod_limits_exist_only_when_every_container_declares_them() {
        let spec = PodSpec {
            containers: vec![
                container(
                    "a",
                    resources(&[("memory", "100Mi"), ("cpu", "1")], &[]),
                    false,
                ),
                container(
                    "b",
                    resources(&[("memory", "50Mi")], &[("cpu", "250m")]),
                    false,
                ),
            ],
            ..Default::default()
        };
        let pod = pod_limits_of(&spec);
        assert_eq!(pod.memory, Some(150 << 20));
        assert_eq!(pod.cpu_quota_millis, None, "b has no CPU limit");
        assert_eq!(pod.cpu_request_millis, 1250);
    }

    #[test]
    fn init_containers_count_at_their_peak_and_sidecars_add_up() {
        let spec = PodSpec {
            init_containers: Some(vec![
                container("sidecar", resources(&[("memory", "10Mi")], &[]), true),
                container("migrate", resources(&[("memory", "500Mi")], &[]), false),
            ]),
            containers: vec![container(
                "app",
                resources(&[("memory", "100Mi")], &[]),
                false,
            )],
            overhead: Some(BTreeMap::from([(
                "memory".to_string(),
                Quantity("1Mi".into()),
            )])),
            ..Default::default()
        };
        // max(app 100 + sidecar 10, migrate 500 + sidecar 10) + overhead 1.
        assert_eq!(pod_limits_of(&spec).memory, Some(511 << 20));
    }

    #[test]
    fn v1_files_in_writing_order() {
        let limits = Limits {
            memory: Some(32 << 20),
            cpu_quota_millis: Some(500),
            cpu_request_millis: 250,
            pids: Some(64),
        };
        let files: Vec<(&str, String, bool)> = writes(Version::V1, &limits, true)
            .into_iter()
            .map(|w| (w.file, w.value, w.only_if_present))
            .collect();
        assert_eq!(
            files,
            [
                ("memory.limit_in_bytes", "33554432".to_string(), false),
                ("memory.memsw.limit_in_bytes", "33554432".to_string(), true),
                ("cpu.shares", "256".to_string(), false),
                ("cpu.cfs_period_us", "100000".to_string(), false),
                ("cpu.cfs_quota_us", "50000".to_string(), false),
                ("pids.max", "64".to_string(), false),
            ]
        );
        let without_swap = writes(Version::V1, &limits, false);
        assert!(without_swap.iter().all(|w| !w.file.contains("memsw")));
    }

    #[test]
    fn v2_files_in_writing_order() {
        let limits = Limits {
            memory: Some(1 << 30),
            cpu_quota_millis: Some(1500),
            cpu_request_millis: 1000,
            pids: Some(10_000_000),
        };
        let files: Vec<(&str, String)> = writes(Version::V2, &limits, false)
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect();
        assert_eq!(
            files,
            [
                ("memory.max", "1073741824".to_string()),
                ("memory.swap.max", "0".to_string()),
                ("cpu.weight", "39".to_string()),
                ("cpu.max", "150000 100000".to_string()),
                ("pids.max", "max".to_string()),
            ]
        );
    }

    #[test]
    fn no_limits_write_only_the_smallest_share() {
        let v1: Vec<_> = writes(Version::V1, &Limits::default(), true);
        assert_eq!(v1.len(), 1);
        assert_eq!((v1[0].file, v1[0].value.as_str()), ("cpu.shares", "2"));
        let v2: Vec<_> = writes(Version::V2, &Limits::default(), true);
        assert_eq!((v2[0].file, v2[0].value.as_str()), ("cpu.weight", "1"));
        assert_eq!(v2.len(), 1);
    }

    proptest::proptest! {
        /// Any request gives a share and weight the kernel accepts, and more
        /// CPU never gives less of either.
        #[test]
        fn shares_and_weight_are_in_range_and_monotonic(a in 0u64..10_000_000, b in 0u64..10_000_000) {
            let (lo, hi) = (a.min(b), a.max(b));
            let (s_lo, s_hi) = (cpu_shares(lo), cpu_shares(hi));
            proptest::prop_assert!((MIN_SHARES..=MAX_SHARES).contains(&s_lo));
            proptest::prop_assert!(s_lo <= s_hi);
            proptest::prop_assert!((1..=10_000).contains(&cpu_weight(s_lo)));
            proptest::prop_assert!(cpu_weight(s_lo) <= cpu_weight(s_hi));
        }

        /// Any limit gives no quota or one the kernel accepts.
        #[test]
        fn quota_is_absent_or_accepted(millis in proptest::num::u64::ANY) {
            if let Some(q) = cpu_quota_us(millis) {
                proptest::prop_assert!((MIN_QUOTA_US..=MAX_QUOTA_US).contains(&q));
            }
        }
    }
}
