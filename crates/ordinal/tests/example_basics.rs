//! `examples/statefulset-basics/README.md`, replayed step by step with the
//! real kubectl against a real `ordinal up` (pods run their images in
//! their own namespaces; needs root).
//!
//! The README walks the upstream tutorial with its unmodified `web.yaml`,
//! whose Pods run `registry.k8s.io/nginx-slim:0.21` (and `0.24` after the
//! rolling update). The test has no network, so it takes the README's
//! offline way: it builds a stand-in for both tags from Debian's nginx
//! package (`common::images::nginx_slim`; needs Debian's nginx, curl and
//! busybox-static), writes it as the docker-save archive `nginx-slim.tar`
//! and imports it with `ordinal image import`.
//!
//! The README is the script (`common::replay`): every command of its
//! console blocks is named here in order, run as a reader runs it, and
//! must show what the README shows. Between the steps the test checks
//! what the README only tells: the order in which the watches saw Pods
//! come and go, that DNS follows a Pod to its new address, which image
//! each Pod's container runs, and that a Pod sees the image's files and
//! not the host's. The setup block of the README (building and starting
//! ordinal, `KUBECONFIG`) is what `Ordinal::start()` does.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::images::{NGINX_SLIM, NGINX_SLIM_NEXT, nginx_slim_archive};
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

/// The image each Pod's container runs, by the node's status, once the
/// set's Pods are exactly `names`, each Ready, none being deleted, and
/// each with the image given.
fn wait_images(o: &Ordinal, want: &[(&str, &str)]) {
    let names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    wait_ready(o, &names, &[]);
    eventually(&format!("{want:?}"), WAIT, || {
        want.iter()
            .all(|(pod, image)| running_image(o, pod) == *image)
    });
}

/// The image the node reports the Pod's container runs.
fn running_image(o: &Ordinal, pod: &str) -> String {
    let out = o.run(&[
        "get",
        "pod",
        pod,
        "-o",
        "jsonpath={.status.containerStatuses[0].image}",
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until none of the set's Pods is left.
fn wait_gone(o: &Ordinal) {
    eventually("the set's Pods are gone", WAIT, || pods(o).is_empty());
}

/// `ordinal image import ARCHIVE` for this ordinal's data dir: the
/// README's offline step.
fn import(o: &Ordinal, archive: &Path) {
    let out = std::process::Command::new(common::binary())
        .args(["image", "import", "--data-dir"])
        .arg(&o.dir)
        .arg(archive)
        .output()
        .expect("ordinal image import runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [NGINX_SLIM, NGINX_SLIM_NEXT] {
        assert!(stdout.contains(&format!("imported {name} ")), "{stdout}");
    }
}

/// The tutorial's check of the pages, `kubectl exec -i -t` on a terminal.
const CURL: &str =
    r#"for i in 0 1; do kubectl exec -i -t "web-$i" -- curl http://localhost/; done"#;

/// Creating a StatefulSet: the Pods come in order, and run the image's
/// files, none of the host's.
fn creating_a_statefulset(r: &mut Replay, o: &Ordinal) {
    let watch = r.watch("kubectl get pods --watch -l app=nginx");
    r.run("kubectl apply -f web.yaml");
    wait_ready(o, &["web-0", "web-1"], &[]);
    r.until("kubectl get service nginx");
    r.until("kubectl get statefulset web");
    assert_created_in_order(&watch, &["web-0", "web-1"]);
    drop(watch);
    assert_eq!(running_image(o, "web-0"), NGINX_SLIM);

    // What runs in the Pods: the image's files, none of the host's.
    let os_release = r.run("kubectl exec web-0 -- cat /etc/os-release");
    assert_eq!(
        os_release,
        std::fs::read_to_string("/etc/os-release").unwrap(),
        "the stand-in carries this machine's os-release"
    );
    let host_only = o.run(&["exec", "web-0", "--", "test", "-e", "/usr/bin/apt-get"]);
    assert!(
        !host_only.status.success(),
        "a Pod sees the host's /usr/bin/apt-get"
    );
}

/// Pods in a StatefulSet: names, hostnames, DNS names that follow the
/// Pods to their new addresses.
fn pods_in_a_statefulset(r: &mut Replay, o: &Ordinal) {
    r.until("kubectl get pods -l app=nginx");
    r.run(r#"for i in 0 1; do kubectl exec "web-$i" -- sh -c 'hostname'; done"#);
    let mut shell = r.session("kubectl exec -it web-0 -- /bin/sh");
    let web0 = r.typed(&mut shell, "getent hosts web-0.nginx");
    let web1 = r.typed(&mut shell, "getent hosts web-1.nginx");
    r.typed(&mut shell, "exit");
    assert_eq!(address(&web0), pod_ip(o, "web-0"));
    assert_eq!(address(&web1), pod_ip(o, "web-1"));
    let old = uids(o);
    let watch = r.watch("kubectl get pod --watch -l app=nginx");
    r.run("kubectl delete pod -l app=nginx --wait=false");
    wait_ready(o, &["web-0", "web-1"], &old);
    assert_created_in_order(&watch, &["web-0", "web-1"]);
    drop(watch);
    r.run("for i in 0 1; do kubectl exec web-$i -- sh -c 'hostname'; done");
    let mut shell = r.session("kubectl exec -it web-0 -- /bin/sh");
    let web0 = r.typed(&mut shell, "getent hosts web-0.nginx");
    let web1 = r.typed(&mut shell, "getent hosts web-1.nginx");
    r.typed(&mut shell, "exit");
    assert_eq!(address(&web0), pod_ip(o, "web-0"), "DNS follows web-0");
    assert_eq!(address(&web1), pod_ip(o, "web-1"), "DNS follows web-1");
}

/// Writing to stable storage: each page on its claim, kept across the
/// deletion of every Pod.
fn writing_to_stable_storage(r: &mut Replay, o: &Ordinal) {
    r.run("kubectl get pvc -l app=nginx");
    r.run(
        r#"for i in 0 1; do kubectl exec "web-$i" -- sh -c 'echo "$(hostname)" > /usr/share/nginx/html/index.html'; done"#,
    );
    r.until_on_terminal(CURL);
    let old = uids(o);
    let watch = r.watch("kubectl get pod --watch -l app=nginx");
    r.run("kubectl delete pod -l app=nginx --wait=false");
    wait_ready(o, &["web-0", "web-1"], &old);
    assert_created_in_order(&watch, &["web-0", "web-1"]);
    drop(watch);
    r.until_on_terminal(CURL);
}

/// Scaling up, in order, and down, in reverse order.
fn scaling(r: &mut Replay, o: &Ordinal) {
    let watch = r.watch("kubectl get pods --watch -l app=nginx");
    r.run("kubectl scale sts web --replicas=5");
    wait_ready(o, &["web-0", "web-1", "web-2", "web-3", "web-4"], &[]);
    assert_created_in_order(&watch, &["web-2", "web-3", "web-4"]);
    drop(watch);
    let watch = r.watch("kubectl get pod --watch -l app=nginx");
    r.run(r#"kubectl patch sts web -p '{"spec":{"replicas":3}}'"#);
    wait_ready(o, &["web-0", "web-1", "web-2"], &[]);
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
}

/// Updating: a rolling update from the highest ordinal down, then one
/// staged behind a partition, a canary, the rest; OnDelete.
fn updating(r: &mut Replay, o: &Ordinal) {
    let template = "--template '{{range $i, $c := .spec.containers}}{{$c.image}}{{end}}'";
    let all_images =
        format!(r#"for p in 0 1 2; do kubectl get pod "web-$p" {template}; echo; done"#);
    let watch = r.watch("kubectl get pod -l app=nginx --watch");
    r.run(
        r#"kubectl patch statefulset web --type='json' -p='[{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value":"registry.k8s.io/nginx-slim:0.24"}]'"#,
    );
    wait_images(
        o,
        &[
            ("web-0", NGINX_SLIM_NEXT),
            ("web-1", NGINX_SLIM_NEXT),
            ("web-2", NGINX_SLIM_NEXT),
        ],
    );
    let seen = rows(&watch);
    let ends = |name: &str| {
        position(&seen, 0, |r| r.name == name && r.status == "Terminating")
            .unwrap_or_else(|| panic!("the watch never saw {name} replaced:\n{}", shown(&seen)))
    };
    assert!(
        ends("web-2") < ends("web-1") && ends("web-1") < ends("web-0"),
        "replaced from the highest ordinal down:\n{}",
        shown(&seen)
    );
    drop(watch);
    r.until(&all_images);
    let image_id = |pod: &str| {
        o.ok(&[
            "get",
            "pod",
            pod,
            "-o",
            "jsonpath={.status.containerStatuses[0].imageID}",
        ])
    };
    let next_id = image_id("web-0");

    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3}}}}'"#,
    );
    r.run(
        r#"kubectl patch statefulset web --type='json' -p='[{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value":"registry.k8s.io/nginx-slim:0.21"}]'"#,
    );
    let old = uids(o);
    r.run("kubectl delete pod web-2 --wait=false");
    let watch = r.watch("kubectl get pod -l app=nginx --watch");
    wait_ready(o, &["web-0", "web-1", "web-2"], &old[2..]);
    r.run(&format!("kubectl get pod web-2 {template}"));
    assert_eq!(running_image(o, "web-2"), NGINX_SLIM_NEXT);
    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}'"#,
    );
    wait_images(
        o,
        &[
            ("web-0", NGINX_SLIM_NEXT),
            ("web-1", NGINX_SLIM_NEXT),
            ("web-2", NGINX_SLIM),
        ],
    );
    r.until(&format!("kubectl get pod web-2 {template}"));
    assert_ne!(
        image_id("web-2"),
        next_id,
        "the canary runs the other image"
    );
    let old = uids(o);
    r.run("kubectl delete pod web-1 --wait=false");
    wait_ready(o, &["web-0", "web-1", "web-2"], &old[1..2]);
    r.until(&format!("kubectl get pod web-1 {template}"));
    assert_eq!(running_image(o, "web-1"), NGINX_SLIM_NEXT);
    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0}}}}'"#,
    );
    wait_images(
        o,
        &[
            ("web-0", NGINX_SLIM),
            ("web-1", NGINX_SLIM),
            ("web-2", NGINX_SLIM),
        ],
    );
    drop(watch);
    r.until(&all_images);
    r.run_failing(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"OnDelete"}}}'"#,
    );
    r.run(
        r#"kubectl patch statefulset web -p '{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}'"#,
    );
    let strategy = o.ok(&["get", "sts", "web", "-o", "jsonpath={.spec.updateStrategy}"]);
    assert_eq!(strategy, r#"{"type":"OnDelete"}"#);
}

/// Deleting without the Pods (a new set adopts web-1, makes web-0 and
/// scales web-2 away), then with them: the claims stay and a new set
/// finds its data.
fn deleting(r: &mut Replay, o: &Ordinal) {
    let watch = r.watch("kubectl get pods --watch -l app=nginx");
    r.run("kubectl delete statefulset web --cascade=orphan");
    r.until("kubectl get pods -l app=nginx");
    let web1 = pods(o)
        .into_iter()
        .find(|p| p.name == "web-1")
        .expect("web-1")
        .uid;
    r.run("kubectl delete pod web-0");
    r.run("kubectl get pods -l app=nginx");
    drop(watch);
    let watch = r.watch("kubectl get pods --watch -l app=nginx");
    r.run("kubectl apply -f web.yaml");
    wait_ready(o, &["web-0", "web-1"], &[]);
    let now = pods(o);
    assert_eq!(
        now.iter().find(|p| p.name == "web-1").map(|p| &p.uid),
        Some(&web1),
        "web-1 was adopted, not replaced"
    );
    let seen = rows(&watch);
    assert!(
        position(&seen, 0, |r| r.name == "web-2" && r.status == "Terminating").is_some(),
        "web-2 was terminated:\n{}",
        shown(&seen)
    );
    drop(watch);
    r.until_on_terminal(CURL);

    // Deleting with the Pods keeps the claims; a new set finds its data.
    let watch = r.watch("kubectl get pods --watch -l app=nginx");
    r.run("kubectl delete statefulset web");
    wait_gone(o);
    drop(watch);
    r.run("kubectl delete service nginx");
    r.run("kubectl apply -f web.yaml");
    wait_ready(o, &["web-0", "web-1"], &[]);
    r.until_on_terminal(CURL);
    r.run("kubectl delete service nginx");
    r.run("kubectl delete statefulset web");
    wait_gone(o);
}

#[test]
fn the_statefulset_basics_readme_replays() {
    let o = Ordinal::start();
    let mut r = Replay::new(&o, &example());
    // Before you begin: offline, the image comes from an archive.
    let archive = r.workdir().join("nginx-slim.tar");
    nginx_slim_archive(&archive);
    import(&o, &archive);

    creating_a_statefulset(&mut r, &o);
    pods_in_a_statefulset(&mut r, &o);
    writing_to_stable_storage(&mut r, &o);
    scaling(&mut r, &o);
    updating(&mut r, &o);
    deleting(&mut r, &o);

    // Cleaning up.
    r.run("kubectl get pvc");
    r.run("kubectl delete pvc www-web-0 www-web-1 www-web-2 www-web-3 www-web-4");
    r.until("kubectl get pvc");
    r.until("kubectl get pv");
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

    // What a terminal shows: busybox's prompt without its cursor query.
    assert_eq!(replay::plain("/ # \x1b[6n"), "/ # ");
    assert_eq!(replay::plain("a\x1b[1;31mred\x1b[0m\x1b=b"), "aredb");

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
