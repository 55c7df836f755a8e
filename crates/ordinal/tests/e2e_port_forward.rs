//! `kubectl port-forward` and `kubectl attach` end to end on a real
//! `ordinal up` whose node runs pods in their own namespaces (needs
//! root): the forwarded connection is made inside the pod's network
//! namespace, so a server listening on the pod's 127.0.0.1 is reachable,
//! as with the kubelet; and `kubectl attach -it` reaches the terminal of
//! a container started with `stdin: true, tty: true`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::terminal::Terminal;
use common::{Ordinal, eventually};

const WAIT: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16) -> String {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    answer
}

fn wait_ready(o: &Ordinal, pod: &str) {
    eventually(&format!("{pod} is Ready"), WAIT, || {
        common::peek(
            o,
            &format!("pod/{pod}"),
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "True"
    });
}

/// busybox's httpd on the pod's loopback only, and on every address.
const WEB: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-0
spec:
  containers:
  - name: loopback
    image: busybox:1.36
    command: [sh, -c, "mkdir -p /www && echo hello from the pod loopback > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
  - name: any
    image: busybox:1.36
    command: [sh, -c, "mkdir -p /www && echo hello from port 80 > /www/index.html && exec httpd -f -p 80 -h /www"]
"#;

#[test]
fn port_forward_reaches_the_pods_loopback_with_every_kubectl() {
    let o = Ordinal::start();
    common::apply(&o, WEB);
    wait_ready(&o, "web-0");
    for minor in 27..=33 {
        let (a, b) = (free_port(), free_port());
        let mut child = o
            .kubectl_at(minor)
            .args([
                "port-forward",
                "pod/web-0",
                &format!("{a}:8080"),
                &format!("{b}:80"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..2 {
            let line = lines.next().unwrap().unwrap();
            assert!(line.starts_with("Forwarding from"), "{line}");
        }
        std::thread::spawn(move || for _ in lines {});
        let answer = http_get(a);
        assert!(
            answer.contains("hello from the pod loopback"),
            "kubectl 1.{minor}: {answer:?}"
        );
        assert!(
            http_get(b).contains("hello from port 80"),
            "kubectl 1.{minor}"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A shell started with `stdin: true, tty: true`, as `kubectl run -it`
/// makes it.
const SHELL: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  containers:
  - name: sh
    image: busybox:1.36
    command: [sh]
    stdin: true
    tty: true
"#;

#[test]
fn kubectl_attach_reaches_a_stdin_tty_container() {
    let o = Ordinal::start();
    common::apply(&o, SHELL);
    wait_ready(&o, "shell");
    // kubectl 1.27 speaks SPDY; 1.33 tries WebSocket first and falls back.
    for (minor, marker) in [(27, "one"), (33, "two")] {
        let (terminal, slave) = Terminal::open(30, 100);
        let mut kubectl = o.kubectl_at(minor);
        kubectl.args(["attach", "-it", "shell"]);
        Terminal::attach(&mut kubectl, &slave);
        let mut child = kubectl.spawn().unwrap();
        drop(slave);
        eventually(
            &format!("kubectl 1.{minor} attach reaches the shell"),
            Duration::from_secs(30),
            || {
                terminal.type_text(&format!(
                    "echo attached-$((20+{}))-{marker}; stty size\r",
                    minor - 20
                ));
                std::thread::sleep(Duration::from_millis(300));
                let text = terminal.text();
                text.contains(&format!("attached-{minor}-{marker}")) && text.contains("30 100")
            },
        );
        // Detach (kubectl's escape is its exit on ^P^Q only with docker;
        // ending kubectl leaves the container running).
        let _ = child.kill();
        let _ = child.wait();
    }
    // The shell is still there for the next client, and its output went
    // to the log as well.
    assert_eq!(common::peek(&o, "pod/shell", "{.status.phase}"), "Running");
    let log = o.ok(&["logs", "shell"]);
    assert!(log.contains("attached-27-one"), "{log}");

    // The shell exits: the attached client ends with it.
    let (terminal, slave) = Terminal::open(30, 100);
    let mut kubectl = o.kubectl_at(33);
    kubectl.args(["attach", "-it", "shell"]);
    Terminal::attach(&mut kubectl, &slave);
    let mut child = kubectl.spawn().unwrap();
    drop(slave);
    eventually("attached again", Duration::from_secs(30), || {
        terminal.type_text("echo again\r");
        std::thread::sleep(Duration::from_millis(300));
        terminal.text().contains("again")
    });
    terminal.type_text("exit\r");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl attach did not return: {}",
            terminal.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
