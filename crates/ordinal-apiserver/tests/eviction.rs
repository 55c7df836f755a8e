//! Evictions against PodDisruptionBudgets, on a real API server (TLS, a
//! loopback port, a kube client), as `kubectl drain` meets them: a budget
//! with no disruption left answers 429 with upstream's message and cause
//! and the pod stays; a budget with one left is spent (in its status) and
//! the pod goes; a budget not yet synced for its spec answers 429 too; an
//! unready pod goes without spending a budget that is met; a dry run
//! changes nothing.
//! The budget's status is written here as the disruption controller would.

use http::Request;
use serde_json::{Value, json};

use ordinal_apiserver::server::{self, Config};

struct Server {
    _dir: tempfile::TempDir,
    running: Option<server::Running>,
    client: kube::Client,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(Config::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    // The answers themselves are under test: no retry of a 429.
    config.default_retry = false;
    Server {
        _dir: dir,
        running: Some(running),
        client: kube::Client::try_from(config).unwrap(),
    }
}

impl Server {
    /// One request; the status code and the JSON body.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
            .unwrap();
        let response = self.client.send(request.map(Into::into)).await.unwrap();
        let code = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (code, answer) = self.call(method, path, Some(body)).await;
        assert!(
            (200..300).contains(&code),
            "{method} {path}: {code} {answer}"
        );
        answer
    }

    /// A Running, Ready pod labelled `app=web`.
    async fn running_pod(&self, name: &str) {
        let pods = "/api/v1/namespaces/default/pods";
        let mut pod = self
            .ok(
                "POST",
                pods,
                json!({"metadata": {"name": name, "labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
            )
            .await;
        pod["status"] = json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]});
        self.ok("PUT", &format!("{pods}/{name}/status"), pod).await;
    }

    /// A Running pod labelled `app=web` that is not Ready.
    async fn unready_pod(&self, name: &str) {
        self.running_pod(name).await;
        let path = format!("/api/v1/namespaces/default/pods/{name}/status");
        let (_, mut pod) = self
            .call(
                "GET",
                &format!("/api/v1/namespaces/default/pods/{name}"),
                None,
            )
            .await;
        pod["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        self.ok("PUT", &path, pod).await;
    }

    /// Writes a budget's status as the disruption controller would.
    async fn budget_status(&self, name: &str, status: Value) -> Value {
        let path = format!("/apis/policy/v1/namespaces/default/poddisruptionbudgets/{name}");
        let (_, mut budget) = self.call("GET", &path, None).await;
        budget["status"] = status;
        self.ok("PUT", &format!("{path}/status"), budget).await
    }

    async fn evict(&self, pod: &str) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
            Some(json!({"apiVersion": "policy/v1", "kind": "Eviction",
                        "metadata": {"name": pod, "namespace": "default"}})),
        )
        .await
    }

    async fn exists(&self, pod: &str) -> bool {
        let (code, _) = self
            .call(
                "GET",
                &format!("/api/v1/namespaces/default/pods/{pod}"),
                None,
            )
            .await;
        code == 200
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

#[tokio::test]
async fn a_budget_refuses_evictions_it_cannot_afford_and_spends_those_it_can() {
    let s = start().await;
    for pod in ["web-0", "web-1", "web-2"] {
        s.running_pod(pod).await;
    }
    let budget = s
        .ok(
            "POST",
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                   "metadata": {"name": "web"},
                   "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
        )
        .await;
    assert_eq!(budget["metadata"]["generation"], 1);

    // Not yet synced (observedGeneration < generation): 429, come back later.
    let (code, status) = s.evict("web-0").await;
    assert_eq!(code, 429, "{status}");
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "The disruption budget web is still being processed by the server."
    );
    assert!(s.exists("web-0").await);

    // Synced, with no disruption allowed: 429 with upstream's words.
    s.budget_status(
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 2,
               "desiredHealthy": 2, "expectedPods": 3}),
    )
    .await;
    let (code, status) = s.evict("web-0").await;
    assert_eq!(code, 429, "{status}");
    assert_eq!(
        status["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "DisruptionBudget",
                "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}])
    );
    assert!(
        s.exists("web-0").await,
        "a refused eviction deletes nothing"
    );

    // One disruption allowed: the eviction spends it and the pod goes.
    s.budget_status(
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3,
               "desiredHealthy": 2, "expectedPods": 3}),
    )
    .await;
    let (code, status) = s.evict("web-0").await;
    assert_eq!(code, 201, "{status}");
    assert_eq!(status["status"], "Success");
    assert!(!s.exists("web-0").await);
    let (_, budget) = s
        .call(
            "GET",
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web",
            None,
        )
        .await;
    assert_eq!(budget["status"]["disruptionsAllowed"], 0);
    assert!(budget["status"]["disruptedPods"]["web-0"].is_string());
    assert_eq!(
        budget["status"]["conditions"][0]["reason"],
        "InsufficientPods"
    );
    // ...and the next one is refused until the controller says otherwise.
    let (code, _) = s.evict("web-1").await;
    assert_eq!(code, 429);
    assert!(s.exists("web-1").await);

    // A second budget over the same pods: upstream's 500, nothing deleted.
    s.ok(
        "POST",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        json!({"metadata": {"name": "web-too"},
               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    )
    .await;
    let (code, status) = s.evict("web-1").await;
    assert_eq!(code, 500, "{status}");
    assert_eq!(
        status["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    assert!(s.exists("web-1").await);

    // An unknown pod, and a body that is no Eviction of this pod.
    let (code, status) = s.evict("ghost").await;
    assert_eq!(code, 404, "{status}");
    assert_eq!(status["message"], "pods \"ghost\" not found");
    let (code, _) = s
        .call(
            "POST",
            "/api/v1/namespaces/default/pods/web-1/eviction",
            Some(json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-2"}})),
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = s
        .call(
            "POST",
            "/api/v1/namespaces/default/pods/web-1/eviction",
            Some(
                json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1"},
                        "deleteOptions": {"gracePeriodSeconds": "soon"}}),
            ),
        )
        .await;
    assert_eq!(code, 400);
    s.stop().await;
}

#[tokio::test]
async fn a_budget_is_validated_and_printed_as_upstream() {
    let s = start().await;
    let path = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    let (code, status) = s
        .call(
            "POST",
            path,
            Some(json!({"metadata": {"name": "both"},
                        "spec": {"minAvailable": 1, "maxUnavailable": "10%"}})),
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "spec");
    let (code, status) = s
        .call(
            "POST",
            path,
            Some(json!({"metadata": {"name": "odd"},
                        "spec": {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "Never"}})),
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.unhealthyPodEvictionPolicy"
    );

    // The status is the controller's: a write of the main resource keeps
    // it, and a spec change bumps the generation.
    let made = s
        .ok(
            "POST",
            path,
            json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 2},
                   "status": {"disruptionsAllowed": 9}}),
        )
        .await;
    assert_eq!(made["status"]["disruptionsAllowed"], 0);
    let mut edited = made.clone();
    edited["spec"]["minAvailable"] = json!(1);
    edited["status"]["disruptionsAllowed"] = json!(9);
    let updated = s.ok("PUT", &format!("{path}/web"), edited).await;
    assert_eq!(updated["metadata"]["generation"], 2);
    assert_eq!(updated["status"]["disruptionsAllowed"], 0);
    let mut negative = updated.clone();
    negative["status"]["disruptionsAllowed"] = json!(-1);
    let (code, _) = s
        .call("PUT", &format!("{path}/web/status"), Some(negative))
        .await;
    assert_eq!(code, 422);
    s.stop().await;
}

#[tokio::test]
async fn unhealthy_pods_and_dry_runs() {
    let s = start().await;
    for pod in ["web-0", "web-1"] {
        s.running_pod(pod).await;
    }
    s.unready_pod("web-2").await;
    s.ok(
        "POST",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        json!({"metadata": {"name": "web"},
               "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}),
    )
    .await;
    s.budget_status(
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 2,
               "desiredHealthy": 2, "expectedPods": 3}),
    )
    .await;
    let budget_path = "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web";

    // A healthy pod may not go; the unready one may, the budget being met,
    // and spends nothing.
    assert_eq!(s.evict("web-0").await.0, 429);
    let (code, status) = s.evict("web-2").await;
    assert_eq!(code, 201, "{status}");
    assert!(!s.exists("web-2").await);
    let (_, budget) = s.call("GET", budget_path, None).await;
    assert!(budget["status"].get("disruptedPods").is_none(), "{budget}");

    // A dry run spends nothing and deletes nothing.
    s.budget_status(
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 2,
               "desiredHealthy": 1, "expectedPods": 2}),
    )
    .await;
    let (code, status) = s
        .call(
            "POST",
            "/api/v1/namespaces/default/pods/web-0/eviction?dryRun=All",
            Some(json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0"}})),
        )
        .await;
    assert_eq!(code, 201, "{status}");
    assert!(s.exists("web-0").await);
    let (_, budget) = s.call("GET", budget_path, None).await;
    assert_eq!(budget["status"]["disruptionsAllowed"], 1);
    s.stop().await;
}
