//! The node's own API objects: the Node (registered at start, its status
//! refreshed while the agent runs) and its heartbeat Lease in
//! `kube-node-lease`, as kubelet keeps them.
//!
//! Timings follow kubelet's defaults: the Lease (40 s) is renewed every
//! 10 s; the Node status is written every 10 s when something changed and
//! at least every minute otherwise. The node lifecycle controller judges
//! the node by the Lease.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints,
    NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::machine;

pub const LEASE_SECONDS: i32 = 40;
pub const RENEW: Duration = Duration::from_secs(10);
const STATUS_UNCHANGED_REPORT: Duration = Duration::from_secs(60);

/// What the node says about itself.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub address: std::net::IpAddr,
    pub kubelet_port: u16,
    pub pod_cidr: Option<String>,
    pub data_dir: std::path::PathBuf,
    pub max_pods: u32,
    /// Why pods' resource limits are not (all) enforced, if they are not:
    /// said in the Ready condition's message.
    pub limits_unenforced: Option<String>,
}

fn quantity(s: impl Into<String>) -> Quantity {
    Quantity(s.into())
}

fn resources(c: &machine::Capacity) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), quantity(c.cpus.to_string())),
        (
            "memory".to_string(),
            quantity(format!("{}Ki", c.memory_bytes / 1024)),
        ),
        (
            "ephemeral-storage".to_string(),
            quantity(format!("{}Ki", c.storage_bytes / 1024)),
        ),
        ("pods".to_string(), quantity(c.max_pods.to_string())),
    ])
}

fn condition(
    kind: &str,
    on: bool,
    reason: &str,
    message: &str,
    previous: Option<&NodeStatus>,
    now: jiff::Timestamp,
) -> NodeCondition {
    let status = if on { "True" } else { "False" };
    let since = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == kind && c.status == status))
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    NodeCondition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(since),
    }
}

/// The node status now.
pub fn status(
    id: &Identity,
    previous: Option<&NodeStatus>,
    now: jiff::Timestamp,
    images: Vec<ContainerImage>,
) -> NodeStatus {
    let cap = machine::capacity(&id.data_dir, id.max_pods);
    let usage = machine::usage(&id.data_dir);
    let info = machine::info();
    let mem = usage.memory_pressure();
    let disk = usage.disk_pressure();
    let pid = usage.pid_pressure();
    NodeStatus {
        capacity: Some(resources(&cap)),
        allocatable: Some(resources(&cap)),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                mem,
                if mem {
                    "KubeletHasInsufficientMemory"
                } else {
                    "KubeletHasSufficientMemory"
                },
                if mem {
                    "kubelet has insufficient memory available"
                } else {
                    "kubelet has sufficient memory available"
                },
                previous,
                now,
            ),
            condition(
                "DiskPressure",
                disk,
                if disk {
                    "KubeletHasDiskPressure"
                } else {
                    "KubeletHasNoDiskPressure"
                },
                if disk {
                    "kubelet has disk pressure"
                } else {
                    "kubelet has no disk pressure"
                },
                previous,
                now,
            ),
            condition(
                "PIDPressure",
                pid,
                if pid {
                    "KubeletHasInsufficientPID"
                } else {
                    "KubeletHasSufficientPID"
                },
                if pid {
                    "kubelet has insufficient PID available"
                } else {
                    "kubelet has sufficient PID available"
                },
                previous,
                now,
            ),
            condition(
                "Ready",
                true,
                "KubeletReady",
                &match &id.limits_unenforced {
                    None => "kubelet is posting ready status".to_string(),
                    Some(why) => format!(
                        "kubelet is posting ready status; pods run without some resource limits: {why}"
                    ),
                },
                previous,
                now,
            ),
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: id.address.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: id.name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(id.kubelet_port),
            }),
        }),
        node_info: Some(NodeSystemInfo {
            machine_id: info.machine_id,
            system_uuid: info.system_uuid,
            boot_id: info.boot_id,
            kernel_version: info.kernel_version,
            os_image: info.os_image,
            container_runtime_version: format!("ordinal://{}", env!("CARGO_PKG_VERSION")),
            kubelet_version: "v1.33.0".into(),
            kube_proxy_version: String::new(),
            operating_system: "linux".into(),
            architecture: info.architecture,
            ..Default::default()
        }),
        images: Some(images),
        ..Default::default()
    }
}

fn labels(id: &Identity) -> BTreeMap<String, String> {
    let arch = machine::info().architecture;
    BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), id.name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch.clone()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch),
    ])
}

/// Creates the Node, or takes over the one of the same name (a restart).
pub async fn register(client: &Client, id: &Identity) -> kube::Result<Node> {
    let api: Api<Node> = Api::all(client.clone());
    let now = jiff::Timestamp::now();
    let node = Node {
        metadata: ObjectMeta {
            name: Some(id.name.clone()),
            labels: Some(labels(id)),
            annotations: Some(BTreeMap::from([(
                "node.alpha.kubernetes.io/ttl".to_string(),
                "0".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: id.pod_cidr.clone(),
            pod_cidrs: id.pod_cidr.clone().map(|c| vec![c]),
            ..Default::default()
        }),
        status: None,
    };
    let existing = match api.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let patch = serde_json::json!({
                "metadata": {"labels": labels(id)},
                "spec": {"podCIDR": id.pod_cidr, "podCIDRs": id.pod_cidr.clone().map(|c| vec![c])},
            });
            api.patch(&id.name, &PatchParams::default(), &Patch::Merge(patch))
                .await?
        }
        Err(e) => return Err(e),
    };
    let status = status(id, existing.status.as_ref(), now, Vec::new());
    api.patch_status(
        &id.name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await
}

/// Renews the Lease and refreshes the Node status until `shutdown`.
pub async fn heartbeat(
    client: Client,
    id: Identity,
    node_uid: Option<String>,
    images: Option<std::sync::Arc<crate::images::Images>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut image_changes = images.as_ref().map(|i| i.subscribe());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(client.clone());
    let mut last_status: Option<NodeStatus> = None;
    let mut last_report = std::time::Instant::now();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(RENEW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let images_changed = async {
            match image_changes.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let renewing = tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => true,
            // New images are reported at once (`kubectl describe node`),
            // without waiting for the next tick.
            true = images_changed => false,
        };
        if renewing && let Err(e) = renew(&leases, &id, node_uid.as_deref()).await {
            tracing::warn!(error = %e, "renewing the node lease failed");
        }
        let now = jiff::Timestamp::now();
        let node_images = images.as_ref().map(|i| i.node_images()).unwrap_or_default();
        let fresh = status(&id, last_status.as_ref(), now, node_images);
        let changed = last_status
            .as_ref()
            .is_none_or(|old| !same_but_heartbeat(old, &fresh));
        if changed || last_report.elapsed() >= STATUS_UNCHANGED_REPORT {
            match nodes
                .patch_status(
                    &id.name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({ "status": fresh })),
                )
                .await
            {
                Ok(_) => {
                    last_status = Some(fresh);
                    last_report = std::time::Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "updating the node status failed"),
            }
        }
    }
}

/// Equal except for heartbeat times.
fn same_but_heartbeat(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        // Storage and memory figures move constantly; they are reported
        // at the slower cadence.
        s.capacity = None;
        s.allocatable = None;
        s
    };
    strip(a) == strip(b)
}

async fn renew(api: &Api<Lease>, id: &Identity, node_uid: Option<&str>) -> kube::Result<()> {
    let now = MicroTime(jiff::Timestamp::now());
    let spec = LeaseSpec {
        holder_identity: Some(id.name.clone()),
        lease_duration_seconds: Some(LEASE_SECONDS),
        renew_time: Some(now),
        ..Default::default()
    };
    match api.get_opt(&id.name).await? {
        Some(mut lease) => {
            lease.spec = Some(LeaseSpec {
                acquire_time: lease.spec.as_ref().and_then(|s| s.acquire_time.clone()),
                ..spec
            });
            api.replace(&id.name, &PostParams::default(), &lease)
                .await?;
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(id.name.clone()),
                    namespace: Some("kube-node-lease".into()),
                    owner_references: node_uid.map(|uid| {
                        vec![OwnerReference {
                            api_version: "v1".into(),
                            kind: "Node".into(),
                            name: id.name.clone(),
                            uid: uid.to_string(),
                            ..Default::default()
                        }]
                    }),
                    ..Default::default()
                },
                spec: Some(spec),
            };
            api.create(&PostParams::default(), &lease).await?;
        }
    }
    Ok(())
}
