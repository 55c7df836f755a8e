//! What every benchmark needs: a real `ordinal up` on a temporary data dir,
//! the busybox image its pods run, a kube-rs client for it, a process's
//! memory, and watches that wait for a StatefulSet's pods.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};

/// The image the benchmarks' pods run: Debian's static busybox, whose
/// applets (sh, sleep, httpd, touch) are their programs.
pub const BUSYBOX: &str = "busybox:1.36";

/// The busybox image as a docker-save archive (uncompressed, one layer),
/// built once per benchmark binary without a registry. Fails at once
/// naming the Debian package when the host has no static busybox.
pub fn busybox_archive() -> &'static [u8] {
    use ordinal_image::build::{Format, ImageBuilder, Tagged, write};
    static ARCHIVE: OnceLock<Vec<u8>> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let image = ImageBuilder::busybox()
            .unwrap_or_else(|e| panic!("building the busybox image: {e}"))
            .build();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("busybox.tar");
        write(
            &path,
            Format::DockerArchive,
            ordinal_image::compression::Compression::None,
            &[Tagged::one(&image, BUSYBOX)],
        )
        .expect("writing the busybox archive");
        std::fs::read(&path).expect("reading the busybox archive")
    })
}

/// Imports the busybox image into the store of the node whose directory
/// is `node_dir` (`<data dir>/node` for `ordinal up`), as `ordinal image
/// import` does: the image is present before any pod asks for it.
pub fn import_busybox(node_dir: &Path) {
    let store_dir = ordinal_node::images::store_dir(node_dir);
    let store = ordinal_image::ImageStore::open(&store_dir).expect("opening the image store");
    let file = node_dir.join("busybox.import.tar");
    std::fs::write(&file, busybox_archive()).expect("writing the archive");
    let imported = store.import(&file, &ordinal_image::NoProgress);
    let _ = std::fs::remove_file(&file);
    imported.unwrap_or_else(|e| panic!("importing busybox: {e}"));
}

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
