//! End to end with the real kubectl: Services get cluster IPs and node
//! ports (and upstream's 422s when they cannot), Endpoints and
//! EndpointSlices appear in `kubectl get` and `kubectl describe` as on a
//! real cluster, and no two Services ever share an address — under
//! concurrent creates and across a restart.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Ordinal, eventually, network};

const WEB: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"#;

#[test]
fn services_get_addresses_and_kubectl_shows_their_endpoints() {
    let cluster = network::start();
    let o = &cluster.ordinal;
    o.ok_stdin(&["apply", "-f", "-"], WEB);
    let svc = o.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(svc.starts_with("10."), "{svc}");
    let kubernetes = o.ok(&[
        "get",
        "svc",
        "kubernetes",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert_eq!(kubernetes, "10.96.0.1");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = o.client().await;
        let pods: Vec<_> = ["web-a", "web-b"]
            .iter()
            .map(|n| network::pod(n, &[("app", "web")], None))
            .collect();
        network::create_pods(&client, &pods).await;
        network::set_status(&client, "web-a", "10.244.0.2", true).await;
        network::set_status(&client, "web-b", "10.244.0.3", false).await;
    });
    eventually(
        "endpoints show the ready pod",
        Duration::from_secs(20),
        || {
            o.ok(&["get", "endpoints", "web"])
                .contains("10.244.0.2:8080")
        },
    );
    let endpoints = o.ok(&["get", "endpoints", "web"]);
    assert!(endpoints.starts_with("NAME"), "{endpoints}");
    assert!(endpoints.contains("ENDPOINTS"), "{endpoints}");
    assert!(
        !endpoints.contains("10.244.0.3"),
        "not ready is not listed:\n{endpoints}"
    );

    let described = o.ok(&["describe", "endpoints", "web"]);
    assert!(
        described.contains("NotReadyAddresses:  10.244.0.3"),
        "{described}"
    );

    eventually("the slice lists both pods", Duration::from_secs(20), || {
        let slices = o.ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
        ]);
        slices.contains("10.244.0.2") && slices.contains("10.244.0.3")
    });
    let slices = o.ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
    ]);
    let header: Vec<&str> = slices.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]);
    assert!(slices.contains("IPv4"), "{slices}");
    assert!(slices.contains("8080"), "{slices}");

    let svc = o.ok(&["describe", "svc", "web"]);
    for line in [
        "Selector:",
        "app=web",
        "TargetPort:",
        "http/TCP",
        "Endpoints:",
        "10.244.0.2:8080",
    ] {
        assert!(svc.contains(line), "describe svc lacks {line}:\n{svc}");
    }

    // The pod becomes ready: both are listed.
    rt.block_on(async {
        let client = o.client().await;
        network::set_status(&client, "web-b", "10.244.0.3", true).await;
    });
    eventually("both endpoints are ready", Duration::from_secs(20), || {
        let e = o.ok(&["get", "endpoints", "web"]);
        e.contains("10.244.0.2:8080") && e.contains("10.244.0.3:8080")
    });

    // Deleting the Service takes its Endpoints and (by the garbage
    // collector) its slices along.
    o.ok(&["delete", "svc", "web"]);
    eventually(
        "endpoints and slices are gone",
        Duration::from_secs(20),
        || {
            let e = o.run(&["get", "endpoints", "web"]);
            let s = o.ok(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
                "-o",
                "name",
            ]);
            !e.status.success() && s.trim().is_empty()
        },
    );
}

#[test]
fn services_without_selector_keep_the_endpoints_users_give_them() {
    let o = Ordinal::start_with(&["--no-node"]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Service
metadata: {name: external}
spec:
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: external}
subsets:
- addresses: [{ip: 192.0.2.10}]
  ports: [{port: 5432}]
"#,
    );
    std::thread::sleep(Duration::from_millis(500));
    let e = o.ok(&["get", "endpoints", "external"]);
    assert!(e.contains("192.0.2.10:5432"), "{e}");
    let slices = o.ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=external",
        "-o",
        "name",
    ]);
    assert!(
        slices.trim().is_empty(),
        "no slices are made for it: {slices}"
    );
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn invalid_services_get_upstreams_422s() {
    let o = Ordinal::start_with(&["--no-node"]);
    let cases: &[(&str, &str)] = &[
        (
            "spec: {clusterIP: 1.2.3.4, ports: [{port: 80}]}",
            r#"The Service "bad" is invalid: spec.clusterIPs: Invalid value: []string{"1.2.3.4"}: failed to allocate IP 1.2.3.4: the provided network does not match the current range"#,
        ),
        (
            "spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}",
            r#"The Service "bad" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated"#,
        ),
        (
            "spec: {type: NodePort, ports: [{port: 80, nodePort: 80}]}",
            r#"The Service "bad" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"#,
        ),
        (
            "spec: {ports: [{name: a, port: 80}, {name: a, port: 81}]}",
            r#"spec.ports[1].name: Duplicate value: "a""#,
        ),
        (
            "spec: {ports: [{port: 0}]}",
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            "spec: {ports: [{port: 80, targetPort: 70000}]}",
            "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
    ];
    for (spec, want) in cases {
        let manifest = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: bad}}\n{spec}\n");
        let out = o.run_stdin(&["create", "-f", "-"], &manifest);
        assert!(!out.status.success(), "{spec} was accepted");
        let err = stderr(&out);
        assert!(err.contains(want), "{spec}:\n got: {err}\nwant: {want}");
    }
    // A free address and node port in range are accepted as asked.
    o.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata: {name: good}\nspec: {type: NodePort, clusterIP: 10.96.0.50, ports: [{port: 80, nodePort: 30080}]}\n",
    );
    let got = o.ok(&[
        "get",
        "svc",
        "good",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}",
    ]);
    assert_eq!(got, "10.96.0.50 30080");
    let taken = o.run_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata: {name: again}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}\n",
    );
    assert!(
        stderr(&taken).contains(
            "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
        ),
        "{}",
        stderr(&taken)
    );
}

#[test]
fn concurrent_creates_never_share_an_address_and_a_restart_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    // A small range: 14 addresses, 13 after default/kubernetes.
    let extra = ["--service-cidr", "10.100.0.0/28"];
    let mut o = Ordinal::start_on_with(dir.path(), &extra);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ips: Vec<Option<String>> = rt.block_on(async {
        let client = o.client().await;
        let api: kube::Api<k8s_openapi::api::core::v1::Service> =
            kube::Api::namespaced(client, "default");
        let creates = (0..16).map(|i| {
            let api = api.clone();
            async move {
                let svc = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("s{i}")},
                    "spec": {"ports": [{"port": 80}]},
                }))
                .unwrap();
                api.create(&Default::default(), &svc)
                    .await
                    .ok()
                    .and_then(|s| s.spec?.cluster_ip)
            }
        });
        futures::future::join_all(creates).await
    });
    let given: Vec<&String> = ips.iter().flatten().collect();
    assert_eq!(given.len(), 13, "the range holds 13: {ips:?}");
    let unique: HashSet<&&String> = given.iter().collect();
    assert_eq!(
        unique.len(),
        given.len(),
        "an address was given twice: {given:?}"
    );
    // After a restart the range is still full…
    o.terminate();
    let o = Ordinal::start_on_with(dir.path(), &extra);
    let full = o.run(&["create", "service", "clusterip", "late", "--tcp=80"]);
    assert!(stderr(&full).contains("range is full"), "{}", stderr(&full));
    // …until a Service goes (two that got an address: which three of the
    // sixteen creates lost the race differs from run to run).
    let holders: Vec<String> = ips
        .iter()
        .enumerate()
        .filter(|(_, ip)| ip.is_some())
        .map(|(i, _)| format!("s{i}"))
        .take(2)
        .collect();
    o.ok(&["delete", "svc", &holders[0], &holders[1]]);
    o.ok(&["create", "service", "clusterip", "late", "--tcp=80"]);
    let late = o.ok(&["get", "svc", "late", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(late.starts_with("10.100.0."), "{late}");
    let all = o.ok(&["get", "svc", "-o", "jsonpath={.items[*].spec.clusterIP}"]);
    let all: Vec<&str> = all.split_whitespace().collect();
    let distinct: HashSet<&&str> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "{all:?}");
}
