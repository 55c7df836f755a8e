//! What every benchmark needs: a real `ordinal up` on a temporary data dir,
//! the busybox image its pods run (the tests' own), a kube-rs client for it, a process's
//! memory, and watches that wait for a StatefulSet's pods.

#![allow(dead_code)]

/// The tests' images: busybox (`images::BUSYBOX`), imported into a node's
/// store before it starts as `ordinal image import` would.
#[path = "../../tests/common/images.rs"]
pub mod images;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};

/// Starts `ordinal up` on `dir` and waits for its banner; returns the
/// process and how long it took to be ready.
pub fn spawn(dir: &Path) -> (Child, Duration) {
    spawn_with(dir, &[])
}

/// [`spawn`] with more arguments to `ordinal up` (e.g. `--no-node`).
pub fn spawn_with(dir: &Path, extra: &[&str]) -> (Child, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordinal"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--dns-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ordinal");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = lines.next().expect("banner").expect("banner");
    assert!(banner.starts_with("ordinal is up"), "{banner}");
    let elapsed = started.elapsed();
    std::thread::spawn(move || for _ in lines {});
    (child, elapsed)
}

/// A client through the kubeconfig `ordinal up` wrote into `dir`.
pub async fn client(dir: &Path) -> kube::Client {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(dir.join("kubeconfig")).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// The resident memory of process `pid` in MB (VmRSS); None when it cannot
/// be read.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// Watches until `n` distinct pods labelled `app=<name>` have been seen,
/// or `limit` has passed; returns how many were seen.
pub async fn pods_seen(pods: &Api<Pod>, name: &str, n: usize, limit: Duration) -> usize {
    let config = watcher::Config::default().labels(&format!("app={name}"));
    let stream = watcher::watcher(pods.clone(), config);
    futures::pin_mut!(stream);
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + limit;
    while seen.len() < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(Event::Apply(p) | Event::InitApply(p)))) => {
                seen.insert(p.metadata.name.unwrap_or_default());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    seen.len()
}

/// Watches the set `name` until it reports `n` ready replicas, or `limit`
/// has passed; returns the last ready count it reported.
pub async fn ready_replicas(
    sets: &Api<StatefulSet>,
    name: &str,
    n: usize,
    limit: Duration,
) -> usize {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher::watcher(sets.clone(), config);
    futures::pin_mut!(stream);
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = 0;
    while last < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(Event::Apply(s) | Event::InitApply(s)))) => {
                last = s.status.and_then(|s| s.ready_replicas).unwrap_or(0).max(0) as usize;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    last
}

/// Whether every container of the pod is Running.
pub fn running(p: &k8s_openapi::api::core::v1::Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            !cs.is_empty()
                && cs
                    .iter()
                    .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
        })
}

/// Whether the node's Ready condition is True.
pub fn node_ready(n: &k8s_openapi::api::core::v1::Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The real kubectl (`$KUBECTL`, else kubectl 1.33) for one `ordinal up`,
/// with its own discovery cache.
pub struct Kubectl {
    /// The kubeconfig `ordinal up` wrote.
    pub kubeconfig: std::path::PathBuf,
    /// kubectl's cache dir.
    pub cache: tempfile::TempDir,
}

impl Kubectl {
    /// kubectl for the `ordinal up` whose data dir is `dir`.
    pub fn for_dir(dir: &Path) -> Kubectl {
        Kubectl {
            kubeconfig: dir.join("kubeconfig"),
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Runs kubectl; its stdout. Panics when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let kubectl = std::env::var("KUBECTL")
            .unwrap_or_else(|_| "/usr/lib/google-cloud-sdk/bin/kubectl.1.33".into());
        let out = Command::new(kubectl)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .arg("--cache-dir")
            .arg(self.cache.path())
            .arg("--request-timeout=30s")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl off the async workers, so watches keep being read.
    pub async fn run_async(self: &std::sync::Arc<Self>, args: &[&str]) -> String {
        let kubectl = std::sync::Arc::clone(self);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl.run(&args)
        })
        .await
        .expect("kubectl thread")
    }
}

/// An `ordinal up` that is stopped with SIGTERM when dropped, so it takes
/// its pods down and leaves nothing behind; killed after 90 s.
pub struct Up(pub Child);

impl Drop for Up {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child, not yet reaped.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("ordinal did not stop within 90 s of SIGTERM; killing it");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
