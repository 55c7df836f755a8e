//! End to end: the StatefulSet controller inside `ordinal up`, driven and
//! observed with the real kubectl. Most tests run without a node, so a
//! stand-in kubelet (`common::kubelet`) or the test itself marks pods
//! Running and Ready through the status subresource; the teardown test
//! runs its pods on the node, where stopping one takes its grace period.
//!
//! Every wait is a bounded poll.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::images::BUSYBOX;
use common::kubelet::Kubelet;
use common::{Ordinal, apply, eventually, peek};

const WAIT: Duration = Duration::from_secs(30);

/// A set `name` with `replicas` replicas, one container running `image`,
/// one claim template `data`, and `extra` lines added to its spec (indented
/// by two spaces).
fn set(name: &str, replicas: u32, image: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
spec:
  serviceName: {name}
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
{extra}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: c
        image: {image}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"#
    )
}

/// A jsonpath of one object.
/// Pod names of the default namespace, sorted.
fn pods(o: &Ordinal) -> Vec<String> {
    let out = o.ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
    let mut names: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    names.sort();
    names
}

fn claims(o: &Ordinal) -> Vec<String> {
    let out = o.ok(&["get", "pvc", "-o", "jsonpath={.items[*].metadata.name}"]);
    let mut names: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    names.sort();
    names
}

/// name → (uid, revision label, image) of the default namespace's pods.
fn pod_table(o: &Ordinal) -> HashMap<String, (String, String, String)> {
    let out = o.ok(&[
        "get",
        "pods",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.labels.controller-revision-hash} {.spec.containers[0].image}{"\n"}{end}"#,
    ]);
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4).then(|| (f[0].to_string(), (f[1].into(), f[2].into(), f[3].into())))
        })
        .collect()
}

fn mark_ready(o: &Ordinal, pod: &str) {
    let patch = common::kubelet::ready_patch().to_string();
    o.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

/// `kubectl get pods -w`, its lines collected as `EVENT name ready`.
struct PodWatch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl PodWatch {
    fn start(o: &Ordinal) -> PodWatch {
        let watch = PodWatch::spawn(
            o,
            &[
                "-o",
                r#"jsonpath={.type} {.object.metadata.name} {.object.status.conditions[?(@.type=="Ready")].status}{"\n"}"#,
            ],
        );
        // A throwaway pod shows when the watch is live.
        o.ok(&[
            "run",
            "probe",
            "--image=registry.k8s.io/pause:3.10",
            "--restart=Never",
        ]);
        eventually("the watch is live", WAIT, || {
            watch.find("ADDED probe", 0).is_some()
        });
        o.ok(&["delete", "pod", "probe", "--wait=false"]);
        eventually("the probe is gone", WAIT, || {
            !pods(o).contains(&"probe".to_string())
        });
        watch
    }

    /// `kubectl get pods --watch --output-watch-events ARGS…`, its lines
    /// collected from the start.
    fn spawn(o: &Ordinal, args: &[&str]) -> PodWatch {
        let mut child = o
            .kubectl()
            .args([
                "get",
                "pods",
                "--watch",
                "--output-watch-events",
                "--request-timeout=0",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in out.lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line.trim().to_string());
                }
            });
        }
        PodWatch { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Index of the first line starting with `prefix` at or after `from`.
    fn find(&self, prefix: &str, from: usize) -> Option<usize> {
        self.lines()
            .iter()
            .skip(from)
            .position(|l| l.starts_with(prefix))
            .map(|i| i + from)
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn events(o: &Ordinal) -> String {
    o.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=StatefulSet",
        "-o",
        r#"jsonpath={range .items[*]}{.source.component} {.reason} {.message}{"\n"}{end}"#,
    ])
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time_and_scales_down_in_reverse() {
    let o = Ordinal::start_with(&["--no-node"]);
    let watch = PodWatch::start(&o);
    o.ok_stdin(&["apply", "-f", "-"], &set("web", 3, "nginx:1", ""));
    for i in 0..3 {
        let name = format!("web-{i}");
        eventually(&format!("{name} is created"), WAIT, || {
            pods(&o).contains(&name)
        });
        // The controller counts web-i in the status after it created it,
        // so it has planned with web-i not Ready…
        eventually(&format!("status.replicas = {}", i + 1), WAIT, || {
            peek(&o, "sts/web", "{.status.replicas}") == (i + 1).to_string()
        });
        // …and must not have gone on to the next one.
        assert_eq!(pods(&o).len(), i + 1, "{:?}", pods(&o));
        mark_ready(&o, &name);
    }
    eventually("3 ready replicas", WAIT, || {
        peek(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });
    // In the watch: each pod was added only after its predecessor turned
    // Ready.
    eventually("the watch saw web-2", WAIT, || {
        watch.find("ADDED web-2", 0).is_some()
    });
    for i in 1..3 {
        let added = watch.find(&format!("ADDED web-{i}"), 0).unwrap();
        let ready_before = watch
            .lines()
            .iter()
            .take(added)
            .any(|l| l == &format!("MODIFIED web-{} True", i - 1));
        assert!(
            ready_before,
            "web-{i} added before web-{} was Ready: {:#?}",
            i - 1,
            watch.lines()
        );
    }
    assert_eq!(claims(&o), ["data-web-0", "data-web-1", "data-web-2"]);
    let hostname = peek(
        &o,
        "pod/web-1",
        "{.spec.hostname} {.spec.subdomain} {.metadata.labels.statefulset\\.kubernetes\\.io/pod-name}",
    );
    assert_eq!(hostname, "web-1 web web-1");
    // What the controller wrote is recorded under its name, as
    // kube-controller-manager's writes are under its own.
    // Every namespace has what upstream's controllers give it: the
    // ServiceAccount `default` and the cluster CA.
    eventually("the default ServiceAccount", WAIT, || {
        peek(&o, "sa/default", "{.metadata.name}") == "default"
    });
    let ca = std::fs::read_to_string(o.dir.join("pki/ca.crt")).unwrap();
    eventually("kube-root-ca.crt", WAIT, || {
        peek(&o, "cm/kube-root-ca.crt", "{.data.ca\\.crt}").trim() == ca.trim()
    });
    for object in ["pod/web-1", "pvc/data-web-1"] {
        let managers = peek(&o, object, "{.metadata.managedFields[*].manager}");
        assert!(
            managers
                .split_whitespace()
                .any(|m| m == "ordinal-controller"),
            "{object}: {managers}"
        );
    }

    let log = events(&o);
    for line in [
        "statefulset-controller SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success",
        "statefulset-controller SuccessfulCreate create Pod web-0 in StatefulSet web successful",
        "statefulset-controller SuccessfulCreate create Pod web-2 in StatefulSet web successful",
    ] {
        assert!(log.lines().any(|l| l == line), "missing {line:?} in\n{log}");
    }

    // Scale down: web-2 goes first, then web-1; the claims stay.
    let seen = watch.lines().len();
    o.ok(&["scale", "sts/web", "--replicas=1"]);
    eventually("only web-0 is left", WAIT, || pods(&o) == ["web-0"]);
    eventually("the watch saw web-1 go", WAIT, || {
        watch.find("DELETED web-1", seen).is_some()
    });
    let two = watch.find("DELETED web-2", seen).expect("web-2 deleted");
    let one = watch.find("DELETED web-1", seen).expect("web-1 deleted");
    assert!(two < one, "web-1 went before web-2: {:#?}", watch.lines());
    assert_eq!(claims(&o), ["data-web-0", "data-web-1", "data-web-2"]);
    eventually("the delete events", WAIT, || {
        events(&o).contains("SuccessfulDelete delete Pod web-2 in StatefulSet web successful")
    });
}

#[test]
fn rollout_status_history_undo_and_restart() {
    let o = Ordinal::start_with(&["--no-node"]);
    let _kubelet = Kubelet::start(o.kubeconfig());
    o.ok_stdin(&["apply", "-f", "-"], &set("web", 3, "nginx:1", ""));
    let out = o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(out.contains("3 new pods have been updated"), "{out}");
    let first = peek(&o, "sts/web", "{.status.currentRevision}");
    assert!(first.starts_with("web-"), "{first}");

    o.ok(&["set", "image", "sts/web", "c=nginx:2"]);
    let out = o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(out.contains("roll out complete"), "{out}");
    let second = peek(&o, "sts/web", "{.status.updateRevision}");
    assert_ne!(second, first);
    eventually("the rolling update completes", WAIT, || {
        peek(&o, "sts/web", "{.status.currentRevision}") == second
    });
    let table = pod_table(&o);
    assert_eq!(table.len(), 3);
    for (name, (_, revision, image)) in &table {
        assert_eq!(
            (revision.as_str(), image.as_str()),
            (second.as_str(), "nginx:2"),
            "{name}"
        );
    }

    let history = o.ok(&["rollout", "history", "sts/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");

    // Undo: back to the first template, under the first revision's name.
    o.ok(&["rollout", "undo", "sts/web"]);
    assert_eq!(
        peek(&o, "sts/web", "{.spec.template.spec.containers[0].image}"),
        "nginx:1"
    );
    eventually("the update revision is the first one again", WAIT, || {
        peek(&o, "sts/web", "{.status.updateRevision}") == first
    });
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    eventually("every pod back at the first revision", WAIT, || {
        let table = pod_table(&o);
        table.len() == 3
            && table
                .values()
                .all(|(_, r, i)| r == &first && i == "nginx:1")
    });
    let history = o.ok(&["rollout", "history", "sts/web"]);
    assert!(
        history.contains("\n2 ") || history.contains("\n2\t"),
        "{history}"
    );
    assert!(
        history.contains("\n3 ") || history.contains("\n3\t"),
        "{history}"
    );
    assert!(
        !history.contains("\n1 "),
        "revision 1 was renumbered: {history}"
    );

    // Restart: a new revision, every pod replaced.
    let before = pod_table(&o);
    o.ok(&["rollout", "restart", "sts/web"]);
    eventually("a new update revision", WAIT, || {
        let r = peek(&o, "sts/web", "{.status.updateRevision}");
        r != first && r != second && !r.is_empty()
    });
    let out = o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(out.contains("roll out complete"), "{out}");
    eventually("every pod replaced", WAIT, || {
        let now = pod_table(&o);
        now.len() == 3 && now.iter().all(|(name, (uid, _, _))| before[name].0 != *uid)
    });
}

#[test]
fn partition_canary_then_everything_in_order() {
    let o = Ordinal::start_with(&["--no-node"]);
    let _kubelet = Kubelet::start(o.kubeconfig());
    let watch = PodWatch::start(&o);
    let extra = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {partition: 3}";
    o.ok_stdin(&["apply", "-f", "-"], &set("web", 3, "nginx:1", extra));
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    let old = peek(&o, "sts/web", "{.status.currentRevision}");

    o.ok(&["set", "image", "sts/web", "c=nginx:2"]);
    eventually("the controller saw the new template", WAIT, || {
        let r = peek(&o, "sts/web", "{.status.updateRevision}");
        !r.is_empty() && r != old
    });
    let new = peek(&o, "sts/web", "{.status.updateRevision}");
    // Partition 3 of 3: nothing moves.
    assert_eq!(peek(&o, "sts/web", "{.status.updatedReplicas}"), "0");
    assert!(pod_table(&o).values().all(|(_, r, _)| r == &old));

    // The canary: web-2 only.
    o.ok(&[
        "patch",
        "sts/web",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#,
    ]);
    eventually("web-2 updated and ready", WAIT, || {
        let t = pod_table(&o);
        t.get("web-2").is_some_and(|p| p.1 == new)
            && peek(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });
    let t = pod_table(&o);
    assert_eq!(t["web-0"].1, old);
    assert_eq!(t["web-1"].1, old);
    let out = o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(out.contains("1 new pods have been updated"), "{out}");

    // Then the rest, highest ordinal first.
    let seen = watch.lines().len();
    o.ok(&[
        "patch",
        "sts/web",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
    ]);
    eventually("everything at the new revision", WAIT, || {
        peek(&o, "sts/web", "{.status.currentRevision}") == new
            && peek(&o, "sts/web", "{.status.updatedReplicas}") == "3"
    });
    assert!(
        pod_table(&o)
            .values()
            .all(|(_, r, i)| r == &new && i == "nginx:2")
    );
    eventually("the watch saw web-0 replaced", WAIT, || {
        watch.find("ADDED web-0", seen).is_some()
    });
    let one = watch.find("DELETED web-1", seen).expect("web-1 replaced");
    let zero = watch.find("DELETED web-0", seen).expect("web-0 replaced");
    let one_back = watch.find("ADDED web-1", one).expect("web-1 back");
    assert!(
        one < zero && one_back < zero,
        "not in order: {:#?}",
        &watch.lines()[seen..]
    );
    assert!(
        watch.find("DELETED web-2", seen).is_none(),
        "web-2 was already updated"
    );
}

#[test]
fn on_delete_updates_only_deleted_pods() {
    let o = Ordinal::start_with(&["--no-node"]);
    let _kubelet = Kubelet::start(o.kubeconfig());
    let extra = "  podManagementPolicy: Parallel\n  updateStrategy: {type: OnDelete}";
    o.ok_stdin(&["apply", "-f", "-"], &set("web", 3, "nginx:1", extra));
    eventually("3 ready replicas", WAIT, || {
        peek(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });
    let old = peek(&o, "sts/web", "{.status.currentRevision}");
    o.ok(&["set", "image", "sts/web", "c=nginx:2"]);
    eventually("the controller saw the new template", WAIT, || {
        let r = peek(&o, "sts/web", "{.status.updateRevision}");
        !r.is_empty() && r != old && peek(&o, "sts/web", "{.status.observedGeneration}") == "2"
    });
    let new = peek(&o, "sts/web", "{.status.updateRevision}");
    let before = pod_table(&o);
    assert!(before.values().all(|(_, r, i)| r == &old && i == "nginx:1"));

    o.ok(&["delete", "pod", "web-1"]);
    eventually("web-1 recreated at the new revision", WAIT, || {
        pod_table(&o)
            .get("web-1")
            .is_some_and(|p| p.0 != before["web-1"].0 && p.1 == new && p.2 == "nginx:2")
    });
    eventually("updatedReplicas = 1", WAIT, || {
        peek(&o, "sts/web", "{.status.updatedReplicas}") == "1"
    });
    let after = pod_table(&o);
    for name in ["web-0", "web-2"] {
        assert_eq!(after[name], before[name], "{name} was left alone");
    }
}

#[test]
fn deleting_a_set_keeps_its_claims_unless_the_policy_deletes_them() {
    let o = Ordinal::start_with(&["--no-node"]);
    let parallel = "  podManagementPolicy: Parallel";
    o.ok_stdin(&["apply", "-f", "-"], &set("web", 2, "nginx:1", parallel));
    let delete = "  podManagementPolicy: Parallel\n  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete}";
    o.ok_stdin(&["apply", "-f", "-"], &set("db", 2, "nginx:1", delete));
    eventually("pods and claims of both sets", WAIT, || {
        pods(&o) == ["db-0", "db-1", "web-0", "web-1"]
            && claims(&o) == ["data-db-0", "data-db-1", "data-web-0", "data-web-1"]
    });
    // whenDeleted: Delete makes the set own its claims; Retain does not.
    eventually("db owns its claims", WAIT, || {
        peek(&o, "pvc/data-db-1", "{.metadata.ownerReferences[*].kind}") == "StatefulSet"
    });
    assert_eq!(
        peek(&o, "pvc/data-web-1", "{.metadata.ownerReferences}"),
        ""
    );

    // A failed pod is replaced, and the controller says so.
    let failed_uid = peek(&o, "pod/web-0", "{.metadata.uid}");
    o.ok(&[
        "patch",
        "pod",
        "web-0",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Failed"}}"#,
    ]);
    eventually("web-0 recreated", WAIT, || {
        let uid = peek(&o, "pod/web-0", "{.metadata.uid}");
        !uid.is_empty() && uid != failed_uid
    });
    eventually("the recreation event", WAIT, || {
        events(&o)
            .contains("RecreatingFailedPod StatefulSet default/web is recreating failed Pod web-0")
    });

    o.ok(&["delete", "sts", "web"]);
    eventually("web's pods are gone", WAIT, || pods(&o) == ["db-0", "db-1"]);
    assert_eq!(
        claims(&o),
        ["data-db-0", "data-db-1", "data-web-0", "data-web-1"]
    );

    o.ok(&["delete", "sts", "db"]);
    eventually("db's pods and claims are gone", WAIT, || {
        pods(&o).is_empty() && claims(&o) == ["data-web-0", "data-web-1"]
    });
}

/// Issue 14, item 1: a stored object that does not decode as its type (an
/// older version's, a disk error's) once stopped every controller that
/// lists its kind — `invalid type: integer 5, expected a string`, eight
/// times a second, and no pod was ever created. Now it is reported and
/// skipped, and the rest of the cluster goes on.
#[test]
fn an_undecodable_stored_pod_stops_no_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let mut first = Ordinal::start_on_with(tmp.path(), &["--no-node"]);
    first.ok(&["get", "ns", "default"]);
    first.terminate();
    drop(first);
    let store = ordinal_apiserver::server::open_store(tmp.path(), 100).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(store.create(
            "/core/pods/default/legacy".into(),
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "legacy", "namespace": "default", "uid": "legacy-uid",
                             "labels": {"app": 5}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }),
        ))
        .unwrap();
    store.close();
    let o = Ordinal::start_on_with(tmp.path(), &["--no-node"]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        &set("web", 2, "nginx:1", "  podManagementPolicy: Parallel"),
    );
    eventually("the set's pods are created", WAIT, || {
        pods(&o) == ["legacy", "web-0", "web-1"]
    });
    o.ok(&["scale", "sts/web", "--replicas=3"]);
    eventually("a scale-up is carried out", WAIT, || {
        pods(&o) == ["legacy", "web-0", "web-1", "web-2"]
    });
}

/// A set of 3 `sleep` pods that really run on the node and take their
/// grace period (2 s) to stop, SIGTERM being ignored; `annotations` are
/// YAML flow map entries for the set's metadata.
fn sleepers(name: &str, annotations: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  annotations: {{{annotations}}}
spec:
  serviceName: {name}
  replicas: 3
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: {BUSYBOX}
        command: [sh, -c, "trap '' TERM; exec sleep 3600"]
"#
    )
}

/// `kubectl delete sts NAME --cascade=foreground --wait=true`, which
/// returns once the set is gone (bounded by its `--timeout`).
fn delete_in_foreground(o: &Ordinal, name: &str) {
    o.ok(&[
        "delete",
        "sts",
        name,
        "--cascade=foreground",
        "--wait=true",
        "--timeout=90s",
        "--request-timeout=0",
    ]);
    let out = o.run(&["get", "sts", name]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound"),
        "{name} is still there: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// In a watch of `EVENT name deletionTimestamp` lines from `from` on: the
/// first line showing `pod` terminating, and its DELETED line.
fn termination(watch: &PodWatch, pod: &str, from: usize) -> (usize, usize) {
    let lines = watch.lines();
    let at = |event: &str| {
        lines
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, l)| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() == 3 && f[0] == event && f[1] == pod
            })
            .map(|(i, _)| i)
    };
    let terminating = at("MODIFIED").or(at("DELETED"));
    let deleted = at("DELETED");
    match (terminating, deleted) {
        (Some(t), Some(d)) => (t, d),
        _ => panic!("{pod} did not terminate in the watch: {lines:#?}"),
    }
}

#[test]
fn a_foreground_deletion_removes_pods_highest_first_unless_unordered() {
    let o = Ordinal::start();
    apply(&o, &sleepers("web", ""));
    o.ok(&["rollout", "status", "sts/web", "--timeout=120s"]);
    let watch = PodWatch::spawn(
        &o,
        &[
            "-l",
            "app in (web,db)",
            "-o",
            r#"jsonpath={.type} {.object.metadata.name} {.object.metadata.deletionTimestamp}{"\n"}"#,
        ],
    );
    eventually("the watch lists web's pods", WAIT, || {
        (0..3).all(|i| watch.find(&format!("ADDED web-{i}"), 0).is_some())
    });

    // Ordered (the default): web-2, then web-1 once web-2 is gone, then
    // web-0; the set goes last.
    delete_in_foreground(&o, "web");
    assert!(pods(&o).is_empty(), "{:?}", pods(&o));
    eventually("the watch saw web-0 go", WAIT, || {
        watch.find("DELETED web-0", 0).is_some()
    });
    for (higher, lower) in [("web-2", "web-1"), ("web-1", "web-0")] {
        let (_, gone) = termination(&watch, higher, 0);
        let (terminating, _) = termination(&watch, lower, 0);
        assert!(
            gone < terminating,
            "{lower} was deleted before {higher} was gone: {:#?}",
            watch.lines()
        );
    }
    assert_eq!(
        o.ok(&["get", "controllerrevisions", "-l", "app=web", "-o", "name"]),
        "",
        "the garbage collector still deletes the set's other dependents"
    );
    assert!(
        events(&o).contains("SuccessfulDelete delete Pod web-2 in StatefulSet web successful"),
        "{}",
        events(&o)
    );

    // Unordered: upstream's garbage collector deletes every pod at once.
    apply(&o, &sleepers("db", r#""ordinal.dev/teardown": Unordered"#));
    o.ok(&["rollout", "status", "sts/db", "--timeout=120s"]);
    let seen = watch.lines().len();
    delete_in_foreground(&o, "db");
    assert!(pods(&o).is_empty(), "{:?}", pods(&o));
    eventually("the watch saw db's pods go", WAIT, || {
        (0..3).all(|i| watch.find(&format!("DELETED db-{i}"), seen).is_some())
    });
    let all: Vec<(usize, usize)> = (0..3)
        .map(|i| termination(&watch, &format!("db-{i}"), seen))
        .collect();
    let last_terminating = all.iter().map(|(t, _)| *t).max().unwrap();
    let first_gone = all.iter().map(|(_, d)| *d).min().unwrap();
    assert!(
        last_terminating < first_gone,
        "db's pods were not deleted at once: {:#?}",
        watch.lines()
    );
}
