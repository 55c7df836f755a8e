//! The fault suite: durability when things go wrong under the store.
//!
//! - SIGKILL in the middle of a write load: every acknowledged write
//!   survives the restart, revisions keep increasing, and a watch resumes
//!   from the last revision a client saw.
//! - A full disk during writes (a small tmpfs in a private mount
//!   namespace, so the host's mounts are never touched): writes fail with
//!   a clear Status and nothing acknowledged is lost; once there is room
//!   again, writes succeed, and a restart finds all of it.
//! - A truncated or corrupted write-ahead log at start: the store comes up
//!   with the last complete transaction before the damage (SQLite checks
//!   every WAL frame), serving only objects exactly as they were
//!   acknowledged — never wrong data.
//! - The node agent (`ordinal node`) SIGKILLed in the middle of a
//!   StatefulSet's rolling update: its pods' processes die with it, and a
//!   new agent on the same directory runs them again and the rollout
//!   completes, with nothing of the killed agent left running.
//!
//! A second server on the same data dir is refused, and SIGTERM shuts down
//! cleanly.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Ordinal;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams, WatchEvent, WatchParams};

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("payload".to_string(), "x".repeat(512))].into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on(tmp.path());
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    // 16 writers, each at most 200 creates: bounded in count; the kill comes
    // once 400 are acknowledged, while the others are still in flight.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16 {
        let api = api.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..200 {
                let name = format!("w{w}-{i}");
                match tokio::time::timeout(
                    Duration::from_secs(10),
                    api.create(&PostParams::default(), &configmap(&name)),
                )
                .await
                {
                    Ok(Ok(cm)) => {
                        let rv = cm
                            .metadata
                            .resource_version
                            .unwrap()
                            .parse::<u64>()
                            .unwrap();
                        acked.lock().unwrap().push((name, rv));
                    }
                    _ => return,
                }
            }
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 400 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load did not reach 400 writes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    let max_rv = acked.iter().map(|(_, rv)| *rv).max().unwrap();

    let server = Ordinal::start_on(tmp.path());
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let list = api.list(&Default::default()).await.unwrap();
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(
        list_rv >= max_rv,
        "revision went backwards: {list_rv} < {max_rv}"
    );
    let stored: std::collections::HashMap<String, u64> = list
        .items
        .iter()
        .map(|c| {
            (
                c.metadata.name.clone().unwrap(),
                c.metadata
                    .resource_version
                    .clone()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            stored.get(name),
            Some(rv),
            "acknowledged write {name}@{rv} lost"
        );
    }

    // A watcher resumes from the last revision it saw before the crash.
    let mut events = api
        .watch(&WatchParams::default().timeout(20), &max_rv.to_string())
        .await
        .unwrap()
        .boxed();
    let fresh = api
        .create(&PostParams::default(), &configmap("after-restart"))
        .await
        .unwrap();
    let fresh_rv: u64 = fresh.metadata.resource_version.unwrap().parse().unwrap();
    assert!(fresh_rv > list_rv, "new writes get higher revisions");
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(WatchEvent::Added(cm)) if cm.metadata.name.as_deref() == Some("after-restart") => {
                break;
            }
            Some(WatchEvent::Error(e)) => panic!("watch could not resume: {e:?}"),
            Some(_) => {}
            None => panic!("watch ended before the new write arrived"),
        }
    }
}

#[test]
fn second_server_on_the_same_data_dir_is_refused() {
    let first = Ordinal::start();
    let err = common::spawn(&first.dir)
        .map(|_| ())
        .expect_err("the second must fail");
    assert!(err.contains("in use by another ordinal"), "{err}");
    // The first still serves.
    first.ok(&["get", "ns", "default"]);
}

#[test]
fn sigterm_shuts_down_cleanly_and_data_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on(tmp.path());
    server.ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    let server = Ordinal::start_on(tmp.path());
    server.ok(&["get", "configmap", "kept"]);
}

/// A tmpfs of `size_mb` at a fresh directory, mounted in a mount namespace
/// of its own that a `sleep` process holds: only processes entered into it
/// see the mount, the host's mount table never changes, and the mount
/// goes when the holder is killed (on drop). This process reaches the
/// tmpfs through `/proc/<holder>/root`.
struct PrivateTmpfs {
    holder: Child,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl PrivateTmpfs {
    fn new(size_mb: u32) -> PrivateTmpfs {
        for tool in ["unshare", "nsenter", "mount"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "`{tool}` is missing: install the Debian package util-linux (mount)"
            );
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size={size_mb}m,mode=0700 ordinal-fault \"$0\" && echo mounted && exec sleep 3600"
            ))
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare runs (needs root)");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "mounted" {
            let _ = holder.kill();
            let out = holder.wait_with_output().unwrap();
            panic!(
                "could not mount a private tmpfs (needs root): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        PrivateTmpfs {
            holder,
            dir,
            _tmp: tmp,
        }
    }

    /// The tmpfs as this process reaches it.
    fn seen_from_here(&self) -> PathBuf {
        let inside = self.dir.strip_prefix("/").unwrap();
        PathBuf::from(format!("/proc/{}/root", self.holder.id())).join(inside)
    }

    /// `ordinal up` on the tmpfs, inside the namespace.
    fn start(&self) -> Ordinal {
        let mut command = Command::new("nsenter");
        command
            .arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-m", "--"])
            .arg(common::binary())
            .args(common::up_args(&self.dir, &["--no-node", "--api-only"]));
        let (child, url) = common::spawn_command(command).expect("ordinal up starts");
        Ordinal::attach(self.seen_from_here(), child, url)
    }

    fn free_bytes(&self) -> u64 {
        let path =
            std::ffi::CString::new(self.seen_from_here().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a plain C struct, all zeroes valid.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: statvfs writes into the struct given.
        assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut stat) }, 0);
        stat.f_bavail as u64 * stat.f_frsize as u64
    }
}

impl Drop for PrivateTmpfs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn blob(name: &str, kib: usize) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("blob".to_string(), "z".repeat(kib * 1024))].into()),
        ..Default::default()
    }
}

/// Names and resourceVersions of the ConfigMaps in `default`.
async fn stored(api: &Api<ConfigMap>) -> HashMap<String, String> {
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| {
            (
                c.metadata.name.unwrap(),
                c.metadata.resource_version.unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_full_disk_fails_writes_clearly_and_loses_nothing() {
    let fs = PrivateTmpfs::new(48);
    let mut server = fs.start();
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    // Leave about 4 MB: a filler takes the rest.
    let filler = fs.seen_from_here().join("filler");
    let room = fs.free_bytes().saturating_sub(4 << 20);
    std::fs::write(&filler, vec![0u8; room as usize]).unwrap();

    let mut acked: HashMap<String, String> = HashMap::new();
    let mut refused = Vec::new();
    for i in 0..200 {
        let name = format!("fill-{i}");
        match tokio::time::timeout(
            Duration::from_secs(10),
            api.create(&PostParams::default(), &blob(&name, 256)),
        )
        .await
        .expect("a write on a full disk answers, it does not hang")
        {
            Ok(cm) => {
                acked.insert(name, cm.metadata.resource_version.unwrap());
            }
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 500, "{status:?}");
                assert!(
                    status.message.contains("disk holding the data dir is full"),
                    "{status:?}"
                );
                refused.push(name);
                if refused.len() == 3 {
                    break;
                }
            }
            Err(other) => panic!("not a Status: {other}"),
        }
    }
    assert!(
        !acked.is_empty() && refused.len() == 3,
        "{} acked",
        acked.len()
    );
    // Reads go on, and show exactly what was acknowledged.
    let mut expected = acked.clone();
    expected.retain(|k, _| k.starts_with("fill-"));
    assert_eq!(stored(&api).await, expected);

    // Room again: writes succeed.
    std::fs::remove_file(&filler).unwrap();
    let after = api
        .create(&PostParams::default(), &blob("after-room", 16))
        .await
        .expect("writes work again once there is room");
    expected.insert(
        "after-room".into(),
        after.metadata.resource_version.unwrap(),
    );
    assert_eq!(stored(&api).await, expected);

    // And a restart finds all of it, and none of the refused writes.
    server.terminate();
    let server = fs.start();
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let found = stored(&api).await;
    assert_eq!(found, expected);
    for name in &refused {
        assert!(!found.contains_key(name), "refused write {name} was stored");
    }
}

/// Writes `n` ConfigMaps, then SIGKILLs the server so its WAL stays as it
/// was; returns what was acknowledged (name → resourceVersion, value).
async fn write_then_kill(server: &mut Ordinal, n: usize) -> HashMap<String, (String, String)> {
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let mut acked = HashMap::new();
    for i in 0..n {
        let name = format!("w-{i}");
        let mut cm = configmap(&name);
        cm.data = Some(
            [(
                "payload".to_string(),
                format!("value of {name} {}", "x".repeat(300)),
            )]
            .into(),
        );
        let created = api.create(&PostParams::default(), &cm).await.unwrap();
        acked.insert(
            name,
            (
                created.metadata.resource_version.unwrap(),
                created.data.unwrap()["payload"].clone(),
            ),
        );
    }
    server.kill();
    acked
}

/// What a restarted server serves must be acknowledged writes exactly
/// (a prefix of them: transactions after the damage are gone), and it
/// must go on taking writes above every revision it serves.
async fn serves_only_acknowledged(dir: &Path, acked: &HashMap<String, (String, String)>) -> usize {
    let server = match common::spawn_with(dir, &["--no-node", "--api-only"]) {
        Ok((child, url)) => Ordinal::attach(dir.to_path_buf(), child, url),
        Err(stderr) => {
            // Refusing is allowed, with a message that says why.
            assert!(
                stderr.contains("store"),
                "refused without a clear reason: {stderr}"
            );
            return 0;
        }
    };
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let list = api.list(&Default::default()).await.unwrap();
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    let mut served = 0;
    let mut max_rv = 0;
    for cm in list.items {
        let name = cm.metadata.name.unwrap();
        let rv = cm.metadata.resource_version.unwrap();
        let (acked_rv, acked_value) = acked
            .get(&name)
            .unwrap_or_else(|| panic!("{name} was never acknowledged"));
        assert_eq!(&rv, acked_rv, "{name} served at another revision");
        assert_eq!(&cm.data.unwrap()["payload"], acked_value, "{name} changed");
        max_rv = max_rv.max(rv.parse::<u64>().unwrap());
        served += 1;
    }
    assert!(list_rv >= max_rv);
    let fresh = api
        .create(&PostParams::default(), &configmap("after-recovery"))
        .await
        .unwrap();
    let fresh_rv: u64 = fresh.metadata.resource_version.unwrap().parse().unwrap();
    assert!(fresh_rv > list_rv, "{fresh_rv} <= {list_rv}");
    served
}

fn wal_of(dir: &Path) -> PathBuf {
    dir.join("state.db-wal")
}

#[tokio::test]
async fn a_truncated_wal_recovers_the_complete_transactions_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on_with(tmp.path(), &["--no-node", "--api-only"]);
    let acked = write_then_kill(&mut server, 60).await;
    let wal = wal_of(tmp.path());
    let len = std::fs::metadata(&wal).expect("a WAL after SIGKILL").len();
    assert!(len > 8192, "WAL of {len} bytes");
    // Cut it in the middle of a frame.
    let file = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
    file.set_len(len / 2 + 77).unwrap();
    drop(file);
    let served = serves_only_acknowledged(tmp.path(), &acked).await;
    assert!(
        served < acked.len(),
        "nothing was lost: was the WAL cut at all?"
    );
}

#[tokio::test]
async fn garbage_in_the_wal_is_never_served() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on_with(tmp.path(), &["--no-node", "--api-only"]);
    let acked = write_then_kill(&mut server, 60).await;
    let wal = wal_of(tmp.path());
    let mut bytes = std::fs::read(&wal).unwrap();
    // Overwrite a stretch in the second half: pages of values, headers,
    // checksums, whatever is there.
    let at = bytes.len() * 2 / 3;
    for b in &mut bytes[at..at + 3000] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&wal, &bytes).unwrap();
    serves_only_acknowledged(tmp.path(), &acked).await;
    // A WAL whose header is garbage is no WAL at all: what the database
    // file holds is served.
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on_with(tmp.path(), &["--no-node", "--api-only"]);
    let acked = write_then_kill(&mut server, 20).await;
    let wal = wal_of(tmp.path());
    let mut bytes = std::fs::read(&wal).unwrap();
    for b in &mut bytes[..32] {
        *b ^= 0x5a;
    }
    std::fs::write(&wal, &bytes).unwrap();
    serves_only_acknowledged(tmp.path(), &acked).await;
}

/// The fault suite's node agent killed mid-rollout: SIGKILL takes the
/// agent and, with it, the pods' processes; the API server and the
/// controllers keep running. A new agent on the same directory runs the
/// pods again and the rollout completes, with no process of the killed
/// agent left.
#[test]
fn a_node_agent_killed_mid_rollout_resumes_it_when_it_comes_back() {
    let server = Ordinal::start_with(&["--no-node"]);
    let tmp = tempfile::tempdir().unwrap();
    let node_dir = tmp.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let mut agent = common::node_agent(&server, "agent", &node_dir);
    let marker = format!("86402.{}", std::process::id());
    let set = |version: u32| {
        format!(
            r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {image}
        command: [sleep, "{marker}"]
        env: [{{name: VERSION, value: "{version}"}}]
        readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
"#,
            image = common::images::BUSYBOX
        )
    };
    common::apply(&server, &set(1));
    let ready = |want: &str| common::peek(&server, "sts/web", "{.status.readyReplicas}") == want;
    common::eventually("3 replicas ready", Duration::from_secs(60), || ready("3"));
    common::apply(&server, &set(2));
    common::eventually("the rollout updates a pod", Duration::from_secs(60), || {
        common::peek(&server, "sts/web", "{.status.updatedReplicas}")
            .parse::<u32>()
            .is_ok_and(|n| (1..3).contains(&n))
    });
    agent.kill().unwrap();
    agent.wait().unwrap();
    common::eventually(
        "the pods' processes die with the agent",
        Duration::from_secs(10),
        || common::processes_with(&marker).is_empty(),
    );
    let mut agent = common::node_agent(&server, "agent", &node_dir);
    common::eventually("the rollout completes", Duration::from_secs(90), || {
        let status = common::peek(
            &server,
            "sts/web",
            "{.status.updatedReplicas} {.status.readyReplicas} {.status.currentRevision} {.status.updateRevision}",
        );
        let fields: Vec<&str> = status.split_whitespace().collect();
        fields.len() == 4 && fields[0] == "3" && fields[1] == "3" && fields[2] == fields[3]
    });
    for pod in ["web-0", "web-1", "web-2"] {
        assert_eq!(
            common::get(
                &server,
                &format!("pod/{pod}"),
                "{.spec.containers[0].env[0].value}"
            ),
            "2",
            "{pod}"
        );
    }
    assert_eq!(
        common::processes_with(&marker).len(),
        3,
        "one process per pod, no more"
    );
    // SAFETY: a signal to the process we started.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    assert!(
        agent.wait().unwrap().success(),
        "the agent shuts down cleanly"
    );
    assert_eq!(
        common::processes_with(&marker).len(),
        0,
        "the agent stops its pods"
    );
}
