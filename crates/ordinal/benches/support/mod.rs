//! What every benchmark needs: a real `ordinal up` on a temporary data dir,
//! and a kube-rs client for it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
