//! `examples/statefulset-basics/README.md`, replayed step by step with the
//! real kubectl against a real `ordinal up` (pods run as processes in
//! their own namespaces; needs root and busybox).
//!
//! The README is the script (`common::replay`): every command of its
//! console blocks is named here in order, run as a reader runs it, and
//! must show what the README shows. Between the steps the test checks
//! what the README only tells: the order in which the watches saw Pods
//! come and go, that DNS follows a Pod to its new address, and that the
//! rollback brought back the first revision. The setup block of the
//! README (building and starting ordinal, `KUBECONFIG`) is what
//! `Ordinal::start()` does.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::replay::{self, Replay, Watch};
use common::{Ordinal, eventually};

const WAIT: Duration = Duration::from_secs(120);

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/statefulset-basics")
}

/// The Pods of the set: name, uid, Ready, being deleted.
struct PodRow {
    name: String,
    uid: String,
    ready: bool,
    deleting: bool,
}

fn pods(o: &Ordinal) -> Vec<PodRow> {
    let out = o.ok(&[
        "get",
        "pods",
        "-l",
        "app=nginx",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}x {.metadata.deletionTimestamp}x{"\n"}{end}"#,
    ]);
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() == 4).then(|| PodRow {
                name: f[0].to_string(),
                uid: f[1].to_string(),
                ready: f[2] == "Truex",
                deleting: f[3] != "x",
            })
        })
        .collect()
}

/// Waits until the set's Pods are exactly `names`, each Ready, none being
/// deleted, and none with a uid of `replaced`.
fn wait_ready(o: &Ordinal, names: &[&str], replaced: &[String]) {
    eventually(&format!("{names:?} Ready"), WAIT, || {
        let now = pods(o);
        let mut seen: Vec<&str> = now.iter().map(|p| p.name.as_str()).collect();
        seen.sort();
        seen == names
            && now
                .iter()
                .all(|p| p.ready && !p.deleting && !replaced.contains(&p.uid))
    });
}

fn uids(o: &Ordinal) -> Vec<String> {
    pods(o).into_iter().map(|p| p.uid).collect()
}

/// A watch line: `NAME READY STATUS RESTARTS AGE`.
struct Row {
    name: String,
    ready: String,
    status: String,
}

fn rows(watch: &Watch) -> Vec<Row> {
    watch
        .lines()
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[0] != "NAME").then(|| Row {
                name: f[0].to_string(),
                ready: f[1].to_string(),
                status: f[2].to_string(),
            })
        })
        .collect()
}

fn position(rows: &[Row], from: usize, test: impl Fn(&Row) -> bool) -> Option<usize> {
    rows.iter().skip(from).position(test).map(|i| i + from)
}

fn shown(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| format!("{} {} {}", r.name, r.ready, r.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each of `names` appeared (as a new, Pending Pod) only after the one
/// before it had been seen Running and Ready since it appeared.
fn assert_created_in_order(watch: &Watch, names: &[&str]) {
    let rows = rows(watch);
    let pending = |name: &str| {
        position(&rows, 0, |r| r.name == name && r.status == "Pending")
            .unwrap_or_else(|| panic!("the watch never saw {name} Pending:\n{}", shown(&rows)))
    };
    for pair in names.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        let ready = position(&rows, pending(before), |r| {
            r.name == before && r.ready == "1/1" && r.status == "Running"
        })
        .unwrap_or_else(|| panic!("the watch never saw {before} Ready:\n{}", shown(&rows)));
        assert!(
            ready < pending(after),
            "{after} appeared before {before} was Ready:\n{}",
            shown(&rows)
        );
    }
}

/// The IP `getent hosts` printed.
fn address(getent: &str) -> String {
    getent
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn pod_ip(o: &Ordinal, pod: &str) -> String {
    o.ok(&["get", "pod", pod, "-o", "jsonpath={.status.podIP}"])
}

#[test]
fn the_statefulset_basics_readme_replays() {
    let o = Ordinal::start();
    let mut r = Replay::new(&o, &example());
    // The hand-made volume's directory: one of this test's own.
    let volumes = tempfile::tempdir().unwrap();
    let pv = r.workdir().join("persistentvolume.yaml");
    let text = std::fs::read_to_string(&pv).unwrap();
    let path = "/tmp/ordinal-statefulset-basics/pv-manual";
    assert_eq!(text.matches(path).count(), 1, "{text}");
    let own = volumes.path().join("pv-manual");
    std::fs::write(&pv, text.replace(path, own.to_str().unwrap())).unwrap();

    // Creating a StatefulSet: the Pods come in order.
    let watch = r.watch("kubectl get pods -w -l app=nginx");
    r.run("kubectl apply -f service.yaml");
    r.run("kubectl apply -f statefulset.yaml");
    wait_ready(&o, &["web-0", "web-1", "web-2"], &[]);
    assert_created_in_order(&watch, &["web-0", "web-1", "web-2"]);
    drop(watch);
    r.until("kubectl get service nginx");
    r.until("kubectl get statefulsets");

    // Pods in a StatefulSet: names, hostnames, DNS, a shell.
    r.until("kubectl get pods -l app=nginx");
    r.until("kubectl get all");
    r.run("for i in 0 1 2; do kubectl exec web-$i -- hostname; done");
    let before = r.until("kubectl exec web-0 -- getent hosts web-1.nginx");
    assert_eq!(address(&before), pod_ip(&o, "web-1"));
    let mut shell = r.session("kubectl exec -it web-0 -- /bin/sh");
    r.typed(&mut shell, "hostname");
    r.typed(&mut shell, "cat /www/index.html");
    r.typed(&mut shell, "busybox wget -qO- web-2.nginx");
    r.typed(&mut shell, "exit");

    // Writing to stable storage: the claims, and the pages kept across
    // the deletion of every Pod.
    r.run("kubectl get pvc -l app=nginx");
    r.until_any_order("kubectl get pv");
    r.run("for i in 0 1 2; do kubectl exec web-$i -- busybox wget -qO- localhost; done");
    r.run(
        r#"for i in 0 1 2; do kubectl exec web-$i -- sh -c 'echo "edited by hand" >> /www/index.html'; done"#,
    );
    let old = uids(&o);
    let watch = r.watch("kubectl get pods -w -l app=nginx");
    r.run("kubectl delete pod -l app=nginx --wait=false");
    wait_ready(&o, &["web-0", "web-1", "web-2"], &old);
    assert_created_in_order(&watch, &["web-0", "web-1", "web-2"]);
    drop(watch);
    r.until("for i in 0 1 2; do kubectl exec web-$i -- busybox wget -qO- localhost; done");
    let after = r.until("kubectl exec web-0 -- getent hosts web-1.nginx");
    assert_eq!(address(&after), pod_ip(&o, "web-1"), "DNS follows web-1");

    // Scaling out, in order, and in, in reverse order.
    let watch = r.watch("kubectl get pods -w -l app=nginx");
    r.run("kubectl scale sts web --replicas=5");
    wait_ready(&o, &["web-0", "web-1", "web-2", "web-3", "web-4"], &[]);
    assert_created_in_order(&watch, &["web-3", "web-4"]);
    r.until("kubectl get pvc -l app=nginx");
    r.run(r#"kubectl patch sts web -p '{"spec":{"replicas":3}}'"#);
    wait_ready(&o, &["web-0", "web-1", "web-2"], &[]);
    let seen = rows(&watch);
    let web4_gone = seen.iter().rposition(|r| r.name == "web-4");
    let web4_ends = position(&seen, 0, |r| r.name == "web-4" && r.status == "Terminating");
    let web3_ends = position(&seen, 0, |r| r.name == "web-3" && r.status == "Terminating");
    assert!(
        web4_ends.is_some() && web3_ends > web4_gone,
        "web-3 must terminate only once web-4 is gone:\n{}",
        shown(&seen)
    );
    drop(watch);
    r.run("kubectl get pvc -l app=nginx");

    // Updating: staged behind a partition, a canary, then the rest.
    let first_revision = o.ok(&[
        "get",
        "sts",
        "web",
        "-o",
        "jsonpath={.status.currentRevision}",
    ]);
    let images = "kubectl get pods -l app=nginx -o 'custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image'";
    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3}}}}'"#,
    );
    r.run(
        r#"kubectl patch statefulset web --type=json -p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"busybox:1.37"}]'"#,
    );
    r.run(images);
    let old = uids(&o);
    r.run("kubectl delete pod web-2 --wait=false");
    wait_ready(&o, &["web-0", "web-1", "web-2"], &old[2..]);
    r.run(images);
    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}'"#,
    );
    r.run("kubectl rollout status statefulset/web");
    r.until(images);
    let old = uids(&o);
    r.run("kubectl delete pod web-1 --wait=false");
    wait_ready(&o, &["web-0", "web-1", "web-2"], &old[1..2]);
    r.until(images);
    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0}}}}'"#,
    );
    r.run("kubectl rollout status statefulset/web");
    r.until(images);

    // Rolling back: the first template again, as revision 3, same hash.
    r.run("kubectl rollout history statefulset/web");
    r.run("kubectl rollout undo statefulset/web");
    r.run("kubectl rollout status statefulset/web");
    r.run("kubectl rollout history statefulset/web");
    r.until("kubectl get pods -l app=nginx -o 'custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,REVISION:.metadata.labels.controller-revision-hash'");
    let revisions = o.ok(&[
        "get",
        "pods",
        "-l",
        "app=nginx",
        "-o",
        "jsonpath={.items[*].metadata.labels.controller-revision-hash}",
    ]);
    assert_eq!(
        revisions,
        [first_revision.as_str(); 3].join(" "),
        "the Pods are back at the first revision"
    );
    let status = o.ok(&[
        "get",
        "sts",
        "web",
        "-o",
        "jsonpath={.status.currentRevision} {.status.updateRevision}",
    ]);
    assert_eq!(status, format!("{first_revision} {first_revision}"));
    let number = o.ok(&[
        "get",
        "controllerrevision",
        &first_revision,
        "-o",
        "jsonpath={.revision}",
    ]);
    assert_eq!(number, "3", "the first template came back as revision 3");

    // Deleting the set without its Pods: a new set adopts them as they
    // are and makes only the missing one.
    r.run("kubectl delete statefulset web --cascade=orphan");
    r.run("kubectl get pods -l app=nginx");
    let kept: Vec<String> = pods(&o)
        .into_iter()
        .filter(|p| p.name != "web-0")
        .map(|p| p.uid)
        .collect();
    r.run("kubectl delete pod web-0");
    r.run("kubectl get pods -l app=nginx");
    r.run("kubectl apply -f statefulset.yaml");
    r.run("kubectl rollout status statefulset/web");
    r.until("kubectl get pods -l app=nginx -o 'custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].name'");
    let now: Vec<String> = pods(&o)
        .into_iter()
        .filter(|p| p.name != "web-0")
        .map(|p| p.uid)
        .collect();
    assert_eq!(now, kept, "web-1 and web-2 were adopted, not replaced");

    // Deleting the set with its Pods keeps the claims; a new set finds
    // its data.
    r.run("kubectl delete statefulset web");
    r.until("kubectl get pods -l app=nginx");
    r.run("kubectl get pvc -l app=nginx");
    r.run("kubectl apply -f statefulset.yaml");
    r.run("kubectl rollout status statefulset/web");
    r.until("for i in 0 1 2; do kubectl exec web-$i -- busybox wget -qO- localhost; done");

    // A volume made by hand, and a claim that binds to it.
    r.run("kubectl apply -f persistentvolume.yaml");
    r.until("kubectl get pv pv-manual");
    r.run("kubectl apply -f persistentvolumeclaim.yaml");
    r.until("kubectl get pvc claim-manual");
    r.until("kubectl get pv pv-manual");
    let bound = o.ok(&[
        "get",
        "pv",
        "pv-manual",
        "-o",
        "jsonpath={.spec.hostPath.path}",
    ]);
    assert_eq!(bound, own.to_str().unwrap());

    // Cleaning up.
    r.run("kubectl delete -f cleanup.yaml");
    r.run("kubectl delete pvc -l app=nginx");
    r.until("kubectl get pv");
    r.until("kubectl get all");
    r.finish();
}

#[test]
fn readme_output_is_compared_without_what_differs_between_runs() {
    let steps = replay::parse(
        "text\n```console\n$ kubectl get pvc\nNAME  STATUS\nwww-web-0   Bound\n$ kubectl exec -it web-0 -- /bin/sh\n# hostname\nweb-0\n# exit\n```\n```text\n$ not a step\n```\n",
    );
    let commands: Vec<(usize, &str)> = steps.iter().map(|s| (s.line, s.command.as_str())).collect();
    assert_eq!(
        commands,
        [
            (3, "kubectl get pvc"),
            (6, "kubectl exec -it web-0 -- /bin/sh"),
            (7, "hostname"),
            (9, "exit"),
        ]
    );
    assert_eq!(steps[0].shown, ["NAME  STATUS", "www-web-0   Bound"]);
    assert_eq!(steps[2].prompt, replay::Prompt::Shell);

    assert_eq!(
        replay::normalize(
            "www-web-0   Bound    pvc-d0602cdb-9d7c-484d-b4f8-46aa40efce34   1Gi   RWO   40s"
        ),
        "www-web-0 Bound pvc-<uid> 1Gi RWO <age>"
    );
    assert_eq!(
        replay::normalize("10.192.16.3     web-1.nginx.default.svc.cluster.local"),
        "<ip> web-1.nginx.default.svc.cluster.local"
    );
    assert_eq!(
        replay::normalize("web-0   busybox:1.36   web-86c5bb8d54   2m3s"),
        "web-0 busybox:1.36 web-<hash> <age>"
    );
    // Names that only look like a hash suffix when too short, or with
    // letters the hash alphabet lacks, stay.
    assert_eq!(
        replay::normalize("www-web-3 claim-manual local-path"),
        "www-web-3 claim-manual local-path"
    );

    let shown = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(replay::shows(
        &shown(&[
            "...",
            "partitioned roll out complete: 3 new pods have been updated..."
        ]),
        "Waiting for 1 pods to be ready...\nWaiting for 1 pods to be ready...\npartitioned roll out complete: 3 new pods have been updated...\n",
        false
    ));
    assert!(!replay::shows(
        &shown(&["web-0", "web-1"]),
        "web-1\nweb-0\n",
        false
    ));
    assert!(replay::shows(
        &shown(&["web-0", "web-1"]),
        "web-1\nweb-0\n",
        true
    ));
    assert!(!replay::shows(&shown(&["web-0"]), "web-0\nweb-1\n", false));
}
