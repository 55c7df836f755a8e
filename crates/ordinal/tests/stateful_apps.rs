//! A StatefulSet of real servers, end to end: the promises a stateful
//! application relies on, checked with the real kubectl against pods that
//! really run (busybox httpd) on ordinal's own node — ordered start, a
//! claim per pod whose data survives the pod, a stable DNS name per pod
//! that follows it to its new address, a headless Service listing the
//! ready pods, a ClusterIP Service reaching them, and `kubectl exec -it`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::network::FakeUpstream;
use common::terminal::Terminal;
use common::{Ordinal, eventually, get};

const WAIT: Duration = Duration::from_secs(60);

/// A headless Service, a ClusterIP Service and a 3-replica set whose pods
/// serve their claim's directory; each pod writes its hostname and a line
/// per start into the claim, so a restart shows as a second line.
const APP: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: only1}
spec:
  selector: {statefulset.kubernetes.io/pod-name: web-1}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: busybox:1.36
        command:
        - sh
        - -c
        - "hostname > /data/index.html; echo started >> /data/starts; exec busybox httpd -f -p 80 -h /data"
        ports: [{name: http, containerPort: 80}]
        readinessProbe:
          httpGet: {path: /index.html, port: http}
          periodSeconds: 1
          failureThreshold: 1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"#;

fn exec(o: &Ordinal, pod: &str, script: &str) -> String {
    o.ok(&["exec", pod, "--", "sh", "-c", script])
}

fn ready(o: &Ordinal, pod: &str) -> bool {
    o.run(&[
        "get",
        "pod",
        pod,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
    ])
    .stdout
    .starts_with(b"True")
}

/// What `getent hosts NAME` prints in a pod: the addresses, sorted.
/// The IPv4 addresses `name` resolves to inside `pod`, through the pod's
/// resolv.conf (busybox's nslookup; a name without a dot in its last
/// part is taken in the pod's namespace, as the search list would).
fn resolve(o: &Ordinal, pod: &str, name: &str) -> Vec<String> {
    let fqdn = if name.ends_with(".example") {
        name.to_string()
    } else {
        format!("{name}.default.svc.cluster.local")
    };
    let out = o.run(&["exec", pod, "--", "nslookup", "-type=a", &fqdn]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The answers follow the "Name:" line; the server's own address
    // comes before it.
    let mut ips: Vec<String> = text
        .split_once("Name:")
        .map(|(_, answers)| answers)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .collect();
    ips.sort();
    ips
}

#[test]
fn a_stateful_set_of_servers_keeps_order_data_and_names() {
    let upstream = FakeUpstream::start();
    let upstream_addr = upstream.addr.to_string();
    let o = Ordinal::start_with(&["--dns-upstream", &upstream_addr]);
    o.ok_stdin(&["apply", "-f", "-"], APP);
    o.ok(&["rollout", "status", "sts/web", "--timeout=120s"]);

    // Ordered start: each pod was created only once the one before it was
    // Ready (OrderedReady), which the creation and ready times show.
    let times = |pod: &str| {
        let created: jiff::Timestamp =
            get(&o, &format!("pod/{pod}"), "{.metadata.creationTimestamp}")
                .parse()
                .unwrap();
        let ready: jiff::Timestamp = get(
            &o,
            &format!("pod/{pod}"),
            r#"{.status.conditions[?(@.type=="Ready")].lastTransitionTime}"#,
        )
        .parse()
        .unwrap();
        (created, ready)
    };
    let (_, ready0) = times("web-0");
    let (created1, ready1) = times("web-1");
    let (created2, _) = times("web-2");
    assert!(
        created1 >= ready0 && created2 >= ready1,
        "created before the previous pod was Ready"
    );

    // Each pod is itself: its hostname, and its own claim, bound.
    for i in 0..3 {
        assert_eq!(
            exec(&o, &format!("web-{i}"), "hostname").trim(),
            format!("web-{i}")
        );
        assert_eq!(
            get(&o, &format!("pvc/data-web-{i}"), "{.status.phase}"),
            "Bound"
        );
    }

    // Stable names: web-2.web resolves, from web-0, to web-2's address;
    // the headless name to every ready pod.
    let ip = |pod: &str| get(&o, &format!("pod/{pod}"), "{.status.podIP}");
    assert_eq!(resolve(&o, "web-0", "web-2.web"), vec![ip("web-2")]);
    let mut all = vec![ip("web-0"), ip("web-1"), ip("web-2")];
    all.sort();
    assert_eq!(resolve(&o, "web-0", "web"), all);
    // A ClusterIP Service reaches a ready pod by name.
    let page = exec(&o, "web-0", "wget -qO- http://front:8080/");
    assert!(page.starts_with("web-"), "{page}");
    // …also when the endpoint it picks is the asking pod itself (the
    // packet goes back out of the bridge port it came in on).
    for pod in ["web-0", "web-1"] {
        let page = exec(&o, pod, "timeout 5 wget -qO- http://only1:8080/");
        assert!(page.starts_with("web-1"), "from {pod}: {page}");
    }
    // Names outside the cluster are forwarded to the upstream resolvers.
    assert_eq!(
        resolve(&o, "web-0", "outside.example"),
        vec!["192.0.2.53".to_string()]
    );

    // Data on the claim survives the pod: delete web-1, it comes back
    // (with a new address) and finds what it wrote.
    exec(&o, "web-1", "echo kept > /data/marker");
    let old_ip = ip("web-1");
    o.ok(&["delete", "pod", "web-1"]);
    eventually("web-1 comes back Ready", WAIT, || ready(&o, "web-1"));
    assert_eq!(exec(&o, "web-1", "cat /data/marker").trim(), "kept");
    assert_eq!(exec(&o, "web-1", "wc -l < /data/starts").trim(), "2");
    let new_ip = ip("web-1");
    assert_ne!(new_ip, old_ip);
    // …and its name follows it (how fast is the network benchmark's
    // business; here it must happen within a few lookups).
    eventually(
        "web-1.web resolves to the new address",
        Duration::from_secs(10),
        || resolve(&o, "web-0", "web-1.web") == vec![new_ip.clone()],
    );

    // A pod that turns unready leaves the headless name: web-2 loses its
    // page, its readiness probe fails, and the name drops it.
    exec(&o, "web-2", "rm /data/index.html");
    eventually("web-2 is not ready", WAIT, || !ready(&o, "web-2"));
    eventually(
        "the headless name drops web-2",
        Duration::from_secs(10),
        || !resolve(&o, "web-0", "web").contains(&ip("web-2")),
    );
    exec(&o, "web-2", "hostname > /data/index.html");
    eventually("web-2 is ready again", WAIT, || ready(&o, "web-2"));

    // SRV records list the pods, asked on the pods' DNS address.
    let node = get(&o, "nodes", "{.items[0].status.addresses[0].address}");
    let dns = SocketAddr::new(node.parse().unwrap(), 53).to_string();
    let srv = std::process::Command::new(common::binary())
        .args([
            "dns-query",
            "_http._tcp.web.default.svc.cluster.local",
            "--type",
            "SRV",
            "--server",
            &dns,
        ])
        .output()
        .unwrap();
    let srv = String::from_utf8_lossy(&srv.stdout).into_owned();
    for i in 0..3 {
        assert!(
            srv.contains(&format!("web-{i}.web.default.svc.cluster.local")),
            "{srv}"
        );
    }

    // Scale down to 1 and back: web-1 gets its old claim, with its data.
    o.ok(&["scale", "sts/web", "--replicas=1"]);
    eventually("scaled to 1", WAIT, || {
        o.ok(&["get", "pods", "-o", "name"]).trim() == "pod/web-0"
    });
    o.ok(&["scale", "sts/web", "--replicas=3"]);
    o.ok(&["rollout", "status", "sts/web", "--timeout=120s"]);
    assert_eq!(exec(&o, "web-1", "cat /data/marker").trim(), "kept");

    // Deleting the set keeps the claims; a new set re-attaches them.
    o.ok(&["delete", "sts", "web"]);
    eventually("the pods are gone", WAIT, || {
        o.ok(&["get", "pods", "-o", "name"]).trim().is_empty()
    });
    assert_eq!(o.ok(&["get", "pvc", "-o", "name"]).lines().count(), 3);
    o.ok_stdin(&["apply", "-f", "-"], APP);
    o.ok(&["rollout", "status", "sts/web", "--timeout=120s"]);
    assert_eq!(exec(&o, "web-1", "cat /data/marker").trim(), "kept");

    // An interactive shell in a pod, with a terminal.
    let (terminal, slave) = Terminal::open(24, 80);
    let mut kubectl = o.kubectl();
    kubectl.args(["exec", "-it", "web-0", "--", "sh"]);
    Terminal::attach(&mut kubectl, &slave);
    let mut child = kubectl.spawn().unwrap();
    drop(slave);
    terminal.type_text("tty; hostname; cat /data/marker 2>/dev/null || echo none; exit 3\r");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl exec -it did not return: {}",
            terminal.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = terminal.text();
    assert_eq!(status.code(), Some(3), "{status:?} {text}");
    assert!(
        text.contains("/dev/pts/") && text.contains("web-0"),
        "{text}"
    );
}
