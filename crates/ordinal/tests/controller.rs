//! End to end: `ordinal controller` against an API server that runs no
//! controllers of its own (`ordinal up --no-controllers`): replicas elect
//! one leader through the Lease kube-system/ordinal-controller, hand over
//! when the leader stops, and a leader that loses the Lease stops acting.
//!
//! Every wait is a bounded poll.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Ordinal, eventually};

const WAIT: Duration = Duration::from_secs(30);

const SET: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx:1
"#;

/// One `ordinal controller` process, its identity and what it logged.
struct Replica {
    child: Child,
    identity: String,
    stderr: Arc<Mutex<String>>,
}

impl Replica {
    fn start(o: &Ordinal) -> Replica {
        let mut child = Command::new(common::binary())
            .arg("controller")
            .arg("--kubeconfig")
            .arg(o.kubeconfig())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ordinal controller starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let banner = lines.next().expect("a banner").expect("utf-8");
        // "ordinal controller: <identity> campaigning for the lease …"
        let identity = banner
            .strip_prefix("ordinal controller: ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = Arc::clone(&stderr);
            let err = BufReader::new(child.stderr.take().expect("stderr"));
            std::thread::spawn(move || {
                for line in err.lines().map_while(Result::ok) {
                    stderr.lock().unwrap().push_str(&line);
                    stderr.lock().unwrap().push('\n');
                }
            });
        }
        Replica {
            child,
            identity,
            stderr,
        }
    }

    fn terminate(&mut self) {
        // SAFETY: a signal to our own child, not yet reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    fn logged(&self, what: &str) -> bool {
        self.stderr.lock().unwrap().contains(what)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn holder(o: &Ordinal) -> String {
    let out = o.run(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "ordinal-controller",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pods(o: &Ordinal) -> Vec<String> {
    let out = o.ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
    let mut names: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn replicas_elect_one_leader_hand_over_and_stop_when_the_lease_is_lost() {
    let o = Ordinal::start_with(&["--no-controllers"]);
    o.ok_stdin(&["apply", "-f", "-"], SET);
    // Without controllers nothing happens to the set.
    assert!(pods(&o).is_empty());

    let mut a = Replica::start(&o);
    let mut b = Replica::start(&o);
    assert_ne!(a.identity, b.identity);
    eventually("a leader", WAIT, || {
        let h = holder(&o);
        h == a.identity || h == b.identity
    });
    eventually("the leader creates the pods", WAIT, || {
        pods(&o) == ["web-0", "web-1"]
    });
    if holder(&o) != a.identity {
        std::mem::swap(&mut a, &mut b);
    }

    // The leader stops and gives the Lease up: the standby takes over
    // without waiting for it to expire, and acts.
    a.terminate();
    eventually("the standby leads", Duration::from_secs(10), || {
        holder(&o) == b.identity
    });
    o.ok(&["scale", "sts/web", "--replicas=3"]);
    eventually("the new leader creates web-2", WAIT, || {
        pods(&o) == ["web-0", "web-1", "web-2"]
    });

    // Someone else takes the Lease: the leader stops acting at once and
    // campaigns again, taking it back only once it has expired.
    o.ok(&[
        "patch",
        "lease",
        "-n",
        "kube-system",
        "ordinal-controller",
        "--type=merge",
        "-p",
        r#"{"spec":{"holderIdentity":"intruder","leaseDurationSeconds":3}}"#,
    ]);
    eventually("the leader notices", WAIT, || b.logged("lost the lease"));
    o.ok(&["scale", "sts/web", "--replicas=4"]);
    eventually("the leader is back and creates web-3", WAIT, || {
        // Pods first, then the Lease: web-3 seen while the intruder still
        // holds the Lease would mean the old leader acted without it.
        let now = pods(&o);
        let h = holder(&o);
        if now.contains(&"web-3".to_string()) {
            assert_eq!(h, b.identity, "web-3 was created while {h} held the lease");
            return true;
        }
        false
    });
    let transitions = o.ok(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "ordinal-controller",
        "-o",
        "jsonpath={.spec.leaseTransitions}",
    ]);
    // a took it (1: created, 0), b after a's release (1), b after the
    // intruder (2).
    assert_eq!(transitions, "2");
}
