//! ordinal-kv's numbers: durable write latency and throughput on the
//! primary, replication lag to a following replica, and how long a new
//! replica takes to clone or to catch up. Real members on 127.0.0.1 with
//! data directories on disk (`$TMPDIR`), as in a pod.
//!
//! `cargo bench -p ordinal-kv --bench replication`. Bounded: 2,000 writes
//! per figure, 9,000 keys for clone and catch-up (under the
//! compaction threshold, so catch-up goes through the log).

#[path = "../../../benches/report.rs"]
mod report;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use ordinal_kv::client::request;
use ordinal_kv::identity::Identity;
use ordinal_kv::member::Member;
use ordinal_kv::protocol::{Status, key_path};
use ordinal_kv::store::Store;
use report::Goal;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Keys for the clone and catch-up figures.
const KEYS: usize = 9_000;

async fn start(pod: &str, dir: &Path, primary: Option<&str>) -> String {
    let d = dir.to_path_buf();
    let store = tokio::task::spawn_blocking(move || Store::open(&d))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let identity = Identity::parse(pod, "kv", 7070).unwrap();
    let member = Member::following(identity, store, primary.unwrap_or(&addr).to_string());
    tokio::spawn(ordinal_kv::serve(listener, member, std::future::pending()));
    addr
}

async fn put(addr: &str, key: &str, value: &str) {
    let res = request(
        addr,
        Method::PUT,
        &key_path(key),
        Some(Bytes::from(value.to_string())),
        TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(res.status, StatusCode::OK);
}

async fn status(addr: &str) -> Status {
    let res = request(addr, Method::GET, "/status", None, TIMEOUT)
        .await
        .unwrap();
    serde_json::from_slice(&res.body).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn wait_for_seq(addr: &str, seq: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while status(addr).await.seq < seq {
        assert!(Instant::now() < deadline, "replica never reached {seq}");
        tokio::task::yield_now().await;
    }
}

/// Writes one at a time; each write's latency, and the time until the
/// replica has it (measured by polling its status, so an upper bound).
async fn sequential(primary: &str, replica: &str) {
    let n = 1000;
    let mut write = Vec::with_capacity(n);
    let mut lag = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        put(primary, &format!("seq{i}"), "v").await;
        write.push(t.elapsed());
        let acked = Instant::now();
        let seq = status(primary).await.seq;
        let probe = acked.elapsed();
        wait_for_seq(replica, seq).await;
        lag.push(acked.elapsed().saturating_sub(probe));
    }
    write.sort();
    lag.sort();
    let figures = [
        (
            "kv.write_p50",
            &write,
            0.5,
            Goal::None,
            "write acknowledged after fsync, p50",
        ),
        (
            "kv.write_p99",
            &write,
            0.99,
            Goal::AtMost(20.0),
            "write acknowledged after fsync, p99",
        ),
        (
            "kv.lag_p50",
            &lag,
            0.5,
            Goal::None,
            "replication lag, acknowledged → on the replica, p50",
        ),
        (
            "kv.lag_p99",
            &lag,
            0.99,
            Goal::AtMost(5.0),
            "replication lag, acknowledged → on the replica, p99",
        ),
    ];
    for (id, samples, q, goal, what) in figures {
        let what = format!("ordinal-kv {what} ({n} sequential writes)");
        report::figure(id, report::ms(percentile(samples, q)), "ms", goal, &what);
    }
    println!(
        "| write, acknowledged after fsync, p50 / p99 ({n} sequential) | {} / {} | p99 ≤ 20 ms |",
        ms(percentile(&write, 0.5)),
        ms(percentile(&write, 0.99))
    );
    println!(
        "| replication lag, write acknowledged → on the replica, p50 / p99 | {} / {} | p99 ≤ 5 ms |",
        ms(percentile(&lag, 0.5)),
        ms(percentile(&lag, 0.99))
    );
}

/// 16 clients writing at once: writes are serialised, one fsync each.
async fn concurrent(primary: &str) {
    let (clients, each) = (16, 125);
    let t = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let addr = primary.to_string();
            tokio::spawn(async move {
                for i in 0..each {
                    put(&addr, &format!("c{c}-{i}"), "v").await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = (clients * each) as f64 / t.elapsed().as_secs_f64();
    report::figure(
        "kv.writes",
        rate,
        "writes/s",
        Goal::AtLeast(200.0),
        &format!("ordinal-kv durable writes, {clients} concurrent clients"),
    );
    println!(
        "| durable writes, {clients} concurrent clients ({} writes) | {rate:.0}/s | ≥ 200/s |",
        clients * each
    );
}

/// A new replica cloning 9,000 keys, then one catching up through the
/// log from nothing.
async fn clone_and_catch_up(root: &Path) {
    let pdir = root.join("big-primary");
    let mut store = Store::open(&pdir).unwrap();
    // Written straight into the store: the figure is the clone, not this.
    for i in 0..KEYS {
        store
            .write(
                &format!("key-{i:05}"),
                Some("a value of some thirty bytes..."),
            )
            .unwrap();
    }
    drop(store);
    let primary = start("big-0", &pdir, None).await;
    let want = status(&primary).await.seq;

    let web1 = Identity::parse("big-1", "kv", 7070).unwrap();
    let t = Instant::now();
    let outcome = ordinal_kv::clone::clone(&web1, &root.join("clone"), Some(&primary), TIMEOUT)
        .await
        .unwrap();
    let took = t.elapsed();
    report::figure(
        "kv.clone",
        report::ms(took),
        "ms",
        Goal::AtMost(1000.0),
        "ordinal-kv clone of 9,000 keys from the previous member",
    );
    assert!(
        outcome.to_string().starts_with("cloned 9000 keys"),
        "{outcome}"
    );
    println!(
        "| clone of 9,000 keys from the previous member (init container's work) | {} | ≤ 1 s |",
        ms(took)
    );

    let t = Instant::now();
    let replica = start("big-2", &root.join("catch-up"), Some(&primary)).await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = status(&replica).await;
        if s.ready {
            assert_eq!(s.seq, want);
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let caught_up = t.elapsed();
    report::figure(
        "kv.catch_up",
        report::ms(caught_up),
        "ms",
        Goal::AtMost(1000.0),
        "ordinal-kv empty replica to Ready, catching up 9,000 log entries",
    );
    println!(
        "| empty replica to Ready, catching up 9,000 log entries | {} | ≤ 1 s |",
        ms(caught_up)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let primary = start("web-0", &root.path().join("p"), None).await;
        let replica = start("web-1", &root.path().join("r"), Some(&primary)).await;
        let deadline = Instant::now() + TIMEOUT;
        while !status(&replica).await.ready {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!("| benchmark | result | goal |\n|---|---|---|");
        sequential(&primary, &replica).await;
        concurrent(&primary).await;
        clone_and_catch_up(root.path()).await;
    });
}
