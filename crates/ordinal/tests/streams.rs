//! `kubectl logs` and `kubectl exec` end to end: the real kubectl 1.33
//! against a real `ordinal up`, which proxies to a node server this test
//! runs (the node agent's server with the host runtime: containers are
//! plain host processes). The test registers the Node (addresses, kubelet
//! port, Ready through the status subresource) and sets the pods' status
//! itself, as a kubelet would.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::terminal::Terminal;
use common::{Ordinal, eventually};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, AttachParams, Patch, PatchParams, PostParams};
use ordinal_node::host::{HostRuntime, HostState};
use ordinal_node::server::{self, NodeServer, NodeServerConfig};
use serde_json::json;

const NODE: &str = "stream-node";

/// A running `ordinal up`, a node server in this process and the host
/// runtime behind it.
struct Cluster {
    ordinal: Ordinal,
    runtime: Arc<HostRuntime>,
    node: Option<NodeServer>,
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    _logs: tempfile::TempDir,
}

/// Everything a test needs, started in one place: when `ordinal up` runs
/// its own node agent, the flag that keeps it from doing so goes here.
fn start() -> Cluster {
    let ordinal = Ordinal::start_with(&["--no-node"]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let runtime = Arc::new(HostRuntime::new(logs.path()));
    let client = rt.block_on(ordinal.client());
    let kubeconfig = kube::config::Kubeconfig::read_from(ordinal.kubeconfig()).unwrap();
    let ca = server::client_ca_from_kubeconfig(&kubeconfig).unwrap();
    let node = rt
        .block_on(server::start(
            NodeServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                client_ca_pem: ca,
                serving: None,
            },
            runtime.clone(),
        ))
        .expect("the node server starts");
    rt.block_on(register_node(&client, NODE, node.addr()));
    Cluster {
        ordinal,
        runtime,
        node: Some(node),
        rt,
        client,
        _logs: logs,
    }
}

/// Creates a Ready Node whose kubelet endpoint is `addr`.
async fn register_node(client: &kube::Client, name: &str, addr: SocketAddr) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "addresses": [
                    {"type": "InternalIP", "address": addr.ip().to_string()},
                    {"type": "Hostname", "address": name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": addr.port()}},
                "conditions": [{
                    "type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "test node", "lastHeartbeatTime": now, "lastTransitionTime": now,
                }],
            }})),
        )
        .await
        .unwrap();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            self.rt.block_on(node.shutdown());
        }
    }
}

impl Cluster {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a pod bound to the node and hands it to the runtime (its
    /// containers waiting); returns the stored pod.
    fn create_pod(&self, pod: serde_json::Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        let created = self
            .rt
            .block_on(self.pods().create(&PostParams::default(), &pod))
            .unwrap();
        if created.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(NODE) {
            self.runtime.add_pod(&created);
        }
        created
    }

    /// Starts a container and reports it running in the pod's status.
    fn start_container(&self, pod: &str, container: &str) {
        let _guard = self.rt.enter();
        self.runtime.start("default", pod, container).unwrap();
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        self.rt
            .block_on(self.pods().patch_status(
                pod,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "phase": "Running",
                    "containerStatuses": [{
                        "name": container, "image": "host", "imageID": "", "ready": true,
                        "restartCount": 0, "started": true,
                        "state": {"running": {"startedAt": now}},
                    }],
                }})),
            ))
            .unwrap();
    }

    /// Waits until the container's log holds `text`.
    fn wait_for_log(&self, pod: &str, container: &str, text: &str) {
        eventually(
            &format!("{pod}/{container} logs {text:?}"),
            Duration::from_secs(20),
            || {
                let out = self.ordinal.run(&["logs", pod, "-c", container]);
                String::from_utf8_lossy(&out.stdout).contains(text)
            },
        );
    }

    fn wait_for_exit(&self, pod: &str, container: &str) -> i32 {
        let state = self
            .rt
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(20),
                    self.runtime.wait_for("default", pod, container, |s| {
                        matches!(s, HostState::Exited(_))
                    }),
                )
                .await
            })
            .expect("the container exits in time")
            .unwrap();
        match state {
            HostState::Exited(code) => code,
            other => panic!("{other:?}"),
        }
    }
}

fn pod(name: &str, containers: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": NODE, "containers": containers},
    })
}

fn sh(name: &str, script: &str) -> serde_json::Value {
    json!({"name": name, "image": "host", "command": ["sh", "-c", script]})
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn kubectl_logs_with_every_option() {
    let c = start();
    c.create_pod(pod(
        "chatty",
        json!([
            // Two pipes have no order between them: the stderr line comes
            // a moment later so that the log shows it last.
            sh("app", "for i in 1 2 3 4 5; do echo line $i; done; sleep 0.3; echo oops >&2; exec sleep 600"),
            sh("side", "echo from the side; exec sleep 600"),
        ]),
    ));
    c.start_container("chatty", "app");
    c.start_container("chatty", "side");
    c.wait_for_log("chatty", "app", "oops");
    c.wait_for_log("chatty", "side", "from the side");

    // Both streams, in order; the first container by kubectl's default.
    let out = c.ordinal.run(&["logs", "chatty"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "line 1\nline 2\nline 3\nline 4\nline 5\noops\n"
    );
    assert!(
        stderr(&out).contains("Defaulted container \"app\" out of: app, side"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        c.ordinal.ok(&["logs", "chatty", "-c", "side"]),
        "from the side\n"
    );
    assert_eq!(
        c.ordinal.ok(&["logs", "chatty", "-c", "app", "--tail=2"]),
        "line 5\noops\n"
    );
    assert_eq!(
        c.ordinal
            .ok(&["logs", "chatty", "-c", "app", "--limit-bytes=10"]),
        "line 1\nlin"
    );
    let stamped = c
        .ordinal
        .ok(&["logs", "chatty", "-c", "app", "--timestamps", "--tail=1"]);
    let (time, rest) = stamped.split_once(' ').unwrap();
    assert_eq!(rest, "oops\n");
    assert_eq!(time.len(), "2024-01-01T00:00:00.000000000Z".len(), "{time}");
    let time: jiff::Timestamp = time.parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(time).as_secs() < 120);
    assert_eq!(
        c.ordinal
            .ok(&["logs", "chatty", "-c", "app", "--since=1h"])
            .lines()
            .count(),
        6
    );
    // Nothing was written in the last second once the output settled.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        c.ordinal.ok(&["logs", "chatty", "-c", "app", "--since=1s"]),
        ""
    );
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(
        c.ordinal.ok(&[
            "logs",
            "chatty",
            "-c",
            "app",
            &format!("--since-time={future}")
        ]),
        ""
    );

    // The default-container annotation is kubectl's to follow.
    c.rt.block_on(c.pods().patch(
        "chatty",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {
            "kubectl.kubernetes.io/default-container": "side"}}})),
    ))
    .unwrap();
    assert_eq!(c.ordinal.ok(&["logs", "chatty"]), "from the side\n");
}

#[test]
fn kubectl_logs_follow_ends_with_the_instance_and_previous_shows_the_last_one() {
    let c = start();
    c.create_pod(pod(
        "ticker",
        json!([sh(
            "app",
            "echo start; sleep 2; echo tick; sleep 1; echo end"
        )]),
    ));
    c.start_container("ticker", "app");
    c.wait_for_log("ticker", "app", "start");
    let mut follow = c
        .ordinal
        .kubectl()
        .args(["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "start");
    assert!(
        follow.try_wait().unwrap().is_none(),
        "-f waits while the container runs"
    );
    assert_eq!(lines.next().unwrap().unwrap(), "tick");
    assert_eq!(lines.next().unwrap().unwrap(), "end");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "kubectl logs -f did not return");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(lines.next().is_none());
    assert_eq!(c.wait_for_exit("ticker", "app"), 0);

    let out = c.ordinal.run(&["logs", "ticker", "--previous"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim(),
        "Error from server (BadRequest): previous terminated container \"app\" in pod \"ticker\" not found"
    );
    // A restart: the finished instance becomes the previous one.
    c.start_container("ticker", "app");
    assert_eq!(
        c.ordinal.ok(&["logs", "ticker", "--previous"]),
        "start\ntick\nend\n"
    );
    c.wait_for_log("ticker", "app", "start");
    assert!(c.ordinal.ok(&["logs", "ticker"]).starts_with("start\n"));
}

#[test]
fn kubectl_exec_streams_exit_codes_and_stdin() {
    let c = start();
    c.create_pod(pod("shell", json!([sh("app", "exec sleep 600")])));
    c.start_container("shell", "app");

    let out = c.ordinal.run(&[
        "exec",
        "shell",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).starts_with("err\n"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("command terminated with exit code 3"),
        "{}",
        stderr(&out)
    );

    let out = c.ordinal.run(&["exec", "shell", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");

    // stdin reaches the command and its end closes the command's stdin.
    let input = "hello\nworld\n".repeat(2000);
    let out = c
        .ordinal
        .run_stdin(&["exec", "-i", "shell", "--", "cat"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), input);
    let out = c
        .ordinal
        .run_stdin(&["exec", "-i", "shell", "--", "wc", "-l"], "a\nb\nc\n");
    assert_eq!(stdout(&out).trim(), "3");

    // A command that cannot start.
    let out = c.ordinal.run(&["exec", "shell", "--", "/no/such/program"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error executing command in container"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kubectl_exec_with_a_terminal() {
    let c = start();
    c.create_pod(pod("tty", json!([sh("app", "exec sleep 600")])));
    c.start_container("tty", "app");

    // kubectl 1.33 over WebSocket, 1.27 over SPDY (its resize stream).
    for minor in [33, 27] {
        let (terminal, slave) = Terminal::open(30, 100);
        let mut kubectl = c.ordinal.kubectl_at(minor);
        kubectl.args(["exec", "-it", "tty", "--", "sh"]);
        Terminal::attach(&mut kubectl, &slave);
        let mut child = kubectl.spawn().unwrap();
        drop(slave);

        terminal.type_text("tty; stty size\r");
        eventually("tty and size", Duration::from_secs(20), || {
            let text = terminal.text();
            text.contains("/dev/pts/") && text.contains("30 100")
        });
        terminal.resize(40, 120);
        eventually("the resize", Duration::from_secs(20), || {
            terminal.type_text("stty size\r");
            std::thread::sleep(Duration::from_millis(200));
            terminal.text().contains("40 120")
        });
        terminal.type_text("exit 7\r");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "kubectl exec -it did not return");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(7), "{}", terminal.text());
    }
}

#[test]
fn errors_read_as_upstreams() {
    let c = start();
    // A pod the API knows and the node does not.
    c.rt.block_on(c.pods().create(
        &PostParams::default(),
        &serde_json::from_value(pod("ghost", json!([sh("app", "true")]))).unwrap(),
    ))
    .unwrap();
    // A pod not scheduled.
    c.rt.block_on(
        c.pods().create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "floating"},
                // No scheduler takes it: it stays without a node.
                "spec": {"schedulerName": "nobody", "containers": [sh("app", "true")]},
            }))
            .unwrap(),
        ),
    )
    .unwrap();
    // A pod whose container has not started.
    c.create_pod(pod("waiting", json!([sh("app", "true")])));

    let fails = |args: &[&str]| {
        let out = c.ordinal.run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        stderr(&out).trim().to_string()
    };
    // kubectl reads the pod first, and words a missing one itself.
    assert_eq!(
        fails(&["logs", "nope"]),
        "error: error from server (NotFound): pods \"nope\" not found in namespace \"default\""
    );
    assert_eq!(
        fails(&["logs", "waiting"]),
        "Error from server (BadRequest): container \"app\" in pod \"waiting\" is waiting to start: ContainerCreating"
    );
    assert_eq!(
        fails(&["logs", "ghost"]),
        "Error from server (NotFound): the server could not find the requested resource ( pods/log ghost)"
    );
    assert!(
        fails(&["logs", "waiting", "-c", "nope"])
            .contains("container nope is not valid for pod waiting")
    );
    // Unscheduled: no log yet, and no error (upstream answers 204).
    assert_eq!(c.ordinal.ok(&["logs", "floating"]), "");

    assert_eq!(
        fails(&["exec", "nope", "--", "true"]),
        "Error from server (NotFound): pods \"nope\" not found"
    );
    assert_eq!(
        fails(&["exec", "floating", "--", "true"]),
        "Error from server (BadRequest): pod floating does not have a host assigned"
    );
    assert_eq!(
        fails(&["exec", "waiting", "-c", "nope", "--", "true"]),
        "Error from server (BadRequest): container nope is not valid for pod waiting"
    );
    assert_eq!(
        fails(&["exec", "waiting", "--", "true"]),
        "error: unable to upgrade connection: container not found (\"app\")"
    );
    assert_eq!(
        fails(&["exec", "ghost", "--", "true"]),
        "error: unable to upgrade connection: pod does not exist"
    );

    // A node nobody answers for.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap();
    drop(closed);
    c.rt.block_on(register_node(&c.client, "gone-node", gone));
    c.rt.block_on(
        c.pods().create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "stranded"},
                "spec": {"nodeName": "gone-node", "containers": [sh("app", "true")]},
            }))
            .unwrap(),
        ),
    )
    .unwrap();
    assert_eq!(
        fails(&["logs", "stranded"]),
        format!(
            "Error from server: Get \"https://{gone}/containerLogs/default/stranded/app\": dial tcp {gone}: connect: connection refused"
        )
    );
    assert_eq!(
        fails(&["exec", "stranded", "--", "true"]),
        format!(
            "Error from server: error dialing backend: dial tcp {gone}: connect: connection refused"
        )
    );

    // The API's own checks, straight from a client.
    let raw = |path: &str| {
        let request = http::Request::get(path).body(Vec::new()).unwrap();
        c.rt.block_on(c.client.request_text(request))
    };
    let err = raw("/api/v1/namespaces/default/pods/waiting/log?tailLines=-1").unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 422);
    assert_eq!(
        status.message,
        "PodLogOptions \"waiting\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
    );
    let err =
        raw("/api/v1/namespaces/default/pods/waiting/exec?command=true&stdout=true").unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (status.code, status.message.as_str()),
        (400, "Upgrade request required")
    );
}

#[test]
fn kube_rs_exec_over_websocket() {
    let c = start();
    c.create_pod(pod("kube", json!([sh("app", "exec sleep 600")])));
    c.start_container("kube", "app");
    let pods = c.pods();
    c.rt.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut attached = pods
            .exec(
                "kube",
                ["sh", "-c", "echo hi; echo there >&2; exit 4"],
                &AttachParams::default().stderr(true),
            )
            .await
            .unwrap();
        let mut out = String::new();
        attached
            .stdout()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        let mut err = String::new();
        attached
            .stderr()
            .unwrap()
            .read_to_string(&mut err)
            .await
            .unwrap();
        let status = attached.take_status().unwrap().await.unwrap();
        assert_eq!(out, "hi\n");
        assert_eq!(err, "there\n");
        assert_eq!(status.status.as_deref(), Some("Failure"));
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        let causes = status.details.unwrap().causes.unwrap();
        assert_eq!(causes[0].message.as_deref(), Some("4"));
        attached.join().await.unwrap();
    });
}

/// Every kubectl the tests know: 1.27 to 1.33.
const KUBECTLS: std::ops::RangeInclusive<u32> = 27..=33;

/// A free local port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small HTTP server on 127.0.0.1 (host-runtime pods share the host's
/// network): every request gets `body` and the connection closes.
fn serve_http(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    socket,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// `GET /` on a local port; the whole answer.
fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    answer
}

/// A running `kubectl port-forward`, stopped on drop.
struct Forward {
    child: std::process::Child,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Forward {
    /// Starts `kubectl.1.minor port-forward args…` and waits until it
    /// listens on every port (its "Forwarding from" lines).
    fn start(o: &common::Ordinal, minor: u32, args: &[&str], ports: usize) -> Forward {
        let mut child = o
            .kubectl_at(minor)
            .arg("port-forward")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stderr) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("Forwarding from 127.0.0.1") {
                    let _ = ready_tx.send(());
                }
            }
        });
        for _ in 0..ports {
            if ready.recv_timeout(Duration::from_secs(30)).is_err() {
                let _ = child.kill();
                let said: Vec<String> = stderr.try_iter().collect();
                panic!("kubectl 1.{minor} port-forward {args:?} did not start: {said:?}");
            }
        }
        Forward { child, stderr }
    }

    /// What kubectl printed on stderr so far.
    fn said(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn web_pod(c: &Cluster) {
    let mut web = pod("web", json!([sh("app", "exec sleep 600")]));
    web["metadata"]["labels"] = json!({"app": "web"});
    c.create_pod(web);
    c.start_container("web", "app");
}

#[test]
fn kubectl_port_forward_from_every_kubectl_version() {
    let c = start();
    let backend = serve_http("hello from web\n");
    web_pod(&c);
    for minor in KUBECTLS {
        let local = free_port();
        let mapping = format!("{local}:{backend}");
        // -v=4 says which transport kubectl ended up with.
        let forward = Forward::start(&c.ordinal, minor, &["-v=4", "pod/web", &mapping], 1);
        let answer = http_get(local);
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("hello from web\n"),
            "kubectl 1.{minor}: {answer:?} {}",
            forward.said()
        );
        // A second connection over the same forward.
        assert!(
            http_get(local).ends_with("hello from web\n"),
            "kubectl 1.{minor}"
        );
        // 1.31 and newer tunnel SPDY through a WebSocket, and the node
        // takes it: no fallback to a plain SPDY upgrade.
        let said = forward.said();
        assert!(
            !said.contains("fallback to secondary dialer"),
            "kubectl 1.{minor}: {said}"
        );
        if minor >= 31 {
            assert!(
                said.contains("Before WebSocket Upgrade Connection"),
                "kubectl 1.{minor}: {said}"
            );
        }
    }
}

#[test]
fn port_forward_several_ports_concurrent_connections_services_and_sets() {
    let c = start();
    let one = serve_http("one\n");
    let two = serve_http("two\n");
    web_pod(&c);
    for minor in [27, 33] {
        let (a, b) = (free_port(), free_port());
        let forward = Forward::start(
            &c.ordinal,
            minor,
            &["web", &format!("{a}:{one}"), &format!("{b}:{two}")],
            2,
        );
        let workers: Vec<_> = (0..16)
            .map(|i| {
                let port = if i % 2 == 0 { a } else { b };
                std::thread::spawn(move || (i, http_get(port)))
            })
            .collect();
        for worker in workers {
            let (i, answer) = worker.join().unwrap();
            let want = if i % 2 == 0 { "one\n" } else { "two\n" };
            assert!(
                answer.ends_with(want),
                "kubectl 1.{minor}, connection {i}: {answer:?} {}",
                forward.said()
            );
        }
    }

    // A Service and a StatefulSet name the pod through their selectors;
    // the Service's port maps to its target port.
    c.ordinal.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: {one}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: 0\n  serviceName: web\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: app\n        image: host\n"
        ),
    );
    for minor in [27, 33] {
        let local = free_port();
        let forward = Forward::start(&c.ordinal, minor, &["svc/web", &format!("{local}:80")], 1);
        assert!(http_get(local).ends_with("one\n"), "{}", forward.said());
        drop(forward);
        let local = free_port();
        let forward = Forward::start(
            &c.ordinal,
            minor,
            &["sts/web", &format!("{local}:{two}")],
            1,
        );
        assert!(http_get(local).ends_with("two\n"), "{}", forward.said());
    }
}

#[test]
fn port_forward_to_a_closed_port_reports_upstreams_error() {
    let c = start();
    web_pod(&c);
    let closed = free_port();
    for minor in [27, 33] {
        let local = free_port();
        let forward = Forward::start(&c.ordinal, minor, &["web", &format!("{local}:{closed}")], 1);
        let answer = http_get(local);
        assert_eq!(answer, "", "nothing comes back from a closed port");
        let uid =
            c.rt.block_on(c.pods().get("web"))
                .unwrap()
                .metadata
                .uid
                .unwrap();
        let mut said = String::new();
        eventually("kubectl reports the error", Duration::from_secs(20), || {
            said.push_str(&forward.said());
            said.contains(&format!(
                "error forwarding port {closed} to pod {uid}, uid : "
            )) && said.contains("connection refused")
        });
    }
}

#[test]
fn kubectl_1_27_exec_and_cp_over_spdy() {
    let c = start();
    c.create_pod(pod("shell", json!([sh("app", "exec sleep 600")])));
    c.start_container("shell", "app");
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = c
            .ordinal
            .kubectl_at(27)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "exec",
            "shell",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).starts_with("err\n"), "{}", stderr(&out));
    let out = run(&["exec", "shell", "--", "true"], None);
    assert!(out.status.success(), "{}", stderr(&out));

    let input = "hello\nworld\n".repeat(5000);
    let out = run(&["exec", "-i", "shell", "--", "cat"], Some(&input));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), input);

    // cp runs tar through exec, both ways.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("payload.txt");
    std::fs::write(&local, "payload ".repeat(10_000)).unwrap();
    let remote_dir = tempfile::tempdir().unwrap();
    let remote = remote_dir.path().join("copied.txt");
    let out = run(
        &[
            "cp",
            local.to_str().unwrap(),
            &format!("shell:{}", remote.display()),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&remote).unwrap(),
        "payload ".repeat(10_000)
    );
    let back = dir.path().join("back.txt");
    let out = run(
        &[
            "cp",
            &format!("shell:{}", remote.display()),
            back.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        "payload ".repeat(10_000)
    );
}
