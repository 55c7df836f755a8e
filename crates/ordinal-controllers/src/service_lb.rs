//! The service load balancer of `ordinal up`, as k3s's: a Service of type
//! `LoadBalancer` gets the InternalIP of every Ready node as its ingress
//! (`status.loadBalancer.ingress`), where each node's service proxy serves
//! its ports (and its node ports, as for every `NodePort` Service). A
//! Service that stops being a load balancer loses its ingress.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::informer::{Informers, key_of};
use crate::queue::Queue;
use crate::runtime::{self, Next, Reconciler};

const WORKERS: usize = 1;
const MANAGER: &str = "service-lb-controller";

/// Runs the controller on `informers` until `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let services = informers.get::<Service>();
    let nodes = informers.get::<Node>();
    let queue = Queue::new();
    services.queue_keys(&queue);
    {
        // A node that comes, goes or changes address moves every ingress.
        let (queue, services) = (Arc::clone(&queue), Arc::clone(&services));
        nodes.on_change(Box::new(move |_, _| {
            queue.add_all(
                services
                    .list()
                    .iter()
                    .filter(|s| is_load_balancer(s))
                    .map(|s| key_of(s.as_ref())),
            );
        }));
    }
    let ready = {
        let (services, nodes) = (Arc::clone(&services), Arc::clone(&nodes));
        async move {
            services.synced().await;
            nodes.synced().await;
        }
    };
    let controller = Arc::new(Balancer {
        client: informers.client().clone(),
        services,
        nodes,
    });
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

fn is_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

fn ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The ingress addresses a Service should have: the InternalIPs of the
/// Ready nodes for a load balancer, sorted; none otherwise.
pub fn ingress<'a>(service: &Service, nodes: impl IntoIterator<Item = &'a Node>) -> Vec<String> {
    if !is_load_balancer(service) {
        return Vec::new();
    }
    let mut ips: Vec<String> = nodes
        .into_iter()
        .filter(|n| ready(n))
        .filter_map(|n| {
            n.status
                .as_ref()?
                .addresses
                .as_ref()?
                .iter()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The ingress addresses a Service's status shows.
fn current(service: &Service) -> Vec<String> {
    service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|list| list.iter().filter_map(|i| i.ip.clone()).collect())
        .unwrap_or_default()
}

struct Balancer {
    client: kube::Client,
    services: Arc<crate::informer::Informer<Service>>,
    nodes: Arc<crate::informer::Informer<Node>>,
}

impl Reconciler for Balancer {
    type Key = (String, String);

    async fn reconcile(&self, (namespace, name): &(String, String)) -> Next {
        let Some(service) = self.services.get(namespace, name) else {
            return Next::Done;
        };
        let nodes = self.nodes.list();
        let want = ingress(&service, nodes.iter().map(|n| n.as_ref()));
        if want == current(&service) {
            return Next::Done;
        }
        let ingress: Vec<_> = want
            .iter()
            .map(|ip| json!({ "ip": ip, "ipMode": "VIP" }))
            .collect();
        // No ingress left: the field goes, as upstream's controller leaves
        // `loadBalancer: {}`.
        let ingress = if ingress.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Array(ingress)
        };
        let patch = json!({ "status": { "loadBalancer": { "ingress": ingress } } });
        let api: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        let written = api
            .patch_status(
                name,
                &PatchParams {
                    field_manager: Some(MANAGER.into()),
                    ..PatchParams::default()
                },
                &Patch::Merge(&patch),
            )
            .await
            .map(|s| self.services.written(s));
        written.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(kind: &str) -> Service {
        serde_json::from_value(json!({
            "metadata": { "name": "db", "namespace": "default" },
            "spec": { "type": kind, "ports": [{ "port": 5432 }] }
        }))
        .unwrap()
    }

    fn node(name: &str, ip: &str, ready: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "status": {
                "addresses": [{ "type": "Hostname", "address": name }, { "type": "InternalIP", "address": ip }],
                "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_load_balancer_gets_the_ready_nodes_addresses() {
        let nodes = [
            node("b", "10.0.0.2", true),
            node("a", "10.0.0.1", true),
            node("c", "10.0.0.3", false),
        ];
        assert_eq!(
            ingress(&service("LoadBalancer"), &nodes),
            ["10.0.0.1", "10.0.0.2"]
        );
        assert!(ingress(&service("NodePort"), &nodes).is_empty());
        assert!(ingress(&service("ClusterIP"), &nodes).is_empty());
    }
}
