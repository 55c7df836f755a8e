//! A pod's status writer, in the way of the kubelet's status manager: the
//! worker hands it each new status and goes on with its containers; the
//! writer sends the newest one. A container that starts and turns ready
//! while a write is under way costs one more write, not one each, and the
//! worker never waits on the API server before reacting to what its
//! containers do (a probe's result, an exit).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::sync::watch;

use super::status;

/// How long a failed write waits before the next try.
const RETRY: Duration = Duration::from_millis(500);

/// How many times a write is tried once the worker is gone.
const ORPHAN_TRIES: u32 = 5;

/// The newest status, numbered.
#[derive(Default)]
struct Queued {
    seq: u64,
    status: Option<PodStatus>,
}

/// The worker's end of a pod's status writer. Dropping it ends the writer
/// once it has written what it was handed.
pub struct StatusWriter {
    latest: watch::Sender<Queued>,
    /// The number of the newest status the API server has (or that can
    /// never be written: the pod is gone, or is another pod now).
    written: watch::Receiver<u64>,
}

impl StatusWriter {
    /// Starts the writer of the pod `name` whose UID is `uid`.
    pub fn spawn(api: Api<Pod>, name: String, uid: String) -> StatusWriter {
        let (latest, queued) = watch::channel(Queued::default());
        let (done, written) = watch::channel(0);
        tokio::spawn(run(api, name, uid, queued, done));
        StatusWriter { latest, written }
    }

    /// Hands the writer a new status; an older one not yet sent is
    /// dropped.
    pub fn send(&self, status: PodStatus) {
        self.latest.send_modify(|q| {
            q.seq += 1;
            q.status = Some(status);
        });
    }

    /// Waits until the newest status handed over is written (or can never
    /// be), for at most `limit`.
    pub async fn flush(&self, limit: Duration) {
        let want = self.latest.borrow().seq;
        let mut written = self.written.clone();
        let _ = tokio::time::timeout(limit, written.wait_for(|seq| *seq >= want)).await;
    }
}

/// What became of one write.
enum Outcome {
    Written,
    /// Never to be written: the pod is gone, or its name is another
    /// pod's now (the UID precondition failed).
    Moot,
    /// Worth trying again.
    Failed,
}

async fn run(
    api: Api<Pod>,
    name: String,
    uid: String,
    mut queued: watch::Receiver<Queued>,
    done: watch::Sender<u64>,
) {
    // `changed` still reports a status handed over just before the worker
    // went away, so the last one is written too.
    let mut tries_left = ORPHAN_TRIES;
    while queued.changed().await.is_ok() {
        loop {
            let (seq, status) = {
                let q = queued.borrow_and_update();
                (q.seq, q.status.clone())
            };
            let Some(status) = status else { break };
            match write(&api, &name, &uid, &status).await {
                Outcome::Written | Outcome::Moot => {
                    done.send_replace(seq);
                    break;
                }
                Outcome::Failed => {
                    // Again after a pause, or at once with a newer status;
                    // only a few times once the worker is gone.
                    let orphaned = queued.has_changed().is_err();
                    if orphaned {
                        tries_left = tries_left.saturating_sub(1);
                        if tries_left == 0 {
                            return;
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        Ok(()) = queued.changed(), if !orphaned => {}
                    }
                }
            }
        }
    }
}

async fn write(api: &Api<Pod>, name: &str, uid: &str, status: &PodStatus) -> Outcome {
    // The UID is a precondition: a pod deleted and made again under its
    // name (elsewhere, while this node was cut off) is not ours.
    // Conditions merge by type, and only the node's own are sent: a
    // readiness gate's condition another controller set since this node
    // last saw the pod is not written back over.
    let patch = serde_json::json!({
        "metadata": {"uid": uid},
        "status": status::as_patch(status),
    });
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        Ok(_) => Outcome::Written,
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
            tracing::debug!(pod = %name, error = %e, "status not written: the pod is gone or replaced");
            Outcome::Moot
        }
        Err(e) => {
            tracing::debug!(pod = %name, error = %e, "status update failed; will retry");
            Outcome::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::PostParams;
    use ordinal_apiserver::server::{self, Config};

    async fn server() -> (tempfile::TempDir, server::Running, Api<Pod>) {
        let dir = tempfile::tempdir().unwrap();
        let running = server::start(Config::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        let pods = Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
        (dir, running, pods)
    }

    fn status(value: serde_json::Value) -> PodStatus {
        serde_json::from_value(value).unwrap()
    }

    fn version(pod: &Pod) -> u64 {
        pod.metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_newest_status_is_written_a_burst_coalesced_and_others_conditions_kept() {
        let (_dir, _running, pods) = server().await;
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0"},
            "spec": {
                "containers": [{"name": "app", "image": "busybox"}],
                "readinessGates": [{"conditionType": "example.com/gate"}]
            }
        }))
        .unwrap();
        let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
        let uid = pod.metadata.uid.clone().unwrap();
        // Someone else's condition, which the node's copy does not have.
        let gate = serde_json::json!({"status": {"conditions": [
            {"type": "example.com/gate", "status": "True"}
        ]}});
        let pod = pods
            .patch_status("web-0", &PatchParams::default(), &Patch::Merge(gate))
            .await
            .unwrap();
        let before = version(&pod);

        let writer = StatusWriter::spawn(pods.clone(), "web-0".into(), uid);
        const BURST: u64 = 50;
        for i in 0..BURST {
            writer.send(status(serde_json::json!({
                "phase": "Running",
                "message": format!("status {i}"),
                "conditions": [{"type": "Ready", "status": "False"}]
            })));
        }
        writer.flush(Duration::from_secs(10)).await;
        let pod = pods.get("web-0").await.unwrap();
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.message.as_deref(), Some("status 49"), "the newest");
        let types: Vec<&str> = status
            .conditions
            .iter()
            .flatten()
            .map(|c| c.type_.as_str())
            .collect();
        assert!(
            types.contains(&"Ready") && types.contains(&"example.com/gate"),
            "{types:?}"
        );
        let writes = version(&pod) - before;
        assert!(writes < BURST, "{writes} writes for a burst of {BURST}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_address_replaces_the_old_one() {
        let (_dir, _running, pods) = server().await;
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0"},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}
        }))
        .unwrap();
        let uid = pods
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
            .metadata
            .uid
            .unwrap();
        let writer = StatusWriter::spawn(pods.clone(), "web-0".into(), uid);
        for ip in ["10.192.0.2", "10.192.16.2"] {
            writer.send(status(serde_json::json!({
                "phase": "Running",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "hostIP": "127.0.0.1",
                "hostIPs": [{"ip": "127.0.0.1"}]
            })));
            writer.flush(Duration::from_secs(10)).await;
        }
        // After an agent restart on another range: the new address alone
        // (both at once is invalid, and was refused at every retry).
        let status = pods.get("web-0").await.unwrap().status.unwrap();
        assert_eq!(status.pod_ip.as_deref(), Some("10.192.16.2"));
        let ips: Vec<String> = status
            .pod_ips
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.ip)
            .collect();
        assert_eq!(ips, ["10.192.16.2"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replaced_pod_is_not_written_and_flush_does_not_wait_for_it() {
        let (_dir, _running, pods) = server().await;
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0"},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        // A writer of an earlier pod of that name.
        let writer = StatusWriter::spawn(pods.clone(), "web-0".into(), "another-uid".into());
        writer.send(status(serde_json::json!({"phase": "Failed"})));
        let started = std::time::Instant::now();
        writer.flush(Duration::from_secs(30)).await;
        assert!(started.elapsed() < Duration::from_secs(20), "not retried");
        let pod = pods.get("web-0").await.unwrap();
        assert_ne!(
            pod.status.and_then(|s| s.phase).as_deref(),
            Some("Failed"),
            "the new pod's status is its own"
        );
    }
}
