//! Image pods on ordinal, side by side with the same containers started by
//! Debian's containerd + runc, in one run on one machine.
//!
//! Both run the same busybox image (one archive, imported into ordinal's
//! node store as `ordinal image import` does and into containerd with
//! `ctr image import`) and the same program, `sh -c "touch /ctl/<name>;
//! exec sleep 3600"`, with the same host directory bind-mounted at `/ctl`.
//! The marker file's creation, seen through inotify, is the moment the
//! container's process runs.
//!
//! - **ordinal**: `ordinal up` (everything in it) on a data dir of its
//!   own; a kube-rs client creates each pod (no `nodeName`: the scheduler
//!   places it). Per pod: API create → marker, and API create → the pod's
//!   container Running as a watch sees it. The pod includes what a pod
//!   is: a sandbox (pause process; PID, network, UTS and IPC namespaces),
//!   a veth with an address, routes and neighbour entries, cgroups, the
//!   image's overlay root, /etc/hosts and resolv.conf, the log file.
//! - **containerd + runc**: a containerd of the benchmark's own (see
//!   `containerd.rs`); per container, `ctr run -d` (overlayfs snapshot,
//!   a shim, runc create and start; a new network namespace with only
//!   `lo`, no sandbox, no CNI; output to a log file) → marker. The time of
//!   ctr's own start-up (`ctr version`) is measured too, so it can be
//!   taken out.
//!
//! Each side runs 100 one after another and then a burst of 20 created
//! at once, after a warm-up of 3; ordinal is stopped before containerd
//! starts. Then the processes each keeps per container: containerd a
//! shim per container; ordinal none beside the container's own (one
//! pause process per pod is the pod's sandbox).
//!
//! Run as root: `cargo bench -p ordinal --bench containers`. Needs
//! `apt-get install containerd runc` (fails at once naming them).

#[path = "../../../../benches/report.rs"]
mod report;
#[path = "../support/mod.rs"]
mod support;

mod containerd;
mod processes;
mod seen;

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use report::Goal;
use seen::Seen;

const WARM_UP: usize = 3;
const SEQUENTIAL: usize = 100;
const BURST: usize = 20;
/// The longest one container may take.
const LIMIT: Duration = Duration::from_secs(60);

fn script(name: &str) -> String {
    format!("touch /ctl/{name}; exec sleep 3600")
}

/// Per-container latencies of one side.
#[derive(Default)]
struct Latencies {
    sequential: Vec<Duration>,
    burst: Vec<Duration>,
}

struct OrdinalRun {
    /// API create → marker.
    runs: Latencies,
    /// API create → Running in a watch.
    running: Latencies,
    /// `ordinal up`'s own CPU time (user + system) per pod, one at a time.
    cpu_per_pod: Duration,
    pods: usize,
    pauses: usize,
    containers: usize,
    others: usize,
    pause_pss_kb: u64,
}

struct ContainerdRun {
    /// `ctr run -d` spawned → marker.
    runs: Latencies,
    /// `ctr run -d` spawned → it returned (task started).
    returned: Vec<Duration>,
    ctr_cli: Duration,
    containers: usize,
    shims: usize,
    shim_pss_kb: u64,
}

fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut sorted = v.to_vec();
    sorted.sort();
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `ordinal up`, stopped with SIGTERM (its pods go with it), SIGKILL if
/// it does not stop in time.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        // SAFETY: a signal to the process we started.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pod(name: &str, ctl: &Path) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"bench": "containers"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "ctl", "hostPath": {"path": ctl}}],
            "containers": [{
                "name": "c",
                "image": support::images::BUSYBOX,
                "command": ["sh", "-c", script(name)],
                "volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}],
            }],
        },
    }))
    .unwrap()
}

/// Records when each of the benchmark's pods is first Running, until the
/// task is aborted.
fn watch_running(pods: Api<Pod>) -> (Arc<Seen>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Seen::default());
    let recorder = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let config = watcher::Config::default().labels("bench=containers");
        let stream = watcher::watcher(pods, config);
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(Event::Apply(p) | Event::InitApply(p)) = event
                && support::running(&p)
            {
                recorder.record(p.metadata.name.as_deref().unwrap_or_default());
            }
        }
    });
    (seen, task)
}

/// Creates the pods `names` at once (`sent` is when the requests go) and
/// waits until each has run and is Running; the two latencies of each.
async fn pods_at_once(
    api: &Api<Pod>,
    ctl: &Path,
    names: &[String],
    markers: &Seen,
    running: &Seen,
) -> (Vec<Duration>, Vec<Duration>) {
    let sent = Instant::now();
    let creates = names.iter().map(|name| {
        let (api, p) = (api.clone(), pod(name, ctl));
        async move {
            api.create(&PostParams::default(), &p)
                .await
                .expect("create pod")
        }
    });
    futures::future::join_all(creates).await;
    let (mut runs, mut up) = (Vec::new(), Vec::new());
    for name in names {
        let ran = markers.wait(name, LIMIT).await;
        let at = running.wait(name, LIMIT).await;
        let (Some(ran), Some(at)) = (ran, at) else {
            panic!("pod {name} did not run within {LIMIT:?}");
        };
        runs.push(ran - sent);
        up.push(at - sent);
    }
    (runs, up)
}

/// Counts the processes `ordinal up` (pid `up`) started: pause processes,
/// containers (`sleep`), anything else; and the pauses' PSS.
fn ordinal_processes(up: u32) -> (usize, usize, usize, u64) {
    let children: Vec<_> = processes::all()
        .into_iter()
        .filter(|p| p.ppid == up)
        .collect();
    let is_pause = |p: &processes::Process| p.argv.first().is_some_and(|a| a == "ordinal-pause");
    let pauses: Vec<_> = children.iter().filter(|p| is_pause(p)).collect();
    let containers = children
        .iter()
        .filter(|p| p.argv.first().is_some_and(|a| a == "sleep"))
        .count();
    let others = children.len() - pauses.len() - containers;
    let pss = pauses.iter().map(|p| p.pss_kb).sum();
    (pauses.len(), containers, others, pss)
}

async fn ordinal(tmp: &Path, ctl: &Path, markers: &Seen) -> OrdinalRun {
    let data = tmp.join("ordinal");
    support::images::prepare(&data);
    let (child, _) = support::spawn(&data);
    let up = Up(child);
    let client = support::client(&data).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + LIMIT;
    while !nodes
        .list(&ListParams::default())
        .await
        .is_ok_and(|l| l.items.iter().any(support::node_ready))
    {
        assert!(Instant::now() < deadline, "the node did not become Ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (running, watching) = watch_running(api.clone());
    let mut runs = Latencies::default();
    let mut up_at = Latencies::default();
    let mut cpu_before = Duration::ZERO;
    for i in 0..WARM_UP + SEQUENTIAL {
        if i == WARM_UP {
            cpu_before = processes::cpu_time(up.0.id());
        }
        let (ran, at) = pods_at_once(&api, ctl, &[format!("o-{i}")], markers, &running).await;
        if i >= WARM_UP {
            runs.sequential.extend(ran);
            up_at.sequential.extend(at);
        }
    }
    let cpu_per_pod = (processes::cpu_time(up.0.id()) - cpu_before) / SEQUENTIAL as u32;
    let burst: Vec<String> = (0..BURST).map(|i| format!("o-burst-{i}")).collect();
    (runs.burst, up_at.burst) = pods_at_once(&api, ctl, &burst, markers, &running).await;
    let (pauses, containers, others, pause_pss_kb) = ordinal_processes(up.0.id());
    let gone = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let selector = ListParams::default().labels("bench=containers");
    let _ = api.delete_collection(&gone, &selector).await;
    let deadline = Instant::now() + LIMIT;
    while api
        .list(&selector)
        .await
        .map_or(true, |l| !l.items.is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "the pods were not deleted in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watching.abort();
    drop(up);
    OrdinalRun {
        runs,
        running: up_at,
        pods: WARM_UP + SEQUENTIAL + BURST,
        cpu_per_pod,
        pauses,
        containers,
        others,
        pause_pss_kb,
    }
}

/// Waits for `ctr run -d` to return successfully; when it did.
async fn ctr_returned(child: Child, id: &str) -> Instant {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("waiting thread")
        .expect("ctr run");
    assert!(
        out.status.success(),
        "ctr run {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Instant::now()
}

/// Starts the containers `ids` at once with `ctr run -d`; per container,
/// the time to its marker and to ctr's return.
async fn containers_at_once(
    c: &mut containerd::Containerd,
    ctl: &Path,
    ids: &[String],
    markers: &Seen,
) -> (Vec<Duration>, Vec<Duration>) {
    let sent = Instant::now();
    let children: Vec<Child> = ids.iter().map(|id| c.run(id, ctl, &script(id))).collect();
    let returns = futures::future::join_all(
        children
            .into_iter()
            .zip(ids)
            .map(|(child, id)| ctr_returned(child, id)),
    )
    .await;
    let (mut runs, mut returned) = (Vec::new(), Vec::new());
    for (id, at) in ids.iter().zip(returns) {
        let ran = markers
            .wait(id, LIMIT)
            .await
            .unwrap_or_else(|| panic!("container {id} did not run within {LIMIT:?}"));
        runs.push(ran - sent);
        returned.push(at - sent);
    }
    (runs, returned)
}

async fn containerd(tmp: &Path, ctl: &Path, markers: &Seen) -> ContainerdRun {
    let archive = tmp.join("busybox.tar");
    std::fs::write(&archive, support::images::busybox_archive()).expect("the archive");
    let mut c = containerd::Containerd::start(&tmp.join("containerd"));
    c.import(&archive);
    let mut cli = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let ok = c
            .ctr()
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "ctr version");
        cli.push(t.elapsed());
    }
    let mut runs = Latencies::default();
    let mut returned = Vec::new();
    for i in 0..WARM_UP + SEQUENTIAL {
        let (ran, back) = containers_at_once(&mut c, ctl, &[format!("c-{i}")], markers).await;
        if i >= WARM_UP {
            runs.sequential.extend(ran);
            returned.extend(back);
        }
    }
    let burst: Vec<String> = (0..BURST).map(|i| format!("c-burst-{i}")).collect();
    (runs.burst, _) = containers_at_once(&mut c, ctl, &burst, markers).await;
    let shims = c.shims();
    let shim_pids: Vec<u32> = shims.iter().map(|(pid, _)| *pid).collect();
    let containers = processes::all()
        .iter()
        .filter(|p| shim_pids.contains(&p.ppid))
        .count();
    let result = ContainerdRun {
        runs,
        returned,
        ctr_cli: percentile(&cli, 0.5),
        containers,
        shims: shims.len(),
        shim_pss_kb: shims.iter().map(|(_, pss)| pss).sum(),
    };
    drop(c);
    result
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ctl = tmp.path().join("ctl");
    std::fs::create_dir_all(&ctl).expect("ctl dir");
    let markers = seen::watch_files(&ctl);
    let o = ordinal(tmp.path(), &ctl, &markers).await;
    let c = containerd(tmp.path(), &ctl, &markers).await;
    report_figures(&o, &c);
}

fn report_figures(o: &OrdinalRun, c: &ContainerdRun) {
    let ms = |d: Duration| report::ms(d);
    let p = |v: &[Duration], q: f64| ms(percentile(v, q));
    let seq = format!("{SEQUENTIAL} one at a time");
    let burst = format!("burst of {BURST} created at once");
    for (kind, running, runs) in [
        ("seq", &o.running.sequential, &o.runs.sequential),
        ("burst", &o.running.burst, &o.runs.burst),
    ] {
        let how = if kind == "seq" { &seq } else { &burst };
        report::figure(
            &format!("containers.ordinal_running_{kind}_p50"),
            p(running, 0.5),
            "ms",
            Goal::None,
            &format!("ordinal: image present, pod created → Running in a watch ({how}), p50"),
        );
        report::figure(
            &format!("containers.ordinal_running_{kind}_p99"),
            p(running, 0.99),
            "ms",
            // The goal is per pod; a burst shares two cores twenty ways.
            if kind == "seq" {
                Goal::AtMost(50.0)
            } else {
                Goal::None
            },
            &format!("ordinal: image present, pod created → Running in a watch ({how}), p99"),
        );
        report::figure(
            &format!("containers.ordinal_runs_{kind}_p50"),
            p(runs, 0.5),
            "ms",
            Goal::None,
            &format!("ordinal: pod created → its process runs ({how}), p50"),
        );
        report::figure(
            &format!("containers.ordinal_runs_{kind}_p99"),
            p(runs, 0.99),
            "ms",
            Goal::None,
            &format!("ordinal: pod created → its process runs ({how}), p99"),
        );
    }
    report::figure(
        "containers.ordinal_cpu_per_pod",
        ms(o.cpu_per_pod),
        "ms",
        Goal::None,
        "ordinal: `ordinal up`'s CPU time per pod (one at a time; the pod's own processes not included)",
    );
    for (kind, runs) in [("seq", &c.runs.sequential), ("burst", &c.runs.burst)] {
        let how = if kind == "seq" { &seq } else { &burst };
        report::figure(
            &format!("containers.containerd_runs_{kind}_p50"),
            p(runs, 0.5),
            "ms",
            Goal::None,
            &format!("containerd + runc: `ctr run -d` → its process runs ({how}), p50"),
        );
        report::figure(
            &format!("containers.containerd_runs_{kind}_p99"),
            p(runs, 0.99),
            "ms",
            Goal::None,
            &format!("containerd + runc: `ctr run -d` → its process runs ({how}), p99"),
        );
    }
    report::figure(
        "containers.ctr_cli_p50",
        ms(c.ctr_cli),
        "ms",
        Goal::None,
        "`ctr version` (ctr's own start-up and one call), median of 20",
    );
    println!(
        "containerd: `ctr run -d` returned after p50 {:.1} ms (one at a time)",
        p(&c.returned, 0.5)
    );
    for (kind, o_runs, c_runs) in [
        ("seq", &o.runs.sequential, &c.runs.sequential),
        ("burst", &o.runs.burst, &c.runs.burst),
    ] {
        let how = if kind == "seq" { &seq } else { &burst };
        let (o50, c50) = (p(o_runs, 0.5), p(c_runs, 0.5));
        report::figure(
            &format!("containers.ratio_{kind}"),
            c50 / o50,
            "x",
            Goal::None,
            &format!("containerd p50 ÷ ordinal p50, create → process runs ({how})"),
        );
        report::figure(
            &format!("containers.ratio_{kind}_without_ctr"),
            (c50 - ms(c.ctr_cli)) / o50,
            "x",
            Goal::AtLeast(5.0),
            &format!("the same with ctr's own start-up taken out of containerd's time ({how})"),
        );
    }
    report_processes(o, c);
}

fn report_processes(o: &OrdinalRun, c: &ContainerdRun) {
    let per = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    println!(
        "ordinal: {} pods: {} pause processes, {} containers, {} other processes; \
         containerd: {} containers, {} shims",
        o.pods, o.pauses, o.containers, o.others, c.containers, c.shims
    );
    report::figure(
        "containers.ordinal_helpers_per_container",
        per(o.others, o.containers),
        "processes",
        Goal::AtMost(0.0),
        "ordinal: processes per container besides the container's own and its pod's pause",
    );
    report::figure(
        "containers.ordinal_pause_per_pod",
        per(o.pauses, o.pods),
        "processes",
        Goal::None,
        "ordinal: pause processes (the pod's sandbox) per pod",
    );
    report::figure(
        "containers.ordinal_pause_pss",
        o.pause_pss_kb as f64 / 1024.0 / o.pauses.max(1) as f64,
        "MB",
        Goal::None,
        "ordinal: memory (PSS) of one pod's pause process",
    );
    report::figure(
        "containers.containerd_shims_per_container",
        per(c.shims, c.containers),
        "processes",
        Goal::None,
        "containerd + runc: shim processes per container",
    );
    report::figure(
        "containers.containerd_shim_pss",
        c.shim_pss_kb as f64 / 1024.0 / c.shims.max(1) as f64,
        "MB",
        Goal::None,
        "containerd + runc: memory (PSS) of one container's shim",
    );
}
