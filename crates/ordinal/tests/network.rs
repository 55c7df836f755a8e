//! Stable network identity against a real `ordinal up`: Services get
//! cluster IPs, the endpoint controllers publish the pods the test
//! places (address and readiness set through the status subresource, as a
//! node agent would), and the cluster DNS answers from them — names of
//! StatefulSet-style pods, headless and ClusterIP Services, SRV, PTR, and
//! forwarding of other names.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::network::{self, FakeUpstream};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use ordinal_dns::RecordType;
use ordinal_dns::client;

const PATIENCE: Duration = Duration::from_secs(20);

async fn answers(dns: SocketAddr, name: &str, qtype: RecordType) -> Vec<String> {
    match client::query(dns, name, qtype, Duration::from_secs(2)).await {
        Ok(m) => m.answers.iter().map(|r| r.data.to_string()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until the answer to `name` is `want` (sorted).
async fn until_answer(dns: SocketAddr, name: &str, qtype: RecordType, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        got = answers(dns, name, qtype).await;
        got.sort();
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} {qtype}: wanted {want:?}, last answer {got:?}");
}

fn service(yaml: serde_json::Value) -> Service {
    serde_json::from_value(yaml).expect("service")
}

fn headless_web() -> Service {
    service(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
}

#[tokio::test]
async fn statefulset_pods_resolve_by_name_and_follow_their_addresses() {
    let cluster = network::start();
    let client = cluster.ordinal.client().await;
    let dns = cluster.dns;
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &headless_web())
        .await
        .unwrap();
    let pods: Vec<Pod> = (0..3)
        .map(|i| network::pod(&format!("web-{i}"), &[("app", "web")], Some("web")))
        .collect();
    network::create_pods(&client, &pods).await;
    for i in 0..3 {
        network::set_status(
            &client,
            &format!("web-{i}"),
            &format!("10.244.0.{}", 10 + i),
            true,
        )
        .await;
    }
    until_answer(
        dns,
        "web-2.web.default.svc.cluster.local",
        RecordType::A,
        &["10.244.0.12"],
    )
    .await;
    until_answer(
        dns,
        "web.default.svc.cluster.local",
        RecordType::A,
        &["10.244.0.10", "10.244.0.11", "10.244.0.12"],
    )
    .await;
    // SRV lists every pod on the named port, resolved to the container port.
    until_answer(
        dns,
        "_http._tcp.web.default.svc.cluster.local",
        RecordType::SRV,
        &[
            "0 33 8080 web-0.web.default.svc.cluster.local.",
            "0 33 8080 web-1.web.default.svc.cluster.local.",
            "0 33 8080 web-2.web.default.svc.cluster.local.",
        ],
    )
    .await;
    until_answer(
        dns,
        "11.0.244.10.in-addr.arpa",
        RecordType::PTR,
        &["web-1.web.default.svc.cluster.local."],
    )
    .await;

    // A pod that turns unready leaves the headless name and its own.
    network::set_status(&client, "web-1", "10.244.0.11", false).await;
    until_answer(
        dns,
        "web.default.svc.cluster.local",
        RecordType::A,
        &["10.244.0.10", "10.244.0.12"],
    )
    .await;
    let gone = client::query(
        dns,
        "web-1.web.default.svc.cluster.local",
        RecordType::A,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(
        gone.metadata.response_code,
        ordinal_dns::ResponseCode::NXDomain
    );

    // web-2 is deleted and comes back with a new address: the same name
    // follows it.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.delete("web-2", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    until_answer(
        dns,
        "web-2.web.default.svc.cluster.local",
        RecordType::A,
        &[],
    )
    .await;
    network::create_pods(
        &client,
        &[network::pod("web-2", &[("app", "web")], Some("web"))],
    )
    .await;
    network::set_status(&client, "web-2", "10.244.0.42", true).await;
    until_answer(
        dns,
        "web-2.web.default.svc.cluster.local",
        RecordType::A,
        &["10.244.0.42"],
    )
    .await;
}

#[tokio::test]
async fn a_cluster_ip_service_resolves_to_its_allocated_address_and_other_names_go_upstream() {
    let cluster = network::start();
    let client = cluster.ordinal.client().await;
    let dns = cluster.dns;
    let created = Api::<Service>::namespaced(client.clone(), "default")
        .create(
            &PostParams::default(),
            &service(serde_json::json!({
                "metadata": {"name": "api"},
                "spec": {"selector": {"app": "api"},
                         "ports": [{"name": "https", "port": 443, "targetPort": 8443}]},
            })),
        )
        .await
        .unwrap();
    let ip = created.spec.unwrap().cluster_ip.unwrap();
    assert!(ip.starts_with("10."), "{ip}");
    until_answer(dns, "api.default.svc.cluster.local", RecordType::A, &[&ip]).await;
    until_answer(
        dns,
        "_https._tcp.api.default.svc.cluster.local",
        RecordType::SRV,
        &["0 100 443 api.default.svc.cluster.local."],
    )
    .await;
    // The API server's own Service, at the first address of the range.
    until_answer(
        dns,
        "kubernetes.default.svc.cluster.local",
        RecordType::A,
        &["10.96.0.1"],
    )
    .await;
    // A name outside the cluster goes to the upstream.
    until_answer(dns, "example.org", RecordType::A, &[FakeUpstream::ANSWER]).await;
    assert!(
        cluster
            .upstream
            .questions
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // A pod's own name carries its address.
    until_answer(
        dns,
        "10-244-1-7.default.pod.cluster.local",
        RecordType::A,
        &["10.244.1.7"],
    )
    .await;
    // Unknown names in the zone: NXDOMAIN with the zone's SOA.
    let missing = client::query(
        dns,
        "nope.default.svc.cluster.local",
        RecordType::A,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(
        missing.metadata.response_code,
        ordinal_dns::ResponseCode::NXDomain
    );
    assert_eq!(missing.authorities[0].record_type(), RecordType::SOA);
}

#[tokio::test]
async fn endpoint_slices_follow_readiness_and_publish_not_ready_addresses() {
    let cluster = network::start();
    let client = cluster.ordinal.client().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .create(
            &PostParams::default(),
            &service(serde_json::json!({
                "metadata": {"name": "db"},
                "spec": {"clusterIP": "None", "selector": {"app": "db"},
                         "publishNotReadyAddresses": true,
                         "ports": [{"name": "pg", "port": 5432}]},
            })),
        )
        .await
        .unwrap();
    network::create_pods(
        &client,
        &[network::pod("db-0", &[("app", "db")], Some("db"))],
    )
    .await;
    network::set_status(&client, "db-0", "10.244.2.1", false).await;
    // Not ready, but published: it resolves.
    until_answer(
        cluster.dns,
        "db-0.db.default.svc.cluster.local",
        RecordType::A,
        &["10.244.2.1"],
    )
    .await;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let list = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=db"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let slice = &list.items[0];
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(
        labels
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    let conditions = slice.endpoints[0].conditions.clone().unwrap();
    assert_eq!(
        (conditions.ready, conditions.serving, conditions.terminating),
        (Some(true), Some(false), Some(false))
    );
    assert_eq!(slice.endpoints[0].hostname.as_deref(), Some("db-0"));
}
